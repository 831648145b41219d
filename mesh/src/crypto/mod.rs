//! The cryptographic primitives both protocols use, built on RustCrypto: AES-128, AES-CMAC,
//! AES-CCM, HMAC-SHA256 and P-256 ECDH. Nothing here is hand-rolled cryptography; the
//! protocols' own key functions compose these (Bluetooth Mesh's s1 and k1-k5 in
//! [`crate::ble::crypto`]).
//!
//! Every key type keeps its expanded AES key schedule, so a key is expanded once when it is
//! installed and never again per packet.

mod ccm_star;
mod ecdh;

pub use ccm_star::{CcmStar, UnsupportedMic};
pub use ecdh::{EcdhError, KeyPair, PublicKey};

use aes::cipher::{BlockEncrypt, KeyInit};
use ccm::aead::AeadInPlace;
use ccm::consts::{U13, U4, U8};
use cmac::Mac;

/// A 128-bit key (every Bluetooth Mesh key, the Thread MAC and MLE keys).
pub type Key = [u8; 16];

/// Authentication failed: the MIC did not match (wrong key, wrong nonce, or corrupted data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed (MIC mismatch)")]
pub struct AuthError;

/// An AES-128 key with its expanded key schedule (§3.9.2.1, the function `e`).
#[derive(Clone)]
pub struct Aes(aes::Aes128);

impl Aes {
    pub fn new(key: &Key) -> Self {
        Aes(aes::Aes128::new(key.into()))
    }

    /// `e(key, plaintext)`: one AES-128 block encryption.
    pub fn encrypt_block(&self, block: &[u8; 16]) -> [u8; 16] {
        let mut b = aes::Block::from(*block);
        self.0.encrypt_block(&mut b);
        b.into()
    }
}

impl core::fmt::Debug for Aes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Aes(..)")
    }
}

/// An AES-CMAC key (RFC 4493; §3.9.2.2) with its expanded schedule and subkeys.
#[derive(Clone)]
pub struct Cmac(cmac::Cmac<aes::Aes128>);

impl Cmac {
    pub fn new(key: &Key) -> Self {
        Cmac(<cmac::Cmac<aes::Aes128> as KeyInit>::new(key.into()))
    }

    /// AES-CMAC over the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 16] {
        let mut m = self.0.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }
}

impl core::fmt::Debug for Cmac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Cmac(..)")
    }
}

/// AES-CMAC of `msg` under `key`, for one-off use (§3.9.2.2).
pub fn aes_cmac(key: &Key, msg: &[u8]) -> [u8; 16] {
    Cmac::new(key).mac(&[msg])
}

/// HMAC-SHA256 (RFC 2104, FIPS 180-4) of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac as _;
    // HMAC takes a key of any length.
    let mut m = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key)
        .expect("HMAC accepts every key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The length of a message integrity check: AES-CCM in Bluetooth Mesh uses 32- or 64-bit MICs
/// (§3.9.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MicLen {
    Mic32,
    Mic64,
}

#[allow(clippy::len_without_is_empty)]
impl MicLen {
    pub const fn len(self) -> usize {
        match self {
            MicLen::Mic32 => 4,
            MicLen::Mic64 => 8,
        }
    }
    /// `MicLen::Mic64` when `big` (SZMIC = 1, or CTL = 1 for the NetMIC).
    pub const fn from_flag(big: bool) -> Self {
        if big {
            MicLen::Mic64
        } else {
            MicLen::Mic32
        }
    }
}

/// An AES-CCM key (RFC 3610; §3.9.2.3) with 13-octet nonces, for both MIC sizes, expanded once.
#[derive(Clone)]
pub struct Ccm {
    m4: ccm::Ccm<aes::Aes128, U4, U13>,
    m8: ccm::Ccm<aes::Aes128, U8, U13>,
}

impl core::fmt::Debug for Ccm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Ccm(..)")
    }
}

