//! [`BluezRadio`]: an adapter shared through bluetoothd as a [`Radio`] on the Mesh advertising
//! bearer (see the module documentation of `bluez`), and its two tasks: the advertiser (each
//! frame's advertisement registered, and unregistered after [`BluezConfig::hold`],
//! `advertise.rs`) and the listener (discovery held open by bluer; advertising data from the
//! bus's signals, `bus.rs`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bluer::{DiscoveryFilter, DiscoveryTransport};
use futures_util::stream::{SelectAll, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant as TokioInstant};

use super::advertise::{props, Advertiser};
use super::bus::{classify, match_rules, AdapterInfo, Bus, Fault, Signal};
use super::mesh::{rx_frame, tx_data};
use super::{fault_error, BluezConfig, BluezStats};
use crate::{Caps, Radio, RadioError, RadioFuture, RadioUri, RxFrame, TxFrame};

/// BlueZ's adapters, when a system bus with bluetoothd is there; `None` when not (no bus, or
/// no `org.bluez` on it). For `weft radios`.
pub async fn adapters() -> Option<Vec<AdapterInfo>> {
    let bus = Bus::system().await.ok()?;
    bus.check_bluez().await.ok()?;
    bus.adapters().await.ok()
}

/// How many advertisements the radio keeps registered at once: with hardware offload, as many
/// as the adapter has free up to [`BluezConfig::max_instances`]; without it one, since
/// bluetoothd would rotate them in software, each for seconds (see [`AdapterInfo`]).
pub fn instances(config: &BluezConfig, adapter: &AdapterInfo) -> u8 {
    if !adapter.hardware_offload {
        return 1;
    }
    config
        .max_instances
        .min(adapter.free_instances.unwrap_or(1))
        .max(1)
}

/// An adapter shared through bluetoothd as a [`Radio`] (see the `bluez` module documentation).
#[derive(Debug)]
pub struct BluezRadio {
    name: String,
    tx: mpsc::Sender<TxFrame>,
    frames: mpsc::Receiver<RxFrame>,
    gone: watch::Receiver<Option<String>>,
    stats: Arc<Mutex<BluezStats>>,
    tasks: Vec<JoinHandle<()>>,
    adapter: AdapterInfo,
}

impl Drop for BluezRadio {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn bump(stats: &Mutex<BluezStats>, f: impl FnOnce(&mut BluezStats)) {
    if let Ok(mut s) = stats.lock() {
        f(&mut s);
    }
}

impl BluezRadio {
    /// Opens the adapter a `bluez:hciN` URI names: checks that bluetoothd is there and the
    /// adapter powered and able to advertise, starts LE discovery with duplicate data, and
    /// listens. Each fault is [`RadioError::Unavailable`], one sentence starting with the URI
    /// and saying what to do.
    pub async fn open(uri: &RadioUri, config: BluezConfig) -> Result<BluezRadio, RadioError> {
        let RadioUri::Bluez { index } = uri else {
            return Err(RadioError::Unsupported(format!("{uri}: not a bluez: URI")));
        };
        let name = uri.to_string();
        let adapter_name = format!("hci{index}");
        let fault = |f: Fault| fault_error(&name, &f);
        let bus = Bus::system().await.map_err(fault)?;
        let info = bus.usable_adapter(&adapter_name).await.map_err(fault)?;
        let adapter_path = format!("/org/bluez/{adapter_name}");

        // Listen before discovery starts, so that nothing heard is missed.
        let mut signals = SelectAll::new();
        let mut matches = Vec::new();
        for rule in match_rules(&adapter_path) {
            let m = bus
                .conn
                .add_match(rule)
                .await
                .map_err(|e| fault(Fault::Call(e.to_string())))?;
            let (m, stream) = m.msg_stream();
            matches.push(m);
            signals.push(stream);
        }

        let session = bluer::Session::new()
            .await
            .map_err(|e| fault(Fault::Call(e.to_string())))?;
        let adapter = session
            .adapter(&adapter_name)
            .map_err(|e| fault(Fault::Call(e.to_string())))?;
        adapter
            .set_discovery_filter(DiscoveryFilter {
                transport: DiscoveryTransport::Le,
                duplicate_data: true,
                ..Default::default()
            })
            .await
            .map_err(|e| fault(Fault::Call(e.to_string())))?;
        let discovery = adapter
            .discover_devices()
            .await
            .map_err(|e| fault(Fault::Call(format!("discovery: {e}"))))?;

        let stats = Arc::new(Mutex::new(BluezStats::default()));
        let (gone_tx, gone) = watch::channel(None);
        let gone_tx = Arc::new(gone_tx);
        let (frames_tx, frames) = mpsc::channel(config.rx_queue.max(1));
        let (tx, tx_rx) = mpsc::channel(config.tx_queue.max(1));
        let instances = instances(&config, &info);
        tracing::info!(target: "weft::bluez", "{name}: {} ({}), {instances} advertising instances", info.address, info.alias);

        let listener = Listener {
            name: name.clone(),
            adapter_path,
            adapter_name,
            frames: frames_tx,
            stats: stats.clone(),
            gone: gone_tx.clone(),
        };
        let bus = Arc::new(bus);
        let advertiser = Sender {
            name: name.clone(),
            advertiser: Advertiser::new(bus.conn.clone(), &listener.adapter_path),
            config,
            instances: usize::from(instances),
            stats: stats.clone(),
            gone: gone_tx,
            _bus: bus.clone(),
        };
        let rx_task = tokio::spawn(async move {
            // The bus connection, the matches and the discovery session live as long as this.
            let _keep = (bus, matches, session, adapter);
            listener.run(signals, discovery).await;
        });
        let tx_task = tokio::spawn(advertiser.run(tx_rx));
        Ok(BluezRadio {
            name,
            tx,
            frames,
            gone,
            stats,
            tasks: vec![rx_task, tx_task],
            adapter: info,
        })
    }

