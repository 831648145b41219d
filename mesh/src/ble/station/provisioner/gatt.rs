//! The provisioner node's PB-GATT connections (MshPRT §5.2.2): the device's address, given or
//! learnt from its Unprovisioned Device beacon (§3.10.2), a connection asked of the runtime to
//! its Mesh Provisioning Service, and the provisioning started once connected.

use rand_core::RngCore;

use super::{ProvisionFailure, ProvisionRefused, ProvisionerNode, ProvisionerNodeEvent};
use crate::ble::wire::adv::{AdStructures, MeshAd};
use crate::ble::wire::beacon::Beacon;
use crate::ble::wire::Wire;
use crate::ble::UnicastAddress;
use crate::frame::{GattRole, GattService, LinkEvent, LinkRequest, RxFrame};
use crate::time::Instant;

/// A PB-GATT provisioning waiting for its connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct GattPending {
    /// `None` until the device's Unprovisioned Device beacon is heard with its address.
    pub(super) peer: Option<[u8; 6]>,
    pub(super) uuid: [u8; 16],
    pub(super) wanted: Option<UnicastAddress>,
    pub(super) asked: bool,
}

impl<R: RngCore> ProvisionerNode<R> {
    /// [`ProvisionerNode::provision_gatt`] with the connection asked of the runtime: a
    /// [`LinkRequest::Connect`] to the Mesh Provisioning Service of the device advertising
    /// with address `peer` (`None`: learnt from its beacon, as
    /// [`ProvisionerNode::provision_gatt_heard`]); provisioning starts once connected, and a connection that cannot
    /// be made ends it with [`ProvisionFailure::ConnectFailed`].
    pub fn provision_gatt_to(
        &mut self,
        uuid: [u8; 16],
        peer: Option<[u8; 6]>,
        wanted: Option<UnicastAddress>,
    ) -> Result<(), ProvisionRefused> {
        if self.cdb.node_by_uuid(&uuid).is_some() {
            return Err(ProvisionRefused::AlreadyNode);
        }
        if self.connecting.iter().any(|p| p.uuid == uuid) || self.prov.session(uuid).is_some() {
            return Err(ProvisionRefused::AlreadyProvisioning);
        }
        self.connecting.push(GattPending {
            peer,
            uuid,
            wanted,
            asked: false,
        });
        Ok(())
    }

    /// [`ProvisionerNode::provision_gatt_to`] the device `uuid` at the address it advertises
    /// from, learnt from its next Unprovisioned Device beacon heard (MshPRT §3.10.2; the
    /// runtime's radio reports the advertiser address, as a scanner sees AdvA).
    pub fn provision_gatt_heard(
        &mut self,
        uuid: [u8; 16],
        wanted: Option<UnicastAddress>,
    ) -> Result<(), ProvisionRefused> {
        self.provision_gatt_to(uuid, None, wanted)
    }

    /// A device waited for over PB-GATT beaconed in `frame` (Unprovisioned Device beacon,
    /// §3.10.2) or advertised its Mesh Provisioning Service with its UUID (§7.1.2.2.1): its
    /// address is known now.
    pub(super) fn learn_gatt_peer(&mut self, frame: &RxFrame) {
        let Some(addr) = frame.adv_address else {
            return;
        };
        if !self.connecting.iter().any(|p| p.peer.is_none()) {
            return;
        }
        for ad in AdStructures::new(&frame.bytes).flatten() {
            let uuid = match ad.classify() {
                Ok(MeshAd::Beacon(data)) => match Beacon::parse(data) {
                    Ok(Beacon::UnprovisionedDevice(b)) => b.device_uuid,
                    _ => continue,
                },
                Ok(MeshAd::ProvisioningService(d)) => d.device_uuid,
                _ => continue,
            };
            for p in &mut self.connecting {
                if p.peer.is_none() && p.uuid == uuid {
                    p.peer = Some(addr);
                }
            }
        }
    }

    /// A connection event for the provisioner's half: PB-GATT links it asked for.
    pub(super) fn gatt_link(&mut self, now: Instant, event: &LinkEvent) -> bool {
        match *event {
            LinkEvent::Connected {
                conn,
                mtu,
                peer,
                service: GattService::Provisioning,
                role: GattRole::Central,
            } => {
                let Some(i) = self.connecting.iter().position(|p| p.peer == Some(peer)) else {
                    self.requests.push_back(LinkRequest::Disconnect { conn });
                    return true;
                };
                let p = self.connecting.remove(i);
                if let Err(e) = self.provision_gatt(now, p.uuid, conn, mtu, p.wanted) {
                    self.requests.push_back(LinkRequest::Disconnect { conn });
                    let reason = match e {
                        ProvisionRefused::Address(why) => ProvisionFailure::NoAddress(why),
                        _ => ProvisionFailure::ConnectFailed,
                    };
                    self.events.push_back(ProvisionerNodeEvent::Failed {
                        device_uuid: p.uuid,
                        reason,
                    });
                }
                true
            }
            LinkEvent::ConnectFailed {
                peer,
                service: GattService::Provisioning,
            } => {
                if let Some(i) = self.connecting.iter().position(|p| p.peer == Some(peer)) {
                    let p = self.connecting.remove(i);
                    self.events.push_back(ProvisionerNodeEvent::Failed {
                        device_uuid: p.uuid,
                        reason: ProvisionFailure::ConnectFailed,
                    });
                }
                true
            }
            _ => false,
        }
    }
}
