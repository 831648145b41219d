use super::*;
use crate::{Caps, RadioFuture};
use tokio::sync::mpsc;
use weft_mesh::{Bearer, RxFrame, TxFrame};

/// A radio in memory: what is sent goes to `sent`, what `air` gives is heard; a closed `air`
/// is a radio that went away.
#[derive(Debug)]
struct MemRadio {
    sent: mpsc::UnboundedSender<Vec<u8>>,
    air: mpsc::UnboundedReceiver<Vec<u8>>,
    refuse: bool,
}

impl Radio for MemRadio {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            if self.refuse {
                return Err(RadioError::Io("refused".into()));
            }
            let _ = self.sent.send(frame.bytes);
            Ok(())
        })
    }
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            match self.air.recv().await {
                Some(bytes) => Ok(RxFrame {
                    lqi: None,
                    bearer: Bearer::Advertising,
                    channel: 37,
                    rssi: Some(-40),
                    timestamp: Instant::ZERO,
                    adv_address: Some([1, 2, 3, 4, 5, 0xc6]),
                    bytes,
                }),
                None => Err(RadioError::Unavailable("gone".into())),
            }
        })
    }
}

fn mem() -> (
    MemRadio,
    mpsc::UnboundedReceiver<Vec<u8>>,
    mpsc::UnboundedSender<Vec<u8>>,
) {
    let (sent, sent_rx) = mpsc::unbounded_channel();
    let (air_tx, air) = mpsc::unbounded_channel();
    (
        MemRadio {
            sent,
            air,
            refuse: false,
        },
        sent_rx,
        air_tx,
    )
}

/// Echoes each frame heard, after an event saying so; a timer fires `timer_at`.
#[derive(Debug, Default)]
struct Echo {
    out: Vec<Vec<u8>>,
    events: Vec<String>,
    timer_at: Option<Instant>,
    timers: u32,
}

