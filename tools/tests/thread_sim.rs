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
use weft_mesh::thread::mac::{Address, Body, Frame, FrameType};
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

#[test]
fn every_child_attaches_to_the_best_parent_it_heard_and_reports_to_it() {
    for seed in ["1", "2", "3"] {
        let (_, lines, _) = run(&format!("attach-{seed}"), &["--seed", seed]);
        assert_eq!(lines[0]["type"], "network");
        let summary = lines.last().unwrap();
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["children_total"], 10);
        assert_eq!(summary["attached"], 10, "seed {seed}: {summary}");
        // Each child's truth line names the parent the summary reports.
        let truth: BTreeMap<&str, &str> = of(&lines, "truth")
            .filter(|t| t["role"] == "child")
            .map(|t| {
                (
                    t["node"].as_str().unwrap(),
                    t["expected_parent"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(truth.len(), 10);
        // Each child chose the best of the Parent Responses it heard in its last attach
        // attempt (link quality, then margin, then the lower RLOC16); that is the layout's
        // expected parent unless a collision took the expected one's response away.
        let nodes = lines[0]["nodes"].as_array().unwrap();
        let by_ext: BTreeMap<&str, (&str, u16)> = nodes
            .iter()
            .filter(|n| n["role"] == "router")
            .map(|n| {
                let rloc = u16::from_str_radix(n["rloc16"].as_str().unwrap(), 16).unwrap();
                (
                    n["ext_address"].as_str().unwrap(),
                    (n["name"].as_str().unwrap(), rloc),
                )
            })
            .collect();
        let mut as_truth = 0;
        for c in summary["children"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let mine = |l: &&Value| l["node"] == name;
            let attached_at = of(&lines, "attached").find(mine).unwrap()["t_us"]
                .as_u64()
                .unwrap();
            let asked = of(&lines, "sent")
                .filter(mine)
                .filter(|l| l["command"] == "parent request")
                .map(|l| l["t_us"].as_u64().unwrap())
                .filter(|&t| t < attached_at)
                .max()
                .unwrap();
            let best = of(&lines, "received")
                .filter(mine)
                .filter(|l| l["command"] == "parent response")
                .filter(|l| (asked..attached_at).contains(&l["t_us"].as_u64().unwrap()))
                .map(|l| {
                    let (router, rloc) = by_ext[l["from"].as_str().unwrap()];
                    let margin = (l["rssi"].as_i64().unwrap() + 100).max(0) as u8;
                    let lq = match margin {
                        m if m > 20 => 3,
                        m if m > 10 => 2,
                        m if m > 2 => 1,
                        _ => 0,
                    };
                    ((lq, margin, std::cmp::Reverse(rloc)), router)
                })
                .max()
                .unwrap()
                .1;
            assert_eq!(c["parent"].as_str(), Some(best), "seed {seed}: {c}");
            as_truth += usize::from(c["parent"].as_str() == Some(truth[name]));
        }
        assert_eq!(summary["parent_as_expected"], as_truth);
        if seed == "1" {
            assert_eq!(
                as_truth, 10,
                "seed 1 attaches every child as the layout says"
            );
        }
        // The four MLE steps, once per child at least.
        for cmd in [
            "parent request",
            "parent response",
            "child id request",
            "child id response",
        ] {
            let n = of(&lines, "sent")
                .filter(|l| l["layer"] == "mle" && l["command"] == cmd)
                .count();
            assert!(n >= 10, "seed {seed}: {n} {cmd}");
        }
        assert_eq!(of(&lines, "child_added").count(), 10);
        // Data: sent every 30 s for 300 s by 10 children; the MAC retries through the few
        // collisions.
        let (sent, delivered) = (
            summary["data"]["sent"].as_u64().unwrap(),
            summary["data"]["delivered"].as_u64().unwrap(),
        );
        assert!(sent >= 80, "seed {seed}: {sent}");
        assert!(
            delivered * 100 >= sent * 95,
            "seed {seed}: {delivered} of {sent}"
        );
        // Routers saw each other: garage and living room do not hear each other directly,
        // yet each has a route to the other through the kitchen.
        let routers = summary["routers"].as_array().unwrap();
        let lr = routers.iter().find(|r| r["name"] == "living-room").unwrap();
        let to_garage = lr["route64"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e[0] == 17)
            .unwrap();
        assert_eq!(
            (to_garage[1].as_u64(), to_garage[2].as_u64()),
            (Some(0), Some(0))
        );
        assert!(to_garage[3].as_u64().unwrap() >= 2, "{lr}");
    }
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
    let (mut acks, mut data) = (0, 0);
    for p in &packets {
        assert_eq!(p.link_type, 283);
        let (info, mac) = weft_radio::ieee802154_tap::parse_frame(&p.data).expect("FCS right");
        assert_eq!(info.channel, Some((15, 0)), "the scenario's channel");
        let f = Frame::parse(mac).unwrap();
        if f.frame_type == FrameType::Ack {
            acks += 1;
            continue;
        }
        let Address::Extended(src) = f.src else {
            panic!("{f:?}")
        };
        let open = if f.security.is_some() {
            keys.unsecure_mac(&f, src).unwrap().frame
        } else {
            f
        };
        let Body::Open { payload, .. } = &open.body else {
            panic!()
        };
        let lp = LowpanFrame::parse(payload).unwrap();
        let ll = LinkAddresses {
            src: open.src,
            dst: open.dst,
        };
        let ip = decompress(&lp.rest, &ll, &ctx).unwrap();
        let (s, d): ([u8; 16], [u8; 16]) = (
            ip[8..24].try_into().unwrap(),
            ip[24..40].try_into().unwrap(),
        );
        let dport = u16::from_be_bytes([ip[42], ip[43]]);
        if open.security.is_some() {
            assert_eq!(dport, 5683, "MAC-secured frames carry CoAP");
            assert_eq!(ip[48] >> 6, 1, "CoAP version 1");
            data += 1;
            continue;
        }
        assert_eq!(dport, mle::MLE_PORT);
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
    assert!(acks > 0 && data > 0);
    assert_eq!(commands.get(&command::CHILD_ID_RESPONSE), Some(&10));
    assert!(commands[&command::ADVERTISEMENT] > 20);
    assert!(commands[&command::PARENT_REQUEST] >= 10);
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
        "_ws.malformed",
        "_ws.expert.severity",
        "_ws.expert.message",
    ];
    let frames = run_tshark(&bin, &pcap, &prefs, &fields);
    assert!(frames.len() > 100);
    let mut mle = 0;
    let mut coap = 0;
    for f in &frames {
        let n = &f["frame.number"];
        assert_eq!(f["wpan.fcs_ok"], "1", "frame {n}: FCS");
        assert!(f["_ws.malformed"].is_empty(), "frame {n}: malformed");
        for sev in f["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
        {
            assert!(
                num(sev) < PI_WARN,
                "frame {n}: expert info {sev}: {}",
                f["_ws.expert.message"]
            );
        }
        match num(&f["wpan.frame_type"]) {
            2 => {}
            1 => {
                if !f["mle.cmd"].is_empty() {
                    mle += 1;
                } else {
                    assert_eq!(
                        f["coap.code"], "2",
                        "frame {n}: neither MLE nor a CoAP POST"
                    );
                    coap += 1;
                }
            }
            t => panic!("frame {n}: frame type {t}"),
        }
    }
    assert!(mle > 30 && coap > 10, "{mle} MLE, {coap} CoAP");
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
