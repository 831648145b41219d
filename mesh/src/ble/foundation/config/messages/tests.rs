//! Tests of the Configuration messages: the samples of MshPRT §8.3, hand-computed encodings,
//! prohibited values, lengths, and round trips of arbitrary messages.

use super::*;
use crate::ble::foundation::config::PublishPeriod;
use crate::ble::models::StepResolution;
use crate::ble::wire::control::Features;

#[test]
fn heartbeat_publication_every() {
    let a = Address(0xc000);
    let k = KeyIndex::from_bits(0);
    let h = HeartbeatPublication::every(a, 16, 7, k);
    assert_eq!(
        (h.count_log, h.period_log, h.ttl, h.features.0),
        (0xFF, 5, 7, 0x000F)
    );
    assert_eq!(HeartbeatPublication::every(a, 1, 7, k).period_log, 1);
    assert_eq!(
        HeartbeatPublication::every(a, 65_536, 7, k).period_log,
        0x11
    );
    assert_eq!(
        HeartbeatPublication::every(a, 1 << 20, 7, k).period_log,
        0x11
    );
    assert_eq!(HeartbeatPublication::every(a, 24, 200, k).period_log, 5);
    assert_eq!(HeartbeatPublication::every(a, 24, 200, k).ttl, 0x7F);
    let off = HeartbeatPublication::every(a, 0, 7, k);
    assert_eq!((off.count_log, off.period_log), (0, 0));
    // Every one encodes and parses back (MshPRT §4.3.2.62).
    for h in [h, off] {
        let m = ConfigMessage::HeartbeatPublicationSet(h);
        assert_eq!(ConfigMessage::from_access(&m.to_access()), Ok(m));
    }
}
use crate::ble::wire::Error;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn ki(v: u16) -> KeyIndex {
    KeyIndex::new(v).unwrap()
}

// MshPRT §8.3.6, message #6: Config AppKey Add from the Provisioner.
#[test]
fn sample_appkey_add() {
    let m = ConfigMessage::parse(APPKEY_ADD, &h("56341263964771734fbd76e3b40519d1d94a48")).unwrap();
    assert_eq!(
        m,
        ConfigMessage::AppKeyAdd {
            net_key_index: ki(0x456),
            app_key_index: ki(0x123),
            key: h("63964771734fbd76e3b40519d1d94a48").try_into().unwrap(),
        }
    );
    let access = m.to_access();
    use crate::ble::wire::Wire;
    assert_eq!(
        access.to_vec(),
        h("0056341263964771734fbd76e3b40519d1d94a48")
    );
    assert_eq!(ConfigMessage::from_access(&access), Ok(m.clone()));
    assert_eq!(
        m.describe(),
        "Config AppKey Add net 0x456 app 0x123 key 63964771734fbd76e3b40519d1d94a48"
    );
}

// MshPRT §8.3.16, message #16: Config AppKey Status from the node.
#[test]
fn sample_appkey_status() {
    use crate::ble::wire::Wire;
    let access = AccessMessage::parse(&h("800300563412")).unwrap();
    let m = ConfigMessage::from_access(&access).unwrap();
    assert_eq!(
        m,
        ConfigMessage::AppKeyStatus {
            status: StatusCode::Success,
            net_key_index: ki(0x456),
            app_key_index: ki(0x123),
        }
    );
    assert_eq!(m.to_access().to_vec(), h("800300563412"));
}

// MshPRT §8.10.1: Composition Data Page 0 sample inside a Composition Data Status.
#[test]
fn composition_data_status() {
    let params = h("000C001A0001000800030000010501000000800100001003103F002A00");
    let m = ConfigMessage::parse(COMPOSITION_DATA_STATUS, &params).unwrap();
    let ConfigMessage::CompositionDataStatus { page, ref data } = m else {
        panic!("{m:?}")
    };
    assert_eq!(page, 0);
    assert_eq!(data.len(), 28);
    assert!(m
        .describe()
        .starts_with("Config Composition Data Status page 0 cid 000c"));
    assert_eq!(m.emit_params(), params);
}

