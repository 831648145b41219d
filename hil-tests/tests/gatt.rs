//! The GATT bearer on the simulated air with weft-mesh's own stations: PB-GATT provisioning
//! (a `ProvisionerNode` connecting to a `DeviceNode`'s Mesh Provisioning Service) and a Proxy
//! Client reaching far nodes through one Proxy Server, for hundreds of seeds; and the bad
//! input a proxy connection meets (a proxy that disconnects mid-message, malformed Proxy PDUs,
//! MTU 23), counted and never a panic.

use rand_chacha::ChaCha8Rng;
use weft_mesh::ble::address::{Address, IvIndex, UnicastAddress};
use weft_mesh::ble::cdb::{Cdb, CdbNode};
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelId, ModelState, Node, NodeState,
};
use weft_mesh::ble::prov::{Device, DeviceConfig, DeviceEvent, SessionEvent};
use weft_mesh::ble::proxy::{ProxyClient, ProxyClientEvent};
use weft_mesh::ble::station::{
    DeviceNode, DeviceNodeEvent, DeviceProfile, ProvisionerNode, ProvisionerNodeEvent,
};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::beacon::OobInformation;
use weft_mesh::ble::wire::prov::{Algorithms, Capabilities};
use weft_mesh::{
    Connectable, DisconnectReason, Instant, LinkEvent, LinkRequest, RxFrame, Station, TxFrame,
};
use weft_radio::sim::{station_rng, Link, NodeId, Placement, SimConfig, SimEvent, Simulator};

const NET_KEY: [u8; 16] = [0x11; 16];
const APP_KEY: [u8; 16] = [0x22; 16];
const UUID: [u8; 16] = *b"weft-gatt-device";
/// The Proxy Client's address.
const CLIENT: u16 = 0x7f00;

type Rng = ChaCha8Rng;

/// Any of the stations these scenarios put on the air.
#[allow(clippy::large_enum_variant)]
enum St {
    Node(Node<Rng>),
    /// The client, and raw values to write before its own.
    Client(ProxyClient<Rng>, Vec<TxFrame>),
    Provisioner(ProvisionerNode<Rng>),
    Device(DeviceNode<Rng>),
}

/// What they report.
#[derive(Debug, Clone)]
enum Ev {
    Node(Event),
    Client(ProxyClientEvent),
    Provisioner(ProvisionerNodeEvent),
    Device(DeviceNodeEvent),
}

macro_rules! each {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            St::Node($x) => $e,
            St::Client($x, _) => $e,
            St::Provisioner($x) => $e,
            St::Device($x) => $e,
        }
    };
}

impl Station for St {
    type Event = Ev;
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        each!(self, s => s.handle_frame(now, frame))
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        if let St::Client(_, raw) = self {
            if !raw.is_empty() {
                return Some(raw.remove(0));
            }
        }
        each!(self, s => s.poll_transmit(now))
    }
    fn poll_event(&mut self) -> Option<Ev> {
        match self {
            St::Node(s) => s.poll_event().map(Ev::Node),
            St::Client(s, _) => s.poll_event().map(Ev::Client),
            St::Provisioner(s) => s.poll_event().map(Ev::Provisioner),
            St::Device(s) => s.poll_event().map(Ev::Device),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        each!(self, s => s.poll_timeout())
    }
    fn handle_timeout(&mut self, now: Instant) {
        each!(self, s => s.handle_timeout(now))
    }
    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        each!(self, s => s.handle_link(now, event))
    }
    fn poll_link(&mut self) -> Option<LinkRequest> {
        each!(self, s => s.poll_link())
    }
    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        each!(self, s => s.connectable(now))
    }
}

/// A provisioned node at `addr`: Configuration Server and Generic OnOff Server (AppKey 0),
/// relaying, GATT Proxy on when `proxy`.
fn state(addr: u16, proxy: bool) -> NodeState {
    let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
    onoff.app_keys.push(0);
    let mut client = ModelState::new(ModelId::GENERIC_ONOFF_CLIENT);
    client.app_keys.push(0);
    let mut st = NodeState::new(
        [addr as u8; 16],
        UnicastAddress::new(addr).unwrap(),
        [addr as u8; 16],
        NET_KEY,
        IvIndex(0x100),
        vec![ElementState {
            location: 0,
            models: vec![ModelState::new(ModelId::CONFIG_SERVER), onoff, client],
        }],
    );
    st.relay = true;
    st.gatt_proxy = Some(proxy);
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: APP_KEY,
        new_key: None,
    });
    st
}

