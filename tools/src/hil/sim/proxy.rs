//! `send` through a proxy on the simulator, as `weft send --proxy` does it on a radio
//! (`crate::proxied`): the sender's node stops using the advertising bearer and becomes a
//! Proxy Client ([`ProxyClient`], MshPRT §6.8) of the proxy node, from the state it persisted;
//! once connected and its address is on the proxy's accept list (the Filter Status, §6.6.4),
//! the message goes out on the connection. The next action that needs the advertising bearer
//! (provisioning, configuring, a plain `send`) ends the connection and starts the node there
//! again from its state, the provisioner with its network database, as the next `weft`
//! command would.
//!
//! The proxy's device address comes from the simulator (the slot it advertises from), where
//! `weft send --proxy` resolves it from the proxy's Node Identity advertising.

use super::*;
use weft_mesh::ble::cdb::Cdb;
use weft_mesh::ble::proxy::{ProxyClient, ProxyClientEvent};

/// A role that is a Proxy Client now.
#[derive(Default)]
pub(super) struct Client {
    /// The proxy node it is a client of.
    proxy: Role,
    /// The provisioner's network database while its node is a client.
    cdb: Option<Cdb>,
    /// Whether the proxy's Filter Status came: sends go out at once.
    ready: bool,
    /// Sends waiting for the Filter Status.
    waiting: Vec<Command>,
}

impl SimBackend {
    /// `from` sends `cmd` through `proxy`'s GATT connection, becoming its client first.
    pub(super) fn send_through(
        &mut self,
        from: Role,
        proxy: Role,
        cmd: Command,
    ) -> Result<(), String> {
        self.unicast(proxy)?;
        if self.clients.get(&from).is_some_and(|c| c.proxy != proxy) {
            self.on_advertising(from);
        }
        if !self.clients.contains_key(&from) {
            let id = self.ids[from];
            let (state, rpl, cdb) = {
                let st = self.sim.node(id);
                let n = st
                    .as_node()
                    .ok_or_else(|| format!("{} is not a node", self.roles[from].name))?;
                let cdb = match st {
                    ScenarioStation::Provisioner(p) => Some(p.cdb().clone()),
                    _ => None,
                };
                (n.state().clone(), n.rpl().clone(), cdb)
            };
            let ScenarioStation::Node(node) = self.station_from(state, &rpl, None) else {
                return Err("a node without a database is a node".into());
            };
            let mut client = ProxyClient::new(node);
            client.connect_to(self.sim.adv_address(self.ids[proxy]));
            let now = self.sim.now();
            self.sim
                .schedule(now, id, move |s, _| *s = ScenarioStation::Client(client));
            self.clients.insert(
                from,
                Client {
                    proxy,
                    cdb,
                    ..Client::default()
                },
            );
        }
        let c = self.clients.get_mut(&from).expect("inserted above");
        if c.ready {
            let now = self.sim.now();
            self.sim.schedule(now, self.ids[from], move |s, now| {
                if let Some(n) = s.as_node_mut() {
                    n.handle_command(now, cmd);
                }
            });
        } else {
            c.waiting.push(cmd);
        }
        Ok(())
    }

    /// What a client's connection reported: on the Filter Status, the waiting sends go out.
    pub(super) fn proxy_event(&mut self, role: Role, at: Instant, e: &ProxyClientEvent) {
        let Some(c) = self.clients.get_mut(&role) else {
            return;
        };
        match e {
            ProxyClientEvent::FilterStatus { .. } => {
                c.ready = true;
                for cmd in std::mem::take(&mut c.waiting) {
                    self.sim.schedule(at, self.ids[role], move |s, now| {
                        if let Some(n) = s.as_node_mut() {
                            n.handle_command(now, cmd);
                        }
                    });
                }
            }
            ProxyClientEvent::Disconnected { reason, .. } => {
                tracing::info!(target: "weft::hil", "{}: the proxy connection closed ({reason:?})", self.roles[role].name);
                c.ready = false;
            }
            ProxyClientEvent::ConnectFailed { .. } => {
                tracing::info!(target: "weft::hil", "{}: the proxy connection could not be made", self.roles[role].name);
            }
            _ => {}
        }
    }

    /// The database a role that is a Proxy Client now left behind, if it was the provisioner.
    pub(super) fn client_cdb(&self, role: Role) -> Option<Cdb> {
        self.clients.get(&role).and_then(|c| c.cdb.clone())
    }

    /// Puts `role` back on the advertising bearer if it is a Proxy Client: the connection
    /// ends and its node starts again there from its state (the provisioner with its
    /// database).
    pub(super) fn on_advertising(&mut self, role: Role) {
        let Some(c) = self.clients.remove(&role) else {
            return;
        };
        let id = self.ids[role];
        let Some(n) = self.sim.node(id).as_node() else {
            return;
        };
        let (state, rpl) = (n.state().clone(), n.rpl().clone());
        let station = self.station_from(state, &rpl, c.cdb);
        self.sim.detach_node(id);
        let now = self.sim.now();
        self.sim.schedule(now, id, move |s, _| *s = station);
        self.relink(role);
    }
}
