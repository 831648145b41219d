//! CCM* on IEEE 802.15.4 MAC frames (802.15.4-2015 §9.3.3-9.3.5).
//!
//! - Nonce (§9.3.2.2, figure 9-3): the originator's extended address (8 octets, most
//!   significant first: the reverse of its air order), the Frame Counter (4 octets, big
//!   endian: the reverse of its air order in the auxiliary security header) and the Security
//!   Level (1 octet).
//! - a data (§9.3.5.2): the MHR through the auxiliary security header, the header IEs, and
//!   the open payload; m data: the private payload (payload IEs and payload). With a level
//!   that does not encrypt (1-3), the whole MAC payload is a data and m is empty.
//! - Open payload (§9.3.5.2): for MAC command frames the Command ID (when no payload IEs
//!   precede it), for 2003/2006-style beacons the Superframe Specification, GTS and Pending
//!   Address fields; nothing for data and acknowledgment frames.

use super::keys::{KeyManager, ThreadKeys};
use crate::crypto::CcmStar;
use crate::thread::mac::{
    AuxSecurityHeader, Body, ExtAddress, Frame, FrameParts, FrameType, FrameVersion, KeyIdentifier,
};
use crate::wire::{Error, Result};

/// The CCM* nonce of a frame from `src` (§9.3.2.2).
pub fn nonce(src: ExtAddress, frame_counter: u32, level: u8) -> [u8; 13] {
    let mut n = [0u8; 13];
    n[..8].copy_from_slice(&src.0);
    n[8..12].copy_from_slice(&frame_counter.to_be_bytes());
    n[12] = level;
    n
}

/// Octets of the open payload at the start of a MAC payload `data` (see the module docs).
pub fn open_payload_len(frame: &Frame, data: &[u8]) -> Result<usize> {
    match frame.frame_type {
        FrameType::Data | FrameType::Ack => Ok(0),
        FrameType::MacCommand if frame.has_payload_ies() => Ok(0),
        FrameType::MacCommand => Ok(data.len().min(1)),
        FrameType::Beacon if frame.version == FrameVersion::V2015 => Ok(0),
        FrameType::Beacon => beacon_open_len(data),
    }
}

/// Superframe Specification (2), GTS fields (§7.3.1.3-7.3.1.4) and Pending Address fields
/// (§7.3.1.5-7.3.1.6) of a beacon.
fn beacon_open_len(d: &[u8]) -> Result<usize> {
    let trunc = |need| Error::Truncated { need, got: d.len() };
    let gts = *d.get(2).ok_or(trunc(3))?;
    let count = (gts & 7) as usize;
    let mut at = 3 + if count > 0 { 1 + 3 * count } else { 0 };
    let pending = *d.get(at).ok_or(trunc(at + 1))?;
    at += 1 + 2 * (pending & 7) as usize + 8 * ((pending >> 4) & 7) as usize;
    if at > d.len() {
        return Err(trunc(at));
    }
    Ok(at)
}

fn header_bytes(frame: &Frame) -> Vec<u8> {
    let mut h = vec![0u8; frame.mhr_len() + frame.header_ies_len()];
    frame.emit_header(&mut h);
    h
}

fn frame_nonce(sec: &AuxSecurityHeader, src: ExtAddress) -> Result<[u8; 13]> {
    if sec.asn_in_nonce {
        return Err(Error::Invalid {
            field: "ASN in Nonce (TSCH nonces are not supported)",
            value: sec.security_control() as u32,
        });
    }
    let fc = sec.frame_counter.ok_or(Error::Invalid {
        field: "frame counter suppressed (TSCH nonces are not supported)",
        value: sec.security_control() as u32,
    })?;
    if sec.level.value() == 4 {
        return Err(Error::Invalid {
            field: "security level 4 (encryption without MIC; removed in 802.15.4-2015)",
            value: 4,
        });
    }
    Ok(nonce(src, fc, sec.level.value()))
}

fn open_body(frame: &Frame, plain: Vec<u8>) -> Result<Body> {
    if frame.has_payload_ies() {
        let (payload_ies, n) = crate::thread::mac::parse_payload_ies(&plain)?;
        Ok(Body::Open {
            payload_ies,
            payload: plain[n..].to_vec(),
        })
    } else {
        Ok(Body::Open {
            payload_ies: Vec::new(),
            payload: plain,
        })
    }
}

/// Verifies and decrypts a secured frame from `src` (its extended address: the frame's own
/// source address when extended, the neighbour's otherwise) under `key`. The result keeps the
/// auxiliary security header and has an open body.
pub fn unsecure(frame: &Frame, key: &CcmStar, src: ExtAddress) -> Result<Frame> {
    let (Some(sec), Body::Secured { data, mic }) = (&frame.security, &frame.body) else {
        return Err(Error::Invalid {
            field: "frame is not secured",
            value: 0,
        });
    };
    if sec.level.value() == 0 {
        return Ok(Frame {
            body: open_body(frame, data.clone())?,
            ..frame.clone()
        });
    }
    let n = frame_nonce(sec, src)?;
    let mut aad = header_bytes(frame);
    let mut plain = data.clone();
    if sec.level.encrypted() {
        let open = open_payload_len(frame, data)?;
        aad.extend_from_slice(&data[..open]);
        key.decrypt_in_place(&n, &aad, &mut plain[open..], mic)
    } else {
        aad.extend_from_slice(data);
        key.decrypt_in_place(&n, &aad, &mut [], mic)
    }
    .map_err(|_| Error::Auth("MAC frame MIC mismatch"))?;
    Ok(Frame {
        body: open_body(frame, plain)?,
        ..frame.clone()
    })
}

