#![no_main]
//! Fuzz target: see [`tdsnn_fuzz::graph_file`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| tdsnn_fuzz::graph_file(data));
