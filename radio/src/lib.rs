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

pub use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};

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

/// A radio: frames to the air and frames from it.
///
/// `recv` must be cancel-safe (it is awaited inside `select!` beside timers, and a future
/// dropped before it completes must lose no frame), so backends read their device in a task of
/// their own and hand complete frames over a channel; `recv` only takes the next one.
pub trait Radio: Send {
    /// What the radio can carry.
    fn caps(&self) -> Caps;
    /// Puts `frame` on the air.
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()>;
    /// The next frame heard. Cancel-safe.
    fn recv(&mut self) -> RadioFuture<'_, RxFrame>;
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
}
