//! The behaviour of the models a node hosts: Health Server (MshPRT §4.4.3), Generic OnOff and
//! Generic Level Servers (MshMDL §3.3.1, §3.3.2) with their transitions ([`transition`]), the
//! Generic Default Transition Time Server (MshMDL §3.3.3) and the Sensor Server (MshMDL
//! §4.3.1), with publication (MshPRT §3.7.6.1, §4.2.3). The Configuration Server's messages go to
//! [`super::config_server`]. Clients need no behaviour here: the statuses they receive are
//! [`Event::Access`](super::Event::Access) events for the application.

use std::collections::HashMap;

#[cfg(test)]
mod tests;
mod transition;

use rand_core::RngCore;

use crate::ble::address::Address;
use crate::ble::models::generic::{GenericMessage, Transition, TransitionTime};
use crate::ble::models::health::{FaultReport, HealthMessage};
use crate::ble::models::sensor::{SensorData, SensorMessage, SensorValue};
use crate::ble::models::{ModelId, ModelMessage};
use crate::ble::wire::access::AccessMessage;
use crate::time::{Duration, Instant};

use super::{Command, Event, KeyRef, Node};
pub use transition::{Level, OnOff, LEVEL_MAX, LEVEL_MIN};
use transition::{LevelOp, Milestone};

/// How long a TID identifies one transaction from one source (MshMDL §3.3.2.2.3: 6 seconds).
pub const TID_WINDOW: Duration = Duration::from_secs(6);

/// A change of a server's state, reported as [`Event::State`](super::Event::State).
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
pub struct ServerStates {
    /// Generic OnOff per element, with its transition.
    onoff: HashMap<usize, OnOff>,
    /// Generic Level per element, with its transition.
    level: HashMap<usize, Level>,
    /// Generic Default Transition Time per element (MshMDL §3.1.3); run-time only.
    default_transition: HashMap<usize, TransitionTime>,
    /// Sensor values per element.
    pub sensors: HashMap<usize, Vec<SensorValue>>,
    /// Current faults of the Health Server (primary element).
    pub faults: Vec<u8>,
    /// Registered faults.
    pub registered: Vec<u8>,
    pub attention: u8,
    pub fast_period_divisor: u8,
    /// The last transaction of each server, per (element, model) (MshMDL §3.3.2.2.3).
    tids: HashMap<(usize, ModelId), Transaction>,
    /// When each (element, model) publishes next.
    pub(super) next_publish: HashMap<(usize, ModelId), Instant>,
}

/// The last transaction a server took part in.
#[derive(Debug, Clone, Copy)]
struct Transaction {
    src: Address,
    tid: u8,
    /// When its last message arrived.
    at: Instant,
    /// For Delta Sets: the level when the transaction started and the last delta applied
    /// (MshMDL §3.3.2.2.3: a Delta Set continuing a transaction is relative to its start).
    delta: Option<(i16, i32)>,
    /// A Delta transaction another source aborted: its messages change nothing (MshMDL
    /// §3.3.2.2.3).
    aborted: Option<(Address, u8, Instant)>,
}

