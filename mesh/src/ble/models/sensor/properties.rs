//! The sensor properties weft's nodes use (Mesh Device Properties; their values are the
//! characteristics of the GATT Specification Supplement): their IDs and names, and
//! [`SensorValue`], a value in the characteristic's units that a Sensor Status carries as
//! Marshalled Sensor Data (Mesh Model 1.1 §4.2.14).

use core::fmt;

use crate::ble::models::invalid;
use crate::ble::wire::{Error, Result};

use super::SensorData;

/// Motion Sensed (Mesh Device Properties: Percentage 8).
pub const PROPERTY_MOTION_SENSED: u16 = 0x0042;
/// People Count (Mesh Device Properties: Count 16).
pub const PROPERTY_PEOPLE_COUNT: u16 = 0x004C;
/// Present Ambient Temperature (Mesh Device Properties: Temperature 8).
pub const PROPERTY_PRESENT_AMBIENT_TEMPERATURE: u16 = 0x004F;
/// Present Device Operating Temperature (Mesh Device Properties: Temperature).
pub const PROPERTY_PRESENT_DEVICE_OPERATING_TEMPERATURE: u16 = 0x0054;

/// The name of a property this module knows.
pub fn property_name(id: u16) -> Option<&'static str> {
    Some(match id {
        PROPERTY_MOTION_SENSED => "Motion Sensed",
        PROPERTY_PEOPLE_COUNT => "People Count",
        PROPERTY_PRESENT_AMBIENT_TEMPERATURE => "Present Ambient Temperature",
        PROPERTY_PRESENT_DEVICE_OPERATING_TEMPERATURE => "Present Device Operating Temperature",
        _ => return None,
    })
}

