//! One connection to a controller: a reader task that decodes H4 ([`super::h4`]) and events
//! ([`super::event`]), hands mesh frames to the radio's queue and the answers to commands to
//! [`Link`]; and [`Link`], which sends one command at a time and waits for its answer, with a
//! timeout on every one.
//!
//! HCI flow control of commands (Core v5.4 Vol 4 Part E §4.4): the controller says in each
//! Command Complete and Command Status how many commands it takes (Num_HCI_Command_Packets).
//! The link keeps one command outstanding and, after an answer that gave no credit, waits
//! (up to the command timeout) for an event that gives one before sending the next. A command
//! is answered by a Command Complete or a Command Status with its opcode (§4.5); answers to
//! other opcodes (late answers to commands that timed out) are dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_hci::cmd::SyncCmd;
use bt_hci::FromHciBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant as TokioInstant};

use super::command::{command_body, describe, params_of, NOP, RESET};
use super::event::{parse_event, HciEvent};
use super::h4::{encode, Direction, H4Decoder, H4Stats, PacketType};
use super::mesh::{rx_frame, Skip};
use super::{HciError, HciStats, HciStream};
use crate::RxFrame;

/// What the reader hands the link: answers to commands and events that need the host.
#[derive(Debug)]
pub(crate) enum Ctl {
    Complete {
        opcode: u16,
        status: Option<u8>,
        params: Vec<u8>,
        credits: u8,
    },
    Status {
        opcode: u16,
        status: u8,
        credits: u8,
    },
    HardwareError(u8),
    AdvSetTerminated {
        handle: u8,
        status: u8,
    },
    /// The stream ended or failed: the controller is gone.
    Lost(String),
}

/// What the reader and the radio share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub stats: Mutex<HciStats>,
}

