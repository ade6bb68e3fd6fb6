//! # tdsnn-cli
//!
//! What the `tdsnn` command-line tool computes and prints, as a library its tests and
//! benches share; the commands themselves (argument parsing, files, progress bars) are the
//! binary's (`src/main.rs`, `src/commands/`).
//!
//! - [`bench`](mod@bench): the engine's speed next to same-run baselines (`tdsnn bench`).
//! - [`sweep`](mod@sweep): the leak-constant study (`tdsnn sweep`).
//! - [`demo`]: a seeded random LeNet-shaped network, every spike checked (`tdsnn demo`).
//! - [`layers`]: a graph's layers as printed (`tdsnn inspect`, `convert`, `demo`), with the
//!   sources, synapse groups and delays of a branching graph.
//! - [`plot`]: raster plots and the study's curves (SVG).
//! - [`shard`]: data sets cut into shards, and the digests that tie partial reports to a run.
//! - [`fixtures`]: where the shipped model files and data are, the commands' defaults.
//!
//! Depends on the `tdsnn` facade for everything else.
//!
//! # Example
//! ```
//! use tdsnn::prelude::*;
//! use tdsnn_cli::demo;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dnn = demo::network(2019);
//! let images = demo::images(2019, 2);
//! let (_, summary) = demo::run(&dnn, 5.0, TickMode::ClosedForm, &images, |_| {})?;
//! assert_eq!((summary.images, summary.mismatches), (2, 0)); // every spike at T(A)
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

pub mod bench;
pub mod demo;
pub mod fixtures;
pub mod layers;
pub mod plot;
pub mod shard;
pub mod sweep;
