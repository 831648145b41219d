//! The BlueZ radio's mapping, without a bus: frames to advertisements, signals to frames,
//! faults to errors.

use std::collections::HashMap;

use dbus::arg::{PropMap, RefArg, Variant};
use dbus::Message;
use proptest::prelude::*;

use super::advertise::props;
use super::bus::{adapters_from, classify, data_map, service_map, Signal};
use super::mesh::*;
use super::{fault_error, BluezConfig, Fault};
use crate::{Bearer, RadioError, TxFrame};

const HCI0: &str = "/org/bluez/hci0";

fn adv(bytes: &[u8]) -> TxFrame {
    TxFrame {
        bearer: Bearer::Advertising,
        bytes: bytes.to_vec(),
    }
}

#[test]
fn a_mesh_pdu_becomes_the_data_map_of_a_broadcast_advertisement() {
    let map = tx_data(&adv(&[4, 0x2a, 1, 2, 3])).unwrap();
    assert_eq!(map, DataMap::from([(0x2a, vec![1, 2, 3])]));
    // Flags are bluetoothd's to write: dropped, the rest kept.
    let map = tx_data(&adv(&[2, 0x01, 0x06, 3, 0x2b, 0, 9])).unwrap();
    assert_eq!(map, DataMap::from([(0x2b, vec![0, 9])]));
    let a = props(map.clone(), BluezConfig::default().interval);
    assert_eq!(a.kind, "broadcast");
    assert_eq!(a.data, map);
    assert_eq!(a.interval_ms, 20);
}

#[test]
fn what_a_broadcast_advertisement_cannot_carry_is_refused() {
    let refused = |f: TxFrame| matches!(tx_data(&f), Err(RadioError::Unsupported(_)));
    assert!(refused(adv(&[])));
    assert!(refused(adv(&[31, 0x2a]
        .iter()
        .chain(&[0; 30])
        .copied()
        .collect::<Vec<_>>())));
    // A proxy service advertisement (UUIDs 0x03, service data 0x16).
    assert!(refused(adv(&[3, 0x03, 0x28, 0x18, 4, 0x16, 0x28, 0x18, 0])));
    // Two PDUs of one type cannot share one advertisement.
    assert!(refused(adv(&[2, 0x2a, 1, 2, 0x2a, 2])));
    // Flags alone, no mesh PDU.
    assert!(refused(adv(&[2, 0x01, 0x06])));
    // Truncated structure.
    assert!(refused(adv(&[5, 0x29, 1])));
    assert!(refused(TxFrame {
        bearer: Bearer::Gatt(weft_mesh::frame::ConnId(1)),
        bytes: vec![2, 0x2a, 1],
    }));
}

#[test]
fn addresses_come_from_device_paths_least_significant_octet_first() {
    let a = device_address(HCI0, "/org/bluez/hci0/dev_C6_05_04_03_02_01").unwrap();
    assert_eq!(a, [1, 2, 3, 4, 5, 0xc6]);
    assert_eq!(show_address(&a), "C6:05:04:03:02:01");
    assert_eq!(
        device_address(HCI0, "/org/bluez/hci1/dev_C6_05_04_03_02_01"),
        None
    );
    assert_eq!(
        device_address(HCI0, "/org/bluez/hci0/dev_C6_05_04_03_02"),
        None
    );
    assert_eq!(
        device_address(HCI0, "/org/bluez/hci0/dev_C6_05_04_03_02_01_07"),
        None
    );
    assert_eq!(
        device_address(HCI0, "/org/bluez/hci0/dev_G6_05_04_03_02_01"),
        None
    );
    assert_eq!(device_address(HCI0, "/org/bluez/hci0"), None);
}

