//! The Bluetooth SIG Mesh Configuration Database (CDB, "Mesh Configuration Database Profile"
//! 1.0.1) as serde types: the JSON that nRF Mesh, BlueZ's mesh-cfgclient and weft exchange.
//!
//! Reading is lenient, writing is strict:
//! - hex strings are read in either case and written in uppercase, as the schema's patterns ask
//!   (keys 32 digits, addresses 4, model IDs 4 or 8, Label UUIDs 32);
//! - UUIDs are read with or without dashes (nRF Mesh before 3.0 and BlueZ before 5.66 wrote 32
//!   hex digits) and written in the 8-4-4-4-12 form;
//! - unknown fields are ignored; legacy names are accepted (`blacklisted` for `excluded`,
//!   `blacklistedAddresses` for `networkExclusions`, lowercase `uuid`);
//! - a publish period given in milliseconds (nRF Mesh before 3.0), a resolution multiplied by the
//!   number of steps (nRF Mesh 3.0.1) or given as the 2-bit field (BlueZ), and a transmit
//!   interval given in steps (some nRF Mesh for Android versions) are converted;
//! - BlueZ's own `ivIndex` (and `ivUpdate`) at the top level are read and, when known, written
//!   back as the same extension (nRF Mesh and BlueZ both ignore fields they do not know).
//!
//! The document follows the profile's JSON schema (`mesh-cdb-1-0-1-schema.json`,
//! [`SCHEMA_ID`]); field names and value formats below are the schema's.
//!
//! [`Cdb::from_json`] checks the values after parsing and names the offending field
//! (`nodes[2].elements[0].models[1].publish.ttl: ...`). [`Cdb::node_state`] and
//! [`CdbNode::from_node_state`] convert between a CDB node and the node stack's
//! [`NodeState`](crate::ble::node::NodeState).
//!
//! One concern a file:
//! - this module: the types of the document, and finding keys and nodes in it;
//! - `read`: the lenient reading and strict writing of the JSON ([`Cdb::from_json`],
//!   [`Cdb::to_json`]);
//! - `validate`: what the schema constrains beyond the types, and the references between keys,
//!   nodes and elements ([`Cdb::validate`]);
//! - `convert`: a CDB node to and from the node stack's state ([`Cdb::node_state`],
//!   [`CdbNode::from_node_state`], [`Cdb::add_keys_of`]);
//! - `record`: what the database learns from the Configuration Client's answers
//!   ([`CdbNode::record`], [`Cdb::apply`]);
//! - `addresses`: the address policy: exclusions ([`Cdb::remove_node`], [`Cdb::exclude`]), the
//!   address of a new node ([`Cdb::next_unicast`], [`Cdb::address_in_use`]) and the ranges of a
//!   new provisioner ([`Cdb::free_unicast_block`], [`Cdb::shrink_for_block`]).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::ble::address::Address;
use crate::ble::models::ModelId;

mod addresses;
mod convert;
mod read;
mod record;
mod validate;

#[cfg(test)]
mod tests;

pub use addresses::AddressInUse;

/// `$schema` of a CDB file (the JSON Schema draft the CDB schema is written in).
pub const JSON_SCHEMA: &str = "http://json-schema.org/draft-04/schema#";
/// `id` of the CDB 1.0.1 schema.
pub const SCHEMA_ID: &str =
    "https://www.bluetooth.com/specifications/specs/mesh-cdb-1-0-1-schema.json#";
/// `version` weft writes.
pub const SCHEMA_VERSION: &str = "1.0.1";

/// An error in a CDB document: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdbError {
    /// The text is not JSON.
    #[error("not valid JSON (line {line}, column {column}): {msg}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser said.
        msg: String,
    },
    /// A field is missing, of the wrong type or out of range.
    #[error("{field}: {msg}")]
    Field {
        /// The JSON path of the field, e.g. `nodes[0].unicastAddress`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
}

impl CdbError {
    fn field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        CdbError::Field {
            field: field.into(),
            msg: msg.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Value formats
// ---------------------------------------------------------------------------------------------

/// A 128-bit key: 32 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HexKey(pub [u8; 16]);

impl fmt::Debug for HexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexKey({})", hex::encode_upper(self.0))
    }
}

/// A UUID (RFC 4122 layout, 16 octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid(pub [u8; 16]);

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({})", read::format_uuid(&self.0))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&read::format_uuid(&self.0))
    }
}

/// A 16-bit value as 4 hexadecimal digits (addresses, CID/PID/VID/CRPL, location, scene numbers).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hex16(pub u16);

