//! Health messages (Mesh Protocol 1.1 §4.3.3) exchanged by the Health Server and Client:
//! faults, the fast period divisor and the attention timer.
//!
//! Subsection numbers (§4.3.3.x) follow the order of the Health messages in the specification
//! (Fault Get is §4.3.3.1, Attention Status §4.3.3.15).

use crate::ble::wire::access::{AccessMessage, Opcode};
use crate::ble::wire::Result;

use crate::ble::models::{invalid, put_u16, unknown_opcode, Reader};

/// Health Current Status (§4.3.3.6).
pub const CURRENT_STATUS: Opcode = Opcode::One(0x04);
/// Health Fault Status (§4.3.3.7).
pub const FAULT_STATUS: Opcode = Opcode::One(0x05);
/// Health Attention Get (§4.3.3.12).
pub const ATTENTION_GET: Opcode = Opcode::Two(0x8004);
/// Health Attention Set (§4.3.3.13).
pub const ATTENTION_SET: Opcode = Opcode::Two(0x8005);
/// Health Attention Set Unacknowledged (§4.3.3.14).
pub const ATTENTION_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x8006);
/// Health Attention Status (§4.3.3.15).
pub const ATTENTION_STATUS: Opcode = Opcode::Two(0x8007);
/// Health Fault Clear (§4.3.3.2).
pub const FAULT_CLEAR: Opcode = Opcode::Two(0x802F);
/// Health Fault Clear Unacknowledged (§4.3.3.3).
pub const FAULT_CLEAR_UNACKNOWLEDGED: Opcode = Opcode::Two(0x8030);
/// Health Fault Get (§4.3.3.1).
pub const FAULT_GET: Opcode = Opcode::Two(0x8031);
/// Health Fault Test (§4.3.3.4).
pub const FAULT_TEST: Opcode = Opcode::Two(0x8032);
/// Health Fault Test Unacknowledged (§4.3.3.5).
pub const FAULT_TEST_UNACKNOWLEDGED: Opcode = Opcode::Two(0x8033);
/// Health Period Get (§4.3.3.8).
pub const PERIOD_GET: Opcode = Opcode::Two(0x8034);
/// Health Period Set (§4.3.3.9).
pub const PERIOD_SET: Opcode = Opcode::Two(0x8035);
/// Health Period Set Unacknowledged (§4.3.3.10).
pub const PERIOD_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x8036);
/// Health Period Status (§4.3.3.11).
pub const PERIOD_STATUS: Opcode = Opcode::Two(0x8037);

/// The largest Fast Period Divisor (MshPRT §4.2.16: 0x00..=0x0F; the rest prohibited).
pub const MAX_FAST_PERIOD_DIVISOR: u8 = 0x0F;

/// The fault report of Health Current Status and Health Fault Status (§4.3.3.6, §4.3.3.7):
/// `Test ID (1) || Company ID (2) || Fault Array (N)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FaultReport {
    /// The identifier of the most recently performed test.
    pub test_id: u8,
    /// The company identifier the fault codes belong to.
    pub company_id: u16,
    /// The fault codes (MshPRT §4.2.15.1 "Fault values"), one octet each.
    pub faults: Vec<u8>,
}

