//! What the database learns from the Configuration Client: the answers of a node's
//! Configuration Server (MshPRT §4.3.2) into the node's record.

use super::convert::{label_for, log_to_period, publish_from_state, FEATURES};
use super::{
    Cdb, CdbAddress, CdbElement, CdbHeartbeatPub, CdbHeartbeatSub, CdbModel, CdbModelId, CdbNode,
    CdbNodeKey, CdbTransmit, Hex16, FEATURE_UNSUPPORTED,
};
use crate::ble::address::Address;
use crate::ble::foundation::composition::CompositionDataPage0;
use crate::ble::foundation::config::client::ConfigClientEvent;
use crate::ble::foundation::config::{ConfigMessage, FeatureState};
use crate::ble::models::ModelId;
use crate::ble::node::state::Publication;

impl Cdb {
    /// What a Configuration Client procedure learnt, into the database: every answer into
    /// the node's record ([`CdbNode::record`]); a Node Reset Status removes the node
    /// ([`Cdb::remove_node`] at `iv_index`); a finished procedure marks the node configured.
    pub fn apply(&mut self, event: &ConfigClientEvent, iv_index: u32) {
        match event {
            ConfigClientEvent::Answered {
                node,
                request,
                status,
            } => {
                if matches!(status, ConfigMessage::NodeResetStatus) {
                    self.remove_node(node.get(), iv_index);
                } else if let Some(n) = self.node_mut(node.get()) {
                    n.record(request, status);
                }
            }
            ConfigClientEvent::Done { node } => {
                if let Some(n) = self.node_mut(node.get()) {
                    n.config_complete = true;
                }
            }
            ConfigClientEvent::Failed { .. } => {}
        }
    }
}

