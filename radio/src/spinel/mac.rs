//! What an RCP's MAC tells the host and is told by it beyond frames: the transmit-done status
//! of a `STREAM_RAW` transmission with the Frame Pending of its acknowledgment, and the
//! source-match table from which the RCP's auto-ack sets Frame Pending (IEEE 802.15.4-2015
//! §6.7.3) when a sleepy child polls with a Data Request.
//!
//! - Transmit done (OpenThread `NcpBase::LinkRawTransmitDone`): `PROP_VALUE_IS LAST_STATUS`
//!   with the transmission's transaction id: the status (packed), then `framePending` (bool:
//!   the ack had Frame Pending), then, since RCP API 4 or so, `headerUpdated` (bool) and for a
//!   status OK the ack frame itself. Older RCPs send the status alone; then Frame Pending is
//!   unknown (false).
//! - Source match (OpenThread `RadioSpinel::EnableSrcMatch`, `AddSrcMatchShortEntry`,
//!   `AddSrcMatchExtEntry`, `ClearSrcMatch*`): `PROP_MAC_SRC_MATCH_ENABLED` (bool, set), and
//!   the lists `PROP_MAC_SRC_MATCH_SHORT_ADDRESSES` (`A(S)`) and
//!   `PROP_MAC_SRC_MATCH_EXTENDED_ADDRESSES` (`A(E)`, each address in air order, least
//!   significant octet first), inserted into and removed from one entry at a time and cleared
//!   with an empty set. While source match is disabled an RCP sets Frame Pending in every ack
//!   of a Data Request (OpenThread's `otPlatRadioEnableSrcMatch`).
//! - The station's addresses (OpenThread `RadioSpinel::SetPanId`, `SetExtendedAddress`,
//!   `SetShortAddress`): `PROP_MAC_15_4_PANID` (`S`), `PROP_MAC_15_4_LADDR` (`E`, air order),
//!   `PROP_MAC_15_4_SADDR` (`S`), and promiscuous mode off, so that the RCP filters frames on
//!   them (§6.7.2) and acknowledges by itself those with AR addressed to it (§6.7.4.2), with
//!   Frame Pending from the source-match table.

use weft_mesh::thread::mac::Address;
use weft_mesh::thread::radio::MacSettings;
use weft_mesh::{Bearer, TxDone, TxStatus};

use super::wire::{self, Reader};
pub use crate::wpan::SrcMatch;

/// Spinel `PROP_MAC_SRC_MATCH_ENABLED`: `SPINEL_PROP_MAC_EXT__BEGIN` (0x1300) + 3 (OpenThread
/// `spinel.h`).
pub const PROP_MAC_SRC_MATCH_ENABLED: u32 = 0x1303;
/// Spinel `PROP_MAC_SRC_MATCH_SHORT_ADDRESSES`: 0x1300 + 4.
pub const PROP_MAC_SRC_MATCH_SHORT_ADDRESSES: u32 = 0x1304;
/// Spinel `PROP_MAC_SRC_MATCH_EXTENDED_ADDRESSES`: 0x1300 + 5.
pub const PROP_MAC_SRC_MATCH_EXTENDED_ADDRESSES: u32 = 0x1305;

/// Spinel `PROP_MAC_15_4_LADDR`: `SPINEL_PROP_MAC__BEGIN` (0x30) + 4.
pub const PROP_MAC_15_4_LADDR: u32 = 0x34;
/// Spinel `PROP_MAC_15_4_SADDR`: 0x30 + 5.
pub const PROP_MAC_15_4_SADDR: u32 = 0x35;
/// Spinel `PROP_MAC_15_4_PANID`: 0x30 + 6.
pub const PROP_MAC_15_4_PANID: u32 = 0x36;
/// `SPINEL_MAC_PROMISCUOUS_MODE_OFF`: only frames for this radio's addresses are passed up.
pub const PROMISCUOUS_OFF: u8 = 0;
/// macShortAddress 0xfffe: the device has no short address (802.15.4-2015 §8.4.3.1, table
/// 8-94), what a station without one gives its radio.
pub const NO_SHORT_ADDRESS: u16 = 0xfffe;

