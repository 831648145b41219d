//! Thread Network Data (Thread 1.3 §5.18), the value of MLE's Network Data TLV (§4.4.14): a
//! sequence of TLVs whose first octet is Type (bits 7-1) and Stable (bit 0, §5.18.1), then
//! Length and Value. Type numbers as OpenThread's `network_data_tlvs.hpp`
//! (`NetworkDataTlv::Type`). Prefix and Service TLVs hold sub-TLVs; TLVs of other types are
//! kept raw. Also the one MeshCoP TLV a sniffer needs from an Active Operational Dataset
//! (§8.10.1.5, Mesh Local Prefix).

use crate::wire::{Error, Result};

/// Network Data TLV types (§5.18.1, table 5-29; OpenThread `NetworkDataTlv::Type`).
pub mod netdata_type {
    pub const HAS_ROUTE: u8 = 0;
    pub const PREFIX: u8 = 1;
    pub const BORDER_ROUTER: u8 = 2;
    /// 6LoWPAN Context.
    pub const CONTEXT: u8 = 3;
    pub const COMMISSIONING_DATA: u8 = 4;
    pub const SERVICE: u8 = 5;
    pub const SERVER: u8 = 6;
}

/// The Thread IANA enterprise number, implied by a Service TLV's T bit (§5.18.6).
pub const THREAD_ENTERPRISE_NUMBER: u32 = 44970;
/// MeshCoP TLV Mesh Local Prefix (§8.10.1.5; OpenThread `MeshCoP::Tlv::kMeshLocalPrefix`).
pub const MESHCOP_MESH_LOCAL_PREFIX: u8 = 7;
/// Nesting of sub-TLVs followed (Prefix and Service hold sub-TLVs; theirs hold none).
const MAX_DEPTH: usize = 2;

/// One Has Route entry (§5.18.2): the border router's RLOC16 and its flags (bits 7-6 route
/// preference, bit 5 NAT64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasRouteEntry {
    pub rloc16: u16,
    pub flags: u8,
}

impl HasRouteEntry {
    /// Route preference, 2-bit signed: 1 high, 0 medium, -1 low.
    pub fn preference(&self) -> i8 {
        ((self.flags as i8) >> 6).clamp(-2, 1)
    }
}

/// One Border Router entry (§5.18.4): RLOC16 and 16 bits of flags (bits 15-14 preference,
/// 13 preferred, 12 SLAAC, 11 DHCP, 10 configure, 9 default route, 8 on mesh, 7 ND DNS,
/// 6 domain prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorderRouterEntry {
    pub rloc16: u16,
    pub flags: u16,
}

/// A Network Data TLV's value, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetData {
    /// Has Route (§5.18.2): 3 octets per entry.
    HasRoute(Vec<HasRouteEntry>),
    /// Prefix (§5.18.3): Domain ID, Prefix Length (bits), the prefix's octets
    /// (⌈length / 8⌉), then sub-TLVs.
    Prefix {
        domain_id: u8,
        prefix_len: u8,
        prefix: Vec<u8>,
        sub_tlvs: Vec<NetDataTlv>,
    },
    /// Border Router (§5.18.4): 4 octets per entry.
    BorderRouter(Vec<BorderRouterEntry>),
    /// 6LoWPAN Context (§5.18.5): C (bit 4, used for compression) and Context ID (bits
    /// 3-0), then Context Length in bits; the prefix is the enclosing Prefix TLV's.
    Context {
        compress: bool,
        context_id: u8,
        context_len: u8,
    },
    /// Commissioning Data (§5.18.7): MeshCoP TLVs, kept raw.
    CommissioningData(Vec<u8>),
    /// Service (§5.18.6): T (bit 7: the Thread enterprise number, not carried) and Service
    /// ID (bits 3-0), the Enterprise Number when T is clear, the service data, sub-TLVs.
    Service {
        service_id: u8,
        /// `None`: T set, the Thread enterprise number ([`THREAD_ENTERPRISE_NUMBER`]).
        enterprise_number: Option<u32>,
        service_data: Vec<u8>,
        sub_tlvs: Vec<NetDataTlv>,
    },
    /// Server (§5.18.6.1): the server's RLOC16 and its server data.
    Server {
        rloc16: u16,
        data: Vec<u8>,
    },
    Unknown {
        tlv_type: u8,
        value: Vec<u8>,
    },
}

