//! `weft inspect --radio sim:PATH`: the inspector on the live simulated air, decoding with the
//! network store's keys; `weft topology` of the live air; and their command-line errors.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::CommandCargoExt;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft::inspect::model::EntryKind;
use weft::inspect::ui::Request;
use weft::runtime::{drive, empty_air, serve_hub, Clock, Flow, Outcome};
use weft::store::{Store, StoreOpts};
use weft_mesh::ble::cdb::{CdbNode, HexKey};
use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet};
use weft_mesh::ble::models::ModelId;
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelState, Node, NodeState,
};
use weft_mesh::ble::{Address, IvIndex, UnicastAddress};
use weft_mesh::Duration;
use weft_radio::ble_ll::parse_ble_adv;
use weft_radio::hub::HubRadio;
use weft_radio::pcap::read_all_packets;

fn weft(dir: &Path, args: &[&str]) -> std::process::Output {
    Process::cargo_bin("weft")
        .unwrap()
        .args(args)
        .env("XDG_DATA_HOME", dir.join("data"))
        .output()
        .unwrap()
}

/// A node of the network at `addr` with an OnOff Server on app key 0, as provisioned.
fn node_state(addr: u16, net_key: [u8; 16], app_key: [u8; 16], iv: u32) -> NodeState {
    let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
    onoff.app_keys.push(0);
    let mut st = NodeState::new(
        [addr as u8; 16],
        UnicastAddress::new(addr).unwrap(),
        [addr as u8 ^ 0x5a; 16],
        net_key,
        IvIndex(iv),
        vec![ElementState {
            location: 0,
            models: vec![ModelState::new(ModelId::CONFIG_SERVER), onoff],
        }],
    );
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: app_key,
        new_key: None,
    });
    st.beacon = false;
    st
}

/// The live air of a test: its directory, the hub's socket, the states of the nodes of the
/// network, the hub's task, and the inspector on the air.
type Live = (
    std::path::PathBuf,
    std::path::PathBuf,
    Vec<NodeState>,
    tokio::task::JoinHandle<Result<(), weft::runtime::HubError>>,
    weft::inspect::runtime::Runtime,
);

