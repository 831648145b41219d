use super::*;
use crate::thread::mac::{ExtAddress, KeyIdentifier, SecurityLevel, HT2, PAYLOAD_TERMINATION};
use proptest::prelude::*;

#[test]
fn thread_mle_multicast_frame() {
    // A 2003 data frame as Thread sends MLE to ff02::1: PAN ID compression, broadcast short
    // destination, extended source (frame control 0xc841).
    let b = hex::decode("41c8a5cdabffff0807060504030201deadbeef").unwrap();
    let f = Frame::parse(&b).unwrap();
    assert_eq!(f.frame_type, FrameType::Data);
    assert_eq!(f.version, FrameVersion::V2003);
    assert!(f.pan_id_compression);
    assert_eq!(f.sequence_number, Some(0xa5));
    assert_eq!(f.dst_pan, Some(0xabcd));
    assert_eq!(f.dst, Address::Short(0xffff));
    assert_eq!(f.src_pan, None);
    assert_eq!(f.effective_src_pan(), Some(0xabcd));
    assert_eq!(
        f.src,
        Address::Extended(ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]))
    );
    assert_eq!(
        f.body,
        Body::Open {
            payload_ies: vec![],
            payload: vec![0xde, 0xad, 0xbe, 0xef]
        }
    );
    assert_eq!(f.to_vec(), b);
}

#[test]
fn imm_ack() {
    let f = Frame::parse(&[0x02, 0x00, 0x42]).unwrap();
    assert_eq!(f.frame_type, FrameType::Ack);
    assert_eq!(f.sequence_number, Some(0x42));
    assert_eq!(f.dst, Address::None);
    assert_eq!(f.to_vec(), [0x02, 0x00, 0x42]);
}

#[test]
fn pan_id_compression_table_7_2() {
    use AddressMode::{Extended as E, None as N, Short as S};
    let v = FrameVersion::V2015;
    // Rows of 802.15.4-2015 table 7-2: (dst, src, compression) -> (dst PAN, src PAN).
    let rows = [
        (N, N, false, (false, false)),
        (N, N, true, (true, false)),
        (S, N, false, (true, false)),
        (E, N, false, (true, false)),
        (S, N, true, (false, false)),
        (E, N, true, (false, false)),
        (N, S, false, (false, true)),
        (N, E, false, (false, true)),
        (N, S, true, (false, false)),
        (N, E, true, (false, false)),
        (E, E, false, (true, false)),
        (E, E, true, (false, false)),
        (S, S, false, (true, true)),
        (S, E, false, (true, true)),
        (E, S, false, (true, true)),
        (S, E, true, (true, false)),
        (E, S, true, (true, false)),
        (S, S, true, (true, false)),
    ];
    for (d, s, c, want) in rows {
        assert_eq!(Frame::pan_ids_present(v, d, s, c), want, "{d:?} {s:?} {c}");
    }
    // 2006: both addresses with compression elide the source PAN only.
    assert_eq!(
        Frame::pan_ids_present(FrameVersion::V2006, E, E, true),
        (true, false)
    );
    assert_eq!(
        Frame::pan_ids_present(FrameVersion::V2006, E, E, false),
        (true, true)
    );
}

#[test]
fn enhanced_ack_with_csl_ie_and_seq_suppressed() {
    // 2015 Enh-Ack: seq suppressed, IE present, short dst with PAN, no src, a CSL IE and no
    // payload (so no termination IE is needed).
    let f = Frame {
        frame_type: FrameType::Ack,
        version: FrameVersion::V2015,
        frame_pending: false,
        ack_request: false,
        pan_id_compression: false,
        sequence_number: None,
        dst_pan: Some(0x1234),
        dst: Address::Short(0x0400),
        src_pan: None,
        src: Address::None,
        security: None,
        header_ies: vec![HeaderIe {
            id: 0x1a,
            content: vec![0x10, 0x00, 0x64, 0x00],
        }],
        body: Body::Open {
            payload_ies: vec![],
            payload: vec![],
        },
    };
    let b = f.to_vec();
    assert_eq!(b.len(), 2 + 2 + 2 + 2 + 4);
    assert_eq!(Frame::parse(&b).unwrap(), f);
}

