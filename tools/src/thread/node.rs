//! `weft thread node`: the Thread node on its radio, its events printed, and the requests of
//! `weft thread ping|udp|coap` served from the control socket.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddrV6;
use std::path::{Path, PathBuf};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use weft_mesh::thread::coap::{CoapEvent, Code, Message, MessageType, Token};
use weft_mesh::thread::stack::{Config, Event, Node, Role, ThreadState};
use weft_mesh::{Duration, Instant};

use super::client::{Reply, Request, MAX_LINE};
use super::{NodeArgs, RoleArg};
use crate::error::{block_on, fail, Failure, Result};
use crate::runtime::{drive_with, stop_signals, Clock, Flow, Hooks};
use crate::Exit;

type ThreadNode = Node<ChaCha8Rng>;

/// A request from the control socket and where its reply goes.
type Ctl = (Request, oneshot::Sender<Reply>);

/// How often the driver looks at the control socket's requests and at answers overdue.
const TICK: Duration = Duration::from_millis(20);

pub fn run(a: &NodeArgs, out: &mut impl Write) -> Result<Exit> {
    block_on(main(a, out))
}

/// The state file's contents, if it belongs to this dataset.
pub(crate) fn load_state(path: &Path, dataset_hex: &str) -> Result<Option<ThreadState>> {
    let bytes = match crate::files::read(path, crate::files::THREAD_STATE) {
        Ok(b) => b,
        Err(e) if matches!(e.problem, crate::files::Problem::Missing) => return Ok(None),
        Err(e) => return fail(e.exit(), e.to_string()),
    };
    let s: ThreadState = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!("{} is not a Thread node's state file: {e}", path.display()),
        )
    })?;
    if !s.dataset_hex.eq_ignore_ascii_case(dataset_hex) {
        return fail(
            Exit::Usage,
            format!(
                "{} belongs to another dataset: give another --state, or remove it to start afresh",
                path.display()
            ),
        );
    }
    Ok(Some(s))
}

pub(crate) fn save_state(path: &Path, s: &ThreadState) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(s).expect("the state serialises");
    crate::store::write_atomic(path, &bytes)
        .map_err(|e| Failure::new(Exit::Unavailable, format!("{}: {e}", path.display())))
}

async fn main(a: &NodeArgs, out: &mut impl Write) -> Result<Exit> {
    let creds = a.dataset.clone();
    let mut rng = ChaCha8Rng::from_entropy();
    let state = match &a.state {
        Some(p) => load_state(p, &creds.to_hex())?,
        None => None,
    }
    .unwrap_or_else(|| ThreadState::new(&creds, &mut rng));
    if let Some(p) = &a.state {
        save_state(p, &state)?;
    }
    let socket = a.control.path();
    let (listener, file) = weft_radio::hub::listen_as(&socket, "weft thread node")
        .await
        .map_err(|e| {
            let exit = match e {
                weft_radio::hub::HubError::Usage(_) => Exit::Usage,
                _ => Exit::Unavailable,
            };
            Failure::new(exit, format!("the control socket: {e}"))
        })?;
    let mut radio = crate::ops::connect(&a.radio).await?;
    if !radio.caps().ieee802154 {
        return fail(
            Exit::Usage,
            format!(
                "{} carries no IEEE 802.15.4 frames: give an otsim: or spinel: radio",
                a.radio
            ),
        );
    }
    let cfg = Config {
        router_eligible: a.role == RoleArg::Router,
        rx_on_when_idle: a.role != RoleArg::Sleepy,
        poll_period: Duration::from_micros((a.poll_period * 1e6) as u64),
        ..Config::default()
    };
    let clock = Clock::default();
    let mut node = Node::new(creds, state, cfg, rng, clock.now());
    node.enable_coap();
    node.bind_udp(a.udp_port)
        .map_err(|e| Failure::new(Exit::Usage, format!("UDP port {}: {e:?}", a.udp_port)))?;
    let ext = hex::encode(node.ext_address().0);
    let ml_eid = node.addresses().ml_eid();
    let _ = if a.json {
        writeln!(
            out,
            "{}",
            json!({"event": "started", "ext_address": ext, "ml_eid": ml_eid.to_string(), "link_local": node.addresses().link_local().to_string(), "control": socket.display().to_string(), "radio": a.radio})
        )
    } else {
        writeln!(
            out,
            "thread node {ext}: ml-eid {ml_eid}, attaching on {}; control {}",
            a.radio,
            socket.display()
        )
    };
    let _ = out.flush();
    let (tx, rx) = mpsc::channel::<Ctl>(16);
    let mut save_error = None;
    let server = tokio::spawn(serve(listener, file.uid, tx));
    let deadline = a
        .seconds
        .map(|s| clock.now() + Duration::from_micros((s * 1e6) as u64));
    let hooks = NodeHooks {
        out: &mut *out,
        json: a.json,
        state: a.state.clone(),
        udp_port: a.udp_port,
        rx,
        pings: Vec::new(),
        coaps: Vec::new(),
        resources: BTreeMap::new(),
        ping_id: (ChaCha8Rng::from_entropy().next_u32() & 0xffff) as u16,
        ping_seq: 0,
        save_error: &mut save_error,
    };
    let stop = stop_signals()
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot catch signals: {e}")))?;
    let ended = tokio::select! {
        r = drive_with(&mut node, &mut radio, &clock, deadline, hooks) => r.map(|_| None),
        s = stop => Ok(Some(s)),
    };
    server.abort();
    if let Some(e) = save_error {
        return fail(
            Exit::Unavailable,
            format!("stopped: cannot save the state: {e}"),
        );
    }
    // A clean stop: the counters reserved and not used are given back.
    node.release_reservation();
    if let Some(p) = &a.state {
        save_state(p, node.state())?;
    }
    match ended {
        Ok(signal) => {
            let why = signal.unwrap_or_else(|| "--seconds".into());
            tracing::info!(target: "weft::thread", "counters: {:?}", node.counters());
            let _ = if a.json {
                writeln!(
                    out,
                    "{}",
                    json!({"event": "stopped", "why": why, "role": node.role().as_str()})
                )
            } else {
                writeln!(out, "stopped ({why}), {}", node.role().as_str())
            };
            Ok(Exit::Ok)
        }
        Err(e) => Err(e.into()),
    }
}