impl CdbNode {
    /// Learns from `status`, the answer of this node's Configuration Server to `request`
    /// (MshPRT §4.3.2): what the node now has, as the CDB writes it. A status with a Status
    /// Code other than Success (MshPRT §4.3.5) changes nothing, nor does a status that does not
    /// answer `request` (see [`ConfigMessage::status_opcode`]), nor one about an element
    /// address outside the node.
    ///
    /// - Composition Data page 0: CID, PID, VID, CRPL, which features are supported, and the
    ///   elements (location, models); a model already recorded on the same element keeps its
    ///   bindings, subscriptions and publication.
    /// - AppKey and NetKey Add, Update, Delete, NetKey List; Model App Bind, Unbind, List
    ///   (deleting or unbinding an AppKey also stops the publications that use it, as the
    ///   Configuration Server does); Model Subscription Add, Delete, Overwrite, Delete All, their
    ///   virtual-address variants and List; Model Publication Set, Virtual Address Set, Get
    ///   (unassigned: no publication).
    /// - Relay (state and Relay Retransmit), GATT Proxy, Friend, Default TTL, Beacon, Network
    ///   Transmit, Heartbeat Publication and Subscription.
    pub fn record(&mut self, request: &ConfigMessage, status: &ConfigMessage) {
        use ConfigMessage as M;
        if request.status_opcode() != Some(status.opcode())
            || status.status().is_some_and(|s| !s.is_success())
        {
            return;
        }
        match status {
            M::CompositionDataStatus { page: 0, data } => {
                if let Ok(page) = CompositionDataPage0::parse(data) {
                    self.record_composition(&page);
                }
            }
            M::AppKeyStatus { app_key_index, .. } => {
                let index = app_key_index.get();
                match request {
                    M::AppKeyAdd { .. } => add_key(&mut self.app_keys, index, false),
                    M::AppKeyUpdate { .. } => add_key(&mut self.app_keys, index, true),
                    M::AppKeyDelete { .. } => {
                        self.app_keys.retain(|k| k.index != index);
                        for m in self.elements.iter_mut().flat_map(|e| &mut e.models) {
                            unbind(m, index);
                        }
                    }
                    _ => {}
                }
            }
            M::NetKeyStatus { net_key_index, .. } => {
                let index = net_key_index.get();
                match request {
                    M::NetKeyAdd { .. } => add_key(&mut self.net_keys, index, false),
                    M::NetKeyUpdate { .. } => add_key(&mut self.net_keys, index, true),
                    M::NetKeyDelete { .. } => self.net_keys.retain(|k| k.index != index),
                    _ => {}
                }
            }
            M::NetKeyList { net_key_indexes } => {
                let old = core::mem::take(&mut self.net_keys);
                self.net_keys = net_key_indexes
                    .iter()
                    .map(|i| CdbNodeKey {
                        index: i.get(),
                        updated: old.iter().any(|k| k.index == i.get() && k.updated),
                    })
                    .collect();
            }
            M::ModelAppStatus {
                element,
                app_key_index,
                model,
                ..
            } => {
                let index = app_key_index.get();
                let bind = matches!(request, M::ModelAppBind { .. });
                if let Some(m) = self.model_mut(*element, *model) {
                    if bind {
                        if !m.bind.contains(&index) {
                            m.bind.push(index);
                        }
                    } else {
                        unbind(m, index);
                    }
                }
            }
            M::ModelAppList {
                element,
                model,
                app_key_indexes,
                ..
            } => {
                if let Some(m) = self.model_mut(*element, *model) {
                    m.bind = app_key_indexes.iter().map(|k| k.get()).collect();
                }
            }
            M::ModelSubscriptionStatus { element, model, .. } => {
                let Some(m) = self.model_mut(*element, *model) else {
                    return;
                };
                let add = |m: &mut CdbModel, a: CdbAddress| {
                    if !m.subscribe.contains(&a) {
                        m.subscribe.push(a);
                    }
                };
                match request {
                    M::ModelSubscriptionAdd { address, .. } => {
                        add(m, CdbAddress::Address(address.0))
                    }
                    M::ModelSubscriptionVirtualAddressAdd { label, .. } => {
                        add(m, CdbAddress::Label(*label))
                    }
                    M::ModelSubscriptionDelete { address, .. } => {
                        m.subscribe.retain(|a| *a != CdbAddress::Address(address.0))
                    }
                    M::ModelSubscriptionVirtualAddressDelete { label, .. } => {
                        m.subscribe.retain(|a| *a != CdbAddress::Label(*label))
                    }
                    M::ModelSubscriptionOverwrite { address, .. } => {
                        m.subscribe = vec![CdbAddress::Address(address.0)]
                    }
                    M::ModelSubscriptionVirtualAddressOverwrite { label, .. } => {
                        m.subscribe = vec![CdbAddress::Label(*label)]
                    }
                    M::ModelSubscriptionDeleteAll { .. } => m.subscribe.clear(),
                    _ => {}
                }
            }
            M::ModelSubscriptionList {
                element,
                model,
                addresses,
                ..
            } => {
                if let Some(m) = self.model_mut(*element, *model) {
                    // A virtual address keeps the Label UUID recorded for it.
                    let labels: Vec<[u8; 16]> = m
                        .subscribe
                        .iter()
                        .filter_map(|a| match a {
                            CdbAddress::Label(l) => Some(*l),
                            CdbAddress::Address(_) => None,
                        })
                        .collect();
                    m.subscribe = addresses.iter().map(|a| label_for(*a, &labels)).collect();
                }
            }
            M::ModelPublicationStatus {
                element,
                address,
                publication,
                model,
                ..
            } => {
                let Some(m) = self.model_mut(*element, *model) else {
                    return;
                };
                // MshPRT §4.2.3.1: the unassigned address means no publication.
                if address.is_unassigned() {
                    m.publish = None;
                    return;
                }
                let mut labels: Vec<[u8; 16]> = m
                    .publish
                    .iter()
                    .filter_map(|p| match p.address {
                        CdbAddress::Label(l) => Some(l),
                        CdbAddress::Address(_) => None,
                    })
                    .collect();
                if let M::ModelPublicationVirtualAddressSet { label, .. } = request {
                    labels.insert(0, *label);
                }
                let label = match label_for(*address, &labels) {
                    CdbAddress::Label(l) => Some(l),
                    CdbAddress::Address(_) => None,
                };
                m.publish = Some(publish_from_state(&Publication {
                    address: *address,
                    label,
                    params: *publication,
                }));
            }
            M::RelayStatus { state, retransmit } => {
                self.features.get_or_insert_with(Default::default).relay = Some(*state as u8);
                if *state != FeatureState::NotSupported {
                    self.relay_retransmit = Some(CdbTransmit::from_state(*retransmit));
                }
            }
            M::GattProxyStatus { state } => {
                self.features.get_or_insert_with(Default::default).proxy = Some(*state as u8);
            }
            M::FriendStatus { state } => {
                self.features.get_or_insert_with(Default::default).friend = Some(*state as u8);
            }
            M::DefaultTtlStatus { ttl } => self.default_ttl = Some(*ttl),
            M::BeaconStatus { enabled } => self.secure_network_beacon = Some(*enabled),
            M::NetworkTransmitStatus { transmit } => {
                self.network_transmit = Some(CdbTransmit::from_state(*transmit));
            }
            M::HeartbeatPublicationStatus { publication: h, .. } => {
                // MshPRT §4.2.17.1: the unassigned destination means no publication.
                self.heartbeat_pub = (!h.destination.is_unassigned()).then(|| CdbHeartbeatPub {
                    address: Hex16(h.destination.0),
                    period: log_to_period(h.period_log),
                    ttl: h.ttl,
                    index: h.net_key_index.get(),
                    features: FEATURES
                        .iter()
                        .filter(|(_, bit)| h.features.0 & bit != 0)
                        .map(|(n, _)| (*n).to_owned())
                        .collect(),
                });
            }
            M::HeartbeatSubscriptionStatus(h) => {
                // MshPRT §4.2.18.1, §4.2.18.2: an unassigned source or destination means no
                // subscription.
                self.heartbeat_sub = (!h.source.is_unassigned() && !h.destination.is_unassigned())
                    .then_some(CdbHeartbeatSub {
                        source: Hex16(h.source.0),
                        destination: Hex16(h.destination.0),
                    });
            }
            _ => {}
        }
    }

