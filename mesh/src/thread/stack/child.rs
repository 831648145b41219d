//! Attaching as a child (Thread 1.3 §4.7.1-§4.7.3): a Parent Request to routers, then to
//! routers and REEDs; the best Parent Response (two-way link quality, then partition, then
//! Connectivity); Child ID Request and Response with challenges echoed; then the Child
//! Update keep-alive (§4.7.5) and, for a sleepy child, data polls.
//!
//! Timers (OpenThread's MLE constants, checked in its source): Parent Request to routers waits
//! 750 ms (`kParentRequestRouterTimeout`), to routers and REEDs 1250 ms
//! (`kParentRequestReedTimeout`), the Child ID Response 1250 ms (`kChildIdResponseTimeout`);
//! the first Parent Request goes out after a random 1..=750 ms (`Mle::GetAttachStartDelay`).
//!
//! Attach backoff (OpenThread `Mle::Attacher::GetStartDelay`, `config/mle.h`, checked in its
//! source; Thread 1.3 leaves the retry schedule to the implementation, unverified): each
//! attach cycle that fails while detached doubles the wait before the next, from 251 ms up
//! to 1200 s, then 1200 s ± 2 s; each wait gets a further random 0..50 ms. The count of
//! failed cycles restarts once the node is a router or leader, or a child for 20 s.

use rand_core::RngCore;

use super::link::DelayedMle;
use super::{Node, Partition, Rank, Role};
use crate::frame::{TxDone, TxStatus};
use crate::thread::mac::poll::PollOutcome;
use crate::thread::mac::ExtAddress;
use crate::thread::mle::{command as c, tlv_type, Connectivity, LeaderData, Tlv};
use crate::thread::wire::{link_margin, link_quality};
use crate::time::{Duration, Instant};

const PARENT_REQUEST_ROUTER_TIMEOUT: Duration = Duration::from_millis(750);
const PARENT_REQUEST_REED_TIMEOUT: Duration = Duration::from_millis(1250);
const CHILD_ID_RESPONSE_TIMEOUT: Duration = Duration::from_millis(1250);
/// A detached node waits a random time below this before a Parent Request
/// (`Mle::GetAttachStartDelay`: `kParentRequestRouterTimeout`).
const ATTACH_START_JITTER: Duration = Duration::from_millis(750);
/// The first backoff wait (`OPENTHREAD_CONFIG_MLE_ATTACH_BACKOFF_MINIMUM_INTERVAL`).
const ATTACH_BACKOFF_MIN: Duration = Duration::from_millis(251);
/// The longest backoff wait before jitter (`OPENTHREAD_CONFIG_MLE_ATTACH_BACKOFF_MAXIMUM_INTERVAL`).
const ATTACH_BACKOFF_MAX: Duration = Duration::from_secs(1200);
/// At the longest wait, a jitter in ±this (`OPENTHREAD_CONFIG_MLE_ATTACH_BACKOFF_JITTER_INTERVAL`).
const ATTACH_BACKOFF_JITTER: Duration = Duration::from_millis(2000);
/// Attached as a child this long, the backoff restarts from the first wait
/// (`OPENTHREAD_CONFIG_MLE_ATTACH_BACKOFF_DELAY_TO_RESET_BACKOFF_INTERVAL`).
const ATTACH_BACKOFF_RESET: Duration = Duration::from_secs(20);
/// A random wait below this is added to each backoff wait (`Mle::kAttachStartJitter`).
const ATTACH_RETRY_JITTER: Duration = Duration::from_millis(50);
/// Attach rounds without a parent before a router-eligible node forms its own partition
/// (weft's choice; OpenThread forms one after its first failed attach cycle).
const ROUNDS_BEFORE_LEADER: u8 = 2;
/// Child Update Requests unanswered before the child re-attaches (weft's choice).
const KEEPALIVE_ATTEMPTS: u8 = 3;
const KEEPALIVE_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Mode TLV bits (Thread 1.3 §4.4.2): receiver on when idle, Full Thread Device, full
/// Network Data.
pub(super) const MODE_RX_ON: u8 = 0x08;
pub(super) const MODE_FTD: u8 = 0x02;
const MODE_FULL_NETDATA: u8 = 0x01;
/// Scan Mask TLV bits (Thread 1.3 §4.4.15): routers, end devices (REEDs).
pub(super) const SCAN_ROUTERS: u8 = 0x80;
pub(super) const SCAN_REEDS: u8 = 0x40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not yet asked (start jitter).
    Start,
    Routers,
    RoutersAndReeds,
    ChildId,
}

