//! `weft sim run --scenario thread-home`: the run, its NDJSON lines (the BLE scenarios'
//! family: `network` first, `truth` lines, then `t_us`-stamped events, a `summary` last) and
//! the summary.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use weft_mesh::thread::mle::command;
use weft_mesh::thread::node::{link_margin, link_quality, ThreadEvent, ThreadStation};
use weft_mesh::{Duration, Instant};
use weft_radio::sim::ieee802154::{Event, Medium, TxOutcome};
use weft_radio::sim::NodeId;

use super::pcap::Capture154;
use super::{build, home_layout, medium_config, network, Layout, Station, THREAD_BUILTIN};
use crate::sim::{RunArgs, RunError, Summary};

/// How often children report to their parents.
pub(crate) const DATA_INTERVAL: Duration = Duration::from_secs(30);

fn io(e: std::io::Error) -> RunError {
    RunError::Io(e.to_string())
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// What the layout says should happen: who hears whom (and at what link quality), and which
/// router each child should choose (the best link quality, then margin, then the lower
/// RLOC16, as the child's selection).
fn truth(medium: &mut Medium<Station>, layout: &Layout) -> (Vec<Value>, Vec<Option<usize>>) {
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for (i, p) in layout.nodes.iter().enumerate() {
        let heard: Vec<(usize, i8)> = medium
            .neighbours(NodeId(i as u32))
            .into_iter()
            .map(|(n, l)| (n.index(), l.rssi_dbm))
            .filter(|(n, _)| layout.nodes[*n].router_id.is_some())
            .collect();
        // Links are symmetric here (one model, same power): what i hears of n is what n hears
        // of i.
        let hears: Vec<Value> = heard
            .iter()
            .map(|&(n, rssi)| {
                json!({"router": layout.nodes[n].name, "rssi": rssi,
                    "link_quality": link_quality(link_margin(Some(rssi)))})
            })
            .collect();
        match p.router_id {
            Some(id) => {
                lines.push(
                    json!({"type": "truth", "node": p.name, "role": "router", "router_id": id,
                    "rloc16": format!("{:04x}", u16::from(id) << 10), "hears_routers": hears}),
                );
                expected.push(None);
            }
            None => {
                let best = heard.iter().max_by_key(|&&(n, rssi)| {
                    let m = link_margin(Some(rssi));
                    let rloc = u16::from(layout.nodes[n].router_id.unwrap_or(0)) << 10;
                    (link_quality(m), m, std::cmp::Reverse(rloc))
                });
                let parent = best.map(|&(n, _)| n);
                lines.push(
                    json!({"type": "truth", "node": p.name, "role": "child", "hears_routers": hears,
                    "expected_parent": parent.map(|n| layout.nodes[n].name.clone())}),
                );
                expected.push(parent);
            }
        }
    }
    (lines, expected)
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
    let layout = home_layout();
    let net = network(&layout, r.seed);
    let mut medium = build(
        &layout,
        &net,
        medium_config(r.loss.unwrap_or(0.0), r.json),
        r.seed,
        DATA_INTERVAL,
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
    let names: Vec<String> = layout.nodes.iter().map(|p| p.name.clone()).collect();
    let (truth_lines, expected) = truth(&mut medium, &layout);
    if r.json {
        let nodes: Vec<Value> = medium
            .nodes()
            .map(|(id, s)| {
                let p = &layout.nodes[id.index()];
                json!({"name": p.name, "role": if p.router_id.is_some() {"router"} else {"child"},
                    "ext_address": hex(&s.ext_address().0), "rloc16": s.rloc16().map(|a| format!("{a:04x}")),
                    "position": [p.position.0, p.position.1]})
            })
            .collect();
        let line = json!({"type": "network", "scenario": name, "seed": r.seed, "protocol": "thread",
            "network_key": hex(&net.network_key), "pan_id": format!("{:04x}", net.pan_id), "channel": net.channel,
            "mesh_local_prefix": format!("{}/64", std::net::Ipv6Addr::from({let mut a=[0u8;16]; a[..8].copy_from_slice(&net.mesh_local_prefix); a})),
            "partition_id": format!("{:08x}", net.partition_id), "leader_router_id": net.leader_router_id(), "nodes": nodes});
        writeln!(out, "{line}").map_err(io)?;
        for l in &truth_lines {
            writeln!(out, "{l}").map_err(io)?;
        }
    }

    let mut attached: BTreeMap<usize, (u16, u16, u64)> = BTreeMap::new();
    let mut data_sent: HashMap<(u16, u16), u64> = HashMap::new();
    let mut latencies: Vec<u64> = Vec::new();
    let mut delivered = 0u64;
    let mut node_drops: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut mac_drops: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut mle_sent: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut t = Instant::ZERO;
    let slice = Duration::from_millis(500);
    while t < end {
        t = (t + slice).min(end);
        medium.run_until(t);
        let events: Vec<_> = medium.drain_events().collect();
        for ev in events {
            let name_of = |n: NodeId| names.get(n.index()).cloned().unwrap_or_default();
            let line = match ev {
                Event::Station { at, node, event } => {
                    let us = at.as_micros();
                    let here = name_of(node);
                    match event {
                        ThreadEvent::MleSent { command: c, to } => {
                            let cname = command::name(c).unwrap_or("unknown");
                            *mle_sent.entry(cname).or_default() += 1;
                            Some(
                                json!({"t_us": us, "type": "sent", "node": here, "layer": "mle", "command": cname, "dst": to.to_string()}),
                            )
                        }
                        ThreadEvent::MleReceived {
                            command: c,
                            from,
                            rssi,
                        } => Some(
                            json!({"t_us": us, "type": "received", "node": here, "layer": "mle",
                                "command": command::name(c).unwrap_or("unknown"), "from": hex(&from.0), "rssi": rssi}),
                        ),
                        ThreadEvent::Attached {
                            parent,
                            rloc16,
                            link_margin,
                        } => {
                            attached.insert(node.index(), (parent, rloc16, us));
                            Some(
                                json!({"t_us": us, "type": "attached", "node": here, "parent": format!("{parent:04x}"),
                                "rloc16": format!("{rloc16:04x}"), "link_margin": link_margin}),
                            )
                        }
                        ThreadEvent::AttachRetry { reason } => Some(
                            json!({"t_us": us, "type": "attach_retry", "node": here, "reason": reason}),
                        ),
                        ThreadEvent::ChildAdded { child, rloc16 } => Some(
                            json!({"t_us": us, "type": "child_added", "node": here, "child": hex(&child.0), "rloc16": format!("{rloc16:04x}")}),
                        ),
                        ThreadEvent::DataSent { dst, message_id } => {
                            let src = medium.node(node).rloc16().unwrap_or(0);
                            data_sent.insert((src, message_id), us);
                            Some(
                                json!({"t_us": us, "type": "sent", "node": here, "layer": "data",
                                "src": format!("{src:04x}"), "dst": format!("{dst:04x}"), "message_id": message_id}),
                            )
                        }
                        ThreadEvent::DataReceived {
                            src,
                            message_id,
                            rssi,
                        } => {
                            let latency = data_sent
                                .get(&(src, message_id))
                                .map(|t0| us.saturating_sub(*t0));
                            if let Some(l) = latency {
                                delivered += 1;
                                latencies.push(l);
                            }
                            Some(
                                json!({"t_us": us, "type": "received", "node": here, "layer": "data",
                                "src": format!("{src:04x}"), "message_id": message_id, "rssi": rssi, "latency_us": latency}),
                            )
                        }
                        ThreadEvent::Dropped { reason } => {
                            *node_drops.entry(reason).or_default() += 1;
                            Some(
                                json!({"t_us": us, "type": "dropped", "node": here, "layer": "node", "reason": reason}),
                            )
                        }
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
                        *mac_drops.entry(o.as_str()).or_default() += 1;
                        Some(
                            json!({"t_us": at.as_micros(), "type": "dropped", "layer": "mac", "node": name_of(node),
                            "reason": o.as_str(), "retries": retries}),
                        )
                    }
                },
                Event::Tx { .. } | Event::Rx { .. } => None,
            };
            if let (Some(l), true) = (line, r.json) {
                writeln!(out, "{l}").map_err(io)?;
            }
        }
    }
    if let Some(c) = &capture {
        c.lock()
            .map_err(|_| RunError::Io("the capture writer failed".into()))?
            .finish()
            .map_err(RunError::Io)?;
    }
    let summary = summarize(&medium, &layout, &expected, &attached, name, r.seed, end);
    let mut summary = summary;
    let st = *medium.stats();
    latencies.sort_unstable();
    let pct = |p: f64| -> Value {
        if latencies.is_empty() {
            Value::Null
        } else {
            let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            json!((latencies[i] as f64 / 100.0).round() / 10.0)
        }
    };
    summary["data"] = json!({"sent": data_sent.len(), "delivered": delivered,
        "latency_ms_p50": pct(0.5), "latency_ms_p99": pct(0.99)});
    summary["mle_sent"] = json!(mle_sent);
    summary["mac"] = json!({"frames": st.frames_sent, "acks": st.acks_sent, "delivered": st.delivered, "filtered": st.filtered,
        "acked": st.acked, "no_ack": st.no_ack, "retries": st.retries, "ack_timeouts": st.ack_timeouts,
        "cca_busy": st.cca_busy, "channel_access_failures": st.channel_access_failures, "queue_full": st.queue_full});
    let mut dropped = serde_json::Map::new();
    for (k, v) in [
        ("radio_loss", st.loss),
        ("radio_collision", st.collisions),
        ("radio_half_duplex", st.half_duplex),
        ("radio_below_sensitivity", st.below_sensitivity),
    ] {
        dropped.insert(k.into(), v.into());
    }
    for (k, v) in &mac_drops {
        dropped.insert(format!("mac_{k}"), (*v).into());
    }
    for (k, v) in &node_drops {
        dropped.insert((*k).to_string(), (*v).into());
    }
    summary["dropped"] = Value::Object(dropped);
    if r.json {
        writeln!(out, "{summary}").map_err(io)?;
    } else {
        print_summary(out, &summary).map_err(io)?;
    }
    Ok(Summary { json: summary })
}

/// The summary's attachment and routing parts: each child's parent against the truth, each
/// router's Route64 at the end.
fn summarize(
    medium: &Medium<Station>,
    layout: &Layout,
    expected: &[Option<usize>],
    attached: &BTreeMap<usize, (u16, u16, u64)>,
    name: &str,
    seed: u64,
    end: Instant,
) -> Value {
    let rloc_name: HashMap<u16, String> = layout
        .nodes
        .iter()
        .filter_map(|p| p.router_id.map(|id| (u16::from(id) << 10, p.name.clone())))
        .collect();
    let mut children = Vec::new();
    let mut routers = Vec::new();
    let mut as_expected = 0;
    for (id, s) in medium.nodes() {
        let p = &layout.nodes[id.index()];
        match s {
            ThreadStation::Child(_) => {
                let got = attached.get(&id.index());
                let want = expected[id.index()].map(|n| layout.nodes[n].name.clone());
                let parent = got.and_then(|(pr, ..)| rloc_name.get(pr).cloned());
                as_expected += usize::from(parent.is_some() && parent == want);
                children.push(
                    json!({"name": p.name, "parent": parent, "expected_parent": want,
                    "rloc16": got.map(|(_, r, _)| format!("{r:04x}")),
                    "attached_s": got.map(|(.., t)| *t as f64 / 1e6)}),
                );
            }
            ThreadStation::Router(rt) => {
                let route: Vec<Value> = rt
                    .route64()
                    .entries()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(rid, out, inq, cost)| json!([rid, out, inq, cost]))
                    .collect();
                routers.push(json!({"name": p.name, "router_id": rt.router_id(), "children": rt.children().len(),
                    "neighbours": rt.neighbours().len(), "route64": route}));
            }
        }
    }
    let n_children = children.len();
    json!({"type": "summary", "scenario": name, "seed": seed, "virtual_s": end.as_micros() as f64 / 1e6,
        "nodes": layout.nodes.len(), "routers": routers, "children": children,
        "attached": attached.len(), "children_total": n_children, "parent_as_expected": as_expected})
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
        "attached {} of {} children ({} to the expected parent); data delivered {} of {} (p50 {} ms, p99 {} ms)",
        s["attached"],
        s["children_total"],
        s["parent_as_expected"],
        s["data"]["delivered"],
        s["data"]["sent"],
        s["data"]["latency_ms_p50"],
        s["data"]["latency_ms_p99"]
    )?;
    writeln!(
        out,
        "\n{:<14} {:<14} {:<14} {:>8}",
        "CHILD", "PARENT", "EXPECTED", "RLOC16"
    )?;
    for c in s["children"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<14} {:<14} {:<14} {:>8}",
            c["name"].as_str().unwrap_or(""),
            c["parent"].as_str().unwrap_or("-"),
            c["expected_parent"].as_str().unwrap_or("-"),
            c["rloc16"].as_str().unwrap_or("-")
        )?;
    }
    writeln!(
        out,
        "\n{:<14} {:>4} {:>9} {:>11}  ROUTE64 (id out in cost)",
        "ROUTER", "ID", "CHILDREN", "NEIGHBOURS"
    )?;
    for r in s["routers"].as_array().into_iter().flatten() {
        let routes: Vec<String> = r["route64"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{}:{}{}{}", e[0], e[1], e[2], e[3]))
            .collect();
        writeln!(
            out,
            "{:<14} {:>4} {:>9} {:>11}  {}",
            r["name"].as_str().unwrap_or(""),
            r["router_id"].to_string(),
            r["children"].to_string(),
            r["neighbours"].to_string(),
            routes.join(" ")
        )?;
    }
    writeln!(out, "\ndropped:")?;
    for (k, v) in s["dropped"].as_object().into_iter().flatten() {
        writeln!(out, "  {k:<40} {v}")?;
    }
    Ok(())
}
