//! The state of a node that must survive a restart (keys, IV index, sequence reservation,
//! configuration), as a serde value the runtime persists. Derived key material is not stored: it
//! is recomputed once when the state is loaded.

use serde::{Deserialize, Serialize};

use crate::ble::address::{Address, IvIndex, UnicastAddress};
use crate::ble::transport::sar::{SarRxConfig, SarTxConfig};
use crate::time::Duration;

pub use crate::ble::foundation::config::Retransmit;
pub use crate::ble::models::ModelId;

/// A model's publication state (MshPRT §4.2.3): where it publishes, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub address: Address,
    /// The Label UUID when `address` is virtual.
    pub label: Option<[u8; 16]>,
    /// AppKey index, credentials, TTL, period and retransmissions.
    pub params: crate::ble::foundation::config::Publication,
}

impl Publication {
    /// The publish period; `None` when periodic publishing is off (§4.2.3.5).
    pub fn period(&self) -> Option<Duration> {
        let ms = self.params.period.to_millis();
        (ms > 0).then(|| Duration::from_millis(u64::from(ms)))
    }

    /// Interval between publish retransmissions: (steps + 1) × 50 ms (§4.2.3.8).
    pub fn retransmit_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.params.retransmit.publish_interval_ms()))
    }
}

/// One model on an element: its bindings, publication and subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelState {
    pub id: ModelId,
    /// AppKey indexes bound to the model (§4.2.4).
    pub app_keys: Vec<u16>,
    pub publication: Option<Publication>,
    /// Group and virtual addresses subscribed to (§4.2.4).
    pub subscriptions: Vec<Address>,
    /// Label UUIDs of the virtual addresses among `subscriptions`.
    pub labels: Vec<[u8; 16]>,
}

impl ModelState {
    pub fn new(id: ModelId) -> Self {
        ModelState {
            id,
            app_keys: Vec::new(),
            publication: None,
            subscriptions: Vec::new(),
            labels: Vec::new(),
        }
    }
}

/// An element: a location descriptor and its models (MshPRT §4.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementState {
    pub location: u16,
    pub models: Vec<ModelState>,
}

/// Key Refresh Phase (MshPRT §3.11.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum KeyRefreshPhase {
    /// Normal operation.
    #[default]
    Normal,
    /// Phase 1: the new key is distributed; the old one is still used to send.
    First,
    /// Phase 2: the new key is used to send; both are accepted.
    Second,
}

impl KeyRefreshPhase {
    pub const fn to_u8(self) -> u8 {
        match self {
            KeyRefreshPhase::Normal => 0,
            KeyRefreshPhase::First => 1,
            KeyRefreshPhase::Second => 2,
        }
    }
}

/// A network key as stored (MshPRT §4.2.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetKeyState {
    pub index: u16,
    pub key: [u8; 16],
    /// The new key during a key refresh.
    pub new_key: Option<[u8; 16]>,
    pub phase: KeyRefreshPhase,
}

/// An application key as stored (MshPRT §4.2.10), bound to a network key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppKeyState {
    pub index: u16,
    pub net_index: u16,
    pub key: [u8; 16],
    pub new_key: Option<[u8; 16]>,
}

/// Heartbeat Publication (MshPRT §4.2.17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatPublication {
    pub dst: Address,
    /// Remaining count, as a raw count (0xFFFF = indefinitely).
    pub count: u16,
    /// Period log: period = 2^(log - 1) s (§4.2.17.3).
    pub period_log: u8,
    pub ttl: u8,
    /// Features whose change triggers a heartbeat (§4.2.17.5).
    pub features: u16,
    pub net_index: u16,
}

/// Heartbeat Subscription (MshPRT §4.2.18): what is persisted of it. The remaining period and
/// the counters (Count, Min Hops, Max Hops) are run-time state of the node
/// (`config_server::HeartbeatSubscriptionCounters`), not persisted, as in Zephyr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatSubscription {
    /// Heartbeat Subscription Source (§4.2.18.1): a unicast address.
    pub src: Address,
    /// Heartbeat Subscription Destination (§4.2.18.2): the primary address or a group address.
    pub dst: Address,
    /// The Period Log of the Set that started the subscription (§4.2.18.4): the period is
    /// 2^(log - 1) s; 0 when not known (imported from a CDB).
    pub period_log: u8,
}

