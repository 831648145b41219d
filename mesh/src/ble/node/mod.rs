//! One Bluetooth Mesh node as one sans-IO state machine: network layer (relay, cache, IV index,
//! sequence numbers, transmit counts), lower and upper transport, access dispatch, beacons and
//! heartbeats. See DESIGN.md ("The sans-IO contract").
//!
//! The runtime's loop, after every `handle_*` call: drain [`Node::poll_event`] first (persist the
//! state when it says [`Event::PersistState`]), then [`Node::poll_transmit`]. That order is what
//! makes "a sequence number reservation is written before use" hold.

pub mod config_server;
mod models;
pub mod state;

pub use models::{Level, OnOff, ServerStates, StateChange, LEVEL_MAX, LEVEL_MIN};

use std::collections::{HashMap, HashSet, VecDeque};

use rand_core::RngCore;

use crate::ble::address::{Address, IvIndex, Seq, UnicastAddress};
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
use crate::crypto::{virtual_address, AppKey, DevKey, NetKey};
use crate::frame::{Bearer, RxFrame, Station, TxFrame};
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

/// A frame waiting for its time, with the retransmissions still owed.
#[derive(Debug, Clone)]
struct Pending {
    due: Instant,
    bytes: Vec<u8>,
    remaining: u8,
    interval: Duration,
    /// Reported as `Sent` on first transmission (originated PDUs only).
    sent: Option<(Address, Address, Seq, bool, u8)>,
}

/// The network message cache (MshPRT §3.4.6.5): (source, sequence) pairs recently seen.
#[derive(Debug, Default)]
struct NetCache {
    set: HashSet<(u16, u32)>,
    ring: VecDeque<(u16, u32)>,
}

impl NetCache {
    /// Records the pair; returns false if it was already there.
    fn insert(&mut self, src: Address, seq: Seq) -> bool {
        let k = (src.0, seq.get());
        if !self.set.insert(k) {
            return false;
        }
        self.ring.push_back(k);
        if self.ring.len() > NET_CACHE {
            if let Some(old) = self.ring.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// A segmented message this node is sending.
#[derive(Debug)]
struct OutTransfer {
    sar: SarTx,
    net_index: u16,
    /// The SEQ reserved for the first segment sent: its SeqAuth, which the nonce used.
    first_seq: Option<Seq>,
}

/// A segmented message this node is receiving.
#[derive(Debug)]
struct InTransfer {
    sar: SarRx,
    subnet: usize,
    /// TTL of the first segment heard: acknowledgments go out with TTL 0 if it was 0.
    ttl: u8,
    rssi: Option<i8>,
}

/// Most completed segmented messages remembered (per source) to re-acknowledge late segments.
const COMPLETED_RX: usize = 256;

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
    now: Instant,
}

/// Most PDUs one call delivers to our own elements: a local exchange that keeps answering
/// itself (it cannot, but nothing from a frame may loop without bound) stops there.
const LOOPBACK_LIMIT: usize = 1024;

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

    fn alloc_seq(&mut self) -> Option<Seq> {
        // Running low (or out): start the IV Update that gives a fresh space when it ends
        // (MshPRT §3.11.5), if the 96 hours of the current state allow it now.
        if self.next_seq >= SEQ_IV_UPDATE_THRESHOLD && !self.state.iv_update {
            self.start_iv_update();
        }
        if self.next_seq > Seq::MAX {
            return None;
        }
        if self.next_seq + SEQ_BLOCK / 2 >= self.state.seq_reserved {
            self.state.seq_reserved = (self.next_seq + SEQ_BLOCK).min(Seq::MAX + 1);
            self.events.push_back(Event::PersistState);
        }
        let s = Seq::new(self.next_seq)?;
        self.next_seq += 1;
        Some(s)
    }

    fn queue(
        &mut self,
        at: Instant,
        bytes: Vec<u8>,
        rt: Retransmit,
        sent: Option<(Address, Address, Seq, bool, u8)>,
    ) {
        self.txq.push(Pending {
            due: at,
            bytes,
            remaining: rt.count,
            interval: Duration::from_millis(u64::from(rt.network_interval_ms())),
            sent,
        });
    }

    /// A small random delay (0..=max ms) so that nodes hearing one frame don't answer together.
    fn jitter(&mut self, max_ms: u64) -> Duration {
        Duration::from_micros(self.rng.next_u64() % (max_ms * 1_000 + 1))
    }

    // ------------------------------------------------------------------------------------
    // Receive path
    // ------------------------------------------------------------------------------------

    fn drop(&mut self, reason: DropReason) {
        self.events.push_back(Event::Dropped { reason });
    }

    fn adv_rx(&mut self, now: Instant, data: &[u8], rssi: Option<i8>) {
        for ad in AdStructures::new(data) {
            match ad {
                Ok(ad) if ad.ad_type == AD_TYPE_MESH_MESSAGE => self.net_rx(now, ad.data, rssi),
                Ok(ad) if ad.ad_type == AD_TYPE_MESH_BEACON => self.beacon_rx(now, ad.data),
                Ok(_) => {}
                Err(_) => self.drop(DropReason::Malformed),
            }
        }
    }

    fn net_rx(&mut self, now: Instant, bytes: &[u8], rssi: Option<i8>) {
        match self.network_decision(bytes) {
            Err(reason) => self.drop(reason),
            Ok(d) => {
                if d.relay {
                    self.relay(now, d.subnet, &d.pdu, d.iv_index);
                }
                if d.deliver {
                    self.lower_rx(now, d.subnet, &d.pdu, d.iv_index, rssi);
                } else if !d.relay {
                    self.drop(DropReason::NotForUs);
                }
            }
        }
    }

    /// The network layer's receive decision for one PDU (MshPRT §3.4.6): deobfuscate, decrypt
    /// and authenticate under the subnets' keys, check the message cache and the source, and
    /// decide whether to deliver it to the transport layer and whether to relay it. Records the
    /// PDU in the cache.
    pub fn network_decision(&mut self, bytes: &[u8]) -> Result<NetworkDecision, DropReason> {
        let view = NetworkPdu::new_checked(bytes).map_err(|_| DropReason::Malformed)?;
        let iv = self.state.iv_index.for_rx(view.ivi());
        let mut opened = None;
        'keys: for (si, sn) in self.subnets.iter().enumerate() {
            for key in std::iter::once(&sn.key).chain(sn.new_key.as_ref()) {
                if key.flooding.nid != view.nid() {
                    continue;
                }
                if let Ok(p) = NetworkPduRepr::decrypt(bytes, &key.flooding, iv, NonceKind::Network)
                {
                    opened = Some((si, p));
                    break 'keys;
                }
            }
        }
        let (subnet, pdu) = opened.ok_or(DropReason::NoNetworkKey)?;
        if !self.cache.insert(pdu.src, pdu.seq) {
            return Err(DropReason::Duplicate);
        }
        if self.state.element_of(pdu.src).is_some() {
            return Err(DropReason::OwnMessage);
        }
        let deliver = self.is_for_us(pdu.dst);
        // Relay (§3.4.6.3): relay feature on, TTL >= 2, and not addressed to us alone.
        let relay = self.state.relay && pdu.ttl >= 2 && !(pdu.dst.is_unicast() && deliver);
        Ok(NetworkDecision {
            pdu,
            subnet,
            iv_index: iv,
            deliver,
            relay,
        })
    }

