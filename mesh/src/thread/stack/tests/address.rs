//! Address Query and MPL on the test medium: ML-EIDs reached across hops, a child's through
//! its parent, stale cache entries recovering, bad payloads and floods counted and bounded.

use super::medium::Medium;
use super::network::{line, med};
use crate::thread::stack::{Event, Role};
use crate::time::Duration;

/// Pings `dst` from node `from`; the round trip in virtual µs when a reply came in `within`.
fn ping(
    m: &mut Medium,
    from: usize,
    dst: std::net::Ipv6Addr,
    seq: u16,
    within: Duration,
) -> Option<u64> {
    let t0 = m.now;
    m.nodes[from].ping(t0, dst, 7, seq, b"weft");
    m.run_for(within);
    m.events
        .iter()
        .find(|(t, i, e)| {
            *i == from
                && *t >= t0
                && matches!(e, Event::EchoReply { from: f, sequence, .. } if *f == dst && *sequence == seq)
        })
        .map(|(t, _, _)| t.as_micros() - t0.as_micros())
}

fn all_routers(m: &Medium) -> bool {
    m.nodes
        .iter()
        .take(6)
        .all(|n| matches!(n.role(), Role::Router | Role::Leader))
}

#[test]
fn an_ml_eid_five_hops_away_answers_a_ping_after_one_query() {
    let mut m = line(21, 6, 0);
    assert!(all_routers(&m));
    let eid = m.nodes[5].addresses().ml_eid();
    let first = ping(&mut m, 0, eid, 1, Duration::from_secs(5)).expect("a reply after the query");
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 1);
    assert_eq!(m.nodes[5].count_of("tmf: address notifications sent"), 1);
    assert_eq!(
        m.nodes[0].address_cache(),
        vec![(eid, m.nodes[5].rloc16().unwrap())]
    );
    // The query went through every router once, twice more from each (MPL), no further.
    for n in &m.nodes[1..5] {
        assert!(n.count_of("mpl: transmissions") <= 2, "{:?}", n.counters());
    }
    let cached = ping(&mut m, 0, eid, 2, Duration::from_secs(5)).expect("a reply from the cache");
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 1);
    assert!(
        cached < first,
        "{cached} µs cached, {first} µs with the query"
    );
    // And UDP from the far end back to the first node's ML-EID (node 5 asks in turn).
    let back = m.nodes[0].addresses().ml_eid();
    m.nodes[0].bind_udp(4000).unwrap();
    let now = m.now;
    m.nodes[5].send_udp(
        now,
        4000,
        std::net::SocketAddrV6::new(back, 4000, 0, 0),
        b"hi",
    );
    m.run_for(Duration::from_secs(5));
    let d = m.nodes[0].recv_udp(4000).expect("delivered");
    assert_eq!(d.payload, b"hi");
}

/// Virtual-time figures (`--nocapture`): a 5-hop ML-EID ping with its Address Query and the
/// same ping from the cache, medians over 10 seeds.
#[test]
fn ml_eid_round_trips_in_virtual_time() {
    let (mut q, mut c) = (Vec::new(), Vec::new());
    for seed in 1..=10 {
        let mut m = line(seed, 6, 0);
        let eid = m.nodes[5].addresses().ml_eid();
        q.push(ping(&mut m, 0, eid, 1, Duration::from_secs(5)).expect("reply") / 1000);
        c.push(ping(&mut m, 0, eid, 2, Duration::from_secs(5)).expect("reply") / 1000);
    }
    q.sort();
    c.sort();
    println!(
        "5-hop ML-EID echo: {} ms with the address query, {} ms cached (medians of 10)",
        q[5], c[5]
    );
    assert!(c[5] < q[5]);
}

