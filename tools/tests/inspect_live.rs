//! `weft inspect --radio sim:PATH`: the inspector on the live simulated air, decoding with the
//! network store's keys; `weft topology` of the live air; and their command-line errors.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::CommandCargoExt;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft::inspect::model::EntryKind;
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
use weft_radio::hub::HubRadio;

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

#[tokio::test(flavor = "current_thread")]
async fn the_live_inspector_decodes_and_names_what_it_hears() {
    let dir = std::env::temp_dir().join(format!("weft-inspect-live-{}", std::process::id()));
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
    let switch_st = node_state(0x0100, net_key, app_key, net.iv_index);
    let light_st = node_state(0x0200, net_key, app_key, net.iv_index);
    for (st, name) in [(&switch_st, "switch"), (&light_st, "light")] {
        let mut record = CdbNode::from_node_state(st, Some(name.into()));
        record.device_key = Some(HexKey(st.dev_key));
        net.cdb.nodes.push(record);
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
    let (s3, n3) = (sock.clone(), net_path.clone());
    let inspector = tokio::task::spawn_blocking(move || {
        let opts = StoreOpts {
            net: Some(n3),
            passphrase_env: None,
            key_file: None,
        };
        weft::inspect::start_live(&s3, &opts, None)
    })
    .await
    .unwrap()
    .expect("the inspector reaches the hub");

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
