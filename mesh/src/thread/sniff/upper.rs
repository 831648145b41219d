//! The decoder above the MAC layer: 6LoWPAN (RFC 4944 §5, RFC 6282), IPv6 (RFC 8200) with its
//! extension headers, UDP (RFC 768), ICMPv6 (RFC 4443) and MLE (Thread 1.3 ch. 4), and what
//! MLE teaches about who is who (RLOC16 → extended address, for opening later MAC frames).

use std::net::Ipv6Addr;

use super::netdata_info::NetDataInfo;
use super::report::{
    ErrorKind, FragmentInfo, Icmpv6Info, Ipv6Info, Layer, LowpanInfo, MeshInfo, MleFacts, MleInfo,
    UdpInfo,
};
use super::tlv_info::TlvInfo;
use super::{wire_stop, DecodedFrame, Stop, ThreadSniffer};
use crate::thread::lowpan::Context;
use crate::thread::lowpan::{
    decompress_headers, decompress_into, Iphc, Ipv6Header, LinkAddresses, LowpanFrame,
    IPV6_DISPATCH,
};
use crate::thread::mac::{Address, Frame};
use crate::thread::mle::{self, command, ext_address_of, parse_tlvs_into, Tlv, MLE_PORT};
use crate::thread::netdata::{contexts_of, mesh_local_prefix_of_dataset, parse_network_data};
use crate::time::Instant;
use crate::wire::Error;

/// IPv6 extension headers walked to reach the upper-layer protocol (RFC 8200 §4): Hop-by-Hop
/// Options (0), Routing (43), Destination Options (60) with a length in 8-octet units after
/// the first 8; Fragment (44), 8 octets.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTIONS: u8 = 60;
/// The most extension headers walked before giving up on finding the upper layer.
const MAX_EXT_HEADERS: usize = 8;
/// UDP's and ICMPv6's Next Header values (IANA protocol numbers).
const UDP: u8 = 17;
const ICMPV6: u8 = 58;

/// The IPHC dispatch `011xxxxx` (RFC 6282 §3.1).
fn is_iphc(b: u8) -> bool {
    b >> 5 == 0b011
}

/// Decodes the 6LoWPAN payload of a data frame and everything above it.
pub(super) fn lowpan(
    s: &mut ThreadSniffer,
    now: Instant,
    frame: &Frame,
    payload: &[u8],
    d: &mut DecodedFrame,
) -> Result<(), Stop> {
    let (lf_mesh, lf_frag, rest_at) =
        LowpanFrame::parse_headers(payload).map_err(|e| wire_stop(Layer::Lowpan, &e))?;
    let rest = &payload[rest_at..];
    let mut ll = LinkAddresses {
        src: frame.src,
        dst: frame.dst,
    };
    let spare = s.spare();
    let mut addr = |a: &Address| match a {
        Address::None => None,
        Address::Short(x) => Some(spare.hex16(*x)),
        Address::Extended(e) => Some(spare.hex(&e.0)),
    };
    let mesh = lf_mesh.as_ref().map(|m| {
        // Under a mesh header, addresses are elided against the originator and final
        // destination (RFC 4944 §11).
        ll = LinkAddresses {
            src: m.originator,
            dst: m.final_destination,
        };
        MeshInfo {
            hops_left: m.hops_left,
            originator: addr(&m.originator),
            final_destination: addr(&m.final_destination),
        }
    });
    let first = lf_frag.is_none_or(|f| f.offset.is_none());
    let dispatch = match rest.first() {
        _ if !first => "fragment",
        Some(&IPV6_DISPATCH) => "ipv6",
        Some(&b) if is_iphc(b) => "iphc",
        Some(&b) => {
            d.lowpan = Some(LowpanInfo {
                mesh,
                fragment: None,
                dispatch: "unknown",
                unknown_context: false,
            });
            return Err((
                Layer::Lowpan,
                ErrorKind::Malformed,
                format!(
                    "dispatch {b:#04x} is neither IPHC (011xxxxx) nor IPv6 (0x41) (RFC 4944 §5.1)"
                ),
            ));
        }
        None => {
            return Err((
                Layer::Lowpan,
                ErrorKind::Truncated,
                "nothing after the 6LoWPAN headers".into(),
            ))
        }
    };
    let unknown_context =
        dispatch == "iphc" && Iphc::parse_prefix(rest).is_ok_and(|(h, _)| s.unknown_context(&h));
    let mut info = LowpanInfo {
        mesh,
        fragment: None,
        dispatch,
        unknown_context,
    };
    let ctx = s.contexts().clone();
    let datagram = match lf_frag {
        None => {
            d.lowpan = Some(info);
            let mut dg = std::mem::take(&mut s.datagram);
            let r = decompress_into(rest, &ll, &ctx, &mut dg)
                .map_err(|e| wire_stop(Layer::Lowpan, &e))
                .and_then(|()| ipv6(s, &dg, d));
            s.datagram = dg;
            return r;
        }
        Some(fh) => {
            let mut fi = FragmentInfo {
                size: fh.size,
                tag: fh.tag,
                offset: fh.offset_octets(),
                complete: false,
            };
            let overflows = s.reassembly_stats().overflows;
            let pushed = s.reassembler().push(now, &ll, &ctx, fh, rest);
            if matches!(pushed, Ok(None)) && s.reassembly_stats().overflows > overflows {
                info.fragment = Some(fi);
                d.lowpan = Some(info);
                return Err((
                    Layer::Lowpan,
                    ErrorKind::Reassembly,
                    "fragment dropped: the reassembler already holds as many datagrams (or \
                     octets) as it may"
                        .into(),
                ));
            }
            match pushed {
                Ok(Some(datagram)) => {
                    s.stats_mut().reassembled += 1;
                    fi.complete = true;
                    info.fragment = Some(fi);
                    d.lowpan = Some(info);
                    datagram
                }
                Ok(None) => {
                    s.stats_mut().fragments_held += 1;
                    info.fragment = Some(fi);
                    d.lowpan = Some(info);
                    if dispatch == "iphc" {
                        // The first fragment's headers say who talks to whom already.
                        if let Ok(h) = decompress_headers(rest, &ll, &ctx) {
                            let _ = headers_only(&h.bytes, d);
                        }
                    }
                    return Ok(());
                }
                Err(e) => {
                    info.fragment = Some(fi);
                    d.lowpan = Some(info);
                    return Err((Layer::Lowpan, ErrorKind::Reassembly, e.to_string()));
                }
            }
        }
    };
    ipv6(s, &datagram, d)
}

