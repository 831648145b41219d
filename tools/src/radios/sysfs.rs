//! What the kernel shows of attached radios in sysfs: USB serial ports
//! (`/sys/class/tty/*/device`, up to the USB device's `idVendor`, `idProduct`, `manufacturer`,
//! `product`, `serial`; their `/dev/serial/by-id` names) and Bluetooth adapters
//! (`/sys/class/bluetooth/hciN`: the bus and USB IDs of the device behind them, the rfkill
//! switch, and the `address` older kernels show). Everything read is untrusted: a missing,
//! unreadable or garbled attribute is an unknown, never an error.

use std::fs;
use std::path::{Path, PathBuf};

use crate::files::{self, Kind};

/// A sysfs attribute: a page at most.
const ATTR: Kind = Kind {
    what: "sysfs attribute",
    limit: 4096,
    fix: "",
};

/// The longest text kept from an attribute (a USB string descriptor holds at most 126
/// characters).
const MAX_TEXT: usize = 128;

/// How many directories up from a tty's device its USB device may be (the interface, then the
/// device; usb-serial adapters put the tty one level further down).
const USB_DEPTH: usize = 4;

/// An attribute as text: trimmed, control characters dropped, at most [`MAX_TEXT`]
/// characters; `None` when absent, unreadable, not a regular file or empty.
pub fn attr(dir: &Path, name: &str) -> Option<String> {
    let bytes = files::read(&dir.join(name), ATTR).ok()?;
    let s: String = String::from_utf8_lossy(&bytes)
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect();
    (!s.is_empty()).then_some(s)
}

/// A 16-bit USB ID attribute: exactly four hex digits.
fn id16(dir: &Path, name: &str) -> Option<u16> {
    let s = attr(dir, name)?;
    (s.len() == 4 && s.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| u16::from_str_radix(&s, 16).ok())
        .flatten()
}

/// The names in `dir`, sorted; none when it cannot be read.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

/// A USB device as sysfs describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usb {
    /// Its port path (`1-1.2`): the name of its sysfs directory.
    pub port: String,
    pub vid: Option<u16>,
    pub pid: Option<u16>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
}

/// The USB device `device` (a sysfs device directory) belongs to: the first directory at or
/// above it, within `sys`, holding an `idVendor`.
fn usb_of(sys: &Path, device: &Path) -> Option<Usb> {
    let sys = fs::canonicalize(sys).ok()?;
    let mut dir = fs::canonicalize(device).ok()?;
    for _ in 0..=USB_DEPTH {
        if !dir.starts_with(&sys) {
            return None;
        }
        if dir.join("idVendor").exists() {
            return Some(Usb {
                port: dir.file_name()?.to_string_lossy().into_owned(),
                vid: id16(&dir, "idVendor"),
                pid: id16(&dir, "idProduct"),
                manufacturer: attr(&dir, "manufacturer"),
                product: attr(&dir, "product"),
                serial: attr(&dir, "serial"),
            });
        }
        dir = dir.parent()?.to_path_buf();
    }
    None
}

/// A serial port on a USB device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPort {
    /// The tty's name (`ttyACM0`).
    pub name: String,
    /// Its device node (`/dev/ttyACM0`).
    pub device: PathBuf,
    /// Its stable name in `/dev/serial/by-id`, when udev made one.
    pub by_id: Option<PathBuf>,
    pub usb: Usb,
}

/// The serial ports of USB devices: ttys whose device has a USB device above it (the
/// platform's own UARTs, `ttyS*`, have none and are left out).
pub fn serial_ports(sys: &Path, dev: &Path) -> Vec<SerialPort> {
    let by_id_dir = dev.join("serial/by-id");
    let by_id: Vec<(String, PathBuf)> = names(&by_id_dir)
        .into_iter()
        .filter_map(|n| {
            let target = fs::read_link(by_id_dir.join(&n)).ok()?;
            let tty = target.file_name()?.to_str()?.to_string();
            Some((tty, by_id_dir.join(n)))
        })
        .collect();
    let class = sys.join("class/tty");
    names(&class)
        .into_iter()
        .filter_map(|name| {
            let usb = usb_of(sys, &class.join(&name).join("device"))?;
            Some(SerialPort {
                device: dev.join(&name),
                by_id: by_id
                    .iter()
                    .find(|(tty, _)| *tty == name)
                    .map(|(_, p)| p.clone()),
                name,
                usb,
            })
        })
        .collect()
}

