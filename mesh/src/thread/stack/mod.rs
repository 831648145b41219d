//! A Thread node (Thread 1.3), sans-IO: frames and timers in; frames, events and a persisted
//! state out; time and randomness injected. The same contract as the Bluetooth Mesh node
//! ([`crate::ble::node`]): after every `handle_*` call the runtime drains [`Node::poll_event`]
//! first (persisting [`Node::state`] on [`Event::PersistState`]), then `poll_transmit`.
//!
//! | file | what |
//! |---|---|
//! | `state.rs` | credentials from the Active Operational Dataset; the persisted state; frame counters reserved ahead |
//! | `link.rs` | MAC frames out and in (security, replay), 6LoWPAN mesh header forwarding, fragments, routing decisions |
//! | `child.rs` | attaching as a child (§4.7): Parent Request, attach backoff, Parent Response selection, Child ID Request, Child Update keep-alive, data polls |
//! | `parent.rs` | a router's children: Parent Response, Child ID Response, Child Update Response, timeouts, indirect queue |
//! | `router.rs` | the router and leader roles (§5.9-§5.16): Advertisements on Trickle, Route64, Link Request/Accept, partitions |
//! | `solicit.rs` | a REED's Address Solicit (`/a/as`) and the leader's Router ID assignment |
//! | `query.rs` | Address Query (`/a/aq`, `/a/an`, `/a/ae`): the EID-to-RLOC cache, a parent answering for its children |
//! | `mpl.rs` | realm-local multicast with MPL (RFC 7731): seed set, a router's retransmissions |
//! | `ip.rs` | IPv6 delivery: MLE dispatch, ICMPv6 echo, UDP sockets, the TMF and application CoAP endpoints |
//! | `fuzz.rs` | the receive path under arbitrary bytes (`mesh/fuzz` `thread_stack`), the forger of the tests |
//!
//! The radio below does what an RCP does: CSMA-CA, acknowledgments and retransmissions
//! (IEEE 802.15.4-2015 §6.2.5.1, §6.7.4); the node learns the outcome through
//! [`Station::handle_tx_done`], and answers the radio's source-match question
//! ([`Ieee802154Station::frame_pending`]) from its indirect queue.
//!
//! Simplifications (the rest of issue #15 item 1 is open work):
//! - Network Data is empty; no router downgrade; no key rotation timer (a newer key sequence
//!   is followed, never started). Multicast beyond realm-local scope is not sent.
//! - Link quality comes from each authenticated frame's RSSI (margin above -100 dBm), without
//!   OpenThread's averaging and hysteresis; a router neighbour is not dropped after
//!   FAILED_ROUTER_TRANSMISSIONS, only after MAX_NEIGHBOR_AGE of silence.
//! - A router that hears no newer Router ID sequence (the leader increments it every 10 s)
//!   for NETWORK_ID_TIMEOUT forms a partition at once (OpenThread first tries to attach
//!   elsewhere). A router beyond MAX_ROUTE_COST of the leader loses its Router ID after
//!   MAX_LEADER_TO_ROUTER_TIMEOUT, as in OpenThread: a mesh must be narrower than that.
//! - A router or REED answers a Parent Request whatever its path cost to the leader and its
//!   leader age (OpenThread stays silent when the cost is infinite or the age is past
//!   NETWORK_ID_TIMEOUT).

mod child;
mod ip;
mod link;
pub(super) mod mpl;
mod parent;
mod query;
mod router;
mod solicit;
pub mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv6Addr;

use rand_core::RngCore;

pub use state::{
    CounterKind, Credentials, CredentialsError, FrameCounters, ThreadState, FRAME_COUNTER_BLOCK,
};

use crate::frame::{Bearer, RxFrame, Station, TxDone, TxFrame};
use crate::thread::coap::Endpoint;
use crate::thread::ip::addr::NodeAddresses;
use crate::thread::ip::tx::Fragmenter;
use crate::thread::ip::udp::{SocketLimits, SocketTable};
use crate::thread::lowpan::{Contexts, Reassembler, ReassemblyLimits};
use crate::thread::mac::indirect::{IndirectConfig, IndirectQueue};
use crate::thread::mac::poll::{DataPoller, PollConfig};
use crate::thread::mac::{Address, ExtAddress};
use crate::thread::mle::LeaderData;
use crate::thread::radio::{Ieee802154Station, MacSettings, RadioMac};
use crate::thread::security::{KeyManager, KeySwitchGuard, ReplayTable};
use crate::time::{Duration, Instant};

