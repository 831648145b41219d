//! Each pane of the Thread tab drawn with ratatui's TestBackend from the thread-home scenario
//! run for a fixed virtual time (seed 1, no wall clock), read for what it must show: the
//! routers with the leader marked, children under their parents, router links with their link
//! quality, decoded MLE lines, a decoding error in red with its reason, every layer of a frame
//! with its TLVs, the statistics; and the protocol tab bar.

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::{Frame, Terminal};
use weft::inspect::thread::{ThreadFeeder, ThreadModel, ThreadSim};
use weft::inspect::ui::{self, App, Protocol, ThreadInfo};
use weft_mesh::thread::sniff::Fcs;
use weft_mesh::{Duration, Instant};

/// What the stations are after the run: the leader's RLOC16, the partition, the routers'
/// RLOC16s, each end device's (RLOC16, parent RLOC16).
struct Truth {
    leader: u16,
    partition: u32,
    routers: Vec<u16>,
    children: Vec<(u16, u16)>,
}

/// thread-home after 60 virtual seconds, then one frame too short for a MAC header.
fn model() -> ThreadModel {
    model_and_truth().0
}

fn model_and_truth() -> (ThreadModel, Truth) {
    use weft_mesh::thread::stack::Role;
    let mut sim = ThreadSim::new("thread-home", 1).unwrap();
    let mut f = ThreadFeeder::new("sim:thread-home (seed 1)".into(), sim.config(None, None));
    let mut t = Instant::ZERO;
    while t < Instant::from_micros(60_000_000) {
        t += Duration::from_millis(500);
        sim.advance_to(t, &mut f);
    }
    f.ingest(t, 15, Some(-70), Some(200), &[0x41, 0xd8], Fcs::Absent);
    f.publish(300);
    let mut truth = Truth {
        leader: 0xfffe,
        partition: 0,
        routers: Vec::new(),
        children: Vec::new(),
    };
    for (_, st) in sim.medium().nodes() {
        let n = st.node();
        match n.role() {
            Role::Leader => {
                truth.leader = n.rloc16().unwrap();
                truth.partition = n.partition().unwrap().id;
                truth.routers.push(n.rloc16().unwrap());
            }
            Role::Router => truth.routers.push(n.rloc16().unwrap()),
            Role::Child => truth
                .children
                .push((n.rloc16().unwrap(), n.parent_rloc16().unwrap())),
            Role::Detached => panic!("a detached station after 60 s"),
        }
    }
    (f.model, truth)
}

/// Children the model holds that no station is (RLOC16s the routers held as children before
/// they became routers).
fn stale(m: &ThreadModel, t: &Truth) -> usize {
    m.nodes
        .iter()
        .filter(|n| n.parent.is_some())
        .filter(|n| !t.children.iter().any(|c| c.0 == n.rloc16))
        .count()
}

type Pane = fn(&mut Frame<'_>, Rect, &mut App, &ThreadModel);

fn render(w: u16, h: u16, app: &mut App, m: &ThreadModel, pane: Pane) -> (String, Buffer) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| pane(f, f.area(), app, m)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        s.push_str(line.trim_end());
        s.push('\n');
    }
    (s, buf)
}

/// The colour of the first cell of `text` on the screen.
fn color_of(screen: &str, buf: &Buffer, text: &str) -> Color {
    for (y, line) in screen.lines().enumerate() {
        if let Some(i) = line.find(text) {
            let x = line[..i].chars().count();
            return buf[(x as u16, y as u16)].fg;
        }
    }
    panic!("{text:?} not on the screen:\n{screen}");
}

#[test]
fn the_topology_draws_routers_the_leader_and_children() {
    let (m, t) = model_and_truth();
    let mut app = App::default();
    let (s, _) = render(100, 30, &mut app, &m, ui::draw_thread_topology);
    assert!(
        s.contains(&format!("Topology · partition {:08x}", t.partition)),
        "{s}"
    );
    assert!(s.contains(&format!("R{} leader", t.leader >> 10)), "{s}");
    assert_eq!(t.routers.len(), 5);
    for r in &t.routers {
        assert!(s.contains(&format!("R{}", r >> 10)), "{r:04x}\n{s}");
    }
    // Ten children (and any stale child entry), one glyph each, and the routers' glyphs.
    assert_eq!(t.children.len(), 10);
    let stale = stale(&m, &t);
    assert_eq!(s.matches('●').count(), 10 + stale + 1, "{s}"); // + the legend's
    assert_eq!(s.matches('■').count(), 4 + 1, "{s}");
    assert_eq!(s.matches('◆').count(), 1 + 1, "{s}");
    assert_eq!(app.areas.node_cells.len(), 15 + stale);
    // Plain characters.
    app.braille = false;
    let (s, _) = render(100, 30, &mut app, &m, ui::draw_thread_topology);
    assert!(s.contains("L leader  # router  o child"), "{s}");
}

