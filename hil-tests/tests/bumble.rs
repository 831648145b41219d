//! The emulated controllers (`hil-tests/bumble/controllers.py`) proved from outside, with
//! hand-built H4 packets (Core Vol 4 Part A) over their transports and no weft code: each test
//! is one fix the fixture makes to stock Bumble, or one stock behaviour it keeps on request.
//! Each test prints "skipped: ..." and returns when the Bumble venv is absent (fails under CI=1).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use weft_hil::bumble::{Controllers, Fixture};

// HCI opcodes (Core Vol 4 Part E 7).
const RESET: u16 = 0x0C03;
const READ_LOCAL_SUPPORTED_COMMANDS: u16 = 0x1002;
const READ_BD_ADDR: u16 = 0x1009;
const LE_SET_ADV_PARAMS: u16 = 0x2006;
const LE_SET_ADV_DATA: u16 = 0x2008;
const LE_SET_SCAN_RSP_DATA: u16 = 0x2009;
const LE_SET_ADV_ENABLE: u16 = 0x200A;
const LE_SET_SCAN_PARAMS: u16 = 0x200B;
const LE_SET_SCAN_ENABLE: u16 = 0x200C;
const LE_ENCRYPT: u16 = 0x2017;
const LE_SET_EXT_ADV_PARAMS: u16 = 0x2036;
const LE_SET_EXT_ADV_DATA: u16 = 0x2037;
const LE_SET_EXT_ADV_ENABLE: u16 = 0x2039;
const LE_SET_EXT_SCAN_PARAMS: u16 = 0x2041;
const LE_SET_EXT_SCAN_ENABLE: u16 = 0x2042;
const VENDOR: u16 = 0xFC01;

// Events.
const COMMAND_COMPLETE: u8 = 0x0E;
const COMMAND_STATUS: u8 = 0x0F;
const LE_META: u8 = 0x3E;
const UNKNOWN_HCI_COMMAND: u8 = 0x01;

// Legacy PDU types (LE Advertising Report, 7.7.65.2).
const ADV_IND: u8 = 0x00;
const ADV_SCAN_IND: u8 = 0x02;
const ADV_NONCONN_IND: u8 = 0x03;
const SCAN_RSP: u8 = 0x04;

/// A Mesh Message AD structure (MshPRT §3.3.1, AD type 0x2A) around a network PDU's bytes.
const MESH_AD: &[u8] = &[
    0x0E, 0x2A, 0x68, 0x48, 0xCB, 0xA4, 0x37, 0x86, 0x0E, 0x56, 0x73, 0x72, 0x8A, 0x62, 0x7F,
];

/// The public address the fixture gives controller `i`, as HCI carries it (LSB first).
fn public_address(i: u8) -> [u8; 6] {
    [i + 1, 0, 0, 0, 0, 0xF0]
}

#[derive(Debug, Clone)]
struct Event {
    code: u8,
    params: Vec<u8>,
    at: Instant,
}

/// One advertising report, legacy or extended, with its event type as the event has it.
#[derive(Debug, Clone, PartialEq)]
struct Report {
    extended: bool,
    event_type: u16,
    address_type: u8,
    address: [u8; 6],
    rssi: i8,
    data: Vec<u8>,
}

impl Event {
    /// The report in an LE Advertising Report or LE Extended Advertising Report (7.7.65.2,
    /// 7.7.65.13), which the fixture sends one report at a time.
    fn report(&self) -> Option<Report> {
        let p = &self.params;
        if self.code != LE_META || !matches!(p.first(), Some(0x02 | 0x0D)) {
            return None;
        }
        assert_eq!(p[1], 1, "one report per event: {p:02x?}");
        let address: [u8; 6] = p[4..10].try_into().unwrap();
        if p[0] == 0x02 {
            let len = p[10] as usize;
            let report = Report {
                extended: false,
                event_type: p[2].into(),
                address_type: p[3],
                address,
                rssi: p[11 + len] as i8,
                data: p[11..11 + len].to_vec(),
            };
            assert_eq!(p.len(), 12 + len, "{p:02x?}");
            return Some(report);
        }
        let address: [u8; 6] = p[5..11].try_into().unwrap();
        let len = p[25] as usize;
        assert_eq!(p.len(), 26 + len, "{p:02x?}");
        Some(Report {
            extended: true,
            event_type: u16::from_le_bytes([p[2], p[3]]),
            address_type: p[4],
            address,
            rssi: p[15] as i8,
            data: p[26..].to_vec(),
        })
    }
}

