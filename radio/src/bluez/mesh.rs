//! The Bluetooth Mesh advertising bearer (MshPRT v1.1 §3.3.1) in BlueZ terms, as pure functions.
//!
//! Sending: BlueZ builds the advertising PDU itself from an `org.bluez.LEAdvertisement1` object
//! (BlueZ `doc/org.bluez.LEAdvertisement.rst`). A mesh PDU is one AD structure of type «PB-ADV»
//! (0x29), «Mesh Message» (0x2A) or «Mesh Beacon» (0x2B) (MshPRT §3.3.1, Core Supplement Part
//! A §1); it goes into the advertisement's `Data` map (AD type → bytes), in an advertisement of
//! `Type` "broadcast" (non-connectable, non-scannable: ADV_NONCONN_IND, as §3.3.1 requires).
//! A Flags structure (0x01) is left to bluetoothd, which writes the flags itself. Anything else
//! (the Mesh Proxy or Provisioning Service advertising of §7.2.2.2 needs a connectable
//! advertisement and a GATT server) is not carried by this radio.
//!
//! Receiving: with discovery on (LE transport, duplicate data on), bluetoothd keeps each
//! advertiser's last advertising data in its `org.bluez.Device1` object's `AdvertisingData`
//! (AD type → bytes) and `RSSI`, and signals each change with `PropertiesChanged`. The mesh AD
//! types found there become one [`RxFrame`]: each `length || type || data`, in ascending type
//! order, the advertiser address from the device object path, the RSSI when the signal had it.
//! bluetoothd keeps service data apart, in `ServiceData` (UUID string → bytes): the Mesh
//! Provisioning Service's (0x1827, §7.1.2.2.1) and the Mesh Proxy Service's (0x1828,
//! §7.2.2.2.1) become Service Data AD structures (type 0x16, the UUID's 16 bits little-endian
//! first, Core Supplement Part A §1.11) after the mesh ones, so that a scanner finds proxies
//! and PB-GATT devices (`weft radios --proxies`). bluetoothd does not keep those out, as it
//! does the mesh AD types.

use std::collections::BTreeMap;

use weft_mesh::ble::wire::adv::{
    AdStructures, AD_TYPE_FLAGS, AD_TYPE_MESH_BEACON, AD_TYPE_MESH_MESSAGE, AD_TYPE_PB_ADV,
    AD_TYPE_SERVICE_DATA_16, MESH_PROVISIONING_SERVICE_UUID, MESH_PROXY_SERVICE_UUID,
};

use crate::{Bearer, Instant, RadioError, RxFrame, TxFrame};

/// The mesh AD types (MshPRT v1.1 §3.3.1; Assigned Numbers §2.3).
pub const MESH_AD_TYPES: [u8; 3] = [AD_TYPE_PB_ADV, AD_TYPE_MESH_MESSAGE, AD_TYPE_MESH_BEACON];

pub use crate::ble_ll::MAX_LEGACY_ADV_DATA;

/// The octets bluetoothd may add to a broadcast advertisement of its own accord: a Flags AD
/// structure (3 octets, Core Supplement Part A §1.3), which it writes when the adapter is
/// discoverable.
pub const FLAGS_OVERHEAD: usize = 3;

/// The advertising data of one mesh PDU: the `Data` map of its advertisement (AD type → AD
/// data, without the length and type octets).
pub type DataMap = BTreeMap<u8, Vec<u8>>;

/// The `Data` map that advertises `frame`, or why this radio cannot advertise it.
pub fn tx_data(frame: &TxFrame) -> Result<DataMap, RadioError> {
    crate::ble_ll::check_advertising_tx(frame, "a BlueZ radio")?;
    let mut map = DataMap::new();
    for ad in AdStructures::new(&frame.bytes) {
        let ad = ad.map_err(|e| {
            RadioError::Unsupported(format!("the frame is not AD structures: {e:?}"))
        })?;
        match ad.ad_type {
            AD_TYPE_FLAGS => {}
            t if MESH_AD_TYPES.contains(&t) => {
                if map.insert(t, ad.data.to_vec()).is_some() {
                    return Err(RadioError::Unsupported(format!(
                        "two AD structures of type {t:#04x}: a BlueZ advertisement holds one \
                         of each type"
                    )));
                }
            }
            t => {
                return Err(RadioError::Unsupported(format!(
                    "AD type {t:#04x}: a BlueZ radio advertises mesh PDUs (0x29, 0x2a, 0x2b) \
                     only (proxy service advertising needs a GATT server)"
                )))
            }
        }
    }
    if map.is_empty() {
        return Err(RadioError::Unsupported(
            "no mesh AD structure (0x29, 0x2a or 0x2b) in the frame".into(),
        ));
    }
    Ok(map)
}

