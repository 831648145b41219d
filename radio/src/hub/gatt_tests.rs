//! GATT connections between processes on the live air: two [`HubRadio`]s on one hub.

use std::time::Duration as Wall;

use super::*;
use crate::sim::tests::Stuck;
use crate::{Connectable, LinkEvent, Radio, RadioEvent, TxFrame};

/// The next link event or GATT value `radio` hands over (advertising skipped), within 5 s.
async fn next(radio: &mut HubRadio) -> RadioEvent {
    loop {
        let e = tokio::time::timeout(Wall::from_secs(5), radio.recv_event())
            .await
            .expect("in time")
            .expect("the air is up");
        match &e {
            RadioEvent::Frame(f) if f.bearer == crate::Bearer::Advertising => continue,
            _ => return e,
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn two_processes_connect_exchange_values_and_disconnect() {
    let dir = tempfile_dir();
    let sock = dir.join("air.sock");
    let s2 = sock.clone();
    let hub = tokio::spawn(async move { serve_hub(&s2, empty_air::<Stuck>(3), |_| {}).await });
    while !sock.exists() {
        tokio::time::sleep(Wall::from_millis(5)).await;
    }
    let mut server = HubRadio::connect(&sock).await.unwrap();
    let mut client = HubRadio::connect(&sock).await.unwrap();
    assert!(client.caps().gatt);
    server
        .set_connectable(Some(Connectable {
            service: GattService::Proxy,
            adv_data: vec![],
        }))
        .await
        .unwrap();
    // The client learns the server's address from its advertising, as a scanner would.
    server
        .send(TxFrame {
            bearer: crate::Bearer::Advertising,
            bytes: vec![2, 0x01, 0x06],
        })
        .await
        .unwrap();
    let heard = tokio::time::timeout(Wall::from_secs(5), client.recv())
        .await
        .unwrap()
        .unwrap();
    let peer = heard.adv_address.unwrap();
    // Not serving the Provisioning Service: refused.
    client
        .connect(peer, GattService::Provisioning)
        .await
        .unwrap();
    assert!(matches!(
        next(&mut client).await,
        RadioEvent::Link(LinkEvent::ConnectFailed { .. })
    ));
    client.connect(peer, GattService::Proxy).await.unwrap();
    let RadioEvent::Link(LinkEvent::Connected { conn: cc, mtu, .. }) = next(&mut client).await
    else {
        panic!("not connected");
    };
    assert_eq!(mtu, 69);
    let RadioEvent::Link(LinkEvent::Connected { conn: sc, role, .. }) = next(&mut server).await
    else {
        panic!("the server was not told");
    };
    assert_eq!(role, GattRole::Peripheral);
    client
        .send(TxFrame {
            bearer: crate::Bearer::Gatt(cc),
            bytes: vec![0x01, 0xaa, 0xbb],
        })
        .await
        .unwrap();
    let RadioEvent::Frame(f) = next(&mut server).await else {
        panic!("no value");
    };
    assert_eq!(
        (f.bearer, f.bytes),
        (crate::Bearer::Gatt(sc), vec![0x01, 0xaa, 0xbb])
    );
    server.disconnect(sc).await.unwrap();
    assert!(matches!(
        next(&mut server).await,
        RadioEvent::Link(LinkEvent::Disconnected {
            reason: DisconnectReason::Local,
            ..
        })
    ));
    assert!(matches!(
        next(&mut client).await,
        RadioEvent::Link(LinkEvent::Disconnected {
            reason: DisconnectReason::Remote,
            ..
        })
    ));
    hub.abort();
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("weft-hub-gatt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A scenario's station that accepts proxy connections and advertises `adv` for them.
#[derive(Debug)]
struct Advertiser(Vec<u8>);

impl crate::Station for Advertiser {
    type Event = ();
    fn handle_frame(&mut self, _: crate::Instant, _: &crate::RxFrame) {}
    fn poll_transmit(&mut self, _: crate::Instant) -> Option<TxFrame> {
        None
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<crate::Instant> {
        None
    }
    fn handle_timeout(&mut self, _: crate::Instant) {}
    fn connectable(&mut self, _: crate::Instant) -> Option<Connectable> {
        Some(Connectable {
            service: GattService::Proxy,
            adv_data: self.0.clone(),
        })
    }
}

/// The hub puts its stations' and its processes' connectable advertising on the air, and a
/// process attached `near` one station hears that one and not the other.
#[tokio::test(flavor = "current_thread")]
async fn connectable_advertising_reaches_processes_near_its_node_only() {
    // Not under tempfile_dir(): the other test of this file empties that one.
    let dir = std::env::temp_dir().join(format!("weft-hub-near-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("air.sock");
    let mut air = empty_air::<Advertiser>(4);
    let near = air.add_node(
        HubNode::Local(Advertiser(vec![3, 0x03, 0x28, 0x18])),
        crate::sim::Placement::Unplaced,
    );
    air.add_node(
        HubNode::Local(Advertiser(vec![3, 0x03, 0x27, 0x18])),
        crate::sim::Placement::Unplaced,
    );
    let s2 = sock.clone();
    let options = HubOptions {
        near: Some(vec![near]),
    };
    let hub = tokio::spawn(async move {
        serve_hub_with(&s2, air, options, |_| {}, std::future::pending::<String>()).await
    });
    while !sock.exists() {
        tokio::time::sleep(Wall::from_millis(5)).await;
    }
    let mut a = HubRadio::connect(&sock).await.unwrap();
    let mut b = HubRadio::connect(&sock).await.unwrap();
    b.set_connectable(Some(Connectable {
        service: GattService::Provisioning,
        adv_data: vec![3, 0x03, 0x27, 0x18, 2, 0x01, 0x06],
    }))
    .await
    .unwrap();
    let mut heard = std::collections::BTreeSet::new();
    let until = tokio::time::Instant::now() + Wall::from_secs(3);
    while let Ok(Ok(f)) = tokio::time::timeout_at(until, a.recv()).await {
        heard.insert(f.bytes);
    }
    assert!(heard.contains(&vec![3, 0x03, 0x28, 0x18]), "{heard:?}");
    assert!(
        heard.contains(&vec![3, 0x03, 0x27, 0x18, 2, 0x01, 0x06]),
        "{heard:?}"
    );
    assert!(!heard.contains(&vec![3, 0x03, 0x27, 0x18]), "{heard:?}");
    hub.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
