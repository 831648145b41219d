//! Operator commands through a Proxy Server (MshPRT §6.8): `weft send --proxy ADDR`,
//! `weft config ... --proxy ADDR`, and every operator command on a `gatt:ADDRESS` radio.
//!
//! The store's node becomes a [`ProxyClient`] whose only bearer is one GATT connection. With
//! `--proxy ADDR` the proxy's device address is first found from its Node Identity advertising
//! (§7.2.2.2.3, or Private Node Identity, §7.2.2.2.5: the hash of a Random and ADDR under the
//! subnet's IdentityKey, [`crate::radios::proxies::resolve`]); a proxy advertises its Node
//! Identity only for a while after being asked (§4.2.12), so while none is heard the node asks
//! ADDR for it over the advertising bearer with Config Node Identity Set (§4.3.2.13, device
//! key) every [`ASK_EVERY`]. On `gatt:ADDRESS` the radio reaches that address only: it is the
//! proxy. Once connected the client adds its address to the proxy's accept list (§6.6.2, the
//! Filter Status answers), then sends the request and waits for the answer as
//! `ops::Session::request` does over the advertising bearer.

use std::collections::VecDeque;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft_mesh::ble::foundation::config::client::ConfigClientEvent;
use weft_mesh::ble::foundation::config::{ConfigMessage, FeatureState};
use weft_mesh::ble::models::KeyIndex;
use weft_mesh::ble::node::{Command, Event, KeyRef, Node};
use weft_mesh::ble::proxy::{ProxyClient, ProxyClientEvent};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::{Address, UnicastAddress};
use weft_mesh::{Bearer, Duration, Instant, RxFrame, Station, TxFrame};
use weft_radio::{Radio, RadioUri};

use crate::error::{fail, Failure};
use crate::ops::OpOpts;
use crate::radios::proxies::{bdaddr, resolve, Advertised, Keys};
use crate::runtime::{drive, drive_with, Clock, Flow, Hooks, RadioArg};
use crate::store::{NetState, Store};
use crate::Exit;

/// How often Config Node Identity Set goes to a proxy not heard advertising its identity.
pub const ASK_EVERY: Duration = Duration::from_secs(2);

/// How the request reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through the proxy node with this primary address, found by its Node Identity.
    Proxy(UnicastAddress),
    /// Through the node the `gatt:ADDRESS` radio reaches.
    Gatt([u8; 6]),
}

/// The route `op` asks for: `--proxy`, or a `gatt:` radio; `None` for the advertising bearer.
pub fn route(op: &OpOpts) -> Option<Route> {
    if let Some(p) = op.proxy.and_then(|a| UnicastAddress::new(a.0)) {
        return Some(Route::Proxy(p));
    }
    match RadioArg::parse(op.radio.as_deref()?) {
        Ok(RadioArg::Radio(RadioUri::Gatt { address, .. })) => Some(Route::Gatt(address)),
        _ => None,
    }
}

/// What the store holds while the command runs.
struct Held {
    store: Store,
    _lock: crate::store::StoreLock,
    state: NetState,
    save_error: Option<String>,
}

