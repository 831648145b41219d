//! `weft inspect --radio sim:PATH`: the inspector as a passive listener on the live simulated
//! air (`weft sim serve --socket PATH`). It never transmits: it decodes what it hears with the
//! keys of the network store and fills the same [`Model`] the UI draws.
//!
//! The hub reports neither who transmitted a frame nor whether it was relayed, so a node's RSSI
//! and the listener's links are those of the frames carrying its source address, as heard.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration as WallDuration, Instant as WallClock};

use weft_mesh::ble::address::{Address, IvIndex};
use weft_mesh::ble::sniff::{Decoded, Keyring, Sniffer};
use weft_mesh::topology::{Layout, NodeKey, Topology};
use weft_mesh::{Duration, Instant};
use weft_radio::hub::HubRadio;
use weft_radio::Radio;

use super::model::{
    describe_into, finish_entry, EntryKind, Model, Stats, TrafficEntry, UnprovisionedDevice,
    TRAFFIC_CAPACITY,
};
use super::runtime::{Control, Runtime};
use super::ui::Request;
use crate::store::NetState;

/// The status line for actions that would transmit.
pub const READ_ONLY: &str = "read-only on the live air: use weft send/provision/config";
/// The listener's own key in the topology (no unicast address is 0, MshPRT §3.4.2.1).
pub const LISTENER: NodeKey = 0;
/// Window over which PDUs/s is measured.
const RATE_WINDOW: Duration = Duration::from_secs(2);

/// The decoder and the model it fills from frames heard on the live air.
#[allow(missing_debug_implementations)]
pub struct LiveFeeder {
    sniffer: Sniffer,
    keys: bool,
    recent: HashSet<(u16, u32)>,
    recent_order: VecDeque<(u16, u32)>,
    rate: VecDeque<Instant>,
    pub model: Model,
    pub layout: Layout,
}

impl LiveFeeder {
    /// A feeder for the air at `source`, decoding with the keys of `net` (none: only beacons,
    /// which need no keys, decode).
    pub fn new(source: &str, net: Option<&NetState>) -> LiveFeeder {
        let mut ring = Keyring::new();
        let mut topology = Topology::new();
        topology.node_mut(LISTENER).name = Some("this listener".into());
        topology.set_host(Some(LISTENER));
        let mut iv = 0;
        if let Some(net) = net {
            iv = net.iv_index;
            for k in &net.cdb.net_keys {
                ring.add_net_key(k.key.0);
                if let Some(o) = &k.old_key {
                    ring.add_net_key(o.0);
                }
            }
            for k in &net.cdb.app_keys {
                ring.add_app_key(k.key.0);
                if let Some(o) = &k.old_key {
                    ring.add_app_key(o.0);
                }
            }
            for n in &net.cdb.nodes {
                let a = n.unicast_address.0;
                if let Some(k) = &n.device_key {
                    ring.add_dev_key(Address(a), k.0);
                }
                let t = topology.node_mut(u64::from(a));
                t.name = n.name.clone();
                t.uuid = Some(n.uuid.0);
                t.elements = u8::try_from(n.elements.len()).ok().filter(|&e| e > 0);
            }
        }
        let mut model = Model {
            source: format!("{source} (live, listening)"),
            now: Instant::ZERO,
            paused: false,
            topology,
            positions: Vec::new(),
            edges: Arc::new(Vec::new()),
            traffic: VecDeque::new(),
            traffic_total: 0,
            stats: Stats::default(),
            hops: Vec::new(),
            groups: Vec::new(),
            host: LISTENER as u16,
            detail: None,
            capture: None,
            notice: None,
            unprovisioned: Vec::new(),
        };
        if net.is_none() {
            model.notify("no network store: nothing decrypts (give --net FILE); beacons only");
        } else {
            model.notify(format!("listening on {source}; {READ_ONLY}"));
        }
        let mut f = LiveFeeder {
            sniffer: Sniffer::new(ring, IvIndex(iv)),
            keys: net.is_some(),
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
            rate: VecDeque::new(),
            model,
            layout: Layout::new(),
        };
        f.publish_prep(200);
        f
    }

    /// Whether the feeder has the network's keys.
    pub fn has_keys(&self) -> bool {
        self.keys
    }

