use super::*;
use crate::ble_ll::{parse_ble_adv, PDU_ADV_NONCONN_IND};
use crate::pcap::read_all_packets;
use std::collections::VecDeque;
use weft_mesh::frame::ConnId;

const HUB_ADDRESS: [u8; 6] = [1, 2, 3, 4, 5, 0xc6];

fn heard(channel: u8, timestamp: u64, adv_address: Option<[u8; 6]>, bytes: &[u8]) -> RxFrame {
    RxFrame {
        lqi: None,
        bearer: Bearer::Advertising,
        channel,
        rssi: Some(-55),
        timestamp: Instant::from_micros(timestamp),
        adv_address,
        bytes: bytes.to_vec(),
    }
}

/// A file of its own under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("weft-capture-{name}-{}.pcapng", std::process::id()))
}

#[test]
fn the_link_type_follows_the_bearer_and_the_radio_caps() {
    assert_eq!(link_type(Bearer::Advertising), Some(256));
    assert_eq!(link_type(Bearer::Ieee802154), Some(283));
    assert_eq!(link_type(Bearer::Gatt(ConnId(0))), None);
    assert_eq!(link_types(Caps::ADVERTISING), vec![256]);
    let both = Caps {
        advertising: true,
        gatt: true,
        ieee802154: true,
    };
    assert_eq!(link_types(both), vec![256, 283]);
    let thread = Caps::IEEE802154;
    assert_eq!(link_types(thread), vec![283]);
}

#[test]
fn a_frame_heard_is_an_adv_nonconn_ind_from_its_transmitter() {
    let data = [0x02, 0x01, 0x06];
    let (lt, p) = rx_packet(&heard(38, 0, Some(HUB_ADDRESS), &data)).unwrap();
    assert_eq!(lt, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR);
    let adv = parse_ble_adv(&p).unwrap();
    assert_eq!(
        (
            adv.channel,
            adv.rssi,
            adv.adv_address,
            adv.pdu_type,
            adv.crc_ok
        ),
        (38, Some(-55), HUB_ADDRESS, PDU_ADV_NONCONN_IND, true)
    );
    assert_eq!(adv.adv_data, data);
    // No address and no channel reported: the stand-ins.
    let (_, p) = rx_packet(&heard(0, 0, None, &data)).unwrap();
    let adv = parse_ble_adv(&p).unwrap();
    assert_eq!(
        (adv.channel, adv.adv_address),
        (DEFAULT_CHANNEL, UNKNOWN_ADV_ADDRESS)
    );
    assert_eq!(UNKNOWN_ADV_ADDRESS[5] & 0xc0, 0xc0, "random static");
    assert_eq!(stand_in_adv_address(0x0102)[..2], [0x02, 0x01]);
}

#[test]
fn frames_without_a_packet_form_are_unframed_not_errors_of_the_file() {
    let long = heard(37, 0, None, &[0u8; 32]);
    assert!(matches!(rx_packet(&long), Err(CaptureError::Unframed(w)) if w.contains("31")));
    for (bearer, bytes) in [
        (Bearer::Gatt(ConnId(0)), vec![1]),
        (Bearer::Ieee802154, vec![]),
        (Bearer::Ieee802154, vec![0; 126]),
    ] {
        let f = RxFrame {
            bearer,
            ..heard(11, 0, None, &bytes)
        };
        assert!(matches!(rx_packet(&f), Err(CaptureError::Unframed(_))));
    }
}

#[test]
fn ieee802154_frames_are_tap_packets_with_their_fcs_recomputed() {
    let mac = [0x41, 0x88, 0x07, 0xCE, 0xFA, 0xFF, 0xFF, 0x01, 0x00, 0xAA];
    let f = RxFrame {
        bearer: Bearer::Ieee802154,
        rssi: Some(-47),
        ..heard(25, 0, None, &mac)
    };
    let (lt, p) = rx_packet(&f).unwrap();
    assert_eq!(lt, 283);
    let (info, back) = crate::ieee802154_tap::parse_frame(&p).unwrap();
    assert_eq!(back, mac);
    assert_eq!(
        (info.channel, info.rssi, info.lqi),
        (Some((25, 0)), Some(-47.0), None)
    );
    // The LQI a radio reported is written as the LQI TLV and read back.
    let (_, p) = rx_packet(&RxFrame {
        lqi: Some(173),
        ..f.clone()
    })
    .unwrap();
    assert_eq!(
        crate::ieee802154_tap::parse_frame(&p).unwrap().0.lqi,
        Some(173)
    );
    // Unknown channel (0): no channel TLV.
    let (_, p) = rx_packet(&RxFrame { channel: 0, ..f }).unwrap();
    assert_eq!(
        crate::ieee802154_tap::parse_frame(&p).unwrap().0.channel,
        None
    );
    // A capture of an 802.15.4 radio declares LINKTYPE 283 and takes frames sent too.
    let path = scratch("wpan");
    let caps = Caps::IEEE802154;
    let mut c = CaptureFile::create(&path, caps).unwrap();
    let sent = TxFrame {
        bearer: Bearer::Ieee802154,
        bytes: mac.to_vec(),
    };
    assert_eq!(
        c.write_sent(&sent, UNKNOWN_ADV_ADDRESS).unwrap().link_type,
        283
    );
    c.finish().unwrap();
    let packets = read_all_packets(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].link_type, 283);
    assert_eq!(
        crate::ieee802154_tap::parse_frame(&packets[0].data)
            .unwrap()
            .1,
        mac
    );
}

