//! The live inspector on a radio: [`start`] runs the feeder in a thread of its own under the
//! one real-time driver ([`weft_radio::drive_with`]), its tick carrying the UI's requests and
//! publishing snapshots; [`listen_for`] listens for a while (`weft topology --radio`).

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use weft_mesh::{Duration, Instant};
use weft_radio::{drive, drive_with, Clock, Flow, Hooks, RadioError, RadioUri};

use super::served::Link;
use super::LiveFeeder;
use crate::inspect::model::{close_at_exit, toggle_capture, Model};
use crate::inspect::runtime::{Control, Runtime};
use crate::inspect::ui::Request;

/// How often the UI's requests are taken.
const TICK: Duration = Duration::from_millis(10);
/// How often a snapshot is published.
const PUBLISH_EVERY: Duration = Duration::from_millis(33);

/// Opens the radio `uri` names and runs `feeder` on it in a thread of its own (a
/// current-thread tokio runtime inside it); fails when the radio cannot be opened. Captures are
/// written to `capture_dir` (default: the working directory).
pub fn start(
    uri: &RadioUri,
    feeder: LiveFeeder,
    capture_dir: Option<PathBuf>,
) -> Result<Runtime, String> {
    start_on(LiveRadio::Uri(uri.clone()), feeder, capture_dir)
}

/// What the live inspector listens on.
#[derive(Debug, Clone)]
pub enum LiveRadio {
    /// A radio (`weft_radio::open`).
    Uri(RadioUri),
    /// The air `weft serve --socket PATH` hears ([`crate::serve::radio::ServedRadio`]); the
    /// inspector's actions go to it as requests ([`super::served`]).
    Served(PathBuf),
}

impl LiveRadio {
    /// The radio, and the link to `weft serve` the actions go through when it is the server.
    async fn open(&self) -> Result<(Box<dyn weft_radio::Radio>, Option<Link>), RadioError> {
        match self {
            LiveRadio::Uri(uri) => Ok((weft_radio::open(uri).await?, None)),
            LiveRadio::Served(path) => {
                let (tx, events) = mpsc::channel();
                let radio = crate::serve::radio::ServedRadio::open(path, Some(tx)).await?;
                Ok((Box::new(radio), Some(Link::new(path, events))))
            }
        }
    }
}

/// [`start`] on any [`LiveRadio`].
pub fn start_on(
    uri: LiveRadio,
    feeder: LiveFeeder,
    capture_dir: Option<PathBuf>,
) -> Result<Runtime, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let rt = Runtime::spawn("weft-live", feeder.model.clone(), move |rx, shared| {
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
        tokio_rt.block_on(listen(&uri, feeder, capture_dir, rx, shared, ready_tx));
    });
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(rt),
        Ok(Err(e)) => {
            rt.stop();
            Err(e)
        }
        Err(_) => {
            rt.stop();
            Err("the listener thread ended".into())
        }
    }
}

/// Carries out one request of the UI: the actions through `weft serve` when the inspector is
/// attached to it.
fn control(
    f: &mut LiveFeeder,
    now: Instant,
    r: Request,
    capture_dir: Option<&Path>,
    served: Option<&mut Link>,
) {
    let r = match served {
        Some(link) => match link.act(f, r) {
            Some(r) => r,
            None => return,
        },
        None => r,
    };
    match r {
        Request::TogglePause => {
            f.paused = !f.paused;
            f.model.paused = f.paused;
            f.model.notify(if f.paused {
                "paused: the picture is frozen, the air goes on"
            } else {
                "running"
            });
        }
        Request::Select(_) => {}
        Request::ToggleCapture => {
            let stopped = f.stop_capture();
            let text = toggle_capture(stopped, capture_dir, |p| f.start_capture(p));
            f.model.notify(text);
        }
        Request::Send {
            dst, message, what, ..
        } => match f.send(now, dst, message) {
            Ok(()) => f.model.notify(format!("sent {what}")),
            Err(e) => f.model.notify(format!("not sent: {e}")),
        },
        Request::Provision { uuid, name } => {
            if let Err(e) = f.provision(now, uuid) {
                f.model.notify(format!("cannot provision {name}: {e}"));
            }
        }
        Request::Configure { address, op } => {
            if let Err(e) = f.configure(address, op) {
                f.model
                    .notify(format!("cannot configure {address:04x}: {e}"));
            }
        }
    }
}

