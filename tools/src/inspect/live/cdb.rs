//! What the network database tells the live inspector: nodes into the topology, the groups
//! subscribed to, a node's detail.

use weft_mesh::ble::address::Address;
use weft_mesh::ble::cdb::{CdbNode, FEATURE_ENABLED};
use weft_mesh::topology::{Roles, Topology};

use crate::inspect::model::{model_name, ModelDetail, NodeDetail};
use crate::store::NetState;

/// A node of the network database into the topology: name, UUID, elements, roles.
pub(super) fn node_into_topology(topology: &mut Topology, n: &CdbNode) {
    let t = topology.node_mut(u64::from(n.unicast_address.0));
    t.name = n.name.clone();
    t.uuid = Some(n.uuid.0);
    t.elements = u8::try_from(n.elements.len()).ok().filter(|&e| e > 0);
    if let Some(f) = &n.features {
        let on = |v: Option<u8>| v == Some(FEATURE_ENABLED);
        t.roles = Roles {
            relay: on(f.relay),
            proxy: on(f.proxy),
            friend: on(f.friend),
            low_power: on(f.low_power),
        };
    }
}

/// Group addresses the network's models subscribe to, ascending.
pub(super) fn groups_of(net: &NetState) -> Vec<u16> {
    let mut g: Vec<u16> = net
        .cdb
        .nodes
        .iter()
        .flat_map(|n| &n.elements)
        .flat_map(|e| &e.models)
        .flat_map(|m| &m.subscribe)
        .map(|a| a.address().0)
        .filter(|a| Address(*a).is_group())
        .collect();
    g.sort_unstable();
    g.dedup();
    g
}

/// What the network database knows of a node, as the detail pane shows it.
pub fn detail_from_cdb(n: &CdbNode, iv_index: u32) -> NodeDetail {
    let features = n.features.map_or_else(
        || "?".to_string(),
        |f| {
            let on = |v: Option<u8>| v == Some(FEATURE_ENABLED);
            Roles {
                relay: on(f.relay),
                proxy: on(f.proxy),
                friend: on(f.friend),
                low_power: on(f.low_power),
            }
            .letters()
        },
    );
    NodeDetail {
        address: n.unicast_address.0,
        name: n.name.clone().unwrap_or_default(),
        uuid: n.uuid.0,
        cid: n.cid.map(|v| v.0),
        pid: n.pid.map(|v| v.0),
        vid: n.vid.map(|v| v.0),
        crpl: n.crpl.map(|v| v.0),
        features,
        default_ttl: n.default_ttl,
        net_keys: n.net_keys.iter().map(|k| k.index).collect(),
        app_keys: n.app_keys.iter().map(|k| k.index).collect(),
        elements: n
            .elements
            .iter()
            .map(|e| {
                (
                    e.location.0,
                    e.models
                        .iter()
                        .map(|m| ModelDetail {
                            name: model_name(m.model_id.0),
                            bound: m.bind.clone(),
                            publication: m
                                .publish
                                .as_ref()
                                .map(|p| format!("to {} app key {}", p.address.address(), p.index)),
                            subscriptions: m.subscribe.iter().map(|a| a.address().0).collect(),
                        })
                        .collect(),
                )
            })
            .collect(),
        heartbeat_pub: n.heartbeat_pub.as_ref().map(|p| {
            if p.period == 0 {
                format!("to {:04x} (off)", p.address.0)
            } else {
                format!("to {:04x} every {} s", p.address.0, p.period)
            }
        }),
        heartbeat_sub: n
            .heartbeat_sub
            .as_ref()
            .map(|s| format!("from {:04x} to {:04x}", s.source.0, s.destination.0)),
        onoff: None,
        level: None,
        faults: None,
        seq: None,
        iv_index,
    }
}
