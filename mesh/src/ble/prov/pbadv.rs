//! The PB-ADV link layer (Mesh Protocol 1.1 §5.2.1, §5.3): link establishment (Link Open with
//! the Device UUID, Link Ack), Link Close with its reason, and the Generic Provisioning
//! transactions that carry Provisioning PDUs: segmentation, the FCS, Transaction
//! Acknowledgments, retransmission of unacknowledged transactions, duplicate detection, and
//! the link and transaction timeouts.
//!
//! Sans-IO: [`PbAdvLink::handle_pdu`] takes PB-ADV PDU bytes (the data of an AD structure of
//! type 0x29), [`PbAdvLink::poll_transmit`] gives the next PB-ADV PDU to advertise, and time
//! only moves through `now` arguments and [`PbAdvLink::handle_timeout`].

use std::collections::VecDeque;

use crate::ble::wire::pbadv::{
    segment, BearerControl, GenericProvisioningPdu, LinkCloseReason, PbAdvPdu, Reassembler,
    Reassembly,
};
use crate::ble::wire::Wire;
use crate::time::{Duration, Instant};

/// The timers of a PB-ADV link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTiming {
    /// The shortest wait before an unacknowledged transaction (or Link Open) is sent again.
    pub retransmit_min: Duration,
    /// A random extra wait, 0..=this, added to every retransmission delay.
    pub retransmit_jitter: Duration,
    /// The link closes when nothing has been heard from the peer for this long (§5.3.2;
    /// for a Provisioner this covers the wait for Link Ack).
    pub link_timeout: Duration,
    /// A transaction not acknowledged within this time fails the link (§5.3.2).
    pub transaction_timeout: Duration,
    /// How many times Link Close is sent.
    pub close_count: u8,
}

impl Default for LinkTiming {
    /// Retransmissions every 200–500 ms, 60 s link timeout, 30 s transaction timeout, Link
    /// Close sent three times.
    fn default() -> Self {
        LinkTiming {
            retransmit_min: Duration::from_millis(200),
            retransmit_jitter: Duration::from_millis(300),
            link_timeout: Duration::from_secs(60),
            transaction_timeout: Duration::from_secs(30),
            close_count: 3,
        }
    }
}

/// Which end of the link this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkRole {
    /// Opens the link; its transaction numbers are 0x00..=0x7F (§5.3.2).
    Provisioner,
    /// Accepts the link; its transaction numbers are 0x80..=0xFF (§5.3.2).
    Device,
}

/// Why a link closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// [`PbAdvLink::close`] was called.
    Local,
    /// The peer sent Link Close.
    Peer,
    /// Nothing heard from the peer within the link timeout (or no Link Ack).
    LinkTimeout,
    /// A transaction was not acknowledged within the transaction timeout.
    TransactionTimeout,
}

/// What a link reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link is established (Link Ack received, or Link Open accepted).
    Opened,
    /// A whole Provisioning PDU arrived (each transaction is delivered once).
    Received(Vec<u8>),
    /// The link is closed; no more PDUs will be sent or delivered.
    Closed {
        /// The Link Close reason sent or received.
        reason: LinkCloseReason,
        /// What closed it.
        cause: CloseCause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Opening,
    Open,
    Closing,
    Closed,
}

#[derive(Debug, Clone)]
struct Transaction {
    tn: u8,
    segments: Vec<Vec<u8>>,
    /// The next segment of the current burst; `segments.len()` when the burst is done.
    cursor: usize,
    resend_at: Instant,
    deadline: Instant,
}

/// One PB-ADV link, at either end.
#[derive(Debug, Clone)]
pub struct PbAdvLink {
    role: LinkRole,
    link_id: u32,
    device_uuid: [u8; 16],
    timing: LinkTiming,
    state: LinkState,
    jitter: u64,
    next_tn: u8,
    queue: VecDeque<Vec<u8>>,
    tx: Option<Transaction>,
    acks: VecDeque<u8>,
    link_ack_pending: bool,
    control_at: Option<Instant>,
    close: Option<(LinkCloseReason, CloseCause, u8)>,
    reassembler: Reassembler,
    last_rx_tn: Option<u8>,
    idle_deadline: Instant,
    now: Instant,
    events: VecDeque<LinkEvent>,
}

