//! Thread Network Layer TLVs, the payloads of TMF CoAP messages (Thread 1.3 §5.19; section
//! number unverified): one octet Type, one octet Length, the Value. Type numbers and value
//! layouts are OpenThread's (`src/core/thread/thread_tlvs.hpp`, `ThreadTlv::Type`, checked
//! in its source). One reader for every TMF payload: `/a/as` (`stack/solicit.rs`) and
//! `/a/aq`, `/a/an`, `/a/ae` (`stack/query.rs`).

use std::net::Ipv6Addr;

/// TLV type numbers (OpenThread `ThreadTlv::Type`, checked).
pub mod tlv_type {
    /// Target EID: the IPv6 address asked about (16 octets).
    pub const TARGET_EID: u8 = 0;
    pub const EXT_MAC_ADDRESS: u8 = 1;
    pub const RLOC16: u8 = 2;
    /// ML-EID: the interface identifier of the owner's ML-EID (8 octets).
    pub const ML_EID: u8 = 3;
    pub const STATUS: u8 = 4;
    /// Time Since Last Transaction, seconds (4 octets).
    pub const LAST_TRANSACTION_TIME: u8 = 6;
    pub const ROUTER_MASK: u8 = 7;
}

/// TLVs read from one payload at most; the rest is ignored (a bound, weft's choice).
pub const MAX_TLVS: usize = 32;

/// The TLVs of `b` (type, value), in order; stops at the first one that runs past the end
/// and after [`MAX_TLVS`].
pub fn tlvs(b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut v = Vec::new();
    let mut at = 0;
    while at + 2 <= b.len() && v.len() < MAX_TLVS {
        let (t, l) = (b[at], b[at + 1] as usize);
        let Some(val) = b.get(at + 2..at + 2 + l) else {
            break;
        };
        v.push((t, val));
        at += 2 + l;
    }
    v
}

/// The value of the first TLV of type `ty`.
pub fn find(b: &[u8], ty: u8) -> Option<&[u8]> {
    tlvs(b).into_iter().find(|(t, _)| *t == ty).map(|(_, v)| v)
}

/// The value of the first TLV of type `ty` when it has exactly `N` octets: `None` when
/// absent, `Some(Err(()))` when its length is wrong.
pub fn find_exact<const N: usize>(b: &[u8], ty: u8) -> Option<Result<[u8; N], ()>> {
    find(b, ty).map(|v| <[u8; N]>::try_from(v).map_err(|_| ()))
}

/// Appends a TLV (values longer than 255 octets are cut: no TMF TLV is).
pub fn push(out: &mut Vec<u8>, ty: u8, value: &[u8]) {
    let n = value.len().min(255);
    out.push(ty);
    out.push(n as u8);
    out.extend_from_slice(&value[..n]);
}

/// What Address Query, Address Notification and Address Error carry (Thread 1.3 §5.5.1-§5.5.4;
/// OpenThread `address_resolver.cpp`, checked): the Target EID, and for a notification or an
/// error the owner's ML-EID interface identifier, for a notification the RLOC16 it is
/// reached at and, from a parent answering for a child, the Time Since Last Transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressTlvs {
    pub target: Ipv6Addr,
    pub ml_eid_iid: Option<[u8; 8]>,
    pub rloc16: Option<u16>,
    pub last_transaction_secs: Option<u32>,
}

/// Why an address message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressTlvError {
    /// No Target EID TLV.
    NoTarget,
    /// A TLV of the wrong length.
    BadLength(u8),
}

impl AddressTlvs {
    /// Reads the TLVs (others are ignored, as OpenThread's `Tlv::Find` does).
    pub fn parse(b: &[u8]) -> Result<Self, AddressTlvError> {
        use tlv_type as t;
        let target = match find_exact::<16>(b, t::TARGET_EID) {
            None => return Err(AddressTlvError::NoTarget),
            Some(Err(())) => return Err(AddressTlvError::BadLength(t::TARGET_EID)),
            Some(Ok(v)) => Ipv6Addr::from(v),
        };
        let ml_eid_iid = find_exact::<8>(b, t::ML_EID)
            .transpose()
            .map_err(|_| AddressTlvError::BadLength(t::ML_EID))?;
        let rloc16 = find_exact::<2>(b, t::RLOC16)
            .transpose()
            .map_err(|_| AddressTlvError::BadLength(t::RLOC16))?
            .map(u16::from_be_bytes);
        let last_transaction_secs = find_exact::<4>(b, t::LAST_TRANSACTION_TIME)
            .transpose()
            .map_err(|_| AddressTlvError::BadLength(t::LAST_TRANSACTION_TIME))?
            .map(u32::from_be_bytes);
        Ok(AddressTlvs {
            target,
            ml_eid_iid,
            rloc16,
            last_transaction_secs,
        })
    }

    /// The payload, in OpenThread's order: Target EID, ML-EID, RLOC16, Last Transaction Time.
    pub fn to_vec(&self) -> Vec<u8> {
        use tlv_type as t;
        let mut out = Vec::with_capacity(40);
        push(&mut out, t::TARGET_EID, &self.target.octets());
        if let Some(i) = self.ml_eid_iid {
            push(&mut out, t::ML_EID, &i);
        }
        if let Some(r) = self.rloc16 {
            push(&mut out, t::RLOC16, &r.to_be_bytes());
        }
        if let Some(s) = self.last_transaction_secs {
            push(&mut out, t::LAST_TRANSACTION_TIME, &s.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_notification_is_laid_out_as_openthread_sends_it() {
        let a = AddressTlvs {
            target: "fd00::1234".parse().unwrap(),
            ml_eid_iid: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            rloc16: Some(0x0401),
            last_transaction_secs: Some(7),
        };
        let b = a.to_vec();
        assert_eq!(&b[..2], &[0, 16]);
        assert_eq!(&b[18..20], &[3, 8]);
        assert_eq!(&b[28..32], &[2, 2, 0x04, 0x01]);
        assert_eq!(&b[32..], &[6, 4, 0, 0, 0, 7]);
        assert_eq!(AddressTlvs::parse(&b), Ok(a));
    }

    #[test]
    fn short_and_missing_tlvs_are_refused() {
        assert_eq!(AddressTlvs::parse(&[]), Err(AddressTlvError::NoTarget));
        assert_eq!(
            AddressTlvs::parse(&[0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(AddressTlvError::BadLength(0))
        );
        let mut b = vec![0, 16];
        b.extend([0u8; 16]);
        b.extend([2, 1, 5]);
        assert_eq!(AddressTlvs::parse(&b), Err(AddressTlvError::BadLength(2)));
        // A TLV running past the end is not read.
        assert_eq!(tlvs(&[4, 3, 0]), vec![]);
    }

    proptest! {
        #[test]
        fn address_tlvs_round_trip(
            t in any::<[u8; 16]>(),
            i in proptest::option::of(any::<[u8; 8]>()),
            r in proptest::option::of(any::<u16>()),
            s in proptest::option::of(any::<u32>()),
        ) {
            let a = AddressTlvs {
                target: Ipv6Addr::from(t),
                ml_eid_iid: i,
                rloc16: r,
                last_transaction_secs: s,
            };
            prop_assert_eq!(AddressTlvs::parse(&a.to_vec()), Ok(a));
        }

        #[test]
        fn any_bytes_are_read_without_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = AddressTlvs::parse(&b);
            prop_assert!(tlvs(&b).len() <= MAX_TLVS);
        }
    }
}
