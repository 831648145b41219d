//! `weft inspect --radio otsim:N --dataset HEX`: the Thread tab with weft's own node on the air
//! (a child, an MTD), shown as `you` as the Bluetooth Mesh tab shows its provisioner node. The
//! node runs through the one driver ([`weft_radio::drive_with`]); every frame it hears and
//! every frame it sends also goes to the tab's feeder.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft_mesh::thread::radio::RadioMac;
use weft_mesh::thread::sniff::Fcs;
use weft_mesh::thread::stack::{Config, Credentials, Event, Node, ThreadState};
use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxDone, TxFrame};
use weft_radio::{Clock, Flow, Hooks, RadioUri};

use super::feeder::ThreadFeeder;
use super::model::ThreadModel;
use super::runtime::{close, publish, toggle_capture, ThreadControl, PUBLISH_EVERY};

/// The node and the feeder that sees its frames both ways.
struct Watched {
    node: Node<ChaCha8Rng>,
    feeder: ThreadFeeder,
    channel: u8,
}

impl Station for Watched {
    type Event = Event;

    fn handle_frame(&mut self, now: Instant, f: &RxFrame) {
        if f.bearer == Bearer::Ieee802154 {
            self.feeder
                .ingest(now, f.channel, f.rssi, f.lqi, &f.bytes, Fcs::Absent);
        }
        self.node.handle_frame(now, f);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        let f = self.node.poll_transmit(now)?;
        self.feeder
            .ingest(now, self.channel, None, None, &f.bytes, Fcs::Absent);
        Some(f)
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.node.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.node.handle_timeout(now)
    }
    fn handle_tx_done(&mut self, now: Instant, done: &TxDone) {
        self.node.handle_tx_done(now, done)
    }
    fn radio_mac(&self) -> Option<RadioMac> {
        self.node.radio_mac()
    }
}

struct TabHooks<'a> {
    rx: &'a Receiver<ThreadControl>,
    shared: &'a Mutex<Arc<ThreadModel>>,
    paused: bool,
    last: Instant,
}

impl Hooks<Watched> for TabHooks<'_> {
    fn on_event(&mut self, w: &mut Watched, _now: Instant, e: Event) -> Flow {
        if let Event::RoleChanged { role, rloc16, .. } = e {
            w.feeder.model.notify(format!(
                "you: {role:?}{}",
                rloc16.map(|r| format!(" {r:04x}")).unwrap_or_default()
            ));
        }
        Flow::Continue
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(10))
    }

    fn on_tick(&mut self, w: &mut Watched, now: Instant) -> Flow {
        let mut changed = false;
        for c in self.rx.try_iter() {
            changed = true;
            match c {
                ThreadControl::Quit => return Flow::Stop,
                ThreadControl::ToggleCapture => toggle_capture(&mut w.feeder),
                ThreadControl::TogglePause => {
                    self.paused = !self.paused;
                    w.feeder.model.paused = self.paused;
                    w.feeder.model.notify(if self.paused {
                        "paused: the picture is frozen, the air is still heard"
                    } else {
                        "running"
                    });
                }
            }
        }
        let every = Duration::from_micros(PUBLISH_EVERY.as_micros() as u64);
        if changed || (!self.paused && now.saturating_since(self.last) >= every) {
            self.last = now;
            w.feeder.model.you = w.node.rloc16();
            w.feeder.set_now(now);
            publish(self.shared, &mut w.feeder, 3);
        }
        Flow::Continue
    }
}

/// Runs weft's node with `creds` on the radio `uri` names, the feeder seeing its frames.
pub(super) async fn run(
    uri: &RadioUri,
    creds: Credentials,
    feeder: ThreadFeeder,
    rx: &Receiver<ThreadControl>,
    shared: &Mutex<Arc<ThreadModel>>,
    ready: Sender<Result<(), String>>,
) {
    let Some(mut radio) = super::runtime::open_ready(uri, &ready).await else {
        return;
    };
    let clock = Clock::default();
    let mut rng = ChaCha8Rng::from_entropy();
    let state = ThreadState::new(&creds, &mut rng);
    let channel = creds.channel;
    let cfg = Config {
        router_eligible: false,
        ..Config::default()
    };
    let mut w = Watched {
        node: Node::new(creds, state, cfg, rng, clock.now()),
        feeder,
        channel,
    };
    let hooks = TabHooks {
        rx,
        shared,
        paused: false,
        last: Instant::ZERO,
    };
    if let Err(e) = weft_radio::drive_with(&mut w, &mut radio, &clock, None, hooks).await {
        w.feeder.model.notify(format!("the radio stopped: {e}"));
        publish(shared, &mut w.feeder, 3);
        // Wait for the UI to quit, as the listener does after a radio failure.
        while !matches!(rx.recv(), Ok(ThreadControl::Quit) | Err(_)) {}
    }
    close(shared, &mut w.feeder)
}
