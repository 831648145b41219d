//! The node stack's network scenarios on the simulated air: one `weft_mesh` [`Node`] per
//! station of a [`weft_radio::sim::Simulator`], so every frame takes its airtime on channels 37,
//! 38 and 39, reaches only the receivers scanning that channel and not transmitting, and is lost
//! on a link with the link's probability. The same scenarios run on a hand-driven air in the
//! node's unit tests (mesh/src/ble/node/tests.rs); here they meet the radio model.
//!
//! Virtual time and node counts stay small so the suite runs in seconds in a debug build.

use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha8Rng;
use weft_mesh::ble::address::{Address, IvIndex, UnicastAddress};
use weft_mesh::ble::node::{
    AppKeyState, Command, DropReason, ElementState, Event, KeyRef, KeyRefreshPhase, ModelId,
    ModelState, Node, NodeState,
};
use weft_mesh::ble::wire::access::{AccessMessage, Opcode};
use weft_mesh::ble::wire::Wire;
use weft_mesh::{Bearer, Duration, Instant, RxFrame};
use weft_radio::sim::{
    adv_airtime, station_rng, Link, NodeId, Placement, SimConfig, SimEvent, Simulator,
};

const NET_KEY: [u8; 16] = [0x11; 16];
const APP_KEY: [u8; 16] = [0x22; 16];
/// The living-room group every node's Generic OnOff Server subscribes to.
const GROUP: Address = Address(0xc001);

type Sim = Simulator<Node<ChaCha8Rng>>;
type Trace = Vec<SimEvent<Event>>;
/// A PDU seen on the air: start, sender, channel, advertising data.
type OnAir = (Instant, NodeId, u8, Vec<u8>);
/// What an air tap records, shared with the test.
type Tapped = Arc<Mutex<Vec<OnAir>>>;

/// A provisioned node at `addr` (element 0: Configuration Server, Generic OnOff Server bound to
/// AppKey 0 and subscribed to [`GROUP`]) with the defaults of `NodeState::new`: network transmit
/// count 2, relay retransmit count 2, the specification's SAR settings, beacons on.
fn state(addr: u16, relay: bool) -> NodeState {
    let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
    onoff.app_keys.push(0);
    onoff.subscriptions.push(GROUP);
    let mut st = NodeState::new(
        [addr as u8; 16],
        UnicastAddress::new(addr).unwrap(),
        [addr as u8; 16],
        NET_KEY,
        IvIndex(0x100),
        vec![ElementState {
            location: 0,
            models: vec![ModelState::new(ModelId::CONFIG_SERVER), onoff],
        }],
    );
    st.relay = relay;
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: APP_KEY,
        new_key: None,
    });
    st
}

/// Adds the node of `st` to `sim`; its randomness is stream `index` of the run's seed.
fn add(sim: &mut Sim, seed: u64, st: NodeState, placement: Placement) -> NodeId {
    let index = sim.node_count() as u64;
    sim.add_node(Node::new(st, station_rng(seed, index)), placement)
}

/// A link both ways at -60 dBm.
fn link(sim: &mut Sim, a: NodeId, b: NodeId, loss: f64) {
    sim.set_link(
        a,
        b,
        Link {
            rssi_dbm: -60,
            loss,
        },
    );
}

/// `n` unplaced nodes (addresses 1..=n) in a line of explicit links: each hears only its
/// neighbours.
fn line(sim: &mut Sim, seed: u64, n: usize, relays: bool, loss: f64) -> Vec<NodeId> {
    let ids: Vec<NodeId> = (0..n)
        .map(|i| add(sim, seed, state(1 + i as u16, relays), Placement::Unplaced))
        .collect();
    for w in ids.windows(2) {
        link(sim, w[0], w[1], loss);
    }
    ids
}

/// Generic OnOff Set Unacknowledged (MshMDL §3.2.1.3): OnOff, TID.
fn onoff_set(on: bool, tid: u8) -> AccessMessage {
    AccessMessage::new(Opcode::Two(0x8203), vec![u8::from(on), tid])
}

