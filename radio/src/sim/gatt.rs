//! GATT connections on the simulated air: a Central connects to a node that accepts the
//! service ([`Station::connectable`]) within range, both learn the exchanged ATT MTU, and
//! values (Proxy PDUs) travel in connection events until either side disconnects or the link is
//! lost.
//!
//! The model (Core v5.4 Vol 6 Part B §4.5): a connection is established a random 0..=
//! [`GattConfig::connect_delay_max`] after it is asked for (the Central waits for one of the
//! peer's connectable advertisements), then one connection interval (the first anchor). Its
//! interval is drawn per connection, a multiple of 1.25 ms in
//! [`GattConfig::interval_min`]..=[`GattConfig::interval_max`] (§4.5.1). The ATT MTU is the
//! smaller of the two sides' (Core v5.4 Vol 3 Part F §3.4.2.2), 23..=517, exchanged before
//! `Connected` is reported. A value handed to the radio goes in the next connection event,
//! at most [`GattConfig::values_per_event`] per direction and event; an event gets through or
//! not as a whole (one loss draw with the worse direction's loss), and what did not is sent
//! again at the next event (the link layer acknowledges, §4.5.9), so values arrive in order,
//! once. When no event got through for [`GattConfig::supervision_timeout`] (the link's loss,
//! the peer out of range or detached) both sides get `Disconnected { LinkLoss }` (§4.5.2).
//! A disconnect asked for goes at the next event after the asker's queued values. Idle
//! connections have no events (empty events cost nothing here): a topology change wakes them
//! to check the link. Every draw comes from the medium's seeded generator in event order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand_core::RngCore;
use weft_mesh::{
    Bearer, ConnId, DisconnectReason, Duration, GattRole, GattService, Instant, LinkEvent,
    LinkRequest, RxFrame, Station,
};

use super::topology::EXPLICIT;
use super::{Ev, NodeId, SimEvent, Simulator};

/// The smallest ATT MTU (Core v5.4 Vol 3 Part F §3.2.8: ATT_MTU for LE is at least 23).
pub const MIN_ATT_MTU: u16 = 23;
/// The largest ATT MTU a GATT server needs (the longest attribute value is 512 octets, Core
/// v5.4 Vol 3 Part F §3.2.9, plus the 3 octets of an ATT_HANDLE_VALUE_NTF's header, §3.4.7.1).
pub const MAX_ATT_MTU: u16 = 517;
/// Connection intervals are multiples of 1.25 ms (Core v5.4 Vol 6 Part B §4.5.1).
const INTERVAL_UNIT_US: u64 = 1_250;
/// Values one direction of a connection holds before the sender's are dropped (counted).
pub const CONN_QUEUE_LIMIT: usize = 256;

/// Parameters of the simulated GATT connections.
#[derive(Debug, Clone, PartialEq)]
pub struct GattConfig {
    /// The ATT MTU a node offers unless told otherwise ([`Simulator::set_gatt_mtu`]): Zephyr's
    /// Mesh proxy offers 69 (`CONFIG_BT_L2CAP_TX_MTU` 65 + 4), phones 185..=517.
    pub mtu: u16,
    /// Shortest connection interval (7.5 ms, Core v5.4 Vol 6 Part B §4.5.1).
    pub interval_min: Duration,
    /// Longest connection interval drawn (the specification allows 4 s; phones use
    /// 7.5..=50 ms for an active connection).
    pub interval_max: Duration,
    /// Longest wait for one of the peer's connectable advertisements before connecting (its
    /// advertising interval; Zephyr advertises the Mesh Proxy Service every 100 ms at first).
    pub connect_delay_max: Duration,
    /// The supervision timeout (Core v5.4 Vol 6 Part B §4.5.2; Zephyr's and Android's default
    /// is 4..=5 s).
    pub supervision_timeout: Duration,
    /// Values one direction carries in one connection event (the number of link-layer data
    /// PDUs a controller sends per event; more wait for the next).
    pub values_per_event: u8,
}

