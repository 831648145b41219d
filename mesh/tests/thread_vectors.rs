//! Thread and IEEE 802.15.4 sample data, read from `tests/data/thread-sample-data.json`:
//! key derivation (Thread 1.1 §7.1.4 vectors), CCM* on 802.15.4-2006 Annex C.2 frames, and an
//! MLE Advertisement.

use serde_json::Value;
use weft_mesh::crypto::CcmStar;
use weft_mesh::thread::mac::{Address, Body, Frame, FrameType, FrameVersion};
use weft_mesh::thread::security::{self, key_index, KeyManager, ThreadKeys};
use weft_mesh::Wire;

fn data() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/thread-sample-data.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(
        v.as_str()
            .unwrap_or_else(|| panic!("{v} is not a hex string")),
    )
    .unwrap()
}

fn h16(v: &Value) -> [u8; 16] {
    h(v).try_into().unwrap()
}

#[test]
fn thread_key_derivation() {
    let d = data();
    let vectors = d["key_derivation"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let seq = v["key_sequence"].as_u64().unwrap() as u32;
        let k = ThreadKeys::derive(&h16(&v["network_key"]), seq);
        assert_eq!(
            k.mle_key.to_vec(),
            h(&v["mle_key"]),
            "MLE key, sequence {seq}"
        );
        assert_eq!(
            k.mac_key.to_vec(),
            h(&v["mac_key"]),
            "MAC key, sequence {seq}"
        );
        assert_eq!(k.key_index(), key_index(seq));
        // The manager holds the same keys for the sequence and its neighbours.
        let m = KeyManager::new(h16(&v["network_key"]), seq);
        assert_eq!(m.current().mac_key, k.mac_key);
        assert_eq!(m.keys_for_index(key_index(seq)).unwrap().mle_key, k.mle_key);
    }
}

#[test]
fn thread_ccm_star_vectors() {
    let d = data();
    let vectors = d["ieee802154_ccm_star"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let key = CcmStar::new(&h16(&v["key"]));
        let nonce: [u8; 13] = h(&v["nonce"]).try_into().unwrap();
        let a = h(&v["a_data"]);
        let plain = h(&v["plaintext"]);
        let ct_mic = h(&v["ciphertext_and_mic"]);
        let mic_len = ct_mic.len() - plain.len();

        // CCM* itself.
        let mut buf = plain.clone();
        let mic = key.encrypt_in_place(&nonce, &a, &mut buf, mic_len).unwrap();
        buf.extend_from_slice(&mic);
        assert_eq!(buf, ct_mic, "{name}: CCM*");

        // The frame on the air is a data || ciphertext || MIC; parsed, its nonce is built from
        // the source address and aux header, and it opens to the plaintext.
        let mut air = a.clone();
        air.extend_from_slice(&ct_mic);
        let f = Frame::parse(&air).unwrap();
        assert_eq!(f.to_vec(), air, "{name}: re-emit");
        assert_eq!(f.version, FrameVersion::V2006);
        let Address::Extended(src) = f.src else {
            panic!("{name}: extended source expected")
        };
        let sec = f.security.unwrap();
        assert_eq!(
            security::nonce(src, sec.frame_counter.unwrap(), sec.level.value()),
            nonce,
            "{name}: nonce"
        );
        let open = security::unsecure(&f, &key, src).unwrap();
        let Body::Open { payload, .. } = &open.body else {
            panic!("{name}: open body expected")
        };
        assert!(payload.ends_with(&plain), "{name}: plaintext");
        if f.frame_type == FrameType::MacCommand {
            // The Command ID is the open payload: in the a data, not encrypted.
            assert_eq!(payload[0], *a.last().unwrap());
        }
        // Round trip: securing the opened frame gives the air bytes back.
        assert_eq!(security::secure(&open, &key, src).unwrap().to_vec(), air);
        // One flipped MIC bit is refused.
        let mut bad = air.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(security::unsecure(&Frame::parse(&bad).unwrap(), &key, src).is_err());
    }
}

