//! `weft hil run --rig FILE` on a rig of Bumble-emulated controllers (`hil-tests/bumble/
//! controllers.py`, reached over `hci-tcp:`): the scenarios that apply pass, each role a `weft
//! hil role` process on its controller; the others are skipped with the reason; a controller
//! killed mid-scenario fails that scenario with the reason and the next one still runs.
//! (`tools/tests/hil.rs` has the rig whose radios cannot be opened: exit 3.)
//!
//! Skipped, saying so, when the Bumble venv is missing, except under CI=1 (`.ci/run` makes it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use weft_hil::bumble::{Controllers, Fixture};

mod procs;

use procs::{scratch, signal, weft, Killed};

/// A rig file of the controllers of `ctls` in order, ids `a`, `b`... each with a `power`
/// fixture that has nothing to switch (an emulated controller keeps no state across a power
/// cycle that matters here; the role process is killed and started again).
fn rig_file(dir: &Path, name: &str, ctls: &[&Controllers]) -> PathBuf {
    rig_file_with(dir, name, ctls, "", |i| {
        ((b'a' + i as u8) as char).to_string()
    })
}

/// A rig file as [`rig_file`], ids made by `id` from the position, with `more` at the end.
fn rig_file_with(
    dir: &Path,
    name: &str,
    ctls: &[&Controllers],
    more: &str,
    id: impl Fn(usize) -> String,
) -> PathBuf {
    let mut text = format!("name = \"{name}\"\n");
    let mut n = 0;
    for ctl in ctls {
        for i in 0..ctl.transports().len() {
            text += &format!(
                "[[radio]]\nid = \"{}\"\nuri = \"{}\"\n[radio.fixtures]\npower = \"true\"\n",
                id(n),
                ctl.radio_uri(i)
            );
            n += 1;
        }
    }
    text += more;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Each packet of a capture as tshark reads it: the name of the interface it was captured on
/// and its time; `None` (saying so) when tshark is not installed.
fn tshark_interfaces(pcap: &Path) -> Option<Vec<(String, f64)>> {
    let out = match std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.time_epoch",
        ])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: the capture's interfaces: no tshark ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let (name, t) = l.split_once('\t').unwrap_or((l, "0"));
                (name.to_string(), t.parse().unwrap_or(0.0))
            })
            .collect(),
    )
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Why the proxy scenario does not run on controllers.
const GATT: &str = "step 5 (send): a send through a proxy needs a GATT Proxy Server, and no weft radio is a GATT server (gatt: is a client only) and the live backend has no GATT bearer";

fn result<'a>(v: &'a [Value], scenario: &str) -> &'a Value {
    v.iter()
        .find(|l| l["type"] == "result" && l["scenario"] == scenario)
        .unwrap_or_else(|| panic!("no result for {scenario}"))
}

