//! Transport control messages (Mesh Protocol 1.1 §3.6.5): the friendship messages, Heartbeat,
//! and (kept as raw parameters) the directed forwarding messages of Mesh 1.1.
//!
//! A transport control message is a 7-bit opcode and its parameters. The opcode travels in the
//! first octet of the lower transport PDU (`SEG || Opcode`, §3.5.2.3 unsegmented and §3.5.2.4
//! segmented control PDUs), so a receiver that has reassembled the parameters calls
//! [`ControlMessage::parse_with_opcode`]. The [`Wire`] impl of [`ControlMessage`] is over
//! `opcode || parameters` with the top bit 0, which is exactly an unsegmented control PDU.
//!
//! Every multi-octet field below the access layer is big-endian (§3.1). Each parameter struct
//! implements [`Wire`] over its parameters alone (without the opcode).
//!
//! Reserved-for-future-use *bits* inside a field (Criteria bit 7, the Friend Update flags bits
//! 2-7, the Heartbeat bit 7) are ignored on receipt and sent as 0; *values* the specification
//! prohibits are rejected with [`Error::Invalid`].

use super::{at_most, need, Error, Result, Wire};
use crate::ble::address::{Address, IvIndex};

/// Segment Acknowledgment: a lower transport message, never an upper transport one (§3.5.2.3.1).
pub const OPCODE_SEGMENT_ACK: u8 = 0x00;
/// Friend Poll (§3.6.5.1).
pub const OPCODE_FRIEND_POLL: u8 = 0x01;
/// Friend Update (§3.6.5.2).
pub const OPCODE_FRIEND_UPDATE: u8 = 0x02;
/// Friend Request (§3.6.5.3).
pub const OPCODE_FRIEND_REQUEST: u8 = 0x03;
/// Friend Offer (§3.6.5.4).
pub const OPCODE_FRIEND_OFFER: u8 = 0x04;
/// Friend Clear (§3.6.5.5).
pub const OPCODE_FRIEND_CLEAR: u8 = 0x05;
/// Friend Clear Confirm (§3.6.5.6).
pub const OPCODE_FRIEND_CLEAR_CONFIRM: u8 = 0x06;
/// Friend Subscription List Add (§3.6.5.7).
pub const OPCODE_FRIEND_SUBSCRIPTION_LIST_ADD: u8 = 0x07;
/// Friend Subscription List Remove (§3.6.5.8).
pub const OPCODE_FRIEND_SUBSCRIPTION_LIST_REMOVE: u8 = 0x08;
/// Friend Subscription List Confirm (§3.6.5.9).
pub const OPCODE_FRIEND_SUBSCRIPTION_LIST_CONFIRM: u8 = 0x09;
/// Heartbeat (§3.6.5.10).
pub const OPCODE_HEARTBEAT: u8 = 0x0A;
/// PATH_REQUEST, the first directed forwarding control opcode (Mesh 1.1, §3.6.5 opcode table).
pub const OPCODE_PATH_REQUEST: u8 = 0x0B;
/// PATH_REQUEST_SOLICITATION, the last opcode the Mesh 1.1 table assigns; 0x12..=0x7F are RFU.
pub const OPCODE_PATH_REQUEST_SOLICITATION: u8 = 0x11;

/// The most parameter octets a control message carries: 32 segments of 8 octets (§3.5.2.4).
pub const MAX_PARAMS_LEN: usize = 256;
/// The most parameter octets of an unsegmented control message (§3.5.2.3).
pub const MAX_UNSEGMENTED_PARAMS_LEN: usize = 11;

/// The name the specification gives a transport control opcode (§3.6.5 opcode table), or
/// `None` for RFU values and anything above 7 bits.
pub fn control_opcode_name(opcode: u8) -> Option<&'static str> {
    Some(match opcode {
        OPCODE_SEGMENT_ACK => "Segment Acknowledgment",
        OPCODE_FRIEND_POLL => "Friend Poll",
        OPCODE_FRIEND_UPDATE => "Friend Update",
        OPCODE_FRIEND_REQUEST => "Friend Request",
        OPCODE_FRIEND_OFFER => "Friend Offer",
        OPCODE_FRIEND_CLEAR => "Friend Clear",
        OPCODE_FRIEND_CLEAR_CONFIRM => "Friend Clear Confirm",
        OPCODE_FRIEND_SUBSCRIPTION_LIST_ADD => "Friend Subscription List Add",
        OPCODE_FRIEND_SUBSCRIPTION_LIST_REMOVE => "Friend Subscription List Remove",
        OPCODE_FRIEND_SUBSCRIPTION_LIST_CONFIRM => "Friend Subscription List Confirm",
        OPCODE_HEARTBEAT => "Heartbeat",
        // Mesh 1.1 directed forwarding (§3.6.5 opcode table).
        0x0B => "PATH_REQUEST",
        0x0C => "PATH_REPLY",
        0x0D => "PATH_CONFIRMATION",
        0x0E => "PATH_ECHO_REQUEST",
        0x0F => "PATH_ECHO_REPLY",
        0x10 => "DEPENDENT_NODE_UPDATE",
        0x11 => "PATH_REQUEST_SOLICITATION",
        _ => return None,
    })
}

/// Checks that `buf` is exactly `len` octets.
fn exact(buf: &[u8], len: usize) -> Result<()> {
    need(buf, len)?;
    at_most(buf, len)
}

// ---------------------------------------------------------------------------------------------
// Friend Poll (§3.6.5.1)
// ---------------------------------------------------------------------------------------------

/// Friend Poll parameters (§3.6.5.1): `Padding (7 bits, 0) || FSN (1 bit)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendPoll {
    /// The Friend Sequence Number bit.
    pub fsn: bool,
}

impl FriendPoll {
    /// Parameter length (§3.6.5.1).
    pub const LEN: usize = 1;
}

impl Wire for FriendPoll {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        let b = bytes[0];
        // §3.6.5.1: Padding is 0b0000000, all other values are prohibited.
        if b & 0xFE != 0 {
            return Err(Error::Invalid {
                field: "Friend Poll padding",
                value: u32::from(b >> 1),
            });
        }
        Ok(FriendPoll { fsn: b & 1 == 1 })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = u8::from(self.fsn);
    }
}