#[test]
fn a_childs_ml_eid_is_reached_through_its_parent_from_a_far_router() {
    for sleepy in [false, true] {
        let mut m = line(22, 5, 0);
        let cfg = crate::thread::stack::Config {
            rx_on_when_idle: !sleepy,
            poll_period: Duration::from_secs(1),
            ..med()
        };
        let c = m.add(super::medium::creds(), cfg, 2299, m.now);
        m.link(4, c, -60);
        m.run_for(Duration::from_secs(20));
        assert_eq!(m.nodes[c].role(), Role::Child);
        assert_eq!(m.nodes[c].parent_rloc16(), m.nodes[4].rloc16());
        let eid = m.nodes[c].addresses().ml_eid();
        assert!(
            ping(&mut m, 0, eid, 1, Duration::from_secs(10)).is_some(),
            "sleepy {sleepy}: {:?} {:?}",
            m.nodes[0].counters(),
            m.nodes[4].counters()
        );
        // The parent answered for its child, with its own RLOC16 (as OpenThread).
        assert_eq!(m.nodes[4].count_of("tmf: address notifications sent"), 1);
        assert_eq!(
            m.nodes[0].address_cache(),
            vec![(eid, m.nodes[4].rloc16().unwrap())]
        );
        // And the child reaches the far router's ML-EID: its parent asks.
        let far = m.nodes[0].addresses().ml_eid();
        assert!(ping(&mut m, c, far, 2, Duration::from_secs(10)).is_some());
    }
}

#[test]
fn a_child_that_moved_is_found_again_after_no_route() {
    let mut m = line(23, 5, 0);
    let c = m.add(super::medium::creds(), med(), 2399, m.now);
    m.link(4, c, -60);
    m.run_for(Duration::from_secs(20));
    let eid = m.nodes[c].addresses().ml_eid();
    assert!(ping(&mut m, 0, eid, 1, Duration::from_secs(10)).is_some());
    let old = m.nodes[4].rloc16().unwrap();
    // The child goes to router 2's side; router 4 forgets it after its timeout.
    m.cut(4, c);
    m.link(2, c, -60);
    m.run_for(Duration::from_secs(600));
    assert_eq!(m.nodes[c].parent_rloc16(), m.nodes[2].rloc16());
    assert!(m.nodes[4].children().is_empty());
    assert_eq!(m.nodes[0].address_cache(), vec![(eid, old)]);
    // The first ping reaches the old parent, which says "no route"; the entry goes, and the
    // next ping asks again.
    assert!(ping(&mut m, 0, eid, 2, Duration::from_secs(5)).is_none());
    assert_eq!(
        m.nodes[4].count_of("tx: ICMPv6 destination unreachable (EID not here)"),
        1
    );
    assert_eq!(
        m.nodes[0].count_of("address cache: entry removed on ICMPv6 no route"),
        1
    );
    assert!(ping(&mut m, 0, eid, 3, Duration::from_secs(5)).is_some());
    assert_eq!(
        m.nodes[0].address_cache(),
        vec![(eid, m.nodes[2].rloc16().unwrap())]
    );
}

#[test]
fn an_unanswered_query_backs_off_and_doubles_its_delay() {
    let mut m = line(24, 3, 0);
    let nobody: std::net::Ipv6Addr = {
        let mut o = m.nodes[0].addresses().ml_eid().octets();
        o[15] ^= 0x5a;
        o.into()
    };
    assert!(ping(&mut m, 0, nobody, 1, Duration::from_secs(4)).is_none());
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 1);
    assert_eq!(
        m.nodes[0].count_of("tx: address query unanswered (datagram dropped)"),
        1
    );
    // Within the 15 s retry delay: dropped, not asked.
    assert!(ping(&mut m, 0, nobody, 2, Duration::from_secs(10)).is_none());
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 1);
    assert_eq!(
        m.nodes[0].count_of("tx: address query backing off (datagram dropped)"),
        1
    );
    // After it, asked again; then 30 s of quiet.
    m.run_for(Duration::from_secs(5));
    assert!(ping(&mut m, 0, nobody, 3, Duration::from_secs(4)).is_none());
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 2);
    assert!(ping(&mut m, 0, nobody, 4, Duration::from_secs(20)).is_none());
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 2);
    m.run_for(Duration::from_secs(10));
    assert!(ping(&mut m, 0, nobody, 5, Duration::from_secs(1)).is_none());
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 3);
}

