//! The network PDU (Mesh Protocol 1.1 §3.4.4) with its encryption (§3.9.7.2) and header
//! obfuscation (§3.9.7.3).
//!
//! ```text
//! octet 0      IVI (1 bit) | NID (7 bits)                       clear
//! octets 1..7  CTL (1) | TTL (7), SEQ (24), SRC (16)            obfuscated
//! octets 7..   DST (16) | TransportPDU (1..16 octets)           encrypted
//! last 4 or 8  NetMIC (32 bits when CTL = 0, 64 bits when CTL = 1)
//! ```

use crate::ble::address::{Address, IvIndex, Seq};
use crate::ble::crypto::{nonce, NetworkCredentials};
use crate::crypto::MicLen;

use super::{need, Error, Result};

/// The largest network PDU: 29 octets, what fits in one advertising AD structure (§3.4.4).
pub const MAX_LEN: usize = 29;
/// The smallest: 9 header octets (IVI/NID, CTL/TTL, SEQ, SRC, DST), one transport octet and a
/// 32-bit NetMIC.
pub const MIN_LEN: usize = 14;
/// The largest lower transport PDU of an access message (CTL = 0): 16 octets (§3.4.4).
pub const MAX_TRANSPORT_ACCESS: usize = 16;
/// The largest lower transport PDU of a control message (CTL = 1): 12 octets (§3.4.4).
pub const MAX_TRANSPORT_CONTROL: usize = 12;
/// The largest TTL (§3.4.4.4). 0 means "not relayed and will not be", 1 "may have been
/// relayed, will not be", 2..=127 may be relayed.
pub const MAX_TTL: u8 = 0x7f;

/// Which nonce secures the PDU: the network nonce for the advertising and GATT bearers
/// (§3.9.5.1) or the proxy nonce for proxy configuration messages (§3.9.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonceKind {
    Network,
    Proxy,
}

