//! Provisioning (Mesh Protocol 1.1 chapter 5): the provisioning protocol of the Provisioner
//! and the device as sans-IO state machines ([`session`]), the PB-ADV link layer with its
//! Generic Provisioning transactions ([`pbadv`]), and the two roles that put them together
//! over the advertising bearer ([`roles`]): a [`Provisioner`] running many links at once and
//! an unprovisioned [`Device`] that beacons until a link opens.
//!
//! Nothing here knows about `Node`: a provisioned device reports a [`Provisioned`] value
//! that a later step turns into node state.

pub mod crypto;
pub mod link;
pub mod pbadv;
pub mod pbgatt;
pub mod roles;
pub mod session;
pub mod start;

pub use link::{GattLink, GattLinkCounters, Link};
pub use pbadv::{CloseCause, LinkEvent, LinkRole, LinkTiming, PbAdvLink};
pub use pbgatt::{PbGatt, PbGattCounters};
pub use roles::{Device, DeviceEvent, ProvisionError, Provisioner, ProvisionerEvent};
pub use session::{
    AuthPolicy, DeviceConfig, Material, Provisioned, ProvisionerConfig, Role, Session, SessionEvent,
};

use core::fmt;

use rand_core::RngCore;

use crate::ble::wire::pbadv::LinkCloseReason;
use crate::ble::wire::prov::{ErrorCode, InputOobAction, OutputOobAction};
use crate::crypto::KeyPair;
use crate::time::Duration;

/// The provisioning protocol timeout: provisioning fails when no provisioning PDU has been
/// sent or received for this long (§5.4.4).
pub const PROTOCOL_TIMEOUT: Duration = Duration::from_secs(60);

/// An OOB action, output or input, with the side that performs it (§5.4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OobAction {
    /// Output OOB: the device outputs, the Provisioner's user inputs (§5.4.2.4.3).
    Output(OutputOobAction),
    /// Input OOB: the Provisioner outputs, the device's user inputs (§5.4.2.4.4).
    Input(InputOobAction),
}

impl OobAction {
    /// Whether the value is a string of digits and uppercase letters (else a number).
    pub const fn is_alphanumeric(self) -> bool {
        matches!(
            self,
            OobAction::Output(OutputOobAction::OutputAlphanumeric)
                | OobAction::Input(InputOobAction::InputAlphanumeric)
        )
    }

    /// Whether the value is a count of events (blink, beep, vibrate, push, twist), which is
    /// never zero (§5.4.2.4.3, §5.4.2.4.4).
    pub const fn is_count(self) -> bool {
        matches!(
            self,
            OobAction::Output(
                OutputOobAction::Blink | OutputOobAction::Beep | OutputOobAction::Vibrate
            ) | OobAction::Input(InputOobAction::Push | InputOobAction::Twist)
        )
    }
}

/// An OOB authentication value as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OobValue {
    /// A number: a count of blinks, beeps, pushes... or a displayed/typed number.
    Numeric(u32),
    /// Digits and uppercase letters (ASCII 0x30..=0x39, 0x41..=0x5A).
    Alphanumeric(String),
}

impl fmt::Display for OobValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OobValue::Numeric(n) => write!(f, "{n}"),
            OobValue::Alphanumeric(s) => f.write_str(s),
        }
    }
}

/// Why an OOB value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OobError {
    /// No OOB value is awaited now.
    #[error("no OOB value is awaited")]
    NotAwaited,
    /// A number was given where a string is awaited, or the other way round.
    #[error("wrong kind of OOB value (numeric vs alphanumeric)")]
    WrongKind,
    /// The number has more digits, or the string more characters, than the size allows, or
    /// the string is empty or holds other characters than digits and uppercase letters.
    #[error("OOB value out of range for its size")]
    OutOfRange,
}

/// 10^size: the bound of a numeric OOB value of `size` digits (size 1..=8).
const fn pow10(size: u8) -> u32 {
    let mut v = 1u32;
    let mut i = 0;
    while i < size && i < 9 {
        v *= 10;
        i += 1;
    }
    v
}

