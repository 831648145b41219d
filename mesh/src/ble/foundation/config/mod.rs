//! The Configuration models (Mesh Protocol 1.1 §4.3.2 messages, §4.4.1 Configuration Server,
//! §4.4.2 Configuration Client): how a Provisioner gives a node its keys, bindings,
//! publications, subscriptions and features.
//!
//! | file | MshPRT |
//! |------|--------|
//! | `messages.rs` | §4.3.2 the messages ([`ConfigMessage`]): the table of their opcodes and parameters |
//! | `opcodes.rs` | §4.3.4 the opcodes |
//! | `parameters.rs` | §4.3.5 status codes, and the states the messages carry (§4.2) |
//! | `codec.rs` | how the table becomes the parser and the emitter |
//! | [`server`] | §4.4.1 the Configuration Server: a node's answers |
//! | [`client`] | §4.4.2 the Configuration Client: requests, retries, the configuration of a new node |

pub mod client;
mod codec;
pub(crate) mod messages;
mod opcodes;
mod parameters;
pub mod server;

pub use messages::ConfigMessage;
pub use opcodes::*;
pub use parameters::{
    FeatureState, HeartbeatPublication, HeartbeatSubscription, Publication, PublishPeriod,
    Retransmit, StatusCode,
};
