//! `weft radios --proxies`: the nodes a radio hears advertising, connectable, the Mesh Proxy
//! Service (0x1828, MshPRT §7.2.2.2) or the Mesh Provisioning Service (0x1827, §7.1.2.2.1),
//! with what their service data names, resolved with the network's keys where they allow:
//! a Network ID (§7.2.2.2.2) names a subnet, a Node Identity (§7.2.2.2.3) or Private Node
//! Identity (§7.2.2.2.5) a node of the database, a Private Network Identity (§7.2.2.2.4) a
//! subnet. [`resolve`] is also how `--proxy ADDR` finds its proxy (`crate::proxied`).

use std::io::Write;

use serde_json::{json, Value};
use weft_mesh::ble::crypto::NetKey;
use weft_mesh::ble::wire::adv::{AdStructures, MeshAd, ProxyServiceData};
use weft_mesh::ble::UnicastAddress;
use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};

use crate::error::{block_on, Failure, Result};
use crate::runtime::{drive, Clock, Flow};
use crate::store::{NetState, Store, StoreOpts};
use crate::Exit;

/// What the keys of a network resolve: its subnets and the primary addresses of its nodes.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// (NetKey Index, key), the new key of a key refresh too.
    pub subnets: Vec<(u16, NetKey)>,
    /// The nodes' primary element addresses.
    pub nodes: Vec<UnicastAddress>,
}

impl Keys {
    /// The network's keys and nodes, from the store.
    pub fn of(state: &NetState) -> Keys {
        let mut subnets = Vec::new();
        for k in &state.cdb.net_keys {
            subnets.push((k.index, NetKey::new(k.key.0)));
            if let Some(old) = &k.old_key {
                subnets.push((k.index, NetKey::new(old.0)));
            }
        }
        let nodes = state
            .cdb
            .nodes
            .iter()
            .filter_map(|n| UnicastAddress::new(n.unicast_address.0))
            .collect();
        Keys { subnets, nodes }
    }
}

/// What one connectable advertisement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advertised {
    /// The Mesh Proxy Service: the Identification Type's name, the subnet and the node when
    /// the keys resolve them.
    Proxy {
        identification: &'static str,
        net_index: Option<u16>,
        node: Option<UnicastAddress>,
    },
    /// The Mesh Provisioning Service of an unprovisioned device.
    Provisioning { uuid: [u8; 16] },
}

/// The name of an Identification Type (MshPRT §7.2.2.2.1, Table 7.6).
fn identification(d: &ProxyServiceData) -> &'static str {
    match d {
        ProxyServiceData::NetworkId(_) => "network-id",
        ProxyServiceData::NodeIdentity { .. } => "node-identity",
        ProxyServiceData::PrivateNetworkIdentity { .. } => "private-network-identity",
        ProxyServiceData::PrivateNodeIdentity { .. } => "private-node-identity",
    }
}

/// What the advertising data `bytes` advertises of the mesh GATT services, resolved with
/// `keys`; `None` when it carries neither service's data (or data that does not parse).
pub fn resolve(bytes: &[u8], keys: &Keys) -> Option<Advertised> {
    for ad in AdStructures::new(bytes) {
        match ad.ok()?.classify() {
            Ok(MeshAd::ProxyService(d)) => {
                let node_identity = matches!(
                    d,
                    ProxyServiceData::NodeIdentity { .. }
                        | ProxyServiceData::PrivateNodeIdentity { .. }
                );
                let mut found = (None, None);
                for (index, key) in &keys.subnets {
                    if node_identity {
                        if let Some(a) = keys.nodes.iter().find(|a| d.matches(key, Some(**a))) {
                            found = (Some(*index), Some(*a));
                            break;
                        }
                    } else if d.matches(key, None) {
                        found = (Some(*index), None);
                        break;
                    }
                }
                return Some(Advertised::Proxy {
                    identification: identification(&d),
                    net_index: found.0,
                    node: found.1,
                });
            }
            Ok(MeshAd::ProvisioningService(d)) => {
                return Some(Advertised::Provisioning {
                    uuid: d.device_uuid,
                })
            }
            _ => {}
        }
    }
    None
}

/// A device address as people write it: most significant octet first, colons.
pub fn bdaddr(a: [u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        a[5], a[4], a[3], a[2], a[1], a[0]
    )
}

