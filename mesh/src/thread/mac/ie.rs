//! Information elements (IEEE 802.15.4-2015 §7.4): header IEs (§7.4.2) and payload IEs
//! (§7.4.3), each kept as (ID, content) with the content unparsed. Termination IEs are kept in
//! the lists where they appeared, so a frame re-emits exactly as it was received.

use crate::wire::{Error, Result};

/// Header Termination 1 (§7.4.2.17, table 7-7): payload IEs follow the header IEs.
pub const HT1: u8 = 0x7e;
/// Header Termination 2 (§7.4.2.17): the MAC payload (no payload IEs) follows the header IEs.
pub const HT2: u8 = 0x7f;
/// Payload Termination IE group ID (§7.4.3.1, table 7-15): the MAC payload follows.
pub const PAYLOAD_TERMINATION: u8 = 0x0f;

/// Largest content of a header IE: the Length field has 7 bits (§7.4.2.1, figure 7-21).
pub const HEADER_IE_MAX: usize = 0x7f;
/// Largest content of a payload IE: the Length field has 11 bits (§7.4.3.1, figure 7-46).
pub const PAYLOAD_IE_MAX: usize = 0x7ff;

/// A header IE (§7.4.2.1): descriptor = Length (bits 0-6) | Element ID (bits 7-14) | Type 0
/// (bit 15), little endian, then the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderIe {
    pub id: u8,
    pub content: Vec<u8>,
}

/// A payload IE (§7.4.3.1): descriptor = Length (bits 0-10) | Group ID (bits 11-14) | Type 1
/// (bit 15), little endian, then the content (nested IEs of the MLME group are not parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadIe {
    pub group_id: u8,
    pub content: Vec<u8>,
}

impl HeaderIe {
    pub fn is_termination(&self) -> bool {
        self.id == HT1 || self.id == HT2
    }
    pub fn buffer_len(&self) -> usize {
        2 + self.content.len()
    }
    pub(crate) fn emit(&self, b: &mut [u8]) -> usize {
        let d = (self.content.len() as u16 & 0x7f) | ((self.id as u16) << 7);
        b[..2].copy_from_slice(&d.to_le_bytes());
        b[2..2 + self.content.len()].copy_from_slice(&self.content);
        self.buffer_len()
    }
}

impl PayloadIe {
    pub fn buffer_len(&self) -> usize {
        2 + self.content.len()
    }
    pub(crate) fn emit(&self, b: &mut [u8]) -> usize {
        let d =
            (self.content.len() as u16 & 0x7ff) | (((self.group_id & 0xf) as u16) << 11) | 0x8000;
        b[..2].copy_from_slice(&d.to_le_bytes());
        b[2..2 + self.content.len()].copy_from_slice(&self.content);
        self.buffer_len()
    }
}

fn descriptor(b: &[u8], at: usize) -> Result<u16> {
    match b.get(at..at + 2) {
        Some(d) => Ok(u16::from_le_bytes([d[0], d[1]])),
        None => Err(Error::Truncated {
            need: at + 2,
            got: b.len(),
        }),
    }
}

fn content(b: &[u8], at: usize, len: usize) -> Result<Vec<u8>> {
    b.get(at..at + len)
        .map(<[u8]>::to_vec)
        .ok_or(Error::Truncated {
            need: at + len,
            got: b.len(),
        })
}

/// Parses header IEs from the start of `b` until a termination IE (included in the list) or
/// the end of `b`. Returns the list and the octets consumed.
pub(crate) fn parse_header_ies(b: &[u8]) -> Result<(Vec<HeaderIe>, usize)> {
    let mut at = 0;
    let mut ies = Vec::new();
    while at < b.len() {
        let d = descriptor(b, at)?;
        if d & 0x8000 != 0 {
            return Err(Error::Invalid {
                field: "header IE type (a payload IE before a header termination IE)",
                value: d as u32,
            });
        }
        let len = (d & 0x7f) as usize;
        let id = ((d >> 7) & 0xff) as u8;
        let ie = HeaderIe {
            id,
            content: content(b, at + 2, len)?,
        };
        at += 2 + len;
        let term = ie.is_termination();
        ies.push(ie);
        if term {
            break;
        }
    }
    Ok((ies, at))
}

/// Parses payload IEs from the start of `b` until a Payload Termination IE (included) or the
/// end of `b`. Returns the list and the octets consumed.
pub(crate) fn parse_payload_ies(b: &[u8]) -> Result<(Vec<PayloadIe>, usize)> {
    let mut at = 0;
    let mut ies = Vec::new();
    while at < b.len() {
        let d = descriptor(b, at)?;
        if d & 0x8000 == 0 {
            return Err(Error::Invalid {
                field: "payload IE type (a header IE among payload IEs)",
                value: d as u32,
            });
        }
        let len = (d & 0x7ff) as usize;
        let group_id = ((d >> 11) & 0xf) as u8;
        let ie = PayloadIe {
            group_id,
            content: content(b, at + 2, len)?,
        };
        at += 2 + len;
        ies.push(ie);
        if group_id == PAYLOAD_TERMINATION {
            break;
        }
    }
    Ok((ies, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_ies_stop_at_termination() {
        // A CSL IE (ID 0x1a, 6 octets: phase and period, §7.4.2.3) then HT2, then payload.
        let ie = HeaderIe {
            id: 0x1a,
            content: vec![1, 2, 3, 4, 5, 6],
        };
        let mut b = vec![0u8; 8];
        ie.emit(&mut b);
        // Descriptor: length 6, ID 0x1a -> 0x0d06, little endian.
        assert_eq!(&b[..2], &[0x06, 0x0d]);
        b.extend_from_slice(&[0x80, 0x3f]); // HT2: 0x7f << 7 = 0x3f80
        b.extend_from_slice(&[0xaa, 0xbb]);
        let (ies, n) = parse_header_ies(&b).unwrap();
        assert_eq!(n, 10);
        assert_eq!(ies.len(), 2);
        assert_eq!(ies[1].id, HT2);
    }

    #[test]
    fn payload_ie_length_is_checked() {
        // Group 1 (MLME), length 5, but only 1 octet present.
        let d: u16 = 5 | (1 << 11) | 0x8000;
        let mut b = d.to_le_bytes().to_vec();
        b.push(0);
        assert!(matches!(
            parse_payload_ies(&b),
            Err(Error::Truncated { .. })
        ));
        // A header IE where payload IEs are expected.
        assert!(matches!(
            parse_payload_ies(&[0x00, 0x00]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            parse_header_ies(&[0x00]),
            Err(Error::Truncated { .. })
        ));
    }
}
