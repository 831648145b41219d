//! Address Query (Thread 1.3 §5.5; section numbers unverified): a router finds the RLOC16 an
//! EID (an ML-EID) is reached at. It asks all routers (`/a/aq`, non-confirmable, to the
//! realm-local all-routers group ff03::2, carried by MPL: `mpl.rs`); the owner, or the parent
//! of the MTD child that registered it (Address Registration TLV, `parent.rs`), answers with
//! `/a/an` (confirmable, to the asker's RLOC): Target EID, ML-EID, RLOC16 and, from a parent,
//! Time Since Last Transaction. Answers fill a bounded EID-to-RLOC cache; datagrams wait for
//! theirs. `/a/ae` (Address Error) reports an EID claimed by two ML-EIDs.
//!
//! As OpenThread's `address_resolver.cpp` (checked): a query waits ADDRESS_QUERY_TIMEOUT;
//! unanswered, the EID is not asked again (its datagrams dropped) for a retry delay starting
//! at ADDRESS_QUERY_INITIAL_RETRY_DELAY and doubling to ADDRESS_QUERY_MAX_RETRY_DELAY; a
//! parent answers for its child with its own RLOC16 (and delivers the datagram to the child,
//! `link.rs`); two notifications from different ML-EIDs for a cached EID bring an Address
//! Error to ff03::2; an ICMPv6 Destination Unreachable "no route" about an EID removes its
//! entry (a node moved), and so does a cached RLOC16 with no route; the next datagram asks
//! again.

use std::net::{Ipv6Addr, SocketAddrV6};

use rand_core::RngCore;

use super::{Node, Role};
use crate::thread::coap::{Code, Incoming, Message, MessageType};
use crate::thread::ip::addr::REALM_LOCAL_ALL_ROUTERS;
use crate::thread::ip::udp::udp_datagram;
use crate::thread::ip::DEFAULT_HOP_LIMIT;
use crate::thread::tmf::AddressTlvs;
use crate::time::{Duration, Instant};

/// Cache entries (OpenThread `OPENTHREAD_CONFIG_TMF_ADDRESS_CACHE_ENTRIES`, 32 without the
/// border router, checked).
pub(super) const CACHE_ENTRIES: usize = 32;
/// ADDRESS_QUERY_TIMEOUT (OpenThread `OPENTHREAD_CONFIG_TMF_ADDRESS_QUERY_TIMEOUT`, 3 s,
/// checked).
pub(super) const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// ADDRESS_QUERY_INITIAL_RETRY_DELAY (OpenThread's, 15 s, checked).
pub(super) const INITIAL_RETRY_DELAY: Duration = Duration::from_secs(15);
/// ADDRESS_QUERY_MAX_RETRY_DELAY (OpenThread `OPENTHREAD_CONFIG_TMF_ADDRESS_QUERY_MAX_RETRY_DELAY`,
/// 120 s in its source; the Thread specification's is 28800 s, unverified).
pub(super) const MAX_RETRY_DELAY: Duration = Duration::from_secs(120);
/// At most one ICMPv6 error per this interval (RFC 4443 §2.4 f asks for a limit; the value is
/// weft's choice).
pub(super) const ICMP_ERROR_INTERVAL: Duration = Duration::from_millis(100);
/// Datagrams waiting for one query; beyond, the oldest is dropped (weft's bound; OpenThread
/// holds them in its send queue).
pub(super) const PENDING_PER_QUERY: usize = 4;

/// Where an EID stands.
#[derive(Debug, Clone)]
enum State {
    Cached {
        rloc16: u16,
        ml_eid_iid: [u8; 8],
        /// From a parent's notification (OpenThread keeps it to choose between answers).
        last_transaction: Option<u32>,
    },
    Query {
        deadline: Instant,
        pending: Vec<Vec<u8>>,
    },
    /// Unanswered: not asked again before `until`.
    Retry { until: Instant },
}

#[derive(Debug, Clone)]
struct Entry {
    eid: Ipv6Addr,
    state: State,
    retry_delay: Duration,
    used: Instant,
}

