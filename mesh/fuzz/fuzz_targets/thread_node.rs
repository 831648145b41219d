#![no_main]
//! The simulator's Thread stations (`weft_mesh::thread::node`) on arbitrary received bytes: a
//! router and a child collecting Parent Responses drop what they cannot read, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::node::fuzz_parse(data));
