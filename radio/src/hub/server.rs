//! The live simulated air's server (`weft sim serve`): the simulator runs in real time and each
//! process that connects to the Unix socket becomes a node of it, linked to every other node.
//!
//! Nothing in it grows with time or with one client's behaviour:
//! - a process that goes away is taken off the air ([`Simulator::detach_node`]) as soon as what
//!   it had already sent is on the air, and its node slot serves the next process, so the
//!   simulator holds as many nodes as processes are connected at once (plus a scenario's);
//! - what a process asks to send waits in a queue of its own ([`SEND_QUEUE`] frames, the rest
//!   dropped and counted), and the simulator gets at most [`REMOTE_OUTBOX`] of them at a time,
//!   so a process that floods the air fills only its own queue and every node keeps its turn;
//! - what the air delivers to a process waits in bounded queues too
//!   ([`super::REMOTE_INBOX`], [`DELIVER_QUEUE`]); a process that stops reading loses
//!   frames (counted), as a radio whose host stops reading would.
//!
//! The simulator is generic over the scenario's station type `S` (the hub decides nothing about
//! a protocol); its virtual time is the wall clock's ([`Pacer::real_time`]). Each node slot has a
//! stable advertiser address ([`crate::sim::adv_address`]); a slot that serves a new process
//! gets a new one, as a device's random static address may change when it powers up.
//!
//! The socket is the user's alone ([`super::socket`]): 0600 from the start, and the hub refuses
//! peers of another uid. It is removed when the hub stops (a stop signal, an error, or the
//! serving future dropped).

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::UnixStream;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, Notify};

use super::socket::{listen, peer_allowed};
use super::{read_msg, write_msg, Heard, HubMsg, HubNode, RemoteNode, REMOTE_OUTBOX};
use crate::sim::{adv_address, Link, NodeId, Placement, Simulator, MAX_ADV_DATA};
use crate::{Clock, Pacer, Station};

/// Frames one process may have waiting to go on the air (about 1.7 s of a node's airtime);
/// past that what it sends is dropped and counted.
pub const SEND_QUEUE: usize = 256;

/// Frames heard for one process that wait for its socket; past that they are dropped and
/// counted.
pub const DELIVER_QUEUE: usize = 1024;

/// RSSI and loss of the links between a connected process and every other node of the air.
const REMOTE_LINK: Link = Link {
    rssi_dbm: -55,
    loss: 0.0,
};

/// The hub's simulator: a scenario's stations (of type `S`) and the connected processes.
pub type Air<S> = Simulator<HubNode<S>>;

/// An empty air (no scenario) with the medium's events off, as the hub runs it.
pub fn empty_air<S: Station>(seed: u64) -> Air<S> {
    Simulator::new(
        crate::sim::SimConfig {
            medium_events: false,
            ..crate::sim::SimConfig::default()
        },
        seed,
    )
}

/// Why the hub could not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubError {
    /// The socket path holds something that is not a socket (a usage error: exit 2).
    Usage(String),
    /// Another hub serves the path, or the system refused (unavailable: exit 3).
    Unavailable(String),
}

impl std::fmt::Display for HubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HubError::Usage(m) | HubError::Unavailable(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HubError {}

/// Serves the live simulated air on `socket` until the future is dropped: `sim` (a scenario's
/// nodes, or empty) runs in real time, and each process that connects becomes a node linked to
/// every other one.
pub async fn serve_hub<S: Station>(
    socket: &Path,
    sim: Air<S>,
    on_note: impl FnMut(&str),
) -> Result<(), HubError> {
    serve_hub_until(socket, sim, on_note, std::future::pending::<String>()).await
}

/// How often the hub's nodes advertise what they accept connections for (a proxy's Network
/// ID or Node Identity, a device's Mesh Provisioning Service; `sim/connectable.rs`) when the
/// air given to it does not say: Zephyr advertises the Mesh Proxy Service every 100 ms at
/// first and every second later (unverified); half a second finds a proxy quickly without
/// crowding the air.
pub const HUB_CONNECTABLE_INTERVAL: crate::Duration = crate::Duration::from_millis(500);

/// How the hub attaches processes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubOptions {
    /// The nodes of the given air a process is linked to (the other processes always are):
    /// `None`, every one; a node a process does not hear, it reaches only through others (a
    /// proxy, relays).
    pub near: Option<Vec<NodeId>>,
}

