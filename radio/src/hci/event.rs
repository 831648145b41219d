//! HCI events as the HCI radio uses them (Core v5.4 Vol 4 Part E §5.4.4 packet, §7.7 events),
//! parsed by bt-hci ([`bt_hci::event`]) and turned into owned values:
//!
//! - Command Complete (§7.7.14) and Command Status (§7.7.15): the answers to commands, with the
//!   command credits they give (Num_HCI_Command_Packets);
//! - Hardware Error (§7.7.16): the controller needs a reset;
//! - LE Advertising Report (§7.7.65.2) and LE Extended Advertising Report (§7.7.65.13), both
//!   as [`AdvReport`]s with the PDU's properties normalised (a legacy event type maps to the
//!   extended Event_Type bits, Table 7.1 of §7.7.65.13);
//! - LE Advertising Set Terminated (§7.7.65.18): the end of an extended advertising set that
//!   had a maximum number of events.
//!
//! Everything else is [`HciEvent::Other`]. A malformed event is an [`EventError`], and a
//! malformed report inside a well-formed event is counted in [`HciEvent::AdvReports`]; nothing
//! panics. bt-hci 0.11 indexes past the end of an LE Extended Advertising Report cut right
//! after its Primary_PHY, so each report's length is checked here before bt-hci reads it.

use std::fmt;

use bt_hci::event::le::{
    LeAdvertisingReport, LeAdvertisingSetTerminated, LeExtendedAdvertisingReport,
};
use bt_hci::event::{CommandComplete, CommandStatus, HardwareError};
use bt_hci::param::{LeAdvEventKind, LeExtAdvDataStatus};
use bt_hci::FromHciBytes;

/// Event codes (§7.7).
pub const COMMAND_COMPLETE: u8 = 0x0e;
pub const COMMAND_STATUS: u8 = 0x0f;
pub const HARDWARE_ERROR: u8 = 0x10;
pub const LE_META: u8 = 0x3e;
/// LE subevent codes (§7.7.65).
pub const LE_ADVERTISING_REPORT: u8 = 0x02;
pub const LE_EXTENDED_ADVERTISING_REPORT: u8 = 0x0d;
pub const LE_ADVERTISING_SET_TERMINATED: u8 = 0x12;

/// RSSI 127 (0x7F): "RSSI is not available" (§7.7.65.2, §7.7.65.13).
const RSSI_UNAVAILABLE: i8 = 127;

/// An event, as the HCI radio needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HciEvent {
    /// Command Complete: the command `opcode` finished.
    CommandComplete {
        /// Num_HCI_Command_Packets: how many commands the controller takes now.
        credits: u8,
        opcode: u16,
        /// The status return parameter; `None` for the no-operation opcode 0x0000, which has
        /// no return parameters.
        status: Option<u8>,
        /// The return parameters after the status.
        params: Vec<u8>,
    },
    /// Command Status: the command `opcode` was taken (status 0) or refused.
    CommandStatus {
        status: u8,
        credits: u8,
        opcode: u16,
    },
    /// Hardware Error: the controller failed and wants a reset.
    HardwareError { code: u8 },
    /// Advertising reports (legacy or extended); `malformed` counts the reports of the event
    /// that could not be read (the rest of the event after the first one is lost).
    AdvReports {
        reports: Vec<AdvReport>,
        malformed: u32,
    },
    /// LE Advertising Set Terminated.
    AdvSetTerminated {
        status: u8,
        handle: u8,
        completed_events: u8,
    },
    /// Any other event, or LE subevent, that the HCI radio does not use.
    Other { code: u8, subevent: Option<u8> },
}

