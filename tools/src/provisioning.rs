//! `weft node` (run as a mesh device: unprovisioned until a Provisioner adds it, then a node that
//! keeps its state) and `weft provision` (add a device to the network in the store, then
//! configure it: composition, application key, bindings).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::PathBuf;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use weft_mesh::ble::cdb::{Cdb, CdbElement, CdbNode, Hex16, HexKey, Uuid};
use weft_mesh::ble::foundation::composition::CompositionDataPage0;
use weft_mesh::ble::foundation::config::client::DEFAULT_RETRY;
use weft_mesh::ble::foundation::config::client::{
    ConfigClient, ConfigClientEvent, ConfigFailure, ConfigurePlan,
};
use weft_mesh::ble::foundation::config::ConfigMessage;
use weft_mesh::ble::models::{KeyIndex, ModelId};
use weft_mesh::ble::node::{ElementState, Event, ModelState, NodeState};
use weft_mesh::ble::prov::DeviceEvent;
use weft_mesh::ble::prov::{
    AuthPolicy, Device, DeviceConfig, OobAction, OobValue, Provisioner, ProvisionerConfig,
    ProvisionerEvent, SessionEvent,
};
use weft_mesh::ble::wire::beacon::OobInformation;
use weft_mesh::ble::wire::prov::{
    Algorithms, AuthMethod, Capabilities, InputOobAction, OutputOobAction, ProvisioningData,
};
use weft_mesh::ble::{Address, IvIndex, UnicastAddress};
use weft_mesh::Duration;

use crate::error::{block_on, fail, Failure, Result};
use crate::ops::{connect, Session};
use crate::runtime::{drive, Clock, Flow};
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
    /// The radio: `sim:PATH` for the live simulated air.
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
    /// Stop once provisioned (scripts), instead of serving the network.
    #[arg(long)]
    pub exit_after_provisioning: bool,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub seconds: Option<f64>,
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
    let mut radio = connect(&a.radio).await?;
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
    if saved.local.is_none() {
        // Unprovisioned: beacon and wait for a Provisioner (MshPRT §5).
        let config = device_config(&a.oob);
        let mut device = Device::new(
            ChaCha8Rng::from_entropy(),
            a.uuid,
            OobInformation(0),
            None,
            config,
        );
        let _ = writeln!(
            out,
            "unprovisioned {}: waiting for a provisioner",
            hex::encode(a.uuid)
        );
        let mut done = None;
        let mut failure = None;
        let outcome = drive(&mut device, &mut radio, &clock, deadline, |d, now, e| {
            match e {
                DeviceEvent::Session(SessionEvent::OobOutput { action, value }) => {
                    let _ = writeln!(out, "oob output: {action:?} {value}");
                }
                DeviceEvent::Session(SessionEvent::OobInputNeeded { action, .. }) => {
                    let text = ask(&format!(
                        "enter the value the provisioner shows ({action:?}): "
                    ));
                    if let Some(v) = oob_value(action, &text) {
                        let _ = d.input_oob(now, v);
                    }
                }
                DeviceEvent::Session(SessionEvent::Complete(p)) => {
                    done = Some(p);
                    return Flow::Stop;
                }
                DeviceEvent::Session(SessionEvent::Failed(f)) => failure = Some(format!("{f:?}")),
                _ => {}
            }
            Flow::Continue
        })
        .await
        .map_err(|e| Failure(Exit::Unavailable, e.to_string()))?;
        // Let the Provisioning Complete and link acknowledgments go out.
        let settle = clock.now() + Duration::from_millis(1500);
        let _ = drive(&mut device, &mut radio, &clock, Some(settle), |_, _, _| {
            Flow::Continue
        })
        .await;
        let Some(p) = done else {
            return match (outcome, failure) {
                (_, Some(f)) => fail(Exit::Refused, format!("provisioning failed: {f}")),
                _ => fail(Exit::Timeout, "not provisioned before the time ran out"),
            };
        };
        let mut element_models = vec![
            ModelState::new(ModelId::CONFIG_SERVER),
            ModelState::new(ModelId::HEALTH_SERVER),
        ];
        element_models.extend(models.iter().map(|m| ModelState::new(*m)));
        let st = NodeState::from_provisioned(
            a.uuid,
            &p,
            vec![ElementState {
                location: 0x0100,
                models: element_models,
            }],
        );
        saved.iv_index = p.data.iv_index.0;
        saved.local = Some(st);
        store
            .save(&saved)
            .map_err(|e| Failure(e.exit(), e.to_string()))?;
        let _ = writeln!(out, "provisioned as {}", p.data.unicast_address);
        if a.exit_after_provisioning {
            return Ok(());
        }
    }
    let mut node = saved
        .local_node(ChaCha8Rng::from_entropy())
        .ok_or(Failure(Exit::Unavailable, "no node state".into()))?;
    let _ = writeln!(out, "node {} on the air", node.primary());
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
        let rpl_due = saved.rpl.as_ref() != Some(n.rpl())
            && now.saturating_since(rpl_saved_at) >= RPL_SAVE_EVERY;
        if matches!(e, Event::PersistState) || rpl_due {
            saved.remember(n);
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
        saved.remember_at_exit(&mut node);
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
    Ok(())
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

#[derive(Debug, Clone, clap::Args)]
pub struct ProvisionArgs {
    /// The radio: `sim:PATH` for the live simulated air.
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio)]
    pub radio: String,
    /// The device to provision.
    #[arg(long, value_parser = parse_uuid, required_unless_present = "all", conflicts_with = "all")]
    pub uuid: Option<[u8; 16]>,
    /// Provision every unprovisioned device heard, several at once, with a progress bar.
    #[arg(long)]
    pub all: bool,
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
    let (done, failed) = block_on(provision_main(a))?;
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

