//! The steps of a HIL scenario: what each `[[step]]` table with `do = "..."` means, checked
//! when the file is read (an unknown step or field, a role that does not exist, a value out of
//! range: one error with the file, line and field).

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::source::field_in;

/// The steps a scenario may name in `do`.
pub const STEP_NAMES: &[&str] = &[
    "provision",
    "configure",
    "send",
    "wait",
    "idle",
    "cut",
    "restore",
    "power-cycle",
    "kill-restart",
    "iv-update",
    "key-refresh",
    "node-reset",
    "replay",
    "attach",
    "ping",
];

/// The events a `wait` step may wait for.
pub const EVENT_NAMES: &[&str] = &[
    "provisioned",
    "provision-failed",
    "config-done",
    "config-failed",
    "onoff",
    "received",
    "heartbeat",
    "iv-index",
    "key-refresh",
    "dropped",
    "sar",
    "node-reset",
    "sent",
    "thread-role",
    "echo-reply",
    "frame-sent",
];

/// The messages a `send` step may send.
pub const MESSAGE_NAMES: &[&str] = &["onoff-set", "onoff-set-unack", "onoff-get", "large"];

/// The OOB classes of provisioning (MshPRT §5.4.2.4) a `provision` step may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oob {
    /// No OOB.
    None,
    /// Static OOB: both sides know a 16-octet value.
    Static,
    /// Output OOB, numeric: the device shows a number that the user types on the provisioner.
    OutputNumeric,
    /// Input OOB, numeric: the provisioner shows a number that the user types on the device.
    InputNumeric,
}

impl Oob {
    /// The names a file may use.
    pub const NAMES: &'static [&'static str] =
        &["none", "static", "output-numeric", "input-numeric"];

    fn parse(s: &str) -> Option<Oob> {
        Some(match s {
            "none" => Oob::None,
            "static" => Oob::Static,
            "output-numeric" => Oob::OutputNumeric,
            "input-numeric" => Oob::InputNumeric,
            _ => return None,
        })
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        Oob::NAMES[self as usize]
    }
}

/// A destination: a role's primary address or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Role(usize),
    Group(u16),
}

/// What a `configure` step sets on a node, one Config request each (MshPRT §4.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigItem {
    /// AppKey Add and Model App Bind of every model, with Model Subscription Add and Model
    /// Publication Set when given (the provisioner's configure plan).
    App {
        subscribe: Option<u16>,
        publish: Option<u16>,
    },
    /// Config Relay Set.
    Relay(bool),
    /// Config Heartbeat Publication Set: to, period (s), TTL.
    HeartbeatPublication { to: Target, period_s: u32, ttl: u8 },
    /// Config Heartbeat Subscription Set: from this role to the node's own address.
    HeartbeatSubscription { from: usize, period_s: u32 },
    /// Config GATT Proxy Set: the node's GATT Proxy state (MshPRT §4.2.11) on or off.
    GattProxy(bool),
}

/// The Thread roles an `attach` step waits for (Thread 1.3 §4.7, §5.9).
pub const THREAD_ROLES: &[&str] = &["child", "router", "leader"];

/// A condition a `wait` step waits for, on the events of one role.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wait {
    pub role: usize,
    pub event: String,
    /// The source role of a received message, a heartbeat or an echo reply (its RLOC).
    pub from: Option<usize>,
    pub on: Option<bool>,
    pub hops: Option<u8>,
    pub reason: Option<String>,
    pub iv_index: Option<u32>,
    pub updating: Option<bool>,
    pub phase: Option<u8>,
    pub complete: Option<bool>,
    /// The message's name (`Generic OnOff Status`, ...).
    pub message: Option<String>,
    /// How many such events (default 1).
    pub count: u32,
    pub within_s: f64,
    /// The event must not happen within `within_s`.
    pub absent: bool,
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Provision {
        by: usize,
        device: usize,
        oob: Oob,
        within_s: f64,
    },
    Configure {
        by: usize,
        node: usize,
        items: Vec<ConfigItem>,
        within_s: f64,
    },
    Send {
        from: usize,
        to: Target,
        message: String,
        on: bool,
        ttl: Option<u8>,
        /// Through this proxy node's GATT connection (MshPRT §6.8), as `weft send --proxy`.
        proxy: Option<usize>,
    },
    Wait(Wait),
    Idle {
        seconds: f64,
    },
    Cut {
        a: usize,
        b: usize,
    },
    Restore {
        a: usize,
        b: usize,
    },
    PowerCycle {
        role: usize,
        off_s: f64,
    },
    KillRestart {
        role: usize,
    },
    IvUpdate {
        role: usize,
    },
    KeyRefresh {
        by: usize,
        nodes: Vec<usize>,
        phase: u8,
        within_s: f64,
    },
    NodeReset {
        by: usize,
        node: usize,
        within_s: f64,
    },
    Replay {
        from: usize,
        to: usize,
    },
    /// A Thread role is attached in this role (`router` also takes `leader`) within the time.
    Attach {
        role: usize,
        thread_role: String,
        within_s: f64,
    },
    /// A Thread role pings another's RLOC (ICMPv6 echo) and the reply arrives within the time.
    Ping {
        from: usize,
        to: usize,
        within_s: f64,
    },
}

