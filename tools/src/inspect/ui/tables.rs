//! The node table and the decoded traffic log.

use super::*;

/// The node table.
pub fn draw_nodes(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &Model) {
    let n = m.topology.node_count();
    let block = pane(&format!("Nodes ({n})"));
    let inner = block.inner(area);
    f.render_widget(block, area);
    app.areas.nodes = inner;
    if inner.height < 2 {
        return;
    }
    let w = inner.width;
    let wide = w >= 100;
    let mid = w >= 58;
    let mut header = vec!["ADDR", "NAME", "ROLE", "RSSI", "HOPS"];
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Fill(1),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(4),
    ];
    if mid {
        header.extend(["SEEN", "SEQ", "ELEM"]);
        widths.extend([
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(4),
        ]);
    }
    if wide {
        header.push("UUID");
        widths.push(Constraint::Length(32));
    }
    let rows_visible = usize::from(inner.height - 1);
    app.selected = app.selected.min(n.saturating_sub(1));
    let offset = app
        .selected
        .saturating_sub(rows_visible.saturating_sub(1))
        .min(n.saturating_sub(rows_visible));
    app.areas.nodes_first_row = inner.y + 1;
    app.areas.nodes_offset = offset;
    let host = m.topology.host();
    let rows: Vec<Row<'_>> = m
        .topology
        .nodes()
        .enumerate()
        .skip(offset)
        .take(rows_visible)
        .map(|(i, node)| {
            let mut role = node.roles.letters();
            if Some(node.key) == host {
                role = "you".into();
            }
            let mut cells = vec![
                Cell::from(node.address.clone()),
                Cell::from(node.label().to_string()),
                Cell::from(role),
                Cell::from(node.rssi.map_or("-".into(), |r| r.to_string()))
                    .style(Style::default().fg(rssi_color(node.rssi))),
                Cell::from(node.hops.map_or("-".into(), |h| h.to_string())),
            ];
            if mid {
                cells.push(Cell::from(ago(m.now, node.last_seen)));
                cells.push(Cell::from(node.seq.map_or("-".into(), |s| s.to_string())));
                cells.push(Cell::from(
                    node.elements.map_or("-".into(), |e| e.to_string()),
                ));
            }
            if wide {
                cells.push(Cell::from(node.uuid.map_or("-".into(), hex::encode)));
            }
            let mut row = Row::new(cells);
            if i == app.selected {
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

/// The decoded traffic log, newest at the bottom.
pub fn draw_traffic(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &Model) {
    let mut t = format!("Traffic ({} decoded)", m.traffic_total);
    if !app.filter.is_empty() {
        t = format!("{t} filter {}", app.filter.describe());
    }
    if app.scroll > 0 {
        t = format!("{t} · scrolled back {} (f follows)", app.scroll);
    }
    let block = pane(&t);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let w = inner.width;
    let wide = w >= 100;
    let mid = w >= 60;
    let rows_visible = usize::from(inner.height - 1);
    // Newest last: walk back from the end, skipping the scrolled-back lines.
    let mut picked: Vec<&TrafficEntry> = m
        .traffic
        .iter()
        .rev()
        .map(|e| e.as_ref())
        .filter(|e| app.filter.matches(e))
        .skip(app.scroll)
        .take(rows_visible)
        .collect();
    picked.reverse();
    let addr = |a: Option<u16>| a.map_or("*".to_string(), |a| format!("{a:04x}"));
    let rows: Vec<Row<'_>> = picked
        .iter()
        .map(|e| {
            let color = match &e.kind {
                EntryKind::Access => Color::Green,
                EntryKind::Control => Color::LightBlue,
                EntryKind::Segment(..) => Color::Yellow,
                EntryKind::Beacon | EntryKind::Provisioning => Color::DarkGray,
                EntryKind::Undecryptable(_) => Color::Red,
            };
            let opcode = if wide {
                e.opcode.clone()
            } else {
                e.opcode
                    .replace("Unacknowledged", "Unack")
                    .replace("Generic ", "")
            };
            let what = if matches!(e.kind, EntryKind::Undecryptable(_) | EntryKind::Segment(..)) {
                format!("{opcode}: {}", e.summary)
            } else if wide && !e.summary.is_empty() {
                // The decoded message says its opcode in its own words.
                e.summary.clone()
            } else {
                opcode
            };
            let mut cells = vec![Cell::from(clock(e.at))];
            if wide {
                cells.push(Cell::from(e.bearer));
            }
            // A device not provisioned yet has no address: "new".
            let src = match (e.src, &e.kind) {
                (None, EntryKind::Provisioning) => "new ".to_string(),
                (None, EntryKind::Beacon) if e.opcode.starts_with("Unprovisioned") => {
                    "new ".to_string()
                }
                // Heard without a source the decoder could read (a beacon of the live air,
                // a frame no key opens).
                (None, _) => "?   ".to_string(),
                (a, _) => addr(a),
            };
            cells.push(Cell::from(format!("{src}→{}", addr(e.dst))));
            cells.push(Cell::from(what).style(Style::default().fg(color)));
            if mid {
                cells.push(Cell::from(e.ttl.map_or("-".into(), |t| t.to_string())));
                cells.push(Cell::from(e.seq.map_or("-".into(), |s| s.to_string())));
            }
            if wide {
                cells.push(
                    Cell::from(e.rssi.map_or("-".into(), |r| r.to_string()))
                        .style(Style::default().fg(rssi_color(e.rssi))),
                );
            }
            if mid {
                cells.push(Cell::from(
                    e.relayed_by.map_or(String::new(), |r| format!("{r:04x}")),
                ));
            }
            Row::new(cells)
        })
        .collect();
    let mut header = vec!["TIME"];
    let mut widths = vec![Constraint::Length(9)];
    if wide {
        header.push("BR");
        widths.push(Constraint::Length(3));
    }
    header.extend(["SRC→DST", "MESSAGE"]);
    widths.extend([Constraint::Length(9), Constraint::Fill(1)]);
    if mid {
        header.extend(["TTL", "SEQ"]);
        widths.extend([Constraint::Length(3), Constraint::Length(6)]);
    }
    if wide {
        header.push("RSSI");
        widths.push(Constraint::Length(4));
    }
    if mid {
        header.push("VIA");
        widths.push(Constraint::Length(4));
    }
    if rows.is_empty() {
        let msg = if m.traffic.is_empty() {
            "waiting for traffic…"
        } else {
            "no traffic matches the filter (Esc clears it)"
        };
        f.render_widget(Paragraph::new(msg).fg(Color::DarkGray), inner);
        return;
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().fg(Color::Yellow).bold()))
        .column_spacing(1);
    f.render_widget(table, inner);
}
