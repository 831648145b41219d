//! Advertising data as Bluetooth Mesh uses it: the `length || AD type || data` structures of
//! the Core Specification Supplement (CSS Part A §1; Core Vol 3 Part C §11), the mesh AD types
//! of the advertising bearer (Mesh Protocol 1.1 §3.3.1), and the service data of the Mesh
//! Provisioning (§7.1.2.2.1) and Mesh Proxy (§7.2.2.2) services that a connectable device
//! advertises.

use core::fmt;
use core::iter::FusedIterator;

use super::{at_most, need, Error, Hex, Result, Wire};
use crate::ble::address::UnicastAddress;
use crate::ble::crypto::NetKey;

/// AD type «Flags» (CSS Part A §1.3).
pub const AD_TYPE_FLAGS: u8 = 0x01;
/// AD type «Complete List of 16-bit Service Class UUIDs» (CSS Part A §1.1).
pub const AD_TYPE_SERVICE_UUID16_COMPLETE: u8 = 0x03;
/// AD type «Service Data - 16-bit UUID» (CSS Part A §1.11).
pub const AD_TYPE_SERVICE_DATA_16: u8 = 0x16;
/// AD type «PB-ADV»: a PB-ADV PDU (§5.2.1).
pub const AD_TYPE_PB_ADV: u8 = 0x29;
/// AD type «Mesh Message»: a Network PDU on the advertising bearer (§3.3.1).
pub const AD_TYPE_MESH_MESSAGE: u8 = 0x2A;
/// AD type «Mesh Beacon»: a mesh beacon (§3.3.1, §3.10).
pub const AD_TYPE_MESH_BEACON: u8 = 0x2B;

/// The Mesh Provisioning Service UUID (§7.1).
pub const MESH_PROVISIONING_SERVICE_UUID: u16 = 0x1827;
/// The Mesh Proxy Service UUID (§7.2).
pub const MESH_PROXY_SERVICE_UUID: u16 = 0x1828;

/// Flags value of a connectable mesh service advertisement: LE General Discoverable Mode
/// (bit 1) and BR/EDR Not Supported (bit 2) (CSS Part A §1.3).
pub const FLAGS_GENERAL_DISCOVERABLE_NO_BREDR: u8 = 0x06;

/// The longest data of one AD structure: the length octet counts the type octet, so at most
/// 255 - 1 octets (CSS Part A §1; Core Vol 3 Part C §11).
pub const MAX_AD_DATA_LEN: usize = 254;

// ---------------------------------------------------------------------------------------------
// AD structures
// ---------------------------------------------------------------------------------------------

/// One AD structure borrowed from advertising data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AdRef<'a> {
    /// The AD type.
    pub ad_type: u8,
    /// The AD data (without length and type).
    pub data: &'a [u8],
}

impl fmt::Debug for AdRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdRef")
            .field("ad_type", &format_args!("{:#04x}", self.ad_type))
            .field("data", &Hex(self.data))
            .finish()
    }
}

impl<'a> AdRef<'a> {
    /// An owned copy.
    pub fn to_structure(&self) -> AdStructure {
        AdStructure {
            ad_type: self.ad_type,
            data: self.data.to_vec(),
        }
    }

    /// What this structure means to a mesh scanner (see [`MeshAd::classify`]).
    pub fn classify(&self) -> Result<MeshAd<'a>> {
        MeshAd::classify(self.ad_type, self.data)
    }
}

/// An iterator over the AD structures of advertising (or scan response) data.
///
/// A zero length octet is the padding that ends the significant part of the data (Core Vol 3
/// Part C §11): iteration stops there. A length running past the end yields one
/// [`Error::Truncated`] item, after which the iterator is exhausted.
#[derive(Debug, Clone)]
pub struct AdStructures<'a> {
    rest: &'a [u8],
}

impl<'a> AdStructures<'a> {
    /// Iterates over the AD structures of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        AdStructures { rest: data }
    }
}

impl<'a> Iterator for AdStructures<'a> {
    type Item = Result<AdRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&len, tail) = self.rest.split_first()?;
        if len == 0 {
            self.rest = &[];
            return None;
        }
        let len = usize::from(len);
        if tail.len() < len {
            self.rest = &[];
            return Some(Err(Error::Truncated {
                need: len + 1,
                got: tail.len() + 1,
            }));
        }
        let (entry, after) = tail.split_at(len);
        self.rest = after;
        // `len >= 1`, so `entry` holds the type octet.
        let (&ad_type, data) = entry.split_first()?;
        Some(Ok(AdRef { ad_type, data }))
    }
}

impl FusedIterator for AdStructures<'_> {}

/// Classifies every AD structure of `data` for a mesh scanner.
pub fn mesh_ads(data: &[u8]) -> impl Iterator<Item = Result<MeshAd<'_>>> + '_ {
    AdStructures::new(data).map(|r| r.and_then(|a| a.classify()))
}

