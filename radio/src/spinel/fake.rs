//! A fake OpenThread RCP for the Spinel radio's tests: the other end of a tokio duplex stream
//! speaking HDLC-lite and Spinel as ot-rcp does (reset notification, `PROP_VALUE_IS` answers,
//! `STREAM_RAW` frames and transmit-done statuses), told by the test to misbehave: stay silent,
//! answer with line noise (a wrong baud rate), speak another protocol version, lack the radio
//! capabilities; and to send what the test gives it (received frames, a reset).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

use super::hdlc;
use super::wire::{self, *};

/// How the fake behaves; the test may change it at any time.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Answers nothing.
    pub silent: bool,
    /// Answers every write with bytes that never make an HDLC frame.
    pub noise: bool,
    /// Answers every write with frames whose FCS is wrong.
    pub damaged: bool,
    pub protocol: (u32, u32),
    pub caps: Vec<u32>,
    pub rcp_api_version: u32,
    /// The transmit-done status of every frame sent.
    pub tx_status: u32,
    /// `None`: the status alone (an older RCP); `Some(fp)`: then `framePending` and
    /// `headerUpdated` (false), as `NcpBase::LinkRawTransmitDone` writes them.
    pub tx_frame_pending: Option<bool>,
    /// Refuses source-match changes (`LAST_STATUS` NOMEM, 11, as an RCP whose table is full).
    pub refuse_src_match: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            silent: false,
            noise: false,
            damaged: false,
            protocol: (4, 3),
            caps: vec![
                CAP_WRITABLE_RAW_STREAM,
                16 + 8, // 802_15_4_2450MHZ_OQPSK
                CAP_CONFIG_RADIO,
                CAP_RCP_API_VERSION,
                CAP_MAC_RAW,
            ],
            rcp_api_version: 11,
            tx_status: STATUS_OK,
            tx_frame_pending: None,
            refuse_src_match: false,
        }
    }
}

/// What the fake was told, for the test to check.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Resets received.
    pub resets: u32,
    /// `PROP_VALUE_SET`s received: property and value, in order (`STREAM_RAW` included).
    pub sets: Vec<(u32, Vec<u8>)>,
    /// `PROP_VALUE_INSERT`s and `PROP_VALUE_REMOVE`s received: command, property, value.
    pub list_changes: Vec<(u32, u32, Vec<u8>)>,
}

/// The test's handle on the fake.
#[derive(Debug, Clone)]
pub struct Fake {
    pub behaviour: Arc<Mutex<Behaviour>>,
    pub seen: Arc<Mutex<Seen>>,
    inject: mpsc::Sender<Vec<u8>>,
}

impl Fake {
    /// A fake RCP on one end of a duplex stream; the other end, for the radio.
    pub fn start(behaviour: Behaviour) -> (Fake, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        (Fake::start_on(ours, behaviour), theirs)
    }

    /// A fake RCP on `io` (one end of a pty, say).
    pub fn start_on(
        io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static,
        behaviour: Behaviour,
    ) -> Fake {
        let (inject, inject_rx) = mpsc::channel(64);
        let fake = Fake {
            behaviour: Arc::new(Mutex::new(behaviour)),
            seen: Arc::new(Mutex::new(Seen::default())),
            inject,
        };
        tokio::spawn(serve(io, fake.clone(), inject_rx));
        fake
    }

    /// Sends a Spinel frame (unsolicited: transaction id 0).
    pub async fn send(&self, spinel: Vec<u8>) {
        self.inject.send(spinel).await.unwrap();
    }

    /// Sends a received frame: `psdu` (with its FCS) on `channel`.
    pub async fn hear(&self, psdu: &[u8], channel: u8, rssi: i8, lqi: u8, timestamp_us: u64) {
        let raw = RawFrame {
            psdu,
            rssi,
            noise_floor: -100,
            flags: 0,
            channel,
            lqi,
            timestamp_us,
            receive_error: 0,
        };
        self.send(prop_is(0, PROP_STREAM_RAW, &raw.encode())).await;
    }