    /// The adapter as BlueZ described it when the radio opened.
    pub fn adapter(&self) -> &AdapterInfo {
        &self.adapter
    }

    /// What the radio has seen and done so far.
    pub fn stats(&self) -> BluezStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn gone(&self) -> RadioError {
        let why = self.gone.borrow().clone();
        RadioError::Unavailable(format!(
            "{}: {}",
            self.name,
            why.unwrap_or_else(|| "the BlueZ radio stopped".into())
        ))
    }
}

impl Radio for BluezRadio {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }

    /// Queues `frame` for an advertisement of its own. A frame that does not fit the queue is
    /// dropped and counted.
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            tx_data(&frame)?;
            if self.gone.borrow().is_some() {
                return Err(self.gone());
            }
            match self.tx.try_send(frame) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    bump(&self.stats, |s| s.tx_dropped += 1);
                    tracing::debug!(target: "weft::bluez", "{}: the send queue is full, a frame is dropped", self.name);
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(self.gone()),
            }
        })
    }

    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            // Frames already heard first, then the reason the radio ended.
            if let Ok(f) = self.frames.try_recv() {
                return Ok(f);
            }
            if self.gone.borrow().is_some() {
                return Err(self.gone());
            }
            let mut gone = self.gone.clone();
            let f = tokio::select! {
                f = self.frames.recv() => f,
                _ = gone.wait_for(|g| g.is_some()) => None,
            };
            f.ok_or_else(|| self.gone())
        })
    }
}

/// Whether bluetoothd's answer `e` to a registration means no mesh advertisement will ever be
/// taken, and then why, for the user. BlueZ 5.50 and later (`src/shared/ad.c`,
/// `type_reject_list`) refuse the mesh AD types in an advertisement's `Data` ("Failed to parse
/// advertisement."), keeping them for their own mesh daemon.
pub fn refusal_ends_the_radio(e: &str) -> Option<String> {
    let parse = e.contains("Failed to parse advertisement");
    let invalid = e.starts_with("org.bluez.Error.InvalidArguments");
    (parse || invalid).then(|| {
        format!(
            "bluetoothd refused the mesh advertisement ({e}): BlueZ 5.50 and later keep the mesh \
             AD types (0x29-0x2b) to themselves, in advertisements and in the advertising data \
             they report; use hci-user:hciN instead (the adapter taken from bluetoothd)"
        )
    })
}