/// The EID-to-RLOC cache.
#[derive(Debug, Clone, Default)]
pub(super) struct Resolver {
    entries: Vec<Entry>,
}

impl Resolver {
    fn get(&mut self, eid: &Ipv6Addr) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.eid == *eid)
    }

    pub(super) fn remove(&mut self, eid: &Ipv6Addr) -> bool {
        let n = self.entries.len();
        self.entries.retain(|e| e.eid != *eid);
        n != self.entries.len()
    }

    /// Forgets every entry (a new partition, a role lost).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The resolved entries: (EID, RLOC16).
    pub(super) fn cached(&self) -> Vec<(Ipv6Addr, u16)> {
        self.entries
            .iter()
            .filter_map(|e| match e.state {
                State::Cached { rloc16, .. } => Some((e.eid, rloc16)),
                _ => None,
            })
            .collect()
    }

    pub(super) fn timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter_map(|e| match e.state {
                State::Query { deadline, .. } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Room for one more entry: an expired retry first, then the least recently used cached
    /// or retrying one; a query in flight is never evicted. `false` when all are.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.entries.len() < CACHE_ENTRIES {
            return true;
        }
        let victim = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !matches!(e.state, State::Query { .. }))
            .min_by_key(|(_, e)| match e.state {
                State::Retry { until } if until <= now => (0, e.used),
                _ => (1, e.used),
            })
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                self.entries.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

impl<R: RngCore> Node<R> {
    /// The EID-to-RLOC cache's resolved entries: (EID, RLOC16 it is reached at).
    pub fn address_cache(&self) -> Vec<(Ipv6Addr, u16)> {
        self.resolver.cached()
    }

    /// Sends `datagram` to the mesh-local EID `eid` (a router): to its cached RLOC16, or
    /// after asking where it is.
    pub(super) fn send_to_eid(&mut self, now: Instant, datagram: Vec<u8>, eid: Ipv6Addr) {
        if let Some(r) = self.child_with_address(&eid) {
            self.route_datagram(now, &datagram, r);
            return;
        }
        let Some(e) = self.resolver.get(&eid) else {
            if !self.resolver.make_room(now) {
                self.count("tx: address cache full of queries");
                return;
            }
            self.resolver.entries.push(Entry {
                eid,
                state: State::Query {
                    deadline: now + QUERY_TIMEOUT,
                    pending: vec![datagram],
                },
                retry_delay: INITIAL_RETRY_DELAY,
                used: now,
            });
            self.send_address_query(now, eid);
            return;
        };
        e.used = now;
        match &mut e.state {
            State::Cached { rloc16, .. } => {
                let r = *rloc16;
                if self.next_hop(r).is_none() {
                    // The router it was behind is gone: ask again.
                    self.resolver.remove(&eid);
                    self.count("address cache: entry without a route removed");
                    self.send_to_eid(now, datagram, eid);
                    return;
                }
                self.route_datagram(now, &datagram, r);
            }
            State::Query { pending, .. } => {
                let full = pending.len() >= PENDING_PER_QUERY;
                if full {
                    pending.remove(0);
                }
                pending.push(datagram);
                if full {
                    self.count("tx: datagram awaiting an address query dropped");
                }
            }
            State::Retry { until } if *until > now => {
                self.count("tx: address query backing off (datagram dropped)");
            }
            State::Retry { .. } => {
                e.state = State::Query {
                    deadline: now + QUERY_TIMEOUT,
                    pending: vec![datagram],
                };
                self.send_address_query(now, eid);
            }
        }
    }

