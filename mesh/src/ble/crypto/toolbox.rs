//! The key derivation functions of Mesh Protocol 1.1 §3.9.2 (s1, k1..k5, s2) and the
//! virtual address hash (§3.4.2.3).

use crate::crypto::{aes_cmac, hmac_sha256, Cmac, Key};

/// s1 SALT generation function (§3.9.2.4): `s1(M) = AES-CMAC_ZERO(M)`.
pub fn s1(m: &[u8]) -> Key {
    aes_cmac(&[0u8; 16], m)
}

/// k1 derivation function (§3.9.2.5): `T = AES-CMAC_SALT(N)`, `k1 = AES-CMAC_T(P)`.
pub fn k1(n: &[u8], salt: &Key, p: &[u8]) -> Key {
    let t = aes_cmac(salt, n);
    aes_cmac(&t, p)
}

/// The output of k2: a set of network credentials (§3.9.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct K2 {
    /// 7-bit NID.
    pub nid: u8,
    pub encryption_key: Key,
    pub privacy_key: Key,
}

/// k2 network key material derivation function (§3.9.2.6).
///
/// `SALT = s1("smk2")`, `T = AES-CMAC_SALT(N)`, `T1 = AES-CMAC_T(P || 0x01)`,
/// `T2 = AES-CMAC_T(T1 || P || 0x02)`, `T3 = AES-CMAC_T(T2 || P || 0x03)`;
/// NID = T1 mod 2^7, EncryptionKey = T2, PrivacyKey = T3.
/// `p` is `0x00` for the flooding (master) credentials and
/// `0x01 || LPNAddress || FriendAddress || LPNCounter || FriendCounter` for friendship ones.
pub fn k2(n: &Key, p: &[u8]) -> K2 {
    let t = Cmac::new(&aes_cmac(&s1(b"smk2"), n));
    let t1 = t.mac(&[p, &[0x01]]);
    let t2 = t.mac(&[&t1, p, &[0x02]]);
    let t3 = t.mac(&[&t2, p, &[0x03]]);
    K2 {
        nid: t1[15] & 0x7f,
        encryption_key: t2,
        privacy_key: t3,
    }
}

/// k3 derivation function (§3.9.2.7): the 64-bit Network ID.
/// `T = AES-CMAC_s1("smk3")(N)`, `k3 = AES-CMAC_T("id64" || 0x01) mod 2^64`.
pub fn k3(n: &Key) -> [u8; 8] {
    let t = aes_cmac(&s1(b"smk3"), n);
    let out = Cmac::new(&t).mac(&[b"id64", &[0x01]]);
    out[8..].try_into().expect("8 bytes")
}

/// k4 derivation function (§3.9.2.8): the 6-bit AID of an application key.
/// `T = AES-CMAC_s1("smk4")(N)`, `k4 = AES-CMAC_T("id6" || 0x01) mod 2^6`.
pub fn k4(n: &Key) -> u8 {
    let t = aes_cmac(&s1(b"smk4"), n);
    Cmac::new(&t).mac(&[b"id6", &[0x01]])[15] & 0x3f
}

/// s2 SALT generation function (§3.9.2.10, Mesh 1.1): `s2(M) = HMAC-SHA-256_ZERO(M)`.
pub fn s2(m: &[u8]) -> [u8; 32] {
    hmac_sha256(&[0u8; 32], &[m])
}

/// k5 derivation function (§3.9.2.9, Mesh 1.1), used by the
/// BTM_ECDH_P256_HMAC_SHA256_AES_CCM provisioning algorithm:
/// `T = HMAC-SHA-256_SALT(N)`, `k5 = HMAC-SHA-256_T(P)`.
pub fn k5(n: &[u8], salt: &[u8; 32], p: &[u8]) -> [u8; 32] {
    let t = hmac_sha256(salt, &[n]);
    hmac_sha256(&t, &[p])
}

/// The virtual address of a Label UUID (§3.4.2.3):
/// `hash = AES-CMAC_s1("vtad")(Label UUID) mod 2^14`, address = `0b10 << 14 | hash`.
pub fn virtual_address(label_uuid: &[u8; 16]) -> u16 {
    let h = aes_cmac(&s1(b"vtad"), label_uuid);
    0x8000 | (u16::from_be_bytes([h[14], h[15]]) & 0x3fff)
}
