//! The simulated medium alone, at scale: N fake stations on a square grid, each sending one
//! 20-octet advertising frame about every second (jittered), for T seconds of virtual time.
//! Prints one JSON object: wall time, realtime factor, frame rates, peak RSS.
//!
//! `cargo bench -p weft-radio --bench sim` runs the full size (10,000 nodes, 60 s); without
//! `--bench` (as under `cargo test --benches`) it runs a small smoke size. Override with the
//! environment: SIM_NODES, SIM_SECS, SIM_SPACING_M, SIM_COLLISIONS (0/1), SIM_SEED.

use std::collections::VecDeque;
use std::time::Instant as WallInstant;

use rand_core::RngCore;
use weft_radio::sim::{station_rng, Placement, SimConfig, Simulator};
use weft_radio::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};

/// Sends a frame every 1 s ± 100 ms, counts what it hears.
#[derive(Debug)]
struct Chatter {
    next: Instant,
    rng: rand_chacha::ChaCha8Rng,
    outbox: VecDeque<TxFrame>,
    heard: u64,
    id: u32,
}

impl Station for Chatter {
    type Event = ();
    fn handle_frame(&mut self, _now: Instant, frame: &RxFrame) {
        self.heard += frame.bytes.len().min(1) as u64;
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        self.outbox.pop_front()
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next)
    }
    fn handle_timeout(&mut self, now: Instant) {
        if now < self.next {
            return;
        }
        let mut bytes = vec![0u8; 20];
        bytes[..4].copy_from_slice(&self.id.to_le_bytes());
        self.outbox.push_back(TxFrame {
            bearer: Bearer::Advertising,
            bytes,
        });
        let jitter = self.rng.next_u64() % 200_000;
        self.next = now + Duration::from_micros(900_000 + jitter);
    }
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size in KiB (VmHWM), if the platform reports it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let nodes: u32 = env("SIM_NODES", if full { 10_000 } else { 400 });
    let secs: u64 = env("SIM_SECS", if full { 60 } else { 2 });
    let spacing: f64 = env("SIM_SPACING_M", 10.0);
    let collisions = env("SIM_COLLISIONS", 1u8) != 0;
    let seed: u64 = env("SIM_SEED", 1);

    let config = SimConfig {
        collisions,
        medium_events: false,
        ..SimConfig::default()
    };
    let side = (nodes as f64).sqrt().ceil() as u32;
    let t0 = WallInstant::now();
    let mut sim = Simulator::new(config, seed);
    for i in 0..nodes {
        let mut rng = station_rng(seed, i as u64);
        let first = Instant::from_micros(rng.next_u64() % 1_000_000);
        sim.add_node(
            Chatter {
                next: first,
                rng,
                outbox: VecDeque::new(),
                heard: 0,
                id: i,
            },
            Placement::At {
                x: (i % side) as f64 * spacing,
                y: (i / side) as f64 * spacing,
            },
        );
    }
    let links = sim.link_count();
    let build_s = t0.elapsed().as_secs_f64();

    let t1 = WallInstant::now();
    sim.run_until(Instant::ZERO + Duration::from_secs(secs));
    let run_s = t1.elapsed().as_secs_f64();
    let s = *sim.stats();
    let heard: u64 = sim.nodes().map(|(_, n)| n.heard).sum();
    assert_eq!(heard, s.delivered);

    println!(
        "{{\"bench\":\"sim\",\"nodes\":{nodes},\"virtual_s\":{secs},\"spacing_m\":{spacing},\
         \"collisions\":{collisions},\"links\":{links},\"mean_neighbours\":{:.1},\
         \"build_wall_s\":{build_s:.3},\"run_wall_s\":{run_s:.3},\"realtime_factor\":{:.2},\
         \"adv_events\":{},\"pdus_sent\":{},\"delivered\":{},\"dropped\":{},\
         \"dropped_collision\":{},\"dropped_half_duplex\":{},\"dropped_not_listening\":{},\
         \"pdus_sent_per_wall_s\":{:.0},\"deliveries_per_wall_s\":{:.0},\
         \"station_calls_per_wall_s\":{:.0},\"peak_rss_mib\":{}}}",
        links as f64 / nodes.max(1) as f64,
        secs as f64 / run_s,
        s.adv_events,
        s.frames_sent,
        s.delivered,
        s.dropped.total(),
        s.dropped.collision,
        s.dropped.half_duplex,
        s.dropped.not_listening,
        s.frames_sent as f64 / run_s,
        s.delivered as f64 / run_s,
        s.station_calls as f64 / run_s,
        peak_rss_kib()
            .map(|k| format!("{:.1}", k as f64 / 1024.0))
            .unwrap_or_else(|| "null".into()),
    );
}
