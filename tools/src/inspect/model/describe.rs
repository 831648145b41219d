//! Words for what the inspector shows: decoded PDUs as traffic entries, models and Config
//! requests by name, a node's detail from what the network database knows.

use super::*;

/// A model's name as the inspector shows it: the Assigned Numbers name, else its ID.
pub fn model_name(id: weft_mesh::ble::node::ModelId) -> String {
    use weft_mesh::ble::node::ModelId as M;
    match (id.name(), id) {
        (Some(n), _) => n.to_string(),
        (None, M::Sig(m)) => format!("SIG model {m:04x}"),
        (
            None,
            M::Vendor {
                company_id,
                model_id,
            },
        ) => format!("vendor model {company_id:04x}:{model_id:04x}"),
    }
}

/// A Config request in the inspector's words, e.g. `bind app key 0 to Generic OnOff Server`.
/// What a run of Configuration Client events says in the status line, one line each (a
/// refusal is shown with its status, a finished configuration with its last answer);
/// `name` names a node by address.
pub(crate) fn config_notices(
    events: &[ConfigClientEvent],
    name: impl Fn(u16) -> String,
) -> Vec<String> {
    let named = |a: u16| format!("{} {a:04x}", name(a)).trim_start().to_string();
    let mut out = Vec::new();
    for (k, event) in events.iter().enumerate() {
        let text = match event {
            ConfigClientEvent::Answered {
                node,
                request,
                status,
            } => {
                let done = matches!(events.get(k + 1), Some(ConfigClientEvent::Done { node: n }) if n == node);
                let text = match status {
                    ConfigMessage::CompositionDataStatus { data, .. } => {
                        match CompositionDataPage0::parse(data) {
                            Ok(page) => format!("composition: {}", page.describe()),
                            Err(_) => "Composition Data Status does not parse".into(),
                        }
                    }
                    // MshPRT §4.3.5: the Status Code of the status.
                    s => match s.status() {
                        Some(c) if !c.is_success() => {
                            format!("{}: status {:#04x}", config_what(request), c.to_u8())
                        }
                        _ => format!("{}: success", config_what(request)),
                    },
                };
                format!(
                    "{}: {text}{}",
                    named(node.get()),
                    if done { " (configured)" } else { "" }
                )
            }
            ConfigClientEvent::Failed {
                reason: ConfigFailure::Refused(_),
                ..
            }
            | ConfigClientEvent::Done { .. } => continue,
            ConfigClientEvent::Failed {
                node,
                request,
                reason: ConfigFailure::Malformed(e),
            } => {
                let text = match (request, e) {
                    (ConfigMessage::CompositionDataGet { .. }, _) => {
                        "Composition Data Status does not parse".to_string()
                    }
                    (_, weft_mesh::ble::wire::Error::Truncated { got: 0, .. }) => {
                        format!("{}: empty status", config_what(request))
                    }
                    _ => format!("{}: status does not parse", config_what(request)),
                };
                format!("{}: {text}", named(node.get()))
            }
            ConfigClientEvent::Failed {
                node,
                request,
                reason: ConfigFailure::NoAnswer { tries },
            } => format!(
                "{:04x}: {}: no answer after {tries} tries",
                node.get(),
                config_what(request)
            ),
        };
        out.push(text);
    }
    out
}

