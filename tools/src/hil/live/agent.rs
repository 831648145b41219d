//! `weft hil role`: one role of a scenario as a process of its own on a rig's radio, so that a
//! `kill-restart` step really kills a process (SIGKILL) and a new one starts from what the old
//! one persisted. `weft hil run` starts one per role and talks to it in [`super::wire`] lines.
//!
//! The station is the one the simulator backend builds for the role (`SimBackend::new` with
//! the run's seed: every role process derives the same network, keys and addresses), taken out
//! and driven on the radio by radio's real-time driver. What it persists, in `STATE/ROLE.json`
//! written atomically: the node's state on every `PersistState` and after provisioning, its
//! replay protection list at most every [`RPL_SAVE_EVERY`] (as `weft node` does), the
//! provisioner's network database when it changes. Nothing else survives a kill.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use weft_mesh::ble::address::{Address, UnicastAddress};
use weft_mesh::ble::cdb::Cdb;
use weft_mesh::ble::foundation::config::client::ConfigClientEvent;
use weft_mesh::ble::foundation::config::{
    ConfigMessage, FeatureState, HeartbeatPublication, Retransmit,
};
use weft_mesh::ble::models::KeyIndex;
use weft_mesh::ble::node::{Command, Event, KeyRef, NodeState};
use weft_mesh::ble::prov::{DeviceEvent, OobValue, ProvisionerEvent, SessionEvent};
use weft_mesh::ble::station::ProvisionSettings;
use weft_mesh::ble::transport::rpl::ReplayProtectionList;
use weft_mesh::{Duration, Instant, RxFrame, TxFrame};
use weft_radio::capture::{stand_in_adv_address, CaptureFile, Recording};
use weft_radio::{Caps, Radio, RadioEvent, RadioFuture, RadioUri};

use super::wire::{Cmd, ConfigReq, Msg, State};
use crate::error::Failure;
use crate::hil::backend::{Observed, Role};
use crate::hil::scenario::HilScenario;
use crate::hil::sim::{self, access_message, auth_name, key_refresh_local, SimBackend};
use crate::hil::steps::Oob;
use crate::runtime::{drive_with, Clock, Flow, Hooks};
use crate::sim::{ScenarioStation, StationEvent};
use crate::Exit;

/// How often at most the replay protection list is saved on its own (as `weft node`).
const RPL_SAVE_EVERY: Duration = Duration::from_secs(1);
/// How often commands are read and the state looked at.
const TICK: Duration = Duration::from_millis(20);
/// How long a node that got Config Node Reset serves on before it forgets its state (its
/// Node Reset Status must reach the air first).
const RESET_LINGER: Duration = Duration::from_secs(1);
/// How long an HCI controller may stay away (the stream ended, no reconnection) before the
/// radio, and the scenario, fail.
const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(3);
/// The static OOB value (as the simulator backend's).
pub(super) const STATIC_OOB: [u8; 16] = *b"weft hil static!";
/// AD type of a Mesh Message (MshPRT §3.3.1).
const AD_MESH_MESSAGE: u8 = 0x2a;

/// `weft hil role` (started by `weft hil run`, not by hand).
#[derive(Debug, Clone, clap::Args)]
pub struct RoleArgs {
    /// The scenario (a built-in name or a .toml file).
    #[arg(long)]
    pub scenario: String,
    /// The role's name in it.
    #[arg(long)]
    pub role: String,
    /// The run's seed (the same in every role process: the same network).
    #[arg(long)]
    pub seed: u64,
    /// The rig's radio for this role.
    #[arg(long)]
    pub radio: String,
    /// Where the role persists its state.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// How many times this role was started before (random streams differ per start).
    #[arg(long, default_value_t = 0)]
    pub generation: u64,
    /// Write what the radio hears and sends here.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
}

/// What survives a kill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    state: NodeState,
    rpl: ReplayProtectionList,
    cdb: Option<Cdb>,
}

/// The file a role persists into.
pub(super) fn saved_path(dir: &Path, role: &str) -> PathBuf {
    dir.join(format!("{role}.json"))
}

pub(super) fn emit(msg: &Msg) -> bool {
    let mut out = std::io::stdout().lock();
    serde_json::to_string(msg)
        .ok()
        .and_then(|line| writeln!(out, "{line}").and_then(|_| out.flush()).ok())
        .is_some()
}