impl Held {
    fn persist(&mut self, node: &Node<ChaCha8Rng>) -> Flow {
        self.state.remember(node);
        match self.store.save(&self.state) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                self.save_error = Some(e.to_string());
                Flow::Stop
            }
        }
    }

    /// Gives back the node's unused sequence numbers and saves, best effort: for a command
    /// ending on another error, which is the one to report.
    fn save_at_exit(&mut self, node: &mut Node<ChaCha8Rng>) {
        self.state.remember_at_exit(node);
        let _ = self.store.save(&self.state);
    }

    fn check(&mut self) -> Result<(), Failure> {
        match self.save_error.take() {
            Some(e) => fail(
                Exit::Unavailable,
                format!("cannot save the network state: {e}"),
            ),
            None => Ok(()),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> Failure {
    Failure(Exit::Unavailable, e.to_string())
}

/// Sends `message` to `op.dst` through the proxy `route` names and waits up to `op.timeout`
/// for `expect` from it. Config requests (`device_key`) are recorded in the network database
/// as `ops` records them.
pub async fn request(
    op: &OpOpts,
    route: Route,
    mut message: AccessMessage,
    expect: Opcode,
    device_key: bool,
) -> Result<(Address, AccessMessage), Failure> {
    let store = Store::from_opts(&op.store).map_err(|e| Failure(e.exit(), e.to_string()))?;
    let lock = store.lock().map_err(|e| Failure(e.exit(), e.to_string()))?;
    let state: NetState = store.load().map_err(|e| Failure(e.exit(), e.to_string()))?;
    let Some(mut node) = state.local_node(ChaCha8Rng::from_entropy()) else {
        return fail(Exit::Usage, "the network has no local provisioner node: run `weft net create` or `weft net import` first");
    };
    let keys = state.dev_keys();
    let dst = op.dst;
    if device_key && !keys.iter().any(|(a, _)| a.get() == dst.0) {
        return fail(Exit::Usage, format!("no node with address {dst} in the network database: provision it first (weft provision)"));
    }
    if !keys.is_empty() {
        node.update_state(|s| s.remote_dev_keys = keys);
    }
    let config = crate::ops::config_request(&state, device_key, &mut message)?;
    let key = if device_key {
        KeyRef::Dev
    } else {
        let Some(k) = node.state().app_keys.first() else {
            return fail(Exit::Usage, "the local node has no application key");
        };
        KeyRef::App(k.index)
    };
    let mut held = Held {
        store,
        _lock: lock,
        state,
        save_error: None,
    };
    let mut radio = crate::ops::connect(crate::ops::radio_of(&op.radio)?).await?;
    if !radio.caps().gatt {
        return fail(
            Exit::Usage,
            format!(
                "--proxy: the radio {} has no GATT connections: use a radio that connects (sim:PATH, gatt:ADDRESS)",
                op.radio.as_deref().unwrap_or_default()
            ),
        );
    }
    let clock = Clock::default();
    let deadline = clock.now() + Duration::from_micros((op.timeout.max(0.0) * 1e6) as u64);
    let (node, peer) = match route {
        Route::Gatt(peer) => (node, peer),
        Route::Proxy(proxy) => {
            let mut keys = Keys::of(&held.state);
            keys.nodes = vec![proxy];
            let mut finder = Finder::new(node, proxy, keys);
            let mut hooks = FindHooks {
                held: &mut held,
                found: None,
            };
            drive_with(&mut finder, &mut radio, &clock, Some(deadline), &mut hooks)
                .await
                .map_err(unavailable)?;
            let found = hooks.found;
            held.check()?;
            match found {
                Some(peer) => (finder.node, peer),
                None => {
                    let mut node = finder.node;
                    held.save_at_exit(&mut node);
                    return fail(
                        Exit::Timeout,
                        format!("no Node Identity advertising from proxy {proxy} heard within {} s (is it a proxy node, on the air, and does it answer Config Node Identity Set?)", op.timeout),
                    );
                }
            }
        }
    };
    let mut client = ProxyClient::new(node);
    client.connect_to(peer);
    // Connected, and the proxy's accept list holds this node's address (Filter Status).
    let mut ready = false;
    let mut gone: Option<String> = None;
    drive(
        &mut client,
        &mut radio,
        &clock,
        Some(deadline),
        |c, _, e| match e {
            ProxyClientEvent::Node(Event::PersistState) => held.persist(c.node()),
            ProxyClientEvent::FilterStatus { .. } => {
                ready = true;
                Flow::Stop
            }
            ProxyClientEvent::ConnectFailed { .. } => {
                gone = Some("the connection could not be made".into());
                Flow::Stop
            }
            ProxyClientEvent::Disconnected { reason, .. } => {
                gone = Some(format!("the proxy disconnected ({reason:?})"));
                Flow::Stop
            }
            _ => Flow::Continue,
        },
    )
    .await
    .map_err(unavailable)?;
    held.check()?;
    let via = bdaddr(peer);
    if !ready {
        held.save_at_exit(client.node_mut());
        return fail(
            Exit::Timeout,
            format!(
                "no proxy connection to {via} within {} s: {}",
                op.timeout,
                gone.as_deref().unwrap_or("its filter was not set")
            ),
        );
    }
    let mut answer = None;
    while answer.is_none() && gone.is_none() && clock.now() < deadline {
        let now = clock.now();
        if !client
            .node_mut()
            .handle_command(now, Command::send(dst, key, message.clone()))
        {
            held.save_at_exit(client.node_mut());
            return fail(
                Exit::Refused,
                "the message could not be sent (sequence numbers or keys): try without --proxy for the reason",
            );
        }
        let retry = (clock.now() + crate::ops::RETRY).min(deadline);
        drive(
            &mut client,
            &mut radio,
            &clock,
            Some(retry),
            |c, _, e| match e {
                ProxyClientEvent::Node(Event::PersistState) => held.persist(c.node()),
                ProxyClientEvent::Node(Event::Access { src, message, .. })
                    if message.opcode == expect && (src == dst || dst.is_multicast()) =>
                {
                    answer = Some((src, message));
                    Flow::Stop
                }
                ProxyClientEvent::Disconnected { reason, .. } => {
                    gone = Some(format!("the proxy disconnected ({reason:?})"));
                    Flow::Stop
                }
                _ => Flow::Continue,
            },
        )
        .await
        .map_err(unavailable)?;
        held.check()?;
    }
    if let Some(conn) = client.connection() {
        // A clean end for the proxy (best effort: the process ends anyway).
        let _ = radio.disconnect(conn).await;
    }
    held.state.remember_at_exit(client.node_mut());
    let Some((src, answer)) = answer else {
        let _ = held.store.save(&held.state);
        return fail(
            Exit::Timeout,
            format!(
                "no answer from {dst} through proxy {via} within {} s{}",
                op.timeout,
                gone.map(|g| format!(": {g}")).unwrap_or_default()
            ),
        );
    };
    if let (Some(request), Ok(status), Some(node)) = (
        config,
        ConfigMessage::from_access(&answer),
        UnicastAddress::new(src.0),
    ) {
        let iv = held.state.iv_index;
        held.state.cdb.apply(
            &ConfigClientEvent::Answered {
                node,
                request,
                status,
            },
            iv,
        );
    }
    held.store
        .save(&held.state)
        .map_err(|e| Failure(e.exit(), e.to_string()))?;
    Ok((src, answer))
}

/// What [`Finder`] reports.
#[derive(Debug)]
pub enum Found {
    Node(Event),
    Proxy([u8; 6]),
}

/// The store's node on the advertising bearer, listening for the Node Identity of `proxy`
/// (resolved with `keys`) and asking `proxy` for it with Config Node Identity Set (§4.3.2.13,
/// device key, when the node has it) at once and every [`ASK_EVERY`] while none is heard; the
/// Status is not awaited (the advertising is). `weft send --proxy` runs it on the radio, the
/// HIL simulator backend on the simulated air (`crate::sim::ScenarioStation::Finder`).
#[allow(missing_debug_implementations)]
pub struct Finder {
    node: Node<ChaCha8Rng>,
    keys: Keys,
    proxy: UnicastAddress,
    found: VecDeque<[u8; 6]>,
    /// When to ask next; `None`: at once.
    ask_at: Option<Instant>,
    /// Whether the proxy was heard: no more asking.
    heard: bool,
}

impl Finder {
    pub(crate) fn new(node: Node<ChaCha8Rng>, proxy: UnicastAddress, keys: Keys) -> Finder {
        Finder {
            node,
            keys,
            proxy,
            found: VecDeque::new(),
            ask_at: None,
            heard: false,
        }
    }

    pub(crate) fn node(&self) -> &Node<ChaCha8Rng> {
        &self.node
    }

    pub(crate) fn node_mut(&mut self) -> &mut Node<ChaCha8Rng> {
        &mut self.node
    }

    /// Asks the proxy to advertise its Node Identity on the primary subnet, when its device
    /// key is known.
    fn ask(&mut self, now: Instant) {
        let known = self
            .node
            .state()
            .remote_dev_keys
            .iter()
            .any(|(a, _)| *a == self.proxy);
        let net_index = self.node.state().net_keys.first().map_or(0, |k| k.index);
        if known {
            let ask = ConfigMessage::NodeIdentitySet {
                net_key_index: KeyIndex::from_bits(net_index),
                identity: FeatureState::Enabled,
            };
            self.node.handle_command(
                now,
                Command::send(Address::from(self.proxy), KeyRef::Dev, ask.to_access()),
            );
        }
        self.ask_at = Some(now + ASK_EVERY);
    }
}

impl Station for Finder {
    type Event = Found;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        if let (Bearer::Advertising, Some(a)) = (frame.bearer, frame.adv_address) {
            if let Some(Advertised::Proxy { node: Some(n), .. }) = resolve(&frame.bytes, &self.keys)
            {
                if n == self.proxy && !self.heard {
                    self.heard = true;
                    self.found.push_back(a);
                }
            }
        }
        self.node.handle_frame(now, frame);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        if !self.heard && self.ask_at.is_none_or(|t| now >= t) {
            self.ask(now);
        }
        self.node.poll_transmit(now)
    }
    fn poll_event(&mut self) -> Option<Found> {
        if let Some(a) = self.found.pop_front() {
            return Some(Found::Proxy(a));
        }
        self.node.poll_event().map(Found::Node)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let ask = self.ask_at.filter(|_| !self.heard);
        [self.node.poll_timeout(), ask].into_iter().flatten().min()
    }
    fn handle_timeout(&mut self, now: Instant) {
        if !self.heard && self.ask_at.is_none_or(|t| now >= t) {
            self.ask(now);
        }
        self.node.handle_timeout(now)
    }
}

struct FindHooks<'a> {
    held: &'a mut Held,
    found: Option<[u8; 6]>,
}

impl Hooks<Finder> for &mut FindHooks<'_> {
    fn on_event(&mut self, f: &mut Finder, _now: Instant, e: Found) -> Flow {
        match e {
            Found::Proxy(a) => {
                self.found = Some(a);
                Flow::Stop
            }
            Found::Node(Event::PersistState) => self.held.persist(&f.node),
            Found::Node(_) => Flow::Continue,
        }
    }
}

/// The `gatt:` address of a radio URI, for `weft provision --bearer gatt` on a `gatt:` radio.
pub fn gatt_address(radio: &str) -> Option<[u8; 6]> {
    match RadioArg::parse(radio) {
        Ok(RadioArg::Radio(RadioUri::Gatt { address, .. })) => Some(address),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gatt_radio_is_a_route_and_a_hub_is_not() {
        let a = gatt_address("gatt:C0:11:22:33:44:55").unwrap();
        assert_eq!(a, [0x55, 0x44, 0x33, 0x22, 0x11, 0xC0]);
        assert_eq!(bdaddr(a), "C0:11:22:33:44:55");
        assert_eq!(gatt_address("sim:/tmp/x.sock"), None);
    }
}
