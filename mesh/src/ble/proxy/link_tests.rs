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