/// One owned AD structure, `length || AD type || AD data` (CSS Part A §1).
///
/// `data` holds at most [`MAX_AD_DATA_LEN`] octets; a longer one cannot be emitted.
#[derive(Clone, PartialEq, Eq)]
pub struct AdStructure {
    /// The AD type.
    pub ad_type: u8,
    /// The AD data.
    pub data: Vec<u8>,
}

impl fmt::Debug for AdStructure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdStructure")
            .field("ad_type", &format_args!("{:#04x}", self.ad_type))
            .field("data", &Hex(&self.data))
            .finish()
    }
}

impl AdStructure {
    /// A structure whose data fits the length octet.
    pub fn new(ad_type: u8, data: Vec<u8>) -> Result<Self> {
        if data.len() > MAX_AD_DATA_LEN {
            return Err(Error::TooLong {
                max: MAX_AD_DATA_LEN,
                got: data.len(),
            });
        }
        Ok(AdStructure { ad_type, data })
    }

    /// A «Service Data - 16-bit UUID» structure: the UUID little-endian, then `data`
    /// (CSS Part A §1.11).
    pub fn service_data_16(uuid: u16, data: &[u8]) -> Self {
        let mut d = Vec::with_capacity(2 + data.len());
        d.extend_from_slice(&uuid.to_le_bytes());
        d.extend_from_slice(data);
        AdStructure {
            ad_type: AD_TYPE_SERVICE_DATA_16,
            data: d,
        }
    }

    /// Parses every AD structure of `data` (up to a zero-length padding octet).
    pub fn parse_all(data: &[u8]) -> Result<Vec<AdStructure>> {
        AdStructures::new(data)
            .map(|r| r.map(|a| a.to_structure()))
            .collect()
    }

    /// Concatenates the emitted structures.
    pub fn emit_all(structures: &[AdStructure]) -> Vec<u8> {
        let mut v = Vec::with_capacity(structures.iter().map(Wire::buffer_len).sum());
        for s in structures {
            v.extend_from_slice(&s.to_vec());
        }
        v
    }

    /// The borrowed form.
    pub fn borrowed(&self) -> AdRef<'_> {
        AdRef {
            ad_type: self.ad_type,
            data: &self.data,
        }
    }
}

impl Wire for AdStructure {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 2)?;
        let len = usize::from(bytes[0]);
        if len == 0 {
            return Err(Error::Invalid {
                field: "AD length",
                value: 0,
            });
        }
        need(bytes, 1 + len)?;
        at_most(bytes, 1 + len)?;
        Ok(AdStructure {
            ad_type: bytes[1],
            data: bytes[2..].to_vec(),
        })
    }

    fn buffer_len(&self) -> usize {
        2 + self.data.len()
    }

    fn emit(&self, buf: &mut [u8]) {
        debug_assert!(self.data.len() <= MAX_AD_DATA_LEN, "AD data too long");
        // The length octet counts the type octet (CSS Part A §1).
        buf[0] = u8::try_from(1 + self.data.len()).unwrap_or(u8::MAX);
        buf[1] = self.ad_type;
        buf[2..2 + self.data.len()].copy_from_slice(&self.data);
    }
}

// ---------------------------------------------------------------------------------------------
// Mesh Provisioning service data (§7.1.2.2.1)
// ---------------------------------------------------------------------------------------------

/// The service data of the Mesh Provisioning Service (§7.1.2.2.1), after the 16-bit UUID:
/// `Device UUID (16) || OOB Information (2)`.
///
/// The OOB Information field is little-endian here, as the §8.5.1 sample shows (OOB
/// Information 0x4020 advertised as `20 40`), and as all fields of advertising data are
/// (CSS). Note that some stacks (Zephyr's `pb_gatt_srv.c`) write it big-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProvisioningServiceData {
    /// The Device UUID of the unprovisioned device.
    pub device_uuid: [u8; 16],
    /// The OOB Information bit field, as in the Unprovisioned Device beacon (§3.10.2).
    pub oob_information: u16,
}

impl fmt::Debug for ProvisioningServiceData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvisioningServiceData")
            .field("device_uuid", &Hex(&self.device_uuid))
            .field(
                "oob_information",
                &format_args!("{:#06x}", self.oob_information),
            )
            .finish()
    }
}

impl ProvisioningServiceData {
    /// The service data length: 16 + 2 octets (§7.1.2.2.1).
    pub const LEN: usize = 18;

    /// The complete advertising data of a device advertising the Mesh Provisioning Service
    /// (§7.1.2.2.1): Flags, Complete List of 16-bit Service UUIDs (0x1827), Service Data.
    pub fn advertising_data(&self) -> Vec<u8> {
        service_advertising_data(MESH_PROVISIONING_SERVICE_UUID, &self.to_vec())
    }
}

