//! The server's radio, tapped: every frame it hears or sends goes to the subscribers as a
//! `frame` event and, between `capture.start` and `capture.stop`, into a pcapng file
//! ([`weft_radio::capture::CaptureFile`], the one place frames become packets).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::broadcast;
use weft_mesh::{Bearer, RxFrame, TxFrame};
use weft_radio::capture::{CaptureError, CaptureFile};
use weft_radio::{
    Caps, ConnId, Connectable, GattService, Radio, RadioError, RadioEvent, RadioFuture,
};

use crate::ops::Session;

/// The advertiser address frames sent are captured from (the radio does not report its own).
const OWN_ADV_ADDRESS: [u8; 6] = [0; 6];

/// The capture file, if one is being written; shared by the radio and the client tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaptureSlot(Arc<Mutex<Option<CaptureFile>>>);

impl CaptureSlot {
    /// Starts writing `path` for a radio that carries `caps`.
    pub fn start(&self, path: &Path, caps: Caps) -> Result<(), String> {
        let mut slot = self
            .0
            .lock()
            .map_err(|_| "the capture is broken".to_string())?;
        if let Some(f) = slot.as_ref() {
            return Err(format!(
                "a capture into {} is running: stop it first (capture.stop)",
                f.path().display()
            ));
        }
        *slot = Some(CaptureFile::create(path, caps).map_err(|e| e.to_string())?);
        Ok(())
    }

    /// Stops the capture: its file and how many packets it holds, if one was running.
    pub fn stop(&self) -> Result<Option<(PathBuf, u64)>, String> {
        let file = self.0.lock().ok().and_then(|mut s| s.take());
        match file {
            None => Ok(None),
            Some(f) => {
                let packets = f.packets();
                f.finish()
                    .map(|p| Some((p, packets)))
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The file being written.
    pub fn path(&self) -> Option<PathBuf> {
        let slot = self.0.lock().ok()?;
        slot.as_ref().map(|f| f.path().to_path_buf())
    }

    /// Writes with `write`; a file that fails is closed and the failure logged.
    fn write(&self, write: impl FnOnce(&mut CaptureFile) -> Result<(), CaptureError>) {
        let Ok(mut slot) = self.0.lock() else { return };
        let Some(file) = slot.as_mut() else { return };
        match write(file) {
            Ok(()) | Err(CaptureError::Unframed(_)) => {}
            Err(e) => {
                tracing::warn!(target: "weft::serve", "capture stopped: {e}");
                *slot = None;
            }
        }
    }
}

/// The session's radio, tapped.
struct Tap {
    inner: Box<dyn Radio>,
    events: broadcast::Sender<Arc<str>>,
    capture: CaptureSlot,
}

/// Wraps the session's radio in the tap.
pub(crate) fn wrap(s: &mut Session, events: broadcast::Sender<Arc<str>>, capture: CaptureSlot) {
    let inner = std::mem::replace(&mut s.radio, Box::new(Gone));
    s.radio = Box::new(Tap {
        inner,
        events,
        capture,
    });
}

/// The `bearer` field of a frame event.
fn bearer(b: Bearer) -> String {
    match b {
        Bearer::Advertising => "adv".into(),
        Bearer::Gatt(c) => format!("gatt:{}", c.0),
        Bearer::Ieee802154 => "802.15.4".into(),
    }
}

/// The `frame` event of a frame heard.
pub(crate) fn rx_event(f: &RxFrame) -> String {
    json!({"event": "frame", "dir": "rx", "bearer": bearer(f.bearer), "channel": f.channel,
        "rssi": f.rssi, "timestamp_us": f.timestamp.as_micros(),
        "adv_address": f.adv_address.map(hex::encode), "hex": hex::encode(&f.bytes)})
    .to_string()
}

impl Tap {
    fn heard(&self, f: &RxFrame) {
        self.capture.write(|c| c.write_rx(f).map(|_| ()));
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(rx_event(f).into());
        }
    }
}

impl Radio for Tap {
    fn caps(&self) -> Caps {
        self.inner.caps()
    }

    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            self.inner.send(frame.clone()).await?;
            self.capture
                .write(|c| c.write_sent(&frame, OWN_ADV_ADDRESS).map(|_| ()));
            if self.events.receiver_count() > 0 {
                let line = json!({"event": "frame", "dir": "tx", "bearer": bearer(frame.bearer),
                    "hex": hex::encode(&frame.bytes)});
                let _ = self.events.send(line.to_string().into());
            }
            Ok(())
        })
    }

    /// Cancel-safe as the inner radio's: the frame is passed on as soon as it is taken.
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            let frame = self.inner.recv().await?;
            self.heard(&frame);
            Ok(frame)
        })
    }

    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            let event = self.inner.recv_event().await?;
            if let RadioEvent::Frame(f) = &event {
                self.heard(f);
            }
            Ok(event)
        })
    }

    fn connect(&mut self, peer: [u8; 6], service: GattService) -> RadioFuture<'_, ()> {
        self.inner.connect(peer, service)
    }

    fn disconnect(&mut self, conn: ConnId) -> RadioFuture<'_, ()> {
        self.inner.disconnect(conn)
    }

    fn set_connectable(&mut self, adv: Option<Connectable>) -> RadioFuture<'_, ()> {
        self.inner.set_connectable(adv)
    }
}

/// What stands in the session for a moment while its radio is wrapped.
struct Gone;

impl Radio for Gone {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }
    fn send(&mut self, _: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async { Err(RadioError::Io("no radio".into())) })
    }
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async { Err(RadioError::Io("no radio".into())) })
    }
}
