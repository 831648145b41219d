//! What the simulator's stations report, turned into what a scenario sees; and the user and
//! the runtime played meanwhile (OOB values carried, state persisted, config queues, resets).

use super::stations::auth_name;
use super::*;
use crate::hil::backend::Observed;

impl SimBackend {
    /// Turns the simulator's events into what the scenario sees, and plays the user and the
    /// runtime (OOB values, persisted state, config queues, forgotten nodes).
    pub(super) fn drain(&mut self, out: &mut Vec<Seen>) {
        let events: Vec<_> = self.sim.drain_events().collect();
        for ev in events {
            let SimEvent::Station { at, node, event } = ev else {
                continue;
            };
            let Some(role) = self.ids.iter().position(|&i| i == node) else {
                continue;
            };
            let at_s = self.secs(at);
            let mut see = |what| out.push(Seen { at_s, role, what });
            match event {
                StationEvent::Node(e) if node_observed(&e).is_some() => {
                    if let Some(what) = node_observed(&e) {
                        if let Observed::OnOff { on } = what {
                            self.onoff[role] = Some(on);
                        }
                        see(what);
                    }
                }
                StationEvent::Node(e) => match e {
                    Event::Sent { src, seq, ctl, .. } if Some(src.0) == self.address(role) => {
                        let iv = self
                            .sim
                            .node(node)
                            .as_node()
                            .map_or(0, |n| n.tx_iv_index().0);
                        see(Observed::Sent {
                            seq: seq.get(),
                            iv_index: iv,
                            ctl,
                        });
                    }
                    Event::PersistState => {
                        if let Some(n) = self.sim.node(node).as_node() {
                            self.saved[role] = Some((n.state().clone(), n.rpl().clone()));
                        }
                    }
                    Event::NodeReset => {
                        see(Observed::NodeReset);
                        self.forget.push((at + RESET_LINGER, role));
                    }
                    _ => {}
                },
                StationEvent::Provisioner(ProvisionerEvent::Session { device_uuid, event }) => {
                    let device = self.uuids.iter().position(|u| *u == device_uuid);
                    match event {
                        SessionEvent::OobOutput { value, .. } => {
                            if let Some(d) = device {
                                self.to_dev.insert(d, value);
                            }
                        }
                        SessionEvent::OobInputNeeded { .. } => {
                            self.prov_asks.insert(device_uuid);
                        }
                        SessionEvent::Complete(p) => {
                            if let Some(d) = device {
                                self.auth[d] = Some(auth_name(p.authentication));
                            }
                        }
                        SessionEvent::Failed(f) => {
                            if let Some(d) = device {
                                out.push(Seen {
                                    at_s,
                                    role: d,
                                    what: Observed::ProvisionFailed {
                                        reason: format!("{f:?}"),
                                    },
                                });
                            }
                        }
                        _ => {}
                    }
                }
                StationEvent::Device(DeviceEvent::Session(e)) => match e {
                    SessionEvent::OobOutput { value, .. } => {
                        self.to_prov.insert(self.uuids[role], value);
                    }
                    SessionEvent::OobInputNeeded { .. } => {
                        self.dev_asks.insert(role);
                    }
                    SessionEvent::Complete(p) => {
                        self.auth[role] = Some(auth_name(p.authentication))
                    }
                    _ => {}
                },
                StationEvent::Provisioned { address, .. } => {
                    if let Ok(mut a) = self.addresses.lock() {
                        a[role] = address;
                    }
                    if self.roles[role].kind == RoleKind::Proxy {
                        // A proxy role's firmware has the Proxy Server, on (as `weft node
                        // --proxy`) until a Configuration Client turns it off.
                        self.sim.schedule(at, node, |s, _| {
                            if let Some(n) = s.as_node_mut() {
                                n.update_state(|st| st.gatt_proxy = Some(true));
                            }
                        });
                    }
                    see(Observed::Provisioned { address });
                }
                StationEvent::Proxy(e) => self.proxy_event(role, at, &e),
                StationEvent::ProxyFound(a) => self.proxy_found(role, at, a),
                StationEvent::Config(c) => match c {
                    ConfigClientEvent::Done { node: n } => {
                        let Some(target) = self.role_of_address(n.get()) else {
                            continue;
                        };
                        match self
                            .config_queue
                            .get_mut(&target)
                            .and_then(VecDeque::pop_front)
                        {
                            Some(next) => self.sim.schedule(at, node, move |s, _| {
                                let _ = s.config_request(n, next);
                            }),
                            None => see(Observed::ConfigDone { node: target }),
                        }
                    }
                    ConfigClientEvent::Failed {
                        node: n,
                        request,
                        reason,
                    } => {
                        let Some(target) = self.role_of_address(n.get()) else {
                            continue;
                        };
                        self.config_queue.remove(&target);
                        see(Observed::ConfigFailed {
                            node: target,
                            reason: format!("{request:?} failed: {reason:?}"),
                        });
                    }
                    ConfigClientEvent::Answered { .. } => {}
                },
                _ => {}
            }
        }
        // The replay protection lists, as the runtime saves them.
        for role in 0..self.ids.len() {
            if let (Some(n), Some(saved)) = (
                self.sim.node(self.ids[role]).as_node(),
                self.saved[role].as_mut(),
            ) {
                saved.1 = n.rpl().clone();
            }
        }
        // The user types what one side showed into the other once it asks.
        let now = self.sim.now();
        for uuid in self.prov_asks.clone() {
            if let (Some(v), Some(p)) = (
                self.to_prov.remove(&uuid),
                self.roles
                    .iter()
                    .position(|r| r.kind == RoleKind::Provisioner),
            ) {
                self.prov_asks.remove(&uuid);
                self.sim.schedule(now, self.ids[p], move |s, now| {
                    if let ScenarioStation::Provisioner(p) = s {
                        let _ = p.input_oob(now, uuid, v);
                    }
                });
            }
        }
        for role in self.dev_asks.clone() {
            if let Some(v) = self.to_dev.remove(&role) {
                self.dev_asks.remove(&role);
                self.sim.schedule(now, self.ids[role], move |s, now| {
                    if let ScenarioStation::Device(d) = s {
                        let _ = d.device_mut().input_oob(now, v);
                    }
                });
            }
        }
    }
}

