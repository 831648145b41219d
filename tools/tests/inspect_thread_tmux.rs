//! `weft inspect` on Thread in a real terminal (tmux, fixed size), read as a user reads it:
//! the thread-home scenario on the simulated 802.15.4 air (routers, the leader, children under
//! their parents, decoded MLE, the statistics); both protocols at once, a tab each; and an
//! OpenThread simulation air (`otsim:`) onto which a thread-home capture is replayed.
//! Set WEFT_SKIP_TMUX=1 to skip; without it a missing tmux fails the test.

use std::path::Path;
use std::time::Duration;

mod procs;

use procs::tmux::{wait_for, Tmux};

fn read(p: &Path) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Runs `args` in tmux; the exit status goes to a file in `dir`.
fn start(name: &str, dir: &Path, args: &str) -> (Tmux, std::path::PathBuf) {
    let exit_file = dir.join(format!("{name}.exit"));
    let _ = std::fs::remove_file(&exit_file);
    let bin = env!("CARGO_BIN_EXE_weft");
    let cmd = format!(
        "cd '{}' && '{bin}' {args}; echo $? > '{}'",
        dir.display(),
        exit_file.display()
    );
    (Tmux::start(name, &cmd), exit_file)
}

/// What a thread-home run (seed 1) of `seconds` says: the leader's RLOC16, the partition
/// ID, the RLOC16s of the other routers, and the network line.
struct Home {
    leader: String,
    partition: String,
    routers: Vec<String>,
    network: serde_json::Value,
}

fn home(seconds: &str, pcap: Option<&Path>) -> Home {
    let mut args = vec![
        "sim",
        "run",
        "--scenario",
        "thread-home",
        "--seconds",
        seconds,
        "--json",
    ];
    if let Some(p) = pcap {
        args.extend(["--pcap", p.to_str().unwrap()]);
    }
    let (code, out, err) = procs::run(&args);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    let routers = summary["routers"].as_array().unwrap();
    let rloc = |r: &serde_json::Value| r["rloc16"].as_str().unwrap().to_string();
    Home {
        leader: rloc(routers.iter().find(|r| r["role"] == "leader").unwrap()),
        partition: summary["partition_id"].as_str().unwrap().to_string(),
        routers: routers
            .iter()
            .filter(|r| r["role"] == "router")
            .map(rloc)
            .collect(),
        network: lines[0].clone(),
    }
}

fn quit(t: &Tmux, exit_file: &Path) {
    t.keys("q");
    wait_for("weft to exit", Duration::from_secs(20), || {
        read(exit_file).is_some()
    });
    assert_eq!(read(exit_file).as_deref(), Some("0"), "exit status");
}

