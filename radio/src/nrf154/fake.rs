//! A fake nRF Sniffer for 802.15.4 for the sniffer radio's tests: the other end of a tokio
//! duplex stream, reading commands line by line as the firmware's shell does (echoing them
//! until `shell echo off`, with a prompt), printing `received:` lines the test gives it while
//! receiving; told to stay silent or to answer with binary.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// How the fake behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behaviour {
    #[default]
    Sniffer,
    /// Says nothing.
    Silent,
    /// Answers with bytes that are not text (an RCP's HDLC frames, say).
    Binary,
}

/// What the fake was told.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub commands: Vec<String>,
    pub receiving: bool,
    pub channel: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct Fake {
    pub seen: Arc<Mutex<Seen>>,
    lines: mpsc::Sender<Vec<u8>>,
}

impl Fake {
    pub fn start(b: Behaviour) -> (Fake, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (lines, lines_rx) = mpsc::channel(256);
        let fake = Fake {
            seen: Arc::new(Mutex::new(Seen::default())),
            lines,
        };
        tokio::spawn(serve(ours, b, fake.seen.clone(), lines_rx));
        (fake, theirs)
    }

    /// Prints `text` as it is (bytes, line ends included); empty: closes the stream.
    pub async fn print(&self, text: impl Into<Vec<u8>>) {
        self.lines.send(text.into()).await.unwrap();
    }

    /// Prints a frame line for `psdu` (FCS included).
    pub async fn hear(&self, psdu: &[u8], power: i32, lqi: u8, time: u32) {
        self.print(format!(
            "received: {} power: {power} lqi: {lqi} time: {time}\r\n",
            hex::encode(psdu)
        ))
        .await;
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut io: DuplexStream,
    b: Behaviour,
    seen: Arc<Mutex<Seen>>,
    mut lines: mpsc::Receiver<Vec<u8>>,
) {
    let mut echo = true;
    let mut pending = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::select! {
            r = io.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            Some(text) = lines.recv() => {
                if text.is_empty() || io.write_all(&text).await.is_err() {
                    return;
                }
                continue;
            }
        };
        match b {
            Behaviour::Silent => continue,
            Behaviour::Binary => {
                let _ = io
                    .write_all(&[0x7E, 0x80, 0x06, 0x00, 0x72, 0x9C, 0x01, 0x7E])
                    .await;
                continue;
            }
            Behaviour::Sniffer => {}
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let cmd = String::from_utf8_lossy(&line).trim().to_string();
            let mut out = String::new();
            if echo {
                out.push_str(&cmd);
                out.push_str("\r\n");
            }
            {
                let mut s = seen.lock().unwrap();
                match cmd.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["shell", "echo", "off"] => echo = false,
                    ["sleep"] => s.receiving = false,
                    ["receive"] => s.receiving = true,
                    ["channel", n] => s.channel = n.parse().ok(),
                    _ => {}
                }
                if !cmd.is_empty() {
                    s.commands.push(cmd);
                }
            }
            out.push_str("uart:~$ ");
            if io.write_all(out.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}
