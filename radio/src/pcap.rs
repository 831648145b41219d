//! Captures that Wireshark and tshark open: a pcapng writer and a reader for pcapng and classic
//! libpcap files. The Bluetooth LE packets they carry are framed by [`crate::ble_ll`].
//!
//! Formats:
//! - pcapng: IETF draft-ietf-opsawg-pcapng (Section Header Block §4.1, Interface Description
//!   Block §4.2, Enhanced Packet Block §4.3, Simple Packet Block §4.4, obsolete Packet Block
//!   Appendix A). The writer emits little-endian files with one interface per link type, each
//!   with `if_tsresol` = 6 (microseconds).
//! - classic libpcap: draft-ietf-opsawg-pcap (file header §4, packet record §5), in either byte
//!   order, with microsecond or nanosecond timestamps.
//!
//! The reader takes files from users: every length is checked against the data that is there
//! and against fixed bounds before anything is allocated, and malformed input is an error,
//! never a panic.

use std::io::{self, Read, Write};

use crate::Instant;

// ---------------------------------------------------------------------------------------------
// Link types (tcpdump.org link-layer header types)
// ---------------------------------------------------------------------------------------------

/// Bluetooth LE link-layer packets with a 10-octet pseudo-header (tcpdump.org
/// `LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR`).
pub const LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR: u16 = 256;
/// IEEE 802.15.4 frames with a TLV pseudo-header (tcpdump.org `LINKTYPE_IEEE802_15_4_TAP`).
pub const LINKTYPE_IEEE802_15_4_TAP: u16 = 283;
/// IEEE 802.15.4 frames without the FCS (tcpdump.org `LINKTYPE_IEEE802_15_4_NOFCS`).
pub const LINKTYPE_IEEE802_15_4_NOFCS: u16 = 230;
/// IEEE 802.15.4 frames ending with their 2-octet FCS (tcpdump.org
/// `LINKTYPE_IEEE802_15_4_WITHFCS`).
pub const LINKTYPE_IEEE802_15_4_WITHFCS: u16 = 195;

/// The largest packet the writer accepts and the reader returns: Wireshark's maximum snapshot
/// length (`WTAP_MAX_PACKET_SIZE_STANDARD`).
pub const MAX_PACKET_LEN: usize = 262_144;

/// The largest pcapng block the reader accepts (Wireshark's own limit, 16 MiB).
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

/// The most interfaces one pcapng section may describe before the reader gives up.
pub const MAX_INTERFACES: usize = 4096;

// pcapng block types (pcapng §11.1).
const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 0x0000_0001;
const BT_PB_OBSOLETE: u32 = 0x0000_0002;
const BT_SPB: u32 = 0x0000_0003;
const BT_EPB: u32 = 0x0000_0006;
/// pcapng byte-order magic (pcapng §4.1).
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
// Option codes (pcapng §3.5, §4.2).
const OPT_ENDOFOPT: u16 = 0;
/// if_name and if_description (pcapng §4.2): UTF-8, not zero-terminated.
const OPT_IF_NAME: u16 = 2;
const OPT_IF_DESCRIPTION: u16 = 3;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

// Classic libpcap magic numbers as read little-endian (pcap §4).
const PCAP_MAGIC_US: u32 = 0xA1B2_C3D4;
const PCAP_MAGIC_NS: u32 = 0xA1B2_3C4D;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// Reading from the underlying source failed.
    #[error("reading the capture failed: {0}")]
    Io(#[from] io::Error),
    /// The file starts with neither a pcapng Section Header Block nor a libpcap magic number.
    #[error("not a pcapng or pcap file (magic {0:#010x})")]
    NotACapture(u32),
    /// The file ends inside a header, block or record.
    #[error("truncated capture: {0}")]
    Truncated(&'static str),
    /// A pcapng block length is not a multiple of 4, too small, too large, or its two copies
    /// disagree.
    #[error("bad pcapng block length {len} ({why})")]
    BadBlockLength { len: u32, why: &'static str },
    /// A packet longer than [`MAX_PACKET_LEN`] (or longer than its block).
    #[error("packet length {len} is invalid (limit {max})")]
    BadPacketLength { len: u64, max: u64 },
    /// A pcapng section or pcap file of a version this reader does not know.
    #[error("unsupported format version {major}.{minor}")]
    UnsupportedVersion { major: u16, minor: u16 },
    /// The pcapng byte-order magic is wrong.
    #[error("bad pcapng byte-order magic {0:#010x}")]
    BadByteOrderMagic(u32),
    /// A packet block refers to an interface no Interface Description Block described.
    #[error("packet on undescribed interface {0}")]
    UnknownInterface(u32),
    /// More interfaces than [`MAX_INTERFACES`] in one section.
    #[error("too many interfaces")]
    TooManyInterfaces,
    /// A block's options run past the block or hold a malformed value.
    #[error("malformed pcapng option {code}")]
    BadOption { code: u16 },
    /// A timestamp that does not fit weft's microsecond clock.
    #[error("timestamp out of range")]
    TimestampOverflow,
}

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The link type of the interface it was captured on (`LINKTYPE_*`).
    pub link_type: u16,
    /// When it was captured, in microseconds since the capture's epoch (pcap files use the
    /// Unix epoch).
    pub timestamp: Instant,
    /// The captured bytes.
    pub data: Vec<u8>,
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Writes a little-endian pcapng file: a Section Header Block at creation, an Interface
/// Description Block the first time each link type is used, then Enhanced Packet Blocks.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    inner: W,
    /// Interface id = index; the link type of each.
    interfaces: Vec<u16>,
}

/// Appends the option `code` with `value`, padded to 32 bits (pcapng §3.5).
fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    // Option values written here are a few octets long.
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + pad4(value.len()), 0);
}

