//! Snapshots of each pane of `weft inspect` at two terminal sizes, drawn with ratatui's
//! TestBackend from the smart-home mesh run for a fixed virtual time with a fixed seed (no wall
//! clock anywhere, so the pictures are the same on every machine).

use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::{Frame, Terminal};
use weft::inspect::model::{Feeder, Model};
use weft::inspect::runtime::run_for;
use weft::inspect::ui::{self, App, Filter};
use weft::sim::RunArgs;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

/// The smart-home mesh after 24 virtual seconds, the motion sensor (0010) selected.
fn model() -> (Model, App) {
    let mut f = Feeder::new(&RunArgs::default()).expect("smart-home builds");
    run_for(&mut f, 24.0).expect("runs");
    f.model.detail = f.detail(0x0010).map(Arc::new);
    let m = f.model.clone();
    let mut app = App::default();
    app.selected = m
        .topology
        .nodes()
        .position(|n| n.key == 0x0010)
        .expect("motion sensor");
    (m, app)
}

fn render(
    w: u16,
    h: u16,
    app: &mut App,
    m: &Model,
    pane: fn(&mut Frame<'_>, Rect, &mut App, &Model),
) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| pane(f, f.area(), app, m)).unwrap();
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn check(name: &str, pane: fn(&mut Frame<'_>, Rect, &mut App, &Model), setup: fn(&mut App)) {
    let (m, mut app) = model();
    setup(&mut app);
    for (w, h) in SIZES {
        let screen = render(w, h, &mut app, &m, pane);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

fn none(_: &mut App) {}

#[test]
fn whole_screen() {
    check("screen", |f, _, a, m| ui::draw(f, a, m), none);
}

#[test]
fn topology() {
    check("topology", ui::draw_topology, none);
}

#[test]
fn topology_plain() {
    check("topology_plain", ui::draw_topology, |a| a.braille = false);
}

#[test]
fn nodes() {
    check("nodes", ui::draw_nodes, none);
}

#[test]
fn traffic() {
    check("traffic", ui::draw_traffic, none);
}

#[test]
fn traffic_filtered() {
    check("traffic_filtered", ui::draw_traffic, |a| {
        a.filter = Filter::parse("src:0012 opcode:sensor").unwrap()
    });
}

#[test]
fn detail() {
    check("detail", |f, r, a, m| ui::draw_detail(f, r, a, m), none);
}

#[test]
fn stats() {
    check("stats", |f, r, a, m| ui::draw_stats(f, r, a, m), none);
}

#[test]
fn unprovisioned() {
    check(
        "unprovisioned",
        |f, r, a, m| ui::draw_unprovisioned(f, r, a, m),
        none,
    );
}

#[test]
fn help() {
    check("help", |f, r, _, _| ui::draw_help(f, r), none);
}

#[test]
fn the_picture_shows_the_network() {
    let (m, mut app) = model();
    let s = render(120, 40, &mut app, &m, |f, _, a, m| ui::draw(f, a, m));
    for want in [
        "motion-hall",
        "relay-stairs",
        "OnOff Set Unack",
        "Sensor Status",
        "Nodes (12)",
    ] {
        assert!(s.contains(want), "{want} missing from\n{s}");
    }
    // The relayed copies name their relay.
    assert!(m.traffic.iter().any(|e| e.relayed_by.is_some()));
    assert!(m.topology.links().count() > 10);
    assert_eq!(m.stats.ingest_dropped, 0);
}

#[test]
fn filter_parses_and_rejects() {
    let f = Filter::parse("src:0010 dst:c001 opcode:OnOff").unwrap();
    assert_eq!(
        (f.src, f.dst, f.opcode.as_deref()),
        (Some(0x10), Some(0xc001), Some("onoff"))
    );
    assert_eq!(
        Filter::parse("sensor").unwrap().opcode.as_deref(),
        Some("sensor")
    );
    assert!(Filter::parse("foo:1")
        .unwrap_err()
        .contains("unknown filter"));
    assert!(Filter::parse("src:zz").unwrap_err().contains("hex address"));
    assert!(Filter::parse("").unwrap().is_empty());
}
