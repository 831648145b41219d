//! The runtime that joins a protocol core to a radio in real time: the host's monotonic clock
//! becomes weft's [`Instant`], frames flow between [`Station`] and [`Radio`], and events go to
//! the caller. Also the live simulated air's server (`weft sim serve`).

use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio::sync::mpsc;
use weft_mesh::{Instant, Station};
use weft_radio::hub::{read_msg, write_msg, HubMsg, HubNode, RemoteNode};
use weft_radio::sim::{Link, NodeId, Placement, SimConfig, Simulator};
use weft_radio::{Radio, RadioError};

/// The host's monotonic clock as weft time: microseconds since the clock was made.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }
    /// The host instant of `t`; a time beyond what the host clock can hold (a timer that
    /// never fires in practice) becomes a year from the start.
    pub fn to_host(&self, t: Instant) -> tokio::time::Instant {
        let far = std::time::Duration::from_secs(365 * 24 * 3600);
        self.start
            .checked_add(std::time::Duration::from_micros(t.as_micros()))
            .unwrap_or_else(|| self.start + far)
    }
}

/// What the event handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// How [`drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handler said stop.
    Stopped,
    /// The deadline passed.
    TimedOut,
}

/// Runs `station` on `radio` until the handler stops it or `deadline` passes. Events are handed
/// out before frames are sent, so state the handler persists (sequence reservations) is on disk
/// before the frames that use it are on the air.
pub async fn drive<S: Station, R: Radio>(
    station: &mut S,
    radio: &mut R,
    clock: &Clock,
    deadline: Option<Instant>,
    mut on_event: impl FnMut(&mut S, Instant, S::Event) -> Flow,
) -> Result<Outcome, RadioError> {
    loop {
        let now = clock.now();
        if station.poll_timeout().is_some_and(|t| t <= now) {
            station.handle_timeout(now);
        }
        loop {
            while let Some(e) = station.poll_event() {
                if on_event(station, now, e) == Flow::Stop {
                    return Ok(Outcome::Stopped);
                }
            }
            match station.poll_transmit(now) {
                Some(f) => {
                    tracing::trace!(target: "weft::air", at = %now, bearer = ?f.bearer, "tx {}", hex::encode(&f.bytes));
                    if let Err(e) = radio.send(f).await {
                        tracing::warn!(target: "weft::air", "the radio refused a frame: {e}");
                        return Err(e);
                    }
                }
                None => break,
            }
        }
        if deadline.is_some_and(|d| now >= d) {
            return Ok(Outcome::TimedOut);
        }
        let wake = [station.poll_timeout(), deadline]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(clock.to_host(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = radio.recv() => {
                let f = r.inspect_err(|e| tracing::warn!(target: "weft::air", "the radio stopped: {e}"))?;
                tracing::trace!(target: "weft::air", channel = f.channel, rssi = ?f.rssi, "rx {}", hex::encode(&f.bytes));
                station.handle_frame(clock.now(), &f);
            }
            _ = sleep => {}
        }
    }
}

/// Resolves when the process is asked to stop: SIGTERM, or SIGINT (ctrl-c). A process that
/// cannot watch for the signals waits forever here (and is stopped the default way).
pub async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// RSSI and loss of the links between a connected process and every other node of the air.
const REMOTE_LINK: Link = Link {
    rssi_dbm: -55,
    loss: 0.0,
};

/// Serves the live simulated air on `socket`: `sim` (a scenario's nodes, or empty) runs in real
/// time, and each process that connects becomes a node linked to every other one.
pub async fn serve_hub(
    socket: &Path,
    mut sim: Simulator<HubNode<crate::sim::ScenarioStation>>,
    mut on_note: impl FnMut(&str),
) -> Result<(), RadioError> {
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        // Only a socket is ever replaced: any other file there is someone's, named by mistake.
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(RadioError::Unavailable(format!(
                "{} exists and is not a socket (left untouched): give --socket a new path",
                socket.display()
            )));
        }
        // A socket left by a hub that died: nobody answers on it.
        if tokio::net::UnixStream::connect(socket).await.is_ok() {
            return Err(RadioError::Unavailable(format!(
                "another hub is serving {}",
                socket.display()
            )));
        }
        let _ = std::fs::remove_file(socket);
    }
    let listener = UnixListener::bind(socket).map_err(|e| {
        RadioError::Unavailable(format!("cannot listen on {}: {e}", socket.display()))
    })?;
    on_note(&format!(
        "simulated air on {} ({} nodes)",
        socket.display(),
        sim.node_count()
    ));
    let clock = Clock::default();
    let (in_tx, mut in_rx) = mpsc::channel::<(NodeId, Option<Vec<u8>>)>(4096);
    let mut writers: Vec<(NodeId, mpsc::Sender<HubMsg>)> = Vec::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(2));
    loop {
        tokio::select! {
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                sim.run_until(clock.now());
                let id = sim.add_node(HubNode::Remote(RemoteNode::default()), Placement::Unplaced);
                for other in 0..sim.node_count() as u32 {
                    if other != id.0 {
                        sim.set_link(id, NodeId(other), REMOTE_LINK);
                    }
                }
                let (mut r, mut w) = stream.into_split();
                let itx = in_tx.clone();
                tokio::spawn(async move {
                    while let Ok(Some(m)) = read_msg(&mut r).await {
                        if let HubMsg::Tx { bytes } = m {
                            if itx.send((id, Some(bytes))).await.is_err() {
                                return;
                            }
                        }
                    }
                    let _ = itx.send((id, None)).await;
                });
                let (otx, mut orx) = mpsc::channel::<HubMsg>(4096);
                tokio::spawn(async move {
                    while let Some(m) = orx.recv().await {
                        if write_msg(&mut w, &m).await.is_err() {
                            return;
                        }
                    }
                });
                writers.push((id, otx));
                on_note(&format!("node {} connected", id.0));
            }
            Some((id, bytes)) = in_rx.recv() => {
                sim.run_until(clock.now());
                match bytes {
                    Some(b) => {
                        if let HubNode::Remote(r) = sim.node_mut(id) {
                            r.outbox.push_back(b);
                        }
                    }
                    None => {
                        writers.retain(|(w, _)| *w != id);
                        on_note(&format!("node {} disconnected", id.0));
                    }
                }
            }
            _ = tick.tick() => {
                sim.run_until(clock.now());
                sim.drain_events().for_each(drop);
                for (id, w) in &writers {
                    if let HubNode::Remote(r) = sim.node_mut(*id) {
                        while let Some((channel, rssi, at, bytes)) = r.inbox.pop_front() {
                            // A full queue means a stuck client: drop, as the air would.
                            let _ = w.try_send(HubMsg::Rx { channel, rssi, t_us: at.as_micros(), bytes });
                        }
                    }
                }
            }
        }
    }
}

