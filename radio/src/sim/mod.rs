//! The discrete-event simulated medium: many [`Station`]s sharing one Bluetooth LE advertising
//! air in virtual time, deterministic for a given seed.
//!
//! Each [`TxFrame`] a station hands out (its bytes are advertising data, at most 31 octets) goes
//! on the air as one legacy advertising event: one PDU on channel 37, then 38, then 39, each
//! taking its LE 1M airtime, separated by [`SimConfig::channel_gap`]. Every node scans, rotating
//! its channel each scan interval and listening for the scan window. A receiver hears a PDU when
//! it is listening on that channel for the whole PDU, is not itself transmitting, the RSSI is at
//! or above sensitivity, (optionally) no overlapping PDU on that channel spoils it, and the
//! link's loss draw lets it through.
//!
//! Events are ordered by (time, insertion sequence) and all randomness comes from one seeded
//! ChaCha8 generator drawn in event order, so one seed replays a run exactly.

mod adv;
mod connectable;
mod detach;
mod gatt;
pub mod ieee802154;
mod stats;
mod topology;

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod gatt_tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};

pub use adv::{adv_address, random_static};
pub use gatt::{GattConfig, GattStats, CONN_QUEUE_LIMIT, MAX_ATT_MTU, MIN_ATT_MTU};
pub use stats::{AirFrame, DropCounts, DropReason, SimEvent, SimStats};
use topology::{Topology, EXPLICIT};

/// The primary advertising channels, in the order an advertising event uses them.
/// Core v5.4 Vol 6 Part B §1.4.1 (channel indices 37, 38, 39) and §4.4.2.1 (an advertising
/// event sends one PDU on each used channel in turn).
pub const ADV_CHANNELS: [u8; 3] = [37, 38, 39];

/// Largest advertising data of a legacy advertising PDU (ADV_NONCONN_IND: AdvA 6 octets +
/// AdvData 0..=31 octets). Core v5.4 Vol 6 Part B §2.3.1.3; Mesh uses ADV_NONCONN_IND
/// (MshPRT §3.3.1).
pub const MAX_ADV_DATA: usize = 31;

/// Octets of an advertising PDU on the LE 1M PHY besides the AdvData: preamble 1, access address
/// 4 (Core v5.4 Vol 6 Part B §2.1), PDU header 2 (§2.3), AdvA 6 (§2.3.1.3), CRC 3 (§2.1).
const ADV_OVERHEAD_OCTETS: u64 = 1 + 4 + 2 + 6 + 3;

/// The LE 1M PHY sends 1 Mb/s, so one octet takes 8 µs. Core v5.4 Vol 6 Part A §3.2.
const MICROS_PER_OCTET_LE_1M: u64 = 8;

/// Airtime of one legacy advertising PDU carrying `adv_data_len` octets of AdvData on LE 1M.
pub const fn adv_airtime(adv_data_len: usize) -> Duration {
    Duration::from_micros((ADV_OVERHEAD_OCTETS + adv_data_len as u64) * MICROS_PER_OCTET_LE_1M)
}

/// The longest PDU airtime (31 octets of AdvData: 376 µs).
const MAX_AIRTIME_US: u64 = adv_airtime(MAX_ADV_DATA).as_micros();

/// A node of a [`Simulator`], numbered from 0 in the order nodes were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's index (0-based, order of `add_node`).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Where a node stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placement {
    /// At (x, y) metres: links to other placed nodes follow the path-loss model.
    At { x: f64, y: f64 },
    /// Nowhere: the node hears and is heard only over explicit links ([`Simulator::set_link`]).
    Unplaced,
}

/// An explicit directed link, overriding the path-loss model for its pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// RSSI at the receiver, dBm. Below [`SimConfig::sensitivity_dbm`] the frame is dropped
    /// with [`DropReason::BelowSensitivity`] (yet still interferes when collisions are on).
    pub rssi_dbm: i8,
    /// Probability (0.0..=1.0) that a frame otherwise heard is lost.
    pub loss: f64,
}

/// A node's scanner: it listens `window` out of every `interval`, on one primary advertising
/// channel per interval, rotating 37, 38, 39 (Core v5.4 Vol 6 Part B §4.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Time from the start of one scan window to the next (at least 1 µs).
    pub interval: Duration,
    /// Time listening in each interval; zero turns scanning off, `>= interval` is continuous.
    pub window: Duration,
    /// Where the node's schedule starts: at virtual time t the node is `t + offset` into it
    /// (interval k of the schedule listens on channel `ADV_CHANNELS[k % 3]`).
    pub offset: Duration,
}

