//! Whole frames from the core's own encoders, the inverse of the decoder: an IPv6 datagram
//! compressed (RFC 6282), put in an IEEE 802.15.4 data frame (802.15.4-2006 layout, PAN ID
//! compressed, as Thread sends), secured at the MAC layer when asked (level 5, Key ID Mode 1,
//! Thread 1.3 §7.1.2.3), with its FCS appended; and an MLE message sealed (Thread 1.3 §4.3.1)
//! in UDP on port 19788 in such a frame. For tests, fuzz seeds and the tools' tests.

use std::net::Ipv6Addr;

use crate::thread::lowpan::{
    compress, udp_checksum, Contexts, FragHeader, Ipv6Header, LinkAddresses,
};
use crate::thread::mac::{
    fcs, Address, AuxSecurityHeader, Body, ExtAddress, Frame, FrameType, FrameVersion,
    KeyIdentifier, SecurityLevel, BROADCAST_SHORT,
};
use crate::thread::mle::{seal, MlePayload, MLE_PORT};
use crate::thread::security::{secure, ThreadKeys};
use crate::wire::{Result, Wire};

/// The MAC layer of a frame to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec {
    pub pan_id: u16,
    pub seq: u8,
    pub src: Address,
    pub dst: Address,
    /// The sender's extended address: the MAC nonce's, and the IID of its link-local address.
    pub src_ext: ExtAddress,
    /// MAC security (level 5, Key ID Mode 1) with this frame counter; `None`: unsecured (as
    /// MLE messages are sent, Thread 1.3 §4.3).
    pub mac_frame_counter: Option<u32>,
}

/// The link-local address of an extended address (RFC 4944 §6: the U/L bit flipped).
pub fn link_local(e: ExtAddress) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[..2].copy_from_slice(&[0xfe, 0x80]);
    a[8..].copy_from_slice(&e.0);
    a[8] ^= 0x02;
    Ipv6Addr::from(a)
}

/// A PSDU (with its FCS) carrying `packet`, an IPv6 datagram, compressed with `contexts`.
pub fn data_psdu(
    spec: &FrameSpec,
    keys: &ThreadKeys,
    packet: &[u8],
    contexts: &Contexts,
) -> Result<Vec<u8>> {
    let ll = LinkAddresses {
        src: spec.src,
        dst: spec.dst,
    };
    let payload = compress(packet, &ll, contexts)?;
    mac_psdu(spec, keys, payload)
}

/// PSDUs (with FCS) carrying `packet` in fragments (RFC 4944 §5.3) of at most `max_data`
/// octets after the fragment header, with datagram tag `tag`; frame counters and sequence
/// numbers count up from the spec's. The first fragment holds all the compressed headers
/// (`max_data` must exceed them).
pub fn fragmented_psdus(
    spec: &FrameSpec,
    keys: &ThreadKeys,
    packet: &[u8],
    contexts: &Contexts,
    max_data: usize,
    tag: u16,
) -> Result<Vec<Vec<u8>>> {
    let ll = LinkAddresses {
        src: spec.src,
        dst: spec.dst,
    };
    let c = compress(packet, &ll, contexts)?;
    let saving = packet.len().saturating_sub(c.len());
    let size = packet.len() as u16;
    // Fragment offsets count uncompressed octets in units of 8 (RFC 4944 §5.3).
    let first = (((max_data + saving) / 8) * 8).min(packet.len());
    let mut pieces = vec![(
        FragHeader {
            size,
            tag,
            offset: None,
        },
        c[..first.saturating_sub(saving).min(c.len())].to_vec(),
    )];
    let mut off = first;
    while off < packet.len() {
        let end = (off + (max_data / 8) * 8).min(packet.len());
        pieces.push((
            FragHeader {
                size,
                tag,
                offset: Some((off / 8) as u8),
            },
            packet[off..end].to_vec(),
        ));
        off = end;
    }
    let mut out = Vec::new();
    for (i, (h, data)) in pieces.into_iter().enumerate() {
        let mut payload = h.to_vec();
        payload.extend_from_slice(&data);
        let s = FrameSpec {
            seq: spec.seq.wrapping_add(i as u8),
            mac_frame_counter: spec.mac_frame_counter.map(|f| f + i as u32),
            ..*spec
        };
        out.push(mac_psdu(&s, keys, payload)?);
    }
    Ok(out)
}

/// A data frame (with FCS) carrying `payload` as its MAC payload.
fn mac_psdu(spec: &FrameSpec, keys: &ThreadKeys, payload: Vec<u8>) -> Result<Vec<u8>> {
    let unicast = match spec.dst {
        Address::Short(s) => s != BROADCAST_SHORT,
        Address::Extended(_) => true,
        Address::None => false,
    };
    let frame = Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: false,
        ack_request: unicast,
        pan_id_compression: true,
        sequence_number: Some(spec.seq),
        dst_pan: Some(spec.pan_id),
        dst: spec.dst,
        src_pan: None,
        src: spec.src,
        security: spec.mac_frame_counter.map(|fc| AuxSecurityHeader {
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
    let frame = if frame.security.is_some() {
        secure(&frame, keys.mac(), spec.src_ext)?
    } else {
        frame
    };
    Ok(fcs::append(&frame.to_vec()))
}

/// An IPv6 datagram holding a UDP datagram (checksum computed, RFC 8200 §8.1).
pub fn udp_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    hop_limit: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut udp = Vec::with_capacity(8 + data.len());
    udp.extend_from_slice(&src_port.to_be_bytes());
    udp.extend_from_slice(&dst_port.to_be_bytes());
    udp.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(data);
    let mut addrs = src.octets().to_vec();
    addrs.extend_from_slice(&dst.octets());
    let c = udp_checksum(&addrs, &udp);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0u8; Ipv6Header::LEN];
    Ipv6Header {
        traffic_class: 0,
        flow_label: 0,
        payload_len: udp.len() as u16,
        next_header: 17,
        hop_limit,
        src,
        dst,
    }
    .emit(&mut p);
    p.extend_from_slice(&udp);
    p
}

/// A PSDU (with its FCS) carrying an MLE message sealed under `keys` with `mle_frame_counter`,
/// from the sender's link-local address to `dst` (hop limit 255, Thread 1.3 §4.2).
pub fn mle_psdu(
    spec: &FrameSpec,
    keys: &ThreadKeys,
    mle_frame_counter: u32,
    dst: Ipv6Addr,
    payload: &MlePayload,
) -> Result<Vec<u8>> {
    let src = link_local(spec.src_ext);
    let msg = seal(payload, keys, mle_frame_counter, &src, &dst).to_vec();
    let packet = udp_packet(src, dst, MLE_PORT, MLE_PORT, 255, &msg);
    data_psdu(spec, keys, &packet, &Contexts::new())
}
