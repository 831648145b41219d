//! The GATT link against python-dbusmock's BlueZ (`support/dbusmock.rs`). The `bluez5`
//! template has adapters and devices but no GATT objects, so the test adds them with the
//! mock's generic `AddObject`: a Mesh Proxy Service with Data In and Data Out, as bluetoothd
//! shows a connected proxy node. What it proves: btleplug finds the device, connects, the
//! link picks Data In and Data Out by UUID and properties, takes the MTU, writes values as
//! Write Without Response (read back from the mock's call log), and notifications of Data Out
//! (a `PropertiesChanged` of its `Value`) come out of `recv`. What it cannot prove: the mock
//! has no ATT, so MTU exchange, real notification timing and link loss are bluetoothd's.
#![cfg(feature = "gatt")]

#[path = "support/dbusmock.rs"]
mod dbusmock;
#[path = "support/gatt_node.rs"]
mod gatt_node;

use std::time::Duration;

use dbusmock::{python_or_skip, MockBus};
use gatt_node::{bytes, props, proxy_node, v, GATT_CHAR};
use weft_mesh::ble::wire::proxy::MessageType;
use weft_radio::gatt::{GattConfig, GattLink, MeshService};
use weft_radio::RadioError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_link_writes_data_in_and_hears_data_out() {
    let Some(python) = python_or_skip("a_proxy_link_writes_data_in_and_hears_data_out") else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, "{}");
    bus.add_adapter("hci0");
    let node = proxy_node(&bus, "hci0", "C6:05:04:03:02:01");
    let (dev, data_in, data_out) = (node.device, node.data_in, node.data_out);

    let config = GattConfig {
        scan_timeout: Duration::from_secs(5),
        ..GattConfig::default()
    };
    let mut link = GattLink::open([1, 2, 3, 4, 5, 0xc6], MeshService::Proxy, config)
        .await
        .unwrap();
    assert_eq!(link.mtu(), 69);
    assert_eq!(link.max_value(), 66);
    bus.wait_calls(&dev, "Connect", 1);
    bus.wait_calls(&data_out, "StartNotify", 1);

    // One value, and a message segmented at the MTU (69 - 3 = 66: one value of 67 octets
    // would not fit, so two).
    link.send(&[0x00, 0xaa, 0xbb]).await.unwrap();
    let long: Vec<u8> = (0..70).collect();
    link.send_message(MessageType::ProvisioningPdu, &long)
        .await
        .unwrap();
    let writes = bus.wait_calls(&data_in, "WriteValue", 3);
    assert_eq!(bytes(&*writes[0][0]), vec![0x00, 0xaa, 0xbb]);
    assert_eq!(writes[1][0].as_iter().unwrap().count(), 66);
    assert_eq!(
        bytes(&*writes[1][0])[0],
        0x43,
        "first segment of a Provisioning PDU"
    );
    assert_eq!(bytes(&*writes[2][0])[0], 0xc3, "last segment");
    // Write Without Response: BlueZ's option "type" is "command".
    let opts = format!("{:?}", writes[0][1]);
    assert!(opts.contains("command"), "{opts}");
    // Too long for one value: refused before it reaches the air.
    let e = link.send(&[0; 67]).await.unwrap_err();
    assert!(matches!(e, RadioError::Unsupported(_)), "{e}");

    // A notification of Data Out.
    bus.update(
        &data_out,
        GATT_CHAR,
        props(vec![("Value", v(vec![0x01u8, 9, 8, 7]))]),
    );
    let got = tokio::time::timeout(Duration::from_secs(5), link.recv())
        .await
        .expect("a notification within 5 s")
        .unwrap();
    assert_eq!(got, vec![0x01, 9, 8, 7]);
    // Data In changing is no notification.
    bus.update(&data_in, GATT_CHAR, props(vec![("Value", v(vec![5u8]))]));
    bus.update(
        &data_out,
        GATT_CHAR,
        props(vec![("Value", v(vec![0x02u8]))]),
    );
    let got = tokio::time::timeout(Duration::from_secs(5), link.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, vec![0x02]);

    // The peripheral goes: the link says so, and sending and receiving fail with why.
    let mut down = link.disconnected();
    assert!(down.borrow().is_none());
    bus.mock_call("DisconnectDevice", ("hci0", "C6:05:04:03:02:01"));
    tokio::time::timeout(Duration::from_secs(5), down.wait_for(|d| d.is_some()))
        .await
        .expect("the disconnection noticed within 5 s")
        .unwrap();
    let e = link.recv().await.unwrap_err();
    assert!(e.to_string().contains("disconnected"), "{e}");
    let e = link.send(&[0]).await.unwrap_err();
    assert!(matches!(e, RadioError::Unavailable(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_without_the_service_is_refused_and_an_absent_one_not_seen() {
    let Some(python) = python_or_skip("a_device_without_the_service_is_refused") else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, "{}");
    bus.add_adapter("hci0");
    let dev = bus.add_device("hci0", "C6:05:04:03:02:01");
    bus.update(
        &dev,
        "org.bluez.Device1",
        props(vec![("ServicesResolved", v(true))]),
    );
    let config = GattConfig {
        scan_timeout: Duration::from_secs(2),
        ..GattConfig::default()
    };
    let e = GattLink::open([1, 2, 3, 4, 5, 0xc6], MeshService::Proxy, config.clone())
        .await
        .unwrap_err();
    let RadioError::Unsupported(why) = e else {
        panic!("{e}")
    };
    assert!(why.starts_with("gatt:C6:05:04:03:02:01: "), "{why}");
    assert!(why.contains("no the Mesh Proxy Service (0x1828)"), "{why}");

    let e = GattLink::open([9, 9, 9, 9, 9, 0xc9], MeshService::Proxy, config)
        .await
        .unwrap_err();
    let RadioError::Unavailable(why) = e else {
        panic!("{e}")
    };
    assert!(why.contains("not seen advertising within 2 s"), "{why}");
}
