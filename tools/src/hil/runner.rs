//! Running one scenario's steps and assertions on a [`Backend`], reporting each step.

use std::time::Instant as WallInstant;

use serde_json::{json, Value};

use super::backend::{thread_role_is, Backend, Observed, Role, Seen};
use super::scenario::{Assertion, HilScenario};
use super::steps::{ConfigItem, Step, Wait};

/// Seconds of backend time between two looks while waiting.
const POLL_S: f64 = 0.05;

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// A scenario's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: String,
    pub status: Status,
    /// Wall-clock seconds, setup included.
    pub duration_s: f64,
    /// Wall-clock seconds before the first step.
    pub setup_s: f64,
    /// Backend seconds at the end (virtual on the simulator).
    pub scenario_s: f64,
    /// Why it failed or was skipped; empty when it passed.
    pub reason: String,
}

/// Runs `sc` on the backend `make` builds (timed as setup), calling `emit` with each step's
/// NDJSON line.
pub fn run<B: Backend>(
    sc: &HilScenario,
    make: impl FnOnce() -> Result<B, String>,
    emit: &mut dyn FnMut(Value),
) -> Outcome {
    let t0 = WallInstant::now();
    let outcome = |status, reason: String, setup_s, scenario_s| Outcome {
        scenario: sc.name.clone(),
        status,
        duration_s: t0.elapsed().as_secs_f64(),
        setup_s,
        scenario_s,
        reason,
    };
    let mut b = match make() {
        Ok(b) => b,
        Err(e) => {
            return outcome(
                Status::Fail,
                format!("setup: {e}"),
                t0.elapsed().as_secs_f64(),
                0.0,
            )
        }
    };
    let setup_s = t0.elapsed().as_secs_f64();
    let mut r = Run {
        sc,
        log: Vec::new(),
        mark: 0,
    };
    let mut failure = None;
    for (i, (line, step)) in sc.steps.iter().enumerate() {
        let t = b.now_s();
        let result = r.step(&mut b, step);
        let result = result.and_then(|detail| {
            if b.now_s() > sc.seconds {
                Err(format!(
                    "the steps took {:.1} s, over the scenario's limit of {} s",
                    b.now_s(),
                    sc.seconds
                ))
            } else {
                Ok(detail)
            }
        });
        let (status, detail) = match &result {
            Ok(d) => ("ok", d.clone()),
            Err(e) => ("fail", e.clone()),
        };
        emit(
            json!({"type": "step", "scenario": sc.name, "index": i + 1, "do": step.name(), "line": line,
            "t_s": round(t), "status": status, "detail": detail}),
        );
        if let Err(e) = result {
            failure = Some(format!(
                "step {} ({}, line {line}): {e}",
                i + 1,
                step.name()
            ));
            break;
        }
    }
    if failure.is_none() {
        for a in &sc.asserts {
            if let Err(e) = r.check(&b, a) {
                failure = Some(format!("assert at line {}: {e}", a.line));
                break;
            }
        }
    }
    if let Err(e) = b.finish() {
        failure.get_or_insert(format!("capture: {e}"));
    }
    let end = b.now_s();
    match failure {
        None => outcome(Status::Pass, String::new(), setup_s, end),
        Some(f) => outcome(Status::Fail, f, setup_s, end),
    }
}

fn round(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

/// The state of one run: everything seen, and where the current action's events start.
struct Run<'a> {
    sc: &'a HilScenario,
    log: Vec<Seen>,
    mark: usize,
}

