//! A smart home on the simulated air: a motion sensor in the hall switches the living-room
//! lights three hops away, through two relays, by publishing Generic OnOff to a group.
//!
//! Built from the public APIs only: `weft_mesh::ble::node::Node` for each device and
//! `weft_radio::sim::Simulator` for the air between them.
//!
//! `cargo run -p weft-examples --example smart_home`

use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet};
use weft_mesh::ble::models::ModelId;
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelState, Node, NodeState, StateChange,
};
use weft_mesh::ble::{Address, IvIndex, UnicastAddress};
use weft_mesh::Instant;
use weft_radio::sim::{station_rng, NodeId, Placement, SimConfig, SimEvent, Simulator};

const NET_KEY: [u8; 16] = *b"smart-home netky";
const APP_KEY: [u8; 16] = *b"smart-home appky";
const LIVING_ROOM: Address = Address(0xC001);

/// A provisioned, configured device: the app key bound to its models, servers subscribed to
/// the living-room group.
fn device(address: u16, relay: bool, models: &[ModelId]) -> NodeState {
    let mut element_models = vec![ModelState::new(ModelId::CONFIG_SERVER)];
    for &id in models {
        let mut m = ModelState::new(id);
        m.app_keys.push(0);
        if id == ModelId::GENERIC_ONOFF_SERVER {
            m.subscriptions.push(LIVING_ROOM);
        }
        element_models.push(m);
    }
    let mut st = NodeState::new(
        [address as u8; 16],
        UnicastAddress::new(address).expect("unicast"),
        [address as u8; 16],
        NET_KEY,
        IvIndex(0),
        vec![ElementState {
            location: 0x0100,
            models: element_models,
        }],
    );
    st.relay = relay;
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: APP_KEY,
        new_key: None,
    });
    st
}

fn main() {
    // About 68 m of radio range: each device hears only its neighbours 40 m away.
    let mut sim = Simulator::new(
        SimConfig {
            loss: 0.05,
            ..SimConfig::default()
        },
        7,
    );
    let layout = [
        (
            "motion sensor",
            0x0010,
            false,
            vec![ModelId::GENERIC_ONOFF_CLIENT],
            0.0,
        ),
        ("hall relay", 0x0020, true, vec![], 40.0),
        ("stairs relay", 0x0021, true, vec![], 80.0),
        (
            "living-room light 1",
            0x0030,
            false,
            vec![ModelId::GENERIC_ONOFF_SERVER],
            120.0,
        ),
        (
            "living-room light 2",
            0x0031,
            false,
            vec![ModelId::GENERIC_ONOFF_SERVER],
            125.0,
        ),
    ];
    let mut names = Vec::new();
    for (i, (name, addr, relay, models, x)) in layout.iter().enumerate() {
        let node = Node::new(device(*addr, *relay, models), station_rng(7, i as u64));
        sim.add_node(node, Placement::At { x: *x, y: 0.0 });
        names.push(*name);
    }
    // Motion at 2 s switches the lights on, quiet at 30 s switches them off.
    for (tid, (t, on)) in [(2_000_000u64, true), (30_000_000, false)]
        .into_iter()
        .enumerate()
    {
        let message = GenericMessage::OnOffSetUnacknowledged(OnOffSet {
            on,
            tid: tid as u8,
            transition: None,
        })
        .to_access();
        let send = Command::send(LIVING_ROOM, KeyRef::App(0), message);
        sim.schedule(Instant::from_micros(t), NodeId(0), move |n, now| {
            n.handle_command(now, send);
        });
    }
    sim.run_until(Instant::from_micros(40_000_000));
    for ev in sim.drain_events() {
        if let SimEvent::Station { at, node, event } = ev {
            let who = names[node.0 as usize];
            match event {
                Event::State {
                    change: StateChange::OnOff(on),
                    ..
                } => {
                    println!("{at}  {who}: light {}", if on { "ON" } else { "off" })
                }
                Event::Relayed { src, dst, ttl, .. } => {
                    println!("{at}  {who}: relayed {src} -> {dst} (ttl now {ttl})")
                }
                Event::Access { src, ttl, .. } if names[node.0 as usize].starts_with("living") => {
                    println!(
                        "{at}  {who}: OnOff from {src}, {} hops",
                        7u8.saturating_sub(ttl) + 1
                    )
                }
                _ => {}
            }
        }
    }
    let s = sim.stats();
    println!(
        "\n{} advertising PDUs sent, {} received, {} lost",
        s.frames_sent, s.delivered, s.dropped.loss
    );
}
