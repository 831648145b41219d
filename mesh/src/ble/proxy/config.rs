//! Proxy configuration messages on the connection (Mesh Protocol 1.1 §6.6): the message is the
//! TransportPDU of a Network PDU with CTL = 1, TTL = 0 and DST the unassigned address, secured
//! with the network key's encryption and privacy keys and the proxy nonce (§3.9.5.4) instead
//! of the network nonce, and carried in a Proxy PDU of Message Type 0x02.

use crate::ble::address::{Address, IvIndex, Seq};
use crate::ble::crypto::NetworkCredentials;
use crate::ble::wire::network::{NetworkPduRepr, NonceKind};
use crate::ble::wire::proxy::ProxyConfigMessage;
use crate::ble::wire::{Error, Wire};

/// Why a proxy configuration PDU was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigPduError {
    /// The Network PDU did not open with the key (a stranger, or noise).
    #[error("proxy configuration PDU does not authenticate: {0}")]
    Auth(Error),
    /// It opened, but CTL is not 1 or TTL not 0 (§6.6).
    #[error("proxy configuration PDU with CTL {ctl} and TTL {ttl}")]
    Header {
        /// The CTL bit found.
        ctl: bool,
        /// The TTL found.
        ttl: u8,
    },
    /// The TransportPDU is no proxy configuration message (§6.6).
    #[error("malformed proxy configuration message: {0}")]
    Message(Error),
}

/// Secures `msg` from `src` with sequence number `seq` under `creds` and `iv_index` (§6.6):
/// the Data of a Proxy PDU of Message Type 0x02.
pub fn seal_config(
    creds: &NetworkCredentials,
    iv_index: IvIndex,
    seq: Seq,
    src: Address,
    msg: &ProxyConfigMessage,
) -> Result<Vec<u8>, Error> {
    NetworkPduRepr {
        ivi: iv_index.ivi(),
        nid: creds.nid,
        ctl: true,
        ttl: 0,
        seq,
        src,
        dst: Address::UNASSIGNED,
        transport_pdu: msg.to_vec(),
    }
    .encrypt(creds, iv_index, NonceKind::Proxy)
}

/// Opens the Data of a Proxy PDU of Message Type 0x02 under `creds` and `iv_index`: the
/// Network PDU's fields and the message.
pub fn open_config(
    bytes: &[u8],
    creds: &NetworkCredentials,
    iv_index: IvIndex,
) -> Result<(NetworkPduRepr, ProxyConfigMessage), ConfigPduError> {
    let pdu = NetworkPduRepr::decrypt(bytes, creds, iv_index, NonceKind::Proxy)
        .map_err(ConfigPduError::Auth)?;
    if !pdu.ctl || pdu.ttl != 0 {
        return Err(ConfigPduError::Header {
            ctl: pdu.ctl,
            ttl: pdu.ttl,
        });
    }
    let msg = ProxyConfigMessage::parse(&pdu.transport_pdu).map_err(ConfigPduError::Message)?;
    Ok((pdu, msg))
}

/// Opens arbitrary bytes as a proxy configuration PDU under a fixed key, and re-seals what
/// opens: for the fuzzing crate.
#[doc(hidden)]
pub fn fuzz_config(data: &[u8]) {
    use std::sync::OnceLock;
    static KEY: OnceLock<crate::ble::crypto::NetKey> = OnceLock::new();
    let key = KEY.get_or_init(|| crate::ble::crypto::NetKey::new([0x42; 16]));
    let mut d = data.to_vec();
    if let Some(b) = d.first_mut() {
        // Force the NID so the deobfuscation and MIC check run.
        *b = (*b & 0x80) | key.flooding.nid;
    }
    let iv = IvIndex(u32::from(d.first().map_or(0, |b| b >> 7)));
    if let Ok((pdu, msg)) = open_config(&d, &key.flooding, iv) {
        let again = seal_config(&key.flooding, iv, pdu.seq, pdu.src, &msg).expect("re-seals");
        assert_eq!(again, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::crypto::NetKey;
    use crate::ble::wire::proxy::{FilterType, ProxyPdu};
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// §8.9.1 of the specification: the Proxy PDU of a Set Filter Type (accept list) from
    /// 0x0001, SEQ 1, IV Index 0x12345678 (the values of `wire::proxy`'s test of the sample).
    #[test]
    fn sample_8_9_1_opens_and_reseals() {
        let key = NetKey::new(h("d1aafb2a1a3c281cbdb0e960edfad852").try_into().unwrap());
        let pdu = ProxyPdu::parse(&h("0210386bd60efbbb8b8c28512e792d3711f4b526")).unwrap();
        let iv = IvIndex(0x1234_5678);
        let (net, msg) = open_config(&pdu.data, &key.flooding, iv).unwrap();
        assert_eq!(
            msg,
            ProxyConfigMessage::SetFilterType(FilterType::AcceptList)
        );
        assert_eq!((net.src, net.seq.get()), (Address(0x0001), 1));
        let again = seal_config(&key.flooding, iv, net.seq, net.src, &msg).unwrap();
        assert_eq!(again, pdu.data);
        // The same bytes are no Network PDU: the network nonce does not open them.
        assert!(NetworkPduRepr::decrypt(&pdu.data, &key.flooding, iv, NonceKind::Network).is_err());
        // A stranger's key does not open them.
        let other = NetKey::new([9; 16]);
        assert!(matches!(
            open_config(&pdu.data, &other.flooding, iv),
            Err(ConfigPduError::Auth(_))
        ));
    }

    #[test]
    fn header_rules() {
        let key = NetKey::new([3; 16]);
        let iv = IvIndex(5);
        let mut pdu = NetworkPduRepr {
            ivi: 1,
            nid: key.flooding.nid,
            ctl: true,
            ttl: 1,
            seq: Seq::new(7).unwrap(),
            src: Address(0x0005),
            dst: Address::UNASSIGNED,
            transport_pdu: vec![0x00, 0x00],
        };
        let b = pdu.encrypt(&key.flooding, iv, NonceKind::Proxy).unwrap();
        assert_eq!(
            open_config(&b, &key.flooding, iv),
            Err(ConfigPduError::Header { ctl: true, ttl: 1 })
        );
        pdu.ttl = 0;
        pdu.transport_pdu = vec![0x09];
        let b = pdu.encrypt(&key.flooding, iv, NonceKind::Proxy).unwrap();
        assert!(matches!(
            open_config(&b, &key.flooding, iv),
            Err(ConfigPduError::Message(_))
        ));
        // A proxy configuration PDU always goes to the unassigned address.
        pdu.dst = Address(0x0001);
        assert!(pdu.encrypt(&key.flooding, iv, NonceKind::Proxy).is_err());
    }

    proptest! {
        #[test]
        fn seal_open(
            addrs in proptest::collection::vec(any::<u16>(), 0..5),
            seq in 0u32..=Seq::MAX,
            src in 1u16..0x8000,
            iv in any::<u32>(),
        ) {
            let key = NetKey::new([0x11; 16]);
            let msg = ProxyConfigMessage::AddAddresses(addrs.into_iter().map(Address).collect());
            let iv = IvIndex(iv);
            let b = seal_config(&key.flooding, iv, Seq::new(seq).unwrap(), Address(src), &msg)
                .unwrap();
            let (net, got) = open_config(&b, &key.flooding, iv).unwrap();
            prop_assert_eq!(got, msg);
            prop_assert_eq!(net.src, Address(src));
            prop_assert_eq!(net.seq.get(), seq);
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            fuzz_config(&data);
        }
    }
}
