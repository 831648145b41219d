//! The one place the inspector reads the Thread decoder's report
//! ([`weft_mesh::thread::sniff::DecodedFrame`]): one frame becomes a [`FrameView`], the
//! inspector's own words for it (the traffic line, the detail lines, the counters it moves).
//! The decoder's internals may change; only this file follows its report's shape.

use weft_mesh::thread::sniff::{DecodedFrame, ErrorKind, Layer, TlvInfo};

/// How a frame's security went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Not secured at the MAC layer.
    Open,
    /// Secured and opened with the key.
    Decrypted,
    /// Secured and not opened (no key, another key, ...).
    Closed,
}

/// One frame in the inspector's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView {
    /// `data`, `ack`, `beacon`, `command`, or `?` when the MAC header did not parse.
    pub mac_type: String,
    /// MAC source and destination as the decoder writes them (4 or 16 hex digits).
    pub src: Option<String>,
    pub dst: Option<String>,
    /// The short source and destination, when they are short addresses.
    pub src_short: Option<u16>,
    pub dst_short: Option<u16>,
    /// The PAN the frame is addressed to (the destination PAN, else the source PAN).
    pub pan: Option<u16>,
    pub seq: Option<u8>,
    pub security: Security,
    /// The MAC key sequence that opened it.
    pub key_sequence: Option<u32>,
    /// Above the MAC: `6lowpan frag`, `ipv6 udp 19788 → 19788`, `icmpv6 128`, ...
    pub network: String,
    /// The MLE command's name, when it was opened.
    pub mle: Option<String>,
    /// What the MLE message says in brief: its sender's RLOC16 (Source Address TLV), the
    /// RLOC16 it gives (Address16 TLV), e.g. `from 2400, gives 2401`.
    pub mle_gist: String,
    /// The IPv6 source and destination, when decompressed.
    pub ip: Option<(std::net::Ipv6Addr, std::net::Ipv6Addr)>,
    /// Whether the MLE message was secured.
    pub mle_secured: bool,
    /// A fragment that completed a datagram / a fragment held for later.
    pub reassembled: bool,
    pub fragment_held: bool,
    /// Where decoding stopped: the counter's name (`bad_fcs`, `auth_failed`, ...) and the
    /// reason in words (`security: no key held for key index 2 ...`).
    pub error: Option<(&'static str, String)>,
    /// Whether it stopped where a key is needed (MAC or MLE MIC, key index, or a sender
    /// whose extended address only MLE would tell).
    pub needs_key: bool,
    /// Every layer, for the detail pane: (heading, lines).
    pub layers: Vec<(String, Vec<String>)>,
}

/// The counter a decoding error moves, by kind (and by layer when the kind is generic).
pub fn error_name(layer: Layer, kind: ErrorKind) -> &'static str {
    match (layer, kind) {
        (_, ErrorKind::BadFcs) => "bad FCS",
        (_, ErrorKind::UnknownKey) => "unknown key",
        (_, ErrorKind::UnknownSource) => "unknown source",
        (_, ErrorKind::AuthFailed) => "MIC failed",
        (_, ErrorKind::Reassembly) => "reassembly",
        (_, ErrorKind::Unsupported) => "unsupported",
        (Layer::Fcs | Layer::Mac, _) => "MAC malformed",
        (Layer::Security, _) => "security malformed",
        (Layer::Lowpan, _) => "6LoWPAN malformed",
        (Layer::Ipv6 | Layer::Udp, _) => "IPv6/UDP malformed",
        (Layer::Mle, _) => "MLE malformed",
    }
}

fn hex16(s: Option<&str>) -> Option<u16> {
    s.filter(|s| s.len() == 4)
        .and_then(|s| u16::from_str_radix(s, 16).ok())
}

