//! A passive decoder for overheard Bluetooth Mesh traffic: given the keys, it opens network
//! PDUs, reassembles segmented messages and decrypts access payloads, as a sniffer or the
//! network inspector needs. It never transmits and keeps no node state beyond the segments of
//! messages in flight and the friendships it has seen being established.

use std::collections::HashMap;

use crate::ble::address::{Address, IvIndex, Seq};
use crate::ble::crypto::{virtual_address, AppKey, DevKey, NetKey, NetworkCredentials};
use crate::ble::wire::access::Opcode;
use crate::ble::wire::adv::{
    AdStructures, AD_TYPE_MESH_BEACON, AD_TYPE_MESH_MESSAGE, AD_TYPE_PB_ADV,
};
use crate::ble::wire::beacon::Beacon;
use crate::ble::wire::lower::{LowerAccessPdu, LowerControlPdu, Reassembly, SegmentHeader};
use crate::ble::wire::network::{NetworkPduRepr, NonceKind};
use crate::ble::wire::pbadv::{self, GenericProvisioningPdu, PbAdvPdu};
use crate::ble::wire::prov::ProvisioningPdu;
use crate::ble::wire::upper::{decrypt_access, AccessContext, AccessKey};
use crate::ble::wire::{Error, Wire};

/// Which credentials opened a network PDU (§3.9.6.3.1, §3.9.6.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    Flooding,
    /// Friendship credentials of an LPN and its Friend.
    Friendship {
        lpn: Address,
        friend: Address,
    },
}

/// The keys a sniffer decodes with.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    net_keys: Vec<NetKey>,
    app_keys: Vec<AppKey>,
    dev_keys: Vec<(Address, DevKey)>,
    /// Label UUIDs with their virtual addresses, hashed once (§3.4.2.3).
    labels: Vec<([u8; 16], Address)>,
    friendships: Vec<Friendship>,
}

#[derive(Debug, Clone)]
struct Friendship {
    net_key: usize,
    lpn: Address,
    friend: Address,
    creds: NetworkCredentials,
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add_net_key(&mut self, key: [u8; 16]) {
        self.net_keys.push(NetKey::new(key));
    }
    pub fn add_app_key(&mut self, key: [u8; 16]) {
        self.app_keys.push(AppKey::new(key));
    }
    pub fn add_dev_key(&mut self, address: Address, key: [u8; 16]) {
        self.dev_keys.push((address, DevKey::new(key)));
    }
    pub fn add_label(&mut self, label_uuid: [u8; 16]) {
        self.labels
            .push((label_uuid, Address(virtual_address(&label_uuid))));
    }
    pub fn net_keys(&self) -> &[NetKey] {
        &self.net_keys
    }

    /// Friendship credentials for an LPN and its Friend under every network key (§3.9.6.3.2).
    pub fn add_friendship(
        &mut self,
        lpn: Address,
        friend: Address,
        lpn_counter: u16,
        friend_counter: u16,
    ) {
        for (i, nk) in self.net_keys.iter().enumerate() {
            let creds = nk.friendship(lpn.0, friend.0, lpn_counter, friend_counter);
            self.friendships
                .retain(|f| !(f.net_key == i && f.lpn == lpn && f.friend == friend));
            self.friendships.push(Friendship {
                net_key: i,
                lpn,
                friend,
                creds,
            });
        }
    }
}

/// A network PDU opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub pdu: NetworkPduRepr,
    /// The IV Index used to open it.
    pub iv_index: IvIndex,
    /// Index of the network key (in the order given) that opened it.
    pub net_key_index: usize,
    pub credentials: Credentials,
    pub net_mic: Vec<u8>,
}

/// Which key an access message was secured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsed {
    /// An application key: its index in the keyring and its AID.
    App { index: usize, aid: u8 },
    /// The device key of this node.
    Dev { node: Address },
}

