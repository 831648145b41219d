//! Spinel frames (Spinel Protocol, draft-rquattle-spinel-unified; OpenThread
//! `src/lib/spinel/spinel.h`): the header byte, packed unsigned integers, the commands and
//! properties an 802.15.4 radio needs, and the `STREAM_RAW` frame with its metadata.
//!
//! Every decoder here reads bytes from a device: it checks each length against what is there
//! and answers [`WireError`], never panics.

use std::fmt;

/// The header's flag bits: bit 7 set, bit 6 clear (spinel §3.1.1).
pub const HEADER_FLAG: u8 = 0x80;
/// The header's flag mask.
pub const HEADER_FLAG_MASK: u8 = 0xC0;

/// Commands (spinel.h `SPINEL_CMD_*`, spinel §4).
pub const CMD_NOOP: u32 = 0;
pub const CMD_RESET: u32 = 1;
pub const CMD_PROP_VALUE_GET: u32 = 2;
pub const CMD_PROP_VALUE_SET: u32 = 3;
pub const CMD_PROP_VALUE_INSERT: u32 = 4;
pub const CMD_PROP_VALUE_REMOVE: u32 = 5;
pub const CMD_PROP_VALUE_IS: u32 = 6;
pub const CMD_PROP_VALUE_INSERTED: u32 = 7;
pub const CMD_PROP_VALUE_REMOVED: u32 = 8;

/// Properties (spinel.h `SPINEL_PROP_*`).
pub const PROP_LAST_STATUS: u32 = 0;
pub const PROP_PROTOCOL_VERSION: u32 = 1;
pub const PROP_NCP_VERSION: u32 = 2;
pub const PROP_CAPS: u32 = 5;
pub const PROP_PHY_ENABLED: u32 = 0x20;
pub const PROP_PHY_CHAN: u32 = 0x21;
pub const PROP_MAC_RAW_STREAM_ENABLED: u32 = 0x37;
pub const PROP_MAC_PROMISCUOUS_MODE: u32 = 0x38;
pub const PROP_STREAM_RAW: u32 = 0x71;
pub const PROP_RCP_API_VERSION: u32 = 0xB0;

/// `SPINEL_RESET_STACK`: the argument of `CMD_RESET` that restarts the RCP's stack (recent
/// RCPs read it; older ones ignore it).
pub const RESET_STACK: u8 = 2;

/// Status codes (spinel.h `SPINEL_STATUS_*`, spinel §6).
pub const STATUS_OK: u32 = 0;
pub const STATUS_NO_ACK: u32 = 17;
pub const STATUS_CCA_FAILURE: u32 = 18;
/// `SPINEL_STATUS_RESET__BEGIN` ..= `__END - 1`: the RCP restarted (the value says why).
pub const STATUS_RESET_BEGIN: u32 = 112;
pub const STATUS_RESET_END: u32 = 128;

/// `SPINEL_MAC_PROMISCUOUS_MODE_FULL`: every frame, whatever its PAN and address.
pub const PROMISCUOUS_FULL: u8 = 2;

/// Capabilities (spinel.h `SPINEL_CAP_*`).
pub const CAP_WRITABLE_RAW_STREAM: u32 = 8;
pub const CAP_CONFIG_RADIO: u32 = 34;
pub const CAP_RCP_API_VERSION: u32 = 64;
pub const CAP_MAC_RAW: u32 = 513;

/// The protocol major version this host speaks (`SPINEL_PROTOCOL_VERSION_THREAD_MAJOR`); an
/// RCP of another major version is refused.
pub const PROTOCOL_MAJOR: u32 = 4;
/// The oldest RCP API version whose `STREAM_RAW` layout is the one [`RawFrame`] reads
/// (`SPINEL_MIN_HOST_SUPPORTED_RCP_API_VERSION` when that layout was settled).
pub const MIN_RCP_API_VERSION: u32 = 4;

/// The largest packed unsigned integer (spinel §7.2: at most 21 bits, three octets).
pub const PACKED_MAX: u32 = (1 << 21) - 1;

/// Why bytes are not a Spinel frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("the header byte {0:#04x} lacks the Spinel flag bits (10xxxxxx)")]
    BadHeader(u8),
    #[error("a packed integer is longer than three octets")]
    PackedTooLong,
    #[error("{0}")]
    Invalid(&'static str),
}

