//! `weft decode --thread-key`: IEEE 802.15.4 PSDUs (hex, or a capture with link type 195, 230
//! or 283) through the core's whole-frame Thread decoder (`weft_mesh::thread::sniff`), one
//! line per frame (an aligned table, or NDJSON with `--json`), and with `--topology` what the
//! frames say about the network (`weft_mesh::thread::topology`) as a last line.

use std::io::Write;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use serde_json::{json, Map, Value};
use weft_mesh::thread::lowpan::Context;
use weft_mesh::thread::security::KeyManager;
use weft_mesh::thread::sniff::{DecodedFrame, Fcs, ThreadSniffer};
use weft_mesh::thread::topology::{ThreadTopology, TopologyReport};
use weft_mesh::Instant;
use weft_radio::ieee802154_tap::{self as tap, TapInfo};
use weft_radio::pcap::{
    PcapReader, LINKTYPE_IEEE802_15_4_NOFCS, LINKTYPE_IEEE802_15_4_TAP,
    LINKTYPE_IEEE802_15_4_WITHFCS,
};

use crate::decode::DecodeArgs;
use crate::files::{self, Kind};
use crate::{args, Exit};

/// The Thread half of `weft decode`'s arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ThreadArgs {
    /// Decode Thread instead of Bluetooth Mesh: the network key (32 hex digits). The inputs
    /// are then IEEE 802.15.4 PSDUs in hex, or --pcap.
    #[arg(long, value_name = "HEX", value_parser = args::key128,
          conflicts_with_all = ["iv_index", "net_keys", "app_keys", "dev_keys", "labels", "friendships"])]
    pub thread_key: Option<[u8; 16]>,
    /// The key sequence to start from (Thread 1.3 §7.1.2): frames of the one before and after
    /// open too, and a newer one that authenticates is followed.
    #[arg(long, value_name = "N", requires = "thread_key")]
    pub key_sequence: Option<u32>,
    /// A capture to decode instead of hex: pcapng or pcap, link types 195 (802.15.4 with FCS),
    /// 230 (without FCS) or 283 (802.15.4 TAP).
    #[arg(
        long,
        value_name = "FILE",
        requires = "thread_key",
        conflicts_with = "pdus"
    )]
    pub pcap: Option<PathBuf>,
    /// The hex PSDUs end with their 2-octet FCS (it is checked); without this they have none.
    #[arg(long, requires = "thread_key", conflicts_with = "pcap")]
    pub fcs: bool,
    /// The mesh-local prefix (6LoWPAN context 0, a /64), e.g. fdde:ad00:beef:0::. Without it,
    /// addresses compressed against it show a zero prefix.
    #[arg(long, value_name = "PREFIX", requires = "thread_key", value_parser = mesh_local_prefix)]
    pub mesh_local_prefix: Option<Ipv6Addr>,
    /// After the frames, the routers, their links, the children, the partition and its leader
    /// learnt from them (with --json, a last line {"type":"topology",...}).
    #[arg(long, requires = "thread_key")]
    pub topology: bool,
}

