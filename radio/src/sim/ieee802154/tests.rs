use std::collections::{BTreeSet, VecDeque};

use weft_mesh::thread::mac::{Address, Body, ExtAddress, Frame, FrameType, FrameVersion};
use weft_mesh::thread::radio::{Ieee802154Station, MacSettings};
use weft_mesh::wire::Wire;
use weft_mesh::{Bearer, Instant, RxFrame, Station, TxDone, TxFrame, TxStatus};

use super::*;

const PAN: u16 = 0xface;

/// A station that hands its radio scripted frames at scripted times and keeps what it hears.
#[derive(Debug)]
struct Scripted {
    settings: MacSettings,
    script: VecDeque<(Instant, Vec<u8>)>,
    outbox: VecDeque<Vec<u8>>,
    heard: Vec<(Instant, Vec<u8>, Option<i8>)>,
    /// The transmit statuses its radio reported.
    done: Vec<TxDone>,
    /// The source address its source-match answer holds a frame for.
    holds_for: Option<Address>,
}

impl Scripted {
    fn new(id: u8, channel: u8, short: u16) -> Self {
        Scripted {
            settings: MacSettings {
                channel,
                pan_id: PAN,
                ext_address: ext(id),
                short_address: Some(short),
            },
            script: VecDeque::new(),
            outbox: VecDeque::new(),
            heard: Vec::new(),
            done: Vec::new(),
            holds_for: None,
        }
    }
    fn send_at(mut self, at_us: u64, frame: Vec<u8>) -> Self {
        self.script.push_back((Instant::from_micros(at_us), frame));
        self
    }
}

impl Station for Scripted {
    type Event = ();
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        assert_eq!(frame.bearer, Bearer::Ieee802154);
        self.heard.push((now, frame.bytes.clone(), frame.rssi));
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        self.outbox.pop_front().map(|bytes| TxFrame {
            bearer: Bearer::Ieee802154,
            bytes,
        })
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.script.front().map(|(t, _)| *t)
    }
    fn handle_timeout(&mut self, now: Instant) {
        while self.script.front().is_some_and(|(t, _)| *t <= now) {
            let (_, f) = self.script.pop_front().unwrap();
            self.outbox.push_back(f);
        }
    }
    fn handle_tx_done(&mut self, _now: Instant, done: &TxDone) {
        self.done.push(*done);
    }
}

impl Ieee802154Station for Scripted {
    fn mac_settings(&self) -> MacSettings {
        self.settings
    }
    fn frame_pending(&self, src: &Address) -> bool {
        self.holds_for.as_ref() == Some(src)
    }
}

fn ext(id: u8) -> ExtAddress {
    ExtAddress([0x12, 0x34, 0, 0, 0, 0, 0, id])
}

/// A 2006 data frame from `src` (extended) to `dst` with `len` octets of payload.
fn frame(src: u8, dst: Address, seq: u8, ar: bool, len: usize) -> Vec<u8> {
    Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: false,
        ack_request: ar,
        pan_id_compression: true,
        sequence_number: Some(seq),
        dst_pan: Some(PAN),
        dst,
        src_pan: None,
        src: Address::Extended(ext(src)),
        security: None,
        header_ies: Vec::new(),
        body: Body::Open {
            payload_ies: Vec::new(),
            payload: vec![0xa5; len],
        },
    }
    .to_vec()
}

const BCAST: Address = Address::Short(0xffff);

fn at(x: f64) -> Placement {
    Placement::At { x, y: 0.0 }
}

fn run(m: &mut Medium<Scripted>, us: u64) -> Vec<Event<()>> {
    m.run_until(Instant::from_micros(us));
    m.drain_events().collect()
}