#[test]
fn hand_computed_examples() {
    // Model Publication Set (§4.3.2.16): element 0x0102, publish to 0xC000 with AppKey
    // 0x123 and the Credential Flag, TTL 5, period 10 × 1 s, 2 retransmits every 4 steps,
    // Generic OnOff Server.
    let m = ConfigMessage::ModelPublicationSet {
        element: Address(0x0102),
        address: Address(0xC000),
        publication: Publication {
            app_key_index: ki(0x123),
            credential_flag: true,
            ttl: 5,
            period: PublishPeriod {
                steps: 10,
                resolution: StepResolution::S1,
            },
            retransmit: Retransmit {
                count: 2,
                interval_steps: 4,
            },
        },
        model: ModelId::Sig(0x1000),
    };
    assert_eq!(m.emit_params(), h("020100c02311054a220010"));
    assert_eq!(
        ConfigMessage::parse(MODEL_PUBLICATION_SET, &m.emit_params()),
        Ok(m.clone())
    );
    assert_eq!(
        m.describe(),
        "Config Model Publication Set element 0102 model 1000 address c000 app 0x123 ttl 5 \
         period 10s retransmit 2x250ms friendship"
    );
    // The vendor model form is 2 octets longer.
    let mut v = h("020100c02311054a22");
    v.extend_from_slice(&h("3f002a00"));
    let m = ConfigMessage::parse(MODEL_PUBLICATION_SET, &v).unwrap();
    assert!(matches!(
        m,
        ConfigMessage::ModelPublicationSet {
            model: ModelId::Vendor {
                company_id: 0x003f,
                model_id: 0x002a
            },
            ..
        }
    ));
    // Relay Set: enabled, 3 retransmits, 5 steps: 0x01, 0b00101_011.
    let m = ConfigMessage::RelaySet {
        state: FeatureState::Enabled,
        retransmit: Retransmit {
            count: 3,
            interval_steps: 5,
        },
    };
    assert_eq!(m.emit_params(), [0x01, 0x2b]);
    assert_eq!(m.describe(), "Config Relay Set enabled retransmit 3x60ms");
    // NetKey List of three indexes.
    let m = ConfigMessage::NetKeyList {
        net_key_indexes: vec![ki(0x000), ki(0x001), ki(0x002)],
    };
    assert_eq!(m.emit_params(), [0x00, 0x10, 0x00, 0x02, 0x00]);
    // Heartbeat Publication Set: to 0xC001, count log 0xFF, period log 4, TTL 7, relay
    // and friend features, NetKey 1.
    let m = ConfigMessage::HeartbeatPublicationSet(HeartbeatPublication {
        destination: Address(0xC001),
        count_log: 0xFF,
        period_log: 0x04,
        ttl: 7,
        features: Features(0x0005),
        net_key_index: ki(1),
    });
    assert_eq!(m.emit_params(), h("01c0ff040705000100"));
    // Heartbeat Subscription Status.
    let m = ConfigMessage::parse(HEARTBEAT_SUBSCRIPTION_STATUS, &h("000100ffff1102017f")).unwrap();
    assert_eq!(
        m,
        ConfigMessage::HeartbeatSubscriptionStatus(HeartbeatSubscription {
            status: StatusCode::Success,
            source: Address(0x0001),
            destination: Address(0xFFFF),
            period_log: 0x11,
            count_log: 0x02,
            min_hops: 0x01,
            max_hops: 0x7F,
        })
    );
    // LPN PollTimeout Status: 0x34BBFF (the maximum).
    let m = ConfigMessage::parse(LPN_POLL_TIMEOUT_STATUS, &h("0200ffbb34")).unwrap();
    assert_eq!(
        m,
        ConfigMessage::LowPowerNodePollTimeoutStatus {
            lpn: Address(0x0002),
            poll_timeout: 0x34BBFF
        }
    );
    assert_eq!(
        m.describe(),
        "Config Low Power Node PollTimeout Status lpn 0002 poll timeout 345599.9s"
    );
    // SIG Model App List with two AppKeys.
    let m = ConfigMessage::parse(SIG_MODEL_APP_LIST, &h("0003010010012000")).unwrap();
    assert_eq!(
        m,
        ConfigMessage::ModelAppList {
            status: StatusCode::Success,
            element: Address(0x0103),
            model: ModelId::Sig(0x1000),
            app_key_indexes: vec![ki(0x001), ki(0x002)],
        }
    );
    // Vendor Model Subscription List.
    let m = ConfigMessage::parse(VENDOR_MODEL_SUBSCRIPTION_LIST, &h("0003013f002a0001c0")).unwrap();
    assert_eq!(m.opcode(), VENDOR_MODEL_SUBSCRIPTION_LIST);
    assert!(
        matches!(m, ConfigMessage::ModelSubscriptionList { ref addresses, .. } if addresses == &[Address(0xC001)])
    );
}

