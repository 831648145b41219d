//! The PSKc (Thread 1.3 §8.4.1.2.2): PBKDF2 (RFC 8018 §5.2) with AES-CMAC-PRF-128 (RFC 4615)
//! as the pseudorandom function, 16384 iterations, a 16-octet output, over the commissioning
//! passphrase and the salt `"Thread" || Extended PAN ID || Network Name`.

use crate::crypto::{aes_cmac, Cmac, Key};

/// PBKDF2 iteration count (Thread 1.3 §8.4.1.2.2).
pub const PSKC_ITERATIONS: u32 = 16384;
/// Shortest passphrase (Thread 1.3 §8.4.1.2.2: 6 to 255 UTF-8 octets; OpenThread's
/// `OT_COMMISSIONING_PASSPHRASE_MIN_SIZE`).
pub const PASSPHRASE_MIN: usize = 6;
/// Longest passphrase (OpenThread's `OT_COMMISSIONING_PASSPHRASE_MAX_SIZE`).
pub const PASSPHRASE_MAX: usize = 255;
/// Longest network name (Thread 1.3 §8.10.1.3: at most 16 octets).
pub const NETWORK_NAME_MAX: usize = 16;

/// Why a PSKc could not be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PskcError {
    #[error("the passphrase has {0} octets; it must have 6 to 255")]
    Passphrase(usize),
    #[error("the network name has {0} octets; it must have at most 16")]
    NetworkName(usize),
}

/// AES-CMAC-PRF-128 (RFC 4615 §3) keyed by `password`: the key is the password when it is 16 octets long,
/// otherwise AES-CMAC(0^128, password). `prf_key(p).mac(&[m])` is PRF(p, m).
pub fn prf_key(password: &[u8]) -> Cmac {
    let key: Key = match <[u8; 16]>::try_from(password) {
        Ok(k) => k,
        Err(_) => aes_cmac(&[0; 16], password),
    };
    Cmac::new(&key)
}

/// PBKDF2 with AES-CMAC-PRF-128 (RFC 8018 §5.2), one 16-octet block (`T_1`).
pub fn pbkdf2_cmac(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 16] {
    let prf = prf_key(password);
    // U_1 = PRF(P, S || INT(1)).
    let mut u = prf.mac(&[salt, &1u32.to_be_bytes()]);
    let mut t = u;
    for _ in 1..iterations {
        u = prf.mac(&[&u]);
        for (a, b) in t.iter_mut().zip(u) {
            *a ^= b;
        }
    }
    t
}

/// The PSKc of `passphrase` for a network (Thread 1.3 §8.4.1.2.2).
pub fn derive_pskc(
    passphrase: &str,
    network_name: &str,
    extended_pan_id: &[u8; 8],
) -> Result<[u8; 16], PskcError> {
    let p = passphrase.len();
    if !(PASSPHRASE_MIN..=PASSPHRASE_MAX).contains(&p) {
        return Err(PskcError::Passphrase(p));
    }
    if network_name.len() > NETWORK_NAME_MAX {
        return Err(PskcError::NetworkName(network_name.len()));
    }
    let salt = [
        b"Thread".as_slice(),
        extended_pan_id,
        network_name.as_bytes(),
    ]
    .concat();
    Ok(pbkdf2_cmac(passphrase.as_bytes(), &salt, PSKC_ITERATIONS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked() {
        assert_eq!(
            derive_pskc("12345", "n", &[0; 8]),
            Err(PskcError::Passphrase(5))
        );
        assert_eq!(
            derive_pskc("123456", "seventeen octets!", &[0; 8]),
            Err(PskcError::NetworkName(17))
        );
    }
}
