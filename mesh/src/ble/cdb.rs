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
//! [`Cdb::from_json`] checks the values after parsing and names the offending field
//! (`nodes[2].elements[0].models[1].publish.ttl: ...`). [`Cdb::node_state`] and
//! [`CdbNode::from_node_state`] convert between a CDB node and the node stack's
//! [`NodeState`].

use core::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ble::address::{Address, IvIndex, Seq, UnicastAddress};
use crate::ble::models::composition::CompositionDataPage0;
use crate::ble::models::config::{
    ConfigMessage, FeatureState, Publication as PubParams, PublishPeriod, Retransmit,
};
use crate::ble::models::config_client::ConfigClientEvent;
use crate::ble::models::{KeyIndex, ModelId, StepResolution};
use crate::ble::node::state::{
    AppKeyState, ElementState, HeartbeatPublication, HeartbeatSubscription, KeyRefreshPhase,
    ModelState, NetKeyState, NodeState, Publication,
};

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

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_hex16(s: &str) -> Result<u16, String> {
    if !is_hex(s) || s.len() > 4 {
        return Err(format!("\"{s}\" is not a 4-digit hexadecimal value"));
    }
    u16::from_str_radix(s, 16).map_err(|e| e.to_string())
}

fn parse_key(s: &str) -> Result<[u8; 16], String> {
    let mut out = [0u8; 16];
    if s.len() != 32 || !is_hex(s) {
        return Err(format!("\"{s}\" is not 32 hexadecimal digits"));
    }
    hex::decode_to_slice(s, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// A UUID with dashes in the 8-4-4-4-12 places, or 32 hex digits without.
fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    let b = s.as_bytes();
    let dashed = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
    let compact: String = if dashed {
        s.chars().filter(|&c| c != '-').collect()
    } else {
        s.to_owned()
    };
    parse_key(&compact).map_err(|_| format!("\"{s}\" is not a UUID"))
}

fn format_uuid(u: &[u8; 16]) -> String {
    let h = hex::encode_upper(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Implements Serialize/Deserialize through a string for a newtype.
macro_rules! string_serde {
    ($t:ty, $parse:expr, $show:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[allow(clippy::redundant_closure_call)]
                s.serialize_str(&($show)(self))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                #[allow(clippy::redundant_closure_call)]
                ($parse)(s.as_str()).map_err(D::Error::custom)
            }
        }
    };
}

/// A 128-bit key: 32 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HexKey(pub [u8; 16]);
string_serde!(HexKey, |s: &str| parse_key(s).map(HexKey), |k: &HexKey| {
    hex::encode_upper(k.0)
});

impl fmt::Debug for HexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexKey({})", hex::encode_upper(self.0))
    }
}

/// A UUID (RFC 4122 layout, 16 octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid(pub [u8; 16]);
string_serde!(Uuid, |s: &str| parse_uuid(s).map(Uuid), |u: &Uuid| {
    format_uuid(&u.0)
});

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({})", format_uuid(&self.0))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_uuid(&self.0))
    }
}

/// A 16-bit value as 4 hexadecimal digits (addresses, CID/PID/VID/CRPL, location, scene numbers).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hex16(pub u16);
string_serde!(
    Hex16,
    |s: &str| parse_hex16(s).map(Hex16),
    |v: &Hex16| format!("{:04X}", v.0)
);

impl fmt::Debug for Hex16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hex16({:04X})", self.0)
    }
}

/// A model identifier: 4 hex digits for a SIG model, 8 for a vendor model (company identifier
/// first, then the vendor's model identifier), as nRF Mesh and BlueZ write them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CdbModelId(pub ModelId);
string_serde!(
    CdbModelId,
    |s: &str| -> Result<CdbModelId, String> {
        if !is_hex(s) {
            return Err(format!("\"{s}\" is not a model identifier"));
        }
        match s.len() {
            4 => Ok(CdbModelId(ModelId::Sig(parse_hex16(s)?))),
            8 => Ok(CdbModelId(ModelId::Vendor {
                company_id: parse_hex16(&s[..4])?,
                model_id: parse_hex16(&s[4..])?,
            })),
            _ => Err(format!(
                "\"{s}\" is not a model identifier (4 or 8 hexadecimal digits)"
            )),
        }
    },
    |m: &CdbModelId| match m.0 {
        ModelId::Sig(id) => format!("{id:04X}"),
        ModelId::Vendor {
            company_id,
            model_id,
        } => format!("{company_id:04X}{model_id:04X}"),
    }
);

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

string_serde!(
    CdbAddress,
    |s: &str| -> Result<CdbAddress, String> {
        if s.len() <= 4 {
            parse_hex16(s).map(CdbAddress::Address)
        } else {
            parse_uuid(s)
                .map(CdbAddress::Label)
                .map_err(|_| format!("\"{s}\" is neither an address nor a Label UUID"))
        }
    },
    |a: &CdbAddress| match a {
        CdbAddress::Address(v) => format!("{v:04X}"),
        CdbAddress::Label(l) => hex::encode_upper(l),
    }
);

fn de_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        B(bool),
        N(u64),
    }
    match Flag::deserialize(d)? {
        Flag::B(b) => Ok(b),
        Flag::N(0) => Ok(false),
        Flag::N(1) => Ok(true),
        Flag::N(n) => Err(D::Error::custom(format!("{n} is neither 0 nor 1"))),
    }
}

fn ser_flag<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*v))
}

/// An IV index as BlueZ stores it (a number), or as a hex string.
fn de_opt_u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        N(u32),
        S(String),
    }
    Ok(match Option::<V>::deserialize(d)? {
        None => None,
        Some(V::N(n)) => Some(n),
        Some(V::S(s)) => Some(
            u32::from_str_radix(s.trim_start_matches("0x"), 16)
                .map_err(|_| D::Error::custom(format!("\"{s}\" is not an IV index")))?,
        ),
    })
}

fn de_opt_bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "de_flag")] bool);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
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
        deserialize_with = "de_opt_u32_lenient"
    )]
    pub iv_index: Option<u32>,
    /// IV Update in progress (extension beside `ivIndex`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_opt_bool_lenient"
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

impl<'de> Deserialize<'de> for CdbTransmit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            count: u8,
            interval: u16,
        }
        let r = Raw::deserialize(d)?;
        // Some nRF Mesh for Android versions wrote the interval as a number of 10 ms steps.
        let interval = if r.interval % 10 != 0 && r.interval <= 32 {
            r.interval * 10
        } else {
            r.interval
        };
        Ok(CdbTransmit {
            count: r.count,
            interval,
        })
    }
}

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
    #[serde(deserialize_with = "de_flag", serialize_with = "ser_flag")]
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

    /// From a period in milliseconds (the pre-3.0 nRF Mesh format); the coarsest resolution
    /// that divides it.
    fn from_millis(ms: u64) -> Option<Self> {
        if ms == 0 {
            return Some(CdbPeriod {
                number_of_steps: 0,
                resolution: 100,
            });
        }
        StepResolution::ALL.iter().rev().find_map(|r| {
            let res = u64::from(r.millis());
            (ms.is_multiple_of(res) && ms / res <= 0x3F).then(|| CdbPeriod {
                number_of_steps: (ms / res) as u8,
                resolution: r.millis(),
            })
        })
    }
}

impl<'de> Deserialize<'de> for CdbPeriod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Obj {
            number_of_steps: u8,
            resolution: u32,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Obj(Obj),
            Millis(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Millis(ms) => CdbPeriod::from_millis(ms)
                .ok_or_else(|| D::Error::custom(format!("unsupported period of {ms} ms"))),
            Raw::Obj(o) => {
                let steps = o.number_of_steps;
                let resolution = match o.resolution {
                    // Disabled: any resolution reads as 100 ms.
                    _ if steps == 0 => 100,
                    100 | 1000 | 10_000 | 600_000 => o.resolution,
                    // BlueZ writes the 2-bit field (MshPRT §4.3.2.16).
                    r @ 0..=3 => StepResolution::from_bits(r as u8).millis(),
                    // nRF Mesh 3.0.1 and older multiplied the resolution by the steps.
                    r if r % u32::from(steps) == 0
                        && matches!(r / u32::from(steps), 100 | 1000 | 10_000 | 600_000) =>
                    {
                        r / u32::from(steps)
                    }
                    r => {
                        return Err(D::Error::custom(format!(
                            "unsupported resolution {r} (100, 1000, 10000 or 600000 ms)"
                        )))
                    }
                };
                Ok(CdbPeriod {
                    number_of_steps: steps,
                    resolution,
                })
            }
        }
    }
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

