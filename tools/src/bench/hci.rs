//! `weft bench hci`: the HCI figures, on two controllers (emulated or real), in one process.
//!
//! 1. Provisioning and configuration of one device, end to end: a [`ProvisionerNode`] on the
//!    first radio (a fresh in-memory network, no store) and a [`DeviceNode`] with an OnOff
//!    Server on the second, each driven by [`drive`] on one tokio runtime, as `weft provision`
//!    and `weft node` do. Timed from the Provisioner's start: the PB-ADV part (to the
//!    Provisioning Complete), the link's close, the configuration (composition, application
//!    key, binding; started once the link is closed, as `weft provision` does).
//! 2. Generic OnOff Set (acknowledged) to OnOff Status, `--rounds` times: wall time from the
//!    command to the Status.
//! 3. Throughput: frames weft advertises back to back on the first radio (the time one
//!    advertising event takes, and how many of them the second radio hears); the reports per
//!    second the emulator delivers from one advertiser at the shortest legacy interval (a raw
//!    HCI connection to the first controller, counted by weft on the second); and the reports
//!    per second an [`HciRadio`] takes in from an in-process flooder over a TCP socket
//!    ([`weft_radio::hci::flood`], its own thread), without the controllers: unpaced, then at
//!    doubling rates until one drops.
//!
//! What is weft's and what is the radio's: every call into a station (frame, timer, transmit,
//! event, timeout) is timed; the rest of the wall time is waiting on timers and the radios.
//! The unpaced flood is a burst figure more than a rate: the radio's reader task and `recv`'s
//! caller share the one thread of weft's runtime, so a reader that takes a socket buffer full of
//! reports at once overflows the receive queue (`HciConfig::rx_queue`, 1024) before the caller
//! runs; the paced steps say what rate goes through whole.

use std::cell::Cell;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant as WallClock};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_mesh::ble::foundation::config::client::{ConfigClientEvent, ConfigurePlan, DEFAULT_RETRY};
use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet};
use weft_mesh::ble::models::{KeyIndex, ModelId};
use weft_mesh::ble::node::{Command, ElementState, Event, KeyRef, ModelState};
use weft_mesh::ble::prov::{Device, DeviceConfig};
use weft_mesh::ble::station::{
    DeviceNode, DeviceNodeEvent, DeviceProfile, ProvisionSettings, ProvisionerNode,
    ProvisionerNodeEvent,
};
use weft_mesh::ble::wire::access::Opcode;
use weft_mesh::ble::wire::beacon::OobInformation;
use weft_mesh::ble::wire::prov::{Algorithms, Capabilities};
use weft_mesh::ble::Address;
use weft_mesh::{Duration, Instant, RxFrame, Station, TxFrame};
use weft_radio::hci::flood::{serve_flood, Flood, FloodCounts};
use weft_radio::hci::h4::{encode, Direction, H4Decoder, PacketType};
use weft_radio::hci::{HciConfig, HciRadio};
use weft_radio::{Bearer, Radio, RadioUri};

use crate::error::{block_on, Failure};
use crate::runtime::{drive, Clock, Flow};
use crate::Exit;

/// The radios of `weft bench hci`, checked: two different HCI radios.
pub fn radios(given: &[String]) -> Result<[RadioUri; 2], Failure> {
    let usage = |why: String| Failure::new(Exit::Usage, why);
    let [a, b] = given else {
        return Err(usage(format!(
            "give two HCI radios, --radio PROVISIONER --radio DEVICE (e.g. --radio hci-tcp:127.0.0.1:9001 --radio hci-tcp:127.0.0.1:9002), not {}",
            given.len()
        )));
    };
    let hci = |s: &str| -> Result<RadioUri, Failure> {
        let u = RadioUri::from_str(s).map_err(|e| usage(e.to_string()))?;
        match u {
            RadioUri::Hci { .. }
            | RadioUri::HciTcp { .. }
            | RadioUri::HciUnix { .. }
            | RadioUri::HciUser { .. } => Ok(u),
            _ => Err(usage(format!(
                "--radio {s}: weft bench hci measures HCI radios (hci:, hci-tcp:, hci-unix:, hci-user:)"
            ))),
        }
    };
    let (a, b) = (hci(a)?, hci(b)?);
    if a == b {
        return Err(usage(format!(
            "--radio {a} is given twice: the provisioner and the device need a controller each"
        )));
    }
    Ok([a, b])
}

