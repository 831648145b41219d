//! Learning from configuration statuses.

use proptest::prelude::*;

use crate::ble::address::Address;
use crate::ble::cdb::*;
use crate::ble::foundation::config::client::tests::{plan, run_against, two_elements, NODE};
use crate::ble::foundation::config::client::{ConfigClient, ConfigClientEvent};
use crate::ble::foundation::config::messages::tests::arb_config;
use crate::ble::foundation::config::server as config_server;
use crate::ble::foundation::config::{
    ConfigMessage, FeatureState, Publication as PubParams, PublishPeriod, Retransmit, StatusCode,
};
use crate::ble::models::{KeyIndex, ModelId};
use crate::ble::node::state::NodeState;

fn ki(v: u16) -> KeyIndex {
    KeyIndex::from_bits(v)
}

/// A record as provisioning leaves it: keys and elements unknown.
fn bare(s: &NodeState) -> CdbNode {
    let mut n = CdbNode::from_node_state(s, None);
    n.config_complete = false;
    n.cid = None;
    n.pid = None;
    n.vid = None;
    n.crpl = None;
    n.features = None;
    n.secure_network_beacon = None;
    n.default_ttl = None;
    n.network_transmit = None;
    n.relay_retransmit = None;
    n.app_keys.clear();
    n.elements.clear();
    n
}

/// Asks `request` of the Configuration Server of `st` and records the answer into `node`.
fn ask(node: &mut CdbNode, st: &mut NodeState, request: ConfigMessage) -> ConfigMessage {
    let status = config_server::handle(st, &request).reply.unwrap();
    node.record(&request, &status);
    status
}

#[test]
fn a_configured_node_is_recorded_as_it_is() {
    let mut st = two_elements();
    let mut node = bare(&st);
    let mut client = ConfigClient::new();
    client.configure(st.primary, plan());
    let (_, events) = run_against(&mut client, &mut st);
    for e in &events {
        if let ConfigClientEvent::Answered {
            request, status, ..
        } = e
        {
            node.record(request, status);
        }
    }
    for request in [
        ConfigMessage::RelayGet,
        ConfigMessage::GattProxyGet,
        ConfigMessage::FriendGet,
        ConfigMessage::DefaultTtlGet,
        ConfigMessage::BeaconGet,
        ConfigMessage::NetworkTransmitGet,
        ConfigMessage::HeartbeatPublicationGet,
        ConfigMessage::HeartbeatSubscriptionGet,
    ] {
        ask(&mut node, &mut st, request);
    }
    let mut expected = CdbNode::from_node_state(&st, None);
    expected.config_complete = false;
    assert_eq!(node, expected);
    assert_eq!(
        node.app_keys,
        vec![CdbNodeKey {
            index: 1,
            updated: false
        }]
    );
    assert_eq!(node.elements[1].location, Hex16(0x0102));
    let sensor = &node.elements[1].models[0];
    assert_eq!(sensor.subscribe, vec![CdbAddress::Address(0xC001)]);
    assert_eq!(
        sensor.publish.as_ref().map(|p| p.address),
        Some(CdbAddress::Address(1))
    );
}

#[test]
fn composition_keeps_what_is_known_of_each_model() {
    let mut st = two_elements();
    let mut node = bare(&st);
    let bind = ConfigMessage::ModelAppBind {
        element: Address(NODE),
        app_key_index: ki(1),
        model: ModelId::GENERIC_ONOFF_SERVER,
    };
    // Without the composition, the model is recorded on its element all the same.
    ask(
        &mut node,
        &mut st,
        ConfigMessage::AppKeyAdd {
            net_key_index: ki(0),
            app_key_index: ki(1),
            key: [9; 16],
        },
    );
    ask(&mut node, &mut st, bind);
    node.elements[0].name = Some("kitchen".into());
    assert_eq!(node.elements[0].models.len(), 1);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::CompositionDataGet { page: 0 },
    );
    let e = &node.elements[0];
    assert_eq!(e.name.as_deref(), Some("kitchen"));
    assert_eq!(e.models.len(), 4);
    assert_eq!(
        e.models[2].model_id,
        CdbModelId(ModelId::GENERIC_ONOFF_SERVER)
    );
    assert_eq!(e.models[2].bind, vec![1]);
    assert!(e.models[1].bind.is_empty());
    assert_eq!(node.cid, Some(Hex16(st.cid)));
    let f = node.features.unwrap();
    // Relay is supported (its state unknown yet); the rest are not.
    assert_eq!(
        (f.relay, f.proxy, f.friend, f.low_power),
        (None, Some(2), Some(2), Some(2))
    );
    // A relay state known survives the next composition.
    ask(&mut node, &mut st, ConfigMessage::RelayGet);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::CompositionDataGet { page: 0 },
    );
    assert_eq!(node.features.unwrap().relay, Some(FEATURE_DISABLED));
}

