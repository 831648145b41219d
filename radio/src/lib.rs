//! weft-radio: where bytes meet the air.
//!
//! The frame types are the protocol cores' own ([`weft_mesh::RxFrame`], [`weft_mesh::TxFrame`]):
//! a radio backend turns them into air and back. One seam, [`Radio`], usable as
//! `Box<dyn Radio>`; one parser of radio URIs, [`RadioUri`], and one [`open()`] that every command
//! uses; one real-time [`driver`] with one [`Clock`]. Backends live in modules of their own: the
//! discrete-event simulator ([`sim`]) and the live simulated air shared by processes ([`hub`]);
//! HCI controllers (`hci`, behind the default `hci` feature); BlueZ, GATT proxy, Spinel, the nRF
//! 802.15.4 sniffer and the OpenThread simulation follow, each behind a cargo feature ([`open()`]
//! says which). [`ble_ll`] and [`pcap`] are the capture formats, and [`capture`] writes what a
//! radio hears and sends in them. See `ARCHITECTURE.md`.

use std::future::Future;
use std::pin::Pin;

pub use weft_mesh::{
    Bearer, ConnId, Connectable, DisconnectReason, Duration, GattRole, GattService, Instant,
    LinkEvent, LinkRequest, RxFrame, Station, TxDone, TxFrame, TxStatus,
};

pub mod ble_ll;
#[cfg(feature = "bluez")]
pub mod bluez;
pub mod capture;
pub mod clock;
pub mod driver;
#[cfg(feature = "gatt")]
pub mod gatt;
#[cfg(feature = "hci")]
pub mod hci;
pub mod hub;
pub mod ieee802154_tap;
#[cfg(feature = "nrf154")]
pub mod nrf154;
pub mod open;
#[cfg(feature = "otsim")]
pub mod otsim;
pub mod pcap;
#[cfg(any(feature = "hci", feature = "spinel", feature = "nrf154"))]
mod serial;
pub mod sim;
#[cfg(feature = "spinel")]
pub mod spinel;
pub mod uri;
pub mod wpan;

pub use clock::{Clock, Pacer};
pub use driver::{drive, drive_with, Flow, Hooks, Outcome};
pub use open::open;
pub use uri::{RadioUri, UriError};

/// What a radio can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Bluetooth LE advertising (the Mesh advertising bearer).
    pub advertising: bool,
    /// A GATT connection (the Mesh proxy bearer).
    pub gatt: bool,
    /// IEEE 802.15.4 frames (Thread).
    pub ieee802154: bool,
}

impl Caps {
    /// BLE advertising only: the advertising bearer, as a scanner and advertiser has it.
    pub const ADVERTISING: Caps = Caps {
        advertising: true,
        gatt: false,
        ieee802154: false,
    };
    /// BLE advertising and GATT connections (the simulator, the live hub).
    pub const ADVERTISING_GATT: Caps = Caps {
        advertising: true,
        gatt: true,
        ieee802154: false,
    };
    /// GATT connections only: a Central reaching a node as a phone does (`gatt:`).
    pub const GATT: Caps = Caps {
        advertising: false,
        gatt: true,
        ieee802154: false,
    };
    /// IEEE 802.15.4 only: the Thread radios (`spinel:`, `nrf154:`, `otsim:`).
    pub const IEEE802154: Caps = Caps {
        advertising: false,
        gatt: false,
        ieee802154: true,
    };
}

/// Why a radio failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RadioError {
    /// The radio (or the infrastructure behind it) is not there or went away, or this build
    /// has no backend for it.
    #[error("radio unavailable: {0}")]
    Unavailable(String),
    /// The radio cannot do what was asked (wrong bearer, frame too long).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The radio spoke nonsense.
    #[error("radio protocol error: {0}")]
    Protocol(String),
    /// An I/O error.
    #[error("radio I/O error: {0}")]
    Io(String),
}

/// What [`Radio::send`] and [`Radio::recv`] return: a boxed future, so that `Radio` is usable
/// as a trait object; `Send`, so that a radio can move into a tokio task.
pub type RadioFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RadioError>> + Send + 'a>>;

/// What a radio hands over: a frame heard, something that happened to a GATT connection, or how
/// a frame it was given to send ended. One stream for all, so that a connection's `Connected`
/// comes before its first value and its `Disconnected` after its last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioEvent {
    Frame(RxFrame),
    Link(LinkEvent),
    /// A frame handed to [`Radio::send`] is done with (acknowledged or not, and the ack's Frame
    /// Pending), one per frame in the order they were sent, from radios that know it
    /// (`spinel:`: the RCP's transmit-done status; ARCHITECTURE.md, "The Thread radios"). The
    /// driver hands it to [`Station::handle_tx_done`].
    TxDone(TxDone),
}

