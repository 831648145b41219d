//! The replay protection list (Mesh Protocol 1.1 §3.9.8, "Message replay protection").
//!
//! For every source unicast address the node has accepted a message from, the list holds the
//! IV Index and sequence number of the last such message (for a segmented message, the SEQ of
//! its SeqAuth, §3.5.3.1). A new message from that source is accepted only if its
//! (IV Index, SEQ) pair is greater: a higher IV Index, or the same IV Index and a higher SEQ.
//! The list's capacity is bounded (the CRPL field of Composition Data page 0, MshPRT §4.2.2.1);
//! when it is full, messages from sources not yet in it are discarded (§3.9.8), never accepted
//! by evicting another source's record, which would reopen that source to replays.
//!
//! The list is state that must survive a restart: it derives serde's traits and the runtime
//! persists it (DESIGN.md, "State that must survive a restart").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ble::address::{IvIndex, Seq, UnicastAddress};

/// What the list remembers of one source: its last accepted IV Index and SEQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RplEntry {
    /// IV Index of the last accepted message (compared first).
    pub iv_index: IvIndex,
    /// SEQ (or SeqAuth's SEQ) of the last accepted message.
    pub seq: Seq,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Replay {
    /// Not newer than the last message accepted from this source: a replay (or a stale copy).
    #[error("replayed: last accepted IV Index {} SEQ {}", last.iv_index, last.seq)]
    Old { last: RplEntry },
    /// A source the list has no room for.
    #[error("replay protection list full ({capacity} sources)")]
    Full { capacity: usize },
}

/// A bounded replay protection list keyed by source unicast address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayProtectionList {
    capacity: usize,
    #[serde(with = "entries")]
    entries: BTreeMap<UnicastAddress, RplEntry>,
}

impl ReplayProtectionList {
    /// An empty list with room for `capacity` sources (CRPL).
    pub fn new(capacity: usize) -> Self {
        ReplayProtectionList {
            capacity,
            entries: BTreeMap::new(),
        }
    }

    /// How many sources the list can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many sources it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no source.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether no new source can be added.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// The record of `src`, if any.
    pub fn get(&self, src: UnicastAddress) -> Option<RplEntry> {
        self.entries.get(&src).copied()
    }

    /// Every record, by source address.
    pub fn iter(&self) -> impl Iterator<Item = (UnicastAddress, RplEntry)> + '_ {
        self.entries.iter().map(|(&a, &e)| (a, e))
    }

    /// Whether a message from `src` with this IV Index and SEQ (for a segmented message, the
    /// IV Index and SEQ of its SeqAuth) would be accepted. Changes nothing: call it before the
    /// expensive work, and [`accept`](Self::accept) once the message authenticated.
    pub fn check(&self, src: UnicastAddress, iv_index: IvIndex, seq: Seq) -> Result<(), Replay> {
        let candidate = RplEntry { iv_index, seq };
        match self.entries.get(&src) {
            Some(&last) if candidate <= last => Err(Replay::Old { last }),
            Some(_) => Ok(()),
            None if self.is_full() => Err(Replay::Full {
                capacity: self.capacity,
            }),
            None => Ok(()),
        }
    }

    /// Checks as [`check`](Self::check) and, if accepted, records the message as the source's
    /// latest.
    pub fn accept(
        &mut self,
        src: UnicastAddress,
        iv_index: IvIndex,
        seq: Seq,
    ) -> Result<(), Replay> {
        self.check(src, iv_index, seq)?;
        self.entries.insert(src, RplEntry { iv_index, seq });
        Ok(())
    }

    /// Takes in the records of `other`: for each source the newer of the two records; a
    /// source new to this list only while there is room.
    pub fn merge(&mut self, other: &ReplayProtectionList) {
        for (src, e) in other.iter() {
            let full = self.is_full();
            match self.entries.get_mut(&src) {
                Some(mine) => *mine = (*mine).max(e),
                None if !full => {
                    self.entries.insert(src, e);
                }
                None => {}
            }
        }
    }

    /// Forgets `src` (e.g. a node removed from the network), returning its record.
    pub fn remove(&mut self, src: UnicastAddress) -> Option<RplEntry> {
        self.entries.remove(&src)
    }

    /// Forgets every source.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Forgets the sources last heard under an IV Index below `min` (after an IV Update, a
    /// message can only arrive under the current IV Index or the one before it (§3.4.4.3), so
    /// records older than that protect nothing). Returns how many were dropped.
    pub fn prune_below(&mut self, min: IvIndex) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.iv_index >= min);
        before - self.entries.len()
    }
}

