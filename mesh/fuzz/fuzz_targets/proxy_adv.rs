#![no_main]
//! Proxy advertising as a scanner resolves it (MshPRT §7.2.2.2): a network key, an address and
//! advertising data; every Mesh Proxy Service structure is matched (Network ID, Node Identity,
//! the private ones) and re-emitted (`weft_mesh::ble::wire::adv::fuzz_proxy_adv`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::ble::wire::adv::fuzz_proxy_adv(data));
