//! The one adapter between the Thread node (`weft_mesh::thread::stack::Node`) and the
//! simulated 802.15.4 air (`weft_radio::sim::ieee802154::Medium`): frames, timers and
//! transmission outcomes in; frames out; the radio's source-match question answered from the
//! node's indirect queue. The node is powered at its start time (before it, the station
//! hears nothing and asks for no timer) and carries a small application:
//!
//! - every node answers UDP echo on port 7 (RFC 862) and ICMPv6 echo (the node does);
//! - a [`App::Reporter`] (a child) POSTs a sensor reading (`/r`, CoAP CON, RFC 7252 §5.8.2)
//!   every `interval` once attached, to its parent, or to the Leader ALOC (Thread 1.3
//!   §5.2.1.2) when `to_leader`; whoever receives it answers 2.04 Changed;
//! - a [`App::Pinger`] (a router) sends an ICMPv6 echo request to the Leader ALOC every
//!   `interval` once it is a router.
//!
//! The report reads [`SimEvent`]s: the node's own events, and the application's sends and
//! deliveries (a reading is `seq` as 4 octets big-endian, so sender and receiver name it).

use std::collections::VecDeque;
use std::net::{Ipv6Addr, SocketAddrV6};

use rand_chacha::ChaCha8Rng;
use weft_mesh::frame::{RxFrame, Station, TxDone, TxFrame};
use weft_mesh::thread::coap::{CoapEvent, Code, Message, MessageType};
use weft_mesh::thread::ip::addr::{aloc, rloc, LEADER_ALOC16};
use weft_mesh::thread::mac::{Address, AuxSecurityHeader, ExtAddress, Frame};
use weft_mesh::thread::radio::{Ieee802154Station, MacSettings, RadioMac};
use weft_mesh::thread::stack::{Config, Credentials, Event, Node, Role, ThreadState};
use weft_mesh::{Duration, Instant};

/// The UDP echo port (RFC 862).
pub const ECHO_PORT: u16 = 7;
/// The port a node sends UDP echo requests from.
pub const ECHO_CLIENT_PORT: u16 = 49_152;
/// The URI path of a reading.
const READING_PATH: &str = "r";

/// What a node does beyond Thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// Nothing of its own (answers echo).
    Quiet,
    /// POSTs a reading every `interval` once attached as a child.
    Reporter { interval: Duration, to_leader: bool },
    /// Pings the Leader ALOC every `interval` once a router.
    Pinger { interval: Duration },
}

/// What a station reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// The node's own event (role changes, children, echo replies, CoAP outcomes...).
    Node(Event),
    /// A reading `seq` POSTed from this node to `dst`.
    DataSent { dst: Ipv6Addr, seq: u32 },
    /// A reading `seq` received from `src`.
    DataReceived { src: Ipv6Addr, seq: u32 },
    /// An ICMPv6 echo request sent to `dst`.
    PingSent { dst: Ipv6Addr, sequence: u16 },
    /// A UDP echo reply arrived from `from`.
    UdpEchoReply { from: Ipv6Addr, payload: Vec<u8> },
    /// A MAC-secured frame went to the radio with this frame counter under this key sequence
    /// (IEEE 802.15.4-2015 §9.4.3; reported only by [`SimStation::reporting_frames`]).
    FrameSent {
        frame_counter: u32,
        key_sequence: u32,
    },
}

/// A Thread node on the simulated air.
pub struct SimStation {
    node: Node<ChaCha8Rng>,
    start: Instant,
    app: App,
    next_app: Option<Instant>,
    seq: u32,
    events: VecDeque<SimEvent>,
    /// The state as last persisted (at each [`Event::PersistState`]): what a node killed now
    /// would start again from.
    persisted: ThreadState,
    report_frames: bool,
}

