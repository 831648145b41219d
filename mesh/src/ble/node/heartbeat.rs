//! Heartbeat publication (MshPRT §3.6.7.2, §4.2.17) and the Features a Heartbeat announces.

use super::*;

impl<R: RngCore> Node<R> {
    /// The Features field of a Heartbeat: which features are enabled (MshPRT §3.6.5.10:
    /// bit 0 relay, 1 proxy, 2 friend, 3 low power).
    pub fn features(&self) -> u16 {
        u16::from(self.state.relay) | u16::from(self.proxy_enabled()) << 1
    }

    /// Periodic Heartbeat publication (MshPRT §3.6.7.2, §4.2.17): every 2^(PeriodLog-1) s while
    /// the count lasts (0xFFFF: indefinitely).
    pub(super) fn heartbeat_timer(&mut self, now: Instant) {
        let Some(p) = self.state.heartbeat_publication.clone() else {
            return;
        };
        if p.count == 0 || p.period_log == 0 || p.dst.is_unassigned() {
            return;
        }
        let due = *self.next_heartbeat.get_or_insert(now);
        if due > now {
            return;
        }
        let period = Duration::from_secs(1u64 << (p.period_log.min(17) - 1));
        self.next_heartbeat = Some(now + period);
        let f = self.features().to_be_bytes();
        self.send_control(
            now,
            p.net_index,
            p.dst,
            p.ttl,
            0x0A,
            &[p.ttl & 0x7f, f[0], f[1]],
        );
        if p.count != 0xFFFF {
            if let Some(hp) = self.state.heartbeat_publication.as_mut() {
                hp.count -= 1;
            }
        }
    }
}
