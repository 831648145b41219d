//! Sensor messages (Mesh Model 1.1 §4.2), the Sensor Descriptor (MshMDL §4.1.1) and the
//! Marshalled Sensor Data of Sensor Status (MshMDL §4.2.14). The values of a few properties
//! of the Mesh Device Properties specification are in `properties.rs`.
//!
//! Column, Series, Cadence and Setting values depend on the format of the property and are
//! kept as raw octets.

use crate::ble::wire::access::{AccessMessage, Opcode};
use crate::ble::wire::Result;

use crate::ble::models::{invalid, put_u16, put_u24, unknown_opcode, Reader};

use super::properties::{property_label, SensorValue};

/// Sensor Descriptor Get (MshMDL §4.2.1).
pub const DESCRIPTOR_GET: Opcode = Opcode::Two(0x8230);
/// Sensor Descriptor Status (MshMDL §4.2.2).
pub const DESCRIPTOR_STATUS: Opcode = Opcode::One(0x51);
/// Sensor Get (MshMDL §4.2.13).
pub const GET: Opcode = Opcode::Two(0x8231);
/// Sensor Status (MshMDL §4.2.14).
pub const STATUS: Opcode = Opcode::One(0x52);
/// Sensor Column Get (MshMDL §4.2.15).
pub const COLUMN_GET: Opcode = Opcode::Two(0x8232);
/// Sensor Column Status (MshMDL §4.2.16).
pub const COLUMN_STATUS: Opcode = Opcode::One(0x53);
/// Sensor Series Get (MshMDL §4.2.17).
pub const SERIES_GET: Opcode = Opcode::Two(0x8233);
/// Sensor Series Status (MshMDL §4.2.18).
pub const SERIES_STATUS: Opcode = Opcode::One(0x54);
/// Sensor Cadence Get (MshMDL §4.2.3).
pub const CADENCE_GET: Opcode = Opcode::Two(0x8234);
/// Sensor Cadence Set (MshMDL §4.2.4).
pub const CADENCE_SET: Opcode = Opcode::One(0x55);
/// Sensor Cadence Set Unacknowledged (MshMDL §4.2.5).
pub const CADENCE_SET_UNACKNOWLEDGED: Opcode = Opcode::One(0x56);
/// Sensor Cadence Status (MshMDL §4.2.6).
pub const CADENCE_STATUS: Opcode = Opcode::One(0x57);
/// Sensor Settings Get (MshMDL §4.2.7).
pub const SETTINGS_GET: Opcode = Opcode::Two(0x8235);
/// Sensor Settings Status (MshMDL §4.2.8).
pub const SETTINGS_STATUS: Opcode = Opcode::One(0x58);
/// Sensor Setting Get (MshMDL §4.2.9).
pub const SETTING_GET: Opcode = Opcode::Two(0x8236);
/// Sensor Setting Set (MshMDL §4.2.10).
pub const SETTING_SET: Opcode = Opcode::One(0x59);
/// Sensor Setting Set Unacknowledged (MshMDL §4.2.11).
pub const SETTING_SET_UNACKNOWLEDGED: Opcode = Opcode::One(0x5A);
/// Sensor Setting Status (MshMDL §4.2.12).
pub const SETTING_STATUS: Opcode = Opcode::One(0x5B);

/// Reads a Sensor Property ID; 0x0000 is prohibited (MshMDL §4.1.1.1).
fn read_property_id(r: &mut Reader<'_>) -> Result<u16> {
    match r.u16()? {
        0 => Err(invalid("Sensor Property ID", 0u32)),
        v => Ok(v),
    }
}

/// Reads an optional Property ID that ends the message.
fn read_optional_property_id(r: &mut Reader<'_>) -> Result<Option<u16>> {
    if r.is_empty() {
        Ok(None)
    } else {
        read_property_id(r).map(Some)
    }
}

// ---------------------------------------------------------------------------------------------
// Sensor Descriptor (MshMDL §4.1.1)
// ---------------------------------------------------------------------------------------------

