//! Where `weft radios` finds the live simulated airs: each `weft sim serve` registers itself in
//! `$XDG_RUNTIME_DIR/weft/hubs/PID.json` (the user's own runtime directory, mode 0700) while
//! it serves, and takes the entry away when it stops. A hub killed outright leaves its entry
//! behind: an entry counts only while its process lives and its socket is there, so nothing is
//! connected to (a connection would put a node on that air) and nothing is scanned.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{self, Kind};

/// A registration file: a few hundred octets.
const ENTRY: Kind = Kind {
    what: "hub registration",
    limit: 16 * 1024,
    fix: "",
};

/// The registry in the runtime directory `runtime_dir`.
pub fn registry(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("weft/hubs")
}

/// What a hub says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hub {
    /// Its socket, an absolute path.
    pub socket: PathBuf,
    pub pid: u32,
    /// The scenario whose nodes live on its air.
    pub scenario: Option<String>,
}

/// A hub's entry, taken away when dropped.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Registers the hub of this process serving on `socket` (made absolute) in `runtime_dir`'s
/// registry; `None` (with a trace saying why) when it cannot be written: the hub serves all the
/// same, `weft radios` just does not list it.
pub fn register(runtime_dir: &Path, socket: &Path, scenario: Option<&str>) -> Option<Registration> {
    let write = || -> std::io::Result<Registration> {
        let dir = registry(runtime_dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let socket = std::path::absolute(socket)?;
        let pid = std::process::id();
        let hub = Hub {
            socket,
            pid,
            scenario: scenario.map(str::to_string),
        };
        let path = dir.join(format!("{pid}.json"));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(serde_json::to_string(&hub).unwrap_or_default().as_bytes())?;
        Ok(Registration { path })
    };
    match write() {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::debug!(target: "weft::hub", "not registered for weft radios: {e}");
            None
        }
    }
}

/// The hubs registered in `runtime_dir` whose process lives (in `proc`) and whose socket is
/// there, by socket path.
pub fn live_hubs(runtime_dir: &Path, proc: &Path) -> Vec<Hub> {
    let dir = registry(runtime_dir);
    let mut hubs: Vec<Hub> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let bytes = files::read(&e.path(), ENTRY).ok()?;
            let hub: Hub = serde_json::from_slice(&bytes).ok()?;
            let alive = proc.join(hub.pid.to_string()).is_dir();
            let socket = fs::metadata(&hub.socket).is_ok_and(|m| m.file_type().is_socket());
            (alive && socket).then_some(hub)
        })
        .collect();
    hubs.sort_by(|a, b| a.socket.cmp(&b.socket));
    hubs
}
