//! UDP (RFC 768) in IPv6: the header and its mandatory checksum (RFC 8200 §8.1, computed with
//! [`crate::thread::lowpan::udp_checksum`]), and a bounded socket table that delivers received
//! datagrams to the port they are bound to.

use std::collections::VecDeque;
use std::net::{Ipv6Addr, SocketAddrV6};

use rand_core::RngCore;

use super::{build, parse, proto};
use crate::thread::lowpan::udp_checksum;
use crate::wire::{need, Error, Result};

/// The UDP header length (RFC 768).
pub const HEADER_LEN: usize = 8;
/// The dynamic (ephemeral) port range (RFC 6335 §6).
pub const EPHEMERAL: core::ops::RangeInclusive<u16> = 49152..=65535;

/// A UDP datagram with its IPv6 addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    pub src: SocketAddrV6,
    pub dst: SocketAddrV6,
    pub hop_limit: u8,
    pub payload: Vec<u8>,
}

fn sock(ip: Ipv6Addr, port: u16) -> SocketAddrV6 {
    SocketAddrV6::new(ip, port, 0, 0)
}

/// An IPv6 datagram carrying UDP from `src` to `dst`, with its checksum.
pub fn udp_datagram(
    src: SocketAddrV6,
    dst: SocketAddrV6,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let len = HEADER_LEN + payload.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&(len.min(u16::MAX as usize) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let addrs = [src.ip().octets(), dst.ip().octets()].concat();
    let c = udp_checksum(&addrs, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    build(*src.ip(), *dst.ip(), proto::UDP, hop_limit, &u)
}

/// Reads a UDP datagram: the UDP Length must match what the IPv6 header carries, and the
/// checksum must be present (RFC 8200 §8.1: zero is refused) and right.
pub fn parse_udp(datagram: &[u8]) -> Result<UdpDatagram> {
    let p = parse(datagram)?;
    if p.protocol != proto::UDP {
        return Err(Error::Invalid {
            field: "IPv6 next header (not UDP)",
            value: p.protocol as u32,
        });
    }
    let u = &datagram[p.upper_at..];
    need(u, HEADER_LEN)?;
    let len = u16::from_be_bytes([u[4], u[5]]) as usize;
    if len != u.len() {
        return Err(Error::Invalid {
            field: "UDP Length does not match the IPv6 payload",
            value: len as u32,
        });
    }
    let sent = u16::from_be_bytes([u[6], u[7]]);
    let addrs = [p.header.src.octets(), p.header.dst.octets()].concat();
    if sent == 0 || udp_checksum(&addrs, u) != sent {
        return Err(Error::Auth("UDP checksum"));
    }
    Ok(UdpDatagram {
        src: sock(p.header.src, u16::from_be_bytes([u[0], u[1]])),
        dst: sock(p.header.dst, u16::from_be_bytes([u[2], u[3]])),
        hop_limit: p.header.hop_limit,
        payload: u[HEADER_LEN..].to_vec(),
    })
}

/// Bounds of a [`SocketTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Ports bound at once.
    pub max_sockets: usize,
    /// Datagrams held per socket until read.
    pub max_queued: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            max_sockets: 16,
            max_queued: 8,
        }
    }
}

/// What became of a datagram handed to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// No socket is bound to the destination port (RFC 4443 §3.1 would answer Port
    /// Unreachable; Thread nodes stay silent).
    NoSocket,
    /// The socket's queue is full: dropped.
    QueueFull,
}

/// Counters of a [`SocketTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SocketStats {
    pub delivered: u64,
    pub no_socket: u64,
    pub queue_full: u64,
}

/// Why a bind was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error("port {0} is already bound")]
    InUse(u16),
    #[error("port 0 cannot be bound; ask for an ephemeral port")]
    PortZero,
    #[error("the socket table is full ({0} sockets)")]
    Full(usize),
}

#[derive(Debug)]
struct Socket {
    port: u16,
    queue: VecDeque<UdpDatagram>,
}

/// Bound ports and their received datagrams, bounded in both.
#[derive(Debug)]
pub struct SocketTable {
    limits: SocketLimits,
    sockets: Vec<Socket>,
    stats: SocketStats,
}

impl SocketTable {
    pub fn new(limits: SocketLimits) -> Self {
        SocketTable {
            limits,
            sockets: Vec::new(),
            stats: SocketStats::default(),
        }
    }

    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    pub fn is_bound(&self, port: u16) -> bool {
        self.sockets.iter().any(|s| s.port == port)
    }

    /// Binds `port`.
    pub fn bind(&mut self, port: u16) -> core::result::Result<u16, BindError> {
        if port == 0 {
            return Err(BindError::PortZero);
        }
        if self.is_bound(port) {
            return Err(BindError::InUse(port));
        }
        if self.sockets.len() >= self.limits.max_sockets {
            return Err(BindError::Full(self.limits.max_sockets));
        }
        self.sockets.push(Socket {
            port,
            queue: VecDeque::new(),
        });
        Ok(port)
    }

