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
    // thread-home: routers 0 (the leader), 9, 17, 33, 48; ten children attach in the first
    // five virtual seconds.
    let mut screen = String::new();
    wait_for(
        "routers, children and decoded MLE on the screen",
        Duration::from_secs(60),
        || {
            screen = t.capture();
            screen.contains("Nodes (5 routers, 10 children)")
                && screen.contains("MLE advertisement")
                && screen.contains("R0 leader")
        },
    );
    assert!(screen.contains("sim:thread-home (seed 1)"), "{screen}");
    assert!(screen.contains("0000 leader"), "{screen}");
    for r in ["2400 router", "4400 router", "8400 router", "c000 router"] {
        assert!(screen.contains(r), "{r}\n{screen}");
    }
    // Children under their parents, router links with their link quality in/out.
    assert!(screen.contains("child  ↑ R"), "{screen}");
    assert!(
        screen.contains(":2/2") || screen.contains(":3/3"),
        "{screen}"
    );
    assert!(screen.contains("partition 77656674"), "{screen}");
    assert!(!screen.contains("encrypted frames shown"), "{screen}");

    // The statistics: decrypted frames, MLE by command, no errors, the leader.
    t.keys("s");
    wait_for("the statistics", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("[Stats]")
    });
    assert!(screen.contains("leader        router 0 (0000)"), "{screen}");
    assert!(screen.contains("partition     77656674"), "{screen}");
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
        screen.contains("leader_data(partition_id=77656674"),
        "{screen}"
    );

    // Help lists the keys, the protocol tabs among them.
    t.keys("?");
    wait_for("the help screen", Duration::from_secs(10), || {
        screen = t.capture();
        screen.contains("the Thread tab")
    });
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
    t.keys("BTab");
    wait_for("back on the Mesh tab", Duration::from_secs(10), || {
        t.capture().contains("motion-hall")
    });
    quit(&t, &exit_file);
    let _ = std::fs::remove_dir_all(&dir);
}
