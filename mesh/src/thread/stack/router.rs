//! The router and leader roles (Thread 1.3 ch. 5): MLE Advertisements on a Trickle timer
//! (RFC 6206) with Route64; link establishment with Link Request / Link Accept (and Request);
//! distance-vector routes over two-way link quality costs; a leader forming a partition and
//! releasing lost routers' IDs; partitions merging (the better-ranked one wins). The Address
//! Solicit that makes a REED a router is in `solicit.rs`.
//!
//! Constants (the specification's names as OpenThread's `mle_types.hpp` comments them, checked
//! in its source): ADVERTISEMENT_I_MIN 1 s, ADVERTISEMENT_I_MAX 32 s (at most: see
//! `TRICKLE_IMAX_PER_NEIGHBOUR`); MAX_NEIGHBOR_AGE 100 s;
//! MAX_ROUTERS 32; MAX_ROUTER_ID 62; MAX_ROUTE_COST 16; ROUTER_SELECTION_JITTER 120 s and
//! ROUTER_UPGRADE_THRESHOLD 16 ([`super::Config`]). Responses to a multicast Link Request
//! within a random 1 s (unverified).

use std::collections::BTreeMap;

use rand_core::RngCore;

use super::child::{challenge_of, find, leader_data_of, response_of, source_of};
use super::link::DelayedMle;
use super::parent::ChallengeFor;
use super::solicit::Solicit;
use super::{Node, Partition, Role};
use crate::thread::mac::{Address, ExtAddress};
use crate::thread::mle::{command as c, tlv_type, Route64, Tlv};
use crate::thread::wire::{link_cost, link_margin, link_quality, MAX_ROUTE_COST};
use crate::time::{Duration, Instant};

const TRICKLE_IMIN: Duration = Duration::from_secs(1);
/// I_MAX is 4 s per neighbouring router heard at link quality 2 or better, plus 4 s, within
/// 12..=32 s (OpenThread `Mle::DetermineAdvertiseIntervalMax`, `kAdvIntervalNeighborMultiplier`,
/// `kAdvIntervalMaxLowerBound`, `kAdvIntervalMaxUpperBound`, checked): a sparse mesh
/// advertises more often, and the leader's Router ID sequence crosses it sooner.
const TRICKLE_IMAX_PER_NEIGHBOUR: Duration = Duration::from_secs(4);
const TRICKLE_IMAX_LOWER: Duration = Duration::from_secs(12);
const TRICKLE_IMAX_UPPER: Duration = Duration::from_secs(32);
const MAX_NEIGHBOR_AGE: Duration = Duration::from_secs(100);
pub(super) const MAX_ROUTERS: u8 = 32;
const MAX_RESPONSE_DELAY: Duration = Duration::from_millis(1000);
/// A REED advertises (Source Address and Leader Data only) every REED_ADVERTISEMENT_INTERVAL
/// plus up to REED_ADVERTISEMENT_JITTER (570 s, 60 s, as OpenThread's `kReedAdvertiseInterval`
/// and `kReedAdvertiseJitter`, checked), so that a partition bordered only by another's
/// children learns of it and merges.
const REED_ADVERTISEMENT_INTERVAL: Duration = Duration::from_secs(570);
const REED_ADVERTISEMENT_JITTER: Duration = Duration::from_secs(60);
/// The leader releases the Router ID of a router it has had no route to for this long
/// (MAX_LEADER_TO_ROUTER_TIMEOUT, 90 s, as OpenThread's `kMaxLeaderToRouterTimeout`, checked).
const MAX_LEADER_TO_ROUTER_TIMEOUT: Duration = Duration::from_secs(90);
/// A router that has not heard of a newer Router ID sequence for this long forms a partition
/// of its own (NETWORK_ID_TIMEOUT, 120 s, as OpenThread's `kNetworkIdTimeout`, checked;
/// OpenThread detaches and attaches first).
const NETWORK_ID_TIMEOUT: Duration = Duration::from_secs(120);
/// The leader increments the Router ID sequence this often, so that its routers, however far
/// (beyond MAX_ROUTE_COST too), hear that it lives as the sequence spreads from neighbour to
/// neighbour in Route64 TLVs (OpenThread `RouterTable::kRouterIdSequencePeriod`, 10 s, and
/// `RouterTable::HandleTimeTick`, checked; the leader's Trickle is not reset for it).
const ROUTER_ID_SEQUENCE_PERIOD: Duration = Duration::from_secs(10);
/// Router IDs 0..=62 (Thread 1.3 §5.9.9).
pub(super) const MAX_ROUTER_ID: u8 = 62;

