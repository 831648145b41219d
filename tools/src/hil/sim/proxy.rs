//! `send` through a proxy on the simulator, as `weft send --proxy` does it on a radio
//! (`crate::proxied`): the sender's node first looks for the proxy's Node Identity
//! advertising (MshPRT §7.2.2.2.3) as `crate::proxied::Finder` (which asks the proxy for it
//! with Config Node Identity Set every 2 s), then becomes a Proxy Client ([`ProxyClient`],
//! §6.8) of the device address it heard; once connected and its address is on the proxy's
//! accept list (the Filter Status, §6.6.4), the message goes out on the connection. Each
//! stage is the node started again from its state, as the command's stages are. The next
//! action that needs the advertising bearer (provisioning, configuring, a plain `send`) ends
//! the connection and starts the node there again, the provisioner with its network
//! database, as the next `weft` command would. The simulator advertises what each node
//! accepts connections for every [`CONNECTABLE_EVERY`] in scenarios with a proxy role.

use super::*;
use weft_mesh::ble::cdb::Cdb;
use weft_mesh::ble::crypto::NetKey;
use weft_mesh::ble::proxy::{ProxyClient, ProxyClientEvent};

use crate::proxied::Finder;
use crate::radios::proxies::Keys;

/// How often each node advertises what it accepts connections for (as the live hub does;
/// unverified against Zephyr's proxy advertising interval).
pub(super) const CONNECTABLE_EVERY: Duration = Duration::from_millis(500);

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
            // The network's keys (old and new during a key refresh) resolve the identity.
            let mut subnets = Vec::new();
            for k in &state.net_keys {
                subnets.push((k.index, NetKey::new(k.key)));
                if let Some(new) = k.new_key {
                    subnets.push((k.index, NetKey::new(new)));
                }
            }
            let target = self.unicast(proxy)?;
            let keys = Keys {
                subnets,
                nodes: vec![target],
            };
            let ScenarioStation::Node(node) = self.station_from(state, &rpl, None) else {
                return Err("a node without a database is a node".into());
            };
            let finder = Finder::new(node, target, keys);
            let now = self.sim.now();
            self.sim
                .schedule(now, id, move |s, _| *s = ScenarioStation::Finder(finder));
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

    /// The node of `role` heard its proxy's Node Identity from `address`: it connects there as
    /// a Proxy Client.
    pub(super) fn proxy_found(&mut self, role: Role, at: Instant, address: [u8; 6]) {
        if !self.clients.contains_key(&role) {
            return;
        }
        let id = self.ids[role];
        let Some(n) = self.sim.node(id).as_node() else {
            return;
        };
        let (state, rpl) = (n.state().clone(), n.rpl().clone());
        let ScenarioStation::Node(node) = self.station_from(state, &rpl, None) else {
            return;
        };
        let mut client = ProxyClient::new(node);
        client.connect_to(address);
        self.sim
            .schedule(at, id, move |s, _| *s = ScenarioStation::Client(client));
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
