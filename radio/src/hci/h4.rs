//! H4 framing: HCI packets on a byte stream, each preceded by a packet indicator octet (Core
//! v5.4 Vol 4 Part A §2, the UART Transport Layer; the same framing serves the TCP and Unix
//! socket transports, and the kernel's user channel hands one such packet per read).
//!
//! | indicator | packet | header (Vol 4 Part E §5.4) |
//! |---|---|---|
//! | 0x01 | Command | opcode (2), parameter total length (1), §5.4.1 |
//! | 0x02 | ACL data | handle and flags (2), data total length (2), §5.4.2 |
//! | 0x03 | Synchronous data | handle and flags (2), data total length (1), §5.4.3 |
//! | 0x04 | Event | event code (1), parameter total length (1), §5.4.4 |
//! | 0x05 | ISO data | handle and flags (2), data load length (14 bits of 2), §5.4.5 |
//!
//! A UART carries no framing of its own, so a byte lost or garbled on the line desynchronises
//! the stream; Vol 4 Part A §3 leaves recovery to the host (an HCI_Reset). [`H4Decoder`]
//! resynchronises by itself: an unknown packet indicator, or a header that cannot be right (an
//! event code 0x00, a Command Complete shorter than its fixed part, an ACL length longer than
//! any controller buffer), costs one skipped octet, counted, and decoding goes on at the next
//! one. A header whose length is plausible but whose bytes never all arrive (a garbage
//! indicator that happened to look right) is dropped by [`H4Decoder::drop_partial`], which the
//! reader calls when the line has been quiet for a while.

use std::fmt;

/// The packet indicator octet (Vol 4 Part A §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// HCI Command packet, host to controller.
    Command,
    /// HCI ACL Data packet.
    Acl,
    /// HCI Synchronous Data packet.
    Sco,
    /// HCI Event packet, controller to host.
    Event,
    /// HCI ISO Data packet.
    Iso,
}

impl PacketType {
    /// The indicator octet.
    pub fn indicator(self) -> u8 {
        match self {
            PacketType::Command => 0x01,
            PacketType::Acl => 0x02,
            PacketType::Sco => 0x03,
            PacketType::Event => 0x04,
            PacketType::Iso => 0x05,
        }
    }

    /// The packet an indicator octet announces, if any.
    pub fn from_indicator(b: u8) -> Option<PacketType> {
        Some(match b {
            0x01 => PacketType::Command,
            0x02 => PacketType::Acl,
            0x03 => PacketType::Sco,
            0x04 => PacketType::Event,
            0x05 => PacketType::Iso,
            _ => return None,
        })
    }

    /// The length of the packet's header (Vol 4 Part E §5.4).
    pub fn header_len(self) -> usize {
        match self {
            PacketType::Command | PacketType::Sco => 3,
            PacketType::Acl | PacketType::Iso => 4,
            PacketType::Event => 2,
        }
    }

    /// The payload length a header announces; `None` when the header cannot be right.
    fn payload_len(self, h: &[u8]) -> Option<usize> {
        match self {
            PacketType::Command | PacketType::Sco => Some(usize::from(h[2])),
            PacketType::Acl => {
                let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
                (len <= MAX_ACL_LEN).then_some(len)
            }
            PacketType::Iso => {
                // ISO_Data_Load_Length is the low 14 bits; the top two are RFU (§5.4.5).
                let len = usize::from(u16::from_le_bytes([h[2], h[3]]) & 0x3fff);
                (len <= MAX_ISO_LEN).then_some(len)
            }
            PacketType::Event => {
                let (code, len) = (h[0], usize::from(h[1]));
                let plausible = match code {
                    // No event has code 0x00 (Vol 4 Part E §7.7).
                    0x00 => false,
                    // Command Complete: Num_HCI_Command_Packets, Command_Opcode (§7.7.14).
                    0x0e => len >= 3,
                    // Command Status: Status, Num_HCI_Command_Packets, Command_Opcode (§7.7.15).
                    0x0f => len == 4,
                    // Hardware Error: Hardware_Code (§7.7.16).
                    0x10 => len == 1,
                    // LE Meta: at least the Subevent_Code (§7.7.65).
                    0x3e => len >= 1,
                    _ => true,
                };
                plausible.then_some(len)
            }
        }
    }
}

