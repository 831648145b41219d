//! The one task that owns the radio, the store's provisioner node and the store: between
//! requests it runs the node on the radio (it relays, answers and hears, and subscribers see
//! what it hears); each request the client tasks queue is carried out whole, one at a time,
//! by the same functions the commands use ([`Session::exchange`], [`provision_in`]), so a
//! client that goes away mid-request loses nothing: the request ends and is saved as it would
//! have in the command.

use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, watch};
use weft_mesh::ble::foundation::config::client::ConfigClientEvent;
use weft_mesh::ble::models::ModelMessage;
use weft_mesh::ble::node::Event;
use weft_mesh::ble::prov::ProvisionerEvent;
use weft_mesh::ble::station::{ProvisionerNode, ProvisionerNodeEvent};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::Address;
use weft_mesh::{Duration, Instant};
use weft_radio::{drive_with, Flow, Hooks, RadioError};

use super::protocol;
use super::Shared;
use crate::error::{fail, Failure, Result};
use crate::ops::{answer_json, persist, Session};
use crate::provisioning::{check, provision_in, ProvisionArgs};
use crate::store::NetState;
use crate::Exit;

/// What the owner is asked to do.
#[derive(Debug)]
pub(crate) enum Call {
    /// `send` (application key) or `config` (device key): one exchange.
    Exchange {
        dst: Address,
        device_key: bool,
        message: AccessMessage,
        expect: Opcode,
        timeout: f64,
    },
    /// `provision`, with the arguments `weft provision` would have.
    Provision(Box<ProvisionArgs>),
}

/// A request for the owner, and where its reply goes.
#[derive(Debug)]
pub(crate) struct Job {
    pub id: Value,
    pub method: String,
    pub call: Call,
    pub reply: mpsc::UnboundedSender<String>,
}

/// How often the node's run between requests looks for a new one.
const TICK: Duration = Duration::from_millis(10);

/// The network database as `weft net show --json` prints it.
pub(crate) fn network_json(state: &NetState) -> Value {
    serde_json::from_str(&crate::net::export_cdb(state).to_json()).unwrap_or(Value::Null)
}

