//! Bluetooth LE link-layer framing of advertising PDUs, for captures and for radios that report
//! raw packets: the advertising access address, the CRC-24 (Core Specification Vol 6 Part B
//! §2.1 packet format, §2.3 advertising PDUs, §3.1.1 CRC), the RF channel numbering, and the
//! pseudo-header of tcpdump.org's `LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR` (as Wireshark's
//! `packet-btle_rf.c` reads it). Malformed input is an error, never a panic.

use crate::pcap::arr;

/// The access address of every advertising physical channel packet (Core Vol 6 Part B §2.1.2).
pub const ADV_ACCESS_ADDRESS: u32 = 0x8E89_BED6;
/// The CRC shift register preset for advertising physical channel PDUs (Core Vol 6 Part B
/// §3.1.1).
pub const ADV_CRC_INIT: u32 = 0x55_5555;
/// The CRC polynomial x^24 + x^10 + x^9 + x^6 + x^4 + x^3 + x + 1 without its x^24 term
/// (Core Vol 6 Part B §3.1.1).
pub const CRC24_POLY: u32 = 0x00_065B;

/// PDU type ADV_IND (Core Vol 6 Part B §2.3, Table 2.3).
pub const PDU_ADV_IND: u8 = 0x0;
/// PDU type ADV_DIRECT_IND (Core Vol 6 Part B §2.3).
pub const PDU_ADV_DIRECT_IND: u8 = 0x1;
/// PDU type ADV_NONCONN_IND (Core Vol 6 Part B §2.3, §2.3.1.3).
pub const PDU_ADV_NONCONN_IND: u8 = 0x2;
/// PDU type SCAN_RSP (Core Vol 6 Part B §2.3, §2.3.2.2).
pub const PDU_SCAN_RSP: u8 = 0x4;
/// PDU type ADV_SCAN_IND (Core Vol 6 Part B §2.3, §2.3.1.4).
pub const PDU_ADV_SCAN_IND: u8 = 0x6;

/// The longest AdvData of a legacy advertising PDU (Core Vol 6 Part B §2.3.1.3: 0 to 31
/// octets).
pub const MAX_LEGACY_ADV_DATA: usize = 31;

/// Whether `frame` can go out as one legacy non-connectable advertisement (what a mesh PDU must
/// fit, whatever extended advertising the adapter has): the advertising bearer, 1 to
/// [`MAX_LEGACY_ADV_DATA`] octets. `radio` names the radio in the refusal ("an HCI radio").
pub fn check_advertising_tx(frame: &crate::TxFrame, radio: &str) -> Result<(), crate::RadioError> {
    if frame.bearer != crate::Bearer::Advertising {
        return Err(crate::RadioError::Unsupported(format!(
            "{radio} carries the advertising bearer, not {:?}",
            frame.bearer
        )));
    }
    if frame.bytes.is_empty() || frame.bytes.len() > MAX_LEGACY_ADV_DATA {
        return Err(crate::RadioError::Unsupported(format!(
            "advertising data of {} octets: a non-connectable advertisement carries 1 to {}",
            frame.bytes.len(),
            MAX_LEGACY_ADV_DATA
        )));
    }
    Ok(())
}

// Pseudo-header flags (tcpdump.org LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR; packet-btle_rf.c).
/// Flag: the packet is dewhitened.
pub const PHDR_DEWHITENED: u16 = 0x0001;
/// Flag: the Signal Power field is valid.
pub const PHDR_SIGNAL_POWER_VALID: u16 = 0x0002;
/// Flag: the Noise Power field is valid.
pub const PHDR_NOISE_POWER_VALID: u16 = 0x0004;
/// Flag: the Reference Access Address field is valid.
pub const PHDR_REF_AA_VALID: u16 = 0x0010;
/// Flag: the Access Address Offenses field is valid.
pub const PHDR_AA_OFFENSES_VALID: u16 = 0x0020;
/// Flag: the CRC was checked at capture.
pub const PHDR_CRC_CHECKED: u16 = 0x0400;
/// Flag: the CRC checked at capture was valid.
pub const PHDR_CRC_VALID: u16 = 0x0800;
/// Length of the pseudo-header.
pub const PHDR_LEN: usize = 10;

