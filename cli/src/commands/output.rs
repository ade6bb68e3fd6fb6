//! Output files, the one way every command writes: checked before any work, written to
//! temporary files beside their destinations, renamed into place only when the command has
//! succeeded.
//!
//! - No output may name an input, nor another output. Paths are compared after resolving
//!   links (an existing path canonicalised; a new one as its canonicalised directory joined
//!   with its file name) and, for existing files, by identity, so a hard link is caught too.
//! - Each output's temporary file is created when it is declared, so a missing or read-only
//!   directory fails before the work starts, not after it.
//! - [`Outputs::commit`] renames every temporary file onto its destination. Without it
//!   (an error, an early return), dropping [`Outputs`] removes the temporary files and any
//!   directory it created, so a failed run leaves nothing that looks finished.
//!
//! Files end up with the permissions `File::create` would give them (`0666` less the umask:
//! `0644` under the usual umask `022`), not the `0600` of a plain temporary file. A
//! destination that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a named
//! pipe) is written directly: there is nothing to rename onto.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use tempfile::TempPath;

/// A command's input file: the option that named it and its path.
#[derive(Debug, Clone)]
pub struct Input {
    what: String,
    path: PathBuf,
    resolved: Option<PathBuf>,
}

impl Input {
    /// The input `path`, named by `what` in messages (e.g. `the --model file`).
    pub fn new(what: impl Into<String>, path: impl Into<PathBuf>) -> Input {
        let path = path.into();
        Input {
            what: what.into(),
            resolved: std::fs::canonicalize(&path).ok(),
            path,
        }
    }
}

/// One declared output: where it goes, and what is written meanwhile.
#[derive(Debug)]
struct Pending {
    what: String,
    dest: PathBuf,
    resolved: PathBuf,
    /// `None` for a destination that is not a regular file (`/dev/null`, `/dev/stdout`, a
    /// pipe): written directly, nothing to rename.
    temp: Option<Temp>,
}

/// A temporary file beside the destination.
#[derive(Debug)]
struct Temp {
    path: TempPath,
    /// The permissions it was created with, restored before the rename: a writer may have
    /// replaced the file with one of its own (a library that writes a `0600` temporary
    /// file and renames it onto the path it is given).
    permissions: std::fs::Permissions,
}

/// The outputs of one command (see the [module docs](self)).
#[derive(Debug)]
pub struct Outputs {
    inputs: Vec<Input>,
    pending: Vec<Pending>,
    /// Directories this command created, outermost first, removed again (when still empty)
    /// if it fails.
    created: Vec<PathBuf>,
}

impl Outputs {
    /// Outputs that must not overwrite any of `inputs`.
    pub fn new(inputs: Vec<Input>) -> Outputs {
        Outputs {
            inputs,
            pending: Vec::new(),
            created: Vec::new(),
        }
    }

    /// Makes sure `dir` (named by `what`, e.g. `--out-dir`) is a directory, creating it and
    /// its missing parents; they are removed again if the command fails.
    pub fn directory(&mut self, what: &str, dir: &Path) -> Result<()> {
        if dir.exists() && !dir.is_dir() {
            bail!("{what} {}: not a directory", dir.display());
        }
        let mut missing = Vec::new();
        let mut probe = Some(dir);
        while let Some(p) = probe.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            missing.push(p.to_path_buf());
            probe = p.parent();
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{what} {}: cannot create the directory", dir.display()))?;
        self.created.extend(missing.into_iter().rev());
        Ok(())
    }

    /// Declares the output `dest` (named by `what`, e.g. `--json`) and returns the path to
    /// write instead: a temporary file in the same directory (`dest` itself when it exists
    /// and is not a regular file, such as `/dev/null`). Errors if `dest` names
    /// an input or an output declared before, is a directory, or if its directory does not
    /// exist or cannot be written.
    pub fn file(&mut self, what: impl Into<String>, dest: &Path) -> Result<PathBuf> {
        let what = what.into();
        let resolved = resolve(dest).with_context(|| format!("{what} {}", dest.display()))?;
        if resolved.is_dir() {
            bail!("{what} {}: is a directory, not a file", dest.display());
        }
        if let Some(input) = self
            .inputs
            .iter()
            .find(|i| same(&resolved, i.resolved.as_deref(), &i.path))
        {
            let also = if input.path == dest {
                String::new()
            } else {
                format!(", {}", input.path.display())
            };
            bail!(
                "{what} {} is {}{also}: refusing to overwrite an input, choose another path",
                dest.display(),
                input.what,
            );
        }
        if let Some(other) = self
            .pending
            .iter()
            .find(|o| same(&resolved, Some(&o.resolved), &o.dest))
        {
            bail!(
                "{what} {} and {} {} name the same file: give each output its own path",
                dest.display(),
                other.what,
                other.dest.display()
            );
        }
        let special = std::fs::metadata(dest).is_ok_and(|m| !m.is_file());
        let temp = if special {
            None
        } else {
            Some(temp_beside(&what, dest, &resolved)?)
        };
        let path = temp
            .as_ref()
            .map_or_else(|| dest.to_path_buf(), |t| t.path.to_path_buf());
        self.pending.push(Pending {
            what,
            dest: dest.to_path_buf(),
            resolved,
            temp,
        });
        Ok(path)
    }

