//! The receive path under arbitrary bytes, for `mesh/fuzz` (`thread_stack`) and the tests;
//! and the frames a forger with (or without) the network key builds, for the tests.
//!
//! The first input octet picks how far in the bytes go: as a raw MAC frame; as the TLVs of
//! an MLE message sealed with the right MLE key (reaching the MLE handlers with malformed
//! TLVs); as the 6LoWPAN payload of a frame secured with the right MAC key (reaching
//! reassembly, IPv6, UDP, ICMPv6 and the TMF endpoint); or as the payload of a TMF request
//! (`/a/aq`, `/a/an`, `/a/ae`, `/a/as`), unicast or to ff03::2 under an MPL Option.

use rand_core::RngCore;

use super::{Config, Credentials, Node, Role, ThreadState};
use crate::frame::{Bearer, RxFrame, Station};
use crate::thread::dataset::{ActiveDataset, Channel};
use crate::thread::mac::{
    Address, AuxSecurityHeader, Body, ExtAddress, Frame, FrameType, FrameVersion, KeyIdentifier,
    SecurityLevel,
};
use crate::thread::mle::{MlePayload, Tlv};
use crate::thread::security::{secure, ThreadKeys};
use crate::thread::wire::{data_frame, link_local, mle_datagram, Link};
use crate::time::Instant;
use crate::wire::Wire;

/// Mode 3: the bytes after one selector octet as the payload of a TMF request (Address
/// Query, Notification, Error or Solicit; confirmable or not) from a router's RLOC to the
/// leader's RLOC, or to ff03::2 under an MPL Option (`mode` bit 3).
fn tmf_frame(
    f: &mut Forger,
    creds: &Credentials,
    mode: u8,
    rest: &[u8],
    leader16: Option<u16>,
) -> Vec<u8> {
    use crate::thread::coap::{Code, Message, MessageType};
    use crate::thread::ip::addr::{rloc, REALM_LOCAL_ALL_ROUTERS};
    let (sel, payload) = rest.split_first().unwrap_or((&0, &[]));
    let path = ["a/aq", "a/an", "a/ae", "a/as"][(sel & 3) as usize];
    let mtype = if sel & 4 != 0 {
        MessageType::Confirmable
    } else {
        MessageType::NonConfirmable
    };
    let mut msg = Message::request(mtype, Code::POST, path);
    msg.message_id = u16::from(*sel) << 8;
    msg.payload = payload.to_vec();
    let p = creds.mesh_local_prefix;
    let src = rloc(p, 0x2400);
    let leader16 = leader16.unwrap_or(0xfffe);
    if mode & 8 == 0 {
        return f.udp(
            p,
            Address::Short(leader16),
            src,
            rloc(p, leader16),
            super::ip::TMF_PORT,
            &msg.to_vec(),
        );
    }
    let d = crate::thread::wire::udp_datagram(
        src,
        REALM_LOCAL_ALL_ROUTERS,
        super::ip::TMF_PORT,
        super::ip::TMF_PORT,
        &msg.to_vec(),
    );
    let opt = crate::thread::ip::mpl::MplOption {
        seed_id: (sel & 8 != 0).then_some(0x2400),
        max: false,
        sequence: *sel,
    };
    let d = crate::thread::ip::mpl::insert(&d, &opt).unwrap_or(d);
    f.fc += 1;
    let link = f.link(Address::Short(0xffff));
    let ctx = crate::thread::wire::contexts(p);
    data_frame(link, &d, &ctx, Some((&f.keys, f.fc))).unwrap_or_default()
}

/// A counter as generator: the fuzzer wants determinism.
#[derive(Debug, Clone)]
pub(super) struct Counter(pub u64);

impl RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        d.iter_mut()
            .for_each(|b| *b = (self.next_u64() >> 33) as u8);
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}

