use super::*;
use weft_mesh::Bearer;

/// A frame heard on `channel` with `rssi`, without an advertiser address.
fn heard(channel: u8, rssi: i8, bytes: &[u8]) -> RxFrame {
    RxFrame {
        lqi: None,
        bearer: Bearer::Advertising,
        channel,
        rssi: Some(rssi),
        timestamp: Instant::ZERO,
        adv_address: None,
        bytes: bytes.to_vec(),
    }
}

/// An Unprovisioned Device beacon as an AD structure: length, AD type «Mesh Beacon» (0x2B,
/// MshPRT §3.3.1), beacon type 0x00, Device UUID, OOB Information (MshPRT §3.10.2).
fn unprovisioned_beacon(uuid: [u8; 16]) -> Vec<u8> {
    let mut ad = vec![20, 0x2b, 0x00];
    ad.extend_from_slice(&uuid);
    ad.extend_from_slice(&[0, 0]);
    ad
}

#[test]
fn without_keys_beacons_decode_and_network_pdus_say_why_not() {
    let mut f = LiveFeeder::new("sim:/tmp/air.sock", None, None);
    assert!(!f.has_keys());
    assert!(f
        .model
        .notice
        .as_ref()
        .is_some_and(|(_, t)| t.contains("no network store")));
    f.handle_frame(
        Instant::from_micros(5_000),
        &heard(37, -40, &unprovisioned_beacon([7; 16])),
    );
    // A Mesh Message AD (0x2A, MshPRT §3.3.1) no key opens.
    let mut pdu = vec![19, 0x2a];
    pdu.extend_from_slice(&[0x11; 18]);
    f.handle_frame(Instant::from_micros(9_000), &heard(38, -50, &pdu));
    // Read-only: actions say why they cannot be done.
    assert!(!f.is_host());
    let now = Instant::from_micros(9_500);
    assert_eq!(f.provision(now, [7; 16]), Err(READ_ONLY.to_string()));
    f.tick(Instant::from_micros(10_000));
    assert_eq!(f.model.unprovisioned.len(), 1);
    assert_eq!(f.model.unprovisioned[0].uuid, [7; 16]);
    assert_eq!(f.model.unprovisioned[0].rssi, Some(-40));
    assert_eq!(f.model.stats.beacons, 1);
    assert_eq!(f.model.stats.undecryptable, 1);
    let last = f.model.traffic.back().unwrap();
    assert_eq!(last.opcode, "cannot decrypt");
    assert!(matches!(last.kind, EntryKind::Undecryptable(_)));
    // Nothing heard makes a link or a node beyond the listener.
    assert_eq!(f.model.topology.node_count(), 1);
    assert!(f.model.edges.is_empty());
}

#[test]
fn connectable_advertising_of_the_mesh_services_is_named_not_undecryptable() {
    use weft_mesh::ble::wire::adv::{ProvisioningServiceData, ProxyServiceData};
    let mut f = LiveFeeder::new("sim:/tmp/air.sock", None, None);
    let pb_gatt = ProvisioningServiceData {
        device_uuid: [9; 16],
        oob_information: 0,
    };
    f.handle_frame(
        Instant::from_micros(1_000),
        &heard(37, -45, &pb_gatt.advertising_data()),
    );
    let last = f.model.traffic.back().unwrap();
    assert_eq!(last.opcode, "Mesh Provisioning Service");
    assert!(matches!(last.kind, EntryKind::Provisioning), "{last:?}");
    // A device offering PB-GATT is a device to provision.
    assert_eq!(f.model.unprovisioned.len(), 1);
    assert_eq!(f.model.unprovisioned[0].uuid, [9; 16]);
    let proxy = ProxyServiceData::NetworkId([1, 2, 3, 4, 5, 6, 7, 8]).advertising_data();
    f.handle_frame(Instant::from_micros(2_000), &heard(38, -45, &proxy));
    let last = f.model.traffic.back().unwrap();
    assert_eq!(
        (last.opcode.as_str(), last.summary.as_str()),
        ("Mesh Proxy Service", "Network ID 0102030405060708")
    );
    assert_eq!(f.model.stats.undecryptable, 0);
}
