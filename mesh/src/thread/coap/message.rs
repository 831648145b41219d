//! The CoAP message format (RFC 7252 §3): a 4-octet header `Ver(2) T(2) TKL(4) Code(8)
//! Message ID(16)`, a token of TKL octets, options (§3.1) in delta encoding, then an optional
//! payload after the 0xFF marker.
//!
//! Options are kept sorted by number (equal numbers in the order added), which is the order
//! §3.1 requires on the wire, so a parsed message re-emits as received.

use crate::wire::{need, Error, Hex, Result, Wire};
use core::fmt;

/// The protocol version (RFC 7252 §3: "Implementations of this specification MUST set this
/// field to 1 (01 binary)").
pub const VERSION: u8 = 1;
/// The payload marker (§3).
pub const PAYLOAD_MARKER: u8 = 0xff;
/// Largest token length (§3: lengths 9 to 15 are reserved and a message format error).
pub const MAX_TOKEN_LEN: usize = 8;
/// Longest option value the §3.1 length encoding can carry (14: two octets plus 269).
pub const MAX_OPTION_LEN: usize = 65535 + 269;

/// Option numbers (RFC 7252 §5.10, table 4; Observe RFC 7641 §2, Block1/Block2 RFC 7959 §2.1).
pub mod option {
    pub const IF_MATCH: u16 = 1;
    pub const URI_HOST: u16 = 3;
    pub const ETAG: u16 = 4;
    pub const IF_NONE_MATCH: u16 = 5;
    /// RFC 7641 §2.
    pub const OBSERVE: u16 = 6;
    pub const URI_PORT: u16 = 7;
    pub const LOCATION_PATH: u16 = 8;
    pub const URI_PATH: u16 = 11;
    pub const CONTENT_FORMAT: u16 = 12;
    pub const MAX_AGE: u16 = 14;
    pub const URI_QUERY: u16 = 15;
    pub const ACCEPT: u16 = 17;
    pub const LOCATION_QUERY: u16 = 20;
    /// RFC 7959 §2.1.
    pub const BLOCK2: u16 = 23;
    /// RFC 7959 §2.1.
    pub const BLOCK1: u16 = 27;
    pub const PROXY_URI: u16 = 35;
    pub const PROXY_SCHEME: u16 = 39;
    pub const SIZE1: u16 = 60;

    /// §5.4.6: an option is critical when its number is odd.
    pub const fn is_critical(number: u16) -> bool {
        number & 1 == 1
    }
}

/// The message type (§3, §4.2-§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Confirmable = 0,
    NonConfirmable = 1,
    Acknowledgement = 2,
    Reset = 3,
}

impl MessageType {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => MessageType::Confirmable,
            1 => MessageType::NonConfirmable,
            2 => MessageType::Acknowledgement,
            _ => MessageType::Reset,
        }
    }
}

/// A code `c.dd` (§3: 3-bit class, 5-bit detail; §12.1 registries).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u8);