/// A Health message (MshPRT §4.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthMessage {
    /// §4.3.3.1
    FaultGet {
        /// The company whose Registered Fault state is requested.
        company_id: u16,
    },
    /// §4.3.3.2
    FaultClear {
        /// The company whose Registered Fault state is cleared.
        company_id: u16,
    },
    /// §4.3.3.3
    FaultClearUnacknowledged {
        /// The company whose Registered Fault state is cleared.
        company_id: u16,
    },
    /// §4.3.3.4
    FaultTest {
        /// The test to run.
        test_id: u8,
        /// The company whose test it is.
        company_id: u16,
    },
    /// §4.3.3.5
    FaultTestUnacknowledged {
        /// The test to run.
        test_id: u8,
        /// The company whose test it is.
        company_id: u16,
    },
    /// §4.3.3.6: the Current Fault state.
    CurrentStatus(FaultReport),
    /// §4.3.3.7: the Registered Fault state.
    FaultStatus(FaultReport),
    /// §4.3.3.8: no parameters.
    PeriodGet,
    /// §4.3.3.9
    PeriodSet {
        /// Fast Period Divisor, 0x00..=0x0F.
        fast_period_divisor: u8,
    },
    /// §4.3.3.10
    PeriodSetUnacknowledged {
        /// Fast Period Divisor, 0x00..=0x0F.
        fast_period_divisor: u8,
    },
    /// §4.3.3.11
    PeriodStatus {
        /// Fast Period Divisor, 0x00..=0x0F.
        fast_period_divisor: u8,
    },
    /// §4.3.3.12: no parameters.
    AttentionGet,
    /// §4.3.3.13
    AttentionSet {
        /// Attention Timer in seconds (0: off).
        attention: u8,
    },
    /// §4.3.3.14
    AttentionSetUnacknowledged {
        /// Attention Timer in seconds (0: off).
        attention: u8,
    },
    /// §4.3.3.15
    AttentionStatus {
        /// Attention Timer in seconds (0: off).
        attention: u8,
    },
}

fn divisor(v: u8) -> Result<u8> {
    if v > MAX_FAST_PERIOD_DIVISOR {
        Err(invalid("Fast Period Divisor", v))
    } else {
        Ok(v)
    }
}

impl HealthMessage {
    /// Parses the parameters of the Health message `opcode`.
    pub fn parse(opcode: Opcode, params: &[u8]) -> Result<Self> {
        use HealthMessage as M;
        let mut rd = Reader::new(params);
        let r = &mut rd;
        let m = match opcode {
            FAULT_GET => M::FaultGet {
                company_id: r.u16()?,
            },
            FAULT_CLEAR => M::FaultClear {
                company_id: r.u16()?,
            },
            FAULT_CLEAR_UNACKNOWLEDGED => M::FaultClearUnacknowledged {
                company_id: r.u16()?,
            },
            FAULT_TEST => M::FaultTest {
                test_id: r.u8()?,
                company_id: r.u16()?,
            },
            FAULT_TEST_UNACKNOWLEDGED => M::FaultTestUnacknowledged {
                test_id: r.u8()?,
                company_id: r.u16()?,
            },
            CURRENT_STATUS | FAULT_STATUS => {
                let report = FaultReport {
                    test_id: r.u8()?,
                    company_id: r.u16()?,
                    faults: r.rest().to_vec(),
                };
                if opcode == CURRENT_STATUS {
                    M::CurrentStatus(report)
                } else {
                    M::FaultStatus(report)
                }
            }
            PERIOD_GET => M::PeriodGet,
            PERIOD_SET => M::PeriodSet {
                fast_period_divisor: divisor(r.u8()?)?,
            },
            PERIOD_SET_UNACKNOWLEDGED => M::PeriodSetUnacknowledged {
                fast_period_divisor: divisor(r.u8()?)?,
            },
            PERIOD_STATUS => M::PeriodStatus {
                fast_period_divisor: divisor(r.u8()?)?,
            },
            ATTENTION_GET => M::AttentionGet,
            ATTENTION_SET => M::AttentionSet { attention: r.u8()? },
            ATTENTION_SET_UNACKNOWLEDGED => M::AttentionSetUnacknowledged { attention: r.u8()? },
            ATTENTION_STATUS => M::AttentionStatus { attention: r.u8()? },
            _ => return Err(unknown_opcode(opcode)),
        };
        rd.end()?;
        Ok(m)
    }

    /// Parses an access message.
    pub fn from_access(m: &AccessMessage) -> Result<Self> {
        Self::parse(m.opcode, &m.parameters)
    }