/// The IPv6 header and the upper-layer protocol's offset, through the extension headers.
fn walk(dg: &[u8]) -> Result<(Ipv6Header, u8, usize), Stop> {
    let h = Ipv6Header::parse(dg).map_err(|e| wire_stop(Layer::Ipv6, &e))?;
    let mut nh = h.next_header;
    let mut at = Ipv6Header::LEN;
    for _ in 0..MAX_EXT_HEADERS {
        let len = match nh {
            HOP_BY_HOP | ROUTING | DEST_OPTIONS => match dg.get(at + 1) {
                Some(&l) => (l as usize + 1) * 8,
                None => break,
            },
            FRAGMENT => 8,
            _ => break,
        };
        let Some(&next) = dg.get(at) else { break };
        if at + len > dg.len() {
            return Err((
                Layer::Ipv6,
                ErrorKind::Truncated,
                format!("extension header {nh} runs past the datagram's end"),
            ));
        }
        nh = next;
        at += len;
    }
    Ok((h, nh, at))
}

fn ipv6_info(h: &Ipv6Header, protocol: u8) -> Ipv6Info {
    Ipv6Info {
        src: h.src,
        dst: h.dst,
        next_header: h.next_header,
        hop_limit: h.hop_limit,
        payload_len: h.payload_len,
        protocol,
    }
}

/// The IPv6 and UDP headers of a first fragment (lengths not final): for display only.
fn headers_only(dg: &[u8], d: &mut DecodedFrame) -> Result<(), Stop> {
    let h = Ipv6Header::parse(dg).map_err(|e| wire_stop(Layer::Ipv6, &e))?;
    d.ipv6 = Some(ipv6_info(&h, h.next_header));
    if h.next_header == UDP {
        if let Some(u) = dg.get(Ipv6Header::LEN..Ipv6Header::LEN + 8) {
            d.udp = Some(UdpInfo {
                src_port: u16::from_be_bytes([u[0], u[1]]),
                dst_port: u16::from_be_bytes([u[2], u[3]]),
                length: 0,
                payload: None,
            });
        }
    }
    Ok(())
}

/// A whole IPv6 datagram.
fn ipv6(s: &mut ThreadSniffer, dg: &[u8], d: &mut DecodedFrame) -> Result<(), Stop> {
    let (h, protocol, at) = walk(dg)?;
    d.ipv6 = Some(ipv6_info(&h, protocol));
    let upper = &dg[at..];
    match protocol {
        UDP => {
            let u = upper.get(..8).ok_or_else(|| {
                (
                    Layer::Udp,
                    ErrorKind::Truncated,
                    format!("UDP header needs 8 octets, {} left", upper.len()),
                )
            })?;
            let src_port = u16::from_be_bytes([u[0], u[1]]);
            let dst_port = u16::from_be_bytes([u[2], u[3]]);
            let data = &upper[8..];
            let mle = dst_port == MLE_PORT;
            d.udp = Some(UdpInfo {
                src_port,
                dst_port,
                length: u16::from_be_bytes([u[4], u[5]]),
                payload: (!mle).then(|| s.spare().bytes(data)),
            });
            if mle {
                return open_mle(s, &h.src, &h.dst, data, d);
            }
        }
        ICMPV6 => {
            let i = upper.get(..2).ok_or_else(|| {
                (
                    Layer::Ipv6,
                    ErrorKind::Truncated,
                    "ICMPv6 header needs its type and code".to_string(),
                )
            })?;
            d.icmpv6 = Some(Icmpv6Info {
                icmp_type: i[0],
                code: i[1],
            });
        }
        _ => {}
    }
    Ok(())
}