impl PbAdvLink {
    fn new(
        role: LinkRole,
        now: Instant,
        link_id: u32,
        device_uuid: [u8; 16],
        timing: LinkTiming,
        seed: u64,
    ) -> Self {
        PbAdvLink {
            role,
            link_id,
            device_uuid,
            timing,
            state: LinkState::Opening,
            jitter: seed,
            next_tn: match role {
                LinkRole::Provisioner => 0x00,
                LinkRole::Device => 0x80,
            },
            queue: VecDeque::new(),
            tx: None,
            acks: VecDeque::new(),
            link_ack_pending: false,
            control_at: None,
            close: None,
            reassembler: Reassembler::new(),
            last_rx_tn: None,
            idle_deadline: now + timing.link_timeout,
            now,
            events: VecDeque::new(),
        }
    }

    /// A Provisioner's link to `device_uuid`: sends Link Open until Link Ack (§5.3.1.4.1).
    /// `seed` drives the retransmission jitter.
    pub fn open(
        now: Instant,
        link_id: u32,
        device_uuid: [u8; 16],
        timing: LinkTiming,
        seed: u64,
    ) -> Self {
        let mut l = Self::new(
            LinkRole::Provisioner,
            now,
            link_id,
            device_uuid,
            timing,
            seed,
        );
        l.control_at = Some(now);
        l
    }

    /// A device's link, accepting a Link Open received with `link_id`: answers Link Ack
    /// (§5.3.1.4.2) and is open at once.
    pub fn accept(
        now: Instant,
        link_id: u32,
        device_uuid: [u8; 16],
        timing: LinkTiming,
        seed: u64,
    ) -> Self {
        let mut l = Self::new(LinkRole::Device, now, link_id, device_uuid, timing, seed);
        l.state = LinkState::Open;
        l.link_ack_pending = true;
        l.events.push_back(LinkEvent::Opened);
        l
    }

    /// The Link ID.
    pub fn link_id(&self) -> u32 {
        self.link_id
    }

    /// The Device UUID the link was opened to.
    pub fn device_uuid(&self) -> [u8; 16] {
        self.device_uuid
    }

    /// This end's role.
    pub fn role(&self) -> LinkRole {
        self.role
    }

    /// Whether the link is established and not closing.
    pub fn is_open(&self) -> bool {
        self.state == LinkState::Open
    }

    /// Whether the link is closed.
    pub fn is_closed(&self) -> bool {
        self.state == LinkState::Closed
    }

    /// Whether Link Close is being sent or the link is closed.
    pub fn is_closing(&self) -> bool {
        matches!(self.state, LinkState::Closing | LinkState::Closed)
    }

    /// Whether every Provisioning PDU handed to [`PbAdvLink::send`] has been acknowledged.
    pub fn is_idle(&self) -> bool {
        self.tx.is_none() && self.queue.is_empty()
    }

    /// Queues a Provisioning PDU; transactions go one at a time, in order, once the link
    /// is open.
    pub fn send(&mut self, provisioning_pdu: Vec<u8>) {
        if !self.is_closing() && !provisioning_pdu.is_empty() {
            self.queue.push_back(provisioning_pdu);
        }
    }

    /// Closes the link with `reason`: Link Close is sent [`LinkTiming::close_count`] times,
    /// then the link reports [`LinkEvent::Closed`].
    pub fn close(&mut self, now: Instant, reason: LinkCloseReason) {
        self.begin_close(now, reason, CloseCause::Local);
    }

    fn begin_close(&mut self, now: Instant, reason: LinkCloseReason, cause: CloseCause) {
        if self.is_closing() {
            return;
        }
        self.queue.clear();
        self.tx = None;
        self.state = LinkState::Closing;
        self.close = Some((reason, cause, self.timing.close_count.max(1)));
        self.control_at = Some(now);
    }

