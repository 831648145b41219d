//! Tests of the Sensor messages and values: hand-computed encodings, prohibited values, round trips.

use super::*;
use crate::ble::models::sensor::*;
use crate::ble::wire::Error;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn marshalled_format_a() {
    // Present Ambient Temperature (0x004F), 1 octet, 21.5 °C = 43 half-degrees:
    // (0x004F << 5) | (0 << 1) | 0 = 0x09E0 -> e0 09, then 2b.
    let d = SensorValue::ambient_temperature(21.5).to_sensor_data();
    let m = SensorMessage::Status(vec![d.clone()]);
    assert_eq!(m.emit_params(), h("e0092b"));
    assert_eq!(SensorMessage::parse(STATUS, &h("e0092b")), Ok(m.clone()));
    assert_eq!(
        m.describe(),
        "Sensor Status Present Ambient Temperature 21.5°C"
    );
    // People Count (0x004C), 2 octets: (0x4C << 5) | (1 << 1) = 0x0982 -> 82 09, 12 people.
    let m = SensorMessage::Status(vec![
        SensorValue::PeopleCount(Some(12)).to_sensor_data(),
        SensorValue::motion_sensed(50.0).to_sensor_data(),
    ]);
    // Motion Sensed (0x0042): 0x0840 -> 40 08, 100 half-percent = 0x64.
    assert_eq!(m.emit_params(), h("82090c00400864"));
    assert_eq!(
        m.describe(),
        "Sensor Status People Count 12, Motion Sensed 50%"
    );
}

#[test]
fn marshalled_format_b() {
    // Format B is required for property IDs above 0x07FF, lengths above 16 and zero length.
    // Property 0x0800 with 1 octet: (0 << 1) | 1 = 0x01, 00 08, value.
    let d = SensorData {
        property_id: 0x0800,
        raw: vec![0xAA],
    };
    let m = SensorMessage::Status(vec![d]);
    assert_eq!(m.emit_params(), h("010008aa"));
    // 17 octets of property 0x0001: ((17 - 1) << 1) | 1 = 0x21.
    let d = SensorData {
        property_id: 0x0001,
        raw: vec![0; 17],
    };
    let mut expected = h("210100");
    expected.extend_from_slice(&[0; 17]);
    assert_eq!(SensorMessage::Status(vec![d]).emit_params(), expected);
    // Zero length (property not found): length field 0x7F -> 0xFF.
    let d = SensorData {
        property_id: PROPERTY_PEOPLE_COUNT,
        raw: vec![],
    };
    let m = SensorMessage::Status(vec![d]);
    assert_eq!(m.emit_params(), h("ff4c00"));
    assert_eq!(SensorMessage::parse(STATUS, &h("ff4c00")), Ok(m.clone()));
    assert_eq!(m.describe(), "Sensor Status People Count not found");
    // Format B for a small property parses to the same value as Format A.
    assert_eq!(
        SensorMessage::parse(STATUS, &h("014f002b")),
        SensorMessage::parse(STATUS, &h("e0092b"))
    );
}

#[test]
fn marshalled_errors() {
    // Format A claiming 2 octets with 1 present.
    assert!(matches!(
        SensorMessage::parse(STATUS, &h("e2092b")),
        Err(Error::Truncated { .. })
    ));
    // A lone octet of a Format A header.
    assert!(SensorMessage::parse(STATUS, &h("e0")).is_err());
    // Property ID 0 is prohibited.
    assert_eq!(
        SensorMessage::parse(STATUS, &h("000000")),
        Err(Error::Invalid {
            field: "Sensor Property ID",
            value: 0
        })
    );
    assert!(SensorMessage::parse(GET, &h("0000")).is_err());
    assert!(SensorMessage::parse(GET, &h("00")).is_err());
}

