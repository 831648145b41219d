//! [`HciRadio`]: an HCI controller as a [`Radio`] on the Mesh advertising bearer, and the task
//! that keeps it going.
//!
//! One task (the supervisor) owns the connection ([`super::link::Link`]): it advertises the
//! frames `send` queued, one advertising event each ([`super::controller::transmit`]), handles
//! what the controller says by itself, and runs the watchdog. The link's reader task hands mesh
//! frames straight to `recv`'s queue. Bounded queues both ways; what does not fit is dropped and
//! counted ([`HciStats`]).
//!
//! Failures, and what the supervisor does about them:
//! - a command refused, not answered in time (including the watchdog's probe), a Hardware
//!   Error event (Core v5.4 Vol 4 Part E §7.7.16), or a controller that restarted by itself (an
//!   unsolicited Command Complete for HCI_Reset or the no-operation opcode): reset and bring up
//!   again on the same connection ([`HciState::Recovering`]);
//! - the stream ends or fails (a dongle unplugged, a socket closed), or recovery fails:
//!   reconnect with backoff ([`HciState::Reconnecting`]; frames sent meanwhile are dropped,
//!   counted), until [`super::Backoff::give_up_after`], when `recv` answers the error and the
//!   radio is [`HciState::Gone`].
//!
//! Each of these is logged (`tracing`, target `weft::hci`) with the command and status that
//! failed. Nothing here panics on what a controller sends.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use rand_core::{OsRng, RngCore};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant as TokioInstant};

use super::controller::{bring_up, probe, transmit, ControllerInfo, Sent};
use super::link::{Ctl, Link, Shared, Timeouts};
use super::mesh::check_tx;
use super::transport::{connect, HciStream};
use super::{HciConfig, HciError, HciState, HciStats};
use crate::sim::random_static;
use crate::{Caps, Radio, RadioError, RadioFuture, RadioUri, RxFrame, TxFrame};

/// Opens a byte stream to the controller, each time the radio (re)connects.
pub type Connector = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<HciStream, RadioError>> + Send>> + Send + Sync,
>;

/// An HCI controller as a [`Radio`] (see the module documentation).
#[derive(Debug)]
pub struct HciRadio {
    name: String,
    tx: mpsc::Sender<TxFrame>,
    frames: mpsc::Receiver<RxFrame>,
    errors: mpsc::Receiver<RadioError>,
    state: watch::Receiver<HciState>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for HciRadio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HciRadio {
    /// Opens the controller `uri` names (an `hci`, `hci-tcp`, `hci-unix` or `hci-user` URI):
    /// connects, resets and brings it up. The first failure is the error, one sentence that
    /// starts with the URI.
    pub async fn open(uri: &RadioUri, config: HciConfig) -> Result<HciRadio, RadioError> {
        let u = uri.clone();
        let connector: Connector = Box::new(move || {
            let u = u.clone();
            Box::pin(async move { connect(&u).await })
        });
        let hint = match uri {
            RadioUri::Hci { .. } => {
                " (is it an HCI controller? check the URI's baud and rtscts against its firmware)"
            }
            _ => "",
        };
        Self::start(uri.to_string(), connector, config, hint).await
    }

    /// Opens a controller reached by `connect` (called again for each reconnection); `name`
    /// starts every error. For tests and tools that bring their own byte stream.
    pub async fn with_connector(
        name: impl Into<String>,
        connect: Connector,
        config: HciConfig,
    ) -> Result<HciRadio, RadioError> {
        Self::start(name.into(), connect, config, "").await
    }

    async fn start(
        name: String,
        connect: Connector,
        config: HciConfig,
        timeout_hint: &str,
    ) -> Result<HciRadio, RadioError> {
        let address = random_static(config.address.unwrap_or_else(|| {
            let mut a = [0u8; 6];
            OsRng.fill_bytes(&mut a);
            a
        }));
        let shared = Arc::new(Shared {
            stats: Mutex::new(HciStats::default()),
        });
        let (frames_tx, frames) = mpsc::channel(config.rx_queue.max(1));
        let (tx, tx_rx) = mpsc::channel(config.tx_queue.max(1));
        let (errors_tx, errors) = mpsc::channel(4);
        let stream = connect().await?;
        let mut link = Link::start(stream, frames_tx.clone(), shared.clone(), timeouts(&config));
        let info = bring_up(&mut link, &config, address).await.map_err(|e| {
            let hint = match e {
                HciError::Timeout { .. } => timeout_hint,
                _ => "",
            };
            radio_error(&name, e, hint)
        })?;
        tracing::info!(target: "weft::hci", "{name}: up, {:?} advertising from {}", info.advertising, show(&info.address));
        let (state_tx, state) = watch::channel(HciState::Ready(info.clone()));
        let sup = Supervisor {
            name: name.clone(),
            cfg: config,
            connect,
            address,
            shared: shared.clone(),
            frames: frames_tx,
            errors: errors_tx,
            state: state_tx,
            tx: tx_rx,
        };
        let task = tokio::spawn(sup.run(link, info));
        Ok(HciRadio {
            name,
            tx,
            frames,
            errors,
            state,
            shared,
            task,
        })
    }

    /// Where the radio is now; a receiver to watch it change.
    pub fn state(&self) -> watch::Receiver<HciState> {
        self.state.clone()
    }

    /// What bring-up learnt, while the radio is ready.
    pub fn info(&self) -> Option<ControllerInfo> {
        match &*self.state.borrow() {
            HciState::Ready(i) => Some(i.clone()),
            _ => None,
        }
    }

    /// What the radio has seen and done so far.
    pub fn stats(&self) -> HciStats {
        self.shared.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn gone(&self) -> RadioError {
        match &*self.state.borrow() {
            HciState::Gone { reason } => RadioError::Unavailable(reason.clone()),
            _ => RadioError::Unavailable(format!("{}: the HCI radio stopped", self.name)),
        }
    }
}

impl Radio for HciRadio {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }

    /// Queues `frame` for one advertising event. A frame that does not fit the queue, or
    /// comes while the controller is away, is dropped and counted.
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            check_tx(&frame)?;
            let ready = match &*self.state.borrow() {
                HciState::Ready(_) => true,
                HciState::Gone { .. } => return Err(self.gone()),
                _ => false,
            };
            if !ready {
                self.shared.bump(|s| s.tx_dropped += 1);
                return Ok(());
            }
            match self.tx.try_send(frame) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.shared.bump(|s| s.tx_dropped += 1);
                    tracing::debug!(target: "weft::hci", "{}: the send queue is full, a frame is dropped", self.name);
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(self.gone()),
            }
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            tokio::select! {
                biased;
                Some(e) = self.errors.recv() => Err(e),
                f = self.frames.recv() => match f {
                    Some(f) => Ok(f),
                    None => Err(self.errors.try_recv().unwrap_or_else(|_| self.gone())),
                },
            }
        })
    }
}

