//! A fake controller for the HCI radio's tests: the other end of a tokio duplex stream speaking
//! H4, answering commands as a Core v5.4 LE controller does (Vol 4 Part E §7), and told by the
//! test to misbehave: stay silent for an opcode, refuse one with a status, answer late, stop
//! answering until reset, send bytes of the test's choosing (reports, garbage, a reset), or
//! vanish; and to refuse connections, for reconnection tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::flood::returns;
pub(crate) use super::flood::{complete, event};
use super::h4::{Direction, H4Decoder, PacketType};
use super::radio::Connector;
use super::HciStream;
use crate::RadioError;

/// One command the fake received: when, opcode, parameters, on which connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub at: Instant,
    pub opcode: u16,
    pub params: Vec<u8>,
    pub connection: u32,
}

/// How the fake behaves; the test changes it at any time.
#[derive(Debug, Default)]
pub struct Behaviour {
    /// Has the extended advertising commands.
    pub extended: bool,
    /// Opcodes never answered.
    pub silent: HashSet<u16>,
    /// Opcodes answered with this status, every time.
    pub fail: HashMap<u16, u8>,
    /// Opcodes answered with this status, once.
    pub fail_once: HashMap<u16, u8>,
    /// Opcodes refused by a Command Status with this status, every time.
    pub refuse_by_status: HashMap<u16, u8>,
    /// Opcodes whose Command Complete gives no credit, followed 50 ms later by a no-operation
    /// Command Complete that gives one, once.
    pub hold_credit_once: HashSet<u16>,
    /// Opcodes answered this late, once.
    pub late_once: HashMap<u16, Duration>,
    /// Answers nothing but HCI_Reset, which ends this.
    pub stuck_until_reset: bool,
    /// Answers nothing at all.
    pub dead: bool,
    /// Sends LE Advertising Set Terminated after an extended enable with one event.
    pub no_terminated: bool,
    /// Refuses new connections.
    pub refuse: bool,
}

enum Action {
    Send(Vec<u8>),
    Vanish,
}

#[derive(Debug, Default)]
struct Inner {
    behaviour: Behaviour,
    log: Vec<Received>,
    connections: u32,
}

/// The fake controller. Clone it to keep a handle after giving its connector to the radio.
#[derive(Clone)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    current: Arc<Mutex<Option<mpsc::UnboundedSender<Action>>>>,
}

impl Fake {
    pub fn new(extended: bool) -> Fake {
        let fake = Fake {
            inner: Arc::default(),
            current: Arc::default(),
        };
        fake.behave(|b| b.extended = extended);
        fake
    }

