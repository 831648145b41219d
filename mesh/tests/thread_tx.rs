//! The transmit path (`thread::ip::tx`) end to end through the whole-frame decoder: a CoAP
//! request in UDP and an ICMPv6 echo, compressed, fragmented (one with a mesh header), put in
//! MAC-secured frames, are decoded, decrypted and reassembled by `ThreadSniffer`.

use std::net::SocketAddrV6;

use weft_mesh::thread::coap::{Code, Message, MessageType};
use weft_mesh::thread::ip::addr::{rloc, with_iid};
use weft_mesh::thread::ip::tx::{room, Fragmenter, LinkTx};
use weft_mesh::thread::ip::udp::udp_datagram;
use weft_mesh::thread::lowpan::{Context, Contexts, LinkAddresses, MeshHeader};
use weft_mesh::thread::mac::{
    fcs, Address, AuxSecurityHeader, Body, ExtAddress, Frame, FrameType, FrameVersion,
    KeyIdentifier, SecurityLevel,
};
use weft_mesh::thread::security::{secure, KeyManager, ThreadKeys};
use weft_mesh::thread::sniff::{Fcs, ThreadSniffer};
use weft_mesh::time::Instant;
use weft_mesh::wire::Wire;

const KEY: [u8; 16] = [0x42; 16];
const ML: [u8; 8] = [0xfd, 0xde, 0xad, 0, 0xbe, 0xef, 0, 0];
const SRC: ExtAddress = ExtAddress([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);

fn psdu(keys: &ThreadKeys, fc: u32, payload: Vec<u8>) -> Vec<u8> {
    let frame = Frame {
        frame_type: FrameType::Data,
        version: FrameVersion::V2006,
        frame_pending: false,
        ack_request: true,
        pan_id_compression: true,
        sequence_number: Some(fc as u8),
        dst_pan: Some(0xface),
        dst: Address::Short(0x0800),
        src_pan: None,
        src: Address::Extended(SRC),
        security: Some(AuxSecurityHeader {
            level: SecurityLevel::new(5),
            key_id: KeyIdentifier::Index(keys.key_index()),
            frame_counter: Some(fc),
            asn_in_nonce: false,
        }),
        header_ies: Vec::new(),
        body: Body::Open {
            payload_ies: Vec::new(),
            payload,
        },
    };
    fcs::append(&secure(&frame, keys.mac(), SRC).unwrap().to_vec())
}

#[test]
fn fragmented_coap_and_meshed_frames_decode_in_the_sniffer() {
    let keys = ThreadKeys::derive(&KEY, 0);
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&ML);
    let ctx = Contexts::new().with(0, Context::new(p.into(), 64));
    let mut m = Message::request(MessageType::Confirmable, Code::POST, "a/as");
    m.message_id = 0x1234;
    m.set_token(&[0xbe, 0xef]).unwrap();
    m.payload = (0..=255u8).collect();
    let coap = m.to_vec();
    let d = udp_datagram(
        SocketAddrV6::new(with_iid(ML, [9; 8]), 49200, 0, 0),
        SocketAddrV6::new(rloc(ML, 0x0800), 5683, 0, 0),
        64,
        &coap,
    );
    // MAC header: FC 2, seq 1, PAN 2, short dst 2, extended src 8, aux header 6; MIC-32.
    let max_payload = room(2 + 1 + 2 + 2 + 8 + 6, 4);
    let ll = LinkAddresses {
        src: Address::Extended(SRC),
        dst: Address::Short(0x0800),
    };
    let mut f = Fragmenter::new(7);
    let mut sniffer = ThreadSniffer::new(KeyManager::new(KEY, 0));
    for id in 0..16u8 {
        sniffer.set_context(id, Context::new(p.into(), 64));
    }
    let mut fc = 100;
    for mesh in [None, Some((0x0c00u16, 0x0800u16))] {
        let link = LinkTx {
            ll,
            mesh: mesh.map(|(o, f)| MeshHeader {
                hops_left: 3,
                originator: Address::Short(o),
                final_destination: Address::Short(f),
            }),
            max_payload,
        };
        let payloads = f.frame_payloads(&d, &ctx, &link).unwrap();
        assert!(
            payloads.len() >= 3,
            "{} octets in {max_payload}-octet frames",
            d.len()
        );
        let mut last = None;
        for pl in payloads {
            let ps = psdu(&keys, fc, pl);
            assert!(ps.len() <= 127);
            fc += 1;
            let r = sniffer.decode(Instant::ZERO, &ps, Fcs::Present);
            assert!(r.security.as_ref().unwrap().decrypted, "{:?}", r.error);
            last = Some(r);
        }
        let r = last.unwrap();
        assert_eq!(r.error, None);
        let udp = r.udp.expect("the last fragment completes the datagram");
        assert_eq!((udp.src_port, udp.dst_port), (49200, 5683));
        let got = Message::parse(&udp.payload.unwrap().0).unwrap();
        assert_eq!(got.uri_path(), "a/as");
        assert_eq!(got, m);
    }
    assert_eq!(sniffer.stats().reassembled, 2);
    assert_eq!(sniffer.stats().auth_failed, 0);
}
