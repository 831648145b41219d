//! Provisioning over PB-ADV on the simulated air (MshPRT §5.2.1, §5.4): one [`Provisioner`]
//! and one unprovisioned [`Device`] per case, as stations of a
//! [`weft_radio::sim::Simulator`] joined by a link that loses 10 % of the PDUs, for every
//! authentication method (No OOB, Static OOB, each Output and Input OOB action) and both
//! algorithms. The test plays the user: it reads the value one side outputs (`OobOutput`)
//! and, once the other side asks for it (`OobInputNeeded`), types it in there.
//!
//! Virtual time stays short (a few seconds per case) so the file runs in seconds in debug.

use rand_chacha::ChaCha8Rng;
use weft_mesh::ble::prov::{
    AuthPolicy, Device, DeviceConfig, DeviceEvent, Failure, LinkTiming, OobValue, Provisioned,
    Provisioner, ProvisionerConfig, ProvisionerEvent, SessionEvent,
};
use weft_mesh::ble::wire::beacon::{Flags, OobInformation};
use weft_mesh::ble::wire::prov::{
    Algorithm, Algorithms, AuthMethod, Capabilities, ErrorCode, InputOobAction, OutputOobAction,
    ProvisioningData,
};
use weft_mesh::ble::{IvIndex, UnicastAddress};
use weft_mesh::{Duration, Instant, RxFrame, Station, TxFrame};
use weft_radio::sim::{station_rng, Link, Placement, SimConfig, SimEvent, Simulator};

const UUID: [u8; 16] = *b"weft hil device!";
const STATIC_OOB: [u8; 16] = *b"weft static oob!";
/// Loss probability of the link between the two stations.
const LOSS: f64 = 0.10;
/// Virtual time a case may take before it counts as stuck.
const LIMIT: Duration = Duration::from_secs(60);
/// The test looks at the events this often (virtual time).
const STEP: Duration = Duration::from_millis(20);

/// Either side as one simulator station type.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // two stations per simulator, never copied
enum ProvStation {
    Provisioner(Provisioner<ChaCha8Rng>),
    Device(Device<ChaCha8Rng>),
}

#[derive(Debug)]
enum ProvEvent {
    Provisioner(ProvisionerEvent),
    Device(DeviceEvent),
}

impl Station for ProvStation {
    type Event = ProvEvent;
    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match self {
            ProvStation::Provisioner(p) => p.handle_frame(now, frame),
            ProvStation::Device(d) => d.handle_frame(now, frame),
        }
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        match self {
            ProvStation::Provisioner(p) => p.poll_transmit(now),
            ProvStation::Device(d) => d.poll_transmit(now),
        }
    }
    fn poll_event(&mut self) -> Option<ProvEvent> {
        match self {
            ProvStation::Provisioner(p) => Station::poll_event(p).map(ProvEvent::Provisioner),
            ProvStation::Device(d) => Station::poll_event(d).map(ProvEvent::Device),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            ProvStation::Provisioner(p) => Station::poll_timeout(p),
            ProvStation::Device(d) => Station::poll_timeout(d),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            ProvStation::Provisioner(p) => Station::handle_timeout(p, now),
            ProvStation::Device(d) => Station::handle_timeout(d, now),
        }
    }
}

/// The Provisioning Data every case sends (§5.4.2.5).
fn data() -> ProvisioningData {
    ProvisioningData {
        net_key: [0x5a; 16],
        key_index: 0x0a1,
        flags: Flags(0x02),
        iv_index: IvIndex(0x1234_5678),
        unicast_address: UnicastAddress::new(0x0123).unwrap(),
    }
}

/// The capabilities of a device offering exactly `auth` under `alg` (§5.4.1.2).
fn caps_for(alg: Algorithm, auth: AuthMethod) -> Capabilities {
    Capabilities::offering(2, Algorithms(1 << alg as u16), auth)
}