impl Run<'_> {
    fn name(&self, role: Role) -> &str {
        &self.sc.roles[role].name
    }

    fn advance(&mut self, b: &mut impl Backend, s: f64) -> Result<(), String> {
        let seen = b.advance(s)?;
        self.log.extend(seen);
        Ok(())
    }

    /// Waits up to `within_s` for the first event since the mark that `done` says ends the
    /// wait: `Ok` or `Err` with why not.
    fn until<B: Backend>(
        &mut self,
        b: &mut B,
        within_s: f64,
        mut done: impl FnMut(&Seen) -> Option<Result<String, String>>,
    ) -> Result<Option<String>, String> {
        let deadline = b.now_s() + within_s;
        let mut looked = self.mark;
        loop {
            while looked < self.log.len() {
                if let Some(r) = done(&self.log[looked]) {
                    return r.map(Some);
                }
                looked += 1;
            }
            let left = deadline - b.now_s();
            // Backends count whole microseconds.
            if left < 1e-6 {
                return Ok(None);
            }
            self.advance(b, left.min(POLL_S))?;
        }
    }

    fn step<B: Backend>(&mut self, b: &mut B, step: &Step) -> Result<String, String> {
        if !matches!(step, Step::Wait(_)) {
            self.mark = self.log.len();
        }
        match step {
            Step::Provision {
                by,
                device,
                oob,
                within_s,
            } => {
                let t = b.now_s();
                b.provision(*by, *device, *oob)?;
                let d = *device;
                let got = self.until(b, *within_s, |s| match (&s.what, s.role == d) {
                    (Observed::Provisioned { address }, true) => Some(Ok(format!("{address:04x}"))),
                    (Observed::ProvisionFailed { reason }, true) => {
                        Some(Err(format!("provisioning failed: {reason}")))
                    }
                    _ => None,
                })?;
                let address = got.ok_or_else(|| {
                    format!("{} not provisioned within {within_s} s", self.name(d))
                })?;
                // The provisioner configures what it provisions (AppKey, bindings).
                let left = within_s - (b.now_s() - t);
                self.config_done(b, *by, d, left.max(POLL_S))?;
                let auth = b.view(d).auth.unwrap_or_default();
                if auth != oob.as_str() {
                    return Err(format!(
                        "provisioned with OOB '{auth}', not '{}'",
                        oob.as_str()
                    ));
                }
                Ok(format!(
                    "{} is {address} ({auth} OOB), configured, after {:.3} s",
                    self.name(d),
                    b.now_s() - t
                ))
            }
            Step::Configure {
                by,
                node,
                items,
                within_s,
            } => {
                for item in items {
                    self.mark = self.log.len();
                    b.configure(*by, *node, item)?;
                    self.config_done(b, *by, *node, *within_s)
                        .map_err(|e| format!("{}: {e}", item_name(item)))?;
                }
                Ok(format!(
                    "{} configured ({})",
                    self.name(*node),
                    items.iter().map(item_name).collect::<Vec<_>>().join(", ")
                ))
            }
            Step::Send {
                from,
                to,
                message,
                on,
                ttl,
                proxy,
            } => {
                b.send(*from, *to, message, *on, *ttl, *proxy)?;
                Ok(match proxy {
                    Some(p) => format!(
                        "{} sent {message} through proxy {}",
                        self.name(*from),
                        self.name(*p)
                    ),
                    None => format!("{} sent {message}", self.name(*from)),
                })
            }
            Step::Attach {
                role,
                thread_role,
                within_s,
            } => {
                let (t, r) = (b.now_s(), *role);
                let now = b.view(r).thread_role;
                let got = match now.filter(|g| thread_role_is(g, thread_role)) {
                    Some(g) => Some(g),
                    None => self.until(b, *within_s, |s| match &s.what {
                        Observed::ThreadRole { role: g, .. }
                            if s.role == r && thread_role_is(g, thread_role) =>
                        {
                            Some(Ok(g.clone()))
                        }
                        _ => None,
                    })?,
                };
                let got = got.ok_or_else(|| {
                    format!(
                        "{} is not a {thread_role} within {within_s} s (it is {})",
                        self.name(r),
                        b.view(r).thread_role.unwrap_or_else(|| "off".into())
                    )
                })?;
                let v = b.view(r);
                Ok(format!(
                    "{} is a {got} ({}) after {:.3} s",
                    self.name(r),
                    v.rloc.map_or("no RLOC".into(), |a| a.to_string()),
                    b.now_s() - t
                ))
            }
            Step::Ping { from, to, within_s } => {
                let t = b.now_s();
                let dst = b
                    .view(*to)
                    .rloc
                    .ok_or_else(|| format!("{} has no RLOC: not attached", self.name(*to)))?;
                b.ping(*from, *to)?;
                let (f, want) = (*from, dst.to_string());
                let got = self.until(b, *within_s, |s| match &s.what {
                    Observed::EchoReply { from: a, hop_limit } if s.role == f && *a == want => {
                        Some(Ok(format!("hop limit {hop_limit}")))
                    }
                    _ => None,
                })?;
                let got = got.ok_or_else(|| {
                    format!(
                        "no echo reply from {} ({dst}) within {within_s} s",
                        self.name(*to)
                    )
                })?;
                Ok(format!(
                    "{} answered {}'s ping to {dst} after {:.3} s ({got})",
                    self.name(*to),
                    self.name(f),
                    b.now_s() - t
                ))
            }
            Step::Wait(w) => self.wait(b, w),
            Step::Idle { seconds } => {
                self.advance(b, *seconds)?;
                Ok(format!("{seconds} s passed"))
            }
            Step::Cut { a, b: c } => b
                .cut(*a, *c)
                .map(|_| format!("{} and {} cut", self.name(*a), self.name(*c))),
            Step::Restore { a, b: c } => b
                .restore(*a, *c)
                .map(|_| format!("{} and {} linked", self.name(*a), self.name(*c))),
            Step::PowerCycle { role, off_s } => b
                .power_cycle(*role, *off_s)
                .map(|_| format!("{} off for {off_s} s", self.name(*role))),
            Step::KillRestart { role } => b
                .kill_restart(*role)
                .map(|_| format!("{} killed and started again", self.name(*role))),
            Step::IvUpdate { role } => b
                .iv_update(*role)
                .map(|_| format!("{} started an IV Update", self.name(*role))),
            Step::KeyRefresh {
                by,
                nodes,
                phase,
                within_s,
            } => {
                if *phase == 1 {
                    for &n in nodes.iter().filter(|&&n| n != *by) {
                        self.mark = self.log.len();
                        b.key_refresh(*by, n, 1)?;
                        self.config_done(b, *by, n, *within_s)?;
                    }
                }
                b.key_refresh(*by, *by, *phase)?;
                Ok(format!("key refresh phase {phase} from {}", self.name(*by)))
            }
            Step::NodeReset { by, node, within_s } => {
                b.node_reset(*by, *node)?;
                let n = *node;
                let got = self.until(b, *within_s, |s| {
                    (s.role == n && s.what == Observed::NodeReset).then(|| Ok(String::new()))
                })?;
                got.ok_or_else(|| format!("{} did not reset within {within_s} s", self.name(n)))?;
                Ok(format!("{} left the network", self.name(n)))
            }
            Step::Replay { from, to } => b.replay(*from, *to).map(|_| {
                format!(
                    "{}'s last PDU played to {}",
                    self.name(*from),
                    self.name(*to)
                )
            }),
        }
    }

    fn config_done<B: Backend>(
        &mut self,
        b: &mut B,
        by: Role,
        node: Role,
        within_s: f64,
    ) -> Result<(), String> {
        let got = self.until(b, within_s, |s| match &s.what {
            Observed::ConfigDone { node: n } if s.role == by && *n == node => {
                Some(Ok(String::new()))
            }
            Observed::ConfigFailed { node: n, reason } if s.role == by && *n == node => {
                Some(Err(reason.clone()))
            }
            _ => None,
        })?;
        got.map(|_| ())
            .ok_or_else(|| format!("{} not configured within {within_s:.1} s", self.name(node)))
    }

    fn wait<B: Backend>(&mut self, b: &mut B, w: &Wait) -> Result<String, String> {
        let from = w.from.map(|f| {
            let v = b.view(f);
            From {
                address: v.address,
                rloc: v.rloc.map(|a| a.to_string()),
            }
        });
        let mut n = 0u32;
        let want = if w.absent { 1 } else { w.count };
        let got = self.until(b, w.within_s, |s| {
            if s.role == w.role && matches(w, from.as_ref(), &s.what) {
                n += 1;
                if n >= want {
                    return Some(Ok(format!("{:?} at {:.3} s", s.what, s.at_s)));
                }
            }
            None
        })?;
        match (w.absent, got) {
            (false, Some(d)) => Ok(d),
            (true, None) => Ok(format!(
                "no {} on {} within {} s",
                w.event,
                self.name(w.role),
                w.within_s
            )),
            (true, Some(d)) => Err(format!(
                "{} saw what must not happen: {d}",
                self.name(w.role)
            )),
            (false, None) => {
                let seen: Vec<String> = self.log[self.mark..]
                    .iter()
                    .filter(|s| s.role == w.role && s.what.name() == w.event)
                    .take(5)
                    .map(|s| format!("{:?}", s.what))
                    .collect();
                Err(format!(
                    "{} saw {n} of {} {} within {} s{}",
                    self.name(w.role),
                    w.count,
                    w.event,
                    w.within_s,
                    if seen.is_empty() {
                        String::new()
                    } else {
                        format!(" (other {}: {})", w.event, seen.join(", "))
                    }
                ))
            }
        }
    }

    fn check<B: Backend>(&self, b: &B, a: &Assertion) -> Result<(), String> {
        let v = b.view(a.role);
        let name = self.name(a.role);
        let differ = |what: &str, want: String, got: String| {
            Err(format!("{name}: {what} is {got}, expected {want}"))
        };
        if let Some(want) = a.onoff {
            if v.onoff != Some(want) {
                return differ("onoff", want.to_string(), format!("{:?}", v.onoff));
            }
        }
        if let Some(want) = a.iv_index {
            if v.iv_index != want {
                return differ("iv_index", want.to_string(), v.iv_index.to_string());
            }
        }
        if let Some(want) = a.iv_update {
            if v.iv_update != want {
                return differ("iv_update", want.to_string(), v.iv_update.to_string());
            }
        }
        if let Some(want) = a.key_phase {
            if v.key_phase != want {
                return differ("key_phase", want.to_string(), v.key_phase.to_string());
            }
        }
        if let Some(want) = a.provisioned {
            if v.provisioned != want {
                return differ("provisioned", want.to_string(), v.provisioned.to_string());
            }
        }
        if let Some(want) = a.relay {
            if v.relay != want {
                return differ("relay", want.to_string(), v.relay.to_string());
            }
        }
        if let Some(want) = &a.thread_role {
            let got = v.thread_role.clone().unwrap_or_else(|| "off".into());
            if !thread_role_is(&got, want) {
                return differ("thread_role", want.clone(), got);
            }
        }
        if let Some(want) = a.received {
            let got = self
                .log
                .iter()
                .filter(|s| s.role == a.role && matches!(s.what, Observed::Received { .. }))
                .count() as u64;
            if got != want {
                return differ(
                    "the number of messages received",
                    want.to_string(),
                    got.to_string(),
                );
            }
        }
        if a.seq_unique == Some(true) {
            let mut seen = std::collections::HashSet::new();
            let mut counters = std::collections::HashSet::new();
            let mut ext: Option<&str> = None;
            let mut sent = 0;
            for s in self.log.iter().filter(|s| s.role == a.role) {
                match &s.what {
                    Observed::Sent { seq, iv_index, .. } => {
                        sent += 1;
                        if !seen.insert((*seq, *iv_index)) {
                            return Err(format!("{name} sent sequence number {seq} twice under IV Index {iv_index} (at {:.3} s)", s.at_s));
                        }
                    }
                    // A Thread node: the CCM* nonce is its extended address and frame counter
                    // (IEEE 802.15.4-2015 §9.3.2.2), so one address, and no counter twice
                    // under one key sequence.
                    Observed::FrameSent {
                        ext_address,
                        frame_counter,
                        key_sequence,
                    } => {
                        sent += 1;
                        if ext.is_some_and(|e| e != ext_address) {
                            return Err(format!("{name} sent from extended address {ext_address} after {} (at {:.3} s): it came back as another node", ext.unwrap_or_default(), s.at_s));
                        }
                        ext = Some(ext_address);
                        if !counters.insert((*frame_counter, *key_sequence)) {
                            return Err(format!("{name} sent MAC frame counter {frame_counter} twice under key sequence {key_sequence} (at {:.3} s)", s.at_s));
                        }
                    }
                    _ => {}
                }
            }
            if sent == 0 {
                return Err(format!("{name} sent nothing: no sequence number to check"));
            }
        }
        Ok(())
    }
}