const PHDR_MODELLED: u16 = PHDR_SIGNAL_POWER_VALID
    | PHDR_NOISE_POWER_VALID
    | PHDR_REF_AA_VALID
    | PHDR_AA_OFFENSES_VALID
    | PHDR_CRC_CHECKED
    | PHDR_CRC_VALID;

/// Why a BLE link-layer packet could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    /// Fewer octets than the format needs.
    #[error("truncated: needs at least {need} octets, got {got}")]
    Truncated { need: usize, got: usize },
    /// The PDU Length field disagrees with the packet's size.
    #[error("PDU length {length} does not match the {got} octets of the packet")]
    LengthMismatch { length: usize, got: usize },
    /// Not an advertising physical channel packet.
    #[error("access address {0:#010x} is not the advertising access address")]
    NotAdvertising(u32),
    /// Not an advertising channel (37, 38, 39), or an RF channel above 39.
    #[error("bad channel {0}")]
    BadChannel(u8),
    /// AdvData longer than a legacy advertising PDU carries.
    #[error("advertising data of {0} octets exceeds 31")]
    AdvDataTooLong(usize),
    /// An advertising PDU type without AdvA and AdvData (SCAN_REQ, CONNECT_IND, extended).
    #[error("unsupported advertising PDU type {0:#x}")]
    UnsupportedPduType(u8),
}

/// The CRC-24 of `pdu` (header and payload) as the Core spec's shift register leaves it:
/// bit `i` of the result is position `i` of the register (Core Vol 6 Part B §3.1.1).
///
/// The register is preset with `init` (position 0 = its least significant bit); the PDU enters
/// least significant bit of each octet first, as it is transmitted.
pub fn ble_crc24(init: u32, pdu: &[u8]) -> u32 {
    let mut state = init & 0xFF_FFFF;
    for &octet in pdu {
        for bit in 0..8 {
            let feedback = ((state >> 23) ^ u32::from(octet >> bit)) & 1;
            state = (state << 1) & 0xFF_FFFF;
            if feedback == 1 {
                state ^= CRC24_POLY;
            }
        }
    }
    state
}

/// The three CRC octets in transmission order: position 23 is sent first (Core Vol 6 Part B
/// §3.1.1), and each octet goes on air least significant bit first, so octet 0 holds
/// positions 23..16 bit-reversed.
pub fn crc24_to_air(crc: u32) -> [u8; 3] {
    [
        ((crc >> 16) as u8).reverse_bits(),
        ((crc >> 8) as u8).reverse_bits(),
        (crc as u8).reverse_bits(),
    ]
}

/// A legacy ADV_NONCONN_IND packet as on air after the preamble (Core Vol 6 Part B §2.1,
/// §2.3.1.3): access address 0x8E89BED6 (little-endian), PDU header (type 0x2, TxAdd, Length),
/// AdvA (`adv_address`, least significant octet first), AdvData, CRC-24.
pub fn ble_adv_nonconn_ind(
    adv_address: [u8; 6],
    random_address: bool,
    adv_data: &[u8],
) -> Result<Vec<u8>, BleError> {
    if adv_data.len() > MAX_LEGACY_ADV_DATA {
        return Err(BleError::AdvDataTooLong(adv_data.len()));
    }
    let mut p = Vec::with_capacity(4 + 2 + 6 + adv_data.len() + 3);
    p.extend_from_slice(&ADV_ACCESS_ADDRESS.to_le_bytes());
    // Header (Core Vol 6 Part B §2.3, Figure 2.5): PDU Type (bits 0-3), RFU, ChSel (5),
    // TxAdd (6), RxAdd (7); Length (8 bits).
    p.push(PDU_ADV_NONCONN_IND | if random_address { 0x40 } else { 0 });
    p.push((6 + adv_data.len()) as u8);
    p.extend_from_slice(&adv_address);
    p.extend_from_slice(adv_data);
    let crc = ble_crc24(ADV_CRC_INIT, &p[4..]);
    p.extend_from_slice(&crc24_to_air(crc));
    Ok(p)
}

