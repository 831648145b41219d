//! What the whole-frame decoder reports for one PSDU: each layer it got through, as a serde
//! value (JSON field names are a contract of `weft decode --thread-key --json`: lowercase hex
//! without `0x` for addresses and octets, numbers as numbers), and where it stopped and why.

use std::net::Ipv6Addr;

use serde::Serialize;

use super::netdata_info::NetDataInfo;
use super::tlv_info::TlvInfo;
use crate::thread::mac::{Address, FrameType, FrameVersion, KeyIdentifier};
use crate::thread::mle::Tlv;

/// Bytes kept as bytes while decoding, written as lowercase hex when serialized or shown: a
/// decoder that is not asked to print pays nothing for the hex.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl HexBytes {
    pub(crate) fn of(b: &[u8]) -> Self {
        HexBytes(b.to_vec())
    }
}

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl std::fmt::Display for HexBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// One decoded PSDU. Layers that were not reached (or do not apply) are `None`; when decoding
/// stopped early, `error` says where and why, and the layers before it are still filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodedFrame {
    /// The PSDU as given (with its FCS when it had one), hex.
    pub psdu: HexBytes,
    pub mac: Option<MacInfo>,
    pub security: Option<SecurityInfo>,
    pub lowpan: Option<LowpanInfo>,
    pub ipv6: Option<Ipv6Info>,
    pub udp: Option<UdpInfo>,
    pub icmpv6: Option<Icmpv6Info>,
    pub mle: Option<MleInfo>,
    /// The MAC payload when it is not 6LoWPAN (MAC commands, beacons, ...), hex.
    pub mac_payload: Option<HexBytes>,
    pub error: Option<FrameError>,
    /// The typed facts a topology builder reads (not serialized).
    #[serde(skip)]
    pub facts: Facts,
}

/// Typed facts of a decoded frame, for [`crate::thread::topology`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// The MAC source and destination, when the MAC header parsed.
    pub mac_src: Option<Address>,
    pub mac_dst: Option<Address>,
    /// An opened MLE message: IPv6 source and destination, command, TLVs.
    pub mle: Option<MleFacts>,
}

/// An opened MLE message, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MleFacts {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// Whether it was secured (and so authenticated).
    pub secured: bool,
    pub command: u8,
    pub tlvs: Vec<Tlv>,
}

/// An empty report, to hand to [`super::ThreadSniffer::decode_into`].
impl Default for DecodedFrame {
    fn default() -> Self {
        DecodedFrame::new(&[])
    }
}

impl DecodedFrame {
    pub(crate) fn new(psdu: &[u8]) -> Self {
        DecodedFrame {
            psdu: HexBytes::of(psdu),
            mac: None,
            security: None,
            lowpan: None,
            ipv6: None,
            udp: None,
            icmpv6: None,
            mle: None,
            mac_payload: None,
            error: None,
            facts: Facts::default(),
        }
    }

    /// Whether every layer present was decoded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Fcs,
    Mac,
    Security,
    Lowpan,
    Ipv6,
    Udp,
    Mle,
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The FCS does not match the frame (802.15.4-2015 §7.2.10).
    BadFcs,
    /// Fewer octets than the layout needs.
    Truncated,
    /// A field holds a value the layout forbids or reserves.
    Malformed,
    /// Valid, but not something this decoder opens (e.g. TSCH nonces, 32-bit FCS).
    Unsupported,
    /// No key held for the frame's key index (the network key or key sequence is not the
    /// network's, or the frame is from another network).
    UnknownKey,
    /// A short source address whose extended address (needed for the nonce) was never heard.
    UnknownSource,
    /// The MIC does not verify: another key, or a corrupted frame.
    AuthFailed,
    /// A fragment the reassembler refused or dropped.
    Reassembly,
}

/// The layer, the kind and the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameError {
    pub layer: Layer,
    pub kind: ErrorKind,
    pub reason: String,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let layer = serde_json::to_value(self.layer).unwrap_or_default();
        write!(f, "{}: {}", layer.as_str().unwrap_or("?"), self.reason)
    }
}

/// An address as the report writes it: `None`, a short address as 4 hex digits, an extended
/// address as 16 hex digits (most significant octet first, as Wireshark shows it).
pub fn address_str(a: &Address) -> Option<String> {
    match a {
        Address::None => None,
        Address::Short(s) => Some(format!("{s:04x}")),
        Address::Extended(e) => Some(hex::encode(e.0)),
    }
}

/// The MAC header fields (802.15.4-2015 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MacInfo {
    /// `beacon`, `data`, `ack` or `command` (table 7-1).
    pub frame_type: &'static str,
    /// 2003, 2006 or 2015 (table 7-4).
    pub version: u16,
    pub frame_pending: bool,
    pub ack_request: bool,
    pub pan_id_compression: bool,
    /// `None` when suppressed (§7.2.1.7).
    pub seq: Option<u8>,
    pub dst_pan: Option<String>,
    pub dst: Option<String>,
    pub src_pan: Option<String>,
    pub src: Option<String>,
    pub header_ies: Vec<IeInfo>,
    pub payload_ies: Vec<IeInfo>,
    /// `Some(true)` when the PSDU had an FCS and it matched; `None` when it had none.
    pub fcs_ok: Option<bool>,
}

