//! Fills the [`ThreadModel`]: each 802.15.4 frame heard goes through the channel and PAN
//! filters, the Thread decoder (`weft_mesh::thread::sniff`, read through [`super::adapter`])
//! and the passive topology builder (`weft_mesh::thread::topology`); a snapshot then turns
//! what was learnt into nodes, a graph and its layout.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_mesh::thread::lowpan::Context;
use weft_mesh::thread::security::KeyManager;
use weft_mesh::thread::sniff::{DecodedFrame, Fcs, ThreadSniffer};
use weft_mesh::thread::topology::{router_id_of, ThreadTopology, CHILD_ID_MASK, ROUTER_MASK};
use weft_mesh::topology::{NodeKey, Topology};
use weft_mesh::{Duration, Instant};

use super::adapter::{self, Security};
use super::capture::ThreadCapture;
use super::model::{lq_color, Role, ThreadEntry, ThreadModel, ThreadNode, TRAFFIC_CAPACITY};
use crate::inspect::layout::Layout;

/// Window over which frames/s is measured (Thread networks are quiet: a router advertises
/// every few tens of seconds once settled).
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// The most MAC sources whose frames are counted (beyond it, new ones are not).
const MAX_HEARD: usize = 4096;

/// What the decoder is given and what the frames are filtered on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadConfig {
    /// The network key; without it frames are shown at the MAC level.
    pub key: Option<[u8; 16]>,
    pub key_sequence: u32,
    pub mesh_local_prefix: Option<Ipv6Addr>,
    /// Frames of other channels are counted, not decoded.
    pub channel: Option<u8>,
    /// Frames addressed to other PANs are counted, not decoded.
    pub pan_id: Option<u16>,
}

