//! The radios' MAC on the medium: the transmit queue, unslotted CSMA-CA (802.15.4-2015
//! §6.2.5.1), transmission, reception with the frame filter (§6.7.2), the Imm-Ack the
//! addressed radio sends by itself, and retransmission (§6.7.4).

use std::sync::Arc;

use rand_core::RngCore;
use weft_mesh::thread::mac::command::is_data_request;
use weft_mesh::thread::mac::{Address, Frame, FrameType, BROADCAST_PAN_ID, BROADCAST_SHORT};
use weft_mesh::thread::radio::MacSettings;
use weft_mesh::wire::Wire;
use weft_mesh::{Bearer, Duration, Instant, RxFrame, TxDone, TxFrame, TxStatus};

use super::super::topology::{Neighbour, EXPLICIT};
use super::*;

/// Reads what the radio needs from a frame's header (the whole frame is parsed: a frame the
/// parser refuses gets no ack and passes no receiver's filter).
fn header_of(bytes: &[u8]) -> Option<Header> {
    let f = Frame::parse(bytes).ok()?;
    let unicast = match f.dst {
        Address::Short(s) => s != BROADCAST_SHORT,
        Address::Extended(_) => true,
        Address::None => false,
    };
    Some(Header {
        ack_seq: if f.ack_request && unicast && f.frame_type != FrameType::Ack {
            f.sequence_number
        } else {
            None
        },
        seq: f.sequence_number,
        ack_request: f.ack_request,
        dst_pan: f.dst_pan,
        dst: f.dst,
        src: f.src,
        data_request: is_data_request(&f),
    })
}

/// What a station is told of a frame's end.
fn status_of(outcome: TxOutcome) -> TxStatus {
    match outcome {
        TxOutcome::Sent => TxStatus::Sent,
        TxOutcome::Acked => TxStatus::Acked,
        TxOutcome::NoAck => TxStatus::NoAck,
        TxOutcome::ChannelAccessFailure => TxStatus::ChannelAccessFailure,
        TxOutcome::QueueFull | TxOutcome::Rejected => TxStatus::Failed,
    }
}

/// The third level of filtering (802.15.4-2015 §6.7.2): the destination PAN ID, when present,
/// is the broadcast PAN ID or macPanId; the destination address, when present, is the
/// broadcast short address, macShortAddress or macExtendedAddress.
fn accepts(h: &Header, me: &MacSettings) -> bool {
    let pan_ok = h
        .dst_pan
        .is_none_or(|p| p == BROADCAST_PAN_ID || p == me.pan_id);
    let addr_ok = match h.dst {
        Address::None => true,
        Address::Short(s) => s == BROADCAST_SHORT || Some(s) == me.short_address,
        Address::Extended(e) => e == me.ext_address,
    };
    pan_ok && addr_ok
}

/// Whether the frame is addressed to `me` alone (so that its radio acknowledges it).
fn addressed_to(h: &Header, me: &MacSettings) -> bool {
    match h.dst {
        Address::Short(s) => s != BROADCAST_SHORT && Some(s) == me.short_address,
        Address::Extended(e) => e == me.ext_address,
        Address::None => false,
    }
}

impl<S: Ieee802154Station> Medium<S> {
    /// A frame from a station for its radio.
    pub(super) fn enqueue(&mut self, n: u32, frame: TxFrame) {
        let channel = self.stations[n as usize].mac_settings().channel;
        let outcome = if frame.bearer != Bearer::Ieee802154
            || frame.bytes.len() + FCS_OCTETS > MAX_PSDU
            || !CHANNELS.contains(&channel)
        {
            self.stats.rejected += 1;
            Some(TxOutcome::Rejected)
        } else if self.states[n as usize].queue.len() >= self.config.tx_queue {
            self.stats.queue_full += 1;
            Some(TxOutcome::QueueFull)
        } else {
            None
        };
        if let Some(outcome) = outcome {
            let seq = header_of(&frame.bytes).and_then(|h| h.seq);
            self.tx_done(n, outcome, 0, seq, false);
            return;
        }
        self.states[n as usize].queue.push_back(frame.bytes);
        if self.states[n as usize].phase == Phase::Idle {
            self.next_frame(n);
        }
    }

    /// A frame of `n` is done with: recorded, and its station told (after the current call).
    fn tx_done(&mut self, n: u32, outcome: TxOutcome, retries: u8, seq: Option<u8>, fp: bool) {
        if self.config.medium_events {
            self.events.push(Event::TxDone {
                at: self.now,
                node: NodeId(n),
                outcome,
                retries,
            });
        }
        self.done.push_back((
            n,
            TxDone {
                bearer: Bearer::Ieee802154,
                sequence_number: seq,
                status: status_of(outcome),
                frame_pending: fp,
            },
        ));
    }

