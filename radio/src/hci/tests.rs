//! The HCI radio against the fake controller ([`super::fake`]): bring-up, the bearer's command
//! sequences, reports, and every way a controller misbehaves. Time is tokio's paused clock, so
//! timeouts and the watchdog run instantly and exactly.

use std::time::Duration;

use tokio::time::{sleep, timeout};

use super::fake::{complete, event, Fake};
use super::*;
use crate::{Bearer, Radio, RadioError, TxFrame};
use weft_mesh::frame::ConnId;

const LEGACY_BRINGUP: [u16; 16] = [
    0x0c03, 0x1001, 0x1002, 0x1003, 0x1005, 0x2002, 0x2003, 0x1009, 0x0c01, 0x2001, 0x200a, 0x200c,
    0x2005, 0x2006, 0x200b, 0x200c,
];
const EXTENDED_BRINGUP: [u16; 16] = [
    0x0c03, 0x1001, 0x1002, 0x1003, 0x1005, 0x2002, 0x2003, 0x1009, 0x0c01, 0x2001, 0x2039, 0x2042,
    0x2036, 0x2035, 0x2041, 0x2042,
];
const ADDR: [u8; 6] = [1, 2, 3, 4, 5, 0xc6];
/// A Mesh Message AD structure.
const MESH: [u8; 6] = [5, 0x2a, 0xa1, 0xa2, 0xa3, 0xa4];

fn cfg() -> HciConfig {
    HciConfig {
        address: Some([1, 2, 3, 4, 5, 6]),
        ..HciConfig::default()
    }
}

async fn open(fake: &Fake, cfg: HciConfig) -> Result<HciRadio, RadioError> {
    HciRadio::with_connector("fake", fake.connector(), cfg).await
}

fn frame(bytes: &[u8]) -> TxFrame {
    TxFrame {
        bearer: Bearer::Advertising,
        bytes: bytes.to_vec(),
    }
}

/// An LE Advertising Report event with one report.
fn legacy_report(kind: u8, data: &[u8], rssi: i8) -> Vec<u8> {
    let mut p = vec![0x02, 1, kind, 1];
    p.extend_from_slice(&ADDR);
    p.push(data.len() as u8);
    p.extend_from_slice(data);
    p.push(rssi as u8);
    event(0x3e, &p)
}

