//! What a Thread station asks of its IEEE 802.15.4 radio: the channel to listen and send on,
//! and the addresses its frame filter accepts and its auto-acknowledgment answers to.
//!
//! A radio co-processor (OpenThread's RCP, Spinel `PROP_PHY_CHAN`, `PROP_MAC_15_4_PANID`,
//! `PROP_MAC_15_4_LADDR`, `PROP_MAC_15_4_SADDR`) filters received frames on these values
//! (IEEE 802.15.4-2015 §6.7.2, third level of filtering: destination PAN ID and address) and
//! sends the Imm-Ack of a frame with AR set addressed to it by itself (§6.7.4.2). The
//! simulated 802.15.4 medium (weft-radio `sim::ieee802154`) reads them from each station
//! through [`Ieee802154Station`].
//!
//! The same radio sets Frame Pending in its acknowledgment of a Data Request (§6.7.3) when the
//! station holds a frame for the requester: an RCP looks the source address up in its "source
//! match" table (Spinel `PROP_MAC_SRC_MATCH_*`), the simulated medium asks
//! [`Ieee802154Station::frame_pending`].

use crate::frame::Station;
use crate::thread::mac::{Address, ExtAddress};

/// The radio settings of one station, as it holds them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacSettings {
    /// The channel, 11..=26 (channel page 0, O-QPSK 2450 MHz; IEEE 802.15.4-2015 §10.1.3).
    pub channel: u8,
    /// macPanId: frames to another PAN (other than the broadcast PAN ID 0xffff) are rejected.
    pub pan_id: u16,
    /// The station's extended address (macExtendedAddress).
    pub ext_address: ExtAddress,
    /// macShortAddress, once one is assigned (a Thread RLOC16); `None` before.
    pub short_address: Option<u16>,
}

/// What a real radio's MAC must hold for its station ([`Station::radio_mac`]): the settings,
/// and the source-match table (the addresses whose Data Requests are acknowledged with Frame
/// Pending, IEEE 802.15.4-2015 §6.7.3). A simulated medium asks the station instead; a radio
/// in another process (an RCP, the OpenThread simulation's air) cannot, so the driver hands it
/// this whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioMac {
    pub settings: MacSettings,
    /// Short and extended addresses, in a stable order.
    pub pending: Vec<Address>,
}

/// A [`Station`] on an IEEE 802.15.4 radio: it tells the radio its [`MacSettings`].
pub trait Ieee802154Station: Station {
    /// The settings the radio uses now (read by the radio at each frame; a station may change
    /// them at any call, e.g. when it is given a short address).
    fn mac_settings(&self) -> MacSettings;

    /// The source-match answer: whether this station holds a frame for the device with source
    /// address `src` (a sleepy child polling with a Data Request), so that the radio's ack
    /// carries Frame Pending (IEEE 802.15.4-2015 §6.7.3, §7.2.1.3). Asked by the radio when it
    /// acknowledges a Data Request addressed to this station, before the station is handed the
    /// frame. The default: nothing held for anyone.
    fn frame_pending(&self, _src: &Address) -> bool {
        false
    }
}
