use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::*;
use crate::thread::mac::{fcs, ExtAddress};
use crate::thread::mle::{command, LeaderData, MlePayload, Route64, Tlv};
use crate::thread::security::{KeyManager, ThreadKeys};

/// A small network built with the core's own encoders: router 19 (leader, RLOC16 4c00) and
/// router 6 (1800) hear each other; child 4c03 attaches to router 19 and sends it a secured
/// data frame.
pub(crate) mod scenario {
    use super::*;

    pub const NETWORK_KEY: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];
    pub const PAN: u16 = 0xface;
    pub const PARTITION: u32 = 0x5e3a_91c2;
    pub const R19: ExtAddress = ExtAddress([0xe2, 0xd9, 0xc6, 0xbe, 0x5c, 0xc3, 0x0e, 0x9b]);
    pub const R6: ExtAddress = ExtAddress([0x16, 0x6e, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x06]);
    pub const CHILD: ExtAddress = ExtAddress([0x5a, 0x11, 0xc0, 0xff, 0xee, 0x00, 0x40, 0x03]);
    pub const MESH_LOCAL: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00];

    pub fn keys() -> ThreadKeys {
        ThreadKeys::derive(&NETWORK_KEY, 0)
    }

    pub fn leader_data() -> Tlv {
        Tlv::LeaderData(LeaderData {
            partition_id: PARTITION,
            weighting: 64,
            data_version: 3,
            stable_data_version: 2,
            leader_router_id: 19,
        })
    }

    /// A Route64 TLV listing routers 6 and 19 with `(lq_out, lq_in, cost)` for each.
    pub fn route64(r6: (u8, u8, u8), r19: (u8, u8, u8)) -> Tlv {
        let octet = |(o, i, c): (u8, u8, u8)| (o << 6) | (i << 4) | c;
        let mut mask = [0u8; 8];
        mask[0] = 0x80 >> 6;
        mask[2] = 0x80 >> 3; // router 19: octet 2, bit 3
        Tlv::Route64(Route64 {
            id_sequence: 7,
            router_mask: mask,
            route_data: vec![octet(r6), octet(r19)],
        })
    }

    fn spec(src: ExtAddress, dst: crate::thread::mac::Address, seq: u8) -> FrameSpec {
        FrameSpec {
            pan_id: PAN,
            seq,
            src: crate::thread::mac::Address::Extended(src),
            dst,
            src_ext: src,
            mac_frame_counter: None,
        }
    }

    pub fn advertisement(from: ExtAddress, rloc16: u16, route: Tlv, fc: u32) -> Vec<u8> {
        let p = MlePayload {
            command: command::ADVERTISEMENT,
            tlvs: vec![Tlv::SourceAddress(rloc16), leader_data(), route],
        };
        let s = spec(from, crate::thread::mac::Address::Short(0xffff), fc as u8);
        mle_psdu(&s, &keys(), fc, "ff02::1".parse().unwrap(), &p).unwrap()
    }

    pub fn adv19() -> Vec<u8> {
        advertisement(R19, 0x4c00, route64((3, 3, 1), (0, 0, 1)), 10)
    }

    pub fn adv6() -> Vec<u8> {
        advertisement(R6, 0x1800, route64((0, 0, 1), (3, 2, 1)), 20)
    }

    pub fn child_id_response() -> Vec<u8> {
        let p = MlePayload {
            command: command::CHILD_ID_RESPONSE,
            tlvs: vec![
                Tlv::SourceAddress(0x4c00),
                leader_data(),
                Tlv::Address16(0x4c03),
            ],
        };
        let s = spec(R19, crate::thread::mac::Address::Extended(CHILD), 11);
        mle_psdu(&s, &keys(), 11, link_local(CHILD), &p).unwrap()
    }

    pub fn mesh_local(rloc16: u16) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&MESH_LOCAL);
        a[11] = 0xff;
        a[12] = 0xfe;
        a[14..].copy_from_slice(&rloc16.to_be_bytes());
        Ipv6Addr::from(a)
    }

    pub fn contexts() -> crate::thread::lowpan::Contexts {
        let mut p = [0u8; 16];
        p[..8].copy_from_slice(&MESH_LOCAL);
        crate::thread::lowpan::Contexts::new()
            .with(0, crate::thread::lowpan::Context::new(p.into(), 64))
    }

    /// A secured data frame from child 4c03 to its parent: CoAP-sized UDP to port 5683.
    pub fn child_data(payload_len: usize) -> Vec<u8> {
        let packet = udp_packet(
            mesh_local(0x4c03),
            mesh_local(0x4c00),
            49152,
            5683,
            64,
            &vec![0x42; payload_len],
        );
        let s = FrameSpec {
            pan_id: PAN,
            seq: 40,
            src: crate::thread::mac::Address::Short(0x4c03),
            dst: crate::thread::mac::Address::Short(0x4c00),
            src_ext: CHILD,
            mac_frame_counter: Some(1000),
        };
        data_psdu(&s, &keys(), &packet, &contexts()).unwrap()
    }

    pub fn sniffer() -> ThreadSniffer {
        ThreadSniffer::new(KeyManager::new(NETWORK_KEY, 0))
    }
}

