//! The transport layers of Bluetooth Mesh Protocol 1.1 (§3.5 lower transport, §3.6 upper
//! transport), as sans-IO state machines the node drives.
//!
//! - [`sar`]: segmentation and reassembly of the lower transport layer (§3.5.3): one
//!   [`SarTx`] per outgoing segmented message, one [`SarRx`] per incoming one, with the SAR
//!   Transmitter and SAR Receiver configuration states that time them.
//! - [`rpl`]: the replay protection list (§3.9.8).
//!
//! Nothing here reads a clock or touches a radio: the node passes `now` in, asks
//! `poll_timeout` when to call back, and puts the lower transport PDUs these machines hand out
//! into network PDUs (adding the SEQ, the network header and the encryption).

pub mod rpl;
pub mod sar;

pub use rpl::{Replay, ReplayProtectionList, RplEntry};
pub use sar::{
    CompletedRx, LowerPdu, RxError, RxOutcome, SarBuildError, SarRx, SarRxConfig, SarRxParams,
    SarTx, SarTxConfig, SarTxError, SarTxParams, SegKind,
};