/// A checked zero-copy view of a secured network PDU: the clear fields and the secured bytes.
#[derive(Debug, Clone, Copy)]
pub struct NetworkPdu<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NetworkPdu<T> {
    /// Wraps `buffer` after checking its length is that of a network PDU.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need(b, MIN_LEN)?;
        super::at_most(b, MAX_LEN)?;
        Ok(NetworkPdu { buffer })
    }

    /// IVI: the least significant bit of the IV Index used (§3.4.4.1).
    pub fn ivi(&self) -> u8 {
        self.buffer.as_ref()[0] >> 7
    }

    /// NID: the 7-bit identifier of the credentials that secure the PDU (§3.4.4.2).
    pub fn nid(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x7f
    }

    /// The six obfuscated header octets (CTL|TTL, SEQ, SRC).
    pub fn obfuscated_header(&self) -> [u8; 6] {
        self.buffer.as_ref()[1..7]
            .try_into()
            .expect("length checked")
    }

    /// Privacy Random: the first seven octets of the encrypted DST, transport PDU and NetMIC
    /// (§3.9.7.3).
    pub fn privacy_random(&self) -> [u8; 7] {
        self.buffer.as_ref()[7..14]
            .try_into()
            .expect("length checked")
    }

    /// DST || TransportPDU || NetMIC, encrypted.
    pub fn secured(&self) -> &[u8] {
        &self.buffer.as_ref()[7..]
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A network PDU in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkPduRepr {
    /// The least significant bit of the IV Index.
    pub ivi: u8,
    /// The NID of the credentials.
    pub nid: u8,
    /// 1 for a control message, 0 for an access message (§3.4.4.3).
    pub ctl: bool,
    /// Time to live, 0..=127 (§3.4.4.4).
    pub ttl: u8,
    /// Sequence number (§3.4.4.5).
    pub seq: Seq,
    /// Source: a unicast address (§3.4.4.6).
    pub src: Address,
    /// Destination: never the unassigned address (§3.4.4.7).
    pub dst: Address,
    /// The lower transport PDU.
    pub transport_pdu: Vec<u8>,
}

impl NetworkPduRepr {
    /// The NetMIC size: 64 bits for control messages, 32 for access messages (§3.4.4.9).
    pub fn mic_len(&self) -> MicLen {
        MicLen::from_flag(self.ctl)
    }

    fn ctl_ttl(&self) -> u8 {
        u8::from(self.ctl) << 7 | self.ttl
    }

    fn nonce(&self, kind: NonceKind, iv_index: IvIndex) -> [u8; 13] {
        match kind {
            NonceKind::Network => nonce::network(
                self.ctl_ttl(),
                self.seq.to_be_bytes(),
                self.src.0,
                iv_index.0,
            ),
            NonceKind::Proxy => nonce::proxy(self.seq.to_be_bytes(), self.src.0, iv_index.0),
        }
    }

    /// Checks the field rules a sender must follow, so `encrypt` only produces valid PDUs.
    pub fn validate(&self) -> Result<()> {
        self.validate_for(NonceKind::Network)
    }

    /// The DST rule of a PDU secured with `kind`: a Network PDU never goes to the unassigned
    /// address (§3.4.2.1); a proxy configuration message always does (§6.6: DST is set to the
    /// unassigned address), so it can never be taken for the other kind.
    fn check_dst(&self, kind: NonceKind) -> Result<()> {
        match (kind, self.dst.is_unassigned()) {
            (NonceKind::Network, true) => Err(Error::Invalid {
                field: "DST",
                value: 0,
            }),
            (NonceKind::Proxy, false) => Err(Error::Invalid {
                field: "proxy configuration DST",
                value: self.dst.0.into(),
            }),
            _ => Ok(()),
        }
    }

    /// [`NetworkPduRepr::validate`] for a PDU secured with the nonce `kind`.
    pub fn validate_for(&self, kind: NonceKind) -> Result<()> {
        if self.ttl > MAX_TTL {
            return Err(Error::Invalid {
                field: "TTL",
                value: self.ttl.into(),
            });
        }
        if !self.src.is_unicast() {
            return Err(Error::Invalid {
                field: "SRC",
                value: self.src.0.into(),
            });
        }
        self.check_dst(kind)?;
        let max = if self.ctl {
            MAX_TRANSPORT_CONTROL
        } else {
            MAX_TRANSPORT_ACCESS
        };
        if self.transport_pdu.is_empty() {
            return Err(Error::Truncated { need: 1, got: 0 });
        }
        if self.transport_pdu.len() > max {
            return Err(Error::TooLong {
                max,
                got: self.transport_pdu.len(),
            });
        }
        Ok(())
    }

    /// The length of the secured PDU.
    pub fn buffer_len(&self) -> usize {
        9 + self.transport_pdu.len() + self.mic_len().len()
    }

    /// Encrypts and obfuscates the PDU under `creds` and `iv_index` (§3.9.7.2, §3.9.7.3).
    /// The `ivi` and `nid` fields are taken from `iv_index` and `creds`.
    pub fn encrypt(
        &self,
        creds: &NetworkCredentials,
        iv_index: IvIndex,
        kind: NonceKind,
    ) -> Result<Vec<u8>> {
        self.validate_for(kind)?;
        let mut out = vec![0u8; self.buffer_len()];
        out[0] = iv_index.ivi() << 7 | creds.nid;
        out[1] = self.ctl_ttl();
        out[2..5].copy_from_slice(&self.seq.to_be_bytes());
        out[5..7].copy_from_slice(&self.src.0.to_be_bytes());
        out[7..9].copy_from_slice(&self.dst.0.to_be_bytes());
        let body = 9 + self.transport_pdu.len();
        out[9..body].copy_from_slice(&self.transport_pdu);
        let nonce = self.nonce(kind, iv_index);
        let (mic, n) =
            creds
                .encryption()
                .encrypt_in_place(&nonce, &[], &mut out[7..body], self.mic_len());
        out[body..].copy_from_slice(&mic[..n]);
        let random: [u8; 7] = out[7..14].try_into().expect("length is at least 14");
        let mut header: [u8; 6] = out[1..7].try_into().expect("six octets");
        creds.obfuscate(iv_index.0, &random, &mut header);
        out[1..7].copy_from_slice(&header);
        Ok(out)
    }

    /// Deobfuscates and decrypts `pdu` with `creds`, using the IV Index `iv_index` exactly
    /// (see [`IvIndex::for_rx`] to choose it from the IVI bit). Fails with `Error::Auth` when
    /// the NID differs or the NetMIC does not authenticate.
    pub fn decrypt(
        pdu: &[u8],
        creds: &NetworkCredentials,
        iv_index: IvIndex,
        kind: NonceKind,
    ) -> Result<Self> {
        let view = NetworkPdu::new_checked(pdu)?;
        if view.nid() != creds.nid {
            return Err(Error::Auth("NID does not match the key"));
        }
        if view.ivi() != iv_index.ivi() {
            return Err(Error::Auth("IVI does not match the IV index"));
        }
        let mut header = view.obfuscated_header();
        creds.obfuscate(iv_index.0, &view.privacy_random(), &mut header);
        let ctl = header[0] & 0x80 != 0;
        let mic = MicLen::from_flag(ctl).len();
        // DST (2) + at least one transport octet before the MIC.
        need(pdu, 7 + 3 + mic)?;
        let mut repr = NetworkPduRepr {
            ivi: view.ivi(),
            nid: view.nid(),
            ctl,
            ttl: header[0] & 0x7f,
            seq: Seq::from_be_bytes([header[1], header[2], header[3]]),
            src: Address(u16::from_be_bytes([header[4], header[5]])),
            dst: Address::UNASSIGNED,
            transport_pdu: Vec::new(),
        };
        let nonce = repr.nonce(kind, iv_index);
        let split = pdu.len() - mic;
        let mut body = pdu[7..split].to_vec();
        creds
            .encryption()
            .decrypt_in_place(&nonce, &[], &mut body, &pdu[split..])
            .map_err(|_| Error::Auth("NetMIC does not authenticate"))?;
        repr.dst = Address(u16::from_be_bytes([body[0], body[1]]));
        body.drain(..2);
        repr.transport_pdu = body;
        // A PDU that authenticates but breaks the field rules is still malformed (§3.4.4).
        if !repr.src.is_unicast() {
            return Err(Error::Invalid {
                field: "SRC",
                value: repr.src.0.into(),
            });
        }
        repr.check_dst(kind)?;
        if repr.ctl && repr.transport_pdu.len() > MAX_TRANSPORT_CONTROL {
            return Err(Error::TooLong {
                max: MAX_TRANSPORT_CONTROL,
                got: repr.transport_pdu.len(),
            });
        }
        Ok(repr)
    }
}

/// Calls every parser of this module on `data`; for the fuzzer.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    use std::sync::OnceLock;
    static KEYS: OnceLock<crate::ble::crypto::NetKey> = OnceLock::new();
    let key = KEYS.get_or_init(|| crate::ble::crypto::NetKey::new([0x42; 16]));
    if let Ok(v) = NetworkPdu::new_checked(data) {
        let _ = (v.ivi(), v.nid(), v.privacy_random(), v.secured());
    }
    // Force the NID so the deobfuscation and MIC check run on arbitrary bytes too.
    if data.len() >= MIN_LEN {
        let mut d = data.to_vec();
        d[0] = (d[0] & 0x80) | key.flooding.nid;
        let iv = IvIndex(u32::from(d[0] >> 7));
        for kind in [NonceKind::Network, NonceKind::Proxy] {
            if let Ok(r) = NetworkPduRepr::decrypt(&d, &key.flooding, iv, kind) {
                let again = r
                    .encrypt(&key.flooding, iv, kind)
                    .expect("a decrypted PDU re-encrypts");
                assert_eq!(again, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::crypto::NetKey;
    use proptest::prelude::*;

    fn key() -> NetKey {
        NetKey::new(*b"0123456789abcdef")
    }

    fn repr() -> impl Strategy<Value = NetworkPduRepr> {
        (
            any::<bool>(),
            0u8..=127,
            0u32..=Seq::MAX,
            1u16..=0x7fff,
            1u16..=0xffff,
            any::<u8>(),
        )
            .prop_flat_map(|(ctl, ttl, seq, src, dst, _)| {
                let max = if ctl {
                    MAX_TRANSPORT_CONTROL
                } else {
                    MAX_TRANSPORT_ACCESS
                };
                proptest::collection::vec(any::<u8>(), 1..=max).prop_map(move |t| NetworkPduRepr {
                    ivi: 0,
                    nid: 0,
                    ctl,
                    ttl,
                    seq: Seq::new(seq).unwrap(),
                    src: Address(src),
                    dst: Address(dst),
                    transport_pdu: t,
                })
            })
    }

    proptest! {
        #[test]
        fn round_trip(mut r in repr(), iv in any::<u32>(), proxy in any::<bool>()) {
            let k = key();
            let kind = if proxy { NonceKind::Proxy } else { NonceKind::Network };
            let iv = IvIndex(iv);
            r.ivi = iv.ivi();
            r.nid = k.flooding.nid;
            if proxy {
                r.dst = Address::UNASSIGNED;
            }
            let bytes = r.encrypt(&k.flooding, iv, kind).unwrap();
            prop_assert_eq!(bytes.len(), r.buffer_len());
            prop_assert!(bytes.len() <= MAX_LEN);
            prop_assert_eq!(NetworkPduRepr::decrypt(&bytes, &k.flooding, iv, kind).unwrap(), r);
            // Any flipped bit fails authentication (or the NID/IVI check), never panics.
            let mut bad = bytes.clone();
            let i = bytes.len() - 1;
            bad[i] ^= 1;
            prop_assert!(NetworkPduRepr::decrypt(&bad, &k.flooding, iv, kind).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            fuzz_parse(&data);
        }
    }

    #[test]
    fn rejects_bad_lengths_and_fields() {
        let k = key();
        assert!(matches!(
            NetworkPduRepr::decrypt(&[0; 13], &k.flooding, IvIndex(0), NonceKind::Network),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            NetworkPduRepr::decrypt(&[0; 30], &k.flooding, IvIndex(0), NonceKind::Network),
            Err(Error::TooLong { .. })
        ));
        let mut r = NetworkPduRepr {
            ivi: 0,
            nid: 0,
            ctl: true,
            ttl: 5,
            seq: Seq::new(1).unwrap(),
            src: Address(1),
            dst: Address(2),
            transport_pdu: vec![0; 13],
        };
        assert!(r
            .encrypt(&k.flooding, IvIndex(0), NonceKind::Network)
            .is_err());
        r.transport_pdu.truncate(12);
        assert!(r
            .encrypt(&k.flooding, IvIndex(0), NonceKind::Network)
            .is_ok());
        r.src = Address(0x8001);
        assert!(r
            .encrypt(&k.flooding, IvIndex(0), NonceKind::Network)
            .is_err());
        r.src = Address(1);
        r.dst = Address(0);
        assert!(r
            .encrypt(&k.flooding, IvIndex(0), NonceKind::Network)
            .is_err());
        r.dst = Address(2);
        r.ttl = 128;
        assert!(r
            .encrypt(&k.flooding, IvIndex(0), NonceKind::Network)
            .is_err());
    }
}