impl Wire for ProvisioningServiceData {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, Self::LEN)?;
        at_most(bytes, Self::LEN)?;
        let mut device_uuid = [0u8; 16];
        device_uuid.copy_from_slice(&bytes[..16]);
        Ok(ProvisioningServiceData {
            device_uuid,
            oob_information: u16::from_le_bytes([bytes[16], bytes[17]]),
        })
    }

    fn buffer_len(&self) -> usize {
        Self::LEN
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[..16].copy_from_slice(&self.device_uuid);
        buf[16..18].copy_from_slice(&self.oob_information.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Mesh Proxy service data (§7.2.2.2)
// ---------------------------------------------------------------------------------------------

/// Identification Type «Network ID» (§7.2.2.2.2).
pub const IDENTIFICATION_NETWORK_ID: u8 = 0x00;
/// Identification Type «Node Identity» (§7.2.2.2.3).
pub const IDENTIFICATION_NODE_IDENTITY: u8 = 0x01;
/// Identification Type «Private Network Identity» (§7.2.2.2.4, Mesh 1.1).
pub const IDENTIFICATION_PRIVATE_NETWORK_IDENTITY: u8 = 0x02;
/// Identification Type «Private Node Identity» (§7.2.2.2.5, Mesh 1.1).
pub const IDENTIFICATION_PRIVATE_NODE_IDENTITY: u8 = 0x03;

/// The service data of the Mesh Proxy Service (§7.2.2.2.1), after the 16-bit UUID:
/// `Identification Type (1) || Identification Parameters`. Types 0x04..=0xFF are RFU and
/// rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyServiceData {
    /// 0x00: the Network ID of a subnet (§7.2.2.2.2), 8 octets.
    NetworkId([u8; 8]),
    /// 0x01: Node Identity (§7.2.2.2.3): Hash (8) || Random (8).
    NodeIdentity {
        /// `e(IdentityKey, 0x000000000000 || Random || Address) mod 2^64`.
        hash: [u8; 8],
        /// The random value.
        random: [u8; 8],
    },
    /// 0x02: Private Network Identity (§7.2.2.2.4): Hash (8) || Random (8).
    PrivateNetworkIdentity {
        /// `e(IdentityKey, Network ID || Random) mod 2^64`.
        hash: [u8; 8],
        /// The random value.
        random: [u8; 8],
    },
    /// 0x03: Private Node Identity (§7.2.2.2.5): Hash (8) || Random (8).
    PrivateNodeIdentity {
        /// `e(IdentityKey, 0x0000000000 || 0x03 || Random || Address) mod 2^64`.
        hash: [u8; 8],
        /// The random value.
        random: [u8; 8],
    },
}

impl fmt::Debug for ProxyServiceData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyServiceData::NetworkId(id) => f.debug_tuple("NetworkId").field(&Hex(id)).finish(),
            ProxyServiceData::NodeIdentity { hash, random }
            | ProxyServiceData::PrivateNetworkIdentity { hash, random }
            | ProxyServiceData::PrivateNodeIdentity { hash, random } => {
                let name = match self {
                    ProxyServiceData::NodeIdentity { .. } => "NodeIdentity",
                    ProxyServiceData::PrivateNetworkIdentity { .. } => "PrivateNetworkIdentity",
                    _ => "PrivateNodeIdentity",
                };
                f.debug_struct(name)
                    .field("hash", &Hex(hash))
                    .field("random", &Hex(random))
                    .finish()
            }
        }
    }
}

impl ProxyServiceData {
    /// The Identification Type octet.
    pub fn identification_type(&self) -> u8 {
        match self {
            ProxyServiceData::NetworkId(_) => IDENTIFICATION_NETWORK_ID,
            ProxyServiceData::NodeIdentity { .. } => IDENTIFICATION_NODE_IDENTITY,
            ProxyServiceData::PrivateNetworkIdentity { .. } => {
                IDENTIFICATION_PRIVATE_NETWORK_IDENTITY
            }
            ProxyServiceData::PrivateNodeIdentity { .. } => IDENTIFICATION_PRIVATE_NODE_IDENTITY,
        }
    }

    /// Advertising with the Network ID of `key` (§7.2.2.2.2).
    pub fn network_id(key: &NetKey) -> Self {
        ProxyServiceData::NetworkId(key.network_id)
    }

    /// Advertising with Node Identity (§7.2.2.2.3).
    pub fn node_identity(key: &NetKey, random: [u8; 8], address: UnicastAddress) -> Self {
        ProxyServiceData::NodeIdentity {
            hash: key.node_identity_hash(&random, address.get()),
            random,
        }
    }

    /// Advertising with Private Network Identity (§7.2.2.2.4).
    pub fn private_network_identity(key: &NetKey, random: [u8; 8]) -> Self {
        ProxyServiceData::PrivateNetworkIdentity {
            hash: key.private_network_identity_hash(&random),
            random,
        }
    }

