//! `weft serve --radio R (--socket PATH | --stdio)`: a control interface for rigs and scripts,
//! and the one owner of a network store that several clients share (`weft send|config|
//! provision --serve PATH`, `weft inspect --serve PATH`).
//!
//! One task owns the radio, the store's provisioner node and the store ([`owner`]); each
//! client (a connection on the owner-only socket, or standard input and output) is a task of
//! its own that reads NDJSON requests, answers what needs no radio itself (`status`, `radios`,
//! `network`, `subscribe`, `capture.*`) and queues the rest for the owner, one at a time. The
//! protocol is `hil-tests/serve/PROTOCOL.md`: requests `{"id":1,"method":"status","params":
//! {}}`, replies `{"id":1,"result":{...}}` or `{"id":1,"error":{"code":..,"message":..}}`,
//! events `{"event":"frame",...}` to the clients that subscribed.

pub mod client;
mod conn;
mod owner;
mod protocol;
pub mod radio;
mod tap;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

use crate::error::{block_on, Failure, Result};
use crate::ops::Session;
use crate::store::StoreOpts;
use crate::Exit;

pub use protocol::{code, Request};

/// `weft serve`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("via").required(true).args(["socket", "stdio"])))]
pub struct ServeArgs {
    /// The radio the network is reached through (as `weft send --radio`): `sim:PATH` for the
    /// live simulated air (`weft sim serve`), `hci:...`, `bluez:hciN`, ...
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio)]
    pub radio: String,
    /// Listen on this Unix socket (created owner-only, 0600; only this user may connect).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Serve one client on standard input and output instead (ends when input ends).
    #[arg(long)]
    pub stdio: bool,
    #[command(flatten)]
    pub store: StoreOpts,
}

/// How many events a slow subscriber may fall behind before it is told it missed some.
const EVENT_BACKLOG: usize = 4096;

/// What every client task reads and the owner keeps current.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The radio, as given.
    pub radio: String,
    /// The store file.
    pub store: PathBuf,
    /// The network database as `weft net show --json` prints it.
    pub network: Value,
    /// The primary unicast address of the server's own node (the store's provisioner node
    /// it runs on the radio).
    pub node: u16,
    /// The method the owner is carrying out, if any.
    pub busy: Option<String>,
    /// Clients connected, and how many of them subscribed.
    pub clients: usize,
    pub subscribers: usize,
    /// Requests answered.
    pub answered: u64,
    /// When the server started.
    pub started: std::time::Instant,
}

/// What a client task needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub jobs: mpsc::Sender<owner::Job>,
    pub events: broadcast::Sender<Arc<str>>,
    pub shared: Arc<Mutex<Shared>>,
    pub capture: tap::CaptureSlot,
}

pub fn run(a: &ServeArgs) -> Result<Exit> {
    block_on(serve(a))
}

async fn serve(a: &ServeArgs) -> Result<Exit> {
    // The socket first: a path that is taken is refused before the store is locked.
    let listening = match &a.socket {
        Some(path) => Some(weft_radio::hub::listen_as(path, "weft serve").await?),
        None => None,
    };
    let mut session = Session::open(&a.store, &a.radio).await?;
    let (events, _) = broadcast::channel(EVENT_BACKLOG);
    let capture = tap::CaptureSlot::default();
    tap::wrap(&mut session, events.clone(), capture.clone());
    let shared = Arc::new(Mutex::new(Shared {
        radio: a.radio.clone(),
        store: session.store.path.clone(),
        network: owner::network_json(&session.state),
        node: session.station.node().primary().get(),
        busy: None,
        clients: 0,
        subscribers: 0,
        answered: 0,
        started: std::time::Instant::now(),
    }));
    let (jobs, queue) = mpsc::channel(64);
    let ctx = Ctx {
        jobs,
        events: events.clone(),
        shared: shared.clone(),
        capture: capture.clone(),
    };
    // SIGINT or SIGTERM stops the server cleanly: the session is saved, the socket removed.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let signals = crate::runtime::stop_signals()
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot watch for signals: {e}")))?;
    tokio::spawn(async move {
        let s = signals.await;
        eprintln!("weft serve: {s}: stopping");
        let _ = stop_tx.send(true);
    });
    let accept = {
        let stop = stop.clone();
        async move {
            match listening {
                Some((listener, file)) => conn::accept(listener, file, ctx, stop).await,
                None => {
                    // The command's standard output is locked by `weft::main` for its whole
                    // run: replies go to a duplicate of the descriptor instead.
                    use std::os::fd::AsFd;
                    match std::io::stdout().as_fd().try_clone_to_owned() {
                        Ok(fd) => {
                            let out = tokio::fs::File::from_std(std::fs::File::from(fd));
                            conn::serve_client(tokio::io::stdin(), out, ctx, stop).await
                        }
                        Err(e) => eprintln!("weft serve: cannot write to standard output: {e}"),
                    }
                }
            }
        }
    };
    // The owner ends when every client task has let go of the queue (standard input ended) or
    // at a stop signal; its session is saved as it ends.
    let owned = owner::own(session, queue, events, shared, stop);
    let (_, owned) = tokio::join!(accept, owned);
    let stopped = capture.stop();
    owned?;
    stopped.map_err(|e| Failure::new(Exit::Unavailable, e))?;
    Ok(Exit::Ok)
}
