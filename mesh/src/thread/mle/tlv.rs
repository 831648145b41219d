//! MLE TLVs (Thread 1.3 §4.4): one octet Type, one octet Length, the Value. The type numbers
//! are checked against OpenThread's `src/core/thread/mle_tlvs.hpp`. TLVs of other types are
//! kept whole as [`Tlv::Unknown`]; a known TLV whose length its layout forbids is an error.

use crate::wire::{Error, Result, Wire};

/// TLV type numbers (Thread 1.3 §4.4, table 4-2).
pub mod tlv_type {
    pub const SOURCE_ADDRESS: u8 = 0;
    pub const MODE: u8 = 1;
    pub const TIMEOUT: u8 = 2;
    pub const CHALLENGE: u8 = 3;
    pub const RESPONSE: u8 = 4;
    pub const LINK_FRAME_COUNTER: u8 = 5;
    pub const MLE_FRAME_COUNTER: u8 = 8;
    pub const ROUTE64: u8 = 9;
    pub const ADDRESS16: u8 = 10;
    pub const LEADER_DATA: u8 = 11;
    pub const NETWORK_DATA: u8 = 12;
    pub const TLV_REQUEST: u8 = 13;
    pub const SCAN_MASK: u8 = 14;
    pub const CONNECTIVITY: u8 = 15;
    pub const LINK_MARGIN: u8 = 16;
    pub const STATUS: u8 = 17;
    pub const VERSION: u8 = 18;
    /// Address Registration (OpenThread `Tlv::kAddressRegistration`, checked); its entries
    /// in [`super::super::address_registration`].
    pub const ADDRESS_REGISTRATION: u8 = 19;
    pub const ACTIVE_TIMESTAMP: u8 = 22;
    pub const PENDING_TIMESTAMP: u8 = 23;
    pub const ACTIVE_DATASET: u8 = 24;
    pub const PENDING_DATASET: u8 = 25;
    pub const CSL_CHANNEL: u8 = 80;
    pub const CSL_SYNC_TIMEOUT: u8 = 85;
    pub const CSL_CLOCK_ACCURACY: u8 = 86;
}

/// Route64 (Thread 1.3 §4.4.11): ID Sequence, Router ID Mask (64 bits, router 0 the most
/// significant bit of the first octet), one Route Data octet per router in the mask
/// (bits 7-6 Link Quality Out, 5-4 Link Quality In, 3-0 Route Cost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route64 {
    pub id_sequence: u8,
    pub router_mask: [u8; 8],
    pub route_data: Vec<u8>,
}

impl Route64 {
    /// The router IDs set in the mask, ascending.
    pub fn router_ids(&self) -> Vec<u8> {
        (0u8..64)
            .filter(|&i| self.router_mask[(i / 8) as usize] & (0x80 >> (i % 8)) != 0)
            .collect()
    }
    /// (Link Quality Out, Link Quality In, Route Cost) of a Route Data octet.
    pub const fn entry(octet: u8) -> (u8, u8, u8) {
        (octet >> 6, (octet >> 4) & 3, octet & 0x0f)
    }
    /// Each router of the mask with its Route Data entry: (router ID, Link Quality Out, Link
    /// Quality In, Route Cost). `None` when the Route Data does not hold one octet per router.
    pub fn entries(&self) -> Option<Vec<(u8, u8, u8, u8)>> {
        let ids = self.router_ids();
        (ids.len() == self.route_data.len()).then(|| {
            ids.iter()
                .zip(&self.route_data)
                .map(|(&id, &o)| {
                    let (out, inq, cost) = Self::entry(o);
                    (id, out, inq, cost)
                })
                .collect()
        })
    }
}

/// Leader Data (Thread 1.3 §4.4.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderData {
    pub partition_id: u32,
    pub weighting: u8,
    pub data_version: u8,
    pub stable_data_version: u8,
    pub leader_router_id: u8,
}

/// Connectivity (Thread 1.3 §4.4.16). `flags` holds Parent Priority in bits 7-6 (a 2-bit
/// signed value); the SED fields are optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connectivity {
    pub flags: u8,
    pub link_quality_3: u8,
    pub link_quality_2: u8,
    pub link_quality_1: u8,
    pub leader_cost: u8,
    pub id_sequence: u8,
    pub active_routers: u8,
    /// (SED Buffer Size, SED Datagram Count).
    pub sed: Option<(u16, u8)>,
}

