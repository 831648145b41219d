//! The two provisioning roles over PB-ADV and PB-GATT: a [`Provisioner`] that provisions many
//! devices at once, one link and one session per Device UUID, and an unprovisioned [`Device`]
//! that sends Unprovisioned Device beacons until a Provisioner opens a link to it.
//!
//! Both speak advertising data: [`Provisioner::handle_ad`] / [`Device::handle_ad`] take one
//! AD structure (type 0x29 PB-ADV, 0x2B Mesh Beacon), `poll_ad` gives the next one to
//! advertise, and both implement [`Station`] over whole advertising payloads. Over PB-GATT
//! (§5.2.2) the runtime connects (the Provisioner to the device's Mesh Provisioning Service,
//! which the device advertises with [`Device::provisioning_advertising`]) and then tells the
//! role ([`Provisioner::provision_gatt`], [`Device::gatt_connected`]); ATT values are frames
//! on [`Bearer::Gatt`], and a link that closes is a connection the runtime closes.

use std::collections::VecDeque;

use rand_core::RngCore;

use super::link::{GattLink, Link};
use super::pbadv::{CloseCause, LinkEvent, LinkTiming, PbAdvLink};
use super::session::{DeviceConfig, Provisioned, ProvisionerConfig, Session, SessionEvent};
use super::{Failure, OobError, OobValue};
use crate::ble::wire::adv::{AdStructure, AdStructures, AD_TYPE_MESH_BEACON, AD_TYPE_PB_ADV};
use crate::ble::wire::beacon::{Beacon, OobInformation, UnprovisionedDeviceBeacon};
use crate::ble::wire::pbadv::{BearerControl, GenericProvisioningPdu, LinkCloseReason, PbAdvPdu};
use crate::ble::wire::Wire;
use crate::ble::UnicastAddress;
use crate::frame::{
    Bearer, ConnId, LinkEvent as GattEvent, LinkRequest, RxFrame, Station, TxFrame,
};
use crate::time::{Duration, Instant};

/// The default interval of Unprovisioned Device beacons.
pub const BEACON_INTERVAL: Duration = Duration::from_secs(5);

/// Why a Provisioner command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    /// A session with this Device UUID is already running.
    #[error("a provisioning session with this device is already running")]
    AlreadyProvisioning,
    /// No session with this Device UUID.
    #[error("no provisioning session with this device")]
    UnknownDevice,
    /// The OOB value was refused.
    #[error(transparent)]
    Oob(#[from] OobError),
    /// The address cannot change any more: the Provisioning Data is on its way, or the
    /// device's elements would run past 7FFF.
    #[error("the device's address can no longer change, or its elements do not fit there")]
    TooLate,
}

/// What a Provisioner reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionerEvent {
    /// An Unprovisioned Device beacon was heard (§3.10.2).
    Beacon(UnprovisionedDeviceBeacon),
    /// The link to a device is open (Link Ack received).
    LinkOpened {
        /// The device.
        device_uuid: [u8; 16],
    },
    /// Progress of a device's provisioning: OOB prompts, completion (with the DevKey) or
    /// failure.
    Session {
        /// The device.
        device_uuid: [u8; 16],
        /// What happened.
        event: SessionEvent,
    },
    /// The link to a device is closed; its session is gone.
    LinkClosed {
        /// The device.
        device_uuid: [u8; 16],
        /// The Link Close reason.
        reason: LinkCloseReason,
        /// What closed it.
        cause: CloseCause,
    },
}

#[derive(Debug)]
struct Slot {
    link: Link,
    session: Session,
}

/// A Provisioner over PB-ADV: any number of devices at once, each on its own link with a
/// distinct random Link ID and its own Provisioning Data.
#[derive(Debug)]
pub struct Provisioner<R> {
    rng: R,
    timing: LinkTiming,
    slots: Vec<Slot>,
    next: usize,
    events: VecDeque<ProvisionerEvent>,
    /// PB-GATT connections to close: links that closed on this side (§5.2.2).
    requests: VecDeque<LinkRequest>,
}

impl<R: RngCore> Provisioner<R> {
    /// A Provisioner with the default link timing.
    pub fn new(rng: R) -> Self {
        Self::with_timing(rng, LinkTiming::default())
    }

