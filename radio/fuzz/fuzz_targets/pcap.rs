#![no_main]
//! Capture files (pcapng and libpcap) and the BLE link-layer packets inside them: never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packets) = weft_radio::pcap::read_all_packets(data) {
        for p in packets {
            let _ = weft_radio::ble_ll::parse_ble_adv(&p.data);
        }
    }
    let _ = weft_radio::ble_ll::parse_ble_adv(data);
});
