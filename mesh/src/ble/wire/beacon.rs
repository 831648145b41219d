//! Mesh beacons (Mesh Protocol 1.1 §3.10): the Unprovisioned Device beacon (§3.10.2), the
//! Secure Network beacon (§3.10.3) and the Mesh Private beacon (§3.10.4), with the
//! authentication of the secured ones and the URI Hash of the unprovisioned one.
//!
//! A beacon is the payload of a Mesh Beacon AD structure (AD type 0x2B) or of a Proxy PDU of
//! type Mesh Beacon; its first octet is the Beacon Type (§3.10).

use core::fmt;

use super::{need, Error, Hex, Result, Wire};
use crate::ble::crypto::{s1, NetKey};
use crate::ble::IvIndex;

/// Beacon Type values (§3.10). 0x03..=0xFF are Reserved for Future Use.
pub mod beacon_type {
    /// Unprovisioned Device beacon (§3.10.2).
    pub const UNPROVISIONED_DEVICE: u8 = 0x00;
    /// Secure Network beacon (§3.10.3).
    pub const SECURE_NETWORK: u8 = 0x01;
    /// Mesh Private beacon (§3.10.4).
    pub const MESH_PRIVATE: u8 = 0x02;
}

/// Length of an Unprovisioned Device beacon without URI Hash, type octet included (§3.10.2).
pub const UNPROVISIONED_LEN: usize = 1 + 16 + 2;
/// Length of an Unprovisioned Device beacon with URI Hash, type octet included (§3.10.2).
pub const UNPROVISIONED_WITH_URI_LEN: usize = UNPROVISIONED_LEN + 4;
/// Length of a Secure Network beacon, type octet included (§3.10.3).
pub const SECURE_NETWORK_LEN: usize = 1 + 1 + 8 + 4 + 8;
/// Length of a Mesh Private beacon, type octet included (§3.10.4).
pub const MESH_PRIVATE_LEN: usize = 1 + 13 + 5 + 8;

/// The Flags octet of Secure Network and Mesh Private beacons (§3.10.3, §3.10.4) and of the
/// Provisioning Data (§5.4.2.5): bit 0 Key Refresh, bit 1 IV Update, bits 2..=7 RFU.
///
/// The octet is kept whole: it is authenticated, so RFU bits a sender set must be carried
/// unchanged for the authentication value to verify. Receivers ignore them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// Key Refresh Flag, bit 0 (§3.10.3).
    pub const KEY_REFRESH: u8 = 0x01;
    /// IV Update Flag, bit 1 (§3.10.3).
    pub const IV_UPDATE: u8 = 0x02;

    /// Flags with the two defined bits set as given and the RFU bits clear.
    pub const fn new(key_refresh: bool, iv_update: bool) -> Self {
        Flags((key_refresh as u8) | ((iv_update as u8) << 1))
    }
    /// The Key Refresh Flag: the network is in Key Refresh phase 2.
    pub const fn key_refresh(self) -> bool {
        self.0 & Self::KEY_REFRESH != 0
    }
    /// The IV Update Flag: an IV Update procedure is in progress.
    pub const fn iv_update(self) -> bool {
        self.0 & Self::IV_UPDATE != 0
    }
    /// The Reserved-for-Future-Use bits 2..=7, in place.
    pub const fn rfu(self) -> u8 {
        self.0 & !(Self::KEY_REFRESH | Self::IV_UPDATE)
    }
}

/// The 16-bit OOB Information bitfield of the Unprovisioned Device beacon (§3.10.2), big endian on
/// the air. Bits 9 and 10 are RFU and are carried unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OobInformation(pub u16);

