//! Mesh Link Establishment (Thread 1.3 ch. 4), carried in UDP on port 19788.
//!
//! An MLE message (§4.3) is a Security Suite octet, then for suite 0 (secured, §4.3.1) the
//! 802.15.4 auxiliary security header (Key ID Mode 2: the key sequence big endian as Key
//! Source, its key index), the encrypted command octet and TLVs, and a 4-octet MIC; for suite
//! 255 (no security, only Discovery Request and Response) the command and TLVs in clear.
//!
//! Security (§4.3.1, and OpenThread's `Mle::ProcessMessageSecurity`): CCM* under the MLE key
//! of the key sequence the Key Source names; nonce = the sender's extended address (its IPv6
//! source's interface identifier with the Universal/Local bit flipped back) || frame counter
//! (big endian) || security level; a data = source IPv6 address || destination IPv6 address
//! || auxiliary security header.

pub mod address_registration;
mod tlv;

pub use tlv::{
    emit_tlvs, parse_tlvs, parse_tlvs_into, tlv_type, Connectivity, LeaderData, Route64, Timestamp,
    Tlv,
};

use std::net::Ipv6Addr;

use crate::thread::mac::{AuxSecurityHeader, ExtAddress, KeyIdentifier};
use crate::thread::security::{nonce, KeyManager, ThreadKeys};
use crate::wire::{need, Error, Result, Wire};

/// MLE's UDP port (Thread 1.3 §4.2).
pub const MLE_PORT: u16 = 19788;
/// Security Suite: 802.15.4 security (§4.3).
pub const SUITE_SECURED: u8 = 0;
/// Security Suite: no security (§4.3).
pub const SUITE_NONE: u8 = 255;
/// MIC length of secured MLE messages (security level 5, §4.3.1).
pub const MIC_LEN: usize = 4;

/// MLE commands (Thread 1.3 §4.5; numbers as OpenThread's `Mle::Command`).
pub mod command {
    pub const LINK_REQUEST: u8 = 0;
    pub const LINK_ACCEPT: u8 = 1;
    pub const LINK_ACCEPT_AND_REQUEST: u8 = 2;
    pub const LINK_REJECT: u8 = 3;
    pub const ADVERTISEMENT: u8 = 4;
    pub const UPDATE: u8 = 5;
    pub const UPDATE_REQUEST: u8 = 6;
    pub const DATA_REQUEST: u8 = 7;
    pub const DATA_RESPONSE: u8 = 8;
    pub const PARENT_REQUEST: u8 = 9;
    pub const PARENT_RESPONSE: u8 = 10;
    pub const CHILD_ID_REQUEST: u8 = 11;
    pub const CHILD_ID_RESPONSE: u8 = 12;
    pub const CHILD_UPDATE_REQUEST: u8 = 13;
    pub const CHILD_UPDATE_RESPONSE: u8 = 14;
    pub const ANNOUNCE: u8 = 15;
    pub const DISCOVERY_REQUEST: u8 = 16;
    pub const DISCOVERY_RESPONSE: u8 = 17;
    pub const LINK_METRICS_MANAGEMENT_REQUEST: u8 = 18;
    pub const LINK_METRICS_MANAGEMENT_RESPONSE: u8 = 19;
    pub const LINK_PROBE: u8 = 20;
    pub const TIME_SYNC: u8 = 99;

    /// The command's name, for display.
    pub fn name(c: u8) -> Option<&'static str> {
        Some(match c {
            LINK_REQUEST => "link request",
            LINK_ACCEPT => "link accept",
            LINK_ACCEPT_AND_REQUEST => "link accept and request",
            LINK_REJECT => "link reject",
            ADVERTISEMENT => "advertisement",
            UPDATE => "update",
            UPDATE_REQUEST => "update request",
            DATA_REQUEST => "data request",
            DATA_RESPONSE => "data response",
            PARENT_REQUEST => "parent request",
            PARENT_RESPONSE => "parent response",
            CHILD_ID_REQUEST => "child id request",
            CHILD_ID_RESPONSE => "child id response",
            CHILD_UPDATE_REQUEST => "child update request",
            CHILD_UPDATE_RESPONSE => "child update response",
            ANNOUNCE => "announce",
            DISCOVERY_REQUEST => "discovery request",
            DISCOVERY_RESPONSE => "discovery response",
            LINK_METRICS_MANAGEMENT_REQUEST => "link metrics management request",
            LINK_METRICS_MANAGEMENT_RESPONSE => "link metrics management response",
            LINK_PROBE => "link probe",
            TIME_SYNC => "time sync",
            _ => return None,
        })
    }
}

/// A command and its TLVs: the plaintext of an MLE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlePayload {
    pub command: u8,
    pub tlvs: Vec<Tlv>,
}

