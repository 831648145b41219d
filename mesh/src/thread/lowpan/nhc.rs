//! LOWPAN_NHC encodings (RFC 6282 §4): UDP (§4.3, `11110 C P(2)`) and IPv6 extension
//! headers (§4.2, `1110 EID(3) NH`).

use crate::wire::{need, Error, Result, Wire};

/// UDP's IPv6 Next Header value.
pub const UDP: u8 = 17;

/// The extension header EIDs (RFC 6282 §4.2) and their IPv6 Next Header values.
pub const EID_PROTOCOLS: [(u8, u8); 6] = [
    (0, 0),   // IPv6 Hop-by-Hop Options
    (1, 43),  // IPv6 Routing
    (2, 44),  // IPv6 Fragment
    (3, 60),  // IPv6 Destination Options
    (4, 135), // IPv6 Mobility
    (7, 41),  // IPv6 (the encapsulated header is IPHC-compressed)
];

/// The EID of the IPv6 header (RFC 6282 §4.2): the next octets are an IPHC header.
pub const EID_IPV6: u8 = 7;

pub fn eid_to_protocol(eid: u8) -> Option<u8> {
    EID_PROTOCOLS
        .iter()
        .find(|(e, _)| *e == eid)
        .map(|(_, p)| *p)
}

pub fn protocol_to_eid(p: u8) -> Option<u8> {
    EID_PROTOCOLS.iter().find(|(_, q)| *q == p).map(|(e, _)| *e)
}

/// The UDP header compressed (RFC 6282 §4.3.3). `ports` holds the P bits: 0 both in-line,
/// 1 destination `0xf0XX`, 2 source `0xf0XX`, 3 both `0xf0bX`. The length is always elided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpNhc {
    pub ports: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// `None` when C = 1: elided, to be recomputed by the decompressor.
    pub checksum: Option<u16>,
}

impl UdpNhc {
    /// The most compact port encoding for these ports.
    pub fn new(src_port: u16, dst_port: u16, checksum: Option<u16>) -> Self {
        let short4 = |p: u16| p & 0xfff0 == 0xf0b0;
        let short8 = |p: u16| p & 0xff00 == 0xf000;
        let ports = if short4(src_port) && short4(dst_port) {
            3
        } else if short8(dst_port) {
            1
        } else if short8(src_port) {
            2
        } else {
            0
        };
        UdpNhc {
            ports,
            src_port,
            dst_port,
            checksum,
        }
    }

    pub fn parse_prefix(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 1)?;
        if b[0] & 0xf8 != 0xf0 {
            return Err(Error::Invalid {
                field: "UDP NHC dispatch (11110xxx)",
                value: b[0] as u32,
            });
        }
        let ports = b[0] & 3;
        let elided = b[0] & 4 != 0;
        let plen = [4, 3, 3, 1][ports as usize];
        let len = 1 + plen + if elided { 0 } else { 2 };
        need(b, len)?;
        let p = &b[1..];
        let (src_port, dst_port) = match ports {
            0 => (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            ),
            1 => (u16::from_be_bytes([p[0], p[1]]), 0xf000 | p[2] as u16),
            2 => (0xf000 | p[0] as u16, u16::from_be_bytes([p[1], p[2]])),
            _ => (0xf0b0 | (p[0] >> 4) as u16, 0xf0b0 | (p[0] & 0x0f) as u16),
        };
        let checksum = (!elided).then(|| u16::from_be_bytes([b[1 + plen], b[2 + plen]]));
        Ok((
            UdpNhc {
                ports,
                src_port,
                dst_port,
                checksum,
            },
            len,
        ))
    }
}

impl Wire for UdpNhc {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let (h, n) = Self::parse_prefix(bytes)?;
        if n != bytes.len() {
            return Err(Error::TooLong {
                max: n,
                got: bytes.len(),
            });
        }
        Ok(h)
    }
    fn buffer_len(&self) -> usize {
        1 + [4, 3, 3, 1][(self.ports & 3) as usize] + if self.checksum.is_some() { 2 } else { 0 }
    }
    fn emit(&self, b: &mut [u8]) {
        b[0] = 0xf0 | if self.checksum.is_none() { 4 } else { 0 } | (self.ports & 3);
        let (s, d) = (self.src_port.to_be_bytes(), self.dst_port.to_be_bytes());
        let n = match self.ports & 3 {
            0 => {
                b[1..5].copy_from_slice(&[s[0], s[1], d[0], d[1]]);
                4
            }
            1 => {
                b[1..4].copy_from_slice(&[s[0], s[1], d[1]]);
                3
            }
            2 => {
                b[1..4].copy_from_slice(&[s[1], d[0], d[1]]);
                3
            }
            _ => {
                b[1] = (s[1] << 4) | (d[1] & 0x0f);
                1
            }
        };
        if let Some(c) = self.checksum {
            b[1 + n..3 + n].copy_from_slice(&c.to_be_bytes());
        }
    }
}

