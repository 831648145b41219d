//! The provisioner node and devices on a hand-driven air: every frame reaches every other
//! station at once.

use super::provisioner::assign;
use super::*;
use crate::ble::address::{Address, IvIndex, UnicastAddress};
use crate::ble::cdb::{Cdb, CdbNode};
use crate::ble::foundation::config::client::{ConfigClientEvent, ConfigurePlan};
use crate::ble::foundation::config::ConfigMessage;
use crate::ble::models::KeyIndex;
use crate::ble::node::tests::{node, TestRng, APP_KEY};
use crate::ble::node::{ElementState, ModelId, ModelState, NodeState};
use crate::ble::prov::{Device, DeviceConfig};
use crate::ble::wire::beacon::OobInformation;
use crate::ble::wire::prov::{Algorithms, Capabilities};
use crate::frame::{RxFrame, Station};
use crate::time::{Duration, Instant};

/// The provisioner at 0001 and the devices.
struct Air {
    prov: ProvisionerNode<TestRng>,
    devices: Vec<DeviceNode<TestRng>>,
    now: Instant,
    events: Vec<ProvisionerNodeEvent>,
    /// ATT values carried on GATT connections (all at ATT MTU 23 here).
    gatt_values: usize,
}

fn uuid(i: u8) -> [u8; 16] {
    [0xd0 | i; 16]
}

fn device(i: u8, elements: u8) -> DeviceNode<TestRng> {
    let caps = Capabilities::no_oob(
        elements,
        Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
    );
    let d = Device::new(
        TestRng(100 + u64::from(i)),
        uuid(i),
        OobInformation(0),
        None,
        DeviceConfig::new(caps),
    );
    let element = |models: Vec<ModelState>| ElementState {
        location: 0x0100,
        models,
    };
    let mut els = vec![element(vec![
        ModelState::new(ModelId::CONFIG_SERVER),
        ModelState::new(ModelId::GENERIC_ONOFF_SERVER),
    ])];
    for _ in 1..elements {
        els.push(element(vec![ModelState::new(
            ModelId::GENERIC_ONOFF_SERVER,
        )]));
    }
    let profile = DeviceProfile {
        elements: els,
        relay: false,
        default_ttl: None,
    };
    DeviceNode::new(d, profile, TestRng(200 + u64::from(i)))
}

/// A network whose database holds the provisioner (0001) and a node at each of `others`.
fn air(others: &[(u16, usize)], devices: Vec<DeviceNode<TestRng>>) -> Air {
    let me = node(0x0001, false);
    let mut cdb = Cdb::new([0xaa; 16], "test", "");
    cdb.nodes.push(CdbNode::from_node_state(me.state(), None));
    for &(a, n) in others {
        let st = NodeState::new(
            [a as u8; 16],
            UnicastAddress::new(a).unwrap(),
            [a as u8; 16],
            [0x11; 16],
            IvIndex(0x100),
            vec![
                ElementState {
                    location: 0,
                    models: Vec::new()
                };
                n
            ],
        );
        cdb.nodes.push(CdbNode::from_node_state(&st, None));
    }
    Air {
        prov: ProvisionerNode::new(me, TestRng(7), cdb),
        devices,
        now: Instant::ZERO,
        events: Vec::new(),
        gatt_values: 0,
    }
}

fn plan() -> ConfigurePlan {
    ConfigurePlan {
        net_key_index: KeyIndex::from_bits(0),
        app_key_index: KeyIndex::from_bits(0),
        app_key: APP_KEY,
        subscribe: None,
        publish: None,
    }
}

impl Air {
    /// Runs every station until the next timer, frames delivered at once.
    fn run_step(&mut self) {
        let now = self.now;
        self.run_until(now + Duration::from_millis(1), true);
    }

    /// Runs every station for `secs` virtual seconds, frames delivered at once.
    fn run(&mut self, secs: u64) {
        let until = self.now + Duration::from_secs(secs);
        self.run_until(until, false);
    }

