//! Operator actions on a network kept in the store: `weft send` and `weft config`. Each runs
//! weft's own provisioner node (the store's `local` node state) on a radio, sends one request
//! and waits for the status that answers it. The node's state (its sequence number
//! reservation above all) is saved before any frame using it goes on the air.

use std::io::Write;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use weft_mesh::ble::cdb::CdbAppKey;
use weft_mesh::ble::foundation::config::client::ConfigClientEvent;
use weft_mesh::ble::foundation::config::client::DEFAULT_RETRY;
use weft_mesh::ble::foundation::config::ConfigMessage;
use weft_mesh::ble::models::generic::{
    GenericMessage, LevelSet, OnOffSet, Transition, TransitionTime,
};
use weft_mesh::ble::models::sensor::SensorMessage;
use weft_mesh::ble::models::{KeyIndex, ModelId, ModelMessage};
use weft_mesh::ble::node::{Command, Event, KeyRef};
use weft_mesh::ble::station::{ProvisionerNode, ProvisionerNodeEvent};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::Wire;
use weft_mesh::ble::{Address, UnicastAddress};
use weft_mesh::{Duration, Instant};
use weft_radio::Radio;

use crate::error::{block_on, fail, Failure, Result};
use crate::runtime::{drive, Clock, Flow, RadioArg};
use crate::store::{NetState, Store, StoreOpts};
use crate::{args, Exit};

/// Options every operator command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct OpOpts {
    /// The radio: `sim:PATH` for the live simulated air (`weft sim serve`);
    /// `hci:/dev/ttyACM0[?baud=N&rtscts=0|1]`, `hci-tcp:HOST:PORT`, `hci-unix:PATH`, `hci-user:hciN` a Bluetooth controller over HCI (`weft radios` lists what is attached).
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio, conflicts_with = "serve")]
    pub radio: Option<String>,
    /// Act through `weft serve --socket PATH` (which holds the store and the radio) instead of
    /// opening them here. Global, as `--proxy` (which it excludes) is.
    #[arg(long, value_name = "PATH", global = true)]
    pub serve: Option<std::path::PathBuf>,
    /// Destination address (hex): a node's unicast address (0001-7fff) or a group (c000-ffff).
    #[arg(long, value_parser = args::destination)]
    pub dst: Address,
    /// Seconds to wait for the answer (above 0).
    #[arg(long, default_value_t = 5.0, value_parser = args::seconds, allow_hyphen_values = true, global = true)]
    pub timeout: f64,
    /// Print the answer as one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    /// Go through the GATT proxy of the node with this unicast address (MshPRT §6.8), found by
    /// its Node Identity advertising (`crate::proxied`); on a `gatt:ADDRESS` radio the
    /// request always goes through that node.
    #[arg(long, value_name = "ADDR", value_parser = args::unicast, global = true)]
    pub proxy: Option<Address>,
    #[command(flatten)]
    pub store: StoreOpts,
}

/// `weft send`.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub op: OpOpts,
    #[command(subcommand)]
    pub what: SendWhat,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SendWhat {
    /// Generic OnOff: `on`, `off` or `get`.
    Onoff {
        #[arg(value_parser = ["on", "off", "get"])]
        action: String,
        #[command(flatten)]
        transition: TransitionArgs,
    },
    /// Generic Level Set to N (-32768..32767).
    Level {
        #[arg(allow_negative_numbers = true)]
        level: i16,
        #[command(flatten)]
        transition: TransitionArgs,
    },
    /// Sensor: `get` reads every sensor of the node.
    Sensor {
        #[arg(value_parser = ["get"])]
        action: String,
    },
}

/// How a Set changes the state: over a transition time, after a delay (MshMDL §3.2.1.2).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct TransitionArgs {
    /// Transition time in milliseconds (up to 37,200,000 = 62 × 10 min; rounded to the
    /// nearest step the message can carry). Without it the node's Default Transition Time
    /// applies.
    #[arg(long, value_name = "MS", value_parser = parse_transition_ms)]
    pub transition: Option<TransitionTime>,
    /// Delay before the change starts, in milliseconds (0..=1275, 5 ms steps).
    #[arg(long, value_name = "MS", requires = "transition", value_parser = parse_delay_ms)]
    pub delay: Option<u8>,
}

