//! `weft sim run` and `weft sim list` from the outside: reproducible runs, the built-in
//! scenarios, what the smart-home scenario is for, and the usage errors (exit code 2, one
//! message that names the problem).

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// Runs `weft` with `args`: exit code, stdout, stderr.
fn weft(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().expect("exited"),
        out.stdout,
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

/// Parses NDJSON output.
fn lines(stdout: &[u8]) -> Vec<Value> {
    std::str::from_utf8(stdout)
        .expect("UTF-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// A successful `weft sim run --json` with `extra` arguments, as NDJSON lines.
fn sim_json(extra: &[&str]) -> (Vec<u8>, Vec<Value>) {
    let mut args = vec!["sim", "run", "--json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = weft(&args);
    assert_eq!(code, 0, "weft {args:?}: {stderr}");
    let v = lines(&stdout);
    (stdout, v)
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn one_seed_gives_byte_identical_output() {
    for (scenario, seconds) in [("smart-home", "60"), ("industrial", "12")] {
        let pcap1 = tmp(&format!("sim-run-{scenario}-1.pcapng"));
        let pcap2 = tmp(&format!("sim-run-{scenario}-2.pcapng"));
        let run = |seed: &str, pcap: &PathBuf| {
            sim_json(&[
                "--scenario",
                scenario,
                "--seed",
                seed,
                "--seconds",
                seconds,
                "--pcap",
                pcap.to_str().unwrap(),
            ])
        };
        let (a, lines_a) = run("7", &pcap1);
        let (b, _) = run("7", &pcap2);
        assert!(lines_a.len() > 10, "{scenario}: {} lines", lines_a.len());
        assert_eq!(lines_a[0]["type"], "network");
        assert_eq!(lines_a.last().unwrap()["type"], "summary");
        assert!(
            a == b,
            "{scenario}: two runs with seed 7 printed different output"
        );
        let (p1, p2) = (
            std::fs::read(&pcap1).unwrap(),
            std::fs::read(&pcap2).unwrap(),
        );
        assert!(
            p1.len() > 1000,
            "{scenario}: a capture of {} bytes",
            p1.len()
        );
        assert!(
            p1 == p2,
            "{scenario}: two runs with seed 7 captured different air"
        );

        let (c, lines_c) = run("8", &pcap2);
        assert!(a != c, "{scenario}: seeds 7 and 8 printed the same output");
        // Another seed also draws other keys.
        assert_ne!(lines_a[0]["net_keys"], lines_c[0]["net_keys"], "{scenario}");
    }
}

#[test]
fn sim_list_names_the_builtin_scenarios() {
    let (code, stdout, stderr) = weft(&["sim", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in ["smart-home", "industrial", "grid"] {
        assert!(names.contains(&name), "{name} missing from:\n{text}");
    }

    let (code, stdout, stderr) = weft(&["sim", "list", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let list = lines(&stdout);
    let names: BTreeSet<&str> = list.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["grid", "industrial", "proxy", "smart-home", "thread-home"]),
        "{list:?}"
    );
    let home = list.iter().find(|s| s["name"] == "smart-home").unwrap();
    assert_eq!(home["nodes"], 12);
    assert!(
        home["description"]
            .as_str()
            .is_some_and(|d| d.contains("three hops")),
        "{home}"
    );
}

/// The smart-home scenario's point: the motion sensor in the hall (0010) switches the three
/// living-room lights (group c001) three hops away, every time.
#[test]
fn smart_home_motion_sensor_reaches_the_lights_in_three_hops() {
    let (_, out) = sim_json(&["--scenario", "smart-home"]);
    let network = &out[0];
    let names: Vec<(&str, &str)> = network["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["address"].as_str().unwrap()))
        .collect();
    assert!(names.contains(&("motion-hall", "0010")), "{names:?}");
    let lights = ["0030", "0031", "0032"];

    let summary = out.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let flow = summary["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["src"] == "0010" && f["dst"] == "c001")
        .unwrap_or_else(|| panic!("no flow 0010 -> c001 in {summary}"));
    let sent = flow["sent"].as_u64().unwrap();
    // 60 s, a message every 10 s from 2 s on: six messages, three lights each.
    assert_eq!(sent, 6 * lights.len() as u64, "{flow}");
    assert_eq!(flow["delivered"], sent, "every expected reception: {flow}");
    assert_eq!(flow["hops"], 3, "{flow}");

    // The events behind it: the sensor sent six messages and each light got each, three hops
    // away (TTL 7 on leaving, 5 on arrival: two relays).
    let sent_seqs: BTreeSet<&str> = out
        .iter()
        .filter(|e| e["type"] == "sent" && e["src"] == "0010" && e["ctl"] == false)
        .map(|e| e["seq"].as_str().unwrap())
        .collect();
    assert_eq!(sent_seqs.len(), 6, "messages sent by the sensor");
    let mut got = BTreeSet::new();
    for e in out
        .iter()
        .filter(|e| e["type"] == "received" && e["src"] == "0010")
    {
        assert_eq!(e["dst"], "c001", "{e}");
        assert_eq!(e["hops"], 3, "{e}");
        assert_eq!(e["opcode"], "8203", "Generic OnOff Set Unacknowledged: {e}");
        assert!(lights.contains(&e["node"].as_str().unwrap()), "{e}");
        got.insert((e["node"].as_str().unwrap(), e["seq"].as_str().unwrap()));
    }
    let expected: BTreeSet<(&str, &str)> = lights
        .iter()
        .flat_map(|l| sent_seqs.iter().map(move |s| (*l, *s)))
        .collect();
    assert_eq!(got, expected, "each light got each message");
    // Two relays forwarded each message on the way (relay-hall, then relay-stairs or
    // relay-kitchen).
    for seq in &sent_seqs {
        let relays: BTreeSet<&str> = out
            .iter()
            .filter(|e| e["type"] == "relayed" && e["src"] == "0010" && e["seq"] == *seq)
            .map(|e| e["node"].as_str().unwrap())
            .collect();
        assert!(
            relays.contains("0020"),
            "relay-hall relayed {seq}: {relays:?}"
        );
        assert!(relays.len() >= 2, "{seq}: {relays:?}");
    }
}

/// Asserts a usage error: exit code 2, nothing on stdout, one error message (no panic) that
/// contains every one of `names`. Returns the message.
fn usage_error(args: &[&str], names: &[&str]) -> String {
    let (code, stdout, stderr) = weft(args);
    assert_eq!(code, 2, "weft {args:?} exited {code}: {stderr}");
    assert!(stdout.is_empty(), "weft {args:?} printed {stdout:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let messages = stderr
        .lines()
        .filter(|l| l.starts_with("error") || l.starts_with("weft"))
        .count();
    assert_eq!(messages, 1, "one message, not:\n{stderr}");
    for n in names {
        assert!(
            stderr.contains(n),
            "weft {args:?}: the message does not name {n:?}:\n{stderr}"
        );
    }
    stderr
}

#[test]
fn bad_arguments_exit_2_with_one_message() {
    let e = usage_error(
        &["sim", "run", "--scenario", "kitchen-sink"],
        &["kitchen-sink", "smart-home", "industrial", "grid"],
    );
    assert!(e.contains("weft sim list"), "points to the list: {e}");
    usage_error(&["sim", "run", "--loss", "2"], &["--loss", "probability"]);
    usage_error(&["sim", "run", "--loss=-0.5"], &["--loss", "-0.5"]);
    usage_error(&["sim", "run", "--loss", "lots"], &["--loss", "lots"]);
    usage_error(&["sim", "run", "--seconds=-1"], &["--seconds", "-1"]);
    usage_error(&["sim", "run", "--seconds", "0"], &["--seconds"]);
    usage_error(&["sim", "run", "--seconds", "soon"], &["--seconds"]);
    usage_error(
        &["sim", "run", "--scenario", "/nonexistent/weft/home.toml"],
        &["/nonexistent/weft/home.toml"],
    );
}

/// A negative value given as a separate argument (`--seconds -1`, `--loss -0.5`) reaches weft's
/// own checks, which name the option and what it needs.
#[test]
fn negative_values_name_their_option() {
    usage_error(&["sim", "run", "--seconds", "-1"], &["--seconds", "-1"]);
    usage_error(&["sim", "run", "--loss", "-0.5"], &["--loss", "-0.5"]);
}

#[test]
fn malformed_scenario_files_exit_2_and_name_the_problem() {
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "syntax.toml",
            "name = \"x\"\n[[nodes]\nname = \"a\"\n",
            &["syntax.toml", "line 2"],
        ),
        (
            "field.toml",
            "name = \"x\"\nnodez = 3\n",
            &["field.toml", "nodez"],
        ),
        (
            "address.toml",
            "name = \"x\"\n[[nodes]]\nname = \"hall\"\naddress = \"c001\"\n",
            &["hall", "c001", "unicast"],
        ),
        (
            "model.toml",
            "name = \"x\"\n[[nodes]]\nname = \"hall\"\naddress = \"0010\"\nmodels = [\"toaster\"]\n",
            &["hall", "toaster", "onoff-server"],
        ),
        (
            "traffic.toml",
            "name = \"x\"\n[[nodes]]\nname = \"hall\"\naddress = \"0010\"\n\
             [[traffic]]\nfrom = \"attic\"\nto = \"c001\"\nmessage = \"onoff-set-unack\"\nevery_s = 1.0\n",
            &["attic"],
        ),
    ];
    for (file, text, names) in cases {
        let path = tmp(&format!("weft-bad-{file}"));
        std::fs::write(&path, text).unwrap();
        let e = usage_error(&["sim", "run", "--scenario", path.to_str().unwrap()], names);
        eprintln!("{file}: {e}");
    }
}

/// A scenario with `auto_provision = true`: the provisioner provisions both lamps it hears,
/// and the run reports every step, each device's ending in "complete" with a fresh address,
/// the device side becoming a node, and the provisioner configuring it.
#[test]
fn auto_provision_reports_the_provisioning_steps() {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/auto-provision.toml"
    );
    let (_, v) = sim_json(&["--scenario", scenario]);
    let steps = |uuid: &str| -> Vec<String> {
        v.iter()
            .filter(|l| l["type"] == "provisioning" && l["uuid"] == uuid)
            .map(|l| l["step"].as_str().unwrap().to_string())
            .filter(|s| s != "beacon")
            .collect()
    };
    let mut addresses = BTreeSet::new();
    for uuid in [
        "00112233445566778899aabbccddeeff",
        "776566742d646576fab842ab3702e449",
    ] {
        let s = steps(uuid);
        assert_eq!(
            s,
            [
                "link_opened",
                "capabilities",
                "started",
                "complete",
                "link_closed"
            ],
            "{uuid}"
        );
        let done = v
            .iter()
            .find(|l| l["type"] == "provisioning" && l["uuid"] == uuid && l["step"] == "complete")
            .unwrap();
        assert_eq!(done["node"], "0001");
        addresses.insert(done["address"].as_str().unwrap().to_string());
        assert!(
            v.iter()
                .any(|l| l["type"] == "provisioned" && l["uuid"] == uuid),
            "{uuid} became a node"
        );
    }
    assert_eq!(
        addresses,
        BTreeSet::from(["0002".to_string(), "0003".to_string()])
    );
    // Then the provisioner configures each: composition, application key, binds, all answered
    // with success, and a "configured" line (MshPRT §4.3.2).
    for a in &addresses {
        let lines: Vec<_> = v
            .iter()
            .filter(|l| l["type"] == "config" && l["target"] == a.as_str())
            .collect();
        let requests: Vec<&str> = lines
            .iter()
            .filter(|l| l["step"] == "answered")
            .map(|l| l["request"].as_str().unwrap())
            .collect();
        assert!(
            requests
                .first()
                .is_some_and(|r| r.contains("Composition Data Get")),
            "{a}: {requests:?}"
        );
        assert!(
            requests.iter().any(|r| r.contains("AppKey Add")),
            "{a}: {requests:?}"
        );
        assert!(
            requests.iter().any(|r| r.contains("Model App Bind")),
            "{a}: {requests:?}"
        );
        assert!(lines
            .iter()
            .filter(|l| l["step"] == "answered")
            .all(|l| l["ok"] == true));
        assert_eq!(lines.last().unwrap()["step"], "configured", "{a}");
        assert!(lines.iter().all(|l| l["node"] == "0001"));
    }
    assert_eq!(v.last().unwrap()["type"], "summary");
}

/// The proxy scenario's point: a phone with no advertising bearer reaches nodes 1, 3 and 6
/// hops behind its proxy node, and they reach it back, through one GATT connection. Every
/// delivery line names its bearer (GATT at the phone, and at the proxy for the phone's own
/// messages; advertising elsewhere), and the summary counts every message sent and delivered.
#[test]
fn proxy_scenario_reaches_far_nodes_through_one_gatt_connection() {
    for seed in ["1", "2", "3"] {
        let (_, out) = sim_json(&["--scenario", "proxy", "--seed", seed]);
        let received: Vec<&Value> = out.iter().filter(|l| l["type"] == "received").collect();
        assert!(!received.is_empty());
        for l in &received {
            let bearer = l["bearer"].as_str().expect("a bearer");
            let at_phone = l["node"] == "7f00";
            let phone_at_proxy = l["node"] == "0001" && l["src"] == "7f00";
            assert_eq!(
                bearer == "gatt",
                at_phone || phone_at_proxy,
                "seed {seed}: {l}"
            );
        }
        let connected: Vec<&Value> = out
            .iter()
            .filter(|l| l["type"] == "proxy" && l["event"] == "connected")
            .collect();
        assert_eq!(connected.len(), 1, "seed {seed}");
        assert!((23..=517).contains(&connected[0]["mtu"].as_u64().unwrap()));
        let s = out.last().unwrap();
        assert_eq!(s["type"], "summary");
        // The advertising bearer loses an unacknowledged message now and then (half duplex).
        let (sent, delivered) = (
            s["sent"].as_u64().unwrap(),
            s["delivered"].as_u64().unwrap(),
        );
        assert!(
            delivered <= sent && delivered * 10 >= sent * 9,
            "seed {seed}: {s}"
        );
        // 3 flows from the phone every 5 s, 2 back every 10 s, over 60 s.
        assert!(s["messages_sent"].as_u64().unwrap() >= 40, "{s}");
        let by = &s["delivered_by_bearer"];
        assert_eq!(
            by["gatt"].as_u64().unwrap() + by["adv"].as_u64().unwrap(),
            s["delivered"].as_u64().unwrap()
        );
        assert!(by["gatt"].as_u64().unwrap() > 0);
        assert_eq!(s["gatt"]["connections"], 1);
        let hops: BTreeSet<u64> = s["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["src"] == "7f00")
            .map(|f| f["hops"].as_u64().unwrap())
            .collect();
        // The GATT hop to the proxy counts as one: 1, 3 and 6 advertising hops behind it.
        assert_eq!(hops, BTreeSet::from([2, 4, 7]), "seed {seed}");
    }
}

/// A proxy client naming a node that is not a proxy is a usage error naming the fix.
#[test]
fn proxy_client_of_a_non_proxy_is_a_usage_error() {
    let path = tmp("bad-proxy.toml");
    std::fs::write(
        &path,
        "name = \"bad\"\n[[nodes]]\nname = \"phone\"\naddress = \"0100\"\nproxy_client = \"lamp\"\n[[nodes]]\nname = \"lamp\"\naddress = \"0001\"\n",
    )
    .unwrap();
    let (code, _, stderr) = weft(&["sim", "run", "--scenario", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("proxy = true"), "{stderr}");
}
