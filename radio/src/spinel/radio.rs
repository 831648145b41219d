//! [`SpinelRadio`]: an OpenThread RCP as a [`Radio`] on IEEE 802.15.4, and the task that keeps
//! it going.
//!
//! The link's reader task hands received frames straight to `recv`'s queue; one task (the
//! supervisor) owns the writing half: it transmits the frames `send` queued, one at a time,
//! each answered by the RCP's transmit-done `LAST_STATUS` (OpenThread
//! `NcpBase::LinkRawTransmitDone`), which becomes a `RadioEvent::TxDone` (`mac.rs`); changes
//! the channel and the source-match table when asked, and, when the RCP restarts by itself,
//! brings it up again. A stream that ends or fails is reopened with backoff (frames
//! sent meanwhile wait in the bounded queue, or are dropped and counted when it is full) until
//! [`super::Backoff::give_up_after`], when `recv` answers the error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::link::{Event, Link, LinkError, Shared, SpinelIo};
use super::mac::{self, SrcMatch};
use super::rcp::{bring_up, configure, BringUpError, RcpInfo};
use super::wire::{self, Reader, PROP_LAST_STATUS, PROP_PHY_CHAN, PROP_STREAM_RAW};
use super::{SpinelConfig, SpinelStats, DEFAULT_BAUD};
use crate::{Caps, Radio, RadioError, RadioEvent, RadioFuture, RadioUri, RxFrame, TxDone, TxFrame};
use weft_mesh::thread::mac::Address;
use weft_mesh::thread::radio::MacSettings;

/// An OpenThread RCP as a [`Radio`] (see the module documentation).
#[derive(Debug)]
pub struct SpinelRadio {
    name: String,
    tx: mpsc::Sender<TxFrame>,
    ctl: mpsc::Sender<Ctl>,
    frames: mpsc::Receiver<RxFrame>,
    done: mpsc::Receiver<TxDone>,
    errors: mpsc::Receiver<RadioError>,
    info: watch::Receiver<RcpInfo>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SpinelRadio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a byte stream to the RCP, each time the radio (re)connects.
pub type Connector = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Box<dyn SpinelIo>, RadioError>> + Send>>
        + Send
        + Sync,
>;

#[derive(Debug)]
enum Ctl {
    Channel(u8, oneshot::Sender<Result<(), RadioError>>),
    SrcMatch(SrcMatch, oneshot::Sender<Result<(), RadioError>>),
    Mac(Option<MacSettings>, oneshot::Sender<Result<(), RadioError>>),
}

impl SpinelRadio {
    /// Opens the RCP a `spinel:` URI names: the serial port at the URI's baud rate (else
    /// [`DEFAULT_BAUD`]), on the URI's channel (else `config.channel`). The first failure is
    /// the error, one sentence that starts with the URI.
    pub async fn open(uri: &RadioUri, mut config: SpinelConfig) -> Result<SpinelRadio, RadioError> {
        let RadioUri::Spinel {
            device,
            baud,
            channel,
        } = uri
        else {
            return Err(RadioError::Unsupported(format!(
                "{uri} is not a Spinel radio"
            )));
        };
        if let Some(c) = channel {
            config.channel = *c;
        }
        let (name, device, baud) = (
            uri.to_string(),
            device.clone(),
            baud.unwrap_or(DEFAULT_BAUD),
        );
        let connect: Connector = Box::new(move || {
            let port = crate::serial::open(&name, &device, baud, false);
            Box::pin(async move { port.map(|p| Box::new(p) as Box<dyn SpinelIo>) })
        });
        Self::with_connector(uri.to_string(), connect, config).await
    }

    /// Opens an RCP reached by `connect` (called again for each reconnection); `name` starts
    /// every error.
    pub async fn with_connector(
        name: impl Into<String>,
        connect: Connector,
        config: SpinelConfig,
    ) -> Result<SpinelRadio, RadioError> {
        let stream = connect().await?;
        Self::start(name.into(), stream, Some(connect), config).await
    }

