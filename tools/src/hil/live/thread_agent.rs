//! `weft hil role` for a Thread role: the Thread node the simulator backend builds for the
//! role (`crate::hil::sim::thread`: the seed's network, a router-eligible node or a Minimal
//! End Device, through the same adapter `crate::sim::thread::SimStation`, which answers echo)
//! on the rig's 802.15.4 radio (`otsim:`, `spinel:`, ...), driven by radio's real-time driver.
//! Its role changes and echo replies go out as `seen` lines, its role and RLOC as `state`;
//! `ping` commands come in; with `--pcap`, what its radio hears and sends is captured.
//! Its `ThreadState` is persisted atomically in the run directory (`weft thread node
//! --state`'s file and writer) at each `Event::PersistState`, before the frames it reserved
//! counters for go out: a role killed and started again is the same node (its extended
//! address and ML-EID), its frame counters from its reservation, beyond every one it used.
//! Each MAC-secured frame it sends is reported (`frame-sent`), for `seq_unique`.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};

use weft_mesh::thread::stack::Event;
use weft_mesh::{Duration, Instant};
use weft_radio::capture::{CaptureFile, Recording};
use weft_radio::sim::station_rng;
use weft_radio::{Radio, RadioUri};

use super::agent::{commands, emit, open, report, saved_path, RoleArgs, Tap};
use super::wire::{Cmd, Msg, State};
use crate::error::Failure;
use crate::hil::backend::Role;
use crate::hil::scenario::HilScenario;
use crate::hil::sim::thread::{
    node_kind, thread_observed, JITTER, PING_DATA, RNG_STREAM, UPGRADE_THRESHOLD,
};
use crate::runtime::{drive_with, Clock, Flow, Hooks};
use crate::sim::thread::{network, node_config, App, SimEvent, SimStation};
use crate::thread::node::{load_state, save_state};
use crate::Exit;

/// How often commands are read and the state looked at.
const TICK: Duration = Duration::from_millis(20);

/// `weft hil role` for the Thread role `role` of `sc` on the radio `uri`.
pub(super) fn run(
    a: &RoleArgs,
    sc: &HilScenario,
    role: Role,
    uri: &RadioUri,
) -> Result<Exit, Failure> {
    let r = &sc.roles[role];
    let kind = node_kind(r.kind).ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            format!("role {} ({}) is not a Thread role", r.name, r.kind.as_str()),
        )
    })?;
    let file = saved_path(&a.state, &r.name);
    let saved = load_state(&file, &network(a.seed).to_hex())?;
    let cmds = commands();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    rt.block_on(async move {
        let radio = open(uri).await.map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("radio {} cannot be opened: {e}", a.radio),
            )
        })?;
        if !radio.caps().ieee802154 {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "radio {} carries no IEEE 802.15.4 frames: a Thread role needs otsim:, spinel: or nrf154:",
                    a.radio
                ),
            ));
        }
        // As the Bluetooth roles' agent: flushed at once, so a killed process leaves a file.
        let pcap = match &a.pcap {
            Some(p) => Some(
                CaptureFile::create(p, radio.caps())
                    .and_then(|mut f| f.flush().map(|()| f))
                    .map_err(|e| {
                        Failure::new(Exit::Unavailable, format!("--pcap {}: {e}", p.display()))
                    })?,
            ),
            None => None,
        };
        // 802.15.4 frames carry their own addresses: no advertiser address to stamp. Flushed
        // after each frame, as a Bluetooth role's: a role may be killed outright.
        let mut radio = Tap::new(Recording::new(radio, pcap, [0; 6]), Default::default());
        let clock = Clock::new();
        // Another random stream per start (the node itself comes back from its state).
        let stream = role as u64 + 1000 * a.generation;
        let (creds, cfg) = (network(a.seed), node_config(kind, JITTER, UPGRADE_THRESHOLD));
        let rng = station_rng(a.seed ^ RNG_STREAM, stream);
        let mut station = match saved {
            Some(state) => SimStation::restore(creds, state, cfg, rng, clock.now(), App::Quiet),
            None => SimStation::new(creds, cfg, rng, clock.now(), App::Quiet),
        }
        .reporting_frames();
        save_state(&file, station.node().state())?;
        let mut agent = ThreadAgent {
            cmds,
            state: None,
            file,
            error: None,
        };
        emit(&Msg::Ready);
        let r = drive_with(&mut station, &mut radio, &clock, None, &mut agent).await;
        let _ = radio.finish();
        if let Err(e) = r {
            emit(&Msg::Lost {
                reason: e.to_string(),
            });
            return Err(Failure::new(Exit::Unavailable, e.to_string()));
        }
        match agent.error {
            Some(e) => Err(Failure::new(Exit::Unavailable, e)),
            None => Ok(Exit::Ok),
        }
    })
}

struct ThreadAgent {
    cmds: Receiver<Cmd>,
    /// The state last reported.
    state: Option<State>,
    /// Where the node's state is persisted.
    file: PathBuf,
    /// Why it stopped (its state could not be saved).
    error: Option<String>,
}

impl ThreadAgent {
    fn report_state(&mut self, st: &SimStation) {
        let state = State {
            thread_role: Some(st.role().as_str().into()),
            rloc: st.node().addresses().rloc(),
            ..State::default()
        };
        report(&mut self.state, state);
    }
}

impl Hooks<SimStation> for &mut ThreadAgent {
    fn on_event(&mut self, st: &mut SimStation, _now: Instant, event: SimEvent) -> Flow {
        let what = match event {
            SimEvent::Node(Event::PersistState) => {
                // Frames must not go out with counters beyond what is persisted.
                if let Err(e) = save_state(&self.file, st.node().state()) {
                    emit(&Msg::Lost {
                        reason: format!("cannot save the state: {}", e.1),
                    });
                    self.error = Some(e.1);
                    return Flow::Stop;
                }
                return Flow::Continue;
            }
            SimEvent::Node(Event::RoleChanged { .. }) => {
                // The state first: a `ping` step reads the RLOC once the role is seen.
                self.report_state(st);
                thread_observed(st, &event)
            }
            _ => thread_observed(st, &event),
        };
        let Some(what) = what else {
            return Flow::Continue;
        };
        if emit(&Msg::Seen { what }) {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn on_tick(&mut self, st: &mut SimStation, now: Instant) -> Flow {
        loop {
            match self.cmds.try_recv() {
                Ok(Cmd::Ping { dst, sequence }) => {
                    let identifier = st.rloc16().unwrap_or(0);
                    st.ping(now, dst, identifier, sequence, PING_DATA);
                }
                Ok(other) => {
                    tracing::warn!(target: "weft::hil", "{other:?}: not a Thread role's command")
                }
                // `weft hil run` closed our input: a clean stop.
                Err(TryRecvError::Disconnected) => return Flow::Stop,
                Err(TryRecvError::Empty) => break,
            }
        }
        self.report_state(st);
        Flow::Continue
    }
}
