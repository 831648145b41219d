//! Radio URIs: how every command names a radio (`--radio`), parsed in one place.
//!
//! A URI is `KIND:WHERE`, and for some kinds `?KEY=VALUE&KEY=VALUE` after it:
//!
//! | URI | the radio |
//! |---|---|
//! | `sim:PATH` | the live simulated air of `weft sim serve --socket PATH` |
//! | `hci:DEVICE[?baud=N&rtscts=0\|1]` | an HCI controller on a serial port (H4 UART) |
//! | `hci-tcp:HOST:PORT` | an HCI controller behind a TCP socket (H4 framing) |
//! | `hci-unix:PATH` | an HCI controller behind a Unix socket (H4 framing) |
//! | `hci-user:hciN` | a kernel controller taken over through an HCI user channel |
//! | `bluez:hciN` | a controller shared through BlueZ (D-Bus) |
//! | `gatt:ADDRESS[?service=proxy\|provisioning]` | a Mesh node reached over GATT, by its device address |
//! | `spinel:DEVICE[?baud=N&channel=C]` | an IEEE 802.15.4 radio speaking Spinel (OpenThread RCP) |
//! | `nrf154:DEVICE[?channel=C]` | the nRF 802.15.4 sniffer firmware on a serial port |
//! | `otsim:NODE_ID[?port_offset=N]` | a node of the OpenThread simulation |
//!
//! Parsing checks everything a URI says (numbers, ranges, option names, address forms), so a
//! backend gets typed fields and a user gets one sentence naming the part that is wrong, with
//! an example of the right form. [`RadioUri`]'s `Display` writes the URI back in the form
//! parsing reads.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;

use weft_mesh::GattService;

/// A radio named by a URI. See the module documentation for the forms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RadioUri {
    /// `sim:PATH`: the socket of the live simulated air.
    Sim { path: PathBuf },
    /// `hci:DEVICE[?baud=N&rtscts=0|1]`: a serial HCI controller; what is not given is the
    /// backend's default.
    Hci {
        device: PathBuf,
        baud: Option<u32>,
        /// RTS/CTS hardware flow control.
        rtscts: Option<bool>,
    },
    /// `hci-tcp:HOST:PORT`: HOST is a name, an IPv4 address or an IPv6 address (written in
    /// brackets in the URI, kept without them here).
    HciTcp { host: String, port: u16 },
    /// `hci-unix:PATH`.
    HciUnix { path: PathBuf },
    /// `hci-user:hciN`: the kernel's controller index N.
    HciUser { index: u16 },
    /// `bluez:hciN`: the kernel's controller index N.
    Bluez { index: u16 },
    /// `gatt:AA:BB:CC:DD:EE:FF[?service=proxy|provisioning]`: the device address, least
    /// significant octet first as on the air (so `gatt:C0:11:22:33:44:55` is
    /// `[0x55, 0x44, 0x33, 0x22, 0x11, 0xC0]`), and the service to connect to when the command
    /// does not say (the Mesh Proxy Service 0x1828 or the Mesh Provisioning Service 0x1827,
    /// MshPRT v1.1 §7.2, §7.1).
    Gatt {
        address: [u8; 6],
        service: Option<GattService>,
    },
    /// `spinel:DEVICE[?baud=N&channel=C]`: C is the 802.15.4 channel to listen on (11..=26,
    /// IEEE 802.15.4-2015 §10.1.3.3, the 2.4 GHz O-QPSK channels Thread uses).
    Spinel {
        device: PathBuf,
        baud: Option<u32>,
        channel: Option<u8>,
    },
    /// `nrf154:DEVICE[?channel=C]`.
    Nrf154 {
        device: PathBuf,
        channel: Option<u8>,
    },
    /// `otsim:NODE_ID[?port_offset=N]`: OpenThread simulation node ids start at 1.
    OtSim {
        node_id: u16,
        port_offset: Option<u16>,
    },
}

/// The kinds, in the order errors list them.
pub const KINDS: [&str; 10] = [
    "sim", "hci", "hci-tcp", "hci-unix", "hci-user", "bluez", "gatt", "spinel", "nrf154", "otsim",
];

/// A URI that does not name a radio: the URI, what is wrong with it, and an example of the
/// right form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("radio '{uri}': {problem}; for example {example}")]
pub struct UriError {
    pub uri: String,
    pub problem: String,
    pub example: &'static str,
}

