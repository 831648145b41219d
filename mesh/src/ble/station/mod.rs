//! Stations that put the protocol roles together into one node on the air, as weft runs them:
//!
//! - [`ProvisionerNode`]: weft's own node (a [`Node`](crate::ble::node::Node)) with a
//!   [`Provisioner`](crate::ble::prov::Provisioner) and a
//!   [`ConfigClient`](crate::ble::foundation::config::client::ConfigClient) beside it, and the
//!   network database ([`Cdb`](crate::ble::cdb::Cdb)) they keep: it chooses each new device's
//!   addresses, records the node it becomes, gives the node its device key, configures it, and
//!   folds every Configuration Client answer into the database.
//! - [`DeviceNode`]: an unprovisioned [`Device`](crate::ble::prov::Device) that becomes a
//!   [`Node`](crate::ble::node::Node) once provisioned.
//!
//! Both are sans-IO [`Station`](crate::Station)s: the runtime moves frames and time, persists
//! what they report, and draws.

mod device;
mod provisioner;

#[cfg(test)]
mod tests;

pub use device::{DeviceNode, DeviceNodeEvent, DeviceProfile, ServingNode};
pub use provisioner::{
    AutoProvision, ProvisionFailure, ProvisionRefused, ProvisionSettings, ProvisionerNode,
    ProvisionerNodeEvent,
};
