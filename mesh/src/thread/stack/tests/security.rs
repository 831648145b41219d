//! Forged and malformed input: rejected, counted, never a panic, bounded memory.

use super::medium::{creds, Medium};
use super::network::{med, secs};
use crate::thread::coap::{Code, Message, MessageType};
use crate::thread::ip::addr::rloc;
use crate::thread::mac::{Address, ExtAddress};
use crate::thread::mle::{command as c, Tlv};
use crate::thread::stack::fuzz::{receive, Counter, Forger};
use crate::thread::stack::{Config, Role};
use crate::time::Instant;
use crate::wire::Wire;

/// A leader (0) with a child (1), everything on the air kept.
fn network() -> Medium {
    let mut m = Medium::new(9, 0);
    m.keep_air = true;
    m.add(creds(), Config::default(), 1, Instant::ZERO);
    m.add(creds(), med(), 2, secs(10));
    m.full_mesh(-60);
    m.run_until(secs(60));
    assert_eq!(m.nodes[1].role(), Role::Child);
    m
}

#[test]
fn replayed_mle_and_mac_frames_are_rejected_and_counted() {
    let mut m = network();
    // An Advertisement of the leader heard long ago, replayed to the child.
    let adverts: Vec<Vec<u8>> = m
        .air
        .iter()
        .filter(|(i, b)| *i == 0 && b[0] & 0x08 == 0 && b.get(5..7) == Some(&[0xff, 0xff]))
        .map(|(_, b)| b.clone())
        .collect();
    let old = adverts[adverts.len() - 2].clone();
    let before = m.nodes[1].count_of("mle: frame counter replayed");
    m.inject(1, old, -60);
    assert_eq!(
        m.nodes[1].count_of("mle: frame counter replayed"),
        before + 1
    );
    // A MAC-secured frame of the child (its first keep-alive or data), replayed to the leader.
    m.nodes[1].count_of("");
    let dst = m.nodes[0].addresses().rloc().unwrap();
    let now = m.now;
    m.nodes[1].send_udp(now, 1, std::net::SocketAddrV6::new(dst, 1, 0, 0), b"x");
    m.run_for(crate::time::Duration::from_secs(1));
    let now = m.now;
    m.nodes[1].send_udp(now, 1, std::net::SocketAddrV6::new(dst, 1, 0, 0), b"y");
    m.run_for(crate::time::Duration::from_secs(1));
    let secured: Vec<Vec<u8>> = m
        .air
        .iter()
        .filter(|(i, b)| *i == 1 && b[0] & 0x08 != 0)
        .map(|(_, b)| b.clone())
        .collect();
    assert!(secured.len() >= 2);
    // Attached, the child sends MAC-secured frames from its RLOC16 (Thread 1.3 §5.2.1.1).
    let f = crate::thread::mac::Frame::parse(&secured[0]).unwrap();
    assert_eq!(f.src, Address::Short(m.nodes[1].rloc16().unwrap()));
    m.inject(0, secured[0].clone(), -60);
    assert_eq!(
        m.nodes[0].count_of("rx: MAC frame counter replayed"),
        1,
        "{:?}",
        m.nodes[0].counters()
    );
}

#[test]
fn forged_mle_is_rejected_and_counted() {
    let mut m = network();
    let leader = m.nodes[0].ext_address();
    let creds = creds();
    // The wrong key.
    let mut bad_key = creds.network_key;
    bad_key[3] ^= 0x40;
    let mut wrong = Forger::new(&creds, ExtAddress([0x31; 8]), bad_key);
    let f = wrong.mle(leader, c::PARENT_REQUEST, vec![Tlv::ScanMask(0x80)]);
    m.inject(0, f, -60);
    assert_eq!(m.nodes[0].count_of("mle: authentication failed"), 1);
    // The right key, a Child ID Request answering a challenge never sent.
    let mut f = Forger::new(&creds, ExtAddress([0x32; 8]), creds.network_key);
    let req = f.mle(
        leader,
        c::CHILD_ID_REQUEST,
        vec![
            Tlv::Response(vec![1; 8]),
            Tlv::Mode(0x0f),
            Tlv::Timeout(240),
        ],
    );
    m.inject(0, req, -60);
    assert_eq!(m.nodes[0].count_of("mle: wrong challenge response"), 1);
    // A Parent Request, then a Child ID Request with another response than the challenge.
    let pr = f.mle(
        leader,
        c::PARENT_REQUEST,
        vec![
            Tlv::Mode(0x0f),
            Tlv::Challenge(vec![7; 8]),
            Tlv::ScanMask(0x80),
            Tlv::Version(4),
        ],
    );
    m.inject(0, pr, -60);
    m.run_for(crate::time::Duration::from_secs(1));
    let req = f.mle(
        leader,
        c::CHILD_ID_REQUEST,
        vec![
            Tlv::Response(vec![2; 8]),
            Tlv::Mode(0x0f),
            Tlv::Timeout(240),
        ],
    );
    m.inject(0, req, -60);
    assert_eq!(m.nodes[0].count_of("mle: wrong challenge response"), 2);
    assert_eq!(m.nodes[0].children().len(), 1);
    // Malformed TLVs (a Source Address of one octet) under the right key.
    let bad = f.mle(
        leader,
        c::ADVERTISEMENT,
        vec![Tlv::Unknown {
            tlv_type: 0,
            value: vec![1],
        }],
    );
    m.inject(0, bad, -60);
    assert_eq!(m.nodes[0].count_of("mle: malformed TLVs"), 1);
}

