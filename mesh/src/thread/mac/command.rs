//! MAC command frames (IEEE 802.15.4-2015 §7.5): the Command ID that starts a command frame's
//! payload, and the one command a Thread node sends: the Data Request (§7.5.5), a sleepy
//! child's poll of its parent for frames held for it (indirect transmission, §6.7.3).
//!
//! The Command ID is the open payload of a secured command frame (§9.3.5.2): it is sent in the
//! clear, so a radio and a parent can tell a Data Request before (or without) unsecuring it.

use super::address::Address;
use super::frame::{Body, Frame, FrameType, FrameVersion};
use super::security_header::AuxSecurityHeader;
use crate::wire::{Error, Result};

/// Command IDs (§7.5.1, the Command ID table of 802.15.4-2015).
pub mod id {
    /// Association Request (§7.5.2).
    pub const ASSOCIATION_REQUEST: u8 = 0x01;
    /// Association Response (§7.5.3).
    pub const ASSOCIATION_RESPONSE: u8 = 0x02;
    /// Disassociation Notification (§7.5.4).
    pub const DISASSOCIATION_NOTIFICATION: u8 = 0x03;
    /// Data Request (§7.5.5).
    pub const DATA_REQUEST: u8 = 0x04;
    /// PAN ID Conflict Notification (§7.5.6).
    pub const PAN_ID_CONFLICT_NOTIFICATION: u8 = 0x05;
    /// Orphan Notification (§7.5.7).
    pub const ORPHAN_NOTIFICATION: u8 = 0x06;
    /// Beacon Request (§7.5.8; Thread's MLE Discovery is sent after one).
    pub const BEACON_REQUEST: u8 = 0x07;
}

/// The Command ID of a MAC command frame, opened or as received secured (the ID is its open
/// payload, §9.3.5.2); `None` for another frame type, a command frame whose payload IEs come
/// first (then the ID is inside the private payload), or an empty payload.
pub fn command_id(frame: &Frame) -> Option<u8> {
    if frame.frame_type != FrameType::MacCommand || frame.has_payload_ies() {
        return None;
    }
    match &frame.body {
        Body::Open {
            payload_ies,
            payload,
        } if payload_ies.is_empty() => payload.first().copied(),
        Body::Open { .. } => None,
        Body::Secured { data, .. } => data.first().copied(),
    }
}

/// Whether `frame` is a Data Request command (§7.5.5).
pub fn is_data_request(frame: &Frame) -> bool {
    command_id(frame) == Some(id::DATA_REQUEST)
}

/// A Data Request command (§7.5.5, figure 7-53: the Command ID alone): a device asks the
/// coordinator (a Thread child its parent) for a frame held for it. AR is set (§7.5.5.1): the
/// coordinator's acknowledgment carries Frame Pending when it holds one (§6.7.3).
///
/// Addressing (§7.5.5.1): the destination is the coordinator, the source the device, by its
/// short address once it has one and by its extended address before; the PAN ID once, with
/// PAN ID Compression (both addresses present in the same PAN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataRequest {
    pub sequence_number: u8,
    pub pan_id: u16,
    /// The parent (coordinator).
    pub dst: Address,
    /// The child itself.
    pub src: Address,
}

impl DataRequest {
    /// The frame, without IEs: 802.15.4-2006 format when `security` is given (then seal it
    /// with [`crate::thread::security::secure`]), 2003 format without (§7.2.1.10: a 2003
    /// frame cannot be secured the 2006 way), as OpenThread does.
    pub fn frame(&self, security: Option<AuxSecurityHeader>) -> Frame {
        Frame {
            frame_type: FrameType::MacCommand,
            version: if security.is_some() {
                FrameVersion::V2006
            } else {
                FrameVersion::V2003
            },
            frame_pending: false,
            ack_request: true,
            pan_id_compression: true,
            sequence_number: Some(self.sequence_number),
            dst_pan: Some(self.pan_id),
            dst: self.dst,
            src_pan: None,
            src: self.src,
            security,
            header_ies: Vec::new(),
            body: Body::Open {
                payload_ies: Vec::new(),
                payload: vec![id::DATA_REQUEST],
            },
        }
    }