/// A host's end of one controller: commands written, events read by a thread (so every wait
/// has a deadline) and stamped with when they arrived.
struct Hci {
    tx: Box<dyn Write>,
    rx: mpsc::Receiver<Event>,
}

impl Hci {
    fn tcp(ctl: &Controllers, i: usize) -> Hci {
        let stream = TcpStream::connect(ctl.tcp_addr(i)).unwrap();
        Hci::over(Box::new(stream.try_clone().unwrap()), Box::new(stream))
    }

    fn pty(path: &Path) -> Hci {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Hci::over(Box::new(file.try_clone().unwrap()), Box::new(file))
    }

    fn over(mut reader: Box<dyn Read + Send>, tx: Box<dyn Write>) -> Hci {
        let (events, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut header = [0u8; 3];
            // H4: 0x04 event code length params; the fixture sends nothing else here.
            while reader.read_exact(&mut header).is_ok() {
                assert_eq!(header[0], 0x04, "an H4 event");
                let mut params = vec![0u8; header[2] as usize];
                if reader.read_exact(&mut params).is_err() {
                    return;
                }
                let event = Event {
                    code: header[1],
                    params,
                    at: Instant::now(),
                };
                if events.send(event).is_err() {
                    return;
                }
            }
        });
        Hci { tx, rx }
    }

    fn send(&mut self, opcode: u16, params: &[u8]) {
        let mut packet = vec![0x01];
        packet.extend_from_slice(&opcode.to_le_bytes());
        packet.push(params.len() as u8);
        packet.extend_from_slice(params);
        self.tx.write_all(&packet).unwrap();
    }

    /// The next event, if one comes within `within`.
    fn next(&self, within: Duration) -> Option<Event> {
        self.rx.recv_timeout(within).ok()
    }

    /// Sends a command and returns its Command Complete's return parameters (status first),
    /// letting reports that arrive meanwhile go.
    fn command(&mut self, opcode: u16, params: &[u8]) -> Vec<u8> {
        self.send(opcode, params);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self
                .next(left)
                .unwrap_or_else(|| panic!("no Command Complete for {opcode:#06x}"));
            if e.code == COMMAND_COMPLETE && e.params[1..3] == opcode.to_le_bytes() {
                return e.params[3..].to_vec();
            }
            assert!(e.report().is_some(), "unexpected event {e:02x?}");
        }
    }

    /// Like [`Hci::command`], asserting status Success.
    fn ok(&mut self, opcode: u16, params: &[u8]) {
        let ret = self.command(opcode, params);
        assert_eq!(ret[0], 0, "status of {opcode:#06x}: {ret:02x?}");
    }

    /// Every event in the next `within`.
    fn collect(&self, within: Duration) -> Vec<Event> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while let Some(e) = self.next(deadline.saturating_duration_since(Instant::now())) {
            out.push(e);
        }
        out
    }

    /// The reports among the events of the next `within`; any other event fails the test.
    fn reports(&self, within: Duration) -> Vec<Report> {
        let events = self.collect(within);
        events
            .iter()
            .map(|e| {
                e.report()
                    .unwrap_or_else(|| panic!("not a report: {e:02x?}"))
            })
            .collect()
    }

    /// Legacy advertising of `kind` every `interval` × 0.625 ms from the public address.
    fn advertise(&mut self, kind: u8, interval: u16, data: &[u8]) {
        self.ok(RESET, &[]);
        let mut params = Vec::new();
        params.extend_from_slice(&interval.to_le_bytes()); // min
        params.extend_from_slice(&interval.to_le_bytes()); // max
        params.extend_from_slice(&[kind, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x07, 0x00]);
        self.ok(LE_SET_ADV_PARAMS, &params);
        self.set_data(LE_SET_ADV_DATA, data);
        self.ok(LE_SET_ADV_ENABLE, &[1]);
    }

    /// LE Set Advertising Data or Scan Response Data: length, then 31 octets (zero-padded).
    fn set_data(&mut self, opcode: u16, data: &[u8]) {
        let mut params = vec![data.len() as u8];
        params.extend_from_slice(data);
        params.resize(32, 0);
        self.ok(opcode, &params);
    }

    /// Legacy scanning (passive or active), Filter_Duplicates as given.
    fn scan(&mut self, active: bool, filter_duplicates: bool) {
        self.ok(RESET, &[]);
        self.ok(
            LE_SET_SCAN_PARAMS,
            &[active.into(), 0x10, 0, 0x10, 0, 0x00, 0x00],
        );
        self.ok(LE_SET_SCAN_ENABLE, &[1, filter_duplicates.into()]);
    }
}