    /// A datagram that came from `originator` (its mesh header's, or the MAC source of a
    /// secured frame without one): a router moves a cached
    /// entry of its source EID there, or learns it when it has no entry and room without
    /// evicting (OpenThread `UpdateSnoopedCacheEntry`, checked; it also keeps a few snooped
    /// entries from eviction for 3 s, which weft does not).
    pub(super) fn snoop(
        &mut self,
        now: Instant,
        datagram: &[u8],
        originator: crate::thread::mac::Address,
    ) {
        let crate::thread::mac::Address::Short(o) = originator else {
            return;
        };
        if !matches!(self.role, Role::Router | Role::Leader) {
            return;
        }
        let Ok(h) = crate::thread::lowpan::Ipv6Header::parse(datagram) else {
            return;
        };
        let src = h.src;
        if src.octets()[..8] != self.creds.mesh_local_prefix
            || crate::thread::ip::addr::locator16(&src).is_some()
        {
            return;
        }
        // A cached entry follows its EID (OpenThread `UpdateCacheEntry`).
        if let Some(e) = self.resolver.get(&src) {
            if let State::Cached { rloc16, .. } = &mut e.state {
                *rloc16 = o;
            }
            return;
        }
        if Some(o) == self.addrs.rloc16
            || self.children.iter().any(|c| c.rloc16 == o)
            || self.resolver.entries.len() >= CACHE_ENTRIES
        {
            return;
        }
        self.resolver.entries.push(Entry {
            eid: src,
            state: State::Cached {
                rloc16: o,
                ml_eid_iid: src.octets()[8..].try_into().unwrap_or([0; 8]),
                last_transaction: None,
            },
            retry_delay: INITIAL_RETRY_DELAY,
            used: now,
        });
    }

    /// `/a/aq`: non-confirmable POST with the Target EID, from the RLOC to ff03::2 (OpenThread
    /// `SendAddressQuery`, checked).
    fn send_address_query(&mut self, now: Instant, eid: Ipv6Addr) {
        let tlvs = AddressTlvs {
            target: eid,
            ml_eid_iid: None,
            rloc16: None,
            last_transaction_secs: None,
        };
        self.count("tmf: address queries sent");
        self.send_tmf_non(now, REALM_LOCAL_ALL_ROUTERS, "a/aq", tlvs.to_vec());
    }

    /// A non-confirmable TMF POST (no answer awaited), from the RLOC.
    fn send_tmf_non(&mut self, now: Instant, dst: Ipv6Addr, path: &str, payload: Vec<u8>) {
        let Some(src) = self.addrs.rloc() else {
            self.count("tx: TMF without an RLOC");
            return;
        };
        let mut msg = Message::request(MessageType::NonConfirmable, Code::POST, path);
        msg.message_id = self.rng.next_u32() as u16;
        let _ = msg.set_token(&self.rng.next_u32().to_be_bytes()[..2]);
        msg.payload = payload;
        let d = udp_datagram(
            SocketAddrV6::new(src, super::ip::TMF_PORT, 0, 0),
            SocketAddrV6::new(dst, super::ip::TMF_PORT, 0, 0),
            DEFAULT_HOP_LIMIT,
            &crate::wire::Wire::to_vec(&msg),
        );
        self.send_ip(now, d);
    }

    /// Queries unanswered for ADDRESS_QUERY_TIMEOUT: their datagrams dropped, the EID left
    /// alone for the retry delay, which doubles.
    pub(super) fn query_timers(&mut self, now: Instant) {
        let mut dropped = 0;
        for e in &mut self.resolver.entries {
            if let State::Query { deadline, pending } = &e.state {
                if *deadline <= now {
                    dropped += pending.len();
                    e.state = State::Retry {
                        until: now + e.retry_delay,
                    };
                    e.retry_delay = (e.retry_delay + e.retry_delay).min(MAX_RETRY_DELAY);
                }
            }
        }
        for _ in 0..dropped {
            self.count("tx: address query unanswered (datagram dropped)");
        }
    }

    /// The RLOC16 of the child that registered `addr` (or has it as its RLOC).
    pub(super) fn child_with_address(&self, addr: &Ipv6Addr) -> Option<u16> {
        if !matches!(self.role, Role::Router | Role::Leader) {
            return None;
        }
        self.children
            .iter()
            .find(|c| c.addresses.contains(addr))
            .map(|c| c.rloc16)
    }

