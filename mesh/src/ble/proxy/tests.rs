//! The Proxy Server and Client together on a hand-driven air: each advertising frame reaches
//! the nodes linked to its sender at once; ATT values go between the client and node 0 over
//! one connection, each checked to fit the connection's MTU.

use super::*;
use crate::ble::address::{Address, IvIndex, UnicastAddress};
use crate::ble::crypto::NetKey;
use crate::ble::foundation::config::{ConfigMessage, FeatureState};
use crate::ble::node::tests::{node, TestRng};
use crate::ble::node::{Command, DropReason, Event, KeyRef, Node};
use crate::ble::wire::adv::{AdStructure, ProxyServiceData, MESH_PROXY_SERVICE_UUID};
use crate::ble::wire::proxy::{FilterType, MessageType, ProxyConfigMessage, ProxyPdu};
use crate::ble::wire::Wire;
use crate::frame::{Bearer, ConnId, RxFrame, Station, TxFrame};
use crate::time::{Duration, Instant};

const CONN: ConnId = ConnId(7);

fn gatt(bytes: Vec<u8>) -> RxFrame {
    RxFrame {
        lqi: None,
        bearer: Bearer::Gatt(CONN),
        channel: 0,
        rssi: None,
        timestamp: Instant::ZERO,
        adv_address: None,
        bytes,
    }
}

fn adv(f: &TxFrame, now: Instant) -> RxFrame {
    RxFrame {
        lqi: None,
        bearer: f.bearer,
        channel: 37,
        rssi: Some(-60),
        timestamp: now,
        adv_address: None,
        bytes: f.bytes.clone(),
    }
}

/// A proxy server with the feature on and no relay, the given address.
fn proxy_node(addr: u16) -> Node<TestRng> {
    let mut n = node(addr, false);
    n.update_state(|s| s.gatt_proxy = Some(true));
    n
}

/// The client: its own node at 0x0100, holding the device keys of nodes 1..=3.
fn client() -> ProxyClient<TestRng> {
    let mut n = node(0x0100, false);
    n.update_state(|s| {
        for a in 1..=3u16 {
            s.remote_dev_keys
                .push((UnicastAddress::new(a).unwrap(), [a as u8; 16]));
        }
    });
    ProxyClient::new(n)
}

#[derive(Default)]
struct Log {
    nodes: Vec<(usize, Event)>,
    client: Vec<ProxyClientEvent>,
    /// ATT values each way: (to the server?, bytes).
    values: Vec<(bool, Vec<u8>)>,
}

/// Runs until nothing is due before `until`. `links[i]` lists who hears node i; the client is
/// connected to node 0 (while `connected`) with ATT MTU `mtu`.
fn run(
    nodes: &mut [Node<TestRng>],
    client: &mut ProxyClient<TestRng>,
    links: &[Vec<usize>],
    mtu: u16,
    from: Instant,
    until: Instant,
    log: &mut Log,
) {
    let mut now = from;
    loop {
        for n in nodes.iter_mut() {
            if n.poll_timeout().is_some_and(|d| d <= now) {
                n.handle_timeout(now);
            }
        }
        if client.poll_timeout().is_some_and(|d| d <= now) {
            client.handle_timeout(now);
        }
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..nodes.len() {
                while let Some(e) = nodes[i].poll_event() {
                    log.nodes.push((i, e));
                }
                while let Some(f) = nodes[i].poll_transmit(now) {
                    progress = true;
                    match f.bearer {
                        Bearer::Gatt(c) => {
                            assert_eq!((i, c), (0, CONN));
                            assert!(f.bytes.len() <= usize::from(mtu) - 3);
                            log.values.push((false, f.bytes.clone()));
                            let mut rx = gatt(f.bytes);
                            rx.timestamp = now;
                            client.handle_frame(now, &rx);
                        }
                        _ => {
                            for &j in &links[i] {
                                nodes[j].handle_frame(now, &adv(&f, now));
                            }
                        }
                    }
                }
            }
            while let Some(e) = client.poll_event() {
                log.client.push(e);
            }
            while let Some(f) = client.poll_transmit(now) {
                progress = true;
                assert_eq!(f.bearer, Bearer::Gatt(CONN));
                assert!(f.bytes.len() <= usize::from(mtu) - 3);
                log.values.push((true, f.bytes.clone()));
                nodes[0].handle_frame(now, &gatt(f.bytes));
            }
        }
        let next = nodes
            .iter()
            .filter_map(|n| n.poll_timeout())
            .chain(client.poll_timeout())
            .filter(|t| *t > now)
            .min();
        match next {
            Some(t) if t <= until => now = t,
            _ => break,
        }
    }
}

