//! The stations a role becomes on the simulator: a device offering an OOB class, a node
//! started again from what it persisted, and the messages and plans they are given.

use super::*;
use weft_mesh::ble::cdb::Cdb;

impl SimBackend {
    /// A fresh unprovisioned device for `role`, offering `oob`.
    pub(in crate::hil) fn device(&mut self, role: Role, oob: Oob) -> ScenarioStation {
        self.restarts += 1;
        let r = &self.roles[role];
        let algs = Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256);
        let caps = match oob {
            Oob::None => Capabilities::no_oob(1, algs),
            Oob::Static => Capabilities::offering(1, algs, AuthMethod::StaticOob),
            Oob::OutputNumeric => Capabilities::offering(
                1,
                algs,
                AuthMethod::OutputOob {
                    action: OutputOobAction::OutputNumeric,
                    size: 4,
                },
            ),
            Oob::InputNumeric => Capabilities::offering(
                1,
                algs,
                AuthMethod::InputOob {
                    action: InputOobAction::InputNumeric,
                    size: 4,
                },
            ),
        };
        let mut cfg = DeviceConfig::new(caps);
        cfg.static_oob = (oob == Oob::Static).then(|| STATIC_OOB.to_vec());
        let stream = 0x1000 + self.restarts;
        let device = Device::new(
            station_rng(self.seed ^ 0x4849_4c44, stream),
            self.uuids[role],
            weft_mesh::ble::wire::beacon::OobInformation(0),
            None,
            cfg,
        );
        let planned = PlannedDevice {
            name: r.name.clone(),
            uuid: self.uuids[role],
            position: None,
            relay: r.relays(),
            models: r.models.clone(),
            subscribe: Vec::new(),
            ttl: r.ttl,
        };
        let profile = DeviceProfile {
            elements: vec![crate::sim::device_element(&planned)],
            relay: r.relays(),
            default_ttl: r.ttl,
        };
        let rng = station_rng(self.seed ^ 0x4e4f_4445, stream);
        ScenarioStation::Device(DeviceNode::new(device, profile, rng))
    }

    /// The station `role` starts again as, from what it persisted.
    pub(super) fn restarted(&mut self, role: Role) -> Result<ScenarioStation, String> {
        let (state, rpl) = self.saved[role].clone().ok_or_else(|| {
            format!(
                "{} has persisted nothing to restart from",
                self.roles[role].name
            )
        })?;
        let cdb = match self.sim.node(self.ids[role]) {
            ScenarioStation::Provisioner(p) => Some(p.cdb().clone()),
            ScenarioStation::Client(_) => self.client_cdb(role),
            _ => None,
        };
        // A Proxy Client restarts as what it was before (its connection is gone).
        self.clients.remove(&role);
        Ok(self.station_from(state, &rpl, cdb))
    }

    /// A node started from persisted state: the provisioner node when there is a network
    /// database (`cdb`), else a node.
    pub(in crate::hil) fn station_from(
        &mut self,
        state: NodeState,
        rpl: &ReplayProtectionList,
        cdb: Option<Cdb>,
    ) -> ScenarioStation {
        self.restarts += 1;
        let stream = 0x2000 + self.restarts;
        let mut node = Node::new(state, station_rng(self.seed ^ 0x5253_5452, stream));
        node.restore_rpl(rpl);
        match cdb {
            Some(cdb) => {
                let mut station =
                    ProvisionerNode::new(node, station_rng(self.seed ^ 0x5052_4f56, stream), cdb);
                station.set_configure(Some(self.plan(None, None)));
                ScenarioStation::Provisioner(station)
            }
            None => ScenarioStation::Node(node),
        }
    }

    /// Takes `role`'s station as the scenario built it (for a role process, which runs it on
    /// a radio of its own); a fresh device is left in its place.
    pub(in crate::hil) fn take_station(&mut self, role: Role) -> ScenarioStation {
        let device = self.device(role, Oob::None);
        std::mem::replace(self.sim.node_mut(self.ids[role]), device)
    }

    /// Draws later random streams as if `n` stations had been made (a role process started
    /// again must not draw what the one before it drew).
    pub(in crate::hil) fn skip_streams(&mut self, n: u64) {
        self.restarts += n;
    }

    /// The application key, and the new network and application keys of a Key Refresh.
    pub(in crate::hil) fn keys(&self) -> ([u8; 16], ([u8; 16], [u8; 16])) {
        (self.app_key, self.new_keys)
    }

    /// Each role's Device UUID.
    pub(in crate::hil) fn uuid(&self, role: Role) -> [u8; 16] {
        self.uuids[role]
    }

    pub(in crate::hil) fn plan(
        &self,
        subscribe: Option<u16>,
        publish: Option<u16>,
    ) -> ConfigurePlan {
        ConfigurePlan {
            net_key_index: KeyIndex::from_bits(0),
            app_key_index: KeyIndex::from_bits(0),
            app_key: self.app_key,
            subscribe: subscribe.map(Address),
            publish: publish.map(Address),
        }
    }
}

