//! Tests of the Configuration Server: the samples of MshPRT §8.3 and §8.10, each message
//! family (`keys.rs`, `models.rs`, `heartbeat.rs`), the node-wide states, and properties over
//! arbitrary messages.

use super::heartbeat::*;
use super::keys::*;
use super::models::*;
use super::*;
use crate::ble::address::{IvIndex, UnicastAddress};
use crate::ble::foundation::config as cfg;
use crate::ble::models::StepResolution;
use crate::ble::node::state::{ElementState, ModelState};
use crate::ble::wire::access::Opcode;
use crate::ble::wire::Wire;
use proptest::prelude::*;

const PRIMARY: u16 = 0x0100;
const NET0: [u8; 16] = [0x11; 16];
const KEY_A: [u8; 16] = [0xAA; 16];
const KEY_B: [u8; 16] = [0xBB; 16];
const VENDOR: ModelId = ModelId::Vendor {
    company_id: 0x05F1,
    model_id: 0x0001,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn ki(v: u16) -> KeyIndex {
    KeyIndex::new(v).unwrap()
}

/// Two elements: Configuration Server, Health Server and Generic OnOff Server on the
/// primary; Generic Level Server and a vendor model on the second.
fn state() -> NodeState {
    NodeState::new(
        [1; 16],
        UnicastAddress::new(PRIMARY).unwrap(),
        [2; 16],
        NET0,
        IvIndex(0),
        vec![
            ElementState {
                location: 0x0100,
                models: vec![
                    ModelState::new(ModelId::CONFIG_SERVER),
                    ModelState::new(ModelId::HEALTH_SERVER),
                    ModelState::new(ModelId::GENERIC_ONOFF_SERVER),
                ],
            },
            ElementState {
                location: 0x0101,
                models: vec![
                    ModelState::new(ModelId::GENERIC_LEVEL_SERVER),
                    ModelState::new(VENDOR),
                ],
            },
        ],
    )
}

/// Handles `msg` and applies the key refresh effects as the node would.
fn run(st: &mut NodeState, msg: ConfigMessage) -> ConfigOutcome {
    let out = handle(st, &msg);
    for e in &out.effects {
        if let Effect::KeyRefresh { net_index, phase } = e {
            apply_key_refresh(st, *net_index, *phase);
        }
    }
    out
}

/// The Status field of a reply.
fn status(out: &ConfigOutcome) -> StatusCode {
    let reply = out.reply.as_ref().expect("a reply");
    reply
        .status()
        .unwrap_or_else(|| panic!("no status in {reply:?}"))
}

fn app_add(net: u16, app: u16, key: [u8; 16]) -> ConfigMessage {
    ConfigMessage::AppKeyAdd {
        net_key_index: ki(net),
        app_key_index: ki(app),
        key,
    }
}

fn bind(element: u16, app: u16, model: ModelId) -> ConfigMessage {
    ConfigMessage::ModelAppBind {
        element: Address(element),
        app_key_index: ki(app),
        model,
    }
}

fn pub_params(app: u16) -> PublishParams {
    PublishParams {
        app_key_index: ki(app),
        credential_flag: false,
        ttl: 5,
        period: PublishPeriod {
            steps: 10,
            resolution: StepResolution::S1,
        },
        retransmit: Retransmit {
            count: 2,
            interval_steps: 4,
        },
    }
}

fn pub_set(element: u16, address: u16, app: u16, model: ModelId) -> ConfigMessage {
    ConfigMessage::ModelPublicationSet {
        element: Address(element),
        address: Address(address),
        publication: pub_params(app),
        model,
    }
}

fn sub_add(element: u16, address: u16, model: ModelId) -> ConfigMessage {
    ConfigMessage::ModelSubscriptionAdd {
        element: Address(element),
        address: Address(address),
        model,
    }
}

fn onoff(st: &NodeState) -> &ModelState {
    &st.elements[0].models[2]
}

/// The state invariants the Configuration Server keeps (after key refresh effects are
/// applied).
fn check(st: &NodeState) -> Result<(), String> {
    if st.net_keys.is_empty() {
        return Err("no NetKey".into());
    }
    for (i, k) in st.net_keys.iter().enumerate() {
        if st.net_keys[..i].iter().any(|o| o.index == k.index) {
            return Err(format!("NetKey {:#x} twice", k.index));
        }
        if k.phase != KeyRefreshPhase::Normal && k.new_key.is_none() {
            return Err(format!(
                "NetKey {:#x} in {:?} without new key",
                k.index, k.phase
            ));
        }
    }
    for (i, a) in st.app_keys.iter().enumerate() {
        if st.app_keys[..i].iter().any(|o| o.index == a.index) {
            return Err(format!("AppKey {:#x} twice", a.index));
        }
        let Some(n) = st.net_keys.iter().find(|n| n.index == a.net_index) else {
            return Err(format!("AppKey {:#x} bound to a missing NetKey", a.index));
        };
        if a.new_key.is_some() && n.phase == KeyRefreshPhase::Normal {
            return Err(format!("AppKey {:#x} has a new key in Normal", a.index));
        }
    }
    let app_exists = |i: u16| st.app_keys.iter().any(|a| a.index == i);
    for e in &st.elements {
        for m in &e.models {
            for (i, k) in m.app_keys.iter().enumerate() {
                if !app_exists(*k) || m.app_keys[..i].contains(k) {
                    return Err(format!("model {} binding {k:#x}", m.id));
                }
            }
            if device_key_model(m.id)
                && (!m.app_keys.is_empty()
                    || m.publication.is_some()
                    || !m.subscriptions.is_empty())
            {
                return Err(format!("device-key model {} configured", m.id));
            }
            if let Some(p) = &m.publication {
                if !app_exists(p.params.app_key_index.get()) {
                    return Err(format!("model {} publishes with a missing key", m.id));
                }
                match p.label {
                    Some(l) if p.address != Address(virtual_address(&l)) => {
                        return Err("virtual publication without its label".into())
                    }
                    None if !(p.address.is_unicast() || p.address.is_group()) => {
                        return Err("bad publish address".into())
                    }
                    _ => {}
                }
            }
            let groups = m.subscriptions.iter().filter(|a| a.is_group()).count();
            let virtuals = m.subscriptions.iter().filter(|a| a.is_virtual()).count();
            if groups + virtuals != m.subscriptions.len()
                || virtuals != m.labels.len()
                || m.subscriptions.len() > SUBSCRIPTION_CAPACITY
            {
                return Err(format!(
                    "model {} subscriptions {:?}",
                    m.id, m.subscriptions
                ));
            }
            for l in &m.labels {
                if !m.subscriptions.contains(&Address(virtual_address(l))) {
                    return Err("label without its virtual address".into());
                }
            }
            if m.subscriptions.contains(&Address::ALL_NODES) {
                return Err("subscribed to all-nodes".into());
            }
        }
    }
    if let Some(p) = &st.heartbeat_publication {
        if !st.net_keys.iter().any(|n| n.index == p.net_index) {
            return Err("heartbeat publication on a missing NetKey".into());
        }
    }
    Ok(())
}

/// A Heartbeat Subscription Set.
fn hb_set(src: u16, dst: u16, period_log: u8) -> ConfigMessage {
    ConfigMessage::HeartbeatSubscriptionSet {
        source: Address(src),
        destination: Address(dst),
        period_log,
    }
}

mod heartbeat;
mod keys;
mod models;

// -------------------------------------------------------------------------------------
// Node-wide states
// -------------------------------------------------------------------------------------

#[test]
fn simple_states() {
    let mut st = state();
    let bytes = |st: &mut NodeState, m| run(st, m).reply.unwrap().to_access().to_vec();

    assert_eq!(bytes(&mut st, ConfigMessage::BeaconGet), h("800b01"));
    let out = run(&mut st, ConfigMessage::BeaconSet { enabled: false });
    assert_eq!(out.effects, vec![Effect::BeaconChanged]);
    assert!(!st.beacon);
    assert_eq!(bytes(&mut st, ConfigMessage::BeaconGet), h("800b00"));

    assert_eq!(bytes(&mut st, ConfigMessage::DefaultTtlGet), h("800e07"));
    assert_eq!(
        bytes(&mut st, ConfigMessage::DefaultTtlSet { ttl: 0x0A }),
        h("800e0a")
    );
    assert_eq!(st.default_ttl, 0x0A);
    // Prohibited values (only a hand-built message can carry them): no answer.
    assert_eq!(
        run(&mut st, ConfigMessage::DefaultTtlSet { ttl: 1 }).reply,
        None
    );
    assert_eq!(
        run(&mut st, ConfigMessage::DefaultTtlSet { ttl: 0x80 }).reply,
        None
    );
    assert_eq!(st.default_ttl, 0x0A);

    // GATT Proxy and Friend: 0x02 "not supported", whatever is asked.
    assert_eq!(bytes(&mut st, ConfigMessage::GattProxyGet), h("801402"));
    let out = run(
        &mut st,
        ConfigMessage::GattProxySet {
            state: FeatureState::Enabled,
        },
    );
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("801402"));
    assert!(out.effects.is_empty());
    // A node with the Proxy feature (§4.2.11): the state is reported and set; 0x02 in a Set
    // is prohibited (no answer).
    st.gatt_proxy = Some(false);
    assert_eq!(bytes(&mut st, ConfigMessage::GattProxyGet), h("801400"));
    let out = run(
        &mut st,
        ConfigMessage::GattProxySet {
            state: FeatureState::Enabled,
        },
    );
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("801401"));
    assert_eq!(out.effects, [Effect::GattProxyChanged]);
    assert_eq!(st.gatt_proxy, Some(true));
    assert!(composition_page0(&st).features.proxy());
    let out = run(
        &mut st,
        ConfigMessage::GattProxySet {
            state: FeatureState::Enabled,
        },
    );
    assert!(out.effects.is_empty(), "no change, no effect");
    assert_eq!(
        run(
            &mut st,
            ConfigMessage::GattProxySet {
                state: FeatureState::NotSupported
            }
        )
        .reply,
        None
    );
    assert_eq!(st.gatt_proxy, Some(true));
    st.gatt_proxy = None;
    assert_eq!(bytes(&mut st, ConfigMessage::FriendGet), h("801102"));
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::FriendSet {
                state: FeatureState::Enabled
            }
        ),
        h("801102")
    );

    // Relay: state and retransmit (count 2, 1 step → 0x0A).
    assert_eq!(bytes(&mut st, ConfigMessage::RelayGet), h("8028000a"));
    let out = run(
        &mut st,
        ConfigMessage::RelaySet {
            state: FeatureState::Enabled,
            retransmit: Retransmit::from_byte(0x23),
        },
    );
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("80280123"));
    assert_eq!(out.effects, vec![Effect::RelayChanged]);
    assert!(st.relay);

    assert_eq!(
        bytes(&mut st, ConfigMessage::NetworkTransmitGet),
        h("80250a")
    );
    let out = run(
        &mut st,
        ConfigMessage::NetworkTransmitSet {
            transmit: Retransmit::from_byte(0x47),
        },
    );
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("802547"));
    assert_eq!(out.effects, vec![Effect::NetworkTransmitChanged]);

    // Node Identity: not supported on a known subnet, 0x04 otherwise.
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::NodeIdentityGet {
                net_key_index: ki(0)
            }
        ),
        h("8048000000 02".replace(' ', "").as_str())
    );
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::NodeIdentityGet {
                net_key_index: ki(3)
            }
        ),
        h("804804030000")
    );
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::NodeIdentitySet {
                net_key_index: ki(3),
                identity: FeatureState::Enabled,
            }
        ),
        h("804804030001")
    );
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::NodeIdentitySet {
                net_key_index: ki(0),
                identity: FeatureState::Enabled,
            }
        ),
        h("804800000002")
    );
    // With the Proxy feature (§4.2.12): Disabled, then Enabled by a Set; run-time state, so
    // nothing to persist.
    st.gatt_proxy = Some(true);
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::NodeIdentityGet {
                net_key_index: ki(0)
            }
        ),
        h("804800000000")
    );
    let out = run(
        &mut st,
        ConfigMessage::NodeIdentitySet {
            net_key_index: ki(0),
            identity: FeatureState::Enabled,
        },
    );
    assert!(!out.state_changed());
    assert_eq!(out.effects, [Effect::NodeIdentityChanged]);
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("804800000001"));
    assert_eq!(st.node_identity, [0]);
    st.gatt_proxy = None;
    st.node_identity.clear();

    // LPN PollTimeout: no friendships, 0.
    assert_eq!(
        bytes(
            &mut st,
            ConfigMessage::LowPowerNodePollTimeoutGet {
                lpn: Address(0x0042)
            }
        ),
        h("802e4200000000")
    );
    assert_eq!(
        run(
            &mut st,
            ConfigMessage::LowPowerNodePollTimeoutGet {
                lpn: Address(0xC000)
            }
        )
        .reply,
        None
    );

    // Node Reset: the status, then the reset.
    let out = run(&mut st, ConfigMessage::NodeReset);
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("804a"));
    assert_eq!(out.effects, vec![Effect::NodeReset]);
    assert!(!ConfigOutcome {
        reply: None,
        effects: vec![Effect::NodeReset]
    }
    .state_changed());
}

