//! The Spinel radio against the fake RCP.

use std::time::Duration;

use weft_mesh::thread::mac::fcs;

use super::fake::{reset_notification, Behaviour, Fake};
use super::wire::*;
use super::*;
use crate::{Bearer, Radio, RadioError, TxFrame};

fn quick() -> SpinelConfig {
    SpinelConfig {
        reset_timeout: Duration::from_millis(300),
        command_timeout: Duration::from_millis(300),
        tx_timeout: Duration::from_millis(300),
        ..SpinelConfig::default()
    }
}

async fn open(b: Behaviour, cfg: SpinelConfig) -> (Fake, Result<SpinelRadio, RadioError>) {
    let (fake, io) = Fake::start(b);
    let r = SpinelRadio::with_stream("spinel:/dev/fake", Box::new(io), cfg).await;
    (fake, r)
}

async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached");
}

/// A data frame (IEEE 802.15.4-2015 §7.2): frame control 0x8841 (data, PAN ID compression,
/// short addresses), sequence 7, PAN 0xFACE, to 0xFFFF from 0x0001, two octets of payload.
const MAC: [u8; 11] = [
    0x41, 0x88, 0x07, 0xCE, 0xFA, 0xFF, 0xFF, 0x01, 0x00, 0xAA, 0x55,
];