#[test]
fn prohibited_values_rejected() {
    let bad: &[(Opcode, &str, &str)] = &[
        (DEFAULT_TTL_SET, "01", "Default TTL"),
        (DEFAULT_TTL_SET, "80", "Default TTL"),
        (DEFAULT_TTL_SET, "ff", "Default TTL"),
        (DEFAULT_TTL_STATUS, "01", "Default TTL"),
        (BEACON_SET, "02", "Beacon"),
        (GATT_PROXY_SET, "02", "GATT Proxy"),
        (GATT_PROXY_STATUS, "03", "GATT Proxy"),
        (FRIEND_SET, "02", "Friend"),
        (RELAY_SET, "0200", "Relay"),
        (NODE_IDENTITY_SET, "000002", "Node Identity"),
        (
            KEY_REFRESH_PHASE_SET,
            "000001",
            "Key Refresh Phase Transition",
        ),
        (
            KEY_REFRESH_PHASE_SET,
            "000004",
            "Key Refresh Phase Transition",
        ),
        (KEY_REFRESH_PHASE_STATUS, "00000003", "Key Refresh Phase"),
        (
            MODEL_PUBLICATION_SET,
            "020100c000008000000010",
            "Publish TTL",
        ),
        (
            MODEL_PUBLICATION_SET,
            "020100c00000fe00000010",
            "Publish TTL",
        ),
        (
            HEARTBEAT_PUBLICATION_SET,
            "01c012040705000100",
            "Heartbeat Publication Count Log",
        ),
        (
            HEARTBEAT_PUBLICATION_SET,
            "01c001120705000100",
            "Heartbeat Publication Period Log",
        ),
        (
            HEARTBEAT_PUBLICATION_SET,
            "01c001048005000100",
            "Heartbeat Publication TTL",
        ),
        (
            HEARTBEAT_SUBSCRIPTION_SET,
            "0100010012",
            "Heartbeat Subscription Period Log",
        ),
        (
            HEARTBEAT_SUBSCRIPTION_STATUS,
            "000100ffff1112017f",
            "Heartbeat Subscription Count Log",
        ),
        (
            HEARTBEAT_SUBSCRIPTION_STATUS,
            "000100ffff1102807f",
            "Heartbeat Subscription Min Hops",
        ),
        (
            HEARTBEAT_SUBSCRIPTION_STATUS,
            "000100ffff11020180",
            "Heartbeat Subscription Max Hops",
        ),
        (LPN_POLL_TIMEOUT_STATUS, "0200090000", "PollTimeout"),
        (LPN_POLL_TIMEOUT_STATUS, "020000bc34", "PollTimeout"),
    ];
    for (op, params, field) in bad {
        match ConfigMessage::parse(*op, &h(params)) {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, *field, "{op} {params}"),
            r => panic!("{op} {params}: {r:?}"),
        }
    }
    // Allowed edge values.
    for (op, params) in [
        (DEFAULT_TTL_SET, "00"),
        (DEFAULT_TTL_SET, "02"),
        (DEFAULT_TTL_SET, "7f"),
        (MODEL_PUBLICATION_SET, "020100c00000ff00000010"),
        (MODEL_PUBLICATION_SET, "020100c000007f00000010"),
        (LPN_POLL_TIMEOUT_STATUS, "0200000000"),
        (LPN_POLL_TIMEOUT_STATUS, "02000a0000"),
        (GATT_PROXY_STATUS, "02"),
    ] {
        assert!(
            ConfigMessage::parse(op, &h(params)).is_ok(),
            "{op} {params}"
        );
    }
}

