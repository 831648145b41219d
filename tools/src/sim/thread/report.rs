//! `weft sim run --scenario thread-home`: the run, its NDJSON lines (the BLE scenarios'
//! family: `network` first, `truth` lines, then `t_us`-stamped events, a `summary` last) and
//! the summary: attach times, role changes, the routers' routes, readings and echo delivered.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use weft_mesh::thread::coap::CoapEvent;
use weft_mesh::thread::ip::addr::locator16;
use weft_mesh::thread::stack::{Event as NodeEvent, Role};
use weft_mesh::thread::wire::{link_margin, link_quality};
use weft_mesh::{Duration, Instant};
use weft_radio::sim::ieee802154::{Event, Medium, TxOutcome};
use weft_radio::sim::NodeId;

use super::pcap::Capture154;
use super::{
    build, home_layout, medium_config, network, Kind, Layout, SimEvent, Station, HOME_JITTER,
    THREAD_BUILTIN,
};
use crate::sim::{RunArgs, RunError, Summary};

/// How often end devices report (routers ping the leader every other interval).
pub(crate) const DATA_INTERVAL: Duration = Duration::from_secs(30);

fn io(e: std::io::Error) -> RunError {
    RunError::Io(e.to_string())
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// What the layout says: who hears which router-eligible node (and at what link quality), and
/// which one each end device should choose as parent once all are routers (the best link
/// quality, then margin, then the first in the layout).
fn truth(medium: &mut Medium<Station>, layout: &Layout) -> (Vec<Value>, Vec<Option<usize>>) {
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for (i, p) in layout.nodes.iter().enumerate() {
        let heard: Vec<(usize, i8)> = medium
            .neighbours(NodeId(i as u32))
            .into_iter()
            .map(|(n, l)| (n.index(), l.rssi_dbm))
            .filter(|(n, _)| layout.nodes[*n].kind == Kind::Router)
            .collect();
        let hears: Vec<Value> = heard
            .iter()
            .map(|&(n, rssi)| {
                json!({"router": layout.nodes[n].name, "rssi": rssi,
                    "link_quality": link_quality(link_margin(Some(rssi)))})
            })
            .collect();
        let mut line = json!({"type": "truth", "node": p.name, "role": p.kind.as_str(),
            "start_s": p.start.as_micros() as f64 / 1e6, "hears_routers": hears});
        if p.kind == Kind::Router {
            expected.push(None);
        } else {
            let best = heard.iter().max_by_key(|&&(n, rssi)| {
                let m = link_margin(Some(rssi));
                (link_quality(m), m, std::cmp::Reverse(n))
            });
            let parent = best.map(|&(n, _)| n);
            line["expected_parent"] = json!(parent.map(|n| layout.nodes[n].name.clone()));
            expected.push(parent);
        }
        lines.push(line);
    }
    (lines, expected)
}

/// What the run counted from the stations' events.
#[derive(Debug, Default)]
struct Tally {
    /// Node index → (parent RLOC16, own RLOC16, t_us) of its first attach as a child.
    attached: BTreeMap<usize, (u16, u16, u64)>,
    /// Node index → t_us of its first role beyond detached.
    first_role: BTreeMap<usize, u64>,
    role_changes: u64,
    data_sent: HashMap<(u16, u32), u64>,
    latencies: Vec<u64>,
    delivered: u64,
    pings: HashMap<(usize, u16), u64>,
    rtts: Vec<u64>,
    coap_timeouts: u64,
    mac_drops: BTreeMap<&'static str, u64>,
}

fn rloc_hex(r: Option<u16>) -> Value {
    json!(r.map(|a| format!("{a:04x}")))
}

/// One medium event as a report line (or none), counted into `t`.
fn line_of(
    ev: Event<SimEvent>,
    medium: &Medium<Station>,
    layout: &Layout,
    t: &mut Tally,
) -> Option<Value> {
    let name_of = |n: NodeId| {
        layout
            .nodes
            .get(n.index())
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    match ev {
        Event::Station { at, node, event } => {
            let us = at.as_micros();
            let here = name_of(node);
            let i = node.index();
            let s = medium.node(node);
            match event {
                SimEvent::Node(NodeEvent::RoleChanged {
                    role,
                    rloc16,
                    partition_id,
                }) => {
                    t.role_changes += 1;
                    if role != Role::Detached {
                        t.first_role.entry(i).or_insert(us);
                    }
                    let mut l = json!({"t_us": us, "type": "role", "node": here, "role": role.as_str(),
                        "rloc16": rloc_hex(rloc16), "partition_id": partition_id.map(|p| format!("{p:08x}"))});
                    if role == Role::Child
                        && layout.nodes[i].kind != Kind::Router
                        && !t.attached.contains_key(&i)
                    {
                        let parent = s.node().parent_rloc16().unwrap_or(0xfffe);
                        let start = layout.nodes[i].start.as_micros();
                        t.attached.insert(i, (parent, rloc16.unwrap_or(0xfffe), us));
                        l["parent"] = json!(format!("{parent:04x}"));
                        l["attach_ms"] = json!(us.saturating_sub(start) / 1000);
                        // The first attach, as its own line too (the line tests look for).
                        return Some(json!([
                            l,
                            json!({"t_us": us, "type": "attached", "node": here,
                            "parent": format!("{parent:04x}"), "rloc16": rloc_hex(rloc16),
                            "attach_ms": us.saturating_sub(start) / 1000})
                        ]));
                    }
                    Some(l)
                }
                SimEvent::Node(NodeEvent::ChildAdded { ext, rloc16 }) => Some(
                    json!({"t_us": us, "type": "child_added", "node": here, "child": hex(&ext.0), "rloc16": format!("{rloc16:04x}")}),
                ),
                SimEvent::Node(NodeEvent::ChildRemoved { ext, rloc16 }) => Some(
                    json!({"t_us": us, "type": "child_removed", "node": here, "child": hex(&ext.0), "rloc16": format!("{rloc16:04x}")}),
                ),
                SimEvent::DataSent { dst, seq } => {
                    let src = s.rloc16().unwrap_or(0xfffe);
                    t.data_sent.insert((src, seq), us);
                    Some(
                        json!({"t_us": us, "type": "sent", "node": here, "layer": "data", "protocol": "coap",
                        "src": format!("{src:04x}"), "dst": dst.to_string(), "seq": seq}),
                    )
                }
                SimEvent::DataReceived { src, seq } => {
                    let from = locator16(&src).unwrap_or(0xfffe);
                    let latency = t
                        .data_sent
                        .get(&(from, seq))
                        .map(|t0| us.saturating_sub(*t0));
                    if let Some(l) = latency {
                        t.delivered += 1;
                        t.latencies.push(l);
                    }
                    Some(
                        json!({"t_us": us, "type": "received", "node": here, "layer": "data", "protocol": "coap",
                        "src": format!("{from:04x}"), "seq": seq, "latency_us": latency}),
                    )
                }
                SimEvent::PingSent { dst, sequence } => {
                    t.pings.insert((i, sequence), us);
                    Some(
                        json!({"t_us": us, "type": "sent", "node": here, "layer": "icmp", "dst": dst.to_string(), "sequence": sequence}),
                    )
                }
                SimEvent::Node(NodeEvent::EchoReply { from, sequence, .. }) => {
                    let rtt = t.pings.get(&(i, sequence)).map(|t0| us.saturating_sub(*t0));
                    if let Some(r) = rtt {
                        t.rtts.push(r);
                    }
                    Some(
                        json!({"t_us": us, "type": "received", "node": here, "layer": "icmp", "from": from.to_string(),
                        "sequence": sequence, "rtt_us": rtt}),
                    )
                }
                // Reported for `weft hil` only.
                SimEvent::FrameSent { .. } => None,
                SimEvent::UdpEchoReply { from, .. } => Some(
                    json!({"t_us": us, "type": "received", "node": here, "layer": "udp", "from": from.to_string()}),
                ),
                SimEvent::Node(NodeEvent::Coap(CoapEvent::Timeout { .. })) => {
                    t.coap_timeouts += 1;
                    Some(
                        json!({"t_us": us, "type": "dropped", "node": here, "layer": "coap", "reason": "timeout"}),
                    )
                }
                SimEvent::Node(_) => None,
            }
        }
        Event::Drop {
            at,
            from,
            to,
            channel,
            reason,
        } => Some(
            json!({"t_us": at.as_micros(), "type": "dropped", "layer": "radio", "from": name_of(from),
                "to": name_of(to), "channel": channel, "reason": reason.as_str()}),
        ),
        Event::TxDone {
            at,
            node,
            outcome,
            retries,
        } => match outcome {
            TxOutcome::Sent | TxOutcome::Acked => None,
            o => {
                *t.mac_drops.entry(o.as_str()).or_default() += 1;
                Some(
                    json!({"t_us": at.as_micros(), "type": "dropped", "layer": "mac", "node": name_of(node),
                    "reason": o.as_str(), "retries": retries}),
                )
            }
        },
        Event::Tx { .. } | Event::Rx { .. } => None,
    }
}

/// Runs a built-in Thread scenario and writes its report.
pub fn run_thread(r: &RunArgs, out: &mut impl Write) -> Result<Summary, RunError> {
    let (name, _, _, default_s) = THREAD_BUILTIN
        .iter()
        .find(|(n, ..)| *n == r.scenario)
        .copied()
        .ok_or_else(|| RunError::Usage(format!("unknown Thread scenario '{}'", r.scenario)))?;
    if r.nodes.is_some() {
        return Err(RunError::Usage(format!(
            "--nodes: {name} has a fixed layout; leave --nodes out (it sizes the BLE grid scenario)"
        )));
    }
    let seconds = r.seconds.unwrap_or(default_s);
    if !(seconds > 0.0 && seconds <= 30.0 * 24.0 * 3600.0) {
        return Err(RunError::Usage(format!(
            "--seconds {seconds}: give a duration between 0 and 2592000"
        )));
    }
    let end = Instant::from_micros((seconds * 1e6) as u64);
    let layout = home_layout(r.seed);
    let creds = network(r.seed);
    let mut medium = build(
        &layout,
        &creds,
        medium_config(r.loss.unwrap_or(0.0), r.json),
        r.seed,
        DATA_INTERVAL,
        HOME_JITTER,
    );
    let capture = match &r.pcap {
        Some(path) => {
            let c = Arc::new(Mutex::new(Capture154::create(path).map_err(RunError::Io)?));
            let tap = Arc::clone(&c);
            medium.set_air_tap(move |f| {
                if let Ok(mut c) = tap.lock() {
                    c.write(f);
                }
            });
            Some(c)
        }
        None => None,
    };
    let (truth_lines, expected) = truth(&mut medium, &layout);
    if r.json {
        let nodes: Vec<Value> = medium
            .nodes()
            .map(|(id, s)| {
                let p = &layout.nodes[id.index()];
                json!({"name": p.name, "role": p.kind.as_str(),
                    "ext_address": hex(&s.ext_address().0), "rloc16": rloc_hex(s.rloc16()),
                    "position": [p.position.0, p.position.1], "start_s": p.start.as_micros() as f64 / 1e6})
            })
            .collect();
        let mut prefix = [0u8; 16];
        prefix[..8].copy_from_slice(&creds.mesh_local_prefix);
        let line = json!({"type": "network", "scenario": name, "seed": r.seed, "protocol": "thread",
            "network_key": hex(&creds.network_key), "pan_id": format!("{:04x}", creds.pan_id), "channel": creds.channel,
            "extended_pan_id": hex(&creds.extended_pan_id), "network_name": creds.network_name,
            "mesh_local_prefix": format!("{}/64", Ipv6Addr::from(prefix)), "nodes": nodes});
        writeln!(out, "{line}").map_err(io)?;
        for l in &truth_lines {
            writeln!(out, "{l}").map_err(io)?;
        }
    }

    let mut tally = Tally::default();
    let mut t = Instant::ZERO;
    let slice = Duration::from_millis(500);
    while t < end {
        t = (t + slice).min(end);
        medium.run_until(t);
        let events: Vec<_> = medium.drain_events().collect();
        for ev in events {
            let line = line_of(ev, &medium, &layout, &mut tally);
            if let (Some(l), true) = (line, r.json) {
                match l {
                    Value::Array(ls) => {
                        for l in ls {
                            writeln!(out, "{l}").map_err(io)?;
                        }
                    }
                    l => writeln!(out, "{l}").map_err(io)?,
                }
            }
        }
    }
    if let Some(c) = &capture {
        c.lock()
            .map_err(|_| RunError::Io("the capture writer failed".into()))?
            .finish()
            .map_err(RunError::Io)?;
    }
    let mut summary = summarize(&medium, &layout, &expected, &tally, name, r.seed, end);
    let st = *medium.stats();
    let pct = |v: &mut Vec<u64>, p: f64| -> Value {
        v.sort_unstable();
        if v.is_empty() {
            Value::Null
        } else {
            let i = ((v.len() as f64 - 1.0) * p).round() as usize;
            json!((v[i] as f64 / 100.0).round() / 10.0)
        }
    };
    summary["data"] = json!({"sent": tally.data_sent.len(), "delivered": tally.delivered,
        "latency_ms_p50": pct(&mut tally.latencies, 0.5), "latency_ms_p99": pct(&mut tally.latencies, 0.99),
        "coap_timeouts": tally.coap_timeouts});
    summary["echo"] = json!({"sent": tally.pings.len(), "replied": tally.rtts.len(),
        "rtt_ms_p50": pct(&mut tally.rtts, 0.5), "rtt_ms_p99": pct(&mut tally.rtts, 0.99)});
    summary["role_changes"] = json!(tally.role_changes);
    summary["mac"] = json!({"frames": st.frames_sent, "acks": st.acks_sent, "delivered": st.delivered, "filtered": st.filtered,
        "acked": st.acked, "no_ack": st.no_ack, "retries": st.retries, "ack_timeouts": st.ack_timeouts,
        "cca_busy": st.cca_busy, "channel_access_failures": st.channel_access_failures, "queue_full": st.queue_full,
        "acks_frame_pending": st.acks_frame_pending});
    let mut dropped = serde_json::Map::new();
    for (k, v) in [
        ("radio_loss", st.loss),
        ("radio_collision", st.collisions),
        ("radio_half_duplex", st.half_duplex),
        ("radio_below_sensitivity", st.below_sensitivity),
    ] {
        dropped.insert(k.into(), v.into());
    }
    for (k, v) in &tally.mac_drops {
        dropped.insert(format!("mac_{k}"), (*v).into());
    }
    summary["dropped"] = Value::Object(dropped);
    if r.json {
        writeln!(out, "{summary}").map_err(io)?;
    } else {
        print_summary(out, &summary).map_err(io)?;
    }
    Ok(Summary { json: summary })
}

/// The summary's attachment and routing parts: each end device's parent against the truth,
/// each router's role, neighbours and routes at the end.
fn summarize(
    medium: &Medium<Station>,
    layout: &Layout,
    expected: &[Option<usize>],
    t: &Tally,
    name: &str,
    seed: u64,
    end: Instant,
) -> Value {
    let by_rloc: HashMap<u16, String> = medium
        .nodes()
        .filter_map(|(id, s)| {
            s.rloc16()
                .map(|r| (r, layout.nodes[id.index()].name.clone()))
        })
        .collect();
    let router_name = |rid: u8| by_rloc.get(&(u16::from(rid) << 10)).cloned();
    let mut children = Vec::new();
    let mut routers = Vec::new();
    let mut as_expected = 0;
    let mut partitions: Vec<u32> = Vec::new();
    let mut leader = None;
    let mut attach_ms: Vec<u64> = Vec::new();
    for (id, s) in medium.nodes() {
        let i = id.index();
        let p = &layout.nodes[i];
        let n = s.node();
        if let Some(pt) = n.partition() {
            if !partitions.contains(&pt.id) {
                partitions.push(pt.id);
            }
        }
        if n.role() == Role::Leader {
            leader = Some(p.name.clone());
        }
        if p.kind == Kind::Router {
            let routes: Vec<Value> = n
                .routes()
                .into_iter()
                .map(|(rid, next, cost)| {
                    json!({"router_id": rid, "to": router_name(rid), "next_hop": router_name(next), "cost": cost})
                })
                .collect();
            let route64: Vec<Value> = n
                .routes()
                .into_iter()
                .map(|(rid, next, cost)| json!([rid, next, cost]))
                .collect();
            let neighbours: Vec<Value> = n
                .router_neighbours()
                .into_iter()
                .map(|rid| json!(router_name(rid)))
                .collect();
            routers.push(json!({"name": p.name, "role": n.role().as_str(), "rloc16": rloc_hex(n.rloc16()),
                "router_id": n.rloc16().filter(|_| matches!(n.role(), Role::Router | Role::Leader)).map(|r| r >> 10),
                "became_s": t.first_role.get(&i).map(|us| *us as f64 / 1e6),
                "children": n.children().len(), "neighbours": neighbours, "routes": routes, "route64": route64}));
        } else {
            let got = t.attached.get(&i);
            let want = expected[i].map(|n| layout.nodes[n].name.clone());
            let parent = n.parent_rloc16().and_then(|r| by_rloc.get(&r).cloned());
            as_expected += usize::from(parent.is_some() && parent == want);
            let ms = got.map(|(.., us)| us.saturating_sub(p.start.as_micros()) / 1000);
            attach_ms.extend(ms);
            children.push(
                json!({"name": p.name, "kind": p.kind.as_str(), "role": n.role().as_str(),
                "parent": parent, "expected_parent": want, "rloc16": rloc_hex(n.rloc16()),
                "attached_s": got.map(|(.., us)| *us as f64 / 1e6), "attach_ms": ms}),
            );
        }
    }
    attach_ms.sort_unstable();
    let n_children = children.len();
    json!({"type": "summary", "scenario": name, "seed": seed, "virtual_s": end.as_micros() as f64 / 1e6,
        "nodes": layout.nodes.len(), "leader": leader, "partitions": partitions.len(),
        "partition_id": (partitions.len() == 1).then(|| format!("{:08x}", partitions[0])),
        "routers": routers, "children": children,
        "attached": t.attached.len(), "children_total": n_children, "parent_as_expected": as_expected,
        "attach_ms_p50": attach_ms.get(attach_ms.len() / 2)})
}

fn print_summary(out: &mut impl Write, s: &Value) -> std::io::Result<()> {
    writeln!(
        out,
        "scenario {} (seed {}): {} nodes, {} virtual seconds, {} frames and {} acks on the air",
        s["scenario"].as_str().unwrap_or(""),
        s["seed"],
        s["nodes"],
        s["virtual_s"],
        s["mac"]["frames"],
        s["mac"]["acks"]
    )?;
    writeln!(
        out,
        "{} partition(s), leader {}; {} role changes",
        s["partitions"],
        s["leader"].as_str().unwrap_or("none"),
        s["role_changes"]
    )?;
    writeln!(
        out,
        "attached {} of {} end devices ({} to the expected parent; attach p50 {} ms); readings delivered {} of {} (p50 {} ms, p99 {} ms); echo {} of {} (rtt p50 {} ms)",
        s["attached"],
        s["children_total"],
        s["parent_as_expected"],
        s["attach_ms_p50"],
        s["data"]["delivered"],
        s["data"]["sent"],
        s["data"]["latency_ms_p50"],
        s["data"]["latency_ms_p99"],
        s["echo"]["replied"],
        s["echo"]["sent"],
        s["echo"]["rtt_ms_p50"],
    )?;
    writeln!(
        out,
        "\n{:<14} {:<7} {:<14} {:<14} {:>6} {:>9}",
        "END DEVICE", "KIND", "PARENT", "EXPECTED", "RLOC16", "ATTACH ms"
    )?;
    for c in s["children"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<14} {:<7} {:<14} {:<14} {:>6} {:>9}",
            c["name"].as_str().unwrap_or(""),
            c["kind"].as_str().unwrap_or(""),
            c["parent"].as_str().unwrap_or("-"),
            c["expected_parent"].as_str().unwrap_or("-"),
            c["rloc16"].as_str().unwrap_or("-"),
            c["attach_ms"].to_string()
        )?;
    }
    writeln!(
        out,
        "\n{:<14} {:<7} {:>6} {:>8}  NEIGHBOURS; ROUTES (to via cost)",
        "ROUTER", "ROLE", "RLOC16", "CHILDREN"
    )?;
    for r in s["routers"].as_array().into_iter().flatten() {
        let nb: Vec<&str> = r["neighbours"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| n.as_str().unwrap_or("?"))
            .collect();
        let routes: Vec<String> = r["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} via {} {}",
                    e["to"].as_str().unwrap_or("?"),
                    e["next_hop"].as_str().unwrap_or("?"),
                    e["cost"]
                )
            })
            .collect();
        writeln!(
            out,
            "{:<14} {:<7} {:>6} {:>8}  {}; {}",
            r["name"].as_str().unwrap_or(""),
            r["role"].as_str().unwrap_or(""),
            r["rloc16"].as_str().unwrap_or("-"),
            r["children"].to_string(),
            nb.join(" "),
            routes.join(", ")
        )?;
    }
    writeln!(out, "\ndropped:")?;
    for (k, v) in s["dropped"].as_object().into_iter().flatten() {
        writeln!(out, "  {k:<40} {v}")?;
    }
    Ok(())
}