/// A Remaining Time (MshMDL §3.2.1.4) for `d` still to go, rounded up to a millisecond.
fn remaining(d: Duration) -> TransitionTime {
    TransitionTime::remaining(d.as_micros().div_ceil(1_000))
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

    /// A new transaction, or a retransmission of the last message to this server (MshMDL
    /// §3.3.1.2.2, §3.3.2.2.2: the same source and TID as the previous message, within 6
    /// seconds)? The destination is not compared: the node does not hand it to its models.
    fn new_transaction(
        &mut self,
        now: Instant,
        src: Address,
        element: usize,
        model: ModelId,
        tid: u8,
    ) -> bool {
        let key = (element, model);
        let last = self.servers.tids.get(&key).copied();
        let fresh = last.is_none_or(|t| {
            t.src != src || t.tid != tid || now.saturating_since(t.at) >= TID_WINDOW
        });
        let (delta, aborted) = match last {
            Some(t) if !fresh => (t.delta, t.aborted),
            // MshMDL §3.3.2.2.3: a message from another source aborts a Delta transaction.
            Some(t) if t.src != src && t.delta.is_some() => (None, Some((t.src, t.tid, t.at))),
            _ => (None, None),
        };
        self.servers.tids.insert(
            key,
            Transaction {
                src,
                tid,
                at: now,
                delta,
                aborted,
            },
        );
        fresh
    }

    /// The target of a Generic Delta Set (MshMDL §3.3.2.2.3): a new transaction adds the delta
    /// to the present level (its Initial Generic Level); a message continuing the transaction
    /// replaces the delta, still relative to that initial level. `None`: a plain
    /// retransmission, or a message of an aborted transaction.
    fn delta_target(
        &mut self,
        now: Instant,
        src: Address,
        element: usize,
        tid: u8,
        delta: i32,
    ) -> Option<i16> {
        let key = (element, ModelId::GENERIC_LEVEL_SERVER);
        let aborted = self.servers.tids.get(&key).and_then(|t| t.aborted);
        if aborted
            .is_some_and(|(a, t, at)| a == src && t == tid && now.saturating_since(at) < TID_WINDOW)
        {
            return None;
        }
        let fresh = self.new_transaction(now, src, element, key.1, tid);
        let present = self.level_at(element, now);
        let t = self.servers.tids.get_mut(&key)?;
        let base = match t.delta {
            _ if fresh => present,
            Some((base, last)) if last != delta => base,
            _ => return None,
        };
        t.delta = Some((base, delta));
        let target = i64::from(base) + i64::from(delta);
        // Not bound to another state, the Generic Level stops at the ends of its range
        // (MshMDL §3.3.2.2.3 leaves overflow to the implementation).
        Some(target.clamp(i64::from(LEVEL_MIN), i64::from(LEVEL_MAX)) as i16)
    }

    /// The Generic Default Transition Time that applies to the models of `element` (MshMDL
    /// §3.1.3): instant (0) when there is no Generic Default Transition Time Server.
    pub fn default_transition_time(&self, element: usize) -> TransitionTime {
        // MshMDL §3.3.3.1: the server on the model's element, else the one on the nearest
        // element below it; none: not supported.
        (0..=element)
            .rev()
            .find(|e| self.has_model(*e, ModelId::GENERIC_DEFAULT_TRANSITION_TIME_SERVER))
            .map_or(TransitionTime::IMMEDIATE, |e| {
                self.servers
                    .default_transition
                    .get(&e)
                    .copied()
                    .unwrap_or(TransitionTime::IMMEDIATE)
            })
    }

    /// The transition time (`None`: unknown) and the delay of a Set (MshMDL §3.2.1.2:
    /// Delay in 5 ms steps); without the optional fields, the element's Default Transition
    /// Time and no delay (MshMDL §3.3.1.2.2, §3.3.2.2.2).
    fn transition_of(&self, element: usize, t: Option<Transition>) -> (Option<Duration>, Duration) {
        let (time, delay) = match t {
            Some(t) => (t.time, Duration::from_millis(u64::from(t.delay_ms()))),
            None => (self.default_transition_time(element), Duration::ZERO),
        };
        (
            time.to_millis()
                .map(|ms| Duration::from_millis(u64::from(ms))),
            delay,
        )
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
        // Transitions that were due report first, so that events keep their order.
        self.transition_timer(now);
        match m {
            G::OnOffGet | G::OnOffSet(_) | G::OnOffSetUnacknowledged(_) => {
                if !self.bound(element, ModelId::GENERIC_ONOFF_SERVER, key) {
                    return None;
                }
                let ack = !matches!(m, G::OnOffSetUnacknowledged(_));
                if let G::OnOffSet(s) | G::OnOffSetUnacknowledged(s) = m {
                    let model = ModelId::GENERIC_ONOFF_SERVER;
                    if self.new_transaction(now, src, element, model, s.tid) {
                        let (time, delay) = self.transition_of(element, s.transition);
                        self.onoff_request(now, element, s.on, time.unwrap_or_default(), delay);
                    }
                }
                ack.then(|| self.onoff_status(element, now).to_access())
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
                let model = ModelId::GENERIC_LEVEL_SERVER;
                let request = match m {
                    G::LevelSet(s) | G::LevelSetUnacknowledged(s) => self
                        .new_transaction(now, src, element, model, s.tid)
                        .then(|| {
                            let (time, delay) = self.transition_of(element, s.transition);
                            let time = time.unwrap_or_default();
                            (
                                LevelOp::To {
                                    target: s.level,
                                    time,
                                },
                                delay,
                            )
                        }),
                    G::DeltaSet(d) | G::DeltaSetUnacknowledged(d) => self
                        .delta_target(now, src, element, d.tid, d.delta)
                        .map(|target| {
                            let (time, delay) = self.transition_of(element, d.transition);
                            let time = time.unwrap_or_default();
                            (LevelOp::To { target, time }, delay)
                        }),
                    // MshMDL §3.2.2.6: the level moves by Delta Level every Transition Time;
                    // with a zero or unknown time (or a zero delta) nothing moves, and as a new
                    // message it ends the running change (§3.3.2.2.4).
                    G::MoveSet(mv) | G::MoveSetUnacknowledged(mv) => self
                        .new_transaction(now, src, element, model, mv.tid)
                        .then(|| {
                            let (time, delay) = self.transition_of(element, mv.transition);
                            let op = match time {
                                Some(step) if step > Duration::ZERO && mv.delta != 0 => {
                                    LevelOp::Move {
                                        delta: mv.delta,
                                        step,
                                    }
                                }
                                _ => LevelOp::Stop,
                            };
                            (op, delay)
                        }),
                    _ => None,
                };
                if let Some((op, delay)) = request {
                    self.level_request(now, element, op, delay);
                }
                ack.then(|| self.level_status(element, now).to_access())
            }
            G::DefaultTransitionTimeGet
            | G::DefaultTransitionTimeSet { .. }
            | G::DefaultTransitionTimeSetUnacknowledged { .. } => {
                let model = ModelId::GENERIC_DEFAULT_TRANSITION_TIME_SERVER;
                if !self.bound(element, model, key) {
                    return None;
                }
                let ack = !matches!(m, G::DefaultTransitionTimeSetUnacknowledged { .. });
                // MshMDL §3.3.3.2.2: the new state, answered and published when it changed.
                if let G::DefaultTransitionTimeSet { time }
                | G::DefaultTransitionTimeSetUnacknowledged { time } = m
                {
                    let old = self.default_transition_time(element);
                    self.servers.default_transition.insert(element, time);
                    if old != time {
                        let status = G::DefaultTransitionTimeStatus { time }.to_access();
                        self.publish(now, element, model, status);
                    }
                }
                ack.then(|| {
                    G::DefaultTransitionTimeStatus {
                        time: self.default_transition_time(element),
                    }
                    .to_access()
                })
            }
            // Statuses are for clients.
            _ => None,
        }
    }

    /// Generic OnOff Status (MshMDL §3.2.1.4): Target and Remaining Time only while a change
    /// is pending or running.
    fn onoff_status(&self, element: usize, now: Instant) -> GenericMessage {
        let s = self.servers.onoff.get(&element);
        GenericMessage::OnOffStatus {
            present: s.is_some_and(|s| s.present(now)),
            target: s
                .and_then(|s| s.target(now))
                .map(|(t, rem)| (t, remaining(rem))),
        }
    }

    /// Generic Level Status (MshMDL §3.2.2.8): Target Level and Remaining Time only while a
    /// change is pending or running; a Move reports the end of the range it moves to and an
    /// unknown remaining time (0x3F steps, MshMDL §3.1.3.1).
    fn level_status(&self, element: usize, now: Instant) -> GenericMessage {
        let s = self.servers.level.get(&element);
        GenericMessage::LevelStatus {
            present: self.level_at(element, now),
            target: s.and_then(|s| s.target(now)).map(|(t, rem)| {
                let rem = rem.map_or(
                    TransitionTime::from_byte(TransitionTime::UNKNOWN_STEPS),
                    remaining,
                );
                (t, rem)
            }),
        }
    }

    fn level_at(&self, element: usize, now: Instant) -> i16 {
        self.servers
            .level
            .get(&element)
            .map_or(0, |s| s.present(now))
    }

    /// Starts a Generic OnOff change (now, or queued behind `delay`) and reports it.
    fn onoff_request(
        &mut self,
        now: Instant,
        element: usize,
        on: bool,
        time: Duration,
        delay: Duration,
    ) {
        let fresh = !self.servers.onoff.contains_key(&element);
        let mut seen = Vec::new();
        self.servers
            .onoff
            .entry(element)
            .or_insert_with(|| OnOff::new(false))
            .request(now, on, time, delay, &mut |m| seen.push(m));
        for m in seen {
            self.onoff_report(now, now, element, m, fresh);
        }
    }

    /// Starts a Generic Level change (now, or queued behind `delay`) and reports it.
    fn level_request(&mut self, now: Instant, element: usize, op: LevelOp, delay: Duration) {
        let fresh = !self.servers.level.contains_key(&element);
        let mut seen = Vec::new();
        self.servers
            .level
            .entry(element)
            .or_insert_with(|| Level::new(0))
            .request(now, op, delay, &mut |m| seen.push(m));
        for m in seen {
            self.level_report(now, now, element, m, fresh);
        }
    }

    /// Reports a milestone of a Generic OnOff change that happened `at`: an event and a
    /// publication (MshMDL §3.3.1.2.2: a server publishes its state when it changes) at the
    /// start of a transition (with target and remaining time) and at its end.
    fn onoff_report(
        &mut self,
        now: Instant,
        at: Instant,
        element: usize,
        m: Milestone,
        fresh: bool,
    ) {
        let Some(s) = self.servers.onoff.get(&element).copied() else {
            return;
        };
        let present = s.present(at);
        let start = s
            .target(at)
            .map(|(target, remaining)| StateChange::OnOffTransition {
                present,
                target,
                remaining,
            });
        let Some(change) = milestone_change(m, fresh, start, StateChange::OnOff(present)) else {
            return;
        };
        self.events.push_back(Event::State { element, change });
        let status = self.onoff_status(element, at).to_access();
        self.publish(now, element, ModelId::GENERIC_ONOFF_SERVER, status);
    }

    /// As [`Self::onoff_report`], for Generic Level (MshMDL §3.3.2.2).
    fn level_report(
        &mut self,
        now: Instant,
        at: Instant,
        element: usize,
        m: Milestone,
        fresh: bool,
    ) {
        let Some(s) = self.servers.level.get(&element).copied() else {
            return;
        };
        let present = s.present(at);
        let start = s
            .target(at)
            .map(|(target, remaining)| StateChange::LevelTransition {
                present,
                target,
                remaining,
            });
        let Some(change) = milestone_change(m, fresh, start, StateChange::Level(present)) else {
            return;
        };
        self.events.push_back(Event::State { element, change });
        let status = self.level_status(element, at).to_access();
        self.publish(now, element, ModelId::GENERIC_LEVEL_SERVER, status);
    }

    /// Reports every transition milestone due by `now`, each at its own instant.
    fn transition_timer(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let mut onoff: Vec<usize> = (self.servers.onoff.iter())
            .filter(|(_, s)| due(s.next_milestone()))
            .map(|(e, _)| *e)
            .collect();
        onoff.sort_unstable();
        for e in onoff {
            while let Some(s) = self.servers.onoff.get_mut(&e) {
                let Some(at) = s.next_milestone().filter(|t| *t <= now) else {
                    break;
                };
                let mut seen = Vec::new();
                s.advance(at, &mut |m| seen.push(m));
                for m in seen {
                    self.onoff_report(now, at, e, m, false);
                }
            }
        }
        let mut level: Vec<usize> = (self.servers.level.iter())
            .filter(|(_, s)| due(s.next_milestone()))
            .map(|(e, _)| *e)
            .collect();
        level.sort_unstable();
        for e in level {
            while let Some(s) = self.servers.level.get_mut(&e) {
                let Some(at) = s.next_milestone().filter(|t| *t <= now) else {
                    break;
                };
                let mut seen = Vec::new();
                s.advance(at, &mut |m| seen.push(m));
                for m in seen {
                    self.level_report(now, at, e, m, false);
                }
            }
        }
    }

    /// When a transition next starts or ends.
    fn transition_timeout(&self) -> Option<Instant> {
        let onoff = self
            .servers
            .onoff
            .values()
            .filter_map(|s| s.next_milestone());
        let level = self
            .servers
            .level
            .values()
            .filter_map(|s| s.next_milestone());
        onoff.chain(level).min()
    }

    /// Sets Generic OnOff on `element` at once (a local action), ending any transition, and
    /// reports and publishes the change (MshMDL §3.3.1.2.2: a state change is published).
    pub fn set_onoff(&mut self, now: Instant, element: usize, on: bool) {
        self.transition_timer(now);
        self.onoff_request(now, element, on, Duration::ZERO, Duration::ZERO);
    }

    /// Sets Generic Level on `element` at once, ending any transition or move, and reports and
    /// publishes the change.
    pub fn set_level(&mut self, now: Instant, element: usize, level: i16) {
        self.transition_timer(now);
        let op = LevelOp::To {
            target: level,
            time: Duration::ZERO,
        };
        self.level_request(now, element, op, Duration::ZERO);
    }

    /// Sets the values a Sensor Server on `element` reports.
    pub fn set_sensor_values(&mut self, element: usize, values: Vec<SensorValue>) {
        self.servers.sensors.insert(element, values);
    }

    /// The Generic OnOff state of `element` at the node's present time, if it has been set.
    pub fn onoff(&self, element: usize) -> Option<bool> {
        self.servers
            .onoff
            .get(&element)
            .map(|s| s.present(self.now))
    }

    /// The Generic Level state of `element` at the node's present time, if it has been set.
    pub fn level(&self, element: usize) -> Option<i16> {
        self.servers
            .level
            .get(&element)
            .map(|s| s.present(self.now))
    }

    /// The Generic OnOff state of `element` with its transition, if it has been set.
    pub fn onoff_state(&self, element: usize) -> Option<&OnOff> {
        self.servers.onoff.get(&element)
    }

    /// The Generic Level state of `element` with its transition, if it has been set.
    pub fn level_state(&self, element: usize) -> Option<&Level> {
        self.servers.level.get(&element)
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

/// What a milestone of a server's change reports: the start of a transition (`start`, with its
/// target; nothing when the transition has none), nothing when a Set changed nothing (unless
/// `fresh`: the server's state was just created), else the state reached (`end`).
fn milestone_change(
    m: Milestone,
    fresh: bool,
    start: Option<StateChange>,
    end: StateChange,
) -> Option<StateChange> {
    match m {
        Milestone::Executed { running: true, .. } => start,
        Milestone::Executed {
            changed,
            interrupted,
            ..
        } if !(changed || interrupted || fresh) => None,
        _ => Some(end),
    }
}