/// One Network Data TLV with its Stable flag (§5.18.1: part of the stable network data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDataTlv {
    pub stable: bool,
    pub data: NetData,
}

fn invalid(field: &'static str, value: usize) -> Error {
    Error::Invalid {
        field,
        value: value as u32,
    }
}

fn entries<T>(v: &[u8], size: usize, what: &'static str, f: impl Fn(&[u8]) -> T) -> Result<Vec<T>> {
    if !v.len().is_multiple_of(size) {
        return Err(invalid(what, v.len()));
    }
    Ok(v.chunks_exact(size).map(f).collect())
}

fn parse_one(t: u8, v: &[u8], depth: usize) -> Result<NetData> {
    use netdata_type::*;
    Ok(match t {
        HAS_ROUTE => NetData::HasRoute(entries(v, 3, "Has Route TLV length (3 per entry)", |e| {
            HasRouteEntry {
                rloc16: u16::from_be_bytes([e[0], e[1]]),
                flags: e[2],
            }
        })?),
        PREFIX => {
            let (&domain_id, rest) = v.split_first().ok_or(invalid("Prefix TLV length", 0))?;
            let (&prefix_len, rest) = rest.split_first().ok_or(invalid("Prefix TLV length", 1))?;
            if prefix_len > 128 {
                return Err(invalid(
                    "Prefix Length (over 128 bits)",
                    prefix_len as usize,
                ));
            }
            let n = (prefix_len as usize).div_ceil(8);
            let prefix = rest.get(..n).ok_or(Error::Truncated {
                need: 2 + n,
                got: v.len(),
            })?;
            NetData::Prefix {
                domain_id,
                prefix_len,
                prefix: prefix.to_vec(),
                sub_tlvs: parse_at(&rest[n..], depth + 1)?,
            }
        }
        BORDER_ROUTER => NetData::BorderRouter(entries(
            v,
            4,
            "Border Router TLV length (4 per entry)",
            |e| BorderRouterEntry {
                rloc16: u16::from_be_bytes([e[0], e[1]]),
                flags: u16::from_be_bytes([e[2], e[3]]),
            },
        )?),
        CONTEXT => {
            if v.len() != 2 {
                return Err(invalid("6LoWPAN Context TLV length (2)", v.len()));
            }
            NetData::Context {
                compress: v[0] & 0x10 != 0,
                context_id: v[0] & 0x0f,
                context_len: v[1],
            }
        }
        COMMISSIONING_DATA => NetData::CommissioningData(v.to_vec()),
        SERVICE => {
            let (&flags, mut rest) = v.split_first().ok_or(invalid("Service TLV length", 0))?;
            let enterprise_number = if flags & 0x80 != 0 {
                None
            } else {
                let e = rest.get(..4).ok_or(Error::Truncated {
                    need: 5,
                    got: v.len(),
                })?;
                rest = &rest[4..];
                Some(u32::from_be_bytes([e[0], e[1], e[2], e[3]]))
            };
            let (&len, rest) = rest.split_first().ok_or(Error::Truncated {
                need: v.len() + 1,
                got: v.len(),
            })?;
            let data = rest.get(..len as usize).ok_or(Error::Truncated {
                need: v.len() - rest.len() + len as usize,
                got: v.len(),
            })?;
            NetData::Service {
                service_id: flags & 0x0f,
                enterprise_number,
                service_data: data.to_vec(),
                sub_tlvs: parse_at(&rest[len as usize..], depth + 1)?,
            }
        }
        SERVER => {
            if v.len() < 2 {
                return Err(invalid("Server TLV length (at least 2)", v.len()));
            }
            NetData::Server {
                rloc16: u16::from_be_bytes([v[0], v[1]]),
                data: v[2..].to_vec(),
            }
        }
        t => NetData::Unknown {
            tlv_type: t,
            value: v.to_vec(),
        },
    })
}