    /// A Provisioner with the given link timing.
    pub fn with_timing(rng: R, timing: LinkTiming) -> Self {
        Provisioner {
            rng,
            timing,
            slots: Vec::new(),
            next: 0,
            events: VecDeque::new(),
            requests: VecDeque::new(),
        }
    }

    /// Starts provisioning the device `device_uuid` with `config`: opens a link (Link Open
    /// until Link Ack) and runs the protocol. Returns the Link ID.
    pub fn provision(
        &mut self,
        now: Instant,
        device_uuid: [u8; 16],
        config: ProvisionerConfig,
    ) -> Result<u32, ProvisionError> {
        self.provision_with(now, device_uuid, Session::provisioner(config))
    }

    /// [`Provisioner::provision`] with a prepared session (e.g. one with pinned secrets).
    pub fn provision_with(
        &mut self,
        now: Instant,
        device_uuid: [u8; 16],
        session: Session,
    ) -> Result<u32, ProvisionError> {
        if self
            .slots
            .iter()
            .any(|s| s.link.device_uuid() == device_uuid)
        {
            return Err(ProvisionError::AlreadyProvisioning);
        }
        let link_id = loop {
            let id = self.rng.next_u32();
            if !self.slots.iter().any(|s| s.link.link_id() == Some(id)) {
                break id;
            }
        };
        let seed = self.rng.next_u64();
        let link = PbAdvLink::open(now, link_id, device_uuid, self.timing, seed);
        self.slots.push(Slot {
            link: Link::Adv(link),
            session,
        });
        Ok(link_id)
    }

    /// Starts provisioning the device `device_uuid` over PB-GATT (§5.2.2): the runtime has
    /// connected to its Mesh Provisioning Service as `conn` with ATT MTU `mtu` and enabled
    /// notifications of Mesh Provisioning Data Out. The link is open at once and the Invite
    /// goes out. When the link closes ([`ProvisionerEvent::LinkClosed`]) the runtime
    /// disconnects.
    pub fn provision_gatt(
        &mut self,
        now: Instant,
        conn: ConnId,
        mtu: u16,
        device_uuid: [u8; 16],
        session: Session,
    ) -> Result<(), ProvisionError> {
        if self
            .slots
            .iter()
            .any(|s| s.link.device_uuid() == device_uuid || s.link.conn() == Some(conn))
        {
            return Err(ProvisionError::AlreadyProvisioning);
        }
        self.slots.push(Slot {
            link: Link::Gatt(GattLink::open(conn, mtu, device_uuid)),
            session,
        });
        self.pump(now, self.slots.len() - 1);
        Ok(())
    }

    /// Whether `conn` is the connection of one of the PB-GATT links.
    pub fn has_gatt(&self, conn: ConnId) -> bool {
        self.slots.iter().any(|s| s.link.conn() == Some(conn))
    }

    /// One ATT value notified by the device on PB-GATT connection `conn`.
    pub fn handle_gatt(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        if let Some(i) = self.slots.iter().position(|s| s.link.conn() == Some(conn)) {
            if let Link::Gatt(l) = &mut self.slots[i].link {
                l.handle_value(now, bytes);
            }
            self.pump(now, i);
        }
    }

    /// PB-GATT connection `conn` was lost: its link closes, and a session not complete fails.
    pub fn gatt_disconnected(&mut self, now: Instant, conn: ConnId) {
        if let Some(i) = self.slots.iter().position(|s| s.link.conn() == Some(conn)) {
            if let Link::Gatt(l) = &mut self.slots[i].link {
                l.disconnected();
            }
            self.pump(now, i);
        }
    }

    /// The next ATT value to write on a PB-GATT connection, taking links in turn.
    pub fn poll_gatt(&mut self, now: Instant) -> Option<(ConnId, Vec<u8>)> {
        for i in 0..self.slots.len() {
            if let Some(v) = self.slots[i].link.poll_value() {
                // The last value of a closing link closes it.
                self.pump(now, i);
                return Some(v);
            }
        }
        None
    }

    /// The user's OOB value for a device (Output OOB: what the device output).
    pub fn input_oob(
        &mut self,
        now: Instant,
        device_uuid: [u8; 16],
        value: OobValue,
    ) -> Result<(), ProvisionError> {
        let i = self.index(device_uuid)?;
        self.slots[i].session.input_oob(now, value)?;
        self.pump(now, i);
        Ok(())
    }