    /// `/a/aq` heard: the owner answers, and the parent of an MTD child that registered the
    /// target (OpenThread `HandleTmf<kUriAddressQuery>`, checked).
    pub(super) fn on_address_query(&mut self, now: Instant, inc: Incoming) {
        if inc.request.mtype != MessageType::NonConfirmable || inc.request.code != Code::POST {
            self.count("tmf: address query not a non-confirmable POST");
            return;
        }
        let Ok(q) = AddressTlvs::parse(&inc.request.payload) else {
            self.count("tmf: malformed address query");
            return;
        };
        let Some(me) = self.addrs.rloc16 else {
            return;
        };
        let answer = if q.target == self.addrs.ml_eid() {
            Some((self.addrs.ml_eid_iid, None))
        } else {
            self.children
                .iter()
                .find(|c| !c.ftd() && c.addresses.contains(&q.target))
                .map(|c| {
                    let secs = now.saturating_since(c.last_heard).as_micros() / 1_000_000;
                    (c.ml_eid_iid(), Some(secs.min(u64::from(u32::MAX)) as u32))
                })
                .filter(|_| matches!(self.role, Role::Router | Role::Leader))
        };
        let Some((iid, last)) = answer else {
            return;
        };
        let n = AddressTlvs {
            target: q.target,
            ml_eid_iid: Some(iid),
            rloc16: Some(me),
            last_transaction_secs: last,
        };
        let mut msg = Message::request(MessageType::Confirmable, Code::POST, "a/an");
        msg.payload = n.to_vec();
        match self.tmf.request(now, inc.peer, msg) {
            Ok(_) => self.count("tmf: address notifications sent"),
            Err(_) => self.count("tmf: address notification not sent"),
        }
    }

    /// `/a/an` (OpenThread `HandleTmf<kUriAddressNotify>`, checked): fills an entry asked
    /// about, sends what waited for it, and acknowledges.
    pub(super) fn on_address_notification(&mut self, now: Instant, inc: Incoming) {
        if inc.request.mtype != MessageType::Confirmable || inc.request.code != Code::POST {
            self.count("tmf: address notification not a confirmable POST");
            return;
        }
        let n = match AddressTlvs::parse(&inc.request.payload) {
            Ok(AddressTlvs {
                target,
                ml_eid_iid: Some(iid),
                rloc16: Some(rloc16),
                last_transaction_secs,
            }) => (target, iid, rloc16, last_transaction_secs.unwrap_or(0)),
            _ => {
                self.count("tmf: malformed address notification");
                return;
            }
        };
        let (target, iid, rloc16, last) = n;
        let Some(e) = self.resolver.get(&target) else {
            self.count("tmf: address notification not asked for");
            return;
        };
        if let State::Cached {
            ml_eid_iid,
            last_transaction: Some(prev),
            ..
        } = e.state
        {
            if ml_eid_iid != iid {
                // Two owners of one EID (Thread 1.3 §5.5.4; OpenThread sends the error to
                // ff03::2).
                self.count("tmf: address notifications from two ML-EIDs");
                self.send_address_error(now, target, iid);
                return;
            }
            if last >= prev {
                return;
            }
        }
        let pending = match std::mem::replace(
            &mut e.state,
            State::Cached {
                rloc16,
                ml_eid_iid: iid,
                last_transaction: Some(last),
            },
        ) {
            State::Query { pending, .. } => pending,
            _ => Vec::new(),
        };
        e.retry_delay = INITIAL_RETRY_DELAY;
        e.used = now;
        self.count("tmf: address notifications accepted");
        self.tmf.acknowledge(now, inc.peer, &inc.request);
        for d in pending {
            self.route_datagram(now, &d, rloc16);
        }
    }

    /// `/a/ae` to ff03::2 (non-confirmable): `target` is claimed by the ML-EID `iid` too.
    fn send_address_error(&mut self, now: Instant, target: Ipv6Addr, iid: [u8; 8]) {
        let e = AddressTlvs {
            target,
            ml_eid_iid: Some(iid),
            rloc16: None,
            last_transaction_secs: None,
        };
        self.count("tmf: address errors sent");
        self.send_tmf_non(now, REALM_LOCAL_ALL_ROUTERS, "a/ae", e.to_vec());
    }