#[test]
fn mesh_advertising_data_of_a_device_is_a_frame() {
    let change = DeviceChange {
        path: format!("{HCI0}/dev_C6_05_04_03_02_01"),
        advertising_data: Some(DataMap::from([
            (0x2b, vec![0x01, 0xaa]),
            (0x09, b"name".to_vec()),
            (0x2a, vec![5, 6]),
        ])),
        rssi: Some(-61),
        service_data: None,
    };
    let f = rx_frame(HCI0, &change).unwrap();
    assert_eq!(f.bytes, vec![3, 0x2a, 5, 6, 3, 0x2b, 0x01, 0xaa]);
    assert_eq!(f.rssi, Some(-61));
    assert_eq!(f.adv_address, Some([1, 2, 3, 4, 5, 0xc6]));
    assert_eq!(f.bearer, Bearer::Advertising);
    assert_eq!(f.channel, 0);

    let mut c = change.clone();
    c.rssi = Some(-300);
    assert_eq!(rx_frame(HCI0, &c).unwrap().rssi, Some(-128));
    c.advertising_data = None;
    assert_eq!(rx_frame(HCI0, &c), Err(Skip::NoAdvertisingData));
    c.advertising_data = Some(DataMap::from([(0x09, b"x".to_vec())]));
    assert_eq!(rx_frame(HCI0, &c), Err(Skip::NoMeshData));
    c.advertising_data = Some(DataMap::from([(0x2a, vec![0; 255])]));
    assert_eq!(rx_frame(HCI0, &c), Err(Skip::Malformed));
    c.path = "/org/bluez/hci1/dev_C6_05_04_03_02_01".into();
    assert_eq!(rx_frame(HCI0, &c), Err(Skip::NotADevice));
}

#[test]
fn mesh_service_data_of_a_device_is_a_frame_and_other_service_data_is_not() {
    let proxy = "00001828-0000-1000-8000-00805F9B34FB";
    let mut c = DeviceChange {
        path: format!("{HCI0}/dev_C6_05_04_03_02_01"),
        advertising_data: None,
        rssi: Some(-50),
        service_data: Some(ServiceMap::from([
            (proxy.to_string(), vec![0x00, 1, 2, 3, 4, 5, 6, 7, 8]),
            ("0000180f-0000-1000-8000-00805f9b34fb".to_string(), vec![99]),
        ])),
    };
    // Service Data (0x16), UUID 0x1828 little-endian, then the Network ID (MshPRT §7.2.2.2.2).
    let f = rx_frame(HCI0, &c).unwrap();
    assert_eq!(
        f.bytes,
        vec![12, 0x16, 0x28, 0x18, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    );
    assert_eq!(f.adv_address, Some([1, 2, 3, 4, 5, 0xc6]));
    // After the mesh AD structures.
    c.advertising_data = Some(DataMap::from([(0x2b, vec![0x01])]));
    assert_eq!(rx_frame(HCI0, &c).unwrap().bytes[..3], [2, 0x2b, 0x01]);
    // Only other services: nothing for the station.
    c.advertising_data = None;
    c.service_data = Some(ServiceMap::from([(
        "0000180f-0000-1000-8000-00805f9b34fb".to_string(),
        vec![1],
    )]));
    assert_eq!(rx_frame(HCI0, &c), Err(Skip::NoMeshData));
    c.service_data = Some(ServiceMap::from([(proxy.to_string(), vec![0; 253])]));
    assert_eq!(rx_frame(HCI0, &c), Err(Skip::Malformed));
    assert_eq!(uuid16("00001827-0000-1000-8000-00805f9b34fb"), Some(0x1827));
    assert_eq!(uuid16("00001827-0000-1000-8000-00805f9b34fc"), None);
    assert_eq!(uuid16("1827"), None);
    assert_eq!(uuid16("é"), None);
}

fn var<T: RefArg + 'static>(v: T) -> Variant<Box<dyn RefArg>> {
    Variant(Box::new(v))
}

fn adv_data(entries: &[(u8, &[u8])]) -> Variant<Box<dyn RefArg>> {
    let m: HashMap<u8, Variant<Vec<u8>>> = entries
        .iter()
        .map(|(t, d)| (*t, Variant(d.to_vec())))
        .collect();
    var(m)
}

