//! What every model shares, and the models of the Mesh Model specification.
//!
//! Shared by every model, foundation or not: model identifiers ([`ModelId`], MshPRT §4.2.2.1,
//! §4.3.2), global key indexes ([`KeyIndex`], MshPRT §4.3.1.1), the step resolution of periods
//! and transition times ([`StepResolution`]), the reading and writing of message parameters
//! (MshPRT §3.7.3), and [`ModelMessage`]: any message of a model weft knows, decoded by the
//! codec that owns its opcode.
//!
//! The models of Mesh Model 1.1, each with its messages and its server:
//!
//! | module | MshMDL |
//! |--------|--------|
//! | [`generic`] | §3 Generic OnOff, Generic Level, Generic Default Transition Time |
//! | [`sensor`] | §4 Sensor |
//!
//! The foundation models (Configuration, Health, Composition Data) are in
//! [`crate::ble::foundation`]. Every message enum has the same shape: `parse(opcode, params)`,
//! `opcode()`, `emit_params()` and `to_access()`.
//!
//! Multi-octet fields of the access layer and the foundation models are little-endian
//! (MshPRT §3.1.1.2). Reserved-for-future-use *bits* are ignored on receipt and sent as 0;
//! *values* the specifications prohibit are rejected with [`Error::Invalid`]. Emitting writes
//! the fields as given (masked to their widths); a value built outside its documented range
//! does not survive a round trip.

use core::fmt;

use crate::ble::wire::access::Opcode;
use crate::ble::wire::{Error, Result};

use crate::ble::foundation::config::ConfigMessage;
use crate::ble::foundation::health::HealthMessage;

pub mod generic;
pub mod sensor;

use generic::GenericMessage;
use sensor::SensorMessage;

// ---------------------------------------------------------------------------------------------
// Shared field types
// ---------------------------------------------------------------------------------------------

/// A 12-bit global key index: a NetKey Index or an AppKey Index (MshPRT §4.3.1.1), 0..=0xFFF.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u16", into = "u16")]
pub struct KeyIndex(u16);

impl TryFrom<u16> for KeyIndex {
    type Error = String;
    fn try_from(v: u16) -> core::result::Result<Self, String> {
        KeyIndex::new(v).ok_or_else(|| format!("key index {v:#x} exceeds 12 bits"))
    }
}

impl From<KeyIndex> for u16 {
    fn from(k: KeyIndex) -> u16 {
        k.0
    }
}

impl KeyIndex {
    /// The largest key index (MshPRT §4.3.1.1: 12 bits).
    pub const MAX: u16 = 0x0FFF;

    /// A key index, `None` above 0xFFF.
    pub const fn new(v: u16) -> Option<Self> {
        if v <= Self::MAX {
            Some(KeyIndex(v))
        } else {
            None
        }
    }

    /// The low 12 bits of `v`: how a 2-octet index field is read (its top 4 bits are RFU).
    pub const fn from_bits(v: u16) -> Self {
        KeyIndex(v & Self::MAX)
    }

    /// The index value.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Debug for KeyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyIndex({:#05x})", self.0)
    }
}

impl fmt::Display for KeyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#05x}", self.0)
    }
}