/// Octets of padding that bring `len` to a multiple of 4.
const fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Frames `body` as a block: type, total length, body, total length (pcapng §3.1).
fn block(block_type: u32, body: &[u8]) -> io::Result<Vec<u8>> {
    debug_assert_eq!(body.len() % 4, 0);
    let total = u32::try_from(12 + body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too long"))?;
    let mut b = Vec::with_capacity(12 + body.len());
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&total.to_le_bytes());
    Ok(b)
}

impl<W: Write> PcapWriter<W> {
    /// Starts a capture: writes the Section Header Block.
    pub fn new(mut inner: W) -> io::Result<Self> {
        // SHB body (pcapng §4.1): byte-order magic, major 1, minor 0, section length -1
        // (unknown), no options.
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        inner.write_all(&block(BT_SHB, &body)?)?;
        Ok(PcapWriter {
            inner,
            interfaces: Vec::new(),
        })
    }

    /// The interface id for `link_type`, writing its Interface Description Block first if it
    /// is new. Packets declare their interface themselves ([`PcapWriter::write_packet`]); a
    /// capture calls this up front to say which link types it will hold, so that a file of
    /// a radio that heard nothing still names them.
    pub fn interface(&mut self, link_type: u16) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == link_type) {
            // Few interfaces: the index fits.
            return Ok(i as u32);
        }
        self.new_interface(link_type, None)
    }

    /// A new interface of `link_type` however many the file has of it, named `name`
    /// (if_name) and described by `description` (if_description): one per radio of a capture
    /// merged from several ([`crate::capture::merge`]); its packets go through
    /// [`PcapWriter::write_packet_on`]. Names and descriptions are cut at 256 octets (on a
    /// character boundary).
    pub fn named_interface(
        &mut self,
        link_type: u16,
        name: &str,
        description: &str,
    ) -> io::Result<u32> {
        self.new_interface(link_type, Some((name, description)))
    }

    fn new_interface(&mut self, link_type: u16, named: Option<(&str, &str)>) -> io::Result<u32> {
        // IDB body (pcapng §4.2): LinkType, Reserved, SnapLen, options.
        let mut body = Vec::with_capacity(20);
        body.extend_from_slice(&link_type.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(MAX_PACKET_LEN as u32).to_le_bytes());
        if let Some((name, description)) = named {
            let cut = |s: &str| {
                let mut end = s.len().min(256);
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.as_bytes()[..end].to_vec()
            };
            push_option(&mut body, OPT_IF_NAME, &cut(name));
            if !description.is_empty() {
                push_option(&mut body, OPT_IF_DESCRIPTION, &cut(description));
            }
        }
        // if_tsresol = 6: timestamps count microseconds (pcapng §4.2).
        push_option(&mut body, OPT_IF_TSRESOL, &[6]);
        push_option(&mut body, OPT_ENDOFOPT, &[]);
        self.inner.write_all(&block(BT_IDB, &body)?)?;
        self.interfaces.push(link_type);
        Ok((self.interfaces.len() - 1) as u32)
    }

    /// Writes one packet captured at `timestamp` (microseconds) on an interface of
    /// `link_type`. Packets longer than [`MAX_PACKET_LEN`] are refused.
    pub fn write_packet(
        &mut self,
        link_type: u16,
        timestamp: Instant,
        data: &[u8],
    ) -> io::Result<()> {
        if data.len() > MAX_PACKET_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("packet of {} octets exceeds {MAX_PACKET_LEN}", data.len()),
            ));
        }
        let interface = self.interface(link_type)?;
        self.write_packet_on(interface, timestamp, data)
    }

    /// Writes one packet captured at `timestamp` (microseconds) on `interface`, an id
    /// [`PcapWriter::interface`] or [`PcapWriter::named_interface`] gave.
    pub fn write_packet_on(
        &mut self,
        interface: u32,
        timestamp: Instant,
        data: &[u8],
    ) -> io::Result<()> {
        if data.len() > MAX_PACKET_LEN || interface as usize >= self.interfaces.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "packet of {} octets on interface {interface} (at most {MAX_PACKET_LEN} octets, {} interfaces)",
                    data.len(),
                    self.interfaces.len()
                ),
            ));
        }
        let ts = timestamp.as_micros();
        // EPB body (pcapng §4.3): Interface ID, Timestamp (upper, lower 32 bits), Captured
        // Packet Length, Original Packet Length, Packet Data padded to 32 bits, no options.
        let len = data.len() as u32;
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(data);
        body.resize(body.len() + pad4(data.len()), 0);
        self.inner.write_all(&block(BT_EPB, &body)?)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// Byte order of the file being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
}

