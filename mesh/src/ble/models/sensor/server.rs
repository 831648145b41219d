//! The Sensor Server (Mesh Model 1.1 §4.3.1) as a [`Node`] hosts it: Sensor Get and Sensor
//! Descriptor Get answered from the values the application sets
//! ([`Node::set_sensor_values`]), and Sensor Status for periodic publication.

use std::collections::HashMap;

use rand_core::RngCore;

use crate::ble::node::Node;

use super::{DescriptorStatus, SensorData, SensorDescriptor, SensorMessage, SensorValue};

/// The run-time state of the Sensor Servers of one node (not persisted).
#[derive(Debug, Default, Clone)]
pub(crate) struct SensorServerStates {
    /// Sensor values per element.
    sensors: HashMap<usize, Vec<SensorValue>>,
}

impl<R: RngCore> Node<R> {
    /// Sets the values a Sensor Server on `element` reports.
    pub fn set_sensor_values(&mut self, element: usize, values: Vec<SensorValue>) {
        self.servers_mut().sensor.sensors.insert(element, values);
    }

    /// Sensor Status (MshMDL §4.2.14) of the values of `element`: all, or one property.
    pub(crate) fn sensor_status(&self, element: usize, property: Option<u16>) -> SensorMessage {
        let values = self
            .servers()
            .sensor
            .sensors
            .get(&element)
            .cloned()
            .unwrap_or_default();
        let data: Vec<SensorData> = values
            .iter()
            .filter(|v| property.is_none_or(|p| v.property_id() == p))
            .map(|v| v.to_sensor_data())
            .collect();
        match (property, data.is_empty()) {
            // A property this server doesn't have: its ID with a zero-length value
            // (MshMDL §4.3.1.2.3).
            (Some(p), true) => SensorMessage::Status(vec![SensorData {
                property_id: p,
                raw: Vec::new(),
            }]),
            _ => SensorMessage::Status(data),
        }
    }

    /// The Sensor Server's answer to `m` (MshMDL §4.3.1), if it answers.
    pub(crate) fn sensor_rx(&mut self, element: usize, m: SensorMessage) -> Option<SensorMessage> {
        match m {
            SensorMessage::Get { property_id } => Some(self.sensor_status(element, property_id)),
            SensorMessage::DescriptorGet { property_id } => {
                let values = self
                    .servers()
                    .sensor
                    .sensors
                    .get(&element)
                    .cloned()
                    .unwrap_or_default();
                let descriptors: Vec<SensorDescriptor> = values
                    .iter()
                    .filter(|v| property_id.is_none_or(|p| v.property_id() == p))
                    .map(|v| SensorDescriptor {
                        property_id: v.property_id(),
                        positive_tolerance: 0,
                        negative_tolerance: 0,
                        sampling_function: 0,
                        measurement_period: 0,
                        update_interval: 0,
                    })
                    .collect();
                Some(SensorMessage::DescriptorStatus(
                    match (property_id, descriptors.is_empty()) {
                        (Some(p), true) => DescriptorStatus::NotFound(p),
                        _ => DescriptorStatus::Descriptors(descriptors),
                    },
                ))
            }
            _ => None,
        }
    }
}