/// The advertiser task: frames to advertisements, at most `instances` registered at once.
struct Sender {
    name: String,
    advertiser: Advertiser,
    config: BluezConfig,
    instances: usize,
    stats: Arc<Mutex<BluezStats>>,
    gone: Arc<watch::Sender<Option<String>>>,
    _bus: Arc<Bus>,
}

impl Sender {
    async fn run(mut self, mut rx: mpsc::Receiver<TxFrame>) {
        let mut active: VecDeque<(TokioInstant, dbus::Path<'static>)> = VecDeque::new();
        loop {
            let first = active.front().map(|(t, _)| *t);
            let full = active.len() >= self.instances;
            tokio::select! {
                () = async { sleep_until(first.unwrap_or_else(TokioInstant::now)).await },
                    if first.is_some() => {
                    if let Some((_, path)) = active.pop_front() {
                        if let Err(e) = self.advertiser.unregister(path).await {
                            tracing::debug!(target: "weft::bluez", "{}: unregistering an advertisement: {e}", self.name);
                        }
                    }
                }
                f = rx.recv(), if !full => {
                    let Some(f) = f else { break };
                    let Ok(data) = tx_data(&f) else { continue };
                    match self.advertiser.register(props(data, self.config.interval)).await {
                        Ok(path) => {
                            bump(&self.stats, |s| s.tx_frames += 1);
                            active.push_back((TokioInstant::now() + self.config.hold, path));
                        }
                        Err(e) => {
                            bump(&self.stats, |s| s.tx_refused += 1);
                            tracing::warn!(target: "weft::bluez", "{}: bluetoothd refused an advertisement: {e}", self.name);
                            if let Some(why) = refusal_ends_the_radio(&e) {
                                self.gone.send_replace(Some(why));
                                break;
                            }
                        }
                    }
                }
            }
        }
        for (_, path) in active {
            let _ = self.advertiser.unregister(path).await;
        }
    }
}

struct Listener {
    name: String,
    adapter_path: String,
    adapter_name: String,
    frames: mpsc::Sender<RxFrame>,
    stats: Arc<Mutex<BluezStats>>,
    gone: Arc<watch::Sender<Option<String>>>,
}

impl Listener {
    async fn run<S>(
        self,
        mut signals: SelectAll<S>,
        discovery: impl futures_util::Stream<Item = bluer::AdapterEvent> + Send,
    ) where
        S: futures_util::Stream<Item = dbus::Message> + Unpin,
    {
        let mut discovery = std::pin::pin!(discovery);
        let mut discovering = true;
        loop {
            tokio::select! {
                msg = signals.next() => {
                    let Some(msg) = msg else {
                        return self.stop("the system bus connection ended".into());
                    };
                    match classify(&msg, &self.adapter_path, &self.adapter_name) {
                        Signal::Device(change) => match rx_frame(&self.adapter_path, &change) {
                            // Counted before it is handed over, so that whoever takes the
                            // frame already sees it in the stats.
                            Ok(f) => match self.frames.try_reserve() {
                                Ok(slot) => {
                                    bump(&self.stats, |s| s.rx_frames += 1);
                                    slot.send(f);
                                }
                                Err(mpsc::error::TrySendError::Full(())) => {
                                    bump(&self.stats, |s| s.rx_dropped += 1);
                                }
                                Err(mpsc::error::TrySendError::Closed(())) => return,
                            },
                            Err(_) => bump(&self.stats, |s| s.rx_skipped += 1),
                        },
                        Signal::AdapterGone(why) => return self.stop(why),
                        Signal::Other => {}
                    }
                }
                ev = discovery.next(), if discovering => {
                    // bluer's stream ends when discovery stops (Discovering false); the
                    // session it holds stays until the radio goes.
                    if ev.is_none() {
                        discovering = false;
                        tracing::warn!(target: "weft::bluez", "{}: discovery stopped", self.name);
                    }
                }
            }
        }
    }

    fn stop(self, why: String) {
        tracing::warn!(target: "weft::bluez", "{}: {why}", self.name);
        self.gone.send_replace(Some(why));
        // Dropping `frames` ends `recv` with the reason.
    }
}
