//! The Spinel radio: an OpenThread RCP (radio co-processor firmware, `ot-rcp`, e.g. on an
//! nRF52840 dongle) driven over HDLC-lite and Spinel as a raw IEEE 802.15.4 radio, for Thread.
//!
//! [`SpinelRadio`] is what [`crate::open()`] gives for `spinel:DEVICE[?baud=N&channel=C]`
//! ([`SpinelRadio::open`] with [`SpinelConfig::default`]; the URI's channel, if any, replaces
//! the default 11). Opening resets the RCP and waits for its reset notification, checks its
//! protocol version (major 4), its capabilities (a radio: `CAP_CONFIG_RADIO` or `CAP_MAC_RAW`)
//! and its RCP API version (at least 4, whose `STREAM_RAW` layout is the one read here), then
//! enables the PHY on the channel, full promiscuous mode and the raw stream. A device that does
//! not answer is one sentence saying what it looks like: nothing at all (wrong port, or not an
//! RCP), bytes but no valid HDLC frame (wrong baud rate), damaged frames (baud rate or flow
//! control), a write that never completes (hardware flow control), valid frames but no reset
//! notification (not an RCP), or the wrong version (RCP and host versions do not match).
//!
//! | file | what | specification |
//! |---|---|---|
//! | `hdlc.rs` | HDLC-lite framing, CRC-16/X.25 | Spinel Appendix A.1.1, RFC 1662 |
//! | `wire.rs` | header, packed integers, commands, properties, `STREAM_RAW` | Spinel §3–§7, OpenThread `spinel.h` |
//! | `link.rs` | the reader task and requests with transaction ids | Spinel §3.1.3 |
//! | `rcp.rs` | bring-up and what an RCP that does not answer looks like | |
//! | `mac.rs` | transmit-done status with the ack's Frame Pending; the source-match table | 802.15.4-2015 §6.7.3, OpenThread `ncp_base_radio.cpp`, `radio_spinel.cpp` |
//! | `radio.rs` | [`SpinelRadio`]: the `Radio`, its supervisor | |
//!
//! Frames heard are `Bearer::Ieee802154` [`crate::RxFrame`]s without the FCS, with the channel,
//! RSSI and the RCP's timestamp; the FCS the RCP passes on is checked and counted
//! ([`SpinelStats::rx_fcs_bad`]), not dropped on (RCPs differ in whether they keep it). Frames
//! sent go out with CSMA-CA and the RCP's retries when they ask for an acknowledgment; their
//! outcome (sent, acknowledged and with Frame Pending or not, no ack, channel busy) is counted
//! and handed out by `recv_event` as `RadioEvent::TxDone`. [`SpinelRadio::source_match`]
//! changes the RCP's source-match table (Frame Pending in the acks of Data Requests). An RCP that restarts by itself is brought
//! up again; one that is lost (unplugged) is reopened with backoff ([`SpinelConfig::reconnect`])
//! until it comes back or the radio gives up, when `recv` answers the error.

use std::time::Duration;

pub mod hdlc;
mod link;
pub mod mac;
mod radio;
mod rcp;
pub mod wire;

pub use link::SpinelIo;
pub use radio::{Connector, SpinelRadio, SRC_MATCH_KEPT};
pub use rcp::{diagnose_silence, RcpInfo};

/// The serial line speed when the URI gives none: the rate OpenThread's border router setups
/// give RCPs (`spinel+hdlc+uart://...?uart-baudrate=460800`); an RCP on USB CDC ACM (the
/// nRF52840 dongle's ot-rcp) ignores it, one on a UART must be given the rate it was built
/// with.
pub const DEFAULT_BAUD: u32 = 460_800;

/// The channel listened on when neither the URI nor [`SpinelRadio::set_channel`] gives one.
pub const DEFAULT_CHANNEL: u8 = 11;

