//! A flooding controller, for benchmarks of the HCI radio's receive path (`weft bench hci`):
//! the other end of any byte stream (a TCP socket, a duplex pipe) speaking H4. It answers the
//! commands of bring-up as a legacy-only Core v5.4 LE controller does (every command succeeds,
//! with the return parameters the radio reads), and from the moment scanning is enabled (LE Set
//! Scan Enable on, Vol 4 Part E §7.8.11) it writes LE Advertising Report events (§7.7.65.2), one
//! ADV_NONCONN_IND report each carrying one «Mesh Message» AD structure (MshPRT §3.3.1) whose
//! payload holds the report's number, either as fast as the stream takes them or at a given
//! rate, for a given time. What it wrote is counted in [`FloodCounts`]; commands keep being
//! answered after the flood ends, until the stream closes.
//!
//! This is not a controller model: it is the fastest plausible source of reports, so that what
//! the radio takes in is limited by weft and not by the other end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::h4::{encode, Direction, H4Decoder, PacketType};

/// What to flood.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flood {
    /// Reports per second; `None`: as fast as the stream takes them.
    pub rate: Option<f64>,
    /// How long to flood, from scanning enabled.
    pub duration: Duration,
}

/// What a flooder did, shared with whoever watches it.
#[derive(Debug, Default)]
pub struct FloodCounts {
    /// Reports written to the stream (each its own event).
    pub written: AtomicU64,
    /// Set when the flood began (scanning enabled) and when it ended.
    pub started: AtomicBool,
    pub finished: AtomicBool,
}

impl FloodCounts {
    /// Reports written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Whether the flood is over.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

/// Serves `stream` as a flooding controller (see the module documentation) until the stream
/// closes or fails.
pub async fn serve_flood<S>(stream: S, flood: Flood, counts: Arc<FloodCounts>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut r, mut w) = tokio::io::split(stream);
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<Vec<u8>>();
    let (scan_tx, mut scan_on) = mpsc::unbounded_channel::<()>();
    let reader = tokio::spawn(async move {
        let mut d = H4Decoder::new(Direction::FromHost);
        let mut buf = [0u8; 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(k) => {
                    d.push(&buf[..k]);
                    while let Some(p) = d.next_packet() {
                        if p.kind != PacketType::Command || p.body.len() < 3 {
                            continue;
                        }
                        let opcode = u16::from_le_bytes([p.body[0], p.body[1]]);
                        if answers_tx
                            .send(complete(opcode, 0, &returns(opcode, false)))
                            .is_err()
                        {
                            return;
                        }
                        // LE Set Scan Enable, on.
                        if opcode == 0x200c && p.body.get(3) == Some(&1) {
                            let _ = scan_tx.send(());
                        }
                    }
                }
            }
        }
    });
    let mut flood_from: Option<Instant> = None;
    let mut n: u64 = 0;
    let batch_size = match flood.rate {
        // About one batch a millisecond, at least one report.
        Some(rate) => ((rate / 1000.0) as u64).clamp(1, 256),
        None => 64,
    };
    let mut batch = Vec::with_capacity(64 * batch_size as usize);
    loop {
        while let Ok(a) = answers.try_recv() {
            if w.write_all(&a).await.is_err() {
                return;
            }
        }
        let flooding = flood_from.is_some_and(|t| {
            t.elapsed() < flood.duration && !counts.finished.load(Ordering::Relaxed)
        });
        if !flooding {
            if flood_from.is_some() {
                counts.finished.store(true, Ordering::Release);
            }
            tokio::select! {
                a = answers.recv() => match a {
                    Some(a) => if w.write_all(&a).await.is_err() { return },
                    None => break,
                },
                Some(()) = scan_on.recv(), if flood_from.is_none() => {
                    flood_from = Some(Instant::now());
                    counts.started.store(true, Ordering::Release);
                }
            }
            continue;
        }
        if let (Some(rate), Some(from)) = (flood.rate, flood_from) {
            let due = from + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        batch.clear();
        for i in 0..batch_size {
            batch.extend_from_slice(&mesh_report(n + i));
        }
        if w.write_all(&batch).await.is_err() {
            return;
        }
        n += batch_size;
        counts.written.store(n, Ordering::Release);
    }
    reader.abort();
}

/// One LE Advertising Report event on the line (H4): an ADV_NONCONN_IND from a random address
/// with one «Mesh Message» AD structure of 20 octets, the first eight `n`.
pub fn mesh_report(n: u64) -> Vec<u8> {
    let mut data = vec![21, 0x2a];
    data.extend_from_slice(&n.to_be_bytes());
    data.extend_from_slice(&[0x5a; 12]);
    let mut p = vec![0x02, 1, 0x03, 0x01, 0x11, 0x22, 0x33, 0x44, 0x55, 0xc6];
    p.push(data.len() as u8);
    p.extend_from_slice(&data);
    p.push(0xc4); // RSSI -60 dBm
    event(0x3e, &p)
}