/// The properties that give an RCP the station's addresses, in the order they are set (the
/// filter last): `None` gives full promiscuous mode back (the radio hears everything, as a
/// sniffer, and acknowledges nothing).
pub fn mac_settings_props(settings: Option<&MacSettings>) -> Vec<(u32, Vec<u8>)> {
    let Some(m) = settings else {
        return vec![(
            wire::PROP_MAC_PROMISCUOUS_MODE,
            vec![wire::PROMISCUOUS_FULL],
        )];
    };
    vec![
        (PROP_MAC_15_4_PANID, m.pan_id.to_le_bytes().to_vec()),
        (PROP_MAC_15_4_LADDR, m.ext_address.to_air().to_vec()),
        (
            PROP_MAC_15_4_SADDR,
            m.short_address
                .unwrap_or(NO_SHORT_ADDRESS)
                .to_le_bytes()
                .to_vec(),
        ),
        (wire::PROP_MAC_PROMISCUOUS_MODE, vec![PROMISCUOUS_OFF]),
    ]
}

/// Frame Control bits of the frame sent (802.15.4-2015 §7.2.1): AR (bit 5), Sequence Number
/// Suppression (bit 8).
const FC_ACK_REQUEST: u16 = 1 << 5;
const FC_SEQ_SUPPRESSION: u16 = 1 << 8;

/// The `LAST_STATUS` value of a transmit-done answer: the status, and Frame Pending when the
/// RCP says (`None` from an RCP that sends the status alone). An unreadable status is
/// `u32::MAX` (not OK).
pub fn parse_tx_done(value: &[u8]) -> (u32, Option<bool>) {
    let mut r = Reader::new(value);
    let status = r.packed("status").unwrap_or(u32::MAX);
    let fp = r.u8("frame pending").ok().map(|b| b != 0);
    (status, fp)
}

/// What the station is told of the transmission of `mac` (the MAC frame without FCS) that
/// ended with `status` (`None`: not reported in time) and Frame Pending `fp`.
pub fn tx_done(mac: &[u8], status: Option<u32>, fp: Option<bool>) -> TxDone {
    let fc = match mac {
        [a, b, ..] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    };
    let sequence_number = if fc & FC_SEQ_SUPPRESSION == 0 {
        mac.get(2).copied()
    } else {
        None
    };
    let status = match status {
        Some(wire::STATUS_OK) if fc & FC_ACK_REQUEST != 0 => TxStatus::Acked,
        Some(wire::STATUS_OK) => TxStatus::Sent,
        Some(wire::STATUS_NO_ACK) => TxStatus::NoAck,
        Some(wire::STATUS_CCA_FAILURE) => TxStatus::ChannelAccessFailure,
        _ => TxStatus::Failed,
    };
    TxDone {
        bearer: Bearer::Ieee802154,
        sequence_number,
        frame_pending: status == TxStatus::Acked && fp == Some(true),
        status,
    }
}

/// The Spinel command, property and value of a change; `None` for `Add`/`Remove` of
/// [`Address::None`] (nothing to match).
pub fn encode(change: SrcMatch) -> Option<(u32, u32, Vec<u8>)> {
    let entry = |a: Address| match a {
        Address::Short(s) => Some((PROP_MAC_SRC_MATCH_SHORT_ADDRESSES, s.to_le_bytes().to_vec())),
        Address::Extended(e) => Some((PROP_MAC_SRC_MATCH_EXTENDED_ADDRESSES, e.to_air().to_vec())),
        Address::None => None,
    };
    match change {
        SrcMatch::Enable(on) => Some((
            wire::CMD_PROP_VALUE_SET,
            PROP_MAC_SRC_MATCH_ENABLED,
            vec![u8::from(on)],
        )),
        SrcMatch::Add(a) => entry(a).map(|(p, v)| (wire::CMD_PROP_VALUE_INSERT, p, v)),
        SrcMatch::Remove(a) => entry(a).map(|(p, v)| (wire::CMD_PROP_VALUE_REMOVE, p, v)),
        // Clear sets both lists empty: two requests; this is the first, the caller sends the
        // second (`CLEAR_EXTENDED`).
        SrcMatch::Clear => Some((
            wire::CMD_PROP_VALUE_SET,
            PROP_MAC_SRC_MATCH_SHORT_ADDRESSES,
            Vec::new(),
        )),
    }
}

