//! A sleepy child's data poll timer (IEEE 802.15.4-2015 §6.7.3; a Thread sleepy
//! end device polls its parent with MAC Data Requests): when to send the next Data Request,
//! and what the outcome of one changes.
//!
//! - Every [`PollConfig::period`] while nothing else is going on.
//! - The acknowledgment of a poll had Frame Pending (§6.7.3): the parent sends a frame; the
//!   child keeps its receiver on for [`PollConfig::frame_wait`] (OpenThread's
//!   `kDataPollTimeout`, 100 ms) and polls again when it does not come.
//! - A frame received with Frame Pending set (more wait, §7.2.1.3): poll again at once. A frame
//!   that arrives before the poll's status (a radio may report them in either order) counts
//!   as the frame the ack announced.
//! - A poll not acknowledged (or not sent): retried every [`PollConfig::retry_period`] up to
//!   [`PollConfig::max_retries`] times in a row, then [`PollOutcome::ParentLost`] (the node
//!   starts a reattach).
//! - [`DataPoller::fast_polls`]: the next `n` polls every [`PollConfig::fast_period`], when
//!   the node expects an answer from its parent (an MLE Child Update Response).
//!
//! The defaults are OpenThread's (`data_poll_sender.hpp`: `kFastPollPeriod` 188 ms,
//! `kRetxPollPeriod` 1000 ms, `kDefaultFastPolls` 8, `kMaxFastPolls` 15); the period is the
//! node's to choose (OpenThread's default is derived from the child timeout).
//!
//! Sans-IO: [`DataPoller::poll_timeout`] says when to call [`DataPoller::handle_timeout`],
//! which says whether to send a Data Request now.

use crate::frame::{TxDone, TxStatus};
use crate::time::{Duration, Instant};

/// OpenThread's `kMaxFastPolls`: a fast poll request is clipped to this.
pub const MAX_FAST_POLLS: u8 = 15;

/// The timers of a [`DataPoller`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollConfig {
    /// The data poll period when idle.
    pub period: Duration,
    /// The period of fast polls.
    pub fast_period: Duration,
    /// Fast polls given by `fast_polls(0)`.
    pub default_fast_polls: u8,
    /// After a failed poll, the next is this much later.
    pub retry_period: Duration,
    /// Failed polls in a row before the parent counts as lost.
    pub max_retries: u8,
    /// How long the receiver stays on for the frame an ack with Frame Pending announced.
    pub frame_wait: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            period: Duration::from_secs(30),
            fast_period: Duration::from_millis(188),
            default_fast_polls: 8,
            retry_period: Duration::from_millis(1000),
            max_retries: 4,
            frame_wait: Duration::from_millis(100),
        }
    }
}

/// What the outcome of a poll means to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// Nothing to do beyond waiting for the next timer.
    Continue,
    /// The parent announced a frame: keep the receiver on.
    AwaitFrame,
    /// `max_retries` polls in a row failed: the parent is gone.
    ParentLost,
}

/// Counters of a [`DataPoller`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStats {
    pub polls: u64,
    pub acked: u64,
    pub frame_pending: u64,
    pub failed: u64,
    /// Acks with Frame Pending after which no frame came in `frame_wait`.
    pub frame_timeouts: u64,
    pub parent_lost: u64,
    /// Polls whose transmit report never came within [`REPORT_WAIT`].
    pub lost_reports: u64,
}

/// How long a poll's transmit report may take before the poll counts as failed. weft's own
/// bound (not a Thread constant): a frame with its 3 retries and their 864 µs ack waits
/// (IEEE 802.15.4-2015 §10.3.6 macAckWaitDuration at 250 kb/s) and CSMA-CA back-offs take
/// tens of milliseconds, so a second means the report was lost.
pub const REPORT_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Stopped,
    /// The next poll is due at the given time.
    Waiting(Instant),
    /// A poll was handed out; its [`TxDone`] is awaited until the given time.
    Sending(Instant),
    /// The receiver is on for an announced frame until the given time.
    Receiving(Instant),
}

