//! What the inspector draws, and the feeder that fills it: a simulated network (its nodes, the
//! air) decoded as a sniffer given the network's keys would decode it. The feeder is driven by
//! virtual time only, so a seed and a duration give one picture exactly (the snapshot tests
//! rely on it); the runtime paces it by the wall clock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use super::layout::Layout;
use weft_mesh::ble::address::{Address, IvIndex, UnicastAddress};
use weft_mesh::ble::foundation::composition::CompositionDataPage0;
use weft_mesh::ble::foundation::config::client::SUBSCRIBE_MODELS;
use weft_mesh::ble::foundation::config::client::{ConfigClientEvent, ConfigFailure};
use weft_mesh::ble::foundation::config::ConfigMessage;
use weft_mesh::ble::models::ModelMessage;
use weft_mesh::ble::node::{Command, DropReason as NodeDrop, Event, KeyRef};
use weft_mesh::ble::sniff::{Decoded, Keyring, Sniffer};
use weft_mesh::ble::wire::access::{opcode_name, AccessMessage, Opcode};
use weft_mesh::ble::wire::beacon::Beacon;
use weft_mesh::ble::wire::control::control_opcode_name;
use weft_mesh::topology::{NodeKey, Topology};
use weft_mesh::{Duration, Instant};
use weft_radio::ble_ll::{ble_adv_nonconn_ind, ble_ll_phdr_packet};
use weft_radio::pcap::{PcapWriter, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR};
use weft_radio::sim::{DropReason as RadioDrop, NodeId, SimEvent, Simulator};

use crate::scenario::PlannedNode;
use crate::sim::{Built, RunArgs, RunError, ScenarioStation, StationEvent};
use weft_mesh::ble::prov::{ProvisionerEvent, SessionEvent};

/// Entries the traffic log keeps (older ones scroll away).
pub const TRAFFIC_CAPACITY: usize = 2000;
/// Frames the air tap holds for the decoder between two drains; beyond it frames are counted
/// as dropped, never blocking the simulation.
pub const AIR_QUEUE_CAPACITY: usize = 65_536;
/// How long a message is drawn travelling along a link (virtual time).
pub const HOP_ANIMATION: Duration = Duration::from_millis(400);
/// Window over which PDUs/s is measured.
const RATE_WINDOW: Duration = Duration::from_secs(2);
/// Transmissions remembered to log each once.
const RECENT_CAPACITY: usize = 4096;

/// What a feeder keeps beside the model to fill its traffic log: the transmissions logged
/// lately (network retransmissions and relays repeat a PDU: it is logged once) and the times of
/// the frames counted for PDUs/s.
#[derive(Debug, Default)]
pub(crate) struct TrafficTally {
    /// (transmitter, src, seq).
    recent: HashSet<(u16, u16, u32)>,
    order: VecDeque<(u16, u16, u32)>,
    rate: VecDeque<Instant>,
}

impl TrafficTally {
    /// A frame at `at`, for the rate.
    pub fn count(&mut self, at: Instant) {
        self.rate.push_back(at);
    }

    /// Frames per second over the last [`RATE_WINDOW`] before `now`.
    pub fn per_second(&mut self, now: Instant) -> f64 {
        let since = Instant::from_micros(now.as_micros().saturating_sub(RATE_WINDOW.as_micros()));
        while self.rate.front().is_some_and(|&a| a < since) {
            self.rate.pop_front();
        }
        let window = RATE_WINDOW.min(now.saturating_since(Instant::ZERO));
        if window.as_micros() > 0 {
            self.rate.len() as f64 / window.as_secs_f64()
        } else {
            0.0
        }
    }

    /// Adds `e` to the model's log, unless the transmission `(transmitter, src, seq)` of a
    /// network PDU was logged lately.
    pub fn log(&mut self, model: &mut Model, transmitter: u16, e: TrafficEntry) {
        if let (Some(src), Some(seq)) = (e.src, e.seq) {
            let k = (transmitter, src, seq);
            if !self.recent.insert(k) {
                return;
            }
            self.order.push_back(k);
            if self.order.len() > RECENT_CAPACITY {
                if let Some(old) = self.order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
        model.traffic_total += 1;
        model.traffic.push_back(Arc::new(e));
        while model.traffic.len() > TRAFFIC_CAPACITY {
            model.traffic.pop_front();
        }
    }
}

/// What one decoded frame was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// An access message (opcode known, or not).
    Access,
    /// A transport control message.
    Control,
    /// One segment of a segmented message still incomplete: (received, total).
    Segment(u8, u8),
    /// A beacon.
    Beacon,
    /// PB-ADV / provisioning.
    Provisioning,
    /// Not decodable with the keys at hand: the reason.
    Undecryptable(String),
}

/// One line of the decoded traffic log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficEntry {
    pub at: Instant,
    /// `ADV` (advertising bearer) or `GATT`.
    pub bearer: &'static str,
    /// The node whose radio sent the frame.
    pub transmitter: u16,
    pub src: Option<u16>,
    pub dst: Option<u16>,
    /// Opcode name (or hex when unknown), e.g. `Generic OnOff Set Unacknowledged`.
    pub opcode: String,
    /// The message, decoded, e.g. `OnOff Set Unacknowledged on tid 3`.
    pub summary: String,
    pub ttl: Option<u8>,
    pub seq: Option<u32>,
    /// RSSI at the observer's radio (the host node), when it heard the frame directly.
    pub rssi: Option<i8>,
    /// The relay that retransmitted it, when the transmitter is not the source.
    pub relayed_by: Option<u16>,
    pub kind: EntryKind,
}

impl TrafficEntry {
    /// A frame heard at `at` from `transmitter` on the advertising bearer, before it is
    /// decoded: why nothing decoded it, unless something does.
    pub(crate) fn heard(at: Instant, transmitter: u16, rssi: Option<i8>, why: &str) -> Self {
        TrafficEntry {
            at,
            bearer: "ADV",
            transmitter,
            src: None,
            dst: None,
            opcode: String::new(),
            summary: String::new(),
            ttl: None,
            seq: None,
            rssi,
            relayed_by: None,
            kind: EntryKind::Undecryptable(why.into()),
        }
    }
}