/// Runs the bench (see the module documentation): one JSON object.
pub fn run(radios: &[RadioUri; 2], rounds: usize, seconds: f64) -> Result<Value, Failure> {
    block_on(async {
        let opened = WallClock::now();
        let mut r1 = open(&radios[0]).await?;
        let mut r2 = open(&radios[1]).await?;
        let bring_up_s = opened.elapsed().as_secs_f64() / 2.0;
        let advertising = r1.info().map(|i| format!("{:?}", i.advertising));
        let mesh = mesh(&mut r1, &mut r2, rounds).await?;
        tracing::info!(target: "weft::bench", "provisioning and OnOff: {} {}", mesh.0, mesh.1);
        let tx = advertise_back_to_back(&mut r1, &mut r2, 50).await?;
        tracing::info!(target: "weft::bench", "advertising back to back: {tx}");
        drop(r1);
        // Bumble's tcp-server has one client at a time: the closed connection must be gone
        // there (its loss would cut the next one) before the raw one comes.
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        let emulator = emulator_delivery(&radios[0], &mut r2, seconds.max(1.0)).await?;
        drop(r2);
        tracing::info!(target: "weft::bench", "the emulator's delivery: {emulator}");
        let ingest = ingest(seconds).await?;
        Ok(json!({
            "radios": [radios[0].to_string(), radios[1].to_string()],
            "advertising": advertising,
            "bring_up_s": round(bring_up_s, 3),
            "provision": mesh.0,
            "onoff": mesh.1,
            "tx": tx,
            "emulator": emulator,
            "ingest": ingest,
        }))
    })
}

/// The text `weft bench hci` prints without --json.
pub fn describe(v: &Value) -> String {
    let p = &v["provision"];
    let o = &v["onoff"];
    let r = &o["rtt_ms"];
    let i = &v["ingest"];
    format!(
        "provisioning + configuration of one device: {} s (PB-ADV {} s, link close {} s, configuration {} s); weft's own processing {} ms, the rest timers and radios\n\
         OnOff Set -> Status, {} of {} answered: median {} ms (p10 {}, p90 {}, min {}, max {}); weft's own processing {} ms of it, {} frames on the air per round trip\n\
         one advertising event per frame ({} advertising): {} ms each back to back, {} of {} heard by the other controller\n\
         the emulator delivers {} reports/s from one advertiser every {} ms\n\
         weft's HCI radio takes in {} reports/s without drops (paced), {} reports/s unpaced with {} dropped",
        p["total_s"], p["pb_adv_s"], p["link_close_s"], p["config_s"], p["weft_ms"],
        o["answered"], o["rounds"], r["median"], r["p10"], r["p90"], r["min"], r["max"],
        o["weft_ms_median"], o["frames_median"],
        v["advertising"].as_str().unwrap_or("?"), v["tx"]["per_frame_ms"], v["tx"]["heard"], v["tx"]["frames"],
        v["emulator"]["reports_per_s"], v["emulator"]["interval_ms"],
        i["max_without_drops_per_s"], i["unpaced"]["reports_per_s"], i["unpaced"]["dropped"],
    )
}

async fn open(uri: &RadioUri) -> Result<HciRadio, Failure> {
    HciRadio::open(uri, HciConfig::default())
        .await
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A station whose every call is timed (into `busy`) and whose frames are counted.
struct Timed<S> {
    inner: S,
    busy: Rc<Cell<StdDuration>>,
    frames: Rc<Cell<u64>>,
}

impl<S> Timed<S> {
    fn new(inner: S, busy: &Rc<Cell<StdDuration>>, frames: &Rc<Cell<u64>>) -> Self {
        Timed {
            inner,
            busy: busy.clone(),
            frames: frames.clone(),
        }
    }

    fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let t = WallClock::now();
        let r = f();
        self.busy.set(self.busy.get() + t.elapsed());
        r
    }
}

