//! Scenarios: a topology with roles and traffic, as TOML data (`tools/scenarios/*.toml`, built
//! into the binary; `--scenario FILE.toml` loads others). A scenario expands into concrete nodes
//! (names, addresses, positions, models, subscriptions) and a traffic plan.

use std::collections::HashSet;

use serde::Deserialize;

/// The most nodes a generated grid holds: each takes one unicast address (0001 upwards, so
/// they fit the 32,767 of MshPRT §3.4.2.2), and the simulator's memory stays bounded.
pub const MAX_GRID_NODES: usize = 30_000;

/// The scenarios built into weft: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("smart-home", include_str!("../scenarios/smart-home.toml")),
    ("industrial", include_str!("../scenarios/industrial.toml")),
    ("grid", include_str!("../scenarios/grid.toml")),
    ("proxy", include_str!("../scenarios/proxy.toml")),
];

/// A scenario as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Default virtual duration, seconds.
    #[serde(default = "default_seconds")]
    pub seconds: f64,
    #[serde(default)]
    pub radio: RadioSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    #[serde(default)]
    pub traffic: Vec<TrafficSpec>,
    pub generate: Option<Generate>,
    /// The provisioner (the node with `config-client`) provisions every unprovisioned device
    /// it hears, from the start.
    #[serde(default)]
    pub auto_provision: bool,
    /// The node with `config-client` runs as the provisioner node even when no device is
    /// unprovisioned at the start (`weft hil`: devices reset and provisioned again).
    #[serde(skip)]
    pub provisioner_station: bool,
}

fn default_seconds() -> f64 {
    60.0
}

/// Overrides of the simulated radio (weft_radio::sim::SimConfig).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioSpec {
    pub path_loss_exponent: Option<f64>,
    /// Loss probability of every link of the path-loss model.
    pub loss: Option<f64>,
    pub collisions: Option<bool>,
    pub tx_power_dbm: Option<f64>,
    pub sensitivity_dbm: Option<f64>,
}

/// Network parameters; keys not given are derived from the seed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub iv_index: Option<String>,
    pub net_key: Option<String>,
    pub app_key: Option<String>,
}

/// One node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    /// Unicast address in hex (not for unprovisioned devices).
    pub address: Option<String>,
    /// An unprovisioned device: it beacons until the provisioner provisions it.
    #[serde(default)]
    pub unprovisioned: bool,
    /// The Device UUID of an unprovisioned device, 32 hex digits (default: derived from the
    /// name).
    pub uuid: Option<String>,
    pub position: Option<[f64; 2]>,
    #[serde(default)]
    pub relay: bool,
    /// Models of the primary element: config-client, onoff-server, onoff-client, level-server,
    /// level-client, sensor-server, sensor-client (the Configuration and Health Servers are
    /// always there).
    #[serde(default)]
    pub models: Vec<String>,
    /// Group addresses (hex) the server models subscribe to.
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// Default TTL.
    pub ttl: Option<u8>,
    /// The GATT Proxy feature (MshPRT §4.2.11): proxy clients connect to it.
    #[serde(default)]
    pub proxy: bool,
    /// A proxy client (a phone): it has no advertising bearer and reaches the mesh only
    /// through a GATT connection to the named proxy node (MshPRT §6.8).
    pub proxy_client: Option<String>,
}

/// An explicit link, overriding the path-loss model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub a: String,
    pub b: String,
    pub rssi: i8,
    #[serde(default)]
    pub loss: f64,
}

/// Messages sent by a node (or a set of nodes) at intervals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// A node name, or `sensors` / `publishers` for the generated sets.
    pub from: String,
    /// A node name, `gateway`, or an address in hex (group or unicast).
    pub to: String,
    /// onoff-set-unack, onoff-set, onoff-get, level-set-unack, sensor-status,
    /// sensor-status-large (segmented).
    pub message: String,
    #[serde(default)]
    pub start_s: f64,
    pub every_s: f64,
    #[serde(default)]
    pub jitter_s: f64,
}

/// A generated layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// `grid` or `industrial`.
    pub kind: String,
    pub nodes: Option<usize>,
    pub sensors: Option<usize>,
    pub relays: Option<usize>,
    pub spacing_m: Option<f64>,
    /// Fraction of grid nodes that publish.
    pub publishers: Option<f64>,
    /// Default TTL of generated nodes.
    pub ttl: Option<u8>,
}