    /// Binds a free port of the ephemeral range (RFC 6335 §6), starting at a random one.
    pub fn bind_ephemeral(
        &mut self,
        rng: &mut impl RngCore,
    ) -> core::result::Result<u16, BindError> {
        let span = (EPHEMERAL.end() - EPHEMERAL.start()) as u32 + 1;
        let first = rng.next_u32() % span;
        for i in 0..span.min(self.limits.max_sockets as u32 + 1) {
            let port = EPHEMERAL.start() + ((first + i) % span) as u16;
            if !self.is_bound(port) {
                return self.bind(port);
            }
        }
        Err(BindError::Full(self.limits.max_sockets))
    }

    /// Unbinds `port`, dropping what it held; whether it was bound.
    pub fn unbind(&mut self, port: u16) -> bool {
        let before = self.sockets.len();
        self.sockets.retain(|s| s.port != port);
        before != self.sockets.len()
    }

    /// Hands a received datagram to the socket of its destination port.
    pub fn deliver(&mut self, d: UdpDatagram) -> Delivery {
        let max = self.limits.max_queued;
        let Some(s) = self.sockets.iter_mut().find(|s| s.port == d.dst.port()) else {
            self.stats.no_socket += 1;
            return Delivery::NoSocket;
        };
        if s.queue.len() >= max {
            self.stats.queue_full += 1;
            return Delivery::QueueFull;
        }
        s.queue.push_back(d);
        self.stats.delivered += 1;
        Delivery::Queued
    }

    /// The oldest datagram received on `port`.
    pub fn recv(&mut self, port: u16) -> Option<UdpDatagram> {
        self.sockets
            .iter_mut()
            .find(|s| s.port == port)?
            .queue
            .pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::test_rng::SplitMix;
    use proptest::prelude::*;

    fn a(s: &str, port: u16) -> SocketAddrV6 {
        sock(s.parse().unwrap(), port)
    }

    #[test]
    fn build_parse_and_checksum() {
        let (s, d) = (a("fd00::1", 1234), a("fd00::2", 5683));
        let dg = udp_datagram(s, d, 64, b"hello");
        assert_eq!(dg.len(), 40 + 8 + 5);
        let u = parse_udp(&dg).unwrap();
        assert_eq!((u.src, u.dst, u.payload.as_slice()), (s, d, &b"hello"[..]));
        let mut bad = dg.clone();
        bad[50] ^= 0x40;
        assert_eq!(parse_udp(&bad), Err(Error::Auth("UDP checksum")));
        let mut zero = dg.clone();
        zero[46..48].copy_from_slice(&[0, 0]);
        assert_eq!(parse_udp(&zero), Err(Error::Auth("UDP checksum")));
        let mut len = dg;
        len[45] += 1;
        assert!(parse_udp(&len).is_err());
    }

    #[test]
    fn socket_table_is_bounded() {
        let mut t = SocketTable::new(SocketLimits {
            max_sockets: 2,
            max_queued: 2,
        });
        assert_eq!(t.bind(0), Err(BindError::PortZero));
        t.bind(5683).unwrap();
        assert_eq!(t.bind(5683), Err(BindError::InUse(5683)));
        let e = t.bind_ephemeral(&mut SplitMix(1)).unwrap();
        assert!(EPHEMERAL.contains(&e));
        assert_eq!(t.bind(7), Err(BindError::Full(2)));
        let d = |port, n: u8| UdpDatagram {
            src: a("fd00::9", 1),
            dst: a("fd00::1", port),
            hop_limit: 64,
            payload: vec![n],
        };
        assert_eq!(t.deliver(d(5683, 1)), Delivery::Queued);
        assert_eq!(t.deliver(d(5683, 2)), Delivery::Queued);
        assert_eq!(t.deliver(d(5683, 3)), Delivery::QueueFull);
        assert_eq!(t.deliver(d(9, 4)), Delivery::NoSocket);
        assert_eq!(t.recv(5683).unwrap().payload, [1]);
        assert_eq!(t.recv(5683).unwrap().payload, [2]);
        assert_eq!(t.recv(5683), None);
        assert_eq!(
            t.stats(),
            SocketStats {
                delivered: 2,
                no_socket: 1,
                queue_full: 1
            }
        );
        assert!(t.unbind(5683) && !t.unbind(5683));
        t.bind(7).unwrap();
    }

    proptest! {
        #[test]
        fn round_trip(sp in 1u16.., dp in 1u16.., hl in any::<u8>(),
                      payload in proptest::collection::vec(any::<u8>(), 0..200),
                      s in any::<[u8; 16]>(), d in any::<[u8; 16]>()) {
            let (s, d) = (sock(s.into(), sp), sock(d.into(), dp));
            let u = parse_udp(&udp_datagram(s, d, hl, &payload)).unwrap();
            prop_assert_eq!(u, UdpDatagram { src: s, dst: d, hop_limit: hl, payload });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse_udp(&b);
            let _ = crate::thread::ip::icmpv6::parse_echo(&b);
        }
    }
}
