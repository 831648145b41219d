//! The store file's format as pure functions over bytes (see the table in [`super`]): the
//! header, and opening the sealed contents with a key. No file, no key derivation: what the
//! `store` fuzz target (tools/fuzz) and the tests drive directly.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::{
    KdfParams, NetState, NetStateV1, NetStateV2, StoreError, FORMAT_VERSION, FORMAT_VERSION_1,
    FORMAT_VERSION_2, KDF_ARGON2ID, KDF_KEY_FILE, MAGIC, NONCE_LEN, SALT_LEN,
};

/// The longest header: magic, version, key source, Argon2id costs and salt.
pub const MAX_HEADER_LEN: usize = 10 + 12 + SALT_LEN;

/// The largest Argon2id costs a store may name. weft writes 19 MiB, 2 iterations, 1 lane
/// ([`KdfParams::default`]); the costs are read before anything can be authenticated, so a
/// damaged header must not make weft allocate terabytes or stretch for hours.
pub const MAX_KDF: KdfParams = KdfParams {
    // 1 GiB
    m_cost: 1024 * 1024,
    t_cost: 64,
    p_cost: 16,
};

/// How the store's key is given, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// A 256-bit key in a key file.
    KeyFile,
    /// A passphrase stretched with Argon2id with these costs and salt.
    Passphrase {
        /// The costs.
        params: KdfParams,
        /// The salt.
        salt: [u8; SALT_LEN],
    },
}

impl Sealing {
    /// "a key file" or "a passphrase", for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Sealing::KeyFile => "a key file",
            Sealing::Passphrase { .. } => "a passphrase",
        }
    }
}

/// A store file's header: everything before the nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The format version.
    pub version: u8,
    /// How the key is given.
    pub sealing: Sealing,
}

impl Header {
    /// The octets the header takes.
    pub fn len(&self) -> usize {
        match self.sealing {
            Sealing::KeyFile => 10,
            Sealing::Passphrase { .. } => MAX_HEADER_LEN,
        }
    }

    /// Never: a header has at least the magic.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Why bytes are not a store that opens with a key (the file's name is added by
/// [`OpenError::at`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not a store, or damaged outside the authenticated ciphertext, or its contents do not
    /// decode.
    #[error("{0}")]
    Corrupt(String),
    /// The ciphertext does not authenticate with the key.
    #[error("wrong passphrase or key, or the file is damaged")]
    Unlock,
}

impl OpenError {
    /// The store error for the file at `path`.
    pub fn at(self, path: &std::path::Path) -> StoreError {
        match self {
            OpenError::Corrupt(why) => StoreError::Corrupt {
                path: path.to_owned(),
                why,
            },
            OpenError::Unlock => StoreError::Unlock(path.to_owned()),
        }
    }
}

fn corrupt(why: impl Into<String>) -> OpenError {
    OpenError::Corrupt(why.into())
}

/// Reads the header at the start of `bytes` (which may be only the first
/// [`MAX_HEADER_LEN`] octets of the file).
pub fn parse_header(bytes: &[u8]) -> Result<Header, OpenError> {
    if bytes.len() < 10 || bytes[..8] != MAGIC {
        return Err(corrupt("it does not start with the weft store header"));
    }
    let version = bytes[8];
    if !(FORMAT_VERSION_1..=FORMAT_VERSION).contains(&version) {
        return Err(corrupt(format!(
            "format version {version} is not one this weft reads ({FORMAT_VERSION_1} to {FORMAT_VERSION}): a newer weft wrote it"
        )));
    }
    let sealing = match bytes[9] {
        KDF_KEY_FILE => Sealing::KeyFile,
        KDF_ARGON2ID => {
            let h = bytes
                .get(10..MAX_HEADER_LEN)
                .ok_or_else(|| corrupt("the header is cut short"))?;
            let u = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let params = KdfParams {
                m_cost: u(0),
                t_cost: u(4),
                p_cost: u(8),
            };
            if params.m_cost > MAX_KDF.m_cost
                || params.t_cost > MAX_KDF.t_cost
                || params.p_cost > MAX_KDF.p_cost
            {
                return Err(corrupt(format!(
                    "its key derivation costs ({} KiB, {} iterations, {} lanes) are beyond what weft uses ({} KiB, {} iterations, {} lanes at most)",
                    params.m_cost, params.t_cost, params.p_cost,
                    MAX_KDF.m_cost, MAX_KDF.t_cost, MAX_KDF.p_cost
                )));
            }
            let mut salt = [0u8; SALT_LEN];
            salt.copy_from_slice(&h[12..]);
            Sealing::Passphrase { params, salt }
        }
        other => return Err(corrupt(format!("unknown key source {other}"))),
    };
    Ok(Header { version, sealing })
}

