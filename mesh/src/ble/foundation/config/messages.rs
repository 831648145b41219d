//! Configuration messages (Mesh Protocol 1.1 §4.3.2) exchanged by the Configuration Server and
//! Client, with their opcodes (§4.3.4, "Summary of opcodes") and status codes (§4.3.5).
//!
//! Subsection numbers (§4.3.2.x) follow the order of the Configuration messages in the
//! specification (Beacon Get is §4.3.2.1, Node Reset Status §4.3.2.71). Model identifiers at
//! the end of a message are 2 octets (SIG model) or 4 octets (vendor model), told apart by the
//! length of the parameters.

use crate::ble::address::Address;
use crate::ble::wire::access::{AccessMessage, Opcode};
use crate::ble::wire::control::{Features, FriendRequest};
use crate::ble::wire::Result;

use crate::ble::models::{
    human_millis, invalid, pack_key_index_pair, pack_key_indexes, put_u16, put_u24, unknown_opcode,
    unpack_key_index_pair, unpack_key_indexes, KeyIndex, ModelId, Reader, StepResolution,
};

// ---------------------------------------------------------------------------------------------
// Opcodes (MshPRT §4.3.4)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Field types
// ---------------------------------------------------------------------------------------------

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
    fn parse_set(field: &'static str, v: u8) -> Result<Self> {
        match v {
            0 => Ok(FeatureState::Disabled),
            1 => Ok(FeatureState::Enabled),
            _ => Err(invalid(field, v)),
        }
    }

    /// A state octet of a Status message: 0x00..=0x02; 0x03..=0xFF are prohibited.
    fn parse_status(field: &'static str, v: u8) -> Result<Self> {
        match v {
            2 => Ok(FeatureState::NotSupported),
            _ => Self::parse_set(field, v),
        }
    }

    fn name(self) -> &'static str {
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

    fn read(r: &mut Reader<'_>) -> Result<Self> {
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

    fn write(&self, out: &mut Vec<u8>) {
        put_u16(
            out,
            self.app_key_index.get() | if self.credential_flag { 0x1000 } else { 0 },
        );
        out.push(self.ttl);
        out.push(self.period.to_byte());
        out.push(self.retransmit.to_byte());
    }

    fn describe(&self) -> String {
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

    fn read(r: &mut Reader<'_>) -> Result<Self> {
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

    fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.destination.0);
        out.push(self.count_log);
        out.push(self.period_log);
        out.push(self.ttl);
        put_u16(out, self.features.0);
        put_u16(out, self.net_key_index.get());
    }

    fn describe(&self) -> String {
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

fn check_period_log(field: &'static str, v: u8) -> Result<u8> {
    // MshPRT §4.2.17.3, §4.2.18.3: 0x12..=0xFF are prohibited.
    if v > 0x11 {
        Err(invalid(field, v))
    } else {
        Ok(v)
    }
}

fn check_ttl(v: u8) -> Result<u8> {
    // MshPRT §4.2.7: Default TTL 0x01 and 0x80..=0xFF are prohibited.
    if v == 0x01 || v >= 0x80 {
        Err(invalid("Default TTL", v))
    } else {
        Ok(v)
    }
}

fn check_poll_timeout(v: u32) -> Result<u32> {
    // MshPRT §4.3.2.66: 0x000000 (no friendship), or a PollTimeout in the range of the Friend
    // Request (§3.6.5.3.3: 0x00000A..=0x34BBFF); the rest prohibited.
    if v == 0 || (FriendRequest::MIN_POLL_TIMEOUT..=FriendRequest::MAX_POLL_TIMEOUT).contains(&v) {
        Ok(v)
    } else {
        Err(invalid("PollTimeout", v))
    }
}

// ---------------------------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------------------------

/// A Configuration message (MshPRT §4.3.2).
///
/// Element addresses and subscription or publish addresses are carried as any [`Address`]: the
/// Configuration Server answers unsuitable addresses with a status code rather than dropping
/// the message, so the codec does not judge them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigMessage {
    /// §4.3.2.1: no parameters.
    BeaconGet,
    /// §4.3.2.2: the Secure Network Beacon state, 0x00 or 0x01.
    BeaconSet {
        /// Whether the node broadcasts Secure Network beacons.
        enabled: bool,
    },
    /// §4.3.2.3
    BeaconStatus {
        /// Whether the node broadcasts Secure Network beacons.
        enabled: bool,
    },
    /// §4.3.2.4
    CompositionDataGet {
        /// The page number requested (0xFF: the highest page).
        page: u8,
    },
    /// §4.3.2.5: see [`CompositionDataPage0`](crate::ble::foundation::composition::CompositionDataPage0) to read page 0.
    CompositionDataStatus {
        /// The page number of the data.
        page: u8,
        /// The page's contents.
        data: Vec<u8>,
    },
    /// §4.3.2.6: no parameters.
    DefaultTtlGet,
    /// §4.3.2.7: TTL 0x00 or 0x02..=0x7F.
    DefaultTtlSet {
        /// The new Default TTL.
        ttl: u8,
    },
    /// §4.3.2.8
    DefaultTtlStatus {
        /// The Default TTL.
        ttl: u8,
    },
    /// §4.3.2.9: no parameters.
    GattProxyGet,
    /// §4.3.2.10: Disabled or Enabled.
    GattProxySet {
        /// The new GATT Proxy state.
        state: FeatureState,
    },
    /// §4.3.2.11
    GattProxyStatus {
        /// The GATT Proxy state.
        state: FeatureState,
    },
    /// §4.3.2.12: no parameters.
    RelayGet,
    /// §4.3.2.13: Relay (Disabled or Enabled) and Relay Retransmit.
    RelaySet {
        /// The new Relay state.
        state: FeatureState,
        /// Relay Retransmit Count and Interval Steps.
        retransmit: Retransmit,
    },
    /// §4.3.2.14
    RelayStatus {
        /// The Relay state.
        state: FeatureState,
        /// Relay Retransmit Count and Interval Steps.
        retransmit: Retransmit,
    },
    /// §4.3.2.15
    ModelPublicationGet {
        /// The element of the model.
        element: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.16
    ModelPublicationSet {
        /// The element of the model.
        element: Address,
        /// The publish address (unassigned to stop publishing).
        address: Address,
        /// The publication parameters.
        publication: Publication,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.17
    ModelPublicationVirtualAddressSet {
        /// The element of the model.
        element: Address,
        /// The Label UUID of the virtual publish address.
        label: [u8; 16],
        /// The publication parameters.
        publication: Publication,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.18
    ModelPublicationStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The publish address.
        address: Address,
        /// The publication parameters.
        publication: Publication,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.19
    ModelSubscriptionAdd {
        /// The element of the model.
        element: Address,
        /// The group address to add.
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.20
    ModelSubscriptionVirtualAddressAdd {
        /// The element of the model.
        element: Address,
        /// The Label UUID to add.
        label: [u8; 16],
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.21
    ModelSubscriptionDelete {
        /// The element of the model.
        element: Address,
        /// The group address to remove.
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.22
    ModelSubscriptionVirtualAddressDelete {
        /// The element of the model.
        element: Address,
        /// The Label UUID to remove.
        label: [u8; 16],
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.23
    ModelSubscriptionOverwrite {
        /// The element of the model.
        element: Address,
        /// The group address that replaces the list.
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.24
    ModelSubscriptionVirtualAddressOverwrite {
        /// The element of the model.
        element: Address,
        /// The Label UUID that replaces the list.
        label: [u8; 16],
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.25
    ModelSubscriptionDeleteAll {
        /// The element of the model.
        element: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.26
    ModelSubscriptionStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The address of the request (or the virtual address of a Label UUID).
        address: Address,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.27 (SIG model, opcode 0x8029) or §4.3.2.29 (vendor model, 0x802B).
    ModelSubscriptionGet {
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
    },
    /// §4.3.2.28 (SIG model, 0x802A) or §4.3.2.30 (vendor model, 0x802C).
    ModelSubscriptionList {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
        /// The subscription list.
        addresses: Vec<Address>,
    },
    /// §4.3.2.31
    NetKeyAdd {
        /// The index of the key.
        net_key_index: KeyIndex,
        /// The NetKey.
        key: [u8; 16],
    },
    /// §4.3.2.32
    NetKeyUpdate {
        /// The index of the key.
        net_key_index: KeyIndex,
        /// The new NetKey.
        key: [u8; 16],
    },
    /// §4.3.2.33
    NetKeyDelete {
        /// The index of the key.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.34
    NetKeyStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The index of the key.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.35: no parameters.
    NetKeyGet,
    /// §4.3.2.36
    NetKeyList {
        /// The NetKey Indexes known to the node.
        net_key_indexes: Vec<KeyIndex>,
    },
    /// §4.3.2.37
    AppKeyAdd {
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
        /// The AppKey.
        key: [u8; 16],
    },
    /// §4.3.2.38
    AppKeyUpdate {
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
        /// The new AppKey.
        key: [u8; 16],
    },
    /// §4.3.2.39
    AppKeyDelete {
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
    },
    /// §4.3.2.40
    AppKeyStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The NetKey the AppKey is bound to.
        net_key_index: KeyIndex,
        /// The index of the AppKey.
        app_key_index: KeyIndex,
    },
    /// §4.3.2.41
    AppKeyGet {
        /// The NetKey whose AppKeys are requested.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.42
    AppKeyList {
        /// Status code of the request.
        status: StatusCode,
        /// The NetKey the AppKeys are bound to.
        net_key_index: KeyIndex,
        /// The AppKey Indexes bound to it.
        app_key_indexes: Vec<KeyIndex>,
    },
    /// §4.3.2.43
    NodeIdentityGet {
        /// The subnet.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.44: Identity is Disabled (stopped) or Enabled (running).
    NodeIdentitySet {
        /// The subnet.
        net_key_index: KeyIndex,
        /// The new Node Identity state.
        identity: FeatureState,
    },
    /// §4.3.2.45
    NodeIdentityStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The subnet.
        net_key_index: KeyIndex,
        /// The Node Identity state.
        identity: FeatureState,
    },
    /// §4.3.2.46
    ModelAppBind {
        /// The element of the model.
        element: Address,
        /// The AppKey to bind.
        app_key_index: KeyIndex,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.47
    ModelAppUnbind {
        /// The element of the model.
        element: Address,
        /// The AppKey to unbind.
        app_key_index: KeyIndex,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.48
    ModelAppStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The AppKey of the request.
        app_key_index: KeyIndex,
        /// The model.
        model: ModelId,
    },
    /// §4.3.2.49 (SIG model, 0x804B) or §4.3.2.51 (vendor model, 0x804D).
    ModelAppGet {
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
    },
    /// §4.3.2.50 (SIG model, 0x804C) or §4.3.2.52 (vendor model, 0x804E).
    ModelAppList {
        /// Status code of the request.
        status: StatusCode,
        /// The element of the model.
        element: Address,
        /// The model; its kind selects the opcode.
        model: ModelId,
        /// The AppKeys bound to the model.
        app_key_indexes: Vec<KeyIndex>,
    },
    /// §4.3.2.53: no parameters.
    FriendGet,
    /// §4.3.2.54: Disabled or Enabled.
    FriendSet {
        /// The new Friend state.
        state: FeatureState,
    },
    /// §4.3.2.55
    FriendStatus {
        /// The Friend state.
        state: FeatureState,
    },
    /// §4.3.2.56
    KeyRefreshPhaseGet {
        /// The subnet.
        net_key_index: KeyIndex,
    },
    /// §4.3.2.57: Transition 0x02 or 0x03 (§4.2.14 Table "Key Refresh Phase transition").
    KeyRefreshPhaseSet {
        /// The subnet.
        net_key_index: KeyIndex,
        /// The transition: 0x02 (to phase 2) or 0x03 (to phase 3, then Normal operation).
        transition: u8,
    },
    /// §4.3.2.58: Phase 0x00..=0x02 (§4.2.14).
    KeyRefreshPhaseStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The subnet.
        net_key_index: KeyIndex,
        /// The Key Refresh Phase: 0 normal operation, 1 first phase, 2 second phase.
        phase: u8,
    },
    /// §4.3.2.59: no parameters.
    HeartbeatPublicationGet,
    /// §4.3.2.60
    HeartbeatPublicationSet(HeartbeatPublication),
    /// §4.3.2.61
    HeartbeatPublicationStatus {
        /// Status code of the request.
        status: StatusCode,
        /// The Heartbeat Publication state.
        publication: HeartbeatPublication,
    },
    /// §4.3.2.62: no parameters.
    HeartbeatSubscriptionGet,
    /// §4.3.2.63
    HeartbeatSubscriptionSet {
        /// Source address of the heartbeats to count.
        source: Address,
        /// Destination address of the heartbeats to count.
        destination: Address,
        /// Period Log: 0x00..=0x11.
        period_log: u8,
    },
    /// §4.3.2.64
    HeartbeatSubscriptionStatus(HeartbeatSubscription),
    /// §4.3.2.65
    LowPowerNodePollTimeoutGet {
        /// The Low Power node's primary element address.
        lpn: Address,
    },
    /// §4.3.2.66
    LowPowerNodePollTimeoutStatus {
        /// The Low Power node's primary element address.
        lpn: Address,
        /// PollTimeout timer value in units of 100 ms (24 bits): 0, or 0x0A..=0x34BBFF.
        poll_timeout: u32,
    },
    /// §4.3.2.67: no parameters.
    NetworkTransmitGet,
    /// §4.3.2.68
    NetworkTransmitSet {
        /// Network Transmit Count and Interval Steps.
        transmit: Retransmit,
    },
    /// §4.3.2.69
    NetworkTransmitStatus {
        /// Network Transmit Count and Interval Steps.
        transmit: Retransmit,
    },
    /// §4.3.2.70: no parameters.
    NodeReset,
    /// §4.3.2.71: no parameters.
    NodeResetStatus,
}

fn read_key(r: &mut Reader<'_>) -> Result<[u8; 16]> {
    r.array::<16>()
}

fn read_index(r: &mut Reader<'_>) -> Result<KeyIndex> {
    // MshPRT §4.3.1.1: 12 bits, the upper 4 bits of the 2 octets RFU.
    Ok(KeyIndex::from_bits(r.u16()?))
}

fn read_pair(r: &mut Reader<'_>) -> Result<(KeyIndex, KeyIndex)> {
    Ok(unpack_key_index_pair(r.array::<3>()?))
}

fn read_status(r: &mut Reader<'_>) -> Result<StatusCode> {
    Ok(StatusCode::from_u8(r.u8()?))
}

fn read_addresses(bytes: &[u8]) -> Result<Vec<Address>> {
    if !bytes.len().is_multiple_of(2) {
        return Err(invalid("address list length", bytes.len() as u32));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|c| Address(u16::from_le_bytes([c[0], c[1]])))
        .collect())
}

fn hex16(b: &[u8; 16]) -> String {
    hex::encode(b)
}

impl ConfigMessage {
    /// The status code a status message carries (MshPRT §4.3.5), `None` for messages without
    /// one (requests, and statuses of states that cannot fail).
    pub fn status(&self) -> Option<StatusCode> {
        use ConfigMessage as M;
        match self {
            M::AppKeyList { status, .. }
            | M::AppKeyStatus { status, .. }
            | M::HeartbeatPublicationStatus { status, .. }
            | M::KeyRefreshPhaseStatus { status, .. }
            | M::ModelAppList { status, .. }
            | M::ModelAppStatus { status, .. }
            | M::ModelPublicationStatus { status, .. }
            | M::ModelSubscriptionList { status, .. }
            | M::ModelSubscriptionStatus { status, .. }
            | M::NetKeyStatus { status, .. }
            | M::NodeIdentityStatus { status, .. } => Some(*status),
            M::HeartbeatSubscriptionStatus(h) => Some(h.status),
            _ => None,
        }
    }

    /// The opcode of the status (or list) message that answers this request (MshPRT §4.3.4,
    /// "Summary of opcodes"; each request's §4.3.2.x names its response), `None` for messages
    /// that answer nothing themselves (statuses and lists).
    pub fn status_opcode(&self) -> Option<Opcode> {
        use ConfigMessage as M;
        Some(match self {
            M::BeaconGet | M::BeaconSet { .. } => BEACON_STATUS,
            M::CompositionDataGet { .. } => COMPOSITION_DATA_STATUS,
            M::DefaultTtlGet | M::DefaultTtlSet { .. } => DEFAULT_TTL_STATUS,
            M::GattProxyGet | M::GattProxySet { .. } => GATT_PROXY_STATUS,
            M::RelayGet | M::RelaySet { .. } => RELAY_STATUS,
            M::ModelPublicationGet { .. }
            | M::ModelPublicationSet { .. }
            | M::ModelPublicationVirtualAddressSet { .. } => MODEL_PUBLICATION_STATUS,
            M::ModelSubscriptionAdd { .. }
            | M::ModelSubscriptionVirtualAddressAdd { .. }
            | M::ModelSubscriptionDelete { .. }
            | M::ModelSubscriptionVirtualAddressDelete { .. }
            | M::ModelSubscriptionOverwrite { .. }
            | M::ModelSubscriptionVirtualAddressOverwrite { .. }
            | M::ModelSubscriptionDeleteAll { .. } => MODEL_SUBSCRIPTION_STATUS,
            // §4.3.2.27..=§4.3.2.30: the SIG or vendor list, as the model is.
            M::ModelSubscriptionGet { model, .. } if model.is_vendor() => {
                VENDOR_MODEL_SUBSCRIPTION_LIST
            }
            M::ModelSubscriptionGet { .. } => SIG_MODEL_SUBSCRIPTION_LIST,
            M::NetKeyAdd { .. } | M::NetKeyUpdate { .. } | M::NetKeyDelete { .. } => NETKEY_STATUS,
            M::NetKeyGet => NETKEY_LIST,
            M::AppKeyAdd { .. } | M::AppKeyUpdate { .. } | M::AppKeyDelete { .. } => APPKEY_STATUS,
            M::AppKeyGet { .. } => APPKEY_LIST,
            M::NodeIdentityGet { .. } | M::NodeIdentitySet { .. } => NODE_IDENTITY_STATUS,
            M::ModelAppBind { .. } | M::ModelAppUnbind { .. } => MODEL_APP_STATUS,
            // §4.3.2.49..=§4.3.2.52: the SIG or vendor list, as the model is.
            M::ModelAppGet { model, .. } if model.is_vendor() => VENDOR_MODEL_APP_LIST,
            M::ModelAppGet { .. } => SIG_MODEL_APP_LIST,
            M::FriendGet | M::FriendSet { .. } => FRIEND_STATUS,
            M::KeyRefreshPhaseGet { .. } | M::KeyRefreshPhaseSet { .. } => KEY_REFRESH_PHASE_STATUS,
            M::HeartbeatPublicationGet | M::HeartbeatPublicationSet(_) => {
                HEARTBEAT_PUBLICATION_STATUS
            }
            M::HeartbeatSubscriptionGet | M::HeartbeatSubscriptionSet { .. } => {
                HEARTBEAT_SUBSCRIPTION_STATUS
            }
            M::LowPowerNodePollTimeoutGet { .. } => LPN_POLL_TIMEOUT_STATUS,
            M::NetworkTransmitGet | M::NetworkTransmitSet { .. } => NETWORK_TRANSMIT_STATUS,
            M::NodeReset => NODE_RESET_STATUS,
            M::BeaconStatus { .. }
            | M::CompositionDataStatus { .. }
            | M::DefaultTtlStatus { .. }
            | M::GattProxyStatus { .. }
            | M::RelayStatus { .. }
            | M::ModelPublicationStatus { .. }
            | M::ModelSubscriptionStatus { .. }
            | M::ModelSubscriptionList { .. }
            | M::NetKeyStatus { .. }
            | M::NetKeyList { .. }
            | M::AppKeyStatus { .. }
            | M::AppKeyList { .. }
            | M::NodeIdentityStatus { .. }
            | M::ModelAppStatus { .. }
            | M::ModelAppList { .. }
            | M::FriendStatus { .. }
            | M::KeyRefreshPhaseStatus { .. }
            | M::HeartbeatPublicationStatus { .. }
            | M::HeartbeatSubscriptionStatus(_)
            | M::LowPowerNodePollTimeoutStatus { .. }
            | M::NetworkTransmitStatus { .. }
            | M::NodeResetStatus => return None,
        })
    }

    /// Parses the parameters of the Configuration message `opcode`.
    ///
    /// Errors: an opcode that is not a Configuration message (`Invalid { field: "opcode" }`),
    /// wrong lengths (`Truncated`, `TooLong`, or `Invalid` for a model identifier that is
    /// neither 2 nor 4 octets), and prohibited values (`Invalid`).
    pub fn parse(opcode: Opcode, params: &[u8]) -> Result<Self> {
        use ConfigMessage as M;
        let mut rd = Reader::new(params);
        let r = &mut rd;
        let m = match opcode {
            BEACON_GET => M::BeaconGet,
            BEACON_SET | BEACON_STATUS => {
                // §4.2.10: Secure Network Beacon 0x00 or 0x01; 0x02..=0xFF prohibited.
                let b = r.u8()?;
                if b > 1 {
                    return Err(invalid("Beacon", b));
                }
                if opcode == BEACON_SET {
                    M::BeaconSet { enabled: b == 1 }
                } else {
                    M::BeaconStatus { enabled: b == 1 }
                }
            }
            COMPOSITION_DATA_GET => M::CompositionDataGet { page: r.u8()? },
            COMPOSITION_DATA_STATUS => M::CompositionDataStatus {
                page: r.u8()?,
                data: r.rest().to_vec(),
            },
            DEFAULT_TTL_GET => M::DefaultTtlGet,
            DEFAULT_TTL_SET => M::DefaultTtlSet {
                ttl: check_ttl(r.u8()?)?,
            },
            DEFAULT_TTL_STATUS => M::DefaultTtlStatus {
                ttl: check_ttl(r.u8()?)?,
            },
            GATT_PROXY_GET => M::GattProxyGet,
            GATT_PROXY_SET => M::GattProxySet {
                state: FeatureState::parse_set("GATT Proxy", r.u8()?)?,
            },
            GATT_PROXY_STATUS => M::GattProxyStatus {
                state: FeatureState::parse_status("GATT Proxy", r.u8()?)?,
            },
            RELAY_GET => M::RelayGet,
            RELAY_SET => M::RelaySet {
                state: FeatureState::parse_set("Relay", r.u8()?)?,
                retransmit: Retransmit::from_byte(r.u8()?),
            },
            RELAY_STATUS => M::RelayStatus {
                state: FeatureState::parse_status("Relay", r.u8()?)?,
                retransmit: Retransmit::from_byte(r.u8()?),
            },
            MODEL_PUBLICATION_GET => M::ModelPublicationGet {
                element: Address(r.u16()?),
                model: r.model_id()?,
            },
            MODEL_PUBLICATION_SET => M::ModelPublicationSet {
                element: Address(r.u16()?),
                address: Address(r.u16()?),
                publication: Publication::read(r)?,
                model: r.model_id()?,
            },
            MODEL_PUBLICATION_VIRTUAL_ADDRESS_SET => M::ModelPublicationVirtualAddressSet {
                element: Address(r.u16()?),
                label: r.array::<16>()?,
                publication: Publication::read(r)?,
                model: r.model_id()?,
            },
            MODEL_PUBLICATION_STATUS => M::ModelPublicationStatus {
                status: read_status(r)?,
                element: Address(r.u16()?),
                address: Address(r.u16()?),
                publication: Publication::read(r)?,
                model: r.model_id()?,
            },
            MODEL_SUBSCRIPTION_ADD | MODEL_SUBSCRIPTION_DELETE | MODEL_SUBSCRIPTION_OVERWRITE => {
                let element = Address(r.u16()?);
                let address = Address(r.u16()?);
                let model = r.model_id()?;
                match opcode {
                    MODEL_SUBSCRIPTION_ADD => M::ModelSubscriptionAdd {
                        element,
                        address,
                        model,
                    },
                    MODEL_SUBSCRIPTION_DELETE => M::ModelSubscriptionDelete {
                        element,
                        address,
                        model,
                    },
                    _ => M::ModelSubscriptionOverwrite {
                        element,
                        address,
                        model,
                    },
                }
            }
            MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD
            | MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE
            | MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_OVERWRITE => {
                let element = Address(r.u16()?);
                let label = r.array::<16>()?;
                let model = r.model_id()?;
                match opcode {
                    MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD => {
                        M::ModelSubscriptionVirtualAddressAdd {
                            element,
                            label,
                            model,
                        }
                    }
                    MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE => {
                        M::ModelSubscriptionVirtualAddressDelete {
                            element,
                            label,
                            model,
                        }
                    }
                    _ => M::ModelSubscriptionVirtualAddressOverwrite {
                        element,
                        label,
                        model,
                    },
                }
            }
            MODEL_SUBSCRIPTION_DELETE_ALL => M::ModelSubscriptionDeleteAll {
                element: Address(r.u16()?),
                model: r.model_id()?,
            },
            MODEL_SUBSCRIPTION_STATUS => M::ModelSubscriptionStatus {
                status: read_status(r)?,
                element: Address(r.u16()?),
                address: Address(r.u16()?),
                model: r.model_id()?,
            },
            SIG_MODEL_SUBSCRIPTION_GET | SIG_MODEL_APP_GET => {
                let element = Address(r.u16()?);
                let model = ModelId::Sig(r.u16()?);
                if opcode == SIG_MODEL_APP_GET {
                    M::ModelAppGet { element, model }
                } else {
                    M::ModelSubscriptionGet { element, model }
                }
            }
            VENDOR_MODEL_SUBSCRIPTION_GET | VENDOR_MODEL_APP_GET => {
                let element = Address(r.u16()?);
                let model = ModelId::parse(r.take(4)?)?;
                if opcode == VENDOR_MODEL_APP_GET {
                    M::ModelAppGet { element, model }
                } else {
                    M::ModelSubscriptionGet { element, model }
                }
            }
            SIG_MODEL_SUBSCRIPTION_LIST
            | VENDOR_MODEL_SUBSCRIPTION_LIST
            | SIG_MODEL_APP_LIST
            | VENDOR_MODEL_APP_LIST => {
                let status = read_status(r)?;
                let element = Address(r.u16()?);
                let vendor = matches!(
                    opcode,
                    VENDOR_MODEL_SUBSCRIPTION_LIST | VENDOR_MODEL_APP_LIST
                );
                let model = ModelId::parse(r.take(if vendor { 4 } else { 2 })?)?;
                let rest = r.rest();
                if matches!(opcode, SIG_MODEL_APP_LIST | VENDOR_MODEL_APP_LIST) {
                    M::ModelAppList {
                        status,
                        element,
                        model,
                        app_key_indexes: unpack_key_indexes(rest)?,
                    }
                } else {
                    M::ModelSubscriptionList {
                        status,
                        element,
                        model,
                        addresses: read_addresses(rest)?,
                    }
                }
            }
            NETKEY_ADD => M::NetKeyAdd {
                net_key_index: read_index(r)?,
                key: read_key(r)?,
            },
            NETKEY_UPDATE => M::NetKeyUpdate {
                net_key_index: read_index(r)?,
                key: read_key(r)?,
            },
            NETKEY_DELETE => M::NetKeyDelete {
                net_key_index: read_index(r)?,
            },
            NETKEY_STATUS => M::NetKeyStatus {
                status: read_status(r)?,
                net_key_index: read_index(r)?,
            },
            NETKEY_GET => M::NetKeyGet,
            NETKEY_LIST => M::NetKeyList {
                net_key_indexes: unpack_key_indexes(r.rest())?,
            },
            APPKEY_ADD | APPKEY_UPDATE => {
                let (net_key_index, app_key_index) = read_pair(r)?;
                let key = read_key(r)?;
                if opcode == APPKEY_ADD {
                    M::AppKeyAdd {
                        net_key_index,
                        app_key_index,
                        key,
                    }
                } else {
                    M::AppKeyUpdate {
                        net_key_index,
                        app_key_index,
                        key,
                    }
                }
            }
            APPKEY_DELETE => {
                let (net_key_index, app_key_index) = read_pair(r)?;
                M::AppKeyDelete {
                    net_key_index,
                    app_key_index,
                }
            }
            APPKEY_STATUS => {
                let status = read_status(r)?;
                let (net_key_index, app_key_index) = read_pair(r)?;
                M::AppKeyStatus {
                    status,
                    net_key_index,
                    app_key_index,
                }
            }
            APPKEY_GET => M::AppKeyGet {
                net_key_index: read_index(r)?,
            },
            APPKEY_LIST => M::AppKeyList {
                status: read_status(r)?,
                net_key_index: read_index(r)?,
                app_key_indexes: unpack_key_indexes(r.rest())?,
            },
            NODE_IDENTITY_GET => M::NodeIdentityGet {
                net_key_index: read_index(r)?,
            },
            NODE_IDENTITY_SET => M::NodeIdentitySet {
                net_key_index: read_index(r)?,
                identity: FeatureState::parse_set("Node Identity", r.u8()?)?,
            },
            NODE_IDENTITY_STATUS => M::NodeIdentityStatus {
                status: read_status(r)?,
                net_key_index: read_index(r)?,
                identity: FeatureState::parse_status("Node Identity", r.u8()?)?,
            },
            MODEL_APP_BIND | MODEL_APP_UNBIND => {
                let element = Address(r.u16()?);
                let app_key_index = read_index(r)?;
                let model = r.model_id()?;
                if opcode == MODEL_APP_BIND {
                    M::ModelAppBind {
                        element,
                        app_key_index,
                        model,
                    }
                } else {
                    M::ModelAppUnbind {
                        element,
                        app_key_index,
                        model,
                    }
                }
            }
            MODEL_APP_STATUS => M::ModelAppStatus {
                status: read_status(r)?,
                element: Address(r.u16()?),
                app_key_index: read_index(r)?,
                model: r.model_id()?,
            },
            FRIEND_GET => M::FriendGet,
            FRIEND_SET => M::FriendSet {
                state: FeatureState::parse_set("Friend", r.u8()?)?,
            },
            FRIEND_STATUS => M::FriendStatus {
                state: FeatureState::parse_status("Friend", r.u8()?)?,
            },
            KEY_REFRESH_PHASE_GET => M::KeyRefreshPhaseGet {
                net_key_index: read_index(r)?,
            },
            KEY_REFRESH_PHASE_SET => {
                let net_key_index = read_index(r)?;
                let transition = r.u8()?;
                // §4.2.14: only the transitions 0x02 and 0x03 may be requested.
                if !(0x02..=0x03).contains(&transition) {
                    return Err(invalid("Key Refresh Phase Transition", transition));
                }
                M::KeyRefreshPhaseSet {
                    net_key_index,
                    transition,
                }
            }
            KEY_REFRESH_PHASE_STATUS => {
                let status = read_status(r)?;
                let net_key_index = read_index(r)?;
                let phase = r.u8()?;
                // §4.2.14: phases 0x00..=0x02; 0x03..=0xFF prohibited.
                if phase > 0x02 {
                    return Err(invalid("Key Refresh Phase", phase));
                }
                M::KeyRefreshPhaseStatus {
                    status,
                    net_key_index,
                    phase,
                }
            }
            HEARTBEAT_PUBLICATION_GET => M::HeartbeatPublicationGet,
            HEARTBEAT_PUBLICATION_SET => M::HeartbeatPublicationSet(HeartbeatPublication::read(r)?),
            HEARTBEAT_PUBLICATION_STATUS => M::HeartbeatPublicationStatus {
                status: read_status(r)?,
                publication: HeartbeatPublication::read(r)?,
            },
            HEARTBEAT_SUBSCRIPTION_GET => M::HeartbeatSubscriptionGet,
            HEARTBEAT_SUBSCRIPTION_SET => M::HeartbeatSubscriptionSet {
                source: Address(r.u16()?),
                destination: Address(r.u16()?),
                period_log: check_period_log("Heartbeat Subscription Period Log", r.u8()?)?,
            },
            HEARTBEAT_SUBSCRIPTION_STATUS => {
                let status = read_status(r)?;
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
                M::HeartbeatSubscriptionStatus(HeartbeatSubscription {
                    status,
                    source,
                    destination,
                    period_log,
                    count_log,
                    min_hops,
                    max_hops,
                })
            }
            LPN_POLL_TIMEOUT_GET => M::LowPowerNodePollTimeoutGet {
                lpn: Address(r.u16()?),
            },
            LPN_POLL_TIMEOUT_STATUS => M::LowPowerNodePollTimeoutStatus {
                lpn: Address(r.u16()?),
                poll_timeout: check_poll_timeout(r.u24()?)?,
            },
            NETWORK_TRANSMIT_GET => M::NetworkTransmitGet,
            NETWORK_TRANSMIT_SET => M::NetworkTransmitSet {
                transmit: Retransmit::from_byte(r.u8()?),
            },
            NETWORK_TRANSMIT_STATUS => M::NetworkTransmitStatus {
                transmit: Retransmit::from_byte(r.u8()?),
            },
            NODE_RESET => M::NodeReset,
            NODE_RESET_STATUS => M::NodeResetStatus,
            _ => return Err(unknown_opcode(opcode)),
        };
        rd.end()?;
        Ok(m)
    }

    /// Parses an access message.
    pub fn from_access(m: &AccessMessage) -> Result<Self> {
        Self::parse(m.opcode, &m.parameters)
    }

    /// The opcode of the message (MshPRT §4.3.4).
    pub fn opcode(&self) -> Opcode {
        use ConfigMessage as M;
        match self {
            M::BeaconGet => BEACON_GET,
            M::BeaconSet { .. } => BEACON_SET,
            M::BeaconStatus { .. } => BEACON_STATUS,
            M::CompositionDataGet { .. } => COMPOSITION_DATA_GET,
            M::CompositionDataStatus { .. } => COMPOSITION_DATA_STATUS,
            M::DefaultTtlGet => DEFAULT_TTL_GET,
            M::DefaultTtlSet { .. } => DEFAULT_TTL_SET,
            M::DefaultTtlStatus { .. } => DEFAULT_TTL_STATUS,
            M::GattProxyGet => GATT_PROXY_GET,
            M::GattProxySet { .. } => GATT_PROXY_SET,
            M::GattProxyStatus { .. } => GATT_PROXY_STATUS,
            M::RelayGet => RELAY_GET,
            M::RelaySet { .. } => RELAY_SET,
            M::RelayStatus { .. } => RELAY_STATUS,
            M::ModelPublicationGet { .. } => MODEL_PUBLICATION_GET,
            M::ModelPublicationSet { .. } => MODEL_PUBLICATION_SET,
            M::ModelPublicationVirtualAddressSet { .. } => MODEL_PUBLICATION_VIRTUAL_ADDRESS_SET,
            M::ModelPublicationStatus { .. } => MODEL_PUBLICATION_STATUS,
            M::ModelSubscriptionAdd { .. } => MODEL_SUBSCRIPTION_ADD,
            M::ModelSubscriptionVirtualAddressAdd { .. } => MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD,
            M::ModelSubscriptionDelete { .. } => MODEL_SUBSCRIPTION_DELETE,
            M::ModelSubscriptionVirtualAddressDelete { .. } => {
                MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE
            }
            M::ModelSubscriptionOverwrite { .. } => MODEL_SUBSCRIPTION_OVERWRITE,
            M::ModelSubscriptionVirtualAddressOverwrite { .. } => {
                MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_OVERWRITE
            }
            M::ModelSubscriptionDeleteAll { .. } => MODEL_SUBSCRIPTION_DELETE_ALL,
            M::ModelSubscriptionStatus { .. } => MODEL_SUBSCRIPTION_STATUS,
            M::ModelSubscriptionGet { model, .. } => {
                if model.is_vendor() {
                    VENDOR_MODEL_SUBSCRIPTION_GET
                } else {
                    SIG_MODEL_SUBSCRIPTION_GET
                }
            }
            M::ModelSubscriptionList { model, .. } => {
                if model.is_vendor() {
                    VENDOR_MODEL_SUBSCRIPTION_LIST
                } else {
                    SIG_MODEL_SUBSCRIPTION_LIST
                }
            }
            M::NetKeyAdd { .. } => NETKEY_ADD,
            M::NetKeyUpdate { .. } => NETKEY_UPDATE,
            M::NetKeyDelete { .. } => NETKEY_DELETE,
            M::NetKeyStatus { .. } => NETKEY_STATUS,
            M::NetKeyGet => NETKEY_GET,
            M::NetKeyList { .. } => NETKEY_LIST,
            M::AppKeyAdd { .. } => APPKEY_ADD,
            M::AppKeyUpdate { .. } => APPKEY_UPDATE,
            M::AppKeyDelete { .. } => APPKEY_DELETE,
            M::AppKeyStatus { .. } => APPKEY_STATUS,
            M::AppKeyGet { .. } => APPKEY_GET,
            M::AppKeyList { .. } => APPKEY_LIST,
            M::NodeIdentityGet { .. } => NODE_IDENTITY_GET,
            M::NodeIdentitySet { .. } => NODE_IDENTITY_SET,
            M::NodeIdentityStatus { .. } => NODE_IDENTITY_STATUS,
            M::ModelAppBind { .. } => MODEL_APP_BIND,
            M::ModelAppUnbind { .. } => MODEL_APP_UNBIND,
            M::ModelAppStatus { .. } => MODEL_APP_STATUS,
            M::ModelAppGet { model, .. } => {
                if model.is_vendor() {
                    VENDOR_MODEL_APP_GET
                } else {
                    SIG_MODEL_APP_GET
                }
            }
            M::ModelAppList { model, .. } => {
                if model.is_vendor() {
                    VENDOR_MODEL_APP_LIST
                } else {
                    SIG_MODEL_APP_LIST
                }
            }
            M::FriendGet => FRIEND_GET,
            M::FriendSet { .. } => FRIEND_SET,
            M::FriendStatus { .. } => FRIEND_STATUS,
            M::KeyRefreshPhaseGet { .. } => KEY_REFRESH_PHASE_GET,
            M::KeyRefreshPhaseSet { .. } => KEY_REFRESH_PHASE_SET,
            M::KeyRefreshPhaseStatus { .. } => KEY_REFRESH_PHASE_STATUS,
            M::HeartbeatPublicationGet => HEARTBEAT_PUBLICATION_GET,
            M::HeartbeatPublicationSet(_) => HEARTBEAT_PUBLICATION_SET,
            M::HeartbeatPublicationStatus { .. } => HEARTBEAT_PUBLICATION_STATUS,
            M::HeartbeatSubscriptionGet => HEARTBEAT_SUBSCRIPTION_GET,
            M::HeartbeatSubscriptionSet { .. } => HEARTBEAT_SUBSCRIPTION_SET,
            M::HeartbeatSubscriptionStatus(_) => HEARTBEAT_SUBSCRIPTION_STATUS,
            M::LowPowerNodePollTimeoutGet { .. } => LPN_POLL_TIMEOUT_GET,
            M::LowPowerNodePollTimeoutStatus { .. } => LPN_POLL_TIMEOUT_STATUS,
            M::NetworkTransmitGet => NETWORK_TRANSMIT_GET,
            M::NetworkTransmitSet { .. } => NETWORK_TRANSMIT_SET,
            M::NetworkTransmitStatus { .. } => NETWORK_TRANSMIT_STATUS,
            M::NodeReset => NODE_RESET,
            M::NodeResetStatus => NODE_RESET_STATUS,
        }
    }

    /// The parameters on air (little-endian fields, MshPRT §3.1.1.2).
    pub fn emit_params(&self) -> Vec<u8> {
        use ConfigMessage as M;
        let mut o = Vec::new();
        let out = &mut o;
        match self {
            M::BeaconGet
            | M::DefaultTtlGet
            | M::GattProxyGet
            | M::RelayGet
            | M::NetKeyGet
            | M::FriendGet
            | M::HeartbeatPublicationGet
            | M::HeartbeatSubscriptionGet
            | M::NetworkTransmitGet
            | M::NodeReset
            | M::NodeResetStatus => {}
            M::BeaconSet { enabled } | M::BeaconStatus { enabled } => out.push(u8::from(*enabled)),
            M::CompositionDataGet { page } => out.push(*page),
            M::CompositionDataStatus { page, data } => {
                out.push(*page);
                out.extend_from_slice(data);
            }
            M::DefaultTtlSet { ttl } | M::DefaultTtlStatus { ttl } => out.push(*ttl),
            M::GattProxySet { state }
            | M::GattProxyStatus { state }
            | M::FriendSet { state }
            | M::FriendStatus { state } => out.push(*state as u8),
            M::RelaySet { state, retransmit } | M::RelayStatus { state, retransmit } => {
                out.push(*state as u8);
                out.push(retransmit.to_byte());
            }
            M::ModelPublicationGet { element, model }
            | M::ModelSubscriptionDeleteAll { element, model }
            | M::ModelSubscriptionGet { element, model }
            | M::ModelAppGet { element, model } => {
                put_u16(out, element.0);
                model.write(out);
            }
            M::ModelPublicationSet {
                element,
                address,
                publication,
                model,
            } => {
                put_u16(out, element.0);
                put_u16(out, address.0);
                publication.write(out);
                model.write(out);
            }
            M::ModelPublicationVirtualAddressSet {
                element,
                label,
                publication,
                model,
            } => {
                put_u16(out, element.0);
                out.extend_from_slice(label);
                publication.write(out);
                model.write(out);
            }
            M::ModelPublicationStatus {
                status,
                element,
                address,
                publication,
                model,
            } => {
                out.push(status.to_u8());
                put_u16(out, element.0);
                put_u16(out, address.0);
                publication.write(out);
                model.write(out);
            }
            M::ModelSubscriptionAdd {
                element,
                address,
                model,
            }
            | M::ModelSubscriptionDelete {
                element,
                address,
                model,
            }
            | M::ModelSubscriptionOverwrite {
                element,
                address,
                model,
            } => {
                put_u16(out, element.0);
                put_u16(out, address.0);
                model.write(out);
            }
            M::ModelSubscriptionVirtualAddressAdd {
                element,
                label,
                model,
            }
            | M::ModelSubscriptionVirtualAddressDelete {
                element,
                label,
                model,
            }
            | M::ModelSubscriptionVirtualAddressOverwrite {
                element,
                label,
                model,
            } => {
                put_u16(out, element.0);
                out.extend_from_slice(label);
                model.write(out);
            }
            M::ModelSubscriptionStatus {
                status,
                element,
                address,
                model,
            } => {
                out.push(status.to_u8());
                put_u16(out, element.0);
                put_u16(out, address.0);
                model.write(out);
            }
            M::ModelSubscriptionList {
                status,
                element,
                model,
                addresses,
            } => {
                out.push(status.to_u8());
                put_u16(out, element.0);
                model.write(out);
                for a in addresses {
                    put_u16(out, a.0);
                }
            }
            M::NetKeyAdd { net_key_index, key } | M::NetKeyUpdate { net_key_index, key } => {
                put_u16(out, net_key_index.get());
                out.extend_from_slice(key);
            }
            M::NetKeyDelete { net_key_index }
            | M::AppKeyGet { net_key_index }
            | M::NodeIdentityGet { net_key_index }
            | M::KeyRefreshPhaseGet { net_key_index } => put_u16(out, net_key_index.get()),
            M::NetKeyStatus {
                status,
                net_key_index,
            } => {
                out.push(status.to_u8());
                put_u16(out, net_key_index.get());
            }
            M::NetKeyList { net_key_indexes } => out.extend(pack_key_indexes(net_key_indexes)),
            M::AppKeyAdd {
                net_key_index,
                app_key_index,
                key,
            }
            | M::AppKeyUpdate {
                net_key_index,
                app_key_index,
                key,
            } => {
                out.extend_from_slice(&pack_key_index_pair(*net_key_index, *app_key_index));
                out.extend_from_slice(key);
            }
            M::AppKeyDelete {
                net_key_index,
                app_key_index,
            } => out.extend_from_slice(&pack_key_index_pair(*net_key_index, *app_key_index)),
            M::AppKeyStatus {
                status,
                net_key_index,
                app_key_index,
            } => {
                out.push(status.to_u8());
                out.extend_from_slice(&pack_key_index_pair(*net_key_index, *app_key_index));
            }
            M::AppKeyList {
                status,
                net_key_index,
                app_key_indexes,
            } => {
                out.push(status.to_u8());
                put_u16(out, net_key_index.get());
                out.extend(pack_key_indexes(app_key_indexes));
            }
            M::NodeIdentitySet {
                net_key_index,
                identity,
            } => {
                put_u16(out, net_key_index.get());
                out.push(*identity as u8);
            }
            M::NodeIdentityStatus {
                status,
                net_key_index,
                identity,
            } => {
                out.push(status.to_u8());
                put_u16(out, net_key_index.get());
                out.push(*identity as u8);
            }
            M::ModelAppBind {
                element,
                app_key_index,
                model,
            }
            | M::ModelAppUnbind {
                element,
                app_key_index,
                model,
            } => {
                put_u16(out, element.0);
                put_u16(out, app_key_index.get());
                model.write(out);
            }
            M::ModelAppStatus {
                status,
                element,
                app_key_index,
                model,
            } => {
                out.push(status.to_u8());
                put_u16(out, element.0);
                put_u16(out, app_key_index.get());
                model.write(out);
            }
            M::ModelAppList {
                status,
                element,
                model,
                app_key_indexes,
            } => {
                out.push(status.to_u8());
                put_u16(out, element.0);
                model.write(out);
                out.extend(pack_key_indexes(app_key_indexes));
            }
            M::KeyRefreshPhaseSet {
                net_key_index,
                transition,
            } => {
                put_u16(out, net_key_index.get());
                out.push(*transition);
            }
            M::KeyRefreshPhaseStatus {
                status,
                net_key_index,
                phase,
            } => {
                out.push(status.to_u8());
                put_u16(out, net_key_index.get());
                out.push(*phase);
            }
            M::HeartbeatPublicationSet(p) => p.write(out),
            M::HeartbeatPublicationStatus {
                status,
                publication,
            } => {
                out.push(status.to_u8());
                publication.write(out);
            }
            M::HeartbeatSubscriptionSet {
                source,
                destination,
                period_log,
            } => {
                put_u16(out, source.0);
                put_u16(out, destination.0);
                out.push(*period_log);
            }
            M::HeartbeatSubscriptionStatus(s) => {
                out.push(s.status.to_u8());
                put_u16(out, s.source.0);
                put_u16(out, s.destination.0);
                out.push(s.period_log);
                out.push(s.count_log);
                out.push(s.min_hops);
                out.push(s.max_hops);
            }
            M::LowPowerNodePollTimeoutGet { lpn } => put_u16(out, lpn.0),
            M::LowPowerNodePollTimeoutStatus { lpn, poll_timeout } => {
                put_u16(out, lpn.0);
                put_u24(out, *poll_timeout);
            }
            M::NetworkTransmitSet { transmit } | M::NetworkTransmitStatus { transmit } => {
                out.push(transmit.to_byte())
            }
        }
        o
    }

    /// The access message: opcode and parameters.
    pub fn to_access(&self) -> AccessMessage {
        AccessMessage::new(self.opcode(), self.emit_params())
    }

    /// A one-line human summary, e.g. `Config AppKey Status Success net 0x456 app 0x123`.
    pub fn describe(&self) -> String {
        use ConfigMessage as M;
        let name = self.opcode().name().unwrap_or("Config ?");
        let details = match self {
            M::BeaconGet
            | M::DefaultTtlGet
            | M::GattProxyGet
            | M::RelayGet
            | M::NetKeyGet
            | M::FriendGet
            | M::HeartbeatPublicationGet
            | M::HeartbeatSubscriptionGet
            | M::NetworkTransmitGet
            | M::NodeReset
            | M::NodeResetStatus => String::new(),
            M::BeaconSet { enabled } | M::BeaconStatus { enabled } => {
                (if *enabled { "enabled" } else { "disabled" }).to_string()
            }
            M::CompositionDataGet { page } => format!("page {page}"),
            M::CompositionDataStatus { page, data } => {
                let summary = if *page == 0 {
                    crate::ble::foundation::composition::CompositionDataPage0::parse(data)
                        .map(|c| c.describe())
                        .unwrap_or_else(|e| format!("malformed page 0: {e}"))
                } else {
                    format!("{} octets", data.len())
                };
                format!("page {page} {summary}")
            }
            M::DefaultTtlSet { ttl } | M::DefaultTtlStatus { ttl } => format!("ttl {ttl}"),
            M::GattProxySet { state }
            | M::GattProxyStatus { state }
            | M::FriendSet { state }
            | M::FriendStatus { state } => state.name().to_string(),
            M::RelaySet { state, retransmit } | M::RelayStatus { state, retransmit } => format!(
                "{} retransmit {}x{}ms",
                state.name(),
                retransmit.count,
                retransmit.network_interval_ms()
            ),
            M::ModelPublicationGet { element, model }
            | M::ModelSubscriptionDeleteAll { element, model }
            | M::ModelSubscriptionGet { element, model }
            | M::ModelAppGet { element, model } => format!("element {element} model {model}"),
            M::ModelPublicationSet {
                element,
                address,
                publication,
                model,
            } => format!(
                "element {element} model {model} address {address} {}",
                publication.describe()
            ),
            M::ModelPublicationVirtualAddressSet {
                element,
                label,
                publication,
                model,
            } => format!(
                "element {element} model {model} label {} {}",
                hex16(label),
                publication.describe()
            ),
            M::ModelPublicationStatus {
                status,
                element,
                address,
                publication,
                model,
            } => format!(
                "{status} element {element} model {model} address {address} {}",
                publication.describe()
            ),
            M::ModelSubscriptionAdd {
                element,
                address,
                model,
            }
            | M::ModelSubscriptionDelete {
                element,
                address,
                model,
            }
            | M::ModelSubscriptionOverwrite {
                element,
                address,
                model,
            } => format!("element {element} model {model} address {address}"),
            M::ModelSubscriptionVirtualAddressAdd {
                element,
                label,
                model,
            }
            | M::ModelSubscriptionVirtualAddressDelete {
                element,
                label,
                model,
            }
            | M::ModelSubscriptionVirtualAddressOverwrite {
                element,
                label,
                model,
            } => format!("element {element} model {model} label {}", hex16(label)),
            M::ModelSubscriptionStatus {
                status,
                element,
                address,
                model,
            } => format!("{status} element {element} model {model} address {address}"),
            M::ModelSubscriptionList {
                status,
                element,
                model,
                addresses,
            } => format!(
                "{status} element {element} model {model} addresses [{}]",
                addresses
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            M::NetKeyAdd { net_key_index, key } | M::NetKeyUpdate { net_key_index, key } => {
                format!("net {net_key_index} key {}", hex16(key))
            }
            M::NetKeyDelete { net_key_index }
            | M::AppKeyGet { net_key_index }
            | M::NodeIdentityGet { net_key_index }
            | M::KeyRefreshPhaseGet { net_key_index } => format!("net {net_key_index}"),
            M::NetKeyStatus {
                status,
                net_key_index,
            } => format!("{status} net {net_key_index}"),
            M::NetKeyList { net_key_indexes } => format!("net [{}]", join(net_key_indexes)),
            M::AppKeyAdd {
                net_key_index,
                app_key_index,
                key,
            }
            | M::AppKeyUpdate {
                net_key_index,
                app_key_index,
                key,
            } => format!("net {net_key_index} app {app_key_index} key {}", hex16(key)),
            M::AppKeyDelete {
                net_key_index,
                app_key_index,
            } => format!("net {net_key_index} app {app_key_index}"),
            M::AppKeyStatus {
                status,
                net_key_index,
                app_key_index,
            } => format!("{status} net {net_key_index} app {app_key_index}"),
            M::AppKeyList {
                status,
                net_key_index,
                app_key_indexes,
            } => format!(
                "{status} net {net_key_index} app [{}]",
                join(app_key_indexes)
            ),
            M::NodeIdentitySet {
                net_key_index,
                identity,
            } => format!("net {net_key_index} {}", identity.name()),
            M::NodeIdentityStatus {
                status,
                net_key_index,
                identity,
            } => format!("{status} net {net_key_index} {}", identity.name()),
            M::ModelAppBind {
                element,
                app_key_index,
                model,
            }
            | M::ModelAppUnbind {
                element,
                app_key_index,
                model,
            } => format!("element {element} model {model} app {app_key_index}"),
            M::ModelAppStatus {
                status,
                element,
                app_key_index,
                model,
            } => format!("{status} element {element} model {model} app {app_key_index}"),
            M::ModelAppList {
                status,
                element,
                model,
                app_key_indexes,
            } => format!(
                "{status} element {element} model {model} app [{}]",
                join(app_key_indexes)
            ),
            M::KeyRefreshPhaseSet {
                net_key_index,
                transition,
            } => format!("net {net_key_index} transition {transition}"),
            M::KeyRefreshPhaseStatus {
                status,
                net_key_index,
                phase,
            } => format!("{status} net {net_key_index} phase {phase}"),
            M::HeartbeatPublicationSet(p) => p.describe(),
            M::HeartbeatPublicationStatus {
                status,
                publication,
            } => format!("{status} {}", publication.describe()),
            M::HeartbeatSubscriptionSet {
                source,
                destination,
                period_log,
            } => format!("src {source} dst {destination} period_log {period_log:#04x}"),
            M::HeartbeatSubscriptionStatus(s) => format!(
                "{} src {} dst {} period_log {:#04x} count_log {:#04x} hops {}..{}",
                s.status,
                s.source,
                s.destination,
                s.period_log,
                s.count_log,
                s.min_hops,
                s.max_hops
            ),
            M::LowPowerNodePollTimeoutGet { lpn } => format!("lpn {lpn}"),
            M::LowPowerNodePollTimeoutStatus { lpn, poll_timeout } => format!(
                "lpn {lpn} poll timeout {}",
                human_millis(poll_timeout.saturating_mul(100))
            ),
            M::NetworkTransmitSet { transmit } | M::NetworkTransmitStatus { transmit } => {
                format!(
                    "transmit {}x{}ms",
                    transmit.count + 1,
                    transmit.network_interval_ms()
                )
            }
        };
        if details.is_empty() {
            name.to_string()
        } else {
            format!("{name} {details}")
        }
    }
}

fn join(v: &[KeyIndex]) -> String {
    v.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn heartbeat_publication_every() {
        let a = Address(0xc000);
        let k = KeyIndex::from_bits(0);
        let h = HeartbeatPublication::every(a, 16, 7, k);
        assert_eq!(
            (h.count_log, h.period_log, h.ttl, h.features.0),
            (0xFF, 5, 7, 0x000F)
        );
        assert_eq!(HeartbeatPublication::every(a, 1, 7, k).period_log, 1);
        assert_eq!(
            HeartbeatPublication::every(a, 65_536, 7, k).period_log,
            0x11
        );
        assert_eq!(
            HeartbeatPublication::every(a, 1 << 20, 7, k).period_log,
            0x11
        );
        assert_eq!(HeartbeatPublication::every(a, 24, 200, k).period_log, 5);
        assert_eq!(HeartbeatPublication::every(a, 24, 200, k).ttl, 0x7F);
        let off = HeartbeatPublication::every(a, 0, 7, k);
        assert_eq!((off.count_log, off.period_log), (0, 0));
        // Every one encodes and parses back (MshPRT §4.3.2.62).
        for h in [h, off] {
            let m = ConfigMessage::HeartbeatPublicationSet(h);
            assert_eq!(ConfigMessage::from_access(&m.to_access()), Ok(m));
        }
    }
    use crate::ble::wire::Error;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn ki(v: u16) -> KeyIndex {
        KeyIndex::new(v).unwrap()
    }

    // MshPRT §8.3.6, message #6: Config AppKey Add from the Provisioner.
    #[test]
    fn sample_appkey_add() {
        let m =
            ConfigMessage::parse(APPKEY_ADD, &h("56341263964771734fbd76e3b40519d1d94a48")).unwrap();
        assert_eq!(
            m,
            ConfigMessage::AppKeyAdd {
                net_key_index: ki(0x456),
                app_key_index: ki(0x123),
                key: h("63964771734fbd76e3b40519d1d94a48").try_into().unwrap(),
            }
        );
        let access = m.to_access();
        use crate::ble::wire::Wire;
        assert_eq!(
            access.to_vec(),
            h("0056341263964771734fbd76e3b40519d1d94a48")
        );
        assert_eq!(ConfigMessage::from_access(&access), Ok(m.clone()));
        assert_eq!(
            m.describe(),
            "Config AppKey Add net 0x456 app 0x123 key 63964771734fbd76e3b40519d1d94a48"
        );
    }

    // MshPRT §8.3.16, message #16: Config AppKey Status from the node.
    #[test]
    fn sample_appkey_status() {
        use crate::ble::wire::Wire;
        let access = AccessMessage::parse(&h("800300563412")).unwrap();
        let m = ConfigMessage::from_access(&access).unwrap();
        assert_eq!(
            m,
            ConfigMessage::AppKeyStatus {
                status: StatusCode::Success,
                net_key_index: ki(0x456),
                app_key_index: ki(0x123),
            }
        );
        assert_eq!(m.to_access().to_vec(), h("800300563412"));
    }

    // MshPRT §8.10.1: Composition Data Page 0 sample inside a Composition Data Status.
    #[test]
    fn composition_data_status() {
        let params = h("000C001A0001000800030000010501000000800100001003103F002A00");
        let m = ConfigMessage::parse(COMPOSITION_DATA_STATUS, &params).unwrap();
        let ConfigMessage::CompositionDataStatus { page, ref data } = m else {
            panic!("{m:?}")
        };
        assert_eq!(page, 0);
        assert_eq!(data.len(), 28);
        assert!(m
            .describe()
            .starts_with("Config Composition Data Status page 0 cid 000c"));
        assert_eq!(m.emit_params(), params);
    }

    #[test]
    fn hand_computed_examples() {
        // Model Publication Set (§4.3.2.16): element 0x0102, publish to 0xC000 with AppKey
        // 0x123 and the Credential Flag, TTL 5, period 10 × 1 s, 2 retransmits every 4 steps,
        // Generic OnOff Server.
        let m = ConfigMessage::ModelPublicationSet {
            element: Address(0x0102),
            address: Address(0xC000),
            publication: Publication {
                app_key_index: ki(0x123),
                credential_flag: true,
                ttl: 5,
                period: PublishPeriod {
                    steps: 10,
                    resolution: StepResolution::S1,
                },
                retransmit: Retransmit {
                    count: 2,
                    interval_steps: 4,
                },
            },
            model: ModelId::Sig(0x1000),
        };
        assert_eq!(m.emit_params(), h("020100c02311054a220010"));
        assert_eq!(
            ConfigMessage::parse(MODEL_PUBLICATION_SET, &m.emit_params()),
            Ok(m.clone())
        );
        assert_eq!(
            m.describe(),
            "Config Model Publication Set element 0102 model 1000 address c000 app 0x123 ttl 5 \
             period 10s retransmit 2x250ms friendship"
        );
        // The vendor model form is 2 octets longer.
        let mut v = h("020100c02311054a22");
        v.extend_from_slice(&h("3f002a00"));
        let m = ConfigMessage::parse(MODEL_PUBLICATION_SET, &v).unwrap();
        assert!(matches!(
            m,
            ConfigMessage::ModelPublicationSet {
                model: ModelId::Vendor {
                    company_id: 0x003f,
                    model_id: 0x002a
                },
                ..
            }
        ));
        // Relay Set: enabled, 3 retransmits, 5 steps: 0x01, 0b00101_011.
        let m = ConfigMessage::RelaySet {
            state: FeatureState::Enabled,
            retransmit: Retransmit {
                count: 3,
                interval_steps: 5,
            },
        };
        assert_eq!(m.emit_params(), [0x01, 0x2b]);
        assert_eq!(m.describe(), "Config Relay Set enabled retransmit 3x60ms");
        // NetKey List of three indexes.
        let m = ConfigMessage::NetKeyList {
            net_key_indexes: vec![ki(0x000), ki(0x001), ki(0x002)],
        };
        assert_eq!(m.emit_params(), [0x00, 0x10, 0x00, 0x02, 0x00]);
        // Heartbeat Publication Set: to 0xC001, count log 0xFF, period log 4, TTL 7, relay
        // and friend features, NetKey 1.
        let m = ConfigMessage::HeartbeatPublicationSet(HeartbeatPublication {
            destination: Address(0xC001),
            count_log: 0xFF,
            period_log: 0x04,
            ttl: 7,
            features: Features(0x0005),
            net_key_index: ki(1),
        });
        assert_eq!(m.emit_params(), h("01c0ff040705000100"));
        // Heartbeat Subscription Status.
        let m =
            ConfigMessage::parse(HEARTBEAT_SUBSCRIPTION_STATUS, &h("000100ffff1102017f")).unwrap();
        assert_eq!(
            m,
            ConfigMessage::HeartbeatSubscriptionStatus(HeartbeatSubscription {
                status: StatusCode::Success,
                source: Address(0x0001),
                destination: Address(0xFFFF),
                period_log: 0x11,
                count_log: 0x02,
                min_hops: 0x01,
                max_hops: 0x7F,
            })
        );
        // LPN PollTimeout Status: 0x34BBFF (the maximum).
        let m = ConfigMessage::parse(LPN_POLL_TIMEOUT_STATUS, &h("0200ffbb34")).unwrap();
        assert_eq!(
            m,
            ConfigMessage::LowPowerNodePollTimeoutStatus {
                lpn: Address(0x0002),
                poll_timeout: 0x34BBFF
            }
        );
        assert_eq!(
            m.describe(),
            "Config Low Power Node PollTimeout Status lpn 0002 poll timeout 345599.9s"
        );
        // SIG Model App List with two AppKeys.
        let m = ConfigMessage::parse(SIG_MODEL_APP_LIST, &h("0003010010012000")).unwrap();
        assert_eq!(
            m,
            ConfigMessage::ModelAppList {
                status: StatusCode::Success,
                element: Address(0x0103),
                model: ModelId::Sig(0x1000),
                app_key_indexes: vec![ki(0x001), ki(0x002)],
            }
        );
        // Vendor Model Subscription List.
        let m =
            ConfigMessage::parse(VENDOR_MODEL_SUBSCRIPTION_LIST, &h("0003013f002a0001c0")).unwrap();
        assert_eq!(m.opcode(), VENDOR_MODEL_SUBSCRIPTION_LIST);
        assert!(
            matches!(m, ConfigMessage::ModelSubscriptionList { ref addresses, .. } if addresses == &[Address(0xC001)])
        );
    }

    #[test]
    fn prohibited_values_rejected() {
        let bad: &[(Opcode, &str, &str)] = &[
            (DEFAULT_TTL_SET, "01", "Default TTL"),
            (DEFAULT_TTL_SET, "80", "Default TTL"),
            (DEFAULT_TTL_SET, "ff", "Default TTL"),
            (DEFAULT_TTL_STATUS, "01", "Default TTL"),
            (BEACON_SET, "02", "Beacon"),
            (GATT_PROXY_SET, "02", "GATT Proxy"),
            (GATT_PROXY_STATUS, "03", "GATT Proxy"),
            (FRIEND_SET, "02", "Friend"),
            (RELAY_SET, "0200", "Relay"),
            (NODE_IDENTITY_SET, "000002", "Node Identity"),
            (
                KEY_REFRESH_PHASE_SET,
                "000001",
                "Key Refresh Phase Transition",
            ),
            (
                KEY_REFRESH_PHASE_SET,
                "000004",
                "Key Refresh Phase Transition",
            ),
            (KEY_REFRESH_PHASE_STATUS, "00000003", "Key Refresh Phase"),
            (
                MODEL_PUBLICATION_SET,
                "020100c000008000000010",
                "Publish TTL",
            ),
            (
                MODEL_PUBLICATION_SET,
                "020100c00000fe00000010",
                "Publish TTL",
            ),
            (
                HEARTBEAT_PUBLICATION_SET,
                "01c012040705000100",
                "Heartbeat Publication Count Log",
            ),
            (
                HEARTBEAT_PUBLICATION_SET,
                "01c001120705000100",
                "Heartbeat Publication Period Log",
            ),
            (
                HEARTBEAT_PUBLICATION_SET,
                "01c001048005000100",
                "Heartbeat Publication TTL",
            ),
            (
                HEARTBEAT_SUBSCRIPTION_SET,
                "0100010012",
                "Heartbeat Subscription Period Log",
            ),
            (
                HEARTBEAT_SUBSCRIPTION_STATUS,
                "000100ffff1112017f",
                "Heartbeat Subscription Count Log",
            ),
            (
                HEARTBEAT_SUBSCRIPTION_STATUS,
                "000100ffff1102807f",
                "Heartbeat Subscription Min Hops",
            ),
            (
                HEARTBEAT_SUBSCRIPTION_STATUS,
                "000100ffff11020180",
                "Heartbeat Subscription Max Hops",
            ),
            (LPN_POLL_TIMEOUT_STATUS, "0200090000", "PollTimeout"),
            (LPN_POLL_TIMEOUT_STATUS, "020000bc34", "PollTimeout"),
        ];
        for (op, params, field) in bad {
            match ConfigMessage::parse(*op, &h(params)) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, *field, "{op} {params}"),
                r => panic!("{op} {params}: {r:?}"),
            }
        }
        // Allowed edge values.
        for (op, params) in [
            (DEFAULT_TTL_SET, "00"),
            (DEFAULT_TTL_SET, "02"),
            (DEFAULT_TTL_SET, "7f"),
            (MODEL_PUBLICATION_SET, "020100c00000ff00000010"),
            (MODEL_PUBLICATION_SET, "020100c000007f00000010"),
            (LPN_POLL_TIMEOUT_STATUS, "0200000000"),
            (LPN_POLL_TIMEOUT_STATUS, "02000a0000"),
            (GATT_PROXY_STATUS, "02"),
        ] {
            assert!(
                ConfigMessage::parse(op, &h(params)).is_ok(),
                "{op} {params}"
            );
        }
    }

    #[test]
    fn lengths_checked() {
        // A model identifier must be 2 or 4 octets.
        assert_eq!(
            ConfigMessage::parse(MODEL_APP_BIND, &h("0201230000")),
            Err(Error::Truncated { need: 6, got: 5 })
        );
        assert_eq!(
            ConfigMessage::parse(MODEL_APP_BIND, &h("020123000010aa")),
            Err(Error::Invalid {
                field: "model identifier length",
                value: 3
            })
        );
        assert_eq!(
            ConfigMessage::parse(BEACON_GET, &[0]),
            Err(Error::TooLong { max: 0, got: 1 })
        );
        assert_eq!(
            ConfigMessage::parse(APPKEY_ADD, &[0; 18]),
            Err(Error::Truncated { need: 19, got: 18 })
        );
        assert_eq!(
            ConfigMessage::parse(APPKEY_ADD, &[0; 20]),
            Err(Error::TooLong { max: 19, got: 20 })
        );
        assert_eq!(
            ConfigMessage::parse(SIG_MODEL_SUBSCRIPTION_LIST, &h("0003010010010000")),
            Err(Error::Invalid {
                field: "address list length",
                value: 3
            })
        );
        assert_eq!(
            ConfigMessage::parse(NETKEY_LIST, &[0]),
            Err(Error::Invalid {
                field: "key index list length",
                value: 1
            })
        );
        assert_eq!(
            ConfigMessage::parse(Opcode::Two(0x8201), &[]),
            Err(Error::Invalid {
                field: "opcode",
                value: 0x8201
            })
        );
    }

    #[test]
    fn rfu_bits_ignored() {
        // AppKey Index RFU bits 13-15 of the publication and the NetKey Index RFU bits.
        let m = ConfigMessage::parse(MODEL_PUBLICATION_SET, &h("020100c0ffff0500000010")).unwrap();
        let ConfigMessage::ModelPublicationSet { publication, .. } = &m else {
            panic!()
        };
        assert_eq!(publication.app_key_index, ki(0xfff));
        assert!(publication.credential_flag);
        assert_eq!(m.emit_params(), h("020100c0ff1f0500000010"));
        let m = ConfigMessage::parse(NETKEY_DELETE, &h("fff0")).unwrap();
        assert_eq!(
            m,
            ConfigMessage::NetKeyDelete {
                net_key_index: ki(0x0ff)
            }
        );
    }

    #[test]
    fn status_codes() {
        for v in 0..=0xFFu8 {
            let c = StatusCode::from_u8(v);
            assert_eq!(c.to_u8(), v);
            assert_eq!(matches!(c, StatusCode::Rfu(_)), v > 0x15);
        }
        assert_eq!(
            StatusCode::from_u8(0x0E).name(),
            "Temporarily Unable to Change State"
        );
        assert_eq!(StatusCode::from_u8(0x15), StatusCode::InvalidBearer);
        assert_eq!(StatusCode::from_u8(0x20).to_string(), "RFU(0x20)");
    }

    #[test]
    fn every_opcode_named() {
        for m in sample_messages() {
            assert!(m.opcode().name().is_some(), "{m:?}");
            assert!(m.opcode().name().unwrap().starts_with("Config "));
        }
    }

    #[test]
    fn status_opcodes_are_what_the_server_answers() {
        use crate::ble::address::{IvIndex, UnicastAddress};
        use crate::ble::foundation::config::server as config_server;
        use crate::ble::node::{ElementState, ModelState, NodeState};
        let fresh = || {
            NodeState::new(
                [1; 16],
                UnicastAddress::new(0x0100).unwrap(),
                [2; 16],
                [3; 16],
                IvIndex(0),
                vec![ElementState {
                    location: 0,
                    models: vec![
                        ModelState::new(ModelId::CONFIG_SERVER),
                        ModelState::new(ModelId::GENERIC_ONOFF_SERVER),
                    ],
                }],
            )
        };
        let mut answered = 0;
        for m in sample_messages() {
            let reply = config_server::handle(&mut fresh(), &m).reply;
            match (m.status_opcode(), reply) {
                (Some(op), Some(r)) => {
                    assert_eq!(op, r.opcode(), "{m:?}");
                    assert_eq!(r.status_opcode(), None, "{r:?}");
                    answered += 1;
                }
                // A request the server drops (prohibited values), or a status.
                (Some(_), None) => {}
                (None, reply) => assert_eq!(reply, None, "{m:?} is no request"),
            }
        }
        assert!(answered > 100, "{answered}");
        assert_eq!(
            ConfigMessage::NodeReset.status_opcode(),
            Some(NODE_RESET_STATUS)
        );
        assert_eq!(ConfigMessage::NodeResetStatus.status_opcode(), None);
    }

    fn sample_messages() -> Vec<ConfigMessage> {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        (0..500)
            .map(|_| arb_config().new_tree(&mut runner).unwrap().current())
            .collect()
    }

    pub(crate) fn arb_key_index() -> impl Strategy<Value = KeyIndex> {
        (0u16..=0xfff).prop_map(KeyIndex::from_bits)
    }

    fn arb_address() -> impl Strategy<Value = Address> {
        any::<u16>().prop_map(Address)
    }

    pub(crate) fn arb_model() -> impl Strategy<Value = ModelId> {
        prop_oneof![
            any::<u16>().prop_map(ModelId::Sig),
            (any::<u16>(), any::<u16>()).prop_map(|(company_id, model_id)| ModelId::Vendor {
                company_id,
                model_id
            }),
        ]
    }

    fn arb_status() -> impl Strategy<Value = StatusCode> {
        any::<u8>().prop_map(StatusCode::from_u8)
    }

    fn arb_set_state() -> impl Strategy<Value = FeatureState> {
        prop_oneof![Just(FeatureState::Disabled), Just(FeatureState::Enabled)]
    }

    fn arb_status_state() -> impl Strategy<Value = FeatureState> {
        prop_oneof![
            Just(FeatureState::Disabled),
            Just(FeatureState::Enabled),
            Just(FeatureState::NotSupported)
        ]
    }

    fn arb_retransmit() -> impl Strategy<Value = Retransmit> {
        any::<u8>().prop_map(Retransmit::from_byte)
    }

    fn arb_ttl() -> impl Strategy<Value = u8> {
        prop_oneof![Just(0u8), 2u8..=0x7f]
    }

    fn arb_publication() -> impl Strategy<Value = Publication> {
        (
            arb_key_index(),
            any::<bool>(),
            prop_oneof![0u8..=0x7f, Just(0xff)],
            any::<u8>(),
            arb_retransmit(),
        )
            .prop_map(
                |(app_key_index, credential_flag, ttl, p, retransmit)| Publication {
                    app_key_index,
                    credential_flag,
                    ttl,
                    period: PublishPeriod::from_byte(p),
                    retransmit,
                },
            )
    }

    fn arb_hb_pub() -> impl Strategy<Value = HeartbeatPublication> {
        (
            arb_address(),
            prop_oneof![0u8..=0x11, Just(0xff)],
            0u8..=0x11,
            0u8..=0x7f,
            any::<u16>(),
            arb_key_index(),
        )
            .prop_map(
                |(destination, count_log, period_log, ttl, f, net_key_index)| {
                    HeartbeatPublication {
                        destination,
                        count_log,
                        period_log,
                        ttl,
                        features: Features(f),
                        net_key_index,
                    }
                },
            )
    }

    fn arb_key_list() -> impl Strategy<Value = Vec<KeyIndex>> {
        proptest::collection::vec(arb_key_index(), 0..10)
    }

    pub(crate) fn arb_config() -> impl Strategy<Value = ConfigMessage> {
        use ConfigMessage as M;
        let label = any::<[u8; 16]>;
        prop_oneof![
            Just(M::BeaconGet),
            any::<bool>().prop_map(|enabled| M::BeaconSet { enabled }),
            any::<bool>().prop_map(|enabled| M::BeaconStatus { enabled }),
            any::<u8>().prop_map(|page| M::CompositionDataGet { page }),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(page, data)| M::CompositionDataStatus { page, data }),
            Just(M::DefaultTtlGet),
            arb_ttl().prop_map(|ttl| M::DefaultTtlSet { ttl }),
            arb_ttl().prop_map(|ttl| M::DefaultTtlStatus { ttl }),
            Just(M::GattProxyGet),
            arb_set_state().prop_map(|state| M::GattProxySet { state }),
            arb_status_state().prop_map(|state| M::GattProxyStatus { state }),
            Just(M::RelayGet),
            (arb_set_state(), arb_retransmit())
                .prop_map(|(state, retransmit)| M::RelaySet { state, retransmit }),
            (arb_status_state(), arb_retransmit())
                .prop_map(|(state, retransmit)| M::RelayStatus { state, retransmit }),
            (arb_address(), arb_model())
                .prop_map(|(element, model)| M::ModelPublicationGet { element, model }),
            (arb_address(), arb_address(), arb_publication(), arb_model()).prop_map(
                |(element, address, publication, model)| M::ModelPublicationSet {
                    element,
                    address,
                    publication,
                    model
                }
            ),
            (arb_address(), label(), arb_publication(), arb_model()).prop_map(
                |(element, label, publication, model)| M::ModelPublicationVirtualAddressSet {
                    element,
                    label,
                    publication,
                    model
                }
            ),
            (
                arb_status(),
                arb_address(),
                arb_address(),
                arb_publication(),
                arb_model()
            )
                .prop_map(|(status, element, address, publication, model)| {
                    M::ModelPublicationStatus {
                        status,
                        element,
                        address,
                        publication,
                        model,
                    }
                }),
            (arb_address(), arb_address(), arb_model(), 0..3u8).prop_map(
                |(element, address, model, k)| match k {
                    0 => M::ModelSubscriptionAdd {
                        element,
                        address,
                        model
                    },
                    1 => M::ModelSubscriptionDelete {
                        element,
                        address,
                        model
                    },
                    _ => M::ModelSubscriptionOverwrite {
                        element,
                        address,
                        model
                    },
                }
            ),
            (arb_address(), label(), arb_model(), 0..3u8).prop_map(|(element, label, model, k)| {
                match k {
                    0 => M::ModelSubscriptionVirtualAddressAdd {
                        element,
                        label,
                        model,
                    },
                    1 => M::ModelSubscriptionVirtualAddressDelete {
                        element,
                        label,
                        model,
                    },
                    _ => M::ModelSubscriptionVirtualAddressOverwrite {
                        element,
                        label,
                        model,
                    },
                }
            }),
            (arb_address(), arb_model())
                .prop_map(|(element, model)| M::ModelSubscriptionDeleteAll { element, model }),
            (arb_status(), arb_address(), arb_address(), arb_model()).prop_map(
                |(status, element, address, model)| M::ModelSubscriptionStatus {
                    status,
                    element,
                    address,
                    model
                }
            ),
            (arb_address(), arb_model())
                .prop_map(|(element, model)| M::ModelSubscriptionGet { element, model }),
            (
                arb_status(),
                arb_address(),
                arb_model(),
                proptest::collection::vec(arb_address(), 0..10)
            )
                .prop_map(|(status, element, model, addresses)| {
                    M::ModelSubscriptionList {
                        status,
                        element,
                        model,
                        addresses,
                    }
                }),
            (arb_key_index(), label(), any::<bool>()).prop_map(|(net_key_index, key, u)| if u {
                M::NetKeyUpdate { net_key_index, key }
            } else {
                M::NetKeyAdd { net_key_index, key }
            }),
            arb_key_index().prop_map(|net_key_index| M::NetKeyDelete { net_key_index }),
            (arb_status(), arb_key_index()).prop_map(|(status, net_key_index)| M::NetKeyStatus {
                status,
                net_key_index
            }),
            Just(M::NetKeyGet),
            arb_key_list().prop_map(|net_key_indexes| M::NetKeyList { net_key_indexes }),
            (arb_key_index(), arb_key_index(), label(), any::<bool>()).prop_map(
                |(net_key_index, app_key_index, key, u)| if u {
                    M::AppKeyUpdate {
                        net_key_index,
                        app_key_index,
                        key,
                    }
                } else {
                    M::AppKeyAdd {
                        net_key_index,
                        app_key_index,
                        key,
                    }
                }
            ),
            (arb_key_index(), arb_key_index()).prop_map(|(net_key_index, app_key_index)| {
                M::AppKeyDelete {
                    net_key_index,
                    app_key_index,
                }
            }),
            (arb_status(), arb_key_index(), arb_key_index()).prop_map(
                |(status, net_key_index, app_key_index)| M::AppKeyStatus {
                    status,
                    net_key_index,
                    app_key_index
                }
            ),
            arb_key_index().prop_map(|net_key_index| M::AppKeyGet { net_key_index }),
            (arb_status(), arb_key_index(), arb_key_list()).prop_map(
                |(status, net_key_index, app_key_indexes)| M::AppKeyList {
                    status,
                    net_key_index,
                    app_key_indexes
                }
            ),
            arb_key_index().prop_map(|net_key_index| M::NodeIdentityGet { net_key_index }),
            (arb_key_index(), arb_set_state()).prop_map(|(net_key_index, identity)| {
                M::NodeIdentitySet {
                    net_key_index,
                    identity,
                }
            }),
            (arb_status(), arb_key_index(), arb_status_state()).prop_map(
                |(status, net_key_index, identity)| M::NodeIdentityStatus {
                    status,
                    net_key_index,
                    identity
                }
            ),
            (arb_address(), arb_key_index(), arb_model(), any::<bool>()).prop_map(
                |(element, app_key_index, model, u)| if u {
                    M::ModelAppUnbind {
                        element,
                        app_key_index,
                        model,
                    }
                } else {
                    M::ModelAppBind {
                        element,
                        app_key_index,
                        model,
                    }
                }
            ),
            (arb_status(), arb_address(), arb_key_index(), arb_model()).prop_map(
                |(status, element, app_key_index, model)| M::ModelAppStatus {
                    status,
                    element,
                    app_key_index,
                    model
                }
            ),
            (arb_address(), arb_model())
                .prop_map(|(element, model)| M::ModelAppGet { element, model }),
            (arb_status(), arb_address(), arb_model(), arb_key_list()).prop_map(
                |(status, element, model, app_key_indexes)| M::ModelAppList {
                    status,
                    element,
                    model,
                    app_key_indexes
                }
            ),
            Just(M::FriendGet),
            arb_set_state().prop_map(|state| M::FriendSet { state }),
            arb_status_state().prop_map(|state| M::FriendStatus { state }),
            arb_key_index().prop_map(|net_key_index| M::KeyRefreshPhaseGet { net_key_index }),
            (arb_key_index(), 2u8..=3).prop_map(|(net_key_index, transition)| {
                M::KeyRefreshPhaseSet {
                    net_key_index,
                    transition,
                }
            }),
            (arb_status(), arb_key_index(), 0u8..=2).prop_map(|(status, net_key_index, phase)| {
                M::KeyRefreshPhaseStatus {
                    status,
                    net_key_index,
                    phase,
                }
            }),
            Just(M::HeartbeatPublicationGet),
            arb_hb_pub().prop_map(M::HeartbeatPublicationSet),
            (arb_status(), arb_hb_pub()).prop_map(|(status, publication)| {
                M::HeartbeatPublicationStatus {
                    status,
                    publication,
                }
            }),
            Just(M::HeartbeatSubscriptionGet),
            (arb_address(), arb_address(), 0u8..=0x11).prop_map(
                |(source, destination, period_log)| M::HeartbeatSubscriptionSet {
                    source,
                    destination,
                    period_log
                }
            ),
            (
                arb_status(),
                arb_address(),
                arb_address(),
                0u8..=0x11,
                prop_oneof![0u8..=0x11, Just(0xff)],
                0u8..=0x7f,
                0u8..=0x7f
            )
                .prop_map(
                    |(status, source, destination, period_log, count_log, min_hops, max_hops)| {
                        M::HeartbeatSubscriptionStatus(HeartbeatSubscription {
                            status,
                            source,
                            destination,
                            period_log,
                            count_log,
                            min_hops,
                            max_hops,
                        })
                    }
                ),
            arb_address().prop_map(|lpn| M::LowPowerNodePollTimeoutGet { lpn }),
            (arb_address(), prop_oneof![Just(0u32), 0x0Au32..=0x34BBFF]).prop_map(
                |(lpn, poll_timeout)| M::LowPowerNodePollTimeoutStatus { lpn, poll_timeout }
            ),
            Just(M::NetworkTransmitGet),
            arb_retransmit().prop_map(|transmit| M::NetworkTransmitSet { transmit }),
            arb_retransmit().prop_map(|transmit| M::NetworkTransmitStatus { transmit }),
            Just(M::NodeReset),
            Just(M::NodeResetStatus),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(m in arb_config()) {
            let params = m.emit_params();
            prop_assert_eq!(ConfigMessage::parse(m.opcode(), &params), Ok(m.clone()));
            let access = m.to_access();
            prop_assert_eq!(ConfigMessage::from_access(&access), Ok(m.clone()));
            prop_assert!(!m.describe().is_empty());
        }
    }
}
