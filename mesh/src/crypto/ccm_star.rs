//! CCM* (IEEE 802.15.4-2015 §9.3, Annex B) with the 13-octet nonce of 802.15.4 and Thread,
//! for the MIC lengths 4, 8 and 16 that security levels 1-3 and 5-7 use. CCM* with a MIC is
//! CCM (RFC 3610) with L = 2; the RustCrypto `ccm` crate computes it. Level 4 (encryption
//! without MIC, removed by 802.15.4-2015 and never used by Thread) is refused.

use aes::cipher::KeyInit;
use ccm::aead::AeadInPlace;
use ccm::consts::{U13, U16, U4, U8};

use super::{AuthError, Key};

/// A CCM* key with its expanded AES schedule, for every MIC length.
#[derive(Clone)]
pub struct CcmStar {
    m4: ccm::Ccm<aes::Aes128, U4, U13>,
    m8: ccm::Ccm<aes::Aes128, U8, U13>,
    m16: ccm::Ccm<aes::Aes128, U16, U13>,
}

impl core::fmt::Debug for CcmStar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CcmStar(..)")
    }
}

/// A MIC length CCM* does not support here (only 4, 8 and 16), or a message too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unsupported CCM* MIC length {0} or message over 65535 octets")]
pub struct UnsupportedMic(pub usize);

impl CcmStar {
    pub fn new(key: &Key) -> Self {
        let aes = aes::Aes128::new(key.into());
        CcmStar {
            m4: ccm::Ccm::from(aes.clone()),
            m8: ccm::Ccm::from(aes.clone()),
            m16: ccm::Ccm::from(aes),
        }
    }

    /// Encrypts `buf` in place (authenticating `aad` too) and returns the MIC of `mic_len`
    /// octets (4, 8 or 16).
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8; 13],
        aad: &[u8],
        buf: &mut [u8],
        mic_len: usize,
    ) -> Result<Vec<u8>, UnsupportedMic> {
        let err = |_| UnsupportedMic(mic_len);
        let n = nonce.into();
        Ok(match mic_len {
            4 => self
                .m4
                .encrypt_in_place_detached(n, aad, buf)
                .map_err(err)?
                .to_vec(),
            8 => self
                .m8
                .encrypt_in_place_detached(n, aad, buf)
                .map_err(err)?
                .to_vec(),
            16 => self
                .m16
                .encrypt_in_place_detached(n, aad, buf)
                .map_err(err)?
                .to_vec(),
            _ => return Err(UnsupportedMic(mic_len)),
        })
    }

    /// Decrypts `buf` in place and checks `mic` (4, 8 or 16 octets).
    pub fn decrypt_in_place(
        &self,
        nonce: &[u8; 13],
        aad: &[u8],
        buf: &mut [u8],
        mic: &[u8],
    ) -> Result<(), AuthError> {
        if buf.len() > 0xFFFF {
            return Err(AuthError);
        }
        let n = nonce.into();
        match mic.len() {
            4 => self.m4.decrypt_in_place_detached(n, aad, buf, mic.into()),
            8 => self.m8.decrypt_in_place_detached(n, aad, buf, mic.into()),
            16 => self.m16.decrypt_in_place_detached(n, aad, buf, mic.into()),
            _ => return Err(AuthError),
        }
        .map_err(|_| AuthError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_mic() {
        let c = CcmStar::new(&[3; 16]);
        for m in [4, 8, 16] {
            let mut buf = b"thread".to_vec();
            let mic = c.encrypt_in_place(&[9; 13], b"hdr", &mut buf, m).unwrap();
            assert_eq!(mic.len(), m);
            assert_ne!(buf, b"thread");
            let mut bad = buf.clone();
            c.decrypt_in_place(&[9; 13], b"hdr", &mut buf, &mic)
                .unwrap();
            assert_eq!(buf, b"thread");
            bad[0] ^= 1;
            assert_eq!(
                c.decrypt_in_place(&[9; 13], b"hdr", &mut bad, &mic),
                Err(AuthError)
            );
        }
        assert_eq!(
            c.encrypt_in_place(&[0; 13], b"", &mut [], 0),
            Err(UnsupportedMic(0))
        );
    }
}
