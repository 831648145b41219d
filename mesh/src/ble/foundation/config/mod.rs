//! The Configuration models (Mesh Protocol 1.1 §4.3.2 messages, §4.4.1 Configuration Server,
//! §4.4.2 Configuration Client): how a Provisioner gives a node its keys, bindings,
//! publications, subscriptions and features.
//!
//! | module | MshPRT |
//! |--------|--------|
//! | this module | §4.3.2 the messages ([`ConfigMessage`]), §4.3.4 their opcodes, §4.3.5 status codes |
//! | [`server`] | §4.4.1 the Configuration Server: a node's answers |
//! | [`client`] | §4.4.2 the Configuration Client: requests, retries, the configuration of a new node |

pub mod client;
pub(crate) mod messages;
pub mod server;

pub use messages::*;
