//! Exclusions, the address of a new node and the ranges of a new provisioner.

use crate::ble::address::{IvIndex, UnicastAddress};
use crate::ble::cdb::addresses::free_block;
use crate::ble::cdb::{AddressInUse, Cdb, CdbNode, Uuid};
use crate::ble::node::state::ElementState;

#[test]
fn a_removed_node_leaves_its_addresses_excluded_for_two_iv_indexes() {
    let mut c = Cdb::new([1; 16], "n", "2026-01-01T00:00:00Z");
    let mut st = crate::ble::node::NodeState::new(
        [2; 16],
        UnicastAddress::new(0x0010).unwrap(),
        [3; 16],
        [4; 16],
        IvIndex(5),
        vec![
            ElementState {
                location: 0,
                models: Vec::new(),
            };
            2
        ],
    );
    st.beacon = false;
    c.nodes.push(CdbNode::from_node_state(&st, None));
    assert!(c.remove_node(0x0011, 5).is_none(), "not a primary address");
    let gone = c.remove_node(0x0010, 5).expect("removed");
    assert_eq!(gone.uuid, Uuid([2; 16]));
    assert!(c.nodes.is_empty());
    for a in [0x0010, 0x0011] {
        assert!(c.is_excluded(a, 5) && c.is_excluded(a, 6), "{a:04x}");
        assert!(!c.is_excluded(a, 7));
    }
    assert!(!c.is_excluded(0x0012, 5));
    // A new node goes after the excluded addresses while they are excluded.
    assert_eq!(c.next_unicast(1, 5), Some(0x0012));
    assert_eq!(c.next_unicast(1, 7), Some(0x0001));
    assert_eq!(c.next_unicast(0x8000, 5), None);
    c.validate().unwrap();
}

#[test]
fn an_address_held_by_any_element_or_an_exclusion_is_in_use() {
    let mut c = Cdb::new([1; 16], "n", "2026-01-01T00:00:00Z");
    let element = ElementState {
        location: 0,
        models: Vec::new(),
    };
    let st = crate::ble::node::NodeState::new(
        [2; 16],
        UnicastAddress::new(0x0010).unwrap(),
        [3; 16],
        [4; 16],
        IvIndex(5),
        vec![element.clone(); 3],
    );
    c.nodes.push(CdbNode::from_node_state(&st, None));
    let holder = AddressInUse::Node {
        primary: 0x0010,
        elements: 3,
        name: None,
    };
    // 0010-0012 belong to the node: a new node may touch none of them.
    for (first, count) in [(0x0010, 1), (0x0012, 1), (0x000e, 3), (0x0011, 5)] {
        assert_eq!(c.address_in_use(first, count, 5), Some(holder.clone()));
    }
    for (first, count) in [(0x000d, 3), (0x0013, 1), (0x7fff, 1)] {
        assert_eq!(
            c.address_in_use(first, count, 5),
            None,
            "{first:04x}+{count}"
        );
    }
    assert_eq!(
        holder.to_string(),
        "node 0010, whose 3 elements hold 0010-0012"
    );
    c.remove_node(0x0010, 5).unwrap();
    assert_eq!(
        c.address_in_use(0x0011, 1, 6),
        Some(AddressInUse::Excluded(0x0011))
    );
    assert_eq!(c.address_in_use(0x0011, 1, 7), None, "the exclusion lapsed");
}

#[test]
fn free_blocks() {
    assert_eq!(free_block(&[], 1, 0x7FFF, 0x2000), Some((1, 0x2000)));
    assert_eq!(
        free_block(&[(1, 0x199A)], 1, 0x7FFF, 0x2000),
        Some((0x199B, 0x399A))
    );
    assert_eq!(
        free_block(&[(1, 0x7FF0)], 1, 0x7FFF, 0x2000),
        Some((0x7FF1, 0x7FFF))
    );
    assert_eq!(free_block(&[(1, 0x7FFF)], 1, 0x7FFF, 0x2000), None);
}
