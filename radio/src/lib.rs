//! weft-radio: where bytes meet the air.
//!
//! This crate holds the frame types every backend shares. The backends themselves (the
//! simulated medium, HCI, BlueZ, GATT proxy, Spinel, the nRF 802.15.4 sniffer, pcapng) land
//! one by one on top of these types; see `DESIGN.md` ("radio/").

/// The bearer a frame travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bearer {
    /// Bluetooth LE advertising (Mesh Protocol 1.1 §3.3.1), one of channels 37, 38, 39.
    Advertising { channel: u8 },
    /// A GATT connection to a Mesh Proxy or Provisioning service (§3.3.2).
    Gatt,
    /// IEEE 802.15.4 on a channel 11..=26.
    Ieee802154 { channel: u8 },
}

/// Bytes heard on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFrame {
    pub bearer: Bearer,
    /// Received signal strength in dBm, when the radio reports it.
    pub rssi: Option<i8>,
    /// Microseconds on the radio's clock when the frame ended.
    pub timestamp_us: u64,
    pub bytes: Vec<u8>,
}

/// Bytes to put on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    pub bearer: Bearer,
    pub bytes: Vec<u8>,
}
