//! One Bluetooth Mesh node as one sans-IO state machine. See ARCHITECTURE.md ("The sans-IO
//! contract"). The node's parts follow the chapters of Mesh Protocol 1.1, one file each:
//!
//! | file | MshPRT |
//! |------|--------|
//! | `network.rs` | §3.4 network layer: receive, message cache, relay, sequence numbers, local delivery |
//! | `transport.rs` | §3.5 lower transport: segmentation, acknowledgments, control messages |
//! | `access.rs` | §3.6, §3.7 upper transport and access: keys, virtual addresses, dispatch |
//! | `beacon.rs` | §3.10.3 secure network beacons, §3.11.4 key refresh |
//! | `iv_update.rs` | §3.11.5 IV Update, §3.11.6 IV Index Recovery |
//! | `proxy.rs` | §6.7 the Proxy Server: connections, filters, configuration messages, Mesh Proxy Service advertising |
//! | `heartbeat.rs` | §3.6.7, §4.2.17 heartbeat publication |
//! | `servers.rs` | §3.7.6.1, §4.2.3 the servers the node hosts (in [`crate::ble::foundation`] and [`crate::ble::models`]): dispatch, publication |
//! | `state.rs` | the persisted state |
//!
//! The runtime's loop, after every `handle_*` call: drain [`Node::poll_event`] first (persist the
//! state when it says [`Event::PersistState`]), then [`Node::poll_transmit`]. That order is what
//! makes "a sequence number reservation is written before use" hold.

mod access;
mod beacon;
mod heartbeat;
mod iv_update;
mod network;
mod proxy;
mod servers;
pub mod state;
mod transport;

pub use proxy::{ProxyServerCounters, MAX_PROXY_CONNECTIONS, NODE_IDENTITY_DURATION};
use servers::ServerStates;
pub use servers::StateChange;

use crate::ble::foundation::config::server as config_server;

use network::{ad_wrap, NetCache, Pending};
use transport::{InTransfer, OutTransfer};

use std::collections::{HashMap, HashSet, VecDeque};

use rand_core::RngCore;

use crate::ble::address::{Address, IvIndex, Seq, UnicastAddress};
use crate::ble::crypto::{virtual_address, AppKey, DevKey, NetKey};
use crate::ble::transport::rpl::ReplayProtectionList;
use crate::ble::transport::sar::{
    CompletedRx, LowerPdu, RxOutcome, SarRx, SarRxParams, SarTx, SarTxError, SarTxParams, SegKind,
};
use crate::ble::wire::access::AccessMessage;
use crate::ble::wire::adv::{AdStructures, AD_TYPE_MESH_BEACON, AD_TYPE_MESH_MESSAGE};
use crate::ble::wire::beacon::{Beacon, Flags, SecureNetworkBeacon};
use crate::ble::wire::lower::{LowerAccessPdu, LowerControlPdu, SegmentHeader};
use crate::ble::wire::network::{NetworkPdu, NetworkPduRepr, NonceKind};
use crate::ble::wire::upper::{decrypt_access, encrypt_access, AccessContext, AccessKey};
use crate::ble::wire::Wire;
use crate::frame::{
    Bearer, ConnId, Connectable, LinkEvent, LinkRequest, RxFrame, Station, TxFrame,
};
use crate::time::{Duration, Instant};

pub use state::{
    AppKeyState, ElementState, KeyRefreshPhase, ModelId, ModelState, NetKeyState, NodeState,
    Publication, Retransmit,
};

/// Sequence numbers are reserved in blocks of this many; the block is persisted before use.
pub const SEQ_BLOCK: u32 = 1024;
/// Capacity of the network message cache (MshPRT §3.4.6.5).
pub const NET_CACHE: usize = 512;
/// Interval of secure network beacons (MshPRT §3.10.3: every 10 s when not observing others).
pub const BEACON_INTERVAL: Duration = Duration::from_secs(10);
/// Minimum duration of each IV Update state (MshPRT §3.11.5): 96 hours.
pub const IV_UPDATE_MIN: Duration = Duration::from_secs(96 * 3600);
/// A node initiates an IV Update when its sequence numbers come this close to 2^24 (§3.11.5).
pub const SEQ_IV_UPDATE_THRESHOLD: u32 = 0x00F0_0000;
/// The farthest IV Index ahead that IV Index Recovery accepts (MshPRT §3.11.6): 42.
pub const IV_RECOVERY_LIMIT: u32 = 42;