    fn run_until(&mut self, until: Instant, one: bool) {
        loop {
            let now = self.now;
            if self.prov.poll_timeout().is_some_and(|t| t <= now) {
                self.prov.handle_timeout(now);
            }
            for d in &mut self.devices {
                if d.poll_timeout().is_some_and(|t| t <= now) {
                    d.handle_timeout(now);
                }
            }
            let mut progress = true;
            while progress {
                progress = false;
                while let Some(e) = self.prov.poll_event() {
                    self.events.push(e);
                }
                for d in &mut self.devices {
                    while d.poll_event().is_some() {}
                }
                let mut frames = Vec::new();
                while let Some(f) = self.prov.poll_transmit(now) {
                    frames.push((usize::MAX, f));
                }
                for (i, d) in self.devices.iter_mut().enumerate() {
                    while let Some(f) = d.poll_transmit(now) {
                        frames.push((i, f));
                    }
                }
                for (from, f) in frames {
                    progress = true;
                    if matches!(f.bearer, crate::frame::Bearer::Gatt(_)) {
                        // ATT_MTU 23: 20-octet values at most (MshPRT §6.3.2).
                        assert!(f.bytes.len() <= 20, "{f:?}");
                        self.gatt_values += 1;
                    }
                    let rx = RxFrame {
                        lqi: None,
                        bearer: f.bearer,
                        channel: 37,
                        rssi: Some(-50),
                        adv_address: None,
                        timestamp: now,
                        bytes: f.bytes,
                    };
                    if from != usize::MAX {
                        self.prov.handle_frame(now, &rx);
                    }
                    for (i, d) in self.devices.iter_mut().enumerate() {
                        if i != from {
                            d.handle_frame(now, &rx);
                        }
                    }
                }
            }
            let next = std::iter::once(self.prov.poll_timeout())
                .chain(self.devices.iter().map(|d| d.poll_timeout()))
                .flatten()
                .filter(|t| *t > now)
                .min();
            match next {
                Some(t) if one => {
                    self.now = t;
                    return;
                }
                Some(t) if t <= until => self.now = t,
                _ => break,
            }
        }
        self.now = until;
    }

    fn provisioned(&self) -> Vec<([u8; 16], u16)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ProvisionerNodeEvent::Provisioned {
                    device_uuid,
                    provisioned,
                } => Some((*device_uuid, provisioned.data.unicast_address.get())),
                _ => None,
            })
            .collect()
    }

    fn failed(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ProvisionerNodeEvent::Failed { reason, .. } => Some(reason.to_string()),
                _ => None,
            })
            .collect()
    }
}

/// Two devices heard, provisioned one link at a time, recorded, given to the node's keys and
/// configured (application key 0 bound to their OnOff Servers).
#[test]
fn provisions_and_configures_two_devices_it_hears() {
    let mut a = air(&[], vec![device(1, 1), device(2, 1)]);
    a.prov.set_auto(Some(AutoProvision {
        parallel: 1,
        until: None,
        retry: false,
    }));
    a.prov.set_configure(Some(plan()));
    a.run(120);
    assert!(a.failed().is_empty(), "{:?}", a.failed());
    let mut got = a.provisioned();
    got.sort();
    assert_eq!(got, vec![(uuid(1), 0x0002), (uuid(2), 0x0003)]);
    for (u, addr) in got {
        let n = a.prov.cdb().node_by_uuid(&u).expect("recorded");
        assert_eq!(n.unicast_address.0, addr);
        assert!(n.config_complete, "configured: {n:?}");
        assert_eq!(n.app_keys.len(), 1);
        let onoff = n.elements[0]
            .models
            .iter()
            .find(|m| m.model_id.0 == ModelId::GENERIC_ONOFF_SERVER)
            .expect("composition recorded");
        assert_eq!(onoff.bind, vec![0]);
        assert!(a
            .prov
            .node()
            .state()
            .remote_dev_keys
            .iter()
            .any(|(x, k)| x.get() == addr && Some(*k) == n.device_key.map(|d| d.0)));
    }
    for d in &a.devices {
        assert!(d.unprovisioned_uuid().is_none());
        let st = d.node().expect("a node now").state();
        assert_eq!(st.app_keys.len(), 1);
    }
    assert!(a
        .events
        .iter()
        .any(|e| matches!(e, ProvisionerNodeEvent::DatabaseChanged)));
    assert!(a.events.iter().any(|e| matches!(
        e,
        ProvisionerNodeEvent::Config(ConfigClientEvent::Done { .. })
    )));
}