/// Opens a whole store file's `bytes` with `key` (from the key file, or derived from the
/// passphrase with the header's costs and salt): the header, the authenticated decryption,
/// and the decoding of the contents, of either format version.
pub fn open_sealed(bytes: &[u8], key: &[u8; 32]) -> Result<NetState, OpenError> {
    let header = parse_header(bytes)?;
    let body_at = header.len() + NONCE_LEN;
    if bytes.len() < body_at + 16 {
        return Err(corrupt("the file is cut short"));
    }
    let (aad, ct) = bytes.split_at(body_at);
    let nonce = Nonce::from_slice(&aad[header.len()..]);
    let cipher = Aes256Gcm::new(key.into());
    let plain = cipher
        .decrypt(nonce, Payload { msg: ct, aad })
        .map_err(|_| OpenError::Unlock)?;
    decode(header.version, &plain)
}

/// Decodes the plaintext of a store of format `version`.
pub fn decode(version: u8, plain: &[u8]) -> Result<NetState, OpenError> {
    let decoded = match version {
        FORMAT_VERSION_1 => postcard::from_bytes::<NetStateV1>(plain).map(|v| NetState {
            cdb: v.cdb,
            iv_index: v.iv_index,
            iv_update: v.iv_update,
            local: v.local,
            rpl: None,
            iv_state_since: None,
        }),
        FORMAT_VERSION_2 => postcard::from_bytes::<NetStateV2>(plain).map(|v| NetState {
            cdb: v.cdb,
            iv_index: v.iv_index,
            iv_update: v.iv_update,
            local: v.local,
            rpl: v.rpl,
            iv_state_since: None,
        }),
        _ => postcard::from_bytes(plain),
    };
    decoded.map_err(|e| corrupt(format!("the contents do not decode: {e}")))
}

/// The bytes of a store of format `version` holding `plain`, sealed with a key-file `key`
/// and `nonce`: what a writer with that key file writes (for tests and the fuzz target, which
/// need a sealed file without a key file on disk).
pub fn seal_with_key(version: u8, plain: &[u8], key: &[u8; 32], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + NONCE_LEN + plain.len() + 16);
    out.extend_from_slice(&MAGIC);
    out.push(version);
    out.push(KDF_KEY_FILE);
    out.extend_from_slice(&nonce);
    let cipher = Aes256Gcm::new(key.into());
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &out,
            },
        )
        // AES-GCM refuses only plaintexts beyond 64 GiB.
        .unwrap_or_default();
    out.extend_from_slice(&ct);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::ble::cdb::Cdb;

    fn state() -> NetState {
        NetState {
            cdb: Cdb::new([7; 16], "fmt", "2025-01-01T00:00:00Z"),
            iv_index: 9,
            iv_update: true,
            local: None,
            rpl: None,
            iv_state_since: None,
        }
    }

    #[test]
    fn sealed_bytes_open_with_their_key_only() {
        let key = [5u8; 32];
        let plain = postcard::to_stdvec(&state()).unwrap();
        let bytes = seal_with_key(FORMAT_VERSION, &plain, &key, [1; NONCE_LEN]);
        assert_eq!(open_sealed(&bytes, &key).unwrap(), state());
        assert_eq!(open_sealed(&bytes, &[6; 32]), Err(OpenError::Unlock));
        assert_eq!(
            parse_header(&bytes[..10]).unwrap(),
            Header {
                version: FORMAT_VERSION,
                sealing: Sealing::KeyFile
            }
        );
        for cut in 0..bytes.len() {
            assert!(open_sealed(&bytes[..cut], &key).is_err());
        }
    }

    #[test]
    fn absurd_kdf_costs_are_refused_before_any_derivation() {
        let mut h = Vec::from(MAGIC);
        h.extend_from_slice(&[FORMAT_VERSION, KDF_ARGON2ID]);
        for v in [u32::MAX, 2, 1] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&[0; SALT_LEN]);
        let e = parse_header(&h).unwrap_err();
        assert!(
            matches!(&e, OpenError::Corrupt(w) if w.contains("beyond what weft uses")),
            "{e}"
        );
        h[10..14].copy_from_slice(&(19 * 1024u32).to_le_bytes());
        assert!(matches!(
            parse_header(&h).unwrap().sealing,
            Sealing::Passphrase { .. }
        ));
        assert!(parse_header(&h[..MAX_HEADER_LEN - 1]).is_err());
    }
}