    fn is_for_us(&self, dst: Address) -> bool {
        if dst.is_unicast() {
            return self.state.element_of(dst).is_some();
        }
        match dst {
            Address::ALL_NODES => true,
            Address::ALL_RELAYS => self.state.relay,
            // Not a proxy or friend: those fixed groups are not ours (§3.4.2.4).
            Address::ALL_PROXIES | Address::ALL_FRIENDS => false,
            _ => {
                if let Some(hb) = &self.state.heartbeat_subscription {
                    if hb.dst == dst {
                        return true;
                    }
                }
                self.state
                    .elements
                    .iter()
                    .any(|e| e.models.iter().any(|m| m.subscriptions.contains(&dst)))
            }
        }
    }

    fn relay(&mut self, now: Instant, si: usize, pdu: &NetworkPduRepr, iv: IvIndex) {
        let mut out = pdu.clone();
        out.ttl -= 1;
        let Ok(bytes) = out.encrypt(&self.subnets[si].tx_key().flooding, iv, NonceKind::Network)
        else {
            return;
        };
        let delay = self.jitter(10);
        let rt = self.state.relay_retransmit;
        self.queue(now + delay, ad_wrap(AD_TYPE_MESH_MESSAGE, &bytes), rt, None);
        self.events.push_back(Event::Relayed {
            src: out.src,
            dst: out.dst,
            seq: out.seq,
            ttl: out.ttl,
        });
    }

    fn lower_rx(
        &mut self,
        now: Instant,
        si: usize,
        pdu: &NetworkPduRepr,
        iv: IvIndex,
        rssi: Option<i8>,
    ) {
        let Ok(lower) = LowerPdu::parse(pdu.ctl, &pdu.transport_pdu) else {
            return self.drop(DropReason::Malformed);
        };
        let Some(src) = UnicastAddress::new(pdu.src.0) else {
            return self.drop(DropReason::Malformed);
        };
        match lower {
            LowerPdu::Control(LowerControlPdu::SegmentAck {
                obo,
                seq_zero,
                block_ack,
            }) => self.ack_rx(now, pdu, obo, seq_zero, block_ack),
            LowerPdu::Control(LowerControlPdu::Unsegmented { opcode, parameters }) => {
                if self.rpl.accept(src, iv, pdu.seq).is_err() {
                    return self.drop(DropReason::Replay);
                }
                self.control_rx(pdu, opcode, parameters);
            }
            LowerPdu::Access(LowerAccessPdu::Unsegmented {
                akf,
                aid,
                upper_pdu,
            }) => {
                if self.rpl.check(src, iv, pdu.seq).is_err() {
                    return self.drop(DropReason::Replay);
                }
                let ctx = AccessContext {
                    seq: pdu.seq,
                    src: pdu.src,
                    dst: pdu.dst,
                    iv_index: iv,
                    szmic: false,
                };
                if self.upper_rx(now, si, &ctx, akf, aid, &upper_pdu, pdu.ttl, rssi) {
                    let _ = self.rpl.accept(src, iv, pdu.seq);
                }
            }
            seg => {
                let Some((kind, header, _)) = seg.segment() else {
                    return self.drop(DropReason::Malformed);
                };
                self.segment_rx(now, si, pdu, iv, rssi, src, kind, header, &seg);
            }
        }
    }