pub(super) fn fuzz_credentials() -> Credentials {
    let mut ds = ActiveDataset::default();
    ds.channel = Some(Channel {
        page: 0,
        number: 15,
    });
    ds.extended_pan_id = Some([0xde, 0xad, 0, 0xbe, 0xef, 0, 0xca, 0xfe]);
    ds.mesh_local_prefix = Some([0xfd, 0xde, 0xad, 0, 0xbe, 0xef, 0, 0]);
    ds.network_key = Some([0x42; 16]);
    ds.network_name = Some("weft".into());
    ds.pan_id = Some(0xface);
    Credentials::from_dataset(&ds).unwrap_or_else(|_| unreachable!("a complete dataset"))
}

/// A forger: an extended address, keys (right or wrong), its own counters.
pub(super) struct Forger {
    pub ext: ExtAddress,
    pub keys: ThreadKeys,
    pub pan_id: u16,
    pub fc: u32,
    pub seq: u8,
}

impl Forger {
    pub fn new(creds: &Credentials, ext: ExtAddress, network_key: [u8; 16]) -> Self {
        Forger {
            ext,
            keys: ThreadKeys::derive(&network_key, 0),
            pan_id: creds.pan_id,
            fc: 1_000_000,
            seq: 0,
        }
    }

    fn link(&mut self, dst: Address) -> Link {
        self.seq = self.seq.wrapping_add(1);
        Link {
            pan_id: self.pan_id,
            src: self.ext,
            dst,
            seq: self.seq,
            ack_request: !matches!(dst, Address::Short(0xffff)),
        }
    }

    /// An MLE message (MAC-unsecured) to `to`'s link-local address.
    pub fn mle(&mut self, to: ExtAddress, command: u8, tlvs: Vec<Tlv>) -> Vec<u8> {
        self.fc += 1;
        let d = mle_datagram(
            &MlePayload { command, tlvs },
            &self.keys,
            self.fc,
            link_local(self.ext),
            link_local(to),
        );
        let link = self.link(Address::Extended(to));
        data_frame(link, &d, &crate::thread::lowpan::Contexts::new(), None).unwrap_or_default()
    }

    /// A MAC-secured frame carrying a UDP datagram.
    pub fn udp(
        &mut self,
        ml_prefix: [u8; 8],
        dst_mac: Address,
        src: std::net::Ipv6Addr,
        dst: std::net::Ipv6Addr,
        port: u16,
        data: &[u8],
    ) -> Vec<u8> {
        self.fc += 1;
        let d = crate::thread::wire::udp_datagram(src, dst, port, port, data);
        let link = self.link(dst_mac);
        let ctx = crate::thread::wire::contexts(ml_prefix);
        data_frame(link, &d, &ctx, Some((&self.keys, self.fc))).unwrap_or_default()
    }

    /// A MAC-secured frame carrying an IPv6 datagram.
    #[cfg(test)]
    pub fn datagram(&mut self, ml_prefix: [u8; 8], dst_mac: Address, d: &[u8]) -> Vec<u8> {
        self.fc += 1;
        let link = self.link(dst_mac);
        let ctx = crate::thread::wire::contexts(ml_prefix);
        data_frame(link, d, &ctx, Some((&self.keys, self.fc))).unwrap_or_default()
    }

    /// A MAC-secured data frame around a raw 6LoWPAN payload.
    pub fn lowpan(&mut self, dst: Address, payload: &[u8]) -> Vec<u8> {
        self.fc += 1;
        let f = Frame {
            frame_type: FrameType::Data,
            version: FrameVersion::V2006,
            frame_pending: false,
            ack_request: true,
            pan_id_compression: true,
            sequence_number: Some(self.seq),
            dst_pan: Some(self.pan_id),
            dst,
            src_pan: None,
            src: Address::Extended(self.ext),
            security: Some(AuxSecurityHeader {
                level: SecurityLevel::new(5),
                key_id: KeyIdentifier::Index(self.keys.key_index()),
                frame_counter: Some(self.fc),
                asn_in_nonce: false,
            }),
            header_ies: Vec::new(),
            body: Body::Open {
                payload_ies: Vec::new(),
                payload: payload.to_vec(),
            },
        };
        secure(&f, self.keys.mac(), self.ext)
            .map(|f| f.to_vec())
            .unwrap_or_default()
    }
}

