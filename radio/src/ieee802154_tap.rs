//! The IEEE 802.15.4 TAP pseudo-header (tcpdump.org `LINKTYPE_IEEE802_15_4_TAP`, 283; the
//! layout of github.com/jkcko/ieee802.15.4-tap, which Wireshark's `wpan-tap` dissector reads):
//!
//! ```text
//! version (1) = 0 | reserved (1) = 0 | length (2, LE: the whole header with its TLVs)
//! TLVs: type (2, LE) | length (2, LE: the value's, without padding) | value, padded to 4
//! then the PSDU, with an FCS of the length the FCS Type TLV says (none when absent: 0)
//! ```
//!
//! The reader takes captures from users: every length is checked, unknown TLVs are skipped,
//! and malformed input is an error, never a panic.

use weft_mesh::thread::mac::fcs;

/// TLV types (ieee802.15.4-tap "TLV Types").
pub mod tlv {
    /// FCS Type: 1 octet, 0 none, 1 16-bit CRC, 2 32-bit CRC.
    pub const FCS_TYPE: u16 = 0;
    /// Received Signal Strength: IEEE 754 float, dBm.
    pub const RSS: u16 = 1;
    /// Channel Assignment: channel number (2, LE) and channel page (1).
    pub const CHANNEL_ASSIGNMENT: u16 = 3;
    /// Link Quality Indicator: 1 octet.
    pub const LQI: u16 = 10;
}

/// FCS Type values.
pub const FCS_NONE: u8 = 0;
pub const FCS_16: u8 = 1;
pub const FCS_32: u8 = 2;

/// The fixed header: version, reserved, length.
pub const HEADER_LEN: usize = 4;

/// What the pseudo-header says about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TapInfo {
    /// FCS Type (0 when the TLV is absent: the PSDU then has no FCS).
    pub fcs_type: u8,
    /// (channel, page).
    pub channel: Option<(u16, u8)>,
    /// dBm.
    pub rssi: Option<f32>,
    pub lqi: Option<u8>,
}

/// Why a TAP packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapError {
    #[error("802.15.4 TAP header truncated: needs {need} octets, has {got}")]
    Truncated { need: usize, got: usize },
    #[error("802.15.4 TAP version {0} (only 0 is defined)")]
    Version(u8),
    #[error(
        "802.15.4 TAP header length {0} is shorter than its fixed part or not a multiple of 4"
    )]
    Length(usize),
    #[error("802.15.4 TAP TLV {tlv_type} has length {len}, its layout needs {want}")]
    TlvLength {
        tlv_type: u16,
        len: usize,
        want: usize,
    },
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Splits a TAP packet into what its header says and the PSDU.
pub fn parse(packet: &[u8]) -> Result<(TapInfo, &[u8]), TapError> {
    let trunc = |need| TapError::Truncated {
        need,
        got: packet.len(),
    };
    if packet.len() < HEADER_LEN {
        return Err(trunc(HEADER_LEN));
    }
    if packet[0] != 0 {
        return Err(TapError::Version(packet[0]));
    }
    let len = le16(packet, 2) as usize;
    if len < HEADER_LEN || !len.is_multiple_of(4) {
        return Err(TapError::Length(len));
    }
    if packet.len() < len {
        return Err(trunc(len));
    }
    let mut info = TapInfo::default();
    let mut at = HEADER_LEN;
    while at < len {
        if at + 4 > len {
            return Err(trunc(at + 4));
        }
        let t = le16(packet, at);
        let l = le16(packet, at + 2) as usize;
        let v = packet.get(at + 4..at + 4 + l).filter(|_| at + 4 + l <= len);
        let v = v.ok_or(trunc(at + 4 + l))?;
        let want = |n: usize| {
            if l == n {
                Ok(())
            } else {
                Err(TapError::TlvLength {
                    tlv_type: t,
                    len: l,
                    want: n,
                })
            }
        };
        match t {
            tlv::FCS_TYPE => {
                want(1)?;
                info.fcs_type = v[0];
            }
            tlv::RSS => {
                want(4)?;
                info.rssi = Some(f32::from_le_bytes([v[0], v[1], v[2], v[3]]));
            }
            tlv::CHANNEL_ASSIGNMENT => {
                want(3)?;
                info.channel = Some((le16(v, 0), v[2]));
            }
            tlv::LQI => {
                want(1)?;
                info.lqi = Some(v[0]);
            }
            _ => {}
        }
        at += 4 + l.div_ceil(4) * 4;
    }
    Ok((info, &packet[len..]))
}

fn push_tlv(out: &mut Vec<u8>, t: u16, v: &[u8]) {
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(&(v.len() as u16).to_le_bytes());
    out.extend_from_slice(v);
    out.resize(out.len() + (4 - v.len() % 4) % 4, 0);
}