type Outcomes = (Vec<serde_json::Value>, Vec<([u8; 16], String)>);

async fn provision_main(a: &ProvisionArgs) -> Result<Outcomes, Failure> {
    use std::io::IsTerminal;
    let mut session = Session::open_checked(&a.store, &a.radio, |state| {
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
            None => Ok(()),
        }
    })
    .await?;
    let known: std::collections::HashSet<[u8; 16]> =
        session.state.cdb.nodes.iter().map(|n| n.uuid.0).collect();
    // The address each device starts with; the final one is chosen once its Capabilities tell
    // how many elements it has (`assign`, below).
    let first_guess = match a.address {
        Some(addr) => addr.0,
        None => session
            .state
            .cdb
            .next_unicast(1, session.state.iv_index)
            .ok_or(Failure(Exit::Refused, "no free unicast address".into()))?,
    };
    let net = session.state.cdb.net_keys[0].clone();
    let (iv_index, iv_update) = (session.state.iv_index, session.state.iv_update);
    let static_oob = match &a.oob {
        OobArg::Static(v) => Some(v.clone()),
        _ => None,
    };
    let mut prov = Provisioner::new(ChaCha8Rng::from_entropy());
    let clock = session.clock;
    let mut waiting: std::collections::VecDeque<[u8; 16]> = a.uuid.into_iter().collect();
    let mut seen: std::collections::HashSet<[u8; 16]> = waiting.iter().copied().collect();
    // The addresses given to devices in this run: (primary, elements).
    let mut addresses: std::collections::HashMap<[u8; 16], (u16, u16)> = Default::default();
    let mut active = 0usize;
    let mut done: Vec<([u8; 16], u16, weft_mesh::ble::prov::Provisioned)> = Vec::new();
    let mut failed: Vec<([u8; 16], String)> = Vec::new();
    let parallel = if a.all { a.parallel.max(1) } else { 1 };
    let start = clock.now();
    let scan_end = start + Duration::from_micros((a.scan.max(0.0) * 1e6) as u64);
    let deadline = start
        + Duration::from_micros(
            ((a.timeout + if a.all { a.scan } else { 0.0 }).max(0.0) * 1e6) as u64,
        );
    let mut progress = Progress {
        tty: std::io::stderr().is_terminal(),
        last: (usize::MAX, 0, 0),
    };
    let mut error = None;
    loop {
        // Open links up to the limit.
        while active < parallel {
            let Some(uuid) = waiting.pop_front() else {
                break;
            };
            let Some(unicast) = UnicastAddress::new(first_guess) else {
                error = Some("no free unicast address".to_string());
                break;
            };
            let data = ProvisioningData {
                net_key: net.key.0,
                key_index: net.index,
                flags: weft_mesh::ble::wire::beacon::Flags(u8::from(iv_update) << 1),
                iv_index: IvIndex(iv_index),
                unicast_address: unicast,
            };
            let config = ProvisionerConfig {
                attention_duration: 5,
                data,
                algorithm: None,
                auth: AuthPolicy::Auto,
                static_oob: static_oob.clone(),
                device_public_key: None,
            };
            match prov.provision(clock.now(), uuid, config) {
                Ok(_) => {
                    active += 1;
                    if !a.all {
                        eprintln!("provisioning {}...", hex::encode(uuid));
                    }
                }
                Err(e) => failed.push((uuid, format!("{e:?}"))),
            }
        }
        if a.all {
            progress.show(done.len(), failed.len(), seen.len());
        }
        let now = clock.now();
        let finished = active == 0 && waiting.is_empty() && (!a.all || now >= scan_end);
        if finished || now >= deadline || error.is_some() {
            break;
        }
        let wake = (now + Duration::from_millis(100)).min(deadline);
        let all = a.all;
        let (cdb, iv) = (&session.state.cdb, session.state.iv_index);
        drive(
            &mut prov,
            &mut session.radio,
            &clock,
            Some(wake),
            |p, now, e| {
                match e {
                    ProvisionerEvent::Beacon(b)
                        if all
                            && now < scan_end
                            && !known.contains(&b.device_uuid)
                            && seen.insert(b.device_uuid) =>
                    {
                        waiting.push_back(b.device_uuid);
                    }
                    ProvisionerEvent::Session { device_uuid, event } => match event {
                        // The device's elements take consecutive addresses (MshPRT §3.4.2.2):
                        // now that their number is known, the device gets a range no node
                        // holds.
                        SessionEvent::Capabilities(c) => {
                            let n = u16::from(c.number_of_elements.max(1));
                            let chosen = assign(cdb, iv, a.address.map(|x| x.0), n, &addresses)
                                .and_then(|addr| {
                                    UnicastAddress::new(addr)
                                        .filter(|u| p.assign_address(device_uuid, *u).is_ok())
                                        .map(|_| addr)
                                        .ok_or_else(|| {
                                            format!("its {n} elements do not fit from {addr:04X}")
                                        })
                                });
                            match chosen {
                                Ok(addr) => {
                                    addresses.insert(device_uuid, (addr, n));
                                    if !all {
                                        eprintln!(
                                            "  capabilities: {n} element(s); its address: {addr:04x}"
                                        );
                                    }
                                }
                                Err(why) => {
                                    let _ = p.cancel(now, device_uuid);
                                    failed.push((device_uuid, why));
                                }
                            }
                        }
                        SessionEvent::Started(s) if !all => eprintln!("  start: {s:?}"),
                        SessionEvent::OobOutput { action, value } => {
                            eprintln!(
                                "  {}: enter {value} on the device ({action:?})",
                                hex::encode(device_uuid)
                            )
                        }
                        SessionEvent::OobInputNeeded { action, .. } => {
                            let text = ask(&format!(
                                "  {}: enter the value the device shows ({action:?}): ",
                                hex::encode(device_uuid)
                            ));
                            if let Some(v) = oob_value(action, &text) {
                                let _ = p.input_oob(now, device_uuid, v);
                            }
                        }
                        SessionEvent::Complete(c) => {
                            let addr = addresses.get(&device_uuid).map_or(0, |x| x.0);
                            done.push((device_uuid, addr, c));
                            active = active.saturating_sub(1);
                        }
                        SessionEvent::Failed(f) => {
                            if !failed.iter().any(|x| x.0 == device_uuid) {
                                failed.push((device_uuid, format!("provisioning failed: {f:?}")));
                            }
                            active = active.saturating_sub(1);
                        }
                        _ => {}
                    },
                    ProvisionerEvent::LinkClosed {
                        device_uuid,
                        reason,
                        ..
                    } => {
                        let ended = done.iter().any(|d| d.0 == device_uuid)
                            || failed.iter().any(|f| f.0 == device_uuid);
                        if !ended {
                            failed.push((device_uuid, format!("link closed: {reason:?}")));
                            active = active.saturating_sub(1);
                        }
                    }
                    _ => {}
                }
                Flow::Continue
            },
        )
        .await
        .map_err(|e| Failure(Exit::Unavailable, e.to_string()))?;
    }
    if let Some(e) = error {
        return fail(Exit::Refused, e);
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
    // Close the links properly while the records are written.
    let settle = clock.now() + Duration::from_millis(1200);
    let _ = drive(
        &mut prov,
        &mut session.radio,
        &clock,
        Some(settle),
        |_, _, _| Flow::Continue,
    )
    .await;
    for (uuid, address, p) in &done {
        // `assign` chose a free range; a record that would overlap another is never written
        // (the store would not take it).
        let count = u16::from(p.number_of_elements.max(1));
        if let Some(holder) =
            session
                .state
                .cdb
                .address_in_use(*address, count, session.state.iv_index)
        {
            failed.push((
                *uuid,
                format!("provisioned as {address:04x}, which {holder} holds: not recorded"),
            ));
            continue;
        }
        session.state.cdb.nodes.push(node_record(
            *uuid,
            *address,
            p,
            session.state.cdb.net_keys[0].index,
        ));
    }
    done.retain(|d| session.state.cdb.nodes.iter().any(|n| n.uuid.0 == d.0));
    session.save()?;
    session.refresh_dev_keys();
    let not_configured = if a.no_configure {
        Default::default()
    } else {
        let addresses: Vec<u16> = done.iter().map(|d| d.1).collect();
        configure(&mut session, &addresses, a).await
    };
    let mut results = Vec::new();
    for (uuid, address, p) in &done {
        if let Some(why) = not_configured.get(address) {
            failed.push((
                *uuid,
                format!("provisioned as {address:04x} but not configured: {why}"),
            ));
            continue;
        }
        let configured = !a.no_configure;
        results.push(json!({
            "uuid": hex::encode(uuid),
            "address": format!("{address:04x}"),
            "elements": p.number_of_elements,
            "device_key": hex::encode(p.device_key),
            "algorithm": format!("{:?}", p.algorithm),
            "configured": configured,
        }));
    }
    Ok((results, failed))
}

