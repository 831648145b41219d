//! The bearer under one provisioning session (Mesh Protocol 1.1 §5.2): a PB-ADV link
//! ([`PbAdvLink`], §5.2.1) or a GATT connection to the Mesh Provisioning Service (PB-GATT,
//! §5.2.2), behind one interface so that the [`Provisioner`](super::Provisioner) and the
//! [`Device`](super::Device) run their sessions over either.
//!
//! PB-GATT has no link layer (§5.2.2): the connection is the link, opened by the runtime that
//! connected; each Provisioning PDU travels in Proxy PDUs of Message Type 0x03 (§6.3.1),
//! segmented to the ATT MTU and reassembled (§6.3.2). Closing the link is disconnecting: the
//! runtime closes the connection when the session reports the link closed.

use std::collections::VecDeque;

use super::pbadv::{CloseCause, LinkEvent, PbAdvLink};
use crate::ble::proxy::ProxyConn;
use crate::ble::wire::pbadv::LinkCloseReason;
use crate::ble::wire::proxy::MessageType;
use crate::frame::ConnId;
use crate::time::Instant;

/// What a PB-GATT link dropped (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GattLinkCounters {
    /// Malformed Proxy PDUs or SAR violations (§6.3.1, §6.3.2).
    pub malformed: u32,
    /// Complete messages of another type than Provisioning PDU (§6.3.1), ignored.
    pub other_type: u32,
    /// Segmented messages not completed within the SAR timeout (§6.3.2).
    pub sar_timeouts: u32,
}

/// One PB-GATT link: a GATT connection with its Proxy SAR.
#[derive(Debug)]
pub struct GattLink {
    device_uuid: [u8; 16],
    conn: ProxyConn,
    closing: Option<LinkCloseReason>,
    closed: bool,
    events: VecDeque<LinkEvent>,
    counters: GattLinkCounters,
}

impl GattLink {
    /// The connection `conn` (ATT MTU `mtu`) to the device `device_uuid` is up and its
    /// notifications enabled: the link is open at once (§5.2.2).
    pub fn open(conn: ConnId, mtu: u16, device_uuid: [u8; 16]) -> Self {
        GattLink {
            device_uuid,
            conn: ProxyConn::new(conn, mtu),
            closing: None,
            closed: false,
            events: VecDeque::from([LinkEvent::Opened]),
            counters: GattLinkCounters::default(),
        }
    }

    /// The connection.
    pub fn conn(&self) -> ConnId {
        self.conn.id()
    }

    /// What the link dropped.
    pub fn counters(&self) -> GattLinkCounters {
        self.counters
    }

    /// One ATT value from the peer. Returns whether anything happened.
    pub fn handle_value(&mut self, now: Instant, bytes: &[u8]) -> bool {
        if self.closed {
            return false;
        }
        match self.conn.receive(now, bytes) {
            Ok(Some((MessageType::ProvisioningPdu, pdu))) => {
                self.events.push_back(LinkEvent::Received(pdu));
                true
            }
            Ok(Some(_)) => {
                self.counters.other_type = self.counters.other_type.saturating_add(1);
                false
            }
            Ok(None) => false,
            Err(_) => {
                self.counters.malformed = self.counters.malformed.saturating_add(1);
                false
            }
        }
    }

    /// The connection was lost (or closed by the peer): the link is closed.
    pub fn disconnected(&mut self) {
        self.finish(LinkCloseReason::Fail, CloseCause::Peer);
    }

    fn finish(&mut self, reason: LinkCloseReason, cause: CloseCause) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(LinkEvent::Closed { reason, cause });
        }
    }
}

/// The bearer of one provisioning link.
#[derive(Debug)]
pub enum Link {
    /// PB-ADV (§5.2.1).
    Adv(PbAdvLink),
    /// PB-GATT (§5.2.2).
    Gatt(GattLink),
}

