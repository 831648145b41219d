//! IPv6 datagrams to and from their 6LoWPAN compressed form (RFC 6282 §3.2, §4): IPHC
//! addresses resolved with the contexts and link-layer addresses, the NHC chain (extension
//! headers, UDP, an encapsulated IPv6 header), and the lengths and elided UDP checksum
//! recomputed once the whole datagram is known.

use std::net::Ipv6Addr;

use super::address::{iid_from_link, short_iid, Contexts, LinkAddresses};
use super::iphc::{HopLimit, Iphc, TrafficFlow};
use super::nhc::{eid_to_protocol, protocol_to_eid, ExtHeaderNhc, UdpNhc, EID_IPV6, UDP};
use super::IPV6_DISPATCH;
use crate::thread::mac::Address;
use crate::wire::{need, Error, Result, Wire};

/// The fixed IPv6 header (RFC 8200 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    pub traffic_class: u8,
    pub flow_label: u32,
    pub payload_len: u16,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl Ipv6Header {
    pub const LEN: usize = 40;

    pub fn parse(b: &[u8]) -> Result<Self> {
        need(b, Self::LEN)?;
        if b[0] >> 4 != 6 {
            return Err(Error::Invalid {
                field: "IPv6 version",
                value: (b[0] >> 4) as u32,
            });
        }
        let octets =
            |r: core::ops::Range<usize>| -> [u8; 16] { b[r].try_into().unwrap_or([0; 16]) };
        Ok(Ipv6Header {
            traffic_class: (b[0] << 4) | (b[1] >> 4),
            flow_label: u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]]),
            payload_len: u16::from_be_bytes([b[4], b[5]]),
            next_header: b[6],
            hop_limit: b[7],
            src: Ipv6Addr::from(octets(8..24)),
            dst: Ipv6Addr::from(octets(24..40)),
        })
    }

    pub fn emit(&self, b: &mut [u8]) {
        let f = self.flow_label.to_be_bytes();
        b[0] = 0x60 | (self.traffic_class >> 4);
        b[1] = (self.traffic_class << 4) | (f[1] & 0x0f);
        b[2] = f[2];
        b[3] = f[3];
        b[4..6].copy_from_slice(&self.payload_len.to_be_bytes());
        b[6] = self.next_header;
        b[7] = self.hop_limit;
        b[8..24].copy_from_slice(&self.src.octets());
        b[24..40].copy_from_slice(&self.dst.octets());
    }
}

const LINK_LOCAL: [u8; 8] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0];

fn with_iid(prefix: [u8; 8], iid: [u8; 8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&prefix);
    a[8..].copy_from_slice(&iid);
    a
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = b.len().min(N);
    a[..n].copy_from_slice(&b[..n]);
    a
}

/// A unicast address from (context based, mode, in-line octets) (RFC 6282 §3.1.1).
fn unicast(
    context: bool,
    mode: u8,
    inline: &[u8],
    link: &Address,
    ctx: &Contexts,
    ctx_id: u8,
) -> Result<[u8; 16]> {
    let iid = match mode {
        0 if context => return Ok([0; 16]), // SAC = 1, SAM = 00: the unspecified address
        0 => return Ok(arr(inline)),
        1 => arr(inline),
        2 => short_iid(u16::from_be_bytes(arr(inline))),
        _ => iid_from_link(link)?,
    };
    if context {
        let mut a = with_iid([0; 8], iid);
        ctx.get(ctx_id)?.apply(&mut a);
        Ok(a)
    } else {
        Ok(with_iid(LINK_LOCAL, iid))
    }
}

/// A multicast destination (RFC 6282 §3.1.1, M = 1).
fn multicast(dac: bool, dam: u8, i: &[u8], ctx: &Contexts, ctx_id: u8) -> Result<[u8; 16]> {
    let mut a = [0u8; 16];
    a[0] = 0xff;
    match (dac, dam) {
        (false, 0) => return Ok(arr(i)),
        (false, 1) => {
            a[1] = i[0];
            a[11..16].copy_from_slice(&i[1..6]);
        }
        (false, 2) => {
            a[1] = i[0];
            a[13..16].copy_from_slice(&i[1..4]);
        }
        (false, _) => {
            a[1] = 0x02;
            a[15] = i[0];
        }
        // ffXX:XXLL:PPPP:PPPP:PPPP:PPPP:XXXX:XXXX (RFC 3306 unicast-prefix-based).
        (true, _) => {
            let c = ctx.get(ctx_id)?;
            a[1] = i[0];
            a[2] = i[1];
            a[3] = c.prefix_len;
            a[4..12].copy_from_slice(&c.prefix[..8]);
            a[12..16].copy_from_slice(&i[2..6]);
        }
    }
    Ok(a)
}

