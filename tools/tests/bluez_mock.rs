//! `weft` on a BlueZ nobody here wrote (python-dbusmock's `bluez5` template on a private bus,
//! `radio/tests/support/dbusmock.rs`), as a user runs it: `weft radios` lists the adapter
//! bluetoothd has, and `weft capture --radio bluez:hci0` writes the mesh PDU a device was
//! heard sending. Skips without the venv, fails under `CI=1`.
#![cfg(feature = "bluez")]

#[path = "../../radio/tests/support/dbusmock.rs"]
mod dbusmock;

use std::process::{Command, Stdio};
use std::time::Duration;

use dbusmock::{python_or_skip, MockBus};
use serde_json::Value;

fn weft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weft"))
}

#[test]
fn weft_radios_lists_the_adapters_bluetoothd_has() {
    let Some(python) = python_or_skip("weft_radios_lists_the_adapters_bluetoothd_has") else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, "{}");
    bus.add_adapter("hci3");
    let root = tempfile::tempdir().unwrap();
    let out = weft()
        .args(["radios", "--json"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .env("WEFT_SYSFS_ROOT", root.path().join("sys"))
        .env("WEFT_DEV_ROOT", root.path().join("dev"))
        .env("WEFT_PROC_ROOT", root.path().join("proc"))
        .env("XDG_RUNTIME_DIR", root.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let a = &lines[0];
    assert_eq!(a["kind"], "bluez");
    assert_eq!(a["radio"], "bluez:hci3");
    assert_eq!(a["bluez"]["address"], "03:04:05:06:07:08");
    assert_eq!(a["bluez"]["powered"], true);
    assert_eq!(a["bluez"]["le_advertising"], true);
}

#[test]
fn weft_capture_on_bluez_writes_what_bluetoothd_heard() {
    let Some(python) = python_or_skip("weft_capture_on_bluez_writes_what_bluetoothd_heard") else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, "{}");
    let adapter = bus.add_adapter("hci0");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("air.pcapng");
    let child = weft()
        .args([
            "capture",
            "--radio",
            "bluez:hci0",
            "--seconds",
            "3",
            "--json",
            "--out",
        ])
        .arg(&pcap)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The radio is open once discovery started.
    bus.wait_calls(&adapter, "StartDiscovery", 1);
    let dev = bus.add_device("hci0", "C6:05:04:03:02:01");
    std::thread::sleep(Duration::from_millis(100));
    bus.hear(&dev, &[(0x2a, &[0x68, 0x11, 0x22, 0x33])], -55);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let frames: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v.get("rssi").is_some())
        .collect();
    assert_eq!(frames.len(), 1, "{frames:?} {err}");
    let f = &frames[0];
    assert_eq!(f["rssi"], -55, "{f}");
    assert_eq!(
        f["adv_address"].as_str().map(str::to_lowercase).as_deref(),
        Some("c6:05:04:03:02:01"),
        "{f}"
    );
    assert_eq!(f["ad_type"], "0x2a", "{f}");
    assert_eq!(f["length"], 6, "length, type and four octets: {f}");
    assert!(f.get("skipped").is_none(), "{f}");
    assert!(std::fs::metadata(&pcap).unwrap().len() > 0);
}