    fn closed(&mut self, reason: LinkCloseReason, cause: CloseCause) {
        self.state = LinkState::Closed;
        self.queue.clear();
        self.tx = None;
        self.acks.clear();
        self.link_ack_pending = false;
        self.control_at = None;
        self.events.push_back(LinkEvent::Closed { reason, cause });
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// A PB-ADV PDU heard on the air. Returns whether it belonged to this link (its Link ID);
    /// malformed PDUs and those of other links are ignored.
    pub fn handle_pdu(&mut self, now: Instant, bytes: &[u8]) -> bool {
        let Ok(pdu) = PbAdvPdu::parse(bytes) else {
            return false;
        };
        self.handle(now, &pdu)
    }

    /// [`PbAdvLink::handle_pdu`] for an already parsed PDU.
    pub fn handle(&mut self, now: Instant, pdu: &PbAdvPdu) -> bool {
        if pdu.link_id != self.link_id {
            return false;
        }
        self.now = now;
        if self.state == LinkState::Closed {
            return true;
        }
        let tn = pdu.transaction_number;
        match &pdu.gpdu {
            GenericProvisioningPdu::BearerControl(BearerControl::LinkOpen { device_uuid }) => {
                // A repeated Link Open (our Link Ack was lost) is acknowledged again.
                if self.role == LinkRole::Device
                    && *device_uuid == self.device_uuid
                    && self.state == LinkState::Open
                {
                    self.heard(now);
                    self.link_ack_pending = true;
                }
            }
            GenericProvisioningPdu::BearerControl(BearerControl::LinkAck) => {
                if self.role == LinkRole::Provisioner && self.state == LinkState::Opening {
                    self.heard(now);
                    self.state = LinkState::Open;
                    self.control_at = None;
                    self.events.push_back(LinkEvent::Opened);
                }
            }
            GenericProvisioningPdu::BearerControl(BearerControl::LinkClose { reason }) => {
                self.closed(*reason, CloseCause::Peer);
            }
            GenericProvisioningPdu::TransactionAck => {
                if self.tx.as_ref().is_some_and(|t| t.tn == tn) {
                    self.heard(now);
                    self.tx = None;
                }
            }
            GenericProvisioningPdu::TransactionStart { .. }
            | GenericProvisioningPdu::TransactionContinuation { .. } => {
                // §5.3.2: the peer's transaction numbers are in the other half of the range.
                let from_peer = match self.role {
                    LinkRole::Provisioner => tn >= 0x80,
                    LinkRole::Device => tn < 0x80,
                };
                if !from_peer || !matches!(self.state, LinkState::Open | LinkState::Closing) {
                    return true;
                }
                self.heard(now);
                if self.last_rx_tn == Some(tn) {
                    // A retransmission of a transaction already delivered: acknowledge again.
                    self.queue_ack(tn);
                    return true;
                }
                match self.reassembler.push(tn, &pdu.gpdu) {
                    Ok(Reassembly::Complete(p)) => {
                        self.last_rx_tn = Some(tn);
                        self.queue_ack(tn);
                        if self.state == LinkState::Open {
                            self.events.push_back(LinkEvent::Received(p));
                        }
                    }
                    Ok(Reassembly::AlreadyComplete) => self.queue_ack(tn),
                    Ok(Reassembly::Pending) | Err(_) => {}
                }
            }
        }
        true
    }

    fn heard(&mut self, now: Instant) {
        self.idle_deadline = now + self.timing.link_timeout;
    }

    fn queue_ack(&mut self, tn: u8) {
        if !self.acks.contains(&tn) {
            self.acks.push_back(tn);
        }
    }

    fn pdu(&self, transaction_number: u8, gpdu: GenericProvisioningPdu) -> Vec<u8> {
        PbAdvPdu {
            link_id: self.link_id,
            transaction_number,
            gpdu,
        }
        .to_vec()
    }

    /// A retransmission delay: the minimum plus a uniform random jitter (SplitMix64 seeded at
    /// creation, so a run replays exactly).
    fn interval(&mut self) -> Duration {
        self.jitter = self.jitter.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.jitter;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let j = self.timing.retransmit_jitter.as_micros();
        let extra = if j == 0 { 0 } else { z % (j + 1) };
        self.timing.retransmit_min + Duration::from_micros(extra)
    }

    /// The next PB-ADV PDU to advertise at `now`: acknowledgments first, then Link
    /// Open/Ack/Close, then the segments of the current transaction (a burst of all its
    /// segments, repeated after each retransmission delay until acknowledged).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.now = now;
        if self.state == LinkState::Closed {
            return None;
        }
        if let Some(tn) = self.acks.pop_front() {
            return Some(self.pdu(tn, GenericProvisioningPdu::TransactionAck));
        }
        if self.link_ack_pending {
            self.link_ack_pending = false;
            // §5.3.2: Bearer Control messages use Transaction Number 0.
            return Some(self.pdu(
                0,
                GenericProvisioningPdu::BearerControl(BearerControl::LinkAck),
            ));
        }
        match self.state {
            LinkState::Opening => {
                if self.control_at.is_some_and(|t| t <= now) {
                    let d = self.interval();
                    self.control_at = Some(now + d);
                    let uuid = self.device_uuid;
                    return Some(self.pdu(
                        0,
                        GenericProvisioningPdu::BearerControl(BearerControl::LinkOpen {
                            device_uuid: uuid,
                        }),
                    ));
                }
                None
            }
            LinkState::Closing => {
                let (reason, cause, left) = self.close?;
                if self.control_at.is_none_or(|t| t > now) {
                    return None;
                }
                let bytes = self.pdu(
                    0,
                    GenericProvisioningPdu::BearerControl(BearerControl::LinkClose { reason }),
                );
                if left <= 1 {
                    self.closed(reason, cause);
                } else {
                    self.close = Some((reason, cause, left - 1));
                    let d = self.interval();
                    self.control_at = Some(now + d);
                }
                Some(bytes)
            }
            LinkState::Open => {
                if self.tx.is_none() {
                    self.start_transaction(now);
                }
                let due = {
                    let tx = self.tx.as_mut()?;
                    if tx.cursor >= tx.segments.len() && tx.resend_at <= now {
                        tx.cursor = 0;
                    }
                    tx.cursor < tx.segments.len()
                };
                if !due {
                    return None;
                }
                let d = self.interval();
                let tx = self.tx.as_mut()?;
                let bytes = tx.segments.get(tx.cursor).cloned();
                tx.cursor += 1;
                if tx.cursor >= tx.segments.len() {
                    tx.resend_at = now + d;
                }
                bytes
            }
            LinkState::Closed => None,
        }
    }