fn send(dst: Address, ttl: Option<u8>, message: AccessMessage) -> Command {
    Command::Send {
        element: 0,
        dst,
        label: None,
        key: KeyRef::App(0),
        net_index: 0,
        ttl,
        message,
    }
}

/// Has `node` run `cmd` at `at`; the command must be accepted.
fn schedule_send(sim: &mut Sim, at: Instant, node: NodeId, cmd: Command) {
    sim.schedule(at, node, move |n, now| {
        assert!(n.handle_command(now, cmd), "the node refused to send");
    });
}

/// Runs until `until` and appends the events to `trace`.
fn run(sim: &mut Sim, until: Instant, trace: &mut Trace) {
    sim.run_until(until);
    trace.extend(sim.drain_events());
}

/// The station events of `node`, with their times.
fn station_events(trace: &Trace, node: NodeId) -> Vec<(Instant, &Event)> {
    trace
        .iter()
        .filter_map(|e| match e {
            SimEvent::Station { at, node: n, event } if *n == node => Some((*at, event)),
            _ => None,
        })
        .collect()
}

/// The access messages `node` received: (time, src, ttl, message).
fn accesses(trace: &Trace, node: NodeId) -> Vec<(Instant, Address, u8, AccessMessage)> {
    station_events(trace, node)
        .into_iter()
        .filter_map(|(at, e)| match e {
            Event::Access {
                src, ttl, message, ..
            } => Some((at, *src, *ttl, message.clone())),
            _ => None,
        })
        .collect()
}

fn secs(s: u64) -> Instant {
    Instant::from_micros(s * 1_000_000)
}

fn millis(ms: u64) -> Instant {
    Instant::from_micros(ms * 1_000)
}

fn hours(h: u64) -> Instant {
    secs(h * 3600)
}

/// Eight nodes 50 m apart on a line, placed by position: with the default path-loss model
/// (0 dBm, 40 dB at 1 m, n = 3, -95 dBm sensitivity: about 68 m of range) each hears only its
/// neighbours, so a message from one end to the other takes six relay hops.
#[test]
fn delivery_over_six_relay_hops() {
    let seed = 7;
    let mut sim = Sim::new(SimConfig::default(), seed);
    let ids: Vec<NodeId> = (0..8)
        .map(|i| {
            let st = state(1 + i as u16, (1..7).contains(&i));
            let at = Placement::At {
                x: 50.0 * i as f64,
                y: 0.0,
            };
            add(&mut sim, seed, st, at)
        })
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        let mut heard: Vec<usize> = sim.neighbours(id).iter().map(|(n, _)| n.index()).collect();
        heard.sort_unstable();
        let expected: Vec<usize> = [i.checked_sub(1), (i + 1 < 8).then_some(i + 1)]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(heard, expected, "node {i} hears only its neighbours");
    }
    let message = onoff_set(true, 1);
    let t0 = secs(1);
    schedule_send(
        &mut sim,
        t0,
        ids[0],
        send(Address(8), Some(10), message.clone()),
    );
    let mut trace = Trace::new();
    run(&mut sim, secs(5), &mut trace);

    let got = accesses(&trace, ids[7]);
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    let (at, src, ttl, m) = &got[0];
    assert_eq!(*src, Address(1));
    assert_eq!(*ttl, 10 - 6, "six relays each take one off the TTL");
    assert_eq!(*m, message);
    // Seven transmissions in a row, each at least one PDU's airtime: an Access PDU of 2 + 4
    // octets of access payload makes a 22-octet network PDU in a 24-octet AD structure.
    let airtime = adv_airtime(24);
    assert!(
        *at >= t0 + Duration::from_micros(7 * airtime.as_micros()),
        "arrived at {at:?}, before seven airtimes had passed"
    );
    // Each relay forwarded the message exactly once; the ends never did.
    for (i, &id) in ids.iter().enumerate() {
        let relayed = station_events(&trace, id)
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Event::Relayed {
                        src: Address(1),
                        ..
                    }
                )
            })
            .count();
        let expected = usize::from((1..7).contains(&i));
        assert_eq!(relayed, expected, "node {i} relayed {relayed} times");
    }
    // And nobody else got an access message (unicast to node 8).
    for &id in &ids[..7] {
        assert!(accesses(&trace, id).is_empty(), "{id} got the message");
    }
}