/// A sleepy child's poll timer (see the module documentation).
#[derive(Debug, Clone)]
pub struct DataPoller {
    config: PollConfig,
    state: State,
    fast_left: u8,
    failures: u8,
    /// A frame arrived while the poll's status was awaited: its Frame Pending bit.
    early_frame: Option<bool>,
    /// Set when polls whose reports never came ran out the retries.
    lost_parent: bool,
    stats: PollStats,
}

impl DataPoller {
    /// A stopped poller.
    pub fn new(config: PollConfig) -> Self {
        DataPoller {
            config,
            state: State::Stopped,
            fast_left: 0,
            failures: 0,
            early_frame: None,
            lost_parent: false,
            stats: PollStats::default(),
        }
    }

    pub fn config(&self) -> &PollConfig {
        &self.config
    }

    pub fn stats(&self) -> &PollStats {
        &self.stats
    }

    /// Changes the idle period (from the next poll on).
    pub fn set_period(&mut self, period: Duration) {
        self.config.period = period;
    }

    /// Starts polling: the first poll at once (a child polls right after attaching).
    pub fn start(&mut self, now: Instant) {
        self.failures = 0;
        self.state = State::Waiting(now);
    }

    /// Stops polling (detached, or no longer sleepy).
    pub fn stop(&mut self) {
        self.state = State::Stopped;
        self.fast_left = 0;
    }

    pub fn is_running(&self) -> bool {
        self.state != State::Stopped
    }

    /// The next `n` polls (0: the default number; at most [`MAX_FAST_POLLS`]) go every
    /// `fast_period`. A poll already further off is brought forward.
    pub fn fast_polls(&mut self, now: Instant, n: u8) {
        let n = if n == 0 {
            self.config.default_fast_polls
        } else {
            n
        };
        self.fast_left = self.fast_left.saturating_add(n).min(MAX_FAST_POLLS);
        if let State::Waiting(t) = self.state {
            let soon = now + self.config.fast_period;
            if t > soon {
                self.state = State::Waiting(soon);
            }
        }
    }

