//! Thread scenarios on the simulated 802.15.4 air (`weft_radio::sim::ieee802154::Medium`):
//! real Thread nodes (`weft_mesh::thread::stack::Node`, through the one adapter
//! [`station::SimStation`]) that form their partition themselves, placed in a layout whose
//! truth (who hears whom, which router is each child's best parent) the report states beside
//! what happened.
//!
//! Built in: `thread-home`, 5 router-eligible nodes and 10 end devices (one a sleepy sensor)
//! in a house of 36 × 20 m whose walls make the path-loss exponent 4.2: the living-room node
//! powers up first and forms the partition as leader; the other four attach and become
//! routers through Address Solicit; the end devices attach to the routers, report readings
//! (CoAP POST) to their parents, the sleepy sensor to the leader through its parent's
//! indirect queue, and the routers ping the leader. A generated layout (router-eligible
//! nodes on a grid, end devices scattered among them) serves the benchmark
//! (`weft bench sim154`).

pub mod bench;
pub(crate) mod pcap;
mod report;
pub mod station;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weft_mesh::thread::dataset::{ActiveDataset, Channel};
use weft_mesh::thread::stack::{Config, Credentials};
use weft_mesh::{Duration, Instant};
use weft_radio::sim::ieee802154::{Medium, MediumConfig};
use weft_radio::sim::{station_rng, Placement};

pub use report::run_thread;
pub(crate) use report::DATA_INTERVAL;
pub use station::{App, SimEvent, SimStation};

/// A Thread station of a scenario.
pub type Station = SimStation;

/// The built-in Thread scenarios: (name, description, nodes, default virtual seconds).
pub const THREAD_BUILTIN: &[(&str, &str, usize, f64)] = &[(
    "thread-home",
    "Thread: 5 routers (one the leader) and 10 end devices (one sleepy) in a house form a partition, then report to their parents",
    15,
    300.0,
)];

/// Whether `name` is a built-in Thread scenario.
pub fn is_thread(name: &str) -> bool {
    THREAD_BUILTIN.iter().any(|(n, ..)| *n == name)
}

/// What a node of a layout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A router-eligible Full Thread Device (it becomes a router, or the leader).
    Router,
    /// A Minimal End Device, receiver always on.
    Child,
    /// A sleepy end device polling its parent.
    Sleepy,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Router => "router",
            Kind::Child => "child",
            Kind::Sleepy => "sleepy",
        }
    }
}

/// A node of a layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    pub kind: Kind,
    pub position: (f64, f64),
    /// When it powers up.
    pub start: Instant,
}

/// Where the nodes stand.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Place>,
}

/// A sleepy sensor's poll period in the scenarios (OpenThread's default poll period is the
/// child timeout's; a short one keeps the sensor's readings and responses moving).
pub const SLEEPY_POLL: Duration = Duration::from_secs(5);

/// The house of `thread-home` (metres): the living room powers up at 0 s and leads; the
/// kitchen and bedroom at 8-12 s, the garage and office at 20-24 s, the end devices at
/// 35-40 s (from `seed`).
pub fn home_layout(seed: u64) -> Layout {
    let routers = [
        ("living-room", (4.0, 4.0)),
        ("kitchen", (18.0, 3.0)),
        ("garage", (32.0, 5.0)),
        ("bedroom", (10.0, 16.0)),
        ("office", (27.0, 17.0)),
    ];
    let children = [
        ("thermostat", Kind::Child, (3.0, 7.0)),
        ("window-lr", Kind::Child, (7.0, 1.0)),
        ("fridge", Kind::Child, (17.0, 6.0)),
        ("smoke-kitchen", Kind::Sleepy, (20.0, 1.0)),
        ("door-garage", Kind::Child, (34.0, 3.0)),
        ("car-charger", Kind::Child, (31.0, 9.0)),
        ("bedside", Kind::Child, (8.0, 19.0)),
        ("blinds", Kind::Child, (12.0, 13.0)),
        ("desk-lamp", Kind::Child, (25.0, 19.0)),
        ("printer", Kind::Child, (29.0, 14.0)),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x484f_4d45);
    let mut within = |base_s: u64, span_ms: u64| {
        Instant::from_micros(base_s * 1_000_000 + (rng.next_u64() % span_ms) * 1000)
    };
    let mut nodes: Vec<Place> = Vec::new();
    for (i, &(n, p)) in routers.iter().enumerate() {
        // The living room first; the rooms that hear it next; the far ones (garage, office)
        // once those are routers.
        let start = match i {
            0 => Instant::ZERO,
            1 | 3 => within(8, 4000),
            _ => within(20, 4000),
        };
        nodes.push(Place {
            name: n.into(),
            kind: Kind::Router,
            position: p,
            start,
        });
    }
    for &(n, kind, p) in &children {
        nodes.push(Place {
            name: n.into(),
            kind,
            position: p,
            start: within(35, 5000),
        });
    }
    Layout { nodes }
}