// ---------------------------------------------------------------------------------------------
// Friend Update (§3.6.5.2)
// ---------------------------------------------------------------------------------------------

/// Friend Update parameters (§3.6.5.2): `Flags (1) || IV Index (4) || MD (1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendUpdate {
    /// Flags bit 0: Key Refresh Flag (§3.6.5.2, same layout as the beacon flags).
    pub key_refresh: bool,
    /// Flags bit 1: IV Update Flag.
    pub iv_update: bool,
    /// The current IV Index known by the Friend node.
    pub iv_index: IvIndex,
    /// MD: the Friend Queue is not empty (1) or is empty (0).
    pub more_data: bool,
}

impl FriendUpdate {
    /// Parameter length (§3.6.5.2).
    pub const LEN: usize = 6;
    /// Key Refresh Flag bit of the Flags field (§3.6.5.2).
    pub const FLAG_KEY_REFRESH: u8 = 0x01;
    /// IV Update Flag bit of the Flags field (§3.6.5.2).
    pub const FLAG_IV_UPDATE: u8 = 0x02;

    /// The Flags octet as sent (RFU bits 0).
    pub fn flags(&self) -> u8 {
        (if self.key_refresh {
            Self::FLAG_KEY_REFRESH
        } else {
            0
        }) | (if self.iv_update {
            Self::FLAG_IV_UPDATE
        } else {
            0
        })
    }
}

impl Wire for FriendUpdate {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        let flags = bytes[0];
        let iv_index = IvIndex(u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]));
        // §3.6.5.2: MD 0x00 or 0x01; 0x02..=0xFF are prohibited.
        let md = bytes[5];
        if md > 1 {
            return Err(Error::Invalid {
                field: "Friend Update MD",
                value: u32::from(md),
            });
        }
        Ok(FriendUpdate {
            key_refresh: flags & Self::FLAG_KEY_REFRESH != 0,
            iv_update: flags & Self::FLAG_IV_UPDATE != 0,
            iv_index,
            more_data: md == 1,
        })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.flags();
        buf[1..5].copy_from_slice(&self.iv_index.0.to_be_bytes());
        buf[5] = u8::from(self.more_data);
    }
}

// ---------------------------------------------------------------------------------------------
// Friend Request (§3.6.5.3)
// ---------------------------------------------------------------------------------------------

/// RSSIFactor / ReceiveWindowFactor of the Friend Request Criteria (§3.6.5.3.1): a 2-bit
/// multiplier 1, 1.5, 2 or 2.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FriendFactor {
    /// 0b00: 1
    One = 0,
    /// 0b01: 1.5
    OnePointFive = 1,
    /// 0b10: 2
    Two = 2,
    /// 0b11: 2.5
    TwoPointFive = 3,
}

impl FriendFactor {
    /// The factor from its two bits (the higher bits of `bits` are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => FriendFactor::One,
            1 => FriendFactor::OnePointFive,
            2 => FriendFactor::Two,
            _ => FriendFactor::TwoPointFive,
        }
    }
    /// The two bits of the field.
    pub const fn bits(self) -> u8 {
        self as u8
    }
    /// The multiplier in tenths: 10, 15, 20 or 25.
    pub const fn tenths(self) -> u32 {
        10 + 5 * self as u32
    }
}

/// The Criteria octet of a Friend Request (§3.6.5.3.1):
/// `RFU (bit 7) || RSSIFactor (bits 6-5) || ReceiveWindowFactor (bits 4-3) ||
/// MinQueueSizeLog (bits 2-0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendCriteria {
    /// The contribution of the RSSI to the Friend Offer delay.
    pub rssi_factor: FriendFactor,
    /// The contribution of the supported ReceiveWindow to the Friend Offer delay.
    pub receive_window_factor: FriendFactor,
    /// log2 of the minimum Friend Queue size, 1..=7 (0b000 is prohibited, §3.6.5.3.1.3).
    pub min_queue_size_log: u8,
}

impl FriendCriteria {
    /// The criteria from its octet; the RFU bit 7 is ignored.
    pub fn from_octet(b: u8) -> Result<Self> {
        let min_queue_size_log = b & 0b111;
        // §3.6.5.3.1.3: MinQueueSizeLog 0b000 is prohibited.
        if min_queue_size_log == 0 {
            return Err(Error::Invalid {
                field: "Friend Request MinQueueSizeLog",
                value: 0,
            });
        }
        Ok(FriendCriteria {
            rssi_factor: FriendFactor::from_bits(b >> 5),
            receive_window_factor: FriendFactor::from_bits(b >> 3),
            min_queue_size_log,
        })
    }
    /// The octet as sent (RFU bit 0).
    pub fn to_octet(self) -> u8 {
        (self.rssi_factor.bits() << 5)
            | (self.receive_window_factor.bits() << 3)
            | (self.min_queue_size_log & 0b111)
    }
    /// The minimum Friend Queue size the Low Power node asks for, 2^MinQueueSizeLog.
    pub fn min_queue_size(self) -> u16 {
        1u16 << (self.min_queue_size_log & 0b111)
    }
}

/// Friend Request parameters (§3.6.5.3): `Criteria (1) || ReceiveDelay (1) || PollTimeout (3)
/// || PreviousAddress (2) || NumElements (1) || LPNCounter (2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendRequest {
    /// Friend selection criteria (§3.6.5.3.1).
    pub criteria: FriendCriteria,
    /// ReceiveDelay in milliseconds, 0x0A..=0xFF (0x00..=0x09 prohibited, §3.6.5.3.2).
    pub receive_delay: u8,
    /// PollTimeout in units of 100 ms, 0x00000A..=0x34BBFF (§3.6.5.3.3).
    pub poll_timeout: u32,
    /// Primary element address of the previous friend, or unassigned (§3.6.5.3.4).
    pub previous_address: Address,
    /// Number of elements of the Low Power node, 1..=255 (0 prohibited, §3.6.5.3.5).
    pub num_elements: u8,
    /// Number of Friend Request messages the Low Power node has sent (§3.6.5.3.6).
    pub lpn_counter: u16,
}

