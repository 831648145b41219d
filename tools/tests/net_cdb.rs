//! The CDB fixtures (modelled on nRF Mesh and BlueZ mesh-cfgclient output, see
//! `data/cdb/README`): what is read from each, and import → export → import equality.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft::net::{export_cdb, import_cdb, LOCAL_PROVISIONER_NAME};
use weft_mesh::ble::address::IvIndex;
use weft_mesh::ble::cdb::{Cdb, CdbAddress, CdbPeriod, CdbTransmit, Hex16, Security};
use weft_mesh::ble::node::ModelId;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/cdb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const FIXTURES: [&str; 3] = [
    "nrf-mesh.json",
    "nrf-mesh-legacy.json",
    "bluez-mesh-cfgclient.json",
];

#[test]
fn nrf_mesh_export_reads() {
    let c = Cdb::from_json(&fixture("nrf-mesh.json")).unwrap();
    assert_eq!(
        c.mesh_uuid.to_string(),
        "89E18DEC-9846-4FA7-A252-7456B07FE928"
    );
    assert_eq!(c.nodes.len(), 2);
    let light = c.node_by_address(0x0003).unwrap();
    assert_eq!(light.name.as_deref(), Some("Kitchen light"));
    let onoff = &light.elements[0].models[2];
    assert_eq!(onoff.model_id.0, ModelId::GENERIC_ONOFF_SERVER);
    assert!(matches!(onoff.subscribe[1], CdbAddress::Label(l) if l[0] == 0x3A));
    let p = onoff.publish.as_ref().unwrap();
    assert_eq!(
        p.period,
        CdbPeriod {
            number_of_steps: 10,
            resolution: 1000
        }
    );
    assert_eq!(
        light.elements[1].models[1].model_id.0,
        ModelId::Vendor {
            company_id: 0x0059,
            model_id: 0x000A
        }
    );
    assert_eq!(c.scenes[0].number, Hex16(1));
    assert_eq!(c.net_keys[0].min_security, Security::Insecure);

    let s = c.node_state(light, IvIndex(0)).unwrap();
    assert_eq!(s.primary.get(), 2);
    assert!(s.relay);
    assert_eq!(s.network_transmit.count, 2); // 3 transmissions
    assert_eq!(
        s.elements[1].models[0]
            .publication
            .as_ref()
            .unwrap()
            .label
            .unwrap()[0],
        0x3A
    );
    assert_eq!(s.heartbeat_publication.as_ref().unwrap().period_log, 5); // 16 s
    assert_eq!(s.heartbeat_publication.as_ref().unwrap().features, 0x3);
}

#[test]
fn nrf_mesh_legacy_forms_read() {
    let c = Cdb::from_json(&fixture("nrf-mesh-legacy.json")).unwrap();
    assert_eq!(
        c.mesh_uuid.to_string(),
        "1C3D6D30-635B-49A9-A21C-11FCCDD2C9FB"
    );
    let n = &c.nodes[0];
    assert_eq!(n.uuid.to_string(), "5C0D9AC7-A0F9-4BC9-982D-BD60000638DB");
    assert!(!n.excluded);
    assert_eq!(
        n.network_transmit,
        Some(CdbTransmit {
            count: 2,
            interval: 30
        })
    );
    let models = &n.elements[0].models;
    assert_eq!(
        models[1].publish.as_ref().unwrap().period,
        CdbPeriod {
            number_of_steps: 3,
            resolution: 10_000
        }
    );
    assert_eq!(
        models[2].publish.as_ref().unwrap().period,
        CdbPeriod {
            number_of_steps: 40,
            resolution: 1000
        }
    );
    assert_eq!(
        models[1].publish.as_ref().unwrap().address,
        CdbAddress::Address(0xC002)
    );
    // Phase 1 of a key refresh: the node keeps using the old key and knows the new one.
    let s = c.node_state(n, IvIndex(7)).unwrap();
    assert_eq!(s.net_keys[0].key[0], 0x00);
    assert_eq!(s.net_keys[0].new_key.unwrap()[0], 0x48);
    assert_eq!(s.iv_index, IvIndex(7));
}

#[test]
fn bluez_export_reads() {
    let c = Cdb::from_json(&fixture("bluez-mesh-cfgclient.json")).unwrap();
    assert_eq!(
        c.mesh_uuid.to_string(),
        "3777A832-E315-4596-895D-39638C17FFC3"
    );
    assert_eq!(c.iv_index, Some(3));
    let n = c.node_by_address(0x00AA).unwrap();
    assert_eq!(n.device_key.unwrap().0[0], 0x5E);
    let m = &n.elements[0].models[1];
    assert_eq!(m.bind, vec![1]);
    assert_eq!(
        m.publish.as_ref().unwrap().period,
        CdbPeriod {
            number_of_steps: 5,
            resolution: 1000
        }
    );
    assert_eq!(
        n.elements[0].models[2].model_id.0,
        ModelId::Vendor {
            company_id: 0x05F1,
            model_id: 0x0001
        }
    );
    assert!(c.provisioners[0].allocated_scene_range.is_empty());
    let s = c.node_state(n, IvIndex(3)).unwrap();
    assert_eq!(s.app_keys[0].index, 1);
    assert_eq!(s.relay_retransmit.count, 2);
    assert_eq!(s.relay_retransmit.interval_steps, 2);
}

