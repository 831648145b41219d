//! `weft inspect`: the terminal network inspector, and `weft topology`: the same graph exported
//! headless (DOT or JSON).
//!
//! The network runs in a thread of its own ([`runtime`]); the UI ([`ui`]) draws snapshots of
//! the shared [`model::Model`] at a fixed tick and sends requests back through a channel.

pub mod keys;
pub mod layout;
pub mod live;
pub mod model;
pub mod runtime;
pub mod sources;
pub mod thread;
pub mod thread_topology;
pub mod ui;

use std::io::Write;
use std::time::{Duration as WallDuration, Instant as WallClock};

use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind, MouseButton,
    MouseEventKind,
};
use ratatui::crossterm::execute;
use serde_json::json;

use weft_radio::capture::CaptureFile;
use weft_radio::RadioUri;

use crate::error::Failure;
use crate::runtime::RadioArg;
use crate::sim::{RunArgs, RunError};
use crate::store::{NetState, Store, StoreOpts};
use crate::Exit;

use model::Feeder;
use runtime::{Pace, Runtime};
use thread::ThreadRuntime;
use ui::{App, Request};

/// How often the screen is redrawn.
pub const TICK: WallDuration = WallDuration::from_millis(50);

#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// The radio: `sim:NAME` runs a built-in scenario (e.g. `sim:smart-home`); `sim:PATH`
    /// joins the live air of `weft sim serve --socket PATH` as the store's provisioner node;
    /// `hci:/dev/ttyACM0[?baud=N&rtscts=0|1]`, `hci-tcp:HOST:PORT`, `hci-unix:PATH`, `hci-user:hciN` a Bluetooth controller over HCI (`weft radios` lists what is attached), the same; `bluez:hciN` an adapter bluetoothd owns, shared through BlueZ; gatt:ADDRESS (a weft built with `--features gatt`) has GATT connections only, which this command does not use
    /// (exit 3). Thread: `sim:thread-home` (the built-in 802.15.4 scenario, its key known), or
    /// `spinel:DEVICE`, `nrf154:DEVICE`, `otsim:N` with --thread-key. Give --radio twice (a
    /// Bluetooth Mesh source and a Thread one) to inspect both, a tab each.
    #[arg(long, value_parser = crate::args::radio)]
    pub radio: Vec<String>,
    /// Inspect through `weft serve --socket PATH`, which holds the store and the radio: its
    /// network decodes the air, and P, C, o and +/- are requests to it, beside other clients
    /// (`weft send|config|provision --serve PATH`) whose changes the inspector shows.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["radio", "scenario"])]
    pub serve: Option<std::path::PathBuf>,
    /// A built-in scenario (`weft sim list`) or a scenario file ending in .toml.
    #[arg(long)]
    pub scenario: Option<String>,
    /// The network store (--net, --passphrase-env, --key-file) whose keys decode the live air
    /// and whose provisioner node the inspector becomes (default: the default store, if any).
    /// Scenarios bring their own keys.
    #[command(flatten)]
    pub store: StoreOpts,
    /// Seed of the simulated network.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Virtual seconds per wall second.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Draw the topology with plain characters instead of braille.
    #[arg(long)]
    pub plain: bool,
    /// Capture the air into this pcapng file from the start (`c` stops it; see `weft capture`):
    /// the Bluetooth Mesh air, or the Thread air when Thread is the only source.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    /// Thread: join the network as weft's own node (a child) with this Active Operational
    /// Dataset (`dataset active -x`), shown as `you`; it gives the key, channel, PAN and
    /// mesh-local prefix too. Only with an `otsim:` or `spinel:` radio.
    #[arg(long, value_name = "HEX", value_parser = crate::thread::dataset_hex)]
    pub dataset: Option<String>,
    /// Thread: the network key (32 hex digits; `ot-ctl networkkey` prints it). Without it,
    /// encrypted frames are shown at the MAC level.
    #[arg(long, value_name = "HEX", value_parser = crate::args::key128)]
    pub thread_key: Option<[u8; 16]>,
    /// Thread: the key sequence to start from (Thread 1.3 §7.1.2).
    #[arg(long, value_name = "N")]
    pub key_sequence: Option<u32>,
    /// Thread: the 802.15.4 channel (11-26): spinel: and nrf154: radios listen on it, frames
    /// of other channels are counted, not shown.
    #[arg(long, value_name = "C", value_parser = crate::args::channel154)]
    pub channel: Option<u8>,
    /// Thread: only frames of this PAN (hex, e.g. face); others are counted as "other PAN".
    #[arg(long, value_name = "P", value_parser = crate::args::pan_id)]
    pub pan_id: Option<u16>,
    /// Thread: the mesh-local prefix (6LoWPAN context 0, a /64), e.g. fdde:ad00:beef:0::.
    #[arg(long, value_name = "P", value_parser = crate::decode_thread::mesh_local_prefix)]
    pub mesh_local_prefix: Option<std::net::Ipv6Addr>,
}

