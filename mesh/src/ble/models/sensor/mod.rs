//! The Sensor models (Mesh Model 1.1 §4): the Sensor messages (§4.1, §4.2), the values of the
//! properties weft's nodes report (Mesh Device Properties), and the Sensor Server as a node
//! hosts it (§4.3.1).

mod messages;
mod properties;
pub mod server;

pub use messages::*;
pub use properties::*;