impl std::fmt::Debug for SimStation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStation")
            .field("node", &self.node)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl SimStation {
    /// A fresh node (its state from `rng`), powered at `start`.
    pub fn new(
        creds: Credentials,
        cfg: Config,
        mut rng: ChaCha8Rng,
        start: Instant,
        app: App,
    ) -> Self {
        let state = ThreadState::new(&creds, &mut rng);
        Self::restore(creds, state, cfg, rng, start, app)
    }

    /// A node from its persisted `state` (a restart), powered at `start`.
    pub fn restore(
        creds: Credentials,
        state: ThreadState,
        cfg: Config,
        rng: ChaCha8Rng,
        start: Instant,
        app: App,
    ) -> Self {
        let persisted = state.clone();
        let mut node = Node::new(creds, state, cfg, rng, start);
        node.enable_coap();
        // A fresh socket table: the binds cannot fail.
        let _ = node.bind_udp(ECHO_PORT);
        let _ = node.bind_udp(ECHO_CLIENT_PORT);
        SimStation {
            node,
            start,
            app,
            next_app: None,
            seq: 0,
            events: VecDeque::new(),
            persisted,
            report_frames: false,
        }
    }

    /// Reports every MAC-secured frame it sends ([`SimEvent::FrameSent`]), for `weft hil`.
    pub fn reporting_frames(mut self) -> Self {
        self.report_frames = true;
        self
    }

    /// The state as last persisted.
    pub fn persisted(&self) -> &ThreadState {
        &self.persisted
    }

    pub fn node(&self) -> &Node<ChaCha8Rng> {
        &self.node
    }
    pub fn node_mut(&mut self) -> &mut Node<ChaCha8Rng> {
        &mut self.node
    }
    pub fn app(&self) -> App {
        self.app
    }
    pub fn ext_address(&self) -> ExtAddress {
        self.node.ext_address()
    }
    pub fn rloc16(&self) -> Option<u16> {
        self.node.rloc16()
    }
    pub fn role(&self) -> Role {
        self.node.role()
    }

    /// Sends an ICMPv6 echo request to `dst`; what it asks persisted is reported before the
    /// frame is handed out (`poll_event` before `poll_transmit`).
    pub fn ping(
        &mut self,
        now: Instant,
        dst: Ipv6Addr,
        identifier: u16,
        sequence: u16,
        data: &[u8],
    ) {
        self.node.ping(now, dst, identifier, sequence, data);
        self.drain(now);
    }

    /// Sends a UDP echo request to `dst` (its reply comes as [`SimEvent::UdpEchoReply`]).
    pub fn udp_echo(&mut self, now: Instant, dst: Ipv6Addr, payload: &[u8]) {
        let d = SocketAddrV6::new(dst, ECHO_PORT, 0, 0);
        self.node.send_udp(now, ECHO_CLIENT_PORT, d, payload);
    }

    fn powered(&self, now: Instant) -> bool {
        now >= self.start
    }

    fn ml_prefix(&self) -> [u8; 8] {
        self.node.credentials().mesh_local_prefix
    }

    /// The application's turn: arms its timer when the node reached its role, acts when due.
    fn app_timers(&mut self, now: Instant) {
        let (interval, ready) = match self.app {
            App::Quiet => return,
            App::Reporter { interval, .. } => (interval, self.node.role() == Role::Child),
            App::Pinger { interval } => (
                interval,
                matches!(self.node.role(), Role::Router | Role::Leader),
            ),
        };
        if !ready {
            self.next_app = None;
            return;
        }
        let Some(at) = self.next_app else {
            // First action one interval after reaching the role.
            self.next_app = Some(now + interval);
            return;
        };
        if now < at {
            return;
        }
        self.next_app = Some(now + interval);
        let prefix = self.ml_prefix();
        match self.app {
            App::Reporter { to_leader, .. } => {
                let dst = if to_leader {
                    aloc(prefix, LEADER_ALOC16)
                } else {
                    match self.node.parent_rloc16() {
                        Some(p) => rloc(prefix, p),
                        None => return,
                    }
                };
                self.seq = self.seq.wrapping_add(1);
                let mut m = Message::request(MessageType::Confirmable, Code::POST, READING_PATH);
                m.payload = self.seq.to_be_bytes().to_vec();
                if self.node.coap_request(now, dst, m).is_ok() {
                    self.events
                        .push_back(SimEvent::DataSent { dst, seq: self.seq });
                }
            }
            App::Pinger { .. } => {
                self.seq = self.seq.wrapping_add(1);
                let dst = aloc(prefix, LEADER_ALOC16);
                let sequence = self.seq as u16;
                // The identifier names the sender (its RLOC16) for whoever reads the capture.
                let identifier = self.node.rloc16().unwrap_or(0);
                self.node.ping(now, dst, identifier, sequence, b"weft");
                self.events.push_back(SimEvent::PingSent { dst, sequence });
            }
            App::Quiet => {}
        }
    }

    /// Handles what the node reported: answers readings and echo, passes the rest on.
    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.node.poll_event() {
            match e {
                Event::CoapRequest(req) if req.request.uri_path() == READING_PATH => {
                    if let Ok(seq) = <[u8; 4]>::try_from(req.request.payload.as_slice()) {
                        self.events.push_back(SimEvent::DataReceived {
                            src: *req.peer.ip(),
                            seq: u32::from_be_bytes(seq),
                        });
                    }
                    let reply = Message::new(MessageType::Acknowledgement, Code::CHANGED, 0);
                    self.node.coap_respond(now, &req, reply);
                }
                Event::UdpReceived { port: ECHO_PORT } => {
                    while let Some(d) = self.node.recv_udp(ECHO_PORT) {
                        self.node.send_udp(now, ECHO_PORT, d.src, &d.payload);
                    }
                }
                Event::UdpReceived {
                    port: ECHO_CLIENT_PORT,
                } => {
                    while let Some(d) = self.node.recv_udp(ECHO_CLIENT_PORT) {
                        self.events.push_back(SimEvent::UdpEchoReply {
                            from: *d.src.ip(),
                            payload: d.payload,
                        });
                    }
                }
                Event::Coap(CoapEvent::Response { .. }) => {}
                Event::PersistState => {
                    self.persisted = self.node.state().clone();
                    self.events.push_back(SimEvent::Node(Event::PersistState));
                }
                other => self.events.push_back(SimEvent::Node(other)),
            }
        }
    }
}

