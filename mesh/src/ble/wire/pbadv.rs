//! The PB-ADV provisioning bearer (Mesh Protocol 1.1 §5.2.1) and the Generic Provisioning
//! layer it carries (§5.3): PDUs, the frame check sequence, segmentation of a Provisioning PDU
//! into Transaction Start/Continuation PDUs, and a sans-IO reassembler.
//!
//! A PB-ADV PDU is the payload of a PB-ADV AD structure (AD type 0x29): Link ID (4 octets,
//! big endian), Transaction Number (1) and one Generic Provisioning PDU. A legacy advertising
//! PDU holds 31 octets of AD data, so with the AD structure's length and type octets a PB-ADV
//! PDU is at most 29 octets and a Generic Provisioning PDU at most 24.

use core::fmt;

use super::{at_most, need, Error, Hex, Result, Wire};

/// The largest PB-ADV PDU: 31 octets of advertising data less the AD length and type
/// (§5.2.1).
pub const PB_ADV_MTU: usize = 29;
/// Link ID and Transaction Number (§5.2.1).
pub const PB_ADV_HEADER_LEN: usize = 5;
/// The largest Generic Provisioning PDU carried by PB-ADV (§5.2.1, §5.3.1).
pub const GPDU_MTU: usize = PB_ADV_MTU - PB_ADV_HEADER_LEN;
/// Data octets of a Transaction Start PDU: 24 less the SegN/GPCF, TotalLength and FCS
/// octets (§5.3.1.1).
pub const START_DATA_MAX: usize = GPDU_MTU - 4;
/// Data octets of a Transaction Continuation PDU: 24 less the SegmentIndex/GPCF octet
/// (§5.3.1.3).
pub const CONTINUATION_DATA_MAX: usize = GPDU_MTU - 1;
/// The largest SegN / SegmentIndex: a 6-bit field (§5.3.1.1, §5.3.1.3).
pub const SEG_MAX: u8 = 0x3F;
/// The longest Provisioning PDU a transaction can carry: one Start and 63 Continuations.
pub const MAX_TRANSACTION_LEN: usize = START_DATA_MAX + SEG_MAX as usize * CONTINUATION_DATA_MAX;

/// Generic Provisioning Control Format values, the 2 low bits of the first octet (§5.3.1).
pub mod gpcf {
    /// Transaction Start (§5.3.1.1).
    pub const TRANSACTION_START: u8 = 0b00;
    /// Transaction Acknowledgment (§5.3.1.2).
    pub const TRANSACTION_ACK: u8 = 0b01;
    /// Transaction Continuation (§5.3.1.3).
    pub const TRANSACTION_CONTINUATION: u8 = 0b10;
    /// Provisioning Bearer Control (§5.3.1.4).
    pub const BEARER_CONTROL: u8 = 0b11;
}

/// Provisioning Bearer Control opcodes, the 6 high bits of the first octet (§5.3.1.4); 0x03..=0x3F
/// are RFU.
pub mod bearer_opcode {
    /// Link Open (§5.3.1.4.1).
    pub const LINK_OPEN: u8 = 0x00;
    /// Link Ack (§5.3.1.4.2).
    pub const LINK_ACK: u8 = 0x01;
    /// Link Close (§5.3.1.4.3).
    pub const LINK_CLOSE: u8 = 0x02;
}

/// The Reason of a Link Close message (§5.3.1.4.3);
/// 0x03..=0xFF are not recognized and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LinkCloseReason {
    /// The provisioning was successful.
    Success = 0x00,
    /// The provisioning transaction timed out.
    Timeout = 0x01,
    /// The provisioning failed.
    Fail = 0x02,
}

/// A Provisioning Bearer Control message (§5.3.1.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum BearerControl {
    /// Link Open (0x00): the Device UUID of the device to provision (§5.3.1.4.1).
    LinkOpen {
        /// Device UUID, 16 octets.
        device_uuid: [u8; 16],
    },
    /// Link Ack (0x01, §5.3.1.4.2).
    LinkAck,
    /// Link Close (0x02, §5.3.1.4.3).
    LinkClose {
        /// Why the link closes.
        reason: LinkCloseReason,
    },
}

impl fmt::Debug for BearerControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerControl::LinkOpen { device_uuid } => f
                .debug_struct("LinkOpen")
                .field("device_uuid", &Hex(device_uuid))
                .finish(),
            BearerControl::LinkAck => f.write_str("LinkAck"),
            BearerControl::LinkClose { reason } => {
                f.debug_struct("LinkClose").field("reason", reason).finish()
            }
        }
    }
}

impl BearerControl {
    /// The Bearer Opcode.
    pub const fn opcode(&self) -> u8 {
        match self {
            BearerControl::LinkOpen { .. } => bearer_opcode::LINK_OPEN,
            BearerControl::LinkAck => bearer_opcode::LINK_ACK,
            BearerControl::LinkClose { .. } => bearer_opcode::LINK_CLOSE,
        }
    }
}