/// Events a node holds; beyond, the oldest is dropped.
const EVENTS: usize = 1024;
/// Frames a node holds for its radio; beyond, the oldest is dropped (counted).
const OUTBOX: usize = 64;
/// The housekeeping period: child and neighbour timeouts, expired challenges.
const TICK: Duration = Duration::from_secs(1);

/// How a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// A Full Thread Device that may become a router (and leader); else a Minimal End Device.
    pub router_eligible: bool,
    /// Receiver on when idle; `false`: a sleepy end device that polls its parent.
    pub rx_on_when_idle: bool,
    /// The child timeout it asks of its parent (Timeout TLV), and keeps as a parent's default
    /// (OpenThread `kDefaultChildTimeout`, 240 s; unverified).
    pub child_timeout: Duration,
    /// Children a router takes (OpenThread `OPENTHREAD_CONFIG_MLE_MAX_CHILDREN`, 10; unverified).
    pub max_children: usize,
    /// A REED asks to become a router after a random time in [0, this) while the partition
    /// has fewer than `router_upgrade_threshold` routers (Thread 1.3 §5.9.9
    /// ROUTER_SELECTION_JITTER, 120 s, as OpenThread's `kRouterSelectionJitter`, checked).
    pub router_selection_jitter: Duration,
    /// ROUTER_UPGRADE_THRESHOLD (16, as OpenThread's `kRouterUpgradeThreshold`, checked).
    pub router_upgrade_threshold: u8,
    /// A sleepy child's data poll period.
    pub poll_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            router_eligible: true,
            rx_on_when_idle: true,
            child_timeout: Duration::from_secs(240),
            max_children: 10,
            router_selection_jitter: Duration::from_secs(120),
            router_upgrade_threshold: 16,
            poll_period: Duration::from_secs(30),
        }
    }
}

/// The device role (Thread 1.3 §4.7, §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Not attached (attaching).
    Detached,
    Child,
    Router,
    Leader,
}

impl Role {
    /// The role's name as OpenThread's `state` command prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Detached => "detached",
            Role::Child => "child",
            Role::Router => "router",
            Role::Leader => "leader",
        }
    }
}

/// A Thread partition as its Leader Data TLV describes it (Thread 1.3 §4.4.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub id: u32,
    pub weighting: u8,
    pub leader_router_id: u8,
}

impl Partition {
    fn leader_data(&self) -> LeaderData {
        LeaderData {
            partition_id: self.id,
            weighting: self.weighting,
            data_version: 0,
            stable_data_version: 0,
            leader_router_id: self.leader_router_id,
        }
    }
    fn from_leader_data(l: &LeaderData) -> Self {
        Partition {
            id: l.partition_id,
            weighting: l.weighting,
            leader_router_id: l.leader_router_id,
        }
    }
    /// The merge order, as OpenThread's `MleRouter::ComparePartitions` (checked in its
    /// source): the higher weighting, then a partition of more than one router, then the
    /// higher partition ID wins. `singleton`: the partition has one router at most.
    fn rank(&self, singleton: bool) -> Rank {
        (self.weighting, !singleton, self.id)
    }
}

/// A partition's place in the merge order ([`Partition::rank`]).
type Rank = (u8, bool, u32);

/// What a node reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Persist [`Node::state`] now (before the next frame goes out).
    PersistState,
    /// The role changed.
    RoleChanged {
        role: Role,
        rloc16: Option<u16>,
        partition_id: Option<u32>,
    },
    /// A child attached to this router.
    ChildAdded { ext: ExtAddress, rloc16: u16 },
    /// A child timed out or left.
    ChildRemoved { ext: ExtAddress, rloc16: u16 },
    /// A UDP datagram waits on `port` ([`Node::recv_udp`]).
    UdpReceived { port: u16 },
    /// An application CoAP request arrived (answer with [`Node::coap_respond`]).
    CoapRequest(crate::thread::coap::Incoming),
    /// What became of an application CoAP request.
    Coap(crate::thread::coap::CoapEvent),
    /// An ICMPv6 echo reply arrived.
    EchoReply {
        from: Ipv6Addr,
        identifier: u16,
        sequence: u16,
        /// The reply's Hop Limit as it arrived (RFC 8200 §3).
        hop_limit: u8,
    },
}

/// What a transmitted frame was, for its [`TxDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Plain,
    DataRequest,
    Indirect(ExtAddress),
}

