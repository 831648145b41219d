//! What a rig can do for a scenario, said before anything starts: [`supports`] gives the
//! reason to skip it (the rig cannot keep two radios apart, set a link's loss or cut it
//! without its `link` fixture, power-cycle a radio without the radio's `power` fixture, or run
//! days of wall-clock time); [`probe`] opens each radio once (exit 3 when one cannot be
//! opened). The fixtures are shell commands of the rig file.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::hil::backend::Role;
use crate::hil::rig::{Rig, RigRadio};
use crate::hil::scenario::HilScenario;
use crate::hil::sim::SimBackend;
use crate::hil::steps::Step;

/// The longest a scenario may take on a rig (wall-clock seconds): an IV Update's 96 hours do
/// not run there.
const WALL_LIMIT_S: f64 = 3600.0;
/// Why a scenario that sends through a proxy does not run on a rig.
pub const NO_GATT_SERVER: &str = "a send through a proxy needs a GATT Proxy Server, and no weft radio is a GATT server (gatt: is a client only) and the live backend has no GATT bearer";

/// Whether the roles of `sc` can run on these radios of `rig` (`radios[i]` for role `i`), or
/// why not: the reason to skip it.
pub fn supports(sc: &HilScenario, rig: &Rig, radios: &[usize]) -> Result<(), String> {
    SimBackend::supports(sc)?;
    if let Some((i, _)) = sc
        .steps
        .iter()
        .enumerate()
        .find(|(_, (_, s))| matches!(s, Step::Send { proxy: Some(_), .. }))
    {
        return Err(format!("step {} (send): {NO_GATT_SERVER}", i + 1));
    }
    if sc.seconds > WALL_LIMIT_S {
        return Err(format!(
            "it may take {} s, and a rig runs in wall-clock time (at most {WALL_LIMIT_S} s a scenario)",
            sc.seconds
        ));
    }
    for (i, (_, step)) in sc.steps.iter().enumerate() {
        match step {
            Step::Cut { .. } | Step::Restore { .. } if link_fixture(rig).is_none() => {
                return Err(format!(
                    "step {} ({}): the rig '{}' cannot cut the link between two of its radios (it has no `link` fixture)",
                    i + 1,
                    step.name(),
                    rig.name
                ))
            }
            Step::PowerCycle { role, .. } => {
                let r = &rig.radios[radios[*role]];
                if power_fixture(r).is_none() {
                    return Err(format!(
                        "step {} (power-cycle): radio {} ({}) of role {} has no `power` fixture",
                        i + 1,
                        r.id,
                        r.uri,
                        sc.roles[*role].name
                    ));
                }
            }
            _ => {}
        }
    }
    if link_fixture(rig).is_some() {
        return Ok(());
    }
    let n = sc.roles.len();
    for a in 0..n {
        for b in a + 1..n {
            if link_of(sc, a, b).is_none() {
                return Err(format!(
                    "roles {} and {} must not hear each other (no [[link]] between them), but the radios of rig '{}' all hear each other (it has no `link` fixture)",
                    sc.roles[a].name, sc.roles[b].name, rig.name
                ));
            }
        }
    }
    if let Some(l) = sc.links.iter().find(|l| l.loss > 0.0) {
        return Err(format!(
            "the link {}-{} loses {} % of frames, and the rig '{}' cannot make its radios lose frames (it has no `link` fixture)",
            sc.roles[l.a].name,
            sc.roles[l.b].name,
            (l.loss * 100.0).round(),
            rig.name
        ));
    }
    Ok(())
}

/// The scenario's link between roles `a` and `b`: its loss, if they are linked.
pub(super) fn link_of(sc: &HilScenario, a: Role, b: Role) -> Option<f64> {
    sc.links
        .iter()
        .find(|l| (l.a, l.b) == (a, b) || (l.b, l.a) == (a, b))
        .map(|l| l.loss)
}

/// The rig's `link` fixture: a shell command that makes the link between radios `{a}` and
/// `{b}` (their ids) lose frames with probability `{loss}` (1: they no longer hear each other).
pub(super) fn link_fixture(rig: &Rig) -> Option<&str> {
    rig.fixtures.get("link").and_then(|v| v.as_str())
}

/// Runs a fixture command; `Err` says which and how it failed.
pub(super) fn fixture(command: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("the fixture `{command}`: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "the fixture `{command}` failed ({}){}",
        out.status,
        err.lines()
            .last()
            .map_or(String::new(), |l| format!(": {l}"))
    ))
}

/// The radio's `power` fixture: a shell command that power-cycles it.
pub(super) fn power_fixture(r: &RigRadio) -> Option<&str> {
    r.fixtures.get("power").and_then(|v| v.as_str())
}

/// Opens each radio once and closes it: `Err` names the first that cannot be opened.
pub fn probe(rig: &Rig, which: &[usize]) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        for &i in which {
            let r = &rig.radios[i];
            let uri = weft_radio::RadioUri::parse(&r.uri).map_err(|e| e.to_string())?;
            let opened = tokio::time::timeout(Duration::from_secs(10), weft_radio::open(&uri))
                .await
                .map_err(|_| "no answer within 10 s".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(e) = opened {
                return Err(format!("radio {} ({}) cannot be opened: {e}", r.id, r.uri));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hil::mapping;

    fn rig(power: bool, link: bool) -> Rig {
        let mut t = String::from("name = \"r\"\n");
        for i in 0..4 {
            t += &format!(
                "[[radio]]\nid = \"{i}\"\nuri = \"hci-tcp:127.0.0.1:{}\"\n",
                9000 + i
            );
            if power {
                t += "[radio.fixtures]\npower = \"true\"\n";
            }
        }
        if link {
            t += "[fixtures]\nlink = \"true\"\n";
        }
        Rig::parse("r.toml", &t).unwrap()
    }

    fn why(name: &str, rig: &Rig) -> Result<(), String> {
        let sc = HilScenario::load(name).unwrap();
        let m = mapping::map(&sc, rig)?;
        supports(&sc, rig, &m)
    }

    #[test]
    fn what_a_rig_cannot_do_is_the_reason_to_skip() {
        let bare = rig(false, false);
        assert_eq!(why("kill-restart-no-seq-reuse", &bare), Ok(()));
        assert_eq!(
            why("replay-rejected", &bare),
            Err("step 7 (power-cycle): radio 1 (hci-tcp:127.0.0.1:9001) of role lamp has no `power` fixture".into())
        );
        assert_eq!(why("replay-rejected", &rig(true, false)), Ok(()));
        assert!(why("heartbeat-hops", &bare)
            .unwrap_err()
            .starts_with("roles prov and relay-2 must not hear each other"));
        assert!(why("relay-around-a-cut-link", &bare)
            .unwrap_err()
            .starts_with("step 3 (cut): the rig 'r' cannot cut"));
        assert!(why("provision-no-oob", &bare)
            .unwrap_err()
            .starts_with("the link prov-lamp loses 10 % of frames"));
        let full = rig(true, true);
        for ok in [
            "heartbeat-hops",
            "relay-around-a-cut-link",
            "provision-no-oob",
            "segmented-at-loss",
            "key-refresh",
            "power-cycle-relay",
        ] {
            assert_eq!(why(ok, &full), Ok(()), "{ok}");
        }
        assert!(why("iv-update", &full)
            .unwrap_err()
            .starts_with("it may take 360000 s"));
    }
}