impl TransitionArgs {
    fn to_transition(self) -> Option<Transition> {
        self.transition.map(|time| Transition {
            time,
            delay: self.delay.unwrap_or(0),
        })
    }
}

fn parse_transition_ms(s: &str) -> Result<TransitionTime, String> {
    s.parse::<u32>()
        .ok()
        .and_then(TransitionTime::from_millis)
        .ok_or_else(|| {
            format!("'{s}' is not a transition time: give milliseconds from 0 to 37200000")
        })
}

fn parse_delay_ms(s: &str) -> Result<u8, String> {
    match s.parse::<u32>() {
        Ok(ms) if ms <= 1275 => Ok(((ms + 2) / 5).min(255) as u8),
        _ => Err(format!(
            "'{s}' is not a delay: give milliseconds from 0 to 1275 (5 ms steps)"
        )),
    }
}

/// `weft config`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub op: OpOpts,
    #[command(subcommand)]
    pub what: ConfigWhat,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConfigWhat {
    /// Read Composition Data page 0.
    Composition,
    /// Give the node application key INDEX (from the network).
    AppkeyAdd {
        /// The application key's index (0-4095).
        #[arg(long, default_value_t = 0, value_parser = args::key_index)]
        index: u16,
    },
    /// Bind application key INDEX to a model (SIG ID in hex, or 8 hex digits for vendor).
    Bind {
        #[arg(long, value_parser = parse_model)]
        model: ModelId,
        /// The application key's index (0-4095).
        #[arg(long, default_value_t = 0, value_parser = args::key_index)]
        index: u16,
        /// Element address (unicast; default: the node's primary element).
        #[arg(long, value_parser = args::unicast)]
        element: Option<Address>,
    },
    /// Set a model's publication to ADDRESS with application key INDEX.
    PubSet {
        #[arg(long, value_parser = parse_model)]
        model: ModelId,
        /// Where to publish: 0000 (stop), a unicast address or a group.
        #[arg(long, value_parser = args::publication)]
        address: Address,
        /// The application key's index (0-4095).
        #[arg(long, default_value_t = 0, value_parser = args::key_index)]
        index: u16,
        /// Publish TTL: 0-127, or 255 for the node's Default TTL (the default).
        #[arg(long, value_parser = args::publish_ttl)]
        ttl: Option<u8>,
        /// Element address (unicast; default: the node's primary element).
        #[arg(long, value_parser = args::unicast)]
        element: Option<Address>,
    },
    /// Subscribe a model to group ADDRESS.
    SubAdd {
        #[arg(long, value_parser = parse_model)]
        model: ModelId,
        /// The group (c000-fffe).
        #[arg(long, value_parser = args::subscription)]
        address: Address,
        /// Element address (unicast; default: the node's primary element).
        #[arg(long, value_parser = args::unicast)]
        element: Option<Address>,
    },
    /// Read or set the Relay feature: `on`, `off` or `get`.
    Relay {
        #[arg(value_parser = ["on", "off", "get"])]
        action: String,
    },
    /// Read (no value) or set the Default TTL: 0 or 2-127.
    Ttl {
        #[arg(value_name = "TTL", value_parser = args::default_ttl)]
        value: Option<u8>,
    },
    /// Read (no --to) or set the Heartbeat Publication: a Heartbeat to ADDRESS every PERIOD
    /// seconds (a power of two up to 65536; 0 stops it), announcing the node's features and
    /// letting receivers count hops (MshPRT §4.2.17, §3.6.5.10).
    Heartbeat {
        /// Where the Heartbeats go: a unicast or group address (hex; 0000 stops them).
        #[arg(long, value_parser = args::publication)]
        to: Option<Address>,
        /// Seconds between Heartbeats: 0 (stop) or a power of two up to 65536.
        #[arg(long, default_value_t = 16, value_parser = parse_heartbeat_period)]
        period: u32,
        /// Initial TTL of each Heartbeat (0-127).
        #[arg(long, default_value_t = 7, value_parser = args::heartbeat_ttl)]
        ttl: u8,
    },
    /// Remove the node from the network (Config Node Reset).
    Reset,
}