impl Station for Echo {
    type Event = String;
    fn handle_frame(&mut self, _: Instant, f: &RxFrame) {
        self.events.push(format!("heard {:?}", f.bytes));
        self.out.push(f.bytes.clone());
    }
    fn poll_transmit(&mut self, _: Instant) -> Option<TxFrame> {
        (!self.out.is_empty()).then(|| TxFrame {
            bearer: Bearer::Advertising,
            bytes: self.out.remove(0),
        })
    }
    fn poll_event(&mut self) -> Option<String> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.timer_at
    }
    fn handle_timeout(&mut self, _: Instant) {
        self.timer_at = None;
        self.timers += 1;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn frames_events_timers_and_the_deadline() {
    let (radio, mut sent, air) = mem();
    let mut radio: Box<dyn Radio> = Box::new(radio);
    let clock = Clock::default();
    let mut st = Echo {
        timer_at: Some(clock.now() + Duration::from_millis(5)),
        ..Echo::default()
    };
    air.send(vec![1, 2]).unwrap();
    let mut seen = Vec::new();
    let deadline = clock.now() + Duration::from_millis(40);
    let out = drive(&mut st, &mut radio, &clock, Some(deadline), |_, _, e| {
        seen.push(e);
        Flow::Continue
    })
    .await
    .unwrap();
    assert_eq!(out, Outcome::TimedOut);
    assert!(clock.now() >= deadline);
    assert_eq!(seen, ["heard [1, 2]"]);
    assert_eq!(sent.try_recv().unwrap(), vec![1, 2]);
    assert_eq!(st.timers, 1);

    // A hook that stops on the first event.
    air.send(vec![3]).unwrap();
    let out = drive(&mut st, &mut radio, &clock, None, |_, _, _| Flow::Stop)
        .await
        .unwrap();
    assert_eq!(out, Outcome::Stopped);
    // Stopped at the event, before the frame went out.
    assert!(sent.try_recv().is_err());
}

/// Ticks until `stop_after`, and runs on when the radio fails.
#[derive(Debug, Default)]
struct Ticker {
    ticks: u32,
    stop_after: u32,
    errors: Vec<String>,
    keep_going: bool,
}

impl Hooks<Echo> for &mut Ticker {
    fn on_event(&mut self, _: &mut Echo, _: Instant, _: String) -> Flow {
        Flow::Continue
    }
    fn tick_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(2))
    }
    fn on_tick(&mut self, _: &mut Echo, _: Instant) -> Flow {
        self.ticks += 1;
        if self.ticks >= self.stop_after {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
    fn on_radio_error(&mut self, _: &mut Echo, _: Instant, e: &RadioError) -> Flow {
        self.errors.push(e.to_string());
        if self.keep_going {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ticks_run_and_a_failed_radio_stops_or_is_let_go() {
    let clock = Clock::default();
    let (mut radio, _sent, air) = mem();
    let mut hooks = Ticker {
        stop_after: 3,
        ..Ticker::default()
    };
    let mut st = Echo::default();
    let out = drive_with(&mut st, &mut radio, &clock, None, &mut hooks)
        .await
        .unwrap();
    assert_eq!((out, hooks.ticks), (Outcome::Stopped, 3));

    // The radio goes away: the default stops with its error.
    drop(air);
    let mut hooks = Ticker {
        stop_after: 1000,
        ..Ticker::default()
    };
    let err = drive_with(&mut st, &mut radio, &clock, None, &mut hooks)
        .await
        .unwrap_err();
    assert_eq!(err, RadioError::Unavailable("gone".into()));
    assert_eq!(hooks.errors.len(), 1);

    // Or the hooks run on without it, until their tick stops.
    let (mut radio, _sent, _air) = mem();
    radio.refuse = true;
    st.out.push(vec![9]);
    let mut hooks = Ticker {
        stop_after: 4,
        keep_going: true,
        ..Ticker::default()
    };
    let out = drive_with(&mut st, &mut radio, &clock, None, &mut hooks)
        .await
        .unwrap();
    assert_eq!(out, Outcome::Stopped);
    assert_eq!(hooks.errors, ["radio I/O error: refused"]);
    assert_eq!(hooks.ticks, 4);
}

#[tokio::test(flavor = "current_thread")]
async fn a_radio_let_go_with_nothing_left_to_wake_for_ends_with_its_error() {
    let clock = Clock::default();
    let (mut radio, _sent, air) = mem();
    drop(air);
    let mut st = Echo::default();
    let err = drive_with(&mut st, &mut radio, &clock, None, LetGo)
        .await
        .unwrap_err();
    assert_eq!(err, RadioError::Unavailable("gone".into()));
}

/// Runs on without the radio, with no tick.
struct LetGo;

impl Hooks<Echo> for LetGo {
    fn on_event(&mut self, _: &mut Echo, _: Instant, _: String) -> Flow {
        Flow::Continue
    }
    fn on_radio_error(&mut self, _: &mut Echo, _: Instant, _: &RadioError) -> Flow {
        Flow::Continue
    }
}

/// A radio with GATT in memory: a connect is answered by `Connected` through `recv_event`
/// (after a frame already waiting, so order is the radio's), values sent are recorded.
#[derive(Debug)]
struct GattRadio {
    events: mpsc::UnboundedSender<RadioEvent>,
    air: mpsc::UnboundedReceiver<RadioEvent>,
    sent: Vec<TxFrame>,
    connectable: Vec<Option<weft_mesh::Connectable>>,
    disconnects: Vec<weft_mesh::ConnId>,
}

impl Radio for GattRadio {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING_GATT
    }
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        self.sent.push(frame);
        Box::pin(async { Ok(()) })
    }
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async { Err(RadioError::Unsupported("read with recv_event".into())) })
    }
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            self.air
                .recv()
                .await
                .ok_or_else(|| RadioError::Unavailable("gone".into()))
        })
    }
    fn connect(&mut self, peer: [u8; 6], service: weft_mesh::GattService) -> RadioFuture<'_, ()> {
        let _ = self.events.send(RadioEvent::Link(LinkEvent::Connected {
            conn: weft_mesh::ConnId(7),
            mtu: 23,
            peer,
            service,
            role: weft_mesh::GattRole::Central,
        }));
        Box::pin(async { Ok(()) })
    }
    fn disconnect(&mut self, conn: weft_mesh::ConnId) -> RadioFuture<'_, ()> {
        self.disconnects.push(conn);
        Box::pin(async { Ok(()) })
    }
    fn set_connectable(&mut self, adv: Option<weft_mesh::Connectable>) -> RadioFuture<'_, ()> {
        self.connectable.push(adv);
        Box::pin(async { Ok(()) })
    }
}

/// Asks to connect once, writes one value when connected, closes on the first value heard;
/// records what it was told, in order.
#[derive(Debug, Default)]
struct Central {
    asked: bool,
    seen: Vec<String>,
    out: Vec<TxFrame>,
    close: Option<weft_mesh::ConnId>,
}