/// The distance between neighbouring router-eligible nodes of [`grid_layout`] (metres): 8 m
/// gives a link margin of 22 dB under [`medium_config`] (40 dB at 1 m, exponent 4.2), link
/// quality 3, route cost 1, so that the 6 × 6 grid of 32 routers is 10 hops of cost 1 across
/// and every router stays within MAX_ROUTE_COST (16) of a leader anywhere on it. At 12 m
/// (margin 15 dB, link quality 2, cost 2) the far corner is cost 18 from a corner leader,
/// which releases the Router IDs it has no route to after MAX_LEADER_TO_ROUTER_TIMEOUT (as
/// OpenThread's does): routers there kept losing them and forming partitions of their own.
pub const GRID_SPACING_M: f64 = 8.0;

/// `routers` router-eligible nodes on a square grid [`GRID_SPACING_M`] apart, and `children` end devices
/// placed uniformly at random over the grid's area (from `seed`). The first router powers up
/// at 0 s and forms the partition; the other routers from 10 s on within `router_spread`,
/// the end devices within the `router_spread` after that.
pub fn grid_layout(routers: usize, children: usize, seed: u64, router_spread: Duration) -> Layout {
    let routers = routers.clamp(1, 63);
    let side = (routers as f64).sqrt().ceil() as usize;
    let spacing = GRID_SPACING_M;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4c41_594f);
    let spread = router_spread.as_micros().max(1);
    let mut nodes: Vec<Place> = (0..routers)
        .map(|i| Place {
            name: format!("r{i}"),
            kind: Kind::Router,
            position: ((i % side) as f64 * spacing, (i / side) as f64 * spacing),
            start: if i == 0 {
                Instant::ZERO
            } else {
                Instant::from_micros(10_000_000 + rng.next_u64() % spread)
            },
        })
        .collect();
    let rows = routers.div_ceil(side);
    let (w, h) = (
        (side - 1).max(1) as f64 * spacing,
        (rows - 1).max(1) as f64 * spacing,
    );
    for i in 0..children {
        let mut unit = || (rng.next_u32() as f64) / (u32::MAX as f64 + 1.0);
        let p = (unit() * w, unit() * h);
        let start = Instant::from_micros(10_000_000 + spread + rng.next_u64() % spread);
        nodes.push(Place {
            name: format!("c{i}"),
            kind: Kind::Child,
            position: p,
            start,
        });
    }
    Layout { nodes }
}

/// The radio of the Thread scenarios: indoor path loss (exponent 4.2: walls), -100 dBm
/// sensitivity, collisions on.
pub fn medium_config(loss: f64, medium_events: bool) -> MediumConfig {
    MediumConfig {
        path_loss_exponent: 4.2,
        loss,
        medium_events,
        ..MediumConfig::default()
    }
}

/// The network of a run: a dataset generated from the seed (key, PAN ID, prefixes), on
/// channel 15.
pub fn network(seed: u64) -> Credentials {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5448_5244);
    let mut ds = ActiveDataset::generate(&mut rng);
    ds.channel = Some(Channel {
        page: 0,
        number: 15,
    });
    Credentials::from_dataset(&ds).expect("a generated dataset has every field to attach")
}

/// The node configuration of a kind. Routers ask for a Router ID after a random time in
/// [0, `jitter`) (OpenThread's ROUTER_SELECTION_JITTER is 120 s; the scenarios use less so
/// that a home forms within its first minute).
pub fn node_config(kind: Kind, jitter: Duration, upgrade_threshold: u8) -> Config {
    let base = Config {
        router_selection_jitter: jitter,
        router_upgrade_threshold: upgrade_threshold,
        ..Config::default()
    };
    match kind {
        Kind::Router => base,
        Kind::Child => Config {
            router_eligible: false,
            ..base
        },
        Kind::Sleepy => Config {
            router_eligible: false,
            rx_on_when_idle: false,
            poll_period: SLEEPY_POLL,
            ..base
        },
    }
}

/// The application of a kind: routers ping the leader, end devices report every
/// `interval` (to their parents; the sleepy sensor to the leader).
pub fn app_of(kind: Kind, interval: Duration) -> App {
    match kind {
        Kind::Router => App::Pinger {
            interval: Duration::from_micros(interval.as_micros() * 2),
        },
        Kind::Child => App::Reporter {
            interval,
            to_leader: false,
        },
        Kind::Sleepy => App::Reporter {
            interval,
            to_leader: true,
        },
    }
}

/// The medium with the layout's stations.
pub fn build(
    layout: &Layout,
    creds: &Credentials,
    config: MediumConfig,
    seed: u64,
    data_interval: Duration,
    jitter: Duration,
) -> Medium<Station> {
    let mut medium = Medium::new(config, seed);
    for (i, p) in layout.nodes.iter().enumerate() {
        let rng = station_rng(seed, i as u64);
        let cfg = node_config(p.kind, jitter, 16);
        let station = SimStation::new(
            creds.clone(),
            cfg,
            rng,
            p.start,
            app_of(p.kind, data_interval),
        );
        let (x, y) = p.position;
        medium.add_node(station, Placement::At { x, y });
    }
    medium
}

/// The router selection jitter of `thread-home`.
pub const HOME_JITTER: Duration = Duration::from_secs(10);
