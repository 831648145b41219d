//! A BlueZ that nobody here wrote: python-dbusmock's `bluez5` template on a private
//! `dbus-daemon`, for the tests of the `bluez:` radio (radio/tests/bluez_mock.rs).
//!
//! The venv is `$WEFT_DBUSMOCK_VENV`, else `dbusmock-venv` in the build's target directory;
//! `.ci/run` makes it (`/usr/bin/python3 -m venv --system-site-packages DIR` for Debian's
//! `python3-dbus`, then `pip install python-dbusmock==0.38.1`). Without it, or without
//! `dbus-daemon`, the tests skip, and fail instead under `CI=1`.
//!
//! Shared by `bluez_mock.rs` and `gatt_mock.rs`, each of which uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dbus::arg::{PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::Channel;

/// The python-dbusmock release the fixture is written against.
pub const DBUSMOCK_VERSION: &str = "0.38.1";

/// The arguments of one call, as the mock logged them.
type Args = Vec<Variant<Box<dyn RefArg>>>;

const MOCK_IFACE: &str = "org.freedesktop.DBus.Mock";
const CALL: Duration = Duration::from_secs(5);

/// True when the environment says this is CI (`CI=1` or `CI=true`): nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Where the venv is looked for.
pub fn venv_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("WEFT_DBUSMOCK_VENV") {
        return PathBuf::from(dir);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target =
        var("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), |t| workspace.join(t));
    target.join("dbusmock-venv")
}

/// The venv's Python when it holds python-dbusmock [`DBUSMOCK_VERSION`] and `dbus-daemon`
/// runs; otherwise why not.
pub fn python() -> Result<PathBuf, String> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if !python.exists() {
        return Err(format!(
            "no python-dbusmock venv at {} (set WEFT_DBUSMOCK_VENV, or run .ci/run to make one)",
            venv.display()
        ));
    }
    let dist_info = format!("python_dbusmock-{DBUSMOCK_VERSION}.dist-info");
    let found = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|lib| lib.path().join("site-packages").join(&dist_info).is_dir());
    if !found {
        return Err(format!(
            "the venv at {} lacks python-dbusmock=={DBUSMOCK_VERSION}",
            venv.display()
        ));
    }
    if Command::new("dbus-daemon")
        .arg("--version")
        .output()
        .is_err()
    {
        return Err("no dbus-daemon (Debian package `dbus-daemon`)".into());
    }
    Ok(python)
}

/// The Python to run the mock with, or `None` (after saying why) when the test is to be
/// skipped; panics instead under `CI=1`.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    match python() {
        Ok(p) => Some(p),
        Err(why) if in_ci() => panic!("{test}: {why}; CI=1 does not skip the BlueZ mock"),
        Err(why) => {
            eprintln!("skipped: {test}: {why}");
            None
        }
    }
}

/// A private bus, and the mock on it when started.
///
/// libdbus reads `DBUS_SYSTEM_BUS_ADDRESS` once per process and keeps it, so a test binary has
/// one bus, [`MockBus::shared`], and its tests take turns on it, each with a mock of its own.
/// The daemon runs under `sh`, which ends it (and removes its socket's folder) when this
/// process's end closes the pipe to it.
pub struct MockBus {
    /// The bus address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
    _daemon: (Child, std::process::ChildStdin),
    mock: Option<Child>,
    conn: Connection,
}

static SHARED: Mutex<Option<MockBus>> = Mutex::new(None);