use scenario::*;

fn now() -> Instant {
    Instant::from_micros(1_000_000)
}

#[test]
fn advertisement_decodes_through_every_layer() {
    let mut s = sniffer();
    let psdu = adv19();
    let d = s.decode(now(), &psdu, Fcs::Present);
    assert_eq!(d.error, None, "{d:?}");
    let mac = d.mac.as_ref().unwrap();
    assert_eq!(mac.frame_type, "data");
    assert_eq!(mac.fcs_ok, Some(true));
    assert_eq!(mac.src.as_deref(), Some("e2d9c6be5cc30e9b"));
    assert_eq!(mac.dst.as_deref(), Some("ffff"));
    assert_eq!(mac.dst_pan.as_deref(), Some("face"));
    assert!(d.security.is_none(), "MLE is secured above the MAC layer");
    assert_eq!(d.lowpan.as_ref().unwrap().dispatch, "iphc");
    let ip = d.ipv6.as_ref().unwrap();
    assert_eq!(ip.src, link_local(R19));
    assert_eq!(ip.dst, "ff02::1".parse::<Ipv6Addr>().unwrap());
    assert_eq!((ip.hop_limit, ip.protocol), (255, 17));
    let udp = d.udp.as_ref().unwrap();
    assert_eq!((udp.src_port, udp.dst_port), (19788, 19788));
    let mle = d.mle.as_ref().unwrap();
    assert_eq!(
        (mle.command_name, mle.key_sequence, mle.frame_counter),
        ("advertisement", Some(0), Some(10))
    );
    assert_eq!(
        mle.tlvs[0],
        TlvInfo::SourceAddress {
            rloc16: "4c00".into()
        }
    );
    let TlvInfo::Route64 { routes, .. } = &mle.tlvs[2] else {
        panic!("{:?}", mle.tlvs[2]);
    };
    assert_eq!(
        routes.as_ref().unwrap()[0],
        RouteEntry {
            router_id: 6,
            lq_out: 3,
            lq_in: 3,
            cost: 1
        }
    );
    // JSON: the TLV is tagged with its name.
    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(j["mle"]["tlvs"][1]["tlv"], "leader_data");
    assert_eq!(j["mle"]["tlvs"][1]["partition_id"], "5e3a91c2");
    assert_eq!(s.ext_address_of(0x4c00), Some(R19), "learnt from the MLE");
    assert_eq!((s.stats().decoded, s.stats().mle_messages), (1, 1));
    // Without its FCS, given as such, the same.
    let d2 = s.decode(now(), &psdu[..psdu.len() - 2], Fcs::Absent);
    assert_eq!(
        d2.mle.as_ref().map(|m| m.command),
        Some(command::ADVERTISEMENT)
    );
    assert_eq!(d2.mac.unwrap().fcs_ok, None);
}

#[test]
fn child_id_response_teaches_the_child_address() {
    let mut s = sniffer();
    let d = s.decode(now(), &child_id_response(), Fcs::Present);
    assert_eq!(d.error, None, "{d:?}");
    let mle = d.mle.unwrap();
    assert_eq!(mle.command_name, "child id response");
    assert!(mle.tlvs.contains(&TlvInfo::Address16 {
        rloc16: "4c03".into()
    }));
    assert_eq!(s.ext_address_of(0x4c03), Some(CHILD));
}

