//! The general MAC frame (IEEE 802.15.4-2015 §7.2.1, figure 7-1): Frame Control, Sequence
//! Number, addressing fields, Auxiliary Security Header, header IEs, then the MAC payload
//! (payload IEs and the payload proper). The FCS is handled by [`super::fcs`].

use super::address::{Address, AddressMode};
use super::ie::{parse_header_ies, parse_payload_ies, HeaderIe, PayloadIe, HT1};
use super::security_header::AuxSecurityHeader;
use crate::wire::{need, Error, Result, Wire};

/// Frame Type (§7.2.1.1, table 7-1). Types 4 (reserved), 5 (multipurpose: another frame
/// control layout, §7.3.5), 6 (fragment/Frak, SUN PHYs only) and 7 (extended) are refused by
/// the parser with a reason; Thread sends none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    Beacon,
    Data,
    Ack,
    MacCommand,
}

impl FrameType {
    pub const fn bits(self) -> u16 {
        match self {
            FrameType::Beacon => 0,
            FrameType::Data => 1,
            FrameType::Ack => 2,
            FrameType::MacCommand => 3,
        }
    }
    fn from_bits(b: u16) -> Result<Self> {
        let field = match b & 7 {
            0 => return Ok(FrameType::Beacon),
            1 => return Ok(FrameType::Data),
            2 => return Ok(FrameType::Ack),
            3 => return Ok(FrameType::MacCommand),
            4 => "frame type (4 is reserved, table 7-1)",
            5 => "frame type (5, multipurpose: its frame control layout (§7.3.5) is not supported)",
            6 => "frame type (6, fragment or Frak: SUN PHYs only, not supported)",
            _ => "frame type (7, extended: reserved for future use)",
        };
        Err(Error::Invalid {
            field,
            value: (b & 7) as u32,
        })
    }
}

/// Frame Version (§7.2.1.10, table 7-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameVersion {
    /// 0b00: IEEE 802.15.4-2003.
    V2003,
    /// 0b01: IEEE 802.15.4-2006.
    V2006,
    /// 0b10: IEEE 802.15.4-2015 (and later).
    V2015,
}

impl FrameVersion {
    pub const fn bits(self) -> u16 {
        match self {
            FrameVersion::V2003 => 0,
            FrameVersion::V2006 => 1,
            FrameVersion::V2015 => 2,
        }
    }
}

/// The MAC payload of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// An unsecured frame, or a secured one after [`crate::thread::security::unsecure`]: the
    /// payload IEs (present when the header IEs end with HT1) and the payload.
    Open {
        payload_ies: Vec<PayloadIe>,
        payload: Vec<u8>,
    },
    /// A secured frame as received: everything after the header IEs up to the MIC (open and
    /// private payload, possibly encrypted), and the MIC.
    Secured { data: Vec<u8>, mic: Vec<u8> },
}

/// An IEEE 802.15.4 MAC frame without its FCS.
///
/// Invariants the parser guarantees and a built frame must keep to round-trip: `dst_pan` and
/// `src_pan` are `Some` exactly where [`Frame::pan_ids_present`] says; `sequence_number` is
/// `None` only in 2015 frames; `security` is `Some` exactly when the body is `Secured` (or an
/// unsecured body of a once-secured frame, which emits as its plaintext form); payload IEs
/// are present only after a header IE list ending in HT1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub frame_type: FrameType,
    pub version: FrameVersion,
    /// Frame Pending (bit 4, §7.2.1.3).
    pub frame_pending: bool,
    /// AR, acknowledgment request (bit 5, §7.2.1.4).
    pub ack_request: bool,
    /// PAN ID Compression (bit 6, §7.2.1.5), as on the air.
    pub pan_id_compression: bool,
    /// `None` when Sequence Number Suppression (bit 8, §7.2.1.7) is set.
    pub sequence_number: Option<u8>,
    pub dst_pan: Option<u16>,
    pub dst: Address,
    pub src_pan: Option<u16>,
    pub src: Address,
    /// The Auxiliary Security Header when Security Enabled (bit 3, §7.2.1.2) is set.
    pub security: Option<AuxSecurityHeader>,
    /// Header IEs (IE Present, bit 9, §7.2.1.9, is set when this is not empty).
    pub header_ies: Vec<HeaderIe>,
    pub body: Body,
}

const SECURITY_ENABLED: u16 = 1 << 3;
const FRAME_PENDING: u16 = 1 << 4;
const ACK_REQUEST: u16 = 1 << 5;
const PAN_ID_COMPRESSION: u16 = 1 << 6;
const RESERVED_BIT7: u16 = 1 << 7;
const SEQ_SUPPRESSION: u16 = 1 << 8;
const IE_PRESENT: u16 = 1 << 9;

