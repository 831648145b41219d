//! One node of a scenario on the simulated air: a provisioned node, a device that becomes one,
//! or the provisioner node (weft-mesh's stations).

use super::*;

/// What a scenario station reports: its node's events, its Provisioner's, and the device side
/// of provisioning.
#[derive(Debug, Clone)]
pub enum StationEvent {
    /// The mesh node's event.
    Node(Event),
    /// The Provisioner's event (the scenario's provisioner node).
    Provisioner(ProvisionerEvent),
    /// The unprovisioned device's event.
    Device(DeviceEvent),
    /// The device was provisioned and is now a node at `address`.
    Provisioned {
        /// Its Device UUID.
        uuid: [u8; 16],
        /// Its primary address.
        address: u16,
    },
    /// The provisioner node's Configuration Client: an answer, a failure, or a node done.
    Config(ConfigClientEvent),
    /// A proxy client's connection: connected, closed, its filter's status.
    Proxy(ProxyClientEvent),
    /// A node looking for a proxy ([`ScenarioStation::Finder`]) heard its Node Identity from
    /// this device address.
    ProxyFound([u8; 6]),
}

/// One node of a scenario on the simulated air: a provisioned [`Node`], an unprovisioned
/// device that becomes a node once provisioned ([`DeviceNode`]), or the provisioner node
/// ([`ProvisionerNode`]).
#[allow(missing_debug_implementations, clippy::large_enum_variant)]
pub enum ScenarioStation {
    Node(Node<ChaCha8Rng>),
    Device(DeviceNode<ChaCha8Rng>),
    Provisioner(ProvisionerNode<ChaCha8Rng>),
    /// A proxy client (a phone): its node's only bearer is a GATT connection to a proxy node.
    Client(ProxyClient<ChaCha8Rng>),
    /// A node finding a proxy node by its Node Identity, as `weft send --proxy` does first.
    Finder(crate::proxied::Finder),
}

impl ScenarioStation {
    /// A provisioned node.
    pub fn node(node: Node<ChaCha8Rng>) -> Self {
        ScenarioStation::Node(node)
    }

    /// Queues a Config request from this node to `node` (replacing what was still queued for
    /// it); the answer arrives as a [`StationEvent::Config`].
    pub fn config_request(
        &mut self,
        node: UnicastAddress,
        msg: ConfigMessage,
    ) -> Result<(), String> {
        match self {
            ScenarioStation::Provisioner(p) => p
                .config_request(node, msg)
                .map_err(|_| "not a Config request a status answers".into()),
            _ => Err("this node runs no Configuration Client".into()),
        }
    }

    /// The node, once provisioned.
    pub fn as_node(&self) -> Option<&Node<ChaCha8Rng>> {
        match self {
            ScenarioStation::Node(n) => Some(n),
            ScenarioStation::Device(d) => d.node(),
            ScenarioStation::Provisioner(p) => Some(p.node()),
            ScenarioStation::Client(c) => Some(c.node()),
            ScenarioStation::Finder(f) => Some(f.node()),
        }
    }

    /// The node, once provisioned, mutably.
    pub fn as_node_mut(&mut self) -> Option<&mut Node<ChaCha8Rng>> {
        match self {
            ScenarioStation::Node(n) => Some(n),
            ScenarioStation::Device(d) => d.node_mut(),
            ScenarioStation::Provisioner(p) => Some(p.node_mut()),
            ScenarioStation::Client(c) => Some(c.node_mut()),
            ScenarioStation::Finder(f) => Some(f.node_mut()),
        }
    }

    /// The Device UUID of a device still unprovisioned.
    pub fn unprovisioned_uuid(&self) -> Option<[u8; 16]> {
        match self {
            ScenarioStation::Device(d) => d.unprovisioned_uuid(),
            _ => None,
        }
    }

    /// Whether this station runs the Provisioner.
    pub fn is_provisioner(&self) -> bool {
        matches!(self, ScenarioStation::Provisioner(_))
    }

    /// Provisions `uuid` from this station's Provisioner with the next free address; returns
    /// the address, or why not.
    pub fn provision(&mut self, now: Instant, uuid: [u8; 16]) -> Result<u16, String> {
        match self {
            ScenarioStation::Provisioner(p) => p
                .provision(now, uuid, None)
                .map(|a| a.get())
                .map_err(|e| e.to_string()),
            _ => Err("this node is not the provisioner".into()),
        }
    }
}