#[derive(Debug, Clone, Copy)]
struct Neighbour {
    ext: ExtAddress,
    lq_in: u8,
    lq_out: u8,
    last_heard: Instant,
    /// The neighbour's advertised route cost to each router ID (0: none).
    costs: [u8; 63],
}

impl Neighbour {
    fn cost(&self) -> u8 {
        link_cost(self.lq_in.min(self.lq_out))
    }
}

/// Trickle (RFC 6206 §4.2) with k = infinity (no suppression).
#[derive(Debug, Clone, Copy)]
struct Trickle {
    i: Duration,
    end: Instant,
    fire: Option<Instant>,
}

/// A router's view of the partition's routers.
#[derive(Debug, Clone)]
pub(super) struct RouterTable {
    pub id_sequence: u8,
    pub(super) mask: [bool; 63],
    /// The leader's allocations, and when each router was last reachable.
    pub(super) owners: BTreeMap<u8, (ExtAddress, Instant)>,
    neighbours: BTreeMap<u8, Neighbour>,
    trickle: Option<Trickle>,
    /// When the Router ID sequence last changed: a router's leader age (OpenThread
    /// `RouterTable::GetLeaderAge`), the leader's time of its last increment.
    leader_seen: Option<Instant>,
}

fn seq_newer(a: u8, b: u8) -> bool {
    (a.wrapping_sub(b) as i8) > 0
}

impl RouterTable {
    pub fn new() -> Self {
        RouterTable {
            id_sequence: 0,
            mask: [false; 63],
            owners: BTreeMap::new(),
            neighbours: BTreeMap::new(),
            trickle: None,
            leader_seen: None,
        }
    }

    pub fn clear(&mut self) {
        *self = RouterTable::new();
    }

    /// Every router of the partition but `own` this table reaches: (router ID, next hop, cost).
    pub fn reachable(&self, own: Option<u8>) -> Vec<(u8, u8, u8)> {
        (0..63u8)
            .filter(|&id| self.mask[id as usize] && Some(id) != own)
            .filter_map(|id| self.route(id).map(|(next, cost)| (id, next, cost)))
            .collect()
    }

    /// Router IDs of the link neighbours (routers heard in Link Accept / Advertisements).
    pub fn neighbour_ids(&self) -> Vec<u8> {
        self.neighbours.keys().copied().collect()
    }

    /// The extended address of neighbour router `id`.
    pub fn neighbour_ext(&self, id: u8) -> Option<ExtAddress> {
        self.neighbours.get(&id).map(|n| n.ext)
    }

    pub fn active_routers(&self) -> u8 {
        self.mask.iter().filter(|b| **b).count() as u8
    }