impl Shared {
    pub fn bump(&self, f: impl FnOnce(&mut HciStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

/// An open connection to a controller.
pub(crate) struct Link {
    writer: WriteHalf<HciStream>,
    ctl: mpsc::Receiver<Ctl>,
    reader: JoinHandle<()>,
    credits: u8,
    command_timeout: Duration,
    reset_timeout: Duration,
    shared: Arc<Shared>,
    /// LE Advertising Set Terminated events that arrived while a command was waited for.
    terminated: VecDeque<(u8, u8)>,
    /// When a command was last answered: the watchdog's reference.
    pub last_answer: TokioInstant,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("credits", &self.credits)
            .field("terminated", &self.terminated)
            .finish_non_exhaustive()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The timeouts a link uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub command: Duration,
    pub reset: Duration,
    /// How long a partial packet may wait for the rest of its bytes.
    pub partial: Duration,
}

impl Link {
    /// Starts the reader on `stream`; mesh frames go to `frames` (dropped, counted, when full).
    pub fn start(
        stream: HciStream,
        frames: mpsc::Sender<RxFrame>,
        shared: Arc<Shared>,
        t: Timeouts,
    ) -> Link {
        let (reader, writer) = tokio::io::split(stream);
        let (ctl_tx, ctl) = mpsc::channel(64);
        let reader = tokio::spawn(read_loop(reader, ctl_tx, frames, shared.clone(), t.partial));
        Link {
            writer,
            ctl,
            reader,
            credits: 1,
            command_timeout: t.command,
            reset_timeout: t.reset,
            shared,
            terminated: VecDeque::new(),
            last_answer: TokioInstant::now(),
        }
    }

    /// Sends a typed command (bt-hci) and parses its return parameters.
    pub async fn exec<C: SyncCmd>(&mut self, cmd: &C) -> Result<C::Return, HciError> {
        let opcode = C::OPCODE.to_raw();
        let params = params_of(cmd)?;
        let ret = self.command(opcode, &params).await?;
        C::Return::from_hci_bytes(&ret)
            .map(|(r, _)| r)
            .map_err(|e| HciError::BadReturn {
                opcode,
                why: format!("{e:?} in {} octets", ret.len()),
            })
    }

    /// Sends the command `opcode` with `params` and waits for its Command Complete: the return
    /// parameters after a success status, or the error.
    pub async fn command(&mut self, opcode: u16, params: &[u8]) -> Result<Vec<u8>, HciError> {
        let limit = if opcode == RESET {
            self.reset_timeout
        } else {
            self.command_timeout
        };
        if self.credits == 0 {
            self.wait_credit(limit).await?;
        }
        let packet = encode(PacketType::Command, &command_body(opcode, params));
        tracing::trace!(target: "weft::hci", "> {} {}", describe(opcode), hex::encode(params));
        self.shared.bump(|s| s.commands += 1);
        let sent = async {
            self.writer.write_all(&packet).await?;
            self.writer.flush().await
        };
        match timeout(limit, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(HciError::Lost(format!(
                    "writing {} failed: {e}",
                    describe(opcode)
                )))
            }
            Err(_) => return Err(self.timed_out(opcode, limit)),
        }
        if opcode == RESET {
            self.terminated.clear();
        }
        let deadline = TokioInstant::now() + limit;
        loop {
            let ctl = match timeout_at(deadline, self.ctl.recv()).await {
                Err(_) => return Err(self.timed_out(opcode, limit)),
                Ok(None) => return Err(HciError::Lost("the controller's reader stopped".into())),
                Ok(Some(c)) => c,
            };
            let (o, status, params) = match ctl {
                Ctl::Complete {
                    opcode: o,
                    status,
                    params,
                    credits,
                } => {
                    self.credits = credits;
                    (o, status.unwrap_or(0), params)
                }
                Ctl::Status {
                    opcode: o,
                    status,
                    credits,
                } => {
                    self.credits = credits;
                    // Every command the HCI radio sends ends with a Command Complete; a
                    // Command Status refuses one (§4.5), or says the Complete is to come.
                    if o == opcode && status == 0 {
                        continue;
                    }
                    (o, status, Vec::new())
                }
                Ctl::HardwareError(code) => return Err(HciError::HardwareError { code }),
                Ctl::AdvSetTerminated { handle, status } => {
                    self.terminated.push_back((handle, status));
                    continue;
                }
                Ctl::Lost(why) => return Err(HciError::Lost(why)),
            };
            if o != opcode {
                self.stray(o);
                continue;
            }
            self.last_answer = TokioInstant::now();
            tracing::trace!(target: "weft::hci", "< {} status {status:#04x} {}", describe(o), hex::encode(&params));
            return match status {
                0 => Ok(params),
                s => Err(self.failed(opcode, s)),
            };
        }
    }

    /// The next event the link's owner has to handle outside a command: an unsolicited
    /// answer, a hardware error, a terminated advertising set, or the loss of the stream.
    /// Cancel-safe. A terminated set kept while a command ran comes first.
    pub async fn next_ctl(&mut self) -> Ctl {
        if let Some((handle, status)) = self.terminated.pop_front() {
            return Ctl::AdvSetTerminated { handle, status };
        }
        match self.ctl.recv().await {
            // A no-operation Command Complete's credits are taken by `unsolicited`, which needs
            // to know whether the link was waiting for them.
            Some(c) => {
                match &c {
                    Ctl::Complete { opcode: NOP, .. } => {}
                    Ctl::Complete { credits, .. } | Ctl::Status { credits, .. } => {
                        self.credits = *credits
                    }
                    _ => {}
                }
                c
            }
            None => Ctl::Lost("the controller's reader stopped".into()),
        }
    }

    /// Forgets the LE Advertising Set Terminated events kept so far.
    pub fn forget_terminated(&mut self) {
        self.terminated.clear();
    }

    /// Waits up to `limit` for an LE Advertising Set Terminated of `handle`: its status, or
    /// `None` when none came. Other events that need the host end the wait with an error.
    pub async fn wait_terminated(
        &mut self,
        handle: u8,
        limit: Duration,
    ) -> Result<Option<u8>, HciError> {
        let deadline = TokioInstant::now() + limit;
        loop {
            let c = match timeout_at(deadline, self.next_ctl()).await {
                Err(_) => return Ok(None),
                Ok(c) => c,
            };
            match c {
                Ctl::AdvSetTerminated { handle: h, status } if h == handle => {
                    return Ok(Some(status))
                }
                Ctl::HardwareError(code) => return Err(HciError::HardwareError { code }),
                Ctl::Lost(why) => return Err(HciError::Lost(why)),
                other => {
                    // A restart shows at the next command, which then fails.
                    self.unsolicited(&other);
                }
            }
        }
    }

    /// Logs an event that came outside any command; `true` when it says the controller
    /// restarted by itself: a Command Complete for HCI_Reset, or one for no operation that
    /// gives credits the link was not waiting for (a controller announces itself so at
    /// power-up; one that only hands out credits it held back is not restarting, §7.7.14).
    pub fn unsolicited(&mut self, c: &Ctl) -> bool {
        match c {
            Ctl::Complete {
                opcode: NOP,
                credits,
                ..
            } => {
                let waiting = self.credits == 0;
                self.credits = *credits;
                if !waiting {
                    tracing::warn!(target: "weft::hci", "the controller sent {} by itself: it restarted", describe(NOP));
                }
                !waiting
            }
            Ctl::Complete { opcode: RESET, .. } => {
                tracing::warn!(target: "weft::hci", "the controller sent {} by itself: it restarted", describe(RESET));
                true
            }
            Ctl::Complete { opcode, .. } | Ctl::Status { opcode, .. } => {
                self.stray(*opcode);
                false
            }
            _ => false,
        }
    }

    async fn wait_credit(&mut self, limit: Duration) -> Result<(), HciError> {
        let deadline = TokioInstant::now() + limit;
        while self.credits == 0 {
            match timeout_at(deadline, self.ctl.recv()).await {
                // No credit came: try anyway, and let the command's own timeout judge.
                Err(_) => {
                    self.credits = 1;
                }
                Ok(None) => return Err(HciError::Lost("the controller's reader stopped".into())),
                Ok(Some(Ctl::Complete { credits, .. } | Ctl::Status { credits, .. })) => {
                    self.credits = credits;
                }
                Ok(Some(Ctl::HardwareError(code))) => return Err(HciError::HardwareError { code }),
                Ok(Some(Ctl::AdvSetTerminated { handle, status })) => {
                    self.terminated.push_back((handle, status))
                }
                Ok(Some(Ctl::Lost(why))) => return Err(HciError::Lost(why)),
            }
        }
        Ok(())
    }

    fn stray(&self, opcode: u16) {
        tracing::debug!(target: "weft::hci", "an answer to {} that no command waits for (a late answer?)", describe(opcode));
    }

    fn timed_out(&mut self, opcode: u16, after: Duration) -> HciError {
        self.shared.bump(|s| s.command_timeouts += 1);
        // The command may still be answered later: let the next one go.
        self.credits = 1;
        HciError::Timeout { opcode, after }
    }

    fn failed(&self, opcode: u16, status: u8) -> HciError {
        self.shared.bump(|s| s.command_failures += 1);
        HciError::Failed { opcode, status }
    }
}

/// Reads the stream until it ends: packets to events, mesh reports to `frames`, the rest to
/// `ctl`.
async fn read_loop(
    mut reader: ReadHalf<HciStream>,
    ctl: mpsc::Sender<Ctl>,
    frames: mpsc::Sender<RxFrame>,
    shared: Arc<Shared>,
    partial: Duration,
) {
    let mut decoder = H4Decoder::new(Direction::FromController);
    let mut counted = H4Stats::default();
    let mut buf = vec![0u8; 2048];
    let lost = loop {
        let n = if decoder.pending() > 0 {
            match timeout(partial, reader.read(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    // The line went quiet in the middle of a packet: it was not one.
                    while decoder.drop_partial() {
                        shared.bump(|s| s.h4_partial_dropped += 1);
                        if dispatch(&mut decoder, &ctl, &frames, &shared)
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    count_h4(&decoder, &mut counted, &shared);
                    continue;
                }
            }
        } else {
            reader.read(&mut buf).await
        };
        match n {
            Ok(0) => break "the controller closed the connection".to_string(),
            Ok(n) => {
                decoder.push(&buf[..n]);
                let gone = dispatch(&mut decoder, &ctl, &frames, &shared)
                    .await
                    .is_err();
                count_h4(&decoder, &mut counted, &shared);
                if gone {
                    return;
                }
            }
            Err(e) => break format!("reading from the controller failed: {e}"),
        }
    };
    let _ = ctl.send(Ctl::Lost(lost)).await;
}

/// Hands out every whole packet the decoder holds. `Err` when the link is gone.
async fn dispatch(
    decoder: &mut H4Decoder,
    ctl: &mpsc::Sender<Ctl>,
    frames: &mpsc::Sender<RxFrame>,
    shared: &Shared,
) -> Result<(), ()> {
    while let Some(p) = decoder.next_packet() {
        if p.kind != PacketType::Event {
            // ACL, synchronous and ISO data: the advertising bearer has none.
            continue;
        }
        let event = match parse_event(&p.body) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(target: "weft::hci", "{e}");
                shared.bump(|s| s.events_malformed += 1);
                continue;
            }
        };
        let c = match event {
            HciEvent::CommandComplete {
                credits,
                opcode,
                status,
                params,
            } => Ctl::Complete {
                opcode,
                status,
                params,
                credits,
            },
            HciEvent::CommandStatus {
                status,
                credits,
                opcode,
            } => Ctl::Status {
                opcode,
                status,
                credits,
            },
            HciEvent::HardwareError { code } => {
                shared.bump(|s| s.hardware_errors += 1);
                Ctl::HardwareError(code)
            }
            HciEvent::AdvSetTerminated { status, handle, .. } => {
                Ctl::AdvSetTerminated { handle, status }
            }
            HciEvent::AdvReports { reports, malformed } => {
                shared.bump(|s| {
                    s.reports += reports.len() as u64 + u64::from(malformed);
                    s.reports_malformed += u64::from(malformed);
                });
                for r in &reports {
                    deliver(rx_frame(r), frames, shared);
                }
                continue;
            }
            HciEvent::Other { .. } => continue,
        };
        if ctl.send(c).await.is_err() {
            return Err(());
        }
    }
    Ok(())
}

/// Adds what the decoder saw since `counted` to the radio's statistics (they outlive links).
fn count_h4(decoder: &H4Decoder, counted: &mut H4Stats, shared: &Shared) {
    let now = decoder.stats();
    if now != *counted {
        shared.bump(|s| {
            s.h4_packets += now.packets - counted.packets;
            s.h4_skipped_bytes += now.skipped_bytes - counted.skipped_bytes;
            s.h4_resyncs += now.resyncs - counted.resyncs;
        });
        *counted = now;
    }
}

fn deliver(r: Result<RxFrame, Skip>, frames: &mpsc::Sender<RxFrame>, shared: &Shared) {
    match r {
        Ok(f) => match frames.try_send(f) {
            Ok(()) => shared.bump(|s| s.rx_frames += 1),
            Err(_) => shared.bump(|s| s.rx_dropped += 1),
        },
        Err(skip) => shared.bump(|s| match skip {
            Skip::NotNonConnectable => s.reports_not_nonconn += 1,
            Skip::ScanResponse => s.reports_scan_rsp += 1,
            Skip::Incomplete => s.reports_incomplete += 1,
            Skip::NoMeshData => s.reports_not_mesh += 1,
            Skip::Malformed => s.reports_malformed += 1,
        }),
    }
}