fn config_answers(log: &Log) -> Vec<ConfigMessage> {
    log.client
        .iter()
        .filter_map(|e| match e {
            ProxyClientEvent::Node(Event::Access {
                message,
                key: KeyRef::Dev,
                ..
            }) => ConfigMessage::parse(message.opcode, &message.parameters).ok(),
            _ => None,
        })
        .collect()
}

fn dev_get(dst: u16, message: ConfigMessage) -> Command {
    Command::Send {
        element: 0,
        dst: Address(dst),
        label: None,
        key: KeyRef::Dev,
        net_index: 0,
        ttl: None,
        message: message.to_access(),
    }
}

/// P (proxy, no relay) -- R (relay) -- T: the client, on a connection to P at the smallest
/// MTU, reaches T two advertising hops behind P, and T's answer comes back to it.
#[test]
fn client_reaches_a_node_two_hops_behind_the_proxy() {
    let mut nodes = vec![proxy_node(1), node(2, true), node(3, false)];
    let links = vec![vec![1], vec![0, 2], vec![1]];
    let mut c = client();
    let t0 = Instant::from_micros(1_000);
    assert!(nodes[0].proxy_connected(t0, CONN, 23));
    c.connect(t0, CONN, 23);
    let mut log = Log::default();
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t0,
        t0 + Duration::from_millis(500),
        &mut log,
    );
    // The server answered the client's Add Addresses with its Filter Status.
    assert!(log.client.contains(&ProxyClientEvent::FilterStatus {
        filter_type: FilterType::AcceptList,
        list_size: 1
    }));
    assert_eq!(
        nodes[0].proxy_filter(CONN).unwrap().addresses(),
        [Address(0x0100)]
    );
    // The server's beacon reached the client's node (and authenticated: no beacon drop).
    assert!(log
        .values
        .iter()
        .any(|(up, v)| !up && ProxyPdu::parse(v).unwrap().message_type == MessageType::MeshBeacon));
    assert!(!log.client.iter().any(|e| matches!(
        e,
        ProxyClientEvent::Node(Event::Dropped {
            reason: DropReason::Beacon
        })
    )));

    let t1 = t0 + Duration::from_secs(1);
    c.node_mut()
        .handle_command(t1, dev_get(3, ConfigMessage::DefaultTtlGet));
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t1,
        t1 + Duration::from_secs(2),
        &mut log,
    );
    assert_eq!(
        config_answers(&log),
        [ConfigMessage::DefaultTtlStatus { ttl: 7 }],
        "{:?}",
        log.client
    );
    // T heard it through R: P relayed from GATT to the advertising bearer with its relay off.
    assert!(log.nodes.iter().any(|(i, e)| *i == 0
        && matches!(
            e,
            Event::Relayed {
                dst: Address(3),
                ..
            }
        )));
    let k = nodes[0].proxy_counters();
    assert!(k.to_clients >= 1 && k.filter_status_sent == 1, "{k:?}");
    assert_eq!(k.malformed + k.config_stranger + k.config_ignored, 0);
    // Segmented at MTU 23: some value was a first segment.
    assert!(log.values.iter().any(|(_, v)| v[0] >> 6 == 0b01));
}

