//! `weft inspect --radio sim:PATH`: the inspector on the live simulated air (`weft sim serve
//! --socket PATH`). It decodes what it hears with the keys of the network store and fills the
//! same [`Model`] the UI draws.
//!
//! With a store that has a local provisioner node, and when no other weft process holds the
//! store, the inspector is that node on the air ([`Host`]): it sends OnOff and Level, provisions
//! the unprovisioned devices it hears and configures nodes, persisting the node's sequence
//! reservation and the network database as `weft send/provision/config` do. Otherwise it only
//! listens (read-only).
//!
//! A frame comes with its transmitter's advertiser address when the radio reports it (the hub
//! does, as a real scanner sees AdvA): [`adva`] learns which node each address belongs to, so a
//! relayed frame is drawn as the relay's (its RSSI, its link to the listener, "relayed by"), and
//! a relay's copy of a PDU heard from its originator draws the link between the two. Without
//! addresses, a frame is taken for its source's, as heard.
//!
//! [`run`] drives the feeder on a radio with the one real-time driver ([`weft_radio::drive`]).

mod adva;
mod cdb;
mod run;
mod served;

pub use cdb::detail_from_cdb;
pub use run::{listen_for, start, start_on, LiveRadio};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::layout::Layout;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft_mesh::ble::address::{Address, IvIndex};
use weft_mesh::ble::foundation::config::client::{
    ConfigClientEvent, ConfigurePlan, SUBSCRIBE_MODELS,
};
use weft_mesh::ble::foundation::config::ConfigMessage;
use weft_mesh::ble::models::generic::GenericMessage;
use weft_mesh::ble::models::{KeyIndex, ModelMessage};
use weft_mesh::ble::node::{Command, Event, KeyRef};
use weft_mesh::ble::prov::{ProvisionerEvent, SessionEvent};
use weft_mesh::ble::sniff::{Decoded, Keyring, Sniffer};
use weft_mesh::ble::station::{ProvisionerNode, ProvisionerNodeEvent};
use weft_mesh::ble::wire::access::AccessMessage;
use weft_mesh::ble::UnicastAddress;
use weft_mesh::topology::{NodeKey, Roles, Topology};
use weft_mesh::{Duration, Instant, RxFrame, Station, TxFrame};

use super::model::{
    describe_into, describe_service_ad, finish_entry, ConfigOp, EntryKind, Model, NodeDetail,
    TrafficEntry, TrafficTally, UnprovisionedDevice,
};
use crate::store::{NetState, Store, StoreLock};
use adva::{AdvA, Transmitters};
use cdb::{groups_of, node_into_topology};
use weft_radio::capture::{stand_in_adv_address, CaptureError, CaptureFile, Written};

/// The status line for actions when the inspector only listens.
pub const READ_ONLY: &str =
    "read-only: this inspector only listens (no store with a provisioner node, or another weft holds it)";
/// The listener's own key in the topology when it only listens (no unicast address is 0,
/// MshPRT §3.4.2.1).
pub const LISTENER: NodeKey = 0;
/// How long a node the network database dropped (reset, or removed by another client of
/// `weft serve`) stays drawn, as a stranger, after it was last heard: a node still on the air
/// stays, one gone silent goes.
pub const GONE_AFTER: Duration = Duration::from_secs(20);

/// The store a read-write inspector holds, with its lock.
#[allow(missing_debug_implementations)]
pub struct HeldStore {
    pub store: Store,
    pub lock: StoreLock,
}

/// The inspector's own node on the air: the store's provisioner node with a Provisioner
/// beside it, and the Configuration Client procedures it runs.
#[allow(missing_debug_implementations)]
pub struct Host {
    station: ProvisionerNode<ChaCha8Rng>,
    store: Store,
    _lock: StoreLock,
    address: u16,
}