/// A vendor message whose access payload is 380 octets (3-octet opcode + 377): 32 segments,
/// the most a segmented access message can have (MshPRT §3.5.2.2).
fn large_message(tag: u8) -> AccessMessage {
    let params: Vec<u8> = (0..377u32)
        .map(|i| (i * 7 + u32::from(tag)) as u8)
        .collect();
    let m = AccessMessage::new(
        Opcode::Vendor {
            opcode: 0x01,
            company_id: 0x05f1,
        },
        params,
    );
    assert_eq!(m.to_vec().len(), 380);
    m
}

/// What became of one segmented transfer.
#[derive(Debug, PartialEq, Eq)]
struct SarRun {
    /// The access messages the receiver got.
    delivered: Vec<AccessMessage>,
    /// The sender's Sar events: (outcome, segments); `None` is success.
    sar: Vec<(Option<weft_mesh::ble::transport::sar::SarTxError>, u8)>,
    /// Segment Acknowledgments the receiver sent.
    acks: usize,
    /// PDUs the link lost (loss draws only).
    lost: u64,
}

/// 380 octets from node 1 to node 2 over one link that loses 30 % of PDUs each way, with the
/// nodes' default SAR settings (MshPRT §4.2: two unicast retransmission rounds) and network
/// transmit count 2, for 20 virtual seconds.
fn segmented_at_30_percent(seed: u64) -> (AccessMessage, SarRun) {
    let mut sim = Sim::new(SimConfig::default(), seed);
    let a = add(&mut sim, seed, state(1, false), Placement::Unplaced);
    let b = add(&mut sim, seed, state(2, false), Placement::Unplaced);
    link(&mut sim, a, b, 0.3);
    assert_eq!(sim.node(a).state().network_transmit.count, 2);
    let message = large_message(seed as u8);
    schedule_send(
        &mut sim,
        millis(500),
        a,
        send(Address(2), None, message.clone()),
    );
    let mut trace = Trace::new();
    run(&mut sim, secs(20), &mut trace);
    let sar = station_events(&trace, a)
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Sar {
                outcome, segments, ..
            } => Some((*outcome, *segments)),
            _ => None,
        })
        .collect();
    // Segment Acknowledgments are the receiver's only control messages here.
    let acks = station_events(&trace, b)
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Sent {
                    ctl: true,
                    dst: Address(1),
                    ..
                }
            )
        })
        .count();
    let run = SarRun {
        delivered: accesses(&trace, b).into_iter().map(|g| g.3).collect(),
        sar,
        acks,
        lost: sim.stats().dropped.loss,
    };
    (message, run)
}

/// The claim, for every seed: a 380-octet message to a unicast address at 30% loss is
/// delivered and acknowledged. It holds on the simulator because controllers add advDelay
/// (0..=10 ms, Core v5.4 Vol 6 Part B §4.4.2.2.1) before each advertising event; without it,
/// segment retransmissions and acknowledgments lock in step every 20 ms and half-duplex each
/// other (seeds 19, 25 and 29 failed so before the simulator modelled advDelay).
#[test]
fn segmented_380_octets_at_30_percent_loss_every_time() {
    for seed in 0..48u64 {
        let (message, run) = segmented_at_30_percent(seed);
        assert_eq!(
            run.delivered,
            vec![message],
            "seed {seed}: delivered exactly once"
        );
        assert_eq!(
            run.sar,
            vec![(None, 32)],
            "seed {seed}: the sender saw every segment acknowledged"
        );
        assert!(run.acks >= 1, "seed {seed}: no acknowledgment sent");
    }
}