/// Accepts the control socket's connections (the user's own processes only).
async fn serve(listener: UnixListener, owner: u32, tx: mpsc::Sender<Ctl>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        if let Err(why) = weft_radio::hub::peer_allowed(&stream, owner) {
            tracing::warn!(target: "weft::thread", "control socket: {why}");
            continue;
        }
        tokio::spawn(one_request(stream, tx.clone()));
    }
}

async fn one_request(stream: UnixStream, tx: mpsc::Sender<Ctl>) {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let reply = match BufReader::new(r).take(MAX_LINE).read_line(&mut line).await {
        Err(e) => Reply::Error {
            exit: 2,
            message: format!("reading the request: {e}"),
        },
        Ok(_) => match serde_json::from_str::<Request>(line.trim()) {
            Err(e) => Reply::Error {
                exit: 2,
                message: format!("not a request: {e}"),
            },
            Ok(req) => {
                let (reply, answer) = oneshot::channel();
                if tx.send((req, reply)).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(r) => r,
                    Err(_) => Reply::Error {
                        exit: 3,
                        message: "the node stopped".into(),
                    },
                }
            }
        },
    };
    let mut s = serde_json::to_string(&reply).expect("a reply serialises");
    s.push('\n');
    let _ = w.write_all(s.as_bytes()).await;
}

struct PendingPing {
    sequence: u16,
    sent: Instant,
    deadline: Instant,
    reply: oneshot::Sender<Reply>,
}

struct PendingCoap {
    token: Token,
    deadline: Instant,
    reply: oneshot::Sender<Reply>,
}

struct NodeHooks<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    state: Option<PathBuf>,
    udp_port: u16,
    rx: mpsc::Receiver<Ctl>,
    pings: Vec<PendingPing>,
    coaps: Vec<PendingCoap>,
    /// What `put` and `post` stored, by Uri-Path, for `get`.
    resources: BTreeMap<String, Vec<u8>>,
    ping_id: u16,
    ping_seq: u16,
    save_error: &'a mut Option<String>,
}

/// Datagrams the node dropped for want of a route so far (none, or an ML-EID whose Address
/// Query went unanswered lately and is not asked again yet).
fn no_route(node: &ThreadNode) -> u64 {
    node.counters()
        .iter()
        .filter(|(k, _)| {
            k.starts_with("tx: no route") || k.starts_with("tx: address query backing off")
        })
        .map(|(_, v)| v)
        .sum()
}

fn no_route_error(addr: &std::net::Ipv6Addr) -> Reply {
    error(
        3,
        format!(
            "no route to {addr}: the node reaches link-local and mesh-local addresses (RLOCs, and ML-EIDs found by Address Query; one that went unanswered is asked again after a backoff of 15 s doubling to 120 s)"
        ),
    )
}

fn error(exit: u8, message: impl Into<String>) -> Reply {
    Reply::Error {
        exit,
        message: message.into(),
    }
}

