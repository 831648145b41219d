use super::*;
use proptest::prelude::*;

fn tlv() -> impl Strategy<Value = Tlv> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..20);
    let ts = || {
        (0u64..1 << 48, 0u16..0x8000, any::<bool>()).prop_map(|(seconds, ticks, authoritative)| {
            Timestamp {
                seconds,
                ticks,
                authoritative,
            }
        })
    };
    prop_oneof![
        any::<u16>().prop_map(Tlv::SourceAddress),
        any::<u8>().prop_map(Tlv::Mode),
        any::<u32>().prop_map(Tlv::Timeout),
        bytes().prop_map(Tlv::Challenge),
        bytes().prop_map(Tlv::Response),
        any::<u32>().prop_map(Tlv::LinkFrameCounter),
        any::<u32>().prop_map(Tlv::MleFrameCounter),
        (any::<u8>(), any::<[u8; 8]>(), bytes()).prop_map(
            |(id_sequence, router_mask, route_data)| {
                Tlv::Route64(Route64 {
                    id_sequence,
                    router_mask,
                    route_data,
                })
            }
        ),
        any::<u16>().prop_map(Tlv::Address16),
        (any::<u32>(), any::<[u8; 4]>()).prop_map(|(p, b)| Tlv::LeaderData(LeaderData {
            partition_id: p,
            weighting: b[0],
            data_version: b[1],
            stable_data_version: b[2],
            leader_router_id: b[3],
        })),
        bytes().prop_map(Tlv::NetworkData),
        bytes().prop_map(Tlv::TlvRequest),
        any::<u8>().prop_map(Tlv::ScanMask),
        (
            any::<[u8; 7]>(),
            proptest::option::of((any::<u16>(), any::<u8>()))
        )
            .prop_map(|(b, sed)| {
                Tlv::Connectivity(Connectivity {
                    flags: b[0],
                    link_quality_3: b[1],
                    link_quality_2: b[2],
                    link_quality_1: b[3],
                    leader_cost: b[4],
                    id_sequence: b[5],
                    active_routers: b[6],
                    sed,
                })
            }),
        any::<u8>().prop_map(Tlv::LinkMargin),
        any::<u8>().prop_map(Tlv::Status),
        any::<u16>().prop_map(Tlv::Version),
        ts().prop_map(Tlv::ActiveTimestamp),
        ts().prop_map(Tlv::PendingTimestamp),
        bytes().prop_map(Tlv::ActiveDataset),
        bytes().prop_map(Tlv::PendingDataset),
        (any::<u8>(), any::<u16>()).prop_map(|(page, channel)| Tlv::CslChannel { page, channel }),
        any::<u32>().prop_map(Tlv::CslSyncTimeout),
        (any::<u8>(), any::<u8>()).prop_map(|(accuracy, uncertainty)| Tlv::CslClockAccuracy {
            accuracy,
            uncertainty
        }),
        (26u8..80, bytes()).prop_map(|(tlv_type, value)| Tlv::Unknown { tlv_type, value }),
    ]
}

fn payload() -> impl Strategy<Value = MlePayload> {
    (any::<u8>(), proptest::collection::vec(tlv(), 0..6))
        .prop_map(|(command, tlvs)| MlePayload { command, tlvs })
}

proptest! {
    #[test]
    fn tlv_round_trip(t in tlv()) {
        prop_assert_eq!(Tlv::parse(&t.to_vec()).unwrap(), t);
    }

    #[test]
    fn seal_then_open(p in payload(), seq in 1u32..1000, fc in any::<u32>()) {
        let src: Ipv6Addr = "fe80::235:cc94:d77a:7e8".parse().unwrap();
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        let sender = ThreadKeys::derive(&[5; 16], seq);
        let m = seal(&p, &sender, fc, &src, &dst);
        let air = m.to_vec();
        let back = MleMessage::parse(&air).unwrap();
        prop_assert_eq!(&back, &m);
        let mut keys = KeyManager::new([5; 16], seq - 1);
        let o = open(&back, &mut keys, &src, &dst).unwrap();
        prop_assert_eq!(o.payload, p);
        prop_assert_eq!(o.key_sequence, Some(seq));
        prop_assert_eq!(keys.key_sequence(), seq);
        // Another destination (so another a data) fails.
        let other: Ipv6Addr = "ff02::2".parse().unwrap();
        prop_assert!(open(&back, &mut keys, &src, &other).is_err());
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..60)) {
        if let Ok(m) = MleMessage::parse(&b) {
            prop_assert_eq!(&MleMessage::parse(&m.to_vec()).unwrap(), &m);
            let mut keys = KeyManager::new([0; 16], 0);
            let _ = open(&m, &mut keys, &Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST);
        }
        fuzz_parse(&b);
        // A secured header in front of random octets.
        fuzz_parse(&[&[0u8, 0x15, 1, 0, 0, 0, 0, 0, 0, 0, 1][..], &b].concat());
        if let Ok(p) = MlePayload::parse(&b) {
            prop_assert_eq!(MlePayload::parse(&p.to_vec()).unwrap(), p);
        }
    }
}

#[test]
fn wrong_lengths_and_suites_are_refused() {
    // Source Address with 3 octets.
    assert!(matches!(
        parse_tlvs(&[0, 3, 1, 2, 3]),
        Err(Error::Invalid { .. })
    ));
    // Length past the end.
    assert!(matches!(
        parse_tlvs(&[0, 2, 1]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        MleMessage::parse(&[7, 1, 2]),
        Err(Error::Invalid { .. })
    ));
    // A secured message with no room for its MIC.
    assert!(MleMessage::parse(&[0, 0x15, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa]).is_err());
    // An unknown TLV is kept.
    assert_eq!(
        parse_tlvs(&[200, 1, 9]).unwrap(),
        vec![Tlv::Unknown {
            tlv_type: 200,
            value: vec![9]
        }]
    );
}

#[test]
fn route64_entries() {
    // Routers 1 and 63; entries: LQ out 2, LQ in 3, cost 4; then LQ out 0, LQ in 1, cost 15.
    let mut mask = [0u8; 8];
    mask[0] = 0x40;
    mask[7] = 0x01;
    let r = Route64 {
        id_sequence: 7,
        router_mask: mask,
        route_data: vec![0b1011_0100, 0b0001_1111],
    };
    assert_eq!(r.router_ids(), vec![1, 63]);
    assert_eq!(r.entries(), Some(vec![(1, 2, 3, 4), (63, 0, 1, 15)]));
    let short = Route64 {
        route_data: vec![0],
        ..r
    };
    assert_eq!(short.entries(), None);
}