/// The map as a list of records, so the persisted form does not depend on a format's support
/// for non-string map keys.
mod entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::RplEntry;
    use crate::ble::address::{IvIndex, Seq, UnicastAddress};

    /// One record, its fields inline (not `flatten`: a flattened struct is a map of unknown
    /// length, which compact formats such as postcard cannot write).
    #[derive(Serialize, Deserialize)]
    struct Record {
        src: UnicastAddress,
        iv_index: IvIndex,
        seq: Seq,
    }

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<UnicastAddress, RplEntry>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let list: Vec<Record> = map
            .iter()
            .map(|(&src, &e)| Record {
                src,
                iv_index: e.iv_index,
                seq: e.seq,
            })
            .collect();
        list.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<UnicastAddress, RplEntry>, D::Error> {
        let list = Vec::<Record>::deserialize(d)?;
        Ok(list
            .into_iter()
            .map(|r| {
                let entry = RplEntry {
                    iv_index: r.iv_index,
                    seq: r.seq,
                };
                (r.src, entry)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_a_saved_list_keeps_the_newer_record_and_the_capacity() {
        let a = |v| UnicastAddress::new(v).unwrap();
        let seq = |v| Seq::new(v).unwrap();
        let mut saved = ReplayProtectionList::new(3);
        saved.accept(a(1), IvIndex(0), seq(10)).unwrap();
        saved.accept(a(2), IvIndex(0), seq(20)).unwrap();
        saved.accept(a(3), IvIndex(1), seq(1)).unwrap();
        let mut live = ReplayProtectionList::new(2);
        live.accept(a(1), IvIndex(0), seq(15)).unwrap();
        live.merge(&saved);
        assert_eq!(
            live.get(a(1)).unwrap().seq,
            seq(15),
            "the newer record wins"
        );
        assert_eq!(live.get(a(2)).unwrap().seq, seq(20));
        assert_eq!(live.get(a(3)), None, "no room left");
        // What the saved list accepted is a replay now.
        assert!(live.check(a(2), IvIndex(0), seq(20)).is_err());
        assert!(live.check(a(2), IvIndex(0), seq(21)).is_ok());
    }
    use proptest::prelude::*;

    fn a(v: u16) -> UnicastAddress {
        UnicastAddress::new(v).unwrap()
    }

    fn s(v: u32) -> Seq {
        Seq::new(v).unwrap()
    }

    #[test]
    fn ordering() {
        let mut rpl = ReplayProtectionList::new(4);
        let iv = IvIndex(5);
        assert_eq!(rpl.accept(a(1), iv, s(10)), Ok(()));
        let last = RplEntry {
            iv_index: iv,
            seq: s(10),
        };
        // The same SEQ again, or an older one: replays.
        assert_eq!(rpl.check(a(1), iv, s(10)), Err(Replay::Old { last }));
        assert_eq!(rpl.accept(a(1), iv, s(9)), Err(Replay::Old { last }));
        // A higher SEQ under the same IV Index.
        assert_eq!(rpl.accept(a(1), iv, s(11)), Ok(()));
        // A lower IV Index is refused whatever its SEQ.
        assert!(rpl.check(a(1), IvIndex(4), s(Seq::MAX)).is_err());
        // A higher IV Index is accepted even with a lower SEQ.
        assert_eq!(rpl.accept(a(1), IvIndex(6), s(0)), Ok(()));
        assert_eq!(
            rpl.get(a(1)),
            Some(RplEntry {
                iv_index: IvIndex(6),
                seq: s(0)
            })
        );
        assert!(rpl.check(a(1), IvIndex(5), s(100)).is_err());
        // Sources are independent.
        assert_eq!(rpl.accept(a(2), iv, s(1)), Ok(()));
        assert_eq!(rpl.len(), 2);
        // check never changes the list.
        let before = rpl.clone();
        let _ = rpl.check(a(3), iv, s(1));
        let _ = rpl.check(a(1), IvIndex(9), s(1));
        assert_eq!(rpl, before);
    }

    #[test]
    fn capacity() {
        let mut rpl = ReplayProtectionList::new(2);
        let iv = IvIndex(0);
        rpl.accept(a(1), iv, s(1)).unwrap();
        rpl.accept(a(2), iv, s(1)).unwrap();
        assert!(rpl.is_full());
        // New sources are refused; known ones keep working.
        assert_eq!(
            rpl.accept(a(3), iv, s(1)),
            Err(Replay::Full { capacity: 2 })
        );
        assert_eq!(rpl.get(a(3)), None);
        assert_eq!(rpl.accept(a(1), iv, s(2)), Ok(()));
        // Room again once a source is forgotten.
        assert!(rpl.remove(a(2)).is_some());
        assert_eq!(rpl.accept(a(3), iv, s(1)), Ok(()));
        assert!(ReplayProtectionList::new(0).check(a(1), iv, s(0)).is_err());
    }

    #[test]
    fn prune_after_iv_update() {
        let mut rpl = ReplayProtectionList::new(8);
        rpl.accept(a(1), IvIndex(3), s(1)).unwrap();
        rpl.accept(a(2), IvIndex(4), s(1)).unwrap();
        rpl.accept(a(3), IvIndex(5), s(1)).unwrap();
        assert_eq!(rpl.prune_below(IvIndex(4)), 1);
        assert_eq!(rpl.get(a(1)), None);
        assert!(rpl.get(a(2)).is_some());
        rpl.clear();
        assert!(rpl.is_empty());
    }

    #[test]
    fn serde_round_trip() {
        let mut rpl = ReplayProtectionList::new(3);
        rpl.accept(a(0x0001), IvIndex(7), s(0x01_0203)).unwrap();
        rpl.accept(a(0x7fff), IvIndex(8), s(Seq::MAX)).unwrap();
        let json = serde_json::to_string(&rpl).unwrap();
        assert_eq!(
            json,
            r#"{"capacity":3,"entries":[{"src":1,"iv_index":7,"seq":66051},{"src":32767,"iv_index":8,"seq":16777215}]}"#
        );
        let back: ReplayProtectionList = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rpl);
        // Invalid stored values are refused, not accepted silently.
        assert!(serde_json::from_str::<ReplayProtectionList>(
            r#"{"capacity":3,"entries":[{"src":32768,"iv_index":1,"seq":1}]}"#
        )
        .is_err());
        assert!(serde_json::from_str::<ReplayProtectionList>(
            r#"{"capacity":3,"entries":[{"src":1,"iv_index":1,"seq":16777216}]}"#
        )
        .is_err());
    }

    proptest! {
        /// Against a model: a message is accepted exactly when its (IV Index, SEQ) exceeds
        /// every earlier accepted one from the same source, and new sources fit the capacity.
        #[test]
        fn matches_model(
            capacity in 0usize..5,
            msgs in proptest::collection::vec((1u16..8, 0u32..3, 0u32..16), 0..64),
        ) {
            let mut rpl = ReplayProtectionList::new(capacity);
            let mut model: BTreeMap<u16, (u32, u32)> = BTreeMap::new();
            for (src, iv, seq) in msgs {
                let ok = match model.get(&src) {
                    Some(&last) => (iv, seq) > last,
                    None => model.len() < capacity,
                };
                let got = rpl.accept(a(src), IvIndex(iv), s(seq));
                prop_assert_eq!(got.is_ok(), ok);
                if ok {
                    model.insert(src, (iv, seq));
                }
                prop_assert!(rpl.len() <= capacity);
            }
        }
    }
}