impl<S: Station> Station for Timed<S> {
    type Event = S::Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        let t = WallClock::now();
        self.inner.handle_frame(now, frame);
        self.busy.set(self.busy.get() + t.elapsed());
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        let t = WallClock::now();
        let f = self.inner.poll_transmit(now);
        self.busy.set(self.busy.get() + t.elapsed());
        if f.is_some() {
            self.frames.set(self.frames.get() + 1);
        }
        f
    }

    fn poll_event(&mut self) -> Option<S::Event> {
        let t = WallClock::now();
        let e = self.inner.poll_event();
        self.busy.set(self.busy.get() + t.elapsed());
        e
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.time(|| self.inner.poll_timeout())
    }

    fn handle_timeout(&mut self, now: Instant) {
        let t = WallClock::now();
        self.inner.handle_timeout(now);
        self.busy.set(self.busy.get() + t.elapsed());
    }
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median, p10, p90, min, max of `v` (milliseconds), rounded to 0.01.
fn spread(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| round(v[((v.len() as f64 - 1.0) * p).round() as usize], 2);
    json!({
        "median": pct(0.5),
        "p10": pct(0.1),
        "p90": pct(0.9),
        "min": pct(0.0),
        "max": pct(1.0),
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

/// (1) and (2): the device provisioned, configured, then switched `rounds` times.
async fn mesh(
    r1: &mut HciRadio,
    r2: &mut HciRadio,
    rounds: usize,
) -> Result<(Value, Value), Failure> {
    let mut rng = ChaCha8Rng::from_entropy();
    let state = crate::net::new_network("weft bench hci", &mut rng, &crate::net::now_rfc3339());
    let node = state
        .local_node(ChaCha8Rng::from_entropy())
        .ok_or_else(|| Failure::new(Exit::Unavailable, "a new network without a local node"))?;
    let app = crate::ops::app_key(&state, 0)?;
    let plan = ConfigurePlan {
        net_key_index: KeyIndex::from_bits(app.bound_net_key),
        app_key_index: KeyIndex::from_bits(app.index),
        app_key: app.key.0,
        subscribe: None,
        publish: None,
    };
    let app_index = app.index;
    let (p_busy, p_frames) = (Rc::default(), Rc::default());
    let (d_busy, d_frames) = (Rc::default(), Rc::default());
    let mut prov = Timed::new(
        ProvisionerNode::new(node, ChaCha8Rng::from_entropy(), state.cdb.clone()),
        &p_busy,
        &p_frames,
    );
    prov.inner.set_config_retry(DEFAULT_RETRY, 15);
    prov.inner.set_settings(ProvisionSettings {
        attention_duration: 5,
        static_oob: None,
    });

    let mut uuid = [0u8; 16];
    rng.fill_bytes(&mut uuid);
    let caps = Capabilities::no_oob(
        1,
        Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
    );
    let device = Device::new(
        ChaCha8Rng::from_entropy(),
        uuid,
        OobInformation(0),
        None,
        DeviceConfig::new(caps),
    );
    let profile = DeviceProfile {
        elements: vec![ElementState {
            location: 0x0100,
            models: [
                ModelId::CONFIG_SERVER,
                ModelId::HEALTH_SERVER,
                ModelId::GENERIC_ONOFF_SERVER,
            ]
            .into_iter()
            .map(ModelState::new)
            .collect(),
        }],
        relay: false,
        default_ttl: None,
    };
    let clock = Clock::default();
    let device_side = {
        let (d_busy, d_frames) = (&d_busy, &d_frames);
        let clock = &clock;
        async move {
            let mut dev = Timed::new(
                DeviceNode::new(device, profile, ChaCha8Rng::from_entropy()),
                d_busy,
                d_frames,
            );
            drive(&mut dev, &mut *r2, clock, None, |_, _, e| {
                if matches!(e, DeviceNodeEvent::Provisioned { .. }) {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            })
            .await?;
            let Some(serving) = dev
                .inner
                .into_serving(clock.now(), Duration::from_millis(1500))
            else {
                return Err(weft_radio::RadioError::Protocol(
                    "the device stopped before it was provisioned".into(),
                ));
            };
            let mut serving = Timed::new(serving, d_busy, d_frames);
            drive(&mut serving, &mut *r2, clock, None, |_, _, _| {
                Flow::Continue
            })
            .await
        }
    };
    let provisioner_side = async {
        let busy = || p_busy.get() + d_busy.get();
        let wall = WallClock::now();
        let start = clock.now();
        prov.inner
            .provision(start, uuid, None)
            .map_err(|e| Failure::new(Exit::Refused, e.to_string()))?;
        let limit = start + Duration::from_secs(30);
        let mut provisioned = None;
        let mut failed = None;
        let mut pb_adv = None;
        let mut link_closed = None;
        let mut configured = None;
        let mut config_started = false;
        while clock.now() < limit && failed.is_none() && configured.is_none() {
            if pb_adv.is_some() && prov.inner.in_progress() == 0 && !config_started {
                link_closed = Some(wall.elapsed());
                if let Some(a) = provisioned {
                    prov.inner.configure(a, plan);
                }
                config_started = true;
            }
            let wake = (clock.now() + Duration::from_millis(100)).min(limit);
            drive(&mut prov, &mut *r1, &clock, Some(wake), |_, _, e| {
                match e {
                    ProvisionerNodeEvent::Provisioned { provisioned: p, .. } => {
                        pb_adv = Some(wall.elapsed());
                        provisioned = Some(p.data.unicast_address);
                    }
                    ProvisionerNodeEvent::Failed { reason, .. } => {
                        failed = Some(reason.to_string());
                        return Flow::Stop;
                    }
                    ProvisionerNodeEvent::Config(ConfigClientEvent::Done { .. }) => {
                        configured = Some(wall.elapsed());
                        return Flow::Stop;
                    }
                    ProvisionerNodeEvent::Config(ConfigClientEvent::Failed { reason, .. }) => {
                        failed = Some(format!("configuration: {reason:?}"));
                        return Flow::Stop;
                    }
                    _ => {}
                }
                Flow::Continue
            })
            .await
            .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
        }
        let secs = |d: Option<StdDuration>| d.map(|d| round(d.as_secs_f64(), 3));
        let diff = |a: Option<StdDuration>, b: Option<StdDuration>| match (a, b) {
            (Some(a), Some(b)) => Some(round(b.saturating_sub(a).as_secs_f64(), 3)),
            _ => None,
        };
        let provision = json!({
            "provisioned": pb_adv.is_some(),
            "configured": configured.is_some(),
            "error": failed,
            "total_s": secs(configured),
            "pb_adv_s": secs(pb_adv),
            "link_close_s": diff(pb_adv, link_closed),
            "config_s": diff(link_closed, configured),
            "weft_ms": round(ms(busy()), 2),
            "provisioner_ms": round(ms(p_busy.get()), 2),
            "device_ms": round(ms(d_busy.get()), 2),
            "frames_provisioner": p_frames.get(),
            "frames_device": d_frames.get(),
        });
        let (Some(dst), Some(_)) = (provisioned, configured) else {
            return Ok((provision, json!({"rounds": rounds, "answered": 0})));
        };
        // (2): OnOff Set, acknowledged, to the Status; sent again after 2 s without one.
        let dst = Address::from(dst);
        let mut rtts = Vec::new();
        let mut weft = Vec::new();
        let mut frames = Vec::new();
        let mut resent = 0u32;
        let mut tid = 0u8;
        for i in 0..rounds {
            let (b0, f0) = (busy(), p_frames.get() + d_frames.get());
            let t = WallClock::now();
            let mut answered = false;
            for _try in 0..3 {
                tid = tid.wrapping_add(1);
                let set = GenericMessage::OnOffSet(OnOffSet {
                    on: i % 2 == 0,
                    tid,
                    transition: None,
                });
                let b = WallClock::now();
                let sent = prov.inner.node_mut().handle_command(
                    clock.now(),
                    Command::send(dst, KeyRef::App(app_index), set.to_access()),
                );
                p_busy.set(p_busy.get() + b.elapsed());
                if !sent {
                    return Err(Failure::new(
                        Exit::Refused,
                        "the OnOff Set could not be sent",
                    ));
                }
                let until = clock.now() + Duration::from_secs(2);
                drive(
                    &mut prov,
                    &mut *r1,
                    &clock,
                    Some(until),
                    |_, _, e| match e {
                        ProvisionerNodeEvent::Node(Event::Access { src, message, .. })
                            if src == dst && message.opcode == Opcode::Two(0x8204) =>
                        {
                            answered = true;
                            Flow::Stop
                        }
                        _ => Flow::Continue,
                    },
                )
                .await
                .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
                if answered {
                    break;
                }
                resent += 1;
            }
            if answered {
                rtts.push(ms(t.elapsed()));
                weft.push(ms(busy() - b0));
                frames.push((p_frames.get() + d_frames.get() - f0) as f64);
            }
        }
        let onoff = json!({
            "rounds": rounds,
            "answered": rtts.len(),
            "resent": resent,
            "rtt_ms": spread(rtts),
            "weft_ms_median": median(weft).map(|m| round(m, 3)),
            "frames_median": median(frames),
        });
        Ok((provision, onoff))
    };
    tokio::select! {
        r = device_side => match r {
            Err(e) => Err(Failure::new(Exit::Unavailable, format!("the device's radio: {e}"))),
            Ok(_) => Err(Failure::new(Exit::Unavailable, "the device stopped")),
        },
        r = provisioner_side => r,
    }
}

/// A mesh frame weft advertises for the throughput figures: a «Mesh Message» AD structure
/// that is no network PDU of any network (a marker and its number).
fn marked(n: u32) -> Vec<u8> {
    let mut b = vec![21, 0x2a, 0xbe, 0x4c, 0xf1, 0x00];
    b.extend_from_slice(&n.to_be_bytes());
    b.resize(22, 0x5a);
    b
}

fn is_marked(f: &RxFrame) -> Option<u32> {
    (f.bytes.len() == 22 && f.bytes[..6] == [21, 0x2a, 0xbe, 0x4c, 0xf1, 0x00])
        .then(|| u32::from_be_bytes([f.bytes[6], f.bytes[7], f.bytes[8], f.bytes[9]]))
}

/// `frames` frames advertised by `r1` back to back, as fast as its send queue lets them go:
/// the time per advertising event, and how many `r2` heard.
async fn advertise_back_to_back(
    r1: &mut HciRadio,
    r2: &mut HciRadio,
    frames: u32,
) -> Result<Value, Failure> {
    // Frames the stations left queued go first.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let base = r1.stats().tx_frames;
    let t = WallClock::now();
    let mut sent = 0u32;
    let mut heard = std::collections::HashSet::new();
    let limit = t + StdDuration::from_secs(10 + u64::from(frames) / 10);
    let mut done_at = None;
    loop {
        let out = (r1.stats().tx_frames - base) as u32;
        if out >= frames && done_at.is_none() {
            done_at = Some(t.elapsed());
        }
        if let Some(d) = done_at {
            // Reports still on their way.
            if t.elapsed() > d + StdDuration::from_millis(300) {
                break;
            }
        }
        if WallClock::now() > limit {
            break;
        }
        // Keep a few frames queued: the radio's own pace, not this loop's, is measured.
        while sent < frames && sent < out + 4 {
            r1.send(TxFrame {
                bearer: Bearer::Advertising,
                bytes: marked(sent),
            })
            .await
            .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
            sent += 1;
        }
        tokio::select! {
            f = r2.recv() => {
                let f = f.map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
                if let Some(n) = is_marked(&f) {
                    heard.insert(n);
                }
            }
            _ = tokio::time::sleep(StdDuration::from_millis(1)) => {}
        }
    }
    let out = r1.stats().tx_frames - base;
    let per_frame = done_at.map(|d| round(ms(d) / f64::from(frames), 2));
    Ok(json!({
        "frames": frames,
        "advertised": out,
        "per_frame_ms": per_frame,
        "heard": heard.len(),
        "legacy_event_hold_ms": ms(HciConfig::default().legacy_event_hold),
    }))
}

/// A raw HCI connection: commands answered, events read.
struct Raw {
    io: weft_radio::hci::HciStream,
    dec: H4Decoder,
}

impl Raw {
    async fn command(&mut self, opcode: u16, params: &[u8]) -> Result<(), String> {
        let mut body = opcode.to_le_bytes().to_vec();
        body.push(params.len() as u8);
        body.extend_from_slice(params);
        self.io
            .write_all(&encode(PacketType::Command, &body))
            .await
            .map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(3);
        let mut buf = [0u8; 512];
        loop {
            while let Some(p) = self.dec.next_packet() {
                let b = &p.body;
                if p.kind != PacketType::Event || b.len() < 2 {
                    continue;
                }
                let answer = match b[0] {
                    0x0e if b.len() >= 6 => Some((u16::from_le_bytes([b[3], b[4]]), b[5])),
                    0x0f if b.len() >= 6 => Some((u16::from_le_bytes([b[4], b[5]]), b[2])),
                    _ => None,
                };
                if let Some((op, status)) = answer {
                    if op == opcode {
                        return match status {
                            0 => Ok(()),
                            s => Err(format!("command {opcode:#06x} failed with status {s:#04x}")),
                        };
                    }
                }
            }
            let k = tokio::time::timeout_at(deadline, self.io.read(&mut buf))
                .await
                .map_err(|_| format!("command {opcode:#06x} not answered within 3 s"))?
                .map_err(|e| e.to_string())?;
            if k == 0 {
                return Err("the controller closed the connection".into());
            }
            self.dec.push(&buf[..k]);
        }
    }
}

/// The shortest legacy advertising interval (Core v5.4 Vol 4 Part E §7.8.5), 0.625 ms units.
const SHORTEST_INTERVAL: u16 = 0x0020;

/// The reports per second the emulator delivers to `r2` from one advertiser (the first
/// controller, driven raw) advertising ADV_NONCONN_IND continuously at the shortest interval.
async fn emulator_delivery(
    uri: &RadioUri,
    r2: &mut HciRadio,
    seconds: f64,
) -> Result<Value, Failure> {
    let unavailable = |e: String| Failure::new(Exit::Unavailable, format!("{uri}: {e}"));
    let io = weft_radio::hci::connect(uri)
        .await
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    let mut raw = Raw {
        io,
        dec: H4Decoder::new(Direction::FromController),
    };
    let mut data = marked(0xffff_ffff);
    data.resize(31, 0);
    let mut adv_data = vec![22];
    adv_data.extend_from_slice(&data);
    let mut params = SHORTEST_INTERVAL.to_le_bytes().to_vec();
    params.extend_from_slice(&SHORTEST_INTERVAL.to_le_bytes());
    // ADV_NONCONN_IND, random own address, no peer, channels 37-39, no filter.
    params.extend_from_slice(&[0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x07, 0]);
    let setup: [(u16, Vec<u8>); 4] = [
        (0x0c03, vec![]),
        (0x2005, vec![0x01, 0x02, 0x03, 0x04, 0x05, 0xc6]),
        (0x2006, params),
        (0x2008, adv_data),
    ];
    for (op, p) in setup {
        raw.command(op, &p).await.map_err(unavailable)?;
    }
    // Drain what r2 already holds.
    while let Ok(Ok(_)) = tokio::time::timeout(StdDuration::from_millis(50), r2.recv()).await {}
    raw.command(0x200a, &[1]).await.map_err(unavailable)?;
    let t = WallClock::now();
    let window = StdDuration::from_secs_f64(seconds);
    let mut heard = 0u64;
    let (mut first, mut last) = (None, None);
    while t.elapsed() < window {
        if let Ok(f) = tokio::time::timeout(window.saturating_sub(t.elapsed()), r2.recv()).await {
            let f = f.map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
            if is_marked(&f) == Some(0xffff_ffff) {
                heard += 1;
                first.get_or_insert(t.elapsed());
                last = Some(t.elapsed());
            }
        }
    }
    let _ = raw.command(0x200a, &[0]).await;
    let rate = match (first, last) {
        (Some(a), Some(b)) if heard > 1 && b > a => (heard - 1) as f64 / (b - a).as_secs_f64(),
        _ => heard as f64 / seconds,
    };
    Ok(json!({
        "interval_ms": f64::from(SHORTEST_INTERVAL) * 0.625,
        "seconds": seconds,
        "reports": heard,
        "reports_per_s": round(rate, 1),
        "per_interval": round(rate * f64::from(SHORTEST_INTERVAL) * 0.625 / 1000.0, 2),
    }))
}

/// What one flood did to an [`HciRadio`].
struct Ingested {
    written: u64,
    received: u64,
    dropped: u64,
    per_s: f64,
}

/// One flood (paced at `rate`, or unpaced) into a fresh radio for `seconds`, over a TCP socket
/// to a flooder in its own thread.
async fn flood_once(rate: Option<f64>, seconds: f64) -> Result<Ingested, Failure> {
    let counts = Arc::new(FloodCounts::default());
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let c = counts.clone();
    let flooder = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return Err(e.to_string()),
        };
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            let port = l.local_addr().map_err(|e| e.to_string())?.port();
            let _ = port_tx.send(port);
            let (s, _) = l.accept().await.map_err(|e| e.to_string())?;
            let _ = s.set_nodelay(true);
            let flood = Flood {
                rate,
                duration: StdDuration::from_secs_f64(seconds),
            };
            serve_flood(s, flood, c).await;
            Ok(())
        })
    });
    let unavailable = |e: String| Failure::new(Exit::Unavailable, format!("the flooder: {e}"));
    let port = port_rx
        .recv_timeout(StdDuration::from_secs(5))
        .map_err(|e| unavailable(e.to_string()))?;
    let uri = RadioUri::HciTcp {
        host: "127.0.0.1".into(),
        port,
    };
    let mut radio = open(&uri).await?;
    let mut received = 0u64;
    let (mut first, mut last) = (None, None);
    let mut quiet_since = WallClock::now();
    loop {
        match tokio::time::timeout(StdDuration::from_millis(50), radio.recv()).await {
            Ok(Ok(_)) => {
                received += 1;
                let now = WallClock::now();
                first.get_or_insert(now);
                last = Some(now);
                quiet_since = now;
            }
            Ok(Err(e)) => return Err(Failure::new(Exit::Unavailable, e.to_string())),
            Err(_) => {
                let s = radio.stats();
                let all_in = received + s.rx_dropped >= counts.written();
                if counts.finished() && (all_in || quiet_since.elapsed().as_secs_f64() > 1.0) {
                    break;
                }
                if quiet_since.elapsed().as_secs_f64() > seconds + 5.0 {
                    return Err(unavailable("no reports".into()));
                }
            }
        }
    }
    let stats = radio.stats();
    drop(radio);
    // The radio's tasks close the socket when this runtime runs them: wait without blocking it.
    while !flooder.is_finished() {
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    let _ = flooder.join();
    let span = match (first, last) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => seconds,
    };
    Ok(Ingested {
        written: counts.written(),
        received,
        dropped: stats.rx_dropped,
        per_s: received.saturating_sub(1) as f64 / span,
    })
}

