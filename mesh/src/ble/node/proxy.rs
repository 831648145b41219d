//! The Proxy Server feature (MshPRT §6.7): the node's GATT connections with Proxy Clients,
//! each with its SAR (§6.3.2) and proxy filter; forwarding between them and the advertising
//! bearer (the relay rules are in `network.rs`); proxy configuration messages (§6.6);
//! secure network beacons on a new connection; the Mesh Proxy Service advertising (§7.2.2.2).
//!
//! The runtime owns the connections: it tells the node when one opens
//! ([`Node::proxy_connected`]), changes MTU or closes, feeds every ATT value written to the
//! Mesh Proxy Data In characteristic as an [`RxFrame`] on [`Bearer::Gatt`], and notifies every
//! [`TxFrame`] on `Bearer::Gatt` on Mesh Proxy Data Out. [`Event::ProxyDisconnect`] asks it to
//! close a connection.

use super::*;
use crate::ble::proxy::{open_config, seal_config, ConfigPduError, ProxyConn, ProxyFilter};
use crate::ble::wire::adv::ProxyServiceData;
use crate::ble::wire::proxy::{MessageType, ProxyConfigMessage};
use crate::frame::{ConnId, Connectable, GattRole, GattService, LinkEvent, LinkRequest};

/// The most proxy connections a node serves at once; one more is refused.
pub const MAX_PROXY_CONNECTIONS: usize = 4;

/// How long a node advertises with Node Identity once its Node Identity state is enabled
/// (§4.2.12; the specification allows at most 60 seconds, Zephyr's
/// `CONFIG_BT_MESH_NODE_ID_TIMEOUT` defaults to 60).
pub const NODE_IDENTITY_DURATION: Duration = Duration::from_secs(60);

/// What the Proxy Server counted (never reset; saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyServerCounters {
    /// Connections accepted.
    pub connections: u32,
    /// Connections refused: the feature is off, no room, or the id is already in use.
    pub refused: u32,
    /// Frames on a connection the node does not know (closed, or never opened).
    pub unknown_connection: u32,
    /// Malformed Proxy PDUs or SAR violations (§6.3.1, §6.3.2); any partial message is lost.
    pub malformed: u32,
    /// Segmented messages not completed within the SAR timeout (§6.3.2); the node asks for
    /// the connection to be closed.
    pub sar_timeouts: u32,
    /// Provisioning PDUs on a proxy connection (§6.3.1: they belong to the Mesh Provisioning
    /// Service), ignored.
    pub wrong_type: u32,
    /// Proxy configuration messages no network key of the node opens (a stranger's).
    pub config_stranger: u32,
    /// Proxy configuration messages that opened but were malformed, replayed, or not for a
    /// server (a Filter Status, directed proxy messages), ignored.
    pub config_ignored: u32,
    /// Filter Status answers sent.
    pub filter_status_sent: u32,
    /// Addresses left out of a full filter (§6.7).
    pub filter_full: u32,
    /// Network PDUs forwarded to clients (relayed or originated here).
    pub to_clients: u32,
    /// Messages not queued because a connection's queue was full.
    pub queue_full: u32,
}

fn inc(c: &mut u32) {
    *c = c.saturating_add(1);
}

/// One client connection: its SAR and its filter.
#[derive(Debug, Clone)]
pub(super) struct ServerConn {
    pub(super) conn: ProxyConn,
    pub(super) filter: ProxyFilter,
}

/// The Proxy Server's run-time state (not persisted: connections do not survive a restart).
#[derive(Debug, Clone, Default)]
pub(super) struct ProxyServer {
    pub(super) conns: Vec<ServerConn>,
    pub(super) counters: ProxyServerCounters,
    /// Which subnet the next Network ID advertisement names (rotation, §7.2.2.2.2).
    pub(super) next_adv_subnet: usize,
    /// What the clients' last beacons said: IV Index, IV Update flag, and each subnet's index
    /// and key refresh phase.
    pub(super) beaconed: Option<BeaconedState>,
    /// Subnets advertising Node Identity, until when (§4.2.12).
    pub(super) identity: Vec<(u16, Instant)>,
    /// Connections the runtime is asked to close (bounded by the connections it reported).
    pub(super) requests: VecDeque<LinkRequest>,
}

/// The network state secure network beacons carry (§3.10.3), as last sent to the clients.
pub(super) type BeaconedState = (u32, bool, Vec<(u16, KeyRefreshPhase)>);

