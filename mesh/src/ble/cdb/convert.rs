//! A CDB node to and from the node stack's [`NodeState`], and the CDB units of the states
//! (transmit counts and intervals, publish periods, heartbeat periods and features).

use super::{
    Cdb, CdbAddress, CdbAppKey, CdbElement, CdbError, CdbFeatures, CdbHeartbeatPub,
    CdbHeartbeatSub, CdbModel, CdbModelId, CdbNetKey, CdbNode, CdbNodeKey, CdbPeriod,
    CdbPubRetransmit, CdbPublish, CdbTransmit, Hex16, HexKey, Security, Uuid, FEATURE_DISABLED,
    FEATURE_ENABLED, FEATURE_UNSUPPORTED,
};
use crate::ble::address::{Address, IvIndex, Seq, UnicastAddress};
use crate::ble::foundation::config::{Publication as PubParams, PublishPeriod, Retransmit};
use crate::ble::models::{KeyIndex, StepResolution};
use crate::ble::node::state::{
    AppKeyState, ElementState, HeartbeatPublication, HeartbeatSubscription, KeyRefreshPhase,
    ModelState, NetKeyState, NodeState, Publication,
};

impl CdbTransmit {
    /// From the state (count = transmissions - 1, steps of 10 ms).
    pub fn from_state(r: Retransmit) -> Self {
        CdbTransmit {
            count: (r.count & 7) + 1,
            interval: (u16::from(r.interval_steps & 0x1F) + 1) * 10,
        }
    }

    /// To the state; `None` when out of range.
    pub fn to_state(self) -> Option<Retransmit> {
        ((1..=8).contains(&self.count)
            && (10..=320).contains(&self.interval)
            && self.interval.is_multiple_of(10))
        .then(|| Retransmit {
            count: self.count - 1,
            interval_steps: (self.interval / 10 - 1) as u8,
        })
    }
}

impl CdbPeriod {
    /// From the state.
    pub fn from_state(p: PublishPeriod) -> Self {
        CdbPeriod {
            number_of_steps: p.steps & 0x3F,
            resolution: p.resolution.millis(),
        }
    }

    /// To the state; `None` for an unknown resolution or too many steps.
    pub fn to_state(self) -> Option<PublishPeriod> {
        let resolution = StepResolution::ALL
            .into_iter()
            .find(|r| r.millis() == self.resolution)?;
        (self.number_of_steps <= 0x3F).then_some(PublishPeriod {
            steps: self.number_of_steps,
            resolution,
        })
    }
}