    /// Advertising with Private Node Identity (§7.2.2.2.5).
    pub fn private_node_identity(key: &NetKey, random: [u8; 8], address: UnicastAddress) -> Self {
        ProxyServiceData::PrivateNodeIdentity {
            hash: key.private_node_identity_hash(&random, address.get()),
            random,
        }
    }

    /// Whether this advertisement identifies the subnet of `key` (Network ID, Private Network
    /// Identity) or, for the node identities, the node with primary element `address` on it.
    /// A node identity never matches without an address.
    pub fn matches(&self, key: &NetKey, address: Option<UnicastAddress>) -> bool {
        match (self, address) {
            (ProxyServiceData::NetworkId(id), _) => *id == key.network_id,
            (ProxyServiceData::PrivateNetworkIdentity { hash, random }, _) => {
                *hash == key.private_network_identity_hash(random)
            }
            (ProxyServiceData::NodeIdentity { hash, random }, Some(a)) => {
                *hash == key.node_identity_hash(random, a.get())
            }
            (ProxyServiceData::PrivateNodeIdentity { hash, random }, Some(a)) => {
                *hash == key.private_node_identity_hash(random, a.get())
            }
            (_, None) => false,
        }
    }

    /// The complete advertising data of a Proxy Server advertising the Mesh Proxy Service
    /// (§7.2.2.2.1): Flags, Complete List of 16-bit Service UUIDs (0x1828), Service Data.
    pub fn advertising_data(&self) -> Vec<u8> {
        service_advertising_data(MESH_PROXY_SERVICE_UUID, &self.to_vec())
    }
}

impl Wire for ProxyServiceData {
    fn parse(bytes: &[u8]) -> Result<Self> {
        need(bytes, 1)?;
        let p = &bytes[1..];
        let pair = |p: &[u8]| -> Result<([u8; 8], [u8; 8])> {
            need(p, 16)?;
            at_most(p, 16)?;
            let mut hash = [0u8; 8];
            let mut random = [0u8; 8];
            hash.copy_from_slice(&p[..8]);
            random.copy_from_slice(&p[8..16]);
            Ok((hash, random))
        };
        match bytes[0] {
            IDENTIFICATION_NETWORK_ID => {
                need(p, 8)?;
                at_most(p, 8)?;
                let mut id = [0u8; 8];
                id.copy_from_slice(p);
                Ok(ProxyServiceData::NetworkId(id))
            }
            IDENTIFICATION_NODE_IDENTITY => {
                let (hash, random) = pair(p)?;
                Ok(ProxyServiceData::NodeIdentity { hash, random })
            }
            IDENTIFICATION_PRIVATE_NETWORK_IDENTITY => {
                let (hash, random) = pair(p)?;
                Ok(ProxyServiceData::PrivateNetworkIdentity { hash, random })
            }
            IDENTIFICATION_PRIVATE_NODE_IDENTITY => {
                let (hash, random) = pair(p)?;
                Ok(ProxyServiceData::PrivateNodeIdentity { hash, random })
            }
            t => Err(Error::Invalid {
                field: "identification type",
                value: u32::from(t),
            }),
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            ProxyServiceData::NetworkId(_) => 9,
            _ => 17,
        }
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.identification_type();
        match self {
            ProxyServiceData::NetworkId(id) => buf[1..9].copy_from_slice(id),
            ProxyServiceData::NodeIdentity { hash, random }
            | ProxyServiceData::PrivateNetworkIdentity { hash, random }
            | ProxyServiceData::PrivateNodeIdentity { hash, random } => {
                buf[1..9].copy_from_slice(hash);
                buf[9..17].copy_from_slice(random);
            }
        }
    }
}