#[test]
fn the_nodes_table_lists_roles_parents_and_links() {
    let (m, t) = model_and_truth();
    let mut app = App::default();
    let (s, buf) = render(100, 24, &mut app, &m, ui::draw_thread_nodes);
    assert!(
        s.contains(&format!(
            "Nodes (5 routers, {} children)",
            10 + stale(&m, &t)
        )),
        "{s}"
    );
    assert!(s.contains("PARENT / LINKS (LQ in/out)"), "{s}");
    let leader_row = format!("{:04x} leader", t.leader);
    let leader = s.lines().find(|l| l.contains(&leader_row)).expect("leader");
    // The leader's links as its Route64 says them, and its extended address.
    let n = m.node(t.leader).unwrap();
    assert!(!n.links.is_empty());
    for l in &n.links {
        assert!(
            leader.contains(&format!("R{} {}/{}", l.router_id, l.lq_in, l.lq_out)),
            "{leader}"
        );
    }
    assert!(leader.contains(n.ext_addr.as_deref().unwrap()), "{leader}");
    // A child under its parent.
    let (c, p) = t.children[0];
    let row = s
        .lines()
        .find(|l| l.contains(&format!("{c:04x} child")))
        .unwrap_or_else(|| panic!("{c:04x}\n{s}"));
    assert!(
        row.contains(&format!("child  ↑ R{} ({p:04x})", p >> 10)),
        "{row}"
    );
    // The first node is selected; selecting another moves the highlight.
    let first = &m.nodes[0];
    let first_row = format!("{:04x} ", first.rloc16);
    assert_eq!(color_of(&s, &buf, &first_row), Color::White);
    app.thread.selected = 3;
    let third = format!("{:04x} ", m.nodes[3].rloc16);
    let (s, buf) = render(60, 24, &mut app, &m, ui::draw_thread_nodes);
    assert!(s.contains("PARENT / LINKS id:in/out"), "{s}");
    assert_eq!(color_of(&s, &buf, &third), Color::White);
    assert_ne!(color_of(&s, &buf, &first_row), Color::White);
}

#[test]
fn the_traffic_shows_mle_and_errors_in_red() {
    let m = model();
    let mut app = App::default();
    let (s, buf) = render(110, 20, &mut app, &m, ui::draw_thread_traffic);
    assert!(
        s.contains(&format!("Traffic ({} frames)", m.traffic_total)),
        "{s}"
    );
    assert!(s.contains("MLE sec"), "{s}");
    assert!(s.contains("udp 19788→19788"), "{s}");
    // The last frame: too short, its reason in red.
    let reason = "mac: ";
    assert!(s.contains(reason), "{s}");
    assert_eq!(color_of(&s, &buf, reason), Color::Red);
    // Filtered on MLE advertisements: only they are listed.
    app.filter = ui::Filter::parse("advertisement").unwrap();
    let (s, buf) = render(110, 20, &mut app, &m, ui::draw_thread_traffic);
    let rows: Vec<&str> = s.lines().filter(|l| l.contains(" data ")).collect();
    assert!(rows.len() >= 10, "{s}");
    assert!(rows.iter().all(|l| l.contains("MLE advertisement")), "{s}");
    assert_eq!(color_of(&s, &buf, "MLE advertisement"), Color::Green);
}

fn detail(f: &mut Frame<'_>, a: Rect, app: &mut App, m: &ThreadModel) {
    ui::draw_frame_detail(f, a, app, m)
}

fn stats(f: &mut Frame<'_>, a: Rect, app: &mut App, m: &ThreadModel) {
    ui::draw_thread_stats(f, a, app, m)
}

