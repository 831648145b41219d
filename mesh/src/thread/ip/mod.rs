//! IPv6 above 6LoWPAN for a Thread node: its addresses ([`addr`]), ICMPv6 echo ([`icmpv6`]),
//! UDP and a bounded socket table ([`udp`]), and the transmit path from a datagram to
//! 802.15.4 frame payloads ([`tx`]: IPHC, fragments, mesh header).

pub mod addr;
pub mod icmpv6;
pub mod mpl;
pub mod tx;
pub mod udp;

use std::net::Ipv6Addr;

use crate::thread::lowpan::Ipv6Header;
use crate::wire::{need, Error, Result};

/// Next Header values (IANA protocol numbers).
pub mod proto {
    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    pub const HOP_BY_HOP: u8 = 0;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
    /// ICMPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
    /// No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT: u8 = 59;
    /// Destination Options (RFC 8200 §4.6).
    pub const DEST_OPTS: u8 = 60;
}

/// The hop limit weft's node sends with when the caller names none (OpenThread's
/// `kDefaultHopLimit`, 64).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// The Internet checksum over the IPv6 pseudo-header (RFC 8200 §8.1: source, destination,
/// upper-layer length, next header) and `payload`, whose checksum field must be zero.
pub fn checksum(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, payload: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(payload.len() as u32).to_be_bytes());
    add(&[0, 0, 0, next_header]);
    add(payload);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv6 datagram taken apart: its header, the upper-layer protocol after any Hop-by-Hop
/// and Destination Options headers, and the offset of that protocol's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub header: Ipv6Header,
    pub protocol: u8,
    pub upper_at: usize,
}

/// Reads an IPv6 datagram (RFC 8200 §3): version 6, a Payload Length that matches, and the
/// Hop-by-Hop and Destination Options headers skipped (§4.3, §4.6).
pub fn parse(datagram: &[u8]) -> Result<Parsed> {
    let header = Ipv6Header::parse(datagram)?;
    let end = Ipv6Header::LEN + header.payload_len as usize;
    if end != datagram.len() {
        return Err(Error::Invalid {
            field: "IPv6 Payload Length does not match the datagram",
            value: header.payload_len as u32,
        });
    }
    let mut protocol = header.next_header;
    let mut at = Ipv6Header::LEN;
    while protocol == proto::HOP_BY_HOP || protocol == proto::DEST_OPTS {
        need(datagram, at + 2)?;
        let len = (datagram[at + 1] as usize + 1) * 8;
        need(datagram, at + len)?;
        protocol = datagram[at];
        at += len;
    }
    Ok(Parsed {
        header,
        protocol,
        upper_at: at,
    })
}

/// An IPv6 datagram of `next_header` carrying `payload` (no extension headers).
pub fn build(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0u8; Ipv6Header::LEN];
    Ipv6Header {
        traffic_class: 0,
        flow_label: 0,
        payload_len: payload.len().min(u16::MAX as usize) as u16,
        next_header,
        hop_limit,
        src,
        dst,
    }
    .emit(&mut p);
    p.extend_from_slice(payload);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::lowpan::udp_checksum;

    #[test]
    fn checksum_agrees_with_the_lowpan_udp_checksum() {
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::2".parse().unwrap();
        for n in [0usize, 1, 7, 30] {
            let mut udp = vec![0x12, 0x34, 0x56, 0x78, 0, (8 + n) as u8, 0, 0];
            udp.extend((0..n).map(|i| (i as u8).wrapping_mul(37)));
            let a = checksum(&src, &dst, proto::UDP, &udp);
            let addrs = [src.octets(), dst.octets()].concat();
            assert_eq!(a, udp_checksum(&addrs, &udp), "{n}");
            // Filled in, the sum over everything is zero.
            udp[6..8].copy_from_slice(&a.to_be_bytes());
            assert_eq!(checksum(&src, &dst, proto::UDP, &udp), 0);
        }
    }

    #[test]
    fn parse_skips_options_headers_and_checks_the_length() {
        let src: Ipv6Addr = "fd00::1".parse().unwrap();
        // Hop-by-Hop (8 octets: next header ICMPv6, length 0, PadN 4) then 4 octets.
        let body = [proto::ICMPV6, 0, 1, 4, 0, 0, 0, 0, 128, 0, 0, 0];
        let d = build(src, src, proto::HOP_BY_HOP, 64, &body);
        let p = parse(&d).unwrap();
        assert_eq!((p.protocol, p.upper_at), (proto::ICMPV6, 48));
        assert!(parse(&d[..d.len() - 1]).is_err());
        // A Hop-by-Hop header claiming more than there is.
        let d = build(src, src, proto::HOP_BY_HOP, 64, &[proto::UDP, 3, 0, 0]);
        assert!(parse(&d).is_err());
    }
}
