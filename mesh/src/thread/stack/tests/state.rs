//! Credentials from OpenThread's dataset hex, and frame counters reserved ahead of use.

use crate::thread::stack::{
    CounterKind, Credentials, FrameCounters, ThreadState, FRAME_COUNTER_BLOCK,
};
use crate::thread::test_rng::SplitMix;

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!(
        "../../../../tests/data/thread-dataset-vectors.json"
    ))
    .unwrap()
}

#[test]
fn credentials_read_and_write_openthreads_dataset_hex() {
    for d in vectors()["datasets"].as_array().unwrap() {
        let hex = d["hex"].as_str().unwrap();
        let c = Credentials::from_hex(hex).unwrap();
        assert_eq!(c.to_hex(), hex.to_lowercase(), "{}", d["name"]);
        assert!((11..=26).contains(&c.channel));
        assert!(!c.network_name.is_empty());
    }
}

#[test]
fn a_dataset_without_a_network_key_is_refused() {
    let hex = vectors()["datasets"][0]["hex"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ds = crate::thread::dataset::ActiveDataset::from_hex(&hex).unwrap();
    ds.network_key = None;
    assert!(matches!(
        Credentials::from_dataset(&ds),
        Err(crate::thread::stack::CredentialsError::Missing(m)) if m == vec!["Network Key"]
    ));
}

#[test]
fn a_restored_node_never_reuses_a_frame_counter() {
    let hex = vectors()["datasets"][0]["hex"]
        .as_str()
        .unwrap()
        .to_string();
    let c = Credentials::from_hex(&hex).unwrap();
    let mut state = ThreadState::new(&c, &mut SplitMix(1));
    let mut persisted = state.clone();
    let mut fc = FrameCounters::restore(&state);
    let mut used = Vec::new();
    for i in 0..2500u32 {
        let kind = if i % 3 == 0 {
            CounterKind::Mle
        } else {
            CounterKind::Mac
        };
        let (n, raised) = fc.alloc(kind, &mut state).unwrap();
        if raised {
            persisted = state.clone();
        }
        let reserved = match kind {
            CounterKind::Mac => persisted.mac_frame_counter_reserved,
            CounterKind::Mle => persisted.mle_frame_counter_reserved,
        };
        assert!(
            n < reserved,
            "counter {n} used before its reservation was persisted"
        );
        used.push((kind == CounterKind::Mac, n));
    }
    // Crash: restore from what was persisted.
    let restored: ThreadState =
        serde_json::from_str(&serde_json::to_string(&persisted).unwrap()).unwrap();
    let mut fc2 = FrameCounters::restore(&restored);
    let mut st2 = restored.clone();
    let (mac, _) = fc2.alloc(CounterKind::Mac, &mut st2).unwrap();
    let (mle, _) = fc2.alloc(CounterKind::Mle, &mut st2).unwrap();
    assert!(used.iter().all(|&(m, n)| if m { n < mac } else { n < mle }));
    assert!(mac - fc.next_mac <= FRAME_COUNTER_BLOCK);
    // A clean stop gives back the rest: the next process resumes at the exact next counter.
    fc.release(&mut state);
    assert_eq!(FrameCounters::restore(&state), fc);
}