    pub fn neighbour_qualities(&self) -> impl Iterator<Item = u8> + '_ {
        self.neighbours.values().map(|n| n.lq_in.min(n.lq_out))
    }

    pub fn heard(&mut self, now: Instant, src: ExtAddress, lq: u8) {
        if let Some(n) = self.neighbours.values_mut().find(|n| n.ext == src) {
            n.last_heard = now;
            n.lq_in = lq;
        }
    }

    /// The next hop and cost to router `id`: the neighbour itself, or the neighbour whose
    /// advertised cost plus its link cost is least (Thread 1.3 §5.9.5; unverified).
    pub fn route(&self, id: u8) -> Option<(u8, u8)> {
        let mut best = self.neighbours.get(&id).map(|n| (id, n.cost()));
        for (&nid, n) in &self.neighbours {
            let c = *n.costs.get(id as usize)?;
            if c == 0 || nid == id {
                continue;
            }
            let total = n.cost().saturating_add(c);
            if best.is_none_or(|(_, b)| total < b) {
                best = Some((nid, total));
            }
        }
        best.filter(|(_, c)| *c < MAX_ROUTE_COST)
    }

    /// Takes the leader's Router ID set and sequence (`now`: the leader age restarts); whether
    /// a router was added (OpenThread `RouterTable::UpdateRouterIdSet` resets its Trickle
    /// timer then, not for a sequence alone).
    pub fn adopt_mask(&mut self, now: Instant, r: &Route64) -> bool {
        self.id_sequence = r.id_sequence;
        self.leader_seen = Some(now);
        let mut added = false;
        for id in 0..=MAX_ROUTER_ID {
            let set = r.router_mask[(id / 8) as usize] & (0x80 >> (id % 8)) != 0;
            added |= set && !self.mask[id as usize];
            self.mask[id as usize] = set;
        }
        let mask = self.mask;
        self.neighbours.retain(|id, _| mask[*id as usize]);
        added
    }

    pub(super) fn reset_trickle(&mut self, now: Instant, first: Duration) {
        self.trickle = Some(Trickle {
            i: TRICKLE_IMIN,
            end: now + TRICKLE_IMIN,
            fire: Some(now + first),
        });
    }
}

impl<R: RngCore> Node<R> {
    fn my_router_id(&self) -> Option<u8> {
        self.addrs.rloc16.map(|r| (r >> 10) as u8)
    }

    /// This router's Route64 TLV (Thread 1.3 §4.4.10): the leader's mask and, per router,
    /// link qualities for neighbours and the route cost (own entry: cost 1, unverified).
    pub(super) fn route64(&self) -> Route64 {
        let mut router_mask = [0u8; 8];
        let mut route_data = Vec::new();
        let me = self.my_router_id();
        for id in 0..=MAX_ROUTER_ID {
            if !self.routes.mask[id as usize] {
                continue;
            }
            router_mask[(id / 8) as usize] |= 0x80 >> (id % 8);
            let octet = if Some(id) == me {
                1
            } else {
                let (out, inq) = self
                    .routes
                    .neighbours
                    .get(&id)
                    .map_or((0, 0), |n| (n.lq_out, n.lq_in));
                let cost = self.routes.route(id).map_or(0, |(_, c)| c.min(15));
                (out << 6) | (inq << 4) | cost
            };
            route_data.push(octet);
        }
        Route64 {
            id_sequence: self.routes.id_sequence,
            router_mask,
            route_data,
        }
    }

    pub(super) fn router_timeout(&self) -> Option<Instant> {
        let t = self
            .routes
            .trickle
            .map(|t| t.fire.unwrap_or(t.end).min(t.end));
        let s = match self.solicit {
            Some(Solicit::At(at)) => Some(at),
            _ => None,
        };
        let r = self.reed_advert_at.filter(|_| self.role == Role::Child);
        [t, s, r].into_iter().flatten().min()
    }

