//! Who transmitted a frame heard on the live air, from its advertiser address (AdvA).
//!
//! A scanner sees the address of the radio that sent a frame, not the node whose network PDU it
//! carries: a relayed PDU comes with the relay's AdvA. Which node an AdvA belongs to is learnt
//! from the PDUs themselves, using only what the network layer guarantees:
//!
//! - a relay retransmits a PDU with its TTL lowered by one (MshPRT §3.4.6.3), and a node never
//!   relays its own PDUs, so of all the copies of one PDU (its SRC and SEQ) the originator's
//!   has the highest TTL, alone;
//! - an AdvA whose copy of a PDU is the highest heard, alone, *claims* the PDU's source node;
//!   a copy with a higher TTL from another AdvA, or one with the same TTL (no relay can match
//!   the originator's TTL), withdraws the claim;
//! - an AdvA belongs to node N when, over the recent PDUs, it claims N and no other node; it
//!   stops belonging to N when a withdrawn claim was its evidence, or when it claims another
//!   node too (and then belongs to none). A node has one AdvA at a time: a new one for N (a
//!   process restarted) replaces the old.
//!
//! A relay's copy whose TTL is one below the originator's own copy was heard by the relay from
//! the originator: the one node-to-node link the inspector can draw without guessing.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// How many recent PDUs (source, sequence number) are remembered with their best copy.
const RECENT: usize = 1024;
/// How many AdvAs are remembered as a node's at most (the oldest learnt goes first).
const KNOWN: usize = 4096;

/// An advertiser address, least significant octet first.
pub type AdvA = [u8; 6];

/// What one frame tells about its transmitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heard {
    /// The node whose radio sent it, when its AdvA is known.
    pub transmitter: Option<u16>,
    /// When the frame is a relay's copy of a PDU heard from its originator at one TTL more:
    /// the originator, which the relay therefore heard.
    pub heard_from: Option<u16>,
}

/// The highest-TTL copy heard of one PDU.
#[derive(Debug, Clone, Copy)]
struct Best {
    ttl: u8,
    /// Who carried it, alone; `None` when two AdvAs carried it at that TTL.
    adv: Option<AdvA>,
    /// The PDU's source node.
    node: u16,
}

/// AdvAs and the nodes they belong to, learnt from the PDUs heard.
#[derive(Debug, Default)]
pub struct Transmitters {
    recent: HashMap<(u16, u32), Best>,
    order: VecDeque<(u16, u32)>,
    /// Per AdvA, per node: the recent PDUs it claims.
    claims: HashMap<AdvA, BTreeMap<u16, u32>>,
    /// AdvA → node, and node → AdvA.
    known: HashMap<AdvA, u16>,
    by_node: HashMap<u16, AdvA>,
    known_order: VecDeque<AdvA>,
}

impl Transmitters {
    pub fn new() -> Self {
        Self::default()
    }

    /// The node `adv` belongs to, if known.
    pub fn node_of(&self, adv: &AdvA) -> Option<u16> {
        self.known.get(adv).copied()
    }

    /// A network PDU of source `src` (as a node: its primary address), sequence number `seq`
    /// and TTL `ttl`, heard from `adv`.
    pub fn observe(&mut self, adv: AdvA, src: u16, seq: u32, ttl: u8) -> Heard {
        let key = (src, seq);
        let mut heard_from = None;
        match self.recent.get(&key).copied() {
            None => {
                self.remember(
                    key,
                    Best {
                        ttl,
                        adv: Some(adv),
                        node: src,
                    },
                );
                self.claim(adv, src);
            }
            Some(best) if best.adv == Some(adv) => {} // the same transmitter again
            Some(best) if ttl > best.ttl => {
                // Closer to the originator: the copy taken for the best was a relay's.
                if let Some(old) = best.adv {
                    self.withdraw(old, src);
                }
                self.recent.insert(
                    key,
                    Best {
                        ttl,
                        adv: Some(adv),
                        ..best
                    },
                );
                self.claim(adv, src);
            }
            Some(best) if ttl == best.ttl => {
                // Two transmitters at one TTL: neither is the originator.
                if let Some(old) = best.adv {
                    self.withdraw(old, src);
                    self.recent.insert(key, Best { adv: None, ..best });
                }
            }
            Some(best) => {
                // A relay's copy. Heard from the originator when one hop below its own copy.
                let origin = best.adv.and_then(|a| self.node_of(&a));
                if ttl.checked_add(1) == Some(best.ttl) && origin == Some(src) {
                    heard_from = Some(src);
                }
            }
        }
        let transmitter = self.node_of(&adv);
        Heard {
            transmitter,
            heard_from: heard_from.filter(|&o| transmitter.is_some_and(|t| t != o)),
        }
    }

