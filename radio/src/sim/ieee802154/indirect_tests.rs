//! Indirect transmission on the medium (802.15.4-2015 §6.7.3): a parent holding frames in
//! weft-mesh's `IndirectQueue` for a sleepy child that polls with Data Requests on
//! `DataPoller`'s timer, the Frame Pending of the radio's acks coming from the parent's
//! source-match answer and the transmit statuses from `Station::handle_tx_done`.

use std::collections::VecDeque;

use weft_mesh::thread::mac::command::{is_data_request, DataRequest};
use weft_mesh::thread::mac::indirect::{IndirectConfig, IndirectQueue};
use weft_mesh::thread::mac::poll::{DataPoller, PollConfig, PollOutcome};
use weft_mesh::thread::mac::{Address, Body, ExtAddress, Frame, FrameType, FrameVersion};
use weft_mesh::thread::radio::{Ieee802154Station, MacSettings};
use weft_mesh::wire::Wire;
use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxDone, TxFrame};

use super::*;

const PAN: u16 = 0xface;
const PARENT_SHORT: u16 = 0x0400;

fn ext(id: u8) -> ExtAddress {
    ExtAddress([0x12, 0x34, 0, 0, 0, 0, 0, id])
}

/// A parent: frames pushed by the test wait in its indirect queue; each Data Request releases
/// one as a data frame (AR, Frame Pending when more wait), confirmed by its transmit status.
struct Parent {
    settings: MacSettings,
    queue: IndirectQueue<Vec<u8>>,
    seq: u8,
    outbox: VecDeque<Vec<u8>>,
    /// Released frames waiting for their status: (sequence number, child).
    sent: VecDeque<(u8, ExtAddress)>,
    /// The sequence number of the last release: a frame released again (not acknowledged the
    /// first time) keeps it, so that a child that got it drops the copy.
    last_seq: u8,
}

impl Parent {
    fn new(config: IndirectConfig) -> Self {
        Parent {
            settings: MacSettings {
                channel: 15,
                pan_id: PAN,
                ext_address: ext(100),
                short_address: Some(PARENT_SHORT),
            },
            queue: IndirectQueue::new(config),
            seq: 0,
            outbox: VecDeque::new(),
            sent: VecDeque::new(),
            last_seq: 0,
        }
    }
}

fn data_frame(seq: u8, src: Address, dst: Address, fp: bool, payload: Vec<u8>) -> Vec<u8> {
    Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: fp,
        ack_request: true,
        pan_id_compression: true,
        sequence_number: Some(seq),
        dst_pan: Some(PAN),
        dst,
        src_pan: None,
        src,
        security: None,
        header_ies: Vec::new(),
        body: Body::Open {
            payload_ies: Vec::new(),
            payload,
        },
    }
    .to_vec()
}

impl Station for Parent {
    type Event = ();
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        let Ok(f) = Frame::parse(&frame.bytes) else {
            return;
        };
        if !is_data_request(&f) {
            return;
        }
        let Ok(dr) = DataRequest::from_frame(&f) else {
            return;
        };
        let Some(release) = self.queue.data_request(now, &dr.src) else {
            return;
        };
        let Address::Extended(child) = dr.src else {
            return;
        };
        if release.attempt == 1 {
            self.seq = self.seq.wrapping_add(1);
            self.last_seq = self.seq;
        }
        self.sent.push_back((self.last_seq, child));
        self.outbox.push_back(data_frame(
            self.last_seq,
            Address::Short(PARENT_SHORT),
            dr.src,
            release.more,
            release.item,
        ));
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        self.outbox.pop_front().map(|bytes| TxFrame {
            bearer: Bearer::Ieee802154,
            bytes,
        })
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.queue.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.queue.handle_timeout(now);
    }
    fn handle_tx_done(&mut self, _now: Instant, done: &TxDone) {
        if let Some(&(seq, child)) = self.sent.front() {
            if done.sequence_number == Some(seq) {
                self.sent.pop_front();
                self.queue
                    .confirm(child, done.status == weft_mesh::TxStatus::Acked);
            }
        }
    }
}

impl Ieee802154Station for Parent {
    fn mac_settings(&self) -> MacSettings {
        self.settings
    }
    fn frame_pending(&self, src: &Address) -> bool {
        self.queue.frame_pending(src)
    }
}

/// A sleepy child: polls its parent on `DataPoller`'s timer and keeps the payloads it gets
/// (a retransmission it already has, same sequence number, is dropped as the MAC does).
struct Sleepy {
    settings: MacSettings,
    poller: DataPoller,
    seq: u8,
    outbox: VecDeque<Vec<u8>>,
    got: Vec<(Instant, Vec<u8>)>,
    last_rx_seq: Option<u8>,
    /// Data Requests sent, and frames heard while not waiting for one.
    polls: Vec<Instant>,
    unexpected: usize,
    awaiting: bool,
    lost: bool,
}

