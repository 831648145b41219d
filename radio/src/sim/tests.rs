use std::sync::{Arc, Mutex};

use super::*;

/// What the fake station reports.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    Heard { tag: u8, rssi: i8, channel: u8 },
    Relayed,
}

/// A fake station: sends `count` frames tagged `tag`, the first at `first`, then every `period`
/// plus up to `jitter` µs; counts what it hears; optionally relays the first frame it hears once.
#[derive(Debug)]
struct Beacon {
    tag: u8,
    len: usize,
    next: Option<Instant>,
    period: Duration,
    jitter: u64,
    remaining: u32,
    rng: ChaCha8Rng,
    outbox: VecDeque<TxFrame>,
    notes: VecDeque<Note>,
    report: bool,
    relay: bool,
    relayed: bool,
    heard: u64,
    heard_at: Vec<(u8, i8, u8, Instant)>,
}

impl Beacon {
    fn new(tag: u8, first: Option<Instant>, period: Duration, count: u32) -> Self {
        Beacon {
            tag,
            len: 20,
            next: first,
            period,
            jitter: 0,
            remaining: count,
            rng: station_rng(0, tag as u64),
            outbox: VecDeque::new(),
            notes: VecDeque::new(),
            report: false,
            relay: false,
            relayed: false,
            heard: 0,
            heard_at: Vec::new(),
        }
    }
    fn silent(tag: u8) -> Self {
        Beacon::new(tag, None, Duration::ZERO, 0)
    }
    fn jitter(mut self, us: u64, rng: ChaCha8Rng) -> Self {
        self.jitter = us;
        self.rng = rng;
        self
    }
    fn reporting(mut self) -> Self {
        self.report = true;
        self
    }
    fn relaying(mut self) -> Self {
        self.relay = true;
        self
    }
    fn frame(&self, tag: u8) -> TxFrame {
        let mut bytes = vec![0u8; self.len];
        bytes[0] = tag;
        TxFrame {
            bearer: Bearer::Advertising,
            bytes,
        }
    }
}

impl Station for Beacon {
    type Event = Note;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        let tag = frame.bytes.first().copied().unwrap_or(0);
        self.heard += 1;
        self.heard_at
            .push((tag, frame.rssi.unwrap_or(0), frame.channel, now));
        if self.report {
            self.notes.push_back(Note::Heard {
                tag,
                rssi: frame.rssi.unwrap_or(0),
                channel: frame.channel,
            });
        }
        if self.relay && !self.relayed {
            self.relayed = true;
            self.outbox.push_back(self.frame(tag | 0x80));
            self.notes.push_back(Note::Relayed);
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        self.outbox.pop_front()
    }
    fn poll_event(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
    fn handle_timeout(&mut self, now: Instant) {
        let Some(next) = self.next else { return };
        if now < next {
            return;
        }
        self.outbox.push_back(self.frame(self.tag));
        self.remaining = self.remaining.saturating_sub(1);
        self.next = if self.remaining == 0 {
            None
        } else {
            let j = if self.jitter > 0 {
                self.rng.next_u64() % self.jitter
            } else {
                0
            };
            Some(now + self.period + Duration::from_micros(j))
        };
    }
}

fn ms(v: u64) -> Instant {
    Instant::from_micros(v * 1000)
}

/// Listens on channel 37 continuously for 1000 s (from offset 0).
fn fixed_scan_37() -> Scan {
    Scan {
        interval: Duration::from_secs(1000),
        window: Duration::from_secs(1000),
        offset: Duration::ZERO,
    }
}

fn good_link() -> Link {
    Link {
        rssi_dbm: -60,
        loss: 0.0,
    }
}

#[test]
fn airtime_on_le_1m() {
    // (1 + 4 + 2 + 6 + len + 3) octets × 8 µs.
    assert_eq!(adv_airtime(0), Duration::from_micros(128));
    assert_eq!(adv_airtime(20), Duration::from_micros(288));
    assert_eq!(adv_airtime(31), Duration::from_micros(376));
}

#[test]
fn delivers_in_range_and_not_out_of_range() {
    let mut sim = Simulator::new(exact(), 1);
    let a = sim.add_node(
        Beacon::new(1, Some(ms(1)), Duration::ZERO, 1),
        Placement::At { x: 0.0, y: 0.0 },
    );
    let b = sim.add_node(Beacon::silent(2), Placement::At { x: 10.0, y: 0.0 });
    let c = sim.add_node(Beacon::silent(3), Placement::At { x: 1000.0, y: 0.0 });
    sim.set_scan(b, fixed_scan_37());
    sim.set_scan(c, fixed_scan_37());
    sim.run_until(ms(100));

    // 0 dBm - 40 dB - 30·log10(10) dB = -70 dBm; the ch 37 PDU ends 288 µs after 1 ms.
    let heard = &sim.node(b).heard_at;
    assert_eq!(heard, &[(1, -70, 37, Instant::from_micros(1288))]);
    assert_eq!(sim.node(c).heard, 0);
    assert_eq!(sim.node(a).heard, 0, "a node does not hear itself");
    assert_eq!(
        sim.neighbours(a),
        vec![(
            b,
            Link {
                rssi_dbm: -70,
                loss: 0.0
            }
        )]
    );

    let s = *sim.stats();
    assert_eq!((s.adv_events, s.frames_sent, s.delivered), (1, 3, 1));
    assert_eq!(s.dropped.not_listening, 2);
    assert_eq!(s.dropped.total(), 2);

    let events: Vec<_> = sim.drain_events().collect();
    let tx: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SimEvent::Tx {
                at, channel, len, ..
            } => Some((*at, *channel, *len)),
            _ => None,
        })
        .collect();
    // PDUs back to back with the 200 µs gap: 1000, 1488, 1976 µs.
    assert_eq!(
        tx,
        vec![
            (Instant::from_micros(1000), 37, 20),
            (Instant::from_micros(1488), 38, 20),
            (Instant::from_micros(1976), 39, 20),
        ]
    );
    assert!(events.contains(&SimEvent::Rx {
        at: Instant::from_micros(1288),
        from: a,
        to: b,
        channel: 37,
        rssi: -70
    }));
    assert!(events.contains(&SimEvent::Drop {
        at: Instant::from_micros(1776),
        from: a,
        to: b,
        channel: 38,
        reason: DropReason::NotListening
    }));
}