/// A TMF request `path` of `mtype` with `payload`, as a forger's frame from `src` to `dst`.
fn tmf(
    f: &mut crate::thread::stack::fuzz::Forger,
    dst_mac: u16,
    src: std::net::Ipv6Addr,
    dst: std::net::Ipv6Addr,
    mtype: crate::thread::coap::MessageType,
    path: &str,
    payload: Vec<u8>,
) -> Vec<u8> {
    use crate::thread::coap::{Code, Message};
    use crate::wire::Wire;
    let mut msg = Message::request(mtype, Code::POST, path);
    msg.message_id = f.fc as u16;
    msg.payload = payload;
    let p = super::medium::creds().mesh_local_prefix;
    f.udp(
        p,
        crate::thread::mac::Address::Short(dst_mac),
        src,
        dst,
        61631,
        &msg.to_vec(),
    )
}

#[test]
fn malformed_address_messages_are_counted_and_dropped() {
    use crate::thread::coap::MessageType::{Confirmable as Con, NonConfirmable as Non};
    use crate::thread::ip::addr::{rloc, REALM_LOCAL_ALL_ROUTERS};
    use crate::thread::mac::ExtAddress;
    use crate::thread::tmf::AddressTlvs;
    let mut m = line(25, 2, 0);
    let creds = super::medium::creds();
    let p = creds.mesh_local_prefix;
    let r16 = m.nodes[0].rloc16().unwrap();
    let me = rloc(p, r16);
    let src = rloc(p, m.nodes[1].rloc16().unwrap() ^ 0x0400);
    let mut f =
        crate::thread::stack::fuzz::Forger::new(&creds, ExtAddress([0x51; 8]), creds.network_key);
    let good = AddressTlvs {
        target: m.nodes[0].addresses().ml_eid(),
        ml_eid_iid: Some([9; 8]),
        rloc16: Some(0x1000),
        last_transaction_secs: None,
    }
    .to_vec();
    let cases: Vec<(MessageTypeOf, &str, Vec<u8>, &str)> = vec![
        (Non, "a/aq", vec![0, 15, 1], "tmf: malformed address query"),
        (Non, "a/aq", vec![], "tmf: malformed address query"),
        (
            Con,
            "a/aq",
            good.clone(),
            "tmf: address query not a non-confirmable POST",
        ),
        (
            Con,
            "a/an",
            vec![0, 16, 1, 2],
            "tmf: malformed address notification",
        ),
        (
            Con,
            "a/an",
            good[..18].to_vec(),
            "tmf: malformed address notification",
        ),
        (
            Non,
            "a/an",
            good.clone(),
            "tmf: address notification not a confirmable POST",
        ),
        (
            Con,
            "a/an",
            good.clone(),
            "tmf: address notification not asked for",
        ),
        (Non, "a/ae", vec![0, 16], "tmf: malformed address error"),
        (
            Non,
            "a/ae",
            good.clone(),
            "address error: this node's ML-EID claimed by another",
        ),
    ];
    for (mtype, path, payload, counter) in cases {
        for dst in [me, REALM_LOCAL_ALL_ROUTERS] {
            let before = m.nodes[0].count_of(counter);
            let frame = tmf(
                &mut f,
                if dst.is_multicast() { 0xffff } else { r16 },
                src,
                dst,
                mtype,
                path,
                payload.clone(),
            );
            m.inject(0, frame, -60);
            assert_eq!(
                m.nodes[0].count_of(counter),
                before + 1,
                "{path} {payload:?} to {dst}"
            );
        }
    }
    // Nothing answered, nothing cached.
    assert_eq!(m.nodes[0].count_of("tmf: address notifications sent"), 0);
    assert!(m.nodes[0].address_cache().is_empty());
}

type MessageTypeOf = crate::thread::coap::MessageType;