/// A new IV Index heard by the proxy on the advertising bearer reaches the client in a
/// secure network beacon (§6.7), and the client's node follows it (§3.10.3, §3.11.5).
#[test]
fn an_iv_update_reaches_the_client() {
    let mut nodes = vec![proxy_node(1), node(2, false)];
    let links = vec![vec![1], vec![0]];
    let mut c = client();
    let t0 = Instant::from_micros(1_000);
    assert!(nodes[0].proxy_connected(t0, CONN, 23));
    c.connect(t0, CONN, 23);
    let mut log = Log::default();
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t0,
        t0 + Duration::from_secs(1),
        &mut log,
    );
    let iv0 = c.node().state().iv_index;
    assert!(!c.node().state().iv_update);
    let beacons = |log: &Log| {
        log.values
            .iter()
            .filter(|(up, v)| !up && v[0] & 0x3f == 0x01 && v[0] >> 6 != 0b11)
            .count()
    };
    let before = beacons(&log);
    let t1 = t0 + Duration::from_secs(2);
    nodes[1].handle_command(t1, Command::StartIvUpdate);
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t1,
        t1 + Duration::from_secs(25),
        &mut log,
    );
    assert!(nodes[0].state().iv_update);
    assert!(beacons(&log) > before, "the proxy passed the new state on");
    assert!(
        c.node().state().iv_update,
        "the client follows the IV Update"
    );
    assert_eq!(c.node().state().iv_index, IvIndex(iv0.0 + 1));
}

/// The filter decides what reaches the client: a group message is forwarded only once the
/// client has put the group on its accept list, and not at all after a reject list holds it.
#[test]
fn the_filter_decides_what_reaches_the_client() {
    let mut nodes = vec![proxy_node(1), node(2, false)];
    let links = vec![vec![1], vec![0]];
    let mut c = client();
    let t0 = Instant::from_micros(1_000);
    assert!(nodes[0].proxy_connected(t0, CONN, 23));
    c.connect(t0, CONN, 23);
    let mut log = Log::default();
    let at = std::cell::Cell::new(t0);
    let step = |nodes: &mut Vec<Node<TestRng>>, c: &mut ProxyClient<TestRng>| {
        let from = at.get();
        at.set(from + Duration::from_secs(1));
        let mut log = Log::default();
        run(nodes, c, &links, 23, from, at.get(), &mut log);
        log
    };
    step(&mut nodes, &mut c);
    let group = |n: &mut Node<TestRng>, at| {
        use crate::ble::wire::access::{AccessMessage, Opcode};
        // Generic OnOff Set Unacknowledged (MshMDL §3.2.1.3): OnOff, TID.
        let msg = AccessMessage::new(Opcode::Two(0x8203), vec![1, 1]);
        n.handle_command(at, Command::send(Address(0xc001), KeyRef::App(0), msg));
    };
    let forwarded = |n: &Node<TestRng>| n.proxy_counters().to_clients;
    let before = forwarded(&nodes[0]);
    group(&mut nodes[1], at.get());
    step(&mut nodes, &mut c);
    assert_eq!(forwarded(&nodes[0]), before, "not on the accept list");
    c.configure(
        at.get(),
        &ProxyConfigMessage::AddAddresses(vec![Address(0xc001)]),
    );
    log.client.extend(step(&mut nodes, &mut c).client);
    assert!(log.client.contains(&ProxyClientEvent::FilterStatus {
        filter_type: FilterType::AcceptList,
        list_size: 2
    }));
    let before = forwarded(&nodes[0]);
    group(&mut nodes[1], at.get());
    step(&mut nodes, &mut c);
    assert_eq!(forwarded(&nodes[0]), before + 1, "on the accept list");
    c.set_filter(at.get(), FilterType::RejectList, vec![Address(0xc001)]);
    step(&mut nodes, &mut c);
    assert_eq!(
        nodes[0].proxy_filter(CONN).unwrap().filter_type(),
        FilterType::RejectList
    );
    let before = forwarded(&nodes[0]);
    group(&mut nodes[1], at.get());
    step(&mut nodes, &mut c);
    assert_eq!(forwarded(&nodes[0]), before, "on the reject list");
}