/// Flags || Complete List of 16-bit Service UUIDs (`uuid`) || Service Data (`uuid`, `data`),
/// the advertising data of the mesh GATT services (§7.1.2.2.1, §7.2.2.2.1).
fn service_advertising_data(uuid: u16, data: &[u8]) -> Vec<u8> {
    AdStructure::emit_all(&[
        AdStructure {
            ad_type: AD_TYPE_FLAGS,
            data: vec![FLAGS_GENERAL_DISCOVERABLE_NO_BREDR],
        },
        AdStructure {
            ad_type: AD_TYPE_SERVICE_UUID16_COMPLETE,
            data: uuid.to_le_bytes().to_vec(),
        },
        AdStructure::service_data_16(uuid, data),
    ])
}

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/// What one AD structure means to a mesh scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshAd<'a> {
    /// AD type 0x29: a PB-ADV PDU (§5.2.1).
    PbAdv(&'a [u8]),
    /// AD type 0x2A: a Network PDU (§3.3.1).
    Message(&'a [u8]),
    /// AD type 0x2B: a mesh beacon (§3.10).
    Beacon(&'a [u8]),
    /// Service data of the Mesh Proxy Service (§7.2.2.2.1).
    ProxyService(ProxyServiceData),
    /// Service data of the Mesh Provisioning Service (§7.1.2.2.1).
    ProvisioningService(ProvisioningServiceData),
    /// Anything else, including service data of other services.
    Other {
        /// The AD type.
        ad_type: u8,
        /// The AD data.
        data: &'a [u8],
    },
}

impl<'a> MeshAd<'a> {
    /// Classifies one AD structure. Service data of a mesh service that does not parse is an
    /// error; every other structure classifies.
    pub fn classify(ad_type: u8, data: &'a [u8]) -> Result<Self> {
        Ok(match ad_type {
            AD_TYPE_PB_ADV => MeshAd::PbAdv(data),
            AD_TYPE_MESH_MESSAGE => MeshAd::Message(data),
            AD_TYPE_MESH_BEACON => MeshAd::Beacon(data),
            AD_TYPE_SERVICE_DATA_16 if data.len() >= 2 => {
                match u16::from_le_bytes([data[0], data[1]]) {
                    MESH_PROXY_SERVICE_UUID => {
                        MeshAd::ProxyService(ProxyServiceData::parse(&data[2..])?)
                    }
                    MESH_PROVISIONING_SERVICE_UUID => {
                        MeshAd::ProvisioningService(ProvisioningServiceData::parse(&data[2..])?)
                    }
                    _ => MeshAd::Other { ad_type, data },
                }
            }
            _ => MeshAd::Other { ad_type, data },
        })
    }
}

/// Runs every parser of this module on `data`; whatever parses must re-emit and re-parse to
/// the same value. For the fuzzing crate.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(s) = AdStructure::parse(data) {
        let bytes = s.to_vec();
        assert_eq!(bytes, data);
        assert_eq!(AdStructure::parse(&bytes), Ok(s));
    }
    if let Ok(p) = ProxyServiceData::parse(data) {
        let bytes = p.to_vec();
        assert_eq!(bytes, data);
        assert_eq!(ProxyServiceData::parse(&bytes), Ok(p));
    }
    if let Ok(p) = ProvisioningServiceData::parse(data) {
        let bytes = p.to_vec();
        assert_eq!(bytes, data);
        assert_eq!(ProvisioningServiceData::parse(&bytes), Ok(p));
    }
    // Iteration: every structure re-emits to the octets it came from; classification of a
    // service structure re-emits its service data.
    let mut consumed = 0usize;
    for item in AdStructures::new(data) {
        let Ok(a) = item else { break };
        let owned = a.to_structure();
        let bytes = owned.to_vec();
        assert_eq!(data.get(consumed..consumed + bytes.len()), Some(&bytes[..]));
        assert_eq!(AdStructure::parse(&bytes), Ok(owned));
        consumed += bytes.len();
        match a.classify() {
            Ok(MeshAd::ProxyService(p)) => assert_eq!(p.to_vec(), a.data[2..]),
            Ok(MeshAd::ProvisioningService(p)) => assert_eq!(p.to_vec(), a.data[2..]),
            _ => {}
        }
    }
    if let Ok(all) = AdStructure::parse_all(data) {
        let bytes = AdStructure::emit_all(&all);
        assert_eq!(AdStructure::parse_all(&bytes), Ok(all));
    }
}