    /// Closes the stream, as a dongle unplugged.
    pub async fn vanish(&self) {
        self.inject.send(Vec::new()).await.unwrap();
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

/// The reset notification: `LAST_STATUS` = `STATUS_RESET_SOFTWARE` (114), no transaction id.
pub fn reset_notification() -> Vec<u8> {
    prop_is(0, PROP_LAST_STATUS, &packed(STATUS_RESET_BEGIN + 2))
}

async fn serve(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    fake: Fake,
    mut inject: mpsc::Receiver<Vec<u8>>,
) {
    let mut decoder = hdlc::Decoder::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::select! {
            r = io.read(&mut buf) => match r {
                // A pty's master reads EIO while no one has its device open.
                Err(e) if e.raw_os_error() == Some(5) => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            Some(f) = inject.recv() => {
                if f.is_empty() {
                    return; // vanish: the radio reads the end of the stream
                }
                if io.write_all(&hdlc::encode(&f)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let mut frames = Vec::new();
        decoder.push(&buf[..n], |f| frames.push(f.to_vec()));
        let b = fake.behaviour.lock().unwrap().clone();
        if b.silent {
            continue;
        }
        if b.noise {
            let _ = io
                .write_all(&[0x00, 0xF0, 0x33, 0xC3, 0x0F, 0xFF, 0x80])
                .await;
            continue;
        }
        for f in frames {
            for answer in answer(&f, &b, &fake) {
                let mut line = hdlc::encode(&answer);
                if b.damaged {
                    let i = line.len() / 2;
                    line[i] ^= 0x04;
                }
                if io.write_all(&line).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// What an RCP answers to one frame.
fn answer(f: &[u8], b: &Behaviour, fake: &Fake) -> Vec<Vec<u8>> {
    let Ok(frame) = Frame::parse(f) else {
        return vec![];
    };
    let tid = frame.tid;
    match frame.command {
        CMD_RESET => {
            fake.seen.lock().unwrap().resets += 1;
            vec![reset_notification()]
        }
        CMD_PROP_VALUE_GET => {
            let Ok((prop, _)) = frame.property() else {
                return vec![];
            };
            let value = match prop {
                PROP_PROTOCOL_VERSION => {
                    let mut v = packed(b.protocol.0);
                    v.extend(packed(b.protocol.1));
                    v
                }
                PROP_NCP_VERSION => b"OPENTHREAD/fake-rcp; weft tests\0".to_vec(),
                PROP_CAPS => b.caps.iter().flat_map(|&c| packed(c)).collect(),
                PROP_RCP_API_VERSION => packed(b.rcp_api_version),
                _ => return vec![prop_is(tid, PROP_LAST_STATUS, &packed(13))],
            };
            vec![prop_is(tid, prop, &value)]
        }
        CMD_PROP_VALUE_SET => {
            let Ok((prop, value)) = frame.property() else {
                return vec![];
            };
            fake.seen.lock().unwrap().sets.push((prop, value.to_vec()));
            if prop == PROP_STREAM_RAW {
                let mut v = wire::packed(b.tx_status);
                if let Some(fp) = b.tx_frame_pending {
                    v.extend([u8::from(fp), 0]);
                }
                vec![prop_is(tid, PROP_LAST_STATUS, &v)]
            } else if b.refuse_src_match && (0x1303..=0x1305).contains(&prop) {
                vec![prop_is(tid, PROP_LAST_STATUS, &packed(11))]
            } else {
                vec![prop_is(tid, prop, value)]
            }
        }
        cmd @ (CMD_PROP_VALUE_INSERT | CMD_PROP_VALUE_REMOVE) => {
            let Ok((prop, value)) = frame.property() else {
                return vec![];
            };
            if b.refuse_src_match {
                return vec![prop_is(tid, PROP_LAST_STATUS, &packed(11))];
            }
            fake.seen
                .lock()
                .unwrap()
                .list_changes
                .push((cmd, prop, value.to_vec()));
            let answer = if cmd == CMD_PROP_VALUE_INSERT {
                CMD_PROP_VALUE_INSERTED
            } else {
                CMD_PROP_VALUE_REMOVED
            };
            let mut p = packed(prop);
            p.extend_from_slice(value);
            vec![wire::command(tid, answer, &p)]
        }
        _ => vec![prop_is(tid, PROP_LAST_STATUS, &packed(5))],
    }
}
