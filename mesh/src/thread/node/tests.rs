use super::*;
use crate::thread::lowpan::{decompress, LinkAddresses, LowpanFrame};
use crate::thread::mac::{Body, Frame};
use crate::thread::mle::{self, command, MleMessage};
use crate::thread::security::unsecure;
use crate::wire::Wire;

/// A deterministic generator for tests (SplitMix64).
#[derive(Debug)]
struct Mix(u64);
impl RngCore for Mix {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        for b in d {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}

fn net() -> NetworkConfig {
    NetworkConfig {
        network_key: [0x11; 16],
        key_sequence: 0,
        pan_id: 0xface,
        channel: 15,
        mesh_local_prefix: [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0, 0],
        partition_id: 0x1234_5678,
        router_ids: vec![0, 1, 2],
        id_sequence: 7,
    }
}

fn ext(i: u8) -> ExtAddress {
    ExtAddress([0x0a, 0, 0, 0, 0, 0, 0, i])
}

type St = ThreadStation<Mix>;

fn router(id: u8) -> St {
    ThreadStation::Router(Router::new(
        net(),
        id,
        ext(id),
        Mix(id as u64),
        Instant::ZERO,
    ))
}

fn child(i: u8) -> St {
    ThreadStation::Child(Child::new(
        net(),
        ext(100 + i),
        Mix(100 + i as u64),
        Instant::ZERO,
        Duration::from_secs(30),
    ))
}

fn rx(bytes: &[u8], rssi: i8) -> RxFrame {
    RxFrame {
        lqi: None,
        bearer: Bearer::Ieee802154,
        channel: 15,
        rssi: Some(rssi),
        timestamp: Instant::ZERO,
        adv_address: None,
        bytes: bytes.to_vec(),
    }
}

fn frames(s: &mut St, now: Instant) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit(now).map(|f| f.bytes)).collect()
}

fn events(s: &mut St) -> Vec<ThreadEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Runs `s`'s timer if due by `now`, returning its frames.
fn tick(s: &mut St, now: Instant) -> Vec<Vec<u8>> {
    if s.poll_timeout().is_some_and(|t| t <= now) {
        s.handle_timeout(now);
    }
    frames(s, now)
}

/// Reads an MLE frame with the core's decoders only: MAC parse → 6LoWPAN decompress → UDP →
/// MLE open.
fn open_mle(bytes: &[u8]) -> (Frame, mle::OpenedMle) {
    let f = Frame::parse(bytes).unwrap();
    assert!(f.security.is_none(), "MLE frames are not MAC-secured");
    let Body::Open { payload, .. } = &f.body else {
        panic!()
    };
    let lp = LowpanFrame::parse(payload).unwrap();
    let ll = LinkAddresses {
        src: f.src,
        dst: f.dst,
    };
    let p = decompress(&lp.rest, &ll, &wire::contexts(net().mesh_local_prefix)).unwrap();
    let src: [u8; 16] = p[8..24].try_into().unwrap();
    let dst: [u8; 16] = p[24..40].try_into().unwrap();
    assert_eq!(u16::from_be_bytes([p[42], p[43]]), mle::MLE_PORT);
    let msg = MleMessage::parse(&p[48..]).unwrap();
    let mut keys = KeyManager::new(net().network_key, 0);
    let opened = mle::open(&msg, &mut keys, &src.into(), &dst.into()).unwrap();
    (f, opened)
}

