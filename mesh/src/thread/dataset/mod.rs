//! The Active Operational Dataset (Thread 1.3 §8.10.1, §8.4.3.2): a node's credentials and
//! network parameters as MeshCoP TLVs (§8.10: Type(1) Length(1) Value; a Length of 0xFF is
//! followed by a 2-octet extended length), read from and written as the hex OpenThread's CLI
//! prints with `dataset active -x` and takes with `dataset set active <hex>`.
//!
//! Known TLVs are checked and held as typed fields; unknown TLVs (and those of other datasets,
//! such as Pending Timestamp or Delay Timer) are kept verbatim. The TLVs are written back in
//! the order they were read, so a dataset re-emits as received; fields set afterwards follow
//! in the order OpenThread writes a new dataset (`Dataset::SetFrom`).

pub mod pskc;

pub use pskc::{derive_pskc, pbkdf2_cmac, PskcError, PSKC_ITERATIONS};

use crate::wire::{need, Error, Result};
use rand_core::RngCore;

/// MeshCoP TLV types (Thread 1.3 §8.10, table 8-5; numbers as OpenThread's
/// `OT_MESHCOP_TLV_*` in `include/openthread/dataset.h`).
pub mod tlv {
    /// §8.10.1.1 Channel: Channel Page (1), Channel (2).
    pub const CHANNEL: u8 = 0;
    /// §8.10.1.2 PAN ID (2).
    pub const PAN_ID: u8 = 1;
    /// §8.10.1.3 Extended PAN ID (8).
    pub const EXTENDED_PAN_ID: u8 = 2;
    /// §8.10.1.4 Network Name (0-16 UTF-8 octets).
    pub const NETWORK_NAME: u8 = 3;
    /// §8.10.1.5 PSKc (16).
    pub const PSKC: u8 = 4;
    /// §8.10.1.6 Network Key (16).
    pub const NETWORK_KEY: u8 = 5;
    /// §8.10.1.7 Network Key Sequence Counter (4).
    pub const NETWORK_KEY_SEQUENCE: u8 = 6;
    /// §8.10.1.8 Mesh-Local Prefix (8).
    pub const MESH_LOCAL_PREFIX: u8 = 7;
    /// §8.10.1.15 Security Policy: Rotation Time (2), flags (1 in Thread 1.1, 2 since 1.2).
    pub const SECURITY_POLICY: u8 = 12;
    /// §8.10.1.14 Active Timestamp (8).
    pub const ACTIVE_TIMESTAMP: u8 = 14;
    /// §8.10.1.14 Pending Timestamp (8), of a Pending Dataset.
    pub const PENDING_TIMESTAMP: u8 = 51;
    /// §8.10.1.16 Delay Timer (4), of a Pending Dataset.
    pub const DELAY_TIMER: u8 = 52;
    /// §8.10.1.18 Channel Mask: entries of Channel Page (1), Mask Length (1), Mask.
    pub const CHANNEL_MASK: u8 = 53;
}

/// OpenThread's bound on a dataset's TLVs (`OT_OPERATIONAL_DATASET_MAX_LENGTH`, 254 octets).
pub const MAX_DATASET_LEN: usize = 254;
/// The 2.4 GHz O-QPSK channels of page 0 (IEEE 802.15.4-2015 §10.1.2.2: 11 to 26).
pub const PAGE0_CHANNELS: core::ops::RangeInclusive<u16> = 11..=26;
/// The Key Rotation Time of a new dataset, hours (Thread 1.3 §8.10.1.15; OpenThread's
/// `kDefaultKeyRotationTime`).
pub const DEFAULT_ROTATION_HOURS: u16 = 672;
/// The Security Policy flags of a new dataset (two octets, Thread 1.2 and later): O, N, R, C
/// set, B clear, CCM/AE/NP not required (their inverted bits set), TO (ToBLE link) and NCR set,
/// the reserved bits 1, VR 0; as OpenThread's `dataset init new` prints them (`0c0402a0f7f8`).
pub const DEFAULT_SECURITY_FLAGS: [u8; 2] = [0xf7, 0xf8];

