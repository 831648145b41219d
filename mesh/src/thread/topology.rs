//! The passive Thread topology: routers, the links between them, children with their parents,
//! the partition and its leader, learnt from frames a [`crate::thread::sniff::ThreadSniffer`]
//! decoded; then drawn into the protocol-neutral [`crate::topology::Topology`].
//!
//! What is learnt from what (Thread 1.3):
//! - RLOC16 (§5.2.1.1): Router ID in bits 15-10, Child ID in bits 8-0; a router's Child ID is
//!   0, and a child's parent is the router with `RLOC16 & 0xfc00`. Router IDs are 0-62
//!   (§5.9.9; 63 is invalid and makes 0xfffe, 0xffff fall outside).
//! - MLE Source Address TLV (§4.4.1) with the message's link-local source: a router's or
//!   child's RLOC16 and extended address (authenticated by the MLE MIC).
//! - MLE Advertisement Route64 TLV (§4.4.11): per router of its ID mask a Route Data octet,
//!   Link Quality Out bits 7-6, Link Quality In bits 5-4, Route Cost bits 3-0 (checked
//!   against OpenThread's `RouteTlv`: `kLinkQualityOutOffset` 6, `kLinkQualityInOffset` 4,
//!   `kRouteCostMask` 0x0f). A link is drawn only where the advertising router and the other
//!   both hear each other directly: Link Quality In and Out both non-zero.
//! - Leader Data TLV (§4.4.13): partition ID and leader router ID (the latest heard).
//! - Child ID Response (§4.5.14): the Address16 TLV is the child's new RLOC16, sent to its
//!   link-local address; a data frame from a child RLOC16 names its parent.
//!
//! Output is deterministic: routers by router ID, children by RLOC16, links by router ID.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::thread::mac::{Address, ExtAddress};
use crate::thread::mle::{command, ext_address_of, Tlv};
use crate::thread::sniff::DecodedFrame;
use crate::time::Instant;
use crate::topology::{NodeKey, Topology};

/// The largest valid Router ID (Thread 1.3 §5.9.9).
pub const MAX_ROUTER_ID: u8 = 62;
/// Child ID bits of an RLOC16 (§5.2.1.1).
pub const CHILD_ID_MASK: u16 = 0x01ff;
/// Router ID bits of an RLOC16.
pub const ROUTER_MASK: u16 = 0xfc00;
/// The most children remembered (64 routers × 511 children is beyond any sniffer's range).
pub const MAX_CHILDREN: usize = 4096;

/// The Router ID of an RLOC16, when it is a valid one.
pub fn router_id_of(rloc16: u16) -> Option<u8> {
    let id = (rloc16 >> 10) as u8;
    (id <= MAX_ROUTER_ID).then_some(id)
}

/// A router's RLOC16.
pub const fn router_rloc16(router_id: u8) -> u16 {
    (router_id as u16) << 10
}

/// One direct link as the advertising router reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouterLink {
    pub router_id: u8,
    pub lq_in: u8,
    pub lq_out: u8,
    pub cost: u8,
}

#[derive(Debug, Clone, Default)]
struct RouterState {
    ext_addr: Option<ExtAddress>,
    links: BTreeMap<u8, RouterLink>,
    last_seen: Option<Instant>,
}

#[derive(Debug, Clone)]
struct ChildState {
    ext_addr: Option<ExtAddress>,
    last_seen: Option<Instant>,
}

/// The topology learnt so far.
#[derive(Debug, Clone, Default)]
pub struct ThreadTopology {
    routers: BTreeMap<u8, RouterState>,
    children: BTreeMap<u16, ChildState>,
    partition_id: Option<u32>,
    leader_router_id: Option<u8>,
    /// Children forgotten because the table was full (the least recently seen go first).
    pub children_dropped: u64,
}

/// A router in the report (field order is the `--topology` line's contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterReport {
    pub router_id: u8,
    pub rloc16: String,
    pub ext_addr: Option<String>,
    pub leader: bool,
    pub links: Vec<RouterLink>,
    /// Microseconds of the caller's clock when it was last heard transmitting.
    pub last_seen_us: Option<u64>,
}

