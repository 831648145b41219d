//! One proxy connection's SAR (Mesh Protocol 1.1 §6.3.2): messages out are segmented to the
//! connection's ATT MTU, Proxy PDUs in are reassembled in a bounded buffer under the 20-second
//! SAR timer. Both the Proxy Server (one per client connection) and the Proxy Client keep one.

use std::collections::VecDeque;

use crate::ble::wire::proxy::{
    segment, MessageType, ProxyReassembler, ReassemblyError, MIN_ATT_MTU, SAR_TIMEOUT_SECS,
};
use crate::ble::wire::Wire;
use crate::frame::ConnId;
use crate::time::{Duration, Instant};

/// The Proxy SAR timeout (§6.3.2: 20 seconds; "when the timeout expires, the receiver shall
/// disconnect", as Zephyr's and ESP-IDF's proxy servers do).
pub const SAR_TIMEOUT: Duration = Duration::from_secs(SAR_TIMEOUT_SECS);

/// The longest message a proxy connection reassembles: a Network PDU is at most 29 octets
/// (§3.4.4), a mesh beacon 27 (a Mesh Private beacon, §3.10.4), a proxy configuration message
/// a Network PDU; a Provisioning PDU (PB-GATT, §5.2.2) at most 65 (Public Key: 1 + 64). The
/// same bound as Zephyr's proxy buffer (68 octets with room to spare).
pub const MAX_PROXY_MESSAGE: usize = 68;

/// The most ATT values queued for one connection; past it, a message is refused whole
/// (never half a segmented message) and the owner counts it.
pub const OUT_QUEUE_LIMIT: usize = 64;

/// One GATT connection carrying Proxy PDUs: its id, ATT MTU, reassembly and the ATT values
/// waiting to be written or notified.
#[derive(Debug, Clone)]
pub struct ProxyConn {
    id: ConnId,
    mtu: u16,
    reassembler: ProxyReassembler,
    sar_deadline: Option<Instant>,
    out: VecDeque<Vec<u8>>,
}

impl ProxyConn {
    /// A connection of ATT MTU `mtu` (below 23, the LE minimum of Core Vol 3 Part F §3.2.8,
    /// counts as 23: 20-octet ATT values).
    pub fn new(id: ConnId, mtu: u16) -> Self {
        ProxyConn {
            id,
            mtu: mtu.max(MIN_ATT_MTU),
            reassembler: ProxyReassembler::new(MAX_PROXY_MESSAGE),
            sar_deadline: None,
            out: VecDeque::new(),
        }
    }