/// A radio: frames to the air and frames from it, and (with [`Caps::gatt`]) GATT connections.
///
/// `recv` and `recv_event` must be cancel-safe (they are awaited inside `select!` beside
/// timers, and a future dropped before it completes must lose nothing), so backends read their
/// device in a task of their own and hand complete frames and link events over one channel;
/// they only take the next one.
///
/// GATT connections (ARCHITECTURE.md, "The radio seam: GATT connections"): a Central asks
/// with [`Radio::connect`], which only starts the attempt; its outcome comes through
/// `recv_event` as [`LinkEvent::Connected`] or [`LinkEvent::ConnectFailed`], in order with the
/// values. A Peripheral advertises what [`Radio::set_connectable`] says, and a Central that
/// connects arrives as [`LinkEvent::Connected`] with [`GattRole::Peripheral`]. Every ATT value
/// is a frame on [`Bearer::Gatt`]: a Central writes (Write Without Response) to the service's
/// Data In characteristic, a Peripheral notifies on its Data Out (MshPRT §7.1.3, §7.2.3).
/// Radios without GATT keep the defaults: `recv_event` gives `recv`'s frames, and `connect`,
/// `disconnect` and `set_connectable` refuse with [`RadioError::Unsupported`].
pub trait Radio: Send {
    /// What the radio can carry.
    fn caps(&self) -> Caps;
    /// Puts `frame` on the air (a value on a connection, for [`Bearer::Gatt`]).
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()>;
    /// The next frame heard. Cancel-safe. A radio with GATT gives only frames here (link
    /// events are skipped): read it with [`Radio::recv_event`].
    fn recv(&mut self) -> RadioFuture<'_, RxFrame>;
    /// The next frame or link event, in the order they happened. Cancel-safe.
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move { self.recv().await.map(RadioEvent::Frame) })
    }
    /// Starts connecting, as Central, to `service` of the node advertising with device
    /// address `peer`. Returns once the attempt is under way; the outcome arrives through
    /// [`Radio::recv_event`].
    fn connect(&mut self, _peer: [u8; 6], service: GattService) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            Err(RadioError::Unsupported(format!(
                "this radio has no GATT connections (Mesh {:#06x} service)",
                service.uuid16()
            )))
        })
    }
    /// Closes `conn` (values queued go first); [`LinkEvent::Disconnected`] follows.
    fn disconnect(&mut self, _conn: ConnId) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            Err(RadioError::Unsupported(
                "this radio has no GATT connections".into(),
            ))
        })
    }
    /// Advertises `adv`'s service, connectable, until told otherwise (`None`: stop, and take
    /// no new connection).
    fn set_connectable(&mut self, _adv: Option<Connectable>) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            Err(RadioError::Unsupported(
                "this radio has no GATT connections".into(),
            ))
        })
    }
    /// An IEEE 802.15.4 radio with a MAC of its own (`spinel:`, `otsim:`) takes its station's
    /// channel, PAN ID and addresses, so that it acknowledges frames for it, and its
    /// source-match table, so that its acks of Data Requests say Frame Pending
    /// ([`weft_mesh::thread::radio::RadioMac`]; the driver calls this whenever
    /// [`Station::radio_mac`] changes). `None`: back to listening to everything and
    /// acknowledging nothing. The default (radios without such a MAC: Bluetooth, sniffers, the
    /// simulated medium, which asks the station itself) does nothing.
    fn set_mac(&mut self, _mac: Option<weft_mesh::thread::radio::RadioMac>) -> RadioFuture<'_, ()> {
        Box::pin(async move { Ok(()) })
    }
}

impl<R: Radio + ?Sized> Radio for Box<R> {
    fn caps(&self) -> Caps {
        (**self).caps()
    }
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        (**self).send(frame)
    }
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        (**self).recv()
    }
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        (**self).recv_event()
    }
    fn connect(&mut self, peer: [u8; 6], service: GattService) -> RadioFuture<'_, ()> {
        (**self).connect(peer, service)
    }
    fn disconnect(&mut self, conn: ConnId) -> RadioFuture<'_, ()> {
        (**self).disconnect(conn)
    }
    fn set_connectable(&mut self, adv: Option<Connectable>) -> RadioFuture<'_, ()> {
        (**self).set_connectable(adv)
    }
    fn set_mac(&mut self, mac: Option<weft_mesh::thread::radio::RadioMac>) -> RadioFuture<'_, ()> {
        (**self).set_mac(mac)
    }
}
