//! `weft radios` as a process, on fake sysfs, /dev and /proc trees (`WEFT_SYSFS_ROOT`,
//! `WEFT_DEV_ROOT`, `WEFT_PROC_ROOT`) and a private `XDG_RUNTIME_DIR`: three Nordic dongles
//! (a Zephyr HCI controller, an OpenThread RCP, the 802.15.4 sniffer), a Bluetooth adapter that
//! rfkill holds down, garbage where attributes should be, nothing at all, and a live
//! `weft sim serve` that registers itself while it serves.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod procs;

use procs::{scratch, wait_for, weft, Killed};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A USB device at `devices/.../usb1/PORT` with these attributes, and its interface 1.0.
fn usb_device(sys: &Path, port: &str, attrs: &[(&str, &str)]) -> PathBuf {
    let dev = sys.join("devices/pci0000:00/0000:00:14.0/usb1").join(port);
    for (name, value) in attrs {
        write(&dev.join(name), &format!("{value}\n"));
    }
    let iface = dev.join(format!("{port}:1.0"));
    std::fs::create_dir_all(&iface).unwrap();
    iface
}

/// A tty of a USB interface, as the kernel links it: `class/tty/NAME/device` to the interface.
fn tty(sys: &Path, name: &str, device: &Path) {
    let class = sys.join("class/tty").join(name);
    std::fs::create_dir_all(&class).unwrap();
    symlink(device, class.join("device")).unwrap();
}

/// The roots of a fake host: `sys`, `dev`, `proc`, `run`.
struct Fake {
    root: PathBuf,
}

