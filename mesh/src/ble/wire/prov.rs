//! Provisioning PDUs (Mesh Protocol 1.1 §5.4.1) and the plaintext Provisioning Data
//! (§5.4.2.5).
//!
//! A Provisioning PDU is one octet of Padding (2 bits, 0b00) and Type (6 bits) followed by the
//! parameters of that type. Every multi-octet field is big endian. Over PB-ADV it is carried,
//! segmented, by the Generic Provisioning layer ([`super::pbadv`]); over PB-GATT in Proxy PDUs.

use core::fmt;

use super::beacon::Flags;
use super::{need, Error, Hex, Result, Wire};
use crate::ble::{IvIndex, UnicastAddress};

/// Provisioning PDU types (§5.4.1). 0x0E..=0x3F are RFU.
pub mod pdu_type {
    /// Provisioning Invite (§5.4.1.1).
    pub const INVITE: u8 = 0x00;
    /// Provisioning Capabilities (§5.4.1.2).
    pub const CAPABILITIES: u8 = 0x01;
    /// Provisioning Start (§5.4.1.3).
    pub const START: u8 = 0x02;
    /// Provisioning Public Key (§5.4.1.4).
    pub const PUBLIC_KEY: u8 = 0x03;
    /// Provisioning Input Complete (§5.4.1.5).
    pub const INPUT_COMPLETE: u8 = 0x04;
    /// Provisioning Confirmation (§5.4.1.6).
    pub const CONFIRMATION: u8 = 0x05;
    /// Provisioning Random (§5.4.1.7).
    pub const RANDOM: u8 = 0x06;
    /// Provisioning Data (§5.4.1.8).
    pub const DATA: u8 = 0x07;
    /// Provisioning Complete (§5.4.1.9).
    pub const COMPLETE: u8 = 0x08;
    /// Provisioning Failed (§5.4.1.10).
    pub const FAILED: u8 = 0x09;
    /// Provisioning Record Request (§5.4.1.11, Mesh 1.1).
    pub const RECORD_REQUEST: u8 = 0x0A;
    /// Provisioning Record Response (§5.4.1.12, Mesh 1.1).
    pub const RECORD_RESPONSE: u8 = 0x0B;
    /// Provisioning Records Get (§5.4.1.13, Mesh 1.1).
    pub const RECORDS_GET: u8 = 0x0C;
    /// Provisioning Records List (§5.4.1.14, Mesh 1.1).
    pub const RECORDS_LIST: u8 = 0x0D;
}

/// The provisioning algorithms of the Capabilities PDU, a 16-bit bitfield (§5.4.1.2). Bits 2..=15
/// are RFU and kept as received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Algorithms(pub u16);

impl Algorithms {
    /// BTM_ECDH_P256_CMAC_AES128_AES_CCM.
    pub const P256_CMAC_AES128: u16 = 1 << 0;
    /// BTM_ECDH_P256_HMAC_SHA256_AES_CCM (Mesh 1.1).
    pub const P256_HMAC_SHA256: u16 = 1 << 1;

    /// Whether `algorithm` is among these.
    pub const fn supports(self, algorithm: Algorithm) -> bool {
        self.0 & (1 << algorithm as u16) != 0
    }
}

impl fmt::Debug for Algorithms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Algorithms({:04x})", self.0)
    }
}

/// The Output OOB Action bitfield of the Capabilities PDU (§5.4.1.2). Bits 5..=15 are RFU and kept
/// as received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OutputOobActions(pub u16);

impl OutputOobActions {
    /// Blink.
    pub const BLINK: u16 = 1 << 0;
    /// Beep.
    pub const BEEP: u16 = 1 << 1;
    /// Vibrate.
    pub const VIBRATE: u16 = 1 << 2;
    /// Output Numeric.
    pub const OUTPUT_NUMERIC: u16 = 1 << 3;
    /// Output Alphanumeric.
    pub const OUTPUT_ALPHANUMERIC: u16 = 1 << 4;

    /// Whether `action` is among these.
    pub const fn supports(self, action: OutputOobAction) -> bool {
        self.0 & (1 << action as u16) != 0
    }
}

impl fmt::Debug for OutputOobActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OutputOobActions({:04x})", self.0)
    }
}

/// The Input OOB Action bitfield of the Capabilities PDU (§5.4.1.2). Bits 4..=15 are RFU and kept
/// as received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InputOobActions(pub u16);

impl InputOobActions {
    /// Push.
    pub const PUSH: u16 = 1 << 0;
    /// Twist.
    pub const TWIST: u16 = 1 << 1;
    /// Input Numeric.
    pub const INPUT_NUMERIC: u16 = 1 << 2;
    /// Input Alphanumeric.
    pub const INPUT_ALPHANUMERIC: u16 = 1 << 3;

    /// Whether `action` is among these.
    pub const fn supports(self, action: InputOobAction) -> bool {
        self.0 & (1 << action as u16) != 0
    }
}

impl fmt::Debug for InputOobActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InputOobActions({:04x})", self.0)
    }
}

/// The largest Output/Input OOB Size (§5.4.1.2, §5.4.1.3): 0x09..=0xFF are RFU.
pub const MAX_OOB_SIZE: u8 = 0x08;

/// Provisioning Capabilities parameters (§5.4.1.2), 11 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// Number of Elements, 1..=255 (0x00 is prohibited).
    pub number_of_elements: u8,
    /// Algorithms supported.
    pub algorithms: Algorithms,
    /// Public Key Type bit 0: the device's public key is available out of band
    /// (bits 1..=7 are prohibited).
    pub public_key_oob: bool,
    /// OOB Type bit 0: static OOB information is available.
    pub static_oob: bool,
    /// OOB Type bit 1 (Mesh 1.1): only OOB-authenticated provisioning is supported
    /// (bits 2..=7 are prohibited).
    pub only_oob_authenticated: bool,
    /// Output OOB Size: 0 when output OOB is not supported, else the largest size, 1..=8.
    pub output_oob_size: u8,
    /// Output OOB Actions supported.
    pub output_oob_actions: OutputOobActions,
    /// Input OOB Size: 0 when input OOB is not supported, else the largest size, 1..=8.
    pub input_oob_size: u8,
    /// Input OOB Actions supported.
    pub input_oob_actions: InputOobActions,
}

impl Capabilities {
    const LEN: usize = 11;

    /// A device of `number_of_elements` elements offering `algorithms` and exactly the
    /// authentication `auth` (§5.4.1.2: the Static OOB bit, or one Output or Input OOB action
    /// with its size); no OOB public key.
    pub fn offering(number_of_elements: u8, algorithms: Algorithms, auth: AuthMethod) -> Self {
        let mut c = Capabilities::no_oob(number_of_elements, algorithms);
        match auth {
            AuthMethod::NoOob => {}
            AuthMethod::StaticOob => c.static_oob = true,
            AuthMethod::OutputOob { action, size } => {
                c.output_oob_size = size;
                c.output_oob_actions = OutputOobActions(1 << action as u16);
            }
            AuthMethod::InputOob { action, size } => {
                c.input_oob_size = size;
                c.input_oob_actions = InputOobActions(1 << action as u16);
            }
        }
        c
    }