/// Why a frame or message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Not a valid AD structure / network PDU / beacon.
    Malformed,
    /// No network key of this node authenticates it.
    NoNetworkKey,
    /// Already in the network message cache (a relayed copy or retransmission).
    Duplicate,
    /// Sent by one of our own elements.
    OwnMessage,
    /// The replay protection list rejected it.
    Replay,
    /// No application or device key authenticates the upper transport PDU.
    NoAccessKey,
    /// No element or subscription matches the destination.
    NotForUs,
    /// The transport layer could not take it (bad segments, SAR failure).
    Transport,
    /// A beacon that does not authenticate, or that carries an IV Index the node must ignore.
    Beacon,
}

impl DropReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NoNetworkKey => "no_network_key",
            DropReason::Duplicate => "duplicate",
            DropReason::OwnMessage => "own_message",
            DropReason::Replay => "replay",
            DropReason::NoAccessKey => "no_access_key",
            DropReason::NotForUs => "not_for_us",
            DropReason::Transport => "transport",
            DropReason::Beacon => "beacon",
        }
    }
}

/// Which key secured an access message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// An application key, by its global index.
    App(u16),
    /// A device key: this node's own (for its Configuration Server), or a remote node's.
    Dev,
}

/// What the node reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An access message for one of this node's elements (after RPL and key checks).
    Access {
        element: usize,
        src: Address,
        dst: Address,
        /// SEQ of SeqAuth: the sender's sequence number of the (first segment of the) message.
        seq: Seq,
        key: KeyRef,
        /// The TTL it arrived with.
        ttl: u8,
        rssi: Option<i8>,
        message: AccessMessage,
    },
    /// A transport control message addressed to this node (other than a Segment
    /// Acknowledgment).
    Control {
        src: Address,
        dst: Address,
        opcode: u8,
        parameters: Vec<u8>,
    },
    /// A server's state changed (a light switched, a level moved, attention started).
    State { element: usize, change: StateChange },
    /// A Heartbeat received (MshPRT §3.6.5.10): hops = InitTTL - RxTTL + 1.
    Heartbeat {
        src: Address,
        dst: Address,
        hops: u8,
        features: u16,
    },
    /// A network PDU this node originated went on the air for the first time.
    Sent {
        src: Address,
        dst: Address,
        seq: Seq,
        ctl: bool,
        ttl: u8,
    },
    /// A segmented message this node sent is finished: delivered (acknowledged, for unicast),
    /// or failed.
    Sar {
        src: Address,
        dst: Address,
        seq_zero: u16,
        segments: u8,
        /// `None` on success.
        outcome: Option<SarTxError>,
    },
    /// A network PDU was relayed (MshPRT §3.4.6.3).
    Relayed {
        src: Address,
        dst: Address,
        seq: Seq,
        ttl: u8,
    },
    /// A frame or message was dropped.
    Dropped { reason: DropReason },
    /// The state changed in a way that must be persisted before anything else is sent.
    PersistState,
    /// Config Node Reset (MshPRT §4.3.2.70): the node has left the network; the runtime forgets
    /// its state once the reply is on the air.
    NodeReset,
    /// The IV Index or the IV Update state changed (MshPRT §3.11.5).
    IvIndex { iv_index: IvIndex, updating: bool },
    /// A subnet's key refresh phase changed (MshPRT §3.11.4).
    KeyRefresh {
        net_index: u16,
        phase: KeyRefreshPhase,
    },
    /// The Proxy Server dropped proxy connection `conn` (its SAR timer expired, §6.3.2, or
    /// the GATT Proxy state was disabled, §4.2.11): the runtime closes it.
    ProxyDisconnect { conn: ConnId },
}

