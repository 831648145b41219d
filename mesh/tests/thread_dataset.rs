//! The Active Operational Dataset and the PSKc against data from implementations nobody here
//! wrote (`tests/data/thread-dataset-vectors.json`: OpenThread's PSKc unit test vectors,
//! RFC 4615's AES-CMAC-PRF-128 vectors, datasets OpenThread devices printed).

use serde_json::Value;
use weft_mesh::thread::dataset::{derive_pskc, pskc::prf_key, ActiveDataset};

fn data() -> Value {
    serde_json::from_str(include_str!("data/thread-dataset-vectors.json")).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().unwrap()
}

#[test]
fn aes_cmac_prf_128_rfc4615() {
    let d = data();
    for c in d["aes_cmac_prf_128"].as_array().unwrap() {
        let got = prf_key(&bytes(&c["key"])).mac(&[&bytes(&c["message"])]);
        assert_eq!(got.to_vec(), bytes(&c["prf"]), "{c}");
    }
}

#[test]
fn pskc_matches_openthread() {
    let d = data();
    let cases = d["pskc"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for c in cases {
        let got = derive_pskc(
            c["passphrase"].as_str().unwrap(),
            c["network_name"].as_str().unwrap(),
            &arr(&c["extended_pan_id"]),
        )
        .unwrap();
        assert_eq!(got.to_vec(), bytes(&c["pskc"]), "{}", c["name"]);
    }
}

#[test]
fn openthread_datasets_read_and_re_emit() {
    let d = data();
    for c in d["datasets"].as_array().unwrap() {
        let hex = c["hex"].as_str().unwrap();
        let ds = ActiveDataset::from_hex(hex).unwrap();
        let name = &c["name"];
        assert_eq!(ds.to_hex(), hex, "{name}");
        // Upper case is read too.
        assert_eq!(ActiveDataset::from_hex(&hex.to_uppercase()).unwrap(), ds);
        assert_eq!(
            ds.active_timestamp.unwrap().seconds,
            c["active_timestamp_seconds"].as_u64().unwrap()
        );
        assert_eq!(
            ds.channel.unwrap().number as u64,
            c["channel"].as_u64().unwrap()
        );
        let mask = u32::from_str_radix(c["channel_mask"].as_str().unwrap(), 16).unwrap();
        assert_eq!(ds.channel_mask.as_ref().unwrap()[0].bitmap(), mask);
        assert_eq!(ds.extended_pan_id, Some(arr(&c["extended_pan_id"])));
        assert_eq!(ds.mesh_local_prefix, Some(arr(&c["mesh_local_prefix"])));
        assert_eq!(ds.network_key, Some(arr(&c["network_key"])));
        assert_eq!(
            ds.network_name.as_deref(),
            Some(c["network_name"].as_str().unwrap())
        );
        assert_eq!(ds.pan_id.unwrap() as u64, c["pan_id"].as_u64().unwrap());
        assert_eq!(ds.pskc, Some(arr(&c["pskc"])));
        let sp = ds.security_policy.as_ref().unwrap();
        assert_eq!(
            sp.rotation_hours as u64,
            c["rotation_time_hours"].as_u64().unwrap()
        );
        assert_eq!(sp.flags, bytes(&c["security_policy_flags"]));
        let unknown: Vec<u64> = ds.unknown.iter().map(|t| t[0] as u64).collect();
        let want: Vec<u64> = c["unknown_tlv_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(unknown, want, "{name}");
        assert!(ds.missing_for_attach().is_empty());
    }
}

#[test]
fn generated_security_policy_is_what_openthread_prints() {
    // Every printed dataset here came from `dataset init new` defaults.
    let d = data();
    let c = &d["datasets"][0];
    let g = ActiveDataset::generate(&mut rand_core::OsRng);
    let sp = g.security_policy.clone().unwrap();
    assert_eq!(sp.flags, bytes(&c["security_policy_flags"]));
    assert_eq!(
        sp.rotation_hours as u64,
        c["rotation_time_hours"].as_u64().unwrap()
    );
    // The generated dataset's TLV types come in the order OpenThread printed them.
    let types = |t: &[u8]| -> Vec<u8> {
        weft_mesh::thread::dataset::split_tlvs(t)
            .unwrap()
            .iter()
            .map(|x| x.ty)
            .collect()
    };
    assert_eq!(
        types(&g.to_tlvs()),
        types(&bytes(&c["hex"])),
        "OpenThread's `dataset init new` order"
    );
}
