//! The simulated air opens in Wireshark: `weft sim run --json --pcap FILE` captures every PDU
//! of a scenario, and tshark 4.x, given the keys from the run's `network` line, decodes every
//! packet as a Bluetooth Mesh network PDU or beacon with a valid CRC, decrypts every access
//! message (reassembling the segmented ones), and reports nothing malformed and no expert info
//! at warning level or above.
//!
//! tshark comes from the Debian package `tshark`, which CI installs. Without it these tests
//! fail, unless `WEFT_SKIP_TSHARK=1` is set (as in radio/tests/tshark.rs).

#[path = "../../radio/tests/support/tshark.rs"]
mod support;
use support::{num, run_tshark, tshark, Frame, PI_WARN};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use weft_mesh::ble::crypto::NetKey;

/// ADV_NONCONN_IND (Core v5.4 Vol 6 Part B §2.3).
const PDU_ADV_NONCONN_IND: u64 = 0x02;
/// AD types Mesh Message and Mesh Beacon (MshPRT §3.3.1; Assigned Numbers).
const AD_MESH_MESSAGE: u64 = 0x2A;
const AD_MESH_BEACON: u64 = 0x2B;
/// Secure Network beacon (MshPRT §3.10.3).
const BEACON_SECURE_NETWORK: u64 = 0x01;
/// MshPRT §3.10.2: Unprovisioned Device beacon (the smart-home hall lamp waits for provisioning).
const BEACON_UNPROVISIONED_DEVICE: u64 = 0x00;

/// Runs `weft sim run --json --pcap <tmp>` with `args`: the NDJSON lines and the capture.
fn sim_capture(name: &str, args: &[&str]) -> (Vec<Value>, PathBuf) {
    let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sim-{name}.pcapng"));
    let out = assert_cmd::Command::cargo_bin("weft")
        .unwrap()
        .args(["sim", "run", "--json", "--pcap"])
        .arg(&pcap)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "weft sim run {args:?}: {stderr}");
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (lines, pcap)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// The network's keys from the `network` line.
#[derive(Debug)]
struct Keys {
    iv_index: u32,
    net_key: [u8; 16],
    app_key: [u8; 16],
    dev_keys: Vec<(u16, [u8; 16])>,
}

fn key16(s: &str) -> [u8; 16] {
    hex::decode(s)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .unwrap_or_else(|| panic!("not a 128-bit key: {s}"))
}

fn keys(network: &Value) -> Keys {
    assert_eq!(network["type"], "network", "{network}");
    let one = |k: &str| {
        let a = network[k].as_array().unwrap_or_else(|| panic!("{k}"));
        assert_eq!(a.len(), 1, "one {k}: {network}");
        key16(a[0].as_str().unwrap())
    };
    let dev_keys = network["dev_keys"]
        .as_object()
        .expect("dev_keys")
        .iter()
        .map(|(a, k)| {
            (
                u16::from_str_radix(a, 16).unwrap(),
                key16(k.as_str().unwrap()),
            )
        })
        .collect();
    Keys {
        iv_index: u32::from_str_radix(text(network, "iv_index"), 16).unwrap(),
        net_key: one("net_keys"),
        app_key: one("app_keys"),
        dev_keys,
    }
}

/// tshark's preferences for `keys`: the «Mesh Keys» table (btmesh_nw_keys: Network Key,
/// Application Key, IVindex) and the «Device Keys» table (btmesh_dev_keys: Device Key, SRC
/// Address).
fn prefs(keys: &Keys) -> Vec<String> {
    let mut p = vec![format!(
        "uat:btmesh_nw_keys:\"0x{}\",\"0x{}\",\"0x{:08x}\"",
        hex::encode(keys.net_key),
        hex::encode(keys.app_key),
        keys.iv_index
    )];
    for (addr, k) in &keys.dev_keys {
        p.push(format!(
            "uat:btmesh_dev_keys:\"0x{}\",\"0x{addr:04x}\"",
            hex::encode(k)
        ));
    }
    p
}

const FIELDS: [&str; 25] = [
    "frame.number",
    "frame.protocols",
    "btle.advertising_header.pdu_type",
    "btle.crc",
    "btle.crc.incorrect",
    "btcommon.eir_ad.entry.type",
    "beacon.type",
    "beacon.ivindex",
    "beacon.network_id",
    "btmesh.ctl",
    "btmesh.ttl",
    "btmesh.seq",
    "btmesh.src",
    "btmesh.dst",
    "btmesh.acc.seg",
    "btmesh.cntr.opcode",
    "btmesh.seqzero_data",
    "btmesh.sego",
    "btmesh.segn",
    "btmesh.segmented.access.reassembled.length",
    "btmesh.access.decrypted",
    "btmesh.model.opcode",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
];

/// A number field that must be there.
fn field(f: &Frame, name: &str) -> u64 {
    let v = &f[name];
    assert!(!v.is_empty(), "frame {}: no {name}", f["frame.number"]);
    num(v)
}

/// A segmented message: (SRC, SeqZero).
type SegKey = (u64, u64);

