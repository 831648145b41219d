//! [`GattLink`]: one GATT connection to a Mesh node's Proxy or Provisioning Service, through
//! btleplug (which on Linux asks bluetoothd over D-Bus). It moves ATT values: `send` writes one
//! to Data In (Write Without Response), `recv` takes the next notification of Data Out, `mtu`
//! says how long they may be, `disconnected` says when and why the link went down. Proxy SAR
//! and PB-GATT are the core's (`weft_mesh::ble::proxy`); this only moves their values.
//!
//! The link stands apart from the `Radio` seam on purpose: how GATT connections travel through
//! it (`Bearer::Gatt(ConnId)` frames and connection events) is being designed elsewhere, and
//! this API is what that adapter will drive.

use std::time::Duration;

use btleplug::api::{
    BDAddr, Central, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter,
    WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use weft_mesh::ble::wire::proxy::MessageType;

use super::error::{fault_of, link_error, LinkFault};
use super::service::{choose, Found, MeshService, Unusable};
use super::values::{max_value, values};
use crate::RadioError;

/// How a [`GattLink`] connects and queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GattConfig {
    /// How long to scan for the peripheral before giving up.
    pub scan_timeout: Duration,
    /// How long connecting and service discovery may take.
    pub connect_timeout: Duration,
    /// Notifications received and not yet taken by `recv`; more are dropped and counted.
    pub rx_queue: usize,
}

impl Default for GattConfig {
    fn default() -> Self {
        GattConfig {
            scan_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(15),
            rx_queue: 64,
        }
    }
}

/// weft's address (least significant octet first) as btleplug's (as written, most significant
/// first).
pub fn bdaddr(address: [u8; 6]) -> BDAddr {
    let mut a = address;
    a.reverse();
    BDAddr::from(a)
}

/// One GATT link to a Mesh service (see the module documentation).
#[derive(Debug)]
pub struct GattLink {
    name: String,
    peripheral: Peripheral,
    data_in: Characteristic,
    mtu: u16,
    values: mpsc::Receiver<Vec<u8>>,
    down: watch::Receiver<Option<String>>,
    task: JoinHandle<()>,
}

impl Drop for GattLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GattLink {
    /// Finds the peripheral at `address` advertising `service`, connects, discovers Data In
    /// and Data Out, and subscribes to Data Out. Each failure is one sentence starting with
    /// `gatt:ADDRESS` that says what to do.
    pub async fn open(
        address: [u8; 6],
        service: MeshService,
        config: GattConfig,
    ) -> Result<GattLink, RadioError> {
        let addr = bdaddr(address);
        let name = format!("gatt:{addr}");
        let err = |f: LinkFault| link_error(&name, &f);
        let central = adapter(&name).await?;
        let peripheral = find(&central, addr, service, config.scan_timeout)
            .await
            .map_err(err)?;
        // A link that fails after connecting is disconnected, or bluetoothd keeps the
        // peripheral connected and the next attempt is refused ("Already Connected").
        let attached = async {
            tokio::time::timeout(config.connect_timeout, async {
                peripheral.connect().await?;
                peripheral.discover_services().await
            })
            .await
            .map_err(|_| {
                err(LinkFault::Connect(format!(
                    "timed out after {:?}",
                    config.connect_timeout
                )))
            })?
            .map_err(|e| err(fault_of(&e)))?;
            let chars: Vec<Characteristic> = peripheral.characteristics().into_iter().collect();
            let found: Vec<Found> = chars.iter().map(found).collect();
            let (data_in, data_out) = choose(service, &found).map_err(|u| {
                err(LinkFault::NoService(match u {
                    Unusable::NoService => format!("no {service}"),
                    Unusable::Missing(c) => format!("{service} lacks characteristic {c}"),
                    Unusable::WrongProperties(c) => {
                        format!("characteristic {c} lacks the properties §7 gives it")
                    }
                }))
            })?;
            let pick = |u| chars.iter().find(|c| c.uuid == u).cloned();
            let (Some(data_in), Some(data_out)) = (pick(data_in.uuid), pick(data_out.uuid)) else {
                return Err(err(LinkFault::NoService("characteristics vanished".into())));
            };
            peripheral
                .subscribe(&data_out)
                .await
                .map_err(|e| err(fault_of(&e)))?;
            let notifications = peripheral
                .notifications()
                .await
                .map_err(|e| err(fault_of(&e)))?;
            let events = central.events().await.map_err(|e| err(fault_of(&e)))?;
            Ok::<_, RadioError>((data_in, data_out, notifications, events))
        }
        .await;
        let (data_in, data_out, notifications, events) = match attached {
            Ok(a) => a,
            Err(e) => {
                let _ = peripheral.disconnect().await;
                return Err(e);
            }
        };
        let mtu = peripheral.mtu();
        tracing::info!(target: "weft::gatt", "{name}: connected to {service}, ATT MTU {mtu}");
        let (values_tx, values) = mpsc::channel(config.rx_queue.max(1));
        let (down_tx, down) = watch::channel(None);
        let id = peripheral.id();
        let out_uuid = data_out.uuid;
        let task_name = name.clone();
        let task = tokio::spawn(async move {
            let mut notifications = notifications;
            let mut events = events;
            let why = loop {
                tokio::select! {
                    n = notifications.next() => match n {
                        Some(n) if n.uuid == out_uuid => {
                            if values_tx.try_send(n.value).is_err() {
                                tracing::debug!(target: "weft::gatt", "{task_name}: a notification is dropped (queue full)");
                            }
                        }
                        Some(_) => {}
                        None => break "the notifications ended".to_string(),
                    },
                    ev = events.next() => match ev {
                        Some(CentralEvent::DeviceDisconnected(d)) if d == id => {
                            break "the peripheral disconnected".to_string();
                        }
                        Some(_) => {}
                        None => break "bluetoothd's events ended".to_string(),
                    },
                }
            };
            tracing::info!(target: "weft::gatt", "{task_name}: {why}");
            let _ = down_tx.send(Some(why));
        });
        Ok(GattLink {
            name,
            peripheral,
            data_in,
            mtu,
            values,
            down,
            task,
        })
    }