/// What holds at 30 % loss on the simulator for every seed: never a second or a corrupted
/// delivery, one SAR outcome for the 32 segments, success reported only for a delivered
/// message; and nearly every transfer (all but the lock-step cases above) succeeds.
#[test]
fn segmented_380_octets_at_30_percent_loss() {
    let seeds = 48u64;
    let mut complete = 0;
    let mut lost = 0;
    for seed in 0..seeds {
        let (message, run) = segmented_at_30_percent(seed);
        lost += run.lost;
        assert!(run.delivered.len() <= 1, "seed {seed}: delivered twice");
        assert!(
            run.delivered.iter().all(|m| *m == message),
            "seed {seed}: delivered something else"
        );
        assert_eq!(run.sar.len(), 1, "seed {seed}: one outcome: {:?}", run.sar);
        assert_eq!(run.sar[0].1, 32, "seed {seed}: 32 segments");
        if run.sar[0].0.is_none() {
            assert_eq!(
                run.delivered.len(),
                1,
                "seed {seed}: success without delivery"
            );
            assert!(
                run.acks >= 1,
                "seed {seed}: success without an acknowledgment"
            );
            complete += 1;
        }
    }
    assert!(
        lost > 0,
        "the link lost nothing: the loss model is not in play"
    );
    assert!(
        complete * 100 >= seeds * 90,
        "{complete} of {seeds} transfers acknowledged in full"
    );
}

/// A PDU captured from the air and played again to its receiver is rejected: at once by the
/// network message cache, and once the cache has forgotten it, by the replay protection list
/// (MshPRT §3.4.6.5, §3.9.8).
#[test]
fn replayed_pdu_is_rejected() {
    let seed = 3;
    let mut sim = Sim::new(SimConfig::default(), seed);
    let a = add(&mut sim, seed, state(1, false), Placement::Unplaced);
    let b = add(&mut sim, seed, state(2, false), Placement::Unplaced);
    link(&mut sim, a, b, 0.0);
    // The attacker's receiver: every PDU a puts on the air.
    let air: Tapped = Arc::default();
    let tap = Arc::clone(&air);
    sim.set_air_tap(move |f| {
        if f.node == NodeId(0) {
            tap.lock()
                .unwrap()
                .push((f.start, f.node, f.channel, f.bytes.to_vec()));
        }
    });
    let first = onoff_set(true, 1);
    schedule_send(
        &mut sim,
        millis(100),
        a,
        send(Address(2), None, first.clone()),
    );
    let mut trace = Trace::new();
    run(&mut sim, secs(1), &mut trace);
    assert_eq!(accesses(&trace, b).len(), 1);
    // The first Mesh Message (AD type 0x2A) a sent after the command: the one b accepted.
    let captured = air
        .lock()
        .unwrap()
        .iter()
        .find(|(t, _, _, bytes)| *t >= millis(100) && bytes.get(1) == Some(&0x2A))
        .map(|(_, _, _, bytes)| bytes.clone())
        .expect("a's message on the air");
    let replay_at = |sim: &mut Sim, at: Instant| {
        let bytes = captured.clone();
        sim.schedule(at, b, move |n, now| {
            weft_mesh::Station::handle_frame(
                n,
                now,
                &RxFrame {
                    lqi: None,
                    bearer: Bearer::Advertising,
                    channel: 37,
                    rssi: Some(-60),
                    timestamp: now,
                    adv_address: None,
                    bytes,
                },
            )
        });
    };
    let events_at = |trace: &Trace, at: Instant| -> Vec<Event> {
        station_events(trace, b)
            .into_iter()
            .filter(|(t, _)| *t == at)
            .map(|(_, e)| e.clone())
            .collect()
    };

    // Replayed at once: a copy the cache has seen.
    let t1 = millis(1500);
    replay_at(&mut sim, t1);
    run(&mut sim, secs(2), &mut trace);
    assert_eq!(
        events_at(&trace, t1),
        vec![Event::Dropped {
            reason: DropReason::Duplicate
        }]
    );

    // a sends more messages than the cache holds (512), every 40 ms (each takes three
    // advertising events of about 6 ms with advDelay: the queue keeps up).
    let n = 530u64;
    for k in 0..n {
        let at = secs(2) + Duration::from_millis(40 * k);
        schedule_send(
            &mut sim,
            at,
            a,
            send(Address(2), None, onoff_set(k % 2 == 0, k as u8)),
        );
    }
    let flood_end = secs(2) + Duration::from_millis(40 * n) + Duration::from_secs(1);
    run(&mut sim, flood_end, &mut trace);
    assert_eq!(
        accesses(&trace, b).len() as u64,
        1 + n,
        "every new message got through"
    );

    // Replayed after the cache forgot it: the replay protection list stops it.
    let t2 = flood_end + Duration::from_secs(1);
    replay_at(&mut sim, t2);
    run(&mut sim, t2 + Duration::from_secs(1), &mut trace);
    assert_eq!(
        events_at(&trace, t2),
        vec![Event::Dropped {
            reason: DropReason::Replay
        }]
    );
    assert_eq!(
        accesses(&trace, b).len() as u64,
        1 + n,
        "no second delivery"
    );
}