#[test]
fn loss_probability_is_respected() {
    let mut sim = Simulator::new(
        SimConfig {
            medium_events: false,
            ..exact()
        },
        7,
    );
    let n = 10_000u32;
    let a = sim.add_node(
        Beacon::new(1, Some(ms(0)), Duration::from_millis(5), n),
        Placement::Unplaced,
    );
    let b = sim.add_node(Beacon::silent(2), Placement::Unplaced);
    sim.set_scan(b, fixed_scan_37());
    sim.set_link(
        a,
        b,
        Link {
            rssi_dbm: -70,
            loss: 0.3,
        },
    );
    sim.run_until(ms(5 * n as u64 + 100));

    let s = *sim.stats();
    assert_eq!(s.adv_events, n as u64);
    assert_eq!(s.dropped.not_listening, 2 * n as u64);
    assert_eq!(s.delivered + s.dropped.loss, n as u64);
    // Binomial(10000, 0.7): mean 7000, sigma ≈ 45.8; allow 5.5 sigma.
    let delivered = s.delivered as i64;
    assert!((delivered - 7000).abs() < 252, "delivered {delivered}");
    assert_eq!(sim.node(b).heard, s.delivered);
}

#[test]
fn full_loss_and_below_sensitivity() {
    let mut sim = Simulator::new(exact(), 3);
    let a = sim.add_node(
        Beacon::new(1, Some(ms(0)), Duration::from_millis(10), 10),
        Placement::Unplaced,
    );
    let b = sim.add_node(Beacon::silent(2), Placement::Unplaced);
    let c = sim.add_node(Beacon::silent(3), Placement::Unplaced);
    sim.set_link(
        a,
        b,
        Link {
            rssi_dbm: -60,
            loss: 1.0,
        },
    );
    sim.set_link(
        a,
        c,
        Link {
            rssi_dbm: -100,
            loss: 0.0,
        },
    );
    sim.set_scan(b, fixed_scan_37());
    sim.set_scan(c, fixed_scan_37());
    sim.run_until(ms(200));
    let s = *sim.stats();
    assert_eq!(s.delivered, 0);
    assert_eq!(s.dropped.loss, 10);
    assert_eq!(s.dropped.below_sensitivity, 30);
    assert_eq!(s.dropped.not_listening, 20);
}

