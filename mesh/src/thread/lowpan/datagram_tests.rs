use super::*;
use crate::thread::lowpan::Context;
use crate::thread::mac::ExtAddress;
use proptest::prelude::*;

const MAC: ExtAddress = ExtAddress([0x00, 0x35, 0xcc, 0x94, 0xd7, 0x7a, 0x07, 0xe8]);

fn ll_ext() -> LinkAddresses {
    LinkAddresses {
        src: Address::Extended(MAC),
        dst: Address::Short(0xffff),
    }
}

fn mesh_local() -> Contexts {
    Contexts::new().with(0, Context::new("fd00:db8::".parse().unwrap(), 64))
}

fn udp_packet(src: &str, dst: &str, hop: u8, payload: &[u8]) -> Vec<u8> {
    let (s, d): (Ipv6Addr, Ipv6Addr) = (src.parse().unwrap(), dst.parse().unwrap());
    let mut p = vec![0u8; 48];
    Ipv6Header {
        traffic_class: 0,
        flow_label: 0,
        payload_len: (8 + payload.len()) as u16,
        next_header: UDP,
        hop_limit: hop,
        src: s,
        dst: d,
    }
    .emit(&mut p);
    p[40..42].copy_from_slice(&19788u16.to_be_bytes());
    p[42..44].copy_from_slice(&19788u16.to_be_bytes());
    p[44..46].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(payload);
    let c = udp_checksum(&p[8..40], &p[40..]);
    p[46..48].copy_from_slice(&c.to_be_bytes());
    p
}

#[test]
fn mle_multicast_compresses_as_thread_sends_it() {
    // fe80::235:cc94:d77a:7e8 (from the extended MAC, U/L bit inverted) to ff02::1, hop limit
    // 255, UDP 19788 -> 19788: IPHC 7f 3b, DAM=11 in-line 01, UDP NHC f0 with both ports.
    let p = udp_packet("fe80::235:cc94:d77a:7e8", "ff02::1", 255, b"mle");
    let c = compress(&p, &ll_ext(), &Contexts::new()).unwrap();
    assert_eq!(&c[..8], &[0x7f, 0x3b, 0x01, 0xf0, 0x4d, 0x4c, 0x4d, 0x4c]);
    assert_eq!(c.len(), 8 + 2 + 3);
    assert_eq!(decompress(&c, &ll_ext(), &Contexts::new()).unwrap(), p);
}