/// An rfkill switch's state (`state`: 0 soft blocked, 1 unblocked, 2 hard blocked;
/// Documentation/ABI/stable/sysfs-class-rfkill).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfkill {
    Unblocked,
    SoftBlocked,
    HardBlocked,
}

impl Rfkill {
    pub fn as_str(self) -> &'static str {
        match self {
            Rfkill::Unblocked => "unblocked",
            Rfkill::SoftBlocked => "soft-blocked",
            Rfkill::HardBlocked => "hard-blocked",
        }
    }
}

/// A Bluetooth adapter the kernel knows (`hciN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    pub name: String,
    /// `usb`, `uart`, `sdio`, `pci` or `virtual`, as its device shows; `None` when unknown.
    pub bus: Option<&'static str>,
    /// The USB device behind it, if it is one.
    pub usb: Option<Usb>,
    pub rfkill: Option<Rfkill>,
    /// Its address as older kernels show it (`address`), when it reads as one.
    pub address: Option<String>,
}

/// The bus of a device directory, from where it sits in the device tree.
fn bus_of(sys: &Path, device: &Path, usb: bool) -> Option<&'static str> {
    if usb {
        return Some("usb");
    }
    let real = fs::canonicalize(device).ok()?;
    let sys = fs::canonicalize(sys).ok()?;
    let path = real.strip_prefix(&sys).ok()?.to_string_lossy().into_owned();
    if path.contains("/mmc") || path.contains("sdio") {
        Some("sdio")
    } else if path.contains("serial") || path.contains("/tty") {
        Some("uart")
    } else if path.contains("/pci") {
        Some("pci")
    } else {
        None
    }
}

/// An address `AA:BB:CC:DD:EE:FF` (six pairs of hex digits).
fn address(s: String) -> Option<String> {
    let ok = s.len() == 17
        && s.split(':').count() == 6
        && s.split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| s.to_ascii_lowercase())
}

/// The Bluetooth adapters under `sys/class/bluetooth` (its `hciN:M` connection entries are left
/// out).
pub fn adapters(sys: &Path) -> Vec<Adapter> {
    let class = sys.join("class/bluetooth");
    names(&class)
        .into_iter()
        .filter(|n| {
            n.starts_with("hci") && n[3..].chars().all(|c| c.is_ascii_digit()) && n.len() > 3
        })
        .map(|name| {
            let dir = class.join(&name);
            let device = dir.join("device");
            let usb = usb_of(sys, &device);
            let bus = if device.exists() {
                bus_of(sys, &device, usb.is_some())
            } else {
                // No device behind it: hci_vhci and other virtual controllers.
                Some("virtual")
            };
            let rfkill = names(&dir)
                .into_iter()
                .find(|n| n.starts_with("rfkill"))
                .and_then(|r| attr(&dir.join(r), "state"))
                .and_then(|s| match s.as_str() {
                    "0" => Some(Rfkill::SoftBlocked),
                    "1" => Some(Rfkill::Unblocked),
                    "2" => Some(Rfkill::HardBlocked),
                    _ => None,
                });
            Adapter {
                bus,
                usb,
                rfkill,
                address: attr(&dir, "address").and_then(address),
                name,
            }
        })
        .collect()
}

/// Whether a process named `bluetoothd` runs, from `proc/*/comm`; `None` when `proc` cannot be
/// read.
pub fn bluetoothd_runs(proc: &Path) -> Option<bool> {
    let entries = fs::read_dir(proc).ok()?;
    Some(entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
            && attr(&e.path(), "comm").as_deref() == Some("bluetoothd")
    }))
}
