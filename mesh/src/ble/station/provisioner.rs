//! The provisioner node: weft's own [`Node`] with a [`Provisioner`] and a [`ConfigClient`]
//! beside it, and the network database they keep.
//!
//! It provisions the devices it is asked to (and, with [`AutoProvision`], every device it
//! hears), chooses each device's addresses once its Provisioning Capabilities tell how many
//! elements it has (MshPRT §3.4.2.2: consecutive unicast addresses, none held by a node, an
//! exclusion or another device of this run), records the node it becomes in the database,
//! gives the node its device key, configures it as a [`ConfigurePlan`] says, and folds every
//! answer of the Configuration Client into the database ([`Cdb::apply`]). Frames go to the node
//! and to the Provisioner; each ignores what is not its own, and the two take turns on the air.

use std::collections::VecDeque;
use std::fmt;

use rand_core::RngCore;

use crate::ble::address::{Address, UnicastAddress};
use crate::ble::cdb::{AddressInUse, Cdb, CdbNode};
use crate::ble::foundation::config::client::{ConfigClient, ConfigClientEvent, ConfigurePlan};
use crate::ble::foundation::config::ConfigMessage;
use crate::ble::node::{Command, Event, KeyRef, Node};
use crate::ble::prov::{
    AuthPolicy, Failure, OobValue, ProvisionError, Provisioned, Provisioner, ProvisionerConfig,
    ProvisionerEvent, Session, SessionEvent,
};
use crate::ble::wire::beacon::Flags;
use crate::ble::wire::pbadv::LinkCloseReason;
use crate::ble::wire::prov::{Capabilities, ProvisioningData};
use crate::frame::{
    Bearer, ConnId, Connectable, GattService, LinkEvent, LinkRequest, RxFrame, Station, TxFrame,
};
use crate::time::{Duration, Instant};

mod gatt;

/// Provisioning every device heard (an Unprovisioned Device beacon, MshPRT §3.10.2) whose UUID
/// is not a node of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoProvision {
    /// Links open at once; the other devices wait their turn, in the order heard.
    pub parallel: usize,
    /// Beacons heard from this time on start nothing (`None`: listen always).
    pub until: Option<Instant>,
    /// Whether a device whose provisioning failed is tried again when heard again (with the
    /// address it was given); otherwise each device is tried once.
    pub retry: bool,
}

/// What every provisioning starts with besides the Provisioning Data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisionSettings {
    /// Attention Duration of the Invite, seconds (MshPRT §5.4.1.1).
    pub attention_duration: u8,
    /// The devices' static OOB value, when known (MshPRT §5.4.2.4).
    pub static_oob: Option<Vec<u8>>,
}

/// Why a request to provision a device was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionRefused {
    /// The device is a node of the database already.
    AlreadyNode,
    /// Its provisioning is running.
    AlreadyProvisioning,
    /// No address for it: why.
    Address(String),
    /// The Provisioner refused.
    Provisioner(ProvisionError),
}

impl fmt::Display for ProvisionRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvisionRefused::AlreadyNode => write!(f, "the device is already a node"),
            ProvisionRefused::AlreadyProvisioning => write!(f, "already provisioning this device"),
            ProvisionRefused::Address(why) => write!(f, "{why}"),
            ProvisionRefused::Provisioner(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProvisionRefused {}

/// Why a device started was not provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionFailure {
    /// Its elements fit no free range of addresses (the link was cancelled): why.
    NoAddress(String),
    /// The provisioning protocol failed (MshPRT §5.4.4).
    Session(Failure),
    /// The link closed before the end.
    LinkClosed(LinkCloseReason),
    /// PB-GATT: the device's Mesh Provisioning Service could not be connected to.
    ConnectFailed,
    /// It was provisioned at an address that something in the database holds by now, so it
    /// was not recorded.
    NotRecorded {
        /// Its primary address.
        address: u16,
        /// What holds one of its addresses.
        holder: AddressInUse,
    },
}