/// An example of each kind, for errors.
fn example(kind: &str) -> &'static str {
    match kind {
        "hci" => "hci:/dev/ttyACM0?baud=1000000&rtscts=1",
        "hci-tcp" => "hci-tcp:192.168.1.20:8888 or hci-tcp:[::1]:8888",
        "hci-unix" => "hci-unix:/run/hci.sock",
        "hci-user" => "hci-user:hci0",
        "bluez" => "bluez:hci0",
        "gatt" => "gatt:C0:11:22:33:44:55?service=proxy",
        "spinel" => "spinel:/dev/ttyACM0?baud=460800&channel=15",
        "nrf154" => "nrf154:/dev/ttyACM0?channel=15",
        "otsim" => "otsim:1?port_offset=0",
        _ => "sim:/tmp/air.sock",
    }
}

impl RadioUri {
    /// Parses a radio URI.
    pub fn parse(s: &str) -> Result<RadioUri, UriError> {
        let err = |kind: &str, problem: String| UriError {
            uri: s.to_string(),
            problem,
            example: example(kind),
        };
        if s.chars().any(char::is_control) {
            return Err(err("", "it contains a control character".into()));
        }
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(err(
                "",
                format!(
                    "a radio is KIND:WHERE, with KIND one of {}",
                    KINDS.join(", ")
                ),
            ));
        };
        if !KINDS.contains(&kind) {
            return Err(err(
                "",
                format!(
                    "unknown radio kind '{kind}' (the kinds are {})",
                    KINDS.join(", ")
                ),
            ));
        }
        let (place, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut q = Query::parse(kind, query).map_err(|p| err(kind, p))?;
        let uri = parse_kind(kind, place, &mut q).map_err(|p| err(kind, p))?;
        q.finish(kind).map_err(|p| err(kind, p))?;
        Ok(uri)
    }

    /// The kind: the part before the first colon.
    pub fn kind(&self) -> &'static str {
        match self {
            RadioUri::Sim { .. } => "sim",
            RadioUri::Hci { .. } => "hci",
            RadioUri::HciTcp { .. } => "hci-tcp",
            RadioUri::HciUnix { .. } => "hci-unix",
            RadioUri::HciUser { .. } => "hci-user",
            RadioUri::Bluez { .. } => "bluez",
            RadioUri::Gatt { .. } => "gatt",
            RadioUri::Spinel { .. } => "spinel",
            RadioUri::Nrf154 { .. } => "nrf154",
            RadioUri::OtSim { .. } => "otsim",
        }
    }
}

impl FromStr for RadioUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RadioUri::parse(s)
    }
}

/// The WHERE part of `kind`, with the options it takes from `q`.
fn parse_kind(kind: &str, place: &str, q: &mut Query<'_>) -> Result<RadioUri, String> {
    Ok(match kind {
        "sim" => RadioUri::Sim {
            path: path(place, "the path of the simulated air's socket")?,
        },
        "hci" => {
            if index_of(place).is_ok() {
                return Err(format!(
                    "'{place}' is a kernel controller, and hci: takes a serial device; use \
                     bluez:{place} or hci-user:{place} for a kernel controller"
                ));
            }
            RadioUri::Hci {
                device: path(place, "a serial device")?,
                baud: q.take("baud").map(baud).transpose()?,
                rtscts: q.take("rtscts").map(flag).transpose()?,
            }
        }
        "hci-tcp" => {
            let (host, port) = host_port(place)?;
            RadioUri::HciTcp { host, port }
        }
        "hci-unix" => RadioUri::HciUnix {
            path: path(place, "the path of a Unix socket")?,
        },
        "hci-user" => RadioUri::HciUser {
            index: index_of(place)?,
        },
        "bluez" => RadioUri::Bluez {
            index: index_of(place)?,
        },
        "gatt" => RadioUri::Gatt {
            address: bd_addr(place)?,
            service: q.take("service").map(gatt_service).transpose()?,
        },
        "spinel" => RadioUri::Spinel {
            device: path(place, "a serial device")?,
            baud: q.take("baud").map(baud).transpose()?,
            channel: q.take("channel").map(channel).transpose()?,
        },
        "nrf154" => RadioUri::Nrf154 {
            device: path(place, "a serial device")?,
            channel: q.take("channel").map(channel).transpose()?,
        },
        _ => RadioUri::OtSim {
            node_id: node_id(place)?,
            port_offset: q.take("port_offset").map(port_offset).transpose()?,
        },
    })
}

