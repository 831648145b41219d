//! Allocations of earlier reports, kept for the next ones: a decoder that is handed its last
//! report back ([`super::ThreadSniffer::decode_into`]) takes its strings and vectors apart
//! instead of freeing them, and builds the next report in them. Bounded: at most
//! [`MAX_SPARE`] of each kind are kept.

use super::report::{DecodedFrame, HexBytes, IeInfo};
use super::tlv_info::TlvInfo;
use crate::thread::mle::Tlv;

/// The most allocations of each kind kept.
pub const MAX_SPARE: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct Spare {
    strings: Vec<String>,
    bytes: Vec<Vec<u8>>,
    ies: Vec<Vec<IeInfo>>,
    tlv_infos: Vec<Vec<TlvInfo>>,
    tlvs: Vec<Vec<Tlv>>,
}

/// A spare allocation of at least `need` octets when there is one (so a short one is not
/// grown while a long one waits), else any.
fn fitting<T: Default>(pool: &mut Vec<T>, need: usize, cap: impl Fn(&T) -> usize) -> T {
    match pool.iter().position(|t| cap(t) >= need) {
        Some(i) => pool.swap_remove(i),
        None => pool.pop().unwrap_or_default(),
    }
}

fn keep<T>(pool: &mut Vec<T>, t: T) {
    if pool.len() < MAX_SPARE {
        pool.push(t);
    }
}

impl Spare {
    /// An empty string of at least `need` octets' capacity, reused when one is spare.
    pub fn string(&mut self, need: usize) -> String {
        fitting(&mut self.strings, need, String::capacity)
    }

    /// `x` as 4 lowercase hex digits in a spare string.
    pub fn hex16(&mut self, x: u16) -> String {
        self.hex(&x.to_be_bytes())
    }

    /// Lowercase hex of `b` in a spare string.
    pub fn hex(&mut self, b: &[u8]) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = self.string(2 * b.len());
        s.reserve(2 * b.len());
        for &x in b {
            s.push(DIGITS[(x >> 4) as usize] as char);
            s.push(DIGITS[(x & 15) as usize] as char);
        }
        s
    }

    /// A copy of `b` in a spare vector.
    pub fn bytes(&mut self, b: &[u8]) -> HexBytes {
        let mut v = fitting(&mut self.bytes, b.len(), Vec::capacity);
        v.extend_from_slice(b);
        HexBytes(v)
    }

    pub fn ies(&mut self) -> Vec<IeInfo> {
        self.ies.pop().unwrap_or_default()
    }

    pub fn tlv_infos(&mut self) -> Vec<TlvInfo> {
        self.tlv_infos.pop().unwrap_or_default()
    }

    pub fn tlvs(&mut self) -> Vec<Tlv> {
        self.tlvs.pop().unwrap_or_default()
    }

    pub fn put_string(&mut self, mut s: String) {
        s.clear();
        keep(&mut self.strings, s);
    }

    fn put_opt(&mut self, s: Option<String>) {
        if let Some(s) = s {
            self.put_string(s);
        }
    }

    pub fn put_bytes(&mut self, HexBytes(mut v): HexBytes) {
        v.clear();
        keep(&mut self.bytes, v);
    }

    fn put_ies(&mut self, mut v: Vec<IeInfo>) {
        for ie in v.drain(..) {
            self.put_bytes(ie.content);
        }
        keep(&mut self.ies, v);
    }

    pub fn put_tlvs(&mut self, mut v: Vec<Tlv>) {
        v.clear();
        keep(&mut self.tlvs, v);
    }

    fn put_tlv_info(&mut self, t: TlvInfo) {
        match t {
            TlvInfo::SourceAddress { rloc16 } | TlvInfo::Address16 { rloc16 } => {
                self.put_string(rloc16)
            }
            TlvInfo::Challenge { value }
            | TlvInfo::Response { value }
            | TlvInfo::NetworkData { value, .. }
            | TlvInfo::ActiveDataset { value }
            | TlvInfo::PendingDataset { value }
            | TlvInfo::Unknown { value, .. } => self.put_string(value),
            TlvInfo::Route64 {
                router_mask,
                route_data,
                ..
            } => {
                self.put_string(router_mask);
                self.put_string(route_data);
            }
            TlvInfo::LeaderData { partition_id, .. } => self.put_string(partition_id),
            _ => {}
        }
    }

    /// Takes `d` apart into the spare allocations and leaves it empty.
    pub fn recycle(&mut self, d: &mut DecodedFrame) {
        self.put_bytes(std::mem::take(&mut d.psdu));
        if let Some(m) = d.mac.take() {
            self.put_opt(m.dst_pan);
            self.put_opt(m.dst);
            self.put_opt(m.src_pan);
            self.put_opt(m.src);
            self.put_ies(m.header_ies);
            self.put_ies(m.payload_ies);
        }
        if let Some(s) = d.security.take() {
            self.put_opt(s.key_source);
        }
        if let Some(l) = d.lowpan.take() {
            if let Some(m) = l.mesh {
                self.put_opt(m.originator);
                self.put_opt(m.final_destination);
            }
        }
        d.ipv6 = None;
        if let Some(u) = d.udp.take() {
            if let Some(p) = u.payload {
                self.put_bytes(p);
            }
        }
        d.icmpv6 = None;
        if let Some(mut m) = d.mle.take() {
            for t in m.tlvs.drain(..) {
                self.put_tlv_info(t);
            }
            keep(&mut self.tlv_infos, m.tlvs);
        }
        if let Some(p) = d.mac_payload.take() {
            self.put_bytes(p);
        }
        if let Some(e) = d.error.take() {
            self.put_string(e.reason);
        }
        d.facts.mac_src = None;
        d.facts.mac_dst = None;
        if let Some(m) = d.facts.mle.take() {
            self.put_tlvs(m.tlvs);
        }
    }
}
