//! The Configuration Server model (Mesh Protocol 1.1 §4.4.1): how a node answers the
//! Configuration messages of §4.3.2, as a pure function over its persisted [`NodeState`].
//!
//! [`handle`] changes the state, returns the status message to send back (if any) and a list of
//! [`Effect`]s that tell the [`Node`](crate::ble::node::Node) what else to do: rebuild derived keys, move a
//! subnet through the key refresh phases, restart timers, reset. There is no I/O and no clock
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

/// Key Refresh Phase Transition values of Config Key Refresh Phase Set (MshPRT §4.2.14).
const TRANSITION_PHASE2: u8 = 0x02;
const TRANSITION_PHASE3: u8 = 0x03;
/// The Heartbeat Publication Features bits that are defined: relay, proxy, friend, low power
/// (MshPRT §4.2.17.5; bits 4-15 RFU).
const HEARTBEAT_FEATURES: u16 = 0x000F;
/// Min Hops of a subscription that has counted no Heartbeat yet: a Set that starts one sets it
/// to 0x7F (MshPRT §4.2.18.5; Configuration Server behaviour, §4.4.1.2.16 in MshPRF 1.0.1).
const MIN_HOPS_INITIAL: u8 = 0x7F;
/// The largest hop count the Min Hops and Max Hops states hold (MshPRT §4.2.18.5, §4.2.18.6:
/// 0x80..=0xFF are prohibited). A forged Heartbeat (InitTTL 0x7F received with TTL 0) would
/// give 0x80.
const MAX_HOPS_VALUE: u8 = 0x7F;

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
        self.effects.iter().any(|e| *e != Effect::NodeReset)
    }
}