/// A node ready to build.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedNode {
    pub name: String,
    pub address: u16,
    pub position: Option<(f64, f64)>,
    pub relay: bool,
    pub models: Vec<String>,
    pub subscribe: Vec<u16>,
    pub ttl: Option<u8>,
    /// Member of the `sensors` or `publishers` set.
    pub sets: Vec<&'static str>,
    /// The GATT Proxy feature.
    pub proxy: bool,
    /// A proxy client of the named node.
    pub proxy_of: Option<String>,
}

/// An unprovisioned device ready to build.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDevice {
    pub name: String,
    pub uuid: [u8; 16],
    pub position: Option<(f64, f64)>,
    pub relay: bool,
    pub models: Vec<String>,
    pub subscribe: Vec<u16>,
    pub ttl: Option<u8>,
}

/// The Device UUID derived from a device's name: "weft-dev" and the FNV-1a hash of the name.
pub fn uuid_from_name(name: &str) -> [u8; 16] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut u = *b"weft-dev\0\0\0\0\0\0\0\0";
    u[8..].copy_from_slice(&h.to_be_bytes());
    u
}

/// The model names a scenario may use.
pub const MODEL_NAMES: &[&str] = &[
    "config-client",
    "onoff-server",
    "onoff-client",
    "level-server",
    "level-client",
    "sensor-server",
    "sensor-client",
];

/// The messages a traffic entry may send.
pub const MESSAGE_NAMES: &[&str] = &[
    "onoff-set-unack",
    "onoff-set",
    "onoff-get",
    "level-set-unack",
    "sensor-status",
    "sensor-status-large",
];

impl Scenario {
    /// A built-in scenario by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Scenario, String> {
        let text = match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, t)) => t.to_string(),
            None if name_or_path.ends_with(".toml") => {
                crate::files::read_to_string(name_or_path.as_ref(), crate::files::SCENARIO)
                    .map_err(|e| e.to_string())?
            }
            None => {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "no scenario named '{name_or_path}': use one of {} (see `weft sim list`) or a path ending in .toml",
                    names.join(", ")
                ));
            }
        };
        toml::from_str(&text).map_err(|e| format!("scenario {name_or_path}: {e}"))
    }

    /// The concrete nodes: those written out, plus the generated layout (`nodes` overrides the
    /// generated node count for a grid).
    pub fn plan(&self, nodes_override: Option<usize>) -> Result<Vec<PlannedNode>, String> {
        if nodes_override.is_some() && self.generate.as_ref().is_none_or(|g| g.kind != "grid") {
            return Err(format!(
                "--nodes sets the size of a generated grid, and scenario {} has none: drop --nodes, or use --scenario grid",
                self.name
            ));
        }
        let mut out = Vec::new();
        for n in self.nodes.iter().filter(|n| !n.unprovisioned) {
            let address = n.address.as_deref().ok_or_else(|| {
                format!(
                    "node {}: give its address (or unprovisioned = true)",
                    n.name
                )
            })?;
            out.push(PlannedNode {
                name: n.name.clone(),
                address: parse_unicast(address).map_err(|e| format!("node {}: {e}", n.name))?,
                position: n.position.map(|[x, y]| (x, y)),
                relay: n.relay,
                models: n.models.clone(),
                subscribe: n
                    .subscribe
                    .iter()
                    .map(|s| parse_group(s))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("node {}: {e}", n.name))?,
                ttl: n.ttl,
                sets: Vec::new(),
                proxy: n.proxy,
                proxy_of: n.proxy_client.clone(),
            });
        }
        if let Some(g) = &self.generate {
            out.extend(generate(g, nodes_override)?);
        }
        for n in &out {
            if let Some(p) = &n.proxy_of {
                if !out
                    .iter()
                    .any(|o| &o.name == p && o.proxy && o.proxy_of.is_none())
                {
                    return Err(format!(
                        "node {}: proxy_client = '{p}' names no proxy node: give the name of a node with proxy = true",
                        n.name
                    ));
                }
            }
        }
        let mut names = HashSet::new();
        let mut addrs = HashSet::new();
        for n in &out {
            if !names.insert(n.name.clone()) {
                return Err(format!("two nodes are named '{}'", n.name));
            }
            if !addrs.insert(n.address) {
                return Err(format!("two nodes have address {:04x}", n.address));
            }
            if let Some(m) = n.models.iter().find(|m| !MODEL_NAMES.contains(&m.as_str())) {
                return Err(format!(
                    "node {}: unknown model '{m}' (known: {})",
                    n.name,
                    MODEL_NAMES.join(", ")
                ));
            }
        }
        for t in &self.traffic {
            if !MESSAGE_NAMES.contains(&t.message.as_str()) {
                return Err(format!(
                    "traffic from {}: unknown message '{}' (known: {})",
                    t.from,
                    t.message,
                    MESSAGE_NAMES.join(", ")
                ));
            }
            if t.every_s <= 0.0 {
                return Err(format!("traffic from {}: every_s must be positive", t.from));
            }
        }
        self.devices()?;
        Ok(out)
    }

    /// The unprovisioned devices, in the order written.
    pub fn devices(&self) -> Result<Vec<PlannedDevice>, String> {
        let mut out: Vec<PlannedDevice> = Vec::new();
        for n in self.nodes.iter().filter(|n| n.unprovisioned) {
            let uuid = match &n.uuid {
                Some(h) => {
                    let v = hex::decode(h.trim_start_matches("0x"))
                        .ok()
                        .filter(|v| v.len() == 16)
                        .ok_or_else(|| {
                            format!("node {}: uuid '{h}' is not 32 hex digits", n.name)
                        })?;
                    let mut u = [0u8; 16];
                    u.copy_from_slice(&v);
                    u
                }
                None => uuid_from_name(&n.name),
            };
            if n.address.is_some() {
                return Err(format!(
                    "node {}: an unprovisioned device has no address until provisioned",
                    n.name
                ));
            }
            if let Some(m) = n.models.iter().find(|m| !MODEL_NAMES.contains(&m.as_str())) {
                return Err(format!(
                    "node {}: unknown model '{m}' (known: {})",
                    n.name,
                    MODEL_NAMES.join(", ")
                ));
            }
            if out.iter().any(|d| d.uuid == uuid) {
                return Err(format!("node {}: two devices have the same uuid", n.name));
            }
            out.push(PlannedDevice {
                name: n.name.clone(),
                uuid,
                position: n.position.map(|[x, y]| (x, y)),
                relay: n.relay,
                models: n.models.clone(),
                subscribe: n
                    .subscribe
                    .iter()
                    .map(|s| parse_group(s))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("node {}: {e}", n.name))?,
                ttl: n.ttl,
            });
        }
        Ok(out)
    }
}

