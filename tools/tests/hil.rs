//! `weft hil list` and `weft hil run` from the outside: the built-in scenarios all pass on
//! `--rig sim`, NDJSON that the committed schema accepts, JUnit XML, one capture per scenario,
//! each scenario's expectation mutated makes it fail (exit 1), and bad rig and scenario files
//! get one error naming the file, line and field (exit 2).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn weft(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scenario_text(name: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("hil-tests/scenarios")
            .join(format!("{name}.toml")),
    )
    .unwrap()
}

fn schema() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(repo().join("hil-tests/schema/hil-run.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("a valid schema")
}

/// The scenario files of hil-tests/scenarios, by name.
fn scenario_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join("hil-tests/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn list_json_names_every_scenario_file_with_its_radios() {
    let (code, out, err) = weft(&["hil", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = lines(&out);
    let mut names: Vec<String> = v
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        scenario_files(),
        "every file in hil-tests/scenarios is built in"
    );
    assert!(v.len() >= 12, "{} scenarios", v.len());
    for l in &v {
        let radios: u64 = ["ble", "802.15.4"]
            .iter()
            .filter_map(|k| l["radios"][k].as_u64())
            .sum();
        assert_eq!(radios as usize, l["roles"].as_array().unwrap().len(), "{l}");
        for r in l["roles"].as_array().unwrap() {
            let want = match r["kind"].as_str().unwrap() {
                "thread-router" | "thread-child" => "802.15.4",
                _ => "ble",
            };
            assert_eq!(r["radio"], want, "{l}");
        }
        assert!(l["steps"].as_u64().unwrap() >= 1, "{l}");
        assert!(l.get("fits").is_none(), "no rig given: {l}");
    }
    let needs = |name: &str| v.iter().find(|l| l["name"] == name).unwrap()["radios"].clone();
    assert_eq!(needs("proxy"), serde_json::json!({"ble": 3}));
    assert_eq!(
        needs("thread-attach-ping"),
        serde_json::json!({"802.15.4": 2})
    );
}

#[test]
fn run_sim_passes_every_scenario_with_schema_valid_ndjson_junit_and_captures() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let pcaps = dir.path().join("pcap");
    let (code, out, err) = weft(&[
        "hil",
        "run",
        "--rig",
        "sim",
        "--json",
        "--junit",
        junit.to_str().unwrap(),
        "--pcap",
        pcaps.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    let v = lines(&out);
    let validator = schema();
    for l in &v {
        let errors: Vec<String> = validator.iter_errors(l).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{l}: {errors:?}");
    }
    let names = scenario_files();
    let results: Vec<&Value> = v.iter().filter(|l| l["type"] == "result").collect();
    assert_eq!(results.len(), names.len());
    for r in &results {
        assert_eq!(r["status"], "pass", "{r}");
        let name = r["scenario"].as_str().unwrap();
        let steps = v
            .iter()
            .filter(|l| l["type"] == "step" && l["scenario"] == name)
            .count();
        assert!(steps >= 1, "{name}: no step lines");
        let pcap = std::fs::read(pcaps.join(format!("{name}.pcapng"))).unwrap();
        assert_eq!(
            &pcap[..4],
            &[0x0a, 0x0d, 0x0d, 0x0a],
            "{name}: a pcapng Section Header Block"
        );
        assert!(pcap.len() > 200, "{name}: packets in the capture");
    }
    let last = v.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(
        (
            last["passed"].as_u64(),
            last["failed"].as_u64(),
            last["skipped"].as_u64()
        ),
        (Some(names.len() as u64), Some(0), Some(0))
    );
    // The schema can say no.
    let mut bad = results[0].clone();
    bad["status"] = "maybe".into();
    assert!(!validator.is_valid(&bad));
    let xml = std::fs::read_to_string(&junit).unwrap();
    well_formed(&xml);
    assert!(
        xml.contains(&format!("tests=\"{}\" failures=\"0\"", names.len())),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), names.len());
}

/// A small XML well-formedness check: one root, tags nested and closed, attributes quoted,
/// entities known.
fn well_formed(xml: &str) {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while let Some(i) = rest.find('<') {
        assert!(
            rest[..i].trim().is_empty(),
            "text between tags: {:?}",
            &rest[..i]
        );
        let end = rest[i..].find('>').expect("tag closed") + i;
        let tag = &rest[i + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing tag matches");
        } else {
            let selfclosing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().unwrap();
            let attrs = &tag[name.len()..];
            assert_eq!(
                attrs.matches('"').count() % 2,
                0,
                "quoted attributes: {tag}"
            );
            for amp in attrs.match_indices('&') {
                let ent = &attrs[amp.0..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#9;"]
                        .iter()
                        .any(|e| ent.starts_with(e)),
                    "entity in {tag}"
                );
            }
            assert!(!attrs.contains('<'));
            if stack.is_empty() {
                roots += 1;
            }
            if !selfclosing {
                stack.push(name.to_string());
            }
        }
        rest = &rest[end + 1..];
    }
    assert!(rest.trim().is_empty());
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1);
}

/// Every scenario really asserts: one expectation of each changed, and it fails (exit 1) with
/// the reason naming where.
#[test]
fn each_scenario_fails_when_its_expectation_is_changed() {
    let mutations: &[(&str, &str, &str)] = &[
        ("provision-no-oob", "onoff = true", "onoff = false"),
        ("provision-static-oob", "onoff = true", "onoff = false"),
        ("provision-output-numeric", "onoff = true", "onoff = false"),
        ("provision-input-numeric", "onoff = true", "onoff = false"),
        ("onoff-across-relays", "received = 2", "received = 3"),
        ("relay-around-a-cut-link", "absent = true", "absent = false"),
        ("segmented-at-loss", "complete = true", "complete = false"),
        (
            "iv-update",
            "iv_index = 1\nupdating = true",
            "iv_index = 2\nupdating = true",
        ),
        (
            "key-refresh",
            "key_phase = 0\nonoff",
            "key_phase = 2\nonoff",
        ),
        ("heartbeat-hops", "hops = 3", "hops = 2"),
        ("node-reset", "provisioned = false", "provisioned = true"),
        (
            "replay-rejected",
            "reason = \"replay\"",
            "reason = \"duplicate\"",
        ),
        ("kill-restart-no-seq-reuse", "received = 3", "received = 4"),
        ("power-cycle-relay", "off_s = 5", "off_s = 0.01"),
        ("proxy", "proxy = \"proxy\"", "ttl = 5"),
        (
            "thread-attach-ping",
            "thread_role = \"child\"\nwithin_s = 30",
            "thread_role = \"router\"\nwithin_s = 30",
        ),
        (
            "thread-kill-restart",
            "thread_role = \"child\"\nseq_unique",
            "thread_role = \"router\"\nseq_unique",
        ),
    ];
    let mut covered: Vec<String> = mutations.iter().map(|m| m.0.to_string()).collect();
    covered.sort();
    assert_eq!(covered, scenario_files(), "one mutation per scenario");
    let dir = tempfile::tempdir().unwrap();
    for (name, from, to) in mutations {
        let text = scenario_text(name);
        assert_eq!(text.matches(from).count(), 1, "{name}: '{from}' once");
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let (code, out, err) = weft(&[
            "hil",
            "run",
            path.to_str().unwrap(),
            "--rig",
            "sim",
            "--json",
        ]);
        assert_eq!(code, 1, "{name} mutated: {err}\n{out}");
        let v = lines(&out);
        let r = v.iter().find(|l| l["type"] == "result").unwrap();
        assert_eq!(r["status"], "fail", "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("line "), "{name}: {reason}");
        assert_eq!(v.last().unwrap()["failed"], 1);
    }
}

#[test]
fn one_seed_one_run() {
    // The advertising air, with a proxy connection, and the 802.15.4 air.
    let run = |seed: &str| {
        let (code, out, err) = weft(&[
            "hil",
            "run",
            "provision-no-oob",
            "proxy",
            "thread-attach-ping",
            "--rig",
            "sim",
            "--json",
            "--seed",
            seed,
        ]);
        assert_eq!(code, 0, "{err}");
        lines(&out)
            .into_iter()
            .filter(|l| l["type"] == "step")
            .map(|l| format!("{} {} {}", l["scenario"], l["t_s"], l["detail"]))
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (run("7"), run("7"), run("8"));
    assert_eq!(a, b);
    for name in ["provision-no-oob", "proxy", "thread-attach-ping"] {
        let of = |v: &[String]| {
            v.iter()
                .filter(|l| l.starts_with(&format!("\"{name}\" ")))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(!of(&a).is_empty(), "{name}: {a:?}");
        assert_ne!(of(&a), of(&c), "{name}: another seed, another run");
    }
}

fn bad_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_rig_files_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.toml", "name = \"b\"\n[[radio]]\nid = \"a\"\nuri = \"hci-user:hci0\"\n\n[[radio]]\nid = \"b\"\n", 6, "uri", "missing field `uri`"),
        ("dup.toml", "name = \"b\"\n[[radio]]\nid = \"a\"\nuri = \"hci-user:hci0\"\n[[radio]]\nid = \"a\"\nuri = \"hci-user:hci1\"\n", 6, "id", "duplicate id 'a'"),
        ("scheme.toml", "name = \"b\"\n[[radio]]\nid = \"a\"\nuri = \"zigbee:/dev/ttyUSB0\"\n", 4, "uri", "zigbee"),
        ("none.toml", "name = \"b\"\n", 1, "radio", "no [[radio]]"),
    ];
    for (file, text, line, field, words) in cases {
        let path = bad_file(dir.path(), file, text);
        for args in [
            vec!["hil", "run", "--rig", &path],
            vec!["hil", "list", "--rig", &path],
        ] {
            let (code, out, err) = weft(&args);
            assert_eq!(code, 2, "{file}: {err}");
            assert!(out.is_empty(), "{out}");
            let want = format!("{path}:{line}: field `{field}`: ");
            assert!(err.contains(&want) && err.contains(words), "{file}: {err}");
            assert_eq!(err.lines().count(), 1, "one error: {err}");
        }
    }
}

#[test]
fn a_scenario_naming_an_unknown_step_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = scenario_text("onoff-across-relays").replacen("do = \"send\"", "do = \"dance\"", 1);
    let line = text.lines().position(|l| l == "do = \"dance\"").unwrap() + 1;
    let path = bad_file(dir.path(), "dance.toml", &text);
    let (code, out, err) = weft(&["hil", "run", &path, "--rig", "sim"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains(&format!(
            "{path}:{line}: field `do`: step 1: unknown step 'dance'"
        )),
        "{err}"
    );
    // A role no one cast, an unknown field.
    let text = scenario_text("onoff-across-relays").replacen("to = \"light\"", "to = \"lamp\"", 1);
    let line = text.lines().position(|l| l == "to = \"lamp\"").unwrap() + 1;
    let path = bad_file(dir.path(), "lamp.toml", &text);
    let (code, _, err) = weft(&["hil", "run", &path, "--rig", "sim"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "{path}:{line}: field `to`: step 1: 'lamp' is neither a role"
        )),
        "{err}"
    );
    let (code, _, err) = weft(&["hil", "run", "no-such-scenario", "--rig", "sim"]);
    assert_eq!(code, 2);
    assert!(err.contains("no scenario 'no-such-scenario'"), "{err}");
    let (code, _, err) = weft(&["hil", "run"]);
    assert_eq!(code, 2, "--rig is required: {err}");
}