/// Composition Data Page 0 of the node (MshPRT §4.2.2.1): its identifiers, CRPL, the features
/// it supports (relay; not proxy, friend or low power) and its elements with their models.
pub fn composition_page0(state: &NodeState) -> CompositionDataPage0 {
    CompositionDataPage0 {
        cid: state.cid,
        pid: state.pid,
        vid: state.vid,
        crpl: state.crpl,
        features: Features(Features::RELAY),
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

/// Moves subnet `net_index` to `phase` in a bare state, as `Node::set_key_refresh_phase` does:
/// Normal after phase 1 or 2 makes the new NetKey and the new AppKeys bound to it the only
/// ones (MshPRT §3.11.4.3). Returns whether anything changed.
pub fn apply_key_refresh(state: &mut NodeState, net_index: u16, phase: KeyRefreshPhase) -> bool {
    let Some(k) = state.net_keys.iter_mut().find(|k| k.index == net_index) else {
        return false;
    };
    if k.new_key.is_none() || k.phase == phase {
        return false;
    }
    if phase == KeyRefreshPhase::Normal {
        if let Some(n) = k.new_key.take() {
            k.key = n;
        }
        for a in state
            .app_keys
            .iter_mut()
            .filter(|a| a.net_index == net_index)
        {
            if let Some(n) = a.new_key.take() {
                a.key = n;
            }
        }
    }
    k.phase = phase;
    true
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

/// The run-time part of the Heartbeat Subscription (MshPRT §4.2.18): how long it still counts
/// and what it has counted since the last Config Heartbeat Subscription Set that started it.
/// Source and Destination are persisted ([`NodeState::heartbeat_subscription`]); these are not,
/// as in Zephyr, which persists no Heartbeat Subscription state at all: a restarted node has
/// counted nothing and is not counting until the next Set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatSubscriptionCounters {
    /// When the Heartbeat Subscription Period reaches 0 (None: not counting).
    end: Option<Instant>,
    /// Heartbeat Subscription Count (§4.2.18.3): Heartbeats counted, stops at 0xFFFF.
    count: u16,
    /// Heartbeat Subscription Min Hops (§4.2.18.5).
    min_hops: u8,
    /// Heartbeat Subscription Max Hops (§4.2.18.6).
    max_hops: u8,
}

impl Default for HeartbeatSubscriptionCounters {
    /// Nothing counted, not counting: the values a Set that starts a subscription gives, with
    /// no period.
    fn default() -> Self {
        HeartbeatSubscriptionCounters {
            end: None,
            count: 0,
            min_hops: MIN_HOPS_INITIAL,
            max_hops: 0,
        }
    }
}

impl HeartbeatSubscriptionCounters {
    /// The remaining Heartbeat Subscription Period at `now` in seconds, rounded up: the whole
    /// period right after the Set, 0 once it has run out (§4.2.18.4).
    pub fn remaining(&self, now: Instant) -> u16 {
        match self.end {
            Some(end) if end > now => {
                let secs = (end - now).as_micros().div_ceil(1_000_000);
                u16::try_from(secs).unwrap_or(u16::MAX)
            }
            _ => 0,
        }
    }

    /// Whether Heartbeats are counted at `now`: the period has not run out.
    pub fn counting(&self, now: Instant) -> bool {
        self.end.is_some_and(|end| now < end)
    }

    /// Counts a Heartbeat that arrived over `hops` hops (§3.6.5.10: InitTTL - RxTTL + 1) if the
    /// period runs; returns whether it was counted.
    fn record(&mut self, now: Instant, hops: u8) -> bool {
        if !self.counting(now) {
            return false;
        }
        // A Heartbeat travels at least one hop.
        let hops = hops.clamp(1, MAX_HOPS_VALUE);
        self.count = self.count.saturating_add(1);
        self.min_hops = self.min_hops.min(hops);
        self.max_hops = self.max_hops.max(hops);
        true
    }
}

/// A Heartbeat Subscription as it stands at one instant (MshPRT §4.2.18), in exact values
/// rather than the logarithms of the Status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatSubscriptionReport {
    /// Heartbeat Subscription Source (§4.2.18.1).
    pub source: Address,
    /// Heartbeat Subscription Destination (§4.2.18.2).
    pub destination: Address,
    /// Remaining Heartbeat Subscription Period in seconds (§4.2.18.4); 0: not counting.
    pub remaining: u16,
    /// Heartbeats counted (§4.2.18.3), 0xFFFF at most.
    pub count: u16,
    /// Fewest hops of the counted Heartbeats; 0x7F while none was counted (§4.2.18.5).
    pub min_hops: u8,
    /// Most hops of the counted Heartbeats; 0 while none was counted (§4.2.18.6).
    pub max_hops: u8,
}

/// The node's Heartbeat Subscription at `now`; None when its Source or Destination is
/// unassigned (no subscription).
pub fn heartbeat_subscription_report(
    state: &NodeState,
    hb: &HeartbeatSubscriptionCounters,
    now: Instant,
) -> Option<HeartbeatSubscriptionReport> {
    let s = state.heartbeat_subscription.as_ref()?;
    if s.src.is_unassigned() || s.dst.is_unassigned() {
        return None;
    }
    Some(HeartbeatSubscriptionReport {
        source: s.src,
        destination: s.dst,
        remaining: hb.remaining(now),
        count: hb.count,
        min_hops: hb.min_hops,
        max_hops: hb.max_hops,
    })
}

/// A Heartbeat (transport control opcode 0x0A, MshPRT §3.6.5.10) from `src` to `dst` arrived
/// over `hops` hops: it is counted when `src` is the Heartbeat Subscription Source, `dst` its
/// Destination and the period runs (§4.2.18). Returns whether it was counted.
pub fn heartbeat_received(
    state: &NodeState,
    hb: &mut HeartbeatSubscriptionCounters,
    now: Instant,
    src: Address,
    dst: Address,
    hops: u8,
) -> bool {
    match &state.heartbeat_subscription {
        Some(s) if s.src == src && s.dst == dst && !src.is_unassigned() => hb.record(now, hops),
        _ => false,
    }
}

/// Publication parameters of a status that reports no publication: all fields 0
/// (MshPRT §4.3.2.18; Zephyr and BlueZ send zeros on failure).
fn no_publication() -> PublishParams {
    PublishParams {
        app_key_index: KeyIndex::from_bits(0),
        credential_flag: false,
        ttl: 0,
        period: PublishPeriod::from_byte(0),
        retransmit: Retransmit::from_byte(0),
    }
}

/// Whether `model` is secured with the device key only: the Configuration Server and Client
/// (MshPRT §4.4.1, §4.4.2). They take no AppKey, no publication and no subscription.
fn device_key_model(model: ModelId) -> bool {
    model == ModelId::CONFIG_SERVER || model == ModelId::CONFIG_CLIENT
}

/// An address a model may subscribe to with the non-virtual messages: a group address other
/// than all-nodes (MshPRT §4.3.2.19: "The Address field shall not be the all-nodes address").
fn subscribable(addr: Address) -> bool {
    addr.is_group() && addr != Address::ALL_NODES
}

/// Heartbeat Publication Count from a Count Log (MshPRT §4.2.17.2): 0 → 0, n → 2^(n-1),
/// 0xFF → 0xFFFF (indefinitely). 0x11 (2^16) does not fit and becomes 0xFFFE, the largest
/// finite count.
fn count_from_log(log: u8) -> u16 {
    match log {
        0 => 0,
        0xFF => 0xFFFF,
        1..=0x10 => 1 << (log - 1),
        _ => 0xFFFE,
    }
}

/// The Count Log reported for a remaining count (MshPRT §4.3.2.61: the count rounded up to a
/// power of two): 0 → 0, 1 → 1, n → ⌈log2 n⌉ + 1, 0xFFFF → 0xFF.
fn log_from_count(count: u16) -> u8 {
    match count {
        0 => 0,
        1 => 1,
        0xFFFF => 0xFF,
        n => (16 - (n - 1).leading_zeros()) as u8 + 1,
    }
}

/// The Heartbeat Subscription Period in seconds for a Period Log (MshPRT §4.2.18.4): 0 → 0,
/// n → 2^(n-1), 0x11 → 0xFFFF (the period is a 16-bit state, and 0xFFFF is 0x11 in the
/// Mesh CDB too; Zephyr counts 0x10000 s).
fn subscription_period(log: u8) -> u16 {
    match log {
        0 => 0,
        1..=0x10 => 1 << (log - 1),
        _ => 0xFFFF,
    }
}

/// The logarithm the Heartbeat Subscription Status reports for a 16-bit value (MshPRF 1.0.1
/// Table 4.1, the log field transformation): 0 → 0, n → ⌊log2 n⌋ + 1, so n is in
/// 2^(log-1)..=2^log - 1.
fn floor_log(v: u16) -> u8 {
    (16 - v.leading_zeros()) as u8
}

/// Period Log of a remaining period (MshPRT §4.2.18.4): 0xFFFF → 0x11, the counterpart of
/// [`subscription_period`]; otherwise [`floor_log`] (16 s → 5, 15 s → 4).
fn subscription_period_log(remaining: u16) -> u8 {
    match remaining {
        0xFFFF => 0x11,
        r => floor_log(r),
    }
}

/// Count Log of a Heartbeat Subscription Count (MshPRT §4.2.18.3): 0xFFFF (the counter has
/// stopped) → 0xFF; otherwise [`floor_log`], so 0x8000..=0xFFFE → 0x10.
fn subscription_count_log(count: u16) -> u8 {
    match count {
        0xFFFF => 0xFF,
        c => floor_log(c),
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

            // GATT Proxy (§4.3.2.9..=§4.3.2.11) and Friend (§4.3.2.53..=§4.3.2.55): not supported by this node, so a Set
            // changes nothing and the status says 0x02 "not supported".
            M::GattProxyGet | M::GattProxySet { .. } => Some(M::GattProxyStatus {
                state: FeatureState::NotSupported,
            }),
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

            // Node Identity (§4.3.2.43..=§4.3.2.45): needs the Proxy feature, which this node lacks.
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

    /// Node Identity Status (§4.3.2.45): "not supported" for a known subnet; for an unknown
    /// one, Invalid NetKey Index with the requested value (Set) or 0x00 (Get).
    fn node_identity(&self, net_key_index: KeyIndex, set: Option<FeatureState>) -> ConfigMessage {
        let (status, identity) = if self.net_key(net_key_index).is_some() {
            (StatusCode::Success, FeatureState::NotSupported)
        } else {
            (
                StatusCode::InvalidNetKeyIndex,
                set.unwrap_or(FeatureState::Disabled),
            )
        };
        ConfigMessage::NodeIdentityStatus {
            status,
            net_key_index,
            identity,
        }
    }

    // ---------------------------------------------------------------------------------------
    // NetKeys (§4.3.2.31..=§4.3.2.36) and AppKeys (§4.3.2.37..=§4.3.2.42)
    // ---------------------------------------------------------------------------------------

    /// Config NetKey Add: the same index with the same key is a Success (a retry); with a
    /// different key, Key Index Already Stored.
    fn netkey_add(&mut self, index: KeyIndex, key: &[u8; 16]) -> StatusCode {
        if let Some(k) = self.net_key(index) {
            return if k.key == *key {
                StatusCode::Success
            } else {
                StatusCode::KeyIndexAlreadyStored
            };
        }
        if self.state.net_keys.len() >= NET_KEY_CAPACITY {
            return StatusCode::InsufficientResources;
        }
        self.state.net_keys.push(NetKeyState {
            index: index.get(),
            key: *key,
            new_key: None,
            phase: KeyRefreshPhase::Normal,
        });
        self.effect(Effect::KeysChanged);
        StatusCode::Success
    }

    /// Config NetKey Update: starts the key refresh of the subnet (phase 1 with the new key,
    /// §3.11.4.1). In phase 1 the same new key again is a Success; anything else in phase 1
    /// or 2 is Cannot Update.
    fn netkey_update(&mut self, index: KeyIndex, key: &[u8; 16]) -> StatusCode {
        let Some(k) = self
            .state
            .net_keys
            .iter_mut()
            .find(|k| k.index == index.get())
        else {
            return StatusCode::InvalidNetKeyIndex;
        };
        match k.phase {
            KeyRefreshPhase::Normal => {
                k.new_key = Some(*key);
                self.effect(Effect::KeysChanged);
                self.effect(Effect::KeyRefresh {
                    net_index: index.get(),
                    phase: KeyRefreshPhase::First,
                });
                StatusCode::Success
            }
            KeyRefreshPhase::First if k.new_key == Some(*key) => StatusCode::Success,
            KeyRefreshPhase::First | KeyRefreshPhase::Second => StatusCode::CannotUpdate,
        }
    }

    /// Config NetKey Delete: removes the subnet with its AppKeys (and their bindings and
    /// publications) and a Heartbeat Publication on it. The last NetKey cannot be removed.
    fn netkey_delete(&mut self, index: KeyIndex) -> StatusCode {
        let idx = index.get();
        if self.net_key(index).is_none() {
            return StatusCode::Success;
        }
        if self.state.net_keys.len() <= 1 {
            return StatusCode::CannotRemove;
        }
        self.state.net_keys.retain(|k| k.index != idx);
        let bound: Vec<u16> = self
            .state
            .app_keys
            .iter()
            .filter(|a| a.net_index == idx)
            .map(|a| a.index)
            .collect();
        for a in bound {
            self.remove_app_key(a);
        }
        if self
            .state
            .heartbeat_publication
            .as_ref()
            .is_some_and(|p| p.net_index == idx)
        {
            self.state.heartbeat_publication = None;
            self.effect(Effect::HeartbeatPublicationChanged);
        }
        self.effect(Effect::KeysChanged);
        StatusCode::Success
    }

    /// Config AppKey Add: the NetKey must be stored; the same index bound to the same NetKey
    /// with the same key is a Success, with another key Key Index Already Stored, bound to
    /// another NetKey Invalid NetKey Index.
    fn appkey_add(&mut self, net: KeyIndex, app: KeyIndex, key: &[u8; 16]) -> StatusCode {
        if self.net_key(net).is_none() {
            return StatusCode::InvalidNetKeyIndex;
        }
        if let Some(a) = self.app_key(app) {
            return match (a.net_index == net.get(), a.key == *key) {
                (true, true) => StatusCode::Success,
                (true, false) => StatusCode::KeyIndexAlreadyStored,
                (false, _) => StatusCode::InvalidNetKeyIndex,
            };
        }
        if self.state.app_keys.len() >= APP_KEY_CAPACITY {
            return StatusCode::InsufficientResources;
        }
        self.state.app_keys.push(AppKeyState {
            index: app.get(),
            net_index: net.get(),
            key: *key,
            new_key: None,
        });
        self.effect(Effect::KeysChanged);
        StatusCode::Success
    }

    /// Config AppKey Update: only while the bound NetKey is in key refresh phase 1
    /// (§3.11.4.1); the same new key again is a Success, another one Cannot Update.
    fn appkey_update(&mut self, net: KeyIndex, app: KeyIndex, key: &[u8; 16]) -> StatusCode {
        let Some(phase) = self.net_key(net).map(|k| k.phase) else {
            return StatusCode::InvalidNetKeyIndex;
        };
        let Some(a) = self
            .state
            .app_keys
            .iter_mut()
            .find(|a| a.index == app.get())
        else {
            return StatusCode::InvalidAppKeyIndex;
        };
        if a.net_index != net.get() {
            return StatusCode::InvalidBinding;
        }
        if phase != KeyRefreshPhase::First {
            return StatusCode::CannotUpdate;
        }
        match a.new_key {
            Some(n) if n == *key => StatusCode::Success,
            Some(_) => StatusCode::CannotUpdate,
            None => {
                a.new_key = Some(*key);
                self.effect(Effect::KeysChanged);
                StatusCode::Success
            }
        }
    }

    /// Config AppKey Delete: unbinds the key from every model and stops the publications that
    /// use it. A key that is not stored is a Success (a retry).
    fn appkey_delete(&mut self, net: KeyIndex, app: KeyIndex) -> StatusCode {
        if self.net_key(net).is_none() {
            return StatusCode::InvalidNetKeyIndex;
        }
        let Some(a) = self.app_key(app) else {
            return StatusCode::Success;
        };
        if a.net_index != net.get() {
            return StatusCode::InvalidBinding;
        }
        self.remove_app_key(app.get());
        StatusCode::Success
    }

    /// Removes AppKey `index`, its bindings and the publications that use it.
    fn remove_app_key(&mut self, index: u16) {
        self.state.app_keys.retain(|a| a.index != index);
        self.effect(Effect::KeysChanged);
        for e in 0..self.state.elements.len() {
            for m in 0..self.state.elements[e].models.len() {
                self.unbind((e, m), index);
            }
        }
    }

    /// Unbinds AppKey `index` from a model; a publication with that key stops (Zephyr's
    /// `mod_unbind`: a model cannot publish with a key it is not bound to).
    fn unbind(&mut self, at: (usize, usize), index: u16) {
        let Some(model) = self.model_mut(at) else {
            return;
        };
        let id = model.id;
        let before = model.app_keys.len();
        model.app_keys.retain(|k| *k != index);
        let unbound = model.app_keys.len() != before;
        let unpublished = model
            .publication
            .as_ref()
            .is_some_and(|p| p.params.app_key_index.get() == index);
        if unpublished {
            model.publication = None;
        }
        if unbound {
            self.effect(Effect::BindingsChanged {
                element: at.0,
                model: id,
            });
        }
        if unpublished {
            self.effect(Effect::PublicationChanged {
                element: at.0,
                model: id,
            });
        }
    }

    /// Config AppKey List (§4.3.2.42): the AppKeys bound to a NetKey.
    fn appkey_list(&self, net: KeyIndex) -> ConfigMessage {
        let (status, app_key_indexes) = if self.net_key(net).is_some() {
            (
                StatusCode::Success,
                self.state
                    .app_keys
                    .iter()
                    .filter(|a| a.net_index == net.get())
                    .map(|a| KeyIndex::from_bits(a.index))
                    .collect(),
            )
        } else {
            (StatusCode::InvalidNetKeyIndex, Vec::new())
        };
        ConfigMessage::AppKeyList {
            status,
            net_key_index: net,
            app_key_indexes,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Model to AppKey bindings (§4.3.2.46..=§4.3.2.52)
    // ---------------------------------------------------------------------------------------

    fn model_app(
        &mut self,
        element: Address,
        app: KeyIndex,
        model: ModelId,
        bind: bool,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let status = match self.find_model(element, model) {
            Err(s) => s,
            Ok(at) if bind => self.bind(at, app, model),
            Ok(at) => {
                if self.app_key(app).is_none() {
                    StatusCode::InvalidAppKeyIndex
                } else {
                    self.unbind(at, app.get());
                    StatusCode::Success
                }
            }
        };
        Some(ConfigMessage::ModelAppStatus {
            status,
            element,
            app_key_index: app,
            model,
        })
    }

    fn bind(&mut self, at: (usize, usize), app: KeyIndex, model: ModelId) -> StatusCode {
        if device_key_model(model) {
            return StatusCode::CannotBind;
        }
        if self.app_key(app).is_none() {
            return StatusCode::InvalidAppKeyIndex;
        }
        let Some(m) = self.model_mut(at) else {
            return StatusCode::InvalidModel;
        };
        if m.app_keys.contains(&app.get()) {
            return StatusCode::Success;
        }
        if m.app_keys.len() >= MODEL_KEY_CAPACITY {
            return StatusCode::InsufficientResources;
        }
        m.app_keys.push(app.get());
        self.effect(Effect::BindingsChanged {
            element: at.0,
            model,
        });
        StatusCode::Success
    }

    /// SIG / Vendor Model App List (§4.3.2.50, §4.3.2.52).
    fn model_app_get(&self, element: Address, model: ModelId) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let (status, app_key_indexes) = match self.find_model(element, model) {
            Ok(at) => (
                StatusCode::Success,
                self.model_ref(at)
                    .map(|m| m.app_keys.iter().map(|k| KeyIndex::from_bits(*k)).collect())
                    .unwrap_or_default(),
            ),
            Err(s) => (s, Vec::new()),
        };
        Some(ConfigMessage::ModelAppList {
            status,
            element,
            model,
            app_key_indexes,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Model Publication (§4.3.2.15..=§4.3.2.18; state §4.2.3)
    // ---------------------------------------------------------------------------------------

    fn publication_status(
        &self,
        status: StatusCode,
        element: Address,
        model: ModelId,
        at: Option<(usize, usize)>,
    ) -> ConfigMessage {
        let current = at
            .and_then(|at| self.model_ref(at))
            .and_then(|m| m.publication.as_ref());
        let (address, publication) = match (status, current) {
            (StatusCode::Success, Some(p)) => (p.address, p.params),
            _ => (Address::UNASSIGNED, no_publication()),
        };
        ConfigMessage::ModelPublicationStatus {
            status,
            element,
            address,
            publication,
            model,
        }
    }

    fn publication_get(&self, element: Address, model: ModelId) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let (status, at) = match self.find_model(element, model) {
            Err(s) => (s, None),
            Ok(_) if device_key_model(model) => (StatusCode::InvalidPublishParameters, None),
            Ok(at) => (StatusCode::Success, Some(at)),
        };
        Some(self.publication_status(status, element, model, at))
    }

    /// Model Publication Set and Virtual Address Set: an unassigned publish address stops
    /// publishing; otherwise the AppKey must be stored. Friendship credentials need the Low
    /// Power feature, which this node lacks (Feature Not Supported).
    fn publication_set(
        &mut self,
        element: Address,
        address: Address,
        label: Option<[u8; 16]>,
        params: &PublishParams,
        model: ModelId,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() || (0x80..=0xFE).contains(&params.ttl) {
            // §4.2.3.4: Publish TTL 0x80..=0xFE is prohibited.
            return None;
        }
        let at = match self.find_model(element, model) {
            Ok(at) => at,
            Err(s) => return Some(self.publication_status(s, element, model, None)),
        };
        let status = if device_key_model(model) {
            StatusCode::InvalidPublishParameters
        } else if params.credential_flag {
            StatusCode::FeatureNotSupported
        } else if address.is_unassigned() {
            if let Some(m) = self.model_mut(at) {
                if m.publication.take().is_some() {
                    self.effect(Effect::PublicationChanged {
                        element: at.0,
                        model,
                    });
                }
            }
            StatusCode::Success
        } else if self.app_key(params.app_key_index).is_none() {
            StatusCode::InvalidAppKeyIndex
        } else {
            let new = Publication {
                address,
                label,
                params: PublishParams {
                    retransmit: Retransmit::from_byte(params.retransmit.to_byte()),
                    period: PublishPeriod::from_byte(params.period.to_byte()),
                    ..*params
                },
            };
            if let Some(m) = self.model_mut(at) {
                if m.publication.as_ref() != Some(&new) {
                    m.publication = Some(new);
                    self.effect(Effect::PublicationChanged {
                        element: at.0,
                        model,
                    });
                }
            }
            StatusCode::Success
        };
        Some(self.publication_status(status, element, model, Some(at)))
    }

    // ---------------------------------------------------------------------------------------
    // Subscription List (§4.3.2.19..=§4.3.2.30)
    // ---------------------------------------------------------------------------------------

    fn subscription(
        &mut self,
        element: Address,
        model: ModelId,
        op: SubOp,
        sub: Sub,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let va = match sub {
            Sub::Virtual(label) => Some(Address(virtual_address(&label))),
            _ => None,
        };
        // The Address field of the status: the group address of the request, the virtual
        // address of a Label UUID, unassigned for Delete All (§4.3.2.26).
        let reported = match sub {
            Sub::Group(a) => a,
            Sub::Virtual(_) => va.unwrap_or(Address::UNASSIGNED),
            Sub::None => Address::UNASSIGNED,
        };
        let status = match self.find_model(element, model) {
            // Zephyr reports the unassigned address when no model is found for a Label UUID.
            Err(s) => {
                let address = if matches!(sub, Sub::Virtual(_)) {
                    Address::UNASSIGNED
                } else {
                    reported
                };
                return Some(ConfigMessage::ModelSubscriptionStatus {
                    status: s,
                    element,
                    address,
                    model,
                });
            }
            Ok(_) if matches!(sub, Sub::Group(a) if !subscribable(a)) => StatusCode::InvalidAddress,
            Ok(_) if device_key_model(model) => StatusCode::NotASubscribeModel,
            Ok(at) => self.change_subscriptions(at, op, sub, va),
        };
        Some(ConfigMessage::ModelSubscriptionStatus {
            status,
            element,
            address: reported,
            model,
        })
    }

    fn change_subscriptions(
        &mut self,
        at: (usize, usize),
        op: SubOp,
        sub: Sub,
        va: Option<Address>,
    ) -> StatusCode {
        let Some(m) = self.model_mut(at) else {
            return StatusCode::InvalidModel;
        };
        let before = (m.subscriptions.clone(), m.labels.clone());
        let status = match (op, sub) {
            (SubOp::DeleteAll, _) | (SubOp::Overwrite, _) => {
                m.subscriptions.clear();
                m.labels.clear();
                match sub {
                    Sub::Group(a) => m.subscriptions.push(a),
                    Sub::Virtual(label) => {
                        m.subscriptions.push(va.unwrap_or(Address::UNASSIGNED));
                        m.labels.push(label);
                    }
                    Sub::None => {}
                }
                StatusCode::Success
            }
            (SubOp::Add, Sub::Group(a)) => {
                if m.subscriptions.contains(&a) {
                    StatusCode::Success
                } else if m.subscriptions.len() >= SUBSCRIPTION_CAPACITY {
                    StatusCode::InsufficientResources
                } else {
                    m.subscriptions.push(a);
                    StatusCode::Success
                }
            }
            (SubOp::Add, Sub::Virtual(label)) => {
                if m.labels.contains(&label) {
                    StatusCode::Success
                } else if m.subscriptions.len() >= SUBSCRIPTION_CAPACITY {
                    StatusCode::InsufficientResources
                } else {
                    m.subscriptions.push(va.unwrap_or(Address::UNASSIGNED));
                    m.labels.push(label);
                    StatusCode::Success
                }
            }
            // Removing an address that is not in the list is a Success (§4.3.2.21).
            (SubOp::Delete, Sub::Group(a)) => {
                m.subscriptions.retain(|s| *s != a);
                StatusCode::Success
            }
            // A Label UUID that is not in the list cannot be removed (Zephyr answers Cannot
            // Remove).
            (SubOp::Delete, Sub::Virtual(label)) => {
                match m.labels.iter().position(|l| *l == label) {
                    Some(i) => {
                        m.labels.remove(i);
                        let va = va.unwrap_or(Address::UNASSIGNED);
                        if let Some(j) = m.subscriptions.iter().position(|s| *s == va) {
                            m.subscriptions.remove(j);
                        }
                        StatusCode::Success
                    }
                    None => StatusCode::CannotRemove,
                }
            }
            (SubOp::Add | SubOp::Delete, Sub::None) => StatusCode::UnspecifiedError,
        };
        let changed = (&m.subscriptions, &m.labels) != (&before.0, &before.1);
        let id = m.id;
        if changed {
            self.effect(Effect::SubscriptionsChanged {
                element: at.0,
                model: id,
            });
        }
        status
    }

    /// SIG / Vendor Model Subscription List (§4.3.2.28, §4.3.2.30): group and virtual
    /// addresses.
    fn subscription_get(&self, element: Address, model: ModelId) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let (status, addresses) = match self.find_model(element, model) {
            Err(s) => (s, Vec::new()),
            Ok(_) if device_key_model(model) => (StatusCode::NotASubscribeModel, Vec::new()),
            Ok(at) => (
                StatusCode::Success,
                self.model_ref(at)
                    .map(|m| m.subscriptions.clone())
                    .unwrap_or_default(),
            ),
        };
        Some(ConfigMessage::ModelSubscriptionList {
            status,
            element,
            model,
            addresses,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Key Refresh Phase (§4.3.2.56..=§4.3.2.58, state §4.2.14)
    // ---------------------------------------------------------------------------------------

    /// Transition 2 moves phase 1 to phase 2; transition 3 moves phase 1 or 2 to Normal
    /// (revoking the old keys). Other combinations (transition 2 in phase 0 or 2, 3 in phase
    /// 0) leave the phase as it is. The node applies the change ([`Effect::KeyRefresh`]); the
    /// status reports the phase after it.
    fn key_refresh_set(&mut self, net: KeyIndex, transition: u8) -> Option<ConfigMessage> {
        if !(TRANSITION_PHASE2..=TRANSITION_PHASE3).contains(&transition) {
            return None;
        }
        let Some(k) = self.net_key(net) else {
            return Some(ConfigMessage::KeyRefreshPhaseStatus {
                status: StatusCode::InvalidNetKeyIndex,
                net_key_index: net,
                phase: 0,
            });
        };
        let next = match (k.phase, transition, k.new_key.is_some()) {
            (KeyRefreshPhase::First, TRANSITION_PHASE2, true) => Some(KeyRefreshPhase::Second),
            (KeyRefreshPhase::First | KeyRefreshPhase::Second, TRANSITION_PHASE3, true) => {
                Some(KeyRefreshPhase::Normal)
            }
            _ => None,
        };
        let phase = next.unwrap_or(k.phase);
        if let Some(phase) = next {
            self.effect(Effect::KeyRefresh {
                net_index: net.get(),
                phase,
            });
        }
        Some(ConfigMessage::KeyRefreshPhaseStatus {
            status: StatusCode::Success,
            net_key_index: net,
            phase: phase.to_u8(),
        })
    }

    // ---------------------------------------------------------------------------------------
    // Heartbeat (§4.3.2.59..=§4.3.2.64; states §4.2.17, §4.2.18)
    // ---------------------------------------------------------------------------------------

    fn heartbeat_publication_status(&self) -> ConfigMessage {
        let publication = match &self.state.heartbeat_publication {
            Some(p) => HeartbeatPublicationParams {
                destination: p.dst,
                count_log: log_from_count(p.count),
                period_log: p.period_log,
                ttl: p.ttl,
                features: Features(p.features),
                net_key_index: KeyIndex::from_bits(p.net_index),
            },
            None => HeartbeatPublicationParams {
                destination: Address::UNASSIGNED,
                count_log: 0,
                period_log: 0,
                ttl: 0,
                features: Features(0),
                net_key_index: KeyIndex::from_bits(0),
            },
        };
        ConfigMessage::HeartbeatPublicationStatus {
            status: StatusCode::Success,
            publication,
        }
    }

    /// Config Heartbeat Publication Set: a virtual destination is Invalid Address, an unknown
    /// NetKey Invalid NetKey Index (the status then repeats the request). An unassigned
    /// destination stops publishing: count, period and TTL become 0.
    fn heartbeat_publication_set(
        &mut self,
        p: &HeartbeatPublicationParams,
    ) -> Option<ConfigMessage> {
        if p.ttl > 0x7F {
            // §4.2.17.4: TTL 0x80..=0xFF is prohibited.
            return None;
        }
        let failed = |status| {
            Some(ConfigMessage::HeartbeatPublicationStatus {
                status,
                publication: *p,
            })
        };
        if p.destination.is_virtual() {
            return failed(StatusCode::InvalidAddress);
        }
        if (p.count_log > 0x11 && p.count_log != 0xFF) || p.period_log > 0x11 {
            return failed(StatusCode::CannotSet);
        }
        if self.net_key(p.net_key_index).is_none() {
            return failed(StatusCode::InvalidNetKeyIndex);
        }
        let on = !p.destination.is_unassigned();
        let new = HeartbeatPublication {
            dst: p.destination,
            count: if on { count_from_log(p.count_log) } else { 0 },
            period_log: if on { p.period_log } else { 0 },
            ttl: if on { p.ttl } else { 0 },
            features: p.features.0 & HEARTBEAT_FEATURES,
            net_index: p.net_key_index.get(),
        };
        if self.state.heartbeat_publication.as_ref() != Some(&new) {
            self.state.heartbeat_publication = Some(new);
            self.effect(Effect::HeartbeatPublicationChanged);
        }
        Some(self.heartbeat_publication_status())
    }

    /// Config Heartbeat Subscription Status for a Get (MshPRT §4.3.2.64): the states at `now`,
    /// the remaining period and the count as logs. With the Source or Destination unassigned
    /// every field is 0 (§4.4.1.2.16 in MshPRF 1.0.1; BlueZ and the nRF5 SDK do the same, and
    /// Zephyr, which clears its counters with the addresses, answers zeros there too).
    fn heartbeat_subscription_status(&self) -> ConfigMessage {
        let params = match heartbeat_subscription_report(self.state, self.hb, self.now) {
            Some(r) => HeartbeatSubscriptionParams {
                status: StatusCode::Success,
                source: r.source,
                destination: r.destination,
                period_log: subscription_period_log(r.remaining),
                count_log: subscription_count_log(r.count),
                min_hops: r.min_hops,
                max_hops: r.max_hops,
            },
            None => HeartbeatSubscriptionParams {
                status: StatusCode::Success,
                source: Address::UNASSIGNED,
                destination: Address::UNASSIGNED,
                period_log: 0,
                count_log: 0,
                min_hops: 0,
                max_hops: 0,
            },
        };
        ConfigMessage::HeartbeatSubscriptionStatus(params)
    }

    /// Config Heartbeat Subscription Set (MshPRT §4.3.2.63; behaviour §4.4.1.2.16 in MshPRF
    /// 1.0.1). The source is unassigned or unicast; the destination unassigned, this node's
    /// primary address or a group address; other values are prohibited and get no answer.
    ///
    /// * A unicast source, an assigned destination and a Period Log other than 0 start a
    ///   subscription: Count 0, Min Hops 0x7F, Max Hops 0, and the period runs from now. A Set
    ///   with the same source and destination starts it again (BlueZ, Zephyr and the nRF5 SDK
    ///   reset the counters on every such Set too).
    /// * Otherwise the subscription stops: Source and Destination become unassigned and the
    ///   period 0, while Count, Min Hops and Max Hops are kept, and the answer reports them
    ///   (a later Get reports all zeros). Zephyr differs: a Period Log of 0 with assigned
    ///   addresses keeps them (and answers with the old count, then clears it), and unassigned
    ///   addresses clear the counters; it then forces Min Hops 0x7F into the answer for the
    ///   qualification test MESH/NODE/CFG/HBS/BV-01-C, which the specification's rule gives
    ///   by itself when nothing was counted.
    fn heartbeat_subscription_set(
        &mut self,
        source: Address,
        destination: Address,
        period_log: u8,
    ) -> Option<ConfigMessage> {
        let src_ok = source.is_unassigned() || source.is_unicast();
        let dst_ok = destination.is_unassigned()
            || destination.is_group()
            || destination == Address::from(self.state.primary);
        if !src_ok || !dst_ok || period_log > 0x11 {
            return None;
        }
        let new = if source.is_unassigned() || destination.is_unassigned() || period_log == 0 {
            self.hb.end = None;
            None
        } else {
            let period = subscription_period(period_log);
            *self.hb = HeartbeatSubscriptionCounters {
                end: Some(self.now + Duration::from_secs(u64::from(period))),
                ..HeartbeatSubscriptionCounters::default()
            };
            Some(HeartbeatSubscription {
                src: source,
                dst: destination,
                period_log,
            })
        };
        if self.state.heartbeat_subscription != new {
            self.state.heartbeat_subscription = new;
            self.effect(Effect::HeartbeatSubscriptionChanged);
        }
        let (source, destination) = match &self.state.heartbeat_subscription {
            Some(s) => (s.src, s.dst),
            None => (Address::UNASSIGNED, Address::UNASSIGNED),
        };
        Some(ConfigMessage::HeartbeatSubscriptionStatus(
            HeartbeatSubscriptionParams {
                status: StatusCode::Success,
                source,
                destination,
                period_log: subscription_period_log(self.hb.remaining(self.now)),
                count_log: subscription_count_log(self.hb.count),
                min_hops: self.hb.min_hops,
                max_hops: self.hb.max_hops,
            },
        ))
    }
}

/// A subscription list operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubOp {
    Add,
    Delete,
    Overwrite,
    DeleteAll,
}

/// The address a subscription message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    Group(Address),
    Virtual([u8; 16]),
    None,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::address::{IvIndex, UnicastAddress};
    use crate::ble::foundation::config as cfg;
    use crate::ble::models::StepResolution;
    use crate::ble::node::state::{ElementState, ModelState};
    use crate::ble::wire::access::Opcode;
    use crate::ble::wire::Wire;
    use proptest::prelude::*;

    const PRIMARY: u16 = 0x0100;
    const NET0: [u8; 16] = [0x11; 16];
    const KEY_A: [u8; 16] = [0xAA; 16];
    const KEY_B: [u8; 16] = [0xBB; 16];
    const VENDOR: ModelId = ModelId::Vendor {
        company_id: 0x05F1,
        model_id: 0x0001,
    };

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn ki(v: u16) -> KeyIndex {
        KeyIndex::new(v).unwrap()
    }

    /// Two elements: Configuration Server, Health Server and Generic OnOff Server on the
    /// primary; Generic Level Server and a vendor model on the second.
    fn state() -> NodeState {
        NodeState::new(
            [1; 16],
            UnicastAddress::new(PRIMARY).unwrap(),
            [2; 16],
            NET0,
            IvIndex(0),
            vec![
                ElementState {
                    location: 0x0100,
                    models: vec![
                        ModelState::new(ModelId::CONFIG_SERVER),
                        ModelState::new(ModelId::HEALTH_SERVER),
                        ModelState::new(ModelId::GENERIC_ONOFF_SERVER),
                    ],
                },
                ElementState {
                    location: 0x0101,
                    models: vec![
                        ModelState::new(ModelId::GENERIC_LEVEL_SERVER),
                        ModelState::new(VENDOR),
                    ],
                },
            ],
        )
    }

    /// Handles `msg` and applies the key refresh effects as the node would.
    fn run(st: &mut NodeState, msg: ConfigMessage) -> ConfigOutcome {
        let out = handle(st, &msg);
        for e in &out.effects {
            if let Effect::KeyRefresh { net_index, phase } = e {
                apply_key_refresh(st, *net_index, *phase);
            }
        }
        out
    }

    /// The Status field of a reply.
    fn status(out: &ConfigOutcome) -> StatusCode {
        let reply = out.reply.as_ref().expect("a reply");
        reply
            .status()
            .unwrap_or_else(|| panic!("no status in {reply:?}"))
    }

    fn app_add(net: u16, app: u16, key: [u8; 16]) -> ConfigMessage {
        ConfigMessage::AppKeyAdd {
            net_key_index: ki(net),
            app_key_index: ki(app),
            key,
        }
    }

    fn bind(element: u16, app: u16, model: ModelId) -> ConfigMessage {
        ConfigMessage::ModelAppBind {
            element: Address(element),
            app_key_index: ki(app),
            model,
        }
    }

    fn pub_params(app: u16) -> PublishParams {
        PublishParams {
            app_key_index: ki(app),
            credential_flag: false,
            ttl: 5,
            period: PublishPeriod {
                steps: 10,
                resolution: StepResolution::S1,
            },
            retransmit: Retransmit {
                count: 2,
                interval_steps: 4,
            },
        }
    }

    fn pub_set(element: u16, address: u16, app: u16, model: ModelId) -> ConfigMessage {
        ConfigMessage::ModelPublicationSet {
            element: Address(element),
            address: Address(address),
            publication: pub_params(app),
            model,
        }
    }

    fn sub_add(element: u16, address: u16, model: ModelId) -> ConfigMessage {
        ConfigMessage::ModelSubscriptionAdd {
            element: Address(element),
            address: Address(address),
            model,
        }
    }

    fn onoff(st: &NodeState) -> &ModelState {
        &st.elements[0].models[2]
    }

    /// The state invariants the Configuration Server keeps (after key refresh effects are
    /// applied).
    fn check(st: &NodeState) -> Result<(), String> {
        if st.net_keys.is_empty() {
            return Err("no NetKey".into());
        }
        for (i, k) in st.net_keys.iter().enumerate() {
            if st.net_keys[..i].iter().any(|o| o.index == k.index) {
                return Err(format!("NetKey {:#x} twice", k.index));
            }
            if k.phase != KeyRefreshPhase::Normal && k.new_key.is_none() {
                return Err(format!(
                    "NetKey {:#x} in {:?} without new key",
                    k.index, k.phase
                ));
            }
        }
        for (i, a) in st.app_keys.iter().enumerate() {
            if st.app_keys[..i].iter().any(|o| o.index == a.index) {
                return Err(format!("AppKey {:#x} twice", a.index));
            }
            let Some(n) = st.net_keys.iter().find(|n| n.index == a.net_index) else {
                return Err(format!("AppKey {:#x} bound to a missing NetKey", a.index));
            };
            if a.new_key.is_some() && n.phase == KeyRefreshPhase::Normal {
                return Err(format!("AppKey {:#x} has a new key in Normal", a.index));
            }
        }
        let app_exists = |i: u16| st.app_keys.iter().any(|a| a.index == i);
        for e in &st.elements {
            for m in &e.models {
                for (i, k) in m.app_keys.iter().enumerate() {
                    if !app_exists(*k) || m.app_keys[..i].contains(k) {
                        return Err(format!("model {} binding {k:#x}", m.id));
                    }
                }
                if device_key_model(m.id)
                    && (!m.app_keys.is_empty()
                        || m.publication.is_some()
                        || !m.subscriptions.is_empty())
                {
                    return Err(format!("device-key model {} configured", m.id));
                }
                if let Some(p) = &m.publication {
                    if !app_exists(p.params.app_key_index.get()) {
                        return Err(format!("model {} publishes with a missing key", m.id));
                    }
                    match p.label {
                        Some(l) if p.address != Address(virtual_address(&l)) => {
                            return Err("virtual publication without its label".into())
                        }
                        None if !(p.address.is_unicast() || p.address.is_group()) => {
                            return Err("bad publish address".into())
                        }
                        _ => {}
                    }
                }
                let groups = m.subscriptions.iter().filter(|a| a.is_group()).count();
                let virtuals = m.subscriptions.iter().filter(|a| a.is_virtual()).count();
                if groups + virtuals != m.subscriptions.len()
                    || virtuals != m.labels.len()
                    || m.subscriptions.len() > SUBSCRIPTION_CAPACITY
                {
                    return Err(format!(
                        "model {} subscriptions {:?}",
                        m.id, m.subscriptions
                    ));
                }
                for l in &m.labels {
                    if !m.subscriptions.contains(&Address(virtual_address(l))) {
                        return Err("label without its virtual address".into());
                    }
                }
                if m.subscriptions.contains(&Address::ALL_NODES) {
                    return Err("subscribed to all-nodes".into());
                }
            }
        }
        if let Some(p) = &st.heartbeat_publication {
            if !st.net_keys.iter().any(|n| n.index == p.net_index) {
                return Err("heartbeat publication on a missing NetKey".into());
            }
        }
        Ok(())
    }

    // -------------------------------------------------------------------------------------
    // AppKeys
    // -------------------------------------------------------------------------------------

    // MshPRT §8.3.6 and §8.3.16 (sample data, messages #6 and #16): the node at 0x1201 with
    // NetKey index 0x456 gets Config AppKey Add (NetKey 0x456, AppKey 0x123) and answers
    // Config AppKey Status 80 03 00 56 34 12.
    #[test]
    fn sample_appkey_add_status() {
        let mut st = state();
        st.net_keys[0].index = 0x456;
        st.net_keys[0].key = h("7dd7364cd842ad18c17c2b820c84c3d6").try_into().unwrap();
        let msg = ConfigMessage::parse(
            cfg::APPKEY_ADD,
            &h("56341263964771734fbd76e3b40519d1d94a48"),
        )
        .unwrap();
        let out = run(&mut st, msg.clone());
        let reply = out.reply.clone().unwrap();
        assert_eq!(reply.to_access().to_vec(), h("800300563412"));
        assert_eq!(out.effects, vec![Effect::KeysChanged]);
        assert!(out.state_changed());
        assert_eq!(st.app_keys.len(), 1);
        assert_eq!(st.app_keys[0].index, 0x123);
        assert_eq!(st.app_keys[0].net_index, 0x456);
        // The same request again (its status was lost): Success, nothing changes.
        let again = run(&mut st, msg);
        assert_eq!(again.reply, Some(reply));
        assert!(again.effects.is_empty());
    }

    #[test]
    fn appkey_add_status_codes() {
        let mut st = state();
        assert_eq!(
            status(&run(&mut st, app_add(0, 1, KEY_A))),
            StatusCode::Success
        );
        // Same index, another key: 0x06.
        let out = run(&mut st, app_add(0, 1, KEY_B));
        assert_eq!(status(&out), StatusCode::KeyIndexAlreadyStored);
        assert_eq!(out.reply.unwrap().emit_params()[0], 0x06);
        assert_eq!(st.app_keys[0].key, KEY_A);
        // Unknown NetKey: 0x04.
        assert_eq!(
            status(&run(&mut st, app_add(7, 2, KEY_A))),
            StatusCode::InvalidNetKeyIndex
        );
        // Same index bound to another NetKey.
        run(
            &mut st,
            ConfigMessage::NetKeyAdd {
                net_key_index: ki(1),
                key: KEY_B,
            },
        );
        assert_eq!(
            status(&run(&mut st, app_add(1, 1, KEY_A))),
            StatusCode::InvalidNetKeyIndex
        );
        // Capacity.
        for i in st.app_keys.len()..APP_KEY_CAPACITY {
            assert_eq!(
                status(&run(&mut st, app_add(0, 0x100 + i as u16, KEY_A))),
                StatusCode::Success
            );
        }
        assert_eq!(
            status(&run(&mut st, app_add(0, 0xFFF, KEY_A))),
            StatusCode::InsufficientResources
        );
        assert_eq!(st.app_keys.len(), APP_KEY_CAPACITY);
        check(&st).unwrap();
    }

    #[test]
    fn appkey_get_lists_keys_of_a_netkey() {
        let mut st = state();
        run(
            &mut st,
            ConfigMessage::NetKeyAdd {
                net_key_index: ki(1),
                key: KEY_B,
            },
        );
        run(&mut st, app_add(0, 3, KEY_A));
        run(&mut st, app_add(1, 4, KEY_A));
        run(&mut st, app_add(0, 5, KEY_A));
        let out = run(
            &mut st,
            ConfigMessage::AppKeyGet {
                net_key_index: ki(0),
            },
        );
        assert_eq!(
            out.reply,
            Some(ConfigMessage::AppKeyList {
                status: StatusCode::Success,
                net_key_index: ki(0),
                app_key_indexes: vec![ki(3), ki(5)],
            })
        );
        let out = run(
            &mut st,
            ConfigMessage::AppKeyGet {
                net_key_index: ki(9),
            },
        );
        assert_eq!(
            out.reply,
            Some(ConfigMessage::AppKeyList {
                status: StatusCode::InvalidNetKeyIndex,
                net_key_index: ki(9),
                app_key_indexes: vec![],
            })
        );
    }

    #[test]
    fn appkey_delete_unbinds_and_stops_publications() {
        let mut st = state();
        run(&mut st, app_add(0, 1, KEY_A));
        run(&mut st, app_add(0, 2, KEY_B));
        run(&mut st, bind(PRIMARY, 1, ModelId::GENERIC_ONOFF_SERVER));
        run(&mut st, bind(PRIMARY, 2, ModelId::GENERIC_ONOFF_SERVER));
        run(&mut st, bind(PRIMARY + 1, 1, VENDOR));
        run(
            &mut st,
            pub_set(PRIMARY, 0xC000, 1, ModelId::GENERIC_ONOFF_SERVER),
        );
        assert!(onoff(&st).publication.is_some());

        let del = |net, app| ConfigMessage::AppKeyDelete {
            net_key_index: ki(net),
            app_key_index: ki(app),
        };
        assert_eq!(
            status(&run(&mut st, del(3, 1))),
            StatusCode::InvalidNetKeyIndex
        );
        run(
            &mut st,
            ConfigMessage::NetKeyAdd {
                net_key_index: ki(3),
                key: KEY_B,
            },
        );
        assert_eq!(status(&run(&mut st, del(3, 1))), StatusCode::InvalidBinding);

        let out = run(&mut st, del(0, 1));
        assert_eq!(status(&out), StatusCode::Success);
        assert_eq!(out.reply.unwrap().emit_params(), h("00001000"));
        assert!(out.effects.contains(&Effect::KeysChanged));
        assert!(out.effects.contains(&Effect::PublicationChanged {
            element: 0,
            model: ModelId::GENERIC_ONOFF_SERVER
        }));
        assert_eq!(onoff(&st).app_keys, vec![2]);
        assert_eq!(onoff(&st).publication, None);
        assert!(st.elements[1].models[1].app_keys.is_empty());
        assert_eq!(st.app_keys.len(), 1);
        // Deleting it again: Success (a retry).
        let out = run(&mut st, del(0, 1));
        assert_eq!(status(&out), StatusCode::Success);
        assert!(out.effects.is_empty());
        check(&st).unwrap();
    }

    #[test]
    fn appkey_update_only_in_phase_1() {
        let mut st = state();
        run(&mut st, app_add(0, 1, KEY_A));
        run(
            &mut st,
            ConfigMessage::NetKeyAdd {
                net_key_index: ki(1),
                key: KEY_B,
            },
        );
        run(&mut st, app_add(1, 2, KEY_A));
        let upd = |net, app, key| ConfigMessage::AppKeyUpdate {
            net_key_index: ki(net),
            app_key_index: ki(app),
            key,
        };
        // Normal operation: 0x0B Cannot Update.
        assert_eq!(
            status(&run(&mut st, upd(0, 1, KEY_B))),
            StatusCode::CannotUpdate
        );
        assert_eq!(
            status(&run(&mut st, upd(5, 1, KEY_B))),
            StatusCode::InvalidNetKeyIndex
        );
        assert_eq!(
            status(&run(&mut st, upd(0, 9, KEY_B))),
            StatusCode::InvalidAppKeyIndex
        );
        // AppKey 2 is bound to NetKey 1: 0x11 Invalid Binding.
        assert_eq!(
            status(&run(&mut st, upd(0, 2, KEY_B))),
            StatusCode::InvalidBinding
        );

        // NetKey Update starts phase 1.
        let new_net = [0x33; 16];
        let out = run(
            &mut st,
            ConfigMessage::NetKeyUpdate {
                net_key_index: ki(0),
                key: new_net,
            },
        );
        assert_eq!(status(&out), StatusCode::Success);
        assert!(out.effects.contains(&Effect::KeyRefresh {
            net_index: 0,
            phase: KeyRefreshPhase::First
        }));
        assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::First);
        assert_eq!(st.net_keys[0].new_key, Some(new_net));

        let out = run(&mut st, upd(0, 1, KEY_B));
        assert_eq!(status(&out), StatusCode::Success);
        assert_eq!(out.effects, vec![Effect::KeysChanged]);
        assert_eq!(st.app_keys[0].new_key, Some(KEY_B));
        assert_eq!(status(&run(&mut st, upd(0, 1, KEY_B))), StatusCode::Success);
        assert_eq!(
            status(&run(&mut st, upd(0, 1, [0x44; 16]))),
            StatusCode::CannotUpdate
        );
        // The other subnet is still in Normal operation.
        assert_eq!(
            status(&run(&mut st, upd(1, 2, KEY_B))),
            StatusCode::CannotUpdate
        );

        // Phase 2: no more updates.
        let krp = |t| ConfigMessage::KeyRefreshPhaseSet {
            net_key_index: ki(0),
            transition: t,
        };
        run(&mut st, krp(2));
        assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Second);
        assert_eq!(
            status(&run(&mut st, upd(0, 1, KEY_B))),
            StatusCode::CannotUpdate
        );
        // Phase 3: the new keys replace the old ones.
        run(&mut st, krp(3));
        assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Normal);
        assert_eq!(st.net_keys[0].key, new_net);
        assert_eq!(st.net_keys[0].new_key, None);
        assert_eq!(st.app_keys[0].key, KEY_B);
        assert_eq!(st.app_keys[0].new_key, None);
        assert_eq!(st.app_keys[1].key, KEY_A);
        check(&st).unwrap();
    }

    // -------------------------------------------------------------------------------------
    // NetKeys and Key Refresh
    // -------------------------------------------------------------------------------------

    #[test]
    fn netkey_add_update_delete() {
        let mut st = state();
        let add = |i, key| ConfigMessage::NetKeyAdd {
            net_key_index: ki(i),
            key,
        };
        assert_eq!(status(&run(&mut st, add(0, NET0))), StatusCode::Success);
        assert_eq!(
            status(&run(&mut st, add(0, KEY_A))),
            StatusCode::KeyIndexAlreadyStored
        );
        let out = run(&mut st, add(0x123, KEY_A));
        assert_eq!(out.reply.unwrap().to_access().to_vec(), h("8044002301"));
        assert_eq!(out.effects, vec![Effect::KeysChanged]);
        for i in st.net_keys.len()..NET_KEY_CAPACITY {
            assert_eq!(
                status(&run(&mut st, add(0x200 + i as u16, KEY_B))),
                StatusCode::Success
            );
        }
        assert_eq!(
            status(&run(&mut st, add(0xFFF, KEY_B))),
            StatusCode::InsufficientResources
        );

        let out = run(&mut st, ConfigMessage::NetKeyGet);
        let Some(ConfigMessage::NetKeyList { net_key_indexes }) = out.reply else {
            panic!()
        };
        assert_eq!(net_key_indexes.len(), NET_KEY_CAPACITY);
        assert_eq!(net_key_indexes[..2], [ki(0), ki(0x123)]);

        // Update: unknown index, then phase 1, the same key again, another key.
        let upd = |i, key| ConfigMessage::NetKeyUpdate {
            net_key_index: ki(i),
            key,
        };
        assert_eq!(
            status(&run(&mut st, upd(0x999, KEY_B))),
            StatusCode::InvalidNetKeyIndex
        );
        assert_eq!(
            status(&run(&mut st, upd(0x123, KEY_B))),
            StatusCode::Success
        );
        let again = run(&mut st, upd(0x123, KEY_B));
        assert_eq!(status(&again), StatusCode::Success);
        assert!(again.effects.is_empty());
        assert_eq!(
            status(&run(&mut st, upd(0x123, NET0))),
            StatusCode::CannotUpdate
        );

        // Delete: with its AppKeys and a Heartbeat Publication on it.
        run(&mut st, app_add(0x123, 7, KEY_A));
        run(&mut st, bind(PRIMARY, 7, ModelId::GENERIC_ONOFF_SERVER));
        run(
            &mut st,
            ConfigMessage::HeartbeatPublicationSet(HeartbeatPublicationParams {
                destination: Address(0xC000),
                count_log: 2,
                period_log: 2,
                ttl: 5,
                features: Features(0),
                net_key_index: ki(0x123),
            }),
        );
        let del = |i| ConfigMessage::NetKeyDelete {
            net_key_index: ki(i),
        };
        let out = run(&mut st, del(0x123));
        assert_eq!(status(&out), StatusCode::Success);
        assert!(out.effects.contains(&Effect::HeartbeatPublicationChanged));
        assert!(st.app_keys.is_empty());
        assert!(onoff(&st).app_keys.is_empty());
        assert_eq!(st.heartbeat_publication, None);
        assert_eq!(status(&run(&mut st, del(0x123))), StatusCode::Success);
        check(&st).unwrap();
        // Down to the last NetKey, which cannot go: 0x0C.
        let rest: Vec<u16> = st.net_keys.iter().skip(1).map(|k| k.index).collect();
        for i in rest {
            assert_eq!(status(&run(&mut st, del(i))), StatusCode::Success);
        }
        let out = run(&mut st, del(0));
        assert_eq!(out.reply.unwrap().to_access().to_vec(), h("80440c0000"));
        assert_eq!(st.net_keys.len(), 1);
    }

    #[test]
    fn key_refresh_phase_transitions() {
        let mut st = state();
        let get = ConfigMessage::KeyRefreshPhaseGet {
            net_key_index: ki(0),
        };
        let set = |t| ConfigMessage::KeyRefreshPhaseSet {
            net_key_index: ki(0),
            transition: t,
        };
        let phase = |out: &ConfigOutcome| match out.reply {
            Some(ConfigMessage::KeyRefreshPhaseStatus { phase, .. }) => phase,
            ref r => panic!("{r:?}"),
        };
        assert_eq!(
            run(&mut st, get.clone()).reply.unwrap().emit_params(),
            h("00000000")
        );
        // Phase 0: transitions 2 and 3 change nothing.
        for t in [2, 3] {
            let out = run(&mut st, set(t));
            assert_eq!((status(&out), phase(&out)), (StatusCode::Success, 0));
            assert!(out.effects.is_empty());
        }
        // Unknown subnet: 0x04, phase 0.
        let out = run(
            &mut st,
            ConfigMessage::KeyRefreshPhaseSet {
                net_key_index: ki(5),
                transition: 2,
            },
        );
        assert_eq!(
            (status(&out), phase(&out)),
            (StatusCode::InvalidNetKeyIndex, 0)
        );
        // A transition the codec rejects: no answer.
        assert_eq!(run(&mut st, set(1)).reply, None);

        run(
            &mut st,
            ConfigMessage::NetKeyUpdate {
                net_key_index: ki(0),
                key: KEY_A,
            },
        );
        assert_eq!(phase(&run(&mut st, get.clone())), 1);
        let out = run(&mut st, set(2));
        assert_eq!(phase(&out), 2);
        assert_eq!(
            out.effects,
            vec![Effect::KeyRefresh {
                net_index: 0,
                phase: KeyRefreshPhase::Second
            }]
        );
        // Phase 2 with transition 2: stays.
        let out = run(&mut st, set(2));
        assert_eq!(phase(&out), 2);
        assert!(out.effects.is_empty());
        let out = run(&mut st, set(3));
        assert_eq!(phase(&out), 0);
        assert_eq!(st.net_keys[0].key, KEY_A);
        // Phase 1 straight to Normal with transition 3.
        run(
            &mut st,
            ConfigMessage::NetKeyUpdate {
                net_key_index: ki(0),
                key: KEY_B,
            },
        );
        let out = run(&mut st, set(3));
        assert_eq!(phase(&out), 0);
        assert_eq!(st.net_keys[0].key, KEY_B);
        assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Normal);
    }

    #[test]
    fn handle_leaves_the_phase_to_the_node() {
        let mut st = state();
        let out = handle(
            &mut st,
            &ConfigMessage::NetKeyUpdate {
                net_key_index: ki(0),
                key: KEY_A,
            },
        );
        assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Normal);
        assert_eq!(st.net_keys[0].new_key, Some(KEY_A));
        assert_eq!(
            out.effects,
            vec![
                Effect::KeysChanged,
                Effect::KeyRefresh {
                    net_index: 0,
                    phase: KeyRefreshPhase::First
                }
            ]
        );
        assert!(apply_key_refresh(&mut st, 0, KeyRefreshPhase::First));
        assert!(!apply_key_refresh(&mut st, 0, KeyRefreshPhase::First));
        assert!(!apply_key_refresh(&mut st, 9, KeyRefreshPhase::Second));
    }

    // -------------------------------------------------------------------------------------
    // Model App Bind / Unbind / Get
    // -------------------------------------------------------------------------------------

    #[test]
    fn model_app_bind_status_codes() {
        let mut st = state();
        run(&mut st, app_add(0, 1, KEY_A));
        let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
        // Element of another node: 0x01; unknown model: 0x02; unknown AppKey: 0x03.
        assert_eq!(
            status(&run(&mut st, bind(0x0300, 1, onoff_id))),
            StatusCode::InvalidAddress
        );
        assert_eq!(
            status(&run(&mut st, bind(PRIMARY + 1, 1, onoff_id))),
            StatusCode::InvalidModel
        );
        assert_eq!(
            status(&run(&mut st, bind(PRIMARY, 2, onoff_id))),
            StatusCode::InvalidAppKeyIndex
        );
        // The Configuration Server takes only the device key: 0x0D.
        assert_eq!(
            status(&run(&mut st, bind(PRIMARY, 1, ModelId::CONFIG_SERVER))),
            StatusCode::CannotBind
        );
        // A non-unicast element address is prohibited: no answer.
        assert_eq!(run(&mut st, bind(0xC000, 1, onoff_id)).reply, None);

        let out = run(&mut st, bind(PRIMARY, 1, onoff_id));
        // Model App Status: 0x803E, Success, element 0x0100, AppKey 1, model 0x1000.
        assert_eq!(
            out.reply.unwrap().to_access().to_vec(),
            h("803e0000010100 0010".replace(' ', "").as_str())
        );
        assert_eq!(
            out.effects,
            vec![Effect::BindingsChanged {
                element: 0,
                model: onoff_id
            }]
        );
        let again = run(&mut st, bind(PRIMARY, 1, onoff_id));
        assert_eq!(status(&again), StatusCode::Success);
        assert!(again.effects.is_empty());
        assert_eq!(onoff(&st).app_keys, vec![1]);

        // Vendor model on the second element.
        assert_eq!(
            status(&run(&mut st, bind(PRIMARY + 1, 1, VENDOR))),
            StatusCode::Success
        );
        let out = run(
            &mut st,
            ConfigMessage::ModelAppGet {
                element: Address(PRIMARY + 1),
                model: VENDOR,
            },
        );
        assert_eq!(
            out.reply,
            Some(ConfigMessage::ModelAppList {
                status: StatusCode::Success,
                element: Address(PRIMARY + 1),
                model: VENDOR,
                app_key_indexes: vec![ki(1)],
            })
        );
        let out = run(
            &mut st,
            ConfigMessage::ModelAppGet {
                element: Address(PRIMARY + 1),
                model: onoff_id,
            },
        );
        assert_eq!(status(&out), StatusCode::InvalidModel);

        // Capacity.
        for i in 2..=MODEL_KEY_CAPACITY as u16 + 1 {
            run(&mut st, app_add(0, i, KEY_A));
            let s = status(&run(&mut st, bind(PRIMARY, i, onoff_id)));
            // Key 1 and keys 2..=capacity fill the model; the next one does not fit.
            let want = if usize::from(i) <= MODEL_KEY_CAPACITY {
                StatusCode::Success
            } else {
                StatusCode::InsufficientResources
            };
            assert_eq!(s, want, "key {i}");
        }
        assert_eq!(onoff(&st).app_keys.len(), MODEL_KEY_CAPACITY);
        check(&st).unwrap();
    }

    #[test]
    fn model_app_unbind() {
        let mut st = state();
        run(&mut st, app_add(0, 1, KEY_A));
        let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
        run(&mut st, bind(PRIMARY, 1, onoff_id));
        run(&mut st, pub_set(PRIMARY, 0xC000, 1, onoff_id));
        let unbind = |app| ConfigMessage::ModelAppUnbind {
            element: Address(PRIMARY),
            app_key_index: ki(app),
            model: onoff_id,
        };
        assert_eq!(
            status(&run(&mut st, unbind(4))),
            StatusCode::InvalidAppKeyIndex
        );
        let out = run(&mut st, unbind(1));
        assert_eq!(status(&out), StatusCode::Success);
        assert!(onoff(&st).app_keys.is_empty());
        // The publication used the key: it stops.
        assert_eq!(onoff(&st).publication, None);
        assert_eq!(out.effects.len(), 2);
        // Not bound: still Success.
        let out = run(&mut st, unbind(1));
        assert_eq!(status(&out), StatusCode::Success);
        assert!(out.effects.is_empty());
    }

    // -------------------------------------------------------------------------------------
    // Model Publication
    // -------------------------------------------------------------------------------------

    #[test]
    fn model_publication_set_get() {
        let mut st = state();
        run(&mut st, app_add(0, 1, KEY_A));
        let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
        let get = ConfigMessage::ModelPublicationGet {
            element: Address(PRIMARY),
            model: onoff_id,
        };
        // Nothing configured: Success with all zero.
        let out = run(&mut st, get.clone());
        assert_eq!(
            out.reply.unwrap().emit_params(),
            h("000001000000000000000010")
        );

        let out = run(&mut st, pub_set(PRIMARY, 0xC000, 1, onoff_id));
        // Status, element, address, AppKey 1, TTL 5, 10 × 1 s, 2 × 250 ms, model.
        assert_eq!(
            out.reply.unwrap().emit_params(),
            h("00000100c00100054a220010")
        );
        assert_eq!(
            out.effects,
            vec![Effect::PublicationChanged {
                element: 0,
                model: onoff_id
            }]
        );
        let p = onoff(&st).publication.clone().unwrap();
        assert_eq!((p.address, p.label), (Address(0xC000), None));
        assert_eq!(p.params, pub_params(1));
        assert_eq!(
            run(&mut st, get.clone()).reply.unwrap().emit_params(),
            h("00000100c00100054a220010")
        );

        // Unknown AppKey: 0x03 and zeros; the publication stays.
        let out = run(&mut st, pub_set(PRIMARY, 0xC001, 9, onoff_id));
        assert_eq!(
            out.reply.unwrap().emit_params(),
            h("030001000000000000000010")
        );
        assert_eq!(onoff(&st).publication, Some(p));
        // Friendship credentials need the Low Power feature: 0x0A.
        let mut params = pub_params(1);
        params.credential_flag = true;
        let out = run(
            &mut st,
            ConfigMessage::ModelPublicationSet {
                element: Address(PRIMARY),
                address: Address(0xC001),
                publication: params,
                model: onoff_id,
            },
        );
        assert_eq!(status(&out), StatusCode::FeatureNotSupported);
        // The Configuration Server does not publish: 0x07.
        let out = run(&mut st, pub_set(PRIMARY, 0xC001, 1, ModelId::CONFIG_SERVER));
        assert_eq!(status(&out), StatusCode::InvalidPublishParameters);
        let out = run(
            &mut st,
            ConfigMessage::ModelPublicationGet {
                element: Address(PRIMARY),
                model: ModelId::CONFIG_SERVER,
            },
        );
        assert_eq!(status(&out), StatusCode::InvalidPublishParameters);
        // Bad element / model.
        assert_eq!(
            status(&run(&mut st, pub_set(0x0200, 0xC001, 1, onoff_id))),
            StatusCode::InvalidAddress
        );
        assert_eq!(
            status(&run(&mut st, pub_set(PRIMARY + 1, 0xC001, 1, onoff_id))),
            StatusCode::InvalidModel
        );
        // A virtual address in the non-virtual Set is prohibited: no answer.
        assert_eq!(
            run(&mut st, pub_set(PRIMARY, 0x8123, 1, onoff_id)).reply,
            None
        );
        // Unicast destinations are fine.
        assert_eq!(
            status(&run(&mut st, pub_set(PRIMARY, 0x0042, 1, onoff_id))),
            StatusCode::Success
        );

        // The unassigned address stops publishing (the AppKey is not checked).
        let out = run(&mut st, pub_set(PRIMARY, 0x0000, 9, onoff_id));
        assert_eq!(
            out.reply.unwrap().emit_params(),
            h("000001000000000000000010")
        );
        assert_eq!(onoff(&st).publication, None);
        check(&st).unwrap();
    }

    #[test]
    fn model_publication_virtual() {
        let mut st = state();
        run(&mut st, app_add(0, 1, KEY_A));
        // MshPRT §8.3 (sample data, the message to a virtual address): Label UUID 0073e7e4...c0e1 is virtual address 0xb529.
        let label: [u8; 16] = h("0073e7e4d8b9440faf8415df4c56c0e1").try_into().unwrap();
        let va = virtual_address(&label);
        assert_eq!(va, 0xb529);
        let out = run(
            &mut st,
            ConfigMessage::ModelPublicationVirtualAddressSet {
                element: Address(PRIMARY + 1),
                label,
                publication: pub_params(1),
                model: VENDOR,
            },
        );
        let Some(ConfigMessage::ModelPublicationStatus {
            status,
            address,
            model,
            ..
        }) = out.reply
        else {
            panic!()
        };
        assert_eq!(
            (status, address, model),
            (StatusCode::Success, Address(va), VENDOR)
        );
        let p = st.elements[1].models[1].publication.clone().unwrap();
        assert_eq!((p.address, p.label), (Address(va), Some(label)));
        check(&st).unwrap();
    }

    // -------------------------------------------------------------------------------------
    // Subscriptions
    // -------------------------------------------------------------------------------------

    #[test]
    fn subscription_add_delete_overwrite() {
        let mut st = state();
        let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
        let out = run(&mut st, sub_add(PRIMARY, 0xC001, onoff_id));
        // Model Subscription Status: 0x801F, Success, element, address, model.
        assert_eq!(
            out.reply.unwrap().to_access().to_vec(),
            h("801f00000101c00010")
        );
        assert_eq!(
            out.effects,
            vec![Effect::SubscriptionsChanged {
                element: 0,
                model: onoff_id
            }]
        );
        let again = run(&mut st, sub_add(PRIMARY, 0xC001, onoff_id));
        assert_eq!(status(&again), StatusCode::Success);
        assert!(again.effects.is_empty());
        // Fixed groups other than all-nodes are fine.
        assert_eq!(
            status(&run(&mut st, sub_add(PRIMARY, 0xFFFE, onoff_id))),
            StatusCode::Success
        );
        for bad in [0xFFFF, 0x0005, 0x0000, 0x8123] {
            assert_eq!(
                status(&run(&mut st, sub_add(PRIMARY, bad, onoff_id))),
                StatusCode::InvalidAddress,
                "{bad:#x}"
            );
        }
        assert_eq!(
            status(&run(&mut st, sub_add(0x0900, 0xC001, onoff_id))),
            StatusCode::InvalidAddress
        );
        assert_eq!(
            status(&run(&mut st, sub_add(PRIMARY, 0xC001, VENDOR))),
            StatusCode::InvalidModel
        );
        assert_eq!(
            status(&run(
                &mut st,
                sub_add(PRIMARY, 0xC001, ModelId::CONFIG_SERVER)
            )),
            StatusCode::NotASubscribeModel
        );
        assert_eq!(run(&mut st, sub_add(0xFFFF, 0xC001, onoff_id)).reply, None);
        assert_eq!(
            onoff(&st).subscriptions,
            vec![Address(0xC001), Address(0xFFFE)]
        );

        // Capacity.
        for i in 0..SUBSCRIPTION_CAPACITY as u16 {
            run(&mut st, sub_add(PRIMARY, 0xC100 + i, onoff_id));
        }
        assert_eq!(onoff(&st).subscriptions.len(), SUBSCRIPTION_CAPACITY);
        assert_eq!(
            status(&run(&mut st, sub_add(PRIMARY, 0xC200, onoff_id))),
            StatusCode::InsufficientResources
        );

        // Delete: present or not, Success.
        let del = |a| ConfigMessage::ModelSubscriptionDelete {
            element: Address(PRIMARY),
            address: Address(a),
            model: onoff_id,
        };
        assert_eq!(status(&run(&mut st, del(0xC001))), StatusCode::Success);
        assert!(!onoff(&st).subscriptions.contains(&Address(0xC001)));
        let out = run(&mut st, del(0xC001));
        assert_eq!(status(&out), StatusCode::Success);
        assert!(out.effects.is_empty());
        assert_eq!(
            status(&run(&mut st, del(0x0001))),
            StatusCode::InvalidAddress
        );

        // Overwrite replaces the list.
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionOverwrite {
                element: Address(PRIMARY),
                address: Address(0xC00F),
                model: onoff_id,
            },
        );
        assert_eq!(status(&out), StatusCode::Success);
        assert_eq!(onoff(&st).subscriptions, vec![Address(0xC00F)]);
        // An invalid address leaves it alone.
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionOverwrite {
                element: Address(PRIMARY),
                address: Address(0xFFFF),
                model: onoff_id,
            },
        );
        assert_eq!(status(&out), StatusCode::InvalidAddress);
        assert_eq!(onoff(&st).subscriptions, vec![Address(0xC00F)]);
        check(&st).unwrap();
    }

    #[test]
    fn subscription_virtual_and_delete_all() {
        let mut st = state();
        let label: [u8; 16] = h("f4a002c7fb1e4ca0a469a021de0db875").try_into().unwrap();
        let va = Address(virtual_address(&label));
        let m = ModelId::GENERIC_LEVEL_SERVER;
        let el = Address(PRIMARY + 1);
        let vadd = |label| ConfigMessage::ModelSubscriptionVirtualAddressAdd {
            element: el,
            label,
            model: m,
        };
        let out = run(&mut st, vadd(label));
        assert_eq!(
            out.reply,
            Some(ConfigMessage::ModelSubscriptionStatus {
                status: StatusCode::Success,
                element: el,
                address: va,
                model: m,
            })
        );
        run(&mut st, sub_add(PRIMARY + 1, 0xC003, m));
        assert_eq!(
            st.elements[1].models[0].subscriptions,
            vec![va, Address(0xC003)]
        );
        assert_eq!(st.elements[1].models[0].labels, vec![label]);

        // Subscription Get lists group and virtual addresses.
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionGet {
                element: el,
                model: m,
            },
        );
        assert_eq!(
            out.reply,
            Some(ConfigMessage::ModelSubscriptionList {
                status: StatusCode::Success,
                element: el,
                model: m,
                addresses: vec![va, Address(0xC003)],
            })
        );
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionGet {
                element: Address(PRIMARY),
                model: ModelId::CONFIG_SERVER,
            },
        );
        assert_eq!(status(&out), StatusCode::NotASubscribeModel);
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionGet {
                element: el,
                model: VENDOR,
            },
        );
        assert_eq!(
            out.reply.unwrap().to_access().to_vec(),
            h("802c00010 1f1050100".replace(' ', "").as_str())
        );

        // Virtual delete: an unknown label cannot be removed; the known one goes.
        let vdel = |label| ConfigMessage::ModelSubscriptionVirtualAddressDelete {
            element: el,
            label,
            model: m,
        };
        assert_eq!(
            status(&run(&mut st, vdel([9; 16]))),
            StatusCode::CannotRemove
        );
        assert_eq!(status(&run(&mut st, vdel(label))), StatusCode::Success);
        assert_eq!(
            st.elements[1].models[0].subscriptions,
            vec![Address(0xC003)]
        );
        assert!(st.elements[1].models[0].labels.is_empty());

        // Virtual overwrite.
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionVirtualAddressOverwrite {
                element: el,
                label,
                model: m,
            },
        );
        assert_eq!(status(&out), StatusCode::Success);
        assert_eq!(st.elements[1].models[0].subscriptions, vec![va]);
        check(&st).unwrap();

        // Delete All reports the unassigned address.
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionDeleteAll {
                element: el,
                model: m,
            },
        );
        assert_eq!(out.reply.unwrap().emit_params(), h("00010100000210"));
        assert!(st.elements[1].models[0].subscriptions.is_empty());
        assert!(st.elements[1].models[0].labels.is_empty());
        // On a model of another element: Invalid Model, and for a label the address is 0.
        let out = run(
            &mut st,
            ConfigMessage::ModelSubscriptionVirtualAddressAdd {
                element: Address(PRIMARY),
                label,
                model: m,
            },
        );
        assert_eq!(out.reply.unwrap().emit_params(), h("02000100000210"));
        check(&st).unwrap();
    }

    // -------------------------------------------------------------------------------------
    // Node-wide states
    // -------------------------------------------------------------------------------------

    #[test]
    fn simple_states() {
        let mut st = state();
        let bytes = |st: &mut NodeState, m| run(st, m).reply.unwrap().to_access().to_vec();

        assert_eq!(bytes(&mut st, ConfigMessage::BeaconGet), h("800b01"));
        let out = run(&mut st, ConfigMessage::BeaconSet { enabled: false });
        assert_eq!(out.effects, vec![Effect::BeaconChanged]);
        assert!(!st.beacon);
        assert_eq!(bytes(&mut st, ConfigMessage::BeaconGet), h("800b00"));

        assert_eq!(bytes(&mut st, ConfigMessage::DefaultTtlGet), h("800e07"));
        assert_eq!(
            bytes(&mut st, ConfigMessage::DefaultTtlSet { ttl: 0x0A }),
            h("800e0a")
        );
        assert_eq!(st.default_ttl, 0x0A);
        // Prohibited values (only a hand-built message can carry them): no answer.
        assert_eq!(
            run(&mut st, ConfigMessage::DefaultTtlSet { ttl: 1 }).reply,
            None
        );
        assert_eq!(
            run(&mut st, ConfigMessage::DefaultTtlSet { ttl: 0x80 }).reply,
            None
        );
        assert_eq!(st.default_ttl, 0x0A);

        // GATT Proxy and Friend: 0x02 "not supported", whatever is asked.
        assert_eq!(bytes(&mut st, ConfigMessage::GattProxyGet), h("801402"));
        let out = run(
            &mut st,
            ConfigMessage::GattProxySet {
                state: FeatureState::Enabled,
            },
        );
        assert_eq!(out.reply.unwrap().to_access().to_vec(), h("801402"));
        assert!(out.effects.is_empty());
        assert_eq!(bytes(&mut st, ConfigMessage::FriendGet), h("801102"));
        assert_eq!(
            bytes(
                &mut st,
                ConfigMessage::FriendSet {
                    state: FeatureState::Enabled
                }
            ),
            h("801102")
        );

        // Relay: state and retransmit (count 2, 1 step → 0x0A).
        assert_eq!(bytes(&mut st, ConfigMessage::RelayGet), h("8028000a"));
        let out = run(
            &mut st,
            ConfigMessage::RelaySet {
                state: FeatureState::Enabled,
                retransmit: Retransmit::from_byte(0x23),
            },
        );
        assert_eq!(out.reply.unwrap().to_access().to_vec(), h("80280123"));
        assert_eq!(out.effects, vec![Effect::RelayChanged]);
        assert!(st.relay);

        assert_eq!(
            bytes(&mut st, ConfigMessage::NetworkTransmitGet),
            h("80250a")
        );
        let out = run(
            &mut st,
            ConfigMessage::NetworkTransmitSet {
                transmit: Retransmit::from_byte(0x47),
            },
        );
        assert_eq!(out.reply.unwrap().to_access().to_vec(), h("802547"));
        assert_eq!(out.effects, vec![Effect::NetworkTransmitChanged]);

        // Node Identity: not supported on a known subnet, 0x04 otherwise.
        assert_eq!(
            bytes(
                &mut st,
                ConfigMessage::NodeIdentityGet {
                    net_key_index: ki(0)
                }
            ),
            h("8048000000 02".replace(' ', "").as_str())
        );
        assert_eq!(
            bytes(
                &mut st,
                ConfigMessage::NodeIdentityGet {
                    net_key_index: ki(3)
                }
            ),
            h("804804030000")
        );
        assert_eq!(
            bytes(
                &mut st,
                ConfigMessage::NodeIdentitySet {
                    net_key_index: ki(3),
                    identity: FeatureState::Enabled,
                }
            ),
            h("804804030001")
        );
        assert_eq!(
            bytes(
                &mut st,
                ConfigMessage::NodeIdentitySet {
                    net_key_index: ki(0),
                    identity: FeatureState::Enabled,
                }
            ),
            h("804800000002")
        );

        // LPN PollTimeout: no friendships, 0.
        assert_eq!(
            bytes(
                &mut st,
                ConfigMessage::LowPowerNodePollTimeoutGet {
                    lpn: Address(0x0042)
                }
            ),
            h("802e4200000000")
        );
        assert_eq!(
            run(
                &mut st,
                ConfigMessage::LowPowerNodePollTimeoutGet {
                    lpn: Address(0xC000)
                }
            )
            .reply,
            None
        );

        // Node Reset: the status, then the reset.
        let out = run(&mut st, ConfigMessage::NodeReset);
        assert_eq!(out.reply.unwrap().to_access().to_vec(), h("804a"));
        assert_eq!(out.effects, vec![Effect::NodeReset]);
        assert!(!ConfigOutcome {
            reply: None,
            effects: vec![Effect::NodeReset]
        }
        .state_changed());
    }

    #[test]
    fn client_messages_get_no_answer() {
        let mut st = state();
        let before = st.clone();
        for m in [
            ConfigMessage::BeaconStatus { enabled: true },
            ConfigMessage::NodeResetStatus,
            ConfigMessage::AppKeyStatus {
                status: StatusCode::Success,
                net_key_index: ki(0),
                app_key_index: ki(0),
            },
            ConfigMessage::NetKeyList {
                net_key_indexes: vec![],
            },
            ConfigMessage::CompositionDataStatus {
                page: 0,
                data: vec![],
            },
        ] {
            assert_eq!(handle(&mut st, &m), ConfigOutcome::default());
        }
        assert_eq!(st, before);
    }

    // -------------------------------------------------------------------------------------
    // Heartbeat
    // -------------------------------------------------------------------------------------

    #[test]
    fn heartbeat_log_conversions() {
        // MshPRT §4.2.17.2: Count Log n means 2^(n-1) Heartbeats.
        assert_eq!(count_from_log(0), 0);
        assert_eq!(count_from_log(1), 1);
        assert_eq!(count_from_log(5), 16);
        assert_eq!(count_from_log(0x10), 0x8000);
        assert_eq!(count_from_log(0x11), 0xFFFE);
        assert_eq!(count_from_log(0xFF), 0xFFFF);
        // Reported rounded up to a power of two.
        for (count, log) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 3),
            (5, 4),
            (16, 5),
            (17, 6),
        ] {
            assert_eq!(log_from_count(count), log, "count {count}");
        }
        assert_eq!(log_from_count(0x8000), 0x10);
        assert_eq!(log_from_count(0xFFFE), 0x11);
        assert_eq!(log_from_count(0xFFFF), 0xFF);
        for log in (0..=0x11).chain([0xFF]) {
            assert_eq!(log_from_count(count_from_log(log)), log);
        }
    }

    #[test]
    fn heartbeat_publication() {
        let mut st = state();
        let hp = |dst, count_log, net| HeartbeatPublicationParams {
            destination: Address(dst),
            count_log,
            period_log: 3,
            ttl: 7,
            features: Features(0xFFF1),
            net_key_index: ki(net),
        };
        // Nothing set: all zero.
        assert_eq!(
            run(&mut st, ConfigMessage::HeartbeatPublicationGet)
                .reply
                .unwrap()
                .to_access()
                .to_vec(),
            h("06 00 0000 00 00 00 0000 0000".replace(' ', "").as_str())
        );
        let out = run(
            &mut st,
            ConfigMessage::HeartbeatPublicationSet(hp(0xC000, 5, 0)),
        );
        assert_eq!(out.effects, vec![Effect::HeartbeatPublicationChanged]);
        // RFU feature bits dropped.
        assert_eq!(
            out.reply.unwrap().emit_params(),
            h("00 00c0 05 03 07 0100 0000".replace(' ', "").as_str())
        );
        assert_eq!(
            st.heartbeat_publication,
            Some(HeartbeatPublication {
                dst: Address(0xC000),
                count: 16,
                period_log: 3,
                ttl: 7,
                features: 1,
                net_index: 0,
            })
        );
        // After three Heartbeats the node has 13 left: reported as Count Log 5 (2^4 ≥ 13).
        st.heartbeat_publication.as_mut().unwrap().count = 13;
        assert_eq!(
            run(&mut st, ConfigMessage::HeartbeatPublicationGet)
                .reply
                .unwrap()
                .emit_params()[3],
            5
        );
        // Unknown NetKey: 0x04, the request repeated, state unchanged.
        let before = st.heartbeat_publication.clone();
        let out = run(
            &mut st,
            ConfigMessage::HeartbeatPublicationSet(hp(0xC001, 2, 9)),
        );
        assert_eq!(
            out.reply,
            Some(ConfigMessage::HeartbeatPublicationStatus {
                status: StatusCode::InvalidNetKeyIndex,
                publication: hp(0xC001, 2, 9),
            })
        );
        assert_eq!(st.heartbeat_publication, before);
        // Virtual destination: 0x01.
        let out = run(
            &mut st,
            ConfigMessage::HeartbeatPublicationSet(hp(0x8001, 2, 0)),
        );
        assert_eq!(status(&out), StatusCode::InvalidAddress);
        // Indefinitely.
        run(
            &mut st,
            ConfigMessage::HeartbeatPublicationSet(hp(0x0042, 0xFF, 0)),
        );
        assert_eq!(st.heartbeat_publication.as_ref().unwrap().count, 0xFFFF);
        // Unassigned destination: off, count/period/TTL 0.
        let out = run(&mut st, ConfigMessage::HeartbeatPublicationSet(hp(0, 4, 0)));
        assert_eq!(
            out.reply.unwrap().emit_params(),
            h("00 0000 00 00 00 0100 0000".replace(' ', "").as_str())
        );
        check(&st).unwrap();
    }

    /// A Heartbeat Subscription Set.
    fn hb_set(src: u16, dst: u16, period_log: u8) -> ConfigMessage {
        ConfigMessage::HeartbeatSubscriptionSet {
            source: Address(src),
            destination: Address(dst),
            period_log,
        }
    }

    /// The parameters of the answer to `msg` at `now`, as hex.
    fn hb_run(
        st: &mut NodeState,
        hb: &mut HeartbeatSubscriptionCounters,
        now: Instant,
        msg: ConfigMessage,
    ) -> Option<String> {
        handle_at(st, hb, now, &msg)
            .reply
            .map(|r| hex::encode(r.emit_params()))
    }

    fn secs(s: f64) -> Instant {
        Instant::from_micros((s * 1e6) as u64)
    }

    /// Status parameters: Status, Source, Destination, PeriodLog, CountLog, MinHops, MaxHops.
    fn hb_status(src: u16, dst: u16, period_log: u8, count_log: u8, min: u8, max: u8) -> String {
        let [s0, s1] = src.to_le_bytes();
        let [d0, d1] = dst.to_le_bytes();
        hex::encode([0, s0, s1, d0, d1, period_log, count_log, min, max])
    }

    #[test]
    fn heartbeat_subscription_logs() {
        // Period Log n means 2^(n-1) s, 0x11 the 16-bit maximum (MshPRT §4.2.18.4).
        assert_eq!(subscription_period(0), 0);
        assert_eq!(subscription_period(1), 1);
        assert_eq!(subscription_period(5), 16);
        assert_eq!(subscription_period(0x10), 0x8000);
        assert_eq!(subscription_period(0x11), 0xFFFF);
        for log in 0..=0x11 {
            assert_eq!(subscription_period_log(subscription_period(log)), log);
        }
        // A remaining period is reported rounded down to a power of two (MshPRF 1.0.1
        // Table 4.1): 2^(n-1)..=2^n - 1 → n.
        for (remaining, log) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (7, 3),
            (15, 4),
            (16, 5),
            (0x7FFF, 0x0F),
            (0x8000, 0x10),
            (0xFFFE, 0x10),
            (0xFFFF, 0x11),
        ] {
            assert_eq!(subscription_period_log(remaining), log, "{remaining} s");
        }
        // Count Log the same way, 0xFFFF (the counter has stopped) → 0xFF (§4.2.18.3).
        for (count, log) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 2),
            (5, 3),
            (0x100, 9),
            (0x8000, 0x10),
            (0xFFFE, 0x10),
            (0xFFFF, 0xFF),
        ] {
            assert_eq!(subscription_count_log(count), log, "count {count}");
        }
    }

    #[test]
    fn heartbeat_subscription_set_get_and_counting() {
        let mut st = state();
        let mut hb = HeartbeatSubscriptionCounters::default();
        let t0 = secs(100.0);
        // No subscription: all zeros.
        assert_eq!(
            hb_run(
                &mut st,
                &mut hb,
                t0,
                ConfigMessage::HeartbeatSubscriptionGet
            )
            .unwrap(),
            hb_status(0, 0, 0, 0, 0, 0)
        );
        // From 0x0042 to 0xC000 for 16 s.
        let out = handle_at(&mut st, &mut hb, t0, &hb_set(0x0042, 0xC000, 5));
        assert_eq!(out.effects, vec![Effect::HeartbeatSubscriptionChanged]);
        assert_eq!(
            out.reply.unwrap().to_access().to_vec(),
            h("803c 00 4200 00c0 05 00 7f 00".replace(' ', "").as_str())
        );
        assert_eq!(
            st.heartbeat_subscription,
            Some(HeartbeatSubscription {
                src: Address(0x0042),
                dst: Address(0xC000),
                period_log: 5,
            })
        );
        // Only Heartbeats from the Source to the Destination count.
        let beat = |st: &NodeState, hb: &mut _, t, src, dst, hops| {
            heartbeat_received(st, hb, t, Address(src), Address(dst), hops)
        };
        assert!(beat(&st, &mut hb, secs(101.0), 0x0042, 0xC000, 3));
        assert!(!beat(&st, &mut hb, secs(101.0), 0x0043, 0xC000, 1));
        assert!(!beat(&st, &mut hb, secs(101.0), 0x0042, 0xC001, 1));
        assert!(!beat(&st, &mut hb, secs(101.0), 0x0042, PRIMARY, 1));
        assert!(beat(&st, &mut hb, secs(102.0), 0x0042, 0xC000, 2));
        assert!(beat(&st, &mut hb, secs(103.0), 0x0042, 0xC000, 5));
        // 3 counted (Count Log 2: 2..=3), 2..5 hops; 12.5 s left → 13 s (Period Log 4: 8..=15).
        assert_eq!(
            hb_run(
                &mut st,
                &mut hb,
                secs(103.5),
                ConfigMessage::HeartbeatSubscriptionGet
            )
            .unwrap(),
            hb_status(0x0042, 0xC000, 4, 2, 2, 5)
        );
        assert_eq!(
            heartbeat_subscription_report(&st, &hb, secs(103.5)),
            Some(HeartbeatSubscriptionReport {
                source: Address(0x0042),
                destination: Address(0xC000),
                remaining: 13,
                count: 3,
                min_hops: 2,
                max_hops: 5,
            })
        );
        // Hop counts beyond 0x7F (a forged InitTTL/TTL pair) are held at 0x7F.
        assert!(beat(&st, &mut hb, secs(104.0), 0x0042, 0xC000, 0x80));
        assert_eq!(hb.max_hops, 0x7F);
        // The period runs out at 116 s: nothing more is counted, the counters stay, Period
        // Log 0.
        assert!(beat(&st, &mut hb, secs(115.9), 0x0042, 0xC000, 1));
        assert!(!beat(&st, &mut hb, secs(116.0), 0x0042, 0xC000, 1));
        assert_eq!(
            hb_run(
                &mut st,
                &mut hb,
                secs(200.0),
                ConfigMessage::HeartbeatSubscriptionGet
            )
            .unwrap(),
            hb_status(0x0042, 0xC000, 0, 3, 1, 0x7F)
        );
        // The same Set again starts over: counters reset, a new period.
        let out = handle_at(&mut st, &mut hb, secs(200.0), &hb_set(0x0042, 0xC000, 5));
        assert_eq!(out.effects, vec![], "the persisted state did not change");
        assert_eq!(
            hex::encode(out.reply.unwrap().emit_params()),
            hb_status(0x0042, 0xC000, 5, 0, 0x7F, 0)
        );
        assert!(beat(&st, &mut hb, secs(201.0), 0x0042, 0xC000, 4));
        assert_eq!(hb.count, 1);
    }

    #[test]
    fn heartbeat_subscription_count_stops_at_ffff() {
        let mut st = state();
        let mut hb = HeartbeatSubscriptionCounters::default();
        handle_at(
            &mut st,
            &mut hb,
            Instant::ZERO,
            &hb_set(0x0042, PRIMARY, 0x11),
        );
        let t = secs(1.0);
        for i in 0..0x1_0005u32 {
            let hops = (i % 7) as u8 + 1;
            assert!(heartbeat_received(
                &st,
                &mut hb,
                t,
                Address(0x0042),
                Address(PRIMARY),
                hops
            ));
        }
        assert_eq!(hb.count, 0xFFFF);
        // 0xFFFF s minus one second, rounded up.
        assert_eq!(
            hb_run(&mut st, &mut hb, t, ConfigMessage::HeartbeatSubscriptionGet).unwrap(),
            hb_status(0x0042, PRIMARY, 0x10, 0xFF, 1, 7)
        );
        // One count short of the stop is Count Log 0x10.
        hb.count = 0xFFFE;
        assert_eq!(
            hb_run(&mut st, &mut hb, t, ConfigMessage::HeartbeatSubscriptionGet).unwrap(),
            hb_status(0x0042, PRIMARY, 0x10, 0x10, 1, 7)
        );
    }

    #[test]
    fn heartbeat_subscription_disabling_keeps_the_counters() {
        let mut st = state();
        let mut hb = HeartbeatSubscriptionCounters::default();
        let beat = |st: &NodeState, hb: &mut _, t| {
            heartbeat_received(st, hb, t, Address(0x0042), Address(0xC000), 2)
        };
        // Period Log 0 stops the subscription: the answer reports unassigned addresses, Period
        // Log 0 and the counters as they were (MshPRF 1.0.1 §4.4.1.2.16); a Get, all zeros.
        for disable in [
            hb_set(0x0042, 0xC000, 0),
            hb_set(0, 0xC000, 5),
            hb_set(0x0042, 0, 5),
        ] {
            handle_at(&mut st, &mut hb, secs(10.0), &hb_set(0x0042, 0xC000, 6));
            for t in [11.0, 12.0, 13.0, 14.0] {
                assert!(beat(&st, &mut hb, secs(t)));
            }
            let out = handle_at(&mut st, &mut hb, secs(15.0), &disable);
            assert_eq!(out.effects, vec![Effect::HeartbeatSubscriptionChanged]);
            assert_eq!(
                hex::encode(out.reply.unwrap().emit_params()),
                hb_status(0, 0, 0, 3, 2, 2),
                "{disable:?}"
            );
            assert_eq!(st.heartbeat_subscription, None);
            assert!(!beat(&st, &mut hb, secs(16.0)));
            assert_eq!(heartbeat_subscription_report(&st, &hb, secs(16.0)), None);
            assert_eq!(
                hb_run(
                    &mut st,
                    &mut hb,
                    secs(16.0),
                    ConfigMessage::HeartbeatSubscriptionGet
                )
                .unwrap(),
                hb_status(0, 0, 0, 0, 0, 0)
            );
        }
        // Disabling what counted nothing answers Min Hops 0x7F, as the qualification test
        // MESH/NODE/CFG/HBS/BV-01-C expects.
        handle_at(&mut st, &mut hb, secs(20.0), &hb_set(0x0042, 0xC000, 6));
        assert_eq!(
            hb_run(&mut st, &mut hb, secs(21.0), hb_set(0, 0, 0)).unwrap(),
            hb_status(0, 0, 0, 0, 0x7F, 0)
        );
        // Disabling what is already disabled changes nothing persisted.
        let out = handle_at(&mut st, &mut hb, secs(22.0), &hb_set(0, 0, 0));
        assert_eq!(out.effects, vec![]);
    }

    #[test]
    fn heartbeat_subscription_prohibited_values_get_no_answer() {
        let mut st = state();
        let mut hb = HeartbeatSubscriptionCounters::default();
        let mut set =
            |src, dst, log| hb_run(&mut st, &mut hb, Instant::ZERO, hb_set(src, dst, log));
        // This node's primary address is a valid destination; other unicast ones are not.
        assert!(set(0x0042, PRIMARY, 4).is_some());
        assert_eq!(set(0x0042, PRIMARY + 1, 4), None);
        assert_eq!(set(0xC000, 0xC000, 4), None);
        assert_eq!(set(0x0042, 0x8000, 4), None);
        assert_eq!(set(0x0042, 0xC000, 0x12), None);
        // The refusals left the subscription alone.
        assert_eq!(
            st.heartbeat_subscription.as_ref().map(|s| s.dst),
            Some(Address(PRIMARY))
        );
    }

    #[test]
    fn heartbeat_subscription_without_run_time_state() {
        // `handle` (no counters, no clock) answers a Set as a node does and reports a
        // subscription that counts nothing afterwards.
        let mut st = state();
        assert_eq!(
            hex::encode(
                run(&mut st, hb_set(0x0042, 0xC000, 4))
                    .reply
                    .unwrap()
                    .emit_params()
            ),
            hb_status(0x0042, 0xC000, 4, 0, 0x7F, 0)
        );
        assert_eq!(
            hex::encode(
                run(&mut st, ConfigMessage::HeartbeatSubscriptionGet)
                    .reply
                    .unwrap()
                    .emit_params()
            ),
            hb_status(0x0042, 0xC000, 0, 0, 0x7F, 0)
        );
    }

    // -------------------------------------------------------------------------------------
    // Composition Data
    // -------------------------------------------------------------------------------------

    // MshPRT §8.10.1: the sample Composition Data Page 0 (CID 0x000C, PID 0x001A, VID 0x0001,
    // CRPL 8, one element with five SIG models and one vendor model) built from a state. The
    // sample claims relay and proxy (0x0003); this node supports relay only (0x0001).
    #[test]
    fn composition_page0_sample() {
        let mut st = state();
        st.cid = 0x000C;
        st.pid = 0x001A;
        st.vid = 0x0001;
        st.crpl = 8;
        st.elements = vec![ElementState {
            location: 0x0100,
            models: [0x0000, 0x8000, 0x0001, 0x1000, 0x1003]
                .into_iter()
                .map(|m| ModelState::new(ModelId::Sig(m)))
                .chain([ModelState::new(ModelId::Vendor {
                    company_id: 0x003F,
                    model_id: 0x002A,
                })])
                .collect(),
        }];
        let sample = h("0C001A0001000800030000010501000000800100001003103F002A00");
        let mut ours = sample.clone();
        ours[8] = 0x01;
        let page = composition_page0(&st);
        assert_eq!(page.to_bytes(), ours);
        assert_eq!(CompositionDataPage0::parse(&ours), Ok(page));

        // Any page asked for: page 0, the highest page not above it that exists.
        for asked in [0, 1, 0x80, 0xFF] {
            let out = run(&mut st, ConfigMessage::CompositionDataGet { page: asked });
            assert_eq!(
                out.reply,
                Some(ConfigMessage::CompositionDataStatus {
                    page: 0,
                    data: ours.clone(),
                })
            );
            assert!(out.effects.is_empty());
        }
    }

    #[test]
    fn composition_orders_sig_before_vendor() {
        let st = state();
        let page = composition_page0(&st);
        assert_eq!(page.elements.len(), 2);
        assert_eq!(page.elements[0].sig_models, vec![0x0000, 0x0002, 0x1000]);
        assert_eq!(page.elements[1].sig_models, vec![0x1002]);
        assert_eq!(page.elements[1].vendor_models.len(), 1);
        assert!(page.features.relay() && !page.features.proxy());
        assert_eq!(page.crpl, st.crpl);
    }

    // -------------------------------------------------------------------------------------
    // Properties
    // -------------------------------------------------------------------------------------

    /// Every opcode of the Configuration messages (MshPRT §4.3.4).
    const OPCODES: [Opcode; 67] = [
        cfg::APPKEY_ADD,
        cfg::APPKEY_UPDATE,
        cfg::COMPOSITION_DATA_STATUS,
        cfg::MODEL_PUBLICATION_SET,
        cfg::HEARTBEAT_PUBLICATION_STATUS,
        cfg::APPKEY_DELETE,
        cfg::APPKEY_GET,
        cfg::APPKEY_LIST,
        cfg::APPKEY_STATUS,
        cfg::COMPOSITION_DATA_GET,
        cfg::BEACON_GET,
        cfg::BEACON_SET,
        cfg::BEACON_STATUS,
        cfg::DEFAULT_TTL_GET,
        cfg::DEFAULT_TTL_SET,
        cfg::DEFAULT_TTL_STATUS,
        cfg::FRIEND_GET,
        cfg::FRIEND_SET,
        cfg::FRIEND_STATUS,
        cfg::GATT_PROXY_GET,
        cfg::GATT_PROXY_SET,
        cfg::GATT_PROXY_STATUS,
        cfg::KEY_REFRESH_PHASE_GET,
        cfg::KEY_REFRESH_PHASE_SET,
        cfg::KEY_REFRESH_PHASE_STATUS,
        cfg::MODEL_PUBLICATION_GET,
        cfg::MODEL_PUBLICATION_STATUS,
        cfg::MODEL_PUBLICATION_VIRTUAL_ADDRESS_SET,
        cfg::MODEL_SUBSCRIPTION_ADD,
        cfg::MODEL_SUBSCRIPTION_DELETE,
        cfg::MODEL_SUBSCRIPTION_DELETE_ALL,
        cfg::MODEL_SUBSCRIPTION_OVERWRITE,
        cfg::MODEL_SUBSCRIPTION_STATUS,
        cfg::MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD,
        cfg::MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE,
        cfg::MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_OVERWRITE,
        cfg::NETWORK_TRANSMIT_GET,
        cfg::NETWORK_TRANSMIT_SET,
        cfg::NETWORK_TRANSMIT_STATUS,
        cfg::RELAY_GET,
        cfg::RELAY_SET,
        cfg::RELAY_STATUS,
        cfg::SIG_MODEL_SUBSCRIPTION_GET,
        cfg::SIG_MODEL_SUBSCRIPTION_LIST,
        cfg::VENDOR_MODEL_SUBSCRIPTION_GET,
        cfg::VENDOR_MODEL_SUBSCRIPTION_LIST,
        cfg::LPN_POLL_TIMEOUT_GET,
        cfg::LPN_POLL_TIMEOUT_STATUS,
        cfg::HEARTBEAT_PUBLICATION_GET,
        cfg::HEARTBEAT_PUBLICATION_SET,
        cfg::HEARTBEAT_SUBSCRIPTION_GET,
        cfg::HEARTBEAT_SUBSCRIPTION_SET,
        cfg::HEARTBEAT_SUBSCRIPTION_STATUS,
        cfg::MODEL_APP_BIND,
        cfg::MODEL_APP_STATUS,
        cfg::MODEL_APP_UNBIND,
        cfg::NETKEY_ADD,
        cfg::NETKEY_DELETE,
        cfg::NETKEY_GET,
        cfg::NETKEY_LIST,
        cfg::NETKEY_STATUS,
        cfg::NETKEY_UPDATE,
        cfg::NODE_IDENTITY_GET,
        cfg::NODE_IDENTITY_SET,
        cfg::NODE_IDENTITY_STATUS,
        cfg::NODE_RESET,
        cfg::NODE_RESET_STATUS,
    ];

    /// A parameter byte biased towards this node's addresses, indexes and models, so that
    /// random messages often reach the state-changing paths.
    fn param_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            3 => 0u8..4,
            1 => Just(0x01u8),
            1 => Just(0xC0u8),
            1 => Just(0x10u8),
            2 => any::<u8>(),
        ]
    }

    /// Parameter lengths of the Configuration messages (SIG and vendor forms), and a few
    /// others.
    const LENGTHS: [usize; 24] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18, 19, 20, 22, 24, 25, 26, 27, 30,
    ];

    /// Random parameters of a Configuration opcode, as they may arrive.
    fn raw_message() -> impl Strategy<Value = (Opcode, Vec<u8>)> {
        (0..OPCODES.len(), 0..LENGTHS.len()).prop_flat_map(|(i, l)| {
            (
                Just(OPCODES[i]),
                prop::collection::vec(param_byte(), LENGTHS[l]),
            )
        })
    }

    /// A message built from small domains of this node's addresses, keys and models.
    fn built_message() -> impl Strategy<Value = ConfigMessage> {
        let models = [
            ModelId::CONFIG_SERVER,
            ModelId::HEALTH_SERVER,
            ModelId::GENERIC_ONOFF_SERVER,
            ModelId::GENERIC_LEVEL_SERVER,
            VENDOR,
            ModelId::Sig(0x1234),
        ];
        let elements = [PRIMARY, PRIMARY + 1, PRIMARY + 2, 0xC000];
        let addrs = [0xC000u16, 0xC001, 0xFFFE, 0xFFFF, 0x0005, 0x0000, 0x8123];
        let labels = [[1u8; 16], [2u8; 16]];
        (
            (
                0u8..27,
                0..elements.len(),
                0..models.len(),
                0u16..4,
                0u16..3,
            ),
            (
                any::<bool>(),
                0..addrs.len(),
                0..labels.len(),
                any::<u8>(),
                any::<u8>(),
            ),
            (0u8..4, prop::bool::weighted(0.1), 2u8..4, 0u8..6),
        )
            .prop_map(
                move |((sel, e, m, app, net), (kb, a, l, b1, b2), (ttl, cred, tr, log))| {
                    use ConfigMessage as M;
                    let element = Address(elements[e]);
                    let model = models[m];
                    let address = Address(addrs[a]);
                    let label = labels[l];
                    let key = if kb { KEY_A } else { KEY_B };
                    let (app, net) = (ki(app), ki(net));
                    let publication = PublishParams {
                        app_key_index: app,
                        credential_flag: cred,
                        ttl: [0, 5, 0x7F, 0xFF][usize::from(ttl)],
                        period: PublishPeriod::from_byte(b1),
                        retransmit: Retransmit::from_byte(b2),
                    };
                    match sel {
                        0 => M::AppKeyAdd {
                            net_key_index: net,
                            app_key_index: app,
                            key,
                        },
                        1 => M::AppKeyUpdate {
                            net_key_index: net,
                            app_key_index: app,
                            key,
                        },
                        2 => M::AppKeyDelete {
                            net_key_index: net,
                            app_key_index: app,
                        },
                        3 => M::NetKeyAdd {
                            net_key_index: net,
                            key,
                        },
                        4 => M::NetKeyUpdate {
                            net_key_index: net,
                            key,
                        },
                        5 => M::NetKeyDelete { net_key_index: net },
                        6 => M::ModelAppBind {
                            element,
                            app_key_index: app,
                            model,
                        },
                        7 => M::ModelAppUnbind {
                            element,
                            app_key_index: app,
                            model,
                        },
                        8 => M::ModelPublicationSet {
                            element,
                            address,
                            publication,
                            model,
                        },
                        9 => M::ModelPublicationVirtualAddressSet {
                            element,
                            label,
                            publication,
                            model,
                        },
                        10 => M::ModelSubscriptionAdd {
                            element,
                            address,
                            model,
                        },
                        11 => M::ModelSubscriptionDelete {
                            element,
                            address,
                            model,
                        },
                        12 => M::ModelSubscriptionOverwrite {
                            element,
                            address,
                            model,
                        },
                        13 => M::ModelSubscriptionVirtualAddressAdd {
                            element,
                            label,
                            model,
                        },
                        14 => M::ModelSubscriptionVirtualAddressDelete {
                            element,
                            label,
                            model,
                        },
                        15 => M::ModelSubscriptionVirtualAddressOverwrite {
                            element,
                            label,
                            model,
                        },
                        16 => M::ModelSubscriptionDeleteAll { element, model },
                        17 => M::KeyRefreshPhaseSet {
                            net_key_index: net,
                            transition: tr,
                        },
                        18 => M::HeartbeatPublicationSet(HeartbeatPublicationParams {
                            destination: address,
                            count_log: [0, 1, 5, 0x11, 0xFF, 3][usize::from(log)],
                            period_log: log,
                            ttl: 3,
                            features: Features(u16::from(b1)),
                            net_key_index: net,
                        }),
                        19 => M::HeartbeatSubscriptionSet {
                            source: Address(u16::from(b1 & 0x3)),
                            destination: address,
                            period_log: log,
                        },
                        20 => M::ModelPublicationGet { element, model },
                        21 => M::ModelSubscriptionGet { element, model },
                        22 => M::ModelAppGet { element, model },
                        23 => M::AppKeyGet { net_key_index: net },
                        24 => M::RelaySet {
                            state: if kb {
                                FeatureState::Enabled
                            } else {
                                FeatureState::Disabled
                            },
                            retransmit: Retransmit::from_byte(b2),
                        },
                        25 => M::NodeReset,
                        _ => M::CompositionDataGet { page: b1 },
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `handle` never panics on a parsed Configuration message, and answers every request
        /// it answers with a message that survives the codec.
        #[test]
        fn never_panics_on_parsed_messages(
            msgs in prop::collection::vec(raw_message(), 1..32),
        ) {
            let mut st = state();
            for (opcode, params) in msgs {
                let Ok(msg) = ConfigMessage::parse(opcode, &params) else {
                    continue;
                };
                let out = run(&mut st, msg);
                if let Some(reply) = out.reply {
                    let access = reply.to_access();
                    prop_assert_eq!(ConfigMessage::from_access(&access), Ok(reply));
                }
                prop_assert_eq!(check(&st), Ok(()));
            }
        }

        /// Any mix of Heartbeat Subscription Sets and Gets, Heartbeats and time never panics;
        /// every answer survives the codec; the counters stay within their states' ranges.
        #[test]
        fn heartbeat_subscription_never_breaks(
            ops in prop::collection::vec(
                (0u8..4, 0usize..4, 0usize..4, any::<u8>(), 0u64..40_000_000),
                1..64,
            ),
        ) {
            const ADDRS: [u16; 4] = [0x0000, 0x0042, 0xC000, PRIMARY];
            let mut st = state();
            let mut hb = HeartbeatSubscriptionCounters::default();
            let mut now = Instant::ZERO;
            for (op, a, b, x, dt) in ops {
                now += Duration::from_micros(dt);
                let msg = match op {
                    0 => Some(hb_set(ADDRS[a], ADDRS[b], x % 0x14)),
                    1 => Some(ConfigMessage::HeartbeatSubscriptionGet),
                    _ => {
                        let before = hb.count;
                        let counted = heartbeat_received(
                            &st, &mut hb, now, Address(ADDRS[a]), Address(ADDRS[b]), x,
                        );
                        prop_assert_eq!(hb.count, before.saturating_add(u16::from(counted)));
                        None
                    }
                };
                if let Some(msg) = msg {
                    let out = handle_at(&mut st, &mut hb, now, &msg);
                    if let Some(reply) = out.reply {
                        let access = reply.to_access();
                        prop_assert_eq!(ConfigMessage::from_access(&access), Ok(reply));
                    }
                }
                prop_assert!(hb.min_hops <= MAX_HOPS_VALUE && hb.max_hops <= MAX_HOPS_VALUE);
                if hb.count > 0 {
                    prop_assert!(1 <= hb.min_hops && hb.min_hops <= hb.max_hops);
                }
                prop_assert_eq!(
                    heartbeat_subscription_report(&st, &hb, now).is_some(),
                    st.heartbeat_subscription.is_some()
                );
            }
        }

        /// After any sequence of requests (key refresh effects applied as the node does), the
        /// state stays consistent: bindings and publications name stored AppKeys, AppKeys name
        /// stored NetKeys, labels match virtual subscriptions, the last NetKey stays.
        #[test]
        fn state_stays_consistent(
            msgs in prop::collection::vec(built_message(), 1..64),
        ) {
            let mut st = state();
            for msg in msgs {
                let before = st.clone();
                let out = run(&mut st, msg.clone());
                prop_assert_eq!(check(&st), Ok(()), "after {:?}", msg);
                // Anything that changed the state says so.
                if st != before {
                    prop_assert!(out.state_changed(), "silent change by {:?}", msg);
                }
                if let Some(reply) = out.reply {
                    let access = reply.to_access();
                    prop_assert_eq!(ConfigMessage::from_access(&access), Ok(reply));
                }
            }
        }
    }
}