    /// [`Outputs::file`] for an optional output: `None` when `dest` is.
    pub fn optional(&mut self, what: &str, dest: Option<&Path>) -> Result<Option<PathBuf>> {
        dest.map(|d| self.file(what, d)).transpose()
    }

    /// Renames every temporary file onto its destination: the command succeeded.
    pub fn commit(mut self) -> Result<()> {
        for p in std::mem::take(&mut self.pending) {
            let Some(temp) = p.temp else { continue };
            let fail = || format!("{} {}: cannot move it into place", p.what, p.dest.display());
            std::fs::set_permissions(&temp.path, temp.permissions).with_context(fail)?;
            temp.path.persist(&p.dest).with_context(fail)?;
        }
        self.created.clear();
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        // Not committed: the temporary files go first, then the directories made for them.
        self.pending.clear();
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A new temporary file in the directory of `resolved` (the output `dest`, named by `what`),
/// hidden and named after it, with the permissions `File::create` would give it.
fn temp_beside(what: &str, dest: &Path, resolved: &Path) -> Result<Temp> {
    let dir = resolved.parent().unwrap_or(Path::new("."));
    let name = resolved.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As `File::create`: 0666 less the umask.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let cannot = || {
        format!(
            "{what} {}: cannot write in {}",
            dest.display(),
            dir.display()
        )
    };
    let file = builder.tempfile_in(dir).with_context(cannot)?;
    let permissions = file
        .as_file()
        .metadata()
        .with_context(cannot)?
        .permissions();
    Ok(Temp {
        path: file.into_temp_path(),
        permissions,
    })
}

/// Where `dest` points once links are resolved: the canonical path of an existing file, or
/// the canonical path of its directory joined with its file name.
fn resolve(dest: &Path) -> Result<PathBuf> {
    if let Ok(path) = std::fs::canonicalize(dest) {
        return Ok(path);
    }
    let Some(Component::Normal(name)) = dest.components().next_back() else {
        bail!("not a file name");
    };
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir)
        .with_context(|| format!("the directory {} does not exist", dir.display()))?;
    Ok(dir.join(name))
}

/// Whether the output `resolved` is the file at `other` (`other_resolved` when it could be
/// resolved): equal resolved paths, or one file under two names.
fn same(resolved: &Path, other_resolved: Option<&Path>, other: &Path) -> bool {
    other_resolved == Some(resolved) || same_file::is_same_file(resolved, other).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_naming_an_input_is_refused_even_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("model.safetensors");
        std::fs::write(&input, b"weights").unwrap();
        let mut outputs = Outputs::new(vec![Input::new("the --model file", &input)]);
        let err = outputs.file("--json", &input).unwrap_err().to_string();
        assert!(err.contains("the --model file"), "{err}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.json");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(outputs.file("--json", &link).is_err());
            let hard = dir.path().join("hard.json");
            std::fs::hard_link(&input, &hard).unwrap();
            assert!(outputs.file("--json", &hard).is_err());
        }
        // A new file in a directory reached through `..` is still the same directory.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let err = outputs
            .file("--raster", &sub.join("../model.safetensors"))
            .unwrap_err();
        assert!(err.to_string().contains("refusing"), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), b"weights");
    }

    #[test]
    fn two_outputs_on_one_path_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut outputs = Outputs::new(Vec::new());
        outputs.file("--json", &dir.path().join("a")).unwrap();
        let err = outputs.file("--raster", &dir.path().join("a")).unwrap_err();
        assert!(err.to_string().contains("--json"), "{err}");
    }

    #[test]
    fn nothing_is_left_without_a_commit_and_everything_lands_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new/deeper");
        let mut outputs = Outputs::new(Vec::new());
        outputs.directory("--out-dir", &out).unwrap();
        let temp = outputs.file("--json", &out.join("a.json")).unwrap();
        std::fs::write(&temp, b"{}").unwrap();
        drop(outputs);
        assert!(!dir.path().join("new").exists());

        let mut outputs = Outputs::new(Vec::new());
        outputs.directory("--out-dir", &out).unwrap();
        let temp = outputs.file("--json", &out.join("a.json")).unwrap();
        std::fs::write(&temp, b"{}").unwrap();
        outputs.commit().unwrap();
        assert_eq!(std::fs::read(out.join("a.json")).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_written_directly() {
        let mut outputs = Outputs::new(Vec::new());
        let path = outputs.file("--json", Path::new("/dev/null")).unwrap();
        assert_eq!(path, Path::new("/dev/null"));
        std::fs::write(&path, b"{}").unwrap();
        outputs.commit().unwrap();
        assert!(std::fs::metadata("/dev/null").is_ok_and(|m| !m.is_file()));
    }

    #[test]
    fn a_missing_directory_fails_when_declared() {
        let dir = tempfile::tempdir().unwrap();
        let mut outputs = Outputs::new(Vec::new());
        let err = outputs
            .file("--json", &dir.path().join("no/such/a.json"))
            .unwrap_err();
        assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
    }
}