/// The RF channel (0..=39, 2402 + 2k MHz) of a channel index (0..=39) (Core Vol 6 Part B §1.4.1).
pub fn rf_channel_of_index(index: u8) -> Option<u8> {
    match index {
        37 => Some(0),
        38 => Some(12),
        39 => Some(39),
        0..=10 => Some(index + 1),
        11..=36 => Some(index + 2),
        _ => None,
    }
}

/// The channel index (0..=39) of an RF channel (0..=39) (Core Vol 6 Part B §1.4.1).
pub fn index_of_rf_channel(rf: u8) -> Option<u8> {
    match rf {
        0 => Some(37),
        12 => Some(38),
        39 => Some(39),
        1..=11 => Some(rf - 1),
        13..=38 => Some(rf - 2),
        _ => None,
    }
}

/// The 10-octet pseudo-header of `LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR` (tcpdump.org):
/// RF Channel (1), Signal Power (1, dBm), Noise Power (1, dBm), Access Address Offenses (1),
/// Reference Access Address (4, LE), Flags (2, LE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BleLlPhdr {
    /// RF channel 0..=39 (not the channel index: 37 is RF channel 0).
    pub rf_channel: u8,
    /// Signal power in dBm, if measured.
    pub signal_dbm: Option<i8>,
    /// Noise power in dBm, if measured.
    pub noise_dbm: Option<i8>,
    /// Access address offenses, if counted.
    pub access_address_offenses: Option<u8>,
    /// The access address the receiver was looking for, if known.
    pub reference_access_address: Option<u32>,
    /// `None`: CRC not checked at capture; `Some(valid)`: checked, with its result.
    pub crc_checked: Option<bool>,
    /// The remaining flag bits (dewhitened, decrypted, aliased, PDU type, MIC, PHY) as-is.
    pub other_flags: u16,
}

impl BleLlPhdr {
    /// The flags word.
    pub fn flags(&self) -> u16 {
        let mut f = self.other_flags & !PHDR_MODELLED;
        if self.signal_dbm.is_some() {
            f |= PHDR_SIGNAL_POWER_VALID;
        }
        if self.noise_dbm.is_some() {
            f |= PHDR_NOISE_POWER_VALID;
        }
        if self.access_address_offenses.is_some() {
            f |= PHDR_AA_OFFENSES_VALID;
        }
        if self.reference_access_address.is_some() {
            f |= PHDR_REF_AA_VALID;
        }
        match self.crc_checked {
            None => {}
            Some(false) => f |= PHDR_CRC_CHECKED,
            Some(true) => f |= PHDR_CRC_CHECKED | PHDR_CRC_VALID,
        }
        f
    }

    /// The pseudo-header's 10 octets (fields not valid are zero).
    pub fn to_bytes(&self) -> [u8; PHDR_LEN] {
        let mut b = [0u8; PHDR_LEN];
        b[0] = self.rf_channel;
        b[1] = self.signal_dbm.unwrap_or(0) as u8;
        b[2] = self.noise_dbm.unwrap_or(0) as u8;
        b[3] = self.access_address_offenses.unwrap_or(0);
        b[4..8].copy_from_slice(&self.reference_access_address.unwrap_or(0).to_le_bytes());
        b[8..10].copy_from_slice(&self.flags().to_le_bytes());
        b
    }

    /// Parses the pseudo-header at the start of `packet`.
    pub fn parse(packet: &[u8]) -> Result<Self, BleError> {
        let b: [u8; PHDR_LEN] = arr(packet, 0).ok_or(BleError::Truncated {
            need: PHDR_LEN,
            got: packet.len(),
        })?;
        let flags = u16::from_le_bytes([b[8], b[9]]);
        let valid = |bit: u16| flags & bit != 0;
        if b[0] > 39 {
            return Err(BleError::BadChannel(b[0]));
        }
        Ok(BleLlPhdr {
            rf_channel: b[0],
            signal_dbm: valid(PHDR_SIGNAL_POWER_VALID).then_some(b[1] as i8),
            noise_dbm: valid(PHDR_NOISE_POWER_VALID).then_some(b[2] as i8),
            access_address_offenses: valid(PHDR_AA_OFFENSES_VALID).then_some(b[3]),
            reference_access_address: valid(PHDR_REF_AA_VALID)
                .then_some(u32::from_le_bytes([b[4], b[5], b[6], b[7]])),
            crc_checked: valid(PHDR_CRC_CHECKED).then_some(valid(PHDR_CRC_VALID)),
            other_flags: flags & !PHDR_MODELLED,
        })
    }
}