/// One advertising report: the PDU's properties, who sent it, and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvReport {
    /// From an LE Extended Advertising Report (rather than a legacy one).
    pub extended: bool,
    /// Connectable (ADV_IND, ADV_DIRECT_IND, or an extended connectable PDU).
    pub connectable: bool,
    /// Scannable (ADV_IND, ADV_SCAN_IND, or an extended scannable PDU).
    pub scannable: bool,
    /// Directed (ADV_DIRECT_IND or an extended directed PDU).
    pub directed: bool,
    /// A scan response (SCAN_RSP, AUX_SCAN_RSP).
    pub scan_response: bool,
    /// A legacy PDU (always, for a legacy report).
    pub legacy: bool,
    /// The data is complete (an extended report may come in parts, or truncated).
    pub complete: bool,
    /// Address_Type (0 public, 1 random, 2 and 3 resolved identities, 0xFF anonymous).
    pub address_type: u8,
    /// The advertiser address (AdvA), least significant octet first.
    pub address: [u8; 6],
    /// Received signal strength, `None` when the controller says it is not available.
    pub rssi: Option<i8>,
    /// The advertising data (AD structures).
    pub data: Vec<u8>,
}

/// A malformed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// The event code, and the LE subevent code for an LE Meta event.
    pub code: u8,
    pub subevent: Option<u8>,
    /// What is wrong.
    pub why: &'static str,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed HCI event {:#04x}", self.code)?;
        if let Some(s) = self.subevent {
            write!(f, " (LE subevent {s:#04x})")?;
        }
        write!(f, ": {}", self.why)
    }
}

impl std::error::Error for EventError {}

/// Parses an event packet's body (event code, parameter length, parameters: §5.4.4).
pub fn parse_event(body: &[u8]) -> Result<HciEvent, EventError> {
    let err = |code, subevent, why| EventError {
        code,
        subevent,
        why,
    };
    let [code, len, params @ ..] = body else {
        return Err(err(
            body.first().copied().unwrap_or(0),
            None,
            "shorter than its header",
        ));
    };
    let code = *code;
    if usize::from(*len) != params.len() {
        return Err(err(
            code,
            None,
            "its length octet does not match its parameters",
        ));
    }
    let bad = |why| move |_| err(code, None, why);
    match code {
        COMMAND_COMPLETE => {
            let e = CommandComplete::from_hci_bytes_complete(params)
                .map_err(bad("shorter than Command Complete's fixed part"))?;
            let opcode = e.cmd_opcode.to_raw();
            let rest: &[u8] = &e.bytes;
            let (status, params) = match (opcode, rest.split_first()) {
                (0, _) => (None, Vec::new()),
                (_, Some((s, p))) => (Some(*s), p.to_vec()),
                (_, None) => {
                    return Err(err(code, None, "a Command Complete without its status"));
                }
            };
            Ok(HciEvent::CommandComplete {
                credits: e.num_hci_cmd_pkts,
                opcode,
                status,
                params,
            })
        }
        COMMAND_STATUS => {
            let e = CommandStatus::from_hci_bytes_complete(params)
                .map_err(bad("a Command Status is 4 octets"))?;
            Ok(HciEvent::CommandStatus {
                status: e.status.into(),
                credits: e.num_hci_cmd_pkts,
                opcode: e.cmd_opcode.to_raw(),
            })
        }
        HARDWARE_ERROR => {
            let e = HardwareError::from_hci_bytes_complete(params)
                .map_err(bad("a Hardware Error is 1 octet"))?;
            Ok(HciEvent::HardwareError {
                code: e.hardware_code,
            })
        }
        LE_META => parse_le(params),
        _ => Ok(HciEvent::Other {
            code,
            subevent: None,
        }),
    }
}

