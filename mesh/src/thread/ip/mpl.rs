//! The MPL Option (RFC 7731 §6.1) in a Hop-by-Hop Options header (RFC 8200 §4.3), as Thread
//! carries realm-local multicast (Thread 1.3 §5.?; section unverified): Option Type 0x6D,
//! then S (seed-id length: 0 = the seed is the source address, 1 = a 2-octet seed, Thread's
//! RLOC16), M, V (must be 0), the Sequence, the seed-id. Layouts as OpenThread's `MplOption`
//! (`src/core/net/ip6_mpl.hpp`, checked): with S = 0 the option is padded with a PadN of
//! two octets, with S = 1 it fills the 8-octet header exactly. OpenThread reads only S 0
//! and 1; so does this.

use std::net::Ipv6Addr;

use super::addr::locator16;
use super::proto;
use crate::thread::lowpan::Ipv6Header;
use crate::wire::{Error, Result};

/// The MPL Option type (RFC 7731 §6.1: 01 1 01101; OpenThread `MplOption::kType`).
pub const OPTION_TYPE: u8 = 0x6d;
/// Pad1 and PadN options (RFC 8200 §4.2).
const PAD1: u8 = 0;
const PADN: u8 = 1;
/// Control bits: S (bits 7-6), M (bit 5), V (bit 4).
const S_SHIFT: u8 = 6;
const M_FLAG: u8 = 0x20;
const V_FLAG: u8 = 0x10;

/// An MPL Option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplOption {
    /// The 2-octet seed-id (S = 1); `None`: S = 0, the seed is the datagram's source, which
    /// must then be a locator address (its RLOC16 is the seed).
    pub seed_id: Option<u16>,
    /// M: the seed's largest sequence (RFC 7731 §6.1).
    pub max: bool,
    pub sequence: u8,
}

impl MplOption {
    /// The option's 16-bit seed, given the datagram's source.
    pub fn seed(&self, src: &Ipv6Addr) -> Option<u16> {
        self.seed_id.or_else(|| locator16(src))
    }

    /// The 8-octet Hop-by-Hop header holding this option, before `next_header`.
    pub fn header(&self, next_header: u8) -> [u8; 8] {
        let mut h = [next_header, 0, OPTION_TYPE, 2, 0, self.sequence, PADN, 0];
        h[4] = if self.max { M_FLAG } else { 0 };
        if let Some(s) = self.seed_id {
            h[3] = 4;
            h[4] |= 1 << S_SHIFT;
            h[6..8].copy_from_slice(&s.to_be_bytes());
        }
        h
    }

    fn parse(data: &[u8]) -> Result<Self> {
        let bad = |field, value: usize| Error::Invalid {
            field,
            value: value as u32,
        };
        let (&c, rest) = data.split_first().ok_or(bad("MPL option length", 0))?;
        if c & V_FLAG != 0 {
            return Err(bad("MPL option V flag (must be 0)", c as usize));
        }
        let seed_len = match c >> S_SHIFT {
            0 => 0,
            1 => 2,
            s => {
                return Err(bad(
                    "MPL seed-id length (only S 0 and 1 are read)",
                    s as usize,
                ))
            }
        };
        if rest.len() != 1 + seed_len {
            return Err(bad("MPL option length", data.len()));
        }
        Ok(MplOption {
            seed_id: (seed_len == 2).then(|| u16::from_be_bytes([rest[1], rest[2]])),
            max: c & M_FLAG != 0,
            sequence: rest[0],
        })
    }
}

/// `datagram` (with no extension header) with `opt` in a Hop-by-Hop header after its IPv6
/// header; `None` when it has extension headers already or is too long for one more.
pub fn insert(datagram: &[u8], opt: &MplOption) -> Option<Vec<u8>> {
    let h = Ipv6Header::parse(datagram).ok()?;
    if matches!(h.next_header, proto::HOP_BY_HOP | proto::DEST_OPTS) {
        return None;
    }
    let payload_len = h.payload_len.checked_add(8)?;
    let mut out = Vec::with_capacity(datagram.len() + 8);
    out.extend_from_slice(&datagram[..Ipv6Header::LEN]);
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out[6] = proto::HOP_BY_HOP;
    out.extend_from_slice(&opt.header(h.next_header));
    out.extend_from_slice(&datagram[Ipv6Header::LEN..]);
    Some(out)
}