/// Parameters of the medium.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Transmit power of every node, dBm.
    pub tx_power_dbm: f64,
    /// Path loss at 1 m, dB (free space at 2.44 GHz: 20·log10(4π/λ) ≈ 40 dB).
    pub path_loss_1m_db: f64,
    /// Path-loss exponent n in PL(d) = PL(1 m) + 10·n·log10(d) (2 in free space, 2.5..4 indoors).
    pub path_loss_exponent: f64,
    /// Weakest RSSI a receiver decodes, dBm.
    pub sensitivity_dbm: f64,
    /// Loss probability of links from the path-loss model (explicit links carry their own).
    pub loss: f64,
    /// Gap between the end of one PDU of an advertising event and the start of the next, and
    /// between consecutive advertising events of one node (Core v5.4 Vol 6 Part B §4.4.2.6
    /// allows up to 10 ms between PDUs of an event; controllers take about 150 µs plus
    /// processing).
    pub channel_gap: Duration,
    /// Upper bound of advDelay, the pseudo-random 0..=10 ms a controller adds before each
    /// advertising event (Core v5.4 Vol 6 Part B §4.4.2.2.1) so that two advertisers don't stay
    /// in lock step. Zero turns it off.
    pub adv_delay_max: Duration,
    /// Default scan interval of new nodes.
    pub scan_interval: Duration,
    /// Default scan window of new nodes (equal to the interval: 100 % duty cycle).
    pub scan_window: Duration,
    /// Whether PDUs overlapping in time on one channel spoil each other at a receiver.
    pub collisions: bool,
    /// With collisions on, a PDU still gets through when it is stronger than every overlapping
    /// one by at least this many dB (capture effect).
    pub capture_threshold_db: f64,
    /// Whether to record `Tx`, `Rx`, `Drop` and `Link` events (counters in [`SimStats`] are
    /// always kept); turn off for large meshes.
    pub medium_events: bool,
    /// GATT connections (`gatt.rs`).
    pub gatt: GattConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tx_power_dbm: 0.0,
            path_loss_1m_db: 40.0,
            path_loss_exponent: 3.0,
            sensitivity_dbm: -95.0,
            loss: 0.0,
            channel_gap: Duration::from_micros(200),
            adv_delay_max: Duration::from_millis(10),
            // Zephyr's Bluetooth Mesh scans continuously: interval = window = 30 ms.
            scan_interval: Duration::from_millis(30),
            scan_window: Duration::from_millis(30),
            collisions: false,
            capture_threshold_db: 6.0,
            medium_events: true,
            gatt: GattConfig::default(),
        }
    }
}

/// A command for one node, run at a virtual time.
type Command<S> = Box<dyn FnOnce(&mut S, Instant) + Send>;

/// The air tap's callback.
type AirTap = Box<dyn FnMut(&AirFrame<'_>) + Send>;

/// What a queue entry does.
#[derive(Debug, Clone, Copy)]
enum Ev {
    /// The node's `poll_timeout` deadline (stale when the node's wake moved since).
    Wake { node: u32, deadline: Instant },
    /// The node starts its next queued advertising event.
    AdvStart { node: u32 },
    /// PDU `ch` (0..3) of in-flight transmission `tx` starts.
    ChannelStart { tx: u32, ch: u8 },
    /// PDU `ch` of `tx` ends: resolve its receptions.
    ChannelEnd { tx: u32, ch: u8 },
    /// A scheduled command runs.
    Command { slot: u32 },
    /// GATT connection `conn` (a slot of `gatt.rs`) is due to be made.
    GattEstablish { conn: u32 },
    /// A connection event of GATT connection `conn`.
    GattConnEvent { conn: u32 },
    /// The node's next connectable advertisement (`connectable.rs`).
    Connectable { node: u32 },
}

/// A queue entry; the heap pops the smallest (time, sequence) first.
#[derive(Debug)]
struct Entry {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        other.at.cmp(&self.at).then(other.seq.cmp(&self.seq))
    }
}

