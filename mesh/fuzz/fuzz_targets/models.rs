#![no_main]
//! Every model message codec (Configuration, Health, Generic, Sensor) on arbitrary bytes: an
//! opcode and parameters never panic, and what parses emits back to the same value.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::ble::models::fuzz_parse(data));
