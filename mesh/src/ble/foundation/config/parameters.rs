//! The parameter types of the Configuration messages (Mesh Protocol 1.1 §4.3.2): the status
//! codes (§4.3.5), the feature states (§4.2.5, §4.2.6, §4.2.9, §4.2.13), transmit and publish
//! parameters (§4.2.3, §4.2.20, §4.2.21) and the Heartbeat Publication and Subscription
//! parameters (§4.2.17, §4.2.18), with the range checks of the values the specification
//! prohibits.

use crate::ble::address::Address;
use crate::ble::models::{human_millis, invalid, put_u16, KeyIndex, Reader, StepResolution};
use crate::ble::wire::control::{Features, FriendRequest};
use crate::ble::wire::Result;

/// The Status field of Configuration status messages (MshPRT §4.3.5, "Summary of status codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// 0x00
    Success,
    /// 0x01
    InvalidAddress,
    /// 0x02
    InvalidModel,
    /// 0x03
    InvalidAppKeyIndex,
    /// 0x04
    InvalidNetKeyIndex,
    /// 0x05
    InsufficientResources,
    /// 0x06
    KeyIndexAlreadyStored,
    /// 0x07
    InvalidPublishParameters,
    /// 0x08
    NotASubscribeModel,
    /// 0x09
    StorageFailure,
    /// 0x0A
    FeatureNotSupported,
    /// 0x0B
    CannotUpdate,
    /// 0x0C
    CannotRemove,
    /// 0x0D
    CannotBind,
    /// 0x0E
    TemporarilyUnableToChangeState,
    /// 0x0F
    CannotSet,
    /// 0x10
    UnspecifiedError,
    /// 0x11
    InvalidBinding,
    /// 0x12 (Mesh 1.1)
    InvalidPathEntry,
    /// 0x13 (Mesh 1.1)
    CannotGet,
    /// 0x14 (Mesh 1.1)
    ObsoleteInformation,
    /// 0x15 (Mesh 1.1)
    InvalidBearer,
    /// 0x16..=0xFF: reserved for future use, kept so a decoder can show it.
    Rfu(u8),
}

impl StatusCode {
    const TABLE: [(StatusCode, &'static str); 22] = [
        (StatusCode::Success, "Success"),
        (StatusCode::InvalidAddress, "Invalid Address"),
        (StatusCode::InvalidModel, "Invalid Model"),
        (StatusCode::InvalidAppKeyIndex, "Invalid AppKey Index"),
        (StatusCode::InvalidNetKeyIndex, "Invalid NetKey Index"),
        (StatusCode::InsufficientResources, "Insufficient Resources"),
        (
            StatusCode::KeyIndexAlreadyStored,
            "Key Index Already Stored",
        ),
        (
            StatusCode::InvalidPublishParameters,
            "Invalid Publish Parameters",
        ),
        (StatusCode::NotASubscribeModel, "Not a Subscribe Model"),
        (StatusCode::StorageFailure, "Storage Failure"),
        (StatusCode::FeatureNotSupported, "Feature Not Supported"),
        (StatusCode::CannotUpdate, "Cannot Update"),
        (StatusCode::CannotRemove, "Cannot Remove"),
        (StatusCode::CannotBind, "Cannot Bind"),
        (
            StatusCode::TemporarilyUnableToChangeState,
            "Temporarily Unable to Change State",
        ),
        (StatusCode::CannotSet, "Cannot Set"),
        (StatusCode::UnspecifiedError, "Unspecified Error"),
        (StatusCode::InvalidBinding, "Invalid Binding"),
        (StatusCode::InvalidPathEntry, "Invalid Path Entry"),
        (StatusCode::CannotGet, "Cannot Get"),
        (StatusCode::ObsoleteInformation, "Obsolete Information"),
        (StatusCode::InvalidBearer, "Invalid Bearer"),
    ];

    /// The code of an octet (never fails: unassigned values are [`StatusCode::Rfu`]).
    pub fn from_u8(v: u8) -> Self {
        Self::TABLE
            .get(usize::from(v))
            .map_or(StatusCode::Rfu(v), |(c, _)| *c)
    }

    /// The octet on air.
    pub fn to_u8(self) -> u8 {
        match self {
            StatusCode::Rfu(v) => v,
            c => Self::TABLE
                .iter()
                .position(|(t, _)| *t == c)
                .map_or(0xFF, |i| i as u8),
        }
    }

    /// The specification's name of the code (`RFU` for unassigned values).
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Rfu(_) => "RFU",
            c => Self::TABLE
                .iter()
                .find(|(t, _)| *t == c)
                .map_or("RFU", |(_, n)| n),
        }
    }

    /// Whether the code is Success.
    pub fn is_success(self) -> bool {
        self == StatusCode::Success
    }
}