/// Two senders at once, each heard by a receiver; returns what the receiver got and the stats.
fn two_senders(collisions: bool, rssi_a: i8, rssi_b: i8) -> (Vec<u8>, SimStats) {
    let mut sim = Simulator::new(
        SimConfig {
            collisions,
            ..exact()
        },
        5,
    );
    let a = sim.add_node(
        Beacon::new(1, Some(ms(1)), Duration::ZERO, 1),
        Placement::Unplaced,
    );
    // B starts 100 µs later: its ch 37 PDU overlaps A's.
    let b = sim.add_node(
        Beacon::new(2, Some(Instant::from_micros(1100)), Duration::ZERO, 1),
        Placement::Unplaced,
    );
    let r = sim.add_node(Beacon::silent(3), Placement::Unplaced);
    sim.set_link(
        a,
        r,
        Link {
            rssi_dbm: rssi_a,
            loss: 0.0,
        },
    );
    sim.set_link(
        b,
        r,
        Link {
            rssi_dbm: rssi_b,
            loss: 0.0,
        },
    );
    sim.set_scan(r, fixed_scan_37());
    sim.run_until(ms(50));
    let tags = sim.node(r).heard_at.iter().map(|h| h.0).collect();
    (tags, *sim.stats())
}

#[test]
fn collisions_when_enabled() {
    let (tags, s) = two_senders(false, -60, -62);
    assert_eq!(tags, vec![1, 2]);
    assert_eq!(s.dropped.collision, 0);

    let (tags, s) = two_senders(true, -60, -62);
    assert!(tags.is_empty());
    assert_eq!(s.dropped.collision, 2);

    // A is 10 dB stronger: captured over B; B lost.
    let (tags, s) = two_senders(true, -60, -70);
    assert_eq!(tags, vec![1]);
    assert_eq!(s.dropped.collision, 1);
    // Exactly at the threshold (6 dB) capture holds.
    let (tags, _) = two_senders(true, -70, -64);
    assert_eq!(tags, vec![2]);
}

#[test]
fn half_duplex() {
    let mut sim = Simulator::new(exact(), 9);
    // Both advertise at once: neither hears the other on any channel.
    let a = sim.add_node(
        Beacon::new(1, Some(ms(1)), Duration::ZERO, 1),
        Placement::Unplaced,
    );
    let b = sim.add_node(
        Beacon::new(2, Some(ms(1)), Duration::ZERO, 1),
        Placement::Unplaced,
    );
    sim.set_link(a, b, good_link());
    sim.run_until(ms(50));
    let s = *sim.stats();
    assert_eq!(s.delivered, 0);
    assert_eq!(s.dropped.half_duplex, 6);
    assert_eq!(sim.node(a).heard + sim.node(b).heard, 0);

    // Apart in time they hear each other (each receiver scans one channel per interval).
    let mut sim = Simulator::new(exact(), 9);
    let a = sim.add_node(
        Beacon::new(1, Some(ms(1)), Duration::ZERO, 1),
        Placement::Unplaced,
    );
    let b = sim.add_node(
        Beacon::new(2, Some(ms(10)), Duration::ZERO, 1),
        Placement::Unplaced,
    );
    sim.set_link(a, b, good_link());
    sim.set_scan(a, fixed_scan_37());
    sim.set_scan(b, fixed_scan_37());
    sim.run_until(ms(50));
    assert_eq!((sim.node(a).heard, sim.node(b).heard), (1, 1));
    assert_eq!(sim.stats().dropped.half_duplex, 0);
}

/// One jittered sender, `receivers` receivers with random scan offsets; receptions in total.
fn receptions(window_ms: u64, seed: u64) -> u64 {
    let mut sim = Simulator::new(
        SimConfig {
            medium_events: false,
            scan_interval: Duration::from_millis(30),
            scan_window: Duration::from_millis(window_ms),
            ..exact()
        },
        seed,
    );
    let a = sim.add_node(
        Beacon::new(1, Some(ms(0)), Duration::from_millis(20), 200)
            .jitter(10_000, station_rng(seed, 1000)),
        Placement::Unplaced,
    );
    for i in 0..200 {
        let r = sim.add_node(Beacon::silent(i as u8), Placement::Unplaced);
        sim.set_link(a, r, good_link());
    }
    sim.run_until(ms(10_000));
    assert_eq!(sim.stats().adv_events, 200);
    sim.stats().delivered
}

#[test]
fn half_duty_cycle_halves_receptions() {
    let full = receptions(30, 11);
    let half = receptions(15, 11);
    // 200 events × 200 receivers: about one reception each at 100 % duty cycle.
    assert!((36_000..=40_000).contains(&full), "full {full}");
    let ratio = half as f64 / full as f64;
    assert!(
        (0.45..=0.55).contains(&ratio),
        "ratio {ratio} ({half}/{full})"
    );
    assert_eq!(receptions(0, 11), 0);
}

