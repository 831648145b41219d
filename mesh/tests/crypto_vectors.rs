//! The Bluetooth Mesh specification's sample data (§8 of Mesh Protocol 1.1), read from
//! `tests/data/btmesh-sample-data.json`, against the security toolbox.

use serde_json::Value;
use weft_mesh::ble::crypto::{self as toolbox, nonce, AppKey, NetKey};
use weft_mesh::crypto::{self, KeyPair, PublicKey};

fn data() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/btmesh-sample-data.json"
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

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn hu32(v: &Value) -> u32 {
    u32::from_str_radix(v.as_str().unwrap(), 16).unwrap()
}

fn hu16(v: &Value) -> u16 {
    u16::from_str_radix(v.as_str().unwrap(), 16).unwrap()
}

#[test]
fn toolbox() {
    let d = data();
    let cases = d["toolbox"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        match c["fn"].as_str().unwrap() {
            "s1" => assert_eq!(
                toolbox::s1(c["m_ascii"].as_str().unwrap().as_bytes()).to_vec(),
                h(&c["out"])
            ),
            "k1" => assert_eq!(
                toolbox::k1(&h(&c["n"]), &h16(&c["salt"]), &h(&c["p"])).to_vec(),
                h(&c["out"])
            ),
            "k2" => {
                let k = toolbox::k2(&h16(&c["n"]), &h(&c["p"]));
                assert_eq!(u64::from(k.nid), u(&c["nid"]));
                assert_eq!(k.encryption_key.to_vec(), h(&c["encryption_key"]));
                assert_eq!(k.privacy_key.to_vec(), h(&c["privacy_key"]));
            }
            "k3" => assert_eq!(toolbox::k3(&h16(&c["n"])).to_vec(), h(&c["out"])),
            "k4" => assert_eq!(u64::from(toolbox::k4(&h16(&c["n"]))), u(&c["out"])),
            other => panic!("unknown toolbox function {other}"),
        }
    }
}

#[test]
fn network_key_derivation() {
    let d = data();
    let k = &d["keys"];
    let nk = NetKey::new(h16(&k["net_key"]));
    assert_eq!(u64::from(nk.flooding.nid), u(&k["nid"]));
    assert_eq!(nk.flooding.encryption_key.to_vec(), h(&k["encryption_key"]));
    assert_eq!(nk.flooding.privacy_key.to_vec(), h(&k["privacy_key"]));
    assert_eq!(nk.network_id.to_vec(), h(&k["network_id"]));
    assert_eq!(nk.identity_key.to_vec(), h(&k["identity_key"]));
    assert_eq!(nk.beacon_key.to_vec(), h(&k["beacon_key"]));
    let app = AppKey::new(h16(&k["app_key"]));
    assert_eq!(u64::from(app.aid), u(&k["aid"]));

    let f = &k["friendship"];
    let fr = nk.friendship(
        hu16(&f["lpn_address"]),
        hu16(&f["friend_address"]),
        hu16(&f["lpn_counter"]),
        hu16(&f["friend_counter"]),
    );
    assert_eq!(u64::from(fr.nid), u(&f["nid"]));
    assert_eq!(fr.encryption_key.to_vec(), h(&f["encryption_key"]));
    assert_eq!(fr.privacy_key.to_vec(), h(&f["privacy_key"]));
    // The k2 P parameter the vector states is the one NetKey::friendship builds.
    let direct = toolbox::k2(nk.key(), &h(&f["p"]));
    assert_eq!(direct.nid, fr.nid);
}

#[test]
fn private_beacon_key_and_node_identity() {
    let d = data();
    for b in d["beacons"].as_array().unwrap() {
        let nk = NetKey::new(h16(&b["net_key"]));
        match b["kind"].as_str().unwrap() {
            "mesh private beacon" => {
                assert_eq!(nk.private_beacon_key.to_vec(), h(&b["private_beacon_key"]));
            }
            "node identity (proxy service data)" => {
                let random: [u8; 8] = h(&b["random"]).try_into().unwrap();
                let hash = nk.node_identity_hash(&random, hu16(&b["address"]));
                assert_eq!(hash.to_vec(), h(&b["hash"]));
            }
            _ => {}
        }
    }
}

