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

/// A fresh network (weft's node at 0001) with a lamp at 0005.
fn net_with_lamp() -> NetState {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut net = crate::net::new_network("test", &mut rng, "2026-12-07T00:00:00Z");
    let mut lamp = net.cdb.nodes[0].clone();
    lamp.unicast_address.0 = 5;
    lamp.uuid.0 = [5; 16];
    lamp.name = Some("lamp".into());
    net.cdb.nodes.push(lamp);
    net
}

#[test]
fn through_weft_serve_the_inspector_is_drawn_from_the_servers_node() {
    let net = net_with_lamp();
    let own = net.local.as_ref().unwrap().primary.get();
    let f = LiveFeeder::served("serve:/tmp/ctl.sock", net, own);
    assert_eq!(f.model.host, own);
    assert_eq!(f.model.topology.host(), Some(u64::from(own)));
    let me = f.model.topology.node(u64::from(own)).unwrap();
    assert_eq!(me.label(), "weft serve (its node)");
    assert_eq!(me.hops, Some(0));
    // No "this listener" beside it: the server's node and the lamp.
    assert!(f.model.topology.node(LISTENER).is_none());
    assert_eq!(f.model.topology.node_count(), 2);
    assert!(!f.is_host(), "its actions are the server's requests");
}

#[test]
fn a_node_the_database_dropped_goes_unless_it_is_still_heard() {
    let net = net_with_lamp();
    let own = net.local.as_ref().unwrap().primary.get();
    let mut f = LiveFeeder::served("serve:/tmp/ctl.sock", net.clone(), own);
    let me = u64::from(own);
    let s = |secs: u64| Instant::from_micros(secs * 1_000_000);
    // Heard at 10 s; the lamp is removed from the database at 12 s.
    f.model.topology.heard(5, me, Some(-50), s(10));
    f.tick(s(12));
    let mut without = net.clone();
    without.cdb.nodes.retain(|n| n.unicast_address.0 != 5);
    f.refresh_net(without.clone());
    assert!(f
        .model
        .notice
        .as_ref()
        .is_some_and(|(_, t)| t.starts_with("0005 left the network database")));
    // Heard lately: drawn as heard, a stranger (nothing of the database's left).
    let lamp = f.model.topology.node(5).expect("still drawn");
    assert_eq!((lamp.name.as_deref(), lamp.uuid), (None, None));
    assert!(f.model.topology.link(5, me).is_some());
    // Heard again at 25 s: stays.
    f.model.topology.heard(5, me, Some(-50), s(25));
    f.tick(Instant::from_micros((s(25) + GONE_AFTER).as_micros() - 1));
    assert!(f.model.topology.node(5).is_some());
    // Not heard for GONE_AFTER: gone, with its link.
    f.tick(s(25) + GONE_AFTER);
    assert!(f.model.topology.node(5).is_none());
    assert!(f.model.topology.link(5, me).is_none());
    assert!(
        f.model.topology.node(me).is_some(),
        "the server's node stays"
    );
    // A late copy of one of its PDUs (its sequence number noted, no transmitter known) does
    // not bring it back; heard transmitting, it is drawn again, a stranger.
    f.model.topology.node_mut(5).seq = Some(9);
    f.tick(s(60));
    assert!(f.model.topology.node(5).is_none());
    f.model.topology.heard(5, me, None, s(61));
    f.tick(s(62));
    assert!(f.model.topology.node(5).is_some());
    // In the database again (provisioned anew): drawn as it says, heard or not.
    f.refresh_net(net.clone());
    f.tick(s(62) + GONE_AFTER);
    assert_eq!(f.model.topology.node(5).unwrap().label(), "lamp");

    // Provisioned again and removed before it was ever heard: gone at once.
    let mut g = LiveFeeder::served("serve:/tmp/ctl.sock", net.clone(), own);
    g.refresh_net(without);
    assert!(g.model.topology.node(5).is_none());
    assert_eq!(g.model.topology.node_count(), 1);
    assert_eq!(
        g.model.topology.node(me).unwrap().label(),
        "weft serve (its node)"
    );
}