/// Counters of what was seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Frames decoded (one per advertising event, not per channel).
    pub pdus: u64,
    /// PDUs per second over the last two virtual seconds.
    pub pdus_per_s: f64,
    pub access: u64,
    pub control: u64,
    pub beacons: u64,
    pub undecryptable: u64,
    /// Drops by reason: `radio_*` on the air, the node's own reasons after.
    pub drops: BTreeMap<String, u64>,
    pub replays: u64,
    pub relayed: u64,
    pub sar_complete: u64,
    pub sar_failed: u64,
    pub segments: u64,
    /// PDUs put on the air (three per advertising event).
    pub frames_on_air: u64,
    /// Frames the decoder never saw because its queue was full.
    pub ingest_dropped: u64,
}

/// A message travelling over a link, for the animation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub from: NodeKey,
    pub to: NodeKey,
    pub at: Instant,
}

/// A node's configuration: in a scenario, as its own state says; on the live air, as the
/// network database knows it (Composition Data and the configuration statuses recorded), `None`
/// where nothing has been read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDetail {
    pub address: u16,
    pub name: String,
    pub uuid: [u8; 16],
    pub cid: Option<u16>,
    pub pid: Option<u16>,
    pub vid: Option<u16>,
    pub crpl: Option<u16>,
    pub features: String,
    pub default_ttl: Option<u8>,
    pub net_keys: Vec<u16>,
    pub app_keys: Vec<u16>,
    /// Per element: location and its models.
    pub elements: Vec<(u16, Vec<ModelDetail>)>,
    pub heartbeat_pub: Option<String>,
    pub heartbeat_sub: Option<String>,
    pub onoff: Option<bool>,
    pub level: Option<i16>,
    /// Health faults heard in Health Current/Fault Status messages from the node.
    pub faults: Option<Vec<u8>>,
    /// The next sequence number (scenario), or the highest heard (live air).
    pub seq: Option<u32>,
    pub iv_index: u32,
}

/// One model of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDetail {
    pub name: String,
    pub bound: Vec<u16>,
    pub publication: Option<String>,
    pub subscriptions: Vec<u16>,
}

/// An undirected link heard: (a, b, strongest latest RSSI, frames heard).
pub type Edge = (NodeKey, NodeKey, Option<i8>, u64);

/// Everything the UI draws: a snapshot, cheap to clone (the log holds `Arc`s).
#[derive(Debug, Clone)]
pub struct Model {
    /// `sim:smart-home (seed 1)`.
    pub source: String,
    pub now: Instant,
    pub paused: bool,
    pub topology: Topology,
    /// Layout positions in the unit square, by node.
    pub positions: Vec<(NodeKey, f64, f64)>,
    /// The links heard as undirected edges (a, b, RSSI, count), strongest first, computed off
    /// the render path.
    pub edges: Arc<Vec<Edge>>,
    /// Newest last.
    pub traffic: VecDeque<Arc<TrafficEntry>>,
    /// Entries ever logged (the log keeps the last [`TRAFFIC_CAPACITY`]).
    pub traffic_total: u64,
    pub stats: Stats,
    pub hops: Vec<Hop>,
    /// Group addresses nodes subscribe to, ascending.
    pub groups: Vec<u16>,
    /// The node the inspector's actions are sent from (the provisioner).
    pub host: u16,
    /// The detail of the node the UI asked about.
    pub detail: Option<Arc<NodeDetail>>,
    /// The pcap file being written, if a capture runs.
    pub capture: Option<String>,
    /// A line about the last action's outcome, numbered so the UI sees each one once.
    pub notice: Option<(u64, String)>,
    /// Unprovisioned devices the host heard beaconing, in the order first heard.
    pub unprovisioned: Vec<UnprovisionedDevice>,
}

/// An unprovisioned device heard beaconing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnprovisionedDevice {
    pub uuid: [u8; 16],
    /// The scenario's name for it.
    pub name: String,
    /// RSSI at the host, last heard.
    pub rssi: Option<i8>,
    pub last_heard: Instant,
    /// `waiting`, or the provisioning step reached.
    pub state: String,
}

/// What `C` applies: to a node's first server model, with application key 0, or to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOp {
    /// Config Heartbeat Publication Set: Heartbeats to this address every
    /// [`HEARTBEAT_PERIOD_S`] (None: stop them).
    Heartbeat(Option<u16>),
    /// Config Model App Bind.
    Bind,
    /// Config Model Publication Set to this address.
    Publish(u16),
    /// Config Model Subscription Add of this address.
    Subscribe(u16),
}