#[derive(Debug, Clone)]
struct Candidate {
    ext: ExtAddress,
    rloc16: u16,
    partition: Partition,
    two_way: u8,
    connectivity: Connectivity,
    challenge: Vec<u8>,
}

/// An attach in progress.
#[derive(Debug, Clone)]
pub(super) struct Attach {
    phase: Phase,
    deadline: Instant,
    challenge: [u8; 8],
    best: Option<Candidate>,
    rounds: u8,
    /// Merging: only a partition ranked above this one is taken.
    better_than: Option<Rank>,
}

/// The parent of an attached child.
#[derive(Debug, Clone)]
pub(super) struct ParentLink {
    pub ext: ExtAddress,
    pub rloc16: u16,
    /// When the child attached (the backoff restarts 20 s later).
    attached_at: Instant,
    keepalive_at: Instant,
    /// A Child Update Request awaits its response: (challenge, deadline, attempts).
    awaiting: Option<([u8; 8], Instant, u8)>,
}

/// The first TLV `f` picks out.
pub(super) fn find<T>(tlvs: &[Tlv], f: impl Fn(&Tlv) -> Option<T>) -> Option<T> {
    tlvs.iter().find_map(f)
}

pub(super) fn response_of(tlvs: &[Tlv]) -> Option<Vec<u8>> {
    find(tlvs, |t| match t {
        Tlv::Response(r) => Some(r.clone()),
        _ => None,
    })
}

pub(super) fn challenge_of(tlvs: &[Tlv]) -> Option<Vec<u8>> {
    find(tlvs, |t| match t {
        Tlv::Challenge(r) => Some(r.clone()),
        _ => None,
    })
}

pub(super) fn leader_data_of(tlvs: &[Tlv]) -> Option<LeaderData> {
    find(tlvs, |t| match t {
        Tlv::LeaderData(l) => Some(*l),
        _ => None,
    })
}

pub(super) fn source_of(tlvs: &[Tlv]) -> Option<u16> {
    find(tlvs, |t| match t {
        Tlv::SourceAddress(s) => Some(*s),
        _ => None,
    })
}

/// A backoff wait before its random parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backoff {
    Doubled(Duration),
    /// [`ATTACH_BACKOFF_MAX`] ± [`ATTACH_BACKOFF_JITTER`].
    Longest,
}

/// The backoff after `failed` attach cycles (`None`: the first attempt, no backoff). As
/// OpenThread: 251 ms shifted left by `failed` - 1 while 2^(`failed` - 1) is at most
/// 1200 s / 251 ms (4780, integer division), so the doubling stops at 251 ms × 4096.
fn backoff(failed: u16) -> Option<Backoff> {
    let shift = u32::from(failed.checked_sub(1)?);
    let ratio = ATTACH_BACKOFF_MAX.as_micros() / ATTACH_BACKOFF_MIN.as_micros();
    Some(if shift < 64 && (1u64 << shift) <= ratio {
        Backoff::Doubled(Duration::from_micros(
            ATTACH_BACKOFF_MIN.as_micros() << shift,
        ))
    } else {
        Backoff::Longest
    })
}

