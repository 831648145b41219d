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

/// Frames a [`RemoteNode`] holds for the simulator at most; the hub keeps the rest of what a
/// process asks to send in a queue of its own and feeds the simulator as the air takes them.
pub const REMOTE_OUTBOX: usize = 4;

/// Frames heard for a process that a [`RemoteNode`] holds at most until the hub forwards them;
/// past that the oldest is dropped (and counted), as a radio whose host stops reading would.
pub const REMOTE_INBOX: usize = 1024;

/// A frame heard for a process: channel, RSSI, time and advertising data.
pub type Heard = (u8, i8, Instant, Vec<u8>);

/// A connected process as a station: what it sends goes on the air, what the air delivers to it
/// waits in a bounded inbox for the hub to forward.
#[derive(Debug, Default)]
pub struct RemoteNode {
    /// Frames the process asked to send, at most [`REMOTE_OUTBOX`].
    outbox: VecDeque<Vec<u8>>,
    /// Frames heard, for the process, at most [`REMOTE_INBOX`].
    inbox: VecDeque<Heard>,
    /// Frames heard that the inbox had no room for.
    dropped_heard: u64,
}

impl RemoteNode {
    /// A node with nothing to send and nothing heard.
    pub fn new() -> Self {
        RemoteNode::default()
    }

    /// Queues advertising data for the air; false (and nothing queued) when
    /// [`REMOTE_OUTBOX`] frames already wait.
    pub fn push_tx(&mut self, bytes: Vec<u8>) -> bool {
        if self.outbox.len() >= REMOTE_OUTBOX {
            return false;
        }
        self.outbox.push_back(bytes);
        true
    }

    /// Frames waiting to be handed to the simulator.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// The oldest frame heard and not yet forwarded.
    pub fn pop_heard(&mut self) -> Option<Heard> {
        self.inbox.pop_front()
    }

    /// Frames heard that were dropped because the inbox was full.
    pub fn dropped_heard(&self) -> u64 {
        self.dropped_heard
    }
}

impl<S: Station> Station for HubNode<S> {
    type Event = S::Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match self {
            HubNode::Local(s) => s.handle_frame(now, frame),
            HubNode::Remote(r) => {
                if r.inbox.len() >= REMOTE_INBOX {
                    r.inbox.pop_front();
                    r.dropped_heard += 1;
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

    /// A local station that does nothing (the tests only use remote nodes).
    #[derive(Debug)]
    struct Quiet;

    impl Station for Quiet {
        type Event = ();
        fn handle_frame(&mut self, _: Instant, _: &RxFrame) {}
        fn poll_transmit(&mut self, _: Instant) -> Option<TxFrame> {
            None
        }
        fn poll_event(&mut self) -> Option<()> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn handle_timeout(&mut self, _: Instant) {}
    }

    #[test]
    fn a_remote_node_holds_a_bounded_number_of_frames_and_counts_the_rest() {
        let mut r = HubNode::<Quiet>::Remote(RemoteNode::new());
        let HubNode::Remote(node) = &mut r else {
            unreachable!()
        };
        for i in 0..REMOTE_OUTBOX {
            assert!(node.push_tx(vec![i as u8]));
        }
        assert!(!node.push_tx(vec![0xff]));
        assert_eq!(node.outbox_len(), REMOTE_OUTBOX);
        let frame = RxFrame {
            bearer: Bearer::Advertising,
            channel: 37,
            rssi: Some(-50),
            timestamp: Instant::ZERO,
            bytes: vec![1],
        };
        for i in 0..REMOTE_INBOX as u64 + 10 {
            r.handle_frame(Instant::from_micros(i), &frame);
        }
        let mut sent = 0;
        while r.poll_transmit(Instant::ZERO).is_some() {
            sent += 1;
        }
        assert_eq!(sent, REMOTE_OUTBOX);
        let HubNode::Remote(node) = &mut r else {
            unreachable!()
        };
        assert_eq!(node.dropped_heard(), 10);
        // The oldest went first.
        assert_eq!(node.pop_heard().unwrap().2, Instant::from_micros(10));
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
