//! `weft send --proxy` and `weft config --proxy` as processes on a hub whose air holds a proxy
//! node and a line of relays behind it: the operator's process is attached near the proxy only
//! (`HubOptions::near`), and the proxy does not relay, so the far end of the line is reachable
//! through the proxy's GATT connection alone. The operator finds the proxy by its Node Identity
//! (asking for it with Config Node Identity Set), connects, sets its filter and gets answers
//! from three hops behind the proxy, at ATT MTU 23.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::CommandCargoExt;
use rand_chacha::ChaCha8Rng;
use weft::store::{Store, StoreOpts};
use weft_mesh::ble::cdb::{CdbNode, HexKey};
use weft_mesh::ble::models::ModelId;
use weft_mesh::ble::node::{AppKeyState, ElementState, ModelState, Node, NodeState};
use weft_mesh::ble::{IvIndex, UnicastAddress};
use weft_radio::hub::{empty_air, serve_hub_with, HubNode, HubOptions};
use weft_radio::sim::{station_rng, Link, NodeId, Placement};

fn weft(dir: &Path, args: &[&str]) -> std::process::Output {
    Process::cargo_bin("weft")
        .unwrap()
        .args(args)
        .args(["--net", dir.join("net.weft").to_str().unwrap()])
        .output()
        .unwrap()
}