/// The inspector's view of one decoded frame.
pub fn view(d: &DecodedFrame) -> FrameView {
    let mut v = FrameView {
        mac_type: "?".into(),
        src: None,
        dst: None,
        src_short: None,
        dst_short: None,
        pan: None,
        seq: None,
        security: Security::Open,
        key_sequence: None,
        network: String::new(),
        mle: None,
        mle_gist: String::new(),
        ip: None,
        mle_secured: false,
        reassembled: false,
        fragment_held: false,
        error: None,
        needs_key: false,
        layers: Vec::new(),
    };
    if let Some(m) = &d.mac {
        v.mac_type = m.frame_type.to_string();
        v.src = m.src.clone();
        v.dst = m.dst.clone();
        v.src_short = hex16(m.src.as_deref());
        v.dst_short = hex16(m.dst.as_deref());
        v.pan = hex16(m.dst_pan.as_deref()).or(hex16(m.src_pan.as_deref()));
        v.seq = m.seq;
        let mut l = vec![
            format!("frame type {} (802.15.4-{})", m.frame_type, m.version),
            format!(
                "seq {}  ack request {}  frame pending {}  PAN ID compression {}",
                m.seq.map_or("suppressed".into(), |s| s.to_string()),
                yes(m.ack_request),
                yes(m.frame_pending),
                yes(m.pan_id_compression)
            ),
            format!(
                "dst {} / PAN {}",
                m.dst.as_deref().unwrap_or("none"),
                m.dst_pan.as_deref().unwrap_or("-")
            ),
            format!(
                "src {} / PAN {}",
                m.src.as_deref().unwrap_or("none"),
                m.src_pan.as_deref().unwrap_or("(dst's)")
            ),
        ];
        for ie in &m.header_ies {
            l.push(format!("header IE 0x{:02x}: {}", ie.id, ie.content));
        }
        for ie in &m.payload_ies {
            l.push(format!("payload IE group 0x{:02x}: {}", ie.id, ie.content));
        }
        if let Some(ok) = m.fcs_ok {
            l.push(format!("FCS {}", if ok { "ok" } else { "bad" }));
        }
        v.layers.push(("MAC".into(), l));
    }
    if let Some(s) = &d.security {
        v.security = if s.decrypted {
            Security::Decrypted
        } else {
            Security::Closed
        };
        v.key_sequence = s.key_sequence;
        let mut l = vec![format!(
            "level {}  key id mode {}{}{}",
            s.level,
            s.key_id_mode,
            s.key_index
                .map(|k| format!("  key index {k}"))
                .unwrap_or_default(),
            s.key_source
                .as_deref()
                .map(|k| format!("  key source {k}"))
                .unwrap_or_default()
        )];
        if let Some(fc) = s.frame_counter {
            l.push(format!("frame counter {fc}"));
        }
        l.push(match s.key_sequence {
            Some(k) if s.decrypted => format!("decrypted with the MAC key of key sequence {k}"),
            _ => "not decrypted".into(),
        });
        v.layers.push(("MAC security".into(), l));
    }
    if let Some(lp) = &d.lowpan {
        let mut l = vec![format!("dispatch {}", lp.dispatch)];
        if let Some(m) = &lp.mesh {
            l.push(format!(
                "mesh header: {} → {}, hops left {}",
                m.originator.as_deref().unwrap_or("-"),
                m.final_destination.as_deref().unwrap_or("-"),
                m.hops_left
            ));
        }
        if let Some(f) = &lp.fragment {
            l.push(format!(
                "fragment tag {:04x}, offset {} of {}{}",
                f.tag,
                f.offset,
                f.size,
                if f.complete { ", completes it" } else { "" }
            ));
            v.reassembled = f.complete;
            v.fragment_held = !f.complete && d.error.is_none();
        }
        if lp.unknown_context {
            l.push(
                "a context not given: its prefix is shown as zeros (--mesh-local-prefix)".into(),
            );
        }
        v.network = if lp.fragment.is_some() {
            "6lowpan frag".into()
        } else {
            "6lowpan".into()
        };
        v.layers.push(("6LoWPAN".into(), l));
    }
    if let Some(ip) = &d.ipv6 {
        v.ip = Some((ip.src, ip.dst));
        v.layers.push((
            "IPv6".into(),
            vec![
                format!("src {}", ip.src),
                format!("dst {}", ip.dst),
                format!(
                    "next header {}  hop limit {}  payload {} octets  protocol {}",
                    ip.next_header, ip.hop_limit, ip.payload_len, ip.protocol
                ),
            ],
        ));
        v.network = "ipv6".into();
    }
    if let Some(u) = &d.udp {
        let mut l = vec![format!(
            "ports {} → {}  length {}",
            u.src_port, u.dst_port, u.length
        )];
        if let Some(p) = &u.payload {
            l.push(format!("payload {p}"));
        }
        v.layers.push(("UDP".into(), l));
        v.network = format!("udp {}→{}", u.src_port, u.dst_port);
    }
    if let Some(c) = &d.icmpv6 {
        v.layers.push((
            "ICMPv6".into(),
            vec![format!("type {} code {}", c.icmp_type, c.code)],
        ));
        v.network = format!("icmpv6 {}", c.icmp_type);
    }
    if let Some(m) = &d.mle {
        v.mle = Some(m.command_name.to_string());
        v.mle_secured = m.security_suite == 0;
        let gist: Vec<String> = m
            .tlvs
            .iter()
            .filter_map(|t| match t {
                TlvInfo::SourceAddress { rloc16 } => Some(format!("from {rloc16}")),
                TlvInfo::Address16 { rloc16 } => Some(format!("gives {rloc16}")),
                _ => None,
            })
            .collect();
        v.mle_gist = gist.join(", ");
        let mut l = vec![format!(
            "command {} ({}){}",
            m.command_name,
            m.command,
            if m.security_suite == 0 {
                format!(
                    ", secured, key sequence {}, frame counter {}",
                    m.key_sequence.map_or("-".into(), |k| k.to_string()),
                    m.frame_counter.map_or("-".into(), |k| k.to_string())
                )
            } else {
                ", not secured".into()
            }
        )];
        l.extend(m.tlvs.iter().map(tlv_line));
        v.layers.push(("MLE".into(), l));
    }
    if let Some(p) = &d.mac_payload {
        v.layers.push(("MAC payload".into(), vec![p.to_string()]));
    }
    if let Some(e) = &d.error {
        v.error = Some((error_name(e.layer, e.kind), e.to_string()));
        v.needs_key = matches!(
            e.kind,
            ErrorKind::AuthFailed | ErrorKind::UnknownKey | ErrorKind::UnknownSource
        );
        v.layers.push(("Error".into(), vec![e.to_string()]));
    }
    v.layers.push(("PSDU".into(), vec![d.psdu.to_string()]));
    v
}

