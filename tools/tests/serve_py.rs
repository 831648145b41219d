//! The Python client of `weft serve` and its pytest test (`hil-tests/serve/`), run against the
//! `weft` built here. The venv is `$WEFT_PYTEST_VENV`, else `pytest-venv` in the target
//! directory, where `.ci/run` makes it (pytest pinned there); outside CI the test skips when
//! it is missing, and CI=1 makes it fail instead, as the Bumble tests do.

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("WEFT_PYTEST_VENV") {
        return PathBuf::from(dir);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tools is in the workspace");
    let target =
        var("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), |t| workspace.join(t));
    target.join("pytest-venv")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

#[test]
fn the_python_client_provisions_and_switches_through_weft_serve() {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let has_pytest = Command::new(&python)
        .args(["-c", "import pytest"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pytest {
        let why = format!(
            "no pytest venv at {} (set WEFT_PYTEST_VENV, or run .ci/run to make one)",
            venv.display()
        );
        assert!(
            !in_ci(),
            "{why}; CI=1 does not skip the Python client's test"
        );
        eprintln!("skipped: the_python_client_provisions_and_switches_through_weft_serve: {why}");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hil-tests/serve");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(&dir)
        .env("WEFT", env!("CARGO_BIN_EXE_weft"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pytest failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