fn addresses(h: &Iphc, ll: &LinkAddresses, ctx: &Contexts) -> Result<([u8; 16], [u8; 16])> {
    let (sci, dci) = h.context_ids.unwrap_or((0, 0));
    let src = unicast(h.sac, h.sam, &h.src_inline, &ll.src, ctx, sci)?;
    let dst = if h.multicast {
        multicast(h.dac, h.dam, &h.dst_inline, ctx, dci)?
    } else {
        unicast(h.dac, h.dam, &h.dst_inline, &ll.dst, ctx, dci)?
    };
    Ok((src, dst))
}

/// Uncompressed headers decoded from the start of a compressed datagram (or of its first
/// fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecompressedHeaders {
    /// The uncompressed headers, their lengths and elided checksum still to be filled by
    /// [`DecompressedHeaders::finish`].
    pub bytes: Vec<u8>,
    /// Compressed octets they were decoded from.
    pub consumed: usize,
    /// Where each IPv6 header starts in `bytes` (at most one per nesting level).
    ipv6_at: [usize; MAX_NESTING + 1],
    ipv6_count: usize,
    udp_at: Option<usize>,
    udp_checksum_elided: bool,
}

impl DecompressedHeaders {
    /// Fills the IPv6 Payload Length fields, the UDP Length and an elided UDP checksum into
    /// `datagram`, the whole uncompressed datagram that starts with these headers.
    pub fn finish(&self, datagram: &mut [u8]) {
        let total = datagram.len();
        for &o in &self.ipv6_at[..self.ipv6_count] {
            let len = total.saturating_sub(o + Ipv6Header::LEN) as u16;
            datagram[o + 4..o + 6].copy_from_slice(&len.to_be_bytes());
        }
        if let Some(u) = self.udp_at {
            let len = (total - u) as u16;
            datagram[u + 4..u + 6].copy_from_slice(&len.to_be_bytes());
            if self.udp_checksum_elided {
                // The addresses are those of the innermost IPv6 header before the UDP header.
                let ip = self.ipv6_at[..self.ipv6_count]
                    .iter()
                    .copied()
                    .filter(|&o| o < u)
                    .max()
                    .unwrap_or(0);
                let c = udp_checksum(&datagram[ip + 8..ip + 40], &datagram[u..]);
                datagram[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
            }
        }
    }
}

/// The UDP checksum (RFC 8200 §8.1) over the pseudo-header (`addrs` = source || destination)
/// and `udp` (its checksum field taken as zero).
pub fn udp_checksum(addrs: &[u8], udp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
        }
    };
    add(addrs);
    add(&(udp.len() as u32).to_be_bytes());
    add(&[0, UDP]);
    add(&udp[..6.min(udp.len())]);
    if udp.len() > 8 {
        add(&udp[8..]);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
    }
}

/// Decodes the IPHC header and NHC chain at the start of `b` (the payload after any mesh and
/// fragment header) into uncompressed headers.
pub fn decompress_headers(
    b: &[u8],
    ll: &LinkAddresses,
    ctx: &Contexts,
) -> Result<DecompressedHeaders> {
    let mut d = DecompressedHeaders::empty(Vec::new());
    iphc_into(b, ll, ctx, &mut d, 0)?;
    Ok(d)
}

impl DecompressedHeaders {
    fn empty(bytes: Vec<u8>) -> Self {
        DecompressedHeaders {
            bytes,
            consumed: 0,
            ipv6_at: [0; MAX_NESTING + 1],
            ipv6_count: 0,
            udp_at: None,
            udp_checksum_elided: false,
        }
    }
}

/// Decoding depth limit for nested IPv6 headers (EID 7).
const MAX_NESTING: usize = 4;