impl Default for InspectArgs {
    /// The built-in smart-home mesh, live.
    fn default() -> Self {
        InspectArgs {
            radio: Vec::new(),
            serve: None,
            scenario: None,
            store: StoreOpts::default(),
            seed: 1,
            speed: 1.0,
            plain: false,
            pcap: None,
            dataset: None,
            thread_key: None,
            key_sequence: None,
            channel: None,
            pan_id: None,
            mesh_local_prefix: None,
        }
    }
}

/// What a `--radio`/`--scenario` pair names: a scenario (by default the smart home) or a radio
/// (a usage error when `--radio` does not parse).
pub fn source_of(radio: Option<&str>, scenario: Option<&str>) -> Result<RadioArg, Failure> {
    match (radio, scenario) {
        (Some(r), _) => RadioArg::parse(r).map_err(|e| Failure::new(Exit::Usage, e)),
        (None, Some(s)) => Ok(RadioArg::Scenario(s.to_string())),
        (None, None) => Ok(RadioArg::Scenario("smart-home".into())),
    }
}

fn feeder_for(scenario: &str, seed: u64) -> Result<Feeder, Failure> {
    let args = RunArgs {
        scenario: scenario.to_string(),
        seed,
        ..RunArgs::default()
    };
    Feeder::new(&args).map_err(|e| match e {
        RunError::Usage(e) => Failure::new(Exit::Usage, e),
        RunError::Io(e) => Failure::new(Exit::Unavailable, e),
    })
}

/// Runs the inspector on the terminal: a Bluetooth Mesh source, a Thread source, or both (a
/// tab each; [`sources::plan`]).
pub fn run(a: &InspectArgs) -> Result<Exit, Failure> {
    if let Some(path) = &a.serve {
        let rt = start_served(path, a.pcap.as_deref())?;
        return on_terminal(Some(rt), None, a.plain);
    }
    let plan = sources::plan(a)?;
    if !(a.speed > 0.0 && a.speed <= 1000.0) {
        return Err(Failure::new(
            Exit::Usage,
            format!("--speed {}: give a factor between 0 and 1000", a.speed),
        ));
    }
    let scenario = match plan.mesh {
        Some(sources::MeshSource::Radio(uri)) => {
            let thread = plan
                .thread
                .as_ref()
                .map(|t| sources::start_thread(t, a, true))
                .transpose()?;
            let rt = start_radio(&uri, &a.store, None, a.pcap.as_deref())?;
            return on_terminal(Some(rt), thread, a.plain);
        }
        Some(sources::MeshSource::Scenario(name)) => Some(name),
        None => None,
    };
    if a.store.net.is_some() {
        return Err(Failure::new(
            Exit::Usage,
            "--net applies to the live air (--radio sim:SOCKET); a scenario brings its own keys",
        ));
    }
    let mesh = match scenario {
        Some(scenario) => {
            let mut feeder = feeder_for(&scenario, a.seed)?;
            if let Some(p) = &a.pcap {
                feeder
                    .start_capture(p)
                    .map_err(|e| Failure::new(Exit::Unavailable, e))?;
            }
            Some(feeder)
        }
        None => None,
    };
    let thread = plan
        .thread
        .as_ref()
        .map(|t| sources::start_thread(t, a, mesh.is_some()))
        .transpose()?;
    let mesh = mesh.map(|feeder| {
        Runtime::start(
            feeder,
            Pace {
                speed: Some(a.speed),
                ..Pace::default()
            },
        )
    });
    on_terminal(mesh, thread, a.plain)
}