impl ThreadConfig {
    /// The filters in words, for the header.
    pub fn filters(&self) -> String {
        let mut f = Vec::new();
        if let Some(c) = self.channel {
            f.push(format!("channel {c}"));
        }
        if let Some(p) = self.pan_id {
            f.push(format!("PAN {p:04x}"));
        }
        f.join(", ")
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Heard {
    frames: u64,
    rssi: Option<i8>,
    lqi: Option<u8>,
    last: Option<Instant>,
}

/// The decoder, the topology and the model they fill.
#[derive(Debug)]
pub struct ThreadFeeder {
    pub model: ThreadModel,
    config: ThreadConfig,
    sniffer: ThreadSniffer,
    /// The last frame's report, given back to the decoder to fill again (`decode_into`).
    report: DecodedFrame,
    topo: ThreadTopology,
    /// Frames by MAC source (as the decoder writes the address).
    heard: BTreeMap<String, Heard>,
    /// Short addresses seen as source or destination (RLOC16s: a node is there).
    shorts: BTreeSet<u16>,
    layout: Layout,
    rate: VecDeque<Instant>,
    capture: Option<ThreadCapture>,
}

impl ThreadFeeder {
    pub fn new(source: String, config: ThreadConfig) -> Self {
        // Without a key, secured frames are shown closed; the decoder still needs one.
        let mut sniffer = ThreadSniffer::new(KeyManager::new(
            config.key.unwrap_or([0; 16]),
            config.key_sequence,
        ));
        if let Some(p) = config.mesh_local_prefix {
            sniffer.set_context(0, Context::new(p, 64));
        }
        let mut model = ThreadModel::new(source, config.key.is_some(), config.filters());
        model.stats.key_sequence = config.key_sequence;
        ThreadFeeder {
            model,
            config,
            sniffer,
            report: DecodedFrame::default(),
            topo: ThreadTopology::new(),
            heard: BTreeMap::new(),
            shorts: BTreeSet::new(),
            layout: Layout::new(),
            rate: VecDeque::new(),
            capture: None,
        }
    }

    /// One PSDU heard at `at` on `channel` (0: unknown).
    pub fn ingest(
        &mut self,
        at: Instant,
        channel: u8,
        rssi: Option<i8>,
        lqi: Option<u8>,
        psdu: &[u8],
        fcs: Fcs,
    ) {
        if let Some(c) = self.capture.as_mut() {
            c.write(at, channel, rssi, lqi, psdu_without_fcs(psdu, fcs));
        }
        let s = &mut self.model.stats;
        s.frames += 1;
        self.model.now = self.model.now.max(at);
        self.rate.push_back(at);
        if let Some(c) = self.config.channel {
            if channel != 0 && channel != c {
                s.other_channel += 1;
                return;
            }
        }
        self.sniffer.decode_into(at, psdu, fcs, &mut self.report);
        let d = &self.report;
        let v = adapter::view(d);
        if let (Some(want), Some(pan)) = (self.config.pan_id, v.pan) {
            if pan != want {
                self.model.stats.other_pan += 1;
                return;
            }
        }
        self.topo.observe(at, d);
        let s = &mut self.model.stats;
        s.decoded += 1;
        let no_key = self.config.key.is_none() && (v.security == Security::Closed || v.needs_key);
        if no_key {
            s.no_key += 1;
        } else if let Some((name, _)) = &v.error {
            *s.errors.entry(name).or_default() += 1;
        }
        if v.security == Security::Decrypted {
            s.decrypted += 1;
        }
        if v.mac_type == "ack" {
            s.acks += 1;
        }
        if let Some(c) = &v.mle {
            s.mle += 1;
            *s.mle_commands.entry(c.clone()).or_default() += 1;
        }
        s.reassembled += u64::from(v.reassembled);
        s.fragments_held += u64::from(v.fragment_held);
        for a in [v.src_short, v.dst_short].into_iter().flatten() {
            if self.shorts.len() < MAX_HEARD && router_id_of(a).is_some() {
                self.shorts.insert(a);
            }
        }
        if let Some(src) = &v.src {
            if self.heard.len() < MAX_HEARD || self.heard.contains_key(src) {
                let h = self.heard.entry(src.clone()).or_default();
                h.frames += 1;
                h.rssi = rssi.or(h.rssi);
                h.lqi = lqi.or(h.lqi);
                h.last = Some(at);
            }
        }
        let m = &mut self.model;
        m.traffic_total += 1;
        m.traffic.push_back(Arc::new(ThreadEntry {
            n: m.traffic_total,
            at,
            channel,
            rssi,
            lqi,
            no_key,
            view: v,
        }));
        while m.traffic.len() > TRAFFIC_CAPACITY {
            m.traffic.pop_front();
        }
    }

    /// Starts capturing every frame heard into `path`.
    pub fn start_capture(&mut self, path: &Path) -> Result<(), String> {
        self.capture = Some(ThreadCapture::start(path)?);
        self.model.capture = Some(path.display().to_string());
        Ok(())
    }

    /// Stops the capture: the file written, or why it failed; `None` when none ran.
    pub fn stop_capture(&mut self) -> Option<Result<PathBuf, String>> {
        self.model.capture = None;
        self.capture.take().map(ThreadCapture::finish)
    }

    /// The virtual or wall time now (frames/s is measured up to it).
    pub fn set_now(&mut self, now: Instant) {
        self.model.now = self.model.now.max(now);
    }

    /// Turns what was learnt into the model's nodes, graph and layout (`steps` layout steps).
    pub fn publish(&mut self, steps: usize) {
        let now = self.model.now;
        let since = Instant::from_micros(now.as_micros().saturating_sub(RATE_WINDOW.as_micros()));
        while self.rate.front().is_some_and(|&a| a < since) {
            self.rate.pop_front();
        }
        let window = RATE_WINDOW.min(now.saturating_since(Instant::ZERO));
        self.model.stats.frames_per_s = if window.as_micros() > 0 {
            self.rate.len() as f64 / window.as_secs_f64()
        } else {
            0.0
        };
        let report = self.topo.report();
        let s = &mut self.model.stats;
        s.key_sequence = self.sniffer.key_sequence();
        s.partition_id = report.partition_id.clone();
        s.leader_router_id = report.leader_router_id;
        let mut nodes: BTreeMap<u16, ThreadNode> = BTreeMap::new();
        let at = |us: Option<u64>| us.map(Instant::from_micros);
        for r in &report.routers {
            let rloc16 = weft_mesh::thread::topology::router_rloc16(r.router_id);
            nodes.insert(
                rloc16,
                ThreadNode {
                    rloc16,
                    ext_addr: r.ext_addr.clone(),
                    role: if r.leader { Role::Leader } else { Role::Router },
                    parent: None,
                    links: r.links.clone(),
                    last_seen: at(r.last_seen_us),
                    frames: 0,
                    rssi: None,
                    lqi: None,
                },
            );
        }
        for c in &report.children {
            let Ok(rloc16) = u16::from_str_radix(&c.rloc16, 16) else {
                continue;
            };
            nodes.insert(
                rloc16,
                child(rloc16, c.ext_addr.clone(), at(c.last_seen_us)),
            );
        }
        // Short addresses the topology did not learn of (no key, or not heard in MLE yet):
        // their RLOC16 says router or child (Thread 1.3 §5.2.1.1).
        for &r in &self.shorts {
            if nodes.contains_key(&r) {
                continue;
            }
            if r & CHILD_ID_MASK == 0 {
                nodes.insert(r, router(r));
            } else {
                nodes.insert(r, child(r, None, None));
                nodes
                    .entry(r & ROUTER_MASK)
                    .or_insert_with(|| router(r & ROUTER_MASK));
            }
        }
        for n in nodes.values_mut() {
            let keys = [Some(format!("{:04x}", n.rloc16)), n.ext_addr.clone()];
            for k in keys.iter().flatten() {
                if let Some(h) = self.heard.get(k) {
                    n.frames += h.frames;
                    n.rssi = h.rssi.or(n.rssi);
                    n.lqi = h.lqi.or(n.lqi);
                    n.last_seen = n.last_seen.max(h.last);
                }
            }
        }
        let (graph, edges) = graph_of(&nodes);
        for _ in 0..steps {
            if self.layout.settled(&graph) {
                break;
            }
            self.layout.step(&graph);
        }
        self.model.positions = self.layout.normalized();
        self.model.topology = graph;
        self.model.edges = Arc::new(edges);
        self.model.nodes = nodes.into_values().collect();
    }
}

/// The MAC frame of a PSDU: without its FCS when it carries one (a frame too short for one is
/// written as it is).
fn psdu_without_fcs(psdu: &[u8], fcs: Fcs) -> &[u8] {
    match fcs {
        Fcs::Present => &psdu[..psdu.len().saturating_sub(2)],
        Fcs::Absent => psdu,
    }
}

fn router(rloc16: u16) -> ThreadNode {
    ThreadNode {
        rloc16,
        ext_addr: None,
        role: Role::Router,
        parent: None,
        links: Vec::new(),
        last_seen: None,
        frames: 0,
        rssi: None,
        lqi: None,
    }
}

fn child(rloc16: u16, ext_addr: Option<String>, last_seen: Option<Instant>) -> ThreadNode {
    ThreadNode {
        ext_addr,
        role: Role::Child,
        parent: Some(rloc16 & ROUTER_MASK),
        last_seen,
        ..router(rloc16)
    }
}

/// The graph (routers, leader marked, children) and its edges: each router link once,
/// coloured by the worse link quality either router reports, each child to its parent.
type Edges = Vec<(NodeKey, NodeKey, ratatui::style::Color)>;

fn graph_of(nodes: &BTreeMap<u16, ThreadNode>) -> (Topology, Edges) {
    let mut g = Topology::new();
    let key = |r: u16| NodeKey::from(r);
    for n in nodes.values() {
        let t = g.node_mut(key(n.rloc16));
        t.name = Some(match n.role {
            Role::Leader => format!("R{} leader", n.rloc16 >> 10),
            Role::Router => format!("R{}", n.rloc16 >> 10),
            Role::Child => format!("{:04x}", n.rloc16),
        });
        t.roles.relay = n.role != Role::Child;
        t.last_seen = n.last_seen;
    }
    let mut lq: BTreeMap<(u16, u16), u8> = BTreeMap::new();
    for n in nodes.values() {
        for l in &n.links {
            let other = weft_mesh::thread::topology::router_rloc16(l.router_id);
            let k = (n.rloc16.min(other), n.rloc16.max(other));
            let q = l.lq_in.min(l.lq_out);
            lq.entry(k).and_modify(|v| *v = (*v).min(q)).or_insert(q);
        }
    }
    let mut edges = Vec::new();
    for (&(a, b), &q) in &lq {
        g.heard(key(a), key(b), None, Instant::ZERO);
        g.heard(key(b), key(a), None, Instant::ZERO);
        edges.push((key(a), key(b), lq_color(q)));
    }
    for n in nodes.values() {
        if let Some(p) = n.parent {
            g.heard(key(n.rloc16), key(p), None, Instant::ZERO);
            edges.push((key(p), key(n.rloc16), ratatui::style::Color::Cyan));
        }
    }
    (g, edges)
}

#[cfg(test)]
#[path = "feeder_tests.rs"]
mod tests;
