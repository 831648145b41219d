//! `weft decode --thread-key` as a user runs it: frames built with weft-mesh's own encoders
//! (MLE sealed in UDP, compressed, in an 802.15.4 frame; a MAC-secured data frame), given as
//! hex or in a capture written with weft-radio's pcapng writer (link types 283, 195 and 230);
//! the NDJSON lines, the `--topology` line's exact shape, the table, the exit codes; and
//! tshark, given the same network key, reads that capture without a malformed packet.
//!
//! tshark comes from the Debian package `tshark`, which CI installs. Without it the tshark
//! test fails, unless `WEFT_SKIP_TSHARK=1` is set (as in radio/tests/tshark.rs).

#[path = "../../radio/tests/support/tshark.rs"]
#[allow(dead_code)]
mod support;

use std::net::Ipv6Addr;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;
use weft_mesh::thread::lowpan::{Context, Contexts};
use weft_mesh::thread::mac::{Address, ExtAddress};
use weft_mesh::thread::mle::{command, LeaderData, MlePayload, Route64, Tlv};
use weft_mesh::thread::security::ThreadKeys;
use weft_mesh::thread::sniff::{
    data_psdu, fragmented_psdus, link_local, mle_psdu, udp_packet, FrameSpec,
};
use weft_mesh::Instant;
use weft_radio::ieee802154_tap::{self as tap, TapInfo};
use weft_radio::pcap::{
    PcapWriter, LINKTYPE_IEEE802_15_4_NOFCS, LINKTYPE_IEEE802_15_4_TAP,
    LINKTYPE_IEEE802_15_4_WITHFCS,
};

const KEY: &str = "00112233445566778899aabbccddeeff";
const PAN: u16 = 0xface;
const R19: ExtAddress = ExtAddress([0xe2, 0xd9, 0xc6, 0xbe, 0x5c, 0xc3, 0x0e, 0x9b]);
const R6: ExtAddress = ExtAddress([0x16, 0x6e, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x06]);
const CHILD: ExtAddress = ExtAddress([0x5a, 0x11, 0xc0, 0xff, 0xee, 0x00, 0x40, 0x03]);
const MESH_LOCAL: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00];

fn keys() -> ThreadKeys {
    ThreadKeys::derive(&hex::decode(KEY).unwrap().try_into().unwrap(), 0)
}

fn leader_data() -> Tlv {
    Tlv::LeaderData(LeaderData {
        partition_id: 0x5e3a_91c2,
        weighting: 64,
        data_version: 3,
        stable_data_version: 2,
        leader_router_id: 19,
    })
}

/// Route64 listing routers 6 and 19, each with (LQ out, LQ in, cost) (Thread 1.3 §4.4.11).
fn route64(r6: (u8, u8, u8), r19: (u8, u8, u8)) -> Tlv {
    let octet = |(o, i, c): (u8, u8, u8)| (o << 6) | (i << 4) | c;
    let mut mask = [0u8; 8];
    mask[0] = 0x80 >> 6;
    mask[2] = 0x80 >> 3;
    Tlv::Route64(Route64 {
        id_sequence: 7,
        router_mask: mask,
        route_data: vec![octet(r6), octet(r19)],
    })
}

fn spec(src: ExtAddress, dst: Address, seq: u8) -> FrameSpec {
    FrameSpec {
        pan_id: PAN,
        seq,
        src: Address::Extended(src),
        dst,
        src_ext: src,
        mac_frame_counter: None,
    }
}

fn advertisement(from: ExtAddress, rloc16: u16, route: Tlv, fc: u32) -> Vec<u8> {
    let p = MlePayload {
        command: command::ADVERTISEMENT,
        tlvs: vec![Tlv::SourceAddress(rloc16), leader_data(), route],
    };
    let s = spec(from, Address::Short(0xffff), fc as u8);
    mle_psdu(&s, &keys(), fc, "ff02::1".parse().unwrap(), &p).unwrap()
}

fn child_id_response() -> Vec<u8> {
    let p = MlePayload {
        command: command::CHILD_ID_RESPONSE,
        tlvs: vec![
            Tlv::SourceAddress(0x4c00),
            leader_data(),
            Tlv::Address16(0x4c03),
        ],
    };
    let s = spec(R19, Address::Extended(CHILD), 11);
    mle_psdu(&s, &keys(), 11, link_local(CHILD), &p).unwrap()
}

