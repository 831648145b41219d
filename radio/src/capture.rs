//! Capture files of what a radio hears and sends: the one place where frames become the packets
//! Wireshark reads. Every capture of weft goes through here: `weft capture`, `weft node --pcap`,
//! the inspector's (`c`, `--pcap`) and `weft sim run --pcap`.
//!
//! - The link type follows the bearer ([`link_type`]), and a capture file declares the link
//!   types of its radio's capabilities up front ([`link_types`], [`CaptureFile::create`]):
//!   advertising is `LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR` (256): each frame as the legacy
//!   ADV_NONCONN_IND that carried it, with the advertising access address, a correct CRC-24 and
//!   the pseudo-header giving the channel and RSSI ([`crate::ble_ll`]); IEEE 802.15.4 is
//!   `LINKTYPE_IEEE802_15_4_TAP` (283): the TLV pseudo-header (FCS type, and the channel and
//!   RSSI when the radio reported them) and the MAC frame with its FCS recomputed
//!   ([`crate::ieee802154_tap`]).
//! - The advertiser address is the one the radio reported ([`RxFrame::adv_address`]); a frame
//!   without one is written from [`UNKNOWN_ADV_ADDRESS`], and a frame a process sends from a
//!   stand-in it chooses (the address its radio transmits with is not known to it).
//! - Time: a frame whose [`RxFrame::timestamp`] is not [`Instant::ZERO`] carries the radio's
//!   own clock (a controller's timestamp, the hub's air time); backends that have none leave it
//!   at zero. The radio's clock is tied to the host's wall clock at the first such frame
//!   ([`Timeline`]) and followed from there, so the intervals between packets are the radio's;
//!   it is tied again whenever it goes back (a counter that wrapped, a controller that reset)
//!   or strays more than [`RADIO_CLOCK_TOLERANCE`] from the host's (a clock that drifts). Other frames are
//!   stamped with the host's wall clock when they are read.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration as WallDuration, Instant as WallInstant, SystemTime, UNIX_EPOCH};

use crate::ble_ll::{ble_adv_nonconn_ind, ble_ll_phdr_packet};
use crate::ieee802154_tap::frame_packet;
use crate::pcap::{PcapWriter, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, LINKTYPE_IEEE802_15_4_TAP};
use crate::{
    Bearer, Caps, ConnId, Connectable, GattService, Instant, Radio, RadioError, RadioEvent,
    RadioFuture, RxFrame, TxFrame,
};

/// The advertising channel a frame is written on when the radio did not say which it was heard
/// on, and the channel of the frames a process sends (one advertising event puts them on 37,
/// 38 and 39: the capture keeps one copy). The pseudo-header has no "unknown channel" (Core
/// v5.4 Vol 6 Part B §1.4.1: 37 is the first primary advertising channel).
pub const DEFAULT_CHANNEL: u8 = 37;

/// How far the radio's clock may stray from the host's before a capture ties it to the host's
/// again.
pub const RADIO_CLOCK_TOLERANCE: WallDuration = WallDuration::from_secs(1);

/// How often at most a capture file is flushed while it is written (and always when it is
/// closed), so that a capture killed outright loses at most this much.
pub const FLUSH_EVERY: WallDuration = WallDuration::from_secs(1);

/// A stand-in advertiser address for a transmitter known by a 16-bit `tag` (a scenario node's
/// unicast address), least significant octet first: a random static address (Core v5.4 Vol 6
/// Part B §1.3.2.1: the two most significant bits are 1).
pub const fn stand_in_adv_address(tag: u16) -> [u8; 6] {
    let a = tag.to_le_bytes();
    [a[0], a[1], 0x00, 0x5e, 0x1f, 0xc0 | 0x2e]
}

/// The advertiser address of a frame whose radio did not report one.
pub const UNKNOWN_ADV_ADDRESS: [u8; 6] = stand_in_adv_address(0);

/// The link type frames on `bearer` are written as; `None` for the GATT bearer, whose proxy
/// PDUs have no link-layer packet of their own here.
pub fn link_type(bearer: Bearer) -> Option<u16> {
    match bearer {
        Bearer::Advertising => Some(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR),
        Bearer::Ieee802154 => Some(LINKTYPE_IEEE802_15_4_TAP),
        Bearer::Gatt(_) => None,
    }
}

/// The link types a capture of a radio that can carry `caps` holds.
pub fn link_types(caps: Caps) -> Vec<u16> {
    let mut v = Vec::new();
    if caps.advertising {
        v.extend(link_type(Bearer::Advertising));
    }
    if caps.ieee802154 {
        v.extend(link_type(Bearer::Ieee802154));
    }
    v
}

