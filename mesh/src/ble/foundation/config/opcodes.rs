//! The opcodes of the Configuration messages (Mesh Protocol 1.1 §4.3.4, "Summary of opcodes"),
//! in the order of their values. The message each one names is in the table of
//! [`ConfigMessage`](super::ConfigMessage).

use crate::ble::wire::access::Opcode;

/// Config AppKey Add (§4.3.2.37).
pub const APPKEY_ADD: Opcode = Opcode::One(0x00);
/// Config AppKey Update (§4.3.2.38).
pub const APPKEY_UPDATE: Opcode = Opcode::One(0x01);
/// Config Composition Data Status (§4.3.2.5).
pub const COMPOSITION_DATA_STATUS: Opcode = Opcode::One(0x02);
/// Config Model Publication Set (§4.3.2.16).
pub const MODEL_PUBLICATION_SET: Opcode = Opcode::One(0x03);
/// Config Heartbeat Publication Status (§4.3.2.61).
pub const HEARTBEAT_PUBLICATION_STATUS: Opcode = Opcode::One(0x06);
/// Config AppKey Delete (§4.3.2.39).
pub const APPKEY_DELETE: Opcode = Opcode::Two(0x8000);
/// Config AppKey Get (§4.3.2.41).
pub const APPKEY_GET: Opcode = Opcode::Two(0x8001);
/// Config AppKey List (§4.3.2.42).
pub const APPKEY_LIST: Opcode = Opcode::Two(0x8002);
/// Config AppKey Status (§4.3.2.40).
pub const APPKEY_STATUS: Opcode = Opcode::Two(0x8003);
/// Config Composition Data Get (§4.3.2.4).
pub const COMPOSITION_DATA_GET: Opcode = Opcode::Two(0x8008);
/// Config Beacon Get (§4.3.2.1).
pub const BEACON_GET: Opcode = Opcode::Two(0x8009);
/// Config Beacon Set (§4.3.2.2).
pub const BEACON_SET: Opcode = Opcode::Two(0x800A);
/// Config Beacon Status (§4.3.2.3).
pub const BEACON_STATUS: Opcode = Opcode::Two(0x800B);
/// Config Default TTL Get (§4.3.2.6).
pub const DEFAULT_TTL_GET: Opcode = Opcode::Two(0x800C);
/// Config Default TTL Set (§4.3.2.7).
pub const DEFAULT_TTL_SET: Opcode = Opcode::Two(0x800D);
/// Config Default TTL Status (§4.3.2.8).
pub const DEFAULT_TTL_STATUS: Opcode = Opcode::Two(0x800E);
/// Config Friend Get (§4.3.2.53).
pub const FRIEND_GET: Opcode = Opcode::Two(0x800F);
/// Config Friend Set (§4.3.2.54).
pub const FRIEND_SET: Opcode = Opcode::Two(0x8010);
/// Config Friend Status (§4.3.2.55).
pub const FRIEND_STATUS: Opcode = Opcode::Two(0x8011);
/// Config GATT Proxy Get (§4.3.2.9).
pub const GATT_PROXY_GET: Opcode = Opcode::Two(0x8012);
/// Config GATT Proxy Set (§4.3.2.10).
pub const GATT_PROXY_SET: Opcode = Opcode::Two(0x8013);
/// Config GATT Proxy Status (§4.3.2.11).
pub const GATT_PROXY_STATUS: Opcode = Opcode::Two(0x8014);
/// Config Key Refresh Phase Get (§4.3.2.56).
pub const KEY_REFRESH_PHASE_GET: Opcode = Opcode::Two(0x8015);
/// Config Key Refresh Phase Set (§4.3.2.57).
pub const KEY_REFRESH_PHASE_SET: Opcode = Opcode::Two(0x8016);
/// Config Key Refresh Phase Status (§4.3.2.58).
pub const KEY_REFRESH_PHASE_STATUS: Opcode = Opcode::Two(0x8017);
/// Config Model Publication Get (§4.3.2.15).
pub const MODEL_PUBLICATION_GET: Opcode = Opcode::Two(0x8018);
/// Config Model Publication Status (§4.3.2.18).
pub const MODEL_PUBLICATION_STATUS: Opcode = Opcode::Two(0x8019);
/// Config Model Publication Virtual Address Set (§4.3.2.17).
pub const MODEL_PUBLICATION_VIRTUAL_ADDRESS_SET: Opcode = Opcode::Two(0x801A);
/// Config Model Subscription Add (§4.3.2.19).
pub const MODEL_SUBSCRIPTION_ADD: Opcode = Opcode::Two(0x801B);
/// Config Model Subscription Delete (§4.3.2.21).
pub const MODEL_SUBSCRIPTION_DELETE: Opcode = Opcode::Two(0x801C);
/// Config Model Subscription Delete All (§4.3.2.25).
pub const MODEL_SUBSCRIPTION_DELETE_ALL: Opcode = Opcode::Two(0x801D);
/// Config Model Subscription Overwrite (§4.3.2.23).
pub const MODEL_SUBSCRIPTION_OVERWRITE: Opcode = Opcode::Two(0x801E);
/// Config Model Subscription Status (§4.3.2.26).
pub const MODEL_SUBSCRIPTION_STATUS: Opcode = Opcode::Two(0x801F);
/// Config Model Subscription Virtual Address Add (§4.3.2.20).
pub const MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD: Opcode = Opcode::Two(0x8020);
/// Config Model Subscription Virtual Address Delete (§4.3.2.22).
pub const MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE: Opcode = Opcode::Two(0x8021);
/// Config Model Subscription Virtual Address Overwrite (§4.3.2.24).
pub const MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_OVERWRITE: Opcode = Opcode::Two(0x8022);
/// Config Network Transmit Get (§4.3.2.67).
pub const NETWORK_TRANSMIT_GET: Opcode = Opcode::Two(0x8023);
/// Config Network Transmit Set (§4.3.2.68).
pub const NETWORK_TRANSMIT_SET: Opcode = Opcode::Two(0x8024);
/// Config Network Transmit Status (§4.3.2.69).
pub const NETWORK_TRANSMIT_STATUS: Opcode = Opcode::Two(0x8025);
/// Config Relay Get (§4.3.2.12).
pub const RELAY_GET: Opcode = Opcode::Two(0x8026);
/// Config Relay Set (§4.3.2.13).
pub const RELAY_SET: Opcode = Opcode::Two(0x8027);
/// Config Relay Status (§4.3.2.14).
pub const RELAY_STATUS: Opcode = Opcode::Two(0x8028);
/// Config SIG Model Subscription Get (§4.3.2.27).
pub const SIG_MODEL_SUBSCRIPTION_GET: Opcode = Opcode::Two(0x8029);
/// Config SIG Model Subscription List (§4.3.2.28).
pub const SIG_MODEL_SUBSCRIPTION_LIST: Opcode = Opcode::Two(0x802A);
/// Config Vendor Model Subscription Get (§4.3.2.29).
pub const VENDOR_MODEL_SUBSCRIPTION_GET: Opcode = Opcode::Two(0x802B);
/// Config Vendor Model Subscription List (§4.3.2.30).
pub const VENDOR_MODEL_SUBSCRIPTION_LIST: Opcode = Opcode::Two(0x802C);
/// Config Low Power Node PollTimeout Get (§4.3.2.65).
pub const LPN_POLL_TIMEOUT_GET: Opcode = Opcode::Two(0x802D);
/// Config Low Power Node PollTimeout Status (§4.3.2.66).
pub const LPN_POLL_TIMEOUT_STATUS: Opcode = Opcode::Two(0x802E);
/// Config Heartbeat Publication Get (§4.3.2.59).
pub const HEARTBEAT_PUBLICATION_GET: Opcode = Opcode::Two(0x8038);
/// Config Heartbeat Publication Set (§4.3.2.60).
pub const HEARTBEAT_PUBLICATION_SET: Opcode = Opcode::Two(0x8039);
/// Config Heartbeat Subscription Get (§4.3.2.62).
pub const HEARTBEAT_SUBSCRIPTION_GET: Opcode = Opcode::Two(0x803A);
/// Config Heartbeat Subscription Set (§4.3.2.63).
pub const HEARTBEAT_SUBSCRIPTION_SET: Opcode = Opcode::Two(0x803B);
/// Config Heartbeat Subscription Status (§4.3.2.64).
pub const HEARTBEAT_SUBSCRIPTION_STATUS: Opcode = Opcode::Two(0x803C);
/// Config Model App Bind (§4.3.2.46).
pub const MODEL_APP_BIND: Opcode = Opcode::Two(0x803D);
/// Config Model App Status (§4.3.2.48).
pub const MODEL_APP_STATUS: Opcode = Opcode::Two(0x803E);
/// Config Model App Unbind (§4.3.2.47).
pub const MODEL_APP_UNBIND: Opcode = Opcode::Two(0x803F);
/// Config NetKey Add (§4.3.2.31).
pub const NETKEY_ADD: Opcode = Opcode::Two(0x8040);
/// Config NetKey Delete (§4.3.2.33).
pub const NETKEY_DELETE: Opcode = Opcode::Two(0x8041);
/// Config NetKey Get (§4.3.2.35).
pub const NETKEY_GET: Opcode = Opcode::Two(0x8042);
/// Config NetKey List (§4.3.2.36).
pub const NETKEY_LIST: Opcode = Opcode::Two(0x8043);
/// Config NetKey Status (§4.3.2.34).
pub const NETKEY_STATUS: Opcode = Opcode::Two(0x8044);
/// Config NetKey Update (§4.3.2.32).
pub const NETKEY_UPDATE: Opcode = Opcode::Two(0x8045);
/// Config Node Identity Get (§4.3.2.43).
pub const NODE_IDENTITY_GET: Opcode = Opcode::Two(0x8046);
/// Config Node Identity Set (§4.3.2.44).
pub const NODE_IDENTITY_SET: Opcode = Opcode::Two(0x8047);
/// Config Node Identity Status (§4.3.2.45).
pub const NODE_IDENTITY_STATUS: Opcode = Opcode::Two(0x8048);
/// Config Node Reset (§4.3.2.70).
pub const NODE_RESET: Opcode = Opcode::Two(0x8049);
/// Config Node Reset Status (§4.3.2.71).
pub const NODE_RESET_STATUS: Opcode = Opcode::Two(0x804A);
/// Config SIG Model App Get (§4.3.2.49).
pub const SIG_MODEL_APP_GET: Opcode = Opcode::Two(0x804B);
/// Config SIG Model App List (§4.3.2.50).
pub const SIG_MODEL_APP_LIST: Opcode = Opcode::Two(0x804C);
/// Config Vendor Model App Get (§4.3.2.51).
pub const VENDOR_MODEL_APP_GET: Opcode = Opcode::Two(0x804D);
/// Config Vendor Model App List (§4.3.2.52).
pub const VENDOR_MODEL_APP_LIST: Opcode = Opcode::Two(0x804E);
