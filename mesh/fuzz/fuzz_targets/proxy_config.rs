#![no_main]
//! Arbitrary bytes opened as a proxy configuration PDU (proxy nonce, §6.6): never panics, and
//! what opens re-seals to the same bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::ble::proxy::fuzz_config(data));
