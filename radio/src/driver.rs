//! The one real-time driver: a [`Station`] on a [`Radio`] in wall-clock time. The host's
//! monotonic [`Clock`] becomes weft's [`Instant`], frames flow between station and radio, and
//! what differs between commands comes through [`Hooks`]: the station's events, a periodic tick
//! (a UI's snapshots and control messages), and what to do when the radio fails.
//!
//! It lives in weft-radio because it decides nothing about a protocol: it is generic over the
//! sans-IO [`Station`] contract and the [`Radio`] seam, and moves bytes and time between them.
//! (Simulators run against the wall clock, as the live hub and the inspector's scenarios do,
//! are paced by [`crate::Pacer`] instead: there the air itself is simulated.)

use weft_mesh::{Duration, Instant, LinkEvent, LinkRequest, Station};

use crate::{Clock, Radio, RadioError, RadioEvent};

/// How often a radio with GATT is told again what to advertise connectable
/// ([`Station::connectable`]): a Proxy Server rotates its Network ID advertising across
/// subnets and draws a fresh Node Identity Random (MshPRT §7.2.2.2).
pub const CONNECTABLE_REFRESH: Duration = Duration::from_secs(1);

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
    let gatt = radio.caps().gatt;
    // When the connectable advertising is next refreshed (radios with GATT only).
    let mut next_adv = gatt.then(|| clock.now());
    // The radio's failure, once a hook chose to run on without it.
    let mut gone: Option<RadioError> = None;
    // What the radio's MAC was last told (IEEE 802.15.4 stations: Station::radio_mac).
    let mut told_mac = None;
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
        if next_adv.is_some_and(|t| now >= t) && gone.is_none() {
            next_adv = Some(now + CONNECTABLE_REFRESH);
            let adv = station.connectable(now);
            if let Err(e) = radio.set_connectable(adv).await {
                tracing::debug!(target: "weft::air", "connectable advertising refused: {e}");
            }
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
            // Before the station's next frame: the radio acknowledges for its current
            // addresses and answers Data Requests from its current source-match table.
            let mac = station.radio_mac();
            if mac != told_mac {
                if let Err(e) = radio.set_mac(mac.clone()).await {
                    tracing::warn!(target: "weft::air", "the radio refused the MAC settings: {e}");
                }
                told_mac = mac;
            }
            if let Some(r) = station.poll_link() {
                link_request(station, radio, now, r).await;
                continue;
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
        let wake = [station.poll_timeout(), deadline, next_tick, next_adv]
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
            r = radio.recv_event() => match r {
                Ok(RadioEvent::Frame(f)) => {
                    tracing::trace!(target: "weft::air", channel = f.channel, rssi = ?f.rssi, bearer = ?f.bearer, "rx {}", hex::encode(&f.bytes));
                    station.handle_frame(clock.now(), &f);
                }
                Ok(RadioEvent::Link(e)) => {
                    tracing::debug!(target: "weft::air", "link {e:?}");
                    station.handle_link(clock.now(), &e);
                }
                Ok(RadioEvent::TxDone(d)) => {
                    tracing::trace!(target: "weft::air", "tx done {d:?}");
                    station.handle_tx_done(clock.now(), &d);
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

/// Hands one of the station's link requests to the radio; a connect the radio refuses comes
/// back to the station as [`LinkEvent::ConnectFailed`] at once.
async fn link_request<S, R>(station: &mut S, radio: &mut R, now: Instant, request: LinkRequest)
where
    S: Station,
    R: Radio + ?Sized,
{
    tracing::debug!(target: "weft::air", "link request {request:?}");
    match request {
        LinkRequest::Connect { peer, service } => {
            if let Err(e) = radio.connect(peer, service).await {
                tracing::warn!(target: "weft::air", "the radio refused to connect: {e}");
                station.handle_link(now, &LinkEvent::ConnectFailed { peer, service });
            }
        }
        LinkRequest::Disconnect { conn } => {
            if let Err(e) = radio.disconnect(conn).await {
                tracing::warn!(target: "weft::air", "the radio refused to disconnect: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
