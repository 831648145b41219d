//! Becoming a router (Thread 1.3 §5.9.9-§5.9.10): a REED's Address Solicit (`/a/as`, CoAP
//! on the TMF port, to the Leader ALOC) and the leader's answer, which assigns a Router ID.
//! TLV types and status values are OpenThread's (`ThreadTlv::Type`, `ThreadStatusTlv::Status`,
//! checked in its source).

use std::net::SocketAddrV6;

use rand_core::RngCore;

use super::link::LEADER_ALOC16;
use super::router::{MAX_ROUTERS, MAX_ROUTER_ID};
use super::{Node, Role};
use crate::thread::coap::{CoapEvent, Code, Incoming, Message, MessageType, Token};
use crate::thread::ip::addr::{locator16, rloc};
use crate::thread::mac::ExtAddress;
use crate::time::{Duration, Instant};

use crate::thread::tmf::tlv_type as tmf_tlv;
/// Address Solicit Status values (OpenThread `ThreadStatusTlv::Status`, checked).
const STATUS_SUCCESS: u8 = 0;
const STATUS_NO_ADDRESS: u8 = 1;
const STATUS_TOO_FEW_ROUTERS: u8 = 2;
const STATUS_HAVE_CHILD_ID_REQUEST: u8 = 3;

/// An Address Solicit planned or in flight.
#[derive(Debug, Clone, Copy)]
pub(super) enum Solicit {
    At(Instant),
    InFlight(Token),
}

impl<R: RngCore> Node<R> {
    /// A REED child plans an Address Solicit while the partition has few routers (Thread 1.3
    /// §5.9.9).
    pub(super) fn consider_upgrade(&mut self, now: Instant) {
        if self.role != Role::Child
            || !self.cfg.router_eligible
            || !self.cfg.rx_on_when_idle
            || self.solicit.is_some()
            || self.routes.active_routers() >= self.cfg.router_upgrade_threshold
        {
            return;
        }
        let at = now + self.jitter(self.cfg.router_selection_jitter);
        self.solicit = Some(Solicit::At(at));
    }

    /// Asks for a Router ID at once (a REED holding a Child ID Request).
    pub(super) fn solicit_now(&mut self, now: Instant) {
        if !matches!(self.solicit, Some(Solicit::InFlight(_))) {
            self.solicit = None;
            self.send_address_solicit_for(now, STATUS_HAVE_CHILD_ID_REQUEST);
        }
    }

    pub(super) fn send_address_solicit(&mut self, now: Instant) {
        if self.routes.active_routers() >= self.cfg.router_upgrade_threshold {
            return;
        }
        self.send_address_solicit_for(now, STATUS_TOO_FEW_ROUTERS)
    }

    fn send_address_solicit_for(&mut self, now: Instant, reason: u8) {
        if self.role != Role::Child {
            return;
        }
        let mut payload = vec![tmf_tlv::EXT_MAC_ADDRESS, 8];
        payload.extend_from_slice(&self.state.ext_address);
        payload.extend_from_slice(&[tmf_tlv::STATUS, 1, reason]);
        if let Some(r) = self.state.last_rloc16.filter(|r| r & 0x1ff == 0) {
            payload.extend_from_slice(&[tmf_tlv::RLOC16, 2]);
            payload.extend_from_slice(&r.to_be_bytes());
        }
        let mut msg = Message::request(MessageType::Confirmable, Code::POST, "a/as");
        msg.payload = payload;
        let leader = SocketAddrV6::new(
            rloc(self.creds.mesh_local_prefix, LEADER_ALOC16),
            super::ip::TMF_PORT,
            0,
            0,
        );
        match self.tmf.request(now, leader, msg) {
            Ok(token) => self.solicit = Some(Solicit::InFlight(token)),
            Err(_) => self.count("tmf: address solicit not sent"),
        }
    }

