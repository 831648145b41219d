//! What the BlueZ radio asks the system bus directly (with the `dbus` crate, libdbus built from
//! source): whether bluetoothd is there, its adapters and their state, and the signals that
//! carry advertising data and the adapter's fate. bluer does the advertising and the discovery
//! session (`radio.rs`); these are the parts bluer does not expose, or not in one signal.
//!
//! The bus is the system bus libdbus finds: `DBUS_SYSTEM_BUS_ADDRESS` when set (the tests'
//! private bus), else `/run/dbus/system_bus_socket`.
//!
//! Every value read from the bus is checked for its type; a value of another type counts as
//! absent, never a panic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dbus::arg::{PropMap, RefArg};
use dbus::message::MatchRule;
use dbus::nonblock::{Proxy, SyncConnection};
use dbus::Message;

use super::mesh::{DataMap, DeviceChange, ServiceMap};

/// bluetoothd's bus name.
pub const BLUEZ: &str = "org.bluez";
/// BlueZ `doc/org.bluez.Adapter.rst`.
pub const ADAPTER_IFACE: &str = "org.bluez.Adapter1";
/// BlueZ `doc/org.bluez.Device.rst`.
pub const DEVICE_IFACE: &str = "org.bluez.Device1";
/// BlueZ `doc/org.bluez.LEAdvertisingManager.rst`.
pub const ADV_MANAGER_IFACE: &str = "org.bluez.LEAdvertisingManager1";
const PROPERTIES_IFACE: &str = "org.freedesktop.DBus.Properties";
const OBJECT_MANAGER_IFACE: &str = "org.freedesktop.DBus.ObjectManager";
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong on the way to an adapter, before any advertising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No system bus could be reached (libdbus's message).
    NoSystemBus(String),
    /// Nobody owns `org.bluez` on the bus: bluetoothd is not running.
    NoBluez,
    /// No adapter of that name; the names BlueZ has.
    NoAdapter { have: Vec<String> },
    /// The adapter is powered off.
    PoweredOff,
    /// The adapter has no `LEAdvertisingManager1` (BR/EDR only, or LE switched off).
    NoAdvertising,
    /// A call failed otherwise (its D-Bus error).
    Call(String),
}

/// An adapter as BlueZ describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterInfo {
    /// The adapter's name, `hci0`.
    pub name: String,
    /// Its address as BlueZ writes it, `AA:BB:CC:DD:EE:FF`.
    pub address: String,
    /// Its alias (the name it shows to others).
    pub alias: String,
    /// Whether it is powered.
    pub powered: bool,
    /// Whether it has `LEAdvertisingManager1`.
    pub le_advertising: bool,
    /// `SupportedInstances` of its advertising manager: the advertisements it can still take.
    pub free_instances: Option<u8>,
    /// `SupportedFeatures` of its advertising manager has "HardwareOffload": the controller
    /// runs several advertisements at once (extended advertising sets). Without it bluetoothd
    /// rotates them in software, each for its `Duration` (2 s by default), far longer than a
    /// mesh PDU is held, so the radio registers one at a time.
    pub hardware_offload: bool,
}