#[test]
fn lengths_checked() {
    // A model identifier must be 2 or 4 octets.
    assert_eq!(
        ConfigMessage::parse(MODEL_APP_BIND, &h("0201230000")),
        Err(Error::Truncated { need: 6, got: 5 })
    );
    assert_eq!(
        ConfigMessage::parse(MODEL_APP_BIND, &h("020123000010aa")),
        Err(Error::Invalid {
            field: "model identifier length",
            value: 3
        })
    );
    assert_eq!(
        ConfigMessage::parse(BEACON_GET, &[0]),
        Err(Error::TooLong { max: 0, got: 1 })
    );
    assert_eq!(
        ConfigMessage::parse(APPKEY_ADD, &[0; 18]),
        Err(Error::Truncated { need: 19, got: 18 })
    );
    assert_eq!(
        ConfigMessage::parse(APPKEY_ADD, &[0; 20]),
        Err(Error::TooLong { max: 19, got: 20 })
    );
    assert_eq!(
        ConfigMessage::parse(SIG_MODEL_SUBSCRIPTION_LIST, &h("0003010010010000")),
        Err(Error::Invalid {
            field: "address list length",
            value: 3
        })
    );
    assert_eq!(
        ConfigMessage::parse(NETKEY_LIST, &[0]),
        Err(Error::Invalid {
            field: "key index list length",
            value: 1
        })
    );
    assert_eq!(
        ConfigMessage::parse(Opcode::Two(0x8201), &[]),
        Err(Error::Invalid {
            field: "opcode",
            value: 0x8201
        })
    );
}

#[test]
fn rfu_bits_ignored() {
    // AppKey Index RFU bits 13-15 of the publication and the NetKey Index RFU bits.
    let m = ConfigMessage::parse(MODEL_PUBLICATION_SET, &h("020100c0ffff0500000010")).unwrap();
    let ConfigMessage::ModelPublicationSet { publication, .. } = &m else {
        panic!()
    };
    assert_eq!(publication.app_key_index, ki(0xfff));
    assert!(publication.credential_flag);
    assert_eq!(m.emit_params(), h("020100c0ff1f0500000010"));
    let m = ConfigMessage::parse(NETKEY_DELETE, &h("fff0")).unwrap();
    assert_eq!(
        m,
        ConfigMessage::NetKeyDelete {
            net_key_index: ki(0x0ff)
        }
    );
}

#[test]
fn status_codes() {
    for v in 0..=0xFFu8 {
        let c = StatusCode::from_u8(v);
        assert_eq!(c.to_u8(), v);
        assert_eq!(matches!(c, StatusCode::Rfu(_)), v > 0x15);
    }
    assert_eq!(
        StatusCode::from_u8(0x0E).name(),
        "Temporarily Unable to Change State"
    );
    assert_eq!(StatusCode::from_u8(0x15), StatusCode::InvalidBearer);
    assert_eq!(StatusCode::from_u8(0x20).to_string(), "RFU(0x20)");
}

#[test]
fn every_opcode_named() {
    for m in sample_messages() {
        assert!(m.opcode().name().is_some(), "{m:?}");
        assert!(m.opcode().name().unwrap().starts_with("Config "));
    }
}

#[test]
fn status_opcodes_are_what_the_server_answers() {
    use crate::ble::address::{IvIndex, UnicastAddress};
    use crate::ble::foundation::config::server as config_server;
    use crate::ble::node::{ElementState, ModelState, NodeState};
    let fresh = || {
        NodeState::new(
            [1; 16],
            UnicastAddress::new(0x0100).unwrap(),
            [2; 16],
            [3; 16],
            IvIndex(0),
            vec![ElementState {
                location: 0,
                models: vec![
                    ModelState::new(ModelId::CONFIG_SERVER),
                    ModelState::new(ModelId::GENERIC_ONOFF_SERVER),
                ],
            }],
        )
    };
    let mut answered = 0;
    for m in sample_messages() {
        let reply = config_server::handle(&mut fresh(), &m).reply;
        match (m.status_opcode(), reply) {
            (Some(op), Some(r)) => {
                assert_eq!(op, r.opcode(), "{m:?}");
                assert_eq!(r.status_opcode(), None, "{r:?}");
                answered += 1;
            }
            // A request the server drops (prohibited values), or a status.
            (Some(_), None) => {}
            (None, reply) => assert_eq!(reply, None, "{m:?} is no request"),
        }
    }
    assert!(answered > 100, "{answered}");
    assert_eq!(
        ConfigMessage::NodeReset.status_opcode(),
        Some(NODE_RESET_STATUS)
    );
    assert_eq!(ConfigMessage::NodeResetStatus.status_opcode(), None);
}