impl Wire for MlePayload {
    fn parse(b: &[u8]) -> Result<Self> {
        need(b, 1)?;
        Ok(MlePayload {
            command: b[0],
            tlvs: parse_tlvs(&b[1..])?,
        })
    }
    fn buffer_len(&self) -> usize {
        1 + self.tlvs.iter().map(Wire::buffer_len).sum::<usize>()
    }
    fn emit(&self, b: &mut [u8]) {
        b[0] = self.command;
        let t = emit_tlvs(&self.tlvs);
        b[1..1 + t.len()].copy_from_slice(&t);
    }
}

/// An MLE message as it is in the UDP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MleMessage {
    /// Security Suite 0: the auxiliary security header, the encrypted command and TLVs, the
    /// MIC.
    Secured {
        aux: AuxSecurityHeader,
        ciphertext: Vec<u8>,
        mic: Vec<u8>,
    },
    /// Security Suite 255: command and TLVs in clear, kept as octets.
    Unsecured(Vec<u8>),
}

impl Wire for MleMessage {
    fn parse(b: &[u8]) -> Result<Self> {
        need(b, 1)?;
        match b[0] {
            SUITE_SECURED => {
                let (aux, n) = AuxSecurityHeader::parse_prefix(&b[1..])?;
                let mic_len = aux.level.mic_len();
                let end =
                    b.len()
                        .checked_sub(mic_len)
                        .filter(|&e| e > n)
                        .ok_or(Error::Truncated {
                            need: 1 + n + 1 + mic_len,
                            got: b.len(),
                        })?;
                Ok(MleMessage::Secured {
                    aux,
                    ciphertext: b[1 + n..end].to_vec(),
                    mic: b[end..].to_vec(),
                })
            }
            SUITE_NONE => Ok(MleMessage::Unsecured(b[1..].to_vec())),
            s => Err(Error::Invalid {
                field: "MLE security suite (0 or 255)",
                value: s as u32,
            }),
        }
    }
    fn buffer_len(&self) -> usize {
        1 + match self {
            MleMessage::Secured {
                aux,
                ciphertext,
                mic,
            } => aux.buffer_len() + ciphertext.len() + mic.len(),
            MleMessage::Unsecured(p) => p.len(),
        }
    }
    fn emit(&self, b: &mut [u8]) {
        match self {
            MleMessage::Secured {
                aux,
                ciphertext,
                mic,
            } => {
                b[0] = SUITE_SECURED;
                let n = aux.buffer_len();
                aux.emit(&mut b[1..1 + n]);
                b[1 + n..1 + n + ciphertext.len()].copy_from_slice(ciphertext);
                let at = 1 + n + ciphertext.len();
                b[at..at + mic.len()].copy_from_slice(mic);
            }
            MleMessage::Unsecured(p) => {
                b[0] = SUITE_NONE;
                b[1..1 + p.len()].copy_from_slice(p);
            }
        }
    }
}

/// The extended address behind an IPv6 address's interface identifier (the U/L bit flipped
/// back, RFC 4944 §6).
pub fn ext_address_of(ip: &Ipv6Addr) -> ExtAddress {
    let mut e = [0u8; 8];
    e.copy_from_slice(&ip.octets()[8..]);
    e[0] ^= 0x02;
    ExtAddress(e)
}

fn aad(src: &Ipv6Addr, dst: &Ipv6Addr, aux: &AuxSecurityHeader) -> Vec<u8> {
    let mut a = Vec::with_capacity(32 + aux.buffer_len());
    a.extend_from_slice(&src.octets());
    a.extend_from_slice(&dst.octets());
    a.extend_from_slice(&aux.to_vec());
    a
}

/// An MLE message opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedMle {
    pub payload: MlePayload,
    /// The key sequence of the MLE key (None for an unsecured message).
    pub key_sequence: Option<u32>,
    pub frame_counter: Option<u32>,
}

fn key_sequence_of(aux: &AuxSecurityHeader) -> Result<u32> {
    match aux.key_id {
        KeyIdentifier::Source4 { source, .. } => Ok(u32::from_be_bytes(source)),
        k => Err(Error::Invalid {
            field: "MLE key identifier mode (Thread uses mode 2)",
            value: k.mode() as u32,
        }),
    }
}

/// Opens an MLE message from `src` to `dst` with the keys of the sequence it names (held by
/// `keys`, or derived). A newer key sequence that authenticates is followed. An unsecured
/// message is only parsed.
pub fn open(
    msg: &MleMessage,
    keys: &mut KeyManager,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) -> Result<OpenedMle> {
    let (aux, ciphertext, mic) = match msg {
        MleMessage::Unsecured(p) => {
            return Ok(OpenedMle {
                payload: MlePayload::parse(p)?,
                key_sequence: None,
                frame_counter: None,
            })
        }
        MleMessage::Secured {
            aux,
            ciphertext,
            mic,
        } => (aux, ciphertext, mic),
    };
    let seq = key_sequence_of(aux)?;
    let fc = aux.frame_counter.ok_or(Error::Invalid {
        field: "MLE frame counter suppressed",
        value: aux.security_control() as u32,
    })?;
    let n = nonce(ext_address_of(src), fc, aux.level.value());
    let mut plain = ciphertext.clone();
    keys.keys_for_sequence(seq)
        .mle()
        .decrypt_in_place(&n, &aad(src, dst, aux), &mut plain, mic)
        .map_err(|_| Error::Auth("MLE MIC mismatch"))?;
    let payload = MlePayload::parse(&plain)?;
    keys.authenticated_with(seq);
    Ok(OpenedMle {
        payload,
        key_sequence: Some(seq),
        frame_counter: Some(fc),
    })
}