/// The proxy advertising a scanner resolves (MshPRT §7.2.2.2): `data` is a network key
/// (16 octets), a unicast address (2), then advertising data. Every Mesh Proxy Service
/// structure in it is matched against the key with and without the address (never a panic;
/// a node identity never matches without an address), and what parses re-emits, as complete
/// advertising data, to advertising data that classifies to the same value. For the fuzzing
/// crate (`proxy_adv`).
#[doc(hidden)]
pub fn fuzz_proxy_adv(data: &[u8]) {
    let (Some(key), Some(address)) = (data.get(..16), data.get(16..18)) else {
        return;
    };
    let key = NetKey::new(key.try_into().expect("16 octets"));
    let address = UnicastAddress::new(u16::from_be_bytes([address[0], address[1]]));
    for item in AdStructures::new(&data[18..]) {
        let Ok(a) = item else { break };
        let Ok(MeshAd::ProxyService(p)) = a.classify() else {
            continue;
        };
        let by_net = p.matches(&key, None);
        let by_node = p.matches(&key, address);
        if matches!(
            p,
            ProxyServiceData::NodeIdentity { .. } | ProxyServiceData::PrivateNodeIdentity { .. }
        ) {
            assert!(!by_net);
        } else {
            assert_eq!(by_net, by_node);
        }
        let again: Vec<_> = AdStructures::new(&p.advertising_data())
            .filter_map(|x| match x.ok()?.classify() {
                Ok(MeshAd::ProxyService(q)) => Some(q),
                _ => None,
            })
            .collect();
        assert_eq!(again, [p]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The proxy advertising corpus (what `fuzz_proxy_adv` starts from, since no fuzzing
    /// engine runs here): real advertisements of each kind under the §8.6 key, truncated at
    /// every length and with each octet flipped.
    #[test]
    fn proxy_adv_corpus_never_panics() {
        let key = sample_key();
        let a = UnicastAddress::new(0x1201).unwrap();
        let r = [7u8; 8];
        let ads = [
            ProxyServiceData::network_id(&key),
            ProxyServiceData::node_identity(&key, r, a),
            ProxyServiceData::private_network_identity(&key, r),
            ProxyServiceData::private_node_identity(&key, r, a),
        ];
        let mut runs = 0;
        for p in ads {
            let mut head = h("7dd7364cd842ad18c17c2b820c84c3d6");
            head.extend_from_slice(&0x1201u16.to_be_bytes());
            let adv = p.advertising_data();
            for cut in 0..=adv.len() {
                let mut d = head.clone();
                d.extend_from_slice(&adv[..cut]);
                fuzz_proxy_adv(&d);
                runs += 1;
                for i in head.len()..d.len() {
                    let mut f = d.clone();
                    f[i] ^= 0x5a;
                    fuzz_proxy_adv(&f);
                    runs += 1;
                }
            }
            let mut d = head.clone();
            d.extend_from_slice(&adv);
            // Matches its own node, not another.
            let Some(Ok(MeshAd::ProxyService(q))) = AdStructures::new(&adv)
                .flatten()
                .last()
                .map(|x| x.classify())
            else {
                panic!("{adv:?}");
            };
            assert!(q.matches(&key, Some(a)));
            assert!(
                !q.matches(&key, UnicastAddress::new(0x1202)) || q.identification_type() % 2 == 0
            );
        }
        assert!(runs > 1000);
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn sample_key() -> NetKey {
        // §8.6: NetKey 7dd7364cd842ad18c17c2b820c84c3d6.
        NetKey::new(h("7dd7364cd842ad18c17c2b820c84c3d6").try_into().unwrap())
    }

    const RANDOM: [u8; 8] = [0x34, 0xae, 0x60, 0x8f, 0xbb, 0xc1, 0xf2, 0xc6];

    fn addr(a: u16) -> UnicastAddress {
        UnicastAddress::new(a).unwrap()
    }

    /// Parses one AD structure of `adv` and returns its classification.
    fn classify_one(adv: &[u8]) -> ProxyServiceData {
        let s = AdStructure::parse(adv).unwrap();
        assert_eq!(s.ad_type, AD_TYPE_SERVICE_DATA_16);
        match s.borrowed().classify().unwrap() {
            MeshAd::ProxyService(p) => p,
            other => panic!("not proxy service data: {other:?}"),
        }
    }

    /// §8.6.1: service data using Network ID.
    #[test]
    fn sample_8_6_1_network_id() {
        let key = sample_key();
        let adv = h("0c162818003ecaff672f673370");
        let p = classify_one(&adv);
        assert_eq!(
            p,
            ProxyServiceData::NetworkId(h("3ecaff672f673370").try_into().unwrap())
        );
        assert_eq!(ProxyServiceData::network_id(&key), p);
        assert!(p.matches(&key, None));
        assert_eq!(
            AdStructure::service_data_16(0x1828, &p.to_vec()).to_vec(),
            adv
        );
    }

    /// §8.6.2: service data using Node Identity, address 0x1201.
    #[test]
    fn sample_8_6_2_node_identity() {
        let key = sample_key();
        let p = ProxyServiceData::node_identity(&key, RANDOM, addr(0x1201));
        assert_eq!(
            hex::encode(p.to_vec()),
            "0100861765aefcc57b34ae608fbbc1f2c6"
        );
        let adv = h("141628180100861765aefcc57b34ae608fbbc1f2c6");
        assert_eq!(classify_one(&adv), p);
        assert!(p.matches(&key, Some(addr(0x1201))));
        assert!(!p.matches(&key, Some(addr(0x1202))));
        assert!(!p.matches(&key, None));
        assert!(!p.matches(&NetKey::new([0; 16]), Some(addr(0x1201))));
    }

    /// §8.6.3: service data using Private Network Identity.
    #[test]
    fn sample_8_6_3_private_network_identity() {
        let key = sample_key();
        let p = ProxyServiceData::private_network_identity(&key, RANDOM);
        let adv = h("1416281802d30f7229ef04543534ae608fbbc1f2c6");
        assert_eq!(classify_one(&adv), p);
        assert_eq!(
            hex::encode(p.to_vec()),
            "02d30f7229ef04543534ae608fbbc1f2c6"
        );
        assert!(p.matches(&key, None));
        assert!(!p.matches(&NetKey::new([0; 16]), None));
    }

    /// §8.6.4: service data using Private Node Identity, address 0x1201.
    #[test]
    fn sample_8_6_4_private_node_identity() {
        let key = sample_key();
        let p = ProxyServiceData::private_node_identity(&key, RANDOM, addr(0x1201));
        let adv = h("14162818032c64a8cbca65bfe134ae608fbbc1f2c6");
        assert_eq!(classify_one(&adv), p);
        assert!(p.matches(&key, Some(addr(0x1201))));
        assert!(!p.matches(&key, Some(addr(0x0001))));
        assert!(!p.matches(&key, None));
        // A node identity hash is not a private node identity hash.
        let public = ProxyServiceData::node_identity(&key, RANDOM, addr(0x1201));
        assert_ne!(public.to_vec()[1..9], p.to_vec()[1..9]);
    }

    /// §8.5.1: Mesh Provisioning Service advertising service data, OOB "Number, Inside
    /// Manual" = 0x4020.
    #[test]
    fn sample_8_5_1_provisioning_service() {
        let adv = h("1516271870cf7c9732a345b691494810d2e9cbf42040");
        let s = AdStructure::parse(&adv).unwrap();
        let expected = ProvisioningServiceData {
            device_uuid: h("70cf7c9732a345b691494810d2e9cbf4").try_into().unwrap(),
            oob_information: 0x4020,
        };
        assert_eq!(
            s.borrowed().classify(),
            Ok(MeshAd::ProvisioningService(expected))
        );
        assert_eq!(
            AdStructure::service_data_16(MESH_PROVISIONING_SERVICE_UUID, &expected.to_vec())
                .to_vec(),
            adv
        );
    }

    #[test]
    fn complete_advertising_data() {
        let key = sample_key();
        let p = ProxyServiceData::node_identity(&key, RANDOM, addr(0x1201));
        // Hand-assembled: Flags 0x06, UUID list {0x1828}, the §8.6.2 service data.
        let expected = concat!(
            "020106",
            "03032818",
            "141628180100861765aefcc57b34ae608fbbc1f2c6"
        );
        let adv = p.advertising_data();
        assert_eq!(hex::encode(&adv), expected);
        assert!(adv.len() <= 31, "fits a legacy advertisement");
        let ads: Vec<_> = mesh_ads(&adv).collect::<Result<_>>().unwrap();
        assert_eq!(
            ads,
            [
                MeshAd::Other {
                    ad_type: AD_TYPE_FLAGS,
                    data: &[0x06]
                },
                MeshAd::Other {
                    ad_type: AD_TYPE_SERVICE_UUID16_COMPLETE,
                    data: &[0x28, 0x18]
                },
                MeshAd::ProxyService(p),
            ]
        );

        let prov = ProvisioningServiceData {
            device_uuid: h("70cf7c9732a345b691494810d2e9cbf4").try_into().unwrap(),
            oob_information: 0x4020,
        };
        let adv = prov.advertising_data();
        assert_eq!(
            hex::encode(&adv),
            concat!(
                "020106",
                "03032718",
                "1516271870cf7c9732a345b691494810d2e9cbf42040"
            )
        );
        assert!(adv.len() <= 31);
    }

    #[test]
    fn mesh_ad_types() {
        let data = h("0229aa" /* PB-ADV */)
            .into_iter()
            .chain(h("032a0102"))
            .chain(h("022b00"))
            .chain(h("03161018" /* other service, 0x1810 */))
            .chain(h("0116" /* service data without UUID */))
            .collect::<Vec<_>>();
        let ads: Vec<_> = mesh_ads(&data).collect::<Result<_>>().unwrap();
        assert_eq!(
            ads,
            [
                MeshAd::PbAdv(&[0xaa]),
                MeshAd::Message(&[1, 2]),
                MeshAd::Beacon(&[0]),
                MeshAd::Other {
                    ad_type: 0x16,
                    data: &[0x10, 0x18]
                },
                MeshAd::Other {
                    ad_type: 0x16,
                    data: &[]
                },
            ]
        );
        // Malformed mesh service data is an error.
        assert!(MeshAd::classify(0x16, &h("281804")).is_err());
        assert!(MeshAd::classify(0x16, &h("281800")).is_err());
        assert!(MeshAd::classify(0x16, &h("2718")).is_err());
    }

    #[test]
    fn iteration_padding_and_overrun() {
        // A zero length ends the data: the rest is padding.
        let d = h("02010600ffffff");
        let v: Vec<_> = AdStructures::new(&d).collect();
        assert_eq!(
            v,
            [Ok(AdRef {
                ad_type: 1,
                data: &[6]
            })]
        );
        // A length running past the end: one error item, then nothing.
        let d = h("0201060501aabb");
        let mut it = AdStructures::new(&d);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next(), Some(Err(Error::Truncated { need: 6, got: 4 })));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None);
        assert!(AdStructure::parse_all(&d).is_err());
        // Empty data and a lone type octet.
        assert_eq!(AdStructures::new(&[]).count(), 0);
        assert_eq!(
            AdStructures::new(&[1, 0x2b]).collect::<Vec<_>>(),
            [Ok(AdRef {
                ad_type: 0x2b,
                data: &[]
            })]
        );
    }

    #[test]
    fn ad_structure_edges() {
        assert_eq!(
            AdStructure::parse(&[]),
            Err(Error::Truncated { need: 2, got: 0 })
        );
        assert_eq!(
            AdStructure::parse(&[0, 1]),
            Err(Error::Invalid {
                field: "AD length",
                value: 0
            })
        );
        assert_eq!(
            AdStructure::parse(&[3, 1, 2]),
            Err(Error::Truncated { need: 4, got: 3 })
        );
        assert_eq!(
            AdStructure::parse(&[1, 1, 2]),
            Err(Error::TooLong { max: 2, got: 3 })
        );
        assert!(AdStructure::new(0x16, vec![0; 255]).is_err());
        let max = AdStructure::new(0x16, vec![7; 254]).unwrap();
        let bytes = max.to_vec();
        assert_eq!(bytes[0], 255);
        assert_eq!(AdStructure::parse(&bytes), Ok(max));
    }

    #[test]
    fn service_data_rejections() {
        for t in 0x04..=0xFFu8 {
            let mut d = vec![t];
            d.extend_from_slice(&[0; 16]);
            assert_eq!(
                ProxyServiceData::parse(&d),
                Err(Error::Invalid {
                    field: "identification type",
                    value: u32::from(t)
                })
            );
        }
        assert!(matches!(
            ProxyServiceData::parse(&[]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            ProxyServiceData::parse(&[0; 8]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            ProxyServiceData::parse(&[0; 10]),
            Err(Error::TooLong { .. })
        ));
        // Network ID length is not a node identity length, and vice versa.
        assert!(matches!(
            ProxyServiceData::parse(&[0; 17]),
            Err(Error::TooLong { .. })
        ));
        for t in 1..=3u8 {
            let mut d = vec![t; 9];
            assert!(matches!(
                ProxyServiceData::parse(&d),
                Err(Error::Truncated { .. })
            ));
            d.resize(18, 0);
            assert!(matches!(
                ProxyServiceData::parse(&d),
                Err(Error::TooLong { .. })
            ));
        }
        assert!(matches!(
            ProvisioningServiceData::parse(&[0; 17]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            ProvisioningServiceData::parse(&[0; 19]),
            Err(Error::TooLong { .. })
        ));
    }

    fn proxy_service_data() -> impl Strategy<Value = ProxyServiceData> {
        let pair = (any::<[u8; 8]>(), any::<[u8; 8]>());
        prop_oneof![
            any::<[u8; 8]>().prop_map(ProxyServiceData::NetworkId),
            pair.prop_map(|(hash, random)| ProxyServiceData::NodeIdentity { hash, random }),
            pair.prop_map(|(hash, random)| {
                ProxyServiceData::PrivateNetworkIdentity { hash, random }
            }),
            pair.prop_map(|(hash, random)| ProxyServiceData::PrivateNodeIdentity { hash, random }),
        ]
    }

    fn ad_structure() -> impl Strategy<Value = AdStructure> {
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..=MAX_AD_DATA_LEN),
        )
            .prop_map(|(ad_type, data)| AdStructure { ad_type, data })
    }

    proptest! {
        #[test]
        fn ad_structure_round_trip(s in ad_structure()) {
            prop_assert_eq!(AdStructure::parse(&s.to_vec()), Ok(s));
        }

        #[test]
        fn ad_structures_concatenated(v in proptest::collection::vec(ad_structure(), 0..6)) {
            let bytes = AdStructure::emit_all(&v);
            prop_assert_eq!(AdStructure::parse_all(&bytes), Ok(v));
        }

        #[test]
        fn proxy_service_data_round_trip(p in proxy_service_data()) {
            prop_assert_eq!(ProxyServiceData::parse(&p.to_vec()), Ok(p));
            let adv = p.advertising_data();
            let ads: Vec<_> = mesh_ads(&adv).collect::<Result<_>>().unwrap();
            prop_assert_eq!(ads.last(), Some(&MeshAd::ProxyService(p)));
        }

        #[test]
        fn provisioning_service_data_round_trip(
            device_uuid in any::<[u8; 16]>(),
            oob_information in any::<u16>(),
        ) {
            let p = ProvisioningServiceData { device_uuid, oob_information };
            prop_assert_eq!(ProvisioningServiceData::parse(&p.to_vec()), Ok(p));
        }

        #[test]
        fn identities_match_their_key(
            key in any::<[u8; 16]>(),
            random in any::<[u8; 8]>(),
            a in 1u16..=0x7fff,
        ) {
            let key = NetKey::new(key);
            let a = addr(a);
            prop_assert!(ProxyServiceData::network_id(&key).matches(&key, None));
            prop_assert!(ProxyServiceData::private_network_identity(&key, random).matches(&key, None));
            prop_assert!(ProxyServiceData::node_identity(&key, random, a).matches(&key, Some(a)));
            prop_assert!(
                ProxyServiceData::private_node_identity(&key, random, a).matches(&key, Some(a))
            );
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            fuzz_parse(&data);
        }
    }
}
