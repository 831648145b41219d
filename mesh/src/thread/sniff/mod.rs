//! A passive, whole-frame Thread decoder (a sniffer's view; no node state beyond what opening
//! frames needs): one IEEE 802.15.4 PSDU in, a [`DecodedFrame`] out with every layer it got
//! through:
//!
//! 1. FCS (802.15.4-2015 §7.2.10), when the PSDU carries one ([`Fcs::Present`]);
//! 2. the MAC frame (§7.2) with its IEs (§7.4) and auxiliary security header (§9.4);
//! 3. MAC security (§9.3, Thread 1.3 §7.1.2): the key its Key Index names, held by the
//!    [`KeyManager`] (current key sequence and its neighbours; a newer sequence that
//!    authenticates is followed, as a node would). The nonce needs the sender's extended
//!    address: a frame from a short address is opened with the one learnt from that RLOC16's
//!    MLE messages (Source Address TLV, IPv6 link-local source) or Child ID Response;
//! 4. 6LoWPAN (RFC 4944 §5.2-5.3, RFC 6282): mesh header, fragments (through a bounded
//!    [`Reassembler`]), IPHC and NHC; contexts not given are taken as zero prefixes and the
//!    report says so;
//! 5. IPv6 (RFC 8200) through its extension headers, UDP, ICMPv6;
//! 6. MLE on UDP port 19788 (Thread 1.3 ch. 4): opened with the MLE key of the key sequence
//!    its Key Source names, command and every TLV typed.
//!
//! Every outcome is counted in [`SniffStats`]. No input panics (proptest and the
//! `thread_sniff` fuzz target).

mod build;
mod netdata_info;
mod report;
mod spare;
mod tlv_info;
mod upper;

#[cfg(test)]
pub(crate) mod tests;

pub use build::{data_psdu, fragmented_psdus, link_local, mle_psdu, udp_packet, FrameSpec};
pub use netdata_info::NetDataInfo;
pub use report::{
    address_str, DecodedFrame, ErrorKind, Facts, FragmentInfo, FrameError, HexBytes, Icmpv6Info,
    IeInfo, Ipv6Info, Layer, LowpanInfo, MacInfo, MeshInfo, MleFacts, MleInfo, SecurityInfo,
    UdpInfo,
};
pub use tlv_info::{RouteEntry, TimestampInfo, TlvInfo};

use std::collections::BTreeMap;

use report::{frame_type_name, version_year};

use crate::thread::lowpan::{
    Context, Contexts, Iphc, Reassembler, ReassemblyLimits, ReassemblyStats,
};
use crate::thread::mac::{
    fcs, parse_payload_ies, Address, Body, ExtAddress, Frame, FrameParts, FrameType, KeyIdentifier,
};
use crate::thread::security::{unsecure_into, CounterCheck, KeyManager, ReplayTable};
use crate::time::Instant;
use crate::wire::Error;
use spare::Spare;

/// Whether a PSDU ends with its 2-octet FCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fcs {
    /// The last two octets are the FCS (CRC-16/KERMIT, 802.15.4-2015 §7.2.10); it is checked
    /// and removed.
    Present,
    /// The radio stripped it.
    Absent,
}

/// The most RLOC16 → extended address pairs remembered (64 routers with up to 511 children
/// each would be more; a network that large is beyond one sniffer's range anyway).
pub const MAX_NEIGHBOURS: usize = 1024;

/// Counters of every outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct SniffStats {
    /// PSDUs given.
    pub frames: u64,
    /// Decoded without error (including fragments held for reassembly).
    pub decoded: u64,
    pub bad_fcs: u64,
    /// MAC frames that did not parse.
    pub mac_errors: u64,
    /// Secured frames opened.
    pub decrypted: u64,
    pub unknown_key: u64,
    pub unknown_source: u64,
    pub auth_failed: u64,
    /// Security the decoder does not open (TSCH nonces, level 4, another key ID mode).
    pub unsupported_security: u64,
    pub lowpan_errors: u64,
    pub fragments_held: u64,
    pub reassembled: u64,
    pub reassembly_errors: u64,
    pub ipv6_errors: u64,
    pub mle_messages: u64,
    pub mle_errors: u64,
    /// RLOC16 → extended address pairs forgotten because the table was full (the oldest go
    /// first).
    pub neighbours_dropped: u64,
    /// MAC retransmissions seen (same frame counter and sequence number as the sender's last
    /// frame): duplicates, decoded and marked, not errors.
    pub retransmissions: u64,
    /// MAC frames and MLE messages whose frame counter (or key sequence) a node would refuse
    /// as a replay: decoded and marked.
    pub replays: u64,
}