impl core::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StatusCode::Rfu(v) => write!(f, "RFU({v:#04x})"),
            c => f.write_str(c.name()),
        }
    }
}

/// The value of the GATT Proxy, Friend, Relay and Node Identity states (MshPRT §4.2.5, §4.2.6,
/// §4.2.9, §4.2.13): Set messages carry only Disabled/Enabled, Status messages all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureState {
    /// 0x00: disabled (Node Identity: advertising stopped).
    Disabled = 0,
    /// 0x01: enabled (Node Identity: advertising running).
    Enabled = 1,
    /// 0x02: not supported (prohibited in Set messages).
    NotSupported = 2,
}

impl FeatureState {
    /// A state octet of a Set message: 0x00 or 0x01; 0x02..=0xFF are prohibited.
    pub(super) fn parse_set(field: &'static str, v: u8) -> Result<Self> {
        match v {
            0 => Ok(FeatureState::Disabled),
            1 => Ok(FeatureState::Enabled),
            _ => Err(invalid(field, v)),
        }
    }

    /// A state octet of a Status message: 0x00..=0x02; 0x03..=0xFF are prohibited.
    pub(super) fn parse_status(field: &'static str, v: u8) -> Result<Self> {
        match v {
            2 => Ok(FeatureState::NotSupported),
            _ => Self::parse_set(field, v),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            FeatureState::Disabled => "disabled",
            FeatureState::Enabled => "enabled",
            FeatureState::NotSupported => "not supported",
        }
    }
}

/// A transmit/retransmit octet: a 3-bit count (low bits) and a 5-bit interval steps field (high
/// bits) — Network Transmit (MshPRT §4.2.20), Relay Retransmit (§4.2.21) and Publish Retransmit
/// (§4.2.3.7, §4.2.3.8).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Retransmit {
    /// Number of (re)transmissions beyond the first, 0..=7.
    pub count: u8,
    /// Interval steps, 0..=31.
    pub interval_steps: u8,
}

impl Retransmit {
    /// From the octet on air.
    pub const fn from_byte(b: u8) -> Self {
        Retransmit {
            count: b & 0x07,
            interval_steps: b >> 3,
        }
    }

    /// The octet on air.
    pub const fn to_byte(self) -> u8 {
        (self.count & 0x07) | (self.interval_steps << 3)
    }

    /// The interval of Network Transmit and Relay Retransmit: (steps + 1) × 10 ms
    /// (MshPRT §4.2.20.2, §4.2.21.2).
    pub const fn network_interval_ms(self) -> u32 {
        (self.interval_steps as u32 & 0x1F) * 10 + 10
    }

    /// The interval of Publish Retransmit: (steps + 1) × 50 ms (MshPRT §4.2.3.8).
    pub const fn publish_interval_ms(self) -> u32 {
        (self.interval_steps as u32 & 0x1F) * 50 + 50
    }
}

/// The Publish Period (MshPRT §4.2.3.5): a 6-bit number of steps and a 2-bit step resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PublishPeriod {
    /// Number of steps, 0..=0x3F; 0 disables periodic publishing.
    pub steps: u8,
    /// The step resolution.
    pub resolution: StepResolution,
}

impl PublishPeriod {
    /// From the octet on air.
    pub const fn from_byte(b: u8) -> Self {
        PublishPeriod {
            steps: b & 0x3F,
            resolution: StepResolution::from_bits(b >> 6),
        }
    }

    /// The octet on air.
    pub const fn to_byte(self) -> u8 {
        (self.steps & 0x3F) | ((self.resolution as u8) << 6)
    }

    /// The period in milliseconds (0: no periodic publishing).
    pub const fn to_millis(self) -> u32 {
        (self.steps as u32 & 0x3F) * self.resolution.millis()
    }
}