/// A Sensor Descriptor (MshMDL §4.1.1): 8 octets, `Property ID (16) || Positive Tolerance (12)
/// || Negative Tolerance (12) || Sampling Function (8) || Measurement Period (8) ||
/// Update Interval (8)`, packed little-endian (the positive tolerance in the low 12 bits of the
/// 24-bit tolerance field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensorDescriptor {
    /// Sensor Property ID (non-zero).
    pub property_id: u16,
    /// Positive tolerance, 12 bits (0: unspecified; MshMDL §4.1.1.2).
    pub positive_tolerance: u16,
    /// Negative tolerance, 12 bits (0: unspecified; MshMDL §4.1.1.3).
    pub negative_tolerance: u16,
    /// Sampling function (MshMDL §4.1.1.4): 0 unspecified, 1 instantaneous, 2 arithmetic mean,
    /// 3 RMS, 4 maximum, 5 minimum, 6 accumulated, 7 count; 8..=0xFF RFU.
    pub sampling_function: u8,
    /// Measurement period: 0 not applicable, else 1.1^(n - 64) seconds (MshMDL §4.1.1.5).
    pub measurement_period: u8,
    /// Update interval: 0 not applicable, else 1.1^(n - 64) seconds (MshMDL §4.1.1.6).
    pub update_interval: u8,
}

impl SensorDescriptor {
    /// The size on air.
    pub const LEN: usize = 8;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let property_id = read_property_id(r)?;
        let tol = r.u24()?;
        Ok(SensorDescriptor {
            property_id,
            positive_tolerance: (tol & 0xFFF) as u16,
            negative_tolerance: (tol >> 12) as u16,
            sampling_function: r.u8()?,
            measurement_period: r.u8()?,
            update_interval: r.u8()?,
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.property_id);
        put_u24(
            out,
            u32::from(self.positive_tolerance & 0xFFF)
                | (u32::from(self.negative_tolerance & 0xFFF) << 12),
        );
        out.push(self.sampling_function);
        out.push(self.measurement_period);
        out.push(self.update_interval);
    }

    /// The name of the sampling function (MshMDL §4.1.1.4).
    pub fn sampling_function_name(&self) -> &'static str {
        match self.sampling_function {
            0 => "unspecified",
            1 => "instantaneous",
            2 => "arithmetic mean",
            3 => "RMS",
            4 => "maximum",
            5 => "minimum",
            6 => "accumulated",
            7 => "count",
            _ => "RFU",
        }
    }
}

/// The payload of Sensor Descriptor Status (MshMDL §4.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DescriptorStatus {
    /// The descriptors of the requested sensor, or of all sensors (8 octets each).
    Descriptors(Vec<SensorDescriptor>),
    /// The requested property is not a sensor of the server: the Property ID alone.
    NotFound(u16),
}

// ---------------------------------------------------------------------------------------------
// Marshalled Sensor Data (MshMDL §4.2.14)
// ---------------------------------------------------------------------------------------------

/// One entry of the Marshalled Sensor Data of Sensor Status (MshMDL §4.2.14): a property and
/// its raw value (0..=127 octets; empty means "the property is not a sensor of the server").
///
/// On air it is a Marshalled Property ID of Format A (`Format 0 (1 bit) || Length - 1 (4) ||
/// Property ID (11)`, 2 octets) or Format B (`Format 1 (1 bit) || Length - 1 (7) || Property ID
/// (16)`, 3 octets; length field 0x7F means zero length), little-endian with the Format bit as
/// the least significant bit. Emitting uses Format A whenever it can carry the entry, as
/// implementations do; parsing accepts both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SensorData {
    /// Sensor Property ID (non-zero).
    pub property_id: u16,
    /// The raw value, in the format of the property's characteristic.
    pub raw: Vec<u8>,
}

impl SensorData {
    /// The longest raw value Format B carries.
    pub const MAX_LEN: usize = 127;

