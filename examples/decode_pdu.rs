//! Decode one network PDU heard by a sniffer, given the network and application keys: the
//! Bluetooth Mesh specification's sample message #18 (MshPRT §8.3.18).
//!
//! `cargo run -p weft-examples --example decode_pdu`

use weft_mesh::ble::sniff::{Decoded, Keyring, Sniffer};
use weft_mesh::ble::IvIndex;

fn key(hex16: &str) -> [u8; 16] {
    hex::decode(hex16)
        .expect("hex")
        .try_into()
        .expect("16 bytes")
}

fn main() {
    let mut keys = Keyring::new();
    keys.add_net_key(key("7dd7364cd842ad18c17c2b820c84c3d6"));
    keys.add_app_key(key("63964771734fbd76e3b40519d1d94a48"));
    let mut sniffer = Sniffer::new(keys, IvIndex(0x1234_5678));
    let pdu = hex::decode("6848cba437860e5673728a627fb938535508e21a6baf57").expect("hex");
    for d in sniffer.handle_network(&pdu) {
        match d {
            Decoded::Network(n) => println!(
                "network: {} -> {} seq {} ttl {} (nid {:#04x})",
                n.pdu.src, n.pdu.dst, n.pdu.seq, n.pdu.ttl, n.pdu.nid
            ),
            Decoded::Access(a) => println!(
                "access:  opcode {} ({}) payload {}",
                a.opcode.map(|o| o.to_string()).unwrap_or_default(),
                a.opcode.and_then(|o| o.name()).unwrap_or("unknown"),
                hex::encode(&a.access_payload)
            ),
            other => println!("{other:?}"),
        }
    }
}