    /// The sequence number of the current frame of `n`.
    fn current_seq(&self, n: u32) -> Option<u8> {
        self.states[n as usize]
            .current
            .as_ref()
            .and_then(|c| c.header)
            .and_then(|h| h.seq)
    }

    /// Takes the next queued frame into CSMA-CA, or goes idle.
    fn next_frame(&mut self, n: u32) {
        let channel = self.stations[n as usize].mac_settings().channel;
        let min_be = self.config.mac.min_be;
        let st = &mut self.states[n as usize];
        let Some(bytes) = st.queue.pop_front() else {
            st.phase = Phase::Idle;
            st.current = None;
            return;
        };
        let header = header_of(&bytes);
        st.current = Some(Current {
            bytes: Arc::from(bytes),
            header,
            channel,
            nb: 0,
            be: min_be,
            retries: 0,
        });
        self.backoff(n);
    }

    /// Waits random(0..2^BE - 1) unit backoff periods (§6.2.5.1, step 2).
    fn backoff(&mut self, n: u32) {
        let be = self.states[n as usize].current.as_ref().map_or(0, |c| c.be);
        let periods = self.rng.next_u32() as u64 % (1u64 << be.min(16));
        self.arm(n, Phase::Backoff, periods * UNIT_BACKOFF_US);
    }

    /// Moves node `n` to `phase` with its MAC timer `after_us` from now.
    fn arm(&mut self, n: u32, phase: Phase, after_us: u64) {
        let st = &mut self.states[n as usize];
        st.phase = phase;
        st.gen = st.gen.wrapping_add(1);
        let gen = st.gen;
        self.push(
            self.now + Duration::from_micros(after_us),
            Ev::Mac { node: n, gen },
        );
    }

    /// The node's MAC timer fired in its current phase.
    pub(super) fn mac_timer(&mut self, n: u32) {
        match self.states[n as usize].phase {
            Phase::Backoff => self.arm(n, Phase::Cca, CCA_US),
            Phase::Cca => self.cca_done(n),
            Phase::Turnaround => self.tx_start(n),
            Phase::AckWait => self.ack_timeout(n),
            Phase::Idle | Phase::OnAir => {}
        }
    }

    /// The CCA that started `CCA_US` ago ended (§6.2.5.1, steps 3-5).
    fn cca_done(&mut self, n: u32) {
        let Some(channel) = self.states[n as usize].current.as_ref().map(|c| c.channel) else {
            self.next_frame(n);
            return;
        };
        if !self.channel_busy(n, channel) {
            self.arm(n, Phase::Turnaround, TURNAROUND_US);
            return;
        }
        self.stats.cca_busy += 1;
        let (max_be, max_nb) = (self.config.mac.max_be, self.config.mac.max_csma_backoffs);
        let Some(cur) = self.states[n as usize].current.as_mut() else {
            return;
        };
        cur.nb += 1;
        cur.be = (cur.be + 1).min(max_be);
        if cur.nb > max_nb {
            let retries = cur.retries;
            self.stats.channel_access_failures += 1;
            let seq = self.current_seq(n);
            self.tx_done(n, TxOutcome::ChannelAccessFailure, retries, seq, false);
            self.next_frame(n);
        } else {
            self.backoff(n);
        }
    }

    /// Whether node `n` detects energy on `channel` during the CCA window that ends now: a
    /// frame of a node it hears overlaps the window, or it is transmitting itself.
    fn channel_busy(&mut self, n: u32, channel: u8) -> bool {
        let now = self.now;
        let from = Instant::from_micros(now.as_micros().saturating_sub(CCA_US));
        let st = &self.states[n as usize];
        if st.tx_from < now && st.tx_until > from {
            return true;
        }
        let air = &self.air[(channel - 11) as usize];
        air.iter().any(|o| {
            o.sender != n
                && o.start < now
                && o.end > from
                && self.topology.find(o.sender, n).is_some()
        })
    }

    /// Puts the current frame of `n` on the air.
    fn tx_start(&mut self, n: u32) {
        let Some(cur) = self.states[n as usize].current.as_ref() else {
            self.next_frame(n);
            return;
        };
        let (bytes, header, channel, retry) =
            (Arc::clone(&cur.bytes), cur.header, cur.channel, cur.retries);
        self.states[n as usize].phase = Phase::OnAir;
        self.stats.frames_sent += 1;
        self.transmit(n, channel, bytes, header, None, retry);
    }

    /// The source-match answer of the station of `to` for the frame `h` it acknowledges: Frame
    /// Pending only for a Data Request (§6.7.3).
    fn ack_frame_pending(&self, to: u32, h: &Header) -> bool {
        h.data_request && self.stations[to as usize].frame_pending(&h.src)
    }