impl Code {
    pub const fn new(class: u8, detail: u8) -> Self {
        Code((class << 5) | (detail & 0x1f))
    }
    pub const fn class(self) -> u8 {
        self.0 >> 5
    }
    pub const fn detail(self) -> u8 {
        self.0 & 0x1f
    }
    /// 0.00: an Empty message (§4.1).
    pub const EMPTY: Code = Code::new(0, 0);
    // §12.1.1 method codes.
    pub const GET: Code = Code::new(0, 1);
    pub const POST: Code = Code::new(0, 2);
    pub const PUT: Code = Code::new(0, 3);
    pub const DELETE: Code = Code::new(0, 4);
    // §12.1.2 response codes.
    pub const CREATED: Code = Code::new(2, 1);
    pub const DELETED: Code = Code::new(2, 2);
    pub const VALID: Code = Code::new(2, 3);
    pub const CHANGED: Code = Code::new(2, 4);
    pub const CONTENT: Code = Code::new(2, 5);
    pub const BAD_REQUEST: Code = Code::new(4, 0);
    pub const UNAUTHORIZED: Code = Code::new(4, 1);
    pub const BAD_OPTION: Code = Code::new(4, 2);
    pub const FORBIDDEN: Code = Code::new(4, 3);
    pub const NOT_FOUND: Code = Code::new(4, 4);
    pub const METHOD_NOT_ALLOWED: Code = Code::new(4, 5);
    pub const NOT_ACCEPTABLE: Code = Code::new(4, 6);
    pub const PRECONDITION_FAILED: Code = Code::new(4, 12);
    pub const REQUEST_ENTITY_TOO_LARGE: Code = Code::new(4, 13);
    pub const UNSUPPORTED_CONTENT_FORMAT: Code = Code::new(4, 15);
    pub const INTERNAL_SERVER_ERROR: Code = Code::new(5, 0);
    pub const NOT_IMPLEMENTED: Code = Code::new(5, 1);
    pub const BAD_GATEWAY: Code = Code::new(5, 2);
    pub const SERVICE_UNAVAILABLE: Code = Code::new(5, 3);
    pub const GATEWAY_TIMEOUT: Code = Code::new(5, 4);
    pub const PROXYING_NOT_SUPPORTED: Code = Code::new(5, 5);

    /// §5.1: a request (class 0, not Empty).
    pub const fn is_request(self) -> bool {
        self.class() == 0 && self.detail() != 0
    }
    /// §5.1: a response (classes 2, 4, 5).
    pub const fn is_response(self) -> bool {
        matches!(self.class(), 2 | 4 | 5)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One option instance (§3.1, §5.4).
#[derive(Clone, PartialEq, Eq)]
pub struct CoapOption {
    pub number: u16,
    pub value: Vec<u8>,
}

impl fmt::Debug for CoapOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.number, Hex(&self.value))
    }
}

/// The `uint` option format (§3.2): big-endian, without leading zero octets (0 is empty).
pub fn encode_uint(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

/// Reads a `uint` option value (§3.2); more than 4 octets is refused.
pub fn decode_uint(b: &[u8]) -> Option<u32> {
    (b.len() <= 4).then(|| b.iter().fold(0u32, |a, &x| (a << 8) | x as u32))
}

/// A CoAP message (§3).
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub mtype: MessageType,
    pub code: Code,
    pub message_id: u16,
    token: Vec<u8>,
    options: Vec<CoapOption>,
    pub payload: Vec<u8>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("mtype", &self.mtype)
            .field("code", &self.code)
            .field("message_id", &self.message_id)
            .field("token", &Hex(&self.token))
            .field("options", &self.options)
            .field("payload", &Hex(&self.payload))
            .finish()
    }
}

