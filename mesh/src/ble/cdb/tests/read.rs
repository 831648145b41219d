//! Reading the forms nRF Mesh and BlueZ write, writing the schema's, and errors that name the
//! field.

use crate::ble::cdb::read::parse_uuid;
use crate::ble::cdb::*;
use crate::ble::foundation::config::Retransmit;
use crate::ble::models::ModelId;

const MINIMAL: &str = r#"{
        "meshUUID": "c8e8769a-ea26-427c-bafb-5794d9940d10",
        "meshName": "t",
        "netKeys": [{"name": "n", "index": 0, "key": "d1a4a6f3502681926699d4fb19732c3c",
                     "phase": 0, "minSecurity": "insecure", "timestamp": "x"}]
    }"#;

fn with_node(node: &str) -> String {
    MINIMAL.replacen(
        "\"netKeys\"",
        &format!("\"nodes\": [{node}], \"netKeys\""),
        1,
    )
}

#[test]
fn reads_lowercase_and_compact_uuids_writes_uppercase_dashed() {
    let c = Cdb::from_json(MINIMAL).unwrap();
    assert_eq!(c.mesh_uuid.0[0], 0xC8);
    assert_eq!(c.net_keys[0].min_security, Security::Insecure);
    let out = c.to_json();
    assert!(
        out.contains("\"C8E8769A-EA26-427C-BAFB-5794D9940D10\""),
        "{out}"
    );
    assert!(
        out.contains("\"D1A4A6F3502681926699D4FB19732C3C\""),
        "{out}"
    );
    assert!(out.contains(SCHEMA_ID) && out.contains("\"version\": \"1.0.1\""));
    let compact = MINIMAL.replace(
        "c8e8769a-ea26-427c-bafb-5794d9940d10",
        "C8E8769AEA26427CBAFB5794D9940D10",
    );
    assert_eq!(Cdb::from_json(&compact).unwrap().mesh_uuid, c.mesh_uuid);
    assert_eq!(Cdb::from_json(&out).unwrap(), Cdb { ..c });
}

#[test]
fn uuid_with_misplaced_dashes_is_refused() {
    assert!(parse_uuid("c8e8769a-ea26427c-bafb-5794d9940d10-").is_err());
    assert!(parse_uuid("c8e8769aea26427cbafb5794d9940d1").is_err());
    assert!(parse_uuid("g8e8769aea26427cbafb5794d9940d10").is_err());
}

#[test]
fn model_ids_sig_and_vendor() {
    let m: CdbModelId = serde_json::from_str("\"1000\"").unwrap();
    assert_eq!(m.0, ModelId::GENERIC_ONOFF_SERVER);
    let v: CdbModelId = serde_json::from_str("\"0059000a\"").unwrap();
    assert_eq!(
        v.0,
        ModelId::Vendor {
            company_id: 0x0059,
            model_id: 0x000A
        }
    );
    assert_eq!(serde_json::to_string(&v).unwrap(), "\"0059000A\"");
    assert!(serde_json::from_str::<CdbModelId>("\"100\"").is_err());
    assert!(serde_json::from_str::<CdbModelId>("\"0059000\"").is_err());
}

