//! How the Configuration Server answers the messages about one model: Model App bindings, Model
//! Publication and the Subscription List (Mesh Protocol 1.1 §4.3.2.15..=§4.3.2.30,
//! §4.3.2.46..=§4.3.2.52; states §4.2.3, §4.2.4, §4.2.5).

use super::*;

/// Publication parameters of a status that reports no publication: all fields 0
/// (MshPRT §4.3.2.18; Zephyr and BlueZ send zeros on failure).
pub(super) fn no_publication() -> PublishParams {
    PublishParams {
        app_key_index: KeyIndex::from_bits(0),
        credential_flag: false,
        ttl: 0,
        period: PublishPeriod::from_byte(0),
        retransmit: Retransmit::from_byte(0),
    }
}

/// Whether `model` is secured with the device key only: the Configuration Server and Client
/// (MshPRT §4.4.1, §4.4.2). They take no AppKey, no publication and no subscription.
pub(super) fn device_key_model(model: ModelId) -> bool {
    model == ModelId::CONFIG_SERVER || model == ModelId::CONFIG_CLIENT
}

/// An address a model may subscribe to with the non-virtual messages: a group address other
/// than all-nodes (MshPRT §4.3.2.19: "The Address field shall not be the all-nodes address").
pub(super) fn subscribable(addr: Address) -> bool {
    addr.is_group() && addr != Address::ALL_NODES
}

