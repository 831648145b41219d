//! Thread key derivation (Thread 1.3 §7.1.2.2-7.1.2.4) and key sequence tracking.
//!
//! `HMAC-SHA256(network key, BE32(key sequence) || "Thread")`: octets 0..16 are the MLE key,
//! 16..32 the MAC key. MAC frames carry Key ID Mode 1 with the Key Index
//! `(key sequence mod 128) + 1`; MLE messages carry Key ID Mode 2 with the key sequence itself
//! (big endian) as Key Source.

use crate::crypto::{hmac_sha256, CcmStar, Key};
use crate::time::{Duration, Instant};

/// The default Key Rotation time of the Security Policy, hours (Thread 1.3 §8.10.1.15;
/// OpenThread `SecurityPolicy::kDefaultKeyRotationTime`).
pub const DEFAULT_KEY_ROTATION_HOURS: u64 = 672;
/// The key switch guard time is this share of the rotation time (OpenThread
/// `KeyManager::kKeySwitchGuardTimePercentage`).
pub const KEY_SWITCH_GUARD_PERCENT: u64 = 93;
/// The default key switch guard time, hours: 93 % of 672, as OpenThread's
/// `kDefaultKeySwitchGuardTime` (Thread 1.3 §7.1.2.5).
pub const DEFAULT_KEY_SWITCH_GUARD_HOURS: u64 =
    DEFAULT_KEY_ROTATION_HOURS * KEY_SWITCH_GUARD_PERCENT / 100;

/// The key switch guard (Thread 1.3 §7.1.2.5; OpenThread `KeyManager::SetCurrentKeySequence`
/// with `kApplySwitchGuard`): a node follows the next key sequence (current + 1) heard in an
/// authenticated frame only once the guard time has passed since its last switch; a larger
/// jump is followed at once, as OpenThread does (the guard only covers the +1 step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySwitchGuard {
    pub guard: Duration,
    /// When the node last switched (or started), `None` before the first switch: the guard
    /// runs from the first switch, as OpenThread's `mKeySwitchGuardEnabled`.
    pub last_switch: Option<Instant>,
}

impl Default for KeySwitchGuard {
    fn default() -> Self {
        KeySwitchGuard::new(Duration::from_secs(DEFAULT_KEY_SWITCH_GUARD_HOURS * 3600))
    }
}

impl KeySwitchGuard {
    pub fn new(guard: Duration) -> Self {
        KeySwitchGuard {
            guard,
            last_switch: None,
        }
    }

    /// Whether a node whose key sequence is `current` may move to `seq` at `now`.
    pub fn allows(&self, now: Instant, current: u32, seq: u32) -> bool {
        if seq <= current {
            return false;
        }
        seq != current.wrapping_add(1)
            || self
                .last_switch
                .is_none_or(|t| now.saturating_since(t).as_micros() >= self.guard.as_micros())
    }
}

/// The string the key derivation appends to the key sequence (Thread 1.3 §7.1.2.2).
pub const THREAD_KEY_LABEL: &[u8] = b"Thread";

/// The Key Index of a key sequence: (key sequence mod 128) + 1 (Thread 1.3 §7.1.2.3).
pub const fn key_index(key_sequence: u32) -> u8 {
    (key_sequence % 128) as u8 + 1
}

/// The MLE and MAC keys of one key sequence, with their CCM* schedules expanded once.
#[derive(Clone)]
pub struct ThreadKeys {
    pub key_sequence: u32,
    pub mle_key: Key,
    pub mac_key: Key,
    mle: CcmStar,
    mac: CcmStar,
}

impl core::fmt::Debug for ThreadKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ThreadKeys")
            .field("key_sequence", &self.key_sequence)
            .finish_non_exhaustive()
    }
}

impl ThreadKeys {
    /// Derives the keys of `key_sequence` from the network key (Thread 1.3 §7.1.2.2).
    pub fn derive(network_key: &Key, key_sequence: u32) -> Self {
        let h = hmac_sha256(
            network_key,
            &[&key_sequence.to_be_bytes(), THREAD_KEY_LABEL],
        );
        let mut mle_key = [0u8; 16];
        let mut mac_key = [0u8; 16];
        mle_key.copy_from_slice(&h[..16]);
        mac_key.copy_from_slice(&h[16..]);
        ThreadKeys {
            key_sequence,
            mle_key,
            mac_key,
            mle: CcmStar::new(&mle_key),
            mac: CcmStar::new(&mac_key),
        }
    }
    /// The Key Index MAC frames secured with these keys carry.
    pub const fn key_index(&self) -> u8 {
        key_index(self.key_sequence)
    }
    /// The Key Source MLE messages secured with these keys carry (Key ID Mode 2).
    pub const fn key_source(&self) -> [u8; 4] {
        self.key_sequence.to_be_bytes()
    }
    pub fn mac(&self) -> &CcmStar {
        &self.mac
    }
    pub fn mle(&self) -> &CcmStar {
        &self.mle
    }
}