/// The decoder, the model it fills from frames heard on the live air, and the inspector's own
/// node when it has one.
#[allow(missing_debug_implementations)]
pub struct LiveFeeder {
    sniffer: Sniffer,
    keys: bool,
    net: Option<NetState>,
    host: Option<Host>,
    tally: TrafficTally,
    faults: HashMap<u16, Vec<u8>>,
    onoff: HashMap<u16, bool>,
    level: HashMap<u16, i16>,
    /// Hops to each node, from the Heartbeats heard.
    hops: HashMap<u16, u8>,
    /// Which node each advertiser address heard belongs to.
    transmitters: Transmitters,
    /// The capture being written.
    capture: Option<CaptureFile>,
    /// Nodes the network database dropped (until it has them again): drawn, as strangers,
    /// only while they are heard transmitting, [`GONE_AFTER`] at most since last heard (a
    /// late copy of one of their PDUs does not bring them back).
    dropped: HashSet<u16>,
    /// The picture is frozen (the node goes on).
    pub paused: bool,
    pub model: Model,
    pub layout: Layout,
}

impl LiveFeeder {
    /// A feeder for the air at `source`, decoding with the keys of `net` (none: only beacons,
    /// which need no keys, decode). With `held` (the store `net` came from, locked) and a
    /// local node in `net`, the inspector is that node on the air.
    pub fn new(source: &str, net: Option<NetState>, held: Option<HeldStore>) -> LiveFeeder {
        Self::new_as(source, net, held, None)
    }

    /// A feeder for the air `weft serve` hears, decoding with its network `net` and drawn from
    /// the server's own node at `node` (the `node` of its `status`), whose frames are the
    /// inspector's own: it is `you`, as the inspector's node is when it owns the radio.
    pub fn served(source: &str, net: NetState, node: u16) -> LiveFeeder {
        Self::new_as(source, Some(net), None, Some(node))
    }

    fn new_as(
        source: &str,
        net: Option<NetState>,
        held: Option<HeldStore>,
        served: Option<u16>,
    ) -> LiveFeeder {
        let ring = net.as_ref().map_or_else(Keyring::new, keyring_of);
        let mut topology = Topology::new();
        let iv = net.as_ref().map_or(0, |n| n.iv_index);
        for n in net.iter().flat_map(|n| &n.cdb.nodes) {
            node_into_topology(&mut topology, n);
        }
        let host = match (&net, held) {
            (Some(net), Some(held)) => Host::new(net, held),
            _ => None,
        };
        let me = match (&host, served) {
            (Some(h), _) => u64::from(h.address),
            (None, Some(a)) => u64::from(a),
            (None, None) => LISTENER,
        };
        topology.node_mut(me).name = Some(own_name(host.is_some(), served.is_some()).into());
        topology.set_host(Some(me));
        topology.node_mut(me).hops = Some(0);
        let mut model = Model::empty(
            format!(
                "{source} (live, {})",
                if host.is_some() {
                    "as the provisioner"
                } else {
                    "listening"
                }
            ),
            topology,
            me as u16,
        );
        if let Some(net) = &net {
            model.groups = groups_of(net);
        }
        match (&net, &host) {
            (None, _) => {
                model.notify("no network store: nothing decrypts (give --net FILE); beacons only")
            }
            (Some(_), Some(h)) => model.notify(format!(
                "on {source} as {:04x}: P provisions, C configures, o and +/- switch",
                h.address
            )),
            (Some(_), None) => model.notify(format!("listening on {source}; {READ_ONLY}")),
        }
        let mut f = LiveFeeder {
            sniffer: Sniffer::new(ring, IvIndex(iv)),
            keys: net.is_some(),
            net,
            host,
            tally: TrafficTally::default(),
            faults: HashMap::new(),
            onoff: HashMap::new(),
            level: HashMap::new(),
            hops: HashMap::new(),
            transmitters: Transmitters::new(),
            capture: None,
            dropped: HashSet::new(),
            paused: false,
            model,
            layout: Layout::new(),
        };
        f.publish_prep(200);
        f
    }

