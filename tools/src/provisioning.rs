//! `weft node` (run as a mesh device: unprovisioned until a Provisioner adds it, then a node that
//! keeps its state) and `weft provision` (add a device to the network in the store, then
//! configure it: composition, application key, bindings).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::PathBuf;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use weft_mesh::ble::cdb::Cdb;
use weft_mesh::ble::foundation::composition::CompositionDataPage0;
use weft_mesh::ble::foundation::config::client::DEFAULT_RETRY;
use weft_mesh::ble::foundation::config::client::{ConfigClientEvent, ConfigFailure, ConfigurePlan};
use weft_mesh::ble::foundation::config::ConfigMessage;
use weft_mesh::ble::models::{KeyIndex, ModelId};
use weft_mesh::ble::node::{ElementState, Event, ModelState};
use weft_mesh::ble::prov::DeviceEvent;
use weft_mesh::ble::prov::{
    Device, DeviceConfig, OobAction, OobValue, Provisioned, ProvisionerEvent, SessionEvent,
};
use weft_mesh::ble::station::{
    AutoProvision, DeviceNode, DeviceNodeEvent, DeviceProfile, ProvisionSettings, ProvisionerNode,
    ProvisionerNodeEvent, ServingNode,
};
use weft_mesh::ble::wire::beacon::OobInformation;
use weft_mesh::ble::wire::prov::{
    Algorithms, AuthMethod, Capabilities, InputOobAction, OutputOobAction,
};
use weft_mesh::ble::{Address, UnicastAddress};
use weft_mesh::{Duration, Instant};

use crate::error::{block_on, fail, Failure, Result};
use crate::ops::Session;
use crate::runtime::{drive, drive_with, Clock, Flow, Hooks};
use crate::store::{NetState, Store, StoreOpts};
use crate::Exit;

/// How a device authenticates (MshPRT §5.4.2.4): `none`, `static:HEX`, `output:ACTION:SIZE`,
/// `input:ACTION:SIZE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OobArg {
    None,
    Static(Vec<u8>),
    Output(OutputOobAction, u8),
    Input(InputOobAction, u8),
}

pub fn parse_oob(s: &str) -> Result<OobArg, String> {
    let usage = "use none, static:HEX (16 or 32 bytes), output:ACTION:SIZE (blink, beep, vibrate, numeric, alphanumeric) or input:ACTION:SIZE (push, twist, numeric, alphanumeric), SIZE 1..8";
    let parts: Vec<&str> = s.split(':').collect();
    let size = |v: &str| -> Result<u8, String> {
        v.parse::<u8>()
            .ok()
            .filter(|n| (1..=8).contains(n))
            .ok_or_else(|| format!("'{v}' is not an OOB size 1..8"))
    };
    match parts.as_slice() {
        ["none"] => Ok(OobArg::None),
        ["static", hex] => {
            let b = crate::args::hex_bytes(hex)?;
            if b.len() == 16 || b.len() == 32 {
                Ok(OobArg::Static(b))
            } else {
                Err(format!(
                    "a static OOB value is 16 or 32 bytes, not {}",
                    b.len()
                ))
            }
        }
        ["output", action, n] => Ok(OobArg::Output(
            match *action {
                "blink" => OutputOobAction::Blink,
                "beep" => OutputOobAction::Beep,
                "vibrate" => OutputOobAction::Vibrate,
                "numeric" => OutputOobAction::OutputNumeric,
                "alphanumeric" => OutputOobAction::OutputAlphanumeric,
                other => return Err(format!("unknown output action '{other}': {usage}")),
            },
            size(n)?,
        )),
        ["input", action, n] => Ok(OobArg::Input(
            match *action {
                "push" => InputOobAction::Push,
                "twist" => InputOobAction::Twist,
                "numeric" => InputOobAction::InputNumeric,
                "alphanumeric" => InputOobAction::InputAlphanumeric,
                other => return Err(format!("unknown input action '{other}': {usage}")),
            },
            size(n)?,
        )),
        _ => Err(format!("'{s}' is not an OOB method: {usage}")),
    }
}

fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    crate::args::label_uuid(s)
        .map_err(|_| format!("'{s}' is not a device UUID: 32 hex digits, dashes allowed"))
}

