//! How the Configuration Server answers the NetKey, AppKey, Node Identity and Key Refresh Phase
//! messages (Mesh Protocol 1.1 §4.3.2.31..=§4.3.2.45, §4.3.2.56..=§4.3.2.58; states §4.2.4,
//! §4.2.12, §4.2.14).

use super::*;

/// Key Refresh Phase Transition values of Config Key Refresh Phase Set (MshPRT §4.2.14).
pub(super) const TRANSITION_PHASE2: u8 = 0x02;
pub(super) const TRANSITION_PHASE3: u8 = 0x03;

/// Moves subnet `net_index` to `phase` in a bare state, as `Node::set_key_refresh_phase` does:
/// Normal after phase 1 or 2 makes the new NetKey and the new AppKeys bound to it the only
/// ones (MshPRT §3.11.4.3). Returns whether anything changed.
pub fn apply_key_refresh(state: &mut NodeState, net_index: u16, phase: KeyRefreshPhase) -> bool {
    let Some(k) = state.net_keys.iter_mut().find(|k| k.index == net_index) else {
        return false;
    };
    if k.new_key.is_none() || k.phase == phase {
        return false;
    }
    if phase == KeyRefreshPhase::Normal {
        if let Some(n) = k.new_key.take() {
            k.key = n;
        }
        for a in state
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
    true
}

impl Server<'_> {
    /// Node Identity Status (§4.3.2.45), after a Set changed the state (§4.2.12): "not
    /// supported" for a known subnet of a node without the Proxy feature, else the subnet's
    /// state; for an unknown subnet, Invalid NetKey Index with the requested value (Set) or
    /// 0x00 (Get).
    pub(super) fn node_identity(
        &mut self,
        net_key_index: KeyIndex,
        set: Option<FeatureState>,
    ) -> ConfigMessage {
        let index = net_key_index.get();
        let (status, identity) = if self.net_key(net_key_index).is_none() {
            (
                StatusCode::InvalidNetKeyIndex,
                set.unwrap_or(FeatureState::Disabled),
            )
        } else if self.state.gatt_proxy.is_none() {
            (StatusCode::Success, FeatureState::NotSupported)
        } else {
            let running = self.state.node_identity.contains(&index);
            if let Some(s) = set {
                let on = s == FeatureState::Enabled;
                if on != running {
                    if on {
                        self.state.node_identity.push(index);
                    } else {
                        self.state.node_identity.retain(|i| *i != index);
                    }
                    self.effect(Effect::NodeIdentityChanged);
                }
            }
            let on = self.state.node_identity.contains(&index);
            (
                StatusCode::Success,
                if on {
                    FeatureState::Enabled
                } else {
                    FeatureState::Disabled
                },
            )
        };
        ConfigMessage::NodeIdentityStatus {
            status,
            net_key_index,
            identity,
        }
    }

    // ---------------------------------------------------------------------------------------
    // NetKeys (§4.3.2.31..=§4.3.2.36) and AppKeys (§4.3.2.37..=§4.3.2.42)
    // ---------------------------------------------------------------------------------------

    /// Config NetKey Add: the same index with the same key is a Success (a retry); with a
    /// different key, Key Index Already Stored.
    pub(super) fn netkey_add(&mut self, index: KeyIndex, key: &[u8; 16]) -> StatusCode {
        if let Some(k) = self.net_key(index) {
            return if k.key == *key {
                StatusCode::Success
            } else {
                StatusCode::KeyIndexAlreadyStored
            };
        }
        if self.state.net_keys.len() >= NET_KEY_CAPACITY {
            return StatusCode::InsufficientResources;
        }
        self.state.net_keys.push(NetKeyState {
            index: index.get(),
            key: *key,
            new_key: None,
            phase: KeyRefreshPhase::Normal,
        });
        self.effect(Effect::KeysChanged);
        StatusCode::Success
    }

    /// Config NetKey Update: starts the key refresh of the subnet (phase 1 with the new key,
    /// §3.11.4.1). In phase 1 the same new key again is a Success; anything else in phase 1
    /// or 2 is Cannot Update.
    pub(super) fn netkey_update(&mut self, index: KeyIndex, key: &[u8; 16]) -> StatusCode {
        let Some(k) = self
            .state
            .net_keys
            .iter_mut()
            .find(|k| k.index == index.get())
        else {
            return StatusCode::InvalidNetKeyIndex;
        };
        match k.phase {
            KeyRefreshPhase::Normal => {
                k.new_key = Some(*key);
                self.effect(Effect::KeysChanged);
                self.effect(Effect::KeyRefresh {
                    net_index: index.get(),
                    phase: KeyRefreshPhase::First,
                });
                StatusCode::Success
            }
            KeyRefreshPhase::First if k.new_key == Some(*key) => StatusCode::Success,
            KeyRefreshPhase::First | KeyRefreshPhase::Second => StatusCode::CannotUpdate,
        }
    }

    /// Config NetKey Delete: removes the subnet with its AppKeys (and their bindings and
    /// publications) and a Heartbeat Publication on it. The last NetKey cannot be removed.
    pub(super) fn netkey_delete(&mut self, index: KeyIndex) -> StatusCode {
        let idx = index.get();
        if self.net_key(index).is_none() {
            return StatusCode::Success;
        }
        if self.state.net_keys.len() <= 1 {
            return StatusCode::CannotRemove;
        }
        self.state.net_keys.retain(|k| k.index != idx);
        let bound: Vec<u16> = self
            .state
            .app_keys
            .iter()
            .filter(|a| a.net_index == idx)
            .map(|a| a.index)
            .collect();
        for a in bound {
            self.remove_app_key(a);
        }
        if self
            .state
            .heartbeat_publication
            .as_ref()
            .is_some_and(|p| p.net_index == idx)
        {
            self.state.heartbeat_publication = None;
            self.effect(Effect::HeartbeatPublicationChanged);
        }
        self.effect(Effect::KeysChanged);
        StatusCode::Success
    }

    /// Config AppKey Add: the NetKey must be stored; the same index bound to the same NetKey
    /// with the same key is a Success, with another key Key Index Already Stored, bound to
    /// another NetKey Invalid NetKey Index.
    pub(super) fn appkey_add(
        &mut self,
        net: KeyIndex,
        app: KeyIndex,
        key: &[u8; 16],
    ) -> StatusCode {
        if self.net_key(net).is_none() {
            return StatusCode::InvalidNetKeyIndex;
        }
        if let Some(a) = self.app_key(app) {
            return match (a.net_index == net.get(), a.key == *key) {
                (true, true) => StatusCode::Success,
                (true, false) => StatusCode::KeyIndexAlreadyStored,
                (false, _) => StatusCode::InvalidNetKeyIndex,
            };
        }
        if self.state.app_keys.len() >= APP_KEY_CAPACITY {
            return StatusCode::InsufficientResources;
        }
        self.state.app_keys.push(AppKeyState {
            index: app.get(),
            net_index: net.get(),
            key: *key,
            new_key: None,
        });
        self.effect(Effect::KeysChanged);
        StatusCode::Success
    }

    /// Config AppKey Update: only while the bound NetKey is in key refresh phase 1
    /// (§3.11.4.1); the same new key again is a Success, another one Cannot Update.
    pub(super) fn appkey_update(
        &mut self,
        net: KeyIndex,
        app: KeyIndex,
        key: &[u8; 16],
    ) -> StatusCode {
        let Some(phase) = self.net_key(net).map(|k| k.phase) else {
            return StatusCode::InvalidNetKeyIndex;
        };
        let Some(a) = self
            .state
            .app_keys
            .iter_mut()
            .find(|a| a.index == app.get())
        else {
            return StatusCode::InvalidAppKeyIndex;
        };
        if a.net_index != net.get() {
            return StatusCode::InvalidBinding;
        }
        if phase != KeyRefreshPhase::First {
            return StatusCode::CannotUpdate;
        }
        match a.new_key {
            Some(n) if n == *key => StatusCode::Success,
            Some(_) => StatusCode::CannotUpdate,
            None => {
                a.new_key = Some(*key);
                self.effect(Effect::KeysChanged);
                StatusCode::Success
            }
        }
    }

    /// Config AppKey Delete: unbinds the key from every model and stops the publications that
    /// use it. A key that is not stored is a Success (a retry).
    pub(super) fn appkey_delete(&mut self, net: KeyIndex, app: KeyIndex) -> StatusCode {
        if self.net_key(net).is_none() {
            return StatusCode::InvalidNetKeyIndex;
        }
        let Some(a) = self.app_key(app) else {
            return StatusCode::Success;
        };
        if a.net_index != net.get() {
            return StatusCode::InvalidBinding;
        }
        self.remove_app_key(app.get());
        StatusCode::Success
    }

    /// Removes AppKey `index`, its bindings and the publications that use it.
    pub(super) fn remove_app_key(&mut self, index: u16) {
        self.state.app_keys.retain(|a| a.index != index);
        self.effect(Effect::KeysChanged);
        for e in 0..self.state.elements.len() {
            for m in 0..self.state.elements[e].models.len() {
                self.unbind((e, m), index);
            }
        }
    }

    /// Config AppKey List (§4.3.2.42): the AppKeys bound to a NetKey.
    pub(super) fn appkey_list(&self, net: KeyIndex) -> ConfigMessage {
        let (status, app_key_indexes) = if self.net_key(net).is_some() {
            (
                StatusCode::Success,
                self.state
                    .app_keys
                    .iter()
                    .filter(|a| a.net_index == net.get())
                    .map(|a| KeyIndex::from_bits(a.index))
                    .collect(),
            )
        } else {
            (StatusCode::InvalidNetKeyIndex, Vec::new())
        };
        ConfigMessage::AppKeyList {
            status,
            net_key_index: net,
            app_key_indexes,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Key Refresh Phase (§4.3.2.56..=§4.3.2.58, state §4.2.14)
    // ---------------------------------------------------------------------------------------

    /// Transition 2 moves phase 1 to phase 2; transition 3 moves phase 1 or 2 to Normal
    /// (revoking the old keys). Other combinations (transition 2 in phase 0 or 2, 3 in phase
    /// 0) leave the phase as it is. The node applies the change ([`Effect::KeyRefresh`]); the
    /// status reports the phase after it.
    pub(super) fn key_refresh_set(
        &mut self,
        net: KeyIndex,
        transition: u8,
    ) -> Option<ConfigMessage> {
        if !(TRANSITION_PHASE2..=TRANSITION_PHASE3).contains(&transition) {
            return None;
        }
        let Some(k) = self.net_key(net) else {
            return Some(ConfigMessage::KeyRefreshPhaseStatus {
                status: StatusCode::InvalidNetKeyIndex,
                net_key_index: net,
                phase: 0,
            });
        };
        let next = match (k.phase, transition, k.new_key.is_some()) {
            (KeyRefreshPhase::First, TRANSITION_PHASE2, true) => Some(KeyRefreshPhase::Second),
            (KeyRefreshPhase::First | KeyRefreshPhase::Second, TRANSITION_PHASE3, true) => {
                Some(KeyRefreshPhase::Normal)
            }
            _ => None,
        };
        let phase = next.unwrap_or(k.phase);
        if let Some(phase) = next {
            self.effect(Effect::KeyRefresh {
                net_index: net.get(),
                phase,
            });
        }
        Some(ConfigMessage::KeyRefreshPhaseStatus {
            status: StatusCode::Success,
            net_key_index: net,
            phase: phase.to_u8(),
        })
    }
}