impl Sleepy {
    fn new(id: u8, period: Duration) -> Self {
        Sleepy {
            settings: MacSettings {
                channel: 15,
                pan_id: PAN,
                ext_address: ext(id),
                short_address: None,
            },
            poller: DataPoller::new(PollConfig {
                period,
                ..PollConfig::default()
            }),
            seq: 0,
            outbox: VecDeque::new(),
            got: Vec::new(),
            last_rx_seq: None,
            polls: Vec::new(),
            unexpected: 0,
            awaiting: false,
            lost: false,
        }
    }
}

impl Station for Sleepy {
    type Event = ();
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        let Ok(f) = Frame::parse(&frame.bytes) else {
            return;
        };
        if f.frame_type != FrameType::Data || f.dst != Address::Extended(self.settings.ext_address)
        {
            return;
        }
        if !self.awaiting {
            self.unexpected += 1;
        }
        self.awaiting = f.frame_pending;
        if self.last_rx_seq != f.sequence_number {
            self.last_rx_seq = f.sequence_number;
            if let Body::Open { payload, .. } = f.body {
                self.got.push((now, payload));
            }
        }
        self.poller.on_frame(now, f.frame_pending);
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        self.outbox.pop_front().map(|bytes| TxFrame {
            bearer: Bearer::Ieee802154,
            bytes,
        })
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.poller.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.poller.handle_timeout(now) {
            self.seq = self.seq.wrapping_add(1);
            self.polls.push(now);
            let dr = DataRequest {
                sequence_number: self.seq,
                pan_id: PAN,
                dst: Address::Short(PARENT_SHORT),
                src: Address::Extended(self.settings.ext_address),
            };
            self.outbox.push_back(dr.frame(None).to_vec());
        }
    }
    fn handle_tx_done(&mut self, now: Instant, done: &TxDone) {
        match self.poller.on_tx_done(now, done) {
            PollOutcome::AwaitFrame => self.awaiting = true,
            PollOutcome::ParentLost => self.lost = true,
            PollOutcome::Continue => {}
        }
    }
}

impl Ieee802154Station for Sleepy {
    fn mac_settings(&self) -> MacSettings {
        self.settings
    }
}

/// One medium with a parent (node 0) and a child (node 1) 10 m apart.
enum Node {
    Parent(Parent),
    Sleepy(Sleepy),
}

impl Station for Node {
    type Event = ();
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match self {
            Node::Parent(p) => p.handle_frame(now, frame),
            Node::Sleepy(s) => s.handle_frame(now, frame),
        }
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        match self {
            Node::Parent(p) => p.poll_transmit(now),
            Node::Sleepy(s) => s.poll_transmit(now),
        }
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Node::Parent(p) => p.poll_timeout(),
            Node::Sleepy(s) => s.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Node::Parent(p) => p.handle_timeout(now),
            Node::Sleepy(s) => s.handle_timeout(now),
        }
    }
    fn handle_tx_done(&mut self, now: Instant, done: &TxDone) {
        match self {
            Node::Parent(p) => p.handle_tx_done(now, done),
            Node::Sleepy(s) => s.handle_tx_done(now, done),
        }
    }
}

impl Ieee802154Station for Node {
    fn mac_settings(&self) -> MacSettings {
        match self {
            Node::Parent(p) => p.mac_settings(),
            Node::Sleepy(s) => s.mac_settings(),
        }
    }
    fn frame_pending(&self, src: &Address) -> bool {
        match self {
            Node::Parent(p) => p.frame_pending(src),
            Node::Sleepy(s) => s.frame_pending(src),
        }
    }
}

fn parent(m: &Medium<Node>) -> &Parent {
    match m.node(NodeId(0)) {
        Node::Parent(p) => p,
        Node::Sleepy(_) => unreachable!("node 0 is the parent"),
    }
}

fn sleepy(m: &Medium<Node>) -> &Sleepy {
    match m.node(NodeId(1)) {
        Node::Sleepy(s) => s,
        Node::Parent(_) => unreachable!("node 1 is the child"),
    }
}

