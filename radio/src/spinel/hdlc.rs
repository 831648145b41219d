//! HDLC-lite, the framing Spinel uses on a UART (Spinel Protocol, draft-rquattle-spinel-unified,
//! Appendix A.1.1; OpenThread `src/lib/hdlc/hdlc.cpp`): each frame is its bytes followed by a
//! 16-bit FCS, byte-stuffed and ended by a flag.
//!
//! - [`FLAG`] 0x7E ends (and may start) a frame; [`ESCAPE`] 0x7D announces that the next byte
//!   was XORed with [`ESCAPE_XOR`] 0x20. The bytes escaped are 0x7E, 0x7D, 0x11 (XON), 0x13
//!   (XOFF) and 0xF8 (the "special" byte OpenThread also escapes); a decoder unescapes any byte.
//! - The FCS is the CRC-16/X.25 of RFC 1662 §C.2 (reflected polynomial 0x8408, initial value
//!   0xFFFF, final XOR 0xFFFF), sent least significant octet first.
//!
//! The decoder takes what a serial port gives, in whatever pieces, and never panics: a frame
//! whose FCS is wrong, that is too short to hold one, or that grows past [`MAX_FRAME`] is
//! dropped and counted ([`HdlcStats`]); garbage before the first flag is skipped.

/// Ends a frame (RFC 1662 §3.1 flag sequence).
pub const FLAG: u8 = 0x7E;
/// Announces an escaped byte (RFC 1662 §4.2 control escape).
pub const ESCAPE: u8 = 0x7D;
/// What an escaped byte was XORed with.
pub const ESCAPE_XOR: u8 = 0x20;
/// XON and XOFF: escaped so that software flow control on the line cannot eat them.
const XON: u8 = 0x11;
const XOFF: u8 = 0x13;
/// OpenThread's HDLC encoder also escapes 0xF8 (`kHdlcSpecial`).
const SPECIAL: u8 = 0xF8;

/// The largest frame (without its FCS) the decoder keeps: Spinel's `SPINEL_FRAME_MAX_SIZE`
/// (1300 octets) with room to spare.
pub const MAX_FRAME: usize = 2048;

/// The octets of the FCS.
pub const FCS_LEN: usize = 2;

/// The CRC-16/X.25 of `data` (RFC 1662 §C.2): reflected 0x1021 (0x8408), init 0xFFFF, final
/// XOR 0xFFFF.
pub fn fcs16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    crc ^ 0xFFFF
}

fn needs_escape(b: u8) -> bool {
    matches!(b, FLAG | ESCAPE | XON | XOFF | SPECIAL)
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    if needs_escape(b) {
        out.push(ESCAPE);
        out.push(b ^ ESCAPE_XOR);
    } else {
        out.push(b);
    }
}

/// `frame` as it goes on the line: a leading flag (which flushes whatever noise the receiver
/// holds), the escaped bytes and FCS, the closing flag.
pub fn encode(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 8);
    out.push(FLAG);
    for &b in frame {
        push_escaped(&mut out, b);
    }
    for b in fcs16(frame).to_le_bytes() {
        push_escaped(&mut out, b);
    }
    out.push(FLAG);
    out
}

/// What the decoder has seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HdlcStats {
    /// Bytes pushed in.
    pub bytes: u64,
    /// Frames with a good FCS.
    pub frames: u64,
    /// Frames dropped: bad FCS, shorter than the FCS, longer than [`MAX_FRAME`].
    pub bad_fcs: u64,
    pub too_short: u64,
    pub too_long: u64,
    /// An escape followed by a flag (an aborted frame, RFC 1662 §4.2).
    pub aborted: u64,
}

/// A streaming HDLC-lite decoder (see the module documentation).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    escaped: bool,
    /// Dropping bytes until the next flag (the frame grew too long).
    discarding: bool,
    stats: HdlcStats,
}

impl Decoder {
    /// A decoder waiting for a frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the decoder has seen so far.
    pub fn stats(&self) -> HdlcStats {
        self.stats
    }

