//! An unprovisioned device that becomes a node: a [`Device`] beaconing until a Provisioner
//! adds it (MshPRT §5), then the [`Node`] its Provisioning Data makes, with the elements its
//! profile says.

use std::collections::VecDeque;

use rand_core::RngCore;

use crate::ble::node::{ElementState, Event, Node, NodeState};
use crate::ble::prov::{Device, DeviceEvent, SessionEvent};
use crate::frame::{
    Bearer, ConnId, Connectable, GattService, LinkEvent, LinkRequest, RxFrame, Station, TxFrame,
};
use crate::time::{Duration, Instant};

/// What the node a device becomes hosts, and how it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceProfile {
    /// Its elements, models unbound and unsubscribed (a Configuration Client does that).
    pub elements: Vec<ElementState>,
    /// The Relay feature (MshPRT §4.2.8).
    pub relay: bool,
    /// The Default TTL (MshPRT §4.2.7), if not the default.
    pub default_ttl: Option<u8>,
}

/// What a [`DeviceNode`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceNodeEvent {
    /// The node's event, once provisioned.
    Node(Event),
    /// The device's event: links, attention, OOB, completion.
    Device(DeviceEvent),
    /// The device was provisioned and is a node now: persist its state ([`DeviceNode::node`]).
    Provisioned {
        /// Its Device UUID.
        uuid: [u8; 16],
        /// Its primary address.
        address: u16,
    },
}

/// An unprovisioned device that becomes a node once provisioned. Frames go to both halves: a
/// device just provisioned still finishes its link (the Complete PDU, Link Close).
#[derive(Debug)]
pub struct DeviceNode<R> {
    device: Device<R>,
    profile: DeviceProfile,
    /// The node's randomness, until the node exists.
    node_rng: Option<R>,
    node: Option<Node<R>>,
    events: VecDeque<DeviceNodeEvent>,
    /// Proxy connections refused before the node exists.
    requests: VecDeque<LinkRequest>,
}

impl<R: RngCore> DeviceNode<R> {
    /// `device`, which becomes a node hosting `profile` that draws from `node_rng`.
    pub fn new(device: Device<R>, profile: DeviceProfile, node_rng: R) -> Self {
        DeviceNode {
            device,
            profile,
            node_rng: Some(node_rng),
            node: None,
            events: VecDeque::new(),
            requests: VecDeque::new(),
        }
    }

    /// The device half (OOB input, its UUID).
    pub fn device_mut(&mut self) -> &mut Device<R> {
        &mut self.device
    }

    /// The Device UUID while still unprovisioned.
    pub fn unprovisioned_uuid(&self) -> Option<[u8; 16]> {
        self.node.is_none().then(|| self.device.device_uuid())
    }

    /// A Provisioner connected over PB-GATT (MshPRT §5.2.2; see [`Device::gatt_connected`]).
    pub fn gatt_connected(&mut self, now: Instant, conn: ConnId, mtu: u16) -> bool {
        let ok = self.device.gatt_connected(now, conn, mtu);
        self.pump();
        ok
    }

    /// The PB-GATT connection closed (see [`Device::gatt_disconnected`]).
    pub fn gatt_disconnected(&mut self, now: Instant, conn: ConnId) {
        self.device.gatt_disconnected(now, conn);
        self.pump();
    }

    /// The node, once provisioned.
    pub fn node(&self) -> Option<&Node<R>> {
        self.node.as_ref()
    }

    /// The node, once provisioned, mutably.
    pub fn node_mut(&mut self) -> Option<&mut Node<R>> {
        self.node.as_mut()
    }

    /// Once provisioned, the node that serves from now on, with the device half still
    /// finishing its link (its Provisioning Complete's acknowledgment, Link Close, MshPRT
    /// §5.3.1.4) until `now + linger`; `None` while not provisioned.
    pub fn into_serving(self, now: Instant, linger: Duration) -> Option<ServingNode<R>> {
        let node = self.node?;
        Some(ServingNode {
            node,
            finishing: Some((self.device, now + linger)),
        })
    }

    fn pump(&mut self) {
        let mut became = None;
        while let Some(e) = self.device.poll_event() {
            if let DeviceEvent::Session(SessionEvent::Complete(done)) = &e {
                if self.node.is_none() {
                    became = Some(done.clone());
                }
            }
            self.events.push_back(DeviceNodeEvent::Device(e));
        }
        let Some(done) = became else { return };
        if let Some(rng) = self.node_rng.take() {
            let uuid = self.device.device_uuid();
            let mut st = NodeState::from_provisioned(uuid, &done, self.profile.elements.clone());
            st.relay = self.profile.relay;
            if let Some(t) = self.profile.default_ttl {
                st.default_ttl = t;
            }
            self.node = Some(Node::new(st, rng));
            self.events.push_back(DeviceNodeEvent::Provisioned {
                uuid,
                address: done.data.unicast_address.get(),
            });
        }
    }
}