    pub(super) fn router_timers(&mut self, now: Instant) {
        if let Some(mut t) = self.routes.trickle {
            if t.fire.is_some_and(|f| f <= now) {
                t.fire = None;
                self.routes.trickle = Some(t);
                self.send_advertisement(now);
            }
            if t.end <= now {
                t.i = (t.i + t.i).min(self.advertise_interval_max());
                let half = Duration::from_micros(t.i.as_micros() / 2);
                t.fire = Some(now + half + self.jitter(half));
                t.end = now + t.i;
                self.routes.trickle = Some(t);
            }
        }
        if let Some(at) = self.reed_advert_at.filter(|_| self.role == Role::Child) {
            if at <= now {
                let next =
                    now + REED_ADVERTISEMENT_INTERVAL + self.jitter(REED_ADVERTISEMENT_JITTER);
                self.reed_advert_at = Some(next);
                self.send_advertisement(now);
            }
        }
        if let Some(Solicit::At(at)) = self.solicit {
            if at <= now {
                self.solicit = None;
                self.send_address_solicit(now);
            }
        }
    }

    /// The leader's view of its routers: reachable ones are refreshed, one unreachable for
    /// MAX_LEADER_TO_ROUTER_TIMEOUT loses its Router ID (the router, if alive, sees its ID
    /// gone from the mask and attaches again).
    pub(super) fn release_lost_routers(&mut self, now: Instant) {
        if self.role == Role::Router
            && self
                .routes
                .leader_seen
                .is_some_and(|t| now.saturating_since(t) >= NETWORK_ID_TIMEOUT)
        {
            self.count("partition: leader unreachable");
            self.leave_role_for_leader(now);
        }
        if self.role != Role::Leader {
            return;
        }
        if self
            .routes
            .leader_seen
            .is_none_or(|t| now.saturating_since(t) >= ROUTER_ID_SEQUENCE_PERIOD)
        {
            self.bump_id_sequence(now);
        }
        let me = self.my_router_id();
        let reachable: Vec<u8> = self
            .routes
            .owners
            .keys()
            .copied()
            .filter(|id| Some(*id) == me || self.routes.route(*id).is_some())
            .collect();
        let mut released = false;
        self.routes.owners.retain(|id, (_, seen)| {
            if reachable.contains(id) {
                *seen = now;
            }
            let keep = now.saturating_since(*seen) <= MAX_LEADER_TO_ROUTER_TIMEOUT;
            released |= !keep;
            keep
        });
        if released {
            for id in 0..=MAX_ROUTER_ID {
                self.routes.mask[id as usize] = self.routes.owners.contains_key(&id);
            }
            self.bump_id_sequence(now);
            self.routes.reset_trickle(now, Duration::ZERO);
            self.count("leader: router IDs released");
        }
    }

    /// Trickle's I_MAX for Advertisements (see [`TRICKLE_IMAX_PER_NEIGHBOUR`]).
    fn advertise_interval_max(&self) -> Duration {
        let good = self
            .routes
            .neighbours
            .values()
            .filter(|n| n.lq_in >= 2)
            .count() as u64;
        let i = TRICKLE_IMAX_PER_NEIGHBOUR.as_micros() * (good + 1);
        Duration::from_micros(i.clamp(
            TRICKLE_IMAX_LOWER.as_micros(),
            TRICKLE_IMAX_UPPER.as_micros(),
        ))
    }

    /// The leader's Router ID set changed, or ROUTER_ID_SEQUENCE_PERIOD passed.
    pub(super) fn bump_id_sequence(&mut self, now: Instant) {
        self.routes.id_sequence = self.routes.id_sequence.wrapping_add(1);
        self.routes.leader_seen = Some(now);
    }

    pub(super) fn neighbour_timeouts(&mut self, now: Instant) {
        let before = self.routes.neighbours.len();
        self.routes
            .neighbours
            .retain(|_, n| now.saturating_since(n.last_heard) <= MAX_NEIGHBOR_AGE);
        let gone = before - self.routes.neighbours.len();
        for _ in 0..gone {
            self.count("neighbour routers timed out");
        }
    }

