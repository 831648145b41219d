//! IPv6 delivery above the link: MLE (UDP 19788, Thread 1.3 §4.2), the Thread Management
//! Framework (CoAP on UDP 61631, Thread 1.3 §5.19.?; unverified), ICMPv6 echo (RFC 4443
//! §4), and the application's UDP sockets.

use std::net::{Ipv6Addr, SocketAddrV6};

use rand_core::RngCore;

use super::{Event, Node};
use crate::thread::coap::{CoapEvent, Incoming};
use crate::thread::ip::icmpv6::{
    answer, echo_datagram, parse_dst_unreachable, parse_echo, Echo, NO_ROUTE,
};
use crate::thread::ip::udp::{parse_udp, udp_datagram, BindError, Delivery, UdpDatagram};
use crate::thread::ip::{parse, proto, DEFAULT_HOP_LIMIT};
use crate::thread::mac::ExtAddress;
use crate::thread::mle::MLE_PORT;
use crate::time::Instant;

/// The TMF port (Thread 1.3 §5.19; OpenThread `kCoapUdpPort`, 61631).
pub const TMF_PORT: u16 = 61631;
/// The application's CoAP port (RFC 7252 §6.1).
pub const COAP_PORT: u16 = 5683;

impl<R: RngCore> Node<R> {
    /// An IPv6 datagram for this node (or a group it listens to); `secured`: it came in a
    /// MAC-secured frame (only MLE may come without).
    pub(super) fn receive_datagram(
        &mut self,
        now: Instant,
        d: Vec<u8>,
        secured: bool,
        mac_src: ExtAddress,
    ) {
        let Ok(p) = parse(&d) else {
            self.count("rx: malformed IPv6");
            return;
        };
        if super::mpl::realm_local(&p.header.dst) {
            // Only what came MAC-secured is forwarded (MLE never goes beyond the link).
            if !secured {
                self.count("rx: unsecured realm-local multicast");
                return;
            }
            if !self.mpl_receive(now, &d, &p.header.src) {
                return;
            }
        }
        // A REED hears Parent Requests to all routers (it may answer those to REEDs), and
        // Address Queries (OpenThread subscribes an FTD child to the all-routers groups).
        use crate::thread::ip::addr::{LINK_LOCAL_ALL_ROUTERS, REALM_LOCAL_ALL_ROUTERS};
        let reed_group = (p.header.dst == LINK_LOCAL_ALL_ROUTERS
            || p.header.dst == REALM_LOCAL_ALL_ROUTERS)
            && self.cfg.router_eligible
            && self.cfg.rx_on_when_idle;
        if !self.addrs.accepts(&p.header.dst) && !reed_group {
            if !secured || !self.forward_ip(now, d, &p, mac_src) {
                self.count("rx: IPv6 destination not this node's");
            }
            return;
        }
        match p.protocol {
            proto::UDP => {
                let Ok(u) = parse_udp(&d) else {
                    self.count("rx: malformed UDP");
                    return;
                };
                if u.dst.port() == MLE_PORT {
                    self.receive_mle(now, u, mac_src);
                    return;
                }
                if !secured {
                    self.count("rx: unsecured frame with data other than MLE");
                    return;
                }
                if u.dst.port() == COAP_PORT && self.coap_bound {
                    if let Some(inc) = self.coap.handle_datagram(now, u.src, &u.payload) {
                        self.event(Event::CoapRequest(inc));
                    }
                    return;
                }
                if u.dst.port() == TMF_PORT {
                    if let Some(inc) = self.tmf.handle_datagram(now, u.src, &u.payload) {
                        // Answers go out from the address the request was sent to (the
                        // Leader ALOC for an Address Solicit), so that the requester matches
                        // them. Only requests: a response's destination kept here made this
                        // node's next request to that peer go out from an old RLOC. Not a
                        // group: an Address Query's notification goes from the RLOC.
                        if !u.dst.ip().is_multicast() {
                            self.tmf_local.retain(|(p, _)| *p != u.src);
                            if self.tmf_local.len() >= 8 {
                                self.tmf_local.remove(0);
                            }
                            self.tmf_local.push((u.src, *u.dst.ip()));
                        }
                        self.on_tmf_request(now, inc);
                    }
                    return;
                }
                let port = u.dst.port();
                match self.sockets.deliver(u) {
                    Delivery::Queued => self.event(Event::UdpReceived { port }),
                    Delivery::NoSocket => self.count("rx: UDP port not bound"),
                    Delivery::QueueFull => self.count("rx: UDP socket queue full"),
                }
            }
            proto::ICMPV6 if secured => {
                if let Some((NO_ROUTE, dst)) = parse_dst_unreachable(&d) {
                    self.on_no_route(dst);
                    return;
                }
                let Ok(e) = parse_echo(&d) else {
                    self.count("rx: ICMPv6 not handled");
                    return;
                };
                if e.echo.reply {
                    self.event(Event::EchoReply {
                        from: e.src,
                        identifier: e.echo.identifier,
                        sequence: e.echo.sequence,
                        hop_limit: e.hop_limit,
                    });
                } else if let Some(reply) = answer(&e, &self.addrs) {
                    self.send_ip(now, reply);
                }
            }
            _ => self.count("rx: IPv6 protocol not handled"),
        }
    }