#[test]
fn inspect_shows_the_thread_home_network() {
    if Tmux::skipped() {
        return;
    }
    let dir = procs::scratch("tmux", "thread-home");
    let (t, exit_file) = start(
        "weft-thread",
        &dir,
        "inspect --radio sim:thread-home --speed 5",
    );
    // thread-home: five routers (the living room leads), ten end devices attach between 35
    // and 45 virtual seconds; who got which RLOC16 as the same run says.
    let h = home("60", None);
    let leader_id = u16::from_str_radix(&h.leader, 16).unwrap() >> 10;
    let mut screen = String::new();
    wait_for(
        "routers, children and decoded MLE on the screen",
        Duration::from_secs(60),
        || {
            screen = t.capture();
            screen.contains("Nodes (5 routers, 1")
                && screen.contains("MLE advertisement")
                && screen.contains(&format!("R{leader_id} leader"))
        },
    );
    assert!(screen.contains("sim:thread-home (seed 1)"), "{screen}");
    assert!(screen.contains(&format!("{} leader", h.leader)), "{screen}");
    assert_eq!(h.routers.len(), 4);
    for r in &h.routers {
        assert!(screen.contains(&format!("{r} router")), "{r}\n{screen}");
    }
    // Children under their parents, router links with their link quality in/out.
    assert!(screen.contains("child  ↑ R"), "{screen}");
    assert!(
        screen.contains(":2/2") || screen.contains(":3/3"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("partition {}", h.partition)),
        "{screen}"
    );
    assert!(!screen.contains("encrypted frames shown"), "{screen}");

    // The statistics: decrypted frames, MLE by command, no errors, the leader.
    t.keys("s");
    wait_for("the statistics", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("[Stats]")
    });
    assert!(
        screen.contains(&format!("leader        router {leader_id} ({})", h.leader)),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("partition     {}", h.partition)),
        "{screen}"
    );
    assert!(screen.contains("key sequence  0"), "{screen}");
    assert!(screen.contains("child id response"), "{screen}");
    let errors = screen.find("errors by kind").expect("errors by kind");
    assert!(screen[errors..].starts_with("errors by kind"), "{screen}");
    assert!(
        screen[errors..]
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains(" none")),
        "{screen}"
    );

    // A frame held: its layers, the MLE TLVs first.
    t.keys("d");
    t.keys("/");
    t.keys("advertisement");
    t.keys("Enter");
    t.keys("[");
    wait_for("an advertisement's layers", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("holding a frame") && screen.contains("route64 id seq")
    });
    assert!(screen.contains("source_address(rloc16="), "{screen}");
    assert!(
        screen.contains(&format!("leader_data(partition_id={}", h.partition)),
        "{screen}"
    );

    // Help lists the keys that do something here: not sending, not the protocol tabs.
    t.keys("?");
    wait_for("the help screen", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("show or hide this help")
    });
    assert!(screen.contains("previous frame: its layers"), "{screen}");
    assert!(screen.contains("router links by link quality"), "{screen}");
    assert!(!screen.contains("Generic OnOff Set"), "{screen}");
    assert!(!screen.contains("the Thread tab"), "{screen}");
    t.keys("Escape");
    quit(&t, &exit_file);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_shows_both_protocols_a_tab_each() {
    if Tmux::skipped() {
        return;
    }
    let dir = procs::scratch("tmux", "both");
    let (t, exit_file) = start(
        "weft-both",
        &dir,
        "inspect --radio sim:smart-home --radio sim:thread-home --speed 5",
    );
    let mut screen = String::new();
    wait_for(
        "the Mesh tab with the tab bar",
        Duration::from_secs(60),
        || {
            screen = t.capture();
            screen.contains("1 Bluetooth Mesh · ") && screen.contains("motion-hall")
        },
    );
    assert!(screen.contains("2 Thread · "), "{screen}");
    t.keys("2");
    wait_for("the Thread tab", Duration::from_secs(30), || {
        screen = t.capture();
        screen.contains("sim:thread-home") && screen.contains("MLE advertisement")
    });
    assert!(!screen.contains("motion-hall"), "{screen}");
    // The counts move on both tabs.
    let count = |s: &str| -> u64 {
        let i = s.find("2 Thread · ").unwrap() + "2 Thread · ".len();
        s[i..].split_whitespace().next().unwrap().parse().unwrap()
    };
    let first = count(&screen);
    wait_for("more Thread frames", Duration::from_secs(30), || {
        count(&t.capture()) > first
    });
    t.keys("?");
    wait_for(
        "the help with the protocol keys",
        Duration::from_secs(10),
        || {
            screen = t.capture();
            screen.contains("the Thread tab") && screen.contains("S-Tab")
        },
    );
    t.keys("Escape");
    // Esc and the next key sent at once read as one escape sequence: wait for the help to go.
    wait_for("the help to close", Duration::from_secs(10), || {
        !t.capture().contains("S-Tab")
    });
    t.keys("BTab");
    wait_for("back on the Mesh tab", Duration::from_secs(10), || {
        t.capture().contains("motion-hall")
    });
    quit(&t, &exit_file);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A thread-home capture, as (channel, PSDU with FCS) pairs, and what the run says.
#[cfg(feature = "otsim")]
fn thread_home_capture(dir: &Path) -> (Vec<(u8, Vec<u8>)>, Home) {
    use weft_radio::ieee802154_tap;
    use weft_radio::pcap::read_all_packets;
    let pcap = dir.join("home.pcapng");
    let h = home("60", Some(&pcap));
    let packets = read_all_packets(&std::fs::read(&pcap).unwrap()).unwrap();
    let psdus = packets
        .iter()
        .map(|p| {
            let (info, psdu) = ieee802154_tap::parse(&p.data).unwrap();
            (info.channel.unwrap().0 as u8, psdu.to_vec())
        })
        .collect();
    (psdus, h)
}

/// Replays `psdus` onto the OpenThread simulation air of `port_offset` as node 9 would send
/// them.
#[cfg(feature = "otsim")]
fn replay(psdus: &[(u8, Vec<u8>)], offset: u16) {
    use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
    let base = 9000 + 34 * offset;
    let ot = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    ot.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    ot.bind(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, base + 9).into())
        .unwrap();
    let ot: UdpSocket = ot.into();
    for (channel, psdu) in psdus {
        let mut d = vec![*channel];
        d.extend_from_slice(psdu);
        ot.send_to(&d, SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 116), base))
            .unwrap();
        std::thread::sleep(Duration::from_micros(300));
    }
}

