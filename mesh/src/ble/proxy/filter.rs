//! The proxy filter (Mesh Protocol 1.1 §6.7): which destination addresses a Proxy Server
//! forwards to one Proxy Client. Each connection has one, an accept list with no address when
//! the connection is made; the client changes it with the messages of §6.6 and the server
//! learns the unicast sources of what the client sends.

use crate::ble::address::Address;
use crate::ble::wire::proxy::{FilterType, ProxyConfigMessage};

/// The most addresses one filter holds (the specification leaves the size to the
/// implementation; Zephyr's default, `CONFIG_BT_MESH_PROXY_FILTER_SIZE`, is 16). Addresses
/// past it are not added, and the Filter Status tells the client how many are in.
pub const MAX_FILTER_ADDRESSES: usize = 32;

/// One connection's proxy filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyFilter {
    filter_type: FilterType,
    addresses: Vec<Address>,
}

impl Default for ProxyFilter {
    /// The filter of a new connection: an empty accept list (§6.7), which forwards nothing.
    fn default() -> Self {
        ProxyFilter {
            filter_type: FilterType::AcceptList,
            addresses: Vec::new(),
        }
    }
}

impl ProxyFilter {
    /// The filter type.
    pub fn filter_type(&self) -> FilterType {
        self.filter_type
    }

    /// The addresses in the list.
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// Whether a PDU to `dst` goes to the client: on the accept list, or not on the reject
    /// list.
    pub fn allows(&self, dst: Address) -> bool {
        let listed = self.addresses.contains(&dst);
        match self.filter_type {
            FilterType::AcceptList => listed,
            FilterType::RejectList => !listed,
        }
    }

    /// Set Filter Type (§6.6.1): the list is cleared and the type set.
    pub fn set_type(&mut self, filter_type: FilterType) {
        self.filter_type = filter_type;
        self.addresses.clear();
    }

    /// Adds `addr` unless it is the unassigned address or already there. Returns false when
    /// the list is full and `addr` was left out.
    pub fn add(&mut self, addr: Address) -> bool {
        if addr.is_unassigned() || self.addresses.contains(&addr) {
            return true;
        }
        if self.addresses.len() >= MAX_FILTER_ADDRESSES {
            return false;
        }
        self.addresses.push(addr);
        true
    }

    /// Removes `addr` if it is there.
    pub fn remove(&mut self, addr: Address) {
        self.addresses.retain(|a| *a != addr);
    }

    /// A Network PDU from the client with source `src` authenticated (§6.7): an accept list
    /// adds the source, a reject list removes it, so that answers to the client reach it.
    /// Returns false when an accept list was full.
    pub fn learn_source(&mut self, src: Address) -> bool {
        if !src.is_unicast() {
            return true;
        }
        match self.filter_type {
            FilterType::AcceptList => self.add(src),
            FilterType::RejectList => {
                self.remove(src);
                true
            }
        }
    }

    /// Applies a proxy configuration message from the client (§6.6.1..=§6.6.3) and returns
    /// the Filter Status to send back (§6.6.4), with the number of addresses it left out for
    /// want of room. Other messages change nothing and get no answer (`None`).
    pub fn apply(&mut self, msg: &ProxyConfigMessage) -> Option<(ProxyConfigMessage, usize)> {
        let mut refused = 0;
        match msg {
            ProxyConfigMessage::SetFilterType(t) => self.set_type(*t),
            ProxyConfigMessage::AddAddresses(a) => {
                for addr in a {
                    if !self.add(*addr) {
                        refused += 1;
                    }
                }
            }
            ProxyConfigMessage::RemoveAddresses(a) => {
                for addr in a {
                    self.remove(*addr);
                }
            }
            _ => return None,
        }
        Some((self.status(), refused))
    }

    /// The Filter Status message (§6.6.4): the type and the list size.
    pub fn status(&self) -> ProxyConfigMessage {
        ProxyConfigMessage::FilterStatus {
            filter_type: self.filter_type,
            // At most MAX_FILTER_ADDRESSES.
            list_size: self.addresses.len() as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_connection_forwards_nothing() {
        let f = ProxyFilter::default();
        assert_eq!(f.filter_type(), FilterType::AcceptList);
        for a in [0x0001u16, 0xc000, 0xfffc, 0xffff] {
            assert!(!f.allows(Address(a)));
        }
    }

    #[test]
    fn accept_and_reject_lists() {
        let mut f = ProxyFilter::default();
        let st = f.apply(&ProxyConfigMessage::AddAddresses(vec![
            Address(0x0102),
            Address(0xc001),
            Address(0x0102),
            Address::UNASSIGNED,
        ]));
        assert_eq!(
            st,
            Some((
                ProxyConfigMessage::FilterStatus {
                    filter_type: FilterType::AcceptList,
                    list_size: 2
                },
                0
            ))
        );
        assert!(f.allows(Address(0x0102)) && f.allows(Address(0xc001)));
        assert!(!f.allows(Address(0x0103)));
        f.apply(&ProxyConfigMessage::RemoveAddresses(vec![Address(0x0102)]));
        assert!(!f.allows(Address(0x0102)));
        // Setting the type clears the list.
        f.apply(&ProxyConfigMessage::SetFilterType(FilterType::RejectList));
        assert!(f.addresses().is_empty());
        assert!(f.allows(Address(0xc001)));
        f.apply(&ProxyConfigMessage::AddAddresses(vec![Address(0xc001)]));
        assert!(!f.allows(Address(0xc001)));
        // A Filter Status from the client changes nothing and is not answered.
        assert_eq!(f.apply(&f.status()), None);
    }

    #[test]
    fn learns_sources() {
        let mut f = ProxyFilter::default();
        f.learn_source(Address(0x0042));
        f.learn_source(Address(0xc000)); // not unicast: ignored
        assert_eq!(f.addresses(), [Address(0x0042)]);
        f.set_type(FilterType::RejectList);
        f.add(Address(0x0042));
        f.learn_source(Address(0x0042));
        assert!(f.allows(Address(0x0042)));
    }

    #[test]
    fn bounded() {
        let mut f = ProxyFilter::default();
        let many: Vec<Address> = (1..=40).map(Address).collect();
        let (st, refused) = f
            .apply(&ProxyConfigMessage::AddAddresses(many))
            .expect("answered");
        assert_eq!(refused, 40 - MAX_FILTER_ADDRESSES);
        assert_eq!(
            st,
            ProxyConfigMessage::FilterStatus {
                filter_type: FilterType::AcceptList,
                list_size: MAX_FILTER_ADDRESSES as u16
            }
        );
        assert!(!f.learn_source(Address(0x0100)));
    }
}