    /// Composition Data page 0 (MshPRT §4.2.2.1) into the record.
    fn record_composition(&mut self, page: &CompositionDataPage0) {
        self.cid = Some(Hex16(page.cid));
        self.pid = Some(Hex16(page.pid));
        self.vid = Some(Hex16(page.vid));
        self.crpl = Some(Hex16(page.crpl));
        // The page says which features are supported, not their state: a supported feature
        // keeps a state already known (enabled or disabled), else it is unknown.
        let f = self.features.get_or_insert_with(Default::default);
        let support = |state: &mut Option<u8>, supported: bool| {
            *state = match (*state, supported) {
                (_, false) => Some(FEATURE_UNSUPPORTED),
                (Some(s), true) if s != FEATURE_UNSUPPORTED => Some(s),
                (_, true) => None,
            };
        };
        support(&mut f.relay, page.features.relay());
        support(&mut f.proxy, page.features.proxy());
        support(&mut f.friend, page.features.friend());
        support(&mut f.low_power, page.features.low_power());
        let mut old = core::mem::take(&mut self.elements);
        self.elements = page
            .elements
            .iter()
            // MshPRT §4.2.2.1: at most 256 elements have an index.
            .take(usize::from(u8::MAX) + 1)
            .enumerate()
            .map(|(i, el)| {
                let index = i as u8;
                let was = old.iter_mut().find(|e| usize::from(e.index) == i);
                let (name, mut models) = match was {
                    Some(e) => (e.name.take(), core::mem::take(&mut e.models)),
                    None => (None, Vec::new()),
                };
                CdbElement {
                    name,
                    index,
                    location: Hex16(el.location),
                    models: el
                        .models()
                        .map(|id| match models.iter().position(|m| m.model_id.0 == id) {
                            Some(k) => models.swap_remove(k),
                            None => CdbModel {
                                model_id: CdbModelId(id),
                                bind: Vec::new(),
                                subscribe: Vec::new(),
                                publish: None,
                            },
                        })
                        .collect(),
                }
            })
            .collect();
    }

    /// The record of `model` on the element at `element`, added when the node's composition is
    /// not recorded yet; `None` for an address outside the node's 256 possible elements.
    fn model_mut(&mut self, element: Address, model: ModelId) -> Option<&mut CdbModel> {
        let index = element.0.checked_sub(self.unicast_address.0)?;
        let index = u8::try_from(index).ok()?;
        if !element.is_unicast() {
            return None;
        }
        let e = match self.elements.iter().position(|e| e.index == index) {
            Some(e) => e,
            None => {
                self.elements.push(CdbElement {
                    name: None,
                    index,
                    location: Hex16(0),
                    models: Vec::new(),
                });
                self.elements.len() - 1
            }
        };
        let models = &mut self.elements[e].models;
        let m = match models.iter().position(|m| m.model_id.0 == model) {
            Some(m) => m,
            None => {
                models.push(CdbModel {
                    model_id: CdbModelId(model),
                    bind: Vec::new(),
                    subscribe: Vec::new(),
                    publish: None,
                });
                models.len() - 1
            }
        };
        models.get_mut(m)
    }
}

fn add_key(keys: &mut Vec<CdbNodeKey>, index: u16, updated: bool) {
    match keys.iter_mut().find(|k| k.index == index) {
        Some(k) => k.updated |= updated,
        None => keys.push(CdbNodeKey { index, updated }),
    }
}

/// Unbinds AppKey `index` from a model; a publication with that key stops (as the
/// Configuration Server does, Zephyr's `mod_unbind`).
fn unbind(m: &mut CdbModel, index: u16) {
    m.bind.retain(|k| *k != index);
    if m.publish.as_ref().is_some_and(|p| p.index == index) {
        m.publish = None;
    }
}
