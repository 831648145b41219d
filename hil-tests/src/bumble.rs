//! Emulated Bluetooth LE controllers for tests: `hil-tests/bumble/controllers.py` (Bumble) run
//! as a child process, one controller per transport, all on one shared air.
//!
//! ```no_run
//! use weft_hil::bumble::Fixture;
//! // Two controllers on free TCP ports; prints "skipped: ..." and returns None when the
//! // Bumble venv is absent (and panics instead when CI=1).
//! let Some(ctl) = Fixture::tcp(2).start_or_skip() else { return };
//! let radio = ctl.radio_uri(0); // "hci-tcp:127.0.0.1:PORT", for `weft ... --radio`
//! # let _ = radio;
//! ```
//!
//! The venv is `$WEFT_BUMBLE_VENV`, or `bumble-venv` in the target directory; `.ci/run` makes
//! it (`python3 -m venv DIR && DIR/bin/pip install bumble==0.0.236`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Bumble release the fixture is written against.
pub const BUMBLE_VERSION: &str = "0.0.236";

/// How long the fixture may take to print its ready lines (importing Bumble takes ~0.5 s).
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The fixture script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bumble/controllers.py")
}

/// Where the venv is looked for: `$WEFT_BUMBLE_VENV`, else `bumble-venv` in the build's target
/// directory (`$CARGO_TARGET_DIR`, else `target` in the workspace), where `.ci/run` makes it.
pub fn venv_dir() -> PathBuf {
    crate::venv::dir("WEFT_BUMBLE_VENV", "bumble-venv")
}

/// The venv's Python when `venv` holds Bumble [`BUMBLE_VERSION`]; otherwise why not.
pub fn python_in(venv: &Path) -> Result<PathBuf, String> {
    let bin = crate::venv::bin_with(
        venv,
        "Bumble",
        "WEFT_BUMBLE_VENV",
        &[("bumble", BUMBLE_VERSION)],
    )?;
    Ok(bin.join("python"))
}

/// True when the environment says this is CI (`CI=1` or `CI=true`): nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Which controllers to start: transports in order (controller `i` is transport `i`) and any
/// further arguments of `controllers.py` (`--stock-quirks`, `--quirk NAME`, `--rssi 0-1=-70`,
/// `--loss 0-2=0.5`, `--seed N`, `--unknown-as-status`).
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    transports: Vec<String>,
    args: Vec<String>,
}

impl Fixture {
    /// `n` controllers, each on a free TCP port of 127.0.0.1.
    pub fn tcp(n: usize) -> Fixture {
        (0..n).fold(Fixture::default(), |f, _| {
            f.transport("tcp-server:127.0.0.1:0")
        })
    }

    /// One more controller on a Bumble transport: `tcp-server:HOST:PORT` (port 0 picks a free
    /// one), `pty:PATH`, `unix-server:PATH`.
    pub fn transport(mut self, spec: &str) -> Fixture {
        self.transports.push(spec.to_owned());
        self
    }

    /// One more argument for `controllers.py`.
    pub fn arg(mut self, arg: &str) -> Fixture {
        self.args.push(arg.to_owned());
        self
    }

    /// Starts the controllers and waits until every transport is ready. Panics when they do
    /// not start. When the venv is absent it writes `skipped: TEST: why` to standard error
    /// (past the test harness's capture, so it shows; TEST is the name of the calling thread,
    /// which libtest names after the test) and returns `None`, except under CI ([`in_ci`]),
    /// where a missing venv panics.
    pub fn start_or_skip(&self) -> Option<Controllers> {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a test");
        self.start_or_skip_in(&venv_dir(), in_ci(), test)
    }

    fn start_or_skip_in(&self, venv: &Path, ci: bool, test: &str) -> Option<Controllers> {
        match python_in(venv) {
            Ok(python) => Some(
                self.start(&python)
                    .unwrap_or_else(|e| panic!("{test}: {e}")),
            ),
            Err(why) if ci => panic!("{test}: {why}; CI=1 does not skip the emulated controllers"),
            Err(why) => {
                let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
                None
            }
        }
    }