/// Whether the CRC of an advertising-channel link-layer packet (access address, PDU, CRC) is
/// right; `None` if it is not an advertising packet or too short to tell.
fn adv_crc_ok(ll_packet: &[u8]) -> Option<bool> {
    let aa = u32::from_le_bytes(arr(ll_packet, 0)?);
    if aa != ADV_ACCESS_ADDRESS || ll_packet.len() < 4 + 2 + 3 {
        return None;
    }
    let (pdu, crc) = ll_packet[4..].split_at(ll_packet.len() - 4 - 3);
    Some(crc24_to_air(ble_crc24(ADV_CRC_INIT, pdu)) == crc)
}

/// A `LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR` packet: the pseudo-header, then `ll_packet`
/// (access address to CRC, dewhitened) received on advertising channel `adv_channel`
/// (37..=39) with signal strength `rssi`.
///
/// Flags: dewhitened; signal power valid if `rssi` is given; reference access address valid
/// (the advertising access address); CRC checked, with its result, when `ll_packet` carries
/// the advertising access address.
pub fn ble_ll_phdr_packet(
    adv_channel: u8,
    rssi: Option<i8>,
    ll_packet: &[u8],
) -> Result<Vec<u8>, BleError> {
    if !(37..=39).contains(&adv_channel) {
        return Err(BleError::BadChannel(adv_channel));
    }
    let rf_channel = rf_channel_of_index(adv_channel).ok_or(BleError::BadChannel(adv_channel))?;
    let phdr = BleLlPhdr {
        rf_channel,
        signal_dbm: rssi,
        noise_dbm: None,
        access_address_offenses: None,
        reference_access_address: Some(ADV_ACCESS_ADDRESS),
        crc_checked: adv_crc_ok(ll_packet),
        other_flags: PHDR_DEWHITENED,
    };
    let mut v = Vec::with_capacity(PHDR_LEN + ll_packet.len());
    v.extend_from_slice(&phdr.to_bytes());
    v.extend_from_slice(ll_packet);
    Ok(v)
}

/// A legacy advertising PDU read back from a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BleAdv {
    /// The channel index (37..=39 for advertising channels).
    pub channel: u8,
    /// Signal power in dBm, if the capture recorded it.
    pub rssi: Option<i8>,
    /// AdvA, least significant octet first as on air.
    pub adv_address: [u8; 6],
    /// TxAdd: AdvA is a random address.
    pub random_address: bool,
    /// The PDU type (`PDU_*`).
    pub pdu_type: u8,
    /// AdvData (or ScanRspData); empty for ADV_DIRECT_IND.
    pub adv_data: Vec<u8>,
    /// Whether the CRC-24 over the PDU matches the transmitted one (computed here, whatever
    /// the pseudo-header claims).
    pub crc_ok: bool,
}

