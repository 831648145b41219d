//! The fragment headers (RFC 4944 §5.3, figures 4 and 5): FRAG1 `11000 size(11) tag(16)` and
//! FRAGN `11100 size(11) tag(16) offset(8)`, the offset in units of 8 octets of the
//! uncompressed datagram.

use crate::wire::{need, Error, Result, Wire};

/// Length of a first fragment header.
pub const FRAG1_LEN: usize = 4;
/// Length of a subsequent fragment header.
pub const FRAGN_LEN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragHeader {
    /// datagram_size: the size of the uncompressed IPv6 datagram (11 bits).
    pub size: u16,
    /// datagram_tag.
    pub tag: u16,
    /// datagram_offset in 8-octet units; `None` for the first fragment (FRAG1).
    pub offset: Option<u8>,
}

impl FragHeader {
    /// Parses a fragment header at the start of `b`; returns it and its length.
    pub fn parse_prefix(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 1)?;
        let first = match b[0] >> 3 {
            0b11000 => true,
            0b11100 => false,
            _ => {
                return Err(Error::Invalid {
                    field: "fragment header dispatch (11000 or 11100)",
                    value: b[0] as u32,
                })
            }
        };
        let len = if first { FRAG1_LEN } else { FRAGN_LEN };
        need(b, len)?;
        let h = FragHeader {
            size: u16::from_be_bytes([b[0] & 7, b[1]]),
            tag: u16::from_be_bytes([b[2], b[3]]),
            offset: (!first).then(|| b[4]),
        };
        Ok((h, len))
    }
    /// The offset in octets.
    pub fn offset_octets(&self) -> usize {
        self.offset.map_or(0, |o| o as usize * 8)
    }
}

impl Wire for FragHeader {
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
        if self.offset.is_some() {
            FRAGN_LEN
        } else {
            FRAG1_LEN
        }
    }
    fn emit(&self, b: &mut [u8]) {
        let d = if self.offset.is_some() { 0xe0 } else { 0xc0 };
        b[0] = d | ((self.size >> 8) as u8 & 7);
        b[1] = self.size as u8;
        b[2..4].copy_from_slice(&self.tag.to_be_bytes());
        if let Some(o) = self.offset {
            b[4] = o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frag1_and_fragn() {
        // RFC 4944 figure 4: size 307 (0x133), tag 0x003f.
        let f = FragHeader::parse(&[0xc1, 0x33, 0x00, 0x3f]).unwrap();
        assert_eq!((f.size, f.tag, f.offset), (307, 0x3f, None));
        let n = FragHeader::parse(&[0xe1, 0x33, 0x00, 0x3f, 0x11]).unwrap();
        assert_eq!(n.offset_octets(), 136);
        assert_eq!(n.to_vec(), [0xe1, 0x33, 0x00, 0x3f, 0x11]);
        assert!(FragHeader::parse(&[0x41]).is_err());
    }
}
