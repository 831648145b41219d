//! Frames at the boundary between a protocol core and a radio, and the sans-IO contract every
//! core implements (ARCHITECTURE.md, "Rules of each folder").

use crate::time::Instant;

/// One GATT connection, as the runtime that owns the connections numbers them (an ATT
/// bearer's connection handle, Core v5.4 Vol 4 Part E §5.3.1, or any other stable number): a
/// core tells its connections apart by it, and the runtime maps it back to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u16);

/// The bearer a frame travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bearer {
    /// Bluetooth LE advertising (Mesh Protocol 1.1 §3.3.1). The frame's bytes are the
    /// advertising data (AD structures); `channel` is 37, 38 or 39.
    Advertising,
    /// A GATT connection carrying Proxy PDUs (§3.3.2, §6.3): the frame's bytes are one ATT
    /// value (a Proxy PDU, one segment at most `ATT_MTU - 3` octets long) written to or
    /// notified on the connection.
    Gatt(ConnId),
    /// IEEE 802.15.4 (channels 11..=26). The bytes are the MAC frame without the FCS.
    Ieee802154,
}

/// Bytes heard on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFrame {
    pub bearer: Bearer,
    /// The RF channel (37..=39 for BLE advertising, 11..=26 for 802.15.4); 0 when unknown.
    pub channel: u8,
    /// Received signal strength in dBm, when the radio reports it.
    pub rssi: Option<i8>,
    /// When the frame ended, on the receiving radio's own clock in microseconds (a
    /// controller's timestamp, the simulated air's time); [`Instant::ZERO`] when the radio has
    /// no clock of its own. Captures tie it to the host's wall clock (weft-radio's `capture`).
    pub timestamp: Instant,
    /// The advertiser address (AdvA) of the radio that transmitted the frame, least significant
    /// octet first as on the air (Core v5.4 Vol 6 Part B §2.3.1), when the radio reports it:
    /// a scanner sees the transmitter's address, which for a relayed PDU is the relay's, not the
    /// originator's. `None` on other bearers and from radios that do not say.
    pub adv_address: Option<[u8; 6]>,
    /// The Link Quality Indicator (IEEE 802.15.4-2015 §10.2.6: 0-255, higher is better) when
    /// the radio reports it (an RCP's Spinel metadata, the nRF sniffer's `lqi:`); `None` on
    /// other bearers and from radios that do not say.
    pub lqi: Option<u8>,
    pub bytes: Vec<u8>,
}

/// Bytes to put on the air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    pub bearer: Bearer,
    pub bytes: Vec<u8>,
}

/// The sans-IO contract of a protocol core: bytes and timers in, bytes and events out. The same
/// core runs in the simulator, under a real radio, and in unit tests fed by hand.
pub trait Station {
    /// What the core reports upward (decoded messages, progress, errors).
    type Event;

    /// Bytes from the air.
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame);
    /// The next frame to put on the air, if one is due at `now`.
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame>;
    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// When `handle_timeout` must next be called (a frame due, a timer expiring).
    fn poll_timeout(&self) -> Option<Instant>;
    /// Time has reached `now`: run the timers that are due.
    fn handle_timeout(&mut self, now: Instant);
}