#[test]
fn airtime_follows_the_oqpsk_phy() {
    // 6 octets of SHR and PHR, the frame, 2 of FCS, at 32 µs each.
    assert_eq!(airtime(0).as_micros(), 8 * 32);
    assert_eq!(airtime(125).as_micros(), 4256);
    assert_eq!(MAX_AIRTIME_US, 4256);
    assert_eq!(airtime(3).as_micros(), 352, "an Imm-Ack");
    assert_eq!(
        (UNIT_BACKOFF_US, CCA_US, TURNAROUND_US, ACK_WAIT_US),
        (320, 128, 192, 864)
    );
    // One frame: it starts after backoff + CCA + turnaround and is heard when it ends.
    let f = frame(1, BCAST, 7, false, 40);
    let len = f.len();
    let mut m = Medium::new(MediumConfig::default(), 1);
    m.add_node(Scripted::new(1, 15, 1).send_at(0, f), at(0.0));
    let b = m.add_node(Scripted::new(2, 15, 2), at(10.0));
    let ev = run(&mut m, 100_000);
    let tx = ev
        .iter()
        .find_map(|e| match e {
            Event::Tx { at, len: l, .. } => Some((*at, *l)),
            _ => None,
        })
        .unwrap();
    assert_eq!(tx.1, len);
    let start = tx.0.as_micros();
    assert_eq!((start - CCA_US - TURNAROUND_US) % UNIT_BACKOFF_US, 0);
    assert!(start - CCA_US - TURNAROUND_US <= 7 * UNIT_BACKOFF_US);
    let heard = &m.node(b).heard;
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0.as_micros(), start + airtime(len).as_micros());
    // 10 m at exponent 3: 0 dBm - 40 - 30 = -70 dBm.
    assert_eq!(heard[0].2, Some(-70));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::TxDone {
            outcome: TxOutcome::Sent,
            ..
        }
    )));
}

#[test]
fn csma_backoff_draws_every_slot_of_the_first_window_and_no_other() {
    // A lone sender: each frame waits random(0..2^3 - 1) unit backoff periods, then CCA and
    // turnaround.
    let mut s = Scripted::new(1, 15, 1);
    let n = 400u64;
    for i in 0..n {
        s = s.send_at(i * 50_000, frame(1, BCAST, i as u8, false, 10));
    }
    let mut m = Medium::new(MediumConfig::default(), 3);
    m.add_node(s, at(0.0));
    let ev = run(&mut m, n * 50_000);
    let slots: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Tx { at, .. } => {
                let into = at.as_micros() % 50_000 - CCA_US - TURNAROUND_US;
                assert_eq!(into % UNIT_BACKOFF_US, 0);
                Some(into / UNIT_BACKOFF_US)
            }
            _ => None,
        })
        .collect();
    assert_eq!(slots.len(), n as usize);
    let set: BTreeSet<u64> = slots.iter().copied().collect();
    assert_eq!(set, (0..8).collect(), "macMinBe 3: slots 0..=7");
}

#[test]
fn a_busy_channel_makes_the_backoff_exponent_grow_until_access_fails() {
    // B's frame is queued while A's long frame is on the air: CCA busy each time until NB
    // exceeds macMaxCsmaBackoffs... with no backoffs allowed, at once.
    let cfg = MediumConfig {
        mac: MacParams {
            min_be: 0,
            max_csma_backoffs: 0,
            ..MacParams::default()
        },
        ..MediumConfig::default()
    };
    let mut m = Medium::new(cfg, 1);
    m.add_node(
        Scripted::new(1, 15, 1).send_at(0, frame(1, BCAST, 1, false, 110)),
        at(0.0),
    );
    let b = m.add_node(
        Scripted::new(2, 15, 2).send_at(1000, frame(2, BCAST, 1, false, 10)),
        at(5.0),
    );
    let ev = run(&mut m, 100_000);
    assert!(ev.iter().any(|e| matches!(e, Event::TxDone { node, outcome: TxOutcome::ChannelAccessFailure, .. } if *node == b)));
    assert_eq!(m.stats().cca_busy, 1);
    assert_eq!(m.stats().channel_access_failures, 1);
    assert_eq!(m.stats().frames_sent, 1);
    // With the standard's parameters the second sender backs off (BE 3, 4, 5, 5, 5: at most
    // 7 + 15 + 31 + 31 + 31 periods) and gets through after A's frame.
    let mut m = Medium::new(MediumConfig::default(), 1);
    let a = m.add_node(
        Scripted::new(1, 15, 1).send_at(0, frame(1, BCAST, 1, false, 110)),
        at(0.0),
    );
    m.add_node(
        Scripted::new(2, 15, 2).send_at(2000, frame(2, BCAST, 1, false, 10)),
        at(5.0),
    );
    let ev = run(&mut m, 100_000);
    assert!(m.stats().cca_busy >= 1);
    assert_eq!(m.stats().channel_access_failures, 0);
    assert_eq!(m.stats().collisions, 0);
    assert_eq!(m.node(a).heard.len(), 1);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(
                e,
                Event::TxDone {
                    outcome: TxOutcome::Sent,
                    ..
                }
            ))
            .count(),
        2
    );
}