/// An empty air for the hub when no scenario is given.
pub fn empty_air(seed: u64) -> Simulator<HubNode<crate::sim::ScenarioStation>> {
    Simulator::new(
        SimConfig {
            medium_events: false,
            ..SimConfig::default()
        },
        seed,
    )
}

/// Where a `--radio` argument points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioArg {
    /// `sim:NAME` with a built-in scenario name or a `.toml` file: an in-process simulation.
    Scenario(String),
    /// `sim:PATH` to a hub's socket: the live simulated air.
    Hub(PathBuf),
    /// A radio this build cannot drive yet (hci:, bluez:, spinel:, ...).
    Unsupported(String),
}

impl RadioArg {
    /// Parses `--radio` (DESIGN.md: `sim:smart-home`, `sim:/tmp/air.sock`, `hci:/dev/ttyACM0`, ...).
    pub fn parse(s: &str) -> Result<RadioArg, String> {
        let (scheme, rest) = s.split_once(':').ok_or_else(|| {
            format!("'{s}' is not a radio: use sim:SCENARIO, sim:/path/to/hub.sock, hci:/dev/ttyACM0, bluez:hci0, ...")
        })?;
        match scheme {
            "sim" if rest.is_empty() => Err("sim: needs a scenario name or a hub socket path".into()),
            "sim" if crate::scenario::BUILTIN.iter().any(|(n, _)| *n == rest) || rest.ends_with(".toml") => {
                Ok(RadioArg::Scenario(rest.into()))
            }
            "sim" => Ok(RadioArg::Hub(PathBuf::from(rest))),
            "hci" | "hci-tcp" | "bluez" | "spinel" | "gatt" | "nrf-sniffer" => Ok(RadioArg::Unsupported(s.into())),
            other => Err(format!("unknown radio kind '{other}' in '{s}': use sim, hci, hci-tcp, bluez, gatt or spinel")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radio_args() {
        assert_eq!(
            RadioArg::parse("sim:smart-home").unwrap(),
            RadioArg::Scenario("smart-home".into())
        );
        assert_eq!(
            RadioArg::parse("sim:/tmp/a.sock").unwrap(),
            RadioArg::Hub("/tmp/a.sock".into())
        );
        assert!(matches!(
            RadioArg::parse("hci:/dev/ttyACM0").unwrap(),
            RadioArg::Unsupported(_)
        ));
        assert!(RadioArg::parse("wifi:x")
            .unwrap_err()
            .contains("unknown radio"));
        assert!(RadioArg::parse("smart-home").unwrap_err().contains("sim:"));
    }

    #[test]
    fn a_timer_beyond_the_host_clock_does_not_panic() {
        let c = Clock::default();
        let far = c.to_host(Instant::from_micros(u64::MAX));
        assert!(far > c.to_host(Instant::from_micros(1_000_000)));
    }
}
