#![no_main]
//! The whole-frame Thread decoder (`weft_mesh::thread::sniff`) on arbitrary bytes, as a PSDU
//! with and without FCS: never a panic, and every report serializes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::sniff::fuzz_decode(data));
