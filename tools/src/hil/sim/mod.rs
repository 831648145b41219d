//! The [`Backend`] on the in-process simulator, in virtual time, deterministic per seed: a
//! scenario's roles become `weft sim` scenario nodes (`crate::sim::build_scenario`: the
//! provisioner node, provisioned nodes, unprovisioned devices), each linked only as the
//! scenario's `[[link]]`s say.
//!
//! What "persisted" means here is what weft's runtime writes (`tools/src/provisioning.rs`): a
//! node's state when it asks (`Event::PersistState`, looked at after each slice of virtual
//! time) and its replay protection list after each slice. A kill -9 or a power cycle starts the
//! node again from that, with its unsent frames lost; the provisioner keeps its network database
//! as it was (weft writes it on every `DatabaseChanged`).

mod observe;
mod proxy;
mod stations;
pub mod thread;

pub(in crate::hil) use observe::node_observed;
pub(in crate::hil) use stations::{access_message, auth_name, key_refresh_local, period_log};

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha8Rng;
use weft_mesh::ble::address::{Address, UnicastAddress};
use weft_mesh::ble::foundation::config::client::{ConfigClientEvent, ConfigurePlan};
use weft_mesh::ble::foundation::config::{
    ConfigMessage, FeatureState, HeartbeatPublication, Retransmit,
};
use weft_mesh::ble::models::KeyIndex;
use weft_mesh::ble::node::{Command, Event, KeyRef, KeyRefreshPhase, Node, NodeState, StateChange};
use weft_mesh::ble::prov::{
    Device, DeviceConfig, DeviceEvent, OobValue, ProvisionerEvent, SessionEvent,
};
use weft_mesh::ble::station::{DeviceNode, DeviceProfile, ProvisionSettings, ProvisionerNode};
use weft_mesh::ble::transport::rpl::ReplayProtectionList;
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::prov::{
    Algorithms, AuthMethod, Capabilities, InputOobAction, OutputOobAction,
};
use weft_mesh::{Duration, Instant, Station};
use weft_radio::capture::{stand_in_adv_address, CaptureError, CaptureFile};
use weft_radio::sim::{station_rng, Link, NodeId, SimEvent, Simulator};

use crate::hil::backend::{Backend, Role, RoleView, Seen};
use crate::hil::rig::RadioKind;
use crate::hil::scenario::{HilScenario, RoleKind};
use crate::hil::steps::{ConfigItem, Oob, Target};
use crate::scenario::{
    uuid_from_name, LinkSpec, NetworkSpec, NodeSpec, PlannedDevice, RadioSpec, Scenario,
};
use crate::sim::{ScenarioStation, StationEvent};

/// The static OOB value both sides of a static-OOB provisioning know (MshPRT §5.4.2.4).
const STATIC_OOB: [u8; 16] = *b"weft hil static!";
/// Virtual time between two looks at the events (OOB prompts, persisted state).
const SLICE: Duration = Duration::from_millis(50);
/// The slice of long idles (an IV Update's 96 hours).
const LONG_SLICE: Duration = Duration::from_secs(2);
/// How long a node that got Config Node Reset stays before its state is forgotten (its
/// Node Reset Status must reach the air first).
const RESET_LINGER: Duration = Duration::from_secs(1);
/// AD type of a Mesh Message (MshPRT §3.3.1).
const AD_MESH_MESSAGE: u8 = 0x2a;

type Shared<T> = Arc<Mutex<T>>;

