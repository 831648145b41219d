//! weft-radio: where bytes meet the air.
//!
//! The frame types are the protocol cores' own ([`weft_mesh::RxFrame`], [`weft_mesh::TxFrame`]):
//! a radio backend turns them into air and back. Backends (the simulated medium, HCI, BlueZ,
//! GATT proxy, Spinel, the nRF 802.15.4 sniffer) and the pcapng writer live in modules of their
//! own; see `DESIGN.md` ("radio/").

pub use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};

pub mod pcap;
pub mod sim;
