//! The Bluetooth Mesh advertising bearer (MshPRT v1.1 §3.3.1) in HCI terms, as pure functions:
//! which advertising reports carry mesh PDUs and what the station gets from them, and which
//! frames can be advertised.
//!
//! Receiving: a mesh PDU travels in a non-connectable, non-scannable, undirected advertising
//! PDU (ADV_NONCONN_IND, §3.3.1), as one AD structure of type «PB-ADV» (0x29), «Mesh Message»
//! (0x2A) or «Mesh Beacon» (0x2B). A report of a connectable, scannable or directed PDU is
//! skipped, as is a scan response (some controllers report a SCAN_RSP copy of an advertisement
//! they heard), an extended report whose data is incomplete, and a report without a mesh AD
//! structure. The frame the station gets holds the report's mesh AD structures, in their order,
//! each `length || type || data` (what `weft_mesh`'s `adv_rx` splits), the advertiser address
//! and the RSSI; HCI reports do not say the channel, so `channel` is 0 (unknown).
//!
//! Sending: a [`TxFrame`]'s bytes are the advertising data, at most 31 octets (the AdvData of
//! ADV_NONCONN_IND, Core v5.4 Vol 6 Part B §2.3.1.3).

use weft_mesh::ble::wire::adv::{
    AdStructures, AD_TYPE_MESH_BEACON, AD_TYPE_MESH_MESSAGE, AD_TYPE_PB_ADV,
};

use super::event::AdvReport;
use crate::{Bearer, Instant, RadioError, RxFrame, TxFrame};

/// The longest advertising data of a legacy advertising PDU (Vol 6 Part B §2.3.1.3).
pub const MAX_LEGACY_ADV_DATA: usize = 31;

/// Why a report gave the station nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A connectable, scannable or directed PDU: not the advertising bearer.
    NotNonConnectable,
    /// A scan response.
    ScanResponse,
    /// An extended report whose data is incomplete or was truncated.
    Incomplete,
    /// No mesh AD structure.
    NoMeshData,
    /// The advertising data is not a sequence of AD structures.
    Malformed,
}

/// The frame a report gives the station, or why it gives none.
pub fn rx_frame(report: &AdvReport) -> Result<RxFrame, Skip> {
    if report.scan_response {
        return Err(Skip::ScanResponse);
    }
    if report.connectable || report.scannable || report.directed {
        return Err(Skip::NotNonConnectable);
    }
    if !report.complete {
        return Err(Skip::Incomplete);
    }
    let mut bytes = Vec::new();
    for ad in AdStructures::new(&report.data) {
        let ad = ad.map_err(|_| Skip::Malformed)?;
        if matches!(
            ad.ad_type,
            AD_TYPE_PB_ADV | AD_TYPE_MESH_MESSAGE | AD_TYPE_MESH_BEACON
        ) {
            // 1 + data.len() fits the length octet: it came from one.
            bytes.push((1 + ad.data.len()) as u8);
            bytes.push(ad.ad_type);
            bytes.extend_from_slice(ad.data);
        }
    }
    if bytes.is_empty() {
        return Err(Skip::NoMeshData);
    }
    Ok(RxFrame {
        lqi: None,
        bearer: Bearer::Advertising,
        channel: 0,
        rssi: report.rssi,
        timestamp: Instant::ZERO,
        adv_address: Some(report.address),
        bytes,
    })
}

/// Whether `frame` can be advertised: the advertising bearer, 1 to 31 octets.
pub fn check_tx(frame: &TxFrame) -> Result<(), RadioError> {
    crate::ble_ll::check_advertising_tx(frame, "an HCI radio")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(data: &[u8]) -> AdvReport {
        AdvReport {
            extended: false,
            connectable: false,
            scannable: false,
            directed: false,
            scan_response: false,
            legacy: true,
            complete: true,
            address_type: 1,
            address: [1, 2, 3, 4, 5, 0xc6],
            rssi: Some(-60),
            data: data.to_vec(),
        }
    }

    #[test]
    fn mesh_ads_are_kept_and_the_rest_dropped() {
        // Flags, a Mesh Message, a name, a Mesh Beacon.
        let data = [
            2, 0x01, 0x06, 4, 0x2a, 1, 2, 3, 3, 0x09, b'a', b'b', 2, 0x2b, 0x00,
        ];
        let f = rx_frame(&report(&data)).unwrap();
        assert_eq!(f.bytes, vec![4, 0x2a, 1, 2, 3, 2, 0x2b, 0x00]);
        assert_eq!(f.adv_address, Some([1, 2, 3, 4, 5, 0xc6]));
        assert_eq!(f.rssi, Some(-60));
        assert_eq!(f.channel, 0);
        assert_eq!(f.bearer, Bearer::Advertising);
    }

    #[test]
    fn other_pdus_and_data_are_skipped() {
        let mesh = [3, 0x29, 0xaa, 0xbb];
        let mut r = report(&mesh);
        r.connectable = true;
        assert_eq!(rx_frame(&r), Err(Skip::NotNonConnectable));
        let mut r = report(&mesh);
        r.scannable = true;
        assert_eq!(rx_frame(&r), Err(Skip::NotNonConnectable));
        let mut r = report(&mesh);
        r.scan_response = true;
        assert_eq!(rx_frame(&r), Err(Skip::ScanResponse));
        let mut r = report(&mesh);
        r.complete = false;
        assert_eq!(rx_frame(&r), Err(Skip::Incomplete));
        assert_eq!(rx_frame(&report(&[2, 0x01, 0x06])), Err(Skip::NoMeshData));
        assert_eq!(rx_frame(&report(&[5, 0x2a, 1])), Err(Skip::Malformed));
        // Zero padding ends the data (Core Vol 3 Part C §11).
        assert!(rx_frame(&report(&[3, 0x29, 1, 2, 0, 0, 0])).is_ok());
    }

    #[test]
    fn only_short_advertising_frames_go_out() {
        let f = |bearer, n| TxFrame {
            bearer,
            bytes: vec![0; n],
        };
        assert!(check_tx(&f(Bearer::Advertising, 31)).is_ok());
        assert!(check_tx(&f(Bearer::Advertising, 32)).is_err());
        assert!(check_tx(&f(Bearer::Advertising, 0)).is_err());
        assert!(check_tx(&f(Bearer::Gatt(weft_mesh::frame::ConnId(0)), 10)).is_err());
    }
}