#[test]
fn client_messages_get_no_answer() {
    let mut st = state();
    let before = st.clone();
    for m in [
        ConfigMessage::BeaconStatus { enabled: true },
        ConfigMessage::NodeResetStatus,
        ConfigMessage::AppKeyStatus {
            status: StatusCode::Success,
            net_key_index: ki(0),
            app_key_index: ki(0),
        },
        ConfigMessage::NetKeyList {
            net_key_indexes: vec![],
        },
        ConfigMessage::CompositionDataStatus {
            page: 0,
            data: vec![],
        },
    ] {
        assert_eq!(handle(&mut st, &m), ConfigOutcome::default());
    }
    assert_eq!(st, before);
}

// -------------------------------------------------------------------------------------
// Composition Data
// -------------------------------------------------------------------------------------

// MshPRT §8.10.1: the sample Composition Data Page 0 (CID 0x000C, PID 0x001A, VID 0x0001,
// CRPL 8, one element with five SIG models and one vendor model) built from a state. The
// sample claims relay and proxy (0x0003); this node supports relay only (0x0001).
#[test]
fn composition_page0_sample() {
    let mut st = state();
    st.cid = 0x000C;
    st.pid = 0x001A;
    st.vid = 0x0001;
    st.crpl = 8;
    st.elements = vec![ElementState {
        location: 0x0100,
        models: [0x0000, 0x8000, 0x0001, 0x1000, 0x1003]
            .into_iter()
            .map(|m| ModelState::new(ModelId::Sig(m)))
            .chain([ModelState::new(ModelId::Vendor {
                company_id: 0x003F,
                model_id: 0x002A,
            })])
            .collect(),
    }];
    let sample = h("0C001A0001000800030000010501000000800100001003103F002A00");
    let mut ours = sample.clone();
    ours[8] = 0x01;
    let page = composition_page0(&st);
    assert_eq!(page.to_bytes(), ours);
    assert_eq!(CompositionDataPage0::parse(&ours), Ok(page));

    // Any page asked for: page 0, the highest page not above it that exists.
    for asked in [0, 1, 0x80, 0xFF] {
        let out = run(&mut st, ConfigMessage::CompositionDataGet { page: asked });
        assert_eq!(
            out.reply,
            Some(ConfigMessage::CompositionDataStatus {
                page: 0,
                data: ours.clone(),
            })
        );
        assert!(out.effects.is_empty());
    }
}