/// An IPv6 extension header compressed (RFC 6282 §4.2): `1110 EID NH`, the Next Header when
/// NH = 0, the Length (octets of header data), and the data (the header without its Next
/// Header and Hdr Ext Len octets, trailing padding possibly elided). For EID 7 only the first
/// octet is present: an IPHC header follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtHeaderNhc {
    pub eid: u8,
    /// The in-line Next Header; `None` when NH = 1 (another NHC follows).
    pub next_header: Option<u8>,
    pub data: Vec<u8>,
}

impl ExtHeaderNhc {
    pub fn parse_prefix(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 1)?;
        if b[0] & 0xf0 != 0xe0 {
            return Err(Error::Invalid {
                field: "extension header NHC dispatch (1110xxxx)",
                value: b[0] as u32,
            });
        }
        let eid = (b[0] >> 1) & 7;
        if eid_to_protocol(eid).is_none() {
            return Err(Error::Invalid {
                field: "extension header EID (5 and 6 are reserved)",
                value: eid as u32,
            });
        }
        if eid == EID_IPV6 {
            return Ok((
                ExtHeaderNhc {
                    eid,
                    next_header: None,
                    data: Vec::new(),
                },
                1,
            ));
        }
        let nh = b[0] & 1 != 0;
        let mut at = 1;
        let next_header = if nh {
            None
        } else {
            need(b, 2)?;
            at = 2;
            Some(b[1])
        };
        need(b, at + 1)?;
        let len = b[at] as usize;
        at += 1;
        need(b, at + len)?;
        Ok((
            ExtHeaderNhc {
                eid,
                next_header,
                data: b[at..at + len].to_vec(),
            },
            at + len,
        ))
    }
}

impl Wire for ExtHeaderNhc {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let (h, n) = Self::parse_prefix(bytes)?;
        if n != bytes.len() {
            return Err(Error::TooLong {
                max: n,
                got: bytes.len(),
            });
        }
        Ok(h)
    }
    fn buffer_len(&self) -> usize {
        if self.eid == EID_IPV6 {
            1
        } else {
            2 + self.next_header.is_some() as usize + self.data.len()
        }
    }
    fn emit(&self, b: &mut [u8]) {
        b[0] = 0xe0 | ((self.eid & 7) << 1);
        if self.eid == EID_IPV6 {
            return;
        }
        let mut at = 1;
        match self.next_header {
            Some(nh) => {
                b[1] = nh;
                at = 2;
            }
            None => b[0] |= 1,
        }
        b[at] = self.data.len() as u8;
        b[at + 1..at + 1 + self.data.len()].copy_from_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_port_compression() {
        // MLE's port 19788 (0x4d4c) in-line both ways, checksum in-line.
        let u = UdpNhc::new(19788, 19788, Some(0x1234));
        assert_eq!(u.ports, 0);
        assert_eq!(u.to_vec(), [0xf0, 0x4d, 0x4c, 0x4d, 0x4c, 0x12, 0x34]);
        // 0xf0b1 -> 0xf0b2, checksum elided: one octet of ports.
        let u = UdpNhc::new(0xf0b1, 0xf0b2, None);
        assert_eq!(u.to_vec(), [0xf7, 0x12]);
        assert_eq!(UdpNhc::parse(&[0xf7, 0x12]).unwrap(), u);
        let u = UdpNhc::new(5683, 0xf0aa, Some(0));
        assert_eq!(u.ports, 1);
        assert_eq!(UdpNhc::parse(&u.to_vec()).unwrap(), u);
    }

    #[test]
    fn ext_header_eids() {
        let h = ExtHeaderNhc {
            eid: 0,
            next_header: None,
            data: vec![0x6d, 0x04, 0x40, 0x00, 0x01, 0x02],
        };
        let v = h.to_vec();
        assert_eq!(&v[..2], &[0xe1, 6]);
        assert_eq!(ExtHeaderNhc::parse(&v).unwrap(), h);
        assert!(matches!(
            ExtHeaderNhc::parse(&[0xea]),
            Err(Error::Invalid { .. })
        ));
        assert_eq!(ExtHeaderNhc::parse(&[0xee]).unwrap().eid, EID_IPV6);
    }
}