/// An access message, decrypted (and reassembled if it was segmented).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessInfo {
    pub src: Address,
    pub dst: Address,
    /// SEQ of SeqAuth: the first segment's sequence number.
    pub seq: Seq,
    pub key: KeyUsed,
    pub szmic: bool,
    pub label_uuid: Option<[u8; 16]>,
    /// `None` when the payload does not start with a valid opcode.
    pub opcode: Option<Opcode>,
    pub access_payload: Vec<u8>,
    /// How many segments carried it (1 for an unsegmented message).
    pub segments: u8,
}

/// A control message (reassembled if it was segmented). Segment Acknowledgments have opcode 0
/// and their six parameter octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlInfo {
    pub src: Address,
    pub dst: Address,
    pub seq: Seq,
    pub opcode: u8,
    pub parameters: Vec<u8>,
    pub segments: u8,
}

/// A beacon and, where a key authenticates it, the key's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconInfo {
    pub beacon: Beacon,
    /// For secure network and private beacons: the network key that authenticates it. A private
    /// beacon that no key opens cannot be read at all and is reported as an error instead.
    pub net_key_index: Option<usize>,
    /// For private beacons: the opened Flags and IV Index.
    pub private: Option<(u8, IvIndex)>,
}

/// One thing the sniffer understood (or failed to), in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Network(NetworkInfo),
    Access(AccessInfo),
    Control(ControlInfo),
    Beacon(BeaconInfo),
    /// A segment stored while its message is incomplete: (src, SeqZero, received, total).
    SegmentPending {
        src: Address,
        seq_zero: u16,
        received: u8,
        total: u8,
    },
    /// A PB-ADV PDU (AD type 0x29, §5.2.1).
    PbAdv(PbAdvPdu),
    /// A provisioning PDU reassembled from a PB-ADV transaction (§5.3, §5.4.1).
    Provisioning {
        link_id: u32,
        from_device: bool,
        pdu: ProvisioningPdu,
    },
    /// Input that could not be decoded, and why.
    Error {
        input: Vec<u8>,
        error: String,
    },
}

/// Key of a message being reassembled: source, destination, SeqZero, CTL.
type SegKey = (Address, Address, u16, bool);

struct Pending {
    first_seq: Seq,
    iv_index: IvIndex,
    akf: bool,
    aid: u8,
    szmic: bool,
    opcode: u8,
    buf: Reassembly,
}

impl core::fmt::Debug for Pending {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pending")
            .field("first_seq", &self.first_seq)
            .finish_non_exhaustive()
    }
}

/// Bound on messages held in reassembly at once; the oldest is dropped beyond it.
const MAX_PENDING: usize = 64;

/// The decoder. Feed it PDUs in the order they were heard.
#[derive(Debug)]
pub struct Sniffer {
    keys: Keyring,
    iv_index: IvIndex,
    pending: HashMap<SegKey, Pending>,
    order: Vec<SegKey>,
    /// Friend Requests heard: LPN address -> LPNCounter (§3.6.5.3).
    requests: HashMap<Address, u16>,
    /// PB-ADV transactions in flight, by link and direction (§5.3.2: a Provisioner numbers its
    /// transactions 0x00..=0x7F, a device 0x80..=0xFF).
    links: HashMap<(u32, bool), pbadv::Reassembler>,
}

impl Sniffer {
    /// The keys it decrypts with, to add one learnt later (a node just provisioned).
    pub fn keyring_mut(&mut self) -> &mut Keyring {
        &mut self.keys
    }

