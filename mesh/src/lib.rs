//! weft-mesh: sans-IO protocol cores for Bluetooth Mesh and Thread.
//!
//! Nothing in this crate performs I/O, reads a clock or spawns a task: bytes go in,
//! bytes and events come out. See `ARCHITECTURE.md`.

pub mod ble;
pub mod crypto;
pub mod frame;
pub mod thread;
pub mod time;
pub mod topology;
pub mod wire;

pub use frame::{
    Bearer, ConnId, Connectable, DisconnectReason, GattRole, GattService, LinkEvent, LinkRequest,
    RxFrame, Station, TxDone, TxFrame, TxStatus,
};
pub use time::{Duration, Instant};
pub use wire::Wire;