/// Everything a node must remember across a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub uuid: [u8; 16],
    /// The primary element's address; element i has `primary + i`.
    pub primary: UnicastAddress,
    pub dev_key: [u8; 16],
    pub iv_index: IvIndex,
    /// IV Update in progress (§3.11.5).
    pub iv_update: bool,
    /// Every sequence number below this may have been used: a restored node starts here
    /// (§3.4.4.5: a sequence number is never reused with one IV Index).
    pub seq_reserved: u32,
    pub net_keys: Vec<NetKeyState>,
    pub app_keys: Vec<AppKeyState>,
    /// Device keys of other nodes, for a node that configures them (a Configuration Client).
    pub remote_dev_keys: Vec<(UnicastAddress, [u8; 16])>,
    /// Default TTL (§4.2.7).
    pub default_ttl: u8,
    /// Relay feature enabled (§4.2.8).
    pub relay: bool,
    pub relay_retransmit: Retransmit,
    pub network_transmit: Retransmit,
    /// Secure Network Beacon state (§4.2.10).
    pub beacon: bool,
    /// GATT Proxy state (§4.2.11): `None` when the node does not support the Proxy feature
    /// (the state reads 0x02 "not supported"), else whether it is enabled. A node restored
    /// from a state written before this field existed does not support it.
    #[serde(default)]
    pub gatt_proxy: Option<bool>,
    /// The subnets (net key indexes) whose Node Identity state is enabled (§4.2.12): run-time
    /// state, never persisted; the node advertises Node Identity for at most 60 s
    /// (`node::NODE_IDENTITY_DURATION`) and then clears it.
    #[serde(skip)]
    pub node_identity: Vec<u16>,
    pub elements: Vec<ElementState>,
    pub heartbeat_publication: Option<HeartbeatPublication>,
    pub heartbeat_subscription: Option<HeartbeatSubscription>,
    /// Company, product and version identifiers of Composition Data Page 0.
    pub cid: u16,
    pub pid: u16,
    pub vid: u16,
    /// Replay protection list capacity (CRPL of Composition Data Page 0, §4.2.2.1).
    #[serde(default = "default_crpl")]
    pub crpl: u16,
    /// SAR Transmitter state (MshPRT §4.2.?; SAR Configuration model).
    #[serde(default)]
    pub sar_tx: SarTxConfig,
    /// SAR Receiver state.
    #[serde(default)]
    pub sar_rx: SarRxConfig,
}

fn default_crpl() -> u16 {
    1024
}

impl NodeState {
    /// A provisioned node with one network key (index 0), the given elements, and the
    /// defaults of MshPRT §4.2: Default TTL 5... (the values Zephyr and nRF Mesh ship).
    pub fn new(
        uuid: [u8; 16],
        primary: UnicastAddress,
        dev_key: [u8; 16],
        net_key: [u8; 16],
        iv_index: IvIndex,
        elements: Vec<ElementState>,
    ) -> Self {
        NodeState {
            uuid,
            primary,
            dev_key,
            iv_index,
            iv_update: false,
            seq_reserved: 0,
            net_keys: vec![NetKeyState {
                index: 0,
                key: net_key,
                new_key: None,
                phase: KeyRefreshPhase::Normal,
            }],
            app_keys: Vec::new(),
            remote_dev_keys: Vec::new(),
            default_ttl: 7,
            relay: false,
            relay_retransmit: Retransmit {
                count: 2,
                interval_steps: 1,
            },
            network_transmit: Retransmit {
                count: 2,
                interval_steps: 1,
            },
            beacon: true,
            gatt_proxy: None,
            node_identity: Vec::new(),
            elements,
            heartbeat_publication: None,
            heartbeat_subscription: None,
            cid: 0x05F1,
            pid: 0x0001,
            vid: 0x0001,
            crpl: default_crpl(),
            sar_tx: SarTxConfig::default(),
            sar_rx: SarRxConfig::default(),
        }
    }

    /// The state of a device a Provisioner has just added (MshPRT §5.4.2.5): its address, the
    /// network key with its index, the IV Index and IV Update flag from the Provisioning Data,
    /// its device key, and the elements it hosts.
    pub fn from_provisioned(
        uuid: [u8; 16],
        p: &crate::ble::prov::Provisioned,
        elements: Vec<ElementState>,
    ) -> Self {
        let mut st = NodeState::new(
            uuid,
            p.data.unicast_address,
            p.device_key,
            p.data.net_key,
            p.data.iv_index,
            elements,
        );
        st.net_keys[0].index = p.data.key_index;
        st.iv_update = p.data.flags.iv_update();
        st
    }

    /// The address of element `i`.
    pub fn element_address(&self, i: usize) -> Address {
        Address(self.primary.get().wrapping_add(i as u16))
    }

    /// The element index of `addr`, if it is one of this node's.
    pub fn element_of(&self, addr: Address) -> Option<usize> {
        let off = addr.0.checked_sub(self.primary.get())? as usize;
        (addr.is_unicast() && off < self.elements.len()).then_some(off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::foundation::config::PublishPeriod;
    use crate::ble::models::{KeyIndex, StepResolution};

    #[test]
    fn publish_period() {
        let mut p = Publication {
            address: Address(0xc000),
            label: None,
            params: crate::ble::foundation::config::Publication {
                app_key_index: KeyIndex::from_bits(0),
                credential_flag: false,
                ttl: 0xff,
                period: PublishPeriod {
                    steps: 0,
                    resolution: StepResolution::Ms100,
                },
                retransmit: Retransmit {
                    count: 1,
                    interval_steps: 1,
                },
            },
        };
        assert_eq!(p.period(), None);
        p.params.period = PublishPeriod::from_byte(0x41); // 1 × 1 s
        assert_eq!(p.period(), Some(Duration::from_secs(1)));
        p.params.period = PublishPeriod::from_byte(0x05); // 5 × 100 ms
        assert_eq!(p.period(), Some(Duration::from_millis(500)));
        assert_eq!(p.retransmit_interval(), Duration::from_millis(100));
    }
}
