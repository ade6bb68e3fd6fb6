//! `tdsnn merge`: the partial reports (and dumps) of a sharded run added up into the report
//! (and dump) of the whole run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use tdsnn::evaluate::report::{Ops, Report, Setup, Shard};
use tdsnn::evaluate::Totals;
use tdsnn::io::dump::{self, Format};
use tdsnn_cli::shard::ShardSpec;

use super::output::{Input, Outputs};

/// Add up the partial reports of `tdsnn run --shard I/N` into the report of the whole run:
/// every count, accuracy, tie and spike-time figure, per-layer mean and maximum and operation
/// count as the unsharded run gives them (computed from the parts' totals, bit for bit), and
/// with --dump the parts' dumps joined into one. Every part is checked first: all shards of
/// one run (same model, graph, data set, L, T_il policy and tick mode), each once, none
/// missing; otherwise nothing is merged and the error names the parts.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The partial reports (`tdsnn run --shard I/N --json PART`), in any order.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Write the merged report as JSON here.
    #[arg(long)]
    json: PathBuf,
    /// Also join the parts' dumps (each found where its report says) into this NPZ file.
    #[arg(long)]
    dump: Option<PathBuf>,
}

/// What merge reads of a partial report.
#[derive(Debug, Deserialize)]
struct Part {
    setup: Setup,
    ops: PartOps,
    shard: Option<Shard>,
}

/// The DNN's operations of a partial report (the same in every part).
#[derive(Debug, Deserialize)]
struct PartOps {
    dnn: Ops,
}

/// A partial report read, with its file.
struct Read {
    path: PathBuf,
    setup: Setup,
    dnn: Ops,
    shard: Shard,
}

fn read(path: &Path) -> Result<Read> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let part: Part = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a tdsnn run report", path.display()))?;
    let Some(shard) = part.shard else {
        bail!(
            "{} is the report of a whole run, not of a shard (`tdsnn run --shard I/N`)",
            path.display()
        );
    };
    Ok(Read {
        path: path.to_path_buf(),
        setup: part.setup,
        dnn: part.ops.dnn,
        shard,
    })
}

/// Errors unless `part` comes from the same run as `first`, naming both and what differs.
fn same_run(first: &Read, part: &Read) -> Result<()> {
    let (a, b) = (&first.shard, &part.shard);
    let differs = |what: &str| -> Result<()> {
        bail!(
            "{} and {} are not shards of one run: their {what} differ",
            first.path.display(),
            part.path.display()
        )
    };
    if a.count != b.count || a.data_images != b.data_images {
        return differs("shard counts or data set sizes");
    }
    if a.model_digest != b.model_digest || a.relu_digest != b.relu_digest {
        return differs("model files");
    }
    if a.graph_digest != b.graph_digest {
        return differs("converted graphs");
    }
    if a.data_digest != b.data_digest {
        return differs("data sets");
    }
    let settings = |s: &Setup| {
        (
            s.model.clone(),
            s.relu_model.clone(),
            s.data.clone(),
            s.leak,
            s.til.clone(),
            s.tick_mode.clone(),
        )
    };
    if settings(&first.setup) != settings(&part.setup) {
        return differs("settings (model, data, L, T_il policy or tick mode)");
    }
    if a.layers != b.layers || first.dnn != part.dnn {
        return differs("layers");
    }
    Ok(())
}

/// The parts, checked and in shard order: one run's, each once, none missing, each covering
/// the images its index says.
fn check(mut parts: Vec<Read>) -> Result<Vec<Read>> {
    for part in &parts[1..] {
        same_run(&parts[0], part)?;
    }
    parts.sort_by_key(|p| p.shard.index);
    for pair in parts.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            bail!(
                "{} and {} are both shard {} of {}",
                pair[0].path.display(),
                pair[1].path.display(),
                pair[0].shard.index,
                pair[0].shard.count
            );
        }
    }
    let (count, n) = (parts[0].shard.count, parts[0].shard.data_images);
    let spec = |i| ShardSpec::new(i, count).expect("an index below the count");
    let missing: Vec<String> = (0..count)
        .filter(|i| !parts.iter().any(|p| p.shard.index == *i))
        .map(|i| {
            let r = spec(i).range(n);
            format!("shard {i} of {count} (images {}..{})", r.start, r.end)
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing {}: rerun it with `tdsnn run ... --shard I/{count}`; nothing merged",
            missing.join(", ")
        );
    }
    for part in &parts {
        let r = spec(part.shard.index).range(n);
        if part.shard.images != [r.start, r.end] {
            bail!(
                "{} says it covers images {:?}, but shard {} of {count} covers {}..{}",
                part.path.display(),
                part.shard.images,
                part.shard.index,
                r.start,
                r.end
            );
        }
    }
    Ok(parts)
}

/// Where a part's dump is: as its report records it, relative to the report's directory.
fn part_dump(part: &Read) -> Result<PathBuf> {
    let Some(dump) = &part.shard.dump else {
        bail!(
            "{} was run without --dump: it has no dump to merge",
            part.path.display()
        );
    };
    let dir = part.path.parent().unwrap_or(Path::new(""));
    Ok(dir.join(dump))
}

pub fn merge(args: MergeArgs) -> Result<()> {
    let parts = args
        .parts
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<Read>>>()?;
    let parts = check(parts)?;
    let dumps = match &args.dump {
        Some(_) => parts
            .iter()
            .map(part_dump)
            .collect::<Result<Vec<PathBuf>>>()?,
        None => Vec::new(),
    };
    let mut inputs: Vec<Input> = parts
        .iter()
        .map(|p| Input::new("a partial report", &p.path))
        .collect();
    inputs.extend(dumps.iter().map(|d| Input::new("a part's dump", d)));
    let mut outputs = Outputs::new(inputs);
    let json = outputs
        .optional("--json", Some(&args.json))?
        .expect("given");
    let dump = outputs.optional("--dump", args.dump.as_deref())?;

    let mut totals = Totals::default();
    for part in &parts {
        totals.add(&part.shard.totals);
    }
    let first = &parts[0];
    let setup = Setup {
        threads: None,
        ..first.setup.clone()
    };
    let report = Report::from_totals(&totals, &first.shard.layers, first.dnn, setup);
    // The dumps first: a part's dump that cannot be read stops the merge before anything
    // is printed or written.
    if let (Some(temp), Some(path)) = (&dump, &args.dump) {
        dump::merge(&dumps, temp, Format::Npz)
            .with_context(|| format!("writing --dump {}", path.display()))?;
    }
    print!("{}", report.table());
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing --json {}", args.json.display()))?;
    outputs.commit()?;
    println!(
        "\nmerged {} shards ({} images) into {}",
        parts.len(),
        report.images,
        args.json.display()
    );
    if let Some(path) = &args.dump {
        println!(
            "dump of {} images written to {}",
            report.images,
            path.display()
        );
    }
    Ok(())
}
