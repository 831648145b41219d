//! Operator commands as separate processes: `weft net create`, then `weft send` and `weft config`
//! through the live simulated air to a light that runs (in this test process) with the
//! network's keys, as a provisioned device would.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::CommandCargoExt;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft::runtime::{drive, empty_air, serve_hub, Clock, Flow};
use weft::store::{Store, StoreOpts};
use weft_mesh::ble::cdb::{CdbNode, HexKey};
use weft_mesh::ble::models::ModelId;
use weft_mesh::ble::node::{AppKeyState, ElementState, ModelState, Node, NodeState};
use weft_mesh::ble::{IvIndex, UnicastAddress};
use weft_mesh::Duration;
use weft_radio::hub::HubRadio;

fn weft(dir: &Path, args: &[&str]) -> std::process::Output {
    Process::cargo_bin("weft")
        .unwrap()
        .args(args)
        .args(["--net", dir.join("net.weft").to_str().unwrap()])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn send_and_config_reach_a_light_through_the_hub() {
    let dir = std::env::temp_dir().join(format!("weft-ops-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = weft(&dir, &["net", "create", "--name", "test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The light: a node of this network at 0x0100 with an OnOff Server bound to app key 0,
    // recorded in the network database as a provisioner would.
    let opts = StoreOpts {
        net: Some(dir.join("net.weft")),
        passphrase_env: None,
        key_file: None,
    };
    let store = Store::from_opts(&opts).unwrap();
    let mut net = store.load().unwrap();
    let net_key = net.cdb.net_keys[0].key.0;
    let app_key = net.cdb.app_keys[0].key.0;
    let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
    onoff.app_keys.push(0);
    let mut st = NodeState::new(
        [0xab; 16],
        UnicastAddress::new(0x0100).unwrap(),
        [0xcd; 16],
        net_key,
        IvIndex(net.iv_index),
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
    let mut record = CdbNode::from_node_state(&st, Some("light".into()));
    record.device_key = Some(HexKey([0xcd; 16]));
    net.cdb.nodes.push(record);
    store.save(&net).unwrap();

    let sock = dir.join("air.sock");
    let s2 = sock.clone();
    let hub = tokio::spawn(async move { serve_hub(&s2, empty_air(1), |_| {}).await });
    while !sock.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let light_sock = sock.clone();
    let (done, light_done) = tokio::sync::oneshot::channel::<()>();
    let light = tokio::spawn(async move {
        let mut radio = HubRadio::connect(&light_sock).await.unwrap();
        let mut n = Node::new(st, ChaCha8Rng::seed_from_u64(3));
        let clock = Clock::default();
        // Long enough for a loaded machine: the light serves until the test has its answer
        // (an answer can be lost on the air, e.g. while the hub's nodes send their
        // connectable advertising, and `weft config` then asks again).
        let deadline = clock.now() + Duration::from_secs(120);
        tokio::select! {
            r = drive(&mut n, &mut radio, &clock, Some(deadline), |_, _, _| Flow::Continue) => {
                r.unwrap();
            }
            _ = light_done => {}
        }
        (n.onoff(0), n.state().default_ttl)
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let radio = format!("sim:{}", sock.display());
    let d2 = dir.clone();
    let r2 = radio.clone();
    let send = tokio::task::spawn_blocking(move || {
        weft(
            &d2,
            &[
                // A generous timeout: the answer comes in milliseconds, but a loaded machine
                // (seen in CI-like runs) can take more than the default 5 s to start both ends.
                "send",
                "--radio",
                &r2,
                "--dst",
                "0100",
                "--json",
                "--timeout",
                "60",
                "onoff",
                "on",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&send.stdout);
    assert!(
        send.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&send.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["src"], "0100");
    assert_eq!(v["opcode"], "8204");
    let d2 = dir.clone();
    let cfg = tokio::task::spawn_blocking(move || {
        weft(
            &d2,
            &[
                "config",
                "--radio",
                &radio,
                "--dst",
                "0100",
                "--timeout",
                "60",
                "ttl",
                "9",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&cfg.stdout);
    assert!(
        cfg.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&cfg.stderr)
    );
    assert!(stdout.starts_with("0100:"), "{stdout}");
    done.send(()).unwrap();
    assert_eq!(light.await.unwrap(), (Some(true), 9));
    // The provisioner's sequence numbers moved on and were saved, and the network database
    // learnt the node's new Default TTL from its status.
    let saved = store.load().unwrap();
    assert!(saved.local.unwrap().seq_reserved > 0);
    let light = saved.cdb.node_by_address(0x0100).unwrap();
    assert_eq!(light.default_ttl, Some(9));
    // So did the provisioner's replay protection list: the light's answers stay replays for
    // the next process (MshPRT §3.9.8).
    let rpl = saved.rpl.expect("saved with the node");
    assert!(rpl
        .get(weft_mesh::ble::UnicastAddress::new(0x0100).unwrap())
        .is_some());

    // Nobody at 0x0200: a timeout, exit code 4.
    let d2 = dir.clone();
    let r3 = format!("sim:{}", sock.display());
    let t = tokio::task::spawn_blocking(move || {
        weft(
            &d2,
            &[
                "send",
                "--radio",
                &r3,
                "--dst",
                "0200",
                "--timeout",
                "0.5",
                "onoff",
                "get",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        t.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&t.stderr)
    );
    hub.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_hub_is_exit_3_and_bad_radio_is_exit_2() {
    let dir = std::env::temp_dir().join(format!("weft-ops-test2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(weft(&dir, &["net", "create"]).status.success());
    let out = weft(
        &dir,
        &[
            "send",
            "--radio",
            "sim:/nonexistent/air.sock",
            "--dst",
            "0002",
            "onoff",
            "get",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("weft sim serve"));
    let out = weft(
        &dir,
        &[
            "send",
            "--radio",
            "carrier-pigeon",
            "--dst",
            "0002",
            "onoff",
            "get",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
