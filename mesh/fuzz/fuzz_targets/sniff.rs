#![no_main]
//! The whole passive decoder on arbitrary input: a stream of PDUs of any kind never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::ble::sniff::fuzz_decode(data));