    /// A segment of a segmented message (MshPRT §3.5.3.4).
    #[allow(clippy::too_many_arguments)]
    fn segment_rx(
        &mut self,
        now: Instant,
        si: usize,
        pdu: &NetworkPduRepr,
        iv: IvIndex,
        rssi: Option<i8>,
        src: UnicastAddress,
        kind: SegKind,
        header: SegmentHeader,
        seg: &LowerPdu,
    ) {
        let seq_auth = header.seq_auth(iv.0, pdu.seq);
        // A segment of a message already complete: acknowledge it in full, once more.
        if let Some(done) = self.completed.get(&pdu.src) {
            if done.matches(iv.0, pdu.seq, &header) {
                if let Some(ack) = done.ack() {
                    self.send_ack(now, si, pdu, ack);
                }
                return self.drop(DropReason::Duplicate);
            }
        }
        let auth_iv = IvIndex((seq_auth >> 24) as u32);
        let auth_seq = Seq::truncate(seq_auth as u32);
        if self.rpl.check(src, auth_iv, auth_seq).is_err() {
            return self.drop(DropReason::Replay);
        }
        // One message in flight per source: a newer SeqAuth replaces an older one.
        let stale = self
            .sar_in
            .get(&pdu.src)
            .is_some_and(|t| t.sar.seq_auth() != seq_auth || t.sar.params().dst != pdu.dst);
        if stale {
            let older = self
                .sar_in
                .get(&pdu.src)
                .is_some_and(|t| t.sar.seq_auth() > seq_auth);
            if older {
                return self.drop(DropReason::Transport);
            }
            self.sar_in.remove(&pdu.src);
        }
        let config = self.state.sar_rx;
        let t = self.sar_in.entry(pdu.src).or_insert_with(|| InTransfer {
            sar: SarRx::new(
                SarRxParams {
                    src,
                    dst: pdu.dst,
                    kind,
                    iv_index: iv.0,
                },
                pdu.seq,
                header,
                config,
            ),
            subnet: si,
            ttl: pdu.ttl,
            rssi,
        });
        let outcome = t.sar.handle_pdu(now, pdu.seq, seg);
        let szmic = t.sar.szmic();
        let (subnet, ttl, rssi) = (t.subnet, t.ttl, t.rssi);
        self.flush_acks(now, pdu.src);
        match outcome {
            RxOutcome::New | RxOutcome::Duplicate => {}
            RxOutcome::Invalid(_) => self.drop(DropReason::Transport),
            RxOutcome::Complete(upper) => {
                if let Some(t) = self.sar_in.remove(&pdu.src) {
                    if let Some(done) = t.sar.completed() {
                        if self.completed.len() >= COMPLETED_RX {
                            self.completed.clear();
                        }
                        self.completed.insert(pdu.src, done);
                    }
                }
                match kind {
                    SegKind::Control { opcode } => {
                        if self.rpl.accept(src, auth_iv, auth_seq).is_ok() {
                            self.control_rx(pdu, opcode, upper);
                        }
                    }
                    SegKind::Access { akf, aid } => {
                        let ctx = AccessContext {
                            seq: auth_seq,
                            src: pdu.src,
                            dst: pdu.dst,
                            iv_index: auth_iv,
                            szmic,
                        };
                        if self.upper_rx(now, subnet, &ctx, akf, aid, &upper, ttl, rssi) {
                            let _ = self.rpl.accept(src, auth_iv, auth_seq);
                        }
                    }
                }
            }
        }
    }

    /// Sends the acknowledgments a receiver has due (MshPRT §3.5.3.4).
    fn flush_acks(&mut self, now: Instant, src: Address) {
        let mut acks = Vec::new();
        if let Some(t) = self.sar_in.get_mut(&src) {
            while let Some(ack) = t.sar.poll_ack(now) {
                acks.push((t.subnet, t.sar.params().dst, t.ttl, ack));
            }
        }
        for (si, dst, ttl, ack) in acks {
            self.send_ack_to(now, si, dst, src, ttl, ack);
        }
    }

    fn send_ack(&mut self, now: Instant, si: usize, pdu: &NetworkPduRepr, ack: LowerControlPdu) {
        self.send_ack_to(now, si, pdu.dst, pdu.src, pdu.ttl, ack);
    }