impl Default for GattConfig {
    fn default() -> Self {
        GattConfig {
            mtu: 69,
            interval_min: Duration::from_micros(7_500),
            interval_max: Duration::from_millis(50),
            connect_delay_max: Duration::from_millis(100),
            supervision_timeout: Duration::from_secs(4),
            values_per_event: 4,
        }
    }
}

/// What the GATT connections counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GattStats {
    /// Connections asked for.
    pub connect_requests: u64,
    /// Connections made.
    pub connected: u64,
    /// Connections asked for that came to nothing (no such peer, out of range, or not
    /// accepting the service).
    pub connect_failed: u64,
    /// Connections closed by one side.
    pub disconnected: u64,
    /// Connections lost (supervision timeout).
    pub link_lost: u64,
    /// Connection events that got through / that the link lost.
    pub events_ok: u64,
    pub events_lost: u64,
    /// Values handed to the receiving station.
    pub values_delivered: u64,
    /// Values refused: longer than the connection's `ATT_MTU - 3`.
    pub rejected_oversize: u64,
    /// Values or requests for a connection the node does not have (closed, never opened).
    pub unknown_connection: u64,
    /// Values dropped because the connection's queue was full.
    pub queue_full: u64,
    /// MTU changes reported.
    pub mtu_changes: u64,
    /// Connectable advertisements put on the air (`connectable.rs`).
    pub connectable_adverts: u64,
    /// Connectable advertising data longer than a legacy PDU carries, not sent.
    pub connectable_oversize: u64,
}

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Asked for; the peer is found (or not) at establishment.
    Connecting,
    Open,
}

/// One connection (or a connection being made).
#[derive(Debug)]
pub(super) struct SimConn {
    central: u32,
    /// The peer, if a node advertises with the address asked for.
    peripheral: Option<u32>,
    peer_address: [u8; 6],
    central_id: ConnId,
    peripheral_id: ConnId,
    service: GattService,
    phase: Phase,
    mtu: u16,
    /// A new MTU to exchange at the next event.
    pending_mtu: Option<u16>,
    interval: u64,
    last_ok: Instant,
    /// Values from the Central / from the Peripheral.
    up: VecDeque<Arc<[u8]>>,
    down: VecDeque<Arc<[u8]>>,
    /// The node that asked to disconnect.
    closing: Option<u32>,
    /// A node taken off the air: it hears nothing more of this connection.
    detached: Option<u32>,
    /// A connection event is queued.
    scheduled: bool,
}

/// The connections of a simulator.
#[derive(Debug, Default)]
pub(super) struct GattState {
    /// Every connection asked for, by slot; slots are not reused, so that an event queued
    /// for a connection never finds another in its place.
    conns: Vec<Option<SimConn>>,
    /// (node, its ConnId) → connection slot.
    by_node: BTreeMap<(u32, u16), u32>,
}

impl GattState {
    /// The connection in `slot`, unless it is closed and gone.
    fn conn_mut(&mut self, slot: u32) -> Option<&mut SimConn> {
        self.conns.get_mut(slot as usize).and_then(Option::as_mut)
    }
}

impl<S: Station> Simulator<S> {
    /// Sets the ATT MTU `node` offers (clamped to 23..=517); its open connections exchange
    /// the new smaller-of-both MTU at their next event (`MtuChanged` on both sides).
    pub fn set_gatt_mtu(&mut self, node: NodeId, mtu: u16) {
        let mtu = mtu.clamp(MIN_ATT_MTU, MAX_ATT_MTU);
        self.states[node.index()].gatt_mtu = mtu;
        for i in 0..self.gatt.conns.len() {
            let Some(c) = self.gatt.conns[i].as_mut() else {
                continue;
            };
            if c.phase != Phase::Open || (c.central != node.0 && c.peripheral != Some(node.0)) {
                continue;
            }
            let other = if c.central == node.0 {
                c.peripheral.unwrap_or(c.central)
            } else {
                c.central
            };
            let agreed = mtu.min(self.states[other as usize].gatt_mtu);
            if agreed != c.mtu {
                c.pending_mtu = Some(agreed);
                self.gatt_schedule(i as u32);
            }
        }
    }

