//! The BlueZ radio (`bluez:hciN`): the Mesh advertising bearer through bluetoothd, so that weft
//! runs beside it on an adapter bluetoothd owns (BlueZ's own mesh daemon cannot: it needs the
//! controller to itself).
//!
//! - `mesh.rs`: the mapping, as pure functions: a mesh PDU to the `Data` map of an
//!   advertisement, a device's `AdvertisingData` to a received frame, addresses.
//! - `bus.rs`: what is asked of the bus directly (libdbus through the `dbus` crate): is
//!   bluetoothd there, the adapters and their state, and the signals of advertising data.
//! - `advertise.rs`: the advertisement objects this process exports and registers (dbus-
//!   crossroads), each unregistered with the call awaited.
//! - `radio.rs`: [`BluezRadio`], its tasks, and the discovery session (bluer).
//!
//! Sending: each frame becomes an advertisement of its own (`LEAdvertisingManager1`), of type
//! "broadcast" (non-connectable), `MinInterval` = `MaxInterval` = [`BluezConfig::interval`],
//! registered for [`BluezConfig::hold`] and then unregistered; as many at once as the adapter
//! has instances free (at most [`BluezConfig::max_instances`]) when it offloads advertising to
//! the controller, else one at a time ([`instances`]), the rest waiting in a bounded queue. Receiving: discovery with the filter `Transport` "le", `DuplicateData` true, and
//! each `AdvertisingData` change of a device that holds a mesh AD type becomes an
//! [`crate::RxFrame`] with the device's address and RSSI.
//!
//! A stock bluetoothd since BlueZ 5.50 refuses this: `src/shared/ad.c` (`type_reject_list`)
//! keeps the mesh AD types out of an advertisement's `Data` ("Failed to parse advertisement.")
//! and out of the `AdvertisingData` it reports, for its own mesh daemon. The radio ends at the
//! first such refusal, saying so (`radio::refusal_ends_the_radio`). python-dbusmock's template,
//! which the tests use, enforces none of it. The way to share an adapter with a stock
//! bluetoothd is the kernel's mesh interface (mgmt 1.21, Linux 6.0: Set Mesh Receiver,
//! Transmit Mesh Packet), not done yet. BlueZ takes `MinInterval` and `MaxInterval` only when
//! bluetoothd runs with `--experimental`; otherwise it advertises at its own default interval.

mod advertise;
mod bus;
pub mod mesh;
mod radio;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use bus::{AdapterInfo, Fault};
pub use radio::{adapters, instances, BluezRadio};

/// How a [`BluezRadio`] advertises and queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BluezConfig {
    /// The advertising interval asked for (`MinInterval` and `MaxInterval`): 20 ms, the
    /// shortest a legacy advertisement may have (Core v5.4 Vol 6 Part B §4.4.2.2.1) and the
    /// shortest BlueZ takes.
    pub interval: Duration,
    /// How long each advertisement stays registered before it is unregistered: long enough
    /// for a few advertising events at `interval`, and for one at bluetoothd's default interval
    /// when it ignores `interval`.
    pub hold: Duration,
    /// The most advertisements registered at once (fewer when the adapter has fewer free).
    pub max_instances: u8,
    /// Frames waiting to be advertised; more are dropped and counted.
    pub tx_queue: usize,
    /// Frames heard and not yet taken by `recv`; more are dropped and counted.
    pub rx_queue: usize,
}

impl Default for BluezConfig {
    fn default() -> Self {
        BluezConfig {
            interval: Duration::from_millis(20),
            hold: Duration::from_millis(120),
            max_instances: 4,
            tx_queue: 64,
            rx_queue: 256,
        }
    }
}

/// What a [`BluezRadio`] has seen and done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BluezStats {
    /// Frames handed to `recv`'s queue.
    pub rx_frames: u64,
    /// Device changes without mesh advertising data.
    pub rx_skipped: u64,
    /// Frames dropped because `recv`'s queue was full.
    pub rx_dropped: u64,
    /// Advertisements registered.
    pub tx_frames: u64,
    /// Frames dropped because the send queue was full.
    pub tx_dropped: u64,
    /// Registrations bluetoothd refused.
    pub tx_refused: u64,
}

/// The error [`BluezRadio::open`] gives for `fault` on the radio `uri`: one sentence that starts
/// with the URI and says what to do.
pub fn fault_error(uri: &str, fault: &Fault) -> crate::RadioError {
    let name = uri.strip_prefix("bluez:").unwrap_or(uri);
    let msg = match fault {
        Fault::NoSystemBus(why) => format!(
            "no D-Bus system bus ({why}); start it (`sudo systemctl start dbus`) and bluetoothd, \
             or set DBUS_SYSTEM_BUS_ADDRESS"
        ),
        Fault::NoBluez => "bluetoothd is not running (no org.bluez on the system bus); start it \
             with `sudo systemctl start bluetooth`"
            .to_string(),
        Fault::NoAdapter { have } if have.is_empty() => format!(
            "BlueZ has no adapter {name}, nor any other (plug one in; `bluetoothctl list` shows \
             them)"
        ),
        Fault::NoAdapter { have } => format!(
            "BlueZ has no adapter {name} (it has {}; `bluetoothctl list` shows them)",
            have.join(", ")
        ),
        Fault::PoweredOff => format!(
            "{name} is powered off; power it on with `bluetoothctl power on` (and `rfkill \
             unblock bluetooth` if it is blocked)"
        ),
        Fault::NoAdvertising => format!(
            "{name} has no LE advertising manager in BlueZ (a BR/EDR-only adapter, or LE \
             switched off in /etc/bluetooth/main.conf)"
        ),
        Fault::Call(why) => format!("BlueZ refused: {why}"),
    };
    crate::RadioError::Unavailable(format!("{uri}: {msg}"))
}
