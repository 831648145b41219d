//! What `weft inspect` inspects: at most one Bluetooth Mesh source (a scenario or a
//! Bluetooth radio) and at most one Thread source (`sim:thread-home` or an 802.15.4 radio:
//! `spinel:`, `nrf154:`, `otsim:`), from `--radio` (given once or twice) and `--scenario`; and
//! the Thread source started with its decoder's options.

use weft_radio::RadioUri;

use super::thread::{ThreadConfig, ThreadFeeder, ThreadRuntime, ThreadSim};
use super::InspectArgs;
use crate::error::Failure;
use crate::runtime::RadioArg;
use crate::Exit;

/// The Bluetooth Mesh side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeshSource {
    Scenario(String),
    Radio(RadioUri),
}

/// The Thread side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadSource {
    /// A built-in Thread scenario on the simulated 802.15.4 air.
    Sim(String),
    /// An 802.15.4 radio.
    Radio(RadioUri),
}

/// Both sides; at least one is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub mesh: Option<MeshSource>,
    pub thread: Option<ThreadSource>,
}

fn usage(s: impl Into<String>) -> Failure {
    Failure::new(Exit::Usage, s)
}

/// Whether a radio carries IEEE 802.15.4 (Thread).
fn is_thread_radio(uri: &RadioUri) -> bool {
    matches!(
        uri,
        RadioUri::Spinel { .. } | RadioUri::Nrf154 { .. } | RadioUri::OtSim { .. }
    )
}

/// Sorts `--radio` (each) and `--scenario` into a Mesh and a Thread source, and checks the
/// Thread options against them.
pub fn plan(a: &InspectArgs) -> Result<Plan, Failure> {
    let mut mesh: Option<(String, MeshSource)> = None;
    let mut thread: Option<(String, ThreadSource)> = None;
    if a.radio.len() > 2 {
        return Err(usage(format!(
            "--radio is given {} times: give at most two, one Bluetooth Mesh source and one Thread source",
            a.radio.len()
        )));
    }
    let mut given: Vec<(String, Result<MeshSource, ThreadSource>)> = Vec::new();
    for r in &a.radio {
        let side = match r.strip_prefix("sim:") {
            Some(name) if crate::sim::thread::is_thread(name) => {
                Err(ThreadSource::Sim(name.to_string()))
            }
            _ => match RadioArg::parse(r).map_err(usage)? {
                RadioArg::Scenario(s) => Ok(MeshSource::Scenario(s)),
                RadioArg::Radio(uri) if is_thread_radio(&uri) => Err(ThreadSource::Radio(uri)),
                RadioArg::Radio(uri) => Ok(MeshSource::Radio(uri)),
            },
        };
        given.push((format!("--radio {r}"), side));
    }
    if let Some(s) = &a.scenario {
        let side = if crate::sim::thread::is_thread(s) {
            Err(ThreadSource::Sim(s.clone()))
        } else {
            Ok(MeshSource::Scenario(s.clone()))
        };
        given.push((format!("--scenario {s}"), side));
    }
    for (what, side) in given {
        match side {
            Ok(m) => {
                if let Some((first, _)) = &mesh {
                    return Err(usage(format!(
                        "{first} and {what} are both Bluetooth Mesh sources: give one, and at most one Thread source beside it"
                    )));
                }
                mesh = Some((what, m));
            }
            Err(t) => {
                if let Some((first, _)) = &thread {
                    return Err(usage(format!(
                        "{first} and {what} are both Thread sources: give one, and at most one Bluetooth Mesh source beside it"
                    )));
                }
                thread = Some((what, t));
            }
        }
    }
    let thread_flag = [
        (a.dataset.is_some(), "--dataset"),
        (a.thread_key.is_some(), "--thread-key"),
        (a.key_sequence.is_some(), "--key-sequence"),
        (a.channel.is_some(), "--channel"),
        (a.pan_id.is_some(), "--pan-id"),
        (a.mesh_local_prefix.is_some(), "--mesh-local-prefix"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag));
    if let (None, Some(flag)) = (&thread, thread_flag) {
        return Err(usage(format!(
            "{flag} applies to a Thread source: add --radio spinel:DEVICE, nrf154:DEVICE or otsim:N (or --radio sim:thread-home)"
        )));
    }
    if mesh.is_none() && thread.is_none() {
        mesh = Some((String::new(), MeshSource::Scenario("smart-home".into())));
    }
    let mut thread = thread.map(|(_, t)| t);
    // The radio listens on --channel: spinel: and nrf154: are told it; otsim hears every
    // channel and the decoder keeps --channel's.
    if let (Some(c), Some(ThreadSource::Radio(uri))) = (a.channel, thread.as_mut()) {
        let uri_text = uri.to_string();
        match uri {
            RadioUri::Spinel { channel, .. } | RadioUri::Nrf154 { channel, .. } => match channel {
                Some(have) if *have != c => {
                    return Err(usage(format!(
                        "--radio {uri_text} listens on channel {have} and --channel says {c}: give the channel once"
                    )))
                }
                _ => *channel = Some(c),
            },
            _ => {}
        }
    }
    Ok(Plan {
        mesh: mesh.map(|(_, m)| m),
        thread,
    })
}