    fn send_advertisement(&mut self, now: Instant) {
        let (Some(me), Some(p)) = (self.addrs.rloc16, self.partition) else {
            return;
        };
        let mut tlvs = vec![Tlv::SourceAddress(me), Tlv::LeaderData(p.leader_data())];
        if matches!(self.role, Role::Router | Role::Leader) {
            tlvs.push(Tlv::Route64(self.route64()));
        }
        self.send_mle(
            now,
            DelayedMle {
                dst: crate::thread::ip::addr::LINK_LOCAL_ALL_NODES,
                mac_dst: Address::Short(0xffff),
                command: c::ADVERTISEMENT,
                tlvs,
            },
        );
    }

    /// Leaves the role (children and neighbours go) and forms a partition of its own.
    fn leave_role_for_leader(&mut self, now: Instant) {
        self.start_attach(now, None);
        self.attach = None;
        self.become_leader(now);
    }

    /// Forms a partition of its own with this node as leader (Thread 1.3 §5.16.1).
    pub(super) fn become_leader(&mut self, now: Instant) {
        let id = match self.state.last_rloc16 {
            Some(r) if r & 0x1ff == 0 && (r >> 10) as u8 <= MAX_ROUTER_ID => (r >> 10) as u8,
            _ => (self.rng.next_u32() % (u32::from(MAX_ROUTER_ID) + 1)) as u8,
        };
        self.routes.clear();
        self.routes.id_sequence = self.rng.next_u32() as u8;
        self.routes.leader_seen = Some(now);
        self.routes.mask[id as usize] = true;
        self.routes.owners.insert(id, (self.state.ext(), now));
        self.partition = Some(Partition {
            id: self.rng.next_u32(),
            weighting: 64,
            leader_router_id: id,
        });
        self.addrs.rloc16 = Some(u16::from(id) << 10);
        self.set_role(Role::Leader);
        self.routes.reset_trickle(now, Duration::ZERO);
    }

    pub(super) fn become_router(
        &mut self,
        now: Instant,
        rloc16: u16,
        id_sequence: u8,
        mask: [u8; 8],
    ) {
        self.parent = None;
        self.poller.stop();
        self.addrs.rloc16 = Some(rloc16);
        let _ = self.routes.adopt_mask(
            now,
            &Route64 {
                id_sequence,
                router_mask: mask,
                route_data: Vec::new(),
            },
        );
        self.set_role(Role::Router);
        self.reed_advert_at = None;
        let first = self.jitter(TRICKLE_IMIN);
        self.routes.reset_trickle(now, first);
        self.send_link_request(now, None);
        self.answer_pending_child(now);
    }

    fn send_link_request(&mut self, now: Instant, to: Option<ExtAddress>) {
        let (Some(me), Some(p)) = (self.addrs.rloc16, self.partition) else {
            return;
        };
        let challenge = self.remember_challenge(now, ChallengeFor::Link(to));
        let tlvs = vec![
            Tlv::SourceAddress(me),
            Tlv::LeaderData(p.leader_data()),
            Tlv::Challenge(challenge.to_vec()),
            Tlv::Version(crate::thread::wire::THREAD_VERSION),
            Tlv::TlvRequest(vec![tlv_type::LINK_MARGIN, tlv_type::ROUTE64]),
        ];
        self.mle_to(now, to, c::LINK_REQUEST, tlvs);
    }