/// A child in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildReport {
    pub rloc16: String,
    pub ext_addr: Option<String>,
    pub parent_router_id: u8,
    pub last_seen_us: Option<u64>,
}

/// The whole report: `{"type":"topology","routers":[...],"children":[...],"partition_id":
/// "...","leader_router_id":N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopologyReport {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub routers: Vec<RouterReport>,
    pub children: Vec<ChildReport>,
    pub partition_id: Option<String>,
    pub leader_router_id: Option<u8>,
}

fn later(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.max(b)))
}

impl ThreadTopology {
    pub fn new() -> Self {
        Self::default()
    }

    fn router(&mut self, id: u8) -> &mut RouterState {
        self.routers.entry(id).or_default()
    }

    /// Records the node with `rloc16`: a router, or a child (and its parent router). Returns
    /// false for an RLOC16 that is neither (router ID 63).
    fn node(&mut self, rloc16: u16, ext: Option<ExtAddress>, seen: Option<Instant>) -> bool {
        let Some(rid) = router_id_of(rloc16) else {
            return false;
        };
        if let Some(e) = ext {
            self.forget_other_rloc16s(e, rloc16);
        }
        if rloc16 & CHILD_ID_MASK == 0 {
            let r = self.router(rid);
            r.ext_addr = ext.or(r.ext_addr);
            if let Some(t) = seen {
                r.last_seen = later(r.last_seen, t);
            }
            return true;
        }
        self.router(rid);
        if !self.children.contains_key(&rloc16) && self.children.len() >= MAX_CHILDREN {
            // Full: the child heard longest ago (never, first) is forgotten for the new one.
            if let Some(oldest) = self
                .children
                .iter()
                .min_by_key(|(_, c)| c.last_seen)
                .map(|(k, _)| *k)
            {
                self.children.remove(&oldest);
            }
            self.children_dropped += 1;
        }
        let c = self.children.entry(rloc16).or_insert(ChildState {
            ext_addr: None,
            last_seen: None,
        });
        c.ext_addr = ext.or(c.ext_addr);
        if let Some(t) = seen {
            c.last_seen = later(c.last_seen, t);
        }
        true
    }

    /// Learns from one decoded frame heard at `now`. Frames with an error teach nothing.
    pub fn observe(&mut self, now: Instant, d: &DecodedFrame) {
        if d.error.is_some() {
            return;
        }
        match d.facts.mac_src {
            Some(Address::Short(s)) => {
                self.node(s, None, Some(now));
            }
            Some(Address::Extended(e)) => self.seen_ext(e, now),
            _ => {}
        }
        let Some(m) = &d.facts.mle else { return };
        if !m.secured {
            return; // Discovery messages: not from a node of the partition yet.
        }
        let sender = m.tlvs.iter().find_map(|t| match t {
            Tlv::SourceAddress(r) => Some(*r),
            _ => None,
        });
        if let Some(r) = sender {
            self.node(r, Some(ext_address_of(&m.src)), Some(now));
        }
        for t in &m.tlvs {
            match t {
                Tlv::LeaderData(l) => {
                    self.partition_id = Some(l.partition_id);
                    if l.leader_router_id <= MAX_ROUTER_ID {
                        self.leader_router_id = Some(l.leader_router_id);
                        self.router(l.leader_router_id);
                    }
                }
                Tlv::Route64(r) if m.command == command::ADVERTISEMENT => {
                    let Some(me) = sender.filter(|s| s & CHILD_ID_MASK == 0) else {
                        continue;
                    };
                    let Some(me) = router_id_of(me) else { continue };
                    let Some(entries) = r.entries() else { continue };
                    let mut links = BTreeMap::new();
                    for (id, lq_out, lq_in, cost) in entries {
                        if id > MAX_ROUTER_ID {
                            continue;
                        }
                        self.router(id);
                        if id != me && lq_in > 0 && lq_out > 0 {
                            links.insert(
                                id,
                                RouterLink {
                                    router_id: id,
                                    lq_in,
                                    lq_out,
                                    cost,
                                },
                            );
                        }
                    }
                    self.router(me).links = links;
                }
                Tlv::Address16(child)
                    if m.command == command::CHILD_ID_RESPONSE && child & CHILD_ID_MASK != 0 =>
                {
                    self.node(*child, Some(ext_address_of(&m.dst)), None);
                }
                _ => {}
            }
        }
    }