/// The longest ACL payload taken as plausible: above the largest BR/EDR baseband payload (1021
/// octets, 3-DH5) and any LE buffer (251); a longer length is a garbled header.
pub const MAX_ACL_LEN: usize = 1024;
/// The longest ISO data load taken as plausible: an SDU of 4095 octets (Vol 4 Part E §5.4.5)
/// with its time stamp and SDU header.
pub const MAX_ISO_LEN: usize = 4095 + 8;

/// Which side's packets a decoder expects: a host reads what a controller sends, and the
/// reverse (a fake controller in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Events and data: what a host reads.
    FromController,
    /// Commands and data: what a controller reads.
    FromHost,
}

impl Direction {
    fn accepts(self, t: PacketType) -> bool {
        !matches!(
            (self, t),
            (Direction::FromController, PacketType::Command)
                | (Direction::FromHost, PacketType::Event)
        )
    }
}

/// One HCI packet: its type and its bytes after the indicator (header and payload).
#[derive(Clone, PartialEq, Eq)]
pub struct H4Packet {
    pub kind: PacketType,
    /// Header and payload, without the indicator octet.
    pub body: Vec<u8>,
}

impl H4Packet {
    /// The packet as it goes on the line: indicator, header, payload.
    pub fn encode(&self) -> Vec<u8> {
        encode(self.kind, &self.body)
    }
}

impl fmt::Debug for H4Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "H4Packet({:?} {})", self.kind, hex::encode(&self.body))
    }
}

/// `kind`'s indicator, then `body` (header and payload).
pub fn encode(kind: PacketType, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + body.len());
    v.push(kind.indicator());
    v.extend_from_slice(body);
    v
}

/// What a decoder has seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct H4Stats {
    /// Whole packets decoded.
    pub packets: u64,
    /// Octets skipped: unknown indicators, implausible headers, partial packets dropped.
    pub skipped_bytes: u64,
    /// Times decoding lost the packet boundary and looked for it again (a run of skipped
    /// octets counts once).
    pub resyncs: u64,
}

/// A streaming H4 decoder: bytes in as they arrive, whole packets out (see the module
/// documentation for how it resynchronises).
#[derive(Debug)]
pub struct H4Decoder {
    buf: Vec<u8>,
    /// Where the undecoded bytes start in `buf`.
    start: usize,
    direction: Direction,
    stats: H4Stats,
    /// Inside a run of skipped octets.
    skipping: bool,
}

impl H4Decoder {
    /// A decoder for the packets `direction` says.
    pub fn new(direction: Direction) -> Self {
        H4Decoder {
            buf: Vec::new(),
            start: 0,
            direction,
            stats: H4Stats::default(),
            skipping: false,
        }
    }

    /// Appends bytes read from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, if the bytes pushed so far hold one.
    pub fn next_packet(&mut self) -> Option<H4Packet> {
        loop {
            let rest = &self.buf[self.start..];
            let &first = rest.first()?;
            let Some(kind) =
                PacketType::from_indicator(first).filter(|k| self.direction.accepts(*k))
            else {
                self.skip(1);
                continue;
            };
            let hlen = kind.header_len();
            if rest.len() < 1 + hlen {
                return None;
            }
            let Some(len) = kind.payload_len(&rest[1..1 + hlen]) else {
                self.skip(1);
                continue;
            };
            let total = 1 + hlen + len;
            if rest.len() < total {
                return None;
            }
            let body = rest[1..total].to_vec();
            self.start += total;
            self.stats.packets += 1;
            self.skipping = false;
            return Some(H4Packet { kind, body });
        }
    }

    /// Octets held that are not yet a whole packet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Gives up on the partial packet at the head (the line went quiet before it was whole):
    /// skips its indicator octet, counted, so that decoding looks for a boundary after it.
    /// Returns whether anything was pending.
    pub fn drop_partial(&mut self) -> bool {
        if self.pending() == 0 {
            return false;
        }
        self.skip(1);
        true
    }

