//! The Thread tab's network thread: a [`ThreadSim`] paced by the wall clock
//! ([`weft_radio::Pacer`]), or an 802.15.4 radio (`spinel:`, `nrf154:`, `otsim:`) read in a
//! current-thread tokio runtime. Either publishes snapshots of the [`ThreadModel`]; the UI
//! takes the latest and never waits (as the Bluetooth Mesh runtime, `inspect::runtime`).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration as WallDuration, Instant as WallClock};

use weft_mesh::thread::sniff::Fcs;
use weft_mesh::{Bearer, Duration, Instant};
use weft_radio::{Pacer, Radio, RadioUri};

use super::feeder::ThreadFeeder;
use super::model::ThreadModel;
use super::sim::ThreadSim;

/// How often a snapshot is published.
pub(super) const PUBLISH_EVERY: WallDuration = WallDuration::from_millis(33);

/// What the UI tells the network thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadControl {
    TogglePause,
    /// Starts a capture in the working directory, or stops the one running.
    ToggleCapture,
    Quit,
}

type Shared = Arc<Mutex<Arc<ThreadModel>>>;

/// The running Thread source and its latest snapshot.
#[derive(Debug)]
pub struct ThreadRuntime {
    snapshot: Shared,
    tx: Sender<ThreadControl>,
    handle: Option<JoinHandle<()>>,
}

/// `c`: stops the capture running, or starts one in the working directory.
pub(super) fn toggle_capture(f: &mut ThreadFeeder) {
    let stopped = f.stop_capture();
    let text = crate::inspect::model::toggle_capture(stopped, None, |p| f.start_capture(p));
    f.model.notify(text);
}

/// Closes the capture as the source stops; a failure goes to a last snapshot, for the command
/// to report once the terminal is restored.
pub(super) fn close(shared: &Mutex<Arc<ThreadModel>>, f: &mut ThreadFeeder) {
    if let Some(Err(e)) = f.stop_capture() {
        f.model.capture_error = Some(e);
        if let Ok(mut s) = shared.lock() {
            *s = Arc::new(f.model.clone());
        }
    }
}

pub(super) fn publish(shared: &Mutex<Arc<ThreadModel>>, f: &mut ThreadFeeder, steps: usize) {
    f.publish(steps);
    let snap = Arc::new(f.model.clone());
    if let Ok(mut s) = shared.lock() {
        *s = snap;
    }
}