/// Something the user or an application asks of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send an access message from element `element` to `dst`.
    Send {
        element: usize,
        dst: Address,
        /// Required when `dst` is virtual.
        label: Option<[u8; 16]>,
        key: KeyRef,
        /// Network key index to send on (for device-key messages; application keys carry theirs).
        net_index: u16,
        /// `None` uses the Default TTL.
        ttl: Option<u8>,
        message: AccessMessage,
    },
    /// Start an IV Update (MshPRT §3.11.5), as a node whose sequence numbers run out would.
    StartIvUpdate,
}

impl Command {
    /// Sends `message` to `dst` with `key` from the primary element, on the primary subnet
    /// (net key index 0), with the Default TTL: the common case of [`Command::Send`].
    pub fn send(dst: Address, key: KeyRef, message: AccessMessage) -> Command {
        Command::Send {
            element: 0,
            dst,
            label: None,
            key,
            net_index: 0,
            ttl: None,
            message,
        }
    }
}

/// What the network layer decided for a received PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDecision {
    pub pdu: NetworkPduRepr,
    /// Index of the subnet whose key opened it.
    pub subnet: usize,
    /// The IV Index it was opened with.
    pub iv_index: IvIndex,
    /// For one of this node's elements or subscriptions.
    pub deliver: bool,
    /// To be relayed.
    pub relay: bool,
}

/// A subnet: a network key with its derived material, and the new key during key refresh.
#[derive(Debug, Clone)]
struct Subnet {
    index: u16,
    key: NetKey,
    new_key: Option<NetKey>,
    phase: KeyRefreshPhase,
    next_beacon: Instant,
}

impl Subnet {
    /// The key used to transmit: the new one from phase 2 on (MshPRT §3.11.4.2).
    fn tx_key(&self) -> &NetKey {
        match (&self.new_key, self.phase) {
            (Some(k), KeyRefreshPhase::Second) => k,
            _ => &self.key,
        }
    }
}

#[derive(Debug, Clone)]
struct AppRuntime {
    index: u16,
    net_index: u16,
    key: AppKey,
    new_key: Option<AppKey>,
}

/// A Bluetooth Mesh node.
#[derive(Debug)]
pub struct Node<R> {
    state: NodeState,
    rng: R,
    subnets: Vec<Subnet>,
    apps: Vec<AppRuntime>,
    dev_key: DevKey,
    remote_dev: Vec<(Address, DevKey)>,
    next_seq: u32,
    cache: NetCache,
    rpl: ReplayProtectionList,
    sar_out: Vec<OutTransfer>,
    sar_in: HashMap<Address, InTransfer>,
    completed: HashMap<Address, CompletedRx>,
    txq: Vec<Pending>,
    events: VecDeque<Event>,
    /// How long the node has been in its current IV Update state: at the instant, it was
    /// already the duration old (None: unknown, e.g. after a restore the runtime could not date).
    iv_state_since: Option<(Instant, Duration)>,
    /// When the next periodic Heartbeat is due (None: not scheduled yet).
    next_heartbeat: Option<Instant>,
    /// Heartbeat Subscription counters and period (MshPRT §4.2.18); not persisted.
    hb_sub: config_server::HeartbeatSubscriptionCounters,
    /// Run-time state of the hosted servers.
    servers: ServerStates,
    /// Commands due later (publish retransmissions).
    deferred: Vec<(Instant, Command)>,
    /// Network PDUs for our own elements, delivered once the current call has done its own
    /// work (a segmented message to ourselves acknowledges itself: handled at once, the
    /// acknowledgment would change the SAR machines while they are being driven).
    loopback: VecDeque<(u16, NetworkPduRepr, IvIndex)>,
    /// The Proxy Server's connections (MshPRT §6.7).
    proxy: proxy::ProxyServer,
    now: Instant,
}