/// A Generic Provisioning PDU (§5.3.1), by its GPCF.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum GenericProvisioningPdu {
    /// Transaction Start (GPCF 0b00, §5.3.1.1): the first segment of a Provisioning PDU.
    TransactionStart {
        /// SegN: the number of the last segment, 0..=63.
        seg_n: u8,
        /// TotalLength: the length of the whole Provisioning PDU.
        total_length: u16,
        /// FCS of the whole Provisioning PDU ([`fcs`]).
        fcs: u8,
        /// The segment's data, 1..=20 octets.
        data: Vec<u8>,
    },
    /// Transaction Acknowledgment (GPCF 0b01, padding 0b000000, §5.3.1.2).
    TransactionAck,
    /// Transaction Continuation (GPCF 0b10, §5.3.1.3): a later segment.
    TransactionContinuation {
        /// SegmentIndex, 1..=63 in a well-formed transaction (0 is the Start's).
        segment_index: u8,
        /// The segment's data, 1..=23 octets.
        data: Vec<u8>,
    },
    /// Provisioning Bearer Control (GPCF 0b11, §5.3.1.4).
    BearerControl(BearerControl),
}

impl fmt::Debug for GenericProvisioningPdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenericProvisioningPdu::TransactionStart {
                seg_n,
                total_length,
                fcs,
                data,
            } => f
                .debug_struct("TransactionStart")
                .field("seg_n", seg_n)
                .field("total_length", total_length)
                .field("fcs", &format_args!("{fcs:#04x}"))
                .field("data", &Hex(data))
                .finish(),
            GenericProvisioningPdu::TransactionAck => f.write_str("TransactionAck"),
            GenericProvisioningPdu::TransactionContinuation {
                segment_index,
                data,
            } => f
                .debug_struct("TransactionContinuation")
                .field("segment_index", segment_index)
                .field("data", &Hex(data))
                .finish(),
            GenericProvisioningPdu::BearerControl(c) => c.fmt(f),
        }
    }
}

impl GenericProvisioningPdu {
    /// The GPCF of this PDU.
    pub const fn gpcf(&self) -> u8 {
        match self {
            GenericProvisioningPdu::TransactionStart { .. } => gpcf::TRANSACTION_START,
            GenericProvisioningPdu::TransactionAck => gpcf::TRANSACTION_ACK,
            GenericProvisioningPdu::TransactionContinuation { .. } => {
                gpcf::TRANSACTION_CONTINUATION
            }
            GenericProvisioningPdu::BearerControl(_) => gpcf::BEARER_CONTROL,
        }
    }
}

impl Wire for GenericProvisioningPdu {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        at_most(bytes, GPDU_MTU)?;
        let high = bytes[0] >> 2;
        match bytes[0] & 0b11 {
            gpcf::TRANSACTION_START => {
                // SegN|GPCF, TotalLength (2), FCS (1), then at least one data octet.
                need(bytes, 5)?;
                Ok(GenericProvisioningPdu::TransactionStart {
                    seg_n: high,
                    total_length: u16::from_be_bytes([bytes[1], bytes[2]]),
                    fcs: bytes[3],
                    data: bytes[4..].to_vec(),
                })
            }
            gpcf::TRANSACTION_ACK => {
                at_most(bytes, 1)?;
                if high != 0 {
                    return Err(Error::Invalid {
                        field: "transaction ack padding",
                        value: u32::from(high),
                    });
                }
                Ok(GenericProvisioningPdu::TransactionAck)
            }
            gpcf::TRANSACTION_CONTINUATION => {
                need(bytes, 2)?;
                Ok(GenericProvisioningPdu::TransactionContinuation {
                    segment_index: high,
                    data: bytes[1..].to_vec(),
                })
            }
            _ => {
                let p = &bytes[1..];
                let c = match high {
                    bearer_opcode::LINK_OPEN => {
                        exact(p, 16)?;
                        let mut device_uuid = [0u8; 16];
                        device_uuid.copy_from_slice(p);
                        BearerControl::LinkOpen { device_uuid }
                    }
                    bearer_opcode::LINK_ACK => {
                        exact(p, 0)?;
                        BearerControl::LinkAck
                    }
                    bearer_opcode::LINK_CLOSE => {
                        exact(p, 1)?;
                        let reason = match p[0] {
                            0x00 => LinkCloseReason::Success,
                            0x01 => LinkCloseReason::Timeout,
                            0x02 => LinkCloseReason::Fail,
                            r => {
                                return Err(Error::Invalid {
                                    field: "link close reason",
                                    value: u32::from(r),
                                })
                            }
                        };
                        BearerControl::LinkClose { reason }
                    }
                    op => {
                        return Err(Error::Invalid {
                            field: "bearer opcode",
                            value: u32::from(op),
                        })
                    }
                };
                Ok(GenericProvisioningPdu::BearerControl(c))
            }
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            GenericProvisioningPdu::TransactionStart { data, .. } => 4 + data.len(),
            GenericProvisioningPdu::TransactionAck => 1,
            GenericProvisioningPdu::TransactionContinuation { data, .. } => 1 + data.len(),
            GenericProvisioningPdu::BearerControl(c) => match c {
                BearerControl::LinkOpen { .. } => 17,
                BearerControl::LinkAck => 1,
                BearerControl::LinkClose { .. } => 2,
            },
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        match self {
            GenericProvisioningPdu::TransactionStart {
                seg_n,
                total_length,
                fcs,
                data,
            } => {
                buf[0] = (seg_n << 2) | gpcf::TRANSACTION_START;
                buf[1..3].copy_from_slice(&total_length.to_be_bytes());
                buf[3] = *fcs;
                buf[4..4 + data.len()].copy_from_slice(data);
            }
            GenericProvisioningPdu::TransactionAck => buf[0] = gpcf::TRANSACTION_ACK,
            GenericProvisioningPdu::TransactionContinuation {
                segment_index,
                data,
            } => {
                buf[0] = (segment_index << 2) | gpcf::TRANSACTION_CONTINUATION;
                buf[1..1 + data.len()].copy_from_slice(data);
            }
            GenericProvisioningPdu::BearerControl(c) => {
                buf[0] = (c.opcode() << 2) | gpcf::BEARER_CONTROL;
                match c {
                    BearerControl::LinkOpen { device_uuid } => {
                        buf[1..17].copy_from_slice(device_uuid)
                    }
                    BearerControl::LinkAck => {}
                    BearerControl::LinkClose { reason } => buf[1] = *reason as u8,
                }
            }
        }
    }
}

