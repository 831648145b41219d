//! Industrial telemetry: sensors report segmented Sensor Status messages (four properties, too
//! long for one PDU) to a gateway through a line of relays over lossy links, and the
//! gateway's application reads the values.
//!
//! `cargo run -p weft-examples --example industrial`

use weft_mesh::ble::models::sensor::{SensorMessage, SensorValue};
use weft_mesh::ble::models::{ModelId, ModelMessage};
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelState, Node, NodeState,
};
use weft_mesh::ble::{Address, IvIndex, UnicastAddress};
use weft_mesh::Instant;
use weft_radio::sim::{station_rng, NodeId, Placement, SimConfig, SimEvent, Simulator};

const NET_KEY: [u8; 16] = *b"factory floor nk";
const APP_KEY: [u8; 16] = *b"factory floor ak";
const GATEWAY: u16 = 0x0001;

fn device(address: u16, relay: bool, model: Option<ModelId>) -> NodeState {
    let mut models = vec![ModelState::new(ModelId::CONFIG_SERVER)];
    if let Some(id) = model {
        let mut m = ModelState::new(id);
        m.app_keys.push(0);
        models.push(m);
    }
    let mut st = NodeState::new(
        [address as u8; 16],
        UnicastAddress::new(address).expect("unicast"),
        [address as u8; 16],
        NET_KEY,
        IvIndex(0),
        vec![ElementState {
            location: 0x0100,
            models,
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
    let mut sim = Simulator::new(
        SimConfig {
            loss: 0.2,
            ..SimConfig::default()
        },
        3,
    );
    let mut i = 0u64;
    let mut add = |sim: &mut Simulator<_>, st: NodeState, x: f64, y: f64| {
        let id = sim.add_node(Node::new(st, station_rng(3, i)), Placement::At { x, y });
        i += 1;
        id
    };
    add(
        &mut sim,
        device(GATEWAY, false, Some(ModelId::SENSOR_CLIENT)),
        0.0,
        0.0,
    );
    for r in 0..4u16 {
        add(
            &mut sim,
            device(0x0100 + r, true, None),
            45.0 * f64::from(r + 1),
            0.0,
        );
    }
    let mut sensors = Vec::new();
    for s in 0..8u16 {
        let x = 45.0 * f64::from(s % 4 + 1);
        let y = if s % 2 == 0 { 25.0 } else { -25.0 };
        sensors.push(add(
            &mut sim,
            device(0x0200 + s, false, Some(ModelId::SENSOR_SERVER)),
            x,
            y,
        ));
    }
    // Every sensor reports every 20 s, staggered.
    for (k, &id) in sensors.iter().enumerate() {
        for round in 0..3u64 {
            let values = vec![
                SensorValue::ambient_temperature(20.0 + k as f64),
                SensorValue::motion_sensed(if round % 2 == 0 { 0.0 } else { 100.0 }),
                SensorValue::PeopleCount(Some(k as u16 + round as u16)),
                SensorValue::device_operating_temperature(40.0 + k as f64 / 4.0),
            ];
            let message =
                SensorMessage::Status(values.iter().map(|v| v.to_sensor_data()).collect())
                    .to_access();
            let send = Command::send(Address(GATEWAY), KeyRef::App(0), message);
            let at = Instant::from_micros(1_000_000 + round * 20_000_000 + k as u64 * 1_500_000);
            sim.schedule(at, id, move |n, now| {
                n.set_sensor_values(0, values);
                n.handle_command(now, send);
            });
        }
    }
    sim.run_until(Instant::from_micros(70_000_000));
    let (mut ok, mut failed, mut received) = (0, 0, 0);
    for ev in sim.drain_events() {
        let SimEvent::Station { at, node, event } = ev else {
            continue;
        };
        match event {
            Event::Access { src, message, .. } if node == NodeId(0) => {
                received += 1;
                if let Ok(ModelMessage::Sensor(m)) =
                    ModelMessage::parse(message.opcode, &message.parameters)
                {
                    println!("{at}  gateway <- {src}: {}", m.describe());
                }
            }
            Event::Sar { outcome: None, .. } => ok += 1,
            Event::Sar {
                outcome: Some(e),
                dst,
                ..
            } => {
                failed += 1;
                println!("{at}  segmented message to {dst} failed: {e:?}");
            }
            _ => {}
        }
    }
    println!(
        "\n{received} reports received; segmented transfers: {ok} acknowledged, {failed} failed"
    );
}
