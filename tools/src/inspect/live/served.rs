//! `weft inspect --serve PATH` acting: the inspector's actions (`o`, `+`/`-` send, `P`
//! provisions, `C` configures) go to `weft serve` as requests (`send`, `provision`, `config`,
//! `hil-tests/serve/PROTOCOL.md`), each on a connection of its own in a thread of its own so
//! that the air keeps being drawn while the server carries it out; the reply, or the error, is
//! shown on the status line as the inspector's own node would show it. The server's events
//! keep the picture current: a `network` event (another client provisioned or configured a
//! node) fetches the network database again, `provision` and `config` events are shown as
//! they come.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::Wire;

use super::LiveFeeder;
use crate::error::Failure;
use crate::inspect::model::config_what;
use crate::inspect::ui::Request;
use crate::serve::client::Client;

/// What a request was for, to say what its reply means.
#[derive(Debug, Clone)]
enum Asked {
    Send { what: String },
    Provision { uuid: [u8; 16], name: String },
    Configure { address: u16, what: String },
    Network,
}

/// A reply from the server, with how long it took.
struct Done {
    asked: Asked,
    reply: Result<Value, Failure>,
    took: Duration,
}

/// The inspector's link to `weft serve`: requests out, replies and events in.
pub struct Link {
    path: PathBuf,
    events: Receiver<Value>,
    done_tx: Sender<Done>,
    done: Receiver<Done>,
    /// A `network` fetch is out; `stale`: another `network` event came meanwhile.
    fetching: bool,
    stale: bool,
}

impl Link {
    /// The link to the server at `path`, its events (other than frames) coming from `events`.
    pub fn new(path: &Path, events: Receiver<Value>) -> Link {
        let (done_tx, done) = mpsc::channel();
        Link {
            path: path.to_path_buf(),
            events,
            done_tx,
            done,
            fetching: false,
            stale: false,
        }
    }