    /// One frame heard at `at` (time since listening began) with `rssi`.
    pub fn ingest(&mut self, at: Instant, rssi: Option<i8>, bytes: &[u8]) {
        self.model.now = self.model.now.max(at);
        self.model.stats.pdus += 1;
        self.model.stats.frames_on_air += 1;
        self.rate.push_back(at);
        let mut e = TrafficEntry {
            at,
            bearer: "ADV",
            transmitter: 0,
            src: None,
            dst: None,
            opcode: String::new(),
            summary: String::new(),
            ttl: None,
            seq: None,
            rssi,
            relayed_by: None,
            kind: EntryKind::Undecryptable(if self.keys {
                "nothing decodable".into()
            } else {
                "no network keys (no store)".into()
            }),
        };
        for d in self.sniffer.handle_ad(bytes) {
            match d {
                Decoded::Network(n) => {
                    let src = n.pdu.src.0;
                    e.src = Some(src);
                    e.transmitter = src;
                    e.dst = Some(n.pdu.dst.0);
                    e.ttl = Some(n.pdu.ttl);
                    e.seq = Some(n.pdu.seq.get());
                    let key = u64::from(src);
                    self.model.topology.heard(key, LISTENER, rssi, at);
                    let node = self.model.topology.node_mut(key);
                    node.seq = Some(node.seq.map_or(n.pdu.seq.get(), |s| s.max(n.pdu.seq.get())));
                }
                other => {
                    if let Some(uuid) =
                        describe_into(&mut e, &mut self.model.stats, other).unprovisioned
                    {
                        self.heard_device(uuid, rssi, at);
                    }
                }
            }
        }
        finish_entry(&mut e, &mut self.model.stats);
        if let (Some(src), Some(seq)) = (e.src, e.seq) {
            // Retransmissions and relays repeat a PDU: log it once.
            if !self.recent.insert((src, seq)) {
                return;
            }
            self.recent_order.push_back((src, seq));
            if self.recent_order.len() > 4096 {
                if let Some(old) = self.recent_order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
        self.model.traffic_total += 1;
        self.model.traffic.push_back(Arc::new(e));
        while self.model.traffic.len() > TRAFFIC_CAPACITY {
            self.model.traffic.pop_front();
        }
    }

    fn heard_device(&mut self, uuid: [u8; 16], rssi: Option<i8>, at: Instant) {
        if self
            .model
            .topology
            .nodes()
            .any(|n| n.uuid == Some(uuid) && n.key != LISTENER)
        {
            return; // a node of the database still beaconing
        }
        match self.model.unprovisioned.iter_mut().find(|d| d.uuid == uuid) {
            Some(d) => {
                d.rssi = rssi;
                d.last_heard = at;
            }
            None => self.model.unprovisioned.push(UnprovisionedDevice {
                uuid,
                name: hex::encode(&uuid[..4]),
                rssi,
                last_heard: at,
                state: "waiting".into(),
            }),
        }
    }

    /// Brings time to `now` (rate, hop horizon) and prepares a snapshot (layout, edges).
    pub fn tick(&mut self, now: Instant) {
        self.model.now = self.model.now.max(now);
        let since = Instant::from_micros(
            self.model
                .now
                .as_micros()
                .saturating_sub(RATE_WINDOW.as_micros()),
        );
        while self.rate.front().is_some_and(|&a| a < since) {
            self.rate.pop_front();
        }
        let window = RATE_WINDOW.min(self.model.now.saturating_since(Instant::ZERO));
        self.model.stats.pdus_per_s = if window.as_micros() > 0 {
            self.rate.len() as f64 / window.as_secs_f64()
        } else {
            0.0
        };
        self.model.topology.update_hops();
        self.publish_prep(3);
    }

    fn publish_prep(&mut self, steps: usize) {
        for _ in 0..steps {
            if self.layout.settled(&self.model.topology) {
                break;
            }
            self.layout.step(&self.model.topology);
        }
        self.model.positions = self.layout.normalized();
        let mut edges = self.model.topology.edges();
        edges.sort_by_key(|&(a, b, rssi, _)| (std::cmp::Reverse(rssi.unwrap_or(i8::MIN)), a, b));
        self.model.edges = Arc::new(edges);
    }
}

/// Connects to the hub at `socket` as a passive listener and runs `feeder` in a thread of its
/// own (a current-thread tokio runtime inside it); fails when the hub cannot be reached.
pub fn start(socket: &Path, feeder: LiveFeeder) -> Result<Runtime, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let path: PathBuf = socket.to_owned();
    let rt = Runtime::spawn("weft-live", feeder.model.clone(), move |rx, shared| {
        let tokio_rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("cannot start the listener: {e}")));
                return;
            }
        };
        tokio_rt.block_on(listen(&path, feeder, rx, shared, ready_tx));
    });
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(rt),
        Ok(Err(e)) => {
            rt.stop();
            Err(e)
        }
        Err(_) => {
            rt.stop();
            Err("the listener thread ended".into())
        }
    }
}