    pub(super) fn on_solicit_outcome(&mut self, now: Instant, e: CoapEvent) {
        let (CoapEvent::Response { token, .. }
        | CoapEvent::Timeout { token }
        | CoapEvent::Reset { token }) = &e;
        if !matches!(self.solicit, Some(Solicit::InFlight(t)) if t == *token) {
            return;
        }
        self.solicit = None;
        let granted = match &e {
            CoapEvent::Response { msg, .. } if self.role == Role::Child => {
                let t = tmf_tlvs(&msg.payload);
                let get = |ty: u8| t.iter().find(|(k, _)| *k == ty).map(|(_, v)| v.clone());
                match (
                    get(tmf_tlv::STATUS),
                    get(tmf_tlv::RLOC16),
                    get(tmf_tlv::ROUTER_MASK),
                ) {
                    (Some(s), Some(r), Some(m))
                        if s == [STATUS_SUCCESS] && r.len() == 2 && m.len() == 9 =>
                    {
                        let rloc16 = u16::from_be_bytes([r[0], r[1]]);
                        let mut mask = [0u8; 8];
                        mask.copy_from_slice(&m[1..]);
                        Some((rloc16, m[0], mask))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match granted {
            Some((rloc16, seq, mask))
                if rloc16 & 0x1ff == 0 && (rloc16 >> 10) as u8 <= MAX_ROUTER_ID =>
            {
                self.become_router(now, rloc16, seq, mask)
            }
            _ => {
                self.count(match &e {
                    CoapEvent::Timeout { .. } => "tmf: address solicit timed out",
                    CoapEvent::Reset { .. } => "tmf: address solicit reset",
                    CoapEvent::Response { .. } => "tmf: address solicit not granted",
                });
                self.pending_child = None;
                self.consider_upgrade(now);
            }
        }
    }

    /// The leader's `/a/as` (Thread 1.3 §5.9.10; unverified): a child of one of the
    /// partition's routers asks for a Router ID.
    pub(super) fn on_address_solicit(&mut self, now: Instant, inc: Incoming) {
        if self.role != Role::Leader {
            self.count("tmf: address solicit to a non-leader");
            return;
        }
        let ip = *inc.peer.ip();
        let from = locator16(&ip).filter(|_| ip.octets()[..8] == self.creds.mesh_local_prefix);
        let known_child = from
            .is_some_and(|r| r & 0x1ff != 0 && r < 0xfc00 && self.routes.mask[(r >> 10) as usize]);
        if !known_child {
            self.count("tmf: address solicit from a stranger");
            return;
        }
        let t = tmf_tlvs(&inc.request.payload);
        let get = |ty: u8| t.iter().find(|(k, _)| *k == ty).map(|(_, v)| v.clone());
        let Some(ext) = get(tmf_tlv::EXT_MAC_ADDRESS).and_then(|v| <[u8; 8]>::try_from(v).ok())
        else {
            self.count("tmf: malformed address solicit");
            return;
        };
        let ext = ExtAddress(ext);
        let wanted = get(tmf_tlv::RLOC16)
            .and_then(|v| <[u8; 2]>::try_from(v).ok())
            .map(|v| (u16::from_be_bytes(v) >> 10) as u8);
        let owned = self
            .routes
            .owners
            .iter()
            .find(|(_, (e, _))| *e == ext)
            .map(|(id, _)| *id);
        let free = |id: u8| id <= MAX_ROUTER_ID && !self.routes.mask[id as usize];
        let id = owned.or(wanted.filter(|w| free(*w))).or_else(|| {
            if self.routes.active_routers() >= MAX_ROUTERS {
                return None;
            }
            let frees: Vec<u8> = (0..=MAX_ROUTER_ID).filter(|i| free(*i)).collect();
            (!frees.is_empty()).then(|| frees[(self.rng.next_u32() as usize) % frees.len()])
        });
        let mut resp = Message::new(MessageType::Acknowledgement, Code::CHANGED, 0);
        match id {
            Some(id) => {
                if owned.is_none() {
                    self.routes.mask[id as usize] = true;
                    self.routes.owners.insert(id, (ext, now));
                    self.bump_id_sequence(now);
                    self.routes.reset_trickle(now, Duration::ZERO);
                }
                self.count("leader: router ID assigned");
                let r = self.route64();
                resp.payload = vec![tmf_tlv::STATUS, 1, STATUS_SUCCESS, tmf_tlv::RLOC16, 2];
                resp.payload
                    .extend_from_slice(&(u16::from(id) << 10).to_be_bytes());
                resp.payload
                    .extend_from_slice(&[tmf_tlv::ROUTER_MASK, 9, r.id_sequence]);
                resp.payload.extend_from_slice(&r.router_mask);
            }
            None => {
                self.count("leader: address solicit refused (no Router ID free)");
                resp.payload = vec![tmf_tlv::STATUS, 1, STATUS_NO_ADDRESS]
            }
        }
        self.tmf.respond(now, inc.peer, &inc.request, resp);
    }
}

/// The TMF TLVs of `b` (type, value), owned.
fn tmf_tlvs(b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    crate::thread::tmf::tlvs(b)
        .into_iter()
        .map(|(t, v)| (t, v.to_vec()))
        .collect()
}
