//! Arguments a node would refuse, or that are no time or count at all, are refused when the
//! command line is parsed: exit 2 at once, naming the valid range, before any store is opened
//! or radio tried (no hub runs in these tests: a value that got through would end in exit 3
//! or wait out a timeout).

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;

const RADIO: &str = "sim:/nonexistent/air.sock";

/// Runs `weft ARGS` in `home`; its exit code and stderr.
fn weft(home: &Path, args: &[&str]) -> (i32, String) {
    let t = Instant::now();
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg"))
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "{args:?} took its time"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each of `cases` (arguments, a part of the message) ends in exit 2 with that message, in a
/// home with a network store: a value that got through would reach the missing radio (exit 3).
fn refused(cases: &[(&[&str], &str)]) {
    let home = tempfile::tempdir().unwrap();
    let (c, err) = weft(home.path(), &["net", "create"]);
    assert_eq!(c, 0, "{err}");
    for (args, want) in cases {
        let (c, err) = weft(home.path(), args);
        assert_eq!(c, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in: {err}");
    }
}

fn config(tail: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec!["config", "--radio", RADIO, "--dst", "0100"];
    v.extend_from_slice(tail);
    v
}

#[test]
fn config_values_the_node_would_refuse() {
    let default_ttl = "give 0 or 2 to 127";
    let publish_ttl = "give 0 to 127, or 255";
    let key_index = "give 0 to 4095";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (config(&["ttl", "1"]), default_ttl),
        (config(&["ttl", "128"]), default_ttl),
        (config(&["ttl", "200"]), default_ttl),
        (
            config(&[
                "pub-set",
                "--model",
                "1000",
                "--address",
                "c000",
                "--ttl",
                "200",
            ]),
            publish_ttl,
        ),
        (
            config(&[
                "pub-set",
                "--model",
                "1000",
                "--address",
                "c000",
                "--ttl",
                "128",
            ]),
            publish_ttl,
        ),
        (
            config(&[
                "pub-set",
                "--model",
                "1000",
                "--address",
                "c000",
                "--index",
                "4096",
            ]),
            key_index,
        ),
        (
            config(&["pub-set", "--model", "1000", "--address", "8123"]),
            "virtual address",
        ),
        (config(&["appkey-add", "--index", "4096"]), key_index),
        (
            config(&["bind", "--model", "1000", "--index", "4096"]),
            key_index,
        ),
        (
            config(&["bind", "--model", "1000", "--element", "c000"]),
            "not a unicast address (0001-7fff)",
        ),
        (
            config(&["sub-add", "--model", "1000", "--address", "0005"]),
            "c000-fffe",
        ),
        (
            config(&["sub-add", "--model", "1000", "--address", "ffff"]),
            "c000-fffe",
        ),
        (
            config(&["heartbeat", "--to", "c000", "--ttl", "128"]),
            "give 0 to 127",
        ),
    ];
    let cases: Vec<(&[&str], &str)> = cases.iter().map(|(a, w)| (a.as_slice(), *w)).collect();
    refused(&cases);
}

#[test]
fn destinations_are_unicast_or_group() {
    refused(&[
        (
            &["send", "--radio", RADIO, "--dst", "0000", "onoff", "get"],
            "0000 is the unassigned address, never a destination",
        ),
        (
            &["send", "--radio", RADIO, "--dst", "8001", "onoff", "get"],
            "virtual address",
        ),
        (
            &[
                "provision",
                "--radio",
                RADIO,
                "--all",
                "--subscribe",
                "0002",
            ],
            "c000-fffe",
        ),
        (
            &["provision", "--radio", RADIO, "--all", "--publish", "0000"],
            "never a destination",
        ),
    ]);
}

#[test]
fn durations_are_finite_and_above_zero() {
    let want = "give a number above 0 and at most 2592000";
    let uuid = "00112233445566778899aabbccddeeff";
    let mut cases: Vec<Vec<&str>> = Vec::new();
    for bad in ["NaN", "nan", "inf", "-inf", "-1", "0", "1e300"] {
        cases.push(vec![
            "send",
            "--radio",
            RADIO,
            "--dst",
            "0100",
            "--timeout",
            bad,
            "onoff",
            "get",
        ]);
        cases.push(vec![
            "config",
            "--radio",
            RADIO,
            "--dst",
            "0100",
            "--timeout",
            bad,
            "composition",
        ]);
        cases.push(vec![
            "node",
            "--radio",
            RADIO,
            "--uuid",
            uuid,
            "--seconds",
            bad,
        ]);
        cases.push(vec![
            "provision",
            "--radio",
            RADIO,
            "--uuid",
            uuid,
            "--timeout",
            bad,
        ]);
        cases.push(vec!["provision", "--radio", RADIO, "--all", "--scan", bad]);
        cases.push(vec!["sim", "run", "--seconds", bad]);
        cases.push(vec![
            "topology",
            "--scenario",
            "grid",
            "--format",
            "dot",
            "--seconds",
            bad,
        ]);
        cases.push(vec!["bench", "sim", "--seconds", bad]);
        cases.push(vec!["bench", "tui", "--seconds", bad]);
    }
    let cases: Vec<(&[&str], &str)> = cases.iter().map(|a| (a.as_slice(), want)).collect();
    refused(&cases);
}

#[test]
fn counts_are_within_their_range() {
    refused(&[
        // As reported: the default scenario took these silently.
        (&["sim", "run", "--nodes", "0"], "give 1 to 30000"),
        (&["sim", "run", "--nodes", "4000000000"], "give 1 to 30000"),
        (
            &["sim", "run", "--scenario", "grid", "--nodes", "0"],
            "give 1 to 30000",
        ),
        (
            &["sim", "run", "--scenario", "grid", "--nodes", "4000000000"],
            "give 1 to 30000",
        ),
        (
            &["sim", "run", "--scenario", "grid", "--nodes", "30001"],
            "give 1 to 30000",
        ),
        // The node count sizes a generated grid; smart-home lists its nodes.
        (
            &["sim", "run", "--nodes", "50"],
            "scenario smart-home has none",
        ),
        (&["bench", "sim", "--nodes", "0"], "give 1 to 30000"),
        (&["bench", "tui", "--nodes", "99999"], "give 1 to 30000"),
        (&["bench", "provision", "--devices", "0"], "give 1 to 32766"),
        (
            &["bench", "provision", "--devices", "40000"],
            "give 1 to 32766",
        ),
        (&["bench", "provision", "--parallel", "0"], "give 1 to 64"),
        (&["bench", "pdu", "--runs", "0"], "give 1 to 100"),
        (
            &["provision", "--radio", RADIO, "--all", "--parallel", "0"],
            "give 1 to 64",
        ),
    ]);
}

/// A malformed radio is refused by the one URI parser when the arguments are read, whatever
/// the command.
#[test]
fn malformed_radios_are_refused_before_anything_runs() {
    refused(&[
        (
            &[
                "send",
                "--radio",
                "hci-tcp:localhost",
                "--dst",
                "0002",
                "onoff",
                "on",
            ],
            "missing the port",
        ),
        (
            &[
                "node",
                "--radio",
                "spinel:/dev/ttyACM1?baud=abc",
                "--uuid",
                "00112233445566778899aabbccddeeff",
            ],
            "is not a rate",
        ),
        (&["provision", "--radio", "wifi:x", "--all"], "wifi"),
        (&["topology", "--radio", "hci:", "--format", "dot"], "hci:"),
    ]);
}
