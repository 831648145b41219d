//! H4 framing and HCI event parsing as the HCI radio does them on what a controller sends:
//! resynchronisation after garbage, every event parsed, every advertising report filtered for
//! mesh AD structures. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    weft_radio::hci::fuzz_parse(data);
});
