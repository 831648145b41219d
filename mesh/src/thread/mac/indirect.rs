//! Indirect transmission (IEEE 802.15.4-2015 §6.7.3), as a Thread parent does it for its sleepy
//! end devices: what a parent holds for its sleepy children, one bounded queue per child,
//! released one frame per Data Request the child sends.
//!
//! - A frame for a sleepy child waits in the child's queue (at most
//!   [`IndirectConfig::per_child`] frames, [`IndirectConfig::max_children`] children): a push
//!   beyond is refused and counted.
//! - The parent's radio answers the child's Data Request with an acknowledgment whose Frame
//!   Pending bit says whether a frame waits (§6.7.3, §7.2.1.3): that is
//!   [`IndirectQueue::frame_pending`], the "source match" answer the radio asks for (an RCP's
//!   `PROP_MAC_SRC_MATCH_*` table holds the children for which it is true).
//! - On the Data Request the first waiting frame is released ([`IndirectQueue::data_request`]);
//!   its own Frame Pending bit is to be set when more frames wait after it
//!   ([`Release::more`]), so that the child polls again at once.
//! - The released frame stays at the head of the queue until its transmission is confirmed
//!   ([`IndirectQueue::confirm`]): acknowledged, it is gone; not acknowledged, it is released
//!   again at the next Data Request, up to [`IndirectConfig::max_attempts`] times.
//! - A frame not released within [`IndirectConfig::persistence`] of its push expires
//!   (macTransactionPersistenceTime, §8.4.3.1, table 8-94) and is counted.
//!
//! Sans-IO: time comes in as `now`; [`IndirectQueue::poll_timeout`] says when the next frame
//! expires.

use std::collections::{BTreeMap, VecDeque};

use super::address::{Address, ExtAddress, BROADCAST_SHORT};
use crate::time::{Duration, Instant};

/// aBaseSuperframeDuration, 960 symbols of 16 µs on the O-QPSK PHY (§8.4.2, table 8-93).
pub const BASE_SUPERFRAME_US: u64 = 960 * 16;
/// The default macTransactionPersistenceTime, 0x01f4 unit periods of aBaseSuperframeDuration
/// (§8.4.3.1, table 8-94): 7.68 s.
pub const DEFAULT_PERSISTENCE: Duration = Duration::from_micros(0x01f4 * BASE_SUPERFRAME_US);

/// The bounds and timers of an [`IndirectQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndirectConfig {
    /// Frames held per child; a push beyond is refused.
    pub per_child: usize,
    /// Sleepy children registered at once.
    pub max_children: usize,
    /// How long a frame waits for its child's poll (macTransactionPersistenceTime). A Thread
    /// parent sets this from the child's poll period; the default is the standard's 7.68 s.
    pub persistence: Duration,
    /// Releases of one frame that end without an acknowledgment before it is dropped (1 + the
    /// retries after failed transmissions).
    pub max_attempts: u8,
}

impl Default for IndirectConfig {
    fn default() -> Self {
        IndirectConfig {
            per_child: 8,
            max_children: 32,
            persistence: DEFAULT_PERSISTENCE,
            max_attempts: 4,
        }
    }
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the child is not registered as a sleepy child")]
    UnknownChild,
    #[error("the child's queue is full")]
    QueueFull,
}

/// Why a child was registered or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChildError {
    #[error("the table of sleepy children is full")]
    TableFull,
}

/// What the queue counted since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndirectStats {
    /// Frames accepted.
    pub queued: u64,
    /// Frames refused: the child's queue was full; the child was not registered.
    pub refused_full: u64,
    pub refused_unknown: u64,
    /// Releases on a Data Request (retransmissions included).
    pub released: u64,
    /// Frames confirmed acknowledged.
    pub delivered: u64,
    /// Frames dropped after `max_attempts` unacknowledged releases.
    pub failed: u64,
    /// Frames that waited longer than the persistence time.
    pub expired: u64,
    /// Frames dropped with their child when it was removed.
    pub dropped_with_child: u64,
    /// Data Requests from a source with no queue, or with nothing waiting.
    pub empty_polls: u64,
    /// Data Requests while the child's released frame was still being sent (a retransmitted
    /// request whose ack was lost): nothing more is released.
    pub polls_in_flight: u64,
}

/// One frame released on a Data Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release<T> {
    pub item: T,
    /// More frames wait after this one: set Frame Pending in it (§6.7.3).
    pub more: bool,
    /// 1 on the first release of this frame, then 2, 3, ...
    pub attempt: u8,
}

