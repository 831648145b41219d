#![no_main]
//! Every parser of `weft_mesh::ble::wire::proxy` on arbitrary bytes: never panics, and what
//! parses emits back to the same value.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::ble::wire::proxy::fuzz_parse(data));
