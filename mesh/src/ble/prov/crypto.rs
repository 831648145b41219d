//! The provisioning security functions (Mesh Protocol 1.1 §5.4.2.4, §5.4.2.5): confirmation
//! salt and key, confirmation values, the provisioning salt, session key and nonce, the device
//! key (§3.9.6.1) and the encryption of the Provisioning Data.

use crate::ble::crypto::{k1, k5, s1, s2};
use crate::ble::wire::prov::{Algorithm, EncryptedProvisioningData, ProvisioningData};
use crate::ble::wire::Wire;
use crate::crypto::{aes_cmac, AuthError, Ccm, Key, MicLen};

/// The length of ConfirmationInputs: Invite (1), Capabilities (11) and Start (5) parameters
/// and both public keys (64 each) (§5.4.2.4.1).
pub const CONFIRMATION_INPUTS_LEN: usize = 1 + 11 + 5 + 64 + 64;

/// `ConfirmationInputs = Invite || Capabilities || Start || PublicKeyProvisioner ||
/// PublicKeyDevice`, each PDU without its Type octet (§5.4.2.4.1).
pub fn confirmation_inputs(
    invite: &[u8],
    capabilities: &[u8],
    start: &[u8],
    public_key_provisioner: &[u8; 64],
    public_key_device: &[u8; 64],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(CONFIRMATION_INPUTS_LEN);
    for part in [
        invite,
        capabilities,
        start,
        &public_key_provisioner[..],
        &public_key_device[..],
    ] {
        v.extend_from_slice(part);
    }
    v
}

/// `ConfirmationSalt`: `s1(ConfirmationInputs)` (16 octets) for CMAC-AES128, or
/// `s2(ConfirmationInputs)` (32 octets) for HMAC-SHA256 (§5.4.2.4.1).
pub fn confirmation_salt(algorithm: Algorithm, inputs: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::P256CmacAes128 => s1(inputs).to_vec(),
        Algorithm::P256HmacSha256 => s2(inputs).to_vec(),
    }
}

/// `ConfirmationKey`: `k1(ECDHSecret, ConfirmationSalt, "prck")` for CMAC-AES128, or
/// `k5(ECDHSecret || AuthValue, ConfirmationSalt, "prck256")` for HMAC-SHA256
/// (§5.4.2.4.1). `salt` must be the [`confirmation_salt`] of the same algorithm.
pub fn confirmation_key(
    algorithm: Algorithm,
    ecdh_secret: &[u8; 32],
    salt: &[u8],
    auth_value: &[u8],
) -> Vec<u8> {
    match algorithm {
        Algorithm::P256CmacAes128 => k1(ecdh_secret, &to16(salt), b"prck").to_vec(),
        Algorithm::P256HmacSha256 => {
            let mut n = Vec::with_capacity(32 + auth_value.len());
            n.extend_from_slice(ecdh_secret);
            n.extend_from_slice(auth_value);
            k5(&n, &to32(salt), b"prck256").to_vec()
        }
    }
}

/// A confirmation value: `AES-CMAC_ConfirmationKey(Random || AuthValue)` for CMAC-AES128,
/// `HMAC-SHA-256_ConfirmationKey(Random)` for HMAC-SHA256 (§5.4.2.4.1).
pub fn confirmation(algorithm: Algorithm, key: &[u8], random: &[u8], auth_value: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::P256CmacAes128 => {
            let mut m = Vec::with_capacity(random.len() + auth_value.len());
            m.extend_from_slice(random);
            m.extend_from_slice(auth_value);
            aes_cmac(&to16(key), &m).to_vec()
        }
        Algorithm::P256HmacSha256 => crate::crypto::hmac_sha256(key, &[random]).to_vec(),
    }
}

/// `ProvisioningSalt = s1(ConfirmationSalt || RandomProvisioner || RandomDevice)`, for both
/// algorithms (§5.4.2.5).
pub fn provisioning_salt(
    confirmation_salt: &[u8],
    random_provisioner: &[u8],
    random_device: &[u8],
) -> Key {
    let mut m = Vec::with_capacity(
        confirmation_salt.len() + random_provisioner.len() + random_device.len(),
    );
    m.extend_from_slice(confirmation_salt);
    m.extend_from_slice(random_provisioner);
    m.extend_from_slice(random_device);
    s1(&m)
}

/// The keys derived from the ECDH secret and the provisioning salt (§5.4.2.5, §3.9.6.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionSecrets {
    /// `SessionKey = k1(ECDHSecret, ProvisioningSalt, "prsk")`.
    pub session_key: Key,
    /// The 13 least significant octets of `k1(ECDHSecret, ProvisioningSalt, "prsn")`.
    pub session_nonce: [u8; 13],
    /// `DevKey = k1(ECDHSecret, ProvisioningSalt, "prdk")` (§3.9.6.1).
    pub device_key: Key,
}

impl core::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionSecrets").finish_non_exhaustive()
    }
}

impl SessionSecrets {
    /// Derives the session key, nonce and device key.
    pub fn derive(ecdh_secret: &[u8; 32], provisioning_salt: &Key) -> Self {
        let nonce = k1(ecdh_secret, provisioning_salt, b"prsn");
        let mut session_nonce = [0u8; 13];
        session_nonce.copy_from_slice(&nonce[3..]);
        SessionSecrets {
            session_key: k1(ecdh_secret, provisioning_salt, b"prsk"),
            session_nonce,
            device_key: k1(ecdh_secret, provisioning_salt, b"prdk"),
        }
    }

    /// `AES-CCM_SessionKey(SessionNonce, Provisioning Data)` with a 64-bit MIC (§5.4.2.5).
    pub fn encrypt(&self, data: &ProvisioningData) -> EncryptedProvisioningData {
        let mut buf = [0u8; ProvisioningData::LEN];
        data.emit(&mut buf);
        let (mic, _) = Ccm::new(&self.session_key).encrypt_in_place(
            &self.session_nonce,
            &[],
            &mut buf,
            MicLen::Mic64,
        );
        EncryptedProvisioningData {
            encrypted: buf,
            mic,
        }
    }

    /// Decrypts and authenticates the Provisioning Data: the 25 plaintext octets.
    pub fn decrypt(&self, data: &EncryptedProvisioningData) -> Result<[u8; 25], AuthError> {
        let mut buf = data.encrypted;
        Ccm::new(&self.session_key).decrypt_in_place(
            &self.session_nonce,
            &[],
            &mut buf,
            &data.mic,
        )?;
        Ok(buf)
    }
}

fn to16(b: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    let n = b.len().min(16);
    k[..n].copy_from_slice(&b[..n]);
    k
}

fn to32(b: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 32];
    let n = b.len().min(32);
    k[..n].copy_from_slice(&b[..n]);
    k
}