/// The options each kind takes.
fn options_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "hci" => &["baud", "rtscts"],
        "gatt" => &["service"],
        "spinel" => &["baud", "channel"],
        "nrf154" => &["channel"],
        "otsim" => &["port_offset"],
        _ => &[],
    }
}

/// The `KEY=VALUE` options after `?`, checked against what the kind takes.
struct Query<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Query<'a> {
    fn parse(kind: &str, query: Option<&'a str>) -> Result<Query<'a>, String> {
        let allowed = options_of(kind);
        let Some(query) = query else {
            return Ok(Query { pairs: Vec::new() });
        };
        if allowed.is_empty() {
            return Err(format!("{kind}: takes no options (nothing after '?')"));
        }
        let takes = format!("{kind}: takes {}", allowed.join(" and "));
        if query.is_empty() {
            return Err(format!("nothing follows '?' ({takes})"));
        }
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for pair in query.split('&') {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(format!(
                    "option '{pair}' has no value: write KEY=VALUE ({takes})"
                ));
            };
            if !allowed.contains(&k) {
                return Err(format!("unknown option '{k}' ({takes})"));
            }
            if v.is_empty() {
                return Err(format!("option '{k}' has an empty value"));
            }
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(format!("option '{k}' is given twice"));
            }
            pairs.push((k, v));
        }
        Ok(Query { pairs })
    }

    /// The value of `key`, if given.
    fn take(&mut self, key: &str) -> Option<&'a str> {
        let i = self.pairs.iter().position(|(k, _)| *k == key)?;
        Some(self.pairs.remove(i).1)
    }

    /// Every option was used (a kind's parser takes each one it knows).
    fn finish(self, kind: &str) -> Result<(), String> {
        match self.pairs.first() {
            Some((k, _)) => Err(format!("{kind}: does not use option '{k}'")),
            None => Ok(()),
        }
    }
}

fn path(place: &str, what: &str) -> Result<PathBuf, String> {
    if place.is_empty() {
        Err(format!("missing {what} after the colon"))
    } else {
        Ok(PathBuf::from(place))
    }
}

/// A decimal number: ASCII digits only (no sign, no spaces), at most `max`.
fn decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

fn baud(v: &str) -> Result<u32, String> {
    decimal(v, u64::from(u32::MAX))
        .filter(|&b| b > 0)
        .map(|b| b as u32)
        .ok_or_else(|| {
            format!(
                "baud '{v}' is not a rate: give bits per second, a whole number from 1 to {}",
                u32::MAX
            )
        })
}

fn flag(v: &str) -> Result<bool, String> {
    match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("rtscts '{v}' is neither 0 (off) nor 1 (on)")),
    }
}

/// An IEEE 802.15.4 channel of the 2.4 GHz O-QPSK PHY: 11..=26 (IEEE 802.15.4-2015
/// §10.1.3.3).
fn channel(v: &str) -> Result<u8, String> {
    decimal(v, 26)
        .filter(|&c| c >= 11)
        .map(|c| c as u8)
        .ok_or_else(|| {
            format!("channel '{v}' is not an IEEE 802.15.4 channel of the 2.4 GHz band: 11 to 26")
        })
}

/// A Mesh GATT service by its name in a URI.
fn gatt_service(v: &str) -> Result<GattService, String> {
    match v {
        "proxy" => Ok(GattService::Proxy),
        "provisioning" => Ok(GattService::Provisioning),
        _ => Err(format!(
            "service '{v}' is neither proxy (the Mesh Proxy Service) nor provisioning (the \
             Mesh Provisioning Service)"
        )),
    }
}

fn port_offset(v: &str) -> Result<u16, String> {
    decimal(v, u64::from(u16::MAX))
        .map(|p| p as u16)
        .ok_or_else(|| {
            format!(
                "port_offset '{v}' is not a whole number from 0 to {}",
                u16::MAX
            )
        })
}

fn node_id(v: &str) -> Result<u16, String> {
    decimal(v, u64::from(u16::MAX))
        .filter(|&n| n > 0)
        .map(|n| n as u16)
        .ok_or_else(|| {
            if v.is_empty() {
                "missing the node id after the colon".to_string()
            } else {
                format!("node id '{v}' is not a whole number from 1 to {}", u16::MAX)
            }
        })
}

