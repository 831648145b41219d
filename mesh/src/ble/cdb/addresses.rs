//! The address policy of the database: addresses excluded from reuse (CDB 1.0.1
//! `networkExclusions`), the unicast address of a new node, and the ranges of a new provisioner.

use core::fmt;

use super::{Cdb, CdbExclusion, CdbNode, CdbProvisioner, CdbRange, CdbSceneRange, Hex16};

/// Why an address cannot go to a new node ([`Cdb::address_in_use`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressInUse {
    /// A node's elements hold it.
    Node {
        /// The node's primary address.
        primary: u16,
        /// How many elements (hence addresses) the node has.
        elements: u16,
        /// The node's name, if it has one.
        name: Option<String>,
    },
    /// It belonged to a node that was removed and is excluded from reuse (CDB 1.0.1
    /// `networkExclusions`) until the IV index moves on.
    Excluded(u16),
}

impl fmt::Display for AddressInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressInUse::Node {
                primary,
                elements,
                name,
            } => {
                write!(f, "node {primary:04X}")?;
                if let Some(n) = name {
                    write!(f, " ({n})")?;
                }
                if *elements > 1 {
                    let last = u32::from(*primary) + u32::from(*elements) - 1;
                    write!(
                        f,
                        ", whose {elements} elements hold {primary:04X}-{last:04X}"
                    )?;
                }
                Ok(())
            }
            AddressInUse::Excluded(a) => write!(
                f,
                "the network's exclusion list ({a:04X} belonged to a removed node)"
            ),
        }
    }
}

impl Cdb {
    /// Removes the node whose primary address is `primary` (after a Config Node Reset, MshPRT
    /// §4.3.2.53) and excludes its addresses from reuse (CDB 1.0.1 `networkExclusions`: not
    /// before the IV index passes `iv_index + 1`, so a node keeping an old RPL entry for them
    /// cannot reject a newcomer's messages as replays). Returns the node removed.
    pub fn remove_node(&mut self, primary: u16, iv_index: u32) -> Option<CdbNode> {
        let i = self
            .nodes
            .iter()
            .position(|n| n.unicast_address.0 == primary)?;
        let node = self.nodes.remove(i);
        let count = node.elements.len().max(1) as u16;
        self.exclude((0..count).map(|k| primary.saturating_add(k)), iv_index);
        Some(node)
    }

    /// Excludes `addresses` from reuse, from IV index `iv_index` on (CDB 1.0.1
    /// `networkExclusions`).
    pub fn exclude(&mut self, addresses: impl IntoIterator<Item = u16>, iv_index: u32) {
        let addresses = addresses.into_iter().map(Hex16);
        match self
            .network_exclusions
            .iter_mut()
            .find(|e| e.iv_index == iv_index)
        {
            Some(e) => e.addresses.extend(addresses),
            None => self.network_exclusions.push(CdbExclusion {
                iv_index,
                addresses: addresses.collect(),
            }),
        }
    }

    /// Whether `addr` is excluded from reuse at IV index `iv_index` (CDB 1.0.1: an exclusion
    /// made at IV index I holds while the IV index is at most I + 1).
    pub fn is_excluded(&self, addr: u16, iv_index: u32) -> bool {
        self.excluded(iv_index).any(|a| a == addr)
    }

    /// The unicast address for a new node of `elements` elements: after every node's last
    /// element and every address excluded at IV index `iv_index` (MshPRT §3.4.2.2: a node's
    /// elements take consecutive addresses); `None` when the unicast range (up to 0x7FFF) is
    /// used up.
    pub fn next_unicast(&self, elements: u16, iv_index: u32) -> Option<u16> {
        let after_nodes = self.nodes.iter().map(|n| {
            let count = n.elements.len().max(1) as u16;
            n.unicast_address.0.saturating_add(count)
        });
        let after_excluded = self.excluded(iv_index).map(|a| a.saturating_add(1));
        let next = after_nodes.chain(after_excluded).fold(0x0001, u16::max);
        (next.checked_add(elements)? <= 0x8000).then_some(next)
    }

    /// What already holds one of the `count` addresses from `first` (a node's element, or an
    /// address excluded at IV index `iv_index`), if anything: a new node must not be given it
    /// (MshPRT §3.4.2.2: each element has its own unicast address).
    pub fn address_in_use(&self, first: u16, count: u16, iv_index: u32) -> Option<AddressInUse> {
        let last = u32::from(first) + u32::from(count.max(1)) - 1;
        let overlaps = |lo: u16, n: usize| {
            let hi = u32::from(lo) + n.max(1) as u32 - 1;
            u32::from(lo) <= last && u32::from(first) <= hi
        };
        if let Some(n) = self
            .nodes
            .iter()
            .find(|n| overlaps(n.unicast_address.0, n.elements.len()))
        {
            return Some(AddressInUse::Node {
                primary: n.unicast_address.0,
                elements: n.elements.len().max(1) as u16,
                name: n.name.clone(),
            });
        }
        self.excluded(iv_index)
            .find(|&a| overlaps(a, 1))
            .map(AddressInUse::Excluded)
    }