/// Timestamp (Thread 1.3 §8.10.1.14): 48-bit seconds, 15-bit ticks (1/32768 s), U bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub seconds: u64,
    pub ticks: u16,
    pub authoritative: bool,
}

impl Timestamp {
    fn parse(v: &[u8]) -> Result<Self> {
        let v: [u8; 8] = exact(v, "Active Timestamp TLV length (8)")?;
        let mut s = [0u8; 8];
        s[2..].copy_from_slice(&v[..6]);
        let t = u16::from_be_bytes([v[6], v[7]]);
        Ok(Timestamp {
            seconds: u64::from_be_bytes(s),
            ticks: t >> 1,
            authoritative: t & 1 != 0,
        })
    }
    fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&(self.seconds & 0xffff_ffff_ffff).to_be_bytes()[2..]);
        let t = ((self.ticks & 0x7fff) << 1) | self.authoritative as u16;
        b[6..].copy_from_slice(&t.to_be_bytes());
        b
    }
}

/// Channel (Thread 1.3 §8.10.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel {
    pub page: u8,
    pub number: u16,
}

/// One Channel Mask entry (Thread 1.3 §8.10.1.18): the mask's bits in order from the most
/// significant bit of its first octet, bit `n` for channel `n`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelMaskEntry {
    pub page: u8,
    pub mask: Vec<u8>,
}

impl ChannelMaskEntry {
    /// A page 0 entry from a bitmap with bit `n` set for channel `n` (0-31).
    pub fn page0(channels: u32) -> Self {
        ChannelMaskEntry {
            page: 0,
            mask: channels.reverse_bits().to_be_bytes().to_vec(),
        }
    }
    /// Whether channel `n` is in the mask.
    pub fn contains(&self, n: u16) -> bool {
        let (byte, bit) = (n as usize / 8, n % 8);
        self.mask.get(byte).is_some_and(|b| b & (0x80 >> bit) != 0)
    }
    /// The first 32 channels as a bitmap, bit `n` for channel `n`.
    pub fn bitmap(&self) -> u32 {
        (0..32u16)
            .filter(|&n| self.contains(n))
            .fold(0, |m, n| m | 1 << n)
    }
}

/// Security Policy (Thread 1.3 §8.10.1.15): the flag octets are kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecurityPolicy {
    pub rotation_hours: u16,
    pub flags: Vec<u8>,
}

/// An Active Operational Dataset. `None` fields are absent TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActiveDataset {
    pub active_timestamp: Option<Timestamp>,
    pub channel: Option<Channel>,
    pub channel_mask: Option<Vec<ChannelMaskEntry>>,
    pub extended_pan_id: Option<[u8; 8]>,
    pub mesh_local_prefix: Option<[u8; 8]>,
    pub network_key: Option<[u8; 16]>,
    pub network_name: Option<String>,
    pub pan_id: Option<u16>,
    pub pskc: Option<[u8; 16]>,
    pub security_policy: Option<SecurityPolicy>,
    /// TLVs weft does not interpret, each whole (type, length, value) as received.
    pub unknown: Vec<Vec<u8>>,
    /// The types in the order they were read (known ones only; unknown ones keep their
    /// place through `unknown`'s order and a marker here).
    order: Vec<Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Known(u8),
    Unknown(usize),
}

/// The order OpenThread writes a new dataset in (`Dataset::SetFrom`).
const CANONICAL: [u8; 10] = [
    tlv::ACTIVE_TIMESTAMP,
    tlv::CHANNEL,
    tlv::CHANNEL_MASK,
    tlv::EXTENDED_PAN_ID,
    tlv::MESH_LOCAL_PREFIX,
    tlv::NETWORK_KEY,
    tlv::NETWORK_NAME,
    tlv::PAN_ID,
    tlv::PSKC,
    tlv::SECURITY_POLICY,
];

fn exact<const N: usize>(v: &[u8], field: &'static str) -> Result<[u8; N]> {
    v.try_into().map_err(|_| Error::Invalid {
        field,
        value: v.len() as u32,
    })
}

/// One MeshCoP TLV as found in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTlv<'a> {
    pub ty: u8,
    pub value: &'a [u8],
    /// Type, length (short or extended form) and value.
    pub whole: &'a [u8],
}