/// `hciN` → N.
fn index_of(place: &str) -> Result<u16, String> {
    place
        .strip_prefix("hci")
        .and_then(|n| decimal(n, u64::from(u16::MAX)))
        .map(|n| n as u16)
        .ok_or_else(|| {
            if place.is_empty() {
                "missing the controller after the colon: hciN, as `hciconfig` or `btmgmt info` names it".into()
            } else {
                format!("'{place}' is not a controller: write hciN, as `hciconfig` or `btmgmt info` names it")
            }
        })
}

/// `HOST:PORT`, HOST a name, an IPv4 address or a bracketed IPv6 address.
fn host_port(place: &str) -> Result<(String, u16), String> {
    if place.is_empty() {
        return Err("missing HOST:PORT after the colon".into());
    }
    let Some((host, port)) = place.rsplit_once(':') else {
        return Err(format!("missing the port: write hci-tcp:{place}:PORT"));
    };
    let port = decimal(port, u64::from(u16::MAX))
        .filter(|&p| p > 0)
        .map(|p| p as u16)
        .ok_or_else(|| {
            if port.is_empty() {
                format!("missing the port after '{host}:'")
            } else {
                format!("port '{port}' is not a TCP port: a whole number from 1 to 65535")
            }
        })?;
    let host = if let Some(inner) = host.strip_prefix('[') {
        let ip = inner.strip_suffix(']').unwrap_or("");
        ip.parse::<Ipv6Addr>()
            .map_err(|_| format!("'{host}' is not an IPv6 address in brackets"))?;
        ip.to_string()
    } else if host.contains(':') {
        return Err(format!(
            "'{host}' looks like an IPv6 address: write it in brackets, [{host}]:{port}"
        ));
    } else if host.is_empty() {
        return Err(format!("missing the host before ':{port}'"));
    } else if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(format!(
            "host '{host}' is neither a name (letters, digits, '-' and '.') nor an address"
        ));
    } else {
        host.to_string()
    };
    Ok((host, port))
}

/// `AA:BB:CC:DD:EE:FF` (hex digits in either case) → least significant octet first.
fn bd_addr(place: &str) -> Result<[u8; 6], String> {
    let bad = || {
        if place.is_empty() {
            "missing the device address after the colon".to_string()
        } else {
            format!("'{place}' is not a device address: six two-digit hex octets, most significant first, separated by ':'")
        }
    };
    let mut out = [0u8; 6];
    let mut parts = place.split(':');
    for i in (0..6).rev() {
        let p = parts.next().ok_or_else(bad)?;
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        out[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

impl fmt::Display for RadioUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.kind())?;
        let mut opts: Vec<(&str, String)> = Vec::new();
        match self {
            RadioUri::Sim { path } | RadioUri::HciUnix { path } => write!(f, "{}", path.display())?,
            RadioUri::Hci {
                device,
                baud,
                rtscts,
            } => {
                write!(f, "{}", device.display())?;
                opts.extend(baud.map(|b| ("baud", b.to_string())));
                opts.extend(rtscts.map(|r| ("rtscts", u8::from(r).to_string())));
            }
            RadioUri::HciTcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}")?,
            RadioUri::HciTcp { host, port } => write!(f, "{host}:{port}")?,
            RadioUri::HciUser { index } | RadioUri::Bluez { index } => write!(f, "hci{index}")?,
            RadioUri::Gatt {
                address: a,
                service,
            } => {
                write!(
                    f,
                    "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
                    a[5], a[4], a[3], a[2], a[1], a[0]
                )?;
                opts.extend(service.map(|s| {
                    let name = match s {
                        GattService::Proxy => "proxy",
                        GattService::Provisioning => "provisioning",
                    };
                    ("service", name.to_string())
                }));
            }
            RadioUri::Spinel {
                device,
                baud,
                channel,
            } => {
                write!(f, "{}", device.display())?;
                opts.extend(baud.map(|b| ("baud", b.to_string())));
                opts.extend(channel.map(|c| ("channel", c.to_string())));
            }
            RadioUri::Nrf154 { device, channel } => {
                write!(f, "{}", device.display())?;
                opts.extend(channel.map(|c| ("channel", c.to_string())));
            }
            RadioUri::OtSim {
                node_id,
                port_offset,
            } => {
                write!(f, "{node_id}")?;
                opts.extend(port_offset.map(|p| ("port_offset", p.to_string())));
            }
        }
        for (i, (k, v)) in opts.iter().enumerate() {
            write!(f, "{}{k}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