    /// The ATT MTU of the link.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// The longest ATT value the link carries (ATT_MTU - 3).
    pub fn max_value(&self) -> usize {
        max_value(self.mtu)
    }

    /// Writes one ATT value (one Proxy PDU) to Data In, Write Without Response.
    pub async fn send(&self, value: &[u8]) -> Result<(), RadioError> {
        if value.len() > self.max_value() {
            return Err(link_error(
                &self.name,
                &LinkFault::TooLong {
                    len: value.len(),
                    max: self.max_value(),
                },
            ));
        }
        if let Some(why) = self.down.borrow().clone() {
            return Err(link_error(&self.name, &LinkFault::Other(why)));
        }
        self.peripheral
            .write(&self.data_in, value, WriteType::WithoutResponse)
            .await
            .map_err(|e| link_error(&self.name, &fault_of(&e)))
    }

    /// Writes a whole message, segmented to the link's MTU (§6.3.2).
    pub async fn send_message(
        &self,
        message_type: MessageType,
        payload: &[u8],
    ) -> Result<(), RadioError> {
        for v in values(message_type, payload, self.mtu) {
            self.send(&v).await?;
        }
        Ok(())
    }

    /// The next notification of Data Out (one Proxy PDU). Cancel-safe. After the link goes
    /// down, the values already received, then the reason.
    pub async fn recv(&mut self) -> Result<Vec<u8>, RadioError> {
        match self.values.recv().await {
            Some(v) => Ok(v),
            None => {
                let why = self.down.borrow().clone().unwrap_or_default();
                Err(link_error(
                    &self.name,
                    &LinkFault::Other(format!("the link is down: {why}")),
                ))
            }
        }
    }

    /// Watches the link: `Some(why)` once it went down.
    pub fn disconnected(&self) -> watch::Receiver<Option<String>> {
        self.down.clone()
    }

    /// Disconnects.
    pub async fn close(self) {
        let _ = self.peripheral.disconnect().await;
    }
}

/// bluetoothd's first adapter, or why there is none (the error of the link `name`).
pub(super) async fn adapter(name: &str) -> Result<Adapter, RadioError> {
    let err = |f: LinkFault| link_error(name, &f);
    let manager = Manager::new()
        .await
        .map_err(|e| err(LinkFault::NoAdapter(e.to_string())))?;
    manager
        .adapters()
        .await
        .map_err(|e| err(LinkFault::NoAdapter(e.to_string())))?
        .into_iter()
        .next()
        .ok_or_else(|| err(LinkFault::NoAdapter("none".into())))
}

fn found(c: &Characteristic) -> Found {
    use btleplug::api::CharPropFlags as P;
    Found {
        service: c.service_uuid,
        uuid: c.uuid,
        write_without_response: c.properties.contains(P::WRITE_WITHOUT_RESPONSE),
        notify: c.properties.contains(P::NOTIFY),
    }
}

/// Scans for `addr` advertising `service` until `within` passes.
async fn find(
    central: &Adapter,
    addr: BDAddr,
    service: MeshService,
    within: Duration,
) -> Result<Peripheral, LinkFault> {
    let mut events = central.events().await.map_err(|e| fault_of(&e))?;
    central
        .start_scan(ScanFilter {
            services: vec![service.uuid()],
        })
        .await
        .map_err(|e| fault_of(&e))?;
    let result = tokio::time::timeout(within, async {
        loop {
            for p in central.peripherals().await.map_err(|e| fault_of(&e))? {
                if p.address() == addr {
                    return Ok(p);
                }
            }
            match events.next().await {
                Some(_) => continue,
                None => return Err(LinkFault::Other("bluetoothd's events ended".into())),
            }
        }
    })
    .await
    .unwrap_or(Err(LinkFault::NotSeen(within)));
    let _ = central.stop_scan().await;
    result
}