/// A frame from the air tap.
#[derive(Debug, Clone)]
struct AirRec {
    start: Instant,
    node: u32,
    bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct AirQueue {
    frames: VecDeque<AirRec>,
    dropped: u64,
}

/// A capture in progress.
pub(crate) type Capture = PcapWriter<std::io::BufWriter<std::fs::File>>;

/// The simulator, the decoder and the model they fill.
#[allow(missing_debug_implementations)]
pub struct Feeder {
    sim: Simulator<ScenarioStation>,
    plan: Vec<PlannedNode>,
    sniffer: Sniffer,
    air: Arc<Mutex<AirQueue>>,
    capture: Arc<Mutex<Option<(String, Capture)>>>,
    /// Node index by address.
    index: HashMap<u16, usize>,
    /// Address by node index (0 while unprovisioned) and names.
    addrs: Vec<u16>,
    names: Vec<String>,
    tally: TrafficTally,
    faults: HashMap<u16, Vec<u8>>,
    host_index: usize,
    scenario: crate::scenario::Scenario,
    seed: u64,
    /// Traffic is scheduled one scenario period at a time, up to here.
    scheduled_until: Instant,
    period: Duration,
    pub model: Model,
    pub layout: Layout,
}

impl Feeder {
    /// A feeder for a scenario (`RunArgs` as `weft sim run` takes them; `seconds` is the period
    /// after which the scenario's traffic repeats).
    pub fn new(args: &RunArgs) -> Result<Feeder, RunError> {
        let mut args = args.clone();
        args.json = true; // medium events: links heard, RSSI, drops
        let Built {
            mut sim,
            plan,
            keys,
            end,
            scenario,
            devices,
        } = crate::sim::build(&args)?;
        let mut addrs: Vec<u16> = plan.iter().map(|p| p.address).collect();
        addrs.resize(sim.node_count(), 0);
        let names: Vec<String> = plan
            .iter()
            .map(|p| p.name.clone())
            .chain(devices.iter().map(|d| d.name.clone()))
            .collect();
        let mut ring = Keyring::new();
        ring.add_net_key(keys.net_key);
        ring.add_app_key(keys.app_key);
        for (a, k) in &keys.dev_keys {
            ring.add_dev_key(Address(*a), *k);
        }
        let sniffer = Sniffer::new(ring, IvIndex(keys.iv_index));
        let air = Arc::new(Mutex::new(AirQueue::default()));
        let capture: Arc<Mutex<Option<(String, Capture)>>> = Arc::new(Mutex::new(None));
        {
            let air = Arc::clone(&air);
            let capture = Arc::clone(&capture);
            let addrs = addrs.clone();
            sim.set_air_tap(move |f| {
                if let Ok(mut c) = capture.lock() {
                    if let Some((_, w)) = c.as_mut() {
                        let a = addrs.get(f.node.index()).copied().unwrap_or(0);
                        write_adv(w, node_adv_address(a), f.channel, None, f.start, f.bytes);
                    }
                }
                // The three PDUs of an advertising event carry the same bytes: decode one.
                if f.channel != weft_radio::sim::ADV_CHANNELS[0] {
                    return;
                }
                if let Ok(mut q) = air.lock() {
                    if q.frames.len() >= AIR_QUEUE_CAPACITY {
                        q.dropped += 1;
                    } else {
                        q.frames.push_back(AirRec {
                            start: f.start,
                            node: f.node.0,
                            bytes: f.bytes.to_vec(),
                        });
                    }
                }
            });
        }
        let host_index = plan
            .iter()
            .position(|p| p.models.iter().any(|m| m == "config-client"))
            .unwrap_or(0);
        let mut topology = Topology::new();
        for (i, p) in plan.iter().enumerate() {
            let n = topology.node_mut(u64::from(p.address));
            n.name = Some(p.name.clone());
            if let Some(node) = sim.node(NodeId(i as u32)).as_node() {
                n.uuid = Some(node.state().uuid);
                n.elements = Some(node.state().elements.len() as u8);
            }
            n.roles.relay = p.relay;
            n.position = p.position.map(|(x, y)| (x, -y));
        }
        let host = plan.get(host_index).map_or(0, |p| p.address);
        topology.set_host(Some(u64::from(host)));
        let mut groups: Vec<u16> = plan.iter().flat_map(|p| p.subscribe.clone()).collect();
        groups.sort_unstable();
        groups.dedup();
        let index = plan
            .iter()
            .enumerate()
            .map(|(i, p)| (p.address, i))
            .collect();
        let period = Duration::from_micros(end.as_micros().max(1_000_000));
        let model = Model {
            groups,
            ..Model::empty(
                format!("sim:{} (seed {})", scenario.name, args.seed),
                topology,
                host,
            )
        };
        let mut f = Feeder {
            sim,
            plan,
            sniffer,
            air,
            capture,
            index,
            addrs,
            names,
            tally: TrafficTally::default(),
            faults: HashMap::new(),
            host_index,
            scenario,
            seed: args.seed,
            scheduled_until: Instant::ZERO,
            period,
            model,
            layout: Layout::new(),
        };
        f.layout_steps(200);
        Ok(f)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.plan.len()
    }

    /// Runs the simulation up to `t` (virtual) and folds everything that happened into the
    /// model.
    pub fn advance_to(&mut self, t: Instant) -> Result<(), RunError> {
        while self.scheduled_until <= t {
            let from = self.scheduled_until;
            let until = from + self.period;
            let k = from.as_micros() / self.period.as_micros().max(1);
            crate::sim::schedule_traffic(
                &mut self.sim,
                &self.plan,
                &self.scenario,
                self.seed ^ k,
                from,
                until,
            )?;
            self.scheduled_until = until;
        }
        self.sim.run_until(t);
        self.ingest();
        self.model.now = t.max(self.model.now);
        let horizon = Instant::from_micros(
            self.model
                .now
                .as_micros()
                .saturating_sub(HOP_ANIMATION.as_micros()),
        );
        self.model.hops.retain(|h| h.at >= horizon);
        self.model.stats.pdus_per_s = self.tally.per_second(self.model.now);
        self.model.stats.frames_on_air = self.sim.stats().frames_sent;
        self.model.topology.update_hops();
        Ok(())
    }

    /// Layout steps (while the layout has not settled); positions into the model.
    pub fn layout_steps(&mut self, max: usize) {
        self.model.settle(&mut self.layout, max);
    }

    fn ingest(&mut self) {
        let (frames, dropped) = match self.air.lock() {
            Ok(mut q) => (std::mem::take(&mut q.frames), q.dropped),
            Err(_) => (VecDeque::new(), 0),
        };
        self.model.stats.ingest_dropped = dropped;
        let events: Vec<_> = self.sim.drain_events().collect();
        // Medium and node events first: links heard and RSSI at the host come from them.
        let host_key = u64::from(self.model.host);
        let mut host_rssi: BTreeMap<(u32, Instant), i8> = BTreeMap::new();
        let mut config = Vec::new();
        for ev in events {
            if !config.is_empty()
                && !matches!(
                    ev,
                    SimEvent::Station {
                        event: StationEvent::Config(_),
                        ..
                    }
                )
            {
                self.config_notices(&std::mem::take(&mut config));
            }
            match ev {
                SimEvent::Rx {
                    at,
                    from,
                    to,
                    rssi,
                    channel,
                } => {
                    let (f, t) = (self.key(from.0), self.key(to.0));
                    if f == 0 {
                        if to.index() == self.host_index {
                            host_rssi.insert((from.0, at), rssi);
                            self.heard_device(from.index(), rssi, at);
                        }
                        continue;
                    }
                    if t == 0 {
                        continue;
                    }
                    self.model.topology.heard(f, t, Some(rssi), at);
                    if t == host_key {
                        host_rssi.insert((from.0, at), rssi);
                    }
                    if channel == weft_radio::sim::ADV_CHANNELS[0]
                        || !self.model.hops.iter().any(|h| {
                            h.from == f && h.to == t && at.saturating_since(h.at) < HOP_ANIMATION
                        })
                    {
                        self.model.hops.push(Hop { from: f, to: t, at });
                    }
                }
                SimEvent::Drop { reason, .. } => {
                    let r = match reason {
                        RadioDrop::Loss => "radio_loss",
                        RadioDrop::Collision => "radio_collision",
                        RadioDrop::NotListening => "radio_not_listening",
                        RadioDrop::HalfDuplex => "radio_half_duplex",
                        RadioDrop::BelowSensitivity => "radio_below_sensitivity",
                    };
                    *self.model.stats.drops.entry(r.into()).or_default() += 1;
                }
                SimEvent::Tx { .. } => {}
                // The host's Configuration Client, in runs: a notice can say a run finished a
                // configuration.
                SimEvent::Station {
                    event: StationEvent::Config(e),
                    ..
                } => {
                    config.push(e);
                    continue;
                }
                SimEvent::Station {
                    event: StationEvent::Node(event),
                    ..
                } => self.model.node_event(&event),
                SimEvent::Station {
                    event: StationEvent::Provisioner(e),
                    ..
                } => self.provisioner_event(e),
                SimEvent::Station {
                    node,
                    event: StationEvent::Provisioned { uuid, address },
                    ..
                } => self.became_node(node.index(), uuid, address),
                SimEvent::Station { .. } => {}
            }
        }
        if !config.is_empty() {
            self.config_notices(&config);
        }
        for f in frames {
            self.decode(f, &host_rssi);
        }
    }

