//! Frames out and in: IEEE 802.15.4-2015 data frames (§7.2) secured with the Thread MAC key
//! (level 5, Key ID Mode 1; Thread 1.3 §7.1.2) except those carrying MLE (whose own security
//! is MLE's, Thread 1.3 §4.3); 6LoWPAN (RFC 4944, RFC 6282) with the mesh header for
//! multi-hop delivery (Thread 1.3 §5.5: mesh-under routing between RLOC16s) and fragments.

use std::net::Ipv6Addr;

use rand_core::RngCore;

use super::{CounterKind, Event, Node, Role, TxKind, OUTBOX};
use crate::frame::RxFrame;
use crate::thread::ip::addr::locator16;
use crate::thread::ip::tx::{room, LinkTx};
use crate::thread::lowpan::{decompress, LinkAddresses, LowpanFrame, MeshHeader};
use crate::thread::mac::command::{is_data_request, DataRequest};
use crate::thread::mac::{
    Address, AuxSecurityHeader, Body, ExtAddress, Frame, FrameType, FrameVersion, KeyIdentifier,
    SecurityLevel,
};
use crate::thread::mle::{ext_address_of, MlePayload, Tlv};
use crate::thread::security::{secure, CounterCheck};
use crate::time::Instant;
use crate::wire::Wire;

/// The Leader ALOC16 (Thread 1.3 §5.2.1.2).
pub(super) const LEADER_ALOC16: u16 = 0xfc00;
/// Hops Left of the mesh headers this node originates (RFC 4944 §5.2; weft's choice, above
/// the longest Thread route of 32 routers... unverified against OpenThread).
const MESH_HOPS_LEFT: u8 = 32;
/// The auxiliary security header of a level-5, Key ID Mode 1 frame: Security Control,
/// Frame Counter, Key Index (IEEE 802.15.4-2015 §9.4).
const AUX_LEN: usize = 6;
/// MIC-32 (level 5).
const MIC_LEN: usize = 4;

/// An MLE message to send later (a response delayed at random, Thread 1.3 §4.7).
#[derive(Debug, Clone)]
pub(super) struct DelayedMle {
    pub dst: Ipv6Addr,
    pub mac_dst: Address,
    pub command: u8,
    pub tlvs: Vec<Tlv>,
}

/// What a parent holds for a sleepy child: a 6LoWPAN payload, framed and secured when the
/// child polls (so that its frame counter is fresh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndirectItem {
    src: Address,
    /// The MAC source and destination the payload was compressed against (RFC 6282 §3.2.2 elides
    /// addresses derived from it).
    dst: Address,
    payload: Vec<u8>,
    secured: bool,
}

impl<R: RngCore> Node<R> {
    pub(super) fn next_seq(&mut self) -> u8 {
        self.mac_seq = self.mac_seq.wrapping_add(1);
        self.mac_seq
    }

    /// The next frame counter of `kind`; a raised reservation asks to be persisted first.
    pub(super) fn alloc_counter(&mut self, kind: CounterKind) -> Option<u32> {
        match self.fc.alloc(kind, &mut self.state) {
            Some((c, raised)) => {
                if raised {
                    self.event(Event::PersistState);
                }
                Some(c)
            }
            None => {
                self.count("tx: frame counters of this key sequence spent");
                None
            }
        }
    }

    fn queue_frame(&mut self, bytes: Vec<u8>, kind: TxKind) {
        if self.out.len() >= OUTBOX {
            self.out.pop_front();
            self.count("tx: outbox full (oldest dropped)");
        }
        self.out.push_back((bytes, kind));
    }

    /// The MAC source of a frame: the RLOC16 once attached, for MAC-secured frames (Thread
    /// 1.3 §5.2.1.1: a node's short address is its RLOC16); the extended address before, and
    /// for MLE, which a node may send to neighbours that do not know its RLOC16 yet.
    pub(super) fn mac_src(&self, secured: bool) -> Address {
        match self.addrs.rloc16 {
            Some(r) if secured && self.role != Role::Detached => Address::Short(r),
            _ => Address::Extended(self.state.ext()),
        }
    }