impl ThreadArgs {
    /// The first Thread-only option given, for the error when --thread-key is missing.
    pub fn thread_only_flag(&self) -> Option<&'static str> {
        [
            (self.key_sequence.is_some(), "--key-sequence"),
            (self.pcap.is_some(), "--pcap"),
            (self.fcs, "--fcs"),
            (self.mesh_local_prefix.is_some(), "--mesh-local-prefix"),
            (self.topology, "--topology"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

/// An IPv6 prefix as an address (`fdde:ad00:beef:0::`), an optional `/64` allowed.
pub(crate) fn mesh_local_prefix(s: &str) -> Result<Ipv6Addr, String> {
    let a = s.strip_suffix("/64").unwrap_or(s);
    a.parse().map_err(|_| {
        format!("{s:?} is not an IPv6 prefix: give the mesh-local /64 as an address, e.g. fdde:ad00:beef:0::")
    })
}

/// A capture file given to --pcap. 802.15.4 frames are at most 127 octets; 256 MiB holds
/// about two million of them with their blocks, more than a day of a busy channel.
pub const CAPTURE: Kind = Kind {
    what: "capture file",
    limit: 256 * 1024 * 1024,
    fix: "give --pcap a pcapng or pcap file of IEEE 802.15.4 frames (link type 195, 230 or 283)",
};

/// One input frame: its PSDU, whether it has an FCS, and what the capture said about it.
struct Input {
    psdu: Vec<u8>,
    fcs: Fcs,
    at: Instant,
    tap: Option<TapInfo>,
    /// Why the capture's packet is not a PSDU this decoder takes.
    refused: Option<String>,
}

/// The inputs: the hex PSDUs, or the capture's packets (all read before decoding, so a
/// capture that is not one is a usage error before anything is printed; a capture cut short
/// keeps the packets before the cut and ends with an error).
fn inputs(a: &DecodeArgs) -> Result<(Vec<Input>, Option<String>), (Exit, String)> {
    let fcs = if a.thread.fcs {
        Fcs::Present
    } else {
        Fcs::Absent
    };
    let Some(path) = &a.thread.pcap else {
        let v = a
            .pdus
            .iter()
            .map(|p| Input {
                psdu: p.clone(),
                fcs,
                at: Instant::ZERO,
                tap: None,
                refused: None,
            })
            .collect();
        return Ok((v, None));
    };
    let bytes = files::read(path, CAPTURE).map_err(|e| (e.exit(), e.to_string()))?;
    let mut r = PcapReader::new(bytes.as_slice()).map_err(|e| {
        (
            Exit::Usage,
            format!("{}: {e}: {}", path.display(), CAPTURE.fix),
        )
    })?;
    let mut v = Vec::new();
    loop {
        match r.next_packet() {
            Ok(None) => return Ok((v, None)),
            Ok(Some(p)) => v.push(packet(p.link_type, p.timestamp, p.data)),
            Err(e) => return Ok((v, Some(format!("{}: {e}", path.display())))),
        }
    }
}

fn packet(link_type: u16, at: Instant, data: Vec<u8>) -> Input {
    let mut i = Input {
        psdu: Vec::new(),
        fcs: Fcs::Absent,
        at,
        tap: None,
        refused: None,
    };
    match link_type {
        LINKTYPE_IEEE802_15_4_WITHFCS => {
            i.psdu = data;
            i.fcs = Fcs::Present;
        }
        LINKTYPE_IEEE802_15_4_NOFCS => i.psdu = data,
        LINKTYPE_IEEE802_15_4_TAP => match tap::parse(&data) {
            Ok((info, psdu)) => {
                i.psdu = psdu.to_vec();
                i.tap = Some(info);
                match info.fcs_type {
                    tap::FCS_NONE => {}
                    tap::FCS_16 => i.fcs = Fcs::Present,
                    t => {
                        i.refused = Some(format!(
                            "FCS type {t} (a 32-bit FCS, SUN PHYs) is not checked by this decoder"
                        ))
                    }
                }
            }
            Err(e) => {
                i.psdu = data;
                i.refused = Some(e.to_string());
            }
        },
        t => {
            i.psdu = data;
            i.refused = Some(format!(
                "link type {t} is not IEEE 802.15.4 (195, 230 or 283)"
            ));
        }
    }
    i
}

/// Runs `weft decode --thread-key`.
pub fn run(a: &DecodeArgs, out: &mut impl Write) -> Exit {
    let Some(key) = a.thread.thread_key else {
        return Exit::Usage;
    };
    let (inputs, cut) = match inputs(a) {
        Ok(v) => v,
        Err((exit, msg)) => {
            eprintln!("weft decode: {msg}");
            return exit;
        }
    };
    let mut sniffer = ThreadSniffer::new(KeyManager::new(key, a.thread.key_sequence.unwrap_or(0)));
    if let Some(p) = a.thread.mesh_local_prefix {
        sniffer.set_context(0, Context::new(p, 64));
    }
    let mut topo = ThreadTopology::new();
    let mut failed = false;
    let mut rows = Vec::new();
    for (n, i) in inputs.iter().enumerate() {
        let index = n + 1;
        let d = match &i.refused {
            Some(why) => {
                failed = true;
                let line = json!({
                    "type": "frame", "index": index,
                    "error": {"layer": "capture", "kind": "unsupported", "reason": why},
                });
                if a.json {
                    if writeln!(out, "{line}").is_err() {
                        return Exit::Ok;
                    }
                } else {
                    rows.push(row_refused(index, why));
                }
                continue;
            }
            None => sniffer.decode(i.at, &i.psdu, i.fcs),
        };
        failed |= !d.is_ok();
        topo.observe(i.at, &d);
        if a.json {
            if writeln!(out, "{}", frame_json(index, i, &d)).is_err() {
                return Exit::Ok; // stdout closed (piped to head): stop quietly.
            }
        } else {
            rows.push(row(index, i, &d));
        }
    }
    if let Some(why) = &cut {
        failed = true;
        if a.json {
            let _ = writeln!(
                out,
                "{}",
                json!({"type": "error", "error": {"layer": "capture", "kind": "truncated", "reason": why}})
            );
        } else {
            rows.push([
                "-".into(),
                "error".into(),
                String::new(),
                String::new(),
                why.clone(),
            ]);
        }
    }
    if !a.json {
        let _ = print_table(out, &rows);
    }
    if a.thread.topology {
        let r = topo.report();
        let _ = if a.json {
            writeln!(out, "{}", serde_json::to_string(&r).unwrap_or_default())
        } else {
            print_topology(out, &r)
        };
    }
    tracing::info!(stats = ?sniffer.stats(), reassembly = ?sniffer.reassembly_stats(), "thread decode");
    if failed {
        Exit::Refused
    } else {
        Exit::Ok
    }
}

/// The NDJSON object of one frame: `type`, `index`, the capture's metadata, then the
/// decoder's report (`mac`, `security`, `lowpan`, `ipv6`, `udp`, `icmpv6`, `mle`, `error`).
fn frame_json(index: usize, i: &Input, d: &DecodedFrame) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "frame".into());
    m.insert("index".into(), index.into());
    if i.at != Instant::ZERO {
        m.insert("timestamp_us".into(), i.at.as_micros().into());
    }
    if let Some(t) = &i.tap {
        if let Some((ch, page)) = t.channel {
            m.insert("channel".into(), ch.into());
            m.insert("page".into(), page.into());
        }
        if let Some(r) = t.rssi {
            m.insert("rssi".into(), json!(r));
        }
        if let Some(l) = t.lqi {
            m.insert("lqi".into(), l.into());
        }
    }
    if let Value::Object(o) = serde_json::to_value(d).unwrap_or_default() {
        for (k, v) in o {
            if !v.is_null() {
                m.insert(k, v);
            }
        }
    }
    Value::Object(m)
}

type Row = [String; 5];

fn row_refused(index: usize, why: &str) -> Row {
    [
        index.to_string(),
        "error".into(),
        String::new(),
        String::new(),
        format!("capture: {why}"),
    ]
}

/// One table row: #, FRAME, SRC -> DST, SEQ, DETAILS.
fn row(index: usize, i: &Input, d: &DecodedFrame) -> Row {
    let mut kind = String::new();
    let mut addrs = String::new();
    let mut seq = "-".to_string();
    if let Some(m) = &d.mac {
        kind = m.frame_type.to_string();
        addrs = format!(
            "{} -> {}",
            m.src.as_deref().unwrap_or("-"),
            m.dst.as_deref().unwrap_or("-")
        );
        if let Some(s) = m.seq {
            seq = s.to_string();
        }
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = &i.tap {
        let mut p = Vec::new();
        if let Some((ch, _)) = t.channel {
            p.push(format!("ch {ch}"));
        }
        if let Some(r) = t.rssi {
            p.push(format!("rssi {r}"));
        }
        if let Some(l) = t.lqi {
            p.push(format!("lqi {l}"));
        }
        if !p.is_empty() {
            parts.push(p.join(" "));
        }
    }
    if let Some(m) = &d.mac {
        if let Some(p) = &m.dst_pan {
            parts.push(format!("pan {p}"));
        }
    }
    if let Some(s) = &d.security {
        kind.push_str(&format!(" sec{}", s.level));
        let idx = s.key_index.map(|k| format!(" idx {k}")).unwrap_or_default();
        let fc = s
            .frame_counter
            .map(|f| format!(" fc {f}"))
            .unwrap_or_default();
        parts.push(match s.key_sequence {
            Some(k) if s.decrypted => format!("opened key seq {k}{idx}{fc}"),
            _ => format!("secured{idx}{fc}"),
        });
    }
    if let Some(l) = &d.lowpan {
        if let Some(m) = &l.mesh {
            parts.push(format!(
                "mesh {} -> {} hops {}",
                m.originator.as_deref().unwrap_or("-"),
                m.final_destination.as_deref().unwrap_or("-"),
                m.hops_left
            ));
        }
        if let Some(f) = &l.fragment {
            parts.push(format!(
                "frag tag {:04x} {}+ of {}{}",
                f.tag,
                f.offset,
                f.size,
                if f.complete { " complete" } else { "" }
            ));
        }
        if l.unknown_context {
            parts.push("unknown context".into());
        }
    }
    if let Some(ip) = &d.ipv6 {
        parts.push(format!("{} -> {} hlim {}", ip.src, ip.dst, ip.hop_limit));
    }
    if let Some(u) = &d.udp {
        let mut s = format!("udp {} -> {}", u.src_port, u.dst_port);
        if let Some(p) = &u.payload {
            s.push_str(&format!(" [{p}]"));
        }
        parts.push(s);
    }
    if let Some(c) = &d.icmpv6 {
        parts.push(format!("icmpv6 type {} code {}", c.icmp_type, c.code));
    }
    if let Some(m) = &d.mle {
        let tlvs: Vec<String> = m.tlvs.iter().map(|t| t.summary()).collect();
        parts.push(format!("mle {}: {}", m.command_name, tlvs.join(" ")));
    }
    if let Some(p) = &d.mac_payload {
        parts.push(format!("payload {p}"));
    }
    if let Some(e) = &d.error {
        if kind.is_empty() {
            kind = "error".into();
        }
        parts.push(format!("ERROR {e}"));
    }
    [index.to_string(), kind, addrs, seq, parts.join("; ")]
}

fn print_table(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    let header = ["#", "FRAME", "SRC -> DST", "SEQ", "DETAILS"];
    let mut w = header.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |c: [&str; 5]| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    writeln!(out, "{}", line(header).trim_end())?;
    for r in rows {
        writeln!(
            out,
            "{}",
            line([&r[0], &r[1], &r[2], &r[3], &r[4]]).trim_end()
        )?;
    }
    Ok(())
}

fn print_topology(out: &mut impl Write, r: &TopologyReport) -> std::io::Result<()> {
    writeln!(
        out,
        "\ntopology: partition {}, leader router {}",
        r.partition_id.as_deref().unwrap_or("?"),
        r.leader_router_id
            .map_or_else(|| "?".to_string(), |l| l.to_string())
    )?;
    for x in &r.routers {
        let links: Vec<String> = x
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} (lq in {} out {}, cost {})",
                    l.router_id, l.lq_in, l.lq_out, l.cost
                )
            })
            .collect();
        writeln!(
            out,
            "  router {:>2}  {}  {:<16}{}  links: {}",
            x.router_id,
            x.rloc16,
            x.ext_addr.as_deref().unwrap_or("-"),
            if x.leader { "  leader" } else { "" },
            if links.is_empty() {
                "-".to_string()
            } else {
                links.join(", ")
            }
        )?;
    }
    for c in &r.children {
        writeln!(
            out,
            "  child      {}  {:<16}  parent router {}",
            c.rloc16,
            c.ext_addr.as_deref().unwrap_or("-"),
            c.parent_router_id
        )?;
    }
    Ok(())
}