impl FriendRequest {
    /// Parameter length (§3.6.5.3).
    pub const LEN: usize = 10;
    /// Smallest valid ReceiveDelay (§3.6.5.3.2).
    pub const MIN_RECEIVE_DELAY: u8 = 0x0A;
    /// Smallest valid PollTimeout (§3.6.5.3.3).
    pub const MIN_POLL_TIMEOUT: u32 = 0x00_000A;
    /// Largest valid PollTimeout, 3 455 999.9 s (§3.6.5.3.3).
    pub const MAX_POLL_TIMEOUT: u32 = 0x34_BBFF;
}

impl Wire for FriendRequest {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        let criteria = FriendCriteria::from_octet(bytes[0])?;
        let receive_delay = bytes[1];
        if receive_delay < Self::MIN_RECEIVE_DELAY {
            return Err(Error::Invalid {
                field: "Friend Request ReceiveDelay",
                value: u32::from(receive_delay),
            });
        }
        let poll_timeout = u32::from_be_bytes([0, bytes[2], bytes[3], bytes[4]]);
        if !(Self::MIN_POLL_TIMEOUT..=Self::MAX_POLL_TIMEOUT).contains(&poll_timeout) {
            return Err(Error::Invalid {
                field: "Friend Request PollTimeout",
                value: poll_timeout,
            });
        }
        let previous_address = Address(u16::from_be_bytes([bytes[5], bytes[6]]));
        let num_elements = bytes[7];
        if num_elements == 0 {
            return Err(Error::Invalid {
                field: "Friend Request NumElements",
                value: 0,
            });
        }
        let lpn_counter = u16::from_be_bytes([bytes[8], bytes[9]]);
        Ok(FriendRequest {
            criteria,
            receive_delay,
            poll_timeout,
            previous_address,
            num_elements,
            lpn_counter,
        })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.criteria.to_octet();
        buf[1] = self.receive_delay;
        buf[2..5].copy_from_slice(&self.poll_timeout.to_be_bytes()[1..]);
        buf[5..7].copy_from_slice(&self.previous_address.0.to_be_bytes());
        buf[7] = self.num_elements;
        buf[8..10].copy_from_slice(&self.lpn_counter.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Friend Offer (§3.6.5.4)
// ---------------------------------------------------------------------------------------------

/// Friend Offer parameters (§3.6.5.4): `ReceiveWindow (1) || QueueSize (1) ||
/// SubscriptionListSize (1) || RSSI (1) || FriendCounter (2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendOffer {
    /// ReceiveWindow in milliseconds, 1..=255 (0 prohibited).
    pub receive_window: u8,
    /// The size of the Friend Queue the Friend node offers.
    pub queue_size: u8,
    /// The size of the Friend Subscription List the Friend node offers.
    pub subscription_list_size: u8,
    /// RSSI of the Friend Request as the Friend node measured it, in dBm.
    pub rssi: i8,
    /// Number of Friend Offer messages the Friend node has sent.
    pub friend_counter: u16,
}

impl FriendOffer {
    /// Parameter length (§3.6.5.4).
    pub const LEN: usize = 6;
}

impl Wire for FriendOffer {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        // §3.6.5.4: ReceiveWindow 0x00 is prohibited.
        if bytes[0] == 0 {
            return Err(Error::Invalid {
                field: "Friend Offer ReceiveWindow",
                value: 0,
            });
        }
        Ok(FriendOffer {
            receive_window: bytes[0],
            queue_size: bytes[1],
            subscription_list_size: bytes[2],
            rssi: i8::from_be_bytes([bytes[3]]),
            friend_counter: u16::from_be_bytes([bytes[4], bytes[5]]),
        })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.receive_window;
        buf[1] = self.queue_size;
        buf[2] = self.subscription_list_size;
        buf[3] = self.rssi.to_be_bytes()[0];
        buf[4..6].copy_from_slice(&self.friend_counter.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Friend Clear / Friend Clear Confirm (§3.6.5.5, §3.6.5.6)
// ---------------------------------------------------------------------------------------------

/// Friend Clear and Friend Clear Confirm parameters (§3.6.5.5, §3.6.5.6), which share one
/// layout: `LPNAddress (2) || LPNCounter (2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendClear {
    /// The unicast address of the Low Power node whose friendship ends.
    pub lpn_address: Address,
    /// The LPNCounter of the Friend Request that started the new friendship.
    pub lpn_counter: u16,
}

impl FriendClear {
    /// Parameter length (§3.6.5.5).
    pub const LEN: usize = 4;
}

impl Wire for FriendClear {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        Ok(FriendClear {
            lpn_address: Address(u16::from_be_bytes([bytes[0], bytes[1]])),
            lpn_counter: u16::from_be_bytes([bytes[2], bytes[3]]),
        })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0..2].copy_from_slice(&self.lpn_address.0.to_be_bytes());
        buf[2..4].copy_from_slice(&self.lpn_counter.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Friend Subscription List Add / Remove / Confirm (§3.6.5.7 - §3.6.5.9)
// ---------------------------------------------------------------------------------------------

/// Friend Subscription List Add and Remove parameters (§3.6.5.7, §3.6.5.8):
/// `TransactionNumber (1) || AddressList (2 * N)`, N >= 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FriendSubscriptionList {
    /// Identifies the transaction; the Confirm echoes it.
    pub transaction_number: u8,
    /// Group and virtual addresses to add to or remove from the Friend Subscription List.
    pub addresses: Vec<Address>,
}

impl FriendSubscriptionList {
    /// The most addresses one message carries: (256 - 1) / 2 (§3.5.2.4, §3.6.5.7).
    pub const MAX_ADDRESSES: usize = (MAX_PARAMS_LEN - 1) / 2;
}

impl Wire for FriendSubscriptionList {
    fn parse(bytes: &[u8]) -> Result<Self> {
        // At least one address: an empty list carries no operation (Zephyr and BlueZ reject it).
        need(bytes, 3)?;
        at_most(bytes, 1 + 2 * Self::MAX_ADDRESSES)?;
        let list = &bytes[1..];
        if !list.len().is_multiple_of(2) {
            return Err(Error::Truncated {
                need: bytes.len() + 1,
                got: bytes.len(),
            });
        }
        Ok(FriendSubscriptionList {
            transaction_number: bytes[0],
            addresses: list
                .chunks_exact(2)
                .map(|c| Address(u16::from_be_bytes([c[0], c[1]])))
                .collect(),
        })
    }
    fn buffer_len(&self) -> usize {
        1 + 2 * self.addresses.len()
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.transaction_number;
        for (c, a) in buf[1..].chunks_exact_mut(2).zip(&self.addresses) {
            c.copy_from_slice(&a.0.to_be_bytes());
        }
    }
}

/// Friend Subscription List Confirm parameters (§3.6.5.9): `TransactionNumber (1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FriendSubscriptionListConfirm {
    /// The TransactionNumber of the Add or Remove being confirmed.
    pub transaction_number: u8,
}

impl FriendSubscriptionListConfirm {
    /// Parameter length (§3.6.5.9).
    pub const LEN: usize = 1;
}

impl Wire for FriendSubscriptionListConfirm {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        Ok(FriendSubscriptionListConfirm {
            transaction_number: bytes[0],
        })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.transaction_number;
    }
}