    fn key(&self, node: u32) -> NodeKey {
        u64::from(self.addrs.get(node as usize).copied().unwrap_or(0))
    }

    /// The host heard an unprovisioned device (its beacons or its provisioning link).
    fn heard_device(&mut self, i: usize, rssi: i8, at: Instant) {
        let Some(uuid) = self.sim.node(NodeId(i as u32)).unprovisioned_uuid() else {
            return;
        };
        let name = self.names.get(i).cloned().unwrap_or_default();
        match self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            Some(d) => {
                d.rssi = Some(rssi);
                d.last_heard = at;
            }
            None => self.model.unprovisioned.push(UnprovisionedDevice {
                uuid,
                name,
                rssi: Some(rssi),
                last_heard: at,
                state: "waiting".into(),
            }),
        }
    }

    /// Progress of a provisioning started with `P`, into the status line.
    fn provisioner_event(&mut self, e: ProvisionerEvent) {
        if let ProvisionerEvent::Session {
            event: SessionEvent::Complete(p),
            ..
        } = &e
        {
            // The host station configures it next (its Configuration Client).
            let a = p.data.unicast_address.get();
            self.sniffer
                .keyring_mut()
                .add_dev_key(Address(a), p.device_key);
        }
        self.model.provisioning_progress(&e);
    }

    /// A device provisioned is a node now: it joins the topology and the node table.
    fn became_node(&mut self, i: usize, uuid: [u8; 16], address: u16) {
        if let Some(a) = self.addrs.get_mut(i) {
            *a = address;
        }
        self.index.insert(address, i);
        let name = self.names.get(i).cloned();
        let elements = self
            .sim
            .node(NodeId(i as u32))
            .as_node()
            .map(|n| n.state().elements.len() as u8);
        let position = self.sim.position(NodeId(i as u32));
        let n = self.model.topology.node_mut(u64::from(address));
        n.name = name;
        n.uuid = Some(uuid);
        n.elements = elements;
        n.position = position.map(|(x, y)| (x, -y));
        self.model.unprovisioned.retain(|d| d.uuid != uuid);
    }

    /// Provisions the unprovisioned device `uuid` from the host, with the next free address.
    pub fn provision(&mut self, uuid: [u8; 16]) -> Result<u16, String> {
        let now = self.sim.now();
        let a = self
            .sim
            .node_mut(NodeId(self.host_index as u32))
            .provision(now, uuid)?;
        let name = self.model.device_name(uuid);
        if let Some(d) = self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            d.state = "opening link".into();
        }
        self.model
            .notify(format!("provisioning {name} as {a:04x}: opening the link"));
        Ok(a)
    }

    /// Configures the node at `address` from the host: `op` on its first server model with
    /// application key 0; the status arrives in the status line.
    pub fn configure(&mut self, address: u16, op: ConfigOp) -> Result<(), String> {
        let &i = self
            .index
            .get(&address)
            .ok_or_else(|| format!("no node {address:04x}"))?;
        let target =
            UnicastAddress::new(address).ok_or_else(|| format!("no node {address:04x}"))?;
        let node = self
            .sim
            .node(NodeId(i as u32))
            .as_node()
            .ok_or("not provisioned")?;
        if let Some(request) = op.node_message() {
            return self
                .sim
                .node_mut(NodeId(self.host_index as u32))
                .config_request(target, request);
        }
        let (e, model) = node
            .state()
            .elements
            .iter()
            .enumerate()
            .find_map(|(e, el)| {
                el.models
                    .iter()
                    .find(|m| SUBSCRIBE_MODELS.contains(&m.id))
                    .map(|m| (e, m.id))
            })
            .ok_or_else(|| format!("{address:04x} has no server model to configure"))?;
        let element = Address(address + e as u16);
        let request = config_message(op, element, model);
        // A new request replaces what was still queued for the node.
        self.sim
            .node_mut(NodeId(self.host_index as u32))
            .config_request(target, request)
    }

    /// A run of the host's Configuration Client events, into the status line.
    fn config_notices(&mut self, events: &[ConfigClientEvent]) {
        let name = |a: u16| {
            self.index
                .get(&a)
                .and_then(|&i| self.names.get(i))
                .cloned()
                .unwrap_or_default()
        };
        let notices = config_notices(events, name);
        for text in notices {
            self.model.notify(text);
        }
    }

    fn decode(&mut self, f: AirRec, host_rssi: &BTreeMap<(u32, Instant), i8>) {
        let transmitter = self.addrs.get(f.node as usize).copied().unwrap_or(0);
        self.model.stats.pdus += 1;
        self.tally.count(f.start);
        // The host hears the frame (on its channel) at the end of the PDU.
        let end = f.start + weft_radio::sim::adv_airtime(f.bytes.len());
        // It may have heard this advertising event on any of the three channels.
        let rssi = host_rssi
            .range((f.node, end)..(f.node, end + Duration::from_millis(3)))
            .next()
            .map(|(_, r)| *r);
        let decoded = self.sniffer.handle_ad(&f.bytes);
        let mut e = TrafficEntry::heard(f.start, transmitter, rssi, "nothing decodable");
        for d in decoded {
            match d {
                Decoded::Network(n) => {
                    e.src = Some(n.pdu.src.0);
                    e.dst = Some(n.pdu.dst.0);
                    e.ttl = Some(n.pdu.ttl);
                    e.seq = Some(n.pdu.seq.get());
                    if n.pdu.src.0 != transmitter {
                        e.relayed_by = Some(transmitter);
                    }
                    let node = self.model.topology.node_mut(u64::from(n.pdu.src.0));
                    node.seq = Some(node.seq.map_or(n.pdu.seq.get(), |s| s.max(n.pdu.seq.get())));
                }
                other => {
                    let beacon = matches!(other, Decoded::Beacon(_));
                    if let Some((src, ModelMessage::Health(h))) =
                        describe_into(&mut e, &mut self.model.stats, other).message
                    {
                        self.note_faults(src, &h);
                    }
                    if beacon {
                        // An unprovisioned device has no address yet.
                        e.src = (transmitter != 0).then_some(transmitter);
                    }
                }
            }
        }
        finish_entry(&mut e, &mut self.model.stats);
        self.tally.log(&mut self.model, transmitter, e);
    }

    fn note_faults(&mut self, src: u16, h: &weft_mesh::ble::foundation::health::HealthMessage) {
        use weft_mesh::ble::foundation::health::HealthMessage as H;
        if let H::CurrentStatus(r) | H::FaultStatus(r) = h {
            self.faults.insert(src, r.faults.clone());
        }
    }

    /// The configuration of the node at `address`, from its state in the simulator.
    pub fn detail(&self, address: u16) -> Option<NodeDetail> {
        let &i = self.index.get(&address)?;
        let node = self.sim.node(NodeId(i as u32)).as_node()?;
        let mut d = detail_of(node);
        d.name = self.names.get(i).cloned().unwrap_or_default();
        d.faults = self.faults.get(&address).cloned();
        Some(d)
    }

    /// Sends `message` from the host node to `dst` with application key 0, now.
    pub fn send(&mut self, dst: u16, message: AccessMessage) -> bool {
        let now = self.sim.now();
        let cmd = Command::send(Address(dst), KeyRef::App(0), message);
        self.sim
            .node_mut(NodeId(self.host_index as u32))
            .as_node_mut()
            .is_some_and(|n| n.handle_command(now, cmd))
    }

    /// Starts writing every frame on the air to a pcapng file at `path`.
    pub fn start_capture(&mut self, path: &str) -> Result<(), String> {
        let w = create_capture(path)?;
        if let Ok(mut c) = self.capture.lock() {
            *c = Some((path.to_string(), w));
        }
        self.model.capture = Some(path.to_string());
        Ok(())
    }

    /// Stops the capture; returns the file written.
    pub fn stop_capture(&mut self) -> Option<String> {
        self.model.capture = None;
        let (path, mut w) = self.capture.lock().ok()?.take()?;
        let _ = w.flush();
        Some(path)
    }

    /// The virtual time of the simulation.
    pub fn now(&self) -> Instant {
        self.sim.now()
    }

    /// Which of the node's server states changed last, for tests.
    pub fn onoff_of(&self, address: u16) -> Option<bool> {
        let &i = self.index.get(&address)?;
        self.sim.node(NodeId(i as u32)).as_node()?.onoff(0)
    }
}

