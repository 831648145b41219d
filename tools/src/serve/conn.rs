//! One client of `weft serve`: its requests read a line at a time, answered here when they need
//! no radio (`status`, `radios`, `network`, `subscribe`, `unsubscribe`, `capture.start`,
//! `capture.stop`) and queued for the owner otherwise (`send`, `config`, `provision`); replies
//! and, once subscribed, events written back a line each. A malformed or unknown request gets
//! an error reply and the client goes on.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{broadcast, mpsc, watch};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::Wire;
use weft_mesh::ble::Address;

use super::owner::{Call, Job};
use super::protocol::{self, code, Request, MAX_LINE};
use super::Ctx;
use crate::ops::{config_message, send_message, ConfigWhat, SendWhat};
use crate::provisioning::{OobArg, ProvisionArgs};

/// Accepts clients until `stop`: each a task of its own, refused unless it runs as the
/// socket's owner (SO_PEERCRED). The socket file is removed when this returns.
pub(super) async fn accept(
    listener: UnixListener,
    file: weft_radio::hub::SocketFile,
    ctx: Ctx,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    if let Err(why) = weft_radio::hub::peer_allowed(&stream, file.uid) {
                        tracing::warn!(target: "weft::serve", "{why}");
                        eprintln!("weft serve: {why}");
                        continue;
                    }
                    let (r, w) = stream.into_split();
                    let (ctx, stop) = (ctx.clone(), stop.clone());
                    tokio::spawn(serve_client(r, w, ctx, stop));
                }
                Err(e) => tracing::warn!(target: "weft::serve", "accept failed: {e}"),
            },
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Serves one client until its input ends (its replies still pending are written first) or
/// `stop`.
pub(super) async fn serve_client<R, W>(r: R, mut w: W, ctx: Ctx, mut stop: watch::Receiver<bool>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if let Ok(mut s) = ctx.shared.lock() {
        s.clients += 1;
    }
    let mut client = Client {
        ctx: ctx.clone(),
        subscription: None,
        pending: 0,
    };
    let (out, mut outbox) = mpsc::unbounded_channel::<String>();
    let mut reader = BufReader::new(r);
    let mut line = Vec::new();
    let mut reading = true;
    loop {
        if !reading && client.pending == 0 {
            break;
        }
        tokio::select! {
            n = read_line(&mut reader, &mut line), if reading => {
                match n {
                    Ok(0) | Err(_) => reading = false,
                    Ok(_) if line.len() > MAX_LINE => {
                        let e = protocol::error(&Value::Null, code::INVALID_REQUEST, &format!("a request line is at most {MAX_LINE} octets; closing"));
                        let _ = write_line(&mut w, &e).await;
                        reading = false;
                    }
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        line.clear();
                        if !text.trim().is_empty() {
                            if let Some(reply) = client.handle(text.trim(), &out).await {
                                if write_line(&mut w, &reply).await.is_err() {
                                    reading = false;
                                }
                            }
                        }
                    }
                }
            }
            Some(reply) = outbox.recv() => {
                client.pending = client.pending.saturating_sub(1);
                if write_line(&mut w, &reply).await.is_err() {
                    reading = false;
                }
            }
            ev = recv_event(&mut client.subscription) => {
                let line = match ev {
                    Ok(line) => line.to_string(),
                    Err(missed) => json!({"event": "lagged", "missed": missed}).to_string(),
                };
                if write_line(&mut w, &line).await.is_err() {
                    reading = false;
                    client.subscription = None;
                }
            }
            _ = stop.changed() => break,
        }
    }
    if let Ok(mut s) = ctx.shared.lock() {
        s.clients -= 1;
        if client.subscription.is_some() {
            s.subscribers -= 1;
        }
    }
}

/// Reads up to the end of a line into `line` (cancel-safe: what was read stays in `line`),
/// reading no further than one octet past [`MAX_LINE`].
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let room = (MAX_LINE + 1).saturating_sub(line.len()) as u64;
    r.take(room).read_until(b'\n', line).await
}

async fn write_line<W: AsyncWrite + Unpin>(w: &mut W, line: &str) -> std::io::Result<()> {
    w.write_all(line.as_bytes()).await?;
    w.write_all(b"\n").await?;
    w.flush().await
}