/// Malformed Proxy PDUs, a stranger's filter message, a Provisioning PDU on the proxy
/// service, an unknown connection, a client that stops mid-message and one that disconnects
/// mid-message: each is counted, none panics, and the SAR timeout asks for a disconnection.
#[test]
fn bad_input_is_counted() {
    let mut p = proxy_node(1);
    let t = Instant::from_micros(1_000);
    assert!(p.proxy_connected(t, CONN, 23));
    while p.poll_transmit(t).is_some() {}
    for bytes in [vec![], vec![0x3f, 1, 2], vec![0x80, 1], vec![0xc0, 1]] {
        p.handle_frame(t, &gatt(bytes));
    }
    assert_eq!(p.proxy_counters().malformed, 4);
    // A network PDU too long for any proxy message.
    p.handle_frame(t, &gatt(vec![0x40; 20]));
    for _ in 0..3 {
        p.handle_frame(t, &gatt(vec![0x80; 20]));
    }
    assert_eq!(p.proxy_counters().malformed, 5);
    // A Provisioning PDU on the proxy service.
    p.handle_frame(t, &gatt(vec![0x03, 0x00, 0x05]));
    assert_eq!(p.proxy_counters().wrong_type, 1);
    // A stranger's filter message (another network key): counted, not answered.
    let mut stranger = node(0x0200, false);
    stranger.update_state(|s| s.net_keys[0].key = [0x99; 16]);
    let sealed = stranger
        .proxy_config_pdu(
            t,
            0,
            &ProxyConfigMessage::SetFilterType(FilterType::RejectList),
        )
        .unwrap();
    let mut v = vec![0x02];
    v.extend_from_slice(&sealed);
    p.handle_frame(t, &gatt(v));
    assert_eq!(p.proxy_counters().config_stranger, 1);
    assert_eq!(
        p.proxy_filter(CONN).unwrap().filter_type(),
        FilterType::AcceptList
    );
    assert_eq!(p.poll_transmit(t).map(|f| f.bearer), None);
    // A member's configuration message replayed: the second copy is ignored.
    let mut member = node(0x0300, false);
    let sealed = member
        .proxy_config_pdu(t, 0, &ProxyConfigMessage::AddAddresses(vec![Address(5)]))
        .unwrap();
    let mut v = vec![0x02];
    v.extend_from_slice(&sealed);
    p.handle_frame(t, &gatt(v.clone()));
    p.handle_frame(t, &gatt(v));
    assert_eq!(p.proxy_counters().filter_status_sent, 1);
    assert_eq!(p.proxy_counters().config_ignored, 1);
    // An unknown connection.
    let mut other = gatt(vec![0x00, 1]);
    other.bearer = Bearer::Gatt(ConnId(99));
    p.handle_frame(t, &other);
    assert_eq!(p.proxy_counters().unknown_connection, 1);
    // A first segment, then silence: the SAR timer closes the connection after 20 s.
    p.handle_frame(t, &gatt(vec![0x40, 1, 2, 3]));
    assert_eq!(
        p.poll_timeout(),
        Some(t + SAR_TIMEOUT).min(p.poll_timeout())
    );
    let late = t + SAR_TIMEOUT;
    p.handle_timeout(late);
    let mut closed = false;
    while let Some(e) = p.poll_event() {
        closed |= e == Event::ProxyDisconnect { conn: CONN };
    }
    assert!(closed);
    assert_eq!(p.proxy_counters().sar_timeouts, 1);
    assert_eq!(p.proxy_connections().count(), 0);
    // A client that disconnects mid-message: the partial message goes with the connection.
    assert!(p.proxy_connected(late, CONN, 23));
    p.handle_frame(late, &gatt(vec![0x40, 1, 2, 3]));
    p.proxy_disconnected(CONN);
    p.handle_frame(late, &gatt(vec![0xc0, 4]));
    assert_eq!(p.proxy_counters().unknown_connection, 2);
    assert!(p.poll_timeout().is_none_or(|d| d != late + SAR_TIMEOUT));
}