fn timeouts(cfg: &HciConfig) -> Timeouts {
    Timeouts {
        command: cfg.command_timeout,
        reset: cfg.reset_timeout,
        partial: cfg.partial_packet_timeout,
    }
}

/// `name: error`, as a [`RadioError`] of the kind the error is.
fn radio_error(name: &str, e: HciError, hint: &str) -> RadioError {
    let msg = format!("{name}: {e}{hint}");
    match e {
        HciError::Unsupported(_) => RadioError::Unsupported(msg),
        HciError::Lost(_) | HciError::Timeout { .. } => RadioError::Unavailable(msg),
        _ => RadioError::Protocol(msg),
    }
}

fn show(a: &[u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        a[5], a[4], a[3], a[2], a[1], a[0]
    )
}

/// Why [`Supervisor::serve`] returned.
enum End {
    /// The radio was dropped.
    Shutdown,
    /// The controller needs a reset and bring-up.
    Recover(String),
    /// The stream is gone.
    Lost(String),
}

struct Supervisor {
    name: String,
    cfg: HciConfig,
    connect: Connector,
    address: [u8; 6],
    shared: Arc<Shared>,
    frames: mpsc::Sender<RxFrame>,
    errors: mpsc::Sender<RadioError>,
    state: watch::Sender<HciState>,
    tx: mpsc::Receiver<TxFrame>,
}

impl Supervisor {
    async fn run(mut self, link: Link, info: ControllerInfo) {
        let mut current = Some((link, info));
        while let Some((mut link, info)) = current.take() {
            let reason = match self.serve(&mut link, &info).await {
                End::Shutdown => return,
                End::Recover(reason) => match self.recover(&mut link, reason).await {
                    Ok(info) => {
                        current = Some((link, info));
                        continue;
                    }
                    Err(reason) => reason,
                },
                End::Lost(reason) => reason,
            };
            drop(link);
            current = self.reconnect(reason).await;
        }
    }

