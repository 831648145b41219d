//! The one interface scenario steps run against: a [`Backend`] holds the roles of one
//! scenario on their radios and acts on them by role. The simulator in virtual time is one
//! (`sim/`); weft processes on a rig file's radios, in wall-clock time, the other (`live/`).

use super::steps::{ConfigItem, Oob, Target};

/// A role of the scenario, by its index.
pub type Role = usize;

/// What a backend saw happen, backend-neutral.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Observed {
    /// The device is a node at this address.
    Provisioned { address: u16 },
    /// Its provisioning failed.
    ProvisionFailed { reason: String },
    /// The provisioner finished configuring this role (every request answered with success).
    ConfigDone { node: Role },
    /// A Config request to this role failed.
    ConfigFailed { node: Role, reason: String },
    /// A Generic OnOff Server's state changed.
    OnOff { on: bool },
    /// An access message arrived.
    Received { src: u16, message: String, ttl: u8 },
    /// A heartbeat arrived (MshPRT §3.6.7.2), this many hops away.
    Heartbeat { src: u16, hops: u8 },
    /// The IV Index or IV Update state changed.
    IvIndex { iv_index: u32, updating: bool },
    /// The primary subnet's Key Refresh phase changed.
    KeyRefresh { phase: u8 },
    /// A PDU was dropped, with the node's reason.
    Dropped { reason: String },
    /// A segmented transfer ended at its sender.
    Sar { complete: bool, segments: u8 },
    /// The node left the network (Config Node Reset).
    NodeReset,
    /// The node sent a network PDU of its own with this sequence number under this IV Index.
    Sent { seq: u32, iv_index: u32, ctl: bool },
    /// A Thread node's role changed (`detached`, `child`, `router`, `leader`).
    ThreadRole { role: String, rloc16: Option<u16> },
    /// A Thread node's ICMPv6 echo request was answered from this address (RFC 4443 §4.2).
    EchoReply { from: String, hop_limit: u8 },
    /// A Thread node sent a MAC-secured frame from this extended address (hex) with this
    /// frame counter under this key sequence (IEEE 802.15.4-2015 §9.4.3, Thread 1.3 §7.1.2).
    FrameSent {
        ext_address: String,
        frame_counter: u32,
        key_sequence: u32,
    },
}

impl Observed {
    /// The name a `wait` step uses for it.
    pub fn name(&self) -> &'static str {
        match self {
            Observed::Provisioned { .. } => "provisioned",
            Observed::ProvisionFailed { .. } => "provision-failed",
            Observed::ConfigDone { .. } => "config-done",
            Observed::ConfigFailed { .. } => "config-failed",
            Observed::OnOff { .. } => "onoff",
            Observed::Received { .. } => "received",
            Observed::Heartbeat { .. } => "heartbeat",
            Observed::IvIndex { .. } => "iv-index",
            Observed::KeyRefresh { .. } => "key-refresh",
            Observed::Dropped { .. } => "dropped",
            Observed::Sar { .. } => "sar",
            Observed::NodeReset => "node-reset",
            Observed::Sent { .. } => "sent",
            Observed::ThreadRole { .. } => "thread-role",
            Observed::EchoReply { .. } => "echo-reply",
            Observed::FrameSent { .. } => "frame-sent",
        }
    }
}

/// One thing seen, when and on which role.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Seconds since the scenario's start (virtual on the simulator).
    pub at_s: f64,
    pub role: Role,
    pub what: Observed,
}

/// What can be read of a role's state now, for assertions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleView {
    /// Its primary address, once a node.
    pub address: Option<u16>,
    pub provisioned: bool,
    pub iv_index: u32,
    pub iv_update: bool,
    /// Key Refresh phase of the primary subnet (0 normal, 1, 2).
    pub key_phase: u8,
    /// The Generic OnOff state of its primary element, if it has the server.
    pub onoff: Option<bool>,
    pub relay: bool,
    /// The authentication method its provisioning used (`none`, `static`, `output-numeric`,
    /// `input-numeric`, or another method's debug name).
    pub auth: Option<String>,
    /// A Thread node's role (`detached`, `child`, `router`, `leader`).
    pub thread_role: Option<String>,
    /// A Thread node's RLOC (Thread 1.3 §5.2.1.1), once attached: what a `ping` step pings.
    pub rloc: Option<std::net::Ipv6Addr>,
}