fn link(sim: &mut Simulator<St>, a: NodeId, b: NodeId, loss: f64) {
    sim.set_link(
        a,
        b,
        Link {
            rssi_dbm: -60,
            loss,
        },
    );
}

fn quiet_config() -> SimConfig {
    SimConfig {
        medium_events: false,
        ..SimConfig::default()
    }
}

/// PB-GATT: a provisioner node connects to the device's Mesh Provisioning Service and
/// provisions it. Returns when the device is provisioned and both sides saw the link close
/// (virtual time), or why not.
fn provision_gatt(seed: u64, mtu: u16, loss: f64) -> Result<Instant, String> {
    let mut sim = Simulator::new(quiet_config(), seed);
    let pst = state(1, false);
    let mut cdb = Cdb::new([0; 16], "gatt", "");
    cdb.nodes = vec![CdbNode::from_node_state(&pst, None)];
    let prov = ProvisionerNode::new(
        Node::new(pst, station_rng(seed, 0)),
        station_rng(seed, 1),
        cdb,
    );
    let p = sim.add_node(St::Provisioner(prov), Placement::Unplaced);
    let caps = Capabilities::no_oob(1, Algorithms(Algorithms::P256_CMAC_AES128));
    let device = Device::new(
        station_rng(seed, 2),
        UUID,
        OobInformation(0),
        None,
        DeviceConfig::new(caps),
    );
    let profile = DeviceProfile {
        elements: vec![ElementState {
            location: 0,
            models: vec![ModelState::new(ModelId::CONFIG_SERVER)],
        }],
        relay: false,
        default_ttl: None,
    };
    let d = sim.add_node(
        St::Device(DeviceNode::new(device, profile, station_rng(seed, 3))),
        Placement::Unplaced,
    );
    link(&mut sim, p, d, loss);
    sim.set_gatt_mtu(p, 517);
    sim.set_gatt_mtu(d, mtu);
    let peer = sim.address_of(d);
    sim.schedule(Instant::ZERO, p, move |s, _| {
        if let St::Provisioner(p) = s {
            p.provision_gatt_to(UUID, Some(peer), None).expect("starts");
        }
    });
    let (mut done, mut closed) = (None, [false; 2]);
    let step = weft_mesh::Duration::from_millis(100);
    let mut t = Instant::ZERO;
    while t < Instant::from_micros(60_000_000) && !(done.is_some() && closed == [true; 2]) {
        t += step;
        sim.run_until(t);
        for ev in sim.drain_events() {
            let SimEvent::Station { at, node, event } = ev else {
                continue;
            };
            match event {
                Ev::Device(DeviceNodeEvent::Provisioned { .. }) => done = Some(at),
                Ev::Provisioner(ProvisionerNodeEvent::Failed { reason, .. }) => {
                    return Err(format!("seed {seed}: failed: {reason}"))
                }
                Ev::Device(DeviceNodeEvent::Device(DeviceEvent::Session(
                    SessionEvent::Failed(f),
                ))) => return Err(format!("seed {seed}: device failed: {f:?}")),
                _ => {}
            }
            let _ = node;
        }
        // The connection closes once provisioning completes (§5.2.2).
        if done.is_some() && sim.gatt_connections().is_empty() {
            closed = [true; 2];
        }
    }
    let at = done.ok_or_else(|| format!("seed {seed}: not provisioned by {t}"))?;
    if closed != [true; 2] {
        return Err(format!("seed {seed}: the PB-GATT connection stayed open"));
    }
    let dev_mtu = sim.gatt_mtu(d);
    assert_eq!(dev_mtu, mtu);
    assert_eq!(sim.stats().gatt.rejected_oversize, 0, "seed {seed}");
    Ok(at)
}

#[test]
fn pb_gatt_provisions_for_200_seeds_at_mtu_23_and_69() {
    for mtu in [23, 69] {
        let mut times = Vec::new();
        for seed in 0..200 {
            times.push(provision_gatt(seed, mtu, 0.0).unwrap());
        }
        times.sort();
        assert!(
            times[100] < Instant::from_micros(10_000_000),
            "{:?}",
            times[100]
        );
    }
}

#[test]
fn pb_gatt_survives_a_lossy_link() {
    for seed in 0..50 {
        provision_gatt(seed, 23, 0.3).unwrap();
    }
}