impl Cdb {
    /// The node stack's state for the node `node` of this database: its keys from the
    /// network's key lists, its configuration, and `iv_index`. Sequence numbers start at the
    /// node's `sequenceNumber` (weft's extension), else at 0.
    /// Heartbeat publication counts and subscription periods are not in the CDB and read as 0
    /// (periodic heartbeats stopped, as nRF Mesh does on import).
    pub fn node_state(&self, node: &CdbNode, iv_index: IvIndex) -> Result<NodeState, CdbError> {
        let idx = self.nodes.iter().position(|n| n == node).unwrap_or(0);
        let p = format!("nodes[{idx}]");
        let primary = UnicastAddress::new(node.unicast_address.0).ok_or_else(|| {
            CdbError::field(format!("{p}.unicastAddress"), "not a unicast address")
        })?;
        let dev_key = node.device_key.ok_or_else(|| {
            CdbError::field(
                format!("{p}.deviceKey"),
                "missing: the node's device key is unknown",
            )
        })?;
        let mut net_keys = Vec::new();
        for (j, nk) in node.net_keys.iter().enumerate() {
            let k = self.net_key(nk.index).ok_or_else(|| {
                CdbError::field(
                    format!("{p}.netKeys[{j}].index"),
                    format!("no network key has index {}", nk.index),
                )
            })?;
            let phase = match k.phase {
                1 => KeyRefreshPhase::First,
                2 => KeyRefreshPhase::Second,
                _ => KeyRefreshPhase::Normal,
            };
            // In the CDB `key` is the new key during a refresh and `oldKey` the one in use.
            let (key, new_key) = match (phase, k.old_key) {
                (KeyRefreshPhase::Normal, _) | (_, None) => (k.key.0, None),
                (_, Some(old)) => (old.0, Some(k.key.0)),
            };
            net_keys.push(NetKeyState {
                index: nk.index,
                key,
                new_key,
                phase,
            });
        }
        let mut app_keys = Vec::new();
        for (j, ak) in node.app_keys.iter().enumerate() {
            let k = self.app_key(ak.index).ok_or_else(|| {
                CdbError::field(
                    format!("{p}.appKeys[{j}].index"),
                    format!("no application key has index {}", ak.index),
                )
            })?;
            let (key, new_key) = match k.old_key {
                Some(old) => (old.0, Some(k.key.0)),
                None => (k.key.0, None),
            };
            app_keys.push(AppKeyState {
                index: ak.index,
                net_index: k.bound_net_key,
                key,
                new_key,
            });
        }
        let mut elements = Vec::new();
        for e in &node.elements {
            let mut models = Vec::new();
            for m in &e.models {
                let mut ms = ModelState::new(m.model_id.0);
                ms.app_keys = m.bind.clone();
                for s in &m.subscribe {
                    ms.subscriptions.push(s.address());
                    if let CdbAddress::Label(l) = s {
                        ms.labels.push(*l);
                    }
                }
                ms.publication = m.publish.as_ref().and_then(publish_to_state);
                models.push(ms);
            }
            elements.push(ElementState {
                location: e.location.0,
                models,
            });
        }
        let mut s = NodeState::new(node.uuid.0, primary, dev_key.0, [0; 16], iv_index, elements);
        s.net_keys = net_keys;
        s.app_keys = app_keys;
        if let Some(ttl) = node.default_ttl {
            s.default_ttl = ttl;
        }
        s.relay = node
            .features
            .and_then(|f| f.relay)
            .is_some_and(|r| r == FEATURE_ENABLED);
        if let Some(t) = node.relay_retransmit.and_then(CdbTransmit::to_state) {
            s.relay_retransmit = t;
        }
        if let Some(t) = node.network_transmit.and_then(CdbTransmit::to_state) {
            s.network_transmit = t;
        }
        if let Some(b) = node.secure_network_beacon {
            s.beacon = b;
        }
        s.heartbeat_publication = node.heartbeat_pub.as_ref().map(|h| HeartbeatPublication {
            dst: Address(h.address.0),
            count: 0,
            period_log: period_log(h.period).unwrap_or(0),
            ttl: h.ttl,
            features: h
                .features
                .iter()
                .filter_map(|f| feature_bit(f))
                .fold(0, |a, b| a | b),
            net_index: h.index,
        });
        s.heartbeat_subscription = node.heartbeat_sub.as_ref().map(|h| HeartbeatSubscription {
            src: Address(h.source.0),
            dst: Address(h.destination.0),
            period_log: 0,
        });
        if let Some(v) = node.cid {
            s.cid = v.0;
        }
        if let Some(v) = node.pid {
            s.pid = v.0;
        }
        if let Some(v) = node.vid {
            s.vid = v.0;
        }
        if let Some(v) = node.crpl {
            s.crpl = v.0;
        }
        // The node's sequence numbers go on from weft's extension, when the file has it.
        s.seq_reserved = node.sequence_number.unwrap_or(0).min(Seq::MAX + 1);
        Ok(s)
    }

