//! Addresses and counters of the network layer, as validated newtypes.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A 16-bit mesh address of any kind (Mesh Protocol 1.1 §3.4.2).
///
/// | range            | kind                     |
/// |------------------|--------------------------|
/// | 0x0000           | unassigned (§3.4.2.1)    |
/// | 0x0001..=0x7FFF  | unicast (§3.4.2.2)       |
/// | 0x8000..=0xBFFF  | virtual (§3.4.2.3)       |
/// | 0xC000..=0xFFFF  | group (§3.4.2.4), with the fixed groups at 0xFF00..      |
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address(pub u16);

impl Address {
    /// §3.4.2.1
    pub const UNASSIGNED: Address = Address(0x0000);
    /// All-proxies fixed group address (§3.4.2.4).
    pub const ALL_PROXIES: Address = Address(0xFFFC);
    /// All-friends fixed group address (§3.4.2.4).
    pub const ALL_FRIENDS: Address = Address(0xFFFD);
    /// All-relays fixed group address (§3.4.2.4).
    pub const ALL_RELAYS: Address = Address(0xFFFE);
    /// All-nodes fixed group address (§3.4.2.4).
    pub const ALL_NODES: Address = Address(0xFFFF);

    pub const fn is_unassigned(self) -> bool {
        self.0 == 0
    }
    pub const fn is_unicast(self) -> bool {
        self.0 != 0 && self.0 & 0x8000 == 0
    }
    pub const fn is_virtual(self) -> bool {
        self.0 & 0xC000 == 0x8000
    }
    pub const fn is_group(self) -> bool {
        self.0 & 0xC000 == 0xC000
    }
    /// Group or virtual: a destination many nodes may subscribe to.
    pub const fn is_multicast(self) -> bool {
        self.0 & 0x8000 != 0
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({:04x})", self.0)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}", self.0)
    }
}

impl From<UnicastAddress> for Address {
    fn from(a: UnicastAddress) -> Self {
        Address(a.0)
    }
}

/// A unicast address, 0x0001..=0x7FFF (§3.4.2.2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct UnicastAddress(u16);

impl UnicastAddress {
    pub const fn new(v: u16) -> Option<Self> {
        if Address(v).is_unicast() {
            Some(UnicastAddress(v))
        } else {
            None
        }
    }
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for UnicastAddress {
    type Error = String;
    fn try_from(v: u16) -> Result<Self, String> {
        UnicastAddress::new(v)
            .ok_or_else(|| format!("{v:04x} is not a unicast address (0001..7fff)"))
    }
}

impl From<UnicastAddress> for u16 {
    fn from(a: UnicastAddress) -> u16 {
        a.0
    }
}

impl fmt::Debug for UnicastAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnicastAddress({:04x})", self.0)
    }
}

impl fmt::Display for UnicastAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}", self.0)
    }
}

/// The 32-bit IV Index (§3.8.4). Its least significant bit is the IVI field of a network PDU.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct IvIndex(pub u32);

impl IvIndex {
    /// The IVI bit carried in every network PDU (§3.4.4.3).
    pub const fn ivi(self) -> u8 {
        (self.0 & 1) as u8
    }

    /// The IV Index a receiver uses for a PDU whose IVI bit is `ivi` (§3.4.4.3): the current
    /// one if the bits match, else the previous one.
    pub const fn for_rx(self, ivi: u8) -> IvIndex {
        if self.ivi() == ivi & 1 {
            self
        } else {
            IvIndex(self.0.wrapping_sub(1))
        }
    }
}

impl fmt::Display for IvIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// A 24-bit sequence number (§3.4.4.5).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Seq(u32);

impl Seq {
    /// The largest sequence number, 2^24 - 1.
    pub const MAX: u32 = 0x00FF_FFFF;

    pub const fn new(v: u32) -> Option<Self> {
        if v <= Self::MAX {
            Some(Seq(v))
        } else {
            None
        }
    }
    /// The low 24 bits of `v`.
    pub const fn truncate(v: u32) -> Self {
        Seq(v & Self::MAX)
    }
    pub const fn get(self) -> u32 {
        self.0
    }
    pub const fn to_be_bytes(self) -> [u8; 3] {
        let b = self.0.to_be_bytes();
        [b[1], b[2], b[3]]
    }
    pub const fn from_be_bytes(b: [u8; 3]) -> Self {
        Seq(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
}

impl TryFrom<u32> for Seq {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        Seq::new(v).ok_or_else(|| format!("sequence number {v:#x} exceeds 24 bits"))
    }
}

impl From<Seq> for u32 {
    fn from(s: Seq) -> u32 {
        s.0
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_kinds() {
        assert!(Address(0).is_unassigned());
        assert!(Address(1).is_unicast() && Address(0x7fff).is_unicast());
        assert!(Address(0x8000).is_virtual() && Address(0xbfff).is_virtual());
        assert!(Address(0xc000).is_group() && Address::ALL_NODES.is_group());
        assert!(UnicastAddress::new(0x8000).is_none());
        assert!(UnicastAddress::new(0).is_none());
    }

    #[test]
    fn iv_index_rx() {
        let iv = IvIndex(0x12345678);
        assert_eq!(iv.for_rx(0), iv);
        assert_eq!(iv.for_rx(1), IvIndex(0x12345677));
    }

    #[test]
    fn seq_bytes() {
        let s = Seq::new(0x3129ab).unwrap();
        assert_eq!(s.to_be_bytes(), [0x31, 0x29, 0xab]);
        assert_eq!(Seq::from_be_bytes([0x31, 0x29, 0xab]), s);
        assert!(Seq::new(0x0100_0000).is_none());
    }
}
