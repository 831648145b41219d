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
use weft_radio::capture::{stand_in_adv_address, CaptureFile};
use weft_radio::sim::{DropReason as RadioDrop, NodeId, SimEvent, Simulator};

use crate::scenario::PlannedNode;
use crate::sim::{Built, RunArgs, RunError, ScenarioStation, StationEvent};
use weft_mesh::ble::prov::{ProvisionerEvent, SessionEvent};

/// Entries the traffic log keeps (older ones scroll away).
mod capture;
mod describe;
mod feeder;

pub(crate) use capture::{close_at_exit, toggle_capture, TapCapture};
#[cfg(test)]
use describe::heartbeat_sub_text;
pub use describe::{config_message, detail_of, model_name, HEARTBEAT_PERIOD_S};
pub(crate) use describe::{
    config_notices, config_what, describe_into, describe_service_ad, finish_entry,
};
use feeder::provisioning_step;
pub use feeder::Feeder;

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
    /// Why the capture could not be closed when the network stopped (the command reports it
    /// once the terminal is restored).
    pub capture_error: Option<String>,
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
            capture_error: None,
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
