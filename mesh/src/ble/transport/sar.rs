//! Segmentation and reassembly of the lower transport layer (Mesh Protocol 1.1 §3.5.3).
//!
//! - [`SarTxConfig`] / [`SarRxConfig`]: the SAR Transmitter and SAR Receiver states (MshPRT
//!   §4.2, "SAR Transmitter" and "SAR Receiver"; set by the SAR Configuration model) with the
//!   formulas that turn their steps into durations.
//! - [`SarTx`]: the sender of one segmented message (§3.5.3.3). Unicast destinations are
//!   acknowledged (Segment Acknowledgment, §3.5.2.3.1) and retransmit only what is missing;
//!   group and virtual destinations are sent a fixed number of times without acknowledgment.
//! - [`SarRx`]: the receiver of one segmented message (§3.5.3.4): reassembly, the
//!   acknowledgment timer, the discard timer, and the answers to segments of an already
//!   completed message.
//!
//! Both are sans-IO: time comes in as `now`, `poll_timeout` says when to call `handle_timeout`
//! next, and lower transport PDUs come out of `poll_transmit` / `poll_ack`. The node gives
//! every outgoing PDU a fresh SEQ and the network header; it also routes incoming segments and
//! acknowledgments to the right machine (by source, destination and SeqZero / SeqAuth).

use serde::{Deserialize, Serialize};

use crate::ble::address::{Address, Seq, UnicastAddress};
use crate::ble::wire::lower::{
    LowerAccessPdu, LowerControlPdu, Reassembly, SegmentHeader, MAX_ACCESS_SEGMENT,
    MAX_CONTROL_SEGMENT, MAX_SEGMENTS, OPCODE_SEGMENT_ACK,
};
use crate::ble::wire::{self, Wire};
use crate::time::{Duration, Instant};

/// Largest segmented upper transport access PDU: 32 segments of 12 octets, i.e. 380 octets of
/// payload with a 32-bit TransMIC or 376 with a 64-bit one (§3.5.2.2, §3.6.2).
pub const MAX_UPPER_ACCESS: usize = MAX_SEGMENTS * MAX_ACCESS_SEGMENT;
/// Largest segmented upper transport control PDU: 32 segments of 8 octets (§3.5.2.4).
pub const MAX_UPPER_CONTROL: usize = MAX_SEGMENTS * MAX_CONTROL_SEGMENT;

/// The SAR Transmitter state (MshPRT §4.2, "SAR Transmitter"): raw 4-bit step and count
/// values as the SAR Configuration model carries them. The defaults are the specification's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SarTxConfig {
    /// SAR Segment Interval Step: segment interval = (step + 1) × 10 ms. Default 0b0101.
    pub segment_interval_step: u8,
    /// SAR Unicast Retransmissions Count: retransmissions to a unicast destination. Default 2.
    pub unicast_retrans_count: u8,
    /// SAR Unicast Retransmissions Without Progress Count. Default 2.
    pub unicast_retrans_without_progress_count: u8,
    /// SAR Unicast Retransmissions Interval Step: (step + 1) × 25 ms. Default 0b0111 (200 ms).
    pub unicast_retrans_interval_step: u8,
    /// SAR Unicast Retransmissions Interval Increment: (inc + 1) × 25 ms per hop beyond the
    /// first. Default 0b0001 (50 ms).
    pub unicast_retrans_interval_increment: u8,
    /// SAR Multicast Retransmissions Count: retransmissions to a group or virtual destination.
    /// Default 2.
    pub multicast_retrans_count: u8,
    /// SAR Multicast Retransmissions Interval Step: (step + 1) × 25 ms. Default 0b1001 (250 ms).
    pub multicast_retrans_interval_step: u8,
}

impl Default for SarTxConfig {
    fn default() -> Self {
        // MshPRT §4.2 (SAR Transmitter) default values.
        SarTxConfig {
            segment_interval_step: 0b0101,
            unicast_retrans_count: 0b0010,
            unicast_retrans_without_progress_count: 0b0010,
            unicast_retrans_interval_step: 0b0111,
            unicast_retrans_interval_increment: 0b0001,
            multicast_retrans_count: 0b0010,
            multicast_retrans_interval_step: 0b1001,
        }
    }
}

impl SarTxConfig {
    /// Whether every field fits its 4-bit state.
    pub fn is_valid(&self) -> bool {
        [
            self.segment_interval_step,
            self.unicast_retrans_count,
            self.unicast_retrans_without_progress_count,
            self.unicast_retrans_interval_step,
            self.unicast_retrans_interval_increment,
            self.multicast_retrans_count,
            self.multicast_retrans_interval_step,
        ]
        .iter()
        .all(|&v| v <= 0x0f)
    }

    /// The segment transmission interval: (SAR Segment Interval Step + 1) × 10 ms.
    pub fn segment_interval(&self) -> Duration {
        Duration::from_millis((u64::from(self.segment_interval_step & 0x0f) + 1) * 10)
    }

    /// The initial value of the SAR Unicast Retransmissions timer for a message sent with
    /// `ttl`: the interval step (step + 1) × 25 ms, plus (increment + 1) × 25 ms × (TTL − 1)
    /// when TTL > 0.
    pub fn unicast_retrans_interval(&self, ttl: u8) -> Duration {
        let step = (u64::from(self.unicast_retrans_interval_step & 0x0f) + 1) * 25;
        let inc = (u64::from(self.unicast_retrans_interval_increment & 0x0f) + 1) * 25;
        let hops = u64::from(ttl.saturating_sub(1));
        Duration::from_millis(step + inc * hops)
    }

    /// The SAR Multicast Retransmissions timer: (interval step + 1) × 25 ms.
    pub fn multicast_retrans_interval(&self) -> Duration {
        Duration::from_millis((u64::from(self.multicast_retrans_interval_step & 0x0f) + 1) * 25)
    }
}

/// The SAR Receiver state (MshPRT §4.2, "SAR Receiver"). The defaults are the specification's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SarRxConfig {
    /// SAR Segments Threshold (5 bits): acknowledgments are retransmitted only for messages of
    /// more segments than this. Default 3.
    pub segments_threshold: u8,
    /// SAR Acknowledgment Delay Increment (3 bits): the increment is this + 1.5 segments.
    /// Default 1 (2.5 segments).
    pub ack_delay_increment: u8,
    /// SAR Discard Timeout (4 bits): (n + 1) × 5 s. Default 1 (10 s).
    pub discard_timeout: u8,
    /// SAR Receiver Segment Interval Step (4 bits): segment reception interval =
    /// (step + 1) × 10 ms. Default 0b0101 (60 ms).
    pub receiver_segment_interval_step: u8,
    /// SAR Acknowledgment Retransmissions Count (2 bits). Default 0.
    pub ack_retrans_count: u8,
}

impl Default for SarRxConfig {
    fn default() -> Self {
        // MshPRT §4.2 (SAR Receiver) default values.
        SarRxConfig {
            segments_threshold: 0b00011,
            ack_delay_increment: 0b001,
            discard_timeout: 0b0001,
            receiver_segment_interval_step: 0b0101,
            ack_retrans_count: 0b00,
        }
    }
}

impl SarRxConfig {
    /// Whether every field fits its state's width.
    pub fn is_valid(&self) -> bool {
        self.segments_threshold <= 0x1f
            && self.ack_delay_increment <= 0x07
            && self.discard_timeout <= 0x0f
            && self.receiver_segment_interval_step <= 0x0f
            && self.ack_retrans_count <= 0x03
    }

    /// The segment reception interval: (SAR Receiver Segment Interval Step + 1) × 10 ms.
    pub fn segment_reception_interval(&self) -> Duration {
        Duration::from_millis((u64::from(self.receiver_segment_interval_step & 0x0f) + 1) * 10)
    }

