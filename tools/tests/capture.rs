//! `weft capture` as a process on the live simulated air: `weft sim serve`, a `weft node`
//! (itself capturing with `--pcap`), `weft provision` and `weft send` while `weft capture`
//! listens until SIGINT. tshark then reads both files: every CRC is good, every advertiser
//! address is the one the capture's NDJSON reported and one the hub gives its node slots,
//! and, given the network's keys, the provisioning, the configuration, the OnOff Set and its
//! status, and the beacons all decode. Also: a capture that ends by `--seconds` with nothing
//! heard, a hub that goes away, and files that cannot be written (exit 3, naming them).
//!
//! tshark comes from the Debian package `tshark`; without it the tshark checks fail unless
//! `WEFT_SKIP_TSHARK=1` is set (as in radio/tests/tshark.rs).

mod procs;
#[path = "../../radio/tests/support/tshark.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{num, run_tshark, tshark, Frame, PI_WARN};
use weft_radio::pcap::{read_all_packets, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR};
use weft_radio::sim::{adv_address, NodeId};

use procs::{hub, run, scratch, signal, wait_for, weft, Killed};

const UUID: &str = "0102030405060708090a0b0c0d0e0f10";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Waits (bounded) for a child to exit: its stdout, stderr and exit code.
fn finish(mut child: Child, secs: u64) -> (i32, String, String) {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scratch directory named `name` with a live air in it: the directory, the radio of the
/// air, and its hub.
fn air(name: &str) -> (PathBuf, String, Killed) {
    let dir = scratch("capture", name);
    let sock = dir.join("air.sock");
    let hub = hub(&sock);
    (dir, format!("sim:{}", sock.display()), hub)
}

/// `weft node` on `radio` with the device UUID [`UUID`] and its state in `dir`, and `args`.
fn node(radio: &str, dir: &Path, args: &[&str]) -> Killed {
    Killed(
        weft()
            .args(["node", "--radio", radio, "--uuid", UUID])
            .args(["--state", s(&dir.join("node.weft"))])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `weft capture` on `radio` into `out` for `seconds`, with `args`: exit code, stdout, stderr.
fn capture_for(radio: &str, out: &str, seconds: &str, args: &[&str]) -> (i32, String, String) {
    let mut a = vec![
        "capture",
        "--radio",
        radio,
        "--out",
        out,
        "--seconds",
        seconds,
    ];
    a.extend_from_slice(args);
    run(&a)
}

/// `weft capture --json` on `radio` into `out`, until it is stopped.
fn capture(radio: &str, out: &Path) -> Child {
    weft()
        .args(["capture", "--radio", radio, "--out", s(out), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// An address as tshark prints it, most significant octet first.
fn text(a: [u8; 6]) -> String {
    weft::capture::address_text(a)
}

/// The advertiser addresses a hub of seed 1 gives its first node slots, each reused a few
/// times (a process that leaves frees its slot; the next one gets a new address there).
fn hub_addresses() -> BTreeSet<String> {
    (0..8)
        .flat_map(|n| (0..8).map(move |g| text(adv_address(1, NodeId(n), g))))
        .collect()
}

/// The tshark preferences for the network in the store `net`: its network and application
/// keys and IV index (btmesh_nw_keys), and its nodes' device keys (btmesh_dev_keys).
fn prefs(dir: &Path, net: &str) -> Vec<String> {
    let out = weft()
        .args(["net", "show", "--net", net, "--json"])
        .env("XDG_DATA_HOME", dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let cdb: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = |v: &Value| v["key"].as_str().unwrap().to_string();
    let mut p = vec![format!(
        "uat:btmesh_nw_keys:\"0x{}\",\"0x{}\",\"0x{:08x}\"",
        key(&cdb["netKeys"][0]),
        key(&cdb["appKeys"][0]),
        cdb["ivIndex"].as_u64().unwrap()
    )];
    for n in cdb["nodes"].as_array().unwrap() {
        p.push(format!(
            "uat:btmesh_dev_keys:\"0x{}\",\"0x{}\"",
            n["deviceKey"].as_str().unwrap(),
            n["unicastAddress"].as_str().unwrap()
        ));
    }
    p
}

const FIELDS: [&str; 12] = [
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "btle.advertising_address",
    "btle.crc",
    "btle.crc.incorrect",
    "beacon.type",
    "btmesh.src",
    "btmesh.model.opcode",
    "btmesh.access.decrypted",
    "_ws.malformed",
    "_ws.expert.severity",
];

/// Every frame a good ADV_NONCONN_IND: the CRC there and right, nothing malformed, no expert
/// info at warning level or above. Provisioning PDUs are let off the last: tshark 4.0 knows
/// Mesh Protocol 1.0's, so the HMAC-SHA256 algorithm weft uses (MshPRT 1.1 §5.4.1.2) is RFU to
/// it and the 32-octet confirmations and randoms an "Unknown Payload".
fn crcs_good(frames: &[Frame]) {
    for f in frames {
        let n = &f["frame.number"];
        assert!(!f["btle.crc"].is_empty(), "frame {n}: no CRC");
        assert!(
            f["btle.crc.incorrect"].is_empty(),
            "frame {n}: incorrect CRC"
        );
        assert!(f["_ws.malformed"].is_empty(), "frame {n}: malformed");
        if f["frame.protocols"].ends_with(":provisioning") {
            continue;
        }
        for sev in f["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
        {
            assert!(num(sev) < PI_WARN, "frame {n}: expert info {sev}");
        }
    }
}

/// The model opcodes tshark decrypted.
fn opcodes(frames: &[Frame]) -> BTreeSet<u64> {
    frames
        .iter()
        .filter(|f| !f["btmesh.access.decrypted"].is_empty())
        .flat_map(|f| f["btmesh.model.opcode"].split(',').map(str::to_string))
        .filter(|o| !o.is_empty())
        .map(|o| num(&o))
        .collect()
}

#[test]
fn a_capture_of_provisioning_and_a_switch_decodes_in_tshark() {
    let (dir, radio, _hub) = air("flow");
    let (out, node_pcap) = (dir.join("air.pcapng"), dir.join("node.pcapng"));
    let net = dir.join("net.weft");
    let net = s(&net);
    let started = now_s();
    let mut node = node(&radio, &dir, &["--pcap", s(&node_pcap)]);
    let capture = capture(&radio, &out);
    wait_for(&out);
    assert_eq!(run(&["net", "create", "--net", net]).0, 0);
    let (code, o, e) = run(&["provision", "--radio", &radio, "--uuid", UUID, "--net", net]);
    assert_eq!(code, 0, "{o} {e}");
    let (code, o, e) = run(&[
        "send", "--radio", &radio, "--net", net, "--dst", "0002", "onoff", "on",
    ]);
    assert_eq!(code, 0, "{o} {e}");
    // SIGINT ends the capture cleanly: the file closed, the summary printed, exit 0.
    signal(capture.id(), "INT");
    let (code, stdout, stderr) = finish(capture, 10);
    assert_eq!(code, 0, "{stderr}");
    signal(node.0.id(), "TERM");
    assert!(node.0.wait().unwrap().success());
    let ended = now_s();

    let lines = ndjson(&stdout);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["stopped_by"], "SIGINT");
    assert_eq!(summary["link_types"], serde_json::json!([256]));
    let frames_json: Vec<&Value> = lines.iter().filter(|l| l["type"] == "frame").collect();
    let n = frames_json.len() as u64;
    assert!(n > 20, "{n} frames");
    assert_eq!(summary["frames"], n);
    assert_eq!(summary["written"], n);
    assert_eq!(summary["skipped"], 0);
    // The hub stamps what it delivers with its air's clock: every packet is timed by it.
    assert_eq!(summary["clock"]["radio"], n);
    for key in ["0x29", "0x2a"] {
        assert!(summary["by_ad_type"][key].as_u64() > Some(0), "{summary}");
    }
    for f in &frames_json {
        assert_eq!(f["bearer"], "advertising");
        assert!((37..=39).contains(&f["channel"].as_u64().unwrap()), "{f}");
        assert_eq!(f["rssi"], -55, "the hub's links");
        let t = f["time"].as_f64().unwrap();
        assert!(
            t > started - 1.0 && t < ended + 1.0,
            "{f}: not within the run"
        );
    }
    let packets = read_all_packets(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(packets.len() as u64, n);
    assert!(packets
        .iter()
        .all(|p| p.link_type == LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR));

    let Some(bin) = tshark() else { return };
    let prefs = prefs(&dir, net);
    let frames = run_tshark(&bin, &out, &prefs, &FIELDS);
    assert_eq!(frames.len() as u64, n);
    crcs_good(&frames);
    // The advertiser address of every packet is the one the NDJSON reported, and the hub's.
    let hub = hub_addresses();
    for (f, j) in frames.iter().zip(&frames_json) {
        assert_eq!(
            f["btle.advertising_address"],
            j["adv_address"].as_str().unwrap()
        );
        assert!(hub.contains(&f["btle.advertising_address"]), "{f:?}");
        let t: f64 = f["frame.time_epoch"].parse().unwrap();
        assert!((t - j["time"].as_f64().unwrap()).abs() < 1e-5, "{f:?} {j}");
    }
    // The provisioning (PB-ADV and its PDUs), the configuration with the device keys, the
    // OnOff Set and its status with the application key.
    let protocols: BTreeSet<&str> = frames
        .iter()
        .map(|f| f["frame.protocols"].as_str())
        .collect();
    assert!(
        protocols.iter().any(|p| p.ends_with(":pbadv:provisioning")),
        "{protocols:?}"
    );
    let ops = opcodes(&frames);
    // Config Composition Data Get/Status, AppKey Add, Generic OnOff Set and Status.
    for op in [0x8008, 0x02, 0x00, 0x8202, 0x8204] {
        assert!(ops.contains(&op), "opcode {op:#x} not decrypted: {ops:x?}");
    }

    // The node's own capture: what it sent (from its UUID's stand-in address) and heard.
    let frames = run_tshark(&bin, &node_pcap, &prefs, &FIELDS);
    crcs_good(&frames);
    let own = text(weft::capture::uuid_adv_address(
        hex::decode(UUID).unwrap().try_into().unwrap(),
    ));
    let from: BTreeSet<&str> = frames
        .iter()
        .map(|f| f["btle.advertising_address"].as_str())
        .collect();
    assert!(from.contains(own.as_str()), "{from:?}");
    assert!(from.iter().any(|a| hub.contains(*a)), "{from:?}");
    // It beaconed unprovisioned, answered the provisioner, and switched on.
    assert!(frames.iter().any(|f| f["btle.advertising_address"] == own
        && f["frame.protocols"].ends_with(":beacon")
        && !f["beacon.type"].is_empty()
        && num(&f["beacon.type"]) == 0));
    let ops = opcodes(&frames);
    assert!(ops.contains(&0x8202) && ops.contains(&0x8204), "{ops:x?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_for_seconds_of_silence_is_an_empty_valid_file() {
    let (dir, radio, _hub) = air("quiet");
    let out = dir.join("quiet.pcapng");
    let (code, stdout, stderr) = capture_for(&radio, s(&out), "0.5", &["--json"]);
    assert_eq!(code, 0, "{stderr}");
    let lines = ndjson(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["frames"], 0);
    assert_eq!(lines[0]["stopped_by"], "deadline");
    assert!(lines[0]["seconds"].as_f64().unwrap() >= 0.5);
    assert_eq!(
        read_all_packets(&std::fs::read(&out).unwrap()).unwrap(),
        vec![]
    );
    // Without --json: one line to start, one at the end.
    let (code, stdout, _) = capture_for(&radio, s(&out), "0.2", &[]);
    assert_eq!(code, 0);
    let l: Vec<&str> = stdout.lines().collect();
    assert_eq!(l.len(), 2, "{stdout}");
    assert!(l[0].starts_with("capturing sim:"), "{stdout}");
    assert!(
        l[1].contains("0 frames") && l[1].contains("deadline"),
        "{stdout}"
    );
    if let Some(bin) = tshark() {
        assert!(run_tshark(&bin, &out, &[], &FIELDS).is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hub_that_goes_away_ends_the_capture_with_its_file_whole() {
    let (dir, radio, hub) = air("gone");
    let out = dir.join("gone.pcapng");
    let _node = node(&radio, &dir, &[]);
    let capture = capture(&radio, &out);
    std::thread::sleep(Duration::from_millis(1500));
    drop(hub);
    let (code, stdout, stderr) = finish(capture, 10);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("the radio stopped") && stderr.contains(s(&out)),
        "{stderr}"
    );
    let lines = ndjson(&stdout);
    let summary = lines.last().unwrap();
    assert_eq!(summary["stopped_by"], "radio");
    let packets = read_all_packets(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(packets.len() as u64, summary["written"].as_u64().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_file_that_cannot_be_written_is_exit_3_naming_it() {
    let (dir, radio, _hub) = air("unwritable");
    let missing = dir.join("no/such/dir/x.pcapng");
    let (code, _, stderr) = capture_for(&radio, s(&missing), "1", &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.starts_with("weft capture: cannot write the capture file"),
        "{stderr}"
    );
    assert!(stderr.contains(s(&missing)) && stderr.contains("directory you can write to"));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A full disk: the file opens, its bytes do not fit.
    if Path::new("/dev/full").exists() {
        let (code, _, stderr) = capture_for(&radio, "/dev/full", "0.2", &[]);
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("/dev/full"), "{stderr}");
    }
    // weft node --pcap and weft inspect --pcap say the same, before anything else runs.
    let (code, _, stderr) = run(&[
        "node",
        "--radio",
        &radio,
        "--uuid",
        UUID,
        "--seconds",
        "1",
        "--state",
        s(&dir.join("node.weft")),
        "--pcap",
        s(&missing),
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(s(&missing)), "{stderr}");
    let (code, _, stderr) = run(&["inspect", "--radio", &radio, "--pcap", s(&missing)]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.starts_with("weft inspect: cannot write the capture file"),
        "{stderr}"
    );
    // And on a scenario.
    let (code, _, stderr) = run(&["inspect", "--pcap", s(&missing)]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(s(&missing)), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_radio_that_is_not_there_is_exit_3_and_a_scenario_is_usage() {
    let dir = scratch("capture", "noradio");
    let out = dir.join("x.pcapng");
    let (code, _, stderr) = capture_for("sim:/nonexistent/air.sock", s(&out), "1", &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("weft sim serve"), "{stderr}");
    assert!(!out.exists(), "no file for a radio that never opened");
    let (code, _, stderr) = run(&["capture", "--radio", "sim:smart-home", "--out", s(&out)]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = capture_for("sim:/x", s(&out), "0", &[]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["capture", "--radio", "sim:/x"]);
    assert_eq!(code, 2, "--out is required");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `weft capture` on an emulated Bluetooth controller (Bumble, over `hci-tcp:`), while a
/// `weft node` on a second controller is provisioned and switched from a third: the same
/// capture, timed by the host's clock (HCI reports carry no timestamp), from the controllers'
/// random static addresses, and tshark decrypts it given the keys. Skipped, saying so, when
/// the Bumble venv is missing, except under CI=1.
#[test]
fn a_capture_on_an_emulated_controller_decodes_in_tshark() {
    let Some(ctl) = weft_hil::bumble::Fixture::tcp(3).start_or_skip() else {
        return;
    };
    let dir = scratch("capture", "hci");
    let out = dir.join("air.pcapng");
    let net = dir.join("net.weft");
    let net = s(&net);
    let provisioner = ctl.radio_uri(0);
    let _node = node(&ctl.radio_uri(1), &dir, &[]);
    let capture = capture(&ctl.radio_uri(2), &out);
    wait_for(&out);
    assert_eq!(run(&["net", "create", "--net", net]).0, 0);
    let (code, o, e) = run(&[
        "provision",
        "--radio",
        &provisioner,
        "--uuid",
        UUID,
        "--net",
        net,
    ]);
    assert_eq!(code, 0, "{o} {e}");
    let (code, o, e) = run(&[
        "send",
        "--radio",
        &provisioner,
        "--net",
        net,
        "--dst",
        "0002",
        "onoff",
        "on",
    ]);
    assert_eq!(code, 0, "{o} {e}");
    signal(capture.id(), "INT");
    let (code, stdout, stderr) = finish(capture, 10);
    assert_eq!(code, 0, "{stderr}");

    let lines = ndjson(&stdout);
    let summary = lines.last().unwrap();
    assert_eq!(summary["stopped_by"], "SIGINT", "{summary}");
    let frames_json: Vec<&Value> = lines.iter().filter(|l| l["type"] == "frame").collect();
    let n = frames_json.len() as u64;
    assert!(n > 20, "{n} frames");
    assert_eq!(summary["written"], n);
    assert_eq!(summary["clock"]["host"], n, "{summary}");
    for f in &frames_json {
        assert_eq!(f["rssi"], -50, "the fixture's links: {f}");
        // A random static address: the two most significant bits set (Core Vol 6 Part B
        // §1.3.2.1).
        let a = f["adv_address"].as_str().unwrap();
        let top = u8::from_str_radix(&a[..2], 16).unwrap();
        assert_eq!(top & 0xc0, 0xc0, "{f}");
    }
    let Some(bin) = tshark() else { return };
    let prefs = prefs(&dir, net);
    let frames = run_tshark(&bin, &out, &prefs, &FIELDS);
    assert_eq!(frames.len() as u64, n);
    crcs_good(&frames);
    let ops = opcodes(&frames);
    // Config Composition Data Get/Status, AppKey Add, Generic OnOff Set and Status.
    for op in [0x8008, 0x02, 0x00, 0x8202, 0x8204] {
        assert!(ops.contains(&op), "opcode {op:#x} not decrypted: {ops:x?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
