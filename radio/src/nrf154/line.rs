//! The nRF Sniffer for 802.15.4 firmware's text protocol (Nordic's `nRF-Sniffer-for-802.15.4`,
//! `nrf802154_sniffer.py`, its `RCV_REGEX`): each frame heard is one line
//!
//! ```text
//! received: <hex PSDU, FCS included> power: <RSSI dBm> lqi: <LQI> time: <µs>
//! ```
//!
//! and the time is a 32-bit microsecond counter that wraps (the script masks it with
//! 0xffffffff; [`Clock32`] extends it). The parser takes whatever the device sends and never
//! panics: a line that does not fit is an error with a reason.

use std::fmt;

/// The longest line kept: a 127-octet PSDU is 254 hex digits; the rest is short.
pub const MAX_LINE: usize = 512;

/// A frame line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The PSDU as printed, FCS included.
    pub psdu: Vec<u8>,
    /// `power:` in dBm (clamped to an `i8`).
    pub power: i8,
    pub lqi: u8,
    /// `time:` masked to 32 bits.
    pub time: u32,
}

/// Why a line is not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not a `received:` line (a prompt, an echo, a log): not an error of the device.
    NotAFrame,
    /// A `received:` line that does not read: which part.
    Malformed(&'static str),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NotAFrame => write!(f, "not a received: line"),
            LineError::Malformed(what) => write!(f, "a received: line with {what}"),
        }
    }
}

/// Reads one line (without its line end).
pub fn parse(line: &str) -> Result<Received, LineError> {
    let Some(at) = line.find("received:") else {
        return Err(LineError::NotAFrame);
    };
    let mut words = line[at + "received:".len()..].split_ascii_whitespace();
    let hex_digits = words.next().ok_or(LineError::Malformed("no frame"))?;
    if hex_digits.len() % 2 != 0 || hex_digits.len() > 2 * 127 {
        return Err(LineError::Malformed(
            "a frame of odd or too many hex digits",
        ));
    }
    let psdu = hex::decode(hex_digits).map_err(|_| LineError::Malformed("a frame not in hex"))?;
    let mut field = |name: &'static str, what: &'static str| -> Result<i64, LineError> {
        if words.next() != Some(name) {
            return Err(LineError::Malformed(what));
        }
        let v = words.next().ok_or(LineError::Malformed(what))?;
        let digits = v.strip_prefix('-').unwrap_or(v);
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LineError::Malformed(what));
        }
        v.parse::<i64>().map_err(|_| LineError::Malformed(what))
    };
    let power = field("power:", "no power")?;
    let lqi = field("lqi:", "no lqi")?;
    let time = field("time:", "no time")?;
    let lqi = u8::try_from(lqi).map_err(|_| LineError::Malformed("an LQI outside 0..=255"))?;
    Ok(Received {
        psdu,
        power: power.clamp(i64::from(i8::MIN), i64::from(i8::MAX)) as i8,
        lqi,
        time: (time & 0xFFFF_FFFF) as u32,
    })
}

/// Extends a 32-bit microsecond counter that wraps to 64 bits, monotonically: a value below the
/// last one is taken as one wrap later (frames come far more often than every 71 minutes).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Clock32 {
    last: Option<u32>,
    high: u64,
    /// Wraps seen.
    pub wraps: u64,
}

impl Clock32 {
    pub fn extend(&mut self, t: u32) -> u64 {
        if let Some(last) = self.last {
            if t < last {
                self.high += 1 << 32;
                self.wraps += 1;
            }
        }
        self.last = Some(t);
        self.high + u64::from(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_frame_line_reads() {
        let r = parse("received: 0200071234 power: -61 lqi: 148 time: 4294967290").unwrap();
        assert_eq!(r.psdu, vec![0x02, 0x00, 0x07, 0x12, 0x34]);
        assert_eq!((r.power, r.lqi, r.time), (-61, 148, 4_294_967_290));
        // A prompt before it, CR left over, negative time (the script's -?\d+), odd spacing.
        let r = parse("uart:~$ received:  AABB  power: 3 lqi: 0 time: -1\r").unwrap();
        assert_eq!((r.psdu, r.time), (vec![0xAA, 0xBB], u32::MAX));
        assert_eq!(parse("power: -1 lqi: 2"), Err(LineError::NotAFrame));
        assert_eq!(parse("uart:~$ sleep"), Err(LineError::NotAFrame));
    }

    #[test]
    fn damaged_lines_say_what_is_wrong() {
        for (line, what) in [
            ("received:", "no frame"),
            ("received: ABC power: 1 lqi: 2 time: 3", "odd"),
            ("received: ZZ power: 1 lqi: 2 time: 3", "not in hex"),
            ("received: AA lqi: 2 time: 3", "no power"),
            ("received: AA power: x lqi: 2 time: 3", "no power"),
            ("received: AA power: 1 lqi: 256 time: 3", "outside"),
            ("received: AA power: 1 lqi: 2", "no time"),
        ] {
            match parse(line) {
                Err(LineError::Malformed(w)) => assert!(w.contains(what), "{line}: {w}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        // A power beyond an i8 is clamped.
        assert_eq!(
            parse("received: AA power: -300 lqi: 2 time: 3")
                .unwrap()
                .power,
            -128
        );
    }

    #[test]
    fn the_clock_wraps_forward() {
        let mut c = Clock32::default();
        assert_eq!(c.extend(u32::MAX - 10), u64::from(u32::MAX - 10));
        assert_eq!(c.extend(5), (1 << 32) + 5);
        assert_eq!(c.extend(5), (1 << 32) + 5);
        assert_eq!(c.extend(1), (2 << 32) + 1);
        assert_eq!(c.wraps, 2);
    }

    proptest! {
        #[test]
        fn lines_round_trip(
            psdu in proptest::collection::vec(any::<u8>(), 1..127),
            power in any::<i8>(), lqi in any::<u8>(), time in any::<u32>(),
        ) {
            let line = format!("received: {} power: {power} lqi: {lqi} time: {time}", hex::encode(&psdu));
            prop_assert_eq!(parse(&line), Ok(Received { psdu, power, lqi, time }));
        }

        #[test]
        fn any_text_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
            let _ = parse(&format!("received: {s}"));
        }

        #[test]
        fn the_extended_clock_never_goes_back(ts in proptest::collection::vec(any::<u32>(), 1..50)) {
            let mut c = Clock32::default();
            let mut last = 0;
            for t in ts {
                let x = c.extend(t);
                prop_assert!(x >= last);
                prop_assert_eq!(x as u32, t);
                last = x;
            }
        }
    }
}
