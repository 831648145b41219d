//! HIL scenarios as data (`hil-tests/scenarios/*.toml`, built into the binary; a path ending
//! in `.toml` loads another): roles, the radios they need, links, steps and assertions.
//!
//! ```toml
//! name = "onoff-across-relays"
//! description = "..."
//! seconds = 60                 # the most time (virtual on the simulator) the steps may take
//! [[role]]
//! name = "prov"
//! kind = "provisioner"         # provisioner, node, relay, proxy, thread-router, thread-child
//! models = ["onoff-client"]    # as `weft sim` scenarios name them
//! unprovisioned = false        # true: a device that a `provision` step adds
//! [[link]]                     # who hears whom on the simulator; a rig's own air elsewhere
//! a = "prov"
//! b = "relay-1"
//! [[step]]
//! do = "send"                  # see steps.rs
//! [[assert]]                   # checked after the steps (see Assertion)
//! role = "light"
//! onoff = true
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::rig::RadioKind;
use super::source::{Located, Source};
use super::steps::{self, Step};

/// The kinds of role a scenario casts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// Provisions and configures (weft's own node with a Configuration Client).
    Provisioner,
    /// A node with models.
    Node,
    /// A node that relays.
    Relay,
    /// A node with the Proxy Server (GATT).
    Proxy,
    /// A Thread router.
    ThreadRouter,
    /// A Thread child.
    ThreadChild,
}

impl RoleKind {
    /// The names a file may use.
    pub const NAMES: &'static [&'static str] = &[
        "provisioner",
        "node",
        "relay",
        "proxy",
        "thread-router",
        "thread-child",
    ];

    /// The kind a name means.
    pub fn parse(s: &str) -> Option<RoleKind> {
        Some(match s {
            "provisioner" => RoleKind::Provisioner,
            "node" => RoleKind::Node,
            "relay" => RoleKind::Relay,
            "proxy" => RoleKind::Proxy,
            "thread-router" => RoleKind::ThreadRouter,
            "thread-child" => RoleKind::ThreadChild,
            _ => return None,
        })
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Provisioner => "provisioner",
            RoleKind::Node => "node",
            RoleKind::Relay => "relay",
            RoleKind::Proxy => "proxy",
            RoleKind::ThreadRouter => "thread-router",
            RoleKind::ThreadChild => "thread-child",
        }
    }

    /// The radio it needs.
    pub fn radio(self) -> RadioKind {
        match self {
            RoleKind::ThreadRouter | RoleKind::ThreadChild => RadioKind::Ieee802154,
            _ => RadioKind::Ble,
        }
    }
}

/// One role of a scenario: one station on one radio.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub kind: RoleKind,
    /// Models of its primary element (`weft sim` names).
    pub models: Vec<String>,
    /// A device a `provision` step adds, rather than a node from the start.
    pub unprovisioned: bool,
    /// Group addresses its server models subscribe to from the start.
    pub subscribe: Vec<u16>,
    /// Default TTL.
    pub ttl: Option<u8>,
}

impl Role {
    /// Whether it relays.
    pub fn relays(&self) -> bool {
        matches!(self.kind, RoleKind::Relay | RoleKind::Proxy)
    }
}

/// A link between two roles on the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub rssi: i8,
    pub loss: f64,
}

/// A condition checked after the steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assertion {
    /// The line of its `[[assert]]`.
    pub line: usize,
    pub role: usize,
    /// Its Generic OnOff state.
    pub onoff: Option<bool>,
    /// Its IV Index.
    pub iv_index: Option<u32>,
    /// Whether it is in IV Update in Progress.
    pub iv_update: Option<bool>,
    /// The Key Refresh phase of its primary subnet.
    pub key_phase: Option<u8>,
    /// Whether it is a node (provisioned and not reset).
    pub provisioned: Option<bool>,
    /// Its relay state.
    pub relay: Option<bool>,
    /// It never sent two PDUs with one sequence number under one IV Index (a Thread role: two
    /// MAC frames with one frame counter under one key sequence, or from two extended
    /// addresses).
    pub seq_unique: Option<bool>,
    /// The number of access messages it received in the whole run.
    pub received: Option<u64>,
    /// Its Thread role now (`router` also takes `leader`).
    pub thread_role: Option<String>,
}

