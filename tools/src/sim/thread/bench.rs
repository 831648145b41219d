//! `weft bench sim154`: a generated Thread network (routers on a grid, children scattered) on
//! the 802.15.4 medium for a stretch of virtual time, with medium events off, measured in wall
//! seconds on one core.

use std::time::Instant as WallClock;

use weft_mesh::thread::node::ThreadEvent;
use weft_mesh::{Duration, Instant};
use weft_radio::sim::ieee802154::Event;

use super::{build, grid_layout, medium_config, network};

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchRun {
    pub wall_s: f64,
    pub frames: u64,
    pub acks: u64,
    pub collisions: u64,
    pub attached: u64,
    pub data_sent: u64,
    pub data_received: u64,
}

/// Runs `routers` routers and `nodes - routers` children for `seconds` virtual seconds.
pub fn run(routers: usize, nodes: usize, seconds: f64, seed: u64) -> BenchRun {
    let layout = grid_layout(routers, nodes.saturating_sub(routers), seed);
    let net = network(&layout, seed);
    let t = WallClock::now();
    let mut medium = build(
        &layout,
        &net,
        medium_config(0.0, false),
        seed,
        Duration::from_secs(30),
    );
    let end = Instant::from_micros((seconds * 1e6) as u64);
    let mut r = BenchRun {
        wall_s: 0.0,
        frames: 0,
        acks: 0,
        collisions: 0,
        attached: 0,
        data_sent: 0,
        data_received: 0,
    };
    let mut now = Instant::ZERO;
    while now < end {
        now = (now + Duration::from_secs(10)).min(end);
        medium.run_until(now);
        // Station events are always recorded: drain them so that memory stays bounded.
        for e in medium.drain_events() {
            if let Event::Station { event, .. } = e {
                match event {
                    ThreadEvent::Attached { .. } => r.attached += 1,
                    ThreadEvent::DataSent { .. } => r.data_sent += 1,
                    ThreadEvent::DataReceived { .. } => r.data_received += 1,
                    _ => {}
                }
            }
        }
    }
    r.wall_s = t.elapsed().as_secs_f64();
    let st = medium.stats();
    r.frames = st.frames_sent;
    r.acks = st.acks_sent;
    r.collisions = st.collisions;
    r
}
