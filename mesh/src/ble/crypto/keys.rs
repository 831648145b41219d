//! Keys with their derived material, computed once when a key is installed (§3.9.6).

use super::{k1, k2, k3, k4, s1};
use crate::crypto::{Aes, AuthError, Ccm, Cmac, Key, MicLen};

/// One set of network-layer security credentials: NID, EncryptionKey and PrivacyKey, the
/// output of k2 (§3.9.6.3.1 flooding, §3.9.6.3.2 friendship), with both keys expanded.
#[derive(Clone, Debug)]
pub struct NetworkCredentials {
    pub nid: u8,
    pub encryption_key: Key,
    pub privacy_key: Key,
    encryption: Ccm,
    privacy: Aes,
}

impl NetworkCredentials {
    /// Credentials from a NetKey and the k2 parameter `p`.
    pub fn derive(net_key: &Key, p: &[u8]) -> Self {
        let d = k2(net_key, p);
        NetworkCredentials {
            nid: d.nid,
            encryption_key: d.encryption_key,
            privacy_key: d.privacy_key,
            encryption: Ccm::new(&d.encryption_key),
            privacy: Aes::new(&d.privacy_key),
        }
    }

    /// The PECB of network header obfuscation (§3.9.7.3):
    /// `e(PrivacyKey, 0x0000000000 || IV Index || Privacy Random)`, of which the first six
    /// octets are XORed with CTL/TTL, SEQ and SRC.
    pub fn pecb(&self, iv_index: u32, privacy_random: &[u8; 7]) -> [u8; 16] {
        let mut p = [0u8; 16];
        p[5..9].copy_from_slice(&iv_index.to_be_bytes());
        p[9..].copy_from_slice(privacy_random);
        self.privacy.encrypt_block(&p)
    }

    /// Obfuscates or deobfuscates (the operation is its own inverse) the six header octets
    /// CTL|TTL, SEQ, SRC (§3.9.7.3).
    pub fn obfuscate(&self, iv_index: u32, privacy_random: &[u8; 7], header: &mut [u8; 6]) {
        let pecb = self.pecb(iv_index, privacy_random);
        for (h, p) in header.iter_mut().zip(pecb) {
            *h ^= p;
        }
    }

    /// The expanded EncryptionKey, for the network nonce (§3.9.5.1).
    pub fn encryption(&self) -> &Ccm {
        &self.encryption
    }
}

/// A network key and everything derived from it (§3.9.6.3), computed once.
#[derive(Clone, Debug)]
pub struct NetKey {
    key: Key,
    /// Managed flooding credentials: k2(NetKey, 0x00) (§3.9.6.3.1).
    pub flooding: NetworkCredentials,
    /// Network ID: k3(NetKey) (§3.9.6.3.3).
    pub network_id: [u8; 8],
    /// IdentityKey: k1(NetKey, s1("nkik"), "id128" || 0x01) (§3.9.6.3.4).
    pub identity_key: Key,
    /// BeaconKey: k1(NetKey, s1("nkbk"), "id128" || 0x01) (§3.9.6.3.5).
    pub beacon_key: Key,
    /// PrivateBeaconKey: k1(NetKey, s1("nkpk"), "id128" || 0x01) (§3.9.6.3.6).
    pub private_beacon_key: Key,
    identity: Aes,
    beacon: Cmac,
    private_beacon: Ccm,
}

