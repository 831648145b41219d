//! One protocol-neutral picture of a network, as the inspector draws it: nodes (address, name,
//! roles, last seen, RSSI, sequence number, hop count) and the links actually heard between
//! them (RSSI statistics, count, last heard). Bluetooth Mesh feeds it today; Thread can feed the
//! same model later. How it is drawn (layout, DOT) is the tools' business (`weft`'s
//! `inspect/layout.rs`).
//!
//! Like the rest of this crate it is sans-IO: times are [`Instant`]s passed in.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::time::Instant;

/// A node's identity in the graph: a Bluetooth Mesh unicast address, a Thread extended address
/// or RLOC16, widened to 64 bits.
pub type NodeKey = u64;

/// What a node does for the network. For Bluetooth Mesh these are the four features of
/// MshPRT §3.6.5.10 (Heartbeat Features: bit 0 relay, 1 proxy, 2 friend, 3 low power).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Roles {
    pub relay: bool,
    pub proxy: bool,
    pub friend: bool,
    pub low_power: bool,
}

impl Roles {
    /// From the Features field of a Heartbeat message (MshPRT §3.6.5.10: bits 0..=3).
    pub const fn from_features(f: u16) -> Roles {
        Roles {
            relay: f & 0x0001 != 0,
            proxy: f & 0x0002 != 0,
            friend: f & 0x0004 != 0,
            low_power: f & 0x0008 != 0,
        }
    }

    /// Short letters for a table: `R` relay, `P` proxy, `F` friend, `L` low power; `-` none.
    pub fn letters(&self) -> String {
        let mut s = String::new();
        for (on, c) in [
            (self.relay, 'R'),
            (self.proxy, 'P'),
            (self.friend, 'F'),
            (self.low_power, 'L'),
        ] {
            if on {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push('-');
        }
        s
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopoNode {
    pub key: NodeKey,
    /// The address as the protocol writes it (e.g. `0010`).
    pub address: String,
    pub name: Option<String>,
    /// Device UUID (Bluetooth Mesh) or extended address bytes, where known.
    #[serde(serialize_with = "ser_uuid")]
    pub uuid: Option<[u8; 16]>,
    /// Number of elements (Bluetooth Mesh), where known.
    pub elements: Option<u8>,
    pub roles: Roles,
    /// When the node was last heard transmitting.
    pub last_seen: Option<Instant>,
    /// RSSI at which the observer's own radio last heard the node directly.
    pub rssi: Option<i8>,
    /// The latest sequence number heard from it.
    pub seq: Option<u32>,
    /// Hops from the observer's radio, over links heard.
    pub hops: Option<u8>,
    /// A known physical position (metres), used to seed the layout.
    pub position: Option<(f64, f64)>,
}

fn ser_uuid<S: serde::Serializer>(u: &Option<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
    match u {
        Some(u) => s.serialize_str(&hex::encode(u)),
        None => s.serialize_none(),
    }
}

impl TopoNode {
    fn new(key: NodeKey) -> Self {
        TopoNode {
            key,
            address: format!("{key:04x}"),
            name: None,
            uuid: None,
            elements: None,
            roles: Roles::default(),
            last_seen: None,
            rssi: None,
            seq: None,
            hops: None,
            position: None,
        }
    }

    /// The name if known, else the address.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.address)
    }
}

/// A directed link `from -> to` that was actually heard: `to` received a frame sent by `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    pub from: NodeKey,
    pub to: NodeKey,
    /// Frames heard over the link.
    pub count: u64,
    /// RSSI of the latest frame, and the extremes, dBm (frames without RSSI leave them alone).
    pub rssi_last: Option<i8>,
    pub rssi_min: Option<i8>,
    pub rssi_max: Option<i8>,
    /// Sum and count of the RSSIs, for the mean.
    rssi_sum: i64,
    rssi_n: u64,
    pub last_heard: Instant,
}

impl LinkStats {
    /// Mean RSSI, dBm.
    pub fn rssi_mean(&self) -> Option<f64> {
        (self.rssi_n > 0).then(|| self.rssi_sum as f64 / self.rssi_n as f64)
    }
}

/// The graph. Nodes and links are kept in key order, so iteration is deterministic.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Topology {
    nodes: BTreeMap<NodeKey, TopoNode>,
    #[serde(serialize_with = "ser_links")]
    links: BTreeMap<(NodeKey, NodeKey), LinkStats>,
    /// The observer: the node whose radio is the inspector's (hop counts start there).
    host: Option<NodeKey>,
    /// Bumped whenever a node or link appears (a layout reheats a little).
    #[serde(skip)]
    generation: u64,
}

