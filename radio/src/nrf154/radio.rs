//! [`Nrf154Radio`]: the sniffer firmware as a receive-only [`Radio`].

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, Mutex as AsyncMutex};
use tokio::task::JoinHandle;
use weft_mesh::thread::mac::fcs;

use super::line::{self, Clock32, LineError, Received, MAX_LINE};
use super::{Nrf154Config, Nrf154Stats, BAUD};
use crate::{Bearer, Caps, Instant, Radio, RadioError, RadioFuture, RadioUri, RxFrame, TxFrame};

/// A byte stream to the sniffer.
pub trait Nrf154Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Nrf154Io for T {}

type Writer = WriteHalf<Box<dyn Nrf154Io>>;

/// The sniffer firmware as a receive-only [`Radio`] (see the module documentation).
pub struct Nrf154Radio {
    name: String,
    writer: AsyncMutex<Writer>,
    channel: Arc<AtomicU8>,
    frames: mpsc::Receiver<RxFrame>,
    ended: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<Nrf154Stats>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Nrf154Radio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nrf154Radio")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for Nrf154Radio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Nrf154Radio {
    /// Opens the sniffer an `nrf154:` URI names, on the URI's channel (else `config.channel`).
    pub async fn open(uri: &RadioUri, mut config: Nrf154Config) -> Result<Nrf154Radio, RadioError> {
        let RadioUri::Nrf154 { device, channel } = uri else {
            return Err(RadioError::Unsupported(format!(
                "{uri} is not an nRF 802.15.4 sniffer"
            )));
        };
        if let Some(c) = channel {
            config.channel = *c;
        }
        let port = crate::serial::open(&uri.to_string(), device, BAUD, false)?;
        Self::with_stream(uri.to_string(), Box::new(port), config).await
    }