#[test]
fn the_scenarios_that_apply_pass_on_emulated_controllers_and_the_others_skip_with_the_reason() {
    let Some(ctl) = Fixture::tcp(3).start_or_skip() else {
        return;
    };
    let dir = scratch("hil-rig", "apply");
    let rig = rig_file(&dir, "bumble-3", &[&ctl]);
    let junit = dir.join("junit.xml");
    let pcap = dir.join("captures");
    let out = weft()
        .args(["hil", "run", "--rig", rig.to_str().unwrap(), "--json"])
        .args(["--junit", junit.to_str().unwrap()])
        .args(["--pcap", pcap.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{stderr}\n{}",
        ctl.log()
    );
    let v = lines(&stdout);
    let loses = |link: &str, pc: u32| {
        format!("the link {link} loses {pc} % of frames, and the rig 'bumble-3' cannot make its radios lose frames (it has no `link` fixture)")
    };
    let apart = |a: &str, b: &str| {
        format!("roles {a} and {b} must not hear each other (no [[link]] between them), but the radios of rig 'bumble-3' all hear each other (it has no `link` fixture)")
    };
    let short = |n: u32| format!("needs {n} ble radios, the rig 'bumble-3' has 3");
    let expected: Vec<(&str, &str, String)> = vec![
        ("provision-no-oob", "skip", loses("prov-lamp", 10)),
        ("provision-static-oob", "skip", loses("prov-lamp", 10)),
        ("provision-output-numeric", "skip", loses("prov-lamp", 10)),
        ("provision-input-numeric", "skip", loses("prov-lamp", 10)),
        ("onoff-across-relays", "skip", short(5)),
        ("relay-around-a-cut-link", "skip", short(4)),
        ("segmented-at-loss", "skip", loses("prov-sink", 30)),
        ("iv-update", "skip", short(4)),
        ("key-refresh", "skip", apart("prov", "light")),
        ("heartbeat-hops", "skip", short(4)),
        ("node-reset", "pass", String::new()),
        ("replay-rejected", "pass", String::new()),
        ("kill-restart-no-seq-reuse", "pass", String::new()),
        ("power-cycle-relay", "skip", apart("prov", "light")),
        ("proxy", "skip", GATT.into()),
        (
            "thread-attach-ping",
            "skip",
            "needs 2 802.15.4 radios, the rig 'bumble-3' has 0".into(),
        ),
        (
            "thread-kill-restart",
            "skip",
            "needs 2 802.15.4 radios, the rig 'bumble-3' has 0".into(),
        ),
    ];
    for (name, status, reason) in &expected {
        let r = result(&v, name);
        assert_eq!(
            (r["status"].as_str().unwrap(), r["reason"].as_str().unwrap()),
            (*status, reason.as_str()),
            "{name}: {r}"
        );
        if *status == "pass" {
            // Every step of it ran and went well, on the controllers, in wall-clock time.
            let steps: Vec<&Value> = v
                .iter()
                .filter(|l| l["type"] == "step" && l["scenario"] == *name)
                .collect();
            assert!(!steps.is_empty(), "{name} ran no step");
            assert!(
                steps.iter().all(|s| s["status"] == "ok"),
                "{name}: {steps:?}"
            );
            assert!(r["setup_s"].as_f64().unwrap() > 0.0, "{r}");
            let file = pcap.join(format!("{name}.pcapng"));
            assert!(file.exists(), "{name}: no capture");
            // Every role's radio an interface of the scenario's capture, named after the role,
            // the packets in time order.
            if let Some(packets) = tshark_interfaces(&file) {
                let mut names: Vec<&str> = packets.iter().map(|(n, _)| n.as_str()).collect();
                names.sort_unstable();
                names.dedup();
                assert_eq!(names, ["lamp", "prov"], "{name}");
                assert!(
                    packets.windows(2).all(|w| w[0].1 <= w[1].1),
                    "{name}: not in time order"
                );
            }
        }
    }
    let summary = v.last().unwrap();
    assert_eq!(
        (&summary["passed"], &summary["failed"], &summary["skipped"]),
        (&Value::from(3), &Value::from(0), &Value::from(14)),
        "{summary}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"17\"") && xml.contains("skipped=\"14\"") && xml.contains("bumble-3"),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_a_link_fixture_the_scenarios_that_shape_the_air_pass_on_emulated_controllers_too() {
    // The rig's `link` fixture writes to the controllers' control FIFO: `loss I-J=P`, the
    // radios' ids being the controllers' indices.
    let dir = scratch("hil-rig", "link");
    let air = dir.join("air");
    let Some(ctl) = Fixture::tcp(4)
        .arg("--control-fifo")
        .arg(air.to_str().unwrap())
        .arg("--seed")
        .arg("1")
        .start_or_skip()
    else {
        return;
    };
    let link = format!(
        "[fixtures]\nlink = \"echo loss {{a}}-{{b}}={{loss}} > {}\"\n",
        air.display()
    );
    let rig = rig_file_with(&dir, "bumble-4", &[&ctl], &link, |i| i.to_string());
    let (code, stdout, stderr) =
        procs::run(&["hil", "run", "--rig", rig.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", ctl.log());
    let v = lines(&stdout);
    for l in v.iter().filter(|l| l["type"] == "result") {
        let name = l["scenario"].as_str().unwrap();
        let expected = match name {
            "onoff-across-relays" => ("skip", "needs 5 ble radios, the rig 'bumble-4' has 4"),
            "iv-update" => (
                "skip",
                "it may take 360000 s, and a rig runs in wall-clock time (at most 3600 s a scenario)",
            ),
            "proxy" => ("skip", GATT),
            "thread-attach-ping" | "thread-kill-restart" => {
                ("skip", "needs 2 802.15.4 radios, the rig 'bumble-4' has 0")
            }
            _ => ("pass", ""),
        };
        assert_eq!(
            (l["status"].as_str().unwrap(), l["reason"].as_str().unwrap()),
            expected,
            "{name}: {l}"
        );
    }
    // The fixture took every link the scenarios set (cuts and restores among them).
    let log = ctl.log();
    assert!(log.contains("ok loss 0-1=1"), "{log}");
    assert!(log.contains("ok loss 0-1=0.1"), "{log}");
    assert!(!log.contains("error loss"), "{log}");
    assert_eq!(
        (&v.last().unwrap()["passed"], &v.last().unwrap()["skipped"]),
        (&Value::from(12), &Value::from(5))
    );
    drop(ctl);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_controller_killed_mid_scenario_fails_that_scenario_with_the_reason_and_the_run_goes_on() {
    // Controllers a and b in one fixture, c in another: killing the second takes c away only.
    let Some(ab) = Fixture::tcp(2).start_or_skip() else {
        return;
    };
    let Some(c) = Fixture::tcp(1).start_or_skip() else {
        return;
    };
    let dir = scratch("hil-rig", "vanish");
    let rig = rig_file(&dir, "bumble-vanish", &[&ab, &c]);
    // Three roles, the third on controller c, and a long idle to kill it in.
    let scenario = dir.join("vanish.toml");
    std::fs::write(
        &scenario,
        "name = \"vanish\"\nseconds = 60\n\
         [[role]]\nname = \"prov\"\nkind = \"provisioner\"\nmodels = [\"onoff-client\"]\n\
         [[role]]\nname = \"lamp\"\nkind = \"node\"\nmodels = [\"onoff-server\"]\n\
         [[role]]\nname = \"extra\"\nkind = \"node\"\n\
         [[link]]\na = \"prov\"\nb = \"lamp\"\n[[link]]\na = \"prov\"\nb = \"extra\"\n[[link]]\na = \"lamp\"\nb = \"extra\"\n\
         [[step]]\ndo = \"send\"\nfrom = \"prov\"\nto = \"lamp\"\nmessage = \"onoff-set\"\non = true\n\
         [[step]]\ndo = \"wait\"\nrole = \"lamp\"\nevent = \"onoff\"\non = true\n\
         [[step]]\ndo = \"idle\"\nseconds = 30\n",
    )
    .unwrap();
    let mut run = Killed(
        weft()
            .args([
                "hil",
                "run",
                scenario.to_str().unwrap(),
                "kill-restart-no-seq-reuse",
            ])
            .args(["--rig", rig.to_str().unwrap(), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = Vec::new();
    let mut killed = false;
    for line in BufReader::new(run.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let l: Value = serde_json::from_str(&line).unwrap();
        // Once the lamp answered, the third controller's process dies (kill -9).
        if !killed && l["type"] == "step" && l["scenario"] == "vanish" && l["index"] == 2 {
            assert_eq!(l["status"], "ok", "{l}");
            signal(c.pid(), "KILL");
            killed = true;
        }
        out.push(l);
    }
    let status = run.0.wait().unwrap();
    assert!(killed, "the vanish scenario never got to its idle: {out:?}");
    assert_eq!(status.code(), Some(1), "{out:?}");
    let v = result(&out, "vanish");
    let reason = v["reason"].as_str().unwrap();
    let uri = c.radio_uri(0);
    assert_eq!(v["status"], "fail", "{v}");
    assert!(
        reason.starts_with("step 3 (idle, line ")
            && reason.contains(&format!("role extra: radio c ({uri}): ")),
        "{reason}"
    );
    let next = result(&out, "kill-restart-no-seq-reuse");
    assert_eq!(
        (&next["status"], &next["reason"]),
        (&Value::from("pass"), &Value::from("")),
        "{next}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