fn iphc_into(
    b: &[u8],
    ll: &LinkAddresses,
    ctx: &Contexts,
    d: &mut DecompressedHeaders,
    depth: usize,
) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(Error::Invalid {
            field: "IPv6-in-IPv6 nesting too deep",
            value: depth as u32,
        });
    }
    let (h, n) = Iphc::parse_prefix(&b[d.consumed..])?;
    let (src, dst) = addresses(&h, ll, ctx)?;
    let (traffic_class, flow_label) = h.traffic_flow.values();
    let at = d.bytes.len();
    d.bytes.resize(at + Ipv6Header::LEN, 0);
    Ipv6Header {
        traffic_class,
        flow_label,
        payload_len: 0,
        next_header: h.next_header.unwrap_or(0),
        hop_limit: h.hop_limit.value(),
        src: src.into(),
        dst: dst.into(),
    }
    .emit(&mut d.bytes[at..]);
    // depth <= MAX_NESTING, so there is a slot.
    d.ipv6_at[depth] = at;
    d.ipv6_count = depth + 1;
    d.consumed += n;
    if h.next_header.is_some() {
        return Ok(());
    }
    // The octet that receives the next NHC's protocol number.
    let mut nh_slot = at + 6;
    loop {
        let rest = &b[d.consumed..];
        let first = *rest.first().ok_or(Error::Truncated {
            need: d.consumed + 1,
            got: b.len(),
        })?;
        if first & 0xf8 == 0xf0 {
            let (u, n) = UdpNhc::parse_prefix(rest)?;
            d.bytes[nh_slot] = UDP;
            let o = d.bytes.len();
            d.bytes.extend_from_slice(&u.src_port.to_be_bytes());
            d.bytes.extend_from_slice(&u.dst_port.to_be_bytes());
            d.bytes.extend_from_slice(&[0, 0]);
            d.bytes
                .extend_from_slice(&u.checksum.unwrap_or(0).to_be_bytes());
            d.udp_at = Some(o);
            d.udp_checksum_elided = u.checksum.is_none();
            d.consumed += n;
            return Ok(());
        }
        if first & 0xf0 != 0xe0 {
            return Err(Error::Invalid {
                field: "NHC dispatch (neither UDP nor an extension header)",
                value: first as u32,
            });
        }
        let (e, n) = ExtHeaderNhc::parse_prefix(rest)?;
        d.bytes[nh_slot] = eid_to_protocol(e.eid).unwrap_or(0);
        d.consumed += n;
        if e.eid == EID_IPV6 {
            return iphc_into(b, ll, ctx, d, depth + 1);
        }
        let o = d.bytes.len();
        let padded = (2 + e.data.len()).div_ceil(8) * 8;
        let pad = padded - 2 - e.data.len();
        d.bytes
            .extend_from_slice(&[e.next_header.unwrap_or(0), (padded / 8 - 1) as u8]);
        d.bytes.extend_from_slice(&e.data);
        match (pad, e.eid) {
            (0, _) => {}
            // Hop-by-Hop and Destination Options: Pad1 or PadN (RFC 8200 §4.2).
            (1, 0 | 3) => d.bytes.push(0),
            (p, 0 | 3) => {
                d.bytes.extend_from_slice(&[1, (p - 2) as u8]);
                d.bytes.resize(o + padded, 0);
            }
            (_, eid) => {
                return Err(Error::Invalid {
                    field: "extension header length (not a multiple of 8 octets)",
                    value: eid as u32,
                })
            }
        }
        if e.next_header.is_some() {
            return Ok(());
        }
        nh_slot = o;
    }
}

/// Decompresses a whole (unfragmented) 6LoWPAN datagram: IPHC (dispatch `011`) or an
/// uncompressed IPv6 datagram (dispatch 0x41).
pub fn decompress(b: &[u8], ll: &LinkAddresses, ctx: &Contexts) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    decompress_into(b, ll, ctx, &mut v)?;
    Ok(v)
}