impl Message {
    /// A message with no token, options or payload.
    pub fn new(mtype: MessageType, code: Code, message_id: u16) -> Self {
        Message {
            mtype,
            code,
            message_id,
            token: Vec::new(),
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// A request of `code` to `path` (Uri-Path options, e.g. `"a/as"`), message ID and token
    /// left for the endpoint to fill.
    pub fn request(mtype: MessageType, code: Code, path: &str) -> Self {
        let mut m = Message::new(mtype, code, 0);
        m.set_uri_path(path);
        m
    }

    /// An Empty ACK (§4.2) or RST (§4.3) for `message_id`.
    pub fn empty(mtype: MessageType, message_id: u16) -> Self {
        Message::new(mtype, Code::EMPTY, message_id)
    }

    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// Sets the token; refused when longer than [`MAX_TOKEN_LEN`].
    pub fn set_token(&mut self, token: &[u8]) -> Result<()> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::TooLong {
                max: MAX_TOKEN_LEN,
                got: token.len(),
            });
        }
        self.token = token.to_vec();
        Ok(())
    }

    /// The options in wire order.
    pub fn options(&self) -> &[CoapOption] {
        &self.options
    }

    /// Adds an option after any others with the same or a lower number; a value beyond
    /// [`MAX_OPTION_LEN`] is cut there.
    pub fn add_option(&mut self, number: u16, value: &[u8]) {
        let value = &value[..value.len().min(MAX_OPTION_LEN)];
        let at = self.options.partition_point(|o| o.number <= number);
        self.options.insert(
            at,
            CoapOption {
                number,
                value: value.to_vec(),
            },
        );
    }

    /// Removes every instance of option `number`.
    pub fn remove_option(&mut self, number: u16) {
        self.options.retain(|o| o.number != number);
    }

    /// Every value of option `number`, in order.
    pub fn option_values(&self, number: u16) -> impl Iterator<Item = &[u8]> {
        self.options
            .iter()
            .filter(move |o| o.number == number)
            .map(|o| o.value.as_slice())
    }

    /// The first value of option `number`.
    pub fn option(&self, number: u16) -> Option<&[u8]> {
        self.option_values(number).next()
    }

    /// The first value of a `uint` option (§3.2).
    pub fn option_uint(&self, number: u16) -> Option<u32> {
        self.option(number).and_then(decode_uint)
    }

    /// Replaces option `number` with one `uint` value (§3.2).
    pub fn set_option_uint(&mut self, number: u16, v: u32) {
        self.remove_option(number);
        self.add_option(number, &encode_uint(v));
    }

    /// Replaces the Uri-Path options (§5.10.1) with the segments of `path` (leading, trailing
    /// and repeated '/' ignored).
    pub fn set_uri_path(&mut self, path: &str) {
        self.remove_option(option::URI_PATH);
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            self.add_option(option::URI_PATH, seg.as_bytes());
        }
    }

    /// The Uri-Path segments joined with '/' (no leading '/'); a segment that is not UTF-8 is
    /// replaced lossily.
    pub fn uri_path(&self) -> String {
        let segs: Vec<_> = self
            .option_values(option::URI_PATH)
            .map(String::from_utf8_lossy)
            .collect();
        segs.join("/")
    }

    /// The Content-Format (§5.10.3), if present.
    pub fn content_format(&self) -> Option<u32> {
        self.option_uint(option::CONTENT_FORMAT)
    }

    /// The first critical option (odd number, §5.4.1) not in `known`: a confirmable request
    /// carrying one is answered 4.02 (Bad Option), a non-confirmable one rejected (§5.4.1).
    pub fn unrecognized_critical(&self, known: &[u16]) -> Option<u16> {
        self.options
            .iter()
            .map(|o| o.number)
            .find(|&n| option::is_critical(n) && !known.contains(&n))
    }

    /// Whether this is an Empty message (§4.1: code 0.00).
    pub fn is_empty(&self) -> bool {
        self.code == Code::EMPTY
    }
}

/// Reads an option's extended delta or length (§3.1): nibble 13 adds one octet (value - 13),
/// 14 two octets (value - 269), 15 is reserved.
fn extended(nibble: u8, b: &[u8], at: &mut usize, field: &'static str) -> Result<u32> {
    match nibble {
        0..=12 => Ok(nibble as u32),
        13 => {
            need(b, *at + 1)?;
            *at += 1;
            Ok(b[*at - 1] as u32 + 13)
        }
        14 => {
            need(b, *at + 2)?;
            *at += 2;
            Ok(u16::from_be_bytes([b[*at - 2], b[*at - 1]]) as u32 + 269)
        }
        _ => Err(Error::Invalid { field, value: 15 }),
    }
}

/// The nibble and extension octets for an option delta or length `v` (§3.1).
fn nibble(v: u32) -> (u8, usize) {
    match v {
        0..=12 => (v as u8, 0),
        13..=268 => (13, 1),
        _ => (14, 2),
    }
}