/// Starts the Thread source: the scenario paced at `--speed` with its own key (unless
/// `--thread-key` says another), or the radio (exit 3 when it cannot be opened).
///
/// `--pcap` captures the Thread air when there is no Bluetooth Mesh source (`mesh` false).
pub fn start_thread(
    t: &ThreadSource,
    a: &InspectArgs,
    mesh: bool,
) -> Result<ThreadRuntime, Failure> {
    match t {
        ThreadSource::Sim(name) => {
            if a.dataset.is_some() {
                return Err(usage(
                    "--dataset joins weft's own node to a network on a radio: give --radio otsim:N or spinel:DEVICE".to_string(),
                ));
            }
            let sim = ThreadSim::new(name, a.seed).map_err(usage)?;
            let mut config = sim.config(a.channel, a.pan_id);
            if let Some(k) = a.thread_key {
                config.key = Some(k);
            }
            if let Some(s) = a.key_sequence {
                config.key_sequence = s;
            }
            if let Some(p) = a.mesh_local_prefix {
                config.mesh_local_prefix = Some(p);
            }
            let mut feeder = ThreadFeeder::new(format!("sim:{name} (seed {})", a.seed), config);
            pcap(&mut feeder, a, mesh)?;
            Ok(ThreadRuntime::sim(sim, feeder, a.speed))
        }
        ThreadSource::Radio(uri) => {
            if let Some(e) = weft_radio::open::unavailable(uri) {
                return Err(e.into());
            }
            let creds = match &a.dataset {
                Some(h) => Some(crate::thread::dataset(h).map_err(usage)?),
                None => None,
            };
            let ds = creds.as_ref();
            let config = ThreadConfig {
                key: a.thread_key.or(ds.map(|c| c.network_key)),
                key_sequence: a.key_sequence.unwrap_or(0),
                mesh_local_prefix: a
                    .mesh_local_prefix
                    .or(ds.map(|c| crate::inspect::thread::own_prefix(c.mesh_local_prefix))),
                channel: a.channel.or(ds.map(|c| c.channel)),
                pan_id: a.pan_id.or(ds.map(|c| c.pan_id)),
            };
            let mut feeder = ThreadFeeder::new(uri.to_string(), config);
            pcap(&mut feeder, a, mesh)?;
            if a.thread_key.is_none() && ds.is_none() {
                feeder.model.notify(
                    "no --thread-key: encrypted frames are shown at the MAC level (give the network key, 32 hex digits, to decrypt them)",
                );
            }
            ThreadRuntime::radio(uri, feeder, creds.clone())
                .map_err(|e| Failure::new(Exit::Unavailable, e))
        }
    }
}

/// `--pcap FILE` on the Thread air, when it is the only source.
fn pcap(f: &mut ThreadFeeder, a: &InspectArgs, mesh: bool) -> Result<(), Failure> {
    match &a.pcap {
        Some(p) if !mesh => f
            .start_capture(p)
            .map_err(|e| Failure::new(Exit::Unavailable, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(radios: &[&str]) -> InspectArgs {
        InspectArgs {
            radio: radios.iter().map(|s| s.to_string()).collect(),
            ..InspectArgs::default()
        }
    }

    #[test]
    fn radios_are_sorted_by_protocol() {
        let p = plan(&args(&["sim:smart-home", "otsim:3"])).unwrap();
        assert_eq!(p.mesh, Some(MeshSource::Scenario("smart-home".into())));
        assert!(matches!(
            p.thread,
            Some(ThreadSource::Radio(RadioUri::OtSim { node_id: 3, .. }))
        ));
        let p = plan(&args(&["sim:thread-home"])).unwrap();
        assert_eq!(
            (p.mesh, p.thread),
            (None, Some(ThreadSource::Sim("thread-home".into())))
        );
        let p = plan(&args(&[])).unwrap();
        assert_eq!(p.mesh, Some(MeshSource::Scenario("smart-home".into())));
        let e = plan(&args(&["otsim:1", "sim:thread-home"])).unwrap_err();
        assert_eq!(e.0, Exit::Usage);
        assert!(e.1.contains("both Thread sources"), "{}", e.1);
        let e = plan(&args(&["sim:smart-home", "sim:grid"])).unwrap_err();
        assert!(e.1.contains("both Bluetooth Mesh sources"), "{}", e.1);
    }

    #[test]
    fn thread_options_need_a_thread_source_and_the_channel_reaches_the_radio() {
        let mut a = args(&["sim:smart-home"]);
        a.pan_id = Some(0xface);
        let e = plan(&a).unwrap_err();
        assert!(
            e.1.starts_with("--pan-id applies to a Thread source"),
            "{}",
            e.1
        );
        let mut a = args(&["nrf154:/dev/ttyACM2"]);
        a.channel = Some(20);
        let p = plan(&a).unwrap();
        assert_eq!(
            p.thread,
            Some(ThreadSource::Radio(RadioUri::Nrf154 {
                device: "/dev/ttyACM2".into(),
                channel: Some(20)
            }))
        );
        let mut a = args(&["spinel:/dev/ttyACM1?channel=11"]);
        a.channel = Some(20);
        let e = plan(&a).unwrap_err();
        assert!(
            e.1.contains("listens on channel 11 and --channel says 20"),
            "{}",
            e.1
        );
    }
}