/// [`serve_hub`] until `stop` yields (a reason for the note, e.g. a stop signal's name); the
/// socket is removed on the way out.
pub async fn serve_hub_until<S: Station>(
    socket: &Path,
    sim: Air<S>,
    on_note: impl FnMut(&str),
    stop: impl Future<Output = String>,
) -> Result<(), HubError> {
    serve_hub_with(socket, sim, HubOptions::default(), on_note, stop).await
}

/// [`serve_hub_until`] with [`HubOptions`].
pub async fn serve_hub_with<S: Station>(
    socket: &Path,
    mut sim: Air<S>,
    options: HubOptions,
    mut on_note: impl FnMut(&str),
    stop: impl Future<Output = String>,
) -> Result<(), HubError> {
    if sim.connectable_interval().is_none() {
        sim.set_connectable_interval(Some(HUB_CONNECTABLE_INTERVAL));
    }
    let (listener, file) = listen(socket).await?;
    on_note(&format!(
        "simulated air on {} ({} nodes)",
        socket.display(),
        sim.node_count()
    ));
    let wake = Arc::new(Notify::new());
    let mut hub = Hub::new(sim, wake.clone());
    hub.near = options.near;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            why = &mut stop => {
                on_note(&format!("stopped by {why}; removing {}", socket.display()));
                drop(file);
                return Ok(());
            }
            acc = listener.accept() => match acc {
                Ok((stream, _)) => match peer_allowed(&stream, file.uid) {
                    Ok(()) => {
                        let id = hub.attach(stream);
                        on_note(&format!("node {} connected", id.0));
                        // Let the new client's reader run before the next accept: under a
                        // storm of connect-and-close, departures are then seen (and their
                        // slots freed) as fast as arrivals, instead of piling up nodes.
                        tokio::task::yield_now().await;
                    }
                    Err(why) => on_note(&why),
                },
                Err(e) => {
                    // Out of file descriptors and the like: say so, and don't spin on it.
                    on_note(&format!("cannot accept a connection: {e}"));
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            _ = wake.notified() => {}
            _ = tick.tick() => {}
        }
        hub.pump(&mut on_note);
    }
}

/// What a client's reader task counts.
#[derive(Debug, Default)]
struct Counts {
    /// Frames it sent that its queue had no room for.
    sent_dropped: AtomicU64,
    /// Frames it sent with more advertising data than a legacy PDU carries.
    oversize: AtomicU64,
}

/// What a process asked of the air.
#[derive(Debug)]
enum FromClient {
    Frame(crate::TxFrame),
    Link(crate::LinkRequest),
    Connectable(Option<crate::Connectable>),
}

/// A connected process.
#[derive(Debug)]
struct Client {
    id: NodeId,
    /// What it asked to send and do, in order (at most [`SEND_QUEUE`]).
    frames: mpsc::Receiver<FromClient>,
    counts: Arc<Counts>,
    /// Frames for its socket (at most [`DELIVER_QUEUE`]); `None` once it has gone.
    out: Option<mpsc::Sender<HubMsg>>,
    /// Frames for it dropped because a queue was full.
    dropped_for: u64,
}

/// The air and the processes on it.
struct Hub<S: Station> {
    sim: Air<S>,
    /// The simulator's virtual time is the wall clock's.
    pace: Pacer,
    clients: Vec<Client>,
    /// Node slots of processes that went away, for the next ones.
    free: Vec<NodeId>,
    /// Per node id: off the air.
    detached: Vec<bool>,
    /// Per node id: how many processes the slot served before the current one.
    reuses: Vec<u32>,
    /// Woken by the client tasks when a frame comes or a client goes.
    wake: Arc<Notify>,
    /// The nodes of the air processes are linked to ([`HubOptions::near`]).
    near: Option<Vec<NodeId>>,
}