/// The next event of a subscription (never, without one); `Err(n)` when `n` were missed.
async fn recv_event(sub: &mut Option<broadcast::Receiver<Arc<str>>>) -> Result<Arc<str>, u64> {
    let Some(rx) = sub.as_mut() else {
        return std::future::pending().await;
    };
    match rx.recv().await {
        Ok(line) => Ok(line),
        Err(broadcast::error::RecvError::Lagged(n)) => Err(n),
        Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
}

struct Client {
    ctx: Ctx,
    subscription: Option<broadcast::Receiver<Arc<str>>>,
    /// Requests queued for the owner and not yet answered.
    pending: usize,
}

impl Client {
    /// Answers `line` at once, or queues it for the owner (its reply comes through `out`).
    async fn handle(&mut self, line: &str, out: &mpsc::UnboundedSender<String>) -> Option<String> {
        let req = match Request::parse(line) {
            Ok(r) => r,
            Err(bad) => return Some(protocol::error(&bad.id, bad.code, &bad.message)),
        };
        let id = req.id.clone();
        let call = match self.local(&req) {
            Local::Reply(Ok(v)) => return Some(protocol::result(&id, v)),
            Local::Reply(Err(Bad(code, message))) => {
                return Some(protocol::error(&id, code, &message))
            }
            Local::Queue(call) => call,
        };
        let job = Job {
            id: id.clone(),
            method: req.method.clone(),
            call,
            reply: out.clone(),
        };
        match self.ctx.jobs.send(job).await {
            Ok(()) => {
                self.pending += 1;
                None
            }
            Err(_) => Some(protocol::error(
                &id,
                code::UNAVAILABLE,
                "the server is stopping",
            )),
        }
    }

    fn local(&mut self, req: &Request) -> Local {
        let p = &req.params;
        match req.method.as_str() {
            "status" => Local::Reply(Ok(self.status())),
            "radios" => Local::Reply(Ok(Value::Array(crate::radios::list(
                &crate::radios::Roots::from_env(),
            )))),
            "network" => Local::Reply(Ok(self
                .ctx
                .shared
                .lock()
                .map(|s| s.network.clone())
                .unwrap_or(Value::Null))),
            "subscribe" => {
                if self.subscription.is_none() {
                    self.subscription = Some(self.ctx.events.subscribe());
                    if let Ok(mut s) = self.ctx.shared.lock() {
                        s.subscribers += 1;
                    }
                }
                Local::Reply(Ok(json!({"subscribed": true})))
            }
            "unsubscribe" => {
                if self.subscription.take().is_some() {
                    if let Ok(mut s) = self.ctx.shared.lock() {
                        s.subscribers -= 1;
                    }
                }
                Local::Reply(Ok(json!({"subscribed": false})))
            }
            "capture.start" => Local::Reply(self.capture_start(p)),
            "capture.stop" => Local::Reply(match self.ctx.capture.stop() {
                Ok(Some((path, packets))) => Ok(json!({"path": path, "packets": packets})),
                Ok(None) => Err(Bad::params("no capture is running")),
                Err(e) => Err(Bad(code::UNAVAILABLE, e)),
            }),
            "send" | "config" => match exchange(&req.method, p) {
                Ok(call) => Local::Queue(call),
                Err(e) => Local::Reply(Err(e)),
            },
            "provision" => match provision(p) {
                Ok(a) => Local::Queue(Call::Provision(Box::new(a))),
                Err(e) => Local::Reply(Err(e)),
            },
            m => Local::Reply(Err(Bad(
                code::METHOD_NOT_FOUND,
                format!("no method {m:?}: status, radios, network, send, config, provision, subscribe, unsubscribe, capture.start, capture.stop"),
            ))),
        }
    }

    fn status(&self) -> Value {
        let Ok(s) = self.ctx.shared.lock() else {
            return Value::Null;
        };
        let net = &s.network;
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "radio": s.radio,
            "store": s.store,
            "network": net["meshName"],
            "nodes": net["nodes"].as_array().map_or(0, Vec::len),
            "node": format!("{:04x}", s.node),
            "busy": s.busy,
            "clients": s.clients,
            "subscribers": s.subscribers,
            "answered": s.answered,
            "capture": self.ctx.capture.path(),
            "uptime_s": s.started.elapsed().as_secs_f64(),
        })
    }

    fn capture_start(&self, p: &Map<String, Value>) -> Result<Value, Bad> {
        let Some(path) = p.get("path").and_then(Value::as_str) else {
            return Err(Bad::params(
                "capture.start needs \"path\": the pcapng file to write",
            ));
        };
        let path = PathBuf::from(path);
        // What the radio carries decides the link types; the Bluetooth Mesh air is the
        // advertising bearer.
        self.ctx
            .capture
            .start(&path, weft_radio::Caps::ADVERTISING)
            .map_err(|e| Bad(code::UNAVAILABLE, e))?;
        Ok(json!({"path": path}))
    }
}