/// The roles of a scenario on the simulator.
#[allow(missing_debug_implementations)]
pub struct SimBackend {
    sim: Simulator<ScenarioStation>,
    seed: u64,
    roles: Vec<super::scenario::Role>,
    ids: Vec<NodeId>,
    uuids: Vec<[u8; 16]>,
    /// Primary addresses, shared with the capture tap.
    addresses: Shared<Vec<u16>>,
    links: Vec<(usize, usize, Link)>,
    saved: Vec<Option<(NodeState, ReplayProtectionList)>>,
    restarts: u64,
    /// Power cycles under way: when each role comes back.
    reattach: Vec<(Instant, Role)>,
    /// Nodes reset: when each is forgotten.
    forget: Vec<(Instant, Role)>,
    onoff: Vec<Option<bool>>,
    auth: Vec<Option<String>>,
    /// OOB values shown on one side and not typed on the other yet: to the provisioner (by
    /// device uuid) and to a device (by role); and who asks.
    to_prov: HashMap<[u8; 16], OobValue>,
    to_dev: HashMap<Role, OobValue>,
    prov_asks: HashSet<[u8; 16]>,
    dev_asks: HashSet<Role>,
    config_queue: HashMap<Role, VecDeque<ConfigMessage>>,
    app_key: [u8; 16],
    new_keys: ([u8; 16], [u8; 16]),
    tid: u8,
    /// The last Mesh Message each node put on the air.
    last_pdu: Shared<HashMap<u32, Vec<u8>>>,
    pcap: Option<(Shared<CaptureFile>, Shared<Option<String>>)>,
    /// Roles that are Proxy Clients now (`send` through a proxy): the network database a
    /// provisioner left while it is one, and the sends waiting for its filter (`proxy.rs`).
    clients: HashMap<Role, proxy::Client>,
}

impl SimBackend {
    /// Whether the simulator can run `sc`, or why not (a reason to skip it): Bluetooth Mesh
    /// roles on the advertising air ([`SimBackend`]), or Thread roles on the 802.15.4 air
    /// ([`thread::ThreadSim`]), not both in one scenario.
    pub fn supports(sc: &HilScenario) -> Result<(), String> {
        let ble = sc.roles.iter().find(|r| r.kind.radio() == RadioKind::Ble);
        let thread = sc.roles.iter().find(|r| r.kind.radio() != RadioKind::Ble);
        match (ble, thread) {
            (Some(b), Some(t)) => Err(format!(
                "roles {} ({}) and {} ({}): a scenario of both Bluetooth Mesh and Thread roles runs on no HIL backend yet",
                b.name,
                b.kind.as_str(),
                t.name,
                t.kind.as_str()
            )),
            _ => Ok(()),
        }
    }

    /// Whether `sc` is a Thread scenario (its roles are on 802.15.4 radios).
    pub fn is_thread(sc: &HilScenario) -> bool {
        sc.roles
            .iter()
            .any(|r| r.kind.radio() == RadioKind::Ieee802154)
    }