impl fmt::Display for ProvisionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvisionFailure::NoAddress(why) => write!(f, "{why}"),
            ProvisionFailure::Session(e) => write!(f, "provisioning failed: {e:?}"),
            ProvisionFailure::LinkClosed(r) => write!(f, "link closed: {r:?}"),
            ProvisionFailure::ConnectFailed => write!(
                f,
                "could not connect to the device's Mesh Provisioning Service (not in range, or not advertising it)"
            ),
            ProvisionFailure::NotRecorded { address, holder } => write!(
                f,
                "provisioned as {address:04x}, which {holder} holds: not recorded"
            ),
        }
    }
}

/// What a [`ProvisionerNode`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionerNodeEvent {
    /// The node's event. An [`Event::PersistState`] is to be written before the frames that
    /// follow it go on the air.
    Node(Event),
    /// The Provisioner's event (beacons heard, links, sessions, OOB prompts).
    Provisioner(ProvisionerEvent),
    /// A device's Capabilities arrived: its `elements` take the addresses from `address`.
    AddressAssigned {
        /// The device.
        device_uuid: [u8; 16],
        /// Its primary address.
        address: UnicastAddress,
        /// Its number of elements.
        elements: u16,
    },
    /// A device is a node now, recorded in the database; its configuration (if planned)
    /// starts.
    Provisioned {
        /// The device.
        device_uuid: [u8; 16],
        /// What the provisioning gave it.
        provisioned: Provisioned,
    },
    /// A device started was not provisioned.
    Failed {
        /// The device.
        device_uuid: [u8; 16],
        /// Why.
        reason: ProvisionFailure,
    },
    /// The Configuration Client: an answer (recorded in the database), a failure, or a node
    /// done (marked configured).
    Config(ConfigClientEvent),
    /// The network database changed: persist it ([`ProvisionerNode::cdb`]).
    DatabaseChanged,
}

/// A device started in this station's life: the addresses it holds.
#[derive(Debug, Clone)]
struct Attempt {
    uuid: [u8; 16],
    address: u16,
    elements: u16,
    /// The address asked for, if any: kept or refused, never moved.
    wanted: Option<u16>,
    /// Started and neither provisioned nor failed yet.
    running: bool,
}

/// The provisioner node (see the [module](self)).
#[derive(Debug)]
pub struct ProvisionerNode<R> {
    node: Node<R>,
    prov: Provisioner<R>,
    config: ConfigClient,
    cdb: Cdb,
    settings: ProvisionSettings,
    auto: Option<AutoProvision>,
    configure: Option<ConfigurePlan>,
    attempts: Vec<Attempt>,
    waiting: VecDeque<[u8; 16]>,
    events: VecDeque<ProvisionerNodeEvent>,
    /// Which half transmits first next time, so neither starves the other.
    turn: bool,
    /// The time of the last call, for the Configuration Client.
    now: Instant,
    /// PB-GATT provisionings waiting for their connection: the device's address, its UUID,
    /// the address asked for, and whether the connect request is still to be handed out.
    connecting: Vec<gatt::GattPending>,
    /// Connections to close.
    requests: VecDeque<LinkRequest>,
}

impl<R: RngCore> ProvisionerNode<R> {
    /// `node` as the provisioner of the network `cdb`, with a Provisioner drawing from `rng`.
    /// The node is given the device key of every node of the database that has one.
    pub fn new(mut node: Node<R>, rng: R, cdb: Cdb) -> Self {
        let keys: Vec<(UnicastAddress, [u8; 16])> = cdb
            .nodes
            .iter()
            .filter_map(|n| {
                Some((
                    UnicastAddress::new(n.unicast_address.0)?,
                    n.device_key.as_ref()?.0,
                ))
            })
            .collect();
        if !keys.is_empty() {
            node.update_state(|s| s.remote_dev_keys = keys);
        }
        ProvisionerNode {
            node,
            prov: Provisioner::new(rng),
            config: ConfigClient::new(),
            cdb,
            settings: ProvisionSettings::default(),
            auto: None,
            configure: None,
            attempts: Vec::new(),
            waiting: VecDeque::new(),
            events: VecDeque::new(),
            turn: false,
            now: Instant::ZERO,
            connecting: Vec::new(),
            requests: VecDeque::new(),
        }
    }