/// An event packet on the line.
pub(crate) fn event(code: u8, params: &[u8]) -> Vec<u8> {
    let mut body = vec![code, params.len() as u8];
    body.extend_from_slice(params);
    encode(PacketType::Event, &body)
}

/// A Command Complete on the line.
pub(crate) fn complete(opcode: u16, status: u8, ret: &[u8]) -> Vec<u8> {
    let mut p = vec![1];
    p.extend_from_slice(&opcode.to_le_bytes());
    p.push(status);
    p.extend_from_slice(ret);
    event(0x0e, &p)
}

/// The return parameters after the status of a successful command: what the radio's
/// bring-up reads (shared with the tests' fake controller).
pub(crate) fn returns(opcode: u16, extended: bool) -> Vec<u8> {
    match opcode {
        // Read Local Version Information: HCI 5.4, LMP 5.4, company 0x05F1.
        0x1001 => vec![0x0d, 0x01, 0x00, 0x0d, 0xf1, 0x05, 0x02, 0x00],
        0x1002 => supported_commands(extended).to_vec(),
        // Read Local Supported Features: LE Supported (Controller), bit 38.
        0x1003 => vec![0, 0, 0, 0, 0x40, 0, 0, 0],
        // Read Buffer Size: ACL 1021 × 8, SCO 64 × 2.
        0x1005 => vec![0xfd, 0x03, 0x40, 0x08, 0x00, 0x02, 0x00],
        0x1009 => vec![0x11, 0x22, 0x33, 0x44, 0x55, 0x66],
        // LE Read Buffer Size: 251 × 4.
        0x2002 => vec![0xfb, 0x00, 0x04],
        // LE Read Local Supported Features: LE Extended Advertising, bit 12, when extended.
        0x2003 => vec![0, if extended { 0x10 } else { 0 }, 0, 0, 0, 0, 0, 0],
        // LE Set Extended Advertising Parameters: Selected_TX_Power.
        0x2036 => vec![0],
        _ => Vec::new(),
    }
}

/// A supported-commands bitmap with what the radio uses (Vol 4 Part E §6.27).
fn supported_commands(extended: bool) -> [u8; 64] {
    let mut m = [0u8; 64];
    let mut set = |octet: usize, bit: u8| m[octet] |= 1 << bit;
    // Set Event Mask, Reset.
    set(5, 6);
    set(5, 7);
    // Read Local Version Information, Read Local Supported Features, Read Buffer Size.
    set(14, 3);
    set(14, 5);
    set(14, 7);
    // Read BD_ADDR.
    set(15, 1);
    // LE Set Event Mask, LE Read Buffer Size, LE Read Local Supported Features, LE Set Random
    // Address, LE Set Advertising Parameters, LE Set Advertising Data.
    for bit in [0, 1, 2, 4, 5, 7] {
        set(25, bit);
    }
    // LE Set Advertising Enable, LE Set Scan Parameters, LE Set Scan Enable.
    for bit in [1, 2, 3] {
        set(26, bit);
    }
    if extended {
        // LE Set Advertising Set Random Address, LE Set Extended Advertising Parameters, Data,
        // Enable.
        for bit in [1, 2, 3, 5] {
            set(36, bit);
        }
        // LE Set Extended Scan Parameters, Enable.
        set(37, 5);
        set(37, 6);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hci::{HciConfig, HciRadio};
    use crate::Radio;

    /// The radio brought up by the flooder hears its reports, each one frame, in order.
    #[tokio::test(flavor = "current_thread")]
    async fn the_radio_hears_the_flood() {
        let counts = Arc::new(FloodCounts::default());
        let c = counts.clone();
        let connector: super::super::Connector = Box::new(move || {
            let c = c.clone();
            Box::pin(async move {
                let (host, ctrl) = tokio::io::duplex(64 * 1024);
                let flood = Flood {
                    rate: Some(2000.0),
                    duration: Duration::from_millis(50),
                };
                tokio::spawn(serve_flood(ctrl, flood, c));
                Ok(Box::new(host) as super::super::HciStream)
            })
        });
        let mut radio = HciRadio::with_connector("flood", connector, HciConfig::default())
            .await
            .unwrap();
        let mut got = 0u64;
        while !(counts.finished() && got == counts.written()) {
            let f = tokio::time::timeout(Duration::from_secs(2), radio.recv())
                .await
                .expect("every report written arrives")
                .unwrap();
            assert_eq!(f.bytes[..2], [21, 0x2a]);
            assert_eq!(f.bytes[2..10], got.to_be_bytes());
            got += 1;
        }
        assert!(got >= 20, "{got} reports in 50 ms at 2000/s");
        let s = radio.stats();
        assert_eq!((s.rx_frames, s.rx_dropped), (got, 0));
    }
}