impl fmt::Debug for Hex16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hex16({:04X})", self.0)
    }
}

/// A model identifier: 4 hex digits for a SIG model, 8 for a vendor model (company identifier
/// first, then the vendor's model identifier), as nRF Mesh and BlueZ write them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CdbModelId(pub ModelId);

/// A publish, subscribe or group address: 4 hex digits, or a virtual address's Label UUID
/// (32 hex digits; read with dashes too).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CdbAddress {
    /// A unicast, group or virtual (hash only) address.
    Address(u16),
    /// The Label UUID of a virtual address.
    Label([u8; 16]),
}

impl CdbAddress {
    /// The 16-bit address (a label's virtual address, MshPRT §3.4.2.3).
    pub fn address(&self) -> Address {
        match self {
            CdbAddress::Address(a) => Address(*a),
            CdbAddress::Label(l) => Address(crate::ble::crypto::virtual_address(l)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

/// A whole Mesh Configuration Database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cdb {
    /// `$schema`.
    #[serde(rename = "$schema", default = "default_json_schema")]
    pub schema: String,
    /// The schema's `id`.
    #[serde(default = "default_schema_id")]
    pub id: String,
    /// The schema version the file follows.
    #[serde(default = "default_version")]
    pub version: String,
    /// The network's UUID.
    #[serde(rename = "meshUUID", alias = "uuid")]
    pub mesh_uuid: Uuid,
    /// The network's name.
    #[serde(default, alias = "name")]
    pub mesh_name: String,
    /// Last change, RFC 3339.
    #[serde(default)]
    pub timestamp: String,
    /// Whether this is a partial export.
    #[serde(default)]
    pub partial: bool,
    /// Network keys.
    #[serde(default)]
    pub net_keys: Vec<CdbNetKey>,
    /// Application keys.
    #[serde(default)]
    pub app_keys: Vec<CdbAppKey>,
    /// Provisioners and their allocated ranges.
    #[serde(default)]
    pub provisioners: Vec<CdbProvisioner>,
    /// Provisioned nodes.
    #[serde(default)]
    pub nodes: Vec<CdbNode>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<CdbGroup>,
    /// Scenes.
    #[serde(default)]
    pub scenes: Vec<CdbScene>,
    /// Addresses excluded from reuse, per IV index.
    #[serde(default, alias = "blacklistedAddresses")]
    pub network_exclusions: Vec<CdbExclusion>,
    /// The IV index (BlueZ's extension; not in the CDB schema).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "read::de_opt_u32_lenient"
    )]
    pub iv_index: Option<u32>,
    /// IV Update in progress (extension beside `ivIndex`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "read::de_opt_bool_lenient"
    )]
    pub iv_update: Option<bool>,
}

fn default_json_schema() -> String {
    JSON_SCHEMA.into()
}
fn default_schema_id() -> String {
    SCHEMA_ID.into()
}
fn default_version() -> String {
    SCHEMA_VERSION.into()
}

/// Minimum security of a network key, or a node's provisioning security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Provisioned with OOB public key or authentication.
    #[default]
    Secure,
    /// Provisioned without.
    Insecure,
}

/// A network key (`netKeys[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbNetKey {
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// NetKey Index (12 bits).
    pub index: u16,
    /// The key; during a key refresh, the new key.
    pub key: HexKey,
    /// The old key during a key refresh (phases 1 and 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key: Option<HexKey>,
    /// Key Refresh Phase, 0..=2 (MshPRT §3.11.4.1).
    #[serde(default)]
    pub phase: u8,
    /// The lowest security of the nodes that know the key.
    #[serde(default)]
    pub min_security: Security,
    /// Last change, RFC 3339.
    #[serde(default)]
    pub timestamp: String,
}

/// An application key (`appKeys[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbAppKey {
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// AppKey Index (12 bits).
    pub index: u16,
    /// NetKey Index of the network key it is bound to.
    pub bound_net_key: u16,
    /// The key; during a key refresh, the new key.
    pub key: HexKey,
    /// The old key during a key refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key: Option<HexKey>,
}

/// A provisioner and its allocated ranges (`provisioners[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbProvisioner {
    /// Human-readable name.
    #[serde(default)]
    pub provisioner_name: String,
    /// UUID of the provisioner (and of its node, if it has one).
    #[serde(rename = "UUID", alias = "uuid")]
    pub uuid: Uuid,
    /// Unicast address ranges it may assign.
    #[serde(default)]
    pub allocated_unicast_range: Vec<CdbRange>,
    /// Group address ranges it may assign.
    #[serde(default)]
    pub allocated_group_range: Vec<CdbRange>,
    /// Scene number ranges it may assign.
    #[serde(default)]
    pub allocated_scene_range: Vec<CdbSceneRange>,
}