fn write_ext(v: u32, b: &mut [u8]) -> usize {
    match nibble(v).0 {
        13 => {
            b[0] = (v - 13) as u8;
            1
        }
        14 => {
            b[..2].copy_from_slice(&((v - 269) as u16).to_be_bytes());
            2
        }
        _ => 0,
    }
}

impl Wire for Message {
    fn parse(b: &[u8]) -> Result<Self> {
        need(b, 4)?;
        let ver = b[0] >> 6;
        if ver != VERSION {
            // §3: messages with an unknown version number MUST be silently ignored.
            return Err(Error::Invalid {
                field: "CoAP version",
                value: ver as u32,
            });
        }
        let tkl = (b[0] & 0x0f) as usize;
        if tkl > MAX_TOKEN_LEN {
            return Err(Error::Invalid {
                field: "CoAP token length (9-15 reserved)",
                value: tkl as u32,
            });
        }
        let mtype = MessageType::from_bits(b[0] >> 4);
        let code = Code(b[1]);
        let message_id = u16::from_be_bytes([b[2], b[3]]);
        if code == Code::EMPTY && (b.len() != 4 || tkl != 0) {
            // §4.1: an Empty message has nothing after the Message ID.
            return Err(Error::Invalid {
                field: "CoAP Empty message with content",
                value: b.len() as u32,
            });
        }
        need(b, 4 + tkl)?;
        let token = b[4..4 + tkl].to_vec();
        let mut at = 4 + tkl;
        let mut options = Vec::new();
        let mut number: u32 = 0;
        let mut payload = Vec::new();
        while at < b.len() {
            let h = b[at];
            at += 1;
            if h == PAYLOAD_MARKER {
                if at == b.len() {
                    // §3: a marker followed by a zero-length payload is a format error.
                    return Err(Error::Invalid {
                        field: "CoAP payload marker with an empty payload",
                        value: 0xff,
                    });
                }
                payload = b[at..].to_vec();
                break;
            }
            let delta = extended(h >> 4, b, &mut at, "CoAP option delta (15 reserved)")?;
            let len = extended(h & 0x0f, b, &mut at, "CoAP option length (15 reserved)")? as usize;
            number += delta;
            if number > u16::MAX as u32 {
                return Err(Error::Invalid {
                    field: "CoAP option number beyond 65535",
                    value: number,
                });
            }
            need(b, at + len)?;
            options.push(CoapOption {
                number: number as u16,
                value: b[at..at + len].to_vec(),
            });
            at += len;
        }
        Ok(Message {
            mtype,
            code,
            message_id,
            token,
            options,
            payload,
        })
    }

    fn buffer_len(&self) -> usize {
        let mut n = 4 + self.token.len();
        let mut prev = 0u32;
        for o in &self.options {
            let d = o.number as u32 - prev;
            prev = o.number as u32;
            n += 1 + nibble(d).1 + nibble(o.value.len() as u32).1 + o.value.len();
        }
        if !self.payload.is_empty() {
            n += 1 + self.payload.len();
        }
        n
    }

    fn emit(&self, b: &mut [u8]) {
        b[0] = (VERSION << 6) | ((self.mtype as u8) << 4) | self.token.len() as u8;
        b[1] = self.code.0;
        b[2..4].copy_from_slice(&self.message_id.to_be_bytes());
        let mut at = 4;
        b[at..at + self.token.len()].copy_from_slice(&self.token);
        at += self.token.len();
        let mut prev = 0u32;
        for o in &self.options {
            let d = o.number as u32 - prev;
            prev = o.number as u32;
            let l = o.value.len() as u32;
            b[at] = (nibble(d).0 << 4) | nibble(l).0;
            at += 1;
            at += write_ext(d, &mut b[at..]);
            at += write_ext(l, &mut b[at..]);
            b[at..at + o.value.len()].copy_from_slice(&o.value);
            at += o.value.len();
        }
        if !self.payload.is_empty() {
            b[at] = PAYLOAD_MARKER;
            b[at + 1..at + 1 + self.payload.len()].copy_from_slice(&self.payload);
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