    /// Provisions every device heard as `auto` says (`None`: only those asked for).
    pub fn set_auto(&mut self, auto: Option<AutoProvision>) {
        self.auto = auto;
    }

    /// The Invite's attention and the static OOB value of the provisionings started next.
    pub fn set_settings(&mut self, settings: ProvisionSettings) {
        self.settings = settings;
    }

    /// What to configure on each device once provisioned (`None`: leave it as provisioned).
    pub fn set_configure(&mut self, plan: Option<ConfigurePlan>) {
        self.configure = plan;
    }

    /// Sends each Config request again after `retry` without its status, `tries` times in all;
    /// requests still queued are dropped.
    pub fn set_config_retry(&mut self, retry: Duration, tries: u8) {
        self.config = ConfigClient::with_retry(retry, tries);
    }

    /// The node.
    pub fn node(&self) -> &Node<R> {
        &self.node
    }

    /// The node, mutably (application sends, state for persistence).
    pub fn node_mut(&mut self) -> &mut Node<R> {
        &mut self.node
    }

    /// The network database as the station keeps it.
    pub fn cdb(&self) -> &Cdb {
        &self.cdb
    }

    /// The IV index of the network (the node's): new devices get it, and the database's
    /// exclusions are read at it.
    pub fn iv_index(&self) -> u32 {
        self.node.state().iv_index.0
    }

    /// Devices started and not ended yet, and devices waiting for a link or a connection.
    pub fn in_progress(&self) -> usize {
        self.active() + self.waiting.len() + self.connecting.len()
    }

    /// Whether nothing is left to go on the air: no provisioning link open or closing (a Link
    /// Close is repeated, MshPRT §5.3.1.4.3) and no frame of the node queued. A command that
    /// is done stops once it is quiet.
    pub fn quiet(&self) -> bool {
        self.prov.active() == 0 && !self.node.transmitting()
    }

    /// Whether the Configuration Client has nothing queued.
    pub fn config_idle(&self) -> bool {
        self.config.is_idle()
    }

    fn active(&self) -> usize {
        self.attempts.iter().filter(|a| a.running).count()
    }

    /// Provisions `uuid` at `wanted` if all the addresses it needs are free, else (with no
    /// `wanted`) at the first free address after every node, exclusion and device of this
    /// station's life; a device tried before gets its address again. Returns the primary
    /// address it starts with; the range is checked again when its Capabilities tell how many
    /// elements it has ([`ProvisionerNodeEvent::AddressAssigned`]).
    pub fn provision(
        &mut self,
        now: Instant,
        uuid: [u8; 16],
        wanted: Option<UnicastAddress>,
    ) -> Result<UnicastAddress, ProvisionRefused> {
        self.now = now;
        let r = self.start(now, uuid, wanted.map(|w| w.get()), None);
        self.pump(now);
        r
    }

    /// [`ProvisionerNode::provision`] over PB-GATT (MshPRT §5.2.2): the runtime has connected
    /// to the device's Mesh Provisioning Service as `conn` with ATT MTU `mtu` and enabled
    /// notifications; ATT values are frames on [`Bearer::Gatt`]. When the link closes
    /// ([`ProvisionerEvent::LinkClosed`]) the runtime disconnects, and tells
    /// [`ProvisionerNode::gatt_disconnected`] when the device does.
    pub fn provision_gatt(
        &mut self,
        now: Instant,
        uuid: [u8; 16],
        conn: ConnId,
        mtu: u16,
        wanted: Option<UnicastAddress>,
    ) -> Result<UnicastAddress, ProvisionRefused> {
        self.now = now;
        let r = self.start(now, uuid, wanted.map(|w| w.get()), Some((conn, mtu)));
        self.pump(now);
        r
    }

    // PB-GATT connections this station asks for: `provisioner/gatt.rs`.

