//! A simplified Thread router (see the module documentation of `node` for what is simplified):
//! MLE Advertisements with Route64 from what it heard, Parent Responses and Child ID Responses
//! to children that attach, and the data its children send.

use std::collections::BTreeMap;

use rand_core::RngCore;

use super::wire::{self, Inbound};
use super::*;
use crate::thread::mle::{command, Connectivity, Route64};

/// Trickle's smallest interval for MLE Advertisements (Thread's ADVERTISEMENT_I_MIN, 1 s;
/// OpenThread `kAdvIntervalMin`).
const ADV_IMIN: Duration = Duration::from_secs(1);
/// Trickle's largest interval (ADVERTISEMENT_I_MAX, 32 s; OpenThread `kAdvIntervalMax`).
const ADV_IMAX: Duration = Duration::from_secs(32);
/// A neighbouring router not heard for this long is dropped (MAX_NEIGHBOR_AGE, 100 s).
const MAX_NEIGHBOR_AGE: Duration = Duration::from_secs(100);
/// Parent Responses wait a random delay up to this (OpenThread
/// `kParentResponseMaxDelayRouters`, 500 ms), so that routers answering one Parent Request do
/// not collide.
const PARENT_RESPONSE_MAX_DELAY: Duration = Duration::from_millis(500);
/// Children a router takes (OpenThread's default `OPENTHREAD_CONFIG_MLE_MAX_CHILDREN` is 10;
/// the scenarios give a router more).
pub const MAX_CHILDREN: usize = 64;
/// Parent Responses pending at once.
const MAX_PENDING: usize = 16;
/// Child timeout given in the Child ID Response, seconds.
const CHILD_TIMEOUT_S: u32 = 240;

/// The link quality a neighbour's silence allows: 3 when its last Advertisement is at most
/// one Imax (plus Trickle's spread) old, 2 when it missed about one, 1 when it missed about
/// two; past MAX_NEIGHBOR_AGE it is dropped.
pub fn recency_quality(age: Duration) -> u8 {
    match age.as_micros() {
        a if a <= 40_000_000 => 3,
        a if a <= 70_000_000 => 2,
        _ => 1,
    }
}

/// What a router knows of a neighbouring router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourRouter {
    pub ext: ExtAddress,
    pub last_heard: Instant,
    /// Advertisements heard from it.
    pub heard: u32,
    /// RSSI of the last one.
    pub rssi: Option<i8>,
    /// Link quality of the last Advertisement's link margin.
    pub margin_quality: u8,
    /// Link quality in: the margin's, lowered as Advertisements stop coming (see
    /// [`recency_quality`]); recomputed before each Advertisement of ours.
    pub lq_in: u8,
    /// Link quality out: what it reported of ours (0 until it reports us).
    pub lq_out: u8,
    /// Route costs it reported, by router ID (0: no route).
    pub costs: BTreeMap<u8, u8>,
}

/// A child of this router.
#[derive(Debug, Clone)]
struct ChildEntry {
    ext: ExtAddress,
    /// The challenge of our Parent Response, until the Child ID Request echoes it.
    challenge: Vec<u8>,
    rloc16: Option<u16>,
    last_frame_counter: Option<u32>,
}

/// A Parent Response to send.
#[derive(Debug, Clone)]
struct Pending {
    at: Instant,
    child: ExtAddress,
    their_challenge: Vec<u8>,
    margin: u8,
}

/// A simplified Thread router.
#[derive(Debug)]
pub struct Router<R> {
    pub(super) c: Common<R>,
    router_id: u8,
    interval: Duration,
    next_adv: Instant,
    neighbours: BTreeMap<u8, NeighbourRouter>,
    children: Vec<ChildEntry>,
    pending: Vec<Pending>,
    next_child_id: u16,
}

impl<R> std::fmt::Debug for Common<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Common")
            .field("ext", &self.ext)
            .field("rloc16", &self.rloc16)
            .finish_non_exhaustive()
    }
}

impl<R: RngCore> Router<R> {
    /// A router with `router_id` (its RLOC16 is `router_id << 10`), advertising from `start`.
    pub fn new(net: NetworkConfig, router_id: u8, ext: ExtAddress, rng: R, start: Instant) -> Self {
        let mut c = Common::new(net, ext, rng);
        c.rloc16 = Some(u16::from(router_id) << 10);
        let first = start + c.jitter(ADV_IMIN);
        Router {
            c,
            router_id,
            interval: ADV_IMIN,
            next_adv: first,
            neighbours: BTreeMap::new(),
            children: Vec::new(),
            pending: Vec::new(),
            next_child_id: 1,
        }
    }

