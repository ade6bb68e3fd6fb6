#![no_main]
//! Fuzz target: see [`tdsnn_fuzz::onnx`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| tdsnn_fuzz::onnx(data));