/// Reads one line the user types, after a prompt on stderr.
fn ask(prompt: &str) -> String {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().to_string()
}

fn oob_value(action: OobAction, text: &str) -> Option<OobValue> {
    if action.is_alphanumeric() {
        Some(OobValue::Alphanumeric(text.to_uppercase()))
    } else {
        text.parse().ok().map(OobValue::Numeric)
    }
}

// ------------------------------------------------------------------------------------------
// weft node
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The radio: `sim:PATH` for the live simulated air (`weft sim serve`);
    /// `hci:/dev/ttyACM0[?baud=N&rtscts=0|1]`, `hci-tcp:HOST:PORT`, `hci-unix:PATH`, `hci-user:hciN` a Bluetooth controller over HCI (`weft radios` lists what is attached).
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio)]
    pub radio: String,
    /// The device UUID (32 hex digits).
    #[arg(long, value_parser = parse_uuid)]
    pub uuid: [u8; 16],
    /// How the device authenticates while being provisioned.
    #[arg(long, value_parser = parse_oob, default_value = "none")]
    pub oob: OobArg,
    /// Models of the primary element besides the Configuration and Health Servers.
    #[arg(long, value_delimiter = ',', default_value = "onoff-server")]
    pub models: Vec<String>,
    /// The node's state file (default: $XDG_DATA_HOME/weft/node-UUID.weft).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Offer the Proxy feature (MshPRT §4.2.11, §6.7) once provisioned: on a radio with GATT
    /// connections (`sim:PATH`) the node advertises the Mesh Proxy Service (Network ID, Node
    /// Identity when asked) and serves Proxy Clients (`weft send --proxy`). A node whose
    /// Configuration Client turned the feature off stays off.
    #[arg(long)]
    pub proxy: bool,
    /// Stop once provisioned (scripts), instead of serving the network.
    #[arg(long)]
    pub exit_after_provisioning: bool,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Write everything the device hears and sends to this pcapng file (what it sends comes
    /// from an advertiser address made of its UUID's last six octets: its radio's own is not
    /// known to it).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
}

fn model_of(name: &str) -> Result<ModelId, String> {
    Ok(match name {
        "onoff-server" => ModelId::GENERIC_ONOFF_SERVER,
        "onoff-client" => ModelId::GENERIC_ONOFF_CLIENT,
        "level-server" => ModelId::GENERIC_LEVEL_SERVER,
        "level-client" => ModelId::GENERIC_LEVEL_CLIENT,
        "sensor-server" => ModelId::SENSOR_SERVER,
        "sensor-client" => ModelId::SENSOR_CLIENT,
        other => {
            return Err(format!(
                "unknown model '{other}': use onoff-server, onoff-client, level-server, level-client, sensor-server, sensor-client"
            ))
        }
    })
}

pub fn run_node(a: &NodeArgs, out: &mut impl Write) -> Result<Exit> {
    let models = a
        .models
        .iter()
        .map(|m| model_of(m))
        .collect::<Result<Vec<ModelId>, String>>()
        .map_err(|e| Failure::new(Exit::Usage, e))?;
    block_on(node_main(a, &models, out))?;
    Ok(Exit::Ok)
}

fn node_store(a: &NodeArgs) -> Result<Store, Failure> {
    let path = match &a.state {
        Some(p) => p.clone(),
        None => {
            let dir = crate::store::default_store_path()
                .map_err(|e| Failure(e.exit(), e.to_string()))?
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            dir.join(format!("node-{}.weft", hex::encode(a.uuid)))
        }
    };
    let opts = StoreOpts {
        net: Some(path),
        passphrase_env: None,
        key_file: None,
    };
    Store::from_opts(&opts).map_err(|e| Failure(e.exit(), e.to_string()))
}