#[test]
fn composition_orders_sig_before_vendor() {
    let st = state();
    let page = composition_page0(&st);
    assert_eq!(page.elements.len(), 2);
    assert_eq!(page.elements[0].sig_models, vec![0x0000, 0x0002, 0x1000]);
    assert_eq!(page.elements[1].sig_models, vec![0x1002]);
    assert_eq!(page.elements[1].vendor_models.len(), 1);
    assert!(page.features.relay() && !page.features.proxy());
    assert_eq!(page.crpl, st.crpl);
}

// -------------------------------------------------------------------------------------
// Properties
// -------------------------------------------------------------------------------------

/// Every opcode of the Configuration messages (MshPRT §4.3.4).
const OPCODES: [Opcode; 67] = [
    cfg::APPKEY_ADD,
    cfg::APPKEY_UPDATE,
    cfg::COMPOSITION_DATA_STATUS,
    cfg::MODEL_PUBLICATION_SET,
    cfg::HEARTBEAT_PUBLICATION_STATUS,
    cfg::APPKEY_DELETE,
    cfg::APPKEY_GET,
    cfg::APPKEY_LIST,
    cfg::APPKEY_STATUS,
    cfg::COMPOSITION_DATA_GET,
    cfg::BEACON_GET,
    cfg::BEACON_SET,
    cfg::BEACON_STATUS,
    cfg::DEFAULT_TTL_GET,
    cfg::DEFAULT_TTL_SET,
    cfg::DEFAULT_TTL_STATUS,
    cfg::FRIEND_GET,
    cfg::FRIEND_SET,
    cfg::FRIEND_STATUS,
    cfg::GATT_PROXY_GET,
    cfg::GATT_PROXY_SET,
    cfg::GATT_PROXY_STATUS,
    cfg::KEY_REFRESH_PHASE_GET,
    cfg::KEY_REFRESH_PHASE_SET,
    cfg::KEY_REFRESH_PHASE_STATUS,
    cfg::MODEL_PUBLICATION_GET,
    cfg::MODEL_PUBLICATION_STATUS,
    cfg::MODEL_PUBLICATION_VIRTUAL_ADDRESS_SET,
    cfg::MODEL_SUBSCRIPTION_ADD,
    cfg::MODEL_SUBSCRIPTION_DELETE,
    cfg::MODEL_SUBSCRIPTION_DELETE_ALL,
    cfg::MODEL_SUBSCRIPTION_OVERWRITE,
    cfg::MODEL_SUBSCRIPTION_STATUS,
    cfg::MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_ADD,
    cfg::MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_DELETE,
    cfg::MODEL_SUBSCRIPTION_VIRTUAL_ADDRESS_OVERWRITE,
    cfg::NETWORK_TRANSMIT_GET,
    cfg::NETWORK_TRANSMIT_SET,
    cfg::NETWORK_TRANSMIT_STATUS,
    cfg::RELAY_GET,
    cfg::RELAY_SET,
    cfg::RELAY_STATUS,
    cfg::SIG_MODEL_SUBSCRIPTION_GET,
    cfg::SIG_MODEL_SUBSCRIPTION_LIST,
    cfg::VENDOR_MODEL_SUBSCRIPTION_GET,
    cfg::VENDOR_MODEL_SUBSCRIPTION_LIST,
    cfg::LPN_POLL_TIMEOUT_GET,
    cfg::LPN_POLL_TIMEOUT_STATUS,
    cfg::HEARTBEAT_PUBLICATION_GET,
    cfg::HEARTBEAT_PUBLICATION_SET,
    cfg::HEARTBEAT_SUBSCRIPTION_GET,
    cfg::HEARTBEAT_SUBSCRIPTION_SET,
    cfg::HEARTBEAT_SUBSCRIPTION_STATUS,
    cfg::MODEL_APP_BIND,
    cfg::MODEL_APP_STATUS,
    cfg::MODEL_APP_UNBIND,
    cfg::NETKEY_ADD,
    cfg::NETKEY_DELETE,
    cfg::NETKEY_GET,
    cfg::NETKEY_LIST,
    cfg::NETKEY_STATUS,
    cfg::NETKEY_UPDATE,
    cfg::NODE_IDENTITY_GET,
    cfg::NODE_IDENTITY_SET,
    cfg::NODE_IDENTITY_STATUS,
    cfg::NODE_RESET,
    cfg::NODE_RESET_STATUS,
];

