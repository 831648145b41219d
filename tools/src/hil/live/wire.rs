//! What `weft hil run` and its role processes (`weft hil role`) tell each other: one JSON
//! object a line, commands on the role's standard input, reports on its standard output.

use serde::{Deserialize, Serialize};

use crate::hil::backend::Observed;
use crate::hil::steps::Oob;

/// A Config request, named by what the scenario asks (the role process builds the message:
/// it holds the keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "req", rename_all = "kebab-case")]
pub enum ConfigReq {
    Relay {
        on: bool,
    },
    HeartbeatPublication {
        dst: u16,
        period_s: u32,
        ttl: u8,
    },
    HeartbeatSubscription {
        src: u16,
        dst: u16,
        period_s: u32,
    },
    GattProxy {
        on: bool,
    },
    /// Key Refresh phase 1: the new NetKey, then the new AppKey (two requests).
    NetKeyUpdate,
    AppKeyUpdate,
    NodeReset,
}

/// A command to a role process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Cmd {
    /// Start again as a fresh unprovisioned device offering this OOB class.
    BecomeDevice {
        oob: OobName,
    },
    /// (The provisioner) provision the device with this UUID (hex).
    Provision {
        uuid: String,
        oob: OobName,
    },
    /// (The provisioner) AppKey, bindings, subscription, publication for `dst`.
    Configure {
        dst: u16,
        subscribe: Option<u16>,
        publish: Option<u16>,
    },
    /// (The provisioner) one Config request to `dst`.
    Config {
        dst: u16,
        req: ConfigReq,
    },
    /// Send an access message (`onoff-set`, `onoff-set-unack`, `onoff-get`, `large`).
    Send {
        dst: u16,
        message: String,
        on: bool,
        tid: u8,
        ttl: Option<u8>,
    },
    IvUpdate,
    /// Key Refresh on this node itself: phase 1 takes the new keys locally.
    KeyRefresh {
        phase: u8,
    },
    /// The user types an OOB value: into the provisioner for a device (`uuid`), or into this
    /// device (`uuid` none).
    InputOob {
        uuid: Option<String>,
        value: u32,
    },
    /// Hand these Mesh Message AD bytes (hex) to the station as if heard.
    Inject {
        hex: String,
    },
    /// (A Thread role) send an ICMPv6 echo request to this address.
    Ping {
        dst: std::net::Ipv6Addr,
        sequence: u16,
    },
}

/// An OOB class as commands carry it (its scenario name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OobName {
    None,
    Static,
    OutputNumeric,
    InputNumeric,
}

impl From<Oob> for OobName {
    fn from(o: Oob) -> Self {
        match o {
            Oob::None => OobName::None,
            Oob::Static => OobName::Static,
            Oob::OutputNumeric => OobName::OutputNumeric,
            Oob::InputNumeric => OobName::InputNumeric,
        }
    }
}

impl From<OobName> for Oob {
    fn from(o: OobName) -> Self {
        match o {
            OobName::None => Oob::None,
            OobName::Static => Oob::Static,
            OobName::OutputNumeric => Oob::OutputNumeric,
            OobName::InputNumeric => Oob::InputNumeric,
        }
    }
}

/// What a role's state is now (sent when it changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub address: Option<u16>,
    pub provisioned: bool,
    pub iv_index: u32,
    pub iv_update: bool,
    pub key_phase: u8,
    pub relay: bool,
    /// A Thread role's role (`detached`, `child`, `router`, `leader`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_role: Option<String>,
    /// A Thread role's RLOC, once attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rloc: Option<std::net::Ipv6Addr>,
}

/// A report from a role process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "kebab-case")]
pub enum Msg {
    /// The radio is open and the station runs.
    Ready,
    /// A `become-device` command was carried out.
    Became,
    /// Something the scenario sees.
    Seen {
        what: Observed,
    },
    /// The role's state changed.
    State {
        state: State,
    },
    /// An OOB value shown: by the provisioner for a device (`uuid`), or by this device.
    OobShown {
        uuid: Option<String>,
        value: u32,
    },
    /// An OOB value asked for: by the provisioner for a device, or by this device.
    OobAsked {
        uuid: Option<String>,
    },
    /// A provisioning finished with this authentication (`uuid`: the device's, at the
    /// provisioner; none at the device).
    Auth {
        uuid: Option<String>,
        method: String,
    },
    /// The provisioner's provisioning of this device failed.
    ProvisionFailed {
        uuid: String,
        reason: String,
    },
    /// The provisioner's Config requests to `dst` all ended well, or one failed.
    ConfigDone {
        dst: u16,
    },
    ConfigFailed {
        dst: u16,
        reason: String,
    },
    /// A Mesh Message this role put on the air (AD bytes, hex): what `replay` plays again.
    Pdu {
        hex: String,
    },
    /// The radio failed; the process ends.
    Lost {
        reason: String,
    },
}
