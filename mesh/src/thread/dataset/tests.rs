use super::*;
use crate::thread::test_rng::SplitMix;
use proptest::prelude::*;

#[test]
fn fields_round_trip_in_canonical_order() {
    let mut d = ActiveDataset {
        pan_id: Some(0xface),
        network_name: Some("weft".into()),
        channel: Some(Channel {
            page: 0,
            number: 15,
        }),
        ..Default::default()
    };
    // Set fields come out in OpenThread's order: Channel, Network Name, PAN ID.
    let t = d.to_tlvs();
    assert_eq!(
        t,
        [
            &[tlv::CHANNEL, 3, 0, 0, 15][..],
            &[tlv::NETWORK_NAME, 4, b'w', b'e', b'f', b't'],
            &[tlv::PAN_ID, 2, 0xfa, 0xce],
        ]
        .concat()
    );
    let back = ActiveDataset::from_tlvs(&t).unwrap();
    assert_eq!(back.to_tlvs(), t);
    assert_eq!(back.pan_id, Some(0xface));
    // A field set after reading comes after the ones read.
    d = back;
    d.pskc = Some([7; 16]);
    assert_eq!(&d.to_tlvs()[..t.len()], &t[..]);
    assert_eq!(d.to_tlvs()[t.len()], tlv::PSKC);
}

#[test]
fn bad_tlvs_are_refused() {
    // A PAN ID of three octets; an Extended PAN ID of seven.
    assert!(ActiveDataset::from_tlvs(&[1, 3, 0, 0, 0]).is_err());
    assert!(ActiveDataset::from_tlvs(&[2, 7, 0, 0, 0, 0, 0, 0, 0]).is_err());
    // Length past the end; a lone type octet.
    assert!(matches!(
        ActiveDataset::from_tlvs(&[5, 16, 1]),
        Err(Error::Truncated { .. })
    ));
    assert!(ActiveDataset::from_tlvs(&[5]).is_err());
    // Twice the same known TLV.
    assert!(ActiveDataset::from_tlvs(&[1, 2, 0, 1, 1, 2, 0, 2]).is_err());
    // A network name of 17 octets, and one that is not UTF-8.
    let mut n = vec![3, 17];
    n.extend_from_slice(&[b'a'; 17]);
    assert!(ActiveDataset::from_tlvs(&n).is_err());
    assert!(ActiveDataset::from_tlvs(&[3, 2, 0xc3, 0x28]).is_err());
    // A Security Policy of two octets.
    assert!(ActiveDataset::from_tlvs(&[12, 2, 2, 0xa0]).is_err());
    // A channel mask entry running past its TLV.
    assert!(ActiveDataset::from_tlvs(&[53, 3, 0, 4, 0]).is_err());
    // The extended length form for a PAN ID.
    assert!(ActiveDataset::from_tlvs(&[1, 0xff, 0, 2, 0, 1]).is_err());
    // More than 254 octets.
    assert!(matches!(
        ActiveDataset::from_tlvs(&[0x80; 255]),
        Err(Error::TooLong { .. })
    ));
    // Hex errors are told apart from TLV errors.
    assert!(matches!(
        ActiveDataset::from_hex("0e0"),
        Err(DatasetHexError::Hex(_))
    ));
    assert!(matches!(
        ActiveDataset::from_hex("zz"),
        Err(DatasetHexError::Hex(_))
    ));
    assert!(matches!(
        ActiveDataset::from_hex("0103"),
        Err(DatasetHexError::Tlv(_))
    ));
}

#[test]
fn unknown_tlvs_are_kept_in_place_including_extended_ones() {
    // Unknown 0x4a (3 octets), PAN ID, unknown 0x80 in the extended form with 2 octets.
    let t = [
        0x4a,
        3,
        1,
        2,
        3,
        tlv::PAN_ID,
        2,
        0x12,
        0x34,
        0x80,
        0xff,
        0,
        2,
        9,
        9,
    ];
    let d = ActiveDataset::from_tlvs(&t).unwrap();
    assert_eq!(d.unknown.len(), 2);
    assert_eq!(d.to_tlvs(), t);
}