#[test]
fn a_child_attaches_and_its_data_reaches_its_parent() {
    let mut r = router(1);
    let mut c = child(1);
    let mut now = Instant::ZERO;
    // Parent Request to ff02::2, broadcast at the MAC.
    let pr = tick(&mut c, now);
    assert_eq!(pr.len(), 1);
    let (f, m) = open_mle(&pr[0]);
    assert_eq!(m.payload.command, command::PARENT_REQUEST);
    assert_eq!(f.dst, Address::Short(0xffff));
    assert!(!f.ack_request);
    assert!(m
        .payload
        .tlvs
        .iter()
        .any(|t| matches!(t, Tlv::ScanMask(0x80))));
    r.handle_frame(now, &rx(&pr[0], -60));
    // The Parent Response comes within 500 ms.
    let mut resp = Vec::new();
    while resp.is_empty() {
        now += Duration::from_millis(10);
        assert!(now < Instant::from_micros(2_000_000));
        resp = tick(&mut r, now)
            .into_iter()
            .filter(|b| open_mle(b).1.payload.command == command::PARENT_RESPONSE)
            .collect();
    }
    let (f, m) = open_mle(&resp[0]);
    assert_eq!(f.dst, Address::Extended(ext(101)));
    assert!(f.ack_request);
    assert!(m.payload.tlvs.contains(&Tlv::SourceAddress(0x0400)));
    assert!(m.payload.tlvs.contains(&Tlv::LinkMargin(40)));
    c.handle_frame(now, &rx(&resp[0], -60));
    // After the 750 ms window, the Child ID Request.
    now = Instant::from_micros(800_000);
    let cidr = tick(&mut c, now);
    assert_eq!(
        open_mle(&cidr[0]).1.payload.command,
        command::CHILD_ID_REQUEST
    );
    r.handle_frame(now, &rx(&cidr[0], -60));
    let out = frames(&mut r, now);
    let (_, m) = open_mle(&out[0]);
    assert_eq!(m.payload.command, command::CHILD_ID_RESPONSE);
    assert!(m.payload.tlvs.contains(&Tlv::Address16(0x0401)));
    assert!(events(&mut r).contains(&ThreadEvent::ChildAdded {
        child: ext(101),
        rloc16: 0x0401
    }));
    c.handle_frame(now, &rx(&out[0], -60));
    assert!(events(&mut c).contains(&ThreadEvent::Attached {
        parent: 0x0400,
        rloc16: 0x0401,
        link_margin: 40
    }));
    assert_eq!(c.rloc16(), Some(0x0401));
    assert_eq!(c.mac_settings().short_address, Some(0x0401));
    // The first data message within one interval: MAC-secured, level 5, key ID mode 1.
    now += Duration::from_secs(31);
    let data = tick(&mut c, now);
    assert_eq!(data.len(), 1);
    let f = Frame::parse(&data[0]).unwrap();
    let sec = f.security.unwrap();
    assert_eq!(sec.level.value(), 5);
    assert_eq!(sec.key_id, crate::thread::mac::KeyIdentifier::Index(1));
    assert_eq!(f.dst, Address::Short(0x0400));
    let keys = KeyManager::new(net().network_key, 0);
    let open = unsecure(&f, keys.current().mac(), ext(101)).unwrap();
    let Body::Open { payload, .. } = &open.body else {
        panic!()
    };
    let ll = LinkAddresses {
        src: open.src,
        dst: open.dst,
    };
    let p = decompress(
        &LowpanFrame::parse(payload).unwrap().rest,
        &ll,
        &wire::contexts(net().mesh_local_prefix),
    )
    .unwrap();
    let dst: [u8; 16] = p[24..40].try_into().unwrap();
    assert_eq!(wire::rloc16_of(&dst.into()), Some(0x0400));
    assert_eq!(u16::from_be_bytes([p[42], p[43]]), wire::COAP_PORT);
    r.handle_frame(now, &rx(&data[0], -60));
    let ev = events(&mut r);
    assert!(
        ev.iter()
            .any(|e| matches!(e, ThreadEvent::DataReceived { src: 0x0401, .. })),
        "{ev:?}"
    );
    // The same frame again (a retransmission whose ack was lost) is not counted twice.
    r.handle_frame(now, &rx(&data[0], -60));
    assert!(matches!(events(&mut r)[..], [ThreadEvent::Dropped { .. }]));
}

#[test]
fn a_parent_response_to_another_challenge_is_refused() {
    let mut r = router(1);
    let mut c1 = child(1);
    let mut c2 = child(2);
    let now = Instant::ZERO;
    let p1 = tick(&mut c1, now);
    tick(&mut c2, now);
    r.handle_frame(now, &rx(&p1[0], -60));
    let resp = tick(&mut r, Instant::from_micros(600_000));
    let resp: Vec<_> = resp
        .into_iter()
        .filter(|b| open_mle(b).1.payload.command == command::PARENT_RESPONSE)
        .collect();
    // c2 did not ask: the response's Response is not its challenge (and it is not addressed to
    // it, but the medium's filter is not here to say so).
    c2.handle_frame(now, &rx(&resp[0], -60));
    assert!(events(&mut c2).iter().any(
        |e| matches!(e, ThreadEvent::Dropped { reason } if reason.contains("wrong Response"))
    ));
}