/// The primary address for a device of `elements` elements: `wanted` if all its addresses are
/// free, else (with no `wanted`) the first range after every node, exclusion and device of this
/// run (`given`). Errors say what holds the address.
fn assign(
    cdb: &weft_mesh::ble::cdb::Cdb,
    iv_index: u32,
    wanted: Option<u16>,
    elements: u16,
    given: &std::collections::HashMap<[u8; 16], (u16, u16)>,
) -> Result<u16, String> {
    let this_run = |first: u16| {
        let last = u32::from(first) + u32::from(elements) - 1;
        given
            .values()
            .find(|(p, n)| {
                u32::from(*p) <= last && u32::from(first) < u32::from(*p) + u32::from(*n)
            })
            .copied()
    };
    let first = match wanted {
        Some(w) => w,
        None => {
            let after_run = given.values().map(|(p, n)| p + n).max().unwrap_or(1);
            cdb.next_unicast(elements, iv_index)
                .ok_or("no free unicast address left for it")?
                .max(after_run)
        }
    };
    if u32::from(first) + u32::from(elements) - 1 > 0x7FFF {
        return Err(format!(
            "its {elements} elements do not fit the unicast range from {first:04X}"
        ));
    }
    if let Some(holder) = cdb.address_in_use(first, elements, iv_index) {
        return Err(format!(
            "it needs {elements} address(es) from {first:04X}, but {holder} holds one of them"
        ));
    }
    if let Some((p, _)) = this_run(first) {
        return Err(format!(
            "it needs {elements} address(es) from {first:04X}, but the device provisioned as {p:04X} in this run holds one of them"
        ));
    }
    Ok(first)
}

