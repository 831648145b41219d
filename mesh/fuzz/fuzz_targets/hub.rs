#![no_main]
//! Frames from the live simulated air's socket (postcard-encoded hub messages): never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = postcard::from_bytes::<weft_radio::hub::HubMsg>(data);
});
