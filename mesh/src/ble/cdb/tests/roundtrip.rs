//! Property tests of reading and writing whole networks.

use proptest::prelude::*;

use crate::ble::cdb::convert::{log_to_period, FEATURES};
use crate::ble::cdb::*;
use crate::ble::models::{ModelId, StepResolution};

// -- property: any valid network written by weft reads back equal ------------------------

fn hex_key() -> impl Strategy<Value = HexKey> {
    any::<[u8; 16]>().prop_map(HexKey)
}

fn address() -> impl Strategy<Value = CdbAddress> {
    prop_oneof![
        (0xC000u16..0xFF00).prop_map(CdbAddress::Address),
        any::<[u8; 16]>().prop_map(CdbAddress::Label)
    ]
}

fn publish() -> impl Strategy<Value = CdbPublish> {
    (
        address(),
        0u16..=0xFFF,
        prop_oneof![0u8..=127, Just(255)],
        0u8..=63,
        0usize..4,
        any::<bool>(),
        0u8..=7,
        0u16..32,
    )
        .prop_map(
            |(address, index, ttl, steps, res, credentials, count, st)| CdbPublish {
                address,
                index,
                ttl,
                period: CdbPeriod {
                    number_of_steps: steps,
                    resolution: if steps == 0 {
                        100
                    } else {
                        StepResolution::ALL[res].millis()
                    },
                },
                credentials,
                retransmit: CdbPubRetransmit {
                    count,
                    interval: (st + 1) * 50,
                },
            },
        )
}

fn model() -> impl Strategy<Value = CdbModel> {
    (
        prop_oneof![
            any::<u16>().prop_map(ModelId::Sig),
            (any::<u16>(), any::<u16>()).prop_map(|(c, m)| ModelId::Vendor {
                company_id: c,
                model_id: m
            })
        ],
        proptest::collection::vec(0u16..=0xFFF, 0..3),
        proptest::collection::vec(address(), 0..3),
        proptest::option::of(publish()),
    )
        .prop_map(|(id, bind, subscribe, publish)| CdbModel {
            model_id: CdbModelId(id),
            bind,
            subscribe,
            publish,
        })
}

fn transmit() -> impl Strategy<Value = CdbTransmit> {
    (1u8..=8, 1u16..=32).prop_map(|(count, i)| CdbTransmit {
        count,
        interval: i * 10,
    })
}

fn node(addr: u16) -> impl Strategy<Value = CdbNode> {
    let elements = proptest::collection::vec(
        (
            proptest::option::of("[a-z ]{0,8}"),
            any::<u16>(),
            proptest::collection::vec(model(), 0..3),
        ),
        1..3,
    );
    let opt_hex = || proptest::option::of(any::<u16>().prop_map(Hex16));
    (
        (
            any::<[u8; 16]>(),
            proptest::option::of(hex_key()),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of("[A-Za-z0-9]{0,10}"),
        ),
        (opt_hex(), opt_hex(), opt_hex(), opt_hex()),
        (
            proptest::option::of((0u8..=2, 0u8..=2, 0u8..=2, 0u8..=2)),
            proptest::option::of(any::<bool>()),
            proptest::option::of(prop_oneof![Just(0u8), 2u8..=127]),
        ),
        (
            proptest::option::of(transmit()),
            proptest::option::of(transmit()),
            proptest::collection::vec(0u16..=0xFFF, 0..3),
            elements,
        ),
        (
            any::<bool>(),
            proptest::option::of((any::<u16>(), 0u8..=0x11, 0u8..=127, any::<u8>())),
            proptest::option::of((any::<u16>(), any::<u16>())),
        ),
    )
        .prop_map(
            move |(
                (uuid, dk, sec, cc, name),
                (cid, pid, vid, crpl),
                (feat, beacon, ttl),
                (nt, rr, apps, elems),
                (excl, hbp, hbs),
            )| CdbNode {
                uuid: Uuid(uuid),
                unicast_address: Hex16(addr),
                device_key: dk,
                security: if sec {
                    Security::Secure
                } else {
                    Security::Insecure
                },
                net_keys: vec![CdbNodeKey {
                    index: 0,
                    updated: cc,
                }],
                config_complete: cc,
                name,
                cid,
                pid,
                vid,
                crpl,
                features: feat.map(|(r, p, f, l)| CdbFeatures {
                    relay: Some(r),
                    proxy: Some(p),
                    friend: Some(f),
                    low_power: Some(l),
                }),
                secure_network_beacon: beacon,
                default_ttl: ttl,
                network_transmit: nt,
                relay_retransmit: rr,
                app_keys: apps
                    .into_iter()
                    .map(|index| CdbNodeKey {
                        index,
                        updated: false,
                    })
                    .collect(),
                elements: elems
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, loc, models))| CdbElement {
                        name,
                        index: i as u8,
                        location: Hex16(loc),
                        models,
                    })
                    .collect(),
                excluded: excl,
                heartbeat_pub: hbp.map(|(a, log, ttl, f)| CdbHeartbeatPub {
                    address: Hex16(a),
                    period: log_to_period(log),
                    ttl,
                    index: 0,
                    features: FEATURES
                        .iter()
                        .filter(|(_, b)| u16::from(f) & b != 0)
                        .map(|(n, _)| (*n).to_owned())
                        .collect(),
                }),
                heartbeat_sub: hbs.map(|(s, d)| CdbHeartbeatSub {
                    source: Hex16(s),
                    destination: Hex16(d),
                }),
                sequence_number: None,
            },
        )
}