    /// The addresses excluded from reuse at IV index `iv_index`.
    pub fn excluded(&self, iv_index: u32) -> impl Iterator<Item = u16> + '_ {
        self.network_exclusions
            .iter()
            .filter(move |e| iv_index <= e.iv_index.saturating_add(1))
            .flat_map(|e| e.addresses.iter().map(|a| a.0))
    }

    /// The first block of up to `size` unicast addresses (0001..7FFF, MshPRT §3.4.2.2) that
    /// overlaps no provisioner's allocated unicast range and no node's elements: the unicast
    /// range of a new provisioner.
    pub fn free_unicast_block(&self, size: u16) -> Option<(u16, u16)> {
        let mut taken = self.allocated(|p| &p.allocated_unicast_range[..], CdbRange::bounds);
        taken.extend(self.nodes.iter().map(node_span));
        free_block(&taken, 0x0001, 0x7FFF, size)
    }

    /// The first block of up to `size` group addresses (C000..FEFF, MshPRT §3.4.2.4) that
    /// overlaps no provisioner's allocated group range.
    pub fn free_group_block(&self, size: u16) -> Option<(u16, u16)> {
        let groups = self.allocated(|p| &p.allocated_group_range[..], CdbRange::bounds);
        free_block(&groups, 0xC000, 0xFEFF, size)
    }

    /// The first block of up to `size` scene numbers (0001..FFFF, MshMDL §5.1.3.1) that
    /// overlaps no provisioner's allocated scene range.
    pub fn free_scene_block(&self, size: u16) -> Option<(u16, u16)> {
        let scenes = self.allocated(
            |p| &p.allocated_scene_range[..],
            |r: &CdbSceneRange| (r.first_scene.0, r.last_scene.0),
        );
        free_block(&scenes, 0x0001, 0xFFFF, size)
    }

    /// Every provisioner's ranges of one kind (`ranges`), first and last value each.
    fn allocated<'a, R: 'a>(
        &'a self,
        ranges: impl Fn(&'a CdbProvisioner) -> &'a [R],
        bounds: impl Fn(&R) -> (u16, u16),
    ) -> Vec<(u16, u16)> {
        self.provisioners
            .iter()
            .flat_map(ranges)
            .map(bounds)
            .collect()
    }

    /// When other provisioners hold every unicast address (BlueZ's mesh-cfgclient allocates
    /// 0001-7FFF to itself), takes the upper half of the unused top of the roomiest range, up to
    /// `size` addresses, and shrinks that range so that ranges never overlap.
    pub fn shrink_for_block(&mut self, size: u16) -> Option<(u16, u16)> {
        let node_spans: Vec<(u16, u16)> = self.nodes.iter().map(node_span).collect();
        let (mut best, mut room) = (None, 0u16);
        for (pi, p) in self.provisioners.iter().enumerate() {
            for (ri, r) in p.allocated_unicast_range.iter().enumerate() {
                let (lo, hi) = (r.low_address.0, r.high_address.0);
                let used_top = node_spans
                    .iter()
                    .filter(|(a, b)| *a <= hi && lo <= *b)
                    .map(|(_, b)| *b)
                    .max()
                    .unwrap_or(lo.saturating_sub(1));
                let free = hi.saturating_sub(used_top);
                if free > room {
                    (best, room) = (Some((pi, ri)), free);
                }
            }
        }
        let (pi, ri) = best?;
        let take = (room / 2).min(size);
        if take == 0 {
            return None;
        }
        let r = &mut self.provisioners[pi].allocated_unicast_range[ri];
        let hi = r.high_address.0;
        let lo = hi - take + 1;
        r.high_address = Hex16(lo - 1);
        Some((lo, hi))
    }

    /// The first address of `ranges`, other than `except`, that no node's element holds and
    /// that is not excluded at IV index `iv_index`: where a node of the range's provisioner can
    /// move to.
    pub fn free_unicast_in(&self, ranges: &[CdbRange], except: u16, iv_index: u32) -> Option<u16> {
        ranges
            .iter()
            .flat_map(|r| r.low_address.0..=r.high_address.0)
            .find(|&a| {
                a != except && self.node_by_address(a).is_none() && !self.is_excluded(a, iv_index)
            })
    }
}

impl CdbRange {
    /// The first and last address.
    fn bounds(&self) -> (u16, u16) {
        (self.low_address.0, self.high_address.0)
    }
}

/// The addresses a node's elements hold, first and last (one for a node with no element
/// recorded).
fn node_span(n: &CdbNode) -> (u16, u16) {
    let lo = n.unicast_address.0;
    (lo, lo.saturating_add(n.elements.len().max(1) as u16 - 1))
}

/// The first block of up to `size` values in `lo..=hi` that overlaps none of `taken`.
pub(super) fn free_block(taken: &[(u16, u16)], lo: u16, hi: u16, size: u16) -> Option<(u16, u16)> {
    let mut start = u32::from(lo);
    while start <= u32::from(hi) {
        let end = (start + u32::from(size) - 1).min(u32::from(hi));
        match taken
            .iter()
            .filter(|(a, b)| u32::from(*a) <= end && start <= u32::from(*b))
            .map(|(_, b)| u32::from(*b))
            .max()
        {
            None => return Some((start as u16, end as u16)),
            Some(b) => start = b + 1,
        }
    }
    None
}
