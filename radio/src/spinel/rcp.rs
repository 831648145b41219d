//! Bringing an RCP up (what OpenThread's `RadioSpinel::Init` and `Enable` do, reduced to a
//! raw radio): reset and wait for the reset notification, check the protocol version, the
//! capabilities and the RCP API version, then enable the PHY on the channel, promiscuous mode
//! and the raw stream. And, when the RCP does not answer, what it looks like
//! ([`diagnose_silence`]).

use std::time::Duration;

use super::link::{Link, LinkError};
use super::wire::{
    self, Reader, CAP_CONFIG_RADIO, CAP_MAC_RAW, CAP_RCP_API_VERSION, CMD_PROP_VALUE_IS, CMD_RESET,
    MIN_RCP_API_VERSION, PROMISCUOUS_FULL, PROP_CAPS, PROP_LAST_STATUS, PROP_MAC_PROMISCUOUS_MODE,
    PROP_MAC_RAW_STREAM_ENABLED, PROP_NCP_VERSION, PROP_PHY_CHAN, PROP_PHY_ENABLED,
    PROP_PROTOCOL_VERSION, PROP_RCP_API_VERSION, PROTOCOL_MAJOR, RESET_STACK,
};
use super::{SpinelConfig, SpinelStats};

/// What bring-up learnt about the RCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcpInfo {
    /// `PROTOCOL_VERSION`: major, minor.
    pub protocol: (u32, u32),
    /// `RCP_API_VERSION`, when the RCP has the capability.
    pub rcp_api_version: Option<u32>,
    /// `NCP_VERSION`: the firmware's description, e.g. "OPENTHREAD/thread-reference-...".
    pub firmware: String,
    /// `CAPS`.
    pub caps: Vec<u32>,
    /// The reset reason the RCP gave (`STATUS_RESET_*`).
    pub reset_reason: u32,
    /// The channel it listens on.
    pub channel: u8,
}

impl RcpInfo {
    /// The RCP can transmit (`CAP_WRITABLE_RAW_STREAM`, or an RCP, which always can).
    pub fn can_send(&self) -> bool {
        self.caps.contains(&wire::CAP_WRITABLE_RAW_STREAM) || self.caps.contains(&CAP_CONFIG_RADIO)
    }
}

/// The capabilities in a `CAPS` value (`A(i)`: packed integers to the end).
pub fn parse_caps(v: &[u8]) -> Result<Vec<u32>, wire::WireError> {
    let mut r = Reader::new(v);
    let mut caps = Vec::new();
    while !r.is_empty() && caps.len() < 256 {
        caps.push(r.packed("capability")?);
    }
    Ok(caps)
}

/// What an RCP that did not answer within `waited` looks like, from what the line carried:
/// one clause, for the end of an error sentence.
pub fn diagnose_silence(st: &SpinelStats, waited: Duration, write_stalled: bool) -> String {
    let h = st.hdlc;
    let secs = format!("{} ms", waited.as_millis());
    if write_stalled {
        return format!(
            "writing to it stalled for {secs}: the line looks held by hardware flow control \
             (an RCP on a UART with RTS/CTS needs them wired, or firmware built without flow \
             control)"
        );
    }
    if h.bytes == 0 {
        return format!(
            "nothing at all came back in {secs}: it looks like the wrong port, or a device \
             without OpenThread's RCP firmware (`weft radios` lists the dongles and the URIs to \
             use; the README says how to flash ot-rcp)"
        );
    }
    if h.frames == 0 && (h.bad_fcs > 0 || h.too_short > 0 || h.aborted > 0) {
        return format!(
            "{} bytes came back as {} damaged HDLC frames and no good one: it looks like the \
             wrong baud rate (give ?baud=N, the rate the RCP's UART was built with; 460800 is usual) or lost bytes that \
             hardware flow control would prevent",
            h.bytes,
            h.bad_fcs + h.too_short + h.aborted
        );
    }
    if h.frames == 0 {
        return format!(
            "{} bytes came back but no valid HDLC frame: it looks like the wrong baud rate \
             (give ?baud=N, the rate the RCP's UART was built with; 460800 is usual), or a device that does not speak \
             Spinel",
            h.bytes
        );
    }
    format!(
        "{} valid HDLC frames came back but no answer to the reset: it looks like firmware that \
         is not an OpenThread RCP, or an RCP and host version mismatch",
        h.frames
    )
}

