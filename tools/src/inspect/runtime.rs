//! The inspector's runtime: the simulated network runs in a thread of its own, its virtual time
//! paced by the wall clock ([`weft_radio::Pacer`], as the live hub's is), and publishes snapshots of the [`Model`] at a fixed rate. The UI
//! takes the latest snapshot (an `Arc` clone under a lock held for nanoseconds) and never waits
//! for the simulation; it sends its requests through a channel.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration as WallDuration, Instant as WallClock};

use weft_mesh::Duration;
use weft_radio::Pacer;

use super::model::{close_at_exit, toggle_capture, Feeder, Model};
use super::ui::Request;

/// How the simulation is paced.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Virtual seconds per wall second; `None` runs as fast as the machine allows.
    pub speed: Option<f64>,
    /// How often a snapshot is published.
    pub publish_every: WallDuration,
    /// Directory new captures are written to.
    pub capture_dir: Option<&'static str>,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            speed: Some(1.0),
            publish_every: WallDuration::from_millis(33),
            capture_dir: None,
        }
    }
}

/// What the UI side tells the network thread.
pub(crate) enum Control {
    Ui(Request),
    Quit,
}

/// The running network and its latest snapshot.
#[derive(Debug)]
pub struct Runtime {
    snapshot: Arc<Mutex<Arc<Model>>>,
    tx: Sender<Control>,
    handle: Option<JoinHandle<()>>,
}

impl Runtime {
    /// Starts the simulation thread.
    pub fn start(feeder: Feeder, pace: Pace) -> Runtime {
        let snapshot = Arc::new(Mutex::new(Arc::new(feeder.model.clone())));
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&snapshot);
        let handle = std::thread::Builder::new()
            .name("weft-sim".into())
            .spawn(move || run(feeder, pace, &rx, &shared))
            .expect("spawn the simulation thread");
        Runtime {
            snapshot,
            tx,
            handle: Some(handle),
        }
    }

    /// Starts a thread named `name` running `body` with the control channel and the shared
    /// snapshot (first `model`).
    pub(crate) fn spawn(
        name: &str,
        model: Model,
        body: impl FnOnce(&Receiver<Control>, &Mutex<Arc<Model>>) + Send + 'static,
    ) -> Runtime {
        let snapshot = Arc::new(Mutex::new(Arc::new(model)));
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&snapshot);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(&rx, &shared))
            .expect("spawn the network thread");
        Runtime {
            snapshot,
            tx,
            handle: Some(handle),
        }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Model> {
        match self.snapshot.lock() {
            Ok(s) => Arc::clone(&s),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Passes a request from the UI to the network.
    pub fn request(&self, r: Request) {
        let _ = self.tx.send(Control::Ui(r));
    }

    /// Stops the network (closing any capture) and waits for its thread; the last snapshot.
    pub fn stop(mut self) -> Arc<Model> {
        self.shutdown();
        self.snapshot()
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Control::Quit);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(mut feeder: Feeder, pace: Pace, rx: &Receiver<Control>, shared: &Mutex<Arc<Model>>) {
    let mut pacer = Pacer::new(feeder.now(), pace.speed);
    let mut last_publish = WallClock::now();
    let mut selected: Option<u16> = None;
    loop {
        for c in rx.try_iter() {
            match c {
                Control::Quit => {
                    let stopped = feeder.stop_capture();
                    close_at_exit(&mut feeder.model, stopped, shared);
                    return;
                }
                Control::Ui(Request::TogglePause) => {
                    if pacer.is_paused() {
                        pacer.resume(feeder.now());
                    } else {
                        pacer.pause();
                    }
                    feeder.model.notify(if pacer.is_paused() {
                        "paused"
                    } else {
                        "running"
                    });
                }
                Control::Ui(Request::Select(a)) => selected = a,
                Control::Ui(Request::Send {
                    dst, message, what, ..
                }) => {
                    let ok = feeder.send(dst, message);
                    feeder.model.notify(if ok {
                        format!("sent {what}")
                    } else {
                        format!("not sent: the provisioner refused {what}")
                    });
                }
                Control::Ui(Request::Provision { uuid, name }) => {
                    if let Err(e) = feeder.provision(uuid) {
                        feeder.model.notify(format!("cannot provision {name}: {e}"));
                    }
                }
                Control::Ui(Request::Configure { address, op }) => {
                    if let Err(e) = feeder.configure(address, op) {
                        feeder
                            .model
                            .notify(format!("cannot configure {address:04x}: {e}"));
                    }
                }
                Control::Ui(Request::ToggleCapture) => {
                    let stopped = feeder.stop_capture();
                    let dir = pace.capture_dir.map(std::path::Path::new);
                    let text = toggle_capture(stopped, dir, |p| feeder.start_capture(p));
                    feeder.model.notify(text);
                }
            }
        }
        if let Some(target) = pacer.target(feeder.now()) {
            if target > feeder.now() {
                if let Err(e) = feeder.advance_to(target) {
                    feeder.model.notify(format!("simulation stopped: {e:?}"));
                    pacer.pause();
                }
            }
        }
        if last_publish.elapsed() >= pace.publish_every {
            last_publish = WallClock::now();
            feeder.layout_steps(3);
            feeder.model.paused = pacer.is_paused();
            feeder.model.detail = selected.and_then(|a| feeder.detail(a)).map(Arc::new);
            let snap = Arc::new(feeder.model.clone());
            if let Ok(mut s) = shared.lock() {
                *s = snap;
            }
        }
        if pacer.is_timed() || pacer.is_paused() {
            std::thread::sleep(WallDuration::from_millis(4));
        }
    }
}

/// Advances a feeder by `seconds` of virtual time in slices, settling the layout as the
/// runtime would: the deterministic path the snapshot tests and `weft topology` use.
pub fn run_for(feeder: &mut Feeder, seconds: f64) -> Result<(), crate::sim::RunError> {
    let end = feeder.now() + Duration::from_micros((seconds * 1e6) as u64);
    let slice = Duration::from_millis(100);
    let mut t = feeder.now();
    while t < end {
        t = (t + slice).min(end);
        feeder.advance_to(t)?;
        feeder.layout_steps(3);
    }
    feeder.layout_steps(300);
    Ok(())
}
