//! Node tests on a hand-driven air: each transmitted frame reaches the nodes linked to its
//! sender, at once. The simulator (weft-radio) does the same with airtime, loss and channels.

use super::*;
use crate::ble::wire::access::Opcode;

/// A deterministic RNG for tests (SplitMix64).
#[derive(Debug, Clone)]
pub(crate) struct TestRng(pub u64);

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

pub(crate) const NET_KEY: [u8; 16] = [0x11; 16];
pub(crate) const APP_KEY: [u8; 16] = [0x22; 16];

pub(crate) fn node(addr: u16, relay: bool) -> Node<TestRng> {
    let models = vec![
        ModelState::new(ModelId::CONFIG_SERVER),
        ModelState::new(ModelId::GENERIC_ONOFF_SERVER),
    ];
    let mut st = NodeState::new(
        [addr as u8; 16],
        UnicastAddress::new(addr).unwrap(),
        [addr as u8; 16],
        NET_KEY,
        IvIndex(0x100),
        vec![ElementState {
            location: 0,
            models,
        }],
    );
    st.relay = relay;
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: APP_KEY,
        new_key: None,
    });
    st.elements[0].models[1].app_keys.push(0);
    st.elements[0].models[1].subscriptions.push(Address(0xc001));
    Node::new(st, TestRng(u64::from(addr)))
}

/// Runs the nodes until nothing is left to do before `until`; `links[i]` lists who hears node i.
pub(crate) fn run(
    nodes: &mut [Node<TestRng>],
    links: &[Vec<usize>],
    until: Instant,
    events: &mut Vec<(usize, Event)>,
) {
    run_from(nodes, links, Instant::ZERO, until, events)
}

/// As [`run_from`], losing each frame at each receiver with probability `loss`.
pub(crate) fn run_lossy(
    nodes: &mut [Node<TestRng>],
    links: &[Vec<usize>],
    from: Instant,
    until: Instant,
    loss: f64,
    rng: &mut TestRng,
    events: &mut Vec<(usize, Event)>,
) {
    run_inner(nodes, links, from, until, events, &mut |_| {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 >= loss
    })
}

/// As [`run`], from `from`.
pub(crate) fn run_from(
    nodes: &mut [Node<TestRng>],
    links: &[Vec<usize>],
    from: Instant,
    until: Instant,
    events: &mut Vec<(usize, Event)>,
) {
    run_inner(nodes, links, from, until, events, &mut |_| true)
}

fn run_inner(
    nodes: &mut [Node<TestRng>],
    links: &[Vec<usize>],
    from: Instant,
    until: Instant,
    events: &mut Vec<(usize, Event)>,
    deliver: &mut dyn FnMut(usize) -> bool,
) {
    let mut now = from;
    loop {
        for n in nodes.iter_mut() {
            if n.poll_timeout().is_some_and(|d| d <= now) {
                n.handle_timeout(now);
            }
        }
        // Deliver everything due now.
        let mut progress = true;
        while progress {
            progress = false;
            for i in 0..nodes.len() {
                while let Some(e) = nodes[i].poll_event() {
                    events.push((i, e));
                }
                while let Some(f) = nodes[i].poll_transmit(now) {
                    progress = true;
                    for &j in &links[i] {
                        if !deliver(j) {
                            continue;
                        }
                        let rx = RxFrame {
                            lqi: None,
                            bearer: f.bearer,
                            channel: 37,
                            rssi: Some(-60),
                            timestamp: now,
                            adv_address: None,
                            bytes: f.bytes.clone(),
                        };
                        nodes[j].handle_frame(now, &rx);
                    }
                }
            }
        }
        let next = nodes
            .iter()
            .filter_map(|n| n.poll_timeout())
            .filter(|t| *t > now)
            .min();
        match next {
            Some(t) if t <= until => now = t,
            _ => break,
        }
    }
}

fn line(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| {
            [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
                .into_iter()
                .flatten()
                .collect()
        })
        .collect()
}

/// An access message from element 0 under application key 0.
fn send_app(dst: u16, ttl: u8, message: AccessMessage) -> Command {
    Command::Send {
        element: 0,
        dst: Address(dst),
        label: None,
        key: KeyRef::App(0),
        net_index: 0,
        ttl: Some(ttl),
        message,
    }
}