#[test]
fn an_addressed_frame_with_ar_is_acknowledged_by_the_receivers_radio() {
    let mut m = Medium::new(MediumConfig::default(), 5);
    let a = m.add_node(
        Scripted::new(1, 15, 0x0400)
            .send_at(0, frame(1, Address::Short(0x0401), 9, true, 30))
            .send_at(50_000, frame(1, Address::Extended(ext(2)), 10, true, 30))
            .send_at(100_000, frame(1, BCAST, 11, true, 30)),
        at(0.0),
    );
    let b = m.add_node(Scripted::new(2, 15, 0x0401), at(8.0));
    let ev = run(&mut m, 200_000);
    let outcomes: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::TxDone { node, outcome, .. } if *node == a => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [TxOutcome::Acked, TxOutcome::Acked, TxOutcome::Sent],
        "a broadcast is never acknowledged"
    );
    assert_eq!(m.stats().acks_sent, 2);
    assert_eq!(m.stats().acked, 2);
    assert_eq!(m.node(b).heard.len(), 3);
    // The stations never see acks.
    assert!(m.node(a).heard.is_empty());
    // The ack starts aTurnaroundTime after the frame ended.
    let txs: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Tx {
                at, node, len, ack, ..
            } => Some((*at, *node, *len, *ack)),
            _ => None,
        })
        .collect();
    let (t0, _, len0, _) = txs[0];
    let (t1, n1, len1, ack1) = txs[1];
    assert!(ack1 && n1 == b && len1 == 3);
    assert_eq!(
        t1.as_micros(),
        t0.as_micros() + airtime(len0).as_micros() + TURNAROUND_US
    );
}

#[test]
fn a_frame_nobody_acknowledges_is_retried_max_frame_retries_times() {
    let mut m = Medium::new(MediumConfig::default(), 5);
    // To a short address nobody has: B's filter rejects it, nobody acks.
    let a = m.add_node(
        Scripted::new(1, 15, 0x0400).send_at(0, frame(1, Address::Short(0x0bad), 1, true, 20)),
        at(0.0),
    );
    let b = m.add_node(Scripted::new(2, 15, 0x0401), at(8.0));
    let ev = run(&mut m, 500_000);
    assert!(ev.iter().any(|e| matches!(e, Event::TxDone { node, outcome: TxOutcome::NoAck, retries: 3, .. } if *node == a)));
    let st = m.stats();
    assert_eq!(
        (st.frames_sent, st.retries, st.ack_timeouts, st.no_ack),
        (4, 3, 4, 1)
    );
    assert_eq!(st.filtered, 4);
    assert!(m.node(b).heard.is_empty());

    // B hears A but A never hears B: every ack is lost, B gets the frame four times.
    let mut m = Medium::new(MediumConfig::default(), 5);
    let a = m.add_node(
        Scripted::new(1, 15, 0x0400).send_at(0, frame(1, Address::Short(0x0401), 1, true, 20)),
        at(0.0),
    );
    let b = m.add_node(Scripted::new(2, 15, 0x0401), at(8.0));
    m.set_link_directed(
        b,
        a,
        Link {
            rssi_dbm: -60,
            loss: 1.0,
        },
    );
    let ev = run(&mut m, 500_000);
    assert_eq!(m.node(b).heard.len(), 4);
    assert_eq!(m.stats().acks_sent, 4);
    assert_eq!(m.stats().loss, 4);
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::TxDone {
            outcome: TxOutcome::NoAck,
            ..
        }
    )));
}