pub(super) fn property_label(id: u16) -> String {
    property_name(id).map_or_else(|| format!("property {id:04x}"), str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Property values (Mesh Device Properties, GATT Specification Supplement characteristics)
// ---------------------------------------------------------------------------------------------

/// The value of one of the sensor properties weft's nodes use, in the characteristic's raw
/// units; `None` is the characteristic's "value is not known".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SensorValue {
    /// Present Ambient Temperature (0x004F), Temperature 8: sint8 in 0.5 °C (-64.0..=63.0),
    /// 0x7F unknown.
    PresentAmbientTemperature(Option<i8>),
    /// Motion Sensed (0x0042), Percentage 8: uint8 in 0.5 % (0..=200), 0xFF unknown,
    /// 201..=254 prohibited.
    MotionSensed(Option<u8>),
    /// People Count (0x004C), Count 16: uint16, 0xFFFF unknown.
    PeopleCount(Option<u16>),
    /// Present Device Operating Temperature (0x0054), Temperature: sint16 in 0.01 °C,
    /// 0x8000 unknown.
    PresentDeviceOperatingTemperature(Option<i16>),
}

impl SensorValue {
    /// Temperature 8 "value is not known".
    pub const TEMPERATURE_8_UNKNOWN: i8 = 0x7F;
    /// Percentage 8 "value is not known".
    pub const PERCENTAGE_8_UNKNOWN: u8 = 0xFF;
    /// Count 16 "value is not known".
    pub const COUNT_16_UNKNOWN: u16 = 0xFFFF;
    /// Temperature "value is not known".
    pub const TEMPERATURE_UNKNOWN: i16 = i16::MIN;

    /// Present Ambient Temperature from degrees Celsius, rounded to 0.5 °C and clamped to the
    /// characteristic's range.
    pub fn ambient_temperature(celsius: f64) -> Self {
        let half = (celsius * 2.0).round().clamp(-128.0, 126.0) as i8;
        SensorValue::PresentAmbientTemperature(Some(half))
    }

    /// Motion Sensed from a percentage, rounded to 0.5 % and clamped to 0..=100 %.
    pub fn motion_sensed(percent: f64) -> Self {
        SensorValue::MotionSensed(Some((percent * 2.0).round().clamp(0.0, 200.0) as u8))
    }

    /// Present Device Operating Temperature from degrees Celsius, rounded to 0.01 °C.
    pub fn device_operating_temperature(celsius: f64) -> Self {
        let centi = (celsius * 100.0).round().clamp(-32767.0, 32767.0) as i16;
        SensorValue::PresentDeviceOperatingTemperature(Some(centi))
    }

    /// The Sensor Property ID.
    pub fn property_id(&self) -> u16 {
        match self {
            SensorValue::PresentAmbientTemperature(_) => PROPERTY_PRESENT_AMBIENT_TEMPERATURE,
            SensorValue::MotionSensed(_) => PROPERTY_MOTION_SENSED,
            SensorValue::PeopleCount(_) => PROPERTY_PEOPLE_COUNT,
            SensorValue::PresentDeviceOperatingTemperature(_) => {
                PROPERTY_PRESENT_DEVICE_OPERATING_TEMPERATURE
            }
        }
    }

    /// Decodes the raw value of `property_id`. Errors: a property this type does not know
    /// (`Invalid { field: "Sensor Property ID" }`), a wrong length, a prohibited value.
    pub fn decode(property_id: u16, raw: &[u8]) -> Result<Self> {
        let exact = |n: usize| -> Result<()> {
            if raw.len() == n {
                Ok(())
            } else if raw.len() < n {
                Err(Error::Truncated {
                    need: n,
                    got: raw.len(),
                })
            } else {
                Err(Error::TooLong {
                    max: n,
                    got: raw.len(),
                })
            }
        };
        match property_id {
            PROPERTY_PRESENT_AMBIENT_TEMPERATURE => {
                exact(1)?;
                let v = raw[0] as i8;
                Ok(SensorValue::PresentAmbientTemperature(
                    (v != Self::TEMPERATURE_8_UNKNOWN).then_some(v),
                ))
            }
            PROPERTY_MOTION_SENSED => {
                exact(1)?;
                match raw[0] {
                    Self::PERCENTAGE_8_UNKNOWN => Ok(SensorValue::MotionSensed(None)),
                    v @ 0..=200 => Ok(SensorValue::MotionSensed(Some(v))),
                    v => Err(invalid("Percentage 8", v)),
                }
            }
            PROPERTY_PEOPLE_COUNT => {
                exact(2)?;
                let v = u16::from_le_bytes([raw[0], raw[1]]);
                Ok(SensorValue::PeopleCount(
                    (v != Self::COUNT_16_UNKNOWN).then_some(v),
                ))
            }
            PROPERTY_PRESENT_DEVICE_OPERATING_TEMPERATURE => {
                exact(2)?;
                let v = i16::from_le_bytes([raw[0], raw[1]]);
                Ok(SensorValue::PresentDeviceOperatingTemperature(
                    (v != Self::TEMPERATURE_UNKNOWN).then_some(v),
                ))
            }
            id => Err(invalid("Sensor Property ID", id)),
        }
    }

    /// The raw value on air.
    pub fn raw(&self) -> Vec<u8> {
        match *self {
            SensorValue::PresentAmbientTemperature(v) => {
                vec![v.unwrap_or(Self::TEMPERATURE_8_UNKNOWN) as u8]
            }
            SensorValue::MotionSensed(v) => vec![v.unwrap_or(Self::PERCENTAGE_8_UNKNOWN)],
            SensorValue::PeopleCount(v) => {
                v.unwrap_or(Self::COUNT_16_UNKNOWN).to_le_bytes().to_vec()
            }
            SensorValue::PresentDeviceOperatingTemperature(v) => v
                .unwrap_or(Self::TEMPERATURE_UNKNOWN)
                .to_le_bytes()
                .to_vec(),
        }
    }

    /// The entry of Marshalled Sensor Data carrying this value.
    pub fn to_sensor_data(&self) -> SensorData {
        SensorData {
            property_id: self.property_id(),
            raw: self.raw(),
        }
    }

    /// The value in its unit (°C, %, count), `None` if unknown.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            SensorValue::PresentAmbientTemperature(v) => v.map(|v| f64::from(v) / 2.0),
            SensorValue::MotionSensed(v) => v.map(|v| f64::from(v) / 2.0),
            SensorValue::PeopleCount(v) => v.map(f64::from),
            SensorValue::PresentDeviceOperatingTemperature(v) => v.map(|v| f64::from(v) / 100.0),
        }
    }
}

/// `21.5°C`, `50%`, `12`, or `unknown`.
impl fmt::Display for SensorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(v) = self.as_f64() else {
            return f.write_str("unknown");
        };
        match self {
            SensorValue::PresentAmbientTemperature(_) => write!(f, "{v:.1}°C"),
            SensorValue::PresentDeviceOperatingTemperature(_) => write!(f, "{v:.2}°C"),
            SensorValue::MotionSensed(_) => write!(f, "{v}%"),
            SensorValue::PeopleCount(_) => write!(f, "{v}"),
        }
    }
}