/// A Thread node (see the module documentation).
pub struct Node<R> {
    cfg: Config,
    creds: Credentials,
    state: ThreadState,
    fc: FrameCounters,
    rng: R,
    keys: KeyManager,
    replay: ReplayTable,
    ctx: Contexts,
    addrs: NodeAddresses,
    mac_seq: u8,
    role: Role,
    partition: Option<Partition>,
    attach: Option<child::Attach>,
    /// Attach cycles failed since the node was last attached (the attach backoff).
    attach_counter: u16,
    parent: Option<child::ParentLink>,
    children: Vec<parent::ChildEntry>,
    challenges: Vec<parent::Pending>,
    routes: router::RouterTable,
    delayed: Vec<(Instant, link::DelayedMle)>,
    out: VecDeque<(Vec<u8>, TxKind)>,
    /// Frames handed to the radio, with their MAC sequence numbers, awaiting their [`TxDone`].
    sent: VecDeque<(Option<u8>, TxKind)>,
    indirect: IndirectQueue<link::IndirectItem>,
    poller: DataPoller,
    frag: Fragmenter,
    reasm: Reassembler,
    sockets: SocketTable,
    tmf: Endpoint,
    /// The application's CoAP endpoint (port 5683), once enabled.
    coap: Endpoint,
    coap_bound: bool,
    events: VecDeque<Event>,
    counters: BTreeMap<&'static str, u64>,
    next_tick: Instant,
    /// The RSSI of the frame being handled.
    last_rssi: Option<i8>,
    /// An Address Solicit in flight (its token), or the time of the next one.
    solicit: Option<solicit::Solicit>,
    /// TMF requesters and the local address each wrote to.
    tmf_local: Vec<(std::net::SocketAddrV6, Ipv6Addr)>,
    /// A REED's next Advertisement.
    reed_advert_at: Option<Instant>,
    /// A REED's Child ID Request held while it becomes a router.
    pending_child: Option<(ExtAddress, Vec<crate::thread::mle::Tlv>)>,
    /// A sleepy child's receiver is on for a frame its parent announced.
    polling: bool,
    /// The EID-to-RLOC cache (Address Query).
    resolver: query::Resolver,
    mpl: mpl::Mpl,
    /// When the last ICMPv6 error went out (rate limit).
    icmp_error_at: Option<Instant>,
}

