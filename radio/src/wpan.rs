//! What every IEEE 802.15.4 radio checks of a frame it is given to send, and the one change
//! to a radio's source-match table the radios that keep one take.

use weft_mesh::thread::mac::Address;

use crate::{Bearer, RadioError, TxFrame};

/// One change to a radio's source-match table: the addresses whose Data Requests its
/// acknowledgment answers with Frame Pending (IEEE 802.15.4-2015 §6.7.3; OpenThread's
/// `otPlatRadioEnableSrcMatch`, `otPlatRadioAddSrcMatch*Entry`, `otPlatRadioClearSrcMatch*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrcMatch {
    /// Source match on (Frame Pending only for the addresses listed) or off (Frame Pending in
    /// every ack of a Data Request).
    Enable(bool),
    /// Frames wait for this address (short or extended): its Data Requests are answered with
    /// Frame Pending.
    Add(Address),
    /// Nothing waits for this address any more.
    Remove(Address),
    /// Empties the table.
    Clear,
}

/// The largest MAC frame without its FCS (IEEE 802.15.4-2015 §11.3 aMaxPhyPacketSize 127,
/// less the 2-octet FCS of §7.2.10).
pub const MAX_MAC_FRAME: usize = 125;

/// `frame` is an 802.15.4 MAC frame of 1 to [`MAX_MAC_FRAME`] octets (without its FCS).
pub fn check_tx(frame: &TxFrame) -> Result<(), RadioError> {
    if frame.bearer != Bearer::Ieee802154 {
        return Err(RadioError::Unsupported(format!(
            "an 802.15.4 radio cannot send on the {:?} bearer",
            frame.bearer
        )));
    }
    if frame.bytes.is_empty() || frame.bytes.len() > MAX_MAC_FRAME {
        return Err(RadioError::Unsupported(format!(
            "an 802.15.4 MAC frame is 1 to {MAX_MAC_FRAME} octets without its FCS, not {}",
            frame.bytes.len()
        )));
    }
    Ok(())
}
