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
use weft_mesh::ble::models::generic::{
    GenericMessage, LevelSet, OnOffSet, LEVEL_STATUS, ONOFF_STATUS,
};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::topology::{NodeKey, TopoNode, Topology};
use weft_mesh::Instant;

mod detail;
mod graph;
mod help;
mod tables;
mod thread;

pub use detail::{draw_detail, draw_stats, draw_unprovisioned};
pub use graph::{abbreviate, draw_graph, draw_topology, GraphView};
pub use help::{draw_help, draw_help_for};
pub use tables::{draw_nodes, draw_traffic};
pub use thread::{
    draw_all, draw_frame_detail, draw_protocol_tabs, draw_thread, draw_thread_nodes,
    draw_thread_stats, draw_thread_topology, draw_thread_traffic, thread_matches, AnyRequest,
    Protocol, ThreadInfo, ThreadUi,
};

use super::keys::{Action, BINDINGS};
use super::model::{ConfigOp, EntryKind, Hop, Model, TrafficEntry, HOP_ANIMATION};

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
    /// Send a message from the host node; `what` says it in words, `expect` is the opcode of
    /// the status that answers it.
    Send {
        dst: u16,
        message: AccessMessage,
        expect: Opcode,
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
    /// The protocol tab shown, and the Thread tab's own state.
    pub protocol: Protocol,
    pub thread: ThreadUi,
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
            protocol: Protocol::default(),
            thread: ThreadUi::default(),
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
                    expect: ONOFF_STATUS,
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
                    expect: LEVEL_STATUS,
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
            Action::PrevFrame => {
                self.scroll = self.scroll.saturating_add(1);
                None
            }
            Action::NextFrame => {
                self.scroll = self.scroll.saturating_sub(1);
                None
            }
            // The protocol tabs are [`App::act_any`]'s.
            Action::MeshTab | Action::ThreadTab | Action::OtherProtocol => None,
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
    draw_in(f, area, app, m);
    if app.help {
        draw_help(f, area);
    }
}

/// The Bluetooth Mesh screen in `area` (without the help overlay).
pub fn draw_in(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &Model) {
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
        filter_line(input, "src:ADDR dst:ADDR opcode:TEXT")
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
        key_hints(&keys, area.width)
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The status bar's key hints, `KEY what` pairs, as many as fit in `width` columns.
pub fn key_hints(keys: &[(&'static str, &'static str)], width: u16) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for &(k, what) in keys {
        let len = k.chars().count() + what.len() + 3;
        if used + len > usize::from(width) {
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
}

/// The status bar while a filter is typed: what is typed so far, and what it may say (`syntax`).
pub fn filter_line(input: &str, syntax: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(" filter /", Style::default().fg(Color::Yellow)),
        Span::raw(input.to_string()),
        Span::styled("▏", Style::default().fg(Color::Yellow)),
        Span::styled(
            format!("  {syntax} · Enter apply · Esc clear"),
            Style::default().fg(Color::DarkGray),
        ),
    ])
}
