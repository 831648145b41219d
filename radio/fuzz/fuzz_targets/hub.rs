#![no_main]
//! The live simulated air's socket protocol: any byte stream read as length-prefixed frames
//! (`read_msg`, as the hub and `HubRadio` read their peers), and any frame body decoded as a
//! postcard `HubMsg`, never panic, and a message that decodes encodes back to itself.
use std::future::Future;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use weft_radio::hub::{read_msg, HubMsg};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = postcard::from_bytes::<HubMsg>(data) {
        let again = postcard::to_allocvec(&m).expect("a decoded message encodes");
        assert_eq!(postcard::from_bytes::<HubMsg>(&again).ok(), Some(m));
    }
    // A byte slice never makes a read wait, so one poll finishes each frame.
    let mut stream = data;
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        let read = std::pin::pin!(read_msg(&mut stream));
        match read.poll(&mut cx) {
            Poll::Ready(Ok(Some(_))) => continue,
            Poll::Ready(Ok(None)) | Poll::Ready(Err(_)) | Poll::Pending => break,
        }
    }
});