    /// A device of `number_of_elements` elements offering `algorithms` and no OOB of any kind
    /// (no OOB public key, no static, output or input OOB).
    pub const fn no_oob(number_of_elements: u8, algorithms: Algorithms) -> Self {
        Capabilities {
            number_of_elements,
            algorithms,
            public_key_oob: false,
            static_oob: false,
            only_oob_authenticated: false,
            output_oob_size: 0,
            output_oob_actions: OutputOobActions(0),
            input_oob_size: 0,
            input_oob_actions: InputOobActions(0),
        }
    }

    fn parse_params(p: &[u8]) -> Result<Self> {
        exact(p, Self::LEN)?;
        if p[0] == 0 {
            return invalid("number of elements", p[0]);
        }
        if p[3] & !0x01 != 0 {
            return invalid("public key type", p[3]);
        }
        if p[4] & !0x03 != 0 {
            return invalid("OOB type", p[4]);
        }
        if p[5] > MAX_OOB_SIZE {
            return invalid("output OOB size", p[5]);
        }
        if p[8] > MAX_OOB_SIZE {
            return invalid("input OOB size", p[8]);
        }
        Ok(Capabilities {
            number_of_elements: p[0],
            algorithms: Algorithms(be16(&p[1..3])),
            public_key_oob: p[3] & 0x01 != 0,
            static_oob: p[4] & 0x01 != 0,
            only_oob_authenticated: p[4] & 0x02 != 0,
            output_oob_size: p[5],
            output_oob_actions: OutputOobActions(be16(&p[6..8])),
            input_oob_size: p[8],
            input_oob_actions: InputOobActions(be16(&p[9..11])),
        })
    }

    fn emit_params(&self, p: &mut [u8]) {
        p[0] = self.number_of_elements;
        p[1..3].copy_from_slice(&self.algorithms.0.to_be_bytes());
        p[3] = u8::from(self.public_key_oob);
        p[4] = u8::from(self.static_oob) | (u8::from(self.only_oob_authenticated) << 1);
        p[5] = self.output_oob_size;
        p[6..8].copy_from_slice(&self.output_oob_actions.0.to_be_bytes());
        p[8] = self.input_oob_size;
        p[9..11].copy_from_slice(&self.input_oob_actions.0.to_be_bytes());
    }
}

/// A provisioning algorithm (§5.4.1.3); 0x02..=0xFF are RFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Algorithm {
    /// BTM_ECDH_P256_CMAC_AES128_AES_CCM: 16-octet confirmations, randoms and AuthValue.
    P256CmacAes128 = 0x00,
    /// BTM_ECDH_P256_HMAC_SHA256_AES_CCM (Mesh 1.1): 32-octet ones.
    P256HmacSha256 = 0x01,
}

impl Algorithm {
    /// The length of Confirmation, Random and AuthValue under this algorithm (§5.4.2.4).
    pub const fn value_len(self) -> usize {
        match self {
            Algorithm::P256CmacAes128 => 16,
            Algorithm::P256HmacSha256 => 32,
        }
    }
}

/// An Output OOB Action selected in the Start PDU (§5.4.1.3); 0x05..=0xFF are RFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OutputOobAction {
    /// Blink.
    Blink = 0x00,
    /// Beep.
    Beep = 0x01,
    /// Vibrate.
    Vibrate = 0x02,
    /// Output Numeric.
    OutputNumeric = 0x03,
    /// Output Alphanumeric.
    OutputAlphanumeric = 0x04,
}

impl OutputOobAction {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0x00 => Self::Blink,
            0x01 => Self::Beep,
            0x02 => Self::Vibrate,
            0x03 => Self::OutputNumeric,
            0x04 => Self::OutputAlphanumeric,
            _ => return invalid("output OOB action", v),
        })
    }
}

/// An Input OOB Action selected in the Start PDU (§5.4.1.3); 0x04..=0xFF are RFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum InputOobAction {
    /// Push.
    Push = 0x00,
    /// Twist.
    Twist = 0x01,
    /// Input Numeric.
    InputNumeric = 0x02,
    /// Input Alphanumeric.
    InputAlphanumeric = 0x03,
}

impl InputOobAction {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0x00 => Self::Push,
            0x01 => Self::Twist,
            0x02 => Self::InputNumeric,
            0x03 => Self::InputAlphanumeric,
            _ => return invalid("input OOB action", v),
        })
    }
}

/// The Authentication Method of the Start PDU with its Action and Size (§5.4.1.3 and the
/// Action/Size tables).
///
/// For No OOB and Static OOB, Action and Size are 0x00 (other values are prohibited). For Output
/// and Input OOB, Size is 1..=8 (0x00 is prohibited, 0x09..=0xFF RFU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Method 0x00: No OOB authentication.
    NoOob,
    /// Method 0x01: Static OOB authentication.
    StaticOob,
    /// Method 0x02: Output OOB authentication.
    OutputOob {
        /// The output action.
        action: OutputOobAction,
        /// The size of the value to output, 1..=8.
        size: u8,
    },
    /// Method 0x03: Input OOB authentication.
    InputOob {
        /// The input action.
        action: InputOobAction,
        /// The size of the value to input, 1..=8.
        size: u8,
    },
}

impl AuthMethod {
    /// The (Method, Action, Size) octets.
    pub const fn octets(self) -> [u8; 3] {
        match self {
            AuthMethod::NoOob => [0x00, 0x00, 0x00],
            AuthMethod::StaticOob => [0x01, 0x00, 0x00],
            AuthMethod::OutputOob { action, size } => [0x02, action as u8, size],
            AuthMethod::InputOob { action, size } => [0x03, action as u8, size],
        }
    }

    fn from_octets(method: u8, action: u8, size: u8) -> Result<Self> {
        let oob_size = |size: u8| {
            if size == 0 || size > MAX_OOB_SIZE {
                invalid("authentication size", size)
            } else {
                Ok(size)
            }
        };
        match method {
            0x00 | 0x01 => {
                if action != 0 {
                    return invalid("authentication action", action);
                }
                if size != 0 {
                    return invalid("authentication size", size);
                }
                Ok(if method == 0 {
                    AuthMethod::NoOob
                } else {
                    AuthMethod::StaticOob
                })
            }
            0x02 => Ok(AuthMethod::OutputOob {
                action: OutputOobAction::from_u8(action)?,
                size: oob_size(size)?,
            }),
            0x03 => Ok(AuthMethod::InputOob {
                action: InputOobAction::from_u8(action)?,
                size: oob_size(size)?,
            }),
            _ => invalid("authentication method", method),
        }
    }
}

