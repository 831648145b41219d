//! [`OtSimRadio`]: a node of the OpenThread simulation's air as a [`Radio`].

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{datagram, parse_datagram, ports, DEFAULT_CHANNEL, GROUP, LOCAL};
use crate::{Bearer, Caps, Instant, Radio, RadioError, RadioFuture, RadioUri, RxFrame, TxFrame};

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
    /// Frames sent.
    pub sent: u64,
}

/// A node of the simulation (see the module documentation).
#[derive(Debug)]
pub struct OtSimRadio {
    name: String,
    tx: UdpSocket,
    group: SocketAddr,
    /// 0: every channel (and frames are sent on [`DEFAULT_CHANNEL`]).
    channel: Arc<AtomicU8>,
    frames: mpsc::Receiver<RxFrame>,
    ended: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<OtSimStats>>,
    task: JoinHandle<()>,
}

impl Drop for OtSimRadio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

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
        let tx = UdpSocket::from_std(tx.into())
            .map_err(|e| unavailable("cannot register the socket", e))?;
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
        let task = tokio::spawn(read_loop(
            rx,
            own,
            frames_tx,
            channel.clone(),
            stats.clone(),
            ended.clone(),
        ));
        tracing::info!(target: "weft::otsim", "{name}: on the air 224.0.0.116:{base} as 127.0.0.1:{own}");
        Ok(OtSimRadio {
            name,
            tx,
            group: SocketAddrV4::new(GROUP, base).into(),
            channel,
            frames,
            ended,
            stats,
            task,
        })
    }

    /// What the radio has seen and done so far.
    pub fn stats(&self) -> OtSimStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
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

async fn read_loop(
    rx: UdpSocket,
    own: u16,
    frames: mpsc::Sender<RxFrame>,
    channel: Arc<AtomicU8>,
    stats: Arc<Mutex<OtSimStats>>,
    ended: Arc<Mutex<Option<String>>>,
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
        let frame = RxFrame {
            lqi: None,
            bearer: Bearer::Ieee802154,
            channel: ch,
            rssi: None,
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

    /// Puts `frame` on the air (its FCS computed) on the channel set.
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            crate::wpan::check_tx(&frame)?;
            let ch = match self.channel.load(Ordering::Relaxed) {
                0 => DEFAULT_CHANNEL,
                c => c,
            };
            self.tx
                .send_to(&datagram(ch, &frame.bytes), self.group)
                .await
                .map_err(|e| {
                    RadioError::Io(format!("{}: sending on the air failed: {e}", self.name))
                })?;
            if let Ok(mut s) = self.stats.lock() {
                s.sent += 1;
            }
            Ok(())
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            match self.frames.recv().await {
                Some(f) => Ok(f),
                None => Err(RadioError::Unavailable(format!(
                    "{}: {}",
                    self.name,
                    self.ended
                        .lock()
                        .ok()
                        .and_then(|e| e.clone())
                        .unwrap_or_else(|| "the reader stopped".into())
                ))),
            }
        })
    }
}