    /// PB-GATT connection `conn` was lost: its provisioning fails unless it completed.
    pub fn gatt_disconnected(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        self.prov.gatt_disconnected(now, conn);
        self.pump(now);
    }

    fn start(
        &mut self,
        now: Instant,
        uuid: [u8; 16],
        wanted: Option<u16>,
        gatt: Option<(ConnId, u16)>,
    ) -> Result<UnicastAddress, ProvisionRefused> {
        let before = self.attempts.iter().position(|a| a.uuid == uuid);
        if before.is_some_and(|i| self.attempts[i].running) && self.prov.session(uuid).is_some() {
            return Err(ProvisionRefused::AlreadyProvisioning);
        }
        if self.cdb.node_by_uuid(&uuid).is_some() {
            return Err(ProvisionRefused::AlreadyNode);
        }
        let iv = self.iv_index();
        // A retry after a failure reuses the address given before.
        let (address, elements) = match (before.map(|i| &self.attempts[i]), wanted) {
            (Some(a), None) => (a.address, a.elements),
            (_, wanted) => {
                let first = assign(&self.cdb, iv, wanted, 1, self.others(uuid))
                    .map_err(ProvisionRefused::Address)?;
                (first, 1)
            }
        };
        let unicast = UnicastAddress::new(address)
            .ok_or_else(|| ProvisionRefused::Address("no unicast address left".into()))?;
        let st = self.node.state();
        let Some(key) = st.net_keys.first() else {
            return Err(ProvisionRefused::Address(
                "the node has no network key to give".into(),
            ));
        };
        // MshPRT §5.4.2.5: NetKey, key index, flags, IV Index, unicast address.
        let data = ProvisioningData {
            net_key: key.key,
            key_index: key.index,
            flags: Flags(if st.iv_update { Flags::IV_UPDATE } else { 0 }),
            iv_index: st.iv_index,
            unicast_address: unicast,
        };
        let config = ProvisionerConfig {
            attention_duration: self.settings.attention_duration,
            data,
            algorithm: None,
            auth: AuthPolicy::Auto,
            static_oob: self.settings.static_oob.clone(),
            device_public_key: None,
        };
        match gatt {
            None => self.prov.provision(now, uuid, config).map(|_| ()),
            Some((conn, mtu)) => {
                self.prov
                    .provision_gatt(now, conn, mtu, uuid, Session::provisioner(config))
            }
        }
        .map_err(|e| match e {
            ProvisionError::AlreadyProvisioning => ProvisionRefused::AlreadyProvisioning,
            e => ProvisionRefused::Provisioner(e),
        })?;
        let attempt = Attempt {
            uuid,
            address,
            elements,
            wanted: wanted.or(before.and_then(|i| self.attempts[i].wanted)),
            running: true,
        };
        match before {
            Some(i) => self.attempts[i] = attempt,
            None => self.attempts.push(attempt),
        }
        Ok(unicast)
    }

    /// The address ranges of the other devices of this station's life: (primary, elements).
    fn others(&self, uuid: [u8; 16]) -> Vec<(u16, u16)> {
        self.attempts
            .iter()
            .filter(|a| a.uuid != uuid)
            .map(|a| (a.address, a.elements))
            .collect()
    }

    /// The user's OOB value for a device (Output OOB: what the device output).
    pub fn input_oob(
        &mut self,
        now: Instant,
        uuid: [u8; 16],
        value: OobValue,
    ) -> Result<(), ProvisionError> {
        self.now = now;
        let r = self.prov.input_oob(now, uuid, value);
        self.pump(now);
        r
    }

    /// Configures `node` as `plan` says ([`ConfigClient::configure`]), replacing what was
    /// still queued for it: for a node provisioned before, or by a caller that configures only
    /// once every device is provisioned.
    pub fn configure(&mut self, node: UnicastAddress, plan: ConfigurePlan) {
        self.config.cancel(node);
        self.config.configure(node, plan);
    }

