//! Lower transport PDUs (Mesh Protocol 1.1 §3.5.2) and the reassembly buffer of segmented
//! messages (§3.5.3.4).
//!
//! The first octet's top bit, SEG, tells unsegmented from segmented. Whether a PDU carries an
//! access or a control message is the network header's CTL bit, so the two families are parsed
//! by two types: [`LowerAccessPdu`] (CTL = 0) and [`LowerControlPdu`] (CTL = 1).

use crate::ble::address::Seq;

use super::{at_most, need, Error, Hex, Result, Wire};

/// Largest upper transport access PDU in one unsegmented message: 15 octets (§3.5.2.1).
pub const MAX_UNSEGMENTED_ACCESS: usize = 15;
/// Smallest upper transport access PDU: one octet of payload and a 32-bit TransMIC (§3.6.2).
pub const MIN_UPPER_ACCESS: usize = 5;
/// Segment payload of a segmented access message: up to 12 octets (§3.5.2.2).
pub const MAX_ACCESS_SEGMENT: usize = 12;
/// Parameters of an unsegmented control message: up to 11 octets (§3.5.2.3).
pub const MAX_UNSEGMENTED_CONTROL: usize = 11;
/// Segment payload of a segmented control message: up to 8 octets (§3.5.2.4).
pub const MAX_CONTROL_SEGMENT: usize = 8;
/// Segment Acknowledgment opcode (§3.5.2.3.1).
pub const OPCODE_SEGMENT_ACK: u8 = 0x00;
/// At most 32 segments per message: SegN is 5 bits (§3.5.2.2).
pub const MAX_SEGMENTS: usize = 32;

/// The segmentation header shared by segmented access and control PDUs (§3.5.2.2, §3.5.2.4):
/// SZMIC (RFU for control) 1 bit, SeqZero 13 bits, SegO 5 bits, SegN 5 bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SegmentHeader {
    /// Access: size of the TransMIC (0 = 32 bits, 1 = 64 bits). Control: RFU, zero.
    pub szmic: bool,
    /// The 13 least significant bits of SeqAuth.
    pub seq_zero: u16,
    /// This segment's index.
    pub seg_o: u8,
    /// The index of the last segment.
    pub seg_n: u8,
}

impl SegmentHeader {
    fn parse(b: &[u8; 3]) -> Result<Self> {
        let v = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        let h = SegmentHeader {
            szmic: v & 0x80_0000 != 0,
            seq_zero: ((v >> 10) & 0x1fff) as u16,
            seg_o: ((v >> 5) & 0x1f) as u8,
            seg_n: (v & 0x1f) as u8,
        };
        // A receiver ignores a segment whose SegO exceeds SegN (§3.5.3.4).
        if h.seg_o > h.seg_n {
            return Err(Error::Invalid {
                field: "SegO",
                value: h.seg_o.into(),
            });
        }
        Ok(h)
    }

    fn emit(&self) -> [u8; 3] {
        let v = u32::from(self.szmic) << 23
            | u32::from(self.seq_zero & 0x1fff) << 10
            | u32::from(self.seg_o & 0x1f) << 5
            | u32::from(self.seg_n & 0x1f);
        let b = v.to_be_bytes();
        [b[1], b[2], b[3]]
    }

    /// SeqAuth of the message this segment belongs to, given the segment's own SEQ and IV
    /// Index (§3.5.3.1): the largest value not above `iv_index << 24 | seq` whose 13 low bits
    /// are SeqZero.
    pub fn seq_auth(&self, iv_index: u32, seq: Seq) -> u64 {
        let full = u64::from(iv_index) << 24 | u64::from(seq.get());
        let delta = u64::from(seq.get()).wrapping_sub(u64::from(self.seq_zero)) & 0x1fff;
        full.saturating_sub(delta)
    }

    fn check(&self) -> Result<()> {
        if self.seq_zero > 0x1fff {
            return Err(Error::Invalid {
                field: "SeqZero",
                value: self.seq_zero.into(),
            });
        }
        if self.seg_n > 31 || self.seg_o > self.seg_n {
            return Err(Error::Invalid {
                field: "SegO",
                value: self.seg_o.into(),
            });
        }
        Ok(())
    }
}

/// A lower transport PDU of an access message (CTL = 0).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum LowerAccessPdu {
    /// Unsegmented Access message (§3.5.2.1): SEG 0, AKF, AID, upper transport access PDU.
    Unsegmented {
        akf: bool,
        aid: u8,
        upper_pdu: Vec<u8>,
    },
    /// Segmented Access message (§3.5.2.2): SEG 1, AKF, AID, SZMIC, SeqZero, SegO, SegN, segment.
    Segmented {
        akf: bool,
        aid: u8,
        header: SegmentHeader,
        segment: Vec<u8>,
    },
}