/// The publication parameters shared by Model Publication Set, Virtual Address Set and Status
/// (MshPRT §4.3.2.16..=§4.3.2.18): 5 octets after the publish address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Publication {
    /// AppKey Index (12 bits).
    pub app_key_index: KeyIndex,
    /// Credential Flag (bit 12): friendship credentials (true) or flooding credentials.
    pub credential_flag: bool,
    /// Publish TTL: 0x00..=0x7F, or 0xFF to use the Default TTL; 0x80..=0xFE are prohibited.
    pub ttl: u8,
    /// Publish Period.
    pub period: PublishPeriod,
    /// Publish Retransmit Count and Interval Steps.
    pub retransmit: Retransmit,
}

impl Publication {
    /// Publish TTL value meaning "use the Default TTL" (MshPRT §4.2.3.4).
    pub const TTL_USE_DEFAULT: u8 = 0xFF;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let idx = r.u16()?;
        let ttl = r.u8()?;
        // MshPRT §4.2.3.4: Publish TTL 0x80..=0xFE is prohibited.
        if (0x80..=0xFE).contains(&ttl) {
            return Err(invalid("Publish TTL", ttl));
        }
        Ok(Publication {
            app_key_index: KeyIndex::from_bits(idx),
            credential_flag: idx & 0x1000 != 0,
            // Bits 13-15 are RFU and ignored.
            ttl,
            period: PublishPeriod::from_byte(r.u8()?),
            retransmit: Retransmit::from_byte(r.u8()?),
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        put_u16(
            out,
            self.app_key_index.get() | if self.credential_flag { 0x1000 } else { 0 },
        );
        out.push(self.ttl);
        out.push(self.period.to_byte());
        out.push(self.retransmit.to_byte());
    }

    pub(super) fn describe(&self) -> String {
        let ttl = if self.ttl == Self::TTL_USE_DEFAULT {
            "default".to_string()
        } else {
            self.ttl.to_string()
        };
        format!(
            "app {} ttl {ttl} period {} retransmit {}x{}ms{}",
            self.app_key_index,
            human_millis(self.period.to_millis()),
            self.retransmit.count,
            self.retransmit.publish_interval_ms(),
            if self.credential_flag {
                " friendship"
            } else {
                ""
            },
        )
    }
}

/// The Heartbeat Publication parameters of the Set and Status messages (MshPRT §4.3.2.60,
/// §4.3.2.61; states of §4.2.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeartbeatPublication {
    /// Destination: unassigned, unicast or group address.
    pub destination: Address,
    /// Count Log: 0x00..=0x11 or 0xFF (§4.2.17.2); other values are prohibited.
    pub count_log: u8,
    /// Period Log: 0x00..=0x11 (§4.2.17.3); other values are prohibited.
    pub period_log: u8,
    /// TTL: 0x00..=0x7F (§4.2.17.4); 0x80..=0xFF are prohibited.
    pub ttl: u8,
    /// Features that trigger a heartbeat when they change (bits 0-3; the rest RFU, kept).
    pub features: Features,
    /// The NetKey Index of the subnet to publish on.
    pub net_key_index: KeyIndex,
}