/// A PB-ADV PDU (§5.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PbAdvPdu {
    /// Link ID: chosen at random by the Provisioner for the link's lifetime.
    pub link_id: u32,
    /// Transaction Number: 0x00..=0x7F from the Provisioner, 0x80..=0xFF from the device;
    /// 0x00 for Bearer Control messages (§5.3.2).
    pub transaction_number: u8,
    /// The Generic Provisioning PDU.
    pub gpdu: GenericProvisioningPdu,
}

impl Wire for PbAdvPdu {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, PB_ADV_HEADER_LEN + 1)?;
        at_most(bytes, PB_ADV_MTU)?;
        Ok(PbAdvPdu {
            link_id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            transaction_number: bytes[4],
            gpdu: GenericProvisioningPdu::parse(&bytes[PB_ADV_HEADER_LEN..])?,
        })
    }

    fn buffer_len(&self) -> usize {
        PB_ADV_HEADER_LEN + self.gpdu.buffer_len()
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[..4].copy_from_slice(&self.link_id.to_be_bytes());
        buf[4] = self.transaction_number;
        self.gpdu.emit(&mut buf[PB_ADV_HEADER_LEN..]);
    }
}

/// The Frame Check Sequence of a Provisioning PDU (§5.3.1.1): the FCS of 3GPP TS 27.010
/// §5.2.1.6, an 8-bit CRC with polynomial x^8 + x^2 + x + 1 processed least significant bit
/// first, initial value 0xFF, and the ones' complement of the remainder sent.
pub fn fcs(data: &[u8]) -> u8 {
    0xFF - crc8_27010(0xFF, data)
}

/// Whether `fcs` is the FCS of `data`: the CRC run over the data and the FCS leaves the
/// 3GPP TS 27.010 "good" remainder 0xCF.
pub fn fcs_ok(data: &[u8], fcs: u8) -> bool {
    crc8_27010(crc8_27010(0xFF, data), &[fcs]) == 0xCF
}

/// The reflected CRC-8 of 3GPP TS 27.010 (polynomial 0x07, reflected 0xE0).
fn crc8_27010(mut crc: u8, data: &[u8]) -> u8 {
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xE0
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// The SegN of a transaction carrying `total_length` octets: 0 when the Start holds them all,
/// else one more per 23 octets beyond the Start's 20 (§5.3.1.1).
pub const fn seg_n_for(total_length: usize) -> usize {
    if total_length <= START_DATA_MAX {
        0
    } else {
        (total_length - START_DATA_MAX).div_ceil(CONTINUATION_DATA_MAX)
    }
}

/// The number of data octets segment `index` carries in a transaction of `total_length`
/// octets, or `None` when the transaction has no such segment.
fn segment_len(total_length: usize, index: usize) -> Option<usize> {
    let seg_n = seg_n_for(total_length);
    if index > seg_n || total_length == 0 {
        None
    } else if index == 0 {
        Some(total_length.min(START_DATA_MAX))
    } else if index < seg_n {
        Some(CONTINUATION_DATA_MAX)
    } else {
        Some(total_length - START_DATA_MAX - (seg_n - 1) * CONTINUATION_DATA_MAX)
    }
}

/// Splits a Provisioning PDU into the Generic Provisioning PDUs of one transaction: a
/// Transaction Start with up to 20 octets and Transaction Continuations with up to 23
/// (§5.3.1.1, §5.3.1.3). Fails on an empty PDU or one longer than [`MAX_TRANSACTION_LEN`].
pub fn segment(provisioning_pdu: &[u8]) -> Result<Vec<GenericProvisioningPdu>> {
    need(provisioning_pdu, 1)?;
    at_most(provisioning_pdu, MAX_TRANSACTION_LEN)?;
    let total = provisioning_pdu.len();
    let seg_n = seg_n_for(total);
    let first = total.min(START_DATA_MAX);
    let mut out = Vec::with_capacity(seg_n + 1);
    out.push(GenericProvisioningPdu::TransactionStart {
        // Both fit: seg_n <= 63 and total <= 1469 were checked above.
        seg_n: u8::try_from(seg_n).unwrap_or(SEG_MAX),
        total_length: u16::try_from(total).unwrap_or(u16::MAX),
        fcs: fcs(provisioning_pdu),
        data: provisioning_pdu[..first].to_vec(),
    });
    for (i, chunk) in provisioning_pdu[first..]
        .chunks(CONTINUATION_DATA_MAX)
        .enumerate()
    {
        out.push(GenericProvisioningPdu::TransactionContinuation {
            segment_index: u8::try_from(i + 1).unwrap_or(SEG_MAX),
            data: chunk.to_vec(),
        });
    }
    Ok(out)
}

/// What feeding a segment to a [`Reassembler`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembly {
    /// More segments are needed (or the segment was a duplicate of one already held).
    Pending,
    /// The transaction is complete and its FCS verified: the Provisioning PDU.
    Complete(Vec<u8>),
    /// A segment of the transaction already completed: the sender did not see the
    /// acknowledgment, which should be sent again (§5.3.2).
    AlreadyComplete,
}