/// Where free unicast addresses start, for messages.
fn free_hint(state: &crate::store::NetState) -> String {
    match state.cdb.next_unicast(1, state.iv_index) {
        Some(a) => format!("free addresses start at {a:04X}"),
        None => "no unicast address is free".into(),
    }
}

/// The network database's record of a node just provisioned.
pub(crate) fn node_record(
    uuid: [u8; 16],
    address: u16,
    p: &weft_mesh::ble::prov::Provisioned,
    net_index: u16,
) -> CdbNode {
    CdbNode {
        uuid: Uuid(uuid),
        unicast_address: Hex16(address),
        device_key: Some(HexKey(p.device_key)),
        security: Default::default(),
        net_keys: vec![weft_mesh::ble::cdb::CdbNodeKey {
            index: net_index,
            updated: false,
        }],
        config_complete: false,
        name: None,
        cid: None,
        pid: None,
        vid: None,
        crpl: None,
        features: None,
        secure_network_beacon: None,
        default_ttl: None,
        network_transmit: None,
        relay_retransmit: None,
        app_keys: Vec::new(),
        elements: (0..p.number_of_elements)
            .map(|i| CdbElement {
                name: None,
                index: i,
                location: Hex16(0),
                models: Vec::new(),
            })
            .collect(),
        excluded: false,
        heartbeat_pub: None,
        heartbeat_sub: None,
        sequence_number: None,
    }
}