enum Local {
    Reply(Result<Value, Bad>),
    Queue(Call),
}

/// An error reply: its code and message.
#[derive(Debug)]
struct Bad(i64, String);

impl Bad {
    fn params(m: impl Into<String>) -> Bad {
        Bad(code::INVALID_PARAMS, m.into())
    }
}

/// `send` and `config` parameters: `dst`, optional `timeout` (seconds, default 5), and either
/// `args` (the words `weft send`/`weft config` take after their options, e.g. `["onoff",
/// "on"]`) or `message` (an access message in hex) with `expect` (the opcode of the answer,
/// in hex).
fn exchange(method: &str, p: &Map<String, Value>) -> Result<Call, Bad> {
    let device_key = method == "config";
    let dst = match p.get("dst").and_then(Value::as_str) {
        Some(d) => crate::args::destination(d).map_err(Bad::params)?,
        None => {
            return Err(Bad::params(format!(
                "{method} needs \"dst\": an address in hex"
            )))
        }
    };
    let timeout = match p.get("timeout") {
        None => 5.0,
        Some(t) => t
            .as_f64()
            .filter(|t| *t > 0.0 && *t <= 86_400.0)
            .ok_or_else(|| Bad::params("\"timeout\" is seconds, above 0 and at most 86400"))?,
    };
    let (message, expect) = match (p.get("args"), p.get("message")) {
        (Some(args), None) => words(method, dst, args)?,
        (None, Some(m)) => {
            let m = m
                .as_str()
                .ok_or_else(|| Bad::params("\"message\" is hex"))
                .and_then(|m| crate::args::hex_bytes(m).map_err(Bad::params))?;
            let message = AccessMessage::parse(&m)
                .map_err(|e| Bad::params(format!("\"message\" is not an access message: {e}")))?;
            let expect = p
                .get("expect")
                .and_then(Value::as_str)
                .ok_or_else(|| Bad::params("\"message\" needs \"expect\": the opcode of the answer in hex"))
                .and_then(|e| crate::args::hex_bytes(e).map_err(Bad::params))
                .and_then(|e| {
                    Opcode::parse(&e)
                        .ok()
                        .filter(|(_, n)| *n == e.len())
                        .map(|(o, _)| o)
                        .ok_or_else(|| Bad::params("\"expect\" is not an opcode"))
                })?;
            (message, expect)
        }
        _ => {
            return Err(Bad::params(format!(
                "{method} needs either \"args\" (e.g. [\"onoff\",\"on\"]) or \"message\" and \"expect\" (hex)"
            )))
        }
    };
    Ok(Call::Exchange {
        dst,
        device_key,
        message,
        expect,
        timeout,
    })
}

/// The words after `weft send`'s or `weft config`'s options, read by the same parser.
fn words(method: &str, dst: Address, args: &Value) -> Result<(AccessMessage, Opcode), Bad> {
    let words = strings(args)?;
    #[derive(Parser)]
    #[command(name = "send", no_binary_name = true)]
    struct Send {
        #[command(subcommand)]
        what: SendWhat,
    }
    #[derive(Parser)]
    #[command(name = "config", no_binary_name = true)]
    struct Config {
        #[command(subcommand)]
        what: ConfigWhat,
    }
    let clap_error = |e: clap::Error| Bad::params(first_line(&e.render().to_string()));
    if method == "send" {
        let s = Send::try_parse_from(&words).map_err(clap_error)?;
        Ok(send_message(&s.what))
    } else {
        let c = Config::try_parse_from(&words).map_err(clap_error)?;
        config_message(dst, &c.what).map_err(|f| Bad(protocol::failure_code(&f), f.1))
    }
}

/// The first line of a clap error, without its `error: ` prefix.
fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or_default();
    l.strip_prefix("error: ").unwrap_or(l).to_string()
}

fn strings(v: &Value) -> Result<Vec<String>, Bad> {
    v.as_array()
        .and_then(|a| a.iter().map(|w| w.as_str().map(String::from)).collect())
        .ok_or_else(|| Bad::params("\"args\" is an array of strings"))
}

