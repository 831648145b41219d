//! weft in a labgrid lab (issue #16, labs of many hosts): a real `labgrid-coordinator` and
//! `labgrid-exporter` on localhost (`weft_hil::labgrid::Lab`), the exporter publishing two
//! Bumble-emulated controllers as `WeftRadio` resources, one place each, created and locked
//! with `labgrid-client`; then the pytest example of `hil-tests/labgrid/` runs through the
//! places: `weft serve` on one place's radio provisions and switches a `weft node` on the
//! other's, all started by the package's drivers. Once with the exporter on this host (the
//! drivers start weft as child processes), once with the exporter naming another host, reached
//! through labgrid's SSH connection to a loopback `ssh` (`hil-tests/labgrid/loopback-ssh`: no
//! sshd here) that runs the commands on this host.
//!
//! Skipped, saying so, when the Bumble or the labgrid venv is missing, except under CI=1
//! (`.ci/run` makes both).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weft_hil::bumble::Fixture;
use weft_hil::labgrid::{self, Lab};

/// The longest the example may run before it and everything it started are killed.
const EXAMPLE_WITHIN: Duration = Duration::from_secs(300);

/// The exporter's file: one group (one place) per controller, as on a lab's host.
fn exporter_yaml(radios: &[(String, String)]) -> String {
    let mut yaml = String::from("## written by tools/tests/labgrid.rs\n");
    for (place, uri) in radios {
        yaml += &format!(
            "{place}:\n  WeftRadio:\n    host: \"{{{{ hostname }}}}\"\n    uri: \"{uri}\"\n"
        );
    }
    yaml
}

/// Kills the process group `pgid` (pytest and the weft processes its drivers started) when
/// dropped, pass or fail.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn the_pytest_example_provisions_through_labgrid_places() {
    run_example(None);
}

#[test]
fn the_drivers_reach_another_host_through_labgrids_ssh_connection() {
    run_example(Some("weft-lab-host"));
}

/// Runs the example through two places of emulated controllers exported as on `host` (this
/// host when `None`, else another, reached through the loopback ssh).
fn run_example(host: Option<&str>) {
    let Some(bin) = labgrid::bin_or_skip() else {
        return;
    };
    let Some(ctl) = Fixture::tcp(2).start_or_skip() else {
        return;
    };
    let radios: Vec<(String, String)> = (0..2)
        .map(|i| (format!("weft-{i}"), ctl.radio_uri(i)))
        .collect();
    let places: Vec<&str> = radios.iter().map(|(p, _)| p.as_str()).collect();
    let lab = Lab::start_as(&bin, &exporter_yaml(&radios), &places, host)
        .unwrap_or_else(|e| panic!("{e}"));
    for place in &places {
        lab.place(place)
            .unwrap_or_else(|e| panic!("{e}\n{}", lab.logs()));
    }
    let shown = lab.client(&["-p", "weft-0", "show"]).unwrap();
    assert!(shown.contains(&radios[0].1), "{shown}");

    // The weft under test comes first on PATH: the drivers run `weft` on the radio's host;
    // across hosts, `ssh` is the loopback one.
    let weft = Path::new(env!("CARGO_BIN_EXE_weft"));
    let ssh = host.map(|_| labgrid::package_dir().join("loopback-ssh"));
    let path = std::env::join_paths(
        ssh.into_iter()
            .chain([weft.parent().unwrap().to_owned()])
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
    )
    .unwrap();
    let started = Instant::now();
    let mut pytest = Command::new(bin.join("python"))
        .args([
            "-m",
            "pytest",
            "--lg-env",
            "env.yaml",
            "--lg-coordinator",
            lab.address(),
        ])
        .args(["-p", "no:cacheprovider", "-v"])
        .current_dir(labgrid::package_dir())
        .env("PATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1") // nothing written into the source tree
        .env("LG_PLACE", "weft-0")
        .env("LG_DEVICE_PLACE", "weft-1")
        .env("LG_WEFT_NET", lab.dir().join("net.weft"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(lab.dir().join("pytest.stderr")).unwrap())
        .process_group(0)
        .spawn()
        .expect("python -m pytest");
    let _group = Group(pytest.id());
    let (tx, rx) = std::sync::mpsc::channel();
    let mut out = pytest.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
        let _ = tx.send(text);
    });
    let output = rx.recv_timeout(EXAMPLE_WITHIN).unwrap_or_else(|_| {
        panic!(
            "the example did not end in {EXAMPLE_WITHIN:?}\n{}",
            lab.logs()
        )
    });
    let status = pytest.wait().unwrap();
    let took = started.elapsed();
    let output =
        output + &std::fs::read_to_string(lab.dir().join("pytest.stderr")).unwrap_or_default();
    assert!(
        status.success(),
        "pytest: {status}\n{output}\n{}",
        lab.logs()
    );
    assert!(output.contains("3 passed"), "{output}");
    if let Some(host) = host {
        // The resource named the other host: the drivers went through ssh.
        assert!(shown.contains(host), "{shown}");
    }
    eprintln!(
        "labgrid ({}): coordinator and exporter up in {:.2} s; the example took {:.2} s",
        host.map_or("this host", |_| "through ssh"),
        lab.up_in.as_secs_f64(),
        took.as_secs_f64()
    );
    // What the drivers started is gone with their deactivation: nothing of the example's
    // process group is left (kill -0 on the group fails).
    let left = Command::new("kill")
        .args(["-0", "--", &format!("-{}", pytest.id())])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        !left.success(),
        "processes of the example are still running"
    );
}
