//! Address (de)compression context (RFC 6282 §3.1.1, §3.2): the link-layer addresses of the
//! frame, the contexts (Thread's network data assigns context 0 to the mesh-local prefix),
//! and interface identifiers derived from link-layer addresses (RFC 4944 §6, RFC 6282
//! §3.2.2).

use std::net::Ipv6Addr;

use crate::thread::mac::Address;
use crate::wire::{Error, Result};

/// The link-layer source and destination of the frame a datagram travels in (or, under a
/// mesh header, its originator and final destination, RFC 4944 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddresses {
    pub src: Address,
    pub dst: Address,
}

/// One compression context: a prefix of `prefix_len` bits (up to 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub prefix: [u8; 16],
    pub prefix_len: u8,
}

impl Context {
    pub fn new(prefix: Ipv6Addr, prefix_len: u8) -> Self {
        Context {
            prefix: prefix.octets(),
            prefix_len: prefix_len.min(128),
        }
    }

    /// Overlays the context's prefix bits on `addr` (RFC 6282 §3.1.1: "bits covered by
    /// context information are always used").
    pub fn apply(&self, addr: &mut [u8; 16]) {
        let bits = self.prefix_len as usize;
        for (i, a) in addr.iter_mut().enumerate() {
            let covered = bits.saturating_sub(i * 8).min(8);
            let mask = (0xffu16 << (8 - covered)) as u8;
            *a = (*a & !mask) | (self.prefix[i] & mask);
        }
    }

    /// Whether `addr` starts with this context's prefix.
    pub fn matches(&self, addr: &[u8; 16]) -> bool {
        let mut a = *addr;
        self.apply(&mut a);
        a == *addr
    }
}

/// The contexts in force, by Context Identifier (0-15, RFC 6282 §3.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contexts(pub [Option<Context>; 16]);

impl Contexts {
    pub fn new() -> Self {
        Contexts::default()
    }
    pub fn with(mut self, id: u8, ctx: Context) -> Self {
        self.0[(id & 15) as usize] = Some(ctx);
        self
    }
    pub fn get(&self, id: u8) -> Result<&Context> {
        self.0[(id & 15) as usize].as_ref().ok_or(Error::Invalid {
            field: "context identifier (no such context)",
            value: id as u32,
        })
    }
}

/// The IID for a short address: `0000:00ff:fe00:XXXX` (RFC 4944 §6).
pub(crate) fn short_iid(s: u16) -> [u8; 8] {
    let [h, l] = s.to_be_bytes();
    [0, 0, 0, 0xff, 0xfe, 0, h, l]
}

/// The IID derived from a link-layer address (RFC 4944 §6; RFC 6282 §3.2.2): an extended
/// address with its Universal/Local bit inverted, or the short address mapping.
pub(crate) fn iid_from_link(a: &Address) -> Result<[u8; 8]> {
    match a {
        Address::Extended(e) => {
            let mut i = e.0;
            i[0] ^= 0x02;
            Ok(i)
        }
        Address::Short(s) => Ok(short_iid(*s)),
        Address::None => Err(Error::Invalid {
            field: "address elided but the frame has no link-layer address to derive it from",
            value: 0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::mac::ExtAddress;

    #[test]
    fn context_overlays_prefix_bits() {
        let c = Context::new("fd00:db8:0:0:1234::".parse().unwrap(), 72);
        let mut a = [0xaau8; 16];
        c.apply(&mut a);
        assert_eq!(&a[..9], &[0xfd, 0, 0x0d, 0xb8, 0, 0, 0, 0, 0x12]);
        assert_eq!(&a[9..], &[0xaa; 7]);
        assert!(c.matches(&a));
    }

    #[test]
    fn iids() {
        let e = Address::Extended(ExtAddress([0x00, 0x35, 0xcc, 0x94, 0xd7, 0x7a, 0x07, 0xe8]));
        assert_eq!(
            iid_from_link(&e).unwrap(),
            [0x02, 0x35, 0xcc, 0x94, 0xd7, 0x7a, 0x07, 0xe8]
        );
        assert_eq!(
            iid_from_link(&Address::Short(0x0400)).unwrap(),
            [0, 0, 0, 0xff, 0xfe, 0, 4, 0]
        );
        assert!(iid_from_link(&Address::None).is_err());
    }
}
