//! The Configuration messages (Mesh Protocol 1.1 §4.3.2) exchanged by the Configuration Server
//! and Client: [`ConfigMessage`] and the one table that gives each message its opcode (§4.3.4),
//! the status that answers it, its parameters on air and its summary.
//!
//! Subsection numbers (§4.3.2.x) follow the order of the Configuration messages in the
//! specification (Beacon Get is §4.3.2.1, Node Reset Status §4.3.2.71). Model identifiers at
//! the end of a message are 2 octets (SIG model) or 4 octets (vendor model), told apart by the
//! length of the parameters.

use crate::ble::address::Address;
use crate::ble::foundation::composition::CompositionDataPage0;
use crate::ble::models::{human_millis, unknown_opcode, KeyIndex, ModelId, Reader};
use crate::ble::wire::access::{AccessMessage, Opcode};
use crate::ble::wire::Result;

use super::codec::{
    config_messages, Addr, Addresses, Beacon, Bytes16, DefaultTtl, HeartbeatPub, HeartbeatSub,
    Index, IndexPair, Indexes, Model, Octet, OctetIn, PeriodLog, PollTimeout, Publish, Rest,
    SetState, Status, StatusState, Transmit,
};
use super::opcodes::*;
use super::{
    FeatureState, HeartbeatPublication, HeartbeatSubscription, Publication, Retransmit, StatusCode,
};

#[cfg(test)]
pub(crate) mod tests;

