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
//!   ([`weft_radio::hub::REMOTE_INBOX`], [`DELIVER_QUEUE`]); a process that stops reading loses
//!   frames (counted), as a radio whose host stops reading would.
//!
//! The socket is the user's alone: it is bound in a private directory, made 0600 and only then
//! linked to its path (so no other user can ever connect, whatever the umask, and a path that
//! appeared meanwhile is never replaced), and the hub refuses peers of another uid. It is
//! removed when the hub stops (a stop signal, an error, or the serving future dropped).

use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, Notify};
use weft_radio::hub::REMOTE_OUTBOX;
use weft_radio::hub::{read_msg, write_msg, HubMsg, HubNode, RemoteNode};
use weft_radio::sim::{Link, NodeId, Placement, Simulator, MAX_ADV_DATA};

use crate::runtime::Clock;
use crate::sim::ScenarioStation;
use crate::Exit;

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

/// The hub's simulator: a scenario's stations and the connected processes.
pub type Air = Simulator<HubNode<ScenarioStation>>;

/// Why the hub could not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubError {
    /// The socket path holds something that is not a socket (exit 2).
    Usage(String),
    /// Another hub serves the path, or the system refused (exit 3).
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

impl HubError {
    /// The exit code of `weft sim serve` for this error.
    pub fn exit(&self) -> Exit {
        match self {
            HubError::Usage(_) => Exit::Usage,
            HubError::Unavailable(_) => Exit::Unavailable,
        }
    }
}

/// Serves the live simulated air on `socket` until the future is dropped: `sim` (a scenario's
/// nodes, or empty) runs in real time, and each process that connects becomes a node linked to
/// every other one.
pub async fn serve_hub(socket: &Path, sim: Air, on_note: impl FnMut(&str)) -> Result<(), HubError> {
    serve_hub_until(socket, sim, on_note, std::future::pending::<String>()).await
}

/// [`serve_hub`] until `stop` yields (a reason for the note, e.g. from [`crate::runtime::stop_signals`]); the
/// socket is removed on the way out.
pub async fn serve_hub_until(
    socket: &Path,
    sim: Air,
    mut on_note: impl FnMut(&str),
    stop: impl Future<Output = String>,
) -> Result<(), HubError> {
    let (listener, file) = listen(socket).await?;
    on_note(&format!(
        "simulated air on {} ({} nodes)",
        socket.display(),
        sim.node_count()
    ));
    let wake = Arc::new(Notify::new());
    let mut hub = Hub::new(sim, wake.clone());
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

/// Whether a connecting process runs as the hub's user (`owner`): Ok, or the note to log.
pub fn peer_allowed(stream: &UnixStream, owner: u32) -> Result<(), String> {
    match stream.peer_cred() {
        Ok(c) if c.uid() == owner => Ok(()),
        Ok(c) => Err(format!(
            "refused a connection from uid {} (this hub serves uid {owner} only)",
            c.uid()
        )),
        Err(e) => Err(format!(
            "refused a connection whose user cannot be told: {e}"
        )),
    }
}

/// The hub's socket file: removed when dropped, unless something else has taken the path since.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Who owns it: the only user the hub serves.
    uid: u32,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// What a file that is not a socket is, for an error message.
fn what_is(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "something else"
    }
}

/// Listens on `socket`. Only a stale socket (one nobody answers on) at the path is replaced;
/// anything else there is an error.
async fn listen(socket: &Path) -> Result<(UnixListener, SocketFile), HubError> {
    let path = socket.display();
    // What sockaddr_un holds (108 octets with the terminating NUL): longer, no client could
    // connect.
    let len = socket.as_os_str().len();
    if len > 107 {
        return Err(HubError::Usage(format!(
            "{path} is {len} octets long, and a socket path holds at most 107"
        )));
    }
    match std::fs::symlink_metadata(socket) {
        Ok(m) if m.file_type().is_socket() => match UnixStream::connect(socket).await {
            Ok(_) => {
                return Err(HubError::Unavailable(format!(
                    "another hub is serving {path}"
                )))
            }
            // A socket left by a hub that died: nobody answers on it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(socket).map_err(|e| {
                    HubError::Unavailable(format!("cannot remove the stale socket {path}: {e}"))
                })?;
            }
            Err(e) => {
                return Err(HubError::Unavailable(format!(
                    "cannot tell whether a hub serves {path}: {e}"
                )))
            }
        },
        Ok(m) => {
            return Err(HubError::Usage(format!(
                "{path} is {}, not a socket: give --socket a path that is free or holds a \
                 stale hub socket",
                what_is(&m)
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(HubError::Unavailable(format!("cannot look at {path}: {e}"))),
    }
    // Bind in a private directory beside the path (a hard link needs the same file system),
    // make the socket 0600 there, then link it to the path: nobody else can reach it before its
    // mode is right, whatever the umask, and link (unlike rename) never replaces what another
    // process may have put at the path meanwhile.
    let parent = match socket.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut private = None;
    for n in 0..100 {
        let dir = parent.join(format!(".weft-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                private = Some(dir);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(HubError::Unavailable(format!(
                    "cannot listen on {path}: cannot make a private directory in {}: {e}",
                    parent.display()
                )))
            }
        }
    }
    let Some(private) = private else {
        return Err(HubError::Unavailable(format!(
            "cannot listen on {path}: no free private directory name in {}",
            parent.display()
        )));
    };
    let bound = bind_privately(socket, &private);
    let _ = std::fs::remove_dir(&private);
    bound
}

