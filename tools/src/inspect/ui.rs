//! Drawing the inspector: the whole screen and each pane on its own (the snapshot tests draw
//! them one by one), and the UI's own state (selection, filter, tabs), which never waits for
//! the network: it draws whatever snapshot of the [`Model`] it is given.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use weft_mesh::ble::models::generic::{GenericMessage, LevelSet, OnOffSet};
use weft_mesh::ble::wire::access::AccessMessage;
use weft_mesh::topology::{NodeKey, TopoNode};
use weft_mesh::Instant;

use super::keys::{Action, BINDINGS};
use super::model::{ConfigOp, EntryKind, Model, TrafficEntry, HOP_ANIMATION};

/// The tab shown in the info pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoTab {
    Detail,
    Stats,
    Unprovisioned,
}

/// A traffic filter (`src:0010 dst:c001 opcode:onoff`; a bare word matches the opcode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub src: Option<u16>,
    pub dst: Option<u16>,
    pub opcode: Option<String>,
}

impl Filter {
    /// Parses the filter line; an empty line is no filter.
    pub fn parse(s: &str) -> Result<Filter, String> {
        let mut f = Filter::default();
        for tok in s.split_whitespace() {
            let (k, v) = tok.split_once(':').unwrap_or(("opcode", tok));
            let addr = |v: &str| {
                u16::from_str_radix(v.trim_start_matches("0x"), 16)
                    .map_err(|_| format!("'{v}' is not a hex address (e.g. 0010 or c001)"))
            };
            match k {
                "src" => f.src = Some(addr(v)?),
                "dst" => f.dst = Some(addr(v)?),
                "opcode" | "op" => f.opcode = Some(v.to_lowercase()),
                other => {
                    return Err(format!(
                        "unknown filter '{other}:': use src:ADDR, dst:ADDR or opcode:TEXT"
                    ))
                }
            }
        }
        Ok(f)
    }

    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether an entry passes.
    pub fn matches(&self, e: &TrafficEntry) -> bool {
        self.src.is_none_or(|s| e.src == Some(s))
            && self.dst.is_none_or(|d| e.dst == Some(d))
            && self.opcode.as_ref().is_none_or(|o| {
                e.opcode.to_lowercase().contains(o) || e.summary.to_lowercase().contains(o)
            })
    }

    /// The filter written back as the user types it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.src {
            parts.push(format!("src:{s:04x}"));
        }
        if let Some(d) = self.dst {
            parts.push(format!("dst:{d:04x}"));
        }
        if let Some(o) = &self.opcode {
            parts.push(format!("opcode:{o}"));
        }
        parts.join(" ")
    }
}

/// What the UI asks of the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Send a message from the host node; `what` says it in words.
    Send {
        dst: u16,
        message: AccessMessage,
        what: String,
    },
    TogglePause,
    ToggleCapture,
    /// The node whose detail to keep up to date.
    Select(Option<u16>),
    /// Provision this unprovisioned device from the host.
    Provision {
        uuid: [u8; 16],
        name: String,
    },
    /// Configure the node at `address` from the host.
    Configure {
        address: u16,
        op: ConfigOp,
    },
}

/// Where panes were drawn last, for the mouse.
#[derive(Debug, Clone, Default)]
pub struct Areas {
    pub topology: Rect,
    pub nodes: Rect,
    /// Row of the first node drawn in the table, and the index of that node.
    pub nodes_first_row: u16,
    pub nodes_offset: usize,
    /// Cells where each node was drawn in the topology.
    pub node_cells: Vec<(NodeKey, u16, u16)>,
}

/// The UI's state.
#[derive(Debug, Clone)]
pub struct App {
    /// Index of the selected node (in address order).
    pub selected: usize,
    /// Send to this group (index into the model's groups) rather than the selected node.
    pub target_group: Option<usize>,
    pub tab: InfoTab,
    pub help: bool,
    pub filter: Filter,
    /// The filter line being typed.
    pub input: Option<String>,
    /// The configuration line being typed, for the node at this address.
    pub config_input: Option<(u16, String)>,
    /// The highlighted device of the Unprovisioned tab.
    pub unprov_selected: usize,
    pub braille: bool,
    /// Traffic lines scrolled back from the newest (0: following).
    pub scroll: usize,
    /// A line about the last thing done.
    pub status: Option<String>,
    pub quit: bool,
    pub areas: Areas,
    onoff: bool,
    level: i16,
    tid: u8,
}