    /// Opens an RCP at the other end of `stream`; `name` starts every error. For tests and tools
    /// that bring their own byte stream; a stream that ends ends the radio (nothing to reopen).
    pub async fn with_stream(
        name: impl Into<String>,
        stream: Box<dyn SpinelIo>,
        config: SpinelConfig,
    ) -> Result<SpinelRadio, RadioError> {
        Self::start(name.into(), stream, None, config).await
    }

    async fn start(
        name: String,
        stream: Box<dyn SpinelIo>,
        connect: Option<Connector>,
        config: SpinelConfig,
    ) -> Result<SpinelRadio, RadioError> {
        check_channel(&name, config.channel)?;
        let shared = Arc::new(Shared::default());
        let (frames_tx, frames) = mpsc::channel(config.rx_queue.max(1));
        let (done_tx, done) = mpsc::channel(config.tx_queue.max(1));
        let (tx, tx_rx) = mpsc::channel(config.tx_queue.max(1));
        let (ctl, ctl_rx) = mpsc::channel(4);
        let (errors_tx, errors) = mpsc::channel(4);
        let mut link = Link::start(
            stream,
            frames_tx.clone(),
            shared.clone(),
            config.write_timeout,
        );
        let s2 = shared.clone();
        let info = bring_up(&mut link, &config, move || s2.get())
            .await
            .map_err(|e| bring_up_error(&name, &e))?;
        tracing::info!(target: "weft::spinel", "{name}: up, Spinel {}.{}, RCP API {:?}, '{}', channel {}", info.protocol.0, info.protocol.1, info.rcp_api_version, info.firmware, info.channel);
        let (info_tx, info_rx) = watch::channel(info);
        let sup = Supervisor {
            name: name.clone(),
            cfg: config,
            link,
            connect,
            frames: frames_tx,
            shared: shared.clone(),
            errors: errors_tx,
            info: info_tx,
            tx: tx_rx,
            ctl: ctl_rx,
            done: done_tx,
            kept: Kept::default(),
        };
        let task = tokio::spawn(sup.run());
        Ok(SpinelRadio {
            name,
            tx,
            ctl,
            frames,
            done,
            errors,
            info: info_rx,
            shared,
            task,
        })
    }

    /// What bring-up learnt, and the channel now.
    pub fn info(&self) -> RcpInfo {
        self.info.borrow().clone()
    }

    /// What the radio has seen and done so far.
    pub fn stats(&self) -> SpinelStats {
        self.shared.get()
    }

    /// Listens (and sends) on `channel` (11..=26) from now on.
    pub async fn set_channel(&self, channel: u8) -> Result<(), RadioError> {
        check_channel(&self.name, channel)?;
        let (reply, answer) = oneshot::channel();
        self.ctl
            .send(Ctl::Channel(channel, reply))
            .await
            .map_err(|_| self.gone())?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Gives the RCP the station's PAN ID and addresses and turns promiscuous mode off: from
    /// then on it passes up only frames for them (and broadcasts) and acknowledges by itself
    /// the frames with AR addressed to them, with Frame Pending from the source-match table.
    /// `None` turns full promiscuous mode back on (hear everything, acknowledge nothing: how the
    /// radio opens). Kept and given again when the RCP restarts or is reopened.
    pub async fn set_mac(&self, settings: Option<MacSettings>) -> Result<(), RadioError> {
        let (reply, answer) = oneshot::channel();
        self.ctl
            .send(Ctl::Mac(settings, reply))
            .await
            .map_err(|_| self.gone())?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Changes the RCP's source-match table: which Data Requests its acks answer with Frame
    /// Pending (802.15.4-2015 §6.7.3; a parent lists the sleepy children it holds frames for).
    /// A refusal or no answer is an error. The table is kept and given again when the RCP
    /// restarts or is reopened (at most [`SRC_MATCH_KEPT`] entries are kept).
    pub async fn source_match(&self, change: SrcMatch) -> Result<(), RadioError> {
        let (reply, answer) = oneshot::channel();
        self.ctl
            .send(Ctl::SrcMatch(change, reply))
            .await
            .map_err(|_| self.gone())?;
        answer.await.map_err(|_| self.gone())?
    }

    fn gone(&self) -> RadioError {
        RadioError::Unavailable(format!("{}: the Spinel radio stopped", self.name))
    }
}

fn check_channel(name: &str, channel: u8) -> Result<(), RadioError> {
    if (11..=26).contains(&channel) {
        Ok(())
    } else {
        Err(RadioError::Unsupported(format!(
            "{name}: channel {channel} is not an IEEE 802.15.4 channel of the 2.4 GHz band (11 to 26)"
        )))
    }
}

fn bring_up_error(name: &str, e: &BringUpError) -> RadioError {
    let msg = format!("{name}: {}", e.text());
    match e {
        BringUpError::Silent(_) | BringUpError::Lost(_) => RadioError::Unavailable(msg),
        BringUpError::Version(_) | BringUpError::Refused(_) => RadioError::Protocol(msg),
    }
}

use crate::wpan::check_tx;

impl Radio for SpinelRadio {
    fn caps(&self) -> Caps {
        Caps::IEEE802154
    }

    /// The station's channel, PAN and addresses to the RCP ([`SpinelRadio::set_mac`]), and
    /// its source-match table, emptied and filled again.
    fn set_mac(&mut self, mac: Option<weft_mesh::thread::radio::RadioMac>) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            if let Some(m) = &mac {
                SpinelRadio::set_channel(self, m.settings.channel).await?;
            }
            SpinelRadio::set_mac(self, mac.as_ref().map(|m| m.settings)).await?;
            self.source_match(SrcMatch::Clear).await?;
            for a in mac.iter().flat_map(|m| &m.pending) {
                self.source_match(SrcMatch::Add(*a)).await?;
            }
            Ok(())
        })
    }