    /// The initial value of the SAR Acknowledgment timer for a message whose last segment is
    /// `seg_n`: min(SegN + 0.5, SAR Acknowledgment Delay Increment + 1.5) × segment reception
    /// interval (§3.5.3.4). Computed in half-steps so no rounding occurs.
    pub fn ack_delay(&self, seg_n: u8) -> Duration {
        let seg_half = 2 * u64::from(seg_n & 0x1f) + 1;
        let inc_half = 2 * u64::from(self.ack_delay_increment & 0x07) + 3;
        let interval = self.segment_reception_interval().as_micros();
        Duration::from_micros(seg_half.min(inc_half) * interval / 2)
    }

    /// The SAR Discard timer: (SAR Discard Timeout + 1) × 5 s.
    pub fn discard_timeout(&self) -> Duration {
        Duration::from_secs((u64::from(self.discard_timeout & 0x0f) + 1) * 5)
    }

    /// How many times one Segment Acknowledgment is sent for a message of `seg_n + 1`
    /// segments: once, plus SAR Acknowledgment Retransmissions Count times when the message has
    /// more segments than the SAR Segments Threshold.
    pub fn ack_transmissions(&self, seg_n: u8) -> u8 {
        if u16::from(seg_n) + 1 > u16::from(self.segments_threshold & 0x1f) {
            1 + (self.ack_retrans_count & 0x03)
        } else {
            1
        }
    }
}

/// What a segmented message carries, from its first octet: an access message (AKF and AID,
/// segments of 12 octets) or a control message (its opcode, segments of 8 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegKind {
    /// Segmented Access message (§3.5.2.2). `aid` is 6 bits; AKF 0 means the device key.
    Access { akf: bool, aid: u8 },
    /// Segmented Control message (§3.5.2.4). `opcode` is 0x01..=0x7F.
    Control { opcode: u8 },
}

impl SegKind {
    /// The network header's CTL bit for this message.
    pub fn is_control(self) -> bool {
        matches!(self, SegKind::Control { .. })
    }

    /// Octets per segment: 12 for access, 8 for control (§3.5.2.2, §3.5.2.4).
    pub fn segment_size(self) -> usize {
        match self {
            SegKind::Access { .. } => MAX_ACCESS_SEGMENT,
            SegKind::Control { .. } => MAX_CONTROL_SEGMENT,
        }
    }

    /// The largest upper transport PDU that fits 32 segments.
    pub fn max_upper_len(self) -> usize {
        self.segment_size() * MAX_SEGMENTS
    }
}

/// A lower transport PDU of either family; the network header's CTL bit tells which.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LowerPdu {
    /// CTL = 0.
    Access(LowerAccessPdu),
    /// CTL = 1.
    Control(LowerControlPdu),
}

impl LowerPdu {
    /// Parses the transport PDU of a network PDU whose CTL bit is `ctl`.
    pub fn parse(ctl: bool, bytes: &[u8]) -> wire::Result<Self> {
        if ctl {
            LowerControlPdu::parse(bytes).map(LowerPdu::Control)
        } else {
            LowerAccessPdu::parse(bytes).map(LowerPdu::Access)
        }
    }

    /// The CTL bit the network header must carry.
    pub fn ctl(&self) -> bool {
        matches!(self, LowerPdu::Control(_))
    }

    /// The PDU's octets.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            LowerPdu::Access(p) => p.to_vec(),
            LowerPdu::Control(p) => p.to_vec(),
        }
    }

    /// The kind, header and payload of a segment; `None` for unsegmented PDUs and acks.
    pub fn segment(&self) -> Option<(SegKind, SegmentHeader, &[u8])> {
        match self {
            LowerPdu::Access(LowerAccessPdu::Segmented {
                akf,
                aid,
                header,
                segment,
            }) => Some((
                SegKind::Access {
                    akf: *akf,
                    aid: *aid,
                },
                *header,
                segment,
            )),
            LowerPdu::Control(LowerControlPdu::Segmented {
                opcode,
                header,
                segment,
            }) => Some((SegKind::Control { opcode: *opcode }, *header, segment)),
            _ => None,
        }
    }
}

/// Why a segmented message could not be set up for sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SarBuildError {
    /// The upper transport PDU is empty.
    #[error("empty upper transport PDU")]
    Empty,
    /// The upper transport PDU needs more than 32 segments.
    #[error("upper transport PDU of {len} octets exceeds {max}")]
    TooLong { len: usize, max: usize },
    /// A header parameter is out of range.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Why sending a segmented message failed (§3.5.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SarTxError {
    /// The SAR Unicast Retransmissions counter ran out before every segment was acknowledged.
    #[error("segments still unacknowledged after every retransmission")]
    Timeout,
    /// The receiver answered with BlockAck 0: it cancelled (or cannot accept) the message.
    #[error("the receiver cancelled the transfer")]
    Cancelled,
    /// The SAR Unicast Retransmissions Without Progress counter ran out.
    #[error("no acknowledgment progress after the allowed retransmissions")]
    NoProgress,
}

/// The parameters of one outgoing segmented message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SarTxParams {
    /// The element sending the message.
    pub src: UnicastAddress,
    /// Unicast: acknowledged transfer; group or virtual: unacknowledged (§3.5.3.3).
    pub dst: Address,
    /// Access (AKF, AID) or control (opcode); decides CTL and the segment size.
    pub kind: SegKind,
    /// Access: TransMIC of 64 bits. Control: must be false (RFU).
    pub szmic: bool,
    /// The 13 least significant bits of SeqAuth, i.e. of the first segment's SEQ (§3.5.3.1).
    pub seq_zero: u16,
    /// The TTL the segments are sent with; sets the unicast retransmission interval.
    pub ttl: u8,
}

/// Where a sender stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxPhase {
    /// Handing out the segments in `pending` (a bit per SegO), one per segment interval.
    Sending { pending: u32, next_at: Instant },
    /// Waiting for the retransmission timer (and, for unicast, acknowledgments).
    Waiting { until: Instant },
    /// Finished; `outcome` says how.
    Done,
}

/// The sender of one segmented message (§3.5.3.3).
///
/// Drive it with `poll_transmit` (a lower transport PDU due now, which the node wraps in a
/// network PDU with a fresh SEQ), `poll_timeout` / `handle_timeout`, and, for unicast
/// destinations, `handle_ack` with the Segment Acknowledgments that match this message
/// (same source and destination swapped, same SeqZero). `outcome` tells when it is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarTx {
    params: SarTxParams,
    config: SarTxConfig,
    upper_pdu: Vec<u8>,
    seg_n: u8,
    /// Bit SegO set once the receiver acknowledged segment SegO (unicast only).
    acked: u32,
    phase: TxPhase,
    /// Retransmission rounds still allowed (unicast: SAR Unicast Retransmissions counter;
    /// multicast: SAR Multicast Retransmissions counter).
    retrans_left: u8,
    /// SAR Unicast Retransmissions Without Progress counter.
    no_progress_left: u8,
    last_sent: Option<Instant>,
    transmissions: u32,
    last_ack_obo: bool,
    outcome: Option<Result<(), SarTxError>>,
}

impl SarTx {
    /// Sets up the transfer of `upper_pdu`; the first segment is due at `now`.
    pub fn new(
        now: Instant,
        params: SarTxParams,
        upper_pdu: &[u8],
        config: SarTxConfig,
    ) -> Result<Self, SarBuildError> {
        if upper_pdu.is_empty() {
            return Err(SarBuildError::Empty);
        }
        let max = params.kind.max_upper_len();
        if upper_pdu.len() > max {
            return Err(SarBuildError::TooLong {
                len: upper_pdu.len(),
                max,
            });
        }
        match params.kind {
            SegKind::Access { aid, .. } if aid > 0x3f => return Err(SarBuildError::Invalid("AID")),
            SegKind::Control { opcode } if opcode == OPCODE_SEGMENT_ACK || opcode > 0x7f => {
                return Err(SarBuildError::Invalid("control opcode"))
            }
            SegKind::Control { .. } if params.szmic => {
                return Err(SarBuildError::Invalid("SZMIC of a control message"))
            }
            _ => {}
        }
        if params.seq_zero > 0x1fff {
            return Err(SarBuildError::Invalid("SeqZero"));
        }
        if params.dst.is_unassigned() {
            return Err(SarBuildError::Invalid("destination"));
        }
        if params.ttl > 0x7f {
            return Err(SarBuildError::Invalid("TTL"));
        }
        let seg_n = ((upper_pdu.len() - 1) / params.kind.segment_size()) as u8;
        let unicast = params.dst.is_unicast();
        Ok(SarTx {
            params,
            config,
            upper_pdu: upper_pdu.to_vec(),
            seg_n,
            acked: 0,
            phase: TxPhase::Sending {
                pending: all_segments(seg_n),
                next_at: now,
            },
            retrans_left: if unicast {
                config.unicast_retrans_count & 0x0f
            } else {
                config.multicast_retrans_count & 0x0f
            },
            no_progress_left: config.unicast_retrans_without_progress_count & 0x0f,
            last_sent: None,
            transmissions: 0,
            last_ack_obo: false,
            outcome: None,
        })
    }