fn sample_messages() -> Vec<ConfigMessage> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..500)
        .map(|_| arb_config().new_tree(&mut runner).unwrap().current())
        .collect()
}

pub(crate) fn arb_key_index() -> impl Strategy<Value = KeyIndex> {
    (0u16..=0xfff).prop_map(KeyIndex::from_bits)
}

fn arb_address() -> impl Strategy<Value = Address> {
    any::<u16>().prop_map(Address)
}

pub(crate) fn arb_model() -> impl Strategy<Value = ModelId> {
    prop_oneof![
        any::<u16>().prop_map(ModelId::Sig),
        (any::<u16>(), any::<u16>()).prop_map(|(company_id, model_id)| ModelId::Vendor {
            company_id,
            model_id
        }),
    ]
}

fn arb_status() -> impl Strategy<Value = StatusCode> {
    any::<u8>().prop_map(StatusCode::from_u8)
}

fn arb_set_state() -> impl Strategy<Value = FeatureState> {
    prop_oneof![Just(FeatureState::Disabled), Just(FeatureState::Enabled)]
}

fn arb_status_state() -> impl Strategy<Value = FeatureState> {
    prop_oneof![
        Just(FeatureState::Disabled),
        Just(FeatureState::Enabled),
        Just(FeatureState::NotSupported)
    ]
}

fn arb_retransmit() -> impl Strategy<Value = Retransmit> {
    any::<u8>().prop_map(Retransmit::from_byte)
}

fn arb_ttl() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), 2u8..=0x7f]
}

fn arb_publication() -> impl Strategy<Value = Publication> {
    (
        arb_key_index(),
        any::<bool>(),
        prop_oneof![0u8..=0x7f, Just(0xff)],
        any::<u8>(),
        arb_retransmit(),
    )
        .prop_map(
            |(app_key_index, credential_flag, ttl, p, retransmit)| Publication {
                app_key_index,
                credential_flag,
                ttl,
                period: PublishPeriod::from_byte(p),
                retransmit,
            },
        )
}

fn arb_hb_pub() -> impl Strategy<Value = HeartbeatPublication> {
    (
        arb_address(),
        prop_oneof![0u8..=0x11, Just(0xff)],
        0u8..=0x11,
        0u8..=0x7f,
        any::<u16>(),
        arb_key_index(),
    )
        .prop_map(
            |(destination, count_log, period_log, ttl, f, net_key_index)| HeartbeatPublication {
                destination,
                count_log,
                period_log,
                ttl,
                features: Features(f),
                net_key_index,
            },
        )
}

fn arb_key_list() -> impl Strategy<Value = Vec<KeyIndex>> {
    proptest::collection::vec(arb_key_index(), 0..10)
}

