//! # tdsnn-io
//!
//! Every file a user of tdsnn brings or takes away, read and written for the model
//! ([`Dnn`](tdsnn_converter::Dnn)) and the engine:
//!
//! - [`onnx`]: models trained elsewhere, read from the ONNX file `torch.onnx.export` writes
//!   (with its external data), with no Python.
//! - [`model_file`]: trained models on disk (safetensors plus the architecture as JSON).
//! - [`idx`]: labelled image data sets in the IDX format (MNIST's), plain or gzip-compressed,
//!   and data set directories as they are distributed.
//! - [`images`]: the images a network is run on ([`Inputs`](images::Inputs)): an IDX data
//!   set or an NPY array.
//! - [`dump`]: every spike of a run, with the reference's pre-activations, as one NPZ archive
//!   numpy reads.
//! - [`load`]: whatever a user names, graph file, model file or ONNX file, told apart and read
//!   by its own reader.
//! - [`input`]: every file read whole under a byte limit (a pipe or a device without an end
//!   costs at most 32 MiB), gzip inflated under one.
//!
//! Every reader is bounded (no file is read past what its header declares and the file
//! holds) and strict (shapes checked whole, unknown fields and trailing bytes refused); every
//! failure is a typed error naming the file. The engine's own graph file format is the
//! engine's (`tdsnn_engine::format`).
//!
//! Depends on `tdsnn-converter` and `tdsnn-engine`; not on candle.
//!
//! # Example
//! ```
//! use tdsnn_converter::{Dnn, DnnLayer, Shape};
//! use tdsnn_io::model_file::{model_from_bytes, read_model, write_model, Model, ModelInfo};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dnn = Dnn::new(Shape::flat(2), vec![
//!     DnnLayer::Dense { outputs: 2, weights: vec![1.0, 0.0, 0.0, 1.0], bias: Some(vec![0.0; 2]) },
//! ])?;
//! let model = Model { dnn, info: ModelInfo { activation: "g".into(), leak: Some(5.0), notes: vec![] } };
//! let path = std::env::temp_dir().join(format!("tdsnn-io-doc-{}.safetensors", std::process::id()));
//! write_model(&model, &path)?;
//! assert_eq!(read_model(&path)?, model);
//! let err = model_from_bytes(b"not a model", "bytes").unwrap_err();
//! assert!(err.to_string().starts_with("bytes"));
//! std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```

// Every public item is documented; CI builds with -D warnings.
#![deny(missing_docs)]

pub mod dump;
pub mod idx;
pub mod images;
pub mod input;
pub mod load;
pub mod model_file;
pub mod onnx;