/// The header of the transaction being reassembled, from its Transaction Start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StartInfo {
    seg_n: u8,
    total_length: u16,
    fcs: u8,
}

/// Reassembles the Generic Provisioning segments of one PB-ADV link's incoming transactions
/// (§5.3.1, §5.3.2). Sans-IO: it holds no timer; the link layer sends acknowledgments, runs
/// the transaction timeout and calls [`Reassembler::reset`].
///
/// Segments may arrive in any order, including Continuations before their Start. Segment
/// sizes must be those [`segment`] produces (20 octets in the Start, 23 in every
/// Continuation but the last), SegN must match TotalLength, and the FCS must verify;
/// anything else is an error, after which the transaction is forgotten so that a
/// retransmission can start afresh.
#[derive(Debug, Clone, Default)]
pub struct Reassembler {
    transaction_number: Option<u8>,
    start: Option<StartInfo>,
    segments: Vec<Option<Vec<u8>>>,
    complete: bool,
}

impl Reassembler {
    /// An idle reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets any transaction in progress or completed.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The transaction number being (or last) reassembled.
    pub fn transaction_number(&self) -> Option<u8> {
        self.transaction_number
    }

    /// Feeds one Generic Provisioning PDU of transaction `transaction_number`. A PDU of a
    /// different transaction number than the current one starts a new transaction.
    /// Acknowledgments and Bearer Control messages are not segments and are refused.
    pub fn push(
        &mut self,
        transaction_number: u8,
        gpdu: &GenericProvisioningPdu,
    ) -> Result<Reassembly> {
        if matches!(
            gpdu,
            GenericProvisioningPdu::TransactionAck | GenericProvisioningPdu::BearerControl(_)
        ) {
            return Err(Error::Invalid {
                field: "GPCF",
                value: u32::from(gpdu.gpcf()),
            });
        }
        if self.transaction_number != Some(transaction_number) {
            self.reset();
            self.transaction_number = Some(transaction_number);
        }
        if self.complete {
            return Ok(Reassembly::AlreadyComplete);
        }
        let r = self.accept(gpdu);
        if r.is_err() {
            self.forget();
        }
        r
    }

    fn accept(&mut self, gpdu: &GenericProvisioningPdu) -> Result<Reassembly> {
        match gpdu {
            GenericProvisioningPdu::TransactionStart {
                seg_n,
                total_length,
                fcs,
                data,
            } => {
                let info = StartInfo {
                    seg_n: *seg_n,
                    total_length: *total_length,
                    fcs: *fcs,
                };
                if let Some(known) = self.start {
                    if known != info {
                        return Err(Error::Invalid {
                            field: "transaction start",
                            value: u32::from(info.total_length),
                        });
                    }
                    return Ok(Reassembly::Pending);
                }
                let total = usize::from(*total_length);
                if total == 0 || total > MAX_TRANSACTION_LEN {
                    return Err(Error::Invalid {
                        field: "TotalLength",
                        value: u32::from(*total_length),
                    });
                }
                if usize::from(*seg_n) != seg_n_for(total) {
                    return Err(Error::Invalid {
                        field: "SegN",
                        value: u32::from(*seg_n),
                    });
                }
                check_len(total, 0, data.len())?;
                // Continuations that came first must fit the transaction now known.
                for (i, s) in self.segments.iter().enumerate().skip(1) {
                    if let Some(s) = s {
                        check_len(total, i, s.len())?;
                    }
                }
                self.start = Some(info);
                self.store(0, data);
            }
            GenericProvisioningPdu::TransactionContinuation {
                segment_index,
                data,
            } => {
                let i = usize::from(*segment_index);
                if i == 0 || i > usize::from(SEG_MAX) {
                    return Err(Error::Invalid {
                        field: "SegmentIndex",
                        value: u32::from(*segment_index),
                    });
                }
                if data.is_empty() || data.len() > CONTINUATION_DATA_MAX {
                    return Err(Error::Invalid {
                        field: "continuation length",
                        value: u32::try_from(data.len()).unwrap_or(u32::MAX),
                    });
                }
                if let Some(s) = self.start {
                    check_len(usize::from(s.total_length), i, data.len())?;
                }
                self.store(i, data);
            }
            _ => return Ok(Reassembly::Pending),
        }
        self.try_complete()
    }

