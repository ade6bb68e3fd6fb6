//! Running the `tdsnn` binary in a temporary directory, for the command-line tests.
#![allow(dead_code)] // each test file uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shipped models, where the tool itself finds them.
#[allow(unused_imports)] // as dead_code above
pub use tdsnn_cli::fixtures::{lenet_g, lenet_relu};

/// The shipped fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures")
}

/// The shipped 16 test images as NPY (16 x 1 x 28 x 28 float32).
pub fn inputs_npy() -> PathBuf {
    fixtures().join("onnx/inputs.npy")
}

/// What one run of the tool did.
#[derive(Debug)]
pub struct Run {
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts that the run failed and said every one of `words` on its standard error.
    #[track_caller]
    pub fn assert_refused(&self, words: &[&str]) {
        assert!(!self.ok, "it succeeded: {}{}", self.stdout, self.stderr);
        for w in words {
            assert!(self.stderr.contains(w), "no `{w}` in: {}", self.stderr);
        }
    }
}

/// `program` to run in `dir`, with no backtraces in the tool's messages.
fn command(program: &str, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    command
}

const TDSNN: &str = env!("CARGO_BIN_EXE_tdsnn");

/// Runs `tdsnn args...` in `dir`.
pub fn tdsnn(dir: &Path, args: &[&str]) -> Run {
    command(TDSNN, dir)
        .args(args)
        .output()
        .expect("the tdsnn binary runs")
        .into()
}

/// Runs `tdsnn args...` in `dir` with its standard input read from the file `input`.
pub fn tdsnn_with_stdin(dir: &Path, input: &Path, args: &[&str]) -> Run {
    command(TDSNN, dir)
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .expect("the tdsnn binary runs")
        .into()
}

/// Runs `tdsnn args...` in `dir` under umask 022, through the shell.
#[cfg(unix)]
pub fn tdsnn_umask_022(dir: &Path, args: &[&str]) -> Run {
    command("sh", dir)
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(TDSNN)
        .args(args)
        .output()
        .expect("sh runs the tdsnn binary")
        .into()
}

/// The names of the files in `dir`, sorted (temporary files included).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Copies a fixture into `dir` under `name` and returns the copy's path.
pub fn copy(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    to
}
