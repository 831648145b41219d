//! Advertiser addresses: each node of the medium transmits with a random static address (Core
//! v5.4 Vol 6 Part B §1.3.2.1), stable per node, and every frame it delivers carries its
//! transmitter's ([`weft_mesh::RxFrame::adv_address`]), so a receiver tells transmitters apart
//! as a real scanner does by AdvA: a relayed PDU comes with the relay's address.

use super::{NodeId, Simulator};
use weft_mesh::Station;

/// The random static address of `node` in a medium seeded with `seed`, least significant octet
/// first; `generation` gives a node slot that serves a new device (the live hub reuses slots) a
/// new address. A pure function: it draws nothing from the medium's generator.
pub fn adv_address(seed: u64, node: NodeId, generation: u32) -> [u8; 6] {
    // SplitMix64 (Steele, Lea, Flood 2014) over the three inputs.
    let mut z =
        seed ^ (u64::from(node.0) << 16) ^ (u64::from(generation) << 48) ^ 0x6164_7641_5f77_6674;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let mut a = [0u8; 6];
    a.copy_from_slice(&z.to_le_bytes()[..6]);
    random_static(a)
}

/// `a` (least significant octet first) made a random static address (Core v5.4 Vol 6 Part B
/// §1.3.2.1): the two most significant bits are 1, and of the 46 random bits at least one is 0
/// and one is 1.
pub fn random_static(mut a: [u8; 6]) -> [u8; 6] {
    a[5] |= 0xc0;
    let random = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5] & 0x3f, 0, 0]);
    if random == 0 || random == (1 << 46) - 1 {
        a[0] ^= 1;
    }
    a
}

impl<S: Station> Simulator<S> {
    /// The advertiser address `id` transmits with. Panics if `id` is not a node.
    pub fn adv_address(&self, id: NodeId) -> [u8; 6] {
        self.states[id.index()].adv_address
    }

    /// Gives `id` another advertiser address (a new device in a reused slot). Panics if `id`
    /// is not a node.
    pub fn set_adv_address(&mut self, id: NodeId, address: [u8; 6]) {
        self.states[id.index()].adv_address = address;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn addresses_are_random_static_stable_and_distinct() {
        let mut seen = HashSet::new();
        for seed in [0, 1, u64::MAX] {
            for n in 0..2000 {
                for g in [0, 1, u32::MAX] {
                    let a = adv_address(seed, NodeId(n), g);
                    assert_eq!(a, adv_address(seed, NodeId(n), g));
                    assert_eq!(a[5] & 0xc0, 0xc0, "{a:02x?}");
                    let r = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5] & 0x3f, 0, 0]);
                    assert!(r != 0 && r != (1 << 46) - 1);
                    assert!(seen.insert(a), "{seed} {n} {g}: {a:02x?} twice");
                }
            }
        }
    }
}
