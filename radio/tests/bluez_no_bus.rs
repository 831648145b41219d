//! The `bluez:` radio with no system bus at all: a process of its own, since libdbus reads
//! `DBUS_SYSTEM_BUS_ADDRESS` once per process.
#![cfg(feature = "bluez")]

use weft_radio::bluez::{BluezConfig, BluezRadio};
use weft_radio::{RadioError, RadioUri};

#[tokio::test(flavor = "current_thread")]
async fn no_system_bus_is_unavailable_with_what_to_do() {
    std::env::set_var(
        "DBUS_SYSTEM_BUS_ADDRESS",
        "unix:path=/nonexistent/weft-no-bus",
    );
    let uri = RadioUri::parse("bluez:hci0").unwrap();
    let Err(RadioError::Unavailable(why)) = BluezRadio::open(&uri, BluezConfig::default()).await
    else {
        panic!("opened without a bus");
    };
    assert!(why.starts_with("bluez:hci0: no D-Bus system bus"), "{why}");
    assert!(why.contains("systemctl start dbus"), "{why}");
    assert!(why.contains("DBUS_SYSTEM_BUS_ADDRESS"), "{why}");
    assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    // Through `open`, as every command opens a radio: the same error.
    let Err(e) = weft_radio::open(&uri).await else {
        panic!("opened without a bus");
    };
    assert_eq!(e, RadioError::Unavailable(why));
    // And `weft radios` lists no BlueZ adapters rather than failing.
    assert_eq!(weft_radio::bluez::adapters().await, None);
}