#[test]
fn context_16_bit_address_has_its_ff_fe00_middle() {
    // SAC=1 SAM=10 (in-line 0x0800), DAC=1 DAM=11 (from the short destination 0x0400),
    // hop limit 64, next header 58 in-line (ICMPv6).
    let b = [0x7a, 0x67, 58, 0x08, 0x00, 0xaa];
    let ll = LinkAddresses {
        src: Address::Short(0x0800),
        dst: Address::Short(0x0400),
    };
    let p = decompress(&b, &ll, &mesh_local()).unwrap();
    let ip = Ipv6Header::parse(&p).unwrap();
    assert_eq!(ip.src, "fd00:db8::ff:fe00:800".parse::<Ipv6Addr>().unwrap());
    assert_eq!(ip.dst, "fd00:db8::ff:fe00:400".parse::<Ipv6Addr>().unwrap());
    assert_eq!((ip.next_header, ip.hop_limit, ip.payload_len), (58, 64, 1));
    // Compressing gives both addresses fully elided (SAM=DAM=11) from the short MACs.
    let c = compress(&p, &ll, &mesh_local()).unwrap();
    assert_eq!(&c[..3], &[0x7a, 0x77, 58]);
    assert_eq!(decompress(&c, &ll, &mesh_local()).unwrap(), p);
    // Without the context it cannot be decompressed.
    assert!(matches!(
        decompress(&b, &ll, &Contexts::new()),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn elided_udp_checksum_is_recomputed() {
    let p = udp_packet("fe80::235:cc94:d77a:7e8", "ff02::2", 255, b"abc");
    // IPHC, then UDP NHC with C = 1 and both ports in-line.
    let b = [
        &[0x7f, 0x3b, 0x02, 0xf4, 0x4d, 0x4c, 0x4d, 0x4c][..],
        b"abc",
    ]
    .concat();
    assert_eq!(decompress(&b, &ll_ext(), &Contexts::new()).unwrap(), p);
}

#[test]
fn hop_by_hop_padding_is_restored() {
    // A Hop-by-Hop header holding one 4-octet option (type 0x6d, as MPL's) whose trailing
    // padding to 8 octets was elided, then UDP.
    let b = [
        0x7f, 0x3b, 0x03, // IPHC to ff02::3
        0xe1, 0x06, 0x6d, 0x04, 0x40, 0x00, 0x04, 0x00, // HBH NHC, NH=1, 6 octets of data
        0xf0, 0x4d, 0x4c, 0x4d, 0x4c, 0x00, 0x00, // UDP
    ];
    let p = decompress(&b, &ll_ext(), &Contexts::new()).unwrap();
    assert_eq!(p[6], 0); // Hop-by-Hop
    assert_eq!(&p[40..48], &[UDP, 0, 0x6d, 0x04, 0x40, 0x00, 0x04, 0x00]);
    assert_eq!(u16::from_be_bytes([p[4], p[5]]), 16);
    let c = compress(&p, &ll_ext(), &Contexts::new()).unwrap();
    assert_eq!(decompress(&c, &ll_ext(), &Contexts::new()).unwrap(), p);
}

#[test]
fn trailing_padn_is_elided_and_restored() {
    // A Hop-by-Hop header: one 2-octet option (type 0x6d) then a PadN of 2 to 8 octets, then
    // ICMPv6. The compressor drops the PadN (RFC 6282 §4.2); the decompressor puts it back.
    let ext = [58, 0, 0x6d, 0x02, 0xaa, 0xbb, 0x01, 0x00];
    let mut p = vec![0u8; 40];
    Ipv6Header {
        traffic_class: 0,
        flow_label: 0,
        payload_len: 9,
        next_header: 0,
        hop_limit: 64,
        src: "fe80::235:cc94:d77a:7e8".parse().unwrap(),
        dst: "ff02::1".parse().unwrap(),
    }
    .emit(&mut p);
    p.extend_from_slice(&ext);
    p.push(0x80);
    let c = compress(&p, &ll_ext(), &Contexts::new()).unwrap();
    // IPHC (3), then NHC e0, next header 58, length 4, the option only, then the payload.
    assert_eq!(&c[3..], &[0xe0, 58, 4, 0x6d, 0x02, 0xaa, 0xbb, 0x80]);
    assert_eq!(decompress(&c, &ll_ext(), &Contexts::new()).unwrap(), p);
    // A PadN with non-zero content is not elided: it would not come back the same.
    let mut q = p.clone();
    q[47] = 0x01;
    let c = compress(&q, &ll_ext(), &Contexts::new()).unwrap();
    assert_eq!(c[5], 6);
    assert_eq!(decompress(&c, &ll_ext(), &Contexts::new()).unwrap(), q);
}

#[test]
fn unicast_prefix_based_multicast_uses_the_context() {
    // ff32:0040:fd00:db8:0:0:0:1 carries the mesh-local prefix (RFC 3306): DAC=1, DAM=00,
    // in-line ff's flags/scope octet, its reserved octet and the 32-bit group ID.
    let ll = LinkAddresses {
        src: Address::Short(0x0400),
        dst: Address::Short(0xffff),
    };
    let mut p = vec![0u8; 40];
    Ipv6Header {
        traffic_class: 0,
        flow_label: 0,
        payload_len: 0,
        next_header: 59,
        hop_limit: 64,
        src: "fd00:db8::ff:fe00:400".parse().unwrap(),
        dst: "ff32:40:fd00:db8::1".parse().unwrap(),
    }
    .emit(&mut p);
    let c = compress(&p, &ll, &mesh_local()).unwrap();
    assert_eq!(c, [0x7a, 0x7c, 59, 0x32, 0x00, 0, 0, 0, 1]);
    assert_eq!(decompress(&c, &ll, &mesh_local()).unwrap(), p);
}

#[test]
fn uncompressed_dispatch() {
    let p = udp_packet("fe80::1", "fe80::2", 3, b"");
    let b = [&[IPV6_DISPATCH][..], &p].concat();
    assert_eq!(decompress(&b, &ll_ext(), &Contexts::new()).unwrap(), p);
    // A payload length that disagrees with the size (found by the random-input test).
    let mut bad = b.clone();
    bad[5] = 0xff;
    assert!(matches!(
        decompress(&bad, &ll_ext(), &Contexts::new()),
        Err(Error::Invalid { .. })
    ));
}

fn addr() -> impl Strategy<Value = [u8; 16]> {
    prop_oneof![
        any::<[u8; 16]>(),
        any::<[u8; 8]>().prop_map(|i| with_iid(LINK_LOCAL, i)),
        any::<u16>().prop_map(|s| with_iid(LINK_LOCAL, short_iid(s))),
        any::<u16>().prop_map(|s| with_iid([0xfd, 0, 0x0d, 0xb8, 0, 0, 0, 0], short_iid(s))),
        Just(with_iid(
            LINK_LOCAL,
            iid_from_link(&Address::Extended(MAC)).unwrap()
        )),
        Just(with_iid(
            [0xfd, 0, 0x0d, 0xb8, 0, 0, 0, 0],
            short_iid(0x0400)
        )),
        (any::<u8>(), any::<u8>()).prop_map(|(s, g)| {
            let mut a = [0u8; 16];
            a[0] = 0xff;
            a[1] = s;
            a[15] = g;
            a
        }),
        Just([0u8; 16]),
    ]
}

fn packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        0u32..0x100000,
        any::<u8>(),
        addr(),
        addr(),
        0u8..4,
        proptest::collection::vec(any::<u8>(), 0..30),
        any::<[u16; 3]>(),
    )
        .prop_map(|(tc, fl, hop, src, dst, shape, payload, ports)| {
            let mut body = Vec::new();
            let nh = match shape {
                // UDP
                0 | 1 => {
                    if shape == 1 {
                        // Hop-by-Hop with a PadN to 8 octets, then UDP.
                        body.extend_from_slice(&[UDP, 0, 1, 4, 0, 0, 0, 0]);
                    }
                    let l = (8 + payload.len()) as u16;
                    for v in [ports[0], ports[1], l, ports[2]] {
                        body.extend_from_slice(&v.to_be_bytes());
                    }
                    if shape == 1 {
                        0
                    } else {
                        UDP
                    }
                }
                // ICMPv6, not compressed
                2 => 58,
                // a Destination Options header then no next header (59)
                _ => {
                    body.extend_from_slice(&[59, 0, 1, 4, 0, 0, 0, 0]);
                    60
                }
            };
            body.extend_from_slice(&payload);
            let mut p = vec![0u8; 40];
            Ipv6Header {
                traffic_class: tc,
                flow_label: fl,
                payload_len: body.len() as u16,
                next_header: nh,
                hop_limit: hop,
                src: src.into(),
                dst: dst.into(),
            }
            .emit(&mut p);
            p.extend_from_slice(&body);
            p
        })
}

fn iphc() -> impl Strategy<Value = Iphc> {
    (
        (0u8..4, 0u8..4, 0u8..64, 0u32..0x100000),
        proptest::option::of(any::<u8>()),
        any::<u8>(),
        proptest::option::of((0u8..16, 0u8..16)),
        (any::<bool>(), 0u8..4, any::<bool>(), any::<bool>(), 0u8..4),
        any::<[u8; 16]>(),
    )
        .prop_filter_map(
            "reserved destination mode",
            |(tf, nh, hl, cid, (sac, sam, m, dac, dam), a)| {
                let dlen = super::super::iphc::dst_inline_len(m, dac, dam)?;
                let slen = super::super::iphc::src_inline_len(sac, sam);
                let (t, ecn, dscp, flow_label) = tf;
                Some(Iphc {
                    traffic_flow: match t {
                        0 => TrafficFlow::Inline {
                            ecn,
                            dscp,
                            flow_label,
                        },
                        1 => TrafficFlow::EcnFlow { ecn, flow_label },
                        2 => TrafficFlow::EcnDscp { ecn, dscp },
                        _ => TrafficFlow::Elided,
                    },
                    next_header: nh,
                    hop_limit: if hl % 2 == 0 {
                        HopLimit::Inline(hl)
                    } else {
                        HopLimit::compress(hl)
                    },
                    context_ids: cid,
                    sac,
                    sam,
                    src_inline: a[..slen].to_vec(),
                    multicast: m,
                    dac,
                    dam,
                    dst_inline: a[16 - dlen..].to_vec(),
                })
            },
        )
}

proptest! {
    #[test]
    fn iphc_round_trip(h in iphc()) {
        prop_assert_eq!(Iphc::parse(&h.to_vec()).unwrap(), h);
    }

    #[test]
    fn compress_then_decompress(p in packet(), short_src in any::<bool>()) {
        let ll = LinkAddresses {
            src: if short_src { Address::Short(0x0400) } else { Address::Extended(MAC) },
            dst: Address::Short(0x0400),
        };
        let c = compress(&p, &ll, &mesh_local()).unwrap();
        prop_assert!(c.len() <= p.len() + 8);
        prop_assert_eq!(decompress(&c, &ll, &mesh_local()).unwrap(), p);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = decompress(&b, &ll_ext(), &mesh_local());
        let _ = compress(&b, &ll_ext(), &mesh_local());
        if let Ok(h) = Iphc::parse(&b) {
            prop_assert_eq!(Iphc::parse(&h.to_vec()).unwrap(), h);
        }
    }
}