impl<W: Write> NodeHooks<'_, W> {
    fn line(&mut self, json: serde_json::Value, text: String) {
        let _ = if self.json {
            writeln!(self.out, "{json}")
        } else {
            writeln!(self.out, "{text}")
        };
        let _ = self.out.flush();
    }

    fn request(
        &mut self,
        node: &mut ThreadNode,
        now: Instant,
        req: Request,
        reply: oneshot::Sender<Reply>,
    ) {
        if node.role() == Role::Detached {
            let _ = reply.send(error(
                3,
                "the node is not attached yet (detached): wait for its role",
            ));
            return;
        }
        match req {
            Request::Ping {
                addr,
                size,
                timeout_ms,
            } => {
                self.ping_seq = self.ping_seq.wrapping_add(1);
                let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
                let dropped = no_route(node);
                node.ping(now, addr, self.ping_id, self.ping_seq, &data);
                if no_route(node) > dropped {
                    let _ = reply.send(no_route_error(&addr));
                    return;
                }
                self.pings.push(PendingPing {
                    sequence: self.ping_seq,
                    sent: now,
                    deadline: now + Duration::from_millis(timeout_ms),
                    reply,
                });
            }
            Request::Udp {
                addr,
                port,
                data_hex,
            } => {
                let Ok(data) = hex::decode(&data_hex) else {
                    let _ = reply.send(error(2, "data_hex is not hex"));
                    return;
                };
                let from = node.addresses().source_for(&addr);
                let dropped = no_route(node);
                node.send_udp(
                    now,
                    self.udp_port,
                    SocketAddrV6::new(addr, port, 0, 0),
                    &data,
                );
                if no_route(node) > dropped {
                    let _ = reply.send(no_route_error(&addr));
                    return;
                }
                let _ = reply.send(Reply::Sent {
                    bytes: data.len(),
                    from,
                });
            }
            Request::Coap {
                method,
                addr,
                path,
                payload_hex,
                confirmable,
                timeout_ms,
            } => {
                let code = match method.as_str() {
                    "get" => Code::GET,
                    "put" => Code::PUT,
                    "post" => Code::POST,
                    m => {
                        let _ = reply.send(error(2, format!("method {m}: give get, put or post")));
                        return;
                    }
                };
                let Ok(payload) = hex::decode(&payload_hex) else {
                    let _ = reply.send(error(2, "payload_hex is not hex"));
                    return;
                };
                let mtype = if confirmable {
                    MessageType::Confirmable
                } else {
                    MessageType::NonConfirmable
                };
                let mut msg = Message::request(mtype, code, &path);
                msg.payload = payload;
                let dropped = no_route(node);
                match node.coap_request(now, addr, msg) {
                    Ok(_) if no_route(node) > dropped => {
                        let _ = reply.send(no_route_error(&addr));
                    }
                    Ok(token) => self.coaps.push(PendingCoap {
                        token,
                        deadline: now + Duration::from_millis(timeout_ms),
                        reply,
                    }),
                    Err(e) => {
                        let _ = reply.send(error(3, e.to_string()));
                    }
                }
            }
        }
    }

    /// Answers the requests whose time is up.
    fn expire(&mut self, now: Instant) {
        for p in std::mem::take(&mut self.pings) {
            if now >= p.deadline {
                let _ = p
                    .reply
                    .send(error(4, format!("no echo reply (icmp_seq={})", p.sequence)));
            } else {
                self.pings.push(p);
            }
        }
        for c in std::mem::take(&mut self.coaps) {
            if now >= c.deadline {
                let _ = c.reply.send(error(4, "no CoAP response in time"));
            } else {
                self.coaps.push(c);
            }
        }
    }

    fn coap_outcome(&mut self, e: CoapEvent) {
        let (token, reply) = match e {
            CoapEvent::Response { token, msg, .. } => (
                token,
                Reply::Coap {
                    code: msg.code.to_string(),
                    payload_hex: hex::encode(&msg.payload),
                },
            ),
            CoapEvent::Timeout { token } => {
                (token, error(4, "no CoAP acknowledgement or response"))
            }
            CoapEvent::Reset { token } => (token, error(1, "the peer reset the request (RST)")),
        };
        if let Some(i) = self.coaps.iter().position(|c| c.token == token) {
            let _ = self.coaps.remove(i).reply.send(reply);
        }
    }

    /// A request from another node to this node's CoAP server: a store of payloads by path.
    fn serve_coap(
        &mut self,
        node: &mut ThreadNode,
        now: Instant,
        inc: weft_mesh::thread::coap::Incoming,
    ) {
        let path = inc.request.uri_path();
        let code = inc.request.code;
        let (answer, payload) = match code {
            Code::GET => match self.resources.get(&path) {
                Some(p) => (Code::CONTENT, p.clone()),
                None => (Code::NOT_FOUND, Vec::new()),
            },
            Code::PUT | Code::POST => {
                self.resources
                    .insert(path.clone(), inc.request.payload.clone());
                (Code::CHANGED, Vec::new())
            }
            _ => (Code::METHOD_NOT_ALLOWED, Vec::new()),
        };
        let text = String::from_utf8_lossy(&inc.request.payload).into_owned();
        self.line(
            json!({"event": "coap", "from": inc.peer.ip().to_string(), "code": code.to_string(), "path": path, "payload": text, "answer": answer.to_string()}),
            format!("coap {code} /{path} from {}: {text:?} -> {answer}", inc.peer.ip()),
        );
        let mut response = Message::new(MessageType::Acknowledgement, answer, 0);
        response.payload = payload;
        node.coap_respond(now, &inc, response);
    }
}