/// A network store holding `nodes` (address, name, relay), a hub serving the air, and an
/// inspector on it as the store's provisioner node.
async fn live(name: &str, nodes: &[(u16, &str, bool)]) -> Live {
    let dir = std::env::temp_dir().join(format!("weft-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let net_path = dir.join("net.weft");
    let out = weft(
        &dir,
        &[
            "net",
            "create",
            "--name",
            "live",
            "--net",
            net_path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::from_opts(&StoreOpts {
        net: Some(net_path.clone()),
        passphrase_env: None,
        key_file: None,
    })
    .unwrap();
    let mut net = store.load().unwrap();
    let (net_key, app_key) = (net.cdb.net_keys[0].key.0, net.cdb.app_keys[0].key.0);
    let mut states = Vec::new();
    for &(addr, name, relay) in nodes {
        let mut st = node_state(addr, net_key, app_key, net.iv_index);
        st.relay = relay;
        let mut record = CdbNode::from_node_state(&st, Some(name.into()));
        record.device_key = Some(HexKey(st.dev_key));
        net.cdb.nodes.push(record);
        states.push(st);
    }
    store.save(&net).unwrap();

    let sock = dir.join("air.sock");
    let s2 = sock.clone();
    let hub = tokio::spawn(async move { serve_hub(&s2, empty_air(1), |_| {}).await });
    let mut tries = 0;
    while !sock.exists() && tries < 400 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        tries += 1;
    }
    let (s3, n3, d3) = (sock.clone(), net_path.clone(), dir.clone());
    let inspector = tokio::task::spawn_blocking(move || {
        let opts = StoreOpts {
            net: Some(n3),
            passphrase_env: None,
            key_file: None,
        };
        weft::inspect::start_live(&s3, &opts, Some(d3))
    })
    .await
    .unwrap()
    .expect("the inspector reaches the hub");
    (dir, sock, states, hub, inspector)
}

#[tokio::test(flavor = "current_thread")]
async fn the_live_inspector_decodes_and_names_what_it_hears() {
    let (dir, sock, states, hub, inspector) = live(
        "inspect-live",
        &[(0x0100, "switch", false), (0x0200, "light", false)],
    )
    .await;
    let (switch_st, light_st) = (states[0].clone(), states[1].clone());

    let light_sock = sock.clone();
    let light = tokio::spawn(async move {
        let mut radio = HubRadio::connect(&light_sock).await.unwrap();
        let mut n = Node::new(light_st, ChaCha8Rng::seed_from_u64(2));
        let clock = Clock::default();
        let deadline = clock.now() + Duration::from_secs(3);
        drive(&mut n, &mut radio, &clock, Some(deadline), |_, _, _| {
            Flow::Continue
        })
        .await
        .unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut radio = HubRadio::connect(&sock).await.unwrap();
    let mut switch = Node::new(switch_st, ChaCha8Rng::seed_from_u64(1));
    let clock = Clock::default();
    let set = GenericMessage::OnOffSet(OnOffSet {
        on: true,
        tid: 1,
        transition: None,
    })
    .to_access();
    switch.handle_command(
        clock.now(),
        Command::Send {
            element: 0,
            dst: Address(0x0200),
            label: None,
            key: KeyRef::App(0),
            net_index: 0,
            ttl: Some(3),
            message: set,
        },
    );
    let deadline = clock.now() + Duration::from_secs(10);
    let out = drive(
        &mut switch,
        &mut radio,
        &clock,
        Some(deadline),
        |_, _, e| match e {
            Event::Access { .. } => Flow::Stop,
            _ => Flow::Continue,
        },
    )
    .await
    .unwrap();
    assert_eq!(out, Outcome::Stopped, "the light answered the switch");
    light.await.unwrap();

    // The listener publishes a snapshot every few tens of milliseconds: wait for one that holds
    // the exchange (bounded).
    let mut m = inspector.snapshot();
    for _ in 0..100 {
        if m.traffic
            .iter()
            .filter(|e| e.kind == EntryKind::Access)
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        m = inspector.snapshot();
    }
    let access: Vec<_> = m
        .traffic
        .iter()
        .filter(|e| e.kind == EntryKind::Access)
        .collect();
    assert!(
        access
            .iter()
            .any(|e| e.src == Some(0x0100) && e.dst == Some(0x0200) && e.rssi.is_some()),
        "{access:#?}"
    );
    assert!(
        access
            .iter()
            .any(|e| e.src == Some(0x0200) && e.dst == Some(0x0100)),
        "{access:#?}"
    );
    assert!(access.iter().all(|e| !e.opcode.is_empty()));
    assert!(m.stats.access >= 2 && m.stats.pdus >= 2, "{:?}", m.stats);
    assert!(m.source.contains("live"), "{}", m.source);
    for (addr, name) in [(0x0100u64, "switch"), (0x0200, "light")] {
        let n = m.topology.node(addr).expect("a node of the database");
        assert_eq!(n.name.as_deref(), Some(name));
        assert!(n.uuid.is_some());
        assert!(n.seq.is_some(), "{name} heard with its sequence number");
        assert!(n.rssi.is_some(), "{name} heard with its RSSI");
        assert!(n.last_seen.is_some());
    }
    // The listener hears both nodes; it invents no link between them.
    let host = m.topology.host().unwrap();
    assert!(m.topology.link(0x0100, host).is_some());
    assert!(m.topology.link(0x0200, host).is_some());
    assert!(m.topology.link(0x0100, 0x0200).is_none());
    inspector.stop();
    hub.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `st` as a node on the air at `sock` for `secs` seconds, first sending `say` (a
/// message to a unicast address with application key 0), if any.
fn run_node(
    sock: &Path,
    st: NodeState,
    seed: u64,
    secs: u64,
    say: Option<(u16, weft_mesh::ble::wire::access::AccessMessage)>,
) -> tokio::task::JoinHandle<()> {
    let sock = sock.to_path_buf();
    tokio::spawn(async move {
        let mut radio = HubRadio::connect(&sock).await.unwrap();
        let mut n = Node::new(st, ChaCha8Rng::seed_from_u64(seed));
        let clock = Clock::default();
        if let Some((dst, message)) = say {
            n.handle_command(
                clock.now(),
                Command::send(Address(dst), KeyRef::App(0), message),
            );
        }
        let deadline = clock.now() + Duration::from_secs(secs);
        drive(&mut n, &mut radio, &clock, Some(deadline), |_, _, _| {
            Flow::Continue
        })
        .await
        .unwrap();
    })
}

/// A snapshot of `rt` for which `ok` holds, waiting up to `secs` seconds (the last one else).
async fn wait_for(
    rt: &weft::inspect::runtime::Runtime,
    secs: u64,
    ok: impl Fn(&weft::inspect::model::Model) -> bool,
) -> std::sync::Arc<weft::inspect::model::Model> {
    let t = std::time::Instant::now();
    loop {
        let m = rt.snapshot();
        if ok(&m) || t.elapsed() > std::time::Duration::from_secs(secs) {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A relay's copy of a PDU comes with the relay's advertiser address: the inspector draws it as
/// the relay's ("relayed by", the relay's link to the listener, and the link from the source
/// the relay heard), and its capture shows each transmitter's own address.
#[tokio::test(flavor = "current_thread")]
async fn relayed_frames_are_told_apart_by_their_advertiser_address() {
    let (dir, sock, states, hub, inspector) = live(
        "inspect-relay",
        &[
            (0x0100, "switch", false),
            (0x0200, "light", false),
            (0x0300, "relay", true),
        ],
    )
    .await;
    inspector.request(Request::ToggleCapture);
    let light = run_node(&sock, states[1].clone(), 2, 4, None);
    // The relay says something of its own first: the inspector learns its address from a PDU
    // whose source it is (a node that only relays is never named).
    let get = GenericMessage::OnOffGet.to_access();
    let relay = run_node(&sock, states[2].clone(), 3, 4, Some((0x0200, get)));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let on = GenericMessage::OnOffSet(OnOffSet {
        on: true,
        tid: 1,
        transition: None,
    });
    run_node(
        &sock,
        states[0].clone(),
        1,
        3,
        Some((0x0200, on.to_access())),
    )
    .await
    .unwrap();
    light.await.unwrap();
    relay.await.unwrap();

    let relayed = |m: &weft::inspect::model::Model| {
        m.traffic
            .iter()
            .any(|e| e.relayed_by == Some(0x0300) && e.src == Some(0x0100))
    };
    let m = wait_for(&inspector, 5, relayed).await;
    assert!(relayed(&m), "{:#?}", m.traffic);
    let host = m.topology.host().unwrap();
    assert!(m.topology.link(0x0300, host).is_some());
    assert!(
        m.topology.link(0x0100, 0x0300).is_some(),
        "the relay heard the switch"
    );
    // Nobody relays for the light's neighbours here: no link is invented.
    assert!(m.topology.link(0x0100, 0x0200).is_none());
    assert!(m
        .traffic
        .iter()
        .filter(|e| e.src == Some(0x0100) && e.relayed_by.is_none())
        .all(|e| e.transmitter == 0x0100));

    inspector.request(Request::ToggleCapture);
    let written = |m: &weft::inspect::model::Model| {
        m.notice
            .as_ref()
            .is_some_and(|(_, t)| t.starts_with("capture written to "))
    };
    let m = wait_for(&inspector, 5, written).await;
    let (_, notice) = m.notice.clone().unwrap();
    let path = notice
        .strip_prefix("capture written to ")
        .unwrap_or_else(|| panic!("{notice}"));
    let packets = read_all_packets(&std::fs::read(path).unwrap()).unwrap();
    let addresses: std::collections::BTreeSet<[u8; 6]> = packets
        .iter()
        .filter_map(|p| parse_ble_adv(&p.data).ok())
        .map(|a| a.adv_address)
        .collect();
    // The switch, the light and the relay at least, none under the placeholder address.
    assert!(addresses.len() >= 3, "{addresses:02x?}");
    assert!(!addresses.contains(&[0, 0, 0, 0x5e, 0x1f, 0xee]));
    inspector.stop();
    hub.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_hub_is_exit_3_naming_weft_sim_serve() {
    let dir = std::env::temp_dir().join(format!("weft-inspect-live2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Without a store (an empty data directory) and with one.
    let out = weft(&dir, &["inspect", "--radio", "sim:/nonexistent/air.sock"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("weft sim serve"), "{err}");
    let net = dir.join("net.weft");
    let net = net.to_str().unwrap();
    assert!(weft(&dir, &["net", "create", "--net", net])
        .status
        .success());
    let out = weft(
        &dir,
        &[
            "inspect",
            "--radio",
            "sim:/nonexistent/air.sock",
            "--net",
            net,
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("weft sim serve"));
    // A store named but missing is a usage error.
    let missing = dir.join("missing.weft");
    let out = weft(
        &dir,
        &[
            "inspect",
            "--radio",
            "sim:/nonexistent/air.sock",
            "--net",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
