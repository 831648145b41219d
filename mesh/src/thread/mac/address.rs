//! IEEE 802.15.4 addresses (§7.2.1.7, §7.2.2.4-7.2.2.7): short (16-bit) and extended (64-bit)
//! addresses, both little endian on the air.

use core::fmt;

/// The broadcast short address (§7.2.2.4, macShortAddress 0xffff).
pub const BROADCAST_SHORT: u16 = 0xffff;
/// The broadcast PAN ID (§7.2.2.3).
pub const BROADCAST_PAN_ID: u16 = 0xffff;

/// A 16-bit short address.
pub type ShortAddress = u16;

/// A 64-bit extended address, held in the order it is written (most significant octet first,
/// as in `acde480000000001`); on the air it is sent least significant octet first (§7.2.2.7).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExtAddress(pub [u8; 8]);

impl ExtAddress {
    /// From the eight octets as they appear on the air (reversed).
    pub fn from_air(b: &[u8; 8]) -> Self {
        let mut a = *b;
        a.reverse();
        ExtAddress(a)
    }
    /// The eight octets in air order.
    pub fn to_air(self) -> [u8; 8] {
        let mut a = self.0;
        a.reverse();
        a
    }
}

impl fmt::Debug for ExtAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The Destination/Source Addressing Mode fields (§7.2.1.6, §7.2.1.8; table 7-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressMode {
    /// 0b00: the PAN ID and address fields are not present.
    None,
    /// 0b10: a 16-bit short address.
    Short,
    /// 0b11: a 64-bit extended address.
    Extended,
}

impl AddressMode {
    /// From the two-bit field; 0b01 is reserved (§7.2.1.6).
    pub fn from_bits(b: u16) -> Option<Self> {
        match b & 3 {
            0 => Some(AddressMode::None),
            2 => Some(AddressMode::Short),
            3 => Some(AddressMode::Extended),
            _ => None,
        }
    }
    pub const fn bits(self) -> u16 {
        match self {
            AddressMode::None => 0,
            AddressMode::Short => 2,
            AddressMode::Extended => 3,
        }
    }
    /// Octets the address occupies.
    pub const fn size(self) -> usize {
        match self {
            AddressMode::None => 0,
            AddressMode::Short => 2,
            AddressMode::Extended => 8,
        }
    }
    pub const fn is_none(self) -> bool {
        matches!(self, AddressMode::None)
    }
}

/// A destination or source address of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Address {
    None,
    Short(ShortAddress),
    Extended(ExtAddress),
}

impl Address {
    pub const fn mode(&self) -> AddressMode {
        match self {
            Address::None => AddressMode::None,
            Address::Short(_) => AddressMode::Short,
            Address::Extended(_) => AddressMode::Extended,
        }
    }
    /// Reads an address of `mode` from `b` (which holds at least `mode.size()` octets).
    pub(crate) fn read(mode: AddressMode, b: &[u8]) -> Self {
        match mode {
            AddressMode::None => Address::None,
            AddressMode::Short => Address::Short(u16::from_le_bytes([b[0], b[1]])),
            AddressMode::Extended => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[..8]);
                Address::Extended(ExtAddress::from_air(&a))
            }
        }
    }
    /// Writes the address in air order into `b[..self.mode().size()]`.
    pub(crate) fn write(&self, b: &mut [u8]) {
        match self {
            Address::None => {}
            Address::Short(s) => b[..2].copy_from_slice(&s.to_le_bytes()),
            Address::Extended(e) => b[..8].copy_from_slice(&e.to_air()),
        }
    }
}
