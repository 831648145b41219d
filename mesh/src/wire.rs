//! The wire-format contract every protocol core shares (Bluetooth Mesh PDUs in
//! [`crate::ble::wire`], IEEE 802.15.4 and Thread frames beside them).
//!
//! Style (as smoltcp's `wire`): each format has
//! - a checked zero-copy view over a buffer where that is useful (`Foo<T: AsRef<[u8]>>`, built
//!   with `Foo::new_checked(buffer)`, which verifies the length so the field accessors never
//!   panic), and
//! - an owned `FooRepr` (or an enum of variants) implementing [`Wire`]: `parse` from bytes,
//!   `buffer_len`, and `emit` into a buffer.
//!
//! Parsing never panics: any malformed input yields an [`Error`].

use core::fmt;

/// Why a PDU could not be parsed (or, for secured PDUs, opened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the format requires.
    #[error("truncated: needs at least {need} octets, got {got}")]
    Truncated { need: usize, got: usize },
    /// The buffer is longer than the format allows.
    #[error("too long: at most {max} octets, got {got}")]
    TooLong { max: usize, got: usize },
    /// A field holds a value the specification prohibits or reserves for future use.
    #[error("invalid {field}: {value:#x}")]
    Invalid { field: &'static str, value: u32 },
    /// The integrity check failed (or no key authenticates the PDU).
    #[error("authentication failed: {0}")]
    Auth(&'static str),
}

pub type Result<T> = core::result::Result<T, Error>;

/// Checks that `buf` holds at least `need` octets.
#[allow(dead_code)]
pub(crate) fn need(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            need,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Checks that `buf` holds at most `max` octets.
#[allow(dead_code)]
pub(crate) fn at_most(buf: &[u8], max: usize) -> Result<()> {
    if buf.len() > max {
        Err(Error::TooLong {
            max,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// An owned representation of a PDU that can be parsed from and emitted to bytes.
///
/// Round trip law (checked by property tests): for every `r` that `parse` returns,
/// `parse(&r.to_vec()) == Ok(r)`, and for every `r` a generator builds, `parse(&r.to_vec())`
/// gives `r` back.
pub trait Wire: Sized {
    /// Parses one PDU occupying all of `bytes`.
    fn parse(bytes: &[u8]) -> Result<Self>;
    /// The number of octets `emit` writes.
    fn buffer_len(&self) -> usize;
    /// Writes the PDU into `buf[..self.buffer_len()]`. `buf` must be at least that long.
    fn emit(&self, buf: &mut [u8]);
    /// The PDU as a fresh vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

/// Lowercase hex for `Debug` impls of byte fields.
#[allow(dead_code)]
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
