//! What the Thread tab draws: a snapshot, cheap to clone (the log holds `Arc`s), filled by
//! [`super::feeder::ThreadFeeder`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ratatui::style::Color;
use weft_mesh::thread::topology::RouterLink;
use weft_mesh::topology::{NodeKey, Topology};
use weft_mesh::Instant;

use super::adapter::FrameView;

/// Frames the traffic log keeps (older ones scroll away).
pub const TRAFFIC_CAPACITY: usize = 2000;

/// A node's role, as the frames told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Leader,
    Router,
    Child,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Router => "router",
            Role::Child => "child",
        }
    }
}

/// One node of the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    pub rloc16: u16,
    /// The extended address, 16 hex digits, when learnt.
    pub ext_addr: Option<String>,
    pub role: Role,
    /// The parent's RLOC16, for a child.
    pub parent: Option<u16>,
    /// The links its Route64 reports (routers), with Link Quality In and Out and the cost.
    pub links: Vec<RouterLink>,
    pub last_seen: Option<Instant>,
    /// Frames heard from it (by its MAC source address).
    pub frames: u64,
    /// Of the latest frame heard from it, when the radio reports them.
    pub rssi: Option<i8>,
    pub lqi: Option<u8>,
}

/// One line of the traffic log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadEntry {
    /// Its number in the log (1 for the first frame logged).
    pub n: u64,
    pub at: Instant,
    pub channel: u8,
    pub rssi: Option<i8>,
    pub lqi: Option<u8>,
    /// Secured and no key given: shown as "encrypted: no key", not as an error.
    pub no_key: bool,
    pub view: FrameView,
}

/// Counters of what was heard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadStats {
    /// Frames heard (all channels and PANs).
    pub frames: u64,
    pub frames_per_s: f64,
    /// Frames on the channel and PAN asked for (decoded).
    pub decoded: u64,
    pub acks: u64,
    /// MAC-secured frames opened with the key.
    pub decrypted: u64,
    /// MAC-secured frames shown without decrypting (no key given).
    pub no_key: u64,
    pub mle: u64,
    /// MLE messages by command.
    pub mle_commands: BTreeMap<String, u64>,
    /// Decoding errors by kind.
    pub errors: BTreeMap<&'static str, u64>,
    pub fragments_held: u64,
    pub reassembled: u64,
    /// Frames of another PAN than `--pan-id`, of another channel than `--channel`.
    pub other_pan: u64,
    pub other_channel: u64,
    /// Frames the decoder never saw because its queue was full.
    pub ingest_dropped: u64,
    /// The key sequence the decoder follows.
    pub key_sequence: u32,
    pub partition_id: Option<String>,
    pub leader_router_id: Option<u8>,
}

/// Everything the Thread tab draws.
#[derive(Debug, Clone)]
pub struct ThreadModel {
    /// `sim:thread-home (seed 1)`, `otsim:7`, ...
    pub source: String,
    pub now: Instant,
    pub paused: bool,
    /// Whether a network key was given (or known from the scenario).
    pub key_known: bool,
    /// The filters in force, in words (`channel 15, PAN face`), empty when none.
    pub filters: String,
    /// Nodes by RLOC16 (routers followed by their children).
    pub nodes: Vec<ThreadNode>,
    /// The graph drawn: one node per RLOC16, in the same order as `nodes`.
    pub topology: Topology,
    pub positions: Vec<(NodeKey, f64, f64)>,
    /// Edges to draw: router links coloured by link quality, children to their parents.
    pub edges: Arc<Vec<(NodeKey, NodeKey, Color)>>,
    /// Newest last.
    pub traffic: VecDeque<Arc<ThreadEntry>>,
    pub traffic_total: u64,
    pub stats: ThreadStats,
    /// A line about the last thing that happened, numbered so the UI sees each one once.
    pub notice: Option<(u64, String)>,
    /// The pcapng file being written, if a capture runs.
    pub capture: Option<String>,
    /// Why the capture could not be closed when the source stopped.
    pub capture_error: Option<String>,
    /// weft's own node's RLOC16 (`--dataset`), drawn as `you`.
    pub you: Option<u16>,
}

impl ThreadModel {
    pub fn new(source: String, key_known: bool, filters: String) -> Self {
        ThreadModel {
            source,
            now: Instant::ZERO,
            paused: false,
            key_known,
            filters,
            nodes: Vec::new(),
            topology: Topology::new(),
            positions: Vec::new(),
            edges: Arc::new(Vec::new()),
            traffic: VecDeque::new(),
            traffic_total: 0,
            stats: ThreadStats::default(),
            notice: None,
            capture: None,
            capture_error: None,
            you: None,
        }
    }

    /// Sets the notice line.
    pub fn notify(&mut self, text: impl Into<String>) {
        let n = self.notice.as_ref().map_or(1, |(n, _)| n + 1);
        self.notice = Some((n, text.into()));
    }

    /// The node with `rloc16`.
    pub fn node(&self, rloc16: u16) -> Option<&ThreadNode> {
        self.nodes.iter().find(|n| n.rloc16 == rloc16)
    }
}

/// The colour of a router link by its worse direction's link quality (Thread 1.3 §5.7.2.1:
/// 3 is a link margin above 20 dB, 2 above 10 dB, 1 above 2 dB).
pub fn lq_color(lq: u8) -> Color {
    match lq {
        3 => Color::Green,
        2 => Color::Yellow,
        1 => Color::Red,
        _ => Color::DarkGray,
    }
}