/// A parameter byte biased towards this node's addresses, indexes and models, so that
/// random messages often reach the state-changing paths.
fn param_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => 0u8..4,
        1 => Just(0x01u8),
        1 => Just(0xC0u8),
        1 => Just(0x10u8),
        2 => any::<u8>(),
    ]
}

/// Parameter lengths of the Configuration messages (SIG and vendor forms), and a few
/// others.
const LENGTHS: [usize; 24] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18, 19, 20, 22, 24, 25, 26, 27, 30,
];

/// Random parameters of a Configuration opcode, as they may arrive.
fn raw_message() -> impl Strategy<Value = (Opcode, Vec<u8>)> {
    (0..OPCODES.len(), 0..LENGTHS.len()).prop_flat_map(|(i, l)| {
        (
            Just(OPCODES[i]),
            prop::collection::vec(param_byte(), LENGTHS[l]),
        )
    })
}

/// A message built from small domains of this node's addresses, keys and models.
fn built_message() -> impl Strategy<Value = ConfigMessage> {
    let models = [
        ModelId::CONFIG_SERVER,
        ModelId::HEALTH_SERVER,
        ModelId::GENERIC_ONOFF_SERVER,
        ModelId::GENERIC_LEVEL_SERVER,
        VENDOR,
        ModelId::Sig(0x1234),
    ];
    let elements = [PRIMARY, PRIMARY + 1, PRIMARY + 2, 0xC000];
    let addrs = [0xC000u16, 0xC001, 0xFFFE, 0xFFFF, 0x0005, 0x0000, 0x8123];
    let labels = [[1u8; 16], [2u8; 16]];
    (
        (
            0u8..27,
            0..elements.len(),
            0..models.len(),
            0u16..4,
            0u16..3,
        ),
        (
            any::<bool>(),
            0..addrs.len(),
            0..labels.len(),
            any::<u8>(),
            any::<u8>(),
        ),
        (0u8..4, prop::bool::weighted(0.1), 2u8..4, 0u8..6),
    )
        .prop_map(
            move |((sel, e, m, app, net), (kb, a, l, b1, b2), (ttl, cred, tr, log))| {
                use ConfigMessage as M;
                let element = Address(elements[e]);
                let model = models[m];
                let address = Address(addrs[a]);
                let label = labels[l];
                let key = if kb { KEY_A } else { KEY_B };
                let (app, net) = (ki(app), ki(net));
                let publication = PublishParams {
                    app_key_index: app,
                    credential_flag: cred,
                    ttl: [0, 5, 0x7F, 0xFF][usize::from(ttl)],
                    period: PublishPeriod::from_byte(b1),
                    retransmit: Retransmit::from_byte(b2),
                };
                match sel {
                    0 => M::AppKeyAdd {
                        net_key_index: net,
                        app_key_index: app,
                        key,
                    },
                    1 => M::AppKeyUpdate {
                        net_key_index: net,
                        app_key_index: app,
                        key,
                    },
                    2 => M::AppKeyDelete {
                        net_key_index: net,
                        app_key_index: app,
                    },
                    3 => M::NetKeyAdd {
                        net_key_index: net,
                        key,
                    },
                    4 => M::NetKeyUpdate {
                        net_key_index: net,
                        key,
                    },
                    5 => M::NetKeyDelete { net_key_index: net },
                    6 => M::ModelAppBind {
                        element,
                        app_key_index: app,
                        model,
                    },
                    7 => M::ModelAppUnbind {
                        element,
                        app_key_index: app,
                        model,
                    },
                    8 => M::ModelPublicationSet {
                        element,
                        address,
                        publication,
                        model,
                    },
                    9 => M::ModelPublicationVirtualAddressSet {
                        element,
                        label,
                        publication,
                        model,
                    },
                    10 => M::ModelSubscriptionAdd {
                        element,
                        address,
                        model,
                    },
                    11 => M::ModelSubscriptionDelete {
                        element,
                        address,
                        model,
                    },
                    12 => M::ModelSubscriptionOverwrite {
                        element,
                        address,
                        model,
                    },
                    13 => M::ModelSubscriptionVirtualAddressAdd {
                        element,
                        label,
                        model,
                    },
                    14 => M::ModelSubscriptionVirtualAddressDelete {
                        element,
                        label,
                        model,
                    },
                    15 => M::ModelSubscriptionVirtualAddressOverwrite {
                        element,
                        label,
                        model,
                    },
                    16 => M::ModelSubscriptionDeleteAll { element, model },
                    17 => M::KeyRefreshPhaseSet {
                        net_key_index: net,
                        transition: tr,
                    },
                    18 => M::HeartbeatPublicationSet(HeartbeatPublicationParams {
                        destination: address,
                        count_log: [0, 1, 5, 0x11, 0xFF, 3][usize::from(log)],
                        period_log: log,
                        ttl: 3,
                        features: Features(u16::from(b1)),
                        net_key_index: net,
                    }),
                    19 => M::HeartbeatSubscriptionSet {
                        source: Address(u16::from(b1 & 0x3)),
                        destination: address,
                        period_log: log,
                    },
                    20 => M::ModelPublicationGet { element, model },
                    21 => M::ModelSubscriptionGet { element, model },
                    22 => M::ModelAppGet { element, model },
                    23 => M::AppKeyGet { net_key_index: net },
                    24 => M::RelaySet {
                        state: if kb {
                            FeatureState::Enabled
                        } else {
                            FeatureState::Disabled
                        },
                        retransmit: Retransmit::from_byte(b2),
                    },
                    25 => M::NodeReset,
                    _ => M::CompositionDataGet { page: b1 },
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `handle` never panics on a parsed Configuration message, and answers every request
    /// it answers with a message that survives the codec.
    #[test]
    fn never_panics_on_parsed_messages(
        msgs in prop::collection::vec(raw_message(), 1..32),
    ) {
        let mut st = state();
        for (opcode, params) in msgs {
            let Ok(msg) = ConfigMessage::parse(opcode, &params) else {
                continue;
            };
            let out = run(&mut st, msg);
            if let Some(reply) = out.reply {
                let access = reply.to_access();
                prop_assert_eq!(ConfigMessage::from_access(&access), Ok(reply));
            }
            prop_assert_eq!(check(&st), Ok(()));
        }
    }

    /// Any mix of Heartbeat Subscription Sets and Gets, Heartbeats and time never panics;
    /// every answer survives the codec; the counters stay within their states' ranges.
    #[test]
    fn heartbeat_subscription_never_breaks(
        ops in prop::collection::vec(
            (0u8..4, 0usize..4, 0usize..4, any::<u8>(), 0u64..40_000_000),
            1..64,
        ),
    ) {
        const ADDRS: [u16; 4] = [0x0000, 0x0042, 0xC000, PRIMARY];
        let mut st = state();
        let mut hb = HeartbeatSubscriptionCounters::default();
        let mut now = Instant::ZERO;
        for (op, a, b, x, dt) in ops {
            now += Duration::from_micros(dt);
            let msg = match op {
                0 => Some(hb_set(ADDRS[a], ADDRS[b], x % 0x14)),
                1 => Some(ConfigMessage::HeartbeatSubscriptionGet),
                _ => {
                    let before = hb.count;
                    let counted = heartbeat_received(
                        &st, &mut hb, now, Address(ADDRS[a]), Address(ADDRS[b]), x,
                    );
                    prop_assert_eq!(hb.count, before.saturating_add(u16::from(counted)));
                    None
                }
            };
            if let Some(msg) = msg {
                let out = handle_at(&mut st, &mut hb, now, &msg);
                if let Some(reply) = out.reply {
                    let access = reply.to_access();
                    prop_assert_eq!(ConfigMessage::from_access(&access), Ok(reply));
                }
            }
            prop_assert!(hb.min_hops <= MAX_HOPS_VALUE && hb.max_hops <= MAX_HOPS_VALUE);
            if hb.count > 0 {
                prop_assert!(1 <= hb.min_hops && hb.min_hops <= hb.max_hops);
            }
            prop_assert_eq!(
                heartbeat_subscription_report(&st, &hb, now).is_some(),
                st.heartbeat_subscription.is_some()
            );
        }
    }

    /// After any sequence of requests (key refresh effects applied as the node does), the
    /// state stays consistent: bindings and publications name stored AppKeys, AppKeys name
    /// stored NetKeys, labels match virtual subscriptions, the last NetKey stays.
    #[test]
    fn state_stays_consistent(
        msgs in prop::collection::vec(built_message(), 1..64),
    ) {
        let mut st = state();
        for msg in msgs {
            let before = st.clone();
            let out = run(&mut st, msg.clone());
            prop_assert_eq!(check(&st), Ok(()), "after {:?}", msg);
            // Anything that changed the state says so.
            if st != before {
                prop_assert!(out.state_changed(), "silent change by {:?}", msg);
            }
            if let Some(reply) = out.reply {
                let access = reply.to_access();
                prop_assert_eq!(ConfigMessage::from_access(&access), Ok(reply));
            }
        }
    }
}