/// The binding step of [`listen`], in the private directory `private`.
fn bind_privately(socket: &Path, private: &Path) -> Result<(UnixListener, SocketFile), HubError> {
    let cannot = |e: std::io::Error| {
        HubError::Unavailable(format!("cannot listen on {}: {e}", socket.display()))
    };
    // The umask may have taken bits off the directory's mode; chmod is not subject to it.
    std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o700)).map_err(cannot)?;
    let tmp = private.join("s");
    let listener = match UnixListener::bind(&tmp) {
        Ok(l) => l,
        // The private path is a few octets longer than the socket's, and a socket address
        // holds 107: bind through the directory's descriptor instead (Linux's /proc/self/fd).
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            use std::os::fd::AsRawFd;
            let dir = std::fs::File::open(private).map_err(cannot)?;
            let short = PathBuf::from(format!("/proc/self/fd/{}/s", dir.as_raw_fd()));
            UnixListener::bind(&short).map_err(|_| cannot(e))?
        }
        Err(e) => return Err(cannot(e)),
    };
    let linked = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::hard_link(&tmp, socket));
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            HubError::Unavailable(format!(
                "{} appeared while the hub was starting; not replacing it",
                socket.display()
            ))
        } else {
            cannot(e)
        }
    })?;
    let m = std::fs::symlink_metadata(socket).map_err(cannot)?;
    Ok((
        listener,
        SocketFile {
            path: socket.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            uid: m.uid(),
        },
    ))
}

/// What a client's reader task counts.
#[derive(Debug, Default)]
struct Counts {
    /// Frames it sent that its queue had no room for.
    sent_dropped: AtomicU64,
    /// Frames it sent with more advertising data than a legacy PDU carries.
    oversize: AtomicU64,
}

/// A connected process.
#[derive(Debug)]
struct Client {
    id: NodeId,
    /// What it asked to send, in order (at most [`SEND_QUEUE`]).
    frames: mpsc::Receiver<Vec<u8>>,
    counts: Arc<Counts>,
    /// Frames for its socket (at most [`DELIVER_QUEUE`]); `None` once it has gone.
    out: Option<mpsc::Sender<HubMsg>>,
    /// Frames for it dropped because a queue was full.
    dropped_for: u64,
}

/// The air and the processes on it.
struct Hub {
    sim: Air,
    clock: Clock,
    clients: Vec<Client>,
    /// Node slots of processes that went away, for the next ones.
    free: Vec<NodeId>,
    /// Per node id: off the air.
    detached: Vec<bool>,
    /// Woken by the client tasks when a frame comes or a client goes.
    wake: Arc<Notify>,
}

impl Hub {
    fn new(sim: Air, wake: Arc<Notify>) -> Self {
        let detached = vec![false; sim.node_count()];
        Hub {
            sim,
            clock: Clock::default(),
            clients: Vec::new(),
            free: Vec::new(),
            detached,
            wake,
        }
    }

    /// Puts a newly connected process on the air, in a free node slot if there is one.
    fn attach(&mut self, stream: UnixStream) -> NodeId {
        self.sim.run_until(self.clock.now());
        let id = match self.free.pop() {
            Some(id) => {
                *self.sim.node_mut(id) = HubNode::Remote(RemoteNode::new());
                self.detached[id.index()] = false;
                id
            }
            None => {
                let id = self
                    .sim
                    .add_node(HubNode::Remote(RemoteNode::new()), Placement::Unplaced);
                self.detached.push(false);
                id
            }
        };
        for other in 0..self.sim.node_count() as u32 {
            if other != id.0 && !self.detached[other as usize] {
                self.sim.set_link(id, NodeId(other), REMOTE_LINK);
            }
        }
        let (mut r, mut w) = stream.into_split();
        let (ftx, frames) = mpsc::channel::<Vec<u8>>(SEND_QUEUE);
        let counts = Arc::new(Counts::default());
        let (c, wake) = (counts.clone(), self.wake.clone());
        tokio::spawn(async move {
            // Never waits for the hub: what does not fit is dropped, so the socket is always
            // read and one process cannot hold up the others.
            while let Ok(Some(m)) = read_msg(&mut r).await {
                let HubMsg::Tx { bytes } = m else { continue };
                if bytes.len() > MAX_ADV_DATA {
                    c.oversize.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                match ftx.try_send(bytes) {
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
        let now = self.clock.now();
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
                    Ok(bytes) => {
                        if let HubNode::Remote(r) = self.sim.node_mut(c.id) {
                            r.push_tx(bytes);
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
            while let Some((channel, rssi, at, bytes)) = r.pop_heard() {
                if let Some(out) = &c.out {
                    let m = HubMsg::Rx {
                        channel,
                        rssi,
                        t_us: at.as_micros(),
                        bytes,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn peers_of_another_uid_are_refused() {
        let (a, _b) = UnixStream::pair().unwrap();
        let me = a.peer_cred().unwrap().uid();
        assert_eq!(peer_allowed(&a, me), Ok(()));
        let err = peer_allowed(&a, me.wrapping_add(1)).unwrap_err();
        assert!(err.contains(&format!("uid {me}")), "{err}");
    }
}
