//! Secure network beacons (MshPRT §3.10.3) and the key refresh procedure they drive
//! (MshPRT §3.11.4).

use super::*;

impl<R: RngCore> Node<R> {
    pub(super) fn beacon_rx(&mut self, now: Instant, data: &[u8]) {
        let Ok(Beacon::SecureNetwork(b)) = Beacon::parse(data) else {
            // Unprovisioned device and private beacons are not for a provisioned node without
            // the Private Beacon feature.
            return;
        };
        let mut found = None;
        for (si, sn) in self.subnets.iter().enumerate() {
            if b.authenticate(&sn.key).is_ok() {
                found = Some((si, false));
                break;
            }
            if sn
                .new_key
                .as_ref()
                .is_some_and(|k| b.authenticate(k).is_ok())
            {
                found = Some((si, true));
                break;
            }
        }
        let Some((si, with_new)) = found else {
            return self.drop(DropReason::Beacon);
        };
        if with_new {
            self.key_refresh_beacon(si, b.flags.key_refresh());
        }
        self.iv_beacon(now, b.iv_index, b.flags.iv_update());
    }

    /// Key refresh driven by beacons secured with the new key (MshPRT §3.11.4.2, §3.11.4.3).
    pub(super) fn key_refresh_beacon(&mut self, si: usize, kr_flag: bool) {
        let index = self.subnets[si].index;
        let phase = self.subnets[si].phase;
        let next = match (phase, kr_flag) {
            (KeyRefreshPhase::First, true) => Some(KeyRefreshPhase::Second),
            (KeyRefreshPhase::First | KeyRefreshPhase::Second, false) => {
                Some(KeyRefreshPhase::Normal)
            }
            _ => None,
        };
        if let Some(p) = next {
            self.set_key_refresh_phase(index, p);
        }
    }

    /// Moves a subnet to `phase`; Normal after phase 1 or 2 revokes the old key (phase 3,
    /// MshPRT §3.11.4.3), including the old application keys bound to it.
    pub fn set_key_refresh_phase(&mut self, net_index: u16, phase: KeyRefreshPhase) {
        let Some(k) = self
            .state
            .net_keys
            .iter_mut()
            .find(|k| k.index == net_index)
        else {
            return;
        };
        if k.new_key.is_none() || k.phase == phase {
            return;
        }
        if phase == KeyRefreshPhase::Normal {
            k.key = k.new_key.take().expect("checked above");
            for a in self
                .state
                .app_keys
                .iter_mut()
                .filter(|a| a.net_index == net_index)
            {
                if let Some(n) = a.new_key.take() {
                    a.key = n;
                }
            }
        }
        k.phase = phase;
        self.rebuild_keys();
        self.events
            .push_back(Event::KeyRefresh { net_index, phase });
        self.events.push_back(Event::PersistState);
    }

    pub(super) fn send_beacons(&mut self, now: Instant) {
        if !self.state.beacon {
            return;
        }
        let flags_iv = if self.state.iv_update {
            Flags::IV_UPDATE
        } else {
            0
        };
        let iv = self.state.iv_index;
        let mut out = Vec::new();
        for i in 0..self.subnets.len() {
            if self.subnets[i].next_beacon > now {
                continue;
            }
            let sn = &self.subnets[i];
            let kr = if sn.phase == KeyRefreshPhase::Second {
                Flags::KEY_REFRESH
            } else {
                0
            };
            let b = SecureNetworkBeacon::new_signed(sn.tx_key(), Flags(kr | flags_iv), iv);
            out.push(ad_wrap(AD_TYPE_MESH_BEACON, &b.to_vec()));
            let j = self.jitter(1_000);
            self.subnets[i].next_beacon = now + BEACON_INTERVAL + j;
        }
        for bytes in out {
            self.queue(now, bytes, Retransmit::default(), None);
        }
    }
}