/// A model's name as the inspector shows it: the Assigned Numbers name, else its ID.
pub fn model_name(id: weft_mesh::ble::node::ModelId) -> String {
    use weft_mesh::ble::node::ModelId as M;
    match (id.name(), id) {
        (Some(n), _) => n.to_string(),
        (None, M::Sig(m)) => format!("SIG model {m:04x}"),
        (
            None,
            M::Vendor {
                company_id,
                model_id,
            },
        ) => format!("vendor model {company_id:04x}:{model_id:04x}"),
    }
}

/// A Config request in the inspector's words, e.g. `bind app key 0 to Generic OnOff Server`.
/// What a run of Configuration Client events says in the status line, one line each (a
/// refusal is shown with its status, a finished configuration with its last answer);
/// `name` names a node by address.
pub(crate) fn config_notices(
    events: &[ConfigClientEvent],
    name: impl Fn(u16) -> String,
) -> Vec<String> {
    let named = |a: u16| format!("{} {a:04x}", name(a)).trim_start().to_string();
    let mut out = Vec::new();
    for (k, event) in events.iter().enumerate() {
        let text = match event {
            ConfigClientEvent::Answered {
                node,
                request,
                status,
            } => {
                let done = matches!(events.get(k + 1), Some(ConfigClientEvent::Done { node: n }) if n == node);
                let text = match status {
                    ConfigMessage::CompositionDataStatus { data, .. } => {
                        match CompositionDataPage0::parse(data) {
                            Ok(page) => format!("composition: {}", page.describe()),
                            Err(_) => "Composition Data Status does not parse".into(),
                        }
                    }
                    // MshPRT §4.3.5: the Status Code of the status.
                    s => match s.status() {
                        Some(c) if !c.is_success() => {
                            format!("{}: status {:#04x}", config_what(request), c.to_u8())
                        }
                        _ => format!("{}: success", config_what(request)),
                    },
                };
                format!(
                    "{}: {text}{}",
                    named(node.get()),
                    if done { " (configured)" } else { "" }
                )
            }
            ConfigClientEvent::Failed {
                reason: ConfigFailure::Refused(_),
                ..
            }
            | ConfigClientEvent::Done { .. } => continue,
            ConfigClientEvent::Failed {
                node,
                request,
                reason: ConfigFailure::Malformed(e),
            } => {
                let text = match (request, e) {
                    (ConfigMessage::CompositionDataGet { .. }, _) => {
                        "Composition Data Status does not parse".to_string()
                    }
                    (_, weft_mesh::ble::wire::Error::Truncated { got: 0, .. }) => {
                        format!("{}: empty status", config_what(request))
                    }
                    _ => format!("{}: status does not parse", config_what(request)),
                };
                format!("{}: {text}", named(node.get()))
            }
            ConfigClientEvent::Failed {
                node,
                request,
                reason: ConfigFailure::NoAnswer { tries },
            } => format!(
                "{:04x}: {}: no answer after {tries} tries",
                node.get(),
                config_what(request)
            ),
        };
        out.push(text);
    }
    out
}

/// A Config request in a few words.
pub(crate) fn config_what(request: &ConfigMessage) -> String {
    match request {
        ConfigMessage::CompositionDataGet { .. } => "Composition Data Get".into(),
        ConfigMessage::AppKeyAdd { app_key_index, .. } => {
            format!("AppKey Add {}", app_key_index.get())
        }
        ConfigMessage::ModelAppBind {
            app_key_index,
            model,
            ..
        } => format!(
            "bind app key {} to {}",
            app_key_index.get(),
            model_name(*model)
        ),
        ConfigMessage::ModelSubscriptionAdd { address, model, .. } => {
            format!("subscribe {} to {:04x}", model_name(*model), address.0)
        }
        ConfigMessage::ModelPublicationSet { address, model, .. } => {
            format!("publish {} to {:04x}", model_name(*model), address.0)
        }
        ConfigMessage::HeartbeatPublicationSet(h) if h.period_log == 0 => {
            "stop Heartbeats".to_string()
        }
        ConfigMessage::HeartbeatPublicationSet(h) => format!(
            "Heartbeats to {:04x} every {} s",
            h.destination.0,
            1u32 << (h.period_log.min(0x11) - 1)
        ),
        other => other.describe(),
    }
}

