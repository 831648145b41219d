//! The Thread tab: the same panes as the Bluetooth Mesh one (topology, nodes, decoded traffic,
//! detail, statistics) over a [`ThreadModel`], and the protocol tab bar shown when both
//! protocols are inspected.

mod info;
mod panes;

pub use info::{draw_frame_detail, draw_thread_stats};
pub use panes::{draw_thread_nodes, draw_thread_topology, draw_thread_traffic};

use super::*;
use crate::inspect::thread::model::{ThreadEntry, ThreadModel};
use crate::inspect::thread::ThreadControl;

/// Which protocol's panes are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Mesh,
    Thread,
}

/// The Thread tab's info pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadInfo {
    #[default]
    Detail,
    Stats,
}

/// The Thread tab's own UI state.
#[derive(Debug, Clone, Default)]
pub struct ThreadUi {
    /// Index of the selected node (in RLOC16 order).
    pub selected: usize,
    /// The selected frame (its number in the log); `None` follows the newest.
    pub frame: Option<u64>,
    pub info: ThreadInfo,
}

/// What a key asks of one of the runtimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyRequest {
    Mesh(Request),
    Thread(ThreadControl),
}

/// Whether a Thread frame passes the filter: `src:`/`dst:` are short addresses (RLOC16s);
/// the text matches the MAC type, the layers above and the MLE command or the error.
pub fn thread_matches(f: &Filter, e: &ThreadEntry) -> bool {
    let v = &e.view;
    f.src.is_none_or(|s| v.src_short == Some(s))
        && f.dst.is_none_or(|d| v.dst_short == Some(d))
        && f.opcode.as_ref().is_none_or(|o| {
            // `o` is lower case (Filter::parse); the text is matched as the traffic line shows
            // it, so `mle` finds every MLE message and `mle adv` the advertisements.
            let has = |text: &str| text.to_lowercase().contains(o.as_str());
            has(&v.mac_type)
                || has(&v.network)
                || v.mle.as_ref().is_some_and(|c| has(&format!("mle {c}")))
                || v.error.as_ref().is_some_and(|(k, r)| has(k) || has(r))
        })
}

/// The frames that pass the filter, oldest first.
pub fn visible<'m>(app: &App, m: &'m ThreadModel) -> Vec<&'m ThreadEntry> {
    m.traffic
        .iter()
        .map(|e| e.as_ref())
        .filter(|e| thread_matches(&app.filter, e))
        .collect()
}

/// The selected frame's index in `list` (the newest when following).
pub fn selected_frame(app: &App, list: &[&ThreadEntry]) -> Option<usize> {
    let last = list.len().checked_sub(1)?;
    Some(match app.thread.frame {
        None => last,
        Some(n) => list.iter().position(|e| e.n >= n).unwrap_or(last),
    })
}

impl App {
    /// Shows `p`'s tab, when it is inspected.
    fn switch(&mut self, p: Protocol, has: (bool, bool)) {
        let ok = match p {
            Protocol::Mesh => has.0,
            Protocol::Thread => has.1,
        };
        if ok {
            self.protocol = p;
            self.status = None;
        } else {
            self.status = Some(match p {
                Protocol::Mesh => "no Bluetooth Mesh source: add --radio sim:smart-home (or a Bluetooth radio) beside the Thread one".into(),
                Protocol::Thread => "no Thread source: add --radio sim:thread-home, or a Thread radio (spinel:, nrf154:, otsim:) with --thread-key".into(),
            });
        }
    }

    /// Carries out `a` on whichever tab is shown.
    pub fn act_any(
        &mut self,
        a: Action,
        mesh: Option<&Model>,
        thread: Option<&ThreadModel>,
    ) -> Option<AnyRequest> {
        let has = (mesh.is_some(), thread.is_some());
        match a {
            Action::MeshTab => {
                self.switch(Protocol::Mesh, has);
                return None;
            }
            Action::ThreadTab => {
                self.switch(Protocol::Thread, has);
                return None;
            }
            Action::OtherProtocol => {
                let other = match self.protocol {
                    Protocol::Mesh => Protocol::Thread,
                    Protocol::Thread => Protocol::Mesh,
                };
                self.switch(other, has);
                return None;
            }
            _ => {}
        }
        match (self.protocol, mesh, thread) {
            (Protocol::Thread, _, Some(t)) => self.act_thread(a, t).map(AnyRequest::Thread),
            (_, Some(m), _) => self.act(a, m).map(AnyRequest::Mesh),
            _ => None,
        }
    }