/// An inclusive address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbRange {
    /// First address.
    pub low_address: Hex16,
    /// Last address.
    pub high_address: Hex16,
}

/// An inclusive scene number range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbSceneRange {
    /// First scene number.
    pub first_scene: Hex16,
    /// Last scene number.
    pub last_scene: Hex16,
}

/// A key a node knows, and whether it has the new key of a key refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdbNodeKey {
    /// Key index.
    pub index: u16,
    /// The node has received the new key of a key refresh in progress.
    #[serde(default)]
    pub updated: bool,
}

/// Feature states: 0 disabled, 1 enabled, 2 not supported (MshPRT §4.2.8, §4.2.12..14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CdbFeatures {
    /// Relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<u8>,
    /// Proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<u8>,
    /// Friend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friend: Option<u8>,
    /// Low Power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_power: Option<u8>,
}

/// Feature state "enabled".
pub const FEATURE_ENABLED: u8 = 1;
/// Feature state "disabled".
pub const FEATURE_DISABLED: u8 = 0;
/// Feature state "not supported".
pub const FEATURE_UNSUPPORTED: u8 = 2;

/// Network Transmit or Relay Retransmit in CDB units: `count` transmissions (1..=8, the state's
/// count + 1) every `interval` ms (10..=320, (steps + 1) × 10; MshPRT §4.2.20, §4.2.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CdbTransmit {
    /// Number of transmissions.
    pub count: u8,
    /// Interval in milliseconds.
    pub interval: u16,
}

/// An element of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbElement {
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Element index on the node (address = primary + index).
    pub index: u8,
    /// GATT Namespace Descriptor location (MshPRT §4.2.2.1).
    #[serde(default)]
    pub location: Hex16,
    /// Models on the element.
    #[serde(default)]
    pub models: Vec<CdbModel>,
}

/// A model instance on an element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbModel {
    /// Model identifier.
    pub model_id: CdbModelId,
    /// Bound AppKey indexes.
    #[serde(default)]
    pub bind: Vec<u16>,
    /// Subscribed addresses (group, or Label UUIDs).
    #[serde(default)]
    pub subscribe: Vec<CdbAddress>,
    /// Publication, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<CdbPublish>,
}

/// A model's publication (MshPRT §4.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdbPublish {
    /// Destination.
    pub address: CdbAddress,
    /// AppKey index.
    pub index: u16,
    /// Publish TTL: 0..=127, or 255 for the Default TTL.
    pub ttl: u8,
    /// Periodic publishing.
    pub period: CdbPeriod,
    /// Friendship credentials (1) or flooding (0).
    #[serde(deserialize_with = "read::de_flag", serialize_with = "read::ser_flag")]
    pub credentials: bool,
    /// Retransmissions.
    pub retransmit: CdbPubRetransmit,
}

/// Publish period: steps and the resolution in milliseconds (100, 1000, 10000 or 600000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbPeriod {
    /// 0..=63; 0 disables periodic publishing.
    pub number_of_steps: u8,
    /// Step resolution in milliseconds.
    pub resolution: u32,
}

/// Publish retransmissions: `count` (0..=7) every `interval` ms (50..=1600, (steps + 1) × 50;
/// MshPRT §4.2.3.7, §4.2.3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdbPubRetransmit {
    /// Retransmissions.
    pub count: u8,
    /// Interval in milliseconds.
    pub interval: u16,
}

/// Heartbeat publication of a node (MshPRT §4.2.17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdbHeartbeatPub {
    /// Destination.
    pub address: Hex16,
    /// Period in seconds: 0, a power of two up to 32768, or 65535.
    pub period: u32,
    /// TTL, 0..=127.
    pub ttl: u8,
    /// NetKey index.
    pub index: u16,
    /// Features whose change triggers a heartbeat: "relay", "proxy", "friend", "lowPower".
    #[serde(default)]
    pub features: Vec<String>,
}

/// Heartbeat subscription of a node (MshPRT §4.2.18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdbHeartbeatSub {
    /// Source.
    pub source: Hex16,
    /// Destination.
    pub destination: Hex16,
}