#[test]
fn the_detail_shows_every_layer_of_the_selected_frame() {
    let (m, t) = model_and_truth();
    let mut app = App::default();
    // Following: the newest, the error.
    let (s, buf) = render(60, 20, &mut app, &m, detail);
    assert!(
        s.contains(&format!(
            "#{} at 01:00.000  ch 15  -70 dBm  LQI 200",
            m.traffic_total
        )),
        "{s}"
    );
    assert_eq!(color_of(&s, &buf, "Error"), Color::Red);
    assert!(s.contains("PSDU"), "{s}");
    assert!(s.contains("41d8"), "{s}");
    // A Child ID Response held: MLE with its TLVs, then UDP, IPv6, 6LoWPAN, MAC.
    let e = m
        .traffic
        .iter()
        .find(|e| e.view.mle.as_deref() == Some("child id response"))
        .expect("a child id response");
    app.thread.frame = Some(e.n);
    let (s, _) = render(70, 40, &mut app, &m, detail);
    assert!(s.contains("command child id response (12), secured"), "{s}");
    assert!(s.contains("address16(rloc16="), "{s}");
    assert!(
        s.contains(&format!("leader_data(partition_id={:08x}", t.partition)),
        "{s}"
    );
    let at = |t: &str| s.find(t).unwrap_or_else(|| panic!("{t}\n{s}"));
    assert!(at("MLE") < at("UDP") && at("UDP") < at("IPv6"), "{s}");
    assert!(
        at("IPv6") < at("6LoWPAN") && at("6LoWPAN") < at("frame type data"),
        "{s}"
    );
    assert!(s.contains("ports 19788 → 19788"), "{s}");
}

#[test]
fn the_statistics_count_what_was_heard() {
    let (m, t) = model_and_truth();
    let mut app = App::default();
    app.thread.info = ThreadInfo::Stats;
    let (s, buf) = render(60, 30, &mut app, &m, stats);
    let st = &m.stats;
    assert!(s.contains(&format!("frames        {} (", st.frames)), "{s}");
    assert!(
        s.contains(&format!("decrypted     {}", st.decrypted)),
        "{s}"
    );
    assert!(s.contains(&format!("MLE           {}", st.mle)), "{s}");
    assert!(
        s.contains(&format!(
            "leader        router {} ({:04x})",
            t.leader >> 10,
            t.leader
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!("partition     {:08x}", t.partition)),
        "{s}"
    );
    assert!(s.contains("key sequence  0"), "{s}");
    // The one error, by kind, in red.
    assert!(s.contains("MAC malformed"), "{s}");
    assert_eq!(color_of(&s, &buf, "MAC malformed"), Color::Red);
    for c in ["advertisement", "parent request", "child id response"] {
        assert!(s.contains(c), "{c}\n{s}");
    }
}

#[test]
fn both_protocols_get_a_tab_bar_with_their_counts() {
    let t = model();
    let mut app = App::default();
    app.protocol = Protocol::Thread;
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mesh = {
        let mut f = weft::inspect::model::Feeder::new(&weft::sim::RunArgs::default()).unwrap();
        weft::inspect::runtime::run_for(&mut f, 10.0).unwrap();
        f.model
    };
    term.draw(|f| ui::draw_all(f, &mut app, Some(&mesh), Some(&t)))
        .unwrap();
    let buf = term.backend().buffer();
    let line = |y: u16| -> String { (0..120).map(|x| buf[(x, y)].symbol().to_string()).collect() };
    assert!(
        line(0).contains(&format!(
            " 1 Bluetooth Mesh · {} PDUs   2 Thread · {} frames ",
            mesh.stats.pdus, t.stats.frames
        )),
        "{}",
        line(0)
    );
    assert!(line(1).contains("sim:thread-home (seed 1)"), "{}", line(1));
    // Thread alone: no tab bar.
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| ui::draw_all(f, &mut app, None, Some(&t)))
        .unwrap();
    let buf = term.backend().buffer();
    let first: String = (0..120).map(|x| buf[(x, 0)].symbol().to_string()).collect();
    assert!(first.starts_with(" weft inspect "), "{first}");
}

#[test]
fn the_status_bar_says_how_to_give_the_key_or_that_it_is_wrong() {
    let footer = |key: Option<[u8; 16]>| -> String {
        let mut sim = ThreadSim::new("thread-home", 1).unwrap();
        let mut c = sim.config(None, None);
        c.key = key;
        let mut f = ThreadFeeder::new("x".into(), c);
        sim.advance_to(Instant::from_micros(20_000_000), &mut f);
        f.publish(10);
        let mut app = App::default();
        let mut term = Terminal::new(TestBackend::new(160, 30)).unwrap();
        term.draw(|fr| ui::draw_all(fr, &mut app, None, Some(&f.model)))
            .unwrap();
        let buf = term.backend().buffer();
        (0..160)
            .map(|x| buf[(x, 29)].symbol().to_string())
            .collect()
    };
    let none = footer(None);
    assert!(
        none.contains("give the network key with --thread-key HEX"),
        "{none}"
    );
    let wrong = footer(Some([0x55; 16]));
    assert!(wrong.contains("nothing opens with this key"), "{wrong}");
    let right = footer(
        ThreadSim::new("thread-home", 1)
            .unwrap()
            .config(None, None)
            .key,
    );
    assert!(right.contains("? help"), "{right}");
}
