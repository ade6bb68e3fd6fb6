//! Data sets cut into shards (`tdsnn run --shard I/N`), and the digests that tell whether
//! partial reports come from the same run (`tdsnn merge`).
//!
//! Shard `I` of `N` covers the images `[I n / N, (I + 1) n / N)` of a data set of `n`
//! images: contiguous, in data set order, the same on every machine and for every thread
//! count, and together exactly the data set.
//!
//! # Example
//! ```
//! use tdsnn_cli::shard::ShardSpec;
//! let spec: ShardSpec = "2/7".parse().unwrap();
//! assert_eq!(spec.range(2000), 571..857);
//! let all: Vec<_> = (0..7).map(|i| ShardSpec::new(i, 7).unwrap().range(2000)).collect();
//! assert_eq!((all[0].start, all[6].end), (0, 2000));
//! assert!(all.windows(2).all(|w| w[0].end == w[1].start));
//! assert!("7/7".parse::<ShardSpec>().is_err());
//! ```

use std::fmt;
use std::ops::Range;
use std::path::Path;

use sha2::{Digest, Sha256};
use tdsnn::engine::{format, Graph};
use tdsnn::io::images::{Images, Inputs};

/// Which shard of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    /// The shard, from 0.
    pub index: usize,
    /// The number of shards.
    pub count: usize,
}

impl ShardSpec {
    /// Shard `index` of `count`; `None` unless `index < count`.
    pub fn new(index: usize, count: usize) -> Option<ShardSpec> {
        (index < count).then_some(ShardSpec { index, count })
    }

    /// The images it covers of a data set of `n`.
    pub fn range(&self, n: usize) -> Range<usize> {
        let at = |i: usize| (i as u128 * n as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<ShardSpec, String> {
        let bad = || format!("`{s}`: expected I/N, shard I (from 0) of N, with I < N");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        ShardSpec::new(i, n).ok_or_else(bad)
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Images `range` of `data`, with their labels.
pub fn select(data: &Images, range: Range<usize>) -> Images {
    let per = data.shape.len() as usize;
    Images {
        shape: data.shape,
        values: data.values[range.start * per..range.end * per].to_vec(),
        labels: data.labels.as_ref().map(|l| l[range].to_vec()),
    }
}

/// Hex SHA-256 of some bytes.
fn hex(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of files' bytes, one after the other (a model file and its external data).
pub fn files_digest<'a>(files: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for bytes in files {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex(hasher)
}

/// SHA-256 of files read from disk, one after the other.
pub fn paths_digest(paths: &[&Path]) -> std::io::Result<String> {
    let files = paths
        .iter()
        .map(std::fs::read)
        .collect::<std::io::Result<Vec<Vec<u8>>>>()?;
    Ok(files_digest(files.iter().map(Vec::as_slice)))
}

/// SHA-256 of a graph written as a graph file.
pub fn graph_digest(graph: &Graph) -> String {
    files_digest([format::to_bytes(graph).as_slice()])
}

/// SHA-256 of a data set: its image shape and count, every value's bits and the labels.
pub fn data_digest(data: &Images) -> String {
    let mut hasher = Sha256::new();
    let s = data.shape;
    for d in [s.c, s.h, s.w] {
        hasher.update(d.to_le_bytes());
    }
    hasher.update((data.count() as u64).to_le_bytes());
    let mut bytes = Vec::with_capacity(4 * 4096);
    for chunk in data.values.chunks(4096) {
        bytes.clear();
        bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        hasher.update(&bytes);
    }
    match &data.labels {
        Some(labels) => {
            hasher.update([1]);
            hasher.update(labels);
        }
        None => hasher.update([0]),
    }
    hex(hasher)
}