    /// A Segment Acknowledgment from `from` (our element the message was for) to its sender,
    /// with TTL 0 if the segments arrived with TTL 0, else the Default TTL (MshPRT §3.5.3.4).
    fn send_ack_to(
        &mut self,
        now: Instant,
        si: usize,
        from: Address,
        to: Address,
        rx_ttl: u8,
        ack: LowerControlPdu,
    ) {
        if self.state.element_of(from).is_none() {
            return;
        }
        let ttl = if rx_ttl == 0 {
            0
        } else {
            self.state.default_ttl
        };
        let net_index = self.subnets[si].index;
        self.send_network(now, net_index, true, ttl, from, to, ack.to_vec(), None);
    }

    /// A Segment Acknowledgment for one of our transfers (MshPRT §3.5.3.3).
    fn ack_rx(
        &mut self,
        now: Instant,
        pdu: &NetworkPduRepr,
        obo: bool,
        seq_zero: u16,
        block_ack: u32,
    ) {
        for t in &mut self.sar_out {
            let p = t.sar.params();
            if Address::from(p.src) == pdu.dst
                && (p.dst == pdu.src || obo)
                && p.seq_zero == seq_zero
            {
                t.sar.handle_ack(now, block_ack, obo);
            }
        }
        self.drive_sar(now);
    }

    /// Runs the SAR machines: segments due go on the air, finished transfers are reported, and
    /// receivers' acknowledgments and discard timers are served.
    fn drive_sar(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.sar_out.len() {
            if self.sar_out[i].sar.poll_timeout().is_some_and(|t| t <= now) {
                self.sar_out[i].sar.handle_timeout(now);
            }
            while let Some(lower) = self.sar_out[i].sar.poll_transmit(now) {
                let t = &mut self.sar_out[i];
                let seq = t.first_seq.take();
                let p = *t.sar.params();
                let net_index = t.net_index;
                self.send_network(
                    now,
                    net_index,
                    lower.ctl(),
                    p.ttl,
                    p.src.into(),
                    p.dst,
                    lower.to_vec(),
                    seq,
                );
            }
            if let Some(outcome) = self.sar_out[i].sar.outcome() {
                let t = self.sar_out.swap_remove(i);
                let p = *t.sar.params();
                self.events.push_back(Event::Sar {
                    src: p.src.into(),
                    dst: p.dst,
                    seq_zero: p.seq_zero,
                    segments: t.sar.seg_n() + 1,
                    outcome: outcome.err(),
                });
            } else {
                i += 1;
            }
        }
        let due: Vec<Address> = self
            .sar_in
            .iter()
            .filter(|(_, t)| t.sar.poll_timeout().is_some_and(|d| d <= now))
            .map(|(a, _)| *a)
            .collect();
        for src in due {
            if let Some(t) = self.sar_in.get_mut(&src) {
                t.sar.handle_timeout(now);
            }
            self.flush_acks(now, src);
            if self.sar_in.get(&src).is_some_and(|t| t.sar.is_discarded()) {
                self.sar_in.remove(&src);
                self.drop(DropReason::Transport);
            }
        }
    }

    fn control_rx(&mut self, pdu: &NetworkPduRepr, opcode: u8, parameters: Vec<u8>) {
        // Heartbeat (§3.6.5.10): RFU(1) InitTTL(7) Features(16).
        if opcode == 0x0A && parameters.len() == 3 {
            let init_ttl = parameters[0] & 0x7f;
            let hops = init_ttl.saturating_sub(pdu.ttl).saturating_add(1);
            let features = u16::from_be_bytes([parameters[1], parameters[2]]);
            config_server::heartbeat_received(
                &self.state,
                &mut self.hb_sub,
                self.now,
                pdu.src,
                pdu.dst,
                hops,
            );
            self.events.push_back(Event::Heartbeat {
                src: pdu.src,
                dst: pdu.dst,
                hops,
                features,
            });
            return;
        }
        self.events.push_back(Event::Control {
            src: pdu.src,
            dst: pdu.dst,
            opcode,
            parameters,
        });
    }