impl OobInformation {
    /// Other location.
    pub const OTHER: u16 = 1 << 0;
    /// Electronic / URI.
    pub const ELECTRONIC_URI: u16 = 1 << 1;
    /// 2D machine-readable code.
    pub const MACHINE_READABLE_2D: u16 = 1 << 2;
    /// Bar code.
    pub const BAR_CODE: u16 = 1 << 3;
    /// Near Field Communication (NFC).
    pub const NFC: u16 = 1 << 4;
    /// Number.
    pub const NUMBER: u16 = 1 << 5;
    /// String.
    pub const STRING: u16 = 1 << 6;
    /// Support for certificate-based provisioning (Mesh 1.1).
    pub const CERTIFICATE_BASED_PROVISIONING: u16 = 1 << 7;
    /// Support for provisioning records (Mesh 1.1).
    pub const PROVISIONING_RECORDS: u16 = 1 << 8;
    /// On box.
    pub const ON_BOX: u16 = 1 << 11;
    /// Inside box.
    pub const INSIDE_BOX: u16 = 1 << 12;
    /// On piece of paper.
    pub const ON_PAPER: u16 = 1 << 13;
    /// Inside manual.
    pub const INSIDE_MANUAL: u16 = 1 << 14;
    /// On device.
    pub const ON_DEVICE: u16 = 1 << 15;

    /// Whether every bit of `mask` is set.
    pub const fn contains(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
}

impl fmt::Debug for OobInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OobInformation({:04x})", self.0)
    }
}

/// An Unprovisioned Device beacon (§3.10.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnprovisionedDeviceBeacon {
    /// Device UUID (§3.10.2), 16 octets.
    pub device_uuid: [u8; 16],
    /// OOB Information, 2 octets big endian.
    pub oob_information: OobInformation,
    /// URI Hash (optional), 4 octets: see [`uri_hash`].
    pub uri_hash: Option<[u8; 4]>,
}

impl fmt::Debug for UnprovisionedDeviceBeacon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnprovisionedDeviceBeacon")
            .field("device_uuid", &Hex(&self.device_uuid))
            .field("oob_information", &self.oob_information)
            .field("uri_hash", &self.uri_hash.as_ref().map(|h| Hex(h)))
            .finish()
    }
}

impl Wire for UnprovisionedDeviceBeacon {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        check_type(bytes[0], beacon_type::UNPROVISIONED_DEVICE)?;
        // §3.10.2: 19 octets, or 23 with the URI Hash; nothing else.
        let uri_hash = match bytes.len() {
            UNPROVISIONED_LEN => None,
            UNPROVISIONED_WITH_URI_LEN => Some(arr::<4>(&bytes[19..23])),
            n if n < UNPROVISIONED_LEN => {
                return Err(Error::Truncated {
                    need: UNPROVISIONED_LEN,
                    got: n,
                })
            }
            n if n < UNPROVISIONED_WITH_URI_LEN => {
                return Err(Error::Truncated {
                    need: UNPROVISIONED_WITH_URI_LEN,
                    got: n,
                })
            }
            n => {
                return Err(Error::TooLong {
                    max: UNPROVISIONED_WITH_URI_LEN,
                    got: n,
                })
            }
        };
        Ok(UnprovisionedDeviceBeacon {
            device_uuid: arr::<16>(&bytes[1..17]),
            oob_information: OobInformation(u16::from_be_bytes([bytes[17], bytes[18]])),
            uri_hash,
        })
    }

    fn buffer_len(&self) -> usize {
        if self.uri_hash.is_some() {
            UNPROVISIONED_WITH_URI_LEN
        } else {
            UNPROVISIONED_LEN
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = beacon_type::UNPROVISIONED_DEVICE;
        buf[1..17].copy_from_slice(&self.device_uuid);
        buf[17..19].copy_from_slice(&self.oob_information.0.to_be_bytes());
        if let Some(h) = &self.uri_hash {
            buf[19..23].copy_from_slice(h);
        }
    }
}

/// A Secure Network beacon (§3.10.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecureNetworkBeacon {
    /// Flags: Key Refresh and IV Update.
    pub flags: Flags,
    /// Network ID, k3(NetKey) (§3.9.6.3.3).
    pub network_id: [u8; 8],
    /// The current IV Index of the network.
    pub iv_index: IvIndex,
    /// Authentication Value: `AES-CMAC_BeaconKey(Flags || Network ID || IV Index)[0..8]`.
    pub authentication_value: [u8; 8],
}

impl fmt::Debug for SecureNetworkBeacon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureNetworkBeacon")
            .field("flags", &self.flags)
            .field("network_id", &Hex(&self.network_id))
            .field("iv_index", &self.iv_index)
            .field("authentication_value", &Hex(&self.authentication_value))
            .finish()
    }
}

