//! The `bluez:` radio against a BlueZ nobody here wrote: python-dbusmock's `bluez5` template
//! on a private `dbus-daemon` (`support/dbusmock.rs`). What weft registers with
//! `LEAdvertisingManager1` is read back from the mock's call log and from weft's exported
//! advertisement; advertising data set on a mock device must come out of `recv`; each fault
//! must be the right error.
//!
//! The radio finds the bus through `DBUS_SYSTEM_BUS_ADDRESS`, which libdbus reads once per
//! process: the tests share one private bus and take turns on it, each with a fresh mock
//! (`MockBus::shared`). The fault of no bus at all is in `bluez_no_bus.rs`, a process of its
//! own.
#![cfg(feature = "bluez")]

#[path = "support/dbusmock.rs"]
mod dbusmock;

use std::collections::HashMap;
use std::time::Duration;

use dbus::arg::{PropMap, RefArg, Variant};
use dbusmock::{python_or_skip, MappedGuard, MockBus};
use weft_radio::bluez::{BluezConfig, BluezRadio};
use weft_radio::{Bearer, Radio, RadioError, RadioUri, TxFrame};

const HCI0: &str = "/org/bluez/hci0";

fn uri(s: &str) -> RadioUri {
    RadioUri::parse(s).unwrap()
}

async fn open_on(
    _bus: &MockBus,
    name: &str,
    config: BluezConfig,
) -> Result<BluezRadio, RadioError> {
    BluezRadio::open(&uri(name), config).await
}

fn unavailable(r: Result<BluezRadio, RadioError>) -> String {
    match r {
        Err(RadioError::Unavailable(why)) => why,
        other => panic!("not unavailable: {other:?}"),
    }
}

fn test_name() -> String {
    std::thread::current().name().unwrap_or("test").to_string()
}

/// The bus with a fresh mock and one adapter, hci0.
fn bluez(params: &str) -> Option<MappedGuard> {
    let python = python_or_skip(&test_name())?;
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, params);
    bus.add_adapter("hci0");
    Some(bus)
}

fn adv(bytes: &[u8]) -> TxFrame {
    TxFrame {
        bearer: Bearer::Advertising,
        bytes: bytes.to_vec(),
    }
}