/// What the test needs: `n` TCP controllers with `args`, or a skip.
fn start(n: usize, args: &[&str]) -> Option<Controllers> {
    args.iter()
        .fold(Fixture::tcp(n), |f, a| f.arg(a))
        .start_or_skip()
}

#[test]
fn a_nonconnectable_mesh_advertisement_reaches_a_legacy_scanner() {
    let Some(ctl) = start(2, &[]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    let bd_addr = a.command(READ_BD_ADDR, &[]);
    assert_eq!(bd_addr[1..], public_address(0));

    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD); // 20 ms
    b.scan(false, false);
    let reports = b.reports(Duration::from_millis(500));
    // With duplicates not filtered, every advertising event is reported: about 16 in 500 ms.
    assert!(reports.len() >= 5, "{reports:?}\n{}", ctl.log());
    for r in &reports {
        // A legacy report of an ADV_NONCONN_IND carrying the AD structure, never an extended
        // report, never a copy labelled SCAN_RSP.
        let expected = Report {
            extended: false,
            event_type: ADV_NONCONN_IND.into(),
            address_type: 0x00,
            address: public_address(0),
            rssi: -50,
            data: MESH_AD.to_vec(),
        };
        assert_eq!(*r, expected);
    }
}

#[test]
fn unknown_commands_are_answered_unknown_hci_command() {
    let Some(ctl) = start(1, &[]) else {
        return;
    };
    let mut a = Hci::tcp(&ctl, 0);
    for opcode in [VENDOR, LE_ENCRYPT] {
        let ret = a.command(opcode, &[0; 32]);
        assert_eq!(ret, [UNKNOWN_HCI_COMMAND], "{opcode:#06x}");
    }
    // Nor does the controller claim LE Encrypt (octet 27 bit 6 of Supported_Commands).
    let ret = a.command(READ_LOCAL_SUPPORTED_COMMANDS, &[]);
    assert_eq!(ret[0], 0);
    assert_eq!(ret[1 + 27] & (1 << 6), 0, "{ret:02x?}");

    // The Command Status form, as some controllers (Zephyr's) answer.
    let Some(ctl) = start(1, &["--unknown-as-status"]) else {
        return;
    };
    let mut a = Hci::tcp(&ctl, 0);
    a.send(VENDOR, &[]);
    let e = a.next(Duration::from_secs(5)).expect("an answer");
    assert_eq!(
        (e.code, e.params.clone()),
        (COMMAND_STATUS, vec![0x01, 0x01, 0x01, 0xFC])
    );
}

#[test]
fn stock_quirks_keep_bumbles_own_behaviour() {
    let Some(ctl) = start(2, &["--stock-quirks"]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    // No event at all for an unhandled command: the next one's answer comes first.
    a.send(VENDOR, &[]);
    a.send(READ_BD_ADDR, &[]);
    let e = a.next(Duration::from_secs(5)).expect("an answer");
    assert_eq!(e.params[1..3], READ_BD_ADDR.to_le_bytes(), "{e:02x?}");

    // ADV_NONCONN_IND never goes on the air.
    b.scan(false, false);
    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD);
    assert_eq!(b.reports(Duration::from_millis(300)), []);
    // ADV_IND does, reported after legacy scan commands as an extended report typed
    // "connectable" (0x0001), each followed by a copy typed "scan response" (0x0008), though
    // the scan was passive and Filter_Duplicates was on.
    b.ok(LE_SET_SCAN_ENABLE, &[0, 0]);
    b.ok(LE_SET_SCAN_ENABLE, &[1, 1]);
    a.advertise(ADV_IND, 0x0020, MESH_AD);
    let reports = b.reports(Duration::from_millis(300));
    assert!(reports.len() >= 4, "{reports:?}");
    for pair in reports.chunks_exact(2) {
        let types: Vec<_> = pair.iter().map(|r| (r.extended, r.event_type)).collect();
        assert_eq!(types, [(true, 0x0001), (true, 0x0008)]);
        assert!(pair.iter().all(|r| r.data == MESH_AD));
    }
}