impl Frame {
    /// Which PAN ID fields are present, (destination, source).
    ///
    /// 2003 and 2006 frames (§7.2.1.5 of 802.15.4-2006): a PAN ID accompanies each present
    /// address, except that the source PAN ID is elided when both addresses are present and
    /// PAN ID Compression is set. 2015 frames: table 7-2 of 802.15.4-2015.
    pub fn pan_ids_present(
        version: FrameVersion,
        dst: AddressMode,
        src: AddressMode,
        compression: bool,
    ) -> (bool, bool) {
        use AddressMode::{Extended, None};
        if version < FrameVersion::V2015 {
            let d = !dst.is_none();
            return (d, !(src.is_none() || compression && d));
        }
        match (dst, src) {
            (None, None) => (compression, false),
            (_, None) => (!compression, false),
            (None, _) => (false, !compression),
            (Extended, Extended) => (!compression, false),
            _ => (true, !compression),
        }
    }

    /// The Frame Control field (§7.2.1, figure 7-2).
    pub fn frame_control(&self) -> u16 {
        let mut fc = self.frame_type.bits();
        if self.security.is_some() {
            fc |= SECURITY_ENABLED;
        }
        if self.frame_pending {
            fc |= FRAME_PENDING;
        }
        if self.ack_request {
            fc |= ACK_REQUEST;
        }
        if self.pan_id_compression {
            fc |= PAN_ID_COMPRESSION;
        }
        if self.sequence_number.is_none() {
            fc |= SEQ_SUPPRESSION;
        }
        if !self.header_ies.is_empty() {
            fc |= IE_PRESENT;
        }
        fc | (self.dst.mode().bits() << 10)
            | (self.version.bits() << 12)
            | (self.src.mode().bits() << 14)
    }

    fn addressing_len(&self) -> usize {
        let (d, s) = Self::pan_ids_present(
            self.version,
            self.dst.mode(),
            self.src.mode(),
            self.pan_id_compression,
        );
        2 * (d as usize) + 2 * (s as usize) + self.dst.mode().size() + self.src.mode().size()
    }

    /// Octets from the Frame Control through the Auxiliary Security Header (the header proper,
    /// without IEs).
    pub fn mhr_len(&self) -> usize {
        2 + self.sequence_number.is_some() as usize
            + self.addressing_len()
            + self.security.map_or(0, |s| s.buffer_len())
    }

    /// Octets of the header IEs.
    pub fn header_ies_len(&self) -> usize {
        self.header_ies.iter().map(HeaderIe::buffer_len).sum()
    }

    /// Whether payload IEs follow the header IEs (the list ends with HT1, §7.4.2.17).
    pub fn has_payload_ies(&self) -> bool {
        self.header_ies.last().is_some_and(|ie| ie.id == HT1)
    }

    /// Writes the MHR and the header IEs into `b` and returns their length.
    pub(crate) fn emit_header(&self, b: &mut [u8]) -> usize {
        b[..2].copy_from_slice(&self.frame_control().to_le_bytes());
        let mut at = 2;
        if let Some(s) = self.sequence_number {
            b[at] = s;
            at += 1;
        }
        let (d, s) = Self::pan_ids_present(
            self.version,
            self.dst.mode(),
            self.src.mode(),
            self.pan_id_compression,
        );
        if d {
            b[at..at + 2].copy_from_slice(&self.dst_pan.unwrap_or(0xffff).to_le_bytes());
            at += 2;
        }
        self.dst.write(&mut b[at..]);
        at += self.dst.mode().size();
        if s {
            b[at..at + 2].copy_from_slice(&self.src_pan.unwrap_or(0xffff).to_le_bytes());
            at += 2;
        }
        self.src.write(&mut b[at..]);
        at += self.src.mode().size();
        if let Some(sec) = &self.security {
            let n = sec.buffer_len();
            sec.emit(&mut b[at..at + n]);
            at += n;
        }
        for ie in &self.header_ies {
            at += ie.emit(&mut b[at..]);
        }
        at
    }

    /// The source PAN ID a receiver uses: the source PAN ID field, or the destination's when
    /// compressed away.
    pub fn effective_src_pan(&self) -> Option<u16> {
        self.src_pan.or(self.dst_pan)
    }
}

fn invalid(field: &'static str, value: u16) -> Error {
    Error::Invalid {
        field,
        value: value as u32,
    }
}

/// A frame parsed without copying its MAC payload: the frame with an empty payload (an
/// empty `Body::Secured` for a secured frame, the payload IEs and an empty payload for an open
/// one), and where in the parsed octets the payload (or the secured data) and the MIC start.
/// The octets before `payload_at` are the MHR, auxiliary security header and header IEs (and
/// payload IEs of an open frame) exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameParts {
    pub frame: Frame,
    pub payload_at: usize,
    pub mic_at: usize,
}

