//! The Proxy protocol (Mesh Protocol 1.1 §6): Proxy PDUs with their segmentation and
//! reassembly (§6.3), and the payloads of proxy configuration messages (§6.6).
//!
//! A Proxy PDU is one ATT value written to (or notified from) the Mesh Proxy or Mesh
//! Provisioning Data In/Out characteristic:
//!
//! ```text
//! octet 0: SAR (bits 7..6) | Message Type (bits 5..0)     §6.3.1
//! octet 1..: Data (a complete message or one segment of it)
//! ```
//!
//! Proxy configuration messages are carried, encrypted with the proxy nonce (§3.9.5.4), in a
//! Network PDU with CTL = 1, TTL = 0 and DST = 0x0000; the encryption belongs to the network
//! layer. [`ProxyConfigMessage`] is the decrypted TransportPDU: `Opcode || Parameters`, with
//! multi-octet fields big-endian like the rest of the network layer.

use core::fmt;

use super::{need, Error, Hex, Result, Wire};
use crate::ble::address::{Address, UnicastAddress};

// ---------------------------------------------------------------------------------------------
// Proxy PDU (§6.3.1)
// ---------------------------------------------------------------------------------------------

/// The SAR field of a Proxy PDU (§6.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sar {
    /// 0b00: the data is a complete message.
    Complete,
    /// 0b01: the data is the first segment of a message.
    First,
    /// 0b10: the data is a continuation segment of a message.
    Continuation,
    /// 0b11: the data is the last segment of a message.
    Last,
}

impl Sar {
    /// The 2-bit field value.
    pub const fn to_bits(self) -> u8 {
        match self {
            Sar::Complete => 0b00,
            Sar::First => 0b01,
            Sar::Continuation => 0b10,
            Sar::Last => 0b11,
        }
    }

    /// The SAR value of the low two bits of `bits`.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b00 => Sar::Complete,
            0b01 => Sar::First,
            0b10 => Sar::Continuation,
            _ => Sar::Last,
        }
    }
}

/// The Message Type field of a Proxy PDU (§6.3.1); 0x04..=0x3F are RFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 0x00: Network PDU.
    NetworkPdu,
    /// 0x01: mesh beacon.
    MeshBeacon,
    /// 0x02: proxy configuration message.
    ProxyConfiguration,
    /// 0x03: Provisioning PDU.
    ProvisioningPdu,
}

impl MessageType {
    /// The 6-bit field value.
    pub const fn to_u8(self) -> u8 {
        match self {
            MessageType::NetworkPdu => 0x00,
            MessageType::MeshBeacon => 0x01,
            MessageType::ProxyConfiguration => 0x02,
            MessageType::ProvisioningPdu => 0x03,
        }
    }

    /// The message type of a 6-bit value; RFU values are rejected (§6.3.1).
    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0x00 => Ok(MessageType::NetworkPdu),
            0x01 => Ok(MessageType::MeshBeacon),
            0x02 => Ok(MessageType::ProxyConfiguration),
            0x03 => Ok(MessageType::ProvisioningPdu),
            _ => Err(Error::Invalid {
                field: "proxy message type",
                value: u32::from(v),
            }),
        }
    }
}

/// The Proxy PDU header octet: SAR in bits 7..6, Message Type in bits 5..0 (§6.3.1).
const fn header(sar: Sar, message_type: MessageType) -> u8 {
    (sar.to_bits() << 6) | message_type.to_u8()
}

/// Parses the header octet (§6.3.1).
fn parse_header(b: u8) -> Result<(Sar, MessageType)> {
    Ok((Sar::from_bits(b >> 6), MessageType::from_u8(b & 0x3F)?))
}

/// A zero-copy checked view of a Proxy PDU (§6.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyPduView<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ProxyPduView<T> {
    /// Wraps `buffer` after checking that it holds the header octet and that the message type
    /// is not RFU, so the accessors never fail.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need(b, 1)?;
        parse_header(b[0])?;
        Ok(ProxyPduView { buffer })
    }

    /// The SAR field.
    pub fn sar(&self) -> Sar {
        Sar::from_bits(self.buffer.as_ref()[0] >> 6)
    }

    /// The Message Type field.
    pub fn message_type(&self) -> MessageType {
        match self.buffer.as_ref()[0] & 0x3F {
            0x00 => MessageType::NetworkPdu,
            0x01 => MessageType::MeshBeacon,
            0x02 => MessageType::ProxyConfiguration,
            // `new_checked` rejected the RFU values.
            _ => MessageType::ProvisioningPdu,
        }
    }

    /// The Data field: a complete message or one segment of it.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[1..]
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// A Proxy PDU (§6.3.1): one complete message or one segment of it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyPdu {
    /// Segmentation and reassembly information.
    pub sar: Sar,
    /// What the (reassembled) data is.
    pub message_type: MessageType,
    /// The message or segment.
    pub data: Vec<u8>,
}

impl fmt::Debug for ProxyPdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyPdu")
            .field("sar", &self.sar)
            .field("message_type", &self.message_type)
            .field("data", &Hex(&self.data))
            .finish()
    }
}