    /// Starts the controllers with `python` and waits for their ready lines.
    pub fn start(&self, python: &Path) -> Result<Controllers, String> {
        let log = tempfile::NamedTempFile::new().map_err(|e| format!("a log file: {e}"))?;
        let mut cmd = Command::new(python);
        cmd.arg(script());
        for t in &self.transports {
            cmd.args(["--transport", t]);
        }
        let mut child = cmd
            .args(&self.args)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().map_err(|e| format!("a log file: {e}"))?)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        let stdin = child.stdin.take();
        // Standard output comes through a thread, so that waits have a deadline; the thread
        // drains it until the fixture exits.
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut ctl = Controllers {
            child,
            stdin,
            lines: rx,
            ready: Vec::new(),
            log,
        };
        let deadline = Instant::now() + READY_WITHIN;
        while ctl.ready.len() < self.transports.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match ctl.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(spec) = line.strip_prefix("ready ") {
                        ctl.ready.push(spec.to_owned());
                    }
                }
                Err(e) => {
                    let what = match e {
                        mpsc::RecvTimeoutError::Timeout => "were not ready in time",
                        mpsc::RecvTimeoutError::Disconnected => "exited before they were ready",
                    };
                    return Err(format!("the emulated controllers {what}:\n{}", ctl.log()));
                }
            }
        }
        Ok(ctl)
    }
}

/// Running emulated controllers; stopped (standard input closed, then killed if need be) and
/// reaped when dropped.
#[derive(Debug)]
pub struct Controllers {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    ready: Vec<String>,
    log: tempfile::NamedTempFile,
}

impl Controllers {
    /// The transports as the fixture reported them ready (`tcp-server:127.0.0.1:41234`, a
    /// port 0 replaced by the one it got).
    pub fn transports(&self) -> &[String] {
        &self.ready
    }

    /// The TCP address of controller `i` (which must be on a `tcp-server` transport).
    pub fn tcp_addr(&self, i: usize) -> SocketAddr {
        let spec = &self.ready[i];
        let addr = spec.strip_prefix("tcp-server:").unwrap_or_else(|| {
            panic!("controller {i} is not on a TCP transport: {spec}");
        });
        addr.parse().unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    /// The `--radio` URI for weft that reaches controller `i`: `hci-tcp:HOST:PORT`,
    /// `hci:PATH` (pty), `hci-unix:PATH`.
    pub fn radio_uri(&self, i: usize) -> String {
        let spec = &self.ready[i];
        let (scheme, rest) = spec.split_once(':').expect("SCHEME:SPEC");
        match scheme {
            "tcp-server" => format!("hci-tcp:{rest}"),
            "pty" => format!("hci:{rest}"),
            "unix-server" => format!("hci-unix:{rest}"),
            _ => panic!("no weft radio URI for {spec}"),
        }
    }

    /// From now on the link between controllers `i` and `j` loses each PDU with probability
    /// `p` (1.0: the two no longer hear each other). Returns once the fixture has taken it.
    pub fn set_loss(&mut self, i: usize, j: usize, p: f64) {
        self.control(&format!("loss {i}-{j}={p}"));
    }

    /// From now on the link between controllers `i` and `j` reports `dbm` as its RSSI.
    pub fn set_rssi(&mut self, i: usize, j: usize, dbm: i8) {
        self.control(&format!("rssi {i}-{j}={dbm}"));
    }

    /// Sends one control line and waits (5 s at most) for its `ok`; panics otherwise.
    fn control(&mut self, line: &str) {
        let stdin = self
            .stdin
            .as_mut()
            .expect("the fixture's standard input is open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{line}: the fixture's standard input: {e}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(answer) if answer == format!("ok {line}") => return,
                Ok(answer) if answer.starts_with(&format!("error {line}")) => {
                    panic!("the fixture refused {answer}")
                }
                Ok(_) => continue,
                Err(e) => panic!("{line}: no answer from the fixture ({e}):\n{}", self.log()),
            }
        }
    }

    /// The fixture's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the fixture wrote to standard error so far (`BUMBLE_LOGLEVEL=DEBUG` in the
    /// environment makes it trace every packet).
    pub fn log(&self) -> String {
        let mut text = String::new();
        let _ = File::open(self.log.path()).and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Waits up to `within` for the fixture to exit by itself (after a signal, say).
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        drop(self.stdin.take()); // end of file: the fixture stops and cleans up
        if self.wait_exit(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_venv_skips_outside_ci() {
        let none = Path::new("/nonexistent/weft-bumble-venv");
        assert!(python_in(none).unwrap_err().contains("no Bumble venv"));
        assert!(Fixture::tcp(1).start_or_skip_in(none, false, "t").is_none());
    }

    #[test]
    #[should_panic(expected = "CI=1 does not skip")]
    fn a_missing_venv_fails_in_ci() {
        let none = Path::new("/nonexistent/weft-bumble-venv");
        Fixture::tcp(1).start_or_skip_in(none, true, "t");
    }

    #[test]
    fn a_venv_without_bumble_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/python"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("lib/python3.11/site-packages")).unwrap();
        assert!(python_in(dir.path()).unwrap_err().contains("lacks bumble"));
    }
}