fn rx(bytes: Vec<u8>) -> RxFrame {
    RxFrame {
        bearer: Bearer::Ieee802154,
        channel: 15,
        rssi: Some(-60),
        timestamp: Instant::ZERO,
        adv_address: None,
        lqi: None,
        bytes,
    }
}

/// Runs `n`'s timers until it is leader (or gives up), dropping what it sends.
pub(super) fn settle(n: &mut Node<Counter>) {
    for _ in 0..200 {
        if n.role() == Role::Leader {
            break;
        }
        if let Some(t) = n.poll_timeout() {
            n.handle_timeout(t);
        }
        while n.poll_transmit(Instant::ZERO).is_some() {}
        while n.poll_event().is_some() {}
    }
}

/// Hands what `x` sends to `y`, every unicast acknowledged.
fn pass(now: Instant, x: &mut Node<Counter>, y: &mut Node<Counter>) {
    use crate::frame::{TxDone, TxStatus};
    while let Some(f) = x.poll_transmit(now) {
        let done = TxDone {
            bearer: Bearer::Ieee802154,
            sequence_number: None,
            status: TxStatus::Acked,
            frame_pending: false,
        };
        y.handle_frame(now, &rx(f.bytes));
        x.handle_tx_done(now, &done);
    }
    while x.poll_event().is_some() {}
}

/// Passes frames between `a` and `b` (no loss, every unicast acknowledged) for a while.
pub(super) fn exchange(a: &mut Node<Counter>, b: &mut Node<Counter>) {
    let mut now = Instant::ZERO;
    for _ in 0..400 {
        if b.role() == Role::Child {
            break;
        }
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else { break };
        now = t.max(now);
        a.handle_timeout(now);
        b.handle_timeout(now);
        pass(now, a, b);
        pass(now, b, a);
    }
}

pub(super) fn receive(data: &[u8]) {
    let creds = fuzz_credentials();
    let mut rng = Counter(7);
    let state = ThreadState::new(&creds, &mut rng);
    let leader_ext = state.ext();
    let mut leader = Node::new(creds.clone(), state, Config::default(), rng, Instant::ZERO);
    settle(&mut leader);
    let mut rng = Counter(8);
    let state = ThreadState::new(&creds, &mut rng);
    let child_ext = state.ext();
    let cfg = Config {
        router_eligible: false,
        ..Config::default()
    };
    let mut child = Node::new(creds.clone(), state, cfg, rng, Instant::ZERO);
    exchange(&mut leader, &mut child);
    let mut rng = Counter(9);
    let state = ThreadState::new(&creds, &mut rng);
    let mut detached = Node::new(creds.clone(), state, Config::default(), rng, Instant::ZERO);
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    // Odd modes speak as the leader (to reach the child's handlers of its parent's messages).
    let (src, to) = if mode & 4 != 0 {
        (leader_ext, child_ext)
    } else {
        (ExtAddress([0x12; 8]), leader_ext)
    };
    let mut f = Forger::new(&creds, src, creds.network_key);
    let frame = match mode % 4 {
        0 => rest.to_vec(),
        1 => {
            let (cmd, body) = rest.split_first().unwrap_or((&0, &[]));
            let tlvs = body
                .chunks(6)
                .map(|c| Tlv::Unknown {
                    tlv_type: c[0],
                    value: c[1..].to_vec(),
                })
                .collect();
            f.mle(to, *cmd, tlvs)
        }
        3 => tmf_frame(&mut f, &creds, *mode, rest, leader.rloc16()),
        _ => {
            let dst = if mode & 4 != 0 {
                child.rloc16()
            } else {
                leader.rloc16()
            };
            f.lowpan(dst.map_or(Address::Short(0xffff), Address::Short), rest)
        }
    };
    let t = leader.poll_timeout().unwrap_or(Instant::ZERO);
    for n in [&mut leader, &mut child, &mut detached] {
        n.handle_frame(t, &rx(frame.clone()));
        for _ in 0..4 {
            while n.poll_transmit(t).is_some() {}
            while n.poll_event().is_some() {}
            if let Some(t) = n.poll_timeout() {
                n.handle_timeout(t);
            }
        }
    }
}
