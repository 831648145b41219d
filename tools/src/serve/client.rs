//! The client side, for `weft send|config|provision --serve PATH`: one request on a connection
//! to `weft serve`, its reply read back (events are not asked for, so none come).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde_json::{json, Value};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::Wire;
use weft_mesh::ble::Address;

use super::protocol::exit_of;
use crate::error::{fail, Failure, Result};
use crate::provisioning::{BearerArg, OobArg, Outcomes, ProvisionArgs};
use crate::Exit;

/// A connection to `weft serve`.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    path: std::path::PathBuf,
}

impl Client {
    /// Connects to the server at `path`.
    pub fn connect(path: &Path) -> Result<Client> {
        let stream = UnixStream::connect(path).map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!(
                    "cannot reach weft serve at {}: {e} (is `weft serve --socket {}` running?)",
                    path.display(),
                    path.display()
                ),
            )
        })?;
        let writer = stream
            .try_clone()
            .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
            path: path.to_path_buf(),
        })
    }

    /// Calls `method` with `params`: its result, or its error as a failure with the exit code
    /// the error's code stands for. Events that arrive meanwhile are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let gone = |e: std::io::Error| {
            Failure::new(
                Exit::Unavailable,
                format!("weft serve at {} went away: {e}", self.path.display()),
            )
        };
        let line = json!({"id": id, "method": method, "params": params}).to_string();
        writeln!(self.writer, "{line}").map_err(gone)?;
        loop {
            let mut reply = String::new();
            if self.reader.read_line(&mut reply).map_err(gone)? == 0 {
                return fail(
                    Exit::Unavailable,
                    format!(
                        "weft serve at {} closed the connection",
                        self.path.display()
                    ),
                );
            }
            let Ok(v) = serde_json::from_str::<Value>(&reply) else {
                continue;
            };
            if v["id"] != json!(id) {
                continue;
            }
            if let Some(e) = v.get("error") {
                let code = e["code"].as_i64().unwrap_or(0);
                let message = e["message"].as_str().unwrap_or("(no message)");
                return fail(exit_of(code), message.to_string());
            }
            return Ok(v["result"].clone());
        }
    }
}

/// `weft send|config --serve PATH`: `method` with the access message itself.
pub fn exchange(
    path: &Path,
    method: &str,
    dst: Address,
    message: &AccessMessage,
    expect: Opcode,
    timeout: f64,
) -> Result<Value> {
    Client::connect(path)?.call(
        method,
        json!({"dst": dst.to_string(), "message": hex::encode(message.to_vec()),
            "expect": hex::encode(expect.to_bytes()), "timeout": timeout}),
    )
}

/// `weft provision --serve PATH`: the options given, by name.
pub fn provision(path: &Path, a: &ProvisionArgs) -> Result<Outcomes> {
    let oob = match &a.oob {
        OobArg::None => "none".to_string(),
        OobArg::Static(v) => format!("static:{}", hex::encode(v)),
        _ => {
            return fail(
                Exit::Usage,
                "--oob input/output ask on a terminal: with --serve, use none or static:HEX",
            )
        }
    };
    let hex4 = |x: Option<Address>| x.map(|x| x.to_string());
    let params = json!({
        "uuid": a.uuid.map(hex::encode),
        "all": a.all,
        "bearer": match a.bearer { BearerArg::Adv => "adv", BearerArg::Gatt => "gatt" },
        "scan": a.scan,
        "parallel": a.parallel,
        "oob": oob,
        "address": hex4(a.address),
        "timeout": a.timeout,
        "no_configure": a.no_configure,
        "subscribe": hex4(a.subscribe),
        "publish": hex4(a.publish),
    });
    // Provisioning takes up to --scan and --timeout, then the configuration as long again.
    let r = Client::connect(path)?.call("provision", params)?;
    let done = r["provisioned"].as_array().cloned().unwrap_or_default();
    let mut failed = Vec::new();
    for f in r["failed"].as_array().into_iter().flatten() {
        let mut uuid = [0u8; 16];
        let _ = hex::decode_to_slice(f["uuid"].as_str().unwrap_or_default(), &mut uuid);
        failed.push((uuid, f["error"].as_str().unwrap_or_default().to_string()));
    }
    Ok((done, failed))
}