/// Whether a Thread role `got` is the role `want` an `attach` step or an assertion names (a
/// leader is a router too).
pub fn thread_role_is(got: &str, want: &str) -> bool {
    got == want || (want == "router" && got == "leader")
}

/// The roles of one scenario on their radios. Every action returns at once (having queued
/// what it asked for); time passes only in [`Backend::advance`].
pub trait Backend {
    /// Seconds since the scenario's start.
    fn now_s(&self) -> f64;
    /// Lets `seconds` pass and returns what was seen meanwhile, in order.
    fn advance(&mut self, seconds: f64) -> Result<Vec<Seen>, String>;
    /// `by` (the provisioner) provisions `device` with this OOB class; the backend plays the
    /// user who carries an OOB value from one side to the other.
    fn provision(&mut self, by: Role, device: Role, oob: Oob) -> Result<(), String>;
    /// `by` sends one configuration to `node`; it ends in [`Observed::ConfigDone`] or
    /// [`Observed::ConfigFailed`].
    fn configure(&mut self, by: Role, node: Role, item: &ConfigItem) -> Result<(), String>;
    /// `from` sends a message (`onoff-set`, `onoff-set-unack`, `onoff-get`, `large`: a
    /// segmented 380-octet access message); with `proxy`, through that node's Proxy Server
    /// as a Proxy Client (MshPRT §6.8), the way `weft send --proxy` does.
    fn send(
        &mut self,
        from: Role,
        to: Target,
        message: &str,
        on: bool,
        ttl: Option<u8>,
        proxy: Option<Role>,
    ) -> Result<(), String>;
    /// Cuts the link between two roles (they no longer hear each other).
    fn cut(&mut self, a: Role, b: Role) -> Result<(), String>;
    /// Restores a link cut before.
    fn restore(&mut self, a: Role, b: Role) -> Result<(), String>;
    /// Power-cycles a role: off the air for `off_s`, back with what it had persisted.
    fn power_cycle(&mut self, role: Role, off_s: f64) -> Result<(), String>;
    /// Kills a role's weft process (kill -9) and starts it again from what it had persisted.
    fn kill_restart(&mut self, role: Role) -> Result<(), String>;
    /// The role starts an IV Update (MshPRT §3.11.5).
    fn iv_update(&mut self, role: Role) -> Result<(), String>;
    /// Key Refresh (MshPRT §3.11.4) driven by `by`: phase 1 sends the new keys to `node` with
    /// Config NetKey Update and AppKey Update (one at a time, each ending as [`Backend::configure`]
    /// does); `node == by` takes them locally. Phases 2 and 3 start at `by`; beacons carry them.
    fn key_refresh(&mut self, by: Role, node: Role, phase: u8) -> Result<(), String>;
    /// `by` sends Config Node Reset to `node`.
    fn node_reset(&mut self, by: Role, node: Role) -> Result<(), String>;
    /// Plays the last Mesh Message PDU `from` put on the air to `to` again, as an attacker
    /// would.
    fn replay(&mut self, from: Role, to: Role) -> Result<(), String>;
    /// The Thread role `from` pings `to`'s RLOC (ICMPv6 echo request); the reply comes as
    /// [`Observed::EchoReply`].
    fn ping(&mut self, from: Role, to: Role) -> Result<(), String>;
    /// The role's state now.
    fn view(&self, role: Role) -> RoleView;
    /// Ends the scenario (closes captures); the error names what failed.
    fn finish(&mut self) -> Result<(), String>;
}

/// A Mesh Message put back on the air as a `replay` step does it: heard on channel 37 at
/// -60 dBm, as if from an attacker's radio (both backends inject it this way).
pub fn replayed_frame(now: weft_mesh::Instant, bytes: Vec<u8>) -> weft_mesh::RxFrame {
    weft_mesh::RxFrame {
        lqi: None,
        bearer: weft_mesh::Bearer::Advertising,
        channel: 37,
        rssi: Some(-60),
        timestamp: now,
        adv_address: None,
        bytes,
    }
}