    /// Adds the keys of `state` that the database does not know yet (named after their
    /// index), so that [`CdbNode::from_node_state`]'s references resolve.
    pub fn add_keys_of(&mut self, state: &NodeState, timestamp: &str) {
        for k in &state.net_keys {
            if self.net_key(k.index).is_none() {
                let (key, old_key) = match k.new_key {
                    Some(new) => (new, Some(HexKey(k.key))),
                    None => (k.key, None),
                };
                self.net_keys.push(CdbNetKey {
                    name: format!("Network Key {}", k.index),
                    index: k.index,
                    key: HexKey(key),
                    old_key,
                    phase: k.phase.to_u8(),
                    min_security: Security::Secure,
                    timestamp: timestamp.into(),
                });
            }
        }
        for k in &state.app_keys {
            if self.app_key(k.index).is_none() {
                let (key, old_key) = match k.new_key {
                    Some(new) => (new, Some(HexKey(k.key))),
                    None => (k.key, None),
                };
                self.app_keys.push(CdbAppKey {
                    name: format!("Application Key {}", k.index),
                    index: k.index,
                    bound_net_key: k.net_index,
                    key: HexKey(key),
                    old_key,
                });
            }
        }
    }
}

impl CdbNode {
    /// The record of a device a Provisioner has just added (MshPRT §5.4.2.5): its UUID, the
    /// address and network key of the Provisioning Data, its device key, and as many elements
    /// as it said it has (their models come with its Composition Data); not configured yet.
    pub fn from_provisioned(uuid: [u8; 16], p: &crate::ble::prov::Provisioned) -> Self {
        CdbNode {
            uuid: Uuid(uuid),
            unicast_address: Hex16(p.data.unicast_address.get()),
            device_key: Some(HexKey(p.device_key)),
            security: Default::default(),
            net_keys: vec![CdbNodeKey {
                index: p.data.key_index,
                updated: false,
            }],
            config_complete: false,
            name: None,
            cid: None,
            pid: None,
            vid: None,
            crpl: None,
            features: None,
            secure_network_beacon: None,
            default_ttl: None,
            network_transmit: None,
            relay_retransmit: None,
            app_keys: Vec::new(),
            elements: (0..p.number_of_elements)
                .map(|i| CdbElement {
                    name: None,
                    index: i,
                    location: Hex16(0),
                    models: Vec::new(),
                })
                .collect(),
            excluded: false,
            heartbeat_pub: None,
            heartbeat_sub: None,
            sequence_number: None,
        }
    }

    /// The CDB record of a node from the node stack's state. Proxy, Friend and Low Power read
    /// as not supported (weft's node has none of them).
    pub fn from_node_state(s: &NodeState, name: Option<String>) -> Self {
        let elements = s
            .elements
            .iter()
            .enumerate()
            .map(|(i, e)| CdbElement {
                name: None,
                index: i as u8,
                location: Hex16(e.location),
                models: e
                    .models
                    .iter()
                    .map(|m| CdbModel {
                        model_id: CdbModelId(m.id),
                        bind: m.app_keys.clone(),
                        subscribe: m
                            .subscriptions
                            .iter()
                            .map(|a| label_for(*a, &m.labels))
                            .collect(),
                        publish: m.publication.as_ref().map(publish_from_state),
                    })
                    .collect(),
            })
            .collect();
        CdbNode {
            uuid: Uuid(s.uuid),
            unicast_address: Hex16(s.primary.get()),
            device_key: Some(HexKey(s.dev_key)),
            security: Security::Secure,
            net_keys: s
                .net_keys
                .iter()
                .map(|k| CdbNodeKey {
                    index: k.index,
                    updated: k.new_key.is_some() && k.phase != KeyRefreshPhase::Normal,
                })
                .collect(),
            config_complete: true,
            name,
            cid: Some(Hex16(s.cid)),
            pid: Some(Hex16(s.pid)),
            vid: Some(Hex16(s.vid)),
            crpl: Some(Hex16(s.crpl)),
            features: Some(CdbFeatures {
                relay: Some(if s.relay {
                    FEATURE_ENABLED
                } else {
                    FEATURE_DISABLED
                }),
                proxy: Some(FEATURE_UNSUPPORTED),
                friend: Some(FEATURE_UNSUPPORTED),
                low_power: Some(FEATURE_UNSUPPORTED),
            }),
            secure_network_beacon: Some(s.beacon),
            default_ttl: Some(s.default_ttl),
            network_transmit: Some(CdbTransmit::from_state(s.network_transmit)),
            relay_retransmit: Some(CdbTransmit::from_state(s.relay_retransmit)),
            app_keys: s
                .app_keys
                .iter()
                .map(|k| CdbNodeKey {
                    index: k.index,
                    updated: k.new_key.is_some(),
                })
                .collect(),
            elements,
            excluded: false,
            heartbeat_pub: s.heartbeat_publication.as_ref().map(|h| CdbHeartbeatPub {
                address: Hex16(h.dst.0),
                period: log_to_period(h.period_log),
                ttl: h.ttl,
                index: h.net_index,
                features: FEATURES
                    .iter()
                    .filter(|(_, bit)| h.features & bit != 0)
                    .map(|(n, _)| (*n).to_owned())
                    .collect(),
            }),
            heartbeat_sub: s.heartbeat_subscription.as_ref().map(|h| CdbHeartbeatSub {
                source: Hex16(h.src.0),
                destination: Hex16(h.dst.0),
            }),
            sequence_number: None,
        }
    }
}

