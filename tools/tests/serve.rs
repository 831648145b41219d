//! `weft serve` as its clients see it, each a separate process or connection, through the
//! live simulated air: two clients at once (a subscriber watching, as the inspector does, and a
//! sender), malformed and unknown requests, a client that goes away mid-request, the socket's
//! mode, a stale socket, and the operator commands' `--serve PATH`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

mod procs;

use procs::{hub, run, scratch, serve, weft, Killed};

const UUID: &str = "0102030405060708090a0b0c0d0e0f10";

/// A live air with one unprovisioned `weft node`, a network store, and `weft serve` on it.
struct Rig {
    dir: PathBuf,
    ctl: PathBuf,
    server: Killed,
    _node: Killed,
    _hub: Killed,
}

impl Rig {
    fn new(name: &str) -> Rig {
        let dir = scratch("serve", name);
        let sock = dir.join("air.sock");
        let radio = format!("sim:{}", sock.display());
        let hub = hub(&sock);
        let mut node = Killed(
            weft()
                .args(["node", "--radio", &radio, "--uuid", UUID])
                .args(["--models", "onoff-server", "--state"])
                .arg(dir.join("node.weft"))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // The node says it waits for a provisioner once its radio is open.
        let mut line = String::new();
        BufReader::new(node.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("waiting for a provisioner"), "{line}");
        let net = dir.join("net.weft");
        let (code, _, err) = run(&["net", "create", "--net", net.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let ctl = dir.join("ctl.sock");
        let server = serve(&radio, &net, &ctl);
        Rig {
            dir,
            ctl,
            server,
            _node: node,
            _hub: hub,
        }
    }

    fn connect(&self) -> Conn {
        Conn::new(&self.ctl)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The JSON Schema document hil-tests/serve/NAME.schema.json.
fn schema_doc(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../hil-tests/serve/{name}.schema.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The JSON Schema of hil-tests/serve/NAME.schema.json.
fn schema(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&schema_doc(name)).expect("a valid schema")
}

/// A client connection; every line it reads is checked against the replies' schema, every
/// request it makes with `call` against the requests'.
struct Conn {
    requests: jsonschema::Validator,
    replies: jsonschema::Validator,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next: u64,
    /// Events read while waiting for a reply.
    events: Vec<Value>,
}

impl Conn {
    fn new(path: &Path) -> Conn {
        let s = UnixStream::connect(path).unwrap();
        // A server that never answers fails the test instead of hanging it.
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        Conn {
            requests: schema("requests"),
            replies: schema("replies"),
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            next: 1,
            events: Vec::new(),
        }
    }

    fn line(&mut self) -> Value {
        let mut l = String::new();
        assert!(
            self.reader.read_line(&mut l).unwrap() > 0,
            "the server closed"
        );
        let v = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(
            self.replies.is_valid(&v),
            "not as replies.schema.json says: {v}"
        );
        v
    }

    fn send_raw(&mut self, text: &str) {
        writeln!(self.writer, "{text}").unwrap();
    }

    /// The reply to `id`, keeping the events read before it.
    fn reply(&mut self, id: &Value) -> Value {
        loop {
            let v = self.line();
            if v.get("event").is_some() {
                self.events.push(v);
            } else {
                assert_eq!(&v["id"], id, "{v}");
                return v;
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_checked(method, params, true)
    }

    /// A request the schema refuses (a test of what the server does with it).
    fn call_bad(&mut self, method: &str, params: Value) -> Value {
        self.call_checked(method, params, false)
    }

    fn call_checked(&mut self, method: &str, params: Value, valid: bool) -> Value {
        let id = json!(self.next);
        self.next += 1;
        let req = json!({"id": id, "method": method, "params": params});
        assert_eq!(
            self.requests.is_valid(&req),
            valid,
            "requests.schema.json: {req}"
        );
        self.send_raw(&req.to_string());
        self.reply(&id)
    }

    /// The first event that satisfies `want`, of those read already or the next ones (the
    /// others are kept for later calls).
    fn event(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.events.iter().position(&want) {
            return self.events.remove(i);
        }
        loop {
            let v = self.line();
            if want(&v) {
                return v;
            }
            self.events.push(v);
        }
    }
}

#[test]
fn a_subscriber_watches_while_another_client_provisions_and_sends() {
    let rig = Rig::new("two");
    let mut watcher = rig.connect();
    assert_eq!(
        watcher.call("subscribe", json!({}))["result"]["subscribed"],
        true
    );
    let pcap = rig.dir.join("air.pcapng");
    let r = watcher.call("capture.start", json!({"path": pcap}));
    assert_eq!(r["result"]["path"], json!(pcap), "{r}");
    let r = watcher.call("capture.start", json!({"path": pcap}));
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is running"),
        "{r}"
    );
    let mut sender = rig.connect();
    let status = sender.call("status", json!({}));
    assert_eq!(status["result"]["clients"], 2, "{status}");
    assert_eq!(status["result"]["subscribers"], 1, "{status}");
    // The result as the schema describes it, naming the server's own node: the provisioner
    // node of the network database.
    let of_status = jsonschema::validator_for(&schema_doc("replies")["$defs"]["status"]).unwrap();
    assert!(of_status.is_valid(&status["result"]), "{status}");
    let net = sender.call("network", json!({}));
    let own = net["result"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            n["unicastAddress"].as_str().map(str::to_lowercase)
                == status["result"]["node"].as_str().map(String::from)
        })
        .unwrap_or_else(|| panic!("{status} {net}"));
    let provisioner = net["result"]["provisioners"][0]["UUID"].as_str().unwrap();
    assert_eq!(own["UUID"].as_str().unwrap(), provisioner, "{net}");
    let r = sender.call("provision", json!({"uuid": UUID, "timeout": 30}));
    assert_eq!(r["result"]["provisioned"][0]["address"], "0002", "{r}");
    assert_eq!(r["result"]["provisioned"][0]["configured"], true, "{r}");
    // The network changed as the node was provisioned, before its configuration was done:
    // a subscriber knows the node (and its device key) while it is being configured.
    let is_done = |e: &Value| e["event"] == "config" && e["step"] == "done";
    while !watcher.events.iter().any(is_done) {
        let v = watcher.line();
        watcher.events.push(v);
    }
    let done = watcher.events.iter().position(is_done).unwrap();
    let network = watcher
        .events
        .iter()
        .position(|e| e["event"] == "network" && e["nodes"] == 2);
    assert!(network.is_some_and(|n| n < done), "{:?}", watcher.events);
    let r = sender.call("send", json!({"dst": "0002", "args": ["onoff", "on"]}));
    assert_eq!(r["result"]["status"], "OnOff Status on", "{r}");
    assert_eq!(r["result"]["ok"], true, "{r}");
    // The watcher saw it all happen: the device provisioned, the network changed, the frames
    // on the air and the light's answer.
    let e = watcher.event(|e| e["event"] == "provision" && e["step"] == "provisioned");
    assert_eq!(e["address"], "0002", "{e}");
    watcher.event(|e| e["event"] == "network" && e["nodes"] == 2);
    watcher.event(|e| e["event"] == "frame" && e["dir"] == "rx");
    watcher.event(|e| e["event"] == "frame" && e["dir"] == "tx");
    let e = watcher.event(|e| e["event"] == "access" && e["opcode"] == "8204");
    assert_eq!(e["src"], "0002", "{e}");
    // And the operator commands go through the same server meanwhile.
    let ctl = rig.ctl.to_str().unwrap();
    let (code, out, err) = run(&["send", "--serve", ctl, "--dst", "0002", "onoff", "off"]);
    assert_eq!((code, out.trim()), (0, "0002: OnOff Status off"), "{err}");
    let (code, out, err) = run(&["config", "--serve", ctl, "--dst", "0002", "--json", "ttl"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "Config Default TTL Status", "{v}");
    let e = watcher.event(|e| e["event"] == "access" && e["opcode"] == "800e");
    assert_eq!(e["src"], "0002", "{e}");
    // A configuration the database records changes the network: subscribers are told, and
    // the network the client reads next has it.
    watcher.events.retain(|e| e["event"] != "network");
    let (code, _, err) = run(&[
        "config",
        "--serve",
        ctl,
        "--dst",
        "0002",
        "sub-add",
        "--model",
        "1000",
        "--address",
        "c005",
    ]);
    assert_eq!(code, 0, "{err}");
    let n = rig.connect().call("network", json!({}));
    let subscribed = n["result"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["elements"].as_array().unwrap())
        .flat_map(|e| e["models"].as_array().unwrap())
        .any(|m| m["subscribe"].to_string().to_lowercase().contains("c005"));
    assert!(subscribed, "{n}");
    watcher.event(|e| e["event"] == "network" && e["nodes"] == 2);
    // No answer in time is exit 4 through the server as without it.
    let (code, _, err) = run(&[
        "send",
        "--serve",
        ctl,
        "--dst",
        "0009",
        "--timeout",
        "1",
        "onoff",
        "on",
    ]);
    assert_eq!(code, 4, "{err}");
    // The network the server holds, as `weft net show --json` prints it.
    let n = watcher.call("network", json!({}));
    assert_eq!(n["result"]["nodes"].as_array().unwrap().len(), 2, "{n}");
    let r = watcher.call("capture.stop", json!({}));
    assert!(r["result"]["packets"].as_u64().unwrap() > 10, "{r}");
    assert!(std::fs::metadata(&pcap).unwrap().len() > 100);
}

#[test]
fn malformed_and_unknown_requests_get_errors_and_the_server_goes_on() {
    let rig = Rig::new("bad");
    let mut c = rig.connect();
    c.send_raw("this is not json");
    let v = c.line();
    assert_eq!(
        (&v["id"], &v["error"]["code"]),
        (&Value::Null, &json!(-32700)),
        "{v}"
    );
    c.send_raw(r#"{"method":"status"}"#);
    assert_eq!(c.line()["error"]["code"], -32600);
    c.send_raw(r#"[1,2,3]"#);
    assert_eq!(c.line()["error"]["code"], -32600);
    let v = c.call_bad("reboot", json!({}));
    assert_eq!(v["error"]["code"], -32601, "{v}");
    let v = c.call("send", json!({"dst": "0002", "args": ["onoff", "maybe"]}));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let v = c.call_bad("send", json!({"dst": "zz"}));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let v = c.call("capture.stop", json!({}));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    // A device the network already has, a node it does not: what the command would say.
    let v = c.call("config", json!({"dst": "0005", "args": ["relay", "get"]}));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("provision it first"),
        "{v}"
    );
    // Blank lines are skipped, and the server goes on answering.
    c.send_raw("");
    let v = c.call("status", json!({}));
    assert!(
        v["result"]["radio"].as_str().unwrap().starts_with("sim:"),
        "{v}"
    );
    let v = c.call("radios", json!({}));
    assert!(v["result"].is_array(), "{v}");
}

#[test]
fn a_client_that_goes_away_mid_request_loses_nothing_committed() {
    let rig = Rig::new("gone");
    {
        let mut c = rig.connect();
        c.send_raw(&json!({"id": 1, "method": "provision", "params": {"uuid": UUID}}).to_string());
        // Gone before the reply.
    }
    let mut c = rig.connect();
    // The provisioning went on without its client and was saved: the node answers.
    let mut answered = false;
    for _ in 0..600 {
        let s = c.call("status", json!({}));
        if s["result"]["answered"] == 1 {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(answered, "the provisioning never ended");
    let n = c.call("network", json!({}));
    assert_eq!(n["result"]["nodes"].as_array().unwrap().len(), 2, "{n}");
    let r = c.call("send", json!({"dst": "0002", "args": ["onoff", "on"]}));
    assert_eq!(r["result"]["status"], "OnOff Status on", "{r}");
    // The store holds it once the server stops (SIGTERM: a clean stop).
    procs::signal(rig.server.0.id(), "TERM");
    let mut rig = rig;
    let _ = rig.server.0.wait();
    assert!(!rig.ctl.exists(), "the socket is removed at a clean stop");
    let net = rig.dir.join("net.weft");
    let (code, out, err) = run(&["net", "show", "--json", "--net", net.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let cdb: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cdb["nodes"].as_array().unwrap().len(), 2, "{cdb}");
}

#[test]
fn the_socket_is_the_owners_alone_and_a_stale_one_is_replaced() {
    let dir = scratch("serve", "socket");
    let sock = dir.join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let _hub = hub(&sock);
    let net = dir.join("net.weft");
    assert_eq!(run(&["net", "create", "--net", net.to_str().unwrap()]).0, 0);
    let ctl = dir.join("ctl.sock");
    let mut server = serve(&radio, &net, &ctl);
    let mode = std::fs::metadata(&ctl).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // A second server on the same path is refused while the first answers there.
    let (code, _, err) = run(&[
        "serve",
        "--radio",
        &radio,
        "--socket",
        ctl.to_str().unwrap(),
        "--net",
        net.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("another weft serve is serving"), "{err}");
    // Killed outright, it leaves its socket behind; the next server replaces it.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert!(ctl.exists());
    let _server = serve(&radio, &net, &ctl);
    // The stale file is there from the start: wait for the new server to answer on it.
    let t = std::time::Instant::now();
    while UnixStream::connect(&ctl).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the stale socket was never replaced"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Conn::new(&ctl);
    assert!(c.call("status", json!({}))["result"].is_object());
    // A path that holds something else is not taken.
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    let (code, _, err) = run(&[
        "serve",
        "--radio",
        &radio,
        "--socket",
        file.to_str().unwrap(),
        "--net",
        net.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    // Another user cannot connect (the peer's uid is checked too: weft-radio's peer_allowed
    // test); only root can try it here.
    if is_root() {
        use std::os::unix::process::CommandExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = weft()
            .uid(65534)
            .gid(65534)
            .args([
                "send",
                "--serve",
                ctl.to_str().unwrap(),
                "--dst",
                "0002",
                "onoff",
                "on",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn stdio_serves_one_client_until_its_input_ends() {
    let dir = scratch("serve", "stdio");
    let sock = dir.join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let _hub = hub(&sock);
    let net = dir.join("net.weft");
    assert_eq!(run(&["net", "create", "--net", net.to_str().unwrap()]).0, 0);
    let mut child = weft()
        .args([
            "serve",
            "--radio",
            &radio,
            "--stdio",
            "--net",
            net.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, r#"{{"id":"a","method":"status"}}"#).unwrap();
        writeln!(stdin, "nonsense").unwrap();
        writeln!(stdin, r#"{{"id":"b","method":"send","params":{{"dst":"0002","args":["onoff","on"],"timeout":1}}}}"#).unwrap();
    }
    // Input ended: the pending send still gets its reply before the server ends.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[1]["error"]["code"], -32700);
    assert_eq!(lines[2]["id"], "b");
    // The network has no such node: nothing answers in time (exit code 4).
    assert_eq!(lines[2]["error"]["code"], 4, "{}", lines[2]);
    let _ = std::fs::remove_dir_all(&dir);
}
