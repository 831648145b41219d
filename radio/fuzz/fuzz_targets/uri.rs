#![no_main]
//! Radio URIs (`--radio`): any text parses to a radio or an error, never a panic, and what
//! parses writes back (`Display`) a form that parses to the same radio.
use libfuzzer_sys::fuzz_target;
use weft_radio::RadioUri;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = RadioUri::parse(s) {
        assert_eq!(RadioUri::parse(&u.to_string()), Ok(u));
    }
});