impl Step {
    /// Its `do` name.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Provision { .. } => "provision",
            Step::Configure { .. } => "configure",
            Step::Send { .. } => "send",
            Step::Wait(_) => "wait",
            Step::Idle { .. } => "idle",
            Step::Cut { .. } => "cut",
            Step::Restore { .. } => "restore",
            Step::PowerCycle { .. } => "power-cycle",
            Step::KillRestart { .. } => "kill-restart",
            Step::IvUpdate { .. } => "iv-update",
            Step::KeyRefresh { .. } => "key-refresh",
            Step::NodeReset { .. } => "node-reset",
            Step::Replay { .. } => "replay",
            Step::Attach { .. } => "attach",
            Step::Ping { .. } => "ping",
        }
    }
}

/// A field and what is wrong with it.
type Bad = (String, String);

fn bad(field: &str, message: impl Into<String>) -> Bad {
    (field.to_string(), message.into())
}

/// The fields of a step's table, as `T`.
fn fields<T: DeserializeOwned>(t: &toml::Table) -> Result<T, Bad> {
    let mut t = t.clone();
    t.remove("do");
    toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| {
            let m = e.message().trim().to_string();
            (field_in(&m).unwrap_or_default(), m)
        })
}

fn role(names: &[String], field: &str, name: &str) -> Result<usize, Bad> {
    names.iter().position(|n| n == name).ok_or_else(|| {
        bad(
            field,
            format!("no role named '{name}' (roles: {})", names.join(", ")),
        )
    })
}

fn target(names: &[String], field: &str, s: &str) -> Result<Target, Bad> {
    if let Some(i) = names.iter().position(|n| n == s) {
        return Ok(Target::Role(i));
    }
    crate::scenario::parse_group(s)
        .map(Target::Group)
        .map_err(|_| {
            bad(
                field,
                format!(
                    "'{s}' is neither a role ({}) nor a group address (c000..ffff)",
                    names.join(", ")
                ),
            )
        })
}

fn group(field: &str, s: &Option<String>) -> Result<Option<u16>, Bad> {
    s.as_deref()
        .map(|g| crate::scenario::parse_group(g).map_err(|e| bad(field, e)))
        .transpose()
}

fn within(field: &str, v: f64) -> Result<f64, Bad> {
    if v > 0.0 && v <= 400_000.0 {
        Ok(v)
    } else {
        Err(bad(field, "give a duration between 0 and 400000 seconds"))
    }
}