/// A Config request in a few words.
pub(crate) fn config_what(request: &ConfigMessage) -> String {
    match request {
        ConfigMessage::CompositionDataGet { .. } => "Composition Data Get".into(),
        ConfigMessage::AppKeyAdd { app_key_index, .. } => {
            format!("AppKey Add {}", app_key_index.get())
        }
        ConfigMessage::ModelAppBind {
            app_key_index,
            model,
            ..
        } => format!(
            "bind app key {} to {}",
            app_key_index.get(),
            model_name(*model)
        ),
        ConfigMessage::ModelSubscriptionAdd { address, model, .. } => {
            format!("subscribe {} to {:04x}", model_name(*model), address.0)
        }
        ConfigMessage::ModelPublicationSet { address, model, .. } => {
            format!("publish {} to {:04x}", model_name(*model), address.0)
        }
        ConfigMessage::HeartbeatPublicationSet(h) if h.period_log == 0 => {
            "stop Heartbeats".to_string()
        }
        ConfigMessage::HeartbeatPublicationSet(h) => format!(
            "Heartbeats to {:04x} every {} s",
            h.destination.0,
            1u32 << (h.period_log.min(0x11) - 1)
        ),
        other => other.describe(),
    }
}

/// Fills a traffic entry from one decoded item other than the network PDU itself (kinds, names,
/// summaries) and counts it; both the scenario feeder and the live listener use it.
/// Connectable advertising of a mesh GATT service, which carries nothing to decrypt, into the
/// log entry: a device offering provisioning over PB-GATT (Mesh Provisioning Service data,
/// MshPRT §7.1.2.2.1: its Device UUID, returned) or a proxy (Mesh Proxy Service data,
/// §7.2.2.2.1: a Network ID or an identity). False for any other advertising data.
pub(crate) fn describe_service_ad(e: &mut TrafficEntry, ad: &[u8]) -> (bool, Option<[u8; 16]>) {
    use weft_mesh::ble::wire::adv::{AdStructures, MeshAd, ProxyServiceData as P};
    for s in AdStructures::new(ad).flatten() {
        match MeshAd::classify(s.ad_type, s.data) {
            Ok(MeshAd::ProvisioningService(p)) => {
                e.kind = EntryKind::Provisioning;
                e.opcode = "Mesh Provisioning Service".into();
                e.summary = format!("PB-GATT, uuid {}", hex::encode(p.device_uuid));
                return (true, Some(p.device_uuid));
            }
            Ok(MeshAd::ProxyService(p)) => {
                e.kind = EntryKind::Beacon;
                e.opcode = "Mesh Proxy Service".into();
                e.summary = match p {
                    P::NetworkId(id) => format!("Network ID {}", hex::encode(id)),
                    P::NodeIdentity { .. } => "Node Identity".into(),
                    P::PrivateNetworkIdentity { .. } => "Private Network Identity".into(),
                    P::PrivateNodeIdentity { .. } => "Private Node Identity".into(),
                };
                return (true, None);
            }
            _ => {}
        }
    }
    (false, None)
}