/// Why a frame or a file could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The capture file cannot be created or written.
    #[error("cannot write the capture file {}: {why}; give a path in a directory you can write to, on a disk with room", path.display())]
    File { path: PathBuf, why: String },
    /// This frame has no packet form in a capture (the file is unharmed).
    #[error("{0}")]
    Unframed(String),
}

/// Whose clock a packet's time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timebase {
    /// The radio's own ([`RxFrame::timestamp`]), tied to the host's wall clock.
    Radio,
    /// The host's wall clock when the frame was read.
    Host,
}

impl Timebase {
    /// `"radio"` or `"host"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Timebase::Radio => "radio",
            Timebase::Host => "host",
        }
    }
}

/// The host's wall clock in microseconds since the Unix epoch (0 before it).
pub fn host_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Ties a radio's clock to the host's wall clock (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Host microseconds minus radio microseconds, once tied.
    offset: Option<i128>,
    /// The radio's last stamp: one before it is a clock that wrapped or restarted.
    last: Option<i128>,
}

impl Timeline {
    /// When a frame stamped `radio` by its radio ([`Instant::ZERO`]: not stamped) and read at
    /// `host_unix_us` happened, in microseconds since the Unix epoch, and whose clock says so.
    pub fn stamp(&mut self, radio: Instant, host_unix_us: u64) -> (u64, Timebase) {
        if radio == Instant::ZERO {
            return (host_unix_us, Timebase::Host);
        }
        let (r, h) = (i128::from(radio.as_micros()), i128::from(host_unix_us));
        let tolerance = RADIO_CLOCK_TOLERANCE.as_micros() as i128;
        let forward = self.last.is_none_or(|l| r >= l);
        self.last = Some(r);
        let t = match self.offset {
            Some(o) if forward && (o + r - h).abs() <= tolerance => o + r,
            _ => {
                self.offset = Some(h - r);
                h
            }
        };
        (u64::try_from(t.max(0)).unwrap_or(u64::MAX), Timebase::Radio)
    }
}

/// What was written for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The packet's time, microseconds since the Unix epoch.
    pub time_us: u64,
    /// Whose clock it is.
    pub timebase: Timebase,
    /// The packet's link type.
    pub link_type: u16,
}

/// A legacy advertising packet (`LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR`) carrying `adv_data` from
/// `adv_address` on `channel` (37..=39; any other is written as [`DEFAULT_CHANNEL`]) at `rssi`.
pub fn adv_packet(
    adv_address: [u8; 6],
    channel: u8,
    rssi: Option<i8>,
    adv_data: &[u8],
) -> Result<Vec<u8>, CaptureError> {
    let channel = if (37..=39).contains(&channel) {
        channel
    } else {
        DEFAULT_CHANNEL
    };
    let unframed = |e: crate::ble_ll::BleError| {
        CaptureError::Unframed(format!("not a legacy advertising packet: {e}"))
    };
    let ll = ble_adv_nonconn_ind(adv_address, true, adv_data).map_err(unframed)?;
    ble_ll_phdr_packet(channel, rssi, &ll).map_err(unframed)
}

/// The packet a frame heard is written as: its link type and bytes.
pub fn rx_packet(frame: &RxFrame) -> Result<(u16, Vec<u8>), CaptureError> {
    match frame.bearer {
        Bearer::Advertising => Ok((
            LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
            adv_packet(
                frame.adv_address.unwrap_or(UNKNOWN_ADV_ADDRESS),
                frame.channel,
                frame.rssi,
                &frame.bytes,
            )?,
        )),
        Bearer::Ieee802154 => Ok((
            LINKTYPE_IEEE802_15_4_TAP,
            wpan_packet_with_lqi(&frame.bytes, frame.channel, frame.rssi, frame.lqi)?,
        )),
        Bearer::Gatt(_) => Err(CaptureError::Unframed(
            "a proxy PDU over GATT has no link-layer packet to capture".into(),
        )),
    }
}

/// An IEEE 802.15.4 packet (`LINKTYPE_IEEE802_15_4_TAP`) for the MAC frame `mac` (without its
/// FCS, which is recomputed), heard on `channel` (0: unknown) with `rssi`.
pub fn wpan_packet(mac: &[u8], channel: u8, rssi: Option<i8>) -> Result<Vec<u8>, CaptureError> {
    wpan_packet_with_lqi(mac, channel, rssi, None)
}

