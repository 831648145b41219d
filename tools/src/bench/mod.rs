//! `weft bench`: measured figures for the goals the issues set. Figures are medians of several
//! runs in one process, so ratios between them are meaningful on a shared, noisy machine.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant as WallClock;

use serde_json::json;
use weft_mesh::ble::address::{Address, IvIndex, Seq, UnicastAddress};
use weft_mesh::ble::crypto::NetKey;
use weft_mesh::ble::node::{ElementState, Node, NodeState};
use weft_mesh::ble::wire::network::{NetworkPduRepr, NonceKind};
use weft_mesh::crypto::Aes;

use crate::error::Failure;
use crate::Exit;

pub mod gatt;
pub mod hci;
pub mod thread;
pub mod thread_node;
pub mod thread_random;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchKind,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchKind {
    /// Network PDUs decrypted, authenticated and given a relay decision per second on one
    /// core, beside the raw AES-128 block rate.
    Pdu {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Runs to take the median of, 1-100.
        #[arg(long, default_value_t = 5, value_parser = |s: &str| crate::args::count(s, "a number of runs", 1, 100))]
        runs: usize,
    },
    /// Provision DEVICES simulated devices over standard PB-ADV with parallel links: the
    /// virtual seconds until the last one is provisioned.
    Provision {
        /// Devices to provision, 1-32766 (given unicast addresses from 0002 up).
        #[arg(long, default_value_t = 100, value_parser = |s: &str| crate::args::count(s, "a number of devices", 1, 0x7ffe))]
        devices: usize,
        /// Links open at once, 1-64 (one advertiser carries them all, so more is not faster).
        #[arg(long, default_value_t = 12, value_parser = crate::args::links)]
        parallel: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The grid scenario (every node a relay, a tenth publishing) in the simulator: wall time
    /// against virtual time, and peak memory.
    Sim {
        /// Nodes in the grid, 1-30000.
        #[arg(long, default_value_t = 1000, value_parser = crate::args::grid_nodes)]
        nodes: usize,
        /// Virtual seconds.
        #[arg(long, default_value_t = 60.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// On two HCI controllers (the provisioner's, then the device's): provisioning and
    /// configuration of one device end to end, the OnOff Set to Status round trip, and the
    /// reports per second weft's HCI radio and the controllers carry; weft's own time apart.
    Hci {
        /// The provisioner's radio, then the device's, e.g. `--radio hci-tcp:127.0.0.1:9001
        /// --radio hci-tcp:127.0.0.1:9002`.
        #[arg(long = "radio", value_name = "RADIO", required = true, value_parser = crate::args::radio)]
        radios: Vec<String>,
        /// OnOff Set round trips, 1-1000.
        #[arg(long, default_value_t = 50, value_parser = |s: &str| crate::args::count(s, "a number of round trips", 1, 1000))]
        rounds: usize,
        /// Seconds of each throughput measurement, 0.1-60.
        #[arg(long, default_value_t = 1.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
        seconds: f64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// A Thread network on the simulated 802.15.4 medium (Thread nodes: ROUTERS
    /// router-eligible ones on a grid 12 m apart, the other end devices scattered among them,
    /// forming one partition, then reporting every 30 s): wall seconds for the virtual time
    /// on one core, median of RUNS runs, and when the partition was formed.
    Sim154 {
        /// Routers, 1-63.
        #[arg(long, default_value_t = 32, value_parser = |s: &str| crate::args::count(s, "a number of routers", 1, 63))]
        routers: usize,
        /// All nodes (routers and children), 1-10000.
        #[arg(long, default_value_t = 250, value_parser = |s: &str| crate::args::count(s, "a number of nodes", 1, 10_000))]
        nodes: usize,
        /// Virtual seconds.
        #[arg(long, default_value_t = 3600.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Runs to take the median of, 1-100.
        #[arg(long, default_value_t = 3, value_parser = |s: &str| crate::args::count(s, "a number of runs", 1, 100))]
        runs: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The Thread node on the simulated 802.15.4 air, in virtual time: a child's attach to a
    /// lone leader (median over SEEDS seeds), the formation of a ROUTERS-router, NODES-node
    /// partition (virtual seconds, and its wall seconds on one core), and UDP echo round
    /// trips at 1, 3 and 5 hops (medians over SEEDS seeds).
    ThreadNode {
        /// Seeds to take the medians over, 1-1000.
        #[arg(long, default_value_t = 20, value_parser = |s: &str| crate::args::count(s, "a number of seeds", 1, 1000))]
        seeds: usize,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Router-eligible nodes of the formation, 1-63.
        #[arg(long, default_value_t = 32, value_parser = |s: &str| crate::args::count(s, "a number of routers", 1, 63))]
        routers: usize,
        /// All nodes of the formation, 1-10000.
        #[arg(long, default_value_t = 250, value_parser = |s: &str| crate::args::count(s, "a number of nodes", 1, 10_000))]
        nodes: usize,
        /// Virtual seconds the formation may take.
        #[arg(long, default_value_t = 600.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
        seconds: f64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Thread frames decoded per second on one core (FCS, MAC security, 6LoWPAN, MLE
    /// decryption) beside tshark decoding the same capture with the same key: a thread-home
    /// capture of SECONDS virtual seconds, the median of RUNS runs of each, and their ratio.
    Thread {
        /// Virtual seconds of thread-home to capture, 10-86400.
        #[arg(long, default_value_t = 3600.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
        seconds: f64,
        /// Runs of each decoder to take the median of, 1-100.
        #[arg(long, default_value_t = 5, value_parser = |s: &str| crate::args::count(s, "a number of runs", 1, 100))]
        runs: usize,
        /// Instead: N random and mutated-valid frames (1-100000000) through the decoder and
        /// the topology, with the resident set size at the start, middle and end.
        #[arg(long, value_parser = |s: &str| crate::args::count(s, "a number of frames", 1, 100_000_000))]
        random: Option<usize>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The GATT bearer in the simulator, in virtual time: PB-GATT provisioning of one device
    /// (at ATT MTU 23 and 69) against PB-ADV, and a proxy client's OnOff Set/Status round trip
    /// to a node 1, 3 and 6 hops behind its proxy node; medians over the same SEEDS seeds.
    Gatt {
        /// Seeds to take the medians over, 1-1000.
        #[arg(long, default_value_t = 50, value_parser = |s: &str| crate::args::count(s, "a number of seeds", 1, 1000))]
        seeds: usize,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The inspector's frame time: the whole screen rendered into a TestBackend at the UI's
    /// tick while the simulated grid (unpaced, in its own thread) feeds decoded traffic.
    Tui {
        /// Nodes in the grid, 1-30000.
        #[arg(long, default_value_t = 1000, value_parser = crate::args::grid_nodes)]
        nodes: usize,
        /// Wall seconds to measure (at most 3600).
        #[arg(long, default_value_t = 10.0, value_parser = crate::args::seconds, allow_hyphen_values = true)]
        seconds: f64,
        /// Terminal size, columns x rows.
        #[arg(long, default_value = "160x48")]
        size: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(a: &BenchArgs, out: &mut impl Write) -> Result<Exit, Failure> {
    match &a.which {
        BenchKind::Gatt { seeds, seed, json } => {
            let v = gatt::run(*seeds as u64, *seed);
            let m = |p: &str| {
                v.pointer(p)
                    .and_then(|x| x.as_f64())
                    .map_or("-".into(), |x| x.to_string())
            };
            let _ = if *json {
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "one device provisioned (median of {} seeds, virtual s): PB-ADV {}, PB-GATT at MTU 23 {}, at MTU 69 {}\nproxied OnOff Set/Status round trip (virtual ms): 1 hop behind the proxy {}, 3 hops {}, 6 hops {}",
                    v["seeds"],
                    m("/provision_virtual_s/pb_adv/median"),
                    m("/provision_virtual_s/pb_gatt_mtu23/median"),
                    m("/provision_virtual_s/pb_gatt_mtu69/median"),
                    m("/onoff_round_trip_ms/hops_1/median"),
                    m("/onoff_round_trip_ms/hops_3/median"),
                    m("/onoff_round_trip_ms/hops_6/median"),
                )
            };
            Ok(Exit::Ok)
        }
        BenchKind::Hci {
            radios,
            rounds,
            seconds,
            json,
        } => {
            let uris = hci::radios(radios)?;
            if !(0.1..=60.0).contains(seconds) {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("--seconds {seconds}: give 0.1 to 60"),
                ));
            }
            let v = hci::run(&uris, *rounds, *seconds)?;
            let _ = if *json {
                writeln!(out, "{v}")
            } else {
                writeln!(out, "{}", hci::describe(&v))
            };
            if v["provision"]["configured"] == true {
                Ok(Exit::Ok)
            } else {
                Ok(Exit::Refused)
            }
        }
        BenchKind::Provision {
            devices,
            parallel,
            seed,
            json,
        } => {
            let t = WallClock::now();
            let r = provision_bench(*devices, (*parallel).max(1), *seed);
            let v = json!({
                "devices": devices,
                "parallel_links": parallel,
                "provisioned": r.provisioned,
                "failed": r.failed,
                "virtual_s": r.virtual_s.map(|s| (s * 100.0).round() / 100.0),
                "frames": r.frames,
                "wall_s": (t.elapsed().as_secs_f64() * 100.0).round() / 100.0,
            });
            let _ = if *json {
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "{} of {devices} devices provisioned over PB-ADV in {} virtual s ({} failed, {} frames)",
                    r.provisioned,
                    r.virtual_s.map_or("-".into(), |s| format!("{s:.2}")),
                    r.failed,
                    r.frames
                )
            };
            if r.provisioned == *devices {
                Ok(Exit::Ok)
            } else {
                Ok(Exit::Refused)
            }
        }
        BenchKind::Tui {
            nodes,
            seconds,
            size,
            seed,
            json,
        } => match tui(*nodes, *seconds, size, *seed) {
            Ok(v) => {
                let _ = if *json {
                    writeln!(out, "{v}")
                } else {
                    writeln!(
                        out,
                        "{nodes} nodes, {size}: frame p50 {} ms, p99 {} ms over {} frames; {} decoded PDUs/s ingested ({} virtual s in {} wall s); {} dropped",
                        v["frame_ms_p50"], v["frame_ms_p99"], v["frames"], v["pdus_per_s_ingested"], v["virtual_s"], v["wall_s"], v["dropped"]
                    )
                };
                Ok(Exit::Ok)
            }
            Err(e) => Err(Failure::new(Exit::Usage, format!("tui: {e}"))),
        },
        BenchKind::Sim {
            nodes,
            seconds,
            seed,
            json,
        } => {
            let args = crate::sim::RunArgs {
                scenario: "grid".into(),
                seed: *seed,
                seconds: Some(*seconds),
                loss: None,
                nodes: Some(*nodes),
                json: false,
                pcap: None,
            };
            let t = WallClock::now();
            let summary = match crate::sim::run_scenario(&args, &mut std::io::sink()) {
                Ok(s) => s.json,
                Err(e) => return Err(Failure::new(Exit::Usage, format!("sim: {e:?}"))),
            };
            let wall = t.elapsed().as_secs_f64();
            let rss = peak_rss_mb();
            let v = json!({
                "nodes": nodes,
                "virtual_s": seconds,
                "wall_s": (wall * 1000.0).round() / 1000.0,
                "realtime_factor": ((seconds / wall) * 100.0).round() / 100.0,
                "peak_rss_mb": rss.map(|m| (m * 10.0).round() / 10.0),
                "frames": summary["frames"],
                "delivered": summary["delivered"],
                "relayed": summary["relayed"],
            });
            let _ = if *json {
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "{nodes} nodes, {seconds} virtual s in {wall:.2} wall s: {:.2}x real time; {} frames; peak RSS {} MB",
                    seconds / wall,
                    summary["frames"],
                    rss.map_or("unknown".into(), |m| format!("{m:.1}"))
                )
            };
            Ok(Exit::Ok)
        }
        BenchKind::Thread {
            random: Some(n),
            json,
            ..
        } => {
            let v = thread_random::run(*n as u64);
            let line = if *json {
                v.to_string()
            } else {
                format!(
                    "{} random and mutated-valid frames in {} s: RSS {} KiB at the start, {} KiB in the middle, {} KiB at the end; {} learnt addresses ({} forgotten), {} children ({} forgotten)",
                    v["frames"], v["seconds"], v["rss_kib"]["start"], v["rss_kib"]["middle"], v["rss_kib"]["end"],
                    v["learnt_addresses"], v["addresses_forgotten"], v["topology_children"], v["children_forgotten"]
                )
            };
            writeln!(out, "{line}").map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
            Ok(Exit::Ok)
        }
        BenchKind::Thread {
            seconds,
            runs,
            json,
            random: None,
        } => {
            if !(10.0..=86_400.0).contains(seconds) {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("--seconds {seconds}: give 10 to 86400 virtual seconds"),
                ));
            }
            let v = thread::run(*seconds, *runs)?;
            let line = if *json {
                v.to_string()
            } else {
                let tshark = match v["ratio_weft_to_tshark"].as_f64() {
                    Some(r) => format!(
                        "tshark {} frames/s after {} s of start-up ({} s in all): weft is {r}x",
                        v["tshark"]["frames_per_s"],
                        v["tshark"]["startup_s_median"],
                        v["tshark"]["total_s_median"]
                    ),
                    None if v["tshark"].is_null() => {
                        "tshark: not installed (the Debian package tshark), no ratio".into()
                    }
                    None => format!(
                        "tshark: no rate ({})",
                        v["tshark"]["why_no_rate"].as_str().unwrap_or("")
                    ),
                };
                format!(
                    "{} frames of thread-home ({} MAC-decrypted, {} MLE): weft {} frames/s on one core (median of {} runs); {tshark}",
                    v["frames"], v["mac_decrypted"], v["mle_messages"], v["weft_frames_per_s"], v["runs"]
                )
            };
            writeln!(out, "{line}").map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
            Ok(Exit::Ok)
        }
        BenchKind::ThreadNode {
            seeds,
            seed,
            routers,
            nodes,
            seconds,
            json,
        } => {
            if routers > nodes {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("--routers {routers} is more than --nodes {nodes}: give at most as many routers as nodes"),
                ));
            }
            let v = thread_node::figures(*seeds, *seed, *routers, *nodes, *seconds);
            let line = if *json {
                v.to_string()
            } else {
                thread_node::text(&v)
            };
            writeln!(out, "{line}").map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
            Ok(Exit::Ok)
        }
        BenchKind::Sim154 {
            routers,
            nodes,
            seconds,
            seed,
            runs,
            json,
        } => {
            if routers > nodes {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("--routers {routers} is more than --nodes {nodes}: give at most as many routers as nodes"),
                ));
            }
            let all: Vec<_> = (0..(*runs).max(1))
                .map(|_| crate::sim::thread::bench::run(*routers, *nodes, *seconds, *seed))
                .collect();
            let wall = median(all.iter().map(|r| r.wall_s).collect());
            let r = all[0];
            let v = json!({
                "routers": routers,
                "nodes": nodes,
                "virtual_s": seconds,
                "runs": all.len(),
                "wall_s_median": (wall * 1000.0).round() / 1000.0,
                "wall_s": all.iter().map(|r| (r.wall_s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                "realtime_factor": ((seconds / wall) * 10.0).round() / 10.0,
                "frames": r.frames,
                "acks": r.acks,
                "collisions": r.collisions,
                "attached": r.attached,
                "data_sent": r.data_sent,
                "data_received": r.data_received,
                "formed_virtual_s": r.formed_s,
                "formed_wall_s": r.formed_wall_s.map(|w| (w * 1000.0).round() / 1000.0),
                "routers_at_end": r.routers_at_end,
                "partitions_at_end": r.partitions_at_end,
                "peak_rss_mb": peak_rss_mb().map(|m| (m * 10.0).round() / 10.0),
            });
            let _ = if *json {
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "{nodes} Thread nodes ({routers} routers), {seconds} virtual s in {wall:.2} wall s (median of {}): {:.0}x real time; formed at {} virtual s; {} frames, {} acks, {} children attached, {} of {} data messages received",
                    all.len(),
                    seconds / wall,
                    r.formed_s.map_or("-".to_string(), |s| s.to_string()),
                    r.frames,
                    r.acks,
                    r.attached,
                    r.data_received,
                    r.data_sent
                )
            };
            Ok(Exit::Ok)
        }
        BenchKind::Pdu { json, runs } => {
            let runs = (*runs).max(1);
            let pdu = median((0..runs).map(|_| pdus_per_s()).collect());
            let aes = median((0..runs).map(|_| aes_blocks_per_s()).collect());
            let v = json!({
                "pdus_per_s": pdu.round(),
                "aes_blocks_per_s": aes.round(),
                "aes_blocks_per_pdu_budget": (aes / pdu * 100.0).round() / 100.0,
                "runs": runs,
            });
            let _ = if *json {
                writeln!(out, "{v}")
            } else {
                writeln!(
                    out,
                    "network PDUs: {:.2} M/s (decrypt + authenticate + relay decision, one core)\nAES-128 blocks: {:.2} M/s\none PDU costs the time of {:.1} AES blocks",
                    pdu / 1e6,
                    aes / 1e6,
                    aes / pdu
                )
            };
            Ok(Exit::Ok)
        }
    }
}