async fn node_main(a: &NodeArgs, models: &[ModelId], out: &mut impl Write) -> Result<(), Failure> {
    let store = node_store(a)?;
    let _lock = store.lock().map_err(|e| Failure(e.exit(), e.to_string()))?;
    let own = crate::capture::uuid_adv_address(a.uuid);
    let mut radio = crate::capture::recording(&a.radio, a.pcap.as_deref(), own).await?;
    let clock = Clock::default();
    let deadline = a
        .seconds
        .map(|s| clock.now() + Duration::from_micros((s.max(0.0) * 1e6) as u64));
    let mut saved: NetState = if store.exists() {
        store.load().map_err(|e| Failure(e.exit(), e.to_string()))?
    } else {
        NetState {
            cdb: Cdb::new(a.uuid, "weft node", crate::net::now_rfc3339()),
            iv_index: 0,
            iv_update: false,
            local: None,
            rpl: None,
            iv_state_since: None,
        }
    };
    let just_provisioned = if saved.local.is_none() {
        // Unprovisioned: beacon and wait for a Provisioner (MshPRT §5).
        let config = device_config(&a.oob);
        let device = Device::new(
            ChaCha8Rng::from_entropy(),
            a.uuid,
            OobInformation(0),
            None,
            config,
        );
        let mut element_models = vec![
            ModelState::new(ModelId::CONFIG_SERVER),
            ModelState::new(ModelId::HEALTH_SERVER),
        ];
        element_models.extend(models.iter().map(|m| ModelState::new(*m)));
        let profile = DeviceProfile {
            elements: vec![ElementState {
                location: 0x0100,
                models: element_models,
            }],
            relay: false,
            default_ttl: None,
        };
        let mut device = DeviceNode::new(device, profile, ChaCha8Rng::from_entropy());
        let _ = writeln!(
            out,
            "unprovisioned {}: waiting for a provisioner",
            hex::encode(a.uuid)
        );
        let mut failure = None;
        let outcome = drive(&mut device, &mut radio, &clock, deadline, |d, now, e| {
            let DeviceNodeEvent::Device(DeviceEvent::Session(e)) = e else {
                // A node now: it serves below, its state saved first.
                if let DeviceNodeEvent::Provisioned { .. } = e {
                    return Flow::Stop;
                }
                return Flow::Continue;
            };
            match e {
                SessionEvent::OobOutput { action, value } => {
                    let _ = writeln!(out, "oob output: {action:?} {value}");
                }
                SessionEvent::OobInputNeeded { action, .. } => {
                    let text = ask(&format!(
                        "enter the value the provisioner shows ({action:?}): "
                    ));
                    if let Some(v) = oob_value(action, &text) {
                        let _ = d.device_mut().input_oob(now, v);
                    }
                }
                SessionEvent::Failed(f) => failure = Some(format!("{f:?}")),
                _ => {}
            }
            Flow::Continue
        })
        .await
        .map_err(|e| Failure(Exit::Unavailable, e.to_string()))?;
        // The device half goes on finishing its link (the Provisioning Complete's
        // acknowledgment, Link Close) beside the node, which answers the Provisioner's first
        // configuration message at once.
        let serving = match device.into_serving(clock.now(), Duration::from_millis(1500)) {
            Some(s) => s,
            None => {
                return match (outcome, failure) {
                    (_, Some(f)) => fail(Exit::Refused, format!("provisioning failed: {f}")),
                    _ => fail(Exit::Timeout, "not provisioned before the time ran out"),
                };
            }
        };
        let st = serving.node().state().clone();
        let primary = st.primary;
        saved.iv_index = st.iv_index.0;
        saved.local = Some(st);
        store
            .save(&saved)
            .map_err(|e| Failure(e.exit(), e.to_string()))?;
        let _ = writeln!(out, "provisioned as {primary}");
        if a.exit_after_provisioning {
            // The link still finishes before the process goes.
            let mut serving = serving;
            let settle = clock.now() + Duration::from_millis(1500);
            let _ = drive(&mut serving, &mut radio, &clock, Some(settle), |_, _, _| {
                Flow::Continue
            })
            .await;
            saved.remember_at_exit(serving.node_mut());
            store
                .save(&saved)
                .map_err(|e| Failure(e.exit(), e.to_string()))?;
            return crate::capture::close(&mut radio);
        }
        Some(serving)
    } else {
        None
    };
    let mut node = match just_provisioned {
        Some(serving) => serving,
        None => ServingNode::new(
            saved
                .local_node(ChaCha8Rng::from_entropy())
                .ok_or(Failure(Exit::Unavailable, "no node state".into()))?,
        ),
    };
    if a.proxy && node.node().state().gatt_proxy.is_none() {
        node.node_mut().update_state(|s| s.gatt_proxy = Some(true));
    }
    let _ = writeln!(out, "node {} on the air", node.node().primary());
    let mut error = None;
    let mut reset = false;
    // The replay protection list changes with every message accepted: it is saved with the
    // node's state, and on its own at most once per RPL_SAVE_EVERY (as Zephyr's
    // CONFIG_BT_MESH_RPL_STORE_TIMEOUT), and when the node stops.
    let mut rpl_saved_at = clock.now();
    // A process that cannot watch for signals is stopped the default way.
    let stop = async {
        match crate::runtime::stop_signals() {
            Ok(s) => s.await,
            Err(_) => std::future::pending().await,
        }
    };
    let run = drive(&mut node, &mut radio, &clock, deadline, |n, now, e| {
        // Every event of the node: `weft node -v` shows them.
        tracing::info!(target: "weft::node", event = ?e);
        let rpl_due = saved.rpl.as_ref() != Some(n.node().rpl())
            && now.saturating_since(rpl_saved_at) >= RPL_SAVE_EVERY;
        if matches!(e, Event::PersistState) || rpl_due {
            saved.remember(n.node());
            rpl_saved_at = now;
            if let Err(err) = store.save(&saved) {
                error = Some(err.to_string());
                return Flow::Stop;
            }
        }
        match e {
            Event::PersistState => {}
            Event::State { element, change } => {
                let _ = writeln!(out, "element {element}: {change:?}");
            }
            Event::NodeReset => {
                let _ = writeln!(out, "reset: leaving the network");
                let _ = std::fs::remove_file(&store.path);
                reset = true;
                return Flow::Stop;
            }
            _ => {}
        }
        Flow::Continue
    });
    // SIGTERM or ctrl-c is a clean stop: the node's state is written back below. The node is
    // sans-IO, so stopping between two awaits leaves it whole.
    tokio::select! {
        r = run => { r.map_err(|e| Failure(Exit::Unavailable, e.to_string()))?; }
        _ = stop => {}
    }
    if reset {
        // The Config Node Reset Status (and its network retransmissions) still go out before
        // the node forgets its keys (MshPRT §4.3.2.53).
        let settle = clock.now() + Duration::from_millis(1000);
        let _ = drive(&mut node, &mut radio, &clock, Some(settle), |_, _, _| {
            Flow::Continue
        })
        .await;
    } else if error.is_none() {
        // A clean stop: the replay protection list, and the exact next sequence number.
        saved.remember_at_exit(node.node_mut());
        store
            .save(&saved)
            .map_err(|e| Failure(e.exit(), e.to_string()))?;
    }
    if let Some(e) = error {
        return fail(
            Exit::Unavailable,
            format!("cannot save the node state: {e}"),
        );
    }
    crate::capture::close(&mut radio)
}