#[cfg(feature = "otsim")]
#[test]
fn inspect_shows_a_thread_network_heard_on_the_openthread_air() {
    if Tmux::skipped() {
        return;
    }
    let dir = procs::scratch("tmux", "otsim");
    let (psdus, h) = thread_home_capture(&dir);
    let key = h.network["network_key"].as_str().unwrap();
    let pan = h.network["pan_id"].as_str().unwrap();
    let prefix = h.network["mesh_local_prefix"]
        .as_str()
        .unwrap()
        .trim_end_matches("/64");
    let leader_id = u16::from_str_radix(&h.leader, 16).unwrap() >> 10;
    let offset = 600 + (std::process::id() % 400) as u16;
    let (t, exit_file) = start(
        "weft-otsim",
        &dir,
        &format!(
            "inspect --radio 'otsim:7?port_offset={offset}' --thread-key {key} --channel 15 --pan-id {pan} --mesh-local-prefix {prefix}"
        ),
    );
    let mut screen = String::new();
    wait_for("the inspector", Duration::from_secs(30), || {
        screen = t.capture();
        screen.contains("Traffic (0 frames)")
    });
    assert!(
        screen.contains(&format!("channel 15, PAN {pan}")),
        "{screen}"
    );
    replay(&psdus, offset);
    std::thread::sleep(Duration::from_millis(500));
    screen = t.capture();
    if screen.contains("Traffic (0 frames)") {
        let why = "nothing came over multicast on the loopback interface (`ip link show lo`)";
        assert_ne!(std::env::var("CI").as_deref(), Ok("1"), "{why}");
        eprintln!("skipping: {why}");
        return;
    }
    wait_for(
        "the routers and decoded MLE",
        Duration::from_secs(20),
        || {
            screen = t.capture();
            screen.contains("Nodes (5 routers,") && screen.contains("MLE advertisement")
        },
    );
    assert!(screen.contains(&format!("{} leader", h.leader)), "{screen}");
    assert!(screen.contains("decrypted"), "{screen}");
    t.keys("s");
    wait_for("the statistics", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("[Stats]")
    });
    assert!(
        screen.contains(&format!("leader        router {leader_id} ({})", h.leader)),
        "{screen}"
    );
    assert!(screen.contains("other PAN     0"), "{screen}");
    quit(&t, &exit_file);
    drop(t);

    // Without the key: frames at the MAC level, and the status bar says how to give it.
    let (t, exit_file) = start(
        "weft-otsim-nokey",
        &dir,
        &format!("inspect --radio 'otsim:7?port_offset={offset}'"),
    );
    wait_for("the inspector", Duration::from_secs(30), || {
        screen = t.capture();
        screen.contains("Traffic (0 frames)")
    });
    replay(&psdus, offset);
    wait_for("frames without the key", Duration::from_secs(20), || {
        screen = t.capture();
        screen.contains("no key") && screen.contains("router")
    });
    assert!(screen.contains("--thread-key"), "{screen}");
    assert!(!screen.contains("MLE advertisement"), "{screen}");
    quit(&t, &exit_file);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--pcap FILE` with Thread alone captures the 802.15.4 air from the start (REC in the
/// header); `q` closes the file, which `weft decode --thread-key` opens; `c` starts another.
#[test]
fn inspect_captures_the_thread_air() {
    if Tmux::skipped() {
        return;
    }
    let dir = procs::scratch("tmux", "thread-pcap");
    let pcap = dir.join("thread.pcapng");
    let (t, exit_file) = start(
        "weft-thread-pcap",
        &dir,
        &format!(
            "inspect --radio sim:thread-home --speed 5 --pcap '{}'",
            pcap.display()
        ),
    );
    let mut screen = String::new();
    wait_for("a capture of MLE", Duration::from_secs(60), || {
        screen = t.capture();
        screen.contains("● REC") && screen.contains("MLE advertisement")
    });
    t.keys("c");
    wait_for("the capture to stop", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("capture written to")
    });
    assert!(!screen.contains("● REC"), "{screen}");
    t.keys("c");
    wait_for("a new capture", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("capturing the air to weft-capture-")
    });
    quit(&t, &exit_file);
    let (_, out, _) = procs::run(&[
        "sim",
        "run",
        "--scenario",
        "thread-home",
        "--seconds",
        "1",
        "--json",
    ]);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let key = first["network_key"].as_str().unwrap();
    let (code, out, err) = procs::run(&[
        "decode",
        "--thread-key",
        key,
        "--pcap",
        pcap.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().count() >= 3, "{out}");
    assert!(out.contains("\"command_name\":\"advertisement\""), "{out}");
    // The second capture was closed at exit.
    let more = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("weft-capture-"));
    assert!(more, "no second capture in {}", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
}