#[derive(Debug, Clone)]
struct Held<T> {
    item: T,
    expires: Instant,
    attempts: u8,
}

#[derive(Debug, Clone)]
struct Child<T> {
    short: Option<u16>,
    frames: VecDeque<Held<T>>,
    /// The head was released and its transmission not yet confirmed.
    in_flight: bool,
}

/// A parent's frames for its sleepy children (see the module documentation).
#[derive(Debug, Clone)]
pub struct IndirectQueue<T> {
    config: IndirectConfig,
    children: BTreeMap<ExtAddress, Child<T>>,
    stats: IndirectStats,
}

impl<T: Clone> IndirectQueue<T> {
    pub fn new(config: IndirectConfig) -> Self {
        IndirectQueue {
            config,
            children: BTreeMap::new(),
            stats: IndirectStats::default(),
        }
    }

    pub fn config(&self) -> &IndirectConfig {
        &self.config
    }

    pub fn stats(&self) -> &IndirectStats {
        &self.stats
    }

    /// Registers a sleepy child by its extended address and, once it has one, its short
    /// address (a Thread RLOC16): its Data Requests come from either. Registering it again
    /// updates the short address and keeps its frames.
    pub fn add_child(&mut self, ext: ExtAddress, short: Option<u16>) -> Result<(), ChildError> {
        if let Some(c) = self.children.get_mut(&ext) {
            c.short = short;
            return Ok(());
        }
        if self.children.len() >= self.config.max_children {
            return Err(ChildError::TableFull);
        }
        self.children.insert(
            ext,
            Child {
                short,
                frames: VecDeque::new(),
                in_flight: false,
            },
        );
        Ok(())
    }

    /// Forgets a child (it detached or timed out); its frames are dropped and counted. The
    /// number dropped.
    pub fn remove_child(&mut self, ext: ExtAddress) -> usize {
        let n = self.children.remove(&ext).map_or(0, |c| c.frames.len());
        self.stats.dropped_with_child += n as u64;
        n
    }

    /// Frames waiting for `ext`.
    pub fn pending(&self, ext: ExtAddress) -> usize {
        self.children.get(&ext).map_or(0, |c| c.frames.len())
    }

    /// Holds `item` for `child` until it polls or `now + persistence` passes.
    pub fn push(&mut self, now: Instant, child: ExtAddress, item: T) -> Result<(), PushError> {
        let per_child = self.config.per_child;
        let expires = now + self.config.persistence;
        let Some(c) = self.children.get_mut(&child) else {
            self.stats.refused_unknown += 1;
            return Err(PushError::UnknownChild);
        };
        if c.frames.len() >= per_child {
            self.stats.refused_full += 1;
            return Err(PushError::QueueFull);
        }
        c.frames.push_back(Held {
            item,
            expires,
            attempts: 0,
        });
        self.stats.queued += 1;
        Ok(())
    }

    fn find(&self, src: &Address) -> Option<ExtAddress> {
        match *src {
            Address::Extended(e) => self.children.contains_key(&e).then_some(e),
            Address::Short(s) if s != BROADCAST_SHORT => self
                .children
                .iter()
                .find(|(_, c)| c.short == Some(s))
                .map(|(e, _)| *e),
            _ => None,
        }
    }

    /// The source-match answer: whether a frame waits for the device with source address
    /// `src` (the Frame Pending bit of the acknowledgment of its Data Request, §6.7.3).
    pub fn frame_pending(&self, src: &Address) -> bool {
        self.find(src)
            .and_then(|e| self.children.get(&e))
            .is_some_and(|c| !c.frames.is_empty())
    }

