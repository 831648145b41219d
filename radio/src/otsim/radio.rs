//! [`OtSimRadio`]: a node of the OpenThread simulation's air as a [`Radio`]: a reader task
//! (frames heard, the acks awaited, the Imm-Acks it sends for frames addressed to it) and a
//! transmit task (one frame at a time, waiting for its ack and retrying; `mac.rs`).

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use weft_mesh::thread::mac::Frame;
use weft_mesh::thread::radio::{MacSettings, RadioMac};
use weft_mesh::wire::Wire;

use super::mac::{ack_wanted, MacState, ACK_TIMEOUT, MAX_FRAME_RETRIES};
use super::{datagram, parse_datagram, ports, DEFAULT_CHANNEL, GROUP, LOCAL};
use crate::wpan::SrcMatch;
use crate::{
    Bearer, Caps, Instant, Radio, RadioError, RadioEvent, RadioFuture, RadioUri, RxFrame, TxDone,
    TxFrame, TxStatus,
};

/// What a simulation radio has seen and done since it opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OtSimStats {
    /// Datagrams read; of those: its own (dropped), on another channel than the one set
    /// (dropped), not a frame (dropped).
    pub datagrams: u64,
    pub own: u64,
    pub other_channel: u64,
    pub malformed: u64,
    /// Frames handed to `recv`, dropped because its queue was full; of those handed over, the
    /// ones whose FCS did not match.
    pub frames: u64,
    pub dropped: u64,
    pub fcs_bad: u64,
    /// Datagrams of frames sent (retransmissions included); frames dropped because the
    /// transmit queue was full; sends the socket refused.
    pub sent: u64,
    pub tx_dropped: u64,
    pub send_errors: u64,
    /// Frames acknowledged (with Frame Pending); not acknowledged after the retries;
    /// retransmissions.
    pub tx_acked: u64,
    pub tx_acked_frame_pending: u64,
    pub tx_no_ack: u64,
    pub retries: u64,
    /// Imm-Acks sent for frames addressed to this radio (once told its addresses).
    pub acks_sent: u64,
    /// Transmit statuses not taken because nobody read `recv_event`.
    pub tx_done_dropped: u64,
}

/// A node of the simulation (see the module documentation).
#[derive(Debug)]
pub struct OtSimRadio {
    name: String,
    /// 0: every channel (and frames are sent on [`DEFAULT_CHANNEL`]).
    channel: Arc<AtomicU8>,
    frames: mpsc::Receiver<RxFrame>,
    queue: mpsc::Sender<TxFrame>,
    done: mpsc::Receiver<TxDone>,
    mac: Arc<Mutex<MacState>>,
    ended: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<OtSimStats>>,
    task: JoinHandle<()>,
    tx_task: JoinHandle<()>,
}

impl Drop for OtSimRadio {
    fn drop(&mut self) {
        self.task.abort();
        self.tx_task.abort();
    }
}

/// Frames waiting for the transmit task; more are dropped, counted.
pub const TX_QUEUE: usize = 64;

/// Frames heard and not yet taken by `recv`; more are dropped, counted.
pub const RX_QUEUE: usize = 1024;