/// A Heartbeat period in seconds: 0 (off) or a power of two up to 65536 (MshPRT §4.2.17.3).
fn parse_heartbeat_period(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v == 0 || (v.is_power_of_two() && v <= 65_536) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a Heartbeat period: give 0 (off) or a power of two of seconds up to 65536 (1, 2, 4, ... 16)"
        )),
    }
}

fn parse_model(s: &str) -> Result<ModelId, String> {
    let t = s.trim_start_matches("0x");
    let v = u32::from_str_radix(t, 16).map_err(|_| {
        format!(
            "'{s}' is not a model ID: use 4 hex digits (1000) or 8 for vendor models (05f10001)"
        )
    })?;
    match t.len() {
        1..=4 => Ok(ModelId::Sig(v as u16)),
        8 => Ok(ModelId::Vendor {
            company_id: (v >> 16) as u16,
            model_id: v as u16,
        }),
        _ => Err(format!(
            "'{s}' is not a model ID: use 4 hex digits (1000) or 8 for vendor models (05f10001)"
        )),
    }
}

pub fn run_send(a: &SendArgs, out: &mut impl Write) -> Result<Exit> {
    let (message, expect) = send_message(&a.what);
    finish(&a.op, message, expect, false, out)
}

/// The access message `weft send` sends, and the opcode of the status that answers it.
pub(crate) fn send_message(what: &SendWhat) -> (AccessMessage, Opcode) {
    let tid = (ChaCha8Rng::from_entropy().next_u32() & 0xff) as u8;
    let (message, expect) = match what {
        SendWhat::Onoff { action, transition } => match action.as_str() {
            "get" => (GenericMessage::OnOffGet, 0x8204),
            on => (
                GenericMessage::OnOffSet(OnOffSet {
                    on: on == "on",
                    tid,
                    transition: transition.to_transition(),
                }),
                0x8204,
            ),
        },
        SendWhat::Level { level, transition } => (
            GenericMessage::LevelSet(LevelSet {
                level: *level,
                tid,
                transition: transition.to_transition(),
            }),
            0x8208,
        ),
        SendWhat::Sensor { .. } => {
            let m = ModelMessage::Sensor(SensorMessage::Get { property_id: None });
            return (m.to_access(), Opcode::One(0x52));
        }
    };
    (message.to_access(), Opcode::Two(expect))
}

pub fn run_config(a: &ConfigArgs, out: &mut impl Write) -> Result<Exit> {
    let (message, expect) = config_message(a.op.dst, &a.what)?;
    finish(&a.op, message, expect, true, out)
}

/// The Config message `weft config` sends to `dst`, and the opcode of the status that
/// answers it.
pub(crate) fn config_message(dst: Address, what: &ConfigWhat) -> Result<(AccessMessage, Opcode)> {
    let Some(node) = UnicastAddress::new(dst.0) else {
        return fail(
            Exit::Usage,
            format!("--dst {dst} is not a unicast address: configuration goes to one node"),
        );
    };
    let element = |e: &Option<Address>| e.unwrap_or(Address::from(node));
    let msg = match what {
        ConfigWhat::Composition => ConfigMessage::CompositionDataGet { page: 0 },
        ConfigWhat::AppkeyAdd { index } => {
            // The key itself comes from the store; filled in below.
            ConfigMessage::AppKeyAdd {
                net_key_index: KeyIndex::from_bits(0),
                app_key_index: KeyIndex::from_bits(*index),
                key: [0; 16],
            }
        }
        ConfigWhat::Bind {
            model,
            index,
            element: e,
        } => ConfigMessage::ModelAppBind {
            element: element(e),
            app_key_index: KeyIndex::from_bits(*index),
            model: *model,
        },
        ConfigWhat::PubSet {
            model,
            address,
            index,
            ttl,
            element: e,
        } => ConfigMessage::ModelPublicationSet {
            element: element(e),
            address: *address,
            publication: weft_mesh::ble::foundation::config::Publication {
                app_key_index: KeyIndex::from_bits(*index),
                credential_flag: false,
                ttl: ttl.unwrap_or(0xFF),
                period: weft_mesh::ble::foundation::config::PublishPeriod::from_byte(0),
                retransmit: weft_mesh::ble::foundation::config::Retransmit::default(),
            },
            model: *model,
        },
        ConfigWhat::SubAdd {
            model,
            address,
            element: e,
        } => ConfigMessage::ModelSubscriptionAdd {
            element: element(e),
            address: *address,
            model: *model,
        },
        ConfigWhat::Relay { action } => match action.as_str() {
            "get" => ConfigMessage::RelayGet,
            on => ConfigMessage::RelaySet {
                state: if on == "on" {
                    weft_mesh::ble::foundation::config::FeatureState::Enabled
                } else {
                    weft_mesh::ble::foundation::config::FeatureState::Disabled
                },
                retransmit: weft_mesh::ble::foundation::config::Retransmit {
                    count: 2,
                    interval_steps: 1,
                },
            },
        },
        ConfigWhat::Ttl { value: None } => ConfigMessage::DefaultTtlGet,
        ConfigWhat::Ttl { value: Some(t) } => ConfigMessage::DefaultTtlSet { ttl: *t },
        ConfigWhat::Reset => ConfigMessage::NodeReset,
        ConfigWhat::Heartbeat { to: None, .. } => ConfigMessage::HeartbeatPublicationGet,
        ConfigWhat::Heartbeat {
            to: Some(to),
            period,
            ttl,
        } => ConfigMessage::HeartbeatPublicationSet(
            weft_mesh::ble::foundation::config::HeartbeatPublication::every(
                *to,
                *period,
                *ttl,
                KeyIndex::from_bits(0),
            ),
        ),
    };
    // Every request built above has a status that answers it (MshPRT §4.3.4).
    let expect = msg
        .status_opcode()
        .unwrap_or(weft_mesh::ble::foundation::config::NODE_RESET_STATUS);
    Ok((msg.to_access(), expect))
}