    /// The extended address behind a neighbour's RLOC16 (the parent, a child, a neighbour
    /// router): what the CCM* nonce of its frames needs (IEEE 802.15.4-2015 §9.3.3.1).
    fn ext_of_short(&self, s: u16) -> Option<ExtAddress> {
        if let Some(p) = self.parent.as_ref().filter(|p| p.rloc16 == s) {
            return Some(p.ext);
        }
        if let Some(c) = self.children.iter().find(|c| c.rloc16 == s) {
            return Some(c.ext);
        }
        (s & 0x1ff == 0)
            .then(|| self.routes.neighbour_ext((s >> 10) as u8))
            .flatten()
    }

    /// A MAC data frame from `src` to `dst` around `payload`, secured when `secured`.
    fn mac_frame(
        &mut self,
        frame_type: FrameType,
        src: Address,
        dst: Address,
        payload: Vec<u8>,
        secured: bool,
        frame_pending: bool,
    ) -> Option<Vec<u8>> {
        let ext = self.state.ext();
        let security = if secured {
            let fc = self.alloc_counter(CounterKind::Mac)?;
            Some(AuxSecurityHeader {
                level: SecurityLevel::new(5),
                key_id: KeyIdentifier::Index(self.keys.current().key_index()),
                frame_counter: Some(fc),
                asn_in_nonce: false,
            })
        } else {
            None
        };
        let frame = Frame {
            frame_type,
            version: FrameVersion::V2006,
            frame_pending,
            ack_request: !matches!(dst, Address::Short(0xffff)),
            pan_id_compression: true,
            sequence_number: Some(self.next_seq()),
            dst_pan: Some(self.creds.pan_id),
            dst,
            src_pan: None,
            src,
            security,
            header_ies: Vec::new(),
            body: Body::Open {
                payload_ies: Vec::new(),
                payload,
            },
        };
        if secured {
            secure(&frame, self.keys.current().mac(), ext)
                .ok()
                .map(|f| f.to_vec())
        } else {
            Some(frame.to_vec())
        }
    }

    /// The sleepy child behind `mac_dst`, if it is one of this router's.
    fn sleepy_child(&self, mac_dst: &Address) -> Option<ExtAddress> {
        self.children
            .iter()
            .find(|c| {
                !c.rx_on()
                    && match mac_dst {
                        Address::Extended(e) => *e == c.ext,
                        Address::Short(s) => *s == c.rloc16,
                        Address::None => false,
                    }
            })
            .map(|c| c.ext)
    }

    /// Puts `datagram` on the link to `mac_dst` (under `mesh` when it travels further):
    /// fragmented as needed, held for a sleepy child.
    pub(super) fn send_on_link(
        &mut self,
        now: Instant,
        datagram: &[u8],
        mac_dst: Address,
        mesh: Option<MeshHeader>,
        secured: bool,
    ) {
        let len = |a: &Address| {
            if matches!(a, Address::Extended(_)) {
                8
            } else {
                2
            }
        };
        let src = self.mac_src(secured);
        // Frame Control, Sequence Number, PAN ID, destination, source.
        let mhr = 2 + 1 + 2 + len(&mac_dst) + len(&src) + if secured { AUX_LEN } else { 0 };
        let link = LinkTx {
            ll: LinkAddresses { src, dst: mac_dst },
            mesh,
            max_payload: room(mhr, if secured { MIC_LEN } else { 0 }),
        };
        let payloads = match self.frag.frame_payloads(datagram, &self.ctx, &link) {
            Ok(p) => p,
            Err(_) => {
                self.count("tx: datagram does not fit 6LoWPAN");
                return;
            }
        };
        let sleepy = self.sleepy_child(&mac_dst);
        for payload in payloads {
            if let Some(child) = sleepy {
                let item = IndirectItem {
                    src,
                    dst: mac_dst,
                    payload,
                    secured,
                };
                if self.indirect.push(now, child, item).is_err() {
                    self.count("tx: indirect queue refused");
                }
                continue;
            }
            if let Some(f) = self.mac_frame(FrameType::Data, src, mac_dst, payload, secured, false)
            {
                self.queue_frame(f, TxKind::Plain);
            }
        }
    }