/// Heartbeat feature names and their bits (MshPRT §4.2.17.5).
pub(super) const FEATURES: [(&str, u16); 4] = [
    ("relay", 0x0001),
    ("proxy", 0x0002),
    ("friend", 0x0004),
    ("lowPower", 0x0008),
];

pub(super) fn feature_bit(name: &str) -> Option<u16> {
    FEATURES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Heartbeat period in seconds → Period Log (MshPRT §4.2.17.3): 0 → 0, 2^(n-1) → n, 0xFFFF → 0x11.
pub(super) fn period_log(period: u32) -> Option<u8> {
    match period {
        0 => Some(0),
        0xFFFF => Some(0x11),
        p if p.is_power_of_two() && p <= 0x8000 => Some(p.trailing_zeros() as u8 + 1),
        _ => None,
    }
}

pub(super) fn log_to_period(log: u8) -> u32 {
    match log {
        0 => 0,
        1..=0x10 => 1 << (log - 1),
        _ => 0xFFFF,
    }
}

pub(super) fn label_for(a: Address, labels: &[[u8; 16]]) -> CdbAddress {
    if a.is_virtual() {
        if let Some(l) = labels
            .iter()
            .find(|l| crate::ble::crypto::virtual_address(l) == a.0)
        {
            return CdbAddress::Label(*l);
        }
    }
    CdbAddress::Address(a.0)
}

pub(super) fn publish_from_state(p: &Publication) -> CdbPublish {
    CdbPublish {
        address: match p.label {
            Some(l) => CdbAddress::Label(l),
            None => CdbAddress::Address(p.address.0),
        },
        index: p.params.app_key_index.get(),
        ttl: p.params.ttl,
        period: CdbPeriod::from_state(p.params.period),
        credentials: p.params.credential_flag,
        retransmit: CdbPubRetransmit {
            count: p.params.retransmit.count & 7,
            interval: (u16::from(p.params.retransmit.interval_steps & 0x1F) + 1) * 50,
        },
    }
}

fn publish_to_state(p: &CdbPublish) -> Option<Publication> {
    let address = p.address.address();
    if address.is_unassigned() {
        return None; // Publication disabled.
    }
    Some(Publication {
        address,
        label: match p.address {
            CdbAddress::Label(l) => Some(l),
            CdbAddress::Address(_) => None,
        },
        params: PubParams {
            app_key_index: KeyIndex::from_bits(p.index),
            credential_flag: p.credentials,
            ttl: p.ttl,
            period: p.period.to_state()?,
            retransmit: Retransmit {
                count: p.retransmit.count & 7,
                interval_steps: (p.retransmit.interval / 50).saturating_sub(1) as u8,
            },
        },
    })
}
