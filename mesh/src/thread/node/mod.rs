//! Simplified Thread stations for the simulator: routers that advertise and take children,
//! and children that attach and send data. Sans-IO ([`Station`]), built from the wire core
//! only (`mac`, `security`, `lowpan`, `mle`): every frame they send is a real Thread frame
//! that Wireshark decodes and the core's decoders read back.
//!
//! What is real: MLE messages sealed with the MLE key (Key ID Mode 2) in UDP port 19788 over
//! link-local IPv6, IPHC-compressed, in 802.15.4-2006 data frames; data frames MAC-secured with
//! the MAC key (level 5, Key ID Mode 1, a frame counter per sender) carrying a CoAP POST
//! between mesh-local RLOCs (context 0 = the mesh-local prefix); Advertisements (Thread 1.3
//! §4.5) with Source Address, Leader Data and Route64 TLVs whose link qualities come from
//! the Advertisements each router actually heard and whose route costs are distance-vector
//! sums as OpenThread computes them; the attach exchange Parent Request (to ff02::2) → Parent
//! Response → Child ID Request → Child ID Response with challenges echoed and checked, the
//! parent chosen by link margin, Address16 = parent RLOC16 | child ID.
//!
//! What is simplified (the full stack is a later part):
//! - Routers start as routers of one partition with router IDs the scenario gives: no Link
//!   Request/Accept, no Address Solicit, no router selection, no leader election (the leader
//!   is the router with the lowest ID; the partition ID and ID sequence are fixed).
//! - Advertisements follow Trickle's interval doubling from 1 s to 32 s with a random point in
//!   [I/2, I), but no suppression and no reset on inconsistency.
//! - Link quality in comes from the link margin of the last Advertisement (margin = RSSI -
//!   noise floor -100 dBm; thresholds 20/10/2 dB as OpenThread's, without its averaging and
//!   hysteresis), capped by how recently one was heard (3 within 40 s, 2 within 70 s, else 1);
//!   link quality out is what the neighbour reported for us; a neighbour not heard for
//!   MAX_NEIGHBOR_AGE (100 s) is dropped. Real routers measure links with Link Request/Accept
//!   and average every frame's margin.
//! - Every frame carries the sender's extended address as MAC source (Thread uses the short
//!   address once attached; with the extended one no neighbour table is needed to build the
//!   CCM* nonce). No mesh header, no fragmentation, no forwarding across routers: children
//!   send to their parent only.
//! - Network Data is empty; no Network Data, Child Update, Data Request, MeshCoP, SED polling,
//!   key rotation, or MLE frame counter replay checks (MAC frame counters are checked for
//!   data from children).
//!
//! Numbers of the timers cite OpenThread's constants where the specification leaves them to
//! the implementation.

mod child;
mod router;
#[cfg(test)]
mod tests;
/// The wire helpers moved to [`crate::thread::wire`], shared with [`crate::thread::stack`].
pub use crate::thread::wire;

use std::collections::VecDeque;
use std::net::Ipv6Addr;

use rand_core::RngCore;

pub use child::Child;
pub use router::{NeighbourRouter, Router};

use crate::frame::{Bearer, RxFrame, Station, TxFrame};
use crate::thread::mac::{Address, ExtAddress};
use crate::thread::mle::{MlePayload, Tlv};
use crate::thread::radio::{Ieee802154Station, MacSettings};
use crate::thread::security::{KeyManager, KeySwitchGuard};
use crate::time::{Duration, Instant};

/// All-nodes link-local multicast (RFC 4291 §2.7.1): Advertisements go there.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers link-local multicast: Parent Requests go there (Thread 1.3 §4.7, attaching).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// Thread version in the Version TLV (4: Thread 1.3).
pub const THREAD_VERSION: u16 = 4;
/// Frames a station holds for its radio; beyond, the oldest is dropped (counted).
const OUTBOX: usize = 32;
/// Events a station holds; beyond, the oldest is dropped.
const EVENTS: usize = 1024;

/// The network every station of a scenario belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub network_key: [u8; 16],
    pub key_sequence: u32,
    pub pan_id: u16,
    /// 11..=26.
    pub channel: u8,
    pub mesh_local_prefix: [u8; 8],
    pub partition_id: u32,
    /// The router IDs of the partition (the Route64 mask), ascending.
    pub router_ids: Vec<u8>,
    pub id_sequence: u8,
}

