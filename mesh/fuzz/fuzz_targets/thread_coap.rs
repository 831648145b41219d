#![no_main]
//! The CoAP message parser (`weft_mesh::thread::coap`) on arbitrary bytes: never panics, and
//! what parses re-emits as received.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::coap::fuzz_parse(data));