#[test]
fn descriptors() {
    // Present Ambient Temperature, +0x123/-0x456 tolerance, arithmetic mean, period 0x40
    // (1 s), interval 0x4a: tolerance field 0x456123 -> 23 61 45.
    let d = SensorDescriptor {
        property_id: PROPERTY_PRESENT_AMBIENT_TEMPERATURE,
        positive_tolerance: 0x123,
        negative_tolerance: 0x456,
        sampling_function: 2,
        measurement_period: 0x40,
        update_interval: 0x4a,
    };
    let m = SensorMessage::DescriptorStatus(DescriptorStatus::Descriptors(vec![d]));
    assert_eq!(
        m.emit_params(),
        h("4f002361450240 4a".replace(' ', "").as_str())
    );
    assert_eq!(
        SensorMessage::parse(DESCRIPTOR_STATUS, &m.emit_params()),
        Ok(m.clone())
    );
    assert_eq!(
        m.describe(),
        "Sensor Descriptor Status Present Ambient Temperature tolerance +291/-1110 \
         arithmetic mean period 64 interval 74"
    );
    // Not found: the Property ID alone.
    assert_eq!(
        SensorMessage::parse(DESCRIPTOR_STATUS, &h("4c00")),
        Ok(SensorMessage::DescriptorStatus(DescriptorStatus::NotFound(
            0x004c
        )))
    );
    assert!(SensorMessage::parse(DESCRIPTOR_STATUS, &h("4c0000")).is_err());
}

#[test]
fn values() {
    use SensorValue as V;
    assert_eq!(
        V::decode(0x004F, &[0x2B]),
        Ok(V::PresentAmbientTemperature(Some(43)))
    );
    assert_eq!(
        V::decode(0x004F, &[0xF6]),
        Ok(V::PresentAmbientTemperature(Some(-10)))
    );
    assert_eq!(V::decode(0x004F, &[0xF6]).unwrap().to_string(), "-5.0°C");
    assert_eq!(
        V::decode(0x004F, &[0x7F]),
        Ok(V::PresentAmbientTemperature(None))
    );
    assert_eq!(V::decode(0x0042, &[0xC8]), Ok(V::MotionSensed(Some(200))));
    assert_eq!(V::decode(0x0042, &[0xFF]), Ok(V::MotionSensed(None)));
    assert_eq!(
        V::decode(0x0042, &[0xC9]),
        Err(Error::Invalid {
            field: "Percentage 8",
            value: 0xC9
        })
    );
    assert_eq!(V::decode(0x004C, &[0xFF, 0xFF]), Ok(V::PeopleCount(None)));
    assert_eq!(
        V::decode(0x004C, &[0x34, 0x12]),
        Ok(V::PeopleCount(Some(0x1234)))
    );
    assert_eq!(
        V::decode(0x0054, &[0x66, 0x08]),
        Ok(V::PresentDeviceOperatingTemperature(Some(2150)))
    );
    assert_eq!(
        V::decode(0x0054, &[0x66, 0x08]).unwrap().to_string(),
        "21.50°C"
    );
    assert_eq!(
        V::decode(0x0054, &[0x00, 0x80]),
        Ok(V::PresentDeviceOperatingTemperature(None))
    );
    assert_eq!(
        V::device_operating_temperature(-1.5).raw(),
        vec![0x6A, 0xFF]
    );
    assert_eq!(V::PeopleCount(None).to_string(), "unknown");
    assert!(V::decode(0x004C, &[0x01]).is_err());
    assert!(V::decode(0x004C, &[0x01, 0x02, 0x03]).is_err());
    assert!(V::decode(0x0055, &[0x01]).is_err());
}

pub(crate) fn arb_sensor_data() -> impl Strategy<Value = SensorData> {
    // Mix entries Format A can carry (small IDs, 1..=16 octets) with those needing Format B.
    (
        prop_oneof![1u16..=0x07FF, 1u16..=u16::MAX],
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 1..=16),
            proptest::collection::vec(any::<u8>(), 0..=SensorData::MAX_LEN),
        ],
    )
        .prop_map(|(property_id, raw)| SensorData { property_id, raw })
}

fn arb_value() -> impl Strategy<Value = SensorValue> {
    use SensorValue as V;
    prop_oneof![
        proptest::option::of(any::<i8>().prop_filter("known", |v| *v != 0x7F))
            .prop_map(V::PresentAmbientTemperature),
        proptest::option::of(0u8..=200).prop_map(V::MotionSensed),
        proptest::option::of(0u16..0xFFFF).prop_map(V::PeopleCount),
        proptest::option::of(any::<i16>().prop_filter("known", |v| *v != i16::MIN))
            .prop_map(V::PresentDeviceOperatingTemperature),
    ]
}

