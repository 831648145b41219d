//! The `gatt:` radio with no system bus at all (so no bluetoothd): a process of its own, since
//! libdbus reads `DBUS_SYSTEM_BUS_ADDRESS` once per process.
#![cfg(feature = "gatt")]

use weft_radio::{RadioError, RadioUri};

#[tokio::test(flavor = "current_thread")]
async fn no_bluetoothd_is_unavailable_at_open_with_what_to_do() {
    std::env::set_var(
        "DBUS_SYSTEM_BUS_ADDRESS",
        "unix:path=/nonexistent/weft-no-bus",
    );
    let uri = RadioUri::parse("gatt:C0:11:22:33:44:55").unwrap();
    let Err(RadioError::Unavailable(why)) = weft_radio::open(&uri).await else {
        panic!("opened without a bus");
    };
    assert!(
        why.starts_with("gatt:C0:11:22:33:44:55: no Bluetooth adapter"),
        "{why}"
    );
    assert!(why.contains("is bluetoothd running"), "{why}");
}