    /// A sniffer with `keys`, at the current IV Index `iv_index` (PDUs with the other IVI bit
    /// are opened with `iv_index - 1`, as a node does, §3.4.4.1).
    pub fn new(keys: Keyring, iv_index: IvIndex) -> Self {
        Sniffer {
            keys,
            iv_index,
            pending: HashMap::new(),
            order: Vec::new(),
            requests: HashMap::new(),
            links: HashMap::new(),
        }
    }

    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Reports each segmented message still incomplete as an error, and forgets it.
    pub fn finish(&mut self) -> Vec<Decoded> {
        let mut out = Vec::new();
        for key in std::mem::take(&mut self.order) {
            if let Some(p) = self.pending.remove(&key) {
                out.push(Decoded::Error {
                    input: Vec::new(),
                    error: format!(
                        "incomplete segmented message {} -> {} (SeqZero {:#06x}): {} of {} segments heard",
                        key.0,
                        key.1,
                        key.2,
                        p.buf.block_ack().count_ones(),
                        u32::from(p.buf.seg_n()) + 1
                    ),
                });
            }
        }
        out
    }

    /// Decodes advertising data: one or more AD structures (length, type, data). PB-ADV (0x29),
    /// Mesh Message (0x2A) and Mesh Beacon (0x2B) structures are decoded, others are skipped.
    pub fn handle_ad(&mut self, data: &[u8]) -> Vec<Decoded> {
        let mut out = Vec::new();
        for ad in AdStructures::new(data) {
            match ad {
                // Mesh Message AD type (§3.3.1).
                Ok(ad) if ad.ad_type == AD_TYPE_MESH_MESSAGE => {
                    out.extend(self.handle_network(ad.data))
                }
                // Mesh Beacon AD type (§3.3.1).
                Ok(ad) if ad.ad_type == AD_TYPE_MESH_BEACON => {
                    out.extend(self.handle_beacon(ad.data))
                }
                // PB-ADV AD type (§5.2.1).
                Ok(ad) if ad.ad_type == AD_TYPE_PB_ADV => out.extend(self.handle_pb_adv(ad.data)),
                Ok(_) => {}
                Err(e) => out.push(Decoded::Error {
                    input: data.to_vec(),
                    error: format!("malformed AD structure: {e}"),
                }),
            }
        }
        out
    }

    /// Whether `data` is whole advertising data: AD structures that fill it exactly, at least
    /// one of a mesh AD type.
    pub fn looks_like_ad(data: &[u8]) -> bool {
        let mut total = 0;
        let mut mesh = false;
        for ad in AdStructures::new(data) {
            let Ok(ad) = ad else { return false };
            total += ad.data.len() + 2;
            mesh |= matches!(
                ad.ad_type,
                AD_TYPE_PB_ADV | AD_TYPE_MESH_MESSAGE | AD_TYPE_MESH_BEACON
            );
        }
        mesh && total == data.len()
    }

    /// Decodes bytes of unknown kind: AD structures, a network PDU or a beacon.
    pub fn handle_any(&mut self, data: &[u8]) -> Vec<Decoded> {
        if Self::looks_like_ad(data) {
            return self.handle_ad(data);
        }
        if let Some(info) = self.open_network(data) {
            return self.after_network(info);
        }
        if let Ok(b) = Beacon::parse(data) {
            return self.beacon_info(b).into_iter().collect();
        }
        let mut error = self.network_error(data);
        if data.len() >= 2
            && matches!(
                data[1],
                AD_TYPE_PB_ADV | AD_TYPE_MESH_MESSAGE | AD_TYPE_MESH_BEACON
            )
        {
            error += &format!(
                "; nor is it an AD structure: its length octet says {} but {} octets follow",
                data[0],
                data.len() - 1
            );
        }
        vec![Decoded::Error {
            input: data.to_vec(),
            error,
        }]
    }

    /// Decodes a network PDU.
    pub fn handle_network(&mut self, data: &[u8]) -> Vec<Decoded> {
        match self.open_network(data) {
            Some(info) => self.after_network(info),
            None => vec![Decoded::Error {
                input: data.to_vec(),
                error: self.network_error(data),
            }],
        }
    }