/// Runs a provisioner node until it has nothing left to send ([`ProvisionerNode::quiet`]).
struct UntilQuiet;

impl<R: rand_core::RngCore> Hooks<ProvisionerNode<R>> for UntilQuiet {
    fn on_event(
        &mut self,
        _: &mut ProvisionerNode<R>,
        _: Instant,
        _: ProvisionerNodeEvent,
    ) -> Flow {
        Flow::Continue
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(20))
    }

    fn on_tick(&mut self, station: &mut ProvisionerNode<R>, _: Instant) -> Flow {
        if station.quiet() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// How often at most `weft node` saves its replay protection list on its own.
const RPL_SAVE_EVERY: Duration = Duration::from_secs(1);

fn device_config(oob: &OobArg) -> DeviceConfig {
    let auth = match oob {
        OobArg::None => AuthMethod::NoOob,
        OobArg::Static(_) => AuthMethod::StaticOob,
        OobArg::Output(action, size) => AuthMethod::OutputOob {
            action: *action,
            size: *size,
        },
        OobArg::Input(action, size) => AuthMethod::InputOob {
            action: *action,
            size: *size,
        },
    };
    DeviceConfig {
        capabilities: Capabilities::offering(
            1,
            Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
            auth,
        ),
        static_oob: match oob {
            OobArg::Static(v) => Some(v.clone()),
            _ => None,
        },
        oob_private_key: None,
    }
}

// ------------------------------------------------------------------------------------------
// weft provision
// ------------------------------------------------------------------------------------------

/// `weft provision --bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BearerArg {
    /// PB-ADV (MshPRT §5.2.1).
    Adv,
    /// PB-GATT (MshPRT §5.2.2).
    Gatt,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProvisionArgs {
    /// The radio: `sim:PATH` for the live simulated air (`weft sim serve`);
    /// `hci:/dev/ttyACM0[?baud=N&rtscts=0|1]`, `hci-tcp:HOST:PORT`, `hci-unix:PATH`, `hci-user:hciN` a Bluetooth controller over HCI (`weft radios` lists what is attached).
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio, conflicts_with = "serve")]
    pub radio: Option<String>,
    /// Provision through `weft serve --socket PATH` (which holds the store and the radio)
    /// instead of opening them here.
    #[arg(long, value_name = "PATH")]
    pub serve: Option<std::path::PathBuf>,
    /// The device to provision.
    #[arg(long, value_parser = parse_uuid, required_unless_present = "all", conflicts_with = "all")]
    pub uuid: Option<[u8; 16]>,
    /// Provision every unprovisioned device heard, several at once, with a progress bar.
    #[arg(long)]
    pub all: bool,
    /// The provisioning bearer: `adv` (PB-ADV) or `gatt` (PB-GATT: connect to the device's
    /// Mesh Provisioning Service, at the address its beacon is heard from; needs a radio with
    /// GATT connections, such as `sim:PATH`).
    #[arg(long, value_enum, default_value_t = BearerArg::Adv, conflicts_with = "all")]
    pub bearer: BearerArg,
    /// With --all: seconds to listen for unprovisioned beacons.
    #[arg(long, default_value_t = 10.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub scan: f64,
    /// Links open at once with --all, 1-64 (one advertiser carries them all).
    #[arg(long, default_value_t = 12, value_parser = crate::args::links)]
    pub parallel: usize,
    /// Authentication: `none`, `static:HEX`; with output/input OOB weft asks on the terminal.
    #[arg(long, value_parser = parse_oob, default_value = "none")]
    pub oob: OobArg,
    /// Unicast address to assign (default: the next free one of weft's range).
    #[arg(long, value_parser = crate::args::unicast, conflicts_with = "all")]
    pub address: Option<weft_mesh::ble::Address>,
    /// Seconds to wait for the device and for each step.
    #[arg(long, default_value_t = 30.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub timeout: f64,
    /// Skip the configuration after provisioning (composition, app key, bindings).
    #[arg(long)]
    pub no_configure: bool,
    /// While configuring: subscribe the node's server models (OnOff, Level, Sensor) to this
    /// group (c000-fffe).
    #[arg(long, value_parser = crate::args::subscription)]
    pub subscribe: Option<weft_mesh::ble::Address>,
    /// While configuring: publish from the node's client models (OnOff, Level, Sensor clients)
    /// and its Sensor Server to this address (unicast or group), with application key 0.
    #[arg(long, value_parser = crate::args::destination)]
    pub publish: Option<weft_mesh::ble::Address>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreOpts,
}