    /// Decrypts an upper transport access PDU and dispatches it; returns whether it was
    /// authenticated.
    #[allow(clippy::too_many_arguments)]
    fn upper_rx(
        &mut self,
        now: Instant,
        si: usize,
        ctx: &AccessContext,
        akf: bool,
        aid: u8,
        upper: &[u8],
        ttl: u8,
        rssi: Option<i8>,
    ) -> bool {
        let labels: Vec<Option<[u8; 16]>> = if ctx.dst.is_virtual() {
            self.virtual_labels(ctx.dst).into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let net_index = self.subnets[si].index;
        let mut opened = None;
        'outer: for label in &labels {
            if akf {
                for app in self.apps.iter().filter(|a| a.net_index == net_index) {
                    for k in std::iter::once(&app.key).chain(app.new_key.as_ref()) {
                        if k.aid != aid {
                            continue;
                        }
                        if let Ok(p) = decrypt_access(AccessKey::App(k), ctx, label.as_ref(), upper)
                        {
                            opened = Some((KeyRef::App(app.index), p));
                            break 'outer;
                        }
                    }
                }
            } else {
                let keys = std::iter::once(&self.dev_key).chain(
                    self.remote_dev
                        .iter()
                        .filter(|(a, _)| *a == ctx.src)
                        .map(|(_, k)| k),
                );
                for k in keys {
                    if let Ok(p) = decrypt_access(AccessKey::Dev(k), ctx, label.as_ref(), upper) {
                        opened = Some((KeyRef::Dev, p));
                        break 'outer;
                    }
                }
            }
        }
        let Some((key, payload)) = opened else {
            self.drop(DropReason::NoAccessKey);
            return false;
        };
        let Ok(message) = AccessMessage::parse(&payload) else {
            self.drop(DropReason::Malformed);
            return true;
        };
        let elements: Vec<usize> = match self.state.element_of(ctx.dst) {
            Some(e) => vec![e],
            None => (0..self.state.elements.len())
                .filter(|&i| {
                    ctx.dst == Address::ALL_NODES
                        || (ctx.dst == Address::ALL_RELAYS && self.state.relay)
                        || self.state.elements[i]
                            .models
                            .iter()
                            .any(|m| m.subscriptions.contains(&ctx.dst))
                })
                .collect(),
        };
        if elements.is_empty() {
            self.drop(DropReason::NotForUs);
        }
        for element in elements {
            self.events.push_back(Event::Access {
                element,
                src: ctx.src,
                dst: ctx.dst,
                seq: ctx.seq,
                key,
                ttl,
                rssi,
                message: message.clone(),
            });
            self.model_rx(now, element, ctx.src, key, net_index, &message);
        }
        true
    }

    /// A Configuration message for the Configuration Server (MshPRT §4.4.1): the state changes,
    /// then what derives from it follows; returns the reply.
    fn config_rx(
        &mut self,
        now: Instant,
        m: &crate::ble::models::config::ConfigMessage,
    ) -> Option<crate::ble::models::config::ConfigMessage> {
        use config_server::Effect;
        let outcome = config_server::handle_at(&mut self.state, &mut self.hb_sub, now, m);
        let mut persist = outcome.state_changed();
        for e in &outcome.effects {
            match e {
                Effect::KeysChanged => self.rebuild_keys(),
                Effect::KeyRefresh { net_index, phase } => {
                    self.set_key_refresh_phase(*net_index, *phase)
                }
                Effect::NodeReset => {
                    self.events.push_back(Event::NodeReset);
                    persist = false;
                }
                Effect::HeartbeatPublicationChanged => self.next_heartbeat = None,
                Effect::PublicationChanged { element, model } => {
                    self.servers.next_publish.remove(&(*element, *model));
                }
                _ => {}
            }
        }
        if persist {
            self.events.push_back(Event::PersistState);
        }
        outcome.reply
    }

    fn virtual_labels(&self, dst: Address) -> Vec<[u8; 16]> {
        let mut out = Vec::new();
        for m in self.state.elements.iter().flat_map(|e| &e.models) {
            for l in &m.labels {
                if Address(virtual_address(l)) == dst && !out.contains(l) {
                    out.push(*l);
                }
            }
        }
        out
    }

    // ------------------------------------------------------------------------------------
    // Beacons, IV Update, Key Refresh
    // ------------------------------------------------------------------------------------

    fn beacon_rx(&mut self, now: Instant, data: &[u8]) {
        let Ok(Beacon::SecureNetwork(b)) = Beacon::parse(data) else {
            // Unprovisioned device and private beacons are not for a provisioned node without
            // the Private Beacon feature.
            return;
        };
        let mut found = None;
        for (si, sn) in self.subnets.iter().enumerate() {
            if b.authenticate(&sn.key).is_ok() {
                found = Some((si, false));
                break;
            }
            if sn
                .new_key
                .as_ref()
                .is_some_and(|k| b.authenticate(k).is_ok())
            {
                found = Some((si, true));
                break;
            }
        }
        let Some((si, with_new)) = found else {
            return self.drop(DropReason::Beacon);
        };
        if with_new {
            self.key_refresh_beacon(si, b.flags.key_refresh());
        }
        self.iv_beacon(now, b.iv_index, b.flags.iv_update());
    }

    /// Key refresh driven by beacons secured with the new key (MshPRT §3.11.4.2, §3.11.4.3).
    fn key_refresh_beacon(&mut self, si: usize, kr_flag: bool) {
        let index = self.subnets[si].index;
        let phase = self.subnets[si].phase;
        let next = match (phase, kr_flag) {
            (KeyRefreshPhase::First, true) => Some(KeyRefreshPhase::Second),
            (KeyRefreshPhase::First | KeyRefreshPhase::Second, false) => {
                Some(KeyRefreshPhase::Normal)
            }
            _ => None,
        };
        if let Some(p) = next {
            self.set_key_refresh_phase(index, p);
        }
    }

