//! `weft node --proxy` as a process on `weft sim serve`'s air: provisioned by `weft provision`,
//! it advertises the Mesh Proxy Service; `weft send --proxy` reaches it through its own proxy
//! (found by the Node Identity it is asked to advertise), and `weft radios --proxies` then
//! names it by that Node Identity.

use std::process::Stdio;

mod procs;

use procs::{hub, run, weft, Killed};

#[test]
fn a_weft_node_with_the_proxy_feature_serves_a_proxy_client() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let net = dir.path().join("net.weft").to_str().unwrap().to_owned();
    let uuid = "0102030405060708090a0b0c0d0e0f10";
    let state = dir.path().join("node.weft");
    let _procs = [
        hub(&sock),
        Killed(
            weft()
                .args(["node", "--radio", &radio, "--uuid", uuid, "--proxy"])
                .args(["--state", state.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ),
    ];
    assert_eq!(run(&["net", "create", "--net", &net]).0, 0);
    let (code, out, err) = run(&[
        "provision",
        "--radio",
        &radio,
        "--uuid",
        uuid,
        "--net",
        &net,
    ]);
    assert_eq!(code, 0, "{out} {err}");
    let (code, out, err) = run(&[
        "send",
        "--radio",
        &radio,
        "--net",
        &net,
        "--dst",
        "0002",
        "--proxy",
        "0002",
        "--json",
        "--timeout",
        "30",
        "onoff",
        "get",
    ]);
    assert_eq!(code, 0, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["src"], "0002", "{v}");
    // Asked for its Node Identity, the node advertises it (for 60 s, MshPRT §4.2.12).
    let (code, out, err) = run(&[
        "radios",
        "--proxies",
        "--radio",
        &radio,
        "--net",
        &net,
        "--seconds",
        "3",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let heard: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        heard.iter().any(|v| v["node"] == "0002"
            && v["net_index"] == 0
            && v["radio"].as_str().unwrap().starts_with("gatt:")),
        "{out}"
    );
}