/// The advertising bytes a `Data` map stands for: each entry as `length || type || data`, in
/// ascending type order. Entries longer than an AD structure can hold are skipped.
pub fn ad_bytes(map: &DataMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, data) in map {
        let Ok(len) = u8::try_from(data.len() + 1) else {
            continue;
        };
        out.push(len);
        out.push(*t);
        out.extend_from_slice(data);
    }
    out
}

/// Why a device's change gave the station nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The change did not touch `AdvertisingData`.
    NoAdvertisingData,
    /// The advertising data holds no mesh AD type.
    NoMeshData,
    /// A mesh AD's data is longer than an AD structure can hold.
    Malformed,
    /// The object path is not a device of this adapter.
    NotADevice,
}

/// One `org.bluez.Device1` change, as the signal carried it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceChange {
    /// The device's object path, e.g. `/org/bluez/hci0/dev_C6_05_04_03_02_01`.
    pub path: String,
    /// `AdvertisingData`, when it changed.
    pub advertising_data: Option<DataMap>,
    /// `RSSI`, when it changed.
    pub rssi: Option<i16>,
    /// `ServiceData` (UUID string → data), when it changed.
    pub service_data: Option<ServiceMap>,
}

/// A device's `ServiceData`: 128-bit UUID strings to the service data.
pub type ServiceMap = BTreeMap<String, Vec<u8>>;

/// The 16-bit UUID of a 128-bit one on the Bluetooth Base UUID
/// (`0000XXXX-0000-1000-8000-00805f9b34fb`, Core v5.4 Vol 3 Part B §2.5.1), any case.
pub fn uuid16(uuid: &str) -> Option<u16> {
    let u = uuid.to_ascii_lowercase();
    let rest = u.strip_prefix("0000")?;
    let (short, base) = rest.split_at_checked(4)?;
    if base != "-0000-1000-8000-00805f9b34fb" {
        return None;
    }
    u16::from_str_radix(short, 16).ok()
}

/// The frame a device change gives the station, or why it gives none. `adapter` is the
/// adapter's object path (`/org/bluez/hci0`).
pub fn rx_frame(adapter: &str, change: &DeviceChange) -> Result<RxFrame, Skip> {
    let address = device_address(adapter, &change.path).ok_or(Skip::NotADevice)?;
    if change.advertising_data.is_none() && change.service_data.is_none() {
        return Err(Skip::NoAdvertisingData);
    }
    let mut mesh = DataMap::new();
    for t in MESH_AD_TYPES {
        if let Some(d) = change.advertising_data.as_ref().and_then(|m| m.get(&t)) {
            if d.len() + 1 > usize::from(u8::MAX) {
                return Err(Skip::Malformed);
            }
            mesh.insert(t, d.clone());
        }
    }
    let mut bytes = ad_bytes(&mesh);
    for (uuid, d) in change.service_data.iter().flatten() {
        let Some(u) = uuid16(uuid)
            .filter(|u| *u == MESH_PROVISIONING_SERVICE_UUID || *u == MESH_PROXY_SERVICE_UUID)
        else {
            continue;
        };
        // Length, type, UUID: the data must leave room in one AD structure.
        let Ok(len) = u8::try_from(d.len() + 3) else {
            return Err(Skip::Malformed);
        };
        bytes.push(len);
        bytes.push(AD_TYPE_SERVICE_DATA_16);
        bytes.extend_from_slice(&u.to_le_bytes());
        bytes.extend_from_slice(d);
    }
    if bytes.is_empty() {
        return Err(Skip::NoMeshData);
    }
    Ok(RxFrame {
        lqi: None,
        bearer: Bearer::Advertising,
        channel: 0,
        rssi: change
            .rssi
            .map(|r| r.clamp(i8::MIN.into(), i8::MAX.into()) as i8),
        timestamp: Instant::ZERO,
        adv_address: Some(address),
        bytes,
    })
}

/// The address of the device at `path` under `adapter` (`ADAPTER/dev_AA_BB_CC_DD_EE_FF`), least
/// significant octet first as weft (and HCI) hold addresses; `None` for any other path.
pub fn device_address(adapter: &str, path: &str) -> Option<[u8; 6]> {
    let rest = path.strip_prefix(adapter)?.strip_prefix("/dev_")?;
    parse_address(&rest.replace('_', ":"))
}

/// `AA:BB:CC:DD:EE:FF` (most significant octet first, as BlueZ writes it), least significant
/// octet first.
pub fn parse_address(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for i in (0..6).rev() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        out[i] = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// An address held least significant octet first, as BlueZ writes it.
pub fn show_address(a: &[u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        a[5], a[4], a[3], a[2], a[1], a[0]
    )
}
