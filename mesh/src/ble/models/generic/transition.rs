//! Generic OnOff and Generic Level states that change over time: the transitions of Set
//! messages with a Transition Time and a Delay (MshMDL §3.1.3, §3.3.1.2.2, §3.3.2.2).
//!
//! Sans-IO and lazy: nothing ticks. A state remembers where it was at the start of its
//! course, where it goes and when it gets there, and computes its present value for any
//! `now`. A delayed Set waits as `pending` until its execution instant (MshMDL §3.2.1.2: the
//! Delay is a message execution delay). The node asks for a wake-up at
//! [`OnOff::next_milestone`] / [`Level::next_milestone`] only to report (events, publications)
//! the start and the end of a transition.

use crate::time::{Duration, Instant};

/// The lowest Generic Level (MshMDL §3.1.2: a 16-bit signed integer).
pub const LEVEL_MIN: i16 = i16::MIN;
/// The highest Generic Level (MshMDL §3.1.2).
pub const LEVEL_MAX: i16 = i16::MAX;

/// What happened at a milestone of a state's course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// A Set executed. `running` tells whether a transition now runs (else the change was
    /// instant); `changed` whether the present value changed at once; `interrupted` whether it
    /// cut a running transition short.
    Executed {
        running: bool,
        changed: bool,
        interrupted: bool,
    },
    /// A transition reached its target.
    Finished,
}

/// Generic OnOff (MshMDL §3.1.1) with its transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnOff {
    /// The state at `start`.
    origin: bool,
    /// The target and when the transition ends.
    course: Option<(bool, Instant)>,
    /// A delayed Set: when it executes, its target and its transition time.
    pending: Option<(Instant, bool, Duration)>,
}

impl OnOff {
    /// A state at rest.
    pub fn new(on: bool) -> Self {
        OnOff {
            origin: on,
            course: None,
            pending: None,
        }
    }

    /// The value of the running course at `t` (pending Sets aside). MshMDL §3.1.1.1: a binary
    /// state cannot move gradually, so towards On it is On from the start of the transition,
    /// and towards Off it changes at the end.
    fn course_value(&self, t: Instant) -> bool {
        match self.course {
            Some((target, end)) if t >= end => target,
            Some((true, _)) => true,
            _ => self.origin,
        }
    }

    /// The present state at `now`.
    pub fn present(&self, now: Instant) -> bool {
        let mut s = *self;
        s.advance(now, &mut |_| {});
        s.course_value(now)
    }

    /// The target and the time left until it is reached, while a change is pending or
    /// running: the Target and Remaining Time of a Status (MshMDL §3.2.1.4). The remaining
    /// time includes what is left of a Delay.
    pub fn target(&self, now: Instant) -> Option<(bool, Duration)> {
        let mut s = *self;
        s.advance(now, &mut |_| {});
        match (s.pending, s.course) {
            (Some((at, target, time)), _) => Some((target, (at - now) + time)),
            (None, Some((target, end))) => Some((target, end - now)),
            (None, None) => None,
        }
    }

    /// When the next delayed Set executes or the running transition ends.
    pub fn next_milestone(&self) -> Option<Instant> {
        [self.pending.map(|p| p.0), self.course.map(|c| c.1)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Processes every milestone up to `now`, in order, at its own instant.
    pub fn advance(&mut self, now: Instant, report: &mut dyn FnMut(Milestone)) {
        while let Some(t) = self.next_milestone().filter(|t| *t <= now) {
            match self.pending {
                Some((at, target, time)) if at == t => {
                    self.pending = None;
                    report(self.execute(at, target, time));
                }
                _ => {
                    self.origin = self.course_value(t);
                    self.course = None;
                    report(Milestone::Finished);
                }
            }
        }
    }

    /// Starts a change to `target` over `time`, now or after `delay`. A new Set replaces a
    /// pending one; a running transition runs on until the new Set executes.
    pub fn request(
        &mut self,
        now: Instant,
        target: bool,
        time: Duration,
        delay: Duration,
        report: &mut dyn FnMut(Milestone),
    ) {
        self.advance(now, report);
        self.pending = None;
        if delay == Duration::ZERO {
            report(self.execute(now, target, time));
        } else {
            self.pending = Some((now + delay, target, time));
        }
    }

    fn execute(&mut self, at: Instant, target: bool, time: Duration) -> Milestone {
        let interrupted = self.course.is_some_and(|(_, end)| end > at);
        let present = self.course_value(at);
        self.origin = present;
        self.course = None;
        if time > Duration::ZERO && target != present {
            self.course = Some((target, at + time));
        } else {
            self.origin = target;
        }
        Milestone::Executed {
            running: self.course.is_some(),
            changed: self.course_value(at) != present,
            interrupted,
        }
    }
}

/// What a Generic Level Set, Delta Set or Move Set asks for when it executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelOp {
    /// Go to `target` linearly over `time` (Level Set, Delta Set: MshMDL §3.3.2.2.2,
    /// §3.3.2.2.3).
    To { target: i16, time: Duration },
    /// Change by `delta` every `step`, until the end of the range (Move Set: MshMDL
    /// §3.3.2.2.4).
    Move { delta: i16, step: Duration },
    /// Stop where the level is: a Move Set whose Delta Level or Transition Time is zero does
    /// not start a change (MshMDL §3.2.2.6), and as a new message it ends the running one.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    To {
        target: i16,
        end: Instant,
    },
    Move {
        delta: i16,
        step: Duration,
        end: Instant,
    },
}