/// `weft hil role`.
pub fn run(a: &RoleArgs) -> Result<Exit, Failure> {
    let usage = |m: String| Failure::new(Exit::Usage, m);
    let sc = HilScenario::load(&a.scenario).map_err(|e| usage(e.to_string()))?;
    let role = sc
        .role(&a.role)
        .ok_or_else(|| usage(format!("no role {} in {}", a.role, sc.name)))?;
    let uri = RadioUri::parse(&a.radio).map_err(|e| usage(format!("--radio: {e}")))?;
    if SimBackend::is_thread(&sc) {
        return super::thread_agent::run(a, &sc, role, &uri);
    }
    let mut kit = SimBackend::new(&sc, a.seed, None).map_err(usage)?;
    kit.skip_streams(a.generation * 1000);
    let file = saved_path(&a.state, &a.role);
    let saved: Option<Saved> = match std::fs::read(&file) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .map_err(|e| Failure::new(Exit::Unavailable, format!("{}: {e}", file.display())))?,
        ),
        Err(_) => None,
    };
    let station = match &saved {
        Some(s) => kit.station_from(s.state.clone(), &s.rpl, s.cdb.clone()),
        None => kit.take_station(role),
    };
    let cmds = commands();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    rt.block_on(async move {
        let radio = open(&uri).await.map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("radio {} cannot be opened: {e}", a.radio),
            )
        })?;
        let pcap = match &a.pcap {
            // Flushed at once: a process killed before the first flush leaves a valid file.
            Some(p) => Some(
                CaptureFile::create(p, radio.caps())
                    .and_then(|mut f| f.flush().map(|()| f))
                    .map_err(|e| {
                        Failure::new(Exit::Unavailable, format!("--pcap {}: {e}", p.display()))
                    })?,
            ),
            None => None,
        };
        let own = stand_in_adv_address(station.as_node().map_or(0, |n| n.primary().get()));
        let last_pdu: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let mut radio = Tap {
            inner: Recording::new(radio, pcap, own),
            last: Arc::clone(&last_pdu),
        };
        let clock = Clock::new();
        let mut agent = Agent {
            kit,
            role,
            file,
            cmds,
            saved,
            rpl_saved_at: clock.now(),
            state: None,
            last_pdu,
            pdu_sent: None,
            reset_at: None,
            error: None,
        };
        let mut station = station;
        if agent.saved.is_none() {
            agent.save(&station);
        }
        emit(&Msg::Ready);
        let r = drive_with(&mut station, &mut radio, &clock, None, &mut agent).await;
        let _ = radio.inner.finish();
        if let Err(e) = r {
            emit(&Msg::Lost {
                reason: e.to_string(),
            });
            return Err(Failure::new(Exit::Unavailable, e.to_string()));
        }
        match agent.error {
            Some(e) => Err(Failure::new(Exit::Unavailable, e)),
            None => Ok(Exit::Ok),
        }
    })
}

/// The commands `weft hil run` writes to the role's standard input, one JSON line each; the
/// channel closes with the input.
pub(super) fn commands() -> Receiver<Cmd> {
    let (tx, cmds) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Cmd>(&line) {
                Ok(c) => {
                    if tx.send(c).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::warn!(target: "weft::hil", "bad command {line}: {e}"),
            }
        }
    });
    cmds
}

/// Opens the radio; an HCI controller that goes away fails it after [`GIVE_UP_AFTER`].
pub(super) async fn open(uri: &RadioUri) -> Result<Box<dyn Radio>, weft_radio::RadioError> {
    #[cfg(feature = "hci")]
    if matches!(
        uri,
        RadioUri::Hci { .. }
            | RadioUri::HciTcp { .. }
            | RadioUri::HciUnix { .. }
            | RadioUri::HciUser { .. }
    ) {
        let mut cfg = weft_radio::hci::HciConfig::default();
        cfg.reconnect.give_up_after = Some(GIVE_UP_AFTER);
        return Ok(Box::new(weft_radio::hci::HciRadio::open(uri, cfg).await?));
    }
    weft_radio::open(uri).await
}

/// A radio that remembers the last Mesh Message it put on the air, its capture flushed after
/// each frame (a Thread role's process uses it for the capture alone).
pub(super) struct Tap<R> {
    inner: Recording<R>,
    last: Arc<Mutex<Option<Vec<u8>>>>,
}

impl<R: Radio> Tap<R> {
    /// `inner`, remembering into `last`.
    pub(super) fn new(inner: Recording<R>, last: Arc<Mutex<Option<Vec<u8>>>>) -> Self {
        Tap { inner, last }
    }