// ---------------------------------------------------------------------------------------------
// Heartbeat (§3.6.5.10)
// ---------------------------------------------------------------------------------------------

/// The Features bit field of a Heartbeat (§3.6.5.10): which features are currently active.
///
/// Bits 4-15 are RFU; they are kept as received so that a decoder can show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features(pub u16);

impl Features {
    /// Bit 0: Relay feature in use.
    pub const RELAY: u16 = 1 << 0;
    /// Bit 1: Proxy feature in use.
    pub const PROXY: u16 = 1 << 1;
    /// Bit 2: Friend feature in use.
    pub const FRIEND: u16 = 1 << 2;
    /// Bit 3: Low Power feature in use.
    pub const LOW_POWER: u16 = 1 << 3;

    /// Relay feature in use.
    pub const fn relay(self) -> bool {
        self.0 & Self::RELAY != 0
    }
    /// Proxy feature in use.
    pub const fn proxy(self) -> bool {
        self.0 & Self::PROXY != 0
    }
    /// Friend feature in use.
    pub const fn friend(self) -> bool {
        self.0 & Self::FRIEND != 0
    }
    /// Low Power feature in use.
    pub const fn low_power(self) -> bool {
        self.0 & Self::LOW_POWER != 0
    }
}

/// Heartbeat parameters (§3.6.5.10): `RFU (1 bit) || InitTTL (7 bits) || Features (16 bits)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// The TTL the message was sent with, 0..=0x7F; a receiver counts the hops as
    /// InitTTL - RxTTL + 1.
    pub init_ttl: u8,
    /// The features active on the sender.
    pub features: Features,
}

impl Heartbeat {
    /// Parameter length (§3.6.5.10).
    pub const LEN: usize = 3;
}