    /// The children for which [`IndirectQueue::frame_pending`] is true now, as a radio's
    /// source-match table holds them (extended address and short address when known).
    pub fn source_match(&self) -> impl Iterator<Item = (ExtAddress, Option<u16>)> + '_ {
        self.children
            .iter()
            .filter(|(_, c)| !c.frames.is_empty())
            .map(|(e, c)| (*e, c.short))
    }

    /// A Data Request from `src` arrived at `now`: the frame to send it, if one waits (expired
    /// frames go first, counted). The frame stays held until [`IndirectQueue::confirm`]; a
    /// Data Request meanwhile releases nothing (the frame is on its way; counted).
    ///
    /// A frame released again after a failed transmission is to be sent with the sequence
    /// number of its first release ([`Release::attempt`] > 1), so that a child that did get
    /// it (and whose ack was lost) drops the copy.
    pub fn data_request(&mut self, now: Instant, src: &Address) -> Option<Release<T>> {
        self.expire(now);
        let Some(ext) = self.find(src) else {
            self.stats.empty_polls += 1;
            return None;
        };
        let c = self.children.get_mut(&ext)?;
        if c.in_flight {
            self.stats.polls_in_flight += 1;
            return None;
        }
        let more = c.frames.len() > 1;
        let Some(head) = c.frames.front_mut() else {
            self.stats.empty_polls += 1;
            return None;
        };
        head.attempts = head.attempts.saturating_add(1);
        c.in_flight = true;
        self.stats.released += 1;
        Some(Release {
            item: head.item.clone(),
            more,
            attempt: head.attempts,
        })
    }

    /// The released frame for `child` was acknowledged (`acked`) or not. Not acknowledged, it
    /// waits for the next Data Request, unless it has been released `max_attempts` times: then
    /// it is dropped and counted. Nothing happens when no frame of `child` is in flight.
    pub fn confirm(&mut self, child: ExtAddress, acked: bool) {
        let max = self.config.max_attempts.max(1);
        let Some(c) = self.children.get_mut(&child) else {
            return;
        };
        if !c.in_flight {
            return;
        }
        c.in_flight = false;
        if acked {
            c.frames.pop_front();
            self.stats.delivered += 1;
        } else if c.frames.front().is_some_and(|h| h.attempts >= max) {
            c.frames.pop_front();
            self.stats.failed += 1;
        }
    }

    /// When the next held frame expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.children
            .values()
            .flat_map(|c| c.frames.iter().skip(usize::from(c.in_flight)))
            .map(|h| h.expires)
            .min()
    }

    /// Drops (and counts) the frames whose persistence time has passed at `now`. A frame in
    /// flight waits for its confirmation.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        for c in self.children.values_mut() {
            let keep_head = usize::from(c.in_flight);
            let before = c.frames.len();
            let mut i = 0;
            c.frames.retain(|h| {
                let keep = i < keep_head || h.expires > now;
                i += 1;
                keep
            });
            self.stats.expired += (before - c.frames.len()) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHILD: ExtAddress = ExtAddress([1, 1, 1, 1, 1, 1, 1, 1]);
    const OTHER: ExtAddress = ExtAddress([2, 2, 2, 2, 2, 2, 2, 2]);

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn queue() -> IndirectQueue<u32> {
        let mut q = IndirectQueue::new(IndirectConfig {
            per_child: 3,
            max_children: 2,
            persistence: Duration::from_secs(2),
            max_attempts: 2,
        });
        q.add_child(CHILD, Some(0x0401)).unwrap();
        q
    }

    #[test]
    fn the_standard_persistence_time_is_7_68_s() {
        assert_eq!(DEFAULT_PERSISTENCE, Duration::from_millis(7680));
    }

    #[test]
    fn one_frame_per_poll_in_order_with_frame_pending_while_more_wait() {
        let mut q = queue();
        for n in 0..3 {
            q.push(at(0), CHILD, n).unwrap();
        }
        assert!(q.frame_pending(&Address::Short(0x0401)));
        assert!(q.frame_pending(&Address::Extended(CHILD)));
        let mut got = Vec::new();
        while let Some(r) = q.data_request(at(10), &Address::Short(0x0401)) {
            got.push((r.item, r.more));
            q.confirm(CHILD, true);
        }
        assert_eq!(got, vec![(0, true), (1, true), (2, false)]);
        assert!(!q.frame_pending(&Address::Short(0x0401)));
        assert_eq!(q.stats().delivered, 3);
        assert_eq!(q.stats().empty_polls, 1);
    }

    #[test]
    fn bounded_per_child_and_in_children() {
        let mut q = queue();
        for n in 0..3 {
            q.push(at(0), CHILD, n).unwrap();
        }
        assert_eq!(q.push(at(0), CHILD, 9), Err(PushError::QueueFull));
        assert_eq!(q.push(at(0), OTHER, 9), Err(PushError::UnknownChild));
        q.add_child(OTHER, None).unwrap();
        assert_eq!(
            q.add_child(ExtAddress([3; 8]), None),
            Err(ChildError::TableFull)
        );
        assert_eq!(q.stats().refused_full, 1);
        assert_eq!(q.stats().refused_unknown, 1);
        assert_eq!(q.remove_child(CHILD), 3);
        assert_eq!(q.stats().dropped_with_child, 3);
    }

    #[test]
    fn frames_never_polled_for_expire_and_are_counted() {
        let mut q = queue();
        q.push(at(0), CHILD, 1).unwrap();
        q.push(at(500), CHILD, 2).unwrap();
        assert_eq!(q.poll_timeout(), Some(at(2000)));
        q.handle_timeout(at(2000));
        assert_eq!(q.stats().expired, 1);
        assert_eq!(q.pending(CHILD), 1);
        assert_eq!(q.poll_timeout(), Some(at(2500)));
        // A poll after the second expired finds nothing.
        assert_eq!(q.data_request(at(3000), &Address::Extended(CHILD)), None);
        assert_eq!(q.stats().expired, 2);
        assert_eq!(q.poll_timeout(), None);
    }

    #[test]
    fn an_unacknowledged_release_is_retried_then_dropped() {
        let mut q = queue();
        q.push(at(0), CHILD, 7).unwrap();
        q.push(at(0), CHILD, 8).unwrap();
        let r = q.data_request(at(1), &Address::Short(0x0401)).unwrap();
        assert_eq!((r.item, r.attempt), (7, 1));
        // The request again (its ack was lost) while the frame is on its way: nothing more.
        assert_eq!(q.data_request(at(1), &Address::Short(0x0401)), None);
        assert_eq!(q.stats().polls_in_flight, 1);
        q.confirm(CHILD, false);
        let r = q.data_request(at(2), &Address::Short(0x0401)).unwrap();
        assert_eq!((r.item, r.attempt), (7, 2));
        q.confirm(CHILD, false);
        assert_eq!(q.stats().failed, 1);
        let r = q.data_request(at(3), &Address::Short(0x0401)).unwrap();
        assert_eq!((r.item, r.more), (8, false));
        // A confirmation with nothing in flight changes nothing.
        q.confirm(CHILD, true);
        q.confirm(CHILD, true);
        assert_eq!(q.stats().delivered, 1);
        assert_eq!(q.pending(CHILD), 0);
    }

    #[test]
    fn a_frame_in_flight_does_not_expire_under_its_confirmation() {
        let mut q = queue();
        q.push(at(0), CHILD, 1).unwrap();
        q.data_request(at(1999), &Address::Extended(CHILD)).unwrap();
        assert_eq!(q.poll_timeout(), None);
        q.handle_timeout(at(2500));
        assert_eq!(q.pending(CHILD), 1);
        q.confirm(CHILD, true);
        assert_eq!(q.stats().delivered, 1);
        assert_eq!(q.stats().expired, 0);
    }

    #[test]
    fn source_match_lists_children_with_frames() {
        let mut q = queue();
        q.add_child(OTHER, None).unwrap();
        q.push(at(0), OTHER, 1).unwrap();
        assert_eq!(q.source_match().collect::<Vec<_>>(), vec![(OTHER, None)]);
        assert!(!q.frame_pending(&Address::Short(BROADCAST_SHORT)));
        assert!(!q.frame_pending(&Address::None));
    }

    proptest! {
        /// Whatever the pushes, polls, confirmations and clock: the queue holds at most
        /// `per_child` frames per child, releases them in push order, and every frame accepted
        /// is delivered, failed, expired, dropped or still held.
        #[test]
        fn conservation(ops in proptest::collection::vec((0u8..5, 0u64..300), 0..200)) {
            let mut q = queue();
            q.add_child(OTHER, Some(7)).unwrap();
            let mut now = 0u64;
            let mut next = 0u32;
            let mut last_released: BTreeMap<ExtAddress, u32> = BTreeMap::new();
            for (op, dt) in ops {
                now += dt;
                let child = if dt % 2 == 0 { CHILD } else { OTHER };
                match op {
                    0 | 1 => { let _ = q.push(at(now), child, next); next += 1; }
                    2 => {
                        if let Some(r) = q.data_request(at(now), &Address::Extended(child)) {
                            if let Some(&prev) = last_released.get(&child) {
                                prop_assert!(r.item >= prev);
                            }
                            last_released.insert(child, r.item);
                        }
                    }
                    3 => q.confirm(child, dt % 3 != 0),
                    _ => q.handle_timeout(at(now)),
                }
                prop_assert!(q.pending(CHILD) <= 3 && q.pending(OTHER) <= 3);
            }
            let s = *q.stats();
            let held = (q.pending(CHILD) + q.pending(OTHER)) as u64;
            prop_assert_eq!(s.queued, s.delivered + s.failed + s.expired + s.dropped_with_child + held);
        }
    }
}
