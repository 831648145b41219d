//! Tests of the Configuration Client: its procedures run against a Configuration Server.

use super::*;
use crate::ble::address::IvIndex;
use crate::ble::foundation::config::server as config_server;
use crate::ble::node::{ElementState, ModelState, NodeState};
use crate::ble::wire::access::Opcode;
use proptest::prelude::*;

pub(crate) const NODE: u16 = 0x0100;
const VENDOR: ModelId = ModelId::Vendor {
    company_id: 0x05F1,
    model_id: 0x0001,
};

fn node() -> UnicastAddress {
    UnicastAddress::new(NODE).unwrap()
}

fn at(ms: u64) -> Instant {
    Instant::from_micros(ms * 1_000)
}

fn ki(v: u16) -> KeyIndex {
    KeyIndex::from_bits(v)
}

pub(crate) fn plan() -> ConfigurePlan {
    ConfigurePlan {
        net_key_index: ki(0),
        app_key_index: ki(1),
        app_key: [0x5A; 16],
        subscribe: Some(Address(0xC001)),
        publish: Some(Address(0x0001)),
    }
}

/// A node of two elements: Configuration and Health Servers, OnOff Server and Level Client
/// on the primary element; Sensor Server and a vendor model on the second.
pub(crate) fn two_elements() -> NodeState {
    let models = |ids: &[ModelId]| ids.iter().map(|m| ModelState::new(*m)).collect();
    NodeState::new(
        [1; 16],
        node(),
        [2; 16],
        [3; 16],
        IvIndex(0),
        vec![
            ElementState {
                location: 0x0100,
                models: models(&[
                    ModelId::CONFIG_SERVER,
                    ModelId::HEALTH_SERVER,
                    ModelId::GENERIC_ONOFF_SERVER,
                    ModelId::GENERIC_LEVEL_CLIENT,
                ]),
            },
            ElementState {
                location: 0x0102,
                models: models(&[ModelId::SENSOR_SERVER, VENDOR]),
            },
        ],
    )
}

/// Runs `client` against the Configuration Server of `state` (no loss, answers at once)
/// until it has nothing to send; returns the requests sent and the events.
pub(crate) fn run_against(
    client: &mut ConfigClient,
    state: &mut NodeState,
) -> (Vec<ConfigMessage>, Vec<ConfigClientEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    let now = at(0);
    while let Some((dst, m)) = client.poll_request(now) {
        assert_eq!(dst, state.primary);
        let request = ConfigMessage::from_access(&m).unwrap();
        let reply = config_server::handle(state, &request).reply.unwrap();
        sent.push(request);
        assert!(client.handle_message(now, Address(NODE), &reply.to_access()));
    }
    events.extend(std::iter::from_fn(|| client.poll_event()));
    (sent, events)
}

#[test]
fn configure_asks_exactly_the_binds_subscriptions_and_publications() {
    let mut client = ConfigClient::new();
    let mut st = two_elements();
    client.configure(node(), plan());
    assert!(client.is_busy(node()));
    let (sent, events) = run_against(&mut client, &mut st);
    let (e0, e1) = (Address(NODE), Address(NODE + 1));
    let bind = |element, model| ConfigMessage::ModelAppBind {
        element,
        app_key_index: ki(1),
        model,
    };
    let sub = |element, model| ConfigMessage::ModelSubscriptionAdd {
        element,
        address: Address(0xC001),
        model,
    };
    let publ = |element, model| ConfigMessage::ModelPublicationSet {
        element,
        address: Address(0x0001),
        publication: Publication {
            app_key_index: ki(1),
            credential_flag: false,
            ttl: 0xFF,
            period: PublishPeriod::from_byte(0),
            retransmit: Retransmit::default(),
        },
        model,
    };
    assert_eq!(
        sent,
        vec![
            ConfigMessage::CompositionDataGet { page: 0 },
            ConfigMessage::AppKeyAdd {
                net_key_index: ki(0),
                app_key_index: ki(1),
                key: [0x5A; 16],
            },
            bind(e0, ModelId::HEALTH_SERVER),
            bind(e0, ModelId::GENERIC_ONOFF_SERVER),
            sub(e0, ModelId::GENERIC_ONOFF_SERVER),
            bind(e0, ModelId::GENERIC_LEVEL_CLIENT),
            publ(e0, ModelId::GENERIC_LEVEL_CLIENT),
            bind(e1, ModelId::SENSOR_SERVER),
            sub(e1, ModelId::SENSOR_SERVER),
            publ(e1, ModelId::SENSOR_SERVER),
            bind(e1, VENDOR),
        ]
    );
    assert_eq!(events.len(), sent.len() + 1);
    assert!(events[..sent.len()]
        .iter()
        .all(|e| matches!(e, ConfigClientEvent::Answered { .. })));
    assert_eq!(
        events.last(),
        Some(&ConfigClientEvent::Done { node: node() })
    );
    assert!(!client.is_busy(node()) && client.is_idle());
    assert_eq!(client.poll_timeout(), None);
    // The server took it all.
    assert_eq!(st.elements[1].models[1].app_keys, vec![1]);
    assert_eq!(
        st.elements[1].models[0].subscriptions,
        vec![Address(0xC001)]
    );
}