fn mesh_local(rloc16: u16) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&MESH_LOCAL);
    a[11] = 0xff;
    a[12] = 0xfe;
    a[14..].copy_from_slice(&rloc16.to_be_bytes());
    Ipv6Addr::from(a)
}

fn child_spec(seq: u8, fc: u32) -> FrameSpec {
    FrameSpec {
        pan_id: PAN,
        seq,
        src: Address::Short(0x4c03),
        dst: Address::Short(0x4c00),
        src_ext: CHILD,
        mac_frame_counter: Some(fc),
    }
}

fn contexts() -> Contexts {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&MESH_LOCAL);
    Contexts::new().with(0, Context::new(p.into(), 64))
}

/// A CoAP message (RFC 7252 §3): version 1, non-confirmable, no token, POST, message ID,
/// the payload marker, then `payload` (tshark dissects port 5683 as CoAP).
fn coap(payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0x50, 0x02, 0x12, 0x34, 0xff];
    m.extend_from_slice(payload);
    m
}

/// A secured data frame from child 4c03 to its parent.
fn child_data() -> Vec<u8> {
    let packet = udp_packet(
        mesh_local(0x4c03),
        mesh_local(0x4c00),
        49152,
        5683,
        64,
        &coap(b"hello"),
    );
    data_psdu(&child_spec(40, 1000), &keys(), &packet, &contexts()).unwrap()
}

/// The network's frames, each with its FCS: advertisements of routers 19 and 6, the Child ID
/// Response to 4c03, then a data frame from it.
fn frames() -> Vec<Vec<u8>> {
    vec![
        advertisement(R19, 0x4c00, route64((3, 3, 1), (0, 0, 1)), 10),
        advertisement(R6, 0x1800, route64((0, 0, 1), (3, 2, 1)), 20),
        child_id_response(),
        child_data(),
    ]
}