/// Reads `N` octets at `at` from `buf`, if they are there.
pub(crate) fn arr<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// How one pcapng interface stamps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interface {
    link_type: u16,
    /// `if_tsresol`: bit 7 clear: 10^-n seconds, set: 2^-n seconds (pcapng §4.2).
    tsresol: u8,
    /// `if_tsoffset`: seconds added to every timestamp (pcapng §4.2).
    tsoffset: i64,
}

impl Interface {
    /// A timestamp in interface units as microseconds.
    fn micros(&self, ts: u64) -> Result<u64, PcapError> {
        let n = u32::from(self.tsresol & 0x7F);
        let ts = u128::from(ts);
        let us = if self.tsresol & 0x80 == 0 {
            if n >= 6 {
                // 10^n fits u128 for every n < 39; beyond that every u64 rounds to 0.
                match 10u128.checked_pow(n - 6) {
                    Some(div) => ts / div,
                    None => 0,
                }
            } else {
                ts * 10u128.pow(6 - n)
            }
        } else {
            // n <= 127 and ts * 10^6 < 2^84: exact in u128.
            (ts * 1_000_000) >> n
        };
        let offset = i128::from(self.tsoffset) * 1_000_000;
        let total = i128::try_from(us).map_err(|_| PcapError::TimestampOverflow)? + offset;
        u64::try_from(total).map_err(|_| PcapError::TimestampOverflow)
    }
}

#[derive(Debug)]
enum Format {
    /// pcapng: the current section's byte order and interfaces.
    Ng {
        endian: Endian,
        interfaces: Vec<Interface>,
    },
    /// Classic libpcap.
    Classic {
        endian: Endian,
        nanos: bool,
        link_type: u16,
    },
}

/// Reads packets from a pcapng or classic libpcap file.
#[derive(Debug)]
pub struct PcapReader<R: Read> {
    inner: R,
    format: Format,
    /// Set after an error or the end: iteration stops.
    done: bool,
}