pub fn run_provision(a: &ProvisionArgs, out: &mut impl Write) -> Result<Exit> {
    let (done, failed) = match &a.serve {
        Some(path) => crate::serve::client::provision(path, a)?,
        None => block_on(provision_main(a))?,
    };
    {
        {
            for v in &done {
                let _ = if a.json {
                    writeln!(out, "{v}")
                } else {
                    writeln!(
                        out,
                        "provisioned {} as {} ({} elements){}",
                        v["uuid"].as_str().unwrap_or(""),
                        v["address"].as_str().unwrap_or(""),
                        v["elements"],
                        if v["configured"] == true {
                            ", configured"
                        } else {
                            ""
                        }
                    )
                };
            }
            for (uuid, why) in &failed {
                let _ = if a.json {
                    writeln!(out, "{}", json!({"uuid": hex::encode(uuid), "error": why}))
                } else {
                    writeln!(out, "failed {}: {why}", hex::encode(uuid))
                };
            }
            if !failed.is_empty() {
                Ok(Exit::Refused)
            } else if done.is_empty() {
                fail(
                    Exit::Timeout,
                    format!("no unprovisioned device heard within {} s", a.scan),
                )
            } else {
                Ok(Exit::Ok)
            }
        }
    }
}

/// Progress on standard error: a bar on a terminal, a line per change elsewhere.
struct Progress {
    tty: bool,
    last: (usize, usize, usize),
}