impl Default for App {
    fn default() -> Self {
        App {
            selected: 0,
            target_group: None,
            tab: InfoTab::Detail,
            help: false,
            filter: Filter::default(),
            input: None,
            config_input: None,
            unprov_selected: 0,
            braille: true,
            scroll: 0,
            status: None,
            quit: false,
            areas: Areas::default(),
            onoff: false,
            level: 0,
            tid: 0,
        }
    }
}

/// Level steps of `+` and `-` (an eighth of the range).
const LEVEL_STEP: i16 = 8192;

impl App {
    /// The selected node.
    pub fn selected_node<'m>(&self, m: &'m Model) -> Option<&'m TopoNode> {
        m.topology.nodes().nth(self.selected)
    }

    /// The address actions go to, and how to say it.
    pub fn target(&self, m: &Model) -> Option<(u16, String)> {
        match self.target_group.and_then(|g| m.groups.get(g)) {
            Some(&g) => Some((g, format!("group {g:04x}"))),
            None => self.selected_node(m).map(|n| {
                let text = match &n.name {
                    Some(name) => format!("{} {name}", n.address),
                    None => n.address.clone(),
                };
                (n.key as u16, text)
            }),
        }
    }

    /// Carries out an action; returns what the runtime must do.
    pub fn act(&mut self, a: Action, m: &Model) -> Option<Request> {
        let count = m.topology.node_count();
        if self.help && !matches!(a, Action::Help | Action::Quit | Action::Escape) {
            self.help = false;
        }
        let select = |app: &mut App, i: usize| {
            app.selected = i.min(count.saturating_sub(1));
            Some(Request::Select(app.selected_node(m).map(|n| n.key as u16)))
        };
        match a {
            Action::Quit => {
                self.quit = true;
                None
            }
            Action::Help => {
                self.help = !self.help;
                None
            }
            Action::Up if self.tab == InfoTab::Unprovisioned => {
                self.unprov_selected = self.unprov_selected.saturating_sub(1);
                None
            }
            Action::Down if self.tab == InfoTab::Unprovisioned => {
                self.unprov_selected =
                    (self.unprov_selected + 1).min(m.unprovisioned.len().saturating_sub(1));
                None
            }
            Action::Up => select(self, self.selected.saturating_sub(1)),
            Action::Down => select(self, self.selected + 1),
            Action::Top => select(self, 0),
            Action::Bottom => select(self, count.saturating_sub(1)),
            Action::ScrollBack => {
                self.scroll = self.scroll.saturating_add(10);
                None
            }
            Action::ScrollForward => {
                self.scroll = self.scroll.saturating_sub(10);
                None
            }
            Action::Follow => {
                self.scroll = 0;
                None
            }
            Action::Filter => {
                self.input = Some(self.filter.describe());
                None
            }
            Action::Pause => Some(Request::TogglePause),
            Action::NextTab => {
                self.tab = match self.tab {
                    InfoTab::Detail => InfoTab::Stats,
                    InfoTab::Stats => InfoTab::Unprovisioned,
                    InfoTab::Unprovisioned => InfoTab::Detail,
                };
                None
            }
            Action::Detail => {
                self.tab = InfoTab::Detail;
                None
            }
            Action::Stats => {
                self.tab = InfoTab::Stats;
                None
            }
            Action::Unprovisioned => {
                self.tab = InfoTab::Unprovisioned;
                None
            }
            Action::Target => {
                self.target_group = match self.target_group {
                    None if !m.groups.is_empty() => Some(0),
                    Some(g) if g + 1 < m.groups.len() => Some(g + 1),
                    _ => None,
                };
                self.status = self.target(m).map(|(_, t)| format!("send target: {t}"));
                None
            }
            Action::OnOff => {
                let (dst, what) = self.target(m)?;
                self.onoff = !self.onoff;
                self.tid = self.tid.wrapping_add(1);
                let message = GenericMessage::OnOffSet(OnOffSet {
                    on: self.onoff,
                    tid: self.tid,
                    transition: None,
                })
                .to_access();
                let on = if self.onoff { "on" } else { "off" };
                Some(Request::Send {
                    dst,
                    message,
                    what: format!("Generic OnOff Set {on} to {what}"),
                })
            }
            Action::LevelUp | Action::LevelDown => {
                let (dst, what) = self.target(m)?;
                self.level = if a == Action::LevelUp {
                    self.level.saturating_add(LEVEL_STEP)
                } else {
                    self.level.saturating_sub(LEVEL_STEP)
                };
                self.tid = self.tid.wrapping_add(1);
                let message = GenericMessage::LevelSet(LevelSet {
                    level: self.level,
                    tid: self.tid,
                    transition: None,
                })
                .to_access();
                Some(Request::Send {
                    dst,
                    message,
                    what: format!("Generic Level Set {} to {what}", self.level),
                })
            }
            Action::Capture => Some(Request::ToggleCapture),
            Action::Marker => {
                self.braille = !self.braille;
                None
            }
            Action::Provision => {
                let d = m.unprovisioned.get(
                    self.unprov_selected
                        .min(m.unprovisioned.len().saturating_sub(1)),
                );
                match d {
                    Some(d) => Some(Request::Provision {
                        uuid: d.uuid,
                        name: d.name.clone(),
                    }),
                    None => {
                        self.tab = InfoTab::Unprovisioned;
                        self.status = Some("no unprovisioned device heard yet".into());
                        None
                    }
                }
            }
            Action::Configure => {
                let n = self.selected_node(m)?;
                self.config_input = Some((n.key as u16, String::new()));
                None
            }
            Action::Escape => {
                if self.help {
                    self.help = false;
                } else if !self.filter.is_empty() {
                    self.filter = Filter::default();
                    self.status = Some("filter cleared".into());
                } else {
                    self.target_group = None;
                    self.status = None;
                }
                None
            }
        }
    }

    /// A key typed into the filter line: `Some(true)` when the key was taken.
    pub fn type_filter(&mut self, c: ratatui::crossterm::event::KeyCode) {
        use ratatui::crossterm::event::KeyCode;
        let Some(input) = self.input.as_mut() else {
            return;
        };
        match c {
            KeyCode::Char(ch) => input.push(ch),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Esc => {
                self.input = None;
                self.filter = Filter::default();
                self.status = Some("filter cleared".into());
            }
            KeyCode::Enter => {
                let text = self.input.take().unwrap_or_default();
                match Filter::parse(&text) {
                    Ok(f) => {
                        self.status = Some(if f.is_empty() {
                            "no filter".into()
                        } else {
                            format!("filter: {}", f.describe())
                        });
                        self.filter = f;
                        self.scroll = 0;
                    }
                    Err(e) => {
                        self.status = Some(e);
                        self.input = Some(text);
                    }
                }
            }
            _ => {}
        }
    }

    /// A key typed into the configuration line; Enter gives the request.
    pub fn type_config(&mut self, c: ratatui::crossterm::event::KeyCode) -> Option<Request> {
        use ratatui::crossterm::event::KeyCode;
        let (address, input) = self.config_input.as_mut()?;
        let address = *address;
        match c {
            KeyCode::Char(ch) => input.push(ch),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Esc => {
                self.config_input = None;
                self.status = Some("configuration cancelled".into());
            }
            KeyCode::Enter => {
                let text = input.clone();
                match parse_config(&text) {
                    Ok(op) => {
                        self.config_input = None;
                        return Some(Request::Configure { address, op });
                    }
                    Err(e) => self.status = Some(e),
                }
            }
            _ => {}
        }
        None
    }

    /// A mouse click at (column, row): selects the node under it in the table or topology.
    pub fn click(&mut self, col: u16, row: u16, m: &Model) -> Option<Request> {
        let p = Position::new(col, row);
        if self.areas.nodes.contains(p) && row >= self.areas.nodes_first_row {
            let i = self.areas.nodes_offset + usize::from(row - self.areas.nodes_first_row);
            if i < m.topology.node_count() {
                self.selected = i;
                return Some(Request::Select(self.selected_node(m).map(|n| n.key as u16)));
            }
        }
        if self.areas.topology.contains(p) {
            let best = self
                .areas
                .node_cells
                .iter()
                .map(|&(k, x, y)| {
                    let dx = i32::from(x) - i32::from(col);
                    let dy = (i32::from(y) - i32::from(row)) * 2;
                    (dx * dx + dy * dy, k)
                })
                .min();
            if let Some((d, k)) = best {
                if d <= 16 {
                    if let Some(i) = m.topology.nodes().position(|n| n.key == k) {
                        self.selected = i;
                        return Some(Request::Select(Some(k as u16)));
                    }
                }
            }
        }
        None
    }
}