impl core::fmt::Debug for LowerAccessPdu {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unsegmented {
                akf,
                aid,
                upper_pdu,
            } => f
                .debug_struct("Unsegmented")
                .field("akf", akf)
                .field("aid", aid)
                .field("upper_pdu", &Hex(upper_pdu))
                .finish(),
            Self::Segmented {
                akf,
                aid,
                header,
                segment,
            } => f
                .debug_struct("Segmented")
                .field("akf", akf)
                .field("aid", aid)
                .field("header", header)
                .field("segment", &Hex(segment))
                .finish(),
        }
    }
}

impl LowerAccessPdu {
    pub fn akf(&self) -> bool {
        match self {
            Self::Unsegmented { akf, .. } | Self::Segmented { akf, .. } => *akf,
        }
    }
    pub fn aid(&self) -> u8 {
        match self {
            Self::Unsegmented { aid, .. } | Self::Segmented { aid, .. } => *aid,
        }
    }
}

impl Wire for LowerAccessPdu {
    fn parse(b: &[u8]) -> Result<Self> {
        need(b, 1)?;
        let akf = b[0] & 0x40 != 0;
        let aid = b[0] & 0x3f;
        if b[0] & 0x80 == 0 {
            let upper = &b[1..];
            need(upper, MIN_UPPER_ACCESS)?;
            at_most(upper, MAX_UNSEGMENTED_ACCESS)?;
            Ok(Self::Unsegmented {
                akf,
                aid,
                upper_pdu: upper.to_vec(),
            })
        } else {
            need(b, 5)?;
            at_most(b, 4 + MAX_ACCESS_SEGMENT)?;
            let header = SegmentHeader::parse(&[b[1], b[2], b[3]])?;
            Ok(Self::Segmented {
                akf,
                aid,
                header,
                segment: b[4..].to_vec(),
            })
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            Self::Unsegmented { upper_pdu, .. } => 1 + upper_pdu.len(),
            Self::Segmented { segment, .. } => 4 + segment.len(),
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        let first = u8::from(self.akf()) << 6 | (self.aid() & 0x3f);
        match self {
            Self::Unsegmented { upper_pdu, .. } => {
                buf[0] = first;
                buf[1..1 + upper_pdu.len()].copy_from_slice(upper_pdu);
            }
            Self::Segmented {
                header, segment, ..
            } => {
                buf[0] = 0x80 | first;
                buf[1..4].copy_from_slice(&header.emit());
                buf[4..4 + segment.len()].copy_from_slice(segment);
            }
        }
    }
}

/// A lower transport PDU of a control message (CTL = 1).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum LowerControlPdu {
    /// Segment Acknowledgment (§3.5.2.3.1): opcode 0x00, OBO, SeqZero, BlockAck.
    SegmentAck {
        obo: bool,
        seq_zero: u16,
        block_ack: u32,
    },
    /// Unsegmented Control message (§3.5.2.3): opcode 0x01..=0x7F and up to 11 octets.
    Unsegmented { opcode: u8, parameters: Vec<u8> },
    /// Segmented Control message (§3.5.2.4): opcode, RFU, SeqZero, SegO, SegN, segment.
    Segmented {
        opcode: u8,
        header: SegmentHeader,
        segment: Vec<u8>,
    },
}

impl core::fmt::Debug for LowerControlPdu {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::SegmentAck {
                obo,
                seq_zero,
                block_ack,
            } => f
                .debug_struct("SegmentAck")
                .field("obo", obo)
                .field("seq_zero", seq_zero)
                .field("block_ack", &format_args!("{block_ack:#010x}"))
                .finish(),
            Self::Unsegmented { opcode, parameters } => f
                .debug_struct("Unsegmented")
                .field("opcode", opcode)
                .field("parameters", &Hex(parameters))
                .finish(),
            Self::Segmented {
                opcode,
                header,
                segment,
            } => f
                .debug_struct("Segmented")
                .field("opcode", opcode)
                .field("header", header)
                .field("segment", &Hex(segment))
                .finish(),
        }
    }
}