/// A TLV on one line: the decoder's summary, except Route64, one `R<id> in/out cost` a router
/// (Thread 1.3 §4.4.11).
fn tlv_line(t: &TlvInfo) -> String {
    match t {
        TlvInfo::Route64 {
            id_sequence,
            routes: Some(routes),
            ..
        } => {
            let r: Vec<String> = routes
                .iter()
                .map(|r| format!("R{} {}/{} c{}", r.router_id, r.lq_in, r.lq_out, r.cost))
                .collect();
            format!(
                "route64 id seq {id_sequence}: {} (LQ in/out, cost)",
                r.join(", ")
            )
        }
        t => t.summary(),
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::thread::security::KeyManager;
    use weft_mesh::thread::sniff::{Fcs, ThreadSniffer};
    use weft_mesh::Instant;

    #[test]
    fn a_frame_that_does_not_parse_says_why() {
        let mut s = ThreadSniffer::new(KeyManager::new([1; 16], 0));
        let v = view(&s.decode(Instant::ZERO, &[0x41], Fcs::Absent));
        assert_eq!(v.mac_type, "?");
        let (name, reason) = v.error.expect("an error");
        assert_eq!(name, "MAC malformed");
        assert!(reason.starts_with("mac: "), "{reason}");
        assert_eq!(v.layers.last().map(|l| l.0.as_str()), Some("PSDU"));
    }
}