impl Course {
    fn end(&self) -> Instant {
        match *self {
            Course::To { end, .. } | Course::Move { end, .. } => end,
        }
    }
}

/// Generic Level (MshMDL §3.1.2) with its transition or move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// The level at `start`.
    origin: i16,
    /// When the running course started.
    start: Instant,
    course: Option<Course>,
    /// A delayed Set: when it executes and what it asks.
    pending: Option<(Instant, LevelOp)>,
}

/// The end of the range a move with this delta runs to.
fn bound(delta: i16) -> i16 {
    if delta > 0 {
        LEVEL_MAX
    } else {
        LEVEL_MIN
    }
}

impl Level {
    /// A level at rest.
    pub fn new(level: i16) -> Self {
        Level {
            origin: level,
            start: Instant::ZERO,
            course: None,
            pending: None,
        }
    }

    /// The value of the running course at `t` (pending Sets aside): linear in time from the
    /// origin (MshMDL §3.3.2.2.2), clamped to the range for a move.
    fn course_value(&self, t: Instant) -> i16 {
        let Some(course) = self.course else {
            return self.origin;
        };
        if t >= course.end() {
            return match course {
                Course::To { target, .. } => target,
                Course::Move { delta, .. } => bound(delta),
            };
        }
        let elapsed = i128::from((t - self.start).as_micros());
        let origin = i128::from(self.origin);
        let v = match course {
            Course::To { target, end } => {
                let total = i128::from((end - self.start).as_micros()).max(1);
                origin + (i128::from(target) - origin) * elapsed / total
            }
            Course::Move { delta, step, .. } => {
                let step = i128::from(step.as_micros()).max(1);
                origin + i128::from(delta) * elapsed / step
            }
        };
        v.clamp(i128::from(LEVEL_MIN), i128::from(LEVEL_MAX)) as i16
    }

    /// The present level at `now`.
    pub fn present(&self, now: Instant) -> i16 {
        let mut s = *self;
        s.advance(now, &mut |_| {});
        s.course_value(now)
    }

    /// The target and the time left until it is reached (`None`: a move, whose time is
    /// unknown), while a change is pending or running: the Target Level and Remaining Time of
    /// a Level Status (MshMDL §3.2.2.8). The remaining time includes what is left of a Delay.
    pub fn target(&self, now: Instant) -> Option<(i16, Option<Duration>)> {
        let mut s = *self;
        s.advance(now, &mut |_| {});
        let running = s.course.map(|c| match c {
            Course::To { target, end } => (target, Some(end - now)),
            Course::Move { delta, .. } => (bound(delta), None),
        });
        match s.pending {
            Some((at, LevelOp::To { target, time })) => Some((target, Some((at - now) + time))),
            Some((_, LevelOp::Move { delta, .. })) => Some((bound(delta), None)),
            Some((_, LevelOp::Stop)) | None => running,
        }
    }

    /// When the next delayed Set executes or the running course ends.
    pub fn next_milestone(&self) -> Option<Instant> {
        [self.pending.map(|p| p.0), self.course.map(|c| c.end())]
            .into_iter()
            .flatten()
            .min()
    }