impl Station for Central {
    type Event = String;
    fn handle_frame(&mut self, _: Instant, f: &RxFrame) {
        self.seen
            .push(format!("value {:?} on {:?}", f.bytes, f.bearer));
        if let Bearer::Gatt(c) = f.bearer {
            self.close = Some(c);
        }
    }
    fn poll_transmit(&mut self, _: Instant) -> Option<TxFrame> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }
    fn poll_event(&mut self) -> Option<String> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_link(&mut self, _: Instant, e: &LinkEvent) {
        self.seen.push(format!("{e:?}"));
        if let LinkEvent::Connected { conn, .. } = e {
            self.out.push(TxFrame {
                bearer: Bearer::Gatt(*conn),
                bytes: vec![0x01, 0xaa],
            });
        }
    }
    fn poll_link(&mut self) -> Option<weft_mesh::LinkRequest> {
        if let Some(conn) = self.close.take() {
            return Some(weft_mesh::LinkRequest::Disconnect { conn });
        }
        (!std::mem::replace(&mut self.asked, true)).then_some(weft_mesh::LinkRequest::Connect {
            peer: [9; 6],
            service: weft_mesh::GattService::Proxy,
        })
    }
    fn connectable(&mut self, _: Instant) -> Option<weft_mesh::Connectable> {
        Some(weft_mesh::Connectable {
            service: weft_mesh::GattService::Proxy,
            adv_data: vec![1],
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn link_events_come_in_order_with_values_and_requests_reach_the_radio() {
    let (events, air) = mpsc::unbounded_channel();
    let mut radio = GattRadio {
        events: events.clone(),
        air,
        sent: Vec::new(),
        connectable: Vec::new(),
        disconnects: Vec::new(),
    };
    let clock = Clock::default();
    let mut st = Central::default();
    let value = |bytes: Vec<u8>| {
        RadioEvent::Frame(RxFrame {
            lqi: None,
            bearer: Bearer::Gatt(weft_mesh::ConnId(7)),
            channel: 0,
            rssi: None,
            timestamp: Instant::ZERO,
            adv_address: None,
            bytes,
        })
    };
    let deadline = clock.now() + Duration::from_millis(30);
    // The value the peer notifies comes after Connected, as the radio queued them.
    let pusher = events.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let _ = pusher.send(value(vec![0x01, 0xbb]));
    });
    drive(&mut st, &mut radio, &clock, Some(deadline), |_, _, _| {
        Flow::Continue
    })
    .await
    .unwrap();
    assert!(st.seen[0].starts_with("Connected"), "{:?}", st.seen);
    assert_eq!(st.seen[1], "value [1, 187] on Gatt(ConnId(7))");
    assert_eq!(radio.sent.len(), 1);
    assert_eq!(radio.sent[0].bearer, Bearer::Gatt(weft_mesh::ConnId(7)));
    assert_eq!(radio.disconnects, [weft_mesh::ConnId(7)]);
    assert!(matches!(radio.connectable.first(), Some(Some(_))));
}

#[tokio::test(flavor = "current_thread")]
async fn a_radio_without_gatt_refuses_and_the_station_hears_connect_failed() {
    let (radio, _sent, _air) = mem();
    let mut radio: Box<dyn Radio> = Box::new(radio);
    let clock = Clock::default();
    let mut st = Central::default();
    let deadline = clock.now() + Duration::from_millis(5);
    drive(&mut st, &mut radio, &clock, Some(deadline), |_, _, _| {
        Flow::Continue
    })
    .await
    .unwrap();
    assert_eq!(
        st.seen,
        [format!(
            "{:?}",
            LinkEvent::ConnectFailed {
                peer: [9; 6],
                service: weft_mesh::GattService::Proxy
            }
        )]
    );
}

/// An 802.15.4 radio in memory that reports each frame sent as acknowledged, with Frame
/// Pending when its first octet is odd.
#[derive(Debug)]
struct StatusRadio {
    events: mpsc::UnboundedSender<RadioEvent>,
    air: mpsc::UnboundedReceiver<RadioEvent>,
}

impl Radio for StatusRadio {
    fn caps(&self) -> Caps {
        Caps::IEEE802154
    }
    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        let _ = self.events.send(RadioEvent::TxDone(weft_mesh::TxDone {
            bearer: frame.bearer,
            sequence_number: frame.bytes.get(2).copied(),
            status: weft_mesh::TxStatus::Acked,
            frame_pending: frame.bytes[0] % 2 == 1,
        }));
        Box::pin(async { Ok(()) })
    }
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async { Err(RadioError::Unsupported("read with recv_event".into())) })
    }
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            self.air
                .recv()
                .await
                .ok_or_else(|| RadioError::Unavailable("gone".into()))
        })
    }
}

/// Sends two frames and keeps the statuses it is told.
#[derive(Debug, Default)]
struct Sender {
    out: Vec<Vec<u8>>,
    told: Vec<weft_mesh::TxDone>,
}

impl Station for Sender {
    type Event = ();
    fn handle_frame(&mut self, _: Instant, _: &RxFrame) {}
    fn poll_transmit(&mut self, _: Instant) -> Option<TxFrame> {
        (!self.out.is_empty()).then(|| TxFrame {
            bearer: Bearer::Ieee802154,
            bytes: self.out.remove(0),
        })
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_tx_done(&mut self, _: Instant, done: &weft_mesh::TxDone) {
        self.told.push(*done);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_radios_transmit_status_reaches_the_station_in_order() {
    let (events, air) = mpsc::unbounded_channel();
    let mut radio = StatusRadio { events, air };
    let clock = Clock::default();
    let mut st = Sender {
        out: vec![vec![0x41, 0xd8, 7], vec![0x40, 0xd8, 8]],
        told: Vec::new(),
    };
    let deadline = clock.now() + Duration::from_millis(20);
    drive(&mut st, &mut radio, &clock, Some(deadline), |_, _, _| {
        Flow::Continue
    })
    .await
    .unwrap();
    let told: Vec<_> = st
        .told
        .iter()
        .map(|d| (d.sequence_number, d.status, d.frame_pending))
        .collect();
    assert_eq!(
        told,
        [
            (Some(7), weft_mesh::TxStatus::Acked, true),
            (Some(8), weft_mesh::TxStatus::Acked, false)
        ]
    );
}