#[test]
fn secured_data_frame_needs_the_source_extended_address() {
    let mut s = sniffer();
    let data = child_data(20);
    let d = s.decode(now(), &data, Fcs::Present);
    let e = d.error.as_ref().unwrap();
    assert_eq!(
        (e.layer, e.kind),
        (Layer::Security, ErrorKind::UnknownSource)
    );
    assert!(e.reason.contains("4c03"), "{}", e.reason);
    let sec = d.security.as_ref().unwrap();
    assert_eq!((sec.level, sec.key_id_mode, sec.key_index), (5, 1, Some(1)));
    assert_eq!((sec.frame_counter, sec.decrypted), (Some(1000), false));
    assert_eq!(s.stats().unknown_source, 1);

    // After the Child ID Response the same frame opens; the mesh-local context is unknown, so
    // the prefix shows as zeros and the report says so.
    s.decode(now(), &child_id_response(), Fcs::Present);
    let d = s.decode(now(), &data, Fcs::Present);
    assert_eq!(d.error, None, "{d:?}");
    let sec = d.security.as_ref().unwrap();
    assert_eq!((sec.decrypted, sec.key_sequence), (true, Some(0)));
    assert!(d.lowpan.as_ref().unwrap().unknown_context);
    let ip = d.ipv6.as_ref().unwrap();
    assert_eq!(ip.src, "::ff:fe00:4c03".parse::<Ipv6Addr>().unwrap());
    let udp = d.udp.as_ref().unwrap();
    assert_eq!((udp.src_port, udp.dst_port, udp.length), (49152, 5683, 28));
    assert_eq!(
        udp.payload.as_ref().map(ToString::to_string).as_deref(),
        Some("42".repeat(20).as_str())
    );

    // With the mesh-local prefix given, the addresses are whole.
    s.set_context(0, contexts().get(0).copied().unwrap());
    let d = s.decode(now(), &data, Fcs::Present);
    assert!(!d.lowpan.as_ref().unwrap().unknown_context);
    assert_eq!(d.ipv6.unwrap().dst, mesh_local(0x4c00));
    assert_eq!(s.stats().decrypted, 2);
}

/// A secured data frame from the child with its own frame counter and sequence number.
fn child_frame(fc: u32, seq: u8) -> Vec<u8> {
    let packet = udp_packet(
        mesh_local(0x4c03),
        mesh_local(0x4c00),
        49152,
        5683,
        64,
        &[1, 2, 3],
    );
    let spec = FrameSpec {
        pan_id: PAN,
        seq,
        src: crate::thread::mac::Address::Short(0x4c03),
        dst: crate::thread::mac::Address::Short(0x4c00),
        src_ext: CHILD,
        mac_frame_counter: Some(fc),
    };
    data_psdu(&spec, &keys(), &packet, &contexts()).unwrap()
}

#[test]
fn retransmissions_and_replays_are_marked_and_counted_not_errors() {
    let mut s = sniffer();
    s.learn(0x4c03, CHILD);
    let first = s.decode(now(), &child_frame(500, 7), Fcs::Present);
    let sec = first.security.as_ref().unwrap();
    assert!(sec.decrypted && !sec.retransmission && !sec.replayed);
    // The same frame again (its ack was lost): a retransmission, decoded, no error.
    let again = s.decode(now(), &child_frame(500, 7), Fcs::Present);
    assert_eq!(again.error, None);
    let sec = again.security.as_ref().unwrap();
    assert!(sec.retransmission && !sec.replayed);
    assert!(again.udp.is_some(), "a retransmission is decoded whole");
    // The same counter under another sequence number, or a lower counter: replays.
    let replay = s.decode(now(), &child_frame(500, 8), Fcs::Present);
    assert!(replay.security.as_ref().unwrap().replayed);
    let older = s.decode(now(), &child_frame(499, 9), Fcs::Present);
    assert!(older.security.as_ref().unwrap().replayed);
    let next = s.decode(now(), &child_frame(501, 10), Fcs::Present);
    assert!(!next.security.as_ref().unwrap().replayed);
    let st = s.stats();
    assert_eq!((st.retransmissions, st.replays, st.decoded), (1, 2, 5));
    // MLE counters are kept apart: an Advertisement heard twice is an MLE replay.
    let adv = adv19();
    assert!(!s.decode(now(), &adv, Fcs::Present).mle.unwrap().replayed);
    assert!(s.decode(now(), &adv, Fcs::Present).mle.unwrap().replayed);
    assert_eq!(s.stats().replays, 3);
}