    /// Reads a Data Request from a parsed frame (opened or still secured): a MAC command frame
    /// with the Data Request ID and nothing after it (when opened), a sequence number, and
    /// both addresses. Anything else is an error naming the field.
    pub fn from_frame(frame: &Frame) -> Result<DataRequest> {
        if frame.frame_type != FrameType::MacCommand {
            return Err(Error::Invalid {
                field: "frame type (a Data Request is a MAC command frame)",
                value: frame.frame_type.bits() as u32,
            });
        }
        let id = command_id(frame).ok_or(Error::Truncated { need: 1, got: 0 })?;
        if id != id::DATA_REQUEST {
            return Err(Error::Invalid {
                field: "command ID (not a Data Request)",
                value: id as u32,
            });
        }
        if let Body::Open { payload, .. } = &frame.body {
            if payload.len() != 1 {
                return Err(Error::TooLong {
                    max: 1,
                    got: payload.len(),
                });
            }
        }
        let sequence_number = frame.sequence_number.ok_or(Error::Invalid {
            field: "sequence number (suppressed in a Data Request)",
            value: 0,
        })?;
        let pan_id = frame
            .dst_pan
            .or_else(|| frame.effective_src_pan())
            .ok_or(Error::Invalid {
                field: "PAN ID (absent from a Data Request)",
                value: 0,
            })?;
        if frame.src == Address::None {
            return Err(Error::Invalid {
                field: "source address mode (a Data Request names its device)",
                value: 0,
            });
        }
        if frame.dst == Address::None {
            return Err(Error::Invalid {
                field: "destination address mode (a Data Request names its coordinator)",
                value: 0,
            });
        }
        Ok(DataRequest {
            sequence_number,
            pan_id,
            dst: frame.dst,
            src: frame.src,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::mac::{ExtAddress, KeyIdentifier, SecurityLevel};
    use crate::thread::security::{secure, unsecure};
    use crate::wire::Wire;
    use proptest::prelude::*;

    fn addr() -> impl Strategy<Value = Address> {
        prop_oneof![
            (0u16..0xfffe).prop_map(Address::Short),
            any::<[u8; 8]>().prop_map(|b| Address::Extended(ExtAddress(b))),
        ]
    }

    proptest! {
        #[test]
        fn data_request_round_trips(seq: u8, pan in 0u16..0xffff, dst in addr(), src in addr()) {
            let dr = DataRequest { sequence_number: seq, pan_id: pan, dst, src };
            let bytes = dr.frame(None).to_vec();
            let f = Frame::parse(&bytes).unwrap();
            prop_assert!(is_data_request(&f));
            prop_assert!(f.ack_request);
            prop_assert_eq!(DataRequest::from_frame(&f).unwrap(), dr);
        }
    }

    #[test]
    fn a_data_request_from_the_air() {
        // Frame Control 0xd863: command (3), AR (bit 5), PAN ID compression (bit 6), dst
        // short (bits 10-11: 0b10), 2006 (bits 12-13: 0b01), src extended (bits 14-15: 0b11);
        // seq 0x11; PAN 0xface; dst 0x0400; src 0x0102030405060708; ID 0x04.
        let air = [
            0x63, 0xd8, 0x11, 0xce, 0xfa, 0x00, 0x04, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02,
            0x01, 0x04,
        ];
        let f = Frame::parse(&air).unwrap();
        let dr = DataRequest::from_frame(&f).unwrap();
        assert_eq!(
            dr,
            DataRequest {
                sequence_number: 0x11,
                pan_id: 0xface,
                dst: Address::Short(0x0400),
                src: Address::Extended(ExtAddress([1, 2, 3, 4, 5, 6, 7, 8])),
            }
        );
    }

    #[test]
    fn the_id_stays_readable_when_secured() {
        let keys = crate::thread::security::ThreadKeys::derive(&[0x42; 16], 0);
        let child = ExtAddress([9, 8, 7, 6, 5, 4, 3, 2]);
        let dr = DataRequest {
            sequence_number: 3,
            pan_id: 0x1234,
            dst: Address::Short(0x0800),
            src: Address::Extended(child),
        };
        let aux = AuxSecurityHeader {
            level: SecurityLevel::new(5),
            key_id: KeyIdentifier::Index(keys.key_index()),
            frame_counter: Some(77),
            asn_in_nonce: false,
        };
        let sealed = secure(&dr.frame(Some(aux)), keys.mac(), child).unwrap();
        let air = Frame::parse(&sealed.to_vec()).unwrap();
        assert!(matches!(air.body, Body::Secured { .. }));
        assert_eq!(command_id(&air), Some(id::DATA_REQUEST));
        assert_eq!(DataRequest::from_frame(&air).unwrap(), dr);
        let open = unsecure(&air, keys.mac(), child).unwrap();
        assert_eq!(DataRequest::from_frame(&open).unwrap(), dr);
    }

    #[test]
    fn other_frames_are_refused_with_a_reason() {
        let dr = DataRequest {
            sequence_number: 1,
            pan_id: 1,
            dst: Address::Short(1),
            src: Address::Short(2),
        };
        let mut f = dr.frame(None);
        f.body = Body::Open {
            payload_ies: Vec::new(),
            payload: vec![id::BEACON_REQUEST],
        };
        assert!(!is_data_request(&f));
        assert!(matches!(
            DataRequest::from_frame(&f),
            Err(Error::Invalid { value: 7, .. })
        ));
        f.body = Body::Open {
            payload_ies: Vec::new(),
            payload: vec![id::DATA_REQUEST, 0],
        };
        assert!(DataRequest::from_frame(&f).is_err());
        f.body = Body::Open {
            payload_ies: Vec::new(),
            payload: Vec::new(),
        };
        assert_eq!(command_id(&f), None);
        assert!(DataRequest::from_frame(&f).is_err());
        let mut data = dr.frame(None);
        data.frame_type = FrameType::Data;
        assert_eq!(command_id(&data), None);
        assert!(DataRequest::from_frame(&data).is_err());
    }
}