    /// What the decoder has seen.
    pub fn stats(&self) -> H4Stats {
        self.stats
    }

    fn skip(&mut self, n: usize) {
        self.start += n;
        self.stats.skipped_bytes += n as u64;
        if !self.skipping {
            self.skipping = true;
            self.stats.resyncs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(code: u8, params: &[u8]) -> Vec<u8> {
        let mut b = vec![code, params.len() as u8];
        b.extend_from_slice(params);
        b
    }

    #[test]
    fn decodes_packets_split_anywhere() {
        let cc = encode(PacketType::Event, &event(0x0e, &[1, 0x03, 0x0c, 0]));
        let acl = encode(PacketType::Acl, &[0x01, 0x20, 0x02, 0x00, 0xaa, 0xbb]);
        let line = [cc.clone(), acl.clone()].concat();
        for cut in 0..=line.len() {
            let mut d = H4Decoder::new(Direction::FromController);
            d.push(&line[..cut]);
            let mut got = Vec::new();
            while let Some(p) = d.next_packet() {
                got.push(p);
            }
            d.push(&line[cut..]);
            while let Some(p) = d.next_packet() {
                got.push(p);
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[0].encode(), cc);
            assert_eq!(got[1].encode(), acl);
            assert_eq!(d.stats().skipped_bytes, 0);
        }
    }

    #[test]
    fn garbage_is_skipped_and_counted() {
        let cc = encode(PacketType::Event, &event(0x0e, &[1, 0x03, 0x0c, 0]));
        // 0xff and 0x00 are no indicator; 0x04 0x00 is an event with code 0x00; a command
        // indicator is not what a controller sends.
        let line = [&[0xff, 0x00, 0x04, 0x00, 0x01][..], &cc].concat();
        let mut d = H4Decoder::new(Direction::FromController);
        d.push(&line);
        let p = d.next_packet().unwrap();
        assert_eq!(p.encode(), cc);
        assert_eq!(d.next_packet(), None);
        let s = d.stats();
        assert_eq!(s.packets, 1);
        assert_eq!(s.skipped_bytes, 5);
        assert_eq!(s.resyncs, 1);
    }

    #[test]
    fn implausible_lengths_are_skipped() {
        let cs = encode(PacketType::Event, &event(0x0f, &[0, 1, 0x06, 0x20]));
        // An ACL header announcing 0xffff octets, a Command Status of the wrong length.
        let line = [
            &[0x02, 0x01, 0x00, 0xff, 0xff][..],
            &[0x04, 0x0f, 0x00][..],
            &cs,
        ]
        .concat();
        let mut d = H4Decoder::new(Direction::FromController);
        d.push(&line);
        assert_eq!(d.next_packet().unwrap().encode(), cs);
        assert!(d.stats().skipped_bytes >= 2);
    }

    #[test]
    fn a_stalled_partial_packet_is_dropped() {
        let cc = encode(PacketType::Event, &event(0x0e, &[1, 0x03, 0x0c, 0]));
        // 0x04 0x05 0xff: an event of 255 octets that never comes; the real packet follows.
        let line = [&[0x04, 0x05, 0xff][..], &cc].concat();
        let mut d = H4Decoder::new(Direction::FromController);
        d.push(&line);
        assert_eq!(d.next_packet(), None);
        assert!(d.drop_partial());
        // After the indicator, 0x05 0xff is an ISO header start that needs more; drop again.
        let mut got = d.next_packet();
        while got.is_none() && d.drop_partial() {
            got = d.next_packet();
        }
        assert_eq!(got.unwrap().encode(), cc);
    }

    fn any_packet() -> impl Strategy<Value = H4Packet> {
        prop_oneof![
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..=255)).prop_map(|(op, p)| {
                let mut b = op.to_le_bytes().to_vec();
                b.push(p.len() as u8);
                b.extend(p);
                H4Packet {
                    kind: PacketType::Command,
                    body: b,
                }
            }),
            (
                any::<u16>(),
                prop::collection::vec(any::<u8>(), 0..=MAX_ACL_LEN)
            )
                .prop_map(|(h, p)| {
                    let mut b = h.to_le_bytes().to_vec();
                    b.extend((p.len() as u16).to_le_bytes());
                    b.extend(p);
                    H4Packet {
                        kind: PacketType::Acl,
                        body: b,
                    }
                }),
            (any::<u16>(), prop::collection::vec(any::<u8>(), 0..=255)).prop_map(|(h, p)| {
                let mut b = h.to_le_bytes().to_vec();
                b.push(p.len() as u8);
                b.extend(p);
                H4Packet {
                    kind: PacketType::Sco,
                    body: b,
                }
            }),
            (
                any::<u16>(),
                0u8..4,
                prop::collection::vec(any::<u8>(), 0..=600)
            )
                .prop_map(|(h, rfu, p)| {
                    let mut b = h.to_le_bytes().to_vec();
                    b.extend((p.len() as u16 | u16::from(rfu) << 14).to_le_bytes());
                    b.extend(p);
                    H4Packet {
                        kind: PacketType::Iso,
                        body: b,
                    }
                }),
            // Events of codes whose length the decoder does not check.
            (0x11u8..0x3e, prop::collection::vec(any::<u8>(), 0..=255)).prop_map(|(c, p)| {
                H4Packet {
                    kind: PacketType::Event,
                    body: event(c, &p),
                }
            }),
        ]
    }