impl Connectivity {
    /// Parent Priority: 1 high, 0 medium, -1 low, -2 reserved.
    pub fn parent_priority(&self) -> i8 {
        ((self.flags as i8) >> 6).clamp(-2, 1)
    }
}

/// A MeshCoP timestamp (Thread 1.3 §8.10.1.14): 48 bits of seconds, 15 bits of ticks and the
/// Authoritative bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub seconds: u64,
    pub ticks: u16,
    pub authoritative: bool,
}

/// One MLE TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tlv {
    SourceAddress(u16),
    /// Mode (§4.4.2): bit 3 receiver on when idle, bit 1 full Thread device, bit 0 full
    /// network data.
    Mode(u8),
    Timeout(u32),
    Challenge(Vec<u8>),
    Response(Vec<u8>),
    LinkFrameCounter(u32),
    MleFrameCounter(u32),
    Route64(Route64),
    Address16(u16),
    LeaderData(LeaderData),
    /// Network Data (§4.4.14), its own TLVs not parsed here.
    NetworkData(Vec<u8>),
    TlvRequest(Vec<u8>),
    /// Scan Mask (§4.4.15): bit 7 routers, bit 6 end devices.
    ScanMask(u8),
    Connectivity(Connectivity),
    LinkMargin(u8),
    Status(u8),
    Version(u16),
    ActiveTimestamp(Timestamp),
    PendingTimestamp(Timestamp),
    /// Active Operational Dataset (§4.4.25): MeshCoP TLVs, not parsed here.
    ActiveDataset(Vec<u8>),
    PendingDataset(Vec<u8>),
    /// CSL Channel (§4.4.28): Channel Page, Channel.
    CslChannel {
        page: u8,
        channel: u16,
    },
    CslSyncTimeout(u32),
    /// CSL Clock Accuracy (§4.4.30): accuracy in ppm, uncertainty in units of 10 µs.
    CslClockAccuracy {
        accuracy: u8,
        uncertainty: u8,
    },
    Unknown {
        tlv_type: u8,
        value: Vec<u8>,
    },
}

fn bad(field: &'static str, len: usize) -> Error {
    Error::Invalid {
        field,
        value: len as u32,
    }
}

fn timestamp(v: &[u8]) -> Timestamp {
    let s = u64::from_be_bytes([0, 0, v[0], v[1], v[2], v[3], v[4], v[5]]);
    let t = u16::from_be_bytes([v[6], v[7]]);
    Timestamp {
        seconds: s,
        ticks: t >> 1,
        authoritative: t & 1 != 0,
    }
}

fn timestamp_bytes(t: &Timestamp) -> Vec<u8> {
    let mut v = t.seconds.to_be_bytes()[2..].to_vec();
    v.extend_from_slice(&(((t.ticks & 0x7fff) << 1) | t.authoritative as u16).to_be_bytes());
    v
}

