//! Building a scenario on the simulated air: its nodes, provisioned and configured as the
//! scenario says (keys derived from the seed unless given), placed in a [`Simulator`].

use super::*;

/// A scenario ready to run.
#[allow(missing_debug_implementations)]
pub struct Built<S: weft_mesh::Station = ScenarioStation> {
    pub sim: Simulator<S>,
    pub plan: Vec<PlannedNode>,
    /// The unprovisioned devices, on the air after the planned nodes (node ids `plan.len()..`).
    pub devices: Vec<PlannedDevice>,
    pub keys: Keys,
    /// The virtual end of the run.
    pub end: Instant,
    pub scenario: Scenario,
}

/// Builds the simulator of a scenario: its nodes provisioned and configured, its links set.
pub fn build(r: &RunArgs) -> Result<Built, RunError> {
    build_with(r, |n| n)
}

/// As [`build`], with each node wrapped by `wrap` (e.g. to share the air with other processes).
pub fn build_with<S: weft_mesh::Station>(
    r: &RunArgs,
    wrap: impl FnMut(ScenarioStation) -> S,
) -> Result<Built<S>, RunError> {
    let sc = Scenario::load(&r.scenario).map_err(RunError::Usage)?;
    build_scenario(sc, r, wrap)
}

/// As [`build_with`], for a scenario already loaded (`weft hil` builds its roles as one).
pub fn build_scenario<S: weft_mesh::Station>(
    sc: Scenario,
    r: &RunArgs,
    mut wrap: impl FnMut(ScenarioStation) -> S,
) -> Result<Built<S>, RunError> {
    let plan = sc.plan(r.nodes).map_err(RunError::Usage)?;
    let devices = sc.devices().map_err(RunError::Usage)?;
    let seconds = r.seconds.unwrap_or(sc.seconds);
    if !(seconds > 0.0 && seconds <= 30.0 * 24.0 * 3600.0) {
        return Err(RunError::Usage(format!(
            "--seconds {seconds}: give a duration between 0 and 2592000"
        )));
    }
    let end = Instant::from_micros((seconds * 1e6) as u64);
    let mut rng = ChaCha8Rng::seed_from_u64(r.seed);
    let mut key = |given: &Option<String>| -> Result<[u8; 16], RunError> {
        match given {
            Some(h) => crate::args::key128(h).map_err(RunError::Usage),
            None => {
                let mut k = [0u8; 16];
                rng.fill_bytes(&mut k);
                Ok(k)
            }
        }
    };
    let net_key = key(&sc.network.net_key)?;
    let app_key = key(&sc.network.app_key)?;
    let iv_index = match &sc.network.iv_index {
        Some(h) => crate::args::iv_index(h).map_err(RunError::Usage)?,
        None => 0,
    };
    let mut cfg = SimConfig::default();
    if let Some(v) = sc.radio.path_loss_exponent {
        cfg.path_loss_exponent = v;
    }
    if let Some(v) = sc.radio.loss {
        cfg.loss = v;
    }
    if let Some(v) = r.loss {
        cfg.loss = v;
    }
    if let Some(v) = sc.radio.collisions {
        cfg.collisions = v;
    }
    if let Some(v) = sc.radio.tx_power_dbm {
        cfg.tx_power_dbm = v;
    }
    if let Some(v) = sc.radio.sensitivity_dbm {
        cfg.sensitivity_dbm = v;
    }
    cfg.medium_events = r.json;
    let mut sim = Simulator::new(cfg, r.seed);
    let mut dev_keys = Vec::new();
    let states: Vec<NodeState> = plan
        .iter()
        .map(|p| {
            let mut dk = [0u8; 16];
            rng.fill_bytes(&mut dk);
            dev_keys.push((p.address, dk));
            node_state(p, net_key, app_key, dk, iv_index)
        })
        .collect();
    for (i, (p, state)) in plan.iter().zip(&states).enumerate() {
        let node = Node::new(
            state.clone(),
            weft_radio::sim::station_rng(r.seed, i as u64),
        );
        let placement = match p.position {
            Some((x, y)) => Placement::At { x, y },
            None => Placement::Unplaced,
        };
        let station = if p.models.iter().any(|m| m == "config-client")
            && (!devices.is_empty() || sc.provisioner_station)
        {
            // The provisioner node keeps the scenario's network: it hands out addresses after
            // the planned ones (MshPRT §5) and configures what it provisions.
            let mut cdb = weft_mesh::ble::cdb::Cdb::new([0; 16], sc.name.clone(), "");
            cdb.nodes = plan
                .iter()
                .zip(&states)
                .map(|(p, st)| CdbNode::from_node_state(st, Some(p.name.clone())))
                .collect();
            let mut station = ProvisionerNode::new(
                node,
                weft_radio::sim::station_rng(r.seed ^ 0x5052_4f56, i as u64),
                cdb,
            );
            station.set_auto(sc.auto_provision.then_some(AutoProvision {
                parallel: usize::MAX,
                until: None,
                retry: true,
            }));
            station.set_configure(Some(ConfigurePlan {
                net_key_index: KeyIndex::from_bits(0),
                app_key_index: KeyIndex::from_bits(0),
                app_key,
                subscribe: None,
                publish: None,
            }));
            ScenarioStation::Provisioner(station)
        } else if let Some(server) = &p.proxy_of {
            // It connects to its proxy node at the start (MshPRT §6.8), which advertises with
            // the address of its node slot (nodes are added in plan order).
            let mut client = ProxyClient::new(node);
            if let Some(j) = plan.iter().position(|q| &q.name == server) {
                client.connect_to(weft_radio::sim::adv_address(r.seed, NodeId(j as u32), 0));
            }
            ScenarioStation::Client(client)
        } else {
            ScenarioStation::node(node)
        };
        sim.add_node(wrap(station), placement);
    }
    for (j, d) in devices.iter().enumerate() {
        let k = (plan.len() + j) as u64;
        let device = Device::new(
            weft_radio::sim::station_rng(r.seed, k),
            d.uuid,
            weft_mesh::ble::wire::beacon::OobInformation(0),
            None,
            weft_mesh::ble::prov::DeviceConfig::new(no_oob_capabilities()),
        );
        let profile = DeviceProfile {
            elements: vec![device_element(d)],
            relay: d.relay,
            default_ttl: d.ttl,
        };
        let node_rng = weft_radio::sim::station_rng(r.seed ^ 0x4e4f_4445, k);
        let station = ScenarioStation::Device(DeviceNode::new(device, profile, node_rng));
        let placement = match d.position {
            Some((x, y)) => Placement::At { x, y },
            None => Placement::Unplaced,
        };
        sim.add_node(wrap(station), placement);
    }
    for l in &sc.links {
        // Devices are on the air after the planned nodes.
        let find = |n: &str| {
            plan.iter()
                .position(|p| p.name == n)
                .or_else(|| {
                    devices
                        .iter()
                        .position(|d| d.name == n)
                        .map(|j| plan.len() + j)
                })
                .ok_or_else(|| RunError::Usage(format!("link names unknown node '{n}'")))
        };
        let (a, b) = (find(&l.a)?, find(&l.b)?);
        sim.set_link(
            NodeId(a as u32),
            NodeId(b as u32),
            weft_radio::sim::Link {
                rssi_dbm: l.rssi,
                loss: r.loss.unwrap_or(l.loss),
            },
        );
    }
    let keys = Keys {
        iv_index,
        net_key,
        app_key,
        dev_keys,
    };
    Ok(Built {
        sim,
        plan,
        devices,
        keys,
        end,
        scenario: sc,
    })
}