    /// The message's parameters.
    pub fn params(&self) -> &SarTxParams {
        &self.params
    }

    /// The index of the last segment.
    pub fn seg_n(&self) -> u8 {
        self.seg_n
    }

    /// Whether the destination acknowledges (a unicast address).
    pub fn is_acknowledged(&self) -> bool {
        self.params.dst.is_unicast()
    }

    /// The segments acknowledged so far (bit n for segment n).
    pub fn acked(&self) -> u32 {
        self.acked
    }

    /// How many segment PDUs `poll_transmit` has handed out.
    pub fn transmissions(&self) -> u32 {
        self.transmissions
    }

    /// Whether the last acknowledgment came from a Friend on behalf of a Low Power node.
    pub fn last_ack_obo(&self) -> bool {
        self.last_ack_obo
    }

    /// `None` while the transfer runs; then `Ok` (every segment acknowledged, or every
    /// multicast round sent) or why it failed.
    pub fn outcome(&self) -> Option<Result<(), SarTxError>> {
        self.outcome
    }

    /// The next segment to send, if one is due at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<LowerPdu> {
        let TxPhase::Sending { pending, next_at } = self.phase else {
            return None;
        };
        if now < next_at {
            return None;
        }
        let pending = pending & !self.acked;
        if pending == 0 {
            // Acknowledgments arrived mid-round for everything still queued.
            self.end_round(now);
            return None;
        }
        let seg_o = pending.trailing_zeros() as u8;
        let rest = pending & !(1u32 << seg_o);
        self.transmissions += 1;
        self.last_sent = Some(now);
        self.phase = TxPhase::Sending {
            pending: rest,
            next_at: now + self.config.segment_interval(),
        };
        if rest & !self.acked == 0 {
            // The last segment of the round: start the retransmissions timer (§3.5.3.3).
            self.end_round(now);
        }
        Some(self.segment_pdu(seg_o))
    }

    /// When the next segment is due or the retransmission timer expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            TxPhase::Sending { next_at, .. } => Some(next_at),
            TxPhase::Waiting { until } => Some(until),
            TxPhase::Done => None,
        }
    }

    /// Runs the retransmission timer if it has expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let TxPhase::Waiting { until } = self.phase {
            if now >= until {
                self.start_round(now, false);
            }
        }
    }

    /// A Segment Acknowledgment for this message (§3.5.3.3). Returns whether it applied: acks
    /// for group destinations, after the end, or with bits beyond SegN are ignored.
    ///
    /// BlockAck 0 cancels the transfer. New acknowledged segments reset the without-progress
    /// counter; once all are acknowledged the transfer is complete. Otherwise, if the
    /// retransmission timer was running, the unacknowledged segments are resent at once.
    pub fn handle_ack(&mut self, now: Instant, block_ack: u32, obo: bool) -> bool {
        if !self.is_acknowledged() || self.outcome.is_some() {
            return false;
        }
        let all = all_segments(self.seg_n);
        if block_ack & !all != 0 {
            // Acknowledges segments this message does not have.
            return false;
        }
        self.last_ack_obo = obo;
        if block_ack == 0 {
            self.finish(Err(SarTxError::Cancelled));
            return true;
        }
        let progress = block_ack & !self.acked != 0;
        self.acked |= block_ack;
        if self.acked == all {
            self.finish(Ok(()));
            return true;
        }
        if progress {
            self.no_progress_left = self.config.unicast_retrans_without_progress_count & 0x0f;
        }
        if let TxPhase::Waiting { .. } = self.phase {
            self.start_round(now, progress);
        }
        true
    }

    /// Builds the lower transport PDU of segment `seg_o`.
    fn segment_pdu(&self, seg_o: u8) -> LowerPdu {
        let size = self.params.kind.segment_size();
        let start = usize::from(seg_o) * size;
        let end = (start + size).min(self.upper_pdu.len());
        let segment = self.upper_pdu.get(start..end).unwrap_or_default().to_vec();
        let header = SegmentHeader {
            szmic: self.params.szmic,
            seq_zero: self.params.seq_zero,
            seg_o,
            seg_n: self.seg_n,
        };
        match self.params.kind {
            SegKind::Access { akf, aid } => LowerPdu::Access(LowerAccessPdu::Segmented {
                akf,
                aid,
                header,
                segment,
            }),
            SegKind::Control { opcode } => LowerPdu::Control(LowerControlPdu::Segmented {
                opcode,
                header,
                segment,
            }),
        }
    }

    /// The last segment of a round went out: arm the retransmission timer, or finish a
    /// multicast transfer whose rounds are all sent.
    fn end_round(&mut self, now: Instant) {
        if self.is_acknowledged() {
            self.phase = TxPhase::Waiting {
                until: now + self.config.unicast_retrans_interval(self.params.ttl),
            };
        } else if self.retrans_left == 0 {
            self.finish(Ok(()));
        } else {
            self.phase = TxPhase::Waiting {
                until: now + self.config.multicast_retrans_interval(),
            };
        }
    }

    /// Starts a retransmission round of the segments not yet acknowledged, or gives up when the
    /// counters are spent.
    fn start_round(&mut self, now: Instant, progress: bool) {
        if self.is_acknowledged() {
            if self.retrans_left == 0 {
                self.finish(Err(SarTxError::Timeout));
                return;
            }
            if !progress {
                if self.no_progress_left == 0 {
                    self.finish(Err(SarTxError::NoProgress));
                    return;
                }
                self.no_progress_left -= 1;
            }
        }
        self.retrans_left = self.retrans_left.saturating_sub(1);
        let earliest = self
            .last_sent
            .map_or(now, |t| t + self.config.segment_interval());
        self.phase = TxPhase::Sending {
            pending: all_segments(self.seg_n) & !self.acked,
            next_at: now.max(earliest),
        };
    }

    fn finish(&mut self, outcome: Result<(), SarTxError>) {
        self.phase = TxPhase::Done;
        self.outcome = Some(outcome);
    }
}

/// The bits of segments 0..=seg_n.
fn all_segments(seg_n: u8) -> u32 {
    if seg_n >= 31 {
        u32::MAX
    } else {
        (1u32 << (seg_n + 1)) - 1
    }
}

/// Why a segment was not taken into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RxError {
    /// The segment belongs to another message (a different SeqZero or SeqAuth).
    #[error("segment of another message")]
    OtherMessage,
    /// The segment contradicts the message (SegN, SZMIC, AKF/AID or opcode, length).
    #[error("inconsistent {0}")]
    Inconsistent(&'static str),
    /// The PDU is not a segment.
    #[error("not a segmented PDU")]
    NotSegmented,
    /// The message was abandoned when its discard timer expired.
    #[error("message discarded after the discard timeout")]
    Discarded,
}

/// What one received segment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxOutcome {
    /// A segment not seen before; the message is still incomplete.
    New,
    /// A segment already received (or a segment of the completed message).
    Duplicate,
    /// The segment completed the message: the reassembled upper transport PDU.
    Complete(Vec<u8>),
    /// The segment was rejected.
    Invalid(RxError),
}

