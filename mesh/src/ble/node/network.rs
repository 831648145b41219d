//! The network layer (MshPRT §3.4): the network PDUs a node receives (deobfuscation,
//! decryption under each subnet's keys, the message cache, relaying with TTL rules) and sends
//! (sequence numbers reserved in persisted blocks, network transmit counts, local delivery).

use super::*;

/// One AD structure: length, type, data (Core Supplement Part A §1.3; MshPRT §3.3.1).
pub(super) fn ad_wrap(ad_type: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 2);
    v.push(data.len() as u8 + 1);
    v.push(ad_type);
    v.extend_from_slice(data);
    v
}

/// A frame waiting for its time, with the retransmissions still owed.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) due: Instant,
    pub(super) bytes: Vec<u8>,
    pub(super) remaining: u8,
    pub(super) interval: Duration,
    /// Reported as `Sent` on first transmission (originated PDUs only).
    pub(super) sent: Option<(Address, Address, Seq, bool, u8)>,
}

/// The network message cache (MshPRT §3.4.6.5): (source, sequence, IV Index) of the PDUs
/// recently seen. The IV Index belongs to the key: when an IV Update ends, sequence numbers
/// start again from 0 (§3.11.5), and a new PDU under the new IV Index is not the one cached
/// under the old (it was, before: found by the `iv-update` HIL scenario, where relays dropped
/// every message after the update as a duplicate of one sent 96 hours before).
#[derive(Debug, Default)]
pub(super) struct NetCache {
    pub(super) set: HashSet<(u16, u32, u32)>,
    pub(super) ring: VecDeque<(u16, u32, u32)>,
}

