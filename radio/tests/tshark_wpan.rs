//! tshark reads weft's IEEE 802.15.4 captures (LINKTYPE_IEEE802_15_4_TAP, written by
//! `weft_radio::capture` from the frames a Thread radio hands over): the TAP header, the FCS
//! weft recomputes, the MAC frames; and with the Thread network key in its 802.15.4 key table
//! (PEERS.md) it decrypts a MAC-secured data frame built with `weft_mesh::thread`'s encoders,
//! down to the UDP datagram inside.

#[path = "support/tshark.rs"]
mod support;
use support::{num, run_tshark, tshark, PI_WARN};

use std::net::Ipv6Addr;
use std::path::PathBuf;

use serde_json::Value;
use weft_mesh::thread::lowpan::{compress, Contexts, LinkAddresses};
use weft_mesh::thread::mac::{
    Address, AuxSecurityHeader, Body, ExtAddress, Frame, FrameType, FrameVersion, KeyIdentifier,
    SecurityLevel, BROADCAST_SHORT,
};
use weft_mesh::thread::security::{key_index, secure, ThreadKeys};
use weft_mesh::{Bearer, Instant, RxFrame, Wire};
use weft_radio::capture::CaptureFile;
use weft_radio::Caps;

const SOURCE: [u8; 8] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
const PAN: u16 = 0xFACE;

fn network_key() -> [u8; 16] {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mesh/tests/data/thread-sample-data.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let k = hex::decode(v["key_derivation"][0]["network_key"].as_str().unwrap()).unwrap();
    k.try_into().unwrap()
}

/// An IPv6 datagram: fe80::(from SOURCE) to ff02::1, UDP 19789 → 19789 with `payload`.
fn udp_datagram(payload: &[u8]) -> Vec<u8> {
    let mut iid = SOURCE;
    iid[0] ^= 0x02;
    let mut src = [0u8; 16];
    src[0] = 0xfe;
    src[1] = 0x80;
    src[8..].copy_from_slice(&iid);
    let dst: Ipv6Addr = "ff02::1".parse().unwrap();
    let udp_len = 8 + payload.len() as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.push(17);
    p.push(255);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst.octets());
    let mut udp = Vec::new();
    udp.extend_from_slice(&19789u16.to_be_bytes());
    udp.extend_from_slice(&19789u16.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    // The UDP checksum over the pseudo-header (RFC 8200 §8.1).
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src);
    add(&dst.octets());
    add(&u32::from(udp_len).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(&udp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    udp[6..8].copy_from_slice(&(if ck == 0 { 0xffff } else { ck }).to_be_bytes());
    p.extend_from_slice(&udp);
    p
}

/// A data frame from SOURCE to the broadcast address carrying `payload`, secured at level 5
/// (ENC-MIC-32) with the MAC key of key sequence 0 when `secured`.
fn data_frame(seq: u8, payload: Vec<u8>, secured: bool) -> Vec<u8> {
    let frame = Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: false,
        ack_request: false,
        pan_id_compression: true,
        sequence_number: Some(seq),
        dst_pan: Some(PAN),
        dst: Address::Short(BROADCAST_SHORT),
        src_pan: None,
        src: Address::Extended(ExtAddress(SOURCE)),
        security: secured.then_some(AuxSecurityHeader {
            level: SecurityLevel::new(5),
            key_id: KeyIdentifier::Index(key_index(0)),
            frame_counter: Some(0x0000_0102),
            asn_in_nonce: false,
        }),
        header_ies: vec![],
        body: Body::Open {
            payload_ies: vec![],
            payload,
        },
    };
    if secured {
        let keys = ThreadKeys::derive(&network_key(), 0);
        secure(&frame, keys.mac(), ExtAddress(SOURCE))
            .unwrap()
            .to_vec()
    } else {
        frame.to_vec()
    }
}

fn frames() -> Vec<Vec<u8>> {
    let ll = LinkAddresses {
        src: Address::Extended(ExtAddress(SOURCE)),
        dst: Address::Short(BROADCAST_SHORT),
    };
    let lowpan = compress(&udp_datagram(b"weft wpan"), &ll, &Contexts::new()).unwrap();
    vec![
        data_frame(1, lowpan.clone(), false),
        data_frame(2, lowpan, true),
        // An acknowledgment (IEEE 802.15.4-2015 §7.3.3): frame control 0x0002, sequence 2.
        vec![0x02, 0x00, 0x02],
    ]
}

fn write_capture() -> PathBuf {
    let path = std::env::temp_dir().join(format!("weft-wpan-tshark-{}.pcapng", std::process::id()));
    let caps = Caps::IEEE802154;
    let mut c = CaptureFile::create(&path, caps).unwrap();
    let host = 1_700_000_000_000_000;
    for (i, bytes) in frames().into_iter().enumerate() {
        let f = RxFrame {
            lqi: None,
            bearer: Bearer::Ieee802154,
            channel: 15,
            rssi: Some(-50 - i as i8),
            timestamp: Instant::from_micros(1_000 + 2_000 * i as u64),
            adv_address: None,
            bytes,
        };
        let w = c.write_rx_at(&f, host + 10 * i as u64).unwrap();
        assert_eq!(w.link_type, 283);
    }
    c.finish().unwrap()
}