/// A TAP packet: the header with the TLVs `info` has, then `psdu` (which must end with an FCS
/// of the kind `info.fcs_type` names).
pub fn encode(info: &TapInfo, psdu: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    push_tlv(&mut out, tlv::FCS_TYPE, &[info.fcs_type]);
    if let Some(r) = info.rssi {
        push_tlv(&mut out, tlv::RSS, &r.to_le_bytes());
    }
    if let Some((ch, page)) = info.channel {
        let c = ch.to_le_bytes();
        push_tlv(&mut out, tlv::CHANNEL_ASSIGNMENT, &[c[0], c[1], page]);
    }
    if let Some(l) = info.lqi {
        push_tlv(&mut out, tlv::LQI, &[l]);
    }
    let n = out.len() as u16;
    out[2..4].copy_from_slice(&n.to_le_bytes());
    out.extend_from_slice(psdu);
    out
}

/// The packet for the MAC frame `mac` as a radio hands it over (without its FCS, recomputed
/// here as CRC-16/KERMIT, [`fcs`]), heard on `channel` (0: unknown, not written) with `rssi`
/// and `lqi`: what weft's captures write.
pub fn frame_packet(mac: &[u8], channel: u8, rssi: Option<i8>, lqi: Option<u8>) -> Vec<u8> {
    let info = TapInfo {
        fcs_type: FCS_16,
        channel: (channel != 0).then_some((u16::from(channel), 0)),
        rssi: rssi.map(f32::from),
        lqi,
    };
    encode(&info, &fcs::append(mac))
}

/// A packet as [`frame_packet`] writes it: its pseudo-header and the MAC frame without its
/// FCS, which must be the 16-bit one and right.
pub fn parse_frame(p: &[u8]) -> Result<(TapInfo, &[u8]), String> {
    let (info, psdu) = parse(p).map_err(|e| e.to_string())?;
    if info.fcs_type != FCS_16 {
        return Err(format!("FCS type {}, not the 16-bit CRC", info.fcs_type));
    }
    let mac = fcs::check(psdu).map_err(|e| format!("the frame's FCS: {e}"))?;
    Ok((info, mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_layout() {
        let info = TapInfo {
            fcs_type: FCS_16,
            channel: Some((15, 0)),
            rssi: Some(-42.5),
            lqi: Some(200),
        };
        let p = encode(&info, &[1, 2, 3, 4]);
        // FCS type TLV: type 0, length 1, value, 3 octets of padding.
        assert_eq!(&p[4..12], &[0, 0, 1, 0, 1, 0, 0, 0]);
        assert_eq!(le16(&p, 2) as usize, p.len() - 4);
        assert_eq!(parse(&p), Ok((info, &[1u8, 2, 3, 4][..])));
        assert_eq!(
            parse(&p[..10]),
            Err(TapError::Truncated { need: 36, got: 10 })
        );
        let mut v = p.clone();
        v[0] = 1;
        assert_eq!(parse(&v), Err(TapError::Version(1)));
    }

    #[test]
    fn a_frame_packet_has_the_documented_layout() {
        let p = frame_packet(&[0x02, 0x00, 0x07], 15, Some(-60), Some(200));
        // version, reserved, length 4 + 8 + 8 + 8 + 8 = 36
        assert_eq!(&p[..4], &[0, 0, 36, 0]);
        assert_eq!(&p[4..12], &[0, 0, 1, 0, 1, 0, 0, 0]);
        assert_eq!(&p[12..16], &[1, 0, 4, 0]);
        assert_eq!(&p[16..20], &(-60f32).to_le_bytes());
        assert_eq!(&p[20..28], &[3, 0, 3, 0, 15, 0, 0, 0]);
        assert_eq!(&p[28..36], &[10, 0, 1, 0, 200, 0, 0, 0]);
        // The ack frame of the 802.15.4 examples: 02 00 07 with FCS (KERMIT, low octet first).
        assert_eq!(&p[36..39], &[0x02, 0x00, 0x07]);
        assert_eq!(p.len(), 41);
        assert!(fcs::check(&p[36..]).is_ok());
        // Channel 0 is unknown: no channel TLV.
        assert_eq!(
            parse_frame(&frame_packet(&[2, 0, 7], 0, None, None))
                .unwrap()
                .0
                .channel,
            None
        );
    }

    proptest! {
        #[test]
        fn frame_packets_read_back(
            mac in proptest::collection::vec(any::<u8>(), 1..125),
            channel in 11u8..=26,
            rssi in proptest::option::of(any::<i8>()),
            lqi in proptest::option::of(any::<u8>()),
        ) {
            let p = frame_packet(&mac, channel, rssi, lqi);
            let (info, m) = parse_frame(&p).unwrap();
            prop_assert_eq!(info.channel, Some((u16::from(channel), 0)));
            prop_assert_eq!(info.rssi, rssi.map(f32::from));
            prop_assert_eq!(info.lqi, lqi);
            prop_assert_eq!(m, &mac[..]);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&data);
        }
    }
}