/// A device of three elements whose first address is taken meanwhile by another device of the
/// run gets the next range free for all three.
#[test]
fn a_multi_element_device_gets_a_free_range() {
    let mut a = air(&[(0x0004, 1)], vec![device(1, 3), device(2, 1)]);
    let now = a.now;
    // Started with one address each: 0005 and 0006.
    assert_eq!(a.prov.provision(now, uuid(1), None).unwrap().get(), 0x0005);
    assert_eq!(a.prov.provision(now, uuid(2), None).unwrap().get(), 0x0006);
    a.run(60);
    assert!(a.failed().is_empty(), "{:?}", a.failed());
    let mut got = a.provisioned();
    got.sort();
    assert_eq!(got, vec![(uuid(1), 0x0007), (uuid(2), 0x0006)]);
    assert!(a.events.iter().any(|e| matches!(
        e,
        ProvisionerNodeEvent::AddressAssigned { device_uuid, address, elements: 3 }
            if *device_uuid == uuid(1) && address.get() == 0x0007
    )));
    let n = a.prov.cdb().node_by_uuid(&uuid(1)).unwrap();
    assert_eq!(n.elements.len(), 3);
    let d = a.devices[0].node().unwrap();
    assert_eq!(d.primary().get(), 0x0007);
    assert_eq!(d.state().elements.len(), 3);
    // Asked for at 0003, the same device's range would run over node 0004: refused.
    let mut b = air(&[(0x0004, 1)], vec![device(1, 3)]);
    let now = b.now;
    b.prov
        .provision(now, uuid(1), UnicastAddress::new(0x0003))
        .unwrap();
    b.run(60);
    assert!(b.provisioned().is_empty());
    let failed = b.failed();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("node 0004 holds"), "{failed:?}");
    assert!(b.prov.cdb().node_by_uuid(&uuid(1)).is_none());
}

/// An address asked for that a node holds is refused at once; a free one is taken.
#[test]
fn a_taken_address_is_refused() {
    let mut a = air(&[(0x0002, 2)], vec![device(1, 1)]);
    let now = a.now;
    let e = a
        .prov
        .provision(now, uuid(1), UnicastAddress::new(0x0003))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("node 0002, whose 2 elements hold 0002-0003"),
        "{e}"
    );
    let e = a
        .prov
        .provision(now, uuid(1), UnicastAddress::new(0x0001))
        .unwrap_err();
    assert!(matches!(e, ProvisionRefused::Address(_)), "{e}");
    assert_eq!(
        a.prov
            .provision(now, uuid(1), UnicastAddress::new(0x0010))
            .unwrap()
            .get(),
        0x0010
    );
    assert_eq!(
        a.prov.provision(now, uuid(1), None),
        Err(ProvisionRefused::AlreadyProvisioning)
    );
    a.run(60);
    assert_eq!(a.provisioned(), vec![(uuid(1), 0x0010)]);
    assert_eq!(
        a.prov.provision(a.now, uuid(1), None),
        Err(ProvisionRefused::AlreadyNode)
    );
}

