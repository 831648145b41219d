//! `weft radios`: what weft could use as a radio here, each with the `--radio` URI to give it:
//! USB serial ports, told apart by their USB IDs and product strings ([`ids`]: Zephyr HCI
//! controllers, OpenThread RCPs, the nRF 802.15.4 sniffer, a dongle waiting in its
//! bootloader); the kernel's Bluetooth adapters ([`sysfs`]: bus, rfkill, whether bluetoothd
//! runs), with what bluetoothd says of them over the system bus ([`bluez`], when built with the
//! `bluez` feature); and the live simulated airs of `weft sim serve` ([`hubs`]).
//!
//! Where it looks is injectable, so that tests build a fake tree: `WEFT_SYSFS_ROOT` (default
//! `/sys`), `WEFT_DEV_ROOT` (`/dev`), `WEFT_PROC_ROOT` (`/proc`), and `XDG_RUNTIME_DIR` for the
//! hubs' registry.

#[cfg(feature = "bluez")]
pub mod bluez;
pub mod hubs;
pub mod ids;
pub mod proxies;
pub mod sysfs;

use std::io::Write;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::error::Result;
use crate::Exit;

use ids::{classify, suggest};

#[derive(Debug, Clone, clap::Args)]
pub struct RadiosArgs {
    /// One JSON object per radio.
    #[arg(long)]
    pub json: bool,
    /// Print a rig file (`weft hil run --rig FILE`) of the radios found.
    #[arg(long, conflicts_with = "json")]
    pub rig_template: bool,
    /// List instead the nodes `--radio` hears advertising the Mesh Proxy Service (0x1828) or
    /// the Mesh Provisioning Service (0x1827), each with its `gatt:` URI, and the subnet
    /// (Network ID) or node (Node Identity) the network's keys resolve.
    #[arg(long, requires = "radio", conflicts_with = "rig_template")]
    pub proxies: bool,
    /// The radio to listen on with `--proxies` (`sim:PATH`, `hci:...`, `bluez:hciN`).
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio, requires = "proxies")]
    pub radio: Option<String>,
    /// How long `--proxies` listens, in seconds.
    #[arg(long, default_value_t = 3.0, value_parser = crate::args::seconds)]
    pub seconds: f64,
    #[command(flatten)]
    pub store: crate::store::StoreOpts,
}

/// Where the host's radios are described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// sysfs (`/sys`).
    pub sys: PathBuf,
    /// Device nodes (`/dev`).
    pub dev: PathBuf,
    /// procfs (`/proc`).
    pub proc: PathBuf,
    /// The user's runtime directory (`$XDG_RUNTIME_DIR`), where hubs register.
    pub runtime: Option<PathBuf>,
}

impl Roots {
    /// The host's, or what `WEFT_SYSFS_ROOT`, `WEFT_DEV_ROOT`, `WEFT_PROC_ROOT` and
    /// `XDG_RUNTIME_DIR` say.
    pub fn from_env() -> Roots {
        let var = |name: &str, default: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        Roots {
            sys: var("WEFT_SYSFS_ROOT", "/sys"),
            dev: var("WEFT_DEV_ROOT", "/dev"),
            proc: var("WEFT_PROC_ROOT", "/proc"),
            runtime: runtime_dir(),
        }
    }
}

/// `$XDG_RUNTIME_DIR`, when set to an absolute path.
pub fn runtime_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn hex4(v: Option<u16>) -> Option<String> {
    v.map(|v| format!("{v:04x}"))
}