impl<R: RngCore> Node<R> {
    pub(super) fn mode(&self) -> u8 {
        let mut m = if self.cfg.rx_on_when_idle {
            MODE_RX_ON
        } else {
            0
        };
        if self.cfg.router_eligible {
            m |= MODE_FTD | MODE_FULL_NETDATA;
        }
        m
    }

    /// Leaves any role and starts attaching (`better_than`: merging into a better partition).
    pub(super) fn start_attach(&mut self, now: Instant, better_than: Option<Rank>) {
        let attached = match self.role {
            Role::Router | Role::Leader => true,
            Role::Child => self
                .parent
                .as_ref()
                .is_some_and(|p| now >= p.attached_at + ATTACH_BACKOFF_RESET),
            Role::Detached => false,
        };
        if attached {
            self.attach_counter = 0;
        }
        // A router merging into a better partition is not detached: no failed cycle to count
        // (OpenThread `Attacher::Attach` counts only while detached).
        let merging = better_than.is_some() && matches!(self.role, Role::Router | Role::Leader);
        self.leave_role();
        let delay = self.attach_delay(!merging);
        self.attach = Some(Attach {
            phase: Phase::Start,
            deadline: now + delay,
            challenge: [0; 8],
            best: None,
            rounds: 0,
            better_than,
        });
    }

    /// The wait before the next attach cycle (`Mle::Attacher::GetStartDelay`); `count`: the
    /// cycle is one more of a detached node's.
    fn attach_delay(&mut self, count: bool) -> Duration {
        let delay = match backoff(self.attach_counter) {
            None => self.jitter(ATTACH_START_JITTER),
            Some(Backoff::Doubled(d)) => d + self.jitter(ATTACH_RETRY_JITTER),
            Some(Backoff::Longest) => {
                Duration::from_micros(
                    ATTACH_BACKOFF_MAX.as_micros() - ATTACH_BACKOFF_JITTER.as_micros(),
                ) + self.jitter(ATTACH_BACKOFF_JITTER + ATTACH_BACKOFF_JITTER)
                    + self.jitter(ATTACH_RETRY_JITTER)
            }
        };
        if count {
            self.attach_counter = self.attach_counter.saturating_add(1);
        }
        delay
    }

    /// Forgets the role's links: parent, children, neighbours, partition, RLOC16.
    fn leave_role(&mut self) {
        let was = self.role;
        for ch in std::mem::take(&mut self.children) {
            self.indirect.remove_child(ch.ext);
            self.event(super::Event::ChildRemoved {
                ext: ch.ext,
                rloc16: ch.rloc16,
            });
        }
        self.parent = None;
        self.pending_child = None;
        self.reed_advert_at = None;
        self.poller.stop();
        self.routes.clear();
        self.partition = None;
        self.addrs.rloc16 = None;
        self.solicit = None;
        if was != Role::Detached {
            self.set_role(Role::Detached);
        } else {
            self.role = Role::Detached;
            self.addrs.router = false;
            self.addrs.leader = false;
        }
    }

    fn send_parent_request(&mut self, now: Instant, scan: u8) {
        let challenge = self.challenge();
        let mode = self.mode();
        if let Some(a) = self.attach.as_mut() {
            a.challenge = challenge;
        }
        self.mle_to(
            now,
            None,
            c::PARENT_REQUEST,
            vec![
                Tlv::Mode(mode),
                Tlv::Challenge(challenge.to_vec()),
                Tlv::ScanMask(scan),
                Tlv::Version(crate::thread::wire::THREAD_VERSION),
            ],
        );
    }

    pub(super) fn attach_timeout(&self) -> Option<Instant> {
        let a = self.attach.as_ref().map(|a| a.deadline);
        let p = self.parent.as_ref().map(|p| match p.awaiting {
            Some((_, t, _)) => t,
            None => p.keepalive_at,
        });
        [a, p].into_iter().flatten().min()
    }