/// The decoder: keys, compression contexts, the reassembler and what it learnt about who is
/// who.
#[derive(Debug)]
pub struct ThreadSniffer {
    keys: KeyManager,
    /// The contexts given; `None` ids are filled with the learnt ones (from Network Data's
    /// 6LoWPAN Context TLVs and an Active Dataset's Mesh Local Prefix), then with zero
    /// prefixes, in `filled`.
    given: Contexts,
    learnt: Contexts,
    filled: Contexts,
    reassembler: Reassembler,
    /// RLOC16 → extended address, learnt from MLE, with when it was last learnt (in learnings
    /// made; the oldest is forgotten when the table is full).
    neighbours: BTreeMap<u16, (ExtAddress, u64)>,
    learnings: u64,
    /// Frame counters per sender (MAC and MLE apart), bounded.
    counters: ReplayTable,
    stats: SniffStats,
    /// Allocations of the reports handed back, and the buffers frames are opened in: decoding
    /// allocates little once these have grown to the largest frame.
    spare: Spare,
    mac_plain: Vec<u8>,
    datagram: Vec<u8>,
    mle_plain: Vec<u8>,
}

pub(crate) type Stop = (Layer, ErrorKind, String);

fn wire_stop(layer: Layer, e: &Error) -> Stop {
    let kind = match e {
        Error::Truncated { .. } => ErrorKind::Truncated,
        Error::TooLong { .. } | Error::Invalid { .. } => ErrorKind::Malformed,
        Error::Auth(_) => ErrorKind::AuthFailed,
    };
    (layer, kind, e.to_string())
}

impl ThreadSniffer {
    /// A decoder holding `keys` (the network key and the key sequence to start from), with no
    /// compression contexts (give the mesh-local prefix with [`ThreadSniffer::set_context`]).
    pub fn new(keys: KeyManager) -> Self {
        let mut s = ThreadSniffer {
            keys,
            given: Contexts::new(),
            learnt: Contexts::new(),
            filled: Contexts::new(),
            reassembler: Reassembler::new(ReassemblyLimits::default()),
            neighbours: BTreeMap::new(),
            learnings: 0,
            counters: ReplayTable::default(),
            stats: SniffStats::default(),
            spare: Spare::default(),
            mac_plain: Vec::new(),
            datagram: Vec::new(),
            mle_plain: Vec::new(),
        };
        s.refill();
        s
    }

    /// Sets context `id` (Thread gives context 0 the mesh-local prefix, /64).
    pub fn set_context(&mut self, id: u8, ctx: Context) {
        self.given = self.given.clone().with(id, ctx);
        self.refill();
    }

    fn refill(&mut self) {
        let zero = Context::new(std::net::Ipv6Addr::UNSPECIFIED, 64);
        let mut f = self.given.clone();
        for (c, l) in f.0.iter_mut().zip(self.learnt.0.iter()) {
            if c.is_none() {
                *c = *l;
            }
            c.get_or_insert(zero);
        }
        self.filled = f;
    }

    /// Learns context `id` from the network (an authenticated MLE message): used where no
    /// context was given.
    pub(crate) fn learn_context(&mut self, id: u8, ctx: Context) {
        if self.learnt.get(id).ok() != Some(&ctx) {
            self.learnt = self.learnt.clone().with(id, ctx);
            self.refill();
        }
    }

    /// The context `id` in force, given or learnt (`None`: neither; zeros are used).
    pub fn context(&self, id: u8) -> Option<Context> {
        self.given
            .get(id)
            .ok()
            .or_else(|| self.learnt.get(id).ok())
            .copied()
    }

    pub fn stats(&self) -> SniffStats {
        self.stats
    }