    /// Closes the capture file, flushed.
    pub(super) fn finish(&mut self) -> Result<Option<PathBuf>, weft_radio::capture::CaptureError> {
        self.inner.finish()
    }

    /// Every frame captured is on disk at once: a role is killed outright (SIGKILL, a power
    /// cycle), and its capture is part of the scenario's. A file that fails is logged.
    fn flush(&mut self) {
        if let Err(e) = self.inner.flush() {
            tracing::warn!(target: "weft::capture", "{e}");
        }
    }
}

impl<R: Radio> Radio for Tap<R> {
    fn caps(&self) -> Caps {
        self.inner.caps()
    }

    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        if frame.bytes.get(1) == Some(&AD_MESH_MESSAGE) {
            if let Ok(mut l) = self.last.lock() {
                *l = Some(frame.bytes.clone());
            }
        }
        Box::pin(async move {
            let sent = self.inner.send(frame).await;
            self.flush();
            sent
        })
    }

    /// Cancel-safe as the radio's: the capture is flushed once a frame was taken (as by
    /// `recv_event`).
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            let heard = self.inner.recv().await;
            self.flush();
            heard
        })
    }

    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            let heard = self.inner.recv_event().await;
            self.flush();
            heard
        })
    }
}

struct Agent {
    kit: SimBackend,
    role: Role,
    file: PathBuf,
    cmds: Receiver<Cmd>,
    /// What is on disk.
    saved: Option<Saved>,
    rpl_saved_at: Instant,
    /// The state last reported.
    state: Option<State>,
    last_pdu: Arc<Mutex<Option<Vec<u8>>>>,
    pdu_sent: Option<Vec<u8>>,
    /// A node reset: when it forgets its state.
    reset_at: Option<Instant>,
    error: Option<String>,
}

fn uuid_hex(u: &[u8; 16]) -> String {
    hex::encode(u)
}

fn numeric(v: &OobValue) -> u32 {
    match v {
        OobValue::Numeric(n) => *n,
        OobValue::Alphanumeric(_) => 0,
    }
}

impl Agent {
    /// Writes what the station would persist, if it differs from what is on disk.
    fn save(&mut self, station: &ScenarioStation) {
        let Some(n) = station.as_node() else { return };
        let cdb = match station {
            ScenarioStation::Provisioner(p) => Some(p.cdb().clone()),
            _ => None,
        };
        let now = Saved {
            state: n.state().clone(),
            rpl: n.rpl().clone(),
            cdb,
        };
        if self.saved.as_ref() == Some(&now) {
            return;
        }
        let bytes = match serde_json::to_vec(&now) {
            Ok(b) => b,
            Err(e) => {
                self.error = Some(format!("cannot encode the state: {e}"));
                return;
            }
        };
        match crate::store::write_atomic(&self.file, &bytes) {
            Ok(()) => self.saved = Some(now),
            Err(e) => self.error = Some(format!("cannot save the state: {e}")),
        }
    }

