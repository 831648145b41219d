//! How the Configuration Server answers the Heartbeat Publication and Subscription messages
//! (Mesh Protocol 1.1 §4.3.2.59..=§4.3.2.64; states §4.2.17, §4.2.18), and the run-time
//! counters of the Heartbeat Subscription the node keeps beside its persisted state.

use super::*;

/// The Heartbeat Publication Features bits that are defined: relay, proxy, friend, low power
/// (MshPRT §4.2.17.5; bits 4-15 RFU).
pub(super) const HEARTBEAT_FEATURES: u16 = 0x000F;
/// Min Hops of a subscription that has counted no Heartbeat yet: a Set that starts one sets it
/// to 0x7F (MshPRT §4.2.18.5; Configuration Server behaviour, §4.4.1.2.16 in MshPRF 1.0.1).
pub(super) const MIN_HOPS_INITIAL: u8 = 0x7F;
/// The largest hop count the Min Hops and Max Hops states hold (MshPRT §4.2.18.5, §4.2.18.6:
/// 0x80..=0xFF are prohibited). A forged Heartbeat (InitTTL 0x7F received with TTL 0) would
/// give 0x80.
pub(super) const MAX_HOPS_VALUE: u8 = 0x7F;

/// The run-time part of the Heartbeat Subscription (MshPRT §4.2.18): how long it still counts
/// and what it has counted since the last Config Heartbeat Subscription Set that started it.
/// Source and Destination are persisted ([`NodeState::heartbeat_subscription`]); these are not,
/// as in Zephyr, which persists no Heartbeat Subscription state at all: a restarted node has
/// counted nothing and is not counting until the next Set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatSubscriptionCounters {
    /// When the Heartbeat Subscription Period reaches 0 (None: not counting).
    pub(super) end: Option<Instant>,
    /// Heartbeat Subscription Count (§4.2.18.3): Heartbeats counted, stops at 0xFFFF.
    pub(super) count: u16,
    /// Heartbeat Subscription Min Hops (§4.2.18.5).
    pub(super) min_hops: u8,
    /// Heartbeat Subscription Max Hops (§4.2.18.6).
    pub(super) max_hops: u8,
}

impl Default for HeartbeatSubscriptionCounters {
    /// Nothing counted, not counting: the values a Set that starts a subscription gives, with
    /// no period.
    fn default() -> Self {
        HeartbeatSubscriptionCounters {
            end: None,
            count: 0,
            min_hops: MIN_HOPS_INITIAL,
            max_hops: 0,
        }
    }
}

impl HeartbeatSubscriptionCounters {
    /// The remaining Heartbeat Subscription Period at `now` in seconds, rounded up: the whole
    /// period right after the Set, 0 once it has run out (§4.2.18.4).
    pub fn remaining(&self, now: Instant) -> u16 {
        match self.end {
            Some(end) if end > now => {
                let secs = (end - now).as_micros().div_ceil(1_000_000);
                u16::try_from(secs).unwrap_or(u16::MAX)
            }
            _ => 0,
        }
    }

    /// Whether Heartbeats are counted at `now`: the period has not run out.
    pub fn counting(&self, now: Instant) -> bool {
        self.end.is_some_and(|end| now < end)
    }

    /// Counts a Heartbeat that arrived over `hops` hops (§3.6.5.10: InitTTL - RxTTL + 1) if the
    /// period runs; returns whether it was counted.
    fn record(&mut self, now: Instant, hops: u8) -> bool {
        if !self.counting(now) {
            return false;
        }
        // A Heartbeat travels at least one hop.
        let hops = hops.clamp(1, MAX_HOPS_VALUE);
        self.count = self.count.saturating_add(1);
        self.min_hops = self.min_hops.min(hops);
        self.max_hops = self.max_hops.max(hops);
        true
    }
}

