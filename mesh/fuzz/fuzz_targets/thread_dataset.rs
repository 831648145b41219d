#![no_main]
//! The Active Operational Dataset reader (`weft_mesh::thread::dataset`) on arbitrary bytes:
//! never panics, and what parses re-emits as received.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::dataset::fuzz_parse(data));