impl Wire for Heartbeat {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        Ok(Heartbeat {
            // The RFU bit 7 is ignored.
            init_ttl: bytes[0] & 0x7F,
            features: Features(u16::from_be_bytes([bytes[1], bytes[2]])),
        })
    }
    fn buffer_len(&self) -> usize {
        Self::LEN
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.init_ttl & 0x7F;
        buf[1..3].copy_from_slice(&self.features.0.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// The message
// ---------------------------------------------------------------------------------------------

/// A transport control message: the opcode (§3.6.5 opcode table) with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ControlMessage {
    /// 0x01 (§3.6.5.1)
    FriendPoll(FriendPoll),
    /// 0x02 (§3.6.5.2)
    FriendUpdate(FriendUpdate),
    /// 0x03 (§3.6.5.3)
    FriendRequest(FriendRequest),
    /// 0x04 (§3.6.5.4)
    FriendOffer(FriendOffer),
    /// 0x05 (§3.6.5.5)
    FriendClear(FriendClear),
    /// 0x06 (§3.6.5.6)
    FriendClearConfirm(FriendClear),
    /// 0x07 (§3.6.5.7)
    FriendSubscriptionListAdd(FriendSubscriptionList),
    /// 0x08 (§3.6.5.8)
    FriendSubscriptionListRemove(FriendSubscriptionList),
    /// 0x09 (§3.6.5.9)
    FriendSubscriptionListConfirm(FriendSubscriptionListConfirm),
    /// 0x0A (§3.6.5.10)
    Heartbeat(Heartbeat),
    /// An opcode this module does not model: the Mesh 1.1 directed forwarding messages
    /// 0x0B..=0x11 (PATH_REQUEST .. PATH_REQUEST_SOLICITATION), with raw parameters of at most
    /// [`MAX_PARAMS_LEN`] octets. `opcode` must be in 0x0B..=0x11 for a round trip.
    Other {
        /// The 7-bit opcode, 0x0B..=0x11.
        opcode: u8,
        /// The raw parameters.
        parameters: Vec<u8>,
    },
}

impl ControlMessage {
    /// Parses the parameters of the control message with `opcode` (the 7-bit opcode from the
    /// lower transport header).
    ///
    /// Rejects with [`Error::Invalid`] (field "opcode"): 0x00 (Segment Acknowledgment, a lower
    /// transport message), the RFU opcodes 0x12..=0x7F, and values above 7 bits.
    pub fn parse_with_opcode(opcode: u8, params: &[u8]) -> Result<Self> {
        Ok(match opcode {
            OPCODE_FRIEND_POLL => ControlMessage::FriendPoll(FriendPoll::parse(params)?),
            OPCODE_FRIEND_UPDATE => ControlMessage::FriendUpdate(FriendUpdate::parse(params)?),
            OPCODE_FRIEND_REQUEST => ControlMessage::FriendRequest(FriendRequest::parse(params)?),
            OPCODE_FRIEND_OFFER => ControlMessage::FriendOffer(FriendOffer::parse(params)?),
            OPCODE_FRIEND_CLEAR => ControlMessage::FriendClear(FriendClear::parse(params)?),
            OPCODE_FRIEND_CLEAR_CONFIRM => {
                ControlMessage::FriendClearConfirm(FriendClear::parse(params)?)
            }
            OPCODE_FRIEND_SUBSCRIPTION_LIST_ADD => {
                ControlMessage::FriendSubscriptionListAdd(FriendSubscriptionList::parse(params)?)
            }
            OPCODE_FRIEND_SUBSCRIPTION_LIST_REMOVE => {
                ControlMessage::FriendSubscriptionListRemove(FriendSubscriptionList::parse(params)?)
            }
            OPCODE_FRIEND_SUBSCRIPTION_LIST_CONFIRM => {
                ControlMessage::FriendSubscriptionListConfirm(FriendSubscriptionListConfirm::parse(
                    params,
                )?)
            }
            OPCODE_HEARTBEAT => ControlMessage::Heartbeat(Heartbeat::parse(params)?),
            OPCODE_PATH_REQUEST..=OPCODE_PATH_REQUEST_SOLICITATION => {
                at_most(params, MAX_PARAMS_LEN)?;
                ControlMessage::Other {
                    opcode,
                    parameters: params.to_vec(),
                }
            }
            // 0x00: Segment Acknowledgment belongs to the lower transport layer (§3.5.2.3.1);
            // 0x12..=0x7F: RFU; 0x80..: not a 7-bit opcode.
            _ => {
                return Err(Error::Invalid {
                    field: "opcode",
                    value: u32::from(opcode),
                })
            }
        })
    }

    /// The 7-bit opcode.
    pub fn opcode(&self) -> u8 {
        match self {
            ControlMessage::FriendPoll(_) => OPCODE_FRIEND_POLL,
            ControlMessage::FriendUpdate(_) => OPCODE_FRIEND_UPDATE,
            ControlMessage::FriendRequest(_) => OPCODE_FRIEND_REQUEST,
            ControlMessage::FriendOffer(_) => OPCODE_FRIEND_OFFER,
            ControlMessage::FriendClear(_) => OPCODE_FRIEND_CLEAR,
            ControlMessage::FriendClearConfirm(_) => OPCODE_FRIEND_CLEAR_CONFIRM,
            ControlMessage::FriendSubscriptionListAdd(_) => OPCODE_FRIEND_SUBSCRIPTION_LIST_ADD,
            ControlMessage::FriendSubscriptionListRemove(_) => {
                OPCODE_FRIEND_SUBSCRIPTION_LIST_REMOVE
            }
            ControlMessage::FriendSubscriptionListConfirm(_) => {
                OPCODE_FRIEND_SUBSCRIPTION_LIST_CONFIRM
            }
            ControlMessage::Heartbeat(_) => OPCODE_HEARTBEAT,
            ControlMessage::Other { opcode, .. } => *opcode,
        }
    }

    /// The specification's name of the message ("Friend Poll", "PATH_REPLY", ...).
    pub fn name(&self) -> &'static str {
        control_opcode_name(self.opcode()).unwrap_or("RFU")
    }

    /// The number of parameter octets `emit_params` writes.
    pub fn params_len(&self) -> usize {
        match self {
            ControlMessage::FriendPoll(m) => m.buffer_len(),
            ControlMessage::FriendUpdate(m) => m.buffer_len(),
            ControlMessage::FriendRequest(m) => m.buffer_len(),
            ControlMessage::FriendOffer(m) => m.buffer_len(),
            ControlMessage::FriendClear(m) | ControlMessage::FriendClearConfirm(m) => {
                m.buffer_len()
            }
            ControlMessage::FriendSubscriptionListAdd(m)
            | ControlMessage::FriendSubscriptionListRemove(m) => m.buffer_len(),
            ControlMessage::FriendSubscriptionListConfirm(m) => m.buffer_len(),
            ControlMessage::Heartbeat(m) => m.buffer_len(),
            ControlMessage::Other { parameters, .. } => parameters.len(),
        }
    }

    /// Writes the parameters (without the opcode) into `buf[..self.params_len()]`.
    pub fn emit_params(&self, buf: &mut [u8]) {
        match self {
            ControlMessage::FriendPoll(m) => m.emit(buf),
            ControlMessage::FriendUpdate(m) => m.emit(buf),
            ControlMessage::FriendRequest(m) => m.emit(buf),
            ControlMessage::FriendOffer(m) => m.emit(buf),
            ControlMessage::FriendClear(m) | ControlMessage::FriendClearConfirm(m) => m.emit(buf),
            ControlMessage::FriendSubscriptionListAdd(m)
            | ControlMessage::FriendSubscriptionListRemove(m) => m.emit(buf),
            ControlMessage::FriendSubscriptionListConfirm(m) => m.emit(buf),
            ControlMessage::Heartbeat(m) => m.emit(buf),
            ControlMessage::Other { parameters, .. } => {
                buf[..parameters.len()].copy_from_slice(parameters)
            }
        }
    }

    /// The parameters as a fresh vector.
    pub fn params_to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.params_len()];
        self.emit_params(&mut v);
        v
    }

    /// Whether the parameters fit one unsegmented control PDU (at most 11 octets, §3.5.2.3).
    pub fn fits_unsegmented(&self) -> bool {
        self.params_len() <= MAX_UNSEGMENTED_PARAMS_LEN
    }
}

/// `Opcode (1 octet, top bit 0) || Parameters`: the unsegmented control PDU (§3.5.2.3).
impl Wire for ControlMessage {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        // The top bit is SEG in a lower transport PDU; 1 would make this a segment.
        ControlMessage::parse_with_opcode(bytes[0], &bytes[1..])
    }
    fn buffer_len(&self) -> usize {
        1 + self.params_len()
    }
    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.opcode() & 0x7F;
        self.emit_params(&mut buf[1..]);
    }
}