/// A scenario, checked: every role a step names exists.
#[derive(Debug, Clone, PartialEq)]
pub struct HilScenario {
    pub name: String,
    pub description: String,
    /// Where it came from (a file, or `hil-tests/scenarios/NAME.toml` built in).
    pub file: String,
    /// The most seconds the steps may take.
    pub seconds: f64,
    /// Loss probability of every link not given one.
    pub loss: f64,
    pub roles: Vec<Role>,
    pub links: Vec<Link>,
    /// The steps, each with the line of its `do`.
    pub steps: Vec<(usize, Step)>,
    pub asserts: Vec<Assertion>,
}

/// The scenarios built into weft, from `hil-tests/scenarios/`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "provision-no-oob",
        include_str!("../../../hil-tests/scenarios/provision-no-oob.toml"),
    ),
    (
        "provision-static-oob",
        include_str!("../../../hil-tests/scenarios/provision-static-oob.toml"),
    ),
    (
        "provision-output-numeric",
        include_str!("../../../hil-tests/scenarios/provision-output-numeric.toml"),
    ),
    (
        "provision-input-numeric",
        include_str!("../../../hil-tests/scenarios/provision-input-numeric.toml"),
    ),
    (
        "onoff-across-relays",
        include_str!("../../../hil-tests/scenarios/onoff-across-relays.toml"),
    ),
    (
        "relay-around-a-cut-link",
        include_str!("../../../hil-tests/scenarios/relay-around-a-cut-link.toml"),
    ),
    (
        "segmented-at-loss",
        include_str!("../../../hil-tests/scenarios/segmented-at-loss.toml"),
    ),
    (
        "iv-update",
        include_str!("../../../hil-tests/scenarios/iv-update.toml"),
    ),
    (
        "key-refresh",
        include_str!("../../../hil-tests/scenarios/key-refresh.toml"),
    ),
    (
        "heartbeat-hops",
        include_str!("../../../hil-tests/scenarios/heartbeat-hops.toml"),
    ),
    (
        "node-reset",
        include_str!("../../../hil-tests/scenarios/node-reset.toml"),
    ),
    (
        "replay-rejected",
        include_str!("../../../hil-tests/scenarios/replay-rejected.toml"),
    ),
    (
        "kill-restart-no-seq-reuse",
        include_str!("../../../hil-tests/scenarios/kill-restart-no-seq-reuse.toml"),
    ),
    (
        "power-cycle-relay",
        include_str!("../../../hil-tests/scenarios/power-cycle-relay.toml"),
    ),
    (
        "proxy",
        include_str!("../../../hil-tests/scenarios/proxy.toml"),
    ),
    (
        "thread-attach-ping",
        include_str!("../../../hil-tests/scenarios/thread-attach-ping.toml"),
    ),
    (
        "thread-kill-restart",
        include_str!("../../../hil-tests/scenarios/thread-kill-restart.toml"),
    ),
];