#[test]
fn address_solicit_from_a_stranger_is_refused_and_counted() {
    let mut m = network();
    let creds = creds();
    let p = creds.mesh_local_prefix;
    let leader16 = m.nodes[0].rloc16().unwrap();
    // A router ID the leader never gave out.
    let stranger = ((((leader16 >> 10) + 5) % 63) << 10) | 1;
    let mut f = Forger::new(&creds, ExtAddress([0x33; 8]), creds.network_key);
    let mut msg = Message::request(MessageType::Confirmable, Code::POST, "a/as");
    msg.message_id = 77;
    msg.payload = [vec![1, 8], vec![0x33; 8], vec![4, 1, 2]].concat();
    let frame = f.udp(
        p,
        Address::Short(leader16),
        rloc(p, stranger),
        rloc(p, 0xfc00),
        61631,
        &msg.to_vec(),
    );
    let routers = m.nodes[0].routes.active_routers();
    m.inject(0, frame, -60);
    assert_eq!(
        m.nodes[0].count_of("tmf: address solicit from a stranger"),
        1
    );
    assert_eq!(m.nodes[0].routes.active_routers(), routers);
    // The same request from the leader's own child, but in a frame without MAC security.
    let child16 = m.nodes[1].rloc16().unwrap();
    let d = crate::thread::wire::udp_datagram(
        rloc(p, child16),
        rloc(p, 0xfc00),
        61631,
        61631,
        &msg.to_vec(),
    );
    let link = crate::thread::wire::Link {
        pan_id: creds.pan_id,
        src: ExtAddress([0x33; 8]),
        dst: Address::Short(leader16),
        seq: 9,
        ack_request: true,
    };
    let ctx = crate::thread::wire::contexts(p);
    let frame = crate::thread::wire::data_frame(link, &d, &ctx, None).unwrap();
    m.inject(0, frame, -60);
    assert_eq!(
        m.nodes[0].count_of("rx: unsecured frame with data other than MLE"),
        1
    );
    assert_eq!(m.nodes[0].routes.active_routers(), routers);
}

#[test]
fn a_fragment_flood_is_bounded_and_counted() {
    let mut m = network();
    let creds = creds();
    let leader16 = m.nodes[0].rloc16().unwrap();
    let mut f = Forger::new(&creds, ExtAddress([0x34; 8]), creds.network_key);
    for tag in 0..2000u16 {
        // FRAG1 of a 1280-octet datagram, uncompressed IPv6 dispatch, never completed.
        let mut p = vec![0xc5, 0x00];
        p.extend_from_slice(&tag.to_be_bytes());
        p.push(0x41);
        p.extend_from_slice(&[0x60; 40]);
        let frame = f.lowpan(Address::Short(leader16), &p);
        m.inject(0, frame, -60);
    }
    let limits = crate::thread::lowpan::ReassemblyLimits::default();
    assert!(m.nodes[0].reasm.len() <= limits.max_datagrams);
    assert!(m.nodes[0].reasm.stats().overflows > 0);
    // The network still works.
    m.run_for(crate::time::Duration::from_secs(300));
    assert_eq!(m.nodes[1].role(), Role::Child);
}

/// After `handle_timeout(t)` the node's next deadline is later than `t`: a runtime that wakes
/// it at `poll_timeout` (weft-radio's medium does not wake a node twice for one deadline)
/// would otherwise never wake it again. A fragment held for reassembly expires between two
/// housekeeping ticks; its deadline used to stay put until the next tick, and the leader of
/// the 250-node bench (seed 18) stopped advertising for good.
#[test]
fn every_timer_deadline_moves_on_once_handled() {
    use crate::frame::Station;
    let mut m = network();
    let creds = creds();
    let leader16 = m.nodes[0].rloc16().unwrap();
    m.run_for(crate::time::Duration::from_millis(1300));
    let mut f = Forger::new(&creds, ExtAddress([0x35; 8]), creds.network_key);
    let mut p = vec![0xc5, 0x00, 0x12, 0x34, 0x41];
    p.extend_from_slice(&[0x60; 40]);
    let frame = f.lowpan(Address::Short(leader16), &p);
    m.inject(0, frame, -60);
    assert_eq!(m.nodes[0].reasm.len(), 1);
    let n = &mut m.nodes[0];
    for _ in 0..1000 {
        let t = n.poll_timeout().expect("a leader always has a deadline");
        n.handle_timeout(t);
        while n.poll_transmit(t).is_some() {}
        while n.poll_event().is_some() {}
        let next = n.poll_timeout().unwrap();
        assert!(next > t, "deadline {t:?} still due after it was handled");
        if n.reasm.is_empty() {
            return;
        }
    }
    panic!("the fragment never expired");
}