/// Verifies and decrypts the secured frame `parts` parsed from `b` (see
/// [`Frame::parse_parts`]) from `src` under `key`, as [`unsecure`] does but into `plain`
/// (cleared first, so a decoder reuses one buffer): afterwards `plain` holds the MAC payload
/// (open payload, payload IEs, payload) in clear. The a data is taken from `b` as received.
pub fn unsecure_into(
    b: &[u8],
    parts: &FrameParts,
    key: &CcmStar,
    src: ExtAddress,
    plain: &mut Vec<u8>,
) -> Result<()> {
    let frame = &parts.frame;
    let (Some(sec), Body::Secured { .. }) = (&frame.security, &frame.body) else {
        return Err(Error::Invalid {
            field: "frame is not secured",
            value: 0,
        });
    };
    let (Some(data), Some(mic)) = (b.get(parts.payload_at..parts.mic_at), b.get(parts.mic_at..))
    else {
        return Err(Error::Truncated {
            need: parts.mic_at,
            got: b.len(),
        });
    };
    plain.clear();
    plain.extend_from_slice(data);
    if sec.level.value() == 0 {
        return Ok(());
    }
    let n = frame_nonce(sec, src)?;
    if sec.level.encrypted() {
        let open = open_payload_len(frame, data)?;
        let aad = &b[..parts.payload_at + open];
        key.decrypt_in_place(&n, aad, &mut plain[open..], mic)
    } else {
        key.decrypt_in_place(&n, &b[..parts.mic_at], &mut [], mic)
    }
    .map_err(|_| Error::Auth("MAC frame MIC mismatch"))
}

/// Secures a frame whose `security` header is set and whose body is open: the inverse of
/// [`unsecure`].
pub fn secure(frame: &Frame, key: &CcmStar, src: ExtAddress) -> Result<Frame> {
    let (
        Some(sec),
        Body::Open {
            payload_ies,
            payload,
        },
    ) = (&frame.security, &frame.body)
    else {
        return Err(Error::Invalid {
            field: "frame has no security header or is already secured",
            value: 0,
        });
    };
    let mut data = Vec::new();
    for ie in payload_ies {
        let at = data.len();
        data.resize(at + ie.buffer_len(), 0);
        ie.emit(&mut data[at..]);
    }
    data.extend_from_slice(payload);
    if sec.level.value() == 0 {
        return Ok(Frame {
            body: Body::Secured { data, mic: vec![] },
            ..frame.clone()
        });
    }
    let n = frame_nonce(sec, src)?;
    let mut aad = header_bytes(frame);
    let unsupported = |_| Error::Invalid {
        field: "message too long for CCM*",
        value: 0,
    };
    let mic = if sec.level.encrypted() {
        let open = open_payload_len(frame, &data)?;
        aad.extend_from_slice(&data[..open]);
        key.encrypt_in_place(&n, &aad, &mut data[open..], sec.level.mic_len())
    } else {
        aad.extend_from_slice(&data);
        key.encrypt_in_place(&n, &aad, &mut [], sec.level.mic_len())
    }
    .map_err(unsupported)?;
    Ok(Frame {
        body: Body::Secured { data, mic },
        ..frame.clone()
    })
}

/// A MAC frame opened by a [`KeyManager`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsecured {
    pub frame: Frame,
    /// The key sequence whose MAC key authenticated it.
    pub key_sequence: u32,
    /// Whether the manager moved to that (newer) key sequence.
    pub switched: bool,
}

impl KeyManager {
    /// Opens a Thread MAC frame (Key ID Mode 1) with the held key its Key Index names, and
    /// follows the network to a newer key sequence when that key authenticates it.
    pub fn unsecure_mac(&mut self, frame: &Frame, src: ExtAddress) -> Result<Unsecured> {
        let sec = frame.security.ok_or(Error::Invalid {
            field: "frame is not secured",
            value: 0,
        })?;
        let KeyIdentifier::Index(index) = sec.key_id else {
            return Err(Error::Invalid {
                field: "key identifier mode (Thread MAC frames use mode 1)",
                value: sec.key_id.mode() as u32,
            });
        };
        let keys: &ThreadKeys = self
            .keys_for_index(index)
            .ok_or(Error::Auth("no key held for this key index"))?;
        let key_sequence = keys.key_sequence;
        let frame = unsecure(frame, keys.mac(), src)?;
        let switched = self.authenticated_with(key_sequence);
        Ok(Unsecured {
            frame,
            key_sequence,
            switched,
        })
    }
}

#[cfg(test)]
#[path = "mac_tests.rs"]
mod tests;