    /// Moves a subnet to `phase`; Normal after phase 1 or 2 revokes the old key (phase 3,
    /// MshPRT §3.11.4.3), including the old application keys bound to it.
    pub fn set_key_refresh_phase(&mut self, net_index: u16, phase: KeyRefreshPhase) {
        let Some(k) = self
            .state
            .net_keys
            .iter_mut()
            .find(|k| k.index == net_index)
        else {
            return;
        };
        if k.new_key.is_none() || k.phase == phase {
            return;
        }
        if phase == KeyRefreshPhase::Normal {
            k.key = k.new_key.take().expect("checked above");
            for a in self
                .state
                .app_keys
                .iter_mut()
                .filter(|a| a.net_index == net_index)
            {
                if let Some(n) = a.new_key.take() {
                    a.key = n;
                }
            }
        }
        k.phase = phase;
        self.rebuild_keys();
        self.events
            .push_back(Event::KeyRefresh { net_index, phase });
        self.events.push_back(Event::PersistState);
    }

    /// The IV Update procedure and IV Index Recovery on a received beacon (MshPRT §3.11.5,
    /// §3.11.6).
    fn iv_beacon(&mut self, now: Instant, iv: IvIndex, updating: bool) {
        let cur = self.state.iv_index;
        if iv.0 < cur.0 || iv.0 > cur.0.saturating_add(IV_RECOVERY_LIMIT) {
            return;
        }
        if self.state.iv_update {
            // In progress: a beacon of the same index without the flag ends it, once 96 hours
            // have passed for an initiator; a follower ends it when the network does.
            if iv == cur && !updating {
                self.set_iv(now, cur, false);
            } else if iv.0 > cur.0 {
                self.set_iv(now, iv, updating);
            }
        } else if iv.0 == cur.0 + 1 && updating {
            self.set_iv(now, iv, true);
        } else if iv.0 > cur.0 && !(iv.0 == cur.0 + 1 && updating) {
            // IV Index Recovery: a node that missed the update adopts the index it hears.
            self.set_iv(now, iv, updating);
        }
    }

    fn set_iv(&mut self, now: Instant, iv: IvIndex, updating: bool) {
        let index_changed = iv != self.state.iv_index;
        self.state.iv_index = iv;
        self.state.iv_update = updating;
        self.iv_state_since = Some((now, Duration::ZERO));
        if !updating {
            // Normal operation with a new IV Index: sequence numbers restart (§3.11.5).
            self.next_seq = 0;
            self.state.seq_reserved = 0;
        }
        if index_changed {
            // Records older than the previous IV Index protect nothing any more (§3.4.4.3).
            self.rpl.prune_below(IvIndex(iv.0.saturating_sub(1)));
        }
        // Announce the new state quickly so the network converges.
        for sn in &mut self.subnets {
            sn.next_beacon = now;
        }
        self.events.push_back(Event::IvIndex {
            iv_index: iv,
            updating,
        });
        self.events.push_back(Event::PersistState);
    }

    fn start_iv_update(&mut self) {
        if self.state.iv_update {
            return;
        }
        let now = self.now;
        if self.iv_state_age_at(now).is_some_and(|a| a < IV_UPDATE_MIN) {
            return;
        }
        let iv = IvIndex(self.state.iv_index.0.wrapping_add(1));
        self.set_iv(now, iv, true);
    }

    fn send_beacons(&mut self, now: Instant) {
        if !self.state.beacon {
            return;
        }
        let flags_iv = if self.state.iv_update {
            Flags::IV_UPDATE
        } else {
            0
        };
        let iv = self.state.iv_index;
        let mut out = Vec::new();
        for i in 0..self.subnets.len() {
            if self.subnets[i].next_beacon > now {
                continue;
            }
            let sn = &self.subnets[i];
            let kr = if sn.phase == KeyRefreshPhase::Second {
                Flags::KEY_REFRESH
            } else {
                0
            };
            let b = SecureNetworkBeacon::new_signed(sn.tx_key(), Flags(kr | flags_iv), iv);
            out.push(ad_wrap(AD_TYPE_MESH_BEACON, &b.to_vec()));
            let j = self.jitter(1_000);
            self.subnets[i].next_beacon = now + BEACON_INTERVAL + j;
        }
        for bytes in out {
            self.queue(now, bytes, Retransmit::default(), None);
        }
    }

    /// How long the node had been in its IV Update state at `now`, if known.
    fn iv_state_age_at(&self, now: Instant) -> Option<Duration> {
        self.iv_state_since
            .map(|(t, age)| age + now.saturating_since(t))
    }

    /// How long the node has been in its current IV Update state (normal operation or IV
    /// Update in progress), as of the last call; `None` when unknown. A runtime that stops
    /// and starts the node keeps it (with the host's wall clock) and gives it back with
    /// [`Node::restore_iv_state_age`], so that the 96 hours of MshPRT §3.11.5 are counted
    /// across processes instead of starting again in each.
    pub fn iv_state_age(&self) -> Option<Duration> {
        self.iv_state_age_at(self.now)
    }