fn onoff_set(on: bool) -> AccessMessage {
    // Generic OnOff Set Unacknowledged (MshMDL §3.2.1.3): OnOff, TID.
    AccessMessage::new(Opcode::Two(0x8203), vec![u8::from(on), 1])
}

#[test]
fn delivery_over_six_relay_hops() {
    let mut nodes: Vec<_> = (0..8).map(|i| node(1 + i as u16, i > 0 && i < 7)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
    let send = send_app(8, 10, onoff_set(true));
    assert!(nodes[0].handle_command(Instant::ZERO, send));
    let mut ev = Vec::new();
    run(
        &mut nodes,
        &line(8),
        Instant::from_micros(5_000_000),
        &mut ev,
    );
    let got: Vec<_> = ev
        .iter()
        .filter(|(i, e)| *i == 7 && matches!(e, Event::Access { .. }))
        .collect();
    assert_eq!(got.len(), 1, "{ev:#?}");
    if let (
        _,
        Event::Access {
            src,
            ttl,
            message,
            key,
            ..
        },
    ) = got[0]
    {
        assert_eq!(*src, Address(1));
        assert_eq!(*ttl, 10 - 6, "six relays each take one off the TTL");
        assert_eq!(*message, onoff_set(true));
        assert_eq!(*key, KeyRef::App(0));
    }
    let relays = ev
        .iter()
        .filter(|(_, e)| matches!(e, Event::Relayed { .. }))
        .count();
    assert_eq!(
        relays, 6,
        "each relay forwards once; the cache stops the echoes"
    );
}

#[test]
fn group_delivery_and_ttl_limits() {
    let mut nodes: Vec<_> = (0..4).map(|i| node(1 + i as u16, true)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
    // TTL 2: one relay hop at most (a PDU received with TTL 1 is not relayed).
    let send = send_app(0xc001, 2, onoff_set(false));
    nodes[0].handle_command(Instant::ZERO, send);
    let mut ev = Vec::new();
    run(
        &mut nodes,
        &line(4),
        Instant::from_micros(5_000_000),
        &mut ev,
    );
    let receivers: Vec<usize> = ev
        .iter()
        .filter(|(_, e)| matches!(e, Event::Access { .. }))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(
        receivers,
        vec![0, 1, 2],
        "local loopback, then 1 hop, then 2; never 3"
    );
}

#[test]
fn replayed_pdu_is_rejected() {
    let mut a = node(1, false);
    let mut b = node(2, false);
    a.handle_command(Instant::ZERO, send_app(2, 3, onoff_set(true)));
    let f = a.poll_transmit(Instant::ZERO).unwrap();
    let rx = RxFrame {
        lqi: None,
        bearer: Bearer::Advertising,
        channel: 37,
        rssi: None,
        timestamp: Instant::ZERO,
        adv_address: None,
        bytes: f.bytes,
    };
    b.handle_frame(Instant::ZERO, &rx);
    // A fresh node state (empty cache) with the RPL carried over is what a replay attack meets
    // after the cache has forgotten: clear the cache only.
    b.cache = NetCache::default();
    b.handle_frame(Instant::ZERO, &rx);
    let evs: Vec<Event> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, Event::Access { .. }))
            .count(),
        1
    );
    assert!(
        evs.contains(&Event::Dropped {
            reason: DropReason::Replay
        }),
        "{evs:?}"
    );
}

#[test]
fn restored_node_never_reuses_a_sequence_number() {
    let mut a = node(1, false);
    let mut persisted = a.state().clone();
    let mut used = Vec::new();
    for i in 0..3000u32 {
        a.handle_command(
            Instant::from_micros(u64::from(i)),
            send_app(2, 3, onoff_set(true)),
        );
        while let Some(e) = a.poll_event() {
            if e == Event::PersistState {
                persisted = a.state().clone();
            }
            if let Event::Sent { seq, .. } = e {
                used.push(seq.get());
            }
        }
        while a
            .poll_transmit(Instant::from_micros(u64::from(i) + 1_000_000))
            .is_some()
        {
            while let Some(e) = a.poll_event() {
                if let Event::Sent { seq, .. } = e {
                    used.push(seq.get());
                }
            }
        }
        assert!(
            a.next_seq() <= persisted.seq_reserved,
            "a sequence number was used before its reservation was persisted"
        );
    }
    // Crash: restore from what was persisted.
    let mut b = Node::new(persisted, TestRng(9));
    b.handle_command(Instant::ZERO, send_app(2, 3, onoff_set(true)));
    b.poll_transmit(Instant::ZERO);
    let seq = std::iter::from_fn(|| b.poll_event())
        .find_map(|e| {
            if let Event::Sent { seq, .. } = e {
                Some(seq.get())
            } else {
                None
            }
        })
        .unwrap();
    assert!(
        used.iter().all(|&u| u < seq),
        "restored node reused a sequence number"
    );
}