fn network() -> impl Strategy<Value = Cdb> {
    (
        (
            any::<[u8; 16]>(),
            "[A-Za-z0-9 ]{0,12}",
            any::<bool>(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<bool>()),
        ),
        proptest::collection::vec(
            (
                hex_key(),
                proptest::option::of(hex_key()),
                0u8..=2,
                any::<bool>(),
            ),
            1..3,
        ),
        proptest::collection::vec((hex_key(), proptest::option::of(hex_key())), 0..3),
        proptest::collection::vec((0u16..0x100, 0u16..0x100, 0xC000u16..0xC100), 0..2),
        (node(0x0001), node(0x0100)),
        proptest::collection::vec(("[a-z]{0,5}", address(), address()), 0..3),
        proptest::collection::vec(
            (
                "[a-z]{0,5}",
                proptest::collection::vec((1u16..0x7FFF).prop_map(Hex16), 0..3),
                1u16..=0xFFFF,
            ),
            0..2,
        ),
        proptest::collection::vec(
            (
                any::<u32>(),
                proptest::collection::vec((1u16..0x7FFF).prop_map(Hex16), 0..3),
            ),
            0..2,
        ),
    )
        .prop_map(
            |(
                (uuid, name, partial, iv, ivu),
                nets,
                apps,
                provs,
                (n1, n2),
                groups,
                scenes,
                excl,
            )| {
                let mut c = Cdb::new(uuid, name, "2024-05-06T07:08:09Z");
                c.partial = partial;
                c.iv_index = iv;
                c.iv_update = ivu;
                c.net_keys = nets
                    .into_iter()
                    .enumerate()
                    .map(|(i, (key, old, phase, insecure))| CdbNetKey {
                        name: format!("Net {i}"),
                        index: i as u16,
                        key,
                        old_key: if phase == 0 {
                            old
                        } else {
                            Some(old.unwrap_or(key))
                        },
                        phase,
                        min_security: if insecure {
                            Security::Insecure
                        } else {
                            Security::Secure
                        },
                        timestamp: "2024-05-06T07:08:09Z".into(),
                    })
                    .collect();
                c.app_keys = apps
                    .into_iter()
                    .enumerate()
                    .map(|(i, (key, old_key))| CdbAppKey {
                        name: format!("App {i}"),
                        index: i as u16 + 1,
                        bound_net_key: 0,
                        key,
                        old_key,
                    })
                    .collect();
                c.provisioners = provs
                    .into_iter()
                    .map(|(a, b, g)| CdbProvisioner {
                        provisioner_name: "p".into(),
                        uuid: Uuid([a as u8; 16]),
                        allocated_unicast_range: vec![CdbRange {
                            low_address: Hex16(a.min(b) + 1),
                            high_address: Hex16(a.max(b) + 1),
                        }],
                        allocated_group_range: vec![CdbRange {
                            low_address: Hex16(g),
                            high_address: Hex16(g + 5),
                        }],
                        allocated_scene_range: vec![CdbSceneRange {
                            first_scene: Hex16(1),
                            last_scene: Hex16(b + 1),
                        }],
                    })
                    .collect();
                c.nodes = vec![n1, n2];
                c.groups = groups
                    .into_iter()
                    .map(|(name, address, parent_address)| CdbGroup {
                        name,
                        address,
                        parent_address,
                    })
                    .collect();
                c.scenes = scenes
                    .into_iter()
                    .map(|(name, addresses, n)| CdbScene {
                        name,
                        addresses,
                        number: Hex16(n),
                    })
                    .collect();
                c.network_exclusions = excl
                    .into_iter()
                    .map(|(iv_index, addresses)| CdbExclusion {
                        iv_index,
                        addresses,
                    })
                    .collect();
                c
            },
        )
}

proptest! {
    #[test]
    fn written_networks_read_back_equal(c in network()) {
        c.validate().unwrap();
        let json = c.to_json();
        let back = Cdb::from_json(&json).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.to_json(), json);
    }

    #[test]
    fn parsing_never_panics(s in "\\PC{0,200}") {
        let _ = Cdb::from_json(&s);
    }

    #[test]
    fn mutated_documents_never_panic(c in network(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut json = c.to_json().into_bytes();
        let i = pos.index(json.len());
        json[i] = byte;
        if let Ok(s) = String::from_utf8(json) {
            let _ = Cdb::from_json(&s);
        }
    }
}