fn properties_changed(path: &str, iface: &str, changed: PropMap) -> Message {
    // Through the wire format, as a signal from the bus arrives.
    let m = Message::new_signal(path, "org.freedesktop.DBus.Properties", "PropertiesChanged")
        .unwrap()
        .append3(iface, changed, Vec::<String>::new());
    through_wire(m)
}

/// `m` marshalled and read back, as a signal from the bus arrives.
fn through_wire(mut m: Message) -> Message {
    m.set_serial(1);
    let mut buf = Vec::new();
    m.marshal(|b| {
        buf.extend_from_slice(b);
        Ok::<(), ()>(())
    })
    .unwrap();
    Message::demarshal(&buf).unwrap()
}

#[test]
fn a_properties_changed_signal_carries_advertising_data_and_rssi() {
    let dev = format!("{HCI0}/dev_C6_05_04_03_02_01");
    let mut changed = PropMap::new();
    changed.insert("AdvertisingData".into(), adv_data(&[(0x29, &[1, 2, 3])]));
    changed.insert("RSSI".into(), var(-70i16));
    let msg = properties_changed(&dev, "org.bluez.Device1", changed);
    let Signal::Device(change) = classify(&msg, HCI0, "hci0") else {
        panic!("not a device change");
    };
    assert_eq!(change.path, dev);
    assert_eq!(
        change.advertising_data,
        Some(DataMap::from([(0x29, vec![1, 2, 3])]))
    );
    assert_eq!(change.rssi, Some(-70));

    // A value of the wrong type counts as absent.
    let mut changed = PropMap::new();
    changed.insert("AdvertisingData".into(), var("not a map".to_string()));
    changed.insert("RSSI".into(), var("loud".to_string()));
    let msg = properties_changed(&dev, "org.bluez.Device1", changed);
    let Signal::Device(change) = classify(&msg, HCI0, "hci0") else {
        panic!("not a device change");
    };
    assert_eq!((change.advertising_data, change.rssi), (None, None));
}

#[test]
fn the_adapter_powered_off_removed_or_bluetoothd_leaving_ends_the_radio() {
    let mut changed = PropMap::new();
    changed.insert("Powered".into(), var(false));
    let msg = properties_changed(HCI0, "org.bluez.Adapter1", changed);
    let Signal::AdapterGone(why) = classify(&msg, HCI0, "hci0") else {
        panic!("powered off went unnoticed");
    };
    assert!(why.contains("bluetoothctl power on"), "{why}");
    let mut changed = PropMap::new();
    changed.insert("Powered".into(), var(true));
    let msg = properties_changed(HCI0, "org.bluez.Adapter1", changed);
    assert_eq!(classify(&msg, HCI0, "hci0"), Signal::Other);

    let removed = Message::new_signal(
        "/",
        "org.freedesktop.DBus.ObjectManager",
        "InterfacesRemoved",
    )
    .unwrap()
    .append2(
        dbus::Path::from(HCI0),
        vec!["org.bluez.Adapter1".to_string()],
    );
    assert!(matches!(
        classify(&removed, HCI0, "hci0"),
        Signal::AdapterGone(_)
    ));
    assert_eq!(classify(&removed, "/org/bluez/hci1", "hci1"), Signal::Other);

    let owner = |new: &str| {
        Message::new_signal(
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameOwnerChanged",
        )
        .unwrap()
        .append3("org.bluez", ":1.4", new)
    };
    let Signal::AdapterGone(why) = classify(&owner(""), HCI0, "hci0") else {
        panic!("bluetoothd leaving went unnoticed");
    };
    assert!(why.contains("systemctl start bluetooth"), "{why}");
    assert_eq!(classify(&owner(":1.9"), HCI0, "hci0"), Signal::Other);
}

