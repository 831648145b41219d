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
use weft_mesh::ble::proxy::{ProxyClient, ProxyClientEvent};
use weft_mesh::ble::station::{
    AutoProvision, DeviceNode, DeviceNodeEvent, DeviceProfile, ProvisionerNode,
    ProvisionerNodeEvent,
};
use weft_mesh::ble::wire::access::AccessMessage;
use weft_mesh::{Connectable, Duration, Instant, LinkEvent, LinkRequest};
use weft_radio::capture::{stand_in_adv_address, CaptureError, CaptureFile};
use weft_radio::sim::{DropReason as RadioDrop, NodeId, Placement, SimConfig, SimEvent, Simulator};

use crate::error::Failure;
use crate::scenario::{parse_group, PlannedDevice, PlannedNode, Scenario, BUILTIN};
use crate::Exit;

mod build;
mod report;
mod station;
pub mod thread;
mod traffic;

pub(crate) use build::device_element;
pub use build::{build, build_scenario, build_with, Built};
pub use report::{run_scenario, Summary};
pub use station::{ScenarioStation, StationEvent};
pub use traffic::{schedule_traffic, traffic_message, Traffic};

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
        /// Attach processes within range of these scenario nodes only (names, comma
        /// separated): the rest they reach through them (relays, a proxy). Default: all.
        #[arg(
            long,
            value_name = "NAMES",
            value_delimiter = ',',
            requires = "scenario"
        )]
        near: Vec<String>,
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
    /// Write every frame on the simulated air to this pcapng file (BLE link layer, type 256;
    /// for a Thread scenario, IEEE 802.15.4 TAP with the channel, type 283).
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
            for (name, description, n, seconds) in thread::THREAD_BUILTIN {
                let _ = if *json {
                    writeln!(
                        out,
                        "{}",
                        json!({"name": name, "description": description, "nodes": n, "seconds": seconds, "protocol": "thread"})
                    )
                } else {
                    writeln!(out, "{name:<12} {n:>5} nodes  {description}")
                };
            }
            Ok(Exit::Ok)
        }
        SimCmd::Serve {
            socket,
            scenario,
            seed,
            near,
        } => {
            let mut options = weft_radio::hub::HubOptions::default();
            let sim = match scenario {
                Some(name) if thread::is_thread(name) => {
                    return Err(Failure::new(
                        Exit::Usage,
                        format!("--scenario {name}: a Thread scenario; `weft sim serve` shares the BLE advertising air only: run it with `weft sim run --scenario {name}`"),
                    ));
                }
                Some(name) => {
                    let args = RunArgs {
                        scenario: name.clone(),
                        seed: *seed,
                        ..RunArgs::default()
                    };
                    match build_with(&args, weft_radio::hub::HubNode::Local) {
                        Ok(b) => {
                            if !near.is_empty() {
                                options.near = Some(near_nodes(&b.plan, near)?);
                            }
                            b.sim
                        }
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
                // Listed by `weft radios` while it serves.
                let _registered = crate::radios::runtime_dir()
                    .and_then(|rt| crate::radios::hubs::register(&rt, socket, scenario.as_deref()));
                weft_radio::hub::serve_hub_with(socket, sim, options, note, stop)
                    .await
                    .map_err(Failure::from)
            })?;
            Ok(Exit::Ok)
        }
        SimCmd::Run(r) => match if thread::is_thread(&r.scenario) {
            thread::run_thread(r, out)
        } else {
            run_scenario(r, out)
        } {
            Ok(_) => Ok(Exit::Ok),
            // The reader went away (`weft sim run --json | head`): not an error.
            Err(RunError::Io(e)) if e.contains("Broken pipe") => Ok(Exit::Ok),
            Err(RunError::Usage(e)) => Err(Failure::new(Exit::Usage, e)),
            Err(RunError::Io(e)) => Err(Failure::new(Exit::Unavailable, e)),
        },
    }
}

/// The node ids of the scenario nodes named in `sim serve --near`.
fn near_nodes(
    plan: &[crate::scenario::PlannedNode],
    names: &[String],
) -> Result<Vec<NodeId>, Failure> {
    names
        .iter()
        .map(|n| {
            plan.iter()
                .position(|p| &p.name == n)
                .map(|i| NodeId(i as u32))
                .ok_or_else(|| {
                    Failure::new(
                        Exit::Usage,
                        format!("--near {n}: the scenario has no node of that name"),
                    )
                })
        })
        .collect()
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