    /// Opens a sniffer at the other end of `stream`; `name` starts every error.
    pub async fn with_stream(
        name: impl Into<String>,
        stream: Box<dyn Nrf154Io>,
        config: Nrf154Config,
    ) -> Result<Nrf154Radio, RadioError> {
        let name = name.into();
        check_channel(&name, config.channel)?;
        let (mut r, mut w) = tokio::io::split(stream);
        let stats = Arc::new(Mutex::new(Nrf154Stats::default()));
        // Setup: stop whatever it was doing, quiet the echo, tune; then wait for it to say
        // anything at all (an echo, a prompt), which tells a sniffer from a silent port.
        write_lines(&mut w, &["", "sleep", "shell echo off"])
            .await
            .map_err(|e| lost(&name, &e))?;
        let mut first = vec![0u8; 256];
        let n = match tokio::time::timeout(config.setup_timeout, r.read(&mut first)).await {
            Ok(Ok(0)) => return Err(lost(&name, "the device closed the stream")),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(lost(&name, &e.to_string())),
            Err(_) => {
                return Err(RadioError::Unavailable(format!(
                    "{name}: nothing came back in {} ms after `sleep`: it looks like the wrong \
                     port, or a device without the nRF Sniffer for 802.15.4 firmware (`weft \
                     radios` lists the dongles and the URIs to use; the README says how to flash \
                     it)",
                    config.setup_timeout.as_millis()
                )))
            }
        };
        let text = &first[..n];
        if !text
            .iter()
            .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace() || b == 0x1b)
        {
            return Err(RadioError::Protocol(format!(
                "{name}: it answered {n} bytes that are not text ({}): it does not look like the \
                 nRF Sniffer for 802.15.4 firmware (an RCP is spinel:, an HCI controller hci:)",
                hex::encode(&text[..n.min(8)])
            )));
        }
        let channel = Arc::new(AtomicU8::new(config.channel));
        let cmd = format!("channel {}", config.channel);
        write_lines(&mut w, &[&cmd, "receive"])
            .await
            .map_err(|e| lost(&name, &e))?;
        let (frames_tx, frames) = mpsc::channel(config.rx_queue.max(1));
        let ended = Arc::new(Mutex::new(None));
        let task = tokio::spawn(read_loop(
            r,
            text.to_vec(),
            frames_tx,
            channel.clone(),
            stats.clone(),
            ended.clone(),
        ));
        tracing::info!(target: "weft::nrf154", "{name}: receiving on channel {}", config.channel);
        Ok(Nrf154Radio {
            name,
            writer: AsyncMutex::new(w),
            channel,
            frames,
            ended,
            stats,
            task,
        })
    }

    /// What the radio has seen so far.
    pub fn stats(&self) -> Nrf154Stats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// The channel listened on.
    pub fn channel(&self) -> u8 {
        self.channel.load(Ordering::Relaxed)
    }

    /// Listens on `channel` (11..=26) from now on: `sleep`, `channel N`, `receive`.
    pub async fn set_channel(&self, channel: u8) -> Result<(), RadioError> {
        check_channel(&self.name, channel)?;
        let mut w = self.writer.lock().await;
        let cmd = format!("channel {channel}");
        write_lines(&mut *w, &["sleep", &cmd, "receive"])
            .await
            .map_err(|e| lost(&self.name, &e))?;
        self.channel.store(channel, Ordering::Relaxed);
        Ok(())
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

fn lost(name: &str, why: &str) -> RadioError {
    RadioError::Unavailable(format!("{name}: the sniffer was lost: {why}"))
}

async fn write_lines(w: &mut (impl AsyncWrite + Unpin), lines: &[&str]) -> Result<(), String> {
    for l in lines {
        w.write_all(format!("{l}\r\n").as_bytes())
            .await
            .map_err(|e| format!("writing to the device failed: {e}"))?;
    }
    w.flush()
        .await
        .map_err(|e| format!("writing to the device failed: {e}"))
}

/// The frame a `received:` line gives: the PSDU without its FCS, the FCS's validity.
pub fn frame_of(r: &Received, channel: u8, clock: &mut Clock32) -> Option<(RxFrame, bool)> {
    let n = r.psdu.len().checked_sub(fcs::FCS_LEN).filter(|&n| n > 0)?;
    let fcs_ok = fcs::check(&r.psdu).is_ok();
    Some((
        RxFrame {
            lqi: Some(r.lqi),
            bearer: Bearer::Ieee802154,
            channel,
            rssi: Some(r.power),
            // Never Instant::ZERO ("no clock"): the counter's 0 is a time like any other.
            timestamp: Instant::from_micros(clock.extend(r.time).max(1)),
            adv_address: None,
            bytes: r.psdu[..n].to_vec(),
        },
        fcs_ok,
    ))
}

async fn read_loop(
    mut r: ReadHalf<Box<dyn Nrf154Io>>,
    first: Vec<u8>,
    frames: mpsc::Sender<RxFrame>,
    channel: Arc<AtomicU8>,
    stats: Arc<Mutex<Nrf154Stats>>,
    ended: Arc<Mutex<Option<String>>>,
) {
    let bump = |f: &dyn Fn(&mut Nrf154Stats)| {
        if let Ok(mut s) = stats.lock() {
            f(&mut s);
        }
    };
    let mut clock = Clock32::default();
    let mut line_buf: Vec<u8> = Vec::with_capacity(MAX_LINE);
    let mut too_long = false;
    let mut buf = first;
    loop {
        bump(&|s| s.bytes += buf.len() as u64);
        for &b in &buf {
            if b != b'\n' {
                if line_buf.len() < MAX_LINE {
                    line_buf.push(b);
                } else {
                    too_long = true;
                }
                continue;
            }
            if too_long {
                bump(&|s| s.lines_too_long += 1);
                too_long = false;
                line_buf.clear();
                continue;
            }
            bump(&|s| s.lines += 1);
            let text = String::from_utf8_lossy(&line_buf).into_owned();
            line_buf.clear();
            let r = match line::parse(&text) {
                Ok(r) => r,
                Err(LineError::NotAFrame) => {
                    bump(&|s| s.other_lines += 1);
                    continue;
                }
                Err(e) => {
                    tracing::debug!(target: "weft::nrf154", "{e}: {text:?}");
                    bump(&|s| s.malformed += 1);
                    continue;
                }
            };
            let wraps = clock.wraps;
            let Some((frame, fcs_ok)) = frame_of(&r, channel.load(Ordering::Relaxed), &mut clock)
            else {
                bump(&|s| s.malformed += 1);
                continue;
            };
            let wrapped = clock.wraps - wraps;
            bump(&|s| {
                s.clock_wraps += wrapped;
                s.fcs_bad += u64::from(!fcs_ok);
            });
            match frames.try_send(frame) {
                Ok(()) => bump(&|s| s.frames += 1),
                Err(mpsc::error::TrySendError::Full(_)) => bump(&|s| s.dropped += 1),
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        buf.resize(4096, 0);
        let why = match r.read(&mut buf).await {
            Ok(0) => "the device closed the stream".to_string(),
            Ok(n) => {
                buf.truncate(n);
                continue;
            }
            Err(e) => format!("reading from the device failed: {e}"),
        };
        if let Ok(mut e) = ended.lock() {
            *e = Some(why);
        }
        return;
    }
}

impl Radio for Nrf154Radio {
    fn caps(&self) -> Caps {
        Caps::IEEE802154
    }

    fn send(&mut self, _frame: TxFrame) -> RadioFuture<'_, ()> {
        let name = self.name.clone();
        Box::pin(async move {
            Err(RadioError::Unsupported(format!(
                "{name}: the nRF 802.15.4 sniffer firmware only listens (use spinel: with an \
                 RCP to send)"
            )))
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            match self.frames.recv().await {
                Some(f) => Ok(f),
                None => {
                    let why = self
                        .ended
                        .lock()
                        .ok()
                        .and_then(|e| e.clone())
                        .unwrap_or_else(|| "the reader stopped".into());
                    Err(lost(&self.name, &why))
                }
            }
        })
    }
}
