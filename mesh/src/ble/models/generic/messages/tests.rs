//! Tests of the Generic messages: hand-computed encodings, prohibited values, round trips.

use super::*;
use crate::ble::wire::{Error, Wire};
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn transition_time() {
    // MshMDL §3.1.3: steps in bits 0-5, resolution in bits 6-7.
    let t = TransitionTime::from_byte(0x41); // 1 step of 1 s
    assert_eq!(t.steps(), 1);
    assert_eq!(t.resolution(), StepResolution::S1);
    assert_eq!(t.to_millis(), Some(1_000));
    assert_eq!(TransitionTime::from_byte(0x0A).to_millis(), Some(1_000));
    assert_eq!(TransitionTime::from_byte(0x82).to_millis(), Some(20_000));
    assert_eq!(TransitionTime::from_byte(0xC3).to_millis(), Some(1_800_000));
    assert_eq!(TransitionTime::from_byte(0x3F).to_millis(), None);
    assert_eq!(TransitionTime::from_byte(0xFF).to_millis(), None);
    assert_eq!(
        TransitionTime::from_byte(0xFE).to_millis(),
        Some(62 * 600_000)
    );
    assert_eq!(TransitionTime::from_byte(0xFF).to_string(), "unknown");
    assert_eq!(TransitionTime::from_byte(0x82).to_string(), "20s");
    assert_eq!(TransitionTime::new(0x40, StepResolution::S1), None);
    // From milliseconds: the finest resolution that can hold it.
    assert_eq!(
        TransitionTime::from_millis(0),
        Some(TransitionTime::IMMEDIATE)
    );
    assert_eq!(TransitionTime::from_millis(100).unwrap().to_byte(), 0x01);
    assert_eq!(TransitionTime::from_millis(6_200).unwrap().to_byte(), 0x3E);
    assert_eq!(TransitionTime::from_millis(6_300).unwrap().to_byte(), 0x46);
    assert_eq!(TransitionTime::from_millis(149).unwrap().to_byte(), 0x01);
    assert_eq!(TransitionTime::from_millis(150).unwrap().to_byte(), 0x02);
    assert_eq!(
        TransitionTime::from_millis(62 * 600_000).unwrap().to_byte(),
        0xFE
    );
    assert_eq!(TransitionTime::from_millis(62 * 600_000 + 300_000), None);
}

#[test]
fn remaining_time() {
    assert_eq!(TransitionTime::remaining(0), TransitionTime::IMMEDIATE);
    assert_eq!(TransitionTime::remaining(1).to_byte(), 0x01);
    assert_eq!(TransitionTime::remaining(949).to_byte(), 0x09);
    assert_eq!(TransitionTime::remaining(1_000).to_byte(), 0x0A);
    assert_eq!(TransitionTime::remaining(6_300).to_byte(), 0x46);
    assert_eq!(TransitionTime::remaining(62 * 600_000).to_byte(), 0xFE);
    assert!(TransitionTime::remaining(63 * 600_000).is_unknown());
    assert!(TransitionTime::remaining(u64::MAX).is_unknown());
}

#[test]
fn hand_computed_onoff() {
    // Generic OnOff Set: on, TID 3, 100 ms transition, no delay.
    let access = AccessMessage::parse(&h("820201030100")).unwrap();
    let m = GenericMessage::from_access(&access).unwrap();
    assert_eq!(
        m,
        GenericMessage::OnOffSet(OnOffSet {
            on: true,
            tid: 3,
            transition: Some(Transition {
                time: TransitionTime::from_byte(0x01),
                delay: 0
            }),
        })
    );
    assert_eq!(m.describe(), "OnOff Set on tid 3 transition 100ms");
    assert_eq!(m.to_access().to_vec(), h("820201030100"));
    // Without the optional fields.
    let m = GenericMessage::parse(ONOFF_SET_UNACKNOWLEDGED, &h("0007")).unwrap();
    assert_eq!(m.describe(), "OnOff Set Unacknowledged off tid 7");
    // With a delay of 20 × 5 ms.
    let m = GenericMessage::parse(ONOFF_SET, &h("01034114")).unwrap();
    assert_eq!(m.describe(), "OnOff Set on tid 3 transition 1s delay 100ms");
    // Status in transition: off, target on, 2 s remaining.
    let m = GenericMessage::parse(ONOFF_STATUS, &h("000142")).unwrap();
    assert_eq!(
        m,
        GenericMessage::OnOffStatus {
            present: false,
            target: Some((true, TransitionTime::from_byte(0x42)))
        }
    );
    assert_eq!(m.describe(), "OnOff Status off target on remaining 2s");
}

