//! Helpers shared by the `weft decode` tests that read the specification's sample data.

use assert_cmd::Command;
use serde_json::Value;

/// Reads a JSON data file.
pub fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JSON string's contents (panics on anything else).
pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .to_string()
}

/// Runs `weft` with `args`: its exit code and its stdout parsed as NDJSON.
pub fn run(args: &[String]) -> (i32, Vec<Value>) {
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (out.status.code().unwrap(), lines)
}

/// Checks a "network" line against a sample message's fields (`ctl` 0/1, `ttl`, `seq`, `src`,
/// `dst`, `lower_transport_pdu`, `network_pdu`).
pub fn check_network(line: &Value, m: &Value) {
    assert_eq!(line["type"], "network", "{line}");
    assert_eq!(line["ctl"], m["ctl"].as_u64().unwrap() == 1);
    assert_eq!(line["ttl"], m["ttl"]);
    assert_eq!(line["seq"], m["seq"]);
    assert_eq!(line["src"], m["src"]);
    assert_eq!(line["dst"], m["dst"]);
    assert_eq!(line["lower_transport_pdu"], m["lower_transport_pdu"]);
    let pdu = hex::decode(s(&m["network_pdu"])).unwrap();
    assert_eq!(line["nid"], u64::from(pdu[0] & 0x7f));
    assert_eq!(line["ivi"], u64::from(pdu[0] >> 7));
    let mic_len = if line["ctl"] == true { 8 } else { 4 };
    assert_eq!(line["net_mic"], hex::encode(&pdu[pdu.len() - mic_len..]));
}