    /// The opcode of the message (MshPRT §4.3.4).
    pub fn opcode(&self) -> Opcode {
        use HealthMessage as M;
        match self {
            M::FaultGet { .. } => FAULT_GET,
            M::FaultClear { .. } => FAULT_CLEAR,
            M::FaultClearUnacknowledged { .. } => FAULT_CLEAR_UNACKNOWLEDGED,
            M::FaultTest { .. } => FAULT_TEST,
            M::FaultTestUnacknowledged { .. } => FAULT_TEST_UNACKNOWLEDGED,
            M::CurrentStatus(_) => CURRENT_STATUS,
            M::FaultStatus(_) => FAULT_STATUS,
            M::PeriodGet => PERIOD_GET,
            M::PeriodSet { .. } => PERIOD_SET,
            M::PeriodSetUnacknowledged { .. } => PERIOD_SET_UNACKNOWLEDGED,
            M::PeriodStatus { .. } => PERIOD_STATUS,
            M::AttentionGet => ATTENTION_GET,
            M::AttentionSet { .. } => ATTENTION_SET,
            M::AttentionSetUnacknowledged { .. } => ATTENTION_SET_UNACKNOWLEDGED,
            M::AttentionStatus { .. } => ATTENTION_STATUS,
        }
    }

    /// The parameters on air.
    pub fn emit_params(&self) -> Vec<u8> {
        use HealthMessage as M;
        let mut out = Vec::new();
        match self {
            M::FaultGet { company_id }
            | M::FaultClear { company_id }
            | M::FaultClearUnacknowledged { company_id } => put_u16(&mut out, *company_id),
            M::FaultTest {
                test_id,
                company_id,
            }
            | M::FaultTestUnacknowledged {
                test_id,
                company_id,
            } => {
                out.push(*test_id);
                put_u16(&mut out, *company_id);
            }
            M::CurrentStatus(f) | M::FaultStatus(f) => {
                out.push(f.test_id);
                put_u16(&mut out, f.company_id);
                out.extend_from_slice(&f.faults);
            }
            M::PeriodGet | M::AttentionGet => {}
            M::PeriodSet {
                fast_period_divisor,
            }
            | M::PeriodSetUnacknowledged {
                fast_period_divisor,
            }
            | M::PeriodStatus {
                fast_period_divisor,
            } => out.push(*fast_period_divisor),
            M::AttentionSet { attention }
            | M::AttentionSetUnacknowledged { attention }
            | M::AttentionStatus { attention } => out.push(*attention),
        }
        out
    }

    /// The access message: opcode and parameters.
    pub fn to_access(&self) -> AccessMessage {
        AccessMessage::new(self.opcode(), self.emit_params())
    }