    /// Gives the device `address` instead of the one it was started with (see
    /// [`Session::set_unicast_address`]): for a Provisioner that chooses the address once the
    /// device's Capabilities tell how many elements it has. Refused once the Provisioning
    /// Data is on its way.
    pub fn assign_address(
        &mut self,
        device_uuid: [u8; 16],
        address: UnicastAddress,
    ) -> Result<(), ProvisionError> {
        let i = self.index(device_uuid)?;
        if self.slots[i].session.set_unicast_address(address) {
            Ok(())
        } else {
            Err(ProvisionError::TooLate)
        }
    }

    /// Abandons a device's provisioning: its link closes with reason Fail.
    pub fn cancel(&mut self, now: Instant, device_uuid: [u8; 16]) -> Result<(), ProvisionError> {
        let i = self.index(device_uuid)?;
        self.slots[i]
            .session
            .abort(Failure::Unsupported("cancelled"));
        self.pump(now, i);
        Ok(())
    }

    /// The number of links open or opening.
    pub fn active(&self) -> usize {
        self.slots.len()
    }

    /// The session with a device, while it runs.
    pub fn session(&self, device_uuid: [u8; 16]) -> Option<&Session> {
        self.slots
            .iter()
            .find(|s| s.link.device_uuid() == device_uuid)
            .map(|s| &s.session)
    }

    fn index(&self, device_uuid: [u8; 16]) -> Result<usize, ProvisionError> {
        self.slots
            .iter()
            .position(|s| s.link.device_uuid() == device_uuid)
            .ok_or(ProvisionError::UnknownDevice)
    }

    /// One AD structure heard: PB-ADV PDUs go to their link, Unprovisioned Device beacons
    /// are reported; anything else is ignored.
    pub fn handle_ad(&mut self, now: Instant, ad_type: u8, data: &[u8]) {
        match ad_type {
            AD_TYPE_PB_ADV => self.handle_pb_adv(now, data),
            AD_TYPE_MESH_BEACON => {
                if let Ok(Beacon::UnprovisionedDevice(b)) = Beacon::parse(data) {
                    self.events.push_back(ProvisionerEvent::Beacon(b));
                }
            }
            _ => {}
        }
    }

