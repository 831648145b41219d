//! `weft` with no arguments in a real terminal (tmux, fixed size): the inspector opens on the
//! smart-home mesh, shows its nodes and decoded traffic, and quits with `q` and exit status 0.
//! Set WEFT_SKIP_TMUX=1 to skip; without it a missing tmux fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("run tmux")
    }

    fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("weft-tmux-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn weft_opens_the_inspector_in_a_terminal() {
    if std::env::var("WEFT_SKIP_TMUX").as_deref() == Ok("1") {
        eprintln!("skipped: WEFT_SKIP_TMUX=1");
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is not installed: install the Debian package `tmux` (apt-get install tmux), or set WEFT_SKIP_TMUX=1 to skip this test");
    }
    let dir = scratch_dir();
    let exit_file = dir.join("exit");
    let _ = std::fs::remove_file(&exit_file);
    let bin = env!("CARGO_BIN_EXE_weft");
    let t = Tmux {
        socket: format!("weft-test-{}", std::process::id()),
        session: "weft".into(),
    };
    let cmd = format!(
        "cd '{}' && '{bin}'; echo $? > '{}'",
        dir.display(),
        exit_file.display()
    );
    let out = t.run(&[
        "new-session",
        "-d",
        "-s",
        &t.session,
        "-x",
        "120",
        "-y",
        "40",
        &cmd,
    ]);
    assert!(
        out.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&out.stderr)
    );

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

fn read(p: &Path) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}
