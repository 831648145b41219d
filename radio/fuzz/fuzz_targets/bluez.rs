#![no_main]
//! The BlueZ radio's receive path (`weft_radio::bluez::mesh`): any device change as the bus
//! could carry it (object path, `AdvertisingData`, `ServiceData`, `RSSI`) maps to a frame or a
//! reason without panicking, and a frame holds only well-formed AD structures carrying mesh AD
//! types or the Mesh Provisioning / Proxy Service data (0x1827, 0x1828).
use libfuzzer_sys::fuzz_target;
use weft_mesh::ble::wire::adv::{AdStructures, AD_TYPE_SERVICE_DATA_16};
use weft_radio::bluez::mesh::{rx_frame, uuid16, DataMap, DeviceChange, ServiceMap, MESH_AD_TYPES};

type Input = (
    bool,
    String,
    Option<Vec<(u8, Vec<u8>)>>,
    Option<Vec<(String, Vec<u8>)>>,
    Option<i16>,
);

fuzz_target!(|input: Input| {
    let (under, path, ads, services, rssi) = input;
    let adapter = "/org/bluez/hci0";
    let change = DeviceChange {
        path: if under { format!("{adapter}/dev_{path}") } else { path },
        advertising_data: ads.map(|v| v.into_iter().collect::<DataMap>()),
        rssi,
        service_data: services.map(|v| v.into_iter().collect::<ServiceMap>()),
    };
    for (u, _) in change.service_data.iter().flatten() {
        let _ = uuid16(u);
    }
    if let Ok(f) = rx_frame(adapter, &change) {
        for a in AdStructures::new(&f.bytes) {
            let a = a.expect("well-formed");
            assert!(
                MESH_AD_TYPES.contains(&a.ad_type)
                    || (a.ad_type == AD_TYPE_SERVICE_DATA_16
                        && matches!(u16::from_le_bytes([a.data[0], a.data[1]]), 0x1827 | 0x1828))
            );
        }
    }
});