#[test]
fn nothing_to_subscribe_or_publish_without_the_addresses() {
    let mut client = ConfigClient::new();
    let mut st = two_elements();
    client.configure(
        node(),
        ConfigurePlan {
            subscribe: None,
            publish: None,
            ..plan()
        },
    );
    let (sent, _) = run_against(&mut client, &mut st);
    assert_eq!(sent.len(), 2 + 5);
    assert!(sent[2..]
        .iter()
        .all(|m| matches!(m, ConfigMessage::ModelAppBind { .. })));
}

#[test]
fn retries_every_interval_then_gives_up() {
    let mut client = ConfigClient::with_retry(Duration::from_secs(2), 4);
    assert!(client.request(node(), ConfigMessage::DefaultTtlGet));
    assert_eq!(client.poll_timeout(), Some(Instant::ZERO));
    let mut sends = Vec::new();
    for ms in (0..=10_000).step_by(100) {
        while let Some((dst, m)) = client.poll_request(at(ms)) {
            assert_eq!((dst, m.opcode), (node(), super::super::DEFAULT_TTL_GET));
            sends.push(ms);
        }
        if ms == 1_000 {
            assert_eq!(client.poll_timeout(), Some(at(2_000)));
        }
    }
    assert_eq!(sends, vec![0, 2_000, 4_000, 6_000]);
    assert_eq!(
        client.poll_event(),
        Some(ConfigClientEvent::Failed {
            node: node(),
            request: ConfigMessage::DefaultTtlGet,
            reason: ConfigFailure::NoAnswer { tries: 4 },
        })
    );
    assert_eq!(client.poll_event(), None);
    assert!(!client.is_busy(node()));
}

#[test]
fn a_late_answer_still_counts_and_the_next_request_goes_at_once() {
    let mut client = ConfigClient::new();
    client.request(node(), ConfigMessage::DefaultTtlGet);
    client.request(node(), ConfigMessage::RelayGet);
    assert!(client.poll_request(at(0)).is_some());
    assert!(client.poll_request(at(2_000)).is_some());
    let status = ConfigMessage::DefaultTtlStatus { ttl: 5 }.to_access();
    assert!(client.handle_message(at(3_000), Address(NODE), &status));
    let (_, m) = client.poll_request(at(3_000)).unwrap();
    assert_eq!(ConfigMessage::from_access(&m), Ok(ConfigMessage::RelayGet));
    // The same status again is no answer to the Relay Get.
    assert!(!client.handle_message(at(3_000), Address(NODE), &status));
}

#[test]
fn refusal_stops_the_queue() {
    let mut client = ConfigClient::new();
    let bind = ConfigMessage::ModelAppBind {
        element: Address(NODE),
        app_key_index: ki(0),
        model: ModelId::GENERIC_ONOFF_SERVER,
    };
    client.request(node(), bind.clone());
    client.request(node(), ConfigMessage::RelayGet);
    assert!(client.poll_request(at(0)).is_some());
    let refused = ConfigMessage::ModelAppStatus {
        status: StatusCode::InvalidAppKeyIndex,
        element: Address(NODE),
        app_key_index: ki(0),
        model: ModelId::GENERIC_ONOFF_SERVER,
    };
    assert!(client.handle_message(at(10), Address(NODE), &refused.to_access()));
    assert_eq!(
        client.poll_event(),
        Some(ConfigClientEvent::Answered {
            node: node(),
            request: bind.clone(),
            status: refused,
        })
    );
    assert_eq!(
        client.poll_event(),
        Some(ConfigClientEvent::Failed {
            node: node(),
            request: bind,
            reason: ConfigFailure::Refused(StatusCode::InvalidAppKeyIndex),
        })
    );
    assert_eq!(client.poll_event(), None);
    assert_eq!(client.poll_request(at(10_000)), None);
    assert!(client.is_idle());
}

