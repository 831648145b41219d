//! A scenario's traffic: the messages its flows send, scheduled on the simulator.

use super::*;

/// The access message a traffic entry sends, its `k`-th time.
pub fn traffic_message(name: &str, k: u64) -> AccessMessage {
    use weft_mesh::ble::models::generic::{GenericMessage, LevelSet, OnOffSet};
    use weft_mesh::ble::models::sensor::{SensorMessage, SensorValue};
    let tid = (k % 256) as u8;
    match name {
        "onoff-set" => GenericMessage::OnOffSet(OnOffSet {
            on: k.is_multiple_of(2),
            tid,
            transition: None,
        })
        .to_access(),
        "onoff-get" => GenericMessage::OnOffGet.to_access(),
        "level-set-unack" => GenericMessage::LevelSetUnacknowledged(LevelSet {
            level: ((k * 4096) % 65536) as u16 as i16,
            tid,
            transition: None,
        })
        .to_access(),
        "sensor-status" => SensorMessage::Status(vec![SensorValue::ambient_temperature(
            20.0 + (k % 10) as f64 / 2.0,
        )
        .to_sensor_data()])
        .to_access(),
        "sensor-status-large" => SensorMessage::Status(vec![
            SensorValue::ambient_temperature(21.5).to_sensor_data(),
            SensorValue::motion_sensed((k % 3) as f64 * 50.0).to_sensor_data(),
            SensorValue::PeopleCount(Some((k % 40) as u16)).to_sensor_data(),
            SensorValue::device_operating_temperature(45.25 + (k % 7) as f64).to_sensor_data(),
        ])
        .to_access(),
        _ => GenericMessage::OnOffSetUnacknowledged(OnOffSet {
            on: k.is_multiple_of(2),
            tid,
            transition: None,
        })
        .to_access(),
    }
}

/// The traffic a scenario schedules: for each (source, destination) flow, the nodes expected to
/// receive it and the receptions expected in all.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub expected: BTreeMap<(u16, u16), Vec<usize>>,
    pub sent: BTreeMap<(u16, u16), u64>,
}

/// Schedules the scenario's traffic on `sim` (nodes in plan order) in the window [`start`,
/// `end`), the scenario's times counted from `start`, with jitter drawn from `seed`: who sends
/// what to whom, when.
pub fn schedule_traffic(
    sim: &mut Simulator<ScenarioStation>,
    plan: &[PlannedNode],
    sc: &Scenario,
    seed: u64,
    start: Instant,
    end: Instant,
) -> Result<Traffic, RunError> {
    let span_us = end.as_micros().saturating_sub(start.as_micros());
    let by_name: HashMap<&str, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let addr_of = |i: usize| plan[i].address;
    let index_of_addr: HashMap<u16, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| (p.address, i))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7472_6166_6669_6300);
    let mut expected: BTreeMap<(u16, u16), Vec<usize>> = BTreeMap::new();
    let mut sent: BTreeMap<(u16, u16), u64> = BTreeMap::new();
    for t in &sc.traffic {
        let senders: Vec<usize> = match t.from.as_str() {
            set @ ("sensors" | "publishers") => (0..plan.len())
                .filter(|&i| plan[i].sets.contains(&set))
                .collect(),
            name => vec![*by_name
                .get(name)
                .ok_or_else(|| RunError::Usage(format!("traffic from unknown node '{name}'")))?],
        };
        let dst = match by_name.get(t.to.as_str()) {
            Some(&i) => addr_of(i),
            None => {
                if let Ok(g) = parse_group(&t.to) {
                    g
                } else {
                    crate::scenario::parse_unicast(&t.to)
                        .map_err(|e| RunError::Usage(format!("traffic to '{}': {e}", t.to)))?
                }
            }
        };
        for &s in &senders {
            let src = addr_of(s);
            let receivers: Vec<usize> = if dst & 0x8000 == 0 {
                index_of_addr.get(&dst).copied().into_iter().collect()
            } else {
                (0..plan.len())
                    .filter(|&i| i != s && plan[i].subscribe.contains(&dst))
                    .collect()
            };
            expected.insert((src, dst), receivers.clone());
            let mut k = 0u64;
            loop {
                let jitter = if t.jitter_s > 0.0 {
                    (rng.next_u64() % 1_000_000) as f64 / 1e6 * t.jitter_s
                } else {
                    0.0
                };
                let at = t.start_s + k as f64 * t.every_s + jitter;
                let at_us = (at * 1e6) as u64;
                if at_us >= span_us {
                    break;
                }
                let message = traffic_message(&t.message, k);
                let cmd = Command::send(Address(dst), KeyRef::App(0), message);
                sim.schedule(
                    start + Duration::from_micros(at_us),
                    NodeId(s as u32),
                    move |n, now| {
                        if let Some(n) = n.as_node_mut() {
                            n.handle_command(now, cmd);
                        }
                    },
                );
                *sent.entry((src, dst)).or_default() += receivers.len() as u64;
                k += 1;
            }
        }
    }

    Ok(Traffic { expected, sent })
}