/// Provisioning Start parameters (§5.4.1.3), 5 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Start {
    /// The algorithm the Provisioner chose.
    pub algorithm: Algorithm,
    /// Public Key field: 0x01 when the device's OOB public key is used, 0x00 when not
    /// (0x02..=0xFF are prohibited).
    pub public_key_oob: bool,
    /// Authentication Method, Action and Size.
    pub authentication: AuthMethod,
}

impl Start {
    const LEN: usize = 5;

    fn parse_params(p: &[u8]) -> Result<Self> {
        exact(p, Self::LEN)?;
        let algorithm = match p[0] {
            0x00 => Algorithm::P256CmacAes128,
            0x01 => Algorithm::P256HmacSha256,
            v => return invalid("algorithm", v),
        };
        let public_key_oob = match p[1] {
            0x00 => false,
            0x01 => true,
            v => return invalid("public key", v),
        };
        Ok(Start {
            algorithm,
            public_key_oob,
            authentication: AuthMethod::from_octets(p[2], p[3], p[4])?,
        })
    }

    fn emit_params(&self, p: &mut [u8]) {
        p[0] = self.algorithm as u8;
        p[1] = u8::from(self.public_key_oob);
        p[2..5].copy_from_slice(&self.authentication.octets());
    }
}

/// A P-256 public key as carried by the Public Key PDU (§5.4.1.4): X and Y, 32 octets each,
/// big endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKeyPdu {
    /// The X coordinate.
    pub x: [u8; 32],
    /// The Y coordinate.
    pub y: [u8; 32],
}

impl PublicKeyPdu {
    /// X || Y, the 64 octets ECDH and the confirmation inputs use.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&self.x);
        b[32..].copy_from_slice(&self.y);
        b
    }
}

impl fmt::Debug for PublicKeyPdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeyPdu")
            .field("x", &Hex(&self.x))
            .field("y", &Hex(&self.y))
            .finish()
    }
}

/// A Confirmation (§5.4.1.6) or Random (§5.4.1.7) value: 16 octets under
/// BTM_ECDH_P256_CMAC_AES128_AES_CCM, 32 under BTM_ECDH_P256_HMAC_SHA256_AES_CCM.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProvisioningValue {
    /// 16 octets (CMAC-AES128 algorithm).
    Cmac([u8; 16]),
    /// 32 octets (HMAC-SHA256 algorithm).
    HmacSha256([u8; 32]),
}

impl ProvisioningValue {
    /// The value's octets.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ProvisioningValue::Cmac(v) => v,
            ProvisioningValue::HmacSha256(v) => v,
        }
    }

    /// A value from 16 or 32 octets.
    pub fn from_slice(b: &[u8]) -> Result<Self> {
        match b.len() {
            16 => Ok(ProvisioningValue::Cmac(arr(b))),
            32 => Ok(ProvisioningValue::HmacSha256(arr(b))),
            n if n < 16 => Err(Error::Truncated { need: 16, got: n }),
            n if n < 32 => Err(Error::Truncated { need: 32, got: n }),
            n => Err(Error::TooLong { max: 32, got: n }),
        }
    }
}

impl fmt::Debug for ProvisioningValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProvisioningValue({:?})", Hex(self.as_bytes()))
    }
}

/// The Provisioning Data PDU parameters (§5.4.1.8): the 25 octets of Provisioning Data
/// encrypted under the SessionKey, and the 64-bit MIC.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptedProvisioningData {
    /// Encrypted Provisioning Data, 25 octets.
    pub encrypted: [u8; 25],
    /// Provisioning Data MIC, 8 octets.
    pub mic: [u8; 8],
}

impl fmt::Debug for EncryptedProvisioningData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedProvisioningData")
            .field("encrypted", &Hex(&self.encrypted))
            .field("mic", &Hex(&self.mic))
            .finish()
    }
}

/// The error codes of the Provisioning Failed PDU (§5.4.1.10). 0x00 is prohibited and 0x0A..=0xFF
/// are RFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    /// The provisioning protocol PDU is not recognized by the device.
    InvalidPdu = 0x01,
    /// The arguments of the protocol PDUs are outside expected values or the length of the
    /// PDU is different than expected.
    InvalidFormat = 0x02,
    /// The PDU received was not expected at this moment of the procedure.
    UnexpectedPdu = 0x03,
    /// The computed confirmation value was not successfully verified.
    ConfirmationFailed = 0x04,
    /// The provisioning protocol cannot be continued due to insufficient resources.
    OutOfResources = 0x05,
    /// The Data block was not successfully decrypted.
    DecryptionFailed = 0x06,
    /// An unexpected error occurred that may not be recoverable.
    UnexpectedError = 0x07,
    /// The device cannot assign consecutive unicast addresses to all elements.
    CannotAssignAddresses = 0x08,
    /// The Data block contains values that cannot be accepted (Mesh 1.1).
    InvalidData = 0x09,
}

impl ErrorCode {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0x01 => Self::InvalidPdu,
            0x02 => Self::InvalidFormat,
            0x03 => Self::UnexpectedPdu,
            0x04 => Self::ConfirmationFailed,
            0x05 => Self::OutOfResources,
            0x06 => Self::DecryptionFailed,
            0x07 => Self::UnexpectedError,
            0x08 => Self::CannotAssignAddresses,
            0x09 => Self::InvalidData,
            _ => return invalid("provisioning error code", v),
        })
    }
}

/// Provisioning Record Request parameters (§5.4.1.11, Mesh 1.1), 6 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordRequest {
    /// Record ID of a provisioning record, e.g. 0x0001 Device Certificate (§5.4.1.11).
    pub record_id: u16,
    /// Fragment Offset: the first octet of the record requested.
    pub fragment_offset: u16,
    /// Fragment Maximum Size: the largest fragment the Provisioner accepts.
    pub fragment_max_size: u16,
}

/// The Status of a Provisioning Record Response (§5.4.1.12); 0x03..=0xFF are RFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RecordStatus {
    /// Success.
    Success = 0x00,
    /// Requested Record Is Not Present.
    RecordNotPresent = 0x01,
    /// Requested Offset Is Out Of Bounds.
    OffsetOutOfBounds = 0x02,
}

/// Provisioning Record Response parameters (§5.4.1.12, Mesh 1.1): 7 octets and the data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecordResponse {
    /// Status.
    pub status: RecordStatus,
    /// Record ID.
    pub record_id: u16,
    /// Fragment Offset of `data` within the record.
    pub fragment_offset: u16,
    /// Total Length of the record.
    pub total_length: u16,
    /// The record fragment (empty unless the status is Success).
    pub data: Vec<u8>,
}

impl fmt::Debug for RecordResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordResponse")
            .field("status", &self.status)
            .field("record_id", &self.record_id)
            .field("fragment_offset", &self.fragment_offset)
            .field("total_length", &self.total_length)
            .field("data", &Hex(&self.data))
            .finish()
    }
}

