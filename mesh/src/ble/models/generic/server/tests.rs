//! The Generic servers with transitions, at exact virtual instants (MshMDL §3.3.1.2.2,
//! §3.3.2.2, §3.3.3).

use proptest::prelude::*;

use super::*;
use crate::ble::models::generic::{DeltaSet, LevelSet, MoveSet, OnOffSet};
use crate::ble::node::tests::{node, run, run_from, TestRng};
use crate::ble::node::{Command, ModelState};
use crate::frame::Station;

const CLIENT: Address = Address(0x0001);

fn ms(m: u64) -> Instant {
    Instant::from_micros(m * 1_000)
}

fn tt(b: u8) -> TransitionTime {
    TransitionTime::from_byte(b)
}

fn with(time: u8, delay: u8) -> Option<Transition> {
    Some(Transition {
        time: tt(time),
        delay,
    })
}

/// A node with Generic OnOff and Level Servers (and, if `dtt`, a Default Transition Time
/// Server) on its primary element, all bound to application key 0.
fn server(dtt: bool) -> Node<TestRng> {
    let mut n = node(2, false);
    n.update_state(|s| {
        s.beacon = false;
        let mut ids = vec![ModelId::GENERIC_LEVEL_SERVER];
        if dtt {
            ids.push(ModelId::GENERIC_DEFAULT_TRANSITION_TIME_SERVER);
        }
        for id in ids {
            let mut m = ModelState::new(id);
            m.app_keys.push(0);
            s.elements[0].models.push(m);
        }
    });
    n
}

/// Delivers `m` to element 0 as from the client and returns the server's answer.
fn rx(n: &mut Node<TestRng>, now: Instant, m: GenericMessage) -> Option<GenericMessage> {
    n.set_now(now);
    n.generic_rx(now, 0, CLIENT, KeyRef::App(0), m)
        .map(|a| GenericMessage::from_access(&a).unwrap())
}

/// Runs the node's timers up to `until` and returns the state events it reported.
fn states(n: &mut Node<TestRng>, until: Instant) -> Vec<StateChange> {
    while let Some(t) = n.poll_timeout().filter(|t| *t <= until) {
        n.handle_timeout(t);
        while n.poll_transmit(t).is_some() {}
    }
    n.set_now(until);
    let mut out = Vec::new();
    while let Some(e) = n.poll_event() {
        if let Event::State { change, .. } = e {
            out.push(change);
        }
    }
    out
}

fn onoff(present: bool, target: Option<(bool, u8)>) -> Option<GenericMessage> {
    Some(GenericMessage::OnOffStatus {
        present,
        target: target.map(|(t, r)| (t, tt(r))),
    })
}

fn level(present: i16, target: Option<(i16, u8)>) -> Option<GenericMessage> {
    Some(GenericMessage::LevelStatus {
        present,
        target: target.map(|(t, r)| (t, tt(r))),
    })
}

fn onoff_set(on: bool, tid: u8, transition: Option<Transition>) -> GenericMessage {
    GenericMessage::OnOffSet(OnOffSet {
        on,
        tid,
        transition,
    })
}

fn level_set(level: i16, tid: u8, transition: Option<Transition>) -> GenericMessage {
    GenericMessage::LevelSet(LevelSet {
        level,
        tid,
        transition,
    })
}

#[test]
fn onoff_on_and_off_with_transition_and_delay() {
    let mut n = server(false);
    // On over 1 s after a delay of 20 × 5 ms: the answer gives the target and the time to
    // complete, delay included (1.1 s).
    let set = onoff_set(true, 1, with(0x0A, 20));
    assert_eq!(rx(&mut n, ms(0), set), onoff(false, Some((true, 0x0B))));
    assert_eq!(n.poll_timeout(), Some(ms(100)));
    assert_eq!(states(&mut n, ms(99)), vec![]);
    assert_eq!(n.onoff(0), Some(false), "nothing changes during the delay");
    // MshMDL §3.1.1.1: towards On, the state is On from the start of the transition.
    assert_eq!(
        states(&mut n, ms(100)),
        vec![StateChange::OnOffTransition {
            present: true,
            target: true,
            remaining: Duration::from_secs(1),
        }]
    );
    let get = GenericMessage::OnOffGet;
    assert_eq!(
        rx(&mut n, ms(100), get.clone()),
        onoff(true, Some((true, 0x0A)))
    );
    assert_eq!(
        rx(&mut n, ms(600), get.clone()),
        onoff(true, Some((true, 0x05)))
    );
    assert_eq!(
        rx(&mut n, ms(1_099), get.clone()),
        onoff(true, Some((true, 0x01)))
    );
    assert_eq!(states(&mut n, ms(1_100)), vec![StateChange::OnOff(true)]);
    assert_eq!(rx(&mut n, ms(1_100), get.clone()), onoff(true, None));
    assert_eq!(n.poll_timeout(), None);

    // Off over 2 s: On until the end.
    let set = onoff_set(false, 2, with(0x14, 0));
    assert_eq!(rx(&mut n, ms(2_000), set), onoff(true, Some((false, 0x14))));
    assert_eq!(
        states(&mut n, ms(3_999)),
        vec![StateChange::OnOffTransition {
            present: true,
            target: false,
            remaining: Duration::from_secs(2),
        }]
    );
    assert_eq!(n.onoff(0), Some(true));
    assert_eq!(states(&mut n, ms(4_000)), vec![StateChange::OnOff(false)]);
    assert_eq!(n.onoff(0), Some(false));
    assert_eq!(rx(&mut n, ms(4_000), get), onoff(false, None));
}