    /// A node has one RLOC16 at a time (Thread 1.3 §5.2.1): when `e` speaks as `rloc16`, any
    /// other entry with that extended address is stale (a child upgraded to router, as
    /// OpenThread's router-eligible nodes do within minutes of attaching, or the reverse).
    /// A stale router keeps its ID (others' Route64 still lists it) but loses the address.
    fn forget_other_rloc16s(&mut self, e: ExtAddress, rloc16: u16) {
        self.children
            .retain(|&r, c| r == rloc16 || c.ext_addr != Some(e));
        for (&id, r) in self.routers.iter_mut() {
            if router_rloc16(id) != rloc16 && r.ext_addr == Some(e) {
                r.ext_addr = None;
            }
        }
    }

    fn seen_ext(&mut self, e: ExtAddress, now: Instant) {
        for r in self.routers.values_mut() {
            if r.ext_addr == Some(e) {
                r.last_seen = later(r.last_seen, now);
            }
        }
        for c in self.children.values_mut() {
            if c.ext_addr == Some(e) {
                c.last_seen = later(c.last_seen, now);
            }
        }
    }

    /// The report, in router ID and RLOC16 order.
    pub fn report(&self) -> TopologyReport {
        TopologyReport {
            kind: "topology",
            routers: self
                .routers
                .iter()
                .map(|(&id, r)| RouterReport {
                    router_id: id,
                    rloc16: format!("{:04x}", router_rloc16(id)),
                    ext_addr: r.ext_addr.map(|e| hex::encode(e.0)),
                    leader: self.leader_router_id == Some(id),
                    links: r.links.values().copied().collect(),
                    last_seen_us: r.last_seen.map(Instant::as_micros),
                })
                .collect(),
            children: self
                .children
                .iter()
                .map(|(&rloc16, c)| ChildReport {
                    rloc16: format!("{rloc16:04x}"),
                    ext_addr: c.ext_addr.map(|e| hex::encode(e.0)),
                    parent_router_id: (rloc16 >> 10) as u8,
                    last_seen_us: c.last_seen.map(Instant::as_micros),
                })
                .collect(),
            partition_id: self.partition_id.map(|p| format!("{p:08x}")),
            leader_router_id: self.leader_router_id,
        }
    }

    /// The protocol-neutral graph: one node per router and child, keyed by RLOC16; a directed
    /// link for each direction heard (a router's Link Quality In: it hears the other; Out: the
    /// other hears it), and both directions between a child and its parent.
    pub fn graph(&self) -> Topology {
        let mut g = Topology::new();
        let key = |r: u16| r as NodeKey;
        let ext16 = |e: Option<ExtAddress>| {
            e.map(|e| {
                let mut u = [0u8; 16];
                u[..8].copy_from_slice(&e.0);
                u
            })
        };
        for (&id, r) in &self.routers {
            let n = g.node_mut(key(router_rloc16(id)));
            n.name = Some(format!(
                "router {id}{}",
                if self.leader_router_id == Some(id) {
                    " (leader)"
                } else {
                    ""
                }
            ));
            n.uuid = ext16(r.ext_addr);
            n.roles.relay = true;
            n.last_seen = r.last_seen;
        }
        for (&rloc16, c) in &self.children {
            let n = g.node_mut(key(rloc16));
            n.name = Some(format!("child {rloc16:04x}"));
            n.uuid = ext16(c.ext_addr);
            n.last_seen = c.last_seen;
        }
        for (&id, r) in &self.routers {
            let at = r.last_seen.unwrap_or(Instant::ZERO);
            let me = key(router_rloc16(id));
            for l in r.links.values() {
                let other = key(router_rloc16(l.router_id));
                g.heard(other, me, None, at);
                g.heard(me, other, None, at);
            }
        }
        for (&rloc16, c) in &self.children {
            let at = c.last_seen.unwrap_or(Instant::ZERO);
            let parent = key(rloc16 & ROUTER_MASK);
            g.heard(key(rloc16), parent, None, at);
            g.heard(parent, key(rloc16), None, at);
        }
        g
    }
}

#[cfg(test)]
#[path = "topology_tests.rs"]
mod tests;