#[test]
fn an_mpl_flood_is_counted_and_bounded() {
    use crate::thread::ip::addr::{rloc, REALM_LOCAL_ALL_NODES};
    use crate::thread::ip::mpl::{insert, MplOption};
    use crate::thread::mac::ExtAddress;
    let mut m = line(26, 3, 0);
    let creds = super::medium::creds();
    let p = creds.mesh_local_prefix;
    let mut f =
        crate::thread::stack::fuzz::Forger::new(&creds, ExtAddress([0x52; 8]), creds.network_key);
    let frame_of =
        |f: &mut crate::thread::stack::fuzz::Forger, seed: u16, sequence: u8, v: bool| {
            let src = rloc(p, seed);
            let udp = crate::thread::wire::udp_datagram(src, REALM_LOCAL_ALL_NODES, 9, 9, b"flood");
            let mut d = insert(
                &udp,
                &MplOption {
                    seed_id: None,
                    max: false,
                    sequence,
                },
            )
            .unwrap();
            if v {
                d[44] |= 0x10;
            }
            f.datagram(p, crate::thread::mac::Address::Short(0xffff), &d)
        };
    // 500 datagrams from 100 seeds, each heard twice.
    for k in 0..500u32 {
        let (seed, seq) = (0x0400 + (k % 100) as u16, (k / 100) as u8);
        for _ in 0..2 {
            let frame = frame_of(&mut f, seed, seq, false);
            m.inject(1, frame, -60);
            assert!(m.nodes[1].mpl.seeds() <= crate::thread::stack::mpl::SEED_SET_ENTRIES);
            assert!(m.nodes[1].mpl.buffered() <= crate::thread::stack::mpl::BUFFERED);
        }
    }
    let n = &m.nodes[1];
    assert_eq!(n.count_of("mpl: duplicate"), 500, "{:?}", n.counters());
    assert!(n.count_of("mpl: buffered set full (oldest dropped)") > 0);
    // A V flag is refused.
    let frame = frame_of(&mut f, 0x0800, 1, true);
    m.inject(1, frame, -60);
    assert_eq!(m.nodes[1].count_of("mpl: malformed option"), 1);
    // Without MAC security: neither delivered nor forwarded.
    let src = rloc(p, 0x0c00);
    let udp = crate::thread::wire::udp_datagram(src, REALM_LOCAL_ALL_NODES, 9, 9, b"x");
    let d = insert(
        &udp,
        &MplOption {
            seed_id: None,
            max: false,
            sequence: 1,
        },
    )
    .unwrap();
    let link = crate::thread::wire::Link {
        pan_id: creds.pan_id,
        src: ExtAddress([0x52; 8]),
        dst: crate::thread::mac::Address::Short(0xffff),
        seq: 1,
        ack_request: false,
    };
    let ctx = crate::thread::wire::contexts(p);
    let frame = crate::thread::wire::data_frame(link, &d, &ctx, None).unwrap();
    let buffered = m.nodes[1].mpl.buffered();
    m.inject(1, frame, -60);
    assert_eq!(
        m.nodes[1].count_of("rx: unsecured realm-local multicast"),
        1
    );
    assert_eq!(m.nodes[1].mpl.buffered(), buffered);
    // The flood passes and the retransmissions end: nothing is left buffered.
    m.run_for(Duration::from_secs(10));
    assert_eq!(m.nodes[1].mpl.buffered(), 0);
    assert_eq!(m.nodes[1].mpl.seeds(), 0);
    // Each neighbour heard each forwarded datagram at most twice from node 1.
    assert!(m.nodes[1].count_of("mpl: transmissions") <= 2 * 500);
}

#[test]
fn a_restarted_child_registers_again_and_stays_reachable() {
    let mut m = line(27, 4, 0);
    let c = m.add(super::medium::creds(), med(), 2799, m.now);
    m.link(3, c, -60);
    m.run_for(Duration::from_secs(20));
    let eid = m.nodes[c].addresses().ml_eid();
    assert!(ping(&mut m, 0, eid, 1, Duration::from_secs(10)).is_some());
    // It crashes and comes back with its persisted ML-EID, attaches again and registers it
    // again. The far router's cache (the parent's RLOC16) still holds.
    m.run_for(Duration::from_secs(1));
    m.restart(c);
    m.run_for(Duration::from_secs(60));
    assert_eq!(m.nodes[c].role(), Role::Child);
    assert_eq!(m.nodes[c].addresses().ml_eid(), eid);
    assert!(ping(&mut m, 0, eid, 2, Duration::from_secs(10)).is_some());
    assert_eq!(m.nodes[0].count_of("tmf: address queries sent"), 1);
}