#[test]
fn a_new_set_replaces_the_transition() {
    let mut n = server(false);
    rx(&mut n, ms(0), onoff_set(true, 1, with(0x14, 0)));
    assert_eq!(states(&mut n, ms(1_000)).len(), 1);
    // Off at once, in the middle of the transition to On.
    assert_eq!(
        rx(&mut n, ms(1_000), onoff_set(false, 2, None)),
        onoff(false, None)
    );
    assert_eq!(states(&mut n, ms(5_000)), vec![StateChange::OnOff(false)]);
    assert_eq!(n.poll_timeout(), None, "the old transition is gone");

    // A Level transition replaced by another one: from where it is.
    rx(&mut n, ms(6_000), level_set(1_000, 3, with(0x0A, 0)));
    assert_eq!(
        rx(&mut n, ms(6_500), level_set(-1_000, 4, with(0x0A, 0))),
        level(500, Some((-1_000, 0x0A)))
    );
    assert_eq!(
        rx(&mut n, ms(7_000), GenericMessage::LevelGet),
        level(-250, Some((-1_000, 0x05)))
    );
    assert_eq!(
        states(&mut n, ms(8_000)),
        vec![
            StateChange::LevelTransition {
                present: 0,
                target: 1_000,
                remaining: Some(Duration::from_secs(1)),
            },
            StateChange::LevelTransition {
                present: 500,
                target: -1_000,
                remaining: Some(Duration::from_secs(1)),
            },
            StateChange::Level(-1_000),
        ]
    );
}

#[test]
fn level_moves_linearly_and_delta_set_stays_relative_to_the_transaction_start() {
    let mut n = server(false);
    let get = GenericMessage::LevelGet;
    assert_eq!(
        rx(&mut n, ms(0), level_set(1_000, 1, with(0x0A, 0))),
        level(0, Some((1_000, 0x0A)))
    );
    assert_eq!(
        rx(&mut n, ms(250), get.clone()),
        level(250, Some((1_000, 0x08)))
    );
    assert_eq!(
        rx(&mut n, ms(500), get.clone()),
        level(500, Some((1_000, 0x05)))
    );
    assert_eq!(rx(&mut n, ms(1_000), get.clone()), level(1_000, None));
    // Delta +500 over 1 s from 1000 ...
    let delta = |delta, tid| {
        GenericMessage::DeltaSet(DeltaSet {
            delta,
            tid,
            transition: with(0x0A, 0),
        })
    };
    assert_eq!(
        rx(&mut n, ms(2_000), delta(500, 2)),
        level(1_000, Some((1_500, 0x0A)))
    );
    // ... continued in the same transaction with +1000: relative to 1000, not to 1250.
    assert_eq!(
        rx(&mut n, ms(2_500), delta(1_000, 2)),
        level(1_250, Some((2_000, 0x0A)))
    );
    // A plain retransmission changes nothing.
    assert_eq!(
        rx(&mut n, ms(2_600), delta(1_000, 2)),
        level(1_325, Some((2_000, 0x09)))
    );
    assert_eq!(
        rx(&mut n, ms(3_000), get.clone()),
        level(1_625, Some((2_000, 0x05)))
    );
    assert_eq!(rx(&mut n, ms(3_500), get.clone()), level(2_000, None));
    // A new transaction adds to the present level; no transition time: at once.
    let d = GenericMessage::DeltaSetUnacknowledged(DeltaSet {
        delta: -2_100,
        tid: 3,
        transition: None,
    });
    assert_eq!(rx(&mut n, ms(4_000), d), None);
    assert_eq!(n.level(0), Some(-100));
    // Saturates at the range end.
    let d = GenericMessage::DeltaSet(DeltaSet {
        delta: i32::MIN,
        tid: 4,
        transition: None,
    });
    assert_eq!(rx(&mut n, ms(4_100), d), level(LEVEL_MIN, None));
}