/// A mixed scene: placed and unplaced nodes, jittered beacons, a relay, collisions and loss.
fn trace(seed: u64) -> (String, SimStats) {
    let mut sim = Simulator::new(
        SimConfig {
            collisions: true,
            loss: 0.1,
            ..exact()
        },
        seed,
    );
    for i in 0..40u32 {
        let x = (i % 8) as f64 * 15.0;
        let y = (i / 8) as f64 * 15.0;
        let b = Beacon::new(i as u8, Some(ms(i as u64)), Duration::from_millis(100), 30)
            .jitter(20_000, station_rng(seed, i as u64))
            .reporting();
        let b = if i == 7 { b.relaying() } else { b };
        sim.add_node(b, Placement::At { x, y });
    }
    let u = sim.add_node(Beacon::silent(99).reporting(), Placement::Unplaced);
    sim.set_link(
        NodeId(0),
        u,
        Link {
            rssi_dbm: -80,
            loss: 0.5,
        },
    );
    let mut out = String::new();
    for step in 1..=6 {
        sim.run_until(ms(step * 500));
        for e in sim.drain_events() {
            out.push_str(&format!("{e:?}\n"));
        }
    }
    (out, *sim.stats())
}

#[test]
fn one_seed_one_trace() {
    let (t1, s1) = trace(42);
    let (t2, s2) = trace(42);
    assert_eq!(s1, s2);
    assert!(t1 == t2, "traces differ for one seed");
    assert!(s1.delivered > 1000 && s1.dropped.collision > 0 && s1.dropped.loss > 0);
    assert!(t1.contains("Relayed"));
    let (t3, _) = trace(43);
    assert_ne!(t1, t3);
}

#[test]
fn relay_reaches_past_the_range() {
    let mut sim = Simulator::new(exact(), 2);
    let a = sim.add_node(
        Beacon::new(1, Some(ms(1)), Duration::ZERO, 1),
        Placement::At { x: 0.0, y: 0.0 },
    );
    let b = sim.add_node(
        Beacon::silent(2).relaying(),
        Placement::At { x: 50.0, y: 0.0 },
    );
    let c = sim.add_node(Beacon::silent(3), Placement::At { x: 100.0, y: 0.0 });
    for n in [a, b, c] {
        sim.set_scan(n, fixed_scan_37());
    }
    sim.run_until(ms(100));
    assert_eq!(
        sim.node(c).heard_at.iter().map(|h| h.0).collect::<Vec<_>>(),
        vec![0x81]
    );
    // B relays while A is still in its advertising event: A cannot hear B's PDUs on 37 and
    // 38, nor B A's on 38 and 39 (B's event spans 1288..2552 µs, A's 1000..2264 µs).
    assert_eq!(sim.node(a).heard, 0);
    assert_eq!(sim.stats().dropped.half_duplex, 4);
    let relayed: Vec<_> = sim
        .drain_events()
        .filter_map(|e| match e {
            SimEvent::Station { at, node, event } => Some((at, node, event)),
            _ => None,
        })
        .collect();
    // A's ch 37 PDU ends at 1288 µs; B relays then.
    assert_eq!(
        relayed,
        vec![(Instant::from_micros(1288), b, Note::Relayed)]
    );
}

#[test]
fn scheduled_commands_and_node_mut() {
    let mut sim = Simulator::new(exact(), 4);
    let a = sim.add_node(Beacon::silent(1), Placement::Unplaced);
    let b = sim.add_node(Beacon::silent(2), Placement::Unplaced);
    sim.set_link(a, b, good_link());
    sim.set_scan(b, fixed_scan_37());
    sim.schedule(ms(30), a, |s: &mut Beacon, now| {
        s.next = Some(now);
        s.remaining = 1;
    });
    sim.run_until(ms(20));
    assert_eq!(sim.stats().adv_events, 0);
    sim.run_until(ms(40));
    assert_eq!(sim.stats().adv_events, 1);
    assert_eq!(sim.node(b).heard_at[0].3, Instant::from_micros(30_288));

    // A direct push through node_mut goes out at the current time.
    let f = sim.node(a).frame(5);
    sim.node_mut(a).outbox.push_back(f);
    sim.run_until(ms(60));
    assert_eq!(sim.node(b).heard_at[1].0, 5);
    assert_eq!(sim.node(b).heard_at[1].3, Instant::from_micros(40_288));

    // A command scheduled in the past runs now.
    sim.schedule(ms(1), b, |s: &mut Beacon, _| s.heard = 100);
    assert!(sim.step());
    assert_eq!(sim.node(b).heard, 100);
    assert_eq!(sim.now(), ms(60));
    assert!(!sim.step());
}

