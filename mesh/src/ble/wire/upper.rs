//! Upper transport access PDU encryption (Mesh Protocol 1.1 §3.6.2 and §3.9.7.1, "Upper
//! transport layer encryption"): the access payload is AES-CCM encrypted with an
//! application key (application nonce, §3.9.5.2) or a device key (device nonce, §3.9.5.3); the
//! Label UUID of a virtual destination is the additional data.
//!
//! ```text
//! Upper Transport Access PDU = Encrypted Access Payload (1..380 octets) || TransMIC (4 or 8)
//! ```

use crate::ble::address::{Address, IvIndex, Seq};
use crate::ble::crypto::{nonce, AppKey, DevKey};
use crate::crypto::{Ccm, MicLen};

use super::{at_most, need, Error, Result};

/// The largest access payload: 380 octets (§3.7.3).
pub const MAX_ACCESS_PAYLOAD: usize = 380;

/// The key that secures an access message: AKF = 1 and an application key (with its AID), or
/// AKF = 0 and a device key (§3.6.2).
#[derive(Debug, Clone, Copy)]
pub enum AccessKey<'a> {
    App(&'a AppKey),
    Dev(&'a DevKey),
}

impl AccessKey<'_> {
    /// AKF: 1 for an application key.
    pub fn akf(&self) -> bool {
        matches!(self, AccessKey::App(_))
    }

    /// AID: k4(AppKey) for an application key, 0 for a device key.
    pub fn aid(&self) -> u8 {
        match self {
            AccessKey::App(k) => k.aid,
            AccessKey::Dev(_) => 0,
        }
    }

    fn ccm(&self) -> &Ccm {
        match self {
            AccessKey::App(k) => k.ccm(),
            AccessKey::Dev(k) => k.ccm(),
        }
    }
}

/// What the nonce of an access message is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessContext {
    /// The 24 least significant bits of SeqAuth: the SEQ of the first segment, or of the only
    /// PDU of an unsegmented message.
    pub seq: Seq,
    pub src: Address,
    pub dst: Address,
    /// The IV Index of SeqAuth.
    pub iv_index: IvIndex,
    /// SZMIC of a segmented message; always false for an unsegmented one, whose TransMIC is 32
    /// bits (§3.6.2).
    pub szmic: bool,
}

impl AccessContext {
    fn nonce(&self, key: &AccessKey<'_>) -> [u8; 13] {
        let seq = self.seq.to_be_bytes();
        match key {
            AccessKey::App(_) => {
                nonce::application(self.szmic, seq, self.src.0, self.dst.0, self.iv_index.0)
            }
            AccessKey::Dev(_) => {
                nonce::device(self.szmic, seq, self.src.0, self.dst.0, self.iv_index.0)
            }
        }
    }

    fn mic(&self) -> MicLen {
        MicLen::from_flag(self.szmic)
    }
}

/// Encrypts an access payload into an upper transport access PDU. `label_uuid` is required
/// exactly when `ctx.dst` is a virtual address (§3.9.7.1).
pub fn encrypt_access(
    key: AccessKey<'_>,
    ctx: &AccessContext,
    label_uuid: Option<&[u8; 16]>,
    payload: &[u8],
) -> Result<Vec<u8>> {
    need(payload, 1)?;
    at_most(payload, MAX_ACCESS_PAYLOAD)?;
    check_label(ctx, label_uuid)?;
    let aad: &[u8] = label_uuid.map_or(&[], |l| l.as_slice());
    Ok(key.ccm().encrypt(&ctx.nonce(&key), aad, payload, ctx.mic()))
}

/// Decrypts an upper transport access PDU. Fails with `Error::Auth` if the TransMIC does not
/// authenticate under this key, nonce and label.
pub fn decrypt_access(
    key: AccessKey<'_>,
    ctx: &AccessContext,
    label_uuid: Option<&[u8; 16]>,
    upper_pdu: &[u8],
) -> Result<Vec<u8>> {
    need(upper_pdu, 1 + ctx.mic().len())?;
    at_most(upper_pdu, MAX_ACCESS_PAYLOAD + ctx.mic().len())?;
    check_label(ctx, label_uuid)?;
    let aad: &[u8] = label_uuid.map_or(&[], |l| l.as_slice());
    key.ccm()
        .decrypt(&ctx.nonce(&key), aad, upper_pdu, ctx.mic())
        .map_err(|_| Error::Auth("TransMIC does not authenticate"))
}

fn check_label(ctx: &AccessContext, label_uuid: Option<&[u8; 16]>) -> Result<()> {
    match (ctx.dst.is_virtual(), label_uuid) {
        (true, Some(l)) if crate::ble::crypto::virtual_address(l) == ctx.dst.0 => Ok(()),
        (false, None) => Ok(()),
        _ => Err(Error::Invalid {
            field: "Label UUID for DST",
            value: ctx.dst.0.into(),
        }),
    }
}

/// Decrypts `data` as an access PDU under a fixed key; for the fuzzer.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    use std::sync::OnceLock;
    static KEY: OnceLock<AppKey> = OnceLock::new();
    let key = KEY.get_or_init(|| AppKey::new([7; 16]));
    let ctx = AccessContext {
        seq: Seq::truncate(1),
        src: Address(1),
        dst: Address(2),
        iv_index: IvIndex(0),
        szmic: data.first().is_some_and(|b| b & 1 == 1),
    };
    if let Ok(p) = decrypt_access(AccessKey::App(key), &ctx, None, data) {
        assert_eq!(
            encrypt_access(AccessKey::App(key), &ctx, None, &p).unwrap(),
            data
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 1..=MAX_ACCESS_PAYLOAD),
                      szmic in any::<bool>(), dev in any::<bool>(), seq in 0..=Seq::MAX, iv in any::<u32>(),
                      label in any::<[u8; 16]>(), virt in any::<bool>()) {
            let app = AppKey::new([1; 16]);
            let devk = DevKey::new([2; 16]);
            let key = if dev { AccessKey::Dev(&devk) } else { AccessKey::App(&app) };
            let (dst, label) = if virt {
                (Address(crate::ble::crypto::virtual_address(&label)), Some(&label))
            } else {
                (Address(0xc001), None)
            };
            let ctx = AccessContext { seq: Seq::new(seq).unwrap(), src: Address(5), dst, iv_index: IvIndex(iv), szmic };
            let upper = encrypt_access(key, &ctx, label, &payload).unwrap();
            prop_assert_eq!(upper.len(), payload.len() + if szmic { 8 } else { 4 });
            prop_assert_eq!(decrypt_access(key, &ctx, label, &upper).unwrap(), payload);
            // The other key family never authenticates it.
            let other = if dev { AccessKey::App(&app) } else { AccessKey::Dev(&devk) };
            prop_assert!(decrypt_access(other, &ctx, label, &upper).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            fuzz_parse(&data);
        }
    }

    #[test]
    fn virtual_destination_needs_its_label() {
        let app = AppKey::new([1; 16]);
        let ctx = AccessContext {
            seq: Seq::truncate(1),
            src: Address(1),
            dst: Address(0x8123),
            iv_index: IvIndex(0),
            szmic: false,
        };
        assert!(encrypt_access(AccessKey::App(&app), &ctx, None, b"x").is_err());
        assert!(encrypt_access(AccessKey::App(&app), &ctx, Some(&[0; 16]), b"x").is_err());
    }
}