impl<R: RngCore> Node<R> {
    /// A node from its persisted state. The sequence number resumes at the reserved mark, so a
    /// restored node never reuses one.
    pub fn new(state: NodeState, rng: R) -> Self {
        let mut node = Node {
            subnets: Vec::new(),
            apps: Vec::new(),
            dev_key: DevKey::new(state.dev_key),
            remote_dev: Vec::new(),
            next_seq: state.seq_reserved,
            cache: NetCache::default(),
            rpl: ReplayProtectionList::new(usize::from(state.crpl)),
            sar_out: Vec::new(),
            sar_in: HashMap::new(),
            completed: HashMap::new(),
            txq: Vec::new(),
            events: VecDeque::new(),
            iv_state_since: None,
            next_heartbeat: None,
            hb_sub: Default::default(),
            servers: ServerStates::default(),
            deferred: Vec::new(),
            loopback: VecDeque::new(),
            proxy: Default::default(),
            now: Instant::ZERO,
            state,
            rng,
        };
        node.rebuild_keys();
        node
    }

    /// Recomputes derived key material from the state (once per key, never per packet).
    fn rebuild_keys(&mut self) {
        let old: HashMap<u16, Instant> = self
            .subnets
            .iter()
            .map(|s| (s.index, s.next_beacon))
            .collect();
        self.subnets = self
            .state
            .net_keys
            .iter()
            .map(|k| Subnet {
                index: k.index,
                key: NetKey::new(k.key),
                new_key: k.new_key.map(NetKey::new),
                phase: k.phase,
                next_beacon: old.get(&k.index).copied().unwrap_or(Instant::ZERO),
            })
            .collect();
        // A new subnet's first beacon comes at a random point of the first interval, so that
        // nodes started together don't all beacon at once.
        for i in 0..self.subnets.len() {
            if !old.contains_key(&self.subnets[i].index) {
                let j = self.jitter(BEACON_INTERVAL.as_millis());
                self.subnets[i].next_beacon = self.now + j;
            }
        }
        self.apps = self
            .state
            .app_keys
            .iter()
            .map(|k| AppRuntime {
                index: k.index,
                net_index: k.net_index,
                key: AppKey::new(k.key),
                new_key: k.new_key.map(AppKey::new),
            })
            .collect();
        self.dev_key = DevKey::new(self.state.dev_key);
        self.remote_dev = self
            .state
            .remote_dev_keys
            .iter()
            .map(|(a, k)| (Address::from(*a), DevKey::new(*k)))
            .collect();
    }

    pub fn state(&self) -> &NodeState {
        &self.state
    }

    /// The replay protection list (MshPRT §3.9.8). It is not in [`NodeState`], whose every
    /// change must be persisted before the node goes on: it changes with every message
    /// accepted, so the runtime saves it on its own schedule (and on exit) and gives it back
    /// with [`Node::restore_rpl`] after a restart, keeping the node protected against replays
    /// of what it accepted before.
    pub fn rpl(&self) -> &ReplayProtectionList {
        &self.rpl
    }

    /// Takes back the records of a saved replay protection list (the newer record of each
    /// source wins; sources beyond the list's capacity are left out).
    pub fn restore_rpl(&mut self, saved: &ReplayProtectionList) {
        self.rpl.merge(saved);
    }

    /// The Heartbeat Subscription with its counters and remaining period, as of the last
    /// `handle_*` call (None: no subscription).
    pub fn heartbeat_subscription(&self) -> Option<config_server::HeartbeatSubscriptionReport> {
        config_server::heartbeat_subscription_report(&self.state, &self.hb_sub, self.now)
    }

    /// Changes the state through `f` and rebuilds what derives from it; for configuration
    /// models and tools. Emits [`Event::PersistState`].
    pub fn update_state(&mut self, f: impl FnOnce(&mut NodeState)) {
        let hb_sub = self.state.heartbeat_subscription.clone();
        f(&mut self.state);
        if self.state.heartbeat_subscription != hb_sub {
            // Not a Config Heartbeat Subscription Set: nothing counted, not counting.
            self.hb_sub = Default::default();
        }
        self.rebuild_keys();
        self.next_heartbeat = None;
        self.events.push_back(Event::PersistState);
    }

