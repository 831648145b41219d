//! How the Configuration messages (Mesh Protocol 1.1 §4.3.2) are read and written: the
//! [`config_messages!`] macro turns the one table of [`ConfigMessage`](super::ConfigMessage)
//! (variant, opcode, status opcode, parameters, summary) into `parse`, `opcode`, `emit_params`,
//! `status_opcode` and the summaries, and a [`Param`] reads and writes each parameter.
//!
//! A row of the table reads
//!
//! ```text
//! Variant { fields } = OPCODE [/ VENDOR_OPCODE] [-> STATUS [/ VENDOR_STATUS]]
//!     [Param => field, ...] ["summary", args...];
//! ```
//!
//! The parameters are listed in their order on air (MshPRT §3.1.1.2: little-endian fields); a
//! [`Param`] may give two fields (`IndexPair => (net, app)`, MshPRT §4.3.1.1). A row with two
//! opcodes is a message whose SIG and vendor forms differ only by the opcode and the size of the
//! model identifier (MshPRT §4.3.2.27..=§4.3.2.30, §4.3.2.49..=§4.3.2.52); the `model` field
//! selects the opcode when emitting. The summary is a `format!` string over the fields.

use crate::ble::address::Address;
use crate::ble::models::{
    pack_key_index_pair, pack_key_indexes, put_u16, put_u24, unpack_key_index_pair,
    unpack_key_indexes, KeyIndex, ModelId, Reader,
};
use crate::ble::wire::Result;

use super::parameters::{check_period_log, check_poll_timeout, check_ttl};
use super::{
    FeatureState, HeartbeatPublication, HeartbeatSubscription, Publication, Retransmit, StatusCode,
};
use crate::ble::models::invalid;

/// What the opcode says of the model identifier in the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ModelKind {
    /// Nothing: the identifier ends the parameters, 2 octets for a SIG model and 4 for a vendor
    /// model, told apart by the length (MshPRT §4.3.2).
    ByLength,
    /// A SIG model: 2 octets (the SIG forms of §4.3.2.27, §4.3.2.28, §4.3.2.49, §4.3.2.50).
    Sig,
    /// A vendor model: 4 octets (§4.3.2.29, §4.3.2.30, §4.3.2.51, §4.3.2.52).
    Vendor,
}

