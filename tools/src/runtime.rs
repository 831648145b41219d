//! The runtime that joins a protocol core to a radio in real time: the host's monotonic clock
//! becomes weft's [`Instant`], frames flow between [`Station`] and [`Radio`], and events go to
//! the caller. The live simulated air's server (`weft sim serve`) is in [`crate::hub`].

use std::path::PathBuf;

use weft_mesh::{Instant, Station};
use weft_radio::hub::HubNode;
use weft_radio::sim::{SimConfig, Simulator};
use weft_radio::{Radio, RadioError};

pub use crate::hub::{serve_hub, serve_hub_until, HubError};

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

/// SIGTERM and SIGINT as a future naming the one that came: a clean stop for `weft node` and
/// `weft sim serve`. The handlers are installed at once, so a signal that comes right after
/// this call is not lost. Must run inside a tokio runtime.
pub fn stop_signals() -> std::io::Result<impl std::future::Future<Output = String>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM".to_string(),
            _ = int.recv() => "SIGINT".to_string(),
        }
    })
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
