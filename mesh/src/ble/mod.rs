//! Bluetooth Mesh Protocol 1.1.

pub mod address;
pub mod cdb;
pub mod crypto;
pub mod foundation;
pub mod models;
pub mod node;
pub mod prov;
pub mod proxy;
pub mod sniff;
pub mod station;
pub mod transport;
pub mod wire;

pub use address::{Address, IvIndex, Seq, UnicastAddress};
