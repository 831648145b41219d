use super::*;
use crate::thread::mac::frame_strategy;
use crate::thread::mac::{Address, SecurityLevel};
use crate::thread::security::key_index;
use crate::wire::Wire;
use proptest::prelude::*;

#[test]
fn beacon_open_payload() {
    // Superframe spec, GTS spec with 1 descriptor (+ directions + 3), pending spec with one
    // short and one extended address, then the beacon payload.
    let mut d = vec![0xff, 0xcf, 0x01, 0x00, 1, 2, 3, 0x11, 0, 0];
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(b"payload");
    assert_eq!(beacon_open_len(&d).unwrap(), d.len() - 7);
    assert!(matches!(
        beacon_open_len(&d[..12]),
        Err(Error::Truncated { .. })
    ));
}

fn secured(level: u8) -> impl Strategy<Value = Frame> {
    frame_strategy().prop_filter_map("needs a 2006+ frame", move |mut f| {
        if f.version == FrameVersion::V2003 {
            return None;
        }
        f.security = Some(AuxSecurityHeader {
            level: SecurityLevel::new(level),
            key_id: KeyIdentifier::Index(1),
            frame_counter: Some(0x01020304),
            asn_in_nonce: false,
        });
        f.body = match f.body {
            Body::Secured { data, .. } => Body::Open {
                payload_ies: vec![],
                payload: data,
            },
            open => open,
        };
        if f.has_payload_ies() {
            return None;
        }
        // A 2006 beacon starts with its superframe specification, GTS and pending address
        // fields (no GTS, no pending address here).
        if let (FrameType::Beacon, Body::Open { payload, .. }) = (f.frame_type, &mut f.body) {
            if f.version == FrameVersion::V2006 {
                payload.splice(0..0, [0xff, 0xcf, 0x00, 0x00]);
            }
        }
        Some(f)
    })
}

proptest! {
    #[test]
    fn secure_then_unsecure(level in prop_oneof![1u8..4, 5u8..8], f in secured(5)) {
        let mut f = f;
        f.security.as_mut().unwrap().level = SecurityLevel::new(level);
        let key = CcmStar::new(&[0x42; 16]);
        let src = ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]);
        let s = secure(&f, &key, src).unwrap();
        // On the air and back.
        let air = Frame::parse(&s.to_vec()).unwrap();
        prop_assert_eq!(&air, &s);
        prop_assert_eq!(unsecure(&air, &key, src).unwrap(), f);
        // Another key or another source fails.
        prop_assert!(unsecure(&air, &CcmStar::new(&[0x43; 16]), src).is_err());
        prop_assert!(unsecure(&air, &key, ExtAddress([0; 8])).is_err());
    }
}

#[test]
fn manager_opens_and_follows_the_next_sequence() {
    let network_key = [0x11; 16];
    let mut node = KeyManager::new(network_key, 10);
    let next = ThreadKeys::derive(&network_key, 11);
    let src = ExtAddress([9; 8]);
    let f = Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: false,
        ack_request: true,
        pan_id_compression: true,
        sequence_number: Some(1),
        dst_pan: Some(0xface),
        dst: Address::Short(0x0400),
        src_pan: None,
        src: Address::Extended(src),
        security: Some(AuxSecurityHeader {
            level: SecurityLevel::new(5),
            key_id: KeyIdentifier::Index(next.key_index()),
            frame_counter: Some(7),
            asn_in_nonce: false,
        }),
        header_ies: vec![],
        body: Body::Open {
            payload_ies: vec![],
            payload: b"lowpan".to_vec(),
        },
    };
    let air = secure(&f, next.mac(), src).unwrap();
    let u = node.unsecure_mac(&air, src).unwrap();
    assert_eq!(u.frame, f);
    assert_eq!(u.key_sequence, 11);
    assert!(u.switched);
    assert_eq!(node.key_sequence(), 11);
    // A key index the node does not hold.
    let mut far = air.clone();
    far.security.as_mut().unwrap().key_id = KeyIdentifier::Index(key_index(40));
    assert!(matches!(node.unsecure_mac(&far, src), Err(Error::Auth(_))));
    // A tampered frame does not move the node.
    let mut node = KeyManager::new(network_key, 10);
    let mut bad = air.clone();
    if let Body::Secured { data, .. } = &mut bad.body {
        data[0] ^= 1;
    }
    assert!(node.unsecure_mac(&bad, src).is_err());
    assert_eq!(node.key_sequence(), 10);
}
