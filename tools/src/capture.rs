//! `weft capture`: everything a radio hears, into a pcapng file Wireshark opens
//! (`LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR` for the advertising bearer, with each frame's
//! advertiser address, channel and RSSI as the radio reported them; `LINKTYPE_IEEE802_15_4_TAP`
//! for 802.15.4 frames from a Thread radio, with channel and RSSI; the framing and the clock
//! are [`weft_radio::capture`]'s). It listens until `--seconds` pass or SIGINT/SIGTERM comes,
//! then closes the file cleanly; `--json` prints a line per frame and a summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant as WallInstant;

use serde_json::{json, Value};
use weft_mesh::ble::wire::adv::{
    AdStructures, AD_TYPE_FLAGS, AD_TYPE_MESH_BEACON, AD_TYPE_MESH_MESSAGE, AD_TYPE_PB_ADV,
    AD_TYPE_SERVICE_DATA_16,
};
use weft_mesh::{Bearer, RxFrame};
use weft_radio::capture::{
    host_unix_us, link_types, CaptureError, CaptureFile, Recording, Timebase,
};
use weft_radio::Radio;

use crate::error::{block_on, Failure, Result};
use crate::ops::connect;
use crate::Exit;

#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// The radio to listen on: `sim:PATH` for the live simulated air;
    /// `hci:/dev/ttyACM0[?baud=N&rtscts=0|1]`, `hci-tcp:HOST:PORT`, `hci-unix:PATH`, `hci-user:hciN` a Bluetooth controller over HCI (`weft radios` lists what is attached);
    /// Thread (802.15.4): `spinel:/dev/ttyACM0[?baud=460800&channel=C]` an OpenThread RCP,
    /// `nrf154:/dev/ttyACM0[?channel=C]` the nRF 802.15.4 sniffer, `otsim:N[?port_offset=P]`
    /// node N of OpenThread's simulation (channel 11 unless C is given; otsim hears all).
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio)]
    pub radio: String,
    /// The pcapng file to write (created, or emptied if it exists).
    #[arg(long, value_name = "FILE.pcapng")]
    pub out: PathBuf,
    /// Stop after this many seconds (default: at SIGINT or SIGTERM, e.g. ctrl-c).
    #[arg(long, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// One JSON object per frame heard (time, channel, rssi, adv_address, AD type, length),
    /// then a summary line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &CaptureArgs, out: &mut impl Write) -> Result<Exit> {
    block_on(capture(a, out))
}

/// The radio `radio` names, with what it hears and sends written to `pcap` when given, frames
/// sent from `own` ([`Recording`]); a file that cannot be created is exit 3, naming it.
pub(crate) async fn recording(
    radio: &str,
    pcap: Option<&Path>,
    own: [u8; 6],
) -> Result<Recording<Box<dyn Radio>>> {
    let radio = connect(radio).await?;
    let file = pcap
        .map(|p| CaptureFile::create(p, radio.caps()))
        .transpose()
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    Ok(Recording::new(radio, file, own))
}

/// Closes a [`recording`]'s file: a file that could not be flushed is exit 3, naming it.
pub(crate) fn close(radio: &mut Recording<Box<dyn Radio>>) -> Result<()> {
    radio
        .finish()
        .map(drop)
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))
}

/// The advertiser address a device's own frames are written with: the last six octets of its
/// UUID as a random static address (Core v5.4 Vol 6 Part B §1.3.2.1: the two most significant
/// bits are 1), least significant octet first.
pub fn uuid_adv_address(uuid: [u8; 16]) -> [u8; 6] {
    let mut a = [0u8; 6];
    a.copy_from_slice(&uuid[10..]);
    a[5] |= 0xc0;
    a
}

/// An address as people write it: most significant octet first (`c6:05:04:03:02:01`), from
/// the least significant first order of the air.
pub fn address_text(a: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        a[5], a[4], a[3], a[2], a[1], a[0]
    )
}

/// What an AD type is (CSS Part A §1; MshPRT §3.3.1 for the mesh types).
fn ad_name(ad_type: u8) -> &'static str {
    match ad_type {
        AD_TYPE_PB_ADV => "pb-adv",
        AD_TYPE_MESH_MESSAGE => "mesh message",
        AD_TYPE_MESH_BEACON => "mesh beacon",
        AD_TYPE_FLAGS => "flags",
        AD_TYPE_SERVICE_DATA_16 => "service data",
        _ => "other",
    }
}

/// The first AD structure's type of an advertising frame, `0x2b`.
fn first_ad_type(frame: &RxFrame) -> Option<u8> {
    if frame.bearer != Bearer::Advertising {
        return None;
    }
    AdStructures::new(&frame.bytes)
        .next()
        .and_then(|r| r.ok())
        .map(|ad| ad.ad_type)
}

/// Why listening ended.
enum Stop {
    Deadline,
    Signal(String),
    /// The radio failed.
    Radio(weft_radio::RadioError),
    /// The capture file failed.
    File(CaptureError),
    /// Standard output went away (`weft capture --json | head`).
    Output,
}

/// What was heard, for the summary.
#[derive(Default)]
struct Tally {
    frames: u64,
    written: u64,
    skipped: u64,
    by_ad_type: BTreeMap<String, u64>,
    radio_clock: u64,
    host_clock: u64,
}