/// Sends `message` to the destination from the store's provisioner node and waits for
/// `expect` from it; prints the answer.
fn finish(
    op: &OpOpts,
    message: AccessMessage,
    expect: Opcode,
    device_key: bool,
    out: &mut impl Write,
) -> Result<Exit> {
    if op.serve.is_some() && op.proxy.is_some() {
        return fail(
            Exit::Usage,
            "--proxy cannot go through --serve: `weft serve` sends over its own radio; give --radio RADIO with --proxy",
        );
    }
    let answer = match &op.serve {
        Some(path) => crate::serve::client::exchange(
            path,
            if device_key { "config" } else { "send" },
            op.dst,
            &message,
            expect,
            op.timeout,
        )?,
        None => {
            let (src, answer) = block_on(request(op, message, expect, device_key))?;
            answer_json(src, &answer)
        }
    };
    let _ = if op.json {
        writeln!(out, "{answer}")
    } else {
        let text = |k: &str| answer[k].as_str().unwrap_or_default().to_string();
        writeln!(out, "{}: {}", text("src"), text("status"))
    };
    Ok(if answer["ok"] == false {
        Exit::Refused
    } else {
        Exit::Ok
    })
}

/// The answer `src` sent, as `weft send --json` prints it (and `weft serve` replies): `ok` is
/// false for a Config status whose Status Code is not Success.
pub(crate) fn answer_json(src: Address, answer: &AccessMessage) -> serde_json::Value {
    let decoded = ModelMessage::parse(answer.opcode, &answer.parameters).ok();
    let text = decoded
        .as_ref()
        .map(|m| m.describe())
        .unwrap_or_else(|| hex::encode(answer.to_vec()));
    let refused = decoded.as_ref().is_some_and(is_refusal);
    json!({"src": format!("{:04x}", src.0), "opcode": hex::encode(answer.opcode.to_bytes()),
        "name": answer.name(), "parameters": hex::encode(&answer.parameters), "status": text, "ok": !refused})
}

/// A Config status carrying a Status Code other than Success (MshPRT §4.3.5).
fn is_refusal(m: &ModelMessage) -> bool {
    matches!(m, ModelMessage::Config(c) if c.status().is_some_and(|s| !s.is_success()))
}