/// An MLE Data Response from router 19 carrying `tlvs`.
fn data_response(tlvs: Vec<Tlv>, fc: u32) -> Vec<u8> {
    let p = MlePayload {
        command: command::DATA_RESPONSE,
        tlvs,
    };
    let s = FrameSpec {
        pan_id: PAN,
        seq: fc as u8,
        src: crate::thread::mac::Address::Extended(R19),
        dst: crate::thread::mac::Address::Short(0xffff),
        src_ext: R19,
        mac_frame_counter: None,
    };
    mle_psdu(&s, &keys(), fc, "ff02::1".parse().unwrap(), &p).unwrap()
}

#[test]
fn the_mesh_local_prefix_is_learnt_from_an_active_dataset() {
    let mut s = sniffer();
    s.learn(0x4c03, CHILD);
    let d = s.decode(now(), &child_frame(1, 1), Fcs::Present);
    assert!(d.lowpan.as_ref().unwrap().unknown_context);
    // MeshCoP Mesh Local Prefix TLV (type 7) in an Active Dataset TLV.
    let mut ds = vec![7, 8];
    ds.extend_from_slice(&MESH_LOCAL);
    s.decode(
        now(),
        &data_response(vec![Tlv::ActiveDataset(ds)], 30),
        Fcs::Present,
    );
    let d = s.decode(now(), &child_frame(2, 2), Fcs::Present);
    assert!(!d.lowpan.as_ref().unwrap().unknown_context);
    assert_eq!(d.ipv6.unwrap().dst, mesh_local(0x4c00));
    // The context in force is the learnt one.
    assert_eq!(
        s.context(0).map(|c| c.prefix[..8].to_vec()),
        Some(MESH_LOCAL.to_vec())
    );
}

#[test]
fn network_data_is_reported_and_its_contexts_learnt() {
    let mut s = sniffer();
    s.learn(0x4c03, CHILD);
    // Prefix fd de ad 00 be ef 00 00 /64 with Border Router 4c00 and Context 0, /64.
    let mut nd = vec![0x03, 0x14, 0x00, 0x40];
    nd.extend_from_slice(&MESH_LOCAL);
    nd.extend_from_slice(&[0x05, 0x04, 0x4c, 0x00, 0x31, 0x00, 0x07, 0x02, 0x10, 0x40]);
    let d = s.decode(
        now(),
        &data_response(vec![leader_data(), Tlv::NetworkData(nd)], 31),
        Fcs::Present,
    );
    assert_eq!(d.error, None);
    let net = d.mle.as_ref().unwrap().network_data.as_ref().unwrap();
    assert_eq!((net[0].tlv, net[0].stable), ("prefix", true));
    assert_eq!(net[0].fields, "prefix=fdde:ad00:beef::/64 domain_id=0");
    assert_eq!(net[0].sub_tlvs[1].tlv, "context");
    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(
        j["mle"]["network_data"][0]["sub_tlvs"][0]["tlv"],
        "border_router"
    );
    let d = s.decode(now(), &child_frame(3, 3), Fcs::Present);
    assert!(!d.lowpan.as_ref().unwrap().unknown_context);
    assert_eq!(d.ipv6.unwrap().src, mesh_local(0x4c03));
}