impl<R> core::fmt::Debug for Node<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("ext", &self.state.ext())
            .field("role", &self.role)
            .field("rloc16", &self.addrs.rloc16)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl<R: RngCore> Node<R> {
    /// A node from its persisted state (a fresh one from [`ThreadState::new`]), starting to
    /// attach at `now`.
    pub fn new(
        creds: Credentials,
        state: ThreadState,
        cfg: Config,
        mut rng: R,
        now: Instant,
    ) -> Self {
        let keys = KeyManager::new(creds.network_key, state.key_sequence)
            .with_switch_guard(KeySwitchGuard::default());
        let tmf = Endpoint::new(Default::default(), &mut rng);
        let coap = Endpoint::new(Default::default(), &mut rng);
        let first_tag = rng.next_u32() as u16;
        let mut n = Node {
            ctx: crate::thread::wire::contexts(creds.mesh_local_prefix),
            addrs: NodeAddresses::new(creds.mesh_local_prefix, state.ext(), state.ml_eid_iid),
            fc: FrameCounters::restore(&state),
            keys,
            replay: ReplayTable::default(),
            mac_seq: rng.next_u32() as u8,
            role: Role::Detached,
            partition: None,
            attach: None,
            attach_counter: 0,
            parent: None,
            children: Vec::new(),
            challenges: Vec::new(),
            routes: router::RouterTable::new(),
            delayed: Vec::new(),
            out: VecDeque::new(),
            sent: VecDeque::new(),
            indirect: IndirectQueue::new(IndirectConfig {
                max_children: cfg.max_children,
                // A frame waits for a sleepy child's next poll, whatever its poll period: as
                // long as the child timeout (OpenThread keeps a sleepy child's messages while
                // the child is valid; unverified). The standard's 7.68 s is shorter than the
                // usual poll periods (30 s here), so a frame expired before the child asked.
                persistence: cfg.child_timeout,
                ..IndirectConfig::default()
            }),
            poller: DataPoller::new(PollConfig {
                period: cfg.poll_period,
                ..PollConfig::default()
            }),
            frag: Fragmenter::new(first_tag),
            reasm: Reassembler::new(ReassemblyLimits::default()),
            sockets: SocketTable::new(SocketLimits::default()),
            tmf,
            coap,
            coap_bound: false,
            events: VecDeque::new(),
            counters: BTreeMap::new(),
            next_tick: now + TICK,
            last_rssi: None,
            solicit: None,
            polling: false,
            tmf_local: Vec::new(),
            pending_child: None,
            reed_advert_at: None,
            resolver: query::Resolver::default(),
            mpl: mpl::Mpl::default(),
            icmp_error_at: None,
            cfg,
            creds,
            state,
            rng,
        };
        n.start_attach(now, None);
        n
    }

    /// The state to persist.
    pub fn state(&self) -> &ThreadState {
        &self.state
    }
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn rloc16(&self) -> Option<u16> {
        self.addrs.rloc16
    }
    pub fn ext_address(&self) -> ExtAddress {
        self.state.ext()
    }
    pub fn partition(&self) -> Option<Partition> {
        self.partition
    }
    /// The parent's RLOC16, for a child.
    pub fn parent_rloc16(&self) -> Option<u16> {
        self.parent.as_ref().map(|p| p.rloc16)
    }
    /// The children of a router: (extended address, RLOC16).
    pub fn children(&self) -> Vec<(ExtAddress, u16)> {
        self.children.iter().map(|c| (c.ext, c.rloc16)).collect()
    }
    /// A router's routes: (router ID, next-hop router ID, path cost) to each router of the
    /// partition it reaches; empty for a child or a detached node.
    pub fn routes(&self) -> Vec<(u8, u8, u8)> {
        if !matches!(self.role, Role::Router | Role::Leader) {
            return Vec::new();
        }
        self.routes
            .reachable(self.addrs.rloc16.map(|r| (r >> 10) as u8))
    }
    /// A router's neighbouring routers (router IDs).
    pub fn router_neighbours(&self) -> Vec<u8> {
        self.routes.neighbour_ids()
    }
    /// The node's unicast addresses: link-local, ML-EID, RLOC (once attached).
    pub fn addresses(&self) -> &NodeAddresses {
        &self.addrs
    }
    /// The frame counters the node will use next.
    pub fn frame_counters(&self) -> FrameCounters {
        self.fc
    }
    /// What the node counted: received frames rejected (by reason), frames forwarded.
    pub fn counters(&self) -> &BTreeMap<&'static str, u64> {
        &self.counters
    }
    /// One counter (0 when never counted).
    pub fn count_of(&self, what: &str) -> u64 {
        self.counters.get(what).copied().unwrap_or(0)
    }
    /// Whether the receiver is on now: always for an rx-on node; for a sleepy child, while
    /// detached and while it waits for a frame its parent announced.
    pub fn receiver_on(&self) -> bool {
        self.cfg.rx_on_when_idle || self.role != Role::Child || self.poller_receiving()
    }
    /// Gives back the frame counters reserved and not used (a clean stop): persist
    /// [`Node::state`] after this.
    pub fn release_reservation(&mut self) {
        self.fc.release(&mut self.state);
    }

    fn count(&mut self, what: &'static str) {
        *self.counters.entry(what).or_insert(0) += 1;
    }

    fn event(&mut self, e: Event) {
        if self.events.len() >= EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn set_role(&mut self, role: Role) {
        if role != self.role {
            self.resolver.clear();
        }
        self.role = role;
        self.addrs.router = matches!(role, Role::Router | Role::Leader);
        self.addrs.leader = role == Role::Leader;
        if let Some(r) = self.addrs.rloc16 {
            if self.state.last_rloc16 != Some(r) {
                self.state.last_rloc16 = Some(r);
                self.event(Event::PersistState);
            }
        }
        self.event(Event::RoleChanged {
            role,
            rloc16: self.addrs.rloc16,
            partition_id: self.partition.map(|p| p.id),
        });
    }

    /// Random duration in [0, max).
    fn jitter(&mut self, max: Duration) -> Duration {
        let m = max.as_micros().max(1);
        Duration::from_micros(self.rng.next_u64() % m)
    }

    fn challenge(&mut self) -> [u8; 8] {
        let mut c = [0u8; 8];
        self.rng.fill_bytes(&mut c);
        c
    }

    /// The key manager may have moved to a newer key sequence (only ever on an authenticated
    /// frame: [`KeyManager::unsecure_mac`], [`crate::thread::mle::open`]): counters restart.
    fn sync_key_sequence(&mut self) {
        let k = self.keys.key_sequence();
        if k != self.state.key_sequence {
            self.fc.key_sequence_changed(&mut self.state, k);
            self.event(Event::PersistState);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        self.challenges.retain(|p| p.expires > now);
        self.child_timeouts(now);
        self.neighbour_timeouts(now);
        self.release_lost_routers(now);
        self.mpl_housekeeping(now);
    }

    /// Every deadline [`Station::poll_timeout`] reports is handled here, so that it has moved
    /// on once this returns (a runtime need not wake the node twice for one deadline).
    fn run_timers(&mut self, now: Instant) {
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.housekeeping(now);
        }
        self.reasm.handle_timeout(now);
        self.indirect.handle_timeout(now);
        self.attach_timers(now);
        self.router_timers(now);
        self.send_delayed(now);
        self.query_timers(now);
        self.mpl_timers(now);
        self.tmf.handle_timeout(now);
        self.coap.handle_timeout(now);
        if !self.cfg.rx_on_when_idle && self.role == Role::Child && self.poller.handle_timeout(now)
        {
            self.send_data_request();
        }
        if self.poller.take_parent_lost() {
            self.count("attach: parent lost (data poll reports never came)");
            self.start_attach(now, None);
        }
        self.pump(now);
    }

    /// Moves what the TMF endpoint has to send onto the link, and handles its events.
    fn pump(&mut self, now: Instant) {
        while let Some((peer, bytes)) = self.tmf.poll_transmit(now) {
            self.send_tmf(now, peer, bytes);
        }
        while let Some(e) = self.tmf.poll_event() {
            self.on_tmf_event(now, e);
        }
        self.pump_coap(now);
    }
}

