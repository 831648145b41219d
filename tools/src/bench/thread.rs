//! `weft bench thread`: Thread frames decoded per second on one core — the FCS, the MAC frame
//! and its security (CCM*), 6LoWPAN, IPv6/UDP and MLE with its own decryption — beside tshark
//! decoding the same capture with the same key, as a ratio measured in one run.
//!
//! The capture is a `thread-home` run of the simulator (MLE Advertisements, Parent and Child
//! ID exchanges, MAC-secured CoAP), written through the one capture writer (LINKTYPE 283).
//! weft decodes it in this process, `runs` times, each with a fresh decoder; tshark is run
//! `runs` times on the file (its summary lines to /dev/null, which dissects and decrypts
//! every packet) and `runs` times on a one-packet file, whose median is its start-up time; the
//! ratio is taken against tshark's time without that start-up, so it favours tshark.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant as WallClock;

use serde_json::{json, Value};
use weft_mesh::thread::lowpan::Context;
use weft_mesh::thread::security::KeyManager;
use weft_mesh::thread::sniff::{DecodedFrame, Fcs, ThreadSniffer};
use weft_mesh::Instant;
use weft_radio::ieee802154_tap;
use weft_radio::pcap::{read_all_packets, PcapWriter, LINKTYPE_IEEE802_15_4_TAP};

use crate::error::Failure;
use crate::sim::RunArgs;
use crate::Exit;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A scratch directory of this process, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(Exit::Unavailable, format!("{what}: {e}"))
}

/// The capture of `seconds` of thread-home, its network key and mesh-local prefix.
fn capture(dir: &Path, seconds: f64) -> Result<(PathBuf, [u8; 16], std::net::Ipv6Addr), Failure> {
    let pcap = dir.join("thread-home.pcapng");
    let args = RunArgs {
        scenario: "thread-home".into(),
        seconds: Some(seconds),
        json: true,
        pcap: Some(pcap.clone()),
        ..RunArgs::default()
    };
    let mut out = Vec::new();
    crate::sim::thread::run_thread(&args, &mut out)
        .map_err(|e| unavailable("the thread-home run", format!("{e:?}")))?;
    let first = out.split(|&b| b == b'\n').next().unwrap_or_default();
    let net: Value =
        serde_json::from_slice(first).map_err(|e| unavailable("the run's network line", e))?;
    let key = net["network_key"]
        .as_str()
        .and_then(|k| hex::decode(k).ok())
        .and_then(|k| <[u8; 16]>::try_from(k).ok())
        .ok_or_else(|| unavailable("the run's network line", "no network_key"))?;
    let prefix = net["mesh_local_prefix"]
        .as_str()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| unavailable("the run's network line", "no mesh_local_prefix"))?;
    Ok((pcap, key, prefix))
}