/// No OOB, Static OOB, the five Output OOB actions and the four Input OOB actions, with
/// sizes spread over 1..=8.
fn all_methods() -> Vec<AuthMethod> {
    let mut v = vec![AuthMethod::NoOob, AuthMethod::StaticOob];
    let outputs = [
        OutputOobAction::Blink,
        OutputOobAction::Beep,
        OutputOobAction::Vibrate,
        OutputOobAction::OutputNumeric,
        OutputOobAction::OutputAlphanumeric,
    ];
    for (i, action) in outputs.into_iter().enumerate() {
        let size = [1, 2, 3, 6, 8][i];
        v.push(AuthMethod::OutputOob { action, size });
    }
    let inputs = [
        InputOobAction::Push,
        InputOobAction::Twist,
        InputOobAction::InputNumeric,
        InputOobAction::InputAlphanumeric,
    ];
    for (i, action) in inputs.into_iter().enumerate() {
        let size = [2, 1, 8, 5][i];
        v.push(AuthMethod::InputOob { action, size });
    }
    v
}

/// How a case ended on each side.
#[derive(Debug)]
struct Outcome {
    prov: Option<Result<Provisioned, Failure>>,
    dev: Option<Result<Provisioned, Failure>>,
    /// The OOB values the user relayed: (from the device to the Provisioner?, value).
    relayed: Vec<(bool, OobValue)>,
    /// Virtual time when both sides had finished.
    at: Instant,
    /// PDUs the link lost.
    lost: u64,
}

/// One Provisioner and one device over a lossy link: provisions with `alg` and `auth`, the
/// Provisioner knowing `prov_static` and the device holding `dev_static`.
fn run_case(
    seed: u64,
    alg: Algorithm,
    auth: AuthMethod,
    prov_static: Option<&[u8]>,
    dev_static: Option<&[u8]>,
) -> Outcome {
    let mut sim = Simulator::new(
        SimConfig {
            medium_events: false,
            ..SimConfig::default()
        },
        seed,
    );
    // Faster PB-ADV retransmissions than the default keep the lossy cases short; the link
    // and transaction timeouts stay as specified (§5.3.2).
    let timing = LinkTiming {
        retransmit_min: Duration::from_millis(100),
        retransmit_jitter: Duration::from_millis(100),
        ..LinkTiming::default()
    };
    let p = sim.add_node(
        ProvStation::Provisioner(Provisioner::with_timing(station_rng(seed, 0), timing)),
        Placement::Unplaced,
    );
    let mut dcfg = DeviceConfig::new(caps_for(alg, auth));
    dcfg.static_oob = dev_static.map(<[u8]>::to_vec);
    let device = Device::new(station_rng(seed, 1), UUID, OobInformation(0), None, dcfg)
        .with_timing(timing, Duration::from_secs(1));
    let d = sim.add_node(ProvStation::Device(device), Placement::Unplaced);
    sim.set_link(
        p,
        d,
        Link {
            rssi_dbm: -60,
            loss: LOSS,
        },
    );

    let mut pcfg = ProvisionerConfig::new(data());
    pcfg.algorithm = Some(alg);
    pcfg.auth = AuthPolicy::Fixed(auth);
    pcfg.static_oob = prov_static.map(<[u8]>::to_vec);
    sim.schedule(Instant::ZERO, p, move |s, now| {
        if let ProvStation::Provisioner(pr) = s {
            pr.provision(now, UUID, pcfg).expect("provisioning starts");
        }
    });

    let mut out = Outcome {
        prov: None,
        dev: None,
        relayed: Vec::new(),
        at: Instant::ZERO,
        lost: 0,
    };
    // What the user has read on one side and not yet typed in on the other, and whether
    // that other side asks for it: [to the Provisioner, to the device].
    let mut shown: [Option<OobValue>; 2] = [None, None];
    let mut asked = [false; 2];
    let mut t = Instant::ZERO;
    while (out.prov.is_none() || out.dev.is_none()) && t < Instant::ZERO + LIMIT {
        t += STEP;
        sim.run_until(t);
        let events: Vec<_> = sim.drain_events().collect();
        for ev in events {
            let SimEvent::Station { at, event, .. } = ev else {
                continue;
            };
            let (side, e) = match event {
                ProvEvent::Provisioner(ProvisionerEvent::Session { device_uuid, event }) => {
                    assert_eq!(device_uuid, UUID);
                    (0, event)
                }
                ProvEvent::Device(DeviceEvent::Session(event)) => (1, event),
                _ => continue,
            };
            match e {
                // The value is shown on `side`; the user carries it to the other one.
                SessionEvent::OobOutput { value, .. } => {
                    out.relayed.push((side == 1, value.clone()));
                    shown[1 - side] = Some(value);
                }
                SessionEvent::OobInputNeeded { .. } => asked[side] = true,
                SessionEvent::Complete(x) => {
                    let slot = if side == 0 {
                        &mut out.prov
                    } else {
                        &mut out.dev
                    };
                    assert!(slot.is_none(), "finished twice");
                    *slot = Some(Ok(x));
                    out.at = at;
                }
                SessionEvent::Failed(f) => {
                    let slot = if side == 0 {
                        &mut out.prov
                    } else {
                        &mut out.dev
                    };
                    assert!(slot.is_none(), "finished twice");
                    *slot = Some(Err(f));
                    out.at = at;
                }
                _ => {}
            }
        }
        // The user types the value in once the side asks for it.
        for side in 0..2 {
            if !asked[side] {
                continue;
            }
            let Some(value) = shown[side].take() else {
                continue;
            };
            asked[side] = false;
            let node = if side == 0 { p } else { d };
            sim.schedule(t, node, move |s, now| match s {
                ProvStation::Provisioner(pr) => pr.input_oob(now, UUID, value).unwrap(),
                ProvStation::Device(dv) => dv.input_oob(now, value).unwrap(),
            });
        }
    }
    out.lost = sim.stats().dropped.loss;
    out
}

