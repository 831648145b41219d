//! Reading and writing the JSON: lenient about the forms nRF Mesh and BlueZ write (see the
//! module documentation of [`crate::ble::cdb`]), strict about the form the CDB 1.0.1 schema
//! asks for.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    Cdb, CdbAddress, CdbError, CdbModelId, CdbPeriod, CdbTransmit, Hex16, HexKey, Uuid,
    JSON_SCHEMA, SCHEMA_ID, SCHEMA_VERSION,
};
use crate::ble::models::{ModelId, StepResolution};

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
pub(super) fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    let b = s.as_bytes();
    let dashed = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
    let compact: String = if dashed {
        s.chars().filter(|&c| c != '-').collect()
    } else {
        s.to_owned()
    };
    parse_key(&compact).map_err(|_| format!("\"{s}\" is not a UUID"))
}

pub(super) fn format_uuid(u: &[u8; 16]) -> String {
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

string_serde!(HexKey, |s: &str| parse_key(s).map(HexKey), |k: &HexKey| {
    hex::encode_upper(k.0)
});

string_serde!(Uuid, |s: &str| parse_uuid(s).map(Uuid), |u: &Uuid| {
    format_uuid(&u.0)
});

string_serde!(
    Hex16,
    |s: &str| parse_hex16(s).map(Hex16),
    |v: &Hex16| format!("{:04X}", v.0)
);

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

pub(super) fn de_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
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

pub(super) fn ser_flag<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*v))
}

/// An IV index as BlueZ stores it (a number), or as a hex string.
pub(super) fn de_opt_u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
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

pub(super) fn de_opt_bool_lenient<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "de_flag")] bool);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
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

impl CdbPeriod {
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

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

impl Cdb {
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
}

/// serde_json appends " at line L column C" to data errors; the path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}
