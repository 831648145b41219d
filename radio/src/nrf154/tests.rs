//! The sniffer radio against the fake sniffer.

use std::time::Duration;

use weft_mesh::thread::mac::fcs;

use super::fake::{Behaviour, Fake};
use super::*;
use crate::{Bearer, Radio, RadioError, TxFrame};

const MAC: [u8; 11] = [
    0x41, 0x88, 0x07, 0xCE, 0xFA, 0xFF, 0xFF, 0x01, 0x00, 0xAA, 0x55,
];

fn quick(channel: u8) -> Nrf154Config {
    Nrf154Config {
        channel,
        setup_timeout: Duration::from_millis(200),
        ..Nrf154Config::default()
    }
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

#[tokio::test(flavor = "current_thread")]
async fn setup_sends_sleep_echo_off_channel_receive() {
    let (fake, io) = Fake::start(Behaviour::Sniffer);
    let radio = Nrf154Radio::with_stream("nrf154:/dev/fake", Box::new(io), quick(11))
        .await
        .unwrap();
    until(|| fake.seen().receiving).await;
    let seen = fake.seen();
    assert_eq!(
        seen.commands,
        ["sleep", "shell echo off", "channel 11", "receive"]
    );
    assert_eq!(seen.channel, Some(11));
    assert!(radio.caps().ieee802154);
    radio.set_channel(26).await.unwrap();
    until(|| fake.seen().channel == Some(26)).await;
    assert!(fake.seen().receiving);
    assert_eq!(radio.channel(), 26);
    assert!(matches!(
        radio.set_channel(10).await,
        Err(RadioError::Unsupported(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn frame_lines_become_frames_without_the_fcs_and_the_clock_runs_on() {
    let (fake, io) = Fake::start(Behaviour::Sniffer);
    let mut radio = Nrf154Radio::with_stream("nrf154:/dev/fake", Box::new(io), quick(20))
        .await
        .unwrap();
    let psdu = fcs::append(&MAC);
    fake.hear(&psdu, -71, 120, u32::MAX - 99).await;
    // Noise between frames: a prompt, a log line, a damaged frame line, an overlong line.
    fake.print("uart:~$ \r\n<inf> sniffer: started\r\nreceived: 0g power: 1 lqi: 1 time: 1\r\n")
        .await;
    fake.print(vec![b'x'; 2000]).await;
    fake.print("\r\n").await;
    let mut bad = psdu.clone();
    bad[0] ^= 0x40;
    fake.hear(&bad, -80, 30, 100).await; // after the wrap
    let a = radio.recv().await.unwrap();
    assert_eq!(a.bearer, Bearer::Ieee802154);
    assert_eq!(a.bytes, MAC);
    assert_eq!((a.channel, a.rssi, a.lqi), (20, Some(-71), Some(120)));
    assert_eq!(a.timestamp.as_micros(), u64::from(u32::MAX - 99));
    let b = radio.recv().await.unwrap();
    assert_eq!(b.bytes[0], MAC[0] ^ 0x40);
    assert_eq!(b.timestamp.as_micros(), (1u64 << 32) + 100);
    until(|| radio.stats().frames == 2).await;
    let st = radio.stats();
    assert_eq!(st.fcs_bad, 1, "{st:?}");
    assert_eq!(st.clock_wraps, 1, "{st:?}");
    assert_eq!(st.malformed, 1, "{st:?}");
    assert_eq!(st.lines_too_long, 1, "{st:?}");
    assert!(st.other_lines >= 2, "{st:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn it_only_listens() {
    let (_fake, io) = Fake::start(Behaviour::Sniffer);
    let mut radio = Nrf154Radio::with_stream("nrf154:/dev/fake", Box::new(io), quick(11))
        .await
        .unwrap();
    let e = radio
        .send(TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: MAC.to_vec(),
        })
        .await;
    assert!(matches!(e, Err(RadioError::Unsupported(w)) if w.contains("only listens")));
}

#[tokio::test(flavor = "current_thread")]
async fn a_sniffer_that_goes_away_ends_recv() {
    let (fake, io) = Fake::start(Behaviour::Sniffer);
    let mut radio = Nrf154Radio::with_stream("nrf154:/dev/fake", Box::new(io), quick(11))
        .await
        .unwrap();
    fake.print(Vec::new()).await;
    let Err(RadioError::Unavailable(why)) = radio.recv().await else {
        panic!("still there");
    };
    assert!(
        why.starts_with("nrf154:/dev/fake: the sniffer was lost"),
        "{why}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_device_that_is_not_a_sniffer_says_what_it_looks_like() {
    for (b, says) in [
        (Behaviour::Silent, "nothing came back"),
        (Behaviour::Binary, "not text"),
    ] {
        let (_fake, io) = Fake::start(b);
        let Err(e) = Nrf154Radio::with_stream("nrf154:/dev/fake", Box::new(io), quick(11)).await
        else {
            panic!("{b:?} opened");
        };
        let why = match e {
            RadioError::Unavailable(w) | RadioError::Protocol(w) => w,
            other => panic!("{other:?}"),
        };
        assert!(why.starts_with("nrf154:/dev/fake: "), "{why}");
        assert!(why.contains(says), "{b:?}: {why}");
        assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_serial_device_is_named() {
    let uri = crate::RadioUri::parse("nrf154:/nonexistent/ttyACM7?channel=25").unwrap();
    let Err(RadioError::Unavailable(why)) = Nrf154Radio::open(&uri, quick(11)).await else {
        panic!("opened");
    };
    assert!(
        why.starts_with("nrf154:/nonexistent/ttyACM7?channel=25: cannot open the serial device"),
        "{why}"
    );
}

#[test]
fn fuzz_parse_takes_anything() {
    fuzz_parse(
        b"received: 0011 power: 1 lqi: 2 time: 3\nreceived: 00 power: 1 lqi: 2 time: 3\n\xff\n",
    );
}