    fn store(&mut self, index: usize, data: &[u8]) {
        if self.segments.len() <= index {
            self.segments.resize(index + 1, None);
        }
        if let Some(slot) = self.segments.get_mut(index) {
            if slot.is_none() {
                *slot = Some(data.to_vec());
            }
        }
    }

    fn try_complete(&mut self) -> Result<Reassembly> {
        let Some(start) = self.start else {
            return Ok(Reassembly::Pending);
        };
        let n = usize::from(start.seg_n) + 1;
        if self.segments.len() < n || self.segments[..n].iter().any(Option::is_none) {
            return Ok(Reassembly::Pending);
        }
        let pdu: Vec<u8> = self.segments[..n]
            .iter()
            .flatten()
            .flatten()
            .copied()
            .collect();
        if pdu.len() != usize::from(start.total_length) {
            // Unreachable with the per-segment length checks; kept as a guard.
            return Err(Error::Invalid {
                field: "TotalLength",
                value: u32::from(start.total_length),
            });
        }
        if !fcs_ok(&pdu, start.fcs) {
            return Err(Error::Auth("provisioning PDU FCS"));
        }
        self.complete = true;
        self.start = None;
        self.segments.clear();
        Ok(Reassembly::Complete(pdu))
    }

    /// Drops the segments of the current transaction but remembers its number.
    fn forget(&mut self) {
        self.start = None;
        self.segments.clear();
        self.complete = false;
    }
}

fn check_len(total_length: usize, index: usize, got: usize) -> Result<()> {
    match segment_len(total_length, index) {
        None => Err(Error::Invalid {
            field: "SegmentIndex",
            value: u32::try_from(index).unwrap_or(u32::MAX),
        }),
        Some(n) if n != got => Err(Error::Invalid {
            field: "segment length",
            value: u32::try_from(got).unwrap_or(u32::MAX),
        }),
        Some(_) => Ok(()),
    }
}

fn exact(bytes: &[u8], len: usize) -> Result<()> {
    need(bytes, len)?;
    at_most(bytes, len)
}

