//! Byte-exact Bluetooth Mesh PDUs, each in the style of [`crate::wire`] (a checked view and an
//! owned representation implementing [`Wire`]). Parsing never panics.

#[allow(unused_imports)]
pub(crate) use crate::wire::{at_most, need, Hex};
pub use crate::wire::{Error, Result, Wire};

pub mod access;
pub mod adv;
pub mod beacon;
pub mod control;
pub mod lower;
pub mod network;
pub mod pbadv;
pub mod prov;
pub mod proxy;
pub mod upper;