/// Why bring-up failed, as the end of a sentence that starts with the URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BringUpError {
    /// The RCP did not answer (the reason says what it looks like).
    Silent(String),
    /// Versions do not match.
    Version(String),
    /// Not an RCP, or it refused a step.
    Refused(String),
    /// The stream is gone.
    Lost(String),
}

impl BringUpError {
    pub fn text(&self) -> &str {
        match self {
            BringUpError::Silent(s)
            | BringUpError::Version(s)
            | BringUpError::Refused(s)
            | BringUpError::Lost(s) => s,
        }
    }
}

/// Resets the RCP and brings it up (see the module documentation).
pub async fn bring_up(
    link: &mut Link,
    cfg: &SpinelConfig,
    stats: impl Fn() -> SpinelStats,
) -> Result<RcpInfo, BringUpError> {
    let reset_reason = reset(link, cfg, &stats).await?;
    let v = get_prop(link, cfg, PROP_PROTOCOL_VERSION, "PROTOCOL_VERSION", &stats).await?;
    let mut r = Reader::new(&v);
    let protocol = match (r.packed("major"), r.packed("minor")) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            return Err(BringUpError::Version(format!(
                "its PROTOCOL_VERSION cannot be read ({}): an RCP and host version mismatch, \
                 or not an OpenThread RCP",
                hex::encode(&v)
            )))
        }
    };
    if protocol.0 != PROTOCOL_MAJOR {
        return Err(BringUpError::Version(format!(
            "it speaks Spinel protocol {}.{} and weft speaks {PROTOCOL_MAJOR}.x: an RCP and host \
             version mismatch (flash an ot-rcp built from a recent OpenThread)",
            protocol.0, protocol.1
        )));
    }
    let firmware = get_prop(link, cfg, PROP_NCP_VERSION, "NCP_VERSION", &stats)
        .await
        .map(|v| {
            String::from_utf8_lossy(v.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
        })
        .unwrap_or_default();
    let v = get_prop(link, cfg, PROP_CAPS, "CAPS", &stats).await?;
    let caps = parse_caps(&v).map_err(|e| {
        BringUpError::Refused(format!(
            "its CAPS cannot be read ({e}): not an OpenThread RCP"
        ))
    })?;
    if !caps.contains(&CAP_CONFIG_RADIO) && !caps.contains(&CAP_MAC_RAW) {
        return Err(BringUpError::Refused(format!(
            "it is not a radio co-processor (its capabilities {caps:?} have neither \
             CONFIG_RADIO nor MAC_RAW; firmware '{firmware}' looks like an NCP): flash ot-rcp"
        )));
    }
    let rcp_api_version = if caps.contains(&CAP_RCP_API_VERSION) {
        let v = get_prop(link, cfg, PROP_RCP_API_VERSION, "RCP_API_VERSION", &stats).await?;
        let n = Reader::new(&v).packed("RCP API version").map_err(|_| {
            BringUpError::Version(
                "its RCP_API_VERSION cannot be read: an RCP and host version mismatch".into(),
            )
        })?;
        if n < MIN_RCP_API_VERSION {
            return Err(BringUpError::Version(format!(
                "its RCP API version is {n} and weft needs {MIN_RCP_API_VERSION} or later: an \
                 RCP and host version mismatch (flash an ot-rcp built from a recent OpenThread)"
            )));
        }
        Some(n)
    } else {
        None
    };
    configure(link, cfg, cfg.channel, &stats).await?;
    Ok(RcpInfo {
        protocol,
        rcp_api_version,
        firmware,
        caps,
        reset_reason,
        channel: cfg.channel,
    })
}

/// Enables the PHY on `channel`, full promiscuous mode and the raw stream.
pub async fn configure(
    link: &mut Link,
    cfg: &SpinelConfig,
    channel: u8,
    stats: &impl Fn() -> SpinelStats,
) -> Result<(), BringUpError> {
    set_prop(link, cfg, PROP_PHY_ENABLED, "PHY_ENABLED", &[1], stats).await?;
    set_prop(link, cfg, PROP_PHY_CHAN, "PHY_CHAN", &[channel], stats).await?;
    set_prop(
        link,
        cfg,
        PROP_MAC_PROMISCUOUS_MODE,
        "MAC_PROMISCUOUS_MODE",
        &[PROMISCUOUS_FULL],
        stats,
    )
    .await?;
    set_prop(
        link,
        cfg,
        PROP_MAC_RAW_STREAM_ENABLED,
        "MAC_RAW_STREAM_ENABLED",
        &[1],
        stats,
    )
    .await
}