    /// Decodes a PB-ADV PDU (the payload of a PB-ADV AD structure), and the provisioning PDU
    /// when its transaction completes.
    pub fn handle_pb_adv(&mut self, data: &[u8]) -> Vec<Decoded> {
        let pdu = match PbAdvPdu::parse(data) {
            Ok(p) => p,
            Err(e) => {
                return vec![Decoded::Error {
                    input: data.to_vec(),
                    error: format!("malformed PB-ADV PDU: {e}"),
                }]
            }
        };
        let mut out = Vec::new();
        let from_device = pdu.transaction_number >= 0x80;
        let segment = matches!(
            pdu.gpdu,
            GenericProvisioningPdu::TransactionStart { .. }
                | GenericProvisioningPdu::TransactionContinuation { .. }
        );
        let done = if segment {
            if self.links.len() >= MAX_PENDING
                && !self.links.contains_key(&(pdu.link_id, from_device))
            {
                self.links.clear();
            }
            let r = self.links.entry((pdu.link_id, from_device)).or_default();
            Some(r.push(pdu.transaction_number, &pdu.gpdu))
        } else {
            None
        };
        let link_id = pdu.link_id;
        out.push(Decoded::PbAdv(pdu));
        match done {
            Some(Ok(pbadv::Reassembly::Complete(bytes))) => {
                out.push(match ProvisioningPdu::parse(&bytes) {
                    Ok(pdu) => Decoded::Provisioning {
                        link_id,
                        from_device,
                        pdu,
                    },
                    Err(e) => Decoded::Error {
                        input: bytes,
                        error: format!("malformed provisioning PDU: {e}"),
                    },
                })
            }
            Some(Err(e)) => out.push(Decoded::Error {
                input: data.to_vec(),
                error: format!("PB-ADV transaction on link {link_id:08x} dropped: {e}"),
            }),
            _ => {}
        }
        out
    }

    /// Decodes a beacon (the payload of a Mesh Beacon AD structure).
    pub fn handle_beacon(&mut self, data: &[u8]) -> Vec<Decoded> {
        match Beacon::parse(data) {
            Ok(b) => self.beacon_info(b).into_iter().collect(),
            Err(e) => vec![Decoded::Error {
                input: data.to_vec(),
                error: format!("malformed beacon: {e}"),
            }],
        }
    }

    fn beacon_info(&self, beacon: Beacon) -> Option<Decoded> {
        let mut info = BeaconInfo {
            beacon,
            net_key_index: None,
            private: None,
        };
        match &info.beacon {
            Beacon::SecureNetwork(b) => {
                info.net_key_index = self
                    .keys
                    .net_keys
                    .iter()
                    .position(|k| b.authenticate(k).is_ok());
            }
            Beacon::MeshPrivate(b) => {
                for (i, k) in self.keys.net_keys.iter().enumerate() {
                    if let Ok((flags, iv_index)) = b.open(k) {
                        info.net_key_index = Some(i);
                        info.private = Some((flags.0, iv_index));
                        break;
                    }
                }
            }
            Beacon::UnprovisionedDevice(_) => {}
        }
        Some(Decoded::Beacon(info))
    }

    fn network_error(&self, data: &[u8]) -> String {
        match crate::ble::wire::network::NetworkPdu::new_checked(data) {
            Err(e) => format!("not a network PDU: {e}"),
            Ok(v) => {
                if self.keys.net_keys.is_empty() {
                    "no network key given".into()
                } else if !self.candidates().any(|(_, _, c)| c.nid == v.nid()) {
                    format!("no network key has NID {:#04x}", v.nid())
                } else {
                    "no network key authenticates this PDU".into()
                }
            }
        }
    }