impl Ccm {
    pub fn new(key: &Key) -> Self {
        let aes = aes::Aes128::new(key.into());
        Ccm {
            m4: ccm::Ccm::from(aes.clone()),
            m8: ccm::Ccm::from(aes),
        }
    }

    /// Encrypts `buf` in place and returns the MIC (its first `mic.len()` bytes are meaningful).
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8; 13],
        aad: &[u8],
        buf: &mut [u8],
        mic: MicLen,
    ) -> ([u8; 8], usize) {
        let mut out = [0u8; 8];
        // The only failure ccm reports is a message too long for the nonce's length field
        // (2^16 - 1 octets with a 13-octet nonce); no mesh PDU comes near it.
        match mic {
            MicLen::Mic32 => {
                let t = self
                    .m4
                    .encrypt_in_place_detached(nonce.into(), aad, buf)
                    .expect("CCM message under 64 KiB");
                out[..4].copy_from_slice(&t);
            }
            MicLen::Mic64 => {
                let t = self
                    .m8
                    .encrypt_in_place_detached(nonce.into(), aad, buf)
                    .expect("CCM message under 64 KiB");
                out.copy_from_slice(&t);
            }
        }
        (out, mic.len())
    }

    /// Encrypts `plaintext` and returns ciphertext || MIC.
    pub fn encrypt(&self, nonce: &[u8; 13], aad: &[u8], plaintext: &[u8], mic: MicLen) -> Vec<u8> {
        let mut v = Vec::with_capacity(plaintext.len() + mic.len());
        v.extend_from_slice(plaintext);
        let (tag, n) = self.encrypt_in_place(nonce, aad, &mut v, mic);
        v.extend_from_slice(&tag[..n]);
        v
    }

    /// Decrypts `buf` in place and checks `mic` (4 or 8 bytes). On failure `buf` is restored
    /// to the ciphertext it held.
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
        match mic.len() {
            4 => self
                .m4
                .decrypt_in_place_detached(nonce.into(), aad, buf, mic.into())
                .map_err(|_| AuthError),
            8 => self
                .m8
                .decrypt_in_place_detached(nonce.into(), aad, buf, mic.into())
                .map_err(|_| AuthError),
            _ => Err(AuthError),
        }
    }

    /// Decrypts ciphertext || MIC and returns the plaintext.
    pub fn decrypt(
        &self,
        nonce: &[u8; 13],
        aad: &[u8],
        data: &[u8],
        mic: MicLen,
    ) -> Result<Vec<u8>, AuthError> {
        let n = data.len().checked_sub(mic.len()).ok_or(AuthError)?;
        let mut v = data[..n].to_vec();
        self.decrypt_in_place(nonce, aad, &mut v, &data[n..])?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4493_cmac() {
        // RFC 4493 §4, Example 2 (16-byte message).
        let key: Key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
            .unwrap()
            .try_into()
            .unwrap();
        let msg = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        assert_eq!(
            hex::encode(aes_cmac(&key, &msg)),
            "070a16b46b4d4144f79bdd9dd04a287c"
        );
    }

    #[test]
    fn rfc4231_hmac_sha256() {
        // RFC 4231 §4.3, Test Case 2: key "Jefe", data "what do ya want for nothing?", given in
        // two parts.
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn ccm_round_trip_and_tamper() {
        let c = Ccm::new(&[7; 16]);
        let nonce = [1; 13];
        for mic in [MicLen::Mic32, MicLen::Mic64] {
            let ct = c.encrypt(&nonce, b"aad", b"hello mesh", mic);
            assert_eq!(ct.len(), 10 + mic.len());
            assert_eq!(c.decrypt(&nonce, b"aad", &ct, mic).unwrap(), b"hello mesh");
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert_eq!(c.decrypt(&nonce, b"aad", &bad, mic), Err(AuthError));
            assert_eq!(c.decrypt(&nonce, b"aad", &ct[..2], mic), Err(AuthError));
        }
    }
}