/// The IV Update (MshPRT §3.11.5) spreads from its initiator over a line of four relays by
/// secure network beacons, ends after 96 hours; a fifth node out of range all along (no link)
/// missed it and recovers the IV Index from the first beacons it hears (§3.11.6) once it is
/// linked to the network.
#[test]
fn iv_update_across_the_network_and_recovery_of_a_sleeper() {
    let seed = 11;
    let cfg = SimConfig {
        // 100 hours of beacons: keep counters only.
        medium_events: false,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cfg, seed);
    let ids = line(&mut sim, seed, 4, true, 0.1);
    let sleeper = add(&mut sim, seed, state(5, true), Placement::Unplaced);
    sim.schedule(secs(1), ids[0], |n, now| {
        assert!(n.handle_command(now, Command::StartIvUpdate));
    });
    let mut trace = Trace::new();
    run(&mut sim, hours(1), &mut trace);
    for &id in &ids {
        let st = sim.node(id).state();
        assert_eq!(st.iv_index, IvIndex(0x101), "{id} follows the initiator");
        assert!(st.iv_update, "{id} is in IV Update in Progress");
        assert_eq!(
            sim.node(id).tx_iv_index(),
            IvIndex(0x100),
            "{id} transmits with the old index meanwhile"
        );
    }
    // Messages still flow during the update.
    let t = hours(1) + Duration::from_secs(1);
    schedule_send(
        &mut sim,
        t,
        ids[3],
        send(Address(1), None, onoff_set(true, 1)),
    );
    run(&mut sim, t + Duration::from_secs(2), &mut trace);
    assert_eq!(
        accesses(&trace, ids[0]).len(),
        1,
        "delivery during the update"
    );

    run(&mut sim, hours(97), &mut trace);
    for &id in &ids {
        assert!(
            !sim.node(id).state().iv_update,
            "{id}: normal operation again after 96 hours"
        );
        assert_eq!(sim.node(id).tx_iv_index(), IvIndex(0x101));
    }
    let st = sim.node(sleeper).state();
    assert_eq!(
        (st.iv_index, st.iv_update),
        (IvIndex(0x100), false),
        "the sleeper missed it"
    );

    // The sleeper wakes beside node 4.
    link(&mut sim, ids[3], sleeper, 0.1);
    let wake = sim.now();
    run(&mut sim, wake + Duration::from_secs(30), &mut trace);
    let st = sim.node(sleeper).state();
    assert_eq!(
        (st.iv_index, st.iv_update),
        (IvIndex(0x101), false),
        "IV Index Recovery"
    );
    // And it talks to the far end again, three relays away.
    let t = sim.now() + Duration::from_secs(1);
    let before = accesses(&trace, ids[0]).len();
    schedule_send(
        &mut sim,
        t,
        sleeper,
        send(Address(1), None, onoff_set(false, 2)),
    );
    run(&mut sim, t + Duration::from_secs(2), &mut trace);
    let got = accesses(&trace, ids[0]);
    assert_eq!(got.len(), before + 1, "the sleeper's message arrived");
    assert_eq!(got[before].1, Address(5));
}