pub(crate) fn describe_into(e: &mut TrafficEntry, stats: &mut Stats, d: Decoded) -> Described {
    let mut out = Described::default();
    match d {
        Decoded::Network(_) => {}
        Decoded::Access(a) => {
            stats.access += 1;
            e.kind = EntryKind::Access;
            e.src = Some(a.src.0);
            e.dst = Some(a.dst.0);
            match a.opcode {
                Some(op) => {
                    e.opcode =
                        opcode_name(op).map_or_else(|| hex::encode(op.to_bytes()), str::to_string);
                    let params = Opcode::parse(&a.access_payload)
                        .ok()
                        .and_then(|(_, n)| a.access_payload.get(n..))
                        .unwrap_or(&[]);
                    match ModelMessage::parse(op, params) {
                        Ok(m) => {
                            e.summary = m.describe();
                            out.message = Some((a.src.0, m));
                        }
                        Err(err) => e.summary = format!("parameters: {err}"),
                    }
                }
                None => e.opcode = "invalid opcode".into(),
            }
            if a.segments > 1 {
                e.summary = format!("{} ({} segments)", e.summary, a.segments);
            }
        }
        Decoded::Control(c) => {
            use weft_mesh::ble::wire::control::{Heartbeat, OPCODE_HEARTBEAT};
            use weft_mesh::ble::wire::Wire;
            stats.control += 1;
            e.kind = EntryKind::Control;
            e.opcode = control_opcode_name(c.opcode)
                .map_or_else(|| format!("control {:#04x}", c.opcode), str::to_string);
            if c.opcode == OPCODE_HEARTBEAT {
                // MshPRT §3.6.5.10: hops = InitTTL - RxTTL + 1.
                match Heartbeat::parse(&c.parameters) {
                    Ok(h) => {
                        let roles = weft_mesh::topology::Roles::from_features(h.features.0);
                        e.summary = format!(
                            "Heartbeat, init TTL {}, features {}",
                            h.init_ttl,
                            roles.letters()
                        );
                        out.heartbeat = Some((c.src.0, h));
                    }
                    Err(err) => e.summary = format!("parameters: {err}"),
                }
            }
        }
        Decoded::SegmentPending {
            received, total, ..
        } => {
            stats.segments += 1;
            e.kind = EntryKind::Segment(received, total);
            e.opcode = "segment".into();
            e.summary = format!("{received} of {total} segments");
        }
        Decoded::Beacon(b) => {
            stats.beacons += 1;
            e.kind = EntryKind::Beacon;
            e.opcode = match &b.beacon {
                Beacon::UnprovisionedDevice(_) => "Unprovisioned Device Beacon",
                Beacon::SecureNetwork(_) => "Secure Network Beacon",
                Beacon::MeshPrivate(_) => "Mesh Private Beacon",
            }
            .into();
            if let Beacon::UnprovisionedDevice(u) = &b.beacon {
                e.summary = format!("uuid {}", hex::encode(u.device_uuid));
                out.unprovisioned = Some(u.device_uuid);
            }
        }
        Decoded::PbAdv(_) | Decoded::Provisioning { .. } => {
            e.kind = EntryKind::Provisioning;
            e.opcode = "PB-ADV".into();
        }
        Decoded::Error { error, .. } => {
            if matches!(e.kind, EntryKind::Undecryptable(_)) {
                e.kind = EntryKind::Undecryptable(error);
            }
        }
    }
    out
}

/// An entry nothing decoded shows why.
pub(crate) fn finish_entry(e: &mut TrafficEntry, stats: &mut Stats) {
    if let EntryKind::Undecryptable(reason) = &e.kind {
        stats.undecryptable += 1;
        e.opcode = "cannot decrypt".into();
        e.summary = reason.clone();
    }
}

/// The period of the Heartbeats `C hb ADDR` asks a node for, in seconds.
pub const HEARTBEAT_PERIOD_S: u32 = 16;

impl ConfigOp {
    /// The Config message of an operation on the node itself (not on a model).
    pub fn node_message(self) -> Option<weft_mesh::ble::foundation::config::ConfigMessage> {
        use weft_mesh::ble::foundation::config::{ConfigMessage, HeartbeatPublication};
        use weft_mesh::ble::models::KeyIndex;
        match self {
            ConfigOp::Heartbeat(to) => Some(ConfigMessage::HeartbeatPublicationSet(
                HeartbeatPublication::every(
                    Address(to.unwrap_or(0)),
                    to.map_or(0, |_| HEARTBEAT_PERIOD_S),
                    0x7F,
                    KeyIndex::from_bits(0),
                ),
            )),
            _ => None,
        }
    }
}

