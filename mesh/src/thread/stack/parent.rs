//! A router's children (Thread 1.3 §4.7.1-§4.7.5 from the parent's side): Parent Response
//! after a random delay, Child ID Response to a Child ID Request whose Response TLV echoes
//! the challenge this parent sent, Child Update Response, child timeouts, and the indirect
//! queue of sleepy children.
//!
//! A router answers a Parent Request within a random delay below 500 ms, a REED (and a
//! router to a scan that includes REEDs) below 1 s (OpenThread `kParentResponseMaxDelayRouters`,
//! `kParentResponseMaxDelayAll`, checked in its source). Challenges it sent wait 6 s for their
//! Child ID Request (weft's choice).

use rand_core::RngCore;

use super::child::{
    challenge_of, find, response_of, source_of, MODE_RX_ON, SCAN_REEDS, SCAN_ROUTERS,
};
use super::link::DelayedMle;
use super::{Event, Node, Role};
use crate::thread::mac::ExtAddress;
use crate::thread::mle::{command as c, tlv_type, Connectivity, Tlv};
use crate::thread::wire::{link_margin, link_quality};
use crate::time::{Duration, Instant};

const PARENT_RESPONSE_MAX_DELAY: Duration = Duration::from_millis(500);
const REED_RESPONSE_MAX_DELAY: Duration = Duration::from_millis(1000);
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(6);
/// Challenges held at once (Parent Responses and Link Requests awaiting their answer).
const MAX_CHALLENGES: usize = 64;
/// Child IDs 1..=511 (Thread 1.3 §5.2.1.1: the low 9 bits of the RLOC16).
const MAX_CHILD_ID: u16 = 511;

/// A child of this router.
#[derive(Debug, Clone)]
pub(super) struct ChildEntry {
    pub ext: ExtAddress,
    pub rloc16: u16,
    pub mode: u8,
    pub timeout: Duration,
    pub last_heard: Instant,
    /// The mesh-local addresses it registered (Address Registration TLV), at most
    /// [`ADDRESSES_PER_CHILD`].
    pub addresses: Vec<std::net::Ipv6Addr>,
}

/// Addresses kept per child (OpenThread `OPENTHREAD_CONFIG_MLE_IP_ADDRS_PER_CHILD`, 4, checked).
pub(super) const ADDRESSES_PER_CHILD: usize = 4;

impl ChildEntry {
    pub fn rx_on(&self) -> bool {
        self.mode & MODE_RX_ON != 0
    }
    /// A Full Thread Device child answers Address Queries itself.
    pub fn ftd(&self) -> bool {
        self.mode & super::child::MODE_FTD != 0
    }
    /// The interface identifier of its ML-EID: its first registered address not a locator.
    pub fn ml_eid_iid(&self) -> [u8; 8] {
        self.addresses
            .iter()
            .find(|a| crate::thread::ip::addr::locator16(a).is_none())
            .map(|a| a.octets()[8..].try_into().unwrap_or([0; 8]))
            .unwrap_or([0; 8])
    }
}

/// What a challenge this node sent was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChallengeFor {
    /// A Parent Response to `ext`.
    Child(ExtAddress),
    /// A Link Request to `ext`, or to all routers (`None`).
    Link(Option<ExtAddress>),
}

/// A challenge awaiting its Response TLV.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub what: ChallengeFor,
    pub challenge: [u8; 8],
    pub expires: Instant,
}

impl<R: RngCore> Node<R> {
    pub(super) fn remember_challenge(&mut self, now: Instant, what: ChallengeFor) -> [u8; 8] {
        let challenge = self.challenge();
        self.challenges.retain(|p| p.what != what);
        if self.challenges.len() >= MAX_CHALLENGES {
            self.challenges.remove(0);
            self.count("mle: challenge table full (oldest dropped)");
        }
        self.challenges.push(Pending {
            what,
            challenge,
            expires: now + CHALLENGE_LIFETIME,
        });
        challenge
    }

    /// Whether `response` answers a challenge sent for `what` (the challenge is used up).
    pub(super) fn take_challenge(&mut self, what: ChallengeFor, response: &[u8]) -> bool {
        match self
            .challenges
            .iter()
            .position(|p| p.what == what && p.challenge[..] == *response)
        {
            Some(i) => {
                self.challenges.remove(i);
                true
            }
            None => false,
        }
    }

    fn is_router(&self) -> bool {
        matches!(self.role, Role::Router | Role::Leader)
    }

    pub(super) fn connectivity(&self) -> Connectivity {
        let (mut lq3, mut lq2, mut lq1) = (0u8, 0u8, 0u8);
        for lq in self.routes.neighbour_qualities() {
            match lq {
                3 => lq3 += 1,
                2 => lq2 += 1,
                1 => lq1 += 1,
                _ => {}
            }
        }
        let leader_cost = self
            .partition
            .and_then(|p| self.routes.route(p.leader_router_id).map(|r| r.1))
            .unwrap_or(0);
        Connectivity {
            flags: 0,
            link_quality_3: lq3,
            link_quality_2: lq2,
            link_quality_1: lq1,
            leader_cost,
            id_sequence: self.routes.id_sequence,
            active_routers: self.routes.active_routers(),
            sed: Some((1280, 1)),
        }
    }