/// Fills `buf` from `r`. `Ok(false)` if the source was already at its end; a source that ends
/// part-way is [`PcapError::Truncated`].
fn read_or_eof<R: Read>(r: &mut R, buf: &mut [u8], what: &'static str) -> Result<bool, PcapError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(PcapError::Truncated(what)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Fills `buf` from `r`; the end of the source is [`PcapError::Truncated`].
fn read_all<R: Read>(r: &mut R, buf: &mut [u8], what: &'static str) -> Result<(), PcapError> {
    if read_or_eof(r, buf, what)? {
        Ok(())
    } else {
        Err(PcapError::Truncated(what))
    }
}

/// Reads exactly `len` octets into a new vector, allocating only as the data arrives (a
/// claimed length is not trusted).
fn read_vec<R: Read>(r: &mut R, len: usize, what: &'static str) -> Result<Vec<u8>, PcapError> {
    let mut v = Vec::with_capacity(len.min(64 * 1024));
    r.by_ref().take(len as u64).read_to_end(&mut v)?;
    if v.len() == len {
        Ok(v)
    } else {
        Err(PcapError::Truncated(what))
    }
}

impl<R: Read> PcapReader<R> {
    /// Opens a capture: reads the pcapng Section Header Block or the libpcap file header.
    pub fn new(mut inner: R) -> Result<Self, PcapError> {
        let mut magic = [0u8; 4];
        read_all(&mut inner, &mut magic, "file header")?;
        let format = match u32::from_le_bytes(magic) {
            BT_SHB => {
                let endian = read_shb_rest(&mut inner)?;
                Format::Ng {
                    endian,
                    interfaces: Vec::new(),
                }
            }
            m => {
                let (endian, nanos) = if m == PCAP_MAGIC_US {
                    (Endian::Little, false)
                } else if m == PCAP_MAGIC_NS {
                    (Endian::Little, true)
                } else if m.swap_bytes() == PCAP_MAGIC_US {
                    (Endian::Big, false)
                } else if m.swap_bytes() == PCAP_MAGIC_NS {
                    (Endian::Big, true)
                } else {
                    return Err(PcapError::NotACapture(u32::from_be_bytes(magic)));
                };
                // pcap §4: magic, major, minor, reserved1, reserved2, SnapLen, LinkType (FCS
                // length in the upper bits).
                let mut h = [0u8; 20];
                read_all(&mut inner, &mut h, "pcap file header")?;
                let major = endian.u16([h[0], h[1]]);
                let minor = endian.u16([h[2], h[3]]);
                if major != 2 {
                    return Err(PcapError::UnsupportedVersion { major, minor });
                }
                let link = endian.u32([h[16], h[17], h[18], h[19]]);
                Format::Classic {
                    endian,
                    nanos,
                    // The link type is the low 16 bits (pcap §4, LinkType and additional
                    // information).
                    link_type: (link & 0xFFFF) as u16,
                }
            }
        };
        Ok(PcapReader {
            inner,
            format,
            done: false,
        })
    }

    /// The next packet, `Ok(None)` at the end of the capture.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, PcapError> {
        if self.done {
            return Ok(None);
        }
        let r = self.next_inner();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    fn next_inner(&mut self) -> Result<Option<Packet>, PcapError> {
        match self.format {
            Format::Classic {
                endian,
                nanos,
                link_type,
            } => {
                // pcap §5: Timestamp (seconds), Timestamp (µs or ns), Captured Packet Length,
                // Original Packet Length, Packet Data.
                let mut h = [0u8; 16];
                if !read_or_eof(&mut self.inner, &mut h, "pcap record header")? {
                    return Ok(None);
                }
                let secs = endian.u32([h[0], h[1], h[2], h[3]]);
                let frac = endian.u32([h[4], h[5], h[6], h[7]]);
                let caplen = endian.u32([h[8], h[9], h[10], h[11]]);
                if caplen as usize > MAX_PACKET_LEN {
                    return Err(PcapError::BadPacketLength {
                        len: caplen.into(),
                        max: MAX_PACKET_LEN as u64,
                    });
                }
                let frac_us = if nanos { frac / 1000 } else { frac };
                let us = u64::from(secs) * 1_000_000 + u64::from(frac_us);
                let data = read_vec(&mut self.inner, caplen as usize, "pcap packet data")?;
                Ok(Some(Packet {
                    link_type,
                    timestamp: Instant::from_micros(us),
                    data,
                }))
            }
            Format::Ng { .. } => loop {
                let mut h = [0u8; 4];
                if !read_or_eof(&mut self.inner, &mut h, "pcapng block")? {
                    return Ok(None);
                }
                if u32::from_le_bytes(h) == BT_SHB {
                    // A new section: its own byte order and interfaces.
                    let endian = read_shb_rest(&mut self.inner)?;
                    self.format = Format::Ng {
                        endian,
                        interfaces: Vec::new(),
                    };
                    continue;
                }
                if let Some(p) = self.read_ng_block(h)? {
                    return Ok(Some(p));
                }
            },
        }
    }

    /// Reads the rest of a non-SHB pcapng block whose type octets are `type_bytes`; returns
    /// the packet it holds, if any.
    fn read_ng_block(&mut self, type_bytes: [u8; 4]) -> Result<Option<Packet>, PcapError> {
        let Format::Ng { endian, interfaces } = &mut self.format else {
            return Ok(None);
        };
        let endian = *endian;
        let block_type = endian.u32(type_bytes);
        let mut l = [0u8; 4];
        read_all(&mut self.inner, &mut l, "pcapng block length")?;
        let total = endian.u32(l);
        check_block_len(total)?;
        // Body and trailing length: total minus type and leading length.
        let rest = read_vec(&mut self.inner, total as usize - 8, "pcapng block")?;
        let (body, trailer) = rest.split_at(rest.len() - 4);
        if endian.u32(arr(trailer, 0).ok_or(PcapError::Truncated("pcapng block"))?) != total {
            return Err(PcapError::BadBlockLength {
                len: total,
                why: "trailing length differs",
            });
        }
        match block_type {
            BT_IDB => {
                // pcapng §4.2: LinkType (2), Reserved (2), SnapLen (4), options.
                let head =
                    arr::<8>(body, 0).ok_or(PcapError::Truncated("interface description"))?;
                let mut itf = Interface {
                    link_type: endian.u16([head[0], head[1]]),
                    tsresol: 6,
                    tsoffset: 0,
                };
                for opt in Options::new(endian, body.get(8..).unwrap_or(&[])) {
                    let (code, value) = opt?;
                    match code {
                        OPT_IF_TSRESOL => {
                            itf.tsresol = *value.first().ok_or(PcapError::BadOption { code })?;
                        }
                        OPT_IF_TSOFFSET => {
                            let v: [u8; 8] = arr(value, 0).ok_or(PcapError::BadOption { code })?;
                            itf.tsoffset = match endian {
                                Endian::Little => i64::from_le_bytes(v),
                                Endian::Big => i64::from_be_bytes(v),
                            };
                        }
                        _ => {}
                    }
                }
                if interfaces.len() >= MAX_INTERFACES {
                    return Err(PcapError::TooManyInterfaces);
                }
                interfaces.push(itf);
                Ok(None)
            }
            BT_EPB | BT_PB_OBSOLETE => {
                // EPB (pcapng §4.3): Interface ID (4), Timestamp upper (4), lower (4),
                // Captured Packet Length (4), Original Packet Length (4), data.
                // Packet Block (Appendix A): Interface ID (2), Drops Count (2), then the same.
                let h = arr::<20>(body, 0).ok_or(PcapError::Truncated("packet block"))?;
                let id = if block_type == BT_EPB {
                    endian.u32([h[0], h[1], h[2], h[3]])
                } else {
                    endian.u16([h[0], h[1]]).into()
                };
                let ts = (u64::from(endian.u32([h[4], h[5], h[6], h[7]])) << 32)
                    | u64::from(endian.u32([h[8], h[9], h[10], h[11]]));
                let caplen = endian.u32([h[12], h[13], h[14], h[15]]);
                let itf = interfaces
                    .get(id as usize)
                    .ok_or(PcapError::UnknownInterface(id))?;
                let data = body.get(20..).unwrap_or(&[]);
                if caplen as usize > data.len() || caplen as usize > MAX_PACKET_LEN {
                    return Err(PcapError::BadPacketLength {
                        len: caplen.into(),
                        max: data.len().min(MAX_PACKET_LEN) as u64,
                    });
                }
                Ok(Some(Packet {
                    link_type: itf.link_type,
                    timestamp: Instant::from_micros(itf.micros(ts)?),
                    data: data[..caplen as usize].to_vec(),
                }))
            }
            BT_SPB => {
                // SPB (pcapng §4.4): Original Packet Length (4), data; interface 0, no
                // timestamp. The captured length is what the block holds (up to the original).
                let itf = interfaces.first().ok_or(PcapError::UnknownInterface(0))?;
                let orig = endian.u32(arr(body, 0).ok_or(PcapError::Truncated("simple packet"))?);
                let data = body.get(4..).unwrap_or(&[]);
                let len = data.len().min(orig as usize);
                if len > MAX_PACKET_LEN {
                    return Err(PcapError::BadPacketLength {
                        len: len as u64,
                        max: MAX_PACKET_LEN as u64,
                    });
                }
                Ok(Some(Packet {
                    link_type: itf.link_type,
                    timestamp: Instant::ZERO,
                    data: data[..len].to_vec(),
                }))
            }
            // Name resolution, statistics, decryption secrets, custom blocks: skipped.
            _ => Ok(None),
        }
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = Result<Packet, PcapError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet().transpose()
    }
}

/// Checks a pcapng Block Total Length (pcapng §3.1): a multiple of 4, at least the 12 octets
/// of an empty block, at most [`MAX_BLOCK_LEN`].
fn check_block_len(total: u32) -> Result<(), PcapError> {
    let why = if !total.is_multiple_of(4) {
        "not a multiple of 4"
    } else if total < 12 {
        "shorter than a block header"
    } else if total > MAX_BLOCK_LEN {
        "longer than the reader's limit"
    } else {
        return Ok(());
    };
    Err(PcapError::BadBlockLength { len: total, why })
}

/// Reads a Section Header Block after its type octets (pcapng §4.1) and returns the section's
/// byte order.
fn read_shb_rest<R: Read>(r: &mut R) -> Result<Endian, PcapError> {
    // The length comes before the byte-order magic; read both, then decide.
    let mut h = [0u8; 8];
    read_all(r, &mut h, "section header")?;
    let magic = [h[4], h[5], h[6], h[7]];
    let endian = if u32::from_le_bytes(magic) == BYTE_ORDER_MAGIC {
        Endian::Little
    } else if u32::from_be_bytes(magic) == BYTE_ORDER_MAGIC {
        Endian::Big
    } else {
        return Err(PcapError::BadByteOrderMagic(u32::from_le_bytes(magic)));
    };
    let total = endian.u32([h[0], h[1], h[2], h[3]]);
    check_block_len(total)?;
    if total < 28 {
        return Err(PcapError::BadBlockLength {
            len: total,
            why: "shorter than a section header",
        });
    }
    // Already read: type, length, magic (12 octets).
    let rest = read_vec(r, total as usize - 12, "section header")?;
    let major = endian.u16(arr(&rest, 0).ok_or(PcapError::Truncated("section header"))?);
    let minor = endian.u16(arr(&rest, 2).ok_or(PcapError::Truncated("section header"))?);
    if major != 1 {
        return Err(PcapError::UnsupportedVersion { major, minor });
    }
    let trailer = arr(&rest, rest.len() - 4).ok_or(PcapError::Truncated("section header"))?;
    if endian.u32(trailer) != total {
        return Err(PcapError::BadBlockLength {
            len: total,
            why: "trailing length differs",
        });
    }
    Ok(endian)
}

/// The options of a block (pcapng §3.5): `(code, value)` until `opt_endofopt` or the end.
struct Options<'a> {
    endian: Endian,
    rest: &'a [u8],
}

