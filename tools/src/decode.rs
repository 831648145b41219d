//! `weft decode`: keys and hex from a sniffer in, decoded fields out (a table, or NDJSON with
//! `--json`).

use std::io::Write;

use serde_json::{json, Map, Value};
use weft_mesh::ble::sniff::{Credentials, Decoded, KeyUsed, Keyring, Sniffer};
use weft_mesh::ble::wire::access::opcode_name;
use weft_mesh::ble::wire::beacon::Beacon;
use weft_mesh::ble::wire::control::control_opcode_name;
use weft_mesh::ble::wire::pbadv::{BearerControl, GenericProvisioningPdu, PbAdvPdu};
use weft_mesh::ble::{Address, IvIndex};

use crate::{args, Exit};

/// Arguments of `weft decode`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  weft decode --iv-index 12345678 --net-key 7dd7364cd842ad18c17c2b820c84c3d6 \\\n      --app-key 63964771734fbd76e3b40519d1d94a48 6848cba437860e5673728a627fb938535508e21a6baf57\n  weft decode --json ... PDU1 PDU2   (segments given in order are reassembled)\n  weft decode --thread-key 00112233445566778899aabbccddeeff --pcap thread.pcapng --topology\n  weft decode --thread-key KEY --fcs --json PSDU1 PSDU2   (Thread: 802.15.4 PSDUs in hex)"
)]
pub struct DecodeArgs {
    /// The current IV Index, in hex. PDUs whose IVI bit differs are opened with IV Index - 1.
    #[arg(long, value_name = "HEX", value_parser = args::iv_index,
          required_unless_present = "thread_key")]
    pub iv_index: Option<u32>,
    /// A network key (32 hex digits). Repeat for several subnets.
    #[arg(long = "net-key", value_name = "HEX", value_parser = args::key128,
          required_unless_present = "thread_key")]
    pub net_keys: Vec<[u8; 16]>,
    /// An application key (32 hex digits). Repeat as needed.
    #[arg(long = "app-key", value_name = "HEX", value_parser = args::key128)]
    pub app_keys: Vec<[u8; 16]>,
    /// A device key and its node's unicast address, as ADDR=HEX. Repeat as needed.
    #[arg(long = "dev-key", value_name = "ADDR=HEX", value_parser = args::dev_key)]
    pub dev_keys: Vec<(Address, [u8; 16])>,
    /// A Label UUID of a virtual address (32 hex digits, dashes allowed). Repeat as needed.
    #[arg(long = "label", value_name = "UUID", value_parser = args::label_uuid)]
    pub labels: Vec<[u8; 16]>,
    /// Friendship credentials to try, as LPN:FRIEND:LPN_COUNTER:FRIEND_COUNTER (hex). Friend
    /// Request/Offer pairs among the inputs are learnt without this.
    #[arg(long = "friendship", value_name = "L:F:LC:FC", value_parser = args::friendship)]
    pub friendships: Vec<(Address, Address, u16, u16)>,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub thread: crate::decode_thread::ThreadArgs,
    /// PDUs in hex: network PDUs, beacons, or whole AD structures (length, type, data); with
    /// --thread-key, IEEE 802.15.4 PSDUs.
    #[arg(value_name = "PDU_HEX", required_unless_present = "pcap", value_parser = args::hex_bytes)]
    pub pdus: Vec<Vec<u8>>,
}

/// Runs `weft decode`, writing to `out`. Returns `Exit::Refused` if any input could not be
/// decoded (after printing everything that could).
pub fn run(a: &DecodeArgs, out: &mut impl Write) -> Exit {
    if a.thread.thread_key.is_some() {
        return crate::decode_thread::run(a, out);
    }
    if let Some(flag) = a.thread.thread_only_flag() {
        // clap waives `requires` when the required argument conflicts with one given (here
        // the Mesh keys), so this is checked here.
        eprintln!(
            "weft decode: {flag} is for Thread decoding: give --thread-key (Bluetooth Mesh \
             decoding takes PDUs in hex)"
        );
        return Exit::Usage;
    }
    let mut keys = Keyring::new();
    a.net_keys.iter().for_each(|k| keys.add_net_key(*k));
    a.app_keys.iter().for_each(|k| keys.add_app_key(*k));
    a.dev_keys
        .iter()
        .for_each(|(addr, k)| keys.add_dev_key(*addr, *k));
    a.labels.iter().for_each(|l| keys.add_label(*l));
    for (lpn, friend, lc, fc) in &a.friendships {
        keys.add_friendship(*lpn, *friend, *lc, *fc);
    }
    let mut sniffer = Sniffer::new(keys, IvIndex(a.iv_index.unwrap_or_default()));
    let mut failed = false;
    let mut table = Table::default();
    for pdu in &a.pdus {
        for d in sniffer.handle_any(pdu) {
            failed |= matches!(d, Decoded::Error { .. });
            if a.json {
                if let Some(v) = to_json(&d, pdu) {
                    if writeln!(out, "{v}").is_err() {
                        return Exit::Ok; // stdout closed (e.g. piped to head): stop quietly.
                    }
                }
            } else {
                table.add(&d, pdu);
            }
        }
    }
    for d in sniffer.finish() {
        failed = true;
        if a.json {
            if let Some(v) = to_json(&d, &[]) {
                let _ = writeln!(out, "{v}");
            }
        } else {
            table.add(&d, &[]);
        }
    }
    if !a.json {
        let _ = table.print(out);
    }
    if failed {
        Exit::Refused
    } else {
        Exit::Ok
    }
}