/// Runs the owner until the queue closes (every client gone, with `--stdio`) or `stop`; saves
/// the session as it ends.
pub(crate) async fn own(
    mut session: Session,
    mut queue: mpsc::Receiver<Job>,
    events: broadcast::Sender<Arc<str>>,
    shared: Arc<Mutex<Shared>>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    {
        let (events, shared) = (events.clone(), shared.clone());
        session.observe = Some(Box::new(move |_, e, state| {
            if events.receiver_count() > 0 {
                if let Some(line) = event_line(e) {
                    let _ = events.send(line.into());
                }
            }
            // Saved already: the clients see the change as it happens (a node provisioned
            // is known, its device key too, while it is being configured).
            if matches!(e, ProvisionerNodeEvent::DatabaseChanged) {
                refresh(state, &shared, &events);
            }
        }));
    }
    let mut result = Ok(());
    loop {
        match queue.try_recv() {
            Ok(job) => {
                // A `config` exchange records its answer without the station saying so
                // (`ProvisionerNode::record`): the database before tells. The network the
                // reply's client asks for next is the one it changed.
                let before = session.station.cdb().clone();
                let reply = carry_out(&mut session, &job, &shared).await;
                if session.station.cdb() != &before {
                    refresh(&session.state, &shared, &events);
                }
                let _ = job.reply.send(reply);
                continue;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        if *stop.borrow() {
            break;
        }
        if let Err(e) = idle(&mut session, &queue, &stop).await {
            result = Err(e);
            break;
        }
    }
    session.observe = None;
    let saved = session.save();
    result.and(saved)
}

/// Tells the client tasks and the subscribers that the network database changed.
fn refresh(state: &NetState, shared: &Mutex<Shared>, events: &broadcast::Sender<Arc<str>>) {
    let network = network_json(state);
    let nodes = state.cdb.nodes.len();
    if let Ok(mut s) = shared.lock() {
        s.network = network;
    }
    let _ = events.send(
        json!({"event": "network", "nodes": nodes})
            .to_string()
            .into(),
    );
}

/// Carries out one job: its reply, for its client (if it has not gone).
async fn carry_out(session: &mut Session, job: &Job, shared: &Mutex<Shared>) -> String {
    if let Ok(mut s) = shared.lock() {
        s.busy = Some(job.method.clone());
    }
    let r = match &job.call {
        Call::Exchange {
            dst,
            device_key,
            message,
            expect,
            timeout,
        } => session
            .exchange(*dst, *device_key, message.clone(), *expect, *timeout)
            .await
            .map(|(src, answer)| answer_json(src, &answer)),
        Call::Provision(a) => match check(a, &session.state) {
            Ok(()) => provision_in(session, a).await.map(|(done, failed)| {
                json!({"provisioned": done, "failed": failed.iter().map(|(uuid, why)| json!({"uuid": hex::encode(uuid), "error": why})).collect::<Vec<_>>()})
            }),
            Err(e) => Err(e),
        },
    };
    if let Ok(mut s) = shared.lock() {
        s.busy = None;
        s.answered += 1;
    }
    protocol::outcome(&job.id, r)
}

/// The node's run between requests: until one is queued, the queue closes or `stop`.
async fn idle(
    session: &mut Session,
    queue: &mpsc::Receiver<Job>,
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    let Session {
        store,
        state,
        station,
        radio,
        clock,
        observe,
        ..
    } = session;
    let mut hooks = Idle {
        queue,
        stop,
        store,
        state,
        observe,
        error: None,
    };
    drive_with(station, radio, clock, None, &mut hooks)
        .await
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    match hooks.error.take() {
        Some(e) => fail(Exit::Unavailable, e),
        None => Ok(()),
    }
}

struct Idle<'a> {
    queue: &'a mpsc::Receiver<Job>,
    stop: &'a watch::Receiver<bool>,
    store: &'a crate::store::Store,
    state: &'a mut NetState,
    observe: &'a mut Option<crate::ops::Observer>,
    error: Option<String>,
}

impl Hooks<ProvisionerNode<ChaCha8Rng>> for &mut Idle<'_> {
    fn on_event(
        &mut self,
        st: &mut ProvisionerNode<ChaCha8Rng>,
        now: Instant,
        e: ProvisionerNodeEvent,
    ) -> Flow {
        if matches!(
            e,
            ProvisionerNodeEvent::Node(Event::PersistState) | ProvisionerNodeEvent::DatabaseChanged
        ) {
            if let Err(err) = persist(self.store, self.state, st) {
                self.error = Some(format!("cannot save the network state: {err}"));
                return Flow::Stop;
            }
        }
        if let Some(o) = self.observe.as_mut() {
            o(now, &e, self.state);
        }
        Flow::Continue
    }

    fn tick_every(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn on_tick(&mut self, _: &mut ProvisionerNode<ChaCha8Rng>, _: Instant) -> Flow {
        if !self.queue.is_empty() || self.queue.is_closed() || *self.stop.borrow() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn on_radio_error(
        &mut self,
        _: &mut ProvisionerNode<ChaCha8Rng>,
        _: Instant,
        e: &RadioError,
    ) -> Flow {
        self.error = Some(format!("the radio failed: {e}"));
        Flow::Stop
    }
}

/// The event line a subscriber gets for what the station reported, if any.
pub(crate) fn event_line(e: &ProvisionerNodeEvent) -> Option<String> {
    let hex4 = |a: u16| format!("{a:04x}");
    let v = match e {
        ProvisionerNodeEvent::Node(Event::Access {
            src,
            dst,
            message,
            rssi,
            ttl,
            ..
        }) => {
            let status = ModelMessage::parse(message.opcode, &message.parameters)
                .ok()
                .map(|m| m.describe());
            json!({"event": "access", "src": hex4(src.0), "dst": hex4(dst.0),
                "opcode": hex::encode(message.opcode.to_bytes()), "name": message.name(),
                "parameters": hex::encode(&message.parameters), "status": status,
                "rssi": rssi, "ttl": ttl})
        }
        ProvisionerNodeEvent::Provisioner(ProvisionerEvent::Session { device_uuid, event }) => {
            // The step's name (its fields carry keys, and the outcome comes as its own event).
            let step = format!("{event:?}");
            let name = step.split(['(', ' ', '{']).next().unwrap_or_default();
            json!({"event": "provision", "uuid": hex::encode(device_uuid), "step": name})
        }
        ProvisionerNodeEvent::AddressAssigned {
            device_uuid,
            address,
            elements,
        } => json!({"event": "provision", "uuid": hex::encode(device_uuid), "step": "address",
            "address": hex4(address.get()), "elements": elements}),
        ProvisionerNodeEvent::Provisioned {
            device_uuid,
            provisioned,
        } => json!({"event": "provision", "uuid": hex::encode(device_uuid), "step": "provisioned",
            "address": hex4(provisioned.data.unicast_address.get()),
            "elements": provisioned.number_of_elements}),
        ProvisionerNodeEvent::Failed {
            device_uuid,
            reason,
        } => json!({"event": "provision", "uuid": hex::encode(device_uuid), "step": "failed",
            "reason": reason.to_string()}),
        ProvisionerNodeEvent::Config(c) => match c {
            ConfigClientEvent::Answered { node, request, .. } => json!({"event": "config",
                "node": hex4(node.get()), "step": "answered", "request": request.opcode().name()}),
            ConfigClientEvent::Done { node } => {
                json!({"event": "config", "node": hex4(node.get()), "step": "done"})
            }
            ConfigClientEvent::Failed { node, reason, .. } => json!({"event": "config",
                "node": hex4(node.get()), "step": "failed", "reason": format!("{reason:?}")}),
        },
        _ => return None,
    };
    Some(v.to_string())
}