/// An operator session: the store's provisioner node running on a radio, for one or more
/// requests. The node's state is saved whenever it asks (sequence reservations), before the
/// frames that depend on it go out.
pub(crate) struct Session {
    pub store: Store,
    /// This process holds the store while the session lasts.
    _lock: crate::store::StoreLock,
    /// The network as stored; its database is the station's when saved.
    pub state: NetState,
    /// The store's local node as the network's provisioner.
    pub station: ProvisionerNode<ChaCha8Rng>,
    pub radio: Box<dyn Radio>,
    pub clock: Clock,
    /// Shown every event of the station with the network state once the event is saved
    /// (`weft serve` passes them to its subscribers).
    pub observe: Option<Observer>,
}

/// What [`Session::observe`] holds.
pub(crate) type Observer = Box<dyn FnMut(Instant, &ProvisionerNodeEvent, &NetState)>;

/// How long to wait for an answer before sending an acknowledged request again.
pub(crate) const RETRY: Duration = DEFAULT_RETRY;

/// Opens the radio named by `--radio` ([`weft_radio::open`]).
pub(crate) async fn connect(radio: &str) -> Result<Box<dyn Radio>, Failure> {
    match RadioArg::parse(radio).map_err(|e| Failure(Exit::Usage, e))? {
        RadioArg::Radio(uri) => Ok(weft_radio::open(&uri).await?),
        RadioArg::Scenario(name) => fail(
            Exit::Usage,
            format!("sim:{name} runs a scenario inside one process; to act on a simulated network from the shell, start `weft sim serve --socket PATH --scenario {name}` and use --radio sim:PATH"),
        ),
    }
}

impl Session {
    pub async fn open(store: &StoreOpts, radio: &str) -> Result<Session, Failure> {
        Self::open_checked(store, radio, |_| Ok(())).await
    }

    /// [`Session::open`], first checking the command's arguments against the network with
    /// `check`, before the radio is touched.
    pub async fn open_checked(
        store: &StoreOpts,
        radio: &str,
        check: impl FnOnce(&NetState) -> Result<(), Failure>,
    ) -> Result<Session, Failure> {
        let store = Store::from_opts(store).map_err(|e| Failure(e.exit(), e.to_string()))?;
        let lock = store.lock().map_err(|e| Failure(e.exit(), e.to_string()))?;
        let state: NetState = store.load().map_err(|e| Failure(e.exit(), e.to_string()))?;
        check(&state)?;
        let Some(node) = state.local_node(ChaCha8Rng::from_entropy()) else {
            return fail(Exit::Usage, "the network has no local provisioner node: run `weft net create` or `weft net import` first");
        };
        let radio = connect(radio).await?;
        // The node is given the device key of every node of the database.
        let station = ProvisionerNode::new(node, ChaCha8Rng::from_entropy(), state.cdb.clone());
        Ok(Session {
            store,
            _lock: lock,
            state,
            station,
            radio,
            clock: Clock::default(),
            observe: None,
        })
    }

    /// Saves the network and the node's state, giving back the sequence numbers reserved
    /// and not used ([`NetState::remember_at_exit`]): this is how a session ends (a send
    /// after it reserves again, persisted before use).
    pub fn save(&mut self) -> Result<(), Failure> {
        self.state.cdb = self.station.cdb().clone();
        self.state.remember_at_exit(self.station.node_mut());
        self.store
            .save(&self.state)
            .map_err(|e| Failure(e.exit(), e.to_string()))
    }

    /// Sends `message` to `dst` and waits up to `timeout` seconds for `expect` from it.
    pub async fn request(
        &mut self,
        dst: Address,
        device_key: bool,
        message: AccessMessage,
        expect: Opcode,
        timeout: f64,
    ) -> Result<(Address, AccessMessage), Failure> {
        if device_key
            && !self
                .station
                .node()
                .state()
                .remote_dev_keys
                .iter()
                .any(|(a, _)| a.get() == dst.0)
        {
            return fail(Exit::Usage, format!("no node with address {dst} in the network database: provision it first (weft provision)"));
        }
        let key = if device_key {
            KeyRef::Dev
        } else {
            let Some(k) = self.station.node().state().app_keys.first() else {
                return fail(Exit::Usage, "the local node has no application key");
            };
            KeyRef::App(k.index)
        };
        let deadline = self.clock.now() + Duration::from_micros((timeout.max(0.0) * 1e6) as u64);
        let mut answer = None;
        // Acknowledged messages are sent again (with new sequence numbers) until the answer
        // comes, as configuration clients do: a node may not be listening yet.
        while answer.is_none() && self.clock.now() < deadline {
            self.send(dst, key, message.clone())?;
            let retry = (self.clock.now() + RETRY).min(deadline);
            self.listen(retry, |_, src, message| {
                let it = message.opcode == expect && (src == dst || dst.is_multicast());
                if it {
                    answer = Some((src, message.clone()));
                }
                it
            })
            .await?;
        }
        self.save()?;
        answer.map_or_else(
            || {
                fail(
                    Exit::Timeout,
                    format!(
                        "no answer from {dst} within {timeout} s (is it on the air and provisioned?)"
                    ),
                )
            },
            Ok,
        )
    }

