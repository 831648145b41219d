//! A labgrid lab on localhost for tests: a real `labgrid-coordinator` and `labgrid-exporter`
//! (PyPI `labgrid`), each a child process, the exporter publishing the resources of a YAML
//! file; `labgrid-client` creates and locks places on it. The Python side (the `WeftRadio`
//! resource, the drivers that run `weft serve` and `weft node`, the pytest example) is
//! `hil-tests/labgrid/`.
//!
//! ```no_run
//! use weft_hil::labgrid::Lab;
//! // Prints "skipped: ..." and returns None when the labgrid venv is absent (panics under CI=1).
//! let Some(bin) = weft_hil::labgrid::bin_or_skip() else { return };
//! let lab = Lab::start(&bin, "weft-0:\n  WeftRadio:\n    host: localhost\n    uri: hci-tcp:127.0.0.1:9001\n", &["weft-0"]).unwrap();
//! lab.place("weft-0").unwrap(); // created, matched to weft-ci/weft-0/*, acquired
//! ```
//!
//! The venv is `$WEFT_LABGRID_VENV`, or `labgrid-venv` in the target directory; `.ci/run`
//! makes it (`python3 -m venv DIR && DIR/bin/pip install labgrid==26.0.1 pytest==9.2.0`).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The labgrid release the Python package and this fixture are written against.
pub const LABGRID_VERSION: &str = "26.0.1";
/// The pytest release the example runs under.
pub const PYTEST_VERSION: &str = "9.2.0";

/// The exporter's name: its resources are `weft-ci/GROUP/CLASS`.
pub const EXPORTER: &str = "weft-ci";

/// How long the coordinator may take to listen and the exporter to publish its resources.
const UP_WITHIN: Duration = Duration::from_secs(60);

/// The Python package and the example.
pub fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("labgrid")
}

/// Where the venv is looked for: `$WEFT_LABGRID_VENV`, else `labgrid-venv` in the target
/// directory.
pub fn venv_dir() -> PathBuf {
    crate::venv::dir("WEFT_LABGRID_VENV", "labgrid-venv")
}

/// The venv's `bin` when it holds labgrid [`LABGRID_VERSION`] and pytest [`PYTEST_VERSION`].
pub fn bin_in(venv: &Path) -> Result<PathBuf, String> {
    crate::venv::bin_with(
        venv,
        "labgrid",
        "WEFT_LABGRID_VENV",
        &[("labgrid", LABGRID_VERSION), ("pytest", PYTEST_VERSION)],
    )
}

/// The venv's `bin`; when the venv is absent, writes `skipped: TEST: why` to standard error
/// and returns `None`, except under CI ([`crate::bumble::in_ci`]), where it panics.
pub fn bin_or_skip() -> Option<PathBuf> {
    bin_or_skip_in(&venv_dir(), crate::bumble::in_ci())
}

fn bin_or_skip_in(venv: &Path, ci: bool) -> Option<PathBuf> {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    match bin_in(venv) {
        Ok(bin) => Some(bin),
        Err(why) if ci => panic!("{test}: {why}; CI=1 does not skip the labgrid lab"),
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
            None
        }
    }
}

/// A coordinator and an exporter on localhost, in a scratch directory of their own (the
/// coordinator keeps its places there); both killed and reaped when dropped.
#[derive(Debug)]
pub struct Lab {
    bin: PathBuf,
    address: String,
    coordinator: Option<Child>,
    exporter: Option<Child>,
    dir: tempfile::TempDir,
    /// How long the coordinator and the exporter took until every group was published.
    pub up_in: Duration,
}

impl Lab {
    /// Starts a coordinator on a free port of 127.0.0.1, then an exporter of `resources` (the
    /// exporter's YAML, rendered by labgrid with Jinja2: `{{ hostname }}`, comments `##`),
    /// and waits until the coordinator lists every group of `groups`.
    pub fn start(bin: &Path, resources: &str, groups: &[&str]) -> Result<Lab, String> {
        Lab::start_as(bin, resources, groups, None)
    }