/// The knobs of a Spinel radio. [`Default`] is what [`crate::open()`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpinelConfig {
    /// The 802.15.4 channel (11..=26). 11.
    pub channel: u8,
    /// How long the RCP may take to send its reset notification. 2 s.
    pub reset_timeout: Duration,
    /// How long any other request may wait for its answer. 1 s.
    pub command_timeout: Duration,
    /// How long a transmission may take to be reported done (CSMA-CA, retries). 1 s.
    pub tx_timeout: Duration,
    /// How long a write to the device may take before it looks stalled by flow control. 1 s.
    pub write_timeout: Duration,
    /// CSMA-CA backoffs and retries the RCP makes per frame sent (IEEE 802.15.4-2015
    /// §8.4.2 macMaxCsmaBackoffs default 4, macMaxFrameRetries default 3).
    pub max_backoffs: u8,
    pub max_retries: u8,
    /// Frames heard and not yet taken by `recv`; more are dropped, counted. 1024.
    pub rx_queue: usize,
    /// Frames to send and not yet sent; more are dropped, counted. 64.
    pub tx_queue: usize,
    /// How a radio opened from a URI gets a lost RCP back (a dongle unplugged and plugged in
    /// again): the port is opened and the RCP brought up again, with backoff.
    pub reconnect: Backoff,
}

/// Reconnection with backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first attempt. 250 ms.
    pub first: Duration,
    /// The longest wait between attempts (each wait doubles up to it). 8 s.
    pub max: Duration,
    /// When to give up and end the radio with an error. 60 s.
    pub give_up_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(250),
            max: Duration::from_secs(8),
            give_up_after: Duration::from_secs(60),
        }
    }
}

impl Default for SpinelConfig {
    fn default() -> Self {
        SpinelConfig {
            channel: DEFAULT_CHANNEL,
            reset_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(1),
            tx_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            max_backoffs: 4,
            max_retries: 3,
            rx_queue: 1024,
            tx_queue: 64,
            reconnect: Backoff::default(),
        }
    }
}

/// What a Spinel radio has seen and done since it opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpinelStats {
    /// HDLC: bytes read, frames with a good FCS, frames dropped.
    pub hdlc: hdlc::HdlcStats,
    /// Spinel frames that could not be read (bad header, truncated).
    pub frames_malformed: u64,
    /// `STREAM_RAW` frames handed to `recv`, dropped because its queue was full, unreadable,
    /// reported with a receive error, shorter than an FCS; and of those handed over, the ones
    /// whose FCS (as the RCP passed it on) did not match.
    pub rx_frames: u64,
    pub rx_dropped: u64,
    pub rx_malformed: u64,
    pub rx_errors: u64,
    pub rx_fcs_bad: u64,
    /// Frames transmitted, not acknowledged, not sent because the channel was busy, failed
    /// otherwise (or not reported done in time), dropped before sending (queue full).
    pub tx_frames: u64,
    pub tx_no_ack: u64,
    pub tx_cca_failure: u64,
    pub tx_failed: u64,
    pub tx_dropped: u64,
    /// Transmissions acknowledged with Frame Pending set (the peer holds a frame for us).
    pub tx_acked_frame_pending: u64,
    /// Transmit statuses not taken because nobody read `recv_event` (its queue was full).
    pub tx_done_dropped: u64,
    /// Source-match changes the RCP refused or did not answer.
    pub src_match_failed: u64,
    /// Requests sent, not answered in time; answers for no request waiting.
    pub commands: u64,
    pub command_timeouts: u64,
    pub unmatched_answers: u64,
    /// Reset notifications the RCP sent by itself after bring-up (each is followed by bringing
    /// it up again).
    pub unexpected_resets: u64,
    /// Attempts to reopen a lost RCP, and the ones that brought it back.
    pub reconnect_attempts: u64,
    pub reconnects: u64,
    /// Other things the RCP said by itself (logs, properties), ignored.
    pub ignored: u64,
}

/// For the fuzz target: HDLC-decodes `data` and reads every Spinel frame in it as the radio
/// does (including `STREAM_RAW` values). Never panics.
pub fn fuzz_parse(data: &[u8]) {
    let mut d = hdlc::Decoder::new();
    d.push(data, |f| {
        if let Ok(frame) = wire::Frame::parse(f) {
            if let Ok((_, v)) = frame.property() {
                let _ = wire::RawFrame::parse(v);
                let _ = rcp::parse_caps(v);
            }
        }
    });
    // Values without the framing, too.
    let _ = wire::RawFrame::parse(data);
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod mac_tests;
#[cfg(test)]
mod tests;
