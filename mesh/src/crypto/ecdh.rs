//! P-256 elliptic curve Diffie-Hellman for provisioning (Mesh Protocol 1.1 §5.4.2.3 and
//! §3.9.2.12 "ECDH"): public keys travel as the raw X || Y coordinates (64 octets, no 0x04
//! prefix), and the shared secret is the 32-octet X coordinate of the product.

use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use rand_core::{CryptoRng, RngCore};

/// A public key was not a point on P-256, or a private key was not a valid scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcdhError {
    #[error("public key is not a valid point on P-256")]
    InvalidPublicKey,
    #[error("private key is not a valid P-256 scalar")]
    InvalidPrivateKey,
}

/// A P-256 public key in the provisioning wire form X || Y (§5.4.1.3).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 64]);

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.0))
    }
}

impl PublicKey {
    fn to_point(self) -> Result<p256::PublicKey, EcdhError> {
        let ep = p256::EncodedPoint::from_untagged_bytes((&self.0).into());
        Option::from(p256::PublicKey::from_encoded_point(&ep)).ok_or(EcdhError::InvalidPublicKey)
    }

    /// Checks that the key is a point on the curve (§5.4.3.1: a device must reject an invalid
    /// public key with Provisioning Failed).
    pub fn validate(&self) -> Result<(), EcdhError> {
        self.to_point().map(|_| ())
    }
}

/// A P-256 key pair.
pub struct KeyPair {
    secret: p256::SecretKey,
    public: PublicKey,
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self::from_secret(p256::SecretKey::random(rng))
    }

    /// A key pair from a 32-octet big-endian private scalar.
    pub fn from_private(bytes: &[u8; 32]) -> Result<Self, EcdhError> {
        let secret =
            p256::SecretKey::from_bytes(bytes.into()).map_err(|_| EcdhError::InvalidPrivateKey)?;
        Ok(Self::from_secret(secret))
    }

    fn from_secret(secret: p256::SecretKey) -> Self {
        let ep = secret.public_key().to_encoded_point(false);
        let mut public = [0u8; 64];
        public.copy_from_slice(&ep.as_bytes()[1..]);
        KeyPair {
            secret,
            public: PublicKey(public),
        }
    }

    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The ECDH shared secret with `peer`: the X coordinate of d * Q.
    pub fn ecdh(&self, peer: &PublicKey) -> Result<[u8; 32], EcdhError> {
        let q = peer.to_point()?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), q.as_affine());
        Ok((*shared.raw_secret_bytes()).into())
    }
}