impl Server<'_> {
    /// Unbinds AppKey `index` from a model; a publication with that key stops (Zephyr's
    /// `mod_unbind`: a model cannot publish with a key it is not bound to).
    pub(super) fn unbind(&mut self, at: (usize, usize), index: u16) {
        let Some(model) = self.model_mut(at) else {
            return;
        };
        let id = model.id;
        let before = model.app_keys.len();
        model.app_keys.retain(|k| *k != index);
        let unbound = model.app_keys.len() != before;
        let unpublished = model
            .publication
            .as_ref()
            .is_some_and(|p| p.params.app_key_index.get() == index);
        if unpublished {
            model.publication = None;
        }
        if unbound {
            self.effect(Effect::BindingsChanged {
                element: at.0,
                model: id,
            });
        }
        if unpublished {
            self.effect(Effect::PublicationChanged {
                element: at.0,
                model: id,
            });
        }
    }

    // ---------------------------------------------------------------------------------------
    // Model to AppKey bindings (§4.3.2.46..=§4.3.2.52)
    // ---------------------------------------------------------------------------------------

    pub(super) fn model_app(
        &mut self,
        element: Address,
        app: KeyIndex,
        model: ModelId,
        bind: bool,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let status = match self.find_model(element, model) {
            Err(s) => s,
            Ok(at) if bind => self.bind(at, app, model),
            Ok(at) => {
                if self.app_key(app).is_none() {
                    StatusCode::InvalidAppKeyIndex
                } else {
                    self.unbind(at, app.get());
                    StatusCode::Success
                }
            }
        };
        Some(ConfigMessage::ModelAppStatus {
            status,
            element,
            app_key_index: app,
            model,
        })
    }

    pub(super) fn bind(&mut self, at: (usize, usize), app: KeyIndex, model: ModelId) -> StatusCode {
        if device_key_model(model) {
            return StatusCode::CannotBind;
        }
        if self.app_key(app).is_none() {
            return StatusCode::InvalidAppKeyIndex;
        }
        let Some(m) = self.model_mut(at) else {
            return StatusCode::InvalidModel;
        };
        if m.app_keys.contains(&app.get()) {
            return StatusCode::Success;
        }
        if m.app_keys.len() >= MODEL_KEY_CAPACITY {
            return StatusCode::InsufficientResources;
        }
        m.app_keys.push(app.get());
        self.effect(Effect::BindingsChanged {
            element: at.0,
            model,
        });
        StatusCode::Success
    }

    /// SIG / Vendor Model App List (§4.3.2.50, §4.3.2.52).
    pub(super) fn model_app_get(&self, element: Address, model: ModelId) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let (status, app_key_indexes) = match self.find_model(element, model) {
            Ok(at) => (
                StatusCode::Success,
                self.model_ref(at)
                    .map(|m| m.app_keys.iter().map(|k| KeyIndex::from_bits(*k)).collect())
                    .unwrap_or_default(),
            ),
            Err(s) => (s, Vec::new()),
        };
        Some(ConfigMessage::ModelAppList {
            status,
            element,
            model,
            app_key_indexes,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Model Publication (§4.3.2.15..=§4.3.2.18; state §4.2.3)
    // ---------------------------------------------------------------------------------------

    pub(super) fn publication_status(
        &self,
        status: StatusCode,
        element: Address,
        model: ModelId,
        at: Option<(usize, usize)>,
    ) -> ConfigMessage {
        let current = at
            .and_then(|at| self.model_ref(at))
            .and_then(|m| m.publication.as_ref());
        let (address, publication) = match (status, current) {
            (StatusCode::Success, Some(p)) => (p.address, p.params),
            _ => (Address::UNASSIGNED, no_publication()),
        };
        ConfigMessage::ModelPublicationStatus {
            status,
            element,
            address,
            publication,
            model,
        }
    }

    pub(super) fn publication_get(
        &self,
        element: Address,
        model: ModelId,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let (status, at) = match self.find_model(element, model) {
            Err(s) => (s, None),
            Ok(_) if device_key_model(model) => (StatusCode::InvalidPublishParameters, None),
            Ok(at) => (StatusCode::Success, Some(at)),
        };
        Some(self.publication_status(status, element, model, at))
    }

    /// Model Publication Set and Virtual Address Set: an unassigned publish address stops
    /// publishing; otherwise the AppKey must be stored. Friendship credentials need the Low
    /// Power feature, which this node lacks (Feature Not Supported).
    pub(super) fn publication_set(
        &mut self,
        element: Address,
        address: Address,
        label: Option<[u8; 16]>,
        params: &PublishParams,
        model: ModelId,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() || (0x80..=0xFE).contains(&params.ttl) {
            // §4.2.3.4: Publish TTL 0x80..=0xFE is prohibited.
            return None;
        }
        let at = match self.find_model(element, model) {
            Ok(at) => at,
            Err(s) => return Some(self.publication_status(s, element, model, None)),
        };
        let status = if device_key_model(model) {
            StatusCode::InvalidPublishParameters
        } else if params.credential_flag {
            StatusCode::FeatureNotSupported
        } else if address.is_unassigned() {
            if let Some(m) = self.model_mut(at) {
                if m.publication.take().is_some() {
                    self.effect(Effect::PublicationChanged {
                        element: at.0,
                        model,
                    });
                }
            }
            StatusCode::Success
        } else if self.app_key(params.app_key_index).is_none() {
            StatusCode::InvalidAppKeyIndex
        } else {
            let new = Publication {
                address,
                label,
                params: PublishParams {
                    retransmit: Retransmit::from_byte(params.retransmit.to_byte()),
                    period: PublishPeriod::from_byte(params.period.to_byte()),
                    ..*params
                },
            };
            if let Some(m) = self.model_mut(at) {
                if m.publication.as_ref() != Some(&new) {
                    m.publication = Some(new);
                    self.effect(Effect::PublicationChanged {
                        element: at.0,
                        model,
                    });
                }
            }
            StatusCode::Success
        };
        Some(self.publication_status(status, element, model, Some(at)))
    }

    // ---------------------------------------------------------------------------------------
    // Subscription List (§4.3.2.19..=§4.3.2.30)
    // ---------------------------------------------------------------------------------------

    pub(super) fn subscription(
        &mut self,
        element: Address,
        model: ModelId,
        op: SubOp,
        sub: Sub,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let va = match sub {
            Sub::Virtual(label) => Some(Address(virtual_address(&label))),
            _ => None,
        };
        // The Address field of the status: the group address of the request, the virtual
        // address of a Label UUID, unassigned for Delete All (§4.3.2.26).
        let reported = match sub {
            Sub::Group(a) => a,
            Sub::Virtual(_) => va.unwrap_or(Address::UNASSIGNED),
            Sub::None => Address::UNASSIGNED,
        };
        let status = match self.find_model(element, model) {
            // Zephyr reports the unassigned address when no model is found for a Label UUID.
            Err(s) => {
                let address = if matches!(sub, Sub::Virtual(_)) {
                    Address::UNASSIGNED
                } else {
                    reported
                };
                return Some(ConfigMessage::ModelSubscriptionStatus {
                    status: s,
                    element,
                    address,
                    model,
                });
            }
            Ok(_) if matches!(sub, Sub::Group(a) if !subscribable(a)) => StatusCode::InvalidAddress,
            Ok(_) if device_key_model(model) => StatusCode::NotASubscribeModel,
            Ok(at) => self.change_subscriptions(at, op, sub, va),
        };
        Some(ConfigMessage::ModelSubscriptionStatus {
            status,
            element,
            address: reported,
            model,
        })
    }

    pub(super) fn change_subscriptions(
        &mut self,
        at: (usize, usize),
        op: SubOp,
        sub: Sub,
        va: Option<Address>,
    ) -> StatusCode {
        let Some(m) = self.model_mut(at) else {
            return StatusCode::InvalidModel;
        };
        let before = (m.subscriptions.clone(), m.labels.clone());
        let status = match (op, sub) {
            (SubOp::DeleteAll, _) | (SubOp::Overwrite, _) => {
                m.subscriptions.clear();
                m.labels.clear();
                match sub {
                    Sub::Group(a) => m.subscriptions.push(a),
                    Sub::Virtual(label) => {
                        m.subscriptions.push(va.unwrap_or(Address::UNASSIGNED));
                        m.labels.push(label);
                    }
                    Sub::None => {}
                }
                StatusCode::Success
            }
            (SubOp::Add, Sub::Group(a)) => {
                if m.subscriptions.contains(&a) {
                    StatusCode::Success
                } else if m.subscriptions.len() >= SUBSCRIPTION_CAPACITY {
                    StatusCode::InsufficientResources
                } else {
                    m.subscriptions.push(a);
                    StatusCode::Success
                }
            }
            (SubOp::Add, Sub::Virtual(label)) => {
                if m.labels.contains(&label) {
                    StatusCode::Success
                } else if m.subscriptions.len() >= SUBSCRIPTION_CAPACITY {
                    StatusCode::InsufficientResources
                } else {
                    m.subscriptions.push(va.unwrap_or(Address::UNASSIGNED));
                    m.labels.push(label);
                    StatusCode::Success
                }
            }
            // Removing an address that is not in the list is a Success (§4.3.2.21).
            (SubOp::Delete, Sub::Group(a)) => {
                m.subscriptions.retain(|s| *s != a);
                StatusCode::Success
            }
            // A Label UUID that is not in the list cannot be removed (Zephyr answers Cannot
            // Remove).
            (SubOp::Delete, Sub::Virtual(label)) => {
                match m.labels.iter().position(|l| *l == label) {
                    Some(i) => {
                        m.labels.remove(i);
                        let va = va.unwrap_or(Address::UNASSIGNED);
                        if let Some(j) = m.subscriptions.iter().position(|s| *s == va) {
                            m.subscriptions.remove(j);
                        }
                        StatusCode::Success
                    }
                    None => StatusCode::CannotRemove,
                }
            }
            (SubOp::Add | SubOp::Delete, Sub::None) => StatusCode::UnspecifiedError,
        };
        let changed = (&m.subscriptions, &m.labels) != (&before.0, &before.1);
        let id = m.id;
        if changed {
            self.effect(Effect::SubscriptionsChanged {
                element: at.0,
                model: id,
            });
        }
        status
    }

    /// SIG / Vendor Model Subscription List (§4.3.2.28, §4.3.2.30): group and virtual
    /// addresses.
    pub(super) fn subscription_get(
        &self,
        element: Address,
        model: ModelId,
    ) -> Option<ConfigMessage> {
        if !element.is_unicast() {
            return None;
        }
        let (status, addresses) = match self.find_model(element, model) {
            Err(s) => (s, Vec::new()),
            Ok(_) if device_key_model(model) => (StatusCode::NotASubscribeModel, Vec::new()),
            Ok(at) => (
                StatusCode::Success,
                self.model_ref(at)
                    .map(|m| m.subscriptions.clone())
                    .unwrap_or_default(),
            ),
        };
        Some(ConfigMessage::ModelSubscriptionList {
            status,
            element,
            model,
            addresses,
        })
    }
}

/// A subscription list operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SubOp {
    Add,
    Delete,
    Overwrite,
    DeleteAll,
}

/// The address a subscription message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sub {
    Group(Address),
    Virtual([u8; 16]),
    None,
}
