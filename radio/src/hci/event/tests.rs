use super::*;
use proptest::prelude::*;

fn body(code: u8, params: &[u8]) -> Vec<u8> {
    let mut b = vec![code, params.len() as u8];
    b.extend_from_slice(params);
    b
}

/// An LE Advertising Report event's parameters with one report per entry (Vol 4 Part E
/// §7.7.65.2, reports one after the other).
fn legacy(reports: &[(u8, [u8; 6], &[u8], i8)]) -> Vec<u8> {
    let mut p = vec![LE_ADVERTISING_REPORT, reports.len() as u8];
    for (kind, addr, data, rssi) in reports {
        p.push(*kind);
        p.push(1);
        p.extend_from_slice(addr);
        p.push(data.len() as u8);
        p.extend_from_slice(data);
        p.push(*rssi as u8);
    }
    body(LE_META, &p)
}

/// One extended report (§7.7.65.13).
fn ext_report(event_type: u16, addr: [u8; 6], data: &[u8], rssi: i8) -> Vec<u8> {
    let mut p = event_type.to_le_bytes().to_vec();
    p.push(1); // random
    p.extend_from_slice(&addr);
    p.extend_from_slice(&[0x01, 0x00, 0xff, 0x7f]); // 1M, no secondary, no SID, no TX power
    p.push(rssi as u8);
    p.extend_from_slice(&[0, 0]); // no periodic advertising
    p.push(0);
    p.extend_from_slice(&[0; 6]);
    p.push(data.len() as u8);
    p.extend_from_slice(data);
    p
}

fn extended(reports: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![LE_EXTENDED_ADVERTISING_REPORT, reports.len() as u8];
    for r in reports {
        p.extend_from_slice(r);
    }
    body(LE_META, &p)
}

const ADDR: [u8; 6] = [1, 2, 3, 4, 5, 0xc6];

#[test]
fn command_complete_and_status() {
    assert_eq!(
        parse_event(&body(
            COMMAND_COMPLETE,
            &[1, 0x02, 0x20, 0x00, 0xfb, 0x00, 0x04]
        )),
        Ok(HciEvent::CommandComplete {
            credits: 1,
            opcode: 0x2002,
            status: Some(0),
            params: vec![0xfb, 0x00, 0x04],
        })
    );
    // The no-operation opcode carries no status.
    assert_eq!(
        parse_event(&body(COMMAND_COMPLETE, &[1, 0, 0])),
        Ok(HciEvent::CommandComplete {
            credits: 1,
            opcode: 0,
            status: None,
            params: vec![],
        })
    );
    assert_eq!(
        parse_event(&body(COMMAND_STATUS, &[0x01, 1, 0x17, 0x20])),
        Ok(HciEvent::CommandStatus {
            status: 1,
            credits: 1,
            opcode: 0x2017,
        })
    );
    assert_eq!(
        parse_event(&body(HARDWARE_ERROR, &[7])),
        Ok(HciEvent::HardwareError { code: 7 })
    );
}

#[test]
fn truncated_and_unknown_events() {
    // A Command Complete of a real command without its status.
    let e = parse_event(&body(COMMAND_COMPLETE, &[1, 0x03, 0x0c])).unwrap_err();
    assert!(e.to_string().contains("without its status"), "{e}");
    assert!(parse_event(&body(COMMAND_STATUS, &[0, 1])).is_err());
    assert!(parse_event(&[COMMAND_STATUS]).is_err());
    assert!(parse_event(&[COMMAND_STATUS, 4, 0]).is_err(), "length lies");
    assert!(parse_event(&body(LE_META, &[])).is_err());
    assert_eq!(
        parse_event(&body(0xff, &[1, 2, 3])),
        Ok(HciEvent::Other {
            code: 0xff,
            subevent: None
        })
    );
    assert_eq!(
        parse_event(&body(LE_META, &[0x3f, 1])),
        Ok(HciEvent::Other {
            code: LE_META,
            subevent: Some(0x3f)
        })
    );
}

