//! The upper transport and access layers (MshPRT §3.6, §3.7): application and device key
//! encryption, virtual addresses, and dispatch of access messages to the elements' models.

use super::*;

impl<R: RngCore> Node<R> {
    /// Decrypts an upper transport access PDU and dispatches it; returns whether it was
    /// authenticated.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn upper_rx(
        &mut self,
        now: Instant,
        si: usize,
        ctx: &AccessContext,
        akf: bool,
        aid: u8,
        upper: &[u8],
        ttl: u8,
        rssi: Option<i8>,
    ) -> bool {
        let labels: Vec<Option<[u8; 16]>> = if ctx.dst.is_virtual() {
            self.virtual_labels(ctx.dst).into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let net_index = self.subnets[si].index;
        let mut opened = None;
        'outer: for label in &labels {
            if akf {
                for app in self.apps.iter().filter(|a| a.net_index == net_index) {
                    for k in std::iter::once(&app.key).chain(app.new_key.as_ref()) {
                        if k.aid != aid {
                            continue;
                        }
                        if let Ok(p) = decrypt_access(AccessKey::App(k), ctx, label.as_ref(), upper)
                        {
                            opened = Some((KeyRef::App(app.index), p));
                            break 'outer;
                        }
                    }
                }
            } else {
                let keys = std::iter::once(&self.dev_key).chain(
                    self.remote_dev
                        .iter()
                        .filter(|(a, _)| *a == ctx.src)
                        .map(|(_, k)| k),
                );
                for k in keys {
                    if let Ok(p) = decrypt_access(AccessKey::Dev(k), ctx, label.as_ref(), upper) {
                        opened = Some((KeyRef::Dev, p));
                        break 'outer;
                    }
                }
            }
        }
        let Some((key, payload)) = opened else {
            self.drop(DropReason::NoAccessKey);
            return false;
        };
        let Ok(message) = AccessMessage::parse(&payload) else {
            self.drop(DropReason::Malformed);
            return true;
        };
        let elements: Vec<usize> = match self.state.element_of(ctx.dst) {
            Some(e) => vec![e],
            None => (0..self.state.elements.len())
                .filter(|&i| {
                    ctx.dst == Address::ALL_NODES
                        || (ctx.dst == Address::ALL_RELAYS && self.state.relay)
                        || self.state.elements[i]
                            .models
                            .iter()
                            .any(|m| m.subscriptions.contains(&ctx.dst))
                })
                .collect(),
        };
        if elements.is_empty() {
            self.drop(DropReason::NotForUs);
        }
        for element in elements {
            self.events.push_back(Event::Access {
                element,
                src: ctx.src,
                dst: ctx.dst,
                seq: ctx.seq,
                key,
                ttl,
                rssi,
                message: message.clone(),
            });
            self.model_rx(now, element, ctx.src, key, net_index, &message);
        }
        true
    }

    /// A Configuration message for the Configuration Server (MshPRT §4.4.1): the state changes,
    /// then what derives from it follows; returns the reply.
    pub(super) fn config_rx(
        &mut self,
        now: Instant,
        m: &crate::ble::foundation::config::ConfigMessage,
    ) -> Option<crate::ble::foundation::config::ConfigMessage> {
        use config_server::Effect;
        let outcome = config_server::handle_at(&mut self.state, &mut self.hb_sub, now, m);
        let mut persist = outcome.state_changed();
        for e in &outcome.effects {
            match e {
                Effect::KeysChanged => self.rebuild_keys(),
                Effect::KeyRefresh { net_index, phase } => {
                    self.set_key_refresh_phase(*net_index, *phase)
                }
                Effect::NodeReset => {
                    self.events.push_back(Event::NodeReset);
                    persist = false;
                }
                Effect::HeartbeatPublicationChanged => self.next_heartbeat = None,
                Effect::GattProxyChanged => self.proxy_state_changed(),
                Effect::NodeIdentityChanged => self.proxy_identity_changed(now),
                Effect::PublicationChanged { element, model } => {
                    self.servers.next_publish.remove(&(*element, *model));
                }
                _ => {}
            }
        }
        if persist {
            self.events.push_back(Event::PersistState);
        }
        outcome.reply
    }

    pub(super) fn virtual_labels(&self, dst: Address) -> Vec<[u8; 16]> {
        let mut out = Vec::new();
        for m in self.state.elements.iter().flat_map(|e| &e.models) {
            for l in &m.labels {
                if Address(virtual_address(l)) == dst && !out.contains(l) {
                    out.push(*l);
                }
            }
        }
        out
    }

    pub(super) fn send_access(&mut self, now: Instant, cmd: Command) -> bool {
        let Command::Send {
            element,
            dst,
            label,
            key,
            net_index,
            ttl,
            message,
        } = cmd
        else {
            return false;
        };
        let ttl = ttl.unwrap_or(self.state.default_ttl);
        let src = self.state.element_address(element);
        let payload = message.to_vec();
        let (net_index, akf, aid) = match key {
            KeyRef::App(i) => match self.apps.iter().find(|a| a.index == i) {
                Some(a) => (a.net_index, true, self.app_tx_key(a).aid),
                None => return false,
            },
            KeyRef::Dev => (net_index, false, 0),
        };
        if !self.subnets.iter().any(|s| s.index == net_index) {
            return false;
        }
        // The SEQ of the (first segment of the) message: the nonce needs it before the network
        // layer runs (SeqAuth, §3.5.3.1).
        let Some(seq) = self.alloc_seq() else {
            return false;
        };
        let ctx = AccessContext {
            seq,
            src,
            dst,
            iv_index: self.tx_iv_index(),
            szmic: false,
        };
        let upper = match key {
            KeyRef::App(i) => {
                let a = self
                    .apps
                    .iter()
                    .find(|a| a.index == i)
                    .expect("found above");
                encrypt_access(
                    AccessKey::App(self.app_tx_key(a)),
                    &ctx,
                    label.as_ref(),
                    &payload,
                )
            }
            KeyRef::Dev => {
                let dk = if dst.is_unicast() && self.state.element_of(dst).is_none() {
                    self.remote_dev
                        .iter()
                        .find(|(a, _)| *a == dst)
                        .map(|(_, k)| k)
                        .unwrap_or(&self.dev_key)
                } else {
                    &self.dev_key
                };
                encrypt_access(AccessKey::Dev(dk), &ctx, label.as_ref(), &payload)
            }
        };
        let Ok(upper) = upper else { return false };
        // One unsegmented lower PDU carries up to 15 octets of upper transport PDU (§3.5.2.1);
        // anything longer is segmented (§3.5.3.3).
        if upper.len() <= crate::ble::wire::lower::MAX_UNSEGMENTED_ACCESS {
            let lower = LowerAccessPdu::Unsegmented {
                akf,
                aid,
                upper_pdu: upper,
            };
            return self.send_network(
                now,
                net_index,
                false,
                ttl,
                src,
                dst,
                lower.to_vec(),
                Some(seq),
            );
        }
        let Some(src) = UnicastAddress::new(src.0) else {
            return false;
        };
        let params = SarTxParams {
            src,
            dst,
            kind: SegKind::Access { akf, aid },
            szmic: false,
            seq_zero: (seq.get() & 0x1fff) as u16,
            ttl,
        };
        match SarTx::new(now, params, &upper, self.state.sar_tx) {
            Ok(sar) => {
                self.sar_out.push(OutTransfer {
                    sar,
                    net_index,
                    first_seq: Some(seq),
                });
                self.drive_sar(now);
                true
            }
            Err(_) => {
                self.drop(DropReason::Transport);
                false
            }
        }
    }

    /// The application key to transmit with: the new one once its subnet is in phase 2.
    pub(super) fn app_tx_key<'a>(&'a self, a: &'a AppRuntime) -> &'a AppKey {
        let phase2 = self
            .subnets
            .iter()
            .any(|s| s.index == a.net_index && s.phase == KeyRefreshPhase::Second);
        match (&a.new_key, phase2) {
            (Some(k), true) => k,
            _ => &a.key,
        }
    }
}