    /// `/a/ae` (OpenThread `HandleTmf<kUriAddressError>`, checked): the target is another
    /// ML-EID's. This node's own ML-EID is counted (OpenThread drops the address; weft keeps
    /// its persisted one); a child's registration is dropped; a cache entry is forgotten so
    /// that the next datagram asks again.
    pub(super) fn on_address_error(&mut self, now: Instant, inc: Incoming) {
        if inc.request.code != Code::POST {
            self.count("tmf: address error not a POST");
            return;
        }
        if inc.request.mtype == MessageType::Confirmable {
            self.tmf.acknowledge(now, inc.peer, &inc.request);
        }
        let (target, iid) = match AddressTlvs::parse(&inc.request.payload) {
            Ok(AddressTlvs {
                target,
                ml_eid_iid: Some(iid),
                ..
            }) => (target, iid),
            _ => {
                self.count("tmf: malformed address error");
                return;
            }
        };
        self.count("tmf: address errors received");
        if target == self.addrs.ml_eid() && iid != self.addrs.ml_eid_iid {
            self.count("address error: this node's ML-EID claimed by another");
            return;
        }
        for c in &mut self.children {
            if c.ml_eid_iid() != iid && c.addresses.contains(&target) {
                c.addresses.retain(|a| *a != target);
            }
        }
        if self.resolver.remove(&target) {
            self.count("address cache: entry removed on an address error");
        }
    }

    /// A router's datagram not for itself (`secured`): to a child that registered the
    /// destination, it goes on to the child; from a child, it goes where the destination is
    /// (asking first); otherwise it reached the RLOC16 its sender resolved and the
    /// destination is not here: an ICMPv6 Destination Unreachable "no route" goes back (not
    /// about an ICMPv6 error, RFC 4443 §2.4 e). `false`: not handled (counted by the caller).
    pub(super) fn forward_ip(
        &mut self,
        now: Instant,
        mut d: Vec<u8>,
        p: &crate::thread::ip::Parsed,
        mac_src: crate::thread::mac::ExtAddress,
    ) -> bool {
        let dst = p.header.dst;
        if dst.is_multicast()
            || dst.octets()[..8] != self.creds.mesh_local_prefix
            || !matches!(self.role, Role::Router | Role::Leader)
        {
            return false;
        }
        let from_child = self.children.iter().any(|c| c.ext == mac_src);
        if let Some(child) = self.child_with_address(&dst) {
            if crate::thread::ip::mpl::decrement_hop_limit(&mut d) {
                self.count("forwarded to a child by its registered address");
                self.route_datagram(now, &d, child);
            }
            return true;
        }
        if from_child {
            if crate::thread::ip::mpl::decrement_hop_limit(&mut d) {
                self.count("forwarded for a child");
                self.send_ip(now, d);
            }
            return true;
        }
        let error = p.protocol == crate::thread::ip::proto::ICMPV6
            && d.get(p.upper_at).is_some_and(|t| *t < 128);
        let Some(me) = self.addrs.rloc() else {
            return false;
        };
        if error || p.header.src.is_multicast() {
            return false;
        }
        // RFC 4443 §2.4 f: errors are rate-limited.
        if self
            .icmp_error_at
            .is_some_and(|t| now < t + ICMP_ERROR_INTERVAL)
        {
            self.count("tx: ICMPv6 error rate-limited (dropped)");
            return true;
        }
        self.icmp_error_at = Some(now);
        self.count("tx: ICMPv6 destination unreachable (EID not here)");
        let e = crate::thread::ip::icmpv6::dst_unreachable(
            me,
            p.header.src,
            crate::thread::ip::icmpv6::NO_ROUTE,
            &d,
        );
        self.send_ip(now, e);
        true
    }

    /// An ICMPv6 Destination Unreachable "no route" about a datagram this node sent: the EID
    /// it was sent to is not where the cache says (OpenThread `HandleIcmpReceive`, checked).
    pub(super) fn on_no_route(&mut self, dst: Ipv6Addr) {
        if self.resolver.remove(&dst) {
            self.count("address cache: entry removed on ICMPv6 no route");
        }
    }
}