    /// When [`DataPoller::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting(t) | State::Receiving(t) | State::Sending(t) => Some(t),
            State::Stopped => None,
        }
    }

    /// Time has reached `now`: true when a Data Request is to be sent now (then report its
    /// outcome with [`DataPoller::on_tx_done`]).
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.state {
            State::Waiting(t) if t <= now => {
                self.state = State::Sending(now + REPORT_WAIT);
                self.early_frame = None;
                self.fast_left = self.fast_left.saturating_sub(1);
                self.stats.polls += 1;
                true
            }
            State::Receiving(t) if t <= now => {
                // The announced frame did not come: ask again.
                self.stats.frame_timeouts += 1;
                self.state = State::Sending(now + REPORT_WAIT);
                self.early_frame = None;
                self.stats.polls += 1;
                true
            }
            State::Sending(t) if t <= now => {
                // The radio never said how the poll went (a report lost or matched to
                // another frame): count it as a poll that failed, so the child polls again.
                self.stats.lost_reports += 1;
                let lost = TxDone {
                    bearer: crate::frame::Bearer::Ieee802154,
                    sequence_number: None,
                    status: TxStatus::Failed,
                    frame_pending: false,
                };
                if self.on_tx_done(now, &lost) == PollOutcome::ParentLost {
                    self.lost_parent = true;
                }
                false
            }
            _ => false,
        }
    }

    /// True once after the parent was found lost by [`DataPoller::handle_timeout`] (polls whose
    /// reports never came); [`DataPoller::on_tx_done`] says so in its outcome instead.
    pub fn take_parent_lost(&mut self) -> bool {
        std::mem::take(&mut self.lost_parent)
    }

    /// The outcome of the Data Request handed out by `handle_timeout`, as the radio reported it
    /// ([`TxDone`]: acknowledged, with Frame Pending or not).
    pub fn on_tx_done(&mut self, now: Instant, done: &TxDone) -> PollOutcome {
        if !matches!(self.state, State::Sending(_)) {
            return PollOutcome::Continue;
        }
        if done.status != TxStatus::Acked {
            self.stats.failed += 1;
            self.failures = self.failures.saturating_add(1);
            if self.failures > self.config.max_retries {
                self.stats.parent_lost += 1;
                self.state = State::Stopped;
                return PollOutcome::ParentLost;
            }
            self.state = State::Waiting(now + self.config.retry_period);
            return PollOutcome::Continue;
        }
        self.failures = 0;
        self.stats.acked += 1;
        if done.frame_pending {
            self.stats.frame_pending += 1;
            match self.early_frame.take() {
                // The announced frame came already, saying more wait: poll again at once.
                Some(true) => self.state = State::Waiting(now),
                Some(false) => self.schedule(now),
                None => {
                    self.state = State::Receiving(now + self.config.frame_wait);
                    return PollOutcome::AwaitFrame;
                }
            }
            return PollOutcome::Continue;
        }
        self.early_frame = None;
        self.schedule(now);
        PollOutcome::Continue
    }

    /// A frame from the parent arrived; `frame_pending` is its Frame Pending bit (more wait).
    pub fn on_frame(&mut self, now: Instant, frame_pending: bool) {
        if self.state == State::Stopped {
            return;
        }
        if matches!(self.state, State::Sending(_)) {
            self.early_frame = Some(frame_pending);
        } else if frame_pending {
            self.state = State::Waiting(now);
        } else if matches!(self.state, State::Receiving(_)) {
            self.schedule(now);
        }
    }

    fn schedule(&mut self, now: Instant) {
        let period = if self.fast_left > 0 {
            self.config.fast_period.min(self.config.period)
        } else {
            self.config.period
        };
        self.state = State::Waiting(now + period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Bearer;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn done(status: TxStatus, frame_pending: bool) -> TxDone {
        TxDone {
            bearer: Bearer::Ieee802154,
            sequence_number: Some(1),
            status,
            frame_pending,
        }
    }

    fn poller() -> DataPoller {
        DataPoller::new(PollConfig {
            period: Duration::from_secs(5),
            ..PollConfig::default()
        })
    }

    #[test]
    fn polls_every_period_when_nothing_waits() {
        let mut p = poller();
        assert_eq!(p.poll_timeout(), None);
        p.start(at(0));
        assert!(p.handle_timeout(at(0)));
        assert_eq!(
            p.poll_timeout(),
            Some(at(1000)),
            "waiting for the poll's outcome, for REPORT_WAIT at most"
        );
        assert_eq!(
            p.on_tx_done(at(2), &done(TxStatus::Acked, false)),
            PollOutcome::Continue
        );
        assert_eq!(p.poll_timeout(), Some(at(5002)));
        assert!(!p.handle_timeout(at(5001)));
        assert!(p.handle_timeout(at(5002)));
    }

    #[test]
    fn frame_pending_keeps_the_receiver_on_then_polls_again_when_more_wait() {
        let mut p = poller();
        p.start(at(0));
        p.handle_timeout(at(0));
        assert_eq!(
            p.on_tx_done(at(1), &done(TxStatus::Acked, true)),
            PollOutcome::AwaitFrame
        );
        assert_eq!(p.poll_timeout(), Some(at(101)));
        // The frame comes, saying more wait: poll at once.
        p.on_frame(at(5), true);
        assert!(p.handle_timeout(at(5)));
        p.on_tx_done(at(6), &done(TxStatus::Acked, true));
        // The last frame: back to the period.
        p.on_frame(at(8), false);
        assert_eq!(p.poll_timeout(), Some(at(5008)));
    }

    #[test]
    fn an_announced_frame_that_never_comes_is_asked_for_again() {
        let mut p = poller();
        p.start(at(0));
        p.handle_timeout(at(0));
        p.on_tx_done(at(1), &done(TxStatus::Acked, true));
        assert!(p.handle_timeout(at(101)));
        assert_eq!(p.stats().frame_timeouts, 1);
    }

    #[test]
    fn failed_polls_are_retried_then_the_parent_is_lost() {
        let mut p = poller();
        p.start(at(0));
        let mut now = 0;
        for _ in 0..4 {
            assert!(p.handle_timeout(at(now)));
            assert_eq!(
                p.on_tx_done(at(now), &done(TxStatus::NoAck, false)),
                PollOutcome::Continue
            );
            now += 1000;
            assert_eq!(p.poll_timeout(), Some(at(now)));
        }
        assert!(p.handle_timeout(at(now)));
        assert_eq!(
            p.on_tx_done(at(now), &done(TxStatus::ChannelAccessFailure, false)),
            PollOutcome::ParentLost
        );
        assert!(!p.is_running());
        assert_eq!(p.stats().failed, 5);
    }

    #[test]
    fn a_poll_whose_report_never_comes_is_sent_again_then_the_parent_is_lost() {
        let mut p = poller();
        p.start(at(0));
        let mut now = 0;
        assert!(p.handle_timeout(at(now)));
        for _ in 0..4 {
            // No TxDone: the report's deadline passes, the poll counts as failed.
            now += 1000;
            assert_eq!(p.poll_timeout(), Some(at(now)));
            assert!(!p.handle_timeout(at(now)));
            assert!(!p.take_parent_lost());
            now += 1000;
            assert_eq!(
                p.poll_timeout(),
                Some(at(now)),
                "retried after retry_period"
            );
            assert!(p.handle_timeout(at(now)));
        }
        now += 1000;
        assert!(!p.handle_timeout(at(now)));
        assert!(p.take_parent_lost());
        assert!(!p.take_parent_lost(), "said once");
        assert!(!p.is_running());
        assert_eq!(p.stats().lost_reports, 5);
        // A report that comes after all is ignored.
        assert_eq!(
            p.on_tx_done(at(now + 1), &done(TxStatus::Acked, false)),
            PollOutcome::Continue
        );
    }

    #[test]
    fn a_success_resets_the_failures() {
        let mut p = poller();
        p.start(at(0));
        for i in 0..10u64 {
            let t = p.poll_timeout().unwrap();
            assert!(p.handle_timeout(t));
            let status = if i % 2 == 0 {
                TxStatus::NoAck
            } else {
                TxStatus::Acked
            };
            assert_ne!(
                p.on_tx_done(t, &done(status, false)),
                PollOutcome::ParentLost
            );
        }
    }

    #[test]
    fn fast_polls_bring_the_next_polls_forward() {
        let mut p = poller();
        p.start(at(0));
        p.handle_timeout(at(0));
        p.on_tx_done(at(0), &done(TxStatus::Acked, false));
        assert_eq!(p.poll_timeout(), Some(at(5000)));
        p.fast_polls(at(100), 2);
        assert_eq!(p.poll_timeout(), Some(at(288)));
        assert!(p.handle_timeout(at(288)));
        p.on_tx_done(at(288), &done(TxStatus::Acked, false));
        assert_eq!(p.poll_timeout(), Some(at(476)));
        assert!(p.handle_timeout(at(476)));
        p.on_tx_done(at(476), &done(TxStatus::Acked, false));
        assert_eq!(
            p.poll_timeout(),
            Some(at(5476)),
            "two fast polls, then the period"
        );
        p.fast_polls(at(500), 100);
        assert_eq!(p.fast_left, MAX_FAST_POLLS);
    }

    #[test]
    fn a_frame_reported_before_the_polls_status_is_the_one_announced() {
        let mut p = poller();
        p.start(at(0));
        assert!(p.handle_timeout(at(0)));
        p.on_frame(at(1), true);
        assert_eq!(
            p.poll_timeout(),
            Some(at(REPORT_WAIT.as_millis())),
            "still waiting for the poll's status"
        );
        assert_eq!(
            p.on_tx_done(at(2), &done(TxStatus::Acked, true)),
            PollOutcome::Continue
        );
        assert_eq!(p.poll_timeout(), Some(at(2)), "more wait: at once");
        assert!(p.handle_timeout(at(2)));
        p.on_frame(at(3), false);
        p.on_tx_done(at(4), &done(TxStatus::Acked, true));
        assert_eq!(p.poll_timeout(), Some(at(5004)), "the last one: the period");
        assert_eq!(p.stats().frame_timeouts, 0);
    }

    #[test]
    fn a_stopped_poller_ignores_outcomes() {
        let mut p = poller();
        assert_eq!(
            p.on_tx_done(at(0), &done(TxStatus::Acked, true)),
            PollOutcome::Continue
        );
        p.on_frame(at(0), true);
        assert_eq!(p.poll_timeout(), None);
    }
}
