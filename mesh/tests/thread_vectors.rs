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