    /// A REED: a router-eligible child that listens, and may become a router for a child.
    fn is_reed(&self) -> bool {
        self.role == Role::Child && self.cfg.router_eligible && self.cfg.rx_on_when_idle
    }

    pub(super) fn on_parent_request(&mut self, now: Instant, src: ExtAddress, tlvs: Vec<Tlv>) {
        if !self.is_router() && !self.is_reed() {
            return;
        }
        let scan = find(&tlvs, |t| match t {
            Tlv::ScanMask(s) => Some(*s),
            _ => None,
        });
        let (Some(scan), Some(theirs)) = (scan, challenge_of(&tlvs)) else {
            self.count("mle: parent request without a required TLV");
            return;
        };
        // A router answers the routers' scan, a REED only the scan that includes REEDs
        // (Thread 1.3 §4.4.15), later (OpenThread `kParentResponseMaxDelayAll`, 1 s).
        let (wanted, max_delay) = if self.is_router() {
            (SCAN_ROUTERS, PARENT_RESPONSE_MAX_DELAY)
        } else {
            (SCAN_REEDS, REED_RESPONSE_MAX_DELAY)
        };
        // A REED does not offer itself once the partition has MAX_ROUTERS routers: the leader
        // would refuse its Address Solicit and the child's Child ID Request go unanswered
        // (OpenThread `Mle::HandleParentRequest`, checked).
        if scan & wanted == 0
            || (self.is_reed() && self.routes.active_routers() >= super::router::MAX_ROUTERS)
        {
            return;
        }
        if self.children.len() >= self.cfg.max_children
            && !self.children.iter().any(|c| c.ext == src)
        {
            return;
        }
        let (Some(me), Some(p)) = (self.addrs.rloc16, self.partition) else {
            return;
        };
        let mine = self.remember_challenge(now, ChallengeFor::Child(src));
        let tlvs = vec![
            Tlv::SourceAddress(me),
            Tlv::LeaderData(p.leader_data()),
            Tlv::LinkFrameCounter(self.fc.next_mac),
            Tlv::MleFrameCounter(self.fc.next_mle),
            Tlv::Response(theirs),
            Tlv::Challenge(mine.to_vec()),
            Tlv::LinkMargin(link_margin(self.last_rssi)),
            Tlv::Connectivity(self.connectivity()),
            Tlv::Version(crate::thread::wire::THREAD_VERSION),
        ];
        let at = now + self.jitter(max_delay);
        self.delay_mle(
            at,
            DelayedMle {
                dst: crate::thread::wire::link_local(src),
                mac_dst: crate::thread::mac::Address::Extended(src),
                command: c::PARENT_RESPONSE,
                tlvs,
            },
        );
    }

    pub(super) fn on_child_id_request(&mut self, now: Instant, src: ExtAddress, tlvs: Vec<Tlv>) {
        if !self.is_router() && !self.is_reed() {
            return;
        }
        let Some(resp) = response_of(&tlvs) else {
            self.count("mle: child id request without a required TLV");
            return;
        };
        if !self.take_challenge(ChallengeFor::Child(src), &resp) {
            self.count("mle: wrong challenge response");
            return;
        }
        if self.is_reed() {
            // A REED becomes a router first, then answers (Thread 1.3 §4.7.1; OpenThread
            // asks for a Router ID with status "have child ID request").
            self.pending_child = Some((src, tlvs));
            self.solicit_now(now);
            return;
        }
        self.accept_child(now, src, tlvs);
    }

    /// A REED that became a router answers the Child ID Request it held.
    pub(super) fn answer_pending_child(&mut self, now: Instant) {
        if let Some((src, tlvs)) = self.pending_child.take() {
            self.accept_child(now, src, tlvs);
        }
    }

