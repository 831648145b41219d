//! Two weft nodes, and plain sockets standing in for OpenThread nodes, on a simulation air of
//! their own (a port offset from the process id, so that tests running at the same time do not
//! share one).
//!
//! The air is IPv4 multicast on the loopback interface. When this machine cannot carry it (a
//! sandbox whose `lo` has no MULTICAST, no route for 224.0.0.0/4), the tests say so and pass
//! without checking, except under `CI=1`, where they fail saying why.

use std::net::{SocketAddrV4, UdpSocket as StdUdp};
use std::time::Duration;

use weft_mesh::thread::mac::fcs;

use super::*;
use crate::{Bearer, Radio, RadioError, RadioUri, TxFrame};

const MAC: [u8; 11] = [
    0x41, 0x88, 0x07, 0xCE, 0xFA, 0xFF, 0xFF, 0x01, 0x00, 0xAA, 0x55,
];

/// A port offset of this test process's own, and a distinct one per test.
fn offset(test: u16) -> u16 {
    let max = (u16::MAX - BASE_PORT - 64) / (MAX_NETWORK_SIZE + 1);
    let pid = std::process::id() as u16;
    1 + (pid.wrapping_mul(7).wrapping_add(test * 131)) % (max - 1)
}

async fn node(id: u16, off: u16) -> Result<OtSimRadio, RadioError> {
    OtSimRadio::open(&RadioUri::parse(&format!("otsim:{id}?port_offset={off}")).unwrap()).await
}

/// Whether multicast on loopback works here; `None` (after saying why) when the test is to be
/// skipped.
async fn air_or_skip(a: &mut OtSimRadio, b: &mut OtSimRadio) -> Option<()> {
    a.send(TxFrame {
        bearer: Bearer::Ieee802154,
        bytes: vec![0x02, 0x00, 0x01],
    })
    .await
    .ok()?;
    match tokio::time::timeout(Duration::from_secs(2), b.recv()).await {
        Ok(Ok(_)) => Some(()),
        other => {
            let why = format!(
                "multicast on the loopback interface does not reach another socket here \
                 ({other:?}): `ip link show lo` should say MULTICAST"
            );
            if std::env::var("CI").as_deref() == Ok("1") {
                panic!("the otsim tests cannot run: {why}");
            }
            eprintln!("skipping: {why}");
            None
        }
    }
}

