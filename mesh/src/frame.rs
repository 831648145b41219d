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

/// How a frame the station handed to its radio ended, as the radio reports it (only radios
/// that know say; see ARCHITECTURE.md, "The Thread radios").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxStatus {
    /// On the air; no acknowledgment was asked for (broadcast, or AR clear).
    Sent,
    /// Acknowledged (IEEE 802.15.4-2015 §6.7.4: the Imm-Ack or Enh-Ack with the frame's
    /// sequence number arrived).
    Acked,
    /// No acknowledgment after macMaxFrameRetries retransmissions (§6.7.4.3).
    NoAck,
    /// CSMA-CA found the channel busy more than macMaxCsmaBackoffs times (§6.2.5.1).
    ChannelAccessFailure,
    /// The radio did not send it (its queue was full, it refused the frame, or it failed).
    Failed,
}

/// The end of one transmission: what [`Station::handle_tx_done`] is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxDone {
    pub bearer: Bearer,
    /// The frame's MAC sequence number (IEEE 802.15.4-2015 §7.2.2.2), so that a station tells
    /// its frames apart; `None` when it had none or the radio does not say.
    pub sequence_number: Option<u8>,
    pub status: TxStatus,
    /// The acknowledgment had Frame Pending set (§7.2.1.3): the receiver (a parent answering
    /// a Data Request, §6.7.3) holds a frame for this station. False without an ack.
    pub frame_pending: bool,
}

/// A GATT service of a Mesh node: what a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GattService {
    /// The Mesh Provisioning Service, UUID 0x1827 (MshPRT §7.1): PB-GATT, a device not yet
    /// provisioned.
    Provisioning,
    /// The Mesh Proxy Service, UUID 0x1828 (MshPRT §7.2): a Proxy Server.
    Proxy,
}

impl GattService {
    /// Its 16-bit UUID (Bluetooth Assigned Numbers §3.4.2; MshPRT §7.1, §7.2).
    pub const fn uuid16(self) -> u16 {
        match self {
            GattService::Provisioning => 0x1827,
            GattService::Proxy => 0x1828,
        }
    }
}

/// Which end of a connection this station is (Core v5.4 Vol 6 Part B §4.5): the Central
/// connected (a Proxy Client, a Provisioner over PB-GATT), the Peripheral advertised and was
/// connected to (a Proxy Server, a device over PB-GATT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GattRole {
    Central,
    Peripheral,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// This station asked for it ([`LinkRequest::Disconnect`]).
    Local,
    /// The peer closed it.
    Remote,
    /// The link was lost: no packet got through for the supervision timeout (Core v5.4 Vol 6
    /// Part B §4.5.2), or the radio itself went away.
    LinkLoss,
}

/// What happened to a GATT connection. A radio hands these over in order with the frames:
/// `Connected` before the first value of the connection, `Disconnected` after its last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A connection is up, its ATT MTU exchanged (Core v5.4 Vol 3 Part F §3.4.2; 23..=517)
    /// and notifications of the service's Data Out characteristic enabled (MshPRT §7.1.3,
    /// §7.2.3): values flow as frames on [`Bearer::Gatt`]`(conn)`.
    Connected {
        conn: ConnId,
        /// The ATT MTU: a value is at most `mtu - 3` octets.
        mtu: u16,
        /// The peer's device address, least significant octet first (as
        /// [`RxFrame::adv_address`]).
        peer: [u8; 6],
        service: GattService,
        role: GattRole,
    },
    /// A new ATT MTU on `conn`.
    MtuChanged { conn: ConnId, mtu: u16 },
    /// `conn` is closed; nothing more arrives on it.
    Disconnected {
        conn: ConnId,
        reason: DisconnectReason,
    },
    /// A [`LinkRequest::Connect`] came to nothing: the peer was not there, not in range, or
    /// not serving `service`.
    ConnectFailed { peer: [u8; 6], service: GattService },
}

/// What a station asks of the radio's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkRequest {
    /// Connect, as Central, to the node advertising with device address `peer`, to its
    /// `service`: a [`LinkEvent::Connected`] or [`LinkEvent::ConnectFailed`] follows.
    Connect { peer: [u8; 6], service: GattService },
    /// Close `conn` (queued values go out first); a [`LinkEvent::Disconnected`] follows.
    Disconnect { conn: ConnId },
}

/// A service a station accepts connections for, and the advertising data to advertise it with,
/// connectable (MshPRT §7.1.2.2.1 Mesh Provisioning Service, §7.2.2.2.1 Mesh Proxy Service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connectable {
    pub service: GattService,
    /// AD structures (Flags, Complete List of 16-bit Service UUIDs, Service Data).
    pub adv_data: Vec<u8>,
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

    /// A frame this station sent is done with: acknowledged or not, and whether the ack said
    /// Frame Pending (radios that report it: the 802.15.4 simulator, `spinel:`). Called once per
    /// frame, in the order they were sent. The default ignores it, so stations that do not
    /// care (Bluetooth Mesh) are untouched.
    fn handle_tx_done(&mut self, _now: Instant, _done: &TxDone) {}

    /// A GATT connection opened, changed its MTU or closed (only radios with GATT report
    /// these). A station that does not serve the connection's service answers a `Connected`
    /// with a [`LinkRequest::Disconnect`]. The default ignores them.
    fn handle_link(&mut self, _now: Instant, _event: &LinkEvent) {}

    /// The next connection to open or close. The default: none.
    fn poll_link(&mut self) -> Option<LinkRequest> {
        None
    }

    /// The service this station accepts connections for now, with its advertising data, or
    /// `None` when it takes no connection. A fresh Random each call (Node Identity, §7.2.2.2.3):
    /// call it once per advertising set, or when a Central connects. The default: none.
    fn connectable(&mut self, _now: Instant) -> Option<Connectable> {
        None
    }

    /// For a station on an IEEE 802.15.4 radio: the channel, PAN and addresses its radio
    /// acknowledges frames for, and its source-match table, as they are now (the driver
    /// passes them on to the radio when they change). The default: none (a Bluetooth station,
    /// or one whose radio asks it directly, like the simulated medium).
    fn radio_mac(&self) -> Option<crate::thread::radio::RadioMac> {
        None
    }
}
