//! The live simulated air: nodes in separate tasks (as separate processes would) talk through
//! `serve_hub` over a Unix socket.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft::runtime::{drive, empty_air, serve_hub, Clock, Flow, Outcome};
use weft_mesh::ble::models::generic::{GenericMessage, OnOffSet};
use weft_mesh::ble::models::ModelId;
use weft_mesh::ble::node::{
    AppKeyState, Command, ElementState, Event, KeyRef, ModelState, Node, NodeState,
};
use weft_mesh::ble::{Address, IvIndex, UnicastAddress};
use weft_mesh::Duration;
use weft_radio::hub::HubRadio;

fn node(addr: u16) -> Node<ChaCha8Rng> {
    let mut onoff = ModelState::new(ModelId::GENERIC_ONOFF_SERVER);
    onoff.app_keys.push(0);
    let mut st = NodeState::new(
        [addr as u8; 16],
        UnicastAddress::new(addr).unwrap(),
        [addr as u8; 16],
        [0x42; 16],
        IvIndex(5),
        vec![ElementState {
            location: 0,
            models: vec![ModelState::new(ModelId::CONFIG_SERVER), onoff],
        }],
    );
    st.app_keys.push(AppKeyState {
        index: 0,
        net_index: 0,
        key: [0x24; 16],
        new_key: None,
    });
    st.beacon = false;
    Node::new(st, ChaCha8Rng::seed_from_u64(u64::from(addr)))
}

#[tokio::test(flavor = "current_thread")]
async fn two_processes_switch_a_light_through_the_hub() {
    let dir = std::env::temp_dir().join(format!("weft-hub-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("air.sock");
    let s2 = sock.clone();
    let hub = tokio::spawn(async move { serve_hub(&s2, empty_air(1), |_| {}).await });
    // Wait for the socket.
    let mut tries = 0;
    while !sock.exists() && tries < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        tries += 1;
    }
    let light_sock = sock.clone();
    let light = tokio::spawn(async move {
        let mut radio = HubRadio::connect(&light_sock).await.unwrap();
        let mut n = node(2);
        let clock = Clock::default();
        // Serve for a while: switch on, answer with OnOff Status.
        let deadline = clock.now() + Duration::from_secs(3);
        let out = drive(&mut n, &mut radio, &clock, Some(deadline), |_, _, _| {
            Flow::Continue
        })
        .await
        .unwrap();
        (out, n.onoff(0))
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut radio = HubRadio::connect(&sock).await.unwrap();
    let mut switch = node(1);
    let clock = Clock::default();
    let set = GenericMessage::OnOffSet(OnOffSet {
        on: true,
        tid: 1,
        transition: None,
    })
    .to_access();
    switch.handle_command(
        clock.now(),
        Command::Send {
            element: 0,
            dst: Address(2),
            label: None,
            key: KeyRef::App(0),
            net_index: 0,
            ttl: Some(3),
            message: set,
        },
    );
    let status = GenericMessage::OnOffStatus {
        present: true,
        target: None,
    }
    .to_access();
    let deadline = clock.now() + Duration::from_secs(10);
    let out = drive(
        &mut switch,
        &mut radio,
        &clock,
        Some(deadline),
        |_, _, e| match e {
            Event::Access { message, .. } if message == status => Flow::Stop,
            _ => Flow::Continue,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        Outcome::Stopped,
        "the switch got the light's OnOff Status"
    );
    assert_eq!(light.await.unwrap(), (Outcome::TimedOut, Some(true)));
    hub.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "current_thread")]
async fn connecting_to_no_hub_is_a_clear_error() {
    let err = HubRadio::connect(std::path::Path::new("/nonexistent/weft.sock"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("weft sim serve"), "{err}");
}
