//! A small deterministic 802.15.4 medium for the node's tests: virtual time, seeded frame
//! loss (each frame and each ack lost independently), the radio's frame filter, Imm-Acks with
//! Frame Pending from the receiver's source match, and up to macMaxFrameRetries (3)
//! retransmissions (IEEE 802.15.4-2015 §6.7.4.3). No CSMA-CA, no collisions: weft-radio's
//! simulator models those.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_core::RngCore;

use crate::frame::{Bearer, RxFrame, Station, TxDone, TxStatus};
use crate::thread::lowpan::Contexts;
use crate::thread::mac::command::is_data_request;
use crate::thread::mac::{Address, Frame};
use crate::thread::radio::Ieee802154Station;
use crate::thread::security::KeyManager;
use crate::thread::stack::{Config, Credentials, Event, Node, ThreadState};
use crate::thread::test_rng::SplitMix;
use crate::time::{Duration, Instant};
use crate::wire::Wire;

/// The air time of one frame (a 127-octet PSDU at 250 kb/s is about 4 ms).
const AIR: Duration = Duration::from_millis(4);
const MAX_FRAME_RETRIES: usize = 3;

/// The MLE frame counter of an unfragmented MLE frame.
fn mle_frame_counter(bytes: &[u8], sniff: &mut (KeyManager, Contexts)) -> Option<u32> {
    use crate::thread::mle::MleMessage;
    let inb = crate::thread::wire::read_frame(bytes, &mut sniff.0, &sniff.1).ok()?;
    match MleMessage::parse(&inb.data).ok()? {
        MleMessage::Secured { aux, .. } if inb.dport == crate::thread::mle::MLE_PORT => {
            aux.frame_counter
        }
        _ => None,
    }
}

pub fn dataset_hex() -> String {
    let v: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../tests/data/thread-dataset-vectors.json"
    ))
    .unwrap();
    v["datasets"][0]["hex"].as_str().unwrap().to_string()
}

pub fn creds() -> Credentials {
    Credentials::from_hex(&dataset_hex()).unwrap()
}

/// A frame on its way: (arrival, order, receiver, bytes, RSSI).
type InFlight = (Instant, u64, usize, Vec<u8>, i8);

pub struct Medium {
    pub nodes: Vec<Node<SplitMix>>,
    pub persisted: Vec<ThreadState>,
    setup: Vec<(Credentials, Config, u64)>,
    /// `rssi[i][j]`: what j hears of i (None: out of range).
    rssi: Vec<Vec<Option<i8>>>,
    /// Loss per frame, in parts per million.
    loss_ppm: u64,
    rng: SplitMix,
    pub now: Instant,
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    pub events: Vec<(Instant, usize, Event)>,
    /// Every frame put on the air: (sender, bytes).
    pub air: Vec<(usize, Vec<u8>)>,
    pub keep_air: bool,
    /// What reads MLE frame counters off the air (MLE frames are not MAC-secured).
    sniff: (KeyManager, Contexts),
}

impl Medium {
    pub fn new(seed: u64, loss_ppm: u64) -> Self {
        Medium {
            nodes: Vec::new(),
            persisted: Vec::new(),
            setup: Vec::new(),
            rssi: Vec::new(),
            loss_ppm,
            rng: SplitMix(seed ^ 0x5eed),
            now: Instant::ZERO,
            queue: BinaryHeap::new(),
            order: 0,
            events: Vec::new(),
            air: Vec::new(),
            keep_air: false,
            sniff: {
                let c = creds();
                (
                    KeyManager::new(c.network_key, 0),
                    crate::thread::wire::contexts(c.mesh_local_prefix),
                )
            },
        }
    }

    /// Adds a node that starts at `at`, out of range of everyone until linked.
    pub fn add(&mut self, creds: Credentials, cfg: Config, seed: u64, at: Instant) -> usize {
        let mut rng = SplitMix(seed);
        let state = ThreadState::new(&creds, &mut rng);
        self.add_with_state(creds, state, cfg, seed, at)
    }

    pub fn add_with_state(
        &mut self,
        creds: Credentials,
        state: ThreadState,
        cfg: Config,
        seed: u64,
        at: Instant,
    ) -> usize {
        self.persisted.push(state.clone());
        self.setup.push((creds.clone(), cfg, seed));
        self.nodes.push(Node::new(
            creds,
            state,
            cfg,
            SplitMix(seed.wrapping_mul(31) + 7),
            at,
        ));
        let n = self.nodes.len();
        for row in &mut self.rssi {
            row.push(None);
        }
        self.rssi.push(vec![None; n]);
        n - 1
    }

    /// Node `i` crashes and restarts now from what it last persisted.
    pub fn restart(&mut self, i: usize) {
        let (creds, cfg, seed) = self.setup[i].clone();
        let state = self.persisted[i].clone();
        self.nodes[i] = Node::new(creds, state, cfg, SplitMix(seed ^ 0xdead), self.now);
    }

    pub fn link(&mut self, a: usize, b: usize, rssi: i8) {
        self.rssi[a][b] = Some(rssi);
        self.rssi[b][a] = Some(rssi);
    }

    /// Takes `a` and `b` out of range of each other.
    pub fn cut(&mut self, a: usize, b: usize) {
        self.rssi[a][b] = None;
        self.rssi[b][a] = None;
    }

