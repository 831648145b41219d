//! The link seam (`Station::handle_link`, `poll_link`, `connectable`) on the proxy's stations:
//! which connections a Node serves, what it asks to close, and how a ProxyClient connects.

use super::*;
use crate::ble::node::tests::{node, TestRng};
use crate::ble::node::{Node, MAX_PROXY_CONNECTIONS};
use crate::frame::{
    Bearer, ConnId, DisconnectReason, GattRole, GattService, LinkEvent, LinkRequest, Station,
};
use crate::time::Instant;

fn connected(conn: u16, service: GattService, role: GattRole) -> LinkEvent {
    LinkEvent::Connected {
        conn: ConnId(conn),
        mtu: 23,
        peer: [conn as u8; 6],
        service,
        role,
    }
}

fn proxy_node() -> Node<TestRng> {
    let mut n = node(1, false);
    n.update_state(|s| s.gatt_proxy = Some(true));
    n
}

#[test]
fn a_node_serves_proxy_clients_and_refuses_the_rest() {
    let now = Instant::ZERO;
    let mut n = proxy_node();
    let adv = n
        .connectable(now)
        .expect("advertises the Mesh Proxy Service");
    assert_eq!(adv.service, GattService::Proxy);
    n.handle_link(now, &connected(1, GattService::Proxy, GattRole::Peripheral));
    assert_eq!(n.proxy_connections().collect::<Vec<_>>(), [ConnId(1)]);
    // Its first value is a secure network beacon (§6.7), at most MTU - 3 octets.
    let f = n.poll_transmit(now).expect("a beacon");
    assert_eq!(f.bearer, Bearer::Gatt(ConnId(1)));
    assert!(f.bytes.len() <= 20);
    assert_eq!(n.poll_link(), None);
    // PB-GATT to a provisioned node, and a connection it did not ask for as Central: closed.
    n.handle_link(
        now,
        &connected(2, GattService::Provisioning, GattRole::Peripheral),
    );
    n.handle_link(now, &connected(3, GattService::Proxy, GattRole::Central));
    assert_eq!(
        n.poll_link(),
        Some(LinkRequest::Disconnect { conn: ConnId(2) })
    );
    assert_eq!(
        n.poll_link(),
        Some(LinkRequest::Disconnect { conn: ConnId(3) })
    );
    assert_eq!(n.poll_link(), None);
    n.handle_link(
        now,
        &LinkEvent::Disconnected {
            conn: ConnId(1),
            reason: DisconnectReason::Remote,
        },
    );
    assert_eq!(n.proxy_connections().count(), 0);
}

#[test]
fn a_full_node_refuses_and_stops_advertising() {
    let now = Instant::ZERO;
    let mut n = proxy_node();
    for c in 0..MAX_PROXY_CONNECTIONS as u16 {
        n.handle_link(
            now,
            &connected(c + 1, GattService::Proxy, GattRole::Peripheral),
        );
    }
    assert_eq!(n.connectable(now), None);
    let extra = MAX_PROXY_CONNECTIONS as u16 + 1;
    n.handle_link(
        now,
        &connected(extra, GattService::Proxy, GattRole::Peripheral),
    );
    assert_eq!(
        n.poll_link(),
        Some(LinkRequest::Disconnect {
            conn: ConnId(extra)
        })
    );
    assert_eq!(n.proxy_counters().refused, 1);
}

#[test]
fn a_node_without_the_feature_refuses_proxy_clients() {
    let now = Instant::ZERO;
    let mut n = node(1, false);
    n.update_state(|s| s.gatt_proxy = Some(false));
    n.handle_link(now, &connected(1, GattService::Proxy, GattRole::Peripheral));
    assert_eq!(
        n.poll_link(),
        Some(LinkRequest::Disconnect { conn: ConnId(1) })
    );
}