    /// Queues `frame` to be sent; a frame that does not fit the queue is dropped and counted.
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            check_tx(&frame)?;
            match self.tx.try_send(frame) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.shared.bump(|s| s.tx_dropped += 1);
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    Err(self.errors.try_recv().unwrap_or_else(|_| self.gone()))
                }
            }
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            tokio::select! {
                biased;
                f = self.frames.recv() => match f {
                    Some(f) => Ok(f),
                    // The reader ended: the supervisor says why.
                    None => Err(self.errors.recv().await.unwrap_or_else(|| self.gone())),
                },
                Some(e) = self.errors.recv() => Err(e),
            }
        })
    }

    /// Frames heard and transmit statuses (`RadioEvent::TxDone`, one per frame sent, in
    /// order). A status and a frame heard at about the same time may come in either order (the
    /// RCP's answer and its next received frame travel apart).
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            tokio::select! {
                biased;
                Some(d) = self.done.recv() => Ok(RadioEvent::TxDone(d)),
                f = self.frames.recv() => match f {
                    Some(f) => Ok(RadioEvent::Frame(f)),
                    None => Err(self.errors.recv().await.unwrap_or_else(|| self.gone())),
                },
                Some(e) = self.errors.recv() => Err(e),
            }
        })
    }
}

/// Why a change of the RCP's MAC settings did not happen.
enum SrcMatchError {
    /// The link failed (the supervisor deals with it as with any request).
    Link(LinkError),
    /// The RCP said no, or something else.
    Refused(String),
}

impl SrcMatchError {
    fn text(&self) -> String {
        match self {
            SrcMatchError::Link(e) => format!("{e:?}"),
            SrcMatchError::Refused(why) => why.clone(),
        }
    }
}

/// Source-match entries kept to give a restarted RCP again.
pub const SRC_MATCH_KEPT: usize = 64;

/// What the host gave the RCP beyond bring-up, to give it again after a restart.
#[derive(Debug, Clone, Default)]
struct Kept {
    mac: Option<MacSettings>,
    src_on: Option<bool>,
    table: Vec<Address>,
}

impl Kept {
    fn note(&mut self, change: SrcMatch) {
        match change {
            SrcMatch::Enable(on) => self.src_on = Some(on),
            SrcMatch::Add(Address::None) | SrcMatch::Remove(Address::None) => {}
            SrcMatch::Add(a) => {
                if !self.table.contains(&a) && self.table.len() < SRC_MATCH_KEPT {
                    self.table.push(a);
                }
            }
            SrcMatch::Remove(a) => self.table.retain(|x| *x != a),
            SrcMatch::Clear => self.table.clear(),
        }
    }
}