    /// A PB-ADV PDU heard on the air.
    pub fn handle_pb_adv(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(pdu) = PbAdvPdu::parse(bytes) else {
            return;
        };
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.link.link_id() == Some(pdu.link_id))
        {
            if let Link::Adv(l) = &mut self.slots[i].link {
                l.handle(now, &pdu);
            }
            self.pump(now, i);
        }
    }

    /// Moves link events into sessions and session PDUs into links, closes finished links
    /// and drops closed ones.
    fn pump(&mut self, now: Instant, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let uuid = slot.link.device_uuid();
        let mut closed = false;
        loop {
            let mut progress = false;
            while let Some(e) = slot.link.poll_event() {
                progress = true;
                match e {
                    LinkEvent::Opened => {
                        self.events
                            .push_back(ProvisionerEvent::LinkOpened { device_uuid: uuid });
                        slot.session.start(now);
                    }
                    LinkEvent::Received(p) => slot.session.handle_pdu(now, &mut self.rng, &p),
                    LinkEvent::Closed { reason, cause } => {
                        slot.session.abort(link_failure(reason, cause));
                        closed = true;
                        if let (Some(conn), false) = (slot.link.conn(), cause == CloseCause::Peer) {
                            self.requests.push_back(LinkRequest::Disconnect { conn });
                        }
                        while let Some(e) = slot.session.poll_event() {
                            self.events.push_back(ProvisionerEvent::Session {
                                device_uuid: uuid,
                                event: e,
                            });
                        }
                        self.events.push_back(ProvisionerEvent::LinkClosed {
                            device_uuid: uuid,
                            reason,
                            cause,
                        });
                    }
                }
            }
            while let Some(p) = slot.session.poll_pdu() {
                progress = true;
                slot.link.send(p);
            }
            while let Some(e) = slot.session.poll_event() {
                progress = true;
                self.events.push_back(ProvisionerEvent::Session {
                    device_uuid: uuid,
                    event: e,
                });
            }
            if let Some(r) = slot.session.result() {
                if !slot.link.is_closing() {
                    // §5.4.2.5: the Provisioner closes the link when provisioning completes;
                    // §5.4.4: on an error it closes the link with reason Fail.
                    let reason = match r {
                        Ok(_) => LinkCloseReason::Success,
                        Err(Failure::ProtocolTimeout) => LinkCloseReason::Timeout,
                        Err(_) => LinkCloseReason::Fail,
                    };
                    slot.link.close(now, reason);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        if closed {
            self.slots.remove(i);
        }
    }

    /// The next PB-ADV PDU to advertise, taking links in turn.
    pub fn poll_pb_adv(&mut self, now: Instant) -> Option<Vec<u8>> {
        let n = self.slots.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(b) = self.slots[i].link.poll_pb_adv(now) {
                self.next = (i + 1) % n.max(1);
                // A final Link Close may have closed the link.
                self.pump(now, i);
                return Some(b);
            }
        }
        None
    }

    /// The next AD structure to advertise.
    pub fn poll_ad(&mut self, now: Instant) -> Option<AdStructure> {
        self.poll_pb_adv(now).map(|b| AdStructure {
            ad_type: AD_TYPE_PB_ADV,
            data: b,
        })
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ProvisionerEvent> {
        self.events.pop_front()
    }

    /// When [`Provisioner::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flat_map(|s| [s.link.poll_timeout(), s.session.poll_timeout()])
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = self.slots.len();
        while i > 0 {
            i -= 1;
            self.slots[i].session.handle_timeout(now);
            self.slots[i].link.handle_timeout(now);
            self.pump(now, i);
        }
    }
}

fn link_failure(reason: LinkCloseReason, cause: CloseCause) -> Failure {
    match cause {
        CloseCause::LinkTimeout => Failure::LinkTimeout,
        CloseCause::TransactionTimeout => Failure::TransactionTimeout,
        CloseCause::Peer | CloseCause::Local => Failure::LinkClosed(reason),
    }
}

impl<R: RngCore> Station for Provisioner<R> {
    type Event = ProvisionerEvent;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match frame.bearer {
            Bearer::Advertising => {
                for ad in AdStructures::new(&frame.bytes).flatten() {
                    self.handle_ad(now, ad.ad_type, ad.data);
                }
            }
            Bearer::Gatt(conn) => self.handle_gatt(now, conn, &frame.bytes),
            Bearer::Ieee802154 => {}
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        if let Some((conn, bytes)) = self.poll_gatt(now) {
            return Some(TxFrame {
                bearer: Bearer::Gatt(conn),
                bytes,
            });
        }
        self.poll_ad(now).map(|ad| TxFrame {
            bearer: Bearer::Advertising,
            bytes: ad.to_vec(),
        })
    }

    fn poll_event(&mut self) -> Option<ProvisionerEvent> {
        Provisioner::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Provisioner::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Provisioner::handle_timeout(self, now)
    }

    /// A PB-GATT connection's MTU or end; a connection opens a link only through
    /// [`Provisioner::provision_gatt`] (the runtime's Central knows which device it is).
    fn handle_link(&mut self, now: Instant, event: &GattEvent) {
        match *event {
            GattEvent::MtuChanged { conn, mtu } => {
                if let Some(s) = self.slots.iter_mut().find(|s| s.link.conn() == Some(conn)) {
                    s.link.set_mtu(mtu);
                }
            }
            GattEvent::Disconnected { conn, .. } => {
                self.requests
                    .retain(|r| *r != LinkRequest::Disconnect { conn });
                self.gatt_disconnected(now, conn);
            }
            GattEvent::Connected { .. } | GattEvent::ConnectFailed { .. } => {}
        }
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        self.requests.pop_front()
    }
}

/// What an unprovisioned device reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A Provisioner opened a link to this device.
    LinkOpened {
        /// Its Link ID.
        link_id: u32,
    },
    /// A Provisioner connected over PB-GATT (§5.2.2) on connection `conn`.
    GattLinkOpened {
        /// The connection.
        conn: ConnId,
    },
    /// Progress of the provisioning: attention, OOB output or prompt, completion (with the
    /// Provisioning Data and DevKey) or failure.
    Session(SessionEvent),
    /// The link closed. Unless provisioning completed, the device beacons again.
    LinkClosed {
        /// The Link Close reason.
        reason: LinkCloseReason,
        /// What closed it.
        cause: CloseCause,
    },
}

