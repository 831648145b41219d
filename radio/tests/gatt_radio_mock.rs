//! `gatt:ADDRESS` as a [`Radio`] against python-dbusmock's BlueZ (`support/dbusmock.rs`), with
//! a Mesh Proxy node's GATT objects added (`support/gatt_node.rs`). What it proves: the radio
//! `open` gives for a `gatt:` URI is a GATT-only Central; `connect` reaches the node and
//! `Connected` (role Central, the link's MTU) comes through `recv_event` before any value;
//! a `TxFrame` on the connection is written to Data In and a notification of Data Out is an
//! `RxFrame` on it; `disconnect` closes the link (BlueZ's `Device1.Disconnect`) and
//! `Disconnected { Local }` follows; the peer going unasked is `Disconnected { LinkLoss }`;
//! a peer without the service asked for is `ConnectFailed`. What it cannot prove: the mock has
//! no ATT (MTU exchange, notification timing are bluetoothd's).
#![cfg(feature = "gatt")]

#[path = "support/dbusmock.rs"]
mod dbusmock;
#[path = "support/gatt_node.rs"]
mod gatt_node;

use std::time::Duration;

use dbusmock::{python_or_skip, MockBus};
use gatt_node::{bytes, notify, proxy_node, MTU};
use weft_radio::gatt::{GattConfig, GattRadio};
use weft_radio::{
    Bearer, Caps, Connectable, DisconnectReason, GattRole, GattService, LinkEvent, Radio,
    RadioError, RadioEvent, RadioUri, TxFrame,
};

/// C6:05:04:03:02:01, least significant octet first.
const PEER: [u8; 6] = [1, 2, 3, 4, 5, 0xc6];

async fn next(radio: &mut dyn Radio) -> RadioEvent {
    tokio::time::timeout(Duration::from_secs(10), radio.recv_event())
        .await
        .expect("an event within 10 s")
        .unwrap()
}