/// [`wpan_packet`] with the LQI the radio reported (the TAP LQI TLV), when it did.
pub fn wpan_packet_with_lqi(
    mac: &[u8],
    channel: u8,
    rssi: Option<i8>,
    lqi: Option<u8>,
) -> Result<Vec<u8>, CaptureError> {
    if mac.is_empty() || mac.len() > 125 {
        return Err(CaptureError::Unframed(format!(
            "an IEEE 802.15.4 MAC frame is 1 to 125 octets without its FCS, not {}",
            mac.len()
        )));
    }
    Ok(frame_packet(mac, channel, rssi, lqi))
}

/// A pcapng capture file being written.
#[derive(Debug)]
pub struct CaptureFile {
    path: PathBuf,
    writer: PcapWriter<BufWriter<File>>,
    timeline: Timeline,
    last_flush: WallInstant,
    packets: u64,
}

impl CaptureFile {
    /// Creates (or truncates) the file at `path` for a radio that can carry `caps`: the section
    /// header and one interface per link type of [`link_types`].
    pub fn create(path: &Path, caps: Caps) -> Result<Self, CaptureError> {
        let error = |e: std::io::Error| CaptureError::File {
            path: path.to_path_buf(),
            why: e.to_string(),
        };
        let f = File::create(path).map_err(error)?;
        let mut writer = PcapWriter::new(BufWriter::new(f)).map_err(error)?;
        for lt in link_types(caps) {
            writer.interface(lt).map_err(error)?;
        }
        Ok(CaptureFile {
            path: path.to_path_buf(),
            writer,
            timeline: Timeline::default(),
            last_flush: WallInstant::now(),
            packets: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    fn io_error(&self, e: std::io::Error) -> CaptureError {
        CaptureError::File {
            path: self.path.clone(),
            why: e.to_string(),
        }
    }

    fn write(&mut self, link_type: u16, time_us: u64, data: &[u8]) -> Result<(), CaptureError> {
        self.writer
            .write_packet(link_type, Instant::from_micros(time_us), data)
            .map_err(|e| self.io_error(e))?;
        self.packets += 1;
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes a frame heard now (see the module documentation for its time).
    pub fn write_rx(&mut self, frame: &RxFrame) -> Result<Written, CaptureError> {
        self.write_rx_at(frame, host_unix_us())
    }

    /// Writes a frame heard at `host_unix_us` by the host's wall clock.
    pub fn write_rx_at(
        &mut self,
        frame: &RxFrame,
        host_unix_us: u64,
    ) -> Result<Written, CaptureError> {
        let (link_type, data) = rx_packet(frame)?;
        let (time_us, timebase) = self.timeline.stamp(frame.timestamp, host_unix_us);
        self.write(link_type, time_us, &data)?;
        Ok(Written {
            time_us,
            timebase,
            link_type,
        })
    }

    /// Writes a frame sent now: on the advertising bearer from the advertiser address
    /// `adv_address`, on [`DEFAULT_CHANNEL`]; on 802.15.4 without a channel (the radio chose it).
    pub fn write_sent(
        &mut self,
        frame: &TxFrame,
        adv_address: [u8; 6],
    ) -> Result<Written, CaptureError> {
        let (link_type, data) = match frame.bearer {
            Bearer::Advertising => (
                LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
                adv_packet(adv_address, DEFAULT_CHANNEL, None, &frame.bytes)?,
            ),
            Bearer::Ieee802154 => (
                LINKTYPE_IEEE802_15_4_TAP,
                wpan_packet(&frame.bytes, 0, None)?,
            ),
            Bearer::Gatt(_) => {
                return Err(CaptureError::Unframed(
                    "a proxy PDU over GATT has no link-layer packet to capture".into(),
                ))
            }
        };
        let time_us = host_unix_us();
        self.write(link_type, time_us, &data)?;
        Ok(Written {
            time_us,
            timebase: Timebase::Host,
            link_type,
        })
    }

    /// Writes advertising data on `channel` from `adv_address` at `at` (a simulation's time:
    /// microseconds since its start).
    pub fn write_adv(
        &mut self,
        at: Instant,
        adv_address: [u8; 6],
        channel: u8,
        rssi: Option<i8>,
        adv_data: &[u8],
    ) -> Result<(), CaptureError> {
        let data = adv_packet(adv_address, channel, rssi, adv_data)?;
        self.write(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, at.as_micros(), &data)
    }

    /// Writes an IEEE 802.15.4 MAC frame (without its FCS, recomputed) heard on `channel`
    /// (0: unknown) with `rssi` and `lqi` when known, at `at` (a simulation's time:
    /// microseconds since its start).
    pub fn write_wpan(
        &mut self,
        at: Instant,
        channel: u8,
        rssi: Option<i8>,
        lqi: Option<u8>,
        mac: &[u8],
    ) -> Result<(), CaptureError> {
        let data = wpan_packet_with_lqi(mac, channel, rssi, lqi)?;
        self.write(LINKTYPE_IEEE802_15_4_TAP, at.as_micros(), &data)
    }

    /// Hands what was written to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.last_flush = WallInstant::now();
        self.writer.flush().map_err(|e| self.io_error(e))
    }

    /// Flushes and closes the file; its path.
    pub fn finish(mut self) -> Result<PathBuf, CaptureError> {
        self.flush()?;
        Ok(self.path)
    }
}

/// A radio whose every frame heard and sent is also written to a capture file (`weft node
/// --pcap`). Frames sent are written once the radio took them, from the advertiser address
/// given at creation. A frame with no packet form is left out of the file; a file that cannot
/// be written fails the radio ([`RadioError::Io`], naming the file).
pub struct Recording<R> {
    inner: R,
    file: Option<CaptureFile>,
    own: [u8; 6],
}

impl<R> std::fmt::Debug for Recording<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("file", &self.file.as_ref().map(|c| c.path()))
            .finish_non_exhaustive()
    }
}

impl<R: Radio> Recording<R> {
    /// `inner`, with what it hears and sends written to `file` (none: a plain radio); frames
    /// sent are written from `own_adv_address`.
    pub fn new(inner: R, file: Option<CaptureFile>, own_adv_address: [u8; 6]) -> Self {
        Recording {
            inner,
            file,
            own: own_adv_address,
        }
    }

