//! Network Data (Thread 1.3 §5.18) as the decoder reports it: each TLV's name, its Stable
//! flag, its fields in one line, and its sub-TLVs.

use serde::Serialize;

use crate::thread::netdata::{NetData, NetDataTlv, THREAD_ENTERPRISE_NUMBER};

/// One Network Data TLV, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetDataInfo {
    /// `has_route`, `prefix`, `border_router`, `context`, `commissioning_data`, `service`,
    /// `server` or `unknown`.
    pub tlv: &'static str,
    pub stable: bool,
    /// The fields: `prefix=fd00:db8::/64 domain_id=0`, `rloc16=4c00 flags=3100`, ...
    pub fields: String,
    pub sub_tlvs: Vec<NetDataInfo>,
}

fn prefix_str(p: &[u8], len: u8) -> String {
    let mut a = [0u8; 16];
    let n = p.len().min(16);
    a[..n].copy_from_slice(&p[..n]);
    format!("{}/{len}", std::net::Ipv6Addr::from(a))
}

impl From<&NetDataTlv> for NetDataInfo {
    fn from(t: &NetDataTlv) -> Self {
        let subs = |s: &[NetDataTlv]| s.iter().map(NetDataInfo::from).collect();
        let (tlv, fields, sub_tlvs) = match &t.data {
            NetData::HasRoute(e) => (
                "has_route",
                e.iter()
                    .map(|e| format!("rloc16={:04x} preference={}", e.rloc16, e.preference()))
                    .collect::<Vec<_>>()
                    .join(", "),
                vec![],
            ),
            NetData::Prefix {
                domain_id,
                prefix_len,
                prefix,
                sub_tlvs,
            } => (
                "prefix",
                format!(
                    "prefix={} domain_id={domain_id}",
                    prefix_str(prefix, *prefix_len)
                ),
                subs(sub_tlvs),
            ),
            NetData::BorderRouter(e) => (
                "border_router",
                e.iter()
                    .map(|e| format!("rloc16={:04x} flags={:04x}", e.rloc16, e.flags))
                    .collect::<Vec<_>>()
                    .join(", "),
                vec![],
            ),
            NetData::Context {
                compress,
                context_id,
                context_len,
            } => (
                "context",
                format!("context_id={context_id} length={context_len} compress={compress}"),
                vec![],
            ),
            NetData::CommissioningData(v) => ("commissioning_data", hex::encode(v), vec![]),
            NetData::Service {
                service_id,
                enterprise_number,
                service_data,
                sub_tlvs,
            } => (
                "service",
                format!(
                    "service_id={service_id} enterprise={} data={}",
                    enterprise_number.unwrap_or(THREAD_ENTERPRISE_NUMBER),
                    hex::encode(service_data)
                ),
                subs(sub_tlvs),
            ),
            NetData::Server { rloc16, data } => (
                "server",
                format!("rloc16={rloc16:04x} data={}", hex::encode(data)),
                vec![],
            ),
            NetData::Unknown { tlv_type, value } => (
                "unknown",
                format!("type={tlv_type} value={}", hex::encode(value)),
                vec![],
            ),
        };
        NetDataInfo {
            tlv,
            stable: t.stable,
            fields,
            sub_tlvs,
        }
    }
}