/// The parameters of one incoming segmented message, from the network PDU of its first
/// segment heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SarRxParams {
    /// The sender.
    pub src: UnicastAddress,
    /// Unicast: the receiver acknowledges; group or virtual: no acknowledgments.
    pub dst: Address,
    /// Access (AKF, AID) or control (opcode).
    pub kind: SegKind,
    /// The IV Index the segments are received under; with a segment's SEQ and SeqZero it
    /// gives SeqAuth (§3.5.3.1).
    pub iv_index: u32,
}

/// What a node keeps of a completed segmented message, to answer its late segments with a full
/// acknowledgment and ignore them (§3.5.3.4) after dropping the reassembly buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CompletedRx {
    /// SeqAuth of the message: IV Index << 24 | SEQ of its first segment.
    pub seq_auth: u64,
    /// Its SeqZero.
    pub seq_zero: u16,
    /// Its last segment index.
    pub seg_n: u8,
    /// Whether its destination was unicast (only those are acknowledged).
    pub acknowledged: bool,
}

impl CompletedRx {
    /// Whether a segment with this header and SEQ, under `iv_index`, belongs to the message.
    pub fn matches(&self, iv_index: u32, seq: Seq, header: &SegmentHeader) -> bool {
        header.seq_zero == self.seq_zero && header.seq_auth(iv_index, seq) == self.seq_auth
    }

    /// The acknowledgment of every segment, or `None` for a group destination.
    pub fn ack(&self) -> Option<LowerControlPdu> {
        self.acknowledged.then(|| LowerControlPdu::SegmentAck {
            obo: false,
            seq_zero: self.seq_zero,
            block_ack: all_segments(self.seg_n),
        })
    }
}

/// The receiver of one segmented message (§3.5.3.4).
///
/// Created from the first segment heard (then fed that segment too through `handle_segment`),
/// it reassembles the upper transport PDU, schedules Segment Acknowledgments for unicast
/// destinations (the acknowledgment timer, the segments-threshold rule and acknowledgment
/// retransmissions), and abandons the message when the discard timer expires. Once complete it
/// keeps answering segments of the same message with the full acknowledgment; the node may also
/// keep only [`SarRx::completed`] for that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarRx {
    params: SarRxParams,
    config: SarRxConfig,
    seq_auth: u64,
    seq_zero: u16,
    szmic: bool,
    buffer: Reassembly,
    complete: bool,
    discarded: bool,
    /// When the SAR Discard timer expires (armed by the first new segment).
    discard_at: Option<Instant>,
    /// When the next acknowledgment is due (the SAR Acknowledgment timer).
    ack_at: Option<Instant>,
    /// Retransmissions of the current acknowledgment still to send.
    ack_repeats_left: u8,
    last_ack_at: Option<Instant>,
}

impl SarRx {
    /// A receiver for the message `header` (a segment received with `seq`) belongs to.
    pub fn new(params: SarRxParams, seq: Seq, header: SegmentHeader, config: SarRxConfig) -> Self {
        SarRx {
            params,
            config,
            seq_auth: header.seq_auth(params.iv_index, seq),
            seq_zero: header.seq_zero & 0x1fff,
            szmic: header.szmic,
            buffer: Reassembly::new(header.seg_n, params.kind.segment_size()),
            complete: false,
            discarded: false,
            discard_at: None,
            ack_at: None,
            ack_repeats_left: 0,
            last_ack_at: None,
        }
    }

    /// The message's parameters.
    pub fn params(&self) -> &SarRxParams {
        &self.params
    }

    /// SeqAuth of the message (§3.5.3.1): the node compares it with a newer segment's to tell
    /// a new message from this one, and checks it against the replay protection list.
    pub fn seq_auth(&self) -> u64 {
        self.seq_auth
    }

    /// The message's SeqZero.
    pub fn seq_zero(&self) -> u16 {
        self.seq_zero
    }

    /// The message's SZMIC (64-bit TransMIC for access messages).
    pub fn szmic(&self) -> bool {
        self.szmic
    }

    /// The index of the last segment.
    pub fn seg_n(&self) -> u8 {
        self.buffer.seg_n()
    }

    /// The segments received so far (bit n for segment n).
    pub fn block_ack(&self) -> u32 {
        self.buffer.block_ack()
    }

    /// Whether every segment has arrived.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether the discard timer abandoned the message.
    pub fn is_discarded(&self) -> bool {
        self.discarded
    }

    /// The summary a node keeps of the completed message, once complete.
    pub fn completed(&self) -> Option<CompletedRx> {
        self.complete.then(|| CompletedRx {
            seq_auth: self.seq_auth,
            seq_zero: self.seq_zero,
            seg_n: self.buffer.seg_n(),
            acknowledged: self.params.dst.is_unicast(),
        })
    }

    /// A received lower transport PDU: checks that it is a segment of this message's kind, then
    /// as [`SarRx::handle_segment`].
    pub fn handle_pdu(&mut self, now: Instant, seq: Seq, pdu: &LowerPdu) -> RxOutcome {
        let Some((kind, header, segment)) = pdu.segment() else {
            return RxOutcome::Invalid(RxError::NotSegmented);
        };
        if kind != self.params.kind {
            return RxOutcome::Invalid(RxError::Inconsistent(if kind.is_control() {
                "control opcode"
            } else {
                "AKF/AID"
            }));
        }
        self.handle_segment(now, seq, header, segment)
    }

    /// A segment of this message, received at `now` in a network PDU with `seq`.
    pub fn handle_segment(
        &mut self,
        now: Instant,
        seq: Seq,
        header: SegmentHeader,
        segment: &[u8],
    ) -> RxOutcome {
        if header.seq_zero != self.seq_zero
            || header.seq_auth(self.params.iv_index, seq) != self.seq_auth
        {
            return RxOutcome::Invalid(RxError::OtherMessage);
        }
        if self.discarded {
            return RxOutcome::Invalid(RxError::Discarded);
        }
        if header.seg_n != self.buffer.seg_n() {
            return RxOutcome::Invalid(RxError::Inconsistent("SegN"));
        }
        if header.szmic != self.szmic {
            return RxOutcome::Invalid(RxError::Inconsistent("SZMIC"));
        }
        if self.complete {
            // A late segment of the completed message: the sender missed our acknowledgment.
            self.schedule_full_ack(now);
            return RxOutcome::Duplicate;
        }
        match self.buffer.insert(header.seg_o, header.seg_n, segment) {
            Err(_) => RxOutcome::Invalid(RxError::Inconsistent("segment length")),
            Ok(false) => RxOutcome::Duplicate,
            Ok(true) => {
                // Every new segment restarts the discard timer (§3.5.3.4).
                self.discard_at = Some(now + self.config.discard_timeout());
                let unicast = self.params.dst.is_unicast();
                if self.buffer.is_complete() {
                    let Some(pdu) = self.buffer.finish() else {
                        return RxOutcome::Invalid(RxError::Inconsistent("segment length"));
                    };
                    self.complete = true;
                    self.discard_at = None;
                    if unicast {
                        // The complete message is acknowledged at once.
                        self.ack_at = Some(now);
                        self.ack_repeats_left =
                            self.config.ack_transmissions(self.buffer.seg_n()) - 1;
                    }
                    RxOutcome::Complete(pdu)
                } else {
                    if unicast && self.ack_at.is_none() {
                        self.ack_at = Some(now + self.config.ack_delay(self.buffer.seg_n()));
                        self.ack_repeats_left =
                            self.config.ack_transmissions(self.buffer.seg_n()) - 1;
                    }
                    RxOutcome::New
                }
            }
        }
    }

    /// The Segment Acknowledgment due at `now`, if any (OBO 0; the node sends it to the source
    /// and may set OBO when acknowledging for a Low Power node).
    pub fn poll_ack(&mut self, now: Instant) -> Option<LowerControlPdu> {
        let at = self.ack_at?;
        if now < at || self.discarded {
            return None;
        }
        if self.ack_repeats_left > 0 {
            self.ack_repeats_left -= 1;
            self.ack_at = Some(now + self.config.segment_reception_interval());
        } else {
            self.ack_at = None;
        }
        self.last_ack_at = Some(now);
        Some(LowerControlPdu::SegmentAck {
            obo: false,
            seq_zero: self.seq_zero,
            block_ack: self.buffer.block_ack(),
        })
    }