#[test]
fn heartbeats_count_hops() {
    let mut nodes: Vec<_> = (0..4).map(|i| node(1 + i as u16, i > 0)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
    nodes[0].update_state(|s| {
        s.heartbeat_publication = Some(state::HeartbeatPublication {
            dst: Address(4),
            count: 3,
            period_log: 2, // every 2 s
            ttl: 7,
            features: 0,
            net_index: 0,
        })
    });
    let mut ev = Vec::new();
    run(
        &mut nodes,
        &line(4),
        Instant::from_micros(60_000_000),
        &mut ev,
    );
    let beats: Vec<_> = ev
        .iter()
        .filter_map(|(i, e)| match e {
            Event::Heartbeat { src, hops, .. } if *i == 3 => Some((*src, *hops)),
            _ => None,
        })
        .collect();
    assert_eq!(
        beats,
        vec![(Address(1), 3); 3],
        "three heartbeats, each three hops (two relays)"
    );
}

fn hours(h: u64) -> Instant {
    Instant::from_micros(h * 3_600_000_000)
}

#[test]
fn iv_update_across_the_network_and_recovery_of_a_sleeper() {
    let mut nodes: Vec<_> = (0..5).map(|i| node(1 + i as u16, true)).collect();
    // Node 4 sleeps: nobody hears it and it hears nobody.
    let mut links = line(4);
    links.push(vec![]);
    nodes[0].handle_command(Instant::ZERO, Command::StartIvUpdate);
    let mut ev = Vec::new();
    run_from(&mut nodes, &links, Instant::ZERO, hours(1), &mut ev);
    for n in &nodes[..4] {
        assert_eq!(
            n.state().iv_index,
            IvIndex(0x101),
            "the network follows the initiator"
        );
        assert!(n.state().iv_update);
        assert_eq!(
            n.tx_iv_index(),
            IvIndex(0x100),
            "transmitting with the old index meanwhile"
        );
    }
    run_from(&mut nodes, &links, hours(1), hours(100), &mut ev);
    for n in &nodes[..4] {
        assert!(
            !n.state().iv_update,
            "normal operation again after 96 hours"
        );
        assert_eq!(n.tx_iv_index(), IvIndex(0x101));
    }
    assert_eq!(
        nodes[4].state().iv_index,
        IvIndex(0x100),
        "the sleeper missed it"
    );
    // The sleeper wakes beside node 3.
    links[3].push(4);
    links[4].push(3);
    run_from(
        &mut nodes,
        &links,
        hours(100),
        hours(100) + Duration::from_secs(30),
        &mut ev,
    );
    assert_eq!(
        nodes[4].state().iv_index,
        IvIndex(0x101),
        "IV Index Recovery"
    );
    assert!(!nodes[4].state().iv_update);
    // And it can talk to the far end again.
    let t = hours(100) + Duration::from_secs(30);
    nodes[4].handle_command(t, send_app(1, 7, onoff_set(true)));
    let mut ev = Vec::new();
    run_from(&mut nodes, &links, t, t + Duration::from_secs(1), &mut ev);
    assert!(
        ev.iter().any(|(i, e)| *i == 0
            && matches!(
                e,
                Event::Access {
                    src: Address(5),
                    ..
                }
            )),
        "{ev:?}"
    );
}

#[test]
fn key_refresh_phases_across_the_network() {
    let n = 20;
    let mut nodes: Vec<_> = (0..n).map(|i| node(1 + i as u16, true)).collect();
    let links = line(n);
    let new_net = [0x33; 16];
    let new_app = [0x44; 16];
    // Phase 1 on every node: the new keys are distributed (what Config NetKey/AppKey Update do).
    for node in &mut nodes {
        node.update_state(|s| {
            s.net_keys[0].new_key = Some(new_net);
            s.app_keys[0].new_key = Some(new_app);
        });
        node.set_key_refresh_phase(0, KeyRefreshPhase::First);
    }
    let send = |nodes: &mut Vec<Node<TestRng>>, t: Instant| {
        nodes[0].handle_command(t, send_app(n as u16, 30, onoff_set(true)));
    };
    let mut ev = Vec::new();
    send(&mut nodes, Instant::ZERO);
    run(&mut nodes, &links, Instant::from_micros(1_000_000), &mut ev);
    assert!(
        ev.iter()
            .any(|(i, e)| *i == n - 1 && matches!(e, Event::Access { .. })),
        "phase 1 still works with the old key"
    );
    // The initiator moves to phase 2: its beacons (new key, KR flag) carry the network along.
    nodes[0].set_key_refresh_phase(0, KeyRefreshPhase::Second);
    let mut ev = Vec::new();
    let t = Instant::from_micros(1_000_000);
    run_from(&mut nodes, &links, t, t + Duration::from_secs(600), &mut ev);
    for node in &nodes {
        assert_eq!(node.state().net_keys[0].phase, KeyRefreshPhase::Second);
    }
    let t = t + Duration::from_secs(600);
    send(&mut nodes, t);
    let mut ev = Vec::new();
    run_from(&mut nodes, &links, t, t + Duration::from_secs(1), &mut ev);
    assert!(
        ev.iter()
            .any(|(i, e)| *i == n - 1 && matches!(e, Event::Access { .. })),
        "phase 2 sends with the new keys"
    );
    // Phase 3: the initiator revokes the old key; beacons without KR under the new key finish it.
    nodes[0].set_key_refresh_phase(0, KeyRefreshPhase::Normal);
    let t = t + Duration::from_secs(1);
    let mut ev = Vec::new();
    run_from(&mut nodes, &links, t, t + Duration::from_secs(600), &mut ev);
    for node in &nodes {
        let k = &node.state().net_keys[0];
        assert_eq!(
            (k.phase, k.key, k.new_key),
            (KeyRefreshPhase::Normal, new_net, None)
        );
        assert_eq!(node.state().app_keys[0].key, new_app);
    }
    // A node still holding only the old key is now shut out.
    let mut outsider = node(100, false);
    let t = t + Duration::from_secs(600);
    outsider.handle_command(t, send_app(1, 3, onoff_set(true)));
    let f = outsider.poll_transmit(t).unwrap();
    nodes[0].handle_frame(
        t,
        &RxFrame {
            lqi: None,
            bearer: Bearer::Advertising,
            channel: 37,
            rssi: None,
            timestamp: t,
            adv_address: None,
            bytes: f.bytes,
        },
    );
    let evs: Vec<Event> = std::iter::from_fn(|| nodes[0].poll_event()).collect();
    assert!(
        evs.contains(&Event::Dropped {
            reason: DropReason::NoNetworkKey
        }),
        "{evs:?}"
    );
}

#[test]
fn segmented_380_octets_at_30_percent_loss_every_time() {
    for seed in 0..30u64 {
        let mut nodes = vec![node(1, false), node(2, false)];
        for n in &mut nodes {
            n.update_state(|s| s.beacon = false);
        }
        let links = vec![vec![1], vec![0]];
        // A vendor message whose access payload is 380 octets: 3-octet opcode + 377.
        let params: Vec<u8> = (0..377u32).map(|i| (i * 7 + seed as u32) as u8).collect();
        let message = AccessMessage::new(
            Opcode::Vendor {
                opcode: 0x01,
                company_id: 0x05f1,
            },
            params,
        );
        assert_eq!(message.to_vec().len(), 380);
        nodes[0].handle_command(Instant::ZERO, send_app(2, 3, message.clone()));
        let mut ev = Vec::new();
        let mut rng = TestRng(seed);
        run_lossy(
            &mut nodes,
            &links,
            Instant::ZERO,
            Instant::from_micros(60_000_000),
            0.3,
            &mut rng,
            &mut ev,
        );
        let got: Vec<_> = ev
            .iter()
            .filter_map(|(i, e)| match e {
                Event::Access { message: m, .. } if *i == 1 => Some(m.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            vec![message.clone()],
            "seed {seed}: delivered exactly once"
        );
        let done: Vec<_> = ev
            .iter()
            .filter_map(|(i, e)| match e {
                Event::Sar {
                    outcome, segments, ..
                } if *i == 0 => Some((*outcome, *segments)),
                _ => None,
            })
            .collect();
        assert_eq!(
            done,
            vec![(None, 32)],
            "seed {seed}: the sender saw every segment acknowledged"
        );
    }
}

#[test]
fn segmented_to_a_group_without_acks() {
    let mut nodes: Vec<_> = (0..3).map(|i| node(1 + i as u16, true)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
    let message = AccessMessage::new(Opcode::Two(0x8202), vec![0x55; 40]);
    nodes[0].handle_command(Instant::ZERO, send_app(0xc001, 5, message.clone()));
    let mut ev = Vec::new();
    run(
        &mut nodes,
        &line(3),
        Instant::from_micros(10_000_000),
        &mut ev,
    );
    for r in 1..3 {
        assert_eq!(
            ev.iter()
                .filter(|(i, e)| *i == r && matches!(e, Event::Access { .. }))
                .count(),
            1,
            "node {r}"
        );
    }
    assert!(
        !ev.iter()
            .any(|(_, e)| matches!(e, Event::Control { opcode: 0, .. })),
        "no acks to a group"
    );
    assert!(ev
        .iter()
        .any(|(i, e)| *i == 0 && matches!(e, Event::Sar { outcome: None, .. })));
}

#[test]
fn onoff_server_switches_replies_and_publishes() {
    use crate::ble::foundation::config::{Publication as PubParams, PublishPeriod, Retransmit};
    use crate::ble::models::generic::{GenericMessage, OnOffSet};
    use crate::ble::models::{KeyIndex, StepResolution};
    let mut nodes: Vec<_> = (0..3).map(|i| node(1 + i as u16, false)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
    // Node 2 (the light) publishes its OnOff state to node 3 (a panel) when it changes.
    nodes[1].update_state(|s| {
        s.elements[0].models[1].publication = Some(Publication {
            address: Address(3),
            label: None,
            params: PubParams {
                app_key_index: KeyIndex::from_bits(0),
                credential_flag: false,
                ttl: 0xff,
                period: PublishPeriod {
                    steps: 0,
                    resolution: StepResolution::Ms100,
                },
                retransmit: Retransmit {
                    count: 1,
                    interval_steps: 0,
                },
            },
        })
    });
    let links = vec![vec![1, 2], vec![0, 2], vec![0, 1]];
    let set = GenericMessage::OnOffSet(OnOffSet {
        on: true,
        tid: 7,
        transition: None,
    })
    .to_access();
    let send = |nodes: &mut Vec<Node<TestRng>>, t: Instant| {
        nodes[0].handle_command(t, send_app(2, 3, set.clone()));
    };
    send(&mut nodes, Instant::ZERO);
    let mut ev = Vec::new();
    run(&mut nodes, &links, Instant::from_micros(2_000_000), &mut ev);
    assert_eq!(nodes[1].onoff(0), Some(true));
    assert!(ev.contains(&(
        1,
        Event::State {
            element: 0,
            change: StateChange::OnOff(true)
        }
    )));
    let status = GenericMessage::OnOffStatus {
        present: true,
        target: None,
    }
    .to_access();
    let replies: Vec<_> = ev
        .iter()
        .filter(|(i, e)| {
            *i == 0 && matches!(e, Event::Access { message, .. } if *message == status)
        })
        .collect();
    assert_eq!(replies.len(), 1, "the client gets one OnOff Status: {ev:?}");
    let published: Vec<_> = ev
        .iter()
        .filter(|(i, e)| {
            *i == 2 && matches!(e, Event::Access { message, .. } if *message == status)
        })
        .collect();
    assert_eq!(published.len(), 2, "published once plus one retransmission");
    // The same TID again within 6 s is the same transaction: no second change.
    nodes[1].set_onoff(Instant::from_micros(2_000_000), 0, false);
    let mut ev = Vec::new();
    send(&mut nodes, Instant::from_micros(3_000_000));
    run_from(
        &mut nodes,
        &links,
        Instant::from_micros(3_000_000),
        Instant::from_micros(4_000_000),
        &mut ev,
    );
    assert_eq!(
        nodes[1].onoff(0),
        Some(false),
        "a repeated TID is not a new transaction"
    );
}

#[test]
fn unbound_model_ignores_the_message() {
    use crate::ble::models::generic::{GenericMessage, OnOffSet};
    let mut a = node(1, false);
    let mut b = node(2, false);
    b.update_state(|s| s.elements[0].models[1].app_keys.clear());
    let set = GenericMessage::OnOffSetUnacknowledged(OnOffSet {
        on: true,
        tid: 1,
        transition: None,
    })
    .to_access();
    a.handle_command(Instant::ZERO, send_app(2, 3, set));
    let f = a.poll_transmit(Instant::ZERO).unwrap();
    b.handle_frame(
        Instant::ZERO,
        &RxFrame {
            lqi: None,
            bearer: Bearer::Advertising,
            channel: 37,
            rssi: None,
            timestamp: Instant::ZERO,
            adv_address: None,
            bytes: f.bytes,
        },
    );
    assert_eq!(b.onoff(0), None);
}

#[test]
fn configuration_server_over_the_air() {
    use crate::ble::foundation::config::{ConfigMessage, StatusCode};
    use crate::ble::models::KeyIndex;
    // Node 1 configures node 2 with node 2's device key: an AppKey Add, then a Model App Bind,
    // then an OnOff Set under the new key works.
    let mut client = node(1, false);
    let mut server = node(2, false);
    client.update_state(|s| {
        s.remote_dev_keys
            .push((UnicastAddress::new(2).unwrap(), [2; 16]))
    });
    server.update_state(|s| {
        s.app_keys.clear();
        s.elements[0].models[1].app_keys.clear();
        s.beacon = false;
    });
    client.update_state(|s| s.beacon = false);
    let mut nodes = vec![client, server];
    let links = vec![vec![1], vec![0]];
    let new_key = [0x77; 16];
    let dev = |message: AccessMessage| Command::Send {
        element: 0,
        dst: Address(2),
        label: None,
        key: KeyRef::Dev,
        net_index: 0,
        ttl: Some(3),
        message,
    };
    let add = ConfigMessage::AppKeyAdd {
        net_key_index: KeyIndex::from_bits(0),
        app_key_index: KeyIndex::from_bits(3),
        key: new_key,
    };
    nodes[0].handle_command(Instant::ZERO, dev(add.to_access()));
    let mut ev = Vec::new();
    run(&mut nodes, &links, Instant::from_micros(1_000_000), &mut ev);
    let statuses: Vec<ConfigMessage> = ev
        .iter()
        .filter_map(|(i, e)| match e {
            Event::Access {
                message,
                key: KeyRef::Dev,
                ..
            } if *i == 0 => ConfigMessage::parse(message.opcode, &message.parameters).ok(),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            statuses.as_slice(),
            [ConfigMessage::AppKeyStatus {
                status: StatusCode::Success,
                ..
            }]
        ),
        "{statuses:?}"
    );
    assert_eq!(nodes[1].state().app_keys.len(), 1);
    assert!(ev.contains(&(1, Event::PersistState)));
}

#[test]
fn heartbeat_subscription_counts_what_arrives() {
    use crate::ble::foundation::config::{ConfigMessage, HeartbeatSubscription as Params};
    let at = |s: u64| Instant::from_micros(s * 1_000_000);
    let publish = |n: &mut Node<TestRng>, count| {
        n.update_state(|s| {
            s.heartbeat_publication = Some(state::HeartbeatPublication {
                dst: Address(4),
                count,
                period_log: 2, // every 2 s
                ttl: 7,
                features: 0,
                net_index: 0,
            })
        })
    };
    // 1 - 2 - 3 - 4 in a line, 2 and 3 relay; node 1 configures node 4.
    let mut nodes: Vec<_> = (0..4).map(|i| node(1 + i as u16, i > 0)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
    nodes[0].update_state(|s| {
        s.remote_dev_keys
            .push((UnicastAddress::new(4).unwrap(), [4; 16]))
    });
    let links = line(4);
    let ask = |nodes: &mut Vec<Node<TestRng>>, now: Instant, m: ConfigMessage| {
        nodes[0].handle_command(
            now,
            Command::Send {
                element: 0,
                dst: Address(4),
                label: None,
                key: KeyRef::Dev,
                net_index: 0,
                ttl: Some(7),
                message: m.to_access(),
            },
        );
        let mut ev = Vec::new();
        run_from(nodes, &links, now, now + Duration::from_secs(1), &mut ev);
        ev.into_iter()
            .find_map(|(i, e)| match e {
                Event::Access { message, .. } if i == 0 => {
                    match ConfigMessage::parse(message.opcode, &message.parameters) {
                        Ok(ConfigMessage::HeartbeatSubscriptionStatus(p)) => Some(p),
                        _ => None,
                    }
                }
                _ => None,
            })
            .expect("a Heartbeat Subscription Status")
    };
    let status = |period_log, count_log, min_hops, max_hops| Params {
        status: crate::ble::foundation::config::StatusCode::Success,
        source: Address(1),
        destination: Address(4),
        period_log,
        count_log,
        min_hops,
        max_hops,
    };

    // Node 4 counts Heartbeats from node 1 to itself for 64 s (Period Log 7).
    let set = ConfigMessage::HeartbeatSubscriptionSet {
        source: Address(1),
        destination: Address(4),
        period_log: 7,
    };
    assert_eq!(ask(&mut nodes, Instant::ZERO, set), status(7, 0, 0x7F, 0));
    // Node 1 sends three Heartbeats to node 4, node 2 one, which node 4 hears but does not
    // count.
    publish(&mut nodes[0], 3);
    publish(&mut nodes[1], 1);
    let mut ev = Vec::new();
    run_from(&mut nodes, &links, at(1), at(30), &mut ev);
    let heard: Vec<_> = ev
        .iter()
        .filter_map(|(i, e)| match e {
            Event::Heartbeat { src, hops, .. } if *i == 3 => Some((src.0, *hops)),
            _ => None,
        })
        .collect();
    assert_eq!(heard.len(), 4, "{heard:?}");
    assert!(heard.contains(&(2, 2)));
    let r = nodes[3].heartbeat_subscription().unwrap();
    assert_eq!((r.count, r.min_hops, r.max_hops), (3, 3, 3));
    // About 34 s left (Period Log 6: 32..=63 s), 3 counted (Count Log 2: 2..=3).
    assert_eq!(
        ask(&mut nodes, at(30), ConfigMessage::HeartbeatSubscriptionGet),
        status(6, 2, 3, 3)
    );
    // After 64 s nothing more is counted; the counts stay.
    publish(&mut nodes[0], 2);
    ev.clear();
    run_from(&mut nodes, &links, at(70), at(80), &mut ev);
    let late = ev
        .iter()
        .filter(|(i, e)| *i == 3 && matches!(e, Event::Heartbeat { .. }))
        .count();
    assert_eq!(late, 2, "heard, not counted");
    let r = nodes[3].heartbeat_subscription().unwrap();
    assert_eq!((r.remaining, r.count), (0, 3));
    assert_eq!(
        ask(&mut nodes, at(80), ConfigMessage::HeartbeatSubscriptionGet),
        status(0, 2, 3, 3)
    );
}

/// A message to the node's own address is delivered locally (MshPRT §3.4.6.4) whatever its
/// size: a segmented one is reassembled and acknowledged by the node itself, with no panic
/// (the acknowledgment used to arrive while the SAR machines were being driven).
#[test]
fn a_segmented_message_to_our_own_address_is_delivered_once() {
    let mut nodes = vec![node(1, false)];
    nodes[0].update_state(|s| s.beacon = false);
    let message = AccessMessage::new(Opcode::Two(0x8202), vec![0x55; 40]);
    assert!(nodes[0].handle_command(Instant::ZERO, send_app(1, 5, message.clone())));
    let mut ev = Vec::new();
    run(
        &mut nodes,
        &[vec![]],
        Instant::from_micros(10_000_000),
        &mut ev,
    );
    let got: Vec<_> = ev
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Access { message: m, .. } => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![message], "{ev:#?}");
    assert!(ev
        .iter()
        .any(|(_, e)| matches!(e, Event::Sar { outcome: None, .. })));
}

/// The sequence numbers a node sent, in order.
fn sent_seqs(n: &mut Node<TestRng>, at: Instant) -> Vec<u32> {
    let mut seqs = Vec::new();
    loop {
        while let Some(e) = n.poll_event() {
            if let Event::Sent { seq, .. } = e {
                seqs.push(seq.get());
            }
        }
        if n.poll_transmit(at).is_none() {
            break;
        }
    }
    seqs
}

/// A clean stop gives back the unused reservation: the next process goes on from the exact
/// next number, and still persists a new reservation before using one.
#[test]
fn a_released_reservation_restarts_at_the_exact_next_number() {
    let mut a = node(1, false);
    a.update_state(|s| s.beacon = false);
    for _ in 0..3 {
        a.handle_command(Instant::ZERO, send_app(2, 3, onoff_set(true)));
    }
    assert_eq!(sent_seqs(&mut a, Instant::ZERO), vec![0, 1, 2]);
    assert!(a.state().seq_reserved >= SEQ_BLOCK, "a block was reserved");
    a.release_reservation();
    assert_eq!(a.state().seq_reserved, 3);
    let mut b = Node::new(a.state().clone(), TestRng(7));
    assert!(b.handle_command(Instant::ZERO, send_app(2, 3, onoff_set(true))));
    let first = b.poll_event();
    assert_eq!(
        first,
        Some(Event::PersistState),
        "the new reservation is persisted before the number is used"
    );
    assert!(b.state().seq_reserved > 3);
    assert_eq!(sent_seqs(&mut b, Instant::ZERO), vec![3]);
}

/// Sequence numbers running low start an IV Update (MshPRT §3.11.5); its 96 hours are
/// counted across restarts when the runtime gives the state's age back, and the numbers
/// start again from 0 in normal operation.
#[test]
fn running_out_of_sequence_numbers_starts_an_iv_update_that_ends_across_restarts() {
    let mut a = node(1, false);
    a.update_state(|s| {
        s.beacon = false;
        s.seq_reserved = SEQ_IV_UPDATE_THRESHOLD;
    });
    let mut a = Node::new(a.state().clone(), TestRng(3));
    assert!(a.handle_command(hours(1), send_app(2, 3, onoff_set(true))));
    assert!(a.state().iv_update, "IV Update in progress");
    assert_eq!(a.state().iv_index, IvIndex(0x101));
    assert_eq!(
        a.tx_iv_index(),
        IvIndex(0x100),
        "still sending with the old one"
    );
    assert_eq!(a.iv_state_age(), Some(Duration::ZERO));
    // A new process, 95 hours later by the host's clock.
    a.release_reservation();
    let mut b = Node::new(a.state().clone(), TestRng(4));
    b.restore_iv_state_age(Instant::ZERO, Duration::from_secs(95 * 3600));
    assert_eq!(
        b.poll_timeout(),
        Some(hours(1)),
        "the update ends an hour from now"
    );
    b.handle_timeout(Instant::from_micros(hours(1).as_micros() - 1));
    assert!(b.state().iv_update, "not before 96 hours");
    b.handle_timeout(hours(1));
    assert!(!b.state().iv_update, "normal operation");
    assert_eq!(b.tx_iv_index(), IvIndex(0x101));
    assert!(b.handle_command(hours(1), send_app(2, 3, onoff_set(true))));
    assert_eq!(sent_seqs(&mut b, hours(1)), vec![0], "numbers start again");
}

/// All 2^24 numbers used: nothing is sent, the node says so, and an IV Update starts.
#[test]
fn used_up_sequence_numbers_refuse_to_send_and_start_an_iv_update() {
    let mut a = node(1, false);
    a.update_state(|s| {
        s.beacon = false;
        s.seq_reserved = Seq::MAX + 1;
    });
    let mut a = Node::new(a.state().clone(), TestRng(3));
    assert!(!a.handle_command(Instant::ZERO, send_app(2, 3, onoff_set(true))));
    assert!(a.sequence_exhausted());
    assert!(a.state().iv_update, "the IV Update that frees them started");
    assert!(sent_seqs(&mut a, Instant::ZERO).is_empty());
}