    /// The ATT MTU `node` offers.
    pub fn gatt_mtu(&self, node: NodeId) -> u16 {
        self.states[node.index()].gatt_mtu
    }

    /// The open connections: (Central, Peripheral, service, ATT MTU, interval).
    pub fn gatt_connections(&self) -> Vec<(NodeId, NodeId, GattService, u16, Duration)> {
        self.gatt
            .conns
            .iter()
            .flatten()
            .filter(|c| c.phase == Phase::Open)
            .filter_map(|c| {
                Some((
                    NodeId(c.central),
                    NodeId(c.peripheral?),
                    c.service,
                    c.mtu,
                    Duration::from_micros(c.interval),
                ))
            })
            .collect()
    }

    /// The node advertising with device address `address`, if any.
    pub fn node_by_address(&self, address: [u8; 6]) -> Option<NodeId> {
        self.states
            .iter()
            .position(|s| s.adv_address == address)
            .map(|i| NodeId(i as u32))
    }

    /// The device address `node` advertises (and is connected to) with.
    pub fn address_of(&self, node: NodeId) -> [u8; 6] {
        self.states[node.index()].adv_address
    }

    // ---- internals, called by the medium ----

    /// A station asked for a connection to open or close.
    pub(super) fn gatt_request(&mut self, n: u32, request: LinkRequest) {
        match request {
            LinkRequest::Connect { peer, service } => {
                self.stats.gatt.connect_requests += 1;
                let peripheral = self.node_by_address(peer).map(|p| p.0).filter(|&p| p != n);
                let central_id = self.next_conn_id(n);
                let interval = self.draw_interval();
                let slot = self.gatt_insert(SimConn {
                    central: n,
                    peripheral,
                    peer_address: peer,
                    central_id,
                    peripheral_id: ConnId(0),
                    service,
                    phase: Phase::Connecting,
                    mtu: MIN_ATT_MTU,
                    pending_mtu: None,
                    interval,
                    last_ok: self.now,
                    up: VecDeque::new(),
                    down: VecDeque::new(),
                    closing: None,
                    detached: None,
                    scheduled: true,
                });
                // Reserve the Central's id now so that two connects get two ids.
                self.gatt.by_node.insert((n, central_id.0), slot);
                let max = self.config.gatt.connect_delay_max.as_micros();
                let delay = if max == 0 {
                    0
                } else {
                    self.rng.next_u64() % (max + 1)
                };
                let at = self.now + Duration::from_micros(delay + interval);
                self.push(at, Ev::GattEstablish { conn: slot });
            }
            LinkRequest::Disconnect { conn } => match self.gatt.by_node.get(&(n, conn.0)) {
                Some(&slot) => {
                    if let Some(c) = self.gatt.conns[slot as usize].as_mut() {
                        if c.phase == Phase::Open && c.closing.is_none() {
                            c.closing = Some(n);
                            self.gatt_schedule(slot);
                        }
                    }
                }
                None => self.stats.gatt.unknown_connection += 1,
            },
        }
    }

    /// A value from node `n` on its connection `conn`.
    pub(super) fn gatt_send(&mut self, n: u32, conn: ConnId, bytes: Vec<u8>) {
        let Some(&slot) = self.gatt.by_node.get(&(n, conn.0)) else {
            self.stats.gatt.unknown_connection += 1;
            return;
        };
        let Some(c) = self.gatt.conns[slot as usize].as_mut() else {
            self.stats.gatt.unknown_connection += 1;
            return;
        };
        if c.phase != Phase::Open || c.closing.is_some() {
            self.stats.gatt.unknown_connection += 1;
            return;
        }
        if bytes.len() > usize::from(c.mtu) - 3 {
            self.stats.gatt.rejected_oversize += 1;
            return;
        }
        let q = if c.central == n {
            &mut c.up
        } else {
            &mut c.down
        };
        if q.len() >= CONN_QUEUE_LIMIT {
            self.stats.gatt.queue_full += 1;
            return;
        }
        q.push_back(Arc::from(bytes));
        self.gatt_schedule(slot);
    }