#[test]
fn a_rig_file_maps_roles_and_exits_3_when_its_radios_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 of the loopback: nothing listens there.
    let rig = bad_file(
        dir.path(),
        "bench.toml",
        "name = \"bench-1\"\n[[radio]]\nid = \"a\"\nuri = \"hci-tcp:127.0.0.1:1\"\n[[radio]]\nid = \"b\"\nuri = \"hci:/dev/serial/by-id/usb-ZEPHYR_HCI_UART_0123-if00\"\n",
    );
    let (code, out, err) = weft(&["hil", "list", "--json", "--rig", &rig]);
    assert_eq!(code, 0, "{err}");
    let v = lines(&out);
    let reason = |name: &str| {
        let l = v.iter().find(|l| l["name"] == name).unwrap();
        (
            l["fits"].as_bool().unwrap(),
            l["reason"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(reason("kill-restart-no-seq-reuse"), (true, String::new()));
    assert_eq!(
        reason("onoff-across-relays"),
        (false, "needs 5 ble radios, the rig 'bench-1' has 2".into())
    );
    assert_eq!(
        reason("replay-rejected"),
        (
            false,
            "step 7 (power-cycle): radio b (hci:/dev/serial/by-id/usb-ZEPHYR_HCI_UART_0123-if00) of role lamp has no `power` fixture".into()
        )
    );
    let (code, out, err) = weft(&["hil", "run", "--rig", &rig]);
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("rig 'bench-1'")
            && err.contains("radio a (hci-tcp:127.0.0.1:1) cannot be opened"),
        "{err}"
    );
}

/// The simulator runs Bluetooth Mesh scenarios and Thread scenarios; one of both is skipped
/// with the reason (exit 0: a skip is not a failure).
#[test]
fn a_scenario_of_both_mesh_and_thread_roles_is_skipped_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = bad_file(
        dir.path(),
        "both.toml",
        "name = \"both\"\n[[role]]\nname = \"light\"\nkind = \"node\"\n[[role]]\nname = \"child\"\nkind = \"thread-child\"\n[[step]]\ndo = \"idle\"\nseconds = 1\n",
    );
    let (code, out, err) = weft(&["hil", "run", &path, "--rig", "sim", "--json"]);
    assert_eq!(code, 0, "a skip is not a failure: {err}");
    let v = lines(&out);
    assert_eq!(v[0]["status"], "skip");
    assert_eq!(
        v[0]["reason"],
        "roles light (node) and child (thread-child): a scenario of both Bluetooth Mesh and Thread roles runs on no HIL backend yet"
    );
    assert_eq!(
        (v[1]["passed"].as_u64(), v[1]["skipped"].as_u64()),
        (Some(0), Some(1))
    );
    // Thread steps name Thread roles; a send through a proxy names a proxy role.
    let path = bad_file(
        dir.path(),
        "ping.toml",
        "name = \"p\"\n[[role]]\nname = \"light\"\nkind = \"node\"\n[[role]]\nname = \"relay\"\nkind = \"relay\"\n[[step]]\ndo = \"ping\"\nfrom = \"light\"\nto = \"relay\"\n",
    );
    let (code, _, err) = weft(&["hil", "run", &path, "--rig", "sim"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{path}:10: field `from`: step 1: light is a node, not a Thread role"
        )),
        "{err}"
    );
    let text = scenario_text("proxy").replace("proxy = \"proxy\"", "proxy = \"light\"");
    let line = text.lines().position(|l| l == "proxy = \"light\"").unwrap() + 1;
    let path = bad_file(dir.path(), "proxy.toml", &text);
    let (code, _, err) = weft(&["hil", "run", &path, "--rig", "sim"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{path}:{line}: field `proxy`: step 5: light is a node, not a role of kind proxy"
        )),
        "{err}"
    );
}

