//! Bringing a controller up for the Mesh advertising bearer, and the HCI sequences of the bearer
//! itself (Core v5.4 Vol 4 Part E §7.3, §7.4, §7.8; MshPRT v1.1 §3.3.1).
//!
//! Bring-up ([`bring_up`]), each command with its timeout:
//! 1. HCI_Reset (§7.3.2): the controller forgets whatever a previous host left;
//! 2. Read Local Version Information (§7.4.1), Read Local Supported Commands (§7.4.2), Read Local
//!    Supported Features (§7.4.3: LE Supported (Controller), bit 38, is required), Read Buffer
//!    Size (§7.4.5, when the controller has it), LE Read Buffer Size (§7.8.2), LE Read Local
//!    Supported Features (§7.8.3), Read BD_ADDR (§7.4.6, when supported);
//! 3. Set Event Mask (§7.3.1: Hardware Error, Data Buffer Overflow, LE Meta) and LE Set Event
//!    Mask (§7.8.1: LE Advertising Report, and for extended advertising LE Extended Advertising
//!    Report and LE Advertising Set Terminated);
//! 4. advertising and scanning stopped, in case the reset left them running (LE Set
//!    Advertising Enable and LE Set Scan Enable off, §7.8.9, §7.8.11, or their extended forms,
//!    §7.8.56, §7.8.65; a refusal is let be);
//! 5. advertising, by what the supported-commands bitmap says (§3.1.1: a host uses legacy or
//!    extended advertising commands, never both, until the next reset):
//!    - legacy: LE Set Random Address (§7.8.4) with the radio's random static address, LE Set
//!      Advertising Parameters (§7.8.5) for ADV_NONCONN_IND every 20 ms on channels 37-39 (100 ms
//!      if the controller refuses 20 ms: before Core 5.0 non-connectable advertising could not be
//!      faster, Vol 6 Part B §4.4.2.2.1);
//!    - extended: LE Set Extended Advertising Parameters (§7.8.53) for set 0 with legacy PDU
//!      properties and none of connectable, scannable, directed (ADV_NONCONN_IND), then LE Set
//!      Advertising Set Random Address (§7.8.52);
//! 6. passive scanning, duplicate filtering off, window = interval: LE Set Scan Parameters and
//!    LE Set Scan Enable (§7.8.10, §7.8.11), or LE Set Extended Scan Parameters and Enable
//!    (§7.8.64, §7.8.65) on the LE 1M PHY.
//!
//! Transmitting one [`crate::TxFrame`] is one advertising event (the station already repeats
//! a PDU for its Network Transmit or Relay Retransmit count, with its own intervals), see
//! [`transmit`]:
//! - legacy: LE Set Advertising Data (§7.8.7), LE Set Advertising Enable on (§7.8.9), a wait of
//!   [`super::HciConfig::legacy_event_hold`] (15 ms by default: one event on three channels
//!   takes under 10 ms, three PDUs of at most 376 µs with under 10 ms from the first to the
//!   last, Vol 6 Part B §4.4.2.2.1, and the hold stays under the 20 ms advertising interval, so a
//!   second event rarely starts), LE Set Advertising Enable off;
//! - extended: LE Set Extended Advertising Data (§7.8.54, operation «complete data»), LE Set
//!   Extended Advertising Enable (§7.8.56) with Max_Extended_Advertising_Events = 1, so that
//!   the controller itself stops after one event and says so with LE Advertising Set
//!   Terminated (§7.7.65.18); if that does not come within
//!   [`super::HciConfig::extended_event_timeout`], the set is disabled by hand.

use std::time::Duration;

use bt_hci::cmd::controller_baseband::{Reset, SetEventMask};
use bt_hci::cmd::info::{
    ReadBdAddr, ReadLocalSupportedCmds, ReadLocalSupportedFeatures, ReadLocalVersionInformation,
};
use bt_hci::cmd::le::{
    LeReadBufferSize, LeReadLocalSupportedFeatures, LeSetAdvData, LeSetAdvEnable, LeSetAdvParams,
    LeSetAdvSetRandomAddr, LeSetEventMask, LeSetExtAdvData, LeSetExtAdvEnable, LeSetExtAdvParams,
    LeSetExtScanEnable, LeSetExtScanParams, LeSetRandomAddr, LeSetScanEnable, LeSetScanParams,
};
use bt_hci::param::{
    AddrKind, AdvChannelMap, AdvEventProps, AdvFilterPolicy, AdvHandle, AdvKind, AdvSet, BdAddr,
    CmdMask, Duration as HciDuration, EventMask, ExtDuration, FilterDuplicates, LeEventMask,
    LeFeatureMask, LeScanKind, Operation, PhyKind, PhyParams, ScanningFilterPolicy, ScanningPhy,
};