/// Packs a pair of 12-bit key indexes into 3 octets (MshPRT §4.3.1.1): the first index in the
/// low 12 bits of the little-endian 24-bit value, the second in the high 12 bits.
pub fn pack_key_index_pair(first: KeyIndex, second: KeyIndex) -> [u8; 3] {
    let v = u32::from(first.0) | (u32::from(second.0) << 12);
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// Unpacks a pair of key indexes from 3 octets (MshPRT §4.3.1.1).
pub fn unpack_key_index_pair(b: [u8; 3]) -> (KeyIndex, KeyIndex) {
    let v = u32::from_le_bytes([b[0], b[1], b[2], 0]);
    (
        KeyIndex::from_bits((v & 0xFFF) as u16),
        KeyIndex::from_bits((v >> 12) as u16),
    )
}

/// Packs a list of key indexes (MshPRT §4.3.1.1): pairs in 3 octets each; an odd last index in
/// 2 octets (12 bits and 4 zero bits).
pub fn pack_key_indexes(indexes: &[KeyIndex]) -> Vec<u8> {
    let mut out = Vec::with_capacity(indexes.len() / 2 * 3 + 2);
    let mut chunks = indexes.chunks_exact(2);
    for pair in &mut chunks {
        out.extend_from_slice(&pack_key_index_pair(pair[0], pair[1]));
    }
    if let [last] = chunks.remainder() {
        out.extend_from_slice(&last.0.to_le_bytes());
    }
    out
}

/// Unpacks a list of key indexes (MshPRT §4.3.1.1). A length of 3n or 3n + 2 octets is valid;
/// 3n + 1 octets cannot be a packed list.
pub fn unpack_key_indexes(bytes: &[u8]) -> Result<Vec<KeyIndex>> {
    if bytes.len() % 3 == 1 {
        return Err(Error::Invalid {
            field: "key index list length",
            value: bytes.len() as u32,
        });
    }
    let mut out = Vec::with_capacity(bytes.len() / 3 * 2 + 1);
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let (a, b) = unpack_key_index_pair([c[0], c[1], c[2]]);
        out.push(a);
        out.push(b);
    }
    if let [lo, hi] = chunks.remainder() {
        out.push(KeyIndex::from_bits(u16::from_le_bytes([*lo, *hi])));
    }
    Ok(out)
}

/// A model identifier (MshPRT §4.2.2.1, §4.3.2): a 16-bit Bluetooth SIG model ID, or a vendor
/// model (company identifier, then the 16-bit vendor-assigned model ID), each little-endian.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ModelId {
    /// A Bluetooth SIG model (2 octets on air).
    Sig(u16),
    /// A vendor model (4 octets on air: company ID, then model ID).
    Vendor {
        /// The Bluetooth SIG company identifier.
        company_id: u16,
        /// The vendor-assigned model identifier.
        model_id: u16,
    },
}