fn parse_at(b: &[u8], depth: usize) -> Result<Vec<NetDataTlv>> {
    if depth > MAX_DEPTH {
        return Err(invalid("Network Data nesting", depth));
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let len = *b.get(at + 1).ok_or(Error::Truncated {
            need: at + 2,
            got: b.len(),
        })? as usize;
        let v = b.get(at + 2..at + 2 + len).ok_or(Error::Truncated {
            need: at + 2 + len,
            got: b.len(),
        })?;
        out.push(NetDataTlv {
            stable: b[at] & 1 != 0,
            data: parse_one(b[at] >> 1, v, depth)?,
        });
        at += 2 + len;
    }
    Ok(out)
}

/// Parses Network Data (the value of MLE's Network Data TLV).
pub fn parse_network_data(b: &[u8]) -> Result<Vec<NetDataTlv>> {
    parse_at(b, 0)
}

fn value(d: &NetData) -> (u8, Vec<u8>) {
    use netdata_type::*;
    match d {
        NetData::HasRoute(e) => (
            HAS_ROUTE,
            e.iter()
                .flat_map(|e| [(e.rloc16 >> 8) as u8, e.rloc16 as u8, e.flags])
                .collect(),
        ),
        NetData::Prefix {
            domain_id,
            prefix_len,
            prefix,
            sub_tlvs,
        } => {
            let mut v = vec![*domain_id, *prefix_len];
            v.extend_from_slice(prefix);
            v.extend_from_slice(&emit_network_data(sub_tlvs));
            (PREFIX, v)
        }
        NetData::BorderRouter(e) => (
            BORDER_ROUTER,
            e.iter()
                .flat_map(|e| {
                    let [a, b] = e.rloc16.to_be_bytes();
                    let [c, d] = e.flags.to_be_bytes();
                    [a, b, c, d]
                })
                .collect(),
        ),
        NetData::Context {
            compress,
            context_id,
            context_len,
        } => (
            CONTEXT,
            vec![((*compress as u8) << 4) | (context_id & 0x0f), *context_len],
        ),
        NetData::CommissioningData(v) => (COMMISSIONING_DATA, v.clone()),
        NetData::Service {
            service_id,
            enterprise_number,
            service_data,
            sub_tlvs,
        } => {
            let t = if enterprise_number.is_none() { 0x80 } else { 0 };
            let mut v = vec![t | (service_id & 0x0f)];
            if let Some(e) = enterprise_number {
                v.extend_from_slice(&e.to_be_bytes());
            }
            v.push(service_data.len() as u8);
            v.extend_from_slice(service_data);
            v.extend_from_slice(&emit_network_data(sub_tlvs));
            (SERVICE, v)
        }
        NetData::Server { rloc16, data } => {
            let mut v = rloc16.to_be_bytes().to_vec();
            v.extend_from_slice(data);
            (SERVER, v)
        }
        NetData::Unknown { tlv_type, value } => (*tlv_type, value.clone()),
    }
}

/// Writes Network Data TLVs (values over 255 octets are cut; callers keep them shorter).
pub fn emit_network_data(tlvs: &[NetDataTlv]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tlvs {
        let (ty, mut v) = value(&t.data);
        v.truncate(255);
        out.push((ty << 1) | t.stable as u8);
        out.push(v.len() as u8);
        out.extend_from_slice(&v);
    }
    out
}

/// The 6LoWPAN contexts Network Data defines (§5.18.5 inside §5.18.3): (context ID, prefix
/// (16 octets, zero past the prefix), context length in bits, compress flag).
pub fn contexts_of(tlvs: &[NetDataTlv]) -> Vec<(u8, [u8; 16], u8, bool)> {
    let mut out = Vec::new();
    for t in tlvs {
        if let NetData::Prefix {
            prefix, sub_tlvs, ..
        } = &t.data
        {
            for s in sub_tlvs {
                if let NetData::Context {
                    compress,
                    context_id,
                    context_len,
                } = s.data
                {
                    let mut p = [0u8; 16];
                    let n = prefix.len().min(16);
                    p[..n].copy_from_slice(&prefix[..n]);
                    out.push((context_id, p, context_len.min(128), compress));
                }
            }
        }
    }
    out
}