pub(crate) fn arb_sensor() -> impl Strategy<Value = SensorMessage> {
    use SensorMessage as M;
    let pid = 1u16..=u16::MAX;
    let raw = || proptest::collection::vec(any::<u8>(), 0..20);
    prop_oneof![
        proptest::option::of(pid.clone()).prop_map(|property_id| M::DescriptorGet { property_id }),
        proptest::collection::vec(
            (pid.clone(), 0u16..=0xfff, 0u16..=0xfff, any::<[u8; 3]>()).prop_map(
                |(property_id, p, n, b)| SensorDescriptor {
                    property_id,
                    positive_tolerance: p,
                    negative_tolerance: n,
                    sampling_function: b[0],
                    measurement_period: b[1],
                    update_interval: b[2],
                }
            ),
            0..5
        )
        .prop_map(|v| M::DescriptorStatus(DescriptorStatus::Descriptors(v))),
        pid.clone()
            .prop_map(|p| M::DescriptorStatus(DescriptorStatus::NotFound(p))),
        proptest::option::of(pid.clone()).prop_map(|property_id| M::Get { property_id }),
        proptest::collection::vec(arb_sensor_data(), 0..4).prop_map(M::Status),
        (pid.clone(), raw()).prop_map(|(property_id, raw_x)| M::ColumnGet { property_id, raw_x }),
        (pid.clone(), raw()).prop_map(|(property_id, raw)| M::ColumnStatus { property_id, raw }),
        (pid.clone(), raw()).prop_map(|(property_id, raw)| M::SeriesGet { property_id, raw }),
        (pid.clone(), raw()).prop_map(|(property_id, raw)| M::SeriesStatus { property_id, raw }),
        pid.clone()
            .prop_map(|property_id| M::CadenceGet { property_id }),
        (pid.clone(), raw()).prop_map(|(property_id, raw)| M::CadenceSet { property_id, raw }),
        (pid.clone(), raw())
            .prop_map(|(property_id, raw)| M::CadenceSetUnacknowledged { property_id, raw }),
        (pid.clone(), raw()).prop_map(|(property_id, raw)| M::CadenceStatus { property_id, raw }),
        pid.clone()
            .prop_map(|property_id| M::SettingsGet { property_id }),
        (pid.clone(), proptest::collection::vec(any::<u16>(), 0..8)).prop_map(
            |(property_id, setting_ids)| M::SettingsStatus {
                property_id,
                setting_ids
            }
        ),
        (pid.clone(), any::<u16>()).prop_map(|(property_id, setting_id)| M::SettingGet {
            property_id,
            setting_id
        }),
        (pid.clone(), any::<u16>(), raw(), any::<bool>()).prop_map(
            |(property_id, setting_id, raw, u)| if u {
                M::SettingSetUnacknowledged {
                    property_id,
                    setting_id,
                    raw,
                }
            } else {
                M::SettingSet {
                    property_id,
                    setting_id,
                    raw,
                }
            }
        ),
        (
            pid,
            any::<u16>(),
            proptest::option::of((prop_oneof![Just(1u8), Just(3u8)], raw()))
        )
            .prop_map(|(property_id, setting_id, setting)| M::SettingStatus {
                property_id,
                setting_id,
                setting
            }),
    ]
}

proptest! {
    #[test]
    fn round_trip(m in arb_sensor()) {
        prop_assert_eq!(SensorMessage::parse(m.opcode(), &m.emit_params()), Ok(m.clone()));
        prop_assert_eq!(SensorMessage::from_access(&m.to_access()), Ok(m.clone()));
        prop_assert!(m.opcode().name().unwrap().starts_with("Sensor "));
        let _ = m.describe();
    }

    #[test]
    fn value_round_trip(v in arb_value()) {
        let d = v.to_sensor_data();
        prop_assert_eq!(d.value(), Some(v));
        prop_assert_eq!(SensorValue::decode(d.property_id, &d.raw), Ok(v));
    }
}
