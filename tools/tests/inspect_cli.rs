//! `weft topology` and `weft bench tui` from the command line, and the inspector's actions
//! driven against the simulated network (virtual time only).

use assert_cmd::Command;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;
use weft::inspect::keys::{action_for, Action};
use weft::inspect::model::Feeder;
use weft::inspect::runtime::run_for;
use weft::inspect::ui::{App, Request};
use weft::sim::RunArgs;

fn weft(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn topology_exports_dot() {
    let (code, out, _) = weft(&[
        "topology",
        "--scenario",
        "smart-home",
        "--seconds",
        "15",
        "--format",
        "dot",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("graph mesh {"), "{out}");
    assert!(
        out.contains("\"0020\" [label=\"relay-hall\\n0020 R\", shape=box];"),
        "{out}"
    );
    assert!(
        out.contains("\"0020\" -- \"0021\""),
        "relays hear each other:\n{out}"
    );
}

#[test]
fn topology_exports_json_through_a_sim_radio() {
    let (code, out, _) = weft(&[
        "topology",
        "--radio",
        "sim:smart-home",
        "--seconds",
        "15",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let nodes = v["nodes"].as_object().unwrap();
    assert_eq!(nodes.len(), 12);
    assert_eq!(v["host"], 1);
    let links = v["links"].as_array().unwrap();
    assert!(links.len() > 10);
    for l in links {
        assert!(l["count"].as_u64().unwrap() > 0);
        assert!(l["rssi_last"].as_i64().unwrap() >= -95, "{l}");
    }
    assert_eq!(v["layout"].as_array().unwrap().len(), 12);
}

#[test]
fn other_radios_are_unavailable() {
    // The HCI radio is built: a serial device that is not there is unavailable, and says so.
    let (code, out, err) = weft(&[
        "topology",
        "--radio",
        "hci:/nonexistent/ttyACM0",
        "--format",
        "dot",
    ]);
    assert_eq!(code, 3);
    assert!(out.is_empty());
    assert!(err.contains("cannot open the serial device"), "{err}");
    // BlueZ without a system bus (whatever the host runs): exit 3, saying what to do.
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["inspect", "--radio", "bluez:hci0"])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/weft-test-bus",
        )
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("bluez:hci0: no D-Bus system bus"), "{err}");
    assert!(err.contains("systemctl start dbus"), "{err}");
    let (code, _, _) = weft(&["topology", "--scenario", "nope", "--format", "dot"]);
    assert_eq!(code, 2);
    let (code, _, _) = weft(&["topology", "--format", "dot"]);
    assert_eq!(code, 2, "a scenario or radio is required");
}

#[test]
fn bench_tui_reports_its_figures() {
    let (code, out, err) = weft(&[
        "bench",
        "tui",
        "--nodes",
        "30",
        "--seconds",
        "0.5",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    for k in [
        "frame_ms_p50",
        "frame_ms_p99",
        "pdus_per_s_ingested",
        "dropped",
    ] {
        assert!(v[k].is_number(), "{k} in {v}");
    }
    assert!(v["frames"].as_u64().unwrap() > 0);
}

#[test]
fn on_off_sent_from_the_inspector_switches_a_light() {
    let mut f = Feeder::new(&RunArgs::default()).unwrap();
    run_for(&mut f, 1.0).unwrap();
    let m = f.model.clone();
    let mut app = App::default();
    app.selected = m.topology.nodes().position(|n| n.key == 0x0033).unwrap();
    let key = |c| action_for(&KeyEvent::new(c, KeyModifiers::NONE)).unwrap();
    let Some(Request::Send {
        dst, message, what, ..
    }) = app.act(key(KeyCode::Char('o')), &m)
    else {
        panic!("o sends");
    };
    assert_eq!(dst, 0x0033);
    assert!(what.contains("light-kitchen-1"), "{what}");
    assert!(f.send(dst, message));
    run_for(&mut f, 2.0).unwrap();
    assert_eq!(f.onoff_of(0x0033), Some(true));
    assert!(f
        .model
        .traffic
        .iter()
        .any(|e| e.src == Some(0x0001) && e.dst == Some(0x0033) && e.opcode.contains("OnOff Set")));

    // `t` targets the groups in turn; Esc goes back to the node.
    assert_eq!(key(KeyCode::Char('t')), Action::Target);
    app.act(Action::Target, &m);
    assert_eq!(app.target(&m).unwrap().0, 0xc001);
    app.act(Action::Target, &m);
    assert_eq!(app.target(&m).unwrap().0, 0xc002);
    app.act(Action::Escape, &m);
    assert_eq!(app.target(&m).unwrap().0, 0x0033);

    // P provisions the hall lamp heard beaconing; C opens the configuration line for the
    // selected node (tests/inspect_provision.rs follows both through).
    assert!(matches!(
        app.act(Action::Provision, &m),
        Some(Request::Provision { ref name, .. }) if name == "light-hall"
    ));
    assert_eq!(app.act(Action::Configure, &m), None);
    assert_eq!(app.config_input, Some((0x0033, String::new())));
}

#[test]
fn capture_writes_a_pcapng_file() {
    let mut f = Feeder::new(&RunArgs::default()).unwrap();
    let path = std::env::temp_dir().join(format!("weft-inspect-{}.pcapng", std::process::id()));
    f.start_capture(&path).unwrap();
    run_for(&mut f, 6.0).unwrap();
    assert_eq!(f.stop_capture(), Some(Ok(path.clone())));
    let bytes = std::fs::read(&path).unwrap();
    let packets = weft_radio::pcap::read_all_packets(&bytes).unwrap();
    assert!(packets.len() > 10, "{} packets", packets.len());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn selection_follows_keys_and_stays_in_range() {
    let f = Feeder::new(&RunArgs::default()).unwrap();
    let m = f.model.clone();
    let mut app = App::default();
    assert_eq!(app.act(Action::Up, &m), Some(Request::Select(Some(0x0001))));
    app.act(Action::Bottom, &m);
    assert_eq!(app.selected, 11);
    assert_eq!(
        app.act(Action::Down, &m),
        Some(Request::Select(Some(0x0034)))
    );
    app.act(Action::Help, &m);
    assert!(app.help);
    app.act(Action::Escape, &m);
    assert!(!app.help);
    app.act(Action::Quit, &m);
    assert!(app.quit);
}