/// The Mesh Local Prefix (8 octets) of an Operational Dataset (MeshCoP TLVs, §8.10.1; the
/// value of MLE's Active or Pending Dataset TLV), when it holds one. MeshCoP TLVs: Type,
/// Length (0xff: a 2-octet length follows, §8.10.1), Value.
pub fn mesh_local_prefix_of_dataset(b: &[u8]) -> Option<[u8; 8]> {
    let mut at = 0;
    while at + 2 <= b.len() {
        let (t, mut len, mut hdr) = (b[at], b[at + 1] as usize, 2);
        if len == 0xff {
            len = u16::from_be_bytes([*b.get(at + 2)?, *b.get(at + 3)?]) as usize;
            hdr = 4;
        }
        let v = b.get(at + hdr..at + hdr + len)?;
        if t == MESHCOP_MESH_LOCAL_PREFIX {
            return v.try_into().ok();
        }
        at += hdr + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_prefix_with_a_context_and_a_border_router() {
        // Prefix fd00:db8::/64, stable, with Border Router 0x4c00 (on mesh, default, SLAAC,
        // preferred) and 6LoWPAN Context 1 (compress, /64).
        let b = [
            0x03, 0x14, 0x00, 0x40, 0xfd, 0x00, 0x0d, 0xb8, 0, 0, 0, 0, // Prefix, stable
            0x05, 0x04, 0x4c, 0x00, 0x31, 0x00, // Border Router, stable
            0x07, 0x02, 0x11, 0x40, // Context, stable
        ];
        let t = parse_network_data(&b).unwrap();
        assert_eq!(t.len(), 1);
        assert!(t[0].stable);
        let NetData::Prefix {
            prefix_len,
            prefix,
            sub_tlvs,
            ..
        } = &t[0].data
        else {
            panic!("{t:?}")
        };
        assert_eq!((*prefix_len, prefix.len()), (64, 8));
        assert_eq!(
            sub_tlvs[0].data,
            NetData::BorderRouter(vec![BorderRouterEntry {
                rloc16: 0x4c00,
                flags: 0x3100
            }])
        );
        assert_eq!(
            sub_tlvs[1].data,
            NetData::Context {
                compress: true,
                context_id: 1,
                context_len: 64
            }
        );
        let c = contexts_of(&t);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].0, c[0].2, c[0].3), (1, 64, true));
        assert_eq!(&c[0].1[..4], &[0xfd, 0x00, 0x0d, 0xb8]);
        assert_eq!(emit_network_data(&t), b);
    }

    #[test]
    fn services_with_and_without_the_thread_enterprise_number() {
        let b = [
            0x0b, 0x08, 0x81, 0x01, 0x5c, 0x0d, 0x03, 0x4c, 0x00, 0xab, // T set: Server
            0x0a, 0x06, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, // T clear, no data
        ];
        let t = parse_network_data(&b).unwrap();
        let NetData::Service {
            service_id,
            enterprise_number,
            service_data,
            sub_tlvs,
        } = &t[0].data
        else {
            panic!("{t:?}")
        };
        assert_eq!((*service_id, *enterprise_number), (1, None));
        assert_eq!(service_data, &[0x5c]);
        assert_eq!(
            sub_tlvs[0].data,
            NetData::Server {
                rloc16: 0x4c00,
                data: vec![0xab]
            }
        );
        assert!(matches!(
            t[1].data,
            NetData::Service {
                enterprise_number: Some(256),
                ..
            }
        ));
        assert!(!t[1].stable);
        assert_eq!(emit_network_data(&t), b);
    }

    #[test]
    fn bad_lengths_are_errors_and_unknown_types_kept() {
        assert!(
            parse_network_data(&[0x00, 0x02, 1, 2]).is_err(),
            "Has Route"
        );
        assert!(parse_network_data(&[0x06, 0x01, 1]).is_err(), "Context");
        assert!(
            parse_network_data(&[0x02, 0x02, 0, 200]).is_err(),
            "prefix > 128"
        );
        assert!(parse_network_data(&[0x02, 0x05]).is_err(), "truncated");
        let t = parse_network_data(&[0x41, 0x01, 9]).unwrap();
        assert_eq!(
            t[0],
            NetDataTlv {
                stable: true,
                data: NetData::Unknown {
                    tlv_type: 0x20,
                    value: vec![9]
                }
            }
        );
    }

    #[test]
    fn mesh_local_prefix_from_a_dataset() {
        let ds = [
            0x00, 0x03, 0x00, 0x00, 0x0f, // Channel 15
            0x07, 0x08, 0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00, // Mesh Local Prefix
        ];
        assert_eq!(
            mesh_local_prefix_of_dataset(&ds),
            Some([0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00])
        );
        assert_eq!(mesh_local_prefix_of_dataset(&ds[..5]), None);
        assert_eq!(mesh_local_prefix_of_dataset(&ds[..10]), None, "cut short");
    }

    fn entry() -> impl Strategy<Value = NetData> {
        prop_oneof![
            proptest::collection::vec((any::<u16>(), any::<u8>()), 0..4).prop_map(|v| {
                NetData::HasRoute(
                    v.into_iter()
                        .map(|(rloc16, flags)| HasRouteEntry { rloc16, flags })
                        .collect(),
                )
            }),
            proptest::collection::vec((any::<u16>(), any::<u16>()), 0..4).prop_map(|v| {
                NetData::BorderRouter(
                    v.into_iter()
                        .map(|(rloc16, flags)| BorderRouterEntry { rloc16, flags })
                        .collect(),
                )
            }),
            (any::<bool>(), 0u8..16, any::<u8>()).prop_map(
                |(compress, context_id, context_len)| {
                    NetData::Context {
                        compress,
                        context_id,
                        context_len,
                    }
                }
            ),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(NetData::CommissioningData),
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..10))
                .prop_map(|(rloc16, data)| NetData::Server { rloc16, data }),
            (7u8..128, proptest::collection::vec(any::<u8>(), 0..10))
                .prop_map(|(tlv_type, value)| NetData::Unknown { tlv_type, value }),
        ]
    }

    fn tlv() -> impl Strategy<Value = NetDataTlv> {
        let leaf =
            || (any::<bool>(), entry()).prop_map(|(stable, data)| NetDataTlv { stable, data });
        let subs = || proptest::collection::vec(leaf(), 0..3);
        prop_oneof![
            leaf(),
            (any::<bool>(), any::<u8>(), 0u8..=128, subs()).prop_map(
                |(stable, domain_id, prefix_len, sub_tlvs)| NetDataTlv {
                    stable,
                    data: NetData::Prefix {
                        domain_id,
                        prefix_len,
                        prefix: vec![0xfd; (prefix_len as usize).div_ceil(8)],
                        sub_tlvs,
                    }
                }
            ),
            (
                any::<bool>(),
                0u8..16,
                proptest::option::of(any::<u32>()),
                proptest::collection::vec(any::<u8>(), 0..8),
                subs()
            )
                .prop_map(
                    |(stable, service_id, enterprise_number, service_data, sub_tlvs)| {
                        NetDataTlv {
                            stable,
                            data: NetData::Service {
                                service_id,
                                enterprise_number,
                                service_data,
                                sub_tlvs,
                            },
                        }
                    }
                ),
        ]
    }

    proptest! {
        #[test]
        fn network_data_round_trips(t in proptest::collection::vec(tlv(), 0..4)) {
            let b = emit_network_data(&t);
            prop_assert_eq!(parse_network_data(&b), Ok(t));
        }

        #[test]
        fn random_network_data_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            // Reserved flag bits are not kept, so only what parses re-parses the same.
            if let Ok(t) = parse_network_data(&b) {
                prop_assert_eq!(parse_network_data(&emit_network_data(&t)), Ok(t));
            }
            let _ = mesh_local_prefix_of_dataset(&b);
        }
    }
}
