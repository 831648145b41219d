//! The live simulated air: one process (`weft sim serve`, [`server`]) runs the simulator in
//! real time and shares it with other processes over a Unix socket; each connected process
//! ([`client::HubRadio`]) is a node of the simulated medium, linked to every other node.
//!
//! Wire format on the socket: frames of a 4-octet little-endian length and a postcard-encoded
//! [`HubMsg`]. A frame longer than [`MAX_FRAME`] closes the connection.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{ConnId, DisconnectReason, GattRole, GattService, LinkEvent, RadioError};

pub mod client;
pub mod node;
pub mod server;
mod socket;

pub use client::HubRadio;
pub use node::{Heard, HubNode, RemoteNode, REMOTE_INBOX, REMOTE_OUTBOX};
pub use server::{empty_air, serve_hub, serve_hub_until, Air, HubError, DELIVER_QUEUE, SEND_QUEUE};
pub use socket::{listen, peer_allowed, SocketFile};

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
        /// When the frame was heard, on the air's clock (microseconds since the hub started):
        /// the client's [`crate::RxFrame::timestamp`].
        t_us: u64,
        /// The transmitter's advertiser address (AdvA), least significant octet first: stable
        /// per transmitting node, so a relayed frame carries the relay's
        /// ([`crate::sim::adv_address`]).
        adv_address: [u8; 6],
        bytes: Vec<u8>,
    },
    /// Client → hub: an ATT value on the process's GATT connection `conn`.
    GattTx { conn: u16, bytes: Vec<u8> },
    /// Client → hub: connect, as Central, to the node with device address `peer`, to the
    /// service with 16-bit UUID `service` (0x1827, 0x1828).
    Connect { peer: [u8; 6], service: u16 },
    /// Client → hub: close connection `conn`.
    Disconnect { conn: u16 },
    /// Client → hub: the service the process accepts connections for (`None`: none).
    Connectable { service: Option<u16> },
    /// Hub → client: an ATT value on connection `conn`.
    GattRx {
        conn: u16,
        t_us: u64,
        bytes: Vec<u8>,
    },
    /// Hub → client: what happened to one of its connections.
    Link(WireLink),
}

/// A [`LinkEvent`] on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireLink {
    Connected {
        conn: u16,
        mtu: u16,
        peer: [u8; 6],
        service: u16,
        central: bool,
    },
    MtuChanged {
        conn: u16,
        mtu: u16,
    },
    /// `reason`: 0 local, 1 remote, 2 link loss.
    Disconnected {
        conn: u16,
        reason: u8,
    },
    ConnectFailed {
        peer: [u8; 6],
        service: u16,
    },
}

/// The service of a 16-bit UUID (MshPRT §7.1, §7.2), if it is one.
pub fn service_of(uuid: u16) -> Option<GattService> {
    [GattService::Provisioning, GattService::Proxy]
        .into_iter()
        .find(|s| s.uuid16() == uuid)
}

impl From<&LinkEvent> for WireLink {
    fn from(e: &LinkEvent) -> Self {
        match *e {
            LinkEvent::Connected {
                conn,
                mtu,
                peer,
                service,
                role,
            } => WireLink::Connected {
                conn: conn.0,
                mtu,
                peer,
                service: service.uuid16(),
                central: role == GattRole::Central,
            },
            LinkEvent::MtuChanged { conn, mtu } => WireLink::MtuChanged { conn: conn.0, mtu },
            LinkEvent::Disconnected { conn, reason } => WireLink::Disconnected {
                conn: conn.0,
                reason: match reason {
                    DisconnectReason::Local => 0,
                    DisconnectReason::Remote => 1,
                    DisconnectReason::LinkLoss => 2,
                },
            },
            LinkEvent::ConnectFailed { peer, service } => WireLink::ConnectFailed {
                peer,
                service: service.uuid16(),
            },
        }
    }
}

impl WireLink {
    /// The event, or `None` when it names an unknown service or reason.
    pub fn to_event(&self) -> Option<LinkEvent> {
        Some(match *self {
            WireLink::Connected {
                conn,
                mtu,
                peer,
                service,
                central,
            } => LinkEvent::Connected {
                conn: ConnId(conn),
                mtu,
                peer,
                service: service_of(service)?,
                role: if central {
                    GattRole::Central
                } else {
                    GattRole::Peripheral
                },
            },
            WireLink::MtuChanged { conn, mtu } => LinkEvent::MtuChanged {
                conn: ConnId(conn),
                mtu,
            },
            WireLink::Disconnected { conn, reason } => LinkEvent::Disconnected {
                conn: ConnId(conn),
                reason: match reason {
                    0 => DisconnectReason::Local,
                    1 => DisconnectReason::Remote,
                    2 => DisconnectReason::LinkLoss,
                    _ => return None,
                },
            },
            WireLink::ConnectFailed { peer, service } => LinkEvent::ConnectFailed {
                peer,
                service: service_of(service)?,
            },
        })
    }
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

#[cfg(test)]
mod gatt_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixStream;

    #[tokio::test]
    async fn frames_round_trip_and_oversize_is_refused() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let m = HubMsg::Rx {
            channel: 38,
            rssi: -55,
            t_us: 7,
            adv_address: [1, 2, 3, 4, 5, 0xc6],
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
