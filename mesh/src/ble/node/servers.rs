//! The servers a node hosts (MshPRT §3.7.4.4, §3.7.6.1, §4.2.3): delivering access messages to
//! the Configuration, Health, Generic and Sensor Servers, their run-time state, and
//! publication. The servers themselves are beside their messages:
//! [`crate::ble::foundation::config::server`], [`crate::ble::foundation::health::server`],
//! [`crate::ble::models::generic::server`] and [`crate::ble::models::sensor::server`]. Clients
//! need no behaviour here: the statuses they receive are [`Event::Access`] events for the
//! application.

use std::collections::HashMap;

use rand_core::RngCore;

use crate::ble::address::Address;
use crate::ble::foundation::health::server::{HealthServerState, HEALTH_COMPANY_ID};
use crate::ble::foundation::health::{FaultReport, HealthMessage};
use crate::ble::models::generic::server::GenericServerStates;
use crate::ble::models::generic::GenericMessage;
use crate::ble::models::sensor::server::SensorServerStates;
use crate::ble::models::{ModelId, ModelMessage};
use crate::ble::wire::access::AccessMessage;
use crate::time::{Duration, Instant};

use super::{Command, Event, KeyRef, Node};

/// A change of a server's state, reported as [`Event::State`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// Generic OnOff (MshMDL §3.1.1).
    OnOff(bool),
    /// Generic Level (MshMDL §3.1.2).
    Level(i16),
    /// A Generic OnOff transition starts (MshMDL §3.3.1.2.2): the present state (MshMDL
    /// §3.1.1.1: On from the start when going On, On until the end when going Off), the target
    /// and the time until it is reached. [`StateChange::OnOff`] follows when it ends.
    OnOffTransition {
        present: bool,
        target: bool,
        remaining: Duration,
    },
    /// A Generic Level transition starts (MshMDL §3.3.2.2): the present level, the target and
    /// the time until it is reached (`None` for a Move, MshMDL §3.3.2.2.4, which runs to the
    /// end of the range unless a new message stops it). [`StateChange::Level`] follows when it
    /// ends.
    LevelTransition {
        present: i16,
        target: i16,
        remaining: Option<Duration>,
    },
    /// Attention Timer, seconds (MshPRT §4.2.12).
    Attention(u8),
}

/// The run-time state of the servers of one node (not persisted).
#[derive(Debug, Default, Clone)]
pub(crate) struct ServerStates {
    /// The Generic OnOff, Level and Default Transition Time Servers.
    pub(crate) generic: GenericServerStates,
    /// The Sensor Servers.
    pub(crate) sensor: SensorServerStates,
    /// The Health Server.
    pub(crate) health: HealthServerState,
    /// When each (element, model) publishes next.
    pub(super) next_publish: HashMap<(usize, ModelId), Instant>,
}

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

    pub(crate) fn has_model(&self, element: usize, id: ModelId) -> bool {
        self.state
            .elements
            .get(element)
            .is_some_and(|e| e.models.iter().any(|m| m.id == id))
    }

    /// Whether `element` has model `id` bound to the application key `key` (MshPRT §3.7.4.4:
    /// a model only processes messages secured with a key bound to it).
    pub(crate) fn bound(&self, element: usize, id: ModelId, key: KeyRef) -> bool {
        let KeyRef::App(k) = key else { return false };
        self.state
            .elements
            .get(element)
            .and_then(|e| e.models.iter().find(|m| m.id == id))
            .is_some_and(|m| m.app_keys.contains(&k))
    }

    /// The servers' run-time state, for the servers' own files.
    pub(crate) fn servers(&self) -> &ServerStates {
        &self.servers
    }

    /// The servers' run-time state, for the servers' own files.
    pub(crate) fn servers_mut(&mut self) -> &mut ServerStates {
        &mut self.servers
    }

    /// Queues an event for the application (a server's state change).
    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// The node's present time: the instant of the last `handle_*` call.
    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    /// Sets the node's present time without running its timers (tests of the servers).
    #[cfg(test)]
    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// Publishes `message` from model `id` of `element`, if the model has a publication
    /// (MshPRT §3.7.6.1), with its retransmissions (§4.2.3.7).
    pub(crate) fn publish(
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

    /// Transitions that start or end (reported and published), then periodic publication
    /// (MshPRT §4.2.3.5): each server with a publish period publishes its state when its period
    /// comes round.
    pub(super) fn publication_timer(&mut self, now: Instant) {
        self.transition_timer(now);
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
                ModelId::GENERIC_ONOFF_SERVER => Some(self.onoff_status(e, now).to_access()),
                ModelId::GENERIC_LEVEL_SERVER => Some(self.level_status(e, now).to_access()),
                ModelId::GENERIC_DEFAULT_TRANSITION_TIME_SERVER => Some(
                    GenericMessage::DefaultTransitionTimeStatus {
                        time: self.default_transition_time(e),
                    }
                    .to_access(),
                ),
                ModelId::SENSOR_SERVER => Some(self.sensor_status(e, None).to_access()),
                ModelId::HEALTH_SERVER => Some(
                    HealthMessage::CurrentStatus(FaultReport {
                        test_id: 0,
                        company_id: HEALTH_COMPANY_ID,
                        faults: self.servers.health.faults.clone(),
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

    /// When publication work (or a transition's start or end) is next due.
    pub(super) fn publication_timeout(&self) -> Option<Instant> {
        let periodic = self.servers.next_publish.values().min().copied();
        let unscheduled = self.state.elements.iter().enumerate().any(|(e, el)| {
            el.models.iter().any(|m| {
                m.publication.as_ref().and_then(|p| p.period()).is_some()
                    && !self.servers.next_publish.contains_key(&(e, m.id))
            })
        });
        let deferred = self.deferred.iter().map(|(at, _)| *at).min();
        [
            periodic,
            deferred,
            unscheduled.then_some(self.now),
            self.transition_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
