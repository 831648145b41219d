//! The [`Backend`] on a rig file's radios, in wall-clock time: each role is a `weft hil role`
//! process of its own (`agent.rs`) on the rig radio the mapping gave it, running the station
//! the simulator backend would build for it (the same network from the same seed), so a
//! `kill-restart` is a real SIGKILL and a new process that starts from what the old one
//! persisted. This side plays the user (OOB values carried from one process to the other) and
//! keeps what the scenario reads (`wire.rs`: commands in, reports out, a JSON object a line).
//!
//! What a rig cannot do, [`supports`] says before anything starts (the scenario is skipped
//! with the reason): keep two radios out of each other's range, cut the link between them or
//! make them lose frames without the rig's `link` fixture (a command; emulated controllers
//! have one), power-cycle a radio without its `power` fixture, idle for days. A radio that
//! vanishes mid-scenario ends its role process ([`agent`]'s radio gives up after a few
//! seconds); the scenario fails naming the role, the radio and why, and the run goes on.

pub mod agent;
mod fit;
mod thread_agent;
mod wire;

use fit::{fixture, link_fixture, link_of, power_fixture};
pub use fit::{probe, supports};

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant as WallInstant};

use wire::{Cmd, ConfigReq, Msg, State};

use super::backend::{Backend, Observed, Role, RoleView, Seen};
use super::rig::{Rig, RigRadio};
use super::scenario::{HilScenario, RoleKind};
use super::sim::SimBackend;
use super::steps::{ConfigItem, Oob, Target};
use weft_radio::capture::MergeInput;

/// How long the role processes may take to open their radios.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long a role process may take to end once its input closes.
const STOP_WITHIN: Duration = Duration::from_secs(3);
/// The longest look at the reports in one go.
const POLL: Duration = Duration::from_millis(20);

/// One role process.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    generation: u64,
    log: PathBuf,
}

/// A report from a role process: `None` when its output ended.
type Report = (Role, u64, Option<Msg>);

/// The roles of a scenario as processes on a rig's radios.
#[allow(missing_debug_implementations)]
pub struct LiveBackend {
    t0: WallInstant,
    scenario: String,
    seed: u64,
    roles: Vec<super::scenario::Role>,
    radios: Vec<RigRadio>,
    /// The rig's `link` fixture, and each link's loss in the scenario (`None`: not linked).
    link: Option<String>,
    losses: Vec<((Role, Role), Option<f64>)>,
    dir: PathBuf,
    pcap: Option<PathBuf>,
    procs: Vec<Option<Proc>>,
    generations: Vec<u64>,
    reports: Receiver<Report>,
    sender: Sender<Report>,
    states: Vec<State>,
    /// Each role's address as the network was planned (a device's once provisioned).
    addresses: Vec<Option<u16>>,
    uuids: Vec<[u8; 16]>,
    onoff: Vec<Option<bool>>,
    auth: Vec<Option<String>>,
    lost: Vec<Option<String>>,
    last_pdu: Vec<Option<String>>,
    /// OOB values shown and not typed yet, and who asks (as the simulator backend).
    to_prov: HashMap<[u8; 16], u32>,
    to_dev: HashMap<Role, u32>,
    prov_asks: HashSet<[u8; 16]>,
    dev_asks: HashSet<Role>,
    config_queue: HashMap<Role, VecDeque<ConfigReq>>,
    /// Power cycles under way: when each role's process starts again.
    power_on: Vec<(f64, Role)>,
    tid: u8,
    /// Why the scenario cannot go on (a radio vanished).
    failed: Option<String>,
    /// What was seen while an action waited for a role (handed out by the next `advance`).
    seen: Vec<Seen>,
    /// Roles that carried out `become-device` and were not asked since.
    became: HashSet<Role>,
}

