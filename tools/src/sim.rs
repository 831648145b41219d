//! `weft sim`: scenarios run headless in the simulator, in virtual time, reproducibly.
//!
//! The runner builds one [`Node`] per planned node, provisioned and configured as the scenario
//! says (keys derived from the seed unless given), places them in a
//! [`weft_radio::sim::Simulator`], schedules the traffic, and reports NDJSON events and a
//! summary of every flow.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use weft_mesh::ble::address::{Address, IvIndex, UnicastAddress};

use weft_mesh::ble::cdb::CdbNode;
use weft_mesh::ble::foundation::config::client::{ConfigClientEvent, ConfigurePlan};
use weft_mesh::ble::foundation::config::ConfigMessage;
use weft_mesh::ble::models::KeyIndex;
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelId, ModelState, Node, NodeState,
    StateChange,
};
use weft_mesh::ble::prov::{Device, DeviceEvent, ProvisionerEvent, SessionEvent};
use weft_mesh::ble::station::{
    AutoProvision, DeviceNode, DeviceNodeEvent, DeviceProfile, ProvisionerNode,
    ProvisionerNodeEvent,
};
use weft_mesh::ble::wire::access::AccessMessage;
use weft_mesh::{Duration, Instant};
use weft_radio::ble_ll::{ble_adv_nonconn_ind, ble_ll_phdr_packet};
use weft_radio::pcap::{PcapWriter, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR};
use weft_radio::sim::{DropReason as RadioDrop, NodeId, Placement, SimConfig, SimEvent, Simulator};

use crate::error::Failure;
use crate::scenario::{parse_group, PlannedDevice, PlannedNode, Scenario, BUILTIN};
use crate::Exit;