impl Tlv {
    /// Parses one TLV from a type and its value.
    pub fn from_value(t: u8, v: &[u8]) -> Result<Self> {
        use tlv_type::*;
        let exact = |n: usize, what: &'static str| {
            if v.len() == n {
                Ok(())
            } else {
                Err(bad(what, v.len()))
            }
        };
        let u16v = || u16::from_be_bytes([v[0], v[1]]);
        let u32v = || u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        Ok(match t {
            SOURCE_ADDRESS => {
                exact(2, "Source Address TLV length")?;
                Tlv::SourceAddress(u16v())
            }
            MODE => {
                exact(1, "Mode TLV length")?;
                Tlv::Mode(v[0])
            }
            TIMEOUT => {
                exact(4, "Timeout TLV length")?;
                Tlv::Timeout(u32v())
            }
            CHALLENGE => Tlv::Challenge(v.to_vec()),
            RESPONSE => Tlv::Response(v.to_vec()),
            LINK_FRAME_COUNTER => {
                exact(4, "Link-layer Frame Counter TLV length")?;
                Tlv::LinkFrameCounter(u32v())
            }
            MLE_FRAME_COUNTER => {
                exact(4, "MLE Frame Counter TLV length")?;
                Tlv::MleFrameCounter(u32v())
            }
            ROUTE64 => {
                if v.len() < 9 {
                    return Err(bad("Route64 TLV length (under 9)", v.len()));
                }
                let mut router_mask = [0u8; 8];
                router_mask.copy_from_slice(&v[1..9]);
                Tlv::Route64(Route64 {
                    id_sequence: v[0],
                    router_mask,
                    route_data: v[9..].to_vec(),
                })
            }
            ADDRESS16 => {
                exact(2, "Address16 TLV length")?;
                Tlv::Address16(u16v())
            }
            LEADER_DATA => {
                exact(8, "Leader Data TLV length")?;
                Tlv::LeaderData(LeaderData {
                    partition_id: u32v(),
                    weighting: v[4],
                    data_version: v[5],
                    stable_data_version: v[6],
                    leader_router_id: v[7],
                })
            }
            NETWORK_DATA => Tlv::NetworkData(v.to_vec()),
            TLV_REQUEST => Tlv::TlvRequest(v.to_vec()),
            SCAN_MASK => {
                exact(1, "Scan Mask TLV length")?;
                Tlv::ScanMask(v[0])
            }
            CONNECTIVITY => {
                if v.len() != 7 && v.len() != 10 {
                    return Err(bad("Connectivity TLV length (7 or 10)", v.len()));
                }
                Tlv::Connectivity(Connectivity {
                    flags: v[0],
                    link_quality_3: v[1],
                    link_quality_2: v[2],
                    link_quality_1: v[3],
                    leader_cost: v[4],
                    id_sequence: v[5],
                    active_routers: v[6],
                    sed: (v.len() == 10).then(|| (u16::from_be_bytes([v[7], v[8]]), v[9])),
                })
            }
            LINK_MARGIN => {
                exact(1, "Link Margin TLV length")?;
                Tlv::LinkMargin(v[0])
            }
            STATUS => {
                exact(1, "Status TLV length")?;
                Tlv::Status(v[0])
            }
            VERSION => {
                exact(2, "Version TLV length")?;
                Tlv::Version(u16v())
            }
            ACTIVE_TIMESTAMP => {
                exact(8, "Active Timestamp TLV length")?;
                Tlv::ActiveTimestamp(timestamp(v))
            }
            PENDING_TIMESTAMP => {
                exact(8, "Pending Timestamp TLV length")?;
                Tlv::PendingTimestamp(timestamp(v))
            }
            ACTIVE_DATASET => Tlv::ActiveDataset(v.to_vec()),
            PENDING_DATASET => Tlv::PendingDataset(v.to_vec()),
            CSL_CHANNEL => {
                exact(3, "CSL Channel TLV length")?;
                Tlv::CslChannel {
                    page: v[0],
                    channel: u16::from_be_bytes([v[1], v[2]]),
                }
            }
            CSL_SYNC_TIMEOUT => {
                exact(4, "CSL Sync Timeout TLV length")?;
                Tlv::CslSyncTimeout(u32v())
            }
            CSL_CLOCK_ACCURACY => {
                exact(2, "CSL Clock Accuracy TLV length")?;
                Tlv::CslClockAccuracy {
                    accuracy: v[0],
                    uncertainty: v[1],
                }
            }
            t => Tlv::Unknown {
                tlv_type: t,
                value: v.to_vec(),
            },
        })
    }

    /// (Type, Value).
    pub fn to_value(&self) -> (u8, Vec<u8>) {
        use tlv_type::*;
        match self {
            Tlv::SourceAddress(a) => (SOURCE_ADDRESS, a.to_be_bytes().to_vec()),
            Tlv::Mode(m) => (MODE, vec![*m]),
            Tlv::Timeout(t) => (TIMEOUT, t.to_be_bytes().to_vec()),
            Tlv::Challenge(c) => (CHALLENGE, c.clone()),
            Tlv::Response(r) => (RESPONSE, r.clone()),
            Tlv::LinkFrameCounter(c) => (LINK_FRAME_COUNTER, c.to_be_bytes().to_vec()),
            Tlv::MleFrameCounter(c) => (MLE_FRAME_COUNTER, c.to_be_bytes().to_vec()),
            Tlv::Route64(r) => {
                let mut v = vec![r.id_sequence];
                v.extend_from_slice(&r.router_mask);
                v.extend_from_slice(&r.route_data);
                (ROUTE64, v)
            }
            Tlv::Address16(a) => (ADDRESS16, a.to_be_bytes().to_vec()),
            Tlv::LeaderData(l) => {
                let mut v = l.partition_id.to_be_bytes().to_vec();
                v.extend_from_slice(&[
                    l.weighting,
                    l.data_version,
                    l.stable_data_version,
                    l.leader_router_id,
                ]);
                (LEADER_DATA, v)
            }
            Tlv::NetworkData(d) => (NETWORK_DATA, d.clone()),
            Tlv::TlvRequest(d) => (TLV_REQUEST, d.clone()),
            Tlv::ScanMask(m) => (SCAN_MASK, vec![*m]),
            Tlv::Connectivity(c) => {
                let mut v = vec![
                    c.flags,
                    c.link_quality_3,
                    c.link_quality_2,
                    c.link_quality_1,
                    c.leader_cost,
                    c.id_sequence,
                    c.active_routers,
                ];
                if let Some((size, count)) = c.sed {
                    v.extend_from_slice(&size.to_be_bytes());
                    v.push(count);
                }
                (CONNECTIVITY, v)
            }
            Tlv::LinkMargin(m) => (LINK_MARGIN, vec![*m]),
            Tlv::Status(s) => (STATUS, vec![*s]),
            Tlv::Version(v) => (VERSION, v.to_be_bytes().to_vec()),
            Tlv::ActiveTimestamp(t) => (ACTIVE_TIMESTAMP, timestamp_bytes(t)),
            Tlv::PendingTimestamp(t) => (PENDING_TIMESTAMP, timestamp_bytes(t)),
            Tlv::ActiveDataset(d) => (ACTIVE_DATASET, d.clone()),
            Tlv::PendingDataset(d) => (PENDING_DATASET, d.clone()),
            Tlv::CslChannel { page, channel } => {
                let c = channel.to_be_bytes();
                (CSL_CHANNEL, vec![*page, c[0], c[1]])
            }
            Tlv::CslSyncTimeout(t) => (CSL_SYNC_TIMEOUT, t.to_be_bytes().to_vec()),
            Tlv::CslClockAccuracy {
                accuracy,
                uncertainty,
            } => (CSL_CLOCK_ACCURACY, vec![*accuracy, *uncertainty]),
            Tlv::Unknown { tlv_type, value } => (*tlv_type, value.clone()),
        }
    }
}