    /// Processes every milestone up to `now`, in order, at its own instant.
    pub fn advance(&mut self, now: Instant, report: &mut dyn FnMut(Milestone)) {
        while let Some(t) = self.next_milestone().filter(|t| *t <= now) {
            match self.pending {
                Some((at, op)) if at == t => {
                    self.pending = None;
                    report(self.execute(at, op));
                }
                _ => {
                    self.origin = self.course_value(t);
                    self.start = t;
                    self.course = None;
                    report(Milestone::Finished);
                }
            }
        }
    }

    /// Executes `op` now or after `delay`. A new Set replaces a pending one; a running
    /// transition runs on until the new Set executes.
    pub fn request(
        &mut self,
        now: Instant,
        op: LevelOp,
        delay: Duration,
        report: &mut dyn FnMut(Milestone),
    ) {
        self.advance(now, report);
        self.pending = None;
        if delay == Duration::ZERO {
            report(self.execute(now, op));
        } else {
            self.pending = Some((now + delay, op));
        }
    }

    fn execute(&mut self, at: Instant, op: LevelOp) -> Milestone {
        let interrupted = self.course.is_some_and(|c| c.end() > at);
        let present = self.course_value(at);
        self.origin = present;
        self.start = at;
        self.course = match op {
            LevelOp::To { target, time } if time > Duration::ZERO && target != present => {
                Some(Course::To {
                    target,
                    end: at + time,
                })
            }
            LevelOp::To { target, .. } => {
                self.origin = target;
                None
            }
            LevelOp::Move { delta, step } if delta != 0 && step > Duration::ZERO => {
                let distance = (i64::from(bound(delta)) - i64::from(present)).unsigned_abs();
                // The instant the level reaches the end of the range: ceil(distance × step /
                // |delta|), so that the value computed there is the bound itself.
                let us = (u128::from(distance) * u128::from(step.as_micros()))
                    .div_ceil(u128::from(delta.unsigned_abs()));
                (distance > 0).then(|| Course::Move {
                    delta,
                    step,
                    end: at + Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX)),
                })
            }
            LevelOp::Move { .. } | LevelOp::Stop => None,
        };
        Milestone::Executed {
            running: self.course.is_some(),
            changed: self.course_value(at) != present,
            interrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(m: u64) -> Instant {
        Instant::from_micros(m * 1_000)
    }

    fn d(m: u64) -> Duration {
        Duration::from_millis(m)
    }

    #[test]
    fn onoff_towards_on_is_on_from_the_start() {
        let mut s = OnOff::new(false);
        let mut seen = Vec::new();
        s.request(ms(0), true, d(1_000), d(500), &mut |m| seen.push(m));
        assert!(seen.is_empty(), "nothing executes during the delay");
        assert!(!s.present(ms(499)));
        assert_eq!(s.target(ms(100)), Some((true, d(1_400))));
        assert!(s.present(ms(500)), "On as soon as the transition starts");
        assert_eq!(s.target(ms(1_000)), Some((true, d(500))));
        assert!(s.present(ms(1_500)));
        assert_eq!(s.target(ms(1_500)), None);
        assert_eq!(s.next_milestone(), Some(ms(500)));
        s.advance(ms(2_000), &mut |m| seen.push(m));
        assert_eq!(
            seen,
            vec![
                Milestone::Executed {
                    running: true,
                    changed: true,
                    interrupted: false
                },
                Milestone::Finished
            ]
        );
        assert_eq!(s.next_milestone(), None);
    }

    #[test]
    fn onoff_towards_off_changes_at_the_end() {
        let mut s = OnOff::new(true);
        s.request(ms(0), false, d(2_000), Duration::ZERO, &mut |_| {});
        assert!(s.present(ms(1_999)));
        assert!(!s.present(ms(2_000)));
        // The same target as the present state: nothing to do.
        let mut s = OnOff::new(true);
        let mut seen = Vec::new();
        s.request(ms(0), true, d(2_000), Duration::ZERO, &mut |m| seen.push(m));
        assert_eq!(s.target(ms(0)), None);
        assert_eq!(
            seen,
            vec![Milestone::Executed {
                running: false,
                changed: false,
                interrupted: false
            }]
        );
    }

    #[test]
    fn level_moves_linearly_and_is_replaced() {
        let mut s = Level::new(0);
        s.request(
            ms(0),
            LevelOp::To {
                target: 1_000,
                time: d(1_000),
            },
            Duration::ZERO,
            &mut |_| {},
        );
        assert_eq!(s.present(ms(250)), 250);
        assert_eq!(s.present(ms(500)), 500);
        assert_eq!(s.target(ms(500)), Some((1_000, Some(d(500)))));
        // Replaced at 500 ms: from 500 down to -500 over 2 s.
        let mut seen = Vec::new();
        s.request(
            ms(500),
            LevelOp::To {
                target: -500,
                time: d(2_000),
            },
            Duration::ZERO,
            &mut |m| seen.push(m),
        );
        assert_eq!(
            seen,
            vec![Milestone::Executed {
                running: true,
                changed: false,
                interrupted: true
            }]
        );
        assert_eq!(s.present(ms(1_500)), 0);
        assert_eq!(s.present(ms(2_500)), -500);
        assert_eq!(s.target(ms(2_500)), None);
    }

    #[test]
    fn a_delayed_set_lets_the_running_transition_go_on() {
        let mut s = Level::new(0);
        let to = |target, time| LevelOp::To { target, time };
        s.request(ms(0), to(1_000, d(1_000)), Duration::ZERO, &mut |_| {});
        s.request(ms(200), to(0, d(0)), d(300), &mut |_| {});
        assert_eq!(s.present(ms(400)), 400, "the first still runs");
        assert_eq!(s.target(ms(400)), Some((0, Some(d(100)))));
        assert_eq!(s.present(ms(500)), 0, "the second executes at 500 ms");
        assert_eq!(s.next_milestone(), Some(ms(500)));
    }

    #[test]
    fn move_runs_to_the_end_of_the_range() {
        let mut s = Level::new(32_000);
        s.request(
            ms(0),
            LevelOp::Move {
                delta: 100,
                step: d(100),
            },
            Duration::ZERO,
            &mut |_| {},
        );
        assert_eq!(s.present(ms(100)), 32_100);
        assert_eq!(s.present(ms(150)), 32_150);
        assert_eq!(s.target(ms(150)), Some((LEVEL_MAX, None)));
        // 767 to go at 1 per ms: 767 ms.
        assert_eq!(s.next_milestone(), Some(ms(767)));
        assert_eq!(s.present(ms(766)), 32_766);
        assert_eq!(s.present(ms(767)), LEVEL_MAX);
        assert_eq!(s.present(ms(10_000)), LEVEL_MAX);
        // Stop: where it is.
        let mut s = Level::new(0);
        let mv = LevelOp::Move {
            delta: -10,
            step: d(1_000),
        };
        s.request(ms(0), mv, Duration::ZERO, &mut |_| {});
        s.request(ms(2_500), LevelOp::Stop, Duration::ZERO, &mut |_| {});
        assert_eq!(s.present(ms(9_000)), -25);
        assert_eq!(s.target(ms(9_000)), None);
    }

    fn arb_op() -> impl Strategy<Value = LevelOp> {
        prop_oneof![
            (any::<i16>(), 0u64..40_000_000).prop_map(|(target, t)| LevelOp::To {
                target,
                time: Duration::from_millis(t)
            }),
            (any::<i16>(), 0u64..40_000_000).prop_map(|(delta, t)| LevelOp::Move {
                delta,
                step: Duration::from_millis(t)
            }),
            Just(LevelOp::Stop),
        ]
    }

    proptest! {
        #[test]
        fn level_stays_in_range_and_reaches_its_target(
            start in any::<i16>(),
            ops in proptest::collection::vec((arb_op(), 0u64..2_000_000, 0u64..1_300), 1..6),
            probes in proptest::collection::vec(0u64..100_000_000, 1..8),
        ) {
            let mut s = Level::new(start);
            let mut now = Instant::ZERO;
            let mut last = LevelOp::Stop;
            for (op, gap, delay) in ops {
                now += Duration::from_millis(gap);
                s.request(now, op, Duration::from_millis(delay), &mut |_| {});
                last = op;
            }
            for p in probes {
                let t = now + Duration::from_millis(p);
                let _ = s.present(t);
                let _ = s.target(t);
            }
            // After its last milestone the level rests at its target.
            while let Some(t) = s.next_milestone() {
                s.advance(t, &mut |_| {});
            }
            prop_assert_eq!(s.target(now), None);
            match last {
                LevelOp::To { target, .. } => prop_assert_eq!(s.present(now), target),
                LevelOp::Move { delta, step } if delta != 0 && step > Duration::ZERO => {
                    prop_assert_eq!(s.present(now), bound(delta))
                }
                _ => {}
            }
        }
    }
}