fn gatt(conn: weft_radio::ConnId, bytes: &[u8]) -> TxFrame {
    TxFrame {
        bearer: Bearer::Gatt(conn),
        bytes: bytes.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_connection_through_the_seam() {
    let Some(python) = python_or_skip("a_proxy_connection_through_the_seam") else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, "{}");
    bus.add_adapter("hci0");
    let node = proxy_node(&bus, "hci0", "C6:05:04:03:02:01");

    let uri = RadioUri::parse("gatt:C6:05:04:03:02:01").unwrap();
    let mut radio = weft_radio::open(&uri).await.unwrap();
    assert_eq!(radio.caps(), Caps::GATT);
    let e = radio
        .set_connectable(Some(Connectable {
            service: GattService::Proxy,
            adv_data: vec![],
        }))
        .await
        .unwrap_err();
    assert!(matches!(e, RadioError::Unsupported(_)), "{e}");
    let e = radio
        .connect([9, 9, 9, 9, 9, 0xc9], GattService::Proxy)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("C9:09:09:09:09:09"), "{e}");

    radio.connect(PEER, GattService::Proxy).await.unwrap();
    let RadioEvent::Link(LinkEvent::Connected {
        conn,
        mtu,
        peer,
        service,
        role,
    }) = next(&mut *radio).await
    else {
        panic!("Connected first");
    };
    assert_eq!(
        (mtu, peer, service, role),
        (MTU, PEER, GattService::Proxy, GattRole::Central)
    );
    bus.wait_calls(&node.device, "Connect", 1);
    bus.wait_calls(&node.data_out, "StartNotify", 1);
    let e = radio.connect(PEER, GattService::Proxy).await.unwrap_err();
    assert!(e.to_string().contains("one connection at a time"), "{e}");

    // Values to the node: Data In, Write Without Response, at most MTU - 3 octets.
    radio.send(gatt(conn, &[0x00, 0xaa, 0xbb])).await.unwrap();
    let longest = vec![0x01; usize::from(MTU) - 3];
    radio.send(gatt(conn, &longest)).await.unwrap();
    let writes = bus.wait_calls(&node.data_in, "WriteValue", 2);
    assert_eq!(bytes(&*writes[0][0]), vec![0x00, 0xaa, 0xbb]);
    assert_eq!(bytes(&*writes[1][0]), longest);
    assert!(format!("{:?}", writes[0][1]).contains("command"));
    let e = radio
        .send(gatt(conn, &[0x01; MTU as usize - 2]))
        .await
        .unwrap_err();
    assert!(matches!(e, RadioError::Unsupported(_)), "{e}");
    let e = radio
        .send(TxFrame {
            bearer: Bearer::Advertising,
            bytes: vec![2, 1, 6],
        })
        .await
        .unwrap_err();
    assert!(matches!(e, RadioError::Unsupported(_)), "{e}");
    let e = radio
        .send(gatt(weft_radio::ConnId(conn.0 + 1), &[0]))
        .await
        .unwrap_err();
    assert!(matches!(e, RadioError::Unavailable(_)), "{e}");

    // Values from the node: notifications of Data Out, frames on the connection.
    notify(&bus, &node.data_out, &[0x01, 9, 8, 7]);
    notify(&bus, &node.data_out, &[0x02]);
    for want in [vec![0x01, 9, 8, 7], vec![0x02]] {
        let RadioEvent::Frame(f) = next(&mut *radio).await else {
            panic!("a frame");
        };
        assert_eq!(f.bearer, Bearer::Gatt(conn));
        assert_eq!(f.bytes, want);
    }

    // Closed on request: BlueZ is asked, and Disconnected { Local } follows.
    radio.disconnect(conn).await.unwrap();
    assert_eq!(
        next(&mut *radio).await,
        RadioEvent::Link(LinkEvent::Disconnected {
            conn,
            reason: DisconnectReason::Local
        })
    );
    bus.wait_calls(&node.device, "Disconnect", 1);
    let e = radio.send(gatt(conn, &[0])).await.unwrap_err();
    assert!(matches!(e, RadioError::Unavailable(_)), "{e}");
    assert!(matches!(
        radio.disconnect(conn).await,
        Err(RadioError::Unsupported(_))
    ));

    // Again, and this time the node goes: LinkLoss, on a new connection id.
    radio.connect(PEER, GattService::Proxy).await.unwrap();
    let RadioEvent::Link(LinkEvent::Connected { conn: again, .. }) = next(&mut *radio).await else {
        panic!("Connected again");
    };
    assert_ne!(again, conn);
    notify(&bus, &node.data_out, &[0x03]);
    let RadioEvent::Frame(f) = next(&mut *radio).await else {
        panic!("a frame");
    };
    assert_eq!((f.bearer, f.bytes), (Bearer::Gatt(again), vec![0x03]));
    bus.mock_call("DisconnectDevice", ("hci0", "C6:05:04:03:02:01"));
    assert_eq!(
        next(&mut *radio).await,
        RadioEvent::Link(LinkEvent::Disconnected {
            conn: again,
            reason: DisconnectReason::LinkLoss
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_cannot_be_made_is_connect_failed() {
    let Some(python) = python_or_skip("a_connection_that_cannot_be_made_is_connect_failed") else {
        return;
    };
    let mut bus = MockBus::shared();
    bus.start_bluez(&python, "{}");
    bus.add_adapter("hci0");
    proxy_node(&bus, "hci0", "C6:05:04:03:02:01");
    let config = GattConfig {
        scan_timeout: Duration::from_secs(2),
        ..GattConfig::default()
    };

    // The node serves the Proxy Service only: PB-GATT to it (the service the URI asks for)
    // cannot be.
    let uri = RadioUri::parse("gatt:C6:05:04:03:02:01?service=provisioning").unwrap();
    let mut radio = GattRadio::open(&uri, config.clone()).await.unwrap();
    assert_eq!(radio.service(), GattService::Provisioning);
    radio.connect(PEER, radio.service()).await.unwrap();
    assert_eq!(
        next(&mut radio).await,
        RadioEvent::Link(LinkEvent::ConnectFailed {
            peer: PEER,
            service: GattService::Provisioning
        })
    );
    // The failed attempt is forgotten: another may follow.
    radio.connect(PEER, GattService::Proxy).await.unwrap();
    assert!(matches!(
        next(&mut radio).await,
        RadioEvent::Link(LinkEvent::Connected {
            service: GattService::Proxy,
            ..
        })
    ));

    // A node not there: not seen within the scan time.
    let absent = [9, 9, 9, 9, 9, 0xc9];
    let uri = RadioUri::parse("gatt:C9:09:09:09:09:09").unwrap();
    let mut radio = GattRadio::open(&uri, config).await.unwrap();
    assert_eq!(radio.service(), GattService::Proxy, "the default");
    radio.connect(absent, radio.service()).await.unwrap();
    assert_eq!(
        next(&mut radio).await,
        RadioEvent::Link(LinkEvent::ConnectFailed {
            peer: absent,
            service: GattService::Proxy
        })
    );
}