#[test]
fn a_device_appearing_carries_its_first_advertising_data() {
    let dev = format!("{HCI0}/dev_C6_05_04_03_02_01");
    let mut props = PropMap::new();
    props.insert("AdvertisingData".into(), adv_data(&[(0x2a, &[7])]));
    let ifaces: HashMap<String, PropMap> = HashMap::from([("org.bluez.Device1".into(), props)]);
    let msg = Message::new_signal("/", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded")
        .unwrap()
        .append2(dbus::Path::from(dev.clone()), ifaces);
    let msg = through_wire(msg);
    let Signal::Device(c) = classify(&msg, HCI0, "hci0") else {
        panic!("no device");
    };
    assert_eq!(rx_frame(HCI0, &c).unwrap().bytes, vec![2, 0x2a, 7]);
}

#[test]
fn adapters_are_read_from_the_managed_objects() {
    let adapter = |powered: bool| {
        let mut a = PropMap::new();
        a.insert("Address".into(), var("00:01:02:03:04:05".to_string()));
        a.insert("Alias".into(), var("box".to_string()));
        a.insert("Powered".into(), var(powered));
        a
    };
    let mut manager = PropMap::new();
    manager.insert("SupportedInstances".into(), var(5u8));
    manager.insert(
        "SupportedFeatures".into(),
        var(vec![
            "CanSetTxPower".to_string(),
            "HardwareOffload".to_string(),
        ]),
    );
    let objects = HashMap::from([
        (
            dbus::Path::from("/org/bluez/hci0"),
            HashMap::from([
                ("org.bluez.Adapter1".to_string(), adapter(true)),
                ("org.bluez.LEAdvertisingManager1".to_string(), manager),
            ]),
        ),
        (
            dbus::Path::from("/org/bluez/hci1"),
            HashMap::from([("org.bluez.Adapter1".to_string(), adapter(false))]),
        ),
        (
            dbus::Path::from("/org/bluez/hci0/dev_00_00_00_00_00_01"),
            HashMap::from([("org.bluez.Device1".to_string(), PropMap::new())]),
        ),
    ]);
    let a = adapters_from(&objects);
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0].name.as_str(), a[0].powered, a[0].le_advertising),
        ("hci0", true, true)
    );
    assert_eq!(a[0].free_instances, Some(5));
    assert!(a[0].hardware_offload);
    assert!(!a[1].hardware_offload);
    assert_eq!(a[0].address, "00:01:02:03:04:05");
    assert_eq!(
        (a[1].name.as_str(), a[1].powered, a[1].le_advertising),
        ("hci1", false, false)
    );
}

#[test]
fn several_advertisements_at_once_only_with_hardware_offload() {
    let mut a = super::AdapterInfo {
        name: "hci0".into(),
        address: String::new(),
        alias: String::new(),
        powered: true,
        le_advertising: true,
        free_instances: Some(5),
        hardware_offload: true,
    };
    let c = BluezConfig::default();
    assert_eq!(super::instances(&c, &a), 4);
    a.free_instances = Some(2);
    assert_eq!(super::instances(&c, &a), 2);
    a.free_instances = Some(0);
    assert_eq!(super::instances(&c, &a), 1);
    a.free_instances = Some(5);
    a.hardware_offload = false;
    assert_eq!(super::instances(&c, &a), 1);
}

#[test]
fn a_refused_mesh_advertisement_ends_the_radio_and_other_refusals_do_not() {
    use super::radio::refusal_ends_the_radio;
    let why = refusal_ends_the_radio("org.bluez.Error.Failed: Failed to parse advertisement.")
        .expect("ends");
    assert!(why.contains("hci-user:hciN"), "{why}");
    assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    assert!(refusal_ends_the_radio("org.bluez.Error.InvalidArguments: ").is_some());
    assert!(refusal_ends_the_radio("org.bluez.Error.NotPermitted: Maximum").is_none());
    assert!(refusal_ends_the_radio("org.freedesktop.DBus.Error.NoReply: x").is_none());
}