impl LiveBackend {
    /// Starts a process per role on its radio (`radios[i]` for role `i`) and waits until every
    /// one has its radio open; with `pcap`, every role's process captures what its radio hears
    /// and sends, made one file when the scenario ends (`write_capture`).
    pub fn new(
        sc: &HilScenario,
        rig: &Rig,
        radios: &[usize],
        seed: u64,
        pcap: Option<&Path>,
    ) -> Result<LiveBackend, String> {
        // What the roles start as (a Thread scenario's roles are detached nodes).
        let kit = if SimBackend::is_thread(sc) {
            None
        } else {
            Some(SimBackend::new(sc, seed, None)?)
        };
        let n = sc.roles.len();
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "weft-hil-{}-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed),
            sc.name
        ));
        // Owner-only and new: nobody else's directory (or link) is taken for it.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let (sender, reports) = mpsc::channel();
        let scenario = if HilScenario::builtin()
            .iter()
            .any(|b| b.name == sc.name && b.file == sc.file)
        {
            sc.name.clone()
        } else {
            sc.file.clone()
        };
        let mut b = LiveBackend {
            t0: WallInstant::now(),
            scenario,
            seed,
            roles: sc.roles.clone(),
            radios: radios.iter().map(|&i| rig.radios[i].clone()).collect(),
            link: link_fixture(rig).map(str::to_string),
            losses: (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .map(|(a, b)| ((a, b), link_of(sc, a, b)))
                .collect(),
            dir,
            pcap: pcap.map(Path::to_path_buf),
            procs: (0..n).map(|_| None).collect(),
            generations: vec![0; n],
            reports,
            sender,
            states: (0..n)
                .map(|r| {
                    let v = kit.as_ref().map(|k| k.view(r)).unwrap_or_default();
                    State {
                        address: v.address,
                        provisioned: v.provisioned,
                        iv_index: v.iv_index,
                        iv_update: v.iv_update,
                        key_phase: v.key_phase,
                        relay: v.relay,
                        ..State::default()
                    }
                })
                .collect(),
            addresses: (0..n)
                .map(|r| kit.as_ref().and_then(|k| k.view(r).address))
                .collect(),
            uuids: (0..n)
                .map(|r| kit.as_ref().map_or([0; 16], |k| k.uuid(r)))
                .collect(),
            onoff: vec![None; n],
            auth: vec![None; n],
            lost: vec![None; n],
            last_pdu: vec![None; n],
            to_prov: HashMap::new(),
            to_dev: HashMap::new(),
            prov_asks: HashSet::new(),
            dev_asks: HashSet::new(),
            config_queue: HashMap::new(),
            power_on: Vec::new(),
            tid: 0,
            failed: None,
            seen: Vec::new(),
            became: HashSet::new(),
        };
        // The air as the scenario's links say, before anyone is on it.
        if b.link.is_some() {
            for ((x, y), loss) in b.losses.clone() {
                b.set_loss(x, y, loss.unwrap_or(1.0))?;
            }
        }
        for role in 0..n {
            b.start(role)?;
        }
        let mut ready = vec![false; n];
        let deadline = WallInstant::now() + READY_WITHIN;
        let mut early = Vec::new();
        while ready.iter().any(|r| !r) {
            let left = deadline.saturating_duration_since(WallInstant::now());
            match b.reports.recv_timeout(left) {
                Ok((role, _, Some(Msg::Ready))) => ready[role] = true,
                Ok((role, g, None)) => return Err(b.ended(role, g)),
                Ok(r) => early.push(r),
                Err(_) => {
                    let slow: Vec<&str> = (0..n)
                        .filter(|&r| !ready[r])
                        .map(|r| b.roles[r].name.as_str())
                        .collect();
                    return Err(format!(
                        "role {} did not open its radio within {} s",
                        slow.join(", "),
                        READY_WITHIN.as_secs()
                    ));
                }
            }
        }
        let mut sink = Vec::new();
        for r in early {
            b.handle(r, &mut sink);
        }
        b.t0 = WallInstant::now();
        Ok(b)
    }

    /// Starts `role`'s process (its next generation).
    fn start(&mut self, role: Role) -> Result<(), String> {
        let g = self.generations[role];
        let r = &self.roles[role];
        let radio = &self.radios[role];
        let log = self.dir.join(format!("{}.{g}.log", r.name));
        let exe = std::env::current_exe().map_err(|e| format!("cannot find weft itself: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.args([
            "hil",
            "role",
            "--scenario",
            &self.scenario,
            "--role",
            &r.name,
        ])
        .args(["--seed", &self.seed.to_string(), "--radio", &radio.uri])
        .arg("--state")
        .arg(&self.dir)
        .args(["--generation", &g.to_string()]);
        if self.pcap.is_some() {
            // Each process captures what its radio hears and sends; the scenario's capture
            // is made of them all when it ends (`write_capture`).
            cmd.arg("--pcap").arg(self.role_capture(role, g));
        }
        let err = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start role {}: {e}", r.name))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take().ok_or("no output of the role process")?;
        let tx = self.sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Msg>(&line) {
                    Ok(m) => {
                        if tx.send((role, g, Some(m))).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(target: "weft::hil", "role {role}: {line}: {e}"),
                }
            }
            let _ = tx.send((role, g, None));
        });
        self.procs[role] = Some(Proc {
            child,
            stdin,
            generation: g,
            log,
        });
        Ok(())
    }

    /// Sets the loss between two roles' radios with the rig's `link` fixture.
    fn set_loss(&self, a: Role, b: Role, loss: f64) -> Result<(), String> {
        let Some(cmd) = &self.link else {
            return Err(
                "the rig has no `link` fixture: it cannot change the link between two radios"
                    .into(),
            );
        };
        let cmd = cmd
            .replace("{a}", &self.radios[a].id)
            .replace("{b}", &self.radios[b].id)
            .replace("{loss}", &loss.to_string());
        fixture(&cmd)
    }

    /// The loss of the scenario's link between two roles; `Err` when they are not linked.
    fn scenario_loss(&self, a: Role, b: Role) -> Result<f64, String> {
        self.losses
            .iter()
            .find(|((x, y), _)| (*x, *y) == (a, b) || (*y, *x) == (a, b))
            .and_then(|(_, l)| *l)
            .ok_or_else(|| {
                format!(
                    "no link between {} and {}",
                    self.roles[a].name, self.roles[b].name
                )
            })
    }

    /// Where `role`'s process of generation `g` writes its capture.
    fn role_capture(&self, role: Role, g: u64) -> PathBuf {
        self.dir
            .join(format!("{}.{g}.pcapng", self.roles[role].name))
    }

    /// The scenario's capture, once its processes ended: every role's radio an interface
    /// named after the role (Wireshark's `frame.interface_name`), all their packets in time
    /// order, a power-cycled role's generations one after the other
    /// ([`weft_radio::capture::merge`]). One file, as a capture on several interfaces at once
    /// is: the same transmission heard by several radios is a packet on each of their
    /// interfaces, side by side.
    fn write_capture(&mut self) -> Result<(), String> {
        let Some(out) = self.pcap.take() else {
            return Ok(());
        };
        let inputs: Vec<MergeInput> = (0..self.roles.len())
            .map(|r| MergeInput {
                name: self.roles[r].name.clone(),
                description: format!("radio {} ({})", self.radios[r].id, self.radios[r].uri),
                files: (0..=self.generations[r])
                    .map(|g| self.role_capture(r, g))
                    .collect(),
            })
            .collect();
        weft_radio::capture::merge(&out, &inputs)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Kills `role`'s process (SIGKILL) and waits for it.
    fn kill(&mut self, role: Role) {
        if let Some(mut p) = self.procs[role].take() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.generations[role] += 1;
        // A Thread node starts detached: its role and RLOC are its new process's to report.
        self.states[role].thread_role = None;
        self.states[role].rloc = None;
    }

    /// Why `role`'s process of generation `g` ended: its radio's failure or its last words.
    fn ended(&mut self, role: Role, g: u64) -> String {
        let radio = &self.radios[role];
        let mut why = self.lost[role].take();
        if let Some(p) = self.procs[role].as_mut().filter(|p| p.generation == g) {
            let status = p.child.wait().ok();
            if why.is_none() {
                let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                why = log
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .or_else(|| status.map(|s| format!("the role process ended ({s})")));
            }
            self.procs[role] = None;
        }
        format!(
            "role {}: radio {} ({}): {}",
            self.roles[role].name,
            radio.id,
            radio.uri,
            why.unwrap_or_else(|| "the role process ended".into())
        )
    }

    fn tell(&mut self, role: Role, cmd: &Cmd) -> Result<(), String> {
        let line = serde_json::to_string(cmd).map_err(|e| e.to_string())?;
        let name = &self.roles[role].name;
        let Some(stdin) = self.procs[role].as_mut().and_then(|p| p.stdin.as_mut()) else {
            return Err(format!("{name} is off"));
        };
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("{name}'s process is gone: {e}"))
    }

    fn role_of_address(&self, a: u16) -> Option<Role> {
        self.addresses.iter().position(|&x| x == Some(a))
    }

    fn role_of_uuid(&self, u: &str) -> Option<Role> {
        self.uuids.iter().position(|x| hex::encode(x) == u)
    }

    fn unicast(&self, role: Role) -> Result<u16, String> {
        self.addresses[role].ok_or_else(|| format!("{} is not a node yet", self.roles[role].name))
    }

    fn dst(&self, to: Target) -> Result<u16, String> {
        match to {
            Target::Role(r) => self.unicast(r),
            Target::Group(g) => Ok(g),
        }
    }

    fn provisioner(&self, by: Role) -> Result<(), String> {
        match self.roles[by].kind {
            RoleKind::Provisioner => Ok(()),
            _ => Err(format!("{} is not the provisioner", self.roles[by].name)),
        }
    }

    fn config_requests(
        &mut self,
        by: Role,
        node: Role,
        reqs: Vec<ConfigReq>,
    ) -> Result<(), String> {
        self.provisioner(by)?;
        let dst = self.unicast(node)?;
        let mut q: VecDeque<ConfigReq> = reqs.into();
        let Some(first) = q.pop_front() else {
            return Ok(());
        };
        self.config_queue.insert(node, q);
        self.tell(by, &Cmd::Config { dst, req: first })
    }

    /// Takes one report in: what the scenario sees goes to `out`.
    fn handle(&mut self, (role, g, msg): Report, out: &mut Vec<Seen>) {
        if g != self.generations[role] {
            // From a process killed on purpose: what it sent still counts for `seq_unique`.
            if let Some(Msg::Seen { what }) = msg {
                if matches!(what, Observed::Sent { .. } | Observed::FrameSent { .. }) {
                    out.push(Seen {
                        at_s: self.now_s(),
                        role,
                        what,
                    });
                }
            }
            return;
        }
        let at_s = self.now_s();
        let Some(msg) = msg else {
            let why = self.ended(role, g);
            self.failed.get_or_insert(why);
            return;
        };
        let mut see = |role, what| out.push(Seen { at_s, role, what });
        match msg {
            Msg::Ready => {}
            Msg::Became => {
                self.became.insert(role);
            }
            Msg::Seen { what } => {
                match &what {
                    Observed::Provisioned { address } => self.addresses[role] = Some(*address),
                    Observed::OnOff { on } => self.onoff[role] = Some(*on),
                    _ => {}
                }
                see(role, what);
            }
            Msg::State { state } => {
                if state.provisioned {
                    self.addresses[role] = state.address;
                } else if self.states[role].provisioned {
                    self.addresses[role] = None; // reset: it left the network
                }
                self.states[role] = state;
            }
            Msg::OobShown {
                uuid: Some(u),
                value,
            } => {
                if let Some(d) = self.role_of_uuid(&u) {
                    self.to_dev.insert(d, value);
                }
            }
            Msg::OobShown { uuid: None, value } => {
                self.to_prov.insert(self.uuids[role], value);
            }
            Msg::OobAsked { uuid: Some(u) } => {
                if let Some(d) = self.role_of_uuid(&u) {
                    self.prov_asks.insert(self.uuids[d]);
                }
            }
            Msg::OobAsked { uuid: None } => {
                self.dev_asks.insert(role);
            }
            Msg::Auth { uuid, method } => {
                let d = uuid.map_or(Some(role), |u| self.role_of_uuid(&u));
                if let Some(d) = d {
                    self.auth[d] = Some(method);
                }
            }
            Msg::ProvisionFailed { uuid, reason } => {
                if let Some(d) = self.role_of_uuid(&uuid) {
                    see(d, Observed::ProvisionFailed { reason });
                }
            }
            Msg::ConfigDone { dst } => {
                let Some(target) = self.role_of_address(dst) else {
                    return;
                };
                match self
                    .config_queue
                    .get_mut(&target)
                    .and_then(VecDeque::pop_front)
                {
                    Some(req) => {
                        if let Err(e) = self.tell(role, &Cmd::Config { dst, req }) {
                            self.failed.get_or_insert(e);
                        }
                    }
                    None => see(role, Observed::ConfigDone { node: target }),
                }
            }
            Msg::ConfigFailed { dst, reason } => {
                let Some(target) = self.role_of_address(dst) else {
                    return;
                };
                self.config_queue.remove(&target);
                see(
                    role,
                    Observed::ConfigFailed {
                        node: target,
                        reason,
                    },
                );
            }
            Msg::Pdu { hex } => self.last_pdu[role] = Some(hex),
            Msg::Lost { reason } => self.lost[role] = Some(reason),
        }
    }

    /// The user types what one side showed into the other once it asks.
    fn carry_oob(&mut self) -> Result<(), String> {
        let prov = self
            .roles
            .iter()
            .position(|r| r.kind == RoleKind::Provisioner);
        for uuid in self.prov_asks.clone() {
            if let (Some(v), Some(p)) = (self.to_prov.remove(&uuid), prov) {
                self.prov_asks.remove(&uuid);
                let uuid = Some(hex::encode(uuid));
                self.tell(p, &Cmd::InputOob { uuid, value: v })?;
            }
        }
        for role in self.dev_asks.clone() {
            if let Some(v) = self.to_dev.remove(&role) {
                self.dev_asks.remove(&role);
                self.tell(
                    role,
                    &Cmd::InputOob {
                        uuid: None,
                        value: v,
                    },
                )?;
            }
        }
        Ok(())
    }
}