#[test]
fn hand_computed_level() {
    // Level Set -32768, TID 0x10.
    let m = GenericMessage::parse(LEVEL_SET, &h("008010")).unwrap();
    assert_eq!(
        m,
        GenericMessage::LevelSet(LevelSet {
            level: i16::MIN,
            tid: 0x10,
            transition: None
        })
    );
    // Delta Set -2 (0xFFFFFFFE little-endian), TID 1, 0 transition, delay 1.
    let m = GenericMessage::DeltaSet(DeltaSet {
        delta: -2,
        tid: 1,
        transition: Some(Transition {
            time: TransitionTime::IMMEDIATE,
            delay: 1,
        }),
    });
    assert_eq!(m.emit_params(), h("feffffff010001"));
    assert_eq!(m.describe(), "Delta Set -2 tid 1 transition 0ms delay 5ms");
    // Move Set +256.
    let m = GenericMessage::parse(MOVE_SET_UNACKNOWLEDGED, &h("000105")).unwrap();
    assert_eq!(m.describe(), "Move Set Unacknowledged +256 tid 5");
    // Level Status 0x1234 target 0x7fff remaining 10 × 100 ms.
    let m = GenericMessage::parse(LEVEL_STATUS, &h("3412ff7f0a")).unwrap();
    assert_eq!(m.describe(), "Level Status 4660 target 32767 remaining 1s");
    // Default Transition Time Status 5 s.
    let m = GenericMessage::parse(DEFAULT_TRANSITION_TIME_STATUS, &h("45")).unwrap();
    assert_eq!(m.describe(), "Default Transition Time Status 5s");
}

#[test]
fn prohibited_and_lengths() {
    // OnOff values above 1 are prohibited.
    for (op, p) in [
        (ONOFF_SET, "0203"),
        (ONOFF_SET_UNACKNOWLEDGED, "ff03"),
        (ONOFF_STATUS, "02"),
        (ONOFF_STATUS, "000242"),
    ] {
        assert!(
            matches!(
                GenericMessage::parse(op, &h(p)),
                Err(Error::Invalid { field: "OnOff", .. })
            ),
            "{p}"
        );
    }
    // Transition Time without Delay.
    assert_eq!(
        GenericMessage::parse(ONOFF_SET, &h("010301")),
        Err(Error::Truncated { need: 4, got: 3 })
    );
    // Target without Remaining Time.
    assert_eq!(
        GenericMessage::parse(ONOFF_STATUS, &h("0001")),
        Err(Error::Truncated { need: 3, got: 2 })
    );
    assert_eq!(
        GenericMessage::parse(ONOFF_SET, &h("0103010000")),
        Err(Error::TooLong { max: 4, got: 5 })
    );
    // An unknown transition time cannot be set.
    for (op, p) in [
        (ONOFF_SET, "01033f00"),
        (LEVEL_SET, "0000017f00"),
        (DEFAULT_TRANSITION_TIME_SET, "7f"),
        (DEFAULT_TRANSITION_TIME_SET_UNACKNOWLEDGED, "3f"),
    ] {
        assert!(
            matches!(
                GenericMessage::parse(op, &h(p)),
                Err(Error::Invalid {
                    field: "Transition Time",
                    ..
                })
            ),
            "{p}"
        );
    }
    // ... but may be reported.
    assert!(GenericMessage::parse(DEFAULT_TRANSITION_TIME_STATUS, &h("3f")).is_ok());
    assert!(GenericMessage::parse(ONOFF_STATUS, &h("00013f")).is_ok());
    assert_eq!(
        GenericMessage::parse(DELTA_SET, &h("000000")),
        Err(Error::Truncated { need: 4, got: 3 })
    );
}

