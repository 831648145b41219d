//! HDLC-lite and Spinel decoding as the Spinel radio does it on what an RCP sends: frames
//! found between flags and unescaped, FCS checked, every Spinel frame's header, property and
//! `STREAM_RAW` metadata read. Nothing may panic; and what the HDLC encoder writes decodes
//! back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_radio::spinel::{fuzz_parse, hdlc};

fuzz_target!(|data: &[u8]| {
    fuzz_parse(data);
    if !data.is_empty() && data.len() <= hdlc::MAX_FRAME {
        let mut d = hdlc::Decoder::new();
        let mut out = Vec::new();
        d.push(&hdlc::encode(data), |f| out.push(f.to_vec()));
        assert_eq!(out, vec![data.to_vec()]);
    }
});