/// How one parameter of a Configuration message is read and written.
pub(super) trait Param {
    /// The value of the field (or fields) it gives.
    type Value;
    /// Reads the parameter; `kind` matters only to model identifiers.
    fn read(&self, r: &mut Reader<'_>, kind: ModelKind) -> Result<Self::Value>;
    /// Appends the parameter.
    fn write(&self, v: &Self::Value, out: &mut Vec<u8>);
}

/// Defines a [`Param`] (a unit struct, or one with the parameters in parentheses): the type of
/// its value, how it reads it from `r` (`p` being the parameter itself) and how it writes `v`
/// to `out`.
macro_rules! param {
    ($(#[$doc:meta])* $name:ident $(($($arg:ty),*))?: $value:ty,
        |$p:tt, $r:ident| $read:expr, |$v:ident, $out:ident| $write:expr) => {
        $(#[$doc])*
        pub(super) struct $name $(($(pub $arg),*))?;

        impl Param for $name {
            type Value = $value;
            fn read(&self, $r: &mut Reader<'_>, _: ModelKind) -> Result<$value> {
                let $p = self;
                $read
            }
            fn write(&self, $v: &$value, $out: &mut Vec<u8>) {
                $write
            }
        }
    };
}

param!(
    /// One octet, any value.
    Octet: u8, |_, r| r.u8(), |v, out| out.push(*v)
);

param!(
    /// One octet in `min..=max` (named `field` in the error otherwise): `OctetIn(field, min,
    /// max)`.
    OctetIn(&'static str, u8, u8): u8,
    |p, r| match r.u8()? {
        v if (p.1..=p.2).contains(&v) => Ok(v),
        v => Err(invalid(p.0, v)),
    },
    |v, out| out.push(*v)
);

param!(
    /// The Secure Network Beacon state (MshPRT §4.2.10): 0x00 or 0x01; 0x02..=0xFF prohibited.
    Beacon: bool,
    |_, r| match r.u8()? {
        b if b > 1 => Err(invalid("Beacon", b)),
        b => Ok(b == 1),
    },
    |v, out| out.push(u8::from(*v))
);

param!(
    /// All the octets left.
    Rest: Vec<u8>, |_, r| Ok(r.rest().to_vec()), |v, out| out.extend_from_slice(v)
);

param!(
    /// 16 octets: a key or a Label UUID.
    Bytes16: [u8; 16], |_, r| r.array::<16>(), |v, out| out.extend_from_slice(v)
);

param!(
    /// The Default TTL (MshPRT §4.2.7): 0x01 and 0x80..=0xFF prohibited.
    DefaultTtl: u8, |_, r| check_ttl(r.u8()?), |v, out| out.push(*v)
);

param!(
    /// A feature state in a Set message: Disabled or Enabled (named `field` in the error).
    SetState(&'static str): FeatureState,
    |p, r| FeatureState::parse_set(p.0, r.u8()?),
    |v, out| out.push(*v as u8)
);

param!(
    /// A feature state in a Status message: Disabled, Enabled or Not Supported.
    StatusState(&'static str): FeatureState,
    |p, r| FeatureState::parse_status(p.0, r.u8()?),
    |v, out| out.push(*v as u8)
);

param!(
    /// A transmit or retransmit octet (MshPRT §4.2.20, §4.2.21).
    Transmit: Retransmit,
    |_, r| Ok(Retransmit::from_byte(r.u8()?)),
    |v, out| out.push(v.to_byte())
);

param!(
    /// A 16-bit address of any kind: the Configuration Server judges it, not the codec.
    Addr: Address, |_, r| Ok(Address(r.u16()?)), |v, out| put_u16(out, v.0)
);

param!(
    /// A list of addresses that ends the parameters.
    Addresses: Vec<Address>,
    |_, r| {
        let bytes = r.rest();
        if !bytes.len().is_multiple_of(2) {
            return Err(invalid("address list length", bytes.len() as u32));
        }
        Ok(bytes
            .chunks_exact(2)
            .map(|c| Address(u16::from_le_bytes([c[0], c[1]])))
            .collect())
    },
    |v, out| v.iter().for_each(|a| put_u16(out, a.0))
);

/// A model identifier (MshPRT §4.3.2): sized by the opcode, or by what is left.
pub(super) struct Model;

impl Param for Model {
    type Value = ModelId;
    fn read(&self, r: &mut Reader<'_>, kind: ModelKind) -> Result<ModelId> {
        match kind {
            ModelKind::ByLength => r.model_id(),
            ModelKind::Sig => ModelId::parse(r.take(2)?),
            ModelKind::Vendor => ModelId::parse(r.take(4)?),
        }
    }
    fn write(&self, v: &ModelId, out: &mut Vec<u8>) {
        v.write(out);
    }
}

param!(
    /// A Status Code (MshPRT §4.3.5).
    Status: StatusCode,
    |_, r| Ok(StatusCode::from_u8(r.u8()?)),
    |v, out| out.push(v.to_u8())
);

param!(
    /// A key index in 2 octets (MshPRT §4.3.1.1: 12 bits, the upper 4 bits RFU).
    Index: KeyIndex,
    |_, r| Ok(KeyIndex::from_bits(r.u16()?)),
    |v, out| put_u16(out, v.get())
);

param!(
    /// Two key indexes in 3 octets (MshPRT §4.3.1.1): NetKey Index, then AppKey Index.
    IndexPair: (KeyIndex, KeyIndex),
    |_, r| Ok(unpack_key_index_pair(r.array::<3>()?)),
    |v, out| out.extend_from_slice(&pack_key_index_pair(v.0, v.1))
);

param!(
    /// A packed list of key indexes that ends the parameters (MshPRT §4.3.1.1).
    Indexes: Vec<KeyIndex>,
    |_, r| unpack_key_indexes(r.rest()),
    |v, out| out.extend(pack_key_indexes(v))
);

param!(
    /// The publication parameters after the publish address (MshPRT §4.3.2.16..=§4.3.2.18).
    Publish: Publication, |_, r| Publication::read(r), |v, out| v.write(out)
);

param!(
    /// The Heartbeat Publication parameters (MshPRT §4.3.2.60, §4.3.2.61).
    HeartbeatPub: HeartbeatPublication,
    |_, r| HeartbeatPublication::read(r),
    |v, out| v.write(out)
);

param!(
    /// The parameters of Config Heartbeat Subscription Status (MshPRT §4.3.2.64).
    HeartbeatSub: HeartbeatSubscription,
    |_, r| HeartbeatSubscription::read(r),
    |v, out| v.write(out)
);

param!(
    /// A Heartbeat Period Log (MshPRT §4.2.17.3, §4.2.18.3): 0x12..=0xFF prohibited.
    PeriodLog(&'static str): u8,
    |p, r| check_period_log(p.0, r.u8()?),
    |v, out| out.push(*v)
);

param!(
    /// A PollTimeout in 3 octets (MshPRT §4.3.2.66): 0, or 0x00000A..=0x34BBFF.
    PollTimeout: u32, |_, r| check_poll_timeout(r.u24()?), |v, out| put_u24(out, *v)
);

/// Generates, from the table of the Configuration messages, `ConfigMessage::parse`, `opcode`,
/// `emit_params`, `status_opcode` and `details` (the summary after the message's name). See
/// the module documentation for the form of a row.
macro_rules! config_messages {
    ($(
        $variant:ident $shape:tt = $op:ident $(/ $vendor_op:ident)?
            $(-> $status:ident $(/ $vendor_status:ident)?)?
            [$($param:expr => $field:tt),*]
            $($summary:literal $(, $arg:expr)*)?;
    )*) => {
        impl ConfigMessage {
            /// Parses the parameters of the Configuration message `opcode`.
            ///
            /// Errors: an opcode that is not a Configuration message (`Invalid { field:
            /// "opcode" }`), wrong lengths (`Truncated`, `TooLong`, or `Invalid` for a model
            /// identifier that is neither 2 nor 4 octets), and prohibited values (`Invalid`).
            pub fn parse(opcode: Opcode, params: &[u8]) -> Result<Self> {
                use $crate::ble::foundation::config::codec::Param as _;
                let mut rd = Reader::new(params);
                let r = &mut rd;
                let m = match opcode {
                    $($op $(| $vendor_op)? => {
                        #[allow(unused_variables)]
                        let kind = config_messages!(@kind opcode $(, $vendor_op)?);
                        $(let $field = $param.read(r, kind)?;)*
                        Self::$variant $shape
                    })*
                    _ => return Err(unknown_opcode(opcode)),
                };
                rd.end()?;
                Ok(m)
            }

            /// The opcode of the message (MshPRT §4.3.4).
            pub fn opcode(&self) -> Opcode {
                match self {
                    $(Self::$variant { .. } => {
                        config_messages!(@vendor self, $variant, $op $(, $vendor_op)?)
                    })*
                }
            }

            /// The parameters on air (little-endian fields, MshPRT §3.1.1.2).
            pub fn emit_params(&self) -> Vec<u8> {
                use $crate::ble::foundation::config::codec::Param as _;
                let mut out = Vec::new();
                match self {
                    $(Self::$variant $shape => {
                        $($param.write(config_messages!(@ref $field), &mut out);)*
                    })*
                }
                out
            }

            /// The opcode of the status (or list) message that answers this request (MshPRT
            /// §4.3.4, "Summary of opcodes"; each request's §4.3.2.x names its response),
            /// `None` for messages that answer nothing themselves (statuses and lists).
            pub fn status_opcode(&self) -> Option<Opcode> {
                match self {
                    $(Self::$variant { .. } => {
                        config_messages!(@status self, $variant $(, $status $(, $vendor_status)?)?)
                    })*
                }
            }

            /// The summary of the parameters, after the message's name.
            fn details(&self) -> String {
                match self {
                    $(Self::$variant $shape => {
                        config_messages!(@summary $($summary $(, $arg)*)?)
                    })*
                }
            }
        }
    };
    // The size of the model identifier, as the opcode tells it.
    (@kind $opcode:ident) => {
        $crate::ble::foundation::config::codec::ModelKind::ByLength
    };
    (@kind $opcode:ident, $vendor_op:ident) => {
        if $opcode == $vendor_op {
            $crate::ble::foundation::config::codec::ModelKind::Vendor
        } else {
            $crate::ble::foundation::config::codec::ModelKind::Sig
        }
    };
    // The opcode of a message, the vendor one for a vendor model.
    (@vendor $self:ident, $variant:ident, $op:ident) => {
        $op
    };
    (@vendor $self:ident, $variant:ident, $op:ident, $vendor_op:ident) => {
        match $self {
            Self::$variant { model, .. } if model.is_vendor() => $vendor_op,
            _ => $op,
        }
    };
    (@status $self:ident, $variant:ident) => {
        None
    };
    (@status $self:ident, $variant:ident, $($op:ident),+) => {
        Some(config_messages!(@vendor $self, $variant, $($op),+))
    };
    // A field by reference, or a pair of fields as a pair.
    (@ref $field:ident) => {
        $field
    };
    (@ref ($($field:ident),*)) => {
        &($(*$field),*)
    };
    (@summary) => {
        String::new()
    };
    (@summary $summary:literal $(, $arg:expr)*) => {
        format!($summary $(, $arg)*)
    };
}

pub(super) use config_messages;
