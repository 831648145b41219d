//! `P` and `C` in `weft inspect`, through the deterministic path (virtual time, no wall
//! clock): the smart-home mesh's unprovisioned hall lamp is heard, provisioned from the
//! provisioner, configured, subscribed to the living-room group with `sub c001`, and then
//! switches when the motion sensor publishes to c001.

use weft::inspect::keys::Action;
use weft::inspect::model::{ConfigOp, Feeder};
use weft::inspect::runtime::run_for;
use weft::inspect::ui::{parse_config, App, InfoTab, Request};
use weft::sim::RunArgs;

#[test]
fn provision_configure_and_subscribe_the_hall_lamp() {
    let mut f = Feeder::new(&RunArgs::default()).expect("smart-home builds");
    run_for(&mut f, 8.0).unwrap();
    let lamp = f
        .model
        .unprovisioned
        .iter()
        .find(|d| d.name == "light-hall")
        .expect("the hall lamp's beacons are heard")
        .clone();
    assert!(lamp.rssi.is_some());
    assert_eq!(lamp.state, "waiting");
    let before = f.model.topology.node_count();

    // P on the Unprovisioned tab, the lamp highlighted.
    let mut app = App::default();
    app.act(Action::Unprovisioned, &f.model);
    assert_eq!(app.tab, InfoTab::Unprovisioned);
    app.unprov_selected = f
        .model
        .unprovisioned
        .iter()
        .position(|d| d.uuid == lamp.uuid)
        .unwrap();
    let Some(Request::Provision { uuid, .. }) = app.act(Action::Provision, &f.model) else {
        panic!("P gives a provisioning request");
    };
    assert_eq!(uuid, lamp.uuid);
    let address = f.provision(uuid).expect("provisioning starts");
    assert_eq!(address, 0x0035, "the next address after the planned ones");

    // Provisioning, then Composition Data Get, AppKey Add and the binds.
    run_for(&mut f, 15.0).unwrap();
    assert!(
        f.model.unprovisioned.iter().all(|d| d.uuid != lamp.uuid),
        "no longer unprovisioned: {:?}",
        f.model.unprovisioned
    );
    assert_eq!(f.model.topology.node_count(), before + 1);
    let d = f.detail(address).expect("the lamp is a node");
    assert_eq!(d.name, "light-hall");
    let onoff = d.elements[0]
        .1
        .iter()
        .find(|m| m.name == "Generic OnOff Server")
        .expect("its OnOff Server");
    assert_eq!(onoff.bound, vec![0], "app key 0 bound after configuration");
    assert!(onoff.subscriptions.is_empty());
    assert_eq!(d.app_keys, vec![0]);
    assert!(
        f.model
            .notice
            .as_ref()
            .is_some_and(|(_, t)| t.contains("configured")),
        "{:?}",
        f.model.notice
    );
    assert_ne!(f.onoff_of(address), Some(true), "not switched yet");

    // C on the lamp: sub c001.
    app.selected = f
        .model
        .topology
        .nodes()
        .position(|n| n.key == u64::from(address))
        .unwrap();
    app.act(Action::Configure, &f.model);
    assert_eq!(app.config_input, Some((address, String::new())));
    for c in "sub c001".chars() {
        assert!(app
            .type_config(ratatui::crossterm::event::KeyCode::Char(c))
            .is_none());
    }
    let Some(Request::Configure { address: a, op }) =
        app.type_config(ratatui::crossterm::event::KeyCode::Enter)
    else {
        panic!("Enter gives a configuration request");
    };
    assert_eq!((a, op), (address, ConfigOp::Subscribe(0xc001)));
    f.configure(a, op).unwrap();
    run_for(&mut f, 3.0).unwrap();
    let d = f.detail(address).unwrap();
    let onoff = d.elements[0]
        .1
        .iter()
        .find(|m| m.name == "Generic OnOff Server")
        .unwrap();
    assert_eq!(onoff.subscriptions, vec![0xc001]);
    assert!(
        f.model
            .notice
            .as_ref()
            .is_some_and(|(_, t)| t.contains("subscribe") && t.contains("success")),
        "{:?}",
        f.model.notice
    );

    // The motion sensor publishes On/Off to c001 every 10 s, alternating: the lamp follows
    // the living-room lights.
    let mut switched = false;
    for _ in 0..40 {
        run_for(&mut f, 1.0).unwrap();
        if f.onoff_of(address) == Some(true) {
            switched = true;
            break;
        }
    }
    assert!(switched, "the hall lamp switched on with c001");
    assert_eq!(f.onoff_of(address), f.onoff_of(0x0030));

    // C hb 0001: the lamp sends Heartbeats to the provisioner (MshPRT §4.2.17).
    f.configure(address, parse_config("hb 0001").unwrap())
        .unwrap();
    run_for(&mut f, 3.0).unwrap();
    let d = f.detail(address).unwrap();
    assert_eq!(
        d.heartbeat_pub.as_deref(),
        Some("to 0001 every 16 s"),
        "{:?}",
        f.model.notice
    );
    assert!(
        f.model
            .notice
            .as_ref()
            .is_some_and(|(_, t)| t.contains("Heartbeats to 0001 every 16 s: success")),
        "{:?}",
        f.model.notice
    );
}

#[test]
fn configuration_lines_parse() {
    assert_eq!(parse_config("bind"), Ok(ConfigOp::Bind));
    assert_eq!(parse_config("sub c001"), Ok(ConfigOp::Subscribe(0xc001)));
    assert_eq!(parse_config(" pub 0x0001 "), Ok(ConfigOp::Publish(0x0001)));
    assert!(parse_config("sub").unwrap_err().contains("hex"));
    assert!(parse_config("sub zz").is_err());
    assert!(parse_config("frob").is_err());
    assert!(parse_config("bind extra").is_err());
    assert_eq!(
        parse_config("hb 0001"),
        Ok(ConfigOp::Heartbeat(Some(0x0001)))
    );
    assert_eq!(parse_config("hb off"), Ok(ConfigOp::Heartbeat(None)));
    assert!(parse_config("hb").unwrap_err().contains("hex"));
}