    /// Feeds bytes; calls `frame` with each complete frame whose FCS is good, without the FCS.
    pub fn push(&mut self, data: &[u8], mut frame: impl FnMut(&[u8])) {
        self.stats.bytes += data.len() as u64;
        for &b in data {
            if b == FLAG {
                if self.escaped {
                    self.stats.aborted += 1;
                } else if !self.discarding && !self.buf.is_empty() {
                    self.finish(&mut frame);
                }
                self.buf.clear();
                self.escaped = false;
                self.discarding = false;
                continue;
            }
            if self.discarding {
                continue;
            }
            let b = if self.escaped {
                self.escaped = false;
                b ^ ESCAPE_XOR
            } else if b == ESCAPE {
                self.escaped = true;
                continue;
            } else {
                b
            };
            if self.buf.len() >= MAX_FRAME + FCS_LEN {
                self.stats.too_long += 1;
                self.buf.clear();
                self.discarding = true;
                continue;
            }
            self.buf.push(b);
        }
    }

    fn finish(&mut self, frame: &mut impl FnMut(&[u8])) {
        let Some(n) = self.buf.len().checked_sub(FCS_LEN).filter(|&n| n > 0) else {
            self.stats.too_short += 1;
            return;
        };
        let got = u16::from_le_bytes([self.buf[n], self.buf[n + 1]]);
        if got == fcs16(&self.buf[..n]) {
            self.stats.frames += 1;
            frame(&self.buf[..n]);
        } else {
            self.stats.bad_fcs += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> serde_json::Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../mesh/tests/data/thread-sample-data.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_fcs_is_crc16_x25_of_the_sample_data() {
        let s = sample();
        let check = s["spinel"]["hdlc_fcs_check_123456789"].as_str().unwrap();
        assert_eq!(format!("{:04x}", fcs16(b"123456789")), check);
    }

    fn decode_all(bytes: &[u8]) -> (Vec<Vec<u8>>, HdlcStats) {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.push(bytes, |f| out.push(f.to_vec()));
        (out, d.stats())
    }

    #[test]
    fn special_bytes_are_escaped_and_come_back() {
        let frame = [0x80, FLAG, ESCAPE, XON, XOFF, SPECIAL, 0x00];
        let line = encode(&frame);
        assert!(!line[1..line.len() - 1].contains(&FLAG));
        assert!(line.windows(2).any(|w| w == [ESCAPE, FLAG ^ ESCAPE_XOR]));
        assert_eq!(decode_all(&line).0, vec![frame.to_vec()]);
    }

    #[test]
    fn damage_is_counted_and_the_next_frame_still_decodes() {
        let good = encode(&[0x81, 0x06, 0x00, 0x70]);
        let mut bad = encode(&[0x81, 0x06, 0x00, 0x71]);
        bad[2] ^= 0x01;
        let mut line = b"garbage".to_vec();
        line.extend_from_slice(&bad);
        line.extend_from_slice(&[FLAG, 0x01, FLAG]);
        line.extend_from_slice(&[0x01, ESCAPE, FLAG]);
        line.extend_from_slice(&good);
        let (frames, st) = decode_all(&line);
        assert_eq!(frames, vec![vec![0x81, 0x06, 0x00, 0x70]]);
        assert_eq!(st.bad_fcs, 2, "{st:?}"); // the damaged frame and the garbage before it
        assert_eq!(st.too_short, 1, "{st:?}");
        assert_eq!(st.aborted, 1, "{st:?}");
    }

    #[test]
    fn a_frame_too_long_is_dropped() {
        let mut line = vec![FLAG];
        line.extend(std::iter::repeat_n(0x55, MAX_FRAME + 10));
        line.extend(encode(&[1, 2, 3]));
        let (frames, st) = decode_all(&line);
        assert_eq!(frames, vec![vec![1, 2, 3]]);
        assert_eq!(st.too_long, 1);
    }

    proptest! {
        #[test]
        fn frames_round_trip_in_any_pieces(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..5),
            cut in 1usize..64,
        ) {
            let line: Vec<u8> = frames.iter().flat_map(|f| encode(f)).collect();
            let mut d = Decoder::new();
            let mut out = Vec::new();
            for piece in line.chunks(cut) {
                d.push(piece, |f| out.push(f.to_vec()));
            }
            prop_assert_eq!(out, frames);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (frames, st) = decode_all(&bytes);
            prop_assert!(frames.iter().all(|f| !f.is_empty() && f.len() <= MAX_FRAME));
            prop_assert_eq!(st.frames as usize, frames.len());
        }
    }
}