impl SimCmd {
    /// The command's name in messages: `sim run`, `sim serve`, `sim list`.
    pub fn name(&self) -> &'static str {
        match self {
            SimCmd::Run(_) => "sim run",
            SimCmd::Serve { .. } => "sim serve",
            SimCmd::List { .. } => "sim list",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    #[command(subcommand)]
    pub cmd: SimCmd,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SimCmd {
    /// Run a scenario headless and report what happened.
    Run(RunArgs),
    /// Share one simulated air among processes in real time on a Unix socket; other weft
    /// commands attach with `--radio sim:PATH`.
    Serve {
        /// The socket to listen on.
        #[arg(long, value_name = "PATH")]
        socket: PathBuf,
        /// A scenario whose nodes live on the air too.
        #[arg(long)]
        scenario: Option<String>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// List the built-in scenarios.
    List {
        /// One JSON object per scenario.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A built-in scenario (`weft sim list`) or a scenario file ending in .toml.
    #[arg(long, default_value = "smart-home")]
    pub scenario: String,
    /// Seed of every random choice: one seed gives one identical run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Virtual seconds to run (default: the scenario's).
    #[arg(long, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Loss probability of every link, 0..1 (overrides the scenario).
    #[arg(long, value_parser = parse_probability, allow_negative_numbers = true)]
    pub loss: Option<f64>,
    /// Number of nodes of a generated grid (--scenario grid), 1-30000.
    #[arg(long, value_parser = crate::args::grid_nodes)]
    pub nodes: Option<usize>,
    /// NDJSON: the network's keys, one line per event, then a summary.
    #[arg(long)]
    pub json: bool,
    /// Write every frame on the simulated air to this pcapng file (BLE link layer, type 256).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
}

impl Default for RunArgs {
    /// The smart-home scenario with seed 1 and its own duration, as a summary.
    fn default() -> Self {
        RunArgs {
            scenario: "smart-home".into(),
            seed: 1,
            seconds: None,
            loss: None,
            nodes: None,
            json: false,
            pcap: None,
        }
    }
}

fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number; give a probability such as 0.3"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

pub fn run(a: &SimArgs, out: &mut impl Write) -> Result<Exit, Failure> {
    match &a.cmd {
        SimCmd::List { json } => {
            for (name, _) in BUILTIN {
                let s = Scenario::load(name).expect("built-in scenarios parse");
                let n = s.plan(None).map(|p| p.len()).unwrap_or(0);
                let _ = if *json {
                    writeln!(
                        out,
                        "{}",
                        json!({"name": name, "description": s.description, "nodes": n, "seconds": s.seconds})
                    )
                } else {
                    writeln!(out, "{name:<12} {:>5} nodes  {}", n, s.description)
                };
            }
            Ok(Exit::Ok)
        }
        SimCmd::Serve {
            socket,
            scenario,
            seed,
        } => {
            let sim = match scenario {
                Some(name) => {
                    let args = RunArgs {
                        scenario: name.clone(),
                        seed: *seed,
                        ..RunArgs::default()
                    };
                    match build_with(&args, weft_radio::hub::HubNode::Local) {
                        Ok(b) => b.sim,
                        Err(RunError::Usage(e)) | Err(RunError::Io(e)) => {
                            return Err(Failure::new(Exit::Usage, e));
                        }
                    }
                }
                None => crate::runtime::empty_air(*seed),
            };
            let note = |note: &str| eprintln!("weft sim serve: {note}");
            crate::error::block_on(async {
                // Before the socket exists, so that a signal never leaves it behind.
                let stop = crate::runtime::stop_signals().map_err(|e| {
                    Failure::new(
                        Exit::Unavailable,
                        format!("cannot watch for SIGTERM and SIGINT: {e}"),
                    )
                })?;
                crate::runtime::serve_hub_until(socket, sim, note, stop)
                    .await
                    .map_err(Failure::from)
            })?;
            Ok(Exit::Ok)
        }
        SimCmd::Run(r) => match run_scenario(r, out) {
            Ok(_) => Ok(Exit::Ok),
            // The reader went away (`weft sim run --json | head`): not an error.
            Err(RunError::Io(e)) if e.contains("Broken pipe") => Ok(Exit::Ok),
            Err(RunError::Usage(e)) => Err(Failure::new(Exit::Usage, e)),
            Err(RunError::Io(e)) => Err(Failure::new(Exit::Unavailable, e)),
        },
    }
}

#[derive(Debug)]
pub enum RunError {
    Usage(String),
    Io(String),
}

/// Keys of a simulated network.
#[derive(Debug, Clone)]
pub struct Keys {
    pub iv_index: u32,
    pub net_key: [u8; 16],
    pub app_key: [u8; 16],
    pub dev_keys: Vec<(u16, [u8; 16])>,
}

/// One delivery expected and whether and when it happened.
#[derive(Debug, Default, Clone)]
struct Flow {
    sent: u64,
    delivered: u64,
    latencies_us: Vec<u64>,
    hops: Vec<u8>,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    pub json: Value,
}

/// A scenario ready to run.
#[allow(missing_debug_implementations)]
pub struct Built<S: weft_mesh::Station = ScenarioStation> {
    pub sim: Simulator<S>,
    pub plan: Vec<PlannedNode>,
    /// The unprovisioned devices, on the air after the planned nodes (node ids `plan.len()..`).
    pub devices: Vec<PlannedDevice>,
    pub keys: Keys,
    /// The virtual end of the run.
    pub end: Instant,
    pub scenario: Scenario,
}

/// Builds the simulator of a scenario: its nodes provisioned and configured, its links set.
pub fn build(r: &RunArgs) -> Result<Built, RunError> {
    build_with(r, |n| n)
}

/// As [`build`], with each node wrapped by `wrap` (e.g. to share the air with other processes).
pub fn build_with<S: weft_mesh::Station>(
    r: &RunArgs,
    mut wrap: impl FnMut(ScenarioStation) -> S,
) -> Result<Built<S>, RunError> {
    let sc = Scenario::load(&r.scenario).map_err(RunError::Usage)?;
    let plan = sc.plan(r.nodes).map_err(RunError::Usage)?;
    let devices = sc.devices().map_err(RunError::Usage)?;
    let seconds = r.seconds.unwrap_or(sc.seconds);
    if !(seconds > 0.0 && seconds <= 30.0 * 24.0 * 3600.0) {
        return Err(RunError::Usage(format!(
            "--seconds {seconds}: give a duration between 0 and 2592000"
        )));
    }
    let end = Instant::from_micros((seconds * 1e6) as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(r.seed);
    let mut key = |given: &Option<String>| -> Result<[u8; 16], RunError> {
        match given {
            Some(h) => crate::args::key128(h).map_err(RunError::Usage),
            None => {
                let mut k = [0u8; 16];
                rng.fill_bytes(&mut k);
                Ok(k)
            }
        }
    };
    let net_key = key(&sc.network.net_key)?;
    let app_key = key(&sc.network.app_key)?;
    let iv_index = match &sc.network.iv_index {
        Some(h) => crate::args::iv_index(h).map_err(RunError::Usage)?,
        None => 0,
    };
    let mut cfg = SimConfig::default();
    if let Some(v) = sc.radio.path_loss_exponent {
        cfg.path_loss_exponent = v;
    }
    if let Some(v) = sc.radio.loss {
        cfg.loss = v;
    }
    if let Some(v) = r.loss {
        cfg.loss = v;
    }
    if let Some(v) = sc.radio.collisions {
        cfg.collisions = v;
    }
    if let Some(v) = sc.radio.tx_power_dbm {
        cfg.tx_power_dbm = v;
    }
    if let Some(v) = sc.radio.sensitivity_dbm {
        cfg.sensitivity_dbm = v;
    }
    cfg.medium_events = r.json;
    let mut sim = Simulator::new(cfg, r.seed);
    let mut dev_keys = Vec::new();
    let states: Vec<NodeState> = plan
        .iter()
        .map(|p| {
            let mut dk = [0u8; 16];
            rng.fill_bytes(&mut dk);
            dev_keys.push((p.address, dk));
            node_state(p, net_key, app_key, dk, iv_index)
        })
        .collect();
    for (i, (p, state)) in plan.iter().zip(&states).enumerate() {
        let node = Node::new(
            state.clone(),
            weft_radio::sim::station_rng(r.seed, i as u64),
        );
        let placement = match p.position {
            Some((x, y)) => Placement::At { x, y },
            None => Placement::Unplaced,
        };
        let station = if p.models.iter().any(|m| m == "config-client") && !devices.is_empty() {
            // The provisioner node keeps the scenario's network: it hands out addresses after
            // the planned ones (MshPRT §5) and configures what it provisions.
            let mut cdb = weft_mesh::ble::cdb::Cdb::new([0; 16], sc.name.clone(), "");
            cdb.nodes = plan
                .iter()
                .zip(&states)
                .map(|(p, st)| CdbNode::from_node_state(st, Some(p.name.clone())))
                .collect();
            let mut station = ProvisionerNode::new(
                node,
                weft_radio::sim::station_rng(r.seed ^ 0x5052_4f56, i as u64),
                cdb,
            );
            station.set_auto(sc.auto_provision.then_some(AutoProvision {
                parallel: usize::MAX,
                until: None,
                retry: true,
            }));
            station.set_configure(Some(ConfigurePlan {
                net_key_index: KeyIndex::from_bits(0),
                app_key_index: KeyIndex::from_bits(0),
                app_key,
                subscribe: None,
                publish: None,
            }));
            ScenarioStation::Provisioner(station)
        } else {
            ScenarioStation::node(node)
        };
        sim.add_node(wrap(station), placement);
    }
    for (j, d) in devices.iter().enumerate() {
        let k = (plan.len() + j) as u64;
        let device = Device::new(
            weft_radio::sim::station_rng(r.seed, k),
            d.uuid,
            weft_mesh::ble::wire::beacon::OobInformation(0),
            None,
            weft_mesh::ble::prov::DeviceConfig::new(no_oob_capabilities()),
        );
        let profile = DeviceProfile {
            elements: vec![device_element(d)],
            relay: d.relay,
            default_ttl: d.ttl,
        };
        let node_rng = weft_radio::sim::station_rng(r.seed ^ 0x4e4f_4445, k);
        let station = ScenarioStation::Device(DeviceNode::new(device, profile, node_rng));
        let placement = match d.position {
            Some((x, y)) => Placement::At { x, y },
            None => Placement::Unplaced,
        };
        sim.add_node(wrap(station), placement);
    }
    for l in &sc.links {
        let find = |n: &str| {
            plan.iter()
                .position(|p| p.name == n)
                .ok_or_else(|| RunError::Usage(format!("link names unknown node '{n}'")))
        };
        let (a, b) = (find(&l.a)?, find(&l.b)?);
        sim.set_link(
            NodeId(a as u32),
            NodeId(b as u32),
            weft_radio::sim::Link {
                rssi_dbm: l.rssi,
                loss: r.loss.unwrap_or(l.loss),
            },
        );
    }
    let keys = Keys {
        iv_index,
        net_key,
        app_key,
        dev_keys,
    };
    Ok(Built {
        sim,
        plan,
        devices,
        keys,
        end,
        scenario: sc,
    })
}

/// The state of a provisioned and configured scenario node.
fn node_state(
    p: &PlannedNode,
    net_key: [u8; 16],
    app_key: [u8; 16],
    dev_key: [u8; 16],
    iv: u32,
) -> NodeState {
    let mut models = vec![
        ModelState::new(ModelId::CONFIG_SERVER),
        ModelState::new(ModelId::HEALTH_SERVER),
    ];
    for m in &p.models {
        let id = model_id(m);
        let mut ms = ModelState::new(id);
        if id != ModelId::CONFIG_CLIENT {
            ms.app_keys.push(0);
        }
        if m.ends_with("-server") {
            ms.subscriptions = p.subscribe.iter().map(|&g| Address(g)).collect();
        }
        models.push(ms);
    }
    let mut st = NodeState::new(
        uuid_of(p.address),
        UnicastAddress::new(p.address).expect("planned addresses are unicast"),
        dev_key,
        net_key,
        IvIndex(iv),
        vec![ElementState {
            location: 0x0100,
            models,
        }],
    );
    st.relay = p.relay;
    if let Some(t) = p.ttl {
        st.default_ttl = t;
    }
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: app_key,
        new_key: None,
    });
    st
}

/// The model a scenario names.
fn model_id(m: &str) -> ModelId {
    match m {
        "config-client" => ModelId::CONFIG_CLIENT,
        "onoff-server" => ModelId::GENERIC_ONOFF_SERVER,
        "onoff-client" => ModelId::GENERIC_ONOFF_CLIENT,
        "level-server" => ModelId::GENERIC_LEVEL_SERVER,
        "level-client" => ModelId::GENERIC_LEVEL_CLIENT,
        "sensor-server" => ModelId::SENSOR_SERVER,
        _ => ModelId::SENSOR_CLIENT,
    }
}

/// The Provisioning Capabilities of a scenario device: one element, both algorithms, No OOB
/// (MshPRT §5.4.1.2).
fn no_oob_capabilities() -> weft_mesh::ble::wire::prov::Capabilities {
    use weft_mesh::ble::wire::prov::{Algorithms, Capabilities};
    Capabilities::no_oob(
        1,
        Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
    )
}

fn uuid_of(addr: u16) -> [u8; 16] {
    let mut u = *b"weft-sim-node\x00\x00\x00";
    u[14..].copy_from_slice(&addr.to_be_bytes());
    u
}

/// The access message a traffic entry sends, its `k`-th time.
pub fn traffic_message(name: &str, k: u64) -> AccessMessage {
    use weft_mesh::ble::models::generic::{GenericMessage, LevelSet, OnOffSet};
    use weft_mesh::ble::models::sensor::{SensorMessage, SensorValue};
    let tid = (k % 256) as u8;
    match name {
        "onoff-set" => GenericMessage::OnOffSet(OnOffSet {
            on: k.is_multiple_of(2),
            tid,
            transition: None,
        })
        .to_access(),
        "onoff-get" => GenericMessage::OnOffGet.to_access(),
        "level-set-unack" => GenericMessage::LevelSetUnacknowledged(LevelSet {
            level: ((k * 4096) % 65536) as u16 as i16,
            tid,
            transition: None,
        })
        .to_access(),
        "sensor-status" => SensorMessage::Status(vec![SensorValue::ambient_temperature(
            20.0 + (k % 10) as f64 / 2.0,
        )
        .to_sensor_data()])
        .to_access(),
        "sensor-status-large" => SensorMessage::Status(vec![
            SensorValue::ambient_temperature(21.5).to_sensor_data(),
            SensorValue::motion_sensed((k % 3) as f64 * 50.0).to_sensor_data(),
            SensorValue::PeopleCount(Some((k % 40) as u16)).to_sensor_data(),
            SensorValue::device_operating_temperature(45.25 + (k % 7) as f64).to_sensor_data(),
        ])
        .to_access(),
        _ => GenericMessage::OnOffSetUnacknowledged(OnOffSet {
            on: k.is_multiple_of(2),
            tid,
            transition: None,
        })
        .to_access(),
    }
}

/// The traffic a scenario schedules: for each (source, destination) flow, the nodes expected to
/// receive it and the receptions expected in all.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub expected: BTreeMap<(u16, u16), Vec<usize>>,
    pub sent: BTreeMap<(u16, u16), u64>,
}

/// Schedules the scenario's traffic on `sim` (nodes in plan order) in the window [`start`,
/// `end`), the scenario's times counted from `start`, with jitter drawn from `seed`: who sends
/// what to whom, when.
pub fn schedule_traffic(
    sim: &mut Simulator<ScenarioStation>,
    plan: &[PlannedNode],
    sc: &Scenario,
    seed: u64,
    start: Instant,
    end: Instant,
) -> Result<Traffic, RunError> {
    let span_us = end.as_micros().saturating_sub(start.as_micros());
    let by_name: HashMap<&str, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let addr_of = |i: usize| plan[i].address;
    let index_of_addr: HashMap<u16, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| (p.address, i))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7472_6166_6669_6300);
    let mut expected: BTreeMap<(u16, u16), Vec<usize>> = BTreeMap::new();
    let mut sent: BTreeMap<(u16, u16), u64> = BTreeMap::new();
    for t in &sc.traffic {
        let senders: Vec<usize> = match t.from.as_str() {
            set @ ("sensors" | "publishers") => (0..plan.len())
                .filter(|&i| plan[i].sets.contains(&set))
                .collect(),
            name => vec![*by_name
                .get(name)
                .ok_or_else(|| RunError::Usage(format!("traffic from unknown node '{name}'")))?],
        };
        let dst = match by_name.get(t.to.as_str()) {
            Some(&i) => addr_of(i),
            None => {
                if let Ok(g) = parse_group(&t.to) {
                    g
                } else {
                    crate::scenario::parse_unicast(&t.to)
                        .map_err(|e| RunError::Usage(format!("traffic to '{}': {e}", t.to)))?
                }
            }
        };
        for &s in &senders {
            let src = addr_of(s);
            let receivers: Vec<usize> = if dst & 0x8000 == 0 {
                index_of_addr.get(&dst).copied().into_iter().collect()
            } else {
                (0..plan.len())
                    .filter(|&i| i != s && plan[i].subscribe.contains(&dst))
                    .collect()
            };
            expected.insert((src, dst), receivers.clone());
            let mut k = 0u64;
            loop {
                let jitter = if t.jitter_s > 0.0 {
                    (rng.next_u64() % 1_000_000) as f64 / 1e6 * t.jitter_s
                } else {
                    0.0
                };
                let at = t.start_s + k as f64 * t.every_s + jitter;
                let at_us = (at * 1e6) as u64;
                if at_us >= span_us {
                    break;
                }
                let message = traffic_message(&t.message, k);
                let cmd = Command::send(Address(dst), KeyRef::App(0), message);
                sim.schedule(
                    start + Duration::from_micros(at_us),
                    NodeId(s as u32),
                    move |n, now| {
                        if let Some(n) = n.as_node_mut() {
                            n.handle_command(now, cmd);
                        }
                    },
                );
                *sent.entry((src, dst)).or_default() += receivers.len() as u64;
                k += 1;
            }
        }
    }