    pub fn reassembly_stats(&self) -> ReassemblyStats {
        self.reassembler.stats()
    }

    /// The key sequence currently followed.
    pub fn key_sequence(&self) -> u32 {
        self.keys.key_sequence()
    }

    /// The extended address learnt for `rloc16`.
    pub fn ext_address_of(&self, rloc16: u16) -> Option<ExtAddress> {
        self.neighbours.get(&rloc16).map(|(e, _)| *e)
    }

    /// How many RLOC16 → extended address pairs are remembered (at most [`MAX_NEIGHBOURS`]).
    pub fn neighbours_len(&self) -> usize {
        self.neighbours.len()
    }

    /// Remembers that `rloc16` belongs to `ext`; when the table is full, the pair learnt
    /// longest ago is forgotten (counted in `neighbours_dropped`).
    pub fn learn(&mut self, rloc16: u16, ext: ExtAddress) {
        self.learnings += 1;
        if self.neighbours.len() >= MAX_NEIGHBOURS && !self.neighbours.contains_key(&rloc16) {
            if let Some(oldest) = self
                .neighbours
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| *k)
            {
                self.neighbours.remove(&oldest);
            }
            self.stats.neighbours_dropped += 1;
        }
        self.neighbours.insert(rloc16, (ext, self.learnings));
    }

    /// Decodes one PSDU received at `now` (the reassembler's clock).
    pub fn decode(&mut self, now: Instant, psdu: &[u8], fcs_mode: Fcs) -> DecodedFrame {
        let mut d = DecodedFrame::new(&[]);
        self.decode_into(now, psdu, fcs_mode, &mut d);
        d
    }

    /// Decodes one PSDU received at `now` into `d`, which is emptied first: what [`decode`]
    /// returns, built in the strings and vectors of the reports given back before (a decoder
    /// that reuses one report allocates little).
    ///
    /// [`decode`]: ThreadSniffer::decode
    pub fn decode_into(&mut self, now: Instant, psdu: &[u8], fcs_mode: Fcs, d: &mut DecodedFrame) {
        self.spare.recycle(d);
        d.psdu = self.spare.bytes(psdu);
        self.stats.frames += 1;
        match self.run(now, psdu, fcs_mode, d) {
            Ok(()) => self.stats.decoded += 1,
            Err((layer, kind, reason)) => {
                let s = &mut self.stats;
                match (layer, kind) {
                    (_, ErrorKind::BadFcs) => s.bad_fcs += 1,
                    (Layer::Fcs | Layer::Mac, _) => s.mac_errors += 1,
                    (_, ErrorKind::UnknownKey) => s.unknown_key += 1,
                    (_, ErrorKind::UnknownSource) => s.unknown_source += 1,
                    (Layer::Security, ErrorKind::AuthFailed) => s.auth_failed += 1,
                    (Layer::Security, _) => s.unsupported_security += 1,
                    (_, ErrorKind::Reassembly) => s.reassembly_errors += 1,
                    (Layer::Lowpan, _) => s.lowpan_errors += 1,
                    (Layer::Ipv6 | Layer::Udp, _) => s.ipv6_errors += 1,
                    (Layer::Mle, _) => s.mle_errors += 1,
                }
                d.error = Some(FrameError {
                    layer,
                    kind,
                    reason,
                });
            }
        }
    }

    fn run(
        &mut self,
        now: Instant,
        psdu: &[u8],
        fcs_mode: Fcs,
        d: &mut DecodedFrame,
    ) -> Result<(), Stop> {
        let (body, fcs_ok) = match fcs_mode {
            Fcs::Absent => (psdu, None),
            Fcs::Present => match fcs::check(psdu) {
                Ok(b) => (b, Some(true)),
                Err(Error::Truncated { .. }) => {
                    return Err((
                        Layer::Fcs,
                        ErrorKind::Truncated,
                        format!("{} octets: too short to hold an FCS", psdu.len()),
                    ))
                }
                Err(_) => {
                    let n = psdu.len() - fcs::FCS_LEN;
                    let got = u16::from_le_bytes([psdu[n], psdu[n + 1]]);
                    let want = fcs::crc16(&psdu[..n]);
                    return Err((
                        Layer::Fcs,
                        ErrorKind::BadFcs,
                        format!("bad FCS: frame has {got:04x}, its contents give {want:04x}"),
                    ));
                }
            },
        };
        let parts = Frame::parse_parts(body).map_err(|e| wire_stop(Layer::Mac, &e))?;
        let frame = &parts.frame;
        d.mac = Some(mac_info(&mut self.spare, frame, fcs_ok));
        d.facts.mac_src = Some(frame.src);
        d.facts.mac_dst = Some(frame.dst);
        let mut plain = std::mem::take(&mut self.mac_plain);
        let r = self.above_mac(now, body, &parts, &mut plain, d);
        self.mac_plain = plain;
        r
    }

    /// Opens a secured frame into `plain`, and decodes the MAC payload.
    fn above_mac(
        &mut self,
        now: Instant,
        body: &[u8],
        parts: &FrameParts,
        plain: &mut Vec<u8>,
        d: &mut DecodedFrame,
    ) -> Result<(), Stop> {
        let frame = &parts.frame;
        let payload: &[u8] = match frame.security {
            None => &body[parts.payload_at..],
            Some(h) => {
                d.security = Some(SecurityInfo::from_header(&h));
                let (seq, src) = self.open_mac(body, parts, plain)?;
                self.stats.decrypted += 1;
                let check = match h.frame_counter {
                    Some(fc) => self.counters.check_mac(src, seq, fc, frame.sequence_number),
                    None => CounterCheck::Fresh,
                };
                match check {
                    CounterCheck::Fresh => {}
                    CounterCheck::Retransmission => self.stats.retransmissions += 1,
                    _ => self.stats.replays += 1,
                }
                if let Some(s) = d.security.as_mut() {
                    s.decrypted = true;
                    s.key_sequence = Some(seq);
                    s.retransmission = check == CounterCheck::Retransmission;
                    s.replayed = matches!(
                        check,
                        CounterCheck::Replay { .. } | CounterCheck::StaleKeySequence { .. }
                    );
                }
                let mut at = 0;
                if frame.has_payload_ies() {
                    let (ies, n) =
                        parse_payload_ies(plain).map_err(|e| wire_stop(Layer::Mac, &e))?;
                    at = n;
                    if let Some(m) = d.mac.as_mut() {
                        for ie in ies {
                            let content = self.spare.bytes(&ie.content);
                            m.payload_ies.push(IeInfo {
                                id: ie.group_id,
                                content,
                            });
                        }
                    }
                }
                &plain[at..]
            }
        };
        if frame.frame_type != FrameType::Data || payload.is_empty() {
            if !payload.is_empty() {
                d.mac_payload = Some(self.spare.bytes(payload));
            }
            return Ok(());
        }
        upper::lowpan(self, now, frame, payload, d)
    }

    /// Opens a secured MAC frame with the key its Key Index names.
    fn open_mac(
        &mut self,
        body: &[u8],
        parts: &FrameParts,
        plain: &mut Vec<u8>,
    ) -> Result<(u32, ExtAddress), Stop> {
        let frame = &parts.frame;
        let Some(sec) = frame.security else {
            return Err((Layer::Security, ErrorKind::Malformed, "not secured".into()));
        };
        let KeyIdentifier::Index(index) = sec.key_id else {
            return Err((
                Layer::Security,
                ErrorKind::Unsupported,
                format!(
                    "key identifier mode {} (Thread MAC frames use mode 1, Thread 1.3 §7.1.2.3)",
                    sec.key_id.mode()
                ),
            ));
        };
        let Some(keys) = self.keys.keys_for_index(index) else {
            return Err((
                Layer::Security,
                ErrorKind::UnknownKey,
                format!(
                    "no key held for key index {index} (held: key sequence {} and its neighbours, \
                     key index {}; the frame's key sequence is another)",
                    self.keys.key_sequence(),
                    self.keys.current().key_index()
                ),
            ));
        };
        let src = match frame.src {
            Address::Extended(e) => e,
            Address::Short(s) => self.ext_address_of(s).ok_or_else(|| {
                (
                    Layer::Security,
                    ErrorKind::UnknownSource,
                    format!(
                        "no extended address known for short address {s:04x} (the nonce needs it; \
                         it is learnt from that node's MLE messages)"
                    ),
                )
            })?,
            Address::None => {
                return Err((
                    Layer::Security,
                    ErrorKind::UnknownSource,
                    "no source address: the sender's extended address is unknown".into(),
                ))
            }
        };
        let seq = keys.key_sequence;
        unsecure_into(body, parts, keys.mac(), src, plain).map_err(|e| match e {
            Error::Auth(_) => (
                Layer::Security,
                ErrorKind::AuthFailed,
                format!("MAC MIC mismatch under key sequence {seq} (another network key, or a corrupted frame)"),
            ),
            e => {
                let (l, k, r) = wire_stop(Layer::Security, &e);
                let k = if k == ErrorKind::Malformed { ErrorKind::Unsupported } else { k };
                (l, k, r)
            }
        })?;
        self.keys.authenticated_with(seq);
        Ok((seq, src))
    }

    pub(crate) fn keys_mut(&mut self) -> &mut KeyManager {
        &mut self.keys
    }

    pub(crate) fn contexts(&self) -> &Contexts {
        &self.filled
    }

    /// Whether an IPHC header uses a context this decoder was not given.
    pub(crate) fn unknown_context(&self, iphc: &Iphc) -> bool {
        let (sci, dci) = iphc.context_ids.unwrap_or((0, 0));
        (iphc.sac && self.context(sci).is_none()) || (iphc.dac && self.context(dci).is_none())
    }

    pub(crate) fn reassembler(&mut self) -> &mut Reassembler {
        &mut self.reassembler
    }

    pub(crate) fn stats_mut(&mut self) -> &mut SniffStats {
        &mut self.stats
    }

    pub(crate) fn counters_mut(&mut self) -> &mut ReplayTable {
        &mut self.counters
    }

    pub(crate) fn spare(&mut self) -> &mut Spare {
        &mut self.spare
    }
}

