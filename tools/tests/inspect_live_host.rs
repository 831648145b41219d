//! `weft inspect --radio sim:PATH` as the network's provisioner node: it provisions a device it
//! hears (a separate `weft node` process), configures it, switches it, subscribes it, captures
//! the air; it holds the store while it runs, and `weft send` works again once it stops.

use std::process::Stdio;
use std::time::{Duration, Instant};

mod procs;

use procs::{hub, run, weft, Killed};
use weft::inspect::model::{ConfigOp, EntryKind, Model};
use weft::inspect::ui::Request;
use weft::store::{Store, StoreOpts};
use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet};
use weft_mesh::ble::models::ModelId;
use weft_radio::pcap::read_all_packets;

/// Waits (bounded) for a snapshot that satisfies `ok`; returns the last one and whether it did.
fn wait_model(
    rt: &weft::inspect::runtime::Runtime,
    secs: u64,
    mut ok: impl FnMut(&Model) -> bool,
) -> (std::sync::Arc<Model>, bool) {
    let t = Instant::now();
    loop {
        let m = rt.snapshot();
        if ok(&m) {
            return (m, true);
        }
        if t.elapsed() > Duration::from_secs(secs) {
            return (m, false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn notice(m: &Model) -> String {
    m.notice
        .as_ref()
        .map(|(_, t)| t.clone())
        .unwrap_or_default()
}

#[test]
fn the_inspector_provisions_configures_and_switches_a_device_on_the_live_air() {
    let dir = std::env::temp_dir().join(format!("weft-inspect-host-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let net_path = dir.join("net.weft");
    let net = net_path.to_str().unwrap();
    let uuid_hex = "0a0b0c0d0e0f00010203040506070809";
    let mut uuid = [0u8; 16];
    hex::decode_to_slice(uuid_hex, &mut uuid).unwrap();

    let _hub = hub(&sock);
    let node_state = dir.join("node.weft");
    let _node = Killed(
        weft()
            .args(["node", "--radio", &radio, "--uuid", uuid_hex])
            .args(["--models", "onoff-server"])
            .args(["--state", node_state.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (code, _, err) = run(&["net", "create", "--net", net]);
    assert_eq!(code, 0, "{err}");
    let opts = StoreOpts {
        net: Some(net_path.clone()),
        passphrase_env: None,
        key_file: None,
    };
    let rt = weft::inspect::start_live(&sock, &opts, Some(dir.clone()))
        .map_err(|e| e.1)
        .expect("the inspector reaches the hub");
    let m = rt.snapshot();
    assert!(m.source.contains("as the provisioner"), "{}", m.source);

    // While the inspector holds the store, the command line says so instead of racing it.
    let (code, _, err) = run(&[
        "send", "--radio", &radio, "--net", net, "--dst", "0002", "onoff", "get",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("in use by another weft process"), "{err}");

    // The device beacons; the inspector lists it, then provisions and configures it.
    let (m, ok) = wait_model(&rt, 20, |m| m.unprovisioned.iter().any(|d| d.uuid == uuid));
    assert!(ok, "the device was never heard: {}", notice(&m));
    rt.request(Request::Provision {
        uuid,
        name: "lamp".into(),
    });
    let store = Store::from_opts(&opts).unwrap();
    let t = Instant::now();
    let node = loop {
        let state = store.load().unwrap();
        if let Some(n) = state.cdb.node_by_uuid(&uuid).filter(|n| n.config_complete) {
            break n.clone();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not configured: {}",
            notice(&rt.snapshot())
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let address = node.unicast_address.0;
    let onoff = node
        .elements
        .iter()
        .flat_map(|e| &e.models)
        .find(|m| m.model_id.0 == ModelId::GENERIC_ONOFF_SERVER)
        .expect("the composition was recorded");
    assert_eq!(onoff.bind, vec![0], "app key 0 bound to the OnOff Server");
    assert_eq!(node.app_keys.len(), 1);
    assert!(node.cid.is_some());

    // The node table and the detail pane show it.
    rt.request(Request::Select(Some(address)));
    let (m, ok) = wait_model(&rt, 10, |m| {
        m.detail.as_ref().is_some_and(|d| d.address == address)
            && m.topology.node(u64::from(address)).is_some()
    });
    assert!(ok, "no detail: {}", notice(&m));
    let d = m.detail.as_ref().unwrap();
    assert_eq!(d.uuid, uuid);
    assert!(
        d.elements
            .iter()
            .flat_map(|(_, models)| models)
            .any(|md| md.name == "Generic OnOff Server" && md.bound == vec![0]),
        "{d:?}"
    );

    // Capture, switch on, subscribe to a group; meanwhile `weft topology` listens to the air
    // (it only reads the store, so the inspector holding it does not stop it).
    let topology = weft()
        .args(["topology", "--radio", &radio, "--net", net])
        .args(["--seconds", "4", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    rt.request(Request::ToggleCapture);
    rt.request(Request::Send {
        dst: address,
        message: GenericMessage::OnOffSet(OnOffSet {
            on: true,
            tid: 7,
            transition: None,
        })
        .to_access(),
        expect: weft_mesh::ble::models::generic::ONOFF_STATUS,
        what: "OnOff on".into(),
    });
    let (m, ok) = wait_model(&rt, 15, |m| {
        m.detail
            .as_ref()
            .is_some_and(|d| d.address == address && d.onoff == Some(true))
    });
    assert!(ok, "the lamp's OnOff Status never came: {}", notice(&m));
    let me = m.topology.node(u64::from(m.host)).unwrap();
    assert!(
        me.last_seen.is_some(),
        "the inspector's node was on the air"
    );
    assert!(m.traffic.iter().any(|e| e.kind == EntryKind::Access
        && e.src == Some(m.host)
        && e.dst == Some(address)
        && e.opcode.contains("OnOff Set")));
    rt.request(Request::Configure {
        address,
        op: ConfigOp::Subscribe(0xc000),
    });
    let t = Instant::now();
    loop {
        let state = store.load().unwrap();
        let subscribed = state.cdb.node_by_address(address).is_some_and(|n| {
            n.elements
                .iter()
                .flat_map(|e| &e.models)
                .any(|m| m.subscribe.iter().any(|a| a.address().0 == 0xc000))
        });
        if subscribed {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "not subscribed: {}",
            notice(&rt.snapshot())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = topology.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<u64> = graph["nodes"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|n| n["key"].as_u64())
        .collect();
    assert!(keys.contains(&u64::from(address)), "{graph}");
    assert!(keys.contains(&u64::from(m.host)), "{graph}");
    assert!(
        graph["source"].as_str().unwrap().contains("live"),
        "{graph}"
    );
    rt.request(Request::ToggleCapture);
    let (m, ok) = wait_model(&rt, 5, |m| notice(m).starts_with("capture written to"));
    assert!(ok, "{}", notice(&m));
    let path = notice(&m)["capture written to ".len()..].to_string();
    let packets = read_all_packets(&std::fs::read(&path).unwrap()).unwrap();
    assert!(packets.len() >= 4, "{} packets", packets.len());
    rt.stop();

    // The store is free again: the command line reaches the lamp with what the inspector saved.
    let dst = format!("{address:04x}");
    let (code, out, err) = run(&[
        "send", "--radio", &radio, "--net", net, "--dst", &dst, "onoff", "get",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OnOff Status on"), "{out}");
    // Off over two seconds: the lamp answers on, going off, with the time left (MshMDL
    // §3.3.1.2.2: it stays on until the transition ends).
    let (code, out, err) = run(&[
        "send",
        "--radio",
        &radio,
        "--net",
        net,
        "--dst",
        &dst,
        "onoff",
        "off",
        "--transition",
        "2000",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("OnOff Status on target off remaining"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "send", "--radio", &radio, "--dst", &dst, "onoff", "off", "--delay", "5",
    ]);
    assert_eq!(code, 2, "--delay needs --transition");
    assert!(err.contains("--transition"), "{err}");

    // Heartbeats from the lamp to the inspector's node, every 2 s: the database records the
    // publication, and an inspector started again counts the lamp's hops from them.
    let (code, out, err) = run(&[
        "config",
        "--radio",
        &radio,
        "--net",
        net,
        "--dst",
        &dst,
        "heartbeat",
        "--to",
        "0001",
        "--period",
        "2",
    ]);
    assert_eq!(code, 0, "{out} {err}");
    let hb = store
        .load()
        .unwrap()
        .cdb
        .node_by_address(address)
        .unwrap()
        .heartbeat_pub
        .clone();
    assert_eq!(hb.map(|h| (h.address.0, h.period)), Some((0x0001, 2)));
    let (code, _, err) = run(&[
        "config",
        "--radio",
        &radio,
        "--dst",
        &dst,
        "heartbeat",
        "--period",
        "3",
    ]);
    assert_eq!(
        code, 2,
        "a period that is not a power of two is a usage error"
    );
    assert!(err.contains("power of two"), "{err}");
    let rt = weft::inspect::start_live(&sock, &opts, Some(dir.clone()))
        .map_err(|e| e.1)
        .unwrap();
    let (m, ok) = wait_model(&rt, 10, |m| {
        m.topology
            .node(u64::from(address))
            .is_some_and(|n| n.hops == Some(1))
    });
    assert!(
        ok,
        "no hop count from the lamp's Heartbeats: {:?}",
        m.topology.node(u64::from(address))
    );
    assert!(m
        .traffic
        .iter()
        .any(|e| e.summary.starts_with("Heartbeat, init TTL 7")));
    rt.stop();

    // Config Node Reset: the node leaves the database, its address stays excluded.
    let (code, out, err) = run(&[
        "config", "--radio", &radio, "--net", net, "--dst", &dst, "reset",
    ]);
    assert_eq!(code, 0, "{out} {err}");
    let state = store.load().unwrap();
    assert!(state.cdb.node_by_uuid(&uuid).is_none());
    assert!(state.cdb.is_excluded(address, state.iv_index));
    let _ = std::fs::remove_dir_all(&dir);
}
