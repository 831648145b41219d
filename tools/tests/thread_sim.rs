//! `weft sim run --scenario thread-home`: every child attaches through the whole MLE exchange,
//! to the best parent it heard (the layout's expected one unless a collision hid it; with seed
//! 1, every one as the layout says), its data reaches that parent, a seed replays a run exactly,
//! and every frame in the capture reads back with weft-mesh's Thread decoders (FCS → MAC
//! parse → MAC unsecure → 6LoWPAN decompress → MLE open), and tshark decodes and decrypts it
//! without a malformed packet.

#[path = "../../radio/tests/support/tshark.rs"]
mod support;
use support::{num, run_tshark, tshark, PI_WARN};

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use serde_json::Value;
use weft_mesh::thread::lowpan::{decompress, Context, Contexts, LinkAddresses, LowpanFrame};
use weft_mesh::thread::mac::{Address, Body, ExtAddress, Frame, FrameType};
use weft_mesh::thread::mle::{self, command, MleMessage, Tlv};
use weft_mesh::thread::security::KeyManager;
use weft_mesh::Wire;
use weft_radio::pcap::read_all_packets;

fn run(name: &str, args: &[&str]) -> (String, Vec<Value>, PathBuf) {
    let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("thread-{name}.pcapng"));
    let out = assert_cmd::Command::cargo_bin("weft")
        .unwrap()
        .args([
            "sim",
            "run",
            "--scenario",
            "thread-home",
            "--json",
            "--pcap",
        ])
        .arg(&pcap)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (text, lines, pcap)
}

fn of<'a>(lines: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lines.iter().filter(move |l| l["type"] == kind)
}

fn network_key(lines: &[Value]) -> [u8; 16] {
    let k = hex::decode(lines[0]["network_key"].as_str().unwrap()).unwrap();
    k.try_into().unwrap()
}

fn contexts(lines: &[Value]) -> Contexts {
    let p = lines[0]["mesh_local_prefix"].as_str().unwrap();
    let prefix: Ipv6Addr = p.trim_end_matches("/64").parse().unwrap();
    Contexts::new().with(0, Context::new(prefix, 64))
}

fn names_of<'a>(l: &'a Value, key: &str) -> Vec<&'a str> {
    l[key]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().or_else(|| v["router"].as_str()))
        .collect()
}

