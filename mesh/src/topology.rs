//! One protocol-neutral picture of a network, as the inspector draws it: nodes (address, name,
//! roles, last seen, RSSI, sequence number, hop count) and the links actually heard between
//! them (RSSI statistics, count, last heard). Bluetooth Mesh feeds it today; Thread can feed the
//! same model later. A [`Layout`] places the nodes on a plane with an explicit step function,
//! warm-started so the picture stays put while the graph grows.
//!
//! Like the rest of this crate it is sans-IO: times are [`Instant`]s passed in.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

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

    /// The graph in Graphviz DOT: one node per node (labelled with name and address, shaped by
    /// role), one edge per pair heard, labelled with the RSSI.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("graph mesh {\n  node [shape=ellipse];\n");
        for n in self.nodes.values() {
            let shape = if Some(n.key) == self.host {
                "doubleoctagon"
            } else if n.roles.relay {
                "box"
            } else if n.roles.low_power {
                "diamond"
            } else {
                "ellipse"
            };
            let _ = writeln!(
                s,
                "  \"{}\" [label=\"{}\\n{} {}\", shape={shape}];",
                n.address,
                escape_dot(n.label()),
                n.address,
                n.roles.letters()
            );
        }
        for (a, b, rssi, count) in self.edges() {
            let (Some(a), Some(b)) = (self.nodes.get(&a), self.nodes.get(&b)) else {
                continue;
            };
            let label = rssi.map_or(String::new(), |r| format!("{r} dBm"));
            let _ = writeln!(
                s,
                "  \"{}\" -- \"{}\" [label=\"{label}\", weight={count}];",
                a.address, b.address
            );
        }
        s.push_str("}\n");
        s
    }
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A force-directed layout (Fruchterman–Reingold with a cut-off, so a step costs about
/// O(nodes + links)), warm-started: nodes keep their places between steps, new nodes start at
/// their physical position (scaled) or beside their neighbours, and a change of the graph only
/// reheats it a little, so the picture does not jump.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pos: BTreeMap<NodeKey, (f64, f64)>,
    /// Scale from physical positions (metres) to layout units, fixed at the first hint seen.
    hint_scale: Option<f64>,
    temperature: f64,
    generation: Option<u64>,
    /// Steps taken.
    steps: u64,
}

/// Ideal edge length in layout units.
const K: f64 = 1.0;
/// Repulsion acts within this distance only.
const CUTOFF: f64 = 3.0 * K;
/// Temperature (largest move in one step) after a graph change, and its floor.
const REHEAT: f64 = 0.25;
const COOL: f64 = 0.9;
const FROZEN: f64 = 0.005;

impl Layout {
    /// An empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether the layout has settled (further steps would move nothing noticeably) since the
    /// graph last changed.
    pub fn settled(&self, topo: &Topology) -> bool {
        self.generation == Some(topo.generation()) && self.temperature <= FROZEN
    }