impl NetworkConfig {
    /// The leader: the router with the lowest router ID.
    pub fn leader_router_id(&self) -> u8 {
        self.router_ids.iter().copied().min().unwrap_or(0)
    }

    /// The Leader Data TLV's value (Thread 1.3 §4.4.13): weighting 64, data versions 0.
    pub fn leader_data(&self) -> crate::thread::mle::LeaderData {
        crate::thread::mle::LeaderData {
            partition_id: self.partition_id,
            weighting: 64,
            data_version: 0,
            stable_data_version: 0,
            leader_router_id: self.leader_router_id(),
        }
    }
}

/// What a station reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadEvent {
    /// An MLE message was opened.
    MleReceived {
        command: u8,
        from: ExtAddress,
        rssi: Option<i8>,
    },
    /// An MLE message was handed to the radio.
    MleSent { command: u8, to: Ipv6Addr },
    /// A child chose its parent and is attached with `rloc16`.
    Attached {
        parent: u16,
        rloc16: u16,
        link_margin: u8,
    },
    /// A child's Parent Request found no parent, or its Child ID Request got no answer: it
    /// tries again.
    AttachRetry { reason: &'static str },
    /// A router gave a child its Address16.
    ChildAdded { child: ExtAddress, rloc16: u16 },
    /// A child sent a data message to its parent.
    DataSent { dst: u16, message_id: u16 },
    /// A router received a data message from a child.
    DataReceived {
        src: u16,
        message_id: u16,
        rssi: Option<i8>,
    },
    /// A frame or message was dropped.
    Dropped { reason: &'static str },
}

/// What routers and children share: keys, addresses, counters, the outbox and the events.
struct Common<R> {
    net: NetworkConfig,
    keys: KeyManager,
    ext: ExtAddress,
    rloc16: Option<u16>,
    mac_seq: u8,
    mac_frame_counter: u32,
    mle_frame_counter: u32,
    rng: R,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<ThreadEvent>,
    ctx: crate::thread::lowpan::Contexts,
}

impl<R: RngCore> Common<R> {
    fn new(net: NetworkConfig, ext: ExtAddress, rng: R) -> Self {
        Common {
            // A node follows a newer key sequence only past the key switch guard time.
            keys: KeyManager::new(net.network_key, net.key_sequence)
                .with_switch_guard(KeySwitchGuard::default()),
            ctx: wire::contexts(net.mesh_local_prefix),
            net,
            ext,
            rloc16: None,
            mac_seq: 0,
            mac_frame_counter: 0,
            mle_frame_counter: 0,
            rng,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn event(&mut self, e: ThreadEvent) {
        if self.events.len() >= EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn drop(&mut self, reason: &'static str) {
        self.event(ThreadEvent::Dropped { reason });
    }

    fn push_frame(&mut self, f: Vec<u8>) {
        if self.out.len() >= OUTBOX {
            self.out.pop_front();
            self.drop("outbox full");
        }
        self.out.push_back(f);
    }

    fn next_seq(&mut self) -> u8 {
        self.mac_seq = self.mac_seq.wrapping_add(1);
        self.mac_seq
    }

    /// Seals and queues an MLE message to `dst` (link-local or multicast) through MAC
    /// destination `mac_dst`.
    fn send_mle(&mut self, dst: Ipv6Addr, mac_dst: Address, command: u8, tlvs: Vec<Tlv>) {
        let payload = MlePayload { command, tlvs };
        let src = wire::link_local(self.ext);
        let fc = self.mle_frame_counter;
        self.mle_frame_counter = fc.wrapping_add(1);
        let datagram = wire::mle_datagram(&payload, self.keys.current(), fc, src, dst);
        let unicast = !matches!(mac_dst, Address::Short(0xffff));
        let link = wire::Link {
            pan_id: self.net.pan_id,
            src: self.ext,
            dst: mac_dst,
            seq: self.next_seq(),
            ack_request: unicast,
        };
        match wire::data_frame(link, &datagram, &self.ctx, None) {
            Some(f) => {
                self.push_frame(f);
                self.event(ThreadEvent::MleSent { command, to: dst });
            }
            None => self.drop("MLE message did not compress"),
        }
    }

    /// Random duration in [0, max).
    fn jitter(&mut self, max: Duration) -> Duration {
        let m = max.as_micros().max(1);
        Duration::from_micros(self.rng.next_u64() % m)
    }

    fn challenge(&mut self) -> Vec<u8> {
        let mut c = vec![0u8; 8];
        self.rng.fill_bytes(&mut c);
        c
    }

    fn mac_settings(&self) -> MacSettings {
        MacSettings {
            channel: self.net.channel,
            pan_id: self.net.pan_id,
            ext_address: self.ext,
            short_address: self.rloc16,
        }
    }
}

pub use crate::thread::wire::{link_cost, link_margin, link_quality, MAX_ROUTE_COST};

/// One station of a simulated Thread network: a router or a child.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ThreadStation<R> {
    Router(Router<R>),
    Child(Child<R>),
}

impl<R: RngCore> ThreadStation<R> {
    /// The station's extended address.
    pub fn ext_address(&self) -> ExtAddress {
        match self {
            ThreadStation::Router(r) => r.ext_address(),
            ThreadStation::Child(c) => c.ext_address(),
        }
    }
    /// Its RLOC16, once it has one.
    pub fn rloc16(&self) -> Option<u16> {
        match self {
            ThreadStation::Router(r) => Some(r.rloc16()),
            ThreadStation::Child(c) => c.rloc16(),
        }
    }
}

impl<R: RngCore> Station for ThreadStation<R> {
    type Event = ThreadEvent;
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        if frame.bearer != Bearer::Ieee802154 {
            return;
        }
        match self {
            ThreadStation::Router(r) => r.c.keys.set_now(now),
            ThreadStation::Child(c) => c.c.keys.set_now(now),
        }
        match self {
            ThreadStation::Router(r) => r.handle_frame(now, frame),
            ThreadStation::Child(c) => c.handle_frame(now, frame),
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        let out = match self {
            ThreadStation::Router(r) => &mut r.c.out,
            ThreadStation::Child(c) => &mut c.c.out,
        };
        out.pop_front().map(|bytes| TxFrame {
            bearer: Bearer::Ieee802154,
            bytes,
        })
    }
    fn poll_event(&mut self) -> Option<ThreadEvent> {
        match self {
            ThreadStation::Router(r) => r.c.events.pop_front(),
            ThreadStation::Child(c) => c.c.events.pop_front(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            ThreadStation::Router(r) => r.poll_timeout(),
            ThreadStation::Child(c) => c.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            ThreadStation::Router(r) => r.handle_timeout(now),
            ThreadStation::Child(c) => c.handle_timeout(now),
        }
    }
}

impl<R: RngCore> Ieee802154Station for ThreadStation<R> {
    fn mac_settings(&self) -> MacSettings {
        match self {
            ThreadStation::Router(r) => r.c.mac_settings(),
            ThreadStation::Child(c) => c.c.mac_settings(),
        }
    }
}

/// Feeds `data` as a received frame to a router and to a child collecting Parent Responses;
/// for the fuzzer (neither may panic, whatever the bytes).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    /// A counter as generator: the fuzzer wants determinism, not randomness.
    #[derive(Debug)]
    struct Counter(u64);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            self.0
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            d.iter_mut().for_each(|b| *b = self.next_u64() as u8);
        }
        fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(d);
            Ok(())
        }
    }
    let net = NetworkConfig {
        network_key: [0x42; 16],
        key_sequence: 0,
        pan_id: 0xface,
        channel: 15,
        mesh_local_prefix: [0xfd, 0, 0, 0, 0, 0, 0, 0],
        partition_id: 1,
        router_ids: vec![0, 1],
        id_sequence: 1,
    };
    let frame = RxFrame {
        lqi: None,
        bearer: Bearer::Ieee802154,
        channel: 15,
        rssi: Some(-60),
        timestamp: Instant::ZERO,
        adv_address: None,
        bytes: data.to_vec(),
    };
    let mut r = Router::new(
        net.clone(),
        1,
        ExtAddress([1; 8]),
        Counter(1),
        Instant::ZERO,
    );
    r.handle_frame(Instant::ZERO, &frame);
    r.handle_timeout(Instant::from_micros(1_000_000));
    let mut c = Child::new(
        net,
        ExtAddress([2; 8]),
        Counter(2),
        Instant::ZERO,
        Duration::from_secs(30),
    );
    c.handle_timeout(Instant::ZERO);
    c.handle_frame(Instant::ZERO, &frame);
    c.handle_timeout(Instant::from_micros(1_000_000));
}