#[test]
fn overlapping_frames_on_one_channel_collide_and_other_channels_do_not_interfere() {
    // min_be 0: A and B do their CCA at the same instant, both find the channel idle and both
    // send; C between them hears both frames spoiled. D, on channel 20, sends at the same time
    // and E (on 20) hears it intact.
    let cfg = MediumConfig {
        mac: MacParams {
            min_be: 0,
            ..MacParams::default()
        },
        ..MediumConfig::default()
    };
    let mut m = Medium::new(cfg, 1);
    m.add_node(
        Scripted::new(1, 15, 1).send_at(0, frame(1, BCAST, 1, false, 20)),
        at(0.0),
    );
    m.add_node(
        Scripted::new(2, 15, 2).send_at(0, frame(2, BCAST, 1, false, 20)),
        at(20.0),
    );
    let c = m.add_node(Scripted::new(3, 15, 3), at(10.0));
    m.add_node(
        Scripted::new(4, 20, 4).send_at(0, frame(4, BCAST, 1, false, 20)),
        at(11.0),
    );
    let e = m.add_node(Scripted::new(5, 20, 5), at(12.0));
    let ev = run(&mut m, 100_000);
    assert!(m.node(c).heard.is_empty());
    assert_eq!(m.node(e).heard.len(), 1);
    let collisions_at_c = ev
        .iter()
        .filter(|x| matches!(x, Event::Drop { to, reason: DropReason::Collision, .. } if *to == c))
        .count();
    assert_eq!(collisions_at_c, 2);
    // A and B hear each other's frame as half duplex (each was sending).
    assert_eq!(m.stats().half_duplex, 2);
    // Without collision modelling C hears both.
    let mut cfg = m.config().clone();
    cfg.collisions = false;
    let mut m = Medium::new(cfg, 1);
    m.add_node(
        Scripted::new(1, 15, 1).send_at(0, frame(1, BCAST, 1, false, 20)),
        at(0.0),
    );
    m.add_node(
        Scripted::new(2, 15, 2).send_at(0, frame(2, BCAST, 1, false, 20)),
        at(20.0),
    );
    let c = m.add_node(Scripted::new(3, 15, 3), at(10.0));
    run(&mut m, 100_000);
    assert_eq!(m.node(c).heard.len(), 2);
}

#[test]
fn with_capture_the_stronger_of_two_overlapping_frames_gets_through() {
    // C is 3 m from A and 17 m from B: A's frame is far stronger at C, B's far weaker.
    let cfg = MediumConfig {
        mac: MacParams {
            min_be: 0,
            ..MacParams::default()
        },
        capture_threshold_db: Some(6.0),
        ..MediumConfig::default()
    };
    let mut m = Medium::new(cfg, 1);
    m.add_node(
        Scripted::new(1, 15, 1).send_at(0, frame(1, BCAST, 1, false, 20)),
        at(0.0),
    );
    m.add_node(
        Scripted::new(2, 15, 2).send_at(0, frame(2, BCAST, 1, false, 20)),
        at(20.0),
    );
    let c = m.add_node(Scripted::new(3, 15, 3), at(3.0));
    let ev = run(&mut m, 100_000);
    let heard = &m.node(c).heard;
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].1, frame(1, BCAST, 1, false, 20));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Drop { to, reason: DropReason::Collision, .. } if *to == c)));
}

#[test]
fn the_frame_filter_rejects_other_pans_and_addresses() {
    let mut other_pan = frame(1, Address::Short(0x0401), 1, false, 5);
    other_pan[3..5].copy_from_slice(&0x1234u16.to_le_bytes());
    let mut m = Medium::new(MediumConfig::default(), 2);
    m.add_node(
        Scripted::new(1, 15, 1)
            .send_at(0, other_pan)
            .send_at(20_000, frame(1, Address::Short(0x0402), 2, false, 5))
            .send_at(40_000, frame(1, Address::Short(0x0401), 3, false, 5))
            .send_at(60_000, vec![0xff, 0xff, 0xff]),
        at(0.0),
    );
    let b = m.add_node(Scripted::new(2, 15, 0x0401), at(3.0));
    run(&mut m, 100_000);
    assert_eq!(m.node(b).heard.len(), 1);
    assert_eq!(m.stats().filtered, 3);
}

#[test]
fn frames_the_radio_cannot_send_are_rejected() {
    let mut m = Medium::new(MediumConfig::default(), 2);
    let a = m.add_node(
        Scripted::new(1, 15, 1).send_at(0, vec![0x41; MAX_PSDU - 1]),
        at(0.0),
    );
    let mut off = Scripted::new(2, 27, 2).send_at(0, frame(2, BCAST, 1, false, 1));
    off.settings.channel = 27;
    m.add_node(off, at(1.0));
    let ev = run(&mut m, 100_000);
    assert_eq!(m.stats().rejected, 2);
    assert_eq!(m.stats().frames_sent, 0);
    assert!(ev.iter().any(
        |e| matches!(e, Event::TxDone { node, outcome: TxOutcome::Rejected, .. } if *node == a)
    ));
}