impl weft_mesh::Station for ScenarioStation {
    type Event = StationEvent;

    fn handle_frame(&mut self, now: Instant, frame: &weft_mesh::RxFrame) {
        match self {
            ScenarioStation::Node(n) => n.handle_frame(now, frame),
            ScenarioStation::Device(d) => d.handle_frame(now, frame),
            ScenarioStation::Provisioner(p) => p.handle_frame(now, frame),
            ScenarioStation::Client(c) => c.handle_frame(now, frame),
            ScenarioStation::Finder(f) => f.handle_frame(now, frame),
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<weft_mesh::TxFrame> {
        match self {
            ScenarioStation::Node(n) => n.poll_transmit(now),
            ScenarioStation::Device(d) => d.poll_transmit(now),
            ScenarioStation::Provisioner(p) => p.poll_transmit(now),
            ScenarioStation::Client(c) => c.poll_transmit(now),
            ScenarioStation::Finder(f) => f.poll_transmit(now),
        }
    }

    fn poll_event(&mut self) -> Option<StationEvent> {
        match self {
            ScenarioStation::Node(n) => n.poll_event().map(StationEvent::Node),
            ScenarioStation::Device(d) => Some(match d.poll_event()? {
                DeviceNodeEvent::Node(e) => StationEvent::Node(e),
                DeviceNodeEvent::Device(e) => StationEvent::Device(e),
                DeviceNodeEvent::Provisioned { uuid, address } => {
                    StationEvent::Provisioned { uuid, address }
                }
            }),
            // The database and the provisioner's own outcomes are the scenario's to keep:
            // what a scenario reports comes from the Provisioner's events.
            ScenarioStation::Provisioner(p) => loop {
                match p.poll_event()? {
                    ProvisionerNodeEvent::Node(e) => return Some(StationEvent::Node(e)),
                    ProvisionerNodeEvent::Provisioner(e) => {
                        return Some(StationEvent::Provisioner(e))
                    }
                    ProvisionerNodeEvent::Config(e) => return Some(StationEvent::Config(e)),
                    _ => {}
                }
            },
            ScenarioStation::Client(c) => Some(match c.poll_event()? {
                ProxyClientEvent::Node(e) => StationEvent::Node(e),
                e => StationEvent::Proxy(e),
            }),
            ScenarioStation::Finder(f) => Some(match f.poll_event()? {
                crate::proxied::Found::Node(e) => StationEvent::Node(e),
                crate::proxied::Found::Proxy(a) => StationEvent::ProxyFound(a),
            }),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            ScenarioStation::Node(n) => n.poll_timeout(),
            ScenarioStation::Device(d) => d.poll_timeout(),
            ScenarioStation::Provisioner(p) => p.poll_timeout(),
            ScenarioStation::Client(c) => c.poll_timeout(),
            ScenarioStation::Finder(f) => f.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            ScenarioStation::Node(n) => n.handle_timeout(now),
            ScenarioStation::Device(d) => d.handle_timeout(now),
            ScenarioStation::Provisioner(p) => p.handle_timeout(now),
            ScenarioStation::Client(c) => c.handle_timeout(now),
            ScenarioStation::Finder(f) => f.handle_timeout(now),
        }
    }

    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        match self {
            ScenarioStation::Node(n) => n.handle_link(now, event),
            ScenarioStation::Device(d) => d.handle_link(now, event),
            ScenarioStation::Provisioner(p) => p.handle_link(now, event),
            ScenarioStation::Client(c) => c.handle_link(now, event),
            ScenarioStation::Finder(f) => f.node_mut().handle_link(now, event),
        }
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        match self {
            ScenarioStation::Node(n) => n.poll_link(),
            ScenarioStation::Device(d) => d.poll_link(),
            ScenarioStation::Provisioner(p) => p.poll_link(),
            ScenarioStation::Client(c) => c.poll_link(),
            ScenarioStation::Finder(f) => f.node_mut().poll_link(),
        }
    }

    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        match self {
            ScenarioStation::Node(n) => n.connectable(now),
            ScenarioStation::Device(d) => d.connectable(now),
            ScenarioStation::Provisioner(p) => p.connectable(now),
            ScenarioStation::Client(c) => c.connectable(now),
            ScenarioStation::Finder(f) => f.node_mut().connectable(now),
        }
    }
}
