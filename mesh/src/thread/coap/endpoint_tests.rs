use super::*;
use crate::thread::coap::message::option;
use crate::thread::test_rng::SplitMix;
use proptest::prelude::*;
use rand_core::RngCore;

fn addr(n: u16) -> SocketAddrV6 {
    SocketAddrV6::new(
        std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0xff, 0xfe00, n),
        5683,
        0,
        0,
    )
}

fn ep(seed: u64) -> Endpoint {
    Endpoint::new(Config::default(), &mut SplitMix(seed))
}

fn get(path: &str) -> Message {
    Message::request(MessageType::Confirmable, Code::GET, path)
}

fn drain(e: &mut Endpoint, now: Instant) -> Vec<(SocketAddrV6, Vec<u8>)> {
    std::iter::from_fn(|| e.poll_transmit(now)).collect()
}

fn events(e: &mut Endpoint) -> Vec<CoapEvent> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

const T0: Instant = Instant::ZERO;

#[test]
fn piggybacked_response() {
    let (mut c, mut s) = (ep(1), ep(2));
    let token = c.request(T0, addr(2), get("a/as")).unwrap();
    let out = drain(&mut c, T0);
    assert_eq!(out.len(), 1);
    let inc = s.handle_datagram(T0, addr(1), &out[0].1).unwrap();
    assert_eq!(inc.request.uri_path(), "a/as");
    assert_eq!(inc.request.token(), token.as_slice());
    assert_eq!(inc.request.token().len(), 2);
    let mut resp = Message::new(MessageType::Acknowledgement, Code::CHANGED, 0);
    resp.payload = vec![0];
    s.respond(T0, addr(1), &inc.request, resp);
    let back = drain(&mut s, T0);
    let ack = Message::parse(&back[0].1).unwrap();
    assert_eq!(ack.mtype, MessageType::Acknowledgement);
    assert_eq!(ack.message_id, inc.request.message_id);
    assert_eq!(c.handle_datagram(T0, addr(2), &back[0].1), None);
    match &events(&mut c)[..] {
        [CoapEvent::Response {
            token: t,
            peer,
            msg,
        }] => {
            assert_eq!((*t, *peer, msg.code), (token, addr(2), Code::CHANGED));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!((c.in_flight(), c.poll_timeout()), (0, None));
}

#[test]
fn retransmissions_back_off_then_time_out() {
    let mut c = ep(3);
    let token = c.request(T0, addr(2), get("x")).unwrap();
    let first = drain(&mut c, T0);
    let mut sends = vec![T0];
    let mut now = T0;
    while let Some(t) = c.poll_timeout() {
        now = t;
        c.handle_timeout(now);
        let out = drain(&mut c, now);
        if !out.is_empty() {
            assert_eq!(out[0].1, first[0].1, "a retransmission is the same message");
            sends.push(now);
        }
    }
    // MAX_RETRANSMIT = 4: five transmissions in all.
    assert_eq!(sends.len(), 5);
    let gaps: Vec<u64> = sends
        .windows(2)
        .map(|w| (w[1] - w[0]).as_micros())
        .collect();
    // The first timeout lies in [ACK_TIMEOUT, ACK_TIMEOUT * 1.5]; each next one doubles.
    assert!((2_000_000..=3_000_000).contains(&gaps[0]), "{gaps:?}");
    for w in gaps.windows(2) {
        assert_eq!(w[1], 2 * w[0]);
    }
    // Given up one (doubled) timeout after the last transmission, within MAX_TRANSMIT_WAIT.
    let total = (now - T0).as_micros();
    assert_eq!(total, gaps[0] * 31);
    assert!(total <= 93_000_000);
    assert_eq!(events(&mut c), [CoapEvent::Timeout { token }]);
    assert_eq!(c.stats().retransmissions, 4);
}

#[test]
fn duplicate_requests_are_answered_from_the_cache() {
    let (mut c, mut s) = (ep(4), ep(5));
    c.request(T0, addr(2), get("d")).unwrap();
    let req = drain(&mut c, T0).remove(0).1;
    let inc = s.handle_datagram(T0, addr(1), &req).unwrap();
    s.respond(
        T0,
        addr(1),
        &inc.request,
        Message::new(MessageType::Acknowledgement, Code::CONTENT, 0),
    );
    let ack = drain(&mut s, T0).remove(0).1;
    // The ACK is lost; the client retransmits; the server answers again, the application
    // does not see the request twice.
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    let again = drain(&mut c, t).remove(0).1;
    assert_eq!(s.handle_datagram(t, addr(1), &again), None);
    assert_eq!(drain(&mut s, t), [(addr(1), ack.clone())]);
    assert_eq!(s.stats().duplicates, 1);
    // The same message ID from another peer is not a duplicate.
    assert!(s.handle_datagram(t, addr(3), &again).is_some());
    // After EXCHANGE_LIFETIME the ID is forgotten.
    let late = t + Duration::from_secs(248);
    assert!(s.handle_datagram(late, addr(1), &again).is_some());
}

#[test]
fn separate_response() {
    let (mut c, mut s) = (ep(6), ep(7));
    let token = c.request(T0, addr(2), get("slow")).unwrap();
    let req = drain(&mut c, T0).remove(0).1;
    let inc = s.handle_datagram(T0, addr(1), &req).unwrap();
    s.acknowledge(T0, addr(1), &inc.request);
    let empty_ack = drain(&mut s, T0).remove(0).1;
    assert_eq!(c.handle_datagram(T0, addr(2), &empty_ack), None);
    // Acknowledged: no retransmission, a response is awaited up to MAX_TRANSMIT_WAIT.
    assert_eq!(c.poll_timeout(), Some(T0 + Duration::from_secs(93)));
    let later = T0 + Duration::from_secs(10);
    s.respond(
        later,
        addr(1),
        &inc.request,
        Message::new(MessageType::Confirmable, Code::CONTENT, 0),
    );
    let resp = drain(&mut s, later).remove(0).1;
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.mtype, MessageType::Confirmable);
    assert_ne!(m.message_id, inc.request.message_id);
    assert_eq!(m.token(), token.as_slice());
    assert_eq!(s.in_flight(), 1);
    assert_eq!(c.handle_datagram(later, addr(2), &resp), None);
    assert!(matches!(&events(&mut c)[..], [CoapEvent::Response { token: t, .. }] if *t == token));
    // The client ACKs the CON response; the server stops retransmitting it.
    let ack = drain(&mut c, later).remove(0).1;
    assert_eq!(s.handle_datagram(later, addr(1), &ack), None);
    assert_eq!((s.in_flight(), s.poll_timeout()), (0, None));
    // The response again (its ACK lost): ACKed again, no second event.
    assert_eq!(c.handle_datagram(later, addr(2), &resp), None);
    assert_eq!(drain(&mut c, later), [(addr(2), ack)]);
    assert!(events(&mut c).is_empty());
}

#[test]
fn non_confirmable_request_and_response() {
    let (mut c, mut s) = (ep(8), ep(9));
    let mut m = Message::request(MessageType::NonConfirmable, Code::POST, "n");
    m.payload = b"v".to_vec();
    let token = c.request(T0, addr(2), m).unwrap();
    let req = drain(&mut c, T0).remove(0).1;
    let inc = s.handle_datagram(T0, addr(1), &req).unwrap();
    assert_eq!(inc.request.mtype, MessageType::NonConfirmable);
    s.respond(
        T0,
        addr(1),
        &inc.request,
        Message::new(MessageType::NonConfirmable, Code::CHANGED, 0),
    );
    let resp = drain(&mut s, T0).remove(0).1;
    assert_eq!(
        Message::parse(&resp).unwrap().mtype,
        MessageType::NonConfirmable
    );
    assert_eq!(s.in_flight(), 0);
    c.handle_datagram(T0, addr(2), &resp);
    assert!(matches!(&events(&mut c)[..], [CoapEvent::Response { token: t, .. }] if *t == token));
    assert!(
        drain(&mut c, T0).is_empty(),
        "a NON response is not acknowledged"
    );
    // A NON request never answered times out after MAX_TRANSMIT_WAIT, without retransmitting.
    let t2 = c
        .request(
            T0,
            addr(2),
            Message::request(MessageType::NonConfirmable, Code::GET, "n"),
        )
        .unwrap();
    drain(&mut c, T0);
    let due = c.poll_timeout().unwrap();
    assert_eq!(due, T0 + Duration::from_secs(93));
    c.handle_timeout(due);
    assert!(drain(&mut c, due).is_empty());
    assert_eq!(events(&mut c), [CoapEvent::Timeout { token: t2 }]);
}

#[test]
fn resets_pings_and_strays() {
    let (mut c, mut s) = (ep(10), ep(11));
    let token = c.request(T0, addr(2), get("r")).unwrap();
    let req = Message::parse(&drain(&mut c, T0)[0].1).unwrap();
    let rst = Message::empty(MessageType::Reset, req.message_id).to_vec();
    assert_eq!(c.handle_datagram(T0, addr(2), &rst), None);
    assert_eq!(events(&mut c), [CoapEvent::Reset { token }]);
    // A Reset for nothing, an ACK for nothing.
    c.handle_datagram(T0, addr(2), &rst);
    assert_eq!(c.stats().unmatched, 1);
    // CoAP ping (Empty CON): answered with a Reset.
    let ping = Message::empty(MessageType::Confirmable, 0x4242).to_vec();
    assert_eq!(s.handle_datagram(T0, addr(1), &ping), None);
    let r = Message::parse(&drain(&mut s, T0)[0].1).unwrap();
    assert_eq!((r.mtype, r.message_id), (MessageType::Reset, 0x4242));
    // A CON response matching no request: Reset; a NON one: ignored.
    let mut stray = Message::new(MessageType::Confirmable, Code::CONTENT, 9);
    stray.set_token(&[1, 2]).unwrap();
    s.handle_datagram(T0, addr(1), &stray.to_vec());
    assert_eq!(
        Message::parse(&drain(&mut s, T0)[0].1).unwrap().mtype,
        MessageType::Reset
    );
    stray.mtype = MessageType::NonConfirmable;
    stray.message_id = 10;
    s.handle_datagram(T0, addr(1), &stray.to_vec());
    assert!(drain(&mut s, T0).is_empty());
    // A piggybacked response with the wrong token is not taken.
    let t = c.request(T0, addr(2), get("w")).unwrap();
    let req = Message::parse(&drain(&mut c, T0)[0].1).unwrap();
    let mut wrong = Message::new(MessageType::Acknowledgement, Code::CONTENT, req.message_id);
    wrong.set_token(&[0xee; 3]).unwrap();
    c.handle_datagram(T0, addr(2), &wrong.to_vec());
    assert!(events(&mut c).is_empty());
    assert_eq!(c.in_flight(), 1);
    // From another peer, the right ACK is not taken either.
    let mut right = wrong.clone();
    right.set_token(t.as_slice()).unwrap();
    c.handle_datagram(T0, addr(9), &right.to_vec());
    assert_eq!(c.in_flight(), 1);
}

#[test]
fn malformed_and_bounds() {
    let mut s = ep(12);
    // A CON with a reserved token length: Reset with its Message ID; garbage: counted only.
    assert_eq!(s.handle_datagram(T0, addr(1), &[0x49, 1, 0x12, 0x34]), None);
    let r = Message::parse(&drain(&mut s, T0)[0].1).unwrap();
    assert_eq!((r.mtype, r.message_id), (MessageType::Reset, 0x1234));
    s.handle_datagram(T0, addr(1), &[0xff, 0]);
    assert_eq!(s.stats().malformed, 2);
    assert!(drain(&mut s, T0).is_empty());
    // Requests in flight are bounded.
    let mut c = Endpoint::new(
        Config {
            max_outstanding: 2,
            ..Config::default()
        },
        &mut SplitMix(1),
    );
    c.request(T0, addr(2), get("1")).unwrap();
    c.request(T0, addr(2), get("2")).unwrap();
    assert_eq!(c.request(T0, addr(2), get("3")), Err(RequestError::Busy(2)));
    let resp = Message::new(MessageType::Confirmable, Code::CONTENT, 0);
    assert_eq!(
        c.request(T0, addr(2), resp),
        Err(RequestError::NotARequest(Code::CONTENT))
    );
    // Options survive the endpoint.
    let mut m = get("a/b");
    m.set_option_uint(option::CONTENT_FORMAT, 42);
    c = ep(2);
    c.request(T0, addr(2), m).unwrap();
    let sent = Message::parse(&drain(&mut c, T0)[0].1).unwrap();
    assert_eq!(
        (sent.uri_path(), sent.content_format()),
        ("a/b".into(), Some(42))
    );
}

/// A client and a server over a link that drops datagrams by a pattern; every request ends
/// in exactly one response or timeout, and the server's application sees each request once.
fn lossy_exchange(seed: u64, loss_percent: u64, n: usize) -> (usize, usize, usize) {
    let (mut c, mut s) = (ep(seed), ep(seed ^ 0xabc));
    let mut loss = SplitMix(seed.wrapping_mul(31));
    let mut now = T0;
    let mut tokens = Vec::new();
    let mut seen_by_app = Vec::new();
    for i in 0..n {
        let mut m = get("p");
        m.payload = (i as u32).to_be_bytes().to_vec();
        tokens.push(c.request(now, addr(2), m).unwrap());
    }
    let (mut responses, mut timeouts) = (0, 0);
    let mut finished = std::collections::HashSet::new();
    for _ in 0..100_000 {
        let mut moved = false;
        while let Some((_, b)) = c.poll_transmit(now) {
            moved = true;
            if loss.next_u64() % 100 >= loss_percent {
                if let Some(inc) = s.handle_datagram(now, addr(1), &b) {
                    seen_by_app.push(inc.request.payload.clone());
                    let mut r = Message::new(MessageType::Acknowledgement, Code::CONTENT, 0);
                    r.payload = inc.request.payload.clone();
                    s.respond(now, addr(1), &inc.request, r);
                }
            }
        }
        while let Some((_, b)) = s.poll_transmit(now) {
            moved = true;
            if loss.next_u64() % 100 >= loss_percent {
                c.handle_datagram(now, addr(2), &b);
            }
        }
        while let Some(e) = c.poll_event() {
            let t = match e {
                CoapEvent::Response { token, msg, .. } => {
                    let i = tokens.iter().position(|t| *t == token).unwrap();
                    assert_eq!(msg.payload, (i as u32).to_be_bytes());
                    responses += 1;
                    token
                }
                CoapEvent::Timeout { token } => {
                    timeouts += 1;
                    token
                }
                CoapEvent::Reset { .. } => panic!("no reset expected"),
            };
            assert!(finished.insert(t), "one outcome per request");
        }
        if moved {
            continue;
        }
        match c.poll_timeout() {
            Some(t) => {
                now = t;
                c.handle_timeout(now);
            }
            None => break,
        }
    }
    let mut distinct = seen_by_app.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        seen_by_app.len(),
        "each request reaches the application once"
    );
    (responses, timeouts, seen_by_app.len())
}

