//! The Python client of `weft serve` and its pytest test (`hil-tests/serve/`), run against the
//! `weft` built here with the pytest of the labgrid venv (`weft_hil::labgrid`, which `.ci/run`
//! makes); outside CI the test skips when the venv is missing, and CI=1 makes it fail instead.

use std::path::Path;
use std::process::Command;

#[test]
fn the_python_client_provisions_and_switches_through_weft_serve() {
    let Some(bin) = weft_hil::labgrid::bin_or_skip() else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hil-tests/serve");
    let out = Command::new(bin.join("python"))
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