impl SecureNetworkBeacon {
    /// A beacon for `net_key` with its Authentication Value computed (§3.10.3).
    pub fn new_signed(net_key: &NetKey, flags: Flags, iv_index: IvIndex) -> Self {
        SecureNetworkBeacon {
            flags,
            network_id: net_key.network_id,
            iv_index,
            authentication_value: net_key.secure_beacon_auth(flags.0, iv_index.0),
        }
    }

    /// Checks that the beacon belongs to `net_key` (its Network ID) and that its
    /// Authentication Value verifies (§3.10.3).
    pub fn authenticate(&self, net_key: &NetKey) -> Result<()> {
        if self.network_id != net_key.network_id {
            return Err(Error::Auth("network id does not match the key"));
        }
        let expected = net_key.secure_beacon_auth(self.flags.0, self.iv_index.0);
        if ct_eq(&expected, &self.authentication_value) {
            Ok(())
        } else {
            Err(Error::Auth("secure network beacon authentication value"))
        }
    }
}

impl Wire for SecureNetworkBeacon {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        check_type(bytes[0], beacon_type::SECURE_NETWORK)?;
        exact(bytes, SECURE_NETWORK_LEN)?;
        Ok(SecureNetworkBeacon {
            flags: Flags(bytes[1]),
            network_id: arr::<8>(&bytes[2..10]),
            iv_index: IvIndex(u32::from_be_bytes(arr::<4>(&bytes[10..14]))),
            authentication_value: arr::<8>(&bytes[14..22]),
        })
    }

    fn buffer_len(&self) -> usize {
        SECURE_NETWORK_LEN
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = beacon_type::SECURE_NETWORK;
        buf[1] = self.flags.0;
        buf[2..10].copy_from_slice(&self.network_id);
        buf[10..14].copy_from_slice(&self.iv_index.0.to_be_bytes());
        buf[14..22].copy_from_slice(&self.authentication_value);
    }
}

/// A Mesh Private beacon (§3.10.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrivateBeacon {
    /// Random, 13 octets: the CCM nonce of the private beacon (§3.10.4.1).
    pub random: [u8; 13],
    /// Obfuscated Private Beacon Data: Flags || IV Index, encrypted (§3.10.4.1).
    pub obfuscated_data: [u8; 5],
    /// Authentication Tag, 8 octets.
    pub authentication_tag: [u8; 8],
}

impl fmt::Debug for PrivateBeacon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateBeacon")
            .field("random", &Hex(&self.random))
            .field("obfuscated_data", &Hex(&self.obfuscated_data))
            .field("authentication_tag", &Hex(&self.authentication_tag))
            .finish()
    }
}

impl PrivateBeacon {
    /// Builds a Mesh Private beacon for `net_key` carrying `flags` and `iv_index`, with the
    /// given 13-octet Random (fresh for each beacon, from the caller's RNG) (§3.10.4.1).
    pub fn seal(net_key: &NetKey, random: [u8; 13], flags: Flags, iv_index: IvIndex) -> Self {
        let (obfuscated_data, authentication_tag) =
            net_key.private_beacon_seal(&random, flags.0, iv_index.0);
        PrivateBeacon {
            random,
            obfuscated_data,
            authentication_tag,
        }
    }

    /// Authenticates the beacon under `net_key` and recovers its Flags and IV Index
    /// (§3.10.4.1).
    pub fn open(&self, net_key: &NetKey) -> Result<(Flags, IvIndex)> {
        let (flags, iv) = net_key
            .private_beacon_open(
                &self.random,
                &self.obfuscated_data,
                &self.authentication_tag,
            )
            .map_err(|_| Error::Auth("mesh private beacon authentication tag"))?;
        Ok((Flags(flags), IvIndex(iv)))
    }
}