fn hex4(a: Address) -> String {
    format!("{:04x}", a.0)
}

/// The NDJSON object for one decoded item (the field names and formats are a contract:
/// lowercase hex without `0x`, addresses as 4 digits, sequence numbers as 6).
pub fn to_json(d: &Decoded, input: &[u8]) -> Option<Value> {
    Some(match d {
        Decoded::Network(n) => {
            let p = &n.pdu;
            let mut m = json!({
                "type": "network",
                "nid": p.nid,
                "ivi": p.ivi,
                "ctl": p.ctl,
                "ttl": p.ttl,
                "seq": p.seq.to_string(),
                "src": hex4(p.src),
                "dst": hex4(p.dst),
                "lower_transport_pdu": hex::encode(&p.transport_pdu),
                "net_mic": hex::encode(&n.net_mic),
                "iv_index": n.iv_index.to_string(),
                "net_key_index": n.net_key_index,
            });
            let obj = m.as_object_mut().expect("object");
            match n.credentials {
                Credentials::Flooding => {
                    obj.insert("credentials".into(), "flooding".into());
                }
                Credentials::Friendship { lpn, friend } => {
                    obj.insert("credentials".into(), "friendship".into());
                    obj.insert("lpn".into(), hex4(lpn).into());
                    obj.insert("friend".into(), hex4(friend).into());
                }
            }
            m
        }
        Decoded::Access(a) => {
            let mut m = Map::new();
            m.insert("type".into(), "access".into());
            m.insert("src".into(), hex4(a.src).into());
            m.insert("dst".into(), hex4(a.dst).into());
            m.insert("seq".into(), a.seq.to_string().into());
            match a.key {
                KeyUsed::App { index, aid } => {
                    m.insert("key".into(), "app".into());
                    m.insert("aid".into(), aid.into());
                    m.insert("app_key_index".into(), index.into());
                }
                KeyUsed::Dev { node } => {
                    m.insert("key".into(), "dev".into());
                    m.insert("dev_key_node".into(), hex4(node).into());
                }
            }
            m.insert("szmic".into(), u8::from(a.szmic).into());
            if let Some(l) = &a.label_uuid {
                m.insert("label_uuid".into(), hex::encode(l).into());
            }
            match &a.opcode {
                Some(op) => {
                    m.insert("opcode".into(), hex::encode(op.to_bytes()).into());
                    if let Some(name) = opcode_name(*op) {
                        m.insert("opcode_name".into(), name.into());
                    }
                }
                None => {
                    m.insert("opcode".into(), Value::Null);
                }
            }
            m.insert(
                "access_payload".into(),
                hex::encode(&a.access_payload).into(),
            );
            m.insert("segments".into(), a.segments.into());
            Value::Object(m)
        }
        Decoded::Control(c) => {
            let mut m = json!({
                "type": "control",
                "src": hex4(c.src),
                "dst": hex4(c.dst),
                "seq": c.seq.to_string(),
                "opcode": c.opcode,
                "parameters": hex::encode(&c.parameters),
            });
            let obj = m.as_object_mut().expect("object");
            obj.insert(
                "opcode_name".into(),
                control_opcode_name(c.opcode).unwrap_or("Unknown").into(),
            );
            obj.insert("segments".into(), c.segments.into());
            m
        }
        Decoded::Beacon(b) => beacon_json(b),
        Decoded::PbAdv(p) => pb_adv_json(p),
        Decoded::Provisioning {
            link_id,
            from_device,
            pdu,
        } => json!({
            "type": "provisioning",
            "link_id": format!("{link_id:08x}"),
            "from": if *from_device { "device" } else { "provisioner" },
            "pdu_type": pdu.pdu_type(),
            "name": pdu.name(),
            "parameters": hex::encode(pdu.parameters()),
        }),
        Decoded::SegmentPending { .. } => return None,
        Decoded::Error { error, .. } => json!({
            "type": "error",
            "input": hex::encode(input),
            "error": error,
        }),
    })
}