impl Wire for LowerControlPdu {
    fn parse(b: &[u8]) -> Result<Self> {
        need(b, 1)?;
        let opcode = b[0] & 0x7f;
        if b[0] & 0x80 == 0 {
            if opcode == OPCODE_SEGMENT_ACK {
                need(b, 7)?;
                at_most(b, 7)?;
                let v = u16::from_be_bytes([b[1], b[2]]);
                // The two least significant bits are RFU (§3.5.2.3.1).
                if v & 0x3 != 0 {
                    return Err(Error::Invalid {
                        field: "Segment Acknowledgment RFU",
                        value: (v & 3).into(),
                    });
                }
                Ok(Self::SegmentAck {
                    obo: v & 0x8000 != 0,
                    seq_zero: (v >> 2) & 0x1fff,
                    block_ack: u32::from_be_bytes([b[3], b[4], b[5], b[6]]),
                })
            } else {
                at_most(&b[1..], MAX_UNSEGMENTED_CONTROL)?;
                Ok(Self::Unsegmented {
                    opcode,
                    parameters: b[1..].to_vec(),
                })
            }
        } else {
            if opcode == OPCODE_SEGMENT_ACK {
                // A Segment Acknowledgment is never segmented.
                return Err(Error::Invalid {
                    field: "segmented control opcode",
                    value: 0,
                });
            }
            need(b, 5)?;
            at_most(b, 4 + MAX_CONTROL_SEGMENT)?;
            let header = SegmentHeader::parse(&[b[1], b[2], b[3]])?;
            if header.szmic {
                return Err(Error::Invalid {
                    field: "segmented control RFU",
                    value: 1,
                });
            }
            Ok(Self::Segmented {
                opcode,
                header,
                segment: b[4..].to_vec(),
            })
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            Self::SegmentAck { .. } => 7,
            Self::Unsegmented { parameters, .. } => 1 + parameters.len(),
            Self::Segmented { segment, .. } => 4 + segment.len(),
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        match self {
            Self::SegmentAck {
                obo,
                seq_zero,
                block_ack,
            } => {
                buf[0] = OPCODE_SEGMENT_ACK;
                let v = u16::from(*obo) << 15 | (seq_zero & 0x1fff) << 2;
                buf[1..3].copy_from_slice(&v.to_be_bytes());
                buf[3..7].copy_from_slice(&block_ack.to_be_bytes());
            }
            Self::Unsegmented { opcode, parameters } => {
                buf[0] = opcode & 0x7f;
                buf[1..1 + parameters.len()].copy_from_slice(parameters);
            }
            Self::Segmented {
                opcode,
                header,
                segment,
            } => {
                buf[0] = 0x80 | (opcode & 0x7f);
                buf[1..4].copy_from_slice(&header.emit());
                buf[4..4 + segment.len()].copy_from_slice(segment);
            }
        }
    }
}

impl LowerAccessPdu {
    /// Checks what `emit` relies on: lengths within the format and a valid segment header.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Unsegmented { upper_pdu, .. } => {
                need(upper_pdu, MIN_UPPER_ACCESS)?;
                at_most(upper_pdu, MAX_UNSEGMENTED_ACCESS)
            }
            Self::Segmented {
                header, segment, ..
            } => {
                header.check()?;
                need(segment, 1)?;
                at_most(segment, MAX_ACCESS_SEGMENT)
            }
        }
    }
}

/// Segments of one message being reassembled (§3.5.3.4): which have arrived, and their bytes.
///
/// This is the buffer; the timers and acknowledgments of the SAR receiver live in the node's
/// transport layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembly {
    seg_n: u8,
    /// Segment size for this message: 12 for access, 8 for control.
    seg_size: usize,
    received: u32,
    data: Vec<u8>,
    /// Length of the last segment, once it has arrived.
    last_len: Option<usize>,
}

impl Reassembly {
    /// A buffer for a message of `seg_n + 1` segments of `seg_size` octets (the last may be
    /// shorter).
    pub fn new(seg_n: u8, seg_size: usize) -> Self {
        let seg_n = seg_n & 0x1f;
        Reassembly {
            seg_n,
            seg_size,
            received: 0,
            data: vec![0; (usize::from(seg_n) + 1) * seg_size],
            last_len: None,
        }
    }

    pub fn seg_n(&self) -> u8 {
        self.seg_n
    }