impl Wire for PrivateBeacon {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        check_type(bytes[0], beacon_type::MESH_PRIVATE)?;
        exact(bytes, MESH_PRIVATE_LEN)?;
        Ok(PrivateBeacon {
            random: arr::<13>(&bytes[1..14]),
            obfuscated_data: arr::<5>(&bytes[14..19]),
            authentication_tag: arr::<8>(&bytes[19..27]),
        })
    }

    fn buffer_len(&self) -> usize {
        MESH_PRIVATE_LEN
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = beacon_type::MESH_PRIVATE;
        buf[1..14].copy_from_slice(&self.random);
        buf[14..19].copy_from_slice(&self.obfuscated_data);
        buf[19..27].copy_from_slice(&self.authentication_tag);
    }
}

/// Any mesh beacon, by its Beacon Type octet (§3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Beacon {
    /// Beacon Type 0x00 (§3.10.2).
    UnprovisionedDevice(UnprovisionedDeviceBeacon),
    /// Beacon Type 0x01 (§3.10.3).
    SecureNetwork(SecureNetworkBeacon),
    /// Beacon Type 0x02 (§3.10.4).
    MeshPrivate(PrivateBeacon),
}

impl Beacon {
    /// The Beacon Type octet.
    pub const fn beacon_type(&self) -> u8 {
        match self {
            Beacon::UnprovisionedDevice(_) => beacon_type::UNPROVISIONED_DEVICE,
            Beacon::SecureNetwork(_) => beacon_type::SECURE_NETWORK,
            Beacon::MeshPrivate(_) => beacon_type::MESH_PRIVATE,
        }
    }
}

impl Wire for Beacon {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        match bytes[0] {
            beacon_type::UNPROVISIONED_DEVICE => {
                UnprovisionedDeviceBeacon::parse(bytes).map(Beacon::UnprovisionedDevice)
            }
            beacon_type::SECURE_NETWORK => {
                SecureNetworkBeacon::parse(bytes).map(Beacon::SecureNetwork)
            }
            beacon_type::MESH_PRIVATE => PrivateBeacon::parse(bytes).map(Beacon::MeshPrivate),
            t => Err(Error::Invalid {
                field: "beacon type",
                value: u32::from(t),
            }),
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            Beacon::UnprovisionedDevice(b) => b.buffer_len(),
            Beacon::SecureNetwork(b) => b.buffer_len(),
            Beacon::MeshPrivate(b) => b.buffer_len(),
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        match self {
            Beacon::UnprovisionedDevice(b) => b.emit(buf),
            Beacon::SecureNetwork(b) => b.emit(buf),
            Beacon::MeshPrivate(b) => b.emit(buf),
        }
    }
}

