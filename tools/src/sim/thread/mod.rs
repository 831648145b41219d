//! Thread scenarios on the simulated 802.15.4 air (`weft_radio::sim::ieee802154::Medium`):
//! simplified routers and children (`weft_mesh::thread::node`), placed in a layout whose truth
//! (who hears whom, who should be whose parent) the report states beside what happened.
//!
//! Built in: `thread-home`, 5 routers and 10 children in a house of 36 × 20 m whose walls make
//! the path-loss exponent 4.2: routers at opposite ends do not hear each other, and each child
//! has one router clearly closest. A generated layout (routers on a grid, children scattered
//! among them) serves the benchmark (`weft bench sim154`).

pub mod bench;
mod pcap;
mod report;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weft_mesh::thread::mac::ExtAddress;
use weft_mesh::thread::node::{Child, NetworkConfig, Router, ThreadStation};
use weft_mesh::{Duration, Instant};
use weft_radio::sim::ieee802154::{Medium, MediumConfig};
use weft_radio::sim::{station_rng, Placement};

pub use report::run_thread;
pub(crate) use report::DATA_INTERVAL;

/// A Thread station of a scenario.
pub type Station = ThreadStation<ChaCha8Rng>;

/// The built-in Thread scenarios: (name, description, nodes, default virtual seconds).
pub const THREAD_BUILTIN: &[(&str, &str, usize, f64)] = &[(
    "thread-home",
    "Thread: 5 routers and 10 children in a house; children attach, then report to their parents",
    15,
    300.0,
)];

/// Whether `name` is a built-in Thread scenario.
pub fn is_thread(name: &str) -> bool {
    THREAD_BUILTIN.iter().any(|(n, ..)| *n == name)
}

/// A router or child of a layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    /// The router ID, for a router.
    pub router_id: Option<u8>,
    pub position: (f64, f64),
}

/// Where the nodes stand.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Place>,
}

/// The house of `thread-home` (metres).
pub fn home_layout() -> Layout {
    let routers = [
        ("living-room", 0u8, (4.0, 4.0)),
        ("kitchen", 9, (18.0, 3.0)),
        ("garage", 17, (32.0, 5.0)),
        ("bedroom", 33, (10.0, 16.0)),
        ("office", 48, (27.0, 17.0)),
    ];
    let children = [
        ("thermostat", (3.0, 7.0)),
        ("window-lr", (7.0, 1.0)),
        ("fridge", (17.0, 6.0)),
        ("smoke-kitchen", (20.0, 1.0)),
        ("door-garage", (34.0, 3.0)),
        ("car-charger", (31.0, 9.0)),
        ("bedside", (8.0, 19.0)),
        ("blinds", (12.0, 13.0)),
        ("desk-lamp", (25.0, 19.0)),
        ("printer", (29.0, 14.0)),
    ];
    let mut nodes: Vec<Place> = routers
        .iter()
        .map(|&(n, id, p)| Place {
            name: n.into(),
            router_id: Some(id),
            position: p,
        })
        .collect();
    nodes.extend(children.iter().map(|&(n, p)| Place {
        name: n.into(),
        router_id: None,
        position: p,
    }));
    Layout { nodes }
}

/// `routers` routers on a square grid 12 m apart (router IDs 0..), and `children` children
/// placed uniformly at random over the grid's area (from `seed`).
pub fn grid_layout(routers: usize, children: usize, seed: u64) -> Layout {
    let routers = routers.clamp(1, 63);
    let side = (routers as f64).sqrt().ceil() as usize;
    let spacing = 12.0;
    let mut nodes: Vec<Place> = (0..routers)
        .map(|i| Place {
            name: format!("r{i}"),
            router_id: Some(i as u8),
            position: ((i % side) as f64 * spacing, (i / side) as f64 * spacing),
        })
        .collect();
    let rows = routers.div_ceil(side);
    let (w, h) = (
        (side - 1).max(1) as f64 * spacing,
        (rows - 1).max(1) as f64 * spacing,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4c41_594f);
    let mut unit = || (rng.next_u32() as f64) / (u32::MAX as f64 + 1.0);
    for i in 0..children {
        let p = (unit() * w, unit() * h);
        nodes.push(Place {
            name: format!("c{i}"),
            router_id: None,
            position: p,
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

/// The network of a run: keys and addresses from the seed, the rest fixed.
pub fn network(layout: &Layout, seed: u64) -> NetworkConfig {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5448_5244);
    let mut network_key = [0u8; 16];
    rng.fill_bytes(&mut network_key);
    let mut router_ids: Vec<u8> = layout.nodes.iter().filter_map(|p| p.router_id).collect();
    router_ids.sort_unstable();
    router_ids.dedup();
    NetworkConfig {
        network_key,
        key_sequence: 0,
        pan_id: 0xface,
        channel: 15,
        mesh_local_prefix: [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00],
        partition_id: 0x7765_6674,
        router_ids,
        id_sequence: 1,
    }
}

/// A node's extended address, from the seed and its index.
fn ext_address(seed: u64, i: usize) -> ExtAddress {
    let mut rng = station_rng(seed ^ 0x4558_5441, i as u64);
    let mut e = [0u8; 8];
    rng.fill_bytes(&mut e);
    // Locally administered, unicast (IEEE EUI-64 conventions; Thread picks random ones so).
    e[0] = (e[0] | 0x02) & !0x01;
    ExtAddress(e)
}

/// The medium with the layout's stations: routers advertising from time zero, children
/// starting to attach at a random point of the first 5 s and reporting every `data_interval`.
pub fn build(
    layout: &Layout,
    net: &NetworkConfig,
    config: MediumConfig,
    seed: u64,
    data_interval: Duration,
) -> Medium<Station> {
    let mut medium = Medium::new(config, seed);
    for (i, p) in layout.nodes.iter().enumerate() {
        let mut rng = station_rng(seed, i as u64);
        let ext = ext_address(seed, i);
        let station = match p.router_id {
            Some(id) => {
                ThreadStation::Router(Router::new(net.clone(), id, ext, rng, Instant::ZERO))
            }
            None => {
                let start = Instant::from_micros(2_000_000 + rng.next_u64() % 3_000_000);
                ThreadStation::Child(Child::new(net.clone(), ext, rng, start, data_interval))
            }
        };
        let (x, y) = p.position;
        medium.add_node(station, Placement::At { x, y });
    }
    medium
}
