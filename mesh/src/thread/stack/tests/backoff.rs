//! The attach backoff (OpenThread `Mle::Attacher::GetStartDelay`): a detached end device with
//! no parent in range waits longer and longer between attach cycles, up to 1200 s ± 2 s, and
//! still finds a parent that comes into range later.

use super::medium::{creds, Medium};
use super::network::{med, secs};
use crate::frame::{Bearer, Station, TxDone, TxStatus};
use crate::thread::mle::{command as c, MleMessage, MlePayload, Tlv};
use crate::thread::security::KeyManager;
use crate::thread::stack::{Event, Node, Role, ThreadState};
use crate::thread::test_rng::SplitMix;
use crate::time::{Duration, Instant};
use crate::wire::Wire;

/// The Scan Mask of a Parent Request (MLE is MAC-unsecured and, for a Parent Request,
/// MLE-secured: opened with the network key).
fn parent_request_scan(bytes: &[u8], keys: &mut KeyManager) -> Option<u8> {
    let ctx = crate::thread::wire::contexts(creds().mesh_local_prefix);
    let inb = crate::thread::wire::read_frame(bytes, keys, &ctx).ok()?;
    let msg = MleMessage::parse(&inb.data).ok()?;
    let opened = crate::thread::mle::open(&msg, keys, &inb.src, &inb.dst).ok()?;
    let MlePayload { command, tlvs } = opened.payload;
    (command == c::PARENT_REQUEST).then_some(())?;
    tlvs.iter().find_map(|t| match t {
        Tlv::ScanMask(s) => Some(*s),
        _ => None,
    })
}

/// Runs a lone node until `end`: the times of its Parent Requests, with their scan masks.
fn lone_parent_requests(seed: u64, end: Instant) -> Vec<(Instant, u8)> {
    let cr = creds();
    let mut keys = KeyManager::new(cr.network_key, 0);
    let mut rng = SplitMix(seed);
    let state = ThreadState::new(&cr, &mut rng);
    let mut n = Node::new(cr, state, med(), SplitMix(seed + 1), Instant::ZERO);
    let mut sent = Vec::new();
    while let Some(t) = n.poll_timeout().filter(|t| *t <= end) {
        n.handle_timeout(t);
        while n.poll_event().is_some() {}
        while let Some(f) = n.poll_transmit(t) {
            let scan = parent_request_scan(&f.bytes, &mut keys);
            assert!(
                scan.is_some(),
                "a detached end device sends Parent Requests only"
            );
            sent.push((t, scan.unwrap()));
            let seq = crate::thread::mac::Frame::parse(&f.bytes)
                .unwrap()
                .sequence_number;
            n.handle_tx_done(
                t,
                &TxDone {
                    bearer: Bearer::Ieee802154,
                    sequence_number: seq,
                    status: TxStatus::Sent,
                    frame_pending: false,
                },
            );
        }
    }
    assert_eq!(n.role(), Role::Detached);
    sent
}

const MS: u64 = 1000;

#[test]
fn a_lone_end_device_backs_off_between_attach_cycles_up_to_the_maximum() {
    for seed in 1..=5 {
        let reqs = lone_parent_requests(seed, secs(4 * 3600));
        // Each cycle: one Parent Request to routers, 750 ms later one to routers and REEDs.
        assert_eq!(reqs.len() % 2, 0);
        let starts: Vec<u64> = reqs
            .chunks(2)
            .map(|p| {
                assert_eq!((p[0].1, p[1].1), (0x80, 0xc0), "seed {seed}");
                assert_eq!(p[1].0 - p[0].0, Duration::from_millis(750));
                p[0].0.as_micros()
            })
            .collect();
        // The first cycle starts within the start jitter (750 ms).
        assert!(starts[0] < 750 * MS, "seed {seed}: {}", starts[0]);
        // A cycle lasts 750 + 1250 ms; then the k-th backoff: 251 ms << (k - 1) while
        // 2^(k - 1) <= 4780, then 1200 s ± 2 s; each plus 0..50 ms.
        let waits: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0] - 2000 * MS).collect();
        for (i, w) in waits.iter().enumerate() {
            let (lo, hi) = if i <= 12 {
                let d = (251 * MS) << i;
                (d, d + 50 * MS)
            } else {
                (1_198_000 * MS, 1_202_050 * MS)
            };
            assert!((lo..hi).contains(w), "seed {seed}: wait {i} is {w} µs");
        }
        // 13 doubling waits (251 ms .. 1028 s, 2056 s in all), then the maximum.
        assert!(waits.len() >= 13 + 8, "seed {seed}: {} waits", waits.len());
        assert!(waits.iter().all(|w| *w < 1_202_050 * MS));
    }
}

/// A node's first Child role, in virtual time.
fn attached_at(m: &Medium, i: usize) -> Option<Instant> {
    m.events
        .iter()
        .find(|(_, j, e)| {
            *j == i
                && matches!(
                    e,
                    Event::RoleChanged {
                        role: Role::Child,
                        ..
                    }
                )
        })
        .map(|(t, _, _)| *t)
}

#[test]
fn a_parent_coming_into_range_is_found_at_the_next_attempt_after_the_backoff() {
    for seed in 1..=5 {
        let mut m = Medium::new(seed, 0);
        let l = m.add(creds(), Default::default(), seed, Instant::ZERO);
        let e = m.add(creds(), med(), seed + 100, Instant::ZERO);
        // Out of range for 60 s: 8 cycles of 2 s fail, started within 0.75 s and 251 ms <<
        // 0..7 (64 s in all, each plus 0..50 ms) apart; the 9th is due at 80.0..81.2 s.
        m.run_until(secs(60));
        assert_eq!(m.nodes[e].role(), Role::Detached);
        assert_eq!(m.nodes[l].role(), Role::Leader);
        let cycles = m.nodes[e].attach_counter;
        assert_eq!(cycles, 9, "seed {seed}: cycles begun or due");
        m.link(l, e, -60);
        m.run_until(secs(120));
        let t = attached_at(&m, e).expect("attached").as_micros();
        // Not before its next cycle; within that cycle (Parent Request to routers, 750 ms,
        // Child ID Response).
        assert!(
            (secs(80).as_micros()..secs(83).as_micros()).contains(&t),
            "seed {seed}: attached at {t} µs"
        );
        // Attached for 20 s, the backoff starts over: lost, the parent is sought at once.
        m.run_until(secs(200));
        assert_eq!(m.nodes[e].role(), Role::Child);
        m.cut(l, e);
        while m.nodes[e].role() == Role::Child && m.now < secs(600) {
            m.run_for(Duration::from_millis(100));
        }
        assert_eq!(m.nodes[e].role(), Role::Detached);
        assert_eq!(
            m.nodes[e].attach_counter, 1,
            "seed {seed}: counted from 0 again"
        );
    }
}
