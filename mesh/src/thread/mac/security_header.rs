//! The Auxiliary Security Header (IEEE 802.15.4-2015 §9.4): Security Control (§9.4.2),
//! Frame Counter (§9.4.3) and Key Identifier (§9.4.4).

use crate::wire::{need, Error, Result, Wire};

/// The Security Level subfield (§9.4.2.2, table 9-6): bits 0-1 select the MIC length
/// (0, 4, 8, 16 octets), bit 2 selects encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    /// From the three-bit field (the upper bits are ignored).
    pub const fn new(level: u8) -> Self {
        SecurityLevel(level & 7)
    }
    pub const fn value(self) -> u8 {
        self.0
    }
    /// MIC length in octets (table 9-6: levels 1/5 MIC-32, 2/6 MIC-64, 3/7 MIC-128).
    pub const fn mic_len(self) -> usize {
        match self.0 & 3 {
            0 => 0,
            1 => 4,
            2 => 8,
            _ => 16,
        }
    }
    /// Whether the private payload is encrypted (levels 4-7, table 9-6).
    pub const fn encrypted(self) -> bool {
        self.0 & 4 != 0
    }
}

/// The Key Identifier field by Key Identifier Mode (§9.4.2.3 table 9-7, §9.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyIdentifier {
    /// Mode 0: the key is determined implicitly from the originator and recipient.
    Implicit,
    /// Mode 1: a 1-octet Key Index (with macDefaultKeySource). Thread MAC frames use this.
    Index(u8),
    /// Mode 2: a 4-octet Key Source then the Key Index. Thread MLE uses this, with the key
    /// sequence big endian in the Key Source.
    Source4 { source: [u8; 4], index: u8 },
    /// Mode 3: an 8-octet Key Source then the Key Index.
    Source8 { source: [u8; 8], index: u8 },
}

impl KeyIdentifier {
    pub const fn mode(&self) -> u8 {
        match self {
            KeyIdentifier::Implicit => 0,
            KeyIdentifier::Index(_) => 1,
            KeyIdentifier::Source4 { .. } => 2,
            KeyIdentifier::Source8 { .. } => 3,
        }
    }
    /// Octets of the Key Identifier field (table 9-7: 0, 1, 5, 9).
    pub const fn len(&self) -> usize {
        match self {
            KeyIdentifier::Implicit => 0,
            KeyIdentifier::Index(_) => 1,
            KeyIdentifier::Source4 { .. } => 5,
            KeyIdentifier::Source8 { .. } => 9,
        }
    }
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub const fn index(&self) -> Option<u8> {
        match *self {
            KeyIdentifier::Implicit => None,
            KeyIdentifier::Index(i)
            | KeyIdentifier::Source4 { index: i, .. }
            | KeyIdentifier::Source8 { index: i, .. } => Some(i),
        }
    }
}

/// The Auxiliary Security Header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuxSecurityHeader {
    pub level: SecurityLevel,
    pub key_id: KeyIdentifier,
    /// The Frame Counter (§9.4.3, little endian on the air); `None` when the Frame Counter
    /// Suppression bit (bit 5 of Security Control, §9.4.2.4) is set.
    pub frame_counter: Option<u32>,
    /// ASN in Nonce (bit 6, §9.4.2.5): TSCH's nonce uses the ASN instead of the frame counter.
    pub asn_in_nonce: bool,
}

impl AuxSecurityHeader {
    /// Security Control bit 5: Frame Counter Suppression.
    pub const FRAME_COUNTER_SUPPRESSION: u8 = 1 << 5;
    /// Security Control bit 6: ASN in Nonce.
    pub const ASN_IN_NONCE: u8 = 1 << 6;
    /// Security Control bit 7: reserved.
    pub const RESERVED: u8 = 1 << 7;

