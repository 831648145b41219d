use super::*;
use crate::thread::lowpan::{compress, decompress};
use crate::thread::mac::ExtAddress;

fn ll() -> LinkAddresses {
    LinkAddresses {
        src: Address::Extended(ExtAddress([0x12; 8])),
        dst: Address::Short(0x0400),
    }
}

/// A UDP datagram of `n` payload octets between link-local addresses, and its compressed
/// form.
fn datagram(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
    p.extend_from_slice(&[
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x10, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12, 0x12,
    ]);
    p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 4, 0]);
    p.extend_from_slice(&[0x16, 0x33, 0x16, 0x33, 0, 0, 0, 0]);
    p.extend((0..n).map(|i| i as u8));
    let len = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
    p[44..46].copy_from_slice(&len.to_be_bytes());
    let c = compress(&p, &ll(), &Contexts::new()).unwrap();
    assert_eq!(decompress(&c, &ll(), &Contexts::new()).unwrap(), p);
    (p, c)
}

/// Splits `c` (the compressed datagram of `p`) into a FRAG1 and FRAGNs of at most `mtu`
/// octets of data, as a sender does: FRAGN offsets count uncompressed octets, multiples of 8.
fn fragments(p: &[u8], c: &[u8], mtu: usize, tag: u16) -> Vec<(FragHeader, Vec<u8>)> {
    let hdr_saving = p.len() - c.len();
    // First fragment: compressed headers and payload up to a multiple of 8 uncompressed.
    let first_uncompressed = ((mtu + hdr_saving) / 8) * 8;
    let first_c = first_uncompressed - hdr_saving;
    let mut v = vec![(
        FragHeader {
            size: p.len() as u16,
            tag,
            offset: None,
        },
        c[..first_c].to_vec(),
    )];
    let mut off = first_uncompressed;
    while off < p.len() {
        let end = (off + (mtu / 8) * 8).min(p.len());
        v.push((
            FragHeader {
                size: p.len() as u16,
                tag,
                offset: Some((off / 8) as u8),
            },
            p[off..end].to_vec(),
        ));
        off = end;
    }
    v
}

#[test]
fn reassembles_in_any_order_and_ignores_duplicates() {
    let (p, c) = datagram(200);
    let mut f = fragments(&p, &c, 80, 7);
    assert!(f.len() >= 3);
    f.reverse();
    let dup = f[0].clone();
    f.insert(1, dup);
    let mut r = Reassembler::new(ReassemblyLimits::default());
    let ctx = Contexts::new();
    let mut out = None;
    for (h, d) in &f {
        if let Some(x) = r.push(Instant::ZERO, &ll(), &ctx, *h, d).unwrap() {
            out = Some(x);
        }
    }
    assert_eq!(out.unwrap(), p);
    assert_eq!(r.stats().completed, 1);
    assert_eq!(r.stats().duplicates, 1);
    assert!(r.is_empty());
}

#[test]
fn times_out_and_bounds_buffers() {
    let (p, c) = datagram(200);
    let f = fragments(&p, &c, 80, 1);
    let limits = ReassemblyLimits {
        max_datagrams: 2,
        max_bytes: 10_000,
        timeout: Duration::from_secs(5),
    };
    let mut r = Reassembler::new(limits);
    let ctx = Contexts::new();
    let t0 = Instant::from_micros(1_000);
    for tag in 0..3u16 {
        let h = FragHeader { tag, ..f[0].0 };
        assert_eq!(r.push(t0, &ll(), &ctx, h, &f[0].1).unwrap(), None);
    }
    assert_eq!(r.len(), 2);
    assert_eq!(r.stats().overflows, 1);
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    r.handle_timeout(t0 + Duration::from_secs(5));
    assert!(r.is_empty());
    assert_eq!(r.stats().timed_out, 2);
    // The byte bound too.
    let mut r = Reassembler::new(ReassemblyLimits {
        max_bytes: p.len() + 10,
        ..limits
    });
    r.push(t0, &ll(), &ctx, f[0].0, &f[0].1).unwrap();
    let h = FragHeader { tag: 9, ..f[0].0 };
    r.push(t0, &ll(), &ctx, h, &f[0].1).unwrap();
    assert_eq!(r.stats().overflows, 1);
}

#[test]
fn overlap_discards_and_oversize_is_refused() {
    let (p, c) = datagram(200);
    let f = fragments(&p, &c, 80, 3);
    let mut r = Reassembler::new(ReassemblyLimits::default());
    let ctx = Contexts::new();
    r.push(Instant::ZERO, &ll(), &ctx, f[1].0, &f[1].1).unwrap();
    // Same tag, overlapping at another offset.
    let h = FragHeader {
        offset: f[1].0.offset.map(|o| o + 1),
        ..f[1].0
    };
    r.push(Instant::ZERO, &ll(), &ctx, h, &f[1].1).unwrap();
    assert_eq!(r.stats().discarded, 1);
    // One octet past datagram_size.
    let h = FragHeader {
        offset: Some(((p.len() - 7) / 8) as u8),
        ..f[1].0
    };
    assert!(r.push(Instant::ZERO, &ll(), &ctx, h, &[0; 16]).is_err());
}