    fn remember(&mut self, key: (u16, u32), best: Best) {
        self.recent.insert(key, best);
        self.order.push_back(key);
        if self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                // Aged out: the claim it made stops counting, what it taught stays.
                if let Some(b) = self.recent.remove(&old) {
                    if let Some(a) = b.adv {
                        self.uncount(a, b.node);
                    }
                }
            }
        }
    }

    fn claim(&mut self, adv: AdvA, node: u16) {
        *self.claims.entry(adv).or_default().entry(node).or_insert(0) += 1;
        self.settle(adv);
    }

    /// A claim shown wrong: it no longer counts, and the AdvA is no longer taken for `node`
    /// unless other PDUs still say so.
    fn withdraw(&mut self, adv: AdvA, node: u16) {
        self.uncount(adv, node);
        let still = self.claims.get(&adv).is_some_and(|c| c.contains_key(&node));
        if !still && self.known.get(&adv) == Some(&node) {
            self.forget(&adv);
        }
        self.settle(adv);
    }

    fn uncount(&mut self, adv: AdvA, node: u16) {
        if let Some(c) = self.claims.get_mut(&adv) {
            if let Some(n) = c.get_mut(&node) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.remove(&node);
                }
            }
            if c.is_empty() {
                self.claims.remove(&adv);
            }
        }
    }

    /// What `adv`'s claims now say: one node, it is that node's; two or more, nobody's.
    fn settle(&mut self, adv: AdvA) {
        let Some(c) = self.claims.get(&adv) else {
            return;
        };
        let mut nodes = c.keys();
        match (nodes.next().copied(), nodes.next()) {
            (Some(node), None) if self.known.get(&adv) != Some(&node) => self.learn(adv, node),
            (Some(_), Some(_)) => self.forget(&adv),
            _ => {}
        }
    }

    fn learn(&mut self, adv: AdvA, node: u16) {
        self.forget(&adv);
        if let Some(old) = self.by_node.get(&node).copied() {
            self.forget(&old);
        }
        self.known.insert(adv, node);
        self.by_node.insert(node, adv);
        self.known_order.push_back(adv);
        while self.known.len() > KNOWN {
            let Some(a) = self.known_order.pop_front() else {
                break;
            };
            self.forget(&a);
        }
        // Each AdvA is in the order at most as often as it was learnt; keep it short.
        if self.known_order.len() > 2 * KNOWN {
            let known = &self.known;
            self.known_order.retain(|a| known.contains_key(a));
        }
    }

    fn forget(&mut self, adv: &AdvA) {
        if let Some(node) = self.known.remove(adv) {
            if self.by_node.get(&node) == Some(adv) {
                self.by_node.remove(&node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: AdvA = [1, 0, 0, 0, 0, 0xc0];
    const R: AdvA = [2, 0, 0, 0, 0, 0xc0];
    const Q: AdvA = [3, 0, 0, 0, 0, 0xc0];

    #[test]
    fn the_originator_and_its_relay_are_told_apart() {
        let mut t = Transmitters::new();
        // The relay's own PDU, then the source's and the relay's copy of it, one TTL lower.
        assert_eq!(t.observe(R, 0x0200, 1, 5).transmitter, Some(0x0200));
        let h = t.observe(S, 0x0100, 7, 5);
        assert_eq!(
            h,
            Heard {
                transmitter: Some(0x0100),
                heard_from: None
            }
        );
        let h = t.observe(R, 0x0100, 7, 4);
        assert_eq!(
            h,
            Heard {
                transmitter: Some(0x0200),
                heard_from: Some(0x0100)
            }
        );
        // Retransmissions say nothing new.
        assert_eq!(t.observe(S, 0x0100, 7, 5).transmitter, Some(0x0100));
        assert_eq!(t.node_of(&S), Some(0x0100));
        assert_eq!(t.node_of(&R), Some(0x0200));
    }

    #[test]
    fn a_relay_heard_first_is_corrected_by_the_originator() {
        let mut t = Transmitters::new();
        // The source's copy was missed; the relay's came first and is taken for the source's.
        assert_eq!(t.observe(R, 0x0100, 7, 4).transmitter, Some(0x0100));
        // The source's own copy, one TTL higher: the relay's claim is withdrawn.
        assert_eq!(t.observe(S, 0x0100, 7, 5).transmitter, Some(0x0100));
        assert_eq!(t.node_of(&R), None);
        assert_eq!(t.node_of(&S), Some(0x0100));
        // The relay's own PDU names it.
        assert_eq!(t.observe(R, 0x0200, 1, 5).transmitter, Some(0x0200));
    }

    #[test]
    fn equal_ttls_from_two_radios_name_neither() {
        let mut t = Transmitters::new();
        assert_eq!(t.observe(R, 0x0100, 7, 4).transmitter, Some(0x0100));
        let h = t.observe(Q, 0x0100, 7, 4);
        assert_eq!(h.transmitter, None);
        assert_eq!(t.node_of(&R), None);
    }

    #[test]
    fn an_adva_claiming_two_nodes_is_nobodys_and_a_node_has_one_adva() {
        let mut t = Transmitters::new();
        t.observe(R, 0x0200, 1, 5);
        // A first copy of another node's PDU from the same radio: ambiguous.
        t.observe(R, 0x0100, 9, 3);
        assert_eq!(t.node_of(&R), None);
        // The node comes back with a new address: the old one is forgotten.
        let mut t = Transmitters::new();
        t.observe(S, 0x0100, 1, 5);
        t.observe(Q, 0x0100, 2, 5);
        assert_eq!(t.node_of(&Q), Some(0x0100));
        assert_eq!(t.node_of(&S), None);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut t = Transmitters::new();
        for i in 0..20_000u32 {
            let a = i.to_le_bytes();
            t.observe(
                [a[0], a[1], a[2], a[3], 0, 0xc0],
                (i % 30_000) as u16 + 1,
                i,
                5,
            );
        }
        assert!(t.recent.len() <= RECENT && t.order.len() <= RECENT);
        assert!(t.known.len() <= KNOWN && t.by_node.len() <= KNOWN);
        assert!(t.known_order.len() <= 2 * KNOWN + 1);
        assert!(t.claims.len() <= RECENT);
    }
}