fn since(start: WallClock) -> Instant {
    Instant::from_micros(start.elapsed().as_micros() as u64)
}

async fn listen(
    path: &Path,
    mut feeder: LiveFeeder,
    rx: &Receiver<Control>,
    shared: &Mutex<Arc<Model>>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let mut radio = match HubRadio::connect(path).await {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let start = WallClock::now();
    let publish_every = WallDuration::from_millis(33);
    let mut last_publish = WallClock::now();
    let mut paused = false;
    let mut connected = true;
    loop {
        for c in rx.try_iter() {
            match c {
                Control::Quit => return,
                Control::Ui(Request::TogglePause) => {
                    paused = !paused;
                    feeder.model.notify(if paused {
                        "paused: the picture is frozen, the air goes on"
                    } else {
                        "running"
                    });
                    feeder.model.paused = paused;
                }
                Control::Ui(Request::Select(_)) => {}
                Control::Ui(Request::ToggleCapture) => feeder
                    .model
                    .notify("capture is not available on the live air yet"),
                Control::Ui(
                    Request::Send { .. } | Request::Provision { .. } | Request::Configure { .. },
                ) => feeder.model.notify(READ_ONLY),
            }
        }
        if connected {
            tokio::select! {
                r = radio.recv() => match r {
                    Ok(f) => {
                        if !paused {
                            feeder.ingest(since(start), f.rssi, &f.bytes);
                        }
                    }
                    Err(e) => {
                        connected = false;
                        feeder.model.notify(format!("stopped listening: {e}"));
                        publish(&feeder, shared);
                    }
                },
                _ = tokio::time::sleep(WallDuration::from_millis(10)) => {}
            }
        } else {
            tokio::time::sleep(WallDuration::from_millis(10)).await;
        }
        if last_publish.elapsed() >= publish_every {
            last_publish = WallClock::now();
            if !paused {
                feeder.tick(since(start));
            }
            publish(&feeder, shared);
        }
    }
}

fn publish(feeder: &LiveFeeder, shared: &Mutex<Arc<Model>>) {
    let snap = Arc::new(feeder.model.clone());
    if let Ok(mut s) = shared.lock() {
        *s = snap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Unprovisioned Device beacon as an AD structure: length, AD type «Mesh Beacon» (0x2B,
    /// MshPRT §3.3.1), beacon type 0x00, Device UUID, OOB Information (MshPRT §3.10.2).
    fn unprovisioned_beacon(uuid: [u8; 16]) -> Vec<u8> {
        let mut ad = vec![20, 0x2b, 0x00];
        ad.extend_from_slice(&uuid);
        ad.extend_from_slice(&[0, 0]);
        ad
    }

    #[test]
    fn without_keys_beacons_decode_and_network_pdus_say_why_not() {
        let mut f = LiveFeeder::new("sim:/tmp/air.sock", None);
        assert!(!f.has_keys());
        assert!(f
            .model
            .notice
            .as_ref()
            .is_some_and(|(_, t)| t.contains("no network store")));
        f.ingest(
            Instant::from_micros(5_000),
            Some(-40),
            &unprovisioned_beacon([7; 16]),
        );
        // A Mesh Message AD (0x2A, MshPRT §3.3.1) no key opens.
        let mut pdu = vec![19, 0x2a];
        pdu.extend_from_slice(&[0x11; 18]);
        f.ingest(Instant::from_micros(9_000), Some(-50), &pdu);
        f.tick(Instant::from_micros(10_000));
        assert_eq!(f.model.unprovisioned.len(), 1);
        assert_eq!(f.model.unprovisioned[0].uuid, [7; 16]);
        assert_eq!(f.model.unprovisioned[0].rssi, Some(-40));
        assert_eq!(f.model.stats.beacons, 1);
        assert_eq!(f.model.stats.undecryptable, 1);
        let last = f.model.traffic.back().unwrap();
        assert_eq!(last.opcode, "cannot decrypt");
        assert!(matches!(last.kind, EntryKind::Undecryptable(_)));
        // Nothing heard makes a link or a node beyond the listener.
        assert_eq!(f.model.topology.node_count(), 1);
        assert!(f.model.edges.is_empty());
    }
}