/// Connections are refused without the feature, twice on one id, and past the bound.
#[test]
fn connections_are_bounded() {
    let mut off = node(1, false);
    assert!(!off.proxy_connected(Instant::ZERO, CONN, 23));
    assert_eq!(off.proxy_advertising(), None);
    assert_eq!(off.node_identity_advertising(0), None);
    let mut p = proxy_node(1);
    for i in 0..crate::ble::node::MAX_PROXY_CONNECTIONS as u16 {
        assert!(p.proxy_advertising().is_some());
        assert!(p.proxy_connected(Instant::ZERO, ConnId(i), 23));
    }
    assert!(!p.proxy_connected(Instant::ZERO, ConnId(0), 23));
    assert!(!p.proxy_connected(Instant::ZERO, ConnId(100), 23));
    assert_eq!(p.proxy_counters().refused, 2);
    // Full: no more advertising for connections.
    assert_eq!(p.proxy_advertising(), None);
}

/// Config GATT Proxy Set (§4.3.2.10) through the proxy itself: disabling the feature closes
/// the client's connection.
#[test]
fn gatt_proxy_set_disabled_closes_connections() {
    let mut nodes = vec![proxy_node(1)];
    let links = vec![vec![]];
    let mut c = client();
    let t0 = Instant::from_micros(1_000);
    assert!(nodes[0].proxy_connected(t0, CONN, 23));
    c.connect(t0, CONN, 23);
    let mut log = Log::default();
    let t1 = t0 + Duration::from_millis(10);
    c.node_mut()
        .handle_command(t1, dev_get(1, ConfigMessage::GattProxyGet));
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t0,
        t1 + Duration::from_secs(1),
        &mut log,
    );
    assert_eq!(
        config_answers(&log),
        [ConfigMessage::GattProxyStatus {
            state: FeatureState::Enabled
        }]
    );
    let t2 = t1 + Duration::from_secs(2);
    c.node_mut().handle_command(
        t2,
        dev_get(
            1,
            ConfigMessage::GattProxySet {
                state: FeatureState::Disabled,
            },
        ),
    );
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t2,
        t2 + Duration::from_secs(1),
        &mut log,
    );
    assert_eq!(nodes[0].state().gatt_proxy, Some(false));
    assert!(log
        .nodes
        .contains(&(0, Event::ProxyDisconnect { conn: CONN })));
    assert_eq!(nodes[0].proxy_connections().count(), 0);
    assert_eq!(nodes[0].features() & 2, 0);
}