    /// Seals an MLE message from the link-local address and sends it (MAC-unsecured).
    pub(super) fn send_mle(&mut self, now: Instant, d: DelayedMle) {
        let Some(fc) = self.alloc_counter(CounterKind::Mle) else {
            return;
        };
        let src = crate::thread::wire::link_local(self.state.ext());
        let payload = MlePayload {
            command: d.command,
            tlvs: d.tlvs,
        };
        let datagram =
            crate::thread::wire::mle_datagram(&payload, self.keys.current(), fc, src, d.dst);
        self.send_on_link(now, &datagram, d.mac_dst, None, false);
    }

    /// MLE to a neighbour's link-local address (or a link-local multicast group).
    pub(super) fn mle_to(
        &mut self,
        now: Instant,
        to: Option<ExtAddress>,
        command: u8,
        tlvs: Vec<Tlv>,
    ) {
        let (dst, mac_dst) = match to {
            Some(e) => (crate::thread::wire::link_local(e), Address::Extended(e)),
            None => (
                crate::thread::ip::addr::LINK_LOCAL_ALL_ROUTERS,
                Address::Short(0xffff),
            ),
        };
        self.send_mle(
            now,
            DelayedMle {
                dst,
                mac_dst,
                command,
                tlvs,
            },
        );
    }

    pub(super) fn send_delayed(&mut self, now: Instant) {
        while let Some(i) = self.delayed.iter().position(|d| d.0 <= now) {
            let (_, d) = self.delayed.swap_remove(i);
            self.send_mle(now, d);
        }
    }

    /// The next hop towards `final_rloc16` (its RLOC16), when there is one.
    pub(super) fn next_hop(&self, final_rloc16: u16) -> Option<u16> {
        let me = self.addrs.rloc16?;
        match self.role {
            Role::Detached => None,
            Role::Child => self.parent.as_ref().map(|p| p.rloc16),
            Role::Router | Role::Leader => {
                let id = (final_rloc16 >> 10) as u8;
                if id == (me >> 10) as u8 {
                    self.children
                        .iter()
                        .any(|c| c.rloc16 == final_rloc16)
                        .then_some(final_rloc16)
                } else {
                    self.routes.route(id).map(|(next, _)| u16::from(next) << 10)
                }
            }
        }
    }

    /// Sends an IPv6 datagram this node originates: to this node itself, to a link-local
    /// neighbour or group, or to an RLOC/ALOC through the mesh.
    pub(super) fn send_ip(&mut self, now: Instant, datagram: Vec<u8>) {
        let Ok(h) = crate::thread::lowpan::Ipv6Header::parse(&datagram) else {
            return;
        };
        let dst = h.dst;
        if !dst.is_multicast() && self.addrs.accepts(&dst) {
            self.receive_datagram(now, datagram, true, self.state.ext());
            return;
        }
        if dst.is_multicast() {
            let d = match super::mpl::realm_local(&dst) {
                true => self.mpl_originate(now, &datagram).unwrap_or(datagram),
                false => datagram,
            };
            self.send_on_link(now, &d, Address::Short(0xffff), None, true);
            return;
        }
        if dst.segments()[0] == 0xfe80 {
            let to = Address::Extended(ext_address_of(&dst));
            self.send_on_link(now, &datagram, to, None, true);
            return;
        }
        let in_mesh = dst.octets()[..8] == self.creds.mesh_local_prefix;
        let final_rloc16 = match locator16(&dst).filter(|_| in_mesh) {
            Some(LEADER_ALOC16) => match self.partition {
                Some(p) => u16::from(p.leader_router_id) << 10,
                None => {
                    self.count("tx: no route");
                    return;
                }
            },
            Some(r) => r,
            // A child sends everything through its parent (Thread 1.3 §4.5, unverified), which
            // knows where the destination is (or asks: Address Query).
            None if in_mesh && self.role == Role::Child => match self.parent_rloc16() {
                Some(p) => p,
                None => {
                    self.count("tx: no route");
                    return;
                }
            },
            None if in_mesh && matches!(self.role, Role::Router | Role::Leader) => {
                self.send_to_eid(now, datagram, dst);
                return;
            }
            None => {
                self.count("tx: no route");
                return;
            }
        };
        self.route_datagram(now, &datagram, final_rloc16);
    }