/// Runs every parser of this module on `data`; each success must emit bytes that re-parse to
/// the same value. Also segments `data` and reassembles it, and feeds `data`, cut into
/// length-prefixed Generic Provisioning PDUs, to a reassembler (used by the fuzz targets).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    fn check<T: Wire + PartialEq + fmt::Debug>(data: &[u8]) -> Option<T> {
        let v = T::parse(data).ok()?;
        let bytes = v.to_vec();
        assert_eq!(bytes.len(), v.buffer_len());
        assert_eq!(T::parse(&bytes).as_ref(), Ok(&v));
        Some(v)
    }
    check::<PbAdvPdu>(data);
    check::<GenericProvisioningPdu>(data);

    if let Ok(segs) = segment(data) {
        let mut r = Reassembler::new();
        let mut done = None;
        for s in segs.iter().rev() {
            assert!(s.buffer_len() <= GPDU_MTU);
            if let Ok(Reassembly::Complete(p)) = r.push(0, s) {
                done = Some(p);
            }
        }
        assert_eq!(done.as_deref(), Some(data));
    }

    let mut r = Reassembler::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let take = usize::from(n % 26).min(tail.len());
        let (chunk, tail) = tail.split_at(take);
        if let Some(g) = check::<GenericProvisioningPdu>(chunk) {
            let tn = n >> 6;
            if let Ok(Reassembly::Complete(p)) = r.push(tn, &g) {
                assert!(!p.is_empty() && p.len() <= MAX_TRANSACTION_LEN);
            }
        }
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn fcs_known_answers() {
        // 3GPP TS 27.010: the SABM frame on DLCI 0 is F9 03 3F 01 1C F9, its FCS 0x1C
        // computed over Address 0x03, Control 0x3F and Length 0x01.
        assert_eq!(fcs(&[0x03, 0x3F, 0x01]), 0x1C);
        assert!(fcs_ok(&[0x03, 0x3F, 0x01], 0x1C));
        assert!(!fcs_ok(&[0x03, 0x3F, 0x01], 0x1D));
        // CRC-8/ROHC (the same reflected polynomial 0x07, initial 0xFF, no final XOR) of
        // "123456789" is 0xD0; the FCS is its ones' complement.
        assert_eq!(fcs(b"123456789"), !0xD0);
        assert_eq!(fcs(&[]), 0x00);
    }

    #[test]
    fn bearer_control_layouts() {
        // Link Open: Link ID, Transaction Number 0, 0x03 (opcode 0, GPCF 0b11), Device UUID
        // (the §8.4 sample device).
        let open = h("12345678000370cf7c9732a345b691494810d2e9cbf4");
        let p = PbAdvPdu::parse(&open).unwrap();
        assert_eq!(p.link_id, 0x1234_5678);
        assert_eq!(p.transaction_number, 0);
        assert_eq!(
            p.gpdu,
            GenericProvisioningPdu::BearerControl(BearerControl::LinkOpen {
                device_uuid: h("70cf7c9732a345b691494810d2e9cbf4").try_into().unwrap()
            })
        );
        assert_eq!(p.to_vec(), open);
        // Link Ack: 0x07. Link Close: 0x0B and the Reason.
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x07]),
            Ok(GenericProvisioningPdu::BearerControl(
                BearerControl::LinkAck
            ))
        );
        for (r, reason) in [
            (0u8, LinkCloseReason::Success),
            (1, LinkCloseReason::Timeout),
            (2, LinkCloseReason::Fail),
        ] {
            assert_eq!(
                GenericProvisioningPdu::parse(&[0x0B, r]),
                Ok(GenericProvisioningPdu::BearerControl(
                    BearerControl::LinkClose { reason }
                ))
            );
        }
        for r in 3..=0xffu8 {
            assert_eq!(
                GenericProvisioningPdu::parse(&[0x0B, r]),
                Err(Error::Invalid {
                    field: "link close reason",
                    value: u32::from(r)
                })
            );
        }
        for op in 3..=0x3fu8 {
            assert_eq!(
                GenericProvisioningPdu::parse(&[op << 2 | 0b11]),
                Err(Error::Invalid {
                    field: "bearer opcode",
                    value: u32::from(op)
                })
            );
        }
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x07, 0]),
            Err(Error::TooLong { max: 0, got: 1 })
        );
        assert_eq!(
            GenericProvisioningPdu::parse(&open[5..16]),
            Err(Error::Truncated { need: 16, got: 10 })
        );
    }

    #[test]
    fn transaction_ack() {
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x01]),
            Ok(GenericProvisioningPdu::TransactionAck)
        );
        for pad in 1..=0x3fu8 {
            assert_eq!(
                GenericProvisioningPdu::parse(&[pad << 2 | 0b01]),
                Err(Error::Invalid {
                    field: "transaction ack padding",
                    value: u32::from(pad)
                })
            );
        }
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x01, 0x00]),
            Err(Error::TooLong { max: 1, got: 2 })
        );
    }

    #[test]
    fn mtu_and_truncation() {
        assert_eq!(
            GenericProvisioningPdu::parse(&[]),
            Err(Error::Truncated { need: 1, got: 0 })
        );
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x00, 0x00, 0x01, 0x00]),
            Err(Error::Truncated { need: 5, got: 4 })
        );
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x02]),
            Err(Error::Truncated { need: 2, got: 1 })
        );
        assert_eq!(
            GenericProvisioningPdu::parse(&[0x02; 25]),
            Err(Error::TooLong { max: 24, got: 25 })
        );
        assert_eq!(
            PbAdvPdu::parse(&[0; 30]),
            Err(Error::TooLong { max: 29, got: 30 })
        );
        assert_eq!(
            PbAdvPdu::parse(&[0; 5]),
            Err(Error::Truncated { need: 6, got: 5 })
        );
        assert_eq!(MAX_TRANSACTION_LEN, 1469);
    }

    // The Provisioning Public Key PDU of the MshPRT 1.1 §8.17.1 sample (65 octets) needs a
    // Start and two Continuations: 20 + 23 + 22 octets.
    #[test]
    fn public_key_transaction() {
        let pdu = h(
            "032c31a47b5779809ef44cb5eaaf5c3e43d5f8faad4a8794cb987e9b03745c78dd\
                     919512183898dfbecd52e2408e43871fd021109117bd3ed4eaf8437743715d4f",
        );
        assert_eq!(pdu.len(), 65);
        let segs = segment(&pdu).unwrap();
        assert_eq!(segs.len(), 3);
        let GenericProvisioningPdu::TransactionStart {
            seg_n,
            total_length,
            fcs: f,
            data,
        } = &segs[0]
        else {
            panic!()
        };
        assert_eq!((*seg_n, *total_length, data.len()), (2, 65, 20));
        assert_eq!(*f, fcs(&pdu));
        assert_eq!(segs[0].to_vec()[..4], [0x08, 0x00, 0x41, *f]);
        assert_eq!(segs[1].to_vec()[0], 0x06);
        assert_eq!(segs[1].buffer_len(), 24);
        assert_eq!(segs[2].to_vec()[0], 0x0A);
        assert_eq!(segs[2].buffer_len(), 23);
        for s in &segs {
            let wire = PbAdvPdu {
                link_id: 0xdead_beef,
                transaction_number: 0x80,
                gpdu: s.clone(),
            }
            .to_vec();
            assert!(wire.len() <= PB_ADV_MTU);
            assert_eq!(PbAdvPdu::parse(&wire).unwrap().gpdu, *s);
        }
        // In order, reversed, with duplicates.
        let mut r = Reassembler::new();
        assert_eq!(r.push(0x80, &segs[0]), Ok(Reassembly::Pending));
        assert_eq!(r.push(0x80, &segs[0]), Ok(Reassembly::Pending));
        assert_eq!(r.push(0x80, &segs[1]), Ok(Reassembly::Pending));
        assert_eq!(
            r.push(0x80, &segs[2]),
            Ok(Reassembly::Complete(pdu.clone()))
        );
        assert_eq!(r.push(0x80, &segs[1]), Ok(Reassembly::AlreadyComplete));
        let mut r = Reassembler::new();
        assert_eq!(r.push(0x81, &segs[2]), Ok(Reassembly::Pending));
        assert_eq!(r.push(0x81, &segs[1]), Ok(Reassembly::Pending));
        assert_eq!(
            r.push(0x81, &segs[0]),
            Ok(Reassembly::Complete(pdu.clone()))
        );
        assert_eq!(r.transaction_number(), Some(0x81));
        // A new transaction number starts over.
        assert_eq!(r.push(0x82, &segs[1]), Ok(Reassembly::Pending));
    }

    #[test]
    fn single_segment_transactions() {
        // Provisioning Invite (§8.17.1 sample: 0x0000) in one Transaction Start.
        let segs = segment(&[0x00, 0x00]).unwrap();
        assert_eq!(segs.len(), 1);
        let f = fcs(&[0x00, 0x00]);
        assert_eq!(segs[0].to_vec(), vec![0x00, 0x00, 0x02, f, 0x00, 0x00]);
        let mut r = Reassembler::new();
        assert_eq!(r.push(0, &segs[0]), Ok(Reassembly::Complete(vec![0, 0])));
        // Exactly 20 and 21 octets: the boundary between one and two segments.
        assert_eq!(segment(&[7; 20]).unwrap().len(), 1);
        assert_eq!(segment(&[7; 21]).unwrap().len(), 2);
        assert_eq!(segment(&[7; 43]).unwrap().len(), 2);
        assert_eq!(segment(&[7; 44]).unwrap().len(), 3);
        assert_eq!(segment(&[]), Err(Error::Truncated { need: 1, got: 0 }));
        assert_eq!(
            segment(&[0; 1470]),
            Err(Error::TooLong {
                max: 1469,
                got: 1470
            })
        );
        assert_eq!(segment(&[0; 1469]).unwrap().len(), 64);
    }

    fn start(seg_n: u8, total_length: u16, fcs: u8, data: &[u8]) -> GenericProvisioningPdu {
        GenericProvisioningPdu::TransactionStart {
            seg_n,
            total_length,
            fcs,
            data: data.to_vec(),
        }
    }
    fn cont(segment_index: u8, data: &[u8]) -> GenericProvisioningPdu {
        GenericProvisioningPdu::TransactionContinuation {
            segment_index,
            data: data.to_vec(),
        }
    }

    #[test]
    fn reassembler_rejects_inconsistencies() {
        let pdu = [9u8; 30];
        let f = fcs(&pdu);
        let inv = |field: &'static str, value: u32| Err(Error::Invalid { field, value });
        let mut r = Reassembler::new();
        // SegN must match TotalLength.
        assert_eq!(r.push(1, &start(2, 30, f, &pdu[..20])), inv("SegN", 2));
        assert_eq!(r.push(1, &start(0, 30, f, &pdu[..20])), inv("SegN", 0));
        assert_eq!(r.push(1, &start(0, 0, f, &[1])), inv("TotalLength", 0));
        assert_eq!(
            r.push(1, &start(63, 1470, f, &pdu[..20])),
            inv("TotalLength", 1470)
        );
        // The Start must carry min(TotalLength, 20) octets.
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..19])),
            inv("segment length", 19)
        );
        assert_eq!(
            r.push(1, &start(0, 5, f, &pdu[..4])),
            inv("segment length", 4)
        );
        // Continuation index beyond SegN, index 0, wrong last length.
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..20])),
            Ok(Reassembly::Pending)
        );
        assert_eq!(r.push(1, &cont(2, &pdu[..10])), inv("SegmentIndex", 2));
        // The error dropped the transaction; start it again.
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..20])),
            Ok(Reassembly::Pending)
        );
        assert_eq!(r.push(1, &cont(0, &pdu[..10])), inv("SegmentIndex", 0));
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..20])),
            Ok(Reassembly::Pending)
        );
        assert_eq!(r.push(1, &cont(1, &pdu[..9])), inv("segment length", 9));
        // A different Start for the same transaction.
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..20])),
            Ok(Reassembly::Pending)
        );
        assert_eq!(
            r.push(1, &start(1, 31, f, &pdu[..20])),
            inv("transaction start", 31)
        );
        // Early Continuations are checked when the Start arrives.
        assert_eq!(r.push(1, &cont(3, &pdu[..10])), Ok(Reassembly::Pending));
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..20])),
            inv("SegmentIndex", 3)
        );
        // Bad FCS.
        assert_eq!(
            r.push(1, &start(1, 30, f ^ 1, &pdu[..20])),
            Ok(Reassembly::Pending)
        );
        assert_eq!(
            r.push(1, &cont(1, &pdu[20..])),
            Err(Error::Auth("provisioning PDU FCS"))
        );
        // And after all that, a good transaction still completes.
        assert_eq!(r.push(1, &cont(1, &pdu[20..])), Ok(Reassembly::Pending));
        assert_eq!(
            r.push(1, &start(1, 30, f, &pdu[..20])),
            Ok(Reassembly::Complete(pdu.to_vec()))
        );
        // Non-segments are refused.
        assert_eq!(
            r.push(1, &GenericProvisioningPdu::TransactionAck),
            inv("GPCF", 1)
        );
    }

    fn gpdu() -> impl Strategy<Value = GenericProvisioningPdu> {
        prop_oneof![
            (
                0..=SEG_MAX,
                any::<u16>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 1..=START_DATA_MAX)
            )
                .prop_map(|(seg_n, total_length, fcs, data)| {
                    GenericProvisioningPdu::TransactionStart {
                        seg_n,
                        total_length,
                        fcs,
                        data,
                    }
                }),
            Just(GenericProvisioningPdu::TransactionAck),
            (
                0..=SEG_MAX,
                proptest::collection::vec(any::<u8>(), 1..=CONTINUATION_DATA_MAX)
            )
                .prop_map(|(segment_index, data)| {
                    GenericProvisioningPdu::TransactionContinuation {
                        segment_index,
                        data,
                    }
                }),
            any::<[u8; 16]>().prop_map(|device_uuid| GenericProvisioningPdu::BearerControl(
                BearerControl::LinkOpen { device_uuid }
            )),
            Just(GenericProvisioningPdu::BearerControl(
                BearerControl::LinkAck
            )),
            prop_oneof![
                Just(LinkCloseReason::Success),
                Just(LinkCloseReason::Timeout),
                Just(LinkCloseReason::Fail)
            ]
            .prop_map(|reason| GenericProvisioningPdu::BearerControl(
                BearerControl::LinkClose { reason }
            )),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(link_id in any::<u32>(), tn in any::<u8>(), g in gpdu()) {
            let p = PbAdvPdu { link_id, transaction_number: tn, gpdu: g.clone() };
            let b = p.to_vec();
            prop_assert_eq!(b.len(), p.buffer_len());
            prop_assert!(b.len() <= PB_ADV_MTU);
            prop_assert_eq!(PbAdvPdu::parse(&b), Ok(p));
            prop_assert_eq!(GenericProvisioningPdu::parse(&g.to_vec()), Ok(g));
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            fuzz_parse(&data);
            if let Ok(p) = PbAdvPdu::parse(&data) {
                prop_assert_eq!(p.to_vec(), data.clone());
            }
            if let Ok(g) = GenericProvisioningPdu::parse(&data) {
                prop_assert_eq!(g.to_vec(), data);
            }
        }

        #[test]
        fn segment_reassemble(
            pdu in proptest::collection::vec(any::<u8>(), 1..200),
            order in any::<proptest::sample::Index>(),
            dup in any::<proptest::sample::Index>(),
        ) {
            let segs = segment(&pdu).unwrap();
            prop_assert_eq!(segs.len(), seg_n_for(pdu.len()) + 1);
            // Rotate the order and repeat one segment; the result must not change.
            let k = order.index(segs.len());
            let mut feed: Vec<_> = segs[k..].iter().chain(&segs[..k]).cloned().collect();
            feed.insert(0, segs[dup.index(segs.len())].clone());
            let mut r = Reassembler::new();
            let mut out = None;
            for s in &feed {
                prop_assert!(s.buffer_len() <= GPDU_MTU);
                match r.push(5, s).unwrap() {
                    Reassembly::Complete(p) => { prop_assert!(out.is_none()); out = Some(p) }
                    Reassembly::Pending | Reassembly::AlreadyComplete => {}
                }
            }
            prop_assert_eq!(out, Some(pdu));
        }

        #[test]
        fn fcs_detects_single_bit_errors(
            pdu in proptest::collection::vec(any::<u8>(), 1..100),
            bit in any::<proptest::sample::Index>(),
        ) {
            let f = fcs(&pdu);
            prop_assert!(fcs_ok(&pdu, f));
            let mut bad = pdu.clone();
            let i = bit.index(bad.len() * 8);
            bad[i / 8] ^= 1 << (i % 8);
            prop_assert!(!fcs_ok(&bad, f));
        }

        #[test]
        fn reassembler_never_panics(
            feed in proptest::collection::vec((0u8..3, gpdu()), 0..40)
        ) {
            let mut r = Reassembler::new();
            for (tn, g) in &feed {
                if let Ok(Reassembly::Complete(p)) = r.push(*tn, g) {
                    prop_assert!(!p.is_empty() && p.len() <= MAX_TRANSACTION_LEN);
                }
            }
        }
    }
}
