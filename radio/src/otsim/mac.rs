//! The part of a MAC that the simulation's radio does for the host, as OpenThread's simulated
//! radio (and an RCP's hardware) does it, because on this air acknowledgments are frames like
//! any other and nobody else sends them:
//!
//! - **Auto-ack** (IEEE 802.15.4-2015 §6.7.4.2): once told its [`MacSettings`]
//!   ([`super::OtSimRadio::set_mac`]), the radio answers a frame with AR set addressed to it
//!   (its short or extended address, its PAN or the broadcast PAN) with an Imm-Ack (§7.3.3:
//!   frame type 2, version 2006, the frame's sequence number). The Imm-Ack of a Data Request
//!   carries Frame Pending (§6.7.3) when the requester's address is in the source-match table,
//!   or always while source match is off (OpenThread's `otPlatRadioEnableSrcMatch`). Source
//!   match starts on, with an empty table.
//! - **Waiting for the ack, retries** (§6.7.4.3): a frame sent with AR set to a unicast
//!   address waits [`ACK_TIMEOUT`] for an Imm-Ack with its sequence number, and is sent again
//!   up to [`MAX_FRAME_RETRIES`] times; its outcome (and the ack's Frame Pending) becomes a
//!   `RadioEvent::TxDone`. The air has no CSMA-CA (OpenThread's real-time simulation radio
//!   has no carrier to sense), so there is no channel access failure.

use weft_mesh::thread::mac::command::is_data_request;
use weft_mesh::thread::mac::{Address, Frame, FrameType, BROADCAST_PAN_ID, BROADCAST_SHORT};
use weft_mesh::thread::radio::MacSettings;
use weft_mesh::wire::Wire;

use crate::wpan::SrcMatch;

/// How long a frame waits for its ack: OpenThread's `kAckTimeout`, 16 ms (`mac.hpp`), what its
/// simulated nodes wait for ours.
pub const ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(16);

/// macMaxFrameRetries, 3 (802.15.4-2015 §8.4.3.1, table 8-94).
pub const MAX_FRAME_RETRIES: u8 = 3;

/// Entries the source-match table holds (OpenThread's simulated radio keeps 10 short and 10
/// extended by default; a parent's sleepy children fit).
pub const SRC_MATCH_CAPACITY: usize = 64;

/// Frame Control bits (§7.2.1): Frame Pending (bit 4), and an Imm-Ack's type 2 with version
/// 2006 (bits 12-13 = 0b01).
const FC_FRAME_PENDING: u16 = 1 << 4;
const IMM_ACK_FC: u16 = 0x0002 | (1 << 12);

/// What the radio's MAC holds.
#[derive(Debug)]
pub struct MacState {
    /// `None`: no auto-ack (the radio only listens and sends, as before it is told).
    pub settings: Option<MacSettings>,
    src_match_on: bool,
    src_match: Vec<Address>,
    /// The sequence number an ack is awaited for, and where to say it came (its Frame Pending).
    waiting: Option<(u8, tokio::sync::oneshot::Sender<bool>)>,
}

impl Default for MacState {
    fn default() -> Self {
        MacState {
            settings: None,
            src_match_on: true,
            src_match: Vec::new(),
            waiting: None,
        }
    }
}

/// Why a source-match change did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrcMatchError {
    /// The table holds [`SRC_MATCH_CAPACITY`] entries.
    Full,
}

impl MacState {
    /// Applies a change to the source-match table.
    pub fn source_match(&mut self, change: SrcMatch) -> Result<(), SrcMatchError> {
        match change {
            SrcMatch::Enable(on) => self.src_match_on = on,
            SrcMatch::Add(Address::None) | SrcMatch::Remove(Address::None) => {}
            SrcMatch::Add(a) => {
                if !self.src_match.contains(&a) {
                    if self.src_match.len() >= SRC_MATCH_CAPACITY {
                        return Err(SrcMatchError::Full);
                    }
                    self.src_match.push(a);
                }
            }
            SrcMatch::Remove(a) => self.src_match.retain(|x| *x != a),
            SrcMatch::Clear => self.src_match.clear(),
        }
        Ok(())
    }

    /// Waits for the ack of `seq` from now on (replacing any earlier wait).
    pub fn expect_ack(&mut self, seq: u8) -> tokio::sync::oneshot::Receiver<bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.waiting = Some((seq, tx));
        rx
    }

    /// No ack is awaited any more.
    pub fn stop_waiting(&mut self) {
        self.waiting = None;
    }

    /// A frame heard on the air (MAC frame without FCS): an ack awaited is taken (true), and
    /// the Imm-Ack to send for a frame addressed to this radio is returned.
    pub fn on_rx(&mut self, mac: &[u8]) -> (bool, Option<[u8; 3]>) {
        if let [fc0, fc1, seq] = *mac {
            let fc = u16::from_le_bytes([fc0, fc1]);
            if fc & 7 == FrameType::Ack.bits() {
                let took = match self.waiting.take() {
                    Some((s, tx)) if s == seq => {
                        let _ = tx.send(fc & FC_FRAME_PENDING != 0);
                        true
                    }
                    other => {
                        self.waiting = other;
                        false
                    }
                };
                return (took, None);
            }
        }
        let Some(me) = self.settings else {
            return (false, None);
        };
        let Ok(f) = Frame::parse(mac) else {
            return (false, None);
        };
        let Some(seq) = f.sequence_number else {
            return (false, None);
        };
        let pan_ok = f
            .dst_pan
            .is_none_or(|p| p == BROADCAST_PAN_ID || p == me.pan_id);
        let mine = match f.dst {
            Address::Short(s) => s != BROADCAST_SHORT && Some(s) == me.short_address,
            Address::Extended(e) => e == me.ext_address,
            Address::None => false,
        };
        if !(f.ack_request && pan_ok && mine && f.frame_type != FrameType::Ack) {
            return (false, None);
        }
        let fp = is_data_request(&f) && (!self.src_match_on || self.src_match.contains(&f.src));
        let fc = IMM_ACK_FC | if fp { FC_FRAME_PENDING } else { 0 };
        let [a, b] = fc.to_le_bytes();
        (false, Some([a, b, seq]))
    }
}