#[test]
fn the_legacy_interval_counts_in_0_625_ms_units() {
    let Some(ctl) = start(2, &[]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    b.scan(false, false);
    a.advertise(ADV_NONCONN_IND, 0x0190, MESH_AD); // 400 × 0.625 ms = 250 ms (+ 0-10 ms)
    let times: Vec<Instant> = b
        .collect(Duration::from_millis(1400))
        .iter()
        .map(|e| e.at)
        .collect();
    assert!(times.len() >= 5, "{} reports", times.len());
    // Four intervals: 1.00-1.04 s; read as milliseconds they would take 1.6 s.
    let span = times[4] - times[0];
    assert!(
        span >= Duration::from_millis(990) && span < Duration::from_millis(1400),
        "{span:?}"
    );
}

#[test]
fn filter_duplicates_reports_an_advertiser_once_per_scan() {
    let Some(ctl) = start(2, &[]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD);
    b.scan(false, true);
    assert_eq!(b.reports(Duration::from_millis(300)).len(), 1);
    // New data from the same advertiser and PDU type is still a duplicate (which is why a
    // Bluetooth Mesh scanner turns the filter off) ...
    a.set_data(LE_SET_ADV_DATA, &[0x02, 0x2A, 0x01]);
    assert_eq!(b.reports(Duration::from_millis(200)), []);
    // ... until scanning starts again.
    b.ok(LE_SET_SCAN_ENABLE, &[0, 0]);
    b.ok(LE_SET_SCAN_ENABLE, &[1, 1]);
    let reports = b.reports(Duration::from_millis(300));
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].data, [0x02, 0x2A, 0x01]);
}

#[test]
fn reset_stops_advertising_and_scanning() {
    let Some(ctl) = start(2, &[]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD);
    b.scan(false, false);
    assert!(!b.reports(Duration::from_millis(200)).is_empty());
    a.ok(RESET, &[]);
    b.collect(Duration::from_millis(50)); // what was already on its way
    assert_eq!(
        b.reports(Duration::from_millis(300)),
        [],
        "A still advertises"
    );

    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD);
    assert!(!b.reports(Duration::from_millis(200)).is_empty());
    b.ok(RESET, &[]);
    assert_eq!(b.reports(Duration::from_millis(300)), [], "B still scans");
}