/// Config Node Identity Set (§4.3.2.44) through the proxy: the proxy advertises Node
/// Identity for 60 s (§4.2.12), then its Network ID again, and the state reads Disabled.
#[test]
fn node_identity_set_advertises_for_sixty_seconds() {
    use crate::ble::models::KeyIndex;
    let mut nodes = vec![proxy_node(1)];
    let links = vec![vec![]];
    let mut c = client();
    let t0 = Instant::from_micros(1_000);
    assert!(nodes[0].proxy_connected(t0, CONN, 23));
    c.connect(t0, CONN, 23);
    let mut log = Log::default();
    let kind = |n: &mut Node<TestRng>| {
        let ad = n.proxy_advertising().unwrap();
        let s = AdStructure::parse_all(&ad).unwrap();
        let d = s.iter().find(|s| s.ad_type == 0x16).unwrap();
        ProxyServiceData::parse(&d.data[2..]).unwrap()
    };
    let own = NetKey::new(nodes[0].state().net_keys[0].key);
    assert!(matches!(
        kind(&mut nodes[0]),
        ProxyServiceData::NetworkId(_)
    ));
    let t1 = t0 + Duration::from_millis(10);
    c.node_mut().handle_command(
        t1,
        dev_get(
            1,
            ConfigMessage::NodeIdentitySet {
                net_key_index: KeyIndex::from_bits(0),
                identity: FeatureState::Enabled,
            },
        ),
    );
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t0,
        t1 + Duration::from_secs(1),
        &mut log,
    );
    let id = kind(&mut nodes[0]);
    assert!(
        matches!(id, ProxyServiceData::NodeIdentity { .. }),
        "{id:?}"
    );
    assert!(id.matches(&own, Some(UnicastAddress::new(1).unwrap())));
    // A fresh Random each time.
    assert_ne!(kind(&mut nodes[0]), id);
    // 60 s later: Network ID again, and the state reads Disabled.
    let t2 = t1 + Duration::from_secs(61);
    c.node_mut().handle_command(
        t2,
        dev_get(
            1,
            ConfigMessage::NodeIdentityGet {
                net_key_index: KeyIndex::from_bits(0),
            },
        ),
    );
    run(
        &mut nodes,
        &mut c,
        &links,
        23,
        t1 + Duration::from_secs(1),
        t2 + Duration::from_secs(1),
        &mut log,
    );
    assert!(matches!(
        kind(&mut nodes[0]),
        ProxyServiceData::NetworkId(_)
    ));
    let statuses: Vec<FeatureState> = config_answers(&log)
        .into_iter()
        .filter_map(|m| match m {
            ConfigMessage::NodeIdentityStatus { identity, .. } => Some(identity),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [FeatureState::Enabled, FeatureState::Disabled]);
}

/// Node Identity service data (§7.2.2.2.3) against the specification's sample (§8.4.6.1),
/// read from `btmesh-sample-data.json`; and what a node advertises matches its own key and
/// address.
#[test]
fn node_identity_sample_and_advertising() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/btmesh-sample-data.json"
    );
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let h = |v: &serde_json::Value| hex::decode(v.as_str().unwrap()).unwrap();
    let b = d["beacons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "node identity (proxy service data)")
        .expect("the sample is in the data");
    let key = NetKey::new(h(&b["net_key"]).try_into().unwrap());
    let random: [u8; 8] = h(&b["random"]).try_into().unwrap();
    let addr = u16::from_str_radix(b["address"].as_str().unwrap(), 16).unwrap();
    let sd = ProxyServiceData::node_identity(&key, random, UnicastAddress::new(addr).unwrap());
    assert_eq!(sd.to_vec(), h(&b["service_data"]));

    let mut p = proxy_node(1);
    let ad = p.node_identity_advertising(0).unwrap();
    let structures = AdStructure::parse_all(&ad).unwrap();
    let data = structures
        .iter()
        .find(|s| s.ad_type == 0x16)
        .expect("service data");
    assert_eq!(
        u16::from_le_bytes([data.data[0], data.data[1]]),
        MESH_PROXY_SERVICE_UUID
    );
    let parsed = ProxyServiceData::parse(&data.data[2..]).unwrap();
    let own = NetKey::new(p.state().net_keys[0].key);
    assert!(parsed.matches(&own, Some(UnicastAddress::new(1).unwrap())));
    assert!(!parsed.matches(&own, Some(UnicastAddress::new(2).unwrap())));
    // Network ID advertising names the subnet.
    let ad = p.proxy_advertising().unwrap();
    let structures = AdStructure::parse_all(&ad).unwrap();
    let data = structures.iter().find(|s| s.ad_type == 0x16).unwrap();
    assert_eq!(
        ProxyServiceData::parse(&data.data[2..]).unwrap(),
        ProxyServiceData::NetworkId(own.network_id)
    );
}

/// Arbitrary ATT values into a proxy server never panic (the fuzz target's body, a few
/// thousand times under proptest).
mod arbitrary {
    use proptest::prelude::*;
    proptest! {
        #[test]
        fn server_input(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            super::super::fuzz_server(&data);
        }
    }
}