#[test]
fn errors_say_why() {
    let mut s = sniffer();
    let mut bad = adv19();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let d = s.decode(now(), &bad, Fcs::Present);
    assert_eq!(d.error.as_ref().unwrap().kind, ErrorKind::BadFcs);
    assert!(d.mac.is_none());

    // A secured frame under another network key: auth failed at the MAC layer.
    let mut other = ThreadSniffer::new(KeyManager::new([0x99; 16], 0));
    other.learn(0x4c03, CHILD);
    let d = other.decode(now(), &child_data(4), Fcs::Present);
    let e = d.error.unwrap();
    assert_eq!((e.layer, e.kind), (Layer::Security, ErrorKind::AuthFailed));
    // ... and at the MLE layer for an advertisement.
    let d = other.decode(now(), &adv19(), Fcs::Present);
    let e = d.error.unwrap();
    assert_eq!((e.layer, e.kind), (Layer::Mle, ErrorKind::AuthFailed));
    assert!(d.udp.is_some(), "layers below the error are kept");

    // A key index no held key has (key sequence 5 while the frame uses 0's index 1).
    let mut far = ThreadSniffer::new(KeyManager::new(NETWORK_KEY, 5));
    far.learn(0x4c03, CHILD);
    let d = far.decode(now(), &child_data(4), Fcs::Present);
    assert_eq!(d.error.unwrap().kind, ErrorKind::UnknownKey);

    // Truncated and malformed MAC headers.
    let d = s.decode(now(), &[0x41], Fcs::Absent);
    assert_eq!(d.error.unwrap().kind, ErrorKind::Truncated);
    let d = s.decode(now(), &[0x07, 0x00, 0x01], Fcs::Absent);
    assert_eq!(d.error.unwrap().kind, ErrorKind::Malformed);
    let st = s.stats();
    assert_eq!((st.bad_fcs, st.mac_errors), (1, 2));
    assert_eq!(other.stats().auth_failed, 1);
    assert_eq!(other.stats().mle_errors, 1);
}

#[test]
fn fragments_are_reassembled() {
    let mut s = sniffer();
    s.decode(now(), &child_id_response(), Fcs::Present);
    let packet = udp_packet(
        mesh_local(0x4c03),
        mesh_local(0x4c00),
        49152,
        5683,
        64,
        &(0..200u8).collect::<Vec<_>>(),
    );
    let spec = FrameSpec {
        pan_id: PAN,
        seq: 1,
        src: crate::thread::mac::Address::Short(0x4c03),
        dst: crate::thread::mac::Address::Short(0x4c00),
        src_ext: CHILD,
        mac_frame_counter: Some(50),
    };
    let frags = fragmented_psdus(&spec, &keys(), &packet, &contexts(), 80, 0x1234).unwrap();
    assert_eq!(frags.len(), 3);
    let mut out = Vec::new();
    for f in &frags {
        out.push(s.decode(now(), f, Fcs::Present));
    }
    let first = &out[0];
    assert_eq!(first.error, None, "{first:?}");
    let fi = first.lowpan.as_ref().unwrap().fragment.as_ref().unwrap();
    assert_eq!(
        (fi.size, fi.tag, fi.offset, fi.complete),
        (248, 0x1234, 0, false)
    );
    assert_eq!(
        first.udp.as_ref().unwrap().dst_port,
        5683,
        "from the first fragment"
    );
    assert_eq!(out[1].lowpan.as_ref().unwrap().dispatch, "fragment");
    let last = &out[2];
    assert_eq!(last.error, None);
    assert!(
        last.lowpan
            .as_ref()
            .unwrap()
            .fragment
            .as_ref()
            .unwrap()
            .complete
    );
    let udp = last.udp.as_ref().unwrap();
    assert_eq!(udp.length, 208);
    assert_eq!(
        udp.payload.as_ref().map(|p| p.0.clone()),
        Some((0..200u8).collect::<Vec<_>>())
    );
    assert_eq!((s.stats().fragments_held, s.stats().reassembled), (2, 1));
}