    pub(super) fn on_advertisement(&mut self, now: Instant, src: ExtAddress, tlvs: Vec<Tlv>) {
        let (Some(rloc16), Some(ld)) = (source_of(&tlvs), leader_data_of(&tlvs)) else {
            self.count("mle: advertisement without a required TLV");
            return;
        };
        // A REED's Advertisement (a child's RLOC16, no Route64) only tells its partition.
        let from_reed = rloc16 & 0x1ff != 0;
        let theirs = Partition::from_leader_data(&ld);
        let route = find(&tlvs, |t| match t {
            Tlv::Route64(r) => Some(r.clone()),
            _ => None,
        });
        let Some(mine) = self.partition else {
            return;
        };
        if theirs.id != mine.id {
            match self.role {
                Role::Child if self.parent.as_ref().is_some_and(|p| p.ext == src) => {
                    self.parent_moved(now)
                }
                // Routers and REEDs merge (OpenThread `MleRouter::HandleAdvertisement` on an
                // FTD, children included); an end device follows its parent.
                Role::Router | Role::Leader | Role::Child
                    if self.cfg.router_eligible && self.cfg.rx_on_when_idle =>
                {
                    // A REED's Advertisement has no Route64 and counts as no singleton (OpenThread
                    // `MleRouter::IsSingleton(RouteTlv)`).
                    let their_singleton = match &route {
                        Some(r) => r.router_ids().len() <= 1,
                        None => !from_reed,
                    };
                    let theirs = theirs.rank(their_singleton);
                    let mine = mine.rank(self.routes.active_routers() <= 1);
                    if theirs > mine {
                        self.count("partition: merging into a better partition");
                        self.start_attach(now, Some(mine));
                    }
                }
                _ => {}
            }
            return;
        }
        if from_reed {
            return;
        }
        if let Some(r) = &route {
            if self.role != Role::Leader && seq_newer(r.id_sequence, self.routes.id_sequence) {
                let added = self.routes.adopt_mask(now, r);
                if self.role == Role::Router
                    && self
                        .my_router_id()
                        .is_some_and(|id| !self.routes.mask[id as usize])
                {
                    self.count("partition: router ID released by the leader");
                    self.start_attach(now, None);
                    return;
                }
                if added && self.routes.trickle.is_some() {
                    let first = self.jitter(TRICKLE_IMIN);
                    self.routes.reset_trickle(now, first);
                }
            }
        }
        match self.role {
            Role::Child => self.consider_upgrade(now),
            Role::Router | Role::Leader => {
                let id = (rloc16 >> 10) as u8;
                let me = self.my_router_id();
                match self.routes.neighbours.get_mut(&id) {
                    Some(n) if n.ext == src => {
                        if let Some(entries) = route.as_ref().and_then(|r| r.entries()) {
                            n.costs = [0; 63];
                            for (rid, _out, inq, cost) in entries {
                                if Some(rid) == me {
                                    n.lq_out = inq;
                                }
                                if let Some(c) = n.costs.get_mut(rid as usize) {
                                    *c = cost;
                                }
                            }
                        }
                    }
                    _ => {
                        let pending = self
                            .challenges
                            .iter()
                            .any(|p| p.what == ChallengeFor::Link(Some(src)));
                        if !pending && self.routes.mask.get(id as usize) == Some(&true) {
                            self.send_link_request(now, Some(src));
                        }
                    }
                }
            }
            Role::Detached => {}
        }
    }

    pub(super) fn on_link_request(
        &mut self,
        now: Instant,
        src: ExtAddress,
        multicast: bool,
        tlvs: Vec<Tlv>,
    ) {
        if !matches!(self.role, Role::Router | Role::Leader) {
            return;
        }
        let (Some(theirs), Some(rloc16), Some(ld)) =
            (challenge_of(&tlvs), source_of(&tlvs), leader_data_of(&tlvs))
        else {
            self.count("mle: link request without a required TLV");
            return;
        };
        let (Some(me), Some(p)) = (self.addrs.rloc16, self.partition) else {
            return;
        };
        if ld.partition_id != p.id || rloc16 & 0x1ff != 0 {
            return;
        }
        // A child of ours that became a router.
        if let Some(i) = self.children.iter().position(|ch| ch.ext == src) {
            let ch = self.children.remove(i);
            self.indirect.remove_child(ch.ext);
            self.event(super::Event::ChildRemoved {
                ext: ch.ext,
                rloc16: ch.rloc16,
            });
        }
        let id = (rloc16 >> 10) as u8;
        let known = self
            .routes
            .neighbours
            .get(&id)
            .is_some_and(|n| n.ext == src);
        let mut out = vec![
            Tlv::SourceAddress(me),
            Tlv::LeaderData(p.leader_data()),
            Tlv::Response(theirs),
            Tlv::LinkFrameCounter(self.fc.next_mac),
            Tlv::MleFrameCounter(self.fc.next_mle),
            Tlv::Version(crate::thread::wire::THREAD_VERSION),
            Tlv::LinkMargin(link_margin(self.last_rssi)),
            Tlv::Route64(self.route64()),
        ];
        let command = if known {
            c::LINK_ACCEPT
        } else {
            let mine = self.remember_challenge(now, ChallengeFor::Link(Some(src)));
            out.push(Tlv::Challenge(mine.to_vec()));
            c::LINK_ACCEPT_AND_REQUEST
        };
        let d = DelayedMle {
            dst: crate::thread::wire::link_local(src),
            mac_dst: Address::Extended(src),
            command,
            tlvs: out,
        };
        if multicast {
            let at = now + self.jitter(MAX_RESPONSE_DELAY);
            self.delay_mle(at, d);
        } else {
            self.send_mle(now, d);
        }
    }