impl Station for SimStation {
    type Event = SimEvent;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        // A sleepy child's receiver is off between polls (the simulated radio still acks
        // what is addressed to it; its parent sends to it only after a poll).
        if self.powered(now) && self.node.receiver_on() {
            self.node.handle_frame(now, frame);
            self.drain(now);
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        self.drain(now);
        let f = self.node.poll_transmit(now)?;
        if self.report_frames {
            let sec = Frame::parse_parts(&f.bytes)
                .ok()
                .and_then(|p| p.frame.security);
            if let Some(AuxSecurityHeader {
                frame_counter: Some(frame_counter),
                ..
            }) = sec
            {
                let key_sequence = self.node.state().key_sequence;
                self.events.push_back(SimEvent::FrameSent {
                    frame_counter,
                    key_sequence,
                });
            }
        }
        Some(f)
    }

    fn poll_event(&mut self) -> Option<SimEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let t = [self.node.poll_timeout(), self.next_app]
            .into_iter()
            .flatten()
            .min()?;
        Some(t.max(self.start))
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.powered(now) {
            return;
        }
        self.node.handle_timeout(now);
        self.drain(now);
        self.app_timers(now);
        self.drain(now);
    }

    fn handle_tx_done(&mut self, now: Instant, done: &TxDone) {
        self.node.handle_tx_done(now, done);
        self.drain(now);
    }

    /// The node's MAC for a radio with a MAC of its own (`otsim:`, `spinel:`: a HIL role on a
    /// rig); the simulated medium asks [`Ieee802154Station`] instead.
    fn radio_mac(&self) -> Option<RadioMac> {
        self.node.radio_mac()
    }
}

impl Ieee802154Station for SimStation {
    fn mac_settings(&self) -> MacSettings {
        self.node.mac_settings()
    }

    fn frame_pending(&self, src: &Address) -> bool {
        self.node.frame_pending(src)
    }
}
