//! Allocations of the whole-frame Thread decoder, counted by a global allocator: a sniffer
//! that is handed its last report back (`decode_into`) decodes a MAC-secured data frame
//! without allocating (but for a buffer's amortised growth), and an MLE Advertisement with a handful of allocations (the TLVs'
//! own vectors), once its buffers have grown.

// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use weft_mesh::thread::lowpan::{Context, Contexts};
use weft_mesh::thread::mac::{Address, ExtAddress};
use weft_mesh::thread::mle::{command, LeaderData, MlePayload, Route64, Tlv};
use weft_mesh::thread::security::{KeyManager, ThreadKeys};
use weft_mesh::thread::sniff::{
    data_psdu, link_local, mle_psdu, udp_packet, DecodedFrame, Fcs, FrameSpec, ThreadSniffer,
};
use weft_mesh::Instant;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const KEY: [u8; 16] = [0x5a; 16];
const ROUTER: ExtAddress = ExtAddress([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
const CHILD: ExtAddress = ExtAddress([0x5a, 0x11, 0xc0, 0xff, 0xee, 0x00, 0x40, 0x03]);
const PREFIX: [u8; 16] = [
    0xfd, 0xde, 0xad, 0, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn rloc(r: u16) -> Ipv6Addr {
    let mut a = PREFIX;
    a[11] = 0xff;
    a[12] = 0xfe;
    a[14..].copy_from_slice(&r.to_be_bytes());
    a.into()
}

fn frames() -> (Vec<u8>, Vec<u8>) {
    let keys = ThreadKeys::derive(&KEY, 0);
    let mut mask = [0u8; 8];
    mask[0] = 0xc0;
    let adv = MlePayload {
        command: command::ADVERTISEMENT,
        tlvs: vec![
            Tlv::SourceAddress(0x0400),
            Tlv::LeaderData(LeaderData {
                partition_id: 1,
                weighting: 64,
                data_version: 1,
                stable_data_version: 1,
                leader_router_id: 1,
            }),
            Tlv::Route64(Route64 {
                id_sequence: 1,
                router_mask: mask,
                route_data: vec![0x31, 0x01],
            }),
        ],
    };
    let spec = FrameSpec {
        pan_id: 0xface,
        seq: 1,
        src: Address::Extended(ROUTER),
        dst: Address::Short(0xffff),
        src_ext: ROUTER,
        mac_frame_counter: None,
    };
    let adv = mle_psdu(&spec, &keys, 7, "ff02::1".parse().unwrap(), &adv).unwrap();
    let ctx = Contexts::new().with(0, Context::new(PREFIX.into(), 64));
    let packet = udp_packet(rloc(0x0401), rloc(0x0400), 49152, 5683, 64, &[0x42; 40]);
    let spec = FrameSpec {
        src: Address::Short(0x0401),
        dst: Address::Short(0x0400),
        src_ext: CHILD,
        mac_frame_counter: Some(100),
        ..spec
    };
    let data = data_psdu(&spec, &keys, &packet, &ctx).unwrap();
    let _ = link_local(CHILD);
    (adv, data)
}

/// Allocations made decoding `psdu` 100 times into one report, after a warm-up.
fn allocs_per_frame(s: &mut ThreadSniffer, d: &mut DecodedFrame, psdu: &[u8]) -> f64 {
    for i in 0..10 {
        s.decode_into(Instant::from_micros(i), psdu, Fcs::Present, d);
    }
    assert!(d.is_ok(), "{d:?}");
    let before = ALLOCS.load(Ordering::Relaxed);
    for i in 0..100 {
        s.decode_into(Instant::from_micros(i), psdu, Fcs::Present, d);
    }
    (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 100.0
}

#[test]
fn decoding_into_a_reused_report_allocates_little() {
    let (adv, data) = frames();
    let mut s = ThreadSniffer::new(KeyManager::new(KEY, 0));
    s.set_context(0, Context::new(PREFIX.into(), 64));
    s.learn(0x0401, CHILD);
    let mut d = s.decode(Instant::ZERO, &adv, Fcs::Present);
    let a = allocs_per_frame(&mut s, &mut d, &data);
    assert!(d.security.as_ref().is_some_and(|x| x.decrypted));
    assert!(d.udp.as_ref().is_some_and(|u| u.dst_port == 5683));
    // Nothing per frame: at most the amortised growth of a buffer.
    assert!(a < 0.1, "a secured data frame: {a} allocations");
    let a = allocs_per_frame(&mut s, &mut d, &adv);
    assert_eq!(d.mle.as_ref().map(|m| m.tlvs.len()), Some(3));
    // Route64's Route Data and its entries in the report, IPHC's in-line multicast octet.
    assert!(a <= 5.0, "an MLE Advertisement: {a} allocations");
}