fn parse_le(params: &[u8]) -> Result<HciEvent, EventError> {
    let Some((&sub, p)) = params.split_first() else {
        return Err(EventError {
            code: LE_META,
            subevent: None,
            why: "an LE Meta event without its subevent code",
        });
    };
    let bad = |why| {
        move |_| EventError {
            code: LE_META,
            subevent: Some(sub),
            why,
        }
    };
    match sub {
        LE_ADVERTISING_REPORT => {
            let (e, _) = LeAdvertisingReport::from_hci_bytes(p).map_err(bad("no Num_Reports"))?;
            let mut reports = Vec::new();
            for r in e.reports.iter() {
                match r {
                    Ok(r) => reports.push(legacy_report(&r)),
                    // The iterator stops at the first malformed report: the rest are lost too.
                    Err(_) => break,
                }
            }
            let malformed = e.reports.len().saturating_sub(reports.len()) as u32;
            Ok(HciEvent::AdvReports { reports, malformed })
        }
        LE_EXTENDED_ADVERTISING_REPORT => {
            let whole = whole_extended_reports(p).ok_or(EventError {
                code: LE_META,
                subevent: Some(sub),
                why: "no Num_Reports",
            })?;
            let (e, _) =
                LeExtendedAdvertisingReport::from_hci_bytes(p).map_err(bad("no Num_Reports"))?;
            let mut reports = Vec::new();
            for r in e.reports.iter().take(whole) {
                match r {
                    Ok(r) => reports.push(extended_report(&r)),
                    Err(_) => break,
                }
            }
            let malformed = e.reports.len().saturating_sub(reports.len()) as u32;
            Ok(HciEvent::AdvReports { reports, malformed })
        }
        LE_ADVERTISING_SET_TERMINATED => {
            let e = LeAdvertisingSetTerminated::from_hci_bytes_complete(p)
                .map_err(bad("an LE Advertising Set Terminated is 5 octets"))?;
            Ok(HciEvent::AdvSetTerminated {
                status: e.status.into(),
                handle: e.adv_handle.as_raw(),
                completed_events: e.num_completed_ext_adv_evts,
            })
        }
        _ => Ok(HciEvent::Other {
            code: LE_META,
            subevent: Some(sub),
        }),
    }
}

/// How many of the LE Extended Advertising Report's reports are whole, by their lengths
/// alone: Num_Reports, then per report 24 fixed octets (Event_Type 2, Address_Type 1, Address 6,
/// Primary_PHY 1, Secondary_PHY 1, Advertising_SID 1, TX_Power 1, RSSI 1,
/// Periodic_Advertising_Interval 2, Direct_Address_Type 1, Direct_Address 6, Data_Length 1) and
/// Data_Length octets (§7.7.65.13). `None` without Num_Reports.
fn whole_extended_reports(p: &[u8]) -> Option<usize> {
    const FIXED: usize = 24;
    let (&n, mut rest) = p.split_first()?;
    let mut whole = 0;
    for _ in 0..n {
        if rest.len() < FIXED {
            break;
        }
        let total = FIXED + usize::from(rest[FIXED - 1]);
        if rest.len() < total {
            break;
        }
        rest = &rest[total..];
        whole += 1;
    }
    Some(whole)
}

fn rssi(v: i8) -> Option<i8> {
    (v != RSSI_UNAVAILABLE).then_some(v)
}

fn address(a: bt_hci::param::BdAddr) -> [u8; 6] {
    let mut out = [0u8; 6];
    out.copy_from_slice(a.raw());
    out
}

fn legacy_report(r: &bt_hci::param::LeAdvReport<'_>) -> AdvReport {
    // Legacy event types as extended Event_Type bits (§7.7.65.13, Table 7.1).
    // Copied out first: bt-hci's report is a packed struct.
    let (kind, addr_kind, addr, rssi_v, data) = (r.event_kind, r.addr_kind, r.addr, r.rssi, r.data);
    let (connectable, scannable, directed, scan_response) = match kind {
        LeAdvEventKind::AdvInd => (true, true, false, false),
        LeAdvEventKind::AdvDirectInd => (true, false, true, false),
        LeAdvEventKind::AdvScanInd => (false, true, false, false),
        LeAdvEventKind::AdvNonconnInd => (false, false, false, false),
        LeAdvEventKind::ScanRsp => (false, true, false, true),
    };
    AdvReport {
        extended: false,
        connectable,
        scannable,
        directed,
        scan_response,
        legacy: true,
        complete: true,
        address_type: addr_kind.into_inner(),
        address: address(addr),
        rssi: rssi(rssi_v),
        data: data.to_vec(),
    }
}

fn extended_report(r: &bt_hci::param::LeExtAdvReport<'_>) -> AdvReport {
    let k = r.event_kind;
    AdvReport {
        extended: true,
        connectable: k.connectable(),
        scannable: k.scannable(),
        directed: k.directed(),
        scan_response: k.scan_response(),
        legacy: k.legacy(),
        complete: matches!(k.data_status(), LeExtAdvDataStatus::Complete),
        address_type: r.addr_kind.into_inner(),
        address: address(r.addr),
        rssi: rssi(r.rssi),
        data: r.data.to_vec(),
    }
}

#[cfg(test)]
mod tests;
