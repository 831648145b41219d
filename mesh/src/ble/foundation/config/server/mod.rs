//! The Configuration Server model (Mesh Protocol 1.1 §4.4.1): how a node answers the
//! Configuration messages of §4.3.2, as a pure function over its persisted [`NodeState`].
//!
//! [`handle`] changes the state, returns the status message to send back (if any) and a list of
//! [`Effect`]s that tell the [`Node`](crate::ble::node::Node) what else to do: rebuild derived
//! keys, move a subnet through the key refresh phases, restart timers, reset. There is no I/O and no clock
//! here: [`handle_at`] is given `now` and the one piece of run-time state the server reports,
//! the Heartbeat Subscription counters ([`HeartbeatSubscriptionCounters`]).
//!
//! Contract with the caller:
//!
//! * Key Refresh Phase changes are *not* written to the state by [`handle`]: it emits
//!   [`Effect::KeyRefresh`] and the caller applies it with `Node::set_key_refresh_phase` (or
//!   [`apply_key_refresh`], which makes the same change to a bare state) before the next
//!   message. NetKey Update stores the new key and asks for phase 1 that way.
//! * Every effect other than [`Effect::NodeReset`] means the state changed and must be
//!   persisted. [`Effect::NodeReset`] asks the node to reset after the reply has gone out.
//! * Messages with values the specification prohibits get no reply (a prohibited value makes
//!   the whole message ignored): a non-unicast element address, a virtual publish address in
//!   Model Publication Set, prohibited Heartbeat Subscription addresses, and the like. The
//!   codec ([`ConfigMessage::parse`]) already rejects most of them.
//! * Status and List messages (what a Configuration Client receives) get no reply.
//!
//! Choices where the specification leaves room (they follow Zephyr's `cfg_srv.c`, which passes
//! the qualification tests): deleting a NetKey or AppKey that is not stored is a Success (a
//! retried request whose status was lost); the Configuration Server and Client are secured
//! with the device key, so they cannot be bound to AppKeys (Cannot Bind), cannot publish
//! (Invalid Publish Parameters) and do not subscribe (Not a Subscribe Model).
//!
//! | file | the messages it answers |
//! |------|-------------------------|
//! | `mod.rs` | the dispatch; Composition Data, Beacon, Default TTL, GATT Proxy, Friend, Relay, Network Transmit, Node Reset (§4.3.2.1..=§4.3.2.14, §4.3.2.53..=§4.3.2.55, §4.3.2.65..=§4.3.2.71) |
//! | `keys.rs` | NetKeys, AppKeys, Node Identity, Key Refresh Phase (§4.3.2.31..=§4.3.2.45, §4.3.2.56..=§4.3.2.58) |
//! | `models.rs` | Model App bindings, Model Publication, Subscription Lists (§4.3.2.15..=§4.3.2.30, §4.3.2.46..=§4.3.2.52) |
//! | `heartbeat.rs` | Heartbeat Publication and Subscription (§4.3.2.59..=§4.3.2.64) |

use super::{
    ConfigMessage, FeatureState, HeartbeatPublication as HeartbeatPublicationParams,
    HeartbeatSubscription as HeartbeatSubscriptionParams, Publication as PublishParams,
    PublishPeriod, Retransmit, StatusCode,
};
use crate::ble::address::Address;
use crate::ble::crypto::virtual_address;
use crate::ble::foundation::composition::{CompositionDataPage0, Element, VendorModelId};
use crate::ble::models::{KeyIndex, ModelId};
use crate::ble::wire::control::Features;
use crate::time::{Duration, Instant};

use crate::ble::node::state::{
    AppKeyState, HeartbeatPublication, HeartbeatSubscription, KeyRefreshPhase, NetKeyState,
    NodeState, Publication,
};

mod heartbeat;
mod keys;
mod models;
#[cfg(test)]
mod tests;

pub use heartbeat::{
    heartbeat_received, heartbeat_subscription_report, HeartbeatSubscriptionCounters,
    HeartbeatSubscriptionReport,
};
pub use keys::apply_key_refresh;
use models::{Sub, SubOp};

/// Most NetKeys the node stores; more gives Insufficient Resources (Config NetKey Add,
/// MshPRT §4.3.2.31).
pub const NET_KEY_CAPACITY: usize = 16;
/// Most AppKeys the node stores; more gives Insufficient Resources (Config AppKey Add,
/// MshPRT §4.3.2.37).
pub const APP_KEY_CAPACITY: usize = 32;
/// Most AppKeys bound to one model (Config Model App Bind, MshPRT §4.3.2.46).
pub const MODEL_KEY_CAPACITY: usize = 16;
/// Most addresses in one model's subscription list (Config Model Subscription Add,
/// MshPRT §4.3.2.19).
pub const SUBSCRIPTION_CAPACITY: usize = 16;

