//! The OpenThread simulation's radio, in real time: weft as node NODE_ID of the air that
//! `ot-cli-ftd N` processes share (OpenThread `examples/platforms/simulation/radio.c` and
//! `simul_utils.c`, the real-time build, not virtual time).
//!
//! The air is UDP on the loopback interface:
//! - every node sends from 127.0.0.1, port `9000 + P + NODE_ID`, to the multicast group
//!   224.0.0.116, port `9000 + P`, with `IP_MULTICAST_IF` 127.0.0.1 and `IP_MULTICAST_LOOP` on;
//!   P is `PORT_OFFSET × (OPENTHREAD_SIMULATION_MAX_NETWORK_SIZE + 1)`, the maximum being 33 in
//!   OpenThread's `platform-config.h`, so P = 34 × port_offset;
//! - every node receives on the group (bound to 224.0.0.116:`9000 + P`, `SO_REUSEADDR` and
//!   `SO_REUSEPORT`, joined on 127.0.0.1), and ignores datagrams from its own port;
//! - a datagram is one octet of channel, then the PSDU with its 2-octet FCS (CRC-16/KERMIT,
//!   least significant octet first); acknowledgments are frames like any other.
//!
//! [`OtSimRadio`] is what [`crate::open()`] gives for `otsim:NODE_ID[?port_offset=N]`: it
//! hears every frame on the air (on all channels until [`OtSimRadio::set_channel`] picks one),
//! handed over without the FCS (checked, counted) and with the channel; it sends frames on the
//! channel set (11 until then). It does what a radio's MAC does for its host (`mac.rs`): once
//! told its addresses ([`OtSimRadio::set_mac`]) it acknowledges frames addressed to it, with
//! Frame Pending from its source-match table ([`OtSimRadio::source_match`]) in the acks of Data
//! Requests; a frame it sends with AR set waits 16 ms for its ack and is retried up to 3
//! times, and its outcome (acknowledged, with Frame Pending or not, or not) comes from
//! `recv_event` as `RadioEvent::TxDone`.

use std::net::Ipv4Addr;

pub mod mac;
mod radio;

pub use radio::{OtSimRadio, OtSimStats};

/// The base port of the simulation's radio (radio.c: `9000 + sPortOffset`).
pub const BASE_PORT: u16 = 9000;

/// `OPENTHREAD_SIMULATION_MAX_NETWORK_SIZE` (OpenThread `examples/platforms/simulation/
/// platform-config.h`): 33 nodes; a port offset steps by one more.
pub const MAX_NETWORK_SIZE: u16 = 33;

/// The multicast group of the simulation's air (simul_utils.c `UTILS_SOCKET_GROUP_ADDR`).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 116);

/// The interface the simulation uses (simul_utils.c `UTILS_SOCKET_LOCAL_HOST_ADDR`).
pub const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The RSSI every received frame is given, in dBm, as OpenThread's simulated radio gives it
/// (`examples/platforms/simulation/radio.c`, `radioProcessFrame`: `mRssi = -20`): the air has
/// no levels, and a node that sees no RSSI takes the link for a link margin of 0 (link quality
/// 0, no parent).
pub const RSSI: i8 = -20;

/// The channel frames are sent on until [`OtSimRadio::set_channel`] says otherwise.
pub const DEFAULT_CHANNEL: u8 = 11;

/// The ports of node `node_id` with `port_offset`: (the group's port, the node's own), or
/// `None` when they do not fit in 16 bits.
pub fn ports(node_id: u16, port_offset: u16) -> Option<(u16, u16)> {
    let p = u32::from(port_offset) * u32::from(MAX_NETWORK_SIZE + 1);
    let base = u32::from(BASE_PORT) + p;
    let own = base + u32::from(node_id);
    Some((u16::try_from(base).ok()?, u16::try_from(own).ok()?))
}

/// A datagram of the simulation's air: the channel and the PSDU, FCS included.
pub fn datagram(channel: u8, mac: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(mac.len() + 3);
    d.push(channel);
    d.extend_from_slice(&weft_mesh::thread::mac::fcs::append(mac));
    d
}

/// For the fuzz target and tests: what a datagram holds (channel, MAC frame without FCS, FCS
/// good), or why it is not a frame. Never panics.
pub fn parse_datagram(d: &[u8]) -> Result<(u8, &[u8], bool), &'static str> {
    let (&channel, psdu) = d.split_first().ok_or("an empty datagram")?;
    if psdu.len() < 3 {
        return Err("a PSDU shorter than a frame and its FCS");
    }
    if psdu.len() > 127 {
        return Err("a PSDU longer than 127 octets (aMaxPhyPacketSize)");
    }
    let mac = &psdu[..psdu.len() - 2];
    Ok((
        channel,
        mac,
        weft_mesh::thread::mac::fcs::check(psdu).is_ok(),
    ))
}

#[cfg(test)]
mod tests;