/// A parent holding `n` frames (pushed at 0) for a child that polls every `period` from
/// `start` (or never), on a link with `loss`.
fn medium(seed: u64, n: u8, period: Duration, start: Option<Instant>, loss: f64) -> Medium<Node> {
    let mut m = Medium::new(MediumConfig::default(), seed);
    let mut p = Parent::new(IndirectConfig {
        per_child: 16,
        max_children: 4,
        persistence: Duration::from_secs(10),
        max_attempts: 4,
    });
    p.queue.add_child(ext(1), None).unwrap();
    for i in 0..n {
        p.queue
            .push(Instant::ZERO, ext(1), vec![i; 10 + i as usize])
            .unwrap();
    }
    let a = m.add_node(Node::Parent(p), Placement::At { x: 0.0, y: 0.0 });
    let mut s = Sleepy::new(1, period);
    if let Some(t) = start {
        s.poller.start(t);
    }
    let b = m.add_node(Node::Sleepy(s), Placement::At { x: 10.0, y: 0.0 });
    m.set_link(
        a,
        b,
        Link {
            rssi_dbm: -60,
            loss,
        },
    );
    m
}

fn payloads(s: &Sleepy) -> Vec<u8> {
    s.got.iter().map(|(_, p)| p[0]).collect()
}

#[test]
fn a_polling_sleepy_child_gets_every_queued_frame_in_order() {
    let period = Duration::from_secs(4);
    let first = Instant::from_micros(1_000_000);
    let mut m = medium(1, 6, period, Some(first), 0.0);
    m.run_until(Instant::from_micros(3_000_000));
    let s = sleepy(&m);
    assert_eq!(payloads(s), vec![0, 1, 2, 3, 4, 5]);
    // All in one burst after the first poll: the ack's Frame Pending kept the child listening,
    // each frame's Frame Pending made it poll again at once.
    assert_eq!(s.polls.len(), 6, "one Data Request per frame");
    let last = s.got.last().unwrap().0;
    assert!(last.as_micros() - first.as_micros() < 100_000, "{last:?}");
    assert_eq!(s.unexpected, 0, "no frame arrived unasked");
    assert_eq!(m.stats().acks_frame_pending, 6);
    let p = parent(&m);
    assert_eq!(p.queue.stats().delivered, 6);
    assert_eq!(p.queue.pending(ext(1)), 0);
    // The next poll is a period after the last frame; nothing waits, so no Frame Pending.
    m.run_until(Instant::from_micros(8_000_000));
    assert_eq!(sleepy(&m).polls.len(), 7);
    assert_eq!(m.stats().acks_frame_pending, 6);
    assert_eq!(sleepy(&m).poller.stats().frame_pending, 6);
}

#[test]
fn frames_queued_between_polls_wait_for_the_next_poll() {
    let mut m = medium(2, 0, Duration::from_secs(2), Some(Instant::ZERO), 0.0);
    m.run_until(Instant::from_micros(500_000));
    let Node::Parent(p) = m.node_mut(NodeId(0)) else {
        unreachable!()
    };
    p.queue
        .push(Instant::from_micros(500_000), ext(1), vec![42])
        .unwrap();
    m.run_until(Instant::from_micros(1_900_000));
    assert!(sleepy(&m).got.is_empty(), "not before the child polls");
    m.run_until(Instant::from_micros(2_200_000));
    let s = sleepy(&m);
    assert_eq!(payloads(s), vec![42]);
    assert!(s.got[0].0.as_micros() >= 2_000_000);
}

#[test]
fn on_a_lossy_link_every_frame_still_arrives_once_in_order() {
    for seed in 0..20 {
        let mut m = medium(seed, 8, Duration::from_secs(1), Some(Instant::ZERO), 0.25);
        m.run_until(Instant::from_micros(9_000_000));
        let s = sleepy(&m);
        assert_eq!(payloads(s), (0..8).collect::<Vec<_>>(), "seed {seed}");
        assert!(!s.lost, "seed {seed}");
        assert_eq!(
            parent(&m).queue.stats().delivered,
            8,
            "seed {seed}: {:?} {:?}",
            parent(&m).queue.stats(),
            sleepy(&m).poller.stats()
        );
    }
}

#[test]
fn frames_for_a_child_that_never_polls_expire_and_are_counted() {
    let mut m = medium(3, 5, Duration::from_secs(1), None, 0.0);
    m.run_until(Instant::from_micros(9_999_999));
    assert_eq!(parent(&m).queue.pending(ext(1)), 5);
    m.run_until(Instant::from_micros(10_000_000));
    let p = parent(&m);
    assert_eq!(p.queue.pending(ext(1)), 0);
    assert_eq!(p.queue.stats().expired, 5);
    assert_eq!(p.queue.stats().released, 0);
    assert!(sleepy(&m).got.is_empty());
    assert_eq!(m.stats().frames_sent, 0, "nothing was put on the air");
}