#[test]
fn a_client_connects_where_it_is_told_and_sets_its_filter() {
    let now = Instant::ZERO;
    let mut c = ProxyClient::new(node(0x0100, false));
    assert_eq!(c.poll_link(), None);
    c.connect_to([5; 6]);
    assert_eq!(
        c.poll_link(),
        Some(LinkRequest::Connect {
            peer: [5; 6],
            service: GattService::Proxy
        })
    );
    assert_eq!(c.poll_link(), None);
    // Another peer's connection is not the one asked for.
    c.handle_link(now, &connected(4, GattService::Proxy, GattRole::Central));
    assert_eq!(
        c.poll_link(),
        Some(LinkRequest::Disconnect { conn: ConnId(4) })
    );
    c.handle_link(
        now,
        &LinkEvent::Connected {
            conn: ConnId(9),
            mtu: 23,
            peer: [5; 6],
            service: GattService::Proxy,
            role: GattRole::Central,
        },
    );
    assert_eq!(c.connection(), Some(ConnId(9)));
    // Add Addresses To Filter with its own address (§6.6.2), segmented at MTU 23.
    let v = c.poll_transmit(now).expect("a filter message");
    assert_eq!(v.bearer, Bearer::Gatt(ConnId(9)));
    assert!(v.bytes.len() <= 20);
    assert!(matches!(
        c.poll_event(),
        Some(ProxyClientEvent::Connected {
            conn: ConnId(9),
            mtu: 23
        })
    ));
    c.handle_link(
        now,
        &LinkEvent::Disconnected {
            conn: ConnId(9),
            reason: DisconnectReason::LinkLoss,
        },
    );
    assert_eq!(c.connection(), None);
    assert!(std::iter::from_fn(|| c.poll_event()).any(|e| matches!(
        e,
        ProxyClientEvent::Disconnected {
            reason: DisconnectReason::LinkLoss,
            ..
        }
    )));
    // A connect that fails is reported and not retried by itself.
    c.connect_to([6; 6]);
    assert!(c.poll_link().is_some());
    c.handle_link(
        now,
        &LinkEvent::ConnectFailed {
            peer: [6; 6],
            service: GattService::Proxy,
        },
    );
    assert!(std::iter::from_fn(|| c.poll_event()).any(|e| matches!(
        e,
        ProxyClientEvent::ConnectFailed {
            peer: [6, 6, 6, 6, 6, 6]
        }
    )));
    assert_eq!(c.poll_link(), None);
}

/// What a server sends wrong reaches the client's counters, never a panic (§6.3.1, §6.3.2):
/// empty and out-of-order values, a Provisioning PDU, a configuration message no key opens,
/// a value on another connection; a message left unfinished for the SAR timeout closes the
/// connection (the client asks for the disconnect and says so).
#[test]
fn a_client_counts_what_a_server_sends_wrong() {
    let now = Instant::ZERO;
    let mut c = ProxyClient::new(node(0x0100, false));
    c.connect_to([5; 6]);
    let _ = c.poll_link();
    c.handle_link(
        now,
        &LinkEvent::Connected {
            conn: ConnId(9),
            mtu: 23,
            peer: [5; 6],
            service: GattService::Proxy,
            role: GattRole::Central,
        },
    );
    while c.poll_transmit(now).is_some() {}
    let value = |conn: u16, bytes: &[u8]| crate::frame::RxFrame {
        lqi: None,
        bearer: Bearer::Gatt(ConnId(conn)),
        channel: 0,
        rssi: None,
        timestamp: now,
        adv_address: None,
        bytes: bytes.to_vec(),
    };
    // SAR (2 bits) || Message Type (6 bits), §6.3.1.
    c.handle_frame(now, &value(9, &[]));
    c.handle_frame(now, &value(9, &[0x80, 1, 2]));
    c.handle_frame(now, &value(9, &[0xc0, 1, 2]));
    assert_eq!(c.counters().malformed, 3);
    c.handle_frame(now, &value(9, &[0x03, 0x00]));
    assert_eq!(c.counters().wrong_type, 1);
    c.handle_frame(
        now,
        &value(9, &[0x02, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    );
    assert_eq!(c.counters().config_ignored, 1);
    c.handle_frame(now, &value(4, &[0x00, 1, 2]));
    assert_eq!(c.counters().not_connected, 1);
    // A first segment of a Network PDU, then nothing.
    c.handle_frame(now, &value(9, &[0x40, 1, 2, 3]));
    let due = c.poll_timeout().expect("the SAR timer");
    assert!(due <= now + conn::SAR_TIMEOUT);
    c.handle_timeout(now + conn::SAR_TIMEOUT);
    assert_eq!(c.connection(), None);
    assert_eq!(c.counters().malformed, 4);
    assert_eq!(
        c.poll_link(),
        Some(LinkRequest::Disconnect { conn: ConnId(9) })
    );
    assert!(std::iter::from_fn(|| c.poll_event())
        .any(|e| e == ProxyClientEvent::Disconnect { conn: ConnId(9) }));
}