/// The state of a provisioned and configured scenario node.
fn node_state(
    p: &PlannedNode,
    net_key: [u8; 16],
    app_key: [u8; 16],
    dev_key: [u8; 16],
    iv: u32,
) -> NodeState {
    let mut models = vec![
        ModelState::new(ModelId::CONFIG_SERVER),
        ModelState::new(ModelId::HEALTH_SERVER),
    ];
    for m in &p.models {
        let id = model_id(m);
        let mut ms = ModelState::new(id);
        if id != ModelId::CONFIG_CLIENT {
            ms.app_keys.push(0);
        }
        if m.ends_with("-server") {
            ms.subscriptions = p.subscribe.iter().map(|&g| Address(g)).collect();
        }
        models.push(ms);
    }
    let mut st = NodeState::new(
        uuid_of(p.address),
        UnicastAddress::new(p.address).expect("planned addresses are unicast"),
        dev_key,
        net_key,
        IvIndex(iv),
        vec![ElementState {
            location: 0x0100,
            models,
        }],
    );
    st.relay = p.relay;
    if p.proxy {
        st.gatt_proxy = Some(true);
    }
    if let Some(t) = p.ttl {
        st.default_ttl = t;
    }
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: app_key,
        new_key: None,
    });
    st
}

/// The model a scenario names.
fn model_id(m: &str) -> ModelId {
    match m {
        "config-client" => ModelId::CONFIG_CLIENT,
        "onoff-server" => ModelId::GENERIC_ONOFF_SERVER,
        "onoff-client" => ModelId::GENERIC_ONOFF_CLIENT,
        "level-server" => ModelId::GENERIC_LEVEL_SERVER,
        "level-client" => ModelId::GENERIC_LEVEL_CLIENT,
        "sensor-server" => ModelId::SENSOR_SERVER,
        _ => ModelId::SENSOR_CLIENT,
    }
}

/// The Provisioning Capabilities of a scenario device: one element, both algorithms, No OOB
/// (MshPRT §5.4.1.2).
fn no_oob_capabilities() -> weft_mesh::ble::wire::prov::Capabilities {
    use weft_mesh::ble::wire::prov::{Algorithms, Capabilities};
    Capabilities::no_oob(
        1,
        Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
    )
}

fn uuid_of(addr: u16) -> [u8; 16] {
    let mut u = *b"weft-sim-node\x00\x00\x00";
    u[14..].copy_from_slice(&addr.to_be_bytes());
    u
}

/// The element of a device just provisioned: its planned models, nothing bound or subscribed
/// yet (a Configuration Client does that).
pub(crate) fn device_element(d: &PlannedDevice) -> ElementState {
    let mut models = vec![
        ModelState::new(ModelId::CONFIG_SERVER),
        ModelState::new(ModelId::HEALTH_SERVER),
    ];
    models.extend(d.models.iter().map(|m| ModelState::new(model_id(m))));
    ElementState {
        location: 0x0100,
        models,
    }
}