use super::command::{ReadBufferSize, READ_BUFFER_SIZE};
use super::link::Link;
use super::{AdvMode, HciConfig, HciError};

/// The advertising set the radio uses in extended mode.
const SET: u8 = 0;
/// Advertising intervals tried, in 0.625 ms units: 20 ms, then 100 ms (see the module doc).
const INTERVALS: [u16; 2] = [0x0020, 0x00a0];

/// Which advertising commands the radio uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advertising {
    /// LE Set Advertising Parameters/Data/Enable, LE Set Scan Parameters/Enable.
    Legacy,
    /// The extended advertising and scanning commands, with legacy PDUs.
    Extended,
}

/// Buffer sizes a controller reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffers {
    /// The longest data packet, in octets.
    pub len: u16,
    /// How many packets the controller holds.
    pub count: u16,
}

/// What bring-up learnt about the controller, and how the radio uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerInfo {
    /// HCI_Version and HCI_Subversion (the version is the Core Specification's assigned
    /// number: 0x0D is 5.4).
    pub hci_version: u8,
    pub hci_subversion: u16,
    /// LMP/LL version and subversion.
    pub lmp_version: u8,
    pub lmp_subversion: u16,
    /// The manufacturer's company identifier.
    pub company: u16,
    /// The public device address, least significant octet first, when the controller has one.
    pub bd_addr: Option<[u8; 6]>,
    /// LMP features page 0 (§7.4.3) and LE features (§7.8.3), as the controller gave them.
    pub features: [u8; 8],
    pub le_features: [u8; 8],
    /// The supported-commands bitmap (§7.4.2, §6.27).
    pub supported_commands: [u8; 64],
    /// ACL buffers (Read Buffer Size), when the controller has BR/EDR.
    pub acl_buffers: Option<Buffers>,
    /// LE ACL buffers (LE Read Buffer Size); a length of 0 means the LE controller shares the
    /// BR/EDR buffers.
    pub le_buffers: Buffers,
    /// The advertising commands in use.
    pub advertising: Advertising,
    /// The advertising interval set, in milliseconds (20, or 100 on an older controller).
    pub adv_interval_ms: u16,
    /// The random static address the radio advertises from, least significant octet first.
    pub address: [u8; 6],
}

/// Resets and brings up the controller on `link` for the advertising bearer (see the module
/// documentation), advertising from `address`.
pub(crate) async fn bring_up(
    link: &mut Link,
    cfg: &HciConfig,
    address: [u8; 6],
) -> Result<ControllerInfo, HciError> {
    link.exec(&Reset::new()).await?;
    let version = link.exec(&ReadLocalVersionInformation::new()).await?;
    let cmds = link.exec(&ReadLocalSupportedCmds::new()).await?;
    let features = link.exec(&ReadLocalSupportedFeatures::new()).await?;
    if !features.supports_le() {
        return Err(HciError::Unsupported(
            "the controller does not support Bluetooth LE (LMP feature «LE Supported (Controller)» is off)".into(),
        ));
    }
    let acl_buffers = if cmds.read_buffer_size() {
        let r = ReadBufferSize::parse(&link.command(READ_BUFFER_SIZE, &[]).await?)?;
        Some(Buffers {
            len: r.acl_len,
            count: r.acl_count,
        })
    } else {
        None
    };
    let le = link.exec(&LeReadBufferSize::new()).await?;
    let le_features = if cmds.le_read_local_supported_features() {
        link.exec(&LeReadLocalSupportedFeatures::new()).await?
    } else {
        LeFeatureMask::default()
    };
    let bd_addr = if cmds.read_bd_addr() {
        let a = link.exec(&ReadBdAddr::new()).await?;
        let mut out = [0u8; 6];
        out.copy_from_slice(a.raw());
        Some(out)
    } else {
        None
    };
    let advertising = choose(cfg.advertising, &cmds)?;
    link.exec(&SetEventMask::new(
        EventMask::new()
            .enable_hardware_error(true)
            .enable_data_buffer_overflow(true)
            .enable_le_meta(true),
    ))
    .await?;
    let mut le_mask = LeEventMask::new().enable_le_adv_report(true);
    if advertising == Advertising::Extended {
        le_mask = le_mask
            .enable_le_ext_adv_report(true)
            .enable_le_adv_set_terminated(true);
    }
    link.exec(&LeSetEventMask::new(le_mask)).await?;
    quiet(link, advertising).await?;
    let adv_interval = match advertising {
        Advertising::Legacy => legacy_advertising(link, address).await?,
        Advertising::Extended => extended_advertising(link, address).await?,
    };
    scan(link, advertising, cfg.scan_interval).await?;
    Ok(ControllerInfo {
        hci_version: version.hci_version.into_inner(),
        hci_subversion: version.hci_subversion,
        lmp_version: version.lmp_version.into_inner(),
        lmp_subversion: version.lmp_subversion,
        company: version.company_identifier,
        bd_addr,
        features: features.into_inner(),
        le_features: le_features.into_inner(),
        supported_commands: cmds.into_inner(),
        acl_buffers,
        le_buffers: Buffers {
            len: le.le_acl_data_packet_length,
            count: u16::from(le.total_num_le_acl_data_packets),
        },
        advertising,
        adv_interval_ms: (u32::from(adv_interval) * 625 / 1000) as u16,
        address,
    })
}