    /// One step: places new nodes, forgets vanished ones, moves every node along the forces.
    /// Returns the largest move of the step, in layout units.
    pub fn step(&mut self, topo: &Topology) -> f64 {
        self.steps += 1;
        if self.generation != Some(topo.generation()) {
            self.generation = Some(topo.generation());
            self.place_new(topo);
            self.temperature = self.temperature.max(REHEAT);
        }
        if self.temperature <= FROZEN {
            return 0.0;
        }
        let keys: Vec<NodeKey> = self.pos.keys().copied().collect();
        let index: HashMap<NodeKey, usize> =
            keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        let p: Vec<(f64, f64)> = self.pos.values().copied().collect();
        let mut d = vec![(0.0f64, 0.0f64); p.len()];
        // Repulsion between nodes closer than the cut-off, found through a grid of cells.
        let cell = |x: f64, y: f64| ((x / CUTOFF).floor() as i64, (y / CUTOFF).floor() as i64);
        let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, &(x, y)) in p.iter().enumerate() {
            grid.entry(cell(x, y)).or_default().push(i);
        }
        for (i, &(x, y)) in p.iter().enumerate() {
            let (cx, cy) = cell(x, y);
            for gx in cx - 1..=cx + 1 {
                for gy in cy - 1..=cy + 1 {
                    for &j in grid.get(&(gx, gy)).map(Vec::as_slice).unwrap_or(&[]) {
                        if j == i {
                            continue;
                        }
                        let (dx, dy) = (x - p[j].0, y - p[j].1);
                        let dist2 = dx * dx + dy * dy;
                        if dist2 >= CUTOFF * CUTOFF {
                            continue;
                        }
                        let (dx, dy, dist) = if dist2 < 1e-9 {
                            // Coincident: push apart along a direction fixed by the pair.
                            let a = (i * 7 + j * 13) as f64;
                            (a.cos() * 1e-3, a.sin() * 1e-3, 1e-3)
                        } else {
                            (dx, dy, dist2.sqrt())
                        };
                        let f = K * K / dist;
                        d[i].0 += dx / dist * f;
                        d[i].1 += dy / dist * f;
                    }
                }
            }
        }
        // Attraction along edges heard.
        for (a, b, _, _) in topo.edges() {
            let (Some(&i), Some(&j)) = (index.get(&a), index.get(&b)) else {
                continue;
            };
            let (dx, dy) = (p[i].0 - p[j].0, p[i].1 - p[j].1);
            let dist = (dx * dx + dy * dy).sqrt().max(1e-6);
            let f = dist * dist / K;
            d[i].0 -= dx / dist * f;
            d[i].1 -= dy / dist * f;
            d[j].0 += dx / dist * f;
            d[j].1 += dy / dist * f;
        }
        // A weak pull to the centre keeps separate pieces in view.
        let n = p.len().max(1) as f64;
        let (mx, my) = p
            .iter()
            .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x / n, sy + y / n));
        let mut moved = 0.0f64;
        for (i, k) in keys.iter().enumerate() {
            let (mut fx, mut fy) = d[i];
            fx -= (p[i].0 - mx) * 0.02;
            fy -= (p[i].1 - my) * 0.02;
            let len = (fx * fx + fy * fy).sqrt();
            if len > 0.0 && len.is_finite() {
                let m = len.min(self.temperature);
                let np = (p[i].0 + fx / len * m, p[i].1 + fy / len * m);
                self.pos.insert(*k, np);
                moved = moved.max(m);
            }
        }
        self.temperature = (self.temperature * COOL).max(FROZEN * 0.5);
        moved
    }

    /// Runs steps until settled or `max_steps` are taken; returns the steps taken.
    pub fn settle(&mut self, topo: &Topology, max_steps: usize) -> usize {
        for i in 0..max_steps {
            if self.settled(topo) && i > 0 {
                return i;
            }
            self.step(topo);
        }
        max_steps
    }

    fn place_new(&mut self, topo: &Topology) {
        self.pos.retain(|k, _| topo.node(*k).is_some());
        if self.hint_scale.is_none() {
            self.hint_scale = hint_scale(topo);
        }
        let mut fresh: Vec<NodeKey> = topo
            .nodes()
            .map(|n| n.key)
            .filter(|k| !self.pos.contains_key(k))
            .collect();
        // Physical positions first, then neighbours of placed nodes, then the rest.
        fresh.retain(|&k| {
            let n = topo.node(k).expect("listed");
            match (n.position, self.hint_scale) {
                (Some((x, y)), Some(s)) => {
                    self.pos.insert(k, (x * s, y * s));
                    false
                }
                _ => true,
            }
        });
        let edges = topo.edges();
        for (i, k) in fresh.into_iter().enumerate() {
            let mut sum = (0.0, 0.0);
            let mut n = 0.0;
            for &(a, b, _, _) in &edges {
                let other = if a == k {
                    b
                } else if b == k {
                    a
                } else {
                    continue;
                };
                if let Some(&(x, y)) = self.pos.get(&other) {
                    sum.0 += x;
                    sum.1 += y;
                    n += 1.0;
                }
            }
            // A golden-angle spiral spreads nodes with no placed neighbour; a small offset by
            // key keeps new neighbours of one node apart.
            let a = (k as f64) * 2.399_963;
            let p = if n > 0.0 {
                (sum.0 / n + 0.5 * K * a.cos(), sum.1 / n + 0.5 * K * a.sin())
            } else {
                let r = K * (i as f64 + self.pos.len() as f64).sqrt();
                let a = (i + self.pos.len()) as f64 * 2.399_963;
                (r * a.cos(), r * a.sin())
            };
            self.pos.insert(k, p);
        }
    }

    /// A node's position in layout units.
    pub fn position(&self, key: NodeKey) -> Option<(f64, f64)> {
        self.pos.get(&key).copied()
    }

    /// Every position scaled into the unit square (0..=1 on both axes, aspect kept), in key
    /// order.
    pub fn normalized(&self) -> Vec<(NodeKey, f64, f64)> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y) in self.pos.values() {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let span = (x1 - x0).max(y1 - y0).max(1e-9);
        let (ox, oy) = ((span - (x1 - x0)) / 2.0, (span - (y1 - y0)) / 2.0);
        self.pos
            .iter()
            .map(|(&k, &(x, y))| (k, (x - x0 + ox) / span, (y - y0 + oy) / span))
            .collect()
    }
}