    /// Hands what was written to the file now (a process about to be killed outright loses
    /// nothing written before).
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.file.as_mut().map_or(Ok(()), CaptureFile::flush)
    }

    /// Closes the capture file, flushed: its path, if there was one.
    pub fn finish(&mut self) -> Result<Option<PathBuf>, CaptureError> {
        self.file.take().map(CaptureFile::finish).transpose()
    }

    fn record(
        &mut self,
        write: impl FnOnce(&mut CaptureFile) -> Result<Written, CaptureError>,
    ) -> Result<(), RadioError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        match write(file) {
            Ok(_) => Ok(()),
            Err(CaptureError::Unframed(why)) => {
                tracing::debug!(target: "weft::capture", "left out of the capture: {why}");
                Ok(())
            }
            Err(e) => {
                self.file = None;
                Err(RadioError::Io(e.to_string()))
            }
        }
    }
}

impl<R: Radio> Radio for Recording<R> {
    fn caps(&self) -> Caps {
        self.inner.caps()
    }

    fn send(&mut self, frame: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async move {
            self.inner.send(frame.clone()).await?;
            let own = self.own;
            self.record(|f| f.write_sent(&frame, own))
        })
    }

    /// Cancel-safe as the inner radio's: the frame is written as soon as it is taken.
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            let frame = self.inner.recv().await?;
            self.record(|f| f.write_rx(&frame))?;
            Ok(frame)
        })
    }

    /// As `recv`; link events pass through unrecorded (GATT values are not framed for a
    /// capture yet: counted as unframed).
    fn recv_event(&mut self) -> RadioFuture<'_, RadioEvent> {
        Box::pin(async move {
            let event = self.inner.recv_event().await?;
            if let RadioEvent::Frame(frame) = &event {
                self.record(|f| f.write_rx(frame))?;
            }
            Ok(event)
        })
    }

    fn connect(&mut self, peer: [u8; 6], service: GattService) -> RadioFuture<'_, ()> {
        self.inner.connect(peer, service)
    }

    fn disconnect(&mut self, conn: ConnId) -> RadioFuture<'_, ()> {
        self.inner.disconnect(conn)
    }

    fn set_connectable(&mut self, adv: Option<Connectable>) -> RadioFuture<'_, ()> {
        self.inner.set_connectable(adv)
    }

    fn set_mac(&mut self, mac: Option<weft_mesh::thread::radio::RadioMac>) -> RadioFuture<'_, ()> {
        self.inner.set_mac(mac)
    }
}

mod merge;
pub use merge::{merge, MergeInput};

#[cfg(test)]
mod tests;