    pub(super) fn attach_timers(&mut self, now: Instant) {
        if let Some(a) = self.attach.clone() {
            if a.deadline <= now {
                self.attach_step(now, a);
            }
        }
        self.keepalive(now);
    }

    fn attach_step(&mut self, now: Instant, mut a: Attach) {
        match a.phase {
            Phase::Start => {
                a.phase = Phase::Routers;
                a.deadline = now + PARENT_REQUEST_ROUTER_TIMEOUT;
                a.best = None;
                self.attach = Some(a);
                self.send_parent_request(now, SCAN_ROUTERS);
            }
            Phase::Routers if a.best.is_none() => {
                a.phase = Phase::RoutersAndReeds;
                a.deadline = now + PARENT_REQUEST_REED_TIMEOUT;
                self.attach = Some(a);
                self.send_parent_request(now, SCAN_ROUTERS | SCAN_REEDS);
            }
            Phase::Routers | Phase::RoutersAndReeds => match a.best.clone() {
                Some(best) => {
                    a.phase = Phase::ChildId;
                    a.deadline = now + CHILD_ID_RESPONSE_TIMEOUT;
                    self.attach = Some(a);
                    self.send_child_id_request(now, &best);
                }
                None => {
                    a.rounds += 1;
                    if a.rounds >= ROUNDS_BEFORE_LEADER && self.cfg.router_eligible {
                        if a.better_than.is_some() {
                            // The better partition did not take us: attach anywhere.
                            self.start_attach(now, None);
                        } else {
                            self.attach = None;
                            self.become_leader(now);
                        }
                        return;
                    }
                    a.phase = Phase::Start;
                    a.deadline = now + self.attach_delay(true);
                    self.attach = Some(a);
                }
            },
            Phase::ChildId => {
                self.count("attach: no Child ID Response");
                a.phase = Phase::Start;
                a.best = None;
                a.deadline = now + self.attach_delay(true);
                self.attach = Some(a);
            }
        }
    }

    pub(super) fn on_parent_response(&mut self, _now: Instant, src: ExtAddress, tlvs: Vec<Tlv>) {
        let Some(a) = self.attach.as_ref() else {
            return;
        };
        if !matches!(a.phase, Phase::Routers | Phase::RoutersAndReeds) {
            return;
        }
        if response_of(&tlvs).as_deref() != Some(&a.challenge[..]) {
            self.count("mle: wrong challenge response");
            return;
        }
        let margin = find(&tlvs, |t| match t {
            Tlv::LinkMargin(m) => Some(*m),
            _ => None,
        });
        let conn = find(&tlvs, |t| match t {
            Tlv::Connectivity(c) => Some(*c),
            _ => None,
        });
        let (Some(rloc16), Some(ld), Some(margin), Some(connectivity), Some(challenge)) = (
            source_of(&tlvs),
            leader_data_of(&tlvs),
            margin,
            conn,
            challenge_of(&tlvs),
        ) else {
            self.count("mle: parent response without a required TLV");
            return;
        };
        let partition = Partition::from_leader_data(&ld);
        let singleton = connectivity.active_routers <= 1;
        if a.better_than
            .is_some_and(|b| partition.rank(singleton) <= b)
        {
            return;
        }
        let lq_in = link_quality(link_margin(self.last_rssi));
        let two_way = lq_in.min(link_quality(margin));
        if two_way == 0 {
            return;
        }
        let cand = Candidate {
            ext: src,
            rloc16,
            partition,
            two_way,
            connectivity,
            challenge,
        };
        let better = match &a.best {
            None => true,
            Some(b) => {
                let key = |c: &Candidate| {
                    (
                        // A router before a REED (it need not become one first).
                        c.rloc16 & 0x1ff == 0,
                        c.two_way,
                        c.partition.rank(c.connectivity.active_routers <= 1),
                        c.connectivity.parent_priority(),
                        c.connectivity.link_quality_3,
                    )
                };
                key(&cand) > key(b)
            }
        };
        if better {
            if let Some(a) = self.attach.as_mut() {
                a.best = Some(cand);
            }
        }
    }