impl HeartbeatPublication {
    /// Heartbeats to `destination` every `period_s` seconds, indefinitely (Count Log 0xFF,
    /// MshPRT §4.2.17.2), with `ttl`, and also on any change of the Relay, Proxy, Friend or Low
    /// Power feature (§4.2.17.5). The period is a power of two up to 65536 s (Period Log
    /// 0x01..=0x11, §4.2.17.3; others round down); 0 stops them (Count Log and Period Log 0).
    pub fn every(destination: Address, period_s: u32, ttl: u8, net_key_index: KeyIndex) -> Self {
        let period_log = match period_s {
            0 => 0,
            p => (p.min(1 << 16).ilog2() + 1) as u8,
        };
        HeartbeatPublication {
            destination,
            count_log: if period_log == 0 { 0 } else { 0xFF },
            period_log,
            ttl: ttl.min(0x7F),
            features: Features(0x000F),
            net_key_index,
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let destination = Address(r.u16()?);
        let count_log = r.u8()?;
        if count_log > 0x11 && count_log != 0xFF {
            return Err(invalid("Heartbeat Publication Count Log", count_log));
        }
        let period_log = r.u8()?;
        if period_log > 0x11 {
            return Err(invalid("Heartbeat Publication Period Log", period_log));
        }
        let ttl = r.u8()?;
        if ttl > 0x7F {
            return Err(invalid("Heartbeat Publication TTL", ttl));
        }
        Ok(HeartbeatPublication {
            destination,
            count_log,
            period_log,
            ttl,
            features: Features(r.u16()?),
            net_key_index: KeyIndex::from_bits(r.u16()?),
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.destination.0);
        out.push(self.count_log);
        out.push(self.period_log);
        out.push(self.ttl);
        put_u16(out, self.features.0);
        put_u16(out, self.net_key_index.get());
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "dst {} count_log {:#04x} period_log {:#04x} ttl {} features {:#06x} net {}",
            self.destination,
            self.count_log,
            self.period_log,
            self.ttl,
            self.features.0,
            self.net_key_index
        )
    }
}

/// The parameters of Config Heartbeat Subscription Status (MshPRT §4.3.2.64; states of
/// §4.2.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeartbeatSubscription {
    /// Status code of the request.
    pub status: StatusCode,
    /// Source address of the heartbeats to count.
    pub source: Address,
    /// Destination address of the heartbeats to count.
    pub destination: Address,
    /// Period Log: 0x00..=0x11.
    pub period_log: u8,
    /// Count Log: 0x00..=0x11 or 0xFF.
    pub count_log: u8,
    /// Minimum hops seen, 0x00..=0x7F.
    pub min_hops: u8,
    /// Maximum hops seen, 0x00..=0x7F.
    pub max_hops: u8,
}

impl HeartbeatSubscription {
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        let status = StatusCode::from_u8(r.u8()?);
        let source = Address(r.u16()?);
        let destination = Address(r.u16()?);
        let period_log = check_period_log("Heartbeat Subscription Period Log", r.u8()?)?;
        let count_log = r.u8()?;
        // §4.2.18.4: Count Log 0x00..=0x11 or 0xFF.
        if count_log > 0x11 && count_log != 0xFF {
            return Err(invalid("Heartbeat Subscription Count Log", count_log));
        }
        let min_hops = r.u8()?;
        let max_hops = r.u8()?;
        // §4.2.18.5, §4.2.18.6: hops 0x00..=0x7F; 0x80..=0xFF prohibited.
        if min_hops > 0x7F {
            return Err(invalid("Heartbeat Subscription Min Hops", min_hops));
        }
        if max_hops > 0x7F {
            return Err(invalid("Heartbeat Subscription Max Hops", max_hops));
        }
        Ok(HeartbeatSubscription {
            status,
            source,
            destination,
            period_log,
            count_log,
            min_hops,
            max_hops,
        })
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.status.to_u8());
        put_u16(out, self.source.0);
        put_u16(out, self.destination.0);
        out.push(self.period_log);
        out.push(self.count_log);
        out.push(self.min_hops);
        out.push(self.max_hops);
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "{} src {} dst {} period_log {:#04x} count_log {:#04x} hops {}..{}",
            self.status,
            self.source,
            self.destination,
            self.period_log,
            self.count_log,
            self.min_hops,
            self.max_hops
        )
    }
}

pub(super) fn check_period_log(field: &'static str, v: u8) -> Result<u8> {
    // MshPRT §4.2.17.3, §4.2.18.3: 0x12..=0xFF are prohibited.
    if v > 0x11 {
        Err(invalid(field, v))
    } else {
        Ok(v)
    }
}

pub(super) fn check_ttl(v: u8) -> Result<u8> {
    // MshPRT §4.2.7: Default TTL 0x01 and 0x80..=0xFF are prohibited.
    if v == 0x01 || v >= 0x80 {
        Err(invalid("Default TTL", v))
    } else {
        Ok(v)
    }
}

pub(super) fn check_poll_timeout(v: u32) -> Result<u32> {
    // MshPRT §4.3.2.66: 0x000000 (no friendship), or a PollTimeout in the range of the Friend
    // Request (§3.6.5.3.3: 0x00000A..=0x34BBFF); the rest prohibited.
    if v == 0 || (FriendRequest::MIN_POLL_TIMEOUT..=FriendRequest::MAX_POLL_TIMEOUT).contains(&v) {
        Ok(v)
    } else {
        Err(invalid("PollTimeout", v))
    }
}