/// `provision` parameters: `args` (the options of `weft provision`, e.g. `["--uuid", "...",
/// "--no-configure"]`), and/or each option by name (`{"uuid": "...", "no_configure": true}`),
/// read by the same parser; `--radio` and the store are the server's.
fn provision(p: &Map<String, Value>) -> Result<ProvisionArgs, Bad> {
    #[derive(Parser)]
    #[command(name = "provision", no_binary_name = true)]
    struct Provision {
        #[command(flatten)]
        a: ProvisionArgs,
    }
    let mut words = Vec::new();
    for (k, v) in p {
        if k == "args" {
            continue;
        }
        let flag = format!("--{}", k.replace('_', "-"));
        match v {
            Value::Bool(true) => words.push(flag),
            Value::Bool(false) | Value::Null => {}
            Value::String(s) => words.extend([flag, s.clone()]),
            Value::Number(n) => words.extend([flag, n.to_string()]),
            _ => {
                return Err(Bad::params(format!(
                    "\"{k}\" is a string, a number or a boolean"
                )))
            }
        }
    }
    if let Some(args) = p.get("args") {
        words.extend(strings(args)?);
    }
    let a = Provision::try_parse_from(&words)
        .map_err(|e| Bad::params(first_line(&e.render().to_string())))?
        .a;
    if a.radio.is_some() || a.serve.is_some() || a.store.net.is_some() {
        return Err(Bad::params(
            "the radio and the store are the server's: leave out radio, serve and net",
        ));
    }
    if matches!(a.oob, OobArg::Input(..) | OobArg::Output(..)) {
        return Err(Bad::params(
            "through weft serve, oob is none or static:HEX (input and output OOB ask on a terminal)",
        ));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn send_and_config_parameters_read_as_the_commands_do() {
        let c = exchange(
            "send",
            &map(json!({"dst": "0002", "args": ["onoff", "on"]})),
        )
        .unwrap();
        let Call::Exchange {
            dst,
            device_key,
            expect,
            timeout,
            ..
        } = c
        else {
            panic!()
        };
        assert_eq!(
            (dst, device_key, expect, timeout),
            (Address(2), false, Opcode::Two(0x8204), 5.0)
        );
        let c = exchange(
            "config",
            &map(json!({"dst": "0002", "args": ["relay", "get"], "timeout": 2})),
        )
        .unwrap();
        assert!(matches!(
            c,
            Call::Exchange {
                device_key: true,
                timeout: 2.0,
                ..
            }
        ));
        let e = exchange(
            "send",
            &map(json!({"dst": "0002", "args": ["onoff", "maybe"]})),
        )
        .err()
        .unwrap();
        assert_eq!(e.0, code::INVALID_PARAMS);
        assert!(e.1.contains("maybe"), "{}", e.1);
        let e = exchange(
            "config",
            &map(json!({"dst": "c000", "args": ["relay", "get"]})),
        )
        .err()
        .unwrap();
        assert!(e.1.contains("unicast"), "{}", e.1);
        let raw = exchange(
            "send",
            &map(json!({"dst": "0002", "message": "8201", "expect": "8204"})),
        )
        .unwrap();
        assert!(matches!(
            raw,
            Call::Exchange {
                expect: Opcode::Two(0x8204),
                ..
            }
        ));
        assert!(exchange("send", &map(json!({"dst": "0002"}))).is_err());
        assert!(exchange("send", &map(json!({"args": ["onoff", "on"]}))).is_err());
        assert!(exchange("send", &map(json!({"dst": "0002", "args": "onoff"}))).is_err());
        assert!(exchange(
            "send",
            &map(json!({"dst": "0002", "args": ["onoff", "on"], "timeout": -1}))
        )
        .is_err());
    }

    #[test]
    fn provision_parameters_read_as_the_command_does() {
        let a = provision(&map(
            json!({"uuid": "0102030405060708090a0b0c0d0e0f10", "no_configure": true, "timeout": 3}),
        ))
        .unwrap();
        assert_eq!(a.uuid.unwrap()[0], 1);
        assert!(a.no_configure);
        assert_eq!(a.timeout, 3.0);
        let a = provision(&map(json!({"args": ["--all", "--scan", "2"]}))).unwrap();
        assert!(a.all);
        assert!(provision(&map(json!({}))).is_err());
        assert!(provision(&map(json!({"all": true, "radio": "sim:x"}))).is_err());
        assert!(provision(&map(json!({"all": true, "oob": "input:push:2"}))).is_err());
        assert!(provision(&map(json!({"all": true, "parallel": [1]}))).is_err());
    }
}