/// The advertising commands to use: what the configuration asks, if the controller has them.
fn choose(mode: AdvMode, cmds: &CmdMask) -> Result<Advertising, HciError> {
    let extended = cmds.le_set_adv_set_random_addr()
        && cmds.le_set_ext_adv_parameters_v1()
        && cmds.le_set_ext_adv_data()
        && cmds.le_set_ext_adv_enable()
        && cmds.le_set_ext_scan_parameters()
        && cmds.le_set_ext_scan_enable();
    let legacy = cmds.le_set_random_addr()
        && cmds.le_set_adv_data()
        && cmds.le_set_adv_enable()
        && cmds.le_set_scan_parameters()
        && cmds.le_set_scan_enable();
    match mode {
        AdvMode::Extended if extended => Ok(Advertising::Extended),
        AdvMode::Extended => Err(HciError::Unsupported(
            "extended advertising was asked for, and the controller's supported commands lack \
             the LE Set Extended Advertising and Scanning commands"
                .into(),
        )),
        AdvMode::Auto if extended => Ok(Advertising::Extended),
        AdvMode::Auto | AdvMode::Legacy if legacy => Ok(Advertising::Legacy),
        _ => Err(HciError::Unsupported(
            "the controller's supported commands lack LE advertising and scanning".into(),
        )),
    }
}

/// Stops advertising and scanning, in case the reset did not (an emulator that keeps its state
/// across HCI_Reset, such as bumble's): their parameters cannot be set while they run (Command
/// Disallowed, §7.8.5, §7.8.10, §7.8.53, §7.8.64). Stopping what is stopped has no effect;
/// a controller that refuses it anyway is let be.
async fn quiet(link: &mut Link, mode: Advertising) -> Result<(), HciError> {
    let r = match mode {
        Advertising::Legacy => {
            ok_if_refused(link.exec(&LeSetAdvEnable::new(false)).await)?;
            link.exec(&LeSetScanEnable::new(false, false)).await
        }
        Advertising::Extended => {
            // No sets: every set (§7.8.56).
            ok_if_refused(link.exec(&LeSetExtAdvEnable::new(false, &[])).await)?;
            link.exec(&LeSetExtScanEnable::new(
                false,
                FilterDuplicates::Disabled,
                HciDuration::from_u16(0),
                HciDuration::from_u16(0),
            ))
            .await
        }
    };
    ok_if_refused(r)
}

