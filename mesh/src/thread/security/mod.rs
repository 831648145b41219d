//! Thread security: CCM* applied to IEEE 802.15.4 MAC frames (802.15.4-2015 §9.3) and the
//! Thread key hierarchy (Thread 1.3 §7.1.2): MAC and MLE keys derived from the network key
//! and a key sequence, and the key sequence a node follows.

mod keys;
mod mac;

pub use keys::{key_index, KeyManager, ThreadKeys};
pub use mac::{nonce, open_payload_len, secure, unsecure, unsecure_into};
