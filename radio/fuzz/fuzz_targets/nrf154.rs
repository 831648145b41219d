//! The nRF 802.15.4 sniffer's lines as the sniffer radio reads them: `received:` lines parsed,
//! FCS stripped and checked, the 32-bit clock extended. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    weft_radio::nrf154::fuzz_parse(data);
});