    /// Stores segment `seg_o`. Returns `Ok(true)` if it was new. Every segment but the last must
    /// be full-sized (§3.5.3.3); a segment that contradicts the message is an error.
    pub fn insert(&mut self, seg_o: u8, seg_n: u8, segment: &[u8]) -> Result<bool> {
        if seg_n != self.seg_n {
            return Err(Error::Invalid {
                field: "SegN",
                value: seg_n.into(),
            });
        }
        if seg_o > self.seg_n {
            return Err(Error::Invalid {
                field: "SegO",
                value: seg_o.into(),
            });
        }
        if segment.is_empty()
            || segment.len() > self.seg_size
            || (seg_o < self.seg_n && segment.len() != self.seg_size)
        {
            return Err(Error::Invalid {
                field: "segment length",
                value: segment.len() as u32,
            });
        }
        let bit = 1u32 << seg_o;
        if self.received & bit != 0 {
            return Ok(false);
        }
        let at = usize::from(seg_o) * self.seg_size;
        self.data[at..at + segment.len()].copy_from_slice(segment);
        if seg_o == self.seg_n {
            self.last_len = Some(segment.len());
        }
        self.received |= bit;
        Ok(true)
    }

    /// BlockAck: bit n set when segment n has arrived (§3.5.2.3.1).
    pub fn block_ack(&self) -> u32 {
        self.received
    }

    pub fn is_complete(&self) -> bool {
        let all = if self.seg_n == 31 {
            u32::MAX
        } else {
            (1u32 << (self.seg_n + 1)) - 1
        };
        self.received == all
    }

    /// The reassembled upper transport PDU, once every segment has arrived.
    pub fn finish(&self) -> Option<Vec<u8>> {
        let last = self.last_len?;
        if !self.is_complete() {
            return None;
        }
        let len = usize::from(self.seg_n) * self.seg_size + last;
        Some(self.data[..len].to_vec())
    }
}

