//! A simplified Thread child (an rx-on-when-idle end device; see the module documentation of
//! `node` for what is simplified): it attaches (Parent Request → Parent Response → Child ID
//! Request → Child ID Response) and then sends a CoAP message to its parent periodically.

use rand_core::RngCore;

use super::wire::{self, Inbound};
use super::*;
use crate::thread::mle::command;
use crate::wire::Wire;

/// How long a child collects Parent Responses from routers (OpenThread
/// `kParentRequestRouterTimeout`, 750 ms).
const PARENT_REQUEST_TIMEOUT: Duration = Duration::from_millis(750);
/// How long it waits for the Child ID Response (OpenThread `kChildIdResponseTimeout`,
/// 1,250 ms).
const CHILD_ID_RESPONSE_TIMEOUT: Duration = Duration::from_millis(1250);
/// Before trying to attach again after a failure (with up to as much random jitter).
const ATTACH_RETRY: Duration = Duration::from_secs(2);
/// The Mode TLV (Thread 1.3 §4.4): rx-on-when-idle (bit 3), full network data (bit 0) off:
/// a minimal end device.
const MODE_MED: u8 = 0x08;
/// Child timeout asked for, seconds.
const TIMEOUT_S: u32 = 240;

/// The best Parent Response so far.
#[derive(Debug, Clone)]
struct Candidate {
    ext: ExtAddress,
    rloc16: u16,
    margin: u8,
    challenge: Vec<u8>,
}

#[derive(Debug, Clone)]
enum State {
    /// Will send a Parent Request at the time.
    Detached { at: Instant },
    /// Collecting Parent Responses to `challenge` until `until`.
    ParentRequested {
        challenge: Vec<u8>,
        until: Instant,
        best: Option<Candidate>,
    },
    /// Waiting for the Child ID Response of `parent`.
    ChildIdRequested { parent: Candidate, until: Instant },
    /// Attached to `parent`; the next data message is due at `next_data`.
    Attached {
        parent: Candidate,
        next_data: Instant,
    },
}

/// A simplified Thread child.
#[derive(Debug)]
pub struct Child<R> {
    pub(super) c: Common<R>,
    state: State,
    data_interval: Duration,
    message_id: u16,
}

impl<R: RngCore> Child<R> {
    /// A child that starts attaching at `start` and, once attached, sends a CoAP message to
    /// its parent about every `data_interval` (± 10 %).
    pub fn new(
        net: NetworkConfig,
        ext: ExtAddress,
        rng: R,
        start: Instant,
        data_interval: Duration,
    ) -> Self {
        let mut c = Common::new(net, ext, rng);
        let message_id = c.rng.next_u32() as u16;
        Child {
            c,
            state: State::Detached { at: start },
            data_interval,
            message_id,
        }
    }