/// Per-node medium state (the station itself lives in a separate vector).
#[derive(Debug)]
struct NodeState {
    pos: Option<(f64, f64)>,
    scan_interval: u64,
    scan_window: u64,
    scan_offset: u64,
    /// The deadline currently queued for this node.
    wake: Option<Instant>,
    /// Advertising data waiting for the radio.
    tx_queue: VecDeque<Arc<[u8]>>,
    /// An advertising event is in progress or queued to start.
    tx_busy: bool,
    /// The span of the node's latest advertising event, [from, until).
    tx_from: Instant,
    tx_until: Instant,
    /// `node_mut` handed the station out: poll it before running on.
    dirty: bool,
    /// The advertiser address it transmits with.
    adv_address: [u8; 6],
    /// The ATT MTU it offers.
    gatt_mtu: u16,
    /// Its last GATT connection number.
    next_conn: u16,
}

impl NodeState {
    /// Whether the scanner listens on `channel` for all of [start, end).
    fn listening(&self, channel: u8, start: Instant, end: Instant) -> bool {
        let t = start.as_micros().wrapping_add(self.scan_offset);
        let k = t / self.scan_interval;
        let into = t - k * self.scan_interval;
        into + (end - start).as_micros() <= self.scan_window
            && ADV_CHANNELS[(k % 3) as usize] == channel
    }
}

/// An advertising event in flight.
#[derive(Debug)]
struct TxSlot {
    node: u32,
    bytes: Arc<[u8]>,
    airtime: u64,
    /// The sender was detached while this event was in flight: its remaining PDUs keep their
    /// time (the node's next event still waits for them) but nobody hears them.
    silent: bool,
}

/// A PDU recently on the air (kept for collision checks).
#[derive(Debug, Clone, Copy)]
struct OnAir {
    tx: u32,
    sender: u32,
    start: Instant,
    end: Instant,
}

/// The discrete-event medium for many stations. See the module documentation.
pub struct Simulator<S: Station> {
    config: SimConfig,
    seed: u64,
    rng: ChaCha8Rng,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Entry>,
    stations: Vec<S>,
    states: Vec<NodeState>,
    links: BTreeMap<(u32, u32), Link>,
    topology: Topology,
    topology_dirty: bool,
    dirty: Vec<u32>,
    txs: Vec<Option<TxSlot>>,
    free_txs: Vec<u32>,
    commands: Vec<Option<(u32, Command<S>)>>,
    free_commands: Vec<u32>,
    air: [VecDeque<OnAir>; 3],
    events: Vec<SimEvent<S::Event>>,
    stats: SimStats,
    tap: Option<AirTap>,
    rx_buf: Vec<u8>,
    /// Scratch: the PDUs that may spoil the one being resolved.
    interferers: Vec<OnAir>,
    /// GATT connections.
    gatt: gatt::GattState,
    /// How often nodes advertise their connectable service, if at all (`connectable.rs`).
    connectable_interval: Option<Duration>,
}

impl<S: Station> fmt::Debug for Simulator<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("now", &self.now)
            .field("seed", &self.seed)
            .field("nodes", &self.stations.len())
            .field("queued", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A generator for a station's own randomness, independent of the medium's and of other
/// streams: the same `(seed, stream)` always gives the same sequence.
pub fn station_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Stream 0 is the medium's own.
    rng.set_stream(stream.wrapping_add(1));
    rng
}