/// Calls every parser of this module on `data`; for the fuzzer.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(p) = LowerAccessPdu::parse(data) {
        assert_eq!(p.to_vec(), data);
    }
    if let Ok(p) = LowerControlPdu::parse(data) {
        assert_eq!(p.to_vec(), data);
    }
    if let Some((&first, rest)) = data.split_first() {
        let mut r = Reassembly::new(first & 0x1f, if first & 0x80 != 0 { 8 } else { 12 });
        for chunk in rest.chunks(13) {
            if let Some((&h, seg)) = chunk.split_first() {
                let _ = r.insert(h & 0x1f, (h >> 5) | (first & 0x1f), seg);
            }
        }
        if let Some(m) = r.finish() {
            assert!(m.len() <= MAX_SEGMENTS * 12);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> impl Strategy<Value = (u16, u8, u8)> {
        (0u16..0x2000, 0u8..32).prop_flat_map(|(z, n)| (Just(z), 0..=n, Just(n)))
    }

    fn access() -> impl Strategy<Value = LowerAccessPdu> {
        prop_oneof![
            (
                any::<bool>(),
                0u8..64,
                proptest::collection::vec(any::<u8>(), MIN_UPPER_ACCESS..=MAX_UNSEGMENTED_ACCESS)
            )
                .prop_map(|(akf, aid, upper_pdu)| LowerAccessPdu::Unsegmented {
                    akf,
                    aid,
                    upper_pdu
                }),
            (
                any::<bool>(),
                0u8..64,
                any::<bool>(),
                header(),
                proptest::collection::vec(any::<u8>(), 1..=MAX_ACCESS_SEGMENT)
            )
                .prop_map(|(akf, aid, szmic, (seq_zero, seg_o, seg_n), segment)| {
                    LowerAccessPdu::Segmented {
                        akf,
                        aid,
                        header: SegmentHeader {
                            szmic,
                            seq_zero,
                            seg_o,
                            seg_n,
                        },
                        segment,
                    }
                }),
        ]
    }

    fn control() -> impl Strategy<Value = LowerControlPdu> {
        prop_oneof![
            (any::<bool>(), 0u16..0x2000, any::<u32>()).prop_map(|(obo, seq_zero, block_ack)| {
                LowerControlPdu::SegmentAck {
                    obo,
                    seq_zero,
                    block_ack,
                }
            }),
            (
                1u8..0x80,
                proptest::collection::vec(any::<u8>(), 0..=MAX_UNSEGMENTED_CONTROL)
            )
                .prop_map(|(opcode, parameters)| LowerControlPdu::Unsegmented {
                    opcode,
                    parameters
                }),
            (
                1u8..0x80,
                header(),
                proptest::collection::vec(any::<u8>(), 1..=MAX_CONTROL_SEGMENT)
            )
                .prop_map(|(opcode, (seq_zero, seg_o, seg_n), segment)| {
                    LowerControlPdu::Segmented {
                        opcode,
                        header: SegmentHeader {
                            szmic: false,
                            seq_zero,
                            seg_o,
                            seg_n,
                        },
                        segment,
                    }
                }),
        ]
    }

    proptest! {
        #[test]
        fn access_round_trip(p in access()) {
            prop_assert!(p.validate().is_ok());
            prop_assert_eq!(LowerAccessPdu::parse(&p.to_vec()).unwrap(), p);
        }

        #[test]
        fn control_round_trip(p in control()) {
            prop_assert_eq!(LowerControlPdu::parse(&p.to_vec()).unwrap(), p);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            fuzz_parse(&data);
        }

        #[test]
        fn reassembly_any_order(payload in proptest::collection::vec(any::<u8>(), 13..=380), seed in any::<u64>()) {
            let segs: Vec<&[u8]> = payload.chunks(12).collect();
            let seg_n = (segs.len() - 1) as u8;
            let mut order: Vec<usize> = (0..segs.len()).collect();
            // A cheap deterministic shuffle.
            let mut s = seed | 1;
            for i in (1..order.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                order.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembly::new(seg_n, 12);
            for (k, &i) in order.iter().enumerate() {
                prop_assert!(r.finish().is_none() || k == 0 && segs.len() == 1);
                prop_assert!(r.insert(i as u8, seg_n, segs[i]).unwrap());
                prop_assert!(!r.insert(i as u8, seg_n, segs[i]).unwrap());
            }
            prop_assert_eq!(r.finish().unwrap(), payload);
        }
    }

    #[test]
    fn segment_ack_known_answer() {
        // Mesh Protocol 1.1 §8.3.7 (message #7, sent by a Friend on behalf of its LPN): OBO 1,
        // SeqZero 0x09ab, BlockAck 0x00000002.
        let b = hex::decode("00a6ac00000002").unwrap();
        let p = LowerControlPdu::parse(&b).unwrap();
        assert_eq!(
            p,
            LowerControlPdu::SegmentAck {
                obo: true,
                seq_zero: 0x09ab,
                block_ack: 2
            }
        );
        assert_eq!(p.to_vec(), b);
    }

    #[test]
    fn segmented_access_known_answer() {
        // Mesh Protocol 1.1 §8.3.6 (message #6, segment 1): AKF 0, SZMIC 0, SeqZero 0x09ab,
        // SegO 0, SegN 1.
        let b = hex::decode("8026ac01ee9dddfd2169326d23f3afdf").unwrap();
        match LowerAccessPdu::parse(&b).unwrap() {
            LowerAccessPdu::Segmented {
                akf,
                aid,
                header,
                segment,
            } => {
                assert!(!akf);
                assert_eq!(aid, 0);
                assert_eq!(
                    header,
                    SegmentHeader {
                        szmic: false,
                        seq_zero: 0x09ab,
                        seg_o: 0,
                        seg_n: 1
                    }
                );
                assert_eq!(segment.len(), 12);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn seq_auth() {
        let h = SegmentHeader {
            szmic: false,
            seq_zero: 0x09ab,
            seg_o: 1,
            seg_n: 1,
        };
        let seq = Seq::new(0x3129ac).unwrap();
        assert_eq!(
            h.seq_auth(0x12345678, seq),
            (0x1234_5678_u64 << 24) | 0x31_29ab
        );
        // SeqZero wraps below a 13-bit boundary.
        let h = SegmentHeader {
            szmic: false,
            seq_zero: 0x1fff,
            seg_o: 1,
            seg_n: 1,
        };
        assert_eq!(h.seq_auth(0, Seq::new(0x2001).unwrap()), 0x1fff);
    }

    #[test]
    fn rejects() {
        // SegO > SegN.
        assert!(LowerAccessPdu::parse(&[0x80, 0x00, 0x00, 0x41, 1]).is_err());
        // Unsegmented access too short for a TransMIC.
        assert!(LowerAccessPdu::parse(&[0x00, 1, 2, 3, 4]).is_err());
        // Segment Acknowledgment with RFU bits or wrong length.
        assert!(LowerControlPdu::parse(&[0x00, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(LowerControlPdu::parse(&[0x00, 0, 0, 0, 0, 0]).is_err());
        // Segmented control with opcode 0.
        assert!(LowerControlPdu::parse(&[0x80, 0, 0, 0, 1]).is_err());
        assert!(LowerControlPdu::parse(&[]).is_err());
        let mut r = Reassembly::new(1, 12);
        assert!(
            r.insert(0, 1, &[0; 11]).is_err(),
            "non-final segments are full"
        );
        assert!(r.insert(2, 1, &[0; 12]).is_err());
        assert!(r.insert(0, 2, &[0; 12]).is_err());
    }
}