/// Runs the bench: `seconds` of thread-home, `runs` runs of each decoder.
pub fn run(seconds: f64, runs: usize) -> Result<Value, Failure> {
    let dir =
        Scratch(std::env::temp_dir().join(format!("weft-bench-thread-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| unavailable("a scratch directory", e))?;
    let (pcap, key, prefix) = capture(&dir.0, seconds)?;
    let bytes = std::fs::read(&pcap).map_err(|e| unavailable("the capture", e))?;
    let packets = read_all_packets(&bytes).map_err(|e| unavailable("the capture", e))?;
    let psdus: Vec<(Instant, Vec<u8>)> = packets
        .iter()
        .filter(|p| p.link_type == LINKTYPE_IEEE802_15_4_TAP)
        .filter_map(|p| {
            let (_, psdu) = ieee802154_tap::parse(&p.data).ok()?;
            Some((p.timestamp, psdu.to_vec()))
        })
        .collect();
    if psdus.is_empty() {
        return Err(unavailable("the capture", "no 802.15.4 frames"));
    }

    // weft, one core, a fresh decoder each run.
    let mut weft_s = Vec::new();
    let mut stats = None;
    for _ in 0..runs {
        let mut sniffer = ThreadSniffer::new(KeyManager::new(key, 0));
        sniffer.set_context(0, Context::new(prefix, 64));
        // One report, handed back each time: what a reader that prints and forgets each
        // frame does (`weft decode`, the inspector's feed).
        let mut report = DecodedFrame::default();
        let t = WallClock::now();
        for (at, psdu) in &psdus {
            sniffer.decode_into(*at, psdu, Fcs::Present, &mut report);
            std::hint::black_box(&report);
        }
        weft_s.push(t.elapsed().as_secs_f64());
        stats = Some(sniffer.stats());
    }
    let stats = stats.unwrap_or_default();
    let n = psdus.len() as f64;
    let weft_med = median(weft_s.clone());
    let weft_fps = n / weft_med;

    let tshark = tshark_figures(&dir.0, &pcap, &packets, key, prefix, runs);
    let (tshark_json, ratio) = match &tshark {
        // tshark's time beyond its start-up must stand out of the noise (a tenth of its
        // total) for a rate; a short capture gives none, and no ratio.
        Some((total, startup)) if total - startup > total / 10.0 => {
            let fps = n / (total - startup);
            (
                json!({"total_s_median": round3(*total), "startup_s_median": round3(*startup),
                       "frames_per_s": fps.round(), "frames_per_s_with_startup": (n / total).round()}),
                Some((weft_fps / fps * 10.0).round() / 10.0),
            )
        }
        Some((total, startup)) => (
            json!({"total_s_median": round3(*total), "startup_s_median": round3(*startup),
                   "frames_per_s": null, "frames_per_s_with_startup": (n / total).round(),
                   "why_no_rate": "the capture is too short: tshark's time is mostly its start-up (give --seconds 3600 or more)"}),
            None,
        ),
        None => (Value::Null, None),
    };
    Ok(json!({
        "capture_virtual_s": seconds,
        "frames": psdus.len(),
        "decoded": stats.decoded,
        "mac_decrypted": stats.decrypted,
        "mle_messages": stats.mle_messages,
        "errors": stats.frames - stats.decoded,
        "runs": runs,
        "weft_s_median": (weft_med * 1e6).round() / 1e6,
        "weft_frames_per_s": weft_fps.round(),
        "tshark": tshark_json,
        "ratio_weft_to_tshark": ratio,
    }))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// tshark's median time on the capture and on a one-packet file (its start-up), or `None`
/// when there is no tshark.
fn tshark_figures(
    dir: &Path,
    pcap: &Path,
    packets: &[weft_radio::pcap::Packet],
    key: [u8; 16],
    prefix: std::net::Ipv6Addr,
    runs: usize,
) -> Option<(f64, f64)> {
    Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let one = dir.join("one.pcapng");
    {
        let f = std::fs::File::create(&one).ok()?;
        let mut w = PcapWriter::new(f).ok()?;
        w.interface(LINKTYPE_IEEE802_15_4_TAP).ok()?;
        let p = packets.first()?;
        w.write_packet(LINKTYPE_IEEE802_15_4_TAP, p.timestamp, &p.data)
            .ok()?;
        w.flush().ok()?;
    }
    let key_pref = format!(
        "uat:ieee802154_keys:\"{}\",\"1\",\"Thread hash\"",
        hex::encode(key)
    );
    let ctx_pref = format!("6lowpan.context0:{prefix}/64");
    let time = |file: &Path| -> Option<f64> {
        let t = WallClock::now();
        let ok = Command::new("tshark")
            .arg("-r")
            .arg(file)
            .args(["-o", &key_pref, "-o", &ctx_pref])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        ok.then(|| t.elapsed().as_secs_f64())
    };
    let mut total = Vec::new();
    let mut startup = Vec::new();
    for _ in 0..runs {
        total.push(time(pcap)?);
        startup.push(time(&one)?);
    }
    Some((median(total), median(startup)))
}