    /// Changes the behaviour.
    pub fn behave(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.inner.lock().unwrap().behaviour);
    }

    /// The commands received so far.
    pub fn log(&self) -> Vec<Received> {
        self.inner.lock().unwrap().log.clone()
    }

    /// The opcodes received so far, from the `from`th command on.
    pub fn opcodes(&self, from: usize) -> Vec<u16> {
        self.log().iter().skip(from).map(|r| r.opcode).collect()
    }

    /// Connections served so far.
    pub fn connections(&self) -> u32 {
        self.inner.lock().unwrap().connections
    }

    /// Puts `bytes` on the line of the current connection.
    pub fn send(&self, bytes: Vec<u8>) {
        if let Some(c) = &*self.current.lock().unwrap() {
            let _ = c.send(Action::Send(bytes));
        }
    }

    /// Sends an event packet.
    pub fn event(&self, code: u8, params: &[u8]) {
        self.send(event(code, params));
    }

    /// Closes the current connection, as an unplugged dongle does.
    pub fn vanish(&self) {
        if let Some(c) = self.current.lock().unwrap().take() {
            let _ = c.send(Action::Vanish);
        }
    }

    /// The connector to give the radio.
    pub fn connector(&self) -> Connector {
        let fake = self.clone();
        Box::new(move || {
            let fake = fake.clone();
            Box::pin(async move {
                if fake.inner.lock().unwrap().behaviour.refuse {
                    return Err(RadioError::Unavailable("fake: no controller there".into()));
                }
                let (host, ctrl) = tokio::io::duplex(16 * 1024);
                let (tx, rx) = mpsc::unbounded_channel();
                let n = {
                    let mut i = fake.inner.lock().unwrap();
                    i.connections += 1;
                    i.connections
                };
                *fake.current.lock().unwrap() = Some(tx);
                tokio::spawn(fake.clone().serve(ctrl, rx, n));
                Ok(Box::new(host) as HciStream)
            })
        })
    }

    async fn serve(
        self,
        mut s: DuplexStream,
        mut actions: mpsc::UnboundedReceiver<Action>,
        n: u32,
    ) {
        let mut d = H4Decoder::new(Direction::FromHost);
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                r = s.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(k) => {
                        d.push(&buf[..k]);
                        while let Some(p) = d.next_packet() {
                            if p.kind != PacketType::Command || p.body.len() < 3 {
                                continue;
                            }
                            let opcode = u16::from_le_bytes([p.body[0], p.body[1]]);
                            for (delay, bytes) in self.answer(opcode, &p.body[3..], n) {
                                if delay.is_zero() {
                                    if s.write_all(&bytes).await.is_err() {
                                        return;
                                    }
                                } else {
                                    let me = self.clone();
                                    tokio::spawn(async move {
                                        tokio::time::sleep(delay).await;
                                        me.send(bytes);
                                    });
                                }
                            }
                        }
                    }
                },
                a = actions.recv() => match a {
                    Some(Action::Send(bytes)) => {
                        if s.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Some(Action::Vanish) | None => return,
                },
            }
        }
    }

    /// What the fake sends for a command: packets, each after a delay.
    fn answer(&self, opcode: u16, params: &[u8], connection: u32) -> Vec<(Duration, Vec<u8>)> {
        let mut i = self.inner.lock().unwrap();
        i.log.push(Received {
            at: Instant::now(),
            opcode,
            params: params.to_vec(),
            connection,
        });
        let b = &mut i.behaviour;
        if b.dead || b.silent.contains(&opcode) {
            return Vec::new();
        }
        if b.stuck_until_reset {
            if opcode != 0x0c03 {
                return Vec::new();
            }
            b.stuck_until_reset = false;
        }
        if let Some(&status) = b.refuse_by_status.get(&opcode) {
            let mut p = vec![status, 1];
            p.extend_from_slice(&opcode.to_le_bytes());
            return vec![(Duration::ZERO, event(0x0f, &p))];
        }
        if b.hold_credit_once.remove(&opcode) {
            let mut cc = complete(opcode, 0, &returns(opcode, b.extended));
            cc[3] = 0; // Num_HCI_Command_Packets
            return vec![
                (Duration::ZERO, cc),
                (Duration::from_millis(50), event(0x0e, &[1, 0, 0])),
            ];
        }
        let delay = b.late_once.remove(&opcode).unwrap_or_default();
        if let Some(status) = b
            .fail
            .get(&opcode)
            .copied()
            .or_else(|| b.fail_once.remove(&opcode))
        {
            return vec![(delay, complete(opcode, status, &[]))];
        }
        let ret = returns(opcode, b.extended);
        let mut out = vec![(delay, complete(opcode, 0, &ret))];
        // LE Set Extended Advertising Enable, on, one set with Max_Extended_Advertising_Events
        // = 1: the set ends after its event (§7.7.65.18, status 0x43 Limit Reached).
        if opcode == 0x2039
            && !b.no_terminated
            && params.len() >= 6
            && params[0] == 1
            && params[5] == 1
        {
            out.push((
                Duration::from_millis(5),
                event(0x3e, &[0x12, 0x43, params[2], 0, 0, 1]),
            ));
        }
        out
    }
}
