//! ATT values on a Mesh GATT link: how long one may be, and messages cut to that length
//! (MshPRT v1.1 §6.3.2: each Proxy PDU is one ATT value; Core v5.4 Vol 3 Part F §3.4.5.3,
//! §3.4.7.1: a Write Command and a Handle Value Notification carry at most ATT_MTU - 3 octets).

use weft_mesh::ble::wire::proxy::{segment, MessageType, MIN_ATT_MTU};
use weft_mesh::ble::wire::Wire;

/// The longest ATT value a link of ATT MTU `mtu` carries: `mtu - 3`, with an MTU below the LE
/// minimum of 23 (Core Vol 3 Part F §3.2.8) counted as 23.
pub fn max_value(mtu: u16) -> usize {
    usize::from(mtu.max(MIN_ATT_MTU)) - 3
}

/// `payload` of `message_type` as the ATT values to write, each a Proxy PDU of at most
/// [`max_value`] octets (the core's segmentation, §6.3.2).
pub fn values(message_type: MessageType, payload: &[u8], mtu: u16) -> Vec<Vec<u8>> {
    segment(message_type, payload, mtu)
        .iter()
        .map(Wire::to_vec)
        .collect()
}
