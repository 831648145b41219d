//! The Proxy Client (Mesh Protocol 1.1 §6.8): a node whose only bearer is one GATT connection
//! to a Proxy Server, as a phone's is. It is a whole [`Node`] (keys, sequence numbers, the
//! Configuration Client's device keys, access messages) whose Network PDUs travel as Proxy PDUs
//! on the connection instead of advertisements, plus the proxy configuration messages that
//! set the server's filter for it (§6.6).
//!
//! After the connection is up ([`ProxyClient::connect`]) the client adds its own element
//! addresses to the server's accept list, so that answers reach it before it has sent
//! anything; secure network beacons from the server (§6.7) go to the node, which follows the
//! IV Index and key refresh from them (§3.10.3, §3.11.5).

use std::collections::VecDeque;

use rand_core::RngCore;

use super::conn::ProxyConn;
use crate::ble::address::Address;
use crate::ble::node::{Event, Node};
use crate::ble::wire::adv::{AdStructures, AD_TYPE_MESH_BEACON, AD_TYPE_MESH_MESSAGE};
use crate::ble::wire::proxy::{FilterType, MessageType, ProxyConfigMessage};
use crate::frame::{
    Bearer, ConnId, DisconnectReason, GattRole, GattService, LinkEvent, LinkRequest, RxFrame,
    Station, TxFrame,
};
use crate::time::Instant;

/// Network PDUs remembered to send each once: the node repeats what it sends for the
/// advertising bearer (Network Transmit, §4.2.20), which a connection does not need.
const RECENT: usize = 32;

/// What a [`ProxyClient`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyClientEvent {
    /// What the node reports.
    Node(Event),
    /// The server's Filter Status (§6.6.4).
    FilterStatus {
        /// The filter type.
        filter_type: FilterType,
        /// The number of addresses in the list.
        list_size: u16,
    },
    /// The SAR timer of a message from the server expired (§6.3.2): the runtime closes the
    /// connection (the client also asks it to, [`Station::poll_link`]).
    Disconnect { conn: ConnId },
    /// The connection to the Proxy Server asked for with [`ProxyClient::connect_to`] is up.
    Connected { conn: ConnId, mtu: u16 },
    /// The connection closed.
    Disconnected {
        conn: ConnId,
        reason: DisconnectReason,
    },
    /// The connection asked for could not be made.
    ConnectFailed { peer: [u8; 6] },
}

/// What the client counted (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyClientCounters {
    /// Malformed Proxy PDUs or SAR violations from the server (§6.3.1, §6.3.2).
    pub malformed: u32,
    /// Frames of another connection or bearer, or with no connection open.
    pub not_connected: u32,
    /// Proxy configuration messages that did not open, or are not for a client.
    pub config_ignored: u32,
    /// Provisioning PDUs on the proxy connection, ignored.
    pub wrong_type: u32,
    /// Network PDUs the node sent while no connection was open, lost.
    pub lost: u32,
    /// Messages not queued because the connection's queue was full.
    pub queue_full: u32,
}

fn inc(c: &mut u32) {
    *c = c.saturating_add(1);
}

fn ad(ad_type: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 2);
    // A Proxy PDU's message is at most MAX_PROXY_MESSAGE octets.
    v.push(data.len() as u8 + 1);
    v.push(ad_type);
    v.extend_from_slice(data);
    v
}

/// A node reaching the network through one Proxy Server.
#[derive(Debug)]
pub struct ProxyClient<R> {
    node: Node<R>,
    conn: Option<ProxyConn>,
    events: VecDeque<ProxyClientEvent>,
    counters: ProxyClientCounters,
    recent: VecDeque<Vec<u8>>,
    /// The Proxy Server asked for with [`ProxyClient::connect_to`], and whether the connect
    /// request is still to be handed out.
    target: Option<([u8; 6], bool)>,
    /// Connections to close.
    requests: VecDeque<LinkRequest>,
}

impl<R: RngCore> ProxyClient<R> {
    /// A client around `node`, not connected yet.
    pub fn new(node: Node<R>) -> Self {
        ProxyClient {
            node,
            conn: None,
            events: VecDeque::new(),
            counters: ProxyClientCounters::default(),
            recent: VecDeque::new(),
            target: None,
            requests: VecDeque::new(),
        }
    }

