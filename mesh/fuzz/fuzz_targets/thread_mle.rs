#![no_main]
//! MLE (`weft_mesh::thread::mle`) on arbitrary bytes: message, payload and TLV parsers never
//! panic, what parses re-emits, and a secured message is tried with a key.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::mle::fuzz_parse(data));
