//! A sans-IO CoAP endpoint (RFC 7252 §4, §5.3): confirmable requests retransmitted with
//! exponential back-off until acknowledged (§4.2), non-confirmable ones sent once (§4.3),
//! duplicates detected and answered again from a cache (§4.5), responses matched to requests
//! by token and peer (§5.3.2), piggybacked and separate responses (§5.2.1, §5.2.2), and
//! messages that match nothing rejected with a Reset (§4.2, §4.3).
//!
//! Datagrams come in through [`Endpoint::handle_datagram`]; what to send comes out of
//! [`Endpoint::poll_transmit`]; outcomes of requests come out of [`Endpoint::poll_event`];
//! time advances through [`Endpoint::poll_timeout`] and [`Endpoint::handle_timeout`]. Every
//! table and queue is bounded, and what overflows or does not parse is counted.

use std::collections::VecDeque;
use std::net::SocketAddrV6;

use rand_core::RngCore;

use super::message::{Code, Message, MessageType};
use crate::time::{Duration, Instant};
use crate::wire::Wire;

/// Transmission parameters (RFC 7252 §4.8) and the endpoint's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// ACK_TIMEOUT (§4.8: 2 s).
    pub ack_timeout: Duration,
    /// ACK_RANDOM_FACTOR as a fraction (§4.8: 1.5 = 3/2).
    pub ack_random_factor: (u64, u64),
    /// MAX_RETRANSMIT (§4.8: 4).
    pub max_retransmit: u8,
    /// How long a response is awaited after an Empty ACK or for a non-confirmable request
    /// (§4.8.2 MAX_TRANSMIT_WAIT, 93 s).
    pub response_wait: Duration,
    /// How long a confirmable message ID is remembered for duplicate detection (§4.8.2
    /// EXCHANGE_LIFETIME, 247 s).
    pub exchange_lifetime: Duration,
    /// How long a non-confirmable message ID is remembered (§4.8.2 NON_LIFETIME, 145 s).
    pub non_lifetime: Duration,
    /// Token length of requests (OpenThread's `OT_COAP_DEFAULT_TOKEN_LENGTH`, 2).
    pub token_len: usize,
    /// Requests and separate responses in flight at once.
    pub max_outstanding: usize,
    /// Received message IDs remembered for duplicate detection.
    pub max_dedup: usize,
    /// Datagrams and events waiting to be polled.
    pub max_queued: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: (3, 2),
            max_retransmit: 4,
            response_wait: Duration::from_secs(93),
            exchange_lifetime: Duration::from_secs(247),
            non_lifetime: Duration::from_secs(145),
            token_len: 2,
            max_outstanding: 8,
            max_dedup: 32,
            max_queued: 32,
        }
    }
}

/// A token (§5.3.1), at most 8 octets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Token {
    len: u8,
    bytes: [u8; 8],
}

impl Token {
    /// `None` when longer than 8 octets.
    pub fn new(b: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; 8];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Token {
            len: b.len() as u8,
            bytes,
        })
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Token({:?})", crate::wire::Hex(self.as_slice()))
    }
}

/// What became of a request (or of a separate response) this endpoint sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoapEvent {
    /// The response to request `token`.
    Response {
        token: Token,
        peer: SocketAddrV6,
        msg: Message,
    },
    /// No acknowledgement after MAX_RETRANSMIT retransmissions, or no response in time.
    Timeout { token: Token },
    /// The peer rejected the message with a Reset (§4.2).
    Reset { token: Token },
}

/// A request to answer (with [`Endpoint::respond`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub peer: SocketAddrV6,
    pub request: Message,
}

/// Why a request was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0} requests are already in flight")]
    Busy(usize),
    #[error("code {0} is not a request method")]
    NotARequest(Code),
}

/// Counters of an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointStats {
    pub sent: u64,
    pub retransmissions: u64,
    pub received: u64,
    /// Datagrams that are not CoAP messages (§3), or Empty messages with content.
    pub malformed: u64,
    /// Requests received again and answered from the cache or ignored (§4.5).
    pub duplicates: u64,
    /// ACKs, Resets and responses that match nothing of ours.
    pub unmatched: u64,
    pub resets_sent: u64,
    /// Datagrams or events dropped because their queue was full.
    pub dropped: u64,
}

