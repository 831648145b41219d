//! The MLE Address Registration TLV's value (Thread 1.3 §4.4.?, section unverified; type 19,
//! layout as OpenThread's `AddressRegistrationEntry`, `mle_tlvs.hpp`, checked): entries one
//! after the other, each a control octet (bit 7 `C`: compressed; bits 3-0 the 6LoWPAN
//! context ID) then the 8-octet interface identifier under that context's prefix when
//! compressed, else the full 16-octet address. A child registers its addresses with its
//! parent (Child ID Request, Child Update Request), which answers Address Queries for it.

use std::net::Ipv6Addr;

use super::tlv_type::ADDRESS_REGISTRATION;
use super::Tlv;

/// Control octet: compressed (OpenThread `kCompressed`, checked).
const COMPRESSED: u8 = 0x80;
/// Control octet: the context ID (OpenThread `kContextIdMask`, checked).
const CONTEXT_MASK: u8 = 0x0f;
/// Entries read from one TLV at most (a parent keeps few per child; weft's bound).
pub const MAX_ENTRIES: usize = 16;

/// One registered address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// An interface identifier under the prefix of 6LoWPAN context `context`.
    Compressed {
        context: u8,
        iid: [u8; 8],
    },
    Full(Ipv6Addr),
}

impl Entry {
    /// The address, given the prefix of each context this node knows.
    pub fn address(&self, prefix_of: impl Fn(u8) -> Option<[u8; 8]>) -> Option<Ipv6Addr> {
        match *self {
            Entry::Full(a) => Some(a),
            Entry::Compressed { context, iid } => {
                let p = prefix_of(context)?;
                Some(crate::thread::ip::addr::with_iid(p, iid))
            }
        }
    }
}

/// The TLV of `entries`.
pub fn tlv(entries: &[Entry]) -> Tlv {
    let mut value = Vec::new();
    for e in entries {
        match e {
            Entry::Compressed { context, iid } => {
                value.push(COMPRESSED | (context & CONTEXT_MASK));
                value.extend_from_slice(iid);
            }
            Entry::Full(a) => {
                value.push(0);
                value.extend_from_slice(&a.octets());
            }
        }
    }
    Tlv::Unknown {
        tlv_type: ADDRESS_REGISTRATION,
        value,
    }
}

/// The entries of an Address Registration TLV's value; `None` when an entry runs past the
/// end. At most [`MAX_ENTRIES`] are read.
pub fn parse(value: &[u8]) -> Option<Vec<Entry>> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < value.len() && v.len() < MAX_ENTRIES {
        let c = value[at];
        if c & COMPRESSED != 0 {
            let iid: [u8; 8] = value.get(at + 1..at + 9)?.try_into().ok()?;
            v.push(Entry::Compressed {
                context: c & CONTEXT_MASK,
                iid,
            });
            at += 9;
        } else {
            let a: [u8; 16] = value.get(at + 1..at + 17)?.try_into().ok()?;
            v.push(Entry::Full(Ipv6Addr::from(a)));
            at += 17;
        }
    }
    Some(v)
}

/// The entries of the Address Registration TLV among `tlvs`, when there is one.
pub fn find(tlvs: &[Tlv]) -> Option<Option<Vec<Entry>>> {
    tlvs.iter().find_map(|t| match t {
        Tlv::Unknown { tlv_type, value } if *tlv_type == ADDRESS_REGISTRATION => Some(parse(value)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (0u8..16, any::<[u8; 8]>())
                .prop_map(|(context, iid)| Entry::Compressed { context, iid }),
            any::<[u8; 16]>().prop_map(|a| Entry::Full(Ipv6Addr::from(a))),
        ]
    }

    #[test]
    fn an_ml_eid_under_context_0_is_nine_octets() {
        let Tlv::Unknown { tlv_type, value } = tlv(&[Entry::Compressed {
            context: 0,
            iid: [1, 2, 3, 4, 5, 6, 7, 8],
        }]) else {
            panic!()
        };
        assert_eq!(tlv_type, 19);
        assert_eq!(value, [0x80, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(parse(&value[..8]), None);
    }

    proptest! {
        #[test]
        fn entries_round_trip(es in proptest::collection::vec(entry(), 0..MAX_ENTRIES)) {
            let Tlv::Unknown { value, .. } = tlv(&es) else { panic!() };
            prop_assert_eq!(parse(&value), Some(es));
        }

        #[test]
        fn any_value_is_read_without_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(v) = parse(&b) {
                prop_assert!(v.len() <= MAX_ENTRIES);
            }
        }
    }
}