impl Progress {
    fn show(&mut self, done: usize, failed: usize, total: usize) {
        if (done, failed, total) == self.last || total == 0 {
            return;
        }
        self.last = (done, failed, total);
        if self.tty {
            let width = 30;
            let filled = (done + failed) * width / total.max(1);
            eprint!(
                "\r[{}{}] {done}/{total} provisioned, {failed} failed ",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done + failed == total {
                eprintln!();
            }
        } else {
            eprintln!("{done}/{total} provisioned, {failed} failed");
        }
    }
}

/// The devices provisioned (as `weft provision --json` prints them), and those that failed.
pub(crate) type Outcomes = (Vec<serde_json::Value>, Vec<([u8; 16], String)>);

async fn provision_main(a: &ProvisionArgs) -> Result<Outcomes, Failure> {
    let radio = crate::ops::radio_of(&a.radio)?;
    let mut session = Session::open_checked(&a.store, radio, |state| check(a, state)).await?;
    provision_in(&mut session, a).await
}

/// Whether `a` can be carried out on the network `state`, before the radio is touched.
pub(crate) fn check(a: &ProvisionArgs, state: &crate::store::NetState) -> Result<(), Failure> {
    if let Some(uuid) = a.uuid {
        if state.cdb.nodes.iter().any(|n| n.uuid.0 == uuid) {
            return fail(
                Exit::Refused,
                format!("{} is already a node of this network", hex::encode(uuid)),
            );
        }
    }
    match a.address {
            Some(addr) => match state.cdb.address_in_use(addr.0, 1, state.iv_index) {
                Some(holder) => fail(
                    Exit::Usage,
                    format!(
                        "--address {:04X} is taken by {holder}: omit --address to take the next free one ({})",
                        addr.0,
                        free_hint(state)
                    ),
                ),
                None => Ok(()),
            },
            None if state.cdb.next_unicast(1, state.iv_index).is_none() => {
                fail(Exit::Refused, "no free unicast address")
            }
            None => Ok(()),
        }
}

/// `weft provision` on an open session (the command's own, or `weft serve`'s).
pub(crate) async fn provision_in(
    session: &mut Session,
    a: &ProvisionArgs,
) -> Result<Outcomes, Failure> {
    use std::io::IsTerminal;
    let clock = session.clock;
    let start = clock.now();
    let scan_end = start + Duration::from_micros((a.scan.max(0.0) * 1e6) as u64);
    let deadline = start
        + Duration::from_micros(
            ((a.timeout + if a.all { a.scan } else { 0.0 }).max(0.0) * 1e6) as u64,
        );
    // What to configure on each device provisioned (composition, application key 0 and its
    // bindings, subscriptions and publications as asked; ConfigClient::configure), each
    // request sent every 2 s for up to --timeout seconds, once every device is provisioned
    // (the air stays free for the beacons of the scan).
    let mut plan = None;
    let mut no_plan = None;
    if !a.no_configure {
        match crate::ops::app_key(&session.state, 0) {
            Ok(key) => {
                plan = Some(ConfigurePlan {
                    net_key_index: KeyIndex::from_bits(key.bound_net_key),
                    app_key_index: KeyIndex::from_bits(key.index),
                    app_key: key.key.0,
                    subscribe: a.subscribe,
                    publish: a.publish,
                })
            }
            Err(Failure(_, why)) => no_plan = Some(why),
        }
    }
    let mut config_deadline = None;
    let tries = (a.timeout.max(0.0) / DEFAULT_RETRY.as_secs_f64())
        .ceil()
        .clamp(1.0, f64::from(u8::MAX)) as u8;
    session.station.set_config_retry(DEFAULT_RETRY, tries);
    session.station.set_settings(ProvisionSettings {
        attention_duration: 5,
        static_oob: match &a.oob {
            OobArg::Static(v) => Some(v.clone()),
            _ => None,
        },
    });
    let mut done: Vec<([u8; 16], u16, Provisioned)> = Vec::new();
    let mut failed: Vec<([u8; 16], String)> = Vec::new();
    if a.all {
        session.station.set_auto(Some(AutoProvision {
            parallel: a.parallel.max(1),
            until: Some(scan_end),
            retry: false,
        }));
    } else if let Some(uuid) = a.uuid {
        let wanted = a.address.and_then(|x| UnicastAddress::new(x.0));
        let started = match a.bearer {
            BearerArg::Adv => session.station.provision(start, uuid, wanted).map(|_| ()),
            BearerArg::Gatt => {
                if !session.radio.caps().gatt {
                    return fail(
                        Exit::Usage,
                        format!("--bearer gatt: the radio {} has no GATT connections: use --bearer adv, or a radio that connects (sim:PATH)", a.radio.as_deref().unwrap_or("of weft serve")),
                    );
                }
                // A gatt:ADDRESS radio reaches that device only; elsewhere its address is
                // learnt from what it advertises.
                match a.radio.as_deref().and_then(crate::proxied::gatt_address) {
                    Some(peer) => session.station.provision_gatt_to(uuid, Some(peer), wanted),
                    None => session.station.provision_gatt_heard(uuid, wanted),
                }
            }
        };
        match started {
            Ok(()) => eprintln!("provisioning {}...", hex::encode(uuid)),
            Err(e) => failed.push((uuid, e.to_string())),
        }
    }
    let mut progress = Progress {
        tty: std::io::stderr().is_terminal(),
        last: (usize::MAX, 0, 0),
    };
    let mut configured = HashSet::new();
    let mut why: HashMap<u16, String> = HashMap::new();
    let mut save_error = None;
    let (all, timeout) = (a.all, a.timeout);
    loop {
        let station = &session.station;
        if all {
            let heard = done.len() + failed.len() + station.in_progress();
            progress.show(done.len(), failed.len(), heard);
        }
        let now = clock.now();
        let provisioning = station.in_progress() > 0 || (all && now < scan_end);
        if config_deadline.is_none() && (!provisioning || now >= deadline) {
            // Provisioning is over: configure what it gave, for up to --timeout more.
            config_deadline =
                Some(now + Duration::from_micros((a.timeout.max(0.0) * 1e6) as u64 + 2_000_000));
            for (_, address, _) in &done {
                if let (Some(plan), Some(node)) = (plan, UnicastAddress::new(*address)) {
                    session.station.configure(node, plan);
                }
            }
            continue;
        }
        let end = config_deadline.unwrap_or(deadline);
        let finished = config_deadline.is_some() && session.station.config_idle();
        if finished || now >= end || save_error.is_some() {
            break;
        }
        let wake = (now + Duration::from_millis(100)).min(end);
        let Session {
            store,
            state,
            station,
            radio,
            observe,
            ..
        } = &mut *session;
        drive(station, radio, &clock, Some(wake), |st, now, e| {
            let saves = matches!(
                e,
                ProvisionerNodeEvent::Node(Event::PersistState)
                    | ProvisionerNodeEvent::DatabaseChanged
            );
            if saves {
                if let Err(err) = crate::ops::persist(store, state, st) {
                    save_error = Some(err);
                    return Flow::Stop;
                }
            }
            if let Some(o) = observe.as_mut() {
                o(now, &e, state);
            }
            match e {
                _ if saves => {}
                ProvisionerNodeEvent::Provisioner(ProvisionerEvent::Session {
                    device_uuid,
                    event,
                }) => match event {
                    SessionEvent::Started(s) if !all => eprintln!("  start: {s:?}"),
                    SessionEvent::OobOutput { action, value } => eprintln!(
                        "  {}: enter {value} on the device ({action:?})",
                        hex::encode(device_uuid)
                    ),
                    SessionEvent::OobInputNeeded { action, .. } => {
                        let text = ask(&format!(
                            "  {}: enter the value the device shows ({action:?}): ",
                            hex::encode(device_uuid)
                        ));
                        if let Some(v) = oob_value(action, &text) {
                            let _ = st.input_oob(now, device_uuid, v);
                        }
                    }
                    _ => {}
                },
                ProvisionerNodeEvent::AddressAssigned {
                    address, elements, ..
                } if !all => {
                    eprintln!(
                        "  capabilities: {elements} element(s); its address: {:04x}",
                        address.get()
                    )
                }
                ProvisionerNodeEvent::Provisioned {
                    device_uuid,
                    provisioned,
                } => done.push((
                    device_uuid,
                    provisioned.data.unicast_address.get(),
                    provisioned,
                )),
                ProvisionerNodeEvent::Failed {
                    device_uuid,
                    reason,
                } => failed.push((device_uuid, reason.to_string())),
                ProvisionerNodeEvent::Config(c) => {
                    config_event(&c, timeout, &mut configured, &mut why)
                }
                _ => {}
            }
            Flow::Continue
        })
        .await
        .map_err(|e| Failure(Exit::Unavailable, e.to_string()))?;
    }
    if let Some(e) = save_error {
        return fail(
            Exit::Unavailable,
            format!("cannot save the network state: {e}"),
        );
    }
    if !a.all && done.is_empty() && failed.is_empty() {
        let uuid = a.uuid.map(hex::encode).unwrap_or_default();
        return fail(
            Exit::Timeout,
            format!(
                "no answer from {uuid} within {} s (is it beaconing?)",
                a.timeout
            ),
        );
    }
    if !a.all {
        if let Some((_, why)) = failed.first() {
            return fail(Exit::Refused, why.clone());
        }
    }
    // Close the links properly: until nothing is left to send, 1.2 s at most.
    let settle = clock.now() + Duration::from_millis(1200);
    let _ = drive_with(
        &mut session.station,
        &mut session.radio,
        &clock,
        Some(settle),
        UntilQuiet,
    )
    .await;
    session.save()?;
    let mut results = Vec::new();
    for (uuid, address, p) in &done {
        if !a.no_configure && !configured.contains(address) {
            let text = why
                .get(address)
                .or(no_plan.as_ref())
                .map_or("the configuration stopped", |w| w.as_str());
            failed.push((
                *uuid,
                format!("provisioned as {address:04x} but not configured: {text}"),
            ));
            continue;
        }
        results.push(json!({
            "uuid": hex::encode(uuid),
            "address": format!("{address:04x}"),
            "elements": p.number_of_elements,
            "device_key": hex::encode(p.device_key),
            "algorithm": format!("{:?}", p.algorithm),
            "configured": !a.no_configure,
        }));
    }
    Ok((results, failed))
}

/// What the configuration of a node just provisioned reported: its composition shown, the
/// node configured, or why not.
fn config_event(
    event: &ConfigClientEvent,
    timeout: f64,
    configured: &mut HashSet<u16>,
    why: &mut HashMap<u16, String>,
) {
    match event {
        ConfigClientEvent::Answered {
            status: ConfigMessage::CompositionDataStatus { data, .. },
            ..
        } => {
            if let Ok(page) = CompositionDataPage0::parse(data) {
                eprintln!("  composition: {}", page.describe());
            }
        }
        ConfigClientEvent::Answered { .. } => {}
        ConfigClientEvent::Done { node } => {
            configured.insert(node.get());
        }
        ConfigClientEvent::Failed {
            node,
            request,
            reason,
        } => {
            let what = request
                .opcode()
                .name()
                .map_or("Config request", |n| n.trim_start_matches("Config "));
            let text = match (reason, request) {
                (ConfigFailure::Refused(code), _) => {
                    format!("{what}: the node answered {code:?}")
                }
                (ConfigFailure::Malformed(e), ConfigMessage::CompositionDataGet { .. }) => {
                    format!("bad composition data: {e}")
                }
                (ConfigFailure::Malformed(e), _) => {
                    format!("{what}: the status does not parse: {e}")
                }
                (ConfigFailure::NoAnswer { .. }, _) => format!(
                    "no answer from {} within {timeout} s (is it on the air and provisioned?)",
                    Address::from(*node)
                ),
            };
            why.insert(node.get(), text);
        }
    }
}

/// Where free unicast addresses start, for messages.
fn free_hint(state: &crate::store::NetState) -> String {
    match state.cdb.next_unicast(1, state.iv_index) {
        Some(a) => format!("free addresses start at {a:04X}"),
        None => "no unicast address is free".into(),
    }
}