/// An LE Extended Advertising Report event with one report of `event_type`.
fn ext_report(event_type: u16, data: &[u8], rssi: i8) -> Vec<u8> {
    let mut p = vec![0x0d, 1];
    p.extend_from_slice(&event_type.to_le_bytes());
    p.push(1);
    p.extend_from_slice(&ADDR);
    p.extend_from_slice(&[
        0x01, 0x00, 0xff, 0x7f, rssi as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    p.push(data.len() as u8);
    p.extend_from_slice(data);
    event(0x3e, &p)
}

/// The next frame heard, within a second.
async fn heard(radio: &mut HciRadio) -> crate::RxFrame {
    timeout(Duration::from_secs(1), radio.recv())
        .await
        .expect("a frame in time")
        .expect("a frame")
}

/// Nothing more is heard within a second.
async fn nothing_more(radio: &mut HciRadio) {
    assert!(timeout(Duration::from_secs(1), radio.recv()).await.is_err());
}

/// Lets every task run until nothing is left to do, then `ms` pass.
async fn pass(ms: u64) {
    sleep(Duration::from_millis(ms)).await;
}

async fn ready(radio: &HciRadio) {
    let mut s = radio.state();
    timeout(
        Duration::from_secs(60),
        s.wait_for(|s| matches!(s, HciState::Ready(_))),
    )
    .await
    .expect("ready in time")
    .expect("the radio is there");
}

fn params(fake: &Fake, opcode: u16) -> Vec<Vec<u8>> {
    fake.log()
        .into_iter()
        .filter(|r| r.opcode == opcode)
        .map(|r| r.params)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn legacy_bring_up() {
    let fake = Fake::new(false);
    let radio = open(&fake, cfg()).await.unwrap();
    assert_eq!(fake.opcodes(0), LEGACY_BRINGUP);
    let info = radio.info().unwrap();
    assert_eq!(info.advertising, Advertising::Legacy);
    assert_eq!(info.adv_interval_ms, 20);
    assert_eq!(info.hci_version, 0x0d);
    assert_eq!(info.company, 0x05f1);
    assert_eq!(info.bd_addr, Some([0x11, 0x22, 0x33, 0x44, 0x55, 0x66]));
    assert_eq!(
        info.acl_buffers,
        Some(Buffers {
            len: 1021,
            count: 8
        })
    );
    assert_eq!(info.le_buffers, Buffers { len: 251, count: 4 });
    // A random static address: the two top bits set.
    assert_eq!(info.address, [1, 2, 3, 4, 5, 0xc6]);
    assert_eq!(params(&fake, 0x2005), vec![info.address.to_vec()]);
    // Hardware Error (bit 15), Data Buffer Overflow (25), LE Meta (61).
    assert_eq!(
        params(&fake, 0x0c01),
        vec![vec![0, 0x80, 0, 0x02, 0, 0, 0, 0x20]]
    );
    // LE Advertising Report.
    assert_eq!(params(&fake, 0x2001), vec![vec![0x02, 0, 0, 0, 0, 0, 0, 0]]);
    // ADV_NONCONN_IND every 20 ms from the random address, channels 37-39.
    assert_eq!(
        params(&fake, 0x2006),
        vec![vec![0x20, 0, 0x20, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0]]
    );
    // Passive, 30 ms interval and window, duplicates not filtered.
    assert_eq!(params(&fake, 0x200b), vec![vec![0, 0x30, 0, 0x30, 0, 0, 0]]);
    // Stopped first, then started.
    assert_eq!(params(&fake, 0x200a), vec![vec![0]]);
    assert_eq!(params(&fake, 0x200c), vec![vec![0, 0], vec![1, 0]]);
}

#[tokio::test(start_paused = true)]
async fn extended_bring_up() {
    let fake = Fake::new(true);
    let radio = open(&fake, cfg()).await.unwrap();
    assert_eq!(fake.opcodes(0), EXTENDED_BRINGUP);
    assert_eq!(radio.info().unwrap().advertising, Advertising::Extended);
    // LE Advertising Report, LE Extended Advertising Report (12), Set Terminated (17).
    assert_eq!(
        params(&fake, 0x2001),
        vec![vec![0x02, 0x10, 0x02, 0, 0, 0, 0, 0]]
    );
    // Set 0, legacy ADV_NONCONN_IND properties, 20 ms, 37-39, random, 1M/1M.
    assert_eq!(
        params(&fake, 0x2036),
        vec![vec![
            0, 0x10, 0, 0x20, 0, 0, 0x20, 0, 0, 7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 1, 0, 1, 0, 0
        ]]
    );
    assert_eq!(params(&fake, 0x2035), vec![vec![0, 1, 2, 3, 4, 5, 0xc6]]);
    assert_eq!(
        params(&fake, 0x2041),
        vec![vec![0, 0, 1, 0, 0x30, 0, 0x30, 0]]
    );
    assert_eq!(params(&fake, 0x2039), vec![vec![0, 0]]);
    assert_eq!(
        params(&fake, 0x2042),
        vec![vec![0, 0, 0, 0, 0, 0], vec![1, 0, 0, 0, 0, 0]]
    );
}

#[tokio::test(start_paused = true)]
async fn the_advertising_mode_can_be_forced() {
    let fake = Fake::new(true);
    let radio = open(
        &fake,
        HciConfig {
            advertising: AdvMode::Legacy,
            ..cfg()
        },
    )
    .await
    .unwrap();
    assert_eq!(radio.info().unwrap().advertising, Advertising::Legacy);
    assert_eq!(fake.opcodes(0), LEGACY_BRINGUP);
    let fake = Fake::new(false);
    let Err(RadioError::Unsupported(why)) = open(
        &fake,
        HciConfig {
            advertising: AdvMode::Extended,
            ..cfg()
        },
    )
    .await
    else {
        panic!("a legacy controller did extended advertising");
    };
    assert!(
        why.starts_with("fake: extended advertising was asked for"),
        "{why}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_older_controller_advertises_every_100_ms() {
    let fake = Fake::new(false);
    fake.behave(|b| {
        b.fail_once.insert(0x2006, 0x12);
    });
    let radio = open(&fake, cfg()).await.unwrap();
    assert_eq!(radio.info().unwrap().adv_interval_ms, 100);
    let p = params(&fake, 0x2006);
    assert_eq!(p.len(), 2);
    assert_eq!(&p[1][..4], &[0xa0, 0, 0xa0, 0]);
}

/// Stopping advertising and scanning before setting them up (a reset may leave an emulator's
/// running) may be refused by a controller that was not running them: that is let be.
#[tokio::test(start_paused = true)]
async fn refusing_to_stop_what_is_stopped_is_let_be() {
    let fake = Fake::new(false);
    fake.behave(|b| {
        b.fail_once.insert(0x200a, 0x0c);
        b.fail_once.insert(0x200c, 0x0c);
    });
    let radio = open(&fake, cfg()).await.unwrap();
    assert_eq!(fake.opcodes(0), LEGACY_BRINGUP);
    assert_eq!(radio.stats().command_failures, 2);
}

#[tokio::test(start_paused = true)]
async fn a_refused_command_is_named_with_its_status() {
    let fake = Fake::new(false);
    fake.behave(|b| {
        b.fail.insert(0x2006, 0x12);
    });
    let Err(RadioError::Protocol(why)) = open(&fake, cfg()).await else {
        panic!("opened");
    };
    assert_eq!(
        why,
        "fake: HCI LE Set Advertising Parameters (0x2006) failed: Invalid HCI Command Parameters (0x12)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_refused_by_command_status() {
    let fake = Fake::new(false);
    fake.behave(|b| {
        b.refuse_by_status.insert(0x2003, 0x01);
    });
    let Err(RadioError::Protocol(why)) = open(&fake, cfg()).await else {
        panic!("opened");
    };
    assert_eq!(
        why,
        "fake: HCI LE Read Local Supported Features (0x2003) failed: Unknown HCI Command (0x01)"
    );
}

/// A Command Complete with Num_HCI_Command_Packets = 0: the next command waits for the
/// no-operation Command Complete that gives a credit back, which is no restart.
#[tokio::test(start_paused = true)]
async fn commands_wait_for_credits() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    fake.behave(|b| {
        b.hold_credit_once.insert(0x200a);
    });
    let n = fake.log().len();
    radio.send(frame(&MESH)).await.unwrap();
    pass(200).await;
    let log: Vec<_> = fake.log().into_iter().skip(n).collect();
    assert_eq!(
        log.iter().map(|r| r.opcode).collect::<Vec<_>>(),
        [0x2008, 0x200a, 0x200a]
    );
    // Disabling waited for the credit (50 ms), not only the hold (15 ms).
    assert_eq!(log[2].at - log[1].at, Duration::from_millis(50));
    let s = radio.stats();
    assert_eq!((s.tx_frames, s.recoveries, s.command_timeouts), (1, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_command_never_answered_times_out() {
    let fake = Fake::new(false);
    fake.behave(|b| {
        b.silent.insert(0x2001);
    });
    let started = tokio::time::Instant::now();
    let Err(RadioError::Unavailable(why)) = open(&fake, cfg()).await else {
        panic!("opened");
    };
    assert_eq!(
        why,
        "fake: HCI LE Set Event Mask (0x2001) was not answered within 1 s"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_controller_that_is_not_there() {
    let fake = Fake::new(false);
    fake.behave(|b| b.refuse = true);
    let Err(RadioError::Unavailable(why)) = open(&fake, cfg()).await else {
        panic!("opened");
    };
    assert_eq!(why, "fake: no controller there");
    let fake = Fake::new(false);
    fake.behave(|b| b.dead = true);
    let Err(RadioError::Unavailable(why)) = open(&fake, cfg()).await else {
        panic!("opened");
    };
    assert_eq!(why, "fake: HCI Reset (0x0c03) was not answered within 3 s");
}

#[tokio::test(start_paused = true)]
async fn legacy_tx_is_data_enable_hold_disable() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    let n = fake.log().len();
    radio.send(frame(&MESH)).await.unwrap();
    pass(100).await;
    let log: Vec<_> = fake.log().into_iter().skip(n).collect();
    let ops: Vec<u16> = log.iter().map(|r| r.opcode).collect();
    assert_eq!(ops, [0x2008, 0x200a, 0x200a]);
    let mut data = vec![MESH.len() as u8];
    data.extend_from_slice(&MESH);
    data.resize(32, 0);
    assert_eq!(log[0].params, data);
    assert_eq!(log[1].params, [1]);
    assert_eq!(log[2].params, [0]);
    assert_eq!(log[2].at - log[1].at, Duration::from_millis(15));
    assert_eq!(radio.stats().tx_frames, 1);
}

#[tokio::test(start_paused = true)]
async fn extended_tx_is_one_event() {
    let fake = Fake::new(true);
    let mut radio = open(&fake, cfg()).await.unwrap();
    let n = fake.log().len();
    radio.send(frame(&MESH)).await.unwrap();
    pass(100).await;
    let log: Vec<_> = fake.log().into_iter().skip(n).collect();
    assert_eq!(
        log.iter().map(|r| r.opcode).collect::<Vec<_>>(),
        [0x2037, 0x2039]
    );
    let mut data = vec![0, 3, 1, MESH.len() as u8];
    data.extend_from_slice(&MESH);
    assert_eq!(log[0].params, data);
    // Enable, one set: set 0, no duration, at most 1 event.
    assert_eq!(log[1].params, [1, 1, 0, 0, 0, 1]);
    assert_eq!(radio.stats().tx_frames, 1);
    assert_eq!(radio.stats().adv_not_terminated, 0);

    // A controller that never says the set ended: the set is disabled by hand.
    fake.behave(|b| b.no_terminated = true);
    let n = fake.log().len();
    radio.send(frame(&MESH)).await.unwrap();
    pass(1000).await;
    let log: Vec<_> = fake.log().into_iter().skip(n).collect();
    assert_eq!(
        log.iter().map(|r| r.opcode).collect::<Vec<_>>(),
        [0x2037, 0x2039, 0x2039]
    );
    assert_eq!(log[2].params, [0, 1, 0, 0, 0, 1]);
    assert_eq!(log[2].at - log[1].at, Duration::from_millis(250));
    assert_eq!(radio.stats().adv_not_terminated, 1);

    // A late Set Terminated of an earlier event, heard while the next frame's data is set,
    // is not taken for the next event's.
    fake.behave(|b| {
        b.late_once.insert(0x2037, Duration::from_millis(20));
    });
    let n = fake.log().len();
    radio.send(frame(&MESH)).await.unwrap();
    pass(5).await;
    fake.event(0x3e, &[0x12, 0x43, 0, 0, 0, 1]);
    pass(1000).await;
    assert_eq!(fake.opcodes(n), [0x2037, 0x2039, 0x2039]);
    assert_eq!(radio.stats().adv_not_terminated, 2);
}

#[tokio::test(start_paused = true)]
async fn frames_that_cannot_be_advertised_are_refused() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    assert!(matches!(
        radio.send(frame(&[0; 32])).await,
        Err(RadioError::Unsupported(_))
    ));
    let gatt = TxFrame {
        bearer: Bearer::Gatt(ConnId(0)),
        bytes: vec![1],
    };
    assert!(matches!(
        radio.send(gatt).await,
        Err(RadioError::Unsupported(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn legacy_reports_give_mesh_frames() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    let mut data = vec![2, 0x01, 0x06];
    data.extend_from_slice(&MESH);
    fake.send(legacy_report(3, &data, -42)); // ADV_NONCONN_IND: delivered
    fake.send(legacy_report(0, &MESH, -42)); // ADV_IND: not the bearer
    fake.send(legacy_report(2, &MESH, -42)); // ADV_SCAN_IND: not the bearer
    fake.send(legacy_report(4, &MESH, -42)); // SCAN_RSP copy
    fake.send(legacy_report(3, &[2, 0x01, 0x06], -42)); // no mesh data
    let f = heard(&mut radio).await;
    assert_eq!(f.bytes, MESH);
    assert_eq!(f.adv_address, Some(ADDR));
    assert_eq!(f.rssi, Some(-42));
    assert_eq!((f.bearer, f.channel), (Bearer::Advertising, 0));
    nothing_more(&mut radio).await;
    let s = radio.stats();
    assert_eq!(
        (
            s.reports,
            s.rx_frames,
            s.reports_not_nonconn,
            s.reports_scan_rsp,
            s.reports_not_mesh
        ),
        (5, 1, 2, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn extended_reports_give_mesh_frames() {
    let fake = Fake::new(true);
    let mut radio = open(&fake, cfg()).await.unwrap();
    fake.send(ext_report(0x0010, &MESH, -30)); // legacy ADV_NONCONN_IND: delivered
    fake.send(ext_report(0x0013, &MESH, -30)); // legacy ADV_IND
    fake.send(ext_report(0x001a, &MESH, -30)); // legacy SCAN_RSP to ADV_SCAN_IND
    fake.send(ext_report(0x0020, &MESH, -30)); // extended, incomplete
    let mut cut = ext_report(0x0010, &MESH, -30);
    cut.truncate(14); // cut after the Primary_PHY: malformed
    cut[2] = (cut.len() - 3) as u8;
    fake.send(cut);
    fake.send(ext_report(0x0000, &MESH, 127)); // extended non-connectable: delivered
    let f = heard(&mut radio).await;
    assert_eq!((f.bytes.as_slice(), f.rssi), (&MESH[..], Some(-30)));
    let f = heard(&mut radio).await;
    assert_eq!((f.bytes.as_slice(), f.rssi), (&MESH[..], None));
    nothing_more(&mut radio).await;
    let s = radio.stats();
    assert_eq!(
        (
            s.rx_frames,
            s.reports_not_nonconn,
            s.reports_scan_rsp,
            s.reports_incomplete,
            s.reports_malformed
        ),
        (2, 1, 1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn garbage_on_the_line_is_skipped() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    let before = radio.stats();
    // No indicators, then an event with code 0x00.
    let mut line = vec![0xff, 0x00, 0x13, 0x04, 0x00];
    line.extend(legacy_report(3, &MESH, -1));
    fake.send(line);
    let f = heard(&mut radio).await;
    assert_eq!(f.bytes, MESH);
    let s = radio.stats();
    assert_eq!(s.h4_skipped_bytes - before.h4_skipped_bytes, 5);
    assert_eq!(s.h4_resyncs - before.h4_resyncs, 1);

    // A header announcing 255 octets that never come: dropped once the line is quiet.
    fake.send(vec![0x04, 0x3e, 0xff, 0x02]);
    pass(500).await;
    fake.send(legacy_report(3, &MESH, -1));
    let f = heard(&mut radio).await;
    assert_eq!(f.bytes, MESH);
    assert!(radio.stats().h4_partial_dropped >= 1);
}

#[tokio::test(start_paused = true)]
async fn malformed_and_unknown_events_are_counted_and_dropped() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    fake.event(0x0e, &[1, 0x08, 0x20]); // a Command Complete without its status
    fake.event(0xff, &[1, 2, 3]); // vendor: not ours
    fake.event(0x3e, &[0x02, 2, 3]); // two legacy reports promised, a few octets given
    fake.send(legacy_report(3, &MESH, -1));
    let f = heard(&mut radio).await;
    assert_eq!(f.bytes, MESH);
    let s = radio.stats();
    assert_eq!((s.events_malformed, s.reports_malformed), (1, 2));
    assert!(matches!(&*radio.state().borrow(), HciState::Ready(_)));
}

#[tokio::test(start_paused = true)]
async fn full_queues_drop_and_count() {
    let fake = Fake::new(false);
    let mut radio = open(
        &fake,
        HciConfig {
            rx_queue: 2,
            tx_queue: 1,
            ..cfg()
        },
    )
    .await
    .unwrap();
    for _ in 0..5 {
        fake.send(legacy_report(3, &MESH, -1));
    }
    pass(10).await;
    assert_eq!((radio.stats().rx_frames, radio.stats().rx_dropped), (2, 3));
    for _ in 0..5 {
        radio.send(frame(&MESH)).await.unwrap();
    }
    pass(1000).await;
    let s = radio.stats();
    assert_eq!(s.tx_frames + s.tx_dropped, 5);
    assert!(s.tx_dropped >= 3, "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn the_watchdog_resets_a_controller_that_stopped_answering() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    let n = fake.log().len();
    // Still receiving, no longer answering commands.
    fake.behave(|b| b.stuck_until_reset = true);
    pass(7000).await;
    ready(&radio).await;
    let ops = fake.opcodes(n);
    assert_eq!(ops[0], 0x1009, "the probe: Read BD_ADDR");
    assert_eq!(&ops[1..], LEGACY_BRINGUP);
    let s = radio.stats();
    assert_eq!(
        (
            s.watchdog_probes,
            s.command_timeouts,
            s.recoveries,
            s.reconnects
        ),
        (1, 1, 1, 0)
    );
    fake.send(legacy_report(3, &MESH, -1));
    heard(&mut radio).await;
}

#[tokio::test(start_paused = true)]
async fn failures_while_sending_recover_the_controller() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    // Refused.
    fake.behave(|b| {
        b.fail_once.insert(0x2008, 0x0c);
    });
    let n = fake.log().len();
    radio.send(frame(&MESH)).await.unwrap();
    pass(100).await;
    ready(&radio).await;
    assert_eq!(fake.opcodes(n)[0], 0x2008);
    assert_eq!(&fake.opcodes(n)[1..], LEGACY_BRINGUP);
    let s = radio.stats();
    assert_eq!((s.tx_failed, s.command_failures, s.recoveries), (1, 1, 1));
    // Answered late: after the timeout, during the bring-up that follows; ignored there.
    fake.behave(|b| {
        b.late_once.insert(0x2008, Duration::from_millis(1500));
    });
    radio.send(frame(&MESH)).await.unwrap();
    pass(3000).await;
    ready(&radio).await;
    let s = radio.stats();
    assert_eq!((s.tx_failed, s.command_timeouts, s.recoveries), (2, 1, 2));
    // And then it works.
    radio.send(frame(&MESH)).await.unwrap();
    pass(100).await;
    assert_eq!(radio.stats().tx_frames, 1);
}

#[tokio::test(start_paused = true)]
async fn a_hardware_error_or_a_reset_by_itself_is_recovered() {
    let fake = Fake::new(true);
    let radio = open(&fake, cfg()).await.unwrap();
    let n = fake.log().len();
    fake.event(0x10, &[0x07]);
    pass(100).await;
    ready(&radio).await;
    assert_eq!(fake.opcodes(n), EXTENDED_BRINGUP);
    assert_eq!(
        (radio.stats().hardware_errors, radio.stats().recoveries),
        (1, 1)
    );
    // The controller restarted (its power-up Command Complete, or a Reset's of its own).
    for unsolicited in [complete(0x0c03, 0, &[]), event(0x0e, &[1, 0, 0])] {
        let n = fake.log().len();
        fake.send(unsolicited);
        pass(100).await;
        ready(&radio).await;
        assert_eq!(fake.opcodes(n), EXTENDED_BRINGUP);
    }
    assert_eq!(radio.stats().recoveries, 3);
}

#[tokio::test(start_paused = true)]
async fn a_vanished_controller_is_reconnected() {
    let fake = Fake::new(false);
    let mut radio = open(&fake, cfg()).await.unwrap();
    fake.vanish();
    pass(1).await;
    assert!(
        matches!(
            &*radio.state().borrow(),
            HciState::Reconnecting { attempt: 1, .. }
        ),
        "{:?}",
        radio.state().borrow()
    );
    // Frames sent while it is away are dropped, counted.
    radio.send(frame(&MESH)).await.unwrap();
    assert_eq!(radio.stats().tx_dropped, 1);
    ready(&radio).await;
    assert_eq!(fake.connections(), 2);
    let s = radio.stats();
    assert_eq!((s.reconnect_attempts, s.reconnects), (1, 1));
    fake.send(legacy_report(3, &MESH, -1));
    let f = heard(&mut radio).await;
    assert_eq!(f.bytes, MESH);
}

#[tokio::test(start_paused = true)]
async fn reconnection_backs_off_then_gives_up() {
    let fake = Fake::new(false);
    let mut radio = open(
        &fake,
        HciConfig {
            reconnect: Backoff {
                first: Duration::from_millis(100),
                max: Duration::from_millis(400),
                give_up_after: Some(Duration::from_secs(2)),
            },
            ..cfg()
        },
    )
    .await
    .unwrap();
    fake.behave(|b| b.refuse = true);
    fake.vanish();
    let started = tokio::time::Instant::now();
    let Err(RadioError::Unavailable(why)) = radio.recv().await else {
        panic!("no error");
    };
    // Attempts after 100, 200, 400, 400, 400, 400, 400 ms: the seventh ends past 2 s.
    assert_eq!(started.elapsed(), Duration::from_millis(2300));
    assert!(
        why.starts_with("fake: the controller was lost (the controller closed the connection)"),
        "{why}"
    );
    assert!(why.contains("fake: no controller there"), "{why}");
    assert_eq!(radio.stats().reconnect_attempts, 7);
    assert!(matches!(&*radio.state().borrow(), HciState::Gone { .. }));
    assert!(matches!(
        radio.send(frame(&MESH)).await,
        Err(RadioError::Unavailable(_))
    ));
    assert!(matches!(
        radio.recv().await,
        Err(RadioError::Unavailable(_))
    ));
}

#[test]
fn errors_read_as_sentences() {
    let e = HciError::Timeout {
        opcode: 0x2017,
        after: Duration::from_millis(250),
    };
    assert_eq!(
        e.to_string(),
        "HCI LE Encrypt (0x2017) was not answered within 250 ms"
    );
    let e = HciError::Failed {
        opcode: 0xfc01,
        status: 0x01,
    };
    assert_eq!(
        e.to_string(),
        "HCI Vendor Specific (0xfc01) failed: Unknown HCI Command (0x01)"
    );
}