#[test]
fn keys_bindings_subscriptions_and_publications_follow_the_statuses() {
    let mut st = two_elements();
    let mut node = bare(&st);
    let primary = Address(NODE);
    let onoff = ModelId::GENERIC_ONOFF_SERVER;
    ask(
        &mut node,
        &mut st,
        ConfigMessage::CompositionDataGet { page: 0 },
    );
    for app in [1, 2] {
        ask(
            &mut node,
            &mut st,
            ConfigMessage::AppKeyAdd {
                net_key_index: ki(0),
                app_key_index: ki(app),
                key: [app as u8; 16],
            },
        );
        ask(
            &mut node,
            &mut st,
            ConfigMessage::ModelAppBind {
                element: primary,
                app_key_index: ki(app),
                model: onoff,
            },
        );
    }
    let label = [0xAB; 16];
    let sub = |m: &CdbNode| m.elements[0].models[2].subscribe.clone();
    for request in [
        ConfigMessage::ModelSubscriptionAdd {
            element: primary,
            address: Address(0xC001),
            model: onoff,
        },
        ConfigMessage::ModelSubscriptionVirtualAddressAdd {
            element: primary,
            label,
            model: onoff,
        },
        ConfigMessage::ModelSubscriptionAdd {
            element: primary,
            address: Address(0xC002),
            model: onoff,
        },
    ] {
        ask(&mut node, &mut st, request);
    }
    assert_eq!(
        sub(&node),
        vec![
            CdbAddress::Address(0xC001),
            CdbAddress::Label(label),
            CdbAddress::Address(0xC002)
        ]
    );
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelSubscriptionDelete {
            element: primary,
            address: Address(0xC001),
            model: onoff,
        },
    );
    // The list as the node has it: the Label UUID is kept for its virtual address.
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelSubscriptionGet {
            element: primary,
            model: onoff,
        },
    );
    assert_eq!(
        sub(&node),
        vec![CdbAddress::Label(label), CdbAddress::Address(0xC002)]
    );
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelSubscriptionVirtualAddressDelete {
            element: primary,
            label,
            model: onoff,
        },
    );
    assert_eq!(sub(&node), vec![CdbAddress::Address(0xC002)]);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelSubscriptionOverwrite {
            element: primary,
            address: Address(0xC003),
            model: onoff,
        },
    );
    assert_eq!(sub(&node), vec![CdbAddress::Address(0xC003)]);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelSubscriptionDeleteAll {
            element: primary,
            model: onoff,
        },
    );
    assert_eq!(sub(&node), vec![]);

    // Publication to a virtual address, with key 2.
    let params = PubParams {
        app_key_index: ki(2),
        credential_flag: false,
        ttl: 5,
        period: PublishPeriod::from_byte(0x41),
        retransmit: Retransmit {
            count: 1,
            interval_steps: 3,
        },
    };
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelPublicationVirtualAddressSet {
            element: primary,
            label,
            publication: params,
            model: onoff,
        },
    );
    let publ = node.elements[0].models[2].publish.clone().unwrap();
    assert_eq!(publ.address, CdbAddress::Label(label));
    assert_eq!((publ.index, publ.ttl), (2, 5));
    assert_eq!(
        publ.period,
        CdbPeriod {
            number_of_steps: 1,
            resolution: 1000
        }
    );
    assert_eq!(
        publ.retransmit,
        CdbPubRetransmit {
            count: 1,
            interval: 200
        }
    );
    // Read back, it keeps its label.
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelPublicationGet {
            element: primary,
            model: onoff,
        },
    );
    assert_eq!(node.elements[0].models[2].publish, Some(publ));
    // Deleting key 2 unbinds it and stops the publication that used it.
    ask(
        &mut node,
        &mut st,
        ConfigMessage::AppKeyDelete {
            net_key_index: ki(0),
            app_key_index: ki(2),
        },
    );
    assert_eq!(
        node.app_keys,
        vec![CdbNodeKey {
            index: 1,
            updated: false
        }]
    );
    assert_eq!(node.elements[0].models[2].bind, vec![1]);
    assert_eq!(node.elements[0].models[2].publish, None);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelPublicationSet {
            element: primary,
            address: Address(0x0001),
            publication: PubParams {
                app_key_index: ki(1),
                ..params
            },
            model: onoff,
        },
    );
    assert!(node.elements[0].models[2].publish.is_some());
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelPublicationSet {
            element: primary,
            address: Address(0),
            publication: params,
            model: onoff,
        },
    );
    assert_eq!(node.elements[0].models[2].publish, None);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::ModelAppUnbind {
            element: primary,
            app_key_index: ki(1),
            model: onoff,
        },
    );
    assert!(node.elements[0].models[2].bind.is_empty());
    // Node state and record agree.
    let mut expected = CdbNode::from_node_state(&st, None);
    expected.elements[0].models[2].subscribe.clear();
    assert_eq!(node.elements, expected.elements);
    assert_eq!(node.app_keys, expected.app_keys);
}

