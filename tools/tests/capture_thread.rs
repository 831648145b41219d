//! `weft capture` on a Thread radio: weft as a node of OpenThread's simulation air
//! (`otsim:`), while a socket standing in for an OpenThread node (`ot-cli-ftd`, not built here)
//! puts 802.15.4 frames on it. The capture file is `LINKTYPE_IEEE802_15_4_TAP`, and tshark
//! reads every frame with its channel and a good FCS, nothing malformed.
//!
//! The air is IPv4 multicast on the loopback interface; where it does not work the test says
//! so and passes, except under `CI=1`. tshark as in radio/tests/tshark.rs.
#![cfg(feature = "otsim")]

mod procs;
#[path = "../../radio/tests/support/tshark.rs"]
mod support;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{num, run_tshark, tshark, PI_WARN};
use weft_mesh::thread::mac::fcs;
use weft_radio::pcap::{read_all_packets, LINKTYPE_IEEE802_15_4_TAP};

use procs::{scratch, weft};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 116);

/// A data frame: PAN 0xFACE, broadcast, from short address 0x0009, sequence `seq`.
fn mac(seq: u8) -> Vec<u8> {
    vec![
        0x41, 0x88, seq, 0xCE, 0xFA, 0xFF, 0xFF, 0x09, 0x00, 0x01, 0x02, 0x03,
    ]
}

#[test]
fn weft_capture_on_the_openthread_simulation_air_decodes_in_tshark() {
    let dir = scratch("capture-thread", "otsim");
    let out = dir.join("thread.pcapng");
    let offset = 700 + std::process::id() % 400;
    let base = 9000 + 34 * offset as u16;
    let radio = format!("otsim:7?port_offset={offset}");
    let child = weft()
        .args(["capture", "--radio", &radio, "--out"])
        .arg(&out)
        .args(["--json", "--seconds", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "OpenThread node 9", sending from its port to the group through lo, until the capture
    // ends (it cannot say when it is listening).
    let ot = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    ot.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    ot.bind(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, base + 9).into())
        .unwrap();
    let ot: UdpSocket = ot.into();
    let started = Instant::now();
    let mut seq = 0u8;
    while started.elapsed() < Duration::from_millis(2500) {
        let mut d = vec![15u8];
        d.extend_from_slice(&fcs::append(&mac(seq)));
        ot.send_to(&d, SocketAddrV4::new(GROUP, base)).unwrap();
        seq = seq.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["link_types"], serde_json::json!([283]), "{summary}");
    let frames = summary["frames"].as_u64().unwrap();
    if frames == 0 {
        let why = "nothing came over multicast on the loopback interface (`ip link show lo`)";
        assert_ne!(std::env::var("CI").as_deref(), Ok("1"), "{why}");
        eprintln!("skipping: {why}");
        return;
    }
    assert!(frames >= 5, "{summary}");
    assert_eq!(summary["written"], summary["frames"], "{summary}");
    for l in &lines[..lines.len() - 1] {
        assert_eq!(l["bearer"], "ieee802154", "{l}");
        assert_eq!(l["channel"], 15, "{l}");
        assert_eq!(l["length"], 12, "{l}");
    }
    let packets = read_all_packets(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(packets.len() as u64, frames);
    assert!(packets
        .iter()
        .all(|p| p.link_type == LINKTYPE_IEEE802_15_4_TAP));
    check_tshark(&out, frames);
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_tshark(out: &Path, frames: u64) {
    let Some(bin) = tshark() else { return };
    let fields = [
        "frame.protocols",
        "wpan-tap.ch_num",
        "wpan.fcs_ok",
        "wpan.seq_no",
        "wpan.src16",
        "_ws.malformed",
        "_ws.expert.severity",
    ];
    let got = run_tshark(&bin, out, &[], &fields);
    assert_eq!(got.len() as u64, frames);
    for (i, f) in got.iter().enumerate() {
        assert!(f["frame.protocols"].starts_with("wpan-tap"), "{i}: {f:?}");
        assert_eq!(num(&f["wpan-tap.ch_num"]), 15, "{i}");
        assert_eq!(f["wpan.fcs_ok"], "1", "{i}");
        assert_eq!(num(&f["wpan.src16"]), 9, "{i}");
        assert!(f["_ws.malformed"].is_empty(), "{i}: {f:?}");
        for sev in f["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
        {
            assert!(num(sev) < PI_WARN, "{i}: severity {sev}: {f:?}");
        }
    }
}
