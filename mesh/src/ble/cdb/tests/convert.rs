//! A CDB node to and from the node stack's state.

use crate::ble::address::{Address, IvIndex, UnicastAddress};
use crate::ble::cdb::convert::{log_to_period, period_log};
use crate::ble::cdb::*;
use crate::ble::foundation::config::{Publication as PubParams, PublishPeriod, Retransmit};
use crate::ble::models::{KeyIndex, ModelId};
use crate::ble::node::state::{
    AppKeyState, ElementState, HeartbeatPublication, HeartbeatSubscription, KeyRefreshPhase,
    ModelState, NetKeyState, NodeState, Publication,
};

fn sample_state() -> NodeState {
    let mut pub_params = PubParams {
        app_key_index: KeyIndex::from_bits(1),
        credential_flag: true,
        ttl: 0xFF,
        period: PublishPeriod::from_byte(0x45),
        retransmit: Retransmit {
            count: 2,
            interval_steps: 3,
        },
    };
    let label = [0x11u8; 16];
    let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
    onoff.app_keys = vec![1];
    onoff.subscriptions = vec![
        Address(0xC001),
        Address(crate::ble::crypto::virtual_address(&label)),
    ];
    onoff.labels = vec![label];
    onoff.publication = Some(Publication {
        address: Address(0xC002),
        label: None,
        params: pub_params,
    });
    pub_params.credential_flag = false;
    let mut vendor = ModelState::new(ModelId::Vendor {
        company_id: 0x05F1,
        model_id: 0x0001,
    });
    vendor.publication = Some(Publication {
        address: Address(crate::ble::crypto::virtual_address(&label)),
        label: Some(label),
        params: pub_params,
    });
    let mut s = NodeState::new(
        [7; 16],
        UnicastAddress::new(0x0010).unwrap(),
        [1; 16],
        [2; 16],
        IvIndex(9),
        vec![
            ElementState {
                location: 0x0100,
                models: vec![ModelState::new(ModelId::CONFIG_SERVER), onoff],
            },
            ElementState {
                location: 0x0101,
                models: vec![vendor],
            },
        ],
    );
    s.net_keys.push(NetKeyState {
        index: 5,
        key: [3; 16],
        new_key: Some([4; 16]),
        phase: KeyRefreshPhase::Second,
    });
    s.app_keys.push(AppKeyState {
        index: 1,
        net_index: 5,
        key: [5; 16],
        new_key: None,
    });
    s.relay = true;
    s.default_ttl = 9;
    s.heartbeat_publication = Some(HeartbeatPublication {
        dst: Address(0xC003),
        count: 0,
        period_log: 4,
        ttl: 5,
        features: 0x5,
        net_index: 5,
    });
    s.heartbeat_subscription = Some(HeartbeatSubscription {
        src: Address(0x0002),
        dst: Address(0x0010),
        period_log: 0,
    });
    s
}

#[test]
fn node_state_round_trip() {
    let s = sample_state();
    let mut c = Cdb::new([9; 16], "n", "2024-01-01T00:00:00Z");
    c.add_keys_of(&s, "2024-01-01T00:00:00Z");
    let node = CdbNode::from_node_state(&s, Some("lamp".into()));
    assert_eq!(
        node.network_transmit,
        Some(CdbTransmit {
            count: 3,
            interval: 20
        })
    );
    c.nodes.push(node.clone());
    let c = Cdb::from_json(&c.to_json()).unwrap();
    assert_eq!(c.net_key(5).unwrap().old_key, Some(HexKey([3; 16])));
    assert_eq!(c.net_key(5).unwrap().key, HexKey([4; 16]));
    let back = c.node_state(&c.nodes[0], IvIndex(9)).unwrap();
    assert_eq!(back, s);
    let json = c.to_json();
    assert!(json.contains("\"subscribe\": [\n                \"C001\",\n                \"11111111111111111111111111111111\""), "{json}");
    assert!(json.contains("\"modelId\": \"05F10001\""));
    assert!(
        json.contains("\"features\": [\n          \"relay\",\n          \"friend\""),
        "{json}"
    );
}

#[test]
fn node_state_needs_device_key_and_known_keys() {
    let s = sample_state();
    let mut c = Cdb::new([9; 16], "n", "t");
    let mut node = CdbNode::from_node_state(&s, None);
    c.nodes.push(node.clone());
    assert_eq!(
        c.node_state(&node, IvIndex(0)).unwrap_err().to_string(),
        "nodes[0].netKeys[0].index: no network key has index 0"
    );
    node.device_key = None;
    c.nodes[0] = node.clone();
    assert!(c
        .node_state(&node, IvIndex(0))
        .unwrap_err()
        .to_string()
        .starts_with("nodes[0].deviceKey"));
}

#[test]
fn heartbeat_period_log() {
    assert_eq!(period_log(0), Some(0));
    assert_eq!(period_log(1), Some(1));
    assert_eq!(period_log(32768), Some(16));
    assert_eq!(period_log(0xFFFF), Some(0x11));
    assert_eq!(period_log(3), None);
    for l in 0..=0x11 {
        assert_eq!(period_log(log_to_period(l)), Some(l));
    }
}
