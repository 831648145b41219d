//! `weft decode` against every network PDU of the Bluetooth Mesh Protocol 1.1 sample messages
//! (§8.3, messages #1 to #24), read as data from `mesh/tests/data/btmesh-sample-messages.json`.
//!
//! Each message is decoded with only the keys it lists, so a message that decodes also shows
//! which key opens it.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{check_network, run, s};
use serde_json::Value;

fn data() -> Value {
    common::read_json(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mesh/tests/data/btmesh-sample-messages.json"
    ))
}

/// `decode --json` with the IV index and the keys message `m` lists.
fn key_args(m: &Value) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "decode".into(),
        "--json".into(),
        "--iv-index".into(),
        s(&m["iv_index"]),
        "--net-key".into(),
        s(&m["net_key"]),
    ];
    if let Some(k) = m.get("app_key") {
        a.extend(["--app-key".into(), s(k)]);
    }
    if let Some(k) = m.get("dev_key") {
        let addr = s(&m["dev_key_address"]);
        a.extend(["--dev-key".into(), format!("{addr}={}", s(k))]);
    }
    if let Some(l) = m.get("label_uuid") {
        a.extend(["--label".into(), s(l)]);
    }
    if let Some(f) = m.get("friendship") {
        a.extend([
            "--friendship".into(),
            format!(
                "{}:{}:{}:{}",
                s(&f["lpn_address"]),
                s(&f["friend_address"]),
                s(&f["lpn_counter"]),
                s(&f["friend_counter"])
            ),
        ]);
    }
    a
}

/// The keys and IV index must be the same for PDUs decoded together.
fn same_keys(a: &Value, b: &Value) {
    for k in [
        "iv_index",
        "net_key",
        "app_key",
        "dev_key",
        "dev_key_address",
        "label_uuid",
    ] {
        assert_eq!(a.get(k), b.get(k), "{k}: {} / {}", a["name"], b["name"]);
    }
}

/// A network line plus the credentials the message says it was sent with.
fn check_network_and_credentials(line: &Value, m: &Value) {
    check_network(line, m);
    match m.get("friendship") {
        Some(f) => {
            assert_eq!(line["credentials"], "friendship", "{}", m["name"]);
            assert_eq!(line["lpn"], f["lpn_address"]);
            assert_eq!(line["friend"], f["friend_address"]);
        }
        None => assert_eq!(line["credentials"], "flooding", "{}", m["name"]),
    }
    assert_eq!(line["iv_index"], m["iv_index"]);
}

/// The decoded control or access message of `m`; `seq` is the SeqAuth's low 24 bits (the first
/// segment's SEQ for a message whose segments were all sent once).
fn check_upper(line: &Value, m: &Value, seq: &Value, segments: u64) {
    let lower = hex::decode(s(&m["lower_transport_pdu"])).unwrap();
    if m["ctl"].as_u64().unwrap() == 1 {
        assert_eq!(line["type"], "control", "{line}");
        assert_eq!(line["opcode"], u64::from(lower[0] & 0x7f));
        assert_eq!(line["parameters"], hex::encode(&lower[1..]));
    } else {
        assert_eq!(line["type"], "access", "{line}");
        assert_eq!(line["access_payload"], m["access_payload"], "{}", m["name"]);
        if m.get("app_key").is_some() {
            assert_eq!(line["key"], "app", "{line}");
            // AKF set, AID in the low 6 bits of the first lower transport octet.
            assert_eq!(lower[0] & 0x40, 0x40);
            assert_eq!(line["aid"], u64::from(lower[0] & 0x3f));
        } else {
            assert_eq!(line["key"], "dev", "{line}");
            assert_eq!(lower[0] & 0x40, 0);
            assert_eq!(line["dev_key_node"], m["dev_key_address"]);
        }
        match m.get("label_uuid") {
            Some(l) => assert_eq!(&line["label_uuid"], l),
            None => assert!(line.get("label_uuid").is_none(), "{line}"),
        }
        // SZMIC is only carried by segmented PDUs (bit 7 of the second octet).
        let segmented = lower[0] & 0x80 != 0;
        let szmic = if segmented { lower[1] >> 7 } else { 0 };
        assert_eq!(line["szmic"], u64::from(szmic));
        // Opcodes are their on-air bytes: 1, 2 or 3 octets at the start of the payload.
        let payload = s(&m["access_payload"]);
        assert!(payload.starts_with(&s(&line["opcode"])), "{line}");
        assert_eq!(line["segments"], segments);
    }
    assert_eq!(line["src"], m["src"]);
    assert_eq!(line["dst"], m["dst"]);
    assert_eq!(&line["seq"], seq);
}