impl OobValue {
    /// A fresh random value for `action` of `size` digits or characters: 1..=10^size-1 for a
    /// count, 0..=10^size-1 for a number, `size` characters of 0-9A-Z for a string
    /// (§5.4.2.4.3, §5.4.2.4.4).
    pub fn random(action: OobAction, size: u8, rng: &mut impl RngCore) -> Self {
        let size = size.clamp(1, crate::ble::wire::prov::MAX_OOB_SIZE);
        if action.is_alphanumeric() {
            const CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
            let s = (0..size)
                .map(|_| char::from(CHARS[(rng.next_u32() % 36) as usize]))
                .collect();
            OobValue::Alphanumeric(s)
        } else if action.is_count() {
            OobValue::Numeric(1 + rng.next_u32() % (pow10(size) - 1))
        } else {
            OobValue::Numeric(rng.next_u32() % pow10(size))
        }
    }

    /// Checks that the value fits `action` and `size` (§5.4.2.4.3, §5.4.2.4.4).
    pub fn check(&self, action: OobAction, size: u8) -> Result<(), OobError> {
        match (self, action.is_alphanumeric()) {
            (OobValue::Numeric(n), false) => {
                if *n >= pow10(size) || (action.is_count() && *n == 0) {
                    Err(OobError::OutOfRange)
                } else {
                    Ok(())
                }
            }
            (OobValue::Alphanumeric(s), true) => {
                let ok = !s.is_empty()
                    && s.len() <= usize::from(size)
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
                if ok {
                    Ok(())
                } else {
                    Err(OobError::OutOfRange)
                }
            }
            _ => Err(OobError::WrongKind),
        }
    }

    /// The AuthValue of `len` octets (16 or 32) (§5.4.2.4.1): a number big endian, padded
    /// with zeros on the left; a string as ASCII, padded with zeros on the right.
    pub fn auth_value(&self, len: usize) -> Vec<u8> {
        match self {
            OobValue::Numeric(n) => {
                let mut v = vec![0u8; len];
                let b = n.to_be_bytes();
                let at = len.saturating_sub(4);
                v[at..].copy_from_slice(&b[4 - (len - at)..]);
                v
            }
            OobValue::Alphanumeric(s) => binary_auth_value(s.as_bytes(), len),
        }
    }
}

/// The AuthValue of a Binary value such as static OOB data (§5.4.2.4.1): copied, padded with
/// zeros at the end, or trimmed, to `len` octets.
pub fn binary_auth_value(value: &[u8], len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    let n = value.len().min(len);
    v[..n].copy_from_slice(&value[..n]);
    v
}

/// Why provisioning failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// This side found the error (a device also sent it in a Provisioning Failed PDU; a
    /// Provisioner only closes the link, §5.4.4).
    Local(ErrorCode),
    /// The peer sent a Provisioning Failed PDU with this error code.
    Remote(ErrorCode),
    /// The provisioning protocol timed out (60 s without a PDU, §5.4.4).
    ProtocolTimeout,
    /// The link timed out: no PDU from the peer for 60 s, or no Link Ack (§5.3.2).
    LinkTimeout,
    /// A transaction was not acknowledged within 30 s (§5.3.2).
    TransactionTimeout,
    /// The peer closed the link before provisioning completed.
    LinkClosed(LinkCloseReason),
    /// The Provisioner found no way to provision this device with its configuration (an
    /// authentication method or algorithm the device lacks, no static OOB value...).
    Unsupported(&'static str),
}

impl Failure {
    /// The Provisioning Failed error code, when there is one.
    pub const fn code(&self) -> Option<ErrorCode> {
        match self {
            Failure::Local(c) | Failure::Remote(c) => Some(*c),
            _ => None,
        }
    }
}

