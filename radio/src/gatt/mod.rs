//! GATT links to Mesh nodes (`gatt:ADDRESS`, cargo feature `gatt`): a connection to a node's
//! Mesh Proxy Service (0x1828) or an unprovisioned device's Mesh Provisioning Service (0x1827),
//! through btleplug and bluetoothd.
//!
//! - `service.rs`: the services and characteristics (MshPRT v1.1 §7.1, §7.2) and the choice
//!   of Data In and Data Out among what discovery found, as pure functions.
//! - `values.rs`: ATT values of at most ATT_MTU - 3 octets, messages segmented to them.
//! - `error.rs`: btleplug's errors as weft's, with what to do.
//! - `link.rs`: [`GattLink`], one connection: `send` (Write Without Response to Data In),
//!   `recv` (notifications of Data Out), `mtu`, `disconnected`.
//! - `radio.rs`: [`GattRadio`], what a `gatt:` URI opens: the [`crate::Radio`] seam's GATT
//!   connections (`connect`, values on `Bearer::Gatt`, link events) over [`GattLink`]s.

pub mod error;
mod link;
mod radio;
pub mod service;
#[cfg(test)]
mod tests;
pub mod values;

pub use link::{bdaddr, GattConfig, GattLink};
pub use radio::{mesh_service, GattRadio};
pub use service::MeshService;