fn title(s: &str) -> Line<'static> {
    Line::from(format!(" {s} ")).bold()
}

fn pane(s: &str) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::DarkGray))
        .title(title(s))
}

/// Virtual time as `mm:ss.mmm`.
pub fn clock(t: Instant) -> String {
    let ms = t.as_micros() / 1000;
    format!(
        "{:02}:{:02}.{:03}",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
}

fn ago(now: Instant, t: Option<Instant>) -> String {
    match t {
        None => "silent".into(),
        Some(t) => {
            let s = now.saturating_since(t).as_secs_f64();
            if s < 60.0 {
                format!("{s:.1}s")
            } else {
                format!("{:.0}m", s / 60.0)
            }
        }
    }
}

fn rssi_color(r: Option<i8>) -> Color {
    match r {
        Some(r) if r >= -80 => Color::Green,
        Some(r) if r >= -90 => Color::Yellow,
        Some(_) => Color::Red,
        None => Color::DarkGray,
    }
}

/// The whole screen.
pub fn draw(f: &mut Frame<'_>, app: &mut App, m: &Model) {
    let area = f.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app, m);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let [topo, nodes] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [traffic, info] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);
    draw_topology(f, topo, app, m);
    draw_nodes(f, nodes, app, m);
    draw_traffic(f, traffic, app, m);
    match app.tab {
        InfoTab::Detail => draw_detail(f, info, app, m),
        InfoTab::Stats => draw_stats(f, info, app, m),
        InfoTab::Unprovisioned => draw_unprovisioned(f, info, app, m),
    }
    draw_footer(f, footer, app, m);
    if app.help {
        draw_help(f, area);
    }
}