fn pb_adv_json(p: &PbAdvPdu) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "pb_adv".into());
    m.insert("link_id".into(), format!("{:08x}", p.link_id).into());
    m.insert("transaction_number".into(), p.transaction_number.into());
    match &p.gpdu {
        GenericProvisioningPdu::TransactionStart {
            seg_n,
            total_length,
            fcs,
            data,
        } => {
            m.insert("gpdu".into(), "transaction_start".into());
            m.insert("seg_n".into(), (*seg_n).into());
            m.insert("total_length".into(), (*total_length).into());
            m.insert("fcs".into(), format!("{fcs:02x}").into());
            m.insert("data".into(), hex::encode(data).into());
        }
        GenericProvisioningPdu::TransactionAck => {
            m.insert("gpdu".into(), "transaction_ack".into());
        }
        GenericProvisioningPdu::TransactionContinuation {
            segment_index,
            data,
        } => {
            m.insert("gpdu".into(), "transaction_continuation".into());
            m.insert("segment_index".into(), (*segment_index).into());
            m.insert("data".into(), hex::encode(data).into());
        }
        GenericProvisioningPdu::BearerControl(BearerControl::LinkOpen { device_uuid }) => {
            m.insert("gpdu".into(), "link_open".into());
            m.insert("uuid".into(), hex::encode(device_uuid).into());
        }
        GenericProvisioningPdu::BearerControl(BearerControl::LinkAck) => {
            m.insert("gpdu".into(), "link_ack".into());
        }
        GenericProvisioningPdu::BearerControl(BearerControl::LinkClose { reason }) => {
            m.insert("gpdu".into(), "link_close".into());
            m.insert("reason".into(), format!("{reason:?}").to_lowercase().into());
        }
    }
    Value::Object(m)
}

fn beacon_json(b: &weft_mesh::ble::sniff::BeaconInfo) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "beacon".into());
    let flags = |m: &mut Map<String, Value>, f: u8| {
        m.insert("flags".into(), f.into());
        m.insert("key_refresh".into(), (f & 1 != 0).into());
        m.insert("iv_update".into(), (f & 2 != 0).into());
    };
    match &b.beacon {
        Beacon::UnprovisionedDevice(u) => {
            m.insert("beacon".into(), "unprovisioned".into());
            m.insert("uuid".into(), hex::encode(u.device_uuid).into());
            m.insert(
                "oob_information".into(),
                format!("{:04x}", u.oob_information.0).into(),
            );
            if let Some(h) = u.uri_hash {
                m.insert("uri_hash".into(), hex::encode(h).into());
            }
        }
        Beacon::SecureNetwork(s) => {
            m.insert("beacon".into(), "secure_network".into());
            flags(&mut m, s.flags.0);
            m.insert("network_id".into(), hex::encode(s.network_id).into());
            m.insert("iv_index".into(), s.iv_index.to_string().into());
            m.insert(
                "authentication_value".into(),
                hex::encode(s.authentication_value).into(),
            );
            m.insert("authenticated".into(), b.net_key_index.is_some().into());
            if let Some(i) = b.net_key_index {
                m.insert("net_key_index".into(), i.into());
            }
        }
        Beacon::MeshPrivate(p) => {
            m.insert("beacon".into(), "private".into());
            m.insert("random".into(), hex::encode(p.random).into());
            m.insert(
                "obfuscated_private_beacon_data".into(),
                hex::encode(p.obfuscated_data).into(),
            );
            m.insert(
                "authentication_tag".into(),
                hex::encode(p.authentication_tag).into(),
            );
            m.insert("authenticated".into(), b.private.is_some().into());
            if let (Some((f, iv)), Some(i)) = (b.private, b.net_key_index) {
                flags(&mut m, f);
                m.insert("iv_index".into(), iv.to_string().into());
                m.insert("net_key_index".into(), i.into());
            }
        }
    }
    Value::Object(m)
}

