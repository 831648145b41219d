//! The Thread tab's info pane: the selected frame's every layer, or the statistics.

use super::*;

fn tabs(info: ThreadInfo) -> String {
    let t = |on: bool, s: &str| if on { format!("[{s}]") } else { s.to_string() };
    format!(
        "{} {}",
        t(info == ThreadInfo::Detail, "Frame"),
        t(info == ThreadInfo::Stats, "Stats")
    )
}

fn kv(k: &str, v: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<14}"), Style::default().fg(Color::Yellow)),
        Span::raw(v.into()),
    ])
}

/// The selected frame (the newest when following): every layer decoded, TLVs one a line, the
/// error with its reason, the PSDU.
pub fn draw_frame_detail(f: &mut Frame<'_>, area: Rect, app: &App, m: &ThreadModel) {
    let list = visible(app, m);
    let mut lines = Vec::new();
    match selected_frame(app, &list).map(|i| list[i]) {
        None => lines.push(Line::from("no frame yet").fg(Color::DarkGray)),
        Some(e) => {
            let mut head = format!("#{} at {}", e.n, clock(e.at));
            if e.channel != 0 {
                head.push_str(&format!("  ch {}", e.channel));
            }
            if let Some(r) = e.rssi {
                head.push_str(&format!("  {r} dBm"));
            }
            if let Some(l) = e.lqi {
                head.push_str(&format!("  LQI {l}"));
            }
            lines.push(Line::from(head).bold());
            if e.no_key {
                lines.push(
                    Line::from("encrypted: no key (give it with --thread-key HEX)")
                        .fg(Color::Yellow),
                );
            }
            // The error first, then the layers from the top down (MLE and its TLVs before the
            // MAC header: the pane is short), the PSDU last.
            let layers = &e.view.layers;
            let rank = |l: &str| match l {
                "Error" => 0,
                "PSDU" => 2,
                _ => 1,
            };
            let mut order: Vec<usize> = (0..layers.len()).rev().collect();
            order.sort_by_key(|&i| rank(&layers[i].0));
            for (layer, text) in order.iter().map(|&i| &layers[i]) {
                let error = layer == "Error";
                let style = if error {
                    Style::default().fg(Color::Red).bold()
                } else {
                    Style::default().fg(Color::Cyan).bold()
                };
                lines.push(Line::from(Span::styled(layer.clone(), style)));
                for t in text {
                    let l = Line::from(format!(" {t}"));
                    lines.push(if error && !e.no_key {
                        l.fg(Color::Red)
                    } else {
                        l
                    });
                }
            }
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(pane(&tabs(ThreadInfo::Detail))),
        area,
    );
}

/// Counters: frames, decrypted, MLE by command, errors by kind, reassembly, filters, the key
/// sequence, the partition and its leader.
pub fn draw_thread_stats(f: &mut Frame<'_>, area: Rect, _app: &App, m: &ThreadModel) {
    let s = &m.stats;
    let mut lines = vec![
        kv(
            "frames",
            format!("{} ({:.1}/s), {} acks", s.frames, s.frames_per_s, s.acks),
        ),
        kv("decoded", s.decoded.to_string()),
        kv(
            "decrypted",
            if m.key_known {
                s.decrypted.to_string()
            } else {
                format!("no key: {} encrypted", s.no_key)
            },
        ),
        kv("MLE", s.mle.to_string()),
        kv(
            "reassembly",
            format!(
                "{} datagrams, {} fragments held",
                s.reassembled, s.fragments_held
            ),
        ),
        kv("other PAN", s.other_pan.to_string()),
        kv("other channel", s.other_channel.to_string()),
        kv("key sequence", s.key_sequence.to_string()),
        kv(
            "partition",
            s.partition_id.clone().unwrap_or_else(|| "?".into()),
        ),
        kv(
            "leader",
            s.leader_router_id.map_or("?".into(), |l| {
                format!("router {l} ({:04x})", u16::from(l) << 10)
            }),
        ),
    ];
    if s.ingest_dropped > 0 {
        lines.push(kv(
            "not decoded",
            format!("{} (queue full)", s.ingest_dropped),
        ));
    }
    lines.push(Line::from("errors by kind").bold());
    if s.errors.is_empty() {
        lines.push(Line::from(" none").fg(Color::DarkGray));
    }
    for (k, v) in &s.errors {
        lines.push(Line::from(format!(" {k:<20}{v:>7}")).fg(Color::Red));
    }
    lines.push(Line::from("MLE by command").bold());
    for (k, v) in &s.mle_commands {
        lines.push(Line::from(format!(" {k:<20}{v:>7}")));
    }
    f.render_widget(
        Paragraph::new(lines).block(pane(&tabs(ThreadInfo::Stats))),
        area,
    );
}
