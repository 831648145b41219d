//! weft's captures open in Wireshark: tshark 4.x reads a pcapng of Bluetooth Mesh sample
//! messages (Mesh Protocol 1.1 §8.3: messages 1, 6 (both segments), 16, 18 and 22) carried as
//! Mesh Message AD structures in ADV_NONCONN_IND packets, checks their CRC, and with the
//! sample keys decrypts the access payloads.
//!
//! tshark comes from the Debian package `tshark`, which CI installs. Without it these tests
//! fail, unless `WEFT_SKIP_TSHARK=1` is set.

#[path = "support/tshark.rs"]
mod support;
use support::{num, run_tshark, tshark, Frame, PI_WARN};

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use weft_mesh::ble::wire::access::Opcode;
use weft_mesh::ble::wire::adv::{AdStructure, AD_TYPE_MESH_MESSAGE};
use weft_mesh::ble::wire::Wire;
use weft_mesh::Instant;
use weft_radio::ble_ll::{
    ble_adv_nonconn_ind, ble_crc24, ble_ll_phdr_packet, crc24_to_air, parse_ble_adv,
    rf_channel_of_index, BleLlPhdr, ADV_CRC_INIT, PDU_ADV_NONCONN_IND, PHDR_DEWHITENED,
};
use weft_radio::pcap::{read_all_packets, PcapWriter, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR};

const SAMPLE_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mesh/tests/data/btmesh-sample-data.json"
);

/// The sample messages captured, by the start of their `name` in the data file.
const MESSAGES: [&str; 6] = [
    "message 1:",
    "message 6 segment 0:",
    "message 6 segment 1:",
    "message 16:",
    "message 18:",
    "message 22:",
];

/// Capture timestamps: 1.7e9 s after the Unix epoch, 20 ms apart.
const T0_US: u64 = 1_700_000_000_000_000;
const STEP_US: u64 = 20_000;