impl<R: RngCore> Node<R> {
    /// Whether the Proxy feature is supported and enabled (GATT Proxy state, §4.2.11).
    pub fn proxy_enabled(&self) -> bool {
        self.state.gatt_proxy == Some(true)
    }

    /// What the Proxy Server counted.
    pub fn proxy_counters(&self) -> ProxyServerCounters {
        self.proxy.counters
    }

    /// The proxy filter of connection `conn`, if it is open.
    pub fn proxy_filter(&self, conn: ConnId) -> Option<&ProxyFilter> {
        self.proxy
            .conns
            .iter()
            .find(|c| c.conn.id() == conn)
            .map(|c| &c.filter)
    }

    /// The open proxy connections.
    pub fn proxy_connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.proxy.conns.iter().map(|c| c.conn.id())
    }

    /// A Proxy Client connected (and enabled notifications of Mesh Proxy Data Out,
    /// §7.2.3.2.1) with ATT MTU `mtu`. Its filter is an empty accept list, and it is sent a
    /// secure network beacon for each subnet (§6.7). Returns false, and the runtime should
    /// disconnect, when the feature is off, `conn` is already open, or
    /// [`MAX_PROXY_CONNECTIONS`] are.
    pub fn proxy_connected(&mut self, now: Instant, conn: ConnId, mtu: u16) -> bool {
        self.now = now;
        if !self.proxy_enabled()
            || self.proxy.conns.len() >= MAX_PROXY_CONNECTIONS
            || self.proxy.conns.iter().any(|c| c.conn.id() == conn)
        {
            inc(&mut self.proxy.counters.refused);
            return false;
        }
        let mut c = ServerConn {
            conn: ProxyConn::new(conn, mtu),
            filter: ProxyFilter::default(),
        };
        for b in self.secure_beacons() {
            c.conn.send(MessageType::MeshBeacon, &b);
        }
        self.proxy.conns.push(c);
        self.proxy.beaconed = Some(self.beacon_state());
        inc(&mut self.proxy.counters.connections);
        true
    }

    /// The connection `conn` closed (by either side): its filter and any partial message go.
    pub fn proxy_disconnected(&mut self, conn: ConnId) {
        self.proxy.conns.retain(|c| c.conn.id() != conn);
    }

    /// Connection `conn` has a new ATT MTU.
    pub fn proxy_set_mtu(&mut self, conn: ConnId, mtu: u16) {
        if let Some(c) = self.proxy.conns.iter_mut().find(|c| c.conn.id() == conn) {
            c.conn.set_mtu(mtu);
        }
    }

    /// The advertising data the radio should advertise, connectable, for the Mesh Proxy
    /// Service (§7.2.2.2.1) while a connection can be taken: Node Identity (§7.2.2.2.3) for a
    /// subnet whose Node Identity state is enabled (§4.2.12, for
    /// [`NODE_IDENTITY_DURATION`]), else, with the GATT Proxy state enabled, the Network ID of
    /// each subnet in turn (§7.2.2.2.2, with the key used to transmit). `None` when the node
    /// should not advertise the service. A fresh Random each call: call it once per
    /// advertising set.
    pub fn proxy_advertising(&mut self) -> Option<Vec<u8>> {
        if self.state.gatt_proxy.is_none() || self.proxy.conns.len() >= MAX_PROXY_CONNECTIONS {
            return None;
        }
        if let Some(&(index, _)) = self.proxy.identity.iter().find(|(_, t)| *t > self.now) {
            return self.node_identity_advertising(index);
        }
        if !self.proxy_enabled() || self.subnets.is_empty() {
            return None;
        }
        let i = self.proxy.next_adv_subnet % self.subnets.len();
        self.proxy.next_adv_subnet = i + 1;
        Some(ProxyServiceData::network_id(self.subnets[i].tx_key()).advertising_data())
    }

    /// The advertising data for the Mesh Proxy Service with Node Identity on subnet
    /// `net_index` (§7.2.2.2.3: Hash of a fresh Random and the primary address under the
    /// subnet's IdentityKey), for a node told to advertise it (Config Node Identity Set or a
    /// user action). `None` without the feature or the subnet.
    pub fn node_identity_advertising(&mut self, net_index: u16) -> Option<Vec<u8>> {
        self.state.gatt_proxy?;
        let si = self.subnets.iter().position(|s| s.index == net_index)?;
        let mut random = [0u8; 8];
        self.rng.fill_bytes(&mut random);
        let key = self.subnets[si].tx_key();
        Some(ProxyServiceData::node_identity(key, random, self.state.primary).advertising_data())
    }

    /// A proxy configuration message from this node's primary element on subnet `net_index`,
    /// secured with the proxy nonce and the next sequence number (§6.6), for a Proxy Client to
    /// send: the Data of a Proxy PDU of Message Type 0x02. `None` without the subnet or a
    /// sequence number.
    pub fn proxy_config_pdu(
        &mut self,
        now: Instant,
        net_index: u16,
        msg: &ProxyConfigMessage,
    ) -> Option<Vec<u8>> {
        self.now = now;
        let si = self.subnets.iter().position(|s| s.index == net_index)?;
        self.seal_proxy_config(si, msg)
    }

    /// Opens the Data of a Proxy PDU of Message Type 0x02 under the node's network keys
    /// (§6.6), for a Proxy Client: the message, or `None` (dropped and counted) when no key
    /// opens it, it is malformed or a replay.
    pub fn open_proxy_config_pdu(&mut self, bytes: &[u8]) -> Option<ProxyConfigMessage> {
        self.open_proxy_config(bytes).map(|(_, _, m)| m)
    }

    /// The Node Identity states changed (Config Node Identity Set): an enabled one advertises
    /// for [`NODE_IDENTITY_DURATION`] from `now`.
    pub(super) fn proxy_identity_changed(&mut self, now: Instant) {
        let on = self.state.node_identity.clone();
        self.proxy.identity.retain(|(i, _)| on.contains(i));
        for i in on {
            if !self.proxy.identity.iter().any(|(x, _)| *x == i) {
                self.proxy.identity.push((i, now + NODE_IDENTITY_DURATION));
            }
        }
    }

    /// A secure network beacon for each subnet, as the periodic ones (§3.10.3).
    fn secure_beacons(&self) -> Vec<Vec<u8>> {
        let iv_flag = if self.state.iv_update {
            Flags::IV_UPDATE
        } else {
            0
        };
        self.subnets
            .iter()
            .map(|sn| {
                let kr = if sn.phase == KeyRefreshPhase::Second {
                    Flags::KEY_REFRESH
                } else {
                    0
                };
                SecureNetworkBeacon::new_signed(
                    sn.tx_key(),
                    Flags(kr | iv_flag),
                    self.state.iv_index,
                )
                .to_vec()
            })
            .collect()
    }

    fn beacon_state(&self) -> BeaconedState {
        (
            self.state.iv_index.0,
            self.state.iv_update,
            self.subnets.iter().map(|s| (s.index, s.phase)).collect(),
        )
    }

    /// After each call: when the IV Index, the IV Update flag, a key refresh phase or the
    /// subnets changed, every client gets a secure network beacon of each subnet again (§6.7:
    /// a new IV Index or Flags value is passed on, and a new subnet is announced).
    pub(super) fn proxy_beacon_changes(&mut self) {
        if self.proxy.conns.is_empty() {
            self.proxy.beaconed = None;
            return;
        }
        let now = self.beacon_state();
        if self.proxy.beaconed.as_ref() == Some(&now) {
            return;
        }
        if self.proxy.beaconed.is_some() {
            let beacons = self.secure_beacons();
            for c in &mut self.proxy.conns {
                for b in &beacons {
                    if !c.conn.send(MessageType::MeshBeacon, b) {
                        inc(&mut self.proxy.counters.queue_full);
                    }
                }
            }
        }
        self.proxy.beaconed = Some(now);
    }

    /// One ATT value from connection `conn` (a Proxy PDU, §6.3.1).
    pub(super) fn proxy_rx(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let Some(i) = self.proxy.conns.iter().position(|c| c.conn.id() == conn) else {
            inc(&mut self.proxy.counters.unknown_connection);
            return self.drop(DropReason::Malformed);
        };
        match self.proxy.conns[i].conn.receive(now, bytes) {
            Err(_) => {
                inc(&mut self.proxy.counters.malformed);
                self.drop(DropReason::Malformed);
            }
            Ok(None) => {}
            Ok(Some((MessageType::NetworkPdu, pdu))) => self.net_rx(now, &pdu, None, Some(conn)),
            Ok(Some((MessageType::MeshBeacon, b))) => self.beacon_rx(now, &b),
            Ok(Some((MessageType::ProxyConfiguration, b))) => self.proxy_config_rx(conn, &b),
            Ok(Some((MessageType::ProvisioningPdu, _))) => {
                inc(&mut self.proxy.counters.wrong_type);
                self.drop(DropReason::Malformed);
            }
        }
    }

    /// Opens a proxy configuration PDU under the subnets' keys (§6.6): the subnet, the Network
    /// PDU's fields and the message. Counts what it refuses.
    pub(super) fn open_proxy_config(
        &mut self,
        bytes: &[u8],
    ) -> Option<(usize, NetworkPduRepr, ProxyConfigMessage)> {
        let Some(&first) = bytes.first() else {
            inc(&mut self.proxy.counters.malformed);
            self.drop(DropReason::Malformed);
            return None;
        };
        let iv = self.state.iv_index.for_rx(first >> 7);
        for (si, sn) in self.subnets.iter().enumerate() {
            for key in std::iter::once(&sn.key).chain(sn.new_key.as_ref()) {
                match open_config(bytes, &key.flooding, iv) {
                    Ok((pdu, msg)) => {
                        if !self.cache.insert(pdu.src, pdu.seq, iv) {
                            inc(&mut self.proxy.counters.config_ignored);
                            self.drop(DropReason::Duplicate);
                            return None;
                        }
                        return Some((si, pdu, msg));
                    }
                    Err(ConfigPduError::Auth(_)) => {}
                    Err(_) => {
                        inc(&mut self.proxy.counters.config_ignored);
                        self.drop(DropReason::Malformed);
                        return None;
                    }
                }
            }
        }
        inc(&mut self.proxy.counters.config_stranger);
        self.drop(DropReason::NoNetworkKey);
        None
    }

    /// Secures `msg` from the primary element on subnet `si` with the next sequence number
    /// (§6.6): the Data of a Proxy PDU of Message Type 0x02.
    pub(super) fn seal_proxy_config(
        &mut self,
        si: usize,
        msg: &ProxyConfigMessage,
    ) -> Option<Vec<u8>> {
        let seq = self.alloc_seq()?;
        let iv = self.tx_iv_index();
        let src = Address::from(self.state.primary);
        self.cache.insert(src, seq, iv);
        seal_config(&self.subnets.get(si)?.tx_key().flooding, iv, seq, src, msg).ok()
    }

    /// A proxy configuration message from connection `conn` (§6.6, §6.7): the filter
    /// messages change its filter and are answered with a Filter Status on the same subnet.
    fn proxy_config_rx(&mut self, conn: ConnId, bytes: &[u8]) {
        let Some((si, _, msg)) = self.open_proxy_config(bytes) else {
            return;
        };
        let Some(i) = self.proxy.conns.iter().position(|c| c.conn.id() == conn) else {
            return;
        };
        let Some((status, refused)) = self.proxy.conns[i].filter.apply(&msg) else {
            inc(&mut self.proxy.counters.config_ignored);
            return;
        };
        let c = &mut self.proxy.counters.filter_full;
        *c = c.saturating_add(refused as u32);
        let Some(sealed) = self.seal_proxy_config(si, &status) else {
            return;
        };
        if self.proxy.conns[i]
            .conn
            .send(MessageType::ProxyConfiguration, &sealed)
        {
            inc(&mut self.proxy.counters.filter_status_sent);
        } else {
            inc(&mut self.proxy.counters.queue_full);
        }
    }

    /// A Network PDU from connection `from` authenticated: its filter learns the source (§6.7).
    pub(super) fn proxy_learn(&mut self, from: ConnId, src: Address) {
        if let Some(c) = self.proxy.conns.iter_mut().find(|c| c.conn.id() == from) {
            if !c.filter.learn_source(src) {
                inc(&mut self.proxy.counters.filter_full);
            }
        }
    }

    /// Forwards the secured Network PDU `bytes` to `dst` to every connection but `except`
    /// whose filter allows `dst` (§6.7). Returns whether any took it.
    pub(super) fn proxy_forward(
        &mut self,
        bytes: &[u8],
        dst: Address,
        except: Option<ConnId>,
    ) -> bool {
        if !self.proxy_enabled() {
            return false;
        }
        let mut any = false;
        let counters = &mut self.proxy.counters;
        for c in &mut self.proxy.conns {
            if Some(c.conn.id()) == except || !c.filter.allows(dst) {
                continue;
            }
            if c.conn.send(MessageType::NetworkPdu, bytes) {
                inc(&mut counters.to_clients);
                any = true;
            } else {
                inc(&mut counters.queue_full);
            }
        }
        any
    }

    /// The next ATT value to notify on a proxy connection.
    pub(super) fn proxy_poll_transmit(&mut self) -> Option<TxFrame> {
        self.proxy.conns.iter_mut().find_map(|c| {
            c.conn.poll_value().map(|bytes| TxFrame {
                bearer: Bearer::Gatt(c.conn.id()),
                bytes,
            })
        })
    }

    /// Whether ATT values wait on a proxy connection.
    pub(super) fn proxy_transmitting(&self) -> bool {
        self.proxy.conns.iter().any(|c| c.conn.has_output())
    }

    /// The earliest SAR timer of the proxy connections.
    pub(super) fn proxy_timeout(&self) -> Option<Instant> {
        self.proxy
            .conns
            .iter()
            .filter_map(|c| c.conn.poll_timeout())
            .chain(self.proxy.identity.iter().map(|(_, t)| *t))
            .min()
    }

    /// SAR timers due at `now`: the connection is dropped and the runtime asked to close it
    /// (§6.3.2).
    pub(super) fn proxy_timer(&mut self, now: Instant) {
        // Node Identity advertising ends (§4.2.12): the state reads Disabled again.
        let ended: Vec<u16> = self
            .proxy
            .identity
            .iter()
            .filter(|(_, t)| *t <= now)
            .map(|(i, _)| *i)
            .collect();
        if !ended.is_empty() {
            self.proxy.identity.retain(|(_, t)| *t > now);
            self.state.node_identity.retain(|i| !ended.contains(i));
        }
        let mut expired = Vec::new();
        for c in &mut self.proxy.conns {
            if c.conn.sar_expired(now) {
                expired.push(c.conn.id());
            }
        }
        for conn in expired {
            inc(&mut self.proxy.counters.sar_timeouts);
            self.proxy_close(conn);
        }
    }

    /// Drops connection `conn` and asks the runtime to close it.
    pub(super) fn proxy_close(&mut self, conn: ConnId) {
        self.proxy.conns.retain(|c| c.conn.id() != conn);
        self.events.push_back(Event::ProxyDisconnect { conn });
        self.proxy_refuse(conn);
    }

    /// Asks the runtime to close `conn` (once).
    fn proxy_refuse(&mut self, conn: ConnId) {
        let r = LinkRequest::Disconnect { conn };
        if !self.proxy.requests.contains(&r) {
            self.proxy.requests.push_back(r);
        }
    }

    /// A connection event from the runtime ([`Station::handle_link`]): a Proxy Client that
    /// connected to the Mesh Proxy Service is served ([`Node::proxy_connected`]); any other
    /// connection (another service, or one this node did not ask for as Central) is refused.
    pub(super) fn proxy_link(&mut self, now: Instant, event: &LinkEvent) {
        match *event {
            LinkEvent::Connected {
                conn,
                mtu,
                service: GattService::Proxy,
                role: GattRole::Peripheral,
                ..
            } => {
                if !self.proxy_connected(now, conn, mtu) {
                    self.proxy_refuse(conn);
                }
            }
            LinkEvent::Connected { conn, .. } => {
                inc(&mut self.proxy.counters.refused);
                self.proxy_refuse(conn);
            }
            LinkEvent::MtuChanged { conn, mtu } => self.proxy_set_mtu(conn, mtu),
            LinkEvent::Disconnected { conn, .. } => {
                self.proxy_disconnected(conn);
                self.proxy
                    .requests
                    .retain(|r| *r != LinkRequest::Disconnect { conn });
            }
            LinkEvent::ConnectFailed { .. } => {}
        }
    }

    /// The next connection to close ([`Station::poll_link`]).
    pub(super) fn proxy_poll_link(&mut self) -> Option<LinkRequest> {
        self.proxy.requests.pop_front()
    }

    /// The Mesh Proxy Service advertising ([`Station::connectable`]).
    pub(super) fn proxy_connectable(&mut self, now: Instant) -> Option<Connectable> {
        self.now = self.now.max(now);
        self.proxy_advertising().map(|adv_data| Connectable {
            service: GattService::Proxy,
            adv_data,
        })
    }

    /// The GATT Proxy state changed: disabled closes every proxy connection (§4.2.11).
    pub(super) fn proxy_state_changed(&mut self) {
        if !self.proxy_enabled() {
            let conns: Vec<ConnId> = self.proxy_connections().collect();
            for c in conns {
                self.proxy_close(c);
            }
        }
    }
}
