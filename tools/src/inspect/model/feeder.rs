//! The scenario feeder: a simulated network (its nodes, the air) run in virtual time and decoded
//! as a sniffer given the network's keys would decode it, into the [`Model`] the UI draws.

use super::*;
use std::path::{Path, PathBuf};

/// A frame from the air tap.
#[derive(Debug, Clone)]
struct AirRec {
    start: Instant,
    node: u32,
    bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct AirQueue {
    frames: VecDeque<AirRec>,
    dropped: u64,
}

/// The simulator, the decoder and the model they fill.
#[allow(missing_debug_implementations)]
pub struct Feeder {
    sim: Simulator<ScenarioStation>,
    plan: Vec<PlannedNode>,
    sniffer: Sniffer,
    air: Arc<Mutex<AirQueue>>,
    capture: Arc<Mutex<TapCapture>>,
    /// Node index by address.
    index: HashMap<u16, usize>,
    /// Address by node index (0 while unprovisioned) and names.
    addrs: Vec<u16>,
    names: Vec<String>,
    tally: TrafficTally,
    faults: HashMap<u16, Vec<u8>>,
    host_index: usize,
    scenario: crate::scenario::Scenario,
    seed: u64,
    /// Traffic is scheduled one scenario period at a time, up to here.
    scheduled_until: Instant,
    period: Duration,
    pub model: Model,
    pub layout: Layout,
}

impl Feeder {
    /// A feeder for a scenario (`RunArgs` as `weft sim run` takes them; `seconds` is the period
    /// after which the scenario's traffic repeats).
    pub fn new(args: &RunArgs) -> Result<Feeder, RunError> {
        let mut args = args.clone();
        args.json = true; // medium events: links heard, RSSI, drops
        let Built {
            mut sim,
            plan,
            keys,
            end,
            scenario,
            devices,
        } = crate::sim::build(&args)?;
        let mut addrs: Vec<u16> = plan.iter().map(|p| p.address).collect();
        addrs.resize(sim.node_count(), 0);
        let names: Vec<String> = plan
            .iter()
            .map(|p| p.name.clone())
            .chain(devices.iter().map(|d| d.name.clone()))
            .collect();
        let mut ring = Keyring::new();
        ring.add_net_key(keys.net_key);
        ring.add_app_key(keys.app_key);
        for (a, k) in &keys.dev_keys {
            ring.add_dev_key(Address(*a), *k);
        }
        let sniffer = Sniffer::new(ring, IvIndex(keys.iv_index));
        let air = Arc::new(Mutex::new(AirQueue::default()));
        let capture: Arc<Mutex<TapCapture>> = Arc::default();
        {
            let air = Arc::clone(&air);
            let capture = Arc::clone(&capture);
            let addrs = addrs.clone();
            sim.set_air_tap(move |f| {
                if let Ok(mut c) = capture.lock() {
                    let a = addrs.get(f.node.index()).copied().unwrap_or(0);
                    c.write(f.start, stand_in_adv_address(a), f.channel, f.bytes);
                }
                // The three PDUs of an advertising event carry the same bytes: decode one.
                if f.channel != weft_radio::sim::ADV_CHANNELS[0] {
                    return;
                }
                if let Ok(mut q) = air.lock() {
                    if q.frames.len() >= AIR_QUEUE_CAPACITY {
                        q.dropped += 1;
                    } else {
                        q.frames.push_back(AirRec {
                            start: f.start,
                            node: f.node.0,
                            bytes: f.bytes.to_vec(),
                        });
                    }
                }
            });
        }
        let host_index = plan
            .iter()
            .position(|p| p.models.iter().any(|m| m == "config-client"))
            .unwrap_or(0);
        let mut topology = Topology::new();
        for (i, p) in plan.iter().enumerate() {
            let n = topology.node_mut(u64::from(p.address));
            n.name = Some(p.name.clone());
            if let Some(node) = sim.node(NodeId(i as u32)).as_node() {
                n.uuid = Some(node.state().uuid);
                n.elements = Some(node.state().elements.len() as u8);
            }
            n.roles.relay = p.relay;
            n.position = p.position.map(|(x, y)| (x, -y));
        }
        let host = plan.get(host_index).map_or(0, |p| p.address);
        topology.set_host(Some(u64::from(host)));
        let mut groups: Vec<u16> = plan.iter().flat_map(|p| p.subscribe.clone()).collect();
        groups.sort_unstable();
        groups.dedup();
        let index = plan
            .iter()
            .enumerate()
            .map(|(i, p)| (p.address, i))
            .collect();
        let period = Duration::from_micros(end.as_micros().max(1_000_000));
        let model = Model {
            groups,
            ..Model::empty(
                format!("sim:{} (seed {})", scenario.name, args.seed),
                topology,
                host,
            )
        };
        let mut f = Feeder {
            sim,
            plan,
            sniffer,
            air,
            capture,
            index,
            addrs,
            names,
            tally: TrafficTally::default(),
            faults: HashMap::new(),
            host_index,
            scenario,
            seed: args.seed,
            scheduled_until: Instant::ZERO,
            period,
            model,
            layout: Layout::new(),
        };
        f.layout_steps(200);
        Ok(f)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.plan.len()
    }