impl HilScenario {
    /// A built-in scenario by name, or a file whose name ends in `.toml`.
    pub fn load(name_or_path: &str) -> Result<HilScenario, Located> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return HilScenario::parse(&format!("hil-tests/scenarios/{name}.toml"), text);
        }
        if name_or_path.ends_with(".toml") {
            let text = std::fs::read_to_string(name_or_path).map_err(|e| Located {
                file: name_or_path.into(),
                line: 1,
                field: String::new(),
                message: format!("cannot read the scenario file: {e}"),
            })?;
            return HilScenario::parse(name_or_path, &text);
        }
        Err(Located {
            file: "<command line>".into(),
            line: 1,
            field: "SCENARIO".into(),
            message: format!(
                "no scenario '{name_or_path}': give one of `weft hil list` or a file ending in .toml"
            ),
        })
    }

    /// Every built-in scenario.
    pub fn builtin() -> Vec<HilScenario> {
        BUILTIN
            .iter()
            .map(|(n, _)| HilScenario::load(n).expect("built-in scenarios parse"))
            .collect()
    }

    /// The radios it needs, by kind.
    pub fn needs(&self) -> BTreeMap<RadioKind, usize> {
        let mut m = BTreeMap::new();
        for r in &self.roles {
            *m.entry(r.kind.radio()).or_default() += 1;
        }
        m
    }

    /// The role of a name.
    pub fn role(&self, name: &str) -> Option<usize> {
        self.roles.iter().position(|r| r.name == name)
    }

    /// Parses and checks a scenario's text.
    pub fn parse(file: &str, text: &str) -> Result<HilScenario, Located> {
        let src = Source { file, text };
        let raw: RawScenario = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        if !(raw.seconds > 0.0 && raw.seconds <= 400_000.0) {
            return Err(src.at(0..0, "seconds", "give a limit between 0 and 400000 seconds"));
        }
        if !(0.0..=1.0).contains(&raw.loss) {
            return Err(src.at(0..0, "loss", "give a probability between 0 and 1"));
        }
        let mut roles: Vec<Role> = Vec::new();
        for r in &raw.role {
            let span = r.span();
            let r = r.get_ref();
            let line = src.key_line(span.clone(), "kind");
            let kind = RoleKind::parse(&r.kind).ok_or_else(|| Located {
                file: file.into(),
                line,
                field: "kind".into(),
                message: format!(
                    "unknown role kind '{}' (known: {})",
                    r.kind,
                    RoleKind::NAMES.join(", ")
                ),
            })?;
            if roles.iter().any(|o| o.name == r.name) {
                return Err(src.at(span, "name", format!("two roles are named '{}'", r.name)));
            }
            if let Some(m) = r
                .models
                .iter()
                .find(|m| !crate::scenario::MODEL_NAMES.contains(&m.as_str()))
            {
                return Err(Located {
                    file: file.into(),
                    line: src.key_line(span, "models"),
                    field: "models".into(),
                    message: format!(
                        "unknown model '{m}' (known: {})",
                        crate::scenario::MODEL_NAMES.join(", ")
                    ),
                });
            }
            let subscribe = r
                .subscribe
                .iter()
                .map(|g| crate::scenario::parse_group(g))
                .collect::<Result<Vec<u16>, String>>()
                .map_err(|e| Located {
                    file: file.into(),
                    line: src.key_line(span.clone(), "subscribe"),
                    field: "subscribe".into(),
                    message: e,
                })?;
            let mut models = r.models.clone();
            if kind == RoleKind::Provisioner && !models.iter().any(|m| m == "config-client") {
                models.insert(0, "config-client".into());
            }
            roles.push(Role {
                name: r.name.clone(),
                kind,
                models,
                unprovisioned: r.unprovisioned,
                subscribe,
                ttl: r.ttl,
            });
        }
        if roles.is_empty() {
            return Err(src.at(0..0, "role", "the scenario has no [[role]]"));
        }
        let provisioners = roles
            .iter()
            .filter(|r| r.kind == RoleKind::Provisioner)
            .count();
        if provisioners > 1 {
            return Err(src.at(0..0, "role", "more than one provisioner: keep one"));
        }
        let find = |name: &str, span: std::ops::Range<usize>, field: &str| {
            roles
                .iter()
                .position(|r| r.name == name)
                .ok_or_else(|| Located {
                    file: file.into(),
                    line: src.key_line(span, field),
                    field: field.into(),
                    message: format!("no role named '{name}'"),
                })
        };
        let mut links = Vec::new();
        for l in &raw.link {
            let span = l.span();
            let v = l.get_ref();
            let a = find(&v.a, span.clone(), "a")?;
            let b = find(&v.b, span.clone(), "b")?;
            let loss = v.loss.unwrap_or(raw.loss);
            if !(0.0..=1.0).contains(&loss) {
                return Err(src.at(span, "loss", "give a probability between 0 and 1"));
            }
            links.push(Link {
                a,
                b,
                rssi: v.rssi,
                loss,
            });
        }
        let names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
        let mut steps_out = Vec::new();
        for (i, s) in raw.step.iter().enumerate() {
            let span = s.span();
            let line = src.key_line(span.clone(), "do");
            let step = steps::parse(s.get_ref(), &names).map_err(|(field, message)| {
                let line = if field == "do" {
                    line
                } else {
                    src.key_line(span.clone(), &field)
                };
                Located {
                    file: file.into(),
                    line,
                    field,
                    message: format!("step {}: {message}", i + 1),
                }
            })?;
            let kind = |r: usize| roles[r].kind;
            let misfit = match &step {
                Step::Attach { role, .. } if kind(*role).radio() != RadioKind::Ieee802154 => {
                    Some(("role", *role, "a Thread role (thread-router, thread-child)"))
                }
                Step::Ping { from, to, .. } => [("from", *from), ("to", *to)]
                    .into_iter()
                    .find(|&(_, r)| kind(r).radio() != RadioKind::Ieee802154)
                    .map(|(f, r)| (f, r, "a Thread role (thread-router, thread-child)")),
                Step::Send { proxy: Some(p), .. } if kind(*p) != RoleKind::Proxy => {
                    Some(("proxy", *p, "a role of kind proxy"))
                }
                _ => None,
            };
            if let Some((field, r, want)) = misfit {
                return Err(Located {
                    file: file.into(),
                    line: src.key_line(span.clone(), field),
                    field: field.into(),
                    message: format!(
                        "step {}: {} is a {}, not {want}",
                        i + 1,
                        roles[r].name,
                        roles[r].kind.as_str()
                    ),
                });
            }
            steps_out.push((line, step));
        }
        let mut asserts = Vec::new();
        for a in &raw.assert {
            let span = a.span();
            let v = a.get_ref();
            if let Some(t) = v
                .thread_role
                .as_ref()
                .filter(|t| !steps::THREAD_ROLES.contains(&t.as_str()))
            {
                return Err(src.at(
                    span,
                    "thread_role",
                    format!(
                        "unknown Thread role '{t}' (known: {})",
                        steps::THREAD_ROLES.join(", ")
                    ),
                ));
            }
            asserts.push(Assertion {
                line: src.line_of(span.start),
                role: find(&v.role, span, "role")?,
                onoff: v.onoff,
                iv_index: v.iv_index,
                iv_update: v.iv_update,
                key_phase: v.key_phase,
                provisioned: v.provisioned,
                relay: v.relay,
                seq_unique: v.seq_unique,
                received: v.received,
                thread_role: v.thread_role.clone(),
            });
        }
        Ok(HilScenario {
            name: raw.name,
            description: raw.description,
            file: file.into(),
            seconds: raw.seconds,
            loss: raw.loss,
            roles,
            links,
            steps: steps_out,
            asserts,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seconds")]
    seconds: f64,
    #[serde(default)]
    loss: f64,
    #[serde(default)]
    role: Vec<Spanned<RawRole>>,
    #[serde(default)]
    link: Vec<Spanned<RawLink>>,
    #[serde(default)]
    step: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    assert: Vec<Spanned<RawAssert>>,
}

fn default_seconds() -> f64 {
    120.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: String,
    kind: String,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    unprovisioned: bool,
    #[serde(default)]
    subscribe: Vec<String>,
    ttl: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    a: String,
    b: String,
    #[serde(default = "default_rssi")]
    rssi: i8,
    loss: Option<f64>,
}

fn default_rssi() -> i8 {
    -60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssert {
    role: String,
    onoff: Option<bool>,
    iv_index: Option<u32>,
    iv_update: Option<bool>,
    key_phase: Option<u8>,
    provisioned: Option<bool>,
    relay: Option<bool>,
    seq_unique: Option<bool>,
    received: Option<u64>,
    thread_role: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_casts_at_least_twelve() {
        let all = HilScenario::builtin();
        assert!(all.len() >= 12);
        for s in &all {
            assert!(!s.steps.is_empty(), "{}", s.name);
            assert_eq!(s.file, format!("hil-tests/scenarios/{}.toml", s.name));
        }
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let base = "name = \"t\"\n[[role]]\nname = \"a\"\nkind = \"node\"\n";
        let e =
            HilScenario::parse("t.toml", &format!("{base}[[step]]\ndo = \"fly\"\n")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (6, "do"), "{e}");
        let e = HilScenario::parse(
            "t.toml",
            &format!("{base}[[step]]\ndo = \"wait\"\nrole = \"a\"\nevent = \"x\"\n"),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (8, "event"), "{e}");
        let e = HilScenario::parse(
            "t.toml",
            &format!("{base}[[step]]\ndo = \"idle\"\nsecond = 3\n"),
        )
        .unwrap_err();
        assert_eq!(e.field, "second", "{e}");
        let e = HilScenario::parse(
            "t.toml",
            "name = \"t\"\n[[role]]\nname = \"a\"\nkind = \"toaster\"\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "kind"), "{e}");
    }
}