    /// The Address Registration TLV (MLE TLV type 19, `mle/address_registration.rs`) with the
    /// ML-EID, compressed against context 0 (the mesh-local prefix): an entry is one octet
    /// `C`=1 (bit 7) and the context ID (bits 3-0), then the 8-octet IID. An OpenThread parent
    /// drops the Child ID Request of an MTD without it (`mle_ftd.cpp`, `HandleChildIdRequest`
    /// → `ProcessAddressRegistrationTlv`: not found, no answer), and learns from it where the
    /// child's ML-EID is.
    pub(super) fn address_registration(&self) -> Tlv {
        crate::thread::mle::address_registration::tlv(&[
            crate::thread::mle::address_registration::Entry::Compressed {
                context: 0,
                iid: self.addrs.ml_eid_iid,
            },
        ])
    }

    fn send_child_id_request(&mut self, now: Instant, p: &Candidate) {
        let mut req = vec![
            crate::thread::mle::tlv_type::ADDRESS16,
            crate::thread::mle::tlv_type::NETWORK_DATA,
        ];
        if self.cfg.router_eligible {
            req.push(tlv_type::ROUTE64);
        }
        let tlvs = vec![
            Tlv::Response(p.challenge.clone()),
            Tlv::LinkFrameCounter(self.fc.next_mac),
            Tlv::MleFrameCounter(self.fc.next_mle),
            Tlv::Mode(self.mode()),
            Tlv::Timeout(self.cfg.child_timeout.as_micros().div_ceil(1_000_000) as u32),
            Tlv::Version(crate::thread::wire::THREAD_VERSION),
            Tlv::TlvRequest(req),
            self.address_registration(),
        ];
        self.mle_to(now, Some(p.ext), c::CHILD_ID_REQUEST, tlvs);
    }

    pub(super) fn on_child_id_response(&mut self, now: Instant, src: ExtAddress, tlvs: Vec<Tlv>) {
        let Some(a) = self.attach.as_ref() else {
            return;
        };
        let Some(best) = a
            .best
            .clone()
            .filter(|b| a.phase == Phase::ChildId && b.ext == src)
        else {
            self.count("mle: child id response not awaited");
            return;
        };
        let addr16 = find(&tlvs, |t| match t {
            Tlv::Address16(a) => Some(*a),
            _ => None,
        });
        let (Some(rloc16), Some(ld), Some(parent16)) =
            (addr16, leader_data_of(&tlvs), source_of(&tlvs))
        else {
            self.count("mle: child id response without a required TLV");
            return;
        };
        // A REED parent answers as the router it became (Thread 1.3 §4.7.1).
        let reed = best.rloc16 & 0x1ff != 0;
        if (!reed && parent16 != best.rloc16)
            || parent16 & 0x1ff != 0
            || rloc16 >> 10 != parent16 >> 10
            || rloc16 & 0x1ff == 0
        {
            self.count("mle: child id response with a foreign Address16");
            return;
        }
        self.attach = None;
        self.partition = Some(Partition::from_leader_data(&ld));
        self.addrs.rloc16 = Some(rloc16);
        self.parent = Some(ParentLink {
            ext: best.ext,
            rloc16: parent16,
            attached_at: now,
            keepalive_at: now + self.keepalive_period(),
            awaiting: None,
        });
        if let Some(r) = find(&tlvs, |t| match t {
            Tlv::Route64(r) => Some(r.clone()),
            _ => None,
        }) {
            let _ = self.routes.adopt_mask(now, &r);
        }
        self.set_role(Role::Child);
        if !self.cfg.rx_on_when_idle {
            self.poller.start(now);
        }
        if self.cfg.router_eligible && self.cfg.rx_on_when_idle {
            // A REED advertises its partition at once, then now and then.
            self.reed_advert_at = Some(now);
        }
        self.consider_upgrade(now);
    }

