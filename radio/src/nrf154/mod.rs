//! The nRF Sniffer for 802.15.4: Nordic's sniffer firmware (an nRF52840 dongle, USB ID
//! 1915:154B, a USB CDC ACM serial port) as a receive-only IEEE 802.15.4 [`crate::Radio`].
//!
//! [`Nrf154Radio`] is what [`crate::open()`] gives for `nrf154:DEVICE[?channel=C]`. The
//! firmware speaks text (Nordic's `nrf802154_sniffer.py`): the host sends `sleep`, `shell echo
//! off`, `channel N` and `receive`, each ended by CR LF, and then reads one line per frame
//! heard ([`line`]). Frames are handed over without their FCS, with the channel, RSSI and the
//! firmware's microsecond counter extended to 64 bits ([`line::Clock32`]); the FCS as printed
//! is checked and counted ([`Nrf154Stats::fcs_bad`]), not dropped on. `send` answers
//! [`crate::RadioError::Unsupported`]: the firmware only listens.

use std::time::Duration;

pub mod line;
mod radio;

pub use radio::Nrf154Radio;

/// The channel listened on when neither the URI nor [`Nrf154Radio::set_channel`] gives one.
pub const DEFAULT_CHANNEL: u8 = 11;

/// The serial speed (the firmware is a USB CDC ACM device, which ignores it; the script opens
/// the port at its default, 9600).
pub const BAUD: u32 = 115_200;

/// The knobs of a sniffer radio. [`Default`] is what [`crate::open()`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nrf154Config {
    /// The 802.15.4 channel (11..=26). 11.
    pub channel: u8,
    /// How long the firmware may take to say anything after the setup commands. 1 s.
    pub setup_timeout: Duration,
    /// Frames heard and not yet taken by `recv`; more are dropped, counted. 1024.
    pub rx_queue: usize,
}

impl Default for Nrf154Config {
    fn default() -> Self {
        Nrf154Config {
            channel: DEFAULT_CHANNEL,
            setup_timeout: Duration::from_secs(1),
            rx_queue: 1024,
        }
    }
}

/// What a sniffer radio has seen since it opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Nrf154Stats {
    /// Bytes read, lines read, lines longer than [`line::MAX_LINE`] (dropped).
    pub bytes: u64,
    pub lines: u64,
    pub lines_too_long: u64,
    /// Other lines (echoes, prompts, logs), ignored.
    pub other_lines: u64,
    /// `received:` lines that did not read, or whose PSDU is shorter than an FCS and a frame.
    pub malformed: u64,
    /// Frames handed to `recv`, dropped because its queue was full; of those handed over, the
    /// ones whose FCS as printed did not match.
    pub frames: u64,
    pub dropped: u64,
    pub fcs_bad: u64,
    /// Times the 32-bit clock wrapped.
    pub clock_wraps: u64,
}

/// For the fuzz target: reads `data` as lines from the firmware, as the radio does. Never
/// panics.
pub fn fuzz_parse(data: &[u8]) {
    let mut clock = line::Clock32::default();
    for l in data.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(l);
        if let Ok(r) = line::parse(&text) {
            let _ = clock.extend(r.time);
            let _ = radio::frame_of(&r, 11, &mut clock);
        }
    }
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
