//! A Thread node's IPv6 addresses (Thread 1.3 §5.2): the link-local address from the
//! extended address (RFC 4944 §6, RFC 4291 appendix A), the mesh-local RLOC
//! `ML-prefix:0000:00ff:fe00:RLOC16` and ALOCs `…:fe00:fcXX` (§5.2.1.1, §5.2.1.2), the
//! ML-EID with a random interface identifier (§5.2.1.3), and the multicast groups a node
//! listens to.

use std::net::Ipv6Addr;

use rand_core::RngCore;

use crate::thread::mac::ExtAddress;

/// The Leader ALOC16 (Thread 1.3 §5.2.1.2, table 5-7).
pub const LEADER_ALOC16: u16 = 0xfc00;
/// The locator IID's fixed middle `0000:00ff:fe00` (RFC 4944 §6, Thread 1.3 §5.2.1.1).
pub const LOCATOR_IID_PREFIX: [u8; 6] = [0, 0, 0, 0xff, 0xfe, 0];

/// All nodes, link-local scope (RFC 4291 §2.7.1).
pub const LINK_LOCAL_ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All routers, link-local scope (RFC 4291 §2.7.1).
pub const LINK_LOCAL_ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All nodes, realm-local scope (RFC 7346 §3: scope 3; Thread's mesh).
pub const REALM_LOCAL_ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff03, 0, 0, 0, 0, 0, 0, 1);
/// All routers, realm-local scope.
pub const REALM_LOCAL_ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff03, 0, 0, 0, 0, 0, 0, 2);
/// All MPL forwarders, realm-local scope (RFC 7731 §4.1: ff03::fc).
pub const REALM_LOCAL_ALL_MPL_FORWARDERS: Ipv6Addr = Ipv6Addr::new(0xff03, 0, 0, 0, 0, 0, 0, 0xfc);

/// `prefix` (64 bits) followed by `iid`.
pub fn with_iid(prefix: [u8; 8], iid: [u8; 8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&prefix);
    a[8..].copy_from_slice(&iid);
    Ipv6Addr::from(a)
}

/// The IID of a locator (RLOC or ALOC) 16-bit address: `0000:00ff:fe00:XXXX`.
pub fn locator_iid(rloc16: u16) -> [u8; 8] {
    let mut i = [0u8; 8];
    i[..6].copy_from_slice(&LOCATOR_IID_PREFIX);
    i[6..].copy_from_slice(&rloc16.to_be_bytes());
    i
}

/// fe80::/64 with the IID of the extended address, its U/L bit inverted (RFC 4944 §6).
pub fn link_local(ext: ExtAddress) -> Ipv6Addr {
    let mut iid = ext.0;
    iid[0] ^= 0x02;
    with_iid([0xfe, 0x80, 0, 0, 0, 0, 0, 0], iid)
}

/// The RLOC of `rloc16` under the mesh-local prefix (Thread 1.3 §5.2.1.1).
pub fn rloc(ml_prefix: [u8; 8], rloc16: u16) -> Ipv6Addr {
    with_iid(ml_prefix, locator_iid(rloc16))
}

/// The ALOC of `aloc16` (0xfc00-0xfcff) under the mesh-local prefix (Thread 1.3 §5.2.1.2).
pub fn aloc(ml_prefix: [u8; 8], aloc16: u16) -> Ipv6Addr {
    rloc(ml_prefix, aloc16)
}

/// The locator 16-bit address of a locator-form address (RLOC or ALOC), when it is one.
pub fn locator16(ip: &Ipv6Addr) -> Option<u16> {
    let o = ip.octets();
    (o[8..14] == LOCATOR_IID_PREFIX).then(|| u16::from_be_bytes([o[14], o[15]]))
}

/// Whether `iid` may not be used as an ML-EID: the locator form (Thread 1.3 §5.2.1.1), the
/// Subnet-Router anycast IID of zeros (RFC 4291 §2.6.1), and the reserved subnet anycast IIDs
/// `fdff:ffff:ffff:ff80` to `…:ffff` (RFC 5453 §3, RFC 2526 §2).
pub fn is_reserved_iid(iid: &[u8; 8]) -> bool {
    iid[..6] == LOCATOR_IID_PREFIX
        || iid == &[0; 8]
        || (iid[..7] == [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] && iid[7] >= 0x80)
}

/// A random ML-EID interface identifier (Thread 1.3 §5.2.1.3), never a reserved one.
pub fn random_iid(rng: &mut impl RngCore) -> [u8; 8] {
    loop {
        let mut iid = [0u8; 8];
        rng.fill_bytes(&mut iid);
        if !is_reserved_iid(&iid) {
            return iid;
        }
    }
}

/// The Link-Local (scope 2) or Realm-Local (scope 3) All Thread Nodes multicast address: the
/// unicast-prefix-based form `ff3s:0040:<ML prefix>:0000:0001` (RFC 3306 §4, plen 64; Thread
/// 1.3 §5.2.2).
pub fn all_thread_nodes(scope: u8, ml_prefix: [u8; 8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[0] = 0xff;
    a[1] = 0x30 | (scope & 0x0f);
    a[3] = 64;
    a[4..12].copy_from_slice(&ml_prefix);
    a[15] = 1;
    Ipv6Addr::from(a)
}

/// A node's addresses (Thread 1.3 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddresses {
    pub ml_prefix: [u8; 8],
    pub ext: ExtAddress,
    pub ml_eid_iid: [u8; 8],
    /// The RLOC16 once attached.
    pub rloc16: Option<u16>,
    /// Whether the node is a router or leader (listens to the all-routers groups).
    pub router: bool,
    /// Whether the node is the leader (answers the Leader ALOC).
    pub leader: bool,
}