impl MockBus {
    /// The process's bus, started on first use, with `DBUS_SYSTEM_BUS_ADDRESS` pointing at it;
    /// held until the guard drops.
    pub fn shared() -> MappedGuard {
        let mut g = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            let bus = MockBus::start();
            std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", &bus.address);
            *g = Some(bus);
        }
        MappedGuard(g)
    }

    fn start() -> MockBus {
        let dir = std::env::temp_dir().join(format!("weft-dbusmock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let listen = format!("unix:path={}", dir.join("bus").display());
        let script = r#"dbus-daemon --session --nofork --print-address=1 --address="$1" 2>/dev/null &
pid=$!
read -r _ || true
kill "$pid" 2>/dev/null
rm -rf "$2""#;
        let mut daemon = Command::new("sh")
            .args(["-c", script, "sh", &listen])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts dbus-daemon");
        let stdin = daemon.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon printed {line:?}");
        let mut ch = Channel::open_private(&address).expect("the private bus answers");
        ch.register().unwrap();
        MockBus {
            address,
            _daemon: (daemon, stdin),
            mock: None,
            conn: Connection::from(ch),
        }
    }

    /// Starts `python -m dbusmock --system --template bluez5` (with template `parameters`, a
    /// JSON object) on the bus and waits until it owns `org.bluez`.
    pub fn start_bluez(&mut self, python: &Path, parameters: &str) {
        self.kill_mock();
        let mock = Command::new(python)
            .args(["-m", "dbusmock", "--system", "--template", "bluez5"])
            .args(["--parameters", parameters])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the mock starts");
        self.mock = Some(mock);
        let until = Instant::now() + Duration::from_secs(30);
        while !self.bluez_present() {
            assert!(Instant::now() < until, "the mock never took org.bluez");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ends the mock (bluetoothd "crashing") and waits until `org.bluez` has no owner.
    pub fn kill_mock(&mut self) {
        if let Some(mut m) = self.mock.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
        let until = Instant::now() + Duration::from_secs(10);
        while self.bluez_present() {
            assert!(Instant::now() < until, "org.bluez outlived the mock");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn bluez_present(&self) -> bool {
        let p = self
            .conn
            .with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", CALL);
        let r: Result<(bool,), _> =
            p.method_call("org.freedesktop.DBus", "NameHasOwner", ("org.bluez",));
        r.is_ok_and(|(b,)| b)
    }

    /// `org.bluez.Mock.AddAdapter(name, system_name)`: the adapter's object path.
    pub fn add_adapter(&self, name: &str) -> String {
        let p = self.conn.with_proxy("org.bluez", "/", CALL);
        let (path,): (String,) = p
            .method_call("org.bluez.Mock", "AddAdapter", (name, "weft-test"))
            .unwrap();
        path
    }

    /// `org.bluez.Mock.AddDevice(adapter, address, alias)`: the device's object path.
    pub fn add_device(&self, adapter: &str, address: &str) -> String {
        let p = self.conn.with_proxy("org.bluez", "/", CALL);
        let (path,): (String,) = p
            .method_call("org.bluez.Mock", "AddDevice", (adapter, address, "node"))
            .unwrap();
        path
    }

    /// `org.freedesktop.DBus.Mock.UpdateProperties(iface, props)` on `path`: sets them and
    /// emits `PropertiesChanged`, as bluetoothd does.
    pub fn update(&self, path: &str, iface: &str, props: PropMap) {
        let p = self.conn.with_proxy("org.bluez", path, CALL);
        let () = p
            .method_call(MOCK_IFACE, "UpdateProperties", (iface, props))
            .unwrap();
    }

    /// A method of the template's `org.bluez.Mock` interface (`ConnectDevice`,
    /// `DisconnectDevice`, `RemoveAdapter`, ...).
    pub fn mock_call<A: dbus::arg::AppendAll>(&self, method: &str, args: A) {
        let p = self.conn.with_proxy("org.bluez", "/", CALL);
        let () = p.method_call("org.bluez.Mock", method, args).unwrap();
    }

    /// `org.freedesktop.DBus.Mock.AddMethod` on the object at `path`: `code` (Python, with
    /// `args` and `dbus`) answers `iface.name` from now on.
    pub fn add_method(&self, path: &str, iface: &str, name: &str, sig: (&str, &str), code: &str) {
        let p = self.conn.with_proxy("org.bluez", path, CALL);
        let () = p
            .method_call(MOCK_IFACE, "AddMethod", (iface, name, sig.0, sig.1, code))
            .unwrap();
    }

    /// `org.freedesktop.DBus.Mock.AddObject` on the mock's root: any object bluetoothd would
    /// have (the template has no GATT objects), with `methods` as (name, in, out, Python code).
    pub fn add_object(&self, path: &str, iface: &str, props: PropMap, methods: &[(&str, &str)]) {
        let p = self.conn.with_proxy("org.bluez", "/", CALL);
        let methods: Vec<(String, String, String, String)> = methods
            .iter()
            .map(|(name, sig)| {
                (
                    name.to_string(),
                    sig.to_string(),
                    String::new(),
                    String::new(),
                )
            })
            .collect();
        let () = p
            .method_call(MOCK_IFACE, "AddObject", (path, iface, props, methods))
            .unwrap();
    }

    /// Sets a device's `AdvertisingData` (AD type → bytes) and `RSSI`, as bluetoothd does
    /// when it hears an advertisement.
    pub fn hear(&self, device: &str, data: &[(u8, &[u8])], rssi: i16) {
        let map: HashMap<u8, Variant<Vec<u8>>> = data
            .iter()
            .map(|(t, d)| (*t, Variant(d.to_vec())))
            .collect();
        let mut props = PropMap::new();
        props.insert("AdvertisingData".into(), Variant(Box::new(map)));
        props.insert("RSSI".into(), Variant(Box::new(rssi)));
        self.update(device, "org.bluez.Device1", props);
    }

    /// The arguments of each call of `method` the mock object at `path` received, oldest first.
    pub fn calls(&self, path: &str, method: &str) -> Vec<Vec<Box<dyn RefArg>>> {
        let p = self.conn.with_proxy("org.bluez", path, CALL);
        let (calls,): (Vec<(u64, Args)>,) = p
            .method_call(MOCK_IFACE, "GetMethodCalls", (method,))
            .unwrap();
        calls
            .into_iter()
            .map(|(_, args)| args.into_iter().map(|v| v.0).collect())
            .collect()
    }

    /// The methods the mock object at `path` was called with, in the order it received them.
    pub fn method_order(&self, path: &str) -> Vec<String> {
        let p = self.conn.with_proxy("org.bluez", path, CALL);
        let (calls,): (Vec<(u64, String, Args)>,) =
            p.method_call(MOCK_IFACE, "GetCalls", ()).unwrap();
        calls.into_iter().map(|(_, m, _)| m).collect()
    }

    /// Waits until the object at `path` has received `n` calls of `method`; their arguments.
    pub fn wait_calls(&self, path: &str, method: &str, n: usize) -> Vec<Vec<Box<dyn RefArg>>> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let c = self.calls(path, method);
            if c.len() >= n {
                return c;
            }
            assert!(
                Instant::now() < until,
                "{method} on {path}: {} calls, not {n}",
                c.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A property of the mock object at `path`.
    pub fn property(&self, path: &str, iface: &str, name: &str) -> Box<dyn RefArg> {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        let p = self.conn.with_proxy("org.bluez", path, CALL);
        p.get::<Box<dyn RefArg>>(iface, name).unwrap()
    }

    /// The properties of `iface` of the object at `path` exported by whichever connection
    /// exports it (the mock records only the path weft registers, not who registered it).
    pub fn exported(&self, path: &str, iface: &str) -> Option<PropMap> {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        let p = self
            .conn
            .with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", CALL);
        let (names,): (Vec<String>,) = p
            .method_call("org.freedesktop.DBus", "ListNames", ())
            .unwrap();
        names.iter().filter(|n| n.starts_with(':')).find_map(|n| {
            let p = self
                .conn
                .with_proxy(n.as_str(), path, Duration::from_millis(500));
            p.get_all(iface).ok()
        })
    }
}

/// The shared bus, held; the mock ends when it is let go (the bus stays for the next test).
pub struct MappedGuard(MutexGuard<'static, Option<MockBus>>);

impl Drop for MappedGuard {
    fn drop(&mut self) {
        if let Some(mut m) = self.0.as_mut().and_then(|b| b.mock.take()) {
            let _ = m.kill();
            let _ = m.wait();
        }
    }
}

impl std::ops::Deref for MappedGuard {
    type Target = MockBus;
    fn deref(&self) -> &MockBus {
        self.0.as_ref().expect("started")
    }
}

impl std::ops::DerefMut for MappedGuard {
    fn deref_mut(&mut self) -> &mut MockBus {
        self.0.as_mut().expect("started")
    }
}
