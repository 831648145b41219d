//! The capture of a Thread scenario: every PPDU on the simulated 802.15.4 air (frames and the
//! radios' Imm-Acks) through the one capture writer ([`weft_radio::capture::CaptureFile`],
//! LINKTYPE_IEEE802_15_4_TAP with the channel, the FCS recomputed), stamped with the virtual
//! time (microseconds from the Unix epoch, so a capture starts on 1970-01-01).

use std::path::Path;

use weft_radio::capture::CaptureFile;
use weft_radio::sim::ieee802154::AirFrame;
use weft_radio::Caps;

/// A pcapng file of the 802.15.4 air.
#[derive(Debug)]
pub struct Capture154 {
    file: Option<CaptureFile>,
    failed: Option<String>,
}

impl Capture154 {
    /// Creates the file and names its interface.
    pub fn create(path: &Path) -> Result<Self, String> {
        let file = CaptureFile::create(path, Caps::IEEE802154).map_err(|e| e.to_string())?;
        Ok(Capture154 {
            file: Some(file),
            failed: None,
        })
    }

    /// Writes one PPDU's MAC frame; the first failure is kept for [`Capture154::finish`].
    pub fn write(&mut self, f: &AirFrame<'_>) {
        if self.failed.is_some() {
            return;
        }
        if let Some(file) = self.file.as_mut() {
            if let Err(e) = file.write_wpan(f.start, f.channel, None, None, f.bytes) {
                self.failed = Some(e.to_string());
            }
        }
    }

    /// Flushes and closes the file, or says what failed.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        match self.file.take() {
            Some(f) => f.finish().map(|_| ()).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}