    /// A one-line human summary, e.g. `Health Current Status test 0 company 0000 faults [01 07]`.
    pub fn describe(&self) -> String {
        use HealthMessage as M;
        let name = self.opcode().name().unwrap_or("Health ?");
        let details = match self {
            M::FaultGet { company_id }
            | M::FaultClear { company_id }
            | M::FaultClearUnacknowledged { company_id } => format!("company {company_id:04x}"),
            M::FaultTest {
                test_id,
                company_id,
            }
            | M::FaultTestUnacknowledged {
                test_id,
                company_id,
            } => format!("test {test_id} company {company_id:04x}"),
            M::CurrentStatus(f) | M::FaultStatus(f) => format!(
                "test {} company {:04x} faults [{}]",
                f.test_id,
                f.company_id,
                f.faults
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            M::PeriodGet | M::AttentionGet => return name.to_string(),
            M::PeriodSet {
                fast_period_divisor,
            }
            | M::PeriodSetUnacknowledged {
                fast_period_divisor,
            }
            | M::PeriodStatus {
                fast_period_divisor,
            } => format!("divisor {fast_period_divisor}"),
            M::AttentionSet { attention }
            | M::AttentionSetUnacknowledged { attention }
            | M::AttentionStatus { attention } => format!("attention {attention}s"),
        };
        format!("{name} {details}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ble::wire::{Error, Wire};
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // MshPRT §8.3.18 (message #18) and §8.3.20 (message #20): Health Current Status.
    #[test]
    fn sample_current_status() {
        let m =
            HealthMessage::from_access(&AccessMessage::parse(&h("0400000000")).unwrap()).unwrap();
        assert_eq!(
            m,
            HealthMessage::CurrentStatus(FaultReport {
                test_id: 0,
                company_id: 0,
                faults: vec![0x00],
            })
        );
        let m = HealthMessage::from_access(&AccessMessage::parse(&h("04000000010703")).unwrap())
            .unwrap();
        assert_eq!(
            m,
            HealthMessage::CurrentStatus(FaultReport {
                test_id: 0,
                company_id: 0,
                faults: vec![0x01, 0x07, 0x03],
            })
        );
        assert_eq!(m.to_access().to_vec(), h("04000000010703"));
        assert_eq!(
            m.describe(),
            "Health Current Status test 0 company 0000 faults [01 07 03]"
        );
    }

    #[test]
    fn hand_computed() {
        // Fault Test: test 5 for company 0x0059.
        let m = HealthMessage::FaultTest {
            test_id: 5,
            company_id: 0x0059,
        };
        assert_eq!(m.emit_params(), [0x05, 0x59, 0x00]);
        assert_eq!(m.to_access().to_vec(), [0x80, 0x32, 0x05, 0x59, 0x00]);
        assert_eq!(
            HealthMessage::parse(ATTENTION_SET_UNACKNOWLEDGED, &[0x0a]),
            Ok(HealthMessage::AttentionSetUnacknowledged { attention: 10 })
        );
        assert_eq!(
            HealthMessage::parse(ATTENTION_SET, &[0x0a])
                .unwrap()
                .describe(),
            "Health Attention Set attention 10s"
        );
    }

    #[test]
    fn prohibited_and_lengths() {
        for op in [PERIOD_SET, PERIOD_SET_UNACKNOWLEDGED, PERIOD_STATUS] {
            assert_eq!(
                HealthMessage::parse(op, &[0x10]),
                Err(Error::Invalid {
                    field: "Fast Period Divisor",
                    value: 0x10
                })
            );
            assert!(HealthMessage::parse(op, &[0x0f]).is_ok());
        }
        assert_eq!(
            HealthMessage::parse(FAULT_STATUS, &[0, 0]),
            Err(Error::Truncated { need: 3, got: 2 })
        );
        assert_eq!(
            HealthMessage::parse(FAULT_GET, &[0, 0, 0]),
            Err(Error::TooLong { max: 2, got: 3 })
        );
        assert_eq!(
            HealthMessage::parse(ATTENTION_GET, &[0]),
            Err(Error::TooLong { max: 0, got: 1 })
        );
    }

    pub(crate) fn arb_health() -> impl Strategy<Value = HealthMessage> {
        use HealthMessage as M;
        let report = (
            any::<u8>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..20),
        )
            .prop_map(|(test_id, company_id, faults)| FaultReport {
                test_id,
                company_id,
                faults,
            });
        prop_oneof![
            any::<u16>().prop_map(|company_id| M::FaultGet { company_id }),
            any::<u16>().prop_map(|company_id| M::FaultClear { company_id }),
            any::<u16>().prop_map(|company_id| M::FaultClearUnacknowledged { company_id }),
            (any::<u8>(), any::<u16>()).prop_map(|(test_id, company_id)| M::FaultTest {
                test_id,
                company_id
            }),
            (any::<u8>(), any::<u16>()).prop_map(|(test_id, company_id)| {
                M::FaultTestUnacknowledged {
                    test_id,
                    company_id,
                }
            }),
            report.clone().prop_map(M::CurrentStatus),
            report.prop_map(M::FaultStatus),
            Just(M::PeriodGet),
            (0u8..=0x0f).prop_map(|fast_period_divisor| M::PeriodSet {
                fast_period_divisor
            }),
            (0u8..=0x0f).prop_map(|fast_period_divisor| M::PeriodSetUnacknowledged {
                fast_period_divisor
            }),
            (0u8..=0x0f).prop_map(|fast_period_divisor| M::PeriodStatus {
                fast_period_divisor
            }),
            Just(M::AttentionGet),
            any::<u8>().prop_map(|attention| M::AttentionSet { attention }),
            any::<u8>().prop_map(|attention| M::AttentionSetUnacknowledged { attention }),
            any::<u8>().prop_map(|attention| M::AttentionStatus { attention }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(m in arb_health()) {
            prop_assert_eq!(HealthMessage::parse(m.opcode(), &m.emit_params()), Ok(m.clone()));
            prop_assert_eq!(HealthMessage::from_access(&m.to_access()), Ok(m.clone()));
            prop_assert!(m.opcode().name().unwrap().starts_with("Health "));
        }
    }
}
