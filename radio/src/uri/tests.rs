use super::*;
use proptest::prelude::*;

fn ok(s: &str) -> RadioUri {
    RadioUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The error for `s`, checked to name the URI and to give an example.
fn bad(s: &str) -> String {
    let e = RadioUri::parse(s).expect_err(s);
    let text = e.to_string();
    assert!(text.contains(&format!("'{s}'")), "{text}");
    assert!(text.contains("for example"), "{text}");
    text
}

#[test]
fn every_kind_parses_to_its_fields() {
    assert_eq!(
        ok("sim:/tmp/air.sock"),
        RadioUri::Sim {
            path: "/tmp/air.sock".into()
        }
    );
    assert_eq!(
        ok("hci:/dev/ttyACM0"),
        RadioUri::Hci {
            device: "/dev/ttyACM0".into(),
            baud: None,
            rtscts: None
        }
    );
    assert_eq!(
        ok("hci:/dev/ttyACM0?rtscts=0&baud=115200"),
        RadioUri::Hci {
            device: "/dev/ttyACM0".into(),
            baud: Some(115_200),
            rtscts: Some(false)
        }
    );
    assert_eq!(
        ok("hci-tcp:localhost:8888"),
        RadioUri::HciTcp {
            host: "localhost".into(),
            port: 8888
        }
    );
    assert_eq!(
        ok("hci-tcp:[fe80::1]:1"),
        RadioUri::HciTcp {
            host: "fe80::1".into(),
            port: 1
        }
    );
    assert_eq!(
        ok("hci-unix:/run/hci.sock"),
        RadioUri::HciUnix {
            path: "/run/hci.sock".into()
        }
    );
    assert_eq!(ok("hci-user:hci0"), RadioUri::HciUser { index: 0 });
    assert_eq!(ok("bluez:hci12"), RadioUri::Bluez { index: 12 });
    assert_eq!(
        ok("gatt:c0:11:22:33:44:5F"),
        RadioUri::Gatt {
            address: [0x5f, 0x44, 0x33, 0x22, 0x11, 0xc0],
            service: None,
        }
    );
    assert_eq!(
        ok("gatt:C0:11:22:33:44:55?service=provisioning"),
        RadioUri::Gatt {
            address: [0x55, 0x44, 0x33, 0x22, 0x11, 0xc0],
            service: Some(weft_mesh::GattService::Provisioning),
        }
    );
    assert_eq!(
        ok("spinel:/dev/ttyUSB1?baud=460800"),
        RadioUri::Spinel {
            device: "/dev/ttyUSB1".into(),
            baud: Some(460_800),
            channel: None,
        }
    );
    assert_eq!(
        ok("spinel:/dev/ttyUSB1?channel=26&baud=115200"),
        RadioUri::Spinel {
            device: "/dev/ttyUSB1".into(),
            baud: Some(115_200),
            channel: Some(26),
        }
    );
    assert_eq!(
        ok("nrf154:/dev/ttyACM3?channel=11"),
        RadioUri::Nrf154 {
            device: "/dev/ttyACM3".into(),
            channel: Some(11),
        }
    );
    assert_eq!(
        ok("nrf154:/dev/ttyACM3"),
        RadioUri::Nrf154 {
            device: "/dev/ttyACM3".into(),
            channel: None,
        }
    );
    assert_eq!(
        ok("otsim:7?port_offset=3"),
        RadioUri::OtSim {
            node_id: 7,
            port_offset: Some(3)
        }
    );
    assert_eq!(
        ok("otsim:1"),
        RadioUri::OtSim {
            node_id: 1,
            port_offset: None
        }
    );
}

#[test]
fn display_writes_the_canonical_form() {
    for s in [
        "sim:/tmp/air.sock",
        "hci:/dev/ttyACM0?baud=1000000&rtscts=1",
        "hci-tcp:10.0.0.2:8888",
        "hci-tcp:[::1]:8888",
        "hci-unix:/run/hci.sock",
        "hci-user:hci1",
        "bluez:hci0",
        "gatt:C0:11:22:33:44:55",
        "gatt:C0:11:22:33:44:55?service=proxy",
        "gatt:C0:11:22:33:44:55?service=provisioning",
        "spinel:/dev/ttyACM0?baud=460800",
        "spinel:/dev/ttyACM0?baud=460800&channel=15",
        "nrf154:/dev/ttyACM0",
        "nrf154:/dev/ttyACM0?channel=20",
        "otsim:2?port_offset=1",
    ] {
        assert_eq!(ok(s).to_string(), s);
        assert_eq!(ok(s).kind(), s.split(':').next().unwrap());
    }
    // Options in another order, lower-case hex: the same radio, written one way.
    assert_eq!(
        ok("hci:/dev/x?rtscts=1&baud=9600").to_string(),
        "hci:/dev/x?baud=9600&rtscts=1"
    );
    assert_eq!(
        ok("gatt:c0:11:22:33:44:55").to_string(),
        "gatt:C0:11:22:33:44:55"
    );
}

#[test]
fn errors_name_the_part_that_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("smart-home", "KIND:WHERE"),
        ("", "KIND:WHERE"),
        ("wifi:x", "unknown radio kind 'wifi'"),
        ("HCI:/dev/ttyACM0", "unknown radio kind 'HCI'"),
        ("sim:", "missing the path"),
        ("sim:/tmp/a.sock?x=1", "sim: takes no options"),
        ("hci:", "missing a serial device"),
        ("hci:hci0", "use bluez:hci0 or hci-user:hci0"),
        ("hci:/dev/ttyACM0?baud=fast", "baud 'fast' is not a rate"),
        ("hci:/dev/ttyACM0?baud=0", "baud '0' is not a rate"),
        ("hci:/dev/ttyACM0?baud=-1", "baud '-1'"),
        ("hci:/dev/ttyACM0?baud=99999999999", "baud '99999999999'"),
        ("hci:/dev/ttyACM0?baud=+9600", "baud '+9600'"),
        ("hci:/dev/ttyACM0?rtscts=yes", "rtscts 'yes' is neither 0"),
        ("hci:/dev/ttyACM0?parity=even", "unknown option 'parity'"),
        ("hci:/dev/ttyACM0?baud", "option 'baud' has no value"),
        ("hci:/dev/ttyACM0?baud=", "option 'baud' has an empty value"),
        ("hci:/dev/ttyACM0?", "nothing follows '?'"),
        ("hci:/dev/ttyACM0?baud=1&baud=2", "'baud' is given twice"),
        ("hci-tcp:localhost", "missing the port"),
        ("hci-tcp:localhost:", "missing the port after 'localhost:'"),
        ("hci-tcp:localhost:0", "port '0' is not a TCP port"),
        ("hci-tcp:localhost:65536", "port '65536'"),
        ("hci-tcp::8888", "missing the host"),
        ("hci-tcp:::1:8888", "write it in brackets"),
        ("hci-tcp:[::g]:8888", "not an IPv6 address"),
        ("hci-tcp:a b:1", "host 'a b'"),
        ("hci-tcp:localhost:1?baud=9600", "hci-tcp: takes no options"),
        ("hci-user:0", "'0' is not a controller: write hciN"),
        ("bluez:", "missing the controller"),
        ("bluez:hci", "'hci' is not a controller"),
        ("bluez:hci70000", "'hci70000'"),
        ("gatt:", "missing the device address"),
        ("gatt:C0:11:22:33:44", "not a device address"),
        ("gatt:C0:11:22:33:44:55:66", "not a device address"),
        ("gatt:C0-11-22-33-44-55", "not a device address"),
        ("gatt:C0:11:22:33:44:5G", "not a device address"),
        (
            "gatt:C0:11:22:33:44:55?service=beacon",
            "service 'beacon' is neither proxy",
        ),
        (
            "gatt:C0:11:22:33:44:55?mtu=23",
            "unknown option 'mtu' (gatt: takes service)",
        ),
        (
            "spinel:/dev/ttyACM0?rtscts=1",
            "unknown option 'rtscts' (spinel: takes baud and channel)",
        ),
        (
            "nrf154:/dev/ttyACM0?baud=1",
            "unknown option 'baud' (nrf154: takes channel)",
        ),
        (
            "nrf154:/dev/ttyACM0?channel=10",
            "channel '10' is not an IEEE 802.15.4",
        ),
        ("spinel:/dev/ttyACM0?channel=27", "channel '27'"),
        ("spinel:/dev/ttyACM0?channel=x", "channel 'x'"),
        ("otsim:0", "node id '0'"),
        ("otsim:", "missing the node id"),
        ("otsim:x", "node id 'x'"),
        ("otsim:1?port_offset=-1", "port_offset '-1'"),
        ("sim:/tmp/a\nb", "control character"),
    ];
    for (s, want) in cases {
        let text = bad(s);
        assert!(text.contains(want), "{s}: want {want:?} in: {text}");
    }
    // The example is of the kind that was meant.
    assert!(bad("hci:/dev/x?baud=0").contains("for example hci:/dev/ttyACM0?baud="));
    assert!(bad("otsim:0").contains("for example otsim:1"));
    assert!(bad("smart-home").contains("sim:"));
}