fn ser_links<S: serde::Serializer>(
    l: &BTreeMap<(NodeKey, NodeKey), LinkStats>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(l.values())
}

impl Topology {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node `key`, created (with its address written as 4 hex digits) if new.
    pub fn node_mut(&mut self, key: NodeKey) -> &mut TopoNode {
        if !self.nodes.contains_key(&key) {
            self.generation += 1;
        }
        self.nodes.entry(key).or_insert_with(|| TopoNode::new(key))
    }

    /// The node `key`.
    pub fn node(&self, key: NodeKey) -> Option<&TopoNode> {
        self.nodes.get(&key)
    }

    /// All nodes in key order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &TopoNode> + '_ {
        self.nodes.values()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// All directed links in (from, to) order.
    pub fn links(&self) -> impl ExactSizeIterator<Item = &LinkStats> + '_ {
        self.links.values()
    }

    /// The link `from -> to`, if heard.
    pub fn link(&self, from: NodeKey, to: NodeKey) -> Option<&LinkStats> {
        self.links.get(&(from, to))
    }

    /// Forgets the node `key` and the links heard to and from it (the host stays the host,
    /// if it was). Returns whether it was there.
    pub fn remove(&mut self, key: NodeKey) -> bool {
        if self.nodes.remove(&key).is_none() {
            return false;
        }
        self.links.retain(|&(a, b), _| a != key && b != key);
        self.generation += 1;
        true
    }

    /// Sets the observer's node.
    pub fn set_host(&mut self, host: Option<NodeKey>) {
        self.host = host;
    }

    /// The observer's node.
    pub fn host(&self) -> Option<NodeKey> {
        self.host
    }

    /// A counter that changes whenever a node or link appears.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `node` was heard transmitting at `at`.
    pub fn seen(&mut self, node: NodeKey, at: Instant) {
        let n = self.node_mut(node);
        n.last_seen = Some(n.last_seen.map_or(at, |t| t.max(at)));
    }

    /// `to` heard a frame from `from` at `at`, with `rssi` (dBm) if the radio reported one.
    /// Creates the nodes and the link as needed. When `to` is the host, the RSSI is also the
    /// node's own.
    pub fn heard(&mut self, from: NodeKey, to: NodeKey, rssi: Option<i8>, at: Instant) {
        self.seen(from, at);
        self.node_mut(to);
        if Some(to) == self.host && rssi.is_some() {
            self.node_mut(from).rssi = rssi;
        }
        let gen = &mut self.generation;
        let l = self.links.entry((from, to)).or_insert_with(|| {
            *gen += 1;
            LinkStats {
                from,
                to,
                count: 0,
                rssi_last: None,
                rssi_min: None,
                rssi_max: None,
                rssi_sum: 0,
                rssi_n: 0,
                last_heard: at,
            }
        });
        l.count += 1;
        l.last_heard = l.last_heard.max(at);
        if let Some(r) = rssi {
            l.rssi_last = Some(r);
            l.rssi_min = Some(l.rssi_min.map_or(r, |m| m.min(r)));
            l.rssi_max = Some(l.rssi_max.map_or(r, |m| m.max(r)));
            l.rssi_sum += i64::from(r);
            l.rssi_n += 1;
        }
    }

    /// Undirected edges: each pair heard in either direction once, `(a, b)` with `a < b`, with
    /// the stronger direction's latest RSSI and the total count.
    pub fn edges(&self) -> Vec<(NodeKey, NodeKey, Option<i8>, u64)> {
        let mut out: BTreeMap<(NodeKey, NodeKey), (Option<i8>, u64)> = BTreeMap::new();
        for l in self.links.values() {
            let k = (l.from.min(l.to), l.from.max(l.to));
            let e = out.entry(k).or_insert((None, 0));
            e.0 = match (e.0, l.rssi_last) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            e.1 += l.count;
        }
        out.into_iter()
            .map(|((a, b), (r, c))| (a, b, r, c))
            .collect()
    }

    /// Hop counts from `start` over links heard (a frame `start` sends reaches a node at hop 1
    /// directly, hop 2 through one relay, ...); `start` itself is at 0.
    pub fn hops_from(&self, start: NodeKey) -> BTreeMap<NodeKey, u8> {
        let mut adj: HashMap<NodeKey, Vec<NodeKey>> = HashMap::new();
        for &(a, b) in self.links.keys() {
            adj.entry(a).or_default().push(b);
        }
        let mut out = BTreeMap::new();
        out.insert(start, 0u8);
        let mut q = VecDeque::from([start]);
        while let Some(n) = q.pop_front() {
            let h = out[&n];
            for &m in adj.get(&n).map(Vec::as_slice).unwrap_or(&[]) {
                if let std::collections::btree_map::Entry::Vacant(e) = out.entry(m) {
                    e.insert(h.saturating_add(1));
                    q.push_back(m);
                }
            }
        }
        out
    }

    /// Recomputes every node's hop count from the host (nodes it cannot reach get `None`).
    pub fn update_hops(&mut self) {
        let hops = self.host.map(|h| self.hops_from(h)).unwrap_or_default();
        for n in self.nodes.values_mut() {
            n.hops = hops.get(&n.key).copied();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Instant {
        Instant::from_micros(s * 1_000_000)
    }

    fn chain(n: u64) -> Topology {
        let mut g = Topology::new();
        g.set_host(Some(1));
        for i in 1..n {
            g.heard(i, i + 1, Some(-50 - i as i8), t(i));
            g.heard(i + 1, i, Some(-60), t(i));
        }
        g
    }

    #[test]
    fn a_node_removed_goes_with_its_links() {
        let mut g = chain(4);
        let gen = g.generation();
        assert!(g.remove(2));
        assert!(!g.remove(2));
        assert!(g.node(2).is_none());
        assert!(g.links().all(|l| l.from != 2 && l.to != 2));
        assert_eq!(g.links().count(), 2, "3-4 both ways stay");
        assert!(g.generation() > gen);
        g.update_hops();
        assert_eq!(
            g.node(3).unwrap().hops,
            None,
            "no longer reached from the host"
        );
    }

    #[test]
    fn links_keep_rssi_statistics() {
        let mut g = Topology::new();
        g.heard(1, 2, Some(-70), t(1));
        g.heard(1, 2, Some(-50), t(3));
        g.heard(1, 2, None, t(2));
        let l = g.link(1, 2).unwrap();
        assert_eq!(l.count, 3);
        assert_eq!(
            (l.rssi_min, l.rssi_max, l.rssi_last),
            (Some(-70), Some(-50), Some(-50))
        );
        assert_eq!(l.rssi_mean(), Some(-60.0));
        assert_eq!(l.last_heard, t(3));
        assert_eq!(g.node(1).unwrap().last_seen, Some(t(3)));
        assert_eq!(g.node(2).unwrap().last_seen, None);
        assert!(g.link(2, 1).is_none());
    }

    #[test]
    fn host_rssi_and_hops() {
        let mut g = chain(4);
        g.update_hops();
        let hops: Vec<_> = g.nodes().map(|n| n.hops).collect();
        assert_eq!(hops, vec![Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(g.node(2).unwrap().rssi, Some(-60), "heard by the host");
        assert_eq!(g.node(3).unwrap().rssi, None, "out of the host's range");
        g.node_mut(9);
        g.update_hops();
        assert_eq!(g.node(9).unwrap().hops, None);
    }

    #[test]
    fn edges_merge_directions() {
        let g = chain(3);
        let e = g.edges();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0], (1, 2, Some(-51), 2));
    }

    #[test]
    fn roles_from_heartbeat_features() {
        let r = Roles::from_features(0b1011);
        assert!(r.relay && r.proxy && !r.friend && r.low_power);
        assert_eq!(r.letters(), "RPL");
        assert_eq!(Roles::default().letters(), "-");
    }
}