/// A Config request to a node provisioned: its answer goes into the database.
#[test]
fn config_answers_are_recorded() {
    let mut a = air(&[], vec![device(1, 1)]);
    let now = a.now;
    a.prov.provision(now, uuid(1), None).unwrap();
    a.run(60);
    assert_eq!(a.provisioned(), vec![(uuid(1), 0x0002)]);
    let n = a.prov.cdb().node_by_address(0x0002).unwrap();
    assert!(!n.config_complete, "no plan: left as provisioned");
    assert_eq!(n.default_ttl, None);
    let target = UnicastAddress::new(0x0002).unwrap();
    a.events.clear();
    a.prov
        .config_request(target, ConfigMessage::DefaultTtlSet { ttl: 9 })
        .unwrap();
    // A status is no request.
    assert!(a
        .prov
        .config_request(target, ConfigMessage::DefaultTtlStatus { ttl: 9 })
        .is_err());
    a.run(10);
    assert!(a.events.iter().any(|e| matches!(
        e,
        ProvisionerNodeEvent::Config(ConfigClientEvent::Answered {
            status: ConfigMessage::DefaultTtlStatus { ttl: 9 },
            ..
        })
    )));
    assert!(a
        .events
        .iter()
        .any(|e| matches!(e, ProvisionerNodeEvent::DatabaseChanged)));
    let n = a.prov.cdb().node_by_address(0x0002).unwrap();
    assert_eq!(n.default_ttl, Some(9));
    assert_eq!(a.devices[0].node().unwrap().state().default_ttl, 9);
    // An application message goes out from the node as well.
    let sent = a.prov.node_mut().handle_command(
        a.now,
        crate::ble::node::Command::send(
            Address(0x0002),
            crate::ble::node::KeyRef::Dev,
            ConfigMessage::DefaultTtlGet.to_access(),
        ),
    );
    assert!(sent);
}

/// A device's range is chosen once its element count is known: never over a node's elements
/// or another device of the same run.
#[test]
fn a_device_gets_a_range_nobody_holds() {
    let a = air(&[(0x0001, 3)], Vec::new());
    let mut c = a.prov.cdb().clone();
    c.nodes.retain(|n| n.elements.len() == 3);
    let mut given = Vec::new();
    assert_eq!(assign(&c, 0, None, 2, given.clone()), Ok(0x0004));
    given.push((0x0004, 2));
    assert_eq!(assign(&c, 0, None, 1, given.clone()), Ok(0x0006));
    // Asked for: taken by the node's third element, or by this run's device.
    let e = assign(&c, 0, Some(0x0003), 1, given.clone()).unwrap_err();
    assert!(
        e.contains("node 0001, whose 3 elements hold 0001-0003"),
        "{e}"
    );
    assert_eq!(assign(&c, 0, Some(0x0010), 1, given.clone()), Ok(0x0010));
    let e = assign(&c, 0, Some(0x0005), 1, given.clone()).unwrap_err();
    assert!(e.contains("provisioned as 0004 in this run"), "{e}");
    // A 4-element device asked for at 0x7FFE runs past 7FFF.
    let e = assign(&c, 0, Some(0x7ffe), 4, given).unwrap_err();
    assert!(e.contains("do not fit"), "{e}");
}

