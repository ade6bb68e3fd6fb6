#![no_main]
//! Fuzz target: see [`tdsnn_fuzz::convert`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| tdsnn_fuzz::convert(data));