    /// Whether the feeder has the network's keys.
    pub fn has_keys(&self) -> bool {
        self.keys
    }

    /// Whether the inspector is a node on the air (its actions transmit).
    pub fn is_host(&self) -> bool {
        self.host.is_some()
    }

    /// Sends `message` from the inspector's node to `dst` with the first application key.
    pub fn send(&mut self, now: Instant, dst: u16, message: AccessMessage) -> Result<(), String> {
        let h = self.host.as_mut().ok_or(READ_ONLY)?;
        let node = h.station.node_mut();
        let Some(key) = node.state().app_keys.first().map(|k| k.index) else {
            return Err("the inspector's node has no application key".into());
        };
        let sent = node.handle_command(now, Command::send(Address(dst), KeyRef::App(key), message));
        self.pump();
        if sent {
            Ok(())
        } else {
            Err("the node refused to send it".into())
        }
    }

    /// Provisions the unprovisioned device `uuid` with the next free address (then
    /// configures it); returns the address.
    pub fn provision(&mut self, now: Instant, uuid: [u8; 16]) -> Result<u16, String> {
        let h = self.host.as_mut().ok_or(READ_ONLY)?;
        let a = h
            .station
            .provision(now, uuid, None)
            .map_err(|e| e.to_string())?
            .get();
        if let Some(d) = self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            d.state = "opening link".into();
        }
        let name = self.model.device_name(uuid);
        self.model
            .notify(format!("provisioning {name} as {a:04x}: opening the link"));
        self.pump();
        Ok(a)
    }

    /// Configures the node at `address`: `op` on its first server model (as the network
    /// database knows its composition) with application key 0.
    pub fn configure(&mut self, address: u16, op: ConfigOp) -> Result<(), String> {
        if self.host.is_none() {
            return Err(READ_ONLY.into());
        }
        let target = UnicastAddress::new(address).ok_or("not a unicast address")?;
        let msg = self.config_for(address, op)?;
        self.model.notify(format!(
            "{address:04x}: {}…",
            super::model::config_what(&msg)
        ));
        let h = self.host.as_mut().ok_or(READ_ONLY)?;
        h.station
            .config_request(target, msg)
            .map_err(|_| "not a Config request a status answers")?;
        self.pump();
        Ok(())
    }

    /// The Config message that carries `op` to the node at `address`: on its first server
    /// model (as the network database knows its composition) with application key 0.
    pub fn config_for(&self, address: u16, op: ConfigOp) -> Result<ConfigMessage, String> {
        let node = self
            .net
            .as_ref()
            .and_then(|n| n.cdb.node_by_address(address))
            .ok_or_else(|| format!("{address:04x} is not in the network database"))?;
        Ok(match op.node_message() {
            Some(msg) => msg,
            None => {
                let (e, model) = node
                    .elements
                    .iter()
                    .find_map(|el| {
                        el.models
                            .iter()
                            .find(|m| SUBSCRIBE_MODELS.contains(&m.model_id.0))
                            .map(|m| (el.index, m.model_id.0))
                    })
                    .ok_or_else(|| {
                        if node.elements.iter().all(|e| e.models.is_empty()) {
                            format!("{address:04x}: its composition is not known yet (weft config --dst {address:04x} composition)")
                        } else {
                            format!("{address:04x} has no server model to configure")
                        }
                    })?;
                super::model::config_message(op, Address(address + u16::from(e)), model)
            }
        })
    }

    /// The network database as it is now (another client of `weft serve` provisioned,
    /// configured or removed a node): its keys decode the air, its nodes, names and groups
    /// are drawn. A node it no longer has is drawn as a stranger while it is heard, and goes
    /// once it has not been for [`GONE_AFTER`] ([`LiveFeeder::forget_gone`]).
    pub fn refresh_net(&mut self, net: NetState) {
        *self.sniffer.keyring_mut() = keyring_of(&net);
        self.keys = true;
        let me = self.model.host;
        let dropped: Vec<u16> = self
            .net
            .iter()
            .flat_map(|n| &n.cdb.nodes)
            .map(|n| n.unicast_address.0)
            .filter(|&a| a != me && net.cdb.node_by_address(a).is_none())
            .collect();
        for a in dropped {
            self.model.notify(format!(
                "{a:04x} left the network database (reset or removed): drawn while it is heard"
            ));
            self.stranger(a);
        }
        for n in &net.cdb.nodes {
            self.dropped.remove(&n.unicast_address.0);
            node_into_topology(&mut self.model.topology, n);
        }
        self.model.topology.node_mut(u64::from(me)).name =
            Some(own_name(self.host.is_some(), me != LISTENER as u16).into());
        self.model
            .unprovisioned
            .retain(|d| net.cdb.node_by_uuid(&d.uuid).is_none());
        self.model.groups = groups_of(&net);
        self.net = Some(net);
    }

    /// A node the network database dropped: what the database said of it is forgotten (it
    /// is drawn as heard, a stranger), and it goes at once unless it was heard lately.
    fn stranger(&mut self, address: u16) {
        let key = u64::from(address);
        if self.model.topology.node(key).is_none() {
            return;
        }
        let t = self.model.topology.node_mut(key);
        (t.name, t.uuid, t.elements, t.roles) = (None, None, None, Roles::default());
        self.hops.remove(&address);
        self.onoff.remove(&address);
        self.level.remove(&address);
        self.faults.remove(&address);
        self.dropped.insert(address);
        self.forget_gone();
    }

    /// Forgets the nodes the network database dropped that have not been heard transmitting
    /// for [`GONE_AFTER`].
    fn forget_gone(&mut self) {
        let now = self.model.now;
        let topology = &mut self.model.topology;
        for &a in &self.dropped {
            let heard = topology.node(u64::from(a)).map(|t| t.last_seen);
            if heard.is_some_and(|t| t.is_none_or(|t| now.saturating_since(t) >= GONE_AFTER)) {
                topology.remove(u64::from(a));
            }
        }
    }

    /// The selected node's detail: what the network database knows, with what was heard.
    pub fn detail(&self, address: u16) -> Option<NodeDetail> {
        let net = self.net.as_ref()?;
        let seq = self
            .model
            .topology
            .nodes()
            .find(|n| n.key == u64::from(address))
            .and_then(|n| n.seq);
        let mut d = match net.cdb.node_by_address(address) {
            Some(n) => detail_from_cdb(n, net.iv_index),
            None => {
                let h = self.host.as_ref().filter(|h| h.address == address)?;
                let node = h.station.node();
                let mut d = super::model::detail_of(node);
                d.name = "weft (this inspector)".into();
                d
            }
        };
        d.onoff = self.onoff.get(&address).copied().or(d.onoff);
        d.level = self.level.get(&address).copied().or(d.level);
        d.faults = self.faults.get(&address).cloned();
        d.seq = d.seq.or(seq);
        Some(d)
    }

    /// Starts writing every frame heard and sent to a pcapng file at `path`.
    pub fn start_capture(&mut self, path: &Path) -> Result<(), String> {
        let file =
            CaptureFile::create(path, weft_radio::Caps::ADVERTISING).map_err(|e| e.to_string())?;
        self.capture_into(file);
        Ok(())
    }

    /// Writes every frame heard and sent to `file` from now on.
    pub fn capture_into(&mut self, file: CaptureFile) {
        self.model.capture = Some(file.path().display().to_string());
        self.capture = Some(file);
    }

    /// Stops the capture; the file written, or why it could not be.
    pub fn stop_capture(&mut self) -> Option<Result<PathBuf, String>> {
        self.model.capture = None;
        Some(self.capture.take()?.finish().map_err(|e| e.to_string()))
    }

    /// A frame into the capture, heard or sent. A file that fails is let go, and the status
    /// line says why.
    fn capture_frame(
        &mut self,
        write: impl FnOnce(&mut CaptureFile) -> Result<Written, CaptureError>,
    ) {
        let Some(c) = self.capture.as_mut() else {
            return;
        };
        if let Err(e @ CaptureError::File { .. }) = write(c) {
            self.capture = None;
            self.model.capture = None;
            self.model.notify(format!("capture stopped: {e}"));
        }
    }

    /// The node a unicast address belongs to, as the network database knows its elements: its
    /// primary address (else the address itself).
    fn node_key(&self, address: u16) -> u16 {
        self.net
            .as_ref()
            .and_then(|n| {
                n.cdb.nodes.iter().find(|c| {
                    let first = c.unicast_address.0;
                    let count = c.elements.len().max(1) as u32;
                    (u32::from(first)..u32::from(first) + count).contains(&u32::from(address))
                })
            })
            .map_or(address, |c| c.unicast_address.0)
    }

    /// One frame into the log: heard (`own` 0) or sent by the inspector's node at `own`.
    /// `adv` is the advertiser address of a frame heard, when the radio reported it.
    fn ingest(&mut self, at: Instant, own: u16, rssi: Option<i8>, adv: Option<AdvA>, bytes: &[u8]) {
        self.model.now = self.model.now.max(at);
        self.model.stats.pdus += 1;
        self.model.stats.frames_on_air += 1;
        self.tally.count(at);
        let me = u64::from(self.model.host);
        // The log keeps one line per transmission: per transmitter when it is known.
        let mut log_as = own;
        let why = if self.keys {
            "nothing decodable"
        } else {
            "no network keys (no store)"
        };
        let mut e = TrafficEntry::heard(at, own, rssi, why);
        for d in self.sniffer.handle_ad(bytes) {
            match d {
                Decoded::Network(n) => {
                    let src = n.pdu.src.0;
                    e.src = Some(src);
                    e.dst = Some(n.pdu.dst.0);
                    e.ttl = Some(n.pdu.ttl);
                    e.seq = Some(n.pdu.seq.get());
                    if own == 0 {
                        let origin = self.node_key(src);
                        let seq = n.pdu.seq.get();
                        let heard =
                            adv.map(|a| self.transmitters.observe(a, origin, seq, n.pdu.ttl));
                        let topology = &mut self.model.topology;
                        // Unless told otherwise, taken for the source's (and logged once with
                        // its copies).
                        e.transmitter = src;
                        log_as = src;
                        match heard.map(|h| (h.transmitter, h.heard_from)) {
                            // The inspector's own node sent it (`weft serve`'s node, its
                            // frames heard through the server's events): no link to itself.
                            None if u64::from(origin) == me => topology.seen(me, at),
                            // No address: the source's, as heard.
                            None => topology.heard(u64::from(src), me, rssi, at),
                            // An address not known to be any node's: who sent it is not known,
                            // so no link is drawn.
                            Some((None, _)) => {}
                            Some((Some(t), heard_from)) => {
                                e.transmitter = t;
                                log_as = t;
                                topology.heard(u64::from(t), me, rssi, at);
                                if t != origin {
                                    e.relayed_by = Some(t);
                                }
                                if let Some(o) = heard_from {
                                    topology.heard(u64::from(o), u64::from(t), None, at);
                                }
                            }
                        }
                    } else {
                        // The inspector's own node was on the air just now.
                        self.model.topology.node_mut(u64::from(own)).last_seen = Some(at);
                        if src != own {
                            e.relayed_by = Some(own);
                        }
                    }
                    let node = self.model.topology.node_mut(u64::from(src));
                    node.seq = Some(node.seq.map_or(n.pdu.seq.get(), |s| s.max(n.pdu.seq.get())));
                }
                other => {
                    let d = describe_into(&mut e, &mut self.model.stats, other);
                    if let Some(uuid) = d.unprovisioned {
                        self.heard_device(uuid, rssi, at);
                    }
                    if let Some((src, m)) = d.message {
                        self.heard_state(src, &m);
                    }
                    if let Some((src, h)) = d.heartbeat {
                        let node = self.model.topology.node_mut(u64::from(src));
                        node.roles = Roles::from_features(h.features.0);
                        if let Some(hops) = e.ttl.and_then(|t| h.init_ttl.checked_sub(t)) {
                            self.hops.insert(src, hops.saturating_add(1));
                        }
                    }
                }
            }
        }
        if matches!(e.kind, EntryKind::Undecryptable(_)) && e.src.is_none() {
            // Nothing encrypted in it: a mesh service's connectable advertising, maybe.
            if let (_, Some(uuid)) = describe_service_ad(&mut e, bytes) {
                self.heard_device(uuid, rssi, at);
            }
        }
        if own != 0 && e.kind == EntryKind::Beacon {
            e.src = Some(own); // the inspector's own Secure Network Beacon
        }
        finish_entry(&mut e, &mut self.model.stats);
        // Heard copies (relays, retransmissions) are logged once; the inspector's own frames
        // under its own key.
        self.tally.log(&mut self.model, log_as, e);
    }

    /// Server states and faults a node reported.
    fn heard_state(&mut self, src: u16, m: &ModelMessage) {
        use weft_mesh::ble::foundation::health::HealthMessage as H;
        match m {
            ModelMessage::Generic(GenericMessage::OnOffStatus { present, .. }) => {
                self.onoff.insert(src, *present);
            }
            ModelMessage::Generic(GenericMessage::LevelStatus { present, .. }) => {
                self.level.insert(src, *present);
            }
            ModelMessage::Health(H::CurrentStatus(r) | H::FaultStatus(r)) => {
                self.faults.insert(src, r.faults.clone());
            }
            _ => {}
        }
    }

    fn heard_device(&mut self, uuid: [u8; 16], rssi: Option<i8>, at: Instant) {
        if self
            .net
            .as_ref()
            .is_some_and(|n| n.cdb.node_by_uuid(&uuid).is_some())
        {
            return; // a node of the database still beaconing
        }
        match self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            Some(d) => {
                d.rssi = rssi;
                d.last_heard = at;
            }
            None => self.model.unprovisioned.push(UnprovisionedDevice {
                uuid,
                name: hex::encode(&uuid[..4]),
                rssi,
                last_heard: at,
                state: "waiting".into(),
            }),
        }
    }

    /// Handles what the inspector's node reported (its Configuration Client's events in runs,
    /// so that a notice can say the run finished a configuration).
    fn pump(&mut self) {
        let mut config = Vec::new();
        while let Some(e) = self.host.as_mut().and_then(|h| h.station.poll_event()) {
            match e {
                ProvisionerNodeEvent::Config(c) => {
                    config.push(c);
                    continue;
                }
                // The database changed: the store takes it (below, or now).
                ProvisionerNodeEvent::DatabaseChanged => {
                    self.database_changed(config.is_empty());
                    continue;
                }
                _ => {}
            }
            if !config.is_empty() {
                self.config_events(&std::mem::take(&mut config));
            }
            match e {
                ProvisionerNodeEvent::Node(Event::PersistState) => self.save(),
                ProvisionerNodeEvent::Node(e) => self.model.node_event(&e),
                ProvisionerNodeEvent::Provisioner(e) => {
                    if let ProvisionerEvent::Session {
                        device_uuid,
                        event: SessionEvent::Complete(_),
                    } = &e
                    {
                        // A node now (recorded next): no longer listed as unprovisioned.
                        self.model.unprovisioned.retain(|d| d.uuid != *device_uuid);
                    }
                    self.model.provisioning_progress(&e)
                }
                ProvisionerNodeEvent::Provisioned {
                    device_uuid,
                    provisioned,
                } => self.provisioned(device_uuid, &provisioned),
                _ => {}
            }
        }
        if !config.is_empty() {
            self.config_events(&config);
        }
    }

    /// The station's network database into the store's state; saved at once unless a run of
    /// Configuration Client events is being handled (saved at its end).
    fn database_changed(&mut self, save: bool) {
        if let (Some(h), Some(net)) = (self.host.as_ref(), self.net.as_mut()) {
            net.cdb = h.station.cdb().clone();
        }
        if save {
            self.save();
        }
    }

    /// A device provisioned (and recorded by the station): into the decoder's keys and the
    /// topology; the station configures it next.
    fn provisioned(&mut self, uuid: [u8; 16], p: &weft_mesh::ble::prov::Provisioned) {
        let address = p.data.unicast_address.get();
        let Some(net) = self.net.as_mut() else { return };
        if let Some(n) = net.cdb.node_by_uuid(&uuid) {
            node_into_topology(&mut self.model.topology, n);
        }
        self.sniffer
            .keyring_mut()
            .add_dev_key(Address(address), p.device_key);
        self.model.unprovisioned.retain(|d| d.uuid != uuid);
    }

    /// What the Configuration Client reported (recorded by the station): the database saved,
    /// everything into the status line.
    fn config_events(&mut self, events: &[ConfigClientEvent]) {
        if let Some(net) = self.net.as_mut() {
            for n in &net.cdb.nodes {
                node_into_topology(&mut self.model.topology, n);
            }
        }
        self.save();
        let net = &self.net;
        let name = |a: u16| {
            net.as_ref()
                .and_then(|n| n.cdb.node_by_address(a))
                .and_then(|n| n.name.clone())
                .unwrap_or_default()
        };
        for text in super::model::config_notices(events, name) {
            self.model.notify(text);
        }
        if let Some(net) = &self.net {
            self.model.groups = groups_of(net);
        }
    }

    /// Writes the network and the node's state to the store; a failure is shown (the node
    /// goes on, as the state is still in memory).
    pub(crate) fn save(&mut self) {
        self.save_state(false)
    }

    /// As [`LiveFeeder::save`] when the inspector stops: the node's unused sequence numbers
    /// are given back ([`NetState::remember_at_exit`]).
    pub(crate) fn save_at_exit(&mut self) {
        self.save_state(true)
    }

    fn save_state(&mut self, at_exit: bool) {
        let (Some(h), Some(net)) = (self.host.as_mut(), self.net.as_mut()) else {
            return;
        };
        let n = h.station.node_mut();
        if at_exit {
            net.remember_at_exit(n);
        } else {
            net.remember(n);
        }
        if let Err(e) = h.store.save(net) {
            self.model
                .notify(format!("cannot save the network store: {e}"));
        }
    }

    /// Brings time to `now` (rate, hop horizon) and prepares a snapshot (layout, edges).
    pub fn tick(&mut self, now: Instant) {
        self.model.now = self.model.now.max(now);
        self.model.stats.pdus_per_s = self.tally.per_second(self.model.now);
        // The listener's links are only "heard by me", so the graph gives no hop counts:
        // Heartbeats do (MshPRT §3.6.5.10).
        for (&a, &h) in &self.hops {
            self.model.topology.node_mut(u64::from(a)).hops = Some(h);
        }
        self.forget_gone();
        self.publish_prep(3);
    }

    fn publish_prep(&mut self, steps: usize) {
        self.model.settle(&mut self.layout, steps);
    }
}

