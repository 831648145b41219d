//! `weft hil run thread-attach-ping` on a rig file of two `otsim:` radios: each Thread role
//! is a `weft hil role` process of its own on OpenThread's real-time simulation air (UDP
//! multicast on the loopback interface), in wall-clock time, with no OpenThread binary: the
//! router forms a partition as leader, the child attaches to it, and each pings the other.
//! `thread-kill-restart` kills the child's process (SIGKILL), then the leader's, and starts
//! another from the state each persisted: the same nodes, no MAC frame counter sent twice.
//!
//! Where the loopback interface takes no multicast the test says so and passes, except under
//! `CI=1`. Its port offsets (100 + pid % 400, 1100 + pid % 400) are ones no other test of
//! this file uses.
#![cfg(feature = "otsim")]

use assert_cmd::Command;
use serde_json::Value;

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// A rig file of two `otsim:` radios at `offset` in `dir`.
fn otsim_rig(dir: &std::path::Path, offset: u32) -> std::path::PathBuf {
    let rig = dir.join("otsim.toml");
    std::fs::write(
        &rig,
        format!("name = \"otsim-2\"\n[[radio]]\nid = \"ot-1\"\nuri = \"otsim:1?port_offset={offset}\"\n[[radio]]\nid = \"ot-2\"\nuri = \"otsim:2?port_offset={offset}\"\n"),
    )
    .unwrap();
    rig
}

/// Runs `weft hil run ARGS --json`: its exit code, NDJSON lines and result line, with stdout
/// and stderr for messages; None (said) where the loopback interface takes no multicast,
/// except under `CI=1`.
fn run_scenario(args: &[&std::ffi::OsStr]) -> Option<(Option<i32>, Vec<Value>, Value, String)> {
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["hil", "run", "--json"])
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let v = lines(&stdout);
    let result = v
        .iter()
        .find(|l| l["type"] == "result")
        .unwrap_or_else(|| panic!("no result: {stdout}\n{stderr}"))
        .clone();
    let reason = result["reason"].as_str().unwrap();
    if std::env::var_os("CI").is_none()
        && (reason.contains("multicast") || stderr.contains("multicast"))
    {
        eprintln!("skipped: the loopback interface takes no multicast here: {reason} {stderr}");
        return None;
    }
    Some((out.status.code(), v, result, format!("{stdout}\n{stderr}")))
}

#[test]
fn thread_attach_ping_runs_on_two_otsim_radios_as_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let rig = otsim_rig(dir.path(), 100 + std::process::id() % 400);
    let rig = rig.to_str().unwrap();
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["hil", "list", "--json", "--rig", rig])
        .output()
        .unwrap();
    let v = lines(&String::from_utf8_lossy(&out.stdout));
    for l in &v {
        let thread = l["name"].as_str().unwrap().starts_with("thread-");
        assert_eq!(l["fits"], thread, "{l}");
        if !thread {
            assert!(
                l["reason"]
                    .as_str()
                    .unwrap()
                    .ends_with("ble radios, the rig 'otsim-2' has 0"),
                "{l}"
            );
        }
    }
    let pcap_dir = dir.path().as_os_str();
    let Some((code, v, result, stdout)) = run_scenario(&[
        "thread-attach-ping".as_ref(),
        "--rig".as_ref(),
        rig.as_ref(),
        "--pcap".as_ref(),
        pcap_dir,
    ]) else {
        return;
    };
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(result["status"], "pass", "{result}");
    let steps: Vec<&Value> = v.iter().filter(|l| l["type"] == "step").collect();
    let done: Vec<&str> = steps.iter().map(|s| s["do"].as_str().unwrap()).collect();
    assert_eq!(done, ["attach", "attach", "ping", "ping"], "{stdout}");
    assert!(steps.iter().all(|s| s["status"] == "ok"), "{stdout}");
    let detail = |i: usize| steps[i]["detail"].as_str().unwrap();
    assert!(
        detail(0).starts_with("leader is a leader (fd"),
        "{}",
        detail(0)
    );
    assert!(
        detail(1).starts_with("child is a child (fd"),
        "{}",
        detail(1)
    );
    assert!(
        detail(2).starts_with("leader answered child's ping"),
        "{}",
        detail(2)
    );
    assert!(
        detail(3).starts_with("child answered leader's ping"),
        "{}",
        detail(3)
    );
    // Wall-clock time: the roles really ran as processes on the air.
    assert!(result["scenario_s"].as_f64().unwrap() > 1.0, "{result}");
    // Every role's process captured its radio, merged into one capture: MLE and the echoes,
    // 802.15.4 frames.
    let pcap = std::fs::read(dir.path().join("thread-attach-ping.pcapng")).unwrap();
    assert_eq!(&pcap[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "a pcapng file");
    assert!(pcap.len() > 1000, "{} octets", pcap.len());
}

/// The committed rig file of two `otsim:` radios fits the Thread scenarios only.
#[test]
fn the_committed_otsim_rig_fits_the_thread_scenario() {
    let rig =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hil-tests/rigs/otsim-2.toml");
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["hil", "list", "--json", "--rig", rig.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = lines(&String::from_utf8_lossy(&out.stdout));
    let fits: Vec<&str> = v
        .iter()
        .filter(|l| l["fits"] == true)
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(fits, ["thread-attach-ping", "thread-kill-restart"]);
}

#[test]
fn thread_kill_restart_comes_back_as_the_same_node_on_otsim_radios() {
    let dir = tempfile::tempdir().unwrap();
    let rig = otsim_rig(dir.path(), 1100 + std::process::id() % 400);
    let Some((code, v, _, stdout)) = run_scenario(&[
        "thread-kill-restart".as_ref(),
        "--rig".as_ref(),
        rig.as_os_str(),
    ]) else {
        return;
    };
    assert_eq!(code, Some(0), "{stdout}");
    let steps: Vec<&Value> = v.iter().filter(|l| l["type"] == "step").collect();
    let done: Vec<&str> = steps.iter().map(|s| s["do"].as_str().unwrap()).collect();
    assert_eq!(
        done,
        [
            "attach",
            "attach",
            "ping",
            "kill-restart",
            "attach",
            "ping",
            "ping",
            "kill-restart",
            "attach",
            "idle",
            "ping",
            "ping",
        ],
        "{stdout}"
    );
    assert!(steps.iter().all(|s| s["status"] == "ok"), "{stdout}");
    // The child attached again after its restart: it waited for the new process's role.
    let again = steps[4]["detail"].as_str().unwrap();
    assert!(again.starts_with("child is a child (fd"), "{again}");
    assert!(!again.ends_with("after 0.000 s"), "{again}");
    let again = steps[8]["detail"].as_str().unwrap();
    assert!(again.starts_with("leader is a leader (fd"), "{again}");
    assert!(!again.ends_with("after 0.000 s"), "{again}");
}
