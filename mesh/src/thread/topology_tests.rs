use super::*;
use crate::thread::sniff::tests::scenario::*;
use crate::thread::sniff::Fcs;

fn t(s: u64) -> Instant {
    Instant::from_micros(s * 1_000_000)
}

/// Feeds the scenario's frames in order, each a second after the previous.
fn learn(frames: &[Vec<u8>]) -> ThreadTopology {
    let mut s = sniffer();
    let mut topo = ThreadTopology::new();
    for (i, f) in frames.iter().enumerate() {
        let d = s.decode(t(i as u64 + 1), f, Fcs::Present);
        assert_eq!(d.error, None, "{d:?}");
        topo.observe(t(i as u64 + 1), &d);
    }
    topo
}

#[test]
fn routers_links_children_and_leader() {
    let topo = learn(&[adv19(), adv6(), child_id_response(), child_data(8)]);
    let r = topo.report();
    let j = serde_json::to_string(&r).unwrap();
    assert_eq!(
        j,
        concat!(
            r#"{"type":"topology","routers":["#,
            r#"{"router_id":6,"rloc16":"1800","ext_addr":"166e0a0000000006","leader":false,"#,
            r#""links":[{"router_id":19,"lq_in":2,"lq_out":3,"cost":1}],"last_seen_us":2000000},"#,
            r#"{"router_id":19,"rloc16":"4c00","ext_addr":"e2d9c6be5cc30e9b","leader":true,"#,
            r#""links":[{"router_id":6,"lq_in":3,"lq_out":3,"cost":1}],"last_seen_us":3000000}],"#,
            r#""children":[{"rloc16":"4c03","ext_addr":"5a11c0ffee004003","parent_router_id":19,"last_seen_us":4000000}],"#,
            r#""partition_id":"5e3a91c2","leader_router_id":19}"#
        )
    );
}

#[test]
fn one_sided_routes_are_not_links() {
    // Router 19 hears 6 (LQ in 3) but 6 does not report hearing 19 (LQ out 0).
    let adv = advertisement(R19, 0x4c00, route64((0, 3, 2), (0, 0, 1)), 10);
    let r = learn(&[adv]).report();
    assert_eq!(r.routers.len(), 2, "router 6 is known from the ID mask");
    assert!(r.routers.iter().all(|r| r.links.is_empty()));
    assert_eq!(r.routers[0].ext_addr, None);
    assert_eq!(r.routers[0].last_seen_us, None);
}

#[test]
fn deterministic_and_drawn_into_the_neutral_graph() {
    let a = learn(&[adv19(), adv6(), child_id_response(), child_data(8)]);
    let b = learn(&[adv6(), adv19(), child_id_response(), child_data(8)]);
    let (ra, rb) = (a.report(), b.report());
    assert_eq!(ra.routers.len(), rb.routers.len());
    for (x, y) in ra.routers.iter().zip(&rb.routers) {
        assert_eq!(
            (x.router_id, &x.links, x.leader),
            (y.router_id, &y.links, y.leader)
        );
    }
    let g = a.graph();
    assert_eq!(g.node_count(), 3);
    assert!(g.link(0x1800, 0x4c00).is_some() && g.link(0x4c00, 0x1800).is_some());
    assert!(g.link(0x4c03, 0x4c00).is_some());
    assert_eq!(
        g.node(0x4c00).unwrap().name.as_deref(),
        Some("router 19 (leader)")
    );
    assert_eq!(g.edges().len(), 2);
}

#[test]
fn a_child_that_becomes_a_router_is_no_longer_a_child() {
    // OpenThread's router-eligible nodes attach as children first and upgrade within ~2 minutes:
    // the same extended address then speaks with a router's RLOC16 (seen against ot-cli-ftd).
    let upgraded = advertisement(CHILD, 0x1800, route64((3, 3, 1), (3, 3, 1)), 20);
    let r = learn(&[adv19(), child_id_response(), upgraded]).report();
    assert!(r.children.is_empty(), "{:?}", r.children);
    let six = r.routers.iter().find(|r| r.router_id == 6).unwrap();
    assert_eq!(six.ext_addr.as_deref(), Some("5a11c0ffee004003"));
    // And back: a router that reattaches as a child keeps one entry, the child.
    let r = learn(&[
        adv19(),
        advertisement(CHILD, 0x1800, route64((3, 3, 1), (3, 3, 1)), 20),
        child_id_response(),
    ])
    .report();
    assert_eq!(r.children.len(), 1);
    assert!(r
        .routers
        .iter()
        .all(|r| r.ext_addr.as_deref() != Some("5a11c0ffee004003")));
}

#[test]
fn rloc16_helpers() {
    assert_eq!(router_id_of(0x4c00), Some(19));
    assert_eq!(router_id_of(0xfffe), None);
    assert_eq!(router_rloc16(6), 0x1800);
    let mut topo = ThreadTopology::new();
    assert!(!topo.node(0xffff, None, None));
    assert!(topo.node(0x0401, None, Some(t(1))));
    let r = topo.report();
    assert_eq!(r.children[0].parent_router_id, 1);
    assert_eq!(r.routers[0].rloc16, "0400");
}