#[test]
fn network_nonce_of_message_1() {
    let d = data();
    let m = &d["network_pdus"][0];
    let seq: [u8; 3] = h(&m["seq"]).try_into().unwrap();
    let ctl_ttl = (u(&m["ctl"]) as u8) << 7 | u(&m["ttl"]) as u8;
    let n = nonce::network(ctl_ttl, seq, hu16(&m["src"]), hu32(&m["iv_index"]));
    assert_eq!(n.to_vec(), h(&m["network_nonce"]));
}

#[test]
fn application_nonce_of_message_6() {
    let d = data();
    let m = &d["network_pdus"][2];
    let seq: [u8; 3] = h(&m["seq"]).try_into().unwrap();
    let n = nonce::device(
        false,
        seq,
        hu16(&m["src"]),
        hu16(&m["dst"]),
        hu32(&m["iv_index"]),
    );
    assert_eq!(n.to_vec(), h(&m["app_nonce"]));
}

#[test]
fn virtual_address_of_message_22() {
    let d = data();
    let m = &d["network_pdus"][7];
    assert_eq!(
        toolbox::virtual_address(&h16(&m["label_uuid"])),
        hu16(&m["dst"])
    );
}

#[test]
fn provisioning_ecdh_and_keys() {
    let d = data();
    let p = &d["provisioning"];
    let prov =
        KeyPair::from_private(&h(&p["provisioner_private_key"]).try_into().unwrap()).unwrap();
    let dev = KeyPair::from_private(&h(&p["device_private_key"]).try_into().unwrap()).unwrap();
    assert_eq!(prov.public().0.to_vec(), h(&p["provisioner_public_key"]));
    assert_eq!(dev.public().0.to_vec(), h(&p["device_public_key"]));
    let s1 = prov.ecdh(&dev.public()).unwrap();
    let s2 = dev.ecdh(&prov.public()).unwrap();
    assert_eq!(s1, s2);
    assert_eq!(s1.to_vec(), h(&p["ecdh_secret"]));
    assert!(PublicKey([0u8; 64]).validate().is_err());

    // §8.7.5 ConfirmationInputs = Invite || Capabilities || Start || PubKeyProv || PubKeyDev.
    let mut inputs = Vec::new();
    for f in [
        "invite",
        "capabilities",
        "start",
        "provisioner_public_key",
        "device_public_key",
    ] {
        inputs.extend(h(&p[f]));
    }
    let salt = toolbox::s1(&inputs);
    assert_eq!(salt.to_vec(), h(&p["confirmation_salt"]));
    let ck = toolbox::k1(&s1, &salt, b"prck");
    assert_eq!(ck.to_vec(), h(&p["confirmation_key"]));
    let auth = h(&p["auth_value"]);
    let confirm = |random: &[u8]| {
        let mut m = random.to_vec();
        m.extend(&auth);
        crypto::aes_cmac(&ck, &m)
    };
    assert_eq!(
        confirm(&h(&p["random_provisioner"])).to_vec(),
        h(&p["confirmation_provisioner"])
    );
    assert_eq!(
        confirm(&h(&p["random_device"])).to_vec(),
        h(&p["confirmation_device"])
    );
    let mut m = salt.to_vec();
    m.extend(h(&p["random_provisioner"]));
    m.extend(h(&p["random_device"]));
    let prov_salt = toolbox::s1(&m);
    assert_eq!(prov_salt.to_vec(), h(&p["provisioning_salt"]));
    let session_key = toolbox::k1(&s1, &prov_salt, b"prsk");
    assert_eq!(session_key.to_vec(), h(&p["session_key"]));
    let nonce = toolbox::k1(&s1, &prov_salt, b"prsn");
    assert_eq!(nonce[3..].to_vec(), h(&p["session_nonce"]));
    assert_eq!(
        toolbox::k1(&s1, &prov_salt, b"prdk").to_vec(),
        h(&p["device_key"])
    );

    let pd = &p["provisioning_data"];
    let mut data = Vec::new();
    for f in [
        "net_key",
        "key_index",
        "flags",
        "iv_index",
        "unicast_address",
    ] {
        data.extend(h(&pd[f]));
    }
    let ccm = crypto::Ccm::new(&session_key);
    let n13: [u8; 13] = nonce[3..].try_into().unwrap();
    let sealed = ccm.encrypt(&n13, &[], &data, crypto::MicLen::Mic64);
    assert_eq!(sealed, h(&p["encrypted_provisioning_data_and_mic"]));
    assert_eq!(
        ccm.decrypt(&n13, &[], &sealed, crypto::MicLen::Mic64)
            .unwrap(),
        data
    );
}
