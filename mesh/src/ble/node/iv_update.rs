//! The IV Update procedure (MshPRT §3.11.5) and IV Index Recovery (MshPRT §3.11.6).

use super::*;

impl<R: RngCore> Node<R> {
    /// The IV Update procedure and IV Index Recovery on a received beacon (MshPRT §3.11.5,
    /// §3.11.6).
    pub(super) fn iv_beacon(&mut self, now: Instant, iv: IvIndex, updating: bool) {
        let cur = self.state.iv_index;
        if iv.0 < cur.0 || iv.0 > cur.0.saturating_add(IV_RECOVERY_LIMIT) {
            return;
        }
        if self.state.iv_update {
            // In progress: a beacon of the same index without the flag ends it, once 96 hours
            // have passed for an initiator; a follower ends it when the network does.
            if iv == cur && !updating {
                self.set_iv(now, cur, false);
            } else if iv.0 > cur.0 {
                self.set_iv(now, iv, updating);
            }
        } else if iv.0 == cur.0 + 1 && updating {
            self.set_iv(now, iv, true);
        } else if iv.0 > cur.0 && !(iv.0 == cur.0 + 1 && updating) {
            // IV Index Recovery: a node that missed the update adopts the index it hears.
            self.set_iv(now, iv, updating);
        }
    }

    pub(super) fn set_iv(&mut self, now: Instant, iv: IvIndex, updating: bool) {
        let index_changed = iv != self.state.iv_index;
        self.state.iv_index = iv;
        self.state.iv_update = updating;
        self.iv_state_since = Some((now, Duration::ZERO));
        if !updating {
            // Normal operation with a new IV Index: sequence numbers restart (§3.11.5).
            self.next_seq = 0;
            self.state.seq_reserved = 0;
        }
        if index_changed {
            // Records older than the previous IV Index protect nothing any more (§3.4.4.3).
            self.rpl.prune_below(IvIndex(iv.0.saturating_sub(1)));
        }
        // Announce the new state quickly so the network converges.
        for sn in &mut self.subnets {
            sn.next_beacon = now;
        }
        self.events.push_back(Event::IvIndex {
            iv_index: iv,
            updating,
        });
        self.events.push_back(Event::PersistState);
    }

    pub(super) fn start_iv_update(&mut self) {
        if self.state.iv_update {
            return;
        }
        let now = self.now;
        if self.iv_state_age_at(now).is_some_and(|a| a < IV_UPDATE_MIN) {
            return;
        }
        let iv = IvIndex(self.state.iv_index.0.wrapping_add(1));
        self.set_iv(now, iv, true);
    }

    /// How long the node had been in its IV Update state at `now`, if known.
    pub(super) fn iv_state_age_at(&self, now: Instant) -> Option<Duration> {
        self.iv_state_since
            .map(|(t, age)| age + now.saturating_since(t))
    }

    /// How long the node has been in its current IV Update state (normal operation or IV
    /// Update in progress), as of the last call; `None` when unknown. A runtime that stops
    /// and starts the node keeps it (with the host's wall clock) and gives it back with
    /// [`Node::restore_iv_state_age`], so that the 96 hours of MshPRT §3.11.5 are counted
    /// across processes instead of starting again in each.
    pub fn iv_state_age(&self) -> Option<Duration> {
        self.iv_state_age_at(self.now)
    }

    /// The node has been in its current IV Update state for `age` at `now` (see
    /// [`Node::iv_state_age`]).
    pub fn restore_iv_state_age(&mut self, now: Instant, age: Duration) {
        self.now = self.now.max(now);
        self.iv_state_since = Some((now, age));
    }

    /// Ends an IV Update this node is in, if 96 hours have passed (MshPRT §3.11.5).
    pub(super) fn iv_timer(&mut self, now: Instant) {
        if self.state.iv_update {
            // Not known how long it has been: from now on (never shorter than 96 hours).
            self.iv_state_since.get_or_insert((now, Duration::ZERO));
            if self
                .iv_state_age_at(now)
                .is_some_and(|a| a >= IV_UPDATE_MIN)
            {
                let iv = self.state.iv_index;
                self.set_iv(now, iv, false);
            }
        }
    }
}