/// The sample data file and the captured messages, in capture order.
fn load() -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(SAMPLE_DATA).expect("read the sample data");
    let data: Value = serde_json::from_str(&text).expect("parse the sample data");
    let pdus = data["network_pdus"].as_array().expect("network_pdus");
    let chosen = MESSAGES
        .iter()
        .map(|prefix| {
            pdus.iter()
                .find(|m| m["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
                .unwrap_or_else(|| panic!("{prefix} missing from the sample data"))
                .clone()
        })
        .collect();
    (data, chosen)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(text(v, key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

fn hex_num(v: &Value, key: &str) -> u64 {
    u64::from_str_radix(text(v, key), 16).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The ADV_NONCONN_IND link-layer packet (access address to CRC) carrying `msg`'s network PDU
/// as one Mesh Message AD structure (MshPRT §3.3.1).
fn ll_packet(msg: &Value) -> Vec<u8> {
    // A static random address (two most significant bits set), least significant octet first.
    let adv_address = [0x01, 0x02, 0x03, 0x04, 0x05, 0xC6];
    let ad = AdStructure::new(AD_TYPE_MESH_MESSAGE, hex_field(msg, "network_pdu"))
        .expect("AD structure")
        .to_vec();
    ble_adv_nonconn_ind(adv_address, true, &ad).expect("ADV_NONCONN_IND")
}

/// The advertising channel packet `i` is sent on: 37, 38, 39, 37, ...
fn channel(i: usize) -> u8 {
    37 + (i % 3) as u8
}

fn write_capture(path: &Path, packets: &[Vec<u8>]) {
    let file = std::fs::File::create(path).expect("create the capture");
    let mut w = PcapWriter::new(std::io::BufWriter::new(file)).expect("pcapng header");
    for (i, p) in packets.iter().enumerate() {
        let ts = Instant::from_micros(T0_US + STEP_US * i as u64);
        w.write_packet(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, ts, p)
            .expect("write a packet");
    }
    w.flush().expect("flush");
}

const FIELDS: [&str; 19] = [
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "btle_rf.channel",
    "btle_rf.signal_dbm",
    "btle.advertising_header.pdu_type",
    "btle.crc",
    "btle.crc.incorrect",
    "btcommon.eir_ad.entry.type",
    "btmesh.src",
    "btmesh.dst",
    "btmesh.seq",
    "btmesh.cntr.opcode",
    "btmesh.access.decrypted",
    "btmesh.model.opcode",
    "btmesh.model.vendor.opcode",
    "btmesh.model.vendor",
    "_ws.malformed",
    "_ws.expert.severity",
];

/// Asserts what holds of every frame: BLE advertising, Mesh Message AD, no warning or error.
fn assert_clean(f: &Frame, i: usize, name: &str) {
    assert!(
        f["frame.protocols"].contains("btle_rf:btle:btcommon:btmesh"),
        "{name}: protocols {}",
        f["frame.protocols"]
    );
    assert_eq!(
        num(&f["btle_rf.channel"]),
        u64::from(rf_channel_of_index(channel(i)).unwrap()),
        "{name}: RF channel"
    );
    assert_eq!(
        num(&f["btle.advertising_header.pdu_type"]),
        u64::from(PDU_ADV_NONCONN_IND),
        "{name}"
    );
    assert!(!f["btle.crc"].is_empty(), "{name}: no CRC");
    assert!(f["btle.crc.incorrect"].is_empty(), "{name}: incorrect CRC");
    assert_eq!(
        num(&f["btcommon.eir_ad.entry.type"]),
        u64::from(AD_TYPE_MESH_MESSAGE),
        "{name}: AD type"
    );
    assert!(f["_ws.malformed"].is_empty(), "{name}: malformed");
    for sev in f["_ws.expert.severity"]
        .split(',')
        .filter(|s| !s.is_empty())
    {
        assert!(num(sev) < PI_WARN, "{name}: expert info of severity {sev}");
    }
}

#[test]
fn tshark_decodes_and_decrypts_the_sample_messages() {
    let (data, msgs) = load();
    let packets: Vec<Vec<u8>> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            ble_ll_phdr_packet(channel(i), Some(-40 - i as i8), &ll_packet(m)).expect("phdr")
        })
        .collect();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("weft-btmesh-samples.pcapng");
    write_capture(&path, &packets);

    // weft reads its own capture back.
    let read = read_all_packets(&std::fs::read(&path).unwrap()).expect("read back");
    assert_eq!(read.len(), msgs.len());
    for (i, (p, m)) in read.iter().zip(&msgs).enumerate() {
        assert_eq!(p.link_type, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR);
        assert_eq!(p.timestamp.as_micros(), T0_US + STEP_US * i as u64);
        let adv = parse_ble_adv(&p.data).expect("parse back");
        assert!(adv.crc_ok);
        assert_eq!(adv.channel, channel(i));
        assert_eq!(adv.rssi, Some(-40 - i as i8));
        assert_eq!(adv.pdu_type, PDU_ADV_NONCONN_IND);
        let ads = AdStructure::parse_all(&adv.adv_data).unwrap();
        assert_eq!(ads.len(), 1);
        assert_eq!(ads[0].ad_type, AD_TYPE_MESH_MESSAGE);
        assert_eq!(ads[0].data, hex_field(m, "network_pdu"));
    }

    let Some(bin) = tshark() else { return };
    let keys = &data["keys"];
    let mut prefs = Vec::new();
    // «Mesh Keys» table (btmesh_nw_keys): Network Key, Application Key, IVindex; one row per
    // IV index the messages use.
    let mut ivs: Vec<&str> = msgs.iter().map(|m| text(m, "iv_index")).collect();
    ivs.sort_unstable();
    ivs.dedup();
    for iv in ivs {
        prefs.push(format!(
            "uat:btmesh_nw_keys:\"0x{}\",\"0x{}\",\"0x{iv}\"",
            text(keys, "net_key"),
            text(keys, "app_key"),
        ));
    }
    // «Device Keys» table (btmesh_dev_keys): Device Key, SRC Address. The sample's device key
    // is node 0x1201's; messages under it run both ways between 0x1201 and 0x0003.
    for m in &msgs {
        if m["key"].as_str() == Some("dev_key") {
            for addr in [text(m, "src"), text(m, "dst")] {
                let row = format!(
                    "uat:btmesh_dev_keys:\"0x{}\",\"0x{addr}\"",
                    text(keys, "dev_key")
                );
                if !prefs.contains(&row) {
                    prefs.push(row);
                }
            }
        }
    }
    // «Label UUIDs» table (btmesh_label_uuids).
    for m in &msgs {
        if let Some(label) = m["label_uuid"].as_str() {
            prefs.push(format!("uat:btmesh_label_uuids:\"0x{label}\""));
        }
    }

    let frames = run_tshark(&bin, &path, &prefs, &FIELDS);
    assert_eq!(frames.len(), msgs.len(), "one frame per message");
    for (i, (f, m)) in frames.iter().zip(&msgs).enumerate() {
        let name = text(m, "name");
        assert_clean(f, i, name);
        // if_tsresol = 6: tshark reads the microseconds as written.
        let t = T0_US + STEP_US * i as u64;
        assert_eq!(
            f["frame.time_epoch"],
            format!("{}.{:06}000", t / 1_000_000, t % 1_000_000),
            "{name}: timestamp"
        );
        assert_eq!(
            f["btle_rf.signal_dbm"],
            (-40 - i as i64).to_string(),
            "{name}: dBm"
        );
        // Decrypted network layer.
        assert_eq!(num(&f["btmesh.src"]), hex_num(m, "src"), "{name}: SRC");
        assert_eq!(num(&f["btmesh.dst"]), hex_num(m, "dst"), "{name}: DST");
        assert_eq!(num(&f["btmesh.seq"]), hex_num(m, "seq"), "{name}: SEQ");
        if m["ctl"].as_u64() == Some(1) {
            // Unsegmented control message: SEG (1 bit) || Opcode (7 bits) (MshPRT §3.5.2.3.1).
            let opcode = hex_field(m, "lower_transport_pdu")[0] & 0x7F;
            assert_eq!(num(&f["btmesh.cntr.opcode"]), u64::from(opcode), "{name}");
            continue;
        }
        let payload = text(m, "access_payload");
        if text(m, "name").contains("segment 0") {
            // The access payload appears on the frame that completes the reassembly.
            assert!(f["btmesh.access.decrypted"].is_empty(), "{name}");
            continue;
        }
        assert_eq!(
            f["btmesh.access.decrypted"].replace(':', ""),
            payload,
            "{name}: decrypted access payload"
        );
        let (opcode, _) = Opcode::parse(&hex::decode(payload).unwrap()).expect("opcode");
        match opcode {
            Opcode::One(op) => assert_eq!(num(&f["btmesh.model.opcode"]), u64::from(op)),
            Opcode::Two(op) => assert_eq!(num(&f["btmesh.model.opcode"]), u64::from(op)),
            Opcode::Vendor { opcode, company_id } => {
                assert_eq!(
                    num(&f["btmesh.model.vendor.opcode"]) & 0x3F,
                    u64::from(opcode)
                );
                assert_eq!(num(&f["btmesh.model.vendor"]), u64::from(company_id));
            }
        }
    }
}

/// tshark computes the CRC of advertising packets itself when the pseudo-header does not say
/// it was checked: it agrees with weft's CRC-24, and flags a corrupted one. A packet whose
/// PDU Length runs past its end shows as malformed. (These show that the checks of the test
/// above can fail.)
#[test]
fn tshark_checks_the_crc_itself_and_flags_bad_packets() {
    let (_, msgs) = load();
    let (corrupt, overlong) = (1, 2);
    let mut lls = Vec::new();
    let packets: Vec<Vec<u8>> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut ll = ll_packet(m);
            let n = ll.len();
            if i == corrupt {
                ll[n - 1] ^= 0x01;
            }
            if i == overlong {
                ll[5] += 8;
                let crc = crc24_to_air(ble_crc24(ADV_CRC_INIT, &ll[4..n - 3]));
                ll[n - 3..].copy_from_slice(&crc);
            }
            lls.push(ll.clone());
            let phdr = BleLlPhdr {
                rf_channel: rf_channel_of_index(channel(i)).unwrap(),
                signal_dbm: None,
                noise_dbm: None,
                access_address_offenses: None,
                reference_access_address: None,
                crc_checked: None,
                other_flags: PHDR_DEWHITENED,
            };
            let mut p = phdr.to_bytes().to_vec();
            p.extend_from_slice(&ll);
            p
        })
        .collect();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("weft-crc-unchecked.pcapng");
    write_capture(&path, &packets);

    let Some(bin) = tshark() else { return };
    let frames = run_tshark(&bin, &path, &[], &FIELDS);
    assert_eq!(frames.len(), msgs.len());
    for (i, (f, ll)) in frames.iter().zip(&lls).enumerate() {
        let name = text(&msgs[i], "name");
        if i == overlong {
            assert!(!f["_ws.malformed"].is_empty(), "{name}: not malformed");
            continue;
        }
        // tshark's CRC field is the register value, position 23 as the most significant bit.
        let crc = ble_crc24(ADV_CRC_INIT, &ll[4..ll.len() - 3]);
        if i == corrupt {
            assert!(!f["btle.crc.incorrect"].is_empty(), "{name}: corrupt CRC");
            assert_ne!(num(&f["btle.crc"]), u64::from(crc));
            continue;
        }
        assert_clean(f, i, name);
        assert_eq!(num(&f["btle.crc"]), u64::from(crc), "{name}: CRC");
    }
}

/// A capture mixing link types (one Interface Description Block each, the second written after
/// the first packets) opens with each packet decoded by its own dissector.
#[test]
fn tshark_reads_mixed_link_types() {
    let (_, msgs) = load();
    let ble = ble_ll_phdr_packet(37, Some(-50), &ll_packet(&msgs[0])).unwrap();
    // An IEEE 802.15.4 Imm-Ack frame without FCS: Frame Control 0x0002, Sequence Number 0x2A
    // (IEEE 802.15.4-2015 §7.2.1, §7.3.3).
    let ack = [0x02, 0x00, 0x2A];
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("weft-mixed.pcapng");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
    let t = |i: u64| Instant::from_micros(T0_US + i);
    w.write_packet(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, t(0), &ble)
        .unwrap();
    w.write_packet(weft_radio::pcap::LINKTYPE_IEEE802_15_4_NOFCS, t(1), &ack)
        .unwrap();
    w.write_packet(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, t(2), &ble)
        .unwrap();
    w.flush().unwrap();
    drop(w);

    let Some(bin) = tshark() else { return };
    let out = Command::new(&bin)
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields", "-e", "frame.protocols", "-e", "wpan.seq_no"])
        .args(["-e", "_ws.malformed"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    eprintln!("{stdout}");
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0][0].contains("btle_rf:btle"), "{:?}", lines[0]);
    assert!(lines[1][0].starts_with("wpan"), "{:?}", lines[1]);
    assert_eq!(lines[1][1], "42");
    assert!(lines[2][0].contains("btle_rf:btle"), "{:?}", lines[2]);
    assert!(lines.iter().all(|l| l[2].is_empty()), "malformed");
}