/// (3), weft's part: unpaced, then paced from 10,000 reports/s, doubling, until a rate drops
/// reports or is not reached.
async fn ingest(seconds: f64) -> Result<Value, Failure> {
    let unpaced = flood_once(None, seconds).await?;
    let mut steps = Vec::new();
    let mut best: Option<u64> = None;
    let mut rate = 10_000.0;
    while steps.len() < 12 {
        let r = flood_once(Some(rate), seconds).await?;
        tracing::info!(target: "weft::bench", "ingest at {rate}/s: {} written, {} received, {} dropped", r.written, r.received, r.dropped);
        let clean = r.dropped == 0 && r.received == r.written;
        let reached = r.per_s >= rate * 0.9;
        steps.push(json!({
            "rate": rate,
            "written": r.written,
            "received": r.received,
            "dropped": r.dropped,
            "reports_per_s": r.per_s.round() as u64,
        }));
        if !clean || !reached {
            break;
        }
        best = Some(r.per_s.round() as u64);
        rate *= 2.0;
    }
    Ok(json!({
        "seconds": seconds,
        "unpaced": {
            "written": unpaced.written,
            "received": unpaced.received,
            "dropped": unpaced.dropped,
            "reports_per_s": unpaced.per_s.round() as u64,
        },
        "paced": steps,
        "max_without_drops_per_s": best,
    }))
}
