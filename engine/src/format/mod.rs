//! The graph file format (placeholder, being written).
#![allow(missing_docs, clippy::missing_errors_doc)]
use crate::{Graph, Result};
pub fn read(_p: impl AsRef<std::path::Path>) -> Result<Graph> {
    unimplemented!()
}
pub fn write(_g: &Graph, _p: impl AsRef<std::path::Path>) -> Result<()> {
    unimplemented!()
}