/// SIG model identifiers and names (Bluetooth Assigned Numbers §4.3), ascending.
const SIG_MODEL_NAMES: &[(u16, &str)] = &[
    (0x0000, "Configuration Server"),
    (0x0001, "Configuration Client"),
    (0x0002, "Health Server"),
    (0x0003, "Health Client"),
    (0x0004, "Remote Provisioning Server"),
    (0x0005, "Remote Provisioning Client"),
    (0x0006, "Directed Forwarding Configuration Server"),
    (0x0007, "Directed Forwarding Configuration Client"),
    (0x0008, "Bridge Configuration Server"),
    (0x0009, "Bridge Configuration Client"),
    (0x000A, "Mesh Private Beacon Server"),
    (0x000B, "Mesh Private Beacon Client"),
    (0x000C, "On-Demand Private Proxy Server"),
    (0x000D, "On-Demand Private Proxy Client"),
    (0x000E, "SAR Configuration Server"),
    (0x000F, "SAR Configuration Client"),
    (0x0010, "Opcodes Aggregator Server"),
    (0x0011, "Opcodes Aggregator Client"),
    (0x0012, "Large Composition Data Server"),
    (0x0013, "Large Composition Data Client"),
    (0x0014, "Solicitation PDU RPL Configuration Server"),
    (0x0015, "Solicitation PDU RPL Configuration Client"),
    (0x1000, "Generic OnOff Server"),
    (0x1001, "Generic OnOff Client"),
    (0x1002, "Generic Level Server"),
    (0x1003, "Generic Level Client"),
    (0x1004, "Generic Default Transition Time Server"),
    (0x1005, "Generic Default Transition Time Client"),
    (0x1006, "Generic Power OnOff Server"),
    (0x1007, "Generic Power OnOff Setup Server"),
    (0x1008, "Generic Power OnOff Client"),
    (0x1009, "Generic Power Level Server"),
    (0x100A, "Generic Power Level Setup Server"),
    (0x100B, "Generic Power Level Client"),
    (0x100C, "Generic Battery Server"),
    (0x100D, "Generic Battery Client"),
    (0x100E, "Generic Location Server"),
    (0x100F, "Generic Location Setup Server"),
    (0x1010, "Generic Location Client"),
    (0x1011, "Generic Admin Property Server"),
    (0x1012, "Generic Manufacturer Property Server"),
    (0x1013, "Generic User Property Server"),
    (0x1014, "Generic Client Property Server"),
    (0x1015, "Generic Property Client"),
    (0x1100, "Sensor Server"),
    (0x1101, "Sensor Setup Server"),
    (0x1102, "Sensor Client"),
    (0x1200, "Time Server"),
    (0x1201, "Time Setup Server"),
    (0x1202, "Time Client"),
    (0x1203, "Scene Server"),
    (0x1204, "Scene Setup Server"),
    (0x1205, "Scene Client"),
    (0x1206, "Scheduler Server"),
    (0x1207, "Scheduler Setup Server"),
    (0x1208, "Scheduler Client"),
    (0x1300, "Light Lightness Server"),
    (0x1301, "Light Lightness Setup Server"),
    (0x1302, "Light Lightness Client"),
    (0x1303, "Light CTL Server"),
    (0x1304, "Light CTL Setup Server"),
    (0x1305, "Light CTL Client"),
    (0x1306, "Light CTL Temperature Server"),
    (0x1307, "Light HSL Server"),
    (0x1308, "Light HSL Setup Server"),
    (0x1309, "Light HSL Client"),
    (0x130A, "Light HSL Hue Server"),
    (0x130B, "Light HSL Saturation Server"),
    (0x130C, "Light xyL Server"),
    (0x130D, "Light xyL Setup Server"),
    (0x130E, "Light xyL Client"),
    (0x130F, "Light LC Server"),
    (0x1310, "Light LC Setup Server"),
    (0x1311, "Light LC Client"),
    (0x1400, "BLOB Transfer Server"),
    (0x1401, "BLOB Transfer Client"),
    (0x1402, "Firmware Update Server"),
    (0x1403, "Firmware Update Client"),
    (0x1404, "Firmware Distribution Server"),
    (0x1405, "Firmware Distribution Client"),
];

#[allow(clippy::len_without_is_empty)]
impl ModelId {
    /// Configuration Server (MshPRT §4.4.1).
    pub const CONFIG_SERVER: ModelId = ModelId::Sig(0x0000);
    /// Configuration Client (MshPRT §4.4.2).
    pub const CONFIG_CLIENT: ModelId = ModelId::Sig(0x0001);
    /// Health Server (MshPRT §4.4.3).
    pub const HEALTH_SERVER: ModelId = ModelId::Sig(0x0002);
    /// Health Client (MshPRT §4.4.4).
    pub const HEALTH_CLIENT: ModelId = ModelId::Sig(0x0003);
    /// Generic OnOff Server (MshMDL §7.3).
    pub const GENERIC_ONOFF_SERVER: ModelId = ModelId::Sig(0x1000);
    /// Generic OnOff Client (MshMDL §7.3).
    pub const GENERIC_ONOFF_CLIENT: ModelId = ModelId::Sig(0x1001);
    /// Generic Level Server (MshMDL §7.3).
    pub const GENERIC_LEVEL_SERVER: ModelId = ModelId::Sig(0x1002);
    /// Generic Level Client (MshMDL §7.3).
    pub const GENERIC_LEVEL_CLIENT: ModelId = ModelId::Sig(0x1003);
    /// Generic Default Transition Time Server (MshMDL §7.3).
    pub const GENERIC_DEFAULT_TRANSITION_TIME_SERVER: ModelId = ModelId::Sig(0x1004);
    /// Generic Default Transition Time Client (MshMDL §7.3).
    pub const GENERIC_DEFAULT_TRANSITION_TIME_CLIENT: ModelId = ModelId::Sig(0x1005);
    /// Sensor Server (MshMDL §7.3).
    pub const SENSOR_SERVER: ModelId = ModelId::Sig(0x1100);
    /// Sensor Setup Server (MshMDL §7.3).
    pub const SENSOR_SETUP_SERVER: ModelId = ModelId::Sig(0x1101);
    /// Sensor Client (MshMDL §7.3).
    pub const SENSOR_CLIENT: ModelId = ModelId::Sig(0x1102);

