#![no_main]
//! IEEE 802.15.4 MAC frames (`weft_mesh::thread::mac`) on arbitrary bytes: the FCS check, the
//! auxiliary security header and frame parsers never panic, a parsed frame re-emits as
//! received, and a secured one is tried with a key (what opens reseals to the same frame).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::mac::fuzz_parse(data));
