//! The help overlay, from the one key table ([`super::super::keys::BINDINGS`]).

use super::*;

/// The help screen of the Bluetooth Mesh inspector alone.
pub fn draw_help(f: &mut Frame<'_>, area: Rect) {
    draw_help_for(f, area, false, false);
}

/// The help screen, generated from the key table: the keys that do something on the tab
/// shown (`thread`: the Thread tab; `both`: two protocols inspected).
pub fn draw_help_for(f: &mut Frame<'_>, area: Rect, thread: bool, both: bool) {
    let shown: Vec<_> = BINDINGS
        .iter()
        .filter(|b| crate::inspect::keys::applies(b.action, thread, both))
        .collect();
    let w = area.width.saturating_sub(4).min(86);
    let h = (shown.len() as u16 + 6).min(area.height.saturating_sub(2));
    let r = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line<'_>> = shown
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(
                    format!(" {:<9}", b.label),
                    Style::default().fg(Color::Yellow).bold(),
                ),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        " mouse: click a node in the table or the graph to select it",
    ));
    lines.push(Line::from(if thread {
        " edges: router links by link quality 3 green, 2 yellow, 1 red; children cyan"
    } else {
        " edges: links heard, green ≥ -80 dBm, yellow ≥ -90, red weaker"
    }));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title("Help (? or Esc closes)"))
                .border_style(Style::default().fg(Color::Yellow)),
        ),
        r,
    );
}