/// Any typed URI a parser could produce (paths without '?', the query separator).
fn any_uri() -> impl Strategy<Value = RadioUri> {
    let path = "/[a-zA-Z0-9_./-]{0,20}".prop_map(PathBuf::from);
    let host = prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9-]{1,8}){0,2}",
        any::<[u8; 4]>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
        any::<[u16; 8]>().prop_map(|a| Ipv6Addr::from(a).to_string()),
    ];
    prop_oneof![
        path.clone().prop_map(|path| RadioUri::Sim { path }),
        (
            path.clone(),
            proptest::option::of(1u32..),
            any::<Option<bool>>()
        )
            .prop_map(|(device, baud, rtscts)| RadioUri::Hci {
                device,
                baud,
                rtscts
            }),
        (host, 1u16..).prop_map(|(host, port)| RadioUri::HciTcp { host, port }),
        path.clone().prop_map(|path| RadioUri::HciUnix { path }),
        any::<u16>().prop_map(|index| RadioUri::HciUser { index }),
        any::<u16>().prop_map(|index| RadioUri::Bluez { index }),
        (
            any::<[u8; 6]>(),
            proptest::sample::select(vec![
                None,
                Some(weft_mesh::GattService::Proxy),
                Some(weft_mesh::GattService::Provisioning)
            ])
        )
            .prop_map(|(address, service)| RadioUri::Gatt { address, service }),
        (
            path.clone(),
            proptest::option::of(1u32..),
            proptest::option::of(11u8..=26)
        )
            .prop_map(|(device, baud, channel)| RadioUri::Spinel {
                device,
                baud,
                channel
            }),
        (path, proptest::option::of(11u8..=26))
            .prop_map(|(device, channel)| RadioUri::Nrf154 { device, channel }),
        (1u16.., any::<Option<u16>>()).prop_map(|(node_id, port_offset)| RadioUri::OtSim {
            node_id,
            port_offset
        }),
    ]
}

proptest! {
    #[test]
    fn what_display_writes_parses_back(u in any_uri()) {
        prop_assert_eq!(RadioUri::parse(&u.to_string()), Ok(u));
    }

    #[test]
    fn any_text_is_a_radio_or_an_error_never_a_panic(s in "\\PC{0,40}") {
        let _ = RadioUri::parse(&s);
    }

    #[test]
    fn text_shaped_like_a_uri_never_panics(
        kind in proptest::sample::select(KINDS.to_vec()),
        rest in "[ -~]{0,40}",
    ) {
        let s = format!("{kind}:{rest}");
        match RadioUri::parse(&s) {
            Ok(u) => prop_assert_eq!(u.kind(), kind),
            Err(e) => prop_assert!(e.to_string().contains("for example")),
        }
    }
}