/// The name the inspector's own node is drawn with: its node on the air (`host`), the node of
/// the `weft serve` it goes through (`served`), or the listener's.
fn own_name(host: bool, served: bool) -> &'static str {
    match (host, served) {
        (true, _) => "weft (this inspector)",
        (false, true) => "weft serve (its node)",
        (false, false) => "this listener",
    }
}

/// The keys of `net` (the old ones of a key refresh too) as the decoder takes them.
fn keyring_of(net: &NetState) -> Keyring {
    let mut ring = Keyring::new();
    for k in &net.cdb.net_keys {
        ring.add_net_key(k.key.0);
        if let Some(o) = &k.old_key {
            ring.add_net_key(o.0);
        }
    }
    for k in &net.cdb.app_keys {
        ring.add_app_key(k.key.0);
        if let Some(o) = &k.old_key {
            ring.add_app_key(o.0);
        }
    }
    for n in &net.cdb.nodes {
        if let Some(k) = &n.device_key {
            ring.add_dev_key(Address(n.unicast_address.0), k.0);
        }
    }
    ring
}

impl Host {
    /// The store's local node as the provisioner on the air, when the network has one.
    fn new(net: &NetState, held: HeldStore) -> Option<Host> {
        let node = net.local_node(ChaCha8Rng::from_entropy())?;
        net.cdb.net_keys.first()?;
        net.cdb.next_unicast(1, net.iv_index)?;
        let address = node.primary().get();
        let mut station = ProvisionerNode::new(node, ChaCha8Rng::from_entropy(), net.cdb.clone());
        // A device provisioned gets the network's first application key, bound to its models
        // (MshPRT §4.3.2: AppKey Add, Model App Bind).
        station.set_configure(net.cdb.app_keys.first().map(|k| ConfigurePlan {
            net_key_index: KeyIndex::from_bits(k.bound_net_key),
            app_key_index: KeyIndex::from_bits(k.index),
            app_key: k.key.0,
            subscribe: None,
            publish: None,
        }));
        Some(Host {
            station,
            store: held.store,
            _lock: held.lock,
            address,
        })
    }
}