    /// Queues a Config request from the node to `node` (replacing what was still queued for
    /// it); the answer arrives as a [`ProvisionerNodeEvent::Config`], recorded in the
    /// database. Refused when no status answers `msg`.
    pub fn config_request(
        &mut self,
        node: UnicastAddress,
        msg: ConfigMessage,
    ) -> Result<(), ConfigMessage> {
        if msg.status_opcode().is_none() {
            return Err(msg);
        }
        self.config.cancel(node);
        self.config.request(node, msg);
        Ok(())
    }

    /// Records a Configuration Client event the caller had outside this station's client (an
    /// answer to a request it sent itself) into the database, as the station's own are
    /// ([`Cdb::apply`]).
    pub fn record(&mut self, event: &ConfigClientEvent) {
        let iv = self.iv_index();
        self.cdb.apply(event, iv);
    }

    /// Hands the Configuration Client's due requests to the node (with the device key of the
    /// node they go to), and its events, recorded in the database, to the station's.
    fn pump_config(&mut self, now: Instant) {
        while let Some((dst, message)) = self.config.poll_request(now) {
            self.node
                .handle_command(now, Command::send(Address::from(dst), KeyRef::Dev, message));
        }
        let mut changed = false;
        while let Some(e) = self.config.poll_event() {
            let iv = self.iv_index();
            changed |= !matches!(e, ConfigClientEvent::Failed { .. });
            self.cdb.apply(&e, iv);
            if let ConfigClientEvent::Answered {
                status: ConfigMessage::NodeResetStatus,
                node,
                ..
            } = &e
            {
                // The node left: its device key goes with it.
                let a = *node;
                self.node
                    .update_state(|s| s.remote_dev_keys.retain(|(x, _)| *x != a));
            }
            self.events.push_back(ProvisionerNodeEvent::Config(e));
        }
        if changed {
            self.events.push_back(ProvisionerNodeEvent::DatabaseChanged);
        }
    }

    /// What the Provisioner reported: devices heard, addresses, completions and failures.
    fn pump(&mut self, now: Instant) {
        while let Some(e) = self.prov.poll_event() {
            let mut follow = Vec::new();
            match &e {
                ProvisionerEvent::Beacon(b) => self.heard(now, b.device_uuid),
                ProvisionerEvent::Session { device_uuid, event } => match event {
                    SessionEvent::Capabilities(c) => {
                        self.capabilities(now, *device_uuid, c, &mut follow)
                    }
                    SessionEvent::Complete(done) => self.complete(*device_uuid, done, &mut follow),
                    SessionEvent::Failed(f) => {
                        self.ended(*device_uuid, ProvisionFailure::Session(*f), &mut follow)
                    }
                    _ => {}
                },
                ProvisionerEvent::LinkClosed {
                    device_uuid,
                    reason,
                    ..
                } => self.ended(
                    *device_uuid,
                    ProvisionFailure::LinkClosed(*reason),
                    &mut follow,
                ),
                ProvisionerEvent::LinkOpened { .. } => {}
            }
            self.events.push_back(ProvisionerNodeEvent::Provisioner(e));
            self.events.extend(follow);
        }
        let parallel = self.auto.map_or(usize::MAX, |a| a.parallel.max(1));
        while self.active() < parallel {
            let Some(uuid) = self.waiting.pop_front() else {
                break;
            };
            if let Err(ProvisionRefused::Address(why)) = self.start(now, uuid, None, None) {
                self.events.push_back(ProvisionerNodeEvent::Failed {
                    device_uuid: uuid,
                    reason: ProvisionFailure::NoAddress(why),
                });
            }
        }
    }

    /// A device beaconing: provisioned now (or queued) when [`AutoProvision`] says so.
    fn heard(&mut self, now: Instant, uuid: [u8; 16]) {
        let Some(auto) = self.auto else { return };
        if auto.until.is_some_and(|t| now >= t)
            || self.cdb.node_by_uuid(&uuid).is_some()
            || self.waiting.contains(&uuid)
            || (!auto.retry && self.attempts.iter().any(|a| a.uuid == uuid))
        {
            return;
        }
        if self.active() < auto.parallel.max(1) {
            if let Err(ProvisionRefused::Address(why)) = self.start(now, uuid, None, None) {
                self.events.push_back(ProvisionerNodeEvent::Failed {
                    device_uuid: uuid,
                    reason: ProvisionFailure::NoAddress(why),
                });
            }
        } else {
            self.waiting.push_back(uuid);
        }
    }

