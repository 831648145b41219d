//! The LOWPAN_IPHC encoding (RFC 6282 §3.1, figure 2) as it is on the air: the two base
//! octets `011 TF(2) NH HLIM(2) | CID SAC SAM(2) M DAC DAM(2)`, then the in-line fields in the
//! order of §3.2: context identifiers, traffic class and flow label, next header, hop limit,
//! source address, destination address. Turning these into IPv6 fields (which needs the
//! contexts and link-layer addresses) is [`super::datagram`]'s job.

use crate::wire::{need, Error, Result, Wire};

/// The IPHC dispatch: the three top bits `011` (RFC 6282 §3.1).
pub const IPHC_DISPATCH: u8 = 0b011;

/// TF: traffic class and flow label (RFC 6282 §3.1.1). ECN is the top two bits of the in-line
/// octet, DSCP the lower six (the IPv6 traffic class is `DSCP << 2 | ECN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrafficFlow {
    /// TF = 00: ECN, DSCP, 4 bits of padding, flow label (4 octets).
    Inline { ecn: u8, dscp: u8, flow_label: u32 },
    /// TF = 01: ECN, 2 bits of padding, flow label (3 octets); DSCP elided (0).
    EcnFlow { ecn: u8, flow_label: u32 },
    /// TF = 10: ECN and DSCP (1 octet); flow label elided (0).
    EcnDscp { ecn: u8, dscp: u8 },
    /// TF = 11: traffic class and flow label elided (0).
    Elided,
}

impl TrafficFlow {
    fn bits(&self) -> u8 {
        match self {
            TrafficFlow::Inline { .. } => 0,
            TrafficFlow::EcnFlow { .. } => 1,
            TrafficFlow::EcnDscp { .. } => 2,
            TrafficFlow::Elided => 3,
        }
    }
    fn len(&self) -> usize {
        [4, 3, 1, 0][self.bits() as usize]
    }
    /// (traffic class, flow label) of the IPv6 header.
    pub fn values(&self) -> (u8, u32) {
        match *self {
            TrafficFlow::Inline {
                ecn,
                dscp,
                flow_label,
            } => ((dscp << 2) | (ecn & 3), flow_label & 0xfffff),
            TrafficFlow::EcnFlow { ecn, flow_label } => (ecn & 3, flow_label & 0xfffff),
            TrafficFlow::EcnDscp { ecn, dscp } => ((dscp << 2) | (ecn & 3), 0),
            TrafficFlow::Elided => (0, 0),
        }
    }
    /// The most compact encoding of a traffic class and flow label.
    pub fn compress(traffic_class: u8, flow_label: u32) -> Self {
        let (ecn, dscp, flow_label) = (traffic_class & 3, traffic_class >> 2, flow_label & 0xfffff);
        match (dscp, flow_label) {
            (0, 0) if ecn == 0 => TrafficFlow::Elided,
            (_, 0) => TrafficFlow::EcnDscp { ecn, dscp },
            (0, _) => TrafficFlow::EcnFlow { ecn, flow_label },
            _ => TrafficFlow::Inline {
                ecn,
                dscp,
                flow_label,
            },
        }
    }
}

/// HLIM (RFC 6282 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HopLimit {
    Inline(u8),
    One,
    SixtyFour,
    TwoFiftyFive,
}

impl HopLimit {
    pub fn value(self) -> u8 {
        match self {
            HopLimit::Inline(h) => h,
            HopLimit::One => 1,
            HopLimit::SixtyFour => 64,
            HopLimit::TwoFiftyFive => 255,
        }
    }
    pub fn compress(h: u8) -> Self {
        match h {
            1 => HopLimit::One,
            64 => HopLimit::SixtyFour,
            255 => HopLimit::TwoFiftyFive,
            h => HopLimit::Inline(h),
        }
    }
    fn bits(self) -> u8 {
        match self {
            HopLimit::Inline(_) => 0,
            HopLimit::One => 1,
            HopLimit::SixtyFour => 2,
            HopLimit::TwoFiftyFive => 3,
        }
    }
}

/// The IPHC header with its in-line fields, as on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iphc {
    pub traffic_flow: TrafficFlow,
    /// The in-line Next Header; `None` when NH = 1 (a LOWPAN_NHC encoding follows).
    pub next_header: Option<u8>,
    pub hop_limit: HopLimit,
    /// CID = 1: (source, destination) context identifiers (SCI, DCI).
    pub context_ids: Option<(u8, u8)>,
    /// SAC: source address compression is context based.
    pub sac: bool,
    /// SAM (0-3).
    pub sam: u8,
    pub src_inline: Vec<u8>,
    /// M: the destination is multicast.
    pub multicast: bool,
    /// DAC: destination address compression is context based.
    pub dac: bool,
    /// DAM (0-3).
    pub dam: u8,
    pub dst_inline: Vec<u8>,
}

/// In-line octets of the source address for (SAC, SAM) (RFC 6282 §3.1.1).
pub(crate) fn src_inline_len(sac: bool, sam: u8) -> usize {
    match (sac, sam & 3) {
        (false, 0) => 16,
        (true, 0) => 0, // the unspecified address
        (_, 1) => 8,
        (_, 2) => 2,
        _ => 0,
    }
}

/// In-line octets of the destination address for (M, DAC, DAM), or `None` when reserved.
pub(crate) fn dst_inline_len(m: bool, dac: bool, dam: u8) -> Option<usize> {
    match (m, dac, dam & 3) {
        (false, false, 0) => Some(16),
        (false, true, 0) => None,
        (false, _, 1) => Some(8),
        (false, _, 2) => Some(2),
        (false, _, _) => Some(0),
        (true, false, d) => Some([16, 6, 4, 1][d as usize]),
        (true, true, 0) => Some(6),
        (true, true, _) => None,
    }
}