    /// Runs the ready controller until it needs help.
    async fn serve(&mut self, link: &mut Link, info: &ControllerInfo) -> End {
        loop {
            let due = self.cfg.watchdog.map(|w| link.last_answer + w);
            let watchdog = async {
                match due {
                    Some(t) => sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                c = link.next_ctl() => match c {
                    Ctl::Lost(why) => return End::Lost(why),
                    Ctl::HardwareError(code) => {
                        return End::Recover(HciError::HardwareError { code }.to_string())
                    }
                    other => {
                        if link.unsolicited(&other) {
                            return End::Recover("the controller restarted by itself".into());
                        }
                    }
                },
                f = self.tx.recv() => {
                    let Some(f) = f else { return End::Shutdown };
                    match transmit(link, info.advertising, &self.cfg, &f.bytes).await {
                        Ok(sent) => self.shared.bump(|s| {
                            s.tx_frames += 1;
                            if sent == Sent::NotTerminated {
                                s.adv_not_terminated += 1;
                            }
                        }),
                        Err(e) => {
                            self.shared.bump(|s| s.tx_failed += 1);
                            return self.failed(e);
                        }
                    }
                }
                () = watchdog => {
                    self.shared.bump(|s| s.watchdog_probes += 1);
                    if let Err(e) = probe(link, info).await {
                        return self.failed(e);
                    }
                }
            }
        }
    }

    fn failed(&self, e: HciError) -> End {
        tracing::warn!(target: "weft::hci", "{}: {e}", self.name);
        match e {
            HciError::Lost(why) => End::Lost(why),
            other => End::Recover(other.to_string()),
        }
    }

    /// Resets and brings up the controller on the same link.
    async fn recover(&mut self, link: &mut Link, reason: String) -> Result<ControllerInfo, String> {
        tracing::warn!(target: "weft::hci", "{}: {reason}; resetting the controller", self.name);
        self.shared.bump(|s| s.recoveries += 1);
        self.state.send_replace(HciState::Recovering {
            reason: reason.clone(),
        });
        match bring_up(link, &self.cfg, self.address).await {
            Ok(info) => {
                self.ready(&info);
                Ok(info)
            }
            Err(e) => Err(format!("{reason}, and bringing it up again failed: {e}")),
        }
    }

    fn ready(&self, info: &ControllerInfo) {
        tracing::info!(target: "weft::hci", "{}: up again, {:?} advertising", self.name, info.advertising);
        self.state.send_replace(HciState::Ready(info.clone()));
    }

    /// Gets a new link with backoff, or gives up (`None`, the error handed to `recv`), or
    /// stops because the radio was dropped (`None`).
    async fn reconnect(&mut self, reason: String) -> Option<(Link, ControllerInfo)> {
        tracing::warn!(target: "weft::hci", "{}: {reason}; reconnecting", self.name);
        let backoff = self.cfg.reconnect;
        let started = TokioInstant::now();
        let mut delay = backoff.first;
        let mut last = reason.clone();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.state.send_replace(HciState::Reconnecting {
                reason: last.clone(),
                attempt,
                retry_in: delay,
            });
            let until = TokioInstant::now() + delay;
            loop {
                tokio::select! {
                    () = sleep_until(until) => break,
                    f = self.tx.recv() => match f {
                        None => return None,
                        Some(_) => self.shared.bump(|s| s.tx_dropped += 1),
                    },
                }
            }
            self.shared.bump(|s| s.reconnect_attempts += 1);
            match self.connect_once().await {
                Ok((link, info)) => {
                    self.shared.bump(|s| s.reconnects += 1);
                    self.ready(&info);
                    return Some((link, info));
                }
                Err(e) => {
                    tracing::debug!(target: "weft::hci", "{}: attempt {attempt}: {e}", self.name);
                    last = e;
                }
            }
            if backoff
                .give_up_after
                .is_some_and(|limit| started.elapsed() >= limit)
            {
                let msg = format!(
                    "{}: the controller was lost ({reason}) and did not come back after {attempt} \
                     attempts over {} s; the last one: {last}",
                    self.name,
                    started.elapsed().as_secs()
                );
                tracing::error!(target: "weft::hci", "{msg}");
                self.state.send_replace(HciState::Gone {
                    reason: msg.clone(),
                });
                let _ = self.errors.try_send(RadioError::Unavailable(msg));
                return None;
            }
            delay = (delay * 2).min(backoff.max);
        }
    }

    async fn connect_once(&mut self) -> Result<(Link, ControllerInfo), String> {
        let stream = (self.connect)().await.map_err(|e| e.to_string())?;
        let mut link = Link::start(
            stream,
            self.frames.clone(),
            self.shared.clone(),
            timeouts(&self.cfg),
        );
        let info = bring_up(&mut link, &self.cfg, self.address)
            .await
            .map_err(|e| e.to_string())?;
        Ok((link, info))
    }
}