/// An unprovisioned device on PB-ADV: beacons (§3.10.2) until a link opens, accepts one link
/// at a time, and runs the device side of the protocol. Once provisioned it stops.
#[derive(Debug)]
pub struct Device<R> {
    rng: R,
    beacon: UnprovisionedDeviceBeacon,
    config: DeviceConfig,
    timing: LinkTiming,
    beacon_interval: Duration,
    next_beacon: Option<Instant>,
    link: Option<Link>,
    session: Option<Session>,
    pinned: Option<([u8; 32], Vec<u8>)>,
    provisioned: Option<Provisioned>,
    events: VecDeque<DeviceEvent>,
    /// The PB-GATT connection to close: the link closed on this side.
    requests: VecDeque<LinkRequest>,
}

impl<R: RngCore> Device<R> {
    /// A device with this UUID, beacon OOB information and optional URI Hash, offering
    /// `config`. It beacons every [`BEACON_INTERVAL`], starting at the first poll.
    pub fn new(
        rng: R,
        device_uuid: [u8; 16],
        oob_information: OobInformation,
        uri_hash: Option<[u8; 4]>,
        config: DeviceConfig,
    ) -> Self {
        Device {
            rng,
            beacon: UnprovisionedDeviceBeacon {
                device_uuid,
                oob_information,
                uri_hash,
            },
            config,
            timing: LinkTiming::default(),
            beacon_interval: BEACON_INTERVAL,
            next_beacon: None,
            link: None,
            session: None,
            pinned: None,
            provisioned: None,
            events: VecDeque::new(),
            requests: VecDeque::new(),
        }
    }

    /// Uses this link timing and beacon interval.
    pub fn with_timing(mut self, timing: LinkTiming, beacon_interval: Duration) -> Self {
        self.timing = timing;
        self.beacon_interval = beacon_interval;
        self
    }

    /// Pins the ephemeral private key and Random of the next sessions (tests).
    pub fn with_secrets(mut self, private_key: [u8; 32], random: Vec<u8>) -> Self {
        self.pinned = Some((private_key, random));
        self
    }

    /// The Device UUID.
    pub fn device_uuid(&self) -> [u8; 16] {
        self.beacon.device_uuid
    }

    /// The provisioning result, once provisioned.
    pub fn provisioned(&self) -> Option<&Provisioned> {
        self.provisioned.as_ref()
    }

    /// The running session, while a link is open.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The user's OOB value (Input OOB: what the Provisioner output).
    pub fn input_oob(&mut self, now: Instant, value: OobValue) -> Result<(), OobError> {
        let s = self.session.as_mut().ok_or(OobError::NotAwaited)?;
        s.input_oob(now, value)?;
        self.pump(now);
        Ok(())
    }

    /// One AD structure heard: PB-ADV PDUs only.
    pub fn handle_ad(&mut self, now: Instant, ad_type: u8, data: &[u8]) {
        if ad_type == AD_TYPE_PB_ADV {
            self.handle_pb_adv(now, data);
        }
    }

    /// A PB-ADV PDU heard on the air.
    pub fn handle_pb_adv(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(pdu) = PbAdvPdu::parse(bytes) else {
            return;
        };
        if let Some(link) = self.link.as_mut() {
            // One link at a time: Link Open for another Link ID is ignored while open, and
            // PB-ADV while a PB-GATT link is.
            if let Link::Adv(link) = link {
                if link.handle(now, &pdu) {
                    self.pump(now);
                }
            }
            return;
        }
        if self.provisioned.is_some() {
            return;
        }
        if let GenericProvisioningPdu::BearerControl(BearerControl::LinkOpen { device_uuid }) =
            pdu.gpdu
        {
            if device_uuid == self.beacon.device_uuid {
                let seed = self.rng.next_u64();
                self.link = Some(Link::Adv(PbAdvLink::accept(
                    now,
                    pdu.link_id,
                    device_uuid,
                    self.timing,
                    seed,
                )));
                self.start_session(now);
                self.events.push_back(DeviceEvent::LinkOpened {
                    link_id: pdu.link_id,
                });
                self.pump(now);
            }
        }
    }

