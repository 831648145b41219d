//! A sleepy child's queue, a restart, a node with the wrong network key.

use std::net::SocketAddrV6;

use super::medium::{creds, Medium};
use super::network::{children_consistent, med, secs, summary};
use crate::thread::mac::Address;
use crate::thread::radio::Ieee802154Station;
use crate::thread::stack::{Config, Role};
use crate::time::{Duration, Instant};

fn sleepy() -> Config {
    Config {
        router_eligible: false,
        rx_on_when_idle: false,
        poll_period: Duration::from_secs(5),
        ..Config::default()
    }
}

#[test]
fn a_sleepy_child_receives_what_was_queued_for_it() {
    sleepy_child_queue(0);
}

#[test]
fn a_sleepy_child_receives_what_was_queued_for_it_at_ten_percent_loss() {
    for seed in 1..=10 {
        sleepy_child_queue(seed);
    }
}

fn sleepy_child_queue(seed: u64) {
    let loss = if seed == 0 { 0 } else { 100_000 };
    let mut m = Medium::new(6 + seed, loss);
    let l = m.add(creds(), Config::default(), 1, Instant::ZERO);
    let s = m.add(creds(), sleepy(), 2, secs(10));
    m.full_mesh(-60);
    m.run_until(secs(30));
    assert_eq!(m.nodes[s].role(), Role::Child);
    assert!(!m.nodes[s].receiver_on(), "asleep between polls");
    m.nodes[s].bind_udp(5683).unwrap();
    let dst = m.nodes[s].addresses().rloc().unwrap();
    let ext = m.nodes[s].ext_address();
    for k in 0..3u8 {
        let now = m.now;
        m.nodes[l].send_udp(now, 5683, SocketAddrV6::new(dst, 5683, 0, 0), &[k]);
    }
    assert!(
        m.nodes[l].frame_pending(&Address::Extended(ext)),
        "held for the child"
    );
    m.run_for(Duration::from_secs(12));
    let got: Vec<u8> = std::iter::from_fn(|| m.nodes[s].recv_udp(5683))
        .map(|d| d.payload[0])
        .collect();
    assert_eq!(
        got,
        vec![0, 1, 2],
        "seed {seed}: {:?} {:?} {:?} {:?}",
        m.nodes[s].counters(),
        m.nodes[l].counters(),
        m.nodes[s].poller.stats(),
        m.nodes[l].indirect.stats()
    );
    assert!(!m.nodes[l].frame_pending(&Address::Extended(ext)));
    // Keep-alives through the indirect queue keep it attached.
    m.run_until(secs(1000));
    assert_eq!(
        m.nodes[s].role(),
        Role::Child,
        "{:?}",
        m.nodes[s].counters()
    );
    assert!(children_consistent(&m));
}

#[test]
fn a_restarted_node_never_reuses_a_frame_counter() {
    let mut m = Medium::new(7, 0);
    let l = m.add(creds(), Config::default(), 1, Instant::ZERO);
    let c = m.add(creds(), med(), 2, secs(10));
    m.full_mesh(-60);
    m.run_until(secs(30));
    assert_eq!(m.nodes[c].role(), Role::Child);
    let dst = m.nodes[l].addresses().rloc().unwrap();
    // Enough traffic to cross several reservation blocks.
    for k in 0..1500u16 {
        let now = m.now;
        m.nodes[c].send_udp(
            now,
            5683,
            SocketAddrV6::new(dst, 5683, 0, 0),
            &k.to_be_bytes(),
        );
        m.run_for(Duration::from_millis(20));
    }
    let before = m.nodes[c].frame_counters();
    assert!(
        before.next_mac >= 1500,
        "{before:?} {:?}",
        m.nodes[c].counters()
    );
    m.restart(c);
    let after = m.nodes[c].frame_counters();
    assert!(after.next_mac >= before.next_mac && after.next_mle >= before.next_mle);
    m.run_for(Duration::from_secs(30));
    assert_eq!(m.nodes[c].role(), Role::Child);
    assert_eq!(m.nodes[l].count_of("rx: MAC frame counter replayed"), 0);
    assert_eq!(m.nodes[l].count_of("mle: frame counter replayed"), 0);
}

#[test]
fn a_node_with_the_wrong_network_key_is_never_attached_and_its_frames_are_counted() {
    let mut m = Medium::new(8, 0);
    for i in 0..3 {
        m.add(creds(), Config::default(), 10 + i, secs(3 * i));
    }
    let mut bad = creds();
    bad.network_key[0] ^= 1;
    let w = m.add(bad.clone(), Config::default(), 20, secs(1));
    let e = m.add(bad, med(), 21, secs(40));
    m.full_mesh(-60);
    m.run_until(secs(400));
    let good = m.nodes[0].partition().unwrap().id;
    assert!(m.nodes[..3]
        .iter()
        .all(|n| n.partition().map(|p| p.id) == Some(good)));
    assert_ne!(m.nodes[w].partition().map(|p| p.id), Some(good));
    let strangers = [m.nodes[w].ext_address(), m.nodes[e].ext_address()];
    for n in &m.nodes[..3] {
        assert!(n.children().iter().all(|(x, _)| !strangers.contains(x)));
        assert!(
            n.count_of("mle: authentication failed") > 0,
            "{:?}",
            n.counters()
        );
    }
    // The wrong-key end device attached only to the wrong-key leader.
    assert_eq!(m.nodes[e].parent_rloc16(), m.nodes[w].rloc16());
    let (parts, _, _) = summary(&m);
    assert_eq!(parts.len(), 2);
}