/// Key Refresh (MshPRT §3.11.4) over a line of 20 relays at 10 % loss: phase 1 by
/// configuration on every node, phase 2 and phase 3 started at one node and carried along by
/// secure network beacons; messages flow in each phase, and a node still holding only the old
/// key is shut out at the end.
#[test]
fn key_refresh_phases_across_twenty_nodes() {
    let seed = 5;
    let n = 20;
    let mut sim = Sim::new(SimConfig::default(), seed);
    let ids = line(&mut sim, seed, n, true, 0.1);
    let new_net = [0x33; 16];
    let new_app = [0x44; 16];
    // Phase 1: the new keys are distributed (what Config NetKey Update and AppKey Update do).
    for &id in &ids {
        let node = sim.node_mut(id);
        node.update_state(|s| {
            s.net_keys[0].new_key = Some(new_net);
            s.app_keys[0].new_key = Some(new_app);
        });
        node.set_key_refresh_phase(0, KeyRefreshPhase::First);
    }
    let last = Address(n as u16);
    let mut trace = Trace::new();
    let check_delivery = |sim: &mut Sim, trace: &mut Trace, what: &str| {
        let at = sim.now() + Duration::from_millis(100);
        let before = accesses(trace, ids[n - 1]).len();
        schedule_send(sim, at, ids[0], send(last, Some(30), onoff_set(true, 1)));
        run(sim, at + Duration::from_secs(3), trace);
        let got = accesses(trace, ids[n - 1]);
        assert_eq!(got.len(), before + 1, "{what}: end-to-end delivery");
        assert_eq!(got[before].2, 30 - (n as u8 - 2), "{what}: 18 relay hops");
    };
    check_delivery(&mut sim, &mut trace, "phase 1 (old keys)");
    for &id in &ids {
        assert_eq!(
            sim.node(id).state().net_keys[0].phase,
            KeyRefreshPhase::First
        );
    }

    // Phase 2 at the first node: its beacons (new key, KR flag set) carry the network along.
    let t = sim.now();
    sim.schedule(t, ids[0], |n, _| {
        n.set_key_refresh_phase(0, KeyRefreshPhase::Second)
    });
    run(&mut sim, t + Duration::from_secs(400), &mut trace);
    for &id in &ids {
        assert_eq!(
            sim.node(id).state().net_keys[0].phase,
            KeyRefreshPhase::Second,
            "{id} in phase 2"
        );
    }
    check_delivery(&mut sim, &mut trace, "phase 2 (new keys)");

    // Phase 3: the first node revokes the old key; beacons without KR under the new key finish
    // it everywhere.
    let t = sim.now();
    sim.schedule(t, ids[0], |n, _| {
        n.set_key_refresh_phase(0, KeyRefreshPhase::Normal)
    });
    run(&mut sim, t + Duration::from_secs(400), &mut trace);
    for &id in &ids {
        let st = sim.node(id).state();
        let k = &st.net_keys[0];
        assert_eq!(
            (k.phase, k.key, k.new_key),
            (KeyRefreshPhase::Normal, new_net, None),
            "{id} back to normal with the new key"
        );
        assert_eq!(st.app_keys[0].key, new_app);
        assert_eq!(st.app_keys[0].new_key, None);
    }
    // Every node went through phases 1, 2 and 3 (back to normal), in that order.
    for &id in &ids {
        let phases: Vec<KeyRefreshPhase> = station_events(&trace, id)
            .into_iter()
            .filter_map(|(_, e)| match e {
                Event::KeyRefresh { phase, .. } => Some(*phase),
                _ => None,
            })
            .collect();
        assert_eq!(
            phases,
            vec![
                KeyRefreshPhase::First,
                KeyRefreshPhase::Second,
                KeyRefreshPhase::Normal
            ],
            "{id}: the phase changes reported"
        );
    }
    check_delivery(&mut sim, &mut trace, "after phase 3");

    // An outsider holding only the old keys, beside the first node, is shut out.
    let outsider = add(&mut sim, seed, state(100, false), Placement::Unplaced);
    link(&mut sim, outsider, ids[0], 0.0);
    let t = sim.now() + Duration::from_secs(1);
    schedule_send(
        &mut sim,
        t,
        outsider,
        send(Address(1), None, onoff_set(true, 9)),
    );
    let before = accesses(&trace, ids[0]).len();
    run(&mut sim, t + Duration::from_secs(2), &mut trace);
    assert_eq!(accesses(&trace, ids[0]).len(), before, "no delivery");
    assert!(
        station_events(&trace, ids[0]).iter().any(|(at, e)| *at >= t
            && **e
                == Event::Dropped {
                    reason: DropReason::NoNetworkKey
                }),
        "the first node could not open the outsider's PDU"
    );
}