    pub fn ext_address(&self) -> ExtAddress {
        self.c.ext
    }
    pub fn router_id(&self) -> u8 {
        self.router_id
    }
    pub fn rloc16(&self) -> u16 {
        u16::from(self.router_id) << 10
    }
    /// The neighbouring routers it knows, by router ID.
    pub fn neighbours(&self) -> &BTreeMap<u8, NeighbourRouter> {
        &self.neighbours
    }
    /// Its attached children: (extended address, RLOC16).
    pub fn children(&self) -> Vec<(ExtAddress, u16)> {
        self.children
            .iter()
            .filter_map(|c| c.rloc16.map(|r| (c.ext, r)))
            .collect()
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let p = self.pending.iter().map(|p| p.at).min();
        Some(p.map_or(self.next_adv, |p| p.min(self.next_adv)))
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_adv {
            self.expire(now);
            self.advertise();
            // Trickle (RFC 6206 §4.2) without suppression: I doubles up to Imax; the next
            // transmission is at a random point in [I/2, I).
            self.interval =
                Duration::from_micros((self.interval.as_micros() * 2).min(ADV_IMAX.as_micros()));
            let half = Duration::from_micros(self.interval.as_micros() / 2);
            self.next_adv = now + half + self.c.jitter(half);
        }
        let due: Vec<Pending> = {
            let (due, keep) = self.pending.drain(..).partition(|p| p.at <= now);
            self.pending = keep;
            due
        };
        for p in due {
            self.parent_response(p);
        }
    }

    fn expire(&mut self, now: Instant) {
        self.neighbours
            .retain(|_, n| now.saturating_since(n.last_heard) < MAX_NEIGHBOR_AGE);
        for n in self.neighbours.values_mut() {
            n.lq_in = n
                .margin_quality
                .min(recency_quality(now.saturating_since(n.last_heard)));
        }
    }

    /// The link quality both ways with a neighbour (the lower of in and out).
    fn two_way(n: &NeighbourRouter) -> u8 {
        n.lq_in.min(n.lq_out)
    }

    /// The cost to router `id` (and 0 when there is no route): direct, or through the
    /// neighbour whose reported cost plus link cost is lowest (OpenThread `FillRouteTlv`).
    pub fn route_cost(&self, id: u8) -> u8 {
        if id == self.router_id {
            return 1;
        }
        let mut best = self
            .neighbours
            .get(&id)
            .map_or(MAX_ROUTE_COST, |n| link_cost(Self::two_way(n)));
        for n in self.neighbours.values() {
            let lc = link_cost(Self::two_way(n));
            if let Some(&c) = n.costs.get(&id).filter(|&&c| c != 0) {
                best = best.min(lc.saturating_add(c));
            }
        }
        if best >= MAX_ROUTE_COST {
            0
        } else {
            best
        }
    }

    /// The Route64 TLV (Thread 1.3 §4.4.11): for each router of the partition, Link Quality
    /// Out and In of our link with it (0 when not a neighbour) and the route cost; our own
    /// entry is (0, 0, 1) as OpenThread writes it.
    pub fn route64(&self) -> Route64 {
        let mut mask = [0u8; 8];
        let mut data = Vec::new();
        for &id in &self.c.net.router_ids {
            mask[(id / 8) as usize] |= 0x80 >> (id % 8);
            let (out, inq) = match self.neighbours.get(&id) {
                Some(n) if id != self.router_id => (n.lq_out, n.lq_in),
                _ => (0, 0),
            };
            data.push((out << 6) | (inq << 4) | (self.route_cost(id) & 0x0f));
        }
        Route64 {
            id_sequence: self.c.net.id_sequence,
            router_mask: mask,
            route_data: data,
        }
    }

    /// An MLE Advertisement to ff02::1 (Thread 1.3 §4.5: Source Address, Leader Data,
    /// Route64).
    fn advertise(&mut self) {
        let tlvs = vec![
            Tlv::SourceAddress(self.rloc16()),
            Tlv::LeaderData(self.c.net.leader_data()),
            Tlv::Route64(self.route64()),
        ];
        self.c.send_mle(
            ALL_NODES,
            Address::Short(0xffff),
            command::ADVERTISEMENT,
            tlvs,
        );
    }

