//! A terminal for the tests that look at the inspector as a user does: tmux, fixed size.
//! Set WEFT_SKIP_TMUX=1 to skip; without it a missing tmux fails the test.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of the test's own, with one session, killed when dropped.
pub struct Tmux {
    pub socket: String,
    pub session: String,
}

impl Tmux {
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("run tmux")
    }

    /// The screen as text.
    pub fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys` into the session (tmux key names: "q", "Enter", "u").
    pub fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", &self.session, keys]);
    }
}

impl Tmux {
    /// Whether WEFT_SKIP_TMUX=1 skips the tests; without it a missing tmux fails them.
    pub fn skipped() -> bool {
        if std::env::var("WEFT_SKIP_TMUX").as_deref() == Ok("1") {
            eprintln!("skipped: WEFT_SKIP_TMUX=1");
            return true;
        }
        if Command::new("tmux").arg("-V").output().is_err() {
            panic!("tmux is not installed: install the Debian package `tmux` (apt-get install tmux), or set WEFT_SKIP_TMUX=1 to skip this test");
        }
        false
    }

    /// A detached session of 120x40 running `cmd`.
    pub fn start(name: &str, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("{name}-{}", std::process::id()),
            session: "weft".into(),
        };
        let out = t.run(&[
            "new-session",
            "-d",
            "-s",
            &t.session,
            "-x",
            "120",
            "-y",
            "40",
            cmd,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Polls `ok` every 250 ms until it holds; panics after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}