/// Appends `v` as a packed unsigned integer (spinel §7.2: little-endian groups of seven bits,
/// the high bit of each octet set when another follows). `v` above [`PACKED_MAX`] is written
/// as it is (up to five octets), which no RCP sends.
pub fn put_packed(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A cursor over a frame's bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.data.len() < n {
            return Err(WireError::Truncated(what));
        }
        let (a, b) = self.data.split_at(n);
        self.data = b;
        Ok(a)
    }

    /// `C`: an octet.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    /// `c`: a signed octet.
    pub fn i8(&mut self, what: &'static str) -> Result<i8, WireError> {
        Ok(self.u8(what)? as i8)
    }

    /// `S`: 16 bits, little-endian.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// `X`: 64 bits, little-endian.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// `i`: a packed unsigned integer (spinel §7.2), at most three octets.
    pub fn packed(&mut self, what: &'static str) -> Result<u32, WireError> {
        let mut v: u32 = 0;
        for i in 0..3 {
            let b = self.u8(what)?;
            v |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError::PackedTooLong)
    }

    /// `d` (and `t(...)`): 16-bit little-endian length, then that many octets (spinel §7.3,
    /// §7.4).
    pub fn data_wlen(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }
}

/// A Spinel frame: header (flag, interface, transaction id), command, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The interface identifier (bits 5..4 of the header).
    pub iid: u8,
    /// The transaction identifier (bits 3..0): 0 for what the RCP says by itself.
    pub tid: u8,
    pub command: u32,
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Reads a frame (the HDLC payload).
    pub fn parse(data: &'a [u8]) -> Result<Frame<'a>, WireError> {
        let mut r = Reader::new(data);
        let h = r.u8("header")?;
        if h & HEADER_FLAG_MASK != HEADER_FLAG {
            return Err(WireError::BadHeader(h));
        }
        let command = r.packed("command")?;
        Ok(Frame {
            iid: (h >> 4) & 0x03,
            tid: h & 0x0F,
            command,
            payload: r.rest(),
        })
    }

    /// For `PROP_VALUE_*` commands: the property and its value.
    pub fn property(&self) -> Result<(u32, &'a [u8]), WireError> {
        let mut r = Reader::new(self.payload);
        let p = r.packed("property")?;
        Ok((p, r.rest()))
    }
}

/// A frame to send: header with `tid` on interface 0, `command`, and `payload`.
pub fn command(tid: u8, cmd: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![HEADER_FLAG | (tid & 0x0F)];
    put_packed(&mut out, cmd);
    out.extend_from_slice(payload);
    out
}

/// `PROP_VALUE_GET prop`.
pub fn prop_get(tid: u8, prop: u32) -> Vec<u8> {
    let mut p = Vec::new();
    put_packed(&mut p, prop);
    command(tid, CMD_PROP_VALUE_GET, &p)
}

/// `PROP_VALUE_SET prop value`.
pub fn prop_set(tid: u8, prop: u32, value: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    put_packed(&mut p, prop);
    p.extend_from_slice(value);
    command(tid, CMD_PROP_VALUE_SET, &p)
}

/// `cmd prop value` (a set, an insert into a list property, a remove from one).
pub fn prop_command(tid: u8, cmd: u32, prop: u32, value: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    put_packed(&mut p, prop);
    p.extend_from_slice(value);
    command(tid, cmd, &p)
}

/// `PROP_VALUE_IS prop value` (what an RCP answers; the fake RCP and tests write it).
pub fn prop_is(tid: u8, prop: u32, value: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    put_packed(&mut p, prop);
    p.extend_from_slice(value);
    command(tid, CMD_PROP_VALUE_IS, &p)
}

/// A packed integer alone (a `LAST_STATUS` or `RCP_API_VERSION` value).
pub fn packed(v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_packed(&mut out, v);
    out
}

/// The name of a status code, for errors.
pub fn status_name(s: u32) -> String {
    let name = match s {
        0 => "OK",
        1 => "FAILURE",
        2 => "UNIMPLEMENTED",
        3 => "INVALID_ARGUMENT",
        4 => "INVALID_STATE",
        5 => "INVALID_COMMAND",
        6 => "INVALID_INTERFACE",
        7 => "INTERNAL_ERROR",
        8 => "SECURITY_ERROR",
        9 => "PARSE_ERROR",
        10 => "IN_PROGRESS",
        11 => "NOMEM",
        12 => "BUSY",
        13 => "PROP_NOT_FOUND",
        14 => "DROPPED",
        15 => "EMPTY",
        16 => "CMD_TOO_BIG",
        17 => "NO_ACK",
        18 => "CCA_FAILURE",
        19 => "ALREADY",
        20 => "ITEM_NOT_FOUND",
        21 => "INVALID_COMMAND_FOR_PROP",
        s if (STATUS_RESET_BEGIN..STATUS_RESET_END).contains(&s) => "RESET",
        _ => return format!("status {s}"),
    };
    format!("{name} ({s})")
}