    pub(super) fn route_datagram(&mut self, now: Instant, datagram: &[u8], final_rloc16: u16) {
        let (Some(me), Some(next)) = (self.addrs.rloc16, self.next_hop(final_rloc16)) else {
            self.count("tx: no route");
            return;
        };
        let mesh = (next != final_rloc16).then_some(MeshHeader {
            hops_left: MESH_HOPS_LEFT,
            originator: Address::Short(me),
            final_destination: Address::Short(final_rloc16),
        });
        self.send_on_link(now, datagram, Address::Short(next), mesh, true);
    }

    /// Forwards a mesh-headed frame payload (mesh header taken off as `mesh`, `rest` after it)
    /// one hop closer to its final destination.
    fn forward(&mut self, now: Instant, mesh: MeshHeader, rest: &[u8]) {
        let Address::Short(final_rloc16) = mesh.final_destination else {
            self.count("rx: mesh header to an extended address");
            return;
        };
        if mesh.hops_left <= 1 {
            self.count("rx: mesh hops left exhausted");
            return;
        }
        let Some(next) = self.next_hop(final_rloc16) else {
            self.count("rx: no route to forward");
            return;
        };
        let mut payload = MeshHeader {
            hops_left: mesh.hops_left - 1,
            ..mesh
        }
        .to_vec();
        payload.extend_from_slice(rest);
        self.count("forwarded");
        let dst = Address::Short(next);
        if let Some(child) = self.sleepy_child(&dst) {
            let item = IndirectItem {
                src: self.mac_src(true),
                dst,
                payload,
                secured: true,
            };
            if self.indirect.push(now, child, item).is_err() {
                self.count("tx: indirect queue refused");
            }
            return;
        }
        let src = self.mac_src(true);
        if let Some(f) = self.mac_frame(FrameType::Data, src, dst, payload, true, false) {
            self.queue_frame(f, TxKind::Plain);
        }
    }

    /// A sleepy child's Data Request to its parent (IEEE 802.15.4-2015 §6.7.3; secured as
    /// Thread requires, level 5 Key ID Mode 1).
    pub(super) fn send_data_request(&mut self) {
        let Some(parent) = self.parent.as_ref().map(|p| p.rloc16) else {
            return;
        };
        let Some(fc) = self.alloc_counter(CounterKind::Mac) else {
            return;
        };
        let ext = self.state.ext();
        let dr = DataRequest {
            sequence_number: self.next_seq(),
            pan_id: self.creds.pan_id,
            dst: Address::Short(parent),
            src: self.mac_src(true),
        };
        let frame = dr.frame(Some(AuxSecurityHeader {
            level: SecurityLevel::new(5),
            key_id: KeyIdentifier::Index(self.keys.current().key_index()),
            frame_counter: Some(fc),
            asn_in_nonce: false,
        }));
        if let Ok(f) = secure(&frame, self.keys.current().mac(), ext) {
            self.queue_frame(f.to_vec(), TxKind::DataRequest);
        }
    }

    /// A Data Request from `child` arrived: release what waits for it.
    fn on_data_request(&mut self, now: Instant, child: ExtAddress) {
        let Some(rel) = self.indirect.data_request(now, &Address::Extended(child)) else {
            return;
        };
        let frame = self.mac_frame(
            FrameType::Data,
            rel.item.src,
            rel.item.dst,
            rel.item.payload,
            rel.item.secured,
            rel.more,
        );
        match frame {
            Some(f) => self.queue_frame(f, TxKind::Indirect(child)),
            None => self.indirect.confirm(child, false),
        }
    }

