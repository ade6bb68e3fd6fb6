//! The `tdsnn` subcommands, one module each.

pub mod bench;
pub mod convert;
pub mod demo;
pub mod inspect;
pub mod run;
pub mod sweep;
pub mod train;

use indicatif::ProgressStyle;

/// The progress bar style of every long command.
pub fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>14} {bar:40} {pos}/{len} {per_sec:>12} eta {eta}")
        .expect("a valid template")
}