impl<R: RngCore> Station for Node<R> {
    type Event = Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        if frame.bearer != Bearer::Ieee802154 {
            return;
        }
        self.keys.set_now(now);
        self.last_rssi = frame.rssi;
        self.receive_frame(now, frame);
        self.pump(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        let (bytes, kind) = self.out.pop_front()?;
        // A radio that never reports `TxDone` must not grow this without bound.
        if self.sent.len() >= OUTBOX {
            self.sent.pop_front();
        }
        // The report names the frame by its sequence number (octet 2 unless suppressed).
        let seq = crate::thread::mac::Frame::parse_parts(&bytes)
            .ok()
            .and_then(|p| p.frame.sequence_number);
        self.sent.push_back((seq, kind));
        Some(TxFrame {
            bearer: Bearer::Ieee802154,
            bytes,
        })
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            Some(self.next_tick),
            self.attach_timeout(),
            self.router_timeout(),
            self.delayed.iter().map(|d| d.0).min(),
            self.tmf.poll_timeout(),
            self.coap.poll_timeout(),
            self.reasm.poll_timeout(),
            self.indirect.poll_timeout(),
            self.resolver.timeout(),
            self.mpl.timeout(),
            (!self.cfg.rx_on_when_idle && self.role == Role::Child)
                .then(|| self.poller.poll_timeout())
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.keys.set_now(now);
        self.run_timers(now);
    }

    fn handle_tx_done(&mut self, now: Instant, done: &TxDone) {
        let kind = match done.sequence_number {
            // Reports skipped before this one were lost (a radio's bounded report queue):
            // their frames count as unacknowledged (a Data Request's poll is guarded by the
            // poller's own report timer).
            Some(seq) => {
                let Some(at) = self.sent.iter().position(|(s, _)| *s == Some(seq)) else {
                    self.count("tx done: a report for no frame sent");
                    return;
                };
                for (_, lost) in self.sent.drain(..at).collect::<Vec<_>>() {
                    self.count("tx done: a frame's report never came");
                    if let TxKind::Indirect(ext) = lost {
                        self.indirect.confirm(ext, false);
                    }
                }
                match self.sent.pop_front() {
                    Some((_, kind)) => kind,
                    None => return,
                }
            }
            None => match self.sent.pop_front() {
                Some((_, kind)) => kind,
                None => return,
            },
        };
        match kind {
            TxKind::Plain => {}
            TxKind::DataRequest => self.data_request_done(now, done),
            TxKind::Indirect(ext) => self
                .indirect
                .confirm(ext, done.status == crate::frame::TxStatus::Acked),
        }
    }

    fn radio_mac(&self) -> Option<RadioMac> {
        let mut pending = Vec::new();
        for (ext, short) in self.indirect.source_match() {
            pending.push(Address::Extended(ext));
            pending.extend(short.map(Address::Short));
        }
        Some(RadioMac {
            settings: self.mac_settings(),
            pending,
        })
    }
}

impl<R: RngCore> Ieee802154Station for Node<R> {
    fn mac_settings(&self) -> MacSettings {
        MacSettings {
            channel: self.creds.channel,
            pan_id: self.creds.pan_id,
            ext_address: self.state.ext(),
            short_address: self.addrs.rloc16,
        }
    }

    fn frame_pending(&self, src: &Address) -> bool {
        self.indirect.frame_pending(src)
    }
}

/// Feeds `data` as a received frame to a leader, a child and a detached node (none may panic,
/// whatever the bytes); for the fuzzer.
#[doc(hidden)]
pub fn fuzz_receive(data: &[u8]) {
    fuzz::receive(data)
}

pub(crate) mod fuzz;