    pub fn full_mesh(&mut self, rssi: i8) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in a + 1..n {
                self.link(a, b, rssi);
            }
        }
    }

    fn lost(&mut self) -> bool {
        self.rng.next_u64() % 1_000_000 < self.loss_ppm
    }

    fn accepts(&self, j: usize, f: &Frame) -> bool {
        let s = self.nodes[j].mac_settings();
        if f.dst_pan.is_some_and(|p| p != s.pan_id && p != 0xffff) {
            return false;
        }
        let to_me = match f.dst {
            Address::Short(0xffff) => true,
            Address::Short(a) => Some(a) == s.short_address,
            Address::Extended(e) => e == s.ext_address,
            Address::None => false,
        };
        to_me && self.nodes[j].receiver_on()
    }

    fn deliver_later(&mut self, j: usize, bytes: Vec<u8>, rssi: i8) {
        self.order += 1;
        self.queue
            .push(Reverse((self.now + AIR, self.order, j, bytes, rssi)));
    }

    fn transmit(&mut self, i: usize, bytes: Vec<u8>) {
        if self.keep_air {
            self.air.push((i, bytes.clone()));
        }
        let f = match Frame::parse(&bytes) {
            Ok(f) => f,
            Err(_) => return,
        };
        // A MAC frame counter on the air is below the persisted reservation.
        if let Some(fc) = f.security.and_then(|s| s.frame_counter) {
            assert!(
                fc < self.persisted[i].mac_frame_counter_reserved,
                "node {i} sent frame counter {fc} beyond its persisted reservation"
            );
        }
        // So is an MLE frame counter (MLE travels MAC-unsecured, Thread 1.3 §4.3).
        if f.security.is_none() {
            if let Some(fc) = mle_frame_counter(&bytes, &mut self.sniff) {
                assert!(
                    fc < self.persisted[i].mle_frame_counter_reserved,
                    "node {i} sent MLE frame counter {fc} beyond its persisted reservation"
                );
            }
        }
        let in_range: Vec<(usize, i8)> = (0..self.nodes.len())
            .filter(|&j| j != i)
            .filter_map(|j| self.rssi[i][j].map(|r| (j, r)))
            .collect();
        let mut done = TxDone {
            bearer: Bearer::Ieee802154,
            sequence_number: f.sequence_number,
            status: TxStatus::Sent,
            frame_pending: false,
        };
        if !f.ack_request {
            for (j, r) in in_range {
                if self.accepts(j, &f) && !self.lost() {
                    self.deliver_later(j, bytes.clone(), r);
                }
            }
        } else {
            done.status = TxStatus::NoAck;
            let target = in_range.iter().copied().find(|&(j, _)| self.accepts(j, &f));
            if let Some((j, r)) = target {
                for _ in 0..=MAX_FRAME_RETRIES {
                    if self.lost() {
                        continue;
                    }
                    self.deliver_later(j, bytes.clone(), r);
                    if !self.lost() {
                        done.status = TxStatus::Acked;
                        done.frame_pending =
                            is_data_request(&f) && self.nodes[j].frame_pending(&f.src);
                        break;
                    }
                }
            }
        }
        self.nodes[i].handle_tx_done(self.now, &done);
    }

    fn flush(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(e) = self.nodes[i].poll_event() {
                    if e == Event::PersistState {
                        self.persisted[i] = self.nodes[i].state().clone();
                    }
                    self.events.push((self.now, i, e));
                }
                while let Some(tx) = self.nodes[i].poll_transmit(self.now) {
                    any = true;
                    self.transmit(i, tx.bytes);
                    while let Some(e) = self.nodes[i].poll_event() {
                        if e == Event::PersistState {
                            self.persisted[i] = self.nodes[i].state().clone();
                        }
                        self.events.push((self.now, i, e));
                    }
                }
            }
            if !any {
                break;
            }
        }
    }

    /// Runs until `end`.
    pub fn run_until(&mut self, end: Instant) {
        let mut same = 0u32;
        let mut last = self.now;
        loop {
            if self.now == last {
                same += 1;
                assert!(
                    same < 100_000,
                    "stuck at {:?}: {:?}",
                    self.now,
                    self.nodes
                        .iter()
                        .map(|n| (n.role(), n.poll_timeout()))
                        .collect::<Vec<_>>()
                );
            } else {
                same = 0;
                last = self.now;
            }
            self.flush();
            let t_node = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
            let t_air = self.queue.peek().map(|Reverse(q)| q.0);
            let Some(next) = [t_node, t_air].into_iter().flatten().min() else {
                self.now = end;
                return;
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = next.max(self.now);
            while self.queue.peek().is_some_and(|Reverse(q)| q.0 <= self.now) {
                let Reverse((_, _, j, bytes, rssi)) = self.queue.pop().unwrap();
                let rx = RxFrame {
                    bearer: Bearer::Ieee802154,
                    channel: 15,
                    rssi: Some(rssi),
                    timestamp: self.now,
                    adv_address: None,
                    lqi: None,
                    bytes,
                };
                self.nodes[j].handle_frame(self.now, &rx);
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    self.nodes[i].handle_timeout(self.now);
                }
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end);
    }

    /// Injects `bytes` as heard by node `j` now.
    pub fn inject(&mut self, j: usize, bytes: Vec<u8>, rssi: i8) {
        let rx = RxFrame {
            bearer: Bearer::Ieee802154,
            channel: 15,
            rssi: Some(rssi),
            timestamp: self.now,
            adv_address: None,
            lqi: None,
            bytes,
        };
        self.nodes[j].handle_frame(self.now, &rx);
        self.flush();
    }
}
