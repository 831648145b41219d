//! The HCI radio: a Bluetooth controller driven over the Host Controller Interface (Core v5.4
//! Vol 4), as the Bluetooth Mesh advertising bearer (MshPRT v1.1 §3.3.1).
//!
//! [`HciRadio`] is what [`crate::open()`] gives for `hci:`, `hci-tcp:`, `hci-unix:` and
//! `hci-user:` URIs ([`HciRadio::open`] with [`HciConfig::default`]); a test or a tool that
//! wants other knobs, or a byte stream of its own, calls [`HciRadio::open`] or
//! [`HciRadio::with_connector`] itself. Opening connects, resets the controller and brings it
//! up, and answers with the first failure as one sentence; after that the radio keeps itself
//! going: a controller that stops answering is found by a watchdog and reset, one that
//! vanishes is reconnected with backoff, and what happens is visible in [`HciRadio::state`] and
//! [`HciRadio::stats`].
//!
//! | file | what | specification |
//! |---|---|---|
//! | `h4.rs` | H4 framing, resynchronisation | Vol 4 Part A §2, Vol 4 Part E §5.4 |
//! | `command.rs` | command packets, names, Read Buffer Size | Vol 4 Part E §5.4.1, §7.4.5 |
//! | `event.rs` | the events the radio reads | Vol 4 Part E §5.4.4, §7.7 |
//! | `link.rs` | one connection: reader task, commands with timeouts, flow control | Vol 4 Part E §4.4, §4.5 |
//! | `controller.rs` | bring-up, advertising and scanning sequences | Vol 4 Part E §7.3, §7.4, §7.8 |
//! | `mesh.rs` | reports to mesh frames, frames that can be advertised | MshPRT §3.3.1 |
//! | `radio.rs` | [`HciRadio`]: the `Radio`, watchdog, recovery, reconnection | |
//! | `transport.rs` | serial, TCP and Unix streams | Vol 4 Part A §2 |
//! | `flood.rs` | a controller that floods advertising reports, for benchmarks | Vol 4 Part E §7.7.65.2 |
//! | `user_channel.rs` | the kernel's HCI user channel (the only `unsafe`) | |
//!
//! Typed commands, events and parameter types come from the `bt-hci` crate (the one embassy's
//! `trouble` host uses); its transport and controller traits are embedded-io shaped and have no
//! timeouts, so the framing, the command engine and everything around them are written here.

use std::fmt;
use std::time::Duration;

pub mod command;
mod controller;
pub mod event;
pub mod flood;
pub mod h4;
mod link;
pub mod mesh;
mod radio;
mod transport;
mod user_channel;

pub use controller::{Advertising, Buffers, ControllerInfo};
pub use radio::{Connector, HciRadio};
pub use transport::{connect, HciIo, HciStream, DEFAULT_BAUD};

use command::{describe, status_name};

/// Which advertising commands to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdvMode {
    /// Extended advertising when the controller's supported commands have it, else legacy.
    #[default]
    Auto,
    /// Always the legacy commands.
    Legacy,
    /// Always the extended commands; a controller without them is refused.
    Extended,
}

/// How the radio tries to get a lost controller back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first attempt.
    pub first: Duration,
    /// The longest wait between attempts (each wait doubles up to it).
    pub max: Duration,
    /// When to give up and end the radio with an error; `None`: never.
    pub give_up_after: Option<Duration>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(250),
            max: Duration::from_secs(8),
            give_up_after: Some(Duration::from_secs(60)),
        }
    }
}

/// The knobs of an HCI radio. [`Default`] is what [`crate::open()`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HciConfig {
    /// How long any command may wait for its answer (some controllers never answer a command
    /// they do not know). 1 s.
    pub command_timeout: Duration,
    /// How long HCI_Reset may take. 3 s.
    pub reset_timeout: Duration,
    /// How long the controller may go without answering a command before the radio sends a
    /// harmless one (Read BD_ADDR) to see that it still answers; a controller that does not
    /// is reset and brought up again. `None`: no watchdog. 5 s.
    pub watchdog: Option<Duration>,
    /// Legacy or extended advertising. [`AdvMode::Auto`].
    pub advertising: AdvMode,
    /// Legacy advertising: how long advertising stays enabled for one frame. 15 ms (see
    /// `controller.rs`).
    pub legacy_event_hold: Duration,
    /// Extended advertising: how long to wait for the set to end after its one event. 250 ms.
    pub extended_event_timeout: Duration,
    /// The scan interval; the window is the same (continuous scanning). 30 ms.
    pub scan_interval: Duration,
    /// The advertiser address; made a random static address (its two top bits set). `None`:
    /// a new random one each time the radio opens.
    pub address: Option<[u8; 6]>,
    /// Frames heard and not yet taken by `recv`; more are dropped, counted. 1024.
    pub rx_queue: usize,
    /// Frames to send and not yet advertised; more are dropped, counted. 64.
    pub tx_queue: usize,
    /// How long the line may stay quiet in the middle of a packet before its bytes are taken
    /// for garbage. 200 ms.
    pub partial_packet_timeout: Duration,
    /// Reconnection after the controller is lost.
    pub reconnect: Backoff,
}