    /// Asks the runtime to connect to the Proxy Server advertising with device address `peer`
    /// ([`LinkRequest::Connect`]); once connected the client sets up its filter
    /// ([`ProxyClient::connect`]). A connection open to another server is closed first.
    pub fn connect_to(&mut self, peer: [u8; 6]) {
        if let Some(c) = self.connection() {
            self.requests.push_back(LinkRequest::Disconnect { conn: c });
        }
        self.target = Some((peer, true));
    }

    /// The node.
    pub fn node(&self) -> &Node<R> {
        &self.node
    }

    /// The node, for its commands ([`Node::handle_command`]).
    pub fn node_mut(&mut self) -> &mut Node<R> {
        &mut self.node
    }

    /// What the client counted.
    pub fn counters(&self) -> ProxyClientCounters {
        self.counters
    }

    /// The open connection, if any.
    pub fn connection(&self) -> Option<ConnId> {
        self.conn.as_ref().map(ProxyConn::id)
    }

    /// The connection `conn` to a Proxy Server is up with ATT MTU `mtu` and notifications
    /// enabled: the client asks the server to add its element addresses to the (new, empty)
    /// accept list (§6.6.2, §6.7).
    pub fn connect(&mut self, now: Instant, conn: ConnId, mtu: u16) {
        self.conn = Some(ProxyConn::new(conn, mtu));
        self.recent.clear();
        let own: Vec<Address> = (0..self.node.state().elements.len())
            .map(|i| self.node.state().element_address(i))
            .collect();
        self.configure(now, &ProxyConfigMessage::AddAddresses(own));
    }

    /// The connection closed (by either side): a partial message and queued values go.
    pub fn disconnected(&mut self) {
        self.conn = None;
    }

    /// A new ATT MTU.
    pub fn set_mtu(&mut self, mtu: u16) {
        if let Some(c) = &mut self.conn {
            c.set_mtu(mtu);
        }
    }

    /// Sends a filter message to the server (§6.6.1..=§6.6.3) on the primary subnet (the first
    /// network key). Returns false when there is no connection, no sequence number or no room.
    pub fn configure(&mut self, now: Instant, msg: &ProxyConfigMessage) -> bool {
        let net_index = self.node.state().net_keys.first().map_or(0, |k| k.index);
        let Some(sealed) = self.node.proxy_config_pdu(now, net_index, msg) else {
            return false;
        };
        let Some(c) = &mut self.conn else {
            inc(&mut self.counters.not_connected);
            return false;
        };
        if !c.send(MessageType::ProxyConfiguration, &sealed) {
            inc(&mut self.counters.queue_full);
            return false;
        }
        true
    }

    /// Sets the server's filter to `filter_type` with `addresses` (Set Filter Type, then Add
    /// Addresses To Filter when there are any).
    pub fn set_filter(&mut self, now: Instant, filter_type: FilterType, addresses: Vec<Address>) {
        self.configure(now, &ProxyConfigMessage::SetFilterType(filter_type));
        if !addresses.is_empty() {
            self.configure(now, &ProxyConfigMessage::AddAddresses(addresses));
        }
    }

    fn drain_node_events(&mut self) {
        while let Some(e) = self.node.poll_event() {
            self.events.push_back(ProxyClientEvent::Node(e));
        }
    }

    /// Moves the node's due frames onto the connection: its Network PDUs, once each.
    fn pump(&mut self, now: Instant) {
        while let Some(f) = self.node.poll_transmit(now) {
            for a in AdStructures::new(&f.bytes).flatten() {
                // The server sends beacons (§6.7); the client has none to send.
                if a.ad_type != AD_TYPE_MESH_MESSAGE {
                    continue;
                }
                if self.recent.iter().any(|r| r == a.data) {
                    continue;
                }
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(a.data.to_vec());
                match &mut self.conn {
                    Some(c) => {
                        if !c.send(MessageType::NetworkPdu, a.data) {
                            inc(&mut self.counters.queue_full);
                        }
                    }
                    None => inc(&mut self.counters.lost),
                }
            }
        }
        self.drain_node_events();
    }