    /// A connection is due to be made: the peer must be in range and accept the service.
    pub(super) fn gatt_establish(&mut self, slot: u32) {
        let now = self.now;
        let Some(c) = self.gatt.conn_mut(slot) else {
            return;
        };
        c.scheduled = false;
        let (central, service, peer) = (c.central, c.service, c.peer_address);
        if c.detached == Some(central) {
            // The Central was taken off the air: nobody to tell.
            self.gatt_remove(slot);
            return;
        }
        let accepted = c.peripheral.filter(|&p| {
            self.gatt_link_alive(central, p)
                && self.stations[p as usize]
                    .connectable(now)
                    .is_some_and(|a| a.service == service)
        });
        let Some(p) = accepted else {
            self.gatt_remove(slot);
            self.stats.gatt.connect_failed += 1;
            self.gatt_notify(central, LinkEvent::ConnectFailed { peer, service });
            return;
        };
        let peripheral_id = self.next_conn_id(p);
        let mtu = self.states[central as usize]
            .gatt_mtu
            .min(self.states[p as usize].gatt_mtu)
            .clamp(MIN_ATT_MTU, MAX_ATT_MTU);
        let central_address = self.states[central as usize].adv_address;
        if let Some(c) = self.gatt.conns[slot as usize].as_mut() {
            c.peripheral_id = peripheral_id;
            c.phase = Phase::Open;
            c.mtu = mtu;
            c.last_ok = now;
        }
        self.gatt.by_node.insert((p, peripheral_id.0), slot);
        self.stats.gatt.connected += 1;
        // The Peripheral learns of it first: the Central's first value comes after.
        self.gatt_notify(
            p,
            LinkEvent::Connected {
                conn: peripheral_id,
                mtu,
                peer: central_address,
                service,
                role: GattRole::Peripheral,
            },
        );
        let central_id = self.gatt.conns[slot as usize]
            .as_ref()
            .map_or(ConnId(0), |c| c.central_id);
        self.gatt_notify(
            central,
            LinkEvent::Connected {
                conn: central_id,
                mtu,
                peer,
                service,
                role: GattRole::Central,
            },
        );
    }

    /// A connection event.
    pub(super) fn gatt_event(&mut self, slot: u32) {
        let now = self.now;
        let per_event = usize::from(self.config.gatt.values_per_event.max(1));
        let supervision = self.config.gatt.supervision_timeout;
        let Some(c) = self.gatt.conn_mut(slot) else {
            return;
        };
        c.scheduled = false;
        let (central, Some(p)) = (c.central, c.peripheral) else {
            return;
        };
        let detached = c.detached;
        let ok = detached.is_none() && self.gatt_link_alive(central, p) && {
            let loss = self.gatt_loss(central, p);
            !(loss != 0 && self.rng.next_u32() < loss)
        };
        let Some(c) = self.gatt.conns[slot as usize].as_mut() else {
            return;
        };
        if !ok {
            self.stats.gatt.events_lost += 1;
            if now.saturating_since(c.last_ok) >= supervision {
                self.stats.gatt.link_lost += 1;
                self.gatt_close(slot, None);
            } else {
                self.gatt_schedule_after(slot, true);
            }
            return;
        }
        self.stats.gatt.events_ok += 1;
        c.last_ok = now;
        let up: Vec<_> = (0..per_event).map_while(|_| c.up.pop_front()).collect();
        let down: Vec<_> = (0..per_event).map_while(|_| c.down.pop_front()).collect();
        let (cid, pid) = (c.central_id, c.peripheral_id);
        for v in up {
            self.gatt_deliver(p, pid, central, &v);
        }
        for v in down {
            self.gatt_deliver(central, cid, p, &v);
        }
        let Some(c) = self.gatt.conn_mut(slot) else {
            return;
        };
        if let Some(mtu) = c.pending_mtu.take() {
            c.mtu = mtu;
            self.stats.gatt.mtu_changes += 1;
            self.gatt_notify(p, LinkEvent::MtuChanged { conn: pid, mtu });
            self.gatt_notify(central, LinkEvent::MtuChanged { conn: cid, mtu });
        }
        let Some(c) = self.gatt.conn_mut(slot) else {
            return;
        };
        if let Some(closer) = c.closing {
            let drained = if closer == central {
                c.up.is_empty()
            } else {
                c.down.is_empty()
            };
            if drained {
                self.stats.gatt.disconnected += 1;
                self.gatt_close(slot, Some(closer));
                return;
            }
        }
        self.gatt_schedule_after(slot, false);
    }