    /// The node has been in its current IV Update state for `age` at `now` (see
    /// [`Node::iv_state_age`]).
    pub fn restore_iv_state_age(&mut self, now: Instant, age: Duration) {
        self.now = self.now.max(now);
        self.iv_state_since = Some((now, age));
    }

    /// Gives back the sequence numbers reserved but not used: the reservation becomes the
    /// next sequence number, so a process that stops cleanly leaves the next one to start
    /// exactly where it ended instead of skipping the rest of a block (MshPRT §3.4.4.5
    /// allows 2^24 per IV index; each skipped number brings the IV Update closer). Safe at
    /// any time: the next message reserves a block again, asking to persist it
    /// ([`Event::PersistState`]) before it uses a number.
    pub fn release_reservation(&mut self) {
        self.state.seq_reserved = self.next_seq;
    }

    /// Whether the sequence numbers of the current IV index are used up (MshPRT §3.4.4.5:
    /// 24 bits): nothing can be sent until the IV Update the node started ends.
    pub fn sequence_exhausted(&self) -> bool {
        self.next_seq > Seq::MAX
    }

    /// Ends an IV Update this node is in, if 96 hours have passed (MshPRT §3.11.5).
    fn iv_timer(&mut self, now: Instant) {
        if self.state.iv_update {
            // Not known how long it has been: from now on (never shorter than 96 hours).
            self.iv_state_since.get_or_insert((now, Duration::ZERO));
            if self
                .iv_state_age_at(now)
                .is_some_and(|a| a >= IV_UPDATE_MIN)
            {
                let iv = self.state.iv_index;
                self.set_iv(now, iv, false);
            }
        }
    }

    /// The Features field of a Heartbeat: which features are enabled (MshPRT §3.6.5.10:
    /// bit 0 relay, 1 proxy, 2 friend, 3 low power).
    pub fn features(&self) -> u16 {
        u16::from(self.state.relay)
    }