const FIELDS: [&str; 11] = [
    "frame.protocols",
    "wpan-tap.ch_num",
    "wpan-tap.rss",
    "wpan.seq_no",
    "wpan.fcs_ok",
    "wpan.aux_sec.sec_level",
    "udp.srcport",
    "data.data",
    "wpan.frame_type",
    "_ws.malformed",
    "_ws.expert.severity",
];

#[test]
fn tshark_reads_the_tap_packets_and_decrypts_with_the_thread_key() {
    let Some(bin) = tshark() else { return };
    let path = write_capture();
    let key = hex::encode(network_key());
    let with_key = vec![format!(
        "uat:ieee802154_keys:\"{key}\",\"1\",\"Thread hash\""
    )];
    let frames = run_tshark(&bin, &path, &with_key, &FIELDS);
    assert_eq!(frames.len(), 3);
    for (i, f) in frames.iter().enumerate() {
        assert!(f["frame.protocols"].starts_with("wpan-tap"), "{i}: {f:?}");
        assert_eq!(num(&f["wpan-tap.ch_num"]), 15, "{i}");
        assert!(
            f["wpan-tap.rss"].starts_with(&format!("-{}", 50 + i)),
            "{i}: {f:?}"
        );
        assert_eq!(f["wpan.fcs_ok"], "1", "{i}: FCS {f:?}");
        assert!(f["_ws.malformed"].is_empty(), "{i}: malformed {f:?}");
        for sev in f["_ws.expert.severity"]
            .split(',')
            .filter(|s| !s.is_empty())
        {
            assert!(
                num(sev) < PI_WARN,
                "{i}: expert info of severity {sev}: {f:?}"
            );
        }
    }
    let payload = hex::encode(b"weft wpan");
    // The open frame and the secured one, decrypted: the same datagram.
    for i in [0, 1] {
        assert_eq!(
            num(&frames[i]["udp.srcport"]),
            19789,
            "{i}: {:?}",
            frames[i]
        );
        assert_eq!(frames[i]["data.data"], payload, "{i}");
    }
    assert_eq!(num(&frames[1]["wpan.aux_sec.sec_level"]), 5);
    assert_eq!(num(&frames[2]["wpan.frame_type"]), 2, "an ack");

    // Without the key, the secured frame stays sealed (so the key is what decrypted it).
    let frames = run_tshark(&bin, &path, &[], &FIELDS);
    assert!(frames[1]["udp.srcport"].is_empty(), "{:?}", frames[1]);
    assert!(frames[1]["_ws.malformed"].is_empty());
    assert_eq!(num(&frames[0]["udp.srcport"]), 19789);
    let _ = std::fs::remove_file(path);
}

/// The TLVs weft can write but captures of `RxFrame`s do not carry yet (the LQI), as Wireshark
/// reads them.
#[test]
fn tshark_reads_every_tlv_weft_writes() {
    use weft_radio::ieee802154_tap::frame_packet;
    use weft_radio::pcap::{PcapWriter, LINKTYPE_IEEE802_15_4_TAP};
    let Some(bin) = tshark() else { return };
    let path = std::env::temp_dir().join(format!("weft-wpan-tlv-{}.pcapng", std::process::id()));
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    w.interface(LINKTYPE_IEEE802_15_4_TAP).unwrap();
    let p = frame_packet(&[0x02, 0x00, 0x2A], 26, Some(-90), Some(201));
    w.write_packet(LINKTYPE_IEEE802_15_4_TAP, Instant::from_micros(1), &p)
        .unwrap();
    w.flush().unwrap();
    drop(w);
    let fields = [
        "wpan-tap.fcs_type",
        "wpan-tap.ch_num",
        "wpan-tap.rss",
        "wpan-tap.lqi",
        "wpan.fcs_ok",
        "wpan.seq_no",
        "_ws.malformed",
    ];
    let f = &run_tshark(&bin, &path, &[], &fields)[0];
    assert_eq!(num(&f["wpan-tap.fcs_type"]), 1, "{f:?}");
    assert_eq!(num(&f["wpan-tap.ch_num"]), 26);
    assert!(f["wpan-tap.rss"].starts_with("-90"), "{f:?}");
    assert_eq!(num(&f["wpan-tap.lqi"]), 201);
    assert_eq!(f["wpan.fcs_ok"], "1");
    assert_eq!(num(&f["wpan.seq_no"]), 42);
    assert!(f["_ws.malformed"].is_empty());
    let _ = std::fs::remove_file(path);
}