impl<'a> Options<'a> {
    fn new(endian: Endian, rest: &'a [u8]) -> Self {
        Options { endian, rest }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<(u16, &'a [u8]), PcapError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(h) = arr::<4>(self.rest, 0) else {
            self.rest = &[];
            return Some(Err(PcapError::BadOption { code: 0 }));
        };
        let code = self.endian.u16([h[0], h[1]]);
        let len = usize::from(self.endian.u16([h[2], h[3]]));
        if code == OPT_ENDOFOPT {
            self.rest = &[];
            return None;
        }
        let end = 4 + len + pad4(len);
        let Some(value) = self.rest.get(4..4 + len) else {
            self.rest = &[];
            return Some(Err(PcapError::BadOption { code }));
        };
        self.rest = self.rest.get(end..).unwrap_or(&[]);
        Some(Ok((code, value)))
    }
}

/// Reads every packet of a capture held in memory.
pub fn read_all_packets(bytes: &[u8]) -> Result<Vec<Packet>, PcapError> {
    PcapReader::new(bytes)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble_ll::tests::published;
    use proptest::prelude::*;

    // -----------------------------------------------------------------------------------------
    // pcapng writer and reader
    // -----------------------------------------------------------------------------------------

    fn write(packets: &[Packet]) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for p in packets {
            w.write_packet(p.link_type, p.timestamp, &p.data).unwrap();
        }
        w.flush().unwrap();
        w.into_inner()
    }

    fn sample_packets() -> Vec<Packet> {
        vec![
            Packet {
                link_type: LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
                timestamp: Instant::from_micros(1_700_000_000_123_456),
                data: published(),
            },
            Packet {
                link_type: LINKTYPE_IEEE802_15_4_TAP,
                timestamp: Instant::from_micros(1_700_000_000_223_456),
                data: vec![0, 0, 4, 0, 1, 2, 3],
            },
            Packet {
                link_type: LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
                timestamp: Instant::from_micros(u64::MAX),
                data: vec![],
            },
        ]
    }

    #[test]
    fn writer_layout() {
        let bytes = write(&sample_packets()[..1]);
        // SHB: type, length 28, byte-order magic, version 1.0, section length -1, length.
        assert_eq!(&bytes[..4], &[0x0A, 0x0D, 0x0D, 0x0A]);
        assert_eq!(&bytes[4..8], &28u32.to_le_bytes());
        assert_eq!(&bytes[8..12], &[0x4D, 0x3C, 0x2B, 0x1A]);
        assert_eq!(&bytes[12..16], &[1, 0, 0, 0]);
        assert_eq!(&bytes[16..24], &[0xFF; 8]);
        assert_eq!(&bytes[24..28], &28u32.to_le_bytes());
        // IDB: type 1, length 32, link type 256, snap length, if_tsresol 6, end of options.
        let idb = &bytes[28..60];
        assert_eq!(&idb[..8], &[1, 0, 0, 0, 32, 0, 0, 0]);
        assert_eq!(&idb[8..12], &[0x00, 0x01, 0, 0]);
        assert_eq!(&idb[12..16], &(MAX_PACKET_LEN as u32).to_le_bytes());
        assert_eq!(&idb[16..24], &[9, 0, 1, 0, 6, 0, 0, 0]);
        assert_eq!(&idb[24..28], &[0, 0, 0, 0]);
        assert_eq!(&idb[28..32], &32u32.to_le_bytes());
        // EPB: type 6, interface 0, timestamp high and low words, lengths, padded data.
        let epb = &bytes[60..];
        let len = 56usize; // the published packet
        assert_eq!(epb.len(), 32 + len);
        assert_eq!(&epb[..4], &[6, 0, 0, 0]);
        assert_eq!(&epb[4..8], &(32 + len as u32).to_le_bytes());
        assert_eq!(&epb[8..12], &[0; 4]);
        let ts = 1_700_000_000_123_456u64;
        assert_eq!(&epb[12..16], &((ts >> 32) as u32).to_le_bytes());
        assert_eq!(&epb[16..20], &(ts as u32).to_le_bytes());
        assert_eq!(&epb[20..24], &(len as u32).to_le_bytes());
        assert_eq!(&epb[24..28], &(len as u32).to_le_bytes());
        assert_eq!(&epb[28..28 + len], &published()[..]);
    }

    #[test]
    fn one_interface_per_link_type_and_padding() {
        let packets = sample_packets();
        let bytes = write(&packets);
        let idbs = {
            let mut n = 0;
            let mut at = 0;
            while at + 8 <= bytes.len() {
                if bytes[at..at + 4] == [1, 0, 0, 0] {
                    n += 1;
                }
                at += u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            }
            assert_eq!(at, bytes.len());
            n
        };
        assert_eq!(idbs, 2);
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(read_all_packets(&bytes).unwrap(), packets);
    }

    #[test]
    fn writer_refuses_oversized_packets() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let e = w
            .write_packet(230, Instant::ZERO, &vec![0; MAX_PACKET_LEN + 1])
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        w.write_packet(230, Instant::ZERO, &vec![7; MAX_PACKET_LEN])
            .unwrap();
        let back = read_all_packets(&w.into_inner()).unwrap();
        assert_eq!(back[0].data.len(), MAX_PACKET_LEN);
    }

    /// A pcapng block in either byte order.
    fn ng_block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let total = 12 + body.len() as u32;
        let mut b = u32b(block_type).to_vec();
        b.extend_from_slice(&u32b(total));
        b.extend_from_slice(body);
        b.extend_from_slice(&u32b(total));
        b
    }

    fn ng_shb(be: bool) -> Vec<u8> {
        let mut body = if be {
            [BYTE_ORDER_MAGIC.to_be_bytes(), [0, 1, 0, 0]].concat()
        } else {
            [BYTE_ORDER_MAGIC.to_le_bytes(), [1, 0, 0, 0]].concat()
        };
        body.extend_from_slice(&[0xFF; 8]);
        ng_block(be, BT_SHB, &body)
    }

    /// An IDB with the given if_tsresol (or none) in little-endian.
    fn ng_idb(link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
        let mut body = link.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        if let Some(r) = tsresol {
            push_option(&mut body, OPT_IF_TSRESOL, &[r]);
        }
        if let Some(o) = tsoffset {
            push_option(&mut body, OPT_IF_TSOFFSET, &o.to_le_bytes());
        }
        push_option(&mut body, OPT_ENDOFOPT, &[]);
        ng_block(false, BT_IDB, &body)
    }

    fn ng_epb(interface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = interface.to_le_bytes().to_vec();
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        body.resize(body.len() + pad4(data.len()), 0);
        ng_block(false, BT_EPB, &body)
    }

    #[test]
    fn reads_other_timestamp_resolutions() {
        let file = [
            ng_shb(false),
            ng_idb(230, None, None),               // default: µs
            ng_idb(230, Some(9), None),            // ns
            ng_idb(230, Some(0x80 | 10), None),    // 2^-10 s
            ng_idb(230, Some(3), Some(-1)),        // ms, minus one second
            ng_block(false, 0x0000_0004, &[0; 8]), // a Name Resolution Block: skipped
            ng_epb(0, 5_000_001, b"a"),
            ng_epb(1, 5_000_001_999, b"bc"),
            ng_epb(2, 3 * 1024, b"def"),
            ng_epb(3, 2_500, b"ghij"),
        ]
        .concat();
        let got: Vec<(u64, Vec<u8>)> = read_all_packets(&file)
            .unwrap()
            .into_iter()
            .map(|p| (p.timestamp.as_micros(), p.data))
            .collect();
        assert_eq!(
            got,
            vec![
                (5_000_001, b"a".to_vec()),
                (5_000_001, b"bc".to_vec()),
                (3_000_000, b"def".to_vec()),
                (1_500_000, b"ghij".to_vec()),
            ]
        );
        // Before the epoch: an error, not a wrap.
        let file = [
            ng_shb(false),
            ng_idb(230, Some(6), Some(-1)),
            ng_epb(0, 5, b""),
        ]
        .concat();
        assert!(matches!(
            read_all_packets(&file),
            Err(PcapError::TimestampOverflow)
        ));
    }

    #[test]
    fn reads_a_big_endian_section_and_several_sections() {
        let mut idb = 0x0100u16.to_be_bytes().to_vec(); // link type 256
        idb.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut epb = 0u32.to_be_bytes().to_vec();
        epb.extend_from_slice(&0u32.to_be_bytes());
        epb.extend_from_slice(&7u32.to_be_bytes());
        epb.extend_from_slice(&3u32.to_be_bytes());
        epb.extend_from_slice(&3u32.to_be_bytes());
        epb.extend_from_slice(&[1, 2, 3, 0]);
        let file = [
            ng_shb(true),
            ng_block(true, BT_IDB, &idb),
            ng_block(true, BT_EPB, &epb),
            // A second, little-endian section with interfaces of its own.
            ng_shb(false),
            ng_idb(230, None, None),
            ng_epb(0, 8, &[4]),
        ]
        .concat();
        let got = read_all_packets(&file).unwrap();
        assert_eq!(
            got,
            vec![
                Packet {
                    link_type: 256,
                    timestamp: Instant::from_micros(7),
                    data: vec![1, 2, 3]
                },
                Packet {
                    link_type: 230,
                    timestamp: Instant::from_micros(8),
                    data: vec![4]
                },
            ]
        );
        // Interface 0 of the first section does not survive into the second.
        let file = [
            ng_shb(false),
            ng_idb(230, None, None),
            ng_shb(false),
            ng_epb(0, 8, &[4]),
        ]
        .concat();
        assert!(matches!(
            read_all_packets(&file),
            Err(PcapError::UnknownInterface(0))
        ));
    }

    #[test]
    fn reads_simple_and_obsolete_packet_blocks() {
        let mut spb = 5u32.to_le_bytes().to_vec();
        spb.extend_from_slice(&[9, 8, 7, 6, 5, 0, 0, 0]);
        let mut pb = vec![0, 0, 0, 0]; // interface 0, no drops
        pb.extend_from_slice(&0u32.to_le_bytes());
        pb.extend_from_slice(&42u32.to_le_bytes());
        pb.extend_from_slice(&1u32.to_le_bytes());
        pb.extend_from_slice(&1u32.to_le_bytes());
        pb.extend_from_slice(&[0xEE, 0, 0, 0]);
        let file = [
            ng_shb(false),
            ng_idb(283, None, None),
            ng_block(false, BT_SPB, &spb),
            ng_block(false, BT_PB_OBSOLETE, &pb),
        ]
        .concat();
        let got = read_all_packets(&file).unwrap();
        assert_eq!(got[0].data, vec![9, 8, 7, 6, 5]);
        assert_eq!(got[0].link_type, 283);
        assert_eq!(got[1].data, vec![0xEE]);
        assert_eq!(got[1].timestamp, Instant::from_micros(42));
    }

    /// A classic libpcap file.
    fn classic(be: bool, nanos: bool, link: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = u32b(if nanos { PCAP_MAGIC_NS } else { PCAP_MAGIC_US }).to_vec();
        f.extend_from_slice(&u16b(2));
        f.extend_from_slice(&u16b(4));
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&u32b(65535));
        f.extend_from_slice(&u32b(link));
        for (s, frac, data) in records {
            f.extend_from_slice(&u32b(*s));
            f.extend_from_slice(&u32b(*frac));
            f.extend_from_slice(&u32b(data.len() as u32));
            f.extend_from_slice(&u32b(data.len() as u32 + 10));
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn reads_classic_pcap_in_every_variant() {
        for be in [false, true] {
            for nanos in [false, true] {
                let frac = if nanos { 250_000_999 } else { 250_000 };
                let f = classic(be, nanos, 256, &[(10, frac, &[1, 2, 3]), (11, 0, &[])]);
                let got = read_all_packets(&f).unwrap();
                assert_eq!(
                    got,
                    vec![
                        Packet {
                            link_type: 256,
                            timestamp: Instant::from_micros(10_250_000),
                            data: vec![1, 2, 3]
                        },
                        Packet {
                            link_type: 256,
                            timestamp: Instant::from_micros(11_000_000),
                            data: vec![]
                        },
                    ],
                    "be {be} nanos {nanos}"
                );
            }
        }
        // FCS information in the upper bits of the link-type field is not the link type.
        let f = classic(false, false, 0x1000_00E6, &[(1, 0, &[5])]);
        assert_eq!(read_all_packets(&f).unwrap()[0].link_type, 230);
    }

    #[test]
    fn malformed_files_are_errors() {
        let good = write(&sample_packets());
        // Not a capture.
        assert!(matches!(
            read_all_packets(b"GIF89a..."),
            Err(PcapError::NotACapture(_))
        ));
        assert!(matches!(
            read_all_packets(b""),
            Err(PcapError::Truncated(_))
        ));
        // A block length that is no multiple of 4, too small, or huge (no allocation).
        for len in [29u32, 8, 0xFFFF_FFFC] {
            let mut f = good.clone();
            f[32..36].copy_from_slice(&len.to_le_bytes()); // the IDB's length
            assert!(
                matches!(read_all_packets(&f), Err(PcapError::BadBlockLength { .. })),
                "length {len}"
            );
        }
        // Trailing length differs.
        let mut f = good.clone();
        f[56] ^= 4;
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::BadBlockLength { .. })
        ));
        // Wrong byte-order magic, wrong version.
        let mut f = good.clone();
        f[8] = 0;
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::BadByteOrderMagic(_))
        ));
        let mut f = good.clone();
        f[12] = 2;
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::UnsupportedVersion { major: 2, .. })
        ));
        // A packet on an interface nobody described.
        let mut f = good.clone();
        f[68] = 9; // the first EPB's interface id
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::UnknownInterface(9))
        ));
        // A captured length beyond its block.
        let mut f = good.clone();
        f[80..84].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::BadPacketLength { .. })
        ));
        // An option running past its block.
        let mut f = good.clone();
        f[46..48].copy_from_slice(&200u16.to_le_bytes()); // if_tsresol's length
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::BadOption { code: 9 })
        ));
        // Classic pcap: bad version, oversized record, truncated record.
        let mut f = classic(false, false, 256, &[(1, 0, &[1, 2])]);
        f[4] = 3;
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::UnsupportedVersion { major: 3, .. })
        ));
        let mut f = classic(false, false, 256, &[(1, 0, &[1, 2])]);
        f[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_all_packets(&f),
            Err(PcapError::BadPacketLength { .. })
        ));
        let f = classic(false, false, 256, &[(1, 0, &[1, 2])]);
        assert!(matches!(
            read_all_packets(&f[..f.len() - 1]),
            Err(PcapError::Truncated(_))
        ));
    }

    #[test]
    fn the_reader_stops_after_an_error() {
        let mut f = write(&sample_packets());
        let n = f.len();
        f.truncate(n - 2);
        let mut r = PcapReader::new(&f[..]).unwrap();
        assert!(r.next().unwrap().is_ok());
        assert!(r.next().unwrap().is_ok());
        assert!(r.next().unwrap().is_err());
        assert!(r.next().is_none());
    }

    #[test]
    fn every_truncation_is_a_prefix_or_an_error() {
        let good = write(&sample_packets());
        let all = read_all_packets(&good).unwrap();
        // Block boundaries: after the SHB (28), IDB (60), EPB, IDB, EPB, EPB.
        let mut boundaries = vec![];
        let mut at = 0;
        while at < good.len() {
            at += u32::from_le_bytes(good[at + 4..at + 8].try_into().unwrap()) as usize;
            boundaries.push(at);
        }
        for cut in 0..good.len() {
            match read_all_packets(&good[..cut]) {
                Ok(got) => {
                    assert!(boundaries.contains(&cut), "cut {cut} read without error");
                    assert_eq!(got[..], all[..got.len()]);
                }
                Err(PcapError::Truncated(_)) => assert!(!boundaries.contains(&cut), "cut {cut}"),
                Err(e) => panic!("cut {cut}: {e}"),
            }
        }
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        (
            prop_oneof![
                Just(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR),
                Just(LINKTYPE_IEEE802_15_4_TAP),
                Just(LINKTYPE_IEEE802_15_4_NOFCS),
                any::<u16>(),
            ],
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(link_type, ts, data)| Packet {
                link_type,
                timestamp: Instant::from_micros(ts),
                data,
            })
    }

    proptest! {
        #[test]
        fn write_read_round_trip(packets in proptest::collection::vec(arb_packet(), 0..12)) {
            let bytes = write(&packets);
            prop_assert_eq!(read_all_packets(&bytes).unwrap(), packets);
        }

        #[test]
        fn corrupt_files_never_panic(
            packets in proptest::collection::vec(arb_packet(), 1..4),
            edits in proptest::collection::vec(
                (any::<proptest::sample::Index>(), any::<u8>()),
                1..8,
            ),
        ) {
            let mut bytes = write(&packets);
            for (i, v) in edits {
                let i = i.index(bytes.len());
                bytes[i] = v;
            }
            let _ = read_all_packets(&bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            kind in 0usize..3,
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let head: &[u8] = match kind {
                0 => &[0x0A, 0x0D, 0x0D, 0x0A],
                1 => &[0xD4, 0xC3, 0xB2, 0xA1],
                _ => &[0x4D, 0x3C, 0xB2, 0xA1],
            };
            let _ = read_all_packets(&[head, &tail].concat());
        }
    }
}