/// One node heard, as `--json` prints it.
pub fn entry(address: [u8; 6], rssi: Option<i8>, what: &Advertised) -> Value {
    let mut v = match what {
        Advertised::Proxy {
            identification,
            net_index,
            node,
        } => json!({
            "kind": "proxy",
            "service": "1828",
            "identification": identification,
            "net_index": net_index,
            "node": node.map(|a| format!("{:04x}", a.get())),
            "radio": format!("gatt:{}?service=proxy", bdaddr(address)),
        }),
        Advertised::Provisioning { uuid } => json!({
            "kind": "unprovisioned",
            "service": "1827",
            "uuid": hex::encode(uuid),
            "radio": format!("gatt:{}?service=provisioning", bdaddr(address)),
        }),
    };
    v["address"] = json!(bdaddr(address));
    v["rssi"] = json!(rssi);
    v
}

/// One node heard, as a line.
pub fn line(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let what = match v["kind"].as_str() {
        Some("proxy") => {
            let net = v["net_index"]
                .as_u64()
                .map_or("an unknown network".to_string(), |i| format!("subnet {i}"));
            match v["node"].as_str() {
                Some(n) => format!("proxy node {n} of {net} ({})", s("identification")),
                None => format!("proxy of {net} ({})", s("identification")),
            }
        }
        _ => format!("unprovisioned device {}", s("uuid")),
    };
    let rssi = v["rssi"]
        .as_i64()
        .map_or(String::new(), |r| format!(", {r} dBm"));
    format!("{:<40} {what}{rssi}", s("radio"))
}

/// A station that only listens, reporting each connectable advertisement with its address.
#[derive(Debug, Default)]
pub struct Listener {
    heard: std::collections::VecDeque<([u8; 6], Option<i8>, Vec<u8>)>,
}

impl Station for Listener {
    type Event = ([u8; 6], Option<i8>, Vec<u8>);
    fn handle_frame(&mut self, _now: Instant, frame: &RxFrame) {
        if let (Bearer::Advertising, Some(a)) = (frame.bearer, frame.adv_address) {
            if self.heard.len() < 256 {
                self.heard.push_back((a, frame.rssi, frame.bytes.clone()));
            }
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<TxFrame> {
        None
    }
    fn poll_event(&mut self) -> Option<Self::Event> {
        self.heard.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {}
}

/// `weft radios --proxies`: listens on `radio` for `seconds` and prints each node heard
/// advertising a mesh GATT service once (the last advertisement that resolved best).
pub fn run(
    radio: &str,
    seconds: f64,
    store: &StoreOpts,
    json: bool,
    out: &mut impl Write,
) -> Result<Exit> {
    // The keys are optional: without a store nothing resolves, and that is said.
    let keys = Store::from_opts(store)
        .ok()
        .and_then(|s| s.load().ok())
        .map(|st| Keys::of(&st))
        .unwrap_or_default();
    let heard = block_on(listen(radio, seconds, &keys))?;
    for (address, rssi, what) in &heard {
        let v = entry(*address, *rssi, what);
        let _ = if json {
            writeln!(out, "{v}")
        } else {
            writeln!(out, "{}", line(&v))
        };
    }
    if heard.is_empty() && !json {
        let _ = writeln!(
            out,
            "no node advertising the Mesh Proxy or Provisioning Service heard in {seconds} s"
        );
    }
    Ok(Exit::Ok)
}

type Heard = Vec<([u8; 6], Option<i8>, Advertised)>;

async fn listen(radio: &str, seconds: f64, keys: &Keys) -> Result<Heard, Failure> {
    let mut radio = crate::ops::connect(radio).await?;
    let clock = Clock::default();
    let until = clock.now() + Duration::from_micros((seconds.max(0.0) * 1e6) as u64);
    let mut heard: Heard = Vec::new();
    let mut station = Listener::default();
    drive(
        &mut station,
        &mut radio,
        &clock,
        Some(until),
        |_, _, (address, rssi, bytes)| {
            if let Some(what) = resolve(&bytes, keys) {
                let resolved = |w: &Advertised| match w {
                    Advertised::Proxy {
                        net_index, node, ..
                    } => usize::from(net_index.is_some()) + usize::from(node.is_some()),
                    Advertised::Provisioning { .. } => 0,
                };
                match heard.iter_mut().find(|(a, ..)| *a == address) {
                    Some(h) if resolved(&what) >= resolved(&h.2) => *h = (address, rssi, what),
                    Some(_) => {}
                    None => heard.push((address, rssi, what)),
                }
            }
            Flow::Continue
        },
    )
    .await
    .map_err(|e| Failure(Exit::Unavailable, e.to_string()))?;
    Ok(heard)
}