    /// Builds the scenario's roles on a simulator seeded with `seed`; with `pcap`, every frame
    /// on the air goes to that file.
    pub fn new(sc: &HilScenario, seed: u64, pcap: Option<&Path>) -> Result<SimBackend, String> {
        SimBackend::supports(sc)?;
        if SimBackend::is_thread(sc) {
            return Err("a Thread scenario: it runs on the 802.15.4 air (ThreadSim)".into());
        }
        let mut next = 1u16;
        let nodes: Vec<NodeSpec> = sc
            .roles
            .iter()
            .map(|r| {
                let address = (!r.unprovisioned).then(|| {
                    next += 1;
                    format!("{:04x}", next - 1)
                });
                NodeSpec {
                    name: r.name.clone(),
                    address,
                    unprovisioned: r.unprovisioned,
                    uuid: None,
                    position: None,
                    relay: r.relays(),
                    models: r.models.clone(),
                    subscribe: r.subscribe.iter().map(|g| format!("{g:04x}")).collect(),
                    ttl: r.ttl,
                    proxy: r.kind == RoleKind::Proxy,
                    proxy_client: None,
                }
            })
            .collect();
        let links = sc
            .links
            .iter()
            .map(|l| LinkSpec {
                a: sc.roles[l.a].name.clone(),
                b: sc.roles[l.b].name.clone(),
                rssi: l.rssi,
                loss: l.loss,
            })
            .collect();
        let scenario = Scenario {
            name: sc.name.clone(),
            description: sc.description.clone(),
            seconds: sc.seconds,
            radio: RadioSpec::default(),
            network: NetworkSpec::default(),
            nodes,
            links,
            traffic: Vec::new(),
            generate: None,
            auto_provision: false,
            provisioner_station: true,
        };
        let args = crate::sim::RunArgs {
            scenario: sc.name.clone(),
            seed,
            seconds: Some(sc.seconds),
            ..crate::sim::RunArgs::default()
        };
        let built = crate::sim::build_scenario(scenario, &args, |s| s).map_err(|e| match e {
            crate::sim::RunError::Usage(m) | crate::sim::RunError::Io(m) => m,
        })?;
        let mut sim = built.sim;
        if sc.roles.iter().any(|r| r.kind == RoleKind::Proxy) {
            // Proxies advertise Network ID and Node Identity, devices PB-GATT.
            sim.set_connectable_interval(Some(proxy::CONNECTABLE_EVERY));
        }
        // Node ids: the provisioned roles in order, then the devices.
        let ids: Vec<NodeId> = sc
            .roles
            .iter()
            .map(|r| {
                let i = match built.plan.iter().position(|p| p.name == r.name) {
                    Some(i) => i,
                    None => {
                        built.plan.len()
                            + built
                                .devices
                                .iter()
                                .position(|d| d.name == r.name)
                                .unwrap_or(0)
                    }
                };
                NodeId(i as u32)
            })
            .collect();
        let addresses: Vec<u16> = sc
            .roles
            .iter()
            .map(|r| {
                built
                    .plan
                    .iter()
                    .find(|p| p.name == r.name)
                    .map_or(0, |p| p.address)
            })
            .collect();
        let saved = ids
            .iter()
            .map(|&id| {
                sim.node(id)
                    .as_node()
                    .map(|n| (n.state().clone(), n.rpl().clone()))
            })
            .collect();
        let addresses = Arc::new(Mutex::new(addresses));
        let last_pdu: Shared<HashMap<u32, Vec<u8>>> = Arc::default();
        let pcap = match pcap {
            Some(path) => {
                let w = CaptureFile::create(path, weft_radio::Caps::ADVERTISING)
                    .map_err(|e| e.to_string())?;
                let failed: Shared<Option<String>> = Arc::default();
                Some((Arc::new(Mutex::new(w)), failed))
            }
            None => None,
        };
        {
            let (last, addrs, ids) = (Arc::clone(&last_pdu), Arc::clone(&addresses), ids.clone());
            let pcap = pcap.clone();
            sim.set_air_tap(move |f| {
                if f.bytes.get(1) == Some(&AD_MESH_MESSAGE) {
                    if let Ok(mut l) = last.lock() {
                        l.insert(f.node.0, f.bytes.to_vec());
                    }
                }
                if let Some((w, failed)) = &pcap {
                    let role = ids.iter().position(|&i| i == f.node);
                    let a = role
                        .and_then(|r| addrs.lock().ok().map(|a| a[r]))
                        .unwrap_or(0);
                    let written = match w.lock() {
                        Ok(mut w) => {
                            w.write_adv(f.start, stand_in_adv_address(a), f.channel, None, f.bytes)
                        }
                        Err(_) => return,
                    };
                    if let Err(e @ CaptureError::File { .. }) = written {
                        if let Ok(mut failed) = failed.lock() {
                            failed.get_or_insert(e.to_string());
                        }
                    }
                }
            });
        }
        let by_name = |n: &str| sc.role(n).unwrap_or(0);
        let links = sc
            .links
            .iter()
            .map(|l| {
                (
                    l.a,
                    l.b,
                    Link {
                        rssi_dbm: l.rssi,
                        loss: l.loss,
                    },
                )
            })
            .collect();
        let _ = by_name;
        let mut rng =
            <ChaCha8Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(seed ^ 0x4b52);
        let mut key = || {
            let mut k = [0u8; 16];
            rand_chacha::rand_core::RngCore::fill_bytes(&mut rng, &mut k);
            k
        };
        let new_keys = (key(), key());
        let n = sc.roles.len();
        Ok(SimBackend {
            sim,
            seed,
            roles: sc.roles.clone(),
            uuids: sc.roles.iter().map(|r| uuid_from_name(&r.name)).collect(),
            ids,
            addresses,
            links,
            saved,
            restarts: 0,
            reattach: Vec::new(),
            forget: Vec::new(),
            onoff: vec![None; n],
            auth: vec![None; n],
            to_prov: HashMap::new(),
            to_dev: HashMap::new(),
            prov_asks: HashSet::new(),
            dev_asks: HashSet::new(),
            config_queue: HashMap::new(),
            app_key: built.keys.app_key,
            new_keys,
            tid: 0,
            last_pdu,
            pcap,
            clients: HashMap::new(),
        })
    }