/// What tshark made of a capture.
#[derive(Debug, Default)]
struct Decoded {
    frames: usize,
    beacons: usize,
    /// Unprovisioned Device beacons.
    unprovisioned_beacons: usize,
    /// Every (SRC, SEQ, TTL) of a network PDU.
    pdus: BTreeSet<(u64, u64, u64)>,
    /// Unsegmented access messages: (SRC, SEQ) -> decrypted access payload.
    unsegmented: BTreeMap<(u64, u64), String>,
    /// Segmented access messages: the segments seen (bit SegO), SegN, and the decrypted payload
    /// of the frame that completed the reassembly.
    segmented: BTreeMap<SegKey, (u32, u64, Option<String>)>,
    /// Control messages (CTL 1), by opcode.
    control: BTreeMap<u64, usize>,
}

/// Checks what holds of every frame: an ADV_NONCONN_IND with a valid CRC carrying either a
/// Mesh Message that the network key opens or a Secure Network beacon of this network; nothing
/// malformed, no expert info at warning level or above; every unsegmented access message
/// decrypted.
fn check_frames(frames: &[Frame], keys: &Keys) -> Decoded {
    let network_id = hex::encode(NetKey::new(keys.net_key).network_id);
    let mut d = Decoded {
        frames: frames.len(),
        ..Decoded::default()
    };
    for f in frames {
        let n = &f["frame.number"];
        let protocols = &f["frame.protocols"];
        assert_eq!(
            field(f, "btle.advertising_header.pdu_type"),
            PDU_ADV_NONCONN_IND
        );
        assert!(!f["btle.crc"].is_empty(), "frame {n}: no CRC");
        assert!(
            f["btle.crc.incorrect"].is_empty(),
            "frame {n}: incorrect CRC"
        );
        assert!(f["_ws.malformed"].is_empty(), "frame {n}: malformed");
        for (i, sev) in f["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            assert!(
                num(sev) < PI_WARN,
                "frame {n}: expert info of severity {sev}: {}",
                f["_ws.expert.message"]
                    .split(',')
                    .nth(i)
                    .unwrap_or_default()
            );
        }
        let ad = field(f, "btcommon.eir_ad.entry.type");
        if protocols.ends_with(":beacon") {
            assert_eq!(ad, AD_MESH_BEACON, "frame {n}");
            if field(f, "beacon.type") == BEACON_UNPROVISIONED_DEVICE {
                d.unprovisioned_beacons += 1;
                continue;
            }
            assert_eq!(field(f, "beacon.type"), BEACON_SECURE_NETWORK, "frame {n}");
            assert_eq!(field(f, "beacon.ivindex"), u64::from(keys.iv_index));
            assert_eq!(
                f["beacon.network_id"].replace(':', ""),
                network_id,
                "frame {n}: Network ID"
            );
            d.beacons += 1;
            continue;
        }
        assert!(
            protocols.ends_with("btle_rf:btle:btcommon:btmesh"),
            "frame {n}: protocols {protocols}"
        );
        assert_eq!(ad, AD_MESH_MESSAGE, "frame {n}");
        // SRC and DST appear only once the network key opened the PDU.
        let src = field(f, "btmesh.src");
        field(f, "btmesh.dst");
        let seq = field(f, "btmesh.seq");
        d.pdus.insert((src, seq, field(f, "btmesh.ttl")));
        let decrypted = f["btmesh.access.decrypted"].replace(':', "");
        if field(f, "btmesh.ctl") == 1 {
            *d.control.entry(field(f, "btmesh.cntr.opcode")).or_default() += 1;
            continue;
        }
        if field(f, "btmesh.acc.seg") == 0 {
            assert!(
                !decrypted.is_empty(),
                "frame {n}: unsegmented access message from {src:04x} SEQ {seq} not decrypted"
            );
            assert!(!f["btmesh.model.opcode"].is_empty(), "frame {n}: no opcode");
            let prev = d.unsegmented.insert((src, seq), decrypted.clone());
            assert!(
                prev.is_none_or(|p| p == decrypted),
                "frame {n}: another payload for the same SRC and SEQ"
            );
            continue;
        }
        let key = (src, field(f, "btmesh.seqzero_data"));
        let seg_o = field(f, "btmesh.sego");
        let seg_n = field(f, "btmesh.segn");
        let e = d.segmented.entry(key).or_insert((0, seg_n, None));
        assert_eq!(e.1, seg_n, "frame {n}: SegN changed within {key:?}");
        e.0 |= 1 << seg_o;
        if !decrypted.is_empty() {
            assert!(
                !f["btmesh.segmented.access.reassembled.length"].is_empty(),
                "frame {n}: decrypted without reassembly"
            );
            assert!(e.2.is_none(), "frame {n}: {key:?} decrypted twice");
            e.2 = Some(decrypted);
        }
    }
    d
}

/// weft's events of one type.
fn events<'a>(lines: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lines.iter().filter(move |e| e["type"] == kind)
}