    fn apply(&mut self, st: &mut ScenarioStation, now: Instant, cmd: Cmd) -> Result<(), String> {
        let (_, (new_net, new_app)) = self.kit.keys();
        let uuid_of = |h: &str| -> Result<[u8; 16], String> {
            hex::decode(h)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| format!("bad uuid {h}"))
        };
        let dst = |a: u16| UnicastAddress::new(a).ok_or_else(|| format!("{a:04x} is not unicast"));
        match cmd {
            Cmd::BecomeDevice { oob } => {
                *st = self.kit.device(self.role, oob.into());
                emit(&Msg::Became);
            }
            Cmd::Provision { uuid, oob } => {
                let ScenarioStation::Provisioner(p) = st else {
                    return Err("not the provisioner".into());
                };
                p.set_settings(ProvisionSettings {
                    attention_duration: 0,
                    static_oob: (Oob::from(oob) == Oob::Static).then(|| STATIC_OOB.to_vec()),
                });
                p.provision(now, uuid_of(&uuid)?, None)
                    .map_err(|e| format!("provisioning refused: {e}"))?;
            }
            Cmd::Configure {
                dst: d,
                subscribe,
                publish,
            } => {
                let plan = self.kit.plan(subscribe, publish);
                let ScenarioStation::Provisioner(p) = st else {
                    return Err("not the provisioner".into());
                };
                p.configure(dst(d)?, plan);
            }
            Cmd::Config { dst: d, req } => {
                let k = KeyIndex::from_bits(0);
                let msg = match req {
                    ConfigReq::Relay { on } => ConfigMessage::RelaySet {
                        state: if on {
                            FeatureState::Enabled
                        } else {
                            FeatureState::Disabled
                        },
                        retransmit: Retransmit {
                            count: 2,
                            interval_steps: 1,
                        },
                    },
                    ConfigReq::HeartbeatPublication {
                        dst: to,
                        period_s,
                        ttl,
                    } => ConfigMessage::HeartbeatPublicationSet(HeartbeatPublication::every(
                        Address(to),
                        period_s,
                        ttl,
                        k,
                    )),
                    ConfigReq::HeartbeatSubscription { src, dst, period_s } => {
                        ConfigMessage::HeartbeatSubscriptionSet {
                            source: Address(src),
                            destination: Address(dst),
                            period_log: sim::period_log(period_s),
                        }
                    }
                    ConfigReq::NetKeyUpdate => ConfigMessage::NetKeyUpdate {
                        net_key_index: k,
                        key: new_net,
                    },
                    ConfigReq::AppKeyUpdate => ConfigMessage::AppKeyUpdate {
                        net_key_index: k,
                        app_key_index: k,
                        key: new_app,
                    },
                    ConfigReq::NodeReset => ConfigMessage::NodeReset,
                    ConfigReq::GattProxy { on } => ConfigMessage::GattProxySet {
                        state: if on {
                            FeatureState::Enabled
                        } else {
                            FeatureState::Disabled
                        },
                    },
                };
                st.config_request(dst(d)?, msg)?;
            }
            Cmd::Send {
                dst: d,
                message,
                on,
                tid,
                ttl,
            } => {
                let n = st.as_node_mut().ok_or("not a node")?;
                n.handle_command(
                    now,
                    Command::Send {
                        element: 0,
                        dst: Address(d),
                        label: None,
                        key: KeyRef::App(0),
                        net_index: 0,
                        ttl,
                        message: access_message(&message, on, tid),
                    },
                );
            }
            Cmd::IvUpdate => {
                let n = st.as_node_mut().ok_or("not a node")?;
                n.handle_command(now, Command::StartIvUpdate);
            }
            Cmd::KeyRefresh { phase } => {
                let n = st.as_node_mut().ok_or("not a node")?;
                key_refresh_local(n, phase, new_net, new_app);
            }
            Cmd::InputOob { uuid, value } => {
                let v = OobValue::Numeric(value);
                match (st, uuid) {
                    (ScenarioStation::Provisioner(p), Some(u)) => p
                        .input_oob(now, uuid_of(&u)?, v)
                        .map_err(|e| e.to_string())?,
                    (ScenarioStation::Device(d), None) => d
                        .device_mut()
                        .input_oob(now, v)
                        .map_err(|e| e.to_string())?,
                    _ => return Err("no OOB value is awaited here".into()),
                }
            }
            Cmd::Ping { .. } => return Err("a Bluetooth Mesh role does not ping".into()),
            Cmd::Inject { hex: h } => {
                let bytes = hex::decode(&h).map_err(|e| e.to_string())?;
                weft_mesh::Station::handle_frame(
                    st,
                    now,
                    &crate::hil::backend::replayed_frame(now, bytes),
                );
            }
        }
        Ok(())
    }

    fn report_state(&mut self, st: &ScenarioStation) {
        let state = match st.as_node() {
            Some(n) => {
                let s = n.state();
                State {
                    address: Some(s.primary.get()),
                    provisioned: true,
                    iv_index: s.iv_index.0,
                    iv_update: s.iv_update,
                    key_phase: s.net_keys.first().map_or(0, |k| k.phase.to_u8()),
                    relay: s.relay,
                    ..State::default()
                }
            }
            None => State::default(),
        };
        report(&mut self.state, state);
    }
}

/// Tells the runner a role's state when it differs from what was last told (`last`).
pub(super) fn report(last: &mut Option<State>, state: State) {
    if last.as_ref() != Some(&state) {
        emit(&Msg::State {
            state: state.clone(),
        });
        *last = Some(state);
    }
}