/// A small lossy mesh with collisions on, group and segmented unicast traffic: its whole event
/// trace (medium and stations) and every byte on the air.
fn traced_run(seed: u64) -> (Trace, Vec<OnAir>) {
    let cfg = SimConfig {
        loss: 0.2,
        collisions: true,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cfg, seed);
    let ids: Vec<NodeId> = (0..6)
        .map(|i| {
            let at = Placement::At {
                x: 40.0 * (i % 3) as f64,
                y: 40.0 * (i / 3) as f64,
            };
            add(&mut sim, seed, state(1 + i as u16, i % 2 == 1), at)
        })
        .collect();
    let air: Tapped = Arc::default();
    let tap = Arc::clone(&air);
    sim.set_air_tap(move |f| {
        tap.lock()
            .unwrap()
            .push((f.start, f.node, f.channel, f.bytes.to_vec()))
    });
    for k in 0..5u64 {
        let from = ids[(k as usize) % ids.len()];
        schedule_send(
            &mut sim,
            millis(300 + 700 * k),
            from,
            send(GROUP, None, onoff_set(k % 2 == 0, k as u8)),
        );
    }
    schedule_send(
        &mut sim,
        millis(1000),
        ids[0],
        send(Address(6), None, large_message(1)),
    );
    let mut trace = Trace::new();
    run(&mut sim, secs(8), &mut trace);
    let air = air.lock().unwrap().clone();
    (trace, air)
}

#[test]
fn one_seed_gives_one_event_trace() {
    let (trace1, air1) = traced_run(42);
    let (trace2, air2) = traced_run(42);
    assert!(
        trace1.iter().any(|e| matches!(
            e,
            SimEvent::Station {
                event: Event::Access { .. },
                ..
            }
        )),
        "the run delivered something"
    );
    assert!(trace1.len() > 100, "a trace of {} events", trace1.len());
    assert_eq!(trace1.len(), trace2.len());
    for (i, (a, b)) in trace1.iter().zip(&trace2).enumerate() {
        assert_eq!(a, b, "event {i} differs");
    }
    assert_eq!(air1, air2, "the same bytes on the air");
    // Another seed: another run (so the comparison above can fail).
    let (trace3, _) = traced_run(43);
    assert_ne!(trace1, trace3, "seeds 42 and 43 gave the same trace");
}
