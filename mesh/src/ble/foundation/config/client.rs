//! The Configuration Client's procedures (Mesh Protocol 1.1 §4.4.2), sans-IO: which Config
//! message to send to which node next, which status answers it, when to send it again and when
//! to give up. It owns no radio, clock or node: the caller sends what [`ConfigClient::poll_request`]
//! returns with the node's device key, feeds every access message it receives to
//! [`ConfigClient::handle_message`], and shows or records the [`ConfigClientEvent`]s
//! (`CdbNode::record` learns from the answers).
//!
//! Each node has a queue of requests, sent one at a time: the next goes out once the status of
//! the previous one came back with success. Queues of different nodes run side by side.
//!
//! [`ConfigClient::configure`] queues the configuration of a node just provisioned: Composition
//! Data Get (page 0), AppKey Add, and, once the composition is known, a Model App Bind of the
//! application key to every model but the Configuration Server and Client (they are secured
//! with the device key, MshPRT §4.4.1), optionally Model Subscription Add and Model Publication
//! Set.

use std::collections::VecDeque;

use crate::ble::address::{Address, UnicastAddress};
use crate::ble::wire::access::AccessMessage;
use crate::ble::wire::Error;
use crate::{Duration, Instant};

use super::{ConfigMessage, Publication, PublishPeriod, Retransmit, StatusCode};
use crate::ble::foundation::composition::CompositionDataPage0;
use crate::ble::models::{KeyIndex, ModelId};

/// How long a request waits for its status before it is sent again (weft's choice; the
/// specification leaves retries to the client, MshPRT §3.7.3.1 only says acknowledged messages
/// may be resent with a new sequence number).
pub const DEFAULT_RETRY: Duration = Duration::from_secs(2);
/// How many times a request is sent before the client gives up on the node.
pub const DEFAULT_TRIES: u8 = 4;

/// The models [`ConfigClient::configure`] subscribes to `plan.subscribe`: the servers of the
/// models weft knows that act on group messages (MshMDL §7.3 model identifiers).
pub const SUBSCRIBE_MODELS: [ModelId; 3] = [
    ModelId::GENERIC_ONOFF_SERVER,
    ModelId::GENERIC_LEVEL_SERVER,
    ModelId::SENSOR_SERVER,
];

/// The models [`ConfigClient::configure`] sets to publish to `plan.publish`: the clients, and
/// the Sensor Server, which publishes its readings (MshMDL §4.3.1.1, §7.3).
pub const PUBLISH_MODELS: [ModelId; 4] = [
    ModelId::GENERIC_ONOFF_CLIENT,
    ModelId::GENERIC_LEVEL_CLIENT,
    ModelId::SENSOR_CLIENT,
    ModelId::SENSOR_SERVER,
];

/// What to configure on a node just provisioned (see [`ConfigClient::configure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigurePlan {
    /// The NetKey the application key is bound to.
    pub net_key_index: KeyIndex,
    /// The application key's index.
    pub app_key_index: KeyIndex,
    /// The application key.
    pub app_key: [u8; 16],
    /// Subscribe the node's server models ([`SUBSCRIBE_MODELS`]) to this address.
    pub subscribe: Option<Address>,
    /// Set the node's publishing models ([`PUBLISH_MODELS`]) to publish to this address.
    pub publish: Option<Address>,
}

/// Why a node's queue stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFailure {
    /// The status carried this Status Code (MshPRT §4.3.5), not Success.
    Refused(StatusCode),
    /// The status did not parse (or its Composition Data page 0 did not).
    Malformed(Error),
    /// No status after this many tries.
    NoAnswer {
        /// The number of times the request was sent.
        tries: u8,
    },
}

impl core::fmt::Display for ConfigFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigFailure::Refused(code) => write!(f, "the node answered {code}"),
            ConfigFailure::Malformed(e) => write!(f, "the status does not parse: {e}"),
            ConfigFailure::NoAnswer { tries } => write!(f, "no answer after {tries} tries"),
        }
    }
}

/// What the client has to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigClientEvent {
    /// A status answered a request (with success or not): callers record it
    /// (`CdbNode::record`) and show it.
    Answered {
        /// The node.
        node: UnicastAddress,
        /// The request it answers.
        request: ConfigMessage,
        /// The status.
        status: ConfigMessage,
    },
    /// The node's queue stopped: the status carried an error code, did not parse, or never
    /// came. The requests still queued for the node are dropped.
    Failed {
        /// The node.
        node: UnicastAddress,
        /// The request that failed.
        request: ConfigMessage,
        /// Why.
        reason: ConfigFailure,
    },
    /// Every request queued for the node was answered with success.
    Done {
        /// The node.
        node: UnicastAddress,
    },
}

/// One queued request; the Composition Data Get of [`ConfigClient::configure`] carries the
/// plan of what follows it.
#[derive(Debug, Clone)]
struct Step {
    request: ConfigMessage,
    plan: Option<ConfigurePlan>,
}