/// The top line: what is inspected, the time, running or paused.
pub fn draw_header(f: &mut Frame<'_>, area: Rect, app: &App, m: &Model) {
    let state = if m.paused {
        Span::styled(
            " PAUSED ",
            Style::default().fg(Color::Black).bg(Color::Yellow),
        )
    } else {
        Span::styled(" LIVE ", Style::default().fg(Color::Black).bg(Color::Green))
    };
    let mut spans = vec![
        Span::styled(
            " weft inspect ",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        state,
        Span::raw(format!(
            " {}  t {}  {} nodes  {:.1} PDU/s",
            m.source,
            clock(m.now),
            m.topology.node_count(),
            m.stats.pdus_per_s
        )),
    ];
    if m.capture.is_some() {
        spans.push(Span::styled(
            "  ● REC",
            Style::default().fg(Color::Red).bold(),
        ));
    }
    if let Some((_, t)) = app.target(m) {
        spans.push(Span::styled(
            format!("  target {t}"),
            Style::default().fg(Color::Cyan),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A configuration line: `bind`, `pub ADDR`, `sub ADDR` (hex), or `hb ADDR` / `hb off`
/// (Heartbeats to ADDR, e.g. the inspector's own node, which counts their hops).
pub fn parse_config(text: &str) -> Result<ConfigOp, String> {
    let mut words = text.split_whitespace();
    let verb = words.next().unwrap_or("");
    let addr = |w: Option<&str>| -> Result<u16, String> {
        let w = w.ok_or_else(|| format!("{verb}: give an address in hex, e.g. {verb} c001"))?;
        u16::from_str_radix(w.trim_start_matches("0x"), 16)
            .map_err(|_| format!("'{w}' is not a hex address"))
    };
    let op = match verb {
        "bind" => ConfigOp::Bind,
        "pub" | "publish" => ConfigOp::Publish(addr(words.next())?),
        "sub" | "subscribe" => ConfigOp::Subscribe(addr(words.next())?),
        "hb" | "heartbeat" => match words.next() {
            Some("off") => ConfigOp::Heartbeat(None),
            w => ConfigOp::Heartbeat(Some(addr(w)?)),
        },
        _ => {
            return Err(format!(
                "'{text}': type bind, pub ADDR, sub ADDR or hb ADDR|off"
            ))
        }
    };
    match words.next() {
        Some(extra) => Err(format!("'{extra}': one command at a time")),
        None => Ok(op),
    }
}

/// The bottom line: the filter being typed, the last notice, or the main keys.
pub fn draw_footer(f: &mut Frame<'_>, area: Rect, app: &App, _m: &Model) {
    let line = if let Some((a, input)) = &app.config_input {
        Line::from(vec![
            Span::styled(
                format!(" configure {a:04x}: "),
                Style::default().fg(Color::Yellow),
            ),
            Span::raw(input.clone()),
            Span::styled("▏", Style::default().fg(Color::Yellow)),
            Span::styled(
                "  bind · pub ADDR · sub ADDR · hb ADDR|off · Enter send · Esc cancel",
                Style::default().fg(Color::DarkGray),
            ),
        ])
    } else if let Some(input) = &app.input {
        Line::from(vec![
            Span::styled(" filter /", Style::default().fg(Color::Yellow)),
            Span::raw(input.clone()),
            Span::styled("▏", Style::default().fg(Color::Yellow)),
            Span::styled(
                "  src:ADDR dst:ADDR opcode:TEXT · Enter apply · Esc clear",
                Style::default().fg(Color::DarkGray),
            ),
        ])
    } else if let Some(s) = app.status.as_ref() {
        Line::from(Span::styled(
            format!(" {s}"),
            Style::default().fg(Color::Cyan),
        ))
    } else {
        let keys = [
            ("?", "help"),
            ("q", "quit"),
            ("↑↓", "select"),
            ("o", "on/off"),
            ("+-", "level"),
            ("t", "target"),
            ("/", "filter"),
            ("p", "pause"),
            ("c", "capture"),
            ("Tab", "info"),
        ];
        let mut spans = vec![Span::raw(" ")];
        let mut used = 1;
        for (k, what) in keys {
            let len = k.chars().count() + what.len() + 3;
            if used + len > usize::from(area.width) {
                break;
            }
            used += len;
            spans.push(Span::styled(k, Style::default().fg(Color::Yellow).bold()));
            spans.push(Span::styled(
                format!(" {what}  "),
                Style::default().fg(Color::Gray),
            ));
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
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
    let block = pane(&format!("Topology{legend}{count}"));
    let inner = block.inner(area);
    f.render_widget(block, area);
    app.areas.topology = inner;
    app.areas.node_cells.clear();
    if inner.width < 4 || inner.height < 2 {
        return;
    }
    if m.topology.node_count() == 0 {
        f.render_widget(
            Paragraph::new("no nodes heard yet").fg(Color::DarkGray),
            inner,
        );
        return;
    }
    let many = m.topology.node_count() > 40;
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
    for &(_, x, y) in &m.positions {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let sx = if x1 > x0 { 1.0 / (x1 - x0) } else { 0.0 };
    let sy = if y1 > y0 { 1.0 / (y1 - y0) } else { 0.0 };
    let cells: HashMap<NodeKey, (f64, f64)> = m
        .positions
        .iter()
        .map(|&(k, x, y)| (k, (1.0 + (x - x0) * sx * span_x, (y - y0) * sy * span_y)))
        .collect();
    let edges = &m.edges[..shown];
    let sel = app.selected_node(m).map(|n| n.key);
    // Edges (and moving messages) on the canvas.
    let marker = if app.braille {
        Marker::Braille
    } else {
        Marker::Dot
    };
    let hops: Vec<(f64, f64)> = m
        .hops
        .iter()
        .filter_map(|hp| {
            let (a, b) = (cells.get(&hp.from)?, cells.get(&hp.to)?);
            let p = (m.now.saturating_since(hp.at).as_micros() as f64
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
                for &(a, b, rssi, _) in edges {
                    let (Some(pa), Some(pb)) = (cells.get(&a), cells.get(&b)) else {
                        continue;
                    };
                    let flip = |y: f64| f64::from(plot_h - 1) - y;
                    ctx.draw(&CanvasLine::new(
                        pa.0,
                        flip(pa.1),
                        pb.0,
                        flip(pb.1),
                        rssi_color(rssi),
                    ));
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
        for &(a, b, rssi, _) in edges {
            let (Some(pa), Some(pb)) = (cells.get(&a), cells.get(&b)) else {
                continue;
            };
            let steps = ((pb.0 - pa.0).abs().max((pb.1 - pa.1).abs()).ceil() as usize).max(1);
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let (x, y) = (pa.0 + (pb.0 - pa.0) * t, pa.1 + (pb.1 - pa.1) * t);
                put(buf, inner, x, y, ".", Style::default().fg(rssi_color(rssi)));
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
    let host = m.topology.host();
    for n in m.topology.nodes() {
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
    for n in m.topology.nodes() {
        let Some(&(x, y)) = cells.get(&n.key) else {
            continue;
        };
        let (glyph, color) = glyph(n, host, app.braille);
        let mut style = Style::default().fg(color).bold();
        if Some(n.key) == sel {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let (cx, cy) = put(buf, inner, x, y, glyph, style);
        app.areas.node_cells.push((n.key, cx, cy));
    }
    // Legend.
    let legend: Vec<Span<'_>> = if app.braille {
        vec![
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
        ]
    } else {
        vec![Span::raw(
            "@ you  # relay  o node  F friend  L LPN  P proxy  * msg",
        )]
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

/// The help screen, generated from the key table.
pub fn draw_help(f: &mut Frame<'_>, area: Rect) {
    let w = area.width.saturating_sub(4).min(86);
    let h = (BINDINGS.len() as u16 + 6).min(area.height.saturating_sub(2));
    let r = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line<'_>> = BINDINGS
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
    lines.push(Line::from(
        " edges: links heard, green ≥ -80 dBm, yellow ≥ -90, red weaker",
    ));
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