/// A device just provisioned serves as a node at once, while its device half still finishes
/// the link: the Provisioner's first Config request, sent right after Provisioning Complete,
/// is answered without a retry, and the device half retires after its linger.
#[test]
fn a_device_just_provisioned_answers_at_once_while_its_link_finishes() {
    let mut a = air(&[], vec![device(1, 1)]);
    a.prov.set_auto(Some(AutoProvision {
        parallel: 1,
        until: None,
        retry: false,
    }));
    // Step until the device is a node, and no further.
    while a.devices[0].node().is_none() {
        assert!(
            a.now < Instant::ZERO + Duration::from_secs(30),
            "never provisioned"
        );
        a.run_step();
    }
    let d = a.devices.pop().unwrap();
    let mut serving = d
        .into_serving(a.now, Duration::from_millis(1500))
        .expect("provisioned");
    assert!(serving.finishing());
    let addr = serving.node().primary();
    a.prov
        .config_request(addr, ConfigMessage::CompositionDataGet { page: 0 })
        .unwrap();
    let start = a.now;
    let mut answered = None;
    while a.now < start + Duration::from_secs(3) && answered.is_none() {
        let now = a.now;
        for t in [a.prov.poll_timeout(), serving.poll_timeout()]
            .into_iter()
            .flatten()
        {
            if t <= now {
                a.prov.handle_timeout(now);
                serving.handle_timeout(now);
            }
        }
        let rx = |f: crate::frame::TxFrame| RxFrame {
            lqi: None,
            bearer: f.bearer,
            channel: 37,
            rssi: Some(-50),
            adv_address: None,
            timestamp: now,
            bytes: f.bytes,
        };
        while let Some(f) = a.prov.poll_transmit(now) {
            serving.handle_frame(now, &rx(f));
        }
        while let Some(f) = serving.poll_transmit(now) {
            a.prov.handle_frame(now, &rx(f));
        }
        while serving.poll_event().is_some() {}
        while let Some(e) = a.prov.poll_event() {
            if let ProvisionerNodeEvent::Config(ConfigClientEvent::Answered { .. }) = e {
                answered = Some(now);
            }
        }
        a.now = now + Duration::from_millis(5);
    }
    let at = answered.expect("the Composition Data Get answered");
    // Config requests are retried after DEFAULT_RETRY (2 s): this came before any retry.
    assert!(at - start < Duration::from_millis(1000), "{:?}", at - start);
    assert!(serving.finishing(), "still finishing its link then");
    serving.handle_timeout(start + Duration::from_secs(2));
    assert!(!serving.finishing(), "retired after its linger");
}

/// The provisioner node is quiet only when no link is open or closing and the node has
/// nothing queued: not while it provisions, and again once the links are closed.
#[test]
fn quiet_once_links_are_closed_and_nothing_is_queued() {
    let mut a = air(&[], vec![device(1, 1)]);
    assert!(a.prov.quiet(), "nothing started");
    a.prov.set_auto(Some(AutoProvision {
        parallel: 1,
        until: None,
        retry: false,
    }));
    let mut seen_busy = false;
    while a.provisioned().is_empty() {
        assert!(
            a.now < Instant::ZERO + Duration::from_secs(30),
            "never provisioned"
        );
        a.run_step();
        seen_busy |= !a.prov.quiet();
    }
    assert!(seen_busy, "a link was open meanwhile");
    assert!(!a.prov.quiet(), "the link still closes");
    a.run(10);
    assert!(a.prov.quiet());
}

/// PB-GATT (MshPRT §5.2.2) at the smallest ATT MTU: the provisioner node provisions a device
/// over a GATT connection, the runtime disconnects when the link closes, and the node the
/// device became is configured over the advertising bearer.
#[test]
fn provisions_over_pb_gatt_then_configures_over_advertising() {
    use crate::ble::prov::ProvisionerEvent;
    use crate::frame::ConnId;
    let conn = ConnId(3);
    let mut a = air(&[], vec![device(1, 1)]);
    a.prov.set_configure(Some(plan()));
    let d = &mut a.devices[0];
    // The device advertises the Mesh Provisioning Service with its UUID until connected.
    let ad = d
        .device_mut()
        .provisioning_advertising()
        .expect("advertises");
    assert!(ad.windows(16).any(|w| w == uuid(1)));
    assert!(d.gatt_connected(a.now, conn, 23));
    assert!(d.device_mut().provisioning_advertising().is_none());
    assert!(
        !d.gatt_connected(a.now, ConnId(4), 23),
        "one link at a time"
    );
    let now = a.now;
    assert_eq!(
        a.prov.provision_gatt(now, uuid(1), conn, 23, None),
        Ok(UnicastAddress::new(2).unwrap())
    );
    a.run(30);
    let closed = a.events.iter().any(|e| {
        matches!(
            e,
            ProvisionerNodeEvent::Provisioner(ProvisionerEvent::LinkClosed { .. })
        )
    });
    assert!(closed, "the provisioner closes the link once complete");
    let values = a.gatt_values;
    assert!(values > 10, "segmented values went both ways: {values}");
    assert_eq!(a.provisioned(), vec![(uuid(1), 0x0002)]);
    assert!(a.failed().is_empty(), "{:?}", a.failed());
    // The runtime closes the connection; the node goes on over the advertising bearer.
    let now = a.now;
    a.devices[0].gatt_disconnected(now, conn);
    a.prov.gatt_disconnected(now, conn);
    a.run(60);
    let n = a.prov.cdb().node_by_uuid(&uuid(1)).expect("recorded");
    assert!(n.config_complete, "configured over advertising: {n:?}");
    assert_eq!(
        a.devices[0].node().expect("a node").state().app_keys.len(),
        1
    );
}