/// On a rig file of Bluetooth LE controllers the Thread scenario is skipped for want of
/// 802.15.4 radios, and the proxy scenario because no weft radio is a GATT server.
#[test]
fn on_ble_controllers_proxy_and_thread_are_skipped_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rig = bad_file(
        dir.path(),
        "ble.toml",
        "name = \"ble-3\"\n[[radio]]\nid = \"a\"\nuri = \"hci-tcp:127.0.0.1:1\"\n[[radio]]\nid = \"b\"\nuri = \"hci-tcp:127.0.0.1:2\"\n[[radio]]\nid = \"c\"\nuri = \"hci-tcp:127.0.0.1:3\"\n[fixtures]\nlink = \"true\"\n",
    );
    let (code, out, err) = weft(&["hil", "list", "--json", "--rig", &rig]);
    assert_eq!(code, 0, "{err}");
    let v = lines(&out);
    let fit = |name: &str| {
        let l = v.iter().find(|l| l["name"] == name).unwrap();
        (
            l["fits"].as_bool().unwrap(),
            l["reason"].as_str().unwrap().to_string(),
        )
    };
    let (fits, reason) = fit("proxy");
    assert!(!fits);
    assert!(
        reason.starts_with("step 5 (send): a send through a proxy needs a GATT Proxy Server, and no weft radio is a GATT server"),
        "{reason}"
    );
    assert_eq!(
        fit("thread-attach-ping"),
        (
            false,
            "needs 2 802.15.4 radios, the rig 'ble-3' has 0".into()
        )
    );
}
