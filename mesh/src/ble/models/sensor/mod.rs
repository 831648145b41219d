//! The Sensor models (Mesh Model 1.1 §4): the Sensor messages and their values (§4.1, §4.2),
//! and the Sensor Server as a node hosts it (§4.3.1).

mod messages;
pub mod server;

pub use messages::*;