impl ThreadRuntime {
    fn spawn(
        name: &str,
        model: ThreadModel,
        body: impl FnOnce(&Receiver<ThreadControl>, &Mutex<Arc<ThreadModel>>) + Send + 'static,
    ) -> ThreadRuntime {
        let snapshot = Arc::new(Mutex::new(Arc::new(model)));
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&snapshot);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(&rx, &shared))
            .expect("spawn the Thread network thread");
        ThreadRuntime {
            snapshot,
            tx,
            handle: Some(handle),
        }
    }

    /// Runs `sim` at `speed` virtual seconds per wall second, heard by `feeder`.
    pub fn sim(mut sim: ThreadSim, mut feeder: ThreadFeeder, speed: f64) -> ThreadRuntime {
        Self::spawn(
            "weft-thread-sim",
            feeder.model.clone(),
            move |rx, shared| {
                let mut pacer = Pacer::new(sim.now(), Some(speed));
                let mut last = WallClock::now();
                loop {
                    for c in rx.try_iter() {
                        match c {
                            ThreadControl::Quit => return close(shared, &mut feeder),
                            ThreadControl::ToggleCapture => toggle_capture(&mut feeder),
                            ThreadControl::TogglePause => {
                                if pacer.is_paused() {
                                    pacer.resume(sim.now());
                                } else {
                                    pacer.pause();
                                }
                                feeder.model.paused = pacer.is_paused();
                                feeder.model.notify(if pacer.is_paused() {
                                    "paused"
                                } else {
                                    "running"
                                });
                            }
                        }
                    }
                    if let Some(t) = pacer.target(sim.now()) {
                        if t > sim.now() {
                            sim.advance_to(t, &mut feeder);
                        }
                    }
                    if last.elapsed() >= PUBLISH_EVERY {
                        last = WallClock::now();
                        publish(shared, &mut feeder, 3);
                    }
                    std::thread::sleep(WallDuration::from_millis(4));
                }
            },
        )
    }

    /// Opens the radio `uri` names and hears it in a thread of its own; fails (with the
    /// radio's sentence) when it cannot be opened.
    /// With `node` (the credentials of a dataset), weft's own node takes part in the network
    /// (`own.rs`), shown as `you`.
    pub fn radio(
        uri: &RadioUri,
        feeder: ThreadFeeder,
        node: Option<weft_mesh::thread::stack::Credentials>,
    ) -> Result<ThreadRuntime, String> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let uri = uri.clone();
        let rt = Self::spawn(
            "weft-thread-radio",
            feeder.model.clone(),
            move |rx, shared| {
                let tokio_rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start the listener: {e}")));
                        return;
                    }
                };
                match node {
                    Some(creds) => tokio_rt
                        .block_on(super::own::run(&uri, creds, feeder, rx, shared, ready_tx)),
                    None => tokio_rt.block_on(listen(&uri, feeder, rx, shared, ready_tx)),
                }
            },
        );
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(rt),
            Ok(Err(e)) => {
                rt.stop();
                Err(e)
            }
            Err(_) => {
                rt.stop();
                Err("the Thread listener thread ended".into())
            }
        }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<ThreadModel> {
        match self.snapshot.lock() {
            Ok(s) => Arc::clone(&s),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub fn request(&self, c: ThreadControl) {
        let _ = self.tx.send(c);
    }

    /// Stops the network thread; the last snapshot.
    pub fn stop(mut self) -> Arc<ThreadModel> {
        self.shutdown();
        self.snapshot()
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(ThreadControl::Quit);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for ThreadRuntime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Opens the radio `uri` names, telling `ready` whether it could.
pub(super) async fn open_ready(
    uri: &RadioUri,
    ready: &Sender<Result<(), String>>,
) -> Option<Box<dyn Radio>> {
    match weft_radio::open(uri).await {
        Ok(r) => {
            let _ = ready.send(Ok(()));
            Some(r)
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            None
        }
    }
}

async fn listen(
    uri: &RadioUri,
    mut feeder: ThreadFeeder,
    rx: &Receiver<ThreadControl>,
    shared: &Mutex<Arc<ThreadModel>>,
    ready: Sender<Result<(), String>>,
) {
    let Some(mut radio) = open_ready(uri, &ready).await else {
        return;
    };
    let start = tokio::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
    let publish_every = Duration::from_micros(PUBLISH_EVERY.as_micros() as u64);
    let mut last = Instant::ZERO;
    // Paused: the picture is frozen, the air is still heard (and counted, and captured).
    let mut paused = false;
    let mut failed = false;
    loop {
        tokio::select! {
            f = radio.recv(), if !failed => match f {
                Ok(f) if f.bearer == Bearer::Ieee802154 => {
                    // Radios hand 802.15.4 frames over without their FCS.
                    feeder.ingest(now(), f.channel, f.rssi, f.lqi, &f.bytes, Fcs::Absent);
                }
                Ok(_) => {}
                Err(e) => {
                    failed = true;
                    feeder.model.notify(format!("the radio stopped: {e}"));
                }
            },
            _ = tick.tick() => {
                let mut changed = false;
                for c in rx.try_iter() {
                    changed = true;
                    match c {
                        ThreadControl::Quit => return close(shared, &mut feeder),
                        ThreadControl::ToggleCapture => toggle_capture(&mut feeder),
                        ThreadControl::TogglePause => {
                            paused = !paused;
                            feeder.model.paused = paused;
                            feeder.model.notify(if paused {
                                "paused: the picture is frozen, the air is still heard"
                            } else {
                                "running"
                            });
                        }
                    }
                }
                let t = now();
                if changed || (!paused && t.saturating_since(last) >= publish_every) {
                    last = t;
                    feeder.set_now(t);
                    publish(shared, &mut feeder, 3);
                }
            }
        }
    }
}
