//! Frame counters per neighbour (IEEE 802.15.4-2015 §9.2.4 and §9.2.5, the incoming frame
//! security procedure's replay check; Thread 1.3 §7.1.2 and OpenThread's
//! `Mac::ProcessReceiveSecurity` / `Mle::ProcessMessageSecurity`): for each sender's extended
//! address, the key sequence it was last heard with and the highest MAC and MLE frame counters
//! accepted under it, kept apart. A frame whose counter is not above the last accepted one
//! under the same key sequence is a replay; a newer key sequence starts the counters again
//! (OpenThread resets a neighbour's link and MLE counters when its key sequence changes); an
//! older one is stale.
//!
//! A MAC retransmission (the same frame again because its acknowledgment was lost: same
//! frame counter and same MAC sequence number, 802.15.4-2015 §6.7.4.3) is told apart from a
//! replay, so that a sniffer counts it as a duplicate instead of an attack.
//!
//! Bounded: at most `capacity` senders; the one heard longest ago is forgotten first.

use std::collections::HashMap;

use crate::thread::mac::ExtAddress;

/// The default number of senders remembered.
pub const DEFAULT_REPLAY_CAPACITY: usize = 512;

/// What a frame's counter says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterCheck {
    /// Newer than anything accepted from the sender under this key sequence (or the first):
    /// accepted and remembered.
    Fresh,
    /// A MAC frame with the last accepted frame counter and the same MAC sequence number: the
    /// sender's retransmission of it.
    Retransmission,
    /// A counter not above the last accepted one (`last`) under the same key sequence.
    Replay { last: u32 },
    /// A key sequence older than the one the sender was last heard with.
    StaleKeySequence { last: u32 },
}

impl CounterCheck {
    /// Whether a node accepts the frame (only a fresh counter).
    pub fn accepted(self) -> bool {
        self == CounterCheck::Fresh
    }
}

#[derive(Debug, Clone, Copy)]
struct Sender {
    key_sequence: u32,
    mac: Option<(u32, Option<u8>)>,
    mle: Option<u32>,
    /// When it was last heard, in checks made (for eviction).
    heard: u64,
}

/// The frame counters of each sender.
#[derive(Debug, Clone)]
pub struct ReplayTable {
    senders: HashMap<ExtAddress, Sender>,
    capacity: usize,
    clock: u64,
    evicted: u64,
}