impl Model {
    /// A picture of `source` with `topology` seen from `host`, before anything is heard.
    pub(crate) fn empty(source: String, topology: Topology, host: u16) -> Model {
        Model {
            source,
            now: Instant::ZERO,
            paused: false,
            topology,
            positions: Vec::new(),
            edges: Arc::new(Vec::new()),
            traffic: VecDeque::new(),
            traffic_total: 0,
            stats: Stats::default(),
            hops: Vec::new(),
            groups: Vec::new(),
            host,
            detail: None,
            capture: None,
            notice: None,
            unprovisioned: Vec::new(),
        }
    }

    /// Layout steps (while `layout` has not settled), then its positions and the links heard,
    /// strongest first, into the model: the snapshot work done off the render path.
    pub(crate) fn settle(&mut self, layout: &mut Layout, steps: usize) {
        for _ in 0..steps {
            if layout.settled(&self.topology) {
                break;
            }
            layout.step(&self.topology);
        }
        self.positions = layout.normalized();
        let mut edges = self.topology.edges();
        edges.sort_by_key(|&(a, b, rssi, _)| (std::cmp::Reverse(rssi.unwrap_or(i8::MIN)), a, b));
        self.edges = Arc::new(edges);
    }

    /// Sets the notice line.
    pub fn notify(&mut self, text: impl Into<String>) {
        let n = self.notice.as_ref().map_or(1, |(n, _)| n + 1);
        self.notice = Some((n, text.into()));
    }

    /// A node's event into the statistics (drops by reason, replays, relays, SAR) and the
    /// roles its heartbeats announce.
    pub(crate) fn node_event(&mut self, e: &Event) {
        match e {
            Event::Dropped { reason } => {
                if *reason == NodeDrop::Replay {
                    self.stats.replays += 1;
                }
                *self.stats.drops.entry(reason.as_str().into()).or_default() += 1;
            }
            Event::Relayed { .. } => self.stats.relayed += 1,
            Event::Sar { outcome, .. } => {
                if outcome.is_none() {
                    self.stats.sar_complete += 1;
                } else {
                    self.stats.sar_failed += 1;
                }
            }
            Event::Heartbeat { src, features, .. } => {
                self.topology.node_mut(u64::from(src.0)).roles =
                    weft_mesh::topology::Roles::from_features(*features);
            }
            _ => {}
        }
    }

    /// The name an unprovisioned device is listed under (its UUID in hex when unknown).
    pub(crate) fn device_name(&self, uuid: [u8; 16]) -> String {
        self.unprovisioned
            .iter()
            .find(|d| d.uuid == uuid)
            .map_or_else(|| hex::encode(uuid), |d| d.name.clone())
    }

    /// A provisioning step into the Unprovisioned tab and the status line.
    pub(crate) fn provisioning_progress(&mut self, e: &ProvisionerEvent) {
        let Some((uuid, step)) = provisioning_step(e) else {
            return;
        };
        // A link closing after completion says nothing new.
        if matches!(e, ProvisionerEvent::LinkClosed { .. })
            && !self
                .unprovisioned
                .iter()
                .any(|d| d.uuid == uuid && d.state != "complete")
        {
            return;
        }
        let name = self.device_name(uuid);
        if let Some(d) = self.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            d.state = step.split(':').next().unwrap_or("").to_string();
        }
        self.notify(format!("provisioning {name}: {step}"));
    }
}

/// What [`describe_into`] found that a feeder keeps track of itself.
#[derive(Debug, Default)]
pub(crate) struct Described {
    /// The model message of an access message, with its source.
    pub message: Option<(u16, ModelMessage)>,
    /// The UUID of an Unprovisioned Device beacon.
    pub unprovisioned: Option<[u8; 16]>,
    /// A Heartbeat, with its source.
    pub heartbeat: Option<(u16, weft_mesh::ble::wire::control::Heartbeat)>,
}

/// Fills a traffic entry from one decoded item other than the network PDU itself (kinds, names,
/// summaries) and counts it; both the scenario feeder and the live listener use it.
pub(crate) fn describe_into(e: &mut TrafficEntry, stats: &mut Stats, d: Decoded) -> Described {
    let mut out = Described::default();
    match d {
        Decoded::Network(_) => {}
        Decoded::Access(a) => {
            stats.access += 1;
            e.kind = EntryKind::Access;
            e.src = Some(a.src.0);
            e.dst = Some(a.dst.0);
            match a.opcode {
                Some(op) => {
                    e.opcode =
                        opcode_name(op).map_or_else(|| hex::encode(op.to_bytes()), str::to_string);
                    let params = Opcode::parse(&a.access_payload)
                        .ok()
                        .and_then(|(_, n)| a.access_payload.get(n..))
                        .unwrap_or(&[]);
                    match ModelMessage::parse(op, params) {
                        Ok(m) => {
                            e.summary = m.describe();
                            out.message = Some((a.src.0, m));
                        }
                        Err(err) => e.summary = format!("parameters: {err}"),
                    }
                }
                None => e.opcode = "invalid opcode".into(),
            }
            if a.segments > 1 {
                e.summary = format!("{} ({} segments)", e.summary, a.segments);
            }
        }
        Decoded::Control(c) => {
            use weft_mesh::ble::wire::control::{Heartbeat, OPCODE_HEARTBEAT};
            use weft_mesh::ble::wire::Wire;
            stats.control += 1;
            e.kind = EntryKind::Control;
            e.opcode = control_opcode_name(c.opcode)
                .map_or_else(|| format!("control {:#04x}", c.opcode), str::to_string);
            if c.opcode == OPCODE_HEARTBEAT {
                // MshPRT §3.6.5.10: hops = InitTTL - RxTTL + 1.
                match Heartbeat::parse(&c.parameters) {
                    Ok(h) => {
                        let roles = weft_mesh::topology::Roles::from_features(h.features.0);
                        e.summary = format!(
                            "Heartbeat, init TTL {}, features {}",
                            h.init_ttl,
                            roles.letters()
                        );
                        out.heartbeat = Some((c.src.0, h));
                    }
                    Err(err) => e.summary = format!("parameters: {err}"),
                }
            }
        }
        Decoded::SegmentPending {
            received, total, ..
        } => {
            stats.segments += 1;
            e.kind = EntryKind::Segment(received, total);
            e.opcode = "segment".into();
            e.summary = format!("{received} of {total} segments");
        }
        Decoded::Beacon(b) => {
            stats.beacons += 1;
            e.kind = EntryKind::Beacon;
            e.opcode = match &b.beacon {
                Beacon::UnprovisionedDevice(_) => "Unprovisioned Device Beacon",
                Beacon::SecureNetwork(_) => "Secure Network Beacon",
                Beacon::MeshPrivate(_) => "Mesh Private Beacon",
            }
            .into();
            if let Beacon::UnprovisionedDevice(u) = &b.beacon {
                e.summary = format!("uuid {}", hex::encode(u.device_uuid));
                out.unprovisioned = Some(u.device_uuid);
            }
        }
        Decoded::PbAdv(_) | Decoded::Provisioning { .. } => {
            e.kind = EntryKind::Provisioning;
            e.opcode = "PB-ADV".into();
        }
        Decoded::Error { error, .. } => {
            if matches!(e.kind, EntryKind::Undecryptable(_)) {
                e.kind = EntryKind::Undecryptable(error);
            }
        }
    }
    out
}

