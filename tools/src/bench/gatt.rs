//! `weft bench gatt`: the GATT bearer in the simulator, in virtual time. PB-GATT provisioning
//! of one device (a provisioner node connecting to its Mesh Provisioning Service, MshPRT
//! §5.2.2) against PB-ADV (§5.2.1) over the same seeds, and a proxy client's Generic OnOff Set
//! to Status round trip (MshMDL §3.2.1.2) through one proxy node to a node 1, 3 and 6
//! advertising hops behind it. Medians over the seed set; the same seeds for every figure.

use serde_json::{json, Value};
use weft_mesh::ble::address::{Address, IvIndex, UnicastAddress};
use weft_mesh::ble::cdb::{Cdb, CdbNode};
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelId, ModelState, Node, NodeState,
};
use weft_mesh::ble::prov::{Device, DeviceConfig};
use weft_mesh::ble::proxy::{ProxyClient, ProxyClientEvent};
use weft_mesh::ble::station::{DeviceNode, DeviceProfile, ProvisionerNode};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::beacon::OobInformation;
use weft_mesh::ble::wire::prov::{Algorithms, Capabilities};
use weft_mesh::{Duration, Instant};
use weft_radio::sim::{station_rng, Link, NodeId, Placement, SimConfig, SimEvent, Simulator};

use crate::sim::{ScenarioStation, StationEvent};

const UUID: [u8; 16] = *b"weft-bench-gatt!";
const CLIENT: u16 = 0x7f00;
/// Give up on one run after this much virtual time.
const LIMIT: Duration = Duration::from_secs(120);

type Sim = Simulator<ScenarioStation>;

fn sim(seed: u64) -> Sim {
    Simulator::new(
        SimConfig {
            medium_events: false,
            ..SimConfig::default()
        },
        seed,
    )
}

fn link(sim: &mut Sim, a: NodeId, b: NodeId) {
    sim.set_link(
        a,
        b,
        Link {
            rssi_dbm: -60,
            loss: 0.0,
        },
    );
}

/// A node at `addr` with the Configuration Server, a Generic OnOff Server and Client on
/// AppKey 0, relaying; the GATT Proxy feature when `proxy`.
fn state(addr: u16, proxy: bool) -> NodeState {
    let bound = |id| {
        let mut m = ModelState::new(id);
        m.app_keys.push(0);
        m
    };
    let mut st = NodeState::new(
        [addr as u8; 16],
        UnicastAddress::new(addr).expect("unicast"),
        [addr as u8; 16],
        [0x11; 16],
        IvIndex(0),
        vec![ElementState {
            location: 0x0100,
            models: vec![
                ModelState::new(ModelId::CONFIG_SERVER),
                bound(ModelId::GENERIC_ONOFF_SERVER),
                bound(ModelId::GENERIC_ONOFF_CLIENT),
            ],
        }],
    );
    st.relay = true;
    st.default_ttl = 10;
    st.gatt_proxy = Some(proxy);
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: [0x22; 16],
        new_key: None,
    });
    st
}

/// One device provisioned by a provisioner node next to it: over PB-GATT with the device's
/// ATT MTU `mtu`, or over PB-ADV (`None`). Virtual seconds until the device is a node.
pub fn provision_once(seed: u64, mtu: Option<u16>) -> Option<f64> {
    let mut sim = sim(seed);
    let me = state(1, false);
    let mut cdb = Cdb::new([0; 16], "bench", "");
    cdb.nodes.push(CdbNode::from_node_state(&me, None));
    let prov = ProvisionerNode::new(
        Node::new(me, station_rng(seed, 0)),
        station_rng(seed, 1),
        cdb,
    );
    let p = sim.add_node(ScenarioStation::Provisioner(prov), Placement::Unplaced);
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
            location: 0x0100,
            models: vec![ModelState::new(ModelId::CONFIG_SERVER)],
        }],
        relay: false,
        default_ttl: None,
    };
    let d = sim.add_node(
        ScenarioStation::Device(DeviceNode::new(device, profile, station_rng(seed, 3))),
        Placement::Unplaced,
    );
    link(&mut sim, p, d);
    let peer = sim.address_of(d);
    if let Some(mtu) = mtu {
        sim.set_gatt_mtu(p, 517);
        sim.set_gatt_mtu(d, mtu);
    }
    sim.schedule(Instant::ZERO, p, move |s, now| {
        if let ScenarioStation::Provisioner(p) = s {
            let started = match mtu {
                Some(_) => p.provision_gatt_to(UUID, Some(peer), None).is_ok(),
                None => p.provision(now, UUID, None).is_ok(),
            };
            debug_assert!(started);
        }
    });
    let mut t = Instant::ZERO;
    while t < Instant::ZERO + LIMIT {
        t += Duration::from_millis(20);
        sim.run_until(t);
        for ev in sim.drain_events() {
            if let SimEvent::Station {
                at,
                event: StationEvent::Provisioned { .. },
                ..
            } = ev
            {
                return Some(at.as_micros() as f64 / 1e6);
            }
        }
    }
    None
}