    /// Whether Format A can carry this entry (property ID < 0x0800, 1..=16 octets).
    pub fn fits_format_a(&self) -> bool {
        self.property_id <= 0x07FF && (1..=16).contains(&self.raw.len())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let b0 = r.u8()?;
        let (len, property_id) = if b0 & 1 == 0 {
            // Format A.
            let v = u16::from_le_bytes([b0, r.u8()?]);
            (usize::from((v >> 1) & 0x0F) + 1, v >> 5)
        } else {
            // Format B.
            let l = b0 >> 1;
            let len = if l == 0x7F { 0 } else { usize::from(l) + 1 };
            (len, r.u16()?)
        };
        if property_id == 0 {
            return Err(invalid("Sensor Property ID", 0u32));
        }
        Ok(SensorData {
            property_id,
            raw: r.take(len)?.to_vec(),
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        let len = self.raw.len().min(Self::MAX_LEN);
        if self.fits_format_a() {
            put_u16(out, (self.property_id << 5) | (((len - 1) as u16) << 1));
        } else {
            let l = if len == 0 { 0x7F } else { (len - 1) as u8 };
            out.push((l << 1) | 1);
            put_u16(out, self.property_id);
        }
        out.extend_from_slice(&self.raw[..len]);
    }

    /// The value decoded, if the property is one [`SensorValue`] knows.
    pub fn value(&self) -> Option<SensorValue> {
        SensorValue::decode(self.property_id, &self.raw).ok()
    }

    fn describe(&self) -> String {
        match self.value() {
            Some(v) => format!("{} {v}", property_label(self.property_id)),
            None if self.raw.is_empty() => {
                format!("{} not found", property_label(self.property_id))
            }
            None => format!(
                "{} raw {}",
                property_label(self.property_id),
                hex::encode(&self.raw)
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------------------------

/// A Sensor message (MshMDL §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SensorMessage {
    /// §4.2.1: all sensors, or one property.
    DescriptorGet {
        /// The property (non-zero), or `None` for every sensor.
        property_id: Option<u16>,
    },
    /// §4.2.2
    DescriptorStatus(DescriptorStatus),
    /// §4.2.13: all sensors, or one property.
    Get {
        /// The property (non-zero), or `None` for every sensor.
        property_id: Option<u16>,
    },
    /// §4.2.14: Marshalled Sensor Data.
    Status(Vec<SensorData>),
    /// §4.2.15
    ColumnGet {
        /// The property.
        property_id: u16,
        /// Raw Value X identifying the column.
        raw_x: Vec<u8>,
    },
    /// §4.2.16
    ColumnStatus {
        /// The property.
        property_id: u16,
        /// Raw Value X, Column Width and Raw Value Y (absent if the column is unknown).
        raw: Vec<u8>,
    },
    /// §4.2.17
    SeriesGet {
        /// The property.
        property_id: u16,
        /// Optional Raw Value X1 and Raw Value X2.
        raw: Vec<u8>,
    },
    /// §4.2.18
    SeriesStatus {
        /// The property.
        property_id: u16,
        /// The columns: Raw Value X, Column Width, Raw Value Y, repeated.
        raw: Vec<u8>,
    },
    /// §4.2.3
    CadenceGet {
        /// The property.
        property_id: u16,
    },
    /// §4.2.4
    CadenceSet {
        /// The property.
        property_id: u16,
        /// Fast Cadence Period Divisor, Status Trigger Type and the rest of the cadence.
        raw: Vec<u8>,
    },
    /// §4.2.5
    CadenceSetUnacknowledged {
        /// The property.
        property_id: u16,
        /// The cadence, as in Cadence Set.
        raw: Vec<u8>,
    },
    /// §4.2.6
    CadenceStatus {
        /// The property.
        property_id: u16,
        /// The cadence (empty if the property has none).
        raw: Vec<u8>,
    },
    /// §4.2.7
    SettingsGet {
        /// The property.
        property_id: u16,
    },
    /// §4.2.8
    SettingsStatus {
        /// The property.
        property_id: u16,
        /// The Sensor Setting Property IDs of the sensor.
        setting_ids: Vec<u16>,
    },
    /// §4.2.9
    SettingGet {
        /// The property.
        property_id: u16,
        /// The setting.
        setting_id: u16,
    },
    /// §4.2.10
    SettingSet {
        /// The property.
        property_id: u16,
        /// The setting.
        setting_id: u16,
        /// The raw setting value.
        raw: Vec<u8>,
    },
    /// §4.2.11
    SettingSetUnacknowledged {
        /// The property.
        property_id: u16,
        /// The setting.
        setting_id: u16,
        /// The raw setting value.
        raw: Vec<u8>,
    },
    /// §4.2.12
    SettingStatus {
        /// The property.
        property_id: u16,
        /// The setting.
        setting_id: u16,
        /// Sensor Setting Access (0x01 read, 0x03 read/write) and the raw value, absent if the
        /// setting is unknown.
        setting: Option<(u8, Vec<u8>)>,
    },
}

impl SensorMessage {
    /// Parses the parameters of the Sensor message `opcode`.
    pub fn parse(opcode: Opcode, params: &[u8]) -> Result<Self> {
        use SensorMessage as M;
        let mut rd = Reader::new(params);
        let r = &mut rd;
        let m = match opcode {
            DESCRIPTOR_GET => M::DescriptorGet {
                property_id: read_optional_property_id(r)?,
            },
            DESCRIPTOR_STATUS => {
                if r.remaining() == 2 {
                    M::DescriptorStatus(DescriptorStatus::NotFound(read_property_id(r)?))
                } else if r.remaining().is_multiple_of(SensorDescriptor::LEN) {
                    let mut v = Vec::with_capacity(r.remaining() / SensorDescriptor::LEN);
                    while !r.is_empty() {
                        v.push(SensorDescriptor::read(r)?);
                    }
                    M::DescriptorStatus(DescriptorStatus::Descriptors(v))
                } else {
                    return Err(invalid(
                        "Sensor Descriptor Status length",
                        params.len() as u32,
                    ));
                }
            }
            GET => M::Get {
                property_id: read_optional_property_id(r)?,
            },
            STATUS => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(SensorData::read(r)?);
                }
                M::Status(v)
            }
            COLUMN_GET => M::ColumnGet {
                property_id: read_property_id(r)?,
                raw_x: r.rest().to_vec(),
            },
            COLUMN_STATUS => M::ColumnStatus {
                property_id: read_property_id(r)?,
                raw: r.rest().to_vec(),
            },
            SERIES_GET => M::SeriesGet {
                property_id: read_property_id(r)?,
                raw: r.rest().to_vec(),
            },
            SERIES_STATUS => M::SeriesStatus {
                property_id: read_property_id(r)?,
                raw: r.rest().to_vec(),
            },
            CADENCE_GET => M::CadenceGet {
                property_id: read_property_id(r)?,
            },
            CADENCE_SET => M::CadenceSet {
                property_id: read_property_id(r)?,
                raw: r.rest().to_vec(),
            },
            CADENCE_SET_UNACKNOWLEDGED => M::CadenceSetUnacknowledged {
                property_id: read_property_id(r)?,
                raw: r.rest().to_vec(),
            },
            CADENCE_STATUS => M::CadenceStatus {
                property_id: read_property_id(r)?,
                raw: r.rest().to_vec(),
            },
            SETTINGS_GET => M::SettingsGet {
                property_id: read_property_id(r)?,
            },
            SETTINGS_STATUS => {
                let property_id = read_property_id(r)?;
                let rest = r.rest();
                if !rest.len().is_multiple_of(2) {
                    return Err(invalid(
                        "Sensor Setting Property IDs length",
                        rest.len() as u32,
                    ));
                }
                M::SettingsStatus {
                    property_id,
                    setting_ids: rest
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                }
            }
            SETTING_GET => M::SettingGet {
                property_id: read_property_id(r)?,
                setting_id: r.u16()?,
            },
            SETTING_SET | SETTING_SET_UNACKNOWLEDGED => {
                let property_id = read_property_id(r)?;
                let setting_id = r.u16()?;
                let raw = r.rest().to_vec();
                if opcode == SETTING_SET {
                    M::SettingSet {
                        property_id,
                        setting_id,
                        raw,
                    }
                } else {
                    M::SettingSetUnacknowledged {
                        property_id,
                        setting_id,
                        raw,
                    }
                }
            }
            SETTING_STATUS => {
                let property_id = read_property_id(r)?;
                let setting_id = r.u16()?;
                let setting = if r.is_empty() {
                    None
                } else {
                    // MshMDL §4.1.2.3: Sensor Setting Access 0x01 or 0x03; others prohibited.
                    let access = r.u8()?;
                    if access != 0x01 && access != 0x03 {
                        return Err(invalid("Sensor Setting Access", access));
                    }
                    Some((access, r.rest().to_vec()))
                };
                M::SettingStatus {
                    property_id,
                    setting_id,
                    setting,
                }
            }
            _ => return Err(unknown_opcode(opcode)),
        };
        rd.end()?;
        Ok(m)
    }

    /// Parses an access message.
    pub fn from_access(m: &AccessMessage) -> Result<Self> {
        Self::parse(m.opcode, &m.parameters)
    }

    /// The opcode of the message (MshMDL §7.1).
    pub fn opcode(&self) -> Opcode {
        use SensorMessage as M;
        match self {
            M::DescriptorGet { .. } => DESCRIPTOR_GET,
            M::DescriptorStatus(_) => DESCRIPTOR_STATUS,
            M::Get { .. } => GET,
            M::Status(_) => STATUS,
            M::ColumnGet { .. } => COLUMN_GET,
            M::ColumnStatus { .. } => COLUMN_STATUS,
            M::SeriesGet { .. } => SERIES_GET,
            M::SeriesStatus { .. } => SERIES_STATUS,
            M::CadenceGet { .. } => CADENCE_GET,
            M::CadenceSet { .. } => CADENCE_SET,
            M::CadenceSetUnacknowledged { .. } => CADENCE_SET_UNACKNOWLEDGED,
            M::CadenceStatus { .. } => CADENCE_STATUS,
            M::SettingsGet { .. } => SETTINGS_GET,
            M::SettingsStatus { .. } => SETTINGS_STATUS,
            M::SettingGet { .. } => SETTING_GET,
            M::SettingSet { .. } => SETTING_SET,
            M::SettingSetUnacknowledged { .. } => SETTING_SET_UNACKNOWLEDGED,
            M::SettingStatus { .. } => SETTING_STATUS,
        }
    }

    /// The parameters on air.
    pub fn emit_params(&self) -> Vec<u8> {
        use SensorMessage as M;
        let mut out = Vec::new();
        match self {
            M::DescriptorGet { property_id } | M::Get { property_id } => {
                if let Some(p) = property_id {
                    put_u16(&mut out, *p);
                }
            }
            M::DescriptorStatus(DescriptorStatus::NotFound(p)) => put_u16(&mut out, *p),
            M::DescriptorStatus(DescriptorStatus::Descriptors(v)) => {
                for d in v {
                    d.write(&mut out);
                }
            }
            M::Status(v) => {
                for d in v {
                    d.write(&mut out);
                }
            }
            M::ColumnGet {
                property_id,
                raw_x: raw,
            }
            | M::ColumnStatus { property_id, raw }
            | M::SeriesGet { property_id, raw }
            | M::SeriesStatus { property_id, raw }
            | M::CadenceSet { property_id, raw }
            | M::CadenceSetUnacknowledged { property_id, raw }
            | M::CadenceStatus { property_id, raw } => {
                put_u16(&mut out, *property_id);
                out.extend_from_slice(raw);
            }
            M::CadenceGet { property_id } | M::SettingsGet { property_id } => {
                put_u16(&mut out, *property_id)
            }
            M::SettingsStatus {
                property_id,
                setting_ids,
            } => {
                put_u16(&mut out, *property_id);
                for s in setting_ids {
                    put_u16(&mut out, *s);
                }
            }
            M::SettingGet {
                property_id,
                setting_id,
            } => {
                put_u16(&mut out, *property_id);
                put_u16(&mut out, *setting_id);
            }
            M::SettingSet {
                property_id,
                setting_id,
                raw,
            }
            | M::SettingSetUnacknowledged {
                property_id,
                setting_id,
                raw,
            } => {
                put_u16(&mut out, *property_id);
                put_u16(&mut out, *setting_id);
                out.extend_from_slice(raw);
            }
            M::SettingStatus {
                property_id,
                setting_id,
                setting,
            } => {
                put_u16(&mut out, *property_id);
                put_u16(&mut out, *setting_id);
                if let Some((access, raw)) = setting {
                    out.push(*access);
                    out.extend_from_slice(raw);
                }
            }
        }
        out
    }

    /// The access message: opcode and parameters.
    pub fn to_access(&self) -> AccessMessage {
        AccessMessage::new(self.opcode(), self.emit_params())
    }

    /// A one-line human summary, e.g. `Sensor Status Present Ambient Temperature 21.5°C`.
    pub fn describe(&self) -> String {
        use SensorMessage as M;
        let name = self.opcode().name().unwrap_or("Sensor ?");
        let details = match self {
            M::DescriptorGet { property_id } | M::Get { property_id } => match property_id {
                Some(p) => property_label(*p),
                None => "all".into(),
            },
            M::DescriptorStatus(DescriptorStatus::NotFound(p)) => {
                format!("{} not found", property_label(*p))
            }
            M::DescriptorStatus(DescriptorStatus::Descriptors(v)) => v
                .iter()
                .map(|d| {
                    format!(
                        "{} tolerance +{}/-{} {} period {} interval {}",
                        property_label(d.property_id),
                        d.positive_tolerance,
                        d.negative_tolerance,
                        d.sampling_function_name(),
                        d.measurement_period,
                        d.update_interval
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            M::Status(v) => v
                .iter()
                .map(SensorData::describe)
                .collect::<Vec<_>>()
                .join(", "),
            M::ColumnGet { property_id, raw_x } => {
                format!("{} x {}", property_label(*property_id), hex::encode(raw_x))
            }
            M::ColumnStatus { property_id, raw }
            | M::SeriesGet { property_id, raw }
            | M::SeriesStatus { property_id, raw }
            | M::CadenceSet { property_id, raw }
            | M::CadenceSetUnacknowledged { property_id, raw }
            | M::CadenceStatus { property_id, raw } => {
                format!("{} raw {}", property_label(*property_id), hex::encode(raw))
            }
            M::CadenceGet { property_id } | M::SettingsGet { property_id } => {
                property_label(*property_id)
            }
            M::SettingsStatus {
                property_id,
                setting_ids,
            } => format!(
                "{} settings [{}]",
                property_label(*property_id),
                setting_ids
                    .iter()
                    .map(|s| format!("{s:04x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            M::SettingGet {
                property_id,
                setting_id,
            } => format!("{} setting {setting_id:04x}", property_label(*property_id)),
            M::SettingSet {
                property_id,
                setting_id,
                raw,
            }
            | M::SettingSetUnacknowledged {
                property_id,
                setting_id,
                raw,
            } => format!(
                "{} setting {setting_id:04x} raw {}",
                property_label(*property_id),
                hex::encode(raw)
            ),
            M::SettingStatus {
                property_id,
                setting_id,
                setting,
            } => match setting {
                None => format!(
                    "{} setting {setting_id:04x} unknown",
                    property_label(*property_id)
                ),
                Some((access, raw)) => format!(
                    "{} setting {setting_id:04x} {} raw {}",
                    property_label(*property_id),
                    if *access == 0x03 { "rw" } else { "r" },
                    hex::encode(raw)
                ),
            },
        };
        if details.is_empty() {
            name.to_string()
        } else {
            format!("{name} {details}")
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