/// An entry nothing decoded shows why.
pub(crate) fn finish_entry(e: &mut TrafficEntry, stats: &mut Stats) {
    if let EntryKind::Undecryptable(reason) = &e.kind {
        stats.undecryptable += 1;
        e.opcode = "cannot decrypt".into();
        e.summary = reason.clone();
    }
}

/// The advertiser address a scenario's node at `transmitter` is written to captures with (0
/// when the transmitter is unknown), least significant octet first: a random static address
/// per node (Core v5.4 Vol 6 Part B §1.3.2.1: the two most significant bits are 1).
pub(crate) fn node_adv_address(transmitter: u16) -> [u8; 6] {
    let a = transmitter.to_le_bytes();
    [a[0], a[1], 0x00, 0x5e, 0x1f, 0xc0 | 0x2e]
}

/// Writes one advertising PDU heard on `channel` to a capture as an ADV_NONCONN_IND from the
/// advertiser address `adv_a` (least significant octet first).
pub(crate) fn write_adv(
    w: &mut Capture,
    adv_a: [u8; 6],
    channel: u8,
    rssi: Option<i8>,
    at: Instant,
    bytes: &[u8],
) {
    if let Ok(ll) = ble_adv_nonconn_ind(adv_a, true, bytes) {
        if let Ok(pkt) = ble_ll_phdr_packet(channel, rssi, &ll) {
            let _ = w.write_packet(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, at, &pkt);
        }
    }
}

/// A pcapng capture file created at `path`.
pub(crate) fn create_capture(path: &str) -> Result<Capture, String> {
    let f = std::fs::File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?;
    PcapWriter::new(std::io::BufWriter::new(f)).map_err(|e| e.to_string())
}

/// What a provisioning event means for the device, in a few words (the inspector's status
/// line and Unprovisioned tab), or `None` for events that say nothing new.
fn provisioning_step(e: &ProvisionerEvent) -> Option<([u8; 16], String)> {
    Some(match e {
        ProvisionerEvent::Beacon(_) => return None,
        ProvisionerEvent::LinkOpened { device_uuid } => (*device_uuid, "link opened".into()),
        ProvisionerEvent::Session { device_uuid, event } => match event {
            SessionEvent::Capabilities(_) => (*device_uuid, "capabilities received".into()),
            SessionEvent::Started(_) => (*device_uuid, "started (No OOB)".into()),
            SessionEvent::Complete(p) => (
                *device_uuid,
                format!(
                    "complete: address {:04x}; configuring",
                    p.data.unicast_address.get()
                ),
            ),
            SessionEvent::Failed(f) => (*device_uuid, format!("failed: {f:?}")),
            _ => return None,
        },
        ProvisionerEvent::LinkClosed { device_uuid, .. } => (*device_uuid, "link closed".into()),
    })
}

/// The period of the Heartbeats `C hb ADDR` asks a node for, in seconds.
pub const HEARTBEAT_PERIOD_S: u32 = 16;

impl ConfigOp {
    /// The Config message of an operation on the node itself (not on a model).
    pub fn node_message(self) -> Option<weft_mesh::ble::foundation::config::ConfigMessage> {
        use weft_mesh::ble::foundation::config::{ConfigMessage, HeartbeatPublication};
        use weft_mesh::ble::models::KeyIndex;
        match self {
            ConfigOp::Heartbeat(to) => Some(ConfigMessage::HeartbeatPublicationSet(
                HeartbeatPublication::every(
                    Address(to.unwrap_or(0)),
                    to.map_or(0, |_| HEARTBEAT_PERIOD_S),
                    0x7F,
                    KeyIndex::from_bits(0),
                ),
            )),
            _ => None,
        }
    }
}

/// The Config message that carries `op` for `model` on `element`, with application key 0
/// (MshPRT §4.3.2: Model App Bind, Model Subscription Add, Model Publication Set with the
/// Default TTL, no period, no retransmissions).
pub fn config_message(
    op: ConfigOp,
    element: Address,
    model: weft_mesh::ble::node::ModelId,
) -> weft_mesh::ble::foundation::config::ConfigMessage {
    use weft_mesh::ble::foundation::config::{
        ConfigMessage, Publication, PublishPeriod, Retransmit,
    };
    use weft_mesh::ble::models::KeyIndex;
    match op {
        ConfigOp::Bind => ConfigMessage::ModelAppBind {
            element,
            app_key_index: KeyIndex::from_bits(0),
            model,
        },
        ConfigOp::Subscribe(g) => ConfigMessage::ModelSubscriptionAdd {
            element,
            address: Address(g),
            model,
        },
        ConfigOp::Publish(to) => ConfigMessage::ModelPublicationSet {
            element,
            address: Address(to),
            publication: Publication {
                app_key_index: KeyIndex::from_bits(0),
                credential_flag: false,
                ttl: Publication::TTL_USE_DEFAULT,
                period: PublishPeriod::from_byte(0),
                retransmit: Retransmit::default(),
            },
            model,
        },
        ConfigOp::Heartbeat(_) => op
            .node_message()
            .unwrap_or(ConfigMessage::HeartbeatPublicationGet),
    }
}