    /// Sends `message` to `dst` from the primary element, secured with `key`.
    fn send(&mut self, dst: Address, key: KeyRef, message: AccessMessage) -> Result<(), Failure> {
        let now = self.clock.now();
        let sent = self
            .station
            .node_mut()
            .handle_command(now, Command::send(dst, key, message));
        if sent {
            Ok(())
        } else if self.station.node().sequence_exhausted() {
            // The node started the IV Update that frees them (MshPRT §3.11.5); save that.
            let _ = self.save();
            let node = self.station.node();
            let st = node.state();
            let since = node
                .iv_state_age()
                .map(|a| format!(" for {} h", a.as_micros() / 3_600_000_000))
                .unwrap_or_default();
            fail(
                Exit::Refused,
                format!(
                    "weft's node has used every sequence number of IV index {:08x} (2^24, MshPRT §3.4.4.5); {}: it sends again when the IV Update ends, 96 hours after it began (MshPRT §3.11.5), or when another node of the network ends it",
                    node.tx_iv_index().0,
                    if st.iv_update {
                        format!("an IV Update to {:08x} has been in progress{since}", st.iv_index.0)
                    } else {
                        format!("an IV Update cannot start yet: the current IV index began less than 96 hours ago{since}")
                    }
                ),
            )
        } else {
            fail(
                Exit::Usage,
                "the message could not be sent with the network's keys",
            )
        }
    }

    /// Runs the node on the radio until `until`, or until `heard` says an access message it
    /// was given is the one awaited. The node's state is saved whenever it asks.
    async fn listen(
        &mut self,
        until: Instant,
        mut heard: impl FnMut(Instant, Address, &AccessMessage) -> bool,
    ) -> Result<(), Failure> {
        let mut save_error = None;
        let (store, state, observe) = (&self.store, &mut self.state, &mut self.observe);
        drive(
            &mut self.station,
            &mut self.radio,
            &self.clock,
            Some(until),
            |st, now, e| {
                let saves = matches!(
                    e,
                    ProvisionerNodeEvent::Node(Event::PersistState)
                        | ProvisionerNodeEvent::DatabaseChanged
                );
                if saves {
                    if let Err(err) = persist(store, state, st) {
                        save_error = Some(err);
                        return Flow::Stop;
                    }
                }
                if let Some(o) = observe.as_mut() {
                    o(now, &e, state);
                }
                match e {
                    _ if saves => Flow::Continue,
                    ProvisionerNodeEvent::Node(Event::Access { src, message, .. })
                        if heard(now, src, &message) =>
                    {
                        Flow::Stop
                    }
                    _ => Flow::Continue,
                }
            },
        )
        .await
        .map_err(|e| Failure(Exit::Unavailable, e.to_string()))?;
        match save_error {
            Some(e) => fail(
                Exit::Unavailable,
                format!("cannot save the network state: {e}"),
            ),
            None => Ok(()),
        }
    }
}

/// Writes the station's network database and its node's state (sequence reservation, replay
/// protection list, IV Index) to the store, before the frames that depend on them go out.
pub(crate) fn persist(
    store: &Store,
    state: &mut NetState,
    station: &ProvisionerNode<ChaCha8Rng>,
) -> Result<(), String> {
    state.cdb = station.cdb().clone();
    state.remember(station.node());
    store.save(state).map_err(|e| e.to_string())
}

async fn request(
    op: &OpOpts,
    message: AccessMessage,
    expect: Opcode,
    device_key: bool,
) -> Result<(Address, AccessMessage), Failure> {
    if let Some(route) = crate::proxied::route(op) {
        return crate::proxied::request(op, route, message, expect, device_key).await;
    }
    let mut session = Session::open(&op.store, radio_of(&op.radio)?).await?;
    session
        .exchange(op.dst, device_key, message, expect, op.timeout)
        .await
}

