//! The Proxy protocol's behaviour (Mesh Protocol 1.1 §6), sans-IO: what both ends of a proxy
//! connection keep, and the Proxy Client. The byte layouts are in
//! [`crate::ble::wire::proxy`] (Proxy PDUs, proxy configuration messages) and
//! [`crate::ble::wire::adv`] (the Mesh Proxy and Mesh Provisioning service data, §7); the
//! Proxy Server is a feature of [`crate::ble::node::Node`] (`node/proxy.rs`).
//!
//! | file | MshPRT |
//! |------|--------|
//! | `conn.rs` | §6.3.2 one connection's SAR: segmentation at the ATT MTU, bounded reassembly, the 20 s SAR timer |
//! | `filter.rs` | §6.7 the proxy filter (accept or reject list) and how it learns addresses |
//! | `config.rs` | §6.6 proxy configuration messages secured with the proxy nonce (§3.9.5.4) |
//! | `client.rs` | §6.8 the Proxy Client: a node whose bearer is one GATT connection |
//!
//! A connection is named by a [`ConnId`](crate::frame::ConnId) the runtime chooses; every
//! frame of it travels as [`Bearer::Gatt`](crate::frame::Bearer::Gatt), one ATT value each.

mod client;
mod config;
mod conn;
mod filter;

pub use client::{ProxyClient, ProxyClientCounters, ProxyClientEvent};
#[doc(hidden)]
pub use config::fuzz_config;
pub use config::{open_config, seal_config, ConfigPduError};
pub use conn::{ProxyConn, MAX_PROXY_MESSAGE, OUT_QUEUE_LIMIT, SAR_TIMEOUT};
pub use filter::{ProxyFilter, MAX_FILTER_ADDRESSES};

#[cfg(test)]
mod link_tests;
#[cfg(test)]
mod tests;

/// Drives a Proxy Server and a Proxy Client with `data` as ATT values, sealed configuration
/// messages, SAR timeouts and reconnections at other MTUs: never panics, and every value
/// either sends fits its connection's MTU. For the fuzzing crate.
#[doc(hidden)]
pub fn fuzz_server(data: &[u8]) {
    use crate::ble::address::{Address, IvIndex, UnicastAddress};
    use crate::ble::node::{ElementState, ModelId, ModelState, Node, NodeState};
    use crate::ble::wire::proxy::ProxyConfigMessage;
    use crate::frame::{Bearer, ConnId, RxFrame, Station};
    use crate::time::{Duration, Instant};

    /// SplitMix64: the fuzz run stays deterministic.
    struct Rng(u64);
    impl rand_core::RngCore for Rng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    let state = |addr: u16| {
        let mut s = NodeState::new(
            [0; 16],
            UnicastAddress::new(addr).expect("unicast"),
            [addr as u8; 16],
            [0x42; 16],
            IvIndex(0),
            vec![ElementState {
                location: 0,
                models: vec![ModelState::new(ModelId::CONFIG_SERVER)],
            }],
        );
        s.gatt_proxy = Some(true);
        s
    };
    let mut server = Node::new(state(1), Rng(1));
    let mut member = Node::new(state(2), Rng(2));
    let mut client = ProxyClient::new(Node::new(state(3), Rng(3)));
    let conn = ConnId(1);
    let mut mtu = 23u16;
    let mut now = Instant::ZERO;
    server.proxy_connected(now, conn, mtu);
    client.connect(now, conn, mtu);
    let frame = |bytes: &[u8]| RxFrame {
        lqi: None,
        bearer: Bearer::Gatt(conn),
        channel: 0,
        rssi: None,
        timestamp: Instant::ZERO,
        adv_address: None,
        bytes: bytes.to_vec(),
    };
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let take = usize::from(op >> 3).min(tail.len());
        let (arg, after) = tail.split_at(take);
        rest = after;
        match op & 0x07 {
            0..=2 => {
                server.handle_frame(now, &frame(arg));
                client.handle_frame(now, &frame(arg));
            }
            3 => {
                let addrs = arg
                    .chunks_exact(2)
                    .map(|c| Address(u16::from_be_bytes([c[0], c[1]])))
                    .collect();
                let msg = match arg.first().map(|b| b % 3) {
                    Some(0) => ProxyConfigMessage::AddAddresses(addrs),
                    Some(1) => ProxyConfigMessage::RemoveAddresses(addrs),
                    _ => ProxyConfigMessage::SetFilterType(
                        crate::ble::wire::proxy::FilterType::RejectList,
                    ),
                };
                if let Some(sealed) = member.proxy_config_pdu(now, 0, &msg) {
                    let mut conn_data = ProxyConn::new(conn, mtu);
                    conn_data.send(
                        crate::ble::wire::proxy::MessageType::ProxyConfiguration,
                        &sealed,
                    );
                    while let Some(v) = conn_data.poll_value() {
                        server.handle_frame(now, &frame(&v));
                    }
                }
            }
            4 => {
                now += Duration::from_secs(u64::from(arg.first().copied().unwrap_or(21)));
                server.handle_timeout(now);
                client.handle_timeout(now);
            }
            5 => {
                mtu = u16::from(arg.first().copied().unwrap_or(0)) + 20;
                server.proxy_disconnected(conn);
                server.proxy_connected(now, conn, mtu);
                client.disconnected();
                client.connect(now, conn, mtu);
            }
            _ => {
                server.proxy_set_mtu(conn, mtu);
                client.set_mtu(mtu);
            }
        }
        let limit = usize::from(mtu.max(23)) - 3;
        while let Some(f) = server.poll_transmit(now) {
            if matches!(f.bearer, Bearer::Gatt(_)) {
                assert!(f.bytes.len() <= limit);
                client.handle_frame(now, &frame(&f.bytes));
            }
        }
        while let Some(f) = client.poll_transmit(now) {
            assert!(f.bytes.len() <= limit);
            server.handle_frame(now, &frame(&f.bytes));
        }
        while server.poll_event().is_some() {}
        while client.poll_event().is_some() {}
    }
}