/// A frame the RCP received, from a `STREAM_RAW` value (OpenThread `RadioSpinel::ParseRadioFrame`
/// and `NcpBase::PackRadioFrame`): `d` the PSDU with its FCS, `c` RSSI, `c` noise floor, `S`
/// flags, `t(CCX)` PHY data (channel, LQI, timestamp in µs), `t(i)` vendor data (the receive
/// error, an `otError`); what follows (MAC data) is not needed here. The structures are
/// length-prefixed, so fields an RCP adds at their ends are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// The PSDU as the RCP gave it, FCS included.
    pub psdu: &'a [u8],
    pub rssi: i8,
    pub noise_floor: i8,
    pub flags: u16,
    pub channel: u8,
    pub lqi: u8,
    /// The RCP's clock when the frame's SFD was received, in microseconds.
    pub timestamp_us: u64,
    /// 0 for a frame received well; otherwise the `otError` the RCP reported (no frame).
    pub receive_error: u32,
}

impl<'a> RawFrame<'a> {
    pub fn parse(value: &'a [u8]) -> Result<RawFrame<'a>, WireError> {
        let mut r = Reader::new(value);
        let psdu = r.data_wlen("STREAM_RAW frame")?;
        let rssi = r.i8("STREAM_RAW RSSI")?;
        let noise_floor = r.i8("STREAM_RAW noise floor")?;
        let flags = r.u16("STREAM_RAW flags")?;
        let mut phy = Reader::new(r.data_wlen("STREAM_RAW PHY data")?);
        let channel = phy.u8("STREAM_RAW channel")?;
        let lqi = phy.u8("STREAM_RAW LQI")?;
        let timestamp_us = phy.u64("STREAM_RAW timestamp")?;
        let receive_error = if r.is_empty() {
            0
        } else {
            let mut vendor = Reader::new(r.data_wlen("STREAM_RAW vendor data")?);
            vendor.packed("STREAM_RAW receive error")?
        };
        Ok(RawFrame {
            psdu,
            rssi,
            noise_floor,
            flags,
            channel,
            lqi,
            timestamp_us,
            receive_error,
        })
    }

    /// The value an RCP sends for this frame (the fake RCP and tests write it).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.psdu.len() as u16).to_le_bytes());
        out.extend_from_slice(self.psdu);
        out.push(self.rssi as u8);
        out.push(self.noise_floor as u8);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&10u16.to_le_bytes());
        out.push(self.channel);
        out.push(self.lqi);
        out.extend_from_slice(&self.timestamp_us.to_le_bytes());
        let vendor = packed(self.receive_error);
        out.extend_from_slice(&(vendor.len() as u16).to_le_bytes());
        out.extend_from_slice(&vendor);
        out
    }
}

/// The `STREAM_RAW` value that asks the RCP to transmit `psdu` (the MAC frame and two octets
/// the RCP fills with the FCS) on `channel` (OpenThread `NcpBase::DecodeStreamRawTxRequest`):
/// `d` PSDU, `C` channel, then the optional `C` CSMA backoffs, `C` retries, `b` CSMA-CA on,
/// `b` header updated, `b` a retransmission, `b` security processed. weft secures its frames
/// itself, so the header is final and security is marked processed: an RCP that holds MAC keys
/// must not secure them again. (An RCP older than these fields stops reading where they start
/// and takes its defaults.)
pub fn stream_raw_tx(psdu: &[u8], channel: u8, max_backoffs: u8, max_retries: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(psdu.len() + 10);
    out.extend_from_slice(&(psdu.len() as u16).to_le_bytes());
    out.extend_from_slice(psdu);
    out.push(channel);
    out.push(max_backoffs);
    out.push(max_retries);
    out.extend_from_slice(&[1, 1, 0, 1]);
    out
}