/// The radio a command was given: `--radio`, which is needed unless `--serve` is.
pub(crate) fn radio_of(radio: &Option<String>) -> Result<&str, Failure> {
    match radio {
        Some(r) => Ok(r),
        None => fail(
            Exit::Usage,
            "give --radio RADIO (or --serve PATH to act through `weft serve`)",
        ),
    }
}

impl Session {
    /// One operator exchange: sends `message` to `dst` (with the device key for a Config
    /// message, whose AppKey Add takes its key from the database) and waits up to `timeout`
    /// seconds for `expect`; the database learns what a Config status says.
    pub async fn exchange(
        &mut self,
        dst: Address,
        device_key: bool,
        mut message: AccessMessage,
        expect: Opcode,
        timeout: f64,
    ) -> Result<(Address, AccessMessage), Failure> {
        let session = self;
        let config = config_request(&session.state, device_key, &mut message)?;
        let (src, answer) = session
            .request(dst, device_key, message, expect, timeout)
            .await?;
        // The network database learns what the node now has (or that it left).
        if let (Some(request), Ok(status), Some(node)) = (
            config,
            ConfigMessage::from_access(&answer),
            UnicastAddress::new(src.0),
        ) {
            session.station.record(&ConfigClientEvent::Answered {
                node,
                request,
                status,
            });
            session.save()?;
        }
        Ok((src, answer))
    }
}

/// The Config message `message` is when sent with the device key, for the database to learn
/// its answer; a Config AppKey Add is completed with the key from the database (`message` is
/// rewritten to carry it).
pub(crate) fn config_request(
    state: &NetState,
    device_key: bool,
    message: &mut AccessMessage,
) -> Result<Option<ConfigMessage>, Failure> {
    let config = device_key
        .then(|| ConfigMessage::from_access(message).ok())
        .flatten();
    match config {
        Some(ConfigMessage::AppKeyAdd { app_key_index, .. }) => {
            let add = app_key_add(app_key(state, app_key_index.get())?);
            *message = add.to_access();
            Ok(Some(add))
        }
        other => Ok(other),
    }
}

/// The network's application key `index`.
pub(crate) fn app_key(state: &NetState, index: u16) -> Result<&CdbAppKey, Failure> {
    match state.cdb.app_keys.iter().find(|k| k.index == index) {
        Some(k) => Ok(k),
        None => fail(
            Exit::Usage,
            format!("the network has no application key {index}"),
        ),
    }
}

/// Config AppKey Add of an application key of the network.
pub(crate) fn app_key_add(k: &CdbAppKey) -> ConfigMessage {
    ConfigMessage::AppKeyAdd {
        net_key_index: KeyIndex::from_bits(k.bound_net_key),
        app_key_index: KeyIndex::from_bits(k.index),
        key: k.key.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_and_delay_arguments() {
        // MshMDL §3.1.3: 100 ms steps up to 6.2 s, then 1 s, 10 s and 10 min steps.
        let t = parse_transition_ms("1500").unwrap();
        assert_eq!(t.to_millis(), Some(1500));
        assert_eq!(parse_transition_ms("0").unwrap().to_millis(), Some(0));
        assert_eq!(
            parse_transition_ms("37200000").unwrap().to_millis(),
            Some(37_200_000)
        );
        assert!(parse_transition_ms("37200001000").is_err());
        assert!(parse_transition_ms("soon").is_err());
        // MshMDL §3.2.1.2: Delay in 5 ms steps, one octet.
        assert_eq!(parse_delay_ms("0"), Ok(0));
        assert_eq!(parse_delay_ms("12"), Ok(2));
        assert_eq!(parse_delay_ms("1275"), Ok(255));
        assert!(parse_delay_ms("1276").unwrap_err().contains("1275"));
        let both = TransitionArgs {
            transition: Some(t),
            delay: Some(4),
        };
        assert_eq!(both.to_transition(), Some(Transition { time: t, delay: 4 }));
        assert_eq!(TransitionArgs::default().to_transition(), None);
    }
}