    /// The topology changed (links set or removed, a node detached): idle connections wake
    /// to check their link.
    pub(super) fn gatt_topology_changed(&mut self) {
        for slot in 0..self.gatt.conns.len() as u32 {
            if self.gatt.conns[slot as usize]
                .as_ref()
                .is_some_and(|c| c.phase == Phase::Open)
            {
                self.gatt_schedule(slot);
            }
        }
    }

    /// `n` is taken off the air: its connections are lost for the peer (after the
    /// supervision timeout), and `n` hears nothing more of them.
    pub(super) fn gatt_detach(&mut self, n: u32) {
        for slot in 0..self.gatt.conns.len() as u32 {
            let Some(c) = self.gatt.conns[slot as usize].as_mut() else {
                continue;
            };
            if c.central == n || c.peripheral == Some(n) {
                c.detached = Some(n);
                if c.phase == Phase::Connecting {
                    // Nobody to tell: the Central is gone, or the peer will not be there.
                    if c.central == n {
                        c.peripheral = None;
                    }
                }
            }
        }
        self.gatt.by_node.retain(|&(node, _), _| node != n);
        for slot in 0..self.gatt.conns.len() as u32 {
            self.gatt_schedule(slot);
        }
    }

    fn gatt_deliver(&mut self, to: u32, conn: ConnId, from: u32, value: &[u8]) {
        let rssi = self.topology.find(from, to).map(|nb| nb.rssi);
        let frame = RxFrame {
            lqi: None,
            bearer: Bearer::Gatt(conn),
            channel: 0,
            rssi,
            timestamp: self.now,
            adv_address: None,
            bytes: value.to_vec(),
        };
        self.stats.gatt.values_delivered += 1;
        self.stats.station_calls += 1;
        self.stations[to as usize].handle_frame(self.now, &frame);
        self.service(to, None);
    }

    /// Tells node `n` what happened to a connection, then polls it.
    fn gatt_notify(&mut self, n: u32, event: LinkEvent) {
        let now = self.now;
        if self.config.medium_events {
            self.events.push(SimEvent::Link {
                at: now,
                node: NodeId(n),
                event: event.clone(),
            });
        }
        self.stats.station_calls += 1;
        self.stations[n as usize].handle_link(now, &event);
        self.service(n, None);
    }

    /// Ends connection `slot`: closed by `closer`, or lost (`None`). Queued values go.
    fn gatt_close(&mut self, slot: u32, closer: Option<u32>) {
        let Some(c) = self.gatt_remove(slot) else {
            return;
        };
        let sides = [
            (c.central, c.central_id),
            (c.peripheral.unwrap_or(c.central), c.peripheral_id),
        ];
        for (node, conn) in sides {
            if c.detached == Some(node) || (c.peripheral.is_none() && node == c.central) {
                continue;
            }
            let reason = match closer {
                None => DisconnectReason::LinkLoss,
                Some(x) if x == node => DisconnectReason::Local,
                Some(_) => DisconnectReason::Remote,
            };
            self.gatt_notify(node, LinkEvent::Disconnected { conn, reason });
        }
    }

