//! The Thread model fed from a `thread-home` run: nodes, roles and links as the scenario's
//! stations and air say.

use super::*;
use crate::inspect::thread::sim::ThreadSim;
use weft_radio::sim::NodeId;

fn run(seconds: u64) -> (ThreadSim, ThreadFeeder) {
    let mut sim = ThreadSim::new("thread-home", 1).unwrap();
    let mut f = ThreadFeeder::new("sim:thread-home".into(), sim.config(None, None));
    let mut t = Instant::ZERO;
    while t < Instant::from_micros(seconds * 1_000_000) {
        t += Duration::from_millis(500);
        sim.advance_to(t, &mut f);
    }
    f.publish(300);
    (sim, f)
}

/// A station: its node, RLOC16, parent, extended address, whether it is a router.
type Truth = (NodeId, Option<u16>, Option<u16>, String, bool);

#[test]
fn the_model_of_a_thread_home_run_is_the_scenarios_network() {
    let (mut sim, f) = run(60);
    let m = &f.model;
    let medium = sim.medium();
    use weft_mesh::thread::stack::Role as NodeRole;
    let (leader, partition) = medium
        .nodes()
        .find(|(_, s)| s.role() == NodeRole::Leader)
        .map(|(_, s)| {
            (
                (s.rloc16().unwrap() >> 10) as u8,
                s.node().partition().unwrap().id,
            )
        })
        .expect("a leader");
    // Every station as the frames told it: routers with their role, children under the
    // parent they attached to, each with its extended address.
    let stations: Vec<Truth> = medium
        .nodes()
        .map(|(id, s)| {
            let parent = s.node().parent_rloc16();
            let router = matches!(s.role(), NodeRole::Router | NodeRole::Leader);
            (
                id,
                s.rloc16(),
                parent,
                hex::encode(s.ext_address().0),
                router,
            )
        })
        .collect();
    let mut routers = 0;
    let mut attached = 0;
    for (_, rloc16, parent, ext, router) in &stations {
        let Some(rloc16) = rloc16 else { continue };
        let n = m
            .node(*rloc16)
            .unwrap_or_else(|| panic!("{rloc16:04x} missing from {:?}", m.nodes));
        assert_eq!(n.ext_addr.as_deref(), Some(ext.as_str()), "{n:?}");
        if *router {
            routers += 1;
            let want = if (rloc16 >> 10) as u8 == leader {
                Role::Leader
            } else {
                Role::Router
            };
            assert_eq!(n.role, want, "{n:?}");
            assert!(n.frames > 0, "{n:?}");
        } else {
            attached += 1;
            assert_eq!(n.role, Role::Child);
            assert_eq!(n.parent, *parent, "{n:?}");
        }
    }
    assert_eq!(routers, 5);
    assert_eq!(
        attached, 10,
        "every child attaches within a minute with seed 1"
    );
    // Beyond the stations: the child RLOC16s that router-eligible nodes held before they
    // became routers (the leader announced them in Child ID Responses; those children never
    // sent a frame as such).
    let current: Vec<u16> = stations.iter().filter_map(|s| s.1).collect();
    let stale: Vec<&ThreadNode> = m
        .nodes
        .iter()
        .filter(|n| !current.contains(&n.rloc16))
        .collect();
    assert_eq!(m.nodes.len(), 15 + stale.len(), "{:?}", m.nodes);
    assert!(stale.len() <= 4, "{stale:?}");
    assert!(
        stale.iter().all(|n| n.role == Role::Child && n.frames == 0),
        "{stale:?}"
    );
    assert_eq!(m.stats.leader_router_id, Some(leader));
    assert_eq!(
        m.stats.partition_id.as_deref(),
        Some(format!("{partition:08x}").as_str())
    );
    // Links: only between routers that hear each other on the air, both ways; and every
    // router has one.
    let by_rloc: BTreeMap<u16, NodeId> = stations
        .iter()
        .filter_map(|(id, r, ..)| r.map(|r| (r, *id)))
        .collect();
    let mut links = 0;
    for n in m.nodes.iter().filter(|n| n.role != Role::Child) {
        assert!(!n.links.is_empty(), "{n:?}");
        for l in &n.links {
            let other = weft_mesh::thread::topology::router_rloc16(l.router_id);
            let hears = sim
                .medium()
                .neighbours(by_rloc[&n.rloc16])
                .iter()
                .any(|(id, _)| *id == by_rloc[&other]);
            assert!(
                hears,
                "{:04x} reports {other:04x}, which it cannot hear",
                n.rloc16
            );
            assert!((1..=3).contains(&l.lq_in) && (1..=3).contains(&l.lq_out));
            links += 1;
        }
    }
    // The graph: one node per RLOC16, an edge per router link and per child.
    assert_eq!(m.topology.node_count(), 15 + stale.len());
    assert_eq!(m.edges.len(), links / 2 + 10 + stale.len(), "{:?}", m.edges);
    // Traffic: MLE decoded, nothing failed.
    assert!(m.stats.mle > 20, "{:?}", m.stats);
    assert!(m.stats.decrypted > 0, "{:?}", m.stats);
    assert!(m.stats.errors.is_empty(), "{:?}", m.stats.errors);
    assert!(
        m.stats.mle_commands.contains_key("advertisement"),
        "{:?}",
        m.stats
    );
    assert!(
        m.stats.mle_commands.contains_key("child id response"),
        "{:?}",
        m.stats
    );
}

