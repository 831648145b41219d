//! `weft topology --radio R --thread-key HEX`: the Thread network an 802.15.4 radio hears
//! (`spinel:`, `nrf154:`, `otsim:`), decoded with the network key by the Thread decoder and
//! drawn by the passive topology builder (`weft_mesh::thread::topology`): routers, the links
//! two routers report hearing each other on, children under their parents.

use std::net::Ipv6Addr;

use weft_mesh::thread::lowpan::Context;
use weft_mesh::thread::security::KeyManager;
use weft_mesh::thread::sniff::{Fcs, ThreadSniffer};
use weft_mesh::thread::topology::ThreadTopology;
use weft_mesh::Instant;

use crate::error::{block_on, Failure};
use crate::Exit;

/// Listens on `radio` for `seconds` and returns what was learnt, and the frames heard.
pub fn listen(
    radio: &str,
    key: [u8; 16],
    key_sequence: u32,
    mesh_local_prefix: Option<Ipv6Addr>,
    seconds: f64,
) -> Result<(ThreadTopology, u64), Failure> {
    block_on(async {
        let mut r = crate::ops::connect(radio).await?;
        let mut sniffer = ThreadSniffer::new(KeyManager::new(key, key_sequence));
        if let Some(p) = mesh_local_prefix {
            sniffer.set_context(0, Context::new(p, 64));
        }
        let mut topo = ThreadTopology::new();
        let mut report = weft_mesh::thread::sniff::DecodedFrame::default();
        let start = tokio::time::Instant::now();
        let until = tokio::time::sleep(std::time::Duration::from_secs_f64(seconds));
        tokio::pin!(until);
        let mut frames = 0;
        loop {
            tokio::select! {
                f = r.recv() => {
                    let f = f.map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
                    if f.bearer != weft_mesh::Bearer::Ieee802154 {
                        continue;
                    }
                    frames += 1;
                    let now = Instant::from_micros(start.elapsed().as_micros() as u64);
                    // Radios hand 802.15.4 frames over without their FCS.
                    sniffer.decode_into(now, &f.bytes, Fcs::Absent, &mut report);
                    topo.observe(now, &report);
                }
                _ = &mut until => break,
            }
        }
        Ok((topo, frames))
    })
}
