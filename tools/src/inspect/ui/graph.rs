//! The topology pane: the graph laid out on a canvas, nodes by role, links by RSSI, and
//! messages animated along their hops.

use super::*;

/// What [`draw_graph`] draws: a graph, its layout, the edges with their colours, the
/// messages moving, and how nodes and the legend look. The Bluetooth Mesh and Thread tabs
/// each fill one.
#[derive(Debug)]
pub struct GraphView<'a> {
    pub title: String,
    pub topology: &'a Topology,
    /// Layout positions in the unit square, by node.
    pub positions: &'a [(NodeKey, f64, f64)],
    /// Edges to draw, in drawing order.
    pub edges: Vec<(NodeKey, NodeKey, Color)>,
    pub hops: &'a [Hop],
    pub now: Instant,
    pub selected: Option<NodeKey>,
    /// A node's glyph and colour (node, host, braille).
    pub glyph: fn(&TopoNode, Option<NodeKey>, bool) -> (&'static str, Color),
    /// The legend with braille, and with plain characters.
    pub legend: Vec<Span<'static>>,
    pub legend_plain: &'static str,
    /// What the pane says before any node is heard.
    pub empty: &'static str,
}

/// The graph: links heard coloured by RSSI, nodes by role, messages moving along links.
pub fn draw_topology(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &Model) {
    let legend = if app.braille { "" } else { " plain" };
    // A dense mesh shows its strongest links only, so nodes stay visible (and a frame stays
    // cheap at a thousand nodes).
    let budget = usize::from(area.width) * usize::from(area.height) / 3;
    let shown = m.edges.len().min(budget.max(1));
    let count = if shown < m.edges.len() {
        format!(" · strongest {shown} of {} links", m.edges.len())
    } else {
        String::new()
    };
    let view = GraphView {
        title: format!("Topology{legend}{count}"),
        topology: &m.topology,
        positions: &m.positions,
        edges: m.edges[..shown]
            .iter()
            .map(|&(a, b, rssi, _)| (a, b, rssi_color(rssi)))
            .collect(),
        hops: &m.hops,
        now: m.now,
        selected: app.selected_node(m).map(|n| n.key),
        glyph,
        legend: vec![
            Span::styled("◉", Style::default().fg(Color::Magenta)),
            Span::raw(" you "),
            Span::styled("■", Style::default().fg(Color::Yellow)),
            Span::raw(" relay "),
            Span::styled("●", Style::default().fg(Color::Cyan)),
            Span::raw(" node "),
            Span::styled("F", Style::default().fg(Color::Blue)),
            Span::raw(" friend "),
            Span::styled("L", Style::default().fg(Color::Blue)),
            Span::raw(" LPN "),
            Span::styled("•", Style::default().fg(Color::Magenta)),
            Span::raw(" msg"),
        ],
        legend_plain: "@ you  # relay  o node  F friend  L LPN  P proxy  * msg",
        empty: "no nodes heard yet",
    };
    draw_graph(f, area, app, &view);
}