/// The URI schemes of Bluetooth Assigned Numbers §2.7 "URI Schemes", starting at code
/// point U+0002 (U+0001 is the empty scheme name). Used by the URI AD type of the Core
/// Specification Supplement Part A §1.18, whose encoding the URI Hash covers (§3.10.2).
const URI_SCHEMES: &[&str] = &[
    "aaa:",
    "aaas:",
    "about:",
    "acap:",
    "acct:",
    "cap:",
    "cid:",
    "coap:",
    "coaps:",
    "crid:",
    "data:",
    "dav:",
    "dict:",
    "dns:",
    "file:",
    "ftp:",
    "geo:",
    "go:",
    "gopher:",
    "h323:",
    "http:",
    "https:",
    "iax:",
    "icap:",
    "im:",
    "imap:",
    "info:",
    "ipp:",
    "ipps:",
    "iris:",
    "iris.beep:",
    "iris.xpc:",
    "iris.xpcs:",
    "iris.lwz:",
    "jabber:",
    "ldap:",
    "mailto:",
    "mid:",
    "msrp:",
    "msrps:",
    "mtqp:",
    "mupdate:",
    "news:",
    "nfs:",
    "ni:",
    "nih:",
    "nntp:",
    "opaquelocktoken:",
    "pop:",
    "pres:",
    "reload:",
    "rtsp:",
    "rtsps:",
    "rtspu:",
    "service:",
    "session:",
    "shttp:",
    "sieve:",
    "sip:",
    "sips:",
    "sms:",
    "snmp:",
    "soap.beep:",
    "soap.beeps:",
    "stun:",
    "stuns:",
    "tag:",
    "tel:",
    "telnet:",
    "tftp:",
    "thismessage:",
    "tn3270:",
    "tip:",
    "turn:",
    "turns:",
    "tv:",
    "urn:",
    "vemmi:",
    "ws:",
    "wss:",
    "xcon:",
    "xcon-userid:",
    "xmlrpc.beep:",
    "xmlrpc.beeps:",
    "xmpp:",
    "z39.50r:",
    "z39.50s:",
    "acr:",
    "adiumxtra:",
    "afp:",
    "afs:",
    "aim:",
    "apt:",
    "attachment:",
    "aw:",
    "barion:",
    "beshare:",
    "bitcoin:",
    "bolo:",
    "callto:",
    "chrome:",
    "chrome-extension:",
    "com-eventbrite-attendee:",
    "content:",
    "cvs:",
    "dlna-playsingle:",
    "dlna-playcontainer:",
    "dtn:",
    "dvb:",
    "ed2k:",
    "facetime:",
    "feed:",
    "feedready:",
    "finger:",
    "fish:",
    "gg:",
    "git:",
    "gizmoproject:",
    "gtalk:",
    "ham:",
    "hcp:",
    "icon:",
    "ipn:",
    "irc:",
    "irc6:",
    "ircs:",
    "itms:",
    "jar:",
    "jms:",
    "keyparc:",
    "lastfm:",
    "ldaps:",
    "magnet:",
    "maps:",
    "market:",
    "message:",
    "mms:",
    "ms-help:",
    "ms-settings-power:",
    "msnim:",
    "mumble:",
    "mvn:",
    "notes:",
    "oid:",
    "palm:",
    "paparazzi:",
    "pkcs11:",
    "platform:",
    "proxy:",
    "psyc:",
    "query:",
    "res:",
    "resource:",
    "rmi:",
    "rsync:",
    "rtmfp:",
    "rtmp:",
    "secondlife:",
    "sftp:",
    "sgn:",
    "skype:",
    "smb:",
    "smtp:",
    "soldat:",
    "spotify:",
    "ssh:",
    "steam:",
    "submit:",
    "svn:",
    "teamspeak:",
    "teliaeid:",
    "things:",
    "udp:",
    "unreal:",
    "ut2004:",
    "ventrilo:",
    "view-source:",
    "webcal:",
    "wtai:",
    "wyciwyg:",
    "xfire:",
    "xri:",
    "ymsgr:",
    "example:",
    "ms-settings-cloudstorage:",
    "bluetooth:",
    "bl:",
];

/// Encodes `uri` as the data of a URI AD type (Core Specification Supplement Part A §1.18):
/// the scheme, when Assigned Numbers lists it, becomes its code point (UTF-8 encoded) and
/// the rest of the URI follows; otherwise the code point U+0001 (empty scheme name) is
/// followed by the whole URI. Scheme names are matched case-insensitively (RFC 3986 §3.1).
pub fn uri_data(uri: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(uri.len() + 2);
    let known = uri.find(':').and_then(|colon| {
        let scheme = &uri[..=colon];
        URI_SCHEMES
            .iter()
            .position(|s| s.eq_ignore_ascii_case(scheme))
            .map(|i| (i, colon + 1))
    });
    let rest = match known {
        Some((index, after)) => {
            // Code points start at U+0002; the table has fewer than 0x7FF entries.
            let cp = u32::try_from(index).unwrap_or(0) + 2;
            let mut utf8 = [0u8; 4];
            let c = char::from_u32(cp).unwrap_or('\u{1}');
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            &uri[after..]
        }
        None => {
            out.push(0x01);
            uri
        }
    };
    out.extend_from_slice(rest.as_bytes());
    out
}

/// The URI Hash of the Unprovisioned Device beacon (§3.10.2): the first four octets of
/// `s1(URI Data)`, where URI Data is the URI encoded as in the URI AD type ([`uri_data`]).
pub fn uri_hash(uri: &str) -> [u8; 4] {
    uri_hash_of_data(&uri_data(uri))
}

/// The URI Hash (§3.10.2) of already-encoded URI AD type data.
pub fn uri_hash_of_data(uri_data: &[u8]) -> [u8; 4] {
    let h = s1(uri_data);
    [h[0], h[1], h[2], h[3]]
}

