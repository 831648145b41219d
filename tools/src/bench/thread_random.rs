//! `weft bench thread --random N`: N frames of bad and unexpected input through the Thread
//! decoder and the topology builder, with the process's resident set size (VmRSS of
//! /proc/self/status) at the start, the middle and the end: every table they keep is bounded
//! (learnt addresses, frame counters, reassembly, contexts, children), so the figure stays flat.
//!
//! The input, from a seeded xorshift generator: one frame in eight a valid one built afresh
//! (MLE Advertisements and Child ID Responses from new routers and children, MAC-secured data
//! from new children, first fragments with new tags, Network Data with new contexts), three
//! in eight a valid one mutated (bits flipped, cut short), the rest random octets.

use std::net::Ipv6Addr;

use serde_json::{json, Value};
use weft_mesh::thread::lowpan::Contexts;
use weft_mesh::thread::mac::{Address, ExtAddress};
use weft_mesh::thread::mle::{command, LeaderData, MlePayload, Route64, Tlv};
use weft_mesh::thread::security::{KeyManager, ThreadKeys};
use weft_mesh::thread::sniff::{
    fragmented_psdus, link_local, mle_psdu, udp_packet, DecodedFrame, Fcs, FrameSpec, ThreadSniffer,
};
use weft_mesh::thread::topology::ThreadTopology;
use weft_mesh::Instant;

const KEY: [u8; 16] = [0x31; 16];

/// xorshift64*, seeded: the same input every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The resident set size in KiB, from /proc/self/status (`None` where there is none).
pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn spec(r: &mut Rng, src: Address, src_ext: ExtAddress, secured: bool) -> FrameSpec {
    FrameSpec {
        pan_id: 0xface,
        seq: r.next() as u8,
        src,
        dst: Address::Short(0xffff),
        src_ext,
        mac_frame_counter: secured.then(|| r.next() as u32),
    }
}

/// A valid frame from a node never heard before.
fn valid(r: &mut Rng, keys: &ThreadKeys) -> Vec<u8> {
    let ext = ExtAddress(r.next().to_be_bytes());
    let router = (r.below(63) as u16) << 10;
    let rloc16 = router | r.below(512) as u16;
    let leader = Tlv::LeaderData(LeaderData {
        partition_id: r.next() as u32,
        weighting: 64,
        data_version: 1,
        stable_data_version: 1,
        leader_router_id: r.below(63) as u8,
    });
    let fc = r.next() as u32;
    let mle_spec = spec(r, Address::Extended(ext), ext, false);
    let mle = |cmd, tlvs, dst| {
        let p = MlePayload { command: cmd, tlvs };
        mle_psdu(&mle_spec, keys, fc, dst, &p)
    };
    let made = match r.below(5) {
        0 => {
            let mask = r.next().to_be_bytes();
            let n = mask.iter().map(|b| b.count_ones() as usize).sum();
            let route = Tlv::Route64(Route64 {
                id_sequence: r.next() as u8,
                router_mask: mask,
                route_data: r.bytes(n),
            });
            let tlvs = vec![Tlv::SourceAddress(router), leader, route];
            mle(command::ADVERTISEMENT, tlvs, "ff02::1".parse().unwrap())
        }
        1 => {
            let child = ExtAddress(r.next().to_be_bytes());
            let tlvs = vec![Tlv::SourceAddress(router), leader, Tlv::Address16(rloc16)];
            mle(command::CHILD_ID_RESPONSE, tlvs, link_local(child))
        }
        2 => {
            // Network Data: a /64 prefix with a 6LoWPAN Context of a random ID.
            let mut nd = vec![0x03, 0x0e, 0x00, 0x40];
            nd.extend_from_slice(&r.bytes(8));
            nd.extend_from_slice(&[0x07, 0x02, 0x10 | r.below(16) as u8, 0x40]);
            let tlvs = vec![Tlv::SourceAddress(router), leader, Tlv::NetworkData(nd)];
            mle(command::DATA_RESPONSE, tlvs, "ff02::1".parse().unwrap())
        }
        n => {
            // Secured UDP from the child, whole or its first fragment (a new tag each time).
            let ml = |x: u16| {
                let mut a = [0u8; 16];
                a[0] = 0xfd;
                a[11] = 0xff;
                a[12] = 0xfe;
                a[14..].copy_from_slice(&x.to_be_bytes());
                Ipv6Addr::from(a)
            };
            let len = if n == 3 { 20 } else { 300 };
            let packet = udp_packet(ml(rloc16), ml(router), 49152, 5683, 64, &r.bytes(len));
            let s = FrameSpec {
                dst: Address::Short(router),
                ..spec(r, Address::Short(rloc16), ext, true)
            };
            fragmented_psdus(&s, keys, &packet, &Contexts::new(), 80, r.next() as u16)
                .map(|mut v| v.swap_remove(0))
        }
    };
    made.unwrap_or_default()
}

/// Runs `n` frames through a sniffer and a topology; the RSS at the start, middle and end.
pub fn run(n: u64) -> Value {
    let keys = ThreadKeys::derive(&KEY, 0);
    let mut sniffer = ThreadSniffer::new(KeyManager::new(KEY, 0));
    let mut topology = ThreadTopology::new();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut last_valid = valid(&mut r, &keys);
    let mut report = DecodedFrame::default();
    let start = rss_kib();
    let mut middle = None;
    let t = std::time::Instant::now();
    for i in 0..n {
        if i == n / 2 {
            middle = rss_kib();
        }
        let (psdu, fcs) = match i % 8 {
            0 => {
                last_valid = valid(&mut r, &keys);
                (last_valid.clone(), Fcs::Present)
            }
            1..=3 => {
                // The FCS is dropped so that the mutation reaches the layers above the MAC.
                let mut m = last_valid[..last_valid.len().saturating_sub(2)].to_vec();
                for _ in 0..=r.below(3) {
                    if !m.is_empty() {
                        let at = r.below(m.len() as u64) as usize;
                        m[at] ^= 1 << r.below(8);
                    }
                }
                if r.below(4) == 0 {
                    m.truncate(r.below(m.len() as u64 + 1) as usize);
                }
                (m, Fcs::Absent)
            }
            _ => {
                let len = r.below(128) as usize;
                (r.bytes(len), Fcs::Absent)
            }
        };
        let now = Instant::from_micros(i * 1_000);
        sniffer.decode_into(now, &psdu, fcs, &mut report);
        topology.observe(now, &report);
    }
    let secs = t.elapsed().as_secs_f64();
    let end = rss_kib();
    let stats = sniffer.stats();
    let topo = topology.report();
    json!({
        "frames": n,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "rss_kib": {"start": start, "middle": middle, "end": end},
        "growth_second_half_kib": match (middle, end) {
            (Some(m), Some(e)) => Some(e as i64 - m as i64),
            _ => None,
        },
        "decoded": stats.decoded,
        "errors": stats.frames - stats.decoded,
        "mle_messages": stats.mle_messages,
        "learnt_addresses": sniffer.neighbours_len(),
        "addresses_forgotten": stats.neighbours_dropped,
        "replays": stats.replays,
        "reassembly": format!("{:?}", sniffer.reassembly_stats()),
        "topology_routers": topo.routers.len(),
        "topology_children": topo.children.len(),
        "children_forgotten": topology.children_dropped,
    })
}