    /// The Security Control octet (§9.4.2, figure 9-10).
    pub fn security_control(&self) -> u8 {
        self.level.value()
            | (self.key_id.mode() << 3)
            | if self.frame_counter.is_none() {
                Self::FRAME_COUNTER_SUPPRESSION
            } else {
                0
            }
            | if self.asn_in_nonce {
                Self::ASN_IN_NONCE
            } else {
                0
            }
    }

    /// Parses a header at the start of `b` and returns it with the octets it occupies.
    pub fn parse_prefix(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 1)?;
        let sc = b[0];
        if sc & Self::RESERVED != 0 {
            return Err(Error::Invalid {
                field: "security control (reserved bit 7 set)",
                value: sc as u32,
            });
        }
        let mut at = 1;
        let frame_counter = if sc & Self::FRAME_COUNTER_SUPPRESSION != 0 {
            None
        } else {
            need(b, at + 4)?;
            at += 4;
            Some(u32::from_le_bytes([b[1], b[2], b[3], b[4]]))
        };
        let key_id = match (sc >> 3) & 3 {
            0 => KeyIdentifier::Implicit,
            1 => {
                need(b, at + 1)?;
                KeyIdentifier::Index(b[at])
            }
            2 => {
                need(b, at + 5)?;
                let mut source = [0u8; 4];
                source.copy_from_slice(&b[at..at + 4]);
                KeyIdentifier::Source4 {
                    source,
                    index: b[at + 4],
                }
            }
            _ => {
                need(b, at + 9)?;
                let mut source = [0u8; 8];
                source.copy_from_slice(&b[at..at + 8]);
                KeyIdentifier::Source8 {
                    source,
                    index: b[at + 8],
                }
            }
        };
        at += key_id.len();
        Ok((
            AuxSecurityHeader {
                level: SecurityLevel::new(sc),
                key_id,
                frame_counter,
                asn_in_nonce: sc & Self::ASN_IN_NONCE != 0,
            },
            at,
        ))
    }
}

impl Wire for AuxSecurityHeader {
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
        1 + if self.frame_counter.is_some() { 4 } else { 0 } + self.key_id.len()
    }

    fn emit(&self, b: &mut [u8]) {
        b[0] = self.security_control();
        let mut at = 1;
        if let Some(fc) = self.frame_counter {
            b[1..5].copy_from_slice(&fc.to_le_bytes());
            at = 5;
        }
        match self.key_id {
            KeyIdentifier::Implicit => {}
            KeyIdentifier::Index(i) => b[at] = i,
            KeyIdentifier::Source4 { source, index } => {
                b[at..at + 4].copy_from_slice(&source);
                b[at + 4] = index;
            }
            KeyIdentifier::Source8 { source, index } => {
                b[at..at + 8].copy_from_slice(&source);
                b[at + 8] = index;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_mle_aux_header() {
        // Level 5, key id mode 2, frame counter 0x00040015, key source 0, key index 1.
        let b = [0x15, 0x15, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0x01];
        let h = AuxSecurityHeader::parse(&b).unwrap();
        assert_eq!(h.level.value(), 5);
        assert_eq!(h.level.mic_len(), 4);
        assert!(h.level.encrypted());
        assert_eq!(h.frame_counter, Some(0x0004_0015));
        assert_eq!(
            h.key_id,
            KeyIdentifier::Source4 {
                source: [0; 4],
                index: 1
            }
        );
        assert_eq!(h.to_vec(), b);
    }

    #[test]
    fn rejects_reserved_and_short() {
        assert!(matches!(
            AuxSecurityHeader::parse(&[0x80]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            AuxSecurityHeader::parse(&[0x0d, 1, 2, 3, 4]),
            Err(Error::Truncated { .. })
        ));
        // Suppressed frame counter, mode 1: control, index.
        let h = AuxSecurityHeader::parse(&[0x2d, 0x07]).unwrap();
        assert_eq!(h.frame_counter, None);
        assert_eq!(h.key_id, KeyIdentifier::Index(7));
    }
}
