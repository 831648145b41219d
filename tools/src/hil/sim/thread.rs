//! The [`Backend`] for Thread roles on the simulated 802.15.4 air, in virtual time,
//! deterministic per seed: each role is a Thread node (`weft_mesh::thread::stack::Node`)
//! through the one adapter of the 802.15.4 simulator (`crate::sim::thread::SimStation`, which
//! answers ICMPv6 and UDP echo), on `weft_radio::sim::ieee802154::Medium`, linked only as the
//! scenario's `[[link]]`s say. The network is the one `weft sim run` generates from the seed
//! (`crate::sim::thread::network`); a `thread-router` is a router-eligible Full Thread Device
//! (the first forms the partition as leader), a `thread-child` a Minimal End Device. Every
//! node is powered at the scenario's start. A `kill-restart` (or `power-cycle`) replaces a
//! role's node by one built from the state it last persisted (`SimStation::persisted`, taken
//! at each `Event::PersistState`): the same node, its frame counters from its reservation.

use std::net::Ipv6Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use weft_mesh::thread::stack::Event;
use weft_mesh::{Duration, Instant};
use weft_radio::sim::ieee802154::{Event as MediumEvent, Medium};
use weft_radio::sim::{station_rng, Link, NodeId, Placement};

use crate::hil::backend::{Backend, Observed, Role, RoleView, Seen};
use crate::hil::scenario::{HilScenario, RoleKind};
use crate::hil::steps::{ConfigItem, Oob, Target};
use crate::sim::thread::pcap::Capture154;
use crate::sim::thread::{medium_config, network, node_config, App, Kind};
use crate::sim::thread::{SimEvent, SimStation};

/// A router-eligible node asks for a Router ID within this (OpenThread's 120 s is for homes
/// that form over minutes; as `weft sim run --scenario thread-home`).
pub(in crate::hil) const JITTER: Duration = crate::sim::thread::HOME_JITTER;
/// ROUTER_UPGRADE_THRESHOLD (Thread 1.3 §5.9.9, OpenThread's default).
pub(in crate::hil) const UPGRADE_THRESHOLD: u8 = 16;
/// The payload of a `ping` step's echo request.
pub(in crate::hil) const PING_DATA: &[u8] = b"weft hil";
/// Mixed into the seed for the nodes' random streams (one per role).
pub(in crate::hil) const RNG_STREAM: u64 = 0x4849_4c54;

/// The Thread roles of a scenario on the simulated 802.15.4 air.
#[allow(missing_debug_implementations)]
pub struct ThreadSim {
    medium: Medium<SimStation>,
    names: Vec<String>,
    ids: Vec<NodeId>,
    pcap: Option<Arc<Mutex<Capture154>>>,
    sequence: u16,
    seed: u64,
    kinds: Vec<Kind>,
    /// How many times each role was started before (its random stream per start).
    generations: Vec<u64>,
}

/// The node kind of a Thread role.
pub(in crate::hil) fn node_kind(k: RoleKind) -> Option<Kind> {
    match k {
        RoleKind::ThreadRouter => Some(Kind::Router),
        RoleKind::ThreadChild => Some(Kind::Child),
        _ => None,
    }
}

/// What a scenario observes of a Thread station's event (the simulator and the live
/// backend's Thread roles alike), or None for an event scenarios do not watch.
pub(in crate::hil) fn thread_observed(st: &SimStation, e: &SimEvent) -> Option<Observed> {
    Some(match e {
        SimEvent::FrameSent {
            frame_counter,
            key_sequence,
        } => Observed::FrameSent {
            ext_address: hex::encode(st.ext_address().0),
            frame_counter: *frame_counter,
            key_sequence: *key_sequence,
        },
        SimEvent::Node(Event::RoleChanged { role, rloc16, .. }) => Observed::ThreadRole {
            role: role.as_str().into(),
            rloc16: *rloc16,
        },
        SimEvent::Node(Event::EchoReply {
            from, hop_limit, ..
        }) => Observed::EchoReply {
            from: from.to_string(),
            hop_limit: *hop_limit,
        },
        _ => return None,
    })
}

impl ThreadSim {
    /// Builds the scenario's Thread roles on a medium seeded with `seed`; with `pcap`, every
    /// PPDU on the air goes to that file.
    pub fn new(sc: &HilScenario, seed: u64, pcap: Option<&Path>) -> Result<ThreadSim, String> {
        let creds = network(seed);
        let mut medium = Medium::new(medium_config(0.0, false), seed);
        let mut ids = Vec::new();
        let mut kinds = Vec::new();
        for (i, r) in sc.roles.iter().enumerate() {
            let k = node_kind(r.kind).ok_or_else(|| {
                format!("role {} ({}) is not a Thread role", r.name, r.kind.as_str())
            })?;
            kinds.push(k);
            let station = SimStation::new(
                creds.clone(),
                node_config(k, JITTER, UPGRADE_THRESHOLD),
                station_rng(seed ^ RNG_STREAM, i as u64),
                Instant::ZERO,
                App::Quiet,
            )
            .reporting_frames();
            ids.push(medium.add_node(station, Placement::Unplaced));
        }
        for l in &sc.links {
            medium.set_link(
                ids[l.a],
                ids[l.b],
                Link {
                    rssi_dbm: l.rssi,
                    loss: l.loss,
                },
            );
        }
        let pcap = match pcap {
            Some(path) => {
                let c = Arc::new(Mutex::new(Capture154::create(path)?));
                let tap = Arc::clone(&c);
                medium.set_air_tap(move |f| {
                    if let Ok(mut c) = tap.lock() {
                        c.write(f);
                    }
                });
                Some(c)
            }
            None => None,
        };
        Ok(ThreadSim {
            medium,
            names: sc.roles.iter().map(|r| r.name.clone()).collect(),
            ids,
            pcap,
            sequence: 0,
            seed,
            generations: vec![0; kinds.len()],
            kinds,
        })
    }