impl Frame {
    /// Parses `b` as [`Frame::parse`] does, without copying the payload: for decoders that
    /// open a frame in their own buffers.
    pub fn parse_parts(b: &[u8]) -> Result<FrameParts> {
        need(b, 2)?;
        let fc = u16::from_le_bytes([b[0], b[1]]);
        let frame_type = FrameType::from_bits(fc)?;
        let version = match (fc >> 12) & 3 {
            0 => FrameVersion::V2003,
            1 => FrameVersion::V2006,
            2 => FrameVersion::V2015,
            v => return Err(invalid("frame version (3 is reserved, table 7-4)", v)),
        };
        if fc & RESERVED_BIT7 != 0 {
            return Err(invalid("frame control (reserved bit 7 set)", fc));
        }
        if version < FrameVersion::V2015 && fc & (SEQ_SUPPRESSION | IE_PRESENT) != 0 {
            return Err(invalid(
                "frame control (bits 8-9 are reserved before 802.15.4-2015)",
                fc,
            ));
        }
        let dst_mode = AddressMode::from_bits(fc >> 10)
            .ok_or_else(|| invalid("destination addressing mode (0b01 is reserved)", fc))?;
        let src_mode = AddressMode::from_bits(fc >> 14)
            .ok_or_else(|| invalid("source addressing mode (0b01 is reserved)", fc))?;
        let compression = fc & PAN_ID_COMPRESSION != 0;

        let mut at = 2;
        let sequence_number = if fc & SEQ_SUPPRESSION != 0 {
            None
        } else {
            need(b, 3)?;
            at = 3;
            Some(b[2])
        };
        let (dp, sp) = Frame::pan_ids_present(version, dst_mode, src_mode, compression);
        let alen = 2 * (dp as usize) + 2 * (sp as usize) + dst_mode.size() + src_mode.size();
        need(b, at + alen)?;
        let pan = |present: bool, at: &mut usize| {
            present.then(|| {
                let p = u16::from_le_bytes([b[*at], b[*at + 1]]);
                *at += 2;
                p
            })
        };
        let dst_pan = pan(dp, &mut at);
        let dst = Address::read(dst_mode, &b[at..]);
        at += dst_mode.size();
        let src_pan = pan(sp, &mut at);
        let src = Address::read(src_mode, &b[at..]);
        at += src_mode.size();

        let security = if fc & SECURITY_ENABLED != 0 {
            if version == FrameVersion::V2003 {
                return Err(invalid(
                    "security enabled in a 2003 frame (802.15.4-2003 security is not supported)",
                    fc,
                ));
            }
            let (h, n) = AuxSecurityHeader::parse_prefix(&b[at..])?;
            at += n;
            Some(h)
        } else {
            None
        };
        let mic_len = security.map_or(0, |s| s.level.mic_len());
        let end = b
            .len()
            .checked_sub(mic_len)
            .filter(|&e| e >= at)
            .ok_or(Error::Truncated {
                need: at + mic_len,
                got: b.len(),
            })?;

        let header_ies = if fc & IE_PRESENT != 0 {
            let (ies, n) = parse_header_ies(&b[at..end])?;
            if ies.is_empty() {
                return Err(invalid("IE Present set but no header IE follows", fc));
            }
            at += n;
            ies
        } else {
            Vec::new()
        };
        let payload_ies_follow = header_ies.last().is_some_and(|ie| ie.id == HT1);

        let (body, payload_at) = if security.is_some() {
            (
                Body::Secured {
                    data: Vec::new(),
                    mic: Vec::new(),
                },
                at,
            )
        } else {
            let payload_ies = if payload_ies_follow {
                let (ies, n) = parse_payload_ies(&b[at..])?;
                at += n;
                ies
            } else {
                Vec::new()
            };
            (
                Body::Open {
                    payload_ies,
                    payload: Vec::new(),
                },
                at,
            )
        };
        let frame = Frame {
            frame_type,
            version,
            frame_pending: fc & FRAME_PENDING != 0,
            ack_request: fc & ACK_REQUEST != 0,
            pan_id_compression: compression,
            sequence_number,
            dst_pan,
            dst,
            src_pan,
            src,
            security,
            header_ies,
            body,
        };
        Ok(FrameParts {
            frame,
            payload_at,
            mic_at: end,
        })
    }
}

impl Wire for Frame {
    fn parse(b: &[u8]) -> Result<Self> {
        let FrameParts {
            mut frame,
            payload_at,
            mic_at,
        } = Frame::parse_parts(b)?;
        match &mut frame.body {
            Body::Secured { data, mic } => {
                *data = b[payload_at..mic_at].to_vec();
                *mic = b[mic_at..].to_vec();
            }
            Body::Open { payload, .. } => *payload = b[payload_at..].to_vec(),
        }
        Ok(frame)
    }

    fn buffer_len(&self) -> usize {
        self.mhr_len()
            + self.header_ies_len()
            + match &self.body {
                Body::Open {
                    payload_ies,
                    payload,
                } => payload_ies.iter().map(PayloadIe::buffer_len).sum::<usize>() + payload.len(),
                Body::Secured { data, mic } => data.len() + mic.len(),
            }
    }

    fn emit(&self, b: &mut [u8]) {
        let mut at = self.emit_header(b);
        match &self.body {
            Body::Open {
                payload_ies,
                payload,
            } => {
                for ie in payload_ies {
                    at += ie.emit(&mut b[at..]);
                }
                b[at..at + payload.len()].copy_from_slice(payload);
            }
            Body::Secured { data, mic } => {
                b[at..at + data.len()].copy_from_slice(data);
                at += data.len();
                b[at..at + mic.len()].copy_from_slice(mic);
            }
        }
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
pub(crate) mod tests;