/// Opens an MLE message, reports it, and learns RLOC16 → extended address pairs from it.
fn open_mle(
    s: &mut ThreadSniffer,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    data: &[u8],
    d: &mut DecodedFrame,
) -> Result<(), Stop> {
    let mut plain = std::mem::take(&mut s.mle_plain);
    let r = open_mle_in(s, src, dst, data, &mut plain, d);
    s.mle_plain = plain;
    r
}

fn open_mle_in(
    s: &mut ThreadSniffer,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    data: &[u8],
    plain: &mut Vec<u8>,
    d: &mut DecodedFrame,
) -> Result<(), Stop> {
    let opened = mle::open_into(data, s.keys_mut(), src, dst, plain).map_err(|e| match e {
        Error::Auth(_) => {
            // The Key Source of Key ID Mode 2 is the key sequence (§4.3.1).
            let seq = match crate::thread::mac::AuxSecurityHeader::parse_prefix(&data[1..]) {
                Ok((aux, _)) => match aux.key_id {
                    crate::thread::mac::KeyIdentifier::Source4 { source, .. } => {
                        u32::from_be_bytes(source).to_string()
                    }
                    _ => "?".into(),
                },
                Err(_) => "?".into(),
            };
            (
                Layer::Mle,
                ErrorKind::AuthFailed,
                format!("MLE MIC mismatch under key sequence {seq} (another network key, or a corrupted message)"),
            )
        }
        e => wire_stop(Layer::Mle, &e),
    })?;
    let Some((&command, tlv_bytes)) = plain.split_first() else {
        return Err(wire_stop(Layer::Mle, &Error::Truncated { need: 1, got: 0 }));
    };
    let mut tlvs = s.spare().tlvs();
    if let Err(e) = parse_tlvs_into(tlv_bytes, &mut tlvs) {
        s.spare().put_tlvs(tlvs);
        return Err(wire_stop(Layer::Mle, &e));
    }
    s.stats_mut().mle_messages += 1;
    let key_sequence = opened.map(|(seq, _)| seq);
    for t in &tlvs {
        match t {
            // The sender's RLOC16; the MIC proved the IID of its link-local source.
            Tlv::SourceAddress(r) if key_sequence.is_some() => {
                s.learn(*r, ext_address_of(src));
            }
            // The child's new RLOC16, sent to its link-local address (Thread 1.3 §4.5.14).
            Tlv::Address16(r)
                if command == command::CHILD_ID_RESPONSE && key_sequence.is_some() =>
            {
                s.learn(*r, ext_address_of(dst));
            }
            _ => {}
        }
    }
    let mut network_data = None;
    for t in &tlvs {
        match t {
            Tlv::NetworkData(v) => {
                if let Ok(nd) = parse_network_data(v) {
                    if key_sequence.is_some() {
                        // 6LoWPAN Context TLVs (§5.18.5) of an authenticated message.
                        for (id, prefix, len, _) in contexts_of(&nd) {
                            s.learn_context(id, Context::new(prefix.into(), len));
                        }
                    }
                    network_data = Some(nd.iter().map(NetDataInfo::from).collect());
                }
            }
            // An Active Operational Dataset's Mesh Local Prefix (§8.10.1.5): Thread gives
            // context 0 the mesh-local prefix, /64.
            Tlv::ActiveDataset(v) if key_sequence.is_some() => {
                if let Some(p) = mesh_local_prefix_of_dataset(v) {
                    let mut a = [0u8; 16];
                    a[..8].copy_from_slice(&p);
                    s.learn_context(0, Context::new(a.into(), 64));
                }
            }
            _ => {}
        }
    }
    let replayed = match opened {
        Some((seq, fc)) => {
            let c = s.counters_mut().check_mle(ext_address_of(src), seq, fc);
            if !c.accepted() {
                s.stats_mut().replays += 1;
            }
            !c.accepted()
        }
        None => false,
    };
    let mut infos = s.spare().tlv_infos();
    for t in &tlvs {
        infos.push(TlvInfo::build(t, s.spare()));
    }
    d.mle = Some(MleInfo {
        security_suite: data[0],
        key_sequence,
        frame_counter: opened.map(|(_, fc)| fc),
        command,
        command_name: command::name(command).unwrap_or("unknown"),
        tlvs: infos,
        replayed,
        network_data,
    });
    d.facts.mle = Some(MleFacts {
        src: *src,
        dst: *dst,
        secured: key_sequence.is_some(),
        command,
        tlvs,
    });
    Ok(())
}