/// The message number in a name such as "message 6 segment 1: ...".
fn number(m: &Value) -> u32 {
    let name = s(&m["name"]);
    let rest = name
        .strip_prefix("message ")
        .expect("name starts with 'message N'");
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// A lone segment (a retransmission or a Friend-queue delivery): by itself weft shows the
/// network PDU and then reports the message incomplete; together with the entry that holds the
/// other segment it yields the whole access message, under the SeqAuth of the original.
fn check_lone_segment(m: &Value, by_name: &HashMap<String, &Value>) {
    let seg = &m["segment"];
    let lower = hex::decode(s(&m["lower_transport_pdu"])).unwrap();
    assert_eq!(lower[0] & 0x80, 0x80, "{}: not segmented", m["name"]);
    let seg_o = ((lower[2] & 0x03) << 3) | (lower[3] >> 5);
    let seg_n = lower[3] & 0x1f;
    assert_eq!(seg["seg_o"], u64::from(seg_o), "{}", m["name"]);
    assert_eq!(seg["seg_n"], u64::from(seg_n), "{}", m["name"]);
    let total = u64::from(seg_n) + 1;

    let mut args = key_args(m);
    args.push(s(&m["network_pdu"]));
    let (code, lines) = run(&args);
    assert_eq!(code, 1, "{}: {lines:?}", m["name"]);
    assert_eq!(lines.len(), 2, "{}: {lines:?}", m["name"]);
    check_network_and_credentials(&lines[0], m);
    assert_eq!(lines[1]["type"], "error", "{}", lines[1]);
    let error = s(&lines[1]["error"]);
    assert!(error.contains(&format!("1 of {total}")), "{error}");

    let other = by_name[&s(&seg["completed_by"])];
    same_keys(m, other);
    assert_eq!(m["access_payload"], other["access_payload"]);
    let mut args = key_args(m);
    args.extend([s(&m["network_pdu"]), s(&other["network_pdu"])]);
    let (code, lines) = run(&args);
    assert_eq!(code, 0, "{} + {}: {lines:?}", m["name"], other["name"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    check_network_and_credentials(&lines[0], m);
    check_network_and_credentials(&lines[1], other);
    check_upper(&lines[2], m, &seg["seq_auth"], total);
}

#[test]
fn every_spec_sample_message() {
    let d = data();
    let msgs = d["messages"].as_array().unwrap();
    // Entries are referred to by their name up to the colon ("message 6 segment 1").
    let by_name: HashMap<String, &Value> = msgs
        .iter()
        .map(|m| (s(&m["name"]).split(':').next().unwrap().to_string(), m))
        .collect();
    assert_eq!(by_name.len(), msgs.len(), "names are unique");
    let mut seen = BTreeSet::new();
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        seen.insert(number(m));
        if m.get("segment").is_some() {
            check_lone_segment(m, &by_name);
            i += 1;
            continue;
        }
        let segments = m["segments"].as_u64().unwrap_or(1) as usize;
        let group = &msgs[i..i + segments];
        for g in group {
            assert_eq!(number(g), number(m), "{}", g["name"]);
            assert_eq!(g.get("access_payload"), m.get("access_payload"));
            same_keys(m, g);
        }
        let mut args = key_args(m);
        args.extend(group.iter().map(|g| s(&g["network_pdu"])));
        let (code, lines) = run(&args);
        assert_eq!(code, 0, "{}: {lines:?}", m["name"]);
        // One network line per PDU, then one line for the (reassembled) message.
        assert_eq!(lines.len(), segments + 1, "{}: {lines:?}", m["name"]);
        for (g, line) in group.iter().zip(&lines) {
            check_network_and_credentials(line, g);
        }
        check_upper(&lines[segments], m, &m["seq"], segments as u64);
        i += segments;
    }
    assert_eq!(seen, (1..=24).collect(), "messages #1 to #24");
}