#[test]
fn timestamp_and_channel_mask_layouts() {
    let ts = Timestamp {
        seconds: 0x0102_0304_0506,
        ticks: 0x7fff,
        authoritative: true,
    };
    assert_eq!(ts.to_bytes(), [1, 2, 3, 4, 5, 6, 0xff, 0xff]);
    assert_eq!(Timestamp::parse(&ts.to_bytes()).unwrap(), ts);
    // Channels 11-26: 0x001fffe0 on the air, most significant bit first for channel 0.
    let e = ChannelMaskEntry::page0(0x07ff_f800);
    assert_eq!(e.mask, [0x00, 0x1f, 0xff, 0xe0]);
    assert!(e.contains(11) && e.contains(26) && !e.contains(10) && !e.contains(27));
    assert_eq!(e.bitmap(), 0x07ff_f800);
}

#[test]
fn generate_is_complete_and_seeded() {
    let mut r = SplitMix(7);
    let d = ActiveDataset::generate(&mut r);
    assert!(d.missing_for_attach().is_empty());
    assert!(PAGE0_CHANNELS.contains(&d.channel.unwrap().number));
    assert_ne!(d.pan_id, Some(0xffff));
    assert_eq!(d.mesh_local_prefix.unwrap()[0], 0xfd);
    assert_eq!(
        d.network_name.as_deref().unwrap(),
        format!("OpenThread-{:04x}", d.pan_id.unwrap())
    );
    // Emitted in OpenThread's order, and read back the same.
    let t = d.to_tlvs();
    let types: Vec<u8> = split_tlvs(&t).unwrap().iter().map(|x| x.ty).collect();
    assert_eq!(types, CANONICAL);
    assert_eq!(ActiveDataset::from_hex(&d.to_hex()).unwrap().to_tlvs(), t);
    let mut r2 = SplitMix(7);
    assert_eq!(ActiveDataset::generate(&mut r2).to_tlvs(), t);
    let mut r3 = SplitMix(8);
    assert_ne!(ActiveDataset::generate(&mut r3).network_key, d.network_key);
}

#[test]
fn pskc_from_passphrase_needs_name_and_extended_pan_id() {
    let mut d = ActiveDataset::default();
    assert_eq!(
        d.set_pskc_from_passphrase("123456"),
        Err(DatasetPskcError::Missing("Network Name"))
    );
    d.network_name = Some("n".into());
    assert_eq!(
        d.set_pskc_from_passphrase("123456"),
        Err(DatasetPskcError::Missing("Extended PAN ID"))
    );
    d.extended_pan_id = Some([0; 8]);
    assert!(d.set_pskc_from_passphrase("12345").is_err());
}

fn dataset() -> impl Strategy<Value = ActiveDataset> {
    (
        proptest::option::of((any::<u64>(), 0u16..0x8000, any::<bool>())),
        proptest::option::of((any::<u8>(), any::<u16>())),
        proptest::option::of(any::<[u8; 8]>()),
        proptest::option::of("[a-zA-Z0-9 -]{0,16}"),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 1..3))),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(ts, ch, xp, name, pan, key, sp, mask)| ActiveDataset {
            active_timestamp: ts.map(|(s, t, a)| Timestamp {
                seconds: s & 0xffff_ffff_ffff,
                ticks: t,
                authoritative: a,
            }),
            channel: ch.map(|(page, number)| Channel { page, number }),
            channel_mask: mask.map(|m| vec![ChannelMaskEntry::page0(m)]),
            extended_pan_id: xp,
            mesh_local_prefix: xp.map(|mut x| {
                x[0] = 0xfd;
                x
            }),
            network_key: key,
            network_name: name,
            pan_id: pan,
            pskc: key.map(|mut k| {
                k.reverse();
                k
            }),
            security_policy: sp.map(|(r, flags)| SecurityPolicy {
                rotation_hours: r,
                flags,
            }),
            unknown: Vec::new(),
            order: Vec::new(),
        })
}

proptest! {
    #[test]
    fn round_trip(d in dataset()) {
        let t = d.to_tlvs();
        let back = ActiveDataset::from_tlvs(&t).unwrap();
        // Fields equal; the order is now recorded.
        prop_assert_eq!(ActiveDataset { order: Vec::new(), ..back.clone() }, d);
        prop_assert_eq!(back.to_tlvs(), t);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..120)) {
        fuzz_parse(&b);
    }
}