impl Default for HciConfig {
    fn default() -> Self {
        HciConfig {
            command_timeout: Duration::from_secs(1),
            reset_timeout: Duration::from_secs(3),
            watchdog: Some(Duration::from_secs(5)),
            advertising: AdvMode::Auto,
            legacy_event_hold: Duration::from_millis(15),
            extended_event_timeout: Duration::from_millis(250),
            scan_interval: Duration::from_millis(30),
            address: None,
            rx_queue: 1024,
            tx_queue: 64,
            partial_packet_timeout: Duration::from_millis(200),
            reconnect: Backoff::default(),
        }
    }
}

/// What went wrong with a controller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HciError {
    /// The command was answered with an error status.
    #[error("{} failed: {} ({status:#04x})", describe(*opcode), status_name(*status))]
    Failed { opcode: u16, status: u8 },
    /// The command was not answered in time.
    #[error("{} was not answered within {}", describe(*opcode), Secs(*after))]
    Timeout { opcode: u16, after: Duration },
    /// The answer's return parameters could not be read.
    #[error("{} returned parameters that cannot be read: {why}", describe(*opcode))]
    BadReturn { opcode: u16, why: String },
    /// The command could not be written (its parameters are too long).
    #[error("{} could not be encoded", describe(*opcode))]
    Encode { opcode: u16 },
    /// The controller reported a hardware error (Vol 4 Part E §7.7.16).
    #[error("the controller reported hardware error {code:#04x}")]
    HardwareError { code: u8 },
    /// The controller cannot be the advertising bearer.
    #[error("{0}")]
    Unsupported(String),
    /// The byte stream ended or failed.
    #[error("{0}")]
    Lost(String),
}

/// A duration as errors write it: "1 s", "250 ms".
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms >= 1000 && ms.is_multiple_of(1000) {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{ms} ms")
        }
    }
}

/// What an HCI radio has seen and done since it opened (over every connection).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HciStats {
    /// Mesh frames handed to `recv`, and frames dropped because its queue was full.
    pub rx_frames: u64,
    pub rx_dropped: u64,
    /// Advertising reports read (legacy and extended), and of those: malformed, of a PDU that
    /// is not ADV_NONCONN_IND, scan responses, incomplete extended data, without mesh data.
    pub reports: u64,
    pub reports_malformed: u64,
    pub reports_not_nonconn: u64,
    pub reports_scan_rsp: u64,
    pub reports_incomplete: u64,
    pub reports_not_mesh: u64,
    /// Events that could not be parsed.
    pub events_malformed: u64,
    /// H4: packets decoded, octets skipped, resynchronisations, partial packets dropped.
    pub h4_packets: u64,
    pub h4_skipped_bytes: u64,
    pub h4_resyncs: u64,
    pub h4_partial_dropped: u64,
    /// Frames advertised, dropped (queue full, or the controller away), failed.
    pub tx_frames: u64,
    pub tx_dropped: u64,
    pub tx_failed: u64,
    /// Extended advertising: one-event sets that did not report their end.
    pub adv_not_terminated: u64,
    /// Commands sent, not answered in time, answered with an error status.
    pub commands: u64,
    pub command_timeouts: u64,
    pub command_failures: u64,
    /// Hardware Error events.
    pub hardware_errors: u64,
    /// Watchdog probes sent.
    pub watchdog_probes: u64,
    /// Resets and bring-ups after a failure, on the same connection.
    pub recoveries: u64,
    /// Reconnection attempts, and the ones that brought the controller back.
    pub reconnect_attempts: u64,
    pub reconnects: u64,
}

/// Where an HCI radio is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HciState {
    /// Brought up: scanning, and advertising what it is sent.
    Ready(ControllerInfo),
    /// Being reset and brought up again, on the same connection.
    Recovering { reason: String },
    /// The controller was lost; attempt `attempt` comes after `retry_in`.
    Reconnecting {
        reason: String,
        attempt: u32,
        retry_in: Duration,
    },
    /// The radio gave up (the reason is also `recv`'s error) or was closed.
    Gone { reason: String },
}

/// For the fuzz target: H4-decodes `data` from a controller and parses every event and every
/// report in it as the radio does. Never panics.
pub fn fuzz_parse(data: &[u8]) {
    let mut d = h4::H4Decoder::new(h4::Direction::FromController);
    d.push(data);
    loop {
        while let Some(p) = d.next_packet() {
            assert_eq!(p.encode().len(), 1 + p.body.len());
            if p.kind != h4::PacketType::Event {
                continue;
            }
            if let Ok(event::HciEvent::AdvReports { reports, .. }) = event::parse_event(&p.body) {
                for r in &reports {
                    let _ = mesh::rx_frame(r);
                }
            }
        }
        if !d.drop_partial() {
            break;
        }
    }
    // Events without the framing, too: the user channel hands whole packets.
    let _ = event::parse_event(data);
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
