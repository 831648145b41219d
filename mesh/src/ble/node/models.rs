//! The behaviour of the models a node hosts: Health Server (MshPRT §4.4.3), Generic OnOff and
//! Generic Level Servers (MshMDL §3.3.1, §3.3.2) and the Sensor Server (MshMDL §4.3.1), with
//! publication (MshPRT §3.7.6.1, §4.2.3). The Configuration Server's messages go to
//! [`super::config_server`]. Clients need no behaviour here: the statuses they receive are
//! [`Event::Access`](super::Event::Access) events for the application.

use std::collections::HashMap;

use rand_core::RngCore;

use crate::ble::address::Address;
use crate::ble::models::generic::GenericMessage;
use crate::ble::models::health::{FaultReport, HealthMessage};
use crate::ble::models::sensor::{SensorData, SensorMessage, SensorValue};
use crate::ble::models::{ModelId, ModelMessage};
use crate::ble::wire::access::AccessMessage;
use crate::time::{Duration, Instant};

use super::{Command, Event, KeyRef, Node};

/// How long a TID identifies one transaction from one source (MshMDL §3.3.2.2.3: 6 seconds).
pub const TID_WINDOW: Duration = Duration::from_secs(6);

/// A change of a server's state, reported as [`Event::State`](super::Event::State).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// Generic OnOff (MshMDL §3.1.1).
    OnOff(bool),
    /// Generic Level (MshMDL §3.1.2).
    Level(i16),
    /// Attention Timer, seconds (MshPRT §4.2.12).
    Attention(u8),
}

/// The run-time state of the servers of one node (not persisted).
#[derive(Debug, Default, Clone)]
pub struct ServerStates {
    /// Generic OnOff per element.
    pub onoff: HashMap<usize, bool>,
    /// Generic Level per element.
    pub level: HashMap<usize, i16>,
    /// Sensor values per element.
    pub sensors: HashMap<usize, Vec<SensorValue>>,
    /// Current faults of the Health Server (primary element).
    pub faults: Vec<u8>,
    /// Registered faults.
    pub registered: Vec<u8>,
    pub attention: u8,
    pub fast_period_divisor: u8,
    /// Last transaction per (source, element): TID and when it was seen.
    tids: HashMap<(Address, usize), (u8, Instant)>,
    /// When each (element, model) publishes next.
    pub(super) next_publish: HashMap<(usize, ModelId), Instant>,
}

/// The company ID the Health Server reports its faults under (Bluetooth SIG: 0x05F1, Linux
/// Foundation).
pub const HEALTH_COMPANY_ID: u16 = 0x05F1;