/// Parses a `LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR` packet holding a legacy advertising PDU with
/// AdvA (ADV_IND, ADV_DIRECT_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND).
pub fn parse_ble_adv(packet: &[u8]) -> Result<BleAdv, BleError> {
    let phdr = BleLlPhdr::parse(packet)?;
    let ll = &packet[PHDR_LEN..];
    // Access address (4), header (2), payload (Length), CRC (3) (Core Vol 6 Part B §2.1).
    let need = 4 + 2 + 3;
    if ll.len() < need {
        return Err(BleError::Truncated {
            need: PHDR_LEN + need,
            got: packet.len(),
        });
    }
    let aa = u32::from_le_bytes([ll[0], ll[1], ll[2], ll[3]]);
    if aa != ADV_ACCESS_ADDRESS {
        return Err(BleError::NotAdvertising(aa));
    }
    let (h0, length) = (ll[4], usize::from(ll[5]));
    if ll.len() != need + length {
        return Err(BleError::LengthMismatch {
            length,
            got: ll.len(),
        });
    }
    let pdu_type = h0 & 0x0F;
    if !matches!(
        pdu_type,
        PDU_ADV_IND | PDU_ADV_DIRECT_IND | PDU_ADV_NONCONN_IND | PDU_SCAN_RSP | PDU_ADV_SCAN_IND
    ) {
        return Err(BleError::UnsupportedPduType(pdu_type));
    }
    let payload = &ll[6..6 + length];
    let adv_address: [u8; 6] = arr(payload, 0).ok_or(BleError::Truncated {
        need: PHDR_LEN + 4 + 2 + 6 + 3,
        got: packet.len(),
    })?;
    let adv_data = if pdu_type == PDU_ADV_DIRECT_IND {
        Vec::new()
    } else {
        payload[6..].to_vec()
    };
    Ok(BleAdv {
        channel: index_of_rf_channel(phdr.rf_channel)
            .ok_or(BleError::BadChannel(phdr.rf_channel))?,
        rssi: phdr.signal_dbm,
        adv_address,
        random_address: h0 & 0x40 != 0,
        pdu_type,
        adv_data,
        crc_ok: adv_crc_ok(ll) == Some(true),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR packet published as a Wireshark hex stream in
    /// github.com/potto216/wireless-games (README): an ADV_NONCONN_IND on channel 37 at
    /// -93 dBm whose CRC the capturing radio checked and found valid.
    pub(crate) const PUBLISHED: &str =
        "00a30000000000000b0cd6be898e4225609b10c6bb291eff060001092022a65a\
                             9e31398be6993532914f28c5287c8e9e5f9c0b4059944f93";

    pub(crate) fn published() -> Vec<u8> {
        hex::decode(PUBLISHED).unwrap()
    }

    // -----------------------------------------------------------------------------------------
    // CRC-24 and BLE framing
    // -----------------------------------------------------------------------------------------

    #[test]
    fn crc24_known_answer_from_a_published_capture() {
        let p = published();
        let ll = &p[PHDR_LEN..];
        let pdu = &ll[4..ll.len() - 3];
        let crc = ble_crc24(ADV_CRC_INIT, pdu);
        assert_eq!(crc, 0x29_F2C9);
        assert_eq!(crc24_to_air(crc), [0x94, 0x4F, 0x93]);
        assert_eq!(&crc24_to_air(crc)[..], &ll[ll.len() - 3..]);
    }

    #[test]
    fn crc24_of_the_mesh_sample_message_1_matches_wireshark() {
        // Mesh Protocol §8.3.1 message 1 in an ADV_NONCONN_IND from AdvA c6:05:04:03:02:01
        // (random): Wireshark 4.0.17 computes the CRC 0x024e80 for it (its CRC field is the
        // register value, bit-reversed per octet from the air).
        let npdu = hex::decode("68eca487516765b5e5bfdacbaf6cb7fb6bff871f035444ce83a670df").unwrap();
        let mut ad = vec![1 + npdu.len() as u8, 0x2A];
        ad.extend_from_slice(&npdu);
        let ll = ble_adv_nonconn_ind([1, 2, 3, 4, 5, 0xC6], true, &ad).unwrap();
        assert_eq!(ble_crc24(ADV_CRC_INIT, &ll[4..ll.len() - 3]), 0x02_4E80);
    }

    #[test]
    fn crc24_of_nothing_is_the_preset() {
        assert_eq!(ble_crc24(ADV_CRC_INIT, &[]), ADV_CRC_INIT);
        // Only the low 24 bits of the preset count.
        assert_eq!(ble_crc24(0xFF55_5555, &[]), ADV_CRC_INIT);
    }

    #[test]
    fn adv_nonconn_ind_reproduces_the_published_packet() {
        let p = published();
        let ll = &p[PHDR_LEN..];
        let adv_a: [u8; 6] = ll[6..12].try_into().unwrap();
        let built = ble_adv_nonconn_ind(adv_a, true, &ll[12..ll.len() - 3]).unwrap();
        assert_eq!(built, ll);
    }

    #[test]
    fn adv_nonconn_ind_header() {
        let ll = ble_adv_nonconn_ind([0xAA; 6], false, &[0x02, 0x01, 0x06]).unwrap();
        assert_eq!(&ll[..4], &[0xD6, 0xBE, 0x89, 0x8E]);
        assert_eq!(ll[4], 0x02, "ADV_NONCONN_IND, TxAdd public");
        assert_eq!(ll[5], 9, "AdvA + AdvData");
        assert_eq!(ll.len(), 4 + 2 + 9 + 3);
        let ll = ble_adv_nonconn_ind([0xAA; 6], true, &[]).unwrap();
        assert_eq!(ll[4], 0x42, "TxAdd random");
        assert_eq!(ll[5], 6);
        assert_eq!(
            ble_adv_nonconn_ind([0; 6], true, &[0; 31]).unwrap().len(),
            4 + 2 + 37 + 3
        );
        assert_eq!(
            ble_adv_nonconn_ind([0; 6], true, &[0; 32]),
            Err(BleError::AdvDataTooLong(32))
        );
    }

    #[test]
    fn parse_the_published_packet() {
        let adv = parse_ble_adv(&published()).unwrap();
        assert_eq!(adv.channel, 37);
        assert_eq!(adv.rssi, Some(-93));
        assert_eq!(adv.adv_address, [0x60, 0x9B, 0x10, 0xC6, 0xBB, 0x29]);
        assert!(adv.random_address);
        assert_eq!(adv.pdu_type, PDU_ADV_NONCONN_IND);
        assert_eq!(adv.adv_data.len(), 31);
        assert_eq!(&adv.adv_data[..4], &[0x1E, 0xFF, 0x06, 0x00]);
        assert!(adv.crc_ok);
        let phdr = BleLlPhdr::parse(&published()).unwrap();
        assert_eq!(phdr.crc_checked, Some(true));
        assert_eq!(phdr.to_bytes(), published()[..PHDR_LEN]);
    }

    #[test]
    fn phdr_packet_layout() {
        let ll = ble_adv_nonconn_ind([1, 2, 3, 4, 5, 6], false, &[2, 1, 6]).unwrap();
        for (channel, rf) in [(37, 0), (38, 12), (39, 39)] {
            let p = ble_ll_phdr_packet(channel, Some(-60), &ll).unwrap();
            assert_eq!(p[0], rf);
            assert_eq!(p[1] as i8, -60);
            assert_eq!(&p[4..8], &ADV_ACCESS_ADDRESS.to_le_bytes());
            // Dewhitened, signal power valid, reference AA valid, CRC checked and valid.
            assert_eq!(u16::from_le_bytes([p[8], p[9]]), 0x0C13);
            assert_eq!(&p[PHDR_LEN..], &ll[..]);
            let adv = parse_ble_adv(&p).unwrap();
            assert_eq!(
                (adv.channel, adv.rssi, adv.crc_ok),
                (channel, Some(-60), true)
            );
        }
        let p = ble_ll_phdr_packet(37, None, &ll).unwrap();
        assert_eq!(u16::from_le_bytes([p[8], p[9]]), 0x0C11);
        assert_eq!(parse_ble_adv(&p).unwrap().rssi, None);
        // A bad CRC is recorded as checked and invalid.
        let mut bad = ll.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        let p = ble_ll_phdr_packet(38, None, &bad).unwrap();
        assert_eq!(u16::from_le_bytes([p[8], p[9]]) & 0x0C00, 0x0400);
        assert!(!parse_ble_adv(&p).unwrap().crc_ok);
        for c in [0, 36, 40, 255] {
            assert_eq!(
                ble_ll_phdr_packet(c, None, &ll),
                Err(BleError::BadChannel(c))
            );
        }
    }

    #[test]
    fn channel_maps_are_inverse() {
        for index in 0..=39u8 {
            let rf = rf_channel_of_index(index).unwrap();
            assert!(rf <= 39);
            assert_eq!(index_of_rf_channel(rf), Some(index));
        }
        assert_eq!(rf_channel_of_index(40), None);
        assert_eq!(index_of_rf_channel(40), None);
        // Data channels 0..=10 sit at 2404..=2424 MHz (RF 1..=11), 11..=36 at 2428..=2478.
        assert_eq!(rf_channel_of_index(0), Some(1));
        assert_eq!(rf_channel_of_index(11), Some(13));
        assert_eq!(rf_channel_of_index(36), Some(38));
    }

    #[test]
    fn parse_ble_adv_errors() {
        let p = published();
        assert!(matches!(
            parse_ble_adv(&p[..5]),
            Err(BleError::Truncated { .. })
        ));
        assert!(matches!(
            parse_ble_adv(&p[..PHDR_LEN + 8]),
            Err(BleError::Truncated { .. })
        ));
        assert!(matches!(
            parse_ble_adv(&p[..p.len() - 1]),
            Err(BleError::LengthMismatch { .. })
        ));
        let mut q = p.clone();
        q.push(0);
        assert!(matches!(
            parse_ble_adv(&q),
            Err(BleError::LengthMismatch { .. })
        ));
        let mut q = p.clone();
        q[PHDR_LEN] = 0xD7;
        assert_eq!(
            parse_ble_adv(&q),
            Err(BleError::NotAdvertising(0x8E89_BED7))
        );
        let mut q = p.clone();
        q[0] = 40;
        assert_eq!(parse_ble_adv(&q), Err(BleError::BadChannel(40)));
        let mut q = p.clone();
        q[PHDR_LEN + 4] = 0x45; // CONNECT_IND
        assert_eq!(parse_ble_adv(&q), Err(BleError::UnsupportedPduType(5)));
        // A payload too short for AdvA.
        let mut q = p[..PHDR_LEN + 6].to_vec();
        q[PHDR_LEN + 5] = 2;
        q.extend_from_slice(&[1, 2, 0, 0, 0]);
        assert!(matches!(parse_ble_adv(&q), Err(BleError::Truncated { .. })));
        // A flipped data bit: parsed, but the CRC is wrong.
        let mut q = p.clone();
        q[PHDR_LEN + 20] ^= 0x10;
        assert!(!parse_ble_adv(&q).unwrap().crc_ok);
    }

    proptest! {
        #[test]
        fn adv_round_trip(
            addr in any::<[u8; 6]>(),
            random in any::<bool>(),
            data in proptest::collection::vec(any::<u8>(), 0..=31),
            channel in 37u8..=39,
            rssi in proptest::option::of(any::<i8>()),
        ) {
            let ll = ble_adv_nonconn_ind(addr, random, &data).unwrap();
            let p = ble_ll_phdr_packet(channel, rssi, &ll).unwrap();
            let adv = parse_ble_adv(&p).unwrap();
            prop_assert_eq!(adv, BleAdv {
                channel,
                rssi,
                adv_address: addr,
                random_address: random,
                pdu_type: PDU_ADV_NONCONN_IND,
                adv_data: data,
                crc_ok: true,
            });
        }

        #[test]
        fn phdr_round_trip(
            rf_channel in 0u8..=39,
            signal_dbm in proptest::option::of(any::<i8>()),
            noise_dbm in proptest::option::of(any::<i8>()),
            offenses in proptest::option::of(any::<u8>()),
            reference in proptest::option::of(any::<u32>()),
            crc_checked in proptest::option::of(any::<bool>()),
            other in any::<u16>(),
        ) {
            let h = BleLlPhdr {
                rf_channel,
                signal_dbm,
                noise_dbm,
                access_address_offenses: offenses,
                reference_access_address: reference,
                crc_checked,
                other_flags: other & !PHDR_MODELLED,
            };
            prop_assert_eq!(BleLlPhdr::parse(&h.to_bytes()).unwrap(), h);
        }

        #[test]
        fn parse_ble_adv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_ble_adv(&bytes);
        }

        #[test]
        fn crc_detects_every_single_bit_error(
            data in proptest::collection::vec(any::<u8>(), 0..=31),
            bit in any::<proptest::sample::Index>(),
        ) {
            let ll = ble_adv_nonconn_ind([1; 6], true, &data).unwrap();
            let mut p = ble_ll_phdr_packet(37, None, &ll).unwrap();
            // Flip one bit of AdvA, AdvData or the CRC (keeping the header, so it parses).
            let first = PHDR_LEN + 6;
            let i = first * 8 + bit.index((p.len() - first) * 8);
            p[i / 8] ^= 1 << (i % 8);
            prop_assert!(!parse_ble_adv(&p).unwrap().crc_ok);
        }
    }
}
