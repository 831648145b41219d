//! The Frame Check Sequence (IEEE 802.15.4-2015 §7.2.10): the ITU-T CRC-16 (generator
//! x^16 + x^12 + x^5 + 1, i.e. 0x1021, processed least significant bit first, so 0x8408
//! reflected), initial remainder 0, no final XOR: the CRC-16/KERMIT of the catalogues. It is
//! sent least significant octet first.

use crate::wire::{Error, Result};

/// Octets of the FCS for the 2.4 GHz O-QPSK PHY Thread uses (§7.2.10; the 4-octet FCS of
/// SUN PHYs is not supported).
pub const FCS_LEN: usize = 2;

/// The CRC of each octet value, one octet at a time (the bitwise loop below, tabulated at
/// compile time).
const TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
};

/// The CRC-16/KERMIT of `data`.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc >> 8) ^ TABLE[((crc ^ b as u16) & 0xff) as usize]
    })
}

/// Checks the FCS at the end of a PSDU and returns the frame without it.
pub fn check(psdu: &[u8]) -> Result<&[u8]> {
    let n = psdu.len().checked_sub(FCS_LEN).ok_or(Error::Truncated {
        need: FCS_LEN,
        got: psdu.len(),
    })?;
    let (frame, fcs) = psdu.split_at(n);
    let got = u16::from_le_bytes([fcs[0], fcs[1]]);
    let want = crc16(frame);
    if got == want {
        Ok(frame)
    } else {
        Err(Error::Invalid {
            field: "FCS (CRC-16 mismatch)",
            value: got as u32,
        })
    }
}

/// `frame` followed by its FCS.
pub fn append(frame: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(frame.len() + FCS_LEN);
    v.extend_from_slice(frame);
    v.extend_from_slice(&crc16(frame).to_le_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kermit_check_value() {
        // The catalogue check value of CRC-16/KERMIT over "123456789".
        assert_eq!(crc16(b"123456789"), 0x2189);
    }

    #[test]
    fn imm_ack_fcs() {
        // An Imm-Ack with sequence number 0x56 (frame control 0x0002): what `append` adds,
        // `check` accepts, and a flipped bit is caught.
        let psdu = append(&[0x02, 0x00, 0x56]);
        assert_eq!(check(&psdu).unwrap(), &[0x02, 0x00, 0x56]);
        let mut bad = psdu.clone();
        bad[2] ^= 0x80;
        assert!(matches!(check(&bad), Err(Error::Invalid { .. })));
        assert!(matches!(check(&[1]), Err(Error::Truncated { .. })));
    }
}