impl NetCache {
    /// Records the PDU; returns false if it was already there.
    pub(super) fn insert(&mut self, src: Address, seq: Seq, iv: IvIndex) -> bool {
        let k = (src.0, seq.get(), iv.0);
        if !self.set.insert(k) {
            return false;
        }
        self.ring.push_back(k);
        if self.ring.len() > NET_CACHE {
            if let Some(old) = self.ring.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// Most PDUs one call delivers to our own elements: a local exchange that keeps answering
/// itself (it cannot, but nothing from a frame may loop without bound) stops there.
pub(super) const LOOPBACK_LIMIT: usize = 1024;

impl<R: RngCore> Node<R> {
    pub(super) fn alloc_seq(&mut self) -> Option<Seq> {
        // Running low (or out): start the IV Update that gives a fresh space when it ends
        // (MshPRT §3.11.5), if the 96 hours of the current state allow it now.
        if self.next_seq >= SEQ_IV_UPDATE_THRESHOLD && !self.state.iv_update {
            self.start_iv_update();
        }
        if self.next_seq > Seq::MAX {
            return None;
        }
        if self.next_seq + SEQ_BLOCK / 2 >= self.state.seq_reserved {
            self.state.seq_reserved = (self.next_seq + SEQ_BLOCK).min(Seq::MAX + 1);
            self.events.push_back(Event::PersistState);
        }
        let s = Seq::new(self.next_seq)?;
        self.next_seq += 1;
        Some(s)
    }

    pub(super) fn queue(
        &mut self,
        at: Instant,
        bytes: Vec<u8>,
        rt: Retransmit,
        sent: Option<(Address, Address, Seq, bool, u8)>,
    ) {
        self.txq.push(Pending {
            due: at,
            bytes,
            remaining: rt.count,
            interval: Duration::from_millis(u64::from(rt.network_interval_ms())),
            sent,
        });
    }

    /// A small random delay (0..=max ms) so that nodes hearing one frame don't answer together.
    pub(super) fn jitter(&mut self, max_ms: u64) -> Duration {
        Duration::from_micros(self.rng.next_u64() % (max_ms * 1_000 + 1))
    }

    pub(super) fn drop(&mut self, reason: DropReason) {
        self.events.push_back(Event::Dropped { reason });
    }

    pub(super) fn adv_rx(&mut self, now: Instant, data: &[u8], rssi: Option<i8>) {
        for ad in AdStructures::new(data) {
            match ad {
                Ok(ad) if ad.ad_type == AD_TYPE_MESH_MESSAGE => {
                    self.net_rx(now, ad.data, rssi, None)
                }
                Ok(ad) if ad.ad_type == AD_TYPE_MESH_BEACON => self.beacon_rx(now, ad.data),
                Ok(_) => {}
                Err(_) => self.drop(DropReason::Malformed),
            }
        }
    }

    /// A Network PDU from the advertising bearer (`from` None) or from the Proxy Client on
    /// connection `from` (MshPRT §3.4.6, §6.7).
    pub(super) fn net_rx(
        &mut self,
        now: Instant,
        bytes: &[u8],
        rssi: Option<i8>,
        from: Option<ConnId>,
    ) {
        match self.network_decision(bytes) {
            Err(reason) => self.drop(reason),
            Ok(d) => {
                if let Some(c) = from {
                    self.proxy_learn(c, d.pdu.src);
                }
                let relayed = d.relay && self.relay(now, d.subnet, &d.pdu, d.iv_index, from);
                if d.deliver {
                    self.lower_rx(now, d.subnet, &d.pdu, d.iv_index, rssi);
                } else if !relayed {
                    self.drop(DropReason::NotForUs);
                }
            }
        }
    }

    /// The network layer's receive decision for one PDU (MshPRT §3.4.6): deobfuscate, decrypt
    /// and authenticate under the subnets' keys, check the message cache and the source, and
    /// decide whether to deliver it to the transport layer and whether to relay it (to the
    /// advertising bearer with the Relay feature, to proxy connections and, for what a Proxy
    /// Client sent, to the advertising bearer with the Proxy feature). Records the PDU in the
    /// cache.
    pub fn network_decision(&mut self, bytes: &[u8]) -> Result<NetworkDecision, DropReason> {
        let view = NetworkPdu::new_checked(bytes).map_err(|_| DropReason::Malformed)?;
        let iv = self.state.iv_index.for_rx(view.ivi());
        let mut opened = None;
        'keys: for (si, sn) in self.subnets.iter().enumerate() {
            for key in std::iter::once(&sn.key).chain(sn.new_key.as_ref()) {
                if key.flooding.nid != view.nid() {
                    continue;
                }
                if let Ok(p) = NetworkPduRepr::decrypt(bytes, &key.flooding, iv, NonceKind::Network)
                {
                    opened = Some((si, p));
                    break 'keys;
                }
            }
        }
        let (subnet, pdu) = opened.ok_or(DropReason::NoNetworkKey)?;
        if !self.cache.insert(pdu.src, pdu.seq, iv) {
            return Err(DropReason::Duplicate);
        }
        if self.state.element_of(pdu.src).is_some() {
            return Err(DropReason::OwnMessage);
        }
        let deliver = self.is_for_us(pdu.dst);
        // Relay (§3.4.6.3): relay or proxy feature on, TTL >= 2, and not addressed to us alone.
        let relay = (self.state.relay || self.proxy_enabled())
            && pdu.ttl >= 2
            && !(pdu.dst.is_unicast() && deliver);
        Ok(NetworkDecision {
            pdu,
            subnet,
            iv_index: iv,
            deliver,
            relay,
        })
    }

    pub(super) fn is_for_us(&self, dst: Address) -> bool {
        if dst.is_unicast() {
            return self.state.element_of(dst).is_some();
        }
        match dst {
            Address::ALL_NODES => true,
            Address::ALL_RELAYS => self.state.relay,
            // Not a proxy or friend: those fixed groups are not ours (§3.4.2.4).
            Address::ALL_PROXIES | Address::ALL_FRIENDS => false,
            _ => {
                if let Some(hb) = &self.state.heartbeat_subscription {
                    if hb.dst == dst {
                        return true;
                    }
                }
                self.state
                    .elements
                    .iter()
                    .any(|e| e.models.iter().any(|m| m.subscriptions.contains(&dst)))
            }
        }
    }

    /// Retransmits a received PDU with TTL - 1 (§3.4.6.3): to the proxy connections whose
    /// filter allows its DST but the one it came from (§6.7), and to the advertising bearer
    /// when it came from there with the Relay feature on, or from a Proxy Client with the Proxy
    /// feature on (whatever the Relay feature says), unless a proxy connection took a unicast
    /// DST (as Zephyr does). Returns whether it went anywhere.
    pub(super) fn relay(
        &mut self,
        now: Instant,
        si: usize,
        pdu: &NetworkPduRepr,
        iv: IvIndex,
        from: Option<ConnId>,
    ) -> bool {
        let mut out = pdu.clone();
        out.ttl -= 1;
        let Ok(bytes) = out.encrypt(&self.subnets[si].tx_key().flooding, iv, NonceKind::Network)
        else {
            return false;
        };
        let to_client = self.proxy_forward(&bytes, out.dst, from);
        let to_adv = if from.is_some() {
            self.proxy_enabled()
        } else {
            self.state.relay
        } && !(to_client && out.dst.is_unicast());
        if to_adv {
            let delay = self.jitter(10);
            // What a Proxy Client sent leaves this node as the node's own would.
            let rt = if from.is_some() {
                self.state.network_transmit
            } else {
                self.state.relay_retransmit
            };
            self.queue(now + delay, ad_wrap(AD_TYPE_MESH_MESSAGE, &bytes), rt, None);
        }
        if !(to_adv || to_client) {
            return false;
        }
        self.events.push_back(Event::Relayed {
            src: out.src,
            dst: out.dst,
            seq: out.seq,
            ttl: out.ttl,
        });
        true
    }

    /// Gives back the sequence numbers reserved but not used: the reservation becomes the
    /// next sequence number, so a process that stops cleanly leaves the next one to start
    /// exactly where it ended instead of skipping the rest of a block (MshPRT §3.4.4.5
    /// allows 2^24 per IV index; each skipped number brings the IV Update closer). Safe at
    /// any time: the next message reserves a block again, asking to persist it
    /// ([`Event::PersistState`]) before it uses a number.
    pub fn release_reservation(&mut self) {
        self.state.seq_reserved = self.next_seq;
    }

    /// Whether the sequence numbers of the current IV index are used up (MshPRT §3.4.4.5:
    /// 24 bits): nothing can be sent until the IV Update the node started ends.
    pub fn sequence_exhausted(&self) -> bool {
        self.next_seq > Seq::MAX
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_network(
        &mut self,
        now: Instant,
        net_index: u16,
        ctl: bool,
        ttl: u8,
        src: Address,
        dst: Address,
        transport: Vec<u8>,
        seq: Option<Seq>,
    ) -> bool {
        let Some(si) = self.subnets.iter().position(|s| s.index == net_index) else {
            return false;
        };
        let Some(seq) = seq.or_else(|| self.alloc_seq()) else {
            return false;
        };
        let iv = self.tx_iv_index();
        let pdu = NetworkPduRepr {
            ivi: iv.ivi(),
            nid: 0,
            ctl,
            ttl,
            seq,
            src,
            dst,
            transport_pdu: transport,
        };
        let Ok(bytes) = pdu.encrypt(&self.subnets[si].tx_key().flooding, iv, NonceKind::Network)
        else {
            return false;
        };
        // Our own message must not come back to us as new (§3.4.6.5).
        self.cache.insert(src, seq, iv);
        let rt = self.state.network_transmit;
        // To the Proxy Clients whose filter allows DST (§6.7), and to the advertising bearer.
        self.proxy_forward(&bytes, dst, None);
        self.queue(
            now,
            ad_wrap(AD_TYPE_MESH_MESSAGE, &bytes),
            rt,
            Some((src, dst, seq, ctl, ttl)),
        );
        if self.state.element_of(dst).is_some() || (dst.is_multicast() && self.is_for_us(dst)) {
            // Loop back to our own elements (§3.4.6.4 local delivery), once this call is done.
            self.loopback.push_back((net_index, pdu, iv));
        }
        true
    }

    /// Delivers what we sent to our own elements ([`Node::loopback`]), and what that causes.
    pub(super) fn flush_loopback(&mut self, now: Instant) {
        for _ in 0..LOOPBACK_LIMIT {
            let Some((net_index, pdu, iv)) = self.loopback.pop_front() else {
                return;
            };
            if let Some(si) = self.subnets.iter().position(|s| s.index == net_index) {
                self.lower_rx(now, si, &pdu, iv, None);
            }
        }
        self.loopback.clear();
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    /// A sequence number seen under one IV Index is new under the next (MshPRT §3.11.5: the
    /// sequence numbers start again when an IV Update ends), and still a duplicate under the
    /// same one.
    #[test]
    fn the_cache_tells_iv_indexes_apart() {
        let mut c = NetCache::default();
        let (src, seq) = (Address(0x0001), Seq::new(0).unwrap());
        assert!(c.insert(src, seq, IvIndex(0)));
        assert!(!c.insert(src, seq, IvIndex(0)), "a duplicate");
        assert!(
            c.insert(src, seq, IvIndex(1)),
            "new under the next IV Index"
        );
        assert!(!c.insert(src, seq, IvIndex(1)));
    }
}