    /// Carries out `a` on the Thread tab.
    pub fn act_thread(&mut self, a: Action, m: &ThreadModel) -> Option<ThreadControl> {
        let count = m.nodes.len();
        if self.help && !matches!(a, Action::Help | Action::Quit | Action::Escape) {
            self.help = false;
        }
        let list = visible(self, m);
        let step = |app: &mut App, back: isize| {
            let Some(i) = selected_frame(app, &list) else {
                return;
            };
            let j = (i as isize - back).clamp(0, list.len() as isize - 1) as usize;
            app.thread.frame = if j + 1 == list.len() && back < 0 {
                None
            } else {
                Some(list[j].n)
            };
        };
        match a {
            Action::Quit => self.quit = true,
            Action::Help => self.help = !self.help,
            Action::Up => self.thread.selected = self.thread.selected.saturating_sub(1),
            Action::Down => {
                self.thread.selected = (self.thread.selected + 1).min(count.saturating_sub(1))
            }
            Action::Top => self.thread.selected = 0,
            Action::Bottom => self.thread.selected = count.saturating_sub(1),
            Action::PrevFrame => step(self, 1),
            Action::NextFrame => step(self, -1),
            Action::ScrollBack => step(self, 10),
            Action::ScrollForward => step(self, -10),
            Action::Follow => self.thread.frame = None,
            Action::Filter => self.input = Some(self.filter.describe()),
            Action::Pause => return Some(ThreadControl::TogglePause),
            Action::NextTab => {
                self.thread.info = match self.thread.info {
                    ThreadInfo::Detail => ThreadInfo::Stats,
                    ThreadInfo::Stats => ThreadInfo::Detail,
                }
            }
            Action::Detail => self.thread.info = ThreadInfo::Detail,
            Action::Stats => self.thread.info = ThreadInfo::Stats,
            Action::Marker => self.braille = !self.braille,
            Action::Escape => {
                if self.help {
                    self.help = false;
                } else if !self.filter.is_empty() {
                    self.filter = Filter::default();
                    self.status = Some("filter cleared".into());
                } else {
                    self.status = None;
                }
            }
            Action::Unprovisioned
            | Action::Target
            | Action::OnOff
            | Action::LevelUp
            | Action::LevelDown
            | Action::Provision
            | Action::Configure => {
                self.status = Some(
                    "the Thread tab listens only: sending is for the Bluetooth Mesh tab".into(),
                )
            }
            Action::Capture => return Some(ThreadControl::ToggleCapture),
            Action::MeshTab | Action::ThreadTab | Action::OtherProtocol => {}
        }
        None
    }

    /// A mouse click on the Thread tab: selects the node under it.
    pub fn click_thread(&mut self, col: u16, row: u16, m: &ThreadModel) {
        let p = Position::new(col, row);
        if self.areas.nodes.contains(p) && row >= self.areas.nodes_first_row {
            let i = self.areas.nodes_offset + usize::from(row - self.areas.nodes_first_row);
            if i < m.nodes.len() {
                self.thread.selected = i;
            }
            return;
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
                if let Some(i) = m.nodes.iter().position(|n| u64::from(n.rloc16) == k) {
                    if d <= 16 {
                        self.thread.selected = i;
                    }
                }
            }
        }
    }
}

/// The whole Thread screen in `area`.
pub fn draw_thread(f: &mut Frame<'_>, area: Rect, app: &mut App, m: &ThreadModel) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_thread_header(f, header, m);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let [topo, nodes] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [traffic, info] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);
    draw_thread_topology(f, topo, app, m);
    draw_thread_nodes(f, nodes, app, m);
    draw_thread_traffic(f, traffic, app, m);
    match app.thread.info {
        ThreadInfo::Detail => draw_frame_detail(f, info, app, m),
        ThreadInfo::Stats => draw_thread_stats(f, info, app, m),
    }
    draw_thread_footer(f, footer, app, m);
}