impl Wire for ProxyPdu {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let view = ProxyPduView::new_checked(bytes)?;
        Ok(ProxyPdu {
            sar: view.sar(),
            message_type: view.message_type(),
            data: view.data().to_vec(),
        })
    }

    fn buffer_len(&self) -> usize {
        1 + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = header(self.sar, self.message_type);
        buf[1..1 + self.data.len()].copy_from_slice(&self.data);
    }
}

/// The smallest ATT_MTU (Core Vol 3 Part F §3.2.8, LE: 23 octets).
pub const MIN_ATT_MTU: u16 = 23;

/// The Proxy SAR timeout (§6.3.2: 20 seconds): a receiver that has not completed a
/// segmented message within this time after its last segment drops the connection. The
/// reassembler has no clock; its owner arms this timer and calls [`ProxyReassembler::reset`].
pub const SAR_TIMEOUT_SECS: u64 = 20;

/// Splits `payload` into Proxy PDUs each of which fits in one ATT value, `mtu - 3` octets
/// (§6.3.2; ATT Write Command / Handle Value Notification carry ATT_MTU - 3 octets).
///
/// An `mtu` below [`MIN_ATT_MTU`] is treated as the minimum. A payload that fits is sent as
/// one complete-message PDU (SAR 0b00), including an empty payload.
pub fn segment(message_type: MessageType, payload: &[u8], mtu: u16) -> Vec<ProxyPdu> {
    let mtu = usize::from(mtu.max(MIN_ATT_MTU));
    // ATT value = mtu - 3; one octet of it is the Proxy PDU header.
    let chunk = mtu - 3 - 1;
    if payload.len() <= chunk {
        return vec![ProxyPdu {
            sar: Sar::Complete,
            message_type,
            data: payload.to_vec(),
        }];
    }
    let n = payload.len().div_ceil(chunk);
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| ProxyPdu {
            sar: if i == 0 {
                Sar::First
            } else if i + 1 == n {
                Sar::Last
            } else {
                Sar::Continuation
            },
            message_type,
            data: c.to_vec(),
        })
        .collect()
}

/// Why the reassembler rejected a Proxy PDU. Every error also resets the reassembler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// The PDU itself is malformed.
    #[error("malformed proxy PDU: {0}")]
    Parse(#[from] Error),
    /// A continuation or last segment arrived with no message in progress.
    #[error("{0:?} segment without a first segment")]
    NoFirstSegment(Sar),
    /// A first segment or complete message arrived while a message was in progress.
    #[error("{0:?} PDU while a segmented message is in progress")]
    Interrupted(Sar),
    /// A segment's message type differs from the first segment's.
    #[error("message type changed from {expected:?} to {got:?} mid-message")]
    TypeChanged {
        /// The type of the first segment.
        expected: MessageType,
        /// The type of the offending segment.
        got: MessageType,
    },
    /// The reassembled message would exceed the reassembler's bound.
    #[error("reassembled message too long: at most {max} octets")]
    TooLong {
        /// The bound.
        max: usize,
    },
}

/// Default bound of a reassembled message: generous for every mesh message carried by the
/// Proxy protocol (the largest Provisioning PDU is 65 octets; Network PDUs at most 29).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 512;

/// Sans-IO reassembly of segmented Proxy PDUs (§6.3.2), for one connection and direction.
///
/// Feed every received PDU in order; a complete message comes out as
/// `Some((message_type, data))`. Protocol violations (a continuation without a first segment,
/// a message type change, an interrupted message, an oversize message) are errors and reset
/// the state; §6.3.2 has the receiver disconnect in these cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyReassembler {
    max_len: usize,
    pending: Option<(MessageType, Vec<u8>)>,
}

