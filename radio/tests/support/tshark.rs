//! Driving tshark from the tests that check weft's captures (radio/tests/tshark.rs and, through
//! `#[path]`, tools/tests/sim_tshark.rs): find it, run it for a list of fields, read numbers.
//!
//! tshark comes from the Debian package `tshark`, which CI installs. Without it the tests fail,
//! unless `WEFT_SKIP_TSHARK=1` is set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Expert info severities as tshark prints them (epan/proto.h `PI_WARN`).
pub const PI_WARN: u64 = 0x0060_0000;

/// One frame: field to value (several occurrences joined by commas).
pub type Frame = BTreeMap<&'static str, String>;

/// The tshark binary, or `None` (after saying why) when the test is to be skipped.
pub fn tshark() -> Option<PathBuf> {
    let bin = PathBuf::from("tshark");
    match Command::new(&bin).arg("--version").output() {
        Ok(out) if out.status.success() => {
            let v = String::from_utf8_lossy(&out.stdout);
            eprintln!("{}", v.lines().next().unwrap_or_default());
            Some(bin)
        }
        _ if std::env::var("WEFT_SKIP_TSHARK").as_deref() == Ok("1") => {
            eprintln!("tshark is not installed: skipping, as WEFT_SKIP_TSHARK=1 asks");
            None
        }
        _ => panic!(
            "tshark is not installed: install the Debian package `tshark` \
             (`apt-get install tshark`; CI installs it), or set WEFT_SKIP_TSHARK=1 to skip"
        ),
    }
}

/// Runs tshark (two passes, so reassembled segments decode) on `file` with the preferences
/// `prefs`, printing `fields`; one [`Frame`] per frame.
pub fn run_tshark(
    bin: &Path,
    file: &Path,
    prefs: &[String],
    fields: &[&'static str],
) -> Vec<Frame> {
    let mut cmd = Command::new(bin);
    cmd.arg("-r").arg(file).arg("-2");
    for p in prefs {
        cmd.arg("-o").arg(p);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]);
    cmd.args(["-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("tshark prints UTF-8");
    eprintln!("tshark on {}:\n{stdout}", file.display());
    stdout
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), fields.len(), "tshark line {line:?}");
            fields
                .iter()
                .zip(cols)
                .map(|(f, v)| (*f, v.to_string()))
                .collect()
        })
        .collect()
}

/// A number as tshark prints it: `0x` hex or decimal.
pub fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("not a number: {s:?}: {e}"))
}