/// The second request of [`SrcMatch::Clear`].
pub const CLEAR_EXTENDED: (u32, u32) = (
    wire::CMD_PROP_VALUE_SET,
    PROP_MAC_SRC_MATCH_EXTENDED_ADDRESSES,
);

/// The answer an RCP gives a request `command` on `prop` when it did it: `VALUE_IS` for a set,
/// `VALUE_INSERTED` (7) for an insert, `VALUE_REMOVED` (8) for a remove (Spinel §4.6-4.8).
pub fn answer_command(command: u32) -> u32 {
    match command {
        wire::CMD_PROP_VALUE_INSERT => wire::CMD_PROP_VALUE_INSERTED,
        wire::CMD_PROP_VALUE_REMOVE => wire::CMD_PROP_VALUE_REMOVED,
        _ => wire::CMD_PROP_VALUE_IS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::thread::mac::ExtAddress;

    #[test]
    fn transmit_done_with_and_without_frame_pending() {
        // status OK, framePending 1, headerUpdated 0, then the ack (not read).
        assert_eq!(parse_tx_done(&[0, 1, 0, 5, 0]), (0, Some(true)));
        assert_eq!(parse_tx_done(&[0, 0, 0]), (0, Some(false)));
        // An older RCP: the status alone.
        assert_eq!(parse_tx_done(&[17]), (17, None));
        assert_eq!(parse_tx_done(&[]), (u32::MAX, None));
        // A data request (AR set, seq 9) acknowledged with Frame Pending.
        let dr = [0x63, 0xd8, 9, 0xce, 0xfa];
        let d = tx_done(&dr, Some(0), Some(true));
        assert_eq!(
            (d.sequence_number, d.status, d.frame_pending),
            (Some(9), TxStatus::Acked, true)
        );
        // A broadcast without AR: sent, never Frame Pending.
        let bc = [0x41, 0xd8, 3];
        let d = tx_done(&bc, Some(0), Some(true));
        assert_eq!((d.status, d.frame_pending), (TxStatus::Sent, false));
        assert_eq!(tx_done(&dr, Some(17), None).status, TxStatus::NoAck);
        assert_eq!(
            tx_done(&dr, Some(18), None).status,
            TxStatus::ChannelAccessFailure
        );
        assert_eq!(tx_done(&dr, None, None).status, TxStatus::Failed);
        // Sequence number suppressed (2015 frame): none to report.
        assert_eq!(
            tx_done(&[0x21, 0xe1, 0], Some(0), None).sequence_number,
            None
        );
        assert_eq!(tx_done(&[], Some(0), None).status, TxStatus::Sent);
    }

    #[test]
    fn the_addresses_on_the_wire() {
        let m = MacSettings {
            channel: 15,
            pan_id: 0xface,
            ext_address: ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]),
            short_address: None,
        };
        assert_eq!(
            mac_settings_props(Some(&m)),
            vec![
                (0x36, vec![0xce, 0xfa]),
                (0x34, vec![8, 7, 6, 5, 4, 3, 2, 1]),
                (0x35, vec![0xfe, 0xff]),
                (0x38, vec![0]),
            ]
        );
        assert_eq!(mac_settings_props(None), vec![(0x38, vec![2])]);
    }

    #[test]
    fn source_match_changes_on_the_wire() {
        let e = ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            encode(SrcMatch::Add(Address::Extended(e))),
            Some((4, 0x1305, vec![8, 7, 6, 5, 4, 3, 2, 1]))
        );
        assert_eq!(
            encode(SrcMatch::Remove(Address::Short(0x0401))),
            Some((5, 0x1304, vec![0x01, 0x04]))
        );
        assert_eq!(encode(SrcMatch::Enable(true)), Some((3, 0x1303, vec![1])));
        assert_eq!(encode(SrcMatch::Clear), Some((3, 0x1304, vec![])));
        assert_eq!(encode(SrcMatch::Add(Address::None)), None);
        assert_eq!(answer_command(4), 7);
        assert_eq!(answer_command(5), 8);
        assert_eq!(answer_command(3), 6);
    }
}
