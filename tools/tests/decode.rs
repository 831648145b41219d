//! `weft decode` against the Bluetooth Mesh specification's sample data, read as data from
//! `mesh/tests/data/btmesh-sample-data.json`.

mod common;

use assert_cmd::Command;
use common::{check_network, run, s};
use serde_json::Value;

fn data() -> Value {
    common::read_json(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mesh/tests/data/btmesh-sample-data.json"
    ))
}

/// The key arguments every sample message needs.
fn key_args(d: &Value, iv_index: &str) -> Vec<String> {
    let k = &d["keys"];
    let f = &k["friendship"];
    vec![
        "decode".into(),
        "--json".into(),
        "--iv-index".into(),
        iv_index.into(),
        "--net-key".into(),
        s(&k["net_key"]),
        "--app-key".into(),
        s(&k["app_key"]),
        // The sample device key belongs to node 1201 (the LPN configured by 0003).
        "--dev-key".into(),
        format!("1201={}", s(&k["dev_key"])),
        "--label".into(),
        s(&d["network_pdus"][7]["label_uuid"]),
        "--friendship".into(),
        format!(
            "{}:{}:{}:{}",
            s(&f["lpn_address"]),
            s(&f["friend_address"]),
            s(&f["lpn_counter"]),
            s(&f["friend_counter"])
        ),
    ]
}

fn check_upper(line: &Value, m: &Value, first_seq: &Value) {
    if m["ctl"].as_u64().unwrap() == 1 {
        let lower = hex::decode(s(&m["lower_transport_pdu"])).unwrap();
        assert_eq!(line["type"], "control", "{line}");
        assert_eq!(line["opcode"], u64::from(lower[0] & 0x7f));
        assert_eq!(line["parameters"], hex::encode(&lower[1..]));
    } else {
        assert_eq!(line["type"], "access", "{line}");
        assert_eq!(line["access_payload"], m["access_payload"]);
        let key = if m["key"] == "app_key" { "app" } else { "dev" };
        assert_eq!(line["key"], key);
        if key == "app" {
            assert_eq!(line["aid"], data()["keys"]["aid"]);
        }
        if m.get("label_uuid").is_some() {
            assert_eq!(line["label_uuid"], m["label_uuid"]);
        } else {
            assert!(line.get("label_uuid").is_none());
        }
        // Opcodes are their on-air bytes: 1, 2 or 3 octets at the start of the payload.
        let payload = s(&m["access_payload"]);
        assert!(payload.starts_with(&s(&line["opcode"])), "{line}");
    }
    assert_eq!(line["src"], m["src"]);
    assert_eq!(line["dst"], m["dst"]);
    assert_eq!(&line["seq"], first_seq);
}

#[test]
fn every_sample_message() {
    let d = data();
    let msgs = d["network_pdus"].as_array().unwrap();
    let mut i = 0;
    let mut checked = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        let segments = m["segments"].as_u64().unwrap_or(1) as usize;
        let group = &msgs[i..i + segments];
        let mut args = key_args(&d, &s(&m["iv_index"]));
        args.extend(group.iter().map(|g| s(&g["network_pdu"])));
        let (code, lines) = run(&args);
        assert_eq!(code, 0, "{}: {lines:?}", m["name"]);
        // One network line per PDU, then one line for the (reassembled) message.
        assert_eq!(lines.len(), segments + 1, "{}: {lines:?}", m["name"]);
        for (g, line) in group.iter().zip(&lines) {
            check_network(line, g);
        }
        check_upper(&lines[segments], m, &m["seq"]);
        if m["credentials"] == "friendship" {
            assert_eq!(lines[0]["credentials"], "friendship");
        }
        checked += 1;
        i += segments;
    }
    assert_eq!(checked, 7, "messages 1, 4, 6, 7, 16, 18, 22");
}

#[test]
fn sample_beacons() {
    let d = data();
    for b in d["beacons"].as_array().unwrap() {
        let kind = match s(&b["kind"]).as_str() {
            "secure network beacon" => "secure_network",
            "mesh private beacon" => "private",
            _ => continue,
        };
        let args: Vec<String> = vec![
            "decode".into(),
            "--json".into(),
            "--iv-index".into(),
            s(&b["iv_index"]),
            "--net-key".into(),
            s(&b["net_key"]),
            s(&b["beacon"]),
        ];
        let (code, lines) = run(&args);
        assert_eq!(code, 0, "{lines:?}");
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l["type"], "beacon");
        assert_eq!(l["beacon"], kind);
        assert_eq!(l["authenticated"], true);
        assert_eq!(l["iv_index"], b["iv_index"]);
        assert_eq!(l["flags"], b["flags"]);
        // The same beacon inside an AD structure (length, 0x2B, beacon).
        let raw = hex::decode(s(&b["beacon"])).unwrap();
        let mut ad = vec![raw.len() as u8 + 1, 0x2b];
        ad.extend(&raw);
        let mut args2 = args.clone();
        *args2.last_mut().unwrap() = hex::encode(&ad);
        assert_eq!(run(&args2).1, lines);
    }
}