#[derive(Debug, Clone)]
struct Queue {
    node: UnicastAddress,
    steps: VecDeque<Step>,
    /// When the front step was last sent.
    sent_at: Option<Instant>,
    /// How many times it was sent.
    tries: u8,
}

/// The Configuration Client's request queues, one per node.
#[derive(Debug, Clone)]
pub struct ConfigClient {
    retry: Duration,
    tries: u8,
    /// In the order the nodes were first queued (requests go out in that order).
    queues: Vec<Queue>,
    events: VecDeque<ConfigClientEvent>,
}

impl Default for ConfigClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigClient {
    /// A client that sends a request again after [`DEFAULT_RETRY`] without its status, and
    /// gives up after [`DEFAULT_TRIES`] tries.
    pub fn new() -> Self {
        Self::with_retry(DEFAULT_RETRY, DEFAULT_TRIES)
    }

    /// A client that sends a request again after `retry`, `tries` times in all (at least once).
    pub fn with_retry(retry: Duration, tries: u8) -> Self {
        ConfigClient {
            retry,
            tries: tries.max(1),
            queues: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Queues `msg` to `node`, after any request already queued for it. Returns `false` (and
    /// queues nothing) when `msg` is not a request that a status answers.
    pub fn request(&mut self, node: UnicastAddress, msg: ConfigMessage) -> bool {
        if msg.status_opcode().is_none() {
            return false;
        }
        self.push(
            node,
            Step {
                request: msg,
                plan: None,
            },
        );
        true
    }

    /// Queues the configuration of a node just provisioned: Composition Data Get (page 0),
    /// AppKey Add (`plan.app_key`), then, once the composition is known, for every model of
    /// every element: Model App Bind of the application key (all models but the Configuration
    /// Server and Client); Model Subscription Add of `plan.subscribe` ([`SUBSCRIBE_MODELS`]);
    /// Model Publication Set to `plan.publish` with the application key, the Default TTL, no
    /// periodic publishing and no retransmissions ([`PUBLISH_MODELS`]).
    pub fn configure(&mut self, node: UnicastAddress, plan: ConfigurePlan) {
        self.push(
            node,
            Step {
                // MshPRT §4.2.2.1: page 0 is the one every node has.
                request: ConfigMessage::CompositionDataGet { page: 0 },
                plan: Some(plan),
            },
        );
        self.push(
            node,
            Step {
                request: ConfigMessage::AppKeyAdd {
                    net_key_index: plan.net_key_index,
                    app_key_index: plan.app_key_index,
                    key: plan.app_key,
                },
                plan: None,
            },
        );
    }

    fn push(&mut self, node: UnicastAddress, step: Step) {
        match self.queues.iter_mut().find(|q| q.node == node) {
            Some(q) => q.steps.push_back(step),
            None => self.queues.push(Queue {
                node,
                steps: VecDeque::from([step]),
                sent_at: None,
                tries: 0,
            }),
        }
    }

    /// Drops every request queued for `node` (no event).
    pub fn cancel(&mut self, node: UnicastAddress) {
        self.queues.retain(|q| q.node != node);
    }

    /// Whether requests to `node` are queued.
    pub fn is_busy(&self, node: UnicastAddress) -> bool {
        self.queues.iter().any(|q| q.node == node)
    }

    /// Whether requests to any node are queued.
    pub fn is_idle(&self) -> bool {
        self.queues.is_empty()
    }

    /// The next Config message to send now, to `node` with its device key: a node's current
    /// request when first due, or again when `retry` passed without its status. A request sent
    /// `tries` times gives up here ([`ConfigClientEvent::Failed`]). Call until `None`.
    pub fn poll_request(&mut self, now: Instant) -> Option<(UnicastAddress, AccessMessage)> {
        let mut i = 0;
        while i < self.queues.len() {
            let q = &mut self.queues[i];
            let Some(step) = q.steps.front() else {
                self.queues.remove(i);
                continue;
            };
            let due = q
                .sent_at
                .is_none_or(|t| now.saturating_since(t) >= self.retry);
            if !due {
                i += 1;
                continue;
            }
            if q.tries >= self.tries {
                let (node, tries, request) = (q.node, q.tries, step.request.clone());
                self.queues.remove(i);
                self.events.push_back(ConfigClientEvent::Failed {
                    node,
                    request,
                    reason: ConfigFailure::NoAnswer { tries },
                });
                continue;
            }
            q.sent_at = Some(now);
            q.tries += 1;
            return Some((q.node, step.request.to_access()));
        }
        None
    }

    /// A message received (any access message from any source). Returns whether it was the
    /// status a node's current request waits for: one with the request's status opcode from
    /// the node (its Configuration Server is on the primary element, MshPRT §4.4.1), after the
    /// request went out. Such a status moves the node's queue on, or stops it.
    pub fn handle_message(&mut self, now: Instant, src: Address, msg: &AccessMessage) -> bool {
        let _ = now;
        let Some(i) = self.queues.iter().position(|q| q.node.get() == src.0) else {
            return false;
        };
        let q = &mut self.queues[i];
        let Some(step) = q.steps.front() else {
            return false;
        };
        if q.sent_at.is_none() || step.request.status_opcode() != Some(msg.opcode) {
            return false;
        }
        let (node, request, plan) = (q.node, step.request.clone(), step.plan);
        let status = match ConfigMessage::from_access(msg) {
            Ok(s) => s,
            Err(e) => {
                self.fail(i, ConfigFailure::Malformed(e));
                return true;
            }
        };
        if let Some(code) = status.status().filter(|c| !c.is_success()) {
            self.events.push_back(ConfigClientEvent::Answered {
                node,
                request,
                status,
            });
            self.fail(i, ConfigFailure::Refused(code));
            return true;
        }
        let mut planned = Vec::new();
        if let (Some(plan), ConfigMessage::CompositionDataStatus { page, data }) = (plan, &status) {
            // MshPRT §4.3.2.5: the page asked for, 0, whose layout is §4.2.2.1.
            let page0 = if *page == 0 {
                CompositionDataPage0::parse(data)
            } else {
                Err(Error::Invalid {
                    field: "Composition Data page",
                    value: u32::from(*page),
                })
            };
            match page0 {
                Ok(p) => planned = plan_for(node, &p, &plan),
                Err(e) => {
                    self.fail(i, ConfigFailure::Malformed(e));
                    return true;
                }
            }
        }
        let q = &mut self.queues[i];
        q.steps.pop_front();
        // The planned requests follow the AppKey Add queued after the Composition Data Get.
        let at = q.steps.len().min(1);
        for (k, request) in planned.into_iter().enumerate() {
            q.steps.insert(
                at + k,
                Step {
                    request,
                    plan: None,
                },
            );
        }
        q.sent_at = None;
        q.tries = 0;
        let done = q.steps.is_empty();
        self.events.push_back(ConfigClientEvent::Answered {
            node,
            request,
            status,
        });
        if done {
            self.queues.remove(i);
            self.events.push_back(ConfigClientEvent::Done { node });
        }
        true
    }

    /// Ends queue `i` with a failure of its current request.
    fn fail(&mut self, i: usize, reason: ConfigFailure) {
        if i >= self.queues.len() {
            return;
        }
        let q = self.queues.remove(i);
        if let Some(step) = q.steps.into_iter().next() {
            self.events.push_back(ConfigClientEvent::Failed {
                node: q.node,
                request: step.request,
                reason,
            });
        }
    }

    /// When [`Self::poll_request`] has something to do next: a request to send again, or to
    /// give up on; a request never sent is due at once ([`Instant::ZERO`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter(|q| !q.steps.is_empty())
            .map(|q| q.sent_at.map_or(Instant::ZERO, |t| t + self.retry))
            .min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ConfigClientEvent> {
        self.events.pop_front()
    }
}

/// The binds, subscriptions and publications [`ConfigClient::configure`] asks of a node with
/// composition `page`, element by element, model by model.
fn plan_for(
    node: UnicastAddress,
    page: &CompositionDataPage0,
    plan: &ConfigurePlan,
) -> Vec<ConfigMessage> {
    let foundation = [ModelId::CONFIG_SERVER, ModelId::CONFIG_CLIENT];
    let mut out = Vec::new();
    for (i, el) in page.elements.iter().enumerate() {
        // MshPRT §3.4.2.2: element i has the primary address + i; a composition with more
        // elements than unicast addresses left is cut short.
        let Some(element) = u16::try_from(i)
            .ok()
            .and_then(|i| node.get().checked_add(i))
            .and_then(UnicastAddress::new)
        else {
            break;
        };
        let element = Address::from(element);
        for model in el.models() {
            if !foundation.contains(&model) {
                out.push(ConfigMessage::ModelAppBind {
                    element,
                    app_key_index: plan.app_key_index,
                    model,
                });
            }
            if let (Some(address), true) = (plan.subscribe, SUBSCRIBE_MODELS.contains(&model)) {
                out.push(ConfigMessage::ModelSubscriptionAdd {
                    element,
                    address,
                    model,
                });
            }
            if let (Some(address), true) = (plan.publish, PUBLISH_MODELS.contains(&model)) {
                out.push(ConfigMessage::ModelPublicationSet {
                    element,
                    address,
                    publication: Publication {
                        app_key_index: plan.app_key_index,
                        credential_flag: false,
                        ttl: Publication::TTL_USE_DEFAULT,
                        // MshPRT §4.2.3.5, §4.2.3.7: no periodic publishing, no retransmission.
                        period: PublishPeriod::from_byte(0),
                        retransmit: Retransmit::default(),
                    },
                    model,
                });
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