    fn start_session(&mut self, now: Instant) {
        let mut s = Session::device(self.config.clone());
        if let Some((k, r)) = &self.pinned {
            if let Ok(p) = Session::device(self.config.clone()).with_secrets(k, r) {
                s = p;
            }
        }
        s.start(now);
        self.session = Some(s);
    }

    /// The advertising data of the Mesh Provisioning Service (§7.1.2.2.1: Device UUID and OOB
    /// Information), connectable, for a Provisioner that provisions over PB-GATT; `None` once
    /// provisioned or while a link is open.
    pub fn provisioning_advertising(&self) -> Option<Vec<u8>> {
        if self.provisioned.is_some() || self.link.is_some() {
            return None;
        }
        Some(
            crate::ble::wire::adv::ProvisioningServiceData {
                device_uuid: self.beacon.device_uuid,
                oob_information: self.beacon.oob_information.0,
            }
            .advertising_data(),
        )
    }

    /// A Provisioner connected to the Mesh Provisioning Service as `conn` with ATT MTU `mtu`
    /// and enabled notifications of Mesh Provisioning Data Out (§5.2.2, §7.1.3): the link is
    /// open and the device waits for the Invite. Returns false (the runtime disconnects) when
    /// a link is already open or the device is provisioned.
    pub fn gatt_connected(&mut self, now: Instant, conn: ConnId, mtu: u16) -> bool {
        if self.link.is_some() || self.provisioned.is_some() {
            return false;
        }
        let mut link = Link::Gatt(GattLink::open(conn, mtu, self.beacon.device_uuid));
        // The link is open at once: nothing to wait for.
        while link.poll_event().is_some() {}
        self.link = Some(link);
        self.start_session(now);
        self.events.push_back(DeviceEvent::GattLinkOpened { conn });
        self.pump(now);
        true
    }

    /// Whether `conn` is the connection of the PB-GATT link.
    pub fn has_gatt(&self, conn: ConnId) -> bool {
        self.link.as_ref().and_then(Link::conn) == Some(conn)
    }

    /// One ATT value written by the Provisioner on Mesh Provisioning Data In.
    pub fn handle_gatt(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        if let Some(Link::Gatt(l)) = self.link.as_mut() {
            if l.conn() == conn && l.handle_value(now, bytes) {
                self.pump(now);
            }
        }
    }

    /// The PB-GATT connection closed (the Provisioner disconnects when provisioning ends,
    /// §5.2.2): the link is closed; a device not provisioned advertises again.
    pub fn gatt_disconnected(&mut self, now: Instant, conn: ConnId) {
        if let Some(Link::Gatt(l)) = self.link.as_mut() {
            if l.conn() == conn {
                l.disconnected();
                self.pump(now);
            }
        }
    }

    /// The next ATT value to notify on the PB-GATT connection.
    pub fn poll_gatt(&mut self, now: Instant) -> Option<(ConnId, Vec<u8>)> {
        let v = self.link.as_mut()?.poll_value()?;
        self.pump(now);
        Some(v)
    }

    fn pump(&mut self, now: Instant) {
        let (Some(link), Some(session)) = (self.link.as_mut(), self.session.as_mut()) else {
            return;
        };
        let mut closed = None;
        loop {
            let mut progress = false;
            while let Some(e) = link.poll_event() {
                progress = true;
                match e {
                    LinkEvent::Opened => {}
                    LinkEvent::Received(p) => session.handle_pdu(now, &mut self.rng, &p),
                    LinkEvent::Closed { reason, cause } => {
                        session.abort(link_failure(reason, cause));
                        closed = Some((reason, cause));
                        if let (Some(conn), false) = (link.conn(), cause == CloseCause::Peer) {
                            self.requests.push_back(LinkRequest::Disconnect { conn });
                        }
                    }
                }
            }
            while let Some(p) = session.poll_pdu() {
                progress = true;
                link.send(p);
            }
            while let Some(e) = session.poll_event() {
                progress = true;
                if let SessionEvent::Complete(p) = &e {
                    self.provisioned = Some(p.clone());
                }
                self.events.push_back(DeviceEvent::Session(e));
            }
            if !progress {
                break;
            }
        }
        if let Some((reason, cause)) = closed {
            self.events
                .push_back(DeviceEvent::LinkClosed { reason, cause });
            self.link = None;
            self.session = None;
            self.next_beacon = Some(now);
        }
    }