/// A provisioned node (`nodes[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbNode {
    /// Device UUID.
    #[serde(rename = "UUID", alias = "uuid")]
    pub uuid: Uuid,
    /// Primary element's unicast address.
    pub unicast_address: Hex16,
    /// Device key (unknown for nodes found but not provisioned by any provisioner here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<HexKey>,
    /// How it was provisioned.
    #[serde(default)]
    pub security: Security,
    /// Network keys it knows.
    #[serde(default)]
    pub net_keys: Vec<CdbNodeKey>,
    /// Configuration finished.
    #[serde(default)]
    pub config_complete: bool,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Company identifier (Composition Data Page 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<Hex16>,
    /// Product identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<Hex16>,
    /// Version identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vid: Option<Hex16>,
    /// Replay protection list size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crpl: Option<Hex16>,
    /// Feature states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<CdbFeatures>,
    /// Secure Network Beacon state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_network_beacon: Option<bool>,
    /// Default TTL.
    #[serde(
        default,
        rename = "defaultTTL",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_ttl: Option<u8>,
    /// Network Transmit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_transmit: Option<CdbTransmit>,
    /// Relay Retransmit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_retransmit: Option<CdbTransmit>,
    /// Application keys it knows.
    #[serde(default)]
    pub app_keys: Vec<CdbNodeKey>,
    /// Elements.
    #[serde(default)]
    pub elements: Vec<CdbElement>,
    /// Excluded from key refresh (being removed).
    #[serde(default, alias = "blacklisted")]
    pub excluded: bool,
    /// Heartbeat publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_pub: Option<CdbHeartbeatPub>,
    /// Heartbeat subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_sub: Option<CdbHeartbeatSub>,
    /// The next sequence number the node may use: an extension outside the CDB schema (BlueZ
    /// keeps the same `sequenceNumber` in its node files), written by weft for its own node
    /// only, so that importing its export never reuses a sequence number (MshPRT §3.4.6.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<u32>,
}

/// A group (`groups[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbGroup {
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Group address or Label UUID.
    pub address: CdbAddress,
    /// Parent group, `0000` for none.
    #[serde(default = "unassigned")]
    pub parent_address: CdbAddress,
}

fn unassigned() -> CdbAddress {
    CdbAddress::Address(0)
}

/// A scene (`scenes[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdbScene {
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Unicast addresses of the elements storing the scene.
    #[serde(default)]
    pub addresses: Vec<Hex16>,
    /// Scene number.
    pub number: Hex16,
}

/// Addresses that must not be reused while the IV index is at most `iv_index + 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdbExclusion {
    /// IV index at which the addresses were excluded.
    pub iv_index: u32,
    /// Excluded unicast addresses.
    #[serde(default)]
    pub addresses: Vec<Hex16>,
}

// ---------------------------------------------------------------------------------------------
// Finding keys and nodes
// ---------------------------------------------------------------------------------------------

impl Cdb {
    /// An empty network with the given UUID, name and timestamp.
    pub fn new(
        mesh_uuid: [u8; 16],
        mesh_name: impl Into<String>,
        timestamp: impl Into<String>,
    ) -> Self {
        Cdb {
            schema: JSON_SCHEMA.into(),
            id: SCHEMA_ID.into(),
            version: SCHEMA_VERSION.into(),
            mesh_uuid: Uuid(mesh_uuid),
            mesh_name: mesh_name.into(),
            timestamp: timestamp.into(),
            partial: false,
            net_keys: Vec::new(),
            app_keys: Vec::new(),
            provisioners: Vec::new(),
            nodes: Vec::new(),
            groups: Vec::new(),
            scenes: Vec::new(),
            network_exclusions: Vec::new(),
            iv_index: None,
            iv_update: None,
        }
    }

    /// The network key with this index.
    pub fn net_key(&self, index: u16) -> Option<&CdbNetKey> {
        self.net_keys.iter().find(|k| k.index == index)
    }

    /// The application key with this index.
    pub fn app_key(&self, index: u16) -> Option<&CdbAppKey> {
        self.app_keys.iter().find(|k| k.index == index)
    }

    /// The node with this device UUID.
    pub fn node_by_uuid(&self, uuid: &[u8; 16]) -> Option<&CdbNode> {
        self.nodes.iter().find(|n| &n.uuid.0 == uuid)
    }

    /// The node that owns this unicast address (any of its elements).
    pub fn node_by_address(&self, addr: u16) -> Option<&CdbNode> {
        self.nodes.iter().find(|n| {
            let lo = n.unicast_address.0;
            addr >= lo && usize::from(addr - lo) < n.elements.len().max(1)
        })
    }

    /// The node whose primary address is `primary`, mutably.
    pub fn node_mut(&mut self, primary: u16) -> Option<&mut CdbNode> {
        self.nodes
            .iter_mut()
            .find(|n| n.unicast_address.0 == primary)
    }
}