    /// When an acknowledgment is due or the discard timer expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.ack_at, self.discard_at) {
            (Some(a), Some(d)) => Some(a.min(d)),
            (a, d) => a.or(d),
        }
    }

    /// Runs the discard timer: an incomplete message whose timer expired is abandoned, and no
    /// more acknowledgments are sent for it.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.discard_at {
            if now >= d && !self.complete {
                self.discarded = true;
                self.discard_at = None;
                self.ack_at = None;
            }
        }
    }

    /// Schedules one full acknowledgment, no sooner than a segment reception interval after the
    /// previous one, so a burst of late segments draws one answer.
    fn schedule_full_ack(&mut self, now: Instant) {
        if !self.params.dst.is_unicast() || self.ack_at.is_some() {
            return;
        }
        let earliest = self
            .last_ack_at
            .map_or(now, |t| t + self.config.segment_reception_interval());
        self.ack_at = Some(now.max(earliest));
        self.ack_repeats_left = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Instant {
        Instant::from_micros(v * 1_000)
    }

    fn src() -> UnicastAddress {
        UnicastAddress::new(0x0001).unwrap()
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    fn access_params(dst: u16, ttl: u8) -> SarTxParams {
        SarTxParams {
            src: src(),
            dst: Address(dst),
            kind: SegKind::Access {
                akf: true,
                aid: 0x15,
            },
            szmic: false,
            seq_zero: 0x0123,
            ttl,
        }
    }

    fn rx_params(dst: u16, kind: SegKind) -> SarRxParams {
        SarRxParams {
            src: src(),
            dst: Address(dst),
            kind,
            iv_index: 0x1234_5678,
        }
    }

    fn seg(pdu: &LowerPdu) -> (SegmentHeader, Vec<u8>) {
        let (_, h, s) = pdu.segment().expect("a segment");
        (h, s.to_vec())
    }

    /// Runs a sender with no acknowledgments until it finishes; returns the SegO sent and when.
    fn run_unacked(tx: &mut SarTx, start: Instant) -> Vec<(Instant, u8)> {
        let mut now = start;
        let mut sent = Vec::new();
        for _ in 0..10_000 {
            while let Some(p) = tx.poll_transmit(now) {
                sent.push((now, seg(&p).0.seg_o));
            }
            let Some(next) = tx.poll_timeout() else {
                return sent;
            };
            assert!(next >= now, "time never runs backwards");
            now = next;
            tx.handle_timeout(now);
        }
        panic!("sender never finished");
    }

    /// Sends the segments due in one round (stepping virtual time) until the sender waits for
    /// its retransmission timer; returns the SegO sent.
    fn round(tx: &mut SarTx, now: &mut Instant) -> Vec<u8> {
        let mut sent = Vec::new();
        loop {
            while let Some(p) = tx.poll_transmit(*now) {
                sent.push(seg(&p).0.seg_o);
            }
            match tx.phase {
                TxPhase::Sending { next_at, .. } => *now = next_at,
                _ => return sent,
            }
        }
    }

    #[test]
    fn config_formulas() {
        let tx = SarTxConfig::default();
        assert!(tx.is_valid());
        assert_eq!(tx.segment_interval(), Duration::from_millis(60));
        assert_eq!(tx.unicast_retrans_interval(0), Duration::from_millis(200));
        assert_eq!(tx.unicast_retrans_interval(1), Duration::from_millis(200));
        assert_eq!(tx.unicast_retrans_interval(5), Duration::from_millis(400));
        assert_eq!(tx.multicast_retrans_interval(), Duration::from_millis(250));
        let max = SarTxConfig {
            segment_interval_step: 15,
            unicast_retrans_interval_step: 15,
            unicast_retrans_interval_increment: 15,
            multicast_retrans_interval_step: 15,
            ..tx
        };
        assert_eq!(max.segment_interval(), Duration::from_millis(160));
        assert_eq!(
            max.unicast_retrans_interval(127),
            Duration::from_millis(400 + 400 * 126)
        );
        assert_eq!(max.multicast_retrans_interval(), Duration::from_millis(400));
        assert!(!SarTxConfig {
            unicast_retrans_count: 16,
            ..tx
        }
        .is_valid());

        let rx = SarRxConfig::default();
        assert!(rx.is_valid());
        assert_eq!(rx.segment_reception_interval(), Duration::from_millis(60));
        // min(SegN + 0.5, 2.5) × 60 ms.
        assert_eq!(rx.ack_delay(0), Duration::from_millis(30));
        assert_eq!(rx.ack_delay(1), Duration::from_millis(90));
        assert_eq!(rx.ack_delay(2), Duration::from_millis(150));
        assert_eq!(rx.ack_delay(31), Duration::from_millis(150));
        assert_eq!(rx.discard_timeout(), Duration::from_secs(10));
        assert_eq!(
            SarRxConfig {
                discard_timeout: 15,
                ..rx
            }
            .discard_timeout(),
            Duration::from_secs(80)
        );
        let rx2 = SarRxConfig {
            ack_retrans_count: 2,
            ..rx
        };
        assert_eq!(
            rx2.ack_transmissions(2),
            1,
            "3 segments: not above the threshold"
        );
        assert_eq!(
            rx2.ack_transmissions(3),
            3,
            "4 segments: above the threshold"
        );
        assert!(!SarRxConfig {
            ack_retrans_count: 4,
            ..rx
        }
        .is_valid());
    }

    #[test]
    fn build_errors() {
        let p = access_params(0x0002, 5);
        let cfg = SarTxConfig::default();
        assert_eq!(SarTx::new(ms(0), p, &[], cfg), Err(SarBuildError::Empty));
        assert!(SarTx::new(ms(0), p, &payload(MAX_UPPER_ACCESS), cfg).is_ok());
        assert_eq!(
            SarTx::new(ms(0), p, &payload(MAX_UPPER_ACCESS + 1), cfg),
            Err(SarBuildError::TooLong { len: 385, max: 384 })
        );
        let ctl = SarTxParams {
            kind: SegKind::Control { opcode: 0x0a },
            ..p
        };
        assert!(SarTx::new(ms(0), ctl, &payload(MAX_UPPER_CONTROL), cfg).is_ok());
        assert!(SarTx::new(ms(0), ctl, &payload(MAX_UPPER_CONTROL + 1), cfg).is_err());
        let bad = [
            SarTxParams { szmic: true, ..ctl },
            SarTxParams {
                kind: SegKind::Control { opcode: 0 },
                ..p
            },
            SarTxParams {
                kind: SegKind::Access { akf: true, aid: 64 },
                ..p
            },
            SarTxParams {
                seq_zero: 0x2000,
                ..p
            },
            SarTxParams {
                dst: Address::UNASSIGNED,
                ..p
            },
            SarTxParams { ttl: 128, ..p },
        ];
        for b in bad {
            assert!(
                matches!(
                    SarTx::new(ms(0), b, &[1; 20], cfg),
                    Err(SarBuildError::Invalid(_))
                ),
                "{b:?}"
            );
        }
    }

    #[test]
    fn unicast_all_acked() {
        let data = payload(40); // 4 segments: 12 + 12 + 12 + 4
        let mut tx = SarTx::new(
            ms(0),
            access_params(0x0002, 5),
            &data,
            SarTxConfig::default(),
        )
        .unwrap();
        assert!(tx.is_acknowledged());
        assert_eq!(tx.seg_n(), 3);
        let mut got = Vec::new();
        for (i, at) in [0u64, 60, 120, 180].into_iter().enumerate() {
            assert_eq!(tx.poll_timeout(), Some(ms(at)));
            if at > 0 {
                assert_eq!(
                    tx.poll_transmit(ms(at - 1)),
                    None,
                    "not before the interval"
                );
            }
            let p = tx.poll_transmit(ms(at)).unwrap();
            assert!(!p.ctl());
            match &p {
                LowerPdu::Access(LowerAccessPdu::Segmented {
                    akf, aid, header, ..
                }) => {
                    assert!(*akf);
                    assert_eq!(*aid, 0x15);
                    assert_eq!(
                        *header,
                        SegmentHeader {
                            szmic: false,
                            seq_zero: 0x0123,
                            seg_o: i as u8,
                            seg_n: 3
                        }
                    );
                }
                other => panic!("{other:?}"),
            }
            // The bytes parse back to the same PDU.
            assert_eq!(LowerPdu::parse(false, &p.to_vec()).unwrap(), p);
            got.extend(seg(&p).1);
            assert_eq!(tx.poll_transmit(ms(at)), None);
        }
        assert_eq!(got, data);
        // Retransmission timer: 200 ms + 50 ms × (TTL − 1) after the last segment.
        assert_eq!(tx.poll_timeout(), Some(ms(180 + 400)));
        assert_eq!(tx.outcome(), None);
        assert!(tx.handle_ack(ms(300), 0b1111, false));
        assert_eq!(tx.outcome(), Some(Ok(())));
        assert_eq!(tx.poll_timeout(), None);
        assert_eq!(tx.poll_transmit(ms(10_000)), None);
        assert_eq!(tx.transmissions(), 4);
        assert!(!tx.handle_ack(ms(301), 0b1111, false), "after the end");
    }

    #[test]
    fn partial_ack_resends_only_missing() {
        let data = payload(48); // 4 full segments
        let mut tx = SarTx::new(
            ms(0),
            access_params(0x0002, 1),
            &data,
            SarTxConfig::default(),
        )
        .unwrap();
        let mut now = ms(0);
        assert_eq!(round(&mut tx, &mut now), vec![0, 1, 2, 3]);
        assert_eq!(now, ms(180));
        // Segments 0 and 2 were lost; the receiver acknowledges 1 and 3 at 300 ms.
        assert!(tx.handle_ack(ms(300), 0b1010, false));
        assert_eq!(tx.acked(), 0b1010);
        assert_eq!(tx.poll_timeout(), Some(ms(300)), "resent at once");
        let mut now = ms(300);
        assert_eq!(round(&mut tx, &mut now), vec![0, 2]);
        assert_eq!(now, ms(360));
        // A stale ack that brings nothing new while segments are in flight changes nothing.
        assert!(tx.handle_ack(ms(370), 0b1010, false));
        assert_eq!(tx.outcome(), None);
        assert!(tx.handle_ack(ms(400), 0b1111, true));
        assert!(tx.last_ack_obo());
        assert_eq!(tx.outcome(), Some(Ok(())));
        assert_eq!(tx.transmissions(), 6);
    }

    #[test]
    fn ack_during_round_skips_acked_segments() {
        let data = payload(48);
        let mut tx = SarTx::new(
            ms(0),
            access_params(0x0002, 1),
            &data,
            SarTxConfig::default(),
        )
        .unwrap();
        assert_eq!(seg(&tx.poll_transmit(ms(0)).unwrap()).0.seg_o, 0);
        assert_eq!(seg(&tx.poll_transmit(ms(60)).unwrap()).0.seg_o, 1);
        // The receiver already has 2 and 3 from an earlier copy (e.g. a relay's).
        assert!(tx.handle_ack(ms(70), 0b1101, false));
        assert_eq!(tx.poll_transmit(ms(120)), None, "2 and 3 are acknowledged");
        assert_eq!(tx.poll_timeout(), Some(ms(120 + 200)));
        tx.handle_timeout(ms(320));
        let p = tx.poll_transmit(ms(320)).unwrap();
        assert_eq!(seg(&p).0.seg_o, 1);
        assert_eq!(tx.poll_transmit(ms(380)), None);
    }

    #[test]
    fn timeout_without_acks() {
        let data = payload(48);
        let mut tx = SarTx::new(
            ms(0),
            access_params(0x0002, 3),
            &data,
            SarTxConfig::default(),
        )
        .unwrap();
        let sent = run_unacked(&mut tx, ms(0));
        // One transmission and 2 retransmissions of every segment.
        assert_eq!(sent.len(), 12);
        assert_eq!(tx.outcome(), Some(Err(SarTxError::Timeout)));
        // Rounds start 300 ms (200 + 50 × 2) after the previous round's last segment.
        assert_eq!(sent[3].0, ms(180));
        assert_eq!(sent[4].0, ms(480));
        assert_eq!(sent[8].0, ms(480 + 180 + 300));
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn no_progress_failure_and_reset() {
        let cfg = SarTxConfig {
            unicast_retrans_count: 8,
            unicast_retrans_without_progress_count: 1,
            ..SarTxConfig::default()
        };
        let data = payload(48);
        let mut tx = SarTx::new(ms(0), access_params(0x0002, 0), &data, cfg).unwrap();
        let sent = run_unacked(&mut tx, ms(0));
        assert_eq!(sent.len(), 8, "one retransmission without progress allowed");
        assert_eq!(tx.outcome(), Some(Err(SarTxError::NoProgress)));

        // Progress resets the counter: with an ack bringing news each round the transfer runs
        // past the without-progress limit.
        let mut tx = SarTx::new(ms(0), access_params(0x0002, 0), &data, cfg).unwrap();
        let mut now = ms(0);
        round(&mut tx, &mut now);
        now = tx.poll_timeout().unwrap();
        tx.handle_timeout(now); // retransmission without progress: counter now 0
        round(&mut tx, &mut now);
        assert!(tx.handle_ack(now, 0b0001, false)); // progress: counter back to 1
        assert_eq!(round(&mut tx, &mut now), vec![1, 2, 3]);
        now = tx.poll_timeout().unwrap();
        tx.handle_timeout(now); // allowed again thanks to the reset
        assert_eq!(tx.outcome(), None);
        assert_eq!(round(&mut tx, &mut now), vec![1, 2, 3]);
        now = tx.poll_timeout().unwrap();
        tx.handle_timeout(now);
        assert_eq!(tx.outcome(), Some(Err(SarTxError::NoProgress)));
    }

    #[test]
    fn cancel_with_block_ack_zero() {
        let mut tx = SarTx::new(
            ms(0),
            access_params(0x0002, 5),
            &payload(30),
            SarTxConfig::default(),
        )
        .unwrap();
        tx.poll_transmit(ms(0)).unwrap();
        assert!(
            !tx.handle_ack(ms(10), 0b1000, false),
            "bit beyond SegN: ignored"
        );
        assert_eq!(tx.outcome(), None);
        assert!(tx.handle_ack(ms(20), 0, false));
        assert_eq!(tx.outcome(), Some(Err(SarTxError::Cancelled)));
        assert_eq!(tx.poll_transmit(ms(1000)), None);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn group_transfer_without_acks() {
        let data = payload(30); // 3 segments
        let mut tx = SarTx::new(
            ms(0),
            access_params(0xc001, 5),
            &data,
            SarTxConfig::default(),
        )
        .unwrap();
        assert!(!tx.is_acknowledged());
        assert!(!tx.handle_ack(ms(0), 0b111, false));
        let sent = run_unacked(&mut tx, ms(0));
        let order: Vec<u8> = sent.iter().map(|&(_, o)| o).collect();
        // Multicast Retransmissions Count 2: three rounds of every segment.
        assert_eq!(order, vec![0, 1, 2, 0, 1, 2, 0, 1, 2]);
        assert_eq!(sent[2].0, ms(120));
        assert_eq!(
            sent[3].0,
            ms(120 + 250),
            "multicast interval between rounds"
        );
        assert_eq!(sent[8].0, ms(2 * 370 + 120));
        assert_eq!(tx.outcome(), Some(Ok(())));

        // A virtual destination behaves the same; count 0 sends once.
        let cfg = SarTxConfig {
            multicast_retrans_count: 0,
            ..SarTxConfig::default()
        };
        let mut tx = SarTx::new(ms(0), access_params(0x8abc, 5), &data, cfg).unwrap();
        assert_eq!(run_unacked(&mut tx, ms(0)).len(), 3);
        assert_eq!(tx.outcome(), Some(Ok(())));
    }

    #[test]
    fn control_segments() {
        let data = payload(20); // 8 + 8 + 4
        let p = SarTxParams {
            kind: SegKind::Control { opcode: 0x0a },
            ..access_params(0x0002, 5)
        };
        let mut tx = SarTx::new(ms(0), p, &data, SarTxConfig::default()).unwrap();
        assert_eq!(tx.seg_n(), 2);
        let p0 = tx.poll_transmit(ms(0)).unwrap();
        assert!(p0.ctl());
        assert_eq!(LowerPdu::parse(true, &p0.to_vec()).unwrap(), p0);
        let mut rx = SarRx::new(
            rx_params(0x0002, SegKind::Control { opcode: 0x0a }),
            Seq::new(0x0123).unwrap(),
            seg(&p0).0,
            SarRxConfig::default(),
        );
        let mut seq = 0x0123;
        assert_eq!(
            rx.handle_pdu(ms(0), Seq::new(seq).unwrap(), &p0),
            RxOutcome::New
        );
        let mut last = RxOutcome::New;
        for at in [60, 120] {
            seq += 1;
            let p = tx.poll_transmit(ms(at)).unwrap();
            last = rx.handle_pdu(ms(at), Seq::new(seq).unwrap(), &p);
        }
        assert_eq!(last, RxOutcome::Complete(data));
    }

    /// Segments of a message of `len` octets, as (header, bytes), SeqZero 0x0123, SZMIC 0.
    fn segments(len: usize) -> Vec<(SegmentHeader, Vec<u8>)> {
        let data = payload(len);
        let seg_n = ((len - 1) / 12) as u8;
        data.chunks(12)
            .enumerate()
            .map(|(i, c)| {
                (
                    SegmentHeader {
                        szmic: false,
                        seq_zero: 0x0123,
                        seg_o: i as u8,
                        seg_n,
                    },
                    c.to_vec(),
                )
            })
            .collect()
    }

    const KIND: SegKind = SegKind::Access {
        akf: true,
        aid: 0x15,
    };

    fn seq(v: u32) -> Seq {
        Seq::new(v).unwrap()
    }

    #[test]
    fn receiver_ack_timing() {
        let segs = segments(48); // SegN 3
        let mut rx = SarRx::new(
            rx_params(0x0002, KIND),
            seq(0x0123),
            segs[0].0,
            SarRxConfig::default(),
        );
        assert_eq!(rx.poll_timeout(), None);
        assert_eq!(
            rx.handle_segment(ms(0), seq(0x0123), segs[0].0, &segs[0].1),
            RxOutcome::New
        );
        // min(3 + 0.5, 2.5) × 60 ms = 150 ms.
        assert_eq!(rx.poll_timeout(), Some(ms(150)));
        // Stepping virtual time a millisecond at a time: the ack comes out exactly at 150 ms.
        let mut acks = Vec::new();
        for t in 0..=400 {
            if t == 200 {
                assert_eq!(
                    rx.handle_segment(ms(t), seq(0x0125), segs[2].0, &segs[2].1),
                    RxOutcome::New
                );
            }
            rx.handle_timeout(ms(t));
            while let Some(a) = rx.poll_ack(ms(t)) {
                acks.push((t, a));
            }
        }
        let ack = |block_ack| LowerControlPdu::SegmentAck {
            obo: false,
            seq_zero: 0x0123,
            block_ack,
        };
        assert_eq!(acks, vec![(150, ack(0b0001)), (350, ack(0b0101))]);

        // With acknowledgment retransmissions (4 segments > threshold 3): 3 acks, a segment
        // reception interval apart.
        let cfg = SarRxConfig {
            ack_retrans_count: 2,
            ..SarRxConfig::default()
        };
        let mut rx = SarRx::new(rx_params(0x0002, KIND), seq(0x0123), segs[0].0, cfg);
        rx.handle_segment(ms(0), seq(0x0123), segs[0].0, &segs[0].1);
        let mut times = Vec::new();
        for t in 0..=1000 {
            while rx.poll_ack(ms(t)).is_some() {
                times.push(t);
            }
        }
        assert_eq!(times, vec![150, 210, 270]);

        // Threshold 4: a 4-segment message is not above it, one ack only.
        let cfg = SarRxConfig {
            ack_retrans_count: 2,
            segments_threshold: 4,
            ..SarRxConfig::default()
        };
        let mut rx = SarRx::new(rx_params(0x0002, KIND), seq(0x0123), segs[0].0, cfg);
        rx.handle_segment(ms(0), seq(0x0123), segs[0].0, &segs[0].1);
        let n = (0..=1000).filter(|&t| rx.poll_ack(ms(t)).is_some()).count();
        assert_eq!(n, 1);
    }

    #[test]
    fn receiver_completes_and_answers_late_segments() {
        let segs = segments(40);
        let data = payload(40);
        let mut rx = SarRx::new(
            rx_params(0x0002, KIND),
            seq(0x0126),
            segs[3].0,
            SarRxConfig::default(),
        );
        assert_eq!(rx.seq_auth(), 0x1234_5678_u64 << 24 | 0x0123);
        // Out of order, each with its own SEQ.
        for (i, s) in [3usize, 1, 0].into_iter().zip([0x0126, 0x0124, 0x0130]) {
            assert_eq!(
                rx.handle_segment(ms(10 * i as u64), seq(s), segs[i].0, &segs[i].1),
                RxOutcome::New
            );
        }
        assert_eq!(rx.completed(), None);
        let out = rx.handle_segment(ms(50), seq(0x0131), segs[2].0, &segs[2].1);
        assert_eq!(out, RxOutcome::Complete(data));
        assert!(rx.is_complete());
        // The complete message is acknowledged at once, in full.
        let full = LowerControlPdu::SegmentAck {
            obo: false,
            seq_zero: 0x0123,
            block_ack: 0b1111,
        };
        assert_eq!(rx.poll_ack(ms(50)), Some(full.clone()));
        assert_eq!(rx.poll_ack(ms(50)), None);
        assert_eq!(rx.poll_timeout(), None, "no discard timer once complete");
        rx.handle_timeout(ms(60_000));
        assert!(!rx.is_discarded());
        // The sender missed the ack and resends two segments: one answer, no sooner than the
        // segment reception interval after the previous ack.
        assert_eq!(
            rx.handle_segment(ms(80), seq(0x0140), segs[0].0, &segs[0].1),
            RxOutcome::Duplicate
        );
        assert_eq!(
            rx.handle_segment(ms(85), seq(0x0141), segs[2].0, &segs[2].1),
            RxOutcome::Duplicate
        );
        assert_eq!(rx.poll_timeout(), Some(ms(110)));
        assert_eq!(rx.poll_ack(ms(109)), None);
        assert_eq!(rx.poll_ack(ms(110)), Some(full.clone()));
        assert_eq!(rx.poll_ack(ms(500)), None);
        // What the node keeps once it drops the buffer.
        let c = rx.completed().unwrap();
        assert!(c.matches(0x1234_5678, seq(0x0150), &segs[1].0));
        assert!(!c.matches(0x1234_5678, seq(0x0123 + 0x2000), &segs[1].0));
        assert_eq!(c.ack(), Some(full));
    }

    #[test]
    fn discard_timeout() {
        let segs = segments(48);
        let mut rx = SarRx::new(
            rx_params(0x0002, KIND),
            seq(0x0123),
            segs[0].0,
            SarRxConfig::default(),
        );
        rx.handle_segment(ms(0), seq(0x0123), segs[0].0, &segs[0].1);
        assert_eq!(rx.poll_ack(ms(150)).map(|_| ()), Some(()));
        // A new segment restarts the 10 s discard timer; a duplicate does not.
        rx.handle_segment(ms(1_000), seq(0x0124), segs[1].0, &segs[1].1);
        assert_eq!(
            rx.handle_segment(ms(2_000), seq(0x0125), segs[1].0, &segs[1].1),
            RxOutcome::Duplicate
        );
        rx.poll_ack(ms(1_150)).unwrap();
        assert_eq!(rx.poll_timeout(), Some(ms(11_000)));
        rx.handle_timeout(ms(10_999));
        assert!(!rx.is_discarded());
        rx.handle_timeout(ms(11_000));
        assert!(rx.is_discarded());
        assert_eq!(rx.poll_timeout(), None);
        assert_eq!(rx.poll_ack(ms(20_000)), None);
        assert_eq!(
            rx.handle_segment(ms(11_001), seq(0x0126), segs[2].0, &segs[2].1),
            RxOutcome::Invalid(RxError::Discarded)
        );
    }

    #[test]
    fn group_receiver_never_acks() {
        let segs = segments(30);
        let mut rx = SarRx::new(
            rx_params(0xc001, KIND),
            seq(0x0123),
            segs[0].0,
            SarRxConfig::default(),
        );
        let mut last = RxOutcome::New;
        for (i, (h, s)) in segs.iter().enumerate() {
            last = rx.handle_segment(ms(i as u64 * 60), seq(0x0123 + i as u32), *h, s);
        }
        assert_eq!(last, RxOutcome::Complete(payload(30)));
        assert_eq!(
            rx.handle_segment(ms(500), seq(0x0200), segs[0].0, &segs[0].1),
            RxOutcome::Duplicate
        );
        assert!((0..2000).all(|t| rx.poll_ack(ms(t)).is_none()));
        assert_eq!(rx.completed().unwrap().ack(), None);
    }

    #[test]
    fn duplicates_and_inconsistent_segments() {
        let segs = segments(48);
        let mut rx = SarRx::new(
            rx_params(0x0002, KIND),
            seq(0x0123),
            segs[0].0,
            SarRxConfig::default(),
        );
        let s = seq(0x0123);
        assert_eq!(
            rx.handle_segment(ms(0), s, segs[0].0, &segs[0].1),
            RxOutcome::New
        );
        assert_eq!(
            rx.handle_segment(ms(1), s, segs[0].0, &segs[0].1),
            RxOutcome::Duplicate
        );
        let inconsistent = |e| RxOutcome::Invalid(RxError::Inconsistent(e));
        let h = segs[1].0;
        assert_eq!(
            rx.handle_segment(ms(2), s, SegmentHeader { seg_n: 4, ..h }, &segs[1].1),
            inconsistent("SegN")
        );
        assert_eq!(
            rx.handle_segment(ms(2), s, SegmentHeader { szmic: true, ..h }, &segs[1].1),
            inconsistent("SZMIC")
        );
        assert_eq!(
            rx.handle_segment(ms(2), s, h, &segs[1].1[..11]),
            inconsistent("segment length")
        );
        assert_eq!(
            rx.handle_segment(
                ms(2),
                s,
                SegmentHeader {
                    seq_zero: 0x0124,
                    ..h
                },
                &segs[1].1
            ),
            RxOutcome::Invalid(RxError::OtherMessage)
        );
        // Same SeqZero, but 8192 messages later: another SeqAuth.
        assert_eq!(
            rx.handle_segment(ms(2), seq(0x2123), h, &segs[1].1),
            RxOutcome::Invalid(RxError::OtherMessage)
        );
        // Kind mismatch and unsegmented PDUs through handle_pdu.
        let other = LowerPdu::Access(LowerAccessPdu::Segmented {
            akf: false,
            aid: 0,
            header: h,
            segment: segs[1].1.clone(),
        });
        assert_eq!(rx.handle_pdu(ms(2), s, &other), inconsistent("AKF/AID"));
        let unseg = LowerPdu::Access(LowerAccessPdu::Unsegmented {
            akf: true,
            aid: 0x15,
            upper_pdu: vec![0; 5],
        });
        assert_eq!(
            rx.handle_pdu(ms(2), s, &unseg),
            RxOutcome::Invalid(RxError::NotSegmented)
        );
        assert_eq!(rx.block_ack(), 0b0001, "nothing rejected was stored");
    }

    /// A tiny deterministic generator for the lossy channel.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// True with probability `percent` / 100.
        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    /// A sender and a receiver wired through a channel that loses `loss`% of the PDUs in each
    /// direction. Returns what the receiver delivered, the sender's outcome, and the number of
    /// segment transmissions.
    fn lossy_transfer(
        seed: u64,
        loss: u64,
        kind: SegKind,
        data: &[u8],
    ) -> (Option<Vec<u8>>, Option<Result<(), SarTxError>>, u32) {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let tx_cfg = SarTxConfig {
            unicast_retrans_count: 15,
            unicast_retrans_without_progress_count: 15,
            ..SarTxConfig::default()
        };
        let first_seq = 0x00_4321;
        let params = SarTxParams {
            src: src(),
            dst: Address(0x0002),
            kind,
            szmic: false,
            seq_zero: (first_seq & 0x1fff) as u16,
            ttl: 3,
        };
        let mut now = ms(0);
        let mut tx = SarTx::new(now, params, data, tx_cfg).unwrap();
        let mut rx: Option<SarRx> = None;
        let mut next_seq = first_seq;
        let mut delivered = None;
        for _ in 0..100_000 {
            while let Some(pdu) = tx.poll_transmit(now) {
                let s = seq(next_seq);
                next_seq += 1;
                if rng.chance(loss) {
                    continue;
                }
                let (_, header, _) = pdu.segment().unwrap();
                let r = rx.get_or_insert_with(|| {
                    SarRx::new(rx_params(0x0002, kind), s, header, SarRxConfig::default())
                });
                match r.handle_pdu(now, s, &pdu) {
                    RxOutcome::Complete(v) => {
                        assert!(delivered.is_none(), "delivered twice");
                        delivered = Some(v);
                    }
                    RxOutcome::Invalid(e) => panic!("seed {seed}: {e}"),
                    RxOutcome::New | RxOutcome::Duplicate => {}
                }
            }
            if let Some(r) = rx.as_mut() {
                while let Some(ack) = r.poll_ack(now) {
                    if rng.chance(loss) {
                        continue;
                    }
                    let LowerControlPdu::SegmentAck { block_ack, obo, .. } = ack else {
                        unreachable!()
                    };
                    tx.handle_ack(now, block_ack, obo);
                }
            }
            let next = [tx.poll_timeout(), rx.as_ref().and_then(SarRx::poll_timeout)]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { break };
            assert!(next >= now);
            now = next;
            tx.handle_timeout(now);
            if let Some(r) = rx.as_mut() {
                r.handle_timeout(now);
            }
        }
        (delivered, tx.outcome(), tx.transmissions())
    }

    #[test]
    fn lossy_channel_delivers_every_time() {
        // 380 octets of access payload and a 32-bit TransMIC: the largest message, 32 segments.
        let data = payload(MAX_UPPER_ACCESS);
        let mut total = 0;
        for seed in 0..200 {
            let (delivered, outcome, sent) = lossy_transfer(seed, 30, KIND, &data);
            assert_eq!(delivered.as_deref(), Some(&data[..]), "seed {seed}");
            assert_eq!(outcome, Some(Ok(())), "seed {seed}");
            assert!(sent >= 32);
            total += sent;
        }
        // Loss costs retransmissions, but only of missing segments: about 32 / 0.7 sends per
        // message (46.7 measured), where resending whole rounds would cost several times 32.
        assert!(total > 200 * 32 && total < 200 * 32 * 2, "total {total}");
        // Control messages too.
        let ctl = payload(MAX_UPPER_CONTROL);
        for seed in 0..50 {
            let (delivered, outcome, _) =
                lossy_transfer(seed, 30, SegKind::Control { opcode: 0x0a }, &ctl);
            assert_eq!(delivered.as_deref(), Some(&ctl[..]), "seed {seed}");
            assert_eq!(outcome, Some(Ok(())), "seed {seed}");
        }
    }

    #[test]
    fn lossless_channel_sends_each_segment_once() {
        let data = payload(MAX_UPPER_ACCESS);
        let (delivered, outcome, sent) = lossy_transfer(1, 0, KIND, &data);
        assert_eq!(delivered, Some(data));
        assert_eq!(outcome, Some(Ok(())));
        assert_eq!(sent, 32);
    }
}