/// A busy little network: every node broadcasts and unicasts to its neighbour.
fn busy(seed: u64, loss: f64) -> (Vec<String>, Stats) {
    let cfg = MediumConfig {
        loss,
        ..MediumConfig::default()
    };
    let mut m = Medium::new(cfg, seed);
    for i in 0..20u8 {
        let mut s = Scripted::new(i, 15, 0x0400 + i as u16);
        for k in 0..30u64 {
            let dst = if k % 2 == 0 {
                BCAST
            } else {
                Address::Short(0x0400 + ((i + 1) % 20) as u16)
            };
            s = s.send_at(
                k * 7_000 + i as u64 * 13,
                frame(i, dst, k as u8, k % 2 == 1, 40),
            );
        }
        m.add_node(
            s,
            Placement::At {
                x: (i % 5) as f64 * 6.0,
                y: (i / 5) as f64 * 6.0,
            },
        );
    }
    let ev = run(&mut m, 2_000_000);
    (ev.iter().map(|e| format!("{e:?}")).collect(), *m.stats())
}

#[test]
fn one_seed_replays_a_run_exactly() {
    let (a, sa) = busy(7, 0.1);
    let (b, sb) = busy(7, 0.1);
    assert_eq!(sa, sb);
    assert_eq!(a, b);
    let (c, _) = busy(8, 0.1);
    assert_ne!(a, c);
    // The busy network exercises every path.
    assert!(
        sa.collisions > 0 && sa.cca_busy > 0 && sa.acked > 0 && sa.retries > 0,
        "{sa:?}"
    );
    assert!(sa.loss > 0 && sa.delivered > 0);
}

fn done(seq: u8, status: TxStatus, frame_pending: bool) -> TxDone {
    TxDone {
        bearer: Bearer::Ieee802154,
        sequence_number: Some(seq),
        status,
        frame_pending,
    }
}

#[test]
fn each_station_is_told_how_each_of_its_frames_ended_in_order() {
    let mut m = Medium::new(MediumConfig::default(), 5);
    let a = m.add_node(
        Scripted::new(1, 15, 1)
            .send_at(0, frame(1, BCAST, 1, false, 10))
            .send_at(0, frame(1, Address::Short(2), 2, true, 10))
            .send_at(0, frame(1, Address::Short(9), 3, true, 10))
            .send_at(0, vec![0x41; 200]),
        at(0.0),
    );
    m.add_node(Scripted::new(2, 15, 2), at(10.0));
    run(&mut m, 1_000_000);
    let told = &m.node(a).done;
    assert_eq!(
        told,
        &vec![
            TxDone {
                sequence_number: None,
                ..done(0, TxStatus::Failed, false)
            },
            done(1, TxStatus::Sent, false),
            done(2, TxStatus::Acked, false),
            done(3, TxStatus::NoAck, false),
        ],
        "the refused one at once, the others as they ended"
    );
}

/// A MAC command frame (2006, PAN ID compression, extended source) from `src` to `dst`.
fn command(src: u8, dst: Address, seq: u8, id: u8) -> Vec<u8> {
    let mut f = Frame::parse(&frame(src, dst, seq, true, 0)).unwrap();
    f.frame_type = FrameType::MacCommand;
    f.body = Body::Open {
        payload_ies: Vec::new(),
        payload: vec![id],
    };
    f.to_vec()
}

#[test]
fn the_ack_of_a_data_request_carries_the_receivers_source_match_answer() {
    let mut m = Medium::new(MediumConfig::default(), 6);
    let mut parent = Scripted::new(2, 15, 0x0400);
    parent.holds_for = Some(Address::Extended(ext(1)));
    m.add_node(parent, at(10.0));
    let child = m.add_node(
        Scripted::new(1, 15, 0x0401)
            // A Data Request: Frame Pending.
            .send_at(0, command(1, Address::Short(0x0400), 1, 0x04))
            // A data frame from the same source: an ack without it.
            .send_at(0, frame(1, Address::Short(0x0400), 2, true, 5))
            // Another command (Beacon Request ID, addressed): without it.
            .send_at(0, command(1, Address::Short(0x0400), 3, 0x07)),
        at(0.0),
    );
    let other = m.add_node(
        Scripted::new(3, 15, 0x0402).send_at(0, command(3, Address::Short(0x0400), 9, 0x04)),
        at(-10.0),
    );
    run(&mut m, 1_000_000);
    assert_eq!(
        m.node(child).done,
        vec![
            done(1, TxStatus::Acked, true),
            done(2, TxStatus::Acked, false),
            done(3, TxStatus::Acked, false),
        ]
    );
    assert_eq!(m.node(other).done, vec![done(9, TxStatus::Acked, false)]);
    assert_eq!(m.stats().acks_frame_pending, 1);
}
