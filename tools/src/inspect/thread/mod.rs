//! The Thread side of `weft inspect`: an IEEE 802.15.4 source (the `thread-home` scenario on
//! the simulated air, or a `spinel:`, `nrf154:` or `otsim:` radio) decoded by the core's
//! Thread decoder and drawn in panes like the Bluetooth Mesh ones.
//!
//! - [`adapter`]: the one reader of the decoder's `DecodedFrame`;
//! - [`model`]: what the Thread tab draws;
//! - [`feeder`]: filters, decodes, learns the topology, fills the model;
//! - [`sim`]: the scenario tapped on its air; [`runtime`]: the thread that runs a source;
//! - [`capture`]: `c` writes what is heard to a pcapng file.

pub mod adapter;
pub mod capture;
pub mod feeder;
pub mod model;
mod own;
pub mod runtime;
pub mod sim;

pub use feeder::{ThreadConfig, ThreadFeeder};
pub use model::ThreadModel;
pub use runtime::{ThreadControl, ThreadRuntime};
pub use sim::ThreadSim;

/// A dataset's 8-octet mesh-local prefix as the /64 address the feeder takes.
pub fn own_prefix(p: [u8; 8]) -> std::net::Ipv6Addr {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&p);
    std::net::Ipv6Addr::from(a)
}