impl Link {
    /// The device at the other end (or this device).
    pub fn device_uuid(&self) -> [u8; 16] {
        match self {
            Link::Adv(l) => l.device_uuid(),
            Link::Gatt(l) => l.device_uuid,
        }
    }

    /// The Link ID of a PB-ADV link.
    pub fn link_id(&self) -> Option<u32> {
        match self {
            Link::Adv(l) => Some(l.link_id()),
            Link::Gatt(_) => None,
        }
    }

    /// The connection of a PB-GATT link.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            Link::Adv(_) => None,
            Link::Gatt(l) => Some(l.conn()),
        }
    }

    /// Whether the link is closed (its Closed event is out).
    pub fn is_closed(&self) -> bool {
        match self {
            Link::Adv(l) => l.is_closed(),
            Link::Gatt(l) => l.closed,
        }
    }

    /// Whether the link is closing or closed.
    pub fn is_closing(&self) -> bool {
        match self {
            Link::Adv(l) => l.is_closing(),
            Link::Gatt(l) => l.closing.is_some() || l.closed,
        }
    }

    /// Sends a Provisioning PDU.
    pub fn send(&mut self, pdu: Vec<u8>) {
        match self {
            Link::Adv(l) => l.send(pdu),
            Link::Gatt(l) => {
                if !l.closed && !l.conn.send(MessageType::ProvisioningPdu, &pdu) {
                    // A session has one PDU in flight: a full queue is a broken peer.
                    l.finish(LinkCloseReason::Fail, CloseCause::Local);
                }
            }
        }
    }

    /// Closes the link with `reason`: PB-ADV sends Link Close (§5.3.1.4.3); PB-GATT closes
    /// once what is queued has been handed out, and the runtime disconnects.
    pub fn close(&mut self, now: Instant, reason: LinkCloseReason) {
        match self {
            Link::Adv(l) => l.close(now, reason),
            Link::Gatt(l) => {
                l.closing = Some(reason);
                if !l.conn.has_output() {
                    l.finish(reason, CloseCause::Local);
                }
            }
        }
    }

    /// A new ATT MTU on a PB-GATT link's connection.
    pub fn set_mtu(&mut self, mtu: u16) {
        if let Link::Gatt(l) = self {
            l.conn.set_mtu(mtu);
        }
    }

    /// The next link event.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        match self {
            Link::Adv(l) => l.poll_event(),
            Link::Gatt(l) => l.events.pop_front(),
        }
    }

    /// The next PB-ADV PDU to advertise (PB-ADV links only).
    pub fn poll_pb_adv(&mut self, now: Instant) -> Option<Vec<u8>> {
        match self {
            Link::Adv(l) => l.poll_transmit(now),
            Link::Gatt(_) => None,
        }
    }

    /// The next ATT value to write or notify (PB-GATT links only), at most `mtu - 3` octets.
    pub fn poll_value(&mut self) -> Option<(ConnId, Vec<u8>)> {
        match self {
            Link::Adv(_) => None,
            Link::Gatt(l) => {
                let v = l.conn.poll_value()?;
                if let (Some(reason), false) = (l.closing, l.conn.has_output()) {
                    l.finish(reason, CloseCause::Local);
                }
                Some((l.conn.id(), v))
            }
        }
    }

    /// When the link's timers next need to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Link::Adv(l) => l.poll_timeout(),
            Link::Gatt(l) => l.conn.poll_timeout(),
        }
    }

    /// Runs the link's timers: a PB-GATT message past its SAR timeout closes the link
    /// (§6.3.2: the receiver disconnects).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            Link::Adv(l) => l.handle_timeout(now),
            Link::Gatt(l) => {
                if l.conn.sar_expired(now) {
                    l.counters.sar_timeouts = l.counters.sar_timeouts.saturating_add(1);
                    l.finish(LinkCloseReason::Fail, CloseCause::LinkTimeout);
                }
            }
        }
    }
}