impl OtSimRadio {
    /// Joins the air as the node an `otsim:` URI names. Must be called inside a tokio runtime.
    pub async fn open(uri: &RadioUri) -> Result<OtSimRadio, RadioError> {
        let RadioUri::OtSim {
            node_id,
            port_offset,
        } = uri
        else {
            return Err(RadioError::Unsupported(format!(
                "{uri} is not an OpenThread simulation node"
            )));
        };
        let name = uri.to_string();
        let offset = port_offset.unwrap_or(0);
        let (base, own) = ports(*node_id, offset).ok_or_else(|| {
            RadioError::Unavailable(format!(
                "{name}: node {node_id} with port_offset {offset} gives a port above 65535 \
                 (9000 + 34 × port_offset + node id); give a smaller port_offset"
            ))
        })?;
        let unavailable =
            |what: &str, e: std::io::Error| RadioError::Unavailable(format!("{name}: {what}: {e}"));
        // Sending: from 127.0.0.1:own, multicast through the loopback interface, looped back.
        let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| unavailable("cannot create a UDP socket", e))?;
        tx.set_multicast_if_v4(&LOCAL)
            .and_then(|_| tx.set_multicast_loop_v4(true))
            .map_err(|e| unavailable("cannot send multicast through 127.0.0.1", e))?;
        tx.bind(&SocketAddrV4::new(LOCAL, own).into())
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    RadioError::Unavailable(format!(
                        "{name}: port {own} (9000 + 34 × {offset} + {node_id}) is taken: node \
                     {node_id} is already on this air (an ot-cli-ftd {node_id}, or another \
                     weft); give another node id"
                    ))
                } else {
                    unavailable(&format!("cannot bind 127.0.0.1:{own}"), e)
                }
            })?;
        tx.set_nonblocking(true)
            .map_err(|e| unavailable("cannot make the socket non-blocking", e))?;
        let tx = Arc::new(
            UdpSocket::from_std(tx.into())
                .map_err(|e| unavailable("cannot register the socket", e))?,
        );
        // Receiving: the group's port, shared with every node.
        let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| unavailable("cannot create a UDP socket", e))?;
        rx.set_reuse_address(true)
            .and_then(|_| rx.set_reuse_port(true))
            .map_err(|e| unavailable("cannot share the group's port (SO_REUSEPORT)", e))?;
        rx.set_multicast_if_v4(&LOCAL)
            .map_err(|e| unavailable("cannot use multicast on 127.0.0.1", e))?;
        rx.join_multicast_v4(&GROUP, &LOCAL).map_err(|e| {
            unavailable(
                "cannot join the group 224.0.0.116 on the loopback interface (does lo have \
                 MULTICAST? `ip link set lo multicast on`)",
                e,
            )
        })?;
        rx.bind(&SocketAddrV4::new(GROUP, base).into())
            .map_err(|e| unavailable(&format!("cannot bind 224.0.0.116:{base}"), e))?;
        rx.set_nonblocking(true)
            .map_err(|e| unavailable("cannot make the socket non-blocking", e))?;
        let rx = UdpSocket::from_std(rx.into())
            .map_err(|e| unavailable("cannot register the socket", e))?;
        let channel = Arc::new(AtomicU8::new(0));
        let stats = Arc::new(Mutex::new(OtSimStats::default()));
        let ended = Arc::new(Mutex::new(None));
        let (frames_tx, frames) = mpsc::channel(RX_QUEUE);
        let (queue, queue_rx) = mpsc::channel(TX_QUEUE);
        let (done_tx, done) = mpsc::channel(TX_QUEUE);
        let mac = Arc::new(Mutex::new(MacState::default()));
        let group: SocketAddr = SocketAddrV4::new(GROUP, base).into();
        let task = tokio::spawn(read_loop(
            rx,
            own,
            frames_tx,
            channel.clone(),
            stats.clone(),
            ended.clone(),
            Air {
                tx: tx.clone(),
                group,
                mac: mac.clone(),
            },
        ));
        let tx_task = tokio::spawn(tx_loop(
            Air {
                tx,
                group,
                mac: mac.clone(),
            },
            queue_rx,
            done_tx,
            channel.clone(),
            stats.clone(),
        ));
        tracing::info!(target: "weft::otsim", "{name}: on the air 224.0.0.116:{base} as 127.0.0.1:{own}");
        Ok(OtSimRadio {
            name,
            channel,
            frames,
            queue,
            done,
            mac,
            ended,
            stats,
            task,
            tx_task,
        })
    }

    /// What the radio has seen and done so far.
    pub fn stats(&self) -> OtSimStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Acknowledges, from now on, the frames with AR set addressed to `settings`' short or
    /// extended address in its PAN (`None`: acknowledges nothing, as at the start). Its channel
    /// is not taken from it: see [`OtSimRadio::set_channel`].
    pub fn set_mac(&self, settings: Option<MacSettings>) {
        if let Ok(mut m) = self.mac.lock() {
            m.settings = settings;
        }
    }

    /// Changes the source-match table: which Data Requests its acks answer with Frame Pending.
    pub fn source_match(&self, change: SrcMatch) -> Result<(), RadioError> {
        let mut m = self
            .mac
            .lock()
            .map_err(|_| RadioError::Unavailable(format!("{}: stopped", self.name)))?;
        m.source_match(change).map_err(|_| {
            RadioError::Unsupported(format!(
                "{}: the source-match table is full ({} entries)",
                self.name,
                super::mac::SRC_MATCH_CAPACITY
            ))
        })
    }

    /// Hears only `channel` (11..=26) and sends on it; `None`: hears every channel and sends on
    /// [`DEFAULT_CHANNEL`].
    pub fn set_channel(&self, channel: Option<u8>) -> Result<(), RadioError> {
        if let Some(c) = channel.filter(|c| !(11..=26).contains(c)) {
            return Err(RadioError::Unsupported(format!(
                "{}: channel {c} is not an IEEE 802.15.4 channel of the 2.4 GHz band (11 to 26)",
                self.name
            )));
        }
        self.channel.store(channel.unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }
}