/// A Proxy Client (no advertising bearer) linked only to the proxy node `ids[0]`, and `hops`
/// far nodes in a line behind it.
fn proxied(seed: u64, hops: usize, mtu: u16) -> (Simulator<St>, NodeId, Vec<NodeId>) {
    let mut sim = Simulator::new(quiet_config(), seed);
    let mut ids = Vec::new();
    for i in 0..=hops {
        let st = state(1 + i as u16, i == 0);
        ids.push(sim.add_node(
            St::Node(Node::new(st, station_rng(seed, i as u64))),
            Placement::Unplaced,
        ));
    }
    for w in ids.windows(2) {
        link(&mut sim, w[0], w[1], 0.0);
    }
    let client = ProxyClient::new(Node::new(state(CLIENT, false), station_rng(seed, 99)));
    let c = sim.add_node(St::Client(client, Vec::new()), Placement::Unplaced);
    link(&mut sim, c, ids[0], 0.0);
    sim.set_gatt_mtu(c, 517);
    sim.set_gatt_mtu(ids[0], mtu);
    let peer = sim.address_of(ids[0]);
    sim.schedule(Instant::ZERO, c, move |s, _| {
        if let St::Client(c, _) = s {
            c.connect_to(peer);
        }
    });
    (sim, c, ids)
}

/// Generic OnOff Set (acknowledged, MshMDL §3.2.1.2) from the client to `dst`.
fn onoff_set(dst: u16, tid: u8) -> Command {
    Command::Send {
        element: 0,
        dst: Address(dst),
        label: None,
        key: KeyRef::App(0),
        net_index: 0,
        ttl: None,
        message: AccessMessage::new(Opcode::Two(0x8202), vec![1, tid]),
    }
}

/// Sends an OnOff Set through the proxy once connected; returns the round trip (Set sent to
/// Status heard by the client).
fn round_trip(seed: u64, hops: usize, mtu: u16) -> Result<weft_mesh::Duration, String> {
    let (mut sim, _, ids) = proxied(seed, hops, mtu);
    let far = 1 + hops as u16;
    let mut sent = None;
    let mut far_heard = false;
    let mut t = Instant::ZERO;
    let step = weft_mesh::Duration::from_millis(10);
    while t < Instant::from_micros(30_000_000) {
        t += step;
        sim.run_until(t);
        let events: Vec<_> = sim.drain_events().collect();
        for ev in events {
            let SimEvent::Station { at, node, event } = ev else {
                continue;
            };
            match event {
                Ev::Client(ProxyClientEvent::FilterStatus { .. }) if sent.is_none() => {
                    sent = Some(at);
                    sim.schedule(at, node, move |s, now| {
                        if let St::Client(c, _) = s {
                            assert!(c.node_mut().handle_command(now, onoff_set(far, 1)));
                        }
                    });
                }
                // The far node heard the client's Set, relayed by the proxy.
                Ev::Node(Event::Access { src, .. }) if src == Address(CLIENT) => far_heard = true,
                Ev::Client(ProxyClientEvent::Node(Event::Access { src, message, .. }))
                    if src == Address(far) && message.opcode == Opcode::Two(0x8204) =>
                {
                    assert!(far_heard, "seed {seed}: a status before the set");
                    return Ok(at - sent.expect("sent"));
                }
                Ev::Client(ProxyClientEvent::ConnectFailed { .. }) => {
                    return Err(format!("seed {seed}: could not connect"))
                }
                _ => {}
            }
        }
    }
    let _ = ids;
    Err(format!(
        "seed {seed}: no status from {far:04x} through the proxy ({:?})",
        sim.stats().gatt
    ))
}

#[test]
fn a_proxied_message_is_answered_for_200_seeds() {
    for seed in 0..200 {
        round_trip(seed, 1 + (seed % 3) as usize, [23, 69][seed as usize % 2]).unwrap();
    }
}

