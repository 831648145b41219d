//! The GATT link's mapping, without a peripheral: services and characteristics, values at the
//! MTU, errors.

use std::time::Duration;

use proptest::prelude::*;
use weft_mesh::ble::wire::proxy::{MessageType, ProxyReassembler};

use super::error::{link_error, LinkFault};
use super::service::*;
use super::values::{max_value, values};
use super::*;
use crate::RadioError;

#[test]
fn mesh_uuids_sit_on_the_bluetooth_base_uuid() {
    assert_eq!(
        MeshService::Proxy.uuid().to_string(),
        "00001828-0000-1000-8000-00805f9b34fb"
    );
    assert_eq!(
        MeshService::Provisioning.uuid().to_string(),
        "00001827-0000-1000-8000-00805f9b34fb"
    );
    assert_eq!(
        MeshService::Proxy.data_in().to_string(),
        "00002add-0000-1000-8000-00805f9b34fb"
    );
    assert_eq!(
        MeshService::Proxy.data_out().to_string(),
        "00002ade-0000-1000-8000-00805f9b34fb"
    );
    assert_eq!(
        MeshService::Provisioning.data_in().to_string(),
        "00002adb-0000-1000-8000-00805f9b34fb"
    );
    assert_eq!(
        MeshService::Provisioning.data_out().to_string(),
        "00002adc-0000-1000-8000-00805f9b34fb"
    );
    // btleplug's own conversion agrees.
    assert_eq!(
        btleplug::api::bleuuid::uuid_from_u16(0x1828),
        MeshService::Proxy.uuid()
    );
    assert_eq!(
        MeshService::from_uuid(uuid16(0x1827)),
        Some(MeshService::Provisioning)
    );
    assert_eq!(MeshService::from_uuid(uuid16(0x180f)), None);
}

fn ch(service: u16, uuid: u16, wwr: bool, notify: bool) -> Found {
    Found {
        service: uuid16(service),
        uuid: uuid16(uuid),
        write_without_response: wwr,
        notify,
    }
}

#[test]
fn data_in_and_out_are_chosen_from_the_right_service_with_the_right_properties() {
    // A node with both services, and a battery service.
    let db = [
        ch(0x180f, 0x2a19, false, true),
        ch(0x1827, 0x2adb, true, false),
        ch(0x1827, 0x2adc, false, true),
        ch(0x1828, 0x2add, true, false),
        ch(0x1828, 0x2ade, false, true),
    ];
    let (i, o) = choose(MeshService::Proxy, &db).unwrap();
    assert_eq!((i.uuid, o.uuid), (uuid16(0x2add), uuid16(0x2ade)));
    let (i, o) = choose(MeshService::Provisioning, &db).unwrap();
    assert_eq!((i.uuid, o.uuid), (uuid16(0x2adb), uuid16(0x2adc)));

    // A provisioned node no longer has the Provisioning Service.
    assert_eq!(
        choose(MeshService::Provisioning, &db[3..]),
        Err(Unusable::NoService)
    );
    // Proxy Data In under the wrong service does not count.
    let odd = [
        ch(0x1828, 0x2ade, false, true),
        ch(0x1827, 0x2add, true, false),
    ];
    assert_eq!(
        choose(MeshService::Proxy, &odd),
        Err(Unusable::Missing(uuid16(0x2add)))
    );
    // Data In that needs a response, Data Out that only indicates.
    let no_wwr = [
        ch(0x1828, 0x2add, false, false),
        ch(0x1828, 0x2ade, false, true),
    ];
    assert_eq!(
        choose(MeshService::Proxy, &no_wwr),
        Err(Unusable::WrongProperties(uuid16(0x2add)))
    );
    let no_notify = [
        ch(0x1828, 0x2add, true, false),
        ch(0x1828, 0x2ade, false, false),
    ];
    assert_eq!(
        choose(MeshService::Proxy, &no_notify),
        Err(Unusable::WrongProperties(uuid16(0x2ade)))
    );
}

#[test]
fn values_are_at_most_mtu_minus_3() {
    assert_eq!(max_value(23), 20);
    assert_eq!(max_value(0), 20, "below the LE minimum counts as 23");
    assert_eq!(max_value(69), 66);
    // A 29-octet Network PDU at MTU 23: 19 + 10 octets of data, each value <= 20.
    let pdu: Vec<u8> = (0..29).collect();
    let v = values(MessageType::NetworkPdu, &pdu, 23);
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|v| v.len() <= 20));
    assert_eq!(v[0][0] >> 6, 0b01, "first segment");
    assert_eq!(v[1][0] >> 6, 0b11, "last segment");
    // At MTU 33 it fits one value.
    let v = values(MessageType::NetworkPdu, &pdu, 33);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].len(), 30);
    assert_eq!(v[0][0], 0x00, "SAR complete, Network PDU");
}

#[test]
fn addresses_turn_to_btleplugs_order() {
    assert_eq!(
        bdaddr([1, 2, 3, 4, 5, 0xc6]).to_string(),
        "C6:05:04:03:02:01"
    );
}

#[test]
fn each_fault_is_one_sentence_starting_with_the_link() {
    for (f, unavailable, says) in [
        (
            LinkFault::NoAdapter("none".into()),
            true,
            "bluetoothctl show",
        ),
        (
            LinkFault::NotSeen(Duration::from_secs(10)),
            true,
            "within 10 s",
        ),
        (
            LinkFault::Connect("timed out".into()),
            true,
            "cannot connect",
        ),
        (
            LinkFault::NoService("no proxy".into()),
            false,
            "cannot carry mesh",
        ),
        (LinkFault::Disconnected, true, "went down"),
        (LinkFault::Permission, true, "bluetooth"),
        (LinkFault::TooLong { len: 30, max: 20 }, false, "at most 20"),
    ] {
        let e = link_error("gatt:C6:05:04:03:02:01", &f);
        let why = match (&e, unavailable) {
            (RadioError::Unavailable(w), true) | (RadioError::Unsupported(w), false) => w,
            _ => panic!("{f:?} gave {e:?}"),
        };
        assert!(why.starts_with("gatt:C6:05:04:03:02:01: "), "{why}");
        assert!(why.contains(says), "{why}");
        assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    }
    use super::error::fault_of;
    assert_eq!(
        fault_of(&btleplug::Error::NotConnected),
        LinkFault::Disconnected
    );
    assert_eq!(
        fault_of(&btleplug::Error::PermissionDenied),
        LinkFault::Permission
    );
    assert!(matches!(
        fault_of(&btleplug::Error::NoAdapterAvailable),
        LinkFault::NoAdapter(_)
    ));
    assert!(matches!(
        fault_of(&btleplug::Error::TimedOut(Duration::from_secs(3))),
        LinkFault::Connect(_)
    ));
}

proptest! {
    /// Any message at any MTU: every value fits ATT_MTU - 3, and the core's reassembler puts
    /// them back together.
    #[test]
    fn segmented_values_fit_and_reassemble(payload in prop::collection::vec(any::<u8>(), 0..66),
                                           mtu in 0u16..100) {
        let v = values(MessageType::ProvisioningPdu, &payload, mtu);
        prop_assert!(v.iter().all(|v| v.len() <= max_value(mtu)));
        let mut r = ProxyReassembler::new(512);
        let mut out = None;
        for value in &v {
            out = r.feed_bytes(value).unwrap();
        }
        let (t, data) = out.expect("a whole message");
        prop_assert_eq!(t, MessageType::ProvisioningPdu);
        prop_assert_eq!(data, payload);
    }
}