/// A proxy client connected to a proxy node with `hops` nodes in a line behind it: the
/// milliseconds from the client's Generic OnOff Set (acknowledged) to the far node's Status
/// at the client, once its filter is set up.
pub fn round_trip_once(seed: u64, hops: usize) -> Option<f64> {
    let mut sim = sim(seed);
    let ids: Vec<NodeId> = (0..=hops)
        .map(|i| {
            let st = state(1 + i as u16, i == 0);
            sim.add_node(
                ScenarioStation::node(Node::new(st, station_rng(seed, i as u64))),
                Placement::Unplaced,
            )
        })
        .collect();
    for w in ids.windows(2) {
        link(&mut sim, w[0], w[1]);
    }
    let mut client = ProxyClient::new(Node::new(state(CLIENT, false), station_rng(seed, 99)));
    client.connect_to(sim.address_of(ids[0]));
    let c = sim.add_node(ScenarioStation::Client(client), Placement::Unplaced);
    link(&mut sim, c, ids[0]);
    let far = 1 + hops as u16;
    let mut sent: Option<Instant> = None;
    let mut t = Instant::ZERO;
    while t < Instant::ZERO + LIMIT {
        t += Duration::from_millis(5);
        sim.run_until(t);
        let events: Vec<_> = sim.drain_events().collect();
        for ev in events {
            let SimEvent::Station { at, node, event } = ev else {
                continue;
            };
            match event {
                StationEvent::Proxy(ProxyClientEvent::FilterStatus { .. }) if sent.is_none() => {
                    sent = Some(at);
                    sim.schedule(at, node, move |s, now| {
                        let set = Command::Send {
                            element: 0,
                            dst: Address(far),
                            label: None,
                            key: KeyRef::App(0),
                            net_index: 0,
                            ttl: None,
                            message: AccessMessage::new(Opcode::Two(0x8202), vec![1, 7]),
                        };
                        if let Some(n) = s.as_node_mut() {
                            n.handle_command(now, set);
                        }
                    });
                }
                StationEvent::Node(Event::Access { src, message, .. })
                    if node == c
                        && src == Address(far)
                        && message.opcode == Opcode::Two(0x8204) =>
                {
                    let t0 = sent?;
                    return Some((at - t0).as_micros() as f64 / 1000.0);
                }
                _ => {}
            }
        }
    }
    None
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Every figure over seeds `first..first + seeds`.
pub fn run(seeds: u64, first: u64) -> Value {
    let seeds: Vec<u64> = (first..first + seeds).collect();
    let figure = |f: &dyn Fn(u64) -> Option<f64>, scale: f64| {
        let got: Vec<f64> = seeds.iter().filter_map(|&s| f(s)).collect();
        json!({
            "median": median(&got).map(|m| (m * scale).round() / scale),
            "ok": got.len(),
            "of": seeds.len(),
        })
    };
    json!({
        "seeds": seeds.len(),
        "first_seed": first,
        "provision_virtual_s": {
            "pb_adv": figure(&|s| provision_once(s, None), 1000.0),
            "pb_gatt_mtu23": figure(&|s| provision_once(s, Some(23)), 1000.0),
            "pb_gatt_mtu69": figure(&|s| provision_once(s, Some(69)), 1000.0),
        },
        "onoff_round_trip_ms": {
            "hops_1": figure(&|s| round_trip_once(s, 1), 10.0),
            "hops_3": figure(&|s| round_trip_once(s, 3), 10.0),
            "hops_6": figure(&|s| round_trip_once(s, 6), 10.0),
        },
    })
}