/// Provisioning Records List parameters (§5.4.1.14, Mesh 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordsList {
    /// Provisioning Extensions: a bitfield whose bits are all RFU in Mesh 1.1; kept as
    /// received.
    pub provisioning_extensions: u16,
    /// The Record IDs the device holds, 2 octets each.
    pub record_ids: Vec<u16>,
}

/// A Provisioning PDU (§5.4.1), by its Type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProvisioningPdu {
    /// Provisioning Invite (0x00): Attention Timer state in seconds (§5.4.1.1).
    Invite {
        /// Attention Duration, seconds.
        attention_duration: u8,
    },
    /// Provisioning Capabilities (0x01, §5.4.1.2).
    Capabilities(Capabilities),
    /// Provisioning Start (0x02, §5.4.1.3).
    Start(Start),
    /// Provisioning Public Key (0x03, §5.4.1.4).
    PublicKey(PublicKeyPdu),
    /// Provisioning Input Complete (0x04, §5.4.1.5).
    InputComplete,
    /// Provisioning Confirmation (0x05, §5.4.1.6).
    Confirmation(ProvisioningValue),
    /// Provisioning Random (0x06, §5.4.1.7).
    Random(ProvisioningValue),
    /// Provisioning Data (0x07, §5.4.1.8).
    Data(EncryptedProvisioningData),
    /// Provisioning Complete (0x08, §5.4.1.9).
    Complete,
    /// Provisioning Failed (0x09, §5.4.1.10).
    Failed(ErrorCode),
    /// Provisioning Record Request (0x0A, §5.4.1.11).
    RecordRequest(RecordRequest),
    /// Provisioning Record Response (0x0B, §5.4.1.12).
    RecordResponse(RecordResponse),
    /// Provisioning Records Get (0x0C, §5.4.1.13).
    RecordsGet,
    /// Provisioning Records List (0x0D, §5.4.1.14).
    RecordsList(RecordsList),
}

impl ProvisioningPdu {
    /// The 6-bit Type of this PDU.
    pub const fn pdu_type(&self) -> u8 {
        match self {
            ProvisioningPdu::Invite { .. } => pdu_type::INVITE,
            ProvisioningPdu::Capabilities(_) => pdu_type::CAPABILITIES,
            ProvisioningPdu::Start(_) => pdu_type::START,
            ProvisioningPdu::PublicKey(_) => pdu_type::PUBLIC_KEY,
            ProvisioningPdu::InputComplete => pdu_type::INPUT_COMPLETE,
            ProvisioningPdu::Confirmation(_) => pdu_type::CONFIRMATION,
            ProvisioningPdu::Random(_) => pdu_type::RANDOM,
            ProvisioningPdu::Data(_) => pdu_type::DATA,
            ProvisioningPdu::Complete => pdu_type::COMPLETE,
            ProvisioningPdu::Failed(_) => pdu_type::FAILED,
            ProvisioningPdu::RecordRequest(_) => pdu_type::RECORD_REQUEST,
            ProvisioningPdu::RecordResponse(_) => pdu_type::RECORD_RESPONSE,
            ProvisioningPdu::RecordsGet => pdu_type::RECORDS_GET,
            ProvisioningPdu::RecordsList(_) => pdu_type::RECORDS_LIST,
        }
    }

    /// The PDU's name as the specification writes it (§5.4.1).
    pub const fn name(&self) -> &'static str {
        match self {
            ProvisioningPdu::Invite { .. } => "Provisioning Invite",
            ProvisioningPdu::Capabilities(_) => "Provisioning Capabilities",
            ProvisioningPdu::Start(_) => "Provisioning Start",
            ProvisioningPdu::PublicKey(_) => "Provisioning Public Key",
            ProvisioningPdu::InputComplete => "Provisioning Input Complete",
            ProvisioningPdu::Confirmation(_) => "Provisioning Confirmation",
            ProvisioningPdu::Random(_) => "Provisioning Random",
            ProvisioningPdu::Data(_) => "Provisioning Data",
            ProvisioningPdu::Complete => "Provisioning Complete",
            ProvisioningPdu::Failed(_) => "Provisioning Failed",
            ProvisioningPdu::RecordRequest(_) => "Provisioning Record Request",
            ProvisioningPdu::RecordResponse(_) => "Provisioning Record Response",
            ProvisioningPdu::RecordsGet => "Provisioning Records Get",
            ProvisioningPdu::RecordsList(_) => "Provisioning Records List",
        }
    }

    /// The parameters alone (everything after the Type octet), as the confirmation inputs
    /// of §5.4.2.4 use them for Invite, Capabilities and Start.
    pub fn parameters(&self) -> Vec<u8> {
        let mut v = self.to_vec();
        v.remove(0);
        v
    }
}