    fn start_transaction(&mut self, now: Instant) {
        while let Some(p) = self.queue.pop_front() {
            let Ok(segs) = segment(&p) else { continue };
            let tn = self.next_tn;
            self.next_tn = match self.role {
                LinkRole::Provisioner => (tn + 1) & 0x7F,
                LinkRole::Device => 0x80 | (tn.wrapping_add(1) & 0x7F),
            };
            let segments = segs.into_iter().map(|g| self.pdu(tn, g)).collect();
            self.tx = Some(Transaction {
                tn,
                segments,
                cursor: 0,
                resend_at: now,
                deadline: now + self.timing.transaction_timeout,
            });
            return;
        }
    }

    /// When [`PbAdvLink::handle_timeout`] (or [`PbAdvLink::poll_transmit`]) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == LinkState::Closed {
            return None;
        }
        // While closing only the Link Close repetitions are timed.
        let mut t = if self.state == LinkState::Closing {
            Instant::from_micros(u64::MAX)
        } else {
            self.idle_deadline
        };
        let mut at = |x: Instant| t = t.min(x);
        if !self.acks.is_empty() || self.link_ack_pending {
            at(self.now);
        }
        if let Some(c) = self.control_at {
            at(c);
        }
        if self.state == LinkState::Open {
            match &self.tx {
                Some(tx) if tx.cursor < tx.segments.len() => at(self.now),
                Some(tx) => {
                    at(tx.resend_at);
                    at(tx.deadline);
                }
                None if !self.queue.is_empty() => at(self.now),
                None => {}
            }
        }
        Some(t)
    }

    /// Runs the link and transaction timeouts. A Provisioner sends Link Close (Timeout)
    /// before reporting the link closed; a device closes at once.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if matches!(self.state, LinkState::Closed | LinkState::Closing) {
            return;
        }
        let cause = if now >= self.idle_deadline {
            CloseCause::LinkTimeout
        } else if self.tx.as_ref().is_some_and(|t| t.deadline <= now) {
            CloseCause::TransactionTimeout
        } else {
            return;
        };
        match self.role {
            LinkRole::Provisioner => self.begin_close(now, LinkCloseReason::Timeout, cause),
            LinkRole::Device => self.closed(LinkCloseReason::Timeout, cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn drain(l: &mut PbAdvLink, now: Instant) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(p) = l.poll_transmit(now) {
            v.push(p);
        }
        v
    }

    fn events(l: &mut PbAdvLink) -> Vec<LinkEvent> {
        let mut v = Vec::new();
        while let Some(e) = l.poll_event() {
            v.push(e);
        }
        v
    }

    const UUID: [u8; 16] = [0x5a; 16];

    #[test]
    fn open_ack_and_one_transaction() {
        let timing = LinkTiming::default();
        let mut p = PbAdvLink::open(t(0), 0x1234_5678, UUID, timing, 1);
        let out = drain(&mut p, t(0));
        assert_eq!(out.len(), 1);
        // Link Open: Link ID, TN 0, GPCF 0b11 opcode 0, UUID (§5.3.1.4.1).
        assert_eq!(out[0][..6], [0x12, 0x34, 0x56, 0x78, 0x00, 0x03]);
        assert_eq!(out[0][6..], UUID);
        // Retransmitted after 200..=500 ms until acknowledged.
        let next = p.poll_timeout().unwrap();
        assert!(next >= t(200) && next <= t(500), "{next:?}");
        assert!(drain(&mut p, t(100)).is_empty());
        assert_eq!(drain(&mut p, next).len(), 1);

        let mut d = PbAdvLink::accept(t(600), 0x1234_5678, UUID, timing, 2);
        assert_eq!(events(&mut d), vec![LinkEvent::Opened]);
        let ack = drain(&mut d, t(600));
        assert_eq!(ack, vec![vec![0x12, 0x34, 0x56, 0x78, 0x00, 0x07]]);
        assert!(p.handle_pdu(t(601), &ack[0]));
        assert_eq!(events(&mut p), vec![LinkEvent::Opened]);
        // A repeated Link Open is acknowledged again.
        assert!(d.handle_pdu(t(602), &out[0]));
        assert_eq!(drain(&mut d, t(602)).len(), 1);

        // A 65-octet PDU: three segments with TN 0, acknowledged with TN 0.
        let pdu: Vec<u8> = (0..65u8).collect();
        p.send(pdu.clone());
        let segs = drain(&mut p, t(700));
        assert_eq!(segs.len(), 3);
        assert!(segs.iter().all(|s| s[4] == 0x00 && s.len() <= 29));
        for s in &segs {
            assert!(d.handle_pdu(t(701), s));
        }
        assert_eq!(events(&mut d), vec![LinkEvent::Received(pdu.clone())]);
        let acks = drain(&mut d, t(701));
        assert_eq!(acks, vec![vec![0x12, 0x34, 0x56, 0x78, 0x00, 0x01]]);
        // Duplicates are acknowledged but not delivered again.
        assert!(d.handle_pdu(t(702), &segs[1]));
        assert!(events(&mut d).is_empty());
        assert_eq!(drain(&mut d, t(702)).len(), 1);
        assert!(p.handle_pdu(t(703), &acks[0]));
        assert!(p.is_idle());
        // The device's transactions are numbered from 0x80.
        d.send(vec![0x08]);
        let c = drain(&mut d, t(800));
        assert_eq!(c[0][4], 0x80);
        assert!(p.handle_pdu(t(801), &c[0]));
        assert_eq!(events(&mut p), vec![LinkEvent::Received(vec![0x08])]);
        assert_eq!(
            drain(&mut p, t(801)),
            vec![vec![0x12, 0x34, 0x56, 0x78, 0x80, 0x01]]
        );
        // The next provisioner transaction is TN 1.
        p.send(vec![0x00, 0x00]);
        assert_eq!(drain(&mut p, t(900))[0][4], 0x01);
    }

    #[test]
    fn retransmits_until_acked_then_transaction_timeout() {
        let timing = LinkTiming::default();
        let mut d = PbAdvLink::accept(t(0), 7, UUID, timing, 3);
        drain(&mut d, t(0));
        d.send(vec![0x01; 30]);
        let first = drain(&mut d, t(0));
        assert_eq!(first.len(), 2);
        let mut now;
        let mut bursts = 0;
        // The link timeout (60 s) is longer: the transaction timer runs out first.
        loop {
            let next = d.poll_timeout().unwrap();
            now = next;
            d.handle_timeout(now);
            if d.is_closed() {
                break;
            }
            let b = drain(&mut d, now);
            if !b.is_empty() {
                assert_eq!(b, first);
                bursts += 1;
            }
            assert!(now <= t(31_000));
        }
        assert!(now >= t(30_000));
        assert!((60..=150).contains(&bursts), "{bursts}");
        assert_eq!(
            events(&mut d)[1..],
            [LinkEvent::Closed {
                reason: LinkCloseReason::Timeout,
                cause: CloseCause::TransactionTimeout
            }]
        );
    }

    #[test]
    fn link_timeout_without_ack() {
        let mut p = PbAdvLink::open(t(0), 9, UUID, LinkTiming::default(), 4);
        let mut now = t(0);
        while !p.is_closed() {
            drain(&mut p, now);
            let Some(t) = p.poll_timeout() else { break };
            now = t;
            p.handle_timeout(now);
        }
        assert!(now >= t(60_000) && now < t(62_000), "{now:?}");
        assert_eq!(
            events(&mut p),
            vec![LinkEvent::Closed {
                reason: LinkCloseReason::Timeout,
                cause: CloseCause::LinkTimeout
            }]
        );
    }

    #[test]
    fn close_is_sent_three_times_and_peer_close() {
        let timing = LinkTiming::default();
        let mut p = PbAdvLink::open(t(0), 9, UUID, timing, 4);
        p.close(t(0), LinkCloseReason::Fail);
        let mut now = t(0);
        let mut closes = Vec::new();
        while !p.is_closed() {
            closes.extend(drain(&mut p, now));
            now = p.poll_timeout().unwrap_or(now);
        }
        assert_eq!(closes.len(), 3);
        assert_eq!(closes[0], vec![0, 0, 0, 9, 0, 0x0B, 0x02]);
        let mut d = PbAdvLink::accept(t(0), 9, UUID, timing, 5);
        assert!(d.handle_pdu(t(1), &closes[0]));
        assert!(d.is_closed());
        assert_eq!(
            events(&mut d).last(),
            Some(&LinkEvent::Closed {
                reason: LinkCloseReason::Fail,
                cause: CloseCause::Peer
            })
        );
        // Other links, and malformed bytes, are not ours.
        assert!(!d.handle_pdu(t(2), &[0, 0, 0, 8, 0, 0x07]));
        assert!(!d.handle_pdu(t(2), &[1, 2, 3]));
    }

    proptest! {
        /// Whatever arrives, in whatever order, with losses and duplicates: every PDU sent is
        /// delivered exactly once and in order, and nothing panics.
        #[test]
        fn lossy_delivery_in_order(
            pdus in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..80), 1..6),
            drops in proptest::collection::vec(any::<bool>(), 64),
            seed in any::<u64>(),
        ) {
            let timing = LinkTiming::default();
            let mut p = PbAdvLink::open(t(0), 42, UUID, timing, seed);
            let mut d: Option<PbAdvLink> = None;
            for x in &pdus {
                p.send(x.clone());
            }
            let mut got = Vec::new();
            let mut now = t(0);
            let mut k = 0usize;
            for _ in 0..20_000 {
                while let Some(b) = p.poll_transmit(now) {
                    k += 1;
                    if drops[k % drops.len()] && k.is_multiple_of(3) { continue; }
                    match d.as_mut() {
                        Some(d) => { d.handle_pdu(now, &b); }
                        None => {
                            if let Ok(PbAdvPdu { gpdu: GenericProvisioningPdu::BearerControl(BearerControl::LinkOpen { .. }), .. }) = PbAdvPdu::parse(&b) {
                                d = Some(PbAdvLink::accept(now, 42, UUID, timing, seed ^ 1));
                            }
                        }
                    }
                }
                if let Some(d) = d.as_mut() {
                    while let Some(b) = d.poll_transmit(now) {
                        k += 1;
                        if drops[k % drops.len()] && k.is_multiple_of(3) { continue; }
                        p.handle_pdu(now, &b);
                    }
                    while let Some(e) = d.poll_event() {
                        if let LinkEvent::Received(x) = e { got.push(x); }
                    }
                }
                if got.len() == pdus.len() && p.is_idle() { break; }
                let next = [p.poll_timeout(), d.as_ref().and_then(|d| d.poll_timeout())]
                    .into_iter().flatten().min().unwrap();
                now = next.max(now);
                p.handle_timeout(now);
                if let Some(d) = d.as_mut() { d.handle_timeout(now); }
            }
            prop_assert_eq!(got, pdus);
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 0..30)) {
            let mut d = PbAdvLink::accept(t(0), 42, UUID, LinkTiming::default(), 0);
            for (i, b) in bytes.iter().enumerate() {
                let mut b = b.clone();
                if b.len() >= 4 { b[..4].copy_from_slice(&42u32.to_be_bytes()); }
                d.handle_pdu(t(i as u64), &b);
                while d.poll_transmit(t(i as u64)).is_some() {}
                while d.poll_event().is_some() {}
            }
        }
    }
}