fn weft(args: &[String]) -> (i32, String, String) {
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn args(extra: &[&str], frames: &[Vec<u8>]) -> Vec<String> {
    let mut a: Vec<String> = ["decode", "--thread-key", KEY]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    a.extend(frames.iter().map(hex::encode));
    a
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The `--topology` line of the scenario, exactly (the contract scripts depend on, with the
/// added `last_seen_us`: hex inputs carry no time, so 0).
const TOPOLOGY: &str = concat!(
    r#"{"type":"topology","routers":["#,
    r#"{"router_id":6,"rloc16":"1800","ext_addr":"166e0a0000000006","leader":false,"#,
    r#""links":[{"router_id":19,"lq_in":2,"lq_out":3,"cost":1}],"last_seen_us":0},"#,
    r#"{"router_id":19,"rloc16":"4c00","ext_addr":"e2d9c6be5cc30e9b","leader":true,"#,
    r#""links":[{"router_id":6,"lq_in":3,"lq_out":3,"cost":1}],"last_seen_us":0}],"#,
    r#""children":[{"rloc16":"4c03","ext_addr":"5a11c0ffee004003","parent_router_id":19,"last_seen_us":0}],"#,
    r#""partition_id":"5e3a91c2","leader_router_id":19}"#
);

#[test]
fn json_lines_and_the_topology_line() {
    let (code, out, err) = weft(&args(&["--fcs", "--json", "--topology"], &frames()));
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[4], TOPOLOGY);
    let v = json_lines(&out);
    assert_eq!(v[0]["type"], "frame");
    assert_eq!(v[0]["index"], 1);
    assert_eq!(v[0]["mac"]["src"], "e2d9c6be5cc30e9b");
    assert_eq!(v[0]["mac"]["fcs_ok"], true);
    assert_eq!(v[0]["ipv6"]["dst"], "ff02::1");
    assert_eq!(v[0]["udp"]["dst_port"], 19788);
    assert_eq!(v[0]["mle"]["command_name"], "advertisement");
    assert_eq!(v[0]["mle"]["tlvs"][2]["tlv"], "route64");
    assert_eq!(v[0]["mle"]["tlvs"][2]["routes"][0]["lq_in"], 3);
    assert_eq!(v[2]["mle"]["tlvs"][2]["rloc16"], "4c03");
    // The secured data frame opens with the child's extended address learnt from frame 3.
    assert_eq!(v[3]["security"]["decrypted"], true);
    assert_eq!(v[3]["security"]["key_index"], 1);
    assert_eq!(v[3]["security"]["frame_counter"], 1000);
    assert_eq!(v[3]["udp"]["payload"], hex::encode(coap(b"hello")));
    assert_eq!(v[3]["lowpan"]["unknown_context"], true);
    assert!(v.iter().all(|l| l.get("error").is_none()));

    // With the mesh-local prefix, the whole address.
    let (code, out, _) = weft(&args(
        &[
            "--fcs",
            "--json",
            "--mesh-local-prefix",
            "fdde:ad00:beef:0::/64",
        ],
        &frames(),
    ));
    assert_eq!(code, 0);
    assert_eq!(
        json_lines(&out)[3]["ipv6"]["src"],
        "fdde:ad00:beef::ff:fe00:4c03"
    );
}

#[test]
fn table_and_errors() {
    let mut f = frames();
    let (code, out, err) = weft(&args(&["--fcs", "--topology"], &f));
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("#  FRAME"), "{out}");
    assert!(lines[1].contains("data") && lines[1].contains("e2d9c6be5cc30e9b -> ffff"));
    assert!(
        lines[1].contains("mle advertisement: source_address(rloc16=4c00)"),
        "{out}"
    );
    assert!(
        lines[4].contains("data sec5") && lines[4].contains("opened key seq 0"),
        "{out}"
    );
    // Columns are aligned: SRC -> DST starts at the same place on every row.
    let col = lines[0].find("SRC -> DST").unwrap();
    assert!(lines[1..5]
        .iter()
        .all(|l| l[col..].starts_with(|c: char| c.is_ascii_hexdigit())));
    assert!(
        out.contains("topology: partition 5e3a91c2, leader router 19"),
        "{out}"
    );
    assert!(
        out.contains("child      4c03  5a11c0ffee004003  parent router 19"),
        "{out}"
    );

    // A bad FCS, another network's key: exit 1, each error with its reason.
    let n = f[0].len();
    f[0][n - 1] ^= 0xff;
    let (code, out, _) = weft(&args(&["--fcs", "--json"], &f));
    assert_eq!(code, 1);
    let v = json_lines(&out);
    assert_eq!(v[0]["error"]["kind"], "bad_fcs");
    assert_eq!(v[0]["error"]["layer"], "fcs");
    assert!(v[1].get("error").is_none());
    let mut a = args(&["--json"], &[]);
    a[2] = "ffeeddccbbaa99887766554433221100".into();
    a.push(hex::encode(&frames()[1][..n - 2]));
    let (code, out, _) = weft(&a);
    assert_eq!(code, 1);
    let v = json_lines(&out);
    assert_eq!(v[0]["error"]["kind"], "auth_failed");
    assert_eq!(v[0]["error"]["layer"], "mle");
    assert!(v[0]["error"]["reason"].as_str().unwrap().contains("MIC"));
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let not_pcap = tmp.path().join("notes.txt");
    std::fs::write(&not_pcap, "not a capture").unwrap();
    let np = not_pcap.to_str().unwrap();
    for (a, says) in [
        (
            vec!["decode", "--thread-key", KEY, "--iv-index", "0", "00"],
            "--iv-index",
        ),
        (vec!["decode", "--thread-key", "0011", "00"], "thread-key"),
        (
            vec!["decode", "--iv-index", "0", "--net-key", KEY, "--pcap", np],
            "--thread-key",
        ),
        (
            vec![
                "decode",
                "--iv-index",
                "0",
                "--net-key",
                KEY,
                "--topology",
                "00",
            ],
            "--thread-key",
        ),
        (vec!["decode", "--thread-key", KEY], "PDU_HEX"),
        (
            vec![
                "decode",
                "--thread-key",
                KEY,
                "--pcap",
                "/nonexistent/x.pcapng",
            ],
            "does not exist",
        ),
        (
            vec!["decode", "--thread-key", KEY, "--pcap", np],
            "not a pcapng or pcap file",
        ),
        (
            vec![
                "decode",
                "--thread-key",
                KEY,
                "--mesh-local-prefix",
                "fd00",
                "00",
            ],
            "prefix",
        ),
        (
            vec!["decode", "--thread-key", KEY, "--pcap", np, "0011"],
            "cannot be used",
        ),
    ] {
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        let (code, out, err) = weft(&a);
        assert_eq!(code, 2, "{a:?}: {out}{err}");
        assert!(err.contains(says), "{a:?}: {err}");
    }
}

/// The frames (plus a fragmented datagram) in a pcapng file: TAP (283) with channel, RSSI,
/// LQI and the FCS, then one with FCS (195) and one without (230).
fn write_capture(path: &Path) -> usize {
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    let mut all = frames();
    let big = udp_packet(
        mesh_local(0x4c03),
        mesh_local(0x4c00),
        49152,
        5683,
        64,
        &coap(&(0..150u8).collect::<Vec<_>>()),
    );
    all.extend(fragmented_psdus(&child_spec(41, 1001), &keys(), &big, &contexts(), 80, 7).unwrap());
    let n = all.len();
    for (i, f) in all.iter().enumerate() {
        let at = Instant::from_micros(1_700_000_000_000_000 + i as u64 * 10_000);
        let (lt, data) = match i {
            _ if i == n - 2 => (LINKTYPE_IEEE802_15_4_WITHFCS, f.clone()),
            _ if i == n - 1 => (LINKTYPE_IEEE802_15_4_NOFCS, f[..f.len() - 2].to_vec()),
            _ => {
                let info = TapInfo {
                    fcs_type: tap::FCS_16,
                    channel: Some((15, 0)),
                    rssi: Some(-40.0 - i as f32),
                    lqi: Some(200),
                };
                (LINKTYPE_IEEE802_15_4_TAP, tap::encode(&info, f))
            }
        };
        w.write_packet(lt, at, &data).unwrap();
    }
    w.flush().unwrap();
    n
}

#[test]
fn capture_decodes_and_tshark_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("thread.pcapng");
    let n = write_capture(&path);
    let p = path.to_str().unwrap();
    let (code, out, err) = weft(&args(&["--pcap", p, "--json", "--topology"], &[]));
    assert_eq!(code, 0, "{out}{err}");
    let v = json_lines(&out);
    assert_eq!(v.len(), n + 1);
    assert_eq!(v[0]["channel"], 15);
    assert_eq!(v[0]["rssi"], -40.0);
    assert_eq!(v[0]["lqi"], 200);
    assert_eq!(v[0]["timestamp_us"], 1_700_000_000_000_000u64);
    assert_eq!(v[0]["mac"]["fcs_ok"], true);
    assert_eq!(
        v[n - 1]["mac"]["fcs_ok"],
        Value::Null,
        "link type 230 has no FCS"
    );
    assert_eq!(v[n - 1]["lowpan"]["fragment"]["complete"], true);
    assert_eq!(v[n - 1]["udp"]["length"], 163);
    let topo = &v[n];
    assert_eq!(topo["type"], "topology");
    assert_eq!(topo["leader_router_id"], 19);
    assert_eq!(
        topo["children"][0]["last_seen_us"],
        1_700_000_000_000_000u64 + (n as u64 - 1) * 10_000
    );

    // The table says the same, one row per packet.
    let (code, out, _) = weft(&args(&["--pcap", p], &[]));
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), n + 1);
    assert!(out.contains("ch 15 rssi -40 lqi 200"), "{out}");

    let Some(bin) = support::tshark() else { return };
    let prefs = [format!(r#"uat:ieee802154_keys:"{KEY}","1","Thread hash""#)];
    let fields = [
        "frame.number",
        "wpan.frame_type",
        "mle.cmd",
        "udp.dstport",
        "_ws.malformed",
        "_ws.expert.severity",
        "_ws.expert.message",
    ];
    let rows = support::run_tshark(&bin, &path, &prefs, &fields);
    assert_eq!(rows.len(), n);
    for (i, f) in rows.iter().enumerate() {
        assert!(
            f["_ws.malformed"].is_empty(),
            "frame {}: malformed: {f:?}",
            i + 1
        );
        assert_eq!(f["wpan.frame_type"], "0x0001", "frame {}", i + 1);
    }
    assert_eq!(rows[0]["mle.cmd"], "4", "tshark decrypts the advertisement");
    assert_eq!(rows[1]["mle.cmd"], "4");
    assert_eq!(rows[2]["mle.cmd"], "12", "and the Child ID Response");
}