/// The keys of the current key sequence and of its neighbours (current - 1 and current + 1),
/// as a Thread node keeps them: a frame is tried with the key its Key Index names, and when a
/// frame authenticates with the next sequence's key the node follows the network to it (the
/// key switch guard time of Thread 1.3 §7.1.2.5 is left to the node).
#[derive(Clone)]
pub struct KeyManager {
    network_key: Key,
    previous: Option<ThreadKeys>,
    current: ThreadKeys,
    next: Option<ThreadKeys>,
    /// A node's key switch guard and the time of the frame being handled (see
    /// [`KeyManager::with_switch_guard`]); `None`: follow at once, as a sniffer does.
    guard: Option<(KeySwitchGuard, Instant)>,
}

impl core::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyManager")
            .field("key_sequence", &self.current.key_sequence)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    pub fn new(network_key: Key, key_sequence: u32) -> Self {
        KeyManager {
            previous: key_sequence
                .checked_sub(1)
                .map(|s| ThreadKeys::derive(&network_key, s)),
            current: ThreadKeys::derive(&network_key, key_sequence),
            next: key_sequence
                .checked_add(1)
                .map(|s| ThreadKeys::derive(&network_key, s)),
            network_key,
            guard: None,
        }
    }

    /// This manager with a node's key switch guard: from now on, frames that authenticate
    /// under a newer key sequence move it only as [`KeySwitchGuard`] allows, at the time
    /// given to [`KeyManager::set_now`].
    pub fn with_switch_guard(mut self, guard: KeySwitchGuard) -> Self {
        self.guard = Some((guard, Instant::ZERO));
        self
    }

    /// The time of the frame being handled (for the key switch guard).
    pub fn set_now(&mut self, now: Instant) {
        if let Some((_, t)) = self.guard.as_mut() {
            *t = now;
        }
    }

    pub fn key_sequence(&self) -> u32 {
        self.current.key_sequence
    }

    pub fn current(&self) -> &ThreadKeys {
        &self.current
    }

    /// Moves to `key_sequence`, re-deriving only the keys not already held.
    pub fn set_key_sequence(&mut self, key_sequence: u32) {
        if key_sequence == self.current.key_sequence {
            return;
        }
        let held = [
            self.previous.take(),
            Some(self.current.clone()),
            self.next.take(),
        ];
        let get = |seq: Option<u32>| {
            seq.map(|s| {
                held.iter()
                    .flatten()
                    .find(|k| k.key_sequence == s)
                    .cloned()
                    .unwrap_or_else(|| ThreadKeys::derive(&self.network_key, s))
            })
        };
        let previous = get(key_sequence.checked_sub(1));
        let next = get(key_sequence.checked_add(1));
        let current = get(Some(key_sequence)).unwrap_or_else(|| self.current.clone());
        self.previous = previous;
        self.current = current;
        self.next = next;
    }

    /// The held keys whose Key Index is `index` (a MAC frame's, Key ID Mode 1): the current
    /// sequence's, the previous one's or the next one's; `None` for any other index.
    pub fn keys_for_index(&self, index: u8) -> Option<&ThreadKeys> {
        [
            Some(&self.current),
            self.previous.as_ref(),
            self.next.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|k| k.key_index() == index)
    }

    /// The keys of `key_sequence` (an MLE message's Key Source): held ones when it is a
    /// neighbour of the current sequence, freshly derived otherwise.
    pub fn keys_for_sequence(&self, key_sequence: u32) -> std::borrow::Cow<'_, ThreadKeys> {
        [
            Some(&self.current),
            self.previous.as_ref(),
            self.next.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|k| k.key_sequence == key_sequence)
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| {
            std::borrow::Cow::Owned(ThreadKeys::derive(&self.network_key, key_sequence))
        })
    }

    /// Records that a frame authenticated with `key_sequence` at `now`, as a node does: a newer
    /// sequence becomes current when `guard` allows it (see [`KeySwitchGuard`]), and the guard
    /// restarts. Returns whether the node switched.
    pub fn authenticated_at(
        &mut self,
        now: Instant,
        key_sequence: u32,
        guard: &mut KeySwitchGuard,
    ) -> bool {
        if !guard.allows(now, self.current.key_sequence, key_sequence) {
            return false;
        }
        self.set_key_sequence(key_sequence);
        guard.last_switch = Some(now);
        true
    }

    /// Records that a frame authenticated with `key_sequence`: a newer sequence than the
    /// current one becomes current, without a guard (a sniffer follows the network at once).
    /// Returns whether the manager switched.
    /// With a switch guard set ([`KeyManager::with_switch_guard`]), the guard decides.
    pub fn authenticated_with(&mut self, key_sequence: u32) -> bool {
        if let Some((mut g, now)) = self.guard {
            let switched = self.authenticated_at(now, key_sequence, &mut g);
            self.guard = Some((g, now));
            return switched;
        }
        if key_sequence > self.current.key_sequence {
            self.set_key_sequence(key_sequence);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_wraps_at_128() {
        assert_eq!(key_index(0), 1);
        assert_eq!(key_index(127), 128);
        assert_eq!(key_index(128), 1);
    }

    #[test]
    fn manager_holds_neighbours_and_switches_forward() {
        let mut m = KeyManager::new([7; 16], 127);
        assert_eq!(m.keys_for_index(128).unwrap().key_sequence, 127);
        assert_eq!(m.keys_for_index(127).unwrap().key_sequence, 126);
        assert_eq!(m.keys_for_index(1).unwrap().key_sequence, 128);
        assert!(m.keys_for_index(2).is_none());
        assert!(!m.authenticated_with(126));
        assert!(m.authenticated_with(128));
        assert_eq!(m.key_sequence(), 128);
        assert_eq!(m.keys_for_index(2).unwrap().key_sequence, 129);
        assert_eq!(
            m.current().mac_key,
            ThreadKeys::derive(&[7; 16], 128).mac_key
        );
        assert_eq!(
            m.keys_for_sequence(5).mle_key,
            ThreadKeys::derive(&[7; 16], 5).mle_key
        );
        // Sequence 0 has no previous key.
        let m = KeyManager::new([7; 16], 0);
        assert!(m.keys_for_index(128).is_none());
    }

    #[test]
    fn default_guard_is_openthreads() {
        assert_eq!(DEFAULT_KEY_SWITCH_GUARD_HOURS, 624);
        assert_eq!(
            KeySwitchGuard::default().guard,
            Duration::from_secs(624 * 3600)
        );
    }

    #[test]
    fn a_node_follows_the_next_sequence_only_after_the_guard_time() {
        let hour = |h: u64| Instant::from_micros(h * 3_600_000_000);
        let mut m = KeyManager::new([7; 16], 10);
        let mut g = KeySwitchGuard::default();
        // The first switch is free (no earlier switch to guard from), and starts the guard.
        assert!(m.authenticated_at(hour(1), 11, &mut g));
        assert_eq!((m.key_sequence(), g.last_switch), (11, Some(hour(1))));
        // current + 1 within 624 hours of that switch: not followed.
        assert!(!m.authenticated_at(hour(1 + 623), 12, &mut g));
        assert_eq!(m.key_sequence(), 11);
        // At 624 hours it is.
        assert!(m.authenticated_at(hour(1 + 624), 12, &mut g));
        assert_eq!(m.key_sequence(), 12);
        // An older or equal sequence never moves the node back.
        assert!(!m.authenticated_at(hour(5000), 12, &mut g));
        assert!(!m.authenticated_at(hour(5000), 3, &mut g));
        // A jump of more than one is followed at once (the guard covers the +1 step only).
        assert!(m.authenticated_at(hour(626), 20, &mut g));
        assert_eq!(m.key_sequence(), 20);
        // A manager holding the guard applies it to every authenticated frame.
        let mut n = KeyManager::new([7; 16], 10).with_switch_guard(KeySwitchGuard::default());
        n.set_now(hour(1));
        assert!(n.authenticated_with(11));
        n.set_now(hour(2));
        assert!(!n.authenticated_with(12), "within the guard time");
        n.set_now(hour(700));
        assert!(n.authenticated_with(12));
        // Without a guard (the sniffer), at once.
        let mut s = KeyManager::new([7; 16], 10);
        assert!(s.authenticated_with(11) && s.authenticated_with(12));
    }
}