/// One frame heard: into the file and the tally; its JSON line.
fn heard(file: &mut CaptureFile, t: &mut Tally, frame: &RxFrame) -> Result<Value, CaptureError> {
    t.frames += 1;
    let n = t.frames;
    let ad_type = first_ad_type(frame);
    if let Some(ty) = ad_type {
        *t.by_ad_type.entry(format!("{ty:#04x}")).or_default() += 1;
    }
    let mut line = json!({
        "type": "frame",
        "n": n,
        "bearer": format!("{:?}", frame.bearer).to_lowercase(),
        "channel": (frame.channel != 0).then_some(frame.channel),
        "rssi": frame.rssi,
        "adv_address": frame.adv_address.map(address_text),
        "ad_type": ad_type.map(|ty| format!("{ty:#04x}")),
        "ad": ad_type.map(ad_name),
        "length": frame.bytes.len(),
    });
    let (time_us, clock) = match file.write_rx(frame) {
        Ok(w) => {
            t.written += 1;
            (w.time_us, w.timebase)
        }
        Err(CaptureError::Unframed(why)) => {
            t.skipped += 1;
            line["skipped"] = json!(why);
            (host_unix_us(), Timebase::Host)
        }
        Err(e) => return Err(e),
    };
    match clock {
        Timebase::Radio => t.radio_clock += 1,
        Timebase::Host => t.host_clock += 1,
    }
    line["time"] = json!(time_us as f64 / 1e6);
    line["clock"] = json!(clock.as_str());
    Ok(line)
}

async fn capture(a: &CaptureArgs, out: &mut impl Write) -> Result<Exit> {
    // Before anything else, so that a signal right after the start is not lost.
    let stop = crate::runtime::stop_signals().map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            format!("cannot watch for SIGTERM and SIGINT: {e}"),
        )
    })?;
    let mut radio = connect(&a.radio).await?;
    let caps = radio.caps();
    let mut file = CaptureFile::create(&a.out, caps)
        .map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    let started = WallInstant::now();
    if !a.json {
        let _ = writeln!(
            out,
            "capturing {} into {} ({})",
            a.radio,
            a.out.display(),
            match a.seconds {
                Some(s) => format!("for {s} s"),
                None => "ctrl-c stops".into(),
            }
        );
        let _ = out.flush();
    }
    let deadline = a
        .seconds
        .map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs_f64(s));
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop, until);
    let mut tally = Tally::default();
    let why = loop {
        tokio::select! {
            r = radio.recv() => match r {
                Ok(frame) => {
                    let line = match heard(&mut file, &mut tally, &frame) {
                        Ok(line) => line,
                        Err(e) => break Stop::File(e),
                    };
                    if a.json && (writeln!(out, "{line}").is_err() || out.flush().is_err()) {
                        break Stop::Output;
                    }
                }
                Err(e) => break Stop::Radio(e),
            },
            s = &mut stop => break Stop::Signal(s),
            _ = &mut until => break Stop::Deadline,
        }
    };
    let closed = file.finish();
    let stopped_by = match &why {
        Stop::Deadline => "deadline".to_string(),
        Stop::Signal(s) => s.clone(),
        Stop::Radio(_) => "radio".into(),
        Stop::File(_) => "file".into(),
        Stop::Output => "output".into(),
    };
    let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let summary = json!({
        "type": "summary",
        "radio": a.radio,
        "file": a.out.display().to_string(),
        "link_types": link_types(caps),
        "frames": tally.frames,
        "written": tally.written,
        "skipped": tally.skipped,
        "clock": {"radio": tally.radio_clock, "host": tally.host_clock},
        "by_ad_type": tally.by_ad_type,
        "seconds": seconds,
        "stopped_by": stopped_by,
    });
    if !matches!(why, Stop::Output) {
        let _ = if a.json {
            writeln!(out, "{summary}")
        } else {
            writeln!(
                out,
                "{}: {} frames in {seconds} s ({} left out), stopped by {stopped_by}",
                a.out.display(),
                tally.written,
                tally.skipped
            )
        };
    }
    match (why, closed) {
        (Stop::File(e), _) | (_, Err(e)) => Err(Failure::new(Exit::Unavailable, e.to_string())),
        (Stop::Radio(e), Ok(path)) => Err(Failure::new(
            Exit::Unavailable,
            format!(
                "the radio stopped: {e}; what it heard until then is in {}",
                path.display()
            ),
        )),
        _ => Ok(Exit::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_most_significant_octet_first() {
        assert_eq!(address_text([1, 2, 3, 4, 5, 0xc6]), "c6:05:04:03:02:01");
    }

    #[test]
    fn the_first_ad_structure_names_the_frame() {
        let frame = |bytes: &[u8]| RxFrame {
            lqi: None,
            bearer: Bearer::Advertising,
            channel: 37,
            rssi: None,
            timestamp: weft_mesh::Instant::ZERO,
            adv_address: None,
            bytes: bytes.to_vec(),
        };
        assert_eq!(first_ad_type(&frame(&[3, 0x2b, 0, 1])), Some(0x2b));
        assert_eq!(first_ad_type(&frame(&[2, 1, 6, 3, 0x2a, 0])), Some(0x01));
        // Malformed or empty: no type, no panic.
        assert_eq!(first_ad_type(&frame(&[9, 0x2a])), None);
        assert_eq!(first_ad_type(&frame(&[])), None);
        assert_eq!(ad_name(0x29), "pb-adv");
        assert_eq!(ad_name(0x2a), "mesh message");
        assert_eq!(ad_name(0x2b), "mesh beacon");
        assert_eq!(ad_name(0xff), "other");
    }
}