/// The OOB class of an authentication method, as `provision` steps name them.
pub(in crate::hil) fn auth_name(a: AuthMethod) -> String {
    match a {
        AuthMethod::NoOob => "none".into(),
        AuthMethod::StaticOob => "static".into(),
        AuthMethod::OutputOob {
            action: OutputOobAction::OutputNumeric,
            ..
        } => "output-numeric".into(),
        AuthMethod::InputOob {
            action: InputOobAction::InputNumeric,
            ..
        } => "input-numeric".into(),
        other => format!("{other:?}"),
    }
}

/// A vendor message whose access payload is 380 octets (3-octet opcode + 377): 32 segments,
/// the most a segmented access message can have (MshPRT §3.5.2.2).
fn large_message(tag: u8) -> AccessMessage {
    let params: Vec<u8> = (0..377u32)
        .map(|i| (i * 7 + u32::from(tag)) as u8)
        .collect();
    AccessMessage::new(
        Opcode::Vendor {
            opcode: 0x01,
            company_id: 0x05f1,
        },
        params,
    )
}

/// A period in seconds as a Period Log (MshPRT §4.2.17.3).
pub(in crate::hil) fn period_log(s: u32) -> u8 {
    match s {
        0 => 0,
        p => (p.min(1 << 16).ilog2() + 1) as u8,
    }
}

/// The access message a `send` step names (`onoff-set`, `onoff-set-unack`, `onoff-get`, else
/// `large`), with this transaction identifier.
pub(in crate::hil) fn access_message(message: &str, on: bool, tid: u8) -> AccessMessage {
    use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet};
    match message {
        "onoff-set" => GenericMessage::OnOffSet(OnOffSet {
            on,
            tid,
            transition: None,
        })
        .to_access(),
        "onoff-set-unack" => GenericMessage::OnOffSetUnacknowledged(OnOffSet {
            on,
            tid,
            transition: None,
        })
        .to_access(),
        "onoff-get" => GenericMessage::OnOffGet.to_access(),
        _ => large_message(tid),
    }
}

/// Key Refresh at the node that drives it (MshPRT §3.11.4): phase 1 takes the new keys, 2 and
/// 3 move its phase (3 ends at Normal).
pub(in crate::hil) fn key_refresh_local(
    n: &mut Node<ChaCha8Rng>,
    phase: u8,
    net: [u8; 16],
    app: [u8; 16],
) {
    match phase {
        1 => {
            n.update_state(|s| {
                s.net_keys[0].new_key = Some(net);
                s.app_keys[0].new_key = Some(app);
            });
            n.set_key_refresh_phase(0, KeyRefreshPhase::First);
        }
        2 => n.set_key_refresh_phase(0, KeyRefreshPhase::Second),
        _ => n.set_key_refresh_phase(0, KeyRefreshPhase::Normal),
    }
}