/// Why an address cannot go to a new node ([`Cdb::address_in_use`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressInUse {
    /// A node's elements hold it.
    Node {
        /// The node's primary address.
        primary: u16,
        /// How many elements (hence addresses) the node has.
        elements: u16,
        /// The node's name, if it has one.
        name: Option<String>,
    },
    /// It belonged to a node that was removed and is excluded from reuse (CDB 1.0.1
    /// `networkExclusions`) until the IV index moves on.
    Excluded(u16),
}

impl fmt::Display for AddressInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressInUse::Node {
                primary,
                elements,
                name,
            } => {
                write!(f, "node {primary:04X}")?;
                if let Some(n) = name {
                    write!(f, " ({n})")?;
                }
                if *elements > 1 {
                    let last = u32::from(*primary) + u32::from(*elements) - 1;
                    write!(
                        f,
                        ", whose {elements} elements hold {primary:04X}-{last:04X}"
                    )?;
                }
                Ok(())
            }
            AddressInUse::Excluded(a) => write!(
                f,
                "the network's exclusion list ({a:04X} belonged to a removed node)"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading, writing, checking
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

    /// Parses and checks a CDB document. Errors name the offending field.
    pub fn from_json(text: &str) -> Result<Self, CdbError> {
        let cdb = Self::from_json_unchecked(text)?;
        cdb.validate()?;
        Ok(cdb)
    }

    /// Parses a CDB document without [`Cdb::validate`]: for a document that must open even
    /// when its references disagree (to show, export and mend it).
    pub fn from_json_unchecked(text: &str) -> Result<Self, CdbError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let cdb: Cdb = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() || path == "." {
                CdbError::Syntax {
                    line: inner.line(),
                    column: inner.column(),
                    msg: inner.to_string(),
                }
            } else {
                CdbError::Field {
                    field: path,
                    msg: strip_position(&inner.to_string()),
                }
            }
        })?;
        de.end().map_err(|e| CdbError::Syntax {
            line: e.line(),
            column: e.column(),
            msg: e.to_string(),
        })?;
        Ok(cdb)
    }

    /// The document as pretty-printed JSON, as the schema writes it (the version written is
    /// always 1.0.1).
    pub fn to_json(&self) -> String {
        let mut c = self.clone();
        c.schema = JSON_SCHEMA.into();
        c.id = SCHEMA_ID.into();
        c.version = SCHEMA_VERSION.into();
        // Serialising plain data into a String cannot fail.
        serde_json::to_string_pretty(&c).unwrap_or_default()
    }

    /// Checks every value the schema constrains beyond its type, and the references between
    /// keys, nodes and elements.
    pub fn validate(&self) -> Result<(), CdbError> {
        let mut seen = Vec::new();
        for (i, k) in self.net_keys.iter().enumerate() {
            let p = format!("netKeys[{i}]");
            check_index(&format!("{p}.index"), k.index)?;
            if seen.contains(&k.index) {
                return Err(CdbError::field(
                    format!("{p}.index"),
                    format!("NetKey Index {} appears twice", k.index),
                ));
            }
            seen.push(k.index);
            if k.phase > 2 {
                return Err(CdbError::field(
                    format!("{p}.phase"),
                    format!("{} is not a Key Refresh Phase (0, 1 or 2)", k.phase),
                ));
            }
            if k.phase != 0 && k.old_key.is_none() {
                return Err(CdbError::field(
                    format!("{p}.oldKey"),
                    "required during a key refresh (phase 1 or 2)",
                ));
            }
        }
        let mut seen_app = Vec::new();
        for (i, k) in self.app_keys.iter().enumerate() {
            let p = format!("appKeys[{i}]");
            check_index(&format!("{p}.index"), k.index)?;
            if seen_app.contains(&k.index) {
                return Err(CdbError::field(
                    format!("{p}.index"),
                    format!("AppKey Index {} appears twice", k.index),
                ));
            }
            seen_app.push(k.index);
            if !self.partial && !seen.contains(&k.bound_net_key) {
                return Err(CdbError::field(
                    format!("{p}.boundNetKey"),
                    format!("no network key has index {}", k.bound_net_key),
                ));
            }
        }
        for (i, pr) in self.provisioners.iter().enumerate() {
            let p = format!("provisioners[{i}]");
            for (j, r) in pr.allocated_unicast_range.iter().enumerate() {
                check_range(
                    &format!("{p}.allocatedUnicastRange[{j}]"),
                    *r,
                    0x0001,
                    0x7FFF,
                )?;
            }
            for (j, r) in pr.allocated_group_range.iter().enumerate() {
                check_range(&format!("{p}.allocatedGroupRange[{j}]"), *r, 0xC000, 0xFEFF)?;
            }
            for (j, r) in pr.allocated_scene_range.iter().enumerate() {
                if r.first_scene.0 == 0 || r.first_scene > r.last_scene {
                    return Err(CdbError::field(
                        format!("{p}.allocatedSceneRange[{j}]"),
                        "not a range of scene numbers (0001..FFFF, first <= last)",
                    ));
                }
            }
        }
        let mut used: Vec<(u16, u16, usize)> = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            self.validate_node(&format!("nodes[{i}]"), n, &seen)?;
            let lo = n.unicast_address.0;
            let hi = lo + (n.elements.len().max(1) as u16 - 1);
            if let Some((_, _, other)) = used.iter().find(|(a, b, _)| lo <= *b && *a <= hi) {
                return Err(CdbError::field(
                    format!("nodes[{i}].unicastAddress"),
                    format!("{lo:04X} overlaps the addresses of nodes[{other}]"),
                ));
            }
            used.push((lo, hi, i));
        }
        for (i, g) in self.groups.iter().enumerate() {
            let a = g.address.address();
            if !(a.is_group() || a.is_virtual()) || a.0 >= 0xFF00 {
                return Err(CdbError::field(
                    format!("groups[{i}].address"),
                    format!("{:04X} is not a group or virtual address", a.0),
                ));
            }
        }
        for (i, s) in self.scenes.iter().enumerate() {
            if s.number.0 == 0 {
                return Err(CdbError::field(
                    format!("scenes[{i}].number"),
                    "scene number 0000 is prohibited",
                ));
            }
        }
        Ok(())
    }

    fn validate_node(&self, p: &str, n: &CdbNode, net_indexes: &[u16]) -> Result<(), CdbError> {
        let a = n.unicast_address.0;
        if UnicastAddress::new(a).is_none() {
            return Err(CdbError::field(
                format!("{p}.unicastAddress"),
                format!("{a:04X} is not a unicast address (0001..7FFF)"),
            ));
        }
        if usize::from(a) + n.elements.len().max(1) - 1 > 0x7FFF {
            return Err(CdbError::field(
                format!("{p}.elements"),
                "the element addresses run past 7FFF",
            ));
        }
        for (j, k) in n.net_keys.iter().enumerate() {
            check_index(&format!("{p}.netKeys[{j}].index"), k.index)?;
            if !self.partial && !net_indexes.contains(&k.index) {
                return Err(CdbError::field(
                    format!("{p}.netKeys[{j}].index"),
                    format!("no network key has index {}", k.index),
                ));
            }
        }
        for (j, k) in n.app_keys.iter().enumerate() {
            check_index(&format!("{p}.appKeys[{j}].index"), k.index)?;
        }
        if let Some(ttl) = n.default_ttl {
            if ttl > 0x7F || ttl == 1 {
                return Err(CdbError::field(
                    format!("{p}.defaultTTL"),
                    format!("{ttl} is not a Default TTL (0, 2..127; MshPRT §4.2.7)"),
                ));
            }
        }
        if let Some(f) = &n.features {
            for (name, v) in [
                ("relay", f.relay),
                ("proxy", f.proxy),
                ("friend", f.friend),
                ("lowPower", f.low_power),
            ] {
                if v.is_some_and(|v| v > 2) {
                    return Err(CdbError::field(
                        format!("{p}.features.{name}"),
                        "must be 0 (disabled), 1 (enabled) or 2 (not supported)",
                    ));
                }
            }
        }
        for (name, t) in [
            ("networkTransmit", n.network_transmit),
            ("relayRetransmit", n.relay_retransmit),
        ] {
            if let Some(t) = t {
                if t.to_state().is_none() {
                    return Err(CdbError::field(format!("{p}.{name}"), format!("count {} / interval {} ms out of range (1..8 transmissions, 10..320 ms in 10 ms steps)", t.count, t.interval)));
                }
            }
        }
        for (j, e) in n.elements.iter().enumerate() {
            let pe = format!("{p}.elements[{j}]");
            if usize::from(e.index) != j {
                return Err(CdbError::field(
                    format!("{pe}.index"),
                    format!("{} where {j} was expected (elements in order)", e.index),
                ));
            }
            for (m, model) in e.models.iter().enumerate() {
                let pm = format!("{pe}.models[{m}]");
                for (b, idx) in model.bind.iter().enumerate() {
                    check_index(&format!("{pm}.bind[{b}]"), *idx)?;
                }
                if let Some(publ) = &model.publish {
                    check_publish(&format!("{pm}.publish"), publ)?;
                }
            }
        }
        if let Some(hb) = &n.heartbeat_pub {
            let ph = format!("{p}.heartbeatPub");
            if period_log(hb.period).is_none() {
                return Err(CdbError::field(
                    format!("{ph}.period"),
                    format!(
                        "{} s is neither 0, a power of 2 up to 32768, nor 65535",
                        hb.period
                    ),
                ));
            }
            if hb.ttl > 0x7F {
                return Err(CdbError::field(
                    format!("{ph}.ttl"),
                    format!("{} is above 127", hb.ttl),
                ));
            }
            check_index(&format!("{ph}.index"), hb.index)?;
            for (j, f) in hb.features.iter().enumerate() {
                if feature_bit(f).is_none() {
                    return Err(CdbError::field(
                        format!("{ph}.features[{j}]"),
                        format!("\"{f}\" is not relay, proxy, friend or lowPower"),
                    ));
                }
            }
        }
        Ok(())
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

    /// Removes the node whose primary address is `primary` (after a Config Node Reset, MshPRT
    /// §4.3.2.53) and excludes its addresses from reuse (CDB 1.0.1 `networkExclusions`: not
    /// before the IV index passes `iv_index + 1`, so a node keeping an old RPL entry for them
    /// cannot reject a newcomer's messages as replays). Returns the node removed.
    pub fn remove_node(&mut self, primary: u16, iv_index: u32) -> Option<CdbNode> {
        let i = self
            .nodes
            .iter()
            .position(|n| n.unicast_address.0 == primary)?;
        let node = self.nodes.remove(i);
        let count = node.elements.len().max(1) as u16;
        self.exclude((0..count).map(|k| primary.saturating_add(k)), iv_index);
        Some(node)
    }

    /// Excludes `addresses` from reuse, from IV index `iv_index` on (CDB 1.0.1
    /// `networkExclusions`).
    pub fn exclude(&mut self, addresses: impl IntoIterator<Item = u16>, iv_index: u32) {
        let addresses = addresses.into_iter().map(Hex16);
        match self
            .network_exclusions
            .iter_mut()
            .find(|e| e.iv_index == iv_index)
        {
            Some(e) => e.addresses.extend(addresses),
            None => self.network_exclusions.push(CdbExclusion {
                iv_index,
                addresses: addresses.collect(),
            }),
        }
    }

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

    /// The node whose primary address is `primary`, mutably.
    pub fn node_mut(&mut self, primary: u16) -> Option<&mut CdbNode> {
        self.nodes
            .iter_mut()
            .find(|n| n.unicast_address.0 == primary)
    }

    /// Whether `addr` is excluded from reuse at IV index `iv_index` (CDB 1.0.1: an exclusion
    /// made at IV index I holds while the IV index is at most I + 1).
    pub fn is_excluded(&self, addr: u16, iv_index: u32) -> bool {
        self.excluded(iv_index).any(|a| a == addr)
    }

    /// The unicast address for a new node of `elements` elements: after every node's last
    /// element and every address excluded at IV index `iv_index` (MshPRT §3.4.2.2: a node's
    /// elements take consecutive addresses); `None` when the unicast range (up to 0x7FFF) is
    /// used up.
    pub fn next_unicast(&self, elements: u16, iv_index: u32) -> Option<u16> {
        let after_nodes = self.nodes.iter().map(|n| {
            let count = n.elements.len().max(1) as u16;
            n.unicast_address.0.saturating_add(count)
        });
        let after_excluded = self.excluded(iv_index).map(|a| a.saturating_add(1));
        let next = after_nodes.chain(after_excluded).fold(0x0001, u16::max);
        (next.checked_add(elements)? <= 0x8000).then_some(next)
    }

    /// What already holds one of the `count` addresses from `first` (a node's element, or an
    /// address excluded at IV index `iv_index`), if anything: a new node must not be given it
    /// (MshPRT §3.4.2.2: each element has its own unicast address).
    pub fn address_in_use(&self, first: u16, count: u16, iv_index: u32) -> Option<AddressInUse> {
        let last = u32::from(first) + u32::from(count.max(1)) - 1;
        let overlaps = |lo: u16, n: usize| {
            let hi = u32::from(lo) + n.max(1) as u32 - 1;
            u32::from(lo) <= last && u32::from(first) <= hi
        };
        if let Some(n) = self
            .nodes
            .iter()
            .find(|n| overlaps(n.unicast_address.0, n.elements.len()))
        {
            return Some(AddressInUse::Node {
                primary: n.unicast_address.0,
                elements: n.elements.len().max(1) as u16,
                name: n.name.clone(),
            });
        }
        self.excluded(iv_index)
            .find(|&a| overlaps(a, 1))
            .map(AddressInUse::Excluded)
    }

    /// The addresses excluded from reuse at IV index `iv_index`.
    pub fn excluded(&self, iv_index: u32) -> impl Iterator<Item = u16> + '_ {
        self.network_exclusions
            .iter()
            .filter(move |e| iv_index <= e.iv_index.saturating_add(1))
            .flat_map(|e| e.addresses.iter().map(|a| a.0))
    }

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