/// What a scenario sees of a node's event, for the events that need nothing but the event
/// (the others: `Sent` needs the node's address and IV Index, `PersistState` and `NodeReset`
/// are the runtime's to act on).
pub(in crate::hil) fn node_observed(e: &Event) -> Option<Observed> {
    Some(match e {
        Event::State {
            change: StateChange::OnOff(on),
            ..
        } => Observed::OnOff { on: *on },
        Event::Access {
            src, ttl, message, ..
        } => Observed::Received {
            src: src.0,
            message: message_name(message),
            ttl: *ttl,
        },
        Event::Heartbeat { src, hops, .. } => Observed::Heartbeat {
            src: src.0,
            hops: *hops,
        },
        Event::IvIndex { iv_index, updating } => Observed::IvIndex {
            iv_index: iv_index.0,
            updating: *updating,
        },
        Event::KeyRefresh {
            net_index: 0,
            phase,
        } => Observed::KeyRefresh {
            phase: phase.to_u8(),
        },
        Event::Dropped { reason } => Observed::Dropped {
            reason: reason.as_str().into(),
        },
        Event::Sar {
            outcome, segments, ..
        } => Observed::Sar {
            complete: outcome.is_none(),
            segments: *segments,
        },
        _ => return None,
    })
}

/// A message's name for `wait` steps: the specification's, or its opcode in hex.
fn message_name(m: &AccessMessage) -> String {
    m.name()
        .map_or_else(|| hex::encode(m.opcode.to_bytes()), str::to_string)
}