/// Whether a frame to send waits for an ack, and with which sequence number: AR set, a
/// sequence number, a unicast destination (§6.7.4.1).
pub fn ack_wanted(mac: &[u8]) -> Option<u8> {
    let f = Frame::parse(mac).ok()?;
    let unicast = match f.dst {
        Address::Short(s) => s != BROADCAST_SHORT,
        Address::Extended(_) => true,
        Address::None => false,
    };
    (f.ack_request && unicast && f.frame_type != FrameType::Ack)
        .then_some(f.sequence_number)
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::thread::mac::command::DataRequest;
    use weft_mesh::thread::mac::ExtAddress;

    fn me() -> MacSettings {
        MacSettings {
            channel: 15,
            pan_id: 0xface,
            ext_address: ExtAddress([1; 8]),
            short_address: Some(0x0400),
        }
    }

    fn dr(src: Address, dst: Address, seq: u8) -> Vec<u8> {
        DataRequest {
            sequence_number: seq,
            pan_id: 0xface,
            dst,
            src,
        }
        .frame(None)
        .to_vec()
    }

    #[test]
    fn acks_only_what_is_addressed_to_it_with_ar() {
        let mut m = MacState::default();
        let child = Address::Short(0x0401);
        let to_me = dr(child, Address::Short(0x0400), 9);
        assert_eq!(m.on_rx(&to_me), (false, None), "silent before set_mac");
        m.settings = Some(me());
        assert_eq!(m.on_rx(&to_me), (false, Some([0x02, 0x10, 9])));
        let to_ext = dr(child, Address::Extended(ExtAddress([1; 8])), 10);
        assert_eq!(m.on_rx(&to_ext).1, Some([0x02, 0x10, 10]));
        for other in [
            dr(child, Address::Short(0x0800), 11),
            dr(child, Address::Short(0xffff), 12),
            dr(child, Address::Extended(ExtAddress([2; 8])), 13),
        ] {
            assert_eq!(m.on_rx(&other).1, None);
        }
        let mut no_ar = Frame::parse(&to_me).unwrap();
        no_ar.ack_request = false;
        assert_eq!(m.on_rx(&no_ar.to_vec()).1, None);
        assert_eq!(m.on_rx(&[0x41, 0x88]).1, None, "unparsable");
    }

    #[test]
    fn frame_pending_follows_the_source_match_table() {
        let mut m = MacState {
            settings: Some(me()),
            ..MacState::default()
        };
        let child = Address::Extended(ExtAddress([7; 8]));
        let poll = dr(child, Address::Short(0x0400), 1);
        assert_eq!(m.on_rx(&poll).1, Some([0x02, 0x10, 1]));
        m.source_match(SrcMatch::Add(child)).unwrap();
        assert_eq!(m.on_rx(&poll).1, Some([0x12, 0x10, 1]));
        m.source_match(SrcMatch::Remove(child)).unwrap();
        assert_eq!(m.on_rx(&poll).1, Some([0x02, 0x10, 1]));
        m.source_match(SrcMatch::Enable(false)).unwrap();
        assert_eq!(m.on_rx(&poll).1, Some([0x12, 0x10, 1]), "off: always");
        for i in 0..SRC_MATCH_CAPACITY as u16 {
            m.source_match(SrcMatch::Add(Address::Short(i))).unwrap();
        }
        assert_eq!(
            m.source_match(SrcMatch::Add(Address::Short(0x9999))),
            Err(SrcMatchError::Full)
        );
        m.source_match(SrcMatch::Clear).unwrap();
        assert_eq!(m.src_match.len(), 0);
    }

    #[test]
    fn the_awaited_ack_is_taken_with_its_frame_pending() {
        let mut m = MacState::default();
        let mut rx = m.expect_ack(5);
        assert_eq!(m.on_rx(&[0x12, 0x10, 4]), (false, None), "another number");
        assert!(rx.try_recv().is_err());
        assert_eq!(m.on_rx(&[0x12, 0x10, 5]), (true, None));
        assert_eq!(rx.try_recv(), Ok(true));
        assert_eq!(
            m.on_rx(&[0x02, 0x10, 5]),
            (false, None),
            "nothing awaited now"
        );
    }

    #[test]
    fn which_frames_wait_for_an_ack() {
        let child = Address::Short(0x0401);
        assert_eq!(ack_wanted(&dr(child, Address::Short(0x0400), 3)), Some(3));
        assert_eq!(ack_wanted(&dr(child, Address::Short(0xffff), 3)), None);
        assert_eq!(ack_wanted(&[0x02, 0x10, 3]), None, "an ack");
        assert_eq!(ack_wanted(&[0xff]), None);
    }
}
