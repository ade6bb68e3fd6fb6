#![no_main]
//! Fuzz target: see [`tdsnn_fuzz::npy`].

libfuzzer_sys::fuzz_target!(|data: &[u8]| tdsnn_fuzz::npy(data));