fn item_name(i: &ConfigItem) -> String {
    match i {
        ConfigItem::App { .. } => "app key, bindings, subscription, publication".into(),
        ConfigItem::Relay(on) => format!("relay {}", if *on { "on" } else { "off" }),
        ConfigItem::HeartbeatPublication { .. } => "heartbeat publication".into(),
        ConfigItem::HeartbeatSubscription { .. } => "heartbeat subscription".into(),
        ConfigItem::GattProxy(on) => format!("GATT proxy {}", if *on { "on" } else { "off" }),
    }
}

/// The addresses of a `wait` step's `from` role: its primary address (Bluetooth Mesh) or
/// RLOC (Thread), when it has one.
struct From {
    address: Option<u16>,
    rloc: Option<String>,
}

/// Whether `what` is the event `w` waits for; `from` is what its `from` role is called.
fn matches(w: &Wait, from: Option<&From>, what: &Observed) -> bool {
    if what.name() != w.event {
        return false;
    }
    let src_ok = |src: u16| from.is_none_or(|f| f.address == Some(src));
    match what {
        Observed::OnOff { on } => w.on.is_none_or(|o| o == *on),
        Observed::Received { src, message, .. } => {
            src_ok(*src) && w.message.as_ref().is_none_or(|m| m == message)
        }
        Observed::Heartbeat { src, hops } => src_ok(*src) && w.hops.is_none_or(|h| h == *hops),
        Observed::IvIndex { iv_index, updating } => {
            w.iv_index.is_none_or(|i| i == *iv_index) && w.updating.is_none_or(|u| u == *updating)
        }
        Observed::KeyRefresh { phase } => w.phase.is_none_or(|p| p == *phase),
        Observed::Dropped { reason } => w.reason.as_ref().is_none_or(|r| r == reason),
        Observed::Sar { complete, .. } => w.complete.is_none_or(|c| c == *complete),
        Observed::EchoReply { from: ip, .. } => {
            from.is_none_or(|f| f.rloc.as_deref() == Some(ip.as_str()))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::backend::RoleView;
    use super::super::steps::{Oob, Target};
    use super::*;

    /// A backend that replays a script of events: the runner and its assertions know nothing
    /// of the simulator.
    struct Scripted {
        now: f64,
        script: Vec<Seen>,
        /// Role 1's RLOC.
        rloc: Option<std::net::Ipv6Addr>,
    }

    impl Backend for Scripted {
        fn now_s(&self) -> f64 {
            self.now
        }
        fn advance(&mut self, s: f64) -> Result<Vec<Seen>, String> {
            self.now += s;
            let now = self.now;
            let (due, later) = self.script.drain(..).partition(|e| e.at_s <= now);
            self.script = later;
            Ok(due)
        }
        fn provision(&mut self, _: Role, _: Role, _: Oob) -> Result<(), String> {
            Ok(())
        }
        fn configure(&mut self, _: Role, _: Role, _: &ConfigItem) -> Result<(), String> {
            Ok(())
        }
        fn send(
            &mut self,
            _: Role,
            _: Target,
            _: &str,
            _: bool,
            _: Option<u8>,
            _: Option<Role>,
        ) -> Result<(), String> {
            Ok(())
        }
        fn ping(&mut self, _: Role, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn cut(&mut self, _: Role, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn restore(&mut self, _: Role, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn power_cycle(&mut self, _: Role, _: f64) -> Result<(), String> {
            Ok(())
        }
        fn kill_restart(&mut self, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn iv_update(&mut self, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn key_refresh(&mut self, _: Role, _: Role, _: u8) -> Result<(), String> {
            Ok(())
        }
        fn node_reset(&mut self, _: Role, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn replay(&mut self, _: Role, _: Role) -> Result<(), String> {
            Ok(())
        }
        fn view(&self, r: Role) -> RoleView {
            RoleView {
                rloc: self.rloc.filter(|_| r == 1),
                ..RoleView::default()
            }
        }
        fn finish(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    const SCENARIO: &str = "name = \"t\"\n[[role]]\nname = \"a\"\nkind = \"node\"\n[[step]]\ndo = \"kill-restart\"\nrole = \"a\"\n[[step]]\ndo = \"wait\"\nrole = \"a\"\nevent = \"sent\"\ncount = 2\n[[assert]]\nrole = \"a\"\nseq_unique = true\n";

    fn sent(at_s: f64, seq: u32, iv_index: u32) -> Seen {
        Seen {
            at_s,
            role: 0,
            what: Observed::Sent {
                seq,
                iv_index,
                ctl: false,
            },
        }
    }

    fn outcome(script: Vec<Seen>) -> Outcome {
        let sc = HilScenario::parse("t.toml", SCENARIO).unwrap();
        run(
            &sc,
            || {
                Ok(Scripted {
                    now: 0.0,
                    script,
                    rloc: None,
                })
            },
            &mut |_| {},
        )
    }

    #[test]
    fn a_sequence_number_sent_twice_fails_the_scenario() {
        let o = outcome(vec![sent(0.1, 5, 0), sent(0.2, 6, 0)]);
        assert_eq!((o.status, o.reason.as_str()), (Status::Pass, ""));
        let o = outcome(vec![sent(0.1, 5, 0), sent(0.2, 5, 1)]);
        assert_eq!(o.status, Status::Pass, "another IV Index: {}", o.reason);
        let o = outcome(vec![sent(0.1, 5, 0), sent(0.2, 5, 0)]);
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.reason
                .contains("assert at line 13: a sent sequence number 5 twice"),
            "{}",
            o.reason
        );
        let o = outcome(vec![sent(0.1, 5, 0)]);
        assert!(
            o.reason
                .contains("step 2 (wait, line 9): a saw 1 of 2 sent within 10 s"),
            "{}",
            o.reason
        );
    }

    #[test]
    fn a_thread_frame_counter_sent_twice_or_another_address_fails_the_scenario() {
        let sc = HilScenario::parse(
            "t.toml",
            &SCENARIO
                .replace("kind = \"node\"", "kind = \"thread-child\"")
                .replace("event = \"sent\"", "event = \"frame-sent\""),
        )
        .unwrap();
        let frame = |at_s, ext: &str, frame_counter, key_sequence| Seen {
            at_s,
            role: 0,
            what: Observed::FrameSent {
                ext_address: ext.into(),
                frame_counter,
                key_sequence,
            },
        };
        let outcome = |script| {
            let s = Scripted {
                now: 0.0,
                script,
                rloc: None,
            };
            run(&sc, || Ok(s), &mut |_| {})
        };
        let o = outcome(vec![frame(0.1, "02", 5, 0), frame(0.2, "02", 1000, 0)]);
        assert_eq!((o.status, o.reason.as_str()), (Status::Pass, ""));
        let o = outcome(vec![frame(0.1, "02", 5, 0), frame(0.2, "02", 5, 1)]);
        assert_eq!(o.status, Status::Pass, "another key sequence: {}", o.reason);
        let o = outcome(vec![frame(0.1, "02", 5, 0), frame(0.2, "02", 5, 0)]);
        assert!(
            o.reason
                .contains("a sent MAC frame counter 5 twice under key sequence 0"),
            "{}",
            o.reason
        );
        let o = outcome(vec![frame(0.1, "02", 5, 0), frame(0.2, "06", 0, 0)]);
        assert!(
            o.reason
                .contains("a sent from extended address 06 after 02 (at 0.200 s): it came back as another node"),
            "{}",
            o.reason
        );
    }

    #[test]
    fn an_echo_reply_counts_only_from_the_from_roles_rloc() {
        let sc = HilScenario::parse(
            "t.toml",
            "name = \"t\"\n[[role]]\nname = \"a\"\nkind = \"thread-child\"\n[[role]]\nname = \"b\"\nkind = \"thread-router\"\n[[step]]\ndo = \"wait\"\nrole = \"a\"\nevent = \"echo-reply\"\nfrom = \"b\"\n",
        )
        .unwrap();
        let reply = |at_s: f64, from: &str| Seen {
            at_s,
            role: 0,
            what: Observed::EchoReply {
                from: from.into(),
                hop_limit: 64,
            },
        };
        let rloc: std::net::Ipv6Addr = "fd00::ff:fe00:400".parse().unwrap();
        let outcome = |script: Vec<Seen>| {
            run(
                &sc,
                || {
                    Ok(Scripted {
                        now: 0.0,
                        script,
                        rloc: Some(rloc),
                    })
                },
                &mut |_| {},
            )
        };
        let o = outcome(vec![reply(0.1, "fd00::ff:fe00:401")]);
        assert_eq!(o.status, Status::Fail, "another address: {}", o.reason);
        let o = outcome(vec![
            reply(0.1, "fd00::ff:fe00:401"),
            reply(0.2, "fd00::ff:fe00:400"),
        ]);
        assert_eq!(o.status, Status::Pass, "{}", o.reason);
    }
}