/// The sample MLE Advertisement (mesh/tests/data/thread-sample-data.json) put in UDP, IPv6,
/// 6LoWPAN and an 802.15.4 frame from its sender, decoded through the whole path.
#[test]
fn sample_advertisement_through_the_whole_path() {
    let text = include_str!("../../../tests/data/thread-sample-data.json");
    let j: serde_json::Value = serde_json::from_str(text).unwrap();
    let m = &j["mle"][0];
    let h = |k: &str| hex::decode(m[k].as_str().unwrap()).unwrap();
    let key: [u8; 16] = h("network_key").try_into().unwrap();
    let src: Ipv6Addr = m["src_ipv6"].as_str().unwrap().parse().unwrap();
    let dst: Ipv6Addr = m["dst_ipv6"].as_str().unwrap().parse().unwrap();
    let ext = ExtAddress(h("src_ext_addr").try_into().unwrap());
    let mut msg = vec![0u8];
    msg.extend(h("aux_header"));
    msg.extend(h("ciphertext_and_mic"));
    let packet = udp_packet(src, dst, 19788, 19788, 255, &msg);
    let spec = FrameSpec {
        pan_id: 0xface,
        seq: 1,
        src: crate::thread::mac::Address::Extended(ext),
        dst: crate::thread::mac::Address::Short(0xffff),
        src_ext: ext,
        mac_frame_counter: None,
    };
    let seq = m["key_sequence"].as_u64().unwrap() as u32;
    let psdu = data_psdu(
        &spec,
        &ThreadKeys::derive(&key, seq),
        &packet,
        &crate::thread::lowpan::Contexts::new(),
    )
    .unwrap();
    let mut s = ThreadSniffer::new(KeyManager::new(key, seq));
    let d = s.decode(now(), &psdu, Fcs::Present);
    assert_eq!(d.error, None, "{d:?}");
    let mle = d.mle.as_ref().unwrap();
    let want = &m["decoded"];
    assert_eq!(mle.command_name, want["command"].as_str().unwrap());
    assert_eq!(
        mle.frame_counter,
        Some(m["frame_counter"].as_u64().unwrap() as u32)
    );
    let tlvs = serde_json::to_value(&mle.tlvs).unwrap();
    assert_eq!(tlvs[0]["rloc16"], want["source_address"]);
    let route = &tlvs[1];
    assert_eq!(route["tlv"], "route64");
    assert_eq!(route["id_sequence"], want["route64"]["id_sequence"]);
    assert_eq!(route["route_data"], want["route64"]["route_bytes"]);
    let ids: Vec<_> = route["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["router_id"].clone())
        .collect();
    assert_eq!(
        &serde_json::Value::from(ids),
        &want["route64"]["router_ids"]
    );
    let leader = &tlvs[2];
    for k in [
        "partition_id",
        "weighting",
        "data_version",
        "stable_data_version",
        "leader_router_id",
    ] {
        assert_eq!(leader[k], want["leader_data"][k], "{k}");
    }
    assert_eq!(d.mac.unwrap().fcs_ok, Some(true));
    assert_eq!(s.ext_address_of(0x0000), Some(ext));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..160)) {
        fuzz_decode(&data);
    }

    /// Built frames with random bit flips: never a panic, and a clean frame always decodes.
    #[test]
    fn mutated_frames_never_panic(which in 0usize..4, flips in proptest::collection::vec((0usize..200, 0u8..8), 0..4)) {
        let mut frame = match which {
            0 => adv19(),
            1 => adv6(),
            2 => child_id_response(),
            _ => child_data(30),
        };
        let mut s = sniffer();
        s.decode(now(), &child_id_response(), Fcs::Present);
        if flips.is_empty() {
            let d = s.decode(now(), &frame, Fcs::Present);
            prop_assert!(d.error.is_none(), "{:?}", d);
        }
        for (at, bit) in flips {
            let n = frame.len();
            frame[at % n] ^= 1 << bit;
        }
        let frame = fcs::append(&frame[..frame.len() - 2]);
        let d = s.decode(now(), &frame, Fcs::Present);
        let _ = serde_json::to_string(&d).unwrap();
    }
}

#[test]
fn reassembly_overflow_is_an_error() {
    let mut s = sniffer();
    s.decode(now(), &child_id_response(), Fcs::Present);
    let packet = udp_packet(
        mesh_local(0x4c03),
        mesh_local(0x4c00),
        49152,
        5683,
        64,
        &[7u8; 200],
    );
    // Default limits hold 4 datagrams: the fifth first fragment is dropped, with a reason.
    for tag in 0..5u16 {
        let spec = FrameSpec {
            pan_id: PAN,
            seq: tag as u8,
            src: crate::thread::mac::Address::Short(0x4c03),
            dst: crate::thread::mac::Address::Short(0x4c00),
            src_ext: CHILD,
            mac_frame_counter: Some(100 + tag as u32),
        };
        let f = fragmented_psdus(&spec, &keys(), &packet, &contexts(), 80, tag).unwrap();
        let d = s.decode(now(), &f[0], Fcs::Present);
        if tag < 4 {
            assert_eq!(d.error, None);
        } else {
            let e = d.error.unwrap();
            assert_eq!((e.layer, e.kind), (Layer::Lowpan, ErrorKind::Reassembly));
        }
    }
    assert_eq!(s.stats().reassembly_errors, 1);
    assert_eq!(s.reassembly_stats().overflows, 1);
}
