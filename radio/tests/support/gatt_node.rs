//! A Mesh node's GATT database on python-dbusmock's BlueZ (`dbusmock.rs`): the `bluez5`
//! template has adapters and devices but no GATT objects, so these add them with the mock's
//! generic `AddObject`, as bluetoothd shows a connected node's services (org.bluez
//! GattService1, GattCharacteristic1).
#![allow(dead_code)]

use dbus::arg::{PropMap, RefArg, Variant};

use crate::dbusmock::MockBus;

pub const GATT_SERVICE: &str = "org.bluez.GattService1";
pub const GATT_CHAR: &str = "org.bluez.GattCharacteristic1";

/// The ATT MTU the mock's characteristics report (BlueZ's `MTU` property).
pub const MTU: u16 = 69;

pub fn v<T: RefArg + 'static>(x: T) -> Variant<Box<dyn RefArg>> {
    Variant(Box::new(x))
}

pub fn props(entries: Vec<(&str, Variant<Box<dyn RefArg>>)>) -> PropMap {
    entries
        .into_iter()
        .map(|(k, x)| (k.to_string(), x))
        .collect()
}

/// A 16-bit UUID on the Bluetooth Base UUID, as BlueZ writes it.
pub fn uuid(short: u16) -> String {
    format!("0000{short:04x}-0000-1000-8000-00805f9b34fb")
}

pub fn characteristic(bus: &MockBus, path: &str, service: &str, uuid16: u16, flag: &str) {
    bus.add_object(
        path,
        GATT_CHAR,
        props(vec![
            ("UUID", v(uuid(uuid16))),
            ("Service", v(dbus::Path::from(service.to_string()))),
            ("Flags", v(vec![flag.to_string()])),
            ("Value", v(Vec::<u8>::new())),
            ("Notifying", v(false)),
            ("MTU", v(MTU)),
        ]),
        &[
            ("WriteValue", "aya{sv}"),
            ("ReadValue", "a{sv}"),
            ("StartNotify", ""),
            ("StopNotify", ""),
        ],
    );
}

/// A device serving the Mesh Proxy Service (0x1828) with Data In (0x2ADD, Write Without
/// Response) and Data Out (0x2ADE, notify), MshPRT v1.1 §7.2: the paths of the device, Data
/// In and Data Out.
pub struct ProxyNode {
    pub device: String,
    pub data_in: String,
    pub data_out: String,
}

pub fn proxy_node(bus: &MockBus, adapter: &str, address: &str) -> ProxyNode {
    let device = bus.add_device(adapter, address);
    bus.update(
        &device,
        "org.bluez.Device1",
        props(vec![
            ("ServicesResolved", v(true)),
            ("UUIDs", v(vec![uuid(0x1828)])),
        ]),
    );
    let service = format!("{device}/service000a");
    bus.add_object(
        &service,
        GATT_SERVICE,
        props(vec![
            ("UUID", v(uuid(0x1828))),
            ("Primary", v(true)),
            ("Device", v(dbus::Path::from(device.clone()))),
        ]),
        // dbusmock's Introspect lists an interface that has properties and no methods after
        // the object's child nodes, which bluez-async's XML reader rejects ("duplicate field
        // `interface`"); one method keeps the interface in its place. bluetoothd's own
        // GattService1 has none.
        &[("WeftMockPlaceholder", "")],
    );
    let data_in = format!("{service}/char000b");
    let data_out = format!("{service}/char000d");
    characteristic(bus, &data_in, &service, 0x2add, "write-without-response");
    characteristic(bus, &data_out, &service, 0x2ade, "notify");
    ProxyNode {
        device,
        data_in,
        data_out,
    }
}

/// A notification of `value` on the characteristic at `path` (a `PropertiesChanged` of its
/// `Value`, as bluetoothd sends one).
pub fn notify(bus: &MockBus, path: &str, value: &[u8]) {
    bus.update(path, GATT_CHAR, props(vec![("Value", v(value.to_vec()))]));
}

/// The bytes of a D-Bus `ay` argument.
pub fn bytes(a: &dyn RefArg) -> Vec<u8> {
    a.as_iter()
        .unwrap()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect()
}