impl Default for ProxyReassembler {
    fn default() -> Self {
        ProxyReassembler::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl ProxyReassembler {
    /// A reassembler that refuses messages longer than `max_len` octets.
    pub fn new(max_len: usize) -> Self {
        ProxyReassembler {
            max_len,
            pending: None,
        }
    }

    /// Whether a segmented message is in progress (the SAR timer should be running).
    pub fn in_progress(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops any partial message (e.g. when the SAR timer expires).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Parses `bytes` as a Proxy PDU and feeds it.
    pub fn feed_bytes(
        &mut self,
        bytes: &[u8],
    ) -> core::result::Result<Option<(MessageType, Vec<u8>)>, ReassemblyError> {
        match ProxyPduView::new_checked(bytes) {
            Ok(v) => self.feed_parts(v.sar(), v.message_type(), v.data()),
            Err(e) => {
                self.reset();
                Err(e.into())
            }
        }
    }

    /// Feeds one PDU; returns the message it completes, if any.
    pub fn feed(
        &mut self,
        pdu: &ProxyPdu,
    ) -> core::result::Result<Option<(MessageType, Vec<u8>)>, ReassemblyError> {
        self.feed_parts(pdu.sar, pdu.message_type, &pdu.data)
    }

    fn feed_parts(
        &mut self,
        sar: Sar,
        message_type: MessageType,
        data: &[u8],
    ) -> core::result::Result<Option<(MessageType, Vec<u8>)>, ReassemblyError> {
        let max = self.max_len;
        match (sar, self.pending.take()) {
            (Sar::Complete | Sar::First, Some(_)) => Err(ReassemblyError::Interrupted(sar)),
            (Sar::Continuation | Sar::Last, None) => Err(ReassemblyError::NoFirstSegment(sar)),
            (_, _) if data.len() > max => Err(ReassemblyError::TooLong { max }),
            (Sar::Complete, None) => Ok(Some((message_type, data.to_vec()))),
            (Sar::First, None) => {
                self.pending = Some((message_type, data.to_vec()));
                Ok(None)
            }
            (Sar::Continuation | Sar::Last, Some((expected, mut buf))) => {
                if expected != message_type {
                    return Err(ReassemblyError::TypeChanged {
                        expected,
                        got: message_type,
                    });
                }
                // `buf.len() <= max` and `data.len() <= max`, so no overflow.
                if buf.len() + data.len() > max {
                    return Err(ReassemblyError::TooLong { max });
                }
                buf.extend_from_slice(data);
                if sar == Sar::Last {
                    Ok(Some((expected, buf)))
                } else {
                    self.pending = Some((expected, buf));
                    Ok(None)
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Proxy configuration messages (§6.6)
// ---------------------------------------------------------------------------------------------

/// Set Filter Type opcode (§6.6).
pub const OP_SET_FILTER_TYPE: u8 = 0x00;
/// Add Addresses To Filter opcode (§6.6).
pub const OP_ADD_ADDRESSES_TO_FILTER: u8 = 0x01;
/// Remove Addresses From Filter opcode (§6.6).
pub const OP_REMOVE_ADDRESSES_FROM_FILTER: u8 = 0x02;
/// Filter Status opcode (§6.6).
pub const OP_FILTER_STATUS: u8 = 0x03;
/// DIRECTED_PROXY_CAPABILITIES_STATUS opcode (§6.6; Mesh 1.1).
pub const OP_DIRECTED_PROXY_CAPABILITIES_STATUS: u8 = 0x04;
/// DIRECTED_PROXY_CONTROL opcode (§6.6; Mesh 1.1).
pub const OP_DIRECTED_PROXY_CONTROL: u8 = 0x05;

/// The proxy filter type (§6.6.1; 0x02..=0xFF prohibited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterType {
    /// 0x00: accept list filter.
    AcceptList,
    /// 0x01: reject list filter.
    RejectList,
}

impl FilterType {
    /// The field value.
    pub const fn to_u8(self) -> u8 {
        match self {
            FilterType::AcceptList => 0x00,
            FilterType::RejectList => 0x01,
        }
    }

    /// The filter type of a field value; prohibited values are rejected (§6.6.1).
    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0x00 => Ok(FilterType::AcceptList),
            0x01 => Ok(FilterType::RejectList),
            _ => Err(Error::Invalid {
                field: "filter type",
                value: u32::from(v),
            }),
        }
    }
}

/// The Directed Proxy state reported in DIRECTED_PROXY_CAPABILITIES_STATUS (§6.6.5, state
/// values of §4.2.26.3; 0x03..=0xFF prohibited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectedProxy {
    /// 0x00: directed proxy functionality is disabled for the subnet.
    Disabled,
    /// 0x01: directed proxy functionality is enabled for the subnet.
    Enabled,
    /// 0x02: directed proxy functionality is not supported by the node.
    NotSupported,
}

impl DirectedProxy {
    /// The field value.
    pub const fn to_u8(self) -> u8 {
        match self {
            DirectedProxy::Disabled => 0x00,
            DirectedProxy::Enabled => 0x01,
            DirectedProxy::NotSupported => 0x02,
        }
    }

    /// The state of a field value; prohibited values are rejected (§4.2.26.3).
    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0x00 => Ok(DirectedProxy::Disabled),
            0x01 => Ok(DirectedProxy::Enabled),
            0x02 => Ok(DirectedProxy::NotSupported),
            _ => Err(Error::Invalid {
                field: "directed proxy",
                value: u32::from(v),
            }),
        }
    }
}

/// Parses a Use_Directed field: 0x00 disabled, 0x01 enabled, 0x02..=0xFF prohibited (§6.6.5).
fn parse_use_directed(v: u8) -> Result<bool> {
    match v {
        0x00 => Ok(false),
        0x01 => Ok(true),
        _ => Err(Error::Invalid {
            field: "use directed",
            value: u32::from(v),
        }),
    }
}

/// A range of unicast addresses in the unicast address range format (§3.4.2.2.1): the first
/// address and the number of addresses, 1..=255, with `start + length <= 0x8000`.
///
/// On the wire, as the §8.9.3 sample shows for a proxy configuration message:
/// `Length_Present (1 bit) || Range_Start (15 bits)` big-endian, then `Range_Length`
/// (one octet, 0x02..=0xFF) only when Length_Present is 1; a single address has
/// Length_Present 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnicastAddressRange {
    /// The first unicast address of the range.
    pub start: UnicastAddress,
    /// The number of addresses, at least 1.
    pub length: u8,
}

impl UnicastAddressRange {
    /// A validated range (`length >= 1`, the range stays within the unicast addresses).
    pub fn new(start: UnicastAddress, length: u8) -> Result<Self> {
        if length == 0 {
            return Err(Error::Invalid {
                field: "range length",
                value: 0,
            });
        }
        if u32::from(start.get()) + u32::from(length) > 0x8000 {
            return Err(Error::Invalid {
                field: "range end",
                value: u32::from(start.get()) + u32::from(length),
            });
        }
        Ok(UnicastAddressRange { start, length })
    }

