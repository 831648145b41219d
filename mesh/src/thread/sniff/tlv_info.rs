//! MLE TLVs (Thread 1.3 §4.4) as the decoder reports them: every TLV typed, with its name as
//! the `tlv` field (`{"tlv":"leader_data","partition_id":"655e0f83",...}`), addresses and
//! octets in lowercase hex.

use serde::Serialize;

use super::spare::Spare;
use crate::thread::mle::{Route64, Timestamp, Tlv};

/// One Route64 entry (§4.4.11): a router of the ID mask and its Route Data octet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteEntry {
    pub router_id: u8,
    /// Link Quality Out (bits 7-6).
    pub lq_out: u8,
    /// Link Quality In (bits 5-4).
    pub lq_in: u8,
    /// Route Cost (bits 3-0).
    pub cost: u8,
}

/// A MeshCoP timestamp (§8.10.1.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimestampInfo {
    pub seconds: u64,
    pub ticks: u16,
    pub authoritative: bool,
}

impl From<Timestamp> for TimestampInfo {
    fn from(t: Timestamp) -> Self {
        TimestampInfo {
            seconds: t.seconds,
            ticks: t.ticks,
            authoritative: t.authoritative,
        }
    }
}

/// One MLE TLV, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "tlv", rename_all = "snake_case")]
pub enum TlvInfo {
    SourceAddress {
        rloc16: String,
    },
    /// Mode (§4.4.2): bit 3 receiver on when idle, bit 1 full Thread device, bit 0 full
    /// network data.
    Mode {
        mode: u8,
        rx_on_when_idle: bool,
        full_thread_device: bool,
        full_network_data: bool,
    },
    Timeout {
        seconds: u32,
    },
    Challenge {
        value: String,
    },
    Response {
        value: String,
    },
    LinkFrameCounter {
        counter: u32,
    },
    MleFrameCounter {
        counter: u32,
    },
    Route64 {
        id_sequence: u8,
        router_mask: String,
        /// `None` when the Route Data does not hold one octet per router of the mask.
        routes: Option<Vec<RouteEntry>>,
        route_data: String,
    },
    Address16 {
        rloc16: String,
    },
    LeaderData {
        partition_id: String,
        weighting: u8,
        data_version: u8,
        stable_data_version: u8,
        leader_router_id: u8,
    },
    NetworkData {
        value: String,
    },
    TlvRequest {
        types: Vec<u8>,
    },
    ScanMask {
        routers: bool,
        end_devices: bool,
    },
    Connectivity {
        parent_priority: i8,
        link_quality_3: u8,
        link_quality_2: u8,
        link_quality_1: u8,
        leader_cost: u8,
        id_sequence: u8,
        active_routers: u8,
        sed_buffer_size: Option<u16>,
        sed_datagram_count: Option<u8>,
    },
    LinkMargin {
        db: u8,
    },
    Status {
        status: u8,
    },
    Version {
        version: u16,
    },
    ActiveTimestamp(TimestampInfo),
    PendingTimestamp(TimestampInfo),
    ActiveDataset {
        value: String,
    },
    PendingDataset {
        value: String,
    },
    CslChannel {
        page: u8,
        channel: u16,
    },
    CslSyncTimeout {
        seconds: u32,
    },
    CslClockAccuracy {
        accuracy_ppm: u8,
        uncertainty_10us: u8,
    },
    Unknown {
        tlv_type: u8,
        value: String,
    },
}

fn routes(r: &Route64) -> Option<Vec<RouteEntry>> {
    r.entries().map(|e| {
        e.into_iter()
            .map(|(router_id, lq_out, lq_in, cost)| RouteEntry {
                router_id,
                lq_out,
                lq_in,
                cost,
            })
            .collect()
    })
}

impl From<&Tlv> for TlvInfo {
    fn from(t: &Tlv) -> Self {
        TlvInfo::build(t, &mut Spare::default())
    }
}

