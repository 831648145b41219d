//! How the `weft` command runs stations on radios: the one real-time driver, its clock and the
//! live hub come from weft-radio ([`weft_radio::driver`], [`weft_radio::clock`],
//! [`weft_radio::hub`]), and the radio a `--radio` argument names is opened by weft-radio's one
//! parser ([`weft_radio::RadioUri`], [`weft_radio::open`]). What is the tool's own stays here:
//! `sim:` followed by a built-in scenario or a `.toml` file is a simulation inside this process,
//! and SIGTERM/SIGINT stop a command cleanly.

use std::str::FromStr;

use weft_radio::hub::HubNode;
use weft_radio::sim::Simulator;
use weft_radio::RadioUri;

pub use weft_radio::hub::{serve_hub, serve_hub_until, HubError};
pub use weft_radio::{drive, drive_with, Clock, Flow, Hooks, Outcome, Pacer};

/// SIGTERM and SIGINT as a future naming the one that came: a clean stop for `weft node` and
/// `weft sim serve`. The handlers are installed at once, so a signal that comes right after
/// this call is not lost. Must run inside a tokio runtime.
pub fn stop_signals() -> std::io::Result<impl std::future::Future<Output = String>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM".to_string(),
            _ = int.recv() => "SIGINT".to_string(),
        }
    })
}

/// An empty air for the hub when no scenario is given.
pub fn empty_air(seed: u64) -> Simulator<HubNode<crate::sim::ScenarioStation>> {
    weft_radio::hub::empty_air(seed)
}

/// Where a `--radio` argument points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioArg {
    /// `sim:NAME` with a built-in scenario name or a `.toml` file: an in-process simulation.
    Scenario(String),
    /// Any other radio, as weft-radio parses it (`sim:PATH` to a hub's socket, `hci:...`, ...).
    Radio(RadioUri),
}

impl RadioArg {
    /// Parses `--radio` (`sim:smart-home`, `sim:/tmp/air.sock`, `hci:/dev/ttyACM0`, ...): a
    /// scenario is the tool's, everything else is weft-radio's to parse.
    pub fn parse(s: &str) -> Result<RadioArg, String> {
        match s.strip_prefix("sim:") {
            Some("") => return Err("sim: needs a scenario name or a hub socket path".into()),
            Some(rest)
                if crate::scenario::BUILTIN.iter().any(|(n, _)| *n == rest)
                    || rest.ends_with(".toml") =>
            {
                return Ok(RadioArg::Scenario(rest.into()))
            }
            _ => {}
        }
        RadioUri::from_str(s)
            .map(RadioArg::Radio)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radio_args() {
        assert_eq!(
            RadioArg::parse("sim:smart-home").unwrap(),
            RadioArg::Scenario("smart-home".into())
        );
        assert_eq!(
            RadioArg::parse("sim:my.toml").unwrap(),
            RadioArg::Scenario("my.toml".into())
        );
        assert_eq!(
            RadioArg::parse("sim:/tmp/a.sock").unwrap(),
            RadioArg::Radio(RadioUri::Sim {
                path: "/tmp/a.sock".into()
            })
        );
        assert!(matches!(
            RadioArg::parse("hci:/dev/ttyACM0").unwrap(),
            RadioArg::Radio(RadioUri::Hci { .. })
        ));
        assert!(RadioArg::parse("wifi:x")
            .unwrap_err()
            .contains("unknown radio"));
        assert!(RadioArg::parse("smart-home").unwrap_err().contains("sim:"));
        assert!(RadioArg::parse("sim:").unwrap_err().contains("scenario"));
        assert!(RadioArg::parse("hci:/dev/x?baud=0")
            .unwrap_err()
            .contains("baud"));
    }
}
