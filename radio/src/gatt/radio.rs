//! [`GattRadio`]: `gatt:ADDRESS` behind the [`Radio`] seam, as a phone is: a GATT Central with
//! no advertising bearer, connecting to one node's Mesh Proxy or Provisioning Service over
//! [`GattLink`]s (ARCHITECTURE.md, "The radio seam: GATT connections").
//!
//! - [`Radio::connect`] starts a task that opens the link (scan, connect, discover, subscribe)
//!   and reports [`LinkEvent::Connected`] (role Central, the link's ATT MTU) or
//!   [`LinkEvent::ConnectFailed`] through [`Radio::recv_event`].
//! - Each notification of Data Out is an [`RxFrame`] on [`Bearer::Gatt`]`(conn)`; a
//!   [`TxFrame`] on that bearer is written to Data In (Write Without Response, at most
//!   ATT_MTU - 3 octets: the core segments, MshPRT §6.3.2).
//! - The link going down unasked is [`DisconnectReason::LinkLoss`] (bluetoothd does not say
//!   whether the peer closed it or the supervision timeout did); [`Radio::disconnect`] closes
//!   it and [`DisconnectReason::Local`] follows.
//!
//! Cancel-safe as the seam requires: each connection's task owns its link, reads its values
//! and takes writes and the close over a channel, and hands values and link events, in order,
//! over one bounded channel that `recv_event` only takes from.

use tokio::sync::{mpsc, oneshot};
use weft_mesh::{
    Bearer, ConnId, Connectable, DisconnectReason, GattRole, GattService, Instant, LinkEvent,
    RxFrame, TxFrame,
};

use super::link::{adapter, bdaddr, GattConfig, GattLink};
use super::service::MeshService;
use crate::uri::RadioUri;
use crate::{Caps, Radio, RadioError, RadioEvent, RadioFuture};

/// Values and link events received and not yet taken by `recv_event` (all connections);
/// a connection's task waits while it is full.
const EVENT_QUEUE: usize = 64;
/// Writes and the close asked of one connection and not yet done by its task.
const COMMAND_QUEUE: usize = 16;

/// The seam's service as the link's.
pub fn mesh_service(service: GattService) -> MeshService {
    match service {
        GattService::Proxy => MeshService::Proxy,
        GattService::Provisioning => MeshService::Provisioning,
    }
}

/// What the radio asks of a connection's task.
enum Command {
    /// Write one ATT value to Data In; the outcome goes back.
    Write(Vec<u8>, oneshot::Sender<Result<(), RadioError>>),
    /// Close the link; `Disconnected { reason: Local }` follows.
    Close,
}

/// `gatt:ADDRESS`: a GATT Central reaching the node at ADDRESS (see the module documentation).
#[derive(Debug)]
pub struct GattRadio {
    name: String,
    address: [u8; 6],
    service: GattService,
    config: GattConfig,
    events_tx: mpsc::Sender<RadioEvent>,
    events: mpsc::Receiver<RadioEvent>,
    /// The connection asked for and not yet seen closed or failed (one at a time: a second
    /// link to the same peripheral would share the first's fate in bluetoothd).
    conn: Option<(ConnId, mpsc::Sender<Command>)>,
    next_conn: u16,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Write(v, _) => write!(f, "Write({} octets)", v.len()),
            Command::Close => f.write_str("Close"),
        }
    }
}

impl GattRadio {
    /// The radio `uri` (a `gatt:` URI) names, with `config` for each link, once bluetoothd is
    /// found with an adapter ([`RadioError::Unavailable`] saying what to do when not).
    /// Connects nothing: the station asks with [`Radio::connect`].
    pub async fn open(uri: &RadioUri, config: GattConfig) -> Result<GattRadio, RadioError> {
        let RadioUri::Gatt { address, service } = uri else {
            return Err(RadioError::Unsupported(format!("{uri}: not a gatt: radio")));
        };
        let name = format!("gatt:{}", bdaddr(*address));
        adapter(&name).await?;
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        Ok(GattRadio {
            name,
            address: *address,
            service: service.unwrap_or(GattService::Proxy),
            config,
            events_tx,
            events,
            conn: None,
            next_conn: 0,
        })
    }

    /// The device address the URI names (least significant octet first): the only peer this
    /// radio connects to.
    pub fn address(&self) -> [u8; 6] {
        self.address
    }

    /// The service the URI asks for (`?service=`; the Mesh Proxy Service when it does not
    /// say): what a command connects to when it does not choose.
    pub fn service(&self) -> GattService {
        self.service
    }

    /// Forgets the connection once its `Disconnected` or `ConnectFailed` is taken.
    fn note(&mut self, event: &RadioEvent) {
        match event {
            RadioEvent::Link(LinkEvent::Disconnected { conn, .. })
                if self.conn.as_ref().is_some_and(|(c, _)| c == conn) =>
            {
                self.conn = None;
            }
            RadioEvent::Link(LinkEvent::ConnectFailed { .. }) => self.conn = None,
            _ => {}
        }
    }