/// The human-readable output: one row per decoded item, columns aligned.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    fn add(&mut self, d: &Decoded, input: &[u8]) {
        let row = match d {
            Decoded::Network(n) => {
                let p = &n.pdu;
                let creds = match n.credentials {
                    Credentials::Flooding => String::new(),
                    Credentials::Friendship { .. } => " friendship".into(),
                };
                [
                    "network".into(),
                    format!("{} -> {}", p.src, p.dst),
                    p.seq.to_string(),
                    format!("ttl {}", p.ttl),
                    format!(
                        "{} nid {:#04x} ivi {}{} iv {} transport {} mic {}",
                        if p.ctl { "control" } else { "access" },
                        p.nid,
                        p.ivi,
                        creds,
                        n.iv_index,
                        hex::encode(&p.transport_pdu),
                        hex::encode(&n.net_mic)
                    ),
                ]
            }
            Decoded::Access(a) => {
                let key = match a.key {
                    KeyUsed::App { aid, .. } => format!("app key (aid {aid:#04x})"),
                    KeyUsed::Dev { node } => format!("device key of {node}"),
                };
                let (op, name) = match &a.opcode {
                    Some(op) => (
                        op.to_string(),
                        opcode_name(*op).unwrap_or("unknown opcode").to_string(),
                    ),
                    None => ("-".into(), "malformed opcode".into()),
                };
                let segs = if a.segments > 1 {
                    format!(", {} segments", a.segments)
                } else {
                    String::new()
                };
                let label = a
                    .label_uuid
                    .map(|l| format!(", label {}", hex::encode(l)))
                    .unwrap_or_default();
                [
                    "  access".into(),
                    format!("{} -> {}", a.src, a.dst),
                    a.seq.to_string(),
                    op,
                    format!(
                        "{name} [{}] via {key}{segs}{label}",
                        hex::encode(&a.access_payload)
                    ),
                ]
            }
            Decoded::Control(c) => [
                "  control".into(),
                format!("{} -> {}", c.src, c.dst),
                c.seq.to_string(),
                format!("{:#04x}", c.opcode),
                format!(
                    "{} [{}]",
                    control_opcode_name(c.opcode).unwrap_or("Unknown"),
                    hex::encode(&c.parameters)
                ),
            ],
            Decoded::Beacon(b) => {
                let v = beacon_json(b);
                let kind = v["beacon"].as_str().unwrap_or("").to_string();
                let fields: Vec<String> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| *k != "type" && *k != "beacon")
                    .map(|(k, v)| {
                        format!(
                            "{k} {}",
                            v.as_str().map(str::to_string).unwrap_or(v.to_string())
                        )
                    })
                    .collect();
                [
                    "beacon".into(),
                    kind,
                    String::new(),
                    String::new(),
                    fields.join(", "),
                ]
            }
            Decoded::PbAdv(p) => {
                let v = pb_adv_json(p);
                let fields: Vec<String> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| !matches!(k.as_str(), "type" | "link_id" | "gpdu"))
                    .map(|(k, v)| {
                        format!(
                            "{k} {}",
                            v.as_str().map(str::to_string).unwrap_or(v.to_string())
                        )
                    })
                    .collect();
                [
                    "pb-adv".into(),
                    format!("link {:08x}", p.link_id),
                    String::new(),
                    v["gpdu"].as_str().unwrap_or("").into(),
                    fields.join(", "),
                ]
            }
            Decoded::Provisioning {
                link_id,
                from_device,
                pdu,
            } => [
                "  provisioning".into(),
                format!("link {link_id:08x}"),
                String::new(),
                if *from_device {
                    "device"
                } else {
                    "provisioner"
                }
                .into(),
                format!("{} [{}]", pdu.name(), hex::encode(pdu.parameters())),
            ],
            Decoded::SegmentPending {
                src,
                seq_zero,
                received,
                total,
            } => [
                "  segment".into(),
                format!("{src}"),
                String::new(),
                String::new(),
                format!("seq_zero {seq_zero:#06x}: {received} of {total} segments"),
            ],
            Decoded::Error { error, .. } => [
                "error".into(),
                String::new(),
                String::new(),
                String::new(),
                if input.is_empty() {
                    error.clone()
                } else {
                    format!("{error} ({})", hex::encode(input))
                },
            ],
        };
        self.rows.push(row);
    }

    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let header = ["TYPE", "SRC -> DST", "SEQ", "OP/TTL", "DETAILS"];
        let mut w = header.map(str::len);
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3]
            )
        };
        writeln!(out, "{}", line(header).trim_end())?;
        for r in &self.rows {
            writeln!(
                out,
                "{}",
                line([&r[0], &r[1], &r[2], &r[3], &r[4]]).trim_end()
            )?;
        }
        Ok(())
    }
}
