//! HCI commands: the bytes of a command packet (Core v5.4 Vol 4 Part E §5.4.1: opcode, its OGF in
//! the top 6 bits and OCF in the low 10, then the parameter total length and the parameters),
//! the names errors give commands (the §7 section titles), and what bt-hci lacks.
//!
//! The commands themselves are bt-hci's typed ones ([`bt_hci::cmd`]): their parameters are
//! written by bt-hci and their return parameters parsed by it. Written here by hand:
//! - Read Buffer Size (§7.4.5, opcode 0x1005), which bt-hci 0.11 does not have: [`ReadBufferSize`];
//! - the command names, for error messages ([`command_name`]); bt-hci names none.

use bt_hci::cmd::Cmd;
use bt_hci::WriteHci;

use super::HciError;

/// HCI_Reset (§7.3.2).
pub const RESET: u16 = 0x0c03;
/// Read Buffer Size (§7.4.5): the ACL and synchronous buffers of a BR/EDR controller.
pub const READ_BUFFER_SIZE: u16 = 0x1005;
/// The opcode of no command: a Command Complete or Status with it only gives command credits
/// (§7.7.14: a controller may send one at power-up).
pub const NOP: u16 = 0x0000;

/// The parameters of `cmd` (what follows the 3-octet command header), written by bt-hci.
pub fn params_of<C: Cmd>(cmd: &C) -> Result<Vec<u8>, HciError> {
    let mut buf = vec![0u8; WriteHci::size(cmd)];
    WriteHci::write_hci(cmd, &mut buf[..]).map_err(|_| HciError::Encode {
        opcode: C::OPCODE.to_raw(),
    })?;
    // bt-hci writes the header (opcode, length) before the parameters.
    if buf.len() < 3 || buf.len() - 3 > 255 {
        return Err(HciError::Encode {
            opcode: C::OPCODE.to_raw(),
        });
    }
    buf.drain(..3);
    Ok(buf)
}

/// The body of a command packet (after the H4 indicator): opcode, length, parameters
/// (§5.4.1). `params` holds at most 255 octets.
pub fn command_body(opcode: u16, params: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(3 + params.len());
    b.extend_from_slice(&opcode.to_le_bytes());
    b.push(params.len().min(255) as u8);
    b.extend_from_slice(&params[..params.len().min(255)]);
    b
}

/// The return parameters of Read Buffer Size (§7.4.5), after the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBufferSize {
    /// HC_ACL_Data_Packet_Length.
    pub acl_len: u16,
    /// HC_Synchronous_Data_Packet_Length.
    pub sco_len: u8,
    /// HC_Total_Num_ACL_Data_Packets.
    pub acl_count: u16,
    /// HC_Total_Num_Synchronous_Data_Packets.
    pub sco_count: u16,
}

impl ReadBufferSize {
    /// Parses the return parameters that follow the status octet (7 octets).
    pub fn parse(ret: &[u8]) -> Result<Self, HciError> {
        let bad = || HciError::BadReturn {
            opcode: READ_BUFFER_SIZE,
            why: format!("expected 7 octets after the status, got {}", ret.len()),
        };
        let r: &[u8; 7] = ret
            .get(..7)
            .and_then(|r| r.try_into().ok())
            .ok_or_else(bad)?;
        Ok(ReadBufferSize {
            acl_len: u16::from_le_bytes([r[0], r[1]]),
            sco_len: r[2],
            acl_count: u16::from_le_bytes([r[3], r[4]]),
            sco_count: u16::from_le_bytes([r[5], r[6]]),
        })
    }
}