#[test]
fn scannable_advertising_answers_active_scans_legacy_and_extended() {
    let Some(ctl) = start(2, &[]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    let scan_rsp = [0x03, 0x09, b'w', b'f'];
    a.advertise(ADV_SCAN_IND, 0x0040, MESH_AD);
    a.set_data(LE_SET_SCAN_RSP_DATA, &scan_rsp);
    b.scan(true, false);
    b.collect(Duration::from_millis(50));
    let reports = b.reports(Duration::from_millis(300));
    assert!(reports.len() >= 4, "{reports:?}");
    for r in &reports {
        assert!(!r.extended);
        match r.event_type as u8 {
            ADV_SCAN_IND => assert_eq!(r.data, MESH_AD),
            SCAN_RSP => assert_eq!(r.data, scan_rsp),
            other => panic!("event type {other:#04x}"),
        }
    }

    // Extended scan commands bring extended reports: legacy ADV_SCAN_IND is 0x0012, its scan
    // response 0x001A (7.7.65.13).
    b.ok(LE_SET_SCAN_ENABLE, &[0, 0]);
    b.ok(
        LE_SET_EXT_SCAN_PARAMS,
        &[0x00, 0x00, 0x01, 0x01, 0x10, 0, 0x10, 0],
    );
    b.ok(LE_SET_EXT_SCAN_ENABLE, &[1, 0, 0, 0, 0, 0]);
    let reports = b.reports(Duration::from_millis(300));
    assert!(reports.len() >= 4, "{reports:?}");
    for r in &reports {
        assert!(r.extended);
        match r.event_type {
            0x0012 => assert_eq!(r.data, MESH_AD),
            0x001A => assert_eq!(r.data, scan_rsp),
            other => panic!("event type {other:#06x}"),
        }
    }
}

#[test]
fn extended_advertising_with_legacy_properties_sends_a_legacy_pdu() {
    let Some(ctl) = start(2, &[]) else {
        return;
    };
    let (mut a, mut b) = (Hci::tcp(&ctl, 0), Hci::tcp(&ctl, 1));
    b.scan(false, false);
    a.ok(RESET, &[]);
    // Handle 0, properties 0x0010 (legacy ADV_NONCONN_IND), 20 ms, channels 37-39, public
    // address, no peer, no filter, no TX power preference, 1M, SID 0 (7.8.53).
    let params = [
        0x00, 0x10, 0x00, 0x20, 0, 0, 0x20, 0, 0, 0x07, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x7F,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    assert_eq!(a.command(LE_SET_EXT_ADV_PARAMS, &params)[0], 0);
    let mut data = vec![0x00, 0x03, 0x01, MESH_AD.len() as u8];
    data.extend_from_slice(MESH_AD);
    a.ok(LE_SET_EXT_ADV_DATA, &data);
    a.ok(LE_SET_EXT_ADV_ENABLE, &[1, 1, 0x00, 0, 0, 0]);
    let reports = b.reports(Duration::from_millis(300));
    assert!(reports.len() >= 3, "{reports:?}");
    assert!(reports
        .iter()
        .all(|r| !r.extended && r.event_type == ADV_NONCONN_IND.into() && r.data == MESH_AD));
}

#[test]
fn links_have_their_own_rssi_and_loss() {
    let args = ["--rssi", "-60", "--rssi", "0-1=-75", "--loss", "0-2=1"];
    let Some(ctl) = start(4, &args) else {
        return;
    };
    let mut a = Hci::tcp(&ctl, 0);
    let mut hearers: Vec<Hci> = (1..4).map(|i| Hci::tcp(&ctl, i)).collect();
    for h in &mut hearers {
        h.scan(false, false);
    }
    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD);
    let heard: Vec<Vec<i8>> = hearers
        .iter()
        .map(|h| {
            h.reports(Duration::from_millis(300))
                .iter()
                .map(|r| r.rssi)
                .collect()
        })
        .collect();
    assert!(
        heard[0].len() >= 3 && heard[0].iter().all(|&r| r == -75),
        "{heard:?}"
    );
    assert_eq!(heard[1], [], "link 0-2 loses everything");
    assert!(
        heard[2].len() >= 3 && heard[2].iter().all(|&r| r == -60),
        "{heard:?}"
    );
}

#[test]
fn links_change_while_the_controllers_run() {
    let Some(mut ctl) = start(2, &[]) else {
        return;
    };
    let mut a = Hci::tcp(&ctl, 0);
    let mut b = Hci::tcp(&ctl, 1);
    b.scan(false, false);
    a.advertise(ADV_NONCONN_IND, 0x0020, MESH_AD);
    let rssi = |b: &mut Hci| -> Vec<i8> {
        b.reports(Duration::from_millis(300))
            .iter()
            .map(|r| r.rssi)
            .collect()
    };
    assert!(rssi(&mut b).iter().all(|&r| r == -50));
    // Each change is taken before `set_*` returns; reports already on their way are let go.
    ctl.set_rssi(0, 1, -80);
    rssi(&mut b);
    let heard = rssi(&mut b);
    assert!(
        heard.len() >= 3 && heard.iter().all(|&r| r == -80),
        "{heard:?}"
    );
    ctl.set_loss(1, 0, 1.0);
    rssi(&mut b);
    assert_eq!(rssi(&mut b), [], "the link is cut");
    ctl.set_loss(0, 1, 0.0);
    assert!(!rssi(&mut b).is_empty(), "and mended");
}

#[test]
fn a_pty_controller_replaces_a_stale_link_and_removes_its_own_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("hci");
    // What a killed run leaves: a symlink to a pty that is gone.
    std::os::unix::fs::symlink("/dev/pts/424242", &link).unwrap();
    let spec = format!("pty:{}", link.display());
    let Some(mut ctl) = Fixture::default().transport(&spec).start_or_skip() else {
        return;
    };
    assert_eq!(ctl.transports(), [spec]);
    assert_eq!(ctl.radio_uri(0), format!("hci:{}", link.display()));
    let mut hci = Hci::pty(&link);
    assert_eq!(hci.command(RESET, &[]), [0]);

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &ctl.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = ctl.wait_exit(Duration::from_secs(5)).expect("it exits");
    assert!(status.success(), "{status:?}\n{}", ctl.log());
    assert!(
        !link.exists() && link.symlink_metadata().is_err(),
        "the link is gone"
    );
}