#[test]
fn legacy_reports_map_to_pdu_properties() {
    let e = parse_event(&legacy(&[
        (3, ADDR, &[3, 0x2a, 1, 2], -40),
        (0, ADDR, &[2, 0x01, 6], 127),
        (4, ADDR, &[], -70),
    ]))
    .unwrap();
    let HciEvent::AdvReports { reports, malformed } = e else {
        panic!("{e:?}");
    };
    assert_eq!(malformed, 0);
    assert_eq!(reports.len(), 3);
    let r = &reports[0];
    assert!(!r.connectable && !r.scannable && !r.scan_response && r.legacy && !r.extended);
    assert_eq!((r.address, r.rssi, r.address_type), (ADDR, Some(-40), 1));
    assert_eq!(r.data, vec![3, 0x2a, 1, 2]);
    assert!(reports[1].connectable && reports[1].scannable);
    assert_eq!(reports[1].rssi, None, "127 is «not available»");
    assert!(reports[2].scan_response);
}

#[test]
fn a_truncated_legacy_report_is_counted() {
    let mut b = legacy(&[(3, ADDR, &[3, 0x2a, 1, 2], -40), (3, ADDR, &[1, 2], -40)]);
    b.truncate(b.len() - 2);
    b[1] = (b.len() - 2) as u8;
    let HciEvent::AdvReports { reports, malformed } = parse_event(&b).unwrap() else {
        panic!();
    };
    assert_eq!((reports.len(), malformed), (1, 1));
}

#[test]
fn extended_reports_map_to_pdu_properties() {
    let e = parse_event(&extended(&[
        // Legacy ADV_NONCONN_IND: legacy bit only.
        ext_report(0x0010, ADDR, &[3, 0x2b, 0, 1], -50),
        // Legacy SCAN_RSP to ADV_SCAN_IND.
        ext_report(0x001a, ADDR, &[3, 0x2b, 0, 1], -50),
        // An extended PDU, incomplete, more to come.
        ext_report(0x0020, ADDR, &[3, 0x2b, 0, 1], 127),
    ]))
    .unwrap();
    let HciEvent::AdvReports { reports, malformed } = e else {
        panic!("{e:?}");
    };
    assert_eq!(malformed, 0);
    let r = &reports[0];
    assert!(r.extended && r.legacy && r.complete && !r.connectable && !r.scannable);
    assert_eq!((r.address, r.rssi), (ADDR, Some(-50)));
    assert!(reports[1].scan_response && reports[1].scannable);
    assert!(!reports[2].legacy && !reports[2].complete);
    assert_eq!(reports[2].rssi, None);
}

/// bt-hci 0.11 indexes past the end of an extended report cut after its Primary_PHY; the
/// length check before it makes that a counted malformed report.
#[test]
fn truncated_extended_reports_are_counted_not_panics() {
    let whole = ext_report(0x0010, ADDR, &[3, 0x2b, 0, 1], -50);
    for cut in 0..whole.len() {
        let mut p = vec![LE_EXTENDED_ADVERTISING_REPORT, 2];
        p.extend_from_slice(&whole);
        p.extend_from_slice(&whole[..cut]);
        let HciEvent::AdvReports { reports, malformed } = parse_event(&body(LE_META, &p)).unwrap()
        else {
            panic!();
        };
        assert_eq!((reports.len(), malformed), (1, 1), "cut at {cut}");
    }
}

#[test]
fn advertising_set_terminated() {
    assert_eq!(
        parse_event(&body(
            LE_META,
            &[LE_ADVERTISING_SET_TERMINATED, 0x43, 0, 0, 0, 1]
        )),
        Ok(HciEvent::AdvSetTerminated {
            status: 0x43,
            handle: 0,
            completed_events: 1
        })
    );
}

proptest! {
    /// Whatever the bytes, parsing answers without panicking.
    #[test]
    fn never_panics(code in any::<u8>(), sub in any::<u8>(), tail in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = parse_event(&body(code, &tail));
        let mut p = vec![sub];
        p.extend_from_slice(&tail);
        let _ = parse_event(&body(LE_META, &p));
        for s in [LE_ADVERTISING_REPORT, LE_EXTENDED_ADVERTISING_REPORT, LE_ADVERTISING_SET_TERMINATED] {
            let mut p = vec![s];
            p.extend_from_slice(&tail);
            let _ = parse_event(&body(LE_META, &p));
        }
    }
}
