//! What the simulated medium reports: its events, why a PDU did not get through, its
//! counters, and the PDUs its air tap sees.

use weft_mesh::{Instant, LinkEvent};

use super::{GattStats, NodeId};

/// Why a PDU did not reach a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The link's loss draw failed.
    Loss,
    /// Another PDU overlapped it on the same channel at the receiver (collisions on).
    Collision,
    /// The receiver was not scanning on that channel for the whole PDU.
    NotListening,
    /// The receiver was transmitting (an advertising event of its own) during the PDU.
    HalfDuplex,
    /// The explicit link's RSSI is below sensitivity.
    BelowSensitivity,
}

/// Something that happened in the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent<E> {
    /// `node` started sending a PDU with `len` octets of advertising data on `channel`.
    Tx {
        at: Instant,
        node: NodeId,
        channel: u8,
        len: usize,
    },
    /// `to` received the PDU of `from` that ended `at`.
    Rx {
        at: Instant,
        from: NodeId,
        to: NodeId,
        channel: u8,
        rssi: i8,
    },
    /// The PDU of `from` that ended `at` did not reach its neighbour `to`.
    Drop {
        at: Instant,
        from: NodeId,
        to: NodeId,
        channel: u8,
        reason: DropReason,
    },
    /// A station reported an event.
    Station { at: Instant, node: NodeId, event: E },
    /// `node` was told what happened to one of its GATT connections.
    Link {
        at: Instant,
        node: NodeId,
        event: LinkEvent,
    },
}

/// Drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    pub loss: u64,
    pub collision: u64,
    pub not_listening: u64,
    pub half_duplex: u64,
    pub below_sensitivity: u64,
}

impl DropCounts {
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Loss => self.loss,
            DropReason::Collision => self.collision,
            DropReason::NotListening => self.not_listening,
            DropReason::HalfDuplex => self.half_duplex,
            DropReason::BelowSensitivity => self.below_sensitivity,
        }
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.loss + self.collision + self.not_listening + self.half_duplex + self.below_sensitivity
    }

    pub(super) fn bump(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::Loss => &mut self.loss,
            DropReason::Collision => &mut self.collision,
            DropReason::NotListening => &mut self.not_listening,
            DropReason::HalfDuplex => &mut self.half_duplex,
            DropReason::BelowSensitivity => &mut self.below_sensitivity,
        };
        *c += 1;
    }
}

/// Counters of the medium, always kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Advertising events started (one per accepted `TxFrame`).
    pub adv_events: u64,
    /// PDUs put on the air (three per advertising event).
    pub frames_sent: u64,
    /// PDUs handed to a receiving station.
    pub delivered: u64,
    /// PDUs that did not reach a neighbour, by reason (per PDU and neighbour).
    pub dropped: DropCounts,
    /// `TxFrame`s refused: advertising data over 31 octets.
    pub rejected_oversize: u64,
    /// `TxFrame`s refused: a bearer other than `Bearer::Advertising` and `Bearer::Gatt`.
    pub rejected_bearer: u64,
    /// The GATT connections' counters.
    pub gatt: GattStats,
    /// Events stations reported.
    pub station_events: u64,
    /// Calls into stations (`handle_timeout`, `handle_frame`, scheduled commands).
    pub station_calls: u64,
}

/// One PDU on the air, as the air tap sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AirFrame<'a> {
    /// When the PDU started.
    pub start: Instant,
    /// When it ended.
    pub end: Instant,
    /// The sender.
    pub node: NodeId,
    /// The advertising channel (37..=39).
    pub channel: u8,
    /// The advertising data (AD structures).
    pub bytes: &'a [u8],
}