#[test]
fn statuses_from_elsewhere_or_unasked_are_ignored() {
    let mut client = ConfigClient::new();
    let other = UnicastAddress::new(0x0200).unwrap();
    client.request(node(), ConfigMessage::DefaultTtlGet);
    client.request(other, ConfigMessage::DefaultTtlGet);
    let status = ConfigMessage::DefaultTtlStatus { ttl: 5 }.to_access();
    // Not asked yet.
    assert!(!client.handle_message(at(0), Address(NODE), &status));
    // Both nodes' requests go out at once, in the order queued.
    assert_eq!(client.poll_request(at(0)).map(|r| r.0), Some(node()));
    assert_eq!(client.poll_request(at(0)).map(|r| r.0), Some(other));
    assert_eq!(client.poll_request(at(0)), None);
    // Another source, a secondary element of the node, a group, another status.
    for src in [0x0300, NODE + 1, 0xC001, 0xFFFF] {
        assert!(!client.handle_message(at(5), Address(src), &status));
    }
    let relay = ConfigMessage::RelayStatus {
        state: super::super::FeatureState::Disabled,
        retransmit: Retransmit::default(),
    };
    assert!(!client.handle_message(at(5), Address(NODE), &relay.to_access()));
    assert_eq!(client.poll_event(), None);
    assert!(client.handle_message(at(5), Address(0x0200), &status));
    assert!(client.is_busy(node()) && !client.is_busy(other));
    client.cancel(node());
    assert!(client.is_idle());
    // A status is no request.
    assert!(!client.request(node(), ConfigMessage::DefaultTtlStatus { ttl: 5 }));
    assert!(client.is_idle());
}

#[test]
fn malformed_statuses_stop_the_queue() {
    let mut client = ConfigClient::new();
    client.configure(node(), plan());
    client.poll_request(at(0)).unwrap();
    // A Composition Data Status whose page 0 is cut short.
    let bad = ConfigMessage::CompositionDataStatus {
        page: 0,
        data: vec![1, 2, 3],
    };
    assert!(client.handle_message(at(1), Address(NODE), &bad.to_access()));
    assert!(matches!(
        client.poll_event(),
        Some(ConfigClientEvent::Failed {
            reason: ConfigFailure::Malformed(_),
            ..
        })
    ));
    assert!(client.is_idle());
    // A status with an empty parameter list.
    client.request(node(), ConfigMessage::DefaultTtlGet);
    client.poll_request(at(0)).unwrap();
    let empty = AccessMessage::new(super::super::DEFAULT_TTL_STATUS, vec![]);
    assert!(client.handle_message(at(1), Address(NODE), &empty));
    assert!(matches!(
        client.poll_event(),
        Some(ConfigClientEvent::Failed {
            reason: ConfigFailure::Malformed(Error::Truncated { .. }),
            ..
        })
    ));
}

proptest! {
    #[test]
    fn arbitrary_messages_never_panic(
        msgs in proptest::collection::vec(
            (
                prop_oneof![
                    any::<u8>().prop_map(|b| Opcode::One(b & 0x7F)),
                    (0x8000u16..=0x8050).prop_map(Opcode::Two),
                ],
                proptest::collection::vec(any::<u8>(), 0..64),
                prop_oneof![Just(NODE), any::<u16>()],
            ),
            0..20,
        ),
    ) {
        let mut client = ConfigClient::with_retry(Duration::from_millis(10), 2);
        client.configure(node(), plan());
        client.request(UnicastAddress::new(0x0001).unwrap(), ConfigMessage::BeaconGet);
        for (k, (opcode, params, src)) in msgs.into_iter().enumerate() {
            let now = at(k as u64 * 7);
            while client.poll_request(now).is_some() {}
            let _ = client.handle_message(now, Address(src), &AccessMessage::new(opcode, params));
            while client.poll_event().is_some() {}
            let _ = client.poll_timeout();
        }
    }
}
