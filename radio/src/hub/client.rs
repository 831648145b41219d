//! A process's side of the live simulated air: [`HubRadio`], the radio `sim:PATH` opens.

use std::path::Path;

use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{read_msg, write_msg, HubMsg};
use crate::{
    Bearer, Caps, ConnId, Connectable, GattService, Instant, Radio, RadioError, RadioEvent,
    RadioFuture, RxFrame, TxFrame,
};

/// A process's connection to the hub: a [`Radio`] on the shared simulated air.
#[derive(Debug)]
pub struct HubRadio {
    rx: mpsc::Receiver<Result<RadioEvent, RadioError>>,
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
                    })) => Ok(RadioEvent::Frame(RxFrame {
                        lqi: None,
                        bearer: Bearer::Advertising,
                        channel,
                        rssi: Some(rssi),
                        // The air's own clock, as a controller stamps what it hears.
                        timestamp: Instant::from_micros(t_us),
                        adv_address: Some(adv_address),
                        bytes,
                    })),
                    Ok(Some(HubMsg::GattRx { conn, t_us, bytes })) => {
                        Ok(RadioEvent::Frame(RxFrame {
                            lqi: None,
                            bearer: Bearer::Gatt(ConnId(conn)),
                            channel: 0,
                            rssi: None,
                            timestamp: Instant::from_micros(t_us),
                            adv_address: None,
                            bytes,
                        }))
                    }
                    Ok(Some(HubMsg::Link(l))) => match l.to_event() {
                        Some(e) => Ok(RadioEvent::Link(e)),
                        None => continue,
                    },
                    Ok(Some(_)) => continue,
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
        Caps::ADVERTISING_GATT
    }

    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            let m = match frame.bearer {
                Bearer::Advertising => HubMsg::Tx { bytes: frame.bytes },
                Bearer::Gatt(conn) => HubMsg::GattTx {
                    conn: conn.0,
                    bytes: frame.bytes,
                },
                Bearer::Ieee802154 => {
                    return Err(RadioError::Unsupported(
                        "the simulated air carries BLE advertising and GATT only".into(),
                    ))
                }
            };
            write_msg(&mut self.writer, &m).await
        })
    }

    /// Frames only: what happens to connections is skipped (read with `recv_event`).
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            loop {
                match self.rx.recv().await {
                    Some(Ok(RadioEvent::Frame(f))) => return Ok(f),
                    Some(Ok(RadioEvent::Link(_) | RadioEvent::TxDone(_))) => continue,
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(RadioError::Unavailable(
                            "the simulated air closed the connection".into(),
                        ))
                    }
                }
            }
        })
    }

    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            match self.rx.recv().await {
                Some(r) => r,
                None => Err(RadioError::Unavailable(
                    "the simulated air closed the connection".into(),
                )),
            }
        })
    }

    fn connect(&mut self, peer: [u8; 6], service: GattService) -> RadioFuture<'_, ()> {
        let m = HubMsg::Connect {
            peer,
            service: service.uuid16(),
        };
        Box::pin(async move { write_msg(&mut self.writer, &m).await })
    }

    fn disconnect(&mut self, conn: ConnId) -> RadioFuture<'_, ()> {
        Box::pin(
            async move { write_msg(&mut self.writer, &HubMsg::Disconnect { conn: conn.0 }).await },
        )
    }

    /// The hub connects nodes directly by the service, and advertises the data for scanners.
    fn set_connectable(&mut self, adv: Option<Connectable>) -> RadioFuture<'_, ()> {
        let m = match adv {
            Some(a) => HubMsg::Connectable {
                service: Some(a.service.uuid16()),
                adv_data: a.adv_data,
            },
            None => HubMsg::Connectable {
                service: None,
                adv_data: Vec::new(),
            },
        };
        Box::pin(async move { write_msg(&mut self.writer, &m).await })
    }
}