impl TlvInfo {
    /// The report of `t`, its strings taken from `spare`.
    pub(crate) fn build(t: &Tlv, spare: &mut Spare) -> Self {
        match t {
            Tlv::SourceAddress(a) => TlvInfo::SourceAddress {
                rloc16: spare.hex16(*a),
            },
            Tlv::Mode(m) => TlvInfo::Mode {
                mode: *m,
                rx_on_when_idle: m & 0x08 != 0,
                full_thread_device: m & 0x02 != 0,
                full_network_data: m & 0x01 != 0,
            },
            Tlv::Timeout(s) => TlvInfo::Timeout { seconds: *s },
            Tlv::Challenge(v) => TlvInfo::Challenge {
                value: spare.hex(v),
            },
            Tlv::Response(v) => TlvInfo::Response {
                value: spare.hex(v),
            },
            Tlv::LinkFrameCounter(c) => TlvInfo::LinkFrameCounter { counter: *c },
            Tlv::MleFrameCounter(c) => TlvInfo::MleFrameCounter { counter: *c },
            Tlv::Route64(r) => TlvInfo::Route64 {
                id_sequence: r.id_sequence,
                router_mask: spare.hex(&r.router_mask),
                routes: routes(r),
                route_data: spare.hex(&r.route_data),
            },
            Tlv::Address16(a) => TlvInfo::Address16 {
                rloc16: spare.hex16(*a),
            },
            Tlv::LeaderData(l) => TlvInfo::LeaderData {
                partition_id: spare.hex(&l.partition_id.to_be_bytes()),
                weighting: l.weighting,
                data_version: l.data_version,
                stable_data_version: l.stable_data_version,
                leader_router_id: l.leader_router_id,
            },
            Tlv::NetworkData(v) => TlvInfo::NetworkData {
                value: spare.hex(v),
            },
            Tlv::TlvRequest(v) => TlvInfo::TlvRequest { types: v.clone() },
            Tlv::ScanMask(m) => TlvInfo::ScanMask {
                routers: m & 0x80 != 0,
                end_devices: m & 0x40 != 0,
            },
            Tlv::Connectivity(c) => TlvInfo::Connectivity {
                parent_priority: c.parent_priority(),
                link_quality_3: c.link_quality_3,
                link_quality_2: c.link_quality_2,
                link_quality_1: c.link_quality_1,
                leader_cost: c.leader_cost,
                id_sequence: c.id_sequence,
                active_routers: c.active_routers,
                sed_buffer_size: c.sed.map(|s| s.0),
                sed_datagram_count: c.sed.map(|s| s.1),
            },
            Tlv::LinkMargin(m) => TlvInfo::LinkMargin { db: *m },
            Tlv::Status(s) => TlvInfo::Status { status: *s },
            Tlv::Version(v) => TlvInfo::Version { version: *v },
            Tlv::ActiveTimestamp(t) => TlvInfo::ActiveTimestamp((*t).into()),
            Tlv::PendingTimestamp(t) => TlvInfo::PendingTimestamp((*t).into()),
            Tlv::ActiveDataset(v) => TlvInfo::ActiveDataset {
                value: spare.hex(v),
            },
            Tlv::PendingDataset(v) => TlvInfo::PendingDataset {
                value: spare.hex(v),
            },
            Tlv::CslChannel { page, channel } => TlvInfo::CslChannel {
                page: *page,
                channel: *channel,
            },
            Tlv::CslSyncTimeout(s) => TlvInfo::CslSyncTimeout { seconds: *s },
            Tlv::CslClockAccuracy {
                accuracy,
                uncertainty,
            } => TlvInfo::CslClockAccuracy {
                accuracy_ppm: *accuracy,
                uncertainty_10us: *uncertainty,
            },
            Tlv::Unknown { tlv_type, value } => TlvInfo::Unknown {
                tlv_type: *tlv_type,
                value: spare.hex(value),
            },
        }
    }

    /// One short line for a table: `leader_data partition_id=655e0f83 ...`.
    pub fn summary(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or_default();
        let Some(o) = v.as_object() else {
            return String::new();
        };
        let name = o.get("tlv").and_then(|n| n.as_str()).unwrap_or("?");
        let fields: Vec<String> = o
            .iter()
            .filter(|(k, v)| *k != "tlv" && !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect();
        if fields.is_empty() {
            name.to_string()
        } else {
            format!("{name}({})", fields.join(" "))
        }
    }
}