#[test]
fn import_export_import_is_stable() {
    for f in FIXTURES {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (first, _) = import_cdb(&fixture(f), &mut rng, "2025-01-01T00:00:00Z").unwrap();
        let exported = export_cdb(&first).to_json();
        let (second, notes) = import_cdb(&exported, &mut rng, "2026-01-01T00:00:00Z").unwrap();
        assert!(notes.is_empty(), "{f}: {notes:?}");
        assert_eq!(second, first, "{f}");
        assert_eq!(export_cdb(&second).to_json(), exported, "{f}");
        // Written strictly: uppercase hex, dashed UUIDs, the 1.0.1 schema.
        let v: serde_json::Value = serde_json::from_str(&exported).unwrap();
        assert_eq!(v["version"], "1.0.1");
        for n in v["nodes"].as_array().unwrap() {
            let uuid = n["UUID"].as_str().unwrap();
            assert_eq!(uuid.len(), 36, "{f}");
            assert_eq!(uuid, uuid.to_uppercase(), "{f}");
            assert_eq!(
                n["unicastAddress"].as_str().unwrap(),
                n["unicastAddress"].as_str().unwrap().to_uppercase()
            );
        }
        assert!(!exported.contains("blacklisted"), "{f}");
    }
}

#[test]
fn import_adds_weft_provisioner_outside_other_ranges() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (s, _) = import_cdb(&fixture("nrf-mesh.json"), &mut rng, "t").unwrap();
    let p = s
        .cdb
        .provisioners
        .iter()
        .find(|p| p.provisioner_name == LOCAL_PROVISIONER_NAME)
        .unwrap();
    // nRF Mesh's provisioner holds 0001-199A and C000-CC9A.
    assert_eq!(p.allocated_unicast_range[0].low_address, Hex16(0x199B));
    assert_eq!(p.allocated_group_range[0].low_address, Hex16(0xCC9B));
    let local = s.local.as_ref().unwrap();
    assert_eq!(local.primary.get(), 0x199B);
    assert_eq!(local.app_keys.len(), 2);
    // BlueZ's provisioner holds every unicast address: weft takes the top of its unused part
    // and shrinks its range, so that no two ranges overlap.
    let (b, _) = import_cdb(&fixture("bluez-mesh-cfgclient.json"), &mut rng, "t").unwrap();
    let bluez = &b.cdb.provisioners[0].allocated_unicast_range[0];
    assert_eq!(
        (bluez.low_address, bluez.high_address),
        (Hex16(0x0001), Hex16(0x5FFF))
    );
    let weft = &b.cdb.provisioners[1].allocated_unicast_range[0];
    assert_eq!(
        (weft.low_address, weft.high_address),
        (Hex16(0x6000), Hex16(0x7FFF))
    );
    assert_eq!(b.local.as_ref().unwrap().primary.get(), 0x6000);
    b.cdb.validate().unwrap();
}

#[test]
fn weft_s_own_node_goes_on_from_its_sequence_numbers_across_export_and_import() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (mut s, _) = import_cdb(&fixture("nrf-mesh.json"), &mut rng, "t").unwrap();
    let local = s.local.as_mut().unwrap();
    let address = local.primary.get();
    local.seq_reserved = 5120;
    let exported = export_cdb(&s).to_json();
    let v: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let own = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["unicastAddress"] == format!("{address:04X}"))
        .unwrap();
    assert_eq!(own["sequenceNumber"], 5120);
    // Only weft's own node carries the extension.
    let with_seq = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n.get("sequenceNumber").is_some())
        .count();
    assert_eq!(with_seq, 1);
    let (again, notes) = import_cdb(&exported, &mut rng, "later").unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let local = again.local.as_ref().unwrap();
    assert_eq!((local.primary.get(), local.seq_reserved), (address, 5120));
    // The store's database does not keep it: the node state does.
    assert!(again.cdb.nodes.iter().all(|n| n.sequence_number.is_none()));

    // A file without it (a tool dropped the extension): weft's node moves to a fresh address
    // of its range, and the old one is excluded from reuse.
    let mut v = v;
    for n in v["nodes"].as_array_mut().unwrap() {
        n.as_object_mut().unwrap().remove("sequenceNumber");
    }
    let (moved, notes) = import_cdb(&v.to_string(), &mut rng, "later").unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("moved"), "{}", notes[0]);
    let local = moved.local.as_ref().unwrap();
    assert_ne!(local.primary.get(), address);
    assert_eq!(local.seq_reserved, 0);
    assert!(moved.cdb.is_excluded(address, moved.iv_index));
    assert!(moved.cdb.node_by_address(local.primary.get()).is_some());
    moved.cdb.validate().unwrap();
}
