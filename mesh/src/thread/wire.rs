//! Frame helpers of the Thread node ([`crate::thread::stack`]) and its tests and fuzz harness:
//! the frames they send and read, built and read with the wire core only: a UDP datagram in IPv6 (RFC 8200), compressed with IPHC/NHC (RFC 6282), in an
//! IEEE 802.15.4-2006 data frame (802.15.4-2015 §7.2), MAC-secured with the Thread MAC key
//! (level 5, Key ID Mode 1; Thread 1.3 §7.1.2) for data, unsecured at the MAC for MLE, whose
//! own security is MLE's (Thread 1.3 §4.3.1: MLE key, Key ID Mode 2).

use std::net::Ipv6Addr;

use crate::thread::lowpan::{
    compress, decompress, udp_checksum, Context, Contexts, Ipv6Header, LinkAddresses, LowpanFrame,
};
use crate::thread::mac::{
    Address, AuxSecurityHeader, Body, ExtAddress, Frame, FrameType, FrameVersion, KeyIdentifier,
    SecurityLevel,
};
use crate::thread::mle::{self, MlePayload, MLE_PORT};
use crate::thread::security::{secure, KeyManager, ThreadKeys};
use crate::wire::Wire;

/// IPv6's next header value for UDP (IANA protocol numbers).
const UDP: u8 = 17;
/// The CoAP port (RFC 7252 §6.1).
pub const COAP_PORT: u16 = 5683;

pub use crate::thread::ip::addr::{link_local, rloc};

/// Thread version in the Version TLV (Thread 1.3 §4.4.? Version TLV: 4 is Thread 1.3;
/// unverified).
pub const THREAD_VERSION: u16 = 4;

/// The compression contexts: context 0 is the mesh-local prefix (Thread reserves context ID 0
/// for it).
pub fn contexts(prefix: [u8; 8]) -> Contexts {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&prefix);
    Contexts::new().with(0, Context::new(Ipv6Addr::from(p), 64))
}

/// An IPv6 datagram carrying one UDP datagram (hop limit 255, as MLE requires: Thread 1.3
/// §4.2), with its checksum.
pub fn udp_datagram(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let udp_len = 8 + data.len();
    let mut p = vec![0u8; Ipv6Header::LEN + 8];
    Ipv6Header {
        traffic_class: 0,
        flow_label: 0,
        payload_len: udp_len as u16,
        next_header: UDP,
        hop_limit: 255,
        src,
        dst,
    }
    .emit(&mut p);
    p[40..42].copy_from_slice(&sport.to_be_bytes());
    p[42..44].copy_from_slice(&dport.to_be_bytes());
    p[44..46].copy_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(data);
    let c = udp_checksum(&p[8..40], &p[40..]);
    p[46..48].copy_from_slice(&c.to_be_bytes());
    p
}

/// What a station puts in one MAC data frame.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub pan_id: u16,
    pub src: ExtAddress,
    pub dst: Address,
    pub seq: u8,
    pub ack_request: bool,
}

/// A MAC data frame (802.15.4-2006 format, PAN ID compressed, extended source) around an IPHC
/// compressed datagram; MAC-secured under `secured` = (keys, frame counter). `None` when the
/// datagram does not compress (it always does for what the stations build).
pub fn data_frame(
    link: Link,
    datagram: &[u8],
    ctx: &Contexts,
    secured: Option<(&ThreadKeys, u32)>,
) -> Option<Vec<u8>> {
    let ll = LinkAddresses {
        src: Address::Extended(link.src),
        dst: link.dst,
    };
    let payload = compress(datagram, &ll, ctx).ok()?;
    let frame = Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: false,
        ack_request: link.ack_request,
        pan_id_compression: true,
        sequence_number: Some(link.seq),
        dst_pan: Some(link.pan_id),
        dst: link.dst,
        src_pan: None,
        src: Address::Extended(link.src),
        security: secured.map(|(keys, fc)| AuxSecurityHeader {
            level: SecurityLevel::new(5),
            key_id: KeyIdentifier::Index(keys.key_index()),
            frame_counter: Some(fc),
            asn_in_nonce: false,
        }),
        header_ies: Vec::new(),
        body: Body::Open {
            payload_ies: Vec::new(),
            payload,
        },
    };
    match secured {
        Some((keys, _)) => secure(&frame, keys.mac(), link.src)
            .ok()
            .map(|f| f.to_vec()),
        None => Some(frame.to_vec()),
    }
}

