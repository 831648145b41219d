//! Captures from the inspector: BLE link-layer packets with the advertiser address of the
//! transmitter, in pcapng.

use super::*;

/// The advertiser address a scenario's node at `transmitter` is written to captures with (0
/// when the transmitter is unknown), least significant octet first: a random static address
/// per node (Core v5.4 Vol 6 Part B §1.3.2.1: the two most significant bits are 1).
pub(crate) fn node_adv_address(transmitter: u16) -> [u8; 6] {
    let a = transmitter.to_le_bytes();
    [a[0], a[1], 0x00, 0x5e, 0x1f, 0xc0 | 0x2e]
}

/// Writes one advertising PDU heard on `channel` to a capture as an ADV_NONCONN_IND from the
/// advertiser address `adv_a` (least significant octet first).
pub(crate) fn write_adv(
    w: &mut Capture,
    adv_a: [u8; 6],
    channel: u8,
    rssi: Option<i8>,
    at: Instant,
    bytes: &[u8],
) {
    if let Ok(ll) = ble_adv_nonconn_ind(adv_a, true, bytes) {
        if let Ok(pkt) = ble_ll_phdr_packet(channel, rssi, &ll) {
            let _ = w.write_packet(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, at, &pkt);
        }
    }
}

/// A pcapng capture file created at `path`.
pub(crate) fn create_capture(path: &str) -> Result<Capture, String> {
    let f = std::fs::File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?;
    PcapWriter::new(std::io::BufWriter::new(f)).map_err(|e| e.to_string())
}
