//! The one real-time driver: a [`Station`] on a [`Radio`] in wall-clock time. The host's
//! monotonic [`Clock`] becomes weft's [`Instant`], frames flow between station and radio, and
//! what differs between commands comes through [`Hooks`]: the station's events, a periodic tick
//! (a UI's snapshots and control messages), and what to do when the radio fails.
//!
//! It lives in weft-radio because it decides nothing about a protocol: it is generic over the
//! sans-IO [`Station`] contract and the [`Radio`] seam, and moves bytes and time between them.
//! (Simulators run against the wall clock, as the live hub and the inspector's scenarios do,
//! are paced by [`crate::Pacer`] instead: there the air itself is simulated.)

use weft_mesh::{Duration, Instant, Station};

use crate::{Clock, Radio, RadioError};

/// What a hook wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// How [`drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A hook said stop.
    Stopped,
    /// The deadline passed.
    TimedOut,
}

/// What [`drive_with`] calls beside the station ([`drive`] takes only the event handler).
pub trait Hooks<S: Station> {
    /// An event of the station, at `now`. Events are handed out before the frames the station
    /// has to send, so state the hook persists (a sequence number reservation) is written
    /// before the frames that use it are on the air.
    fn on_event(&mut self, station: &mut S, now: Instant, event: S::Event) -> Flow;

    /// How often [`Hooks::on_tick`] runs; `None` (the default): never.
    fn tick_every(&self) -> Option<Duration> {
        None
    }

    /// The periodic tick: the first at the start, then every [`Hooks::tick_every`]. Frames the
    /// station has to send after it go out at once.
    fn on_tick(&mut self, _station: &mut S, _now: Instant) -> Flow {
        Flow::Continue
    }

    /// The radio failed. [`Flow::Stop`] (the default) ends [`drive`] with the error;
    /// [`Flow::Continue`] lets the radio go and runs on without it (the station's timers and
    /// the ticks, no frames), which only a hook with a tick can stop.
    fn on_radio_error(&mut self, _station: &mut S, _now: Instant, _error: &RadioError) -> Flow {
        Flow::Stop
    }
}

/// The hooks of a command that only handles events.
struct OnEvent<F>(F);

impl<S: Station, F: FnMut(&mut S, Instant, S::Event) -> Flow> Hooks<S> for OnEvent<F> {
    fn on_event(&mut self, station: &mut S, now: Instant, event: S::Event) -> Flow {
        (self.0)(station, now, event)
    }
}

/// Runs `station` on `radio` until `on_event` stops it or `deadline` passes; a radio that
/// fails ends the run with its error.
pub async fn drive<S, R>(
    station: &mut S,
    radio: &mut R,
    clock: &Clock,
    deadline: Option<Instant>,
    on_event: impl FnMut(&mut S, Instant, S::Event) -> Flow,
) -> Result<Outcome, RadioError>
where
    S: Station,
    R: Radio + ?Sized,
{
    drive_with(station, radio, clock, deadline, OnEvent(on_event)).await
}

/// [`drive`] with all the [`Hooks`]: a periodic tick, and a say in what a radio failure does.
pub async fn drive_with<S, R, H>(
    station: &mut S,
    radio: &mut R,
    clock: &Clock,
    deadline: Option<Instant>,
    mut hooks: H,
) -> Result<Outcome, RadioError>
where
    S: Station,
    R: Radio + ?Sized,
    H: Hooks<S>,
{
    let every = hooks.tick_every();
    let mut next_tick = every.map(|_| clock.now());
    // The radio's failure, once a hook chose to run on without it.
    let mut gone: Option<RadioError> = None;
    loop {
        let now = clock.now();
        if let (Some(every), Some(t)) = (every, next_tick) {
            if now >= t {
                next_tick = Some(now + every);
                if hooks.on_tick(station, now) == Flow::Stop {
                    return Ok(Outcome::Stopped);
                }
            }
        }
        if station.poll_timeout().is_some_and(|t| t <= now) {
            station.handle_timeout(now);
        }
        loop {
            while let Some(e) = station.poll_event() {
                if hooks.on_event(station, now, e) == Flow::Stop {
                    return Ok(Outcome::Stopped);
                }
            }
            if gone.is_some() {
                break;
            }
            let Some(f) = station.poll_transmit(now) else {
                break;
            };
            tracing::trace!(target: "weft::air", at = %now, bearer = ?f.bearer, "tx {}", hex::encode(&f.bytes));
            if let Err(e) = radio.send(f).await {
                tracing::warn!(target: "weft::air", "the radio refused a frame: {e}");
                if hooks.on_radio_error(station, now, &e) == Flow::Stop {
                    return Err(e);
                }
                gone = Some(e);
            }
        }
        if deadline.is_some_and(|d| now >= d) {
            return Ok(Outcome::TimedOut);
        }
        let wake = [station.poll_timeout(), deadline, next_tick]
            .into_iter()
            .flatten()
            .min();
        if let (Some(e), None) = (&gone, wake) {
            // Nothing could ever wake the station again.
            return Err(e.clone());
        }
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(clock.to_host(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        if gone.is_some() {
            sleep.await;
            continue;
        }
        tokio::select! {
            r = radio.recv() => match r {
                Ok(f) => {
                    tracing::trace!(target: "weft::air", channel = f.channel, rssi = ?f.rssi, "rx {}", hex::encode(&f.bytes));
                    station.handle_frame(clock.now(), &f);
                }
                Err(e) => {
                    tracing::warn!(target: "weft::air", "the radio stopped: {e}");
                    if hooks.on_radio_error(station, clock.now(), &e) == Flow::Stop {
                        return Err(e);
                    }
                    gone = Some(e);
                }
            },
            _ = sleep => {}
        }
    }
}

#[cfg(test)]
mod tests;