#[test]
fn queued_frames_go_out_one_event_after_another() {
    let mut sim = Simulator::new(exact(), 4);
    let a = sim.add_node(Beacon::silent(1), Placement::Unplaced);
    let tap: Arc<Mutex<Vec<(Instant, u8, u8)>>> = Arc::default();
    let t = tap.clone();
    sim.set_air_tap(move |f| t.lock().unwrap().push((f.start, f.channel, f.bytes[0])));
    for tag in [7, 8] {
        let f = sim.node(a).frame(tag);
        sim.node_mut(a).outbox.push_back(f);
    }
    sim.run_until(ms(10));
    let got = tap.lock().unwrap().clone();
    // Event: 288 + 200 + 288 + 200 + 288 = 1264 µs; the next starts 200 µs later.
    let us = Instant::from_micros;
    assert_eq!(
        got,
        vec![
            (us(0), 37, 7),
            (us(488), 38, 7),
            (us(976), 39, 7),
            (us(1464), 37, 8),
            (us(1952), 38, 8),
            (us(2440), 39, 8),
        ]
    );
}

#[test]
fn rejects_oversize_and_other_bearers() {
    let mut sim = Simulator::new(exact(), 4);
    let a = sim.add_node(Beacon::silent(1), Placement::Unplaced);
    let s = sim.node_mut(a);
    s.outbox.push_back(TxFrame {
        bearer: Bearer::Advertising,
        bytes: vec![0; 32],
    });
    s.outbox.push_back(TxFrame {
        bearer: Bearer::Ieee802154,
        bytes: vec![0; 10],
    });
    s.outbox.push_back(TxFrame {
        bearer: Bearer::Advertising,
        bytes: vec![0; 31],
    });
    sim.run_until(ms(10));
    let st = sim.stats();
    assert_eq!(
        (st.rejected_oversize, st.rejected_bearer, st.adv_events),
        (1, 1, 1)
    );
}