struct Supervisor {
    name: String,
    cfg: SpinelConfig,
    link: Link,
    connect: Option<Connector>,
    frames: mpsc::Sender<RxFrame>,
    shared: Arc<Shared>,
    errors: mpsc::Sender<RadioError>,
    info: watch::Sender<RcpInfo>,
    tx: mpsc::Receiver<TxFrame>,
    ctl: mpsc::Receiver<Ctl>,
    done: mpsc::Sender<TxDone>,
    kept: Kept,
}

impl Supervisor {
    async fn run(mut self) {
        let why = self.serve().await;
        tracing::warn!(target: "weft::spinel", "{why}");
        let _ = self.errors.send(RadioError::Unavailable(why)).await;
    }

    /// Serves until the RCP is lost: why.
    async fn serve(&mut self) -> String {
        loop {
            let result = tokio::select! {
                f = self.tx.recv() => match f {
                    Some(f) => self.transmit(f).await,
                    None => return format!("{}: closed", self.name),
                },
                Some(c) = self.ctl.recv() => match c {
                    Ctl::Channel(ch, reply) => {
                        let r = self.set_channel(ch).await;
                        let out = r.clone().map_err(|e| RadioError::Protocol(format!("{}: cannot change channel: {e:?}", self.name)));
                        let _ = reply.send(out);
                        r.map(|_| ())
                    }
                    Ctl::Mac(settings, reply) => match self.apply_mac(settings).await {
                        Ok(()) => {
                            self.kept.mac = settings;
                            let _ = reply.send(Ok(()));
                            Ok(())
                        }
                        Err(SrcMatchError::Refused(why)) => {
                            let _ = reply.send(Err(RadioError::Protocol(format!("{}: {why}", self.name))));
                            Ok(())
                        }
                        Err(SrcMatchError::Link(e)) => {
                            let _ = reply.send(Err(RadioError::Unavailable(format!(
                                "{}: the RCP did not answer setting its addresses",
                                self.name
                            ))));
                            Err(e)
                        }
                    },
                    Ctl::SrcMatch(change, reply) => match self.src_match(change).await {
                        Ok(()) => {
                            self.kept.note(change);
                            let _ = reply.send(Ok(()));
                            Ok(())
                        }
                        Err(SrcMatchError::Refused(why)) => {
                            let _ = reply.send(Err(RadioError::Protocol(format!("{}: {why}", self.name))));
                            Ok(())
                        }
                        Err(SrcMatchError::Link(e)) => {
                            let _ = reply.send(Err(RadioError::Unavailable(format!(
                                "{}: the RCP did not answer the source-match change {change:?}",
                                self.name
                            ))));
                            Err(e)
                        }
                    },
                },
                ev = self.link.events.recv() => match ev {
                    Some(Event::Reset(r)) => Err(LinkError::Reset(r)),
                    Some(Event::Lost(why)) => Err(LinkError::Lost(why)),
                    Some(Event::Answer { .. }) => {
                        self.shared.bump(|s| s.unmatched_answers += 1);
                        Ok(())
                    }
                    None => Err(LinkError::Lost("the reader stopped".into())),
                },
            };
            match result {
                Ok(()) => {}
                Err(LinkError::Reset(r)) => {
                    self.shared.bump(|s| s.unexpected_resets += 1);
                    tracing::warn!(target: "weft::spinel", "{}: the RCP restarted by itself ({}); bringing it up again", self.name, wire::status_name(r));
                    let ch = self.info.borrow().channel;
                    let st = self.shared.clone();
                    if let Err(e) = configure(&mut self.link, &self.cfg, ch, &move || st.get()).await {
                        return format!("{}: the RCP restarted and could not be brought up again: {}", self.name, e.text());
                    }
                    self.restore().await;
                }
                Err(LinkError::Lost(why)) => {
                    if let Err(end) = self.reconnect(why).await {
                        return end;
                    }
                    self.restore().await;
                }
                Err(LinkError::WriteStalled) => {
                    return format!(
                        "{}: writing to the RCP stalled for {} ms (hardware flow control holding the line?)",
                        self.name,
                        self.cfg.write_timeout.as_millis()
                    )
                }
                // A transmission or a request not answered in time: counted, carry on.
                Err(LinkError::Timeout) => {}
            }
        }
    }