    pub fn primary(&self) -> UnicastAddress {
        self.state.primary
    }

    /// Whether frames (or network retransmissions of them, §3.4.6.4) are still queued to go
    /// on the air.
    pub fn transmitting(&self) -> bool {
        !self.txq.is_empty() || self.proxy_transmitting()
    }

    /// The next sequence number this node will use.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// The IV Index used to transmit: during an IV Update, the previous one (§3.11.5).
    pub fn tx_iv_index(&self) -> IvIndex {
        if self.state.iv_update {
            IvIndex(self.state.iv_index.0.wrapping_sub(1))
        } else {
            self.state.iv_index
        }
    }

    /// Executes a command.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> bool {
        self.now = now;
        let done = match cmd {
            Command::StartIvUpdate => {
                self.iv_state_since = None;
                self.start_iv_update();
                true
            }
            send @ Command::Send { .. } => self.send_access(now, send),
        };
        self.flush_loopback(now);
        self.proxy_beacon_changes();
        done
    }
}

impl<R: RngCore> Station for Node<R> {
    type Event = Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        self.now = now;
        match frame.bearer {
            Bearer::Advertising => self.adv_rx(now, &frame.bytes, frame.rssi),
            Bearer::Gatt(conn) => self.proxy_rx(now, conn, &frame.bytes),
            Bearer::Ieee802154 => {}
        }
        self.flush_loopback(now);
        self.proxy_beacon_changes();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        if let Some(f) = self.proxy_poll_transmit() {
            return Some(f);
        }
        let (i, _) = self
            .txq
            .iter()
            .enumerate()
            .filter(|(_, p)| p.due <= now)
            .min_by_key(|(_, p)| p.due)?;
        let p = &mut self.txq[i];
        let bytes = p.bytes.clone();
        if let Some((src, dst, seq, ctl, ttl)) = p.sent.take() {
            self.events.push_back(Event::Sent {
                src,
                dst,
                seq,
                ctl,
                ttl,
            });
        }
        if p.remaining == 0 {
            self.txq.swap_remove(i);
        } else {
            p.remaining -= 1;
            p.due = now + p.interval;
        }
        Some(TxFrame {
            bearer: Bearer::Advertising,
            bytes,
        })
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.txq.iter().map(|p| p.due).min();
        let beacon = if self.state.beacon {
            self.subnets.iter().map(|s| s.next_beacon).min()
        } else {
            None
        };
        let iv = if self.state.iv_update {
            Some(
                self.iv_state_since
                    .map_or(self.now, |(t, age)| t + IV_UPDATE_MIN.saturating_sub(age)),
            )
        } else {
            None
        };
        let hb = match (&self.state.heartbeat_publication, self.next_heartbeat) {
            (Some(p), next) if p.count > 0 && p.period_log > 0 => Some(next.unwrap_or(self.now)),
            _ => None,
        };
        let sar_out = self
            .sar_out
            .iter()
            .filter_map(|t| t.sar.poll_timeout())
            .min();
        let sar_in = self
            .sar_in
            .values()
            .filter_map(|t| t.sar.poll_timeout())
            .min();
        let publish = self.publication_timeout();
        // A value waiting on a proxy connection is due now.
        let gatt = self.proxy_transmitting().then_some(self.now);
        let proxy = self.proxy_timeout();
        [tx, beacon, iv, hb, sar_out, sar_in, publish, gatt, proxy]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.iv_timer(now);
        self.send_beacons(now);
        self.heartbeat_timer(now);
        self.drive_sar(now);
        self.publication_timer(now);
        self.proxy_timer(now);
        self.flush_loopback(now);
        self.proxy_beacon_changes();
    }

    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        self.now = now;
        self.proxy_link(now, event);
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        self.proxy_poll_link()
    }

    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        self.proxy_connectable(now)
    }
}

#[cfg(test)]
pub(crate) mod tests;