    /// The device's elements take consecutive addresses (MshPRT §3.4.2.2): now that their
    /// number is known, the device keeps its range if it is free for all of them, else gets
    /// one no node, exclusion or other device holds; with none, its link is cancelled.
    fn capabilities(
        &mut self,
        now: Instant,
        uuid: [u8; 16],
        c: &Capabilities,
        follow: &mut Vec<ProvisionerNodeEvent>,
    ) {
        let Some(i) = self.attempts.iter().position(|a| a.uuid == uuid) else {
            return;
        };
        let n = u16::from(c.number_of_elements.max(1));
        let (current, wanted) = (self.attempts[i].address, self.attempts[i].wanted);
        let iv = self.iv_index();
        let others = self.others(uuid);
        let keep = wanted.unwrap_or(current);
        let chosen = match assign(&self.cdb, iv, Some(keep), n, others.clone()) {
            Ok(a) => Ok(a),
            Err(_) if wanted.is_none() => assign(&self.cdb, iv, None, n, others),
            Err(e) => Err(e),
        }
        .and_then(|addr| {
            UnicastAddress::new(addr)
                .filter(|u| addr == current || self.prov.assign_address(uuid, *u).is_ok())
                .map(|_| addr)
                .ok_or_else(|| format!("its {n} elements do not fit from {addr:04X}"))
        });
        match chosen {
            Ok(addr) => {
                self.attempts[i].address = addr;
                self.attempts[i].elements = n;
                if let Some(address) = UnicastAddress::new(addr) {
                    follow.push(ProvisionerNodeEvent::AddressAssigned {
                        device_uuid: uuid,
                        address,
                        elements: n,
                    });
                }
            }
            Err(why) => {
                self.ended(uuid, ProvisionFailure::NoAddress(why), follow);
                let _ = self.prov.cancel(now, uuid);
            }
        }
    }

    /// A device provisioned: into the database, its device key to the node, its configuration
    /// started.
    fn complete(
        &mut self,
        uuid: [u8; 16],
        done: &Provisioned,
        follow: &mut Vec<ProvisionerNodeEvent>,
    ) {
        if let Some(a) = self.attempts.iter_mut().find(|a| a.uuid == uuid) {
            a.running = false;
        }
        let address = done.data.unicast_address;
        let count = u16::from(done.number_of_elements.max(1));
        let iv = self.iv_index();
        // A device provisioned again replaces its record.
        self.cdb.nodes.retain(|n| n.uuid.0 != uuid);
        if let Some(holder) = self.cdb.address_in_use(address.get(), count, iv) {
            follow.push(ProvisionerNodeEvent::Failed {
                device_uuid: uuid,
                reason: ProvisionFailure::NotRecorded {
                    address: address.get(),
                    holder,
                },
            });
            return;
        }
        self.cdb.nodes.push(CdbNode::from_provisioned(uuid, done));
        let key = done.device_key;
        self.node.update_state(|s| {
            s.remote_dev_keys.retain(|(x, _)| *x != address);
            s.remote_dev_keys.push((address, key));
        });
        if let Some(plan) = self.configure {
            self.config.cancel(address);
            self.config.configure(address, plan);
        }
        follow.push(ProvisionerNodeEvent::Provisioned {
            device_uuid: uuid,
            provisioned: done.clone(),
        });
        follow.push(ProvisionerNodeEvent::DatabaseChanged);
    }

