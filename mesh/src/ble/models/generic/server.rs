//! The Generic OnOff, Generic Level and Generic Default Transition Time Servers (Mesh Model 1.1
//! §3.3.1, §3.3.2, §3.3.3) as a [`Node`] hosts them: transactions (TIDs), Set messages with
//! their transitions and delays ([`OnOff`], [`Level`]), statuses, and publication of every
//! change (MshMDL §3.3.1.2.2, §3.3.2.2.2).
//!
//! The node delivers their messages here from [`crate::ble::node`]'s access dispatch and
//! publishes through it; the state lives in the node, per element, and is not persisted.

use std::collections::HashMap;

use rand_core::RngCore;

use crate::ble::address::Address;
use crate::ble::models::ModelId;
use crate::ble::node::{Event, KeyRef, Node, StateChange};
use crate::ble::wire::access::AccessMessage;
use crate::time::{Duration, Instant};

use super::transition::{LevelOp, Milestone};
use super::{GenericMessage, Level, OnOff, Transition, TransitionTime, LEVEL_MAX, LEVEL_MIN};

#[cfg(test)]
mod tests;

/// How long a TID identifies one transaction from one source (MshMDL §3.3.2.2.3: 6 seconds).
pub const TID_WINDOW: Duration = Duration::from_secs(6);

/// The run-time state of the Generic servers of one node (not persisted).
#[derive(Debug, Default, Clone)]
pub(crate) struct GenericServerStates {
    /// Generic OnOff per element, with its transition.
    onoff: HashMap<usize, OnOff>,
    /// Generic Level per element, with its transition.
    level: HashMap<usize, Level>,
    /// Generic Default Transition Time per element (MshMDL §3.1.3); run-time only.
    default_transition: HashMap<usize, TransitionTime>,
    /// The last transaction of each server, per (element, model) (MshMDL §3.3.2.2.3).
    tids: HashMap<(usize, ModelId), Transaction>,
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

impl<R: RngCore> Node<R> {
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
        let last = self.servers().generic.tids.get(&key).copied();
        let fresh = last.is_none_or(|t| {
            t.src != src || t.tid != tid || now.saturating_since(t.at) >= TID_WINDOW
        });
        let (delta, aborted) = match last {
            Some(t) if !fresh => (t.delta, t.aborted),
            // MshMDL §3.3.2.2.3: a message from another source aborts a Delta transaction.
            Some(t) if t.src != src && t.delta.is_some() => (None, Some((t.src, t.tid, t.at))),
            _ => (None, None),
        };
        self.servers_mut().generic.tids.insert(
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
        let aborted = self
            .servers()
            .generic
            .tids
            .get(&key)
            .and_then(|t| t.aborted);
        if aborted
            .is_some_and(|(a, t, at)| a == src && t == tid && now.saturating_since(at) < TID_WINDOW)
        {
            return None;
        }
        let fresh = self.new_transaction(now, src, element, key.1, tid);
        let present = self.level_at(element, now);
        let t = self.servers_mut().generic.tids.get_mut(&key)?;
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
                self.servers()
                    .generic
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

    pub(crate) fn generic_rx(
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
                    self.servers_mut()
                        .generic
                        .default_transition
                        .insert(element, time);
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
    pub(crate) fn onoff_status(&self, element: usize, now: Instant) -> GenericMessage {
        let s = self.servers().generic.onoff.get(&element);
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
    pub(crate) fn level_status(&self, element: usize, now: Instant) -> GenericMessage {
        let s = self.servers().generic.level.get(&element);
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
        self.servers()
            .generic
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
        let fresh = !self.servers().generic.onoff.contains_key(&element);
        let mut seen = Vec::new();
        self.servers_mut()
            .generic
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
        let fresh = !self.servers().generic.level.contains_key(&element);
        let mut seen = Vec::new();
        self.servers_mut()
            .generic
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
        let Some(s) = self.servers().generic.onoff.get(&element).copied() else {
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
        self.push_event(Event::State { element, change });
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
        let Some(s) = self.servers().generic.level.get(&element).copied() else {
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
        self.push_event(Event::State { element, change });
        let status = self.level_status(element, at).to_access();
        self.publish(now, element, ModelId::GENERIC_LEVEL_SERVER, status);
    }

    /// Reports every transition milestone due by `now`, each at its own instant.
    pub(crate) fn transition_timer(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let mut onoff: Vec<usize> = (self.servers().generic.onoff.iter())
            .filter(|(_, s)| due(s.next_milestone()))
            .map(|(e, _)| *e)
            .collect();
        onoff.sort_unstable();
        for e in onoff {
            while let Some(s) = self.servers_mut().generic.onoff.get_mut(&e) {
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
        let mut level: Vec<usize> = (self.servers().generic.level.iter())
            .filter(|(_, s)| due(s.next_milestone()))
            .map(|(e, _)| *e)
            .collect();
        level.sort_unstable();
        for e in level {
            while let Some(s) = self.servers_mut().generic.level.get_mut(&e) {
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
    pub(crate) fn transition_timeout(&self) -> Option<Instant> {
        let onoff = self
            .servers()
            .generic
            .onoff
            .values()
            .filter_map(|s| s.next_milestone());
        let level = self
            .servers()
            .generic
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

    /// The Generic OnOff state of `element` at the node's present time, if it has been set.
    pub fn onoff(&self, element: usize) -> Option<bool> {
        self.servers()
            .generic
            .onoff
            .get(&element)
            .map(|s| s.present(self.now()))
    }

    /// The Generic Level state of `element` at the node's present time, if it has been set.
    pub fn level(&self, element: usize) -> Option<i16> {
        self.servers()
            .generic
            .level
            .get(&element)
            .map(|s| s.present(self.now()))
    }

    /// The Generic OnOff state of `element` with its transition, if it has been set.
    pub fn onoff_state(&self, element: usize) -> Option<&OnOff> {
        self.servers().generic.onoff.get(&element)
    }

    /// The Generic Level state of `element` with its transition, if it has been set.
    pub fn level_state(&self, element: usize) -> Option<&Level> {
        self.servers().generic.level.get(&element)
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
