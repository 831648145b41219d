#![no_main]
//! The network store file (`weft::store`): never panics on any file, and what opens writes
//! back to a store that opens the same. The key is fixed, so the fuzzer also reaches what
//! the authenticated encryption guards: the postcard encoding of the state and the CDB JSON
//! inside it. The first octet says what the rest is:
//!
//! - 0: a whole store file, opened with the key (the header, cut files, tags that fail);
//! - 1, 2, 3: the plaintext of a format 3, 2 or 1 store, sealed with the key first;
//! - 4: CDB JSON text, put where a format 2 state holds its CDB, sealed with the key first.
use libfuzzer_sys::fuzz_target;
use weft::store::{open_sealed, parse_header, seal_with_key, OpenError, FORMAT_VERSION};

const KEY: [u8; 32] = [0x5a; 32];
const NONCE: [u8; 12] = [0x11; 12];

/// Seals `plain` as format `version` and opens it: it authenticates, so it opens or its
/// contents are reported as not decoding; what opens saves and opens again the same.
fn seal_and_open(version: u8, plain: &[u8]) {
    let file = seal_with_key(version, plain, &KEY, NONCE);
    match open_sealed(&file, &KEY) {
        Ok(state) => {
            let again = postcard::to_stdvec(&state).expect("a state encodes");
            let reopened = open_sealed(&seal_with_key(FORMAT_VERSION, &again, &KEY, NONCE), &KEY)
                .expect("what opens saves and opens again");
            assert_eq!(reopened, state);
        }
        Err(OpenError::Corrupt(_)) => {}
        Err(OpenError::Unlock) => panic!("sealed with the key, it must authenticate"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => {
            let _ = parse_header(rest);
            let _ = open_sealed(rest, &KEY);
        }
        1 => seal_and_open(FORMAT_VERSION, rest),
        2 => seal_and_open(2, rest),
        3 => seal_and_open(1, rest),
        _ => {
            // postcard: the CDB as a string (LEB128 length, then the text), then IV index 0,
            // no IV Update, no local node, no replay protection list.
            let mut plain = Vec::with_capacity(rest.len() + 8);
            let mut n = rest.len();
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    plain.push(b);
                    break;
                }
                plain.push(b | 0x80);
            }
            plain.extend_from_slice(rest);
            plain.extend_from_slice(&[0, 0, 0, 0]);
            seal_and_open(2, &plain);
        }
    }
});
