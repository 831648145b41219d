//! The Health models (Mesh Protocol 1.1 §4.3.3 messages, §4.4.3 Health Server): faults, the
//! fast period divisor and the attention timer.

mod messages;
pub mod server;

pub use messages::*;
