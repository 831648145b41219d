//! The Spinel radio's transmit statuses and source-match table against the fake RCP.

use std::time::Duration;

use weft_mesh::thread::mac::{Address, ExtAddress};

use super::fake::{Behaviour, Fake};
use super::mac::{SrcMatch, PROP_MAC_SRC_MATCH_ENABLED};
use super::wire::*;
use super::*;
use crate::{Bearer, Radio, RadioError, RadioEvent, TxDone, TxFrame, TxStatus};

fn quick() -> SpinelConfig {
    SpinelConfig {
        reset_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(300),
        tx_timeout: Duration::from_millis(300),
        ..SpinelConfig::default()
    }
}

async fn open(b: Behaviour) -> (Fake, SpinelRadio) {
    let (fake, io) = Fake::start(b);
    let r = SpinelRadio::with_stream("spinel:/dev/fake", Box::new(io), quick())
        .await
        .unwrap();
    (fake, r)
}

/// A Data Request (802.15.4-2015 §7.5.5): command, AR, PAN ID compression, 2003, short to
/// short; sequence 0x21, PAN 0xface, to 0x0400 from 0x0401.
const DATA_REQUEST: [u8; 10] = [0x63, 0x88, 0x21, 0xce, 0xfa, 0x00, 0x04, 0x01, 0x04, 0x04];

async fn send_and_take(radio: &mut SpinelRadio, bytes: &[u8]) -> TxDone {
    radio
        .send(TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: bytes.to_vec(),
        })
        .await
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(2), radio.recv_event())
        .await
        .expect("a status in time")
        .unwrap();
    let RadioEvent::TxDone(d) = ev else {
        panic!("{ev:?}")
    };
    d
}

#[tokio::test(flavor = "current_thread")]
async fn the_transmit_status_and_the_acks_frame_pending_come_through_recv_event() {
    let (fake, mut radio) = open(Behaviour {
        tx_frame_pending: Some(true),
        ..Behaviour::default()
    })
    .await;
    let d = send_and_take(&mut radio, &DATA_REQUEST).await;
    assert_eq!(
        d,
        TxDone {
            bearer: Bearer::Ieee802154,
            sequence_number: Some(0x21),
            status: TxStatus::Acked,
            frame_pending: true,
        }
    );
    assert_eq!(radio.stats().tx_acked_frame_pending, 1);
    fake.behaviour.lock().unwrap().tx_frame_pending = Some(false);
    let d = send_and_take(&mut radio, &DATA_REQUEST).await;
    assert_eq!((d.status, d.frame_pending), (TxStatus::Acked, false));
    // An older RCP: the status alone, Frame Pending unknown (false).
    {
        let mut b = fake.behaviour.lock().unwrap();
        b.tx_frame_pending = None;
        b.tx_status = STATUS_NO_ACK;
    }
    let d = send_and_take(&mut radio, &DATA_REQUEST).await;
    assert_eq!((d.status, d.frame_pending), (TxStatus::NoAck, false));
    fake.behaviour.lock().unwrap().tx_status = STATUS_CCA_FAILURE;
    let d = send_and_take(&mut radio, &DATA_REQUEST).await;
    assert_eq!(d.status, TxStatus::ChannelAccessFailure);
    // No answer in time: failed.
    fake.behaviour.lock().unwrap().silent = true;
    let d = send_and_take(&mut radio, &DATA_REQUEST).await;
    assert_eq!(d.status, TxStatus::Failed);
}

