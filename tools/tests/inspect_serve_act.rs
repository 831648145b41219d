//! `weft inspect --serve PATH` acting through `weft serve` beside other clients: the inspector
//! provisions a device (P), switches it (o) and subscribes it (C) as requests to the server,
//! while `weft provision --serve` and `weft send --serve` act on another device at the same
//! time; the node the other client provisioned appears in the inspector with what the
//! server's network knows of it (the `network` event). Through the runtime the UI drives, no
//! terminal.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod procs;

use procs::{hub, onoff_node, run, scratch, serve, Killed};
use weft::inspect::model::{ConfigOp, Model, NodeDetail};
use weft::inspect::runtime::Runtime;
use weft::inspect::ui::Request;
use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet, ONOFF_STATUS};

/// Waits (bounded) for a snapshot that satisfies `ok` (with the status lines seen so far,
/// kept in `notices`); the last snapshot and whether it did.
fn wait_model(
    rt: &Runtime,
    secs: u64,
    notices: &mut Vec<String>,
    mut ok: impl FnMut(&Model, &[String]) -> bool,
) -> (Arc<Model>, bool) {
    let t = Instant::now();
    loop {
        let m = rt.snapshot();
        if let Some((_, text)) = &m.notice {
            if notices.last() != Some(text) {
                notices.push(text.clone());
            }
        }
        if ok(&m, notices) {
            return (m, true);
        }
        if t.elapsed() > Duration::from_secs(secs) {
            return (m, false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn node(dir: &std::path::Path, radio: &str, uuid: &str) -> Killed {
    onoff_node(radio, uuid, &dir.join(format!("{uuid}.weft")))
}

fn uuid_of(hex: &str) -> [u8; 16] {
    let mut u = [0u8; 16];
    hex::decode_to_slice(hex, &mut u).unwrap();
    u
}

#[test]
fn the_inspector_acts_through_weft_serve_beside_other_clients() {
    let dir = scratch("inspect", "serve-act");
    let sock = dir.join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let _hub = hub(&sock);
    let (mine, theirs) = (
        "a1a2a3a4a5a6a7a8a9aaabacadaeaf00",
        "b1b2b3b4b5b6b7b8b9babbbcbdbebf00",
    );
    let _n1 = node(&dir, &radio, mine);
    let _n2 = node(&dir, &radio, theirs);
    let net = dir.join("net.weft");
    let net = net.to_str().unwrap();
    assert_eq!(run(&["net", "create", "--net", net]).0, 0);
    let ctl = dir.join("ctl.sock");
    let _server = serve(&radio, net.as_ref(), &ctl);
    let rt = weft::inspect::start_served(&ctl, None)
        .map_err(|e| e.1)
        .expect("the inspector reaches weft serve");
    let mut notices = Vec::new();
    let (mine_u, theirs_u) = (uuid_of(mine), uuid_of(theirs));
    let (m, ok) = wait_model(&rt, 30, &mut notices, |m, _| {
        [mine_u, theirs_u]
            .iter()
            .all(|u| m.unprovisioned.iter().any(|d| d.uuid == *u))
    });
    assert!(ok, "both devices heard: {:?} {notices:?}", m.unprovisioned);

    // Another client provisions its device while the inspector provisions its own: the server
    // takes both, one after the other.
    let ctl_s = ctl.to_str().unwrap().to_string();
    let other = {
        let ctl = ctl_s.clone();
        std::thread::spawn(move || run(&["provision", "--serve", &ctl, "--uuid", theirs, "--json"]))
    };
    rt.request(Request::Provision {
        uuid: mine_u,
        name: "mine".into(),
    });
    let (code, out, err) = other.join().unwrap();
    assert_eq!(code, 0, "{out} {err}");
    let theirs_at = serde_json::from_str::<serde_json::Value>(out.lines().next().unwrap())
        .map(|v| v["address"].as_str().unwrap().to_string())
        .unwrap_or_else(|e| panic!("{out}: {e}"));
    let theirs_at = u16::from_str_radix(&theirs_at, 16).unwrap();

    // Both nodes, with what the server's network knows of them (their UUIDs come from the
    // network database, never from the air).
    let uuid_at = |m: &Model, u: [u8; 16]| {
        m.topology
            .nodes()
            .find(|n| n.uuid == Some(u))
            .map(|n| n.key as u16)
    };
    let (m, ok) = wait_model(&rt, 90, &mut notices, |m, _| {
        uuid_at(m, mine_u).is_some() && uuid_at(m, theirs_u) == Some(theirs_at)
    });
    assert!(ok, "both nodes drawn: {notices:?} {:?}", m.unprovisioned);
    let mine_at = uuid_at(&m, mine_u).unwrap();
    assert!(
        m.unprovisioned
            .iter()
            .all(|d| d.uuid != mine_u && d.uuid != theirs_u),
        "{:?}",
        m.unprovisioned
    );
    // The other node's detail, from the server's network: selected, its OnOff Server bound.
    rt.request(Request::Select(Some(theirs_at)));
    let (m, ok) = wait_model(&rt, 10, &mut notices, |m, _| {
        m.detail.as_ref().is_some_and(|d| d.address == theirs_at)
    });
    assert!(ok, "no detail of the node another client provisioned");
    let d = m.detail.as_ref().unwrap();
    assert_eq!(d.uuid, theirs_u);
    assert!(
        d.elements
            .iter()
            .flat_map(|(_, models)| models)
            .any(|md| md.name == "Generic OnOff Server" && md.bound == vec![0]),
        "{d:?}"
    );

    // The inspector's own node, once the server has configured it and the inspector knows its
    // composition (a subscription asked for before that is refused by the inspector itself:
    // "its composition is not known yet").
    let bound_onoff = |d: &NodeDetail| {
        d.elements
            .iter()
            .flat_map(|(_, models)| models)
            .any(|md| md.name == "Generic OnOff Server" && md.bound == vec![0])
    };
    rt.request(Request::Select(Some(mine_at)));
    let (m, ok) = wait_model(&rt, 60, &mut notices, |m, _| {
        m.detail
            .as_ref()
            .is_some_and(|d| d.address == mine_at && bound_onoff(d))
    });
    assert!(ok, "own node configured: {:?} {notices:?}", m.detail);

    // `weft send --serve` switches the other node while the inspector switches and subscribes
    // its own.
    let sender = {
        let ctl = ctl_s.clone();
        let dst = format!("{theirs_at:04x}");
        std::thread::spawn(move || {
            (0..3)
                .map(|_| run(&["send", "--serve", &ctl, "--dst", &dst, "onoff", "on"]))
                .collect::<Vec<_>>()
        })
    };
    rt.request(Request::Send {
        dst: mine_at,
        message: GenericMessage::OnOffSet(OnOffSet {
            on: true,
            tid: 9,
            transition: None,
        })
        .to_access(),
        expect: ONOFF_STATUS,
        what: "OnOff on".into(),
    });
    rt.request(Request::Configure {
        address: mine_at,
        op: ConfigOp::Subscribe(0xc001),
    });
    rt.request(Request::Select(Some(mine_at)));
    let (m, ok) = wait_model(&rt, 60, &mut notices, |m, _| {
        m.detail.as_ref().is_some_and(|d| {
            d.address == mine_at
                && d.onoff == Some(true)
                && d.elements
                    .iter()
                    .flat_map(|(_, models)| models)
                    .any(|md| md.subscriptions == vec![0xc001])
        })
    });
    assert!(ok, "switched and subscribed: {:?} {notices:?}", m.detail);
    for (code, out, err) in sender.join().unwrap() {
        assert_eq!(
            (code, out.trim()),
            (0, format!("{theirs_at:04x}: OnOff Status on").as_str()),
            "{err}"
        );
    }
    let (_, ok) = wait_model(&rt, 20, &mut notices, |_, seen| {
        seen.iter().any(|t| t.starts_with("sent OnOff on: "))
            && seen
                .iter()
                .any(|t| t.contains("subscribe") && t.contains("through weft serve)"))
    });
    assert!(ok, "the replies shown: {notices:?}");

    // Drawn from the server's node (`status`'s `node`: weft's node, 0001, the first address
    // of a new network): it is `you`, what it sent is its own (no link to itself), and no
    // listener stands beside it.
    let m = rt.snapshot();
    assert_eq!((m.host, m.topology.host()), (1, Some(1)));
    assert!(m.topology.node(0).is_none(), "{:?}", m.topology.node(0));
    assert!(m.topology.link(1, 1).is_none());
    assert!(
        m.topology.node(1).and_then(|n| n.last_seen).is_some(),
        "the server's frames are its node's"
    );

    // Another client resets the other node: the database drops it, and the inspector drops
    // it once it is not heard anymore; the inspector's own node stays.
    let dst = format!("{theirs_at:04x}");
    let (code, out, err) = run(&["config", "--serve", &ctl_s, "--dst", &dst, "reset"]);
    assert_eq!(code, 0, "{out} {err}");
    let (m, ok) = wait_model(&rt, 90, &mut notices, |m, _| {
        m.topology.node(u64::from(theirs_at)).is_none()
    });
    assert!(
        ok,
        "the reset node still drawn: {:?} {notices:?}",
        m.topology.node(u64::from(theirs_at))
    );
    assert!(m.topology.node(u64::from(mine_at)).is_some());
    eprintln!("status lines: {notices:#?}");
    rt.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
