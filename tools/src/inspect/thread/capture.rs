//! `c` (and `--pcap FILE` with Thread alone) on the Thread tab: every 802.15.4 frame heard,
//! before the channel and PAN filters, into a pcapng file through weft-radio's one capture
//! writer (`CaptureFile::write_wpan`: LINKTYPE_IEEE802_15_4_TAP with the channel and RSSI, the
//! FCS recomputed), as `weft capture` writes them.

use std::path::{Path, PathBuf};

use weft_mesh::Instant;
use weft_radio::capture::{CaptureError, CaptureFile};
use weft_radio::Caps;

/// The file being written, and why it stopped when it failed.
#[derive(Debug, Default)]
pub struct ThreadCapture {
    file: Option<CaptureFile>,
    failed: Option<String>,
}

impl ThreadCapture {
    /// Creates `path`.
    pub fn start(path: &Path) -> Result<Self, String> {
        let file = CaptureFile::create(path, Caps::IEEE802154).map_err(|e| e.to_string())?;
        Ok(ThreadCapture {
            file: Some(file),
            failed: None,
        })
    }

    /// One MAC frame (without FCS); a file that fails is let go, and why is kept.
    pub fn write(
        &mut self,
        at: Instant,
        channel: u8,
        rssi: Option<i8>,
        lqi: Option<u8>,
        mac: &[u8],
    ) {
        let Some(f) = self.file.as_mut() else { return };
        if let Err(e @ CaptureError::File { .. }) = f.write_wpan(at, channel, rssi, lqi, mac) {
            self.failed = Some(e.to_string());
            self.file = None;
        }
    }

    /// Closes the file: its path, or why it failed.
    pub fn finish(mut self) -> Result<PathBuf, String> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match self.file.take() {
            Some(f) => f.finish().map_err(|e| e.to_string()),
            None => Err("the capture file was closed".into()),
        }
    }
}