    /// Runs the simulation up to `t` (virtual) and folds everything that happened into the
    /// model.
    pub fn advance_to(&mut self, t: Instant) -> Result<(), RunError> {
        while self.scheduled_until <= t {
            let from = self.scheduled_until;
            let until = from + self.period;
            let k = from.as_micros() / self.period.as_micros().max(1);
            crate::sim::schedule_traffic(
                &mut self.sim,
                &self.plan,
                &self.scenario,
                self.seed ^ k,
                from,
                until,
            )?;
            self.scheduled_until = until;
        }
        self.sim.run_until(t);
        self.ingest();
        let failed = self.capture.lock().ok().and_then(|mut c| c.failed.take());
        if let Some(e) = failed {
            self.model.capture = None;
            self.model.notify(format!("capture stopped: {e}"));
        }
        self.model.now = t.max(self.model.now);
        let horizon = Instant::from_micros(
            self.model
                .now
                .as_micros()
                .saturating_sub(HOP_ANIMATION.as_micros()),
        );
        self.model.hops.retain(|h| h.at >= horizon);
        self.model.stats.pdus_per_s = self.tally.per_second(self.model.now);
        self.model.stats.frames_on_air = self.sim.stats().frames_sent;
        self.model.topology.update_hops();
        Ok(())
    }

    /// Layout steps (while the layout has not settled); positions into the model.
    pub fn layout_steps(&mut self, max: usize) {
        self.model.settle(&mut self.layout, max);
    }