    pub(super) fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        let inb = match wire::read_frame(&frame.bytes, &mut self.c.keys, &self.c.ctx) {
            Ok(i) => i,
            Err(reason) => return self.c.drop(reason),
        };
        if inb.secured {
            return self.data(inb, frame.rssi);
        }
        let opened = match wire::read_mle(&inb, &mut self.c.keys) {
            Ok(o) => o,
            Err(reason) => return self.c.drop(reason),
        };
        let cmd = opened.payload.command;
        self.c.event(ThreadEvent::MleReceived {
            command: cmd,
            from: inb.mac_src,
            rssi: frame.rssi,
        });
        let tlvs = opened.payload.tlvs;
        match cmd {
            command::ADVERTISEMENT => self.heard_advertisement(now, &inb, &tlvs, frame.rssi),
            command::PARENT_REQUEST => self.parent_request(now, &inb, &tlvs, frame.rssi),
            command::CHILD_ID_REQUEST => self.child_id_request(&inb, &tlvs),
            _ => {}
        }
    }

    fn heard_advertisement(&mut self, now: Instant, inb: &Inbound, tlvs: &[Tlv], rssi: Option<i8>) {
        let mut src = None;
        let mut leader = None;
        let mut route = None;
        for t in tlvs {
            match t {
                Tlv::SourceAddress(a) => src = Some(*a),
                Tlv::LeaderData(l) => leader = Some(*l),
                Tlv::Route64(r) => route = Some(r),
                _ => {}
            }
        }
        let (Some(src), Some(leader), Some(route)) = (src, leader, route) else {
            return self
                .c
                .drop("Advertisement without Source Address, Leader Data or Route64");
        };
        if leader.partition_id != self.c.net.partition_id {
            return self.c.drop("Advertisement from another partition");
        }
        if src & 0x3ff != 0 {
            return self.c.drop("Advertisement from a child address");
        }
        let id = (src >> 10) as u8;
        if id == self.router_id {
            return;
        }
        let Some(entries) = route.entries() else {
            return self.c.drop("Route64 with route data not matching its mask");
        };
        let n = self.neighbours.entry(id).or_insert(NeighbourRouter {
            ext: inb.mac_src,
            last_heard: now,
            heard: 0,
            rssi,
            margin_quality: 0,
            lq_in: 0,
            lq_out: 0,
            costs: BTreeMap::new(),
        });
        n.ext = inb.mac_src;
        n.last_heard = now;
        n.heard += 1;
        n.rssi = rssi;
        n.margin_quality = link_quality(link_margin(rssi));
        n.lq_in = n.margin_quality;
        n.costs.clear();
        n.lq_out = 0;
        for (rid, _out, inq, cost) in entries {
            if rid == self.router_id {
                // What it hears of us is our link quality out.
                n.lq_out = inq;
            } else {
                n.costs.insert(rid, cost);
            }
        }
    }

    fn parent_request(&mut self, now: Instant, inb: &Inbound, tlvs: &[Tlv], rssi: Option<i8>) {
        let Some(challenge) = tlvs.iter().find_map(|t| match t {
            Tlv::Challenge(c) => Some(c.clone()),
            _ => None,
        }) else {
            return self.c.drop("Parent Request without Challenge");
        };
        // Scan Mask bit 7: routers are to answer (Thread 1.3 §4.4, Scan Mask TLV).
        let routers = tlvs
            .iter()
            .any(|t| matches!(t, Tlv::ScanMask(m) if m & 0x80 != 0));
        if !routers {
            return;
        }
        if self.children.iter().filter(|c| c.rloc16.is_some()).count() >= MAX_CHILDREN {
            return self.c.drop("child table full");
        }
        if self.pending.len() >= MAX_PENDING {
            return self.c.drop("too many Parent Responses pending");
        }
        let at = now + self.c.jitter(PARENT_RESPONSE_MAX_DELAY);
        self.pending.push(Pending {
            at,
            child: inb.mac_src,
            their_challenge: challenge,
            margin: link_margin(rssi),
        });
    }

    /// A Parent Response (Thread 1.3 §4.5: Source Address, Leader Data, Link-layer and MLE
    /// Frame Counters, Response, Challenge, Link Margin, Connectivity, Version).
    fn parent_response(&mut self, p: Pending) {
        let challenge = self.c.challenge();
        match self.children.iter_mut().find(|c| c.ext == p.child) {
            Some(c) => c.challenge = challenge.clone(),
            None => {
                if self.children.len() >= MAX_CHILDREN + MAX_PENDING {
                    // Candidates that never came back: forget the oldest.
                    if let Some(i) = self.children.iter().position(|c| c.rloc16.is_none()) {
                        self.children.remove(i);
                    }
                }
                self.children.push(ChildEntry {
                    ext: p.child,
                    challenge: challenge.clone(),
                    rloc16: None,
                    last_frame_counter: None,
                });
            }
        }
        let lq3 = self
            .neighbours
            .values()
            .filter(|n| Self::two_way(n) == 3)
            .count() as u8;
        let tlvs = vec![
            Tlv::SourceAddress(self.rloc16()),
            Tlv::LeaderData(self.c.net.leader_data()),
            Tlv::LinkFrameCounter(self.c.mac_frame_counter),
            Tlv::MleFrameCounter(self.c.mle_frame_counter),
            Tlv::Response(p.their_challenge),
            Tlv::Challenge(challenge),
            Tlv::LinkMargin(p.margin),
            Tlv::Connectivity(Connectivity {
                flags: 0,
                link_quality_3: lq3,
                link_quality_2: 0,
                link_quality_1: 0,
                leader_cost: self.route_cost(self.c.net.leader_router_id()),
                id_sequence: self.c.net.id_sequence,
                active_routers: self.c.net.router_ids.len() as u8,
                sed: None,
            }),
            Tlv::Version(THREAD_VERSION),
        ];
        self.c.send_mle(
            wire::link_local(p.child),
            Address::Extended(p.child),
            command::PARENT_RESPONSE,
            tlvs,
        );
    }

    /// A Child ID Request: check the Response against our challenge, give an Address16 and
    /// answer with a Child ID Response (Thread 1.3 §4.5: Source Address, Leader Data,
    /// Address16, Network Data, Timeout).
    fn child_id_request(&mut self, inb: &Inbound, tlvs: &[Tlv]) {
        let response = tlvs.iter().find_map(|t| match t {
            Tlv::Response(r) => Some(r.as_slice()),
            _ => None,
        });
        let Some(i) = self.children.iter().position(|c| c.ext == inb.mac_src) else {
            return self.c.drop("Child ID Request from an unknown child");
        };
        if response != Some(self.children[i].challenge.as_slice()) {
            return self.c.drop("Child ID Request with a wrong Response");
        }
        let rloc16 = match self.children[i].rloc16 {
            Some(r) => r,
            None => {
                if self.children.iter().filter(|c| c.rloc16.is_some()).count() >= MAX_CHILDREN {
                    return self.c.drop("child table full");
                }
                let r = self.rloc16() | self.next_child_id;
                self.next_child_id = (self.next_child_id % 511) + 1;
                self.children[i].rloc16 = Some(r);
                self.c.event(ThreadEvent::ChildAdded {
                    child: inb.mac_src,
                    rloc16: r,
                });
                r
            }
        };
        let timeout = tlvs
            .iter()
            .find_map(|t| match t {
                Tlv::Timeout(s) => Some(*s),
                _ => None,
            })
            .unwrap_or(CHILD_TIMEOUT_S);
        let tlvs = vec![
            Tlv::SourceAddress(self.rloc16()),
            Tlv::LeaderData(self.c.net.leader_data()),
            Tlv::Address16(rloc16),
            Tlv::NetworkData(Vec::new()),
            Tlv::Timeout(timeout),
        ];
        self.c.send_mle(
            inb.src,
            Address::Extended(inb.mac_src),
            command::CHILD_ID_RESPONSE,
            tlvs,
        );
    }

    /// A MAC-secured datagram: a child's CoAP message to us.
    fn data(&mut self, inb: Inbound, rssi: Option<i8>) {
        let Some(child) = self
            .children
            .iter_mut()
            .find(|c| c.ext == inb.mac_src && c.rloc16.is_some())
        else {
            return self
                .c
                .drop("secured frame from a node that is not our child");
        };
        let fc = inb.frame_counter.unwrap_or(0);
        if child.last_frame_counter.is_some_and(|l| fc <= l) {
            return self
                .c
                .drop("MAC frame counter not above the last (duplicate or replay)");
        }
        child.last_frame_counter = Some(fc);
        let src = child.rloc16.unwrap_or(0);
        if wire::rloc16_of(&inb.dst) != Some(self.rloc16()) || inb.dport != wire::COAP_PORT {
            return self.c.drop("data not for our RLOC's CoAP port");
        }
        match wire::coap_message_id(&inb.data) {
            Some(message_id) => self.c.event(ThreadEvent::DataReceived {
                src,
                message_id,
                rssi,
            }),
            None => self.c.drop("not a CoAP message"),
        }
    }
}