#[test]
fn each_fault_says_what_to_do_in_one_sentence_starting_with_the_uri() {
    for (fault, says) in [
        (
            Fault::NoSystemBus("no socket".into()),
            "systemctl start dbus",
        ),
        (Fault::NoBluez, "systemctl start bluetooth"),
        (Fault::NoAdapter { have: vec![] }, "plug one in"),
        (
            Fault::NoAdapter {
                have: vec!["hci1".into()],
            },
            "it has hci1",
        ),
        (Fault::PoweredOff, "bluetoothctl power on"),
        (Fault::NoAdvertising, "LE advertising"),
        (Fault::Call("org.bluez.Error.Failed: x".into()), "Failed"),
    ] {
        let RadioError::Unavailable(why) = fault_error("bluez:hci0", &fault) else {
            panic!("not unavailable");
        };
        assert!(why.starts_with("bluez:hci0: "), "{why}");
        assert!(why.contains(says), "{why}");
        assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    }
}

proptest! {
    /// A mesh PDU goes out as a data map and comes back, through a device's advertising data,
    /// as the same AD structure.
    #[test]
    fn a_pdu_round_trips_through_the_data_map(t in prop::sample::select(MESH_AD_TYPES.to_vec()),
                                             data in prop::collection::vec(any::<u8>(), 0..29)) {
        let mut bytes = vec![data.len() as u8 + 1, t];
        bytes.extend_from_slice(&data);
        let map = tx_data(&adv(&bytes)).unwrap();
        prop_assert_eq!(ad_bytes(&map), bytes.clone());
        let change = DeviceChange {
            path: format!("{HCI0}/dev_C6_05_04_03_02_01"),
            advertising_data: Some(map),
            rssi: None,
            service_data: None,
        };
        prop_assert_eq!(rx_frame(HCI0, &change).unwrap().bytes, bytes);
    }

    /// Any bytes: tx_data answers, never panics; what it accepts holds only mesh AD types.
    #[test]
    fn tx_data_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(map) = tx_data(&adv(&bytes)) {
            prop_assert!(map.keys().all(|t| MESH_AD_TYPES.contains(t)));
        }
    }

    /// Any advertising data map read from the bus: never a panic.
    #[test]
    fn any_data_map_from_the_bus_is_safe(entries in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)), 0..6)) {
        let v = {
            let m: HashMap<u8, Variant<Vec<u8>>> =
                entries.iter().map(|(t, d)| (*t, Variant(d.clone()))).collect();
            m
        };
        let map = data_map(&v).unwrap();
        let change = DeviceChange {
            path: format!("{HCI0}/dev_C6_05_04_03_02_01"),
            advertising_data: Some(map),
            rssi: Some(0),
            service_data: None,
        };
        let _ = rx_frame(HCI0, &change);
    }

    /// Any service data map read from the bus (mesh UUIDs among any strings): never a panic,
    /// and a frame made of it holds only well-formed AD structures.
    #[test]
    fn any_service_data_from_the_bus_is_safe(entries in prop::collection::vec((prop_oneof![
            Just("00001828-0000-1000-8000-00805f9b34fb".to_string()),
            Just("00001827-0000-1000-8000-00805F9B34FB".to_string()),
            ".{0,40}",
        ], prop::collection::vec(any::<u8>(), 0..300)), 0..4)) {
        let m: HashMap<String, Variant<Vec<u8>>> =
            entries.iter().map(|(u, d)| (u.clone(), Variant(d.clone()))).collect();
        let map = service_map(&m).unwrap();
        let change = DeviceChange {
            path: format!("{HCI0}/dev_C6_05_04_03_02_01"),
            advertising_data: None,
            rssi: None,
            service_data: Some(map),
        };
        if let Ok(f) = rx_frame(HCI0, &change) {
            let all: Vec<_> = weft_mesh::ble::wire::adv::AdStructures::new(&f.bytes).collect();
            prop_assert!(all.iter().all(Result::is_ok));
        }
    }
}
