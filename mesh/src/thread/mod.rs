//! Thread over IEEE 802.15.4-2015: the sans-IO wire core.
//!
//! - [`mac`]: IEEE 802.15.4-2015 MAC frames (§7.2), information elements (§7.4), the auxiliary
//!   security header (§9.4) and the FCS (§7.2.10).
//! - [`security`]: CCM* (§9.3, Annex B) applied to MAC frames, and Thread's key derivation and
//!   key sequence tracking (Thread 1.3 §7.1.2).
//! - [`lowpan`]: 6LoWPAN (RFC 4944, RFC 6282): IPHC, NHC, mesh and fragment headers, and a
//!   bounded reassembler.
//! - [`mle`]: Mesh Link Establishment (Thread 1.3 ch. 4): its security and its TLVs.
//! - [`dataset`]: the Active Operational Dataset (Thread 1.3 §8.10.1) and the PSKc (§8.4.1.2.2).
//! - [`coap`]: CoAP (RFC 7252): the message codec and a sans-IO endpoint.
//! - [`ip`]: IPv6 above 6LoWPAN: addresses, ICMPv6 echo, UDP and sockets, the transmit path.
//!
//! smoltcp's `wire::ieee802154` and `wire::sixlowpan` were considered and not used: the
//! former reads a sequence number even when it is suppressed, does not parse information
//! elements (they end up in the payload), gets the (no destination, source present, PAN ID
//! Compression = 1) row of 802.15.4-2015 table 7-2 wrong and can index past the end of a short
//! secured frame; the latter decodes a context-based 16-bit address (SAC = 1, SAM = 10, which
//! Thread uses for every RLOC and ALOC) without its `0000:00ff:fe00` middle, supports only
//! 64-bit contexts, and has no mesh header.

pub mod coap;
pub mod dataset;
pub mod ip;
pub mod lowpan;
pub mod mac;
pub mod mle;
pub mod netdata;

pub mod radio;
pub mod security;
pub mod sniff;
pub mod stack;
pub mod tmf;
pub mod topology;
pub mod wire;

#[cfg(test)]
mod test_rng;
