//! One connection to an RCP: a reader task that decodes what it sends (HDLC, then Spinel), hands
//! received frames straight to `recv`'s queue and everything else to [`Link`]; and [`Link`],
//! which writes requests with transaction ids (Spinel §3.1.3: 1..=15; 0 is for what the RCP
//! says by itself) and waits for their answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_mesh::thread::mac::fcs;

use super::hdlc::{self, Decoder};
use super::wire::{
    self, Frame, RawFrame, CMD_PROP_VALUE_IS, PROP_LAST_STATUS, PROP_STREAM_RAW,
    STATUS_RESET_BEGIN, STATUS_RESET_END,
};
use super::SpinelStats;
use crate::{Bearer, Instant, RxFrame};

/// A byte stream to an RCP.
pub trait SpinelIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> SpinelIo for T {}

/// What the reader passes on besides received frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An answer: the transaction id, the command, the payload.
    Answer {
        tid: u8,
        command: u32,
        payload: Vec<u8>,
    },
    /// The RCP announced it restarted (`LAST_STATUS` with a `STATUS_RESET_*` value).
    Reset(u32),
    /// The stream ended or failed.
    Lost(String),
}

/// The statistics, shared by the reader, the link and the radio.
#[derive(Debug, Default)]
pub struct Shared {
    pub stats: Mutex<SpinelStats>,
}

impl Shared {
    pub fn bump(&self, f: impl FnOnce(&mut SpinelStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    pub fn get(&self) -> SpinelStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }
}

/// What went wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// No answer in time.
    Timeout,
    /// The write did not complete in time.
    WriteStalled,
    /// The RCP restarted meanwhile.
    Reset(u32),
    /// The stream is gone.
    Lost(String),
}

/// The writing half and the reader's events.
pub struct Link {
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    pub events: mpsc::Receiver<Event>,
    shared: Arc<Shared>,
    next_tid: u8,
    write_timeout: Duration,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").finish_non_exhaustive()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Link {
    /// Starts the reader on `stream`; frames heard go to `frames`.
    pub fn start(
        stream: Box<dyn SpinelIo>,
        frames: mpsc::Sender<RxFrame>,
        shared: Arc<Shared>,
        write_timeout: Duration,
    ) -> Link {
        let (r, w) = tokio::io::split(stream);
        let (events_tx, events) = mpsc::channel(64);
        let reader = tokio::spawn(read_loop(r, frames, events_tx, shared.clone()));
        Link {
            writer: Box::new(w),
            events,
            shared,
            next_tid: 0,
            write_timeout,
            reader,
        }
    }

    /// The next transaction id, 1..=15.
    pub fn tid(&mut self) -> u8 {
        self.next_tid = self.next_tid % 15 + 1;
        self.next_tid
    }

    /// Writes one Spinel frame, HDLC-framed.
    pub async fn write(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let bytes = hdlc::encode(frame);
        let w = async {
            self.writer.write_all(&bytes).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(self.write_timeout, w).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LinkError::Lost(format!(
                "writing to the device failed: {e}"
            ))),
            Err(_) => Err(LinkError::WriteStalled),
        }
    }

    /// Sends `frame` (built with transaction id `tid`) and waits up to `timeout` for the answer
    /// with the same id: its command and payload.
    pub async fn request(
        &mut self,
        tid: u8,
        frame: &[u8],
        timeout: Duration,
    ) -> Result<(u32, Vec<u8>), LinkError> {
        self.shared.bump(|s| s.commands += 1);
        self.write(frame).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let ev = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => {
                    self.shared.bump(|s| s.command_timeouts += 1);
                    return Err(LinkError::Timeout);
                }
                Ok(None) => return Err(LinkError::Lost("the reader stopped".into())),
                Ok(Some(ev)) => ev,
            };
            match ev {
                Event::Answer {
                    tid: t,
                    command,
                    payload,
                } if t == tid => return Ok((command, payload)),
                Event::Answer { .. } => self.shared.bump(|s| s.unmatched_answers += 1),
                Event::Reset(status) => return Err(LinkError::Reset(status)),
                Event::Lost(why) => return Err(LinkError::Lost(why)),
            }
        }
    }
}

async fn read_loop(
    mut r: impl AsyncRead + Unpin,
    frames: mpsc::Sender<RxFrame>,
    events: mpsc::Sender<Event>,
    shared: Arc<Shared>,
) {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) => {
                let _ = events
                    .send(Event::Lost("the device closed the stream".into()))
                    .await;
                return;
            }
            Ok(n) => n,
            Err(e) => {
                let _ = events
                    .send(Event::Lost(format!("reading from the device failed: {e}")))
                    .await;
                return;
            }
        };
        let mut out = Vec::new();
        decoder.push(&buf[..n], |f| out.push(classify(f, &shared)));
        shared.bump(|s| s.hdlc = decoder.stats());
        for item in out.into_iter().flatten() {
            match item {
                Item::Frame(f) => match frames.try_send(f) {
                    Ok(()) => shared.bump(|s| s.rx_frames += 1),
                    Err(mpsc::error::TrySendError::Full(_)) => shared.bump(|s| s.rx_dropped += 1),
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                },
                Item::Event(e) => {
                    if events.send(e).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

enum Item {
    Frame(RxFrame),
    Event(Event),
}

/// What one HDLC frame from the RCP is.
fn classify(data: &[u8], shared: &Shared) -> Option<Item> {
    let Ok(frame) = Frame::parse(data) else {
        shared.bump(|s| s.frames_malformed += 1);
        return None;
    };
    if frame.tid != 0 {
        return Some(Item::Event(Event::Answer {
            tid: frame.tid,
            command: frame.command,
            payload: frame.payload.to_vec(),
        }));
    }
    let prop = (frame.command == CMD_PROP_VALUE_IS)
        .then(|| frame.property().ok())
        .flatten();
    match prop {
        Some((PROP_STREAM_RAW, v)) => rx_frame(v, shared).map(Item::Frame),
        Some((PROP_LAST_STATUS, v)) => match wire::Reader::new(v).packed("status") {
            Ok(s) if (STATUS_RESET_BEGIN..STATUS_RESET_END).contains(&s) => {
                Some(Item::Event(Event::Reset(s)))
            }
            _ => {
                shared.bump(|s| s.ignored += 1);
                None
            }
        },
        _ => {
            shared.bump(|s| s.ignored += 1);
            None
        }
    }
}

/// A received frame from a `STREAM_RAW` value, the FCS stripped (and checked, counted).
pub fn rx_frame(value: &[u8], shared: &Shared) -> Option<RxFrame> {
    let Ok(raw) = RawFrame::parse(value) else {
        shared.bump(|s| s.rx_malformed += 1);
        return None;
    };
    if raw.receive_error != 0 {
        shared.bump(|s| s.rx_errors += 1);
        return None;
    }
    let Some(n) = raw.psdu.len().checked_sub(fcs::FCS_LEN).filter(|&n| n > 0) else {
        shared.bump(|s| s.rx_malformed += 1);
        return None;
    };
    if fcs::check(raw.psdu).is_err() {
        shared.bump(|s| s.rx_fcs_bad += 1);
    }
    Some(RxFrame {
        // OpenThread reports 0 (OT_RADIO_LQI_NONE) when the radio does not measure LQI.
        lqi: (raw.lqi != 0).then_some(raw.lqi),
        bearer: Bearer::Ieee802154,
        channel: raw.channel,
        rssi: Some(raw.rssi),
        timestamp: Instant::from_micros(raw.timestamp_us),
        adv_address: None,
        bytes: raw.psdu[..n].to_vec(),
    })
}
