//! Round trips of every 6LoWPAN header representation, and random input to the parsers and
//! the reassembler.

use super::*;
use crate::thread::mac::{Address, ExtAddress};
use crate::time::Instant;
use proptest::prelude::*;

fn link_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<u16>().prop_map(Address::Short),
        any::<[u8; 8]>().prop_map(|a| Address::Extended(ExtAddress(a))),
    ]
}

fn mesh() -> impl Strategy<Value = MeshHeader> {
    (any::<u8>(), link_address(), link_address()).prop_map(|(hops_left, o, f)| MeshHeader {
        hops_left,
        originator: o,
        final_destination: f,
    })
}

fn frag() -> impl Strategy<Value = FragHeader> {
    (0u16..0x800, any::<u16>(), proptest::option::of(any::<u8>()))
        .prop_map(|(size, tag, offset)| FragHeader { size, tag, offset })
}

proptest! {
    #[test]
    fn mesh_round_trip(m in mesh()) {
        prop_assert_eq!(MeshHeader::parse(&m.to_vec()).unwrap(), m);
    }

    #[test]
    fn frag_round_trip(f in frag()) {
        prop_assert_eq!(FragHeader::parse(&f.to_vec()).unwrap(), f);
    }

    #[test]
    fn udp_nhc_round_trip(s in any::<u16>(), d in any::<u16>(), c in proptest::option::of(any::<u16>())) {
        let u = UdpNhc::new(s, d, c);
        prop_assert_eq!(UdpNhc::parse(&u.to_vec()).unwrap(), u);
    }

    #[test]
    fn ext_nhc_round_trip(
        eid in prop_oneof![0u8..5, Just(7u8)],
        nh in proptest::option::of(any::<u8>()),
        data in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let e = if eid == 7 {
            ExtHeaderNhc { eid, next_header: None, data: vec![] }
        } else {
            ExtHeaderNhc { eid, next_header: nh, data }
        };
        prop_assert_eq!(ExtHeaderNhc::parse(&e.to_vec()).unwrap(), e);
    }

    #[test]
    fn lowpan_frame_round_trip(
        m in proptest::option::of(mesh()),
        f in proptest::option::of(frag()),
        rest in proptest::collection::vec(any::<u8>(), 1..30),
    ) {
        // What follows is an IPHC datagram or fragment data: not a mesh or fragment dispatch.
        let mut rest = rest;
        rest[0] = 0x60 | (rest[0] & 0x1f);
        let lf = LowpanFrame { mesh: m, frag: f, rest };
        prop_assert_eq!(LowpanFrame::parse(&lf.to_vec()).unwrap(), lf);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..60)) {
        // The Wire law (a Deep Hops Left under 15 re-emits in the short form, so the bytes
        // may differ).
        if let Ok(f) = LowpanFrame::parse(&b) {
            prop_assert_eq!(LowpanFrame::parse(&f.to_vec()).unwrap(), f);
        }
        let _ = MeshHeader::parse(&b);
        fuzz_parse(&b);
        let _ = UdpNhc::parse(&b);
        let _ = ExtHeaderNhc::parse(&b);
    }

    #[test]
    fn reassembler_takes_any_fragments(
        frags in proptest::collection::vec((frag(), proptest::collection::vec(any::<u8>(), 0..100), 0u64..100), 0..20),
    ) {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let ll = LinkAddresses { src: Address::Short(1), dst: Address::Short(2) };
        let ctx = Contexts::new();
        for (h, d, t) in frags {
            if let Ok(Some(dg)) = r.push(Instant::from_micros(t * 1_000_000), &ll, &ctx, h, &d) {
                prop_assert_eq!(dg.len(), h.size as usize);
            }
            prop_assert!(r.len() <= ReassemblyLimits::default().max_datagrams);
        }
    }
}