/// The proxy node goes away mid-message (detached 3 ms after the client queued a message that
/// MTU 23 splits into two Proxy PDU segments): the client sees the link lost after the
/// supervision timeout and is left without a connection; nothing panics.
#[test]
fn a_proxy_lost_mid_message_is_a_counted_disconnect() {
    for seed in 0..20 {
        let (mut sim, c, ids) = proxied(seed, 1, 23);
        sim.run_until(Instant::from_micros(2_000_000));
        assert_eq!(sim.gatt_connections().len(), 1, "seed {seed}");
        // 10 octets of access payload: a 29-octet Proxy PDU, two segments at MTU 23.
        sim.schedule(sim.now(), c, |s, now| {
            if let St::Client(c, _) = s {
                let long = AccessMessage::new(Opcode::Two(0x8202), vec![1; 8]);
                let cmd = Command::Send {
                    element: 0,
                    dst: Address(2),
                    label: None,
                    key: KeyRef::App(0),
                    net_index: 0,
                    ttl: None,
                    message: long,
                };
                assert!(c.node_mut().handle_command(now, cmd));
            }
        });
        sim.run_until(sim.now() + weft_mesh::Duration::from_millis(3));
        sim.detach_node(ids[0]);
        sim.run_until(sim.now() + weft_mesh::Duration::from_secs(10));
        let lost = sim.drain_events().any(|e| {
            matches!(
                e,
                SimEvent::Station {
                    event: Ev::Client(ProxyClientEvent::Disconnected {
                        reason: DisconnectReason::LinkLoss,
                        ..
                    }),
                    ..
                }
            )
        });
        assert!(lost, "seed {seed}");
        let St::Client(client, _) = sim.node(c) else {
            unreachable!()
        };
        assert_eq!(client.connection(), None);
    }
}

/// Malformed Proxy PDUs written to the proxy (bad SAR sequences, unknown types, empty values,
/// a stranger's configuration message) are counted by the server, never a panic, and the
/// connection still carries a good message afterwards.
#[test]
fn malformed_proxy_pdus_are_counted() {
    let (mut sim, c, ids) = proxied(5, 1, 23);
    sim.run_until(Instant::from_micros(2_000_000));
    let St::Client(client, _) = sim.node(c) else {
        unreachable!()
    };
    let conn = client.connection().expect("connected");
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x80, 1, 2],       // continuation without a first segment
        vec![0xc0, 1, 2],       // last segment without a first
        vec![0x04, 9, 9, 9],    // reserved message type 4
        vec![0x42, 0, 0, 0, 0], // a configuration message no key opens
        vec![0x40, 1, 2, 3],    // first segment, then a new complete message
        vec![0x00, 1, 2, 3],
    ];
    let before = match sim.node(ids[0]) {
        St::Node(n) => n.proxy_counters(),
        _ => unreachable!(),
    };
    for v in bad {
        let frame = TxFrame {
            bearer: weft_mesh::Bearer::Gatt(conn),
            bytes: v,
        };
        inject(&mut sim, c, frame);
        sim.run_until(sim.now() + weft_mesh::Duration::from_millis(200));
    }
    let after = match sim.node(ids[0]) {
        St::Node(n) => n.proxy_counters(),
        _ => unreachable!(),
    };
    assert!(
        after.malformed + after.config_stranger > before.malformed + before.config_stranger + 3,
        "{before:?} -> {after:?}"
    );
    assert_eq!(sim.gatt_connections().len(), 1);
    // A good message still goes through and is answered.
    let far = 2u16;
    sim.schedule(sim.now(), c, move |s, now| {
        if let St::Client(c, _) = s {
            assert!(c.node_mut().handle_command(now, onoff_set(far, 9)));
        }
    });
    sim.run_until(sim.now() + weft_mesh::Duration::from_secs(3));
    let answered = sim.drain_events().any(|e| {
        matches!(e, SimEvent::Station { event: Ev::Client(ProxyClientEvent::Node(Event::Access { src, .. })), .. } if src == Address(far))
    });
    assert!(answered);
}

/// Puts `frame` on `node`'s connection as if its station had sent it (raw bytes, no SAR).
fn inject(sim: &mut Simulator<St>, node: NodeId, frame: TxFrame) {
    sim.schedule(sim.now(), node, move |s, _| {
        if let St::Client(_, raw) = s {
            raw.push(frame);
        }
    });
}

/// One seed replays a GATT run exactly; other seeds draw other connection intervals and
/// delays.
#[test]
fn a_seed_replays_exactly() {
    assert_eq!(provision_gatt(42, 23, 0.1), provision_gatt(42, 23, 0.1));
    assert_eq!(round_trip(42, 3, 23), round_trip(42, 3, 23));
    let times: std::collections::BTreeSet<_> = (0..10)
        .map(|s| provision_gatt(s, 23, 0.0).unwrap())
        .collect();
    assert!(times.len() > 5, "{times:?}");
}