impl<W: Write> Hooks<ThreadNode> for NodeHooks<'_, W> {
    fn on_event(&mut self, node: &mut ThreadNode, now: Instant, event: Event) -> Flow {
        match event {
            Event::PersistState => {
                if let Some(p) = self.state.clone() {
                    if let Err(e) = save_state(&p, node.state()) {
                        // Frames must not go out with counters beyond what is persisted.
                        *self.save_error = Some(e.1.clone());
                        tracing::error!(target: "weft::thread", "cannot save the state: {}", e.1);
                        return Flow::Stop;
                    }
                }
            }
            Event::RoleChanged {
                role,
                rloc16,
                partition_id,
            } => {
                let rloc = node.addresses().rloc().map(|a| a.to_string());
                self.line(
                    json!({"event": "role", "role": role.as_str(), "rloc16": rloc16.map(|r| format!("{r:04x}")), "rloc": rloc, "ml_eid": node.addresses().ml_eid().to_string(), "partition_id": partition_id.map(|p| format!("{p:08x}")), "parent_rloc16": node.parent_rloc16().map(|r| format!("{r:04x}"))}),
                    format!(
                        "role {}{}{}",
                        role.as_str(),
                        rloc16.map(|r| format!(" rloc16 {r:04x}")).unwrap_or_default(),
                        partition_id.map(|p| format!(" partition {p:08x}")).unwrap_or_default()
                    ),
                );
            }
            Event::ChildAdded { ext, rloc16 } => self.line(
                json!({"event": "child_added", "ext_address": hex::encode(ext.0), "rloc16": format!("{rloc16:04x}")}),
                format!("child {} added, rloc16 {rloc16:04x}", hex::encode(ext.0)),
            ),
            Event::ChildRemoved { ext, rloc16 } => self.line(
                json!({"event": "child_removed", "ext_address": hex::encode(ext.0), "rloc16": format!("{rloc16:04x}")}),
                format!("child {} removed, rloc16 {rloc16:04x}", hex::encode(ext.0)),
            ),
            Event::UdpReceived { port } => {
                while let Some(d) = node.recv_udp(port) {
                    let text = String::from_utf8_lossy(&d.payload).into_owned();
                    self.line(
                        json!({"event": "udp", "from": d.src.ip().to_string(), "sport": d.src.port(), "port": port, "bytes": d.payload.len(), "data": text, "data_hex": hex::encode(&d.payload)}),
                        format!("udp from [{}]:{} to port {port}: {text:?}", d.src.ip(), d.src.port()),
                    );
                }
            }
            Event::CoapRequest(inc) => self.serve_coap(node, now, inc),
            Event::Coap(e) => self.coap_outcome(e),
            Event::EchoReply {
                from,
                identifier,
                sequence,
                hop_limit,
            } => {
                if identifier == self.ping_id {
                    if let Some(i) = self.pings.iter().position(|p| p.sequence == sequence) {
                        let p = self.pings.remove(i);
                        let rtt_ms = (now - p.sent).as_micros() as f64 / 1000.0;
                        let _ = p.reply.send(Reply::Echo {
                            from,
                            rtt_ms,
                            hop_limit,
                            sequence,
                        });
                    }
                }
            }
        }
        Flow::Continue
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn on_tick(&mut self, node: &mut ThreadNode, now: Instant) -> Flow {
        while let Ok((req, reply)) = self.rx.try_recv() {
            self.request(node, now, req, reply);
        }
        self.expire(now);
        Flow::Continue
    }
}