/// An MLE message sealed under the MLE key and put in a UDP datagram from `src` to `dst`
/// (port 19788 both ways).
pub fn mle_datagram(
    payload: &MlePayload,
    keys: &ThreadKeys,
    frame_counter: u32,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Vec<u8> {
    let msg = mle::seal(payload, keys, frame_counter, &src, &dst);
    udp_datagram(src, dst, MLE_PORT, MLE_PORT, &msg.to_vec())
}

/// A UDP datagram read out of a received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The MAC source (the stations send with their extended address).
    pub mac_src: ExtAddress,
    pub mac_dst: Address,
    /// Whether the MAC frame was secured (and authenticated).
    pub secured: bool,
    /// The MAC frame counter, when secured.
    pub frame_counter: Option<u32>,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub sport: u16,
    pub dport: u16,
    pub data: Vec<u8>,
}

/// Reads a received MAC frame down to its UDP datagram: MAC parse → unsecure (Thread MAC key
/// of the key index) → 6LoWPAN decompress → IPv6 and UDP. Every failure is a reason.
pub fn read_frame(
    bytes: &[u8],
    keys: &mut KeyManager,
    ctx: &Contexts,
) -> Result<Inbound, &'static str> {
    let f = Frame::parse(bytes).map_err(|_| "malformed MAC frame")?;
    if f.frame_type != FrameType::Data {
        return Err("not a data frame");
    }
    let Address::Extended(src) = f.src else {
        return Err("source is not an extended address (no neighbour table to find it)");
    };
    let (open, secured) = if f.security.is_some() {
        let u = keys
            .unsecure_mac(&f, src)
            .map_err(|_| "MAC frame failed authentication")?;
        (u.frame, true)
    } else {
        (f, false)
    };
    let frame_counter = open.security.and_then(|s| s.frame_counter);
    let Body::Open { payload, .. } = &open.body else {
        return Err("MAC frame still secured");
    };
    let lowpan = LowpanFrame::parse(payload).map_err(|_| "malformed 6LoWPAN header")?;
    if lowpan.mesh.is_some() || lowpan.frag.is_some() {
        return Err("mesh or fragment header (not used in this simplified network)");
    }
    let ll = LinkAddresses {
        src: open.src,
        dst: open.dst,
    };
    let p = decompress(&lowpan.rest, &ll, ctx).map_err(|_| "6LoWPAN decompression failed")?;
    let h = Ipv6Header::parse(&p).map_err(|_| "malformed IPv6 header")?;
    if h.next_header != UDP || p.len() < Ipv6Header::LEN + 8 {
        return Err("not a UDP datagram");
    }
    let u = &p[Ipv6Header::LEN..];
    Ok(Inbound {
        mac_src: src,
        mac_dst: open.dst,
        secured,
        frame_counter,
        src: h.src,
        dst: h.dst,
        sport: u16::from_be_bytes([u[0], u[1]]),
        dport: u16::from_be_bytes([u[2], u[3]]),
        data: u[8..].to_vec(),
    })
}

/// The link margin of a reception (RSSI above the noise floor, -100 dBm as OpenThread
/// assumes without a measurement), in dB.
pub fn link_margin(rssi: Option<i8>) -> u8 {
    rssi.map_or(0, |r| (r as i16 + 100).clamp(0, 255) as u8)
}

/// Link quality from link margin (OpenThread `LinkQualityForLinkMargin`, without hysteresis:
/// above 20 dB → 3, above 10 → 2, above 2 → 1, else 0).
pub fn link_quality(margin: u8) -> u8 {
    match margin {
        m if m > 20 => 3,
        m if m > 10 => 2,
        m if m > 2 => 1,
        _ => 0,
    }
}

/// The cost of a link of quality `lq` (OpenThread `CostForLinkQuality`: 3 → 1, 2 → 2, 1 → 4,
/// 0 → 16, "infinite").
pub fn link_cost(lq: u8) -> u8 {
    match lq {
        3 => 1,
        2 => 2,
        1 => 4,
        _ => MAX_ROUTE_COST,
    }
}

/// A route cost of 16 or more is no route (OpenThread `kMaxRouteCost`).
pub const MAX_ROUTE_COST: u8 = 16;