impl Default for ReplayTable {
    fn default() -> Self {
        ReplayTable::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl ReplayTable {
    pub fn new(capacity: usize) -> Self {
        ReplayTable {
            senders: HashMap::new(),
            capacity: capacity.max(1),
            clock: 0,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.senders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }

    /// Senders forgotten to make room.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The sender's entry under `key_sequence` (a newer sequence restarts its counters), or
    /// the stale verdict.
    fn sender(&mut self, src: ExtAddress, key_sequence: u32) -> Result<&mut Sender, CounterCheck> {
        self.clock += 1;
        if !self.senders.contains_key(&src) && self.senders.len() >= self.capacity {
            if let Some(oldest) = self
                .senders
                .iter()
                .min_by_key(|(_, s)| s.heard)
                .map(|(k, _)| *k)
            {
                self.senders.remove(&oldest);
                self.evicted += 1;
            }
        }
        let clock = self.clock;
        let s = self.senders.entry(src).or_insert(Sender {
            key_sequence,
            mac: None,
            mle: None,
            heard: clock,
        });
        s.heard = clock;
        if key_sequence < s.key_sequence {
            return Err(CounterCheck::StaleKeySequence {
                last: s.key_sequence,
            });
        }
        if key_sequence > s.key_sequence {
            *s = Sender {
                key_sequence,
                mac: None,
                mle: None,
                heard: clock,
            };
        }
        Ok(s)
    }

    /// Checks (and, when fresh, records) an authenticated MAC frame from `src` under
    /// `key_sequence` with `frame_counter` and MAC sequence number `seq`.
    pub fn check_mac(
        &mut self,
        src: ExtAddress,
        key_sequence: u32,
        frame_counter: u32,
        seq: Option<u8>,
    ) -> CounterCheck {
        let s = match self.sender(src, key_sequence) {
            Ok(s) => s,
            Err(c) => return c,
        };
        match s.mac {
            Some((last, _)) if frame_counter > last => {}
            Some((last, last_seq)) if frame_counter == last && seq.is_some() && seq == last_seq => {
                return CounterCheck::Retransmission
            }
            Some((last, _)) => return CounterCheck::Replay { last },
            None => {}
        }
        s.mac = Some((frame_counter, seq));
        CounterCheck::Fresh
    }

    /// Checks (and, when fresh, records) an authenticated MLE message from `src` under
    /// `key_sequence` with `frame_counter` (MLE counters are the sender's own, apart from its
    /// MAC ones).
    pub fn check_mle(
        &mut self,
        src: ExtAddress,
        key_sequence: u32,
        frame_counter: u32,
    ) -> CounterCheck {
        let s = match self.sender(src, key_sequence) {
            Ok(s) => s,
            Err(c) => return c,
        };
        if let Some(last) = s.mle {
            if frame_counter <= last {
                return CounterCheck::Replay { last };
            }
        }
        s.mle = Some(frame_counter);
        CounterCheck::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ExtAddress = ExtAddress([1; 8]);
    const B: ExtAddress = ExtAddress([2; 8]);

    #[test]
    fn mac_counters_reject_replays_and_tell_retransmissions_apart() {
        let mut t = ReplayTable::default();
        assert_eq!(t.check_mac(A, 0, 10, Some(1)), CounterCheck::Fresh);
        // Same counter, same sequence number: the sender sent it again.
        assert_eq!(t.check_mac(A, 0, 10, Some(1)), CounterCheck::Retransmission);
        // Same counter, another sequence number: a replay.
        assert_eq!(
            t.check_mac(A, 0, 10, Some(2)),
            CounterCheck::Replay { last: 10 }
        );
        assert_eq!(
            t.check_mac(A, 0, 9, Some(0)),
            CounterCheck::Replay { last: 10 }
        );
        assert!(!t.check_mac(A, 0, 9, Some(0)).accepted());
        assert!(t.check_mac(A, 0, 11, Some(2)).accepted());
        // Another sender has its own counters.
        assert_eq!(t.check_mac(B, 0, 1, None), CounterCheck::Fresh);
        // No sequence number (suppressed): the same counter is a replay.
        assert_eq!(t.check_mac(B, 0, 1, None), CounterCheck::Replay { last: 1 });
    }

    #[test]
    fn a_new_key_sequence_restarts_the_counters_and_an_old_one_is_stale() {
        let mut t = ReplayTable::default();
        assert!(t.check_mac(A, 5, 1000, Some(1)).accepted());
        assert!(t.check_mle(A, 5, 50).accepted());
        assert!(t.check_mac(A, 6, 0, Some(2)).accepted());
        assert!(t.check_mle(A, 6, 0).accepted());
        assert_eq!(
            t.check_mac(A, 5, 2000, Some(3)),
            CounterCheck::StaleKeySequence { last: 6 }
        );
    }

    #[test]
    fn mle_counters_are_apart_from_mac_ones() {
        let mut t = ReplayTable::default();
        assert!(t.check_mac(A, 0, 100, Some(1)).accepted());
        // MLE's counter is lower than the MAC one: still fresh.
        assert!(t.check_mle(A, 0, 3).accepted());
        assert_eq!(t.check_mle(A, 0, 3), CounterCheck::Replay { last: 3 });
        assert!(t.check_mle(A, 0, 4).accepted());
        assert!(t.check_mac(A, 0, 101, Some(2)).accepted());
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_oldest() {
        let mut t = ReplayTable::new(4);
        for i in 0..10u8 {
            t.check_mac(ExtAddress([i; 8]), 0, 1, Some(0));
            // A keeps being heard.
            t.check_mac(A, 0, 10 + i as u32, Some(i));
        }
        assert_eq!(t.len(), 4);
        assert!(t.evicted() > 0);
        // A was heard last: still known (its counter is remembered).
        assert_eq!(
            t.check_mac(A, 0, 5, Some(0)),
            CounterCheck::Replay { last: 19 }
        );
        // The first sender was forgotten: its counter starts again.
        assert!(t.check_mac(ExtAddress([0; 8]), 0, 1, Some(0)).accepted());
    }
}