    fn ingest(&mut self) {
        let (frames, dropped) = match self.air.lock() {
            Ok(mut q) => (std::mem::take(&mut q.frames), q.dropped),
            Err(_) => (VecDeque::new(), 0),
        };
        self.model.stats.ingest_dropped = dropped;
        let events: Vec<_> = self.sim.drain_events().collect();
        // Medium and node events first: links heard and RSSI at the host come from them.
        let host_key = u64::from(self.model.host);
        let mut host_rssi: BTreeMap<(u32, Instant), i8> = BTreeMap::new();
        let mut config = Vec::new();
        for ev in events {
            if !config.is_empty()
                && !matches!(
                    ev,
                    SimEvent::Station {
                        event: StationEvent::Config(_),
                        ..
                    }
                )
            {
                self.config_notices(&std::mem::take(&mut config));
            }
            match ev {
                SimEvent::Rx {
                    at,
                    from,
                    to,
                    rssi,
                    channel,
                } => {
                    let (f, t) = (self.key(from.0), self.key(to.0));
                    if f == 0 {
                        if to.index() == self.host_index {
                            host_rssi.insert((from.0, at), rssi);
                            self.heard_device(from.index(), rssi, at);
                        }
                        continue;
                    }
                    if t == 0 {
                        continue;
                    }
                    self.model.topology.heard(f, t, Some(rssi), at);
                    if t == host_key {
                        host_rssi.insert((from.0, at), rssi);
                    }
                    if channel == weft_radio::sim::ADV_CHANNELS[0]
                        || !self.model.hops.iter().any(|h| {
                            h.from == f && h.to == t && at.saturating_since(h.at) < HOP_ANIMATION
                        })
                    {
                        self.model.hops.push(Hop { from: f, to: t, at });
                    }
                }
                SimEvent::Drop { reason, .. } => {
                    let r = match reason {
                        RadioDrop::Loss => "radio_loss",
                        RadioDrop::Collision => "radio_collision",
                        RadioDrop::NotListening => "radio_not_listening",
                        RadioDrop::HalfDuplex => "radio_half_duplex",
                        RadioDrop::BelowSensitivity => "radio_below_sensitivity",
                    };
                    *self.model.stats.drops.entry(r.into()).or_default() += 1;
                }
                SimEvent::Tx { .. } | SimEvent::Link { .. } => {}
                // The host's Configuration Client, in runs: a notice can say a run finished a
                // configuration.
                SimEvent::Station {
                    event: StationEvent::Config(e),
                    ..
                } => {
                    config.push(e);
                    continue;
                }
                SimEvent::Station {
                    event: StationEvent::Node(event),
                    ..
                } => self.model.node_event(&event),
                SimEvent::Station {
                    event: StationEvent::Provisioner(e),
                    ..
                } => self.provisioner_event(e),
                SimEvent::Station {
                    node,
                    event: StationEvent::Provisioned { uuid, address },
                    ..
                } => self.became_node(node.index(), uuid, address),
                SimEvent::Station { .. } => {}
            }
        }
        if !config.is_empty() {
            self.config_notices(&config);
        }
        for f in frames {
            self.decode(f, &host_rssi);
        }
    }

    fn key(&self, node: u32) -> NodeKey {
        u64::from(self.addrs.get(node as usize).copied().unwrap_or(0))
    }

    /// The host heard an unprovisioned device (its beacons or its provisioning link).
    fn heard_device(&mut self, i: usize, rssi: i8, at: Instant) {
        let Some(uuid) = self.sim.node(NodeId(i as u32)).unprovisioned_uuid() else {
            return;
        };
        let name = self.names.get(i).cloned().unwrap_or_default();
        match self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            Some(d) => {
                d.rssi = Some(rssi);
                d.last_heard = at;
            }
            None => self.model.unprovisioned.push(UnprovisionedDevice {
                uuid,
                name,
                rssi: Some(rssi),
                last_heard: at,
                state: "waiting".into(),
            }),
        }
    }

    /// Progress of a provisioning started with `P`, into the status line.
    fn provisioner_event(&mut self, e: ProvisionerEvent) {
        if let ProvisionerEvent::Session {
            event: SessionEvent::Complete(p),
            ..
        } = &e
        {
            // The host station configures it next (its Configuration Client).
            let a = p.data.unicast_address.get();
            self.sniffer
                .keyring_mut()
                .add_dev_key(Address(a), p.device_key);
        }
        self.model.provisioning_progress(&e);
    }

    /// A device provisioned is a node now: it joins the topology and the node table.
    fn became_node(&mut self, i: usize, uuid: [u8; 16], address: u16) {
        if let Some(a) = self.addrs.get_mut(i) {
            *a = address;
        }
        self.index.insert(address, i);
        let name = self.names.get(i).cloned();
        let elements = self
            .sim
            .node(NodeId(i as u32))
            .as_node()
            .map(|n| n.state().elements.len() as u8);
        let position = self.sim.position(NodeId(i as u32));
        let n = self.model.topology.node_mut(u64::from(address));
        n.name = name;
        n.uuid = Some(uuid);
        n.elements = elements;
        n.position = position.map(|(x, y)| (x, -y));
        self.model.unprovisioned.retain(|d| d.uuid != uuid);
    }