fn arb_transition() -> impl Strategy<Value = Option<Transition>> + Clone {
    proptest::option::of(
        (
            (0u8..=0x3e, 0u8..4)
                .prop_map(|(s, r)| TransitionTime::new(s, StepResolution::from_bits(r)).unwrap()),
            any::<u8>(),
        )
            .prop_map(|(time, delay)| Transition { time, delay }),
    )
}

fn arb_settable_time() -> impl Strategy<Value = TransitionTime> {
    any::<u8>()
        .prop_filter("not unknown", |b| b & 0x3f != 0x3f)
        .prop_map(TransitionTime::from_byte)
}

pub(crate) fn arb_generic() -> impl Strategy<Value = GenericMessage> {
    use GenericMessage as M;
    let onoff =
        (any::<bool>(), any::<u8>(), arb_transition()).prop_map(|(on, tid, transition)| OnOffSet {
            on,
            tid,
            transition,
        });
    let level =
        (any::<i16>(), any::<u8>(), arb_transition()).prop_map(|(level, tid, transition)| {
            LevelSet {
                level,
                tid,
                transition,
            }
        });
    let delta =
        (any::<i32>(), any::<u8>(), arb_transition()).prop_map(|(delta, tid, transition)| {
            DeltaSet {
                delta,
                tid,
                transition,
            }
        });
    let mv = (any::<i16>(), any::<u8>(), arb_transition()).prop_map(|(delta, tid, transition)| {
        MoveSet {
            delta,
            tid,
            transition,
        }
    });
    prop_oneof![
        Just(M::OnOffGet),
        onoff.clone().prop_map(M::OnOffSet),
        onoff.prop_map(M::OnOffSetUnacknowledged),
        (
            any::<bool>(),
            proptest::option::of((
                any::<bool>(),
                any::<u8>().prop_map(TransitionTime::from_byte)
            ))
        )
            .prop_map(|(present, target)| M::OnOffStatus { present, target }),
        Just(M::LevelGet),
        level.clone().prop_map(M::LevelSet),
        level.prop_map(M::LevelSetUnacknowledged),
        delta.clone().prop_map(M::DeltaSet),
        delta.prop_map(M::DeltaSetUnacknowledged),
        mv.clone().prop_map(M::MoveSet),
        mv.prop_map(M::MoveSetUnacknowledged),
        (
            any::<i16>(),
            proptest::option::of((
                any::<i16>(),
                any::<u8>().prop_map(TransitionTime::from_byte)
            ))
        )
            .prop_map(|(present, target)| M::LevelStatus { present, target }),
        Just(M::DefaultTransitionTimeGet),
        arb_settable_time().prop_map(|time| M::DefaultTransitionTimeSet { time }),
        arb_settable_time().prop_map(|time| M::DefaultTransitionTimeSetUnacknowledged { time }),
        any::<u8>().prop_map(|b| M::DefaultTransitionTimeStatus {
            time: TransitionTime::from_byte(b)
        }),
    ]
}

proptest! {
    #[test]
    fn round_trip(m in arb_generic()) {
        prop_assert_eq!(GenericMessage::parse(m.opcode(), &m.emit_params()), Ok(m.clone()));
        prop_assert_eq!(GenericMessage::from_access(&m.to_access()), Ok(m.clone()));
        prop_assert!(m.opcode().name().unwrap().starts_with("Generic "));
    }

    #[test]
    fn millis_round_trip(ms in 0u32..=62 * 600_000) {
        let t = TransitionTime::from_millis(ms).unwrap();
        let back = t.to_millis().unwrap();
        // Within half a step of the resolution chosen.
        prop_assert!(back.abs_diff(ms) <= t.resolution().millis() / 2, "{} {}", ms, back);
        prop_assert!(!t.is_unknown());
    }
}
