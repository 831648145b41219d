//! The Thread tab's topology, node table and traffic log.

use super::*;
use crate::inspect::thread::adapter::Security;
use std::net::Ipv6Addr;

use crate::inspect::thread::model::Role;

fn thread_glyph(n: &TopoNode, _host: Option<NodeKey>, fancy: bool) -> (&'static str, Color) {
    match () {
        _ if n.label().ends_with("leader") => (if fancy { "◆" } else { "L" }, Color::Magenta),
        _ if n.roles.relay => (if fancy { "■" } else { "#" }, Color::Yellow),
        _ => (if fancy { "●" } else { "o" }, Color::Cyan),
    }
}

/// The partition: routers (the leader marked), router links coloured by the worse link
/// quality the two report, children hanging off their parents.
pub fn draw_thread_topology(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &ThreadModel) {
    let plain = if app.braille { "" } else { " plain" };
    let selected = m
        .nodes
        .get(app.thread.selected)
        .map(|n| NodeKey::from(n.rloc16));
    let view = GraphView {
        title: format!(
            "Topology{plain} · partition {}",
            m.stats.partition_id.as_deref().unwrap_or("?")
        ),
        topology: &m.topology,
        positions: &m.positions,
        edges: m.edges.as_ref().clone(),
        hops: &[],
        now: m.now,
        selected,
        glyph: thread_glyph,
        legend: vec![
            Span::styled("◆", Style::default().fg(Color::Magenta)),
            Span::raw(" leader "),
            Span::styled("■", Style::default().fg(Color::Yellow)),
            Span::raw(" router "),
            Span::styled("●", Style::default().fg(Color::Cyan)),
            Span::raw(" child  LQ "),
            Span::styled("3", Style::default().fg(Color::Green)),
            Span::styled("2", Style::default().fg(Color::Yellow)),
            Span::styled("1", Style::default().fg(Color::Red)),
        ],
        legend_plain: "L leader  # router  o child",
        empty: if m.key_known {
            "no Thread node heard yet"
        } else {
            "no Thread node heard yet (no key: roles come from RLOC16s only)"
        },
    };
    draw_graph(f, area, app, &view);
}

