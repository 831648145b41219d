//! The mesh addressing header (RFC 4944 §5.2, figure 3): `10 V F HopsLeft(4)`, then the
//! originator and final destination addresses (V/F = 0: 64-bit, 1: 16-bit). A Hops Left of
//! 0xF is followed by an 8-bit Deep Hops Left (RFC 8025 §2), as OpenThread sends.

use crate::thread::mac::{Address, ExtAddress};
use crate::wire::{need, Error, Result, Wire};

/// Hops Left value that announces a Deep Hops Left octet (RFC 8025 §2).
pub const DEEP_HOPS_LEFT: u8 = 0x0f;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshHeader {
    pub hops_left: u8,
    /// Originator address (never [`Address::None`]).
    pub originator: Address,
    /// Final destination address (never [`Address::None`]).
    pub final_destination: Address,
}

fn read(short: bool, b: &[u8]) -> (Address, usize) {
    if short {
        (Address::Short(u16::from_be_bytes([b[0], b[1]])), 2)
    } else {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        (Address::Extended(ExtAddress(a)), 8)
    }
}

fn write(a: &Address, b: &mut [u8]) -> usize {
    // RFC 4944 carries link-layer addresses in the mesh header in network (big endian) order.
    match a {
        Address::Short(s) => {
            b[..2].copy_from_slice(&s.to_be_bytes());
            2
        }
        Address::Extended(e) => {
            b[..8].copy_from_slice(&e.0);
            8
        }
        Address::None => 0,
    }
}

impl MeshHeader {
    /// Parses a mesh header at the start of `b`; returns it and its length.
    pub fn parse_prefix(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 1)?;
        let d = b[0];
        if d >> 6 != 0b10 {
            return Err(Error::Invalid {
                field: "mesh header dispatch (10xxxxxx)",
                value: d as u32,
            });
        }
        let v_short = d & 0x20 != 0;
        let f_short = d & 0x10 != 0;
        let mut at = 1;
        let mut hops_left = d & 0x0f;
        if hops_left == DEEP_HOPS_LEFT {
            need(b, 2)?;
            hops_left = b[1];
            at = 2;
        }
        let alen = |s| if s { 2 } else { 8 };
        need(b, at + alen(v_short) + alen(f_short))?;
        let (originator, n) = read(v_short, &b[at..]);
        at += n;
        let (final_destination, n) = read(f_short, &b[at..]);
        at += n;
        Ok((
            MeshHeader {
                hops_left,
                originator,
                final_destination,
            },
            at,
        ))
    }
}

impl Wire for MeshHeader {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let (m, n) = Self::parse_prefix(bytes)?;
        if n != bytes.len() {
            return Err(Error::TooLong {
                max: n,
                got: bytes.len(),
            });
        }
        Ok(m)
    }

    fn buffer_len(&self) -> usize {
        let a = |a: &Address| if matches!(a, Address::Short(_)) { 2 } else { 8 };
        1 + (self.hops_left >= DEEP_HOPS_LEFT) as usize
            + a(&self.originator)
            + a(&self.final_destination)
    }

    fn emit(&self, b: &mut [u8]) {
        let short = |a: &Address| matches!(a, Address::Short(_)) as u8;
        let deep = self.hops_left >= DEEP_HOPS_LEFT;
        b[0] = 0x80
            | (short(&self.originator) << 5)
            | (short(&self.final_destination) << 4)
            | if deep { DEEP_HOPS_LEFT } else { self.hops_left };
        let mut at = 1;
        if deep {
            b[1] = self.hops_left;
            at = 2;
        }
        // `Address::None` is written as an extended address of zeros so emit never panics.
        let fill = |a: &Address| match a {
            Address::None => Address::Extended(ExtAddress([0; 8])),
            a => *a,
        };
        at += write(&fill(&self.originator), &mut b[at..]);
        write(&fill(&self.final_destination), &mut b[at..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_addresses_and_deep_hops() {
        // 10 1 1 1110: V=1 F=1 hops 14; originator 0x0400, final 0x0800.
        let b = [0xbe, 0x04, 0x00, 0x08, 0x00];
        let m = MeshHeader::parse(&b).unwrap();
        assert_eq!(m.hops_left, 14);
        assert_eq!(m.originator, Address::Short(0x0400));
        assert_eq!(m.final_destination, Address::Short(0x0800));
        assert_eq!(m.to_vec(), b);
        let deep = MeshHeader {
            hops_left: 200,
            ..m
        };
        let v = deep.to_vec();
        assert_eq!(&v[..2], &[0xbf, 200]);
        assert_eq!(MeshHeader::parse(&v).unwrap(), deep);
        assert!(matches!(
            MeshHeader::parse(&[0x80, 1, 2]),
            Err(Error::Truncated { .. })
        ));
    }
}
