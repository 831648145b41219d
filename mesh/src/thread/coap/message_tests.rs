use super::*;
use proptest::prelude::*;

#[test]
fn address_solicit_shape() {
    // CON POST, Message ID 0x1234, token 0xbeef, Uri-Path "a" "as", payload 01 02.
    // Header: Ver 1, T 0, TKL 2 = 0x42; code 0.02; then options: delta 11 len 1 = 0xb1 'a',
    // delta 0 len 2 = 0x02 'a' 's'; marker; payload.
    let b = [
        0x42, 0x02, 0x12, 0x34, 0xbe, 0xef, 0xb1, b'a', 0x02, b'a', b's', 0xff, 1, 2,
    ];
    let m = Message::parse(&b).unwrap();
    assert_eq!(m.mtype, MessageType::Confirmable);
    assert_eq!(m.code, Code::POST);
    assert_eq!(m.message_id, 0x1234);
    assert_eq!(m.token(), [0xbe, 0xef]);
    assert_eq!(m.uri_path(), "a/as");
    assert_eq!(m.payload, [1, 2]);
    assert_eq!(m.to_vec(), b);

    let mut built = Message::request(MessageType::Confirmable, Code::POST, "/a/as");
    built.message_id = 0x1234;
    built.set_token(&[0xbe, 0xef]).unwrap();
    built.payload = vec![1, 2];
    assert_eq!(built, m);
}

#[test]
fn extended_delta_and_length() {
    // Uri-Path (11) "x", then Size1 (60): delta 49 = 13 + 36 -> nibble 13, ext 36; a value of
    // 300 octets: length 300 = 269 + 31 -> nibble 14, ext 0x001f.
    let mut m = Message::new(MessageType::NonConfirmable, Code::PUT, 7);
    m.add_option(option::SIZE1, &[0x55; 300]);
    m.add_option(option::URI_PATH, b"x");
    let v = m.to_vec();
    assert_eq!(&v[..4], &[0x50, 0x03, 0x00, 0x07]);
    assert_eq!(&v[4..6], &[0xb1, b'x']);
    assert_eq!(&v[6..9], &[0xde, 36, 0x00]);
    assert_eq!(v[9], 31);
    assert_eq!(v.len(), 10 + 300);
    assert_eq!(Message::parse(&v).unwrap(), m);
    // An option number beyond 12 + 255 + 13: delta 14 with two octets.
    let mut big = Message::new(MessageType::Confirmable, Code::GET, 1);
    big.add_option(2000, &[]);
    let v = big.to_vec();
    assert_eq!(
        &v[4..7],
        &[0xe0, ((2000 - 269) >> 8) as u8, (2000 - 269) as u8]
    );
    assert_eq!(Message::parse(&v).unwrap().options()[0].number, 2000);
}

#[test]
fn format_errors_are_refused() {
    // Version 2.
    assert!(Message::parse(&[0x80, 1, 0, 0]).is_err());
    // TKL 9.
    assert!(Message::parse(&[0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    // Token longer than the message.
    assert!(matches!(
        Message::parse(&[0x44, 1, 0, 0, 1]),
        Err(Error::Truncated { .. })
    ));
    // Empty message with a token, or with bytes after the Message ID (§4.1).
    assert!(Message::parse(&[0x61, 0, 0, 0, 9]).is_err());
    assert!(Message::parse(&[0x60, 0, 0, 0, 0xff]).is_err());
    assert!(Message::parse(&[0x60, 0, 0, 5]).unwrap().is_empty());
    // Payload marker with nothing after it.
    assert!(Message::parse(&[0x40, 1, 0, 0, 0xff]).is_err());
    // Delta nibble 15 that is not the payload marker; length nibble 15.
    assert!(Message::parse(&[0x40, 1, 0, 0, 0xf0]).is_err());
    assert!(Message::parse(&[0x40, 1, 0, 0, 0x1f]).is_err());
    // Extended delta cut short; value past the end.
    assert!(Message::parse(&[0x40, 1, 0, 0, 0xe0, 1]).is_err());
    assert!(Message::parse(&[0x40, 1, 0, 0, 0x13, 1, 2]).is_err());
    // Option numbers summing past 65535.
    let mut b = vec![0x40, 1, 0, 0];
    for _ in 0..2 {
        b.extend_from_slice(&[0xe0, 0xff, 0x00]);
    }
    assert!(Message::parse(&b).is_err());
    // Fewer than four octets.
    assert!(Message::parse(&[0x40, 1, 0]).is_err());
}

#[test]
fn uint_options() {
    assert_eq!(encode_uint(0), Vec::<u8>::new());
    assert_eq!(encode_uint(0x0102), [1, 2]);
    assert_eq!(decode_uint(&[1, 2]), Some(0x0102));
    assert_eq!(decode_uint(&[]), Some(0));
    assert_eq!(decode_uint(&[1, 2, 3, 4, 5]), None);
    let mut m = Message::new(MessageType::Acknowledgement, Code::CONTENT, 1);
    m.set_option_uint(option::CONTENT_FORMAT, 42);
    m.set_option_uint(option::CONTENT_FORMAT, 50);
    assert_eq!(m.content_format(), Some(50));
    assert_eq!(m.options().len(), 1);
}

#[test]
fn unrecognized_critical_options() {
    let mut m = Message::request(MessageType::Confirmable, Code::GET, "a");
    m.add_option(option::ETAG, b"e");
    let known = [option::URI_PATH];
    assert_eq!(
        m.unrecognized_critical(&known),
        None,
        "elective options are ignored"
    );
    m.add_option(option::IF_MATCH, b"x");
    assert_eq!(m.unrecognized_critical(&known), Some(option::IF_MATCH));
    assert_eq!(
        m.unrecognized_critical(&[option::URI_PATH, option::IF_MATCH]),
        None
    );
}

#[test]
fn codes() {
    assert_eq!(format!("{}", Code::NOT_FOUND), "4.04");
    assert!(Code::GET.is_request() && !Code::GET.is_response());
    assert!(Code::CHANGED.is_response() && !Code::EMPTY.is_request());
    assert!(!Code::new(3, 1).is_response());
    assert!(option::is_critical(option::URI_PATH) && !option::is_critical(option::ETAG));
}

#[test]
fn token_too_long_is_refused() {
    let mut m = Message::new(MessageType::Confirmable, Code::GET, 1);
    assert!(m.set_token(&[0; 9]).is_err());
    assert!(m.set_token(&[0; 8]).is_ok());
}

fn message() -> impl Strategy<Value = Message> {
    (
        0u8..4,
        any::<u8>(),
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..=8),
        proptest::collection::vec(
            (
                prop_oneof![0u16..70, any::<u16>()],
                proptest::collection::vec(any::<u8>(), 0..300),
            ),
            0..6,
        ),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(t, code, mid, token, opts, payload)| {
            let mtype = MessageType::from_bits(t);
            let code = if code == 0 { Code::GET } else { Code(code) };
            let mut m = Message::new(mtype, code, mid);
            m.set_token(&token).unwrap();
            for (n, v) in opts {
                m.add_option(n, &v);
            }
            m.payload = payload;
            m
        })
}

proptest! {
    #[test]
    fn round_trip(m in message()) {
        let v = m.to_vec();
        prop_assert_eq!(v.len(), m.buffer_len());
        prop_assert_eq!(Message::parse(&v).unwrap(), m);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
        crate::thread::coap::fuzz_parse(&b);
        // With a valid header in front, the option parser sees the bytes.
        crate::thread::coap::fuzz_parse(&[&[0x40u8, 1, 0, 0][..], &b].concat());
    }
}
