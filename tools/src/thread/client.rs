//! The commands that act through a running `weft thread node`, and the control protocol: one
//! JSON [`Request`] a line from the command, one JSON [`Reply`] a line from the node, then the
//! connection closes.

use std::io::Write;
use std::net::Ipv6Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::{CoapArgs, CoapMethod, PingArgs, UdpSendArgs};
use crate::error::{block_on, fail, Failure, Result};
use crate::Exit;

/// The longest line either side reads (a request or a reply, payloads in hex).
pub const MAX_LINE: u64 = 16 * 1024;

/// What a command asks of the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// One ICMPv6 echo request, answered with [`Reply::Echo`].
    Ping {
        addr: Ipv6Addr,
        size: u16,
        timeout_ms: u64,
    },
    /// One UDP datagram, answered once handed to the node's link.
    Udp {
        addr: Ipv6Addr,
        port: u16,
        data_hex: String,
    },
    /// A CoAP request to `[addr]:5683`, answered with the response.
    Coap {
        method: String,
        addr: Ipv6Addr,
        path: String,
        payload_hex: String,
        confirmable: bool,
        timeout_ms: u64,
    },
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Echo {
        from: Ipv6Addr,
        rtt_ms: f64,
        hop_limit: u8,
        sequence: u16,
    },
    Sent {
        bytes: usize,
        from: Ipv6Addr,
    },
    Coap {
        code: String,
        payload_hex: String,
    },
    /// The request failed; `exit` is the command's exit code.
    Error {
        exit: u8,
        message: String,
    },
}

fn exit_of(code: u8) -> Exit {
    match code {
        1 => Exit::Refused,
        2 => Exit::Usage,
        4 => Exit::Timeout,
        _ => Exit::Unavailable,
    }
}

/// Sends `req` to the node at `socket` and reads its reply.
async fn ask(socket: &Path, req: &Request) -> Result<Reply> {
    let mut s = UnixStream::connect(socket).await.map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            format!(
                "no Thread node answers on {} ({e}): start `weft thread node --radio R --dataset HEX` first (or give its --control)",
                socket.display()
            ),
        )
    })?;
    let mut line = serde_json::to_string(req).expect("a request serialises");
    line.push('\n');
    let io = |e: std::io::Error| {
        Failure::new(Exit::Unavailable, format!("the node's control socket: {e}"))
    };
    s.write_all(line.as_bytes()).await.map_err(io)?;
    let mut r = BufReader::new(s).take(MAX_LINE);
    let mut answer = String::new();
    r.read_line(&mut answer).await.map_err(io)?;
    if answer.is_empty() {
        return fail(Exit::Unavailable, "the node stopped before it answered");
    }
    serde_json::from_str(answer.trim()).map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            format!("the node answered something that is not a reply ({e}): {answer:?}"),
        )
    })
}

fn ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round() as u64
}

pub fn ping(a: &PingArgs, out: &mut impl Write) -> Result<Exit> {
    let socket = a.control.path();
    block_on(async {
        let mut lost = 0u32;
        for i in 0..a.count {
            if i > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let req = Request::Ping {
                addr: a.addr,
                size: a.size,
                timeout_ms: ms(a.timeout),
            };
            match ask(&socket, &req).await? {
                Reply::Echo {
                    from,
                    rtt_ms,
                    hop_limit,
                    sequence,
                } => {
                    let _ = if a.json {
                        writeln!(
                            out,
                            "{}",
                            json!({"from": from.to_string(), "rtt_ms": rtt_ms, "hop_limit": hop_limit, "sequence": sequence})
                        )
                    } else {
                        writeln!(out, "{} octets from {from}: icmp_seq={sequence} hlim={hop_limit} time={rtt_ms:.1}ms", a.size)
                    };
                }
                Reply::Error { exit: 4, message } => {
                    lost += 1;
                    eprintln!("weft thread ping: {message}");
                }
                Reply::Error { exit, message } => return fail(exit_of(exit), message),
                other => return fail(Exit::Unavailable, format!("unexpected reply {other:?}")),
            }
        }
        if lost == u32::from(a.count) {
            return fail(Exit::Timeout, format!("no reply from {}", a.addr));
        }
        Ok(Exit::Ok)
    })
}

pub fn udp_send(a: &UdpSendArgs, out: &mut impl Write) -> Result<Exit> {
    let data = if a.hex {
        crate::args::hex_bytes(&a.data).map_err(|e| Failure::new(Exit::Usage, e))?
    } else {
        a.data.as_bytes().to_vec()
    };
    let req = Request::Udp {
        addr: a.addr,
        port: a.port,
        data_hex: hex::encode(&data),
    };
    match block_on(ask(&a.control.path(), &req))? {
        Reply::Sent { bytes, from } => {
            let _ = if a.json {
                writeln!(
                    out,
                    "{}",
                    json!({"sent": true, "bytes": bytes, "from": from.to_string()})
                )
            } else {
                writeln!(
                    out,
                    "sent {bytes} octets from {from} to [{}]:{}",
                    a.addr, a.port
                )
            };
            Ok(Exit::Ok)
        }
        Reply::Error { exit, message } => fail(exit_of(exit), message),
        other => fail(Exit::Unavailable, format!("unexpected reply {other:?}")),
    }
}

pub fn coap(a: &CoapArgs, out: &mut impl Write) -> Result<Exit> {
    let method = match a.method {
        CoapMethod::Get => "get",
        CoapMethod::Put => "put",
        CoapMethod::Post => "post",
    };
    if a.method == CoapMethod::Get && a.payload.is_some() {
        return fail(Exit::Usage, "a get carries no payload");
    }
    let req = Request::Coap {
        method: method.into(),
        addr: a.uri.addr,
        path: a.uri.path.clone(),
        payload_hex: hex::encode(a.payload.as_deref().unwrap_or("")),
        confirmable: !a.non,
        timeout_ms: ms(a.timeout),
    };
    match block_on(ask(&a.control.path(), &req))? {
        Reply::Coap { code, payload_hex } => {
            let payload = hex::decode(&payload_hex).unwrap_or_default();
            let text = String::from_utf8_lossy(&payload);
            let _ = if a.json {
                writeln!(
                    out,
                    "{}",
                    json!({"code": code, "payload": text, "payload_hex": payload_hex})
                )
            } else if payload.is_empty() {
                writeln!(out, "{code}")
            } else {
                writeln!(out, "{code} {text}")
            };
            // §5.9: 4.xx and 5.xx say the request was refused.
            Ok(if code.starts_with('2') {
                Exit::Ok
            } else {
                Exit::Refused
            })
        }
        Reply::Error { exit, message } => fail(exit_of(exit), message),
        other => fail(Exit::Unavailable, format!("unexpected reply {other:?}")),
    }
}