    /// Sends the actions among the UI's requests to the server; the others are given back.
    pub fn act(&mut self, f: &mut LiveFeeder, r: Request) -> Option<Request> {
        match r {
            Request::Send {
                dst,
                message,
                expect,
                what,
            } => {
                f.model.notify(format!("{what}: asking weft serve…"));
                self.call(
                    "send",
                    exchange(dst, &message, expect),
                    Asked::Send { what },
                );
            }
            Request::Provision { uuid, name } => {
                if let Some(d) = f.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
                    d.state = "asked weft serve".into();
                }
                f.model
                    .notify(format!("provisioning {name} through weft serve…"));
                self.call(
                    "provision",
                    json!({"uuid": hex::encode(uuid)}),
                    Asked::Provision { uuid, name },
                );
            }
            Request::Configure { address, op } => match f.config_for(address, op) {
                Ok(msg) => {
                    let what = config_what(&msg);
                    let Some(expect) = msg.status_opcode() else {
                        f.model.notify(format!(
                            "cannot configure {address:04x}: no status answers {what}"
                        ));
                        return None;
                    };
                    f.model
                        .notify(format!("{address:04x}: {what}… (through weft serve)"));
                    self.call(
                        "config",
                        exchange(address, &msg.to_access(), expect),
                        Asked::Configure { address, what },
                    );
                }
                Err(e) => f
                    .model
                    .notify(format!("cannot configure {address:04x}: {e}")),
            },
            other => return Some(other),
        }
        None
    }

    /// Takes the events that came and a reply: into the status line and the picture. One
    /// reply with a notice at a time (the others wait for the next call), since the status
    /// line holds one: replies that came together were otherwise never drawn but the last.
    pub fn poll(&mut self, f: &mut LiveFeeder) {
        while let Ok(v) = self.events.try_recv() {
            match v["event"].as_str() {
                Some("network") => self.fetch_network(),
                Some(_) => {
                    if let Some(text) = event_text(f, &v) {
                        f.model.notify(text);
                    }
                }
                None => {}
            }
        }
        while let Ok(d) = self.done.try_recv() {
            if self.replied(f, d) {
                break;
            }
        }
    }

    /// Fetches the network database again (once at a time; again after, if it changed
    /// meanwhile).
    fn fetch_network(&mut self) {
        if self.fetching {
            self.stale = true;
            return;
        }
        self.fetching = true;
        self.call("network", json!({}), Asked::Network);
    }

    /// `method` with `params` on a connection of its own; the reply comes back through
    /// [`Link::poll`].
    fn call(&self, method: &'static str, params: Value, asked: Asked) {
        let (path, tx) = (self.path.clone(), self.done_tx.clone());
        let spawned = std::thread::Builder::new()
            .name("weft-serve-call".into())
            .spawn(move || {
                let start = Instant::now();
                let reply = Client::connect(&path).and_then(|mut c| c.call(method, params));
                let _ = tx.send(Done {
                    asked,
                    reply,
                    took: start.elapsed(),
                });
            });
        if let Err(e) = spawned {
            tracing::warn!(target: "weft::inspect", "cannot start a request to weft serve: {e}");
        }
    }

    /// Takes a reply; whether it set the status line.
    fn replied(&mut self, f: &mut LiveFeeder, d: Done) -> bool {
        let ms = d.took.as_millis();
        let text = match (d.asked, d.reply) {
            (Asked::Network, r) => {
                self.fetching = false;
                if std::mem::take(&mut self.stale) {
                    self.fetch_network();
                }
                match r.and_then(|cdb| crate::serve::radio::import_network(&self.path, &cdb)) {
                    Ok(net) => {
                        f.refresh_net(net);
                        return false;
                    }
                    Err(e) => format!("cannot read weft serve's network: {}", e.1),
                }
            }
            (Asked::Send { what }, Ok(a)) => format!(
                "sent {what}: {} {} ({ms} ms through weft serve)",
                a["src"].as_str().unwrap_or("?"),
                a["status"].as_str().unwrap_or("answered"),
            ),
            (Asked::Send { what }, Err(e)) => format!("{what}: {}", e.1),
            (Asked::Configure { address, what }, Ok(a)) => format!(
                "{address:04x}: {what}: {} ({ms} ms through weft serve)",
                a["status"].as_str().unwrap_or("answered")
            ),
            (Asked::Configure { address, .. }, Err(e)) => {
                format!("cannot configure {address:04x}: {}", e.1)
            }
            (Asked::Provision { uuid, name }, Ok(r)) => {
                let hex = hex::encode(uuid);
                let done = r["provisioned"]
                    .as_array()
                    .and_then(|p| p.iter().find(|p| p["uuid"] == hex.as_str()));
                let failed = r["failed"]
                    .as_array()
                    .and_then(|p| p.iter().find(|p| p["uuid"] == hex.as_str()));
                match (done, failed) {
                    (Some(p), _) => format!(
                        "provisioned {name} as {}{} ({ms} ms through weft serve)",
                        p["address"].as_str().unwrap_or("?"),
                        if p["configured"] == true {
                            ", configured"
                        } else {
                            ""
                        }
                    ),
                    (None, Some(e)) => format!(
                        "cannot provision {name}: {}",
                        e["error"].as_str().unwrap_or("failed")
                    ),
                    (None, None) => format!("cannot provision {name}: not heard by weft serve"),
                }
            }
            (Asked::Provision { uuid, name }, Err(e)) => {
                if let Some(d) = f.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
                    d.state = "waiting".into();
                }
                format!("cannot provision {name}: {}", e.1)
            }
        };
        f.model.notify(text);
        true
    }
}

/// `send`/`config` parameters for an access message and the opcode that answers it.
fn exchange(dst: u16, message: &AccessMessage, expect: Opcode) -> Value {
    json!({"dst": format!("{dst:04x}"), "message": hex::encode(message.to_vec()),
        "expect": hex::encode(expect.to_bytes())})
}

/// What the status line says for a server's `provision`, `config` or `lagged` event (whoever
/// asked for it); a device being provisioned shows its step in the Unprovisioned tab too.
fn event_text(f: &mut LiveFeeder, v: &Value) -> Option<String> {
    let s = |k: &str| v[k].as_str().unwrap_or("?").to_string();
    match v["event"].as_str()? {
        "provision" => {
            let mut uuid = [0u8; 16];
            hex::decode_to_slice(s("uuid"), &mut uuid).ok()?;
            let name = f.model.device_name(uuid);
            let step = s("step");
            if let Some(d) = f.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
                d.state = step.clone();
            }
            Some(match step.as_str() {
                "address" => format!("weft serve: provisioning {name} as {}", s("address")),
                "provisioned" => format!("weft serve: provisioned {name} as {}", s("address")),
                "failed" => format!("weft serve: provisioning {name} failed: {}", s("reason")),
                _ => format!("weft serve: provisioning {name}: {step}"),
            })
        }
        "config" => Some(match v["step"].as_str()? {
            "answered" => format!("weft serve: {}: {} answered", s("node"), s("request")),
            "done" => format!("weft serve: {} configured", s("node")),
            _ => format!(
                "weft serve: configuring {} failed: {}",
                s("node"),
                s("reason")
            ),
        }),
        "lagged" => Some(format!(
            "fell behind weft serve: {} events missed",
            v["missed"]
        )),
        _ => None,
    }
}