/// Parses a hex unicast address.
pub fn parse_unicast(s: &str) -> Result<u16, String> {
    let a = u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|_| format!("'{s}' is not a hex address"))?;
    if a == 0 || a & 0x8000 != 0 {
        return Err(format!("{a:04x} is not a unicast address (0001..7fff)"));
    }
    Ok(a)
}

/// Parses a hex group address.
pub fn parse_group(s: &str) -> Result<u16, String> {
    let a = u16::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|_| format!("'{s}' is not a hex address"))?;
    if a & 0xC000 != 0xC000 {
        return Err(format!("{a:04x} is not a group address (c000..ffff)"));
    }
    Ok(a)
}

fn generate(g: &Generate, nodes_override: Option<usize>) -> Result<Vec<PlannedNode>, String> {
    let spacing = g.spacing_m.unwrap_or(30.0);
    let mut out = Vec::new();
    match g.kind.as_str() {
        "grid" => {
            let n = nodes_override.or(g.nodes).unwrap_or(100);
            if n == 0 || n > MAX_GRID_NODES {
                return Err(format!("a grid holds 1 to {MAX_GRID_NODES} nodes, not {n}"));
            }
            let side = (n as f64).sqrt().ceil() as usize;
            let publishers = g.publishers.unwrap_or(0.1).clamp(0.0, 1.0);
            let every = if publishers > 0.0 {
                (1.0 / publishers).round().max(1.0) as usize
            } else {
                usize::MAX
            };
            for i in 0..n {
                out.push(PlannedNode {
                    name: format!("n{i}"),
                    address: (i + 1) as u16,
                    position: Some(((i % side) as f64 * spacing, (i / side) as f64 * spacing)),
                    relay: true,
                    models: vec!["onoff-server".into(), "onoff-client".into()],
                    subscribe: vec![0xC000],
                    ttl: g.ttl,
                    sets: if i % every == 0 {
                        vec!["publishers"]
                    } else {
                        vec![]
                    },
                    proxy: false,
                    proxy_of: None,
                });
            }
        }
        "industrial" => {
            let sensors = g.sensors.unwrap_or(32);
            let relays = g.relays.unwrap_or(7);
            out.push(PlannedNode {
                name: "gateway".into(),
                address: 0x0001,
                position: Some((0.0, 0.0)),
                relay: false,
                models: vec!["sensor-client".into(), "config-client".into()],
                subscribe: vec![],
                ttl: g.ttl,
                sets: vec![],
                proxy: false,
                proxy_of: None,
            });
            for r in 0..relays {
                out.push(PlannedNode {
                    name: format!("relay-{}", r + 1),
                    address: 0x0100 + r as u16,
                    position: Some(((r + 1) as f64 * spacing, 0.0)),
                    relay: true,
                    models: vec![],
                    subscribe: vec![],
                    ttl: g.ttl,
                    sets: vec![],
                    proxy: false,
                    proxy_of: None,
                });
            }
            for s in 0..sensors {
                // Sensors sit on both sides of the backbone, spread along it.
                let along = (s % relays.max(1) + 1) as f64 * spacing;
                let side = if s % 2 == 0 { 1.0 } else { -1.0 }
                    * (20.0 + 10.0 * (s / (2 * relays.max(1))) as f64);
                out.push(PlannedNode {
                    name: format!("sensor-{}", s + 1),
                    address: 0x0200 + s as u16,
                    position: Some((along, side)),
                    relay: false,
                    models: vec!["sensor-server".into()],
                    subscribe: vec![],
                    ttl: g.ttl,
                    sets: vec!["sensors"],
                    proxy: false,
                    proxy_of: None,
                });
            }
        }
        other => {
            return Err(format!(
                "unknown generated layout '{other}' (known: grid, industrial)"
            ))
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Scenario {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn unprovisioned_devices_are_planned_apart() {
        let home = Scenario::load("smart-home").unwrap();
        let d = home.devices().unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].name, "light-hall");
        assert_eq!(d[0].uuid, uuid_from_name("light-hall"));
        assert_eq!(&d[0].uuid[..8], b"weft-dev");
        assert_eq!(d[0].subscribe, vec![0xc001]);
        assert!(home
            .plan(None)
            .unwrap()
            .iter()
            .all(|p| p.name != "light-hall"));
        assert!(!home.auto_provision);
        assert_ne!(uuid_from_name("a"), uuid_from_name("b"));

        let given = parse(
            "name = \"x\"\nauto_provision = true\n[[nodes]]\nname = \"d\"\nunprovisioned = true\nuuid = \"00112233445566778899aabbccddeeff\"\n",
        );
        assert!(given.auto_provision);
        assert_eq!(given.devices().unwrap()[0].uuid[15], 0xff);
        assert!(given.plan(None).unwrap().is_empty());
    }

    #[test]
    fn unprovisioned_device_mistakes_are_named() {
        let with_address = parse(
            "name = \"x\"\n[[nodes]]\nname = \"d\"\nunprovisioned = true\naddress = \"0005\"\n",
        );
        assert!(with_address.plan(None).unwrap_err().contains("no address"));
        let bad_uuid =
            parse("name = \"x\"\n[[nodes]]\nname = \"d\"\nunprovisioned = true\nuuid = \"0011\"\n");
        assert!(bad_uuid.devices().unwrap_err().contains("32 hex digits"));
        let no_address = parse("name = \"x\"\n[[nodes]]\nname = \"n\"\n");
        assert!(no_address
            .plan(None)
            .unwrap_err()
            .contains("give its address"));
    }

    #[test]
    fn builtins_load_and_plan() {
        for (name, _) in BUILTIN {
            let s = Scenario::load(name).unwrap();
            let nodes = s.plan(None).unwrap();
            assert!(!nodes.is_empty(), "{name}");
        }
        assert_eq!(
            Scenario::load("smart-home")
                .unwrap()
                .plan(None)
                .unwrap()
                .len(),
            12
        );
        assert_eq!(
            Scenario::load("industrial")
                .unwrap()
                .plan(None)
                .unwrap()
                .len(),
            40
        );
        assert_eq!(
            Scenario::load("grid")
                .unwrap()
                .plan(Some(400))
                .unwrap()
                .len(),
            400
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(Scenario::load("nope").unwrap_err().contains("smart-home"));
        let bad: Scenario =
            toml::from_str("name = \"x\"\n[[nodes]]\nname = \"a\"\naddress = \"8001\"\n").unwrap();
        assert!(bad.plan(None).unwrap_err().contains("unicast"));
        assert!(toml::from_str::<Scenario>("name = \"x\"\nfoo = 1\n").is_err());
    }
}