/// The name of the command `opcode`, as the Core Specification titles its section (Vol 4
/// Part E §7), for the commands weft sends and a few that controllers are known to leave
/// unanswered; "command" for the others.
pub fn command_name(opcode: u16) -> &'static str {
    match opcode {
        NOP => "No Operation",
        // §7.3 Controller & Baseband.
        0x0c01 => "Set Event Mask",
        RESET => "Reset",
        0x0c63 => "Set Event Mask Page 2",
        // §7.4 Informational parameters.
        0x1001 => "Read Local Version Information",
        0x1002 => "Read Local Supported Commands",
        0x1003 => "Read Local Supported Features",
        0x1004 => "Read Local Extended Features",
        READ_BUFFER_SIZE => "Read Buffer Size",
        0x1009 => "Read BD_ADDR",
        // §7.8 LE Controller.
        0x2001 => "LE Set Event Mask",
        0x2002 => "LE Read Buffer Size",
        0x2003 => "LE Read Local Supported Features",
        0x2005 => "LE Set Random Address",
        0x2006 => "LE Set Advertising Parameters",
        0x2008 => "LE Set Advertising Data",
        0x2009 => "LE Set Scan Response Data",
        0x200a => "LE Set Advertising Enable",
        0x200b => "LE Set Scan Parameters",
        0x200c => "LE Set Scan Enable",
        0x2017 => "LE Encrypt",
        0x2018 => "LE Rand",
        0x2035 => "LE Set Advertising Set Random Address",
        0x2036 => "LE Set Extended Advertising Parameters",
        0x2037 => "LE Set Extended Advertising Data",
        0x2038 => "LE Set Extended Scan Response Data",
        0x2039 => "LE Set Extended Advertising Enable",
        0x203a => "LE Read Maximum Advertising Data Length",
        0x203b => "LE Read Number of Supported Advertising Sets",
        0x203c => "LE Remove Advertising Set",
        0x203d => "LE Clear Advertising Sets",
        0x2041 => "LE Set Extended Scan Parameters",
        0x2042 => "LE Set Extended Scan Enable",
        0x2060 => "LE Read Buffer Size [v2]",
        op if op >> 10 == 0x3f => "Vendor Specific",
        _ => "command",
    }
}

/// `HCI NAME (0xOPCODE)`, as errors name a command.
pub fn describe(opcode: u16) -> String {
    format!("HCI {} ({opcode:#06x})", command_name(opcode))
}

/// The name of an HCI status or error code (Vol 1 Part F §1.3), as bt-hci words it.
pub fn status_name(status: u8) -> String {
    match bt_hci::param::Status::new(status).to_result() {
        Ok(()) => "Success".into(),
        Err(e) => {
            let s = format!("{e:?}");
            if s.starts_with("Unknown errno") {
                "an error code the specification does not define".into()
            } else {
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bt_hci::cmd::controller_baseband::Reset;
    use bt_hci::cmd::le::LeSetScanEnable;

    #[test]
    fn typed_commands_become_their_parameters() {
        assert_eq!(params_of(&Reset::new()).unwrap(), Vec::<u8>::new());
        assert_eq!(
            params_of(&LeSetScanEnable::new(true, false)).unwrap(),
            vec![1, 0]
        );
        assert_eq!(command_body(0x200c, &[1, 0]), vec![0x0c, 0x20, 2, 1, 0]);
    }

    #[test]
    fn names_and_statuses_read_as_the_specification_says() {
        assert_eq!(
            describe(0x2006),
            "HCI LE Set Advertising Parameters (0x2006)"
        );
        assert_eq!(describe(0xfc01), "HCI Vendor Specific (0xfc01)");
        assert_eq!(status_name(0x12), "Invalid HCI Command Parameters");
        assert_eq!(status_name(0x01), "Unknown HCI Command");
        assert_eq!(
            status_name(0xee),
            "an error code the specification does not define"
        );
    }

    #[test]
    fn read_buffer_size_parses_and_refuses_short_returns() {
        let r = ReadBufferSize::parse(&[0xfd, 0x03, 0x40, 0x08, 0x00, 0x02, 0x00]).unwrap();
        assert_eq!(
            r,
            ReadBufferSize {
                acl_len: 1021,
                sco_len: 64,
                acl_count: 8,
                sco_count: 2
            }
        );
        let e = ReadBufferSize::parse(&[1, 2]).unwrap_err();
        assert!(e.to_string().contains("Read Buffer Size (0x1005)"), "{e}");
    }
}
