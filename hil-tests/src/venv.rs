//! The Python venvs of the test peers (Bumble, labgrid): where they are looked for, and
//! whether one holds the pinned releases. `.ci/run` makes them beside the build.

use std::path::{Path, PathBuf};

/// `$VAR` when set, else `NAME` in the build's target directory (`$CARGO_TARGET_DIR`, else
/// `target` in the workspace), where `.ci/run` makes it.
pub fn dir(var: &str, name: &str) -> PathBuf {
    let set = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set(var) {
        return PathBuf::from(dir);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("hil-tests is in the workspace");
    let target =
        set("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), |t| workspace.join(t));
    target.join(name)
}

/// The venv's `bin` directory when `venv` holds every `(distribution, version)` of `pins`;
/// otherwise why not (`what` names the venv: "Bumble", "labgrid"; `var` is its variable).
pub fn bin_with(
    venv: &Path,
    what: &str,
    var: &str,
    pins: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        return Err(format!(
            "no {what} venv at {} (set {var}, or run .ci/run to make one)",
            venv.display()
        ));
    }
    let site_packages: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|lib| lib.path().join("site-packages"))
        .collect();
    for (dist, version) in pins {
        let dist_info = format!("{dist}-{version}.dist-info");
        if !site_packages.iter().any(|s| s.join(&dist_info).is_dir()) {
            return Err(format!(
                "the venv at {} lacks {dist}=={version} (pip install {dist}=={version})",
                venv.display()
            ));
        }
    }
    Ok(bin)
}