/// The inspector's hooks on the driver: every tick takes the UI's requests and now and then
/// publishes a snapshot; a radio that fails is shown and let go, and the UI stays until the
/// user quits.
struct LiveHooks<'a> {
    rx: &'a Receiver<Control>,
    shared: &'a Mutex<Arc<Model>>,
    capture_dir: Option<PathBuf>,
    selected: Option<u16>,
    last_publish: Instant,
    /// The server the actions go through, with `--serve`.
    served: Option<Link>,
}

impl Hooks<LiveFeeder> for LiveHooks<'_> {
    fn on_event(&mut self, _: &mut LiveFeeder, _: Instant, e: Infallible) -> Flow {
        match e {}
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn on_tick(&mut self, f: &mut LiveFeeder, now: Instant) -> Flow {
        let rx = self.rx;
        for c in rx.try_iter() {
            match c {
                Control::Quit => {
                    let stopped = f.stop_capture();
                    close_at_exit(&mut f.model, stopped, self.shared);
                    // The node's replay protection list and exact next sequence number go
                    // with it.
                    f.save_at_exit();
                    return Flow::Stop;
                }
                Control::Ui(Request::Select(a)) => self.selected = a,
                Control::Ui(r) => {
                    control(f, now, r, self.capture_dir.as_deref(), self.served.as_mut())
                }
            }
        }
        if now.saturating_since(self.last_publish) >= PUBLISH_EVERY {
            self.last_publish = now;
            // At most one reply's notice a picture (`Link::poll`), so that each is drawn.
            if let Some(link) = self.served.as_mut() {
                link.poll(f);
            }
            if !f.paused {
                f.tick(now);
            }
            f.model.detail = self.selected.and_then(|a| f.detail(a)).map(Arc::new);
            publish(f, self.shared);
        }
        Flow::Continue
    }

    fn on_radio_error(&mut self, f: &mut LiveFeeder, _: Instant, e: &RadioError) -> Flow {
        f.model.notify(format!("stopped listening: {e}"));
        publish(f, self.shared);
        Flow::Continue
    }
}

async fn listen(
    uri: &LiveRadio,
    mut feeder: LiveFeeder,
    capture_dir: Option<PathBuf>,
    rx: &Receiver<Control>,
    shared: &Mutex<Arc<Model>>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let (mut radio, served) = match uri.open().await {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let hooks = LiveHooks {
        rx,
        shared,
        capture_dir,
        selected: None,
        last_publish: Instant::ZERO,
        served,
    };
    // The hooks let a failed radio go, and only the user's quit ends the run.
    let _ = drive_with(&mut feeder, &mut radio, &Clock::default(), None, hooks).await;
}

/// Listens on the radio `uri` names for `seconds` (wall clock) and returns the feeder with what
/// it heard, its layout settled: `weft topology --radio sim:PATH`.
pub fn listen_for(
    uri: &RadioUri,
    mut feeder: LiveFeeder,
    seconds: f64,
) -> Result<LiveFeeder, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the listener: {e}"))?;
    rt.block_on(async {
        let mut radio = weft_radio::open(uri).await.map_err(|e| e.to_string())?;
        let clock = Clock::default();
        let end = clock.now() + Duration::from_micros((seconds.max(0.0) * 1e6) as u64);
        drive(
            &mut feeder,
            &mut radio,
            &clock,
            Some(end),
            |_, _, e| match e {},
        )
        .await
        .map_err(|e| e.to_string())?;
        feeder.tick(clock.now());
        feeder.publish_prep(300);
        Ok(feeder)
    })
}

fn publish(feeder: &LiveFeeder, shared: &Mutex<Arc<Model>>) {
    let snap = Arc::new(feeder.model.clone());
    if let Ok(mut s) = shared.lock() {
        *s = snap;
    }
}