/// The network a live inspector decodes with: the store the options name, else the default
/// store when it exists; `Ok(None)` when there is none.
pub fn live_store(opts: &StoreOpts) -> Result<Option<(Store, NetState)>, Failure> {
    let store = match Store::from_opts(opts) {
        Ok(s) => s,
        Err(_) if opts.net.is_none() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if opts.net.is_none() && !store.exists() {
        return Ok(None);
    }
    let state = store.load()?;
    Ok(Some((store, state)))
}

/// Connects the inspector to the live air at `socket` ([`start_radio`] on `sim:PATH`).
pub fn start_live(
    socket: &std::path::Path,
    opts: &StoreOpts,
    capture_dir: Option<std::path::PathBuf>,
) -> Result<Runtime, Failure> {
    let uri = RadioUri::Sim {
        path: socket.to_path_buf(),
    };
    start_radio(&uri, opts, capture_dir, None)
}

/// Runs the inspector on the radio `uri` names. With the store's provisioner node and the store
/// to itself, the inspector is that node; otherwise it listens, decoding with the store's keys
/// (a notice says why it only listens). A radio this build cannot drive is refused before the
/// store is touched. With `pcap`, the air is captured into that file from the start (a file
/// that cannot be created is refused before the store is touched too).
pub fn start_radio(
    uri: &RadioUri,
    opts: &StoreOpts,
    capture_dir: Option<std::path::PathBuf>,
    pcap: Option<&std::path::Path>,
) -> Result<Runtime, Failure> {
    if let Some(e) = weft_radio::open::unavailable(uri) {
        return Err(e.into());
    }
    let capture = pcap
        .map(|p| CaptureFile::create(p, weft_radio::Caps::ADVERTISING))
        .transpose()
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    let source = uri.to_string();
    let (mut feeder, why) = match live_store(opts)? {
        None => (live::LiveFeeder::new(&source, None, None), None),
        Some((store, state)) => match store.lock() {
            Ok(lock) => {
                let why = state.local.is_none().then(|| {
                    "read-only: the network has no provisioner node of weft's (weft net create)"
                        .to_string()
                });
                let held = live::HeldStore { store, lock };
                (live::LiveFeeder::new(&source, Some(state), Some(held)), why)
            }
            Err(e) => (
                live::LiveFeeder::new(&source, Some(state), None),
                Some(format!("read-only: {e}")),
            ),
        },
    };
    if let Some(why) = why {
        feeder.model.notify(why);
    }
    if let Some(file) = capture {
        feeder.capture_into(file);
    }
    live::start(uri, feeder, capture_dir).map_err(|e| Failure::new(Exit::Unavailable, e))
}

/// The inspector on the air `weft serve` at `path` hears, decoded with the network it holds
/// (fetched again when the server says it changed); its actions are requests to the server,
/// whose node carries them out ([`live::LiveRadio::Served`]). With `pcap`, what it hears is
/// captured.
pub fn start_served(
    path: &std::path::Path,
    pcap: Option<&std::path::Path>,
) -> Result<Runtime, Failure> {
    let capture = pcap
        .map(|p| CaptureFile::create(p, weft_radio::Caps::ADVERTISING))
        .transpose()
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    let node = crate::serve::radio::own_node(path)?;
    let state = crate::serve::radio::network(path)?;
    let source = format!("serve:{}", path.display());
    let mut feeder = live::LiveFeeder::served(&source, state, node);
    feeder.model.source = format!("{source} (live, through weft serve)");
    feeder.model.notify(format!(
        "through weft serve at {}: P provisions, C configures, o and +/- switch (the server's node sends)",
        path.display()
    ));
    if let Some(file) = capture {
        feeder.capture_into(file);
    }
    live::start_on(live::LiveRadio::Served(path.to_path_buf()), feeder, None)
        .map_err(|e| Failure::new(Exit::Unavailable, e))
}

/// Runs the UI on the terminal over the runtimes until the user quits, then stops them.
fn on_terminal(
    mesh: Option<Runtime>,
    thread: Option<ThreadRuntime>,
    plain: bool,
) -> Result<Exit, Failure> {
    let mut app = App::default();
    app.braille = !plain;
    if mesh.is_none() {
        app.protocol = ui::Protocol::Thread;
    }
    let mut terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let result = ui_loop(&mut terminal, mesh.as_ref(), thread.as_ref(), &mut app);
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    let thread_last = thread.map(ThreadRuntime::stop);
    let last = mesh.map(Runtime::stop);
    result.map_err(|e| Failure::new(Exit::Unavailable, format!("terminal error: {e}")))?;
    let capture_error = last
        .as_ref()
        .and_then(|l| l.capture_error.clone())
        .or_else(|| thread_last.as_ref().and_then(|l| l.capture_error.clone()));
    if let Some(e) = capture_error {
        return Err(Failure::new(Exit::Unavailable, e));
    }
    Ok(Exit::Ok)
}

/// Passes a request to the runtime it is for.
fn pass(r: ui::AnyRequest, mesh: Option<&Runtime>, thread: Option<&ThreadRuntime>) {
    match r {
        ui::AnyRequest::Mesh(r) => {
            if let Some(rt) = mesh {
                rt.request(r);
            }
        }
        ui::AnyRequest::Thread(c) => {
            if let Some(rt) = thread {
                rt.request(c);
            }
        }
    }
}

fn ui_loop(
    terminal: &mut ratatui::DefaultTerminal,
    mesh: Option<&Runtime>,
    thread: Option<&ThreadRuntime>,
    app: &mut App,
) -> std::io::Result<()> {
    let mut seen_notice = 0u64;
    let mut seen_thread_notice = 0u64;
    if let Some(rt) = mesh {
        let first = rt.snapshot();
        // Start on the first node that is not the inspector's own.
        if let Some(i) = first
            .topology
            .nodes()
            .position(|n| Some(n.key) != first.topology.host())
        {
            app.selected = i;
        }
        rt.request(Request::Select(
            app.selected_node(&first).map(|n| n.key as u16),
        ));
    }
    loop {
        let tick_start = WallClock::now();
        let m = mesh.map(Runtime::snapshot);
        let t = thread.map(ThreadRuntime::snapshot);
        if let Some((n, text)) = m.as_ref().and_then(|m| m.notice.as_ref()) {
            if *n != seen_notice {
                seen_notice = *n;
                app.status = Some(text.clone());
            }
        }
        if let Some((n, text)) = t.as_ref().and_then(|t| t.notice.as_ref()) {
            if *n != seen_thread_notice {
                seen_thread_notice = *n;
                app.status = Some(text.clone());
            }
        }
        let (m, t) = (m.as_deref(), t.as_deref());
        let on_thread = app.protocol == ui::Protocol::Thread && t.is_some();
        terminal.draw(|f| ui::draw_all(f, app, m, t))?;
        while let Some(left) = TICK.checked_sub(tick_start.elapsed()) {
            if !event::poll(left)? {
                break;
            }
            let action = |k| match k {
                MouseEventKind::ScrollUp => Some(keys::Action::Up),
                MouseEventKind::ScrollDown => Some(keys::Action::Down),
                _ => None,
            };
            match event::read()? {
                TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
                    if app.config_input.is_some() {
                        if let Some(r) = app.type_config(k.code) {
                            pass(ui::AnyRequest::Mesh(r), mesh, thread);
                        }
                    } else if app.input.is_some() {
                        app.type_filter(k.code);
                    } else if let Some(a) = keys::action_for(&k) {
                        if let Some(r) = app.act_any(a, m, t) {
                            pass(r, mesh, thread);
                        }
                    }
                }
                TermEvent::Mouse(me) => match me.kind {
                    MouseEventKind::Down(MouseButton::Left) => match (on_thread, m, t) {
                        (true, _, Some(t)) => app.click_thread(me.column, me.row, t),
                        (false, Some(m), _) => {
                            if let Some(r) = app.click(me.column, me.row, m) {
                                pass(ui::AnyRequest::Mesh(r), mesh, thread);
                            }
                        }
                        _ => {}
                    },
                    k => {
                        if let Some(a) = action(k) {
                            if let Some(r) = app.act_any(a, m, t) {
                                pass(r, mesh, thread);
                            }
                        }
                    }
                },
                // The next draw takes the new size.
                TermEvent::Resize(..) => break,
                _ => {}
            }
            if app.quit {
                return Ok(());
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// Graph export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TopologyArgs {
    /// A built-in scenario or a scenario file ending in .toml.
    #[arg(long, conflicts_with = "radio", required_unless_present = "radio")]
    pub scenario: Option<String>,
    /// The radio: `sim:NAME` runs a built-in scenario; `sim:PATH` listens to the live air of
    /// `weft sim serve --socket PATH`; `hci:/dev/ttyACM0[?baud=N&rtscts=0|1]`, `hci-tcp:HOST:PORT`, `hci-unix:PATH`, `hci-user:hciN` a Bluetooth controller over HCI (`weft radios` lists what is attached), the same;
    /// `bluez:hciN` an adapter bluetoothd owns; with --thread-key, `spinel:DEVICE`,
    /// `nrf154:DEVICE` or `otsim:N`, a Thread network's topology; gatt:ADDRESS (a weft built with `--features gatt`) has GATT connections only, which this command does not use
    /// (exit 3).
    #[arg(long, value_parser = crate::args::radio)]
    pub radio: Option<String>,
    /// The network store whose keys decode the live air (default: the default store, if any).
    #[command(flatten)]
    pub store: StoreOpts,
    /// Seconds to listen before exporting (virtual for a scenario, wall clock on the live air;
    /// at most 86400).
    #[arg(long, default_value_t = 30.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub seconds: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// dot (Graphviz) or json.
    #[arg(long, value_enum)]
    pub format: GraphFormat,
    /// A Thread network on an 802.15.4 radio (`spinel:`, `nrf154:`, `otsim:`): its network key
    /// (32 hex digits). The JSON is then the Thread topology (`{"type":"topology","routers":
    /// [...],"children":[...],...}`, as `weft decode --topology` prints it).
    #[arg(long, value_name = "HEX", value_parser = crate::args::key128, requires = "radio", conflicts_with = "scenario")]
    pub thread_key: Option<[u8; 16]>,
    /// The key sequence to start from (Thread 1.3 §7.1.2).
    #[arg(long, value_name = "N", requires = "thread_key")]
    pub key_sequence: Option<u32>,
    /// The mesh-local prefix (6LoWPAN context 0, a /64).
    #[arg(long, value_name = "PREFIX", requires = "thread_key", value_parser = crate::decode_thread::mesh_local_prefix)]
    pub mesh_local_prefix: Option<std::net::Ipv6Addr>,
}

/// `weft topology`: listens for a while, then writes the graph of links heard.
pub fn run_topology(a: &TopologyArgs, out: &mut impl Write) -> Result<Exit, Failure> {
    if !(a.seconds > 0.0 && a.seconds <= 86_400.0) {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--seconds {}: give a duration between 0 and 86400",
                a.seconds
            ),
        ));
    }
    if let (Some(key), Some(radio)) = (a.thread_key, a.radio.as_deref()) {
        let (topo, frames) = thread_topology::listen(
            radio,
            key,
            a.key_sequence.unwrap_or(0),
            a.mesh_local_prefix,
            a.seconds,
        )?;
        let text = match a.format {
            GraphFormat::Dot => layout::to_dot(&topo.graph()),
            GraphFormat::Json => {
                let mut v = serde_json::to_value(topo.report()).unwrap_or_default();
                v["source"] = json!(radio);
                v["seconds"] = json!(a.seconds);
                v["frames"] = json!(frames);
                format!("{v}\n")
            }
        };
        return match out.write_all(text.as_bytes()) {
            Ok(()) => Ok(Exit::Ok),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
            Err(e) => Err(Failure::new(Exit::Unavailable, e.to_string())),
        };
    }
    let model = topology_model(a)?;
    let topo = &model.topology;
    let text = match a.format {
        GraphFormat::Dot => layout::to_dot(topo),
        GraphFormat::Json => {
            let mut v = serde_json::to_value(topo).unwrap_or_default();
            v["source"] = json!(model.source);
            v["virtual_s"] = json!(a.seconds);
            v["layout"] = model
                .positions
                .iter()
                .map(|(k, x, y)| json!({"key": k, "x": (x * 1000.0).round() / 1000.0, "y": (y * 1000.0).round() / 1000.0}))
                .collect();
            format!("{v}\n")
        }
    };
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(Exit::Ok),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(e) => Err(Failure::new(Exit::Unavailable, e.to_string())),
    }
}

/// The picture after `--seconds`: of a scenario run in virtual time, or of the live air heard
/// for that long (wall clock), decoded with the store's keys.
fn topology_model(a: &TopologyArgs) -> Result<model::Model, Failure> {
    let scenario = match source_of(a.radio.as_deref(), a.scenario.as_deref())? {
        RadioArg::Radio(uri) => {
            if let Some(e) = weft_radio::open::unavailable(&uri) {
                return Err(e.into());
            }
            let net = live_store(&a.store)?.map(|(_, state)| state);
            let feeder = live::LiveFeeder::new(&uri.to_string(), net, None);
            let f = live::listen_for(&uri, feeder, a.seconds)
                .map_err(|e| Failure::new(Exit::Unavailable, e))?;
            return Ok(f.model);
        }
        RadioArg::Scenario(name) => name,
    };
    let mut feeder = feeder_for(&scenario, a.seed)?;
    runtime::run_for(&mut feeder, a.seconds)
        .map_err(|e| Failure::new(Exit::Unavailable, format!("{e:?}")))?;
    Ok(feeder.model)
}
