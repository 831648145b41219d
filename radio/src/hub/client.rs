//! A process's side of the live simulated air: [`HubRadio`], the radio `sim:PATH` opens.

use std::path::Path;

use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{read_msg, write_msg, HubMsg};
use crate::{Bearer, Caps, Instant, Radio, RadioError, RadioFuture, RxFrame, TxFrame};

/// A process's connection to the hub: a [`Radio`] on the shared simulated air.
#[derive(Debug)]
pub struct HubRadio {
    rx: mpsc::Receiver<Result<RxFrame, RadioError>>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl HubRadio {
    /// Connects to the hub listening at `path`.
    pub async fn connect(path: &Path) -> Result<Self, RadioError> {
        let stream = UnixStream::connect(path).await.map_err(|e| {
            RadioError::Unavailable(format!(
                "cannot reach the simulated air at {}: {e} (start it with `weft sim serve --socket {}`)",
                path.display(),
                path.display()
            ))
        })?;
        let (mut reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::channel(1024);
        // A reader task makes `recv` cancel-safe: a frame is never half-read by a dropped future.
        tokio::spawn(async move {
            loop {
                let item = match read_msg(&mut reader).await {
                    Ok(Some(HubMsg::Rx {
                        channel,
                        rssi,
                        t_us,
                        adv_address,
                        bytes,
                    })) => Ok(RxFrame {
                        lqi: None,
                        bearer: Bearer::Advertising,
                        channel,
                        rssi: Some(rssi),
                        // The air's own clock, as a controller stamps what it hears.
                        timestamp: Instant::from_micros(t_us),
                        adv_address: Some(adv_address),
                        bytes,
                    }),
                    Ok(Some(HubMsg::Tx { .. })) => continue,
                    Ok(None) => Err(RadioError::Unavailable(
                        "the simulated air closed the connection".into(),
                    )),
                    Err(e) => Err(e),
                };
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(HubRadio { rx, writer })
    }
}

impl Radio for HubRadio {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }

    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            if frame.bearer != Bearer::Advertising {
                return Err(RadioError::Unsupported(
                    "the simulated air carries BLE advertising only".into(),
                ));
            }
            write_msg(&mut self.writer, &HubMsg::Tx { bytes: frame.bytes }).await
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            match self.rx.recv().await {
                Some(r) => r,
                None => Err(RadioError::Unavailable(
                    "the simulated air closed the connection".into(),
                )),
            }
        })
    }
}