impl Wire for ProvisioningPdu {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        // §5.4.1: Padding (bits 7..6) shall be 0b00.
        if bytes[0] & 0xC0 != 0 {
            return invalid("provisioning PDU padding", bytes[0] >> 6);
        }
        let p = &bytes[1..];
        Ok(match bytes[0] {
            pdu_type::INVITE => {
                exact(p, 1)?;
                ProvisioningPdu::Invite {
                    attention_duration: p[0],
                }
            }
            pdu_type::CAPABILITIES => ProvisioningPdu::Capabilities(Capabilities::parse_params(p)?),
            pdu_type::START => ProvisioningPdu::Start(Start::parse_params(p)?),
            pdu_type::PUBLIC_KEY => {
                exact(p, 64)?;
                ProvisioningPdu::PublicKey(PublicKeyPdu {
                    x: arr(&p[..32]),
                    y: arr(&p[32..]),
                })
            }
            pdu_type::INPUT_COMPLETE => {
                exact(p, 0)?;
                ProvisioningPdu::InputComplete
            }
            pdu_type::CONFIRMATION => {
                ProvisioningPdu::Confirmation(ProvisioningValue::from_slice(p)?)
            }
            pdu_type::RANDOM => ProvisioningPdu::Random(ProvisioningValue::from_slice(p)?),
            pdu_type::DATA => {
                exact(p, 33)?;
                ProvisioningPdu::Data(EncryptedProvisioningData {
                    encrypted: arr(&p[..25]),
                    mic: arr(&p[25..]),
                })
            }
            pdu_type::COMPLETE => {
                exact(p, 0)?;
                ProvisioningPdu::Complete
            }
            pdu_type::FAILED => {
                exact(p, 1)?;
                ProvisioningPdu::Failed(ErrorCode::from_u8(p[0])?)
            }
            pdu_type::RECORD_REQUEST => {
                exact(p, 6)?;
                ProvisioningPdu::RecordRequest(RecordRequest {
                    record_id: be16(&p[0..2]),
                    fragment_offset: be16(&p[2..4]),
                    fragment_max_size: be16(&p[4..6]),
                })
            }
            pdu_type::RECORD_RESPONSE => {
                need(p, 7)?;
                let status = match p[0] {
                    0x00 => RecordStatus::Success,
                    0x01 => RecordStatus::RecordNotPresent,
                    0x02 => RecordStatus::OffsetOutOfBounds,
                    v => return invalid("record response status", v),
                };
                ProvisioningPdu::RecordResponse(RecordResponse {
                    status,
                    record_id: be16(&p[1..3]),
                    fragment_offset: be16(&p[3..5]),
                    total_length: be16(&p[5..7]),
                    data: p[7..].to_vec(),
                })
            }
            pdu_type::RECORDS_GET => {
                exact(p, 0)?;
                ProvisioningPdu::RecordsGet
            }
            pdu_type::RECORDS_LIST => {
                need(p, 2)?;
                let ids = &p[2..];
                if !ids.len().is_multiple_of(2) {
                    return Err(Error::Invalid {
                        field: "records list length",
                        value: u32::try_from(ids.len()).unwrap_or(u32::MAX),
                    });
                }
                ProvisioningPdu::RecordsList(RecordsList {
                    provisioning_extensions: be16(&p[0..2]),
                    record_ids: ids.chunks_exact(2).map(be16).collect(),
                })
            }
            t => return invalid("provisioning PDU type", t),
        })
    }

    fn buffer_len(&self) -> usize {
        1 + match self {
            ProvisioningPdu::Invite { .. } => 1,
            ProvisioningPdu::Capabilities(_) => Capabilities::LEN,
            ProvisioningPdu::Start(_) => Start::LEN,
            ProvisioningPdu::PublicKey(_) => 64,
            ProvisioningPdu::InputComplete
            | ProvisioningPdu::Complete
            | ProvisioningPdu::RecordsGet => 0,
            ProvisioningPdu::Confirmation(v) | ProvisioningPdu::Random(v) => v.as_bytes().len(),
            ProvisioningPdu::Data(_) => 33,
            ProvisioningPdu::Failed(_) => 1,
            ProvisioningPdu::RecordRequest(_) => 6,
            ProvisioningPdu::RecordResponse(r) => 7 + r.data.len(),
            ProvisioningPdu::RecordsList(l) => 2 + 2 * l.record_ids.len(),
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.pdu_type();
        let p = &mut buf[1..self.buffer_len()];
        match self {
            ProvisioningPdu::Invite { attention_duration } => p[0] = *attention_duration,
            ProvisioningPdu::Capabilities(c) => c.emit_params(p),
            ProvisioningPdu::Start(s) => s.emit_params(p),
            ProvisioningPdu::PublicKey(k) => {
                p[..32].copy_from_slice(&k.x);
                p[32..].copy_from_slice(&k.y);
            }
            ProvisioningPdu::InputComplete
            | ProvisioningPdu::Complete
            | ProvisioningPdu::RecordsGet => {}
            ProvisioningPdu::Confirmation(v) | ProvisioningPdu::Random(v) => {
                p.copy_from_slice(v.as_bytes())
            }
            ProvisioningPdu::Data(d) => {
                p[..25].copy_from_slice(&d.encrypted);
                p[25..].copy_from_slice(&d.mic);
            }
            ProvisioningPdu::Failed(e) => p[0] = *e as u8,
            ProvisioningPdu::RecordRequest(r) => {
                p[0..2].copy_from_slice(&r.record_id.to_be_bytes());
                p[2..4].copy_from_slice(&r.fragment_offset.to_be_bytes());
                p[4..6].copy_from_slice(&r.fragment_max_size.to_be_bytes());
            }
            ProvisioningPdu::RecordResponse(r) => {
                p[0] = r.status as u8;
                p[1..3].copy_from_slice(&r.record_id.to_be_bytes());
                p[3..5].copy_from_slice(&r.fragment_offset.to_be_bytes());
                p[5..7].copy_from_slice(&r.total_length.to_be_bytes());
                p[7..].copy_from_slice(&r.data);
            }
            ProvisioningPdu::RecordsList(l) => {
                p[0..2].copy_from_slice(&l.provisioning_extensions.to_be_bytes());
                for (chunk, id) in p[2..].chunks_exact_mut(2).zip(&l.record_ids) {
                    chunk.copy_from_slice(&id.to_be_bytes());
                }
            }
        }
    }
}

/// The largest NetKey Index (§4.3.1.1): key indexes are 12 bits.
pub const MAX_KEY_INDEX: u16 = 0x0FFF;

/// The plaintext Provisioning Data (§5.4.2.5), 25 octets: Network Key (16), Key Index (2),
/// Flags (1), IV Index (4), Unicast Address (2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProvisioningData {
    /// The NetKey.
    pub net_key: [u8; 16],
    /// The NetKey Index, 0x000..=0xFFF.
    pub key_index: u16,
    /// Flags: Key Refresh (bit 0) and IV Update (bit 1); bits 2..=7 RFU, kept as received.
    pub flags: Flags,
    /// The current IV Index.
    pub iv_index: IvIndex,
    /// The unicast address of the primary element.
    pub unicast_address: UnicastAddress,
}

impl ProvisioningData {
    /// Length of the plaintext Provisioning Data.
    pub const LEN: usize = 25;
}

impl fmt::Debug for ProvisioningData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvisioningData")
            .field("net_key", &Hex(&self.net_key))
            .field("key_index", &self.key_index)
            .field("flags", &self.flags)
            .field("iv_index", &self.iv_index)
            .field("unicast_address", &self.unicast_address)
            .finish()
    }
}

impl Wire for ProvisioningData {
    fn parse(bytes: &[u8]) -> Result<Self> {
        exact(bytes, Self::LEN)?;
        let key_index = be16(&bytes[16..18]);
        if key_index > MAX_KEY_INDEX {
            return Err(Error::Invalid {
                field: "key index",
                value: u32::from(key_index),
            });
        }
        let addr = be16(&bytes[23..25]);
        let unicast_address = UnicastAddress::new(addr).ok_or(Error::Invalid {
            field: "unicast address",
            value: u32::from(addr),
        })?;
        Ok(ProvisioningData {
            net_key: arr(&bytes[..16]),
            key_index,
            flags: Flags(bytes[18]),
            iv_index: IvIndex(u32::from_be_bytes(arr(&bytes[19..23]))),
            unicast_address,
        })
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[..16].copy_from_slice(&self.net_key);
        buf[16..18].copy_from_slice(&self.key_index.to_be_bytes());
        buf[18] = self.flags.0;
        buf[19..23].copy_from_slice(&self.iv_index.0.to_be_bytes());
        buf[23..25].copy_from_slice(&self.unicast_address.get().to_be_bytes());
    }
}

fn invalid<T>(field: &'static str, value: u8) -> Result<T> {
    Err(Error::Invalid {
        field,
        value: u32::from(value),
    })
}

fn exact(bytes: &[u8], len: usize) -> Result<()> {
    need(bytes, len)?;
    super::at_most(bytes, len)
}