    proptest! {
        /// Packets encoded back to back, split into any chunks, decode to the same packets in
        /// the same order, with nothing skipped.
        #[test]
        fn round_trip(packets in prop::collection::vec(any_packet(), 0..8),
                      cuts in prop::collection::vec(any::<usize>(), 0..6)) {
            let line: Vec<u8> = packets.iter().flat_map(|p| p.encode()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (line.len() + 1)).collect();
            cuts.push(line.len());
            cuts.sort_unstable();
            // Both directions accept data packets; give each side what it reads.
            let mut host = H4Decoder::new(Direction::FromController);
            let mut ctrl = H4Decoder::new(Direction::FromHost);
            let (mut from_host, mut from_ctrl) = (Vec::new(), Vec::new());
            let mut at = 0;
            for c in cuts {
                host.push(&line[at..c]);
                ctrl.push(&line[at..c]);
                at = c;
                // Only feed each decoder a line it fully understands.
                while let Some(p) = ctrl.next_packet() { from_host.push(p); }
                while let Some(p) = host.next_packet() { from_ctrl.push(p); }
            }
            let has_cmd = packets.iter().any(|p| p.kind == PacketType::Command);
            let has_evt = packets.iter().any(|p| p.kind == PacketType::Event);
            if !has_cmd {
                prop_assert_eq!(&from_ctrl, &packets);
                prop_assert_eq!(host.stats().skipped_bytes, 0);
                prop_assert_eq!(host.pending(), 0);
            }
            if !has_evt {
                prop_assert_eq!(&from_host, &packets);
                prop_assert_eq!(ctrl.stats().skipped_bytes, 0);
            }
        }

        /// Whatever precedes a packet, followed by a quiet line (drop_partial until nothing is
        /// pending), the decoder never panics, and bytes are either decoded or counted.
        #[test]
        fn garbage_then_packets_never_panics(garbage in prop::collection::vec(any::<u8>(), 0..64),
                                             packets in prop::collection::vec(any_packet(), 0..4)) {
            let mut d = H4Decoder::new(Direction::FromController);
            let line: Vec<u8> = garbage.iter().copied()
                .chain(packets.iter().flat_map(|p| p.encode())).collect();
            d.push(&line);
            let mut decoded = 0usize;
            loop {
                while let Some(p) = d.next_packet() { decoded += 1 + p.body.len(); }
                if !d.drop_partial() { break; }
            }
            prop_assert_eq!(decoded as u64 + d.stats().skipped_bytes, line.len() as u64);
        }
    }
}