#[test]
fn ports_follow_the_simulation() {
    assert_eq!(ports(1, 0), Some((9000, 9001)));
    assert_eq!(ports(7, 3), Some((9000 + 3 * 34, 9000 + 3 * 34 + 7)));
    assert_eq!(ports(1, 2000), None);
    assert_eq!(
        datagram(15, &[0x02, 0x00, 0x07]),
        [&[15u8][..], &fcs::append(&[0x02, 0x00, 0x07])].concat()
    );
    assert_eq!(
        parse_datagram(&datagram(26, &MAC)),
        Ok((26, &MAC[..], true))
    );
    for bad in [&[][..], &[11, 1, 2][..], &[11; 129][..]] {
        assert!(parse_datagram(bad).is_err());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn two_weft_nodes_hear_each_other_and_not_themselves() {
    let off = offset(1);
    let mut a = node(1, off).await.unwrap();
    let mut b = node(2, off).await.unwrap();
    if air_or_skip(&mut a, &mut b).await.is_none() {
        return;
    }
    a.set_channel(Some(15)).unwrap();
    b.set_channel(Some(15)).unwrap();
    a.send(TxFrame {
        bearer: Bearer::Ieee802154,
        bytes: MAC.to_vec(),
    })
    .await
    .unwrap();
    let f = b.recv().await.unwrap();
    assert_eq!(
        (f.bearer, f.channel, f.bytes.as_slice()),
        (Bearer::Ieee802154, 15, &MAC[..])
    );
    b.send(TxFrame {
        bearer: Bearer::Ieee802154,
        bytes: vec![0x02, 0x00, 0x07],
    })
    .await
    .unwrap();
    let g = a.recv().await.unwrap();
    assert_eq!(g.bytes, [0x02, 0x00, 0x07]);
    // Each dropped its own frames (the probe, and one each since).
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(a.stats().own, 2, "{:?}", a.stats());
    assert_eq!(b.stats().own, 1, "{:?}", b.stats());
    assert_eq!(a.stats().fcs_bad + b.stats().fcs_bad, 0);
    // A node id taken is refused.
    let Err(RadioError::Unavailable(why)) = node(1, off).await else {
        panic!("node 1 twice");
    };
    assert!(why.contains("is taken"), "{why}");
}

/// The datagrams are OpenThread's: a plain socket at an OpenThread node's port hears weft's
/// frame as `channel, PSDU, FCS`, and weft hears one such socket's datagram.
#[tokio::test(flavor = "current_thread")]
async fn the_datagrams_are_the_simulations() {
    let off = offset(2);
    let (base, _) = ports(0, off).unwrap();
    let mut a = node(3, off).await.unwrap();
    let mut b = node(4, off).await.unwrap();
    if air_or_skip(&mut a, &mut b).await.is_none() {
        return;
    }
    // An "OpenThread node 9": sends from 127.0.0.1:base+9; hears on the group like weft.
    let ot = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    ot.set_multicast_if_v4(&LOCAL).unwrap();
    ot.bind(&SocketAddrV4::new(LOCAL, base + 9).into()).unwrap();
    let ot: StdUdp = ot.into();
    let psdu = fcs::append(&MAC);
    let mut d = vec![20u8];
    d.extend_from_slice(&psdu);
    ot.send_to(&d, SocketAddrV4::new(GROUP, base)).unwrap();
    let f = a.recv().await.unwrap();
    assert_eq!((f.channel, f.bytes.as_slice()), (20, &MAC[..]));
    // A damaged one is handed over too, counted; one on another channel is not, once a channel
    // is set.
    let mut bad = d.clone();
    bad[3] ^= 1;
    ot.send_to(&bad, SocketAddrV4::new(GROUP, base)).unwrap();
    assert_eq!(a.recv().await.unwrap().bytes[2], MAC[2] ^ 1);
    assert_eq!(a.stats().fcs_bad, 1);
    a.set_channel(Some(21)).unwrap();
    ot.send_to(&d, SocketAddrV4::new(GROUP, base)).unwrap();
    ot.send_to(
        &[21, 0x02, 0x00, 0x09, 0, 0],
        SocketAddrV4::new(GROUP, base),
    )
    .unwrap();
    assert_eq!(a.recv().await.unwrap().bytes, [0x02, 0x00, 0x09]);
    assert_eq!(a.stats().other_channel, 1);
    assert!(a.set_channel(Some(27)).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn only_802154_frames_are_sent() {
    let mut a = node(5, offset(3)).await.unwrap();
    assert!(a.caps().ieee802154);
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
        assert!(matches!(a.send(bad).await, Err(RadioError::Unsupported(_))));
    }
}

/// The next transmit status (frames heard meanwhile are skipped).
async fn next_done(r: &mut OtSimRadio) -> crate::TxDone {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(2), r.recv_event())
            .await
            .expect("a status in time")
            .unwrap();
        if let crate::RadioEvent::TxDone(d) = ev {
            return d;
        }
    }
}

/// A weft node told its addresses acknowledges what is sent to it (with Frame Pending for a
/// Data Request from a source in its table), and the sender learns it; a frame nobody
/// acknowledges is sent 1 + 3 times and ends without an ack.
#[tokio::test(flavor = "current_thread")]
async fn acks_retries_and_frame_pending_between_two_weft_nodes() {
    use weft_mesh::thread::mac::command::DataRequest;
    use weft_mesh::thread::mac::{Address, ExtAddress};
    use weft_mesh::thread::radio::MacSettings;
    use weft_mesh::wire::Wire;

    let off = offset(4);
    let mut child = node(6, off).await.unwrap();
    let mut parent = node(7, off).await.unwrap();
    if air_or_skip(&mut child, &mut parent).await.is_none() {
        return;
    }
    // The probe's status (an ack frame: sent, none awaited).
    assert_eq!(next_done(&mut child).await.status, crate::TxStatus::Sent);
    parent.set_mac(Some(MacSettings {
        channel: 11,
        pan_id: 0xface,
        ext_address: ExtAddress([7; 8]),
        short_address: Some(0x0400),
    }));
    let poll = |seq| {
        DataRequest {
            sequence_number: seq,
            pan_id: 0xface,
            dst: Address::Short(0x0400),
            src: Address::Short(0x0401),
        }
        .frame(None)
        .to_vec()
    };
    let send = |bytes: Vec<u8>| TxFrame {
        bearer: Bearer::Ieee802154,
        bytes,
    };
    child.send(send(poll(1))).await.unwrap();
    let d = next_done(&mut child).await;
    assert_eq!(
        (d.sequence_number, d.status, d.frame_pending),
        (Some(1), crate::TxStatus::Acked, false)
    );
    parent
        .source_match(crate::wpan::SrcMatch::Add(Address::Short(0x0401)))
        .unwrap();
    child.send(send(poll(2))).await.unwrap();
    let d = next_done(&mut child).await;
    assert_eq!(
        (d.sequence_number, d.status, d.frame_pending),
        (Some(2), crate::TxStatus::Acked, true)
    );
    // To nobody: four datagrams, no ack.
    let sent = child.stats().sent;
    let mut lost = poll(3);
    lost[5] = 0x00;
    lost[6] = 0x08; // to 0x0800
    child.send(send(lost)).await.unwrap();
    let d = next_done(&mut child).await;
    assert_eq!(d.status, crate::TxStatus::NoAck);
    let s = child.stats();
    assert_eq!((s.sent - sent, s.retries, s.tx_no_ack), (4, 3, 1), "{s:?}");
    // A broadcast is sent, no ack awaited.
    child.send(send(MAC.to_vec())).await.unwrap();
    assert_eq!(next_done(&mut child).await.status, crate::TxStatus::Sent);
    assert_eq!(parent.stats().acks_sent, 2);
    assert_eq!(child.stats().tx_acked_frame_pending, 1);
}
