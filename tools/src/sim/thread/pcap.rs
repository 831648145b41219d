//! The capture of a Thread scenario: every PPDU on the simulated 802.15.4 air (frames and the
//! radios' Imm-Acks) as pcapng packets of LINKTYPE_IEEE802_15_4_WITHFCS (195), the PSDU with
//! its FCS computed here, stamped with the virtual time (microseconds from the Unix epoch, so
//! a capture starts on 1970-01-01).
//!
//! Isolated on purpose: `weft_radio::capture` is the one place frames become packets, and it
//! gets an 802.15.4 path (LINKTYPE 283, TAP with the channel and RSSI) of its own; when it has
//! one, this file goes and the scenario writes through `CaptureFile` as the BLE scenarios do.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use weft_mesh::thread::mac::fcs;
use weft_radio::pcap::PcapWriter;
use weft_radio::sim::ieee802154::AirFrame;

/// tcpdump.org `LINKTYPE_IEEE802_15_4_WITHFCS`: an 802.15.4 PSDU with its 2-octet FCS.
pub const LINKTYPE_IEEE802_15_4_WITHFCS: u16 = 195;

/// A pcapng file of 802.15.4 frames.
#[derive(Debug)]
pub struct Capture154 {
    writer: PcapWriter<BufWriter<File>>,
    path: String,
    failed: Option<String>,
}

impl Capture154 {
    /// Creates the file and names its one interface.
    pub fn create(path: &Path) -> Result<Self, String> {
        let name = path.display().to_string();
        let file = File::create(path).map_err(|e| format!("cannot create {name}: {e}"))?;
        let mut writer = PcapWriter::new(BufWriter::new(file))
            .map_err(|e| format!("cannot write {name}: {e}"))?;
        writer
            .interface(LINKTYPE_IEEE802_15_4_WITHFCS)
            .map_err(|e| format!("cannot write {name}: {e}"))?;
        Ok(Capture154 {
            writer,
            path: name,
            failed: None,
        })
    }

    /// Writes one PPDU's PSDU; the first failure is kept for [`Capture154::finish`].
    pub fn write(&mut self, f: &AirFrame<'_>) {
        if self.failed.is_some() {
            return;
        }
        let psdu = fcs::append(f.bytes);
        if let Err(e) = self
            .writer
            .write_packet(LINKTYPE_IEEE802_15_4_WITHFCS, f.start, &psdu)
        {
            self.failed = Some(format!("cannot write {}: {e}", self.path));
        }
    }

    /// Flushes, or says what failed.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.writer
            .flush()
            .map_err(|e| format!("cannot write {}: {e}", self.path))
    }
}