/// A Configuration message (MshPRT §4.3.2).
///
/// Element addresses and subscription or publish addresses are carried as any [`Address`]: the
/// Configuration Server answers unsuitable addresses with a status code rather than dropping
/// the message, so the codec does not judge them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigMessage {
    /// §4.3.2.1: no parameters.
    BeaconGet,
    /// §4.3.2.2: the Secure Network Beacon state, 0x00 or 0x01.
    BeaconSet {
        /// Whether the node broadcasts Secure Network beacons.
        enabled: bool,
    },
    /// §4.3.2.3
    BeaconStatus {
        /// Whether the node broadcasts Secure Network beacons.
        enabled: bool,
    },
    /// §4.3.2.4
    CompositionDataGet {
        /// The page number requested (0xFF: the highest page).
        page: u8,
    },
    /// §4.3.2.5: see [`CompositionDataPage0`] to read page 0.
    CompositionDataStatus {
        /// The page number of the data.
        page: u8,
        /// The page's contents.
        data: Vec<u8>,
    },
    /// §4.3.2.6: no parameters.
    DefaultTtlGet,
    /// §4.3.2.7: TTL 0x00 or 0x02..=0x7F.
    DefaultTtlSet {
        /// The new Default TTL.
        ttl: u8,
    },
    /// §4.3.2.8
    DefaultTtlStatus {
        /// The Default TTL.
        ttl: u8,
    },
    /// §4.3.2.9: no parameters.
    GattProxyGet,
    /// §4.3.2.10: Disabled or Enabled.
    GattProxySet {
        /// The new GATT Proxy state.
        state: FeatureState,
    },
    /// §4.3.2.11
    GattProxyStatus {
        /// The GATT Proxy state.
        state: FeatureState,
    },
    /// §4.3.2.12: no parameters.
    RelayGet,
    /// §4.3.2.13: Relay (Disabled or Enabled) and Relay Retransmit.
    RelaySet {
        /// The new Relay state.
        state: FeatureState,
        /// Relay Retransmit Count and Interval Steps.
        retransmit: Retransmit,
    },
    /// §4.3.2.14
    RelayStatus {
        /// The Relay state.
        state: FeatureState,
        /// Relay Retransmit Count and Interval Steps.
        retransmit: Retransmit,
    },
    /// §4.3.2.15
    ModelPublicationGet {
        /// The element of the model.
        element: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.16
    ModelPublicationSet {
        /// The element of the model.
        element: Address,
        /// The publish address (unassigned to stop publishing).
        address: Address,
        /// The publication parameters.
        publication: Publication,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.17
    ModelPublicationVirtualAddressSet {
        /// The element of the model.
        element: Address,
        /// The Label UUID of the virtual publish address.
        label: [u8; 16],
        /// The publication parameters.
        publication: Publication,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.18
    ModelPublicationStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The publish address.
        address: Address,
        /// The publication parameters.
        publication: Publication,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.19
    ModelSubscriptionAdd {
        /// The element of the model.
        element: Address,
        /// The group address to add.
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.20
    ModelSubscriptionVirtualAddressAdd {
        /// The element of the model.
        element: Address,
        /// The Label UUID to add.
        label: [u8; 16],
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.21
    ModelSubscriptionDelete {
        /// The element of the model.
        element: Address,
        /// The group address to remove.
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.22
    ModelSubscriptionVirtualAddressDelete {
        /// The element of the model.
        element: Address,
        /// The Label UUID to remove.
        label: [u8; 16],
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.23
    ModelSubscriptionOverwrite {
        /// The element of the model.
        element: Address,
        /// The group address that replaces the list.
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.24
    ModelSubscriptionVirtualAddressOverwrite {
        /// The element of the model.
        element: Address,
        /// The Label UUID that replaces the list.
        label: [u8; 16],
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.25
    ModelSubscriptionDeleteAll {
        /// The element of the model.
        element: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.26
    ModelSubscriptionStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The address of the request (or the virtual address of a Label UUID).
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.27 (SIG model, opcode 0x8029) or §4.3.2.29 (vendor model, 0x802B).
    ModelSubscriptionGet {
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
    },
    /// §4.3.2.28 (SIG model, 0x802A) or §4.3.2.30 (vendor model, 0x802C).
    ModelSubscriptionList {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
        /// The subscription list.
        addresses: Vec<Address>,
    },
    /// §4.3.2.31
    NetKeyAdd {
        /// The index of the key.
        net_key_index: KeyIndex,
        /// The NetKey.
        key: [u8; 16],
    },
    /// §4.3.2.32
    NetKeyUpdate {
        /// The index of the key.
        net_key_index: KeyIndex,
        /// The new NetKey.
        key: [u8; 16],
    },
    /// §4.3.2.33
    NetKeyDelete {
        /// The index of the key.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.34
    NetKeyStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The index of the key.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.35: no parameters.
    NetKeyGet,
    /// §4.3.2.36
    NetKeyList {
        /// The NetKey Indexes known to the node.
        net_key_indexes: Vec<KeyIndex>,
    },
    /// §4.3.2.37
    AppKeyAdd {
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
        /// The AppKey.
        key: [u8; 16],
    },
    /// §4.3.2.38
    AppKeyUpdate {
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
        /// The new AppKey.
        key: [u8; 16],
    },
    /// §4.3.2.39
    AppKeyDelete {
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
    },
    /// §4.3.2.40
    AppKeyStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
    },
    /// §4.3.2.41
    AppKeyGet {
        /// The NetKey whose AppKeys are requested.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.42
    AppKeyList {
        /// Status code of the request.
        status: StatusCode,
        /// The NetKey the AppKeys are bound to.
        net_key_index: KeyIndex,
        /// The AppKey Indexes bound to it.
        app_key_indexes: Vec<KeyIndex>,
    },
    /// §4.3.2.43
    NodeIdentityGet {
        /// The subnet.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.44: Identity is Disabled (stopped) or Enabled (running).
    NodeIdentitySet {
        /// The subnet.
        net_key_index: KeyIndex,
        /// The new Node Identity state.
        identity: FeatureState,
    },
    /// §4.3.2.45
    NodeIdentityStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The subnet.
        net_key_index: KeyIndex,
        /// The Node Identity state.
        identity: FeatureState,
    },
    /// §4.3.2.46
    ModelAppBind {
        /// The element of the model.
        element: Address,
        /// The AppKey to bind.
        app_key_index: KeyIndex,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.47
    ModelAppUnbind {
        /// The element of the model.
        element: Address,
        /// The AppKey to unbind.
        app_key_index: KeyIndex,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.48
    ModelAppStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The AppKey of the request.
        app_key_index: KeyIndex,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.49 (SIG model, 0x804B) or §4.3.2.51 (vendor model, 0x804D).
    ModelAppGet {
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
    },
    /// §4.3.2.50 (SIG model, 0x804C) or §4.3.2.52 (vendor model, 0x804E).
    ModelAppList {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
        /// The AppKeys bound to the model.
        app_key_indexes: Vec<KeyIndex>,
    },
    /// §4.3.2.53: no parameters.
    FriendGet,
    /// §4.3.2.54: Disabled or Enabled.
    FriendSet {
        /// The new Friend state.
        state: FeatureState,
    },
    /// §4.3.2.55
    FriendStatus {
        /// The Friend state.
        state: FeatureState,
    },
    /// §4.3.2.56
    KeyRefreshPhaseGet {
        /// The subnet.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.57: Transition 0x02 or 0x03 (§4.2.14 Table "Key Refresh Phase transition").
    KeyRefreshPhaseSet {
        /// The subnet.
        net_key_index: KeyIndex,
        /// The transition: 0x02 (to phase 2) or 0x03 (to phase 3, then Normal operation).
        transition: u8,
    },
    /// §4.3.2.58: Phase 0x00..=0x02 (§4.2.14).
    KeyRefreshPhaseStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The subnet.
        net_key_index: KeyIndex,
        /// The Key Refresh Phase: 0 normal operation, 1 first phase, 2 second phase.
        phase: u8,
    },
    /// §4.3.2.59: no parameters.
    HeartbeatPublicationGet,
    /// §4.3.2.60
    HeartbeatPublicationSet(HeartbeatPublication),
    /// §4.3.2.61
    HeartbeatPublicationStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The Heartbeat Publication state.
        publication: HeartbeatPublication,
    },
    /// §4.3.2.62: no parameters.
    HeartbeatSubscriptionGet,
    /// §4.3.2.63
    HeartbeatSubscriptionSet {
        /// Source address of the heartbeats to count.
        source: Address,
        /// Destination address of the heartbeats to count.
        destination: Address,
        /// Period Log: 0x00..=0x11.
        period_log: u8,
    },
    /// §4.3.2.64
    HeartbeatSubscriptionStatus(HeartbeatSubscription),
    /// §4.3.2.65
    LowPowerNodePollTimeoutGet {
        /// The Low Power node's primary element address.
        lpn: Address,
    },
    /// §4.3.2.66
    LowPowerNodePollTimeoutStatus {
        /// The Low Power node's primary element address.
        lpn: Address,
        /// PollTimeout timer value in units of 100 ms (24 bits): 0, or 0x0A..=0x34BBFF.
        poll_timeout: u32,
    },
    /// §4.3.2.67: no parameters.
    NetworkTransmitGet,
    /// §4.3.2.68
    NetworkTransmitSet {
        /// Network Transmit Count and Interval Steps.
        transmit: Retransmit,
    },
    /// §4.3.2.69
    NetworkTransmitStatus {
        /// Network Transmit Count and Interval Steps.
        transmit: Retransmit,
    },
    /// §4.3.2.70: no parameters.
    NodeReset,
    /// §4.3.2.71: no parameters.
    NodeResetStatus,
}

impl ConfigMessage {
    /// The status code a status message carries (MshPRT §4.3.5), `None` for messages without
    /// one (requests, and statuses of states that cannot fail).
    pub fn status(&self) -> Option<StatusCode> {
        use ConfigMessage as M;
        match self {
            M::AppKeyList { status, .. }
            | M::AppKeyStatus { status, .. }
            | M::HeartbeatPublicationStatus { status, .. }
            | M::KeyRefreshPhaseStatus { status, .. }
            | M::ModelAppList { status, .. }
            | M::ModelAppStatus { status, .. }
            | M::ModelPublicationStatus { status, .. }
            | M::ModelSubscriptionList { status, .. }
            | M::ModelSubscriptionStatus { status, .. }
            | M::NetKeyStatus { status, .. }
            | M::NodeIdentityStatus { status, .. } => Some(*status),
            M::HeartbeatSubscriptionStatus(h) => Some(h.status),
            _ => None,
        }
    }

    /// Parses an access message.
    pub fn from_access(m: &AccessMessage) -> Result<Self> {
        Self::parse(m.opcode, &m.parameters)
    }

    /// The access message: opcode and parameters.
    pub fn to_access(&self) -> AccessMessage {
        AccessMessage::new(self.opcode(), self.emit_params())
    }

    /// A one-line human summary, e.g. `Config AppKey Status Success net 0x456 app 0x123`.
    pub fn describe(&self) -> String {
        let name = self.opcode().name().unwrap_or("Config ?");
        let details = self.details();
        if details.is_empty() {
            name.to_string()
        } else {
            format!("{name} {details}")
        }
    }
}

// The Configuration messages in the order of MshPRT §4.3.2: variant and fields, opcode (the
// vendor form's after `/`), the status that answers a request (after `->`), the parameters on
// air, and the summary `describe` shows after the message's name. See [`super::codec`].
config_messages! {
    BeaconGet {} = BEACON_GET -> BEACON_STATUS [];
    BeaconSet { enabled } = BEACON_SET -> BEACON_STATUS [Beacon => enabled] "{}", on_off(enabled);
    BeaconStatus { enabled } = BEACON_STATUS [Beacon => enabled] "{}", on_off(enabled);
    CompositionDataGet { page } = COMPOSITION_DATA_GET -> COMPOSITION_DATA_STATUS
        [Octet => page] "page {page}";
    CompositionDataStatus { page, data } = COMPOSITION_DATA_STATUS [Octet => page, Rest => data]
        "page {page} {}", composition_summary(*page, data);
    DefaultTtlGet {} = DEFAULT_TTL_GET -> DEFAULT_TTL_STATUS [];
    DefaultTtlSet { ttl } = DEFAULT_TTL_SET -> DEFAULT_TTL_STATUS [DefaultTtl => ttl] "ttl {ttl}";
    DefaultTtlStatus { ttl } = DEFAULT_TTL_STATUS [DefaultTtl => ttl] "ttl {ttl}";
    GattProxyGet {} = GATT_PROXY_GET -> GATT_PROXY_STATUS [];
    GattProxySet { state } = GATT_PROXY_SET -> GATT_PROXY_STATUS
        [SetState("GATT Proxy") => state] "{}", state.name();
    GattProxyStatus { state } = GATT_PROXY_STATUS
        [StatusState("GATT Proxy") => state] "{}", state.name();
    RelayGet {} = RELAY_GET -> RELAY_STATUS [];
    RelaySet { state, retransmit } = RELAY_SET -> RELAY_STATUS
        [SetState("Relay") => state, Transmit => retransmit]
        "{} retransmit {}x{}ms", state.name(), retransmit.count, retransmit.network_interval_ms();
    RelayStatus { state, retransmit } = RELAY_STATUS
        [StatusState("Relay") => state, Transmit => retransmit]
        "{} retransmit {}x{}ms", state.name(), retransmit.count, retransmit.network_interval_ms();
    ModelPublicationGet { element, model } = MODEL_PUBLICATION_GET -> MODEL_PUBLICATION_STATUS
        [Addr => element, Model => model] "element {element} model {model}";
    ModelPublicationSet { element, address, publication, model } = MODEL_PUBLICATION_SET
        -> MODEL_PUBLICATION_STATUS
        [Addr => element, Addr => address, Publish => publication, Model => model]
        "element {element} model {model} address {address} {}", publication.describe();
    ModelPublicationVirtualAddressSet { element, label, publication, model }
        = MODEL_PUBLICATION_VIRTUAL_ADDRESS_SET -> MODEL_PUBLICATION_STATUS
        [Addr => element, Bytes16 => label, Publish => publication, Model => model]
        "element {element} model {model} label {} {}", hex16(label), publication.describe();
    ModelPublicationStatus { status, element, address, publication, model }
        = MODEL_PUBLICATION_STATUS
        [Status => status, Addr => element, Addr => address, Publish => publication, Model => model]
        "{status} element {element} model {model} address {address} {}", publication.describe();
    ModelSubscriptionAdd { element, address, model } = MODEL_SUBSCRIPTION_ADD
        -> MODEL_SUBSCRIPTION_STATUS [Addr => element, Addr => address, Model => model]
        "element {element} model {model} address {address}";
    ModelSubscriptionVirtualAddressAdd { element, label, model }
        = MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD -> MODEL_SUBSCRIPTION_STATUS
        [Addr => element, Bytes16 => label, Model => model]
        "element {element} model {model} label {}", hex16(label);
    ModelSubscriptionDelete { element, address, model } = MODEL_SUBSCRIPTION_DELETE
        -> MODEL_SUBSCRIPTION_STATUS [Addr => element, Addr => address, Model => model]
        "element {element} model {model} address {address}";
    ModelSubscriptionVirtualAddressDelete { element, label, model }
        = MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE -> MODEL_SUBSCRIPTION_STATUS
        [Addr => element, Bytes16 => label, Model => model]
        "element {element} model {model} label {}", hex16(label);
    ModelSubscriptionOverwrite { element, address, model } = MODEL_SUBSCRIPTION_OVERWRITE
        -> MODEL_SUBSCRIPTION_STATUS [Addr => element, Addr => address, Model => model]
        "element {element} model {model} address {address}";
    ModelSubscriptionVirtualAddressOverwrite { element, label, model }
        = MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_OVERWRITE -> MODEL_SUBSCRIPTION_STATUS
        [Addr => element, Bytes16 => label, Model => model]
        "element {element} model {model} label {}", hex16(label);
    ModelSubscriptionDeleteAll { element, model } = MODEL_SUBSCRIPTION_DELETE_ALL
        -> MODEL_SUBSCRIPTION_STATUS [Addr => element, Model => model]
        "element {element} model {model}";
    ModelSubscriptionStatus { status, element, address, model } = MODEL_SUBSCRIPTION_STATUS
        [Status => status, Addr => element, Addr => address, Model => model]
        "{status} element {element} model {model} address {address}";
    ModelSubscriptionGet { element, model }
        = SIG_MODEL_SUBSCRIPTION_GET / VENDOR_MODEL_SUBSCRIPTION_GET
        -> SIG_MODEL_SUBSCRIPTION_LIST / VENDOR_MODEL_SUBSCRIPTION_LIST
        [Addr => element, Model => model] "element {element} model {model}";
    ModelSubscriptionList { status, element, model, addresses }
        = SIG_MODEL_SUBSCRIPTION_LIST / VENDOR_MODEL_SUBSCRIPTION_LIST
        [Status => status, Addr => element, Model => model, Addresses => addresses]
        "{status} element {element} model {model} addresses [{}]", join(addresses);
    NetKeyAdd { net_key_index, key } = NETKEY_ADD -> NETKEY_STATUS
        [Index => net_key_index, Bytes16 => key] "net {net_key_index} key {}", hex16(key);
    NetKeyUpdate { net_key_index, key } = NETKEY_UPDATE -> NETKEY_STATUS
        [Index => net_key_index, Bytes16 => key] "net {net_key_index} key {}", hex16(key);
    NetKeyDelete { net_key_index } = NETKEY_DELETE -> NETKEY_STATUS
        [Index => net_key_index] "net {net_key_index}";
    NetKeyStatus { status, net_key_index } = NETKEY_STATUS
        [Status => status, Index => net_key_index] "{status} net {net_key_index}";
    NetKeyGet {} = NETKEY_GET -> NETKEY_LIST [];
    NetKeyList { net_key_indexes } = NETKEY_LIST
        [Indexes => net_key_indexes] "net [{}]", join(net_key_indexes);
    AppKeyAdd { net_key_index, app_key_index, key } = APPKEY_ADD -> APPKEY_STATUS
        [IndexPair => (net_key_index, app_key_index), Bytes16 => key]
        "net {net_key_index} app {app_key_index} key {}", hex16(key);
    AppKeyUpdate { net_key_index, app_key_index, key } = APPKEY_UPDATE -> APPKEY_STATUS
        [IndexPair => (net_key_index, app_key_index), Bytes16 => key]
        "net {net_key_index} app {app_key_index} key {}", hex16(key);
    AppKeyDelete { net_key_index, app_key_index } = APPKEY_DELETE -> APPKEY_STATUS
        [IndexPair => (net_key_index, app_key_index)] "net {net_key_index} app {app_key_index}";
    AppKeyStatus { status, net_key_index, app_key_index } = APPKEY_STATUS
        [Status => status, IndexPair => (net_key_index, app_key_index)]
        "{status} net {net_key_index} app {app_key_index}";
    AppKeyGet { net_key_index } = APPKEY_GET -> APPKEY_LIST
        [Index => net_key_index] "net {net_key_index}";
    AppKeyList { status, net_key_index, app_key_indexes } = APPKEY_LIST
        [Status => status, Index => net_key_index, Indexes => app_key_indexes]
        "{status} net {net_key_index} app [{}]", join(app_key_indexes);
    NodeIdentityGet { net_key_index } = NODE_IDENTITY_GET -> NODE_IDENTITY_STATUS
        [Index => net_key_index] "net {net_key_index}";
    NodeIdentitySet { net_key_index, identity } = NODE_IDENTITY_SET -> NODE_IDENTITY_STATUS
        [Index => net_key_index, SetState("Node Identity") => identity]
        "net {net_key_index} {}", identity.name();
    NodeIdentityStatus { status, net_key_index, identity } = NODE_IDENTITY_STATUS
        [Status => status, Index => net_key_index, StatusState("Node Identity") => identity]
        "{status} net {net_key_index} {}", identity.name();
    ModelAppBind { element, app_key_index, model } = MODEL_APP_BIND -> MODEL_APP_STATUS
        [Addr => element, Index => app_key_index, Model => model]
        "element {element} model {model} app {app_key_index}";
    ModelAppUnbind { element, app_key_index, model } = MODEL_APP_UNBIND -> MODEL_APP_STATUS
        [Addr => element, Index => app_key_index, Model => model]
        "element {element} model {model} app {app_key_index}";
    ModelAppStatus { status, element, app_key_index, model } = MODEL_APP_STATUS
        [Status => status, Addr => element, Index => app_key_index, Model => model]
        "{status} element {element} model {model} app {app_key_index}";
    ModelAppGet { element, model } = SIG_MODEL_APP_GET / VENDOR_MODEL_APP_GET
        -> SIG_MODEL_APP_LIST / VENDOR_MODEL_APP_LIST
        [Addr => element, Model => model] "element {element} model {model}";
    ModelAppList { status, element, model, app_key_indexes }
        = SIG_MODEL_APP_LIST / VENDOR_MODEL_APP_LIST
        [Status => status, Addr => element, Model => model, Indexes => app_key_indexes]
        "{status} element {element} model {model} app [{}]", join(app_key_indexes);
    FriendGet {} = FRIEND_GET -> FRIEND_STATUS [];
    FriendSet { state } = FRIEND_SET -> FRIEND_STATUS
        [SetState("Friend") => state] "{}", state.name();
    FriendStatus { state } = FRIEND_STATUS [StatusState("Friend") => state] "{}", state.name();
    KeyRefreshPhaseGet { net_key_index } = KEY_REFRESH_PHASE_GET -> KEY_REFRESH_PHASE_STATUS
        [Index => net_key_index] "net {net_key_index}";
    // §4.2.14: only the transitions 0x02 and 0x03 may be requested.
    KeyRefreshPhaseSet { net_key_index, transition } = KEY_REFRESH_PHASE_SET
        -> KEY_REFRESH_PHASE_STATUS
        [Index => net_key_index, OctetIn("Key Refresh Phase Transition", 0x02, 0x03) => transition]
        "net {net_key_index} transition {transition}";
    // §4.2.14: phases 0x00..=0x02; 0x03..=0xFF prohibited.
    KeyRefreshPhaseStatus { status, net_key_index, phase } = KEY_REFRESH_PHASE_STATUS
        [Status => status, Index => net_key_index, OctetIn("Key Refresh Phase", 0x00, 0x02) => phase]
        "{status} net {net_key_index} phase {phase}";
    HeartbeatPublicationGet {} = HEARTBEAT_PUBLICATION_GET -> HEARTBEAT_PUBLICATION_STATUS [];
    HeartbeatPublicationSet (publication) = HEARTBEAT_PUBLICATION_SET
        -> HEARTBEAT_PUBLICATION_STATUS [HeartbeatPub => publication]
        "{}", publication.describe();
    HeartbeatPublicationStatus { status, publication } = HEARTBEAT_PUBLICATION_STATUS
        [Status => status, HeartbeatPub => publication] "{status} {}", publication.describe();
    HeartbeatSubscriptionGet {} = HEARTBEAT_SUBSCRIPTION_GET -> HEARTBEAT_SUBSCRIPTION_STATUS [];
    HeartbeatSubscriptionSet { source, destination, period_log } = HEARTBEAT_SUBSCRIPTION_SET
        -> HEARTBEAT_SUBSCRIPTION_STATUS
        [Addr => source, Addr => destination,
         PeriodLog("Heartbeat Subscription Period Log") => period_log]
        "src {source} dst {destination} period_log {period_log:#04x}";
    HeartbeatSubscriptionStatus (subscription) = HEARTBEAT_SUBSCRIPTION_STATUS
        [HeartbeatSub => subscription] "{}", subscription.describe();
    LowPowerNodePollTimeoutGet { lpn } = LPN_POLL_TIMEOUT_GET -> LPN_POLL_TIMEOUT_STATUS
        [Addr => lpn] "lpn {lpn}";
    LowPowerNodePollTimeoutStatus { lpn, poll_timeout } = LPN_POLL_TIMEOUT_STATUS
        [Addr => lpn, PollTimeout => poll_timeout]
        "lpn {lpn} poll timeout {}", human_millis(poll_timeout.saturating_mul(100));
    NetworkTransmitGet {} = NETWORK_TRANSMIT_GET -> NETWORK_TRANSMIT_STATUS [];
    NetworkTransmitSet { transmit } = NETWORK_TRANSMIT_SET -> NETWORK_TRANSMIT_STATUS
        [Transmit => transmit]
        "transmit {}x{}ms", transmit.count + 1, transmit.network_interval_ms();
    NetworkTransmitStatus { transmit } = NETWORK_TRANSMIT_STATUS [Transmit => transmit]
        "transmit {}x{}ms", transmit.count + 1, transmit.network_interval_ms();
    NodeReset {} = NODE_RESET -> NODE_RESET_STATUS [];
    NodeResetStatus {} = NODE_RESET_STATUS [];
}

/// "enabled" or "disabled".
fn on_off(enabled: &bool) -> &'static str {
    if *enabled {
        "enabled"
    } else {
        "disabled"
    }
}

/// Composition Data: page 0 decoded, another page by its length.
fn composition_summary(page: u8, data: &[u8]) -> String {
    if page == 0 {
        CompositionDataPage0::parse(data)
            .map(|c| c.describe())
            .unwrap_or_else(|e| format!("malformed page 0: {e}"))
    } else {
        format!("{} octets", data.len())
    }
}

fn hex16(b: &[u8; 16]) -> String {
    hex::encode(b)
}

fn join<T: core::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