impl Backend for LiveBackend {
    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn advance(&mut self, seconds: f64) -> Result<Vec<Seen>, String> {
        let end = self.now_s() + seconds.max(0.0);
        let mut out = std::mem::take(&mut self.seen);
        loop {
            let now = self.now_s();
            let (due, later): (Vec<_>, Vec<_>) =
                self.power_on.iter().partition(|(at, _)| *at <= now);
            self.power_on = later;
            for (_, role) in due {
                self.start(role)?;
            }
            let left = end - now;
            if let Some(f) = &self.failed {
                return Err(f.clone());
            }
            if left <= 0.0 {
                break;
            }
            match self
                .reports
                .recv_timeout(POLL.min(Duration::from_secs_f64(left)))
            {
                Ok(r) => {
                    self.handle(r, &mut out);
                    while let Ok(r) = self.reports.try_recv() {
                        self.handle(r, &mut out);
                    }
                    self.carry_oob()?;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err("no role process is left".into()),
            }
        }
        Ok(out)
    }

    fn provision(&mut self, by: Role, device: Role, oob: Oob) -> Result<(), String> {
        self.provisioner(by)?;
        if self.states[device].provisioned {
            return Err(format!(
                "{} is not an unprovisioned device",
                self.roles[device].name
            ));
        }
        // The device offers the class before the provisioner opens a link to it.
        self.became.remove(&device);
        self.tell(device, &Cmd::BecomeDevice { oob: oob.into() })?;
        let deadline = WallInstant::now() + READY_WITHIN;
        while !self.became.contains(&device) {
            let left = deadline.saturating_duration_since(WallInstant::now());
            match self.reports.recv_timeout(left.min(POLL)) {
                Ok(r) => {
                    let mut seen = std::mem::take(&mut self.seen);
                    self.handle(r, &mut seen);
                    self.seen = seen;
                }
                Err(RecvTimeoutError::Timeout) if left > Duration::ZERO => {}
                Err(_) => {
                    return Err(format!(
                        "{} did not become a device offering {} OOB",
                        self.roles[device].name,
                        oob.as_str()
                    ))
                }
            }
            if let Some(f) = &self.failed {
                return Err(f.clone());
            }
        }
        let uuid = hex::encode(self.uuids[device]);
        self.tell(
            by,
            &Cmd::Provision {
                uuid,
                oob: oob.into(),
            },
        )
    }

    fn configure(&mut self, by: Role, node: Role, item: &ConfigItem) -> Result<(), String> {
        let req = match *item {
            ConfigItem::App { subscribe, publish } => {
                self.provisioner(by)?;
                let dst = self.unicast(node)?;
                self.config_queue.remove(&node);
                return self.tell(
                    by,
                    &Cmd::Configure {
                        dst,
                        subscribe,
                        publish,
                    },
                );
            }
            ConfigItem::Relay(on) => ConfigReq::Relay { on },
            ConfigItem::HeartbeatPublication { to, period_s, ttl } => {
                ConfigReq::HeartbeatPublication {
                    dst: self.dst(to)?,
                    period_s,
                    ttl,
                }
            }
            ConfigItem::HeartbeatSubscription { from, period_s } => {
                ConfigReq::HeartbeatSubscription {
                    src: self.unicast(from)?,
                    dst: self.unicast(node)?,
                    period_s,
                }
            }
            ConfigItem::GattProxy(on) => ConfigReq::GattProxy { on },
        };
        self.config_requests(by, node, vec![req])
    }

    fn send(
        &mut self,
        from: Role,
        to: Target,
        message: &str,
        on: bool,
        ttl: Option<u8>,
        proxy: Option<Role>,
    ) -> Result<(), String> {
        if let Some(p) = proxy {
            return Err(format!("{}: {}", self.roles[p].name, fit::NO_GATT_SERVER));
        }
        let dst = self.dst(to)?;
        self.unicast(from)?;
        self.tid = self.tid.wrapping_add(1);
        let cmd = Cmd::Send {
            dst,
            message: message.into(),
            on,
            tid: self.tid,
            ttl,
        };
        self.tell(from, &cmd)
    }

    fn cut(&mut self, a: Role, b: Role) -> Result<(), String> {
        self.scenario_loss(a, b)?;
        self.set_loss(a, b, 1.0)
    }

    fn restore(&mut self, a: Role, b: Role) -> Result<(), String> {
        let loss = self.scenario_loss(a, b)?;
        self.set_loss(a, b, loss)
    }

    fn power_cycle(&mut self, role: Role, off_s: f64) -> Result<(), String> {
        let r = &self.radios[role];
        let power = power_fixture(r)
            .ok_or_else(|| format!("radio {} ({}) has no `power` fixture", r.id, r.uri))?
            .to_string();
        self.kill(role);
        fixture(&power)?;
        self.power_on.push((self.now_s() + off_s, role));
        Ok(())
    }

    fn kill_restart(&mut self, role: Role) -> Result<(), String> {
        self.kill(role);
        self.start(role)
    }

    fn iv_update(&mut self, role: Role) -> Result<(), String> {
        self.unicast(role)?;
        self.tell(role, &Cmd::IvUpdate)
    }

    fn key_refresh(&mut self, by: Role, node: Role, phase: u8) -> Result<(), String> {
        if node != by {
            return self.config_requests(
                by,
                node,
                vec![ConfigReq::NetKeyUpdate, ConfigReq::AppKeyUpdate],
            );
        }
        self.tell(by, &Cmd::KeyRefresh { phase })
    }

    fn node_reset(&mut self, by: Role, node: Role) -> Result<(), String> {
        self.config_requests(by, node, vec![ConfigReq::NodeReset])
    }

    fn replay(&mut self, from: Role, to: Role) -> Result<(), String> {
        let hex = self.last_pdu[from].clone().ok_or_else(|| {
            format!(
                "{} has put no Mesh Message on the air to replay",
                self.roles[from].name
            )
        })?;
        self.tell(to, &Cmd::Inject { hex })
    }

    fn ping(&mut self, from: Role, to: Role) -> Result<(), String> {
        let dst = self.states[to]
            .rloc
            .ok_or_else(|| format!("{} has no RLOC: not attached", self.roles[to].name))?;
        self.tid = self.tid.wrapping_add(1);
        let sequence = u16::from(self.tid);
        self.tell(from, &Cmd::Ping { dst, sequence })
    }

    fn view(&self, role: Role) -> RoleView {
        let s = &self.states[role];
        RoleView {
            address: self.addresses[role],
            provisioned: s.provisioned,
            iv_index: s.iv_index,
            iv_update: s.iv_update,
            key_phase: s.key_phase,
            onoff: self.onoff[role],
            relay: s.relay,
            auth: self.auth[role].clone(),
            thread_role: s.thread_role.clone(),
            rloc: s.rloc,
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        // Closing their input stops the processes cleanly (captures flushed).
        for p in self.procs.iter_mut().flatten() {
            p.stdin = None;
        }
        let deadline = WallInstant::now() + STOP_WITHIN;
        for p in self.procs.iter_mut().flatten() {
            while matches!(p.child.try_wait(), Ok(None)) && WallInstant::now() < deadline {
                std::thread::sleep(POLL);
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.procs.iter_mut().for_each(|p| *p = None);
        self.write_capture()
    }
}

impl Drop for LiveBackend {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().flatten() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        // A scenario that stopped short still leaves what its radios captured.
        let _ = self.write_capture();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
