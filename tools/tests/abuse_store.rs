//! The network store under abuse (issue 10): no command leaves it unreadable, and arguments
//! that would make the network database inconsistent are refused before anything is sent.

use std::process::Stdio;

mod procs;

use procs::{hub, run, weft, Killed};

/// A shared air, one device, a network: (directory, radio, store).
struct Air {
    dir: tempfile::TempDir,
    radio: String,
    _procs: Vec<Killed>,
}

impl Air {
    fn net(&self) -> String {
        self.dir
            .path()
            .join("net.weft")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

/// `weft sim serve`, `weft node` with the devices `uuids`, and `weft net create`.
fn air(uuids: &[&str]) -> Air {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let mut procs = vec![hub(&sock)];
    for (i, uuid) in uuids.iter().enumerate() {
        let state = dir.path().join(format!("node{i}.weft"));
        procs.push(Killed(
            weft()
                .args(["node", "--radio", &radio, "--uuid", uuid])
                .args(["--state", state.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ));
    }
    let a = Air {
        dir,
        radio,
        _procs: procs,
    };
    assert_eq!(run(&["net", "create", "--net", &a.net()]).0, 0);
    a
}

/// [`air`] with one lamp, provisioned and configured at 0002.
fn lamp_at_0002() -> Air {
    let uuid = "0102030405060708090a0b0c0d0e0f10";
    let a = air(&[uuid]);
    let (code, out, err) = run(&[
        "provision",
        "--radio",
        &a.radio,
        "--uuid",
        uuid,
        "--net",
        &a.net(),
    ]);
    assert_eq!(code, 0, "{out} {err}");
    a
}

/// The CDB of the store, as `weft net show --json` prints it.
fn cdb(net: &str) -> serde_json::Value {
    let (code, out, err) = run(&["net", "show", "--net", net, "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// weft's own node reservation, as `weft net export` writes it.
fn reserved(net: &str) -> u64 {
    let c = cdb(net);
    c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["unicastAddress"] == "0001")
        .unwrap()["sequenceNumber"]
        .as_u64()
        .unwrap()
}

/// Short commands give back the sequence numbers they reserved and did not use: 20 `weft
/// send`s used to burn 20 x 1,024 of the 2^24 an IV index allows.
#[test]
fn each_short_command_uses_only_the_sequence_numbers_it_sends() {
    let a = lamp_at_0002();
    let net = a.net();
    let before = reserved(&net);
    for _ in 0..5 {
        let (code, out, err) = run(&[
            "send", "--radio", &a.radio, "--net", &net, "--dst", "0002", "onoff", "get",
        ]);
        assert_eq!(code, 0, "{out} {err}");
    }
    let used = reserved(&net) - before;
    // One Get each, sent again only if no answer came within the retry time.
    assert!(
        (5..=15).contains(&used),
        "5 sends took {used} sequence numbers"
    );
}

/// With its sequence numbers nearly used up, weft's node starts an IV Update (MshPRT
/// §3.11.5) and goes on sending with the old IV index; with none left it says so and exits 1.
#[test]
fn running_out_of_sequence_numbers_starts_an_iv_update_and_says_so() {
    let a = lamp_at_0002();
    let net = a.net();
    let with_seq = |seq: u64| {
        let mut c = cdb(&net);
        for n in c["nodes"].as_array_mut().unwrap() {
            if n["unicastAddress"] == "0001" {
                n["sequenceNumber"] = seq.into();
            }
        }
        let file = a.dir.path().join("cdb.json");
        std::fs::write(&file, c.to_string()).unwrap();
        let (code, out, err) = run(&[
            "net",
            "import",
            "--net",
            &net,
            "--cdb",
            file.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(code, 0, "{out} {err}");
    };
    let send = || {
        run(&[
            "send", "--radio", &a.radio, "--net", &net, "--dst", "0002", "onoff", "on",
        ])
    };
    with_seq(0xF0_0000);
    let (code, out, err) = send();
    assert_eq!(code, 0, "{out} {err}");
    let c = cdb(&net);
    assert_eq!(
        (c["ivIndex"].as_u64(), c["ivUpdate"].as_bool()),
        (Some(1), Some(true))
    );

    with_seq(0x100_0000);
    let (code, out, err) = send();
    assert_eq!(code, 1, "{out} {err}");
    assert!(
        err.contains("used every sequence number of IV index 00000000")
            && err.contains("IV Update to 00000001 has been in progress"),
        "{err}"
    );
}

/// `weft provision --address A` where A is held by a node: exit 2 naming the node, and the
/// store still opens (it used to panic and leave a store that no longer decoded, keys lost).
#[test]
fn a_taken_address_is_refused_and_the_store_stays_readable() {
    let devices = [
        "0102030405060708090a0b0c0d0e0f10",
        "0102030405060708090a0b0c0d0e0f20",
    ];
    let a = air(&devices);
    let (radio, net) = (&a.radio, &a.net());
    let provision = |uuid: &str, address: Option<&str>| {
        let mut args = vec![
            "provision",
            "--radio",
            radio,
            "--uuid",
            uuid,
            "--net",
            net,
            "--no-configure",
            "--json",
        ];
        if let Some(a) = address {
            args.extend(["--address", a]);
        }
        run(&args)
    };
    let shows = || {
        let (code, out, err) = run(&["net", "show", "--net", net, "--json"]);
        assert_eq!(code, 0, "the store must stay readable: {err}");
        assert!(err.is_empty(), "no warning expected: {err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["nodes"]
            .as_array()
            .unwrap()
            .len()
    };

    // 0001 is weft's own node.
    let (code, out, err) = provision(devices[0], Some("0001"));
    assert_eq!(code, 2, "{out} {err}");
    assert!(
        err.contains("--address 0001 is taken by node 0001") && err.contains("0002"),
        "{err}"
    );
    assert_eq!(shows(), 1);

    let (code, out, err) = provision(devices[0], None);
    assert_eq!(code, 0, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["address"], "0002");
    assert_eq!(shows(), 2);

    let (code, out, err) = provision(devices[1], Some("0002"));
    assert_eq!(code, 2, "{out} {err}");
    assert!(err.contains("taken by node 0002"), "{err}");
    assert_eq!(shows(), 2);

    // A free address is taken as asked.
    let (code, out, err) = provision(devices[1], Some("0010"));
    assert_eq!(code, 0, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["address"], "0010");
    assert_eq!(shows(), 3);
}
