//! `weft inspect --radio sim:thread-home`: the built-in Thread scenario on the simulated
//! 802.15.4 air (`crate::sim::thread`), heard as a sniffer hears it: every PPDU the medium
//! puts on the air (frames and Imm-Acks, without FCS) goes to the [`ThreadFeeder`], decoded
//! with the scenario's network key and mesh-local prefix.

use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use weft_mesh::thread::sniff::Fcs;
use weft_mesh::thread::stack::Credentials;
use weft_mesh::Instant;
use weft_radio::sim::ieee802154::Medium;

use super::feeder::{ThreadConfig, ThreadFeeder};
use crate::sim::thread::{self as scenario, Station};

/// PPDUs the air tap holds between two drains; beyond it they are counted as dropped, never
/// blocking the simulation.
pub const AIR_QUEUE_CAPACITY: usize = 65_536;

/// One PPDU on the air: start, channel, MAC frame without FCS.
type Ppdu = (Instant, u8, Vec<u8>);

#[derive(Debug, Default)]
struct Air {
    frames: VecDeque<Ppdu>,
    dropped: u64,
}

/// A Thread scenario running in virtual time, tapped.
pub struct ThreadSim {
    medium: Medium<Station>,
    air: Arc<Mutex<Air>>,
    pub net: Credentials,
}

impl std::fmt::Debug for ThreadSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadSim").finish_non_exhaustive()
    }
}

impl ThreadSim {
    /// The built-in scenario `name` with `seed`, or a sentence saying it is not one.
    pub fn new(name: &str, seed: u64) -> Result<ThreadSim, String> {
        if name != "thread-home" {
            return Err(format!(
                "'{name}' is not a built-in Thread scenario: the one there is is thread-home"
            ));
        }
        let layout = scenario::home_layout(seed);
        let net = scenario::network(seed);
        let mut medium = scenario::build(
            &layout,
            &net,
            scenario::medium_config(0.0, false),
            seed,
            scenario::DATA_INTERVAL,
            scenario::HOME_JITTER,
        );
        let air = Arc::new(Mutex::new(Air::default()));
        let tap = Arc::clone(&air);
        medium.set_air_tap(move |f| {
            if let Ok(mut a) = tap.lock() {
                if a.frames.len() >= AIR_QUEUE_CAPACITY {
                    a.dropped += 1;
                } else {
                    a.frames.push_back((f.start, f.channel, f.bytes.to_vec()));
                }
            }
        });
        Ok(ThreadSim { medium, air, net })
    }

    /// The decoder's configuration: the scenario's key and mesh-local prefix, the filters
    /// given.
    pub fn config(&self, channel: Option<u8>, pan_id: Option<u16>) -> ThreadConfig {
        let mut p = [0u8; 16];
        p[..8].copy_from_slice(&self.net.mesh_local_prefix);
        ThreadConfig {
            key: Some(self.net.network_key),
            key_sequence: 0,
            mesh_local_prefix: Some(Ipv6Addr::from(p)),
            channel,
            pan_id,
        }
    }

    pub fn now(&self) -> Instant {
        self.medium.now()
    }

    /// The medium, for tests comparing what was heard with what the stations are.
    pub fn medium(&mut self) -> &mut Medium<Station> {
        &mut self.medium
    }

    /// Runs the air to `t` and hands every PPDU put on it to `feeder`.
    pub fn advance_to(&mut self, t: Instant, feeder: &mut ThreadFeeder) {
        self.medium.run_until(t);
        // Station events are the report's; the inspector hears the air.
        self.medium.drain_events().for_each(drop);
        let (frames, dropped) = match self.air.lock() {
            Ok(mut a) => (
                std::mem::take(&mut a.frames),
                std::mem::take(&mut a.dropped),
            ),
            Err(_) => (VecDeque::new(), 0),
        };
        feeder.model.stats.ingest_dropped += dropped;
        for (at, channel, bytes) in frames {
            feeder.ingest(at, channel, None, None, &bytes, Fcs::Absent);
        }
        feeder.set_now(t);
    }
}
