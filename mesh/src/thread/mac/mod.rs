//! IEEE 802.15.4-2015 MAC frames (§7.2): frame control, addressing, the auxiliary security
//! header (§9.4), header and payload information elements (§7.4) and the FCS (§7.2.10).
//!
//! A [`Frame`] is the MAC header and payload of a PSDU without its FCS; [`fcs`] checks and
//! appends the FCS separately, as radios usually strip it.
//!
//! Beside the frames, the MAC sublayer a Thread node needs from them: MAC command frames and
//! the Data Request ([`command`], §7.5), a parent's frames held for sleepy children
//! ([`indirect`], §6.7.3) and a sleepy child's poll timer ([`poll`]).

mod address;
pub mod command;
pub mod fcs;
mod frame;
mod ie;
pub mod indirect;
pub mod poll;
mod security_header;

pub use address::{
    Address, AddressMode, ExtAddress, ShortAddress, BROADCAST_PAN_ID, BROADCAST_SHORT,
};
pub use frame::{Body, Frame, FrameParts, FrameType, FrameVersion};
pub(crate) use ie::parse_payload_ies;
pub use ie::{HeaderIe, PayloadIe, HEADER_IE_MAX, HT1, HT2, PAYLOAD_IE_MAX, PAYLOAD_TERMINATION};
pub use security_header::{AuxSecurityHeader, KeyIdentifier, SecurityLevel};

#[cfg(test)]
pub(crate) use frame::tests::frame as frame_strategy;

/// Calls every parser of this module (and the unsecuring of `security`) on `data`; for the
/// fuzzer and the random-input tests.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    use crate::thread::security::{secure, unsecure, KeyManager};
    use crate::wire::Wire;
    let _ = fcs::check(data);
    let _ = AuxSecurityHeader::parse(data);
    let Ok(f) = Frame::parse(data) else { return };
    assert_eq!(f.to_vec(), data, "a parsed frame re-emits as received");
    let _ = command::command_id(&f);
    if let Ok(dr) = command::DataRequest::from_frame(&f) {
        assert_eq!(dr.src, f.src);
    }
    if f.security.is_some() {
        let src = match f.src {
            Address::Extended(e) => e,
            _ => ExtAddress([0; 8]),
        };
        let keys = KeyManager::new([0x42; 16], 0);
        if let Ok(open) = unsecure(&f, keys.current().mac(), src) {
            let again = secure(&open, keys.current().mac(), src).expect("an opened frame reseals");
            assert_eq!(again, f);
        }
        let _ = keys.clone().unsecure_mac(&f, src);
    }
}