/// Heartbeat feature names and their bits (MshPRT §4.2.17.5).
const FEATURES: [(&str, u16); 4] = [
    ("relay", 0x0001),
    ("proxy", 0x0002),
    ("friend", 0x0004),
    ("lowPower", 0x0008),
];

fn feature_bit(name: &str) -> Option<u16> {
    FEATURES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Heartbeat period in seconds → Period Log (MshPRT §4.2.17.3): 0 → 0, 2^(n-1) → n, 0xFFFF → 0x11.
fn period_log(period: u32) -> Option<u8> {
    match period {
        0 => Some(0),
        0xFFFF => Some(0x11),
        p if p.is_power_of_two() && p <= 0x8000 => Some(p.trailing_zeros() as u8 + 1),
        _ => None,
    }
}

fn log_to_period(log: u8) -> u32 {
    match log {
        0 => 0,
        1..=0x10 => 1 << (log - 1),
        _ => 0xFFFF,
    }
}

fn label_for(a: Address, labels: &[[u8; 16]]) -> CdbAddress {
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

fn publish_from_state(p: &Publication) -> CdbPublish {
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

fn check_index(field: &str, v: u16) -> Result<(), CdbError> {
    // MshPRT §4.3.1.1: key indexes are 12 bits.
    if v > KeyIndex::MAX {
        return Err(CdbError::field(
            field,
            format!("{v} is not a key index (0..4095)"),
        ));
    }
    Ok(())
}

fn check_range(field: &str, r: CdbRange, lo: u16, hi: u16) -> Result<(), CdbError> {
    if r.low_address.0 < lo || r.high_address.0 > hi || r.low_address > r.high_address {
        return Err(CdbError::field(
            field,
            format!(
                "{:04X}..{:04X} is not a range within {lo:04X}..{hi:04X}",
                r.low_address.0, r.high_address.0
            ),
        ));
    }
    Ok(())
}

fn check_publish(p: &str, publ: &CdbPublish) -> Result<(), CdbError> {
    check_index(&format!("{p}.index"), publ.index)?;
    // MshPRT §4.2.3.4: Publish TTL 0x80..=0xFE is prohibited.
    if (0x80..=0xFE).contains(&publ.ttl) {
        return Err(CdbError::field(
            format!("{p}.ttl"),
            format!("{} is not a Publish TTL (0..127 or 255)", publ.ttl),
        ));
    }
    if publ.period.to_state().is_none() {
        return Err(CdbError::field(
            format!("{p}.period.numberOfSteps"),
            format!("{} is above 63", publ.period.number_of_steps),
        ));
    }
    let r = publ.retransmit;
    if r.count > 7 {
        return Err(CdbError::field(
            format!("{p}.retransmit.count"),
            format!("{} is above 7", r.count),
        ));
    }
    // MshPRT §4.2.3.8: (steps + 1) × 50 ms, steps 0..=31.
    if !(50..=1600).contains(&r.interval) || !r.interval.is_multiple_of(50) {
        return Err(CdbError::field(
            format!("{p}.retransmit.interval"),
            format!("{} ms is not 50..1600 in 50 ms steps", r.interval),
        ));
    }
    Ok(())
}

/// serde_json appends " at line L column C" to data errors; the path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_node_leaves_its_addresses_excluded_for_two_iv_indexes() {
        let mut c = Cdb::new([1; 16], "n", "2026-01-01T00:00:00Z");
        let mut st = crate::ble::node::NodeState::new(
            [2; 16],
            UnicastAddress::new(0x0010).unwrap(),
            [3; 16],
            [4; 16],
            IvIndex(5),
            vec![
                ElementState {
                    location: 0,
                    models: Vec::new(),
                };
                2
            ],
        );
        st.beacon = false;
        c.nodes.push(CdbNode::from_node_state(&st, None));
        assert!(c.remove_node(0x0011, 5).is_none(), "not a primary address");
        let gone = c.remove_node(0x0010, 5).expect("removed");
        assert_eq!(gone.uuid, Uuid([2; 16]));
        assert!(c.nodes.is_empty());
        for a in [0x0010, 0x0011] {
            assert!(c.is_excluded(a, 5) && c.is_excluded(a, 6), "{a:04x}");
            assert!(!c.is_excluded(a, 7));
        }
        assert!(!c.is_excluded(0x0012, 5));
        // A new node goes after the excluded addresses while they are excluded.
        assert_eq!(c.next_unicast(1, 5), Some(0x0012));
        assert_eq!(c.next_unicast(1, 7), Some(0x0001));
        assert_eq!(c.next_unicast(0x8000, 5), None);
        c.validate().unwrap();
    }

    #[test]
    fn an_address_held_by_any_element_or_an_exclusion_is_in_use() {
        let mut c = Cdb::new([1; 16], "n", "2026-01-01T00:00:00Z");
        let element = ElementState {
            location: 0,
            models: Vec::new(),
        };
        let st = crate::ble::node::NodeState::new(
            [2; 16],
            UnicastAddress::new(0x0010).unwrap(),
            [3; 16],
            [4; 16],
            IvIndex(5),
            vec![element.clone(); 3],
        );
        c.nodes.push(CdbNode::from_node_state(&st, None));
        let holder = AddressInUse::Node {
            primary: 0x0010,
            elements: 3,
            name: None,
        };
        // 0010-0012 belong to the node: a new node may touch none of them.
        for (first, count) in [(0x0010, 1), (0x0012, 1), (0x000e, 3), (0x0011, 5)] {
            assert_eq!(c.address_in_use(first, count, 5), Some(holder.clone()));
        }
        for (first, count) in [(0x000d, 3), (0x0013, 1), (0x7fff, 1)] {
            assert_eq!(
                c.address_in_use(first, count, 5),
                None,
                "{first:04x}+{count}"
            );
        }
        assert_eq!(
            holder.to_string(),
            "node 0010, whose 3 elements hold 0010-0012"
        );
        c.remove_node(0x0010, 5).unwrap();
        assert_eq!(
            c.address_in_use(0x0011, 1, 6),
            Some(AddressInUse::Excluded(0x0011))
        );
        assert_eq!(c.address_in_use(0x0011, 1, 7), None, "the exclusion lapsed");
    }
    use proptest::prelude::*;

    const MINIMAL: &str = r#"{
        "meshUUID": "c8e8769a-ea26-427c-bafb-5794d9940d10",
        "meshName": "t",
        "netKeys": [{"name": "n", "index": 0, "key": "d1a4a6f3502681926699d4fb19732c3c",
                     "phase": 0, "minSecurity": "insecure", "timestamp": "x"}]
    }"#;

    fn with_node(node: &str) -> String {
        MINIMAL.replacen(
            "\"netKeys\"",
            &format!("\"nodes\": [{node}], \"netKeys\""),
            1,
        )
    }

    #[test]
    fn reads_lowercase_and_compact_uuids_writes_uppercase_dashed() {
        let c = Cdb::from_json(MINIMAL).unwrap();
        assert_eq!(c.mesh_uuid.0[0], 0xC8);
        assert_eq!(c.net_keys[0].min_security, Security::Insecure);
        let out = c.to_json();
        assert!(
            out.contains("\"C8E8769A-EA26-427C-BAFB-5794D9940D10\""),
            "{out}"
        );
        assert!(
            out.contains("\"D1A4A6F3502681926699D4FB19732C3C\""),
            "{out}"
        );
        assert!(out.contains(SCHEMA_ID) && out.contains("\"version\": \"1.0.1\""));
        let compact = MINIMAL.replace(
            "c8e8769a-ea26-427c-bafb-5794d9940d10",
            "C8E8769AEA26427CBAFB5794D9940D10",
        );
        assert_eq!(Cdb::from_json(&compact).unwrap().mesh_uuid, c.mesh_uuid);
        assert_eq!(Cdb::from_json(&out).unwrap(), Cdb { ..c });
    }

    #[test]
    fn uuid_with_misplaced_dashes_is_refused() {
        assert!(parse_uuid("c8e8769a-ea26427c-bafb-5794d9940d10-").is_err());
        assert!(parse_uuid("c8e8769aea26427cbafb5794d9940d1").is_err());
        assert!(parse_uuid("g8e8769aea26427cbafb5794d9940d10").is_err());
    }

    #[test]
    fn model_ids_sig_and_vendor() {
        let m: CdbModelId = serde_json::from_str("\"1000\"").unwrap();
        assert_eq!(m.0, ModelId::GENERIC_ONOFF_SERVER);
        let v: CdbModelId = serde_json::from_str("\"0059000a\"").unwrap();
        assert_eq!(
            v.0,
            ModelId::Vendor {
                company_id: 0x0059,
                model_id: 0x000A
            }
        );
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0059000A\"");
        assert!(serde_json::from_str::<CdbModelId>("\"100\"").is_err());
        assert!(serde_json::from_str::<CdbModelId>("\"0059000\"").is_err());
    }

    #[test]
    fn publish_period_legacy_forms() {
        let p: CdbPeriod = serde_json::from_str("40000").unwrap(); // nRF Mesh < 3.0: 40 s in ms
        assert_eq!(
            p,
            CdbPeriod {
                number_of_steps: 4,
                resolution: 10_000
            }
        );
        let p: CdbPeriod =
            serde_json::from_str(r#"{"numberOfSteps": 40, "resolution": 40000}"#).unwrap();
        assert_eq!(
            p,
            CdbPeriod {
                number_of_steps: 40,
                resolution: 1000
            }
        ); // nRF Mesh 3.0.1
        let p: CdbPeriod =
            serde_json::from_str(r#"{"numberOfSteps": 5, "resolution": 1}"#).unwrap();
        assert_eq!(
            p,
            CdbPeriod {
                number_of_steps: 5,
                resolution: 1000
            }
        ); // BlueZ: 2-bit field
        let p: CdbPeriod =
            serde_json::from_str(r#"{"numberOfSteps": 0, "resolution": 0}"#).unwrap();
        assert_eq!(
            p,
            CdbPeriod {
                number_of_steps: 0,
                resolution: 100
            }
        );
        assert!(
            serde_json::from_str::<CdbPeriod>(r#"{"numberOfSteps": 3, "resolution": 700}"#)
                .is_err()
        );
    }

    #[test]
    fn transmit_given_in_steps_is_converted() {
        let t: CdbTransmit = serde_json::from_str(r#"{"count": 3, "interval": 2}"#).unwrap();
        assert_eq!(
            t,
            CdbTransmit {
                count: 3,
                interval: 20
            }
        );
        assert_eq!(
            t.to_state(),
            Some(Retransmit {
                count: 2,
                interval_steps: 1
            })
        );
        assert_eq!(
            CdbTransmit::from_state(Retransmit {
                count: 7,
                interval_steps: 31
            }),
            CdbTransmit {
                count: 8,
                interval: 320
            }
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = Cdb::from_json(&with_node(r#"{"UUID": "00000000000000000000000000000001", "unicastAddress": "8000", "netKeys": [{"index": 0}], "elements": []}"#)).unwrap_err();
        assert_eq!(
            e,
            CdbError::field(
                "nodes[0].unicastAddress",
                "8000 is not a unicast address (0001..7FFF)"
            )
        );
        let e = Cdb::from_json(&with_node(r#"{"UUID": "00000000000000000000000000000001", "unicastAddress": "zz", "elements": []}"#)).unwrap_err();
        assert!(
            matches!(&e, CdbError::Field { field, .. } if field == "nodes[0].unicastAddress"),
            "{e}"
        );
        let e = Cdb::from_json(&with_node(r#"{"UUID": "00000000000000000000000000000001", "unicastAddress": "0002",
            "elements": [{"index": 0, "location": "0000", "models": [{"modelId": "1000", "bind": [], "subscribe": [],
              "publish": {"address": "C000", "index": 0, "ttl": 200, "period": {"numberOfSteps": 0, "resolution": 100},
                          "credentials": 0, "retransmit": {"count": 0, "interval": 50}}}]}]}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nodes[0].elements[0].models[0].publish.ttl: 200 is not a Publish TTL (0..127 or 255)"
        );
        let e = Cdb::from_json(r#"{"meshName": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("meshUUID"), "{e}");
        let e = Cdb::from_json(r#"{"meshUUID": 5}"#).unwrap_err();
        assert!(
            matches!(&e, CdbError::Field { field, .. } if field == "meshUUID"),
            "{e}"
        );
        let e = Cdb::from_json("{\"meshUUID\": ").unwrap_err();
        assert!(matches!(e, CdbError::Syntax { line: 1, .. }), "{e}");
        assert!(matches!(
            Cdb::from_json("{} x"),
            Err(CdbError::Syntax { .. })
        ));
        let bad_bound = MINIMAL.replacen("\"netKeys\"", r#""appKeys": [{"index": 0, "boundNetKey": 3, "key": "00000000000000000000000000000000"}], "netKeys""#, 1);
        assert_eq!(
            Cdb::from_json(&bad_bound).unwrap_err().to_string(),
            "appKeys[0].boundNetKey: no network key has index 3"
        );
    }

    #[test]
    fn legacy_names_and_bluez_iv_index() {
        let doc = with_node(r#"{"uuid": "00000000000000000000000000000001", "unicastAddress": "0002", "blacklisted": true, "elements": []}"#)
            .replacen("\"meshName\"", "\"ivIndex\": 5, \"ivUpdate\": 1, \"token\": \"0011223344556677\", \"blacklistedAddresses\": [{\"ivIndex\": 4, \"addresses\": [\"0003\"]}], \"meshName\"", 1);
        let c = Cdb::from_json(&doc).unwrap();
        assert!(c.nodes[0].excluded);
        assert_eq!((c.iv_index, c.iv_update), (Some(5), Some(true)));
        assert_eq!(c.network_exclusions[0].addresses, vec![Hex16(3)]);
        let out = c.to_json();
        assert!(
            out.contains("\"ivIndex\": 5")
                && out.contains("\"excluded\": true")
                && !out.contains("token")
        );
        assert_eq!(Cdb::from_json(&out).unwrap(), c);
    }

    fn sample_state() -> NodeState {
        let mut pub_params = PubParams {
            app_key_index: KeyIndex::from_bits(1),
            credential_flag: true,
            ttl: 0xFF,
            period: PublishPeriod::from_byte(0x45),
            retransmit: Retransmit {
                count: 2,
                interval_steps: 3,
            },
        };
        let label = [0x11u8; 16];
        let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
        onoff.app_keys = vec![1];
        onoff.subscriptions = vec![
            Address(0xC001),
            Address(crate::ble::crypto::virtual_address(&label)),
        ];
        onoff.labels = vec![label];
        onoff.publication = Some(Publication {
            address: Address(0xC002),
            label: None,
            params: pub_params,
        });
        pub_params.credential_flag = false;
        let mut vendor = ModelState::new(ModelId::Vendor {
            company_id: 0x05F1,
            model_id: 0x0001,
        });
        vendor.publication = Some(Publication {
            address: Address(crate::ble::crypto::virtual_address(&label)),
            label: Some(label),
            params: pub_params,
        });
        let mut s = NodeState::new(
            [7; 16],
            UnicastAddress::new(0x0010).unwrap(),
            [1; 16],
            [2; 16],
            IvIndex(9),
            vec![
                ElementState {
                    location: 0x0100,
                    models: vec![ModelState::new(ModelId::CONFIG_SERVER), onoff],
                },
                ElementState {
                    location: 0x0101,
                    models: vec![vendor],
                },
            ],
        );
        s.net_keys.push(NetKeyState {
            index: 5,
            key: [3; 16],
            new_key: Some([4; 16]),
            phase: KeyRefreshPhase::Second,
        });
        s.app_keys.push(AppKeyState {
            index: 1,
            net_index: 5,
            key: [5; 16],
            new_key: None,
        });
        s.relay = true;
        s.default_ttl = 9;
        s.heartbeat_publication = Some(HeartbeatPublication {
            dst: Address(0xC003),
            count: 0,
            period_log: 4,
            ttl: 5,
            features: 0x5,
            net_index: 5,
        });
        s.heartbeat_subscription = Some(HeartbeatSubscription {
            src: Address(0x0002),
            dst: Address(0x0010),
            period_log: 0,
        });
        s
    }

    #[test]
    fn node_state_round_trip() {
        let s = sample_state();
        let mut c = Cdb::new([9; 16], "n", "2024-01-01T00:00:00Z");
        c.add_keys_of(&s, "2024-01-01T00:00:00Z");
        let node = CdbNode::from_node_state(&s, Some("lamp".into()));
        assert_eq!(
            node.network_transmit,
            Some(CdbTransmit {
                count: 3,
                interval: 20
            })
        );
        c.nodes.push(node.clone());
        let c = Cdb::from_json(&c.to_json()).unwrap();
        assert_eq!(c.net_key(5).unwrap().old_key, Some(HexKey([3; 16])));
        assert_eq!(c.net_key(5).unwrap().key, HexKey([4; 16]));
        let back = c.node_state(&c.nodes[0], IvIndex(9)).unwrap();
        assert_eq!(back, s);
        let json = c.to_json();
        assert!(json.contains("\"subscribe\": [\n                \"C001\",\n                \"11111111111111111111111111111111\""), "{json}");
        assert!(json.contains("\"modelId\": \"05F10001\""));
        assert!(
            json.contains("\"features\": [\n          \"relay\",\n          \"friend\""),
            "{json}"
        );
    }

    #[test]
    fn node_state_needs_device_key_and_known_keys() {
        let s = sample_state();
        let mut c = Cdb::new([9; 16], "n", "t");
        let mut node = CdbNode::from_node_state(&s, None);
        c.nodes.push(node.clone());
        assert_eq!(
            c.node_state(&node, IvIndex(0)).unwrap_err().to_string(),
            "nodes[0].netKeys[0].index: no network key has index 0"
        );
        node.device_key = None;
        c.nodes[0] = node.clone();
        assert!(c
            .node_state(&node, IvIndex(0))
            .unwrap_err()
            .to_string()
            .starts_with("nodes[0].deviceKey"));
    }

    #[test]
    fn heartbeat_period_log() {
        assert_eq!(period_log(0), Some(0));
        assert_eq!(period_log(1), Some(1));
        assert_eq!(period_log(32768), Some(16));
        assert_eq!(period_log(0xFFFF), Some(0x11));
        assert_eq!(period_log(3), None);
        for l in 0..=0x11 {
            assert_eq!(period_log(log_to_period(l)), Some(l));
        }
    }

    // -- property: any valid network written by weft reads back equal ------------------------

    fn hex_key() -> impl Strategy<Value = HexKey> {
        any::<[u8; 16]>().prop_map(HexKey)
    }

    fn address() -> impl Strategy<Value = CdbAddress> {
        prop_oneof![
            (0xC000u16..0xFF00).prop_map(CdbAddress::Address),
            any::<[u8; 16]>().prop_map(CdbAddress::Label)
        ]
    }

    fn publish() -> impl Strategy<Value = CdbPublish> {
        (
            address(),
            0u16..=0xFFF,
            prop_oneof![0u8..=127, Just(255)],
            0u8..=63,
            0usize..4,
            any::<bool>(),
            0u8..=7,
            0u16..32,
        )
            .prop_map(
                |(address, index, ttl, steps, res, credentials, count, st)| CdbPublish {
                    address,
                    index,
                    ttl,
                    period: CdbPeriod {
                        number_of_steps: steps,
                        resolution: if steps == 0 {
                            100
                        } else {
                            StepResolution::ALL[res].millis()
                        },
                    },
                    credentials,
                    retransmit: CdbPubRetransmit {
                        count,
                        interval: (st + 1) * 50,
                    },
                },
            )
    }

    fn model() -> impl Strategy<Value = CdbModel> {
        (
            prop_oneof![
                any::<u16>().prop_map(ModelId::Sig),
                (any::<u16>(), any::<u16>()).prop_map(|(c, m)| ModelId::Vendor {
                    company_id: c,
                    model_id: m
                })
            ],
            proptest::collection::vec(0u16..=0xFFF, 0..3),
            proptest::collection::vec(address(), 0..3),
            proptest::option::of(publish()),
        )
            .prop_map(|(id, bind, subscribe, publish)| CdbModel {
                model_id: CdbModelId(id),
                bind,
                subscribe,
                publish,
            })
    }

    fn transmit() -> impl Strategy<Value = CdbTransmit> {
        (1u8..=8, 1u16..=32).prop_map(|(count, i)| CdbTransmit {
            count,
            interval: i * 10,
        })
    }

    fn node(addr: u16) -> impl Strategy<Value = CdbNode> {
        let elements = proptest::collection::vec(
            (
                proptest::option::of("[a-z ]{0,8}"),
                any::<u16>(),
                proptest::collection::vec(model(), 0..3),
            ),
            1..3,
        );
        let opt_hex = || proptest::option::of(any::<u16>().prop_map(Hex16));
        (
            (
                any::<[u8; 16]>(),
                proptest::option::of(hex_key()),
                any::<bool>(),
                any::<bool>(),
                proptest::option::of("[A-Za-z0-9]{0,10}"),
            ),
            (opt_hex(), opt_hex(), opt_hex(), opt_hex()),
            (
                proptest::option::of((0u8..=2, 0u8..=2, 0u8..=2, 0u8..=2)),
                proptest::option::of(any::<bool>()),
                proptest::option::of(prop_oneof![Just(0u8), 2u8..=127]),
            ),
            (
                proptest::option::of(transmit()),
                proptest::option::of(transmit()),
                proptest::collection::vec(0u16..=0xFFF, 0..3),
                elements,
            ),
            (
                any::<bool>(),
                proptest::option::of((any::<u16>(), 0u8..=0x11, 0u8..=127, any::<u8>())),
                proptest::option::of((any::<u16>(), any::<u16>())),
            ),
        )
            .prop_map(
                move |(
                    (uuid, dk, sec, cc, name),
                    (cid, pid, vid, crpl),
                    (feat, beacon, ttl),
                    (nt, rr, apps, elems),
                    (excl, hbp, hbs),
                )| CdbNode {
                    uuid: Uuid(uuid),
                    unicast_address: Hex16(addr),
                    device_key: dk,
                    security: if sec {
                        Security::Secure
                    } else {
                        Security::Insecure
                    },
                    net_keys: vec![CdbNodeKey {
                        index: 0,
                        updated: cc,
                    }],
                    config_complete: cc,
                    name,
                    cid,
                    pid,
                    vid,
                    crpl,
                    features: feat.map(|(r, p, f, l)| CdbFeatures {
                        relay: Some(r),
                        proxy: Some(p),
                        friend: Some(f),
                        low_power: Some(l),
                    }),
                    secure_network_beacon: beacon,
                    default_ttl: ttl,
                    network_transmit: nt,
                    relay_retransmit: rr,
                    app_keys: apps
                        .into_iter()
                        .map(|index| CdbNodeKey {
                            index,
                            updated: false,
                        })
                        .collect(),
                    elements: elems
                        .into_iter()
                        .enumerate()
                        .map(|(i, (name, loc, models))| CdbElement {
                            name,
                            index: i as u8,
                            location: Hex16(loc),
                            models,
                        })
                        .collect(),
                    excluded: excl,
                    heartbeat_pub: hbp.map(|(a, log, ttl, f)| CdbHeartbeatPub {
                        address: Hex16(a),
                        period: log_to_period(log),
                        ttl,
                        index: 0,
                        features: FEATURES
                            .iter()
                            .filter(|(_, b)| u16::from(f) & b != 0)
                            .map(|(n, _)| (*n).to_owned())
                            .collect(),
                    }),
                    heartbeat_sub: hbs.map(|(s, d)| CdbHeartbeatSub {
                        source: Hex16(s),
                        destination: Hex16(d),
                    }),
                    sequence_number: None,
                },
            )
    }

    fn network() -> impl Strategy<Value = Cdb> {
        (
            (
                any::<[u8; 16]>(),
                "[A-Za-z0-9 ]{0,12}",
                any::<bool>(),
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<bool>()),
            ),
            proptest::collection::vec(
                (
                    hex_key(),
                    proptest::option::of(hex_key()),
                    0u8..=2,
                    any::<bool>(),
                ),
                1..3,
            ),
            proptest::collection::vec((hex_key(), proptest::option::of(hex_key())), 0..3),
            proptest::collection::vec((0u16..0x100, 0u16..0x100, 0xC000u16..0xC100), 0..2),
            (node(0x0001), node(0x0100)),
            proptest::collection::vec(("[a-z]{0,5}", address(), address()), 0..3),
            proptest::collection::vec(
                (
                    "[a-z]{0,5}",
                    proptest::collection::vec((1u16..0x7FFF).prop_map(Hex16), 0..3),
                    1u16..=0xFFFF,
                ),
                0..2,
            ),
            proptest::collection::vec(
                (
                    any::<u32>(),
                    proptest::collection::vec((1u16..0x7FFF).prop_map(Hex16), 0..3),
                ),
                0..2,
            ),
        )
            .prop_map(
                |(
                    (uuid, name, partial, iv, ivu),
                    nets,
                    apps,
                    provs,
                    (n1, n2),
                    groups,
                    scenes,
                    excl,
                )| {
                    let mut c = Cdb::new(uuid, name, "2024-05-06T07:08:09Z");
                    c.partial = partial;
                    c.iv_index = iv;
                    c.iv_update = ivu;
                    c.net_keys = nets
                        .into_iter()
                        .enumerate()
                        .map(|(i, (key, old, phase, insecure))| CdbNetKey {
                            name: format!("Net {i}"),
                            index: i as u16,
                            key,
                            old_key: if phase == 0 {
                                old
                            } else {
                                Some(old.unwrap_or(key))
                            },
                            phase,
                            min_security: if insecure {
                                Security::Insecure
                            } else {
                                Security::Secure
                            },
                            timestamp: "2024-05-06T07:08:09Z".into(),
                        })
                        .collect();
                    c.app_keys = apps
                        .into_iter()
                        .enumerate()
                        .map(|(i, (key, old_key))| CdbAppKey {
                            name: format!("App {i}"),
                            index: i as u16 + 1,
                            bound_net_key: 0,
                            key,
                            old_key,
                        })
                        .collect();
                    c.provisioners = provs
                        .into_iter()
                        .map(|(a, b, g)| CdbProvisioner {
                            provisioner_name: "p".into(),
                            uuid: Uuid([a as u8; 16]),
                            allocated_unicast_range: vec![CdbRange {
                                low_address: Hex16(a.min(b) + 1),
                                high_address: Hex16(a.max(b) + 1),
                            }],
                            allocated_group_range: vec![CdbRange {
                                low_address: Hex16(g),
                                high_address: Hex16(g + 5),
                            }],
                            allocated_scene_range: vec![CdbSceneRange {
                                first_scene: Hex16(1),
                                last_scene: Hex16(b + 1),
                            }],
                        })
                        .collect();
                    c.nodes = vec![n1, n2];
                    c.groups = groups
                        .into_iter()
                        .map(|(name, address, parent_address)| CdbGroup {
                            name,
                            address,
                            parent_address,
                        })
                        .collect();
                    c.scenes = scenes
                        .into_iter()
                        .map(|(name, addresses, n)| CdbScene {
                            name,
                            addresses,
                            number: Hex16(n),
                        })
                        .collect();
                    c.network_exclusions = excl
                        .into_iter()
                        .map(|(iv_index, addresses)| CdbExclusion {
                            iv_index,
                            addresses,
                        })
                        .collect();
                    c
                },
            )
    }

    proptest! {
        #[test]
        fn written_networks_read_back_equal(c in network()) {
            c.validate().unwrap();
            let json = c.to_json();
            let back = Cdb::from_json(&json).unwrap();
            prop_assert_eq!(&back, &c);
            prop_assert_eq!(back.to_json(), json);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,200}") {
            let _ = Cdb::from_json(&s);
        }

        #[test]
        fn mutated_documents_never_panic(c in network(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut json = c.to_json().into_bytes();
            let i = pos.index(json.len());
            json[i] = byte;
            if let Ok(s) = String::from_utf8(json) {
                let _ = Cdb::from_json(&s);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Learning from configuration statuses
    // -----------------------------------------------------------------------------------------

    use crate::ble::models::config::{tests::arb_config, FeatureState, StatusCode};
    use crate::ble::models::config_client::tests::{plan, run_against, two_elements, NODE};
    use crate::ble::models::config_client::{ConfigClient, ConfigClientEvent};
    use crate::ble::node::config_server;

    fn ki(v: u16) -> KeyIndex {
        KeyIndex::from_bits(v)
    }

    /// A record as provisioning leaves it: keys and elements unknown.
    fn bare(s: &NodeState) -> CdbNode {
        let mut n = CdbNode::from_node_state(s, None);
        n.config_complete = false;
        n.cid = None;
        n.pid = None;
        n.vid = None;
        n.crpl = None;
        n.features = None;
        n.secure_network_beacon = None;
        n.default_ttl = None;
        n.network_transmit = None;
        n.relay_retransmit = None;
        n.app_keys.clear();
        n.elements.clear();
        n
    }

    /// Asks `request` of the Configuration Server of `st` and records the answer into `node`.
    fn ask(node: &mut CdbNode, st: &mut NodeState, request: ConfigMessage) -> ConfigMessage {
        let status = config_server::handle(st, &request).reply.unwrap();
        node.record(&request, &status);
        status
    }

    #[test]
    fn a_configured_node_is_recorded_as_it_is() {
        let mut st = two_elements();
        let mut node = bare(&st);
        let mut client = ConfigClient::new();
        client.configure(st.primary, plan());
        let (_, events) = run_against(&mut client, &mut st);
        for e in &events {
            if let ConfigClientEvent::Answered {
                request, status, ..
            } = e
            {
                node.record(request, status);
            }
        }
        for request in [
            ConfigMessage::RelayGet,
            ConfigMessage::GattProxyGet,
            ConfigMessage::FriendGet,
            ConfigMessage::DefaultTtlGet,
            ConfigMessage::BeaconGet,
            ConfigMessage::NetworkTransmitGet,
            ConfigMessage::HeartbeatPublicationGet,
            ConfigMessage::HeartbeatSubscriptionGet,
        ] {
            ask(&mut node, &mut st, request);
        }
        let mut expected = CdbNode::from_node_state(&st, None);
        expected.config_complete = false;
        assert_eq!(node, expected);
        assert_eq!(
            node.app_keys,
            vec![CdbNodeKey {
                index: 1,
                updated: false
            }]
        );
        assert_eq!(node.elements[1].location, Hex16(0x0102));
        let sensor = &node.elements[1].models[0];
        assert_eq!(sensor.subscribe, vec![CdbAddress::Address(0xC001)]);
        assert_eq!(
            sensor.publish.as_ref().map(|p| p.address),
            Some(CdbAddress::Address(1))
        );
    }

    #[test]
    fn composition_keeps_what_is_known_of_each_model() {
        let mut st = two_elements();
        let mut node = bare(&st);
        let bind = ConfigMessage::ModelAppBind {
            element: Address(NODE),
            app_key_index: ki(1),
            model: ModelId::GENERIC_ONOFF_SERVER,
        };
        // Without the composition, the model is recorded on its element all the same.
        ask(
            &mut node,
            &mut st,
            ConfigMessage::AppKeyAdd {
                net_key_index: ki(0),
                app_key_index: ki(1),
                key: [9; 16],
            },
        );
        ask(&mut node, &mut st, bind);
        node.elements[0].name = Some("kitchen".into());
        assert_eq!(node.elements[0].models.len(), 1);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::CompositionDataGet { page: 0 },
        );
        let e = &node.elements[0];
        assert_eq!(e.name.as_deref(), Some("kitchen"));
        assert_eq!(e.models.len(), 4);
        assert_eq!(
            e.models[2].model_id,
            CdbModelId(ModelId::GENERIC_ONOFF_SERVER)
        );
        assert_eq!(e.models[2].bind, vec![1]);
        assert!(e.models[1].bind.is_empty());
        assert_eq!(node.cid, Some(Hex16(st.cid)));
        let f = node.features.unwrap();
        // Relay is supported (its state unknown yet); the rest are not.
        assert_eq!(
            (f.relay, f.proxy, f.friend, f.low_power),
            (None, Some(2), Some(2), Some(2))
        );
        // A relay state known survives the next composition.
        ask(&mut node, &mut st, ConfigMessage::RelayGet);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::CompositionDataGet { page: 0 },
        );
        assert_eq!(node.features.unwrap().relay, Some(FEATURE_DISABLED));
    }

    #[test]
    fn keys_bindings_subscriptions_and_publications_follow_the_statuses() {
        let mut st = two_elements();
        let mut node = bare(&st);
        let primary = Address(NODE);
        let onoff = ModelId::GENERIC_ONOFF_SERVER;
        ask(
            &mut node,
            &mut st,
            ConfigMessage::CompositionDataGet { page: 0 },
        );
        for app in [1, 2] {
            ask(
                &mut node,
                &mut st,
                ConfigMessage::AppKeyAdd {
                    net_key_index: ki(0),
                    app_key_index: ki(app),
                    key: [app as u8; 16],
                },
            );
            ask(
                &mut node,
                &mut st,
                ConfigMessage::ModelAppBind {
                    element: primary,
                    app_key_index: ki(app),
                    model: onoff,
                },
            );
        }
        let label = [0xAB; 16];
        let sub = |m: &CdbNode| m.elements[0].models[2].subscribe.clone();
        for request in [
            ConfigMessage::ModelSubscriptionAdd {
                element: primary,
                address: Address(0xC001),
                model: onoff,
            },
            ConfigMessage::ModelSubscriptionVirtualAddressAdd {
                element: primary,
                label,
                model: onoff,
            },
            ConfigMessage::ModelSubscriptionAdd {
                element: primary,
                address: Address(0xC002),
                model: onoff,
            },
        ] {
            ask(&mut node, &mut st, request);
        }
        assert_eq!(
            sub(&node),
            vec![
                CdbAddress::Address(0xC001),
                CdbAddress::Label(label),
                CdbAddress::Address(0xC002)
            ]
        );
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelSubscriptionDelete {
                element: primary,
                address: Address(0xC001),
                model: onoff,
            },
        );
        // The list as the node has it: the Label UUID is kept for its virtual address.
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelSubscriptionGet {
                element: primary,
                model: onoff,
            },
        );
        assert_eq!(
            sub(&node),
            vec![CdbAddress::Label(label), CdbAddress::Address(0xC002)]
        );
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelSubscriptionVirtualAddressDelete {
                element: primary,
                label,
                model: onoff,
            },
        );
        assert_eq!(sub(&node), vec![CdbAddress::Address(0xC002)]);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelSubscriptionOverwrite {
                element: primary,
                address: Address(0xC003),
                model: onoff,
            },
        );
        assert_eq!(sub(&node), vec![CdbAddress::Address(0xC003)]);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelSubscriptionDeleteAll {
                element: primary,
                model: onoff,
            },
        );
        assert_eq!(sub(&node), vec![]);

        // Publication to a virtual address, with key 2.
        let params = PubParams {
            app_key_index: ki(2),
            credential_flag: false,
            ttl: 5,
            period: PublishPeriod::from_byte(0x41),
            retransmit: Retransmit {
                count: 1,
                interval_steps: 3,
            },
        };
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelPublicationVirtualAddressSet {
                element: primary,
                label,
                publication: params,
                model: onoff,
            },
        );
        let publ = node.elements[0].models[2].publish.clone().unwrap();
        assert_eq!(publ.address, CdbAddress::Label(label));
        assert_eq!((publ.index, publ.ttl), (2, 5));
        assert_eq!(
            publ.period,
            CdbPeriod {
                number_of_steps: 1,
                resolution: 1000
            }
        );
        assert_eq!(
            publ.retransmit,
            CdbPubRetransmit {
                count: 1,
                interval: 200
            }
        );
        // Read back, it keeps its label.
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelPublicationGet {
                element: primary,
                model: onoff,
            },
        );
        assert_eq!(node.elements[0].models[2].publish, Some(publ));
        // Deleting key 2 unbinds it and stops the publication that used it.
        ask(
            &mut node,
            &mut st,
            ConfigMessage::AppKeyDelete {
                net_key_index: ki(0),
                app_key_index: ki(2),
            },
        );
        assert_eq!(
            node.app_keys,
            vec![CdbNodeKey {
                index: 1,
                updated: false
            }]
        );
        assert_eq!(node.elements[0].models[2].bind, vec![1]);
        assert_eq!(node.elements[0].models[2].publish, None);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelPublicationSet {
                element: primary,
                address: Address(0x0001),
                publication: PubParams {
                    app_key_index: ki(1),
                    ..params
                },
                model: onoff,
            },
        );
        assert!(node.elements[0].models[2].publish.is_some());
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelPublicationSet {
                element: primary,
                address: Address(0),
                publication: params,
                model: onoff,
            },
        );
        assert_eq!(node.elements[0].models[2].publish, None);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelAppUnbind {
                element: primary,
                app_key_index: ki(1),
                model: onoff,
            },
        );
        assert!(node.elements[0].models[2].bind.is_empty());
        // Node state and record agree.
        let mut expected = CdbNode::from_node_state(&st, None);
        expected.elements[0].models[2].subscribe.clear();
        assert_eq!(node.elements, expected.elements);
        assert_eq!(node.app_keys, expected.app_keys);
    }

    #[test]
    fn features_ttl_beacon_transmit_and_heartbeats() {
        let mut st = two_elements();
        let mut node = bare(&st);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::RelaySet {
                state: FeatureState::Enabled,
                retransmit: Retransmit {
                    count: 3,
                    interval_steps: 2,
                },
            },
        );
        assert_eq!(node.features.unwrap().relay, Some(FEATURE_ENABLED));
        assert_eq!(
            node.relay_retransmit,
            Some(CdbTransmit {
                count: 4,
                interval: 30
            })
        );
        ask(&mut node, &mut st, ConfigMessage::DefaultTtlSet { ttl: 9 });
        ask(
            &mut node,
            &mut st,
            ConfigMessage::BeaconSet { enabled: false },
        );
        ask(
            &mut node,
            &mut st,
            ConfigMessage::NetworkTransmitSet {
                transmit: Retransmit {
                    count: 1,
                    interval_steps: 0,
                },
            },
        );
        assert_eq!(node.default_ttl, Some(9));
        assert_eq!(node.secure_network_beacon, Some(false));
        assert_eq!(
            node.network_transmit,
            Some(CdbTransmit {
                count: 2,
                interval: 10
            })
        );
        ask(
            &mut node,
            &mut st,
            ConfigMessage::HeartbeatPublicationSet(
                crate::ble::models::config::HeartbeatPublication {
                    destination: Address(0xC005),
                    count_log: 0xFF,
                    period_log: 4,
                    ttl: 7,
                    features: crate::ble::wire::control::Features(1),
                    net_key_index: ki(0),
                },
            ),
        );
        let hb = node.heartbeat_pub.clone().unwrap();
        assert_eq!((hb.address, hb.period, hb.ttl), (Hex16(0xC005), 8, 7));
        assert_eq!(hb.features, vec!["relay".to_string()]);
        ask(
            &mut node,
            &mut st,
            ConfigMessage::HeartbeatSubscriptionSet {
                source: Address(0x0005),
                destination: Address(NODE),
                period_log: 3,
            },
        );
        assert_eq!(
            node.heartbeat_sub,
            Some(CdbHeartbeatSub {
                source: Hex16(5),
                destination: Hex16(NODE)
            })
        );
        let expected = CdbNode::from_node_state(&st, None);
        assert_eq!(node.heartbeat_pub, expected.heartbeat_pub);
        assert_eq!(node.heartbeat_sub, expected.heartbeat_sub);
    }

    #[test]
    fn refusals_and_mismatches_change_nothing() {
        let mut st = two_elements();
        let mut node = bare(&st);
        let before = node.clone();
        let bind = ConfigMessage::ModelAppBind {
            element: Address(NODE),
            app_key_index: ki(7),
            model: ModelId::GENERIC_ONOFF_SERVER,
        };
        // Key 7 is not on the node: Invalid AppKey Index.
        let status = ask(&mut node, &mut st, bind.clone());
        assert_eq!(status.status(), Some(StatusCode::InvalidAppKeyIndex));
        assert_eq!(node, before);
        // A successful status that does not answer the request.
        let ok = ConfigMessage::ModelAppStatus {
            status: StatusCode::Success,
            element: Address(NODE),
            app_key_index: ki(7),
            model: ModelId::GENERIC_ONOFF_SERVER,
        };
        node.record(&ConfigMessage::RelayGet, &ok);
        node.record(&ok, &ok);
        // An element outside the node.
        node.record(
            &bind,
            &ConfigMessage::ModelAppStatus {
                status: StatusCode::Success,
                element: Address(NODE - 1),
                app_key_index: ki(7),
                model: ModelId::GENERIC_ONOFF_SERVER,
            },
        );
        node.record(
            &bind,
            &ConfigMessage::ModelAppStatus {
                status: StatusCode::Success,
                element: Address(0xC000),
                app_key_index: ki(7),
                model: ModelId::GENERIC_ONOFF_SERVER,
            },
        );
        assert_eq!(node, before);
    }

    proptest! {
        #[test]
        fn any_request_and_status_never_panic(request in arb_config(), status in arb_config()) {
            let mut node = bare(&two_elements());
            node.record(&request, &status);
        }
    }
}