/// The inspector as a station for the real-time driver: frames heard go to the log, the capture
/// and its own node; its own node's frames and timers come out. It reports nothing upward: what
/// happens is drawn into the model.
impl Station for LiveFeeder {
    type Event = std::convert::Infallible;

    /// One frame heard at `at` (time since listening began): into the capture, the log, and
    /// the inspector's own node.
    fn handle_frame(&mut self, at: Instant, frame: &RxFrame) {
        self.capture_frame(|c| c.write_rx(frame));
        if !self.paused {
            self.ingest(at, 0, frame.rssi, frame.adv_address, &frame.bytes);
        }
        if let Some(h) = self.host.as_mut() {
            let heard = RxFrame {
                timestamp: at,
                ..frame.clone()
            };
            h.station.handle_frame(at, &heard);
        }
        self.pump();
    }

    /// The next frame the inspector's node puts on the air now. Its events are handled first,
    /// so the state they persist is on disk before the frames that use it are on the air.
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        self.pump();
        let h = self.host.as_mut()?;
        let f = h.station.poll_transmit(now)?;
        let me = h.address;
        // The advertiser address the radio sends with is not known here: a stand-in of the
        // node's address.
        self.capture_frame(|c| c.write_sent(&f, stand_in_adv_address(me)));
        if !self.paused {
            self.ingest(now, me, None, None, &f.bytes);
        }
        Some(f)
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }

    /// When [`LiveFeeder::handle_timeout`] is due next.
    fn poll_timeout(&self) -> Option<Instant> {
        let h = self.host.as_ref()?;
        h.station.poll_timeout()
    }

    /// Timers of the inspector's node and of its configuration procedures.
    fn handle_timeout(&mut self, now: Instant) {
        if let Some(h) = self.host.as_mut() {
            if h.station.poll_timeout().is_some_and(|t| t <= now) {
                h.station.handle_timeout(now);
            }
        }
        self.pump();
    }
}

#[cfg(test)]
mod tests;