/// Why the reader stopped, as `recv` answers it.
fn stopped(name: &str, ended: &Mutex<Option<String>>) -> RadioError {
    RadioError::Unavailable(format!(
        "{name}: {}",
        ended
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_else(|| "the reader stopped".into())
    ))
}

/// The sending socket, the group and the MAC state, shared by both tasks.
struct Air {
    tx: Arc<UdpSocket>,
    group: SocketAddr,
    mac: Arc<Mutex<MacState>>,
}

fn bump_in(stats: &Mutex<OtSimStats>, f: impl FnOnce(&mut OtSimStats)) {
    if let Ok(mut s) = stats.lock() {
        f(&mut s);
    }
}

/// Sends the queued frames one at a time: a frame that wants an ack waits for it and is sent
/// again up to [`MAX_FRAME_RETRIES`] times; each ends in a [`TxDone`].
async fn tx_loop(
    air: Air,
    mut queue: mpsc::Receiver<TxFrame>,
    done: mpsc::Sender<TxDone>,
    channel: Arc<AtomicU8>,
    stats: Arc<Mutex<OtSimStats>>,
) {
    while let Some(frame) = queue.recv().await {
        let ch = match channel.load(Ordering::Relaxed) {
            0 => DEFAULT_CHANNEL,
            c => c,
        };
        let d = datagram(ch, &frame.bytes);
        let sequence_number = Frame::parse(&frame.bytes)
            .ok()
            .and_then(|f| f.sequence_number);
        let want = ack_wanted(&frame.bytes);
        let mut status = TxStatus::NoAck;
        let mut frame_pending = false;
        for attempt in 0..=MAX_FRAME_RETRIES {
            let ack = want.and_then(|seq| air.mac.lock().ok().map(|mut m| m.expect_ack(seq)));
            if attempt > 0 {
                bump_in(&stats, |s| s.retries += 1);
            }
            if let Err(e) = air.tx.send_to(&d, air.group).await {
                tracing::debug!(target: "weft::otsim", "sending on the air failed: {e}");
                bump_in(&stats, |s| s.send_errors += 1);
                status = TxStatus::Failed;
                break;
            }
            bump_in(&stats, |s| s.sent += 1);
            let Some(ack) = ack else {
                status = TxStatus::Sent;
                break;
            };
            if let Ok(Ok(fp)) = tokio::time::timeout(ACK_TIMEOUT, ack).await {
                status = TxStatus::Acked;
                frame_pending = fp;
                break;
            }
        }
        if let Ok(mut m) = air.mac.lock() {
            m.stop_waiting();
        }
        bump_in(&stats, |s| match status {
            TxStatus::Acked => {
                s.tx_acked += 1;
                s.tx_acked_frame_pending += u64::from(frame_pending);
            }
            TxStatus::NoAck => s.tx_no_ack += 1,
            _ => {}
        });
        let report = TxDone {
            bearer: Bearer::Ieee802154,
            sequence_number,
            status,
            frame_pending,
        };
        match done.try_send(report) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => bump_in(&stats, |s| s.tx_done_dropped += 1),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

async fn read_loop(
    rx: UdpSocket,
    own: u16,
    frames: mpsc::Sender<RxFrame>,
    channel: Arc<AtomicU8>,
    stats: Arc<Mutex<OtSimStats>>,
    ended: Arc<Mutex<Option<String>>>,
    air: Air,
) {
    let bump = |f: &dyn Fn(&mut OtSimStats)| {
        if let Ok(mut s) = stats.lock() {
            f(&mut s);
        }
    };
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = match rx.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                if let Ok(mut end) = ended.lock() {
                    *end = Some(format!("reading the air failed: {e}"));
                }
                return;
            }
        };
        bump(&|s| s.datagrams += 1);
        if from.port() == own {
            bump(&|s| s.own += 1);
            continue;
        }
        let (ch, mac, fcs_ok) = match parse_datagram(&buf[..n]) {
            Ok(x) => x,
            Err(why) => {
                tracing::debug!(target: "weft::otsim", "a datagram from {from} is dropped: {why}");
                bump(&|s| s.malformed += 1);
                continue;
            }
        };
        let want = channel.load(Ordering::Relaxed);
        if want != 0 && ch != want {
            bump(&|s| s.other_channel += 1);
            continue;
        }
        // The MAC's part (only for frames whose FCS is right, as a radio would): the ack
        // awaited, or an Imm-Ack to send at once.
        if fcs_ok {
            let ack = air.mac.lock().ok().and_then(|mut m| m.on_rx(mac).1);
            if let Some(ack) = ack {
                match air.tx.send_to(&datagram(ch, &ack), air.group).await {
                    Ok(_) => bump(&|s| s.acks_sent += 1),
                    Err(_) => bump(&|s| s.send_errors += 1),
                }
            }
        }
        let frame = RxFrame {
            lqi: None,
            bearer: Bearer::Ieee802154,
            channel: ch,
            rssi: Some(super::RSSI),
            timestamp: Instant::ZERO,
            adv_address: None,
            bytes: mac.to_vec(),
        };
        bump(&|s| s.fcs_bad += u64::from(!fcs_ok));
        match frames.try_send(frame) {
            Ok(()) => bump(&|s| s.frames += 1),
            Err(mpsc::error::TrySendError::Full(_)) => bump(&|s| s.dropped += 1),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

impl Radio for OtSimRadio {
    fn caps(&self) -> Caps {
        Caps::IEEE802154
    }

    /// Hears and sends on the station's channel, acknowledges frames for its addresses, and
    /// takes its source-match table whole (one change, under one lock).
    fn set_mac(&mut self, mac: Option<RadioMac>) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            self.set_channel(mac.as_ref().map(|m| m.settings.channel))?;
            let mut m = self
                .mac
                .lock()
                .map_err(|_| RadioError::Unavailable(format!("{}: stopped", self.name)))?;
            m.settings = mac.as_ref().map(|m| m.settings);
            let _ = m.source_match(SrcMatch::Clear);
            for a in mac.iter().flat_map(|m| &m.pending) {
                if m.source_match(SrcMatch::Add(*a)).is_err() {
                    return Err(RadioError::Unsupported(format!(
                        "{}: the source-match table is full ({} entries)",
                        self.name,
                        super::mac::SRC_MATCH_CAPACITY
                    )));
                }
            }
            Ok(())
        })
    }

    /// Queues `frame` to be put on the air (its FCS computed) on the channel set; a frame that
    /// does not fit the queue is dropped and counted. Its outcome comes as a
    /// `RadioEvent::TxDone` from `recv_event`.
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            crate::wpan::check_tx(&frame)?;
            match self.queue.try_send(frame) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    bump_in(&self.stats, |s| s.tx_dropped += 1);
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(RadioError::Unavailable(format!(
                    "{}: the transmit task stopped",
                    self.name
                ))),
            }
        })
    }

    /// Frames heard and the transmit statuses of frames sent, in order each.
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            tokio::select! {
                biased;
                Some(d) = self.done.recv() => Ok(RadioEvent::TxDone(d)),
                f = self.frames.recv() => match f {
                    Some(f) => Ok(RadioEvent::Frame(f)),
                    None => Err(stopped(&self.name, &self.ended)),
                },
            }
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            match self.frames.recv().await {
                Some(f) => Ok(f),
                None => Err(stopped(&self.name, &self.ended)),
            }
        })
    }
}