fn path_of(args: &[Box<dyn RefArg>]) -> String {
    args[0].as_str().expect("an object path").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_pdu_is_registered_as_a_broadcast_advertisement_then_unregistered() {
    let Some(bus) = bluez("{}") else { return };
    let config = BluezConfig {
        hold: Duration::from_millis(800),
        ..BluezConfig::default()
    };
    let mut radio = open_on(&bus, "bluez:hci0", config).await.unwrap();
    assert_eq!(radio.adapter().address, "00:01:02:03:04:05");

    // Discovery: LE only, duplicate data on, then started.
    let filter = bus.wait_calls(HCI0, "SetDiscoveryFilter", 1);
    let f = &filter[0][0];
    let mut entries = HashMap::new();
    let mut it = f.as_iter().unwrap();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        entries.insert(k.as_str().unwrap().to_string(), v.box_clone());
    }
    assert_eq!(
        entries["Transport"]
            .as_iter()
            .unwrap()
            .next()
            .unwrap()
            .as_str(),
        Some("le")
    );
    let dup = entries["DuplicateData"]
        .as_iter()
        .unwrap()
        .next()
        .unwrap()
        .as_u64();
    assert_eq!(dup, Some(1));
    bus.wait_calls(HCI0, "StartDiscovery", 1);

    radio
        .send(adv(&[5, 0x2a, 0xde, 0xad, 0xbe, 0xef]))
        .await
        .unwrap();
    let reg = bus.wait_calls(HCI0, "RegisterAdvertisement", 1);
    let path = path_of(&reg[0]);
    let a = bus
        .exported(&path, "org.bluez.LEAdvertisement1")
        .expect("weft exports the advertisement it registered");
    assert_eq!(a["Type"].0.as_str(), Some("broadcast"));
    assert_eq!(a["MinInterval"].0.as_u64(), Some(20));
    assert_eq!(a["MaxInterval"].0.as_u64(), Some(20));
    let data = a["Data"].0.as_iter().unwrap().collect::<Vec<_>>();
    assert_eq!(data.len(), 2, "one AD type, one value: {data:?}");
    assert_eq!(data[0].as_u64(), Some(0x2a));
    let bytes: Vec<u64> = data[1]
        .as_iter()
        .unwrap()
        .next()
        .unwrap()
        .as_iter()
        .unwrap()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(bytes, vec![0xde, 0xad, 0xbe, 0xef]);
    for absent in ["Discoverable", "LocalName", "ServiceUUIDs"] {
        let empty = a
            .get(absent)
            .is_none_or(|v| v.0.as_iter().is_some_and(|mut i| i.next().is_none()));
        assert!(empty, "{absent} set: {:?}", a.get(absent));
    }
    assert_eq!(
        bus.property(HCI0, "org.bluez.LEAdvertisingManager1", "ActiveInstances")
            .as_u64(),
        Some(1)
    );

    // After its hold, the advertisement is unregistered and no longer exported.
    let unreg = bus.wait_calls(HCI0, "UnregisterAdvertisement", 1);
    assert_eq!(path_of(&unreg[0]), path);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(bus.exported(&path, "org.bluez.LEAdvertisement1").is_none());
    assert_eq!(
        bus.property(HCI0, "org.bluez.LEAdvertisingManager1", "ActiveInstances")
            .as_u64(),
        Some(0)
    );
    let s = radio.stats();
    assert_eq!((s.tx_frames, s.tx_refused, s.tx_dropped), (1, 0, 0));

    // A frame this radio cannot carry is refused at once.
    let e = radio.send(adv(&[3, 0x03, 0x28, 0x18])).await.unwrap_err();
    assert!(matches!(e, RadioError::Unsupported(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_advertisements_at_once_than_instances_and_all_go_out() {
    let Some(bus) = bluez("{}") else { return };
    let config = BluezConfig {
        hold: Duration::from_millis(300),
        max_instances: 2,
        ..BluezConfig::default()
    };
    let mut radio = open_on(&bus, "bluez:hci0", config).await.unwrap();
    for i in 0..5u8 {
        radio.send(adv(&[2, 0x2a, i])).await.unwrap();
    }
    let reg = bus.wait_calls(HCI0, "RegisterAdvertisement", 5);
    let unreg = bus.wait_calls(HCI0, "UnregisterAdvertisement", 5);
    assert_eq!(reg.len(), 5);
    // Each frame had its own advertisement object.
    let mut paths: Vec<String> = reg.iter().map(|a| path_of(a)).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 5);
    // The calls in the order the mock received them: never more than 2 registered at once,
    // and 2 at times (the mock's adapter offloads advertising).
    assert_eq!(most_at_once(&bus), 2);
    assert_eq!(unreg.len(), 5);
    assert_eq!(radio.stats().tx_frames, 5);
}

/// The most advertisements registered at once, from the mock's log of calls.
fn most_at_once(bus: &MockBus) -> i32 {
    let mut active = 0i32;
    let mut most = 0;
    for m in bus.method_order(HCI0) {
        active += match m.as_str() {
            "RegisterAdvertisement" => 1,
            "UnregisterAdvertisement" => -1,
            _ => 0,
        };
        most = most.max(active);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_hardware_offload_advertisements_go_one_at_a_time() {
    let Some(bus) = bluez("{}") else { return };
    let mut props = PropMap::new();
    props.insert(
        "SupportedFeatures".into(),
        Variant(Box::new(vec!["CanSetTxPower".to_string()])),
    );
    bus.update(HCI0, "org.bluez.LEAdvertisingManager1", props);
    let config = BluezConfig {
        hold: Duration::from_millis(100),
        ..BluezConfig::default()
    };
    let mut radio = open_on(&bus, "bluez:hci0", config).await.unwrap();
    for i in 0..3u8 {
        radio.send(adv(&[2, 0x2a, i])).await.unwrap();
    }
    bus.wait_calls(HCI0, "UnregisterAdvertisement", 3);
    assert_eq!(most_at_once(&bus), 1);
    assert_eq!(radio.stats().tx_frames, 3);
}

/// bluetoothd 5.50 and later refuse mesh AD types in `Data` (`src/shared/ad.c`,
/// `type_reject_list`) with "Failed to parse advertisement."; the template accepts anything, so
/// its RegisterAdvertisement is replaced by one that answers as bluetoothd does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bluetoothd_that_refuses_mesh_ad_types_ends_the_radio_with_what_to_do() {
    let Some(bus) = bluez("{}") else { return };
    bus.add_method(
        HCI0,
        "org.bluez.LEAdvertisingManager1",
        "RegisterAdvertisement",
        ("oa{sv}", ""),
        "raise dbus.exceptions.DBusException('Failed to parse advertisement.', \
         name='org.bluez.Error.Failed')",
    );
    let mut radio = open_on(&bus, "bluez:hci0", BluezConfig::default())
        .await
        .unwrap();
    radio.send(adv(&[2, 0x2a, 1])).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), radio.recv())
        .await
        .expect("recv ends")
        .unwrap_err();
    let RadioError::Unavailable(why) = e else {
        panic!("{e}")
    };
    assert!(
        why.starts_with("bluez:hci0: bluetoothd refused the mesh advertisement"),
        "{why}"
    );
    assert!(why.contains("BlueZ 5.50 and later"), "{why}");
    assert!(why.contains("hci-user:hciN"), "{why}");
    assert_eq!(radio.stats().tx_refused, 1);
    let e = radio.send(adv(&[2, 0x2a, 1])).await.unwrap_err();
    assert!(matches!(e, RadioError::Unavailable(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advertising_data_heard_by_bluez_reaches_weft_as_a_mesh_frame() {
    let Some(bus) = bluez("{}") else { return };
    let mut radio = open_on(&bus, "bluez:hci0", BluezConfig::default())
        .await
        .unwrap();
    let dev = bus.add_device("hci0", "C6:05:04:03:02:01");
    // Not mesh: nothing for the station.
    bus.hear(&dev, &[(0x09, b"phone")], -50);
    // A Mesh Beacon beside a name.
    bus.hear(&dev, &[(0x2b, &[0x00, 1, 2, 3]), (0x09, b"phone")], -42);
    let f = tokio::time::timeout(Duration::from_secs(5), radio.recv())
        .await
        .expect("a frame within 5 s")
        .unwrap();
    assert_eq!(f.bytes, vec![5, 0x2b, 0x00, 1, 2, 3]);
    assert_eq!(f.rssi, Some(-42));
    assert_eq!(f.adv_address, Some([1, 2, 3, 4, 5, 0xc6]));
    assert_eq!(f.bearer, Bearer::Advertising);
    bus.hear(&dev, &[(0x29, &[9, 9])], -80);
    let f = tokio::time::timeout(Duration::from_secs(5), radio.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((f.bytes, f.rssi), (vec![3, 0x29, 9, 9], Some(-80)));
    let s = radio.stats();
    assert_eq!(s.rx_frames, 2);
    assert!(s.rx_skipped >= 1, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bluetoothd_or_no_adapter_is_unavailable_with_what_to_do() {
    let Some(python) = python_or_skip(&test_name()) else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.kill_mock();
    let why = unavailable(open_on(&bus, "bluez:hci0", BluezConfig::default()).await);
    assert!(why.contains("bluetoothd is not running"), "{why}");
    assert!(why.contains("systemctl start bluetooth"), "{why}");

    bus.start_bluez(&python, "{}");
    let why = unavailable(open_on(&bus, "bluez:hci0", BluezConfig::default()).await);
    assert!(why.contains("no adapter hci0, nor any other"), "{why}");
    bus.add_adapter("hci0");
    let why = unavailable(open_on(&bus, "bluez:hci1", BluezConfig::default()).await);
    assert!(why.contains("no adapter hci1 (it has hci0"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_powered_off_adapter_is_unavailable_and_powering_off_ends_the_radio() {
    let Some(bus) = bluez("{}") else { return };
    let mut radio = open_on(&bus, "bluez:hci0", BluezConfig::default())
        .await
        .unwrap();
    let mut props = PropMap::new();
    props.insert("Powered".into(), Variant(Box::new(false)));
    bus.update(HCI0, "org.bluez.Adapter1", props);
    let e = tokio::time::timeout(Duration::from_secs(5), radio.recv())
        .await
        .expect("recv ends")
        .unwrap_err();
    let RadioError::Unavailable(why) = e else {
        panic!("{e}")
    };
    assert!(why.contains("powered off"), "{why}");
    assert!(why.contains("bluetoothctl power on"), "{why}");
    let e = radio.send(adv(&[2, 0x2a, 1])).await.unwrap_err();
    assert!(matches!(e, RadioError::Unavailable(_)), "{e}");

    let why = unavailable(open_on(&bus, "bluez:hci0", BluezConfig::default()).await);
    assert!(why.starts_with("bluez:hci0: hci0 is powered off"), "{why}");
    assert!(why.contains("bluetoothctl power on"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluetoothd_going_away_ends_the_radio() {
    let Some(mut bus) = bluez("{}") else { return };
    let mut radio = open_on(&bus, "bluez:hci0", BluezConfig::default())
        .await
        .unwrap();
    bus.kill_mock();
    let e = tokio::time::timeout(Duration::from_secs(5), radio.recv())
        .await
        .expect("recv ends")
        .unwrap_err();
    assert!(
        e.to_string().contains("bluetoothd left the system bus"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_without_le_advertising_is_unavailable() {
    let Some(bus) = bluez(r#"{"enable_advertise_api": false}"#) else {
        return;
    };
    let why = unavailable(open_on(&bus, "bluez:hci0", BluezConfig::default()).await);
    assert!(why.contains("no LE advertising manager"), "{why}");
}
