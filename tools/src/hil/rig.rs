//! Rig files: the radios attached to a host (issue 16, item 1), and `--rig sim`, the built-in
//! rig of simulated radios.
//!
//! ```toml
//! name = "bench-1"
//! [[radio]]
//! id = "a"
//! uri = "hci-tcp:127.0.0.1:9001"     # any URI the radio seam accepts (weft_radio::RadioUri)
//! usb_serial = "0123"                # optional: to find it again after a replug
//! by_id = "/dev/serial/by-id/..."    # optional
//! roles = ["provisioner"]            # optional hints: which roles it should take first
//! [radio.fixtures]                   # free-form: a power switch command, a reset GPIO
//! power = "uhubctl -l 1-1 -p 2 -a cycle"
//!
//! [fixtures]                         # free-form, the rig's own
//! link = "echo loss {a}-{b}={loss} > /run/air"   # sets the loss between two radios (ids)
//! ```

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use weft_radio::RadioUri;

use super::scenario::RoleKind;
use super::source::{Located, Source};

/// The kinds of radio a role needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RadioKind {
    /// A Bluetooth LE radio carrying the Mesh advertising bearer.
    Ble,
    /// An IEEE 802.15.4 radio (Thread).
    Ieee802154,
}

impl RadioKind {
    /// Its name in lists and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RadioKind::Ble => "ble",
            RadioKind::Ieee802154 => "802.15.4",
        }
    }

    /// The kinds of role a radio of this kind serves.
    pub fn roles(self) -> &'static str {
        match self {
            RadioKind::Ble => "provisioner, node, relay, proxy",
            RadioKind::Ieee802154 => "thread-router, thread-child",
        }
    }

    /// The kind of radio a URI opens.
    pub fn of(uri: &RadioUri) -> RadioKind {
        match uri {
            RadioUri::Spinel { .. } | RadioUri::Nrf154 { .. } | RadioUri::OtSim { .. } => {
                RadioKind::Ieee802154
            }
            _ => RadioKind::Ble,
        }
    }
}

/// One radio of a rig.
#[derive(Debug, Clone, PartialEq)]
pub struct RigRadio {
    /// Its id, unique in the rig.
    pub id: String,
    /// The URI as written (`sim` for the built-in rig's radios).
    pub uri: String,
    /// What kind of radio it is.
    pub kind: RadioKind,
    /// The USB serial number, to find it again after a replug.
    pub usb_serial: Option<String>,
    /// A stable /dev/serial/by-id path.
    pub by_id: Option<String>,
    /// Role hints: roles of these kinds take this radio first.
    pub roles: Vec<RoleKind>,
    /// Free-form fixtures (a power switch command, a reset GPIO).
    pub fixtures: toml::Table,
}

/// A rig: the built-in simulated one or a file's.
#[derive(Debug, Clone, PartialEq)]
pub struct Rig {
    /// Its name.
    pub name: String,
    /// The file it came from; `None` for `--rig sim`.
    pub file: Option<String>,
    /// Its radios, in the file's order.
    pub radios: Vec<RigRadio>,
    /// Free-form fixtures of the whole rig (`link`: a command that sets the loss between two
    /// of its radios).
    pub fixtures: toml::Table,
}

/// Radios of each kind in the built-in simulated rig: more than any scenario needs.
pub const SIM_RADIOS: usize = 32;

impl Rig {
    /// `--rig sim`: simulated radios of every kind, in the process (virtual time).
    pub fn sim() -> Rig {
        let mut radios = Vec::new();
        for kind in [RadioKind::Ble, RadioKind::Ieee802154] {
            for i in 0..SIM_RADIOS {
                radios.push(RigRadio {
                    id: format!("sim-{}-{}", kind.as_str(), i + 1),
                    uri: "sim".into(),
                    kind,
                    usb_serial: None,
                    by_id: None,
                    roles: Vec::new(),
                    fixtures: toml::Table::new(),
                });
            }
        }
        Rig {
            name: "sim".into(),
            file: None,
            radios,
            fixtures: toml::Table::new(),
        }
    }

    /// Whether this is the built-in simulated rig.
    pub fn is_sim(&self) -> bool {
        self.file.is_none()
    }