/// Reads a big-endian u16 from a slice the caller has checked holds at least two octets.
fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Copies a slice whose length the caller has checked into an array.
fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

/// Runs every parser of this module on `data`; each success must emit bytes that re-parse to
/// the same value (used by the fuzz targets).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    fn check<T: Wire + PartialEq + fmt::Debug>(data: &[u8]) {
        if let Ok(v) = T::parse(data) {
            let bytes = v.to_vec();
            assert_eq!(bytes.len(), v.buffer_len());
            assert_eq!(T::parse(&bytes).as_ref(), Ok(&v));
        }
    }
    check::<ProvisioningPdu>(data);
    check::<ProvisioningData>(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Ccm, MicLen};
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn round(hex_pdu: &str) -> ProvisioningPdu {
        let b = h(hex_pdu);
        let p = ProvisioningPdu::parse(&b).unwrap();
        assert_eq!(hex::encode(p.to_vec()), hex_pdu);
        p
    }

    // MshPRT 1.1 §8.17.1 (Mesh Profile 1.0.1 §8.7) provisioning sample data,
    // BTM_ECDH_P256_CMAC_AES128_AES_CCM, No OOB.
    #[test]
    fn sample_invite_capabilities_start() {
        // Provisioning Invite: Attention Duration 0x00.
        assert_eq!(
            round("0000"),
            ProvisioningPdu::Invite {
                attention_duration: 0
            }
        );
        // Provisioning Capabilities: 1 element, algorithm bit 0, no OOB of any kind. The
        // parameters are the 11 octets 0100010000000000000000.
        let caps = round("010100010000000000000000");
        assert_eq!(
            caps,
            ProvisioningPdu::Capabilities(Capabilities::no_oob(
                1,
                Algorithms(Algorithms::P256_CMAC_AES128)
            ))
        );
        assert_eq!(hex::encode(caps.parameters()), "0100010000000000000000");
        // Provisioning Start: algorithm 0, no OOB public key, no OOB authentication.
        assert_eq!(
            round("020000000000"),
            ProvisioningPdu::Start(Start {
                algorithm: Algorithm::P256CmacAes128,
                public_key_oob: false,
                authentication: AuthMethod::NoOob,
            })
        );
    }

    #[test]
    fn sample_public_key_confirmation_random_data() {
        // The Provisioner's public key of the sample (X || Y).
        let pk = "2c31a47b5779809ef44cb5eaaf5c3e43d5f8faad4a8794cb987e9b03745c78dd\
                  919512183898dfbecd52e2408e43871fd021109117bd3ed4eaf8437743715d4f";
        let p = round(&format!("03{pk}"));
        let ProvisioningPdu::PublicKey(k) = p else {
            panic!("{p:?}")
        };
        assert_eq!(hex::encode(k.to_bytes()), pk);
        // Provisioner's Confirmation and Random.
        assert!(matches!(
            round("05b38a114dfdca1fe153bd2c1e0dc46ac2"),
            ProvisioningPdu::Confirmation(ProvisioningValue::Cmac(_))
        ));
        assert!(matches!(
            round("068b19ac31d58b124c946209b5db1021b9"),
            ProvisioningPdu::Random(ProvisioningValue::Cmac(_))
        ));
        // Encrypted Provisioning Data and MIC.
        let d = round("07d0bd7f4a89a2ff6222af59a90a60ad58acfe3123356f5cec2973e0ec50783b10c7");
        assert!(matches!(d, ProvisioningPdu::Data(_)));
        assert_eq!(round("08"), ProvisioningPdu::Complete);
    }

    // The Provisioning Data of the sample: NetKey efb2255e6422d330088e09bb015ed707, Key Index
    // 0x0567, Flags 0x00, IV Index 0x01020304, Unicast Address 0x0b0c; encrypted with the
    // sample's SessionKey and SessionNonce it gives the Provisioning Data PDU's parameters.
    #[test]
    fn sample_provisioning_data() {
        let plain = "efb2255e6422d330088e09bb015ed707056700010203040b0c";
        let d = ProvisioningData::parse(&h(plain)).unwrap();
        assert_eq!(d.key_index, 0x0567);
        assert_eq!(d.flags, Flags(0));
        assert_eq!(d.iv_index, IvIndex(0x0102_0304));
        assert_eq!(d.unicast_address.get(), 0x0b0c);
        assert_eq!(hex::encode(d.to_vec()), plain);

        let session_key: [u8; 16] = h("c80253af86b33dfa450bbdb2a191fea3").try_into().unwrap();
        let nonce: [u8; 13] = h("da7ddbe78b5f62b81d6847487e").try_into().unwrap();
        let ct = Ccm::new(&session_key).encrypt(&nonce, &[], &d.to_vec(), MicLen::Mic64);
        let pdu = ProvisioningPdu::parse(&[&[0x07][..], &ct].concat()).unwrap();
        assert_eq!(
            hex::encode(pdu.to_vec()),
            "07d0bd7f4a89a2ff6222af59a90a60ad58acfe3123356f5cec2973e0ec50783b10c7"
        );
    }

    #[test]
    fn provisioning_data_rejects() {
        let mut v = h("efb2255e6422d330088e09bb015ed707056700010203040b0c");
        assert_eq!(
            ProvisioningData::parse(&v[..24]),
            Err(Error::Truncated { need: 25, got: 24 })
        );
        let mut long = v.clone();
        long.push(0);
        assert_eq!(
            ProvisioningData::parse(&long),
            Err(Error::TooLong { max: 25, got: 26 })
        );
        v[16] = 0x10; // key index 0x1067
        assert_eq!(
            ProvisioningData::parse(&v),
            Err(Error::Invalid {
                field: "key index",
                value: 0x1067
            })
        );
        v[16] = 0x05;
        for addr in [0x0000u16, 0x8000, 0xc000, 0xffff] {
            v[23..25].copy_from_slice(&addr.to_be_bytes());
            assert_eq!(
                ProvisioningData::parse(&v),
                Err(Error::Invalid {
                    field: "unicast address",
                    value: u32::from(addr)
                })
            );
        }
    }

    #[test]
    fn capabilities_prohibited_values() {
        let ok = h("010100010000000000000000");
        let bad = |i: usize, v: u8| {
            let mut b = ok.clone();
            b[i] = v;
            ProvisioningPdu::parse(&b)
        };
        assert_eq!(
            bad(1, 0),
            Err(Error::Invalid {
                field: "number of elements",
                value: 0
            })
        );
        for v in 0x02..=0xffu8 {
            assert!(matches!(
                bad(4, v),
                Err(Error::Invalid {
                    field: "public key type",
                    ..
                })
            ));
        }
        for v in 0x04..=0xffu8 {
            assert!(matches!(
                bad(5, v),
                Err(Error::Invalid {
                    field: "OOB type",
                    ..
                })
            ));
        }
        for v in 0x09..=0xffu8 {
            assert!(matches!(
                bad(6, v),
                Err(Error::Invalid {
                    field: "output OOB size",
                    ..
                })
            ));
            assert!(matches!(
                bad(9, v),
                Err(Error::Invalid {
                    field: "input OOB size",
                    ..
                })
            ));
        }
        // Mesh 1.1 values are accepted: both algorithms, "only OOB authenticated".
        let mut b = ok.clone();
        b[3] = 0x03;
        b[5] = 0x03;
        let ProvisioningPdu::Capabilities(c) = ProvisioningPdu::parse(&b).unwrap() else {
            panic!()
        };
        assert!(c.algorithms.supports(Algorithm::P256HmacSha256));
        assert!(c.static_oob && c.only_oob_authenticated);
        // RFU bits of the bitfields are kept.
        b[7] = 0xff;
        b[8] = 0xff;
        assert_eq!(ProvisioningPdu::parse(&b).unwrap().to_vec(), b);
    }

    #[test]
    fn start_validity_rules() {
        let start = |a: &[u8]| ProvisioningPdu::parse(&[&[0x02][..], a].concat());
        // Algorithm 0x02.. RFU; Public Key 0x02.. prohibited; method 0x04.. prohibited.
        assert!(matches!(
            start(&[2, 0, 0, 0, 0]),
            Err(Error::Invalid {
                field: "algorithm",
                ..
            })
        ));
        assert!(matches!(
            start(&[0, 2, 0, 0, 0]),
            Err(Error::Invalid {
                field: "public key",
                ..
            })
        ));
        for m in 0x04..=0xffu8 {
            assert!(matches!(
                start(&[0, 0, m, 0, 0]),
                Err(Error::Invalid {
                    field: "authentication method",
                    ..
                })
            ));
        }
        // No OOB / Static OOB: Action and Size shall be 0.
        for m in [0u8, 1] {
            assert!(matches!(
                start(&[0, 0, m, 1, 0]),
                Err(Error::Invalid {
                    field: "authentication action",
                    ..
                })
            ));
            assert!(matches!(
                start(&[0, 0, m, 0, 1]),
                Err(Error::Invalid {
                    field: "authentication size",
                    ..
                })
            ));
        }
        // Output OOB: actions 0..=4, size 1..=8.
        assert_eq!(
            start(&[1, 1, 2, 4, 8]),
            Ok(ProvisioningPdu::Start(Start {
                algorithm: Algorithm::P256HmacSha256,
                public_key_oob: true,
                authentication: AuthMethod::OutputOob {
                    action: OutputOobAction::OutputAlphanumeric,
                    size: 8
                }
            }))
        );
        assert!(matches!(
            start(&[0, 0, 2, 5, 1]),
            Err(Error::Invalid {
                field: "output OOB action",
                ..
            })
        ));
        // Input OOB: actions 0..=3.
        assert!(start(&[0, 0, 3, 3, 1]).is_ok());
        assert!(matches!(
            start(&[0, 0, 3, 4, 1]),
            Err(Error::Invalid {
                field: "input OOB action",
                ..
            })
        ));
        for m in [2u8, 3] {
            for size in [0u8, 9, 0xff] {
                assert!(matches!(
                    start(&[0, 0, m, 0, size]),
                    Err(Error::Invalid {
                        field: "authentication size",
                        ..
                    })
                ));
            }
        }
        assert_eq!(
            start(&[0, 0, 0, 0]),
            Err(Error::Truncated { need: 5, got: 4 })
        );
    }

    #[test]
    fn type_padding_and_lengths() {
        assert_eq!(
            ProvisioningPdu::parse(&[]),
            Err(Error::Truncated { need: 1, got: 0 })
        );
        for t in 0x0E..=0x3Fu8 {
            assert_eq!(
                ProvisioningPdu::parse(&[t]),
                Err(Error::Invalid {
                    field: "provisioning PDU type",
                    value: u32::from(t)
                })
            );
        }
        for pad in 1..=3u8 {
            assert_eq!(
                ProvisioningPdu::parse(&[pad << 6 | 0x08]),
                Err(Error::Invalid {
                    field: "provisioning PDU padding",
                    value: u32::from(pad)
                })
            );
        }
        // Confirmation and Random: 16 or 32 octets, nothing else.
        for n in 0..40usize {
            let mut b = vec![0x05];
            b.resize(1 + n, 0xaa);
            let r = ProvisioningPdu::parse(&b);
            assert_eq!(r.is_ok(), n == 16 || n == 32, "{n}");
        }
        let b32 = [&[0x06][..], &[7u8; 32]].concat();
        assert_eq!(
            ProvisioningPdu::parse(&b32),
            Ok(ProvisioningPdu::Random(ProvisioningValue::HmacSha256(
                [7; 32]
            )))
        );
        assert_eq!(
            ProvisioningPdu::parse(&[0x04, 0]),
            Err(Error::TooLong { max: 0, got: 1 })
        );
        assert_eq!(
            ProvisioningPdu::parse(&[0x07; 33]),
            Err(Error::Truncated { need: 33, got: 32 })
        );
        assert_eq!(
            ProvisioningPdu::parse(&[0x03; 64]),
            Err(Error::Truncated { need: 64, got: 63 })
        );
    }

    #[test]
    fn failed_error_codes() {
        for c in 1..=9u8 {
            let p = ProvisioningPdu::parse(&[0x09, c]).unwrap();
            let ProvisioningPdu::Failed(e) = p else {
                panic!()
            };
            assert_eq!(e as u8, c);
        }
        assert_eq!(
            ProvisioningPdu::parse(&[0x09, 0x09]),
            Ok(ProvisioningPdu::Failed(ErrorCode::InvalidData))
        );
        for c in [0x00u8, 0x0a, 0xff] {
            assert_eq!(
                ProvisioningPdu::parse(&[0x09, c]),
                Err(Error::Invalid {
                    field: "provisioning error code",
                    value: u32::from(c)
                })
            );
        }
    }

    #[test]
    fn records() {
        assert_eq!(
            round("0a000100100014"),
            ProvisioningPdu::RecordRequest(RecordRequest {
                record_id: 1,
                fragment_offset: 0x10,
                fragment_max_size: 0x14
            })
        );
        assert_eq!(
            round("0b00000100000330820102"),
            ProvisioningPdu::RecordResponse(RecordResponse {
                status: RecordStatus::Success,
                record_id: 1,
                fragment_offset: 0,
                total_length: 0x0330,
                data: vec![0x82, 0x01, 0x02],
            })
        );
        assert!(matches!(
            round("0b01000100000000"),
            ProvisioningPdu::RecordResponse(_)
        ));
        assert!(matches!(
            ProvisioningPdu::parse(&h("0b03000100000000")),
            Err(Error::Invalid {
                field: "record response status",
                ..
            })
        ));
        assert_eq!(round("0c"), ProvisioningPdu::RecordsGet);
        assert_eq!(
            round("0d000000000001"),
            ProvisioningPdu::RecordsList(RecordsList {
                provisioning_extensions: 0,
                record_ids: vec![0, 1]
            })
        );
        assert!(matches!(round("0d0000"), ProvisioningPdu::RecordsList(_)));
        assert!(matches!(
            ProvisioningPdu::parse(&h("0d0000000102")),
            Err(Error::Invalid {
                field: "records list length",
                value: 3
            })
        ));
        assert_eq!(
            ProvisioningPdu::parse(&h("0d00")),
            Err(Error::Truncated { need: 2, got: 1 })
        );
    }

    fn auth_method() -> impl Strategy<Value = AuthMethod> {
        let out = prop_oneof![
            Just(OutputOobAction::Blink),
            Just(OutputOobAction::Beep),
            Just(OutputOobAction::Vibrate),
            Just(OutputOobAction::OutputNumeric),
            Just(OutputOobAction::OutputAlphanumeric),
        ];
        let inp = prop_oneof![
            Just(InputOobAction::Push),
            Just(InputOobAction::Twist),
            Just(InputOobAction::InputNumeric),
            Just(InputOobAction::InputAlphanumeric),
        ];
        prop_oneof![
            Just(AuthMethod::NoOob),
            Just(AuthMethod::StaticOob),
            (out, 1..=8u8).prop_map(|(action, size)| AuthMethod::OutputOob { action, size }),
            (inp, 1..=8u8).prop_map(|(action, size)| AuthMethod::InputOob { action, size }),
        ]
    }

    fn value() -> impl Strategy<Value = ProvisioningValue> {
        prop_oneof![
            any::<[u8; 16]>().prop_map(ProvisioningValue::Cmac),
            any::<[u8; 32]>().prop_map(ProvisioningValue::HmacSha256),
        ]
    }

    fn error_code() -> impl Strategy<Value = ErrorCode> {
        (1..=9u8).prop_map(|c| ErrorCode::from_u8(c).unwrap())
    }

    fn pdu() -> impl Strategy<Value = ProvisioningPdu> {
        let caps = (
            1..=255u8,
            any::<u16>(),
            any::<(bool, bool, bool)>(),
            (0..=8u8, any::<u16>(), 0..=8u8, any::<u16>()),
        )
            .prop_map(|(n, alg, (pk, st, only), (os, oa, is, ia))| {
                ProvisioningPdu::Capabilities(Capabilities {
                    number_of_elements: n,
                    algorithms: Algorithms(alg),
                    public_key_oob: pk,
                    static_oob: st,
                    only_oob_authenticated: only,
                    output_oob_size: os,
                    output_oob_actions: OutputOobActions(oa),
                    input_oob_size: is,
                    input_oob_actions: InputOobActions(ia),
                })
            });
        let start = (any::<bool>(), any::<bool>(), auth_method()).prop_map(|(a, pk, m)| {
            ProvisioningPdu::Start(Start {
                algorithm: if a {
                    Algorithm::P256HmacSha256
                } else {
                    Algorithm::P256CmacAes128
                },
                public_key_oob: pk,
                authentication: m,
            })
        });
        let status = prop_oneof![
            Just(RecordStatus::Success),
            Just(RecordStatus::RecordNotPresent),
            Just(RecordStatus::OffsetOutOfBounds),
        ];
        prop_oneof![
            any::<u8>().prop_map(|d| ProvisioningPdu::Invite {
                attention_duration: d
            }),
            caps,
            start,
            (any::<[u8; 32]>(), any::<[u8; 32]>())
                .prop_map(|(x, y)| ProvisioningPdu::PublicKey(PublicKeyPdu { x, y })),
            Just(ProvisioningPdu::InputComplete),
            value().prop_map(ProvisioningPdu::Confirmation),
            value().prop_map(ProvisioningPdu::Random),
            (any::<[u8; 25]>(), any::<[u8; 8]>()).prop_map(|(encrypted, mic)| {
                ProvisioningPdu::Data(EncryptedProvisioningData { encrypted, mic })
            }),
            Just(ProvisioningPdu::Complete),
            error_code().prop_map(ProvisioningPdu::Failed),
            any::<(u16, u16, u16)>().prop_map(|(a, b, c)| {
                ProvisioningPdu::RecordRequest(RecordRequest {
                    record_id: a,
                    fragment_offset: b,
                    fragment_max_size: c,
                })
            }),
            (
                status,
                any::<(u16, u16, u16)>(),
                proptest::collection::vec(any::<u8>(), 0..60)
            )
                .prop_map(|(status, (a, b, c), data)| {
                    ProvisioningPdu::RecordResponse(RecordResponse {
                        status,
                        record_id: a,
                        fragment_offset: b,
                        total_length: c,
                        data,
                    })
                }),
            Just(ProvisioningPdu::RecordsGet),
            (any::<u16>(), proptest::collection::vec(any::<u16>(), 0..20)).prop_map(|(e, ids)| {
                ProvisioningPdu::RecordsList(RecordsList {
                    provisioning_extensions: e,
                    record_ids: ids,
                })
            }),
        ]
    }

    fn prov_data() -> impl Strategy<Value = ProvisioningData> {
        (
            any::<[u8; 16]>(),
            0..=MAX_KEY_INDEX,
            any::<u8>(),
            any::<u32>(),
            1..=0x7fffu16,
        )
            .prop_map(|(net_key, key_index, f, iv, a)| ProvisioningData {
                net_key,
                key_index,
                flags: Flags(f),
                iv_index: IvIndex(iv),
                unicast_address: UnicastAddress::new(a).unwrap(),
            })
    }

    proptest! {
        #[test]
        fn pdu_round_trip(p in pdu()) {
            let b = p.to_vec();
            prop_assert_eq!(b.len(), p.buffer_len());
            prop_assert_eq!(b[0], p.pdu_type());
            prop_assert_eq!(ProvisioningPdu::parse(&b), Ok(p));
        }

        #[test]
        fn data_round_trip(d in prov_data()) {
            prop_assert_eq!(ProvisioningData::parse(&d.to_vec()), Ok(d));
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            fuzz_parse(&data);
            if let Ok(p) = ProvisioningPdu::parse(&data) {
                prop_assert_eq!(p.to_vec(), data.clone());
            }
            if let Ok(d) = ProvisioningData::parse(&data) {
                prop_assert_eq!(d.to_vec(), data);
            }
        }

        #[test]
        fn arbitrary_typed_bytes(t in 0u8..0x0f, n in 0usize..70, fill in any::<u8>()) {
            // Lengths near every PDU's own, so each type's parser gets exercised.
            let mut data = vec![t];
            data.extend(std::iter::repeat_n(fill, n));
            fuzz_parse(&data);
            if let Ok(p) = ProvisioningPdu::parse(&data) {
                prop_assert_eq!(p.to_vec(), data);
            }
        }
    }
}