#[test]
fn filters_count_frames_of_other_pans_and_channels() {
    let mut sim = ThreadSim::new("thread-home", 1).unwrap();
    let mut other_pan = ThreadFeeder::new("x".into(), sim.config(None, Some(0x1234)));
    let mut other_channel = ThreadFeeder::new("x".into(), sim.config(Some(20), None));
    let mut t = Instant::ZERO;
    while t < Instant::from_micros(10_000_000) {
        t += Duration::from_millis(500);
        sim.advance_to(t, &mut other_pan);
    }
    let mut sim = ThreadSim::new("thread-home", 1).unwrap();
    let mut t = Instant::ZERO;
    while t < Instant::from_micros(10_000_000) {
        t += Duration::from_millis(500);
        sim.advance_to(t, &mut other_channel);
    }
    other_pan.publish(10);
    other_channel.publish(10);
    let s = &other_pan.model.stats;
    // Acks carry no PAN: only they pass a filter on another PAN.
    assert!(s.other_pan > 0 && s.decoded == s.acks, "{s:?}");
    assert!(other_pan.model.nodes.is_empty());
    let s = &other_channel.model.stats;
    assert_eq!((s.other_channel, s.decoded), (s.frames, 0), "{s:?}");
    assert!(other_channel.model.traffic.is_empty());
}

#[test]
fn without_the_key_frames_are_shown_at_the_mac_level() {
    let mut sim = ThreadSim::new("thread-home", 1).unwrap();
    let mut c = sim.config(None, None);
    c.key = None;
    let mut f = ThreadFeeder::new("x".into(), c);
    let mut t = Instant::ZERO;
    while t < Instant::from_micros(40_000_000) {
        t += Duration::from_millis(500);
        sim.advance_to(t, &mut f);
    }
    f.publish(10);
    let s = &f.model.stats;
    assert!(s.no_key > 0 && s.decrypted == 0, "{s:?}");
    assert!(!s.errors.contains_key("MIC failed"), "{:?}", s.errors);
    assert!(f.model.traffic.iter().any(|e| e.no_key));
    // The routers' RLOC16s still say who routes.
    assert!(
        f.model.nodes.iter().any(|n| n.role == Role::Router),
        "{:?}",
        f.model.nodes
    );
}

#[test]
fn the_traffic_filter_finds_mle_by_the_words_the_traffic_line_shows() {
    use crate::inspect::ui::{thread_matches, Filter};
    let (_, f) = run(30);
    let count = |text: &str| {
        let filter = Filter::parse(text).unwrap();
        f.model
            .traffic
            .iter()
            .filter(|e| thread_matches(&filter, e))
            .count()
    };
    let mle = f
        .model
        .traffic
        .iter()
        .filter(|e| e.view.mle.is_some())
        .count();
    assert!(mle > 0);
    assert_eq!(count("mle"), mle);
    assert_eq!(count("MLE"), mle);
    let adv = count("mle adv");
    assert!(adv > 0 && adv < mle, "{adv} of {mle}");
    assert_eq!(count("no-such-words"), 0);
}