/// A P-256 key pair from 32 random octets, drawn again in the (2^-32 likely) case they are
/// not a valid private scalar. Works with any [`RngCore`], as the rest of the cores do.
pub(crate) fn generate_key_pair(rng: &mut impl RngCore) -> KeyPair {
    loop {
        let mut d = [0u8; 32];
        rng.fill_bytes(&mut d);
        if let Ok(k) = KeyPair::from_private(&d) {
            return k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_value_examples() {
        // MshPRT §5.4.2.4.1 examples: Blink 5, Output Numeric 019655, "123ABC", binary.
        let v = OobValue::Numeric(5).auth_value(16);
        assert_eq!(v, [&[0u8; 15][..], &[5]].concat());
        let v = OobValue::Numeric(19655).auth_value(16);
        assert_eq!(hex::encode(v), "00000000000000000000000000004cc7");
        let v = OobValue::Alphanumeric("123ABC".into()).auth_value(16);
        assert_eq!(hex::encode(v), "31323341424300000000000000000000");
        assert_eq!(
            hex::encode(binary_auth_value(&[0x78, 0x9a, 0xbc, 0xde], 32)),
            format!("789abcde{}", "00".repeat(28))
        );
        let long: Vec<u8> = (0..20).collect();
        assert_eq!(binary_auth_value(&long, 16), long[..16]);
        assert_eq!(OobValue::Numeric(7).auth_value(32)[31], 7);
    }

    #[test]
    fn oob_value_ranges() {
        let blink = OobAction::Output(OutputOobAction::Blink);
        let num = OobAction::Input(InputOobAction::InputNumeric);
        let alnum = OobAction::Output(OutputOobAction::OutputAlphanumeric);
        assert_eq!(
            OobValue::Numeric(0).check(blink, 1),
            Err(OobError::OutOfRange)
        );
        assert_eq!(OobValue::Numeric(0).check(num, 1), Ok(()));
        assert_eq!(OobValue::Numeric(9).check(blink, 1), Ok(()));
        assert_eq!(
            OobValue::Numeric(10).check(num, 1),
            Err(OobError::OutOfRange)
        );
        assert_eq!(OobValue::Numeric(99_999_999).check(num, 8), Ok(()));
        assert_eq!(
            OobValue::Numeric(1).check(alnum, 8),
            Err(OobError::WrongKind)
        );
        let s = |x: &str| OobValue::Alphanumeric(x.into());
        assert_eq!(s("AB12").check(alnum, 4), Ok(()));
        assert_eq!(s("AB123").check(alnum, 4), Err(OobError::OutOfRange));
        assert_eq!(s("ab").check(alnum, 4), Err(OobError::OutOfRange));
        assert_eq!(s("").check(alnum, 4), Err(OobError::OutOfRange));
    }

    #[derive(Debug)]
    struct Lcg(u64);
    impl RngCore for Lcg {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            for b in d {
                *b = self.next_u32() as u8;
            }
        }
        fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(d);
            Ok(())
        }
    }

    proptest::proptest! {
        #[test]
        fn random_values_fit(seed in proptest::prelude::any::<u64>(), size in 1u8..=8, a in 0usize..9) {
            let actions = [
                OobAction::Output(OutputOobAction::Blink),
                OobAction::Output(OutputOobAction::Beep),
                OobAction::Output(OutputOobAction::Vibrate),
                OobAction::Output(OutputOobAction::OutputNumeric),
                OobAction::Output(OutputOobAction::OutputAlphanumeric),
                OobAction::Input(InputOobAction::Push),
                OobAction::Input(InputOobAction::Twist),
                OobAction::Input(InputOobAction::InputNumeric),
                OobAction::Input(InputOobAction::InputAlphanumeric),
            ];
            let mut rng = Lcg(seed);
            let v = OobValue::random(actions[a], size, &mut rng);
            proptest::prop_assert_eq!(v.check(actions[a], size), Ok(()));
            proptest::prop_assert_eq!(v.auth_value(16).len(), 16);
            proptest::prop_assert_eq!(v.auth_value(32).len(), 32);
        }
    }
}