/// A Spinel frame for logs: `tid 3 PROP_VALUE_IS 0x71 (25 octets)`.
#[derive(Debug)]
pub struct Show<'a>(pub &'a Frame<'a>);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f0 = self.0;
        let name = match f0.command {
            CMD_NOOP => "NOOP",
            CMD_RESET => "RESET",
            CMD_PROP_VALUE_GET => "PROP_VALUE_GET",
            CMD_PROP_VALUE_SET => "PROP_VALUE_SET",
            CMD_PROP_VALUE_INSERT => "PROP_VALUE_INSERT",
            CMD_PROP_VALUE_REMOVE => "PROP_VALUE_REMOVE",
            CMD_PROP_VALUE_IS => "PROP_VALUE_IS",
            _ => "command",
        };
        write!(f, "tid {} {name} {}", f0.tid, f0.command)?;
        if let Ok((p, v)) = f0.property() {
            write!(f, " property {p:#x} ({} octets)", v.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> serde_json::Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../mesh/tests/data/thread-sample-data.json"
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["spinel"].clone()
    }

    #[test]
    fn packed_integers_match_the_sample_data() {
        let s = sample();
        for case in s["packed_uint"].as_array().unwrap() {
            let value = case["value"].as_u64().unwrap() as u32;
            let encoded = hex::decode(case["encoded"].as_str().unwrap()).unwrap();
            assert_eq!(packed(value), encoded, "{value}");
            assert_eq!(Reader::new(&encoded).packed("x"), Ok(value));
        }
    }

    #[test]
    fn identifiers_match_the_sample_data() {
        let ids = &sample()["ids"];
        let id = |k: &str| ids[k].as_u64().unwrap() as u32;
        assert_eq!(CMD_RESET, id("cmd_reset"));
        assert_eq!(CMD_PROP_VALUE_GET, id("cmd_prop_value_get"));
        assert_eq!(CMD_PROP_VALUE_SET, id("cmd_prop_value_set"));
        assert_eq!(CMD_PROP_VALUE_IS, id("cmd_prop_value_is"));
        assert_eq!(PROP_LAST_STATUS, id("prop_last_status"));
        assert_eq!(PROP_PROTOCOL_VERSION, id("prop_protocol_version"));
        assert_eq!(PROP_NCP_VERSION, id("prop_ncp_version"));
        assert_eq!(PROP_CAPS, id("prop_caps"));
        assert_eq!(PROP_PHY_ENABLED, id("prop_phy_enabled"));
        assert_eq!(PROP_PHY_CHAN, id("prop_phy_chan"));
        assert_eq!(
            PROP_MAC_RAW_STREAM_ENABLED,
            id("prop_mac_raw_stream_enabled")
        );
        assert_eq!(PROP_MAC_PROMISCUOUS_MODE, id("prop_mac_promiscuous_mode"));
        assert_eq!(PROP_STREAM_RAW, id("prop_stream_raw"));
        assert_eq!(PROP_RCP_API_VERSION, id("prop_rcp_api_version"));
    }

    #[test]
    fn a_transmit_request_has_the_layout_openthread_reads() {
        let v = stream_raw_tx(&[0x02, 0x00, 0x07, 0, 0], 15, 4, 3);
        assert_eq!(
            v,
            [5, 0, 0x02, 0x00, 0x07, 0, 0, 15, 4, 3, 1, 1, 0, 1],
            "d(PSDU) C(channel) C(backoffs) C(retries) b(CSMA) b(header updated) b(retx) b(security processed)"
        );
    }

    #[test]
    fn the_header_carries_tid_and_interface() {
        let f = prop_get(5, PROP_CAPS);
        assert_eq!(f, vec![0x85, 0x02, 0x05]);
        let p = Frame::parse(&[0xB3, 0x06, 0x00, 0x70]).unwrap();
        assert_eq!((p.iid, p.tid, p.command), (3, 3, CMD_PROP_VALUE_IS));
        assert_eq!(p.property(), Ok((PROP_LAST_STATUS, &[0x70][..])));
        assert_eq!(Frame::parse(&[0x40, 0x06]), Err(WireError::BadHeader(0x40)));
        assert!(Reader::new(&[0xFF, 0xFF, 0xFF, 0x01]).packed("x").is_err());
    }

    #[test]
    fn a_raw_frame_reads_back() {
        let psdu = [0x41, 0xD8, 0x01, 0xCE, 0xFA, 0xFF, 0xFF, 0x12, 0x34];
        let f = RawFrame {
            psdu: &psdu,
            rssi: -61,
            noise_floor: -100,
            flags: 0,
            channel: 15,
            lqi: 200,
            timestamp_us: 0x1122_3344_5566,
            receive_error: 0,
        };
        let v = f.encode();
        assert_eq!(RawFrame::parse(&v), Ok(f.clone()));
        // Without the vendor data (older RCPs), and with a longer PHY structure.
        let cut = v.len() - 3;
        assert_eq!(RawFrame::parse(&v[..cut]).unwrap().receive_error, 0);
        for n in 0..cut {
            assert!(RawFrame::parse(&v[..n]).is_err(), "{n}");
        }
    }

    proptest! {
        #[test]
        fn packed_round_trips(v in 0u32..=PACKED_MAX) {
            let b = packed(v);
            prop_assert!(b.len() <= 3);
            prop_assert_eq!(Reader::new(&b).packed("x"), Ok(v));
        }

        #[test]
        fn any_bytes_are_a_frame_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(f) = Frame::parse(&bytes) {
                let _ = f.property();
            }
            let _ = RawFrame::parse(&bytes);
        }
    }
}