/// Configures the nodes just provisioned (the "configure" step of issue 5), side by side:
/// reads Composition Data page 0, gives each application key 0 and binds that key to every
/// model that takes application keys, subscribes and publishes as asked
/// ([`ConfigClient::configure`]); the network database records what the nodes answer. Each
/// request is sent every 2 s for up to `--timeout` seconds. Returns why each node that is not
/// configured is not.
async fn configure(
    session: &mut Session,
    addresses: &[u16],
    a: &ProvisionArgs,
) -> HashMap<u16, String> {
    let key = match crate::ops::app_key(&session.state, 0) {
        Ok(k) => k,
        Err(Failure(_, why)) => return addresses.iter().map(|&n| (n, why.clone())).collect(),
    };
    let plan = ConfigurePlan {
        net_key_index: KeyIndex::from_bits(key.bound_net_key),
        app_key_index: KeyIndex::from_bits(key.index),
        app_key: key.key.0,
        subscribe: a.subscribe,
        publish: a.publish,
    };
    let tries = (a.timeout.max(0.0) / DEFAULT_RETRY.as_secs_f64())
        .ceil()
        .clamp(1.0, f64::from(u8::MAX)) as u8;
    let mut client = ConfigClient::with_retry(DEFAULT_RETRY, tries);
    let mut why: HashMap<u16, String> = HashMap::new();
    for &address in addresses {
        match UnicastAddress::new(address) {
            Some(node) => client.configure(node, plan),
            None => {
                why.insert(address, "not a unicast address".into());
            }
        }
    }
    let mut configured = HashSet::new();
    let timeout = a.timeout;
    let run = session
        .run_config(&mut client, |event| match event {
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
        })
        .await;
    for &address in addresses {
        if configured.contains(&address) {
            continue;
        }
        let text = match &run {
            Err(Failure(_, e)) => e.clone(),
            Ok(()) => "the configuration stopped".into(),
        };
        why.entry(address).or_insert(text);
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::ble::cdb::Cdb;

    fn cdb_with_node_at(primary: u16, elements: usize) -> Cdb {
        let mut c = Cdb::new([1; 16], "n", "2026-01-01T00:00:00Z");
        let st = weft_mesh::ble::node::NodeState::new(
            [2; 16],
            UnicastAddress::new(primary).unwrap(),
            [3; 16],
            [4; 16],
            weft_mesh::ble::IvIndex(0),
            vec![
                weft_mesh::ble::node::ElementState {
                    location: 0,
                    models: Vec::new()
                };
                elements
            ],
        );
        c.nodes.push(CdbNode::from_node_state(&st, None));
        c
    }

    /// A device's address range is chosen once its element count is known: never over a
    /// node's elements or another device of the same run.
    #[test]
    fn a_device_gets_a_range_nobody_holds() {
        let c = cdb_with_node_at(0x0001, 3);
        let mut given = std::collections::HashMap::new();
        assert_eq!(assign(&c, 0, None, 2, &given), Ok(0x0004));
        given.insert([9; 16], (0x0004, 2));
        assert_eq!(assign(&c, 0, None, 1, &given), Ok(0x0006));
        // Asked for: taken by the node's third element, or by this run's device.
        let e = assign(&c, 0, Some(0x0003), 1, &given).unwrap_err();
        assert!(
            e.contains("node 0001, whose 3 elements hold 0001-0003"),
            "{e}"
        );
        let e = assign(&c, 0, Some(0x0010), 1, &given);
        assert_eq!(e, Ok(0x0010));
        let e = assign(&c, 0, Some(0x0005), 1, &given).unwrap_err();
        assert!(e.contains("provisioned as 0004 in this run"), "{e}");
        // A 4-element device asked for at 0x7FFE runs past 7FFF.
        let e = assign(&c, 0, Some(0x7ffe), 4, &given).unwrap_err();
        assert!(e.contains("do not fit"), "{e}");
    }
}