    /// Binds a UDP port for [`Node::recv_udp`].
    pub fn bind_udp(&mut self, port: u16) -> Result<u16, BindError> {
        self.sockets.bind(port)
    }

    /// The next datagram received on `port`.
    pub fn recv_udp(&mut self, port: u16) -> Option<UdpDatagram> {
        self.sockets.recv(port)
    }

    /// Sends a UDP datagram from this node's address towards `dst` (link-local, RLOC, or this
    /// node's own), from port `sport`.
    pub fn send_udp(&mut self, now: Instant, sport: u16, dst: SocketAddrV6, payload: &[u8]) {
        let src = SocketAddrV6::new(self.addrs.source_for(dst.ip()), sport, 0, 0);
        let d = udp_datagram(src, dst, DEFAULT_HOP_LIMIT, payload);
        self.send_ip(now, d);
        self.pump(now);
    }

    /// Sends an ICMPv6 echo request; its reply comes as [`Event::EchoReply`].
    pub fn ping(
        &mut self,
        now: Instant,
        dst: Ipv6Addr,
        identifier: u16,
        sequence: u16,
        data: &[u8],
    ) {
        let src = self.addrs.source_for(&dst);
        let echo = Echo {
            reply: false,
            identifier,
            sequence,
            data: data.to_vec(),
        };
        self.send_ip(now, echo_datagram(src, dst, DEFAULT_HOP_LIMIT, &echo));
        self.pump(now);
    }

    /// Serves and sends application CoAP (RFC 7252, confirmable and non-confirmable) on port
    /// 5683: requests come as [`Event::CoapRequest`], outcomes of this node's requests as
    /// [`Event::Coap`].
    pub fn enable_coap(&mut self) {
        self.coap_bound = true;
    }

    /// Sends a CoAP request (its type, code, options and payload; the endpoint sets the
    /// message ID and token, returned) to `dst` port 5683.
    pub fn coap_request(
        &mut self,
        now: Instant,
        dst: Ipv6Addr,
        msg: crate::thread::coap::Message,
    ) -> Result<crate::thread::coap::Token, crate::thread::coap::RequestError> {
        self.coap_bound = true;
        let t = self
            .coap
            .request(now, SocketAddrV6::new(dst, COAP_PORT, 0, 0), msg)?;
        self.pump(now);
        Ok(t)
    }

    /// Answers a request that came as [`Event::CoapRequest`].
    pub fn coap_respond(
        &mut self,
        now: Instant,
        req: &Incoming,
        response: crate::thread::coap::Message,
    ) {
        self.coap.respond(now, req.peer, &req.request, response);
        self.pump(now);
    }

    /// Moves what the application CoAP endpoint has to send onto the link.
    pub(super) fn pump_coap(&mut self, now: Instant) {
        while let Some((peer, bytes)) = self.coap.poll_transmit(now) {
            let src = SocketAddrV6::new(self.addrs.source_for(peer.ip()), COAP_PORT, 0, 0);
            let d = udp_datagram(src, peer, DEFAULT_HOP_LIMIT, &bytes);
            self.send_ip(now, d);
        }
        while let Some(e) = self.coap.poll_event() {
            self.event(Event::Coap(e));
        }
    }