impl NetKey {
    pub fn new(key: Key) -> Self {
        let id128 = b"id128\x01";
        let identity_key = k1(&key, &s1(b"nkik"), id128);
        let beacon_key = k1(&key, &s1(b"nkbk"), id128);
        let private_beacon_key = k1(&key, &s1(b"nkpk"), id128);
        NetKey {
            key,
            flooding: NetworkCredentials::derive(&key, &[0x00]),
            network_id: k3(&key),
            identity_key,
            beacon_key,
            private_beacon_key,
            identity: Aes::new(&identity_key),
            beacon: Cmac::new(&beacon_key),
            private_beacon: Ccm::new(&private_beacon_key),
        }
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Friendship credentials (§3.9.6.3.2): k2(NetKey, 0x01 || LPNAddress || FriendAddress ||
    /// LPNCounter || FriendCounter).
    pub fn friendship(
        &self,
        lpn_address: u16,
        friend_address: u16,
        lpn_counter: u16,
        friend_counter: u16,
    ) -> NetworkCredentials {
        let mut p = [0u8; 9];
        p[0] = 0x01;
        p[1..3].copy_from_slice(&lpn_address.to_be_bytes());
        p[3..5].copy_from_slice(&friend_address.to_be_bytes());
        p[5..7].copy_from_slice(&lpn_counter.to_be_bytes());
        p[7..9].copy_from_slice(&friend_counter.to_be_bytes());
        NetworkCredentials::derive(&self.key, &p)
    }

    /// Secure Network beacon authentication value (§3.10.3):
    /// `AES-CMAC_BeaconKey(Flags || Network ID || IV Index)[0..8]`.
    pub fn secure_beacon_auth(&self, flags: u8, iv_index: u32) -> [u8; 8] {
        let m = self
            .beacon
            .mac(&[&[flags], &self.network_id, &iv_index.to_be_bytes()]);
        m[..8].try_into().expect("8 bytes")
    }

    /// Mesh Private beacon (§3.10.4): the obfuscated Flags || IV Index and the 8-octet
    /// authentication tag. The construction of §3.10.4.1 is AES-CCM under PrivateBeaconKey with
    /// the 13-octet Random as nonce, no additional data and a 64-bit tag.
    pub fn private_beacon_seal(
        &self,
        random: &[u8; 13],
        flags: u8,
        iv_index: u32,
    ) -> ([u8; 5], [u8; 8]) {
        let mut data = [0u8; 5];
        data[0] = flags;
        data[1..].copy_from_slice(&iv_index.to_be_bytes());
        let (tag, _) = self
            .private_beacon
            .encrypt_in_place(random, &[], &mut data, MicLen::Mic64);
        (data, tag)
    }

    /// Opens a Mesh Private beacon: returns (Flags, IV Index) when the tag authenticates.
    pub fn private_beacon_open(
        &self,
        random: &[u8; 13],
        obfuscated: &[u8; 5],
        tag: &[u8; 8],
    ) -> Result<(u8, u32), AuthError> {
        let mut data = *obfuscated;
        self.private_beacon
            .decrypt_in_place(random, &[], &mut data, tag)?;
        Ok((
            data[0],
            u32::from_be_bytes([data[1], data[2], data[3], data[4]]),
        ))
    }

    /// Node Identity hash (§7.2.2.2.3): `e(IdentityKey, Padding || Random || Address) mod 2^64`
    /// with Padding = 6 octets of 0x00.
    pub fn node_identity_hash(&self, random: &[u8; 8], address: u16) -> [u8; 8] {
        self.identity_hash(0x00, random, address)
    }

    /// Private Node Identity hash (§7.2.2.2.5, Mesh 1.1):
    /// `e(IdentityKey, Padding || 0x03 || Random || Address) mod 2^64`, Padding = 5 octets 0x00.
    pub fn private_node_identity_hash(&self, random: &[u8; 8], address: u16) -> [u8; 8] {
        self.identity_hash(0x03, random, address)
    }

    fn identity_hash(&self, tag: u8, random: &[u8; 8], address: u16) -> [u8; 8] {
        let mut b = [0u8; 16];
        b[5] = tag;
        b[6..14].copy_from_slice(random);
        b[14..].copy_from_slice(&address.to_be_bytes());
        let e = self.identity.encrypt_block(&b);
        e[8..].try_into().expect("8 bytes")
    }

    /// Private Network Identity hash (§7.2.2.2.4, Mesh 1.1):
    /// `e(IdentityKey, Network ID || Random) mod 2^64`.
    pub fn private_network_identity_hash(&self, random: &[u8; 8]) -> [u8; 8] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.network_id);
        b[8..].copy_from_slice(random);
        let e = self.identity.encrypt_block(&b);
        e[8..].try_into().expect("8 bytes")
    }
}

/// An application key: AID = k4(AppKey) (§3.9.6.4), with its expanded CCM key.
#[derive(Clone, Debug)]
pub struct AppKey {
    key: Key,
    pub aid: u8,
    ccm: Ccm,
}

impl AppKey {
    pub fn new(key: Key) -> Self {
        AppKey {
            key,
            aid: k4(&key),
            ccm: Ccm::new(&key),
        }
    }
    pub fn key(&self) -> &Key {
        &self.key
    }
    pub fn ccm(&self) -> &Ccm {
        &self.ccm
    }
}

/// A device key (§3.9.6.2), with its expanded CCM key.
#[derive(Clone, Debug)]
pub struct DevKey {
    key: Key,
    ccm: Ccm,
}

impl DevKey {
    pub fn new(key: Key) -> Self {
        DevKey {
            key,
            ccm: Ccm::new(&key),
        }
    }
    pub fn key(&self) -> &Key {
        &self.key
    }
    pub fn ccm(&self) -> &Ccm {
        &self.ccm
    }
}

/// The nonces of §3.9.5: network (0x00), application (0x01), device (0x02), proxy (0x03).
pub mod nonce {
    /// Network nonce (§3.9.5.1): 0x00 || CTL|TTL || SEQ || SRC || 0x0000 || IV Index.
    pub fn network(ctl_ttl: u8, seq: [u8; 3], src: u16, iv_index: u32) -> [u8; 13] {
        build(0x00, ctl_ttl, seq, src, 0x0000, iv_index)
    }
    /// Application nonce (§3.9.5.2): 0x01 || ASZMIC<<7 || SEQ || SRC || DST || IV Index.
    pub fn application(aszmic: bool, seq: [u8; 3], src: u16, dst: u16, iv_index: u32) -> [u8; 13] {
        build(0x01, u8::from(aszmic) << 7, seq, src, dst, iv_index)
    }
    /// Device nonce (§3.9.5.3): 0x02 || ASZMIC<<7 || SEQ || SRC || DST || IV Index.
    pub fn device(aszmic: bool, seq: [u8; 3], src: u16, dst: u16, iv_index: u32) -> [u8; 13] {
        build(0x02, u8::from(aszmic) << 7, seq, src, dst, iv_index)
    }
    /// Proxy nonce (§3.9.5.4): 0x03 || 0x00 || SEQ || SRC || 0x0000 || IV Index.
    pub fn proxy(seq: [u8; 3], src: u16, iv_index: u32) -> [u8; 13] {
        build(0x03, 0x00, seq, src, 0x0000, iv_index)
    }

    fn build(kind: u8, b1: u8, seq: [u8; 3], src: u16, dst: u16, iv_index: u32) -> [u8; 13] {
        let mut n = [0u8; 13];
        n[0] = kind;
        n[1] = b1;
        n[2..5].copy_from_slice(&seq);
        n[5..7].copy_from_slice(&src.to_be_bytes());
        n[7..9].copy_from_slice(&dst.to_be_bytes());
        n[9..].copy_from_slice(&iv_index.to_be_bytes());
        n
    }
}
