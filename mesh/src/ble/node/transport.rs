//! The lower transport layer (MshPRT §3.5): unsegmented and segmented messages, Segment
//! Acknowledgments and the SAR machines of [`crate::ble::transport::sar`], and transport control
//! messages (MshPRT §3.6.5).

use super::*;

/// A segmented message this node is sending.
#[derive(Debug)]
pub(super) struct OutTransfer {
    pub(super) sar: SarTx,
    pub(super) net_index: u16,
    /// The SEQ reserved for the first segment sent: its SeqAuth, which the nonce used.
    pub(super) first_seq: Option<Seq>,
}

/// A segmented message this node is receiving.
#[derive(Debug)]
pub(super) struct InTransfer {
    pub(super) sar: SarRx,
    pub(super) subnet: usize,
    /// TTL of the first segment heard: acknowledgments go out with TTL 0 if it was 0.
    pub(super) ttl: u8,
    pub(super) rssi: Option<i8>,
}

/// Most completed segmented messages remembered (per source) to re-acknowledge late segments.
pub(super) const COMPLETED_RX: usize = 256;

impl<R: RngCore> Node<R> {
    pub(super) fn lower_rx(
        &mut self,
        now: Instant,
        si: usize,
        pdu: &NetworkPduRepr,
        iv: IvIndex,
        rssi: Option<i8>,
    ) {
        let Ok(lower) = LowerPdu::parse(pdu.ctl, &pdu.transport_pdu) else {
            return self.drop(DropReason::Malformed);
        };
        let Some(src) = UnicastAddress::new(pdu.src.0) else {
            return self.drop(DropReason::Malformed);
        };
        match lower {
            LowerPdu::Control(LowerControlPdu::SegmentAck {
                obo,
                seq_zero,
                block_ack,
            }) => self.ack_rx(now, pdu, obo, seq_zero, block_ack),
            LowerPdu::Control(LowerControlPdu::Unsegmented { opcode, parameters }) => {
                if self.rpl.accept(src, iv, pdu.seq).is_err() {
                    return self.drop(DropReason::Replay);
                }
                self.control_rx(pdu, opcode, parameters);
            }
            LowerPdu::Access(LowerAccessPdu::Unsegmented {
                akf,
                aid,
                upper_pdu,
            }) => {
                if self.rpl.check(src, iv, pdu.seq).is_err() {
                    return self.drop(DropReason::Replay);
                }
                let ctx = AccessContext {
                    seq: pdu.seq,
                    src: pdu.src,
                    dst: pdu.dst,
                    iv_index: iv,
                    szmic: false,
                };
                if self.upper_rx(now, si, &ctx, akf, aid, &upper_pdu, pdu.ttl, rssi) {
                    let _ = self.rpl.accept(src, iv, pdu.seq);
                }
            }
            seg => {
                let Some((kind, header, _)) = seg.segment() else {
                    return self.drop(DropReason::Malformed);
                };
                self.segment_rx(now, si, pdu, iv, rssi, src, kind, header, &seg);
            }
        }
    }