    /// The encoded length: 2 octets, or 3 when the range holds more than one address.
    pub fn buffer_len(&self) -> usize {
        if self.length > 1 {
            3
        } else {
            2
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        let present = if self.length > 1 { 0x8000 } else { 0 };
        let first = present | (self.start.get() & 0x7FFF);
        buf[..2].copy_from_slice(&first.to_be_bytes());
        if self.length > 1 {
            buf[2] = self.length;
        }
    }

    /// Parses a range occupying all of `bytes` (§3.4.2.2.1).
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 2)?;
        let first = u16::from_be_bytes([bytes[0], bytes[1]]);
        let present = first & 0x8000 != 0;
        let start_raw = first & 0x7FFF;
        let start = UnicastAddress::new(start_raw).ok_or(Error::Invalid {
            field: "range start",
            value: u32::from(start_raw),
        })?;
        let length = if present {
            need(bytes, 3)?;
            super::at_most(bytes, 3)?;
            // Range_Length 0x00 and 0x01 are prohibited: one address is Length_Present = 0.
            if bytes[2] < 2 {
                return Err(Error::Invalid {
                    field: "range length",
                    value: u32::from(bytes[2]),
                });
            }
            bytes[2]
        } else {
            super::at_most(bytes, 2)?;
            1
        };
        UnicastAddressRange::new(start, length)
    }
}

/// A proxy configuration message (§6.6): the decrypted TransportPDU of a proxy configuration
/// Network PDU, `Opcode (1 octet) || Parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyConfigMessage {
    /// Set Filter Type (0x00, §6.6.1): clears the filter and sets its type.
    SetFilterType(FilterType),
    /// Add Addresses To Filter (0x01, §6.6.2): 16-bit addresses, big-endian.
    AddAddresses(Vec<Address>),
    /// Remove Addresses From Filter (0x02, §6.6.3): 16-bit addresses, big-endian.
    RemoveAddresses(Vec<Address>),
    /// Filter Status (0x03, §6.6.4): the filter type and the number of addresses in it.
    FilterStatus {
        /// The current filter type.
        filter_type: FilterType,
        /// The number of addresses in the filter list.
        list_size: u16,
    },
    /// DIRECTED_PROXY_CAPABILITIES_STATUS (0x04, §6.6.5).
    DirectedProxyCapabilitiesStatus {
        /// The Directed Proxy state of the subnet.
        directed_proxy: DirectedProxy,
        /// Whether the server uses directed forwarding for the client's messages.
        use_directed: bool,
    },
    /// DIRECTED_PROXY_CONTROL (0x05, §6.6.6): `None` is Use_Directed = Disabled (no range);
    /// `Some(range)` is Enabled with the client's unicast address range.
    DirectedProxyControl {
        /// The Proxy_Client_Unicast_Addr_Range, present exactly when directed is enabled.
        use_directed: Option<UnicastAddressRange>,
    },
}

impl ProxyConfigMessage {
    /// The opcode (§6.6).
    pub fn opcode(&self) -> u8 {
        match self {
            ProxyConfigMessage::SetFilterType(_) => OP_SET_FILTER_TYPE,
            ProxyConfigMessage::AddAddresses(_) => OP_ADD_ADDRESSES_TO_FILTER,
            ProxyConfigMessage::RemoveAddresses(_) => OP_REMOVE_ADDRESSES_FROM_FILTER,
            ProxyConfigMessage::FilterStatus { .. } => OP_FILTER_STATUS,
            ProxyConfigMessage::DirectedProxyCapabilitiesStatus { .. } => {
                OP_DIRECTED_PROXY_CAPABILITIES_STATUS
            }
            ProxyConfigMessage::DirectedProxyControl { .. } => OP_DIRECTED_PROXY_CONTROL,
        }
    }
}

/// Parses a list of big-endian 16-bit addresses filling all of `bytes`.
fn parse_addresses(bytes: &[u8]) -> Result<Vec<Address>> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::Truncated {
            need: bytes.len() + 1,
            got: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|c| Address(u16::from_be_bytes([c[0], c[1]])))
        .collect())
}

/// Checks that `params` is exactly `len` octets.
fn exact(params: &[u8], len: usize) -> Result<()> {
    need(params, len)?;
    super::at_most(params, len)
}