    /// Starts a transmission (frame or ack) of `n`.
    fn transmit(
        &mut self,
        n: u32,
        channel: u8,
        bytes: Arc<[u8]>,
        header: Option<Header>,
        ack: Option<(u8, bool)>,
        retry: u8,
    ) {
        let now = self.now;
        let end = now + airtime(bytes.len());
        let st = &mut self.states[n as usize];
        st.tx_from = now;
        st.tx_until = end;
        if self.config.medium_events {
            self.events.push(Event::Tx {
                at: now,
                node: NodeId(n),
                channel,
                len: bytes.len(),
                ack: ack.is_some(),
                retry,
            });
        }
        if let Some(tap) = self.tap.as_mut() {
            tap(&AirFrame {
                start: now,
                end,
                node: NodeId(n),
                channel,
                bytes: &bytes,
                ack: ack.is_some(),
            });
        }
        let slot = Some(TxSlot {
            node: n,
            channel,
            start: now,
            bytes,
            header,
            ack: ack.map(|(seq, _)| seq),
            ack_fp: ack.is_some_and(|(_, fp)| fp),
        });
        let tx = match self.free_txs.pop() {
            Some(tx) => {
                self.txs[tx as usize] = slot;
                tx
            }
            None => {
                self.txs.push(slot);
                (self.txs.len() - 1) as u32
            }
        };
        let air = &mut self.air[(channel - 11) as usize];
        // Nothing that ended a longest frame and a CCA ago can overlap a frame or CCA still
        // to be resolved.
        while air
            .front()
            .is_some_and(|f| f.end.as_micros() + MAX_AIRTIME_US + CCA_US <= now.as_micros())
        {
            air.pop_front();
        }
        air.push_back(OnAir {
            tx,
            sender: n,
            start: now,
            end,
        });
        self.push(end, Ev::TxEnd { tx });
    }

    /// Why `nb` does not receive the transmission `tx` (from `sender`, [start, now)), if so.
    fn reception(
        &mut self,
        tx: u32,
        sender: u32,
        channel: u8,
        start: Instant,
        nb: Neighbour,
    ) -> Option<DropReason> {
        let now = self.now;
        let r = &self.states[nb.node as usize];
        if nb.flags & EXPLICIT != 0 && (nb.rssi as f64) < self.config.sensitivity_dbm {
            return Some(DropReason::BelowSensitivity);
        }
        if r.tx_from < now && r.tx_until > start {
            return Some(DropReason::HalfDuplex);
        }
        if self.config.collisions {
            let air = &self.air[(channel - 11) as usize];
            let collided = air.iter().any(|o| {
                o.tx != tx
                    && o.sender != sender
                    && o.sender != nb.node
                    && o.start < now
                    && o.end > start
                    && self.topology.find(o.sender, nb.node).is_some_and(|i| {
                        self.config
                            .capture_threshold_db
                            .is_none_or(|t| (nb.rssi as f64) - (i.rssi as f64) < t)
                    })
            });
            if collided {
                return Some(DropReason::Collision);
            }
        }
        if nb.loss == u32::MAX || (nb.loss != 0 && self.rng.next_u32() < nb.loss) {
            return Some(DropReason::Loss);
        }
        None
    }

    fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::Loss => self.stats.loss += 1,
            DropReason::Collision => self.stats.collisions += 1,
            DropReason::HalfDuplex => self.stats.half_duplex += 1,
            DropReason::BelowSensitivity => self.stats.below_sensitivity += 1,
        }
    }

    /// Transmission `tx` ended: its receivers on the channel, then the sender's next step.
    pub(super) fn tx_end(&mut self, tx: u32) {
        let Some(slot) = self.txs.get_mut(tx as usize).and_then(Option::take) else {
            return;
        };
        self.free_txs.push(tx);
        let now = self.now;
        let (sender, channel, start) = (slot.node, slot.channel, slot.start);
        if let Some(seq) = slot.ack {
            self.ack_end(tx, sender, channel, start, seq, slot.ack_fp);
            return;
        }
        let mut rx = RxFrame {
            lqi: None,
            bearer: Bearer::Ieee802154,
            channel,
            rssi: None,
            timestamp: now,
            adv_address: None,
            bytes: std::mem::take(&mut self.rx_buf),
        };
        rx.bytes.clear();
        rx.bytes.extend_from_slice(&slot.bytes);
        for k in self.topology.span(sender) {
            let nb = self.topology.entry(k);
            let me = self.stations[nb.node as usize].mac_settings();
            if me.channel != channel {
                continue;
            }
            if let Some(reason) = self.reception(tx, sender, channel, start, nb) {
                self.count_drop(reason);
                if self.config.medium_events {
                    self.events.push(Event::Drop {
                        at: now,
                        from: NodeId(sender),
                        to: NodeId(nb.node),
                        channel,
                        reason,
                    });
                }
                continue;
            }
            let Some(h) = slot.header.filter(|h| accepts(h, &me)) else {
                self.stats.filtered += 1;
                continue;
            };
            if h.ack_request && addressed_to(&h, &me) {
                if let Some(seq) = h.seq {
                    let fp = self.ack_frame_pending(nb.node, &h);
                    self.push(
                        now + Duration::from_micros(TURNAROUND_US),
                        Ev::Ack {
                            node: nb.node,
                            seq,
                            channel,
                            fp,
                        },
                    );
                }
            }
            self.stats.delivered += 1;
            if self.config.medium_events {
                self.events.push(Event::Rx {
                    at: now,
                    from: NodeId(sender),
                    to: NodeId(nb.node),
                    channel,
                    rssi: nb.rssi,
                });
            }
            rx.rssi = Some(nb.rssi);
            self.stats.station_calls += 1;
            self.stations[nb.node as usize].handle_frame(now, &rx);
            self.service(nb.node, None);
        }
        self.rx_buf = rx.bytes;
        // The sender: wait for the ack, or done.
        let st = &self.states[sender as usize];
        if st.phase != Phase::OnAir {
            return;
        }
        match st
            .current
            .as_ref()
            .and_then(|c| c.header)
            .and_then(|h| h.ack_seq)
        {
            Some(_) => self.arm(sender, Phase::AckWait, ACK_WAIT_US),
            None => {
                let retries = st.current.as_ref().map_or(0, |c| c.retries);
                let seq = self.current_seq(sender);
                self.tx_done(sender, TxOutcome::Sent, retries, seq, false);
                self.next_frame(sender);
            }
        }
    }

    /// The radio of `n` sends the Imm-Ack of `seq` (§7.3.3: Frame Control with frame type 2,
    /// version 2006, Frame Pending (bit 4, §7.2.1.3) as `fp`, no addresses; the sequence
    /// number).
    pub(super) fn ack_start(&mut self, n: u32, seq: u8, channel: u8, fp: bool) {
        // A radio busy sending cannot acknowledge.
        if self.states[n as usize].tx_until > self.now {
            return;
        }
        let fc: u16 = FrameType::Ack.bits() | (u16::from(fp) << 4) | (1 << 12);
        let [a, b] = fc.to_le_bytes();
        self.stats.acks_sent += 1;
        self.stats.acks_frame_pending += u64::from(fp);
        self.transmit(n, channel, Arc::from([a, b, seq]), None, Some((seq, fp)), 0);
    }

    /// An Imm-Ack of `seq` from `sender` ended: the nodes waiting for an ack with that sequence
    /// number that receive it are done with their frame.
    fn ack_end(&mut self, tx: u32, sender: u32, channel: u8, start: Instant, seq: u8, fp: bool) {
        for k in self.topology.span(sender) {
            let nb = self.topology.entry(k);
            let st = &self.states[nb.node as usize];
            let waiting = st.phase == Phase::AckWait
                && st.current.as_ref().is_some_and(|c| {
                    c.channel == channel && c.header.and_then(|h| h.ack_seq) == Some(seq)
                });
            if !waiting {
                continue;
            }
            let retries = st.current.as_ref().map_or(0, |c| c.retries);
            if let Some(reason) = self.reception(tx, sender, channel, start, nb) {
                self.count_drop(reason);
                continue;
            }
            self.stats.acked += 1;
            self.tx_done(nb.node, TxOutcome::Acked, retries, Some(seq), fp);
            self.next_frame(nb.node);
        }
    }

    /// macAckWaitDuration passed without the ack: retransmit through CSMA-CA, or give up after
    /// macMaxFrameRetries (§6.7.4.3).
    fn ack_timeout(&mut self, n: u32) {
        self.stats.ack_timeouts += 1;
        let (min_be, max_retries) = (self.config.mac.min_be, self.config.mac.max_frame_retries);
        let Some(cur) = self.states[n as usize].current.as_mut() else {
            self.next_frame(n);
            return;
        };
        if cur.retries >= max_retries {
            let retries = cur.retries;
            let seq = cur.header.and_then(|h| h.seq);
            self.stats.no_ack += 1;
            self.tx_done(n, TxOutcome::NoAck, retries, seq, false);
            self.next_frame(n);
            return;
        }
        cur.retries += 1;
        cur.nb = 0;
        cur.be = min_be;
        self.stats.retries += 1;
        self.backoff(n);
    }
}
