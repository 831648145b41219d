//! Captures from the inspector (`c`, `--pcap FILE`): the frames go to a pcapng file through
//! weft-radio's one capture writer ([`weft_radio::capture`]); here is only what the inspector
//! adds, the key that starts and stops them and how a failed file is shown.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use weft_radio::capture::{CaptureError, CaptureFile};

use super::{Instant, Model};

/// What the air tap of a scenario writes to: the file, and why it stopped when it failed.
#[derive(Debug, Default)]
pub(crate) struct TapCapture {
    pub file: Option<CaptureFile>,
    pub failed: Option<String>,
}

impl TapCapture {
    /// One advertising PDU on `channel` at `at` (virtual time) from `adv_address`; a file that
    /// fails is let go, and why is kept for the status line.
    pub fn write(&mut self, at: Instant, adv_address: [u8; 6], channel: u8, bytes: &[u8]) {
        let Some(f) = self.file.as_mut() else { return };
        if let Err(e @ CaptureError::File { .. }) =
            f.write_adv(at, adv_address, channel, None, bytes)
        {
            self.failed = Some(e.to_string());
            self.file = None;
        }
    }
}

/// What the `c` key does, given what stopping the capture gave (`None`: none ran): when none
/// ran, `start` one in `dir` (default: the working directory). The line for the status bar.
pub(crate) fn toggle_capture(
    stopped: Option<Result<PathBuf, String>>,
    dir: Option<&Path>,
    start: impl FnOnce(&Path) -> Result<(), String>,
) -> String {
    match stopped {
        Some(Ok(p)) => format!("capture written to {}", p.display()),
        Some(Err(e)) => format!("capture failed: {e}"),
        None => {
            let path = new_capture_path(dir);
            match start(&path) {
                Ok(()) => format!("capturing the air to {} (c stops)", path.display()),
                Err(e) => format!("capture failed: {e}"),
            }
        }
    }
}

/// The capture closed as the network stops: a failure is kept in a last snapshot, for the
/// command to report once the terminal is restored.
pub(crate) fn close_at_exit(
    model: &mut Model,
    stopped: Option<Result<PathBuf, String>>,
    shared: &Mutex<Arc<Model>>,
) {
    if let Some(Err(e)) = stopped {
        model.capture_error = Some(e);
        if let Ok(mut s) = shared.lock() {
            *s = Arc::new(model.clone());
        }
    }
}

/// A new capture file's path: `weft-capture-SECONDS.pcapng` in `dir` (default: the working
/// directory).
pub(crate) fn new_capture_path(dir: Option<&Path>) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("weft-capture-{secs}.pcapng");
    match dir {
        Some(d) => d.join(name),
        None => PathBuf::from(name),
    }
}