    Ok(Traffic { expected, sent })
}

/// Runs a scenario and writes its report.
pub fn run_scenario(r: &RunArgs, out: &mut impl Write) -> Result<Summary, RunError> {
    let Built {
        mut sim,
        plan,
        keys,
        end,
        scenario: sc,
        ..
    } = build(r)?;
    // Addresses by node id; unprovisioned devices are 0000 until provisioned.
    let mut addrs: Vec<u16> = plan.iter().map(|p| p.address).collect();
    addrs.resize(sim.node_count(), 0);

    // Traffic: who sends what to whom, when.
    let Traffic { expected, sent } =
        schedule_traffic(&mut sim, &plan, &sc, r.seed, Instant::ZERO, end)?;
    let mut flows: BTreeMap<(u16, u16), Flow> = sent
        .into_iter()
        .map(|(k, sent)| {
            (
                k,
                Flow {
                    sent,
                    ..Flow::default()
                },
            )
        })
        .collect();

    let pcap: Option<Arc<Mutex<PcapWriter<std::io::BufWriter<std::fs::File>>>>> = match &r.pcap {
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| RunError::Io(format!("cannot create {}: {e}", path.display())))?;
            let w = PcapWriter::new(std::io::BufWriter::new(f))
                .map_err(|e| RunError::Io(e.to_string()))?;
            Some(Arc::new(Mutex::new(w)))
        }
        None => None,
    };
    if let Some(w) = &pcap {
        let w = Arc::clone(w);
        let addrs = addrs.clone();
        sim.set_air_tap(move |f| {
            let a = addrs
                .get(f.node.0 as usize)
                .copied()
                .unwrap_or(0)
                .to_le_bytes();
            // A random static advertiser address per node (Core Vol 6 Part B §1.3.2.1: the two
            // most significant bits are 1).
            let adv_a = [a[0], a[1], 0x00, 0x5e, 0x1f, 0xc0 | 0x2e];
            if let Ok(ll) = ble_adv_nonconn_ind(adv_a, true, f.bytes) {
                if let Ok(pkt) = ble_ll_phdr_packet(f.channel, None, &ll) {
                    if let Ok(mut w) = w.lock() {
                        let _ = w.write_packet(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, f.start, &pkt);
                    }
                }
            }
        });
    }

    if r.json {
        let dev: serde_json::Map<String, Value> = keys
            .dev_keys
            .iter()
            .map(|(a, k)| (format!("{a:04x}"), Value::from(hex::encode(k))))
            .collect();
        let line = json!({
            "type": "network",
            "scenario": sc.name,
            "seed": r.seed,
            "iv_index": format!("{:08x}", keys.iv_index),
            "net_keys": [hex::encode(keys.net_key)],
            "app_keys": [hex::encode(keys.app_key)],
            "dev_keys": dev,
            "nodes": plan.iter().map(|p| json!({"name": p.name, "address": format!("{:04x}", p.address), "relay": p.relay})).collect::<Vec<_>>(),
        });
        writeln!(out, "{line}").map_err(|e| RunError::Io(e.to_string()))?;
    }

    // Run in slices, draining events as we go.
    let mut sent_at: HashMap<(u16, u32), (u64, u8)> = HashMap::new();
    let mut seen: HashSet<(u16, u32, usize)> = HashSet::new();
    let mut node_drops: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut relayed = 0u64;
    let mut sar = (0u64, 0u64);
    let slice = Duration::from_millis(500);
    let mut t = Instant::ZERO;
    while t < end {
        t = (t + slice).min(end);
        sim.run_until(t);
        let events: Vec<_> = sim.drain_events().collect();
        for ev in events {
            let line = match ev {
                SimEvent::Station { at, node, event } => {
                    let n = node.0 as usize;
                    let here = format!("{:04x}", addrs.get(n).copied().unwrap_or(0));
                    let event = match event {
                        StationEvent::Node(e) => e,
                        StationEvent::Provisioner(e) => {
                            let line = provisioning_line(at, &here, &e);
                            if let (Some(l), true) = (line, r.json) {
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                        StationEvent::Device(_) => continue,
                        StationEvent::Config(e) => {
                            if r.json {
                                let l = config_line(at, &here, &e);
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                        StationEvent::Provisioned { uuid, address } => {
                            if let Some(a) = addrs.get_mut(n) {
                                *a = address;
                            }
                            if r.json {
                                let l = json!({"t_us": at.as_micros(), "type": "provisioned", "node": format!("{address:04x}"), "uuid": hex::encode(uuid), "address": format!("{address:04x}")});
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                    };
                    match event {
                        Event::Sent { src, dst, seq, ctl, ttl } => {
                            if !ctl {
                                sent_at.entry((src.0, seq.get())).or_insert((at.as_micros(), ttl));
                            }
                            Some(json!({"t_us": at.as_micros(), "type": "sent", "node": here, "src": hex4(src), "dst": hex4(dst), "seq": seq.to_string(), "ctl": ctl, "ttl": ttl}))
                        }
                        Event::Access { src, dst, seq, ttl, rssi, message, .. } => {
                            let mut hops = None;
                            let mut latency = None;
                            if let Some(&(t0, ttl0)) = sent_at.get(&(src.0, seq.get())) {
                                let h = ttl0.saturating_sub(ttl).saturating_add(1);
                                hops = Some(h);
                                latency = Some(at.as_micros().saturating_sub(t0));
                                let expected_here = expected.get(&(src.0, dst.0)).is_some_and(|v| v.contains(&n));
                                if expected_here && seen.insert((src.0, seq.get(), n)) {
                                    let f = flows.entry((src.0, dst.0)).or_default();
                                    f.delivered += 1;
                                    f.latencies_us.push(at.as_micros().saturating_sub(t0));
                                    f.hops.push(h);
                                }
                            }
                            Some(json!({"t_us": at.as_micros(), "type": "received", "node": here, "src": hex4(src), "dst": hex4(dst), "seq": seq.to_string(),
                                "opcode": hex::encode(message.opcode.to_bytes()), "opcode_name": message.name(), "ttl": ttl, "rssi": rssi, "hops": hops, "latency_us": latency}))
                        }
                        Event::Relayed { src, dst, seq, ttl } => {
                            relayed += 1;
                            Some(json!({"t_us": at.as_micros(), "type": "relayed", "node": here, "src": hex4(src), "dst": hex4(dst), "seq": seq.to_string(), "ttl": ttl}))
                        }
                        Event::Sar { src, dst, seq_zero, segments, outcome } => {
                            if outcome.is_none() {
                                sar.0 += 1;
                            } else {
                                sar.1 += 1;
                            }
                            Some(json!({"t_us": at.as_micros(), "type": "sar", "node": here, "src": hex4(src), "dst": hex4(dst), "seq_zero": format!("{seq_zero:04x}"), "segments": segments,
                                "outcome": outcome.map_or("complete".to_string(), |e| format!("{e:?}").to_lowercase())}))
                        }
                        Event::Dropped { reason } => {
                            *node_drops.entry(reason.as_str()).or_default() += 1;
                            // Duplicates are every relayed copy heard again: counted, not listed.
                            (reason != weft_mesh::ble::node::DropReason::Duplicate)
                                .then(|| json!({"t_us": at.as_micros(), "type": "dropped", "node": here, "layer": "node", "reason": reason.as_str()}))
                        }
                        Event::Heartbeat { src, hops, features, .. } => Some(
                            json!({"t_us": at.as_micros(), "type": "heartbeat", "node": here, "src": hex4(src), "hops": hops, "features": features}),
                        ),
                        Event::IvIndex { iv_index, updating } => Some(
                            json!({"t_us": at.as_micros(), "type": "iv_index", "node": here, "iv_index": iv_index.to_string(), "updating": updating}),
                        ),
                        Event::KeyRefresh { net_index, phase } => Some(
                            json!({"t_us": at.as_micros(), "type": "key_refresh", "node": here, "net_index": net_index, "phase": phase.to_u8()}),
                        ),
                        Event::State { element, change } => {
                            let (k, v) = match change {
                                StateChange::OnOff(on) => ("onoff", json!(on)),
                                StateChange::Level(l) => ("level", json!(l)),
                                StateChange::Attention(a) => ("attention", json!(a)),
                                StateChange::OnOffTransition { present, target, remaining } => (
                                    "onoff_transition",
                                    json!({"present": present, "target": target, "remaining_us": remaining.as_micros()}),
                                ),
                                StateChange::LevelTransition { present, target, remaining } => (
                                    "level_transition",
                                    json!({"present": present, "target": target, "remaining_us": remaining.map(|r| r.as_micros())}),
                                ),
                            };
                            Some(json!({"t_us": at.as_micros(), "type": "state", "node": here, "element": element, k: v}))
                        }
                        Event::NodeReset => Some(json!({"t_us": at.as_micros(), "type": "node_reset", "node": here})),
                        Event::Control { .. } | Event::PersistState => None,
                    }
                }
                SimEvent::Drop { at, from, to, channel, reason } => (reason != RadioDrop::NotListening).then(|| {
                    json!({"t_us": at.as_micros(), "type": "dropped", "layer": "radio", "from": format!("{:04x}", addrs.get(from.0 as usize).copied().unwrap_or(0)),
                        "to": format!("{:04x}", addrs.get(to.0 as usize).copied().unwrap_or(0)), "channel": channel, "reason": radio_reason(reason)})
                }),
                SimEvent::Tx { .. } | SimEvent::Rx { .. } => None,
            };
            if r.json {
                if let Some(l) = line {
                    writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                }
            }
        }
    }
    if let Some(w) = &pcap {
        w.lock()
            .map_err(|_| RunError::Io("pcap writer poisoned".into()))?
            .flush()
            .map_err(|e| RunError::Io(e.to_string()))?;
    }

    let st = sim.stats();
    let mut dropped = serde_json::Map::new();
    for reason in [
        RadioDrop::Loss,
        RadioDrop::Collision,
        RadioDrop::NotListening,
        RadioDrop::HalfDuplex,
        RadioDrop::BelowSensitivity,
    ] {
        dropped.insert(
            format!("radio_{}", radio_reason(reason)),
            st.dropped.get(reason).into(),
        );
    }
    for (k, v) in &node_drops {
        dropped.insert((*k).to_string(), (*v).into());
    }
    let mut total_sent = 0;
    let mut total_delivered = 0;
    let flows_json: Vec<Value> = flows
        .iter()
        .map(|((src, dst), f)| {
            total_sent += f.sent;
            total_delivered += f.delivered;
            let mut l = f.latencies_us.clone();
            l.sort_unstable();
            let pct = |p: f64| -> Value {
                if l.is_empty() {
                    Value::Null
                } else {
                    let i = ((l.len() as f64 - 1.0) * p).round() as usize;
                    json!((l[i] as f64 / 1000.0 * 10.0).round() / 10.0)
                }
            };
            let mut h = f.hops.clone();
            h.sort_unstable();
            json!({
                "src": format!("{src:04x}"),
                "dst": format!("{dst:04x}"),
                "sent": f.sent,
                "delivered": f.delivered,
                "latency_ms_p50": pct(0.5),
                "latency_ms_p99": pct(0.99),
                "hops": h.get(h.len() / 2).copied(),
            })
        })
        .collect();
    let summary = json!({
        "type": "summary",
        "scenario": sc.name,
        "seed": r.seed,
        "virtual_s": end.as_micros() as f64 / 1e6,
        "nodes": plan.len(),
        "sent": total_sent,
        "delivered": total_delivered,
        "flows": flows_json,
        "relayed": relayed,
        "sar": {"complete": sar.0, "failed": sar.1},
        "frames": st.frames_sent,
        "dropped": dropped,
    });
    if r.json {
        writeln!(out, "{summary}").map_err(|e| RunError::Io(e.to_string()))?;
    } else {
        print_summary(out, &summary).map_err(|e| RunError::Io(e.to_string()))?;
    }
    Ok(Summary { json: summary })
}

/// A Provisioner event as a `provisioning` line (MshPRT §5.4: beacon, link, capabilities,
/// start, complete or failed).
fn provisioning_line(at: Instant, here: &str, e: &ProvisionerEvent) -> Option<Value> {
    let (uuid, step, address, error) = match e {
        ProvisionerEvent::Beacon(b) => (b.device_uuid, "beacon", None, None),
        ProvisionerEvent::LinkOpened { device_uuid } => (*device_uuid, "link_opened", None, None),
        ProvisionerEvent::Session { device_uuid, event } => match event {
            SessionEvent::Capabilities(_) => (*device_uuid, "capabilities", None, None),
            SessionEvent::Started(_) => (*device_uuid, "started", None, None),
            SessionEvent::Complete(p) => (
                *device_uuid,
                "complete",
                Some(p.data.unicast_address.get()),
                None,
            ),
            SessionEvent::Failed(f) => (*device_uuid, "failed", None, Some(format!("{f:?}"))),
            _ => return None,
        },
        ProvisionerEvent::LinkClosed {
            device_uuid,
            reason,
            ..
        } => (
            *device_uuid,
            "link_closed",
            None,
            (*reason != weft_mesh::ble::wire::pbadv::LinkCloseReason::Success)
                .then(|| format!("{reason:?}").to_lowercase()),
        ),
    };
    let mut l = json!({"t_us": at.as_micros(), "type": "provisioning", "node": here, "uuid": hex::encode(uuid), "step": step});
    if let Some(a) = address {
        l["address"] = json!(format!("{a:04x}"));
    }
    if let Some(e) = error {
        l["error"] = json!(e);
    }
    Some(l)
}

/// A line of `weft sim run --json` for the provisioner's configuration of a node: each answer
/// (`request`, `status`, `ok`), a failure (`error`), or the end (`step` `configured`).
fn config_line(at: Instant, here: &str, e: &ConfigClientEvent) -> Value {
    let mut l = json!({"t_us": at.as_micros(), "type": "config", "node": here});
    match e {
        ConfigClientEvent::Answered {
            node,
            request,
            status,
        } => {
            l["target"] = json!(format!("{:04x}", node.get()));
            l["step"] = json!("answered");
            l["request"] = json!(request.describe());
            l["status"] = json!(status.describe());
            l["ok"] = json!(status.status().is_none_or(|c| c.is_success()));
        }
        ConfigClientEvent::Failed {
            node,
            request,
            reason,
        } => {
            l["target"] = json!(format!("{:04x}", node.get()));
            l["step"] = json!("failed");
            l["request"] = json!(request.describe());
            l["error"] = json!(reason.to_string());
        }
        ConfigClientEvent::Done { node } => {
            l["target"] = json!(format!("{:04x}", node.get()));
            l["step"] = json!("configured");
        }
    }
    l
}

fn hex4(a: Address) -> String {
    format!("{:04x}", a.0)
}

fn radio_reason(r: RadioDrop) -> &'static str {
    match r {
        RadioDrop::Loss => "loss",
        RadioDrop::Collision => "collision",
        RadioDrop::NotListening => "not_listening",
        RadioDrop::HalfDuplex => "half_duplex",
        RadioDrop::BelowSensitivity => "below_sensitivity",
    }
}

fn print_summary(out: &mut impl Write, s: &Value) -> std::io::Result<()> {
    writeln!(
        out,
        "scenario {} (seed {}): {} nodes, {} virtual seconds, {} frames on the air",
        s["scenario"].as_str().unwrap_or(""),
        s["seed"],
        s["nodes"],
        s["virtual_s"],
        s["frames"]
    )?;
    writeln!(
        out,
        "delivered {} of {} expected receptions; {} relays; segmented messages: {} complete, {} failed",
        s["delivered"], s["sent"], s["relayed"], s["sar"]["complete"], s["sar"]["failed"]
    )?;
    writeln!(
        out,
        "\n{:<6} {:<6} {:>6} {:>9} {:>8} {:>8} {:>5}",
        "SRC", "DST", "SENT", "DELIVERED", "P50 ms", "P99 ms", "HOPS"
    )?;
    for f in s["flows"].as_array().into_iter().flatten() {
        let num = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.1}"));
        writeln!(
            out,
            "{:<6} {:<6} {:>6} {:>9} {:>8} {:>8} {:>5}",
            f["src"].as_str().unwrap_or(""),
            f["dst"].as_str().unwrap_or(""),
            f["sent"].to_string(),
            f["delivered"].to_string(),
            num(&f["latency_ms_p50"]),
            num(&f["latency_ms_p99"]),
            f["hops"].as_u64().map_or("-".into(), |h| h.to_string())
        )?;
    }
    writeln!(out, "\ndropped:")?;
    for (k, v) in s["dropped"].as_object().into_iter().flatten() {
        writeln!(out, "  {k:<22} {v}")?;
    }
    Ok(())
}

/// What a scenario station reports: its node's events, its Provisioner's, and the device side
/// of provisioning.
#[derive(Debug, Clone)]
pub enum StationEvent {
    /// The mesh node's event.
    Node(Event),
    /// The Provisioner's event (the scenario's provisioner node).
    Provisioner(ProvisionerEvent),
    /// The unprovisioned device's event.
    Device(DeviceEvent),
    /// The device was provisioned and is now a node at `address`.
    Provisioned {
        /// Its Device UUID.
        uuid: [u8; 16],
        /// Its primary address.
        address: u16,
    },
    /// The provisioner node's Configuration Client: an answer, a failure, or a node done.
    Config(ConfigClientEvent),
}

/// One node of a scenario on the simulated air: a provisioned [`Node`], an unprovisioned
/// device that becomes a node once provisioned ([`DeviceNode`]), or the provisioner node
/// ([`ProvisionerNode`]).
#[allow(missing_debug_implementations, clippy::large_enum_variant)]
pub enum ScenarioStation {
    Node(Node<ChaCha8Rng>),
    Device(DeviceNode<ChaCha8Rng>),
    Provisioner(ProvisionerNode<ChaCha8Rng>),
}

impl ScenarioStation {
    /// A provisioned node.
    pub fn node(node: Node<ChaCha8Rng>) -> Self {
        ScenarioStation::Node(node)
    }

    /// Queues a Config request from this node to `node` (replacing what was still queued for
    /// it); the answer arrives as a [`StationEvent::Config`].
    pub fn config_request(
        &mut self,
        node: UnicastAddress,
        msg: ConfigMessage,
    ) -> Result<(), String> {
        match self {
            ScenarioStation::Provisioner(p) => p
                .config_request(node, msg)
                .map_err(|_| "not a Config request a status answers".into()),
            _ => Err("this node runs no Configuration Client".into()),
        }
    }

    /// The node, once provisioned.
    pub fn as_node(&self) -> Option<&Node<ChaCha8Rng>> {
        match self {
            ScenarioStation::Node(n) => Some(n),
            ScenarioStation::Device(d) => d.node(),
            ScenarioStation::Provisioner(p) => Some(p.node()),
        }
    }

    /// The node, once provisioned, mutably.
    pub fn as_node_mut(&mut self) -> Option<&mut Node<ChaCha8Rng>> {
        match self {
            ScenarioStation::Node(n) => Some(n),
            ScenarioStation::Device(d) => d.node_mut(),
            ScenarioStation::Provisioner(p) => Some(p.node_mut()),
        }
    }

    /// The Device UUID of a device still unprovisioned.
    pub fn unprovisioned_uuid(&self) -> Option<[u8; 16]> {
        match self {
            ScenarioStation::Device(d) => d.unprovisioned_uuid(),
            _ => None,
        }
    }

    /// Whether this station runs the Provisioner.
    pub fn is_provisioner(&self) -> bool {
        matches!(self, ScenarioStation::Provisioner(_))
    }

    /// Provisions `uuid` from this station's Provisioner with the next free address; returns
    /// the address, or why not.
    pub fn provision(&mut self, now: Instant, uuid: [u8; 16]) -> Result<u16, String> {
        match self {
            ScenarioStation::Provisioner(p) => p
                .provision(now, uuid, None)
                .map(|a| a.get())
                .map_err(|e| e.to_string()),
            _ => Err("this node is not the provisioner".into()),
        }
    }
}

/// The element of a device just provisioned: its planned models, nothing bound or subscribed
/// yet (a Configuration Client does that).
fn device_element(d: &PlannedDevice) -> ElementState {
    let mut models = vec![
        ModelState::new(ModelId::CONFIG_SERVER),
        ModelState::new(ModelId::HEALTH_SERVER),
    ];
    models.extend(d.models.iter().map(|m| ModelState::new(model_id(m))));
    ElementState {
        location: 0x0100,
        models,
    }
}

impl weft_mesh::Station for ScenarioStation {
    type Event = StationEvent;

    fn handle_frame(&mut self, now: Instant, frame: &weft_mesh::RxFrame) {
        match self {
            ScenarioStation::Node(n) => n.handle_frame(now, frame),
            ScenarioStation::Device(d) => d.handle_frame(now, frame),
            ScenarioStation::Provisioner(p) => p.handle_frame(now, frame),
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<weft_mesh::TxFrame> {
        match self {
            ScenarioStation::Node(n) => n.poll_transmit(now),
            ScenarioStation::Device(d) => d.poll_transmit(now),
            ScenarioStation::Provisioner(p) => p.poll_transmit(now),
        }
    }

    fn poll_event(&mut self) -> Option<StationEvent> {
        match self {
            ScenarioStation::Node(n) => n.poll_event().map(StationEvent::Node),
            ScenarioStation::Device(d) => Some(match d.poll_event()? {
                DeviceNodeEvent::Node(e) => StationEvent::Node(e),
                DeviceNodeEvent::Device(e) => StationEvent::Device(e),
                DeviceNodeEvent::Provisioned { uuid, address } => {
                    StationEvent::Provisioned { uuid, address }
                }
            }),
            // The database and the provisioner's own outcomes are the scenario's to keep:
            // what a scenario reports comes from the Provisioner's events.
            ScenarioStation::Provisioner(p) => loop {
                match p.poll_event()? {
                    ProvisionerNodeEvent::Node(e) => return Some(StationEvent::Node(e)),
                    ProvisionerNodeEvent::Provisioner(e) => {
                        return Some(StationEvent::Provisioner(e))
                    }
                    ProvisionerNodeEvent::Config(e) => return Some(StationEvent::Config(e)),
                    _ => {}
                }
            },
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            ScenarioStation::Node(n) => n.poll_timeout(),
            ScenarioStation::Device(d) => d.poll_timeout(),
            ScenarioStation::Provisioner(p) => p.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            ScenarioStation::Node(n) => n.handle_timeout(now),
            ScenarioStation::Device(d) => d.handle_timeout(now),
            ScenarioStation::Provisioner(p) => p.handle_timeout(now),
        }
    }
}