#[test]
fn route64_reports_what_was_heard_and_costs_through_neighbours() {
    // 0 — 1 — 2 in a line: 0 and 2 do not hear each other.
    let mut rs: Vec<St> = (0..3).map(router).collect();
    let links = [
        (0usize, 1usize, -60i8),
        (1, 0, -75),
        (1, 2, -60),
        (2, 1, -60),
    ];
    let mut now = Instant::ZERO;
    for _ in 0..400 {
        now += Duration::from_millis(250);
        for i in 0..3 {
            for f in tick(&mut rs[i], now) {
                for &(a, b, rssi) in &links {
                    if a == i {
                        rs[b].handle_frame(now, &rx(&f, rssi));
                    }
                }
            }
        }
    }
    let ThreadStation::Router(r0) = &rs[0] else {
        panic!()
    };
    let n1 = &r0.neighbours()[&1];
    // 0 hears 1 at -75 dBm: margin 25 → LQ 3 in; 1 hears 0 at -60 → 1 reports LQ 3.
    assert_eq!((n1.lq_in, n1.lq_out), (3, 3));
    assert!(n1.heard >= 3);
    assert!(!r0.neighbours().contains_key(&2));
    let e = r0.route64().entries().unwrap();
    assert_eq!(e, vec![(0, 0, 0, 1), (1, 3, 3, 1), (2, 0, 0, 2)]);
    // A weaker link: 2 hears 1 at -85 (margin 15, LQ 2).
    let mut rs: Vec<St> = (0..3).map(router).collect();
    let links = [
        (0usize, 1usize, -60i8),
        (1, 0, -60),
        (1, 2, -85),
        (2, 1, -60),
    ];
    for _ in 0..400 {
        now += Duration::from_millis(250);
        for i in 0..3 {
            for f in tick(&mut rs[i], now) {
                for &(a, b, rssi) in &links {
                    if a == i {
                        rs[b].handle_frame(now, &rx(&f, rssi));
                    }
                }
            }
        }
    }
    let ThreadStation::Router(r0) = &rs[0] else {
        panic!()
    };
    // 1 → 2 has LQ 2 (in at 2, out 3: two-way 2, cost 2); 0 reaches 2 at 1 + 2.
    assert_eq!(r0.route_cost(2), 3);
    // 0 stops hearing 1 (1 still hears 0): LQ in falls with the silence, then 1 is dropped.
    let quiet = [(1usize, 2usize, -60i8), (2, 1, -60), (0, 1, -60)];
    let mut lq = Vec::new();
    for step in 0..480 {
        now += Duration::from_millis(250);
        for i in 0..3 {
            for f in tick(&mut rs[i], now) {
                for &(a, b, rssi) in &quiet {
                    if a == i {
                        rs[b].handle_frame(now, &rx(&f, rssi));
                    }
                }
            }
        }
        if step % 40 == 39 {
            let ThreadStation::Router(r0) = &rs[0] else {
                panic!()
            };
            lq.push(r0.neighbours().get(&1).map(|n| n.lq_in));
        }
    }
    // Every 10 s: LQ 3 while the last Advertisement is recent, then lower, then gone.
    assert!(lq.iter().any(|q| matches!(q, Some(1 | 2))), "{lq:?}");
    assert_eq!(lq.last(), Some(&None), "{lq:?}");
    let first_drop = lq.iter().position(|q| *q != Some(3)).unwrap();
    assert!(lq[first_drop..].windows(2).all(|w| w[1] <= w[0]), "{lq:?}");
}

#[test]
fn frames_under_another_network_key_are_dropped_with_a_reason() {
    let mut r = router(1);
    let mut other = ThreadStation::Child(Child::new(
        NetworkConfig {
            network_key: [0x22; 16],
            ..net()
        },
        ext(9),
        Mix(9),
        Instant::ZERO,
        Duration::from_secs(30),
    ));
    let f = tick(&mut other, Instant::ZERO);
    r.handle_frame(Instant::ZERO, &rx(&f[0], -50));
    assert!(events(&mut r).iter().any(
        |e| matches!(e, ThreadEvent::Dropped { reason } if reason.contains("authentication"))
    ));
    // Garbage is a reason too, never a panic.
    for junk in [&[][..], &[0x41, 0xd8], &[0xff; 40]] {
        r.handle_frame(Instant::ZERO, &rx(junk, -50));
    }
    assert_eq!(events(&mut r).len(), 3);
}

proptest::proptest! {
    /// Bytes from the air never make a station panic, whatever its state.
    #[test]
    fn stations_take_any_bytes(frames in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..130), 1..8)) {
        let mut r = router(1);
        let mut c = child(1);
        // The child collects Parent Responses: it opens what it hears.
        tick(&mut c, Instant::ZERO);
        for (i, f) in frames.iter().enumerate() {
            let now = Instant::from_micros(i as u64 * 1000);
            r.handle_frame(now, &rx(f, -60));
            c.handle_frame(now, &rx(f, -60));
            tick(&mut r, now);
            fuzz_parse(f);
        }
    }
}
