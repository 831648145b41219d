//! `weft sim run`: running a scenario in virtual time, with NDJSON lines for what happens and
//! a per-flow summary.

use super::*;

/// One delivery expected and whether and when it happened.
#[derive(Debug, Default, Clone)]
struct Flow {
    sent: u64,
    delivered: u64,
    latencies_us: Vec<u64>,
    hops: Vec<u8>,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    pub json: Value,
}

/// Runs a scenario and writes its report.
pub fn run_scenario(r: &RunArgs, out: &mut impl Write) -> Result<Summary, RunError> {
    let Built {
        mut sim,
        plan,
        keys,
        end,
        scenario: sc,
        ..
    } = build(r)?;
    // Addresses by node id; unprovisioned devices are 0000 until provisioned.
    let mut addrs: Vec<u16> = plan.iter().map(|p| p.address).collect();
    addrs.resize(sim.node_count(), 0);

    // Traffic: who sends what to whom, when.
    let Traffic { expected, sent } =
        schedule_traffic(&mut sim, &plan, &sc, r.seed, Instant::ZERO, end)?;
    let mut flows: BTreeMap<(u16, u16), Flow> = sent
        .into_iter()
        .map(|(k, sent)| {
            (
                k,
                Flow {
                    sent,
                    ..Flow::default()
                },
            )
        })
        .collect();

    let pcap: Option<Arc<Mutex<CaptureFile>>> = match &r.pcap {
        Some(path) => {
            let w = CaptureFile::create(path, weft_radio::Caps::ADVERTISING)
                .map_err(|e| RunError::Io(e.to_string()))?;
            Some(Arc::new(Mutex::new(w)))
        }
        None => None,
    };
    // The first failure of the capture file, reported at the end.
    let pcap_failed: Arc<Mutex<Option<String>>> = Arc::default();
    if let Some(w) = &pcap {
        let (w, failed) = (Arc::clone(w), Arc::clone(&pcap_failed));
        let addrs = addrs.clone();
        sim.set_air_tap(move |f| {
            let a = addrs.get(f.node.0 as usize).copied().unwrap_or(0);
            let written = match w.lock() {
                Ok(mut w) => {
                    w.write_adv(f.start, stand_in_adv_address(a), f.channel, None, f.bytes)
                }
                Err(_) => return,
            };
            if let Err(e @ CaptureError::File { .. }) = written {
                if let Ok(mut failed) = failed.lock() {
                    failed.get_or_insert(e.to_string());
                }
            }
        });
    }

    if r.json {
        let dev: serde_json::Map<String, Value> = keys
            .dev_keys
            .iter()
            .map(|(a, k)| (format!("{a:04x}"), Value::from(hex::encode(k))))
            .collect();
        let line = json!({
            "type": "network",
            "scenario": sc.name,
            "seed": r.seed,
            "iv_index": format!("{:08x}", keys.iv_index),
            "net_keys": [hex::encode(keys.net_key)],
            "app_keys": [hex::encode(keys.app_key)],
            "dev_keys": dev,
            "nodes": plan.iter().map(|p| json!({"name": p.name, "address": format!("{:04x}", p.address), "relay": p.relay})).collect::<Vec<_>>(),
        });
        writeln!(out, "{line}").map_err(|e| RunError::Io(e.to_string()))?;
    }

    // Proxy clients by node index, with the index of their proxy node. A delivery's bearer is
    // its last hop's: GATT at a client (it has no other), and at a proxy node for a message
    // from its own client (the connection carried it there); advertising otherwise.
    let clients: Vec<(usize, usize)> = plan
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let server = p.proxy_of.as_ref()?;
            Some((i, plan.iter().position(|q| &q.name == server)?))
        })
        .collect();
    let bearer_of = |n: usize, src: u16| -> &'static str {
        let gatt = clients
            .iter()
            .any(|&(c, s)| c == n || (s == n && plan[c].address == src));
        if gatt {
            "gatt"
        } else {
            "adv"
        }
    };
    let mut by_bearer = (0u64, 0u64);
    let mut messages_sent = 0u64;

    // Run in slices, draining events as we go.
    let mut sent_at: HashMap<(u16, u32), (u64, u8)> = HashMap::new();
    let mut seen: HashSet<(u16, u32, usize)> = HashSet::new();
    let mut node_drops: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut relayed = 0u64;
    let mut sar = (0u64, 0u64);
    let slice = Duration::from_millis(500);
    let mut t = Instant::ZERO;
    while t < end {
        t = (t + slice).min(end);
        sim.run_until(t);
        let events: Vec<_> = sim.drain_events().collect();
        for ev in events {
            let line = match ev {
                SimEvent::Station { at, node, event } => {
                    let n = node.0 as usize;
                    let here = format!("{:04x}", addrs.get(n).copied().unwrap_or(0));
                    let event = match event {
                        StationEvent::Node(e) => e,
                        StationEvent::Provisioner(e) => {
                            let line = provisioning_line(at, &here, &e);
                            if let (Some(l), true) = (line, r.json) {
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                        // `weft sim run` scenarios start their proxy clients connected.
                        StationEvent::Device(_) | StationEvent::ProxyFound(_) => continue,
                        StationEvent::Proxy(e) => {
                            if r.json {
                                let l = proxy_line(at, &here, &e);
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                        StationEvent::Config(e) => {
                            if r.json {
                                let l = config_line(at, &here, &e);
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                        StationEvent::Provisioned { uuid, address } => {
                            if let Some(a) = addrs.get_mut(n) {
                                *a = address;
                            }
                            if r.json {
                                let l = json!({"t_us": at.as_micros(), "type": "provisioned", "node": format!("{address:04x}"), "uuid": hex::encode(uuid), "address": format!("{address:04x}")});
                                writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                            }
                            continue;
                        }
                    };
                    match event {
                        Event::Sent { src, dst, seq, ctl, ttl } => {
                            if !ctl && sent_at.insert((src.0, seq.get()), (at.as_micros(), ttl)).is_none() {
                                messages_sent += 1;
                            }
                            Some(json!({"t_us": at.as_micros(), "type": "sent", "node": here, "src": hex4(src), "dst": hex4(dst), "seq": seq.to_string(), "ctl": ctl, "ttl": ttl}))
                        }
                        Event::Access { src, dst, seq, ttl, rssi, message, .. } => {
                            let mut hops = None;
                            let mut latency = None;
                            if let Some(&(t0, ttl0)) = sent_at.get(&(src.0, seq.get())) {
                                let h = ttl0.saturating_sub(ttl).saturating_add(1);
                                hops = Some(h);
                                latency = Some(at.as_micros().saturating_sub(t0));
                                let expected_here = expected.get(&(src.0, dst.0)).is_some_and(|v| v.contains(&n));
                                if expected_here && seen.insert((src.0, seq.get(), n)) {
                                    if bearer_of(n, src.0) == "gatt" {
                                        by_bearer.0 += 1;
                                    } else {
                                        by_bearer.1 += 1;
                                    }
                                    let f = flows.entry((src.0, dst.0)).or_default();
                                    f.delivered += 1;
                                    f.latencies_us.push(at.as_micros().saturating_sub(t0));
                                    f.hops.push(h);
                                }
                            }
                            Some(json!({"t_us": at.as_micros(), "type": "received", "node": here, "src": hex4(src), "dst": hex4(dst), "seq": seq.to_string(),
                                "opcode": hex::encode(message.opcode.to_bytes()), "opcode_name": message.name(), "ttl": ttl, "rssi": rssi, "hops": hops, "latency_us": latency,
                                "bearer": bearer_of(n, src.0)}))
                        }
                        Event::Relayed { src, dst, seq, ttl } => {
                            relayed += 1;
                            Some(json!({"t_us": at.as_micros(), "type": "relayed", "node": here, "src": hex4(src), "dst": hex4(dst), "seq": seq.to_string(), "ttl": ttl}))
                        }
                        Event::Sar { src, dst, seq_zero, segments, outcome } => {
                            if outcome.is_none() {
                                sar.0 += 1;
                            } else {
                                sar.1 += 1;
                            }
                            Some(json!({"t_us": at.as_micros(), "type": "sar", "node": here, "src": hex4(src), "dst": hex4(dst), "seq_zero": format!("{seq_zero:04x}"), "segments": segments,
                                "outcome": outcome.map_or("complete".to_string(), |e| format!("{e:?}").to_lowercase())}))
                        }
                        Event::Dropped { reason } => {
                            *node_drops.entry(reason.as_str()).or_default() += 1;
                            // Duplicates are every relayed copy heard again: counted, not listed.
                            (reason != weft_mesh::ble::node::DropReason::Duplicate)
                                .then(|| json!({"t_us": at.as_micros(), "type": "dropped", "node": here, "layer": "node", "reason": reason.as_str()}))
                        }
                        Event::Heartbeat { src, hops, features, .. } => Some(
                            json!({"t_us": at.as_micros(), "type": "heartbeat", "node": here, "src": hex4(src), "hops": hops, "features": features}),
                        ),
                        Event::IvIndex { iv_index, updating } => Some(
                            json!({"t_us": at.as_micros(), "type": "iv_index", "node": here, "iv_index": iv_index.to_string(), "updating": updating}),
                        ),
                        Event::KeyRefresh { net_index, phase } => Some(
                            json!({"t_us": at.as_micros(), "type": "key_refresh", "node": here, "net_index": net_index, "phase": phase.to_u8()}),
                        ),
                        Event::State { element, change } => {
                            let (k, v) = match change {
                                StateChange::OnOff(on) => ("onoff", json!(on)),
                                StateChange::Level(l) => ("level", json!(l)),
                                StateChange::Attention(a) => ("attention", json!(a)),
                                StateChange::OnOffTransition { present, target, remaining } => (
                                    "onoff_transition",
                                    json!({"present": present, "target": target, "remaining_us": remaining.as_micros()}),
                                ),
                                StateChange::LevelTransition { present, target, remaining } => (
                                    "level_transition",
                                    json!({"present": present, "target": target, "remaining_us": remaining.map(|r| r.as_micros())}),
                                ),
                            };
                            Some(json!({"t_us": at.as_micros(), "type": "state", "node": here, "element": element, k: v}))
                        }
                        Event::NodeReset => Some(json!({"t_us": at.as_micros(), "type": "node_reset", "node": here})),
                        // A proxy connection the node closes comes out as the radio's link event.
                        Event::Control { .. } | Event::PersistState | Event::ProxyDisconnect { .. } => None,
                    }
                }
                SimEvent::Drop { at, from, to, channel, reason } => (reason != RadioDrop::NotListening).then(|| {
                    json!({"t_us": at.as_micros(), "type": "dropped", "layer": "radio", "from": format!("{:04x}", addrs.get(from.0 as usize).copied().unwrap_or(0)),
                        "to": format!("{:04x}", addrs.get(to.0 as usize).copied().unwrap_or(0)), "channel": channel, "reason": radio_reason(reason)})
                }),
                SimEvent::Tx { .. } | SimEvent::Rx { .. } | SimEvent::Link { .. } => None,
            };
            if r.json {
                if let Some(l) = line {
                    writeln!(out, "{l}").map_err(|e| RunError::Io(e.to_string()))?;
                }
            }
        }
    }
    if let Some(w) = &pcap {
        if let Some(e) = pcap_failed.lock().ok().and_then(|mut f| f.take()) {
            return Err(RunError::Io(e));
        }
        w.lock()
            .map_err(|_| RunError::Io("the capture writer failed".into()))?
            .flush()
            .map_err(|e| RunError::Io(e.to_string()))?;
    }

    let st = sim.stats();
    let mut dropped = serde_json::Map::new();
    for reason in [
        RadioDrop::Loss,
        RadioDrop::Collision,
        RadioDrop::NotListening,
        RadioDrop::HalfDuplex,
        RadioDrop::BelowSensitivity,
    ] {
        dropped.insert(
            format!("radio_{}", radio_reason(reason)),
            st.dropped.get(reason).into(),
        );
    }
    for (k, v) in &node_drops {
        dropped.insert((*k).to_string(), (*v).into());
    }
    let mut total_sent = 0;
    let mut total_delivered = 0;
    let flows_json: Vec<Value> = flows
        .iter()
        .map(|((src, dst), f)| {
            total_sent += f.sent;
            total_delivered += f.delivered;
            let mut l = f.latencies_us.clone();
            l.sort_unstable();
            let pct = |p: f64| -> Value {
                if l.is_empty() {
                    Value::Null
                } else {
                    let i = ((l.len() as f64 - 1.0) * p).round() as usize;
                    json!((l[i] as f64 / 1000.0 * 10.0).round() / 10.0)
                }
            };
            let mut h = f.hops.clone();
            h.sort_unstable();
            json!({
                "src": format!("{src:04x}"),
                "dst": format!("{dst:04x}"),
                "sent": f.sent,
                "delivered": f.delivered,
                "latency_ms_p50": pct(0.5),
                "latency_ms_p99": pct(0.99),
                "hops": h.get(h.len() / 2).copied(),
            })
        })
        .collect();
    let summary = json!({
        "type": "summary",
        "scenario": sc.name,
        "seed": r.seed,
        "virtual_s": end.as_micros() as f64 / 1e6,
        "nodes": plan.len(),
        "sent": total_sent,
        "delivered": total_delivered,
        "messages_sent": messages_sent,
        "delivered_by_bearer": {"gatt": by_bearer.0, "adv": by_bearer.1},
        "gatt": {"connections": st.gatt.connected, "connect_failed": st.gatt.connect_failed, "link_lost": st.gatt.link_lost,
                 "values": st.gatt.values_delivered, "rejected_oversize": st.gatt.rejected_oversize},
        "flows": flows_json,
        "relayed": relayed,
        "sar": {"complete": sar.0, "failed": sar.1},
        "frames": st.frames_sent,
        "dropped": dropped,
    });
    if r.json {
        writeln!(out, "{summary}").map_err(|e| RunError::Io(e.to_string()))?;
    } else {
        print_summary(out, &summary).map_err(|e| RunError::Io(e.to_string()))?;
    }
    Ok(Summary { json: summary })
}

/// A Provisioner event as a `provisioning` line (MshPRT §5.4: beacon, link, capabilities,
/// start, complete or failed).
fn provisioning_line(at: Instant, here: &str, e: &ProvisionerEvent) -> Option<Value> {
    let (uuid, step, address, error) = match e {
        ProvisionerEvent::Beacon(b) => (b.device_uuid, "beacon", None, None),
        ProvisionerEvent::LinkOpened { device_uuid } => (*device_uuid, "link_opened", None, None),
        ProvisionerEvent::Session { device_uuid, event } => match event {
            SessionEvent::Capabilities(_) => (*device_uuid, "capabilities", None, None),
            SessionEvent::Started(_) => (*device_uuid, "started", None, None),
            SessionEvent::Complete(p) => (
                *device_uuid,
                "complete",
                Some(p.data.unicast_address.get()),
                None,
            ),
            SessionEvent::Failed(f) => (*device_uuid, "failed", None, Some(format!("{f:?}"))),
            _ => return None,
        },
        ProvisionerEvent::LinkClosed {
            device_uuid,
            reason,
            ..
        } => (
            *device_uuid,
            "link_closed",
            None,
            (*reason != weft_mesh::ble::wire::pbadv::LinkCloseReason::Success)
                .then(|| format!("{reason:?}").to_lowercase()),
        ),
    };
    let mut l = json!({"t_us": at.as_micros(), "type": "provisioning", "node": here, "uuid": hex::encode(uuid), "step": step});
    if let Some(a) = address {
        l["address"] = json!(format!("{a:04x}"));
    }
    if let Some(e) = error {
        l["error"] = json!(e);
    }
    Some(l)
}

/// A proxy client's connection as a `proxy` line: connected (with its ATT MTU), closed (with
/// why), refused, or the server's filter status (MshPRT §6.6.4).
fn proxy_line(at: Instant, here: &str, e: &ProxyClientEvent) -> Value {
    let mut l = json!({"t_us": at.as_micros(), "type": "proxy", "node": here});
    match e {
        ProxyClientEvent::Connected { conn, mtu } => {
            l["event"] = json!("connected");
            l["conn"] = json!(conn.0);
            l["mtu"] = json!(mtu);
        }
        ProxyClientEvent::Disconnected { conn, reason } => {
            l["event"] = json!("disconnected");
            l["conn"] = json!(conn.0);
            l["reason"] = json!(format!("{reason:?}").to_lowercase());
        }
        ProxyClientEvent::Disconnect { conn } => {
            l["event"] = json!("sar_timeout");
            l["conn"] = json!(conn.0);
        }
        ProxyClientEvent::ConnectFailed { .. } => l["event"] = json!("connect_failed"),
        ProxyClientEvent::FilterStatus {
            filter_type,
            list_size,
        } => {
            l["event"] = json!("filter_status");
            l["filter"] = json!(format!("{filter_type:?}").to_lowercase());
            l["list_size"] = json!(list_size);
        }
        ProxyClientEvent::Node(_) => {}
    }
    l
}

/// A line of `weft sim run --json` for the provisioner's configuration of a node: each answer
/// (`request`, `status`, `ok`), a failure (`error`), or the end (`step` `configured`).
fn config_line(at: Instant, here: &str, e: &ConfigClientEvent) -> Value {
    let mut l = json!({"t_us": at.as_micros(), "type": "config", "node": here});
    match e {
        ConfigClientEvent::Answered {
            node,
            request,
            status,
        } => {
            l["target"] = json!(format!("{:04x}", node.get()));
            l["step"] = json!("answered");
            l["request"] = json!(request.describe());
            l["status"] = json!(status.describe());
            l["ok"] = json!(status.status().is_none_or(|c| c.is_success()));
        }
        ConfigClientEvent::Failed {
            node,
            request,
            reason,
        } => {
            l["target"] = json!(format!("{:04x}", node.get()));
            l["step"] = json!("failed");
            l["request"] = json!(request.describe());
            l["error"] = json!(reason.to_string());
        }
        ConfigClientEvent::Done { node } => {
            l["target"] = json!(format!("{:04x}", node.get()));
            l["step"] = json!("configured");
        }
    }
    l
}

fn hex4(a: Address) -> String {
    format!("{:04x}", a.0)
}

fn radio_reason(r: RadioDrop) -> &'static str {
    match r {
        RadioDrop::Loss => "loss",
        RadioDrop::Collision => "collision",
        RadioDrop::NotListening => "not_listening",
        RadioDrop::HalfDuplex => "half_duplex",
        RadioDrop::BelowSensitivity => "below_sensitivity",
    }
}

fn print_summary(out: &mut impl Write, s: &Value) -> std::io::Result<()> {
    writeln!(
        out,
        "scenario {} (seed {}): {} nodes, {} virtual seconds, {} frames on the air",
        s["scenario"].as_str().unwrap_or(""),
        s["seed"],
        s["nodes"],
        s["virtual_s"],
        s["frames"]
    )?;
    writeln!(
        out,
        "delivered {} of {} expected receptions; {} relays; segmented messages: {} complete, {} failed",
        s["delivered"], s["sent"], s["relayed"], s["sar"]["complete"], s["sar"]["failed"]
    )?;
    writeln!(
        out,
        "\n{:<6} {:<6} {:>6} {:>9} {:>8} {:>8} {:>5}",
        "SRC", "DST", "SENT", "DELIVERED", "P50 ms", "P99 ms", "HOPS"
    )?;
    for f in s["flows"].as_array().into_iter().flatten() {
        let num = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.1}"));
        writeln!(
            out,
            "{:<6} {:<6} {:>6} {:>9} {:>8} {:>8} {:>5}",
            f["src"].as_str().unwrap_or(""),
            f["dst"].as_str().unwrap_or(""),
            f["sent"].to_string(),
            f["delivered"].to_string(),
            num(&f["latency_ms_p50"]),
            num(&f["latency_ms_p99"]),
            f["hops"].as_u64().map_or("-".into(), |h| h.to_string())
        )?;
    }
    writeln!(out, "\ndropped:")?;
    for (k, v) in s["dropped"].as_object().into_iter().flatten() {
        writeln!(out, "  {k:<22} {v}")?;
    }
    Ok(())
}