    fn accept_child(&mut self, now: Instant, src: ExtAddress, tlvs: Vec<Tlv>) {
        let mode = find(&tlvs, |t| match t {
            Tlv::Mode(m) => Some(*m),
            _ => None,
        });
        let timeout = find(&tlvs, |t| match t {
            Tlv::Timeout(s) => Some(*s),
            _ => None,
        });
        let (Some(mode), Some(timeout)) = (mode, timeout) else {
            self.count("mle: child id request without a required TLV");
            return;
        };
        let (Some(me), Some(p)) = (self.addrs.rloc16, self.partition) else {
            return;
        };
        let rloc16 = match self.children.iter().find(|c| c.ext == src) {
            Some(ch) => ch.rloc16,
            None => {
                if self.children.len() >= self.cfg.max_children {
                    self.count("mle: child table full");
                    return;
                }
                let Some(id) = (1..=MAX_CHILD_ID)
                    .find(|id| !self.children.iter().any(|c| c.rloc16 & 0x1ff == *id))
                else {
                    return;
                };
                me | id
            }
        };
        let timeout = Duration::from_secs(u64::from(timeout.clamp(1, 0x1_0000)));
        let requested = find(&tlvs, |t| match t {
            Tlv::TlvRequest(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_default();
        let mut out = vec![
            Tlv::SourceAddress(me),
            Tlv::LeaderData(p.leader_data()),
            Tlv::Address16(rloc16),
            Tlv::NetworkData(Vec::new()),
            Tlv::Timeout(timeout.as_micros().div_ceil(1_000_000) as u32),
        ];
        if requested.contains(&tlv_type::ROUTE64) {
            out.push(Tlv::Route64(self.route64()));
        }
        // Sent before the child is registered: a sleepy child still listens while attaching.
        self.children.retain(|c| c.ext != src);
        self.mle_to(now, Some(src), c::CHILD_ID_RESPONSE, out);
        self.children.retain(|c| c.ext != src);
        self.children.push(ChildEntry {
            ext: src,
            rloc16,
            mode,
            timeout,
            last_heard: now,
            addresses: Vec::new(),
        });
        self.register_addresses(src, &tlvs);
        if mode & MODE_RX_ON == 0 && self.indirect.add_child(src, Some(rloc16)).is_err() {
            self.count("mle: indirect table full");
        }
        self.event(Event::ChildAdded { ext: src, rloc16 });
    }

    pub(super) fn on_child_update_request(
        &mut self,
        now: Instant,
        src: ExtAddress,
        tlvs: Vec<Tlv>,
    ) {
        let Some(me) = self.addrs.rloc16.filter(|_| self.is_router()) else {
            return;
        };
        let challenge = challenge_of(&tlvs);
        let mut out = vec![Tlv::SourceAddress(me)];
        match self.children.iter_mut().find(|c| c.ext == src) {
            Some(ch) => {
                ch.last_heard = now;
                if let Some(m) = find(&tlvs, |t| match t {
                    Tlv::Mode(m) => Some(*m),
                    _ => None,
                }) {
                    ch.mode = m;
                }
                out.push(Tlv::Mode(ch.mode));
                out.push(Tlv::Timeout(
                    ch.timeout.as_micros().div_ceil(1_000_000) as u32
                ));
                if let Some(p) = self.partition {
                    out.push(Tlv::LeaderData(p.leader_data()));
                }
            }
            // Not a child of ours: Status error (Thread 1.3 §4.7.5; unverified).
            None => out.push(Tlv::Status(1)),
        }
        if let Some(ch) = challenge {
            out.push(Tlv::Response(ch));
        }
        let _ = source_of(&tlvs);
        self.register_addresses(src, &tlvs);
        self.mle_to(now, Some(src), c::CHILD_UPDATE_RESPONSE, out);
    }

    /// The addresses child `src` registers (Address Registration TLV; OpenThread
    /// `ProcessAddressRegistrationTlv`, checked): mesh-local ones under context 0, at most
    /// [`ADDRESSES_PER_CHILD`], each taken from any other child that had it. Without the TLV
    /// the registration stands.
    fn register_addresses(&mut self, src: ExtAddress, tlvs: &[Tlv]) {
        use crate::thread::mle::address_registration as ar;
        let entries = match ar::find(tlvs) {
            None => return,
            Some(None) => {
                self.count("mle: malformed address registration");
                return;
            }
            Some(Some(e)) => e,
        };
        let ml = self.creds.mesh_local_prefix;
        let mut addrs: Vec<std::net::Ipv6Addr> = entries
            .iter()
            .filter_map(|e| e.address(|c| (c == 0).then_some(ml)))
            .filter(|a| a.octets()[..8] == ml && !a.is_multicast())
            .collect();
        addrs.dedup();
        addrs.truncate(ADDRESSES_PER_CHILD);
        for c in self.children.iter_mut().filter(|c| c.ext != src) {
            c.addresses.retain(|a| !addrs.contains(a));
        }
        if let Some(c) = self.children.iter_mut().find(|c| c.ext == src) {
            c.addresses = addrs;
        }
    }

    /// Any authenticated frame from `src`: a child or neighbour is alive.
    pub(super) fn heard(&mut self, now: Instant, src: ExtAddress, rssi: Option<i8>) {
        if let Some(ch) = self.children.iter_mut().find(|c| c.ext == src) {
            ch.last_heard = now;
        }
        self.routes.heard(now, src, link_quality(link_margin(rssi)));
    }

    pub(super) fn child_timeouts(&mut self, now: Instant) {
        let mut gone = Vec::new();
        self.children.retain(|c| {
            let alive = now.saturating_since(c.last_heard) <= c.timeout;
            if !alive {
                gone.push((c.ext, c.rloc16));
            }
            alive
        });
        for (ext, rloc16) in gone {
            self.indirect.remove_child(ext);
            self.count("children timed out");
            self.event(Event::ChildRemoved { ext, rloc16 });
        }
    }
}