impl Iphc {
    /// Parses an IPHC header at the start of `b`; returns it and its length.
    pub fn parse_prefix(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 2)?;
        if b[0] >> 5 != IPHC_DISPATCH {
            return Err(Error::Invalid {
                field: "IPHC dispatch (011xxxxx)",
                value: b[0] as u32,
            });
        }
        let (tf, nh, hlim) = ((b[0] >> 3) & 3, b[0] & 4 != 0, b[0] & 3);
        let (cid, sac, sam) = (b[1] & 0x80 != 0, b[1] & 0x40 != 0, (b[1] >> 4) & 3);
        let (m, dac, dam) = (b[1] & 8 != 0, b[1] & 4 != 0, b[1] & 3);
        let dlen = dst_inline_len(m, dac, dam).ok_or(Error::Invalid {
            field: "IPHC destination mode (M/DAC/DAM combination is reserved)",
            value: b[1] as u32 & 0x0f,
        })?;
        let tf_len = [4, 3, 1, 0][tf as usize];
        let slen = src_inline_len(sac, sam);
        let total = 2 + cid as usize + tf_len + (!nh) as usize + (hlim == 0) as usize + slen + dlen;
        need(b, total)?;
        let mut at = 2;
        let context_ids = cid.then(|| {
            at += 1;
            (b[2] >> 4, b[2] & 0x0f)
        });
        let f = &b[at..at + tf_len];
        let traffic_flow = match tf {
            0 => TrafficFlow::Inline {
                ecn: f[0] >> 6,
                dscp: f[0] & 0x3f,
                flow_label: u32::from_be_bytes([0, f[1] & 0x0f, f[2], f[3]]),
            },
            1 => TrafficFlow::EcnFlow {
                ecn: f[0] >> 6,
                flow_label: u32::from_be_bytes([0, f[0] & 0x0f, f[1], f[2]]),
            },
            2 => TrafficFlow::EcnDscp {
                ecn: f[0] >> 6,
                dscp: f[0] & 0x3f,
            },
            _ => TrafficFlow::Elided,
        };
        at += tf_len;
        let next_header = (!nh).then(|| {
            at += 1;
            b[at - 1]
        });
        let hop_limit = match hlim {
            0 => {
                at += 1;
                HopLimit::Inline(b[at - 1])
            }
            1 => HopLimit::One,
            2 => HopLimit::SixtyFour,
            _ => HopLimit::TwoFiftyFive,
        };
        let src_inline = b[at..at + slen].to_vec();
        at += slen;
        let dst_inline = b[at..at + dlen].to_vec();
        at += dlen;
        Ok((
            Iphc {
                traffic_flow,
                next_header,
                hop_limit,
                context_ids,
                sac,
                sam,
                src_inline,
                multicast: m,
                dac,
                dam,
                dst_inline,
            },
            at,
        ))
    }
}

impl Wire for Iphc {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let (h, n) = Self::parse_prefix(bytes)?;
        if n != bytes.len() {
            return Err(Error::TooLong {
                max: n,
                got: bytes.len(),
            });
        }
        Ok(h)
    }

    fn buffer_len(&self) -> usize {
        2 + self.context_ids.is_some() as usize
            + self.traffic_flow.len()
            + self.next_header.is_some() as usize
            + matches!(self.hop_limit, HopLimit::Inline(_)) as usize
            + self.src_inline.len()
            + self.dst_inline.len()
    }

    fn emit(&self, b: &mut [u8]) {
        b[0] = (IPHC_DISPATCH << 5)
            | (self.traffic_flow.bits() << 3)
            | ((self.next_header.is_none() as u8) << 2)
            | self.hop_limit.bits();
        b[1] = ((self.context_ids.is_some() as u8) << 7)
            | ((self.sac as u8) << 6)
            | ((self.sam & 3) << 4)
            | ((self.multicast as u8) << 3)
            | ((self.dac as u8) << 2)
            | (self.dam & 3);
        let mut at = 2;
        if let Some((s, d)) = self.context_ids {
            b[2] = (s << 4) | (d & 0x0f);
            at = 3;
        }
        match self.traffic_flow {
            TrafficFlow::Inline {
                ecn,
                dscp,
                flow_label,
            } => {
                let f = flow_label.to_be_bytes();
                b[at..at + 4].copy_from_slice(&[
                    (ecn << 6) | (dscp & 0x3f),
                    f[1] & 0x0f,
                    f[2],
                    f[3],
                ]);
            }
            TrafficFlow::EcnFlow { ecn, flow_label } => {
                let f = flow_label.to_be_bytes();
                b[at..at + 3].copy_from_slice(&[(ecn << 6) | (f[1] & 0x0f), f[2], f[3]]);
            }
            TrafficFlow::EcnDscp { ecn, dscp } => b[at] = (ecn << 6) | (dscp & 0x3f),
            TrafficFlow::Elided => {}
        }
        at += self.traffic_flow.len();
        if let Some(nh) = self.next_header {
            b[at] = nh;
            at += 1;
        }
        if let HopLimit::Inline(h) = self.hop_limit {
            b[at] = h;
            at += 1;
        }
        b[at..at + self.src_inline.len()].copy_from_slice(&self.src_inline);
        at += self.src_inline.len();
        b[at..at + self.dst_inline.len()].copy_from_slice(&self.dst_inline);
    }
}