    /// Reopens the RCP with backoff and brings it up again on the channel it had; why not.
    async fn reconnect(&mut self, why: String) -> Result<(), String> {
        let lost = format!("{}: the RCP was lost: {why}", self.name);
        let Some(connect) = self.connect.as_ref() else {
            return Err(lost);
        };
        tracing::warn!(target: "weft::spinel", "{lost}; reconnecting");
        let b = self.cfg.reconnect;
        let started = tokio::time::Instant::now();
        let mut delay = b.first;
        let mut last: String;
        let mut attempt = 0u32;
        loop {
            tokio::time::sleep(delay).await;
            attempt += 1;
            self.shared.bump(|s| s.reconnect_attempts += 1);
            match connect().await {
                Ok(stream) => {
                    let mut link = Link::start(
                        stream,
                        self.frames.clone(),
                        self.shared.clone(),
                        self.cfg.write_timeout,
                    );
                    let cfg = SpinelConfig {
                        channel: self.info.borrow().channel,
                        ..self.cfg.clone()
                    };
                    let st = self.shared.clone();
                    match bring_up(&mut link, &cfg, move || st.get()).await {
                        Ok(info) => {
                            self.link = link;
                            self.info.send_replace(info);
                            self.shared.bump(|s| s.reconnects += 1);
                            tracing::info!(target: "weft::spinel", "{}: back after {attempt} attempts", self.name);
                            return Ok(());
                        }
                        Err(e) => last = e.text().to_string(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            if started.elapsed() >= b.give_up_after {
                return Err(format!(
                    "{lost}, and it did not come back after {attempt} attempts over {} s (the \
                     last: {last})",
                    started.elapsed().as_secs()
                ));
            }
            delay = (delay * 2).min(b.max);
        }
    }

    async fn set_channel(&mut self, ch: u8) -> Result<(), LinkError> {
        let tid = self.link.tid();
        let answer = self
            .link
            .request(
                tid,
                &wire::prop_set(tid, PROP_PHY_CHAN, &[ch]),
                self.cfg.command_timeout,
            )
            .await?;
        match super::rcp::value_of(answer, PROP_PHY_CHAN, "PHY_CHAN") {
            Ok(_) => {
                self.info.send_modify(|i| i.channel = ch);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(target: "weft::spinel", "{}: {}", self.name, e.text());
                Err(LinkError::Timeout)
            }
        }
    }

    /// Gives a restarted or reopened RCP the addresses and source-match table it had (what it
    /// refuses is counted and logged; the radio carries on).
    async fn restore(&mut self) {
        let kept = self.kept.clone();
        if kept.mac.is_some() {
            if let Err(e) = self.apply_mac(kept.mac).await {
                tracing::warn!(target: "weft::spinel", "{}: the restarted RCP did not take its addresses again: {}", self.name, e.text());
            }
        }
        let mut changes: Vec<SrcMatch> = kept.src_on.map(SrcMatch::Enable).into_iter().collect();
        changes.extend(kept.table.iter().map(|a| SrcMatch::Add(*a)));
        for change in changes {
            if let Err(e) = self.src_match(change).await {
                tracing::warn!(target: "weft::spinel", "{}: the restarted RCP did not take {change:?} again: {}", self.name, e.text());
                return;
            }
        }
    }

    /// Sets the address properties ([`mac::mac_settings_props`]) one after the other.
    async fn apply_mac(&mut self, settings: Option<MacSettings>) -> Result<(), SrcMatchError> {
        for (prop, value) in mac::mac_settings_props(settings.as_ref()) {
            self.request_prop(
                wire::CMD_PROP_VALUE_SET,
                prop,
                &value,
                "setting its addresses",
            )
            .await?;
        }
        Ok(())
    }

    /// One set/insert/remove request; the RCP's answer checked.
    async fn request_prop(
        &mut self,
        cmd: u32,
        prop: u32,
        value: &[u8],
        what: &str,
    ) -> Result<(), SrcMatchError> {
        let tid = self.link.tid();
        let (command, payload) = self
            .link
            .request(
                tid,
                &wire::prop_command(tid, cmd, prop, value),
                self.cfg.command_timeout,
            )
            .await
            .map_err(SrcMatchError::Link)?;
        let frame = wire::Frame {
            iid: 0,
            tid,
            command,
            payload: &payload,
        };
        match frame.property() {
            Ok((p, _)) if p == prop && command == mac::answer_command(cmd) => Ok(()),
            Ok((PROP_LAST_STATUS, v)) => {
                let st = Reader::new(v).packed("status").unwrap_or(u32::MAX);
                Err(SrcMatchError::Refused(format!(
                    "the RCP refused {what}: {}",
                    wire::status_name(st)
                )))
            }
            _ => Err(SrcMatchError::Refused(format!(
                "the RCP answered {what} with something else (command {command})"
            ))),
        }
    }

    /// One change of the source-match table (two requests for `Clear`).
    async fn src_match(&mut self, change: SrcMatch) -> Result<(), SrcMatchError> {
        let Some(first) = mac::encode(change) else {
            return Ok(());
        };
        let mut requests = vec![first];
        if change == SrcMatch::Clear {
            requests.push((mac::CLEAR_EXTENDED.0, mac::CLEAR_EXTENDED.1, Vec::new()));
        }
        let what = format!("the source-match change {change:?}");
        for (cmd, prop, value) in requests {
            if let Err(e) = self.request_prop(cmd, prop, &value, &what).await {
                self.shared.bump(|s| s.src_match_failed += 1);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Hands a transmit status to `recv_event` (counted when nobody takes them).
    fn report(&self, done: TxDone) {
        if done.frame_pending {
            self.shared.bump(|s| s.tx_acked_frame_pending += 1);
        }
        if self.done.try_send(done).is_err() {
            self.shared.bump(|s| s.tx_done_dropped += 1);
        }
    }

    /// Sends one frame and waits for its transmit-done status.
    async fn transmit(&mut self, frame: TxFrame) -> Result<(), LinkError> {
        let ch = self.info.borrow().channel;
        let mac_len = frame.bytes.len();
        // The PSDU: the MAC frame and two octets for the FCS, which the RCP computes.
        let mut psdu = frame.bytes;
        psdu.extend_from_slice(&[0, 0]);
        let value = wire::stream_raw_tx(&psdu, ch, self.cfg.max_backoffs, self.cfg.max_retries);
        let tid = self.link.tid();
        let answer = self
            .link
            .request(
                tid,
                &wire::prop_set(tid, PROP_STREAM_RAW, &value),
                self.cfg.tx_timeout,
            )
            .await;
        let (command, payload) = match answer {
            Ok(a) => a,
            Err(LinkError::Timeout) => {
                self.shared.bump(|s| s.tx_failed += 1);
                tracing::debug!(target: "weft::spinel", "{}: a transmission was not reported done in time", self.name);
                self.report(mac::tx_done(&psdu[..mac_len], None, None));
                return Err(LinkError::Timeout);
            }
            Err(e) => {
                self.shared.bump(|s| s.tx_failed += 1);
                self.report(mac::tx_done(&psdu[..mac_len], None, None));
                return Err(e);
            }
        };
        let frame = wire::Frame {
            iid: 0,
            tid,
            command,
            payload: &payload,
        };
        let (status, fp) = match frame.property() {
            Ok((PROP_LAST_STATUS, v)) => mac::parse_tx_done(v),
            _ => (u32::MAX, None),
        };
        self.report(mac::tx_done(&psdu[..mac_len], Some(status), fp));
        self.shared.bump(|s| match status {
            wire::STATUS_OK => s.tx_frames += 1,
            wire::STATUS_NO_ACK => s.tx_no_ack += 1,
            wire::STATUS_CCA_FAILURE => s.tx_cca_failure += 1,
            _ => s.tx_failed += 1,
        });
        if status != wire::STATUS_OK {
            tracing::debug!(target: "weft::spinel", "{}: transmission ended with {}", self.name, wire::status_name(status));
        }
        Ok(())
    }
}
