//! The live simulated air: one process (`weft sim serve`) runs the simulator in real time and
//! shares it with other processes over a Unix socket; each connected process is a node of the
//! simulated medium, linked to every other node.
//!
//! Wire format on the socket: frames of a 4-octet little-endian length and a postcard-encoded
//! [`HubMsg`]. A frame longer than [`MAX_FRAME`] closes the connection.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::{Bearer, Caps, Instant, Radio, RadioError, RxFrame, Station, TxFrame};

/// The largest message on the socket; mesh frames are at most a few dozen octets.
pub const MAX_FRAME: usize = 4096;

/// A message between the hub and a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HubMsg {
    /// Client → hub: put advertising data on the air.
    Tx { bytes: Vec<u8> },
    /// Hub → client: advertising data heard.
    Rx {
        channel: u8,
        rssi: i8,
        t_us: u64,
        bytes: Vec<u8>,
    },
}

/// Reads one length-prefixed message; `Ok(None)` at a clean end of stream.
pub async fn read_msg<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<Option<HubMsg>, RadioError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(RadioError::Io(e.to_string())),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(RadioError::Protocol(format!(
            "hub frame of {len} octets exceeds {MAX_FRAME}"
        )));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)
        .await
        .map_err(|e| RadioError::Io(e.to_string()))?;
    postcard::from_bytes(&buf)
        .map(Some)
        .map_err(|e| RadioError::Protocol(format!("bad hub frame: {e}")))
}

/// Writes one length-prefixed message.
pub async fn write_msg<W: AsyncWriteExt + Unpin>(w: &mut W, m: &HubMsg) -> Result<(), RadioError> {
    let body = postcard::to_allocvec(m).map_err(|e| RadioError::Protocol(e.to_string()))?;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    w.write_all(&out)
        .await
        .map_err(|e| RadioError::Io(e.to_string()))
}

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
                        t_us: _,
                        bytes,
                    })) => Ok(RxFrame {
                        bearer: Bearer::Advertising,
                        channel,
                        rssi: Some(rssi),
                        timestamp: Instant::ZERO,
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
        Caps {
            advertising: true,
            gatt: false,
            ieee802154: false,
        }
    }

    async fn send(&mut self, frame: TxFrame) -> Result<(), RadioError> {
        if frame.bearer != Bearer::Advertising {
            return Err(RadioError::Unsupported(
                "the simulated air carries BLE advertising only".into(),
            ));
        }
        write_msg(&mut self.writer, &HubMsg::Tx { bytes: frame.bytes }).await
    }

    async fn recv(&mut self) -> Result<RxFrame, RadioError> {
        match self.rx.recv().await {
            Some(r) => r,
            None => Err(RadioError::Unavailable(
                "the simulated air closed the connection".into(),
            )),
        }
    }
}

/// A node of the hub's simulator: a local station (a scenario's node) or a connected process.
#[derive(Debug)]
pub enum HubNode<S> {
    Local(S),
    Remote(RemoteNode),
}

/// A connected process as a station: what it sends goes on the air, what the air delivers to it
/// waits in `inbox` for the hub to forward.
#[derive(Debug, Default)]
pub struct RemoteNode {
    /// Frames the process asked to send.
    pub outbox: VecDeque<Vec<u8>>,
    /// Frames heard, for the process: (channel, rssi, time, bytes).
    pub inbox: VecDeque<(u8, i8, Instant, Vec<u8>)>,
}

impl<S: Station> Station for HubNode<S> {
    type Event = S::Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match self {
            HubNode::Local(s) => s.handle_frame(now, frame),
            HubNode::Remote(r) => {
                // Bounded: a process that stops reading loses the oldest frames, as a radio would.
                if r.inbox.len() >= 4096 {
                    r.inbox.pop_front();
                }
                r.inbox.push_back((
                    frame.channel,
                    frame.rssi.unwrap_or(-60),
                    now,
                    frame.bytes.clone(),
                ));
            }
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        match self {
            HubNode::Local(s) => s.poll_transmit(now),
            HubNode::Remote(r) => r.outbox.pop_front().map(|bytes| TxFrame {
                bearer: Bearer::Advertising,
                bytes,
            }),
        }
    }

    fn poll_event(&mut self) -> Option<S::Event> {
        match self {
            HubNode::Local(s) => s.poll_event(),
            HubNode::Remote(_) => None,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            HubNode::Local(s) => s.poll_timeout(),
            HubNode::Remote(_) => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let HubNode::Local(s) = self {
            s.handle_timeout(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversize_is_refused() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let m = HubMsg::Rx {
            channel: 38,
            rssi: -55,
            t_us: 7,
            bytes: vec![1, 2, 3],
        };
        write_msg(&mut a, &m).await.unwrap();
        assert_eq!(read_msg(&mut b).await.unwrap(), Some(m));
        a.write_all(&(MAX_FRAME as u32 + 1).to_le_bytes())
            .await
            .unwrap();
        assert!(read_msg(&mut b).await.is_err());
        drop(a);
    }

    #[tokio::test]
    async fn garbage_is_an_error_not_a_panic() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(&[3, 0, 0, 0, 0xff, 0xff, 0xff]).await.unwrap();
        assert!(read_msg(&mut b).await.is_err());
        drop(a);
        let (a, mut b) = UnixStream::pair().unwrap();
        drop(a);
        assert_eq!(read_msg(&mut b).await.unwrap(), None);
    }
}