    /// A segment of a segmented message (MshPRT §3.5.3.4).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn segment_rx(
        &mut self,
        now: Instant,
        si: usize,
        pdu: &NetworkPduRepr,
        iv: IvIndex,
        rssi: Option<i8>,
        src: UnicastAddress,
        kind: SegKind,
        header: SegmentHeader,
        seg: &LowerPdu,
    ) {
        let seq_auth = header.seq_auth(iv.0, pdu.seq);
        // A segment of a message already complete: acknowledge it in full, once more.
        if let Some(done) = self.completed.get(&pdu.src) {
            if done.matches(iv.0, pdu.seq, &header) {
                if let Some(ack) = done.ack() {
                    self.send_ack(now, si, pdu, ack);
                }
                return self.drop(DropReason::Duplicate);
            }
        }
        let auth_iv = IvIndex((seq_auth >> 24) as u32);
        let auth_seq = Seq::truncate(seq_auth as u32);
        if self.rpl.check(src, auth_iv, auth_seq).is_err() {
            return self.drop(DropReason::Replay);
        }
        // One message in flight per source: a newer SeqAuth replaces an older one.
        let stale = self
            .sar_in
            .get(&pdu.src)
            .is_some_and(|t| t.sar.seq_auth() != seq_auth || t.sar.params().dst != pdu.dst);
        if stale {
            let older = self
                .sar_in
                .get(&pdu.src)
                .is_some_and(|t| t.sar.seq_auth() > seq_auth);
            if older {
                return self.drop(DropReason::Transport);
            }
            self.sar_in.remove(&pdu.src);
        }
        let config = self.state.sar_rx;
        let t = self.sar_in.entry(pdu.src).or_insert_with(|| InTransfer {
            sar: SarRx::new(
                SarRxParams {
                    src,
                    dst: pdu.dst,
                    kind,
                    iv_index: iv.0,
                },
                pdu.seq,
                header,
                config,
            ),
            subnet: si,
            ttl: pdu.ttl,
            rssi,
        });
        let outcome = t.sar.handle_pdu(now, pdu.seq, seg);
        let szmic = t.sar.szmic();
        let (subnet, ttl, rssi) = (t.subnet, t.ttl, t.rssi);
        self.flush_acks(now, pdu.src);
        match outcome {
            RxOutcome::New | RxOutcome::Duplicate => {}
            RxOutcome::Invalid(_) => self.drop(DropReason::Transport),
            RxOutcome::Complete(upper) => {
                if let Some(t) = self.sar_in.remove(&pdu.src) {
                    if let Some(done) = t.sar.completed() {
                        if self.completed.len() >= COMPLETED_RX {
                            self.completed.clear();
                        }
                        self.completed.insert(pdu.src, done);
                    }
                }
                match kind {
                    SegKind::Control { opcode } => {
                        if self.rpl.accept(src, auth_iv, auth_seq).is_ok() {
                            self.control_rx(pdu, opcode, upper);
                        }
                    }
                    SegKind::Access { akf, aid } => {
                        let ctx = AccessContext {
                            seq: auth_seq,
                            src: pdu.src,
                            dst: pdu.dst,
                            iv_index: auth_iv,
                            szmic,
                        };
                        if self.upper_rx(now, subnet, &ctx, akf, aid, &upper, ttl, rssi) {
                            let _ = self.rpl.accept(src, auth_iv, auth_seq);
                        }
                    }
                }
            }
        }
    }

    /// Sends the acknowledgments a receiver has due (MshPRT §3.5.3.4).
    pub(super) fn flush_acks(&mut self, now: Instant, src: Address) {
        let mut acks = Vec::new();
        if let Some(t) = self.sar_in.get_mut(&src) {
            while let Some(ack) = t.sar.poll_ack(now) {
                acks.push((t.subnet, t.sar.params().dst, t.ttl, ack));
            }
        }
        for (si, dst, ttl, ack) in acks {
            self.send_ack_to(now, si, dst, src, ttl, ack);
        }
    }

    pub(super) fn send_ack(
        &mut self,
        now: Instant,
        si: usize,
        pdu: &NetworkPduRepr,
        ack: LowerControlPdu,
    ) {
        self.send_ack_to(now, si, pdu.dst, pdu.src, pdu.ttl, ack);
    }

    /// A Segment Acknowledgment from `from` (our element the message was for) to its sender,
    /// with TTL 0 if the segments arrived with TTL 0, else the Default TTL (MshPRT §3.5.3.4).
    pub(super) fn send_ack_to(
        &mut self,
        now: Instant,
        si: usize,
        from: Address,
        to: Address,
        rx_ttl: u8,
        ack: LowerControlPdu,
    ) {
        if self.state.element_of(from).is_none() {
            return;
        }
        let ttl = if rx_ttl == 0 {
            0
        } else {
            self.state.default_ttl
        };
        let net_index = self.subnets[si].index;
        self.send_network(now, net_index, true, ttl, from, to, ack.to_vec(), None);
    }

    /// A Segment Acknowledgment for one of our transfers (MshPRT §3.5.3.3).
    pub(super) fn ack_rx(
        &mut self,
        now: Instant,
        pdu: &NetworkPduRepr,
        obo: bool,
        seq_zero: u16,
        block_ack: u32,
    ) {
        for t in &mut self.sar_out {
            let p = t.sar.params();
            if Address::from(p.src) == pdu.dst
                && (p.dst == pdu.src || obo)
                && p.seq_zero == seq_zero
            {
                t.sar.handle_ack(now, block_ack, obo);
            }
        }
        self.drive_sar(now);
    }

    /// Runs the SAR machines: segments due go on the air, finished transfers are reported, and
    /// receivers' acknowledgments and discard timers are served.
    pub(super) fn drive_sar(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.sar_out.len() {
            if self.sar_out[i].sar.poll_timeout().is_some_and(|t| t <= now) {
                self.sar_out[i].sar.handle_timeout(now);
            }
            while let Some(lower) = self.sar_out[i].sar.poll_transmit(now) {
                let t = &mut self.sar_out[i];
                let seq = t.first_seq.take();
                let p = *t.sar.params();
                let net_index = t.net_index;
                self.send_network(
                    now,
                    net_index,
                    lower.ctl(),
                    p.ttl,
                    p.src.into(),
                    p.dst,
                    lower.to_vec(),
                    seq,
                );
            }
            if let Some(outcome) = self.sar_out[i].sar.outcome() {
                let t = self.sar_out.swap_remove(i);
                let p = *t.sar.params();
                self.events.push_back(Event::Sar {
                    src: p.src.into(),
                    dst: p.dst,
                    seq_zero: p.seq_zero,
                    segments: t.sar.seg_n() + 1,
                    outcome: outcome.err(),
                });
            } else {
                i += 1;
            }
        }
        let due: Vec<Address> = self
            .sar_in
            .iter()
            .filter(|(_, t)| t.sar.poll_timeout().is_some_and(|d| d <= now))
            .map(|(a, _)| *a)
            .collect();
        for src in due {
            if let Some(t) = self.sar_in.get_mut(&src) {
                t.sar.handle_timeout(now);
            }
            self.flush_acks(now, src);
            if self.sar_in.get(&src).is_some_and(|t| t.sar.is_discarded()) {
                self.sar_in.remove(&src);
                self.drop(DropReason::Transport);
            }
        }
    }

    pub(super) fn control_rx(&mut self, pdu: &NetworkPduRepr, opcode: u8, parameters: Vec<u8>) {
        // Heartbeat (§3.6.5.10): RFU(1) InitTTL(7) Features(16).
        if opcode == 0x0A && parameters.len() == 3 {
            let init_ttl = parameters[0] & 0x7f;
            let hops = init_ttl.saturating_sub(pdu.ttl).saturating_add(1);
            let features = u16::from_be_bytes([parameters[1], parameters[2]]);
            config_server::heartbeat_received(
                &self.state,
                &mut self.hb_sub,
                self.now,
                pdu.src,
                pdu.dst,
                hops,
            );
            self.events.push_back(Event::Heartbeat {
                src: pdu.src,
                dst: pdu.dst,
                hops,
                features,
            });
            return;
        }
        self.events.push_back(Event::Control {
            src: pdu.src,
            dst: pdu.dst,
            opcode,
            parameters,
        });
    }

    /// Sends a transport control message (unsegmented).
    pub fn send_control(
        &mut self,
        now: Instant,
        net_index: u16,
        dst: Address,
        ttl: u8,
        opcode: u8,
        params: &[u8],
    ) -> bool {
        let lower = LowerControlPdu::Unsegmented {
            opcode,
            parameters: params.to_vec(),
        };
        let src = self.state.element_address(0);
        let sent = self.send_network(now, net_index, true, ttl, src, dst, lower.to_vec(), None);
        self.flush_loopback(now);
        sent
    }
}
