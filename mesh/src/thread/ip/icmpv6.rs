//! ICMPv6 (RFC 4443) echo: Echo Request and Echo Reply (§4.1, §4.2) in IPv6 datagrams, with
//! the checksum over the pseudo-header (§2.3), and the answer a node gives to a request.

use std::net::Ipv6Addr;

use super::addr::NodeAddresses;
use super::{build, checksum, parse, proto, DEFAULT_HOP_LIMIT};
use crate::wire::{Error, Result};

/// Echo Request type (RFC 4443 §4.1).
pub const ECHO_REQUEST: u8 = 128;
/// Echo Reply type (RFC 4443 §4.2).
pub const ECHO_REPLY: u8 = 129;

/// An echo message (RFC 4443 §4.1-4.2: Type, Code 0, Checksum, Identifier, Sequence Number,
/// Data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub reply: bool,
    pub identifier: u16,
    pub sequence: u16,
    pub data: Vec<u8>,
}

/// An echo message read from a datagram, with the datagram's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEcho {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub echo: Echo,
}

/// The ICMPv6 message of `echo` with its checksum.
fn message(src: &Ipv6Addr, dst: &Ipv6Addr, echo: &Echo) -> Vec<u8> {
    let ty = if echo.reply { ECHO_REPLY } else { ECHO_REQUEST };
    let mut m = vec![ty, 0, 0, 0];
    m.extend_from_slice(&echo.identifier.to_be_bytes());
    m.extend_from_slice(&echo.sequence.to_be_bytes());
    m.extend_from_slice(&echo.data);
    let c = checksum(src, dst, proto::ICMPV6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An IPv6 datagram carrying `echo`.
pub fn echo_datagram(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, echo: &Echo) -> Vec<u8> {
    build(
        src,
        dst,
        proto::ICMPV6,
        hop_limit,
        &message(&src, &dst, echo),
    )
}

/// Reads an echo message from a datagram. Other ICMPv6 messages, other protocols, a wrong
/// checksum, a code other than 0 and short messages are refused.
pub fn parse_echo(datagram: &[u8]) -> Result<ReceivedEcho> {
    let p = parse(datagram)?;
    if p.protocol != proto::ICMPV6 {
        return Err(Error::Invalid {
            field: "IPv6 next header (not ICMPv6)",
            value: p.protocol as u32,
        });
    }
    let m = &datagram[p.upper_at..];
    crate::wire::need(m, 8)?;
    let (src, dst) = (p.header.src, p.header.dst);
    // §2.3: the sum over the message with its checksum in place is zero.
    if checksum(&src, &dst, proto::ICMPV6, m) != 0 {
        return Err(Error::Auth("ICMPv6 checksum"));
    }
    let reply = match m[0] {
        ECHO_REQUEST => false,
        ECHO_REPLY => true,
        t => {
            return Err(Error::Invalid {
                field: "ICMPv6 type (not an echo)",
                value: t as u32,
            })
        }
    };
    if m[1] != 0 {
        return Err(Error::Invalid {
            field: "ICMPv6 echo code (must be 0)",
            value: m[1] as u32,
        });
    }
    Ok(ReceivedEcho {
        src,
        dst,
        hop_limit: p.header.hop_limit,
        echo: Echo {
            reply,
            identifier: u16::from_be_bytes([m[4], m[5]]),
            sequence: u16::from_be_bytes([m[6], m[7]]),
            data: m[8..].to_vec(),
        },
    })
}

/// The Echo Reply a node sends to an Echo Request addressed to it (RFC 4443 §4.2: same
/// identifier, sequence number and data; to a multicast request, from one of the node's
/// unicast addresses). `None` when the datagram is not a request for this node.
pub fn answer(request: &ReceivedEcho, me: &NodeAddresses) -> Option<Vec<u8>> {
    if request.echo.reply || !me.accepts(&request.dst) {
        return None;
    }
    let src = if request.dst.is_multicast() {
        me.source_for(&request.src)
    } else {
        request.dst
    };
    let echo = Echo {
        reply: true,
        ..request.echo.clone()
    };
    Some(echo_datagram(src, request.src, DEFAULT_HOP_LIMIT, &echo))
}

/// Destination Unreachable type (RFC 4443 §3.1).
pub const DST_UNREACHABLE: u8 = 1;
/// Destination Unreachable code 0, "no route to destination" (RFC 4443 §3.1), which a Thread
/// node sends when a datagram reaches the RLOC16 its sender resolved and the destination is
/// not there (OpenThread `MeshForwarder::CheckReachabilityToSendIcmpError`, checked).
pub const NO_ROUTE: u8 = 0;
/// The minimum IPv6 MTU (RFC 8200 §5), which an ICMPv6 error may not exceed (RFC 4443 §2.4 c).
const MIN_MTU: usize = 1280;

/// A Destination Unreachable error about `invoking` (RFC 4443 §3.1: Type 1, Code, Checksum,
/// four unused octets, then as much of the invoking datagram as fits the minimum MTU).
pub fn dst_unreachable(src: Ipv6Addr, dst: Ipv6Addr, code: u8, invoking: &[u8]) -> Vec<u8> {
    let room = MIN_MTU - 40 - 8;
    let mut m = vec![DST_UNREACHABLE, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&invoking[..invoking.len().min(room)]);
    let c = checksum(&src, &dst, proto::ICMPV6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    build(src, dst, proto::ICMPV6, DEFAULT_HOP_LIMIT, &m)
}

/// The code of a Destination Unreachable error in `datagram` and the destination of the
/// datagram it is about; `None` for anything else (another message, a wrong checksum, an
/// invoking datagram too short to hold its header).
pub fn parse_dst_unreachable(datagram: &[u8]) -> Option<(u8, Ipv6Addr)> {
    let p = parse(datagram).ok()?;
    let m = datagram.get(p.upper_at..)?;
    if p.protocol != proto::ICMPV6 || m.len() < 8 + 40 || m[0] != DST_UNREACHABLE {
        return None;
    }
    if checksum(&p.header.src, &p.header.dst, proto::ICMPV6, m) != 0 {
        return None;
    }
    let h = crate::thread::lowpan::Ipv6Header::parse(&m[8..]).ok()?;
    Some((m[1], h.dst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::ip::addr::{rloc, REALM_LOCAL_ALL_NODES};
    use crate::thread::mac::ExtAddress;

    const ML: [u8; 8] = [0xfd, 0, 0, 0, 0, 0, 0, 0];

    #[test]
    fn request_and_reply() {
        let me = NodeAddresses::new(ML, ExtAddress([1; 8]), [2; 8]);
        let peer = rloc(ML, 0x0400);
        let echo = Echo {
            reply: false,
            identifier: 0x1234,
            sequence: 7,
            data: b"weft".to_vec(),
        };
        let d = echo_datagram(peer, me.ml_eid(), 64, &echo);
        assert_eq!(d[40], ECHO_REQUEST);
        let r = parse_echo(&d).unwrap();
        assert_eq!(r.echo, echo);
        let reply = answer(&r, &me).unwrap();
        let back = parse_echo(&reply).unwrap();
        assert_eq!((back.src, back.dst), (me.ml_eid(), peer));
        assert!(back.echo.reply);
        assert_eq!((back.echo.identifier, back.echo.sequence), (0x1234, 7));
        assert_eq!(back.echo.data, b"weft");
        // A reply is not answered; a request for someone else is not answered.
        assert_eq!(answer(&back, &me), None);
        let other = parse_echo(&echo_datagram(peer, rloc(ML, 0x0800), 64, &echo)).unwrap();
        assert_eq!(answer(&other, &me), None);
        // To a multicast group: answered from a unicast address.
        let m = parse_echo(&echo_datagram(peer, REALM_LOCAL_ALL_NODES, 64, &echo)).unwrap();
        let reply = parse_echo(&answer(&m, &me).unwrap()).unwrap();
        assert_eq!(reply.src, me.ml_eid());
    }

    #[test]
    fn bad_checksum_and_other_messages_are_refused() {
        let a: Ipv6Addr = "fd00::1".parse().unwrap();
        let echo = Echo {
            reply: false,
            identifier: 1,
            sequence: 1,
            data: vec![],
        };
        let mut d = echo_datagram(a, a, 64, &echo);
        d[44] ^= 1;
        assert_eq!(parse_echo(&d), Err(Error::Auth("ICMPv6 checksum")));
        // Destination Unreachable (type 1) with a good checksum.
        let mut m = vec![1, 0, 0, 0, 0, 0, 0, 0];
        let c = checksum(&a, &a, proto::ICMPV6, &m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(parse_echo(&build(a, a, proto::ICMPV6, 64, &m)).is_err());
        // Short.
        assert!(parse_echo(&build(a, a, proto::ICMPV6, 64, &[128, 0, 0])).is_err());
        // UDP.
        assert!(parse_echo(&build(a, a, proto::UDP, 64, &[0; 8])).is_err());
    }

    #[test]
    fn destination_unreachable_names_the_invoking_destination() {
        let a = rloc(ML, 0x0400);
        let b = rloc(ML, 0x0800);
        let eid: Ipv6Addr = "fd00::1234".parse().unwrap();
        let echo = Echo {
            reply: false,
            identifier: 1,
            sequence: 2,
            data: vec![0; 2000],
        };
        let invoking = echo_datagram(a, eid, 64, &echo);
        let e = dst_unreachable(b, a, NO_ROUTE, &invoking);
        assert_eq!(e.len(), 1280);
        assert_eq!(parse_dst_unreachable(&e), Some((NO_ROUTE, eid)));
        let mut bad = e.clone();
        bad[60] ^= 1;
        assert_eq!(parse_dst_unreachable(&bad), None);
        assert_eq!(parse_dst_unreachable(&invoking), None);
        assert_eq!(parse_dst_unreachable(&e[..60]), None);
    }
}
