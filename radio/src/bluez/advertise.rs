//! The advertisements of the BlueZ radio: each an `org.bluez.LEAdvertisement1` object this
//! process exports (BlueZ `doc/org.bluez.LEAdvertisement.rst`), registered with the adapter's
//! `LEAdvertisingManager1` (`doc/org.bluez.LEAdvertisingManager.rst`), and unregistered with
//! the call awaited before its slot is reused.
//!
//! bluer has the same export, but its handle unregisters in a task of its own when dropped, so
//! a new registration can reach bluetoothd before the old one is gone: more advertisements at
//! once than the adapter has instances, and `NotPermitted`. The tests against the BlueZ mock
//! showed it (`radio/tests/bluez_mock.rs`); hence this, with dbus-crossroads as bluer uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbus::arg::Variant;
use dbus::channel::MatchingReceiver;
use dbus::message::MatchRule;
use dbus::nonblock::{Proxy, SyncConnection};
use dbus_crossroads::{Crossroads, IfaceToken};

use super::bus::ADV_MANAGER_IFACE;
use super::mesh::DataMap;

/// BlueZ `doc/org.bluez.LEAdvertisement.rst`.
pub const ADVERTISEMENT_IFACE: &str = "org.bluez.LEAdvertisement1";
/// Where this process exports its advertisements.
pub const PATH_PREFIX: &str = "/org/weft/advertisement";
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// One advertisement's properties, as bluetoothd reads them when it is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvProps {
    /// `Type`: "broadcast" (non-connectable, non-scannable).
    pub kind: &'static str,
    /// `Data`: AD type → AD data.
    pub data: DataMap,
    /// `MinInterval` and `MaxInterval`, in milliseconds.
    pub interval_ms: u32,
}

/// The advertisement that carries one mesh PDU, advertised every `interval`.
pub fn props(data: DataMap, interval: Duration) -> AdvProps {
    AdvProps {
        kind: "broadcast",
        data,
        interval_ms: u32::try_from(interval.as_millis()).unwrap_or(u32::MAX),
    }
}

/// Registers and unregisters advertisements on one adapter.
pub struct Advertiser {
    conn: Arc<SyncConnection>,
    cr: Arc<Mutex<Crossroads>>,
    token: IfaceToken<AdvProps>,
    adapter_path: String,
    next: u64,
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertiser")
            .field("adapter_path", &self.adapter_path)
            .field("next", &self.next)
            .finish()
    }
}

impl Advertiser {
    /// Serves advertisement objects on `conn` for the adapter at `adapter_path`.
    pub fn new(conn: Arc<SyncConnection>, adapter_path: &str) -> Advertiser {
        let mut cr = Crossroads::new();
        let token = cr.register(ADVERTISEMENT_IFACE, |b| {
            b.property("Type")
                .get(|_, a: &mut AdvProps| Ok(a.kind.to_string()));
            b.property("Data").get(|_, a: &mut AdvProps| {
                Ok(a.data
                    .iter()
                    .map(|(t, d)| (*t, Variant(d.clone())))
                    .collect::<HashMap<u8, Variant<Vec<u8>>>>())
            });
            b.property("MinInterval")
                .get(|_, a: &mut AdvProps| Ok(a.interval_ms));
            b.property("MaxInterval")
                .get(|_, a: &mut AdvProps| Ok(a.interval_ms));
            // bluetoothd calls Release when it drops the advertisement by itself (the adapter
            // powered off); the radio learns that from the adapter's own signals.
            b.method("Release", (), (), |_, _: &mut AdvProps, ()| Ok(()));
        });
        let cr = Arc::new(Mutex::new(cr));
        let serve = cr.clone();
        let prefix = format!("{PATH_PREFIX}/");
        let mut calls = MatchRule::new_method_call();
        calls.path = dbus::Path::new(PATH_PREFIX).ok();
        calls.path_is_namespace = true;
        conn.start_receive(
            calls,
            Box::new(move |msg, conn| {
                let ours = msg.path().is_some_and(|p| p.starts_with(&prefix));
                if ours {
                    if let Ok(mut cr) = serve.lock() {
                        let _ = cr.handle_message(msg, conn);
                    }
                }
                true
            }),
        );
        Advertiser {
            conn,
            cr,
            token,
            adapter_path: adapter_path.to_string(),
            next: 0,
        }
    }

    /// Exports an advertisement of `props` and registers it; its path. On failure the object
    /// is withdrawn and the error is bluetoothd's.
    pub async fn register(&mut self, props: AdvProps) -> Result<dbus::Path<'static>, String> {
        self.next += 1;
        let path = dbus::Path::new(format!("{PATH_PREFIX}/{}", self.next))
            .map_err(|e| format!("object path: {e}"))?;
        if let Ok(mut cr) = self.cr.lock() {
            cr.insert(path.clone(), &[self.token], props);
        }
        let r: Result<(), dbus::Error> = self
            .manager()
            .method_call(
                ADV_MANAGER_IFACE,
                "RegisterAdvertisement",
                (path.clone(), HashMap::<String, Variant<String>>::new()),
            )
            .await;
        match r {
            Ok(()) => Ok(path),
            Err(e) => {
                self.withdraw(&path);
                Err(format!(
                    "{}: {}",
                    e.name().unwrap_or("error"),
                    e.message().unwrap_or("")
                ))
            }
        }
    }

    /// Unregisters the advertisement at `path`, waits for bluetoothd's answer, and withdraws
    /// the object.
    pub async fn unregister(&self, path: dbus::Path<'static>) -> Result<(), String> {
        let r: Result<(), dbus::Error> = self
            .manager()
            .method_call(
                ADV_MANAGER_IFACE,
                "UnregisterAdvertisement",
                (path.clone(),),
            )
            .await;
        self.withdraw(&path);
        r.map_err(|e| {
            format!(
                "{}: {}",
                e.name().unwrap_or("error"),
                e.message().unwrap_or("")
            )
        })
    }

    fn withdraw(&self, path: &dbus::Path<'static>) {
        if let Ok(mut cr) = self.cr.lock() {
            let _: Option<AdvProps> = cr.remove(path);
        }
    }

    fn manager(&self) -> Proxy<'_, Arc<SyncConnection>> {
        Proxy::new(
            super::bus::BLUEZ,
            self.adapter_path.clone(),
            CALL_TIMEOUT,
            self.conn.clone(),
        )
    }
}