    /// The commands of connection `conn`, if it is the one open or opening.
    fn commands(&self, conn: ConnId) -> Option<&mpsc::Sender<Command>> {
        self.conn
            .as_ref()
            .filter(|(c, _)| *c == conn)
            .map(|(_, s)| s)
    }
}

/// One connection's task: opens the link, reports the outcome, then moves values both ways
/// until the link goes down or the radio closes it.
async fn run(
    conn: ConnId,
    peer: [u8; 6],
    service: GattService,
    config: GattConfig,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<RadioEvent>,
) {
    let mut link = match GattLink::open(peer, mesh_service(service), config).await {
        Ok(link) => link,
        Err(e) => {
            tracing::warn!(target: "weft::gatt", "{e}");
            let _ = events
                .send(RadioEvent::Link(LinkEvent::ConnectFailed { peer, service }))
                .await;
            return;
        }
    };
    let connected = LinkEvent::Connected {
        conn,
        mtu: link.mtu(),
        peer,
        service,
        role: GattRole::Central,
    };
    if events.send(RadioEvent::Link(connected)).await.is_err() {
        link.close().await;
        return;
    }
    let reason = loop {
        tokio::select! {
            value = link.recv() => match value {
                Ok(bytes) => {
                    let frame = RxFrame {
                        bearer: Bearer::Gatt(conn),
                        channel: 0,
                        rssi: None,
                        timestamp: Instant::ZERO,
                        adv_address: None,
                        lqi: None,
                        bytes,
                    };
                    if events.send(RadioEvent::Frame(frame)).await.is_err() {
                        link.close().await;
                        return;
                    }
                }
                // Down, the values received before drained.
                Err(_) => break DisconnectReason::LinkLoss,
            },
            command = commands.recv() => match command {
                Some(Command::Write(value, done)) => {
                    let _ = done.send(link.send(&value).await);
                }
                // Asked to close, or the radio is gone.
                Some(Command::Close) | None => {
                    link.close().await;
                    break DisconnectReason::Local;
                }
            },
        }
    };
    let _ = events
        .send(RadioEvent::Link(LinkEvent::Disconnected { conn, reason }))
        .await;
}

impl Radio for GattRadio {
    /// GATT only: a Central has no advertising bearer.
    fn caps(&self) -> Caps {
        Caps::GATT
    }

    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            let Bearer::Gatt(conn) = frame.bearer else {
                return Err(RadioError::Unsupported(format!(
                    "{}: carries GATT values only, not {:?} frames",
                    self.name, frame.bearer
                )));
            };
            let gone = || {
                RadioError::Unavailable(format!(
                    "{}: connection {} is not open (connect first, or it went down)",
                    self.name, conn.0
                ))
            };
            let commands = self.commands(conn).ok_or_else(gone)?.clone();
            let (done, outcome) = oneshot::channel();
            commands
                .send(Command::Write(frame.bytes, done))
                .await
                .map_err(|_| gone())?;
            outcome.await.map_err(|_| gone())?
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            loop {
                if let RadioEvent::Frame(f) = self.recv_event().await? {
                    return Ok(f);
                }
            }
        })
    }

    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            // The radio holds a sender, so the channel never ends.
            let event = self.events.recv().await.ok_or_else(|| {
                RadioError::Unavailable(format!("{}: the radio's events ended", self.name))
            })?;
            self.note(&event);
            Ok(event)
        })
    }

    fn connect(&mut self, peer: [u8; 6], service: GattService) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            if peer != self.address {
                return Err(RadioError::Unsupported(format!(
                    "{}: reaches that node only, not {} (open gatt:{} for it)",
                    self.name,
                    bdaddr(peer),
                    bdaddr(peer)
                )));
            }
            if self.conn.is_some() {
                return Err(RadioError::Unsupported(format!(
                    "{}: one connection at a time, and one is open or opening",
                    self.name
                )));
            }
            let conn = ConnId(self.next_conn);
            self.next_conn = self.next_conn.wrapping_add(1);
            let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
            self.conn = Some((conn, commands_tx));
            tokio::spawn(run(
                conn,
                peer,
                service,
                self.config.clone(),
                commands,
                self.events_tx.clone(),
            ));
            Ok(())
        })
    }

    fn disconnect(&mut self, conn: ConnId) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            let Some(commands) = self.commands(conn) else {
                return Err(RadioError::Unsupported(format!(
                    "{}: no connection {} to close",
                    self.name, conn.0
                )));
            };
            // A task already ended has its Disconnected queued: nothing more to do.
            let _ = commands.send(Command::Close).await;
            Ok(())
        })
    }

    fn set_connectable(&mut self, adv: Option<Connectable>) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            Err(RadioError::Unsupported(format!(
                "{}: a GATT client serves nothing, so it cannot advertise {}",
                self.name,
                adv.map_or("a service".to_string(), |a| format!(
                    "the {:#06x} service",
                    a.service.uuid16()
                ))
            )))
        })
    }
}