#[test]
fn notifications_from_two_ml_eids_bring_an_address_error() {
    use crate::thread::coap::MessageType::Confirmable as Con;
    use crate::thread::ip::addr::rloc;
    use crate::thread::mac::ExtAddress;
    use crate::thread::tmf::AddressTlvs;
    let mut m = line(28, 2, 0);
    let creds = super::medium::creds();
    let p = creds.mesh_local_prefix;
    let r16 = m.nodes[0].rloc16().unwrap();
    let other16 = m.nodes[1].rloc16().unwrap();
    let target: std::net::Ipv6Addr = {
        let mut o = m.nodes[1].addresses().ml_eid().octets();
        o[15] ^= 0x33;
        o.into()
    };
    // Node 0 asks about an EID nobody has; two forged owners answer.
    let now = m.now;
    m.nodes[0].ping(now, target, 1, 1, b"x");
    let mut f =
        crate::thread::stack::fuzz::Forger::new(&creds, ExtAddress([0x53; 8]), creds.network_key);
    for (iid, last) in [([1u8; 8], 5u32), ([2u8; 8], 1)] {
        let n = AddressTlvs {
            target,
            ml_eid_iid: Some(iid),
            rloc16: Some(other16),
            last_transaction_secs: Some(last),
        };
        let frame = tmf(
            &mut f,
            r16,
            rloc(p, other16),
            rloc(p, r16),
            Con,
            "a/an",
            n.to_vec(),
        );
        m.inject(0, frame, -60);
    }
    assert_eq!(m.nodes[0].address_cache(), vec![(target, other16)]);
    assert_eq!(
        m.nodes[0].count_of("tmf: address notifications from two ML-EIDs"),
        1
    );
    // The error went to ff03::2, where the other router heard it (about an EID not its own).
    assert_eq!(m.nodes[0].count_of("tmf: address errors sent"), 1);
    m.run_for(Duration::from_secs(1));
    assert_eq!(m.nodes[1].count_of("tmf: address errors received"), 1);
}

#[test]
fn datagrams_for_an_absent_eid_bring_rate_limited_errors() {
    use crate::thread::ip::icmpv6::{echo_datagram, Echo};
    use crate::thread::mac::{Address, ExtAddress};
    let mut m = line(29, 2, 0);
    let creds = super::medium::creds();
    let p = creds.mesh_local_prefix;
    let r16 = m.nodes[0].rloc16().unwrap();
    let far = crate::thread::ip::addr::rloc(p, m.nodes[1].rloc16().unwrap());
    let absent: std::net::Ipv6Addr = {
        let mut o = m.nodes[0].addresses().ml_eid().octets();
        o[15] ^= 0x77;
        o.into()
    };
    let mut f =
        crate::thread::stack::fuzz::Forger::new(&creds, ExtAddress([0x54; 8]), creds.network_key);
    for k in 0..50u16 {
        let echo = Echo {
            reply: false,
            identifier: 1,
            sequence: k,
            data: vec![],
        };
        let d = echo_datagram(far, absent, 64, &echo);
        let frame = f.datagram(p, Address::Short(r16), &d);
        m.inject(0, frame, -60);
    }
    assert_eq!(
        m.nodes[0].count_of("tx: ICMPv6 destination unreachable (EID not here)"),
        1
    );
    assert_eq!(
        m.nodes[0].count_of("tx: ICMPv6 error rate-limited (dropped)"),
        49
    );
    m.run_for(Duration::from_secs(1));
    let echo = Echo {
        reply: false,
        identifier: 1,
        sequence: 99,
        data: vec![],
    };
    let frame = f.datagram(
        p,
        Address::Short(r16),
        &echo_datagram(far, absent, 64, &echo),
    );
    m.inject(0, frame, -60);
    assert_eq!(
        m.nodes[0].count_of("tx: ICMPv6 destination unreachable (EID not here)"),
        2
    );
}