fn hex_num(v: &Value, key: &str) -> u64 {
    u64::from_str_radix(text(v, key), 16).unwrap_or_else(|e| panic!("{key} in {v}: {e}"))
}

/// Checks tshark's view against weft's own events: every PDU weft sent or relayed is in the
/// capture, and every access message a node received is one tshark decrypted, with the same
/// opcode.
fn check_against_weft(d: &Decoded, lines: &[Value]) {
    for e in events(lines, "sent").chain(events(lines, "relayed")) {
        let pdu = (
            hex_num(e, "src"),
            hex_num(e, "seq"),
            e["ttl"].as_u64().unwrap(),
        );
        assert!(d.pdus.contains(&pdu), "{e}: not in the capture");
    }
    for e in events(lines, "received") {
        let (src, seq) = (hex_num(e, "src"), hex_num(e, "seq"));
        let opcode = text(e, "opcode");
        let payload = match d.unsegmented.get(&(src, seq)) {
            Some(p) => p,
            None => d
                .segmented
                .get(&(src, seq & 0x1fff))
                .and_then(|s| s.2.as_ref())
                .unwrap_or_else(|| panic!("{e}: tshark decrypted no such message")),
        };
        assert!(
            payload.starts_with(opcode),
            "{e}: tshark decrypted {payload}"
        );
    }
}

#[test]
fn tshark_decrypts_the_smart_home_capture() {
    let (lines, pcap) = sim_capture("smart-home", &["--scenario", "smart-home"]);
    let Some(bin) = tshark() else { return };
    let keys = keys(&lines[0]);
    assert_eq!(keys.dev_keys.len(), 12, "a device key per node");
    let frames = run_tshark(&bin, &pcap, &prefs(&keys), &FIELDS);
    let summary = lines.last().unwrap();
    assert_eq!(
        frames.len() as u64,
        summary["frames"].as_u64().unwrap(),
        "one packet per PDU on the air"
    );
    let d = check_frames(&frames, &keys);
    eprintln!(
        "{} frames: {} beacons, {} unsegmented and {} segmented access messages",
        d.frames,
        d.beacons,
        d.unsegmented.len(),
        d.segmented.len()
    );
    assert!(d.beacons > 0, "secure network beacons on the air");
    assert!(
        d.unprovisioned_beacons > 0,
        "the hall lamp beacons, unprovisioned"
    );
    // Every access message weft originated is one tshark decrypted: the scenario's messages all
    // fit one PDU.
    let originated: BTreeSet<(u64, u64)> = events(&lines, "sent")
        .filter(|e| e["ctl"] == false)
        .map(|e| (hex_num(e, "src"), hex_num(e, "seq")))
        .collect();
    assert!(originated.len() >= 10, "{} messages", originated.len());
    let decrypted: BTreeSet<(u64, u64)> = d.unsegmented.keys().copied().collect();
    assert_eq!(decrypted, originated, "the messages tshark decrypted");
    assert!(d.segmented.is_empty(), "{:?}", d.segmented);
    check_against_weft(&d, &lines);
    // The motion sensor's Generic OnOff Set Unacknowledged, as tshark decrypted it.
    assert!(
        d.unsegmented
            .iter()
            .any(|((src, _), p)| *src == 0x0010 && p.starts_with("8203")),
        "{:?}",
        d.unsegmented
    );
}

/// The industrial scenario's sensors send segmented Sensor Status messages: tshark reassembles
/// and decrypts each one whose segments are all in the capture, and flags nothing.
#[test]
fn tshark_reassembles_the_industrial_capture() {
    let (lines, pcap) = sim_capture(
        "industrial",
        &["--scenario", "industrial", "--seconds", "12"],
    );
    let Some(bin) = tshark() else { return };
    let keys = keys(&lines[0]);
    let frames = run_tshark(&bin, &pcap, &prefs(&keys), &FIELDS);
    let d = check_frames(&frames, &keys);
    eprintln!(
        "{} frames: {} beacons, {} unsegmented and {} segmented access messages, control {:?}",
        d.frames,
        d.beacons,
        d.unsegmented.len(),
        d.segmented.len(),
        d.control
    );
    let mut complete = 0;
    for (key, (seen, seg_n, payload)) in &d.segmented {
        let all = (1u64 << (seg_n + 1)) - 1;
        if u64::from(*seen) == all {
            complete += 1;
            assert!(
                payload.is_some(),
                "{key:?}: all segments there, not decrypted"
            );
        } else {
            assert!(
                payload.is_none(),
                "{key:?}: decrypted with segments missing"
            );
        }
    }
    let sar_done = events(&lines, "sar")
        .filter(|e| e["outcome"] == "complete")
        .count();
    assert!(sar_done >= 10, "{sar_done} segmented messages acknowledged");
    assert!(
        complete >= sar_done,
        "{complete} reassembled, {sar_done} acknowledged"
    );
    // Segment Acknowledgments (control opcode 0x00, MshPRT §3.6.4.1) decode too.
    assert!(d.control.get(&0).is_some_and(|&n| n > 0), "{:?}", d.control);
    check_against_weft(&d, &lines);
}