#[test]
fn the_radio_clock_is_tied_to_the_host_clock_and_followed() {
    let mut t = Timeline::default();
    // Not stamped: the host's.
    assert_eq!(t.stamp(Instant::ZERO, 5_000), (5_000, Timebase::Host));
    // The first stamp ties the clocks; later ones keep the radio's intervals even when the
    // host reads them late or in a burst.
    let host0 = 1_700_000_000_000_000;
    assert_eq!(
        t.stamp(Instant::from_micros(10_000), host0),
        (host0, Timebase::Radio)
    );
    assert_eq!(
        t.stamp(Instant::from_micros(10_250), host0 + 900).0,
        host0 + 250
    );
    assert_eq!(
        t.stamp(Instant::from_micros(510_000), host0 + 500_700).0,
        host0 + 500_000
    );
    // A counter that wrapped (or a controller that reset): tied again at the host's time.
    assert_eq!(
        t.stamp(Instant::from_micros(3), host0 + 600_000),
        (host0 + 600_000, Timebase::Radio)
    );
    assert_eq!(
        t.stamp(Instant::from_micros(103), host0 + 600_400).0,
        host0 + 600_100
    );
    // A clock that strayed more than the tolerance from the host's.
    let far = host0 + 600_000 + RADIO_CLOCK_TOLERANCE.as_micros() as u64 + 5_000_000;
    assert_eq!(t.stamp(Instant::from_micros(200), far).0, far);
    // Whatever the radio says, no overflow: a clock at its end is tied like any other.
    let mut t = Timeline::default();
    assert_eq!(t.stamp(Instant::from_micros(u64::MAX - 5), 10).0, 10);
    assert_eq!(t.stamp(Instant::from_micros(u64::MAX), 10).0, 15);
}

#[test]
fn a_capture_file_holds_what_was_written_and_names_its_link_types() {
    let path = scratch("file");
    let mut c = CaptureFile::create(&path, Caps::ADVERTISING).unwrap();
    let host = 1_700_000_000_000_000;
    let w = c
        .write_rx_at(&heard(39, 2_000, Some(HUB_ADDRESS), &[2, 1, 6]), host)
        .unwrap();
    assert_eq!(
        (w.time_us, w.timebase, w.link_type),
        (host, Timebase::Radio, 256)
    );
    let w = c
        .write_rx_at(&heard(37, 0, None, &[2, 1, 6]), host + 7)
        .unwrap();
    assert_eq!((w.time_us, w.timebase), (host + 7, Timebase::Host));
    let sent = TxFrame {
        bearer: Bearer::Advertising,
        bytes: vec![3, 0x2b, 0, 0],
    };
    let w = c.write_sent(&sent, stand_in_adv_address(9)).unwrap();
    assert_eq!(w.timebase, Timebase::Host);
    c.write_adv(Instant::from_micros(42), HUB_ADDRESS, 38, None, &[1, 2])
        .unwrap();
    assert!(matches!(
        c.write_rx(&heard(37, 0, None, &[0; 40])),
        Err(CaptureError::Unframed(_))
    ));
    assert_eq!(c.packets(), 4);
    assert_eq!(c.finish().unwrap(), path);
    let packets = read_all_packets(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(packets.len(), 4);
    assert!(packets.iter().all(|p| p.link_type == 256));
    assert_eq!(packets[0].timestamp.as_micros(), host);
    assert_eq!(packets[3].timestamp.as_micros(), 42);
    let adv = parse_ble_adv(&packets[2].data).unwrap();
    assert_eq!(
        (adv.adv_address, adv.channel, adv.rssi),
        (stand_in_adv_address(9), 37, None)
    );
    // A radio that heard nothing still leaves a file that says what it would hold.
    let empty = scratch("empty");
    CaptureFile::create(&empty, Caps::ADVERTISING)
        .unwrap()
        .finish()
        .unwrap();
    let bytes = std::fs::read(&empty).unwrap();
    assert_eq!(read_all_packets(&bytes).unwrap(), vec![]);
    // The Interface Description Block (type 1) with link type 256 follows the section header.
    let shb_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(&bytes[shb_len..shb_len + 4], &1u32.to_le_bytes());
    assert_eq!(&bytes[shb_len + 8..shb_len + 10], &256u16.to_le_bytes());
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&empty);
}