/// Something the node must do besides sending the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// NetKeys or AppKeys were added, updated or deleted: rebuild the derived key material.
    KeysChanged,
    /// Move subnet `net_index` to `phase` (the node applies it with `set_key_refresh_phase`;
    /// Normal after phase 1 or 2 revokes the old keys, MshPRT §3.11.4.3).
    KeyRefresh {
        net_index: u16,
        phase: KeyRefreshPhase,
    },
    /// Config Node Reset (MshPRT §4.3.2.70): send the reply, then forget the network.
    NodeReset,
    /// The Heartbeat Publication state changed: reschedule the periodic Heartbeats.
    HeartbeatPublicationChanged,
    /// The Heartbeat Subscription's Source, Destination or Period Log changed (its run-time
    /// counters and period are in [`HeartbeatSubscriptionCounters`]).
    HeartbeatSubscriptionChanged,
    /// A model's AppKey bindings changed.
    BindingsChanged { element: usize, model: ModelId },
    /// A model's publication changed: restart its periodic publishing.
    PublicationChanged { element: usize, model: ModelId },
    /// A model's subscription list changed.
    SubscriptionsChanged { element: usize, model: ModelId },
    /// The Secure Network Beacon state changed.
    BeaconChanged,
    /// The Relay or Relay Retransmit state changed (a Heartbeat may be due, §3.6.7.2).
    RelayChanged,
    /// The Network Transmit state changed.
    NetworkTransmitChanged,
    /// The Default TTL changed.
    DefaultTtlChanged,
    /// The GATT Proxy state changed (disabled: the node closes its proxy connections).
    GattProxyChanged,
    /// A subnet's Node Identity state changed (§4.2.12): run-time state, nothing to persist.
    NodeIdentityChanged,
}

/// What [`handle`] decided: the message to send back and the effects to apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigOutcome {
    /// The status message for the sender (None: no reply).
    pub reply: Option<ConfigMessage>,
    /// What the node must do, in order.
    pub effects: Vec<Effect>,
}

impl ConfigOutcome {
    /// Whether the state changed and must be persisted.
    pub fn state_changed(&self) -> bool {
        self.effects
            .iter()
            .any(|e| !matches!(e, Effect::NodeReset | Effect::NodeIdentityChanged))
    }
}

/// Composition Data Page 0 of the node (MshPRT §4.2.2.1): its identifiers, CRPL, the features
/// it supports (relay, proxy when the node has the feature; not friend or low power) and its elements with their models.
pub fn composition_page0(state: &NodeState) -> CompositionDataPage0 {
    CompositionDataPage0 {
        cid: state.cid,
        pid: state.pid,
        vid: state.vid,
        crpl: state.crpl,
        features: Features(
            Features::RELAY
                | if state.gatt_proxy.is_some() {
                    Features::PROXY
                } else {
                    0
                },
        ),
        elements: state
            .elements
            .iter()
            .map(|e| {
                let mut el = Element::new(e.location);
                for m in &e.models {
                    match m.id {
                        ModelId::Sig(id) => el.sig_models.push(id),
                        ModelId::Vendor {
                            company_id,
                            model_id,
                        } => el.vendor_models.push(VendorModelId {
                            company_id,
                            model_id,
                        }),
                    }
                }
                el
            })
            .collect(),
    }
}

/// The Configuration Server's answer to `msg` (MshPRT §4.4.1), changing `state`, for a caller
/// that holds only the persisted state (tools, a Configuration Client's tests): its Heartbeat
/// Subscription has counted nothing and is not counting, as after a restart. A Set answers as
/// it would on a node; a Get reports Period Log 0. A [`Node`](crate::ble::node::Node) uses [`handle_at`].
pub fn handle(state: &mut NodeState, msg: &ConfigMessage) -> ConfigOutcome {
    handle_at(
        state,
        &mut HeartbeatSubscriptionCounters::default(),
        Instant::ZERO,
        msg,
    )
}

/// The Configuration Server's answer to `msg` at `now` (MshPRT §4.4.1), changing `state` and
/// the node's Heartbeat Subscription counters `hb`.
pub fn handle_at(
    state: &mut NodeState,
    hb: &mut HeartbeatSubscriptionCounters,
    now: Instant,
    msg: &ConfigMessage,
) -> ConfigOutcome {
    let mut s = Server {
        state,
        hb,
        now,
        effects: Vec::new(),
    };
    let reply = s.dispatch(msg);
    ConfigOutcome {
        reply,
        effects: s.effects,
    }
}

