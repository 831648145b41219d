//! IEEE 802.15.4 frames as captures carry them: `LINKTYPE_IEEE802_15_4_TAP` (283), a TLV
//! pseudo-header and the frame with its FCS (tcpdump.org's link-layer header types,
//! LINKTYPE_IEEE802_15_4_TAP; Wireshark `epan/dissectors/packet-ieee802154.c`,
//! `dissect_ieee802154_tap`).
//!
//! The header: version (0), reserved (0), its own length in octets including the TLVs (16
//! bits, little-endian); then TLVs, each a 16-bit type, a 16-bit length of the value, the
//! value, and padding to a multiple of four octets. Everything little-endian. Written here:
//! - FCS type (0): one octet, 1 = the 16-bit ITU-T CRC (IEEE 802.15.4-2015 §7.2.10);
//! - RSS (1): the received signal strength, a 32-bit IEEE 754 float in dBm, when known;
//! - channel assignment (3): the channel number (16 bits) and page (8 bits, 0 for the 2.4 GHz
//!   O-QPSK PHY), when known;
//! - LQI (10): one octet, when known.
//!
//! The frame is the MAC frame with its FCS recomputed (CRC-16/KERMIT, [`weft_mesh::thread::mac::fcs`]):
//! radios hand frames over without it.

use weft_mesh::thread::mac::fcs;

/// TLV types (packet-ieee802154.c `IEEE802154_TAP_*`).
pub const TLV_FCS_TYPE: u16 = 0;
pub const TLV_RSS: u16 = 1;
pub const TLV_CHANNEL_ASSIGNMENT: u16 = 3;
pub const TLV_LQI: u16 = 10;

/// FCS type 1: the 16-bit CRC.
pub const FCS_16_BIT: u8 = 1;

/// The header's fixed part: version, reserved, length.
pub const HEADER_LEN: usize = 4;

/// What the pseudo-header says about a frame.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TapInfo {
    /// The channel (11..=26 on the 2.4 GHz band); `None` or 0: not written.
    pub channel: Option<u8>,
    /// Received signal strength in dBm.
    pub rssi: Option<i8>,
    /// Link quality indicator (0..=255, IEEE 802.15.4-2015 §10.2.6).
    pub lqi: Option<u8>,
}

fn tlv(out: &mut Vec<u8>, t: u16, value: &[u8]) {
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The packet for the MAC frame `mac` (without its FCS).
pub fn tap_packet(mac: &[u8], info: TapInfo) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    tlv(&mut out, TLV_FCS_TYPE, &[FCS_16_BIT]);
    if let Some(rssi) = info.rssi {
        tlv(&mut out, TLV_RSS, &f32::from(rssi).to_le_bytes());
    }
    if let Some(ch) = info.channel.filter(|&c| c != 0) {
        let mut v = u16::from(ch).to_le_bytes().to_vec();
        v.push(0);
        tlv(&mut out, TLV_CHANNEL_ASSIGNMENT, &v);
    }
    if let Some(lqi) = info.lqi {
        tlv(&mut out, TLV_LQI, &[lqi]);
    }
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&fcs::append(mac));
    out
}

/// Reads a packet back: the pseudo-header's information and the MAC frame without its FCS,
/// or why not (for tests and tools; never panics).
pub fn parse_tap(p: &[u8]) -> Result<(TapInfo, &[u8]), String> {
    if p.len() < HEADER_LEN || p[0] != 0 {
        return Err("not a version 0 TAP header".into());
    }
    let hlen = u16::from_le_bytes([p[2], p[3]]) as usize;
    if hlen < HEADER_LEN || hlen > p.len() || !hlen.is_multiple_of(4) {
        return Err(format!("TAP header length {hlen} does not fit"));
    }
    let mut info = TapInfo::default();
    let mut fcs_type = None;
    let mut at = HEADER_LEN;
    while at + 4 <= hlen {
        let t = u16::from_le_bytes([p[at], p[at + 1]]);
        let n = u16::from_le_bytes([p[at + 2], p[at + 3]]) as usize;
        let v = p
            .get(at + 4..at + 4 + n)
            .filter(|_| at + 4 + n <= hlen)
            .ok_or("a TLV overruns the header")?;
        match (t, n) {
            (TLV_FCS_TYPE, 1) => fcs_type = Some(v[0]),
            (TLV_RSS, 4) => info.rssi = Some(f32::from_le_bytes([v[0], v[1], v[2], v[3]]) as i8),
            (TLV_CHANNEL_ASSIGNMENT, 3) => {
                info.channel = u8::try_from(u16::from_le_bytes([v[0], v[1]])).ok()
            }
            (TLV_LQI, 1) => info.lqi = Some(v[0]),
            _ => {}
        }
        at += 4 + n.div_ceil(4) * 4;
    }
    if fcs_type != Some(FCS_16_BIT) {
        return Err(format!("FCS type {fcs_type:?}, not the 16-bit CRC"));
    }
    let mac = fcs::check(&p[hlen..]).map_err(|e| format!("the frame's FCS: {e}"))?;
    Ok((info, mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_layout_is_the_documented_one() {
        let p = tap_packet(
            &[0x02, 0x00, 0x07],
            TapInfo {
                channel: Some(15),
                rssi: Some(-60),
                lqi: Some(200),
            },
        );
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
    }

    proptest! {
        #[test]
        fn packets_read_back(
            mac in proptest::collection::vec(any::<u8>(), 1..125),
            channel in proptest::option::of(11u8..=26),
            rssi in proptest::option::of(any::<i8>()),
            lqi in proptest::option::of(any::<u8>()),
        ) {
            let info = TapInfo { channel, rssi, lqi };
            let p = tap_packet(&mac, info);
            let (back, m) = parse_tap(&p).unwrap();
            prop_assert_eq!(back, info);
            prop_assert_eq!(m, &mac[..]);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_tap(&bytes);
        }
    }
}