#[test]
fn a_file_that_cannot_be_written_is_one_error_naming_it() {
    let missing = std::env::temp_dir().join("weft-no-such-dir-for-captures/x.pcapng");
    let e = CaptureFile::create(&missing, Caps::ADVERTISING).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("directory you can write to"), "{text}");
    // A full disk: /dev/full takes the file, and refuses its bytes.
    if Path::new("/dev/full").exists() {
        let mut c = CaptureFile::create(Path::new("/dev/full"), Caps::ADVERTISING).unwrap();
        c.write_rx(&heard(37, 0, None, &[2, 1, 6])).unwrap();
        let e = c.finish().unwrap_err();
        assert!(
            matches!(&e, CaptureError::File { path, .. } if path == Path::new("/dev/full")),
            "{e}"
        );
    }
}

/// A radio that hears `air` in turn, then nothing more.
#[derive(Debug)]
struct Replay {
    air: VecDeque<RxFrame>,
    sent: Vec<Vec<u8>>,
}

impl Radio for Replay {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            self.sent.push(frame.bytes);
            Ok(())
        })
    }
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            self.air
                .pop_front()
                .ok_or_else(|| RadioError::Unavailable("the air ended".into()))
        })
    }
}

fn replay() -> Replay {
    Replay {
        air: [
            heard(37, 0, Some(HUB_ADDRESS), &[2, 1, 6]),
            heard(38, 0, None, &[0; 40]),
        ]
        .into(),
        sent: Vec::new(),
    }
}

#[tokio::test]
async fn a_recording_radio_writes_what_it_hears_and_sends() {
    let path = scratch("recording");
    let file = CaptureFile::create(&path, Caps::ADVERTISING).unwrap();
    let me = stand_in_adv_address(7);
    let mut r = Recording::new(replay(), Some(file), me);
    assert_eq!(r.caps(), Caps::ADVERTISING);
    assert_eq!(r.recv().await.unwrap().adv_address, Some(HUB_ADDRESS));
    // Too long for a legacy PDU: handed on, left out of the file.
    assert_eq!(r.recv().await.unwrap().bytes.len(), 40);
    let frame = TxFrame {
        bearer: Bearer::Advertising,
        bytes: vec![2, 1, 6],
    };
    r.send(frame).await.unwrap();
    assert!(r.recv().await.is_err());
    assert_eq!(r.finish().unwrap(), Some(path.clone()));
    assert_eq!(r.finish().unwrap(), None);
    assert_eq!(r.inner.sent, vec![vec![2, 1, 6]]);
    let packets = read_all_packets(&std::fs::read(&path).unwrap()).unwrap();
    let from: Vec<[u8; 6]> = packets
        .iter()
        .map(|p| parse_ble_adv(&p.data).unwrap().adv_address)
        .collect();
    assert_eq!(from, vec![HUB_ADDRESS, me]);
    let _ = std::fs::remove_file(&path);

    // Without a file, a plain radio.
    let mut plain = Recording::new(replay(), None, me);
    assert!(plain.recv().await.is_ok());
    assert_eq!(plain.finish().unwrap(), None);
}

#[tokio::test]
async fn a_recording_whose_file_fails_fails_the_radio_naming_the_file() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let file = CaptureFile::create(Path::new("/dev/full"), Caps::ADVERTISING).unwrap();
    // More than the file's buffer holds: writing meets the full disk.
    let air = (0..1000)
        .map(|_| heard(37, 0, Some(HUB_ADDRESS), &[0x1e; 31]))
        .collect();
    let mut r = Recording::new(
        Replay {
            air,
            sent: Vec::new(),
        },
        Some(file),
        UNKNOWN_ADV_ADDRESS,
    );
    let e = loop {
        match r.recv().await {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&e, RadioError::Io(m) if m.contains("/dev/full") && m.contains("capture file")),
        "{e}"
    );
    // The file is let go: the radio goes on without it.
    assert!(r.recv().await.is_ok());
    assert_eq!(r.finish().unwrap(), None);
}