fn mac_info(spare: &mut Spare, f: &Frame, fcs_ok: Option<bool>) -> MacInfo {
    let addr = |spare: &mut Spare, a: &Address| match a {
        Address::None => None,
        Address::Short(s) => Some(spare.hex16(*s)),
        Address::Extended(e) => Some(spare.hex(&e.0)),
    };
    let mut header_ies = spare.ies();
    for ie in &f.header_ies {
        let content = spare.bytes(&ie.content);
        header_ies.push(IeInfo { id: ie.id, content });
    }
    let mut payload_ies = spare.ies();
    if let Body::Open { payload_ies: p, .. } = &f.body {
        for ie in p {
            let content = spare.bytes(&ie.content);
            payload_ies.push(IeInfo {
                id: ie.group_id,
                content,
            });
        }
    }
    MacInfo {
        frame_type: frame_type_name(f.frame_type),
        version: version_year(f.version),
        frame_pending: f.frame_pending,
        ack_request: f.ack_request,
        pan_id_compression: f.pan_id_compression,
        seq: f.sequence_number,
        dst_pan: f.dst_pan.map(|p| spare.hex16(p)),
        dst: addr(spare, &f.dst),
        src_pan: f.src_pan.map(|p| spare.hex16(p)),
        src: addr(spare, &f.src),
        header_ies,
        payload_ies,
        fcs_ok,
    }
}

/// Decodes `data` as a PSDU with and without FCS with a fixed key; for the fuzzer and the
/// random-input tests.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let mut s = ThreadSniffer::new(KeyManager::new([0x42; 16], 0));
    s.learn(0x0400, ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]));
    for (i, fcs) in [Fcs::Absent, Fcs::Present].into_iter().enumerate() {
        let d = s.decode(Instant::from_micros(i as u64), data, fcs);
        let _ = serde_json::to_string(&d);
    }
    // A decoder with a context, fed the same bytes twice (fragments meet their duplicates).
    s.set_context(
        0,
        Context::new(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].into(),
            64,
        ),
    );
    let _ = s.decode(Instant::from_micros(5), data, Fcs::Absent);
}