#[tokio::test(flavor = "current_thread")]
async fn bring_up_resets_checks_and_configures_the_rcp() {
    let (fake, r) = open(
        Behaviour::default(),
        SpinelConfig {
            channel: 15,
            ..quick()
        },
    )
    .await;
    let radio = r.unwrap();
    let info = radio.info();
    assert_eq!(info.protocol, (4, 3));
    assert_eq!(info.rcp_api_version, Some(11));
    assert_eq!(info.channel, 15);
    assert_eq!(info.reset_reason, STATUS_RESET_BEGIN + 2);
    assert!(
        info.firmware.starts_with("OPENTHREAD/"),
        "{}",
        info.firmware
    );
    assert!(info.can_send());
    assert!(radio.caps().ieee802154 && !radio.caps().advertising);
    let seen = fake.seen();
    assert_eq!(seen.resets, 1);
    assert_eq!(
        seen.sets,
        vec![
            (PROP_PHY_ENABLED, vec![1]),
            (PROP_PHY_CHAN, vec![15]),
            (PROP_MAC_PROMISCUOUS_MODE, vec![PROMISCUOUS_FULL]),
            (PROP_MAC_RAW_STREAM_ENABLED, vec![1]),
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn frames_heard_come_without_the_fcs_with_channel_rssi_and_time() {
    let (fake, r) = open(Behaviour::default(), quick()).await;
    let mut radio = r.unwrap();
    fake.hear(&fcs::append(&MAC), 11, -58, 255, 123_456_789)
        .await;
    let f = radio.recv().await.unwrap();
    assert_eq!(f.bearer, Bearer::Ieee802154);
    assert_eq!(f.bytes, MAC);
    assert_eq!((f.channel, f.rssi, f.lqi), (11, Some(-58), Some(255)));
    assert_eq!(f.timestamp.as_micros(), 123_456_789);
    // A frame whose FCS is wrong is still handed over, and counted.
    let mut bad = fcs::append(&MAC);
    bad[3] ^= 1;
    fake.hear(&bad, 11, -70, 10, 123_456_999).await;
    let g = radio.recv().await.unwrap();
    assert_eq!(g.bytes[3], MAC[3] ^ 1);
    let st = radio.stats();
    assert_eq!((st.rx_frames, st.rx_fcs_bad), (2, 1), "{st:?}");
    // Unreadable and errored frames are dropped, counted.
    fake.send(prop_is(0, PROP_STREAM_RAW, &[0x05, 0x00, 1]))
        .await;
    let errored = RawFrame {
        psdu: &fcs::append(&MAC),
        rssi: 0,
        noise_floor: 0,
        flags: 0,
        channel: 11,
        lqi: 0,
        timestamp_us: 1,
        receive_error: 3,
    };
    fake.send(prop_is(0, PROP_STREAM_RAW, &errored.encode()))
        .await;
    until(|| {
        let s = radio.stats();
        s.rx_malformed == 1 && s.rx_errors == 1
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn frames_sent_go_out_as_stream_raw_and_their_outcome_is_counted() {
    let (fake, r) = open(Behaviour::default(), quick()).await;
    let mut radio = r.unwrap();
    radio
        .send(TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: MAC.to_vec(),
        })
        .await
        .unwrap();
    until(|| radio.stats().tx_frames == 1).await;
    let (prop, value) = fake.seen().sets.last().cloned().unwrap();
    assert_eq!(prop, PROP_STREAM_RAW);
    let mut psdu = MAC.to_vec();
    psdu.extend([0, 0]);
    assert_eq!(value, stream_raw_tx(&psdu, 11, 4, 3));
    fake.behaviour.lock().unwrap().tx_status = STATUS_NO_ACK;
    radio
        .send(TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: MAC.to_vec(),
        })
        .await
        .unwrap();
    until(|| radio.stats().tx_no_ack == 1).await;
    // Not on this radio's bearer, or too long: refused.
    for bad in [
        TxFrame {
            bearer: Bearer::Advertising,
            bytes: vec![1],
        },
        TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: vec![0; 126],
        },
    ] {
        assert!(matches!(
            radio.send(bad).await,
            Err(RadioError::Unsupported(_))
        ));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_channel_changes_on_request() {
    let (fake, r) = open(Behaviour::default(), quick()).await;
    let radio = r.unwrap();
    radio.set_channel(25).await.unwrap();
    assert_eq!(radio.info().channel, 25);
    assert_eq!(fake.seen().sets.last(), Some(&(PROP_PHY_CHAN, vec![25])));
    assert!(matches!(
        radio.set_channel(27).await,
        Err(RadioError::Unsupported(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn an_rcp_that_restarts_by_itself_is_brought_up_again() {
    let (fake, r) = open(
        Behaviour::default(),
        SpinelConfig {
            channel: 20,
            ..quick()
        },
    )
    .await;
    let mut radio = r.unwrap();
    fake.send(reset_notification()).await;
    until(|| fake.seen().sets.len() == 8).await;
    assert_eq!(fake.seen().sets[5], (PROP_PHY_CHAN, vec![20]));
    assert_eq!(radio.stats().unexpected_resets, 1);
    fake.hear(&fcs::append(&MAC), 20, -40, 200, 5).await;
    assert_eq!(radio.recv().await.unwrap().bytes, MAC);
}

#[tokio::test(flavor = "current_thread")]
async fn a_stream_that_ends_ends_the_radio() {
    let (fake, io) = Fake::start(Behaviour::default());
    let mut radio = SpinelRadio::with_stream("spinel:/dev/fake", Box::new(io), quick())
        .await
        .unwrap();
    fake.hear(&fcs::append(&MAC), 11, -40, 200, 5).await;
    fake.vanish().await;
    // What was heard before is still handed over, then the error.
    assert_eq!(radio.recv().await.unwrap().bytes, MAC);
    let Err(RadioError::Unavailable(why)) = radio.recv().await else {
        panic!("still there");
    };
    assert!(
        why.starts_with("spinel:/dev/fake: the RCP was lost"),
        "{why}"
    );
    // A stream closed before bring-up.
    let (a, b) = tokio::io::duplex(64);
    drop(b);
    let Err(RadioError::Unavailable(why)) =
        SpinelRadio::with_stream("spinel:/dev/gone", Box::new(a), quick()).await
    else {
        panic!("opened");
    };
    assert!(why.starts_with("spinel:/dev/gone: "), "{why}");
}

/// An RCP lost (unplugged) is reopened with backoff and brought up again on its channel; one
/// that does not come back ends the radio with the error.
#[tokio::test(flavor = "current_thread")]
async fn a_lost_rcp_is_reopened_and_brought_up_again() {
    use std::sync::{Arc, Mutex};
    let fakes: Arc<Mutex<Vec<Fake>>> = Arc::default();
    let refuse = Arc::new(Mutex::new(false));
    let (f2, r2) = (fakes.clone(), refuse.clone());
    let connect: Connector = Box::new(move || {
        let (fakes, refuse) = (f2.clone(), r2.clone());
        Box::pin(async move {
            if *refuse.lock().unwrap() {
                return Err(RadioError::Unavailable("no such device".into()));
            }
            let (fake, io) = Fake::start(Behaviour::default());
            fakes.lock().unwrap().push(fake);
            Ok(Box::new(io) as Box<dyn SpinelIo>)
        })
    });
    let cfg = SpinelConfig {
        channel: 24,
        reconnect: Backoff {
            first: Duration::from_millis(10),
            max: Duration::from_millis(40),
            give_up_after: Duration::from_millis(300),
        },
        ..quick()
    };
    let mut radio = SpinelRadio::with_connector("spinel:/dev/fake", connect, cfg)
        .await
        .unwrap();
    radio.set_channel(16).await.unwrap();
    let first = fakes.lock().unwrap()[0].clone();
    first.vanish().await;
    until(|| radio.stats().reconnects == 1).await;
    let second = fakes.lock().unwrap()[1].clone();
    assert_eq!(second.seen().resets, 1);
    assert!(second.seen().sets.contains(&(PROP_PHY_CHAN, vec![16])));
    second.hear(&fcs::append(&MAC), 16, -20, 250, 9).await;
    assert_eq!(radio.recv().await.unwrap().bytes, MAC);
    // Unplugged for good.
    *refuse.lock().unwrap() = true;
    second.vanish().await;
    let Err(RadioError::Unavailable(why)) = radio.recv().await else {
        panic!("still there");
    };
    assert!(
        why.starts_with("spinel:/dev/fake: the RCP was lost"),
        "{why}"
    );
    assert!(
        why.contains("did not come back") && why.contains("no such device"),
        "{why}"
    );
    assert!(radio.stats().reconnect_attempts >= 3, "{:?}", radio.stats());
}

/// Each way of not answering is told apart, in one sentence that starts with the URI.
#[tokio::test(flavor = "current_thread")]
async fn an_rcp_that_does_not_answer_says_what_it_looks_like() {
    let cases: Vec<(Behaviour, &str)> = vec![
        (
            Behaviour {
                silent: true,
                ..Behaviour::default()
            },
            "wrong port",
        ),
        (
            Behaviour {
                noise: true,
                ..Behaviour::default()
            },
            "no valid HDLC frame: it looks like the wrong baud rate",
        ),
        (
            Behaviour {
                damaged: true,
                ..Behaviour::default()
            },
            "damaged HDLC frames",
        ),
        (
            Behaviour {
                protocol: (3, 1),
                ..Behaviour::default()
            },
            "RCP and host version mismatch",
        ),
        (
            Behaviour {
                rcp_api_version: 3,
                ..Behaviour::default()
            },
            "RCP and host version mismatch",
        ),
        (
            Behaviour {
                caps: vec![CAP_WRITABLE_RAW_STREAM, 32],
                ..Behaviour::default()
            },
            "not a radio co-processor",
        ),
    ];
    for (b, says) in cases {
        let (_fake, r) = open(b.clone(), quick()).await;
        let Err(e) = r else {
            panic!("{b:?} opened");
        };
        let why = match &e {
            RadioError::Unavailable(w) | RadioError::Protocol(w) => w.clone(),
            other => panic!("{other:?}"),
        };
        assert!(why.starts_with("spinel:/dev/fake: "), "{why}");
        assert!(why.contains(says), "{b:?}: want {says:?} in {why}");
        assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    }
}

#[test]
fn silence_is_diagnosed_from_the_line_statistics() {
    let mut st = SpinelStats::default();
    let d = |st: &SpinelStats, stalled| diagnose_silence(st, Duration::from_secs(2), stalled);
    assert!(d(&st, false).contains("wrong port"));
    assert!(d(&st, true).contains("flow control"));
    st.hdlc.bytes = 40;
    assert!(d(&st, false).contains("wrong baud rate"));
    st.hdlc.bad_fcs = 3;
    assert!(d(&st, false).contains("damaged"));
    st.hdlc.frames = 2;
    assert!(d(&st, false).contains("not an OpenThread RCP"));
}

/// The serial path: a device that is not there is one sentence naming it.
#[tokio::test(flavor = "current_thread")]
async fn a_missing_serial_device_is_named() {
    let uri = crate::RadioUri::parse("spinel:/nonexistent/ttyACM9?channel=12").unwrap();
    let Err(RadioError::Unavailable(why)) = SpinelRadio::open(&uri, quick()).await else {
        panic!("opened");
    };
    assert!(
        why.starts_with("spinel:/nonexistent/ttyACM9?channel=12: cannot open the serial device"),
        "{why}"
    );
}

/// The serial path end to end: the fake RCP on the master side of a pty, the radio opening the
/// pty's device by its path through `spinel:` as it would /dev/ttyACM0.
#[tokio::test(flavor = "current_thread")]
async fn an_rcp_behind_a_pty_opens_through_its_path() {
    use tokio_serial::SerialPort;
    let (master, slave) = match tokio_serial::SerialStream::pair() {
        Ok(p) => p,
        Err(e) => {
            assert_ne!(std::env::var("CI").as_deref(), Ok("1"), "no pty here: {e}");
            eprintln!("skipping: no pty here: {e}");
            return;
        }
    };
    let path = slave.name().expect("the pty's device path");
    // Closed, so that the radio can take the device (serialport locks it exclusively).
    drop(slave);
    let fake = Fake::start_on(master, Behaviour::default());
    let uri = crate::RadioUri::parse(&format!("spinel:{path}?baud=460800&channel=19")).unwrap();
    let mut radio = SpinelRadio::open(&uri, quick()).await.unwrap();
    assert_eq!(radio.info().channel, 19);
    fake.hear(&fcs::append(&MAC), 19, -33, 90, 77).await;
    let f = radio.recv().await.unwrap();
    assert_eq!((f.bytes.as_slice(), f.channel), (&MAC[..], 19));
    radio
        .send(TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: MAC.to_vec(),
        })
        .await
        .unwrap();
    until(|| radio.stats().tx_frames == 1).await;
    // A second opener of the same device is told that it is taken.
    let Err(RadioError::Unavailable(why)) = SpinelRadio::open(&uri, quick()).await else {
        panic!("opened twice");
    };
    assert!(why.contains("another program has it open"), "{why}");
}

#[test]
fn fuzz_parse_takes_anything() {
    fuzz_parse(&[]);
    fuzz_parse(&hdlc::encode(&prop_is(0, PROP_STREAM_RAW, &[0xFF, 0xFF])));
    fuzz_parse(&[0x7E, 0x7D, 0x7E, 0x80]);
}