    /// A device's provisioning ended without a node: reported once.
    fn ended(
        &mut self,
        uuid: [u8; 16],
        reason: ProvisionFailure,
        follow: &mut Vec<ProvisionerNodeEvent>,
    ) {
        if let Some(a) = self
            .attempts
            .iter_mut()
            .find(|a| a.uuid == uuid && a.running)
        {
            a.running = false;
            follow.push(ProvisionerNodeEvent::Failed {
                device_uuid: uuid,
                reason,
            });
        }
    }
}

/// The primary address for a device of `elements` elements: `wanted` if all its addresses are
/// free, else (with no `wanted`) the first range after every node, exclusion and device of the
/// run (`given`: primary and element count of each). Errors say what holds the address.
pub(super) fn assign(
    cdb: &Cdb,
    iv_index: u32,
    wanted: Option<u16>,
    elements: u16,
    given: Vec<(u16, u16)>,
) -> Result<u16, String> {
    let this_run = |first: u16| {
        let last = u32::from(first) + u32::from(elements) - 1;
        given
            .iter()
            .find(|(p, n)| {
                u32::from(*p) <= last && u32::from(first) < u32::from(*p) + u32::from(*n)
            })
            .copied()
    };
    let first = match wanted {
        Some(w) => w,
        None => {
            let after_run = given
                .iter()
                .map(|(p, n)| p.saturating_add(*n))
                .max()
                .unwrap_or(1);
            cdb.next_unicast(elements, iv_index)
                .ok_or("no free unicast address left for it")?
                .max(after_run)
        }
    };
    if first == 0 || u32::from(first) + u32::from(elements) - 1 > 0x7FFF {
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

impl<R: RngCore> Station for ProvisionerNode<R> {
    type Event = ProvisionerNodeEvent;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        self.now = now;
        match frame.bearer {
            // A PB-GATT link's values go to the Provisioner, other connections to the node.
            Bearer::Gatt(conn) if self.prov.has_gatt(conn) => self.prov.handle_frame(now, frame),
            Bearer::Gatt(_) => self.node.handle_frame(now, frame),
            _ => {
                self.node.handle_frame(now, frame);
                self.prov.handle_frame(now, frame);
                self.learn_gatt_peer(frame);
            }
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        self.now = now;
        self.pump_config(now);
        self.turn = !self.turn;
        let f = if self.turn {
            self.prov
                .poll_transmit(now)
                .or_else(|| self.node.poll_transmit(now))
        } else {
            self.node
                .poll_transmit(now)
                .or_else(|| self.prov.poll_transmit(now))
        };
        self.pump(now);
        f
    }

    fn poll_event(&mut self) -> Option<ProvisionerNodeEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let e = self.node.poll_event()?;
        if let Event::Access { src, message, .. } = &e {
            // A status the Configuration Client waits for moves it on; its events follow.
            if self.config.handle_message(self.now, *src, message) {
                self.pump_config(self.now);
            }
        }
        Some(ProvisionerNodeEvent::Node(e))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.node.poll_timeout(),
            self.config.poll_timeout(),
            self.prov.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.pump_config(now);
        self.node.handle_timeout(now);
        self.prov.handle_timeout(now);
        self.pump(now);
    }

    /// PB-GATT connections it asked for go to the Provisioner; the node serves proxy clients.
    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        self.now = now;
        if !self.gatt_link(now, event) {
            match event {
                LinkEvent::Connected { .. } => self.node.handle_link(now, event),
                _ => {
                    if let LinkEvent::Disconnected { conn, .. } = event {
                        self.requests
                            .retain(|r| *r != LinkRequest::Disconnect { conn: *conn });
                    }
                    self.prov.handle_link(now, event);
                    self.node.handle_link(now, event);
                }
            }
        }
        self.pump(now);
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        if let Some(r) = self.requests.pop_front() {
            return Some(r);
        }
        if let Some(p) = self
            .connecting
            .iter_mut()
            .find(|p| !p.asked && p.peer.is_some())
        {
            p.asked = true;
            return Some(LinkRequest::Connect {
                peer: p.peer?,
                service: GattService::Provisioning,
            });
        }
        self.prov.poll_link().or_else(|| self.node.poll_link())
    }

    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        self.node.connectable(now)
    }
}