#[test]
fn move_set_runs_to_the_end_of_the_range_and_stops() {
    let mut n = server(false);
    n.set_level(ms(0), 0, 32_000);
    assert_eq!(states(&mut n, ms(0)), vec![StateChange::Level(32_000)]);
    let mv = |delta, tid, transition| {
        GenericMessage::MoveSet(MoveSet {
            delta,
            tid,
            transition,
        })
    };
    // +100 every 100 ms: the target is the top of the range, the remaining time unknown.
    assert_eq!(
        rx(&mut n, ms(1_000), mv(100, 1, with(0x01, 0))),
        level(32_000, Some((LEVEL_MAX, 0x3F)))
    );
    assert_eq!(
        rx(&mut n, ms(1_500), GenericMessage::LevelGet),
        level(32_500, Some((LEVEL_MAX, 0x3F)))
    );
    assert_eq!(n.poll_timeout(), Some(ms(1_767)));
    assert_eq!(
        states(&mut n, ms(5_000)),
        vec![
            StateChange::LevelTransition {
                present: 32_000,
                target: LEVEL_MAX,
                remaining: None,
            },
            StateChange::Level(LEVEL_MAX),
        ]
    );
    assert_eq!(
        rx(&mut n, ms(5_000), GenericMessage::LevelGet),
        level(LEVEL_MAX, None)
    );
    // Downwards, then stopped by a Move Set with a zero transition time (MshMDL §3.2.2.6).
    rx(&mut n, ms(6_000), mv(-1_000, 2, with(0x41, 0)));
    assert_eq!(
        rx(&mut n, ms(8_500), mv(-1_000, 3, with(0x00, 0))),
        level(LEVEL_MAX - 2_500, None)
    );
    assert_eq!(
        rx(&mut n, ms(60_000), GenericMessage::LevelGet),
        level(30_267, None)
    );
    // A zero delta does not move either.
    assert_eq!(
        rx(&mut n, ms(61_000), mv(0, 4, with(0x01, 0))),
        level(30_267, None)
    );
    assert_eq!(n.poll_timeout(), None);
}

#[test]
fn default_transition_time_is_used_when_a_set_has_none() {
    // Without a Default Transition Time Server: at once (MshMDL §3.1.3).
    let mut n = server(false);
    assert_eq!(n.default_transition_time(0), TransitionTime::IMMEDIATE);
    assert_eq!(
        rx(
            &mut n,
            ms(0),
            GenericMessage::DefaultTransitionTimeSet { time: tt(0x05) }
        ),
        None,
        "no server: no answer"
    );
    assert_eq!(
        rx(&mut n, ms(0), level_set(1_000, 1, None)),
        level(1_000, None)
    );

    let mut n = server(true);
    assert_eq!(
        rx(&mut n, ms(0), GenericMessage::DefaultTransitionTimeGet),
        Some(GenericMessage::DefaultTransitionTimeStatus { time: tt(0) })
    );
    assert_eq!(
        rx(
            &mut n,
            ms(0),
            GenericMessage::DefaultTransitionTimeSet { time: tt(0x05) }
        ),
        Some(GenericMessage::DefaultTransitionTimeStatus { time: tt(0x05) })
    );
    assert_eq!(
        rx(&mut n, ms(0), level_set(1_000, 1, None)),
        level(0, Some((1_000, 0x05)))
    );
    assert_eq!(n.level_state(0).unwrap().present(ms(250)), 500);
    // An explicit transition time wins, even zero.
    assert_eq!(
        rx(&mut n, ms(1_000), onoff_set(true, 2, with(0x00, 0))),
        onoff(true, None)
    );
    assert_eq!(
        rx(&mut n, ms(1_000), onoff_set(false, 3, None)),
        onoff(true, Some((false, 0x05)))
    );
}

#[test]
fn statuses_without_a_transition_have_no_target() {
    let mut n = server(false);
    let st = rx(&mut n, ms(0), GenericMessage::OnOffGet).unwrap();
    assert_eq!(st, onoff(false, None).unwrap());
    // MshMDL §3.2.1.4: Present OnOff alone, one octet.
    assert_eq!(st.to_access().parameters, vec![0x00]);
    rx(&mut n, ms(0), onoff_set(true, 1, None));
    let st = rx(&mut n, ms(10), GenericMessage::OnOffGet).unwrap();
    assert_eq!(st.to_access().parameters, vec![0x01]);
    // MshMDL §3.2.2.8: Present Level alone, two octets.
    rx(&mut n, ms(0), level_set(-2, 2, with(0x01, 0)));
    let st = rx(&mut n, ms(100), GenericMessage::LevelGet).unwrap();
    assert_eq!(st.to_access().parameters, vec![0xFE, 0xFF]);
    // While running: Present, Target, Remaining Time.
    rx(&mut n, ms(200), level_set(0x0102, 3, with(0x02, 0)));
    let st = rx(&mut n, ms(200), GenericMessage::LevelGet).unwrap();
    assert_eq!(
        st.to_access().parameters,
        vec![0xFE, 0xFF, 0x02, 0x01, 0x02]
    );
}

