//! The Health Server (Mesh Protocol 1.1 §4.4.3) as a [`Node`] hosts it on its primary element:
//! registered faults, the fast period divisor and the Attention Timer; the node publishes its
//! Current Status periodically.

use rand_core::RngCore;

use crate::ble::node::{Event, Node, StateChange};

use super::{FaultReport, HealthMessage};

/// The company ID the Health Server reports its faults under (Bluetooth SIG: 0x05F1, Linux
/// Foundation).
pub const HEALTH_COMPANY_ID: u16 = 0x05F1;

/// The run-time state of the Health Server of one node (not persisted).
#[derive(Debug, Default, Clone)]
pub(crate) struct HealthServerState {
    /// Current faults of the Health Server (primary element).
    pub(crate) faults: Vec<u8>,
    /// Registered faults.
    registered: Vec<u8>,
    attention: u8,
    fast_period_divisor: u8,
}

impl<R: RngCore> Node<R> {
    /// The Health Server's answer to `m` (MshPRT §4.4.3), if it answers.
    pub(crate) fn health_rx(&mut self, m: HealthMessage) -> Option<HealthMessage> {
        use HealthMessage as H;
        let report = |faults: &[u8]| FaultReport {
            test_id: 0,
            company_id: HEALTH_COMPANY_ID,
            faults: faults.to_vec(),
        };
        match m {
            H::FaultGet { company_id } => (company_id == HEALTH_COMPANY_ID)
                .then(|| H::FaultStatus(report(&self.servers().health.registered))),
            H::FaultClear { company_id } | H::FaultClearUnacknowledged { company_id } => {
                if company_id != HEALTH_COMPANY_ID {
                    return None;
                }
                self.servers_mut().health.registered.clear();
                matches!(m, H::FaultClear { .. }).then(|| H::FaultStatus(report(&[])))
            }
            // Test 0x00 is the standard test; it finds nothing wrong with a simulated node.
            H::FaultTest {
                company_id,
                test_id,
            } => (company_id == HEALTH_COMPANY_ID && test_id == 0)
                .then(|| H::FaultStatus(report(&self.servers().health.registered))),
            H::FaultTestUnacknowledged { .. } => None,
            H::PeriodGet => Some(H::PeriodStatus {
                fast_period_divisor: self.servers().health.fast_period_divisor,
            }),
            H::PeriodSet {
                fast_period_divisor,
            }
            | H::PeriodSetUnacknowledged {
                fast_period_divisor,
            } => {
                self.servers_mut().health.fast_period_divisor = fast_period_divisor;
                matches!(m, H::PeriodSet { .. }).then_some(H::PeriodStatus {
                    fast_period_divisor,
                })
            }
            H::AttentionGet => Some(H::AttentionStatus {
                attention: self.servers().health.attention,
            }),
            H::AttentionSet { attention } | H::AttentionSetUnacknowledged { attention } => {
                self.servers_mut().health.attention = attention;
                self.push_event(Event::State {
                    element: 0,
                    change: StateChange::Attention(attention),
                });
                matches!(m, H::AttentionSet { .. }).then_some(H::AttentionStatus { attention })
            }
            _ => None,
        }
    }
}