impl Hooks<ScenarioStation> for &mut Agent {
    fn on_event(&mut self, st: &mut ScenarioStation, now: Instant, event: StationEvent) -> Flow {
        let msg = match event {
            StationEvent::Node(e) => {
                if let Some(what) = sim::node_observed(&e) {
                    Some(Msg::Seen { what })
                } else {
                    match e {
                        Event::Sent { src, seq, ctl, .. } => st
                            .as_node()
                            .filter(|n| n.primary().get() == src.0)
                            .map(|n| Msg::Seen {
                                what: Observed::Sent {
                                    seq: seq.get(),
                                    iv_index: n.tx_iv_index().0,
                                    ctl,
                                },
                            }),
                        Event::PersistState => {
                            self.save(st);
                            self.rpl_saved_at = now;
                            None
                        }
                        Event::NodeReset => {
                            self.reset_at = Some(now + RESET_LINGER);
                            Some(Msg::Seen {
                                what: Observed::NodeReset,
                            })
                        }
                        _ => None,
                    }
                }
            }
            StationEvent::Provisioner(ProvisionerEvent::Session { device_uuid, event }) => {
                let uuid = Some(uuid_hex(&device_uuid));
                match event {
                    SessionEvent::OobOutput { value, .. } => Some(Msg::OobShown {
                        uuid,
                        value: numeric(&value),
                    }),
                    SessionEvent::OobInputNeeded { .. } => Some(Msg::OobAsked { uuid }),
                    SessionEvent::Complete(p) => Some(Msg::Auth {
                        uuid,
                        method: auth_name(p.authentication),
                    }),
                    SessionEvent::Failed(f) => Some(Msg::ProvisionFailed {
                        uuid: uuid_hex(&device_uuid),
                        reason: format!("{f:?}"),
                    }),
                    _ => None,
                }
            }
            StationEvent::Device(DeviceEvent::Session(e)) => match e {
                SessionEvent::OobOutput { value, .. } => Some(Msg::OobShown {
                    uuid: None,
                    value: numeric(&value),
                }),
                SessionEvent::OobInputNeeded { .. } => Some(Msg::OobAsked { uuid: None }),
                SessionEvent::Complete(p) => Some(Msg::Auth {
                    uuid: None,
                    method: auth_name(p.authentication),
                }),
                _ => None,
            },
            StationEvent::Provisioned { address, .. } => {
                self.save(st);
                Some(Msg::Seen {
                    what: Observed::Provisioned { address },
                })
            }
            StationEvent::Config(ConfigClientEvent::Done { node }) => {
                Some(Msg::ConfigDone { dst: node.get() })
            }
            StationEvent::Config(ConfigClientEvent::Failed {
                node,
                request,
                reason,
            }) => Some(Msg::ConfigFailed {
                dst: node.get(),
                reason: format!("{request:?} failed: {reason:?}"),
            }),
            _ => None,
        };
        // weft writes the network database whenever it changes.
        if let ScenarioStation::Provisioner(p) = &*st {
            if self.saved.as_ref().and_then(|s| s.cdb.as_ref()) != Some(p.cdb()) {
                self.save(st);
            }
        }
        if let Some(m) = msg {
            if !emit(&m) {
                return Flow::Stop;
            }
        }
        if self.error.is_some() {
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn on_tick(&mut self, st: &mut ScenarioStation, now: Instant) -> Flow {
        loop {
            match self.cmds.try_recv() {
                Ok(cmd) => {
                    let what = format!("{cmd:?}");
                    if let Err(e) = self.apply(st, now, cmd) {
                        tracing::warn!(target: "weft::hil", "{what}: {e}");
                    }
                }
                // `weft hil run` closed our input: a clean stop.
                Err(TryRecvError::Disconnected) => return Flow::Stop,
                Err(TryRecvError::Empty) => break,
            }
        }
        if self.reset_at.is_some_and(|t| now >= t) {
            // weft removes a reset node's state: it starts again as a device.
            self.reset_at = None;
            let _ = std::fs::remove_file(&self.file);
            self.saved = None;
            *st = self.kit.device(self.role, Oob::None);
        }
        if now.saturating_since(self.rpl_saved_at) >= RPL_SAVE_EVERY {
            self.rpl_saved_at = now;
            self.save(st);
        }
        self.report_state(st);
        let pdu = self.last_pdu.lock().ok().and_then(|l| l.clone());
        if pdu.is_some() && pdu != self.pdu_sent {
            if let Some(p) = &pdu {
                emit(&Msg::Pdu {
                    hex: hex::encode(p),
                });
            }
            self.pdu_sent = pdu;
        }
        if self.error.is_some() {
            return Flow::Stop;
        }
        Flow::Continue
    }
}