    /// The SIG model's name as the Bluetooth Assigned Numbers list it (Assigned Numbers §4.3
    /// "Mesh Model IDs": the foundation models of MshPRT §4.4, the models of MshMDL §7.3, and
    /// the BLOB Transfer and Device Firmware Update models); `None` for vendor models and IDs
    /// the list does not name.
    pub fn name(self) -> Option<&'static str> {
        let ModelId::Sig(id) = self else {
            return None;
        };
        SIG_MODEL_NAMES
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|k| SIG_MODEL_NAMES[k].1)
    }

    /// The number of octets on air: 2 (SIG) or 4 (vendor).
    pub const fn len(self) -> usize {
        match self {
            ModelId::Sig(_) => 2,
            ModelId::Vendor { .. } => 4,
        }
    }

    /// Whether this is a vendor model.
    pub const fn is_vendor(self) -> bool {
        matches!(self, ModelId::Vendor { .. })
    }

    /// Reads a model identifier that occupies all of `bytes`: 2 octets are a SIG model, 4 a
    /// vendor model (the length tells them apart, MshPRT §4.3.2).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match *bytes {
            [a, b] => Ok(ModelId::Sig(u16::from_le_bytes([a, b]))),
            [a, b, c, d] => Ok(ModelId::Vendor {
                company_id: u16::from_le_bytes([a, b]),
                model_id: u16::from_le_bytes([c, d]),
            }),
            _ => Err(Error::Invalid {
                field: "model identifier length",
                value: bytes.len() as u32,
            }),
        }
    }

    /// Appends the on-air octets.
    pub fn write(self, out: &mut Vec<u8>) {
        match self {
            ModelId::Sig(id) => out.extend_from_slice(&id.to_le_bytes()),
            ModelId::Vendor {
                company_id,
                model_id,
            } => {
                out.extend_from_slice(&company_id.to_le_bytes());
                out.extend_from_slice(&model_id.to_le_bytes());
            }
        }
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelId::Sig(id) => write!(f, "{id:04x}"),
            ModelId::Vendor {
                company_id,
                model_id,
            } => write!(f, "{company_id:04x}:{model_id:04x}"),
        }
    }
}

/// The 2-bit step resolution shared by the publish period (MshPRT §4.3.2.16) and the
/// transition time (MshMDL §3.1.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StepResolution {
    /// 0b00: 100 milliseconds.
    Ms100 = 0,
    /// 0b01: 1 second.
    S1 = 1,
    /// 0b10: 10 seconds.
    S10 = 2,
    /// 0b11: 10 minutes.
    Min10 = 3,
}

impl StepResolution {
    /// All four resolutions, finest first.
    pub const ALL: [StepResolution; 4] = [
        StepResolution::Ms100,
        StepResolution::S1,
        StepResolution::S10,
        StepResolution::Min10,
    ];

    /// From the 2-bit field (higher bits ignored).
    pub const fn from_bits(v: u8) -> Self {
        match v & 0b11 {
            0 => StepResolution::Ms100,
            1 => StepResolution::S1,
            2 => StepResolution::S10,
            _ => StepResolution::Min10,
        }
    }

    /// The length of one step in milliseconds.
    pub const fn millis(self) -> u32 {
        match self {
            StepResolution::Ms100 => 100,
            StepResolution::S1 => 1_000,
            StepResolution::S10 => 10_000,
            StepResolution::Min10 => 600_000,
        }
    }
}