fn check_type(got: u8, want: u8) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "beacon type",
            value: u32::from(got),
        })
    }
}

fn exact(bytes: &[u8], len: usize) -> Result<()> {
    need(bytes, len)?;
    super::at_most(bytes, len)
}

/// Copies a slice whose length the caller has checked into an array.
fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

/// Comparison whose duration does not depend on where the inputs differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs every parser of this module on `data`; each success must emit bytes that re-parse to
/// the same value (used by the fuzz targets).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    fn check<T: Wire + PartialEq + fmt::Debug>(data: &[u8]) {
        if let Ok(v) = T::parse(data) {
            let bytes = v.to_vec();
            assert_eq!(bytes.len(), v.buffer_len());
            assert_eq!(T::parse(&bytes).as_ref(), Ok(&v));
        }
    }
    check::<Beacon>(data);
    check::<UnprovisionedDeviceBeacon>(data);
    check::<SecureNetworkBeacon>(data);
    check::<PrivateBeacon>(data);
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = uri_hash(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
    fn key(s: &str) -> NetKey {
        NetKey::new(h(s).try_into().unwrap())
    }

    // MshPRT 1.1 §8.4 sample data, "Secure Network beacon": NetKey
    // 7dd7364cd842ad18c17c2b820c84c3d6, IV Index 0x12345678, flags 0x00.
    const SNB_KEY: &str = "7dd7364cd842ad18c17c2b820c84c3d6";
    const SNB: &str = "01003ecaff672f673370123456788ea261582f364f6f";

    #[test]
    fn secure_network_beacon_sample() {
        let nk = key(SNB_KEY);
        let b = SecureNetworkBeacon::new_signed(&nk, Flags(0), IvIndex(0x1234_5678));
        assert_eq!(hex::encode(b.to_vec()), SNB);
        assert_eq!(hex::encode(b.network_id), "3ecaff672f673370");
        let parsed = Beacon::parse(&h(SNB)).unwrap();
        assert_eq!(parsed, Beacon::SecureNetwork(b));
        assert_eq!(b.authenticate(&nk), Ok(()));
        assert!(!b.flags.key_refresh() && !b.flags.iv_update());
    }

    #[test]
    fn secure_network_beacon_rejects_forgeries() {
        let nk = key(SNB_KEY);
        let b = SecureNetworkBeacon::parse(&h(SNB)).unwrap();
        let mut bad = b;
        bad.authentication_value[7] ^= 1;
        assert!(matches!(bad.authenticate(&nk), Err(Error::Auth(_))));
        let mut bad = b;
        bad.iv_index = IvIndex(0x1234_5679);
        assert!(matches!(bad.authenticate(&nk), Err(Error::Auth(_))));
        let mut bad = b;
        bad.flags = Flags::new(false, true);
        assert!(matches!(bad.authenticate(&nk), Err(Error::Auth(_))));
        let other = key("f7a2a44f8e8a8029064f173ddc1e2b00");
        assert_eq!(
            b.authenticate(&other),
            Err(Error::Auth("network id does not match the key"))
        );
    }

    // MshPRT 1.1 §8.4 sample data, "Mesh Private beacon": NetKey
    // f7a2a44f8e8a8029064f173ddc1e2b00, IV Index 0x1010abcd, flags 0x02 (IV Update),
    // Random 435f18f85cf78a3121f58478a5.
    const PB_KEY: &str = "f7a2a44f8e8a8029064f173ddc1e2b00";
    const PB: &str = "02435f18f85cf78a3121f58478a561e488e7cbf3174f022a514741";

    #[test]
    fn private_beacon_sample() {
        let nk = key(PB_KEY);
        let random: [u8; 13] = h("435f18f85cf78a3121f58478a5").try_into().unwrap();
        let b = PrivateBeacon::seal(&nk, random, Flags(0x02), IvIndex(0x1010_abcd));
        assert_eq!(hex::encode(b.to_vec()), PB);
        let parsed = Beacon::parse(&h(PB)).unwrap();
        assert_eq!(parsed, Beacon::MeshPrivate(b));
        let (flags, iv) = b.open(&nk).unwrap();
        assert_eq!(flags, Flags::new(false, true));
        assert_eq!(iv, IvIndex(0x1010_abcd));

        let mut bad = b;
        bad.obfuscated_data[0] ^= 0x01;
        assert!(matches!(bad.open(&nk), Err(Error::Auth(_))));
        assert!(matches!(b.open(&key(SNB_KEY)), Err(Error::Auth(_))));
    }

    // MshPRT 1.1 §8.4 sample data, "Unprovisioned Device beacon with URI hash": Device UUID
    // 70cf7c9732a345b691494810d2e9cbf4, OOB Information 0x4020 (Number, Inside Manual),
    // URI https://www.example.com/mesh/products/light-switch-v3.
    #[test]
    fn unprovisioned_beacon_with_uri_sample() {
        let uri = "https://www.example.com/mesh/products/light-switch-v3";
        assert_eq!(
            hex::encode(uri_data(uri)),
            "172f2f7777772e6578616d706c652e636f6d2f6d6573682f70726f6475637473\
             2f6c696768742d7377697463682d7633"
        );
        assert_eq!(
            hex::encode(s1(&uri_data(uri))),
            "d97478b3667f4839487469c72b8e5e9e"
        );
        assert_eq!(uri_hash(uri), [0xd9, 0x74, 0x78, 0xb3]);
        let b = UnprovisionedDeviceBeacon {
            device_uuid: h("70cf7c9732a345b691494810d2e9cbf4").try_into().unwrap(),
            oob_information: OobInformation(OobInformation::NUMBER | OobInformation::INSIDE_MANUAL),
            uri_hash: Some(uri_hash(uri)),
        };
        let wire = "0070cf7c9732a345b691494810d2e9cbf44020d97478b3";
        assert_eq!(hex::encode(b.to_vec()), wire);
        assert_eq!(Beacon::parse(&h(wire)), Ok(Beacon::UnprovisionedDevice(b)));
        assert!(b.oob_information.contains(OobInformation::NUMBER));
        assert!(!b.oob_information.contains(OobInformation::NFC));
    }

    // The layout without the optional URI Hash (§3.10.2): the sample device above.
    #[test]
    fn unprovisioned_beacon_without_uri() {
        let wire = "0070cf7c9732a345b691494810d2e9cbf44020";
        let b = UnprovisionedDeviceBeacon::parse(&h(wire)).unwrap();
        assert_eq!(b.uri_hash, None);
        assert_eq!(b.oob_information, OobInformation(0x4020));
        assert_eq!(hex::encode(b.to_vec()), wire);
    }

    #[test]
    fn uri_encoding_rules() {
        assert_eq!(uri_data("http://a"), b"\x16//a");
        assert_eq!(uri_data("HTTPS://a"), b"\x17//a");
        // Unlisted scheme: the empty scheme name U+0001 and the whole URI.
        assert_eq!(uri_data("foo:bar"), b"\x01foo:bar");
        assert_eq!(uri_data("no scheme"), b"\x01no scheme");
        // Code points above U+007F are UTF-8 encoded: "itms:" is U+0080.
        assert_eq!(uri_data("itms:x"), b"\xc2\x80x");
        assert_eq!(uri_data("bl:x"), b"\xc2\xbcx");
    }

    #[test]
    fn lengths_and_types() {
        // Unprovisioned Device beacon: 19 or 23 octets only.
        let long = h("0070cf7c9732a345b691494810d2e9cbf44020d97478b3");
        for n in 0..long.len() + 3 {
            let mut v = long.clone();
            v.resize(n, 0);
            let r = Beacon::parse(&v);
            match n {
                19 | 23 => assert!(r.is_ok(), "{n}"),
                0 => assert_eq!(r, Err(Error::Truncated { need: 1, got: 0 })),
                1..=18 => assert_eq!(r, Err(Error::Truncated { need: 19, got: n })),
                20..=22 => assert_eq!(r, Err(Error::Truncated { need: 23, got: n })),
                _ => assert_eq!(r, Err(Error::TooLong { max: 23, got: n })),
            }
        }
        let snb = h(SNB);
        assert_eq!(
            Beacon::parse(&snb[..21]),
            Err(Error::Truncated { need: 22, got: 21 })
        );
        let mut v = snb.clone();
        v.push(0);
        assert_eq!(Beacon::parse(&v), Err(Error::TooLong { max: 22, got: 23 }));
        let pb = h(PB);
        assert_eq!(
            Beacon::parse(&pb[..26]),
            Err(Error::Truncated { need: 27, got: 26 })
        );
        for t in 0x03..=0xffu8 {
            let mut v = pb.clone();
            v[0] = t;
            assert_eq!(
                Beacon::parse(&v),
                Err(Error::Invalid {
                    field: "beacon type",
                    value: u32::from(t)
                })
            );
        }
        // A concrete beacon parser refuses the other types.
        assert!(matches!(
            SecureNetworkBeacon::parse(&pb),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn rfu_flag_bits_are_kept() {
        let mut v = h(SNB);
        v[1] = 0xfd;
        let b = SecureNetworkBeacon::parse(&v).unwrap();
        assert!(b.flags.key_refresh() && !b.flags.iv_update());
        assert_eq!(b.flags.rfu(), 0xfc);
        assert_eq!(b.to_vec(), v);
    }

    fn beacon() -> impl Strategy<Value = Beacon> {
        prop_oneof![
            (
                any::<[u8; 16]>(),
                any::<u16>(),
                proptest::option::of(any::<[u8; 4]>())
            )
                .prop_map(|(device_uuid, oob, uri_hash)| {
                    Beacon::UnprovisionedDevice(UnprovisionedDeviceBeacon {
                        device_uuid,
                        oob_information: OobInformation(oob),
                        uri_hash,
                    })
                }),
            (
                any::<u8>(),
                any::<[u8; 8]>(),
                any::<u32>(),
                any::<[u8; 8]>()
            )
                .prop_map(|(f, network_id, iv, authentication_value)| {
                    Beacon::SecureNetwork(SecureNetworkBeacon {
                        flags: Flags(f),
                        network_id,
                        iv_index: IvIndex(iv),
                        authentication_value,
                    })
                }),
            (any::<[u8; 13]>(), any::<[u8; 5]>(), any::<[u8; 8]>()).prop_map(
                |(random, obfuscated_data, authentication_tag)| {
                    Beacon::MeshPrivate(PrivateBeacon {
                        random,
                        obfuscated_data,
                        authentication_tag,
                    })
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(b in beacon()) {
            let bytes = b.to_vec();
            prop_assert_eq!(bytes.len(), b.buffer_len());
            prop_assert_eq!(bytes[0], b.beacon_type());
            prop_assert_eq!(Beacon::parse(&bytes), Ok(b));
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            fuzz_parse(&data);
            if let Ok(b) = Beacon::parse(&data) {
                prop_assert_eq!(b.to_vec(), data);
            }
        }

        #[test]
        fn arbitrary_typed_bytes(
            t in 0u8..4,
            rest in proptest::collection::vec(any::<u8>(), 0..30),
        ) {
            let mut data = vec![t];
            data.extend(rest);
            fuzz_parse(&data);
            if let Ok(b) = Beacon::parse(&data) {
                prop_assert_eq!(b.to_vec(), data);
            }
        }

        #[test]
        fn seal_open(
            k in any::<[u8; 16]>(),
            random in any::<[u8; 13]>(),
            f in any::<u8>(),
            iv in any::<u32>(),
        ) {
            let nk = NetKey::new(k);
            let b = PrivateBeacon::seal(&nk, random, Flags(f), IvIndex(iv));
            prop_assert_eq!(b.open(&nk), Ok((Flags(f), IvIndex(iv))));
            let s = SecureNetworkBeacon::new_signed(&nk, Flags(f), IvIndex(iv));
            prop_assert_eq!(s.authenticate(&nk), Ok(()));
        }

        #[test]
        fn uri_hash_never_panics(s in ".*") {
            let _ = uri_hash(&s);
            let d = uri_data(&s);
            prop_assert!(!d.is_empty());
        }
    }
}