    /// Periodic Heartbeat publication (MshPRT §3.6.7.2, §4.2.17): every 2^(PeriodLog-1) s while
    /// the count lasts (0xFFFF: indefinitely).
    fn heartbeat_timer(&mut self, now: Instant) {
        let Some(p) = self.state.heartbeat_publication.clone() else {
            return;
        };
        if p.count == 0 || p.period_log == 0 || p.dst.is_unassigned() {
            return;
        }
        let due = *self.next_heartbeat.get_or_insert(now);
        if due > now {
            return;
        }
        let period = Duration::from_secs(1u64 << (p.period_log.min(17) - 1));
        self.next_heartbeat = Some(now + period);
        let f = self.features().to_be_bytes();
        self.send_control(
            now,
            p.net_index,
            p.dst,
            p.ttl,
            0x0A,
            &[p.ttl & 0x7f, f[0], f[1]],
        );
        if p.count != 0xFFFF {
            if let Some(hp) = self.state.heartbeat_publication.as_mut() {
                hp.count -= 1;
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // Transmit path
    // ------------------------------------------------------------------------------------

    /// Sends a transport control message (unsegmented).
    pub fn send_control(
        &mut self,
        now: Instant,
        net_index: u16,
        dst: Address,
        ttl: u8,
        opcode: u8,
        params: &[u8],
    ) -> bool {
        let lower = LowerControlPdu::Unsegmented {
            opcode,
            parameters: params.to_vec(),
        };
        let src = self.state.element_address(0);
        let sent = self.send_network(now, net_index, true, ttl, src, dst, lower.to_vec(), None);
        self.flush_loopback(now);
        sent
    }

    #[allow(clippy::too_many_arguments)]
    fn send_network(
        &mut self,
        now: Instant,
        net_index: u16,
        ctl: bool,
        ttl: u8,
        src: Address,
        dst: Address,
        transport: Vec<u8>,
        seq: Option<Seq>,
    ) -> bool {
        let Some(si) = self.subnets.iter().position(|s| s.index == net_index) else {
            return false;
        };
        let Some(seq) = seq.or_else(|| self.alloc_seq()) else {
            return false;
        };
        let iv = self.tx_iv_index();
        let pdu = NetworkPduRepr {
            ivi: iv.ivi(),
            nid: 0,
            ctl,
            ttl,
            seq,
            src,
            dst,
            transport_pdu: transport,
        };
        let Ok(bytes) = pdu.encrypt(&self.subnets[si].tx_key().flooding, iv, NonceKind::Network)
        else {
            return false;
        };
        // Our own message must not come back to us as new (§3.4.6.5).
        self.cache.insert(src, seq);
        let rt = self.state.network_transmit;
        self.queue(
            now,
            ad_wrap(AD_TYPE_MESH_MESSAGE, &bytes),
            rt,
            Some((src, dst, seq, ctl, ttl)),
        );
        if self.state.element_of(dst).is_some() || (dst.is_multicast() && self.is_for_us(dst)) {
            // Loop back to our own elements (§3.4.6.4 local delivery), once this call is done.
            self.loopback.push_back((net_index, pdu, iv));
        }
        true
    }

    /// Delivers what we sent to our own elements ([`Node::loopback`]), and what that causes.
    fn flush_loopback(&mut self, now: Instant) {
        for _ in 0..LOOPBACK_LIMIT {
            let Some((net_index, pdu, iv)) = self.loopback.pop_front() else {
                return;
            };
            if let Some(si) = self.subnets.iter().position(|s| s.index == net_index) {
                self.lower_rx(now, si, &pdu, iv, None);
            }
        }
        self.loopback.clear();
    }

    fn send_access(&mut self, now: Instant, cmd: Command) -> bool {
        let Command::Send {
            element,
            dst,
            label,
            key,
            net_index,
            ttl,
            message,
        } = cmd
        else {
            return false;
        };
        let ttl = ttl.unwrap_or(self.state.default_ttl);
        let src = self.state.element_address(element);
        let payload = message.to_vec();
        let (net_index, akf, aid) = match key {
            KeyRef::App(i) => match self.apps.iter().find(|a| a.index == i) {
                Some(a) => (a.net_index, true, self.app_tx_key(a).aid),
                None => return false,
            },
            KeyRef::Dev => (net_index, false, 0),
        };
        if !self.subnets.iter().any(|s| s.index == net_index) {
            return false;
        }
        // The SEQ of the (first segment of the) message: the nonce needs it before the network
        // layer runs (SeqAuth, §3.5.3.1).
        let Some(seq) = self.alloc_seq() else {
            return false;
        };
        let ctx = AccessContext {
            seq,
            src,
            dst,
            iv_index: self.tx_iv_index(),
            szmic: false,
        };
        let upper = match key {
            KeyRef::App(i) => {
                let a = self
                    .apps
                    .iter()
                    .find(|a| a.index == i)
                    .expect("found above");
                encrypt_access(
                    AccessKey::App(self.app_tx_key(a)),
                    &ctx,
                    label.as_ref(),
                    &payload,
                )
            }
            KeyRef::Dev => {
                let dk = if dst.is_unicast() && self.state.element_of(dst).is_none() {
                    self.remote_dev
                        .iter()
                        .find(|(a, _)| *a == dst)
                        .map(|(_, k)| k)
                        .unwrap_or(&self.dev_key)
                } else {
                    &self.dev_key
                };
                encrypt_access(AccessKey::Dev(dk), &ctx, label.as_ref(), &payload)
            }
        };
        let Ok(upper) = upper else { return false };
        // One unsegmented lower PDU carries up to 15 octets of upper transport PDU (§3.5.2.1);
        // anything longer is segmented (§3.5.3.3).
        if upper.len() <= crate::ble::wire::lower::MAX_UNSEGMENTED_ACCESS {
            let lower = LowerAccessPdu::Unsegmented {
                akf,
                aid,
                upper_pdu: upper,
            };
            return self.send_network(
                now,
                net_index,
                false,
                ttl,
                src,
                dst,
                lower.to_vec(),
                Some(seq),
            );
        }
        let Some(src) = UnicastAddress::new(src.0) else {
            return false;
        };
        let params = SarTxParams {
            src,
            dst,
            kind: SegKind::Access { akf, aid },
            szmic: false,
            seq_zero: (seq.get() & 0x1fff) as u16,
            ttl,
        };
        match SarTx::new(now, params, &upper, self.state.sar_tx) {
            Ok(sar) => {
                self.sar_out.push(OutTransfer {
                    sar,
                    net_index,
                    first_seq: Some(seq),
                });
                self.drive_sar(now);
                true
            }
            Err(_) => {
                self.drop(DropReason::Transport);
                false
            }
        }
    }

    /// The application key to transmit with: the new one once its subnet is in phase 2.
    fn app_tx_key<'a>(&'a self, a: &'a AppRuntime) -> &'a AppKey {
        let phase2 = self
            .subnets
            .iter()
            .any(|s| s.index == a.net_index && s.phase == KeyRefreshPhase::Second);
        match (&a.new_key, phase2) {
            (Some(k), true) => k,
            _ => &a.key,
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
        done
    }
}

impl<R: RngCore> Station for Node<R> {
    type Event = Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        self.now = now;
        match frame.bearer {
            Bearer::Advertising => self.adv_rx(now, &frame.bytes, frame.rssi),
            // Proxy PDUs over GATT arrive with the proxy feature (issue of the GATT bearer).
            Bearer::Gatt | Bearer::Ieee802154 => {}
        }
        self.flush_loopback(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
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
        [tx, beacon, iv, hb, sar_out, sar_in, publish]
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
        self.flush_loopback(now);
    }
}

/// One AD structure: length, type, data (Core Supplement Part A §1.3; MshPRT §3.3.1).
fn ad_wrap(ad_type: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 2);
    v.push(data.len() as u8 + 1);
    v.push(ad_type);
    v.extend_from_slice(data);
    v
}

#[cfg(test)]
mod tests;