#[derive(Debug)]
struct Outstanding {
    token: Token,
    peer: SocketAddrV6,
    message_id: u16,
    bytes: Vec<u8>,
    /// Still waiting for an ACK (confirmable and not acknowledged).
    awaiting_ack: bool,
    /// A response is expected (a request; false for a separate response we sent).
    wants_response: bool,
    retransmits: u8,
    interval: Duration,
    deadline: Instant,
}

#[derive(Debug)]
struct Seen {
    peer: SocketAddrV6,
    message_id: u16,
    expires: Instant,
    /// The response sent to it, for a duplicate (§4.5).
    response: Option<Vec<u8>>,
}

/// A CoAP endpoint over one UDP port of one node.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    next_mid: u16,
    rng_state: u64,
    outstanding: Vec<Outstanding>,
    seen: VecDeque<Seen>,
    transmit: VecDeque<(SocketAddrV6, Vec<u8>)>,
    events: VecDeque<CoapEvent>,
    stats: EndpointStats,
}

impl Endpoint {
    /// An endpoint whose message IDs start at a random value (§4.4) and whose tokens and
    /// retransmission jitter come from a generator seeded from `rng`.
    pub fn new(config: Config, rng: &mut impl RngCore) -> Self {
        Self::with_seed(config, rng.next_u64())
    }

