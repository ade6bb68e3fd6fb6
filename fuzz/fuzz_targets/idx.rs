#![no_main]
//! Fuzz target: see [`tdsnn_fuzz::idx`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| tdsnn_fuzz::idx(data));