impl<R: RngCore> Station for DeviceNode<R> {
    type Event = DeviceNodeEvent;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        // A PB-GATT link's values go to the device half only; other connections to the node.
        let to_device = !matches!(frame.bearer, Bearer::Gatt(c) if !self.device.has_gatt(c));
        if let Some(n) = self.node.as_mut() {
            if !matches!(frame.bearer, Bearer::Gatt(c) if self.device.has_gatt(c)) {
                n.handle_frame(now, frame);
            }
        }
        if to_device {
            self.device.handle_frame(now, frame);
        }
        self.pump();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        let f = self
            .device
            .poll_transmit(now)
            .or_else(|| self.node.as_mut().and_then(|n| n.poll_transmit(now)));
        self.pump();
        f
    }

    fn poll_event(&mut self) -> Option<DeviceNodeEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.node.as_mut()?.poll_event().map(DeviceNodeEvent::Node)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.node.as_ref().and_then(|n| n.poll_timeout()),
            self.device.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(n) = self.node.as_mut() {
            n.handle_timeout(now);
        }
        self.device.handle_timeout(now);
        self.pump();
    }

    /// PB-GATT connections go to the device half, proxy connections to the node (refused
    /// until there is one); MTU changes and ends to both (each knows its own connections).
    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        match (event, self.node.as_mut()) {
            (
                LinkEvent::Connected {
                    service: GattService::Proxy,
                    ..
                },
                Some(n),
            ) => n.handle_link(now, event),
            (
                LinkEvent::Connected {
                    conn,
                    service: GattService::Proxy,
                    ..
                },
                None,
            ) => self
                .requests
                .push_back(LinkRequest::Disconnect { conn: *conn }),
            (LinkEvent::Connected { .. }, _) => self.device.handle_link(now, event),
            (_, node) => {
                if let Some(n) = node {
                    n.handle_link(now, event);
                }
                self.device.handle_link(now, event);
            }
        }
        self.pump();
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        self.requests
            .pop_front()
            .or_else(|| self.device.poll_link())
            .or_else(|| self.node.as_mut().and_then(|n| n.poll_link()))
    }

    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        match self.node.as_mut() {
            Some(n) => n.connectable(now),
            None => self.device.connectable(now),
        }
    }
}

/// A provisioned node as a station: restored from its saved state, or just provisioned by a
/// [`DeviceNode`] whose device half still finishes its link for a while. Frames go to both,
/// so the node answers the Provisioner's first configuration message at once, while the
/// link's last acknowledgments still go out; only the node's events come out.
#[derive(Debug)]
pub struct ServingNode<R> {
    node: Node<R>,
    finishing: Option<(Device<R>, Instant)>,
}

impl<R: RngCore> ServingNode<R> {
    /// A node with nothing left to finish.
    pub fn new(node: Node<R>) -> Self {
        ServingNode {
            node,
            finishing: None,
        }
    }

    /// The node.
    pub fn node(&self) -> &Node<R> {
        &self.node
    }

    /// The node, mutably.
    pub fn node_mut(&mut self) -> &mut Node<R> {
        &mut self.node
    }

    /// Whether the device half is still finishing its link.
    pub fn finishing(&self) -> bool {
        self.finishing.is_some()
    }

    fn retire(&mut self, now: Instant) {
        if self
            .finishing
            .as_ref()
            .is_some_and(|(_, until)| now >= *until)
        {
            self.finishing = None;
        }
    }
}

impl<R: RngCore> Station for ServingNode<R> {
    type Event = Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        self.retire(now);
        self.node.handle_frame(now, frame);
        if let Some((device, _)) = self.finishing.as_mut() {
            device.handle_frame(now, frame);
            while device.poll_event().is_some() {}
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        self.retire(now);
        self.finishing
            .as_mut()
            .and_then(|(device, _)| device.poll_transmit(now))
            .or_else(|| self.node.poll_transmit(now))
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.node.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let finishing = self
            .finishing
            .as_ref()
            .map(|(d, until)| d.poll_timeout().map_or(*until, |t| t.min(*until)));
        [self.node.poll_timeout(), finishing]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.retire(now);
        self.node.handle_timeout(now);
        if let Some((device, _)) = self.finishing.as_mut() {
            device.handle_timeout(now);
            while device.poll_event().is_some() {}
        }
    }

    /// Proxy connections go to the node; the PB-GATT connection the device half still
    /// finishes gets its MTU change and end.
    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        self.retire(now);
        match (event, self.finishing.as_mut()) {
            (LinkEvent::Connected { .. }, _) | (_, None) => self.node.handle_link(now, event),
            (_, Some((device, _))) => {
                let conn = match event {
                    LinkEvent::MtuChanged { conn, .. } | LinkEvent::Disconnected { conn, .. } => {
                        Some(*conn)
                    }
                    _ => None,
                };
                if conn.is_some_and(|c| device.has_gatt(c)) {
                    device.handle_link(now, event);
                    while device.poll_event().is_some() {}
                } else {
                    self.node.handle_link(now, event);
                }
            }
        }
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        self.finishing
            .as_mut()
            .and_then(|(d, _)| d.poll_link())
            .or_else(|| self.node.poll_link())
    }

    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        self.node.connectable(now)
    }
}