#[test]
fn lossy_link_every_request_ends_once() {
    let (r, t, _) = lossy_exchange(42, 0, 8);
    assert_eq!((r, t), (8, 0));
    let (r, t, app) = lossy_exchange(43, 30, 8);
    assert_eq!(r + t, 8);
    assert!(
        r >= 6,
        "at 30 % loss with 4 retransmissions most succeed: {r}"
    );
    assert!(app >= r);
    let (r, t, _) = lossy_exchange(44, 100, 4);
    assert_eq!((r, t), (0, 4));
}

proptest! {
    #[test]
    fn random_datagrams_never_panic(b in proptest::collection::vec(any::<u8>(), 0..60), seed in any::<u64>()) {
        let mut e = ep(seed);
        let _ = e.request(T0, addr(2), get("z"));
        let _ = e.handle_datagram(T0, addr(2), &b);
        let mut with_header = vec![0x40 | (seed as u8 & 0x30), seed as u8, 0, 0];
        with_header.extend_from_slice(&b);
        let _ = e.handle_datagram(T0, addr(2), &with_header);
        e.handle_timeout(T0 + Duration::from_secs(1000));
    }

    #[test]
    fn lossy_exchanges_end_once(seed in any::<u64>(), loss in 0u64..60) {
        let (r, t, _) = lossy_exchange(seed, loss, 4);
        prop_assert_eq!(r + t, 4);
    }
}