#[tokio::test(flavor = "current_thread")]
async fn statuses_nobody_takes_are_counted_and_never_hold_up_sending() {
    let (_fake, mut radio) = open(Behaviour {
        tx_frame_pending: Some(false),
        ..Behaviour::default()
    })
    .await;
    for _ in 0..(quick().tx_queue + 3) {
        radio
            .send(TxFrame {
                bearer: Bearer::Ieee802154,
                bytes: DATA_REQUEST.to_vec(),
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for _ in 0..400 {
        let s = radio.stats();
        if s.tx_frames + s.tx_dropped == quick().tx_queue as u64 + 3 && s.tx_done_dropped > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("statuses nobody took were not counted: {:?}", radio.stats());
}

#[tokio::test(flavor = "current_thread")]
async fn source_match_changes_reach_the_rcp() {
    let (fake, radio) = open(Behaviour::default()).await;
    let child = ExtAddress([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
    radio.source_match(SrcMatch::Enable(true)).await.unwrap();
    radio
        .source_match(SrcMatch::Add(Address::Extended(child)))
        .await
        .unwrap();
    radio
        .source_match(SrcMatch::Add(Address::Short(0x0401)))
        .await
        .unwrap();
    radio
        .source_match(SrcMatch::Remove(Address::Short(0x0401)))
        .await
        .unwrap();
    radio.source_match(SrcMatch::Clear).await.unwrap();
    let seen = fake.seen();
    assert_eq!(
        seen.list_changes,
        vec![
            (
                CMD_PROP_VALUE_INSERT,
                0x1305,
                vec![0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12]
            ),
            (CMD_PROP_VALUE_INSERT, 0x1304, vec![0x01, 0x04]),
            (CMD_PROP_VALUE_REMOVE, 0x1304, vec![0x01, 0x04]),
        ]
    );
    let sets: Vec<_> = seen
        .sets
        .iter()
        .filter(|(p, _)| (0x1303..=0x1305).contains(p))
        .cloned()
        .collect();
    assert_eq!(
        sets,
        vec![
            (PROP_MAC_SRC_MATCH_ENABLED, vec![1]),
            (0x1304, vec![]),
            (0x1305, vec![])
        ]
    );
    assert_eq!(radio.stats().src_match_failed, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_source_match_change_is_an_error_and_counted() {
    let (_fake, radio) = open(Behaviour {
        refuse_src_match: true,
        ..Behaviour::default()
    })
    .await;
    let e = radio
        .source_match(SrcMatch::Add(Address::Short(0x0401)))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, RadioError::Protocol(m) if m.contains("refused") && m.contains("NOMEM")),
        "{e}"
    );
    assert!(radio.source_match(SrcMatch::Enable(true)).await.is_err());
    assert_eq!(radio.stats().src_match_failed, 2);
}

#[tokio::test(flavor = "current_thread")]
async fn the_addresses_and_table_are_given_and_given_again_after_a_restart() {
    use weft_mesh::thread::radio::MacSettings;
    let (fake, radio) = open(Behaviour::default()).await;
    let mac_props = |f: &Fake| -> Vec<(u32, Vec<u8>)> {
        f.seen()
            .sets
            .into_iter()
            .filter(|(p, _)| (0x34..=0x36).contains(p) || *p == PROP_MAC_PROMISCUOUS_MODE)
            .collect()
    };
    // Bring-up: full promiscuous mode.
    assert_eq!(mac_props(&fake), vec![(PROP_MAC_PROMISCUOUS_MODE, vec![2])]);
    radio
        .set_mac(Some(MacSettings {
            channel: 11,
            pan_id: 0xface,
            ext_address: ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]),
            short_address: Some(0x0400),
        }))
        .await
        .unwrap();
    let given = [
        (0x36, vec![0xce, 0xfa]),
        (0x34, vec![8, 7, 6, 5, 4, 3, 2, 1]),
        (0x35, vec![0x00, 0x04]),
        (PROP_MAC_PROMISCUOUS_MODE, vec![0]),
    ];
    assert_eq!(mac_props(&fake)[1..], given[..]);
    radio.source_match(SrcMatch::Enable(true)).await.unwrap();
    radio
        .source_match(SrcMatch::Add(Address::Short(0x0401)))
        .await
        .unwrap();
    radio
        .source_match(SrcMatch::Add(Address::Short(0x0402)))
        .await
        .unwrap();
    radio
        .source_match(SrcMatch::Remove(Address::Short(0x0401)))
        .await
        .unwrap();
    // The RCP restarts by itself: configured again (promiscuous first), then given what it had.
    fake.send(super::fake::reset_notification()).await;
    for _ in 0..200 {
        if fake.seen().list_changes.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let after = mac_props(&fake);
    assert_eq!(after[5], (PROP_MAC_PROMISCUOUS_MODE, vec![2]));
    assert_eq!(after[6..], given[..]);
    let seen = fake.seen();
    assert_eq!(
        seen.list_changes[3],
        (CMD_PROP_VALUE_INSERT, 0x1304, vec![0x02, 0x04]),
        "only the entry still there"
    );
    assert_eq!(
        seen.sets
            .iter()
            .filter(|(p, _)| *p == PROP_MAC_SRC_MATCH_ENABLED)
            .count(),
        2
    );
    // Back to listening to everything.
    radio.set_mac(None).await.unwrap();
    assert_eq!(
        mac_props(&fake).last(),
        Some(&(PROP_MAC_PROMISCUOUS_MODE, vec![2]))
    );
}