/// The top line: the source, the time, the filters, frames/s.
pub fn draw_thread_header(f: &mut Frame<'_>, area: Rect, m: &ThreadModel) {
    let state = if m.paused {
        Span::styled(
            " PAUSED ",
            Style::default().fg(Color::Black).bg(Color::Yellow),
        )
    } else {
        Span::styled(" LIVE ", Style::default().fg(Color::Black).bg(Color::Green))
    };
    let mut text = format!(
        " {}  t {}  {} nodes  {:.1} frames/s",
        m.source,
        clock(m.now),
        m.nodes.len(),
        m.stats.frames_per_s
    );
    if !m.filters.is_empty() {
        text.push_str(&format!("  {}", m.filters));
    }
    let mut spans = vec![
        Span::styled(
            " weft inspect ",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        state,
        Span::raw(text),
    ];
    if m.capture.is_some() {
        spans.push(Span::styled(
            "  ● REC",
            Style::default().fg(Color::Red).bold(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The bottom line: the filter being typed, the last notice, how to give the key, or the keys.
pub fn draw_thread_footer(f: &mut Frame<'_>, area: Rect, app: &App, m: &ThreadModel) {
    let line = if let Some(input) = &app.input {
        super::filter_line(
            input,
            "src:RLOC16 dst:RLOC16 TEXT (mle command, data, error...)",
        )
    } else if let Some(s) = app.status.as_ref() {
        Line::from(Span::styled(
            format!(" {s}"),
            Style::default().fg(Color::Cyan),
        ))
    } else if !m.key_known {
        Line::from(Span::styled(
            " encrypted frames shown at the MAC level: give the network key with --thread-key HEX (32 hex digits; `ot-ctl networkkey` prints it)",
            Style::default().fg(Color::Yellow),
        ))
    } else if m.stats.decrypted == 0
        && m.stats.mle == 0
        && (m.stats.errors.contains_key("MIC failed") || m.stats.errors.contains_key("unknown key"))
    {
        Line::from(Span::styled(
            " nothing opens with this key: check --thread-key (`ot-ctl networkkey`) and --key-sequence (`ot-ctl keysequence counter`)",
            Style::default().fg(Color::Yellow),
        ))
    } else {
        let keys = [
            ("?", "help"),
            ("q", "quit"),
            ("↑↓", "node"),
            ("[]", "frame"),
            ("/", "filter"),
            ("p", "pause"),
            ("c", "capture"),
            ("Tab", "info"),
            ("1 2", "protocol"),
        ];
        super::key_hints(&keys, area.width)
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The protocol tab bar: each protocol with its frame count, the shown one highlighted.
pub fn draw_protocol_tabs(
    f: &mut Frame<'_>,
    area: Rect,
    shown: Protocol,
    mesh_pdus: u64,
    thread_frames: u64,
) {
    let tab = |on: bool, text: String| {
        if on {
            Span::styled(
                text,
                Style::default().fg(Color::Black).bg(Color::Cyan).bold(),
            )
        } else {
            Span::styled(text, Style::default().fg(Color::Gray))
        }
    };
    let line = Line::from(vec![
        tab(
            shown == Protocol::Mesh,
            format!(" 1 Bluetooth Mesh · {mesh_pdus} PDUs "),
        ),
        Span::raw(" "),
        tab(
            shown == Protocol::Thread,
            format!(" 2 Thread · {thread_frames} frames "),
        ),
        Span::styled(
            "  (1, 2 or Shift-Tab switch)",
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

/// The whole screen: the tab bar when both protocols are inspected, then the shown one.
pub fn draw_all(
    f: &mut Frame<'_>,
    app: &mut App,
    mesh: Option<&Model>,
    thread: Option<&ThreadModel>,
) {
    let area = f.area();
    match (mesh, thread) {
        (Some(m), Some(t)) => {
            let [bar, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
            draw_protocol_tabs(f, bar, app.protocol, m.stats.pdus, t.stats.frames);
            match app.protocol {
                Protocol::Mesh => draw_in(f, rest, app, m),
                Protocol::Thread => draw_thread(f, rest, app, t),
            }
        }
        (Some(m), None) => draw_in(f, area, app, m),
        (None, Some(t)) => {
            app.protocol = Protocol::Thread;
            draw_thread(f, area, app, t)
        }
        (None, None) => {}
    }
    if app.help {
        let both = mesh.is_some() && thread.is_some();
        draw_help_for(f, area, app.protocol == Protocol::Thread, both);
    }
}