    fn address(&self, role: Role) -> Option<u16> {
        let a = self.addresses.lock().ok()?[role];
        (a != 0).then_some(a)
    }

    fn role_of_address(&self, a: u16) -> Option<Role> {
        self.addresses
            .lock()
            .ok()?
            .iter()
            .position(|&x| x == a && a != 0)
    }

    fn unicast(&self, role: Role) -> Result<UnicastAddress, String> {
        self.address(role)
            .and_then(UnicastAddress::new)
            .ok_or_else(|| format!("{} is not a node yet", self.roles[role].name))
    }

    /// Checks that `by` is the provisioner (back on the advertising bearer if it was a Proxy
    /// Client).
    fn provisioner(&mut self, by: Role) -> Result<(), String> {
        self.on_advertising(by);
        match self.sim.node(self.ids[by]) {
            ScenarioStation::Provisioner(_) => Ok(()),
            _ => Err(format!("{} is not the provisioner", self.roles[by].name)),
        }
    }

    /// Queues Config requests from the provisioner `by` to `node`, one at a time.
    fn config_requests(
        &mut self,
        by: Role,
        node: Role,
        msgs: Vec<ConfigMessage>,
    ) -> Result<(), String> {
        self.provisioner(by)?;
        let dst = self.unicast(node)?;
        let mut q: VecDeque<ConfigMessage> = msgs.into();
        let Some(first) = q.pop_front() else {
            return Ok(());
        };
        self.config_queue.insert(node, q);
        let now = self.sim.now();
        self.sim.schedule(now, self.ids[by], move |s, _| {
            let _ = s.config_request(dst, first);
        });
        Ok(())
    }

    /// Sets the links of `role` again (after it was taken off the air).
    fn relink(&mut self, role: Role) {
        for &(a, b, l) in &self.links {
            if a == role || b == role {
                self.sim.set_link(self.ids[a], self.ids[b], l);
            }
        }
    }

    fn secs(&self, at: Instant) -> f64 {
        at.as_micros() as f64 / 1e6
    }
}

impl Backend for SimBackend {
    fn now_s(&self) -> f64 {
        self.secs(self.sim.now())
    }

    fn advance(&mut self, seconds: f64) -> Result<Vec<Seen>, String> {
        let end = self.sim.now() + Duration::from_micros((seconds.max(0.0) * 1e6).ceil() as u64);
        let slice = if seconds > 120.0 { LONG_SLICE } else { SLICE };
        let mut out = Vec::new();
        while self.sim.now() < end {
            let mut until = (self.sim.now() + slice).min(end);
            for &(at, _) in self.reattach.iter().chain(&self.forget) {
                if at > self.sim.now() && at < until {
                    until = at;
                }
            }
            self.sim.run_until(until);
            self.drain(&mut out);
            let now = self.sim.now();
            let (due, later): (Vec<_>, Vec<_>) =
                self.reattach.iter().partition(|(at, _)| *at <= now);
            self.reattach = later;
            for (_, role) in due {
                self.relink(role);
            }
            let (due, later): (Vec<_>, Vec<_>) = self.forget.iter().partition(|(at, _)| *at <= now);
            self.forget = later;
            for (_, role) in due {
                // weft removes a reset node's store: it starts again as a device.
                self.saved[role] = None;
                if let Ok(mut a) = self.addresses.lock() {
                    a[role] = 0;
                }
                let device = self.device(role, Oob::None);
                self.sim.detach_node(self.ids[role]);
                self.sim
                    .schedule(now, self.ids[role], move |s, _| *s = device);
                self.relink(role);
            }
        }
        Ok(out)
    }

