#![no_main]
//! A Proxy Server and a Proxy Client driven by arbitrary ATT values, sealed filter messages,
//! SAR timeouts and reconnections at other MTUs (`weft_mesh::ble::proxy::fuzz_server`): proxy
//! SAR reassembly and the server's handling never panic, and every value fits its MTU.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::ble::proxy::fuzz_server(data));
