//! The Generic OnOff, Generic Level and Generic Default Transition Time models (Mesh Model 1.1
//! §3): their messages (§3.2), the states that change over time with a transition (§3.1.3),
//! and their servers as a node hosts them (§3.3).

mod messages;
pub mod server;
mod transition;

pub use messages::*;
pub use transition::{Level, OnOff, LEVEL_MAX, LEVEL_MIN};