#[test]
fn thread_mle_vector() {
    use std::net::Ipv6Addr;
    use weft_mesh::thread::mle::{self, command, MleMessage, Tlv};

    let d = data();
    let vectors = d["mle"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let src: Ipv6Addr = v["src_ipv6"].as_str().unwrap().parse().unwrap();
        let dst: Ipv6Addr = v["dst_ipv6"].as_str().unwrap().parse().unwrap();
        let aux = h(&v["aux_header"]);
        let ct_mic = h(&v["ciphertext_and_mic"]);
        let fc = v["frame_counter"].as_u64().unwrap() as u32;

        // The sender's extended address and the nonce.
        assert_eq!(
            mle::ext_address_of(&src).0.to_vec(),
            h(&v["src_ext_addr"]),
            "{name}"
        );
        assert_eq!(
            security::nonce(mle::ext_address_of(&src), fc, 5).to_vec(),
            h(&v["nonce"]),
            "{name}: nonce"
        );
        // The a data: source, destination, auxiliary header.
        let a = [&src.octets()[..], &dst.octets()[..], &aux[..]].concat();
        assert_eq!(a, h(&v["a_data"]), "{name}: a data");

        // On the air: security suite 0, the aux header, ciphertext and MIC.
        let air = [&[mle::SUITE_SECURED][..], &aux, &ct_mic].concat();
        let msg = MleMessage::parse(&air).unwrap();
        assert_eq!(msg.to_vec(), air);
        let MleMessage::Secured { aux: header, .. } = &msg else {
            panic!("{name}: secured expected")
        };
        assert_eq!(header.frame_counter, Some(fc));

        let seq = v["key_sequence"].as_u64().unwrap() as u32;
        let mut keys = KeyManager::new(h16(&v["network_key"]), seq);
        let opened = mle::open(&msg, &mut keys, &src, &dst).unwrap();
        assert_eq!(
            opened.payload.to_vec(),
            h(&v["plaintext"]),
            "{name}: plaintext"
        );
        // Sealing the plaintext again gives the same octets.
        assert_eq!(
            mle::seal(&opened.payload, keys.current(), fc, &src, &dst).to_vec(),
            air
        );

        // The decoded fields the file gives.
        let want = &v["decoded"];
        assert_eq!(
            command::name(opened.payload.command),
            want["command"].as_str()
        );
        let tlvs = &opened.payload.tlvs;
        let src_addr = u16::from_str_radix(want["source_address"].as_str().unwrap(), 16).unwrap();
        assert!(tlvs.contains(&Tlv::SourceAddress(src_addr)));
        let route = tlvs
            .iter()
            .find_map(|t| match t {
                Tlv::Route64(r) => Some(r),
                _ => None,
            })
            .expect("Route64 TLV");
        let r = &want["route64"];
        assert_eq!(route.id_sequence as u64, r["id_sequence"].as_u64().unwrap());
        let ids: Vec<u64> = route.router_ids().iter().map(|&i| i as u64).collect();
        let want_ids: Vec<u64> = r["router_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(ids, want_ids);
        assert_eq!(route.route_data, h(&r["route_bytes"]));
        assert_eq!(route.entries().map(|e| e.len()), Some(want_ids.len()));
        let leader = tlvs
            .iter()
            .find_map(|t| match t {
                Tlv::LeaderData(l) => Some(*l),
                _ => None,
            })
            .expect("Leader Data TLV");
        let l = &want["leader_data"];
        assert_eq!(
            leader.partition_id,
            u32::from_str_radix(l["partition_id"].as_str().unwrap(), 16).unwrap()
        );
        assert_eq!(leader.weighting as u64, l["weighting"].as_u64().unwrap());
        assert_eq!(
            leader.data_version as u64,
            l["data_version"].as_u64().unwrap()
        );
        assert_eq!(
            leader.stable_data_version as u64,
            l["stable_data_version"].as_u64().unwrap()
        );
        assert_eq!(
            leader.leader_router_id as u64,
            l["leader_router_id"].as_u64().unwrap()
        );

        // A flipped ciphertext bit is refused.
        let mut bad = air.clone();
        bad[12] ^= 1;
        assert!(mle::open(&MleMessage::parse(&bad).unwrap(), &mut keys, &src, &dst).is_err());
    }
}