/// A graph on a canvas: edges, moving messages, labels, then the nodes on top; the cells
/// where nodes were drawn go to `app.areas` for the mouse.
pub fn draw_graph(f: &mut Frame<'_>, area: Rect, app: &mut App, v: &GraphView<'_>) {
    let block = pane(&v.title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    app.areas.topology = inner;
    app.areas.node_cells.clear();
    if inner.width < 4 || inner.height < 2 {
        return;
    }
    if v.topology.node_count() == 0 {
        f.render_widget(Paragraph::new(v.empty).fg(Color::DarkGray), inner);
        return;
    }
    let many = v.topology.node_count() > 40;
    let label_w: u16 = if many || inner.width < 24 {
        0
    } else {
        (inner.width / 4).clamp(4, 16)
    };
    let (w, h) = (inner.width, inner.height);
    // Leave the last row for the legend.
    let plot_h = h.saturating_sub(1).max(1);
    let span_x = f64::from(w.saturating_sub(2 + label_w).max(1));
    let span_y = f64::from(plot_h.saturating_sub(1).max(1));
    // Fill the pane on both axes (terminal cells are about twice as tall as wide, so keeping
    // the layout's aspect would waste most of the height).
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(_, x, y) in v.positions {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let sx = if x1 > x0 { 1.0 / (x1 - x0) } else { 0.0 };
    let sy = if y1 > y0 { 1.0 / (y1 - y0) } else { 0.0 };
    let cells: HashMap<NodeKey, (f64, f64)> = v
        .positions
        .iter()
        .map(|&(k, x, y)| (k, (1.0 + (x - x0) * sx * span_x, (y - y0) * sy * span_y)))
        .collect();
    let edges = &v.edges;
    let sel = v.selected;
    // Edges (and moving messages) on the canvas.
    let marker = if app.braille {
        Marker::Braille
    } else {
        Marker::Dot
    };
    let hops: Vec<(f64, f64)> = v
        .hops
        .iter()
        .filter_map(|hp| {
            let (a, b) = (cells.get(&hp.from)?, cells.get(&hp.to)?);
            let p = (v.now.saturating_since(hp.at).as_micros() as f64
                / HOP_ANIMATION.as_micros() as f64)
                .clamp(0.0, 1.0);
            Some((a.0 + (b.0 - a.0) * p, a.1 + (b.1 - a.1) * p))
        })
        .collect();
    if app.braille {
        let canvas = Canvas::default()
            .marker(marker)
            .x_bounds([0.0, f64::from(w - 1)])
            .y_bounds([0.0, f64::from(plot_h - 1)])
            .paint(|ctx| {
                for &(a, b, color) in edges {
                    let (Some(pa), Some(pb)) = (cells.get(&a), cells.get(&b)) else {
                        continue;
                    };
                    let flip = |y: f64| f64::from(plot_h - 1) - y;
                    ctx.draw(&CanvasLine::new(pa.0, flip(pa.1), pb.0, flip(pb.1), color));
                }
            });
        f.render_widget(
            canvas,
            Rect {
                height: plot_h,
                ..inner
            },
        );
    } else {
        // Plain characters: edges as dots cell by cell.
        let buf = f.buffer_mut();
        for &(a, b, color) in edges {
            let (Some(pa), Some(pb)) = (cells.get(&a), cells.get(&b)) else {
                continue;
            };
            let steps = ((pb.0 - pa.0).abs().max((pb.1 - pa.1).abs()).ceil() as usize).max(1);
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let (x, y) = (pa.0 + (pb.0 - pa.0) * t, pa.1 + (pb.1 - pa.1) * t);
                put(buf, inner, x, y, ".", Style::default().fg(color));
            }
        }
    }
    let buf = f.buffer_mut();
    for (x, y) in hops {
        let g = if app.braille { "•" } else { "*" };
        put(
            buf,
            inner,
            x,
            y,
            g,
            Style::default().fg(Color::Magenta).bold(),
        );
    }
    // Labels first, then every node on top of them.
    let host = v.topology.host();
    for n in v.topology.nodes() {
        let Some(&(x, y)) = cells.get(&n.key) else {
            continue;
        };
        if label_w > 0 || Some(n.key) == sel {
            let lw = if label_w > 0 { label_w } else { 12 };
            let (cx, cy) = cell_of(inner, x, y);
            let room = inner.right().saturating_sub(cx + 2);
            let text = abbreviate(n.label(), usize::from(lw.min(room)));
            let ls = if Some(n.key) == sel {
                Style::default().fg(Color::White).bold()
            } else {
                Style::default().fg(Color::Gray)
            };
            if cx + 2 < inner.right() {
                buf.set_string(cx + 2, cy, text, ls);
            }
        }
    }
    for n in v.topology.nodes() {
        let Some(&(x, y)) = cells.get(&n.key) else {
            continue;
        };
        let (glyph, color) = (v.glyph)(n, host, app.braille);
        let mut style = Style::default().fg(color).bold();
        if Some(n.key) == sel {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let (cx, cy) = put(buf, inner, x, y, glyph, style);
        app.areas.node_cells.push((n.key, cx, cy));
    }
    // Legend.
    let legend: Vec<Span<'_>> = if app.braille {
        v.legend.clone()
    } else {
        vec![Span::raw(v.legend_plain)]
    };
    let leg = Rect {
        y: inner.bottom() - 1,
        height: 1,
        ..inner
    };
    f.render_widget(Paragraph::new(Line::from(legend)).fg(Color::DarkGray), leg);
}

fn glyph(n: &TopoNode, host: Option<NodeKey>, fancy: bool) -> (&'static str, Color) {
    let r = n.roles;
    match () {
        _ if Some(n.key) == host => (if fancy { "◉" } else { "@" }, Color::Magenta),
        _ if r.low_power => ("L", Color::Blue),
        _ if r.friend => ("F", Color::Blue),
        _ if r.proxy => ("P", Color::LightBlue),
        _ if r.relay => (if fancy { "■" } else { "#" }, Color::Yellow),
        _ => (if fancy { "●" } else { "o" }, Color::Cyan),
    }
}

/// `s` in at most `w` characters: whole if it fits, else its start, `…` and its last two
/// characters (so `light-living-1` and `light-living-2` stay apart).
pub fn abbreviate(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w < 6 {
        return s.chars().take(w).collect();
    }
    let head: String = s.chars().take(w - 3).collect();
    let tail: String = s.chars().skip(n - 2).collect();
    format!("{head}…{tail}")
}

/// The cell nearest (x, y) of `inner` (clipped).
fn cell_of(inner: Rect, x: f64, y: f64) -> (u16, u16) {
    let cx = inner.x + (x.round().max(0.0) as u16).min(inner.width.saturating_sub(1));
    let cy = inner.y + (y.round().max(0.0) as u16).min(inner.height.saturating_sub(1));
    (cx, cy)
}

/// Writes `s` at the cell nearest (x, y) of `inner`; returns the cell.
fn put(buf: &mut Buffer, inner: Rect, x: f64, y: f64, s: &str, style: Style) -> (u16, u16) {
    let (cx, cy) = cell_of(inner, x, y);
    buf.set_string(cx, cy, s, style);
    (cx, cy)
}