#[test]
fn features_ttl_beacon_transmit_and_heartbeats() {
    let mut st = two_elements();
    let mut node = bare(&st);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::RelaySet {
            state: FeatureState::Enabled,
            retransmit: Retransmit {
                count: 3,
                interval_steps: 2,
            },
        },
    );
    assert_eq!(node.features.unwrap().relay, Some(FEATURE_ENABLED));
    assert_eq!(
        node.relay_retransmit,
        Some(CdbTransmit {
            count: 4,
            interval: 30
        })
    );
    ask(&mut node, &mut st, ConfigMessage::DefaultTtlSet { ttl: 9 });
    ask(
        &mut node,
        &mut st,
        ConfigMessage::BeaconSet { enabled: false },
    );
    ask(
        &mut node,
        &mut st,
        ConfigMessage::NetworkTransmitSet {
            transmit: Retransmit {
                count: 1,
                interval_steps: 0,
            },
        },
    );
    assert_eq!(node.default_ttl, Some(9));
    assert_eq!(node.secure_network_beacon, Some(false));
    assert_eq!(
        node.network_transmit,
        Some(CdbTransmit {
            count: 2,
            interval: 10
        })
    );
    ask(
        &mut node,
        &mut st,
        ConfigMessage::HeartbeatPublicationSet(
            crate::ble::foundation::config::HeartbeatPublication {
                destination: Address(0xC005),
                count_log: 0xFF,
                period_log: 4,
                ttl: 7,
                features: crate::ble::wire::control::Features(1),
                net_key_index: ki(0),
            },
        ),
    );
    let hb = node.heartbeat_pub.clone().unwrap();
    assert_eq!((hb.address, hb.period, hb.ttl), (Hex16(0xC005), 8, 7));
    assert_eq!(hb.features, vec!["relay".to_string()]);
    ask(
        &mut node,
        &mut st,
        ConfigMessage::HeartbeatSubscriptionSet {
            source: Address(0x0005),
            destination: Address(NODE),
            period_log: 3,
        },
    );
    assert_eq!(
        node.heartbeat_sub,
        Some(CdbHeartbeatSub {
            source: Hex16(5),
            destination: Hex16(NODE)
        })
    );
    let expected = CdbNode::from_node_state(&st, None);
    assert_eq!(node.heartbeat_pub, expected.heartbeat_pub);
    assert_eq!(node.heartbeat_sub, expected.heartbeat_sub);
}

#[test]
fn refusals_and_mismatches_change_nothing() {
    let mut st = two_elements();
    let mut node = bare(&st);
    let before = node.clone();
    let bind = ConfigMessage::ModelAppBind {
        element: Address(NODE),
        app_key_index: ki(7),
        model: ModelId::GENERIC_ONOFF_SERVER,
    };
    // Key 7 is not on the node: Invalid AppKey Index.
    let status = ask(&mut node, &mut st, bind.clone());
    assert_eq!(status.status(), Some(StatusCode::InvalidAppKeyIndex));
    assert_eq!(node, before);
    // A successful status that does not answer the request.
    let ok = ConfigMessage::ModelAppStatus {
        status: StatusCode::Success,
        element: Address(NODE),
        app_key_index: ki(7),
        model: ModelId::GENERIC_ONOFF_SERVER,
    };
    node.record(&ConfigMessage::RelayGet, &ok);
    node.record(&ok, &ok);
    // An element outside the node.
    node.record(
        &bind,
        &ConfigMessage::ModelAppStatus {
            status: StatusCode::Success,
            element: Address(NODE - 1),
            app_key_index: ki(7),
            model: ModelId::GENERIC_ONOFF_SERVER,
        },
    );
    node.record(
        &bind,
        &ConfigMessage::ModelAppStatus {
            status: StatusCode::Success,
            element: Address(0xC000),
            app_key_index: ki(7),
            model: ModelId::GENERIC_ONOFF_SERVER,
        },
    );
    assert_eq!(node, before);
}

proptest! {
    #[test]
    fn any_request_and_status_never_panic(request in arb_config(), status in arb_config()) {
        let mut node = bare(&two_elements());
        node.record(&request, &status);
    }
}