impl<S: Station> Simulator<S> {
    /// An empty medium at time zero.
    pub fn new(config: SimConfig, seed: u64) -> Self {
        Simulator {
            config,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            stations: Vec::new(),
            states: Vec::new(),
            links: BTreeMap::new(),
            topology: Topology::default(),
            topology_dirty: false,
            dirty: Vec::new(),
            txs: Vec::new(),
            free_txs: Vec::new(),
            commands: Vec::new(),
            free_commands: Vec::new(),
            air: Default::default(),
            events: Vec::new(),
            stats: SimStats::default(),
            tap: None,
            rx_buf: Vec::new(),
            interferers: Vec::new(),
            gatt: Default::default(),
            connectable_interval: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The seed the medium was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds a node; its scanner gets the configured interval and window and a random offset
    /// (drawn from the seeded generator). The station is polled at the next `step`/`run_until`.
    ///
    /// Panics beyond 2^32 - 1 nodes.
    pub fn add_node(&mut self, station: S, placement: Placement) -> NodeId {
        let n = u32::try_from(self.stations.len())
            .ok()
            .filter(|&n| n < u32::MAX)
            .expect("fewer than 2^32 - 1 nodes");
        let interval = self.config.scan_interval.as_micros().max(1);
        let offset = self.rng.next_u64() % interval.saturating_mul(3);
        let pos = match placement {
            Placement::At { x, y } if x.is_finite() && y.is_finite() => Some((x, y)),
            _ => None,
        };
        self.stations.push(station);
        self.states.push(NodeState {
            pos,
            scan_interval: interval,
            scan_window: self.config.scan_window.as_micros(),
            scan_offset: offset,
            wake: None,
            tx_queue: VecDeque::new(),
            tx_busy: false,
            tx_from: Instant::ZERO,
            tx_until: Instant::ZERO,
            dirty: true,
            adv_address: adv_address(self.seed, NodeId(n), 0),
            gatt_mtu: self.config.gatt.mtu.clamp(MIN_ATT_MTU, MAX_ATT_MTU),
            next_conn: 0,
        });
        self.dirty.push(n);
        self.topology_dirty = true;
        self.connectable_first(n);
        NodeId(n)
    }

    /// Sets the link in both directions (overriding the path-loss model for this pair).
    /// Links between a node and itself are ignored.
    pub fn set_link(&mut self, a: NodeId, b: NodeId, link: Link) {
        self.set_link_directed(a, b, link);
        self.set_link_directed(b, a, link);
    }

    /// Sets the link from `from` to `to` only.
    pub fn set_link_directed(&mut self, from: NodeId, to: NodeId, link: Link) {
        if from != to {
            self.links.insert((from.0, to.0), link);
            self.topology_dirty = true;
        }
    }

    /// Removes the explicit link from `from` to `to` (the path-loss model applies again).
    pub fn remove_link_directed(&mut self, from: NodeId, to: NodeId) {
        if self.links.remove(&(from.0, to.0)).is_some() {
            self.topology_dirty = true;
        }
    }

    /// A node's scanner settings.
    pub fn scan(&self, node: NodeId) -> Scan {
        let st = &self.states[node.index()];
        Scan {
            interval: Duration::from_micros(st.scan_interval),
            window: Duration::from_micros(st.scan_window),
            offset: Duration::from_micros(st.scan_offset),
        }
    }

    /// Changes a node's scanner.
    pub fn set_scan(&mut self, node: NodeId, scan: Scan) {
        let st = &mut self.states[node.index()];
        st.scan_interval = scan.interval.as_micros().max(1);
        st.scan_window = scan.window.as_micros();
        st.scan_offset = scan.offset.as_micros();
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.stations.len()
    }

    /// A node's station. Panics if `id` is not a node of this simulator.
    pub fn node(&self, id: NodeId) -> &S {
        &self.stations[id.index()]
    }

    /// A node's station, for commands between runs; the node is polled for frames, events and
    /// its timeout before the simulation goes on. Panics if `id` is not a node of this
    /// simulator.
    pub fn node_mut(&mut self, id: NodeId) -> &mut S {
        self.mark_dirty(id.0);
        &mut self.stations[id.index()]
    }

    /// All nodes in id order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &S)> + '_ {
        self.stations
            .iter()
            .enumerate()
            .map(|(i, s)| (NodeId(i as u32), s))
    }

    /// Where a node stands, if placed.
    pub fn position(&self, id: NodeId) -> Option<(f64, f64)> {
        self.states.get(id.index()).and_then(|s| s.pos)
    }

    /// The nodes that hear `id` directly, with the link (model or explicit), by node id.
    pub fn neighbours(&mut self, id: NodeId) -> Vec<(NodeId, Link)> {
        self.ensure_topology();
        self.topology
            .of(id.0)
            .iter()
            .map(|e| {
                (
                    NodeId(e.node),
                    Link {
                        rssi_dbm: e.rssi,
                        loss: topology::loss_from_fixed(e.loss),
                    },
                )
            })
            .collect()
    }

    /// Number of directed links (model and explicit) the medium knows.
    pub fn link_count(&mut self) -> usize {
        self.ensure_topology();
        self.topology.len()
    }

    /// Runs `command` on `node` at virtual time `at` (now, if `at` is past), then polls the
    /// node. Commands at one instant run in the order they were scheduled.
    pub fn schedule(
        &mut self,
        at: Instant,
        node: NodeId,
        command: impl FnOnce(&mut S, Instant) + Send + 'static,
    ) {
        assert!(node.index() < self.stations.len(), "unknown node {node}");
        let entry = Some((node.0, Box::new(command) as Command<S>));
        let slot = match self.free_commands.pop() {
            Some(slot) => {
                self.commands[slot as usize] = entry;
                slot
            }
            None => {
                self.commands.push(entry);
                (self.commands.len() - 1) as u32
            }
        };
        self.push(at.max(self.now), Ev::Command { slot });
    }

    /// Observes every PDU put on the air (e.g. for a pcap capture), at the PDU's start.
    pub fn set_air_tap(&mut self, tap: impl FnMut(&AirFrame<'_>) + Send + 'static) {
        self.tap = Some(Box::new(tap));
    }

    /// Removes the air tap.
    pub fn clear_air_tap(&mut self) {
        self.tap = None;
    }

    /// The counters.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The events recorded since the last drain, in order.
    pub fn drain_events(&mut self) -> impl Iterator<Item = SimEvent<S::Event>> + '_ {
        self.events.drain(..)
    }

    /// When the next queued entry is due, if any (it may be a stale timer).
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek().map(|e| e.at)
    }

