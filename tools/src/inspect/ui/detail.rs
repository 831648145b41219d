//! The info pane's tabs: one node's detail, the statistics, and the unprovisioned devices heard.

use super::*;

fn kv(k: &str, v: impl Into<String>) -> Line<'static> {
    kvw(k, v, 10)
}

fn kvw(k: &str, v: impl Into<String>, w: usize) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<w$}"), Style::default().fg(Color::Yellow)),
        Span::raw(v.into()),
    ])
}

fn tabs_title(tab: InfoTab, width: u16) -> String {
    let t = |on: bool, s: &str| if on { format!("[{s}]") } else { s.to_string() };
    let unprov = if width < 36 {
        "Unprov."
    } else {
        "Unprovisioned"
    };
    format!(
        "{} {} {}",
        t(tab == InfoTab::Detail, "Detail"),
        t(tab == InfoTab::Stats, "Stats"),
        t(tab == InfoTab::Unprovisioned, unprov)
    )
}

/// The selected node: composition, keys, publication, subscriptions, heartbeat, faults.
pub fn draw_detail(f: &mut Frame<'_>, area: Rect, app: &App, m: &Model) {
    let block = pane(&tabs_title(InfoTab::Detail, area.width));
    let node = app.selected_node(m);
    let d = m
        .detail
        .as_ref()
        .filter(|d| node.is_some_and(|n| n.key == u64::from(d.address)));
    let mut lines = Vec::new();
    match (node, d) {
        (None, _) => lines.push(Line::from("no node selected")),
        (Some(n), None) => {
            lines.push(kv("node", format!("{} {}", n.address, n.label())));
            lines.push(Line::from("loading…").fg(Color::DarkGray));
        }
        (Some(_), Some(d)) => {
            let narrow = area.width < 48;
            let uuid = hex::encode(d.uuid);
            lines.push(kv("node", format!("{:04x} {}", d.address, d.name)));
            lines.push(kv(
                "uuid",
                if narrow {
                    format!("{}…{}", &uuid[..8], &uuid[uuid.len() - 6..])
                } else {
                    uuid
                },
            ));
            lines.push(kv(
                "company",
                match (d.cid, d.pid, d.vid) {
                    (Some(c), Some(p), Some(v)) if narrow => format!("{c:04x}:{p:04x}:{v:04x}"),
                    (Some(c), Some(p), Some(v)) => format!("cid {c:04x} pid {p:04x} vid {v:04x}"),
                    _ => "composition not read yet".into(),
                },
            ));
            let features = if d.features == "-" {
                "none".to_string()
            } else {
                d.features.clone()
            };
            let opt = |v: Option<u16>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
            let ttl = opt(d.default_ttl.map(u16::from));
            lines.push(kv(
                "features",
                if narrow {
                    format!("{features}  TTL {ttl}")
                } else {
                    format!("{features}  default TTL {ttl}  crpl {}", opt(d.crpl))
                },
            ));
            lines.push(kv(
                "keys",
                format!("net {:?} app {:?}", d.net_keys, d.app_keys),
            ));
            lines.push(kv("IV index", format!("{:08x}", d.iv_index)));
            let mut state = Vec::new();
            if let Some(on) = d.onoff {
                state.push(format!("onoff {}", if on { "on" } else { "off" }));
            }
            if let Some(l) = d.level {
                state.push(format!("level {l}"));
            }
            if let Some(seq) = d.seq {
                state.push(format!("seq {seq}"));
            }
            lines.push(kv("state", state.join("  ")));
            lines.push(kv(
                "heartbeat",
                format!(
                    "pub {}  sub {}",
                    d.heartbeat_pub.as_deref().unwrap_or("off"),
                    d.heartbeat_sub.as_deref().unwrap_or("off")
                ),
            ));
            lines.push(kv(
                "faults",
                match &d.faults {
                    None => "none heard".to_string(),
                    Some(v) if v.is_empty() => "none".into(),
                    Some(v) => v
                        .iter()
                        .map(|f| format!("{f:#04x}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                },
            ));
            for (i, (loc, models)) in d.elements.iter().enumerate() {
                lines.push(
                    Line::from(format!(
                        "element {i} ({:04x}) location {loc:#06x}",
                        d.address + i as u16
                    ))
                    .bold(),
                );
                for md in models {
                    let mut s = format!(" {}", md.name);
                    if !md.bound.is_empty() {
                        s.push_str(&format!(" · app {:?}", md.bound));
                    }
                    if let Some(p) = &md.publication {
                        s.push_str(&format!(" · pub {p}"));
                    }
                    if !md.subscriptions.is_empty() {
                        let subs: Vec<String> = md
                            .subscriptions
                            .iter()
                            .map(|a| format!("{a:04x}"))
                            .collect();
                        s.push_str(&format!(" · sub {}", subs.join(",")));
                    }
                    lines.push(Line::from(s));
                }
            }
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// Statistics: rates, drops by reason, replays, segmentation.
pub fn draw_stats(f: &mut Frame<'_>, area: Rect, _app: &App, m: &Model) {
    let s = &m.stats;
    let kv13 = |k: &str, v: String| kvw(k, v, 14);
    let mut lines = vec![
        kv13("PDUs", format!("{} ({:.1}/s)", s.pdus, s.pdus_per_s)),
        kv13(
            "decoded",
            format!(
                "{} access, {} control, {} beacons",
                s.access, s.control, s.beacons
            ),
        ),
        kv13("undecryptable", s.undecryptable.to_string()),
        kv13("relayed", s.relayed.to_string()),
        kv13("replays", s.replays.to_string()),
        kv13(
            "SAR",
            format!(
                "{} complete, {} failed, {} segments",
                s.sar_complete, s.sar_failed, s.segments
            ),
        ),
        kv13(
            "on the air",
            format!("{} PDUs (3 channels)", s.frames_on_air),
        ),
        kv13(
            "not decoded",
            format!("{} (decoder queue full)", s.ingest_dropped),
        ),
        Line::from("drops by reason").bold(),
    ];
    if s.drops.is_empty() {
        lines.push(Line::from(" none").fg(Color::DarkGray));
    }
    for (k, v) in &s.drops {
        lines.push(Line::from(format!(" {k:<22}{v:>7}")));
    }
    f.render_widget(
        Paragraph::new(lines).block(pane(&tabs_title(InfoTab::Stats, area.width))),
        area,
    );
}

/// Unprovisioned devices heard (beacons of devices waiting to be provisioned).
pub fn draw_unprovisioned(f: &mut Frame<'_>, area: Rect, app: &App, m: &Model) {
    let mut lines = Vec::new();
    if m.unprovisioned.is_empty() {
        lines.push(Line::from("No unprovisioned devices heard."));
        lines.push(Line::from(""));
        lines.push(
            Line::from(
                "Devices waiting to be provisioned appear here when their beacons are heard.",
            )
            .fg(Color::DarkGray),
        );
    } else {
        // The whole UUID where it fits, else its first and last octets.
        let wide = area.width >= 70;
        let uw = if wide { 32 } else { 13 };
        lines.push(
            Line::from(format!(
                "{:<uw$} {:>5} {:>6}  {}",
                "UUID / NAME", "RSSI", "HEARD", "STATE"
            ))
            .fg(Color::DarkGray),
        );
        let sel = app.unprov_selected.min(m.unprovisioned.len() - 1);
        for (i, d) in m.unprovisioned.iter().enumerate() {
            let ago = m.now.saturating_since(d.last_heard).as_secs_f64();
            let rssi = d.rssi.map_or("-".into(), |r| r.to_string());
            let h = hex::encode(d.uuid);
            let uuid = if wide {
                h
            } else {
                format!("{}…{}", &h[..8], &h[28..])
            };
            let style = if i == sel {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            lines.push(Line::styled(
                format!("{:<uw$} {:>5} {:>5.0}s  {}", uuid, rssi, ago, d.state),
                style,
            ));
            lines.push(Line::from(format!("  {}", d.name)).fg(Color::DarkGray));
        }
        lines.push(Line::from(""));
        lines.push(
            Line::from("P provisions the highlighted device (↑↓ choose).").fg(Color::DarkGray),
        );
    }
    f.render_widget(
        Paragraph::new(lines)
            .block(pane(&tabs_title(InfoTab::Unprovisioned, area.width)))
            .wrap(Wrap { trim: false }),
        area,
    );
}