/// [`decompress`] into `out` (cleared first; a decoder reuses one buffer).
pub fn decompress_into(
    b: &[u8],
    ll: &LinkAddresses,
    ctx: &Contexts,
    out: &mut Vec<u8>,
) -> Result<()> {
    need(b, 1)?;
    out.clear();
    if b[0] == IPV6_DISPATCH {
        let h = Ipv6Header::parse(&b[1..])?;
        if h.payload_len as usize + Ipv6Header::LEN != b.len() - 1 {
            return Err(Error::Invalid {
                field: "IPv6 payload length (disagrees with the datagram's size)",
                value: h.payload_len as u32,
            });
        }
        out.extend_from_slice(&b[1..]);
        return Ok(());
    }
    let mut d = DecompressedHeaders::empty(std::mem::take(out));
    let r = iphc_into(b, ll, ctx, &mut d, 0);
    let mut bytes = std::mem::take(&mut d.bytes);
    if r.is_ok() {
        bytes.extend_from_slice(&b[d.consumed..]);
        d.finish(&mut bytes);
    }
    *out = bytes;
    r
}

/// Tries the encodings of a unicast address from the most compact and returns the first that
/// decompresses back to `addr`: (context based, mode, in-line octets, context id).
fn compress_unicast(
    addr: &[u8; 16],
    link: &Address,
    ctx: &Contexts,
    is_src: bool,
) -> (bool, u8, Vec<u8>, u8) {
    if is_src && *addr == [0; 16] {
        return (true, 0, vec![], 0);
    }
    let mut ids: Vec<Option<u8>> = vec![None];
    ids.extend((0..16u8).filter(|&i| ctx.0[i as usize].is_some()).map(Some));
    for id in ids {
        for mode in [3u8, 2, 1] {
            let inline = match mode {
                1 => addr[8..].to_vec(),
                2 => addr[14..].to_vec(),
                _ => vec![],
            };
            let (c, i) = (id.is_some(), id.unwrap_or(0));
            if unicast(c, mode, &inline, link, ctx, i).is_ok_and(|a| a == *addr) {
                return (c, mode, inline, i);
            }
        }
    }
    (false, 0, addr.to_vec(), 0)
}

/// Tries the multicast encodings from the most compact: (DAC, DAM, in-line octets, context
/// id). The context-based one (RFC 3306 unicast-prefix-based addresses) comes after the
/// stateless 8-, 32- and 48-bit forms.
fn compress_multicast(addr: &[u8; 16], ctx: &Contexts) -> (bool, u8, Vec<u8>, u8) {
    let none = Contexts::new();
    for (dam, inline) in [
        (3u8, vec![addr[15]]),
        (2, [&addr[1..2], &addr[13..16]].concat()),
        (1, [&addr[1..2], &addr[11..16]].concat()),
    ] {
        if multicast(false, dam, &inline, &none, 0).is_ok_and(|a| a == *addr) {
            return (false, dam, inline, 0);
        }
    }
    let inline = [&addr[1..3], &addr[12..16]].concat();
    for id in (0..16u8).filter(|&i| ctx.0[i as usize].is_some()) {
        if multicast(true, 0, &inline, ctx, id).is_ok_and(|a| a == *addr) {
            return (true, 0, inline, id);
        }
    }
    (false, 0, addr.to_vec(), 0)
}