/// Sends RESET and waits for the reset notification: its reason.
async fn reset(
    link: &mut Link,
    cfg: &SpinelConfig,
    stats: &impl Fn() -> SpinelStats,
) -> Result<u32, BringUpError> {
    // Transaction id 0: the notification that answers comes without one.
    let frame = wire::command(0, CMD_RESET, &[RESET_STACK]);
    match link.request(0xFF, &frame, cfg.reset_timeout).await {
        Err(LinkError::Reset(reason)) => Ok(reason),
        Err(LinkError::WriteStalled) => Err(BringUpError::Silent(diagnose_silence(
            &stats(),
            cfg.write_timeout,
            true,
        ))),
        Err(LinkError::Lost(why)) => Err(BringUpError::Lost(why)),
        Err(LinkError::Timeout) | Ok(_) => Err(BringUpError::Silent(format!(
            "the RCP did not answer the reset: {}",
            diagnose_silence(&stats(), cfg.reset_timeout, false)
        ))),
    }
}

fn link_error(e: LinkError, what: &str, cfg: &SpinelConfig, st: SpinelStats) -> BringUpError {
    match e {
        LinkError::Timeout => BringUpError::Silent(format!(
            "the RCP answered the reset but not {what} within {} ms: it looks like an RCP and \
             host version mismatch, or hardware flow control holding its answers ({} HDLC frames \
             so far)",
            cfg.command_timeout.as_millis(),
            st.hdlc.frames
        )),
        LinkError::WriteStalled => {
            BringUpError::Silent(diagnose_silence(&st, cfg.write_timeout, true))
        }
        LinkError::Reset(r) => BringUpError::Refused(format!(
            "the RCP restarted ({}) while asked for {what}",
            wire::status_name(r)
        )),
        LinkError::Lost(why) => BringUpError::Lost(why),
    }
}

/// The value of `prop`.
async fn get_prop(
    link: &mut Link,
    cfg: &SpinelConfig,
    prop: u32,
    what: &str,
    stats: &impl Fn() -> SpinelStats,
) -> Result<Vec<u8>, BringUpError> {
    let tid = link.tid();
    let answer = link
        .request(tid, &wire::prop_get(tid, prop), cfg.command_timeout)
        .await
        .map_err(|e| link_error(e, what, cfg, stats()))?;
    value_of(answer, prop, what)
}

/// Sets `prop` to `value`; the RCP answers with the value it took.
async fn set_prop(
    link: &mut Link,
    cfg: &SpinelConfig,
    prop: u32,
    what: &str,
    value: &[u8],
    stats: &impl Fn() -> SpinelStats,
) -> Result<(), BringUpError> {
    let tid = link.tid();
    let answer = link
        .request(tid, &wire::prop_set(tid, prop, value), cfg.command_timeout)
        .await
        .map_err(|e| link_error(e, what, cfg, stats()))?;
    value_of(answer, prop, what).map(|_| ())
}

/// The value in an answer `PROP_VALUE_IS prop value`; a `LAST_STATUS` instead is a refusal.
pub fn value_of(
    (command, payload): (u32, Vec<u8>),
    prop: u32,
    what: &str,
) -> Result<Vec<u8>, BringUpError> {
    let frame = wire::Frame {
        iid: 0,
        tid: 0,
        command,
        payload: &payload,
    };
    match frame.property() {
        Ok((p, v)) if command == CMD_PROP_VALUE_IS && p == prop => Ok(v.to_vec()),
        Ok((PROP_LAST_STATUS, v)) if command == CMD_PROP_VALUE_IS => {
            let s = Reader::new(v).packed("status").unwrap_or(u32::MAX);
            Err(BringUpError::Refused(format!(
                "the RCP refused {what}: {}",
                wire::status_name(s)
            )))
        }
        _ => Err(BringUpError::Refused(format!(
            "the RCP answered {what} with something else (command {command}, {} octets)",
            payload.len()
        ))),
    }
}