    fn config_rx(&mut self, bytes: &[u8]) {
        match self.node.open_proxy_config_pdu(bytes) {
            Some(ProxyConfigMessage::FilterStatus {
                filter_type,
                list_size,
            }) => self.events.push_back(ProxyClientEvent::FilterStatus {
                filter_type,
                list_size,
            }),
            _ => inc(&mut self.counters.config_ignored),
        }
    }
}

impl<R: RngCore> Station for ProxyClient<R> {
    type Event = ProxyClientEvent;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        let Some(c) = self
            .conn
            .as_mut()
            .filter(|c| frame.bearer == Bearer::Gatt(c.id()))
        else {
            inc(&mut self.counters.not_connected);
            return;
        };
        let rx = |t, data: &[u8]| RxFrame {
            lqi: None,
            bearer: Bearer::Advertising,
            channel: 0,
            rssi: None,
            timestamp: frame.timestamp,
            adv_address: None,
            bytes: ad(t, data),
        };
        match c.receive(now, &frame.bytes) {
            Err(_) => inc(&mut self.counters.malformed),
            Ok(None) => {}
            Ok(Some((MessageType::NetworkPdu, pdu))) => {
                self.node.handle_frame(now, &rx(AD_TYPE_MESH_MESSAGE, &pdu))
            }
            Ok(Some((MessageType::MeshBeacon, b))) => {
                self.node.handle_frame(now, &rx(AD_TYPE_MESH_BEACON, &b))
            }
            Ok(Some((MessageType::ProxyConfiguration, b))) => self.config_rx(&b),
            Ok(Some((MessageType::ProvisioningPdu, _))) => inc(&mut self.counters.wrong_type),
        }
        self.pump(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        self.pump(now);
        let c = self.conn.as_mut()?;
        let bytes = c.poll_value()?;
        Some(TxFrame {
            bearer: Bearer::Gatt(c.id()),
            bytes,
        })
    }

    fn poll_event(&mut self) -> Option<ProxyClientEvent> {
        self.drain_node_events();
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let sar = self.conn.as_ref().and_then(ProxyConn::poll_timeout);
        let out = self
            .conn
            .as_ref()
            .filter(|c| c.has_output())
            .map(|_| Instant::ZERO);
        [self.node.poll_timeout(), sar, out]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.node.handle_timeout(now);
        if let Some(c) = &mut self.conn {
            if c.sar_expired(now) {
                let conn = c.id();
                inc(&mut self.counters.malformed);
                self.conn = None;
                self.events.push_back(ProxyClientEvent::Disconnect { conn });
                self.requests.push_back(LinkRequest::Disconnect { conn });
            }
        }
        self.pump(now);
    }

    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        match *event {
            LinkEvent::Connected {
                conn,
                mtu,
                peer,
                service: GattService::Proxy,
                role: GattRole::Central,
            } if self.target.is_some_and(|(p, _)| p == peer) && self.conn.is_none() => {
                self.connect(now, conn, mtu);
                self.events
                    .push_back(ProxyClientEvent::Connected { conn, mtu });
            }
            // Not the connection asked for: a client serves nobody.
            LinkEvent::Connected { conn, .. } => {
                self.requests.push_back(LinkRequest::Disconnect { conn })
            }
            LinkEvent::MtuChanged { conn, mtu } if self.connection() == Some(conn) => {
                self.set_mtu(mtu)
            }
            LinkEvent::MtuChanged { .. } => {}
            LinkEvent::Disconnected { conn, reason } => {
                self.requests
                    .retain(|r| *r != LinkRequest::Disconnect { conn });
                if self.connection() == Some(conn) {
                    self.disconnected();
                    self.events
                        .push_back(ProxyClientEvent::Disconnected { conn, reason });
                }
            }
            LinkEvent::ConnectFailed { peer, .. } => {
                if self.target.is_some_and(|(p, _)| p == peer) {
                    self.target = None;
                    self.events
                        .push_back(ProxyClientEvent::ConnectFailed { peer });
                }
            }
        }
        self.pump(now);
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        if let Some(r) = self.requests.pop_front() {
            return Some(r);
        }
        match &mut self.target {
            Some((peer, pending @ true)) if self.conn.is_none() => {
                *pending = false;
                Some(LinkRequest::Connect {
                    peer: *peer,
                    service: GattService::Proxy,
                })
            }
            _ => None,
        }
    }
}