impl Fake {
    fn new(name: &str) -> Fake {
        let root = scratch("radios", name);
        for d in ["sys/class/tty", "sys/class/bluetooth", "dev", "proc", "run"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Fake { root }
    }
    fn sys(&self) -> PathBuf {
        self.root.join("sys")
    }
    fn path(&self, p: &str) -> String {
        self.root.join(p).display().to_string()
    }
    /// `weft radios ARGS` on this host: exit code, stdout.
    fn radios(&self, args: &[&str]) -> (i32, String) {
        let out = weft()
            .arg("radios")
            .args(args)
            .env("WEFT_SYSFS_ROOT", self.root.join("sys"))
            .env("WEFT_DEV_ROOT", self.root.join("dev"))
            .env("WEFT_PROC_ROOT", self.root.join("proc"))
            .env("XDG_RUNTIME_DIR", self.root.join("run"))
            // No system bus: the host's bluetoothd stays out of the fake tree.
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent/weft-test-bus",
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{stderr}");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
        )
    }
    fn json(&self) -> Vec<Value> {
        let (code, out) = self.radios(&["--json"]);
        assert_eq!(code, 0);
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn three_dongles_and_an_adapter_are_told_apart_with_the_radio_to_use() {
    let f = Fake::new("dongles");
    let sys = f.sys();
    let hci = usb_device(
        &sys,
        "1-1",
        &[
            ("idVendor", "2fe3"),
            ("idProduct", "0100"),
            ("manufacturer", "ZEPHYR"),
            ("product", "Zephyr HCI UART sample"),
            ("serial", "9F2A31C0"),
        ],
    );
    tty(&sys, "ttyACM0", &hci);
    let rcp = usb_device(
        &sys,
        "1-2",
        &[
            ("idVendor", "1915"),
            ("idProduct", "cafe"),
            ("manufacturer", "Nordic Semiconductor"),
            ("product", "nRF528xx OpenThread Device"),
            ("serial", "F54FE6398B9E"),
        ],
    );
    tty(&sys, "ttyACM1", &rcp);
    let sniffer = usb_device(
        &sys,
        "1-3",
        &[
            ("idVendor", "1915"),
            ("idProduct", "154b"),
            ("manufacturer", "Nordic Semiconductor ASA"),
            ("product", "nRF 802154 Sniffer"),
        ],
    );
    tty(&sys, "ttyACM2", &sniffer);
    // The platform's own UART: no USB device above it, not listed.
    let platform = sys.join("devices/platform/serial8250");
    std::fs::create_dir_all(&platform).unwrap();
    tty(&sys, "ttyS0", &platform);
    // udev's stable name for the HCI dongle.
    let by_id = f.root.join("dev/serial/by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    let hci_id = "usb-ZEPHYR_Zephyr_HCI_UART_sample_9F2A31C0-if00";
    symlink("../../ttyACM0", by_id.join(hci_id)).unwrap();
    // hci0: a USB adapter, its rfkill switch soft blocked; bluetoothd runs.
    let adapter = usb_device(&sys, "1-4", &[("idVendor", "8087"), ("idProduct", "0029")]);
    let hci0 = sys.join("class/bluetooth/hci0");
    std::fs::create_dir_all(&hci0).unwrap();
    symlink(&adapter, hci0.join("device")).unwrap();
    write(&hci0.join("rfkill3/state"), "0\n");
    // A connection entry is not an adapter.
    std::fs::create_dir_all(sys.join("class/bluetooth/hci0:12")).unwrap();
    write(&f.root.join("proc/1/comm"), "systemd\n");
    write(&f.root.join("proc/812/comm"), "bluetoothd\n");
    write(&f.root.join("proc/self-not-a-pid/comm"), "bluetoothd\n");

    let by_id_path = f.path(&format!("dev/serial/by-id/{hci_id}"));
    let expected = vec![
        json!({
            "kind": "serial",
            "device": f.path("dev/ttyACM0"),
            "by_id": by_id_path,
            "usb_port": "1-1",
            "vid": "2fe3",
            "pid": "0100",
            "manufacturer": "ZEPHYR",
            "product": "Zephyr HCI UART sample",
            "serial": "9F2A31C0",
            "looks_like": "hci",
            "note": "a Zephyr device with Zephyr's default USB IDs, as its hci_uart sample (Bluetooth HCI over USB CDC ACM) has them",
            "radio": format!("hci:{by_id_path}"),
        }),
        json!({
            "kind": "serial",
            "device": f.path("dev/ttyACM1"),
            "by_id": null,
            "usb_port": "1-2",
            "vid": "1915",
            "pid": "cafe",
            "manufacturer": "Nordic Semiconductor",
            "product": "nRF528xx OpenThread Device",
            "serial": "F54FE6398B9E",
            "looks_like": "openthread",
            "note": "OpenThread on an nRF52840 (\"nRF528xx OpenThread Device\"): an RCP image speaks Spinel; a CLI or NCP image has the same IDs",
            "radio": format!("spinel:{}", f.path("dev/ttyACM1")),
        }),
        json!({
            "kind": "serial",
            "device": f.path("dev/ttyACM2"),
            "by_id": null,
            "usb_port": "1-3",
            "vid": "1915",
            "pid": "154b",
            "manufacturer": "Nordic Semiconductor ASA",
            "product": "nRF 802154 Sniffer",
            "serial": null,
            "looks_like": "nrf802154-sniffer",
            "note": "Nordic's nRF Sniffer for 802.15.4 firmware",
            "radio": format!("nrf154:{}", f.path("dev/ttyACM2")),
        }),
        json!({
            "kind": "hci",
            "name": "hci0",
            "state": "down",
            "rfkill": "soft-blocked",
            "bus": "usb",
            "address": null,
            "vid": "8087",
            "pid": "0029",
            "bluetoothd": true,
            "note": "rfkill blocks it: `rfkill unblock bluetooth` first",
            "radio": "hci-user:hci0",
        }),
    ];
    assert_eq!(f.json(), expected);
    // Every radio suggested is one weft parses (exit 2 would be a usage error).
    for v in &expected {
        let uri = v["radio"].as_str().unwrap();
        let out = weft()
            .args([
                "capture",
                "--seconds",
                "0.1",
                "--out",
                "/dev/null",
                "--radio",
                uri,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{uri}");
    }
    // For people: the radio to use first on each line.
    let (code, text) = f.radios(&[]);
    assert_eq!(code, 0);
    let firsts: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let radios: Vec<&str> = expected
        .iter()
        .map(|v| v["radio"].as_str().unwrap())
        .collect();
    assert_eq!(firsts, radios, "{text}");
}

#[test]
fn garbage_in_sysfs_is_unknown_never_a_failure() {
    let f = Fake::new("garbage");
    let sys = f.sys();
    let (long, huge) = ("x".repeat(300), "7".repeat(10_000));
    let dev = usb_device(
        &sys,
        "2-1",
        &[
            ("idVendor", "zz\u{0}15"),
            // More than a sysfs page: not read at all.
            ("idProduct", &huge),
            ("manufacturer", "\u{1b}[31mred\u{7}"),
            ("product", &long),
        ],
    );
    // A FIFO where the serial number should be: refused without blocking.
    let status = std::process::Command::new("mkfifo")
        .arg(sys.join("devices/pci0000:00/0000:00:14.0/usb1/2-1/serial"))
        .status()
        .unwrap();
    assert!(status.success());
    tty(&sys, "ttyACM5", &dev);
    // A tty whose device link leads nowhere, and one whose link leaves the tree.
    tty(&sys, "ttyACM6", &sys.join("devices/gone"));
    tty(&sys, "ttyUSB9", Path::new("/"));
    // An adapter with nonsense in its attributes; no /proc to read.
    let hci7 = sys.join("class/bluetooth/hci7");
    write(&hci7.join("rfkill0/state"), "banana");
    write(&hci7.join("address"), "not an address");
    std::fs::remove_dir_all(f.root.join("proc")).unwrap();
    assert_eq!(
        f.json(),
        vec![
            json!({
                "kind": "serial",
                "device": f.path("dev/ttyACM5"),
                "by_id": null,
                "usb_port": "2-1",
                "vid": null,
                "pid": null,
                "manufacturer": "[31mred",
                "product": "x".repeat(128),
                "serial": null,
                "looks_like": "unknown",
                "note": "a USB serial port weft does not recognise",
                "radio": null,
            }),
            json!({
                "kind": "hci",
                "name": "hci7",
                "state": null,
                "rfkill": null,
                "bus": "virtual",
                "address": null,
                "vid": null,
                "pid": null,
                "bluetoothd": null,
                "note": "taken over through an HCI user channel (needs CAP_NET_ADMIN, and the adapter down)",
                "radio": "hci-user:hci7",
            }),
        ]
    );
}

#[test]
fn nothing_attached_is_an_empty_list_and_exit_0() {
    let f = Fake::new("empty");
    assert_eq!(f.json(), Vec::<Value>::new());
    let (code, text) = f.radios(&[]);
    assert_eq!(code, 0);
    assert!(text.starts_with("no radios"), "{text}");
    // Roots that are not there at all.
    std::fs::remove_dir_all(&f.root).unwrap();
    assert_eq!(f.json(), Vec::<Value>::new());
}

#[test]
fn the_host_as_it_is_lists_without_failing() {
    let out = weft()
        .args(["radios", "--json"])
        .env_remove("WEFT_SYSFS_ROOT")
        .env_remove("WEFT_DEV_ROOT")
        .env_remove("WEFT_PROC_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["kind"].is_string() && v.get("radio").is_some(), "{v}");
    }
}

#[test]
fn a_live_hub_is_listed_while_it_serves() {
    let f = Fake::new("hub");
    let sock = f.root.join("air.sock");
    let mut hub = Killed(
        weft()
            .args(["sim", "serve", "--socket", sock.to_str().unwrap()])
            .args(["--scenario", "smart-home"])
            .env("XDG_RUNTIME_DIR", f.root.join("run"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&sock);
    let pid = hub.0.id();
    // The hub's process is alive in the real /proc; the fake one says nothing of it.
    let listed = || -> Vec<Value> {
        let out = weft()
            .args(["radios", "--json"])
            .env("WEFT_SYSFS_ROOT", f.root.join("sys"))
            .env("WEFT_DEV_ROOT", f.root.join("dev"))
            .env("XDG_RUNTIME_DIR", f.root.join("run"))
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent/weft-test-bus",
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let socket = sock.display().to_string();
    assert_eq!(
        listed(),
        vec![json!({
            "kind": "sim",
            "socket": socket,
            "pid": pid,
            "scenario": "smart-home",
            "note": "the simulated air of weft sim serve",
            "radio": format!("sim:{socket}"),
        })]
    );
    assert_eq!(
        f.json(),
        Vec::<Value>::new(),
        "a process the given /proc does not know"
    );
    let entry = f.root.join(format!("run/weft/hubs/{pid}.json"));
    assert!(entry.exists());
    // A clean stop takes the entry away.
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let t = Instant::now();
    while hub.0.try_wait().unwrap().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the hub did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!entry.exists(), "the entry stays after the hub stopped");
    assert_eq!(listed(), Vec::<Value>::new());
}

/// `weft radios --rig-template` writes a rig file that `weft hil` reads: the dongle found, by
/// its stable by-id path and USB serial number.
#[test]
fn the_rig_template_is_a_rig_file_weft_hil_reads() {
    let f = Fake::new("rig-template");
    let sys = f.sys();
    let hci = usb_device(
        &sys,
        "1-1",
        &[
            ("idVendor", "2fe3"),
            ("idProduct", "0100"),
            ("manufacturer", "ZEPHYR"),
            ("product", "Zephyr HCI UART sample"),
            ("serial", "9F2A31C0"),
        ],
    );
    tty(&sys, "ttyACM0", &hci);
    std::fs::write(f.root.join("dev/ttyACM0"), "").unwrap();
    let (code, out) = f.radios(&["--rig-template"]);
    assert_eq!(code, 0);
    assert!(out.contains("usb_serial = \"9F2A31C0\""), "{out}");
    let rig = f.root.join("rig.toml");
    std::fs::write(&rig, &out).unwrap();
    let run = weft()
        .args(["hil", "list", "--json", "--rig", rig.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{out}",
        String::from_utf8_lossy(&run.stderr)
    );
    let listed = String::from_utf8(run.stdout).unwrap();
    assert!(
        listed.contains("\"reason\":\"needs 2 ble radios, the rig"),
        "{listed}"
    );
}