/// Every radio found under `roots`, as the JSON objects `weft radios --json` prints: the live
/// simulated airs, then the serial ports, then the Bluetooth adapters.
pub fn list(roots: &Roots) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(rt) = &roots.runtime {
        for h in hubs::live_hubs(rt, &roots.proc) {
            out.push(json!({
                "kind": "sim",
                "socket": h.socket.display().to_string(),
                "pid": h.pid,
                "scenario": h.scenario,
                "note": "the simulated air of weft sim serve",
                "radio": format!("sim:{}", h.socket.display()),
            }));
        }
    }
    for p in sysfs::serial_ports(&roots.sys, &roots.dev) {
        let u = &p.usb;
        let (looks, note) = classify(u.vid, u.pid, u.product.as_deref());
        let path = p.by_id.as_ref().unwrap_or(&p.device).display().to_string();
        // A name the URI parser would not take (odd characters in a by-id name) falls back
        // to the device node.
        let radio = suggest(looks, &path)
            .filter(|r| crate::runtime::RadioArg::parse(r).is_ok())
            .or_else(|| suggest(looks, &p.device.display().to_string()));
        out.push(json!({
            "kind": "serial",
            "device": p.device.display().to_string(),
            "by_id": p.by_id.as_ref().map(|b| b.display().to_string()),
            "usb_port": u.port,
            "vid": hex4(u.vid),
            "pid": hex4(u.pid),
            "manufacturer": u.manufacturer,
            "product": u.product,
            "serial": u.serial,
            "looks_like": looks.as_str(),
            "note": note,
            "radio": radio,
        }));
    }
    let bluetoothd = sysfs::bluetoothd_runs(&roots.proc);
    for a in sysfs::adapters(&roots.sys) {
        let blocked = matches!(
            a.rfkill,
            Some(sysfs::Rfkill::SoftBlocked | sysfs::Rfkill::HardBlocked)
        );
        let index = &a.name[3..];
        let (radio, note) = if blocked {
            (
                format!("hci-user:hci{index}"),
                "rfkill blocks it: `rfkill unblock bluetooth` first",
            )
        } else if bluetoothd == Some(true) {
            (
                format!("bluez:hci{index}"),
                "bluetoothd runs and manages it: share it through BlueZ, or stop bluetoothd to take it over with hci-user: (needs CAP_NET_ADMIN)",
            )
        } else {
            (
                format!("hci-user:hci{index}"),
                "taken over through an HCI user channel (needs CAP_NET_ADMIN, and the adapter down)",
            )
        };
        out.push(json!({
            "kind": "hci",
            "name": a.name,
            // Up or down is not in sysfs; a blocked radio is down.
            "state": blocked.then_some("down"),
            "rfkill": a.rfkill.map(sysfs::Rfkill::as_str),
            "bus": a.bus,
            "address": a.address,
            "vid": hex4(a.usb.as_ref().and_then(|u| u.vid)),
            "pid": hex4(a.usb.as_ref().and_then(|u| u.pid)),
            "bluetoothd": bluetoothd,
            "note": note,
            "radio": radio,
        }));
    }
    out
}

/// One line for a person: the URI to use (or `-`), then what it is.
fn line(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let radio = v["radio"].as_str().unwrap_or("-");
    let what = match v["kind"].as_str() {
        Some("sim") => match v["scenario"].as_str() {
            Some(sc) => format!("{} (pid {}, scenario {sc})", s("note"), v["pid"]),
            None => format!("{} (pid {})", s("note"), v["pid"]),
        },
        #[cfg(feature = "bluez")]
        Some("bluez") => bluez::line(v),
        Some("serial") => {
            let ids = format!("{}:{}", s("vid"), s("pid"));
            let product = [s("manufacturer"), s("product")]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            format!("{} {ids} {product}: {}", s("device"), s("note"))
        }
        _ => {
            let state = v["state"].as_str().unwrap_or("state unknown");
            format!("{} ({}, {state}): {}", s("name"), s("bus"), s("note"))
        }
    };
    format!("{radio:<40} {what}")
}

pub fn run(a: &RadiosArgs, out: &mut impl Write) -> Result<Exit> {
    if let (true, Some(radio)) = (a.proxies, &a.radio) {
        return proxies::run(radio, a.seconds, &a.store, a.json, out);
    }
    #[allow(unused_mut)]
    let mut radios = list(&Roots::from_env());
    #[cfg(feature = "bluez")]
    if let Some(adapters) = bluez::query() {
        bluez::merge(&mut radios, &adapters);
    }
    if a.rig_template {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        let name = if host.is_empty() { "rig".into() } else { host };
        let _ = write!(
            out,
            "{}",
            crate::hil::template::rig_template(&name, &radios)
        );
        return Ok(Exit::Ok);
    }
    for v in &radios {
        let _ = if a.json {
            writeln!(out, "{v}")
        } else {
            writeln!(out, "{}", line(v))
        };
    }
    if radios.is_empty() && !a.json {
        let _ = writeln!(
            out,
            "no radios: no USB serial ports, no Bluetooth adapters, no weft sim serve running"
        );
    }
    Ok(Exit::Ok)
}