/// A node's configuration from its own state (no name, no faults: the caller knows those).
pub fn detail_of<R: rand_chacha::rand_core::RngCore>(
    node: &weft_mesh::ble::node::Node<R>,
) -> NodeDetail {
    let st = node.state();
    let hb = |dst: Address, period_log: u8| {
        if period_log == 0 {
            format!("to {dst} (off)")
        } else {
            format!("to {dst} every {} s", 1u64 << (period_log.min(17) - 1))
        }
    };
    NodeDetail {
        address: st.primary.get(),
        name: String::new(),
        uuid: st.uuid,
        cid: Some(st.cid),
        pid: Some(st.pid),
        vid: Some(st.vid),
        crpl: Some(st.crpl),
        features: weft_mesh::topology::Roles::from_features(node.features()).letters(),
        default_ttl: Some(st.default_ttl),
        net_keys: st.net_keys.iter().map(|k| k.index).collect(),
        app_keys: st.app_keys.iter().map(|k| k.index).collect(),
        elements: st
            .elements
            .iter()
            .map(|e| {
                (
                    e.location,
                    e.models
                        .iter()
                        .map(|m| ModelDetail {
                            name: model_name(m.id),
                            bound: m.app_keys.clone(),
                            publication: m.publication.as_ref().map(|p| {
                                format!(
                                    "to {} app key {}",
                                    p.address,
                                    u16::from(p.params.app_key_index)
                                )
                            }),
                            subscriptions: m.subscriptions.iter().map(|a| a.0).collect(),
                        })
                        .collect(),
                )
            })
            .collect(),
        heartbeat_pub: st
            .heartbeat_publication
            .as_ref()
            .map(|p| hb(p.dst, p.period_log)),
        heartbeat_sub: node
            .heartbeat_subscription()
            .as_ref()
            .map(heartbeat_sub_text),
        onoff: node.onoff(0),
        level: node.level(0),
        faults: None,
        seq: Some(node.next_seq()),
        iv_index: st.iv_index.0,
    }
}

/// A node's Heartbeat Subscription with what it counted (MshPRT §4.2.18), e.g. "from 0001 to
/// c000, 5 received, 1..3 hops, 12 s left".
fn heartbeat_sub_text(
    r: &weft_mesh::ble::foundation::config::server::HeartbeatSubscriptionReport,
) -> String {
    let mut s = format!("from {} to {}", r.source, r.destination);
    match r.count {
        0 => s.push_str(", none received"),
        // The Heartbeat Subscription Count stops at 0xFFFF (§4.2.18.3).
        0xFFFF => s.push_str(", 65535+ received"),
        n => s.push_str(&format!(", {n} received")),
    }
    if r.count > 0 {
        match (r.min_hops, r.max_hops) {
            (1, 1) => s.push_str(", 1 hop"),
            (a, b) if a == b => s.push_str(&format!(", {a} hops")),
            (a, b) => s.push_str(&format!(", {a}..{b} hops")),
        }
    }
    if r.remaining > 0 {
        s.push_str(&format!(", {} s left", r.remaining));
    } else {
        s.push_str(", ended");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::ble::address::Seq;
    use weft_mesh::ble::sniff::ControlInfo;

    fn entry() -> TrafficEntry {
        TrafficEntry {
            at: Instant::ZERO,
            bearer: "ADV",
            transmitter: 0,
            src: None,
            dst: None,
            opcode: String::new(),
            summary: String::new(),
            ttl: Some(3),
            seq: None,
            rssi: None,
            relayed_by: None,
            kind: EntryKind::Undecryptable(String::new()),
        }
    }

    #[test]
    fn a_heartbeat_subscription_is_shown_with_its_counters() {
        use weft_mesh::ble::foundation::config::server::HeartbeatSubscriptionReport;
        let r = HeartbeatSubscriptionReport {
            source: Address(0x0001),
            destination: Address(0xc000),
            remaining: 12,
            count: 5,
            min_hops: 1,
            max_hops: 3,
        };
        assert_eq!(
            heartbeat_sub_text(&r),
            "from 0001 to c000, 5 received, 1..3 hops, 12 s left"
        );
        let one = HeartbeatSubscriptionReport {
            count: 1,
            max_hops: 1,
            remaining: 0,
            ..r
        };
        assert_eq!(
            heartbeat_sub_text(&one),
            "from 0001 to c000, 1 received, 1 hop, ended"
        );
        let none = HeartbeatSubscriptionReport {
            count: 0,
            min_hops: 0x7f,
            max_hops: 0,
            ..r
        };
        assert_eq!(
            heartbeat_sub_text(&none),
            "from 0001 to c000, none received, 12 s left"
        );
        let full = HeartbeatSubscriptionReport {
            count: 0xffff,
            min_hops: 4,
            max_hops: 4,
            ..r
        };
        assert_eq!(
            heartbeat_sub_text(&full),
            "from 0001 to c000, 65535+ received, 4 hops, 12 s left"
        );
    }

    #[test]
    fn a_heartbeat_is_described_with_its_init_ttl_and_features() {
        // MshPRT §3.6.5.10: InitTTL 5, Features 0x0001 (Relay), big-endian.
        let c = ControlInfo {
            src: Address(0x0042),
            dst: Address(0xc000),
            seq: Seq::truncate(9),
            opcode: 0x0A,
            parameters: vec![0x05, 0x00, 0x01],
            segments: 1,
        };
        let mut e = entry();
        let mut stats = Stats::default();
        let d = describe_into(&mut e, &mut stats, Decoded::Control(c.clone()));
        assert_eq!(e.kind, EntryKind::Control);
        assert_eq!(e.opcode, "Heartbeat");
        assert_eq!(e.summary, "Heartbeat, init TTL 5, features R");
        let (src, h) = d.heartbeat.expect("a heartbeat");
        assert_eq!((src, h.init_ttl, h.features.relay()), (0x0042, 5, true));
        // Parameters of the wrong length are said, not guessed at.
        let mut e = entry();
        let short = ControlInfo {
            parameters: vec![0x05],
            ..c
        };
        let d = describe_into(&mut e, &mut stats, Decoded::Control(short));
        assert!(d.heartbeat.is_none());
        assert!(e.summary.starts_with("parameters:"), "{}", e.summary);
        assert_eq!(stats.control, 2);
    }
}