/// A Heartbeat Subscription as it stands at one instant (MshPRT §4.2.18), in exact values
/// rather than the logarithms of the Status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatSubscriptionReport {
    /// Heartbeat Subscription Source (§4.2.18.1).
    pub source: Address,
    /// Heartbeat Subscription Destination (§4.2.18.2).
    pub destination: Address,
    /// Remaining Heartbeat Subscription Period in seconds (§4.2.18.4); 0: not counting.
    pub remaining: u16,
    /// Heartbeats counted (§4.2.18.3), 0xFFFF at most.
    pub count: u16,
    /// Fewest hops of the counted Heartbeats; 0x7F while none was counted (§4.2.18.5).
    pub min_hops: u8,
    /// Most hops of the counted Heartbeats; 0 while none was counted (§4.2.18.6).
    pub max_hops: u8,
}

/// The node's Heartbeat Subscription at `now`; None when its Source or Destination is
/// unassigned (no subscription).
pub fn heartbeat_subscription_report(
    state: &NodeState,
    hb: &HeartbeatSubscriptionCounters,
    now: Instant,
) -> Option<HeartbeatSubscriptionReport> {
    let s = state.heartbeat_subscription.as_ref()?;
    if s.src.is_unassigned() || s.dst.is_unassigned() {
        return None;
    }
    Some(HeartbeatSubscriptionReport {
        source: s.src,
        destination: s.dst,
        remaining: hb.remaining(now),
        count: hb.count,
        min_hops: hb.min_hops,
        max_hops: hb.max_hops,
    })
}

/// A Heartbeat (transport control opcode 0x0A, MshPRT §3.6.5.10) from `src` to `dst` arrived
/// over `hops` hops: it is counted when `src` is the Heartbeat Subscription Source, `dst` its
/// Destination and the period runs (§4.2.18). Returns whether it was counted.
pub fn heartbeat_received(
    state: &NodeState,
    hb: &mut HeartbeatSubscriptionCounters,
    now: Instant,
    src: Address,
    dst: Address,
    hops: u8,
) -> bool {
    match &state.heartbeat_subscription {
        Some(s) if s.src == src && s.dst == dst && !src.is_unassigned() => hb.record(now, hops),
        _ => false,
    }
}

/// Heartbeat Publication Count from a Count Log (MshPRT §4.2.17.2): 0 → 0, n → 2^(n-1),
/// 0xFF → 0xFFFF (indefinitely). 0x11 (2^16) does not fit and becomes 0xFFFE, the largest
/// finite count.
pub(super) fn count_from_log(log: u8) -> u16 {
    match log {
        0 => 0,
        0xFF => 0xFFFF,
        1..=0x10 => 1 << (log - 1),
        _ => 0xFFFE,
    }
}

/// The Count Log reported for a remaining count (MshPRT §4.3.2.61: the count rounded up to a
/// power of two): 0 → 0, 1 → 1, n → ⌈log2 n⌉ + 1, 0xFFFF → 0xFF.
pub(super) fn log_from_count(count: u16) -> u8 {
    match count {
        0 => 0,
        1 => 1,
        0xFFFF => 0xFF,
        n => (16 - (n - 1).leading_zeros()) as u8 + 1,
    }
}

/// The Heartbeat Subscription Period in seconds for a Period Log (MshPRT §4.2.18.4): 0 → 0,
/// n → 2^(n-1), 0x11 → 0xFFFF (the period is a 16-bit state, and 0xFFFF is 0x11 in the
/// Mesh CDB too; Zephyr counts 0x10000 s).
pub(super) fn subscription_period(log: u8) -> u16 {
    match log {
        0 => 0,
        1..=0x10 => 1 << (log - 1),
        _ => 0xFFFF,
    }
}

/// The logarithm the Heartbeat Subscription Status reports for a 16-bit value (MshPRF 1.0.1
/// Table 4.1, the log field transformation): 0 → 0, n → ⌊log2 n⌋ + 1, so n is in
/// 2^(log-1)..=2^log - 1.
pub(super) fn floor_log(v: u16) -> u8 {
    (16 - v.leading_zeros()) as u8
}