    fn provision(&mut self, by: Role, device: Role, oob: Oob) -> Result<(), String> {
        self.provisioner(by)?;
        if !matches!(self.sim.node(self.ids[device]), ScenarioStation::Device(d) if d.unprovisioned_uuid().is_some())
        {
            return Err(format!(
                "{} is not an unprovisioned device",
                self.roles[device].name
            ));
        }
        // The device as its firmware offers this class (MshPRT §5.4.1.2).
        let station = self.device(device, oob);
        let now = self.sim.now();
        let uuid = self.uuids[device];
        self.sim
            .schedule(now, self.ids[device], move |s, _| *s = station);
        let settings = ProvisionSettings {
            attention_duration: 0,
            static_oob: (oob == Oob::Static).then(|| STATIC_OOB.to_vec()),
        };
        self.sim.schedule(now, self.ids[by], move |s, now| {
            if let ScenarioStation::Provisioner(p) = s {
                p.set_settings(settings);
                if let Err(e) = p.provision(now, uuid, None) {
                    tracing::warn!(target: "weft::hil", "provisioning refused: {e}");
                }
            }
        });
        Ok(())
    }

    fn configure(&mut self, by: Role, node: Role, item: &ConfigItem) -> Result<(), String> {
        let msg = match *item {
            ConfigItem::App { subscribe, publish } => {
                self.provisioner(by)?;
                let dst = self.unicast(node)?;
                let plan = self.plan(subscribe, publish);
                self.config_queue.remove(&node);
                let now = self.sim.now();
                self.sim.schedule(now, self.ids[by], move |s, _| {
                    if let ScenarioStation::Provisioner(p) = s {
                        p.configure(dst, plan);
                    }
                });
                return Ok(());
            }
            ConfigItem::Relay(on) => ConfigMessage::RelaySet {
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
            ConfigItem::HeartbeatPublication { to, period_s, ttl } => {
                let dst = match to {
                    Target::Role(r) => self.unicast(r)?.get(),
                    Target::Group(g) => g,
                };
                ConfigMessage::HeartbeatPublicationSet(HeartbeatPublication::every(
                    Address(dst),
                    period_s,
                    ttl,
                    KeyIndex::from_bits(0),
                ))
            }
            ConfigItem::HeartbeatSubscription { from, period_s } => {
                ConfigMessage::HeartbeatSubscriptionSet {
                    source: Address::from(self.unicast(from)?),
                    destination: Address::from(self.unicast(node)?),
                    period_log: period_log(period_s),
                }
            }
            ConfigItem::GattProxy(on) => ConfigMessage::GattProxySet {
                state: if on {
                    FeatureState::Enabled
                } else {
                    FeatureState::Disabled
                },
            },
        };
        self.config_requests(by, node, vec![msg])
    }

    fn send(
        &mut self,
        from: Role,
        to: Target,
        message: &str,
        on: bool,
        ttl: Option<u8>,
        proxy: Option<Role>,
    ) -> Result<(), String> {
        let dst = match to {
            Target::Role(r) => self.unicast(r)?.get(),
            Target::Group(g) => g,
        };
        self.unicast(from)?;
        if proxy.is_none() {
            self.on_advertising(from);
        }
        self.tid = self.tid.wrapping_add(1);
        let tid = self.tid;
        let m = access_message(message, on, tid);
        let cmd = Command::Send {
            element: 0,
            dst: Address(dst),
            label: None,
            key: KeyRef::App(0),
            net_index: 0,
            ttl,
            message: m,
        };
        if let Some(p) = proxy {
            return self.send_through(from, p, cmd);
        }
        let now = self.sim.now();
        self.sim.schedule(now, self.ids[from], move |s, now| {
            if let Some(n) = s.as_node_mut() {
                n.handle_command(now, cmd);
            }
        });
        Ok(())
    }

    fn ping(&mut self, from: Role, _: Role) -> Result<(), String> {
        Err(format!(
            "{} is a Bluetooth Mesh role: only Thread roles ping",
            self.roles[from].name
        ))
    }

    fn cut(&mut self, a: Role, b: Role) -> Result<(), String> {
        if !self
            .links
            .iter()
            .any(|&(x, y, _)| (x, y) == (a, b) || (y, x) == (a, b))
        {
            return Err(format!(
                "no link between {} and {}",
                self.roles[a].name, self.roles[b].name
            ));
        }
        self.sim.remove_link_directed(self.ids[a], self.ids[b]);
        self.sim.remove_link_directed(self.ids[b], self.ids[a]);
        Ok(())
    }

    fn restore(&mut self, a: Role, b: Role) -> Result<(), String> {
        let l = self
            .links
            .iter()
            .find(|&&(x, y, _)| (x, y) == (a, b) || (y, x) == (a, b))
            .map(|&(_, _, l)| l)
            .ok_or_else(|| {
                format!(
                    "no link between {} and {}",
                    self.roles[a].name, self.roles[b].name
                )
            })?;
        self.sim.set_link(self.ids[a], self.ids[b], l);
        Ok(())
    }

    fn power_cycle(&mut self, role: Role, off_s: f64) -> Result<(), String> {
        let station = self.restarted(role)?;
        let id = self.ids[role];
        self.sim.detach_node(id);
        let back = self.sim.now() + Duration::from_micros((off_s * 1e6) as u64);
        self.sim.schedule(back, id, move |s, _| *s = station);
        self.reattach.push((back, role));
        Ok(())
    }

    fn kill_restart(&mut self, role: Role) -> Result<(), String> {
        let station = self.restarted(role)?;
        let id = self.ids[role];
        self.sim.detach_node(id);
        let now = self.sim.now();
        self.sim.schedule(now, id, move |s, _| *s = station);
        self.relink(role);
        Ok(())
    }

    fn iv_update(&mut self, role: Role) -> Result<(), String> {
        self.unicast(role)?;
        let now = self.sim.now();
        self.sim.schedule(now, self.ids[role], |s, now| {
            if let Some(n) = s.as_node_mut() {
                n.handle_command(now, Command::StartIvUpdate);
            }
        });
        Ok(())
    }

    fn key_refresh(&mut self, by: Role, node: Role, phase: u8) -> Result<(), String> {
        let (net, app) = self.new_keys;
        if node != by {
            let k = KeyIndex::from_bits(0);
            return self.config_requests(
                by,
                node,
                vec![
                    ConfigMessage::NetKeyUpdate {
                        net_key_index: k,
                        key: net,
                    },
                    ConfigMessage::AppKeyUpdate {
                        net_key_index: k,
                        app_key_index: k,
                        key: app,
                    },
                ],
            );
        }
        let now = self.sim.now();
        self.sim.schedule(now, self.ids[by], move |s, _| {
            if let Some(n) = s.as_node_mut() {
                key_refresh_local(n, phase, net, app);
            }
        });
        Ok(())
    }

    fn node_reset(&mut self, by: Role, node: Role) -> Result<(), String> {
        self.config_requests(by, node, vec![ConfigMessage::NodeReset])
    }

    fn replay(&mut self, from: Role, to: Role) -> Result<(), String> {
        let bytes = self
            .last_pdu
            .lock()
            .ok()
            .and_then(|l| l.get(&self.ids[from].0).cloned())
            .ok_or_else(|| {
                format!(
                    "{} has put no Mesh Message on the air to replay",
                    self.roles[from].name
                )
            })?;
        let now = self.sim.now();
        self.sim.schedule(now, self.ids[to], move |s, now| {
            s.handle_frame(now, &crate::hil::backend::replayed_frame(now, bytes));
        });
        Ok(())
    }

    fn view(&self, role: Role) -> RoleView {
        // A node reset serves until its state is forgotten (`RESET_LINGER`).
        let node = self
            .sim
            .node(self.ids[role])
            .as_node()
            .filter(|_| self.address(role).is_some());
        let mut v = RoleView {
            address: self.address(role),
            provisioned: node.is_some(),
            onoff: self.onoff[role],
            auth: self.auth[role].clone(),
            ..RoleView::default()
        };
        if let Some(n) = node {
            let st = n.state();
            v.iv_index = st.iv_index.0;
            v.iv_update = st.iv_update;
            v.key_phase = st.net_keys.first().map_or(0, |k| k.phase.to_u8());
            v.relay = st.relay;
        }
        v
    }

    fn finish(&mut self) -> Result<(), String> {
        self.sim.clear_air_tap();
        if let Some((w, failed)) = self.pcap.take() {
            if let Some(e) = failed.lock().ok().and_then(|f| f.clone()) {
                return Err(e);
            }
            let w = Arc::try_unwrap(w).map_err(|_| "the capture is still in use".to_string())?;
            let w = w
                .into_inner()
                .map_err(|_| "the capture writer panicked".to_string())?;
            w.finish().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