    /// The next AD structure to advertise: PB-ADV PDUs of the link, or a beacon when due.
    pub fn poll_ad(&mut self, now: Instant) -> Option<AdStructure> {
        if let Some(link) = self.link.as_mut() {
            let b = link.poll_pb_adv(now);
            if link.is_closed() {
                self.pump(now);
            }
            return b.map(|data| AdStructure {
                ad_type: AD_TYPE_PB_ADV,
                data,
            });
        }
        if self.provisioned.is_some() {
            return None;
        }
        if self.next_beacon.is_none_or(|t| t <= now) {
            self.next_beacon = Some(now + self.beacon_interval);
            return Some(AdStructure {
                ad_type: AD_TYPE_MESH_BEACON,
                data: self.beacon.to_vec(),
            });
        }
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DeviceEvent> {
        self.events.pop_front()
    }

    /// When [`Device::handle_timeout`] (or a poll) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(link) = &self.link {
            let s = self.session.as_ref().and_then(Session::poll_timeout);
            return [link.poll_timeout(), s].into_iter().flatten().min();
        }
        if self.provisioned.is_some() {
            return None;
        }
        Some(self.next_beacon.unwrap_or_default())
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(s) = self.session.as_mut() {
            s.handle_timeout(now);
        }
        if let Some(l) = self.link.as_mut() {
            l.handle_timeout(now);
        }
        self.pump(now);
        // A device whose session failed on a timeout drops the link itself.
        if self
            .session
            .as_ref()
            .is_some_and(|s| matches!(s.result(), Some(Err(Failure::ProtocolTimeout))))
        {
            if let Some(l) = self.link.as_mut() {
                l.close(now, LinkCloseReason::Timeout);
            }
        }
    }
}

impl<R: RngCore> Station for Device<R> {
    type Event = DeviceEvent;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match frame.bearer {
            Bearer::Advertising => {
                for ad in AdStructures::new(&frame.bytes).flatten() {
                    self.handle_ad(now, ad.ad_type, ad.data);
                }
            }
            Bearer::Gatt(conn) => self.handle_gatt(now, conn, &frame.bytes),
            Bearer::Ieee802154 => {}
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        if let Some((conn, bytes)) = self.poll_gatt(now) {
            return Some(TxFrame {
                bearer: Bearer::Gatt(conn),
                bytes,
            });
        }
        self.poll_ad(now).map(|ad| TxFrame {
            bearer: Bearer::Advertising,
            bytes: ad.to_vec(),
        })
    }

    fn poll_event(&mut self) -> Option<DeviceEvent> {
        Device::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Device::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Device::handle_timeout(self, now)
    }

    /// A Provisioner connecting to the Mesh Provisioning Service opens the PB-GATT link
    /// ([`Device::gatt_connected`]); any other connection is refused.
    fn handle_link(&mut self, now: Instant, event: &GattEvent) {
        use crate::frame::{GattRole, GattService};
        match *event {
            GattEvent::Connected {
                conn,
                mtu,
                service: GattService::Provisioning,
                role: GattRole::Peripheral,
                ..
            } => {
                if !self.gatt_connected(now, conn, mtu) {
                    self.requests.push_back(LinkRequest::Disconnect { conn });
                }
            }
            GattEvent::Connected { conn, .. } => {
                self.requests.push_back(LinkRequest::Disconnect { conn })
            }
            GattEvent::MtuChanged { conn, mtu } => {
                if let Some(l) = self.link.as_mut().filter(|l| l.conn() == Some(conn)) {
                    l.set_mtu(mtu);
                }
            }
            GattEvent::Disconnected { conn, .. } => {
                self.requests
                    .retain(|r| *r != LinkRequest::Disconnect { conn });
                self.gatt_disconnected(now, conn);
            }
            GattEvent::ConnectFailed { .. } => {}
        }
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        self.requests.pop_front()
    }

    fn connectable(&mut self, _now: Instant) -> Option<crate::frame::Connectable> {
        self.provisioning_advertising()
            .map(|adv_data| crate::frame::Connectable {
                service: crate::frame::GattService::Provisioning,
                adv_data,
            })
    }
}