    /// Processes everything due at or before `until`, then sets the clock to `until` (if later).
    pub fn run_until(&mut self, until: Instant) {
        self.prepare();
        while self.queue.peek().is_some_and(|e| e.at <= until) {
            self.process_next();
        }
        if until > self.now {
            self.now = until;
        }
    }

    /// Processes the next queued entry (skipping stale timers). Returns false when nothing is
    /// left to do.
    pub fn step(&mut self) -> bool {
        self.prepare();
        while !self.queue.is_empty() {
            if self.process_next() {
                return true;
            }
        }
        false
    }

    // ---- internals ----

    fn push(&mut self, at: Instant, ev: Ev) {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Entry { at, seq, ev });
    }

    fn mark_dirty(&mut self, n: u32) {
        let st = &mut self.states[n as usize];
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(n);
        }
    }

    fn ensure_topology(&mut self) {
        if self.topology_dirty {
            let positions: Vec<_> = self.states.iter().map(|s| s.pos).collect();
            self.topology = Topology::build(&self.config, &positions, &self.links);
            self.topology_dirty = false;
            self.gatt_topology_changed();
        }
    }

    /// Brings the topology up to date and polls nodes touched from outside.
    fn prepare(&mut self) {
        self.ensure_topology();
        let dirty = std::mem::take(&mut self.dirty);
        for &n in &dirty {
            self.states[n as usize].dirty = false;
            self.service(n, None);
        }
        self.dirty = dirty;
        self.dirty.clear();
    }

    /// Pops and runs one entry; false if it was a stale timer.
    fn process_next(&mut self) -> bool {
        let Some(Entry { at, ev, .. }) = self.queue.pop() else {
            return false;
        };
        debug_assert!(at >= self.now);
        self.now = at;
        match ev {
            Ev::Wake { node, deadline } => {
                let st = &mut self.states[node as usize];
                if st.wake != Some(deadline) {
                    return false;
                }
                st.wake = None;
                self.stats.station_calls += 1;
                self.stations[node as usize].handle_timeout(at);
                self.service(node, Some(deadline));
            }
            Ev::Command { slot } => {
                let taken = self.commands.get_mut(slot as usize).and_then(Option::take);
                self.free_commands.push(slot);
                if let Some((node, command)) = taken {
                    self.stats.station_calls += 1;
                    command(&mut self.stations[node as usize], at);
                    self.service(node, None);
                }
            }
            Ev::AdvStart { node } => self.adv_start(node),
            Ev::ChannelStart { tx, ch } => self.channel_start(tx, ch),
            Ev::ChannelEnd { tx, ch } => self.channel_end(tx, ch),
            Ev::GattEstablish { conn } => self.gatt_establish(conn),
            Ev::GattConnEvent { conn } => self.gatt_event(conn),
            Ev::Connectable { node } => self.connectable_due(node),
        }
        true
    }

    /// After a call into node `n`: queue its frames, record its events, requeue its timer.
    /// `handled` is the deadline just handled, which is not requeued if the station reports it
    /// again (a station whose timer does not advance would otherwise spin at one instant).
    fn service(&mut self, n: u32, handled: Option<Instant>) {
        let now = self.now;
        let i = n as usize;
        loop {
            while let Some(frame) = self.stations[i].poll_transmit(now) {
                self.enqueue_tx(n, frame);
            }
            let Some(request) = self.stations[i].poll_link() else {
                break;
            };
            self.gatt_request(n, request);
        }
        while let Some(event) = self.stations[i].poll_event() {
            self.stats.station_events += 1;
            self.events.push(SimEvent::Station {
                at: now,
                node: NodeId(n),
                event,
            });
        }
        let timeout = self.stations[i].poll_timeout();
        let st = &mut self.states[i];
        if timeout != st.wake {
            st.wake = timeout;
            if let Some(t) = timeout {
                if !(handled == Some(t) && t <= now) {
                    self.push(
                        t.max(now),
                        Ev::Wake {
                            node: n,
                            deadline: t,
                        },
                    );
                }
            }
        }
    }

    fn enqueue_tx(&mut self, n: u32, frame: TxFrame) {
        match frame.bearer {
            Bearer::Advertising => {}
            Bearer::Gatt(conn) => return self.gatt_send(n, conn, frame.bytes),
            Bearer::Ieee802154 => {
                self.stats.rejected_bearer += 1;
                return;
            }
        }
        if frame.bytes.len() > MAX_ADV_DATA {
            self.stats.rejected_oversize += 1;
            return;
        }
        let delay = self.adv_delay();
        let st = &mut self.states[n as usize];
        st.tx_queue.push_back(Arc::from(frame.bytes));
        if !st.tx_busy {
            st.tx_busy = true;
            self.push(self.now + delay, Ev::AdvStart { node: n });
        }
    }

    /// advDelay for the next advertising event (Core v5.4 Vol 6 Part B §4.4.2.2.1).
    fn adv_delay(&mut self) -> Duration {
        let max = self.config.adv_delay_max.as_micros();
        if max == 0 {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.next_u64() % (max + 1))
        }
    }

    fn adv_start(&mut self, node: u32) {
        let now = self.now;
        let gap = self.config.channel_gap.as_micros();
        let st = &mut self.states[node as usize];
        let Some(bytes) = st.tx_queue.pop_front() else {
            st.tx_busy = false;
            return;
        };
        let airtime = adv_airtime(bytes.len()).as_micros();
        st.tx_from = now;
        st.tx_until = now + Duration::from_micros(3 * airtime + 2 * gap);
        let slot = Some(TxSlot {
            node,
            bytes,
            airtime,
            silent: false,
        });
        let tx = match self.free_txs.pop() {
            Some(tx) => {
                self.txs[tx as usize] = slot;
                tx
            }
            None => {
                self.txs.push(slot);
                (self.txs.len() - 1) as u32
            }
        };
        self.stats.adv_events += 1;
        self.channel_start(tx, 0);
    }

    fn channel_start(&mut self, tx: u32, ch: u8) {
        let now = self.now;
        let Some(slot) = self.txs.get(tx as usize).and_then(Option::as_ref) else {
            return;
        };
        let channel = ADV_CHANNELS[ch as usize];
        let end = now + Duration::from_micros(slot.airtime);
        if slot.silent {
            self.push(end, Ev::ChannelEnd { tx, ch });
            return;
        }
        self.stats.frames_sent += 1;
        if self.config.medium_events {
            self.events.push(SimEvent::Tx {
                at: now,
                node: NodeId(slot.node),
                channel,
                len: slot.bytes.len(),
            });
        }
        if let Some(tap) = self.tap.as_mut() {
            tap(&AirFrame {
                start: now,
                end,
                node: NodeId(slot.node),
                channel,
                bytes: &slot.bytes,
            });
        }
        if self.config.collisions {
            self.air[ch as usize].push_back(OnAir {
                tx,
                sender: slot.node,
                start: now,
                end,
            });
        }
        self.push(end, Ev::ChannelEnd { tx, ch });
    }

    fn channel_end(&mut self, tx: u32, ch: u8) {
        let now = self.now;
        let Some(slot) = self.txs.get(tx as usize).and_then(Option::as_ref) else {
            return;
        };
        let sender = slot.node;
        if slot.silent {
            self.after_channel(tx, ch, sender);
            return;
        }
        let start = Instant::from_micros(now.as_micros().saturating_sub(slot.airtime));
        let channel = ADV_CHANNELS[ch as usize];
        let mut rx = RxFrame {
            lqi: None,
            bearer: Bearer::Advertising,
            channel,
            rssi: None,
            timestamp: now,
            adv_address: Some(self.states[sender as usize].adv_address),
            bytes: std::mem::take(&mut self.rx_buf),
        };
        rx.bytes.clear();
        rx.bytes.extend_from_slice(&slot.bytes);
        self.interferers.clear();
        if self.config.collisions {
            // Nothing ending at or before `now - MAX_AIRTIME` overlaps a PDU resolved from now on.
            let air = &mut self.air[ch as usize];
            while air
                .front()
                .is_some_and(|f| f.end.as_micros() + MAX_AIRTIME_US <= now.as_micros())
            {
                air.pop_front();
            }
            let pos = self.states[sender as usize].pos;
            for other in air.iter() {
                if other.tx != tx
                    && other.start < now
                    && other.end > start
                    && !self.topology.disjoint(
                        sender,
                        pos,
                        other.sender,
                        self.states[other.sender as usize].pos,
                    )
                {
                    self.interferers.push(*other);
                }
            }
        }
        let sensitivity = self.config.sensitivity_dbm;
        for k in self.topology.span(sender) {
            let nb = self.topology.entry(k);
            let r = nb.node as usize;
            let st = &self.states[r];
            let reason = if nb.flags & EXPLICIT != 0 && (nb.rssi as f64) < sensitivity {
                Some(DropReason::BelowSensitivity)
            } else if st.tx_from < now && st.tx_until > start {
                Some(DropReason::HalfDuplex)
            } else if !st.listening(channel, start, now) {
                Some(DropReason::NotListening)
            } else if !self.interferers.is_empty() && self.collided(nb) {
                Some(DropReason::Collision)
            } else if nb.loss == u32::MAX || (nb.loss != 0 && self.rng.next_u32() < nb.loss) {
                Some(DropReason::Loss)
            } else {
                None
            };
            match reason {
                Some(reason) => {
                    self.stats.dropped.bump(reason);
                    if self.config.medium_events {
                        self.events.push(SimEvent::Drop {
                            at: now,
                            from: NodeId(sender),
                            to: NodeId(nb.node),
                            channel,
                            reason,
                        });
                    }
                }
                None => {
                    self.stats.delivered += 1;
                    if self.config.medium_events {
                        self.events.push(SimEvent::Rx {
                            at: now,
                            from: NodeId(sender),
                            to: NodeId(nb.node),
                            channel,
                            rssi: nb.rssi,
                        });
                    }
                    rx.rssi = Some(nb.rssi);
                    self.stats.station_calls += 1;
                    self.stations[r].handle_frame(now, &rx);
                    self.service(nb.node, None);
                }
            }
        }
        self.rx_buf = rx.bytes;
        self.after_channel(tx, ch, sender);
    }

    /// After PDU `ch` of `tx` (sent by `sender`): the next PDU of the event, or the end of the
    /// event and the sender's next one if it has more queued.
    fn after_channel(&mut self, tx: u32, ch: u8, sender: u32) {
        let now = self.now;
        let gap = self.config.channel_gap;
        if ch < 2 {
            self.push(now + gap, Ev::ChannelStart { tx, ch: ch + 1 });
        } else {
            self.txs[tx as usize] = None;
            self.free_txs.push(tx);
            let delay = self.adv_delay();
            let st = &mut self.states[sender as usize];
            if st.tx_queue.is_empty() {
                st.tx_busy = false;
            } else {
                self.push(now + gap + delay, Ev::AdvStart { node: sender });
            }
        }
    }

    /// Whether one of the overlapping PDUs in `interferers` spoils `nb`'s reception.
    fn collided(&self, nb: topology::Neighbour) -> bool {
        self.interferers.iter().any(|other| {
            self.topology.find(other.sender, nb.node).is_some_and(|i| {
                (nb.rssi as f64) - (i.rssi as f64) < self.config.capture_threshold_db
            })
        })
    }
}