impl Wire for ProxyConfigMessage {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        let params = &bytes[1..];
        match bytes[0] {
            OP_SET_FILTER_TYPE => {
                exact(params, 1)?;
                Ok(ProxyConfigMessage::SetFilterType(FilterType::from_u8(
                    params[0],
                )?))
            }
            OP_ADD_ADDRESSES_TO_FILTER => {
                Ok(ProxyConfigMessage::AddAddresses(parse_addresses(params)?))
            }
            OP_REMOVE_ADDRESSES_FROM_FILTER => Ok(ProxyConfigMessage::RemoveAddresses(
                parse_addresses(params)?,
            )),
            OP_FILTER_STATUS => {
                exact(params, 3)?;
                Ok(ProxyConfigMessage::FilterStatus {
                    filter_type: FilterType::from_u8(params[0])?,
                    list_size: u16::from_be_bytes([params[1], params[2]]),
                })
            }
            OP_DIRECTED_PROXY_CAPABILITIES_STATUS => {
                exact(params, 2)?;
                Ok(ProxyConfigMessage::DirectedProxyCapabilitiesStatus {
                    directed_proxy: DirectedProxy::from_u8(params[0])?,
                    use_directed: parse_use_directed(params[1])?,
                })
            }
            OP_DIRECTED_PROXY_CONTROL => {
                need(params, 1)?;
                let use_directed = if parse_use_directed(params[0])? {
                    // C.1: the range is present exactly when Use_Directed is Enabled.
                    Some(UnicastAddressRange::parse(&params[1..])?)
                } else {
                    super::at_most(params, 1)?;
                    None
                };
                Ok(ProxyConfigMessage::DirectedProxyControl { use_directed })
            }
            op => Err(Error::Invalid {
                field: "proxy configuration opcode",
                value: u32::from(op),
            }),
        }
    }

    fn buffer_len(&self) -> usize {
        1 + match self {
            ProxyConfigMessage::SetFilterType(_) => 1,
            ProxyConfigMessage::AddAddresses(a) | ProxyConfigMessage::RemoveAddresses(a) => {
                2 * a.len()
            }
            ProxyConfigMessage::FilterStatus { .. } => 3,
            ProxyConfigMessage::DirectedProxyCapabilitiesStatus { .. } => 2,
            ProxyConfigMessage::DirectedProxyControl { use_directed } => {
                1 + use_directed.map_or(0, |r| r.buffer_len())
            }
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.opcode();
        let p = &mut buf[1..];
        match self {
            ProxyConfigMessage::SetFilterType(t) => p[0] = t.to_u8(),
            ProxyConfigMessage::AddAddresses(a) | ProxyConfigMessage::RemoveAddresses(a) => {
                for (c, addr) in p.chunks_exact_mut(2).zip(a) {
                    c.copy_from_slice(&addr.0.to_be_bytes());
                }
            }
            ProxyConfigMessage::FilterStatus {
                filter_type,
                list_size,
            } => {
                p[0] = filter_type.to_u8();
                p[1..3].copy_from_slice(&list_size.to_be_bytes());
            }
            ProxyConfigMessage::DirectedProxyCapabilitiesStatus {
                directed_proxy,
                use_directed,
            } => {
                p[0] = directed_proxy.to_u8();
                p[1] = u8::from(*use_directed);
            }
            ProxyConfigMessage::DirectedProxyControl { use_directed } => {
                p[0] = u8::from(use_directed.is_some());
                if let Some(r) = use_directed {
                    r.emit(&mut p[1..]);
                }
            }
        }
    }
}