/// A duration in milliseconds as a short human string: `100ms`, `2.5s`, `20min`.
pub(crate) fn human_millis(ms: u32) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 || !ms.is_multiple_of(60_000) {
        if ms.is_multiple_of(1_000) {
            format!("{}s", ms / 1_000)
        } else {
            format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100)
        }
    } else {
        format!("{}min", ms / 60_000)
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter reading and writing
// ---------------------------------------------------------------------------------------------

/// A cursor over message parameters that never panics: every read checks the length.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.saturating_add(n);
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Truncated {
                need: end,
                got: self.buf.len(),
            }),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u24(&mut self) -> Result<u32> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// All octets not yet read.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        s
    }

    /// The rest as a model identifier of 2 or 4 octets.
    pub(crate) fn model_id(&mut self) -> Result<ModelId> {
        let rest = self.rest();
        if rest.len() < 2 {
            return Err(Error::Truncated {
                need: self.buf.len() - rest.len() + 2,
                got: self.buf.len(),
            });
        }
        ModelId::parse(rest)
    }

    /// Fails unless every octet was read.
    pub(crate) fn end(self) -> Result<()> {
        if self.pos < self.buf.len() {
            Err(Error::TooLong {
                max: self.pos,
                got: self.buf.len(),
            })
        } else {
            Ok(())
        }
    }
}

pub(crate) fn invalid(field: &'static str, value: impl Into<u32>) -> Error {
    Error::Invalid {
        field,
        value: value.into(),
    }
}

/// The error every codec returns for an opcode that is not one of its messages.
pub(crate) fn unknown_opcode(op: Opcode) -> Error {
    Error::Invalid {
        field: UNKNOWN_OPCODE,
        value: op.to_u32(),
    }
}

const UNKNOWN_OPCODE: &str = "opcode";

fn is_unknown_opcode(e: &Error) -> bool {
    matches!(e, Error::Invalid { field, .. } if *field == UNKNOWN_OPCODE)
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes()[..3]);
}

// ---------------------------------------------------------------------------------------------
// Any model message
// ---------------------------------------------------------------------------------------------

/// A decoded message of one of the models this module knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelMessage {
    /// Configuration Server/Client (MshPRT §4.3.2).
    Config(ConfigMessage),
    /// Health Server/Client (MshPRT §4.3.3).
    Health(HealthMessage),
    /// Generic OnOff, Level, Default Transition Time (MshMDL §3.2).
    Generic(GenericMessage),
    /// Sensor (MshMDL §4.2).
    Sensor(SensorMessage),
}

impl ModelMessage {
    /// Parses the parameters of the message `opcode` with the codec that owns the opcode.
    /// An opcode no codec knows gives `Error::Invalid { field: "opcode", .. }`.
    pub fn parse(opcode: Opcode, params: &[u8]) -> Result<Self> {
        match ConfigMessage::parse(opcode, params) {
            Err(e) if is_unknown_opcode(&e) => {}
            r => return r.map(ModelMessage::Config),
        }
        match HealthMessage::parse(opcode, params) {
            Err(e) if is_unknown_opcode(&e) => {}
            r => return r.map(ModelMessage::Health),
        }
        match GenericMessage::parse(opcode, params) {
            Err(e) if is_unknown_opcode(&e) => {}
            r => return r.map(ModelMessage::Generic),
        }
        SensorMessage::parse(opcode, params).map(ModelMessage::Sensor)
    }

    /// The opcode of the message.
    pub fn opcode(&self) -> Opcode {
        match self {
            ModelMessage::Config(m) => m.opcode(),
            ModelMessage::Health(m) => m.opcode(),
            ModelMessage::Generic(m) => m.opcode(),
            ModelMessage::Sensor(m) => m.opcode(),
        }
    }

    /// The parameters on air.
    pub fn emit_params(&self) -> Vec<u8> {
        match self {
            ModelMessage::Config(m) => m.emit_params(),
            ModelMessage::Health(m) => m.emit_params(),
            ModelMessage::Generic(m) => m.emit_params(),
            ModelMessage::Sensor(m) => m.emit_params(),
        }
    }

