//! The Bluetooth Mesh security toolbox (Mesh Protocol 1.1 §3.9 "Mesh security"): the key
//! derivation functions s1, k1-k5, s2 and the virtual address hash (`toolbox.rs`), and the keys
//! of a network with the material they derive, each expanded once (`keys.rs`). They compose the
//! generic primitives of [`crate::crypto`].

mod keys;
mod toolbox;

pub use keys::{nonce, AppKey, DevKey, NetKey, NetworkCredentials};
pub use toolbox::{k1, k2, k3, k4, k5, s1, s2, virtual_address, K2};