#[test]
fn publish_period_legacy_forms() {
    let p: CdbPeriod = serde_json::from_str("40000").unwrap(); // nRF Mesh < 3.0: 40 s in ms
    assert_eq!(
        p,
        CdbPeriod {
            number_of_steps: 4,
            resolution: 10_000
        }
    );
    let p: CdbPeriod =
        serde_json::from_str(r#"{"numberOfSteps": 40, "resolution": 40000}"#).unwrap();
    assert_eq!(
        p,
        CdbPeriod {
            number_of_steps: 40,
            resolution: 1000
        }
    ); // nRF Mesh 3.0.1
    let p: CdbPeriod = serde_json::from_str(r#"{"numberOfSteps": 5, "resolution": 1}"#).unwrap();
    assert_eq!(
        p,
        CdbPeriod {
            number_of_steps: 5,
            resolution: 1000
        }
    ); // BlueZ: 2-bit field
    let p: CdbPeriod = serde_json::from_str(r#"{"numberOfSteps": 0, "resolution": 0}"#).unwrap();
    assert_eq!(
        p,
        CdbPeriod {
            number_of_steps: 0,
            resolution: 100
        }
    );
    assert!(
        serde_json::from_str::<CdbPeriod>(r#"{"numberOfSteps": 3, "resolution": 700}"#).is_err()
    );
}

#[test]
fn transmit_given_in_steps_is_converted() {
    let t: CdbTransmit = serde_json::from_str(r#"{"count": 3, "interval": 2}"#).unwrap();
    assert_eq!(
        t,
        CdbTransmit {
            count: 3,
            interval: 20
        }
    );
    assert_eq!(
        t.to_state(),
        Some(Retransmit {
            count: 2,
            interval_steps: 1
        })
    );
    assert_eq!(
        CdbTransmit::from_state(Retransmit {
            count: 7,
            interval_steps: 31
        }),
        CdbTransmit {
            count: 8,
            interval: 320
        }
    );
}

#[test]
fn errors_name_the_field() {
    let e = Cdb::from_json(&with_node(r#"{"UUID": "00000000000000000000000000000001", "unicastAddress": "8000", "netKeys": [{"index": 0}], "elements": []}"#)).unwrap_err();
    assert_eq!(
        e,
        CdbError::field(
            "nodes[0].unicastAddress",
            "8000 is not a unicast address (0001..7FFF)"
        )
    );
    let e = Cdb::from_json(&with_node(
        r#"{"UUID": "00000000000000000000000000000001", "unicastAddress": "zz", "elements": []}"#,
    ))
    .unwrap_err();
    assert!(
        matches!(&e, CdbError::Field { field, .. } if field == "nodes[0].unicastAddress"),
        "{e}"
    );
    let e = Cdb::from_json(&with_node(r#"{"UUID": "00000000000000000000000000000001", "unicastAddress": "0002",
            "elements": [{"index": 0, "location": "0000", "models": [{"modelId": "1000", "bind": [], "subscribe": [],
              "publish": {"address": "C000", "index": 0, "ttl": 200, "period": {"numberOfSteps": 0, "resolution": 100},
                          "credentials": 0, "retransmit": {"count": 0, "interval": 50}}}]}]}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "nodes[0].elements[0].models[0].publish.ttl: 200 is not a Publish TTL (0..127 or 255)"
    );
    let e = Cdb::from_json(r#"{"meshName": "x"}"#).unwrap_err();
    assert!(e.to_string().contains("meshUUID"), "{e}");
    let e = Cdb::from_json(r#"{"meshUUID": 5}"#).unwrap_err();
    assert!(
        matches!(&e, CdbError::Field { field, .. } if field == "meshUUID"),
        "{e}"
    );
    let e = Cdb::from_json("{\"meshUUID\": ").unwrap_err();
    assert!(matches!(e, CdbError::Syntax { line: 1, .. }), "{e}");
    assert!(matches!(
        Cdb::from_json("{} x"),
        Err(CdbError::Syntax { .. })
    ));
    let bad_bound = MINIMAL.replacen("\"netKeys\"", r#""appKeys": [{"index": 0, "boundNetKey": 3, "key": "00000000000000000000000000000000"}], "netKeys""#, 1);
    assert_eq!(
        Cdb::from_json(&bad_bound).unwrap_err().to_string(),
        "appKeys[0].boundNetKey: no network key has index 3"
    );
}

#[test]
fn legacy_names_and_bluez_iv_index() {
    let doc = with_node(r#"{"uuid": "00000000000000000000000000000001", "unicastAddress": "0002", "blacklisted": true, "elements": []}"#)
        .replacen("\"meshName\"", "\"ivIndex\": 5, \"ivUpdate\": 1, \"token\": \"0011223344556677\", \"blacklistedAddresses\": [{\"ivIndex\": 4, \"addresses\": [\"0003\"]}], \"meshName\"", 1);
    let c = Cdb::from_json(&doc).unwrap();
    assert!(c.nodes[0].excluded);
    assert_eq!((c.iv_index, c.iv_update), (Some(5), Some(true)));
    assert_eq!(c.network_exclusions[0].addresses, vec![Hex16(3)]);
    let out = c.to_json();
    assert!(
        out.contains("\"ivIndex\": 5")
            && out.contains("\"excluded\": true")
            && !out.contains("token")
    );
    assert_eq!(Cdb::from_json(&out).unwrap(), c);
}