/// Renders the inspector's screen at its tick while the grid runs unpaced in the runtime's
/// thread; frame times are of `draw` alone.
fn tui(nodes: usize, seconds: f64, size: &str, seed: u64) -> Result<serde_json::Value, String> {
    use crate::inspect::model::Feeder;
    use crate::inspect::runtime::{Pace, Runtime};
    use crate::inspect::ui::{self, App, Request};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
        .filter(|&(w, h)| (20..=1000).contains(&w) && (10..=500).contains(&h))
        .ok_or_else(|| format!("--size {size}: give COLSxROWS, e.g. 160x48"))?;
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err(format!("--seconds {seconds}: give 0..3600"));
    }
    let args = crate::sim::RunArgs {
        scenario: "grid".into(),
        seed,
        nodes: Some(nodes),
        ..crate::sim::RunArgs::default()
    };
    let feeder = Feeder::new(&args).map_err(|e| format!("{e:?}"))?;
    let rt = Runtime::start(
        feeder,
        Pace {
            speed: None,
            ..Pace::default()
        },
    );
    let mut term = Terminal::new(TestBackend::new(w, h)).map_err(|e| e.to_string())?;
    let mut app = App::default();
    rt.request(Request::Select(Some(1)));
    let start = WallClock::now();
    let mut frames = Vec::new();
    let first = rt.snapshot();
    let pdus0 = first.stats.pdus;
    while start.elapsed().as_secs_f64() < seconds {
        let tick = WallClock::now();
        let m = rt.snapshot();
        let t = WallClock::now();
        term.draw(|f| ui::draw(f, &mut app, &m))
            .map_err(|e| e.to_string())?;
        frames.push(t.elapsed().as_secs_f64() * 1000.0);
        black_box(term.backend().buffer().area);
        if let Some(left) = crate::inspect::TICK.checked_sub(tick.elapsed()) {
            std::thread::sleep(left);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let last = rt.snapshot();
    rt.stop();
    frames.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        let i = ((frames.len() as f64 - 1.0) * p).round() as usize;
        (frames.get(i).copied().unwrap_or(0.0) * 100.0).round() / 100.0
    };
    let pdus = last.stats.pdus - pdus0;
    Ok(json!({
        "frame_ms_p50": pct(0.5),
        "frame_ms_p99": pct(0.99),
        "pdus_per_s_ingested": (pdus as f64 / wall).round() as u64,
        "dropped": last.stats.ingest_dropped,
        "nodes": nodes,
        "size": size,
        "frames": frames.len(),
        "wall_s": (wall * 100.0).round() / 100.0,
        "virtual_s": last.now.as_micros() as f64 / 1e6,
        "links": last.topology.links().len(),
        "traffic_logged": last.traffic_total,
    }))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A relay node receiving distinct network PDUs (4096 of them, cycled: more than the network
/// cache holds, so none is a duplicate) of typical size (an unsegmented access message).
fn pdus_per_s() -> f64 {
    let net_key = [0x5a; 16];
    let mut st = NodeState::new(
        [0; 16],
        UnicastAddress::new(0x0001).expect("unicast"),
        [0; 16],
        net_key,
        IvIndex(0x1234),
        vec![ElementState {
            location: 0,
            models: vec![],
        }],
    );
    st.relay = true;
    let mut node = Node::new(
        st,
        <rand_chacha::ChaCha8Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(1),
    );
    let key = NetKey::new(net_key);
    let pdus: Vec<Vec<u8>> = (0..4096u32)
        .map(|i| {
            NetworkPduRepr {
                ivi: 0,
                nid: 0,
                ctl: false,
                ttl: 5,
                seq: Seq::truncate(i),
                src: Address(0x0100 + (i % 64) as u16),
                dst: Address(0xc000 + (i % 7) as u16),
                transport_pdu: vec![0x66; 14],
            }
            .encrypt(&key.flooding, IvIndex(0x1234), NonceKind::Network)
            .expect("valid PDU")
        })
        .collect();
    let n = 400_000usize;
    let t = WallClock::now();
    let mut relayed = 0usize;
    for i in 0..n {
        if let Ok(d) = node.network_decision(black_box(&pdus[i % pdus.len()])) {
            relayed += usize::from(d.relay);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(relayed, n, "every PDU opens and is relayed");
    n as f64 / secs
}

fn aes_blocks_per_s() -> f64 {
    let aes = Aes::new(&[7; 16]);
    let mut block = [0u8; 16];
    let n = 4_000_000usize;
    let t = WallClock::now();
    for _ in 0..n {
        block = aes.encrypt_block(black_box(&block));
    }
    black_box(block);
    n as f64 / t.elapsed().as_secs_f64()
}

/// Peak resident set size of this process (VmHWM of /proc/self/status), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

struct ProvResult {
    provisioned: usize,
    failed: usize,
    virtual_s: Option<f64>,
    frames: u64,
}

/// One provisioner node in the middle of `devices` unprovisioned devices, all in range; it
/// starts a PB-ADV link to every device whose beacon it hears (MshPRT §5.2.1), `parallel` at
/// once, and gives addresses from 0002 up.
fn provision_bench(devices: usize, parallel: usize, seed: u64) -> ProvResult {
    use crate::sim::{ScenarioStation, StationEvent};
    use weft_mesh::ble::cdb::{Cdb, CdbNode};
    use weft_mesh::ble::node::{ModelId, ModelState};
    use weft_mesh::ble::prov::{Device, DeviceConfig, ProvisionerEvent, SessionEvent};
    use weft_mesh::ble::station::{AutoProvision, DeviceNode, DeviceProfile, ProvisionerNode};
    use weft_mesh::ble::wire::beacon::OobInformation;
    use weft_mesh::ble::wire::prov::{Algorithms, Capabilities};
    use weft_radio::sim::{station_rng, Placement, SimConfig, SimEvent, Simulator};

    let mut sim = Simulator::new(
        SimConfig {
            medium_events: false,
            ..SimConfig::default()
        },
        seed,
    );
    let element = |id| ElementState {
        location: 0x0100,
        models: vec![ModelState::new(id)],
    };
    // Devices are numbered by their UUID from 0: the provisioner's is all ones.
    let me = NodeState::new(
        [0xff; 16],
        UnicastAddress::new(0x0001).expect("unicast"),
        [0x22; 16],
        [0x11; 16],
        IvIndex(0),
        vec![element(ModelId::CONFIG_CLIENT)],
    );
    let mut cdb = Cdb::new([0; 16], "bench", "");
    cdb.nodes.push(CdbNode::from_node_state(&me, None));
    let mut prov = ProvisionerNode::new(
        Node::new(me, station_rng(seed ^ 0x4e4f_4445, 0)),
        station_rng(seed, 0),
        cdb,
    );
    prov.set_auto(Some(AutoProvision {
        parallel,
        until: None,
        retry: false,
    }));
    sim.add_node(
        ScenarioStation::Provisioner(prov),
        Placement::At { x: 0.0, y: 0.0 },
    );
    let caps = Capabilities::no_oob(
        1,
        Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
    );
    for i in 0..devices {
        let angle = i as f64 / devices.max(1) as f64 * std::f64::consts::TAU;
        let r = 10.0 + (i % 5) as f64 * 5.0;
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let d = Device::new(
            station_rng(seed, 1 + i as u64),
            uuid,
            OobInformation(0),
            None,
            DeviceConfig::new(caps),
        );
        let profile = DeviceProfile {
            elements: vec![element(ModelId::CONFIG_SERVER)],
            relay: false,
            default_ttl: None,
        };
        let node_rng = station_rng(seed ^ 0x4e4f_4445, 1 + i as u64);
        sim.add_node(
            ScenarioStation::Device(DeviceNode::new(d, profile, node_rng)),
            Placement::At {
                x: r * angle.cos(),
                y: r * angle.sin(),
            },
        );
    }
    let mut done = std::collections::HashSet::new();
    let mut failed = 0;
    let mut last = None;
    let end = weft_mesh::Instant::from_micros(600_000_000);
    let mut t = weft_mesh::Instant::ZERO;
    while t < end && done.len() + failed < devices {
        t += weft_mesh::Duration::from_millis(50);
        sim.run_until(t);
        for ev in sim.drain_events() {
            let SimEvent::Station {
                at,
                event: StationEvent::Provisioner(ProvisionerEvent::Session { device_uuid, event }),
                ..
            } = ev
            else {
                continue;
            };
            match event {
                SessionEvent::Complete(_) if done.insert(device_uuid) => last = Some(at),
                SessionEvent::Failed(f) => {
                    if std::env::var_os("WEFT_DEBUG").is_some() {
                        eprintln!("{at} failed: {f:?}");
                    }
                    failed += 1;
                }
                _ => {}
            }
        }
    }
    ProvResult {
        provisioned: done.len(),
        failed,
        virtual_s: last.map(|t| t.as_micros() as f64 / 1e6),
        frames: sim.stats().frames_sent,
    }
}