/// Splits MeshCoP TLVs (§8.10).
pub fn split_tlvs(b: &[u8]) -> Result<Vec<RawTlv<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        need(b, at + 2)?;
        let ty = b[at];
        let (len, hdr) = if b[at + 1] == 0xff {
            need(b, at + 4)?;
            (u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize, 4)
        } else {
            (b[at + 1] as usize, 2)
        };
        need(b, at + hdr + len)?;
        out.push(RawTlv {
            ty,
            value: &b[at + hdr..at + hdr + len],
            whole: &b[at..at + hdr + len],
        });
        at += hdr + len;
    }
    Ok(out)
}

fn push_tlv(out: &mut Vec<u8>, ty: u8, v: &[u8]) {
    out.push(ty);
    if v.len() < 0xff {
        out.push(v.len() as u8);
    } else {
        out.push(0xff);
        out.extend_from_slice(&(v.len().min(u16::MAX as usize) as u16).to_be_bytes());
    }
    out.extend_from_slice(&v[..v.len().min(u16::MAX as usize)]);
}

impl ActiveDataset {
    /// Reads a dataset's TLVs. Known TLVs with a wrong length or value, a TLV present twice,
    /// and more than [`MAX_DATASET_LEN`] octets are refused.
    pub fn from_tlvs(b: &[u8]) -> Result<Self> {
        if b.len() > MAX_DATASET_LEN {
            return Err(Error::TooLong {
                max: MAX_DATASET_LEN,
                got: b.len(),
            });
        }
        let mut d = ActiveDataset::default();
        for RawTlv {
            ty,
            value: v,
            whole,
        } in split_tlvs(b)?
        {
            if d.order.contains(&Slot::Known(ty)) {
                return Err(Error::Invalid {
                    field: "dataset TLV present twice",
                    value: ty as u32,
                });
            }
            if whole.len() - v.len() == 4 && v.len() < 0xff && CANONICAL.contains(&ty) {
                // §8.10: the extended form is for values of 255 octets and more.
                return Err(Error::Invalid {
                    field: "dataset TLV in the extended form with a short value",
                    value: ty as u32,
                });
            }
            let known = d.set_from_tlv(ty, v)?;
            if known {
                d.order.push(Slot::Known(ty));
            } else {
                d.order.push(Slot::Unknown(d.unknown.len()));
                d.unknown.push(whole.to_vec());
            }
        }
        Ok(d)
    }