pub(crate) fn arb_config() -> impl Strategy<Value = ConfigMessage> {
    use ConfigMessage as M;
    let label = any::<[u8; 16]>;
    prop_oneof![
        Just(M::BeaconGet),
        any::<bool>().prop_map(|enabled| M::BeaconSet { enabled }),
        any::<bool>().prop_map(|enabled| M::BeaconStatus { enabled }),
        any::<u8>().prop_map(|page| M::CompositionDataGet { page }),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(page, data)| M::CompositionDataStatus { page, data }),
        Just(M::DefaultTtlGet),
        arb_ttl().prop_map(|ttl| M::DefaultTtlSet { ttl }),
        arb_ttl().prop_map(|ttl| M::DefaultTtlStatus { ttl }),
        Just(M::GattProxyGet),
        arb_set_state().prop_map(|state| M::GattProxySet { state }),
        arb_status_state().prop_map(|state| M::GattProxyStatus { state }),
        Just(M::RelayGet),
        (arb_set_state(), arb_retransmit())
            .prop_map(|(state, retransmit)| M::RelaySet { state, retransmit }),
        (arb_status_state(), arb_retransmit())
            .prop_map(|(state, retransmit)| M::RelayStatus { state, retransmit }),
        (arb_address(), arb_model())
            .prop_map(|(element, model)| M::ModelPublicationGet { element, model }),
        (arb_address(), arb_address(), arb_publication(), arb_model()).prop_map(
            |(element, address, publication, model)| M::ModelPublicationSet {
                element,
                address,
                publication,
                model
            }
        ),
        (arb_address(), label(), arb_publication(), arb_model()).prop_map(
            |(element, label, publication, model)| M::ModelPublicationVirtualAddressSet {
                element,
                label,
                publication,
                model
            }
        ),
        (
            arb_status(),
            arb_address(),
            arb_address(),
            arb_publication(),
            arb_model()
        )
            .prop_map(|(status, element, address, publication, model)| {
                M::ModelPublicationStatus {
                    status,
                    element,
                    address,
                    publication,
                    model,
                }
            }),
        (arb_address(), arb_address(), arb_model(), 0..3u8).prop_map(
            |(element, address, model, k)| match k {
                0 => M::ModelSubscriptionAdd {
                    element,
                    address,
                    model
                },
                1 => M::ModelSubscriptionDelete {
                    element,
                    address,
                    model
                },
                _ => M::ModelSubscriptionOverwrite {
                    element,
                    address,
                    model
                },
            }
        ),
        (arb_address(), label(), arb_model(), 0..3u8).prop_map(|(element, label, model, k)| {
            match k {
                0 => M::ModelSubscriptionVirtualAddressAdd {
                    element,
                    label,
                    model,
                },
                1 => M::ModelSubscriptionVirtualAddressDelete {
                    element,
                    label,
                    model,
                },
                _ => M::ModelSubscriptionVirtualAddressOverwrite {
                    element,
                    label,
                    model,
                },
            }
        }),
        (arb_address(), arb_model())
            .prop_map(|(element, model)| M::ModelSubscriptionDeleteAll { element, model }),
        (arb_status(), arb_address(), arb_address(), arb_model()).prop_map(
            |(status, element, address, model)| M::ModelSubscriptionStatus {
                status,
                element,
                address,
                model
            }
        ),
        (arb_address(), arb_model())
            .prop_map(|(element, model)| M::ModelSubscriptionGet { element, model }),
        (
            arb_status(),
            arb_address(),
            arb_model(),
            proptest::collection::vec(arb_address(), 0..10)
        )
            .prop_map(|(status, element, model, addresses)| {
                M::ModelSubscriptionList {
                    status,
                    element,
                    model,
                    addresses,
                }
            }),
        (arb_key_index(), label(), any::<bool>()).prop_map(|(net_key_index, key, u)| if u {
            M::NetKeyUpdate { net_key_index, key }
        } else {
            M::NetKeyAdd { net_key_index, key }
        }),
        arb_key_index().prop_map(|net_key_index| M::NetKeyDelete { net_key_index }),
        (arb_status(), arb_key_index()).prop_map(|(status, net_key_index)| M::NetKeyStatus {
            status,
            net_key_index
        }),
        Just(M::NetKeyGet),
        arb_key_list().prop_map(|net_key_indexes| M::NetKeyList { net_key_indexes }),
        (arb_key_index(), arb_key_index(), label(), any::<bool>()).prop_map(
            |(net_key_index, app_key_index, key, u)| if u {
                M::AppKeyUpdate {
                    net_key_index,
                    app_key_index,
                    key,
                }
            } else {
                M::AppKeyAdd {
                    net_key_index,
                    app_key_index,
                    key,
                }
            }
        ),
        (arb_key_index(), arb_key_index()).prop_map(|(net_key_index, app_key_index)| {
            M::AppKeyDelete {
                net_key_index,
                app_key_index,
            }
        }),
        (arb_status(), arb_key_index(), arb_key_index()).prop_map(
            |(status, net_key_index, app_key_index)| M::AppKeyStatus {
                status,
                net_key_index,
                app_key_index
            }
        ),
        arb_key_index().prop_map(|net_key_index| M::AppKeyGet { net_key_index }),
        (arb_status(), arb_key_index(), arb_key_list()).prop_map(
            |(status, net_key_index, app_key_indexes)| M::AppKeyList {
                status,
                net_key_index,
                app_key_indexes
            }
        ),
        arb_key_index().prop_map(|net_key_index| M::NodeIdentityGet { net_key_index }),
        (arb_key_index(), arb_set_state()).prop_map(|(net_key_index, identity)| {
            M::NodeIdentitySet {
                net_key_index,
                identity,
            }
        }),
        (arb_status(), arb_key_index(), arb_status_state()).prop_map(
            |(status, net_key_index, identity)| M::NodeIdentityStatus {
                status,
                net_key_index,
                identity
            }
        ),
        (arb_address(), arb_key_index(), arb_model(), any::<bool>()).prop_map(
            |(element, app_key_index, model, u)| if u {
                M::ModelAppUnbind {
                    element,
                    app_key_index,
                    model,
                }
            } else {
                M::ModelAppBind {
                    element,
                    app_key_index,
                    model,
                }
            }
        ),
        (arb_status(), arb_address(), arb_key_index(), arb_model()).prop_map(
            |(status, element, app_key_index, model)| M::ModelAppStatus {
                status,
                element,
                app_key_index,
                model
            }
        ),
        (arb_address(), arb_model()).prop_map(|(element, model)| M::ModelAppGet { element, model }),
        (arb_status(), arb_address(), arb_model(), arb_key_list()).prop_map(
            |(status, element, model, app_key_indexes)| M::ModelAppList {
                status,
                element,
                model,
                app_key_indexes
            }
        ),
        Just(M::FriendGet),
        arb_set_state().prop_map(|state| M::FriendSet { state }),
        arb_status_state().prop_map(|state| M::FriendStatus { state }),
        arb_key_index().prop_map(|net_key_index| M::KeyRefreshPhaseGet { net_key_index }),
        (arb_key_index(), 2u8..=3).prop_map(|(net_key_index, transition)| {
            M::KeyRefreshPhaseSet {
                net_key_index,
                transition,
            }
        }),
        (arb_status(), arb_key_index(), 0u8..=2).prop_map(|(status, net_key_index, phase)| {
            M::KeyRefreshPhaseStatus {
                status,
                net_key_index,
                phase,
            }
        }),
        Just(M::HeartbeatPublicationGet),
        arb_hb_pub().prop_map(M::HeartbeatPublicationSet),
        (arb_status(), arb_hb_pub()).prop_map(|(status, publication)| {
            M::HeartbeatPublicationStatus {
                status,
                publication,
            }
        }),
        Just(M::HeartbeatSubscriptionGet),
        (arb_address(), arb_address(), 0u8..=0x11).prop_map(|(source, destination, period_log)| {
            M::HeartbeatSubscriptionSet {
                source,
                destination,
                period_log,
            }
        }),
        (
            arb_status(),
            arb_address(),
            arb_address(),
            0u8..=0x11,
            prop_oneof![0u8..=0x11, Just(0xff)],
            0u8..=0x7f,
            0u8..=0x7f
        )
            .prop_map(
                |(status, source, destination, period_log, count_log, min_hops, max_hops)| {
                    M::HeartbeatSubscriptionStatus(HeartbeatSubscription {
                        status,
                        source,
                        destination,
                        period_log,
                        count_log,
                        min_hops,
                        max_hops,
                    })
                }
            ),
        arb_address().prop_map(|lpn| M::LowPowerNodePollTimeoutGet { lpn }),
        (arb_address(), prop_oneof![Just(0u32), 0x0Au32..=0x34BBFF])
            .prop_map(|(lpn, poll_timeout)| M::LowPowerNodePollTimeoutStatus { lpn, poll_timeout }),
        Just(M::NetworkTransmitGet),
        arb_retransmit().prop_map(|transmit| M::NetworkTransmitSet { transmit }),
        arb_retransmit().prop_map(|transmit| M::NetworkTransmitStatus { transmit }),
        Just(M::NodeReset),
        Just(M::NodeResetStatus),
    ]
}

proptest! {
    #[test]
    fn round_trip(m in arb_config()) {
        let params = m.emit_params();
        prop_assert_eq!(ConfigMessage::parse(m.opcode(), &params), Ok(m.clone()));
        let access = m.to_access();
        prop_assert_eq!(ConfigMessage::from_access(&access), Ok(m.clone()));
        prop_assert!(!m.describe().is_empty());
    }
}
