//! 6LoWPAN (RFC 4944, RFC 6282, RFC 8025's deep hops left) as Thread uses it: the mesh header
//! (RFC 4944 §5.2), the fragment headers (RFC 4944 §5.3) with a bounded [`Reassembler`], IPHC
//! (RFC 6282 §3) and the NHC encodings of UDP and the IPv6 extension headers (RFC 6282 §4),
//! with stateless and context-based address (de)compression from the link-layer addresses.
//!
//! smoltcp's `wire::sixlowpan` is not used: it decodes a context-based 16-bit address without
//! its `0000:00ff:fe00` middle (every Thread RLOC and ALOC is sent so), supports only 64-bit
//! contexts and has no mesh header.

mod address;
mod datagram;
mod frag;
mod iphc;
mod mesh;
mod nhc;
mod reassembly;

pub use address::{Context, Contexts, LinkAddresses};
pub use datagram::{
    compress, decompress, decompress_headers, decompress_into, udp_checksum, DecompressedHeaders,
    Ipv6Header,
};
pub use frag::{FragHeader, FRAG1_LEN, FRAGN_LEN};
pub use iphc::{HopLimit, Iphc, TrafficFlow, IPHC_DISPATCH};
pub use mesh::MeshHeader;
pub use nhc::{ExtHeaderNhc, UdpNhc};
pub use reassembly::{Reassembler, ReassemblyLimits, ReassemblyStats};

use crate::wire::{Error, Result, Wire};

/// The uncompressed IPv6 dispatch (RFC 4944 §5.1): an IPv6 header follows as is.
pub const IPV6_DISPATCH: u8 = 0x41;

/// The headers that precede the IPv6 datagram (or its fragment) in a MAC payload, in the
/// order RFC 4944 §5 requires: mesh, then fragment; `rest` is the IPHC-compressed (or
/// uncompressed, dispatch 0x41) datagram or the fragment's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowpanFrame {
    pub mesh: Option<MeshHeader>,
    pub frag: Option<FragHeader>,
    pub rest: Vec<u8>,
}

impl LowpanFrame {
    /// The mesh and fragment headers at the start of `b`, and the offset of the rest, without
    /// copying it.
    pub fn parse_headers(b: &[u8]) -> Result<(Option<MeshHeader>, Option<FragHeader>, usize)> {
        let mut at = 0;
        let mesh = if b.first().is_some_and(|d| d >> 6 == 0b10) {
            let (m, n) = MeshHeader::parse_prefix(b)?;
            at += n;
            Some(m)
        } else {
            None
        };
        let frag = match b.get(at) {
            Some(d) if d >> 3 == 0b11000 || d >> 3 == 0b11100 => {
                let (f, n) = FragHeader::parse_prefix(&b[at..])?;
                at += n;
                Some(f)
            }
            Some(_) => None,
            None => {
                return Err(Error::Truncated {
                    need: at + 1,
                    got: b.len(),
                })
            }
        };
        Ok((mesh, frag, at))
    }
}

impl Wire for LowpanFrame {
    fn parse(b: &[u8]) -> Result<Self> {
        let (mesh, frag, at) = LowpanFrame::parse_headers(b)?;
        Ok(LowpanFrame {
            mesh,
            frag,
            rest: b[at..].to_vec(),
        })
    }

    fn buffer_len(&self) -> usize {
        self.mesh.as_ref().map_or(0, Wire::buffer_len)
            + self.frag.as_ref().map_or(0, Wire::buffer_len)
            + self.rest.len()
    }

    fn emit(&self, b: &mut [u8]) {
        let mut at = 0;
        if let Some(m) = &self.mesh {
            m.emit(b);
            at += m.buffer_len();
        }
        if let Some(f) = &self.frag {
            f.emit(&mut b[at..]);
            at += f.buffer_len();
        }
        b[at..at + self.rest.len()].copy_from_slice(&self.rest);
    }
}

#[cfg(test)]
mod proptests;

/// Calls every parser of this module on `data`, and feeds it to a reassembler; for the fuzzer
/// and the random-input tests.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    use crate::thread::mac::{Address, ExtAddress};
    use crate::time::Instant;
    let ll = LinkAddresses {
        src: Address::Extended(ExtAddress([1, 2, 3, 4, 5, 6, 7, 8])),
        dst: Address::Short(0x0400),
    };
    let ctx = Contexts::new().with(
        0,
        Context::new(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].into(),
            64,
        ),
    );
    if let Ok(h) = Iphc::parse(data) {
        assert_eq!(Iphc::parse(&h.to_vec()), Ok(h));
    }
    let _ = UdpNhc::parse(data);
    let _ = ExtHeaderNhc::parse(data);
    let Ok(f) = LowpanFrame::parse(data) else {
        return;
    };
    assert_eq!(LowpanFrame::parse(&f.to_vec()).as_ref(), Ok(&f));
    match f.frag {
        None => {
            if let Ok(p) = decompress(&f.rest, &ll, &ctx) {
                // What decompresses compresses and decompresses to the same datagram.
                let c = compress(&p, &ll, &ctx).expect("a decompressed datagram compresses");
                assert_eq!(decompress(&c, &ll, &ctx).as_ref(), Ok(&p));
            }
        }
        Some(h) => {
            let mut r = Reassembler::new(ReassemblyLimits::default());
            let _ = r.push(Instant::ZERO, &ll, &ctx, h, &f.rest);
            // A second, later copy at offset 0 exercises overlap and timeout handling.
            let first = FragHeader { offset: None, ..h };
            let _ = r.push(Instant::from_micros(1 << 30), &ll, &ctx, first, &f.rest);
        }
    }
}