/// The nodes: RLOC16, role, parent or router links (LQ in/out), frames, RSSI, LQI, last seen,
/// extended address.
pub fn draw_thread_nodes(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &ThreadModel) {
    let n = m.nodes.len();
    let routers = m.nodes.iter().filter(|n| n.role != Role::Child).count();
    let block = pane(&format!(
        "Nodes ({routers} routers, {} children)",
        n - routers
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    app.areas.nodes = inner;
    if inner.height < 2 {
        return;
    }
    if n == 0 {
        f.render_widget(Paragraph::new("none heard yet").fg(Color::DarkGray), inner);
        return;
    }
    let wide = inner.width >= 90;
    let lqi = m.nodes.iter().any(|n| n.lqi.is_some());
    let links = if wide {
        "PARENT / LINKS (LQ in/out)"
    } else {
        "PARENT / LINKS id:in/out"
    };
    let mut header = vec!["RLOC", "ROLE", links, "FRMS", "RSSI"];
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Fill(1),
        Constraint::Length(4),
        Constraint::Length(4),
    ];
    if lqi || wide {
        header.push("LQI");
        widths.push(Constraint::Length(3));
    }
    header.push("SEEN");
    widths.push(Constraint::Length(6));
    if wide {
        header.push("EXT ADDR");
        widths.push(Constraint::Length(16));
    }
    let rows_visible = usize::from(inner.height - 1);
    app.thread.selected = app.thread.selected.min(n - 1);
    let offset = app
        .thread
        .selected
        .saturating_sub(rows_visible.saturating_sub(1))
        .min(n.saturating_sub(rows_visible));
    app.areas.nodes_first_row = inner.y + 1;
    app.areas.nodes_offset = offset;
    let rows: Vec<Row<'_>> = m
        .nodes
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_visible)
        .map(|(i, node)| {
            let rel = match node.parent {
                Some(p) => format!("↑ R{} ({p:04x})", p >> 10),
                None => node
                    .links
                    .iter()
                    .map(|l| {
                        if wide {
                            format!("R{} {}/{}", l.router_id, l.lq_in, l.lq_out)
                        } else {
                            format!("{}:{}/{}", l.router_id, l.lq_in, l.lq_out)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let role_color = match node.role {
                Role::Leader => Color::Magenta,
                Role::Router => Color::Yellow,
                Role::Child => Color::Cyan,
            };
            let mut cells = vec![
                Cell::from(format!("{:04x}", node.rloc16)),
                Cell::from(if m.you == Some(node.rloc16) {
                    "you"
                } else {
                    node.role.as_str()
                })
                .style(Style::default().fg(role_color)),
                Cell::from(rel),
                Cell::from(node.frames.to_string()),
                Cell::from(node.rssi.map_or("-".into(), |r| r.to_string()))
                    .style(Style::default().fg(rssi_color(node.rssi))),
            ];
            if lqi || wide {
                cells.push(Cell::from(node.lqi.map_or("-".into(), |l| l.to_string())));
            }
            // Known only as a destination (no key): not heard transmitting under its RLOC16.
            cells.push(Cell::from(match node.last_seen {
                Some(_) => ago(m.now, node.last_seen),
                None => "-".into(),
            }));
            if wide {
                cells.push(Cell::from(
                    node.ext_addr.clone().unwrap_or_else(|| "-".into()),
                ));
            }
            let mut row = Row::new(cells);
            if i == app.thread.selected {
                row = row.style(Style::default().bg(Color::Blue).fg(Color::White).bold());
            }
            row
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().fg(Color::Yellow).bold()))
        .column_spacing(1);
    f.render_widget(table, inner);
}

/// What a frame's security column says.
pub fn security_text(e: &ThreadEntry) -> &'static str {
    match e.view.security {
        _ if e.no_key => "enc: no key",
        Security::Open if e.view.mle_secured => "MLE sec",
        Security::Open => "open",
        Security::Decrypted => "decrypted",
        Security::Closed => "enc",
    }
}

/// The decoded frames, newest at the bottom, the selected one highlighted: time, MAC type,
/// source → destination, security, the layers above, the MLE command or the error (red).
pub fn draw_thread_traffic(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &ThreadModel) {
    let list = visible(app, m);
    let sel = selected_frame(app, &list);
    let mut t = format!("Traffic ({} frames)", m.traffic_total);
    if !app.filter.is_empty() {
        t = format!("{t} filter {}", app.filter.describe());
    }
    if app.thread.frame.is_some() {
        t = format!("{t} · holding a frame (f follows)");
    }
    let block = pane(&t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let Some(sel) = sel else {
        let msg = if m.traffic.is_empty() {
            "waiting for frames…"
        } else {
            "no frame matches the filter (Esc clears it)"
        };
        f.render_widget(Paragraph::new(msg).fg(Color::DarkGray), inner);
        return;
    };
    let wide = inner.width >= 90;
    // Tiny (an 80-column terminal): no MAC and NETWORK columns; the last one says the MLE
    // command, the error, else the upper layer or the MAC type.
    let tiny = inner.width < 70;
    let rows_visible = usize::from(inner.height - 1);
    // The window ends at the newest frame, or early enough to show the selected one.
    let end = (sel + 1).max(list.len().min(sel + rows_visible));
    let start = end.saturating_sub(rows_visible);
    let rows: Vec<Row<'_>> = list[start..end]
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v = &e.view;
            let (what, color) = match (&v.error, &v.mle) {
                (Some((_, reason)), _) if !e.no_key => (reason.clone(), Color::Red),
                (_, Some(c)) if wide && !v.mle_gist.is_empty() => {
                    (format!("MLE {c} ({})", v.mle_gist), Color::Green)
                }
                (_, Some(c)) if tiny => (c.clone(), Color::Green),
                (_, Some(c)) => (format!("MLE {c}"), Color::Green),
                _ if tiny && !v.network.is_empty() => (
                    v.network
                        .split_once('→')
                        .map_or(v.network.clone(), |(_, d)| format!("udp {d}")),
                    Color::Gray,
                ),
                _ if tiny => (v.mac_type.clone(), Color::DarkGray),
                _ if wide && v.ip.is_some() => {
                    let (s, d) =
                        v.ip.unwrap_or((Ipv6Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED));
                    (format!("{s} → {d}"), Color::Gray)
                }
                _ if e.no_key => (String::new(), Color::DarkGray),
                _ if v.mac_type == "ack" => (String::new(), Color::DarkGray),
                _ => (String::new(), Color::Gray),
            };
            // Narrow: the destination port says enough (19788 is MLE, 5683 CoAP).
            let net = match v.network.split_once('→') {
                Some((_, dst)) if !wide => format!("udp {dst}"),
                _ => v.network.clone(),
            };
            let mut cells = vec![Cell::from(clock(e.at))];
            if wide {
                cells.push(Cell::from(if e.channel == 0 {
                    "-".into()
                } else {
                    e.channel.to_string()
                }));
            }
            if !tiny {
                cells.push(Cell::from(v.mac_type.clone()));
            }
            cells.extend([
                Cell::from(format!(
                    "{}→{}",
                    short(v.src.as_deref(), wide),
                    short(v.dst.as_deref(), wide)
                )),
                Cell::from(if wide || !e.no_key {
                    security_text(e)
                } else {
                    "no key"
                })
                .style(Style::default().fg(match e.view.security {
                    _ if e.no_key => Color::Yellow,
                    Security::Decrypted => Color::Green,
                    _ => Color::Gray,
                })),
            ]);
            if !tiny {
                cells.push(Cell::from(net));
            }
            cells.push(Cell::from(what).style(Style::default().fg(color)));
            let mut row = Row::new(cells);
            if start + i == sel {
                row = row.style(Style::default().add_modifier(Modifier::REVERSED));
            }
            row
        })
        .collect();
    let mut header = vec!["TIME"];
    let mut widths = vec![Constraint::Length(9)];
    if wide {
        header.push("CH");
        widths.push(Constraint::Length(2));
    }
    if tiny {
        header.extend(["SRC→DST", "SECURITY", "FRAME"]);
        widths.extend([
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Fill(1),
        ]);
    } else {
        header.extend(["MAC", "SRC→DST", "SECURITY", "NETWORK", "MLE / ERROR"]);
        widths.extend([
            Constraint::Length(7),
            Constraint::Length(if wide { 20 } else { 11 }),
            Constraint::Length(if wide { 11 } else { 9 }),
            Constraint::Length(if wide { 17 } else { 9 }),
            Constraint::Fill(1),
        ]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().fg(Color::Yellow).bold()))
        .column_spacing(1);
    f.render_widget(table, inner);
}

/// An address for a column: a short one whole, an extended one by its last 8 digits (4 when
/// narrow).
fn short(a: Option<&str>, wide: bool) -> String {
    let keep = if wide { 8 } else { 4 };
    match a {
        None => "-".into(),
        Some(a) if a.len() > keep + 1 => format!("…{}", &a[a.len() - keep..]),
        Some(a) => a.into(),
    }
}
