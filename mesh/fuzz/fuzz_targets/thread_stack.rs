#![no_main]
//! The Thread node (`weft_mesh::thread::stack`) on arbitrary received bytes: raw MAC frames,
//! MLE TLVs sealed with the right key, 6LoWPAN payloads in frames secured with the right
//! key, and TMF payloads (Address Query, Notification, Error, Solicit; unicast or under an
//! MPL Option to ff03::2) reach a leader and an attaching node, which count and drop what they cannot use and
//! never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| weft_mesh::thread::stack::fuzz_receive(data));
