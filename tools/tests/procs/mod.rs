//! Helpers for the tests that run `weft` commands as separate processes.
#![allow(dead_code)] // each test binary uses some of these

pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// A child process killed (and reaped) when the test lets go of it, pass or fail.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `weft` binary under test.
pub fn weft() -> Command {
    Command::cargo_bin("weft").unwrap()
}

/// Runs `weft` with `args`: exit code, stdout, stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = weft().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `weft sim serve --socket sock`, once its socket is there.
pub fn hub(sock: &Path) -> Killed {
    let hub = Killed(
        weft()
            .args(["sim", "serve", "--socket", sock.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(sock);
    hub
}

/// `weft node --models onoff-server` on `radio` with `uuid` and its state in `state`, quiet
/// (a light waiting for a provisioner).
pub fn onoff_node(radio: &str, uuid: &str, state: &Path) -> Killed {
    Killed(
        weft()
            .args(["node", "--radio", radio, "--uuid", uuid])
            .args(["--models", "onoff-server", "--state"])
            .arg(state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `weft serve --radio radio --net net --socket ctl`, once its socket is there.
pub fn serve(radio: &str, net: &Path, ctl: &Path) -> Killed {
    let server = Killed(
        weft()
            .args(["serve", "--radio", radio, "--socket"])
            .arg(ctl)
            .arg("--net")
            .arg(net)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(ctl);
    server
}

/// Waits (10 s at most) for `path` to exist, e.g. a hub's socket.
pub fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory for one test: `weft-GROUP-NAME-PID` in the temporary directory.
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-{group}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends a signal to a process with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}