    pub(super) fn on_link_accept(
        &mut self,
        now: Instant,
        src: ExtAddress,
        command: u8,
        tlvs: Vec<Tlv>,
    ) {
        if !matches!(self.role, Role::Router | Role::Leader) {
            return;
        }
        let margin = find(&tlvs, |t| match t {
            Tlv::LinkMargin(m) => Some(*m),
            _ => None,
        });
        let (Some(resp), Some(rloc16), Some(ld), Some(margin)) = (
            response_of(&tlvs),
            source_of(&tlvs),
            leader_data_of(&tlvs),
            margin,
        ) else {
            self.count("mle: link accept without a required TLV");
            return;
        };
        let multicast_ok = self
            .challenges
            .iter()
            .any(|p| p.what == ChallengeFor::Link(None) && p.challenge[..] == resp[..]);
        if !multicast_ok && !self.take_challenge(ChallengeFor::Link(Some(src)), &resp) {
            self.count("mle: wrong challenge response");
            return;
        }
        let (Some(me), Some(p)) = (self.addrs.rloc16, self.partition) else {
            return;
        };
        if ld.partition_id != p.id || rloc16 & 0x1ff != 0 || (rloc16 >> 10) as u8 > MAX_ROUTER_ID {
            return;
        }
        let id = (rloc16 >> 10) as u8;
        let mut n = Neighbour {
            ext: src,
            lq_in: link_quality(link_margin(self.last_rssi)),
            lq_out: link_quality(margin),
            last_heard: now,
            costs: [0; 63],
        };
        if let Some(r) = find(&tlvs, |t| match t {
            Tlv::Route64(r) => Some(r.clone()),
            _ => None,
        }) {
            if self.role != Role::Leader && seq_newer(r.id_sequence, self.routes.id_sequence) {
                let _ = self.routes.adopt_mask(now, &r);
            }
            for (rid, _, _, cost) in r.entries().unwrap_or_default() {
                if let Some(c) = n.costs.get_mut(rid as usize) {
                    *c = cost;
                }
            }
        }
        self.routes.neighbours.insert(id, n);
        if command == c::LINK_ACCEPT_AND_REQUEST {
            let Some(theirs) = challenge_of(&tlvs) else {
                return;
            };
            let out = vec![
                Tlv::SourceAddress(me),
                Tlv::LeaderData(p.leader_data()),
                Tlv::Response(theirs),
                Tlv::LinkFrameCounter(self.fc.next_mac),
                Tlv::MleFrameCounter(self.fc.next_mle),
                Tlv::Version(crate::thread::wire::THREAD_VERSION),
                Tlv::LinkMargin(link_margin(self.last_rssi)),
            ];
            self.mle_to(now, Some(src), c::LINK_ACCEPT, out);
        }
    }
}