/// Period Log of a remaining period (MshPRT §4.2.18.4): 0xFFFF → 0x11, the counterpart of
/// [`subscription_period`]; otherwise [`floor_log`] (16 s → 5, 15 s → 4).
pub(super) fn subscription_period_log(remaining: u16) -> u8 {
    match remaining {
        0xFFFF => 0x11,
        r => floor_log(r),
    }
}

/// Count Log of a Heartbeat Subscription Count (MshPRT §4.2.18.3): 0xFFFF (the counter has
/// stopped) → 0xFF; otherwise [`floor_log`], so 0x8000..=0xFFFE → 0x10.
pub(super) fn subscription_count_log(count: u16) -> u8 {
    match count {
        0xFFFF => 0xFF,
        c => floor_log(c),
    }
}

impl Server<'_> {
    // ---------------------------------------------------------------------------------------
    // Heartbeat (§4.3.2.59..=§4.3.2.64; states §4.2.17, §4.2.18)
    // ---------------------------------------------------------------------------------------

    pub(super) fn heartbeat_publication_status(&self) -> ConfigMessage {
        let publication = match &self.state.heartbeat_publication {
            Some(p) => HeartbeatPublicationParams {
                destination: p.dst,
                count_log: log_from_count(p.count),
                period_log: p.period_log,
                ttl: p.ttl,
                features: Features(p.features),
                net_key_index: KeyIndex::from_bits(p.net_index),
            },
            None => HeartbeatPublicationParams {
                destination: Address::UNASSIGNED,
                count_log: 0,
                period_log: 0,
                ttl: 0,
                features: Features(0),
                net_key_index: KeyIndex::from_bits(0),
            },
        };
        ConfigMessage::HeartbeatPublicationStatus {
            status: StatusCode::Success,
            publication,
        }
    }

    /// Config Heartbeat Publication Set: a virtual destination is Invalid Address, an unknown
    /// NetKey Invalid NetKey Index (the status then repeats the request). An unassigned
    /// destination stops publishing: count, period and TTL become 0.
    pub(super) fn heartbeat_publication_set(
        &mut self,
        p: &HeartbeatPublicationParams,
    ) -> Option<ConfigMessage> {
        if p.ttl > 0x7F {
            // §4.2.17.4: TTL 0x80..=0xFF is prohibited.
            return None;
        }
        let failed = |status| {
            Some(ConfigMessage::HeartbeatPublicationStatus {
                status,
                publication: *p,
            })
        };
        if p.destination.is_virtual() {
            return failed(StatusCode::InvalidAddress);
        }
        if (p.count_log > 0x11 && p.count_log != 0xFF) || p.period_log > 0x11 {
            return failed(StatusCode::CannotSet);
        }
        if self.net_key(p.net_key_index).is_none() {
            return failed(StatusCode::InvalidNetKeyIndex);
        }
        let on = !p.destination.is_unassigned();
        let new = HeartbeatPublication {
            dst: p.destination,
            count: if on { count_from_log(p.count_log) } else { 0 },
            period_log: if on { p.period_log } else { 0 },
            ttl: if on { p.ttl } else { 0 },
            features: p.features.0 & HEARTBEAT_FEATURES,
            net_index: p.net_key_index.get(),
        };
        if self.state.heartbeat_publication.as_ref() != Some(&new) {
            self.state.heartbeat_publication = Some(new);
            self.effect(Effect::HeartbeatPublicationChanged);
        }
        Some(self.heartbeat_publication_status())
    }

    /// Config Heartbeat Subscription Status for a Get (MshPRT §4.3.2.64): the states at `now`,
    /// the remaining period and the count as logs. With the Source or Destination unassigned
    /// every field is 0 (§4.4.1.2.16 in MshPRF 1.0.1; BlueZ and the nRF5 SDK do the same, and
    /// Zephyr, which clears its counters with the addresses, answers zeros there too).
    pub(super) fn heartbeat_subscription_status(&self) -> ConfigMessage {
        let params = match heartbeat_subscription_report(self.state, self.hb, self.now) {
            Some(r) => HeartbeatSubscriptionParams {
                status: StatusCode::Success,
                source: r.source,
                destination: r.destination,
                period_log: subscription_period_log(r.remaining),
                count_log: subscription_count_log(r.count),
                min_hops: r.min_hops,
                max_hops: r.max_hops,
            },
            None => HeartbeatSubscriptionParams {
                status: StatusCode::Success,
                source: Address::UNASSIGNED,
                destination: Address::UNASSIGNED,
                period_log: 0,
                count_log: 0,
                min_hops: 0,
                max_hops: 0,
            },
        };
        ConfigMessage::HeartbeatSubscriptionStatus(params)
    }

    /// Config Heartbeat Subscription Set (MshPRT §4.3.2.63; behaviour §4.4.1.2.16 in MshPRF
    /// 1.0.1). The source is unassigned or unicast; the destination unassigned, this node's
    /// primary address or a group address; other values are prohibited and get no answer.
    ///
    /// * A unicast source, an assigned destination and a Period Log other than 0 start a
    ///   subscription: Count 0, Min Hops 0x7F, Max Hops 0, and the period runs from now. A Set
    ///   with the same source and destination starts it again (BlueZ, Zephyr and the nRF5 SDK
    ///   reset the counters on every such Set too).
    /// * Otherwise the subscription stops: Source and Destination become unassigned and the
    ///   period 0, while Count, Min Hops and Max Hops are kept, and the answer reports them
    ///   (a later Get reports all zeros). Zephyr differs: a Period Log of 0 with assigned
    ///   addresses keeps them (and answers with the old count, then clears it), and unassigned
    ///   addresses clear the counters; it then forces Min Hops 0x7F into the answer for the
    ///   qualification test MESH/NODE/CFG/HBS/BV-01-C, which the specification's rule gives
    ///   by itself when nothing was counted.
    pub(super) fn heartbeat_subscription_set(
        &mut self,
        source: Address,
        destination: Address,
        period_log: u8,
    ) -> Option<ConfigMessage> {
        let src_ok = source.is_unassigned() || source.is_unicast();
        let dst_ok = destination.is_unassigned()
            || destination.is_group()
            || destination == Address::from(self.state.primary);
        if !src_ok || !dst_ok || period_log > 0x11 {
            return None;
        }
        let new = if source.is_unassigned() || destination.is_unassigned() || period_log == 0 {
            self.hb.end = None;
            None
        } else {
            let period = subscription_period(period_log);
            *self.hb = HeartbeatSubscriptionCounters {
                end: Some(self.now + Duration::from_secs(u64::from(period))),
                ..HeartbeatSubscriptionCounters::default()
            };
            Some(HeartbeatSubscription {
                src: source,
                dst: destination,
                period_log,
            })
        };
        if self.state.heartbeat_subscription != new {
            self.state.heartbeat_subscription = new;
            self.effect(Effect::HeartbeatSubscriptionChanged);
        }
        let (source, destination) = match &self.state.heartbeat_subscription {
            Some(s) => (s.src, s.dst),
            None => (Address::UNASSIGNED, Address::UNASSIGNED),
        };
        Some(ConfigMessage::HeartbeatSubscriptionStatus(
            HeartbeatSubscriptionParams {
                status: StatusCode::Success,
                source,
                destination,
                period_log: subscription_period_log(self.hb.remaining(self.now)),
                count_log: subscription_count_log(self.hb.count),
                min_hops: self.hb.min_hops,
                max_hops: self.hb.max_hops,
            },
        ))
    }
}