/// A station whose timer never advances must not stall the loop (it does nothing else, so
/// other tests use it as a station that stays quiet).
#[derive(Debug)]
pub(crate) struct Stuck;
impl Station for Stuck {
    type Event = ();
    fn handle_frame(&mut self, _: Instant, _: &RxFrame) {}
    fn poll_transmit(&mut self, _: Instant) -> Option<TxFrame> {
        None
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::from_micros(5))
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn a_stuck_timer_does_not_spin() {
    let mut sim = Simulator::new(exact(), 0);
    sim.add_node(Stuck, Placement::Unplaced);
    sim.run_until(ms(1));
    assert_eq!(sim.stats().station_calls, 1);
    assert!(!sim.step());
}

#[test]
fn ten_thousand_nodes_build_and_step() {
    let mut sim = Simulator::new(
        SimConfig {
            medium_events: false,
            collisions: true,
            ..exact()
        },
        8,
    );
    for i in 0..10_000u32 {
        let b = Beacon::new(
            (i % 251) as u8,
            Some(Instant::from_micros((i as u64 * 7919) % 500_000)),
            Duration::from_secs(1),
            1,
        );
        sim.add_node(
            b,
            Placement::At {
                x: (i % 100) as f64 * 20.0,
                y: (i / 100) as f64 * 20.0,
            },
        );
    }
    sim.run_until(ms(500));
    let s = *sim.stats();
    assert_eq!(s.adv_events, 10_000);
    assert!(s.delivered > 100_000, "{s:?}");
    // A corner node hears fewer than a middle one, and both hear something.
    let links = sim.link_count();
    assert!(links > 10_000 * 20, "{links}");
    assert!(sim.neighbours(NodeId(0)).len() < sim.neighbours(NodeId(5050)).len());
}

#[test]
fn simulator_is_send_with_send_stations() {
    fn assert_send<T: Send>() {}
    assert_send::<Simulator<Beacon>>();
}

/// The default configuration without advDelay, for tests that check exact times.
fn exact() -> SimConfig {
    SimConfig {
        adv_delay_max: Duration::ZERO,
        ..SimConfig::default()
    }
}

#[test]
fn adv_delay_desynchronises_advertisers() {
    // With advDelay on, each advertising event starts 0..=10 ms after it was asked for
    // (Core v5.4 Vol 6 Part B §4.4.2.2.1), and the draws differ from event to event.
    let mut sim = Simulator::new(SimConfig::default(), 5);
    sim.add_node(
        Beacon::new(1, Some(Instant::ZERO), Duration::from_millis(100), 20),
        Placement::At { x: 0.0, y: 0.0 },
    );
    let starts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = starts.clone();
    sim.set_air_tap(move |f| {
        if f.channel == 37 {
            s2.lock().unwrap().push(f.start.as_micros());
        }
    });
    sim.run_until(Instant::from_micros(2_000_000));
    let starts = starts.lock().unwrap();
    assert!(starts.len() >= 10);
    let offsets: Vec<u64> = starts.iter().map(|t| t % 100_000).collect();
    assert!(offsets.iter().all(|o| *o <= 10_000), "{offsets:?}");
    let distinct: std::collections::HashSet<_> = offsets.iter().collect();
    assert!(
        distinct.len() > starts.len() / 2,
        "advDelay varies: {offsets:?}"
    );
}

#[test]
fn a_detached_node_is_off_the_air_and_its_slot_can_be_reused() {
    let mut sim = Simulator::new(exact(), 4);
    let a = sim.add_node(Beacon::silent(1), Placement::Unplaced);
    let b = sim.add_node(Beacon::silent(2), Placement::Unplaced);
    let c = sim.add_node(Beacon::silent(3), Placement::Unplaced);
    for (x, y) in [(a, b), (a, c), (b, c)] {
        sim.set_link(x, y, good_link());
    }
    sim.set_scan(b, fixed_scan_37());
    sim.set_scan(c, fixed_scan_37());
    let tap: Arc<Mutex<Vec<(Instant, u8, u8)>>> = Arc::default();
    let t = tap.clone();
    sim.set_air_tap(move |f| t.lock().unwrap().push((f.start, f.channel, f.bytes[0])));
    for tag in [7, 8, 9] {
        let f = sim.node(a).frame(tag);
        sim.node_mut(a).outbox.push_back(f);
    }
    // Mid-event: the PDU on 38 is on the air, two more frames are queued.
    sim.run_until(Instant::from_micros(600));
    assert_eq!(sim.tx_backlog(a), 2);
    assert_eq!(sim.link_count(), 6);
    sim.detach_node(a);
    assert_eq!(sim.tx_backlog(a), 0);
    assert_eq!(sim.link_count(), 2);
    assert!(sim.neighbours(a).is_empty());

    // The slot gets a new station at once, linked to c only; its first event waits for the
    // end of the silenced one.
    *sim.node_mut(a) = Beacon::silent(5);
    sim.set_link(a, c, good_link());
    let f = sim.node(a).frame(5);
    sim.node_mut(a).outbox.push_back(f);
    sim.run_until(ms(20));
    let us = Instant::from_micros;
    assert_eq!(
        tap.lock().unwrap().clone(),
        vec![
            (us(0), 37, 7),
            (us(488), 38, 7),
            (us(1464), 37, 5),
            (us(1952), 38, 5),
            (us(2440), 39, 5),
        ]
    );
    let tags = |n: NodeId, sim: &Simulator<Beacon>| -> Vec<u8> {
        sim.node(n).heard_at.iter().map(|h| h.0).collect()
    };
    assert_eq!(tags(b, &sim), vec![7]);
    assert_eq!(tags(c, &sim), vec![7, 5]);
    assert_eq!(sim.node_count(), 3);
}

#[test]
fn a_detached_node_is_not_woken() {
    let mut sim = Simulator::new(exact(), 4);
    let a = sim.add_node(
        Beacon::new(1, Some(ms(5)), Duration::from_millis(5), 100),
        Placement::At { x: 0.0, y: 0.0 },
    );
    let b = sim.add_node(Beacon::silent(2), Placement::At { x: 1.0, y: 0.0 });
    sim.set_scan(b, fixed_scan_37());
    sim.run_until(ms(12));
    assert_eq!(sim.node(b).heard, 2);
    sim.detach_node(a);
    assert_eq!(sim.position(a), None);
    sim.run_until(ms(100));
    assert_eq!(sim.node(b).heard, 2);
    assert_eq!(sim.node(a).remaining, 98);
    assert_eq!(sim.link_count(), 0);
}