    fn not_mesh<T>(&self, role: Role) -> Result<T, String> {
        Err(format!(
            "{} is a Thread role: Bluetooth Mesh steps do not apply",
            self.names[role]
        ))
    }

    /// Replaces `role`'s node by one from its persisted state, powered at `at` (another random
    /// stream per start, as the live backend's `--generation`).
    fn restart(&mut self, role: Role, at: Instant) {
        self.generations[role] += 1;
        let id = self.ids[role];
        let old = self.medium.node(id);
        let station = SimStation::restore(
            old.node().credentials().clone(),
            old.persisted().clone(),
            node_config(self.kinds[role], JITTER, UPGRADE_THRESHOLD),
            station_rng(
                self.seed ^ RNG_STREAM,
                role as u64 + 1000 * self.generations[role],
            ),
            at,
            App::Quiet,
        )
        .reporting_frames();
        *self.medium.node_mut(id) = station;
    }

    fn rloc(&self, role: Role) -> Option<Ipv6Addr> {
        self.medium.node(self.ids[role]).node().addresses().rloc()
    }
}

impl Backend for ThreadSim {
    fn now_s(&self) -> f64 {
        self.medium.now().as_micros() as f64 / 1e6
    }

    fn advance(&mut self, seconds: f64) -> Result<Vec<Seen>, String> {
        let end = self.medium.now() + Duration::from_micros((seconds.max(0.0) * 1e6).ceil() as u64);
        self.medium.run_until(end);
        let mut out = Vec::new();
        let events: Vec<_> = self.medium.drain_events().collect();
        for e in events {
            let MediumEvent::Station { at, node, event } = e else {
                continue;
            };
            let Some(role) = self.ids.iter().position(|&i| i == node) else {
                continue;
            };
            let Some(what) = thread_observed(self.medium.node(node), &event) else {
                continue;
            };
            out.push(Seen {
                at_s: at.as_micros() as f64 / 1e6,
                role,
                what,
            });
        }
        Ok(out)
    }

    fn provision(&mut self, _: Role, device: Role, _: Oob) -> Result<(), String> {
        self.not_mesh(device)
    }

    fn configure(&mut self, by: Role, _: Role, _: &ConfigItem) -> Result<(), String> {
        self.not_mesh(by)
    }

    fn send(
        &mut self,
        from: Role,
        _: Target,
        _: &str,
        _: bool,
        _: Option<u8>,
        _: Option<Role>,
    ) -> Result<(), String> {
        self.not_mesh(from)
    }

    fn cut(&mut self, a: Role, _: Role) -> Result<(), String> {
        self.not_mesh(a)
    }

    fn restore(&mut self, a: Role, _: Role) -> Result<(), String> {
        self.not_mesh(a)
    }

    fn power_cycle(&mut self, role: Role, off_s: f64) -> Result<(), String> {
        // Off until `at`: the new node hears nothing and sends nothing before it.
        let at = self.medium.now() + Duration::from_micros((off_s.max(0.0) * 1e6).ceil() as u64);
        self.restart(role, at);
        Ok(())
    }

    fn kill_restart(&mut self, role: Role) -> Result<(), String> {
        self.restart(role, self.medium.now());
        Ok(())
    }

    fn iv_update(&mut self, role: Role) -> Result<(), String> {
        self.not_mesh(role)
    }

    fn key_refresh(&mut self, by: Role, _: Role, _: u8) -> Result<(), String> {
        self.not_mesh(by)
    }

    fn node_reset(&mut self, by: Role, _: Role) -> Result<(), String> {
        self.not_mesh(by)
    }

    fn replay(&mut self, from: Role, _: Role) -> Result<(), String> {
        self.not_mesh(from)
    }

    fn ping(&mut self, from: Role, to: Role) -> Result<(), String> {
        let dst = self
            .rloc(to)
            .ok_or_else(|| format!("{} has no RLOC: not attached", self.names[to]))?;
        self.sequence = self.sequence.wrapping_add(1);
        let (now, sequence) = (self.medium.now(), self.sequence);
        let st = self.medium.node_mut(self.ids[from]);
        // The identifier names the sender (its RLOC16), as the Thread scenarios' pings do.
        let identifier = st.rloc16().unwrap_or(0);
        st.ping(now, dst, identifier, sequence, PING_DATA);
        Ok(())
    }

    fn view(&self, role: Role) -> RoleView {
        let st = self.medium.node(self.ids[role]);
        RoleView {
            thread_role: Some(st.role().as_str().into()),
            rloc: self.rloc(role),
            ..RoleView::default()
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        match self.pcap.take() {
            Some(c) => c
                .lock()
                .map_err(|_| "the capture writer panicked".to_string())?
                .finish(),
            None => Ok(()),
        }
    }
}