    fn candidates(&self) -> impl Iterator<Item = (usize, Credentials, &NetworkCredentials)> + '_ {
        let flooding = self
            .keys
            .net_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (i, Credentials::Flooding, &k.flooding));
        let friends = self.keys.friendships.iter().map(|f| {
            (
                f.net_key,
                Credentials::Friendship {
                    lpn: f.lpn,
                    friend: f.friend,
                },
                &f.creds,
            )
        });
        flooding.chain(friends)
    }

    fn open_network(&self, data: &[u8]) -> Option<NetworkInfo> {
        let view = crate::ble::wire::network::NetworkPdu::new_checked(data).ok()?;
        let iv_index = self.iv_index.for_rx(view.ivi());
        for (i, which, creds) in self.candidates() {
            if creds.nid != view.nid() {
                continue;
            }
            if let Ok(pdu) = NetworkPduRepr::decrypt(data, creds, iv_index, NonceKind::Network) {
                let mic_len = pdu.mic_len().len();
                return Some(NetworkInfo {
                    net_mic: data[data.len() - mic_len..].to_vec(),
                    pdu,
                    iv_index,
                    net_key_index: i,
                    credentials: which,
                });
            }
        }
        None
    }

    fn after_network(&mut self, info: NetworkInfo) -> Vec<Decoded> {
        let mut out = Vec::new();
        let upper = if info.pdu.ctl {
            self.lower_control(&info)
        } else {
            self.lower_access(&info)
        };
        out.push(Decoded::Network(info));
        out.extend(upper);
        out
    }

    fn lower_control(&mut self, info: &NetworkInfo) -> Option<Decoded> {
        let p = &info.pdu;
        let lower = match LowerControlPdu::parse(&p.transport_pdu) {
            Ok(l) => l,
            Err(e) => return Some(self.malformed(info, e)),
        };
        match lower {
            LowerControlPdu::SegmentAck { .. } => {
                let bytes = lower.to_vec();
                Some(self.control(info, p.seq, 0, bytes[1..].to_vec(), 1))
            }
            LowerControlPdu::Unsegmented { opcode, parameters } => {
                Some(self.control(info, p.seq, opcode, parameters, 1))
            }
            LowerControlPdu::Segmented {
                opcode,
                header,
                segment,
            } => {
                let (pending, done) =
                    self.segment(info, header, false, 0, false, opcode, 8, &segment)?;
                match done {
                    Some(parameters) => Some(self.control(
                        info,
                        pending.first_seq,
                        opcode,
                        parameters,
                        pending.buf.seg_n() + 1,
                    )),
                    None => Some(self.pending_info(info, header, &pending.buf)),
                }
            }
        }
    }

    fn control(
        &mut self,
        info: &NetworkInfo,
        seq: Seq,
        opcode: u8,
        parameters: Vec<u8>,
        segments: u8,
    ) -> Decoded {
        let p = &info.pdu;
        self.learn_friendship(info, opcode, &parameters);
        Decoded::Control(ControlInfo {
            src: p.src,
            dst: p.dst,
            seq,
            opcode,
            parameters,
            segments,
        })
    }

    /// Friend Request (opcode 0x03, LPNCounter in its last two octets, §3.6.5.3) and Friend Offer
    /// (0x04, FriendCounter in its last two octets, §3.6.5.4) establish a friendship whose
    /// credentials the sniffer then uses (§3.9.6.3.2).
    fn learn_friendship(&mut self, info: &NetworkInfo, opcode: u8, params: &[u8]) {
        let counter =
            |p: &[u8]| (p.len() >= 2).then(|| u16::from_be_bytes([p[p.len() - 2], p[p.len() - 1]]));
        match (opcode, params.len()) {
            (0x03, 10) => {
                if let Some(c) = counter(params) {
                    self.requests.insert(info.pdu.src, c);
                }
            }
            (0x04, 6) => {
                if let (Some(fc), Some(&lc)) = (counter(params), self.requests.get(&info.pdu.dst)) {
                    self.keys.add_friendship(info.pdu.dst, info.pdu.src, lc, fc);
                }
            }
            _ => {}
        }
    }

    fn lower_access(&mut self, info: &NetworkInfo) -> Option<Decoded> {
        let p = &info.pdu;
        let lower = match LowerAccessPdu::parse(&p.transport_pdu) {
            Ok(l) => l,
            Err(e) => return Some(self.malformed(info, e)),
        };
        match lower {
            LowerAccessPdu::Unsegmented {
                akf,
                aid,
                upper_pdu,
            } => Some(self.access(info, p.seq, info.iv_index, akf, aid, false, &upper_pdu, 1)),
            LowerAccessPdu::Segmented {
                akf,
                aid,
                header,
                segment,
            } => {
                let (pending, done) =
                    self.segment(info, header, akf, aid, header.szmic, 0, 12, &segment)?;
                match done {
                    Some(upper) => Some(self.access(
                        info,
                        pending.first_seq,
                        pending.iv_index,
                        akf,
                        aid,
                        pending.szmic,
                        &upper,
                        pending.buf.seg_n() + 1,
                    )),
                    None => Some(self.pending_info(info, header, &pending.buf)),
                }
            }
        }
    }

    fn malformed(&self, info: &NetworkInfo, e: Error) -> Decoded {
        Decoded::Error {
            input: info.pdu.transport_pdu.clone(),
            error: format!("malformed lower transport PDU from {}: {e}", info.pdu.src),
        }
    }

    fn pending_info(&self, info: &NetworkInfo, header: SegmentHeader, buf: &Reassembly) -> Decoded {
        Decoded::SegmentPending {
            src: info.pdu.src,
            seq_zero: header.seq_zero,
            received: buf.block_ack().count_ones() as u8,
            total: buf.seg_n() + 1,
        }
    }

    /// Stores a segment; returns the message's state and, once complete, its reassembled bytes.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        info: &NetworkInfo,
        header: SegmentHeader,
        akf: bool,
        aid: u8,
        szmic: bool,
        opcode: u8,
        seg_size: usize,
        segment: &[u8],
    ) -> Option<(PendingSummary, Option<Vec<u8>>)> {
        let p = &info.pdu;
        let key = (p.src, p.dst, header.seq_zero, p.ctl);
        if !self.pending.contains_key(&key) {
            if self.order.len() >= MAX_PENDING {
                let old = self.order.remove(0);
                self.pending.remove(&old);
            }
            let seq_auth = header.seq_auth(info.iv_index.0, p.seq);
            self.pending.insert(
                key,
                Pending {
                    first_seq: Seq::truncate(seq_auth as u32),
                    iv_index: IvIndex((seq_auth >> 24) as u32),
                    akf,
                    aid,
                    szmic,
                    opcode,
                    buf: Reassembly::new(header.seg_n, seg_size),
                },
            );
            self.order.push(key);
        }
        let pend = self.pending.get_mut(&key)?;
        if pend.akf != akf || pend.aid != aid || pend.opcode != opcode || pend.szmic != szmic {
            return None;
        }
        if pend
            .buf
            .insert(header.seg_o, header.seg_n, segment)
            .is_err()
        {
            return None;
        }
        let summary = PendingSummary {
            first_seq: pend.first_seq,
            iv_index: pend.iv_index,
            szmic: pend.szmic,
            buf: pend.buf.clone(),
        };
        let done = pend.buf.finish();
        if done.is_some() {
            self.pending.remove(&key);
            self.order.retain(|k| *k != key);
        }
        Some((summary, done))
    }

    #[allow(clippy::too_many_arguments)]
    fn access(
        &self,
        info: &NetworkInfo,
        seq: Seq,
        iv_index: IvIndex,
        akf: bool,
        aid: u8,
        szmic: bool,
        upper: &[u8],
        segments: u8,
    ) -> Decoded {
        let p = &info.pdu;
        let ctx = AccessContext {
            seq,
            src: p.src,
            dst: p.dst,
            iv_index,
            szmic,
        };
        let labels: Vec<Option<&[u8; 16]>> = if p.dst.is_virtual() {
            self.keys
                .labels
                .iter()
                .filter(|(_, addr)| *addr == p.dst)
                .map(|(l, _)| Some(l))
                .collect()
        } else {
            vec![None]
        };
        let done = |key: KeyUsed, label: Option<&[u8; 16]>, payload: Vec<u8>| {
            let opcode = Opcode::parse(&payload).ok().map(|(op, _)| op);
            Decoded::Access(AccessInfo {
                src: p.src,
                dst: p.dst,
                seq,
                key,
                szmic,
                label_uuid: label.copied(),
                opcode,
                access_payload: payload,
                segments,
            })
        };
        for label in &labels {
            if akf {
                for (index, k) in self
                    .keys
                    .app_keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.aid == aid)
                {
                    if let Ok(payload) = decrypt_access(AccessKey::App(k), &ctx, *label, upper) {
                        return done(KeyUsed::App { index, aid }, *label, payload);
                    }
                }
            } else {
                // A device key belongs to one end: the server's for requests, the server's
                // again (as source) for its status replies.
                for (node, k) in self
                    .keys
                    .dev_keys
                    .iter()
                    .filter(|(a, _)| *a == p.dst || *a == p.src)
                {
                    if let Ok(payload) = decrypt_access(AccessKey::Dev(k), &ctx, *label, upper) {
                        return done(KeyUsed::Dev { node: *node }, *label, payload);
                    }
                }
            }
        }
        let why = if p.dst.is_virtual() && labels.is_empty() {
            format!("no label UUID hashes to virtual address {}", p.dst)
        } else if akf {
            if self.keys.app_keys.iter().any(|k| k.aid == aid) {
                format!("no application key with AID {aid:#04x} authenticates this message")
            } else {
                format!("no application key has AID {aid:#04x}")
            }
        } else if self
            .keys
            .dev_keys
            .iter()
            .any(|(a, _)| *a == p.dst || *a == p.src)
        {
            format!(
                "the device key of {} or {} does not authenticate this message",
                p.src, p.dst
            )
        } else {
            format!("no device key for {} or {}", p.src, p.dst)
        };
        Decoded::Error {
            input: upper.to_vec(),
            error: why,
        }
    }
}