/// Layout units per metre: one ideal edge per median nearest-neighbour distance of the nodes
/// with physical positions.
fn hint_scale(topo: &Topology) -> Option<f64> {
    let pts: Vec<(f64, f64)> = topo.nodes().filter_map(|n| n.position).collect();
    if pts.len() < 2 {
        return None;
    }
    // Nodes beyond a few hundred: a sample is enough.
    let sample = &pts[..pts.len().min(256)];
    let mut nn: Vec<f64> = sample
        .iter()
        .enumerate()
        .map(|(i, a)| {
            pts.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, b)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
                .fold(f64::MAX, f64::min)
        })
        .filter(|d| *d > 1e-9 && d.is_finite())
        .collect();
    if nn.is_empty() {
        return None;
    }
    nn.sort_by(|a, b| a.total_cmp(b));
    Some(K / nn[nn.len() / 2])
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

    #[test]
    fn dot_names_nodes_and_edges() {
        let mut g = chain(2);
        g.node_mut(1).name = Some("a \"b\"".into());
        let dot = g.to_dot();
        assert!(dot.starts_with("graph mesh {"));
        assert!(dot.contains("a \\\"b\\\""), "{dot}");
        assert!(
            dot.contains("\"0001\" -- \"0002\" [label=\"-51 dBm\""),
            "{dot}"
        );
    }

    #[test]
    fn layout_settles_and_stays_put_when_a_node_joins() {
        let mut g = chain(6);
        let mut l = Layout::new();
        l.settle(&g, 500);
        assert!(l.settled(&g));
        let before: Vec<_> = (1..=6).map(|k| l.position(k).unwrap()).collect();
        // Neighbours end up about one edge apart.
        let d = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        for w in before.windows(2) {
            let e = d(w[0], w[1]);
            assert!(e > 0.3 && e < 2.5, "edge length {e}");
        }
        g.heard(6, 7, Some(-70), t(9));
        l.settle(&g, 500);
        let moved = (1..=6)
            .map(|k| d(l.position(k).unwrap(), before[k as usize - 1]))
            .fold(0.0, f64::max);
        assert!(moved < 2.0, "old nodes moved {moved}");
        assert!(l.position(7).is_some());
        for (_, x, y) in l.normalized() {
            assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y));
        }
    }

    #[test]
    fn layout_is_deterministic_and_uses_positions() {
        let mut g = chain(5);
        for k in 1..=5u64 {
            g.node_mut(k).position = Some((k as f64 * 30.0, 0.0));
        }
        let mut a = Layout::new();
        let mut b = Layout::new();
        for _ in 0..50 {
            a.step(&g);
            b.step(&g);
        }
        assert_eq!(a.normalized(), b.normalized());
        // A chain laid out along x stays ordered along x.
        let xs: Vec<f64> = (1..=5).map(|k| a.position(k).unwrap().0).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    }

    #[test]
    fn empty_and_single_node_layouts() {
        let mut l = Layout::new();
        let mut g = Topology::new();
        assert_eq!(l.step(&g), 0.0);
        assert!(l.normalized().is_empty());
        g.node_mut(5);
        l.settle(&g, 10);
        let n = l.normalized();
        assert_eq!(n.len(), 1);
        assert!(n[0].1.is_finite());
    }
}
