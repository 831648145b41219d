//! weft-radio: where bytes meet the air.
//!
//! The frame types are the protocol cores' own ([`weft_mesh::RxFrame`], [`weft_mesh::TxFrame`]):
//! a radio backend turns them into air and back. Backends live in modules of their own: the
//! discrete-event simulator ([`sim`]), the live simulated air shared by processes ([`hub`]), and
//! the pcapng capture format ([`pcap`]); HCI, BlueZ, GATT proxy, Spinel and the nRF 802.15.4
//! sniffer follow. See `ARCHITECTURE.md`.

pub use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};

pub mod ble_ll;
pub mod hub;
pub mod pcap;
pub mod sim;

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

/// Why a radio failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RadioError {
    /// The radio (or the infrastructure behind it) is not there or went away.
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

/// A radio: frames to the air and frames from it.
///
/// `recv` must be cancel-safe (it is awaited inside `select!` beside timers), so backends read
/// their device in a task of their own and hand complete frames over a channel.
#[allow(async_fn_in_trait)]
pub trait Radio {
    fn caps(&self) -> Caps;
    async fn send(&mut self, frame: TxFrame) -> Result<(), RadioError>;
    async fn recv(&mut self) -> Result<RxFrame, RadioError>;
}