/// Parses one `[[step]]` table; `names` are the scenario's roles.
pub fn parse(t: &toml::Table, names: &[String]) -> Result<Step, Bad> {
    let Some(action) = t.get("do") else {
        return Err(bad(
            "do",
            format!(
                "missing: say what the step does ({})",
                STEP_NAMES.join(", ")
            ),
        ));
    };
    let Some(action) = action.as_str() else {
        return Err(bad("do", "give the step's name as a string"));
    };
    Ok(match action {
        "provision" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct P {
                by: String,
                device: String,
                #[serde(default = "none")]
                oob: String,
                #[serde(default = "thirty")]
                within_s: f64,
            }
            let p: P = fields(t)?;
            Step::Provision {
                by: role(names, "by", &p.by)?,
                device: role(names, "device", &p.device)?,
                oob: Oob::parse(&p.oob).ok_or_else(|| {
                    bad(
                        "oob",
                        format!(
                            "unknown OOB class '{}' (known: {})",
                            p.oob,
                            Oob::NAMES.join(", ")
                        ),
                    )
                })?,
                within_s: within("within_s", p.within_s)?,
            }
        }
        "configure" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct C {
                by: String,
                node: String,
                #[serde(default)]
                app: bool,
                subscribe: Option<String>,
                publish: Option<String>,
                relay: Option<bool>,
                heartbeat_to: Option<String>,
                #[serde(default = "two")]
                heartbeat_period_s: u32,
                #[serde(default = "seven")]
                heartbeat_ttl: u8,
                heartbeat_from: Option<String>,
                gatt_proxy: Option<bool>,
                #[serde(default = "sixty_four")]
                heartbeat_sub_period_s: u32,
                #[serde(default = "thirty")]
                within_s: f64,
            }
            let c: C = fields(t)?;
            let mut items = Vec::new();
            let subscribe = group("subscribe", &c.subscribe)?;
            let publish = group("publish", &c.publish)?;
            if c.app || subscribe.is_some() || publish.is_some() {
                items.push(ConfigItem::App { subscribe, publish });
            }
            if let Some(r) = c.relay {
                items.push(ConfigItem::Relay(r));
            }
            if let Some(p) = c.gatt_proxy {
                items.push(ConfigItem::GattProxy(p));
            }
            if let Some(from) = &c.heartbeat_from {
                items.push(ConfigItem::HeartbeatSubscription {
                    from: role(names, "heartbeat_from", from)?,
                    period_s: c.heartbeat_sub_period_s,
                });
            }
            if let Some(to) = &c.heartbeat_to {
                if c.heartbeat_ttl > 0x7f {
                    return Err(bad(
                        "heartbeat_ttl",
                        "give a TTL of 0..=127 (MshPRT §4.2.17.4)",
                    ));
                }
                items.push(ConfigItem::HeartbeatPublication {
                    to: target(names, "heartbeat_to", to)?,
                    period_s: c.heartbeat_period_s,
                    ttl: c.heartbeat_ttl,
                });
            }
            if items.is_empty() {
                return Err(bad("app", "nothing to configure: give app, subscribe, publish, relay, gatt_proxy, heartbeat_to or heartbeat_from"));
            }
            Step::Configure {
                by: role(names, "by", &c.by)?,
                node: role(names, "node", &c.node)?,
                items,
                within_s: within("within_s", c.within_s)?,
            }
        }
        "send" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct S {
                from: String,
                to: String,
                message: String,
                #[serde(default = "yes")]
                on: bool,
                ttl: Option<u8>,
                proxy: Option<String>,
            }
            let s: S = fields(t)?;
            if !MESSAGE_NAMES.contains(&s.message.as_str()) {
                return Err(bad(
                    "message",
                    format!(
                        "unknown message '{}' (known: {})",
                        s.message,
                        MESSAGE_NAMES.join(", ")
                    ),
                ));
            }
            if s.ttl.is_some_and(|t| t == 1 || t > 0x7f) {
                return Err(bad("ttl", "give a TTL of 0 or 2..=127 (MshPRT §3.4.4.1)"));
            }
            let from = role(names, "from", &s.from)?;
            let proxy = s
                .proxy
                .as_deref()
                .map(|p| role(names, "proxy", p))
                .transpose()?;
            if proxy == Some(from) {
                return Err(bad(
                    "proxy",
                    "a node does not send through itself: name another",
                ));
            }
            Step::Send {
                from,
                to: target(names, "to", &s.to)?,
                message: s.message,
                on: s.on,
                ttl: s.ttl,
                proxy,
            }
        }
        "wait" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct W {
                role: String,
                event: String,
                from: Option<String>,
                on: Option<bool>,
                hops: Option<u8>,
                reason: Option<String>,
                iv_index: Option<u32>,
                updating: Option<bool>,
                phase: Option<u8>,
                complete: Option<bool>,
                message: Option<String>,
                #[serde(default = "one")]
                count: u32,
                #[serde(default = "ten")]
                within_s: f64,
                #[serde(default)]
                absent: bool,
            }
            let w: W = fields(t)?;
            if !EVENT_NAMES.contains(&w.event.as_str()) {
                return Err(bad(
                    "event",
                    format!(
                        "unknown event '{}' (known: {})",
                        w.event,
                        EVENT_NAMES.join(", ")
                    ),
                ));
            }
            if w.count == 0 {
                return Err(bad("count", "give a count of 1 or more (or absent = true)"));
            }
            Step::Wait(Wait {
                role: role(names, "role", &w.role)?,
                event: w.event,
                from: w
                    .from
                    .as_deref()
                    .map(|f| role(names, "from", f))
                    .transpose()?,
                on: w.on,
                hops: w.hops,
                reason: w.reason,
                iv_index: w.iv_index,
                updating: w.updating,
                phase: w.phase,
                complete: w.complete,
                message: w.message,
                count: w.count,
                within_s: within("within_s", w.within_s)?,
                absent: w.absent,
            })
        }
        "idle" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct I {
                seconds: f64,
            }
            let i: I = fields(t)?;
            Step::Idle {
                seconds: within("seconds", i.seconds)?,
            }
        }
        "cut" | "restore" | "replay" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Pair {
                a: Option<String>,
                b: Option<String>,
                from: Option<String>,
                to: Option<String>,
            }
            let p: Pair = fields(t)?;
            let (fa, fb) = if action == "replay" {
                ("from", "to")
            } else {
                ("a", "b")
            };
            let (x, y) = if action == "replay" {
                (p.from, p.to)
            } else {
                (p.a, p.b)
            };
            let x = role(names, fa, &x.ok_or_else(|| bad(fa, "missing"))?)?;
            let y = role(names, fb, &y.ok_or_else(|| bad(fb, "missing"))?)?;
            if x == y {
                return Err(bad(fb, "name two different roles"));
            }
            match action {
                "cut" => Step::Cut { a: x, b: y },
                "restore" => Step::Restore { a: x, b: y },
                _ => Step::Replay { from: x, to: y },
            }
        }
        "power-cycle" | "kill-restart" | "iv-update" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct R {
                role: String,
                off_s: Option<f64>,
            }
            let r: R = fields(t)?;
            let id = role(names, "role", &r.role)?;
            match action {
                "power-cycle" => Step::PowerCycle {
                    role: id,
                    off_s: within("off_s", r.off_s.unwrap_or(1.0))?,
                },
                _ if r.off_s.is_some() => {
                    return Err(bad(
                        "off_s",
                        format!("only a power-cycle has off_s, not {action}"),
                    ))
                }
                "kill-restart" => Step::KillRestart { role: id },
                _ => Step::IvUpdate { role: id },
            }
        }
        "key-refresh" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct K {
                by: String,
                #[serde(default)]
                nodes: Vec<String>,
                phase: u8,
                #[serde(default = "thirty")]
                within_s: f64,
            }
            let k: K = fields(t)?;
            if !(1..=3).contains(&k.phase) {
                return Err(bad(
                    "phase",
                    "give phase 1 (new keys to the nodes), 2 (use them) or 3 (revoke the old ones)",
                ));
            }
            if k.phase == 1 && k.nodes.is_empty() {
                return Err(bad(
                    "nodes",
                    "phase 1 sends the new keys to these nodes: name them",
                ));
            }
            Step::KeyRefresh {
                by: role(names, "by", &k.by)?,
                nodes: k
                    .nodes
                    .iter()
                    .map(|n| role(names, "nodes", n))
                    .collect::<Result<_, _>>()?,
                phase: k.phase,
                within_s: within("within_s", k.within_s)?,
            }
        }
        "node-reset" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct N {
                by: String,
                node: String,
                #[serde(default = "ten")]
                within_s: f64,
            }
            let n: N = fields(t)?;
            Step::NodeReset {
                by: role(names, "by", &n.by)?,
                node: role(names, "node", &n.node)?,
                within_s: within("within_s", n.within_s)?,
            }
        }
        "attach" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct A {
                role: String,
                thread_role: String,
                #[serde(default = "thirty")]
                within_s: f64,
            }
            let a: A = fields(t)?;
            if !THREAD_ROLES.contains(&a.thread_role.as_str()) {
                return Err(bad(
                    "thread_role",
                    format!(
                        "unknown Thread role '{}' (known: {})",
                        a.thread_role,
                        THREAD_ROLES.join(", ")
                    ),
                ));
            }
            Step::Attach {
                role: role(names, "role", &a.role)?,
                thread_role: a.thread_role,
                within_s: within("within_s", a.within_s)?,
            }
        }
        "ping" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct P {
                from: String,
                to: String,
                #[serde(default = "ten")]
                within_s: f64,
            }
            let p: P = fields(t)?;
            let (from, to) = (role(names, "from", &p.from)?, role(names, "to", &p.to)?);
            if from == to {
                return Err(bad("to", "name two different roles"));
            }
            Step::Ping {
                from,
                to,
                within_s: within("within_s", p.within_s)?,
            }
        }
        other => {
            return Err(bad(
                "do",
                format!("unknown step '{other}' (known: {})", STEP_NAMES.join(", ")),
            ))
        }
    })
}

fn none() -> String {
    "none".into()
}
fn thirty() -> f64 {
    30.0
}
fn ten() -> f64 {
    10.0
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn seven() -> u8 {
    7
}
fn sixty_four() -> u32 {
    64
}
fn yes() -> bool {
    true
}
