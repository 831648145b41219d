//! Connectable advertising on the simulated air: a node that accepts GATT connections
//! ([`Station::connectable`]) advertises its Mesh Provisioning Service (MshPRT §7.1.2.2.1) or
//! Mesh Proxy Service (§7.2.2.2.1) data every [`Simulator::connectable_interval`], as one more
//! advertising event of its own (channels 37-39, airtime, collisions, advDelay), so that
//! scanners hear Network ID and Node Identity advertisements with the node's device address
//! and a Central can find whom to connect to.
//!
//! Off unless asked for ([`Simulator::set_connectable_interval`]): a scenario's recorded runs
//! keep their draws. The live hub turns it on. A station is asked once per advertisement (a
//! fresh Random each time, §7.2.2.2.3); what does not fit a legacy PDU (31 octets) is counted
//! and not sent.

use rand_core::RngCore;
use weft_mesh::{Duration, Station};

use super::{Ev, Simulator, MAX_ADV_DATA};

impl<S: Station> Simulator<S> {
    /// How often each node is asked for its connectable advertising, if at all.
    pub fn connectable_interval(&self) -> Option<Duration> {
        self.connectable_interval
    }

    /// Makes every node (those added later too) advertise what it accepts connections for
    /// every `interval` (plus advDelay), starting at a random point of the first interval
    /// (drawn from the medium's generator); `None` stops it. A zero interval counts as 1 ms.
    pub fn set_connectable_interval(&mut self, interval: Option<Duration>) {
        let was = self.connectable_interval;
        self.connectable_interval = interval.map(|d| d.max(Duration::from_millis(1)));
        if was.is_none() {
            for n in 0..self.stations.len() as u32 {
                self.connectable_first(n);
            }
        }
    }

    /// Queues node `n`'s first connectable advertisement, when they are on.
    pub(super) fn connectable_first(&mut self, n: u32) {
        if let Some(iv) = self.connectable_interval {
            let at = self.now + Duration::from_micros(self.rng.next_u64() % iv.as_micros().max(1));
            self.push(at, Ev::Connectable { node: n });
        }
    }

    /// Node `n`'s connectable advertisement is due: ask its station, put the data on the air,
    /// and queue the next.
    pub(super) fn connectable_due(&mut self, n: u32) {
        let Some(iv) = self.connectable_interval else {
            return;
        };
        let now = self.now;
        if let Some(c) = self.stations[n as usize].connectable(now) {
            if c.adv_data.is_empty() {
                // A process on the hub that says what it serves but not how it advertises.
            } else if c.adv_data.len() > MAX_ADV_DATA {
                self.stats.gatt.connectable_oversize += 1;
            } else {
                self.stats.gatt.connectable_adverts += 1;
                self.enqueue_tx(
                    n,
                    weft_mesh::TxFrame {
                        bearer: weft_mesh::Bearer::Advertising,
                        bytes: c.adv_data,
                    },
                );
            }
        }
        self.service(n, None);
        let delay = self.adv_delay();
        self.push(now + iv + delay, Ev::Connectable { node: n });
    }
}