    pub fn ext_address(&self) -> ExtAddress {
        self.c.ext
    }
    pub fn rloc16(&self) -> Option<u16> {
        matches!(self.state, State::Attached { .. })
            .then_some(self.c.rloc16)
            .flatten()
    }
    /// The parent's RLOC16, once attached.
    pub fn parent(&self) -> Option<u16> {
        match &self.state {
            State::Attached { parent, .. } => Some(parent.rloc16),
            _ => None,
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        Some(match &self.state {
            State::Detached { at } => *at,
            State::ParentRequested { until, .. } => *until,
            State::ChildIdRequested { until, .. } => *until,
            State::Attached { next_data, .. } => *next_data,
        })
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        match std::mem::replace(&mut self.state, State::Detached { at: now }) {
            State::Detached { at } if at <= now => self.parent_request(now),
            State::ParentRequested { until, best, .. } if until <= now => match best {
                Some(parent) => self.child_id_request(now, parent),
                None => self.retry(now, "no Parent Response"),
            },
            State::ChildIdRequested { until, .. } if until <= now => {
                self.retry(now, "no Child ID Response")
            }
            State::Attached { parent, next_data } if next_data <= now => {
                self.send_data(&parent);
                let next = now + self.data_delay();
                self.state = State::Attached {
                    parent,
                    next_data: next,
                };
            }
            s => self.state = s,
        }
    }

    fn retry(&mut self, now: Instant, reason: &'static str) {
        self.c.event(ThreadEvent::AttachRetry { reason });
        let at = now + ATTACH_RETRY + self.c.jitter(ATTACH_RETRY);
        self.state = State::Detached { at };
    }

    /// 90 % to 110 % of the data interval.
    fn data_delay(&mut self) -> Duration {
        let i = self.data_interval.as_micros();
        Duration::from_micros(i - i / 10) + self.c.jitter(Duration::from_micros(i / 5))
    }

    /// A Parent Request to ff02::2 (Thread 1.3 §4.5: Mode, Challenge, Scan Mask (routers),
    /// Version).
    fn parent_request(&mut self, now: Instant) {
        let challenge = self.c.challenge();
        let tlvs = vec![
            Tlv::Mode(MODE_MED),
            Tlv::Challenge(challenge.clone()),
            Tlv::ScanMask(0x80),
            Tlv::Version(THREAD_VERSION),
        ];
        self.c.send_mle(
            ALL_ROUTERS,
            Address::Short(0xffff),
            command::PARENT_REQUEST,
            tlvs,
        );
        self.state = State::ParentRequested {
            challenge,
            until: now + PARENT_REQUEST_TIMEOUT,
            best: None,
        };
    }

    /// A Child ID Request to the chosen parent (Thread 1.3 §4.5: Response, Link-layer and
    /// MLE Frame Counters, Mode, Timeout, Version, TLV Request).
    fn child_id_request(&mut self, now: Instant, parent: Candidate) {
        let tlvs = vec![
            Tlv::Response(parent.challenge.clone()),
            Tlv::LinkFrameCounter(self.c.mac_frame_counter),
            Tlv::MleFrameCounter(self.c.mle_frame_counter),
            Tlv::Mode(MODE_MED),
            Tlv::Timeout(TIMEOUT_S),
            Tlv::Version(THREAD_VERSION),
            Tlv::TlvRequest(vec![
                crate::thread::mle::tlv_type::ADDRESS16,
                crate::thread::mle::tlv_type::NETWORK_DATA,
            ]),
        ];
        self.c.send_mle(
            wire::link_local(parent.ext),
            Address::Extended(parent.ext),
            command::CHILD_ID_REQUEST,
            tlvs,
        );
        self.state = State::ChildIdRequested {
            parent,
            until: now + CHILD_ID_RESPONSE_TIMEOUT,
        };
    }

    /// A CoAP POST to the parent's RLOC, MAC-secured, acknowledged by the parent's radio.
    fn send_data(&mut self, parent: &Candidate) {
        let Some(me) = self.c.rloc16 else { return };
        self.message_id = self.message_id.wrapping_add(1);
        let mid = self.message_id;
        let prefix = self.c.net.mesh_local_prefix;
        let reading = (self.c.rng.next_u32() % 4000) as u16;
        let coap = wire::coap_post(mid, me, "t", &reading.to_be_bytes());
        let datagram = wire::udp_datagram(
            wire::rloc(prefix, me),
            wire::rloc(prefix, parent.rloc16),
            wire::COAP_PORT,
            wire::COAP_PORT,
            &coap,
        );
        let link = wire::Link {
            pan_id: self.c.net.pan_id,
            src: self.c.ext,
            dst: Address::Short(parent.rloc16),
            seq: self.c.next_seq(),
            ack_request: true,
        };
        let fc = self.c.mac_frame_counter;
        self.c.mac_frame_counter = fc.wrapping_add(1);
        match wire::data_frame(
            link,
            &datagram,
            &self.c.ctx,
            Some((self.c.keys.current(), fc)),
        ) {
            Some(f) => {
                self.c.push_frame(f);
                self.c.event(ThreadEvent::DataSent {
                    dst: parent.rloc16,
                    message_id: mid,
                });
            }
            None => self.c.drop("data message did not compress"),
        }
    }

    pub(super) fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        // Only a Parent Response or our Child ID Response matter: skip the crypto of anything
        // else (Advertisements of other routers, once attached).
        let from_parent = |ext: ExtAddress| match &self.state {
            State::ParentRequested { .. } => true,
            State::ChildIdRequested { parent, .. } => parent.ext == ext,
            _ => false,
        };
        let src = crate::thread::mac::Frame::parse(&frame.bytes)
            .ok()
            .and_then(|f| match f.src {
                Address::Extended(e) => Some(e),
                _ => None,
            });
        if !src.is_some_and(from_parent) {
            return;
        }
        let inb = match wire::read_frame(&frame.bytes, &mut self.c.keys, &self.c.ctx) {
            Ok(i) => i,
            Err(reason) => return self.c.drop(reason),
        };
        let opened = match wire::read_mle(&inb, &mut self.c.keys) {
            Ok(o) => o,
            Err(reason) => return self.c.drop(reason),
        };
        let cmd = opened.payload.command;
        self.c.event(ThreadEvent::MleReceived {
            command: cmd,
            from: inb.mac_src,
            rssi: frame.rssi,
        });
        match cmd {
            command::PARENT_RESPONSE => {
                self.parent_response(&inb, &opened.payload.tlvs, frame.rssi)
            }
            command::CHILD_ID_RESPONSE => self.child_id_response(now, &inb, &opened.payload.tlvs),
            _ => {}
        }
    }