    fn gatt_insert(&mut self, c: SimConn) -> u32 {
        self.gatt.conns.push(Some(c));
        (self.gatt.conns.len() - 1) as u32
    }

    fn gatt_remove(&mut self, slot: u32) -> Option<SimConn> {
        let c = self.gatt.conns.get_mut(slot as usize)?.take()?;
        self.gatt.by_node.remove(&(c.central, c.central_id.0));
        if let Some(p) = c.peripheral {
            if c.phase == Phase::Open {
                self.gatt.by_node.remove(&(p, c.peripheral_id.0));
            }
        }
        Some(c)
    }

    /// Queues the connection's next event if none is.
    fn gatt_schedule(&mut self, slot: u32) {
        let now = self.now;
        let Some(c) = self.gatt.conn_mut(slot) else {
            return;
        };
        if c.scheduled || c.phase != Phase::Open {
            return;
        }
        c.scheduled = true;
        // An idle connection's empty events got through while its link held (a topology
        // change schedules at once): the last one is the anchor before now.
        let since = now.saturating_since(c.last_ok).as_micros();
        c.last_ok += Duration::from_micros(since / c.interval * c.interval);
        let at = c.last_ok + Duration::from_micros(c.interval);
        self.push(at, Ev::GattConnEvent { conn: slot });
    }

    /// After an event: the next one, while something is to be sent, exchanged or closed, or
    /// the link is failing.
    fn gatt_schedule_after(&mut self, slot: u32, failing: bool) {
        let Some(c) = self.gatt.conn_mut(slot) else {
            return;
        };
        if c.scheduled {
            return;
        }
        let busy = !c.up.is_empty()
            || !c.down.is_empty()
            || c.pending_mtu.is_some()
            || c.closing.is_some();
        if busy || failing {
            c.scheduled = true;
            let at = self.now + Duration::from_micros(c.interval);
            self.push(at, Ev::GattConnEvent { conn: slot });
        }
    }

    /// Whether both directions between `a` and `b` exist and are above sensitivity.
    fn gatt_link_alive(&mut self, a: u32, b: u32) -> bool {
        self.ensure_topology();
        let sensitivity = self.config.sensitivity_dbm;
        let ok = |nb: Option<super::topology::Neighbour>| {
            nb.is_some_and(|nb| {
                !(nb.flags & EXPLICIT != 0 && f64::from(nb.rssi) < sensitivity)
                    && nb.loss != u32::MAX
            })
        };
        ok(self.topology.find(a, b)) && ok(self.topology.find(b, a))
    }

    /// The worse direction's loss (fixed point, as the topology keeps it).
    fn gatt_loss(&self, a: u32, b: u32) -> u32 {
        let l = |x: u32, y: u32| self.topology.find(x, y).map_or(u32::MAX, |nb| nb.loss);
        l(a, b).max(l(b, a))
    }

    fn draw_interval(&mut self) -> u64 {
        let lo = self
            .config
            .gatt
            .interval_min
            .as_micros()
            .max(INTERVAL_UNIT_US)
            / INTERVAL_UNIT_US;
        let hi = (self.config.gatt.interval_max.as_micros() / INTERVAL_UNIT_US).max(lo);
        (lo + self.rng.next_u64() % (hi - lo + 1)) * INTERVAL_UNIT_US
    }

    /// The next connection number of node `n` not in use.
    fn next_conn_id(&mut self, n: u32) -> ConnId {
        loop {
            let st = &mut self.states[n as usize];
            st.next_conn = st.next_conn.wrapping_add(1).max(1);
            let id = st.next_conn;
            if !self.gatt.by_node.contains_key(&(n, id)) {
                return ConnId(id);
            }
        }
    }
}