    /// [`Lab::start`], the exporter publishing `hostname` as its host (`--hostname`; its
    /// `{{ hostname }}`) instead of this host's name.
    pub fn start_as(
        bin: &Path,
        resources: &str,
        groups: &[&str],
        hostname: Option<&str>,
    ) -> Result<Lab, String> {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("weft-labgrid-")
            .tempdir()
            .map_err(|e| format!("a scratch directory: {e}"))?;
        let port = free_port()?;
        let address = format!("127.0.0.1:{port}");
        let mut lab = Lab {
            bin: bin.to_owned(),
            address,
            coordinator: None,
            exporter: None,
            dir,
            up_in: Duration::ZERO,
        };
        lab.coordinator = Some(lab.spawn(
            "labgrid-coordinator",
            &["-l", &lab.address],
            "coordinator.log",
        )?);
        // An exporter that finds no coordinator exits (status 100, for systemd to restart it):
        // it starts once the coordinator listens.
        let deadline = started + UP_WITHIN;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            lab.check_running()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "labgrid-coordinator did not listen on {}:\n{}",
                    lab.address,
                    lab.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let file = lab.dir.path().join("exporter.yaml");
        std::fs::write(&file, resources).map_err(|e| format!("{}: {e}", file.display()))?;
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["-c", &lab.address, "-n", EXPORTER];
        if let Some(name) = hostname {
            args.extend(["--hostname", name]);
        }
        args.push(&file);
        lab.exporter = Some(lab.spawn("labgrid-exporter", &args, "exporter.log")?);
        loop {
            lab.check_running()?;
            let listed = lab.client(&["resources"]).unwrap_or_default();
            if groups.iter().all(|g| {
                listed
                    .lines()
                    .any(|l| l == format!("{EXPORTER}/{g}/WeftRadio"))
            }) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the exporter did not publish {groups:?}:\n{listed}\n{}",
                    lab.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        lab.up_in = started.elapsed();
        Ok(lab)
    }

    fn spawn(&self, tool: &str, args: &[&str], log: &str) -> Result<Child, String> {
        let log = File::create(self.dir.path().join(log)).map_err(|e| format!("{log}: {e}"))?;
        let err = log.try_clone().map_err(|e| format!("{e}"))?;
        Command::new(self.bin.join(tool))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run {tool}: {e}"))
    }

    /// An error naming the process that exited, with the logs.
    fn check_running(&mut self) -> Result<(), String> {
        let mut exited = None;
        for (name, child) in [
            ("labgrid-coordinator", &mut self.coordinator),
            ("labgrid-exporter", &mut self.exporter),
        ] {
            if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
                exited = Some(format!("{name} exited ({status})"));
                break;
            }
        }
        match exited {
            Some(what) => Err(format!("{what}:\n{}", self.logs())),
            None => Ok(()),
        }
    }

    /// The coordinator's address, `127.0.0.1:PORT` (`LG_COORDINATOR`, `--lg-coordinator`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The directory the lab runs in (its logs, the coordinator's places).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `labgrid-client -x ADDRESS ARGS`: its standard output, or why it failed.
    pub fn client(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(self.bin.join("labgrid-client"))
            .args(["-x", &self.address])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run labgrid-client: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "labgrid-client {}: {}\n{text}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Creates the place `name`, matches it to the exporter's group of the same name and
    /// acquires it for this user on this host.
    pub fn place(&self, name: &str) -> Result<(), String> {
        self.client(&["-p", name, "create"])?;
        self.client(&["-p", name, "add-match", &format!("{EXPORTER}/{name}/*")])?;
        self.client(&["-p", name, "acquire"])?;
        Ok(())
    }

    /// What the coordinator and the exporter wrote.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for log in ["coordinator.log", "exporter.log"] {
            text += &format!("--- {log}\n");
            let _ =
                File::open(self.dir.path().join(log)).and_then(|mut f| f.read_to_string(&mut text));
        }
        text
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in [self.exporter.take(), self.coordinator.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP port of 127.0.0.1 free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("a free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_venv_skips_outside_ci() {
        let none = Path::new("/nonexistent/weft-labgrid-venv");
        assert!(bin_in(none).unwrap_err().contains("no labgrid venv"));
        assert!(bin_or_skip_in(none, false).is_none());
    }

    #[test]
    #[should_panic(expected = "CI=1 does not skip")]
    fn a_missing_venv_fails_in_ci() {
        bin_or_skip_in(Path::new("/nonexistent/weft-labgrid-venv"), true);
    }

    #[test]
    fn a_venv_without_pytest_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/python"), "").unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join(format!("labgrid-{LABGRID_VERSION}.dist-info"))).unwrap();
        assert!(bin_in(dir.path()).unwrap_err().contains("lacks pytest"));
    }
}