/// Every method under `alg` completes on both sides with the same DevKey and the
/// Provisioning Data sent.
fn every_method(alg: Algorithm, seed: u64) {
    let mut lost = 0;
    for (i, auth) in all_methods().into_iter().enumerate() {
        let st = (auth == AuthMethod::StaticOob).then_some(&STATIC_OOB[..]);
        let o = run_case(seed + i as u64, alg, auth, st, st);
        let p = match &o.prov {
            Some(Ok(p)) => p,
            r => panic!("{alg:?} {auth:?}: Provisioner {r:?}"),
        };
        let dv = match &o.dev {
            Some(Ok(dv)) => dv,
            r => panic!("{alg:?} {auth:?}: device {r:?}"),
        };
        assert_eq!(p.device_key, dv.device_key, "{alg:?} {auth:?}");
        assert_eq!(p, dv, "{alg:?} {auth:?}");
        assert_eq!(dv.data, data());
        assert_eq!(dv.algorithm, alg);
        assert_eq!(dv.authentication, auth);
        assert_eq!(dv.number_of_elements, 2);
        assert!(!dv.public_key_oob);
        // Exactly one value was relayed, in the direction of the method (§5.4.2.4.3-4).
        let expected: Vec<bool> = match auth {
            AuthMethod::OutputOob { .. } => vec![true],
            AuthMethod::InputOob { .. } => vec![false],
            _ => vec![],
        };
        let dirs: Vec<bool> = o.relayed.iter().map(|(from_dev, _)| *from_dev).collect();
        assert_eq!(dirs, expected, "{alg:?} {auth:?}");
        assert!(o.at < Instant::ZERO + LIMIT);
        lost += o.lost;
    }
    // The link did lose PDUs on the way.
    assert!(lost > 0);
}

#[test]
fn every_oob_method_cmac_aes128() {
    every_method(Algorithm::P256CmacAes128, 100);
}

#[test]
fn every_oob_method_hmac_sha256() {
    every_method(Algorithm::P256HmacSha256, 200);
}

#[test]
fn wrong_static_oob_fails_confirmation() {
    for (i, alg) in [Algorithm::P256CmacAes128, Algorithm::P256HmacSha256]
        .into_iter()
        .enumerate()
    {
        let o = run_case(
            300 + i as u64,
            alg,
            AuthMethod::StaticOob,
            Some(b"not the device's"),
            Some(&STATIC_OOB),
        );
        // The device finds ConfirmationProvisioner wrong and sends Provisioning Failed with
        // Confirmation Failed (§5.4.2.4, §5.4.4); the Provisioner fails on receiving it.
        assert_eq!(
            o.dev,
            Some(Err(Failure::Local(ErrorCode::ConfirmationFailed))),
            "{alg:?}"
        );
        assert_eq!(
            o.prov,
            Some(Err(Failure::Remote(ErrorCode::ConfirmationFailed))),
            "{alg:?}"
        );
    }
}
