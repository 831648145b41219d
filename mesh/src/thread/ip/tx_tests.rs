use super::*;
use crate::thread::ip::addr::{link_local, rloc, with_iid};
use crate::thread::ip::icmpv6::{echo_datagram, Echo};
use crate::thread::ip::udp::udp_datagram;
use crate::thread::lowpan::{decompress, Context, LowpanFrame, Reassembler, ReassemblyLimits};
use crate::thread::mac::{Address, ExtAddress};
use crate::time::Instant;
use proptest::prelude::*;
use std::net::{Ipv6Addr, SocketAddrV6};

const ML: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0, 0];

fn ctx() -> Contexts {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&ML);
    Contexts::new().with(0, Context::new(Ipv6Addr::from(p), 64))
}

/// The receive side: each payload through the 6LoWPAN header parser, then decompression or
/// the reassembler, as a receiving node does.
fn receive(frames: &[Vec<u8>], ll: &LinkAddresses) -> Vec<Vec<u8>> {
    let mut r = Reassembler::new(ReassemblyLimits::default());
    let mut out = Vec::new();
    for f in frames {
        let (mesh, frag, at) = LowpanFrame::parse_headers(f).unwrap();
        let ll = match mesh {
            Some(m) => LinkAddresses {
                src: m.originator,
                dst: m.final_destination,
            },
            None => *ll,
        };
        match frag {
            None => out.push(decompress(&f[at..], &ll, &ctx()).unwrap()),
            Some(h) => {
                if let Some(d) = r.push(Instant::ZERO, &ll, &ctx(), h, &f[at..]).unwrap() {
                    out.push(d);
                }
            }
        }
    }
    out
}

fn link(mesh: bool, max_payload: usize) -> LinkTx {
    let ll = LinkAddresses {
        src: Address::Extended(ExtAddress([1, 2, 3, 4, 5, 6, 7, 8])),
        dst: Address::Short(0x0400),
    };
    LinkTx {
        ll,
        mesh: mesh.then_some(MeshHeader {
            hops_left: 5,
            originator: Address::Short(0x0c00),
            final_destination: Address::Short(0x1001),
        }),
        max_payload,
    }
}

#[test]
fn small_datagram_is_one_frame_and_large_ones_fragment() {
    let src = SocketAddrV6::new(rloc(ML, 0x0c00), 5683, 0, 0);
    let dst = SocketAddrV6::new(rloc(ML, 0x1001), 5683, 0, 0);
    let mut f = Fragmenter::new(0xfffe);
    let l = link(false, 100);
    let small = udp_datagram(src, dst, 64, b"hi");
    let frames = f.frame_payloads(&small, &ctx(), &l).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(receive(&frames, &l.ll), [small]);

    let big = udp_datagram(src, dst, 64, &[0x5a; 300]);
    let frames = f.frame_payloads(&big, &ctx(), &l).unwrap();
    assert!(frames.len() >= 4);
    assert!(frames.iter().all(|p| p.len() <= 100));
    // FRAG1 then FRAGNs, one tag; the tag wraps for the next datagram.
    assert_eq!(frames[0][0] >> 3, 0b11000);
    assert!(frames[1..].iter().all(|p| p[0] >> 3 == 0b11100));
    assert!(frames.iter().all(|p| p[2..4] == [0xff, 0xfe]));
    assert_eq!(receive(&frames, &l.ll), std::slice::from_ref(&big));
    let again = f.frame_payloads(&big, &ctx(), &l).unwrap();
    assert_eq!(again[0][2..4], [0xff, 0xff]);
    assert_eq!(
        f.stats(),
        TxStats {
            datagrams: 3,
            fragmented: 2,
            frames: 1 + 2 * frames.len() as u64
        }
    );

    // With a mesh header on every fragment; IPHC against the mesh addresses.
    let lm = link(true, 90);
    let frames = f.frame_payloads(&big, &ctx(), &lm).unwrap();
    assert!(frames.iter().all(|p| p[0] >> 6 == 0b10 && p.len() <= 90));
    assert_eq!(receive(&frames, &lm.ll), [big]);
}

#[test]
fn errors_are_told() {
    let a = with_iid(ML, [7; 8]);
    let mut f = Fragmenter::new(1);
    let huge = udp_datagram(
        SocketAddrV6::new(a, 1, 0, 0),
        SocketAddrV6::new(a, 2, 0, 0),
        64,
        &[0; 2100],
    );
    assert!(matches!(
        f.frame_payloads(&huge, &ctx(), &link(false, 100)),
        Err(TxError::TooLarge(_))
    ));
    let d = udp_datagram(
        SocketAddrV6::new(a, 1, 0, 0),
        SocketAddrV6::new(a, 2, 0, 0),
        64,
        &[0; 100],
    );
    assert!(matches!(
        f.frame_payloads(&d, &ctx(), &link(true, 20)),
        Err(TxError::NoRoom { .. })
    ));
    assert!(matches!(
        f.frame_payloads(&[0x60, 0, 0], &ctx(), &link(false, 100)),
        Err(TxError::Compress(_))
    ));
    assert_eq!(room(23, 4), 127 - 23 - 4 - 2);
}

fn addr() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<u16>().prop_map(|r| rloc(ML, r)),
        any::<[u8; 8]>().prop_map(|i| with_iid(ML, i)),
        any::<[u8; 8]>().prop_map(|e| link_local(ExtAddress(e))),
        Just("ff03::1".parse().unwrap()),
        any::<[u8; 16]>().prop_map(Ipv6Addr::from),
    ]
}

proptest! {
    #[test]
    fn every_datagram_comes_back_through_the_receive_side(
        src in addr(), dst in addr(), sp in 1u16.., dp in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..1200),
        icmp in any::<bool>(), mesh in any::<bool>(), max in 60usize..=110,
        tag in any::<u16>(),
    ) {
        let d = if icmp {
            echo_datagram(src, dst, 64, &Echo { reply: false, identifier: sp, sequence: dp, data: payload })
        } else {
            udp_datagram(SocketAddrV6::new(src, sp, 0, 0), SocketAddrV6::new(dst, dp, 0, 0), 255, &payload)
        };
        let l = link(mesh, max);
        let frames = Fragmenter::new(tag).frame_payloads(&d, &ctx(), &l).unwrap();
        prop_assert!(frames.iter().all(|p| p.len() <= max));
        prop_assert_eq!(receive(&frames, &l.ll), vec![d]);
    }
}