#[test]
fn publishes_at_the_start_and_at_the_end_of_a_transition() {
    use crate::ble::foundation::config::{Publication as PubParams, PublishPeriod, Retransmit};
    use crate::ble::models::{KeyIndex, StepResolution};
    use crate::ble::node::Publication;
    let mut nodes: Vec<_> = (0..3).map(|i| node(1 + i as u16, false)).collect();
    for n in &mut nodes {
        n.update_state(|s| s.beacon = false);
    }
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
                    count: 0,
                    interval_steps: 0,
                },
            },
        })
    });
    let links = vec![vec![1, 2], vec![0, 2], vec![0, 1]];
    let set = GenericMessage::OnOffSetUnacknowledged(OnOffSet {
        on: true,
        tid: 9,
        transition: with(0x0A, 0),
    });
    nodes[0].handle_command(
        ms(0),
        Command::Send {
            element: 0,
            dst: Address(2),
            label: None,
            key: KeyRef::App(0),
            net_index: 0,
            ttl: Some(3),
            message: set.to_access(),
        },
    );
    let published = |ev: &[(usize, Event)]| -> Vec<GenericMessage> {
        ev.iter()
            .filter_map(|(i, e)| match e {
                Event::Access { message, .. } if *i == 2 => {
                    GenericMessage::from_access(message).ok()
                }
                _ => None,
            })
            .collect()
    };
    let mut ev = Vec::new();
    run(&mut nodes, &links, ms(500), &mut ev);
    assert_eq!(
        published(&ev),
        vec![onoff(true, Some((true, 0x0A))).unwrap()]
    );
    let mut ev = Vec::new();
    run_from(&mut nodes, &links, ms(500), ms(3_000), &mut ev);
    assert_eq!(published(&ev), vec![onoff(true, None).unwrap()]);
}

fn arb_set() -> impl Strategy<Value = GenericMessage> {
    crate::ble::models::generic::messages::tests::arb_generic()
}

proptest! {
    #[test]
    fn arbitrary_sets_never_panic_and_settle(
        msgs in proptest::collection::vec((arb_set(), 0u64..5_000_000), 1..12),
    ) {
        let mut n = server(true);
        let mut now = Instant::ZERO;
        for (m, gap) in msgs {
            now += Duration::from_micros(gap);
            let _ = states(&mut n, now);
            if let Some(reply) = rx(&mut n, now, m) {
                // Every answer is a well-formed status; a target always comes with time left.
                let back = GenericMessage::from_access(&reply.to_access());
                prop_assert_eq!(back.as_ref(), Ok(&reply));
                match reply {
                    GenericMessage::OnOffStatus { target: Some((_, rem)), .. }
                    | GenericMessage::LevelStatus { target: Some((_, rem)), .. } => {
                        prop_assert!(rem.to_byte() & 0x3F != 0)
                    }
                    _ => {}
                }
            }
        }
        // Everything started ends, however long a move takes.
        for _ in 0..8 {
            let Some(t) = n.poll_timeout() else { break };
            let _ = states(&mut n, t);
        }
        prop_assert_eq!(n.poll_timeout(), None);
        let now = n.now();
        prop_assert_eq!(rx(&mut n, now, GenericMessage::LevelGet).and_then(|s| match s {
            GenericMessage::LevelStatus { target, .. } => Some(target),
            _ => None,
        }), Some(None));
    }
}

#[test]
fn another_source_aborts_a_delta_transaction() {
    let mut n = server(false);
    let delta = |delta| {
        GenericMessage::DeltaSet(DeltaSet {
            delta,
            tid: 5,
            transition: None,
        })
    };
    assert_eq!(rx(&mut n, ms(0), delta(100)), level(100, None));
    // Another client, same TID: a new transaction, from 100.
    let other = n.generic_rx(ms(100), 0, Address(0x0009), KeyRef::App(0), delta(50));
    assert_eq!(
        other.map(|a| GenericMessage::from_access(&a).unwrap()),
        level(150, None)
    );
    // The first client's transaction was aborted: its next message changes nothing.
    assert_eq!(rx(&mut n, ms(200), delta(300)), level(150, None));
    // A new TID from it is a new transaction again.
    let d = GenericMessage::DeltaSet(DeltaSet {
        delta: 10,
        tid: 6,
        transition: None,
    });
    assert_eq!(rx(&mut n, ms(300), d), level(160, None));
    // The same TID as before from the same source, after 6 s: new.
    assert_eq!(rx(&mut n, ms(6_400), delta(1)), level(161, None));
}