    /// Reads and checks a rig file.
    pub fn load(path: &Path) -> Result<Rig, Located> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Located {
            file: file.clone(),
            line: 1,
            field: String::new(),
            message: format!("cannot read the rig file: {e}"),
        })?;
        Rig::parse(&file, &text)
    }

    /// Parses and checks a rig file's text.
    pub fn parse(file: &str, text: &str) -> Result<Rig, Located> {
        let src = Source { file, text };
        let raw: RawRig = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        if raw.radio.is_empty() {
            return Err(Located {
                file: file.into(),
                line: 1,
                field: "radio".into(),
                message: "the rig has no [[radio]]: add one table per radio, with its id and uri"
                    .into(),
            });
        }
        let mut radios: Vec<RigRadio> = Vec::new();
        let mut seen: Vec<(String, usize)> = Vec::new();
        for r in raw.radio {
            let id = r.id.get_ref().trim().to_string();
            if id.is_empty() {
                return Err(src.at(r.id.span(), "id", "empty id: give each radio a name"));
            }
            if let Some((_, line)) = seen.iter().find(|(s, _)| *s == id) {
                return Err(src.at(
                    r.id.span(),
                    "id",
                    format!("duplicate id '{id}' (first at line {line}): give each radio its own"),
                ));
            }
            seen.push((id.clone(), src.line_of(r.id.span().start)));
            let uri = RadioUri::parse(r.uri.get_ref())
                .map_err(|e| src.at(r.uri.span(), "uri", format!("'{}': {e}", r.uri.get_ref())))?;
            let mut roles = Vec::new();
            for h in r.roles.get_ref() {
                match RoleKind::parse(h) {
                    Some(k) => roles.push(k),
                    None => {
                        return Err(src.at(
                            r.roles.span(),
                            "roles",
                            format!("unknown role '{h}' (known: {})", RoleKind::NAMES.join(", ")),
                        ))
                    }
                }
            }
            radios.push(RigRadio {
                id,
                uri: r.uri.get_ref().clone(),
                kind: RadioKind::of(&uri),
                usb_serial: r.usb_serial,
                by_id: r.by_id,
                roles,
                fixtures: r.fixtures,
            });
        }
        Ok(Rig {
            name: raw.name,
            file: Some(file.into()),
            radios,
            fixtures: raw.fixtures,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRig {
    name: String,
    #[serde(default)]
    radio: Vec<RawRadio>,
    #[serde(default)]
    fixtures: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRadio {
    id: Spanned<String>,
    uri: Spanned<String>,
    usb_serial: Option<String>,
    by_id: Option<String>,
    #[serde(default = "no_roles")]
    roles: Spanned<Vec<String>>,
    #[serde(default)]
    fixtures: toml::Table,
}

fn no_roles() -> Spanned<Vec<String>> {
    Spanned::new(0..0, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"bench-1\"\n[[radio]]\nid = \"a\"\nuri = \"hci-tcp:127.0.0.1:9001\"\nroles = [\"provisioner\"]\n[radio.fixtures]\npower = \"true\"\n[[radio]]\nid = \"b\"\nuri = \"spinel:/dev/ttyACM0\"\n";

    #[test]
    fn a_good_rig() {
        let r = Rig::parse("r.toml", GOOD).unwrap();
        assert_eq!(r.name, "bench-1");
        assert_eq!(r.radios.len(), 2);
        assert_eq!(r.radios[0].kind, RadioKind::Ble);
        assert_eq!(r.radios[0].roles, vec![RoleKind::Provisioner]);
        assert_eq!(r.radios[0].fixtures["power"].as_str(), Some("true"));
        assert_eq!(r.radios[1].kind, RadioKind::Ieee802154);
    }

    #[test]
    fn bad_rigs_name_file_line_and_field() {
        let e = Rig::parse("r.toml", "name = \"x\"\n[[radio]]\nid = \"a\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "uri"), "{e}");
        let dup = "name = \"x\"\n[[radio]]\nid = \"a\"\nuri = \"hci-user:hci0\"\n[[radio]]\nid = \"a\"\nuri = \"hci-user:hci1\"\n";
        let e = Rig::parse("r.toml", dup).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (6, "id"), "{e}");
        assert!(
            e.message.contains("duplicate id 'a' (first at line 3)"),
            "{e}"
        );
        let scheme = "name = \"x\"\n[[radio]]\nid = \"a\"\nuri = \"zigbee:/dev/x\"\n";
        let e = Rig::parse("r.toml", scheme).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "uri"), "{e}");
        assert!(
            e.to_string()
                .starts_with("r.toml:4: field `uri`: 'zigbee:/dev/x'"),
            "{e}"
        );
        let e = Rig::parse("r.toml", "name = \"x\"\n").unwrap_err();
        assert_eq!(e.field, "radio");
    }
}
