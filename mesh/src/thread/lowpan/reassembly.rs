//! Reassembly of fragmented datagrams (RFC 4944 §5.3), bounded and sans-IO: fragments are
//! keyed by (link-layer source, datagram_size, datagram_tag); at most
//! [`ReassemblyLimits::max_datagrams`] datagrams and [`ReassemblyLimits::max_bytes`] octets
//! are held; a datagram not complete within [`ReassemblyLimits::timeout`] (RFC 4944: at most
//! 60 s) of its first fragment is dropped. Time is passed in. Overlapping fragments that
//! differ in offset or size discard what was accumulated (RFC 4944 §5.3); an exact duplicate
//! is ignored.

use super::address::{Contexts, LinkAddresses};
use super::datagram::{decompress_headers, DecompressedHeaders};
use super::frag::FragHeader;
use super::IPV6_DISPATCH;
use crate::thread::mac::Address;
use crate::time::{Duration, Instant};
use crate::wire::{Error, Result};

/// Bounds of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_datagrams: 4,
            max_bytes: 4 * 1280,
            // RFC 4944 §5.3: a reassembly timeout of at most 60 seconds.
            timeout: Duration::from_secs(60),
        }
    }
}

/// What a [`Reassembler`] dropped and delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReassemblyStats {
    pub completed: u64,
    /// Datagrams (first fragments of) refused because the buffers were full.
    pub overflows: u64,
    pub timed_out: u64,
    /// Datagrams discarded for an overlapping fragment, one past its size, or undecodable
    /// headers.
    pub discarded: u64,
    pub duplicates: u64,
}

#[derive(Debug)]
struct Pending {
    src: Address,
    size: u16,
    tag: u16,
    started: Instant,
    buf: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    headers: Option<DecompressedHeaders>,
}

impl Pending {
    fn received(&self) -> usize {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }
}

/// Reassembles fragmented 6LoWPAN datagrams into IPv6 datagrams.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    pending: Vec<Pending>,
    stats: ReassemblyStats,
}

impl Reassembler {
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            pending: Vec::new(),
            stats: ReassemblyStats::default(),
        }
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn held_bytes(&self) -> usize {
        self.pending.iter().map(|p| p.buf.len()).sum()
    }

    /// When the oldest datagram times out.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .iter()
            .map(|p| p.started + self.limits.timeout)
            .min()
    }

    /// Drops the datagrams whose time is up.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.limits.timeout;
        let before = self.pending.len();
        self.pending
            .retain(|p| now.saturating_since(p.started) < timeout);
        self.stats.timed_out += (before - self.pending.len()) as u64;
    }

    /// Takes one fragment: `frag` its header, `data` what follows it (for the first
    /// fragment, the compressed headers and the start of the payload). Returns the IPv6
    /// datagram when this fragment completes it.
    pub fn push(
        &mut self,
        now: Instant,
        ll: &LinkAddresses,
        ctx: &Contexts,
        frag: FragHeader,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        self.handle_timeout(now);
        let size = frag.size as usize;
        if size == 0 {
            return Err(Error::Invalid {
                field: "datagram_size 0",
                value: 0,
            });
        }
        // The piece of the uncompressed datagram this fragment carries.
        let (piece, headers) = if frag.offset.is_none() {
            if data.first() == Some(&IPV6_DISPATCH) {
                (data[1..].to_vec(), None)
            } else {
                let h = decompress_headers(data, ll, ctx)?;
                let mut v = h.bytes.clone();
                v.extend_from_slice(&data[h.consumed..]);
                (v, Some(h))
            }
        } else {
            (data.to_vec(), None)
        };
        let start = frag.offset_octets();
        let end = start + piece.len();
        let idx = self
            .pending
            .iter()
            .position(|p| p.src == ll.src && p.size == frag.size && p.tag == frag.tag);
        if end > size || piece.is_empty() {
            if let Some(i) = idx {
                self.pending.swap_remove(i);
            }
            self.stats.discarded += 1;
            return Err(Error::Invalid {
                field: "fragment beyond datagram_size (or empty)",
                value: end as u32,
            });
        }
        let idx = match idx {
            Some(i) if self.pending[i].ranges.contains(&(start, end)) => {
                self.stats.duplicates += 1;
                return Ok(None);
            }
            Some(i)
                if self.pending[i]
                    .ranges
                    .iter()
                    .any(|&(s, e)| start < e && s < end) =>
            {
                // RFC 4944 §5.3: discard what was accumulated; this fragment starts anew.
                self.pending.swap_remove(i);
                self.stats.discarded += 1;
                None
            }
            other => other,
        };
        let i = match idx {
            Some(i) => i,
            None => {
                if self.pending.len() >= self.limits.max_datagrams
                    || self.held_bytes() + size > self.limits.max_bytes
                {
                    self.stats.overflows += 1;
                    return Ok(None);
                }
                self.pending.push(Pending {
                    src: ll.src,
                    size: frag.size,
                    tag: frag.tag,
                    started: now,
                    buf: vec![0; size],
                    ranges: Vec::new(),
                    headers: None,
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[i];
        p.buf[start..end].copy_from_slice(&piece);
        p.ranges.push((start, end));
        if headers.is_some() {
            p.headers = headers;
        }
        if p.received() < size {
            return Ok(None);
        }
        let mut p = self.pending.swap_remove(i);
        if let Some(h) = &p.headers {
            h.finish(&mut p.buf);
        }
        self.stats.completed += 1;
        Ok(Some(p.buf))
    }
}

#[cfg(test)]
#[path = "reassembly_tests.rs"]
mod tests;