    /// Provisions the unprovisioned device `uuid` from the host, with the next free address.
    pub fn provision(&mut self, uuid: [u8; 16]) -> Result<u16, String> {
        let now = self.sim.now();
        let a = self
            .sim
            .node_mut(NodeId(self.host_index as u32))
            .provision(now, uuid)?;
        let name = self.model.device_name(uuid);
        if let Some(d) = self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            d.state = "opening link".into();
        }
        self.model
            .notify(format!("provisioning {name} as {a:04x}: opening the link"));
        Ok(a)
    }

    /// Configures the node at `address` from the host: `op` on its first server model with
    /// application key 0; the status arrives in the status line.
    pub fn configure(&mut self, address: u16, op: ConfigOp) -> Result<(), String> {
        let &i = self
            .index
            .get(&address)
            .ok_or_else(|| format!("no node {address:04x}"))?;
        let target =
            UnicastAddress::new(address).ok_or_else(|| format!("no node {address:04x}"))?;
        let node = self
            .sim
            .node(NodeId(i as u32))
            .as_node()
            .ok_or("not provisioned")?;
        if let Some(request) = op.node_message() {
            return self
                .sim
                .node_mut(NodeId(self.host_index as u32))
                .config_request(target, request);
        }
        let (e, model) = node
            .state()
            .elements
            .iter()
            .enumerate()
            .find_map(|(e, el)| {
                el.models
                    .iter()
                    .find(|m| SUBSCRIBE_MODELS.contains(&m.id))
                    .map(|m| (e, m.id))
            })
            .ok_or_else(|| format!("{address:04x} has no server model to configure"))?;
        let element = Address(address + e as u16);
        let request = config_message(op, element, model);
        // A new request replaces what was still queued for the node.
        self.sim
            .node_mut(NodeId(self.host_index as u32))
            .config_request(target, request)
    }

    /// A run of the host's Configuration Client events, into the status line.
    fn config_notices(&mut self, events: &[ConfigClientEvent]) {
        let name = |a: u16| {
            self.index
                .get(&a)
                .and_then(|&i| self.names.get(i))
                .cloned()
                .unwrap_or_default()
        };
        let notices = config_notices(events, name);
        for text in notices {
            self.model.notify(text);
        }
    }

    fn decode(&mut self, f: AirRec, host_rssi: &BTreeMap<(u32, Instant), i8>) {
        let transmitter = self.addrs.get(f.node as usize).copied().unwrap_or(0);
        self.model.stats.pdus += 1;
        self.tally.count(f.start);
        // The host hears the frame (on its channel) at the end of the PDU.
        let end = f.start + weft_radio::sim::adv_airtime(f.bytes.len());
        // It may have heard this advertising event on any of the three channels.
        let rssi = host_rssi
            .range((f.node, end)..(f.node, end + Duration::from_millis(3)))
            .next()
            .map(|(_, r)| *r);
        let decoded = self.sniffer.handle_ad(&f.bytes);
        let mut e = TrafficEntry::heard(f.start, transmitter, rssi, "nothing decodable");
        for d in decoded {
            match d {
                Decoded::Network(n) => {
                    e.src = Some(n.pdu.src.0);
                    e.dst = Some(n.pdu.dst.0);
                    e.ttl = Some(n.pdu.ttl);
                    e.seq = Some(n.pdu.seq.get());
                    if n.pdu.src.0 != transmitter {
                        e.relayed_by = Some(transmitter);
                    }
                    let node = self.model.topology.node_mut(u64::from(n.pdu.src.0));
                    node.seq = Some(node.seq.map_or(n.pdu.seq.get(), |s| s.max(n.pdu.seq.get())));
                }
                other => {
                    let beacon = matches!(other, Decoded::Beacon(_));
                    if let Some((src, ModelMessage::Health(h))) =
                        describe_into(&mut e, &mut self.model.stats, other).message
                    {
                        self.note_faults(src, &h);
                    }
                    if beacon {
                        // An unprovisioned device has no address yet.
                        e.src = (transmitter != 0).then_some(transmitter);
                    }
                }
            }
        }
        finish_entry(&mut e, &mut self.model.stats);
        self.tally.log(&mut self.model, transmitter, e);
    }

    fn note_faults(&mut self, src: u16, h: &weft_mesh::ble::foundation::health::HealthMessage) {
        use weft_mesh::ble::foundation::health::HealthMessage as H;
        if let H::CurrentStatus(r) | H::FaultStatus(r) = h {
            self.faults.insert(src, r.faults.clone());
        }
    }

    /// The configuration of the node at `address`, from its state in the simulator.
    pub fn detail(&self, address: u16) -> Option<NodeDetail> {
        let &i = self.index.get(&address)?;
        let node = self.sim.node(NodeId(i as u32)).as_node()?;
        let mut d = detail_of(node);
        d.name = self.names.get(i).cloned().unwrap_or_default();
        d.faults = self.faults.get(&address).cloned();
        Some(d)
    }

    /// Sends `message` from the host node to `dst` with application key 0, now.
    pub fn send(&mut self, dst: u16, message: AccessMessage) -> bool {
        let now = self.sim.now();
        let cmd = Command::send(Address(dst), KeyRef::App(0), message);
        self.sim
            .node_mut(NodeId(self.host_index as u32))
            .as_node_mut()
            .is_some_and(|n| n.handle_command(now, cmd))
    }

    /// Starts writing every frame on the air to a pcapng file at `path`.
    pub fn start_capture(&mut self, path: &Path) -> Result<(), String> {
        let file =
            CaptureFile::create(path, weft_radio::Caps::ADVERTISING).map_err(|e| e.to_string())?;
        if let Ok(mut c) = self.capture.lock() {
            *c = TapCapture {
                file: Some(file),
                failed: None,
            };
        }
        self.model.capture = Some(path.display().to_string());
        Ok(())
    }

    /// Stops the capture; the file written, or why it failed.
    pub fn stop_capture(&mut self) -> Option<Result<PathBuf, String>> {
        self.model.capture = None;
        let mut c = self.capture.lock().ok()?;
        if let Some(e) = c.failed.take() {
            return Some(Err(e));
        }
        Some(c.file.take()?.finish().map_err(|e| e.to_string()))
    }

    /// The virtual time of the simulation.
    pub fn now(&self) -> Instant {
        self.sim.now()
    }

    /// Which of the node's server states changed last, for tests.
    pub fn onoff_of(&self, address: u16) -> Option<bool> {
        let &i = self.index.get(&address)?;
        self.sim.node(NodeId(i as u32)).as_node()?.onoff(0)
    }
}

/// What a provisioning event means for the device, in a few words (the inspector's status
/// line and Unprovisioned tab), or `None` for events that say nothing new.
pub(super) fn provisioning_step(e: &ProvisionerEvent) -> Option<([u8; 16], String)> {
    Some(match e {
        ProvisionerEvent::Beacon(_) => return None,
        ProvisionerEvent::LinkOpened { device_uuid } => (*device_uuid, "link opened".into()),
        ProvisionerEvent::Session { device_uuid, event } => match event {
            SessionEvent::Capabilities(_) => (*device_uuid, "capabilities received".into()),
            SessionEvent::Started(_) => (*device_uuid, "started (No OOB)".into()),
            SessionEvent::Complete(p) => (
                *device_uuid,
                format!(
                    "complete: address {:04x}; configuring",
                    p.data.unicast_address.get()
                ),
            ),
            SessionEvent::Failed(f) => (*device_uuid, format!("failed: {f:?}")),
            _ => return None,
        },
        ProvisionerEvent::LinkClosed { device_uuid, .. } => (*device_uuid, "link closed".into()),
    })
}