/// The Config message that carries `op` for `model` on `element`, with application key 0
/// (MshPRT §4.3.2: Model App Bind, Model Subscription Add, Model Publication Set with the
/// Default TTL, no period, no retransmissions).
pub fn config_message(
    op: ConfigOp,
    element: Address,
    model: weft_mesh::ble::node::ModelId,
) -> weft_mesh::ble::foundation::config::ConfigMessage {
    use weft_mesh::ble::foundation::config::{
        ConfigMessage, Publication, PublishPeriod, Retransmit,
    };
    use weft_mesh::ble::models::KeyIndex;
    match op {
        ConfigOp::Bind => ConfigMessage::ModelAppBind {
            element,
            app_key_index: KeyIndex::from_bits(0),
            model,
        },
        ConfigOp::Subscribe(g) => ConfigMessage::ModelSubscriptionAdd {
            element,
            address: Address(g),
            model,
        },
        ConfigOp::Publish(to) => ConfigMessage::ModelPublicationSet {
            element,
            address: Address(to),
            publication: Publication {
                app_key_index: KeyIndex::from_bits(0),
                credential_flag: false,
                ttl: Publication::TTL_USE_DEFAULT,
                period: PublishPeriod::from_byte(0),
                retransmit: Retransmit::default(),
            },
            model,
        },
        ConfigOp::Heartbeat(_) => op
            .node_message()
            .unwrap_or(ConfigMessage::HeartbeatPublicationGet),
    }
}

/// A node's configuration from its own state (no name, no faults: the caller knows those).
pub fn detail_of<R: rand_chacha::rand_core::RngCore>(
    node: &weft_mesh::ble::node::Node<R>,
) -> NodeDetail {
    let st = node.state();
    let hb = |dst: Address, period_log: u8| {
        if period_log == 0 {
            format!("to {dst} (off)")
        } else {
            format!("to {dst} every {} s", 1u64 << (period_log.min(17) - 1))
        }
    };
    NodeDetail {
        address: st.primary.get(),
        name: String::new(),
        uuid: st.uuid,
        cid: Some(st.cid),
        pid: Some(st.pid),
        vid: Some(st.vid),
        crpl: Some(st.crpl),
        features: weft_mesh::topology::Roles::from_features(node.features()).letters(),
        default_ttl: Some(st.default_ttl),
        net_keys: st.net_keys.iter().map(|k| k.index).collect(),
        app_keys: st.app_keys.iter().map(|k| k.index).collect(),
        elements: st
            .elements
            .iter()
            .map(|e| {
                (
                    e.location,
                    e.models
                        .iter()
                        .map(|m| ModelDetail {
                            name: model_name(m.id),
                            bound: m.app_keys.clone(),
                            publication: m.publication.as_ref().map(|p| {
                                format!(
                                    "to {} app key {}",
                                    p.address,
                                    u16::from(p.params.app_key_index)
                                )
                            }),
                            subscriptions: m.subscriptions.iter().map(|a| a.0).collect(),
                        })
                        .collect(),
                )
            })
            .collect(),
        heartbeat_pub: st
            .heartbeat_publication
            .as_ref()
            .map(|p| hb(p.dst, p.period_log)),
        heartbeat_sub: node
            .heartbeat_subscription()
            .as_ref()
            .map(heartbeat_sub_text),
        onoff: node.onoff(0),
        level: node.level(0),
        faults: None,
        seq: Some(node.next_seq()),
        iv_index: st.iv_index.0,
    }
}

/// A node's Heartbeat Subscription with what it counted (MshPRT §4.2.18), e.g. "from 0001 to
/// c000, 5 received, 1..3 hops, 12 s left".
pub(super) fn heartbeat_sub_text(
    r: &weft_mesh::ble::foundation::config::server::HeartbeatSubscriptionReport,
) -> String {
    let mut s = format!("from {} to {}", r.source, r.destination);
    match r.count {
        0 => s.push_str(", none received"),
        // The Heartbeat Subscription Count stops at 0xFFFF (§4.2.18.3).
        0xFFFF => s.push_str(", 65535+ received"),
        n => s.push_str(&format!(", {n} received")),
    }
    if r.count > 0 {
        match (r.min_hops, r.max_hops) {
            (1, 1) => s.push_str(", 1 hop"),
            (a, b) if a == b => s.push_str(&format!(", {a} hops")),
            (a, b) => s.push_str(&format!(", {a}..{b} hops")),
        }
    }
    if r.remaining > 0 {
        s.push_str(&format!(", {} s left", r.remaining));
    } else {
        s.push_str(", ended");
    }
    s
}