/// Parses a sequence of TLVs filling all of `b`.
pub fn parse_tlvs(b: &[u8]) -> Result<Vec<Tlv>> {
    let mut v = Vec::new();
    parse_tlvs_into(b, &mut v)?;
    Ok(v)
}

/// Parses a sequence of TLVs filling all of `b` into `v` (cleared first; a decoder reuses
/// it). On an error `v` holds the TLVs before the bad one.
pub fn parse_tlvs_into(b: &[u8], v: &mut Vec<Tlv>) -> Result<()> {
    v.clear();
    let mut at = 0;
    while at < b.len() {
        let len = *b.get(at + 1).ok_or(Error::Truncated {
            need: at + 2,
            got: b.len(),
        })? as usize;
        let value = b.get(at + 2..at + 2 + len).ok_or(Error::Truncated {
            need: at + 2 + len,
            got: b.len(),
        })?;
        v.push(Tlv::from_value(b[at], value)?);
        at += 2 + len;
    }
    Ok(())
}

/// Writes TLVs one after the other. A value over 255 octets is cut to 255 (the Length octet's
/// limit); callers keep values shorter.
pub fn emit_tlvs(tlvs: &[Tlv]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tlvs {
        let (ty, mut v) = t.to_value();
        v.truncate(255);
        out.push(ty);
        out.push(v.len() as u8);
        out.extend_from_slice(&v);
    }
    out
}

impl Wire for Tlv {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut v = parse_tlvs(bytes)?;
        if v.len() != 1 {
            return Err(bad("TLV count (exactly one expected)", v.len()));
        }
        Ok(v.remove(0))
    }
    fn buffer_len(&self) -> usize {
        2 + self.to_value().1.len().min(255)
    }
    fn emit(&self, b: &mut [u8]) {
        let v = emit_tlvs(core::slice::from_ref(self));
        b[..v.len()].copy_from_slice(&v);
    }
}