    /// Sets the field of TLV `ty` from its value; `false` when the type is not one weft reads.
    fn set_from_tlv(&mut self, ty: u8, v: &[u8]) -> Result<bool> {
        match ty {
            tlv::CHANNEL => {
                let c: [u8; 3] = exact(v, "Channel TLV length (3)")?;
                self.channel = Some(Channel {
                    page: c[0],
                    number: u16::from_be_bytes([c[1], c[2]]),
                });
            }
            tlv::PAN_ID => {
                self.pan_id = Some(u16::from_be_bytes(exact(v, "PAN ID TLV length (2)")?));
            }
            tlv::EXTENDED_PAN_ID => {
                self.extended_pan_id = Some(exact(v, "Extended PAN ID TLV length (8)")?);
            }
            tlv::NETWORK_NAME => {
                if v.len() > pskc::NETWORK_NAME_MAX {
                    return Err(Error::Invalid {
                        field: "Network Name TLV length (at most 16)",
                        value: v.len() as u32,
                    });
                }
                let name = core::str::from_utf8(v).map_err(|e| Error::Invalid {
                    field: "Network Name TLV (not UTF-8)",
                    value: e.valid_up_to() as u32,
                })?;
                self.network_name = Some(name.to_string());
            }
            tlv::PSKC => self.pskc = Some(exact(v, "PSKc TLV length (16)")?),
            tlv::NETWORK_KEY => self.network_key = Some(exact(v, "Network Key TLV length (16)")?),
            tlv::MESH_LOCAL_PREFIX => {
                self.mesh_local_prefix = Some(exact(v, "Mesh-Local Prefix TLV length (8)")?);
            }
            tlv::SECURITY_POLICY => {
                if v.len() < 3 {
                    return Err(Error::Invalid {
                        field: "Security Policy TLV length (at least 3)",
                        value: v.len() as u32,
                    });
                }
                self.security_policy = Some(SecurityPolicy {
                    rotation_hours: u16::from_be_bytes([v[0], v[1]]),
                    flags: v[2..].to_vec(),
                });
            }
            tlv::ACTIVE_TIMESTAMP => self.active_timestamp = Some(Timestamp::parse(v)?),
            tlv::CHANNEL_MASK => {
                let mut entries = Vec::new();
                let mut at = 0;
                while at < v.len() {
                    need(v, at + 2)?;
                    let n = v[at + 1] as usize;
                    need(v, at + 2 + n)?;
                    entries.push(ChannelMaskEntry {
                        page: v[at],
                        mask: v[at + 2..at + 2 + n].to_vec(),
                    });
                    at += 2 + n;
                }
                self.channel_mask = Some(entries);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The value of known TLV `ty`, when its field is set.
    fn value_of(&self, ty: u8) -> Option<Vec<u8>> {
        Some(match ty {
            tlv::CHANNEL => {
                let c = self.channel?;
                [&[c.page][..], &c.number.to_be_bytes()].concat()
            }
            tlv::PAN_ID => self.pan_id?.to_be_bytes().to_vec(),
            tlv::EXTENDED_PAN_ID => self.extended_pan_id?.to_vec(),
            tlv::NETWORK_NAME => self.network_name.as_ref()?.as_bytes().to_vec(),
            tlv::PSKC => self.pskc?.to_vec(),
            tlv::NETWORK_KEY => self.network_key?.to_vec(),
            tlv::MESH_LOCAL_PREFIX => self.mesh_local_prefix?.to_vec(),
            tlv::SECURITY_POLICY => {
                let p = self.security_policy.as_ref()?;
                [&p.rotation_hours.to_be_bytes()[..], &p.flags].concat()
            }
            tlv::ACTIVE_TIMESTAMP => self.active_timestamp?.to_bytes().to_vec(),
            tlv::CHANNEL_MASK => {
                let mut v = Vec::new();
                for e in self.channel_mask.as_ref()? {
                    let n = e.mask.len().min(255);
                    v.extend_from_slice(&[e.page, n as u8]);
                    v.extend_from_slice(&e.mask[..n]);
                }
                v
            }
            _ => return None,
        })
    }

    /// The dataset's TLVs: in the order read, then fields set since in OpenThread's order,
    /// then unknown TLVs added since.
    pub fn to_tlvs(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for s in &self.order {
            match *s {
                Slot::Known(ty) => {
                    if let Some(v) = self.value_of(ty) {
                        push_tlv(&mut out, ty, &v);
                    }
                }
                Slot::Unknown(i) => {
                    if let Some(t) = self.unknown.get(i) {
                        out.extend_from_slice(t);
                    }
                }
            }
        }
        for ty in CANONICAL {
            if !self.order.contains(&Slot::Known(ty)) {
                if let Some(v) = self.value_of(ty) {
                    push_tlv(&mut out, ty, &v);
                }
            }
        }
        for (i, t) in self.unknown.iter().enumerate() {
            if !self.order.contains(&Slot::Unknown(i)) {
                out.extend_from_slice(t);
            }
        }
        out
    }

    /// Reads the hex OpenThread prints (`dataset active -x`); either case, surrounding
    /// whitespace ignored.
    pub fn from_hex(s: &str) -> core::result::Result<Self, DatasetHexError> {
        let b = hex::decode(s.trim()).map_err(DatasetHexError::Hex)?;
        Self::from_tlvs(&b).map_err(DatasetHexError::Tlv)
    }

    /// The TLVs as lowercase hex, as OpenThread prints them.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_tlvs())
    }

    /// A new network's dataset, as OpenThread's `dataset init new`
    /// (`Dataset::Info::GenerateRandom`): Active Timestamp 1, a random page 0 channel (11-26),
    /// channel mask 11-26, a random PAN ID (not 0xffff), network key, PSKc and extended PAN ID,
    /// a random ULA mesh-local prefix (`fd` and 56 random bits, RFC 4193 §3.1, as OpenThread's
    /// `NetworkPrefix::GenerateRandomUla`), the
    /// name `OpenThread-%04x` of the PAN ID, and the default Security Policy.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let span = (PAGE0_CHANNELS.end() - PAGE0_CHANNELS.start() + 1) as u32;
        let channel = PAGE0_CHANNELS.start() + (rng.next_u32() % span) as u16;
        // PAN ID 0xffff is the broadcast PAN ID (IEEE 802.15.4-2015 §7.2.1).
        let pan_id = (rng.next_u32() % 0xffff) as u16;
        let mut key = [0u8; 16];
        rng.fill_bytes(&mut key);
        let mut pskc = [0u8; 16];
        rng.fill_bytes(&mut pskc);
        let mut xpan = [0u8; 8];
        rng.fill_bytes(&mut xpan);
        let mut ml = [0u8; 8];
        ml[0] = 0xfd;
        rng.fill_bytes(&mut ml[1..]);
        let mask = PAGE0_CHANNELS.fold(0u32, |m, c| m | 1 << c);
        ActiveDataset {
            active_timestamp: Some(Timestamp {
                seconds: 1,
                ticks: 0,
                authoritative: false,
            }),
            channel: Some(Channel {
                page: 0,
                number: channel,
            }),
            channel_mask: Some(vec![ChannelMaskEntry::page0(mask)]),
            extended_pan_id: Some(xpan),
            mesh_local_prefix: Some(ml),
            network_key: Some(key),
            network_name: Some(format!("OpenThread-{pan_id:04x}")),
            pan_id: Some(pan_id),
            pskc: Some(pskc),
            security_policy: Some(SecurityPolicy {
                rotation_hours: DEFAULT_ROTATION_HOURS,
                flags: DEFAULT_SECURITY_FLAGS.to_vec(),
            }),
            unknown: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Sets the PSKc from a commissioning passphrase (§8.4.1.2.2), with this dataset's network
    /// name and extended PAN ID (both required).
    pub fn set_pskc_from_passphrase(
        &mut self,
        passphrase: &str,
    ) -> core::result::Result<(), DatasetPskcError> {
        let name = self
            .network_name
            .as_deref()
            .ok_or(DatasetPskcError::Missing("Network Name"))?;
        let xpan = self
            .extended_pan_id
            .ok_or(DatasetPskcError::Missing("Extended PAN ID"))?;
        self.pskc = Some(derive_pskc(passphrase, name, &xpan)?);
        Ok(())
    }

    /// What a node needs to run and is absent (Thread 1.3 §8.10.1: an Active Dataset that
    /// lets a device attach has these).
    pub fn missing_for_attach(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        let checks: [(bool, &'static str); 6] = [
            (self.network_key.is_some(), "Network Key"),
            (self.pan_id.is_some(), "PAN ID"),
            (self.channel.is_some(), "Channel"),
            (self.extended_pan_id.is_some(), "Extended PAN ID"),
            (self.mesh_local_prefix.is_some(), "Mesh-Local Prefix"),
            (self.network_name.is_some(), "Network Name"),
        ];
        for (ok, name) in checks {
            if !ok {
                m.push(name);
            }
        }
        m
    }
}

/// Why dataset hex was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatasetHexError {
    #[error("not hex ({0}); give the output of OpenThread's `dataset active -x`")]
    Hex(hex::FromHexError),
    #[error("malformed dataset TLVs: {0}")]
    Tlv(Error),
}

/// Why a PSKc could not be set on a dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetPskcError {
    #[error("the dataset has no {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Pskc(#[from] PskcError),
}

/// Reads `data` as dataset TLVs; what parses re-emits as received. For the fuzzer and the
/// random-input tests.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let Ok(d) = ActiveDataset::from_tlvs(data) else {
        return;
    };
    assert_eq!(d.to_tlvs(), data, "a parsed dataset re-emits as received");
    let _ = d.missing_for_attach();
    if let Some(m) = &d.channel_mask {
        let _ = m.iter().map(ChannelMaskEntry::bitmap).count();
    }
}

#[cfg(test)]
mod tests;
