//! The transmit path: an IPv6 datagram to the 6LoWPAN payloads of 802.15.4 frames. The
//! datagram is compressed with IPHC/NHC (RFC 6282, [`crate::thread::lowpan::compress`]); when
//! it does not fit one frame it is fragmented (RFC 4944 §5.3: FRAG1 carries the compressed
//! headers and the start of the payload, each FRAGN the next piece at an offset in units of 8
//! octets of the uncompressed datagram, all under one datagram_tag); a mesh header (RFC 4944
//! §5.2) precedes every fragment when the datagram travels over several hops. Under a mesh
//! header, IPHC elides addresses against its originator and final destination (RFC 4944 §11).

use crate::thread::lowpan::{
    compress, decompress_headers, Contexts, FragHeader, LinkAddresses, MeshHeader, FRAG1_LEN,
    FRAGN_LEN,
};
use crate::wire::{Error, Wire};

/// Largest PSDU (IEEE 802.15.4-2015 §8.1.1, aMaxPhyPacketSize).
pub const MAX_PSDU: usize = 127;
/// The FCS length (IEEE 802.15.4-2015 §7.2.10).
pub const FCS_LEN: usize = 2;
/// Largest datagram_size a fragment header carries (RFC 4944 §5.3: 11 bits).
pub const MAX_DATAGRAM: usize = 0x7ff;

/// The room for the 6LoWPAN payload in a frame with a MAC header (and auxiliary security
/// header) of `mac_header_len` octets and a MIC of `mic_len`.
pub fn room(mac_header_len: usize, mic_len: usize) -> usize {
    MAX_PSDU.saturating_sub(mac_header_len + mic_len + FCS_LEN)
}

/// How a datagram goes onto the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTx {
    /// The MAC source and destination of this hop.
    pub ll: LinkAddresses,
    /// The mesh header when the datagram is sent towards a final destination over several
    /// hops.
    pub mesh: Option<MeshHeader>,
    /// The room for the 6LoWPAN payload in one frame (see [`room`]).
    pub max_payload: usize,
}

/// Why a datagram could not be put into frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("the datagram does not compress: {0}")]
    Compress(Error),
    #[error("a {0}-octet datagram is beyond the 2047 octets a fragment header can carry")]
    TooLarge(usize),
    #[error(
        "{room} octets per frame cannot carry the {need} octets of fragment and compressed headers"
    )]
    NoRoom { room: usize, need: usize },
}

/// Counters of the transmit path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxStats {
    pub datagrams: u64,
    pub fragmented: u64,
    pub frames: u64,
}

/// The transmit path's state: the next datagram_tag.
#[derive(Debug, Clone)]
pub struct Fragmenter {
    next_tag: u16,
    stats: TxStats,
}

impl Fragmenter {
    /// Starts with datagram_tag `first_tag` (a node picks it at random so that tags differ
    /// after a restart).
    pub fn new(first_tag: u16) -> Self {
        Fragmenter {
            next_tag: first_tag,
            stats: TxStats::default(),
        }
    }

    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// The frame payloads that carry `datagram`, in order.
    pub fn frame_payloads(
        &mut self,
        datagram: &[u8],
        ctx: &Contexts,
        link: &LinkTx,
    ) -> Result<Vec<Vec<u8>>, TxError> {
        let iphc_ll = match &link.mesh {
            Some(m) => LinkAddresses {
                src: m.originator,
                dst: m.final_destination,
            },
            None => link.ll,
        };
        let c = compress(datagram, &iphc_ll, ctx).map_err(TxError::Compress)?;
        let mesh = link.mesh.as_ref().map(Wire::to_vec).unwrap_or_default();
        self.stats.datagrams += 1;
        if mesh.len() + c.len() <= link.max_payload {
            self.stats.frames += 1;
            return Ok(vec![[mesh, c].concat()]);
        }
        if datagram.len() > MAX_DATAGRAM {
            return Err(TxError::TooLarge(datagram.len()));
        }
        // The compressed headers, and the uncompressed length they stand for.
        let h = decompress_headers(&c, &iphc_ll, ctx).map_err(TxError::Compress)?;
        let (clen, ulen) = (h.consumed, h.bytes.len());
        let payload = &c[clen..];
        if datagram.get(ulen..) != Some(payload) {
            // What follows the compressed headers is the datagram's own rest (RFC 6282 §3).
            return Err(TxError::Compress(Error::Invalid {
                field: "compressed headers do not precede the datagram's payload",
                value: clen as u32,
            }));
        }
        let need = mesh.len() + FRAG1_LEN + clen;
        let room1 = link.max_payload.saturating_sub(need);
        // FRAG1 carries payload up to an uncompressed offset that is a multiple of 8.
        let first_end = ((ulen + room1) / 8 * 8).min(datagram.len());
        let roomn = link.max_payload.saturating_sub(mesh.len() + FRAGN_LEN) / 8 * 8;
        if link.max_payload < need || first_end < ulen || roomn == 0 {
            return Err(TxError::NoRoom {
                room: link.max_payload,
                need: need.max(mesh.len() + FRAGN_LEN + 8),
            });
        }
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let size = datagram.len() as u16;
        let mut frames = Vec::new();
        let frag1 = FragHeader {
            size,
            tag,
            offset: None,
        };
        frames.push(
            [
                &mesh[..],
                &frag1.to_vec(),
                &c[..clen],
                &datagram[ulen..first_end],
            ]
            .concat(),
        );
        let mut at = first_end;
        while at < datagram.len() {
            let end = (at + roomn).min(datagram.len());
            let fragn = FragHeader {
                size,
                tag,
                offset: Some((at / 8) as u8),
            };
            frames.push([&mesh[..], &fragn.to_vec(), &datagram[at..end]].concat());
            at = end;
        }
        self.stats.fragmented += 1;
        self.stats.frames += frames.len() as u64;
        Ok(frames)
    }
}

#[cfg(test)]
#[path = "tx_tests.rs"]
mod tests;