/// Runs every parser of this module on `data`; whatever parses must emit bytes that parse to
/// the same value (a cargo-fuzz target).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    fn check<T: Wire + PartialEq + core::fmt::Debug>(data: &[u8]) {
        if let Ok(r) = T::parse(data) {
            let again = T::parse(&r.to_vec());
            assert_eq!(again.as_ref(), Ok(&r));
        }
    }
    check::<ControlMessage>(data);
    check::<FriendPoll>(data);
    check::<FriendUpdate>(data);
    check::<FriendRequest>(data);
    check::<FriendOffer>(data);
    check::<FriendClear>(data);
    check::<FriendSubscriptionList>(data);
    check::<FriendSubscriptionListConfirm>(data);
    check::<Heartbeat>(data);
    if let Some((&op, params)) = data.split_first() {
        if let Ok(m) = ControlMessage::parse_with_opcode(op, params) {
            assert_eq!(m.opcode(), op);
            assert_eq!(m.params_len(), m.params_to_vec().len());
            assert_eq!(
                ControlMessage::parse_with_opcode(op, &m.params_to_vec()),
                Ok(m)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // Mesh Protocol §8.3.1, message #1: Friend Request from the LPN 0x1201 to all-friends.
    #[test]
    fn sample_message_1_friend_request() {
        let pdu = h("034b50057e400000010000");
        let m = ControlMessage::parse(&pdu).unwrap();
        let expected = ControlMessage::FriendRequest(FriendRequest {
            criteria: FriendCriteria {
                rssi_factor: FriendFactor::Two,
                receive_window_factor: FriendFactor::OnePointFive,
                min_queue_size_log: 3,
            },
            receive_delay: 0x50,
            poll_timeout: 0x057e40,
            previous_address: Address::UNASSIGNED,
            num_elements: 1,
            lpn_counter: 0,
        });
        assert_eq!(m, expected);
        assert_eq!(m.opcode(), 0x03);
        assert_eq!(m.name(), "Friend Request");
        assert_eq!(m.params_to_vec(), h("4b50057e400000010000"));
        assert_eq!(m.to_vec(), pdu);
        assert!(m.fits_unsegmented());
        assert_eq!(
            ControlMessage::parse_with_opcode(0x03, &h("4b50057e400000010000")),
            Ok(expected)
        );
    }

    // §8.3.2, message #2: Friend Offer from the Friend 0x2345 to the LPN 0x1201.
    #[test]
    fn sample_message_2_friend_offer() {
        let pdu = h("04320308ba072f");
        let m = ControlMessage::parse(&pdu).unwrap();
        assert_eq!(
            m,
            ControlMessage::FriendOffer(FriendOffer {
                receive_window: 0x32,
                queue_size: 3,
                subscription_list_size: 8,
                rssi: -70,
                friend_counter: 0x072f,
            })
        );
        assert_eq!(m.to_vec(), pdu);
    }

    // §8.3.3, message #3: a second Friend Offer, from 0x2fe3.
    #[test]
    fn sample_message_3_friend_offer() {
        let pdu = h("04fa0205a6000a");
        let m = ControlMessage::parse(&pdu).unwrap();
        assert_eq!(
            m,
            ControlMessage::FriendOffer(FriendOffer {
                receive_window: 0xfa,
                queue_size: 2,
                subscription_list_size: 5,
                rssi: -90,
                friend_counter: 0x000a,
            })
        );
        assert_eq!(m.to_vec(), pdu);
    }

    // §8.3.4, message #4 (FSN 0) and §8.3.10, message #10 (FSN 1): Friend Poll.
    #[test]
    fn sample_messages_4_and_10_friend_poll() {
        let m4 = ControlMessage::parse(&h("0100")).unwrap();
        assert_eq!(m4, ControlMessage::FriendPoll(FriendPoll { fsn: false }));
        assert_eq!(m4.to_vec(), h("0100"));
        let m10 = ControlMessage::parse(&h("0101")).unwrap();
        assert_eq!(m10, ControlMessage::FriendPoll(FriendPoll { fsn: true }));
        assert_eq!(m10.to_vec(), h("0101"));
    }

    // §8.3.5, message #5: Friend Update from the Friend 0x2345.
    #[test]
    fn sample_message_5_friend_update() {
        let pdu = h("02001234567800");
        let m = ControlMessage::parse(&pdu).unwrap();
        assert_eq!(
            m,
            ControlMessage::FriendUpdate(FriendUpdate {
                key_refresh: false,
                iv_update: false,
                iv_index: IvIndex(0x12345678),
                more_data: false,
            })
        );
        assert_eq!(m.to_vec(), pdu);
    }

    // §8.3.7 message #7 is a Segment Acknowledgment (opcode 0x00): lower transport, not here.
    #[test]
    fn sample_message_7_segment_ack_is_not_upper_transport() {
        assert_eq!(
            ControlMessage::parse(&h("00a6ac00000002")),
            Err(Error::Invalid {
                field: "opcode",
                value: 0
            })
        );
    }

    // No Heartbeat appears in §8.3's samples; this one is built from the §3.6.5.10 layout:
    // InitTTL 0x05, Relay + Friend active.
    #[test]
    fn heartbeat_layout() {
        let m = ControlMessage::parse(&h("0a050005")).unwrap();
        let hb = Heartbeat {
            init_ttl: 5,
            features: Features(Features::RELAY | Features::FRIEND),
        };
        assert_eq!(m, ControlMessage::Heartbeat(hb));
        assert!(hb.features.relay() && hb.features.friend());
        assert!(!hb.features.proxy() && !hb.features.low_power());
        assert_eq!(m.to_vec(), h("0a050005"));
        // The RFU bit is ignored on receipt and sent as 0.
        let rfu = ControlMessage::parse(&h("0a850005")).unwrap();
        assert_eq!(rfu, m);
        assert_eq!(rfu.to_vec(), h("0a050005"));
    }

    #[test]
    fn friend_clear_and_confirm() {
        let c = ControlMessage::parse(&h("0512010002")).unwrap();
        let p = FriendClear {
            lpn_address: Address(0x1201),
            lpn_counter: 2,
        };
        assert_eq!(c, ControlMessage::FriendClear(p));
        let cc = ControlMessage::parse(&h("0612010002")).unwrap();
        assert_eq!(cc, ControlMessage::FriendClearConfirm(p));
        assert_eq!(cc.to_vec(), h("0612010002"));
    }

    #[test]
    fn friend_subscription_list() {
        let add = ControlMessage::parse(&h("0707c000c001")).unwrap();
        let list = FriendSubscriptionList {
            transaction_number: 7,
            addresses: vec![Address(0xc000), Address(0xc001)],
        };
        assert_eq!(add, ControlMessage::FriendSubscriptionListAdd(list.clone()));
        assert_eq!(add.to_vec(), h("0707c000c001"));
        let rm = ControlMessage::parse(&h("0807c000c001")).unwrap();
        assert_eq!(rm, ControlMessage::FriendSubscriptionListRemove(list));
        let cfm = ControlMessage::parse(&h("0907")).unwrap();
        assert_eq!(
            cfm,
            ControlMessage::FriendSubscriptionListConfirm(FriendSubscriptionListConfirm {
                transaction_number: 7
            })
        );
        // Empty list, odd length.
        assert!(matches!(
            ControlMessage::parse(&h("0707")),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            ControlMessage::parse(&h("0707c000c0")),
            Err(Error::Truncated { .. })
        ));
        // Longest: 127 addresses in 255 octets; 128 is too long.
        let mut long = vec![0x07, 0x01];
        long.extend(std::iter::repeat_n([0xc0, 0x00], 127).flatten());
        assert!(ControlMessage::parse(&long).is_ok());
        long.extend([0xc0, 0x00]);
        assert!(matches!(
            ControlMessage::parse(&long),
            Err(Error::TooLong { .. })
        ));
    }

    #[test]
    fn friend_poll_prohibited_padding() {
        for b in [0x02u8, 0x80, 0xff] {
            assert!(matches!(
                ControlMessage::parse(&[0x01, b]),
                Err(Error::Invalid {
                    field: "Friend Poll padding",
                    ..
                })
            ));
        }
    }

    #[test]
    fn friend_update_flags_and_md() {
        let m = ControlMessage::parse(&h("02031234567801")).unwrap();
        let ControlMessage::FriendUpdate(u) = m else {
            panic!("not a Friend Update")
        };
        assert!(u.key_refresh && u.iv_update && u.more_data);
        // RFU flag bits ignored.
        let rfu = ControlMessage::parse(&h("02fc1234567800")).unwrap();
        assert_eq!(rfu.to_vec(), h("02001234567800"));
        for md in [2u8, 0x80, 0xff] {
            let mut pdu = h("02001234567800");
            pdu[6] = md;
            assert_eq!(
                ControlMessage::parse(&pdu),
                Err(Error::Invalid {
                    field: "Friend Update MD",
                    value: u32::from(md)
                })
            );
        }
    }

    #[test]
    fn friend_request_prohibited_values() {
        let ok = h("4b50057e400000010000");
        assert!(FriendRequest::parse(&ok).is_ok());
        // RFU bit of the Criteria ignored.
        let mut rfu = ok.clone();
        rfu[0] |= 0x80;
        assert_eq!(FriendRequest::parse(&rfu).unwrap().to_vec(), ok);
        // MinQueueSizeLog 0b000.
        let mut p = ok.clone();
        p[0] = 0x48;
        assert_eq!(
            FriendRequest::parse(&p),
            Err(Error::Invalid {
                field: "Friend Request MinQueueSizeLog",
                value: 0
            })
        );
        // ReceiveDelay 0x00..=0x09 prohibited, 0x0A allowed.
        for d in 0u8..=9 {
            let mut p = ok.clone();
            p[1] = d;
            assert!(matches!(
                FriendRequest::parse(&p),
                Err(Error::Invalid {
                    field: "Friend Request ReceiveDelay",
                    ..
                })
            ));
        }
        let mut p = ok.clone();
        p[1] = 0x0a;
        assert!(FriendRequest::parse(&p).is_ok());
        // PollTimeout bounds.
        for (t, valid) in [
            (0x000000u32, false),
            (0x000009, false),
            (0x00000a, true),
            (0x34bbff, true),
            (0x34bc00, false),
            (0xffffff, false),
        ] {
            let mut p = ok.clone();
            p[2..5].copy_from_slice(&t.to_be_bytes()[1..]);
            let r = FriendRequest::parse(&p);
            if valid {
                assert_eq!(r.unwrap().poll_timeout, t);
            } else {
                assert_eq!(
                    r,
                    Err(Error::Invalid {
                        field: "Friend Request PollTimeout",
                        value: t
                    })
                );
            }
        }
        // NumElements 0.
        let mut p = ok.clone();
        p[7] = 0;
        assert_eq!(
            FriendRequest::parse(&p),
            Err(Error::Invalid {
                field: "Friend Request NumElements",
                value: 0
            })
        );
    }

    #[test]
    fn friend_offer_receive_window_zero() {
        assert_eq!(
            ControlMessage::parse(&h("04000308ba072f")),
            Err(Error::Invalid {
                field: "Friend Offer ReceiveWindow",
                value: 0
            })
        );
    }

    #[test]
    fn criteria_helpers() {
        let c = FriendCriteria::from_octet(0x4b).unwrap();
        assert_eq!(c.min_queue_size(), 8);
        assert_eq!(c.rssi_factor.tenths(), 20);
        assert_eq!(c.receive_window_factor.tenths(), 15);
        assert_eq!(c.to_octet(), 0x4b);
    }

    #[test]
    fn opcodes() {
        // Directed forwarding: representable, not modelled.
        for op in 0x0bu8..=0x11 {
            let m = ControlMessage::parse(&[op, 1, 2, 3]).unwrap();
            assert_eq!(
                m,
                ControlMessage::Other {
                    opcode: op,
                    parameters: vec![1, 2, 3]
                }
            );
            assert_eq!(m.to_vec(), vec![op, 1, 2, 3]);
            assert!(control_opcode_name(op).is_some());
        }
        assert_eq!(
            ControlMessage::parse(&[0x0b]).unwrap().name(),
            "PATH_REQUEST"
        );
        // RFU and non-7-bit opcodes.
        for op in (0x12u8..=0xff).chain([0x00]) {
            assert_eq!(
                ControlMessage::parse_with_opcode(op, &[]),
                Err(Error::Invalid {
                    field: "opcode",
                    value: u32::from(op)
                })
            );
        }
        // SEG=1 in front of a Friend Poll.
        assert!(ControlMessage::parse(&[0x81, 0x00]).is_err());
        assert_eq!(
            ControlMessage::parse(&[]),
            Err(Error::Truncated { need: 1, got: 0 })
        );
        let mut big = vec![0x0b];
        big.extend(vec![0u8; MAX_PARAMS_LEN + 1]);
        assert!(matches!(
            ControlMessage::parse(&big),
            Err(Error::TooLong { .. })
        ));
    }

    #[test]
    fn wrong_lengths() {
        // Every fixed-size message, one octet short and one long.
        for (op, len) in [
            (0x01u8, 1usize),
            (0x02, 6),
            (0x03, 10),
            (0x04, 6),
            (0x05, 4),
            (0x06, 4),
            (0x09, 1),
            (0x0a, 3),
        ] {
            let good = vec![0x01u8; len];
            assert_eq!(
                ControlMessage::parse_with_opcode(op, &good[..len - 1]),
                Err(Error::Truncated {
                    need: len,
                    got: len - 1
                })
            );
            let mut long = good.clone();
            long.push(0);
            assert_eq!(
                ControlMessage::parse_with_opcode(op, &long),
                Err(Error::TooLong {
                    max: len,
                    got: len + 1
                })
            );
        }
    }

    fn arb_address() -> impl Strategy<Value = Address> {
        any::<u16>().prop_map(Address)
    }

    fn arb_factor() -> impl Strategy<Value = FriendFactor> {
        (0u8..4).prop_map(FriendFactor::from_bits)
    }

    fn arb_subscription_list() -> impl Strategy<Value = FriendSubscriptionList> {
        (
            any::<u8>(),
            proptest::collection::vec(arb_address(), 1..=FriendSubscriptionList::MAX_ADDRESSES),
        )
            .prop_map(|(transaction_number, addresses)| FriendSubscriptionList {
                transaction_number,
                addresses,
            })
    }

    fn arb_control() -> impl Strategy<Value = ControlMessage> {
        prop_oneof![
            any::<bool>().prop_map(|fsn| ControlMessage::FriendPoll(FriendPoll { fsn })),
            (any::<bool>(), any::<bool>(), any::<u32>(), any::<bool>()).prop_map(
                |(key_refresh, iv_update, iv, more_data)| {
                    ControlMessage::FriendUpdate(FriendUpdate {
                        key_refresh,
                        iv_update,
                        iv_index: IvIndex(iv),
                        more_data,
                    })
                }
            ),
            (
                arb_factor(),
                arb_factor(),
                1u8..=7,
                0x0au8..=0xff,
                FriendRequest::MIN_POLL_TIMEOUT..=FriendRequest::MAX_POLL_TIMEOUT,
                arb_address(),
                1u8..=0xff,
                any::<u16>()
            )
                .prop_map(|(rf, wf, q, receive_delay, poll_timeout, prev, n, c)| {
                    ControlMessage::FriendRequest(FriendRequest {
                        criteria: FriendCriteria {
                            rssi_factor: rf,
                            receive_window_factor: wf,
                            min_queue_size_log: q,
                        },
                        receive_delay,
                        poll_timeout,
                        previous_address: prev,
                        num_elements: n,
                        lpn_counter: c,
                    })
                }),
            (
                1u8..=0xff,
                any::<u8>(),
                any::<u8>(),
                any::<i8>(),
                any::<u16>()
            )
                .prop_map(
                    |(receive_window, queue_size, subscription_list_size, rssi, friend_counter)| {
                        ControlMessage::FriendOffer(FriendOffer {
                            receive_window,
                            queue_size,
                            subscription_list_size,
                            rssi,
                            friend_counter,
                        })
                    }
                ),
            (arb_address(), any::<u16>()).prop_map(|(a, c)| ControlMessage::FriendClear(
                FriendClear {
                    lpn_address: a,
                    lpn_counter: c
                }
            )),
            (arb_address(), any::<u16>()).prop_map(|(a, c)| {
                ControlMessage::FriendClearConfirm(FriendClear {
                    lpn_address: a,
                    lpn_counter: c,
                })
            }),
            arb_subscription_list().prop_map(ControlMessage::FriendSubscriptionListAdd),
            arb_subscription_list().prop_map(ControlMessage::FriendSubscriptionListRemove),
            any::<u8>().prop_map(|t| ControlMessage::FriendSubscriptionListConfirm(
                FriendSubscriptionListConfirm {
                    transaction_number: t
                }
            )),
            (0u8..=0x7f, any::<u16>()).prop_map(|(init_ttl, f)| ControlMessage::Heartbeat(
                Heartbeat {
                    init_ttl,
                    features: Features(f)
                }
            )),
            (
                OPCODE_PATH_REQUEST..=OPCODE_PATH_REQUEST_SOLICITATION,
                proptest::collection::vec(any::<u8>(), 0..=MAX_PARAMS_LEN)
            )
                .prop_map(|(opcode, parameters)| ControlMessage::Other { opcode, parameters }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(m in arb_control()) {
            let bytes = m.to_vec();
            prop_assert_eq!(bytes.len(), m.buffer_len());
            prop_assert_eq!(bytes[0] & 0x80, 0);
            prop_assert_eq!(ControlMessage::parse(&bytes), Ok(m.clone()));
            prop_assert_eq!(
                ControlMessage::parse_with_opcode(m.opcode(), &m.params_to_vec()),
                Ok(m.clone())
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            fuzz_parse(&data);
        }

        #[test]
        fn plausible_bytes_never_panic(
            op in 0u8..0x14,
            params in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut data = vec![op];
            data.extend(params);
            fuzz_parse(&data);
        }
    }
}