/// The proxy (0x0100, GATT Proxy on, Relay off) and the relays 0x0101..=0x0103 behind it.
fn nodes(net_key: [u8; 16], app_key: [u8; 16], iv: u32) -> Vec<NodeState> {
    (0..4u16)
        .map(|i| {
            let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
            onoff.app_keys.push(0);
            let mut st = NodeState::new(
                [i as u8; 16],
                UnicastAddress::new(0x0100 + i).unwrap(),
                [0xd0 + i as u8; 16],
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
            st.relay = i != 0;
            st.gatt_proxy = Some(i == 0);
            st.default_ttl = 10;
            st
        })
        .collect()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn send_and_config_reach_a_node_three_hops_behind_the_proxy_only_through_it() {
    let dir = std::env::temp_dir().join(format!("weft-proxy-ops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ok(&weft(&dir, &["net", "create", "--name", "proxied"]));
    let opts = StoreOpts {
        net: Some(dir.join("net.weft")),
        passphrase_env: None,
        key_file: None,
    };
    let store = Store::from_opts(&opts).unwrap();
    let mut net = store.load().unwrap();
    let states = nodes(
        net.cdb.net_keys[0].key.0,
        net.cdb.app_keys[0].key.0,
        net.iv_index,
    );
    for (i, st) in states.iter().enumerate() {
        let mut record = CdbNode::from_node_state(st, Some(format!("n{i}")));
        record.device_key = Some(HexKey(st.dev_key));
        net.cdb.nodes.push(record);
    }
    store.save(&net).unwrap();

    let mut air = empty_air::<Node<ChaCha8Rng>>(7);
    let ids: Vec<NodeId> = states
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            air.add_node(
                HubNode::Local(Node::new(st, station_rng(7, i as u64))),
                Placement::Unplaced,
            )
        })
        .collect();
    for w in ids.windows(2) {
        air.set_link(
            w[0],
            w[1],
            Link {
                rssi_dbm: -60,
                loss: 0.0,
            },
        );
    }
    // The smallest ATT MTU (Core Vol 3 Part F §3.2.8): every Network PDU is segmented.
    air.set_gatt_mtu(ids[0], 23);
    let sock = dir.join("air.sock");
    let s2 = sock.clone();
    let near = HubOptions {
        near: Some(vec![ids[0]]),
    };
    tokio::spawn(async move {
        serve_hub_with(&s2, air, near, |_| {}, std::future::pending::<String>()).await
    });
    while !sock.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let radio = format!("sim:{}", sock.display());
    let run = |args: Vec<String>| {
        let d = dir.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            weft(&d, &a)
        })
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["--radio", &radio]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };

    // Over the advertising bearer the far node is out of reach: the proxy does not relay.
    let mut a = vec!["send".to_string()];
    a.extend(args(&["--dst", "0103", "--timeout", "3", "onoff", "get"]));
    let direct = run(a).await.unwrap();
    assert_eq!(
        direct.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );

    // Through the proxy it answers.
    let mut a = vec!["send".to_string()];
    a.extend(args(&[
        "--dst",
        "0103",
        "--proxy",
        "0100",
        "--json",
        "--timeout",
        "60",
        "onoff",
        "on",
    ]));
    let out = ok(&run(a).await.unwrap());
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["src"], "0103");
    assert_eq!(v["name"], "Generic OnOff Status", "{v}");
    assert!(v["status"].as_str().unwrap().contains("on"), "{v}");

    // So does configuration (device key, three hops away), recorded in the database.
    let mut a = vec!["config".to_string()];
    a.extend(args(&[
        "--dst",
        "0103",
        "--proxy",
        "0100",
        "--json",
        "--timeout",
        "60",
        "ttl",
        "9",
    ]));
    let out = ok(&run(a).await.unwrap());
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["src"], "0103");
    assert_eq!(v["ok"], true, "{v}");
    let net = store.load().unwrap();
    let n3 = net
        .cdb
        .nodes
        .iter()
        .find(|n| n.unicast_address.0 == 0x0103)
        .unwrap();
    assert_eq!(n3.default_ttl, Some(9));

    // `weft radios --proxies` lists the proxy with its Network ID resolved to subnet 0.
    let mut a = vec!["radios".to_string(), "--proxies".to_string()];
    a.extend(args(&["--seconds", "2", "--json"]));
    let out = ok(&run(a).await.unwrap());
    let heard: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        heard
            .iter()
            .any(|v| v["kind"] == "proxy" && v["net_index"] == 0 && v["service"] == "1828"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A proxy that advertises the Node Identity of 0x0200 and drops the connection at the first
/// value it gets (the client's filter message): the operator says so, exit 4, and its store
/// stays usable.
#[derive(Debug, Default)]
struct Rude {
    net_key: [u8; 16],
    requests: std::collections::VecDeque<weft_mesh::LinkRequest>,
    values: u32,
}

impl weft_mesh::Station for Rude {
    type Event = ();
    fn handle_frame(&mut self, _: weft_mesh::Instant, f: &weft_mesh::RxFrame) {
        if let weft_mesh::Bearer::Gatt(conn) = f.bearer {
            self.values += 1;
            self.requests
                .push_back(weft_mesh::LinkRequest::Disconnect { conn });
        }
    }
    fn poll_transmit(&mut self, _: weft_mesh::Instant) -> Option<weft_mesh::TxFrame> {
        None
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<weft_mesh::Instant> {
        None
    }
    fn handle_timeout(&mut self, _: weft_mesh::Instant) {}
    fn poll_link(&mut self) -> Option<weft_mesh::LinkRequest> {
        self.requests.pop_front()
    }
    fn connectable(&mut self, _: weft_mesh::Instant) -> Option<weft_mesh::Connectable> {
        use weft_mesh::ble::wire::adv::ProxyServiceData;
        let key = weft_mesh::ble::crypto::NetKey::new(self.net_key);
        let a = UnicastAddress::new(0x0200).unwrap();
        Some(weft_mesh::Connectable {
            service: weft_mesh::GattService::Proxy,
            adv_data: ProxyServiceData::node_identity(&key, [9; 8], a).advertising_data(),
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_proxy_that_drops_the_connection_is_a_timeout_saying_so() {
    let dir = std::env::temp_dir().join(format!("weft-proxy-rude-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ok(&weft(&dir, &["net", "create", "--name", "rude"]));
    let opts = StoreOpts {
        net: Some(dir.join("net.weft")),
        passphrase_env: None,
        key_file: None,
    };
    let net = Store::from_opts(&opts).unwrap().load().unwrap();
    let mut air = empty_air::<Rude>(8);
    air.add_node(
        HubNode::Local(Rude {
            net_key: net.cdb.net_keys[0].key.0,
            ..Rude::default()
        }),
        Placement::Unplaced,
    );
    let sock = dir.join("air.sock");
    let s2 = sock.clone();
    tokio::spawn(async move {
        serve_hub_with(
            &s2,
            air,
            HubOptions::default(),
            |_| {},
            std::future::pending::<String>(),
        )
        .await
    });
    while !sock.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let radio = format!("sim:{}", sock.display());
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        weft(
            &d,
            &[
                "send",
                "--radio",
                &radio,
                "--dst",
                "0200",
                "--proxy",
                "0200",
                "--timeout",
                "20",
                "onoff",
                "get",
            ],
        )
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("the proxy disconnected (Remote)"), "{err}");
    // The store is still whole.
    assert!(Store::from_opts(&opts).unwrap().load().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