/// A PB-GATT connection lost mid-provisioning fails the attempt on both sides; the device
/// advertises again.
#[test]
fn a_pb_gatt_connection_lost_fails_the_attempt() {
    use crate::frame::ConnId;
    let conn = ConnId(5);
    let mut a = air(&[], vec![device(1, 1)]);
    assert!(a.devices[0].gatt_connected(a.now, conn, 23));
    let now = a.now;
    a.prov.provision_gatt(now, uuid(1), conn, 23, None).unwrap();
    // The Invite reaches the device and its Capabilities come back; then the connection
    // drops.
    let now = a.now;
    for _ in 0..2 {
        while let Some(f) = a.prov.poll_transmit(now) {
            a.devices[0].handle_frame(now, &rx_of(f, now));
        }
        while let Some(f) = a.devices[0].poll_transmit(now) {
            a.prov.handle_frame(now, &rx_of(f, now));
        }
    }
    a.prov.gatt_disconnected(now, conn);
    a.devices[0].gatt_disconnected(now, conn);
    a.run(1);
    assert!(a.provisioned().is_empty());
    assert_eq!(a.failed().len(), 1, "{:?}", a.events);
    assert!(a.devices[0]
        .device_mut()
        .provisioning_advertising()
        .is_some());
}

fn rx_of(f: crate::frame::TxFrame, now: Instant) -> RxFrame {
    RxFrame {
        lqi: None,
        bearer: f.bearer,
        channel: 0,
        rssi: None,
        adv_address: None,
        timestamp: now,
        bytes: f.bytes,
    }
}

/// A PB-GATT provisioning waiting for the device's address learns it from the device's
/// connectable Mesh Provisioning Service advertisement (MshPRT §7.1.2.2.1) as from its beacon,
/// and asks to connect there; another device's advertisement teaches it nothing.
#[test]
fn a_pb_gatt_device_is_found_by_its_provisioning_service_data() {
    use crate::frame::{GattService, LinkRequest};
    let mut a = air(&[], vec![device(1, 1), device(2, 1)]);
    a.prov.provision_gatt_heard(uuid(1), None).unwrap();
    assert_eq!(a.prov.poll_link(), None);
    let now = a.now;
    for (i, address) in [(1usize, [2u8; 6]), (0, [1u8; 6])] {
        let adv = a.devices[i]
            .device_mut()
            .provisioning_advertising()
            .expect("unprovisioned");
        let mut f = rx_of(
            crate::frame::TxFrame {
                bearer: crate::frame::Bearer::Advertising,
                bytes: adv,
            },
            now,
        );
        f.adv_address = Some(address);
        a.prov.handle_frame(now, &f);
    }
    assert_eq!(
        a.prov.poll_link(),
        Some(LinkRequest::Connect {
            peer: [1; 6],
            service: GattService::Provisioning
        })
    );
}
