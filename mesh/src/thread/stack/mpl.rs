//! Realm-local multicast (scope 3: ff03::1, ff03::2, ...) across the mesh with MPL (RFC 7731),
//! as Thread does it (Thread 1.3 §5.?, section unverified) and OpenThread's `ip6_mpl.cpp`
//! (checked): the originator puts an MPL Option (`ip/mpl.rs`) in a Hop-by-Hop header, its
//! seed the RLOC16; every node keeps a seed set of (seed, sequence) heard for
//! SEED_SET_ENTRY_LIFETIME and drops what it has seen; a router buffers each new datagram
//! and sends it again ROUTER_RETRANSMISSIONS times (a child never), each at a random time in
//! a DATA_MESSAGE_INTERVAL window after the last window's end, its Hop Limit one less.
//!
//! Simplified: OpenThread evicts a full seed set's entry from the seed holding the most;
//! weft evicts the entry nearest its expiry. Scopes above realm-local (IP-in-IP to
//! ff03::fc) are not sent. A sleepy child gets no realm-local multicast from its parent.

use std::net::Ipv6Addr;

use rand_core::RngCore;

use super::{Node, Role};
use crate::thread::ip::mpl::{self, MplOption};
use crate::time::{Duration, Instant};

/// Seed set entries (OpenThread `OPENTHREAD_CONFIG_MPL_SEED_SET_ENTRIES`, 35, checked).
pub(super) const SEED_SET_ENTRIES: usize = 35;
/// How long a (seed, sequence) is remembered (OpenThread
/// `OPENTHREAD_CONFIG_MPL_SEED_SET_ENTRY_LIFETIME`, 5 s, checked).
const SEED_SET_ENTRY_LIFETIME: Duration = Duration::from_secs(5);
/// The window each retransmission falls in (OpenThread `kDataMessageInterval`, 64 ms,
/// checked).
const DATA_MESSAGE_INTERVAL: Duration = Duration::from_millis(64);
/// Transmissions by a router after the first (OpenThread `kRouterRetransmissions`, 2; a
/// child's `kChildRetransmissions` is 0; checked).
const ROUTER_RETRANSMISSIONS: u8 = 2;
/// Datagrams buffered for retransmission at once; beyond, the oldest is dropped (weft's
/// bound; OpenThread's is its message pool).
pub(super) const BUFFERED: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Seed {
    seed: u16,
    sequence: u8,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Buffered {
    at: Instant,
    /// Transmissions so far.
    count: u8,
    /// What is left of the current window after `at`.
    offset: Duration,
    datagram: Vec<u8>,
}

/// A node's MPL state.
#[derive(Debug, Clone, Default)]
pub(super) struct Mpl {
    sequence: u8,
    seeds: Vec<Seed>,
    buffered: Vec<Buffered>,
}

impl Mpl {
    /// Records (seed, sequence); `false` when it was there (a duplicate, whose lifetime is
    /// renewed, as OpenThread's `UpdateSeedSet` does).
    fn update(&mut self, now: Instant, seed: u16, sequence: u8) -> bool {
        self.seeds.retain(|s| s.expires > now);
        let expires = now + SEED_SET_ENTRY_LIFETIME;
        if let Some(s) = self
            .seeds
            .iter_mut()
            .find(|s| s.seed == seed && s.sequence == sequence)
        {
            s.expires = expires;
            return false;
        }
        if self.seeds.len() >= SEED_SET_ENTRIES {
            if let Some(i) = (0..self.seeds.len()).min_by_key(|&i| self.seeds[i].expires) {
                self.seeds.swap_remove(i);
            }
        }
        self.seeds.push(Seed {
            seed,
            sequence,
            expires,
        });
        true
    }

    pub(super) fn timeout(&self) -> Option<Instant> {
        self.buffered.iter().map(|b| b.at).min()
    }

    #[cfg(test)]
    pub(super) fn buffered(&self) -> usize {
        self.buffered.len()
    }

    #[cfg(test)]
    pub(super) fn seeds(&self) -> usize {
        self.seeds.len()
    }
}

/// Whether `dst` is a multicast address of realm-local scope (RFC 7346 §3), which MPL carries.
pub(super) fn realm_local(dst: &Ipv6Addr) -> bool {
    dst.is_multicast() && dst.octets()[1] & 0x0f == 3
}

impl<R: RngCore> Node<R> {
    /// The next transmission time in a new window: a random point of the window, after what
    /// was left of the last (OpenThread `Metadata::GenerateNextTransmissionTime`).
    fn mpl_schedule(&mut self, now: Instant, b: &mut Buffered) {
        let t = self.jitter(DATA_MESSAGE_INTERVAL);
        b.at = now + b.offset + t;
        b.offset = Duration::from_micros(DATA_MESSAGE_INTERVAL.as_micros() - t.as_micros());
    }

    fn mpl_buffer(&mut self, now: Instant, datagram: Vec<u8>, count: u8) {
        if !matches!(self.role, Role::Router | Role::Leader) {
            return;
        }
        if self.mpl.buffered.len() >= BUFFERED {
            self.mpl.buffered.remove(0);
            self.count("mpl: buffered set full (oldest dropped)");
        }
        let mut b = Buffered {
            at: now,
            count,
            offset: Duration::ZERO,
            datagram,
        };
        self.mpl_schedule(now, &mut b);
        self.mpl.buffered.push(b);
    }

    /// A realm-local multicast datagram this node originates, with its MPL Option (seed-id
    /// elided when the source is this node's RLOC, as OpenThread's `Mpl::InitOption`);
    /// buffered for a router's retransmission. `None` before the node has an RLOC16.
    pub(super) fn mpl_originate(&mut self, now: Instant, datagram: &[u8]) -> Option<Vec<u8>> {
        let me = self.addrs.rloc16?;
        let src = crate::thread::lowpan::Ipv6Header::parse(datagram).ok()?.src;
        let opt = MplOption {
            seed_id: (Some(src) != self.addrs.rloc()).then_some(me),
            max: false,
            sequence: self.mpl.sequence,
        };
        self.mpl.sequence = self.mpl.sequence.wrapping_add(1);
        let d = mpl::insert(datagram, &opt)?;
        self.mpl.update(now, me, opt.sequence);
        self.mpl_buffer(now, d.clone(), 1);
        Some(d)
    }

    /// A realm-local multicast datagram heard: `true` when it is new (to be delivered); a
    /// router buffers it to send on. Duplicates, this node's own datagrams coming back and
    /// malformed options are counted and dropped.
    pub(super) fn mpl_receive(&mut self, now: Instant, datagram: &[u8], src: &Ipv6Addr) -> bool {
        let opt = match mpl::find(datagram) {
            Ok(Some(o)) => o,
            Ok(None) => return true,
            Err(_) => {
                self.count("mpl: malformed option");
                return false;
            }
        };
        let Some(seed) = opt.seed(src) else {
            self.count("mpl: no seed (S = 0 from a source not a locator)");
            return false;
        };
        if Some(seed) == self.addrs.rloc16 || !self.mpl.update(now, seed, opt.sequence) {
            self.count("mpl: duplicate");
            return false;
        }
        let mut copy = datagram.to_vec();
        if mpl::decrement_hop_limit(&mut copy) {
            self.mpl_buffer(now, copy, 0);
        }
        true
    }

    /// Sends the buffered datagrams whose time has come.
    pub(super) fn mpl_timers(&mut self, now: Instant) {
        if !matches!(self.role, Role::Router | Role::Leader) {
            self.mpl.buffered.clear();
            return;
        }
        while let Some(i) = self.mpl.buffered.iter().position(|b| b.at <= now) {
            let mut b = self.mpl.buffered.swap_remove(i);
            b.count += 1;
            if b.count > ROUTER_RETRANSMISSIONS {
                continue;
            }
            self.count("mpl: transmissions");
            self.send_on_link(
                now,
                &b.datagram,
                crate::thread::mac::Address::Short(0xffff),
                None,
                true,
            );
            if b.count < ROUTER_RETRANSMISSIONS {
                self.mpl_schedule(now, &mut b);
                self.mpl.buffered.push(b);
            }
        }
    }

    /// Forgets expired seeds (housekeeping).
    pub(super) fn mpl_housekeeping(&mut self, now: Instant) {
        self.mpl.seeds.retain(|s| s.expires > now);
    }
}