/// Opens the MLE message `data` (a UDP payload) from `src` to `dst` as [`open`] does, without
/// copying it first: the plaintext (command and TLVs) is left in `plain` (cleared first, so a
/// decoder reuses one buffer). Returns the key sequence and frame counter of a secured
/// message, `None` for an unsecured one. The a data takes the auxiliary security header as
/// received.
pub fn open_into(
    data: &[u8],
    keys: &mut KeyManager,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    plain: &mut Vec<u8>,
) -> Result<Option<(u32, u32)>> {
    need(data, 1)?;
    plain.clear();
    match data[0] {
        SUITE_NONE => {
            plain.extend_from_slice(&data[1..]);
            return Ok(None);
        }
        SUITE_SECURED => {}
        s => {
            return Err(Error::Invalid {
                field: "MLE security suite (0 or 255)",
                value: s as u32,
            })
        }
    }
    let (aux, n) = AuxSecurityHeader::parse_prefix(&data[1..])?;
    let mic_len = aux.level.mic_len();
    let end = data
        .len()
        .checked_sub(mic_len)
        .filter(|&e| e > 1 + n)
        .ok_or(Error::Truncated {
            need: 1 + n + 1 + mic_len,
            got: data.len(),
        })?;
    let seq = key_sequence_of(&aux)?;
    let fc = aux.frame_counter.ok_or(Error::Invalid {
        field: "MLE frame counter suppressed",
        value: aux.security_control() as u32,
    })?;
    let nonce = nonce(ext_address_of(src), fc, aux.level.value());
    // Source (16) || destination (16) || auxiliary security header (at most 14, §9.4).
    let mut a = [0u8; 32 + 14];
    a[..16].copy_from_slice(&src.octets());
    a[16..32].copy_from_slice(&dst.octets());
    a[32..32 + n].copy_from_slice(&data[1..1 + n]);
    plain.extend_from_slice(&data[1 + n..end]);
    keys.keys_for_sequence(seq)
        .mle()
        .decrypt_in_place(&nonce, &a[..32 + n], plain, &data[end..])
        .map_err(|_| Error::Auth("MLE MIC mismatch"))?;
    keys.authenticated_with(seq);
    Ok(Some((seq, fc)))
}

/// Secures an MLE payload from `src` to `dst` under `keys` (level 5, Key ID Mode 2).
pub fn seal(
    payload: &MlePayload,
    keys: &ThreadKeys,
    frame_counter: u32,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) -> MleMessage {
    let aux = AuxSecurityHeader {
        level: crate::thread::mac::SecurityLevel::new(5),
        key_id: KeyIdentifier::Source4 {
            source: keys.key_source(),
            index: keys.key_index(),
        },
        frame_counter: Some(frame_counter),
        asn_in_nonce: false,
    };
    let n = nonce(ext_address_of(src), frame_counter, 5);
    let mut ciphertext = payload.to_vec();
    // A payload over 64 KiB cannot be in a UDP datagram on Thread; MIC_LEN is supported.
    let mic = keys
        .mle()
        .encrypt_in_place(&n, &aad(src, dst, &aux), &mut ciphertext, MIC_LEN)
        .unwrap_or_default();
    MleMessage::Secured {
        aux,
        ciphertext,
        mic,
    }
}

#[cfg(test)]
mod tests;

/// Calls every parser of this module (and Network Data's) on `data` and tries to open it; for
/// the fuzzer and the random-input tests.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    // Network Data (§5.18) and an Operational Dataset's Mesh Local Prefix: what parses
    // re-parses the same after emitting.
    if let Ok(nd) = crate::thread::netdata::parse_network_data(data) {
        let again = crate::thread::netdata::emit_network_data(&nd);
        assert_eq!(crate::thread::netdata::parse_network_data(&again), Ok(nd));
    }
    let _ = crate::thread::netdata::mesh_local_prefix_of_dataset(data);
    if let Ok(p) = MlePayload::parse(data) {
        assert_eq!(MlePayload::parse(&p.to_vec()).as_ref(), Ok(&p));
    }
    let _ = Tlv::parse(data);
    let Ok(m) = MleMessage::parse(data) else {
        return;
    };
    assert_eq!(
        m.to_vec(),
        data,
        "a parsed MLE message re-emits as received"
    );
    let mut keys = KeyManager::new([0x42; 16], 0);
    let (src, dst) = (Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED);
    let _ = open(&m, &mut keys, &src, &dst);
}