/// One information element: its element ID (header IE) or group ID (payload IE) and content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IeInfo {
    pub id: u8,
    pub content: HexBytes,
}

pub(crate) fn frame_type_name(t: FrameType) -> &'static str {
    match t {
        FrameType::Beacon => "beacon",
        FrameType::Data => "data",
        FrameType::Ack => "ack",
        FrameType::MacCommand => "command",
    }
}

pub(crate) fn version_year(v: FrameVersion) -> u16 {
    match v {
        FrameVersion::V2003 => 2003,
        FrameVersion::V2006 => 2006,
        FrameVersion::V2015 => 2015,
    }
}

/// The auxiliary security header (§9.4) and whether the frame was opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityInfo {
    /// Security Level 0-7 (table 9-6).
    pub level: u8,
    /// Key Identifier Mode 0-3 (table 9-7).
    pub key_id_mode: u8,
    pub key_index: Option<u8>,
    /// Key Source, hex (modes 2 and 3).
    pub key_source: Option<String>,
    pub frame_counter: Option<u32>,
    /// Whether the MIC verified (and the payload was decrypted).
    pub decrypted: bool,
    /// The key sequence whose MAC key opened it.
    pub key_sequence: Option<u32>,
    /// The sender's retransmission of a frame already decoded (same frame counter and MAC
    /// sequence number): a duplicate, not an error.
    pub retransmission: bool,
    /// A frame counter not above one already accepted from the sender under this key
    /// sequence, or an older key sequence than the sender's last: a node drops it.
    pub replayed: bool,
}

impl SecurityInfo {
    pub(crate) fn from_header(h: &crate::thread::mac::AuxSecurityHeader) -> Self {
        let key_source = match h.key_id {
            KeyIdentifier::Source4 { source, .. } => Some(hex::encode(source)),
            KeyIdentifier::Source8 { source, .. } => Some(hex::encode(source)),
            _ => None,
        };
        SecurityInfo {
            level: h.level.value(),
            key_id_mode: h.key_id.mode(),
            key_index: h.key_id.index(),
            key_source,
            frame_counter: h.frame_counter,
            decrypted: false,
            key_sequence: None,
            retransmission: false,
            replayed: false,
        }
    }
}

/// The 6LoWPAN headers (RFC 4944 §5.2-5.3, RFC 6282 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LowpanInfo {
    pub mesh: Option<MeshInfo>,
    pub fragment: Option<FragmentInfo>,
    /// `iphc`, `ipv6` (uncompressed, 0x41) or `fragment` (a FRAGN: no dispatch of its own).
    pub dispatch: &'static str,
    /// Whether the IPHC header used a context this decoder was not given (the prefix is then
    /// shown as zeros).
    pub unknown_context: bool,
}

/// The mesh header (RFC 4944 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeshInfo {
    pub hops_left: u8,
    pub originator: Option<String>,
    pub final_destination: Option<String>,
}

/// A fragment header (RFC 4944 §5.3) and what the reassembler did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FragmentInfo {
    pub size: u16,
    pub tag: u16,
    /// Octets into the datagram (0 for FRAG1).
    pub offset: usize,
    /// Whether this fragment completed its datagram (the layers above are then the
    /// reassembled datagram's).
    pub complete: bool,
}

/// The IPv6 header (RFC 8200 §3), decompressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ipv6Info {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    pub payload_len: u16,
    /// The upper-layer protocol after any extension headers (17 UDP, 58 ICMPv6, ...).
    pub protocol: u8,
}

/// The UDP header (RFC 768).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    pub length: u16,
    /// The UDP payload when it is not MLE, hex.
    pub payload: Option<HexBytes>,
}

/// An ICMPv6 message's type and code (RFC 4443 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Icmpv6Info {
    pub icmp_type: u8,
    pub code: u8,
}

/// An MLE message (Thread 1.3 ch. 4), opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MleInfo {
    /// Security Suite: 0 secured, 255 none (§4.3).
    pub security_suite: u8,
    pub key_sequence: Option<u32>,
    pub frame_counter: Option<u32>,
    pub command: u8,
    /// The command's name (`advertisement`, ...), `unknown` for others.
    pub command_name: &'static str,
    pub tlvs: Vec<TlvInfo>,
    /// An MLE frame counter not above one already accepted from the sender under this key
    /// sequence (MLE counters are kept apart from MAC ones): a node drops it.
    pub replayed: bool,
    /// The Network Data TLV's contents (§5.18), when the message has one that parses.
    pub network_data: Option<Vec<NetDataInfo>>,
}
