//! CoAP (RFC 7252) as Thread uses it for its management messages (Address Solicit `/a/as`,
//! Address Release `/a/ar`, Thread 1.3 §5.9) and for application messages.
//!
//! - [`message`]: the message format (§3), options (§3.1, §5.10), Uri-Path helpers.
//! - [`endpoint`]: the sans-IO endpoint: reliability (§4), requests and responses (§5).

pub mod endpoint;
pub mod message;

pub use endpoint::{CoapEvent, Config, Endpoint, EndpointStats, Incoming, RequestError, Token};

pub use message::{option, CoapOption, Code, Message, MessageType};

use crate::wire::Wire;

/// Parses `data` as a CoAP message; what parses re-emits as received and re-parses the same.
/// For the fuzzer and the random-input tests.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    // The endpoint with a request in flight takes the bytes from its peer and from a
    // stranger, then gives up on everything.
    let peer = std::net::SocketAddrV6::new(std::net::Ipv6Addr::LOCALHOST, 5683, 0, 0);
    let stranger = std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 5683, 0, 0);
    let mut e = Endpoint::with_seed(Config::default(), 1);
    let now = crate::time::Instant::ZERO;
    let _ = e.request(
        now,
        peer,
        Message::request(MessageType::Confirmable, Code::GET, "a"),
    );
    for from in [peer, stranger] {
        if let Some(inc) = e.handle_datagram(now, from, data) {
            let r = Message::new(MessageType::Acknowledgement, Code::CONTENT, 0);
            e.respond(now, inc.peer, &inc.request, r);
        }
    }
    e.handle_timeout(now + crate::time::Duration::from_secs(1000));
    while e.poll_transmit(now).is_some() || e.poll_event().is_some() {}
    let Ok(m) = Message::parse(data) else {
        return;
    };
    assert_eq!(
        m.to_vec(),
        data,
        "a parsed CoAP message re-emits as received"
    );
    let _ = m.uri_path();
    let _ = m.content_format();
}