fn compress_iphc(
    p: &[u8],
    ll: &LinkAddresses,
    ctx: &Contexts,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(Error::Invalid {
            field: "IPv6-in-IPv6 nesting too deep",
            value: depth as u32,
        });
    }
    let ip = Ipv6Header::parse(p)?;
    let (src, dst) = (ip.src.octets(), ip.dst.octets());
    let (sac, sam, src_inline, sci) = compress_unicast(&src, &ll.src, ctx, true);
    let (dac, dam, dst_inline, dci) = if dst[0] == 0xff {
        compress_multicast(&dst, ctx)
    } else {
        compress_unicast(&dst, &ll.dst, ctx, false)
    };
    let mut body = &p[Ipv6Header::LEN..];
    // Only what decompresses to the same octets is compressed: a UDP header or an inner IPv6
    // header whose length field is right (the decompressor recomputes it), within the
    // nesting limit; anything else stays in-line.
    let compressible = |nh: u8, rest: &[u8]| match nh {
        UDP => rest.len() >= 8 && u16::from_be_bytes([rest[4], rest[5]]) as usize == rest.len(),
        41 => {
            depth < MAX_NESTING
                && Ipv6Header::parse(rest)
                    .is_ok_and(|h| h.payload_len as usize + Ipv6Header::LEN == rest.len())
        }
        nh => protocol_to_eid(nh).is_some() && ext_len(rest).is_some(),
    };
    let nhc = compressible(ip.next_header, body);
    let iphc = Iphc {
        traffic_flow: TrafficFlow::compress(ip.traffic_class, ip.flow_label),
        next_header: (!nhc).then_some(ip.next_header),
        hop_limit: HopLimit::compress(ip.hop_limit),
        context_ids: (sci != 0 || dci != 0).then_some((sci, dci)),
        sac,
        sam,
        src_inline,
        multicast: dst[0] == 0xff,
        dac,
        dam,
        dst_inline,
    };
    out.extend_from_slice(&iphc.to_vec());
    let mut nh = ip.next_header;
    while compressible(nh, body) {
        match nh {
            UDP => {
                let u = UdpNhc::new(
                    u16::from_be_bytes([body[0], body[1]]),
                    u16::from_be_bytes([body[2], body[3]]),
                    Some(u16::from_be_bytes([body[6], body[7]])),
                );
                out.extend_from_slice(&u.to_vec());
                out.extend_from_slice(&body[8..]);
                return Ok(());
            }
            41 => {
                out.extend_from_slice(
                    &ExtHeaderNhc {
                        eid: EID_IPV6,
                        next_header: None,
                        data: vec![],
                    }
                    .to_vec(),
                );
                return compress_iphc(body, ll, ctx, out, depth + 1);
            }
            _ => {
                let len = ext_len(body).unwrap_or(body.len());
                let next = body[0];
                let follow = compressible(next, &body[len..]);
                let eid = protocol_to_eid(nh).unwrap_or(0);
                out.extend_from_slice(
                    &ExtHeaderNhc {
                        eid,
                        next_header: (!follow).then_some(next),
                        data: elide_padding(eid, &body[..len]).to_vec(),
                    }
                    .to_vec(),
                );
                body = &body[len..];
                nh = next;
                if !follow {
                    break;
                }
            }
        }
    }
    out.extend_from_slice(body);
    Ok(())
}

/// The option data of a Hop-by-Hop or Destination Options header `h` with its trailing Pad1
/// or PadN option elided when the decompressor restores exactly those octets (RFC 6282 §4.2);
/// the data unchanged otherwise.
fn elide_padding(eid: u8, h: &[u8]) -> &[u8] {
    let data = &h[2..];
    if eid != 0 && eid != 3 {
        return data;
    }
    // Find the start of the last option (RFC 8200 §4.2: Pad1 is one octet, others are TLVs).
    let (mut at, mut last) = (0, None);
    while at < data.len() {
        last = Some(at);
        at += if data[at] == 0 {
            1
        } else {
            2 + *data.get(at + 1).unwrap_or(&0) as usize
        };
    }
    let Some(last) = last.filter(|&l| at == data.len() && data[l] <= 1) else {
        return data;
    };
    let kept = &data[..last];
    let pad = (2 + kept.len()).div_ceil(8) * 8 - 2 - kept.len();
    let restored: Vec<u8> = match pad {
        0 => vec![],
        1 => vec![0],
        p => [vec![1, (p - 2) as u8], vec![0; p - 2]].concat(),
    };
    if restored == data[last..] {
        kept
    } else {
        data
    }
}

/// The length of the extension header at the start of `b`, when it fits and its data fits the
/// NHC's one-octet Length.
fn ext_len(b: &[u8]) -> Option<usize> {
    let len = (*b.get(1)? as usize + 1) * 8;
    (len <= b.len() && len - 2 <= 255).then_some(len)
}

/// Compresses an IPv6 datagram with IPHC and NHC (UDP with its checksum in-line, extension
/// headers with a trailing Pad1/PadN elided, encapsulated IPv6), choosing the most compact address
/// encodings the contexts and link-layer addresses allow. Length fields are not carried: the
/// decompressor recomputes them from the datagram's size.
pub fn compress(packet: &[u8], ll: &LinkAddresses, ctx: &Contexts) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(packet.len());
    compress_iphc(packet, ll, ctx, &mut out, 0)?;
    Ok(out)
}

#[cfg(test)]
#[path = "datagram_tests.rs"]
mod tests;