#[test]
fn refusals_have_reasons() {
    for (bytes, what) in [
        (&[0x04u8, 0x00, 0x00][..], "reserved"),
        (&[0x05, 0x00, 0x00][..], "multipurpose"),
        (&[0x06, 0x00, 0x00][..], "Frak"),
        (&[0x07, 0x00, 0x00][..], "extended"),
        (&[0x01, 0x30, 0x00][..], "frame version"),
        (&[0x81, 0x00, 0x00][..], "bit 7"),
        (&[0x01, 0x04, 0x00][..], "destination addressing"),
        (&[0x01, 0x40, 0x00][..], "source addressing"),
        (&[0x01, 0x01, 0x00][..], "reserved before"),
        (&[0x09, 0x00, 0x00][..], "2003"),
    ] {
        match Frame::parse(bytes) {
            Err(Error::Invalid { field, .. }) => assert!(field.contains(what), "{field}"),
            other => panic!("{bytes:02x?}: {other:?}"),
        }
    }
    // A secured 2006 frame too short for its MIC.
    assert!(matches!(
        Frame::parse(&[0x09, 0x10, 0x01, 0x06, 0, 0, 0, 0, 0xaa]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        Frame::parse(&[0x01]),
        Err(Error::Truncated { .. })
    ));
}

fn address(mode: u8) -> BoxedStrategy<Address> {
    match mode {
        0 => Just(Address::None).boxed(),
        1 => any::<u16>().prop_map(Address::Short).boxed(),
        _ => any::<[u8; 8]>()
            .prop_map(|a| Address::Extended(ExtAddress(a)))
            .boxed(),
    }
}

fn aux_header() -> impl Strategy<Value = AuxSecurityHeader> {
    (
        0u8..8,
        prop_oneof![
            Just(KeyIdentifier::Implicit),
            any::<u8>().prop_map(KeyIdentifier::Index),
            (any::<[u8; 4]>(), any::<u8>())
                .prop_map(|(source, index)| KeyIdentifier::Source4 { source, index }),
            (any::<[u8; 8]>(), any::<u8>())
                .prop_map(|(source, index)| KeyIdentifier::Source8 { source, index }),
        ],
        proptest::option::of(any::<u32>()),
        any::<bool>(),
    )
        .prop_map(
            |(l, key_id, frame_counter, asn_in_nonce)| AuxSecurityHeader {
                level: SecurityLevel::new(l),
                key_id,
                frame_counter,
                asn_in_nonce,
            },
        )
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Any frame that the parser could produce.
pub(crate) fn frame() -> impl Strategy<Value = Frame> {
    (
        (0u8..4, 0u8..3, 0u8..3, 0u8..3, any::<bool>()),
        (any::<[bool; 3]>(), any::<u8>(), any::<[u16; 2]>()),
    )
        .prop_flat_map(|((ft, ver, dm, sm, seq_sup), flags)| {
            let version = [
                FrameVersion::V2003,
                FrameVersion::V2006,
                FrameVersion::V2015,
            ][ver as usize];
            let frame_type = [
                FrameType::Beacon,
                FrameType::Data,
                FrameType::Ack,
                FrameType::MacCommand,
            ][ft as usize];
            let v2015 = version == FrameVersion::V2015;
            let security = if version >= FrameVersion::V2006 {
                proptest::option::of(aux_header()).boxed()
            } else {
                Just(None).boxed()
            };
            // Header IEs: none, or non-terminating ones then an optional HT1/HT2.
            let ies = if v2015 {
                (
                    proptest::collection::vec(
                        ((0u8..=0x7d).prop_filter("no HT", |i| *i != 0x7e), bytes(6))
                            .prop_map(|(id, content)| HeaderIe { id, content }),
                        0..3,
                    ),
                    0u8..3,
                )
                    .boxed()
            } else {
                Just((vec![], 0u8)).boxed()
            };
            (
                Just((frame_type, version, seq_sup && v2015, flags)),
                address(dm),
                address(sm),
                security,
                ies,
                proptest::collection::vec(
                    (0u8..0x0f, bytes(6))
                        .prop_map(|(group_id, content)| PayloadIe { group_id, content }),
                    0..3,
                ),
                bytes(20),
                any::<bool>(),
            )
        })
        .prop_map(
            |(
                (frame_type, version, seq_sup, (fl, seq, pans)),
                dst,
                src,
                security,
                (mut header_ies, term),
                mut payload_ies,
                mut payload,
                pt,
            )| {
                match term {
                    1 => header_ies.push(HeaderIe {
                        id: HT1,
                        content: vec![],
                    }),
                    2 => header_ies.push(HeaderIe {
                        id: HT2,
                        content: vec![],
                    }),
                    _ => {}
                }
                let terminated = header_ies.last().is_some_and(HeaderIe::is_termination);
                let ht1 = header_ies.last().is_some_and(|i| i.id == HT1);
                // Without a termination IE, header IEs run to the end of the frame.
                if !header_ies.is_empty() && !terminated {
                    payload.clear();
                }
                let body = match security {
                    Some(s) => Body::Secured {
                        data: payload,
                        mic: vec![0x5a; s.level.mic_len()],
                    },
                    None => {
                        if !ht1 {
                            payload_ies.clear();
                        } else if pt || !payload.is_empty() {
                            payload_ies.push(PayloadIe {
                                group_id: PAYLOAD_TERMINATION,
                                content: vec![],
                            });
                        }
                        Body::Open {
                            payload_ies,
                            payload,
                        }
                    }
                };
                let (dp, sp) = Frame::pan_ids_present(version, dst.mode(), src.mode(), fl[2]);
                Frame {
                    frame_type,
                    version,
                    frame_pending: fl[0],
                    ack_request: fl[1],
                    pan_id_compression: fl[2],
                    sequence_number: (!seq_sup).then_some(seq),
                    dst_pan: dp.then_some(pans[0]),
                    dst,
                    src_pan: sp.then_some(pans[1]),
                    src,
                    security,
                    header_ies,
                    body,
                }
            },
        )
}

proptest! {
    #[test]
    fn round_trip(f in frame()) {
        let b = f.to_vec();
        prop_assert_eq!(b.len(), f.buffer_len());
        prop_assert_eq!(Frame::parse(&b).unwrap(), f);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        crate::thread::mac::fuzz_parse(&b);
        // A 2006 data frame header with security enabled in front of random octets.
        crate::thread::mac::fuzz_parse(&[&[0x09u8, 0xd0, 1, 0xcd, 0xab][..], &b].concat());
        if let Ok(f) = Frame::parse(&b) {
            prop_assert_eq!(f.to_vec(), b);
        }
    }

    #[test]
    fn aux_header_round_trip(h in aux_header()) {
        prop_assert_eq!(AuxSecurityHeader::parse(&h.to_vec()).unwrap(), h);
    }
}