impl<R: RngCore> Node<R> {
    /// Server behaviour for an access message delivered to `element`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn model_rx(
        &mut self,
        now: Instant,
        element: usize,
        src: Address,
        key: KeyRef,
        net_index: u16,
        message: &AccessMessage,
    ) {
        let Ok(decoded) = ModelMessage::parse(message.opcode, &message.parameters) else {
            return;
        };
        let reply = match decoded {
            ModelMessage::Config(m) => {
                // The Configuration Server lives on the primary element and takes only the
                // device key (MshPRT §4.4.1).
                if element != 0 || key != KeyRef::Dev || !self.has_model(0, ModelId::CONFIG_SERVER)
                {
                    return;
                }
                self.config_rx(now, &m).map(|r| r.to_access())
            }
            ModelMessage::Health(m) => {
                if !self.bound(element, ModelId::HEALTH_SERVER, key) {
                    return;
                }
                self.health_rx(m).map(|r| r.to_access())
            }
            ModelMessage::Generic(m) => self.generic_rx(now, element, src, key, m),
            ModelMessage::Sensor(m) => {
                if !self.bound(element, ModelId::SENSOR_SERVER, key) {
                    return;
                }
                self.sensor_rx(element, m).map(|r| r.to_access())
            }
        };
        if let Some(message) = reply {
            self.handle_command(
                now,
                Command::Send {
                    element,
                    dst: src,
                    label: None,
                    key,
                    net_index,
                    ttl: None,
                    message,
                },
            );
        }
    }

    fn has_model(&self, element: usize, id: ModelId) -> bool {
        self.state
            .elements
            .get(element)
            .is_some_and(|e| e.models.iter().any(|m| m.id == id))
    }

    /// Whether `element` has model `id` bound to the application key `key` (MshPRT §3.7.4.4:
    /// a model only processes messages secured with a key bound to it).
    fn bound(&self, element: usize, id: ModelId, key: KeyRef) -> bool {
        let KeyRef::App(k) = key else { return false };
        self.state
            .elements
            .get(element)
            .and_then(|e| e.models.iter().find(|m| m.id == id))
            .is_some_and(|m| m.app_keys.contains(&k))
    }

    /// A new transaction, or a retransmission of the last one from this source (MshMDL
    /// §3.3.2.2.3)?
    fn new_transaction(&mut self, now: Instant, src: Address, element: usize, tid: u8) -> bool {
        let s = &mut self.servers;
        let fresh = match s.tids.get(&(src, element)) {
            Some(&(t, at)) => t != tid || now.saturating_since(at) >= TID_WINDOW,
            None => true,
        };
        s.tids.insert((src, element), (tid, now));
        if s.tids.len() > 1024 {
            s.tids
                .retain(|_, (_, at)| now.saturating_since(*at) < TID_WINDOW);
        }
        fresh
    }

    fn generic_rx(
        &mut self,
        now: Instant,
        element: usize,
        src: Address,
        key: KeyRef,
        m: GenericMessage,
    ) -> Option<AccessMessage> {
        use GenericMessage as G;
        match m {
            G::OnOffGet | G::OnOffSet(_) | G::OnOffSetUnacknowledged(_) => {
                if !self.bound(element, ModelId::GENERIC_ONOFF_SERVER, key) {
                    return None;
                }
                let ack = !matches!(m, G::OnOffSetUnacknowledged(_));
                if let G::OnOffSet(s) | G::OnOffSetUnacknowledged(s) = m {
                    if self.new_transaction(now, src, element, s.tid) {
                        self.set_onoff(now, element, s.on);
                    }
                }
                ack.then(|| self.onoff_status(element).to_access())
            }
            G::LevelGet
            | G::LevelSet(_)
            | G::LevelSetUnacknowledged(_)
            | G::DeltaSet(_)
            | G::DeltaSetUnacknowledged(_)
            | G::MoveSet(_)
            | G::MoveSetUnacknowledged(_) => {
                if !self.bound(element, ModelId::GENERIC_LEVEL_SERVER, key) {
                    return None;
                }
                let ack = matches!(
                    m,
                    G::LevelGet | G::LevelSet(_) | G::DeltaSet(_) | G::MoveSet(_)
                );
                let current = self.servers.level.get(&element).copied().unwrap_or(0);
                let target = match m {
                    G::LevelSet(s) | G::LevelSetUnacknowledged(s) => self
                        .new_transaction(now, src, element, s.tid)
                        .then_some(s.level),
                    // A Delta Set within one transaction is relative to the level at the
                    // transaction's start; without transitions, each new transaction adds
                    // its delta to the present level (MshMDL §3.3.2.2.3).
                    G::DeltaSet(d) | G::DeltaSetUnacknowledged(d) => self
                        .new_transaction(now, src, element, d.tid)
                        .then(|| (i32::from(current) + d.delta).clamp(-32768, 32767) as i16),
                    // Without transition time support a Move has no speed to apply: the level
                    // stays (MshMDL §3.3.2.2.4 with an unknown or zero transition time).
                    _ => None,
                };
                if let Some(level) = target {
                    self.set_level(now, element, level);
                }
                ack.then(|| self.level_status(element).to_access())
            }
            // Statuses are for clients; Default Transition Time is not hosted.
            _ => None,
        }
    }

    fn onoff_status(&self, element: usize) -> GenericMessage {
        GenericMessage::OnOffStatus {
            present: self.servers.onoff.get(&element).copied().unwrap_or(false),
            target: None,
        }
    }

    fn level_status(&self, element: usize) -> GenericMessage {
        GenericMessage::LevelStatus {
            present: self.servers.level.get(&element).copied().unwrap_or(0),
            target: None,
        }
    }

    /// Sets Generic OnOff on `element` (as a local action or a received Set), reporting and
    /// publishing the change (MshMDL §3.3.1.2.2: a state change is published).
    pub fn set_onoff(&mut self, now: Instant, element: usize, on: bool) {
        let old = self.servers.onoff.insert(element, on);
        if old != Some(on) {
            self.events.push_back(Event::State {
                element,
                change: StateChange::OnOff(on),
            });
            let status = self.onoff_status(element).to_access();
            self.publish(now, element, ModelId::GENERIC_ONOFF_SERVER, status);
        }
    }

    /// Sets Generic Level on `element`, reporting and publishing the change.
    pub fn set_level(&mut self, now: Instant, element: usize, level: i16) {
        let old = self.servers.level.insert(element, level);
        if old != Some(level) {
            self.events.push_back(Event::State {
                element,
                change: StateChange::Level(level),
            });
            let status = self.level_status(element).to_access();
            self.publish(now, element, ModelId::GENERIC_LEVEL_SERVER, status);
        }
    }

    /// Sets the values a Sensor Server on `element` reports.
    pub fn set_sensor_values(&mut self, element: usize, values: Vec<SensorValue>) {
        self.servers.sensors.insert(element, values);
    }

    /// The Generic OnOff state of `element`, if it has been set.
    pub fn onoff(&self, element: usize) -> Option<bool> {
        self.servers.onoff.get(&element).copied()
    }

    /// The Generic Level state of `element`, if it has been set.
    pub fn level(&self, element: usize) -> Option<i16> {
        self.servers.level.get(&element).copied()
    }

    fn sensor_status(&self, element: usize, property: Option<u16>) -> SensorMessage {
        let values = self
            .servers
            .sensors
            .get(&element)
            .cloned()
            .unwrap_or_default();
        let data: Vec<SensorData> = values
            .iter()
            .filter(|v| property.is_none_or(|p| v.property_id() == p))
            .map(|v| v.to_sensor_data())
            .collect();
        match (property, data.is_empty()) {
            // A property this server doesn't have: its ID with a zero-length value
            // (MshMDL §4.3.1.2.3).
            (Some(p), true) => SensorMessage::Status(vec![SensorData {
                property_id: p,
                raw: Vec::new(),
            }]),
            _ => SensorMessage::Status(data),
        }
    }

    fn sensor_rx(&mut self, element: usize, m: SensorMessage) -> Option<SensorMessage> {
        use crate::ble::models::sensor::{DescriptorStatus, SensorDescriptor};
        match m {
            SensorMessage::Get { property_id } => Some(self.sensor_status(element, property_id)),
            SensorMessage::DescriptorGet { property_id } => {
                let values = self
                    .servers
                    .sensors
                    .get(&element)
                    .cloned()
                    .unwrap_or_default();
                let descriptors: Vec<SensorDescriptor> = values
                    .iter()
                    .filter(|v| property_id.is_none_or(|p| v.property_id() == p))
                    .map(|v| SensorDescriptor {
                        property_id: v.property_id(),
                        positive_tolerance: 0,
                        negative_tolerance: 0,
                        sampling_function: 0,
                        measurement_period: 0,
                        update_interval: 0,
                    })
                    .collect();
                Some(SensorMessage::DescriptorStatus(
                    match (property_id, descriptors.is_empty()) {
                        (Some(p), true) => DescriptorStatus::NotFound(p),
                        _ => DescriptorStatus::Descriptors(descriptors),
                    },
                ))
            }
            _ => None,
        }
    }

    fn health_rx(&mut self, m: HealthMessage) -> Option<HealthMessage> {
        use HealthMessage as H;
        let report = |faults: &[u8]| FaultReport {
            test_id: 0,
            company_id: HEALTH_COMPANY_ID,
            faults: faults.to_vec(),
        };
        match m {
            H::FaultGet { company_id } => (company_id == HEALTH_COMPANY_ID)
                .then(|| H::FaultStatus(report(&self.servers.registered))),
            H::FaultClear { company_id } | H::FaultClearUnacknowledged { company_id } => {
                if company_id != HEALTH_COMPANY_ID {
                    return None;
                }
                self.servers.registered.clear();
                matches!(m, H::FaultClear { .. }).then(|| H::FaultStatus(report(&[])))
            }
            // Test 0x00 is the standard test; it finds nothing wrong with a simulated node.
            H::FaultTest {
                company_id,
                test_id,
            } => (company_id == HEALTH_COMPANY_ID && test_id == 0)
                .then(|| H::FaultStatus(report(&self.servers.registered))),
            H::FaultTestUnacknowledged { .. } => None,
            H::PeriodGet => Some(H::PeriodStatus {
                fast_period_divisor: self.servers.fast_period_divisor,
            }),
            H::PeriodSet {
                fast_period_divisor,
            }
            | H::PeriodSetUnacknowledged {
                fast_period_divisor,
            } => {
                self.servers.fast_period_divisor = fast_period_divisor;
                matches!(m, H::PeriodSet { .. }).then_some(H::PeriodStatus {
                    fast_period_divisor,
                })
            }
            H::AttentionGet => Some(H::AttentionStatus {
                attention: self.servers.attention,
            }),
            H::AttentionSet { attention } | H::AttentionSetUnacknowledged { attention } => {
                self.servers.attention = attention;
                self.events.push_back(Event::State {
                    element: 0,
                    change: StateChange::Attention(attention),
                });
                matches!(m, H::AttentionSet { .. }).then_some(H::AttentionStatus { attention })
            }
            _ => None,
        }
    }

    /// Publishes `message` from model `id` of `element`, if the model has a publication
    /// (MshPRT §3.7.6.1), with its retransmissions (§4.2.3.7).
    pub(super) fn publish(
        &mut self,
        now: Instant,
        element: usize,
        id: ModelId,
        message: AccessMessage,
    ) {
        let Some(p) = self
            .state
            .elements
            .get(element)
            .and_then(|e| e.models.iter().find(|m| m.id == id))
            .and_then(|m| m.publication.clone())
        else {
            return;
        };
        if p.address.is_unassigned() {
            return;
        }
        let ttl = (p.params.ttl != 0xFF).then_some(p.params.ttl);
        let send = Command::Send {
            element,
            dst: p.address,
            label: p.label,
            key: KeyRef::App(p.params.app_key_index.get()),
            net_index: 0,
            ttl,
            message,
        };
        self.handle_command(now, send.clone());
        // Retransmissions are new messages with new sequence numbers (§3.7.6.1.1? of 1.1:
        // "Publish Retransmit Count" copies spaced by the retransmit interval).
        for k in 1..=u64::from(p.params.retransmit.count) {
            let at = now + p.retransmit_interval().saturating_mul(k);
            self.deferred.push((at, send.clone()));
        }
    }

    /// Periodic publication (MshPRT §4.2.3.5): each server with a publish period publishes its
    /// state when its period comes round.
    pub(super) fn publication_timer(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (e, el) in self.state.elements.iter().enumerate() {
            for m in &el.models {
                let Some(period) = m.publication.as_ref().and_then(|p| p.period()) else {
                    self.servers.next_publish.remove(&(e, m.id));
                    continue;
                };
                let next = *self
                    .servers
                    .next_publish
                    .entry((e, m.id))
                    .or_insert(now + period);
                if next <= now {
                    self.servers.next_publish.insert((e, m.id), now + period);
                    due.push((e, m.id));
                }
            }
        }
        for (e, id) in due {
            let status = match id {
                ModelId::GENERIC_ONOFF_SERVER => Some(self.onoff_status(e).to_access()),
                ModelId::GENERIC_LEVEL_SERVER => Some(self.level_status(e).to_access()),
                ModelId::SENSOR_SERVER => Some(self.sensor_status(e, None).to_access()),
                ModelId::HEALTH_SERVER => Some(
                    HealthMessage::CurrentStatus(FaultReport {
                        test_id: 0,
                        company_id: HEALTH_COMPANY_ID,
                        faults: self.servers.faults.clone(),
                    })
                    .to_access(),
                ),
                _ => None,
            };
            if let Some(s) = status {
                self.publish(now, e, id, s);
            }
        }
        let ready: Vec<Command> = {
            let mut v = Vec::new();
            self.deferred.retain(|(at, c)| {
                if *at <= now {
                    v.push(c.clone());
                    false
                } else {
                    true
                }
            });
            v
        };
        for c in ready {
            self.handle_command(now, c);
        }
    }

    /// When publication work is next due.
    pub(super) fn publication_timeout(&self) -> Option<Instant> {
        let periodic = self.servers.next_publish.values().min().copied();
        let unscheduled = self.state.elements.iter().enumerate().any(|(e, el)| {
            el.models.iter().any(|m| {
                m.publication.as_ref().and_then(|p| p.period()).is_some()
                    && !self.servers.next_publish.contains_key(&(e, m.id))
            })
        });
        let deferred = self.deferred.iter().map(|(at, _)| *at).min();
        [periodic, deferred, unscheduled.then_some(self.now)]
            .into_iter()
            .flatten()
            .min()
    }
}