#[test]
fn the_nodes_form_one_partition_and_every_end_device_attaches_and_reports() {
    for seed in ["1", "2", "3"] {
        let (_, lines, _) = run(&format!("attach-{seed}"), &["--seed", seed]);
        assert_eq!(lines[0]["type"], "network");
        let summary = lines.last().unwrap();
        assert_eq!(summary["type"], "summary");
        // One partition, led by the living room (it powers up 8 s before the others).
        assert_eq!(summary["partitions"], 1, "seed {seed}: {summary}");
        assert_eq!(summary["leader"], "living-room", "seed {seed}");
        let routers = summary["routers"].as_array().unwrap();
        assert_eq!(routers.len(), 5);
        for r in routers {
            let want = if r["name"] == "living-room" {
                "leader"
            } else {
                "router"
            };
            assert_eq!(r["role"], want, "seed {seed}: {r}");
            // Its role change is in the report.
            assert!(
                of(&lines, "role").any(|l| l["node"] == r["name"] && l["role"] == want),
                "seed {seed}: {r}"
            );
        }
        assert_eq!(summary["children_total"], 10);
        assert_eq!(summary["attached"], 10, "seed {seed}: {summary}");
        assert_eq!(of(&lines, "attached").count(), 10, "seed {seed}");
        // Each end device's parent is a router it hears; the layout's best one with seed 1.
        let hears: BTreeMap<&str, Vec<&str>> = of(&lines, "truth")
            .map(|t| (t["node"].as_str().unwrap(), names_of(t, "hears_routers")))
            .collect();
        let mut as_truth = 0;
        for c in summary["children"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let parent = c["parent"].as_str().unwrap_or_else(|| panic!("{c}"));
            assert!(hears[name].contains(&parent), "seed {seed}: {c}");
            as_truth += usize::from(c["parent"] == c["expected_parent"]);
            // OpenThread's MLE timing puts an attach at about one to three seconds.
            let ms = c["attach_ms"].as_u64().unwrap();
            assert!((500..5000).contains(&ms), "seed {seed}: {c}");
        }
        assert_eq!(summary["parent_as_expected"], as_truth);
        if seed == "1" {
            assert_eq!(
                as_truth, 10,
                "seed 1 attaches every child as the layout says"
            );
        }
        // Routers took the end devices (and the REEDs that attached first) as children.
        assert!(of(&lines, "child_added").count() >= 10, "seed {seed}");
        // Readings: every 30 s from each end device once attached (about 25 s in); the
        // sleepy sensor's through its parent's indirect queue (acks with Frame Pending).
        let (sent, delivered) = (
            summary["data"]["sent"].as_u64().unwrap(),
            summary["data"]["delivered"].as_u64().unwrap(),
        );
        assert!(sent >= 70, "seed {seed}: {sent}");
        assert!(
            delivered * 100 >= sent * 95,
            "seed {seed}: {delivered} of {sent}"
        );
        let sleepy = c_rloc(summary, "smoke-kitchen");
        let from_sleepy = of(&lines, "received")
            .filter(|l| l["layer"] == "data" && l["src"] == sleepy && l["node"] == "living-room")
            .count();
        assert!(
            from_sleepy >= 7,
            "seed {seed}: {from_sleepy} readings of the sleepy sensor"
        );
        assert!(summary["mac"]["acks_frame_pending"].as_u64().unwrap() > 0);
        // Routers ping the leader every minute.
        let (pings, replies) = (
            summary["echo"]["sent"].as_u64().unwrap(),
            summary["echo"]["replied"].as_u64().unwrap(),
        );
        assert!(
            pings >= 12 && replies * 100 >= pings * 95,
            "seed {seed}: {replies} of {pings}"
        );
        // Garage and living room do not hear each other, yet each routes to the other
        // through a router between them.
        assert!(!hears["living-room"].contains(&"garage"));
        for (a, b) in [("living-room", "garage"), ("garage", "living-room")] {
            let r = routers.iter().find(|r| r["name"] == a).unwrap();
            let route = r["routes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["to"] == b)
                .unwrap_or_else(|| panic!("seed {seed}: {r}"));
            let via = route["next_hop"].as_str().unwrap();
            assert!(via != b && hears[a].contains(&via), "seed {seed}: {r}");
            assert!(route["cost"].as_u64().unwrap() >= 2, "seed {seed}: {r}");
        }
    }
}

fn c_rloc(summary: &Value, name: &str) -> String {
    summary["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["rloc16"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn one_seed_replays_the_run_and_another_differs() {
    let (a, ..) = run("replay-a", &["--seed", "7", "--seconds", "60"]);
    let (b, ..) = run("replay-b", &["--seed", "7", "--seconds", "60"]);
    let (c, ..) = run("replay-c", &["--seed", "8", "--seconds", "60"]);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn the_capture_reads_back_with_the_thread_decoders() {
    let (_, lines, pcap) = run("decode", &["--seconds", "120"]);
    let mut keys = KeyManager::new(network_key(&lines), 0);
    let ctx = contexts(&lines);
    let packets = read_all_packets(&std::fs::read(&pcap).unwrap()).unwrap();
    assert!(packets.len() > 100);
    let mut commands: BTreeMap<u8, usize> = BTreeMap::new();
    let mut udp_ports: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut acks, mut polls, mut echo, mut forwarded, mut later_fragments) = (0, 0, 0, 0, 0);
    let mut short_src = 0;
    let exts: Vec<ExtAddress> = lines[0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let b = hex::decode(n["ext_address"].as_str().unwrap()).unwrap();
            ExtAddress(b.try_into().unwrap())
        })
        .collect();
    for p in &packets {
        assert_eq!(p.link_type, 283);
        let (info, mac) = weft_radio::ieee802154_tap::parse_frame(&p.data).expect("FCS right");
        assert_eq!(info.channel, Some((15, 0)), "the scenario's channel");
        let f = Frame::parse(mac).unwrap();
        if f.frame_type == FrameType::Ack {
            acks += 1;
            continue;
        }
        // An attached node sends from its RLOC16: the nonce takes its extended address, the
        // one of the network's nodes under which the MIC checks.
        let open = match (f.src, f.security.is_some()) {
            (_, false) => f,
            (Address::Extended(src), true) => keys.unsecure_mac(&f, src).unwrap().frame,
            (Address::Short(_), true) => {
                short_src += 1;
                exts.iter()
                    .find_map(|e| keys.unsecure_mac(&f, *e).ok())
                    .unwrap_or_else(|| panic!("no node's address opens {f:?}"))
                    .frame
            }
            _ => panic!("{f:?}"),
        };
        if open.frame_type == FrameType::MacCommand {
            // Data Requests of the sleepy sensor (and of end devices while attaching).
            polls += 1;
            continue;
        }
        let Body::Open { payload, .. } = &open.body else {
            panic!()
        };
        let lp = LowpanFrame::parse(payload).unwrap();
        if lp.frag.is_some_and(|fr| fr.offset.is_some()) {
            later_fragments += 1;
            continue;
        }
        // A forwarded frame's IPv6 addresses come from the mesh header's (RFC 4944 §5.2).
        let ll = match &lp.mesh {
            Some(m) => {
                forwarded += 1;
                LinkAddresses {
                    src: m.originator,
                    dst: m.final_destination,
                }
            }
            None => LinkAddresses {
                src: open.src,
                dst: open.dst,
            },
        };
        let ip = decompress(&lp.rest, &ll, &ctx).unwrap();
        let (s, d): ([u8; 16], [u8; 16]) = (
            ip[8..24].try_into().unwrap(),
            ip[24..40].try_into().unwrap(),
        );
        if ip[6] == 58 {
            // ICMPv6 echo request or reply (RFC 4443 §4).
            assert!(matches!(ip[40], 128 | 129), "ICMPv6 type {}", ip[40]);
            assert!(open.security.is_some());
            echo += 1;
            continue;
        }
        assert_eq!(ip[6], 17, "UDP");
        let dport = u16::from_be_bytes([ip[42], ip[43]]);
        *udp_ports.entry(dport).or_default() += 1;
        if open.security.is_some() {
            // Readings and TMF are CoAP; UDP echo (port 7) appears only when asked.
            assert!(matches!(dport, 5683 | 61631), "port {dport}");
            if lp.frag.is_none() {
                assert_eq!(ip[48] >> 6, 1, "CoAP version 1");
            }
            continue;
        }
        assert_eq!(dport, mle::MLE_PORT);
        if lp.frag.is_some() {
            continue;
        }
        let msg = MleMessage::parse(&ip[48..]).unwrap();
        let opened = mle::open(&msg, &mut keys, &s.into(), &d.into()).unwrap();
        *commands.entry(opened.payload.command).or_default() += 1;
        if opened.payload.command == command::CHILD_ID_RESPONSE {
            assert!(opened
                .payload
                .tlvs
                .iter()
                .any(|t| matches!(t, Tlv::Address16(a) if a & 0x3ff != 0)));
        }
    }
    assert!(
        acks > 0 && polls > 0 && echo > 0,
        "{acks} acks, {polls} polls, {echo} echo"
    );
    assert!(forwarded > 0, "multi-hop frames carry a mesh header");
    // Ten end devices, and the four routers that attached as children before they asked
    // for a Router ID.
    let cid = commands
        .get(&command::CHILD_ID_RESPONSE)
        .copied()
        .unwrap_or(0);
    assert!(
        (14..=20).contains(&cid),
        "{cid} Child ID Responses: {commands:?}"
    );
    assert!(commands[&command::ADVERTISEMENT] > 20, "{commands:?}");
    assert!(commands[&command::PARENT_REQUEST] >= 14, "{commands:?}");
    assert!(
        commands
            .get(&command::LINK_REQUEST)
            .is_some_and(|n| *n >= 4),
        "{commands:?}"
    );
    // Address Solicit and its responses (TMF), readings (CoAP).
    assert!(
        udp_ports.get(&61631).is_some_and(|n| *n >= 8),
        "{udp_ports:?}"
    );
    assert!(
        udp_ports.get(&5683).is_some_and(|n| *n >= 20),
        "{udp_ports:?}"
    );
    let _ = later_fragments;
    assert!(short_src > 0, "attached nodes send from their RLOC16");
}

#[test]
fn tshark_decodes_and_decrypts_the_capture() {
    let Some(bin) = tshark() else { return };
    let (_, lines, pcap) = run("tshark", &["--seconds", "120"]);
    let key = hex::encode(network_key(&lines));
    let prefix = lines[0]["mesh_local_prefix"].as_str().unwrap();
    let prefs = vec![
        format!("uat:ieee802154_keys:\"{key}\",\"1\",\"Thread hash\""),
        format!("6lowpan.context0:{prefix}"),
    ];
    let fields = [
        "frame.number",
        "wpan.frame_type",
        "wpan.fcs_ok",
        "mle.cmd",
        "coap.code",
        "icmpv6.type",
        "udp.dstport",
        "icmpv6.echo.identifier",
        "icmpv6.echo.sequence_number",
        "icmpv6.resp_in",
        "wpan.cmd",
        "_ws.malformed",
        "_ws.expert.severity",
        "_ws.expert.message",
    ];
    let frames = run_tshark(&bin, &pcap, &prefs, &fields);
    assert!(frames.len() > 100);
    let (mut mle, mut post, mut coap, mut echo, mut polls, mut tmf) = (0, 0, 0, 0, 0, 0);
    for f in &frames {
        let n = &f["frame.number"];
        assert_eq!(f["wpan.fcs_ok"], "1", "frame {n}: FCS");
        assert!(f["_ws.malformed"].is_empty(), "frame {n}: malformed");
        for sev in f["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
        {
            if num(sev) >= PI_WARN && forwarded_echo_request(&frames, f) {
                // The first hop of a forwarded echo request: tshark pairs the reply with the
                // request's last hop, the same datagram again.
                continue;
            }
            assert!(
                num(sev) < PI_WARN,
                "frame {n}: expert info {sev}: {}",
                f["_ws.expert.message"]
            );
        }
        match num(&f["wpan.frame_type"]) {
            2 => {}
            3 => {
                // MAC command: the Data Request (802.15.4-2015 §7.5.5, command 0x04).
                assert_eq!(num(&f["wpan.cmd"]), 4, "frame {n}: command");
                polls += 1;
            }
            1 => {
                if !f["mle.cmd"].is_empty() {
                    mle += 1;
                } else if !f["icmpv6.type"].is_empty() {
                    assert!(
                        matches!(num(&f["icmpv6.type"]), 128 | 129),
                        "frame {n}: ICMPv6 {}",
                        f["icmpv6.type"]
                    );
                    echo += 1;
                } else if !f["coap.code"].is_empty() {
                    // Requests are POSTs (readings, Address Solicit, ...); responses 2.04
                    // Changed (68) for readings, 2.04 for Address Solicit too.
                    let code = num(&f["coap.code"]);
                    assert!(matches!(code, 2 | 68), "frame {n}: CoAP code {code}");
                    post += usize::from(code == 2);
                    coap += 1;
                } else {
                    // TMF (Address Solicit and its response): CoAP on port 61631, which
                    // tshark leaves undecoded without a decode-as rule.
                    assert_eq!(f["udp.dstport"], "61631", "frame {n}: {f:?}");
                    tmf += 1;
                }
            }
            t => panic!("frame {n}: frame type {t}"),
        }
    }
    assert!(
        mle > 30 && post > 10 && coap > post && echo > 0 && polls > 0 && tmf >= 8,
        "{mle} MLE, {post} POST of {coap} CoAP, {tmf} TMF, {echo} echo, {polls} polls"
    );
}

/// Whether `f` is an echo request whose reply tshark paired with a later frame carrying the
/// same request (identifier and sequence) on its next hop.
fn forwarded_echo_request(frames: &[support::Frame], f: &support::Frame) -> bool {
    let n = num(&f["frame.number"]);
    f["_ws.expert.message"].starts_with("No response seen to ICMPv6 request")
        && f["icmpv6.type"] == "128"
        && frames.iter().any(|g| {
            num(&g["frame.number"]) > n
                && g["icmpv6.type"] == "128"
                && g["icmpv6.echo.identifier"] == f["icmpv6.echo.identifier"]
                && g["icmpv6.echo.sequence_number"] == f["icmpv6.echo.sequence_number"]
                && !g["icmpv6.resp_in"].is_empty()
        })
}

#[test]
fn thread_home_is_listed_and_refuses_nodes() {
    let out = assert_cmd::Command::cargo_bin("weft")
        .unwrap()
        .args(["sim", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("thread-home"));
    let out = assert_cmd::Command::cargo_bin("weft")
        .unwrap()
        .args(["sim", "run", "--scenario", "thread-home", "--nodes", "20"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixed layout"));
}