/// The system bus, and the task that drives its connection.
pub struct Bus {
    /// The connection.
    pub conn: Arc<SyncConnection>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("name", &self.conn.unique_name())
            .finish()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Bus {
    /// Connects to the system bus.
    pub async fn system() -> Result<Bus, Fault> {
        let (resource, conn) = tokio::task::spawn_blocking(dbus_tokio::connection::new_system_sync)
            .await
            .map_err(|e| Fault::NoSystemBus(e.to_string()))?
            .map_err(|e| Fault::NoSystemBus(e.message().unwrap_or("no message").to_string()))?;
        let task = tokio::spawn(async move {
            let e = resource.await;
            tracing::debug!(target: "weft::bluez", "the system bus connection ended: {e}");
        });
        Ok(Bus { conn, task })
    }

    /// Fails with [`Fault::NoBluez`] when nobody owns `org.bluez`.
    pub async fn check_bluez(&self) -> Result<(), Fault> {
        let proxy = Proxy::new(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            CALL_TIMEOUT,
            self.conn.clone(),
        );
        let (has,): (bool,) = proxy
            .method_call("org.freedesktop.DBus", "NameHasOwner", (BLUEZ,))
            .await
            .map_err(call_fault)?;
        if has {
            Ok(())
        } else {
            Err(Fault::NoBluez)
        }
    }

    /// BlueZ's adapters, sorted by name.
    pub async fn adapters(&self) -> Result<Vec<AdapterInfo>, Fault> {
        let proxy = Proxy::new(BLUEZ, "/", CALL_TIMEOUT, self.conn.clone());
        let (objects,): (HashMap<dbus::Path<'static>, HashMap<String, PropMap>>,) = proxy
            .method_call(OBJECT_MANAGER_IFACE, "GetManagedObjects", ())
            .await
            .map_err(call_fault)?;
        Ok(adapters_from(&objects))
    }

    /// The adapter `name`, checked to be powered and able to advertise.
    pub async fn usable_adapter(&self, name: &str) -> Result<AdapterInfo, Fault> {
        self.check_bluez().await?;
        let all = self.adapters().await?;
        let Some(a) = all.iter().find(|a| a.name == name) else {
            return Err(Fault::NoAdapter {
                have: all.into_iter().map(|a| a.name).collect(),
            });
        };
        if !a.powered {
            return Err(Fault::PoweredOff);
        }
        if !a.le_advertising {
            return Err(Fault::NoAdvertising);
        }
        Ok(a.clone())
    }
}

fn call_fault(e: dbus::Error) -> Fault {
    match e.name() {
        Some("org.freedesktop.DBus.Error.ServiceUnknown")
        | Some("org.freedesktop.DBus.Error.NameHasNoOwner") => Fault::NoBluez,
        _ => Fault::Call(format!(
            "{}: {}",
            e.name().unwrap_or("error"),
            e.message().unwrap_or("")
        )),
    }
}

/// The adapters among `GetManagedObjects`' answer.
pub fn adapters_from(
    objects: &HashMap<dbus::Path<'static>, HashMap<String, PropMap>>,
) -> Vec<AdapterInfo> {
    let mut out: Vec<AdapterInfo> = objects
        .iter()
        .filter_map(|(path, ifaces)| {
            let props = ifaces.get(ADAPTER_IFACE)?;
            let name = path.strip_prefix("/org/bluez/")?;
            if name.contains('/') {
                return None;
            }
            let adv = ifaces.get(ADV_MANAGER_IFACE);
            Some(AdapterInfo {
                name: name.to_string(),
                address: string(props, "Address").unwrap_or_default(),
                alias: string(props, "Alias").unwrap_or_default(),
                powered: props
                    .get("Powered")
                    .and_then(|v| v.0.as_u64())
                    .is_some_and(|p| p != 0),
                le_advertising: adv.is_some(),
                free_instances: adv
                    .and_then(|p| p.get("SupportedInstances"))
                    .and_then(|v| v.0.as_u64())
                    .and_then(|n| u8::try_from(n).ok()),
                hardware_offload: adv
                    .and_then(|p| p.get("SupportedFeatures"))
                    .and_then(|v| v.0.as_iter())
                    .is_some_and(|mut f| f.any(|x| x.as_str() == Some("HardwareOffload"))),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn string(props: &PropMap, key: &str) -> Option<String> {
    props.get(key)?.0.as_str().map(str::to_string)
}

/// The match rules the radio listens with, for the adapter at `adapter_path`: property changes
/// of the adapter and its devices, objects added and removed, and `org.bluez` changing owner.
pub fn match_rules(adapter_path: &str) -> Vec<MatchRule<'static>> {
    let mut props = MatchRule::new_signal(PROPERTIES_IFACE, "PropertiesChanged").with_sender(BLUEZ);
    props.path = dbus::Path::new(adapter_path.to_string()).ok();
    props.path_is_namespace = true;
    vec![
        props,
        MatchRule::new_signal(OBJECT_MANAGER_IFACE, "InterfacesAdded").with_sender(BLUEZ),
        MatchRule::new_signal(OBJECT_MANAGER_IFACE, "InterfacesRemoved").with_sender(BLUEZ),
        MatchRule::new_signal("org.freedesktop.DBus", "NameOwnerChanged")
            .with_sender("org.freedesktop.DBus"),
    ]
}

/// What one signal means to the radio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A device of some adapter changed (or appeared with these properties).
    Device(DeviceChange),
    /// The adapter went away or can no longer serve; why, and what to do.
    AdapterGone(String),
    /// Nothing the radio cares about.
    Other,
}

/// What `msg` means for the adapter at `adapter_path` (`/org/bluez/hci0`, named `name`).
pub fn classify(msg: &Message, adapter_path: &str, name: &str) -> Signal {
    let member = msg.member();
    let path = msg.path().map(|p| p.to_string()).unwrap_or_default();
    match member.as_deref() {
        Some("PropertiesChanged") => {
            let Ok((iface, changed, _)) = msg.read3::<String, PropMap, Vec<String>>() else {
                return Signal::Other;
            };
            if iface == DEVICE_IFACE {
                return Signal::Device(device_change(path, &changed));
            }
            if iface == ADAPTER_IFACE && path == adapter_path {
                let off = changed
                    .get("Powered")
                    .and_then(|v| v.0.as_u64())
                    .is_some_and(|p| p == 0);
                if off {
                    return Signal::AdapterGone(format!(
                        "{name} was powered off (power it on with `bluetoothctl power on`)"
                    ));
                }
            }
            Signal::Other
        }
        Some("InterfacesAdded") => {
            let Ok((obj, ifaces)) = msg.read2::<dbus::Path<'static>, HashMap<String, PropMap>>()
            else {
                return Signal::Other;
            };
            match ifaces.get(DEVICE_IFACE) {
                Some(props) => Signal::Device(device_change(obj.to_string(), props)),
                None => Signal::Other,
            }
        }
        Some("InterfacesRemoved") => {
            let Ok((obj, ifaces)) = msg.read2::<dbus::Path<'static>, Vec<String>>() else {
                return Signal::Other;
            };
            if &*obj == adapter_path && ifaces.iter().any(|i| i == ADAPTER_IFACE) {
                return Signal::AdapterGone(format!(
                    "{name} was removed from BlueZ (plugged out?; `bluetoothctl list` shows the \
                     adapters)"
                ));
            }
            Signal::Other
        }
        Some("NameOwnerChanged") => {
            let Ok((bus_name, _old, new)) = msg.read3::<String, String, String>() else {
                return Signal::Other;
            };
            if bus_name == BLUEZ && new.is_empty() {
                return Signal::AdapterGone(
                    "bluetoothd left the system bus (restart it: `sudo systemctl start \
                     bluetooth`)"
                        .into(),
                );
            }
            Signal::Other
        }
        _ => Signal::Other,
    }
}

/// A device's changed properties as a [`DeviceChange`].
pub fn device_change(path: String, props: &PropMap) -> DeviceChange {
    DeviceChange {
        path,
        advertising_data: props.get("AdvertisingData").and_then(|v| data_map(&*v.0)),
        rssi: props
            .get("RSSI")
            .and_then(|v| v.0.as_i64())
            .and_then(|r| i16::try_from(r).ok()),
        service_data: props.get("ServiceData").and_then(|v| service_map(&*v.0)),
    }
}

/// An `a{sv}` whose values are `ay` (a device's `ServiceData`), as a [`ServiceMap`]; `None`
/// when it is not that.
pub fn service_map(arg: &dyn RefArg) -> Option<ServiceMap> {
    let mut out = ServiceMap::new();
    let mut items = arg.as_iter()?;
    while let Some(k) = items.next() {
        let v = items.next()?;
        out.insert(k.as_str()?.to_string(), bytes(v)?);
    }
    Some(out)
}

/// An `a{yv}` whose values are `ay`, as a [`DataMap`]; `None` when it is not that.
pub fn data_map(arg: &dyn RefArg) -> Option<DataMap> {
    let mut out = DataMap::new();
    let mut items = arg.as_iter()?;
    while let Some(k) = items.next() {
        let v = items.next()?;
        let t = u8::try_from(k.as_u64()?).ok()?;
        out.insert(t, bytes(v)?);
    }
    Some(out)
}

/// The bytes of an `ay`, possibly inside variants.
fn bytes(arg: &dyn RefArg) -> Option<Vec<u8>> {
    if arg.signature().starts_with('v') {
        return bytes(arg.as_iter()?.next()?);
    }
    if &*arg.signature() != "ay" {
        return None;
    }
    arg.as_iter()?
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}