#[test]
fn the_receive_path_survives_arbitrary_bytes() {
    let mut r = Counter(3);
    use rand_core::RngCore;
    for i in 0..3000u32 {
        let mut b = vec![0u8; (r.next_u32() % 120) as usize + 1];
        r.fill_bytes(&mut b);
        b[0] = (i % 16) as u8;
        // One in four unicast TMF payloads starts as a well-formed Target EID TLV.
        if i % 64 == 3 && b.len() > 20 {
            b[2] = 0;
            b[3] = 16;
        }
        receive(&b);
    }
}

#[test]
fn a_newer_key_sequence_is_adopted_only_from_an_authenticated_frame() {
    use crate::thread::security::ThreadKeys;
    let mut m = network();
    let creds = creds();
    let leader16 = m.nodes[0].rloc16().unwrap();
    // The Key Index of sequence 1, under a wrong network key: not adopted.
    let mut bad_key = creds.network_key;
    bad_key[0] ^= 1;
    let mut wrong = Forger::new(&creds, ExtAddress([0x35; 8]), bad_key);
    wrong.keys = ThreadKeys::derive(&bad_key, 1);
    m.inject(0, wrong.lowpan(Address::Short(leader16), &[0x41]), -60);
    assert_eq!(m.nodes[0].state().key_sequence, 0);
    assert_eq!(m.nodes[0].count_of("rx: MAC authentication failed"), 1);
    // Sequence 1 under the right key: adopted (the first switch is not guarded), the
    // counters restart under it and the state is persisted.
    let mut right = Forger::new(&creds, ExtAddress([0x36; 8]), creds.network_key);
    right.keys = ThreadKeys::derive(&creds.network_key, 1);
    m.inject(0, right.lowpan(Address::Short(leader16), &[0x41]), -60);
    assert_eq!(m.nodes[0].state().key_sequence, 1);
    assert_eq!(m.persisted[0].key_sequence, 1);
    // The child follows from the leader's authenticated frames and stays attached.
    m.run_for(crate::time::Duration::from_secs(300));
    assert_eq!(m.nodes[1].state().key_sequence, 1);
    assert_eq!(m.nodes[1].role(), Role::Child);
}

#[test]
fn the_fuzz_harness_attaches_its_child() {
    use crate::frame::Station;
    use crate::thread::stack::fuzz::{fuzz_credentials, Counter};
    use crate::thread::stack::{Node, ThreadState};
    let creds = fuzz_credentials();
    let mut rng = Counter(7);
    let s = ThreadState::new(&creds, &mut rng);
    let mut l = Node::new(creds.clone(), s, Config::default(), rng, Instant::ZERO);
    super::super::fuzz::settle(&mut l);
    assert_eq!(l.role(), Role::Leader);
    let mut rng = Counter(8);
    let s = ThreadState::new(&creds, &mut rng);
    let mut c = Node::new(creds, s, med(), rng, Instant::ZERO);
    super::super::fuzz::exchange(&mut l, &mut c);
    assert_eq!(c.role(), Role::Child);
    let _ = l.poll_timeout();
}

#[test]
fn a_parent_request_flood_holds_bounded_state() {
    let mut m = network();
    let creds = creds();
    let leader = m.nodes[0].ext_address();
    for i in 0..2000u32 {
        let mut e = [0x40u8; 8];
        e[4..].copy_from_slice(&i.to_be_bytes());
        let mut f = Forger::new(&creds, ExtAddress(e), creds.network_key);
        let pr = f.mle(
            leader,
            c::PARENT_REQUEST,
            vec![
                Tlv::Mode(0x0f),
                Tlv::Challenge(vec![7; 8]),
                Tlv::ScanMask(0x80),
                Tlv::Version(4),
            ],
        );
        m.inject(0, pr, -60);
    }
    let n = &m.nodes[0];
    assert!(n.challenges.len() <= 64, "{}", n.challenges.len());
    assert!(n.delayed.len() <= 64, "{}", n.delayed.len());
    assert!(n.replay.len() <= crate::thread::security::DEFAULT_REPLAY_CAPACITY);
    assert!(n.count_of("mle: challenge table full (oldest dropped)") > 0);
    assert!(n.count_of("tx: delayed MLE dropped (queue full)") > 0);
    // The real child is still served.
    m.run_for(crate::time::Duration::from_secs(600));
    assert_eq!(m.nodes[1].role(), Role::Child);
    assert_eq!(m.nodes[0].children().len(), 1);
}