#[test]
fn ad_structure_and_wrong_key() {
    let d = data();
    let m = &d["network_pdus"][6];
    let pdu = hex::decode(s(&m["network_pdu"])).unwrap();
    let mut ad = vec![pdu.len() as u8 + 1, 0x2a];
    ad.extend(&pdu);
    let mut args = key_args(&d, &s(&m["iv_index"]));
    args.push(hex::encode(&ad));
    let (code, lines) = run(&args);
    assert_eq!(code, 0);
    check_network(&lines[0], m);
    check_upper(&lines[1], m, &m["seq"]);

    // Under another network key nothing authenticates: one error line, exit code 1.
    let args = vec![
        "decode".into(),
        "--json".into(),
        "--iv-index".into(),
        "12345678".into(),
        "--net-key".into(),
        "00112233445566778899aabbccddeeff".into(),
        s(&m["network_pdu"]),
    ];
    let (code, lines) = run(&args);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[0]["input"], m["network_pdu"]);
    assert!(
        lines[0]["error"].as_str().unwrap().contains("network key"),
        "{}",
        lines[0]
    );
}

#[test]
fn missing_segment_is_reported() {
    let d = data();
    let m = &d["network_pdus"][2];
    let mut args = key_args(&d, &s(&m["iv_index"]));
    args.push(s(&m["network_pdu"]));
    let (code, lines) = run(&args);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["type"], "error");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("1 of 2"),
        "{}",
        lines[1]
    );
}

#[test]
fn bad_arguments_exit_2_with_one_clear_message() {
    for (args, needle) in [
        (
            vec![
                "--iv-index",
                "0",
                "--net-key",
                "00112233445566778899aabbccddeeff",
                "abc",
            ],
            "odd number of hex digits",
        ),
        (
            vec!["--iv-index", "0", "--net-key", "0011", "00"],
            "16 bytes",
        ),
        (
            vec![
                "--iv-index",
                "0",
                "--net-key",
                "00112233445566778899aabbccddeeff",
                "--frob",
                "00",
            ],
            "--frob",
        ),
        (
            vec![
                "--iv-index",
                "zz",
                "--net-key",
                "00112233445566778899aabbccddeeff",
                "00",
            ],
            "IV index",
        ),
        (
            vec![
                "--iv-index",
                "0",
                "--net-key",
                "00112233445566778899aabbccddeeff",
                "--dev-key",
                "0003",
                "00",
            ],
            "ADDR=KEY",
        ),
    ] {
        let out = Command::cargo_bin("weft")
            .unwrap()
            .arg("decode")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn table_output_is_aligned() {
    let d = data();
    let m = &d["network_pdus"][6];
    let mut args = key_args(&d, &s(&m["iv_index"]));
    args.retain(|a| a != "--json");
    args.push(s(&m["network_pdu"]));
    args.push(s(&d["beacons"][0]["beacon"]));
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header, network, access, beacon: {text}");
    assert!(lines[0].starts_with("TYPE"));
    assert!(text.contains("Health Current Status"), "{text}");
    // Every row's SRC -> DST column starts where the header's does.
    let col = lines[0].find("SRC").unwrap();
    for l in &lines[1..3] {
        assert!(l[..col].trim_end().len() < col, "{l}");
        assert!(l[col..].starts_with(|c: char| c.is_ascii_hexdigit()), "{l}");
    }
}

#[test]
fn pb_adv_link_open_and_invite() {
    // Link Open (§5.3.1.4: GPCF 0b11, opcode 0x00, Device UUID), then a Provisioning Invite
    // (§5.4.1.1) in one Transaction Start (§5.3.1.1).
    let uuid = "0073e7e4d8b9440faf8415df4c56c0e1";
    let ad = |payload: String| format!("{:02x}29{payload}", payload.len() / 2 + 1);
    let open = ad(format!("{}00{}{}", "12345678", "03", uuid));
    let invite = [0x00u8, 0x05];
    let fcs = weft_mesh::ble::wire::pbadv::fcs(&invite);
    let start = ad(format!(
        "{}00{}{}{:02x}{}",
        "12345678",
        "00",
        "0002",
        fcs,
        hex::encode(invite)
    ));
    let args: Vec<String> = [
        "decode",
        "--json",
        "--iv-index",
        "0",
        "--net-key",
        "00112233445566778899aabbccddeeff",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([open, start])
    .collect();
    let (code, lines) = run(&args);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["type"], "pb_adv");
    assert_eq!(lines[0]["gpdu"], "link_open");
    assert_eq!(lines[0]["uuid"], uuid);
    assert_eq!(lines[1]["gpdu"], "transaction_start");
    assert_eq!(lines[2]["type"], "provisioning");
    assert_eq!(lines[2]["name"], "Provisioning Invite");
    assert_eq!(lines[2]["parameters"], "05");
    assert_eq!(lines[2]["from"], "provisioner");
}