fn ok_if_refused(r: Result<(), HciError>) -> Result<(), HciError> {
    match r {
        Err(HciError::Failed { .. }) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the controller refused a parameter value (so that another may do).
fn refused_value(e: &HciError) -> bool {
    matches!(
        e,
        HciError::Failed {
            status: 0x11 | 0x12,
            ..
        }
    )
}

async fn legacy_advertising(link: &mut Link, address: [u8; 6]) -> Result<u16, HciError> {
    link.exec(&LeSetRandomAddr::new(BdAddr::new(address)))
        .await?;
    let params = |units: u16| {
        LeSetAdvParams::new(
            HciDuration::from_u16(units),
            HciDuration::from_u16(units),
            AdvKind::AdvNonconnInd,
            AddrKind::RANDOM,
            AddrKind::PUBLIC,
            BdAddr::default(),
            AdvChannelMap::ALL,
            AdvFilterPolicy::Unfiltered,
        )
    };
    match link.exec(&params(INTERVALS[0])).await {
        Ok(()) => Ok(INTERVALS[0]),
        Err(e) if refused_value(&e) => {
            link.exec(&params(INTERVALS[1])).await?;
            Ok(INTERVALS[1])
        }
        Err(e) => Err(e),
    }
}

async fn extended_advertising(link: &mut Link, address: [u8; 6]) -> Result<u16, HciError> {
    let params = |units: u16| {
        LeSetExtAdvParams::new(
            AdvHandle::new(SET),
            // Legacy PDU, not connectable, scannable or directed: ADV_NONCONN_IND (§7.8.53).
            AdvEventProps::new().set_legacy_adv(true),
            ExtDuration::from_u32(u32::from(units)),
            ExtDuration::from_u32(u32::from(units)),
            AdvChannelMap::ALL,
            AddrKind::RANDOM,
            AddrKind::PUBLIC,
            BdAddr::default(),
            AdvFilterPolicy::Unfiltered,
            // 0x7F: no preference for the transmit power.
            0x7f,
            PhyKind::Le1M,
            0,
            PhyKind::Le1M,
            0,
            false,
        )
    };
    let units = match link.exec(&params(INTERVALS[0])).await {
        Ok(_) => INTERVALS[0],
        Err(e) if refused_value(&e) => {
            link.exec(&params(INTERVALS[1])).await?;
            INTERVALS[1]
        }
        Err(e) => return Err(e),
    };
    link.exec(&LeSetAdvSetRandomAddr::new(
        AdvHandle::new(SET),
        BdAddr::new(address),
    ))
    .await?;
    Ok(units)
}

async fn scan(link: &mut Link, mode: Advertising, interval: Duration) -> Result<(), HciError> {
    // 0.625 ms units, 2.5 ms to 10.24 s (§7.8.10).
    let units = (interval.as_micros() / 625).clamp(0x0004, 0x4000) as u16;
    let every = HciDuration::from_u16(units);
    match mode {
        Advertising::Legacy => {
            link.exec(&LeSetScanParams::new(
                LeScanKind::Passive,
                every,
                every,
                AddrKind::PUBLIC,
                ScanningFilterPolicy::BasicUnfiltered,
            ))
            .await?;
            link.exec(&LeSetScanEnable::new(true, false)).await?;
        }
        Advertising::Extended => {
            link.exec(&LeSetExtScanParams::new(
                AddrKind::PUBLIC,
                ScanningFilterPolicy::BasicUnfiltered,
                PhyParams {
                    le_1m_phy: Some(ScanningPhy {
                        active_scan: false,
                        scan_interval: every,
                        scan_window: every,
                    }),
                    le_2m_phy: None,
                    le_coded_phy: None,
                },
            ))
            .await?;
            link.exec(&LeSetExtScanEnable::new(
                true,
                FilterDuplicates::Disabled,
                HciDuration::from_u16(0),
                HciDuration::from_u16(0),
            ))
            .await?;
        }
    }
    Ok(())
}

/// What a transmission did beyond the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// The advertising event happened as planned.
    Done,
    /// Extended advertising: no LE Advertising Set Terminated came, the set was disabled.
    NotTerminated,
}

/// Advertises `data` (1 to 31 octets of AD structures) in one advertising event (see the
/// module documentation for the sequence and its timing).
pub(crate) async fn transmit(
    link: &mut Link,
    mode: Advertising,
    cfg: &HciConfig,
    data: &[u8],
) -> Result<Sent, HciError> {
    match mode {
        Advertising::Legacy => {
            let mut d = [0u8; 31];
            let n = data.len().min(31);
            d[..n].copy_from_slice(&data[..n]);
            link.exec(&LeSetAdvData::new(n as u8, d)).await?;
            link.exec(&LeSetAdvEnable::new(true)).await?;
            tokio::time::sleep(cfg.legacy_event_hold).await;
            link.exec(&LeSetAdvEnable::new(false)).await?;
            Ok(Sent::Done)
        }
        Advertising::Extended => {
            link.exec(&LeSetExtAdvData::new(
                AdvHandle::new(SET),
                Operation::Complete,
                true,
                data,
            ))
            .await?;
            let one = [AdvSet {
                adv_handle: AdvHandle::new(SET),
                duration: HciDuration::from_u16(0),
                max_ext_adv_events: 1,
            }];
            link.exec(&LeSetExtAdvEnable::new(true, &one)).await?;
            // What ended before this enable was answered is an earlier event's.
            link.forget_terminated();
            match link
                .wait_terminated(SET, cfg.extended_event_timeout)
                .await?
            {
                Some(_) => Ok(Sent::Done),
                None => {
                    link.exec(&LeSetExtAdvEnable::new(false, &one)).await?;
                    Ok(Sent::NotTerminated)
                }
            }
        }
    }
}

/// A harmless command whose answer shows the controller still answers: Read BD_ADDR, or LE
/// Read Buffer Size on a controller without it.
pub(crate) async fn probe(link: &mut Link, info: &ControllerInfo) -> Result<(), HciError> {
    // Supported commands octet 15 bit 1: Read BD_ADDR (§6.27).
    if info.supported_commands[15] & 0x02 != 0 {
        link.exec(&ReadBdAddr::new()).await.map(|_| ())
    } else {
        link.exec(&LeReadBufferSize::new()).await.map(|_| ())
    }
}
