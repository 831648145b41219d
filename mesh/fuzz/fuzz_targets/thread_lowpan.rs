#![no_main]
//! 6LoWPAN (`weft_mesh::thread::lowpan`) on arbitrary bytes: the mesh, fragment, IPHC and NHC
//! parsers never panic and keep the Wire law, a decompressed datagram compresses back to
//! itself, and fragments go through a reassembler.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::lowpan::fuzz_parse(data));