/// What a caller needs of a message in reassembly after a segment.
struct PendingSummary {
    first_seq: Seq,
    iv_index: IvIndex,
    szmic: bool,
    buf: Reassembly,
}

/// Feeds `data`, split into length-prefixed chunks, to a sniffer holding the specification's
/// sample keys; for the fuzzer.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let mut keys = Keyring::new();
    keys.add_net_key([0x7d; 16]);
    keys.add_app_key([0x63; 16]);
    keys.add_dev_key(Address(1), [0x9d; 16]);
    keys.add_label([0; 16]);
    keys.add_friendship(Address(1), Address(2), 0, 0);
    let mut s = Sniffer::new(keys, IvIndex(1));
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        // Half the chunks are plaintext that is secured first, so the decoder gets past the
        // NetMIC and its transport layers see fuzzed bytes too.
        if let Some(secured) = fuzz_secure(chunk) {
            let _ = s.handle_network(&secured);
        }
        let _ = s.handle_any(chunk);
        let _ = s.handle_network(chunk);
        let _ = s.handle_beacon(chunk);
        let _ = s.handle_ad(chunk);
        let _ = s.handle_pb_adv(chunk);
        rest = next;
    }
    let _ = s.finish();
}

fn fuzz_secure(chunk: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static KEY: OnceLock<NetKey> = OnceLock::new();
    let key = KEY.get_or_init(|| NetKey::new([0x7d; 16]));
    let (&h, rest) = chunk.split_first()?;
    if h & 0x80 == 0 || rest.len() < 7 {
        return None;
    }
    let pdu = NetworkPduRepr {
        ivi: 1,
        nid: key.flooding.nid,
        ctl: h & 0x40 != 0,
        ttl: h & 0x3f,
        seq: Seq::from_be_bytes([rest[0], rest[1], rest[2]]),
        src: Address(u16::from_be_bytes([rest[3], rest[4]]) & 0x7fff | 1),
        dst: Address(u16::from_be_bytes([rest[5], rest[6]]) | 1),
        transport_pdu: rest[7..].to_vec(),
    };
    pdu.encrypt(&key.flooding, IvIndex(1), NonceKind::Network)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secure(
        creds: &NetworkCredentials,
        ctl: bool,
        seq: u32,
        src: u16,
        dst: u16,
        transport: &[u8],
    ) -> Vec<u8> {
        NetworkPduRepr {
            ivi: 0,
            nid: creds.nid,
            ctl,
            ttl: 0,
            seq: Seq::new(seq).unwrap(),
            src: Address(src),
            dst: Address(dst),
            transport_pdu: transport.to_vec(),
        }
        .encrypt(creds, IvIndex(0x100), NonceKind::Network)
        .unwrap()
    }

    #[test]
    fn learns_friendship_from_request_and_offer() {
        let nk = NetKey::new([5; 16]);
        let mut keys = Keyring::new();
        keys.add_net_key(*nk.key());
        let mut s = Sniffer::new(keys, IvIndex(0x100));
        // Friend Request from LPN 0x0101 with LPNCounter 0x0007 (§3.6.5.3).
        let req = secure(
            &nk.flooding,
            true,
            1,
            0x0101,
            0xfffd,
            &[0x03, 0x4b, 0x50, 0x05, 0x7e, 0x40, 0, 0, 1, 0x00, 0x07],
        );
        // Friend Offer from Friend 0x0202 with FriendCounter 0x0042 (§3.6.5.4).
        let offer = secure(
            &nk.flooding,
            true,
            1,
            0x0202,
            0x0101,
            &[0x04, 0x02, 0x64, 0x02, 0xba, 0x00, 0x42],
        );
        let creds = nk.friendship(0x0101, 0x0202, 0x0007, 0x0042);
        let poll = secure(&creds, true, 2, 0x0101, 0x0202, &[0x01, 0x00]);
        assert!(
            matches!(s.handle_network(&poll)[0], Decoded::Error { .. }),
            "unknown before the offer"
        );
        s.handle_network(&req);
        s.handle_network(&offer);
        let out = s.handle_network(&poll);
        match &out[0] {
            Decoded::Network(n) => assert_eq!(
                n.credentials,
                Credentials::Friendship {
                    lpn: Address(0x0101),
                    friend: Address(0x0202)
                }
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[1], Decoded::Control(c) if c.opcode == 1));
    }

    #[test]
    fn pending_messages_are_bounded() {
        let nk = NetKey::new([5; 16]);
        let mut keys = Keyring::new();
        keys.add_net_key(*nk.key());
        let mut s = Sniffer::new(keys, IvIndex(0x100));
        for i in 0..(MAX_PENDING as u32 + 10) {
            // First of two segments of a segmented access message, SeqZero = i.
            let seq_zero = (i & 0x1fff) as u16;
            let hdr = [0x80, (seq_zero >> 6) as u8, (seq_zero << 2) as u8, 0x01];
            let mut t = hdr.to_vec();
            t.extend([0u8; 12]);
            s.handle_network(&secure(&nk.flooding, false, i, 0x0001, 0x0002, &t));
        }
        assert_eq!(s.pending.len(), MAX_PENDING);
        assert_eq!(s.finish().len(), MAX_PENDING);
    }

    #[test]
    fn fuzz_decode_smoke() {
        fuzz_decode(&[]);
        fuzz_decode(&[
            20, 0xc5, 0, 0, 1, 0, 1, 0, 2, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0,
        ]);
    }
}