    fn keepalive_period(&self) -> Duration {
        // Half the child timeout (weft's choice; OpenThread sends at the timeout less a guard).
        Duration::from_micros(self.cfg.child_timeout.as_micros() / 2)
    }

    fn keepalive(&mut self, now: Instant) {
        let Some(p) = self.parent.clone() else {
            return;
        };
        let attempts = match p.awaiting {
            Some((_, t, n)) if t <= now => {
                if n >= KEEPALIVE_ATTEMPTS {
                    self.count("attach: parent lost (no Child Update Response)");
                    self.start_attach(now, None);
                    return;
                }
                n
            }
            Some(_) => return,
            None if p.keepalive_at <= now => 0,
            None => return,
        };
        let challenge = self.challenge();
        if let Some(pl) = self.parent.as_mut() {
            pl.awaiting = Some((challenge, now + KEEPALIVE_RESPONSE_TIMEOUT, attempts + 1));
        }
        let tlvs = vec![
            Tlv::SourceAddress(self.addrs.rloc16.unwrap_or(0xfffe)),
            Tlv::Mode(self.mode()),
            Tlv::Timeout(self.cfg.child_timeout.as_micros().div_ceil(1_000_000) as u32),
            Tlv::Challenge(challenge.to_vec()),
            self.address_registration(),
        ];
        self.mle_to(now, Some(p.ext), c::CHILD_UPDATE_REQUEST, tlvs);
        if !self.cfg.rx_on_when_idle {
            // The response waits at the parent: poll for it (OpenThread fast polls).
            self.poller.fast_polls(now, 0);
        }
    }

    pub(super) fn on_child_update_response(
        &mut self,
        now: Instant,
        src: ExtAddress,
        tlvs: Vec<Tlv>,
    ) {
        let period = self.keepalive_period();
        let Some(p) = self.parent.as_mut().filter(|p| p.ext == src) else {
            return;
        };
        let Some((challenge, _, _)) = p.awaiting else {
            return;
        };
        if response_of(&tlvs).as_deref() != Some(&challenge[..]) {
            self.count("mle: wrong challenge response");
            return;
        }
        if find(&tlvs, |t| matches!(t, Tlv::Status(_)).then_some(())).is_some() {
            // The parent does not know this child any more (Thread 1.3 §4.7.5).
            self.count("attach: parent forgot this child");
            self.start_attach(now, None);
            return;
        }
        p.awaiting = None;
        p.keepalive_at = now + period;
    }

    /// Any authenticated frame from the parent.
    pub(super) fn frame_from_parent(&mut self, now: Instant, frame_pending: bool) {
        if !self.cfg.rx_on_when_idle {
            self.polling = frame_pending;
            self.poller.on_frame(now, frame_pending);
        }
    }

    pub(super) fn poller_receiving(&self) -> bool {
        self.attach.is_some() || self.polling
    }

    pub(super) fn data_request_done(&mut self, now: Instant, done: &TxDone) {
        self.polling = done.status == TxStatus::Acked && done.frame_pending;
        if self.poller.on_tx_done(now, done) == PollOutcome::ParentLost {
            self.count("attach: parent lost (data polls unacknowledged)");
            self.start_attach(now, None);
        }
    }

    /// A router's child table changed its view: nothing to do for a child.
    pub(super) fn parent_moved(&mut self, now: Instant) {
        self.count("attach: parent left the partition");
        self.start_attach(now, None);
    }

    /// Queues an MLE message for later.
    pub(super) fn delay_mle(&mut self, at: Instant, d: DelayedMle) {
        if self.delayed.len() >= 64 {
            self.count("tx: delayed MLE dropped (queue full)");
            return;
        }
        self.delayed.push((at, d));
    }
}