    /// A TMF datagram the endpoint wants sent to `peer`, from this node's RLOC.
    pub(super) fn send_tmf(&mut self, now: Instant, peer: SocketAddrV6, bytes: Vec<u8>) {
        let local = self
            .tmf_local
            .iter()
            .find(|(p, _)| *p == peer)
            .map(|(_, a)| *a)
            // Not an address this node has given up since (a role or RLOC16 changed).
            .filter(|a| self.addrs.accepts(a));
        let Some(ip) = local.or(self.addrs.rloc()) else {
            self.count("tx: TMF without an RLOC");
            return;
        };
        let src = SocketAddrV6::new(ip, TMF_PORT, 0, 0);
        let d = udp_datagram(src, peer, DEFAULT_HOP_LIMIT, &bytes);
        self.send_ip(now, d);
    }

    pub(super) fn on_tmf_event(&mut self, now: Instant, e: CoapEvent) {
        self.on_solicit_outcome(now, e);
    }

    fn on_tmf_request(&mut self, now: Instant, inc: Incoming) {
        match inc.request.uri_path().as_str() {
            "a/as" => self.on_address_solicit(now, inc),
            "a/aq" => self.on_address_query(now, inc),
            "a/an" => self.on_address_notification(now, inc),
            "a/ae" => self.on_address_error(now, inc),
            _ => self.count("tmf: resource not served"),
        }
    }
}

impl<R: RngCore> Node<R> {
    /// An MLE message (Thread 1.3 §4.3): opened with the MLE key of its key sequence, its
    /// frame counter checked against the sender's last, then handed to its role's handler.
    fn receive_mle(&mut self, now: Instant, u: UdpDatagram, mac_src: ExtAddress) {
        use crate::thread::mle::{self, command as c, MleMessage};
        let (src, dst) = (*u.src.ip(), *u.dst.ip());
        if u.src.port() != MLE_PORT || mle::ext_address_of(&src) != mac_src {
            self.count("mle: source is not the MAC source's link-local address");
            return;
        }
        let msg = match <MleMessage as crate::wire::Wire>::parse(&u.payload) {
            Ok(m @ MleMessage::Secured { .. }) => Some(m),
            Ok(MleMessage::Unsecured(_)) => {
                self.count("mle: unsecured (discovery not served)");
                return;
            }
            Err(_) => None,
        };
        let Some(msg) = msg else {
            self.count("mle: malformed");
            return;
        };
        let opened = match mle::open(&msg, &mut self.keys, &src, &dst) {
            Ok(o) => o,
            Err(crate::wire::Error::Auth(_)) => {
                self.count("mle: authentication failed");
                return;
            }
            Err(_) => {
                self.count("mle: malformed TLVs");
                return;
            }
        };
        let (Some(seq), Some(fc)) = (opened.key_sequence, opened.frame_counter) else {
            return;
        };
        if !self.replay.check_mle(mac_src, seq, fc).accepted() {
            self.count("mle: frame counter replayed");
            return;
        }
        self.sync_key_sequence();
        self.heard(now, mac_src, self.last_rssi);
        let tlvs = opened.payload.tlvs;
        match opened.payload.command {
            c::PARENT_REQUEST => self.on_parent_request(now, mac_src, tlvs),
            c::PARENT_RESPONSE => self.on_parent_response(now, mac_src, tlvs),
            c::CHILD_ID_REQUEST => self.on_child_id_request(now, mac_src, tlvs),
            c::CHILD_ID_RESPONSE => self.on_child_id_response(now, mac_src, tlvs),
            c::CHILD_UPDATE_REQUEST => self.on_child_update_request(now, mac_src, tlvs),
            c::CHILD_UPDATE_RESPONSE => self.on_child_update_response(now, mac_src, tlvs),
            c::ADVERTISEMENT => self.on_advertisement(now, mac_src, tlvs),
            c::LINK_REQUEST => self.on_link_request(now, mac_src, dst.is_multicast(), tlvs),
            c::LINK_ACCEPT | c::LINK_ACCEPT_AND_REQUEST => {
                self.on_link_accept(now, mac_src, opened.payload.command, tlvs)
            }
            _ => self.count("mle: command not handled"),
        }
    }
}