/// The handler with the effects collected so far.
struct Server<'a> {
    state: &'a mut NodeState,
    /// The Heartbeat Subscription's run-time counters and period.
    hb: &'a mut HeartbeatSubscriptionCounters,
    now: Instant,
    effects: Vec<Effect>,
}

impl Server<'_> {
    fn effect(&mut self, e: Effect) {
        if !self.effects.contains(&e) {
            self.effects.push(e);
        }
    }

    fn net_key(&self, index: KeyIndex) -> Option<&NetKeyState> {
        self.state.net_keys.iter().find(|k| k.index == index.get())
    }

    fn app_key(&self, index: KeyIndex) -> Option<&AppKeyState> {
        self.state.app_keys.iter().find(|k| k.index == index.get())
    }

    /// The (element, model) indexes a model message addresses, or the status that says why
    /// there is none: Invalid Address, then Invalid Model (MshPRT §4.3.5).
    fn find_model(&self, element: Address, model: ModelId) -> Result<(usize, usize), StatusCode> {
        let e = self
            .state
            .element_of(element)
            .ok_or(StatusCode::InvalidAddress)?;
        let m = self
            .state
            .elements
            .get(e)
            .and_then(|el| el.models.iter().position(|x| x.id == model))
            .ok_or(StatusCode::InvalidModel)?;
        Ok((e, m))
    }

    fn model_mut(
        &mut self,
        (e, m): (usize, usize),
    ) -> Option<&mut crate::ble::node::state::ModelState> {
        self.state.elements.get_mut(e)?.models.get_mut(m)
    }

    fn model_ref(&self, (e, m): (usize, usize)) -> Option<&crate::ble::node::state::ModelState> {
        self.state.elements.get(e)?.models.get(m)
    }

    fn dispatch(&mut self, msg: &ConfigMessage) -> Option<ConfigMessage> {
        use ConfigMessage as M;
        match msg {
            // Composition Data (§4.3.2.4, §4.3.2.5). Only page 0 exists: MshPRT 1.1 answers a request
            // for a page the node does not have with the highest page below it, so page 0
            // answers every request.
            M::CompositionDataGet { .. } => Some(M::CompositionDataStatus {
                page: 0,
                data: composition_page0(self.state).to_bytes(),
            }),

            // Secure Network Beacon (§4.3.2.1..=§4.3.2.3).
            M::BeaconGet => Some(self.beacon_status()),
            M::BeaconSet { enabled } => {
                if self.state.beacon != *enabled {
                    self.state.beacon = *enabled;
                    self.effect(Effect::BeaconChanged);
                }
                Some(self.beacon_status())
            }

            // Default TTL (§4.3.2.6..=§4.3.2.8): 0x01 and 0x80..=0xFF are prohibited (§4.2.7).
            M::DefaultTtlGet => Some(M::DefaultTtlStatus {
                ttl: self.state.default_ttl,
            }),
            M::DefaultTtlSet { ttl } => {
                if *ttl == 0x01 || *ttl >= 0x80 {
                    return None;
                }
                if self.state.default_ttl != *ttl {
                    self.state.default_ttl = *ttl;
                    self.effect(Effect::DefaultTtlChanged);
                }
                Some(M::DefaultTtlStatus { ttl: *ttl })
            }

            // GATT Proxy (§4.3.2.9..=§4.3.2.11, state §4.2.11): a node without the Proxy
            // feature answers 0x02 "not supported" and a Set changes nothing; 0x02 in a Set is
            // prohibited (no answer).
            M::GattProxyGet => Some(self.gatt_proxy_status()),
            M::GattProxySet { state } => {
                let on = match state {
                    FeatureState::Disabled => false,
                    FeatureState::Enabled => true,
                    FeatureState::NotSupported => return None,
                };
                if let Some(cur) = self.state.gatt_proxy {
                    if cur != on {
                        self.state.gatt_proxy = Some(on);
                        self.effect(Effect::GattProxyChanged);
                    }
                }
                Some(self.gatt_proxy_status())
            }
            // Friend (§4.3.2.53..=§4.3.2.55): not supported by this node, so a Set changes
            // nothing and the status says 0x02 "not supported".
            M::FriendGet | M::FriendSet { .. } => Some(M::FriendStatus {
                state: FeatureState::NotSupported,
            }),

            // Relay and Relay Retransmit (§4.3.2.12..=§4.3.2.14).
            M::RelayGet => Some(self.relay_status()),
            M::RelaySet { state, retransmit } => {
                let on = match state {
                    FeatureState::Disabled => false,
                    FeatureState::Enabled => true,
                    // Prohibited in a Set message (§4.3.2.13).
                    FeatureState::NotSupported => return None,
                };
                let rt = Retransmit::from_byte(retransmit.to_byte());
                if self.state.relay != on || self.state.relay_retransmit != rt {
                    self.state.relay = on;
                    self.state.relay_retransmit = rt;
                    self.effect(Effect::RelayChanged);
                }
                Some(self.relay_status())
            }

            // Network Transmit (§4.3.2.67..=§4.3.2.69).
            M::NetworkTransmitGet => Some(M::NetworkTransmitStatus {
                transmit: self.state.network_transmit,
            }),
            M::NetworkTransmitSet { transmit } => {
                let t = Retransmit::from_byte(transmit.to_byte());
                if self.state.network_transmit != t {
                    self.state.network_transmit = t;
                    self.effect(Effect::NetworkTransmitChanged);
                }
                Some(M::NetworkTransmitStatus { transmit: t })
            }

            // Node Identity (§4.3.2.43..=§4.3.2.45): with the Proxy feature only.
            M::NodeIdentityGet { net_key_index } => Some(self.node_identity(*net_key_index, None)),
            M::NodeIdentitySet {
                net_key_index,
                identity,
            } => {
                if *identity == FeatureState::NotSupported {
                    // Prohibited in a Set message (§4.3.2.44).
                    return None;
                }
                Some(self.node_identity(*net_key_index, Some(*identity)))
            }

            // Low Power Node PollTimeout (§4.3.2.65): no Friend feature, so no friendship.
            M::LowPowerNodePollTimeoutGet { lpn } => {
                if !lpn.is_unicast() {
                    return None;
                }
                Some(M::LowPowerNodePollTimeoutStatus {
                    lpn: *lpn,
                    poll_timeout: 0,
                })
            }

            // Node Reset (§4.3.2.70, §4.3.2.71): answer first, then reset.
            M::NodeReset => {
                self.effect(Effect::NodeReset);
                Some(M::NodeResetStatus)
            }

            M::NetKeyAdd { net_key_index, key } => Some(M::NetKeyStatus {
                status: self.netkey_add(*net_key_index, key),
                net_key_index: *net_key_index,
            }),
            M::NetKeyUpdate { net_key_index, key } => Some(M::NetKeyStatus {
                status: self.netkey_update(*net_key_index, key),
                net_key_index: *net_key_index,
            }),
            M::NetKeyDelete { net_key_index } => Some(M::NetKeyStatus {
                status: self.netkey_delete(*net_key_index),
                net_key_index: *net_key_index,
            }),
            M::NetKeyGet => Some(M::NetKeyList {
                net_key_indexes: self
                    .state
                    .net_keys
                    .iter()
                    .map(|k| KeyIndex::from_bits(k.index))
                    .collect(),
            }),

            M::AppKeyAdd {
                net_key_index,
                app_key_index,
                key,
            } => Some(M::AppKeyStatus {
                status: self.appkey_add(*net_key_index, *app_key_index, key),
                net_key_index: *net_key_index,
                app_key_index: *app_key_index,
            }),
            M::AppKeyUpdate {
                net_key_index,
                app_key_index,
                key,
            } => Some(M::AppKeyStatus {
                status: self.appkey_update(*net_key_index, *app_key_index, key),
                net_key_index: *net_key_index,
                app_key_index: *app_key_index,
            }),
            M::AppKeyDelete {
                net_key_index,
                app_key_index,
            } => Some(M::AppKeyStatus {
                status: self.appkey_delete(*net_key_index, *app_key_index),
                net_key_index: *net_key_index,
                app_key_index: *app_key_index,
            }),
            M::AppKeyGet { net_key_index } => Some(self.appkey_list(*net_key_index)),

            M::ModelAppBind {
                element,
                app_key_index,
                model,
            } => self.model_app(*element, *app_key_index, *model, true),
            M::ModelAppUnbind {
                element,
                app_key_index,
                model,
            } => self.model_app(*element, *app_key_index, *model, false),
            M::ModelAppGet { element, model } => self.model_app_get(*element, *model),

            M::ModelPublicationGet { element, model } => self.publication_get(*element, *model),
            M::ModelPublicationSet {
                element,
                address,
                publication,
                model,
            } => {
                // §4.3.2.16: the publish address is unassigned, unicast or group; a virtual
                // address goes in the Virtual Address Set message.
                if address.is_virtual() {
                    return None;
                }
                self.publication_set(*element, *address, None, publication, *model)
            }
            M::ModelPublicationVirtualAddressSet {
                element,
                label,
                publication,
                model,
            } => {
                let va = Address(virtual_address(label));
                self.publication_set(*element, va, Some(*label), publication, *model)
            }

            M::ModelSubscriptionAdd {
                element,
                address,
                model,
            } => self.subscription(*element, *model, SubOp::Add, Sub::Group(*address)),
            M::ModelSubscriptionDelete {
                element,
                address,
                model,
            } => self.subscription(*element, *model, SubOp::Delete, Sub::Group(*address)),
            M::ModelSubscriptionOverwrite {
                element,
                address,
                model,
            } => self.subscription(*element, *model, SubOp::Overwrite, Sub::Group(*address)),
            M::ModelSubscriptionVirtualAddressAdd {
                element,
                label,
                model,
            } => self.subscription(*element, *model, SubOp::Add, Sub::Virtual(*label)),
            M::ModelSubscriptionVirtualAddressDelete {
                element,
                label,
                model,
            } => self.subscription(*element, *model, SubOp::Delete, Sub::Virtual(*label)),
            M::ModelSubscriptionVirtualAddressOverwrite {
                element,
                label,
                model,
            } => self.subscription(*element, *model, SubOp::Overwrite, Sub::Virtual(*label)),
            M::ModelSubscriptionDeleteAll { element, model } => {
                self.subscription(*element, *model, SubOp::DeleteAll, Sub::None)
            }
            M::ModelSubscriptionGet { element, model } => self.subscription_get(*element, *model),

            M::KeyRefreshPhaseGet { net_key_index } => {
                let (status, phase) = match self.net_key(*net_key_index) {
                    Some(k) => (StatusCode::Success, k.phase.to_u8()),
                    None => (StatusCode::InvalidNetKeyIndex, 0),
                };
                Some(M::KeyRefreshPhaseStatus {
                    status,
                    net_key_index: *net_key_index,
                    phase,
                })
            }
            M::KeyRefreshPhaseSet {
                net_key_index,
                transition,
            } => self.key_refresh_set(*net_key_index, *transition),

            M::HeartbeatPublicationGet => Some(self.heartbeat_publication_status()),
            M::HeartbeatPublicationSet(p) => self.heartbeat_publication_set(p),
            M::HeartbeatSubscriptionGet => Some(self.heartbeat_subscription_status()),
            M::HeartbeatSubscriptionSet {
                source,
                destination,
                period_log,
            } => self.heartbeat_subscription_set(*source, *destination, *period_log),

            // What a Configuration Client receives: nothing to answer.
            M::BeaconStatus { .. }
            | M::CompositionDataStatus { .. }
            | M::DefaultTtlStatus { .. }
            | M::GattProxyStatus { .. }
            | M::RelayStatus { .. }
            | M::ModelPublicationStatus { .. }
            | M::ModelSubscriptionStatus { .. }
            | M::ModelSubscriptionList { .. }
            | M::NetKeyStatus { .. }
            | M::NetKeyList { .. }
            | M::AppKeyStatus { .. }
            | M::AppKeyList { .. }
            | M::NodeIdentityStatus { .. }
            | M::ModelAppStatus { .. }
            | M::ModelAppList { .. }
            | M::FriendStatus { .. }
            | M::KeyRefreshPhaseStatus { .. }
            | M::HeartbeatPublicationStatus { .. }
            | M::HeartbeatSubscriptionStatus(_)
            | M::LowPowerNodePollTimeoutStatus { .. }
            | M::NetworkTransmitStatus { .. }
            | M::NodeResetStatus => None,
        }
    }

    fn beacon_status(&self) -> ConfigMessage {
        ConfigMessage::BeaconStatus {
            enabled: self.state.beacon,
        }
    }

    fn relay_status(&self) -> ConfigMessage {
        ConfigMessage::RelayStatus {
            state: if self.state.relay {
                FeatureState::Enabled
            } else {
                FeatureState::Disabled
            },
            retransmit: self.state.relay_retransmit,
        }
    }

    fn gatt_proxy_status(&self) -> ConfigMessage {
        ConfigMessage::GattProxyStatus {
            state: match self.state.gatt_proxy {
                None => FeatureState::NotSupported,
                Some(true) => FeatureState::Enabled,
                Some(false) => FeatureState::Disabled,
            },
        }
    }
}
