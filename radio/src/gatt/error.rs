//! btleplug's errors as weft's: one sentence that starts with the link's name (`gatt:ADDRESS`)
//! and says what to do. A peripheral or adapter that is not there, a link that went down, a
//! permission bluetoothd refused: [`RadioError::Unavailable`] (exit 3); what the peripheral
//! cannot do: [`RadioError::Unsupported`].

use std::time::Duration;

use crate::RadioError;

/// What went wrong, in weft's terms, before it is a [`RadioError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFault {
    /// No Bluetooth adapter (no bluetoothd, or none plugged in).
    NoAdapter(String),
    /// The peripheral was not seen advertising within the time given.
    NotSeen(Duration),
    /// Connecting or discovering failed or timed out.
    Connect(String),
    /// The peripheral's GATT database lacks what the service needs.
    NoService(String),
    /// The link went down.
    Disconnected,
    /// bluetoothd refused (policy, pairing).
    Permission,
    /// An ATT value longer than the link's MTU allows.
    TooLong { len: usize, max: usize },
    /// Anything else btleplug said.
    Other(String),
}

/// btleplug's `e` as a [`LinkFault`].
pub fn fault_of(e: &btleplug::Error) -> LinkFault {
    use btleplug::Error as E;
    match e {
        E::NoAdapterAvailable => LinkFault::NoAdapter(e.to_string()),
        E::DeviceNotFound => LinkFault::Connect("the peripheral is gone".into()),
        E::NotConnected => LinkFault::Disconnected,
        E::PermissionDenied => LinkFault::Permission,
        E::TimedOut(d) => LinkFault::Connect(format!("timed out after {d:?}")),
        E::NoSuchCharacteristic | E::UnexpectedCharacteristic => {
            LinkFault::NoService(e.to_string())
        }
        E::NotSupported(s) => LinkFault::Other(format!("not supported: {s}")),
        other => LinkFault::Other(other.to_string()),
    }
}

/// The error the link `name` gives for `fault`.
pub fn link_error(name: &str, fault: &LinkFault) -> RadioError {
    let u = |m: String| RadioError::Unavailable(format!("{name}: {m}"));
    match fault {
        LinkFault::NoAdapter(why) => u(format!(
            "no Bluetooth adapter ({why}); is bluetoothd running and an adapter powered \
             (`bluetoothctl show`)?"
        )),
        LinkFault::NotSeen(d) => u(format!(
            "not seen advertising within {} s; is it in range, and advertising the service \
             (a node advertises its proxy only while it has the Proxy feature on)?",
            d.as_secs()
        )),
        LinkFault::Connect(why) => u(format!("cannot connect ({why}); try again nearer to it")),
        LinkFault::NoService(why) => RadioError::Unsupported(format!(
            "{name}: the peripheral's GATT database cannot carry mesh ({why})"
        )),
        LinkFault::Disconnected => u("the GATT link went down".into()),
        LinkFault::Permission => u(
            "bluetoothd refused (permission denied); is the user allowed to use Bluetooth \
             (the `bluetooth` group)?"
                .into(),
        ),
        LinkFault::TooLong { len, max } => RadioError::Unsupported(format!(
            "{name}: an ATT value of {len} octets, the link carries at most {max} (ATT_MTU - 3)"
        )),
        LinkFault::Other(why) => u(why.clone()),
    }
}