    /// The connection's id.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The ATT MTU in use.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// A new ATT MTU (after an Exchange MTU); applies to messages not yet segmented.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu = mtu.max(MIN_ATT_MTU);
    }

    /// One ATT value received. A complete message comes out; a segment restarts the SAR
    /// timer (§6.3.2). An error resets the reassembly: the PDU was malformed or broke the SAR
    /// rules, and the owner counts it (and may disconnect, §6.3.2).
    pub fn receive(
        &mut self,
        now: Instant,
        bytes: &[u8],
    ) -> Result<Option<(MessageType, Vec<u8>)>, ReassemblyError> {
        let r = self.reassembler.feed_bytes(bytes);
        self.sar_deadline = self.reassembler.in_progress().then(|| now + SAR_TIMEOUT);
        r
    }

    /// Queues `payload` as Proxy PDUs of `message_type`, segmented to the MTU. Returns false
    /// (nothing queued) when the queue has no room for all its segments.
    pub fn send(&mut self, message_type: MessageType, payload: &[u8]) -> bool {
        let segs = segment(message_type, payload, self.mtu);
        if self.out.len() + segs.len() > OUT_QUEUE_LIMIT {
            return false;
        }
        self.out.extend(segs.iter().map(Wire::to_vec));
        true
    }

    /// The next ATT value to write (client) or notify (server), at most `mtu - 3` octets.
    pub fn poll_value(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Whether ATT values are waiting.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// When the SAR timer of a message being reassembled expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sar_deadline
    }

    /// At `now`: true when the SAR timer expired (the partial message is dropped; the owner
    /// disconnects, §6.3.2).
    pub fn sar_expired(&mut self, now: Instant) -> bool {
        if self.sar_deadline.is_some_and(|d| d <= now) {
            self.sar_deadline = None;
            self.reassembler.reset();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::wire::proxy::ProxyPdu;
    use proptest::prelude::*;

    #[test]
    fn mtu_23_gives_20_octet_values() {
        let mut c = ProxyConn::new(ConnId(1), 0);
        assert_eq!(c.mtu(), 23);
        assert!(c.send(MessageType::NetworkPdu, &[7; 29]));
        let a = c.poll_value().unwrap();
        let b = c.poll_value().unwrap();
        assert_eq!(c.poll_value(), None);
        assert_eq!(a.len(), 20);
        assert_eq!(b.len(), 1 + 29 - 19);
        assert_eq!(a[0] >> 6, 0b01);
        assert_eq!(b[0] >> 6, 0b11);
        // With a 69-octet MTU the same message is one complete PDU.
        c.set_mtu(69);
        assert!(c.send(MessageType::NetworkPdu, &[7; 29]));
        assert_eq!(c.poll_value().unwrap().len(), 30);
    }

    #[test]
    fn sar_timer_runs_while_a_message_is_partial() {
        let mut c = ProxyConn::new(ConnId(1), 23);
        let t0 = Instant::from_micros(1_000);
        assert_eq!(c.receive(t0, &[0x40, 1, 2]), Ok(None));
        assert_eq!(c.poll_timeout(), Some(t0 + SAR_TIMEOUT));
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(c.receive(t1, &[0x80, 3]), Ok(None));
        // The timer restarts with each segment.
        assert_eq!(c.poll_timeout(), Some(t1 + SAR_TIMEOUT));
        assert!(!c.sar_expired(t0 + SAR_TIMEOUT));
        assert!(c.sar_expired(t1 + SAR_TIMEOUT));
        assert_eq!(c.poll_timeout(), None);
        // The partial message is gone: a last segment now has no first.
        assert!(c.receive(t1, &[0xc0, 4]).is_err());
        // A complete message leaves no timer.
        assert_eq!(
            c.receive(t1, &[0x01, 9]),
            Ok(Some((MessageType::MeshBeacon, vec![9])))
        );
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn bounded_reassembly_and_queue() {
        let mut c = ProxyConn::new(ConnId(1), 23);
        let t = Instant::ZERO;
        assert_eq!(c.receive(t, &[0x40; 20]), Ok(None));
        assert_eq!(c.receive(t, &[0x80; 20]), Ok(None));
        assert_eq!(c.receive(t, &[0x80; 20]), Ok(None));
        // 57 octets so far; 19 more exceed the bound.
        assert_eq!(
            c.receive(t, &[0x80; 20]),
            Err(ReassemblyError::TooLong {
                max: MAX_PROXY_MESSAGE
            })
        );
        assert_eq!(c.poll_timeout(), None);
        // The queue refuses a whole message it cannot hold.
        for _ in 0..OUT_QUEUE_LIMIT / 2 {
            assert!(c.send(MessageType::NetworkPdu, &[1; 29]));
        }
        assert!(!c.send(MessageType::NetworkPdu, &[1; 29]));
        assert!(c.has_output());
    }

    proptest! {
        /// Whatever is sent at any MTU comes back whole through a peer's reassembly, in
        /// values no longer than MTU - 3.
        #[test]
        fn send_then_receive(
            payload in proptest::collection::vec(any::<u8>(), 0..=MAX_PROXY_MESSAGE),
            mtu in 0u16..200,
        ) {
            let mut a = ProxyConn::new(ConnId(1), mtu);
            let mut b = ProxyConn::new(ConnId(2), 23);
            prop_assert!(a.send(MessageType::ProvisioningPdu, &payload));
            let mut got = None;
            while let Some(v) = a.poll_value() {
                prop_assert!(v.len() <= usize::from(a.mtu()) - 3);
                prop_assert!(ProxyPdu::parse(&v).is_ok());
                if let Some(m) = b.receive(Instant::ZERO, &v).unwrap() {
                    got = Some(m);
                }
            }
            prop_assert_eq!(got, Some((MessageType::ProvisioningPdu, payload)));
        }
    }
}