    fn parent_response(&mut self, inb: &Inbound, tlvs: &[Tlv], rssi: Option<i8>) {
        let State::ParentRequested {
            challenge, best, ..
        } = &mut self.state
        else {
            return;
        };
        let mut src = None;
        let mut response = None;
        let mut their = None;
        let mut partition = None;
        for t in tlvs {
            match t {
                Tlv::SourceAddress(a) => src = Some(*a),
                Tlv::Response(r) => response = Some(r),
                Tlv::Challenge(c) => their = Some(c.clone()),
                Tlv::LeaderData(l) => partition = Some(l.partition_id),
                _ => {}
            }
        }
        if response != Some(&*challenge) {
            return self.c.drop("Parent Response with a wrong Response");
        }
        let (Some(rloc16), Some(their)) = (src, their) else {
            return self
                .c
                .drop("Parent Response without Source Address or Challenge");
        };
        if partition != Some(self.c.net.partition_id) {
            return self.c.drop("Parent Response from another partition");
        }
        let margin = link_margin(rssi);
        let better = best.as_ref().is_none_or(|b| {
            (link_quality(margin), margin, std::cmp::Reverse(rloc16))
                > (
                    link_quality(b.margin),
                    b.margin,
                    std::cmp::Reverse(b.rloc16),
                )
        });
        if better {
            *best = Some(Candidate {
                ext: inb.mac_src,
                rloc16,
                margin,
                challenge: their,
            });
        }
    }

    fn child_id_response(&mut self, now: Instant, inb: &Inbound, tlvs: &[Tlv]) {
        let State::ChildIdRequested { parent, .. } = &self.state else {
            return;
        };
        if parent.ext != inb.mac_src {
            return;
        }
        let address16 = tlvs.iter().find_map(|t| match t {
            Tlv::Address16(a) => Some(*a),
            _ => None,
        });
        let Some(rloc16) = address16.filter(|a| a & !0x3ff == parent.rloc16 && a & 0x3ff != 0)
        else {
            return self
                .c
                .drop("Child ID Response without an Address16 under the parent");
        };
        let parent = parent.clone();
        self.c.rloc16 = Some(rloc16);
        self.c.event(ThreadEvent::Attached {
            parent: parent.rloc16,
            rloc16,
            link_margin: parent.margin,
        });
        // The first data message at a random point of the first interval.
        let first = now + self.c.jitter(self.data_interval);
        self.state = State::Attached {
            parent,
            next_data: first,
        };
    }
}