    /// An endpoint whose first message ID, tokens and jitter all follow from `seed`.
    pub fn with_seed(config: Config, seed: u64) -> Self {
        let mut e = Endpoint {
            config,
            next_mid: 0,
            rng_state: seed,
            outstanding: Vec::new(),
            seen: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: EndpointStats::default(),
        };
        e.next_mid = e.random() as u16;
        e
    }

    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Requests (and separate responses) in flight.
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }

    fn random(&mut self) -> u64 {
        // SplitMix64 step.
        self.rng_state = self.rng_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn mid(&mut self) -> u16 {
        let m = self.next_mid;
        self.next_mid = self.next_mid.wrapping_add(1);
        m
    }

    /// The first retransmission timeout: random in [ACK_TIMEOUT, ACK_TIMEOUT ×
    /// ACK_RANDOM_FACTOR] (§4.2).
    fn initial_timeout(&mut self) -> Duration {
        let base = self.config.ack_timeout.as_micros();
        let (n, d) = self.config.ack_random_factor;
        let max = base.saturating_mul(n) / d.max(1);
        let span = max.saturating_sub(base) + 1;
        Duration::from_micros(base + self.random() % span)
    }

    fn push_tx(&mut self, peer: SocketAddrV6, bytes: Vec<u8>) {
        if self.transmit.len() >= self.config.max_queued {
            self.stats.dropped += 1;
            return;
        }
        self.stats.sent += 1;
        self.transmit.push_back((peer, bytes));
    }

    fn push_event(&mut self, e: CoapEvent) {
        if self.events.len() >= self.config.max_queued {
            self.stats.dropped += 1;
            return;
        }
        self.events.push_back(e);
    }

    fn send_reset(&mut self, peer: SocketAddrV6, message_id: u16) {
        self.stats.resets_sent += 1;
        let rst = Message::empty(MessageType::Reset, message_id).to_vec();
        self.push_tx(peer, rst);
    }

    /// Sends a request of `msg`'s type (confirmable or non-confirmable), code, options and
    /// payload; the endpoint sets its message ID and a fresh token, which it returns.
    pub fn request(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        mut msg: Message,
    ) -> Result<Token, RequestError> {
        if !msg.code.is_request() {
            return Err(RequestError::NotARequest(msg.code));
        }
        if self.outstanding.len() >= self.config.max_outstanding {
            return Err(RequestError::Busy(self.config.max_outstanding));
        }
        let token = loop {
            let r = self.random().to_be_bytes();
            let t = Token::new(&r[..self.config.token_len.min(8)]).unwrap_or_default();
            if !self.outstanding.iter().any(|o| o.token == t) {
                break t;
            }
        };
        let _ = msg.set_token(token.as_slice());
        if msg.mtype != MessageType::NonConfirmable {
            msg.mtype = MessageType::Confirmable;
        }
        msg.message_id = self.mid();
        self.track(now, peer, token, msg, true);
        Ok(token)
    }

    fn track(&mut self, now: Instant, peer: SocketAddrV6, token: Token, msg: Message, wants: bool) {
        let bytes = msg.to_vec();
        let con = msg.mtype == MessageType::Confirmable;
        let interval = if con {
            self.initial_timeout()
        } else {
            self.config.response_wait
        };
        self.push_tx(peer, bytes.clone());
        if !con && !wants {
            return;
        }
        self.outstanding.push(Outstanding {
            token,
            peer,
            message_id: msg.message_id,
            bytes,
            awaiting_ack: con,
            wants_response: wants,
            retransmits: 0,
            interval,
            deadline: now + interval,
        });
    }

    /// Acknowledges a confirmable request now with an Empty ACK (§5.2.2), so that its
    /// response can follow later as a separate one.
    pub fn acknowledge(&mut self, now: Instant, peer: SocketAddrV6, request: &Message) {
        if request.mtype != MessageType::Confirmable {
            return;
        }
        let ack = Message::empty(MessageType::Acknowledgement, request.message_id).to_vec();
        self.remember_response(now, peer, request, ack.clone());
        self.push_tx(peer, ack);
    }

    /// Answers `request` from `peer` with `response` (its code, options and payload): in the
    /// ACK of a confirmable request not yet acknowledged (piggybacked, §5.2.1); otherwise in a
    /// message of the request's type with a new message ID (§5.2.2, §5.2.3), a confirmable
    /// one retransmitted until acknowledged.
    pub fn respond(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        request: &Message,
        mut response: Message,
    ) {
        let _ = response.set_token(request.token());
        let token = Token::new(request.token()).unwrap_or_default();
        let acked = self
            .seen
            .iter()
            .any(|s| s.peer == peer && s.message_id == request.message_id && s.response.is_some());
        if request.mtype == MessageType::Confirmable && !acked {
            response.mtype = MessageType::Acknowledgement;
            response.message_id = request.message_id;
            let b = response.to_vec();
            self.remember_response(now, peer, request, b.clone());
            self.push_tx(peer, b);
            return;
        }
        response.message_id = self.mid();
        if request.mtype == MessageType::Confirmable {
            response.mtype = MessageType::Confirmable;
            if self.outstanding.len() >= self.config.max_outstanding {
                self.stats.dropped += 1;
                return;
            }
            self.track(now, peer, token, response, false);
        } else {
            response.mtype = MessageType::NonConfirmable;
            self.push_tx(peer, response.to_vec());
        }
    }

    fn remember_response(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        request: &Message,
        b: Vec<u8>,
    ) {
        match self
            .seen
            .iter_mut()
            .find(|s| s.peer == peer && s.message_id == request.message_id)
        {
            Some(s) => s.response = Some(b),
            None => self.remember(now, peer, request.message_id, true, Some(b)),
        }
    }

    fn remember(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        message_id: u16,
        con: bool,
        response: Option<Vec<u8>>,
    ) {
        let life = if con {
            self.config.exchange_lifetime
        } else {
            self.config.non_lifetime
        };
        if self.seen.len() >= self.config.max_dedup {
            self.seen.pop_front();
        }
        self.seen.push_back(Seen {
            peer,
            message_id,
            expires: now + life,
            response,
        });
    }

    /// Takes a UDP datagram from `peer`. Returns a request to answer; `None` when the
    /// datagram was consumed (an ACK, a Reset, a response, a duplicate) or dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        bytes: &[u8],
    ) -> Option<Incoming> {
        self.stats.received += 1;
        self.seen.retain(|s| s.expires > now);
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                // §4.2: a confirmable message with a format error is rejected with a Reset,
                // when its Message ID can be read (version 1, type CON).
                if bytes.len() >= 4 && bytes[0] >> 4 == 0b0100 {
                    self.send_reset(peer, u16::from_be_bytes([bytes[2], bytes[3]]));
                }
                return None;
            }
        };
        match msg.mtype {
            MessageType::Acknowledgement | MessageType::Reset => {
                self.handle_ack_or_reset(now, peer, msg);
                None
            }
            MessageType::Confirmable | MessageType::NonConfirmable => {
                self.handle_con_non(now, peer, msg)
            }
        }
    }

    fn find(&self, pred: impl Fn(&Outstanding) -> bool) -> Option<usize> {
        self.outstanding.iter().position(pred)
    }

    fn handle_ack_or_reset(&mut self, now: Instant, peer: SocketAddrV6, msg: Message) {
        let Some(i) =
            self.find(|o| o.peer == peer && o.message_id == msg.message_id && o.awaiting_ack)
        else {
            self.stats.unmatched += 1;
            return;
        };
        let token = self.outstanding[i].token;
        if msg.mtype == MessageType::Reset {
            self.outstanding.swap_remove(i);
            self.push_event(CoapEvent::Reset { token });
            return;
        }
        if msg.is_empty() {
            let o = &mut self.outstanding[i];
            if !o.wants_response {
                self.outstanding.swap_remove(i);
                return;
            }
            // §5.2.2: a separate response follows.
            o.awaiting_ack = false;
            o.interval = self.config.response_wait;
            o.deadline = now + o.interval;
            return;
        }
        // A piggybacked response (§5.2.1) must carry the request's token (§5.3.2).
        if !self.outstanding[i].wants_response || msg.token() != token.as_slice() {
            self.stats.unmatched += 1;
            return;
        }
        self.outstanding.swap_remove(i);
        self.push_event(CoapEvent::Response { token, peer, msg });
    }

    fn handle_con_non(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        msg: Message,
    ) -> Option<Incoming> {
        let con = msg.mtype == MessageType::Confirmable;
        if msg.is_empty() || !(msg.code.is_request() || msg.code.is_response()) {
            // §4.3: an Empty CON ("ping") or a reserved code class is answered with a Reset.
            if con {
                self.send_reset(peer, msg.message_id);
            } else {
                self.stats.unmatched += 1;
            }
            return None;
        }
        // §4.5: a message ID seen from this peer is a duplicate.
        if let Some(s) = self
            .seen
            .iter()
            .find(|s| s.peer == peer && s.message_id == msg.message_id)
        {
            self.stats.duplicates += 1;
            if let (true, Some(r)) = (con, s.response.clone()) {
                self.push_tx(peer, r);
            }
            return None;
        }
        if msg.code.is_response() {
            return self.handle_separate_response(now, peer, msg);
        }
        self.remember(now, peer, msg.message_id, con, None);
        Some(Incoming { peer, request: msg })
    }

    fn handle_separate_response(
        &mut self,
        now: Instant,
        peer: SocketAddrV6,
        msg: Message,
    ) -> Option<Incoming> {
        let con = msg.mtype == MessageType::Confirmable;
        let Some(i) =
            self.find(|o| o.peer == peer && o.wants_response && o.token.as_slice() == msg.token())
        else {
            // §5.3.2: a response matching no request is rejected (Reset for a CON).
            self.stats.unmatched += 1;
            if con {
                self.send_reset(peer, msg.message_id);
            }
            return None;
        };
        let token = self.outstanding.swap_remove(i).token;
        if con {
            let ack = Message::empty(MessageType::Acknowledgement, msg.message_id).to_vec();
            self.remember(now, peer, msg.message_id, true, Some(ack.clone()));
            self.push_tx(peer, ack);
        } else {
            self.remember(now, peer, msg.message_id, false, None);
        }
        self.push_event(CoapEvent::Response { token, peer, msg });
        None
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self, _now: Instant) -> Option<(SocketAddrV6, Vec<u8>)> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CoapEvent> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.outstanding.iter().map(|o| o.deadline).min()
    }

    /// Retransmits what is due (§4.2: the timeout doubles each time), and gives up on what has
    /// been retransmitted MAX_RETRANSMIT times or waited too long for its response.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.outstanding.len() {
            if self.outstanding[i].deadline > now {
                i += 1;
                continue;
            }
            let max = self.config.max_retransmit;
            let o = &mut self.outstanding[i];
            if o.awaiting_ack && o.retransmits < max {
                o.retransmits += 1;
                o.interval = o.interval.saturating_mul(2);
                o.deadline = now + o.interval;
                let (peer, bytes) = (o.peer, o.bytes.clone());
                self.stats.retransmissions += 1;
                self.push_tx(peer, bytes);
                i += 1;
                continue;
            }
            let o = self.outstanding.swap_remove(i);
            if o.wants_response || o.awaiting_ack {
                self.push_event(CoapEvent::Timeout { token: o.token });
            }
        }
    }
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