    /// The access message: opcode and parameters.
    pub fn to_access(&self) -> crate::ble::wire::access::AccessMessage {
        crate::ble::wire::access::AccessMessage::new(self.opcode(), self.emit_params())
    }

    /// A one-line human summary, e.g. `OnOff Set on tid 3 transition 100ms`.
    pub fn describe(&self) -> String {
        match self {
            ModelMessage::Config(m) => m.describe(),
            ModelMessage::Health(m) => m.describe(),
            ModelMessage::Generic(m) => m.describe(),
            ModelMessage::Sensor(m) => m.describe(),
        }
    }
}

impl fmt::Display for ModelMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Decodes the parameters of a message of a known model; `None` for unknown opcodes and
/// malformed parameters (use [`ModelMessage::parse`] for the reason).
pub fn decode(opcode: Opcode, params: &[u8]) -> Option<ModelMessage> {
    ModelMessage::parse(opcode, params).ok()
}

/// Parses an opcode (1-3 octets) and the rest as the parameters of a model message; whatever
/// parses must re-emit parameters that parse to the same value (a cargo-fuzz target).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let Ok((op, n)) = Opcode::parse(data) else {
        return;
    };
    let params = data.get(n..).unwrap_or_default();
    if let Ok(m) = ModelMessage::parse(op, params) {
        assert_eq!(m.opcode(), op);
        let bytes = m.emit_params();
        assert_eq!(ModelMessage::parse(op, &bytes).as_ref(), Ok(&m));
        let _ = m.describe();
        assert_eq!(m.to_access().parameters, bytes);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn sig_model_names_are_sorted_unique_and_name_the_known_models() {
        assert!(SIG_MODEL_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(ModelId::CONFIG_SERVER.name(), Some("Configuration Server"));
        assert_eq!(ModelId::HEALTH_CLIENT.name(), Some("Health Client"));
        assert_eq!(
            ModelId::GENERIC_LEVEL_CLIENT.name(),
            Some("Generic Level Client")
        );
        assert_eq!(
            ModelId::SENSOR_SETUP_SERVER.name(),
            Some("Sensor Setup Server")
        );
        assert_eq!(ModelId::Sig(0x1310).name(), Some("Light LC Setup Server"));
        assert_eq!(ModelId::Sig(0x0016).name(), None);
        let vendor = ModelId::Vendor {
            company_id: 0x05f1,
            model_id: 0,
        };
        assert_eq!(vendor.name(), None);
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_index_packing() {
        // MshPRT §8.3.6 sample: NetKeyIndex 0x456 and AppKeyIndex 0x123 pack to 56 34 12.
        let (a, b) = (KeyIndex::new(0x456).unwrap(), KeyIndex::new(0x123).unwrap());
        assert_eq!(pack_key_index_pair(a, b), [0x56, 0x34, 0x12]);
        assert_eq!(unpack_key_index_pair([0x56, 0x34, 0x12]), (a, b));
        // An odd list: the last index in 2 octets.
        let c = KeyIndex::new(0xABC).unwrap();
        assert_eq!(
            pack_key_indexes(&[a, b, c]),
            vec![0x56, 0x34, 0x12, 0xBC, 0x0A]
        );
        assert_eq!(
            unpack_key_indexes(&[0x56, 0x34, 0x12, 0xBC, 0x0A]).unwrap(),
            vec![a, b, c]
        );
        assert_eq!(pack_key_indexes(&[]), Vec::<u8>::new());
        assert_eq!(unpack_key_indexes(&[]).unwrap(), vec![]);
        assert!(unpack_key_indexes(&[1]).is_err());
        assert!(unpack_key_indexes(&[1, 2, 3, 4]).is_err());
        // The RFU top bits of a 2-octet index are ignored.
        assert_eq!(
            unpack_key_indexes(&[0xff, 0xff]).unwrap(),
            vec![KeyIndex(0xfff)]
        );
        assert_eq!(KeyIndex::new(0x1000), None);
    }

    #[test]
    fn model_ids() {
        assert_eq!(ModelId::parse(&[0x00, 0x10]), Ok(ModelId::Sig(0x1000)));
        assert_eq!(
            ModelId::parse(&[0x3f, 0x00, 0x2a, 0x00]),
            Ok(ModelId::Vendor {
                company_id: 0x003f,
                model_id: 0x002a
            })
        );
        assert!(ModelId::parse(&[0; 3]).is_err());
        assert!(ModelId::parse(&[]).is_err());
        let mut v = vec![];
        ModelId::Vendor {
            company_id: 0x003f,
            model_id: 0x002a,
        }
        .write(&mut v);
        assert_eq!(v, [0x3f, 0x00, 0x2a, 0x00]);
    }

    #[test]
    fn reader_errors() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(r.u16(), Err(Error::Truncated { need: 4, got: 3 }));
        let mut r = Reader::new(&[1, 2, 3]);
        r.u8().unwrap();
        assert_eq!(r.end(), Err(Error::TooLong { max: 1, got: 3 }));
    }

    #[test]
    fn decode_dispatch() {
        // Config AppKey Status (MshPRT §8.3.16).
        let m = decode(Opcode::Two(0x8003), &[0x00, 0x56, 0x34, 0x12]).unwrap();
        assert!(matches!(m, ModelMessage::Config(_)));
        assert_eq!(
            m.describe(),
            "Config AppKey Status Success net 0x456 app 0x123"
        );
        // Health Current Status (MshPRT §8.3.18).
        let m = decode(Opcode::One(0x04), &[0x00, 0x00, 0x00]).unwrap();
        assert!(matches!(m, ModelMessage::Health(_)));
        // Generic OnOff Set.
        let m = decode(Opcode::Two(0x8202), &[0x01, 0x03, 0x01, 0x00]).unwrap();
        assert_eq!(m.describe(), "OnOff Set on tid 3 transition 100ms");
        // Sensor Get.
        let m = decode(Opcode::Two(0x8231), &[]).unwrap();
        assert!(matches!(m, ModelMessage::Sensor(_)));
        // Unknown opcodes and malformed parameters.
        assert_eq!(decode(Opcode::Two(0x8300), &[]), None);
        assert_eq!(
            ModelMessage::parse(Opcode::Two(0x8300), &[]),
            Err(Error::Invalid {
                field: "opcode",
                value: 0x8300
            })
        );
        assert_eq!(decode(Opcode::Two(0x8202), &[0x02, 0x03]), None);
        assert_eq!(
            ModelMessage::parse(Opcode::Two(0x8202), &[0x02, 0x03]),
            Err(Error::Invalid {
                field: "OnOff",
                value: 2
            })
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_millis(0), "0ms");
        assert_eq!(human_millis(100), "100ms");
        assert_eq!(human_millis(2_500), "2.5s");
        assert_eq!(human_millis(60_000), "1min");
        assert_eq!(human_millis(90_000), "90s");
        assert_eq!(human_millis(1_200_000), "20min");
    }

    proptest! {
        #[test]
        fn key_index_lists_round_trip(v in proptest::collection::vec(0u16..=0xfff, 0..20)) {
            let v: Vec<KeyIndex> = v.into_iter().map(KeyIndex).collect();
            prop_assert_eq!(unpack_key_indexes(&pack_key_indexes(&v)).unwrap(), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            fuzz_parse(&data);
        }

        #[test]
        fn known_opcodes_with_arbitrary_params(
            op in prop_oneof![
                (0u8..=0x06).prop_map(Opcode::One),
                (0x51u8..=0x5b).prop_map(Opcode::One),
                (0x8000u16..=0x804e).prop_map(Opcode::Two),
                (0x8201u16..=0x8210).prop_map(Opcode::Two),
                (0x8230u16..=0x8236).prop_map(Opcode::Two),
            ],
            params in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut data = op.to_bytes();
            data.extend_from_slice(&params);
            fuzz_parse(&data);
        }
    }
}