    /// Bytes from the air.
    pub(super) fn receive_frame(&mut self, now: Instant, rx: &RxFrame) {
        self.count("rx: frames");
        let Ok(f) = Frame::parse(&rx.bytes) else {
            self.count("rx: malformed MAC frame");
            return;
        };
        if let Some(p) = f.dst_pan {
            if p != self.creds.pan_id && p != 0xffff {
                self.count("rx: other PAN");
                return;
            }
        }
        let ext = self.state.ext();
        let for_me = match f.dst {
            Address::Short(0xffff) => true,
            Address::Short(s) => Some(s) == self.addrs.rloc16,
            Address::Extended(e) => e == ext,
            Address::None => false,
        };
        if !for_me {
            self.count("rx: not for this node");
            return;
        }
        let src = match f.src {
            Address::Extended(e) => e,
            Address::Short(s) if f.security.is_some() => match self.ext_of_short(s) {
                Some(e) => e,
                None => {
                    self.count("rx: MAC source is no known neighbour's RLOC16");
                    return;
                }
            },
            _ => {
                self.count("rx: MAC source neither extended nor a secured RLOC16");
                return;
            }
        };
        if src == ext {
            return;
        }
        let seq = f.sequence_number;
        let (open, secured) = if f.security.is_some() {
            let u = match self.keys.unsecure_mac(&f, src) {
                Ok(u) => u,
                Err(_) => {
                    self.count("rx: MAC authentication failed");
                    return;
                }
            };
            let fc = u.frame.security.and_then(|s| s.frame_counter).unwrap_or(0);
            match self.replay.check_mac(src, u.key_sequence, fc, seq) {
                CounterCheck::Fresh => {}
                CounterCheck::Retransmission => {
                    self.count("rx: MAC retransmission");
                    return;
                }
                CounterCheck::Replay { .. } | CounterCheck::StaleKeySequence { .. } => {
                    self.count("rx: MAC frame counter replayed");
                    return;
                }
            }
            self.sync_key_sequence();
            (u.frame, true)
        } else {
            (f, false)
        };
        // Only an authenticated frame keeps a neighbour or child alive (an unsecured one is
        // MLE, whose own authentication comes later: `receive_mle`).
        if secured {
            self.heard(now, src, rx.rssi);
        }
        if self.role == Role::Child && self.parent.as_ref().is_some_and(|p| p.ext == src) {
            self.frame_from_parent(now, open.frame_pending);
        }
        if open.frame_type == FrameType::MacCommand {
            if secured && is_data_request(&open) {
                self.on_data_request(now, src);
            } else {
                self.count("rx: MAC command not handled");
            }
            return;
        }
        if open.frame_type != FrameType::Data {
            self.count("rx: not a data frame");
            return;
        }
        let Body::Open { payload, .. } = &open.body else {
            return;
        };
        let Ok((mesh, frag, at)) = LowpanFrame::parse_headers(payload) else {
            self.count("rx: malformed 6LoWPAN");
            return;
        };
        let mut ll = LinkAddresses {
            src: open.src,
            dst: open.dst,
        };
        // Who sent the datagram: the mesh originator, or the neighbour itself (for snooping).
        let originator = match &mesh {
            Some(m) => Some(m.originator),
            None => secured.then_some(open.src),
        };
        if let Some(m) = mesh {
            if !secured {
                self.count("rx: mesh header in an unsecured frame");
                return;
            }
            if m.final_destination != Address::Short(self.addrs.rloc16.unwrap_or(0xfffe)) {
                let n = payload.len() - mesh_rest_len(payload);
                self.forward(now, m, &payload[n..]);
                return;
            }
            ll = LinkAddresses {
                src: m.originator,
                dst: m.final_destination,
            };
        }
        let rest = &payload[at..];
        let datagram = match frag {
            Some(fh) => match self.reasm.push(now, &ll, &self.ctx, fh, rest) {
                Ok(Some(d)) => d,
                Ok(None) => return,
                Err(_) => {
                    self.count("rx: bad fragment");
                    return;
                }
            },
            None => match decompress(rest, &ll, &self.ctx) {
                Ok(d) => d,
                Err(_) => {
                    self.count("rx: 6LoWPAN decompression failed");
                    return;
                }
            },
        };
        if let Some(o) = originator {
            self.snoop(now, &datagram, o);
        }
        self.receive_datagram(now, datagram, secured, src);
    }
}

/// The length of what follows the mesh header at the start of `payload`.
fn mesh_rest_len(payload: &[u8]) -> usize {
    match MeshHeader::parse_prefix(payload) {
        Ok((_, n)) => payload.len() - n,
        Err(_) => 0,
    }
}
