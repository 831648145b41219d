//! Thread security: CCM* applied to IEEE 802.15.4 MAC frames (802.15.4-2015 §9.3) and the
//! Thread key hierarchy (Thread 1.3 §7.1.2): MAC and MLE keys derived from the network key
//! and a key sequence, the key sequence a node follows (with the key switch guard), and
//! frame counters per neighbour against replays.

mod keys;
mod mac;
mod replay;

pub use keys::{
    key_index, KeyManager, KeySwitchGuard, ThreadKeys, DEFAULT_KEY_ROTATION_HOURS,
    DEFAULT_KEY_SWITCH_GUARD_HOURS, KEY_SWITCH_GUARD_PERCENT,
};
pub use mac::{nonce, open_payload_len, secure, unsecure, unsecure_into};
pub use replay::{CounterCheck, ReplayTable, DEFAULT_REPLAY_CAPACITY};