/// The MPL Option in `datagram`'s Hop-by-Hop header: `Ok(None)` when there is none, an error
/// when the header or the option is malformed.
pub fn find(datagram: &[u8]) -> Result<Option<MplOption>> {
    let h = Ipv6Header::parse(datagram)?;
    if h.next_header != proto::HOP_BY_HOP {
        return Ok(None);
    }
    let at = Ipv6Header::LEN;
    crate::wire::need(datagram, at + 2)?;
    let end = at + (datagram[at + 1] as usize + 1) * 8;
    crate::wire::need(datagram, end)?;
    let mut i = at + 2;
    while i < end {
        let t = datagram[i];
        if t == PAD1 {
            i += 1;
            continue;
        }
        let len = *datagram
            .get(i + 1)
            .filter(|_| i + 1 < end)
            .ok_or(Error::Truncated {
                need: i + 2,
                got: end,
            })? as usize;
        let data = datagram
            .get(i + 2..i + 2 + len)
            .filter(|_| i + 2 + len <= end)
            .ok_or(Error::Truncated {
                need: i + 2 + len,
                got: end,
            })?;
        if t == OPTION_TYPE {
            return MplOption::parse(data).map(Some);
        }
        i += 2 + len;
    }
    Ok(None)
}

/// Lowers the Hop Limit of `datagram` by one (a forwarder's, RFC 8200 §3); `false` when it
/// was 1 or less and the datagram may not be forwarded.
pub fn decrement_hop_limit(datagram: &mut [u8]) -> bool {
    match datagram.get_mut(7) {
        Some(h) if *h > 1 => {
            *h -= 1;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::ip::addr::{rloc, REALM_LOCAL_ALL_ROUTERS};
    use crate::thread::ip::{build, parse};
    use proptest::prelude::*;

    const ML: [u8; 8] = [0xfd, 0, 0, 0, 0, 0, 0, 0];

    #[test]
    fn layouts_are_openthreads() {
        let s0 = MplOption {
            seed_id: None,
            max: false,
            sequence: 9,
        };
        assert_eq!(s0.header(17), [17, 0, 0x6d, 2, 0x00, 9, 1, 0]);
        let s1 = MplOption {
            seed_id: Some(0x0401),
            ..s0
        };
        assert_eq!(s1.header(17), [17, 0, 0x6d, 4, 0x40, 9, 0x04, 0x01]);
        let src = rloc(ML, 0x0c00);
        assert_eq!(s0.seed(&src), Some(0x0c00));
        assert_eq!(s1.seed(&src), Some(0x0401));
    }

    #[test]
    fn inserted_options_are_found_and_the_datagram_still_parses() {
        let src = rloc(ML, 0x0c00);
        let d = build(
            src,
            REALM_LOCAL_ALL_ROUTERS,
            proto::UDP,
            64,
            &[1, 2, 3, 4, 0, 8, 0, 0],
        );
        assert_eq!(find(&d).unwrap(), None);
        let o = MplOption {
            seed_id: None,
            max: true,
            sequence: 200,
        };
        let m = insert(&d, &o).unwrap();
        assert_eq!(find(&m).unwrap(), Some(o));
        let p = parse(&m).unwrap();
        assert_eq!((p.protocol, p.upper_at), (proto::UDP, 48));
        assert_eq!(&m[48..], &d[40..]);
        // Not twice.
        assert_eq!(insert(&m, &o), None);
        // V set, S = 2: refused.
        let mut v = m.clone();
        v[44] |= V_FLAG;
        assert!(find(&v).is_err());
        let mut s2 = m.clone();
        s2[44] = 2 << S_SHIFT;
        assert!(find(&s2).is_err());
    }

    #[test]
    fn hop_limit_stops_at_one() {
        let src = rloc(ML, 0x0c00);
        let mut d = build(src, REALM_LOCAL_ALL_ROUTERS, proto::UDP, 2, &[]);
        assert!(decrement_hop_limit(&mut d));
        assert!(!decrement_hop_limit(&mut d));
        assert_eq!(d[7], 1);
    }

    proptest! {
        #[test]
        fn options_round_trip(seed in proptest::option::of(any::<u16>()), max: bool, sequence: u8, n in 0usize..64) {
            let o = MplOption { seed_id: seed, max, sequence };
            let src = rloc(ML, 0x0400);
            let d = build(src, REALM_LOCAL_ALL_ROUTERS, proto::UDP, 64, &vec![7; n]);
            let m = insert(&d, &o).unwrap();
            prop_assert_eq!(find(&m).unwrap(), Some(o));
            prop_assert_eq!(parse(&m).unwrap().upper_at, 48);
        }

        #[test]
        fn any_hop_by_hop_header_is_read_without_panic(h in proptest::collection::vec(any::<u8>(), 0..40)) {
            let src = rloc(ML, 0x0400);
            let d = build(src, REALM_LOCAL_ALL_ROUTERS, proto::HOP_BY_HOP, 64, &h);
            let _ = find(&d);
        }
    }
}