impl NodeAddresses {
    pub fn new(ml_prefix: [u8; 8], ext: ExtAddress, ml_eid_iid: [u8; 8]) -> Self {
        NodeAddresses {
            ml_prefix,
            ext,
            ml_eid_iid,
            rloc16: None,
            router: false,
            leader: false,
        }
    }

    pub fn link_local(&self) -> Ipv6Addr {
        link_local(self.ext)
    }

    pub fn ml_eid(&self) -> Ipv6Addr {
        with_iid(self.ml_prefix, self.ml_eid_iid)
    }

    pub fn rloc(&self) -> Option<Ipv6Addr> {
        self.rloc16.map(|r| rloc(self.ml_prefix, r))
    }

    /// The unicast addresses, link-local first.
    pub fn unicast(&self) -> Vec<Ipv6Addr> {
        let mut v = vec![self.link_local(), self.ml_eid()];
        v.extend(self.rloc());
        if self.leader {
            v.push(aloc(self.ml_prefix, LEADER_ALOC16));
        }
        v
    }

    /// The multicast groups the node listens to.
    pub fn multicast(&self) -> Vec<Ipv6Addr> {
        let mut v = vec![
            LINK_LOCAL_ALL_NODES,
            REALM_LOCAL_ALL_NODES,
            all_thread_nodes(2, self.ml_prefix),
            all_thread_nodes(3, self.ml_prefix),
        ];
        if self.router {
            v.extend([
                LINK_LOCAL_ALL_ROUTERS,
                REALM_LOCAL_ALL_ROUTERS,
                REALM_LOCAL_ALL_MPL_FORWARDERS,
            ]);
        }
        v
    }

    /// Whether a datagram to `dst` is for this node.
    pub fn accepts(&self, dst: &Ipv6Addr) -> bool {
        if dst.is_multicast() {
            self.multicast().contains(dst)
        } else {
            self.unicast().contains(dst)
        }
    }

    /// The source to use towards `dst` (RFC 6724 §5, reduced to Thread's cases): link-local
    /// for a link-local or link-scope multicast destination, the RLOC for a locator
    /// destination when the node has one, the ML-EID otherwise.
    pub fn source_for(&self, dst: &Ipv6Addr) -> Ipv6Addr {
        let o = dst.octets();
        let link_scope =
            (o[0] == 0xfe && o[1] & 0xc0 == 0x80) || (o[0] == 0xff && o[1] & 0x0f == 2);
        if link_scope {
            return self.link_local();
        }
        match (locator16(dst), self.rloc()) {
            (Some(_), Some(r)) if o[..8] == self.ml_prefix => r,
            _ => self.ml_eid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::test_rng::SplitMix;

    const ML: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0, 0];

    #[test]
    fn forms() {
        let ext = ExtAddress([0x16, 0x6e, 0x0a, 0, 0, 0, 0, 1]);
        assert_eq!(
            link_local(ext),
            "fe80::146e:a00:0:1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            rloc(ML, 0x0400),
            "fdde:ad00:beef:0:0:ff:fe00:400"
                .parse::<Ipv6Addr>()
                .unwrap()
        );
        assert_eq!(
            aloc(ML, LEADER_ALOC16),
            "fdde:ad00:beef:0:0:ff:fe00:fc00"
                .parse::<Ipv6Addr>()
                .unwrap()
        );
        assert_eq!(locator16(&rloc(ML, 0x1234)), Some(0x1234));
        assert_eq!(locator16(&link_local(ext)), None);
        assert_eq!(
            all_thread_nodes(3, ML),
            "ff33:40:fdde:ad00:beef:0:0:1".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn random_iids_are_never_reserved() {
        assert!(is_reserved_iid(&locator_iid(5)));
        assert!(is_reserved_iid(&[0; 8]));
        assert!(is_reserved_iid(&[
            0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80
        ]));
        assert!(!is_reserved_iid(&[
            0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
        ]));
        let mut r = SplitMix(3);
        let a = random_iid(&mut r);
        let b = random_iid(&mut r);
        assert_ne!(a, b);
        assert!(!is_reserved_iid(&a));
    }

    #[test]
    fn node_addresses_accept_and_choose_sources() {
        let ext = ExtAddress([1, 2, 3, 4, 5, 6, 7, 8]);
        let mut n = NodeAddresses::new(ML, ext, [9; 8]);
        assert!(n.accepts(&n.ml_eid()) && n.accepts(&n.link_local()));
        assert!(!n.accepts(&rloc(ML, 0x0400)));
        assert!(!n.accepts(&LINK_LOCAL_ALL_ROUTERS));
        n.rloc16 = Some(0x0400);
        n.router = true;
        assert!(n.accepts(&rloc(ML, 0x0400)) && n.accepts(&LINK_LOCAL_ALL_ROUTERS));
        assert!(!n.accepts(&aloc(ML, LEADER_ALOC16)));
        n.leader = true;
        assert!(n.accepts(&aloc(ML, LEADER_ALOC16)));
        assert_eq!(n.source_for(&LINK_LOCAL_ALL_NODES), n.link_local());
        assert_eq!(
            n.source_for(&link_local(ExtAddress([0; 8]))),
            n.link_local()
        );
        assert_eq!(n.source_for(&rloc(ML, 0x0800)), rloc(ML, 0x0400));
        assert_eq!(n.source_for(&with_iid(ML, [7; 8])), n.ml_eid());
        assert_eq!(n.source_for(&REALM_LOCAL_ALL_NODES), n.ml_eid());
    }
}
