//! `weft` with no arguments in a real terminal (tmux, fixed size): the inspector opens on the
//! smart-home mesh, shows its nodes and decoded traffic, and quits with `q` and exit status 0.
//! Set WEFT_SKIP_TMUX=1 to skip; without it a missing tmux fails the test.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod procs;

use procs::tmux::{wait_for, Tmux};
use procs::Killed;

fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("weft-tmux-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn weft_opens_the_inspector_in_a_terminal() {
    if Tmux::skipped() {
        return;
    }
    let dir = scratch_dir();
    let exit_file = dir.join("exit");
    let _ = std::fs::remove_file(&exit_file);
    let bin = env!("CARGO_BIN_EXE_weft");
    let cmd = format!(
        "cd '{}' && '{bin}'; echo $? > '{}'",
        dir.display(),
        exit_file.display()
    );
    let t = Tmux::start("weft-test", &cmd);

    // Nodes appear at once; decoded traffic within the first seconds (the thermostat reports
    // at 3 s, the kitchen switch at 5 s, beacons every 10 s).
    let mut screen = String::new();
    wait_for(
        "nodes and decoded traffic on the screen",
        Duration::from_secs(40),
        || {
            screen = t.capture();
            screen.contains("motion-hall")
                && screen.contains("relay-stairs")
                && (screen.contains("Sensor Status") || screen.contains("OnOff Set"))
        },
    );
    assert!(screen.contains("weft inspect"), "{screen}");
    assert!(screen.contains("LIVE"), "{screen}");
    assert!(screen.contains("Nodes (12)"), "{screen}");

    // Help opens and closes, then q quits cleanly.
    t.run(&["send-keys", "-t", &t.session, "?"]);
    wait_for("the help screen", Duration::from_secs(10), || {
        t.capture().contains("show or hide this help")
    });
    t.run(&["send-keys", "-t", &t.session, "Escape"]);
    wait_for("the help screen to close", Duration::from_secs(10), || {
        !t.capture().contains("show or hide this help")
    });
    t.run(&["send-keys", "-t", &t.session, "q"]);
    wait_for("weft to exit", Duration::from_secs(20), || {
        exit_file.exists() && read(&exit_file).is_some()
    });
    assert_eq!(read(&exit_file).as_deref(), Some("0"), "exit status");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `weft inspect --radio sim:SOCKET --pcap FILE` in a terminal, on a live air where a
/// `weft node` beacons: the capture runs from the start (the status bar says REC), and `q`
/// closes the file with what was heard, the node's beacons from the hub's address for it.
#[test]
fn inspect_captures_the_live_air_from_the_start_with_pcap() {
    if Tmux::skipped() {
        return;
    }
    let dir = procs::scratch("tmux", "pcap");
    let bin = env!("CARGO_BIN_EXE_weft");
    let sock = dir.join("air.sock");
    let pcap = dir.join("live.pcapng");
    let exit_file = dir.join("exit");
    let _hub = procs::hub(&sock);
    let _node = Killed(
        procs::weft()
            .args(["node", "--radio", &format!("sim:{}", sock.display())])
            .args(["--uuid", "0102030405060708090a0b0c0d0e0f10"])
            .args(["--state", dir.join("node.weft").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // An empty data directory: no store, so the inspector only listens.
    let cmd = format!(
        "cd '{d}' && XDG_DATA_HOME='{d}' '{bin}' inspect --radio 'sim:{}' --pcap '{}'; echo $? > '{}'",
        sock.display(),
        pcap.display(),
        exit_file.display(),
        d = dir.display(),
    );
    let t = Tmux::start("weft-test-pcap", &cmd);
    let mut screen = String::new();
    wait_for(
        "the capture and the node's beacon on the screen",
        Duration::from_secs(40),
        || {
            screen = t.capture();
            screen.contains("REC") && screen.contains("Unprovisioned Device Beacon")
        },
    );
    t.run(&["send-keys", "-t", &t.session, "q"]);
    wait_for("weft to exit", Duration::from_secs(20), || {
        read(&exit_file).is_some()
    });
    assert_eq!(
        read(&exit_file).as_deref(),
        Some("0"),
        "exit status; {screen}"
    );
    let packets = weft_radio::pcap::read_all_packets(&std::fs::read(&pcap).unwrap()).unwrap();
    assert!(!packets.is_empty());
    let beacons: Vec<_> = packets
        .iter()
        .filter_map(|p| weft_radio::ble_ll::parse_ble_adv(&p.data).ok())
        .filter(|a| a.adv_data.get(1) == Some(&0x2b))
        .collect();
    assert!(!beacons.is_empty(), "the node's beacons");
    // The node is the hub's first node slot.
    let hub_node = weft_radio::sim::adv_address(1, weft_radio::sim::NodeId(0), 0);
    assert!(beacons
        .iter()
        .all(|b| b.crc_ok && b.adv_address == hub_node));
    let _ = std::fs::remove_dir_all(&dir);
}

fn read(p: &Path) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}
