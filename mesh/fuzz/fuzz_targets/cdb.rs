#![no_main]
//! Mesh Configuration Database JSON from a file: never panics, and what reads writes back to a
//! document that reads the same.
use libfuzzer_sys::fuzz_target;
use weft_mesh::ble::cdb::Cdb;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cdb) = Cdb::from_json(text) {
            let again = Cdb::from_json(&cdb.to_json()).expect("what weft writes reads back");
            assert_eq!(again, cdb);
        }
    }
});