/// Runs every parser of this module on `data`; whatever parses must re-emit and re-parse to
/// the same value. For the fuzzing crate.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(p) = ProxyPdu::parse(data) {
        let bytes = p.to_vec();
        assert_eq!(bytes, data);
        assert_eq!(ProxyPdu::parse(&bytes), Ok(p));
    }
    if let Ok(m) = ProxyConfigMessage::parse(data) {
        let bytes = m.to_vec();
        assert_eq!(bytes, data);
        assert_eq!(ProxyConfigMessage::parse(&bytes), Ok(m));
    }
    // Reassembly over the input split into PDUs at arbitrary points: never panics, and what it
    // yields is bounded.
    let mut r = ProxyReassembler::new(64);
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let take = usize::from(n % 24).min(tail.len());
        let (pdu, after) = tail.split_at(take);
        if let Ok(Some((_, msg))) = r.feed_bytes(pdu) {
            assert!(msg.len() <= 64);
        }
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn header_bits() {
        let p = ProxyPdu::parse(&[0x43, 0xaa]).unwrap();
        assert_eq!(p.sar, Sar::First);
        assert_eq!(p.message_type, MessageType::ProvisioningPdu);
        assert_eq!(p.data, [0xaa]);
        assert_eq!(ProxyPdu::parse(&[0xc0]).unwrap().sar, Sar::Last);
        assert_eq!(ProxyPdu::parse(&[0x81]).unwrap().sar, Sar::Continuation);
        assert_eq!(
            ProxyPdu::parse(&[]),
            Err(Error::Truncated { need: 1, got: 0 })
        );
    }

    #[test]
    fn rfu_message_types_rejected() {
        for t in 0x04..=0x3Fu8 {
            for sar in 0..4u8 {
                assert_eq!(
                    ProxyPdu::parse(&[sar << 6 | t, 1, 2]),
                    Err(Error::Invalid {
                        field: "proxy message type",
                        value: u32::from(t)
                    })
                );
            }
        }
    }

    /// §8.8: PB-GATT SAR sample. Provisioning Public Key PDU over ATT_MTU 23.
    #[test]
    fn sample_8_8_pb_gatt_sar() {
        let pdu = h(concat!(
            "03",
            "2c31a47b5779809ef44cb5eaaf5c3e43d5f8faad4a8794cb987e9b03745c78dd",
            "919512183898dfbecd52e2408e43871fd021109117bd3ed4eaf8437743715d4f"
        ));
        let att_values = [
            "43032c31a47b5779809ef44cb5eaaf5c3e43d5f8",
            "83faad4a8794cb987e9b03745c78dd9195121838",
            "8398dfbecd52e2408e43871fd021109117bd3ed4",
            "c3eaf8437743715d4f",
        ];
        let segs = segment(MessageType::ProvisioningPdu, &pdu, 23);
        assert_eq!(segs.len(), 4);
        for (s, v) in segs.iter().zip(att_values) {
            assert_eq!(hex::encode(s.to_vec()), v);
            assert_eq!(ProxyPdu::parse(&h(v)).unwrap(), *s);
        }
        let mut r = ProxyReassembler::default();
        for v in &att_values[..3] {
            assert_eq!(r.feed_bytes(&h(v)), Ok(None));
            assert!(r.in_progress());
        }
        assert_eq!(
            r.feed_bytes(&h(att_values[3])),
            Ok(Some((MessageType::ProvisioningPdu, pdu)))
        );
        assert!(!r.in_progress());
    }

    /// §8.9.1: the Proxy PDU carrying Set Filter Type (accept list); the TransportPDU,
    /// recovered here with the security toolbox, is `0000`.
    #[test]
    fn sample_8_9_1_set_filter_type() {
        use crate::ble::crypto::{nonce, NetKey};
        use crate::crypto::MicLen;
        let pdu = ProxyPdu::parse(&h("0210386bd60efbbb8b8c28512e792d3711f4b526")).unwrap();
        assert_eq!(pdu.sar, Sar::Complete);
        assert_eq!(pdu.message_type, MessageType::ProxyConfiguration);
        let msg = &pdu.data;
        assert_eq!(hex::encode(msg), "10386bd60efbbb8b8c28512e792d3711f4b526");

        let key = NetKey::new(h("d1aafb2a1a3c281cbdb0e960edfad852").try_into().unwrap());
        assert_eq!(msg[0] & 0x7f, key.flooding.nid);
        let iv = 0x1234_5678;
        let random: [u8; 7] = msg[7..14].try_into().unwrap();
        let mut hdr: [u8; 6] = msg[1..7].try_into().unwrap();
        key.flooding.obfuscate(iv, &random, &mut hdr);
        assert_eq!(hex::encode(hdr), "800000010001");
        let n = nonce::proxy([hdr[1], hdr[2], hdr[3]], 0x0001, iv);
        assert_eq!(hex::encode(n), "03000000010001000012345678");
        let plain = key
            .flooding
            .encryption()
            .decrypt(&n, &[], &msg[7..], MicLen::Mic64)
            .unwrap();
        // DST || TransportPDU.
        assert_eq!(hex::encode(&plain), "00000000");
        let m = ProxyConfigMessage::parse(&plain[2..]).unwrap();
        assert_eq!(m, ProxyConfigMessage::SetFilterType(FilterType::AcceptList));
        assert_eq!(hex::encode(m.to_vec()), "0000");
    }

    /// §8.9.2: DIRECTED_PROXY_CAPABILITIES_STATUS, directed proxy enabled, use directed.
    #[test]
    fn sample_8_9_2_directed_proxy_caps_status() {
        let m = ProxyConfigMessage::parse(&h("040101")).unwrap();
        assert_eq!(
            m,
            ProxyConfigMessage::DirectedProxyCapabilitiesStatus {
                directed_proxy: DirectedProxy::Enabled,
                use_directed: true
            }
        );
        assert_eq!(hex::encode(m.to_vec()), "040101");
        let pdu = ProxyPdu::parse(&h("02683aefe1cc2e130f6d4e5324d385b9ef75d6936b")).unwrap();
        assert_eq!(pdu.message_type, MessageType::ProxyConfiguration);
        assert_eq!(pdu.sar, Sar::Complete);
    }

    /// §8.9.3: DIRECTED_PROXY_CONTROL, use directed for 0x0607..=0x0609.
    #[test]
    fn sample_8_9_3_directed_proxy_control() {
        let m = ProxyConfigMessage::parse(&h("0501860703")).unwrap();
        let range = UnicastAddressRange::new(UnicastAddress::new(0x0607).unwrap(), 3).unwrap();
        assert_eq!(
            m,
            ProxyConfigMessage::DirectedProxyControl {
                use_directed: Some(range)
            }
        );
        assert_eq!(hex::encode(m.to_vec()), "0501860703");
    }

    #[test]
    fn config_messages_hand_computed() {
        let cases: [(&str, ProxyConfigMessage); 7] = [
            (
                "0001",
                ProxyConfigMessage::SetFilterType(FilterType::RejectList),
            ),
            (
                "011201c000ffff",
                ProxyConfigMessage::AddAddresses(vec![
                    Address(0x1201),
                    Address(0xc000),
                    Address::ALL_NODES,
                ]),
            ),
            ("01", ProxyConfigMessage::AddAddresses(vec![])),
            (
                "021201",
                ProxyConfigMessage::RemoveAddresses(vec![Address(0x1201)]),
            ),
            (
                "03010003",
                ProxyConfigMessage::FilterStatus {
                    filter_type: FilterType::RejectList,
                    list_size: 3,
                },
            ),
            (
                "0500",
                ProxyConfigMessage::DirectedProxyControl { use_directed: None },
            ),
            (
                "05010001",
                ProxyConfigMessage::DirectedProxyControl {
                    use_directed: Some(
                        UnicastAddressRange::new(UnicastAddress::new(1).unwrap(), 1).unwrap(),
                    ),
                },
            ),
        ];
        for (hx, m) in cases {
            assert_eq!(ProxyConfigMessage::parse(&h(hx)).as_ref(), Ok(&m), "{hx}");
            assert_eq!(hex::encode(m.to_vec()), hx);
        }
    }

    #[test]
    fn config_messages_rejected() {
        let inv = |s: &str| ProxyConfigMessage::parse(&h(s));
        // Prohibited filter types.
        for t in 2..=255u8 {
            assert!(matches!(
                ProxyConfigMessage::parse(&[0x00, t]),
                Err(Error::Invalid {
                    field: "filter type",
                    ..
                })
            ));
            assert!(matches!(
                ProxyConfigMessage::parse(&[0x03, t, 0, 0]),
                Err(Error::Invalid { .. })
            ));
        }
        // RFU opcodes.
        for op in 0x06..=0xFFu8 {
            assert_eq!(
                ProxyConfigMessage::parse(&[op]),
                Err(Error::Invalid {
                    field: "proxy configuration opcode",
                    value: u32::from(op)
                })
            );
        }
        assert!(matches!(inv(""), Err(Error::Truncated { .. })));
        assert!(matches!(inv("00"), Err(Error::Truncated { .. })));
        assert!(matches!(inv("000000"), Err(Error::TooLong { .. })));
        assert!(matches!(inv("0112"), Err(Error::Truncated { .. })));
        assert!(matches!(inv("030000"), Err(Error::Truncated { .. })));
        assert!(matches!(inv("0300000000"), Err(Error::TooLong { .. })));
        // Directed proxy fields.
        assert!(matches!(inv("040301"), Err(Error::Invalid { .. })));
        assert!(matches!(inv("040002"), Err(Error::Invalid { .. })));
        assert!(matches!(inv("0401"), Err(Error::Truncated { .. })));
        assert!(matches!(inv("05"), Err(Error::Truncated { .. })));
        assert!(matches!(inv("0502"), Err(Error::Invalid { .. })));
        // Disabled with a range, enabled without one.
        assert!(matches!(inv("05000001"), Err(Error::TooLong { .. })));
        assert!(matches!(inv("0501"), Err(Error::Truncated { .. })));
        // Range start 0 (not unicast), Range_Length 0 or 1, range past 0x7fff, extra octets.
        assert!(matches!(inv("05010000"), Err(Error::Invalid { .. })));
        assert!(matches!(inv("0501800100"), Err(Error::Invalid { .. })));
        assert!(matches!(inv("0501800101"), Err(Error::Invalid { .. })));
        assert!(matches!(inv("050180010203"), Err(Error::TooLong { .. })));
        assert!(matches!(inv("0501fffe03"), Err(Error::Invalid { .. })));
        assert!(inv("0501fffe02").is_ok());
        assert!(inv("0501fffd03").is_ok());
        assert!(matches!(inv("05010001ff"), Err(Error::TooLong { .. })));
        assert!(matches!(inv("05018001"), Err(Error::Truncated { .. })));
    }

    #[test]
    fn segment_edges() {
        // Empty and exactly-fitting payloads are one complete PDU.
        let s = segment(MessageType::NetworkPdu, &[], 23);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].to_vec(), [0x00]);
        let s = segment(MessageType::MeshBeacon, &[7; 19], 23);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].buffer_len(), 20);
        // One more octet: first + last.
        let s = segment(MessageType::MeshBeacon, &[7; 20], 23);
        assert_eq!(
            s.iter().map(|p| p.sar).collect::<Vec<_>>(),
            [Sar::First, Sar::Last]
        );
        // An MTU below the minimum is the minimum.
        assert_eq!(
            segment(MessageType::NetworkPdu, &[1; 40], 0),
            segment(MessageType::NetworkPdu, &[1; 40], 23)
        );
        // A big MTU.
        let s = segment(MessageType::NetworkPdu, &[1; 29], 247);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn reassembly_errors_reset() {
        let mut r = ProxyReassembler::new(8);
        let pdu = |sar, t, d: &[u8]| ProxyPdu {
            sar,
            message_type: t,
            data: d.to_vec(),
        };
        let net = MessageType::NetworkPdu;
        let bea = MessageType::MeshBeacon;
        assert_eq!(
            r.feed(&pdu(Sar::Continuation, net, &[1])),
            Err(ReassemblyError::NoFirstSegment(Sar::Continuation))
        );
        assert_eq!(
            r.feed(&pdu(Sar::Last, net, &[1])),
            Err(ReassemblyError::NoFirstSegment(Sar::Last))
        );
        assert_eq!(r.feed(&pdu(Sar::First, net, &[1])), Ok(None));
        assert_eq!(
            r.feed(&pdu(Sar::Continuation, bea, &[2])),
            Err(ReassemblyError::TypeChanged {
                expected: net,
                got: bea
            })
        );
        assert!(!r.in_progress());
        assert_eq!(r.feed(&pdu(Sar::First, net, &[1])), Ok(None));
        assert_eq!(
            r.feed(&pdu(Sar::Complete, net, &[1])),
            Err(ReassemblyError::Interrupted(Sar::Complete))
        );
        assert!(!r.in_progress());
        assert_eq!(r.feed(&pdu(Sar::First, net, &[1])), Ok(None));
        assert_eq!(
            r.feed(&pdu(Sar::First, net, &[1])),
            Err(ReassemblyError::Interrupted(Sar::First))
        );
        // Bounded.
        assert_eq!(r.feed(&pdu(Sar::First, net, &[0; 5])), Ok(None));
        assert_eq!(
            r.feed(&pdu(Sar::Continuation, net, &[0; 4])),
            Err(ReassemblyError::TooLong { max: 8 })
        );
        assert!(!r.in_progress());
        assert_eq!(
            r.feed(&pdu(Sar::Complete, net, &[0; 9])),
            Err(ReassemblyError::TooLong { max: 8 })
        );
        assert_eq!(
            r.feed(&pdu(Sar::Complete, net, &[0; 8])),
            Ok(Some((net, vec![0; 8])))
        );
        // A malformed PDU mid-message resets too.
        assert_eq!(r.feed(&pdu(Sar::First, net, &[1])), Ok(None));
        assert!(matches!(
            r.feed_bytes(&[0x84]),
            Err(ReassemblyError::Parse(_))
        ));
        assert!(!r.in_progress());
        // reset() drops a partial message.
        assert_eq!(r.feed(&pdu(Sar::First, net, &[1])), Ok(None));
        r.reset();
        assert_eq!(
            r.feed(&pdu(Sar::Last, net, &[1])),
            Err(ReassemblyError::NoFirstSegment(Sar::Last))
        );
    }

    fn message_type() -> impl Strategy<Value = MessageType> {
        prop_oneof![
            Just(MessageType::NetworkPdu),
            Just(MessageType::MeshBeacon),
            Just(MessageType::ProxyConfiguration),
            Just(MessageType::ProvisioningPdu),
        ]
    }

    fn proxy_pdu() -> impl Strategy<Value = ProxyPdu> {
        (
            (0..4u8).prop_map(Sar::from_bits),
            message_type(),
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(sar, message_type, data)| ProxyPdu {
                sar,
                message_type,
                data,
            })
    }

    fn filter_type() -> impl Strategy<Value = FilterType> {
        prop_oneof![Just(FilterType::AcceptList), Just(FilterType::RejectList)]
    }

    fn range() -> impl Strategy<Value = UnicastAddressRange> {
        (1u16..=0x7fff, 1u8..=255).prop_filter_map("in range", |(s, l)| {
            UnicastAddressRange::new(UnicastAddress::new(s)?, l).ok()
        })
    }

    fn config_message() -> impl Strategy<Value = ProxyConfigMessage> {
        let addrs = proptest::collection::vec(any::<u16>().prop_map(Address), 0..8);
        prop_oneof![
            filter_type().prop_map(ProxyConfigMessage::SetFilterType),
            addrs.clone().prop_map(ProxyConfigMessage::AddAddresses),
            addrs.prop_map(ProxyConfigMessage::RemoveAddresses),
            (filter_type(), any::<u16>()).prop_map(|(filter_type, list_size)| {
                ProxyConfigMessage::FilterStatus {
                    filter_type,
                    list_size,
                }
            }),
            (0..3u8, any::<bool>()).prop_map(|(d, use_directed)| {
                ProxyConfigMessage::DirectedProxyCapabilitiesStatus {
                    directed_proxy: DirectedProxy::from_u8(d).unwrap(),
                    use_directed,
                }
            }),
            proptest::option::of(range())
                .prop_map(|use_directed| ProxyConfigMessage::DirectedProxyControl { use_directed }),
        ]
    }

    proptest! {
        #[test]
        fn proxy_pdu_round_trip(p in proxy_pdu()) {
            prop_assert_eq!(ProxyPdu::parse(&p.to_vec()), Ok(p));
        }

        #[test]
        fn config_round_trip(m in config_message()) {
            prop_assert_eq!(ProxyConfigMessage::parse(&m.to_vec()), Ok(m));
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            fuzz_parse(&data);
        }

        #[test]
        fn segment_then_reassemble(
            t in message_type(),
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            mtu in 0u16..300,
        ) {
            let segs = segment(t, &payload, mtu);
            let limit = usize::from(mtu.max(MIN_ATT_MTU)) - 3;
            let mut r = ProxyReassembler::new(600);
            let mut out = None;
            for (i, s) in segs.iter().enumerate() {
                prop_assert!(s.buffer_len() <= limit);
                let got = r.feed_bytes(&s.to_vec()).unwrap();
                if i + 1 < segs.len() {
                    prop_assert_eq!(&got, &None);
                } else {
                    out = got;
                }
            }
            prop_assert_eq!(out, Some((t, payload)));
        }
    }
}