impl<S: Station> Hub<S> {
    fn new(sim: Air<S>, wake: Arc<Notify>) -> Self {
        let detached = vec![false; sim.node_count()];
        let reuses = vec![0; sim.node_count()];
        Hub {
            sim,
            pace: Pacer::real_time(Clock::default()),
            clients: Vec::new(),
            free: Vec::new(),
            detached,
            reuses,
            wake,
            near: None,
        }
    }

    /// The virtual time the air should stand at now.
    fn now(&self) -> crate::Instant {
        self.pace.target(self.sim.now()).unwrap_or(self.sim.now())
    }

    /// Puts a newly connected process on the air, in a free node slot if there is one.
    fn attach(&mut self, stream: UnixStream) -> NodeId {
        self.sim.run_until(self.now());
        let id = match self.free.pop() {
            Some(id) => {
                *self.sim.node_mut(id) = HubNode::Remote(RemoteNode::new());
                self.detached[id.index()] = false;
                // A new device in the slot: a new advertiser address.
                let reuses = &mut self.reuses[id.index()];
                *reuses = reuses.wrapping_add(1);
                let a = adv_address(self.sim.seed(), id, *reuses);
                self.sim.set_adv_address(id, a);
                id
            }
            None => {
                let id = self
                    .sim
                    .add_node(HubNode::Remote(RemoteNode::new()), Placement::Unplaced);
                self.detached.push(false);
                self.reuses.push(0);
                id
            }
        };
        for other in 0..self.sim.node_count() as u32 {
            let reach = match (&self.near, self.sim.node(NodeId(other))) {
                (Some(near), HubNode::Local(_)) => near.contains(&NodeId(other)),
                _ => true,
            };
            if other != id.0 && !self.detached[other as usize] && reach {
                self.sim.set_link(id, NodeId(other), REMOTE_LINK);
            }
        }
        let (mut r, mut w) = stream.into_split();
        let (ftx, frames) = mpsc::channel::<FromClient>(SEND_QUEUE);
        let counts = Arc::new(Counts::default());
        let (c, wake) = (counts.clone(), self.wake.clone());
        tokio::spawn(async move {
            // Never waits for the hub: what does not fit is dropped, so the socket is always
            // read and one process cannot hold up the others.
            while let Ok(Some(m)) = read_msg(&mut r).await {
                let item = match m {
                    HubMsg::Tx { bytes } if bytes.len() > MAX_ADV_DATA => {
                        c.oversize.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    HubMsg::Tx { bytes } => FromClient::Frame(crate::TxFrame {
                        bearer: crate::Bearer::Advertising,
                        bytes,
                    }),
                    HubMsg::GattTx { conn, bytes } => FromClient::Frame(crate::TxFrame {
                        bearer: crate::Bearer::Gatt(crate::ConnId(conn)),
                        bytes,
                    }),
                    HubMsg::Connect { peer, service } => match super::service_of(service) {
                        Some(service) => {
                            FromClient::Link(crate::LinkRequest::Connect { peer, service })
                        }
                        None => continue,
                    },
                    HubMsg::Disconnect { conn } => {
                        FromClient::Link(crate::LinkRequest::Disconnect {
                            conn: crate::ConnId(conn),
                        })
                    }
                    HubMsg::Connectable { service, adv_data } => FromClient::Connectable(
                        service
                            .and_then(super::service_of)
                            .map(|service| crate::Connectable { service, adv_data }),
                    ),
                    _ => continue,
                };
                match ftx.try_send(item) {
                    Ok(()) => wake.notify_one(),
                    Err(TrySendError::Full(_)) => {
                        c.sent_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Closed(_)) => return,
                }
            }
            drop(ftx);
            wake.notify_one();
        });
        let (out, mut orx) = mpsc::channel::<HubMsg>(DELIVER_QUEUE);
        tokio::spawn(async move {
            while let Some(m) = orx.recv().await {
                if write_msg(&mut w, &m).await.is_err() {
                    return;
                }
            }
        });
        self.clients.push(Client {
            id,
            frames,
            counts,
            out: Some(out),
            dropped_for: 0,
        });
        id
    }

    /// Brings the air up to now: feeds each process's frames to its node as the air takes them,
    /// forwards what each heard, and takes the processes that went away off the air.
    fn pump(&mut self, on_note: &mut impl FnMut(&str)) {
        let now = self.now();
        self.sim.run_until(now);
        for c in &mut self.clients {
            if c.out.is_none() {
                continue;
            }
            loop {
                let held = match self.sim.node(c.id) {
                    HubNode::Remote(r) => r.outbox_len(),
                    HubNode::Local(_) => REMOTE_OUTBOX,
                };
                if held + self.sim.tx_backlog(c.id) >= REMOTE_OUTBOX {
                    break;
                }
                match c.frames.try_recv() {
                    Ok(item) => {
                        if let HubNode::Remote(r) = self.sim.node_mut(c.id) {
                            match item {
                                FromClient::Frame(f) => {
                                    r.push_frame(f);
                                }
                                FromClient::Link(l) => r.push_request(l),
                                FromClient::Connectable(s) => r.set_connectable(s),
                            }
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        c.out = None;
                        break;
                    }
                }
            }
        }
        self.sim.run_until(now);
        self.sim.drain_events().for_each(drop);
        for c in &mut self.clients {
            let HubNode::Remote(r) = self.sim.node_mut(c.id) else {
                continue;
            };
            while let Some(heard) = r.pop_heard() {
                if let Some(out) = &c.out {
                    let m = match heard {
                        Heard::Adv(channel, rssi, at, adv_address, bytes) => HubMsg::Rx {
                            channel,
                            rssi,
                            t_us: at.as_micros(),
                            adv_address,
                            bytes,
                        },
                        Heard::Gatt { conn, at, bytes } => HubMsg::GattRx {
                            conn,
                            t_us: at.as_micros(),
                            bytes,
                        },
                        Heard::Link(e) => HubMsg::Link((&e).into()),
                    };
                    if out.try_send(m).is_err() {
                        c.dropped_for += 1;
                    }
                }
            }
        }
        let mut i = 0;
        while i < self.clients.len() {
            let c = &self.clients[i];
            let id = c.id;
            let flushed = match self.sim.node(id) {
                HubNode::Remote(r) => r.outbox_len() == 0,
                HubNode::Local(_) => true,
            };
            if c.out.is_some() || !flushed || !self.sim.tx_idle(id) {
                i += 1;
                continue;
            }
            // Gone, and what it sent is on the air: forget it.
            let c = self.clients.swap_remove(i);
            let heard_dropped = match self.sim.node(id) {
                HubNode::Remote(r) => r.dropped_heard(),
                HubNode::Local(_) => 0,
            };
            self.sim.detach_node(id);
            *self.sim.node_mut(id) = HubNode::Remote(RemoteNode::new());
            self.detached[id.index()] = true;
            self.free.push(id);
            on_note(&departure_note(&c, heard_dropped));
        }
    }
}

/// "node N disconnected", with what was dropped for lack of room.
fn departure_note(c: &Client, heard_dropped: u64) -> String {
    let sent = c.counts.sent_dropped.load(Ordering::Relaxed);
    let heard = c.dropped_for + heard_dropped;
    let oversize = c.counts.oversize.load(Ordering::Relaxed);
    let mut note = format!("node {} disconnected", c.id.0);
    if sent > 0 || heard > 0 {
        note += &format!(" (dropped {sent} frames it sent, {heard} frames for it: queue full)");
    }
    if oversize > 0 {
        note += &format!(" (refused {oversize} frames over {MAX_ADV_DATA} octets)");
    }
    note
}
