//! Which GATT service and characteristics carry Mesh: the Mesh Proxy Service and the Mesh
//! Provisioning Service (MshPRT v1.1 §7.1, §7.2), as pure functions over what service discovery
//! found.
//!
//! - Mesh Provisioning Service 0x1827 (§7.1): Mesh Provisioning Data In 0x2ADB (written by the
//!   client with Write Without Response), Mesh Provisioning Data Out 0x2ADC (notified).
//! - Mesh Proxy Service 0x1828 (§7.2): Mesh Proxy Data In 0x2ADD (Write Without Response),
//!   Mesh Proxy Data Out 0x2ADE (notified).
//!
//! UUIDs from Assigned Numbers §3.4 (services) and §3.8 (characteristics), on the Bluetooth
//! Base UUID (Core v5.4 Vol 3 Part B §2.5.1).

use uuid::Uuid;

/// The Bluetooth Base UUID (Core v5.4 Vol 3 Part B §2.5.1): `0000xxxx-0000-1000-8000-00805F9B34FB`.
pub const fn uuid16(short: u16) -> Uuid {
    Uuid::from_u128(((short as u128) << 96) | 0x0000_0000_0000_1000_8000_0080_5f9b_34fb)
}

/// Mesh Provisioning Service (Assigned Numbers §3.4).
pub const MESH_PROVISIONING_SERVICE: u16 = 0x1827;
/// Mesh Proxy Service (Assigned Numbers §3.4).
pub const MESH_PROXY_SERVICE: u16 = 0x1828;
/// Mesh Provisioning Data In (Assigned Numbers §3.8).
pub const MESH_PROVISIONING_DATA_IN: u16 = 0x2ADB;
/// Mesh Provisioning Data Out (Assigned Numbers §3.8).
pub const MESH_PROVISIONING_DATA_OUT: u16 = 0x2ADC;
/// Mesh Proxy Data In (Assigned Numbers §3.8).
pub const MESH_PROXY_DATA_IN: u16 = 0x2ADD;
/// Mesh Proxy Data Out (Assigned Numbers §3.8).
pub const MESH_PROXY_DATA_OUT: u16 = 0x2ADE;

/// The two Mesh GATT services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MeshService {
    /// Mesh Proxy Service (§7.2): Proxy PDUs of a provisioned node.
    Proxy,
    /// Mesh Provisioning Service (§7.1): PB-GATT to an unprovisioned device.
    Provisioning,
}

impl MeshService {
    /// The service's UUID.
    pub const fn uuid(self) -> Uuid {
        uuid16(match self {
            MeshService::Proxy => MESH_PROXY_SERVICE,
            MeshService::Provisioning => MESH_PROVISIONING_SERVICE,
        })
    }

    /// Data In: the characteristic the client writes (Write Without Response).
    pub const fn data_in(self) -> Uuid {
        uuid16(match self {
            MeshService::Proxy => MESH_PROXY_DATA_IN,
            MeshService::Provisioning => MESH_PROVISIONING_DATA_IN,
        })
    }

    /// Data Out: the characteristic the server notifies.
    pub const fn data_out(self) -> Uuid {
        uuid16(match self {
            MeshService::Proxy => MESH_PROXY_DATA_OUT,
            MeshService::Provisioning => MESH_PROVISIONING_DATA_OUT,
        })
    }

    /// The service whose UUID is `uuid`, if a Mesh one.
    pub fn from_uuid(uuid: Uuid) -> Option<MeshService> {
        [MeshService::Proxy, MeshService::Provisioning]
            .into_iter()
            .find(|s| s.uuid() == uuid)
    }
}

impl std::fmt::Display for MeshService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MeshService::Proxy => "the Mesh Proxy Service (0x1828)",
            MeshService::Provisioning => "the Mesh Provisioning Service (0x1827)",
        })
    }
}

/// One characteristic service discovery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The service it belongs to.
    pub service: Uuid,
    /// The characteristic.
    pub uuid: Uuid,
    /// It takes Write Without Response.
    pub write_without_response: bool,
    /// It notifies.
    pub notify: bool,
}

/// Why a peripheral's GATT database cannot carry `service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// The service is not there.
    NoService,
    /// The characteristic (its UUID) is not in the service.
    Missing(Uuid),
    /// Data In does not take Write Without Response, or Data Out does not notify (§7.1.2,
    /// §7.2.2 make both mandatory).
    WrongProperties(Uuid),
}

/// Data In and Data Out of `service` among `found`, checked for the properties §7.1/§7.2 give
/// them.
pub fn choose(service: MeshService, found: &[Found]) -> Result<(Found, Found), Unusable> {
    let ours: Vec<&Found> = found
        .iter()
        .filter(|c| c.service == service.uuid())
        .collect();
    if ours.is_empty() {
        return Err(Unusable::NoService);
    }
    let find = |uuid: Uuid| {
        ours.iter()
            .find(|c| c.uuid == uuid)
            .copied()
            .copied()
            .ok_or(Unusable::Missing(uuid))
    };
    let data_in = find(service.data_in())?;
    let data_out = find(service.data_out())?;
    if !data_in.write_without_response {
        return Err(Unusable::WrongProperties(data_in.uuid));
    }
    if !data_out.notify {
        return Err(Unusable::WrongProperties(data_out.uuid));
    }
    Ok((data_in, data_out))
}
