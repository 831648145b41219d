//! Generic OnOff, Generic Level and Generic Default Transition Time messages (Mesh Model 1.1
//! §3.2.1, §3.2.2, §3.2.3) and the transition time format (MshMDL §3.1.3).
//!
//! Set messages end with an optional pair `Transition Time (1) || Delay (1)`: both present or
//! both absent. Status messages end with an optional pair `Target (n) || Remaining Time (1)`.

use core::fmt;

use crate::ble::wire::access::{AccessMessage, Opcode};
use crate::ble::wire::Result;

use crate::ble::models::{human_millis, invalid, put_u16, unknown_opcode, Reader, StepResolution};

/// Generic OnOff Get (MshMDL §3.2.1.1).
pub const ONOFF_GET: Opcode = Opcode::Two(0x8201);
/// Generic OnOff Set (MshMDL §3.2.1.2).
pub const ONOFF_SET: Opcode = Opcode::Two(0x8202);
/// Generic OnOff Set Unacknowledged (MshMDL §3.2.1.3).
pub const ONOFF_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x8203);
/// Generic OnOff Status (MshMDL §3.2.1.4).
pub const ONOFF_STATUS: Opcode = Opcode::Two(0x8204);
/// Generic Level Get (MshMDL §3.2.2.1).
pub const LEVEL_GET: Opcode = Opcode::Two(0x8205);
/// Generic Level Set (MshMDL §3.2.2.2).
pub const LEVEL_SET: Opcode = Opcode::Two(0x8206);
/// Generic Level Set Unacknowledged (MshMDL §3.2.2.3).
pub const LEVEL_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x8207);
/// Generic Level Status (MshMDL §3.2.2.8).
pub const LEVEL_STATUS: Opcode = Opcode::Two(0x8208);
/// Generic Delta Set (MshMDL §3.2.2.4).
pub const DELTA_SET: Opcode = Opcode::Two(0x8209);
/// Generic Delta Set Unacknowledged (MshMDL §3.2.2.5).
pub const DELTA_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x820A);
/// Generic Move Set (MshMDL §3.2.2.6).
pub const MOVE_SET: Opcode = Opcode::Two(0x820B);
/// Generic Move Set Unacknowledged (MshMDL §3.2.2.7).
pub const MOVE_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x820C);
/// Generic Default Transition Time Get (MshMDL §3.2.3.1).
pub const DEFAULT_TRANSITION_TIME_GET: Opcode = Opcode::Two(0x820D);
/// Generic Default Transition Time Set (MshMDL §3.2.3.2).
pub const DEFAULT_TRANSITION_TIME_SET: Opcode = Opcode::Two(0x820E);
/// Generic Default Transition Time Set Unacknowledged (MshMDL §3.2.3.3).
pub const DEFAULT_TRANSITION_TIME_SET_UNACKNOWLEDGED: Opcode = Opcode::Two(0x820F);
/// Generic Default Transition Time Status (MshMDL §3.2.3.4).
pub const DEFAULT_TRANSITION_TIME_STATUS: Opcode = Opcode::Two(0x8210);

/// A transition time (MshMDL §3.1.3): a 6-bit number of steps (bits 0-5; 0x3F: unknown) and a
/// 2-bit step resolution (bits 6-7: 100 ms, 1 s, 10 s, 10 min).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransitionTime(u8);

impl TransitionTime {
    /// Immediate: zero steps.
    pub const IMMEDIATE: TransitionTime = TransitionTime(0);
    /// The number of steps meaning "unknown" (MshMDL §3.1.3.1); states cannot be set to it.
    pub const UNKNOWN_STEPS: u8 = 0x3F;
    /// The largest known number of steps (MshMDL §3.1.3.1).
    pub const MAX_STEPS: u8 = 0x3E;

    /// A transition time of `steps` (0..=0x3F) at `resolution`, `None` above 0x3F.
    pub const fn new(steps: u8, resolution: StepResolution) -> Option<Self> {
        if steps <= Self::UNKNOWN_STEPS {
            Some(TransitionTime(steps | ((resolution as u8) << 6)))
        } else {
            None
        }
    }

    /// From the octet on air (every octet is a transition time).
    pub const fn from_byte(b: u8) -> Self {
        TransitionTime(b)
    }

    /// The octet on air.
    pub const fn to_byte(self) -> u8 {
        self.0
    }

    /// The number of steps, 0..=0x3F.
    pub const fn steps(self) -> u8 {
        self.0 & 0x3F
    }

    /// The step resolution.
    pub const fn resolution(self) -> StepResolution {
        StepResolution::from_bits(self.0 >> 6)
    }

    /// Whether the number of steps is 0x3F, "unknown".
    pub const fn is_unknown(self) -> bool {
        self.steps() == Self::UNKNOWN_STEPS
    }

    /// The duration in milliseconds, `None` when unknown.
    pub const fn to_millis(self) -> Option<u32> {
        if self.is_unknown() {
            None
        } else {
            Some(self.steps() as u32 * self.resolution().millis())
        }
    }

    /// The transition time closest to `ms` at the finest resolution that can hold it (rounding
    /// to the nearest step); `None` above 62 × 10 min.
    pub fn from_millis(ms: u32) -> Option<Self> {
        StepResolution::ALL.iter().find_map(|res| {
            let step = res.millis();
            let steps = (u64::from(ms) + u64::from(step) / 2) / u64::from(step);
            if steps <= u64::from(Self::MAX_STEPS) {
                TransitionTime::new(steps as u8, *res)
            } else {
                None
            }
        })
    }
}

impl TransitionTime {
    /// A Remaining Time (MshMDL §3.2.1.4, §3.2.2.8: the format of §3.1.3) for `ms`
    /// milliseconds still to go: the nearest step at the finest resolution that holds it, at
    /// least one step while anything remains (a running transition never reads as done), and
    /// "unknown" beyond 62 × 10 min.
    pub fn remaining(ms: u64) -> Self {
        if ms == 0 {
            return TransitionTime::IMMEDIATE;
        }
        let Ok(ms32) = u32::try_from(ms) else {
            return TransitionTime(Self::UNKNOWN_STEPS);
        };
        match Self::from_millis(ms32) {
            Some(t) if t.steps() == 0 => TransitionTime(1),
            Some(t) => t,
            None => TransitionTime(Self::UNKNOWN_STEPS),
        }
    }
}

impl fmt::Debug for TransitionTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransitionTime({self})")
    }
}

/// `100ms`, `2s`, `20min` or `unknown`.
impl fmt::Display for TransitionTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_millis() {
            Some(ms) => f.write_str(&human_millis(ms)),
            None => f.write_str("unknown"),
        }
    }
}

/// The optional `Transition Time || Delay` pair of Set messages (MshMDL §3.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The transition time; 0x3F steps (unknown) is prohibited in Set messages.
    pub time: TransitionTime,
    /// Message execution delay in 5 ms steps.
    pub delay: u8,
}

impl Transition {
    /// The delay in milliseconds.
    pub const fn delay_ms(self) -> u32 {
        self.delay as u32 * 5
    }

    fn describe(t: &Option<Transition>) -> String {
        match t {
            None => String::new(),
            Some(t) if t.delay == 0 => format!(" transition {}", t.time),
            Some(t) => format!(" transition {} delay {}ms", t.time, t.delay_ms()),
        }
    }
}

/// Reads the optional Transition Time and Delay at the end of a Set message.
fn read_transition(r: &mut Reader<'_>) -> Result<Option<Transition>> {
    if r.is_empty() {
        return Ok(None);
    }
    let time = TransitionTime::from_byte(r.u8()?);
    // MshMDL §3.1.3.1: 0x3F "unknown" cannot be set.
    if time.is_unknown() {
        return Err(invalid("Transition Time", time.to_byte()));
    }
    // MshMDL §3.2.1.2: Delay is present exactly when Transition Time is.
    let delay = r.u8()?;
    Ok(Some(Transition { time, delay }))
}

fn write_transition(out: &mut Vec<u8>, t: &Option<Transition>) {
    if let Some(t) = t {
        out.push(t.time.to_byte());
        out.push(t.delay);
    }
}

fn read_onoff(r: &mut Reader<'_>) -> Result<bool> {
    // MshMDL §3.1.1: Generic OnOff 0x00 or 0x01; 0x02..=0xFF prohibited.
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(invalid("OnOff", v)),
    }
}

fn onoff_name(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Generic OnOff Set / Set Unacknowledged parameters (MshMDL §3.2.1.2, §3.2.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OnOffSet {
    /// The target state.
    pub on: bool,
    /// Transaction Identifier.
    pub tid: u8,
    /// Optional transition time and delay.
    pub transition: Option<Transition>,
}

/// Generic Level Set / Set Unacknowledged parameters (MshMDL §3.2.2.2, §3.2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelSet {
    /// The target Generic Level.
    pub level: i16,
    /// Transaction Identifier.
    pub tid: u8,
    /// Optional transition time and delay.
    pub transition: Option<Transition>,
}

/// Generic Delta Set / Set Unacknowledged parameters (MshMDL §3.2.2.4, §3.2.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeltaSet {
    /// The change of the level, accumulated within one transaction.
    pub delta: i32,
    /// Transaction Identifier.
    pub tid: u8,
    /// Optional transition time and delay.
    pub transition: Option<Transition>,
}

/// Generic Move Set / Set Unacknowledged parameters (MshMDL §3.2.2.6, §3.2.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MoveSet {
    /// The level change per transition time (the speed of the move).
    pub delta: i16,
    /// Transaction Identifier.
    pub tid: u8,
    /// Optional transition time and delay.
    pub transition: Option<Transition>,
}

/// A Generic OnOff, Generic Level or Generic Default Transition Time message (MshMDL §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenericMessage {
    /// §3.2.1.1: no parameters.
    OnOffGet,
    /// §3.2.1.2
    OnOffSet(OnOffSet),
    /// §3.2.1.3
    OnOffSetUnacknowledged(OnOffSet),
    /// §3.2.1.4
    OnOffStatus {
        /// Present Generic OnOff.
        present: bool,
        /// Target Generic OnOff and Remaining Time, while a transition is in progress.
        target: Option<(bool, TransitionTime)>,
    },
    /// §3.2.2.1: no parameters.
    LevelGet,
    /// §3.2.2.2
    LevelSet(LevelSet),
    /// §3.2.2.3
    LevelSetUnacknowledged(LevelSet),
    /// §3.2.2.4
    DeltaSet(DeltaSet),
    /// §3.2.2.5
    DeltaSetUnacknowledged(DeltaSet),
    /// §3.2.2.6
    MoveSet(MoveSet),
    /// §3.2.2.7
    MoveSetUnacknowledged(MoveSet),
    /// §3.2.2.8
    LevelStatus {
        /// Present Generic Level.
        present: i16,
        /// Target Generic Level and Remaining Time, while a transition is in progress.
        target: Option<(i16, TransitionTime)>,
    },
    /// §3.2.3.1: no parameters.
    DefaultTransitionTimeGet,
    /// §3.2.3.2: 0x3F steps (unknown) is prohibited.
    DefaultTransitionTimeSet {
        /// The new Generic Default Transition Time.
        time: TransitionTime,
    },
    /// §3.2.3.3: 0x3F steps (unknown) is prohibited.
    DefaultTransitionTimeSetUnacknowledged {
        /// The new Generic Default Transition Time.
        time: TransitionTime,
    },
    /// §3.2.3.4
    DefaultTransitionTimeStatus {
        /// The Generic Default Transition Time.
        time: TransitionTime,
    },
}

impl GenericMessage {
    /// Parses the parameters of the Generic message `opcode`.
    pub fn parse(opcode: Opcode, params: &[u8]) -> Result<Self> {
        use GenericMessage as M;
        let mut rd = Reader::new(params);
        let r = &mut rd;
        let m = match opcode {
            ONOFF_GET => M::OnOffGet,
            ONOFF_SET | ONOFF_SET_UNACKNOWLEDGED => {
                let s = OnOffSet {
                    on: read_onoff(r)?,
                    tid: r.u8()?,
                    transition: read_transition(r)?,
                };
                if opcode == ONOFF_SET {
                    M::OnOffSet(s)
                } else {
                    M::OnOffSetUnacknowledged(s)
                }
            }
            ONOFF_STATUS => {
                let present = read_onoff(r)?;
                let target = if r.is_empty() {
                    None
                } else {
                    Some((read_onoff(r)?, TransitionTime::from_byte(r.u8()?)))
                };
                M::OnOffStatus { present, target }
            }
            LEVEL_GET => M::LevelGet,
            LEVEL_SET | LEVEL_SET_UNACKNOWLEDGED => {
                let s = LevelSet {
                    level: r.i16()?,
                    tid: r.u8()?,
                    transition: read_transition(r)?,
                };
                if opcode == LEVEL_SET {
                    M::LevelSet(s)
                } else {
                    M::LevelSetUnacknowledged(s)
                }
            }
            DELTA_SET | DELTA_SET_UNACKNOWLEDGED => {
                let s = DeltaSet {
                    delta: r.i32()?,
                    tid: r.u8()?,
                    transition: read_transition(r)?,
                };
                if opcode == DELTA_SET {
                    M::DeltaSet(s)
                } else {
                    M::DeltaSetUnacknowledged(s)
                }
            }
            MOVE_SET | MOVE_SET_UNACKNOWLEDGED => {
                let s = MoveSet {
                    delta: r.i16()?,
                    tid: r.u8()?,
                    transition: read_transition(r)?,
                };
                if opcode == MOVE_SET {
                    M::MoveSet(s)
                } else {
                    M::MoveSetUnacknowledged(s)
                }
            }
            LEVEL_STATUS => {
                let present = r.i16()?;
                let target = if r.is_empty() {
                    None
                } else {
                    Some((r.i16()?, TransitionTime::from_byte(r.u8()?)))
                };
                M::LevelStatus { present, target }
            }
            DEFAULT_TRANSITION_TIME_GET => M::DefaultTransitionTimeGet,
            DEFAULT_TRANSITION_TIME_SET | DEFAULT_TRANSITION_TIME_SET_UNACKNOWLEDGED => {
                let time = TransitionTime::from_byte(r.u8()?);
                // MshMDL §3.1.3.1: the state cannot be set to 0x3F steps (unknown).
                if time.is_unknown() {
                    return Err(invalid("Transition Time", time.to_byte()));
                }
                if opcode == DEFAULT_TRANSITION_TIME_SET {
                    M::DefaultTransitionTimeSet { time }
                } else {
                    M::DefaultTransitionTimeSetUnacknowledged { time }
                }
            }
            DEFAULT_TRANSITION_TIME_STATUS => M::DefaultTransitionTimeStatus {
                time: TransitionTime::from_byte(r.u8()?),
            },
            _ => return Err(unknown_opcode(opcode)),
        };
        rd.end()?;
        Ok(m)
    }

    /// Parses an access message.
    pub fn from_access(m: &AccessMessage) -> Result<Self> {
        Self::parse(m.opcode, &m.parameters)
    }

    /// The opcode of the message (MshMDL §7.1).
    pub fn opcode(&self) -> Opcode {
        use GenericMessage as M;
        match self {
            M::OnOffGet => ONOFF_GET,
            M::OnOffSet(_) => ONOFF_SET,
            M::OnOffSetUnacknowledged(_) => ONOFF_SET_UNACKNOWLEDGED,
            M::OnOffStatus { .. } => ONOFF_STATUS,
            M::LevelGet => LEVEL_GET,
            M::LevelSet(_) => LEVEL_SET,
            M::LevelSetUnacknowledged(_) => LEVEL_SET_UNACKNOWLEDGED,
            M::DeltaSet(_) => DELTA_SET,
            M::DeltaSetUnacknowledged(_) => DELTA_SET_UNACKNOWLEDGED,
            M::MoveSet(_) => MOVE_SET,
            M::MoveSetUnacknowledged(_) => MOVE_SET_UNACKNOWLEDGED,
            M::LevelStatus { .. } => LEVEL_STATUS,
            M::DefaultTransitionTimeGet => DEFAULT_TRANSITION_TIME_GET,
            M::DefaultTransitionTimeSet { .. } => DEFAULT_TRANSITION_TIME_SET,
            M::DefaultTransitionTimeSetUnacknowledged { .. } => {
                DEFAULT_TRANSITION_TIME_SET_UNACKNOWLEDGED
            }
            M::DefaultTransitionTimeStatus { .. } => DEFAULT_TRANSITION_TIME_STATUS,
        }
    }

    /// The parameters on air (little-endian fields).
    pub fn emit_params(&self) -> Vec<u8> {
        use GenericMessage as M;
        let mut out = Vec::new();
        match self {
            M::OnOffGet | M::LevelGet | M::DefaultTransitionTimeGet => {}
            M::OnOffSet(s) | M::OnOffSetUnacknowledged(s) => {
                out.push(u8::from(s.on));
                out.push(s.tid);
                write_transition(&mut out, &s.transition);
            }
            M::OnOffStatus { present, target } => {
                out.push(u8::from(*present));
                if let Some((t, remaining)) = target {
                    out.push(u8::from(*t));
                    out.push(remaining.to_byte());
                }
            }
            M::LevelSet(s) | M::LevelSetUnacknowledged(s) => {
                put_u16(&mut out, s.level as u16);
                out.push(s.tid);
                write_transition(&mut out, &s.transition);
            }
            M::DeltaSet(s) | M::DeltaSetUnacknowledged(s) => {
                out.extend_from_slice(&s.delta.to_le_bytes());
                out.push(s.tid);
                write_transition(&mut out, &s.transition);
            }
            M::MoveSet(s) | M::MoveSetUnacknowledged(s) => {
                put_u16(&mut out, s.delta as u16);
                out.push(s.tid);
                write_transition(&mut out, &s.transition);
            }
            M::LevelStatus { present, target } => {
                put_u16(&mut out, *present as u16);
                if let Some((t, remaining)) = target {
                    put_u16(&mut out, *t as u16);
                    out.push(remaining.to_byte());
                }
            }
            M::DefaultTransitionTimeSet { time }
            | M::DefaultTransitionTimeSetUnacknowledged { time }
            | M::DefaultTransitionTimeStatus { time } => out.push(time.to_byte()),
        }
        out
    }

    /// The access message: opcode and parameters.
    pub fn to_access(&self) -> AccessMessage {
        AccessMessage::new(self.opcode(), self.emit_params())
    }

    /// A one-line human summary, e.g. `OnOff Set on tid 3 transition 100ms`.
    pub fn describe(&self) -> String {
        use GenericMessage as M;
        match self {
            M::OnOffGet => "OnOff Get".into(),
            M::OnOffSet(s) | M::OnOffSetUnacknowledged(s) => format!(
                "OnOff Set{} {} tid {}{}",
                unack(self),
                onoff_name(s.on),
                s.tid,
                Transition::describe(&s.transition)
            ),
            M::OnOffStatus { present, target } => match target {
                None => format!("OnOff Status {}", onoff_name(*present)),
                Some((t, rem)) => format!(
                    "OnOff Status {} target {} remaining {rem}",
                    onoff_name(*present),
                    onoff_name(*t)
                ),
            },
            M::LevelGet => "Level Get".into(),
            M::LevelSet(s) | M::LevelSetUnacknowledged(s) => format!(
                "Level Set{} {} tid {}{}",
                unack(self),
                s.level,
                s.tid,
                Transition::describe(&s.transition)
            ),
            M::DeltaSet(s) | M::DeltaSetUnacknowledged(s) => format!(
                "Delta Set{} {:+} tid {}{}",
                unack(self),
                s.delta,
                s.tid,
                Transition::describe(&s.transition)
            ),
            M::MoveSet(s) | M::MoveSetUnacknowledged(s) => format!(
                "Move Set{} {:+} tid {}{}",
                unack(self),
                s.delta,
                s.tid,
                Transition::describe(&s.transition)
            ),
            M::LevelStatus { present, target } => match target {
                None => format!("Level Status {present}"),
                Some((t, rem)) => format!("Level Status {present} target {t} remaining {rem}"),
            },
            M::DefaultTransitionTimeGet => "Default Transition Time Get".into(),
            M::DefaultTransitionTimeSet { time }
            | M::DefaultTransitionTimeSetUnacknowledged { time } => {
                format!("Default Transition Time Set{} {time}", unack(self))
            }
            M::DefaultTransitionTimeStatus { time } => {
                format!("Default Transition Time Status {time}")
            }
        }
    }
}

fn unack(m: &GenericMessage) -> &'static str {
    use GenericMessage as M;
    match m {
        M::OnOffSetUnacknowledged(_)
        | M::LevelSetUnacknowledged(_)
        | M::DeltaSetUnacknowledged(_)
        | M::MoveSetUnacknowledged(_)
        | M::DefaultTransitionTimeSetUnacknowledged { .. } => " Unacknowledged",
        _ => "",
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

    #[test]
    fn transition_time() {
        // MshMDL §3.1.3: steps in bits 0-5, resolution in bits 6-7.
        let t = TransitionTime::from_byte(0x41); // 1 step of 1 s
        assert_eq!(t.steps(), 1);
        assert_eq!(t.resolution(), StepResolution::S1);
        assert_eq!(t.to_millis(), Some(1_000));
        assert_eq!(TransitionTime::from_byte(0x0A).to_millis(), Some(1_000));
        assert_eq!(TransitionTime::from_byte(0x82).to_millis(), Some(20_000));
        assert_eq!(TransitionTime::from_byte(0xC3).to_millis(), Some(1_800_000));
        assert_eq!(TransitionTime::from_byte(0x3F).to_millis(), None);
        assert_eq!(TransitionTime::from_byte(0xFF).to_millis(), None);
        assert_eq!(
            TransitionTime::from_byte(0xFE).to_millis(),
            Some(62 * 600_000)
        );
        assert_eq!(TransitionTime::from_byte(0xFF).to_string(), "unknown");
        assert_eq!(TransitionTime::from_byte(0x82).to_string(), "20s");
        assert_eq!(TransitionTime::new(0x40, StepResolution::S1), None);
        // From milliseconds: the finest resolution that can hold it.
        assert_eq!(
            TransitionTime::from_millis(0),
            Some(TransitionTime::IMMEDIATE)
        );
        assert_eq!(TransitionTime::from_millis(100).unwrap().to_byte(), 0x01);
        assert_eq!(TransitionTime::from_millis(6_200).unwrap().to_byte(), 0x3E);
        assert_eq!(TransitionTime::from_millis(6_300).unwrap().to_byte(), 0x46);
        assert_eq!(TransitionTime::from_millis(149).unwrap().to_byte(), 0x01);
        assert_eq!(TransitionTime::from_millis(150).unwrap().to_byte(), 0x02);
        assert_eq!(
            TransitionTime::from_millis(62 * 600_000).unwrap().to_byte(),
            0xFE
        );
        assert_eq!(TransitionTime::from_millis(62 * 600_000 + 300_000), None);
    }

    #[test]
    fn remaining_time() {
        assert_eq!(TransitionTime::remaining(0), TransitionTime::IMMEDIATE);
        assert_eq!(TransitionTime::remaining(1).to_byte(), 0x01);
        assert_eq!(TransitionTime::remaining(949).to_byte(), 0x09);
        assert_eq!(TransitionTime::remaining(1_000).to_byte(), 0x0A);
        assert_eq!(TransitionTime::remaining(6_300).to_byte(), 0x46);
        assert_eq!(TransitionTime::remaining(62 * 600_000).to_byte(), 0xFE);
        assert!(TransitionTime::remaining(63 * 600_000).is_unknown());
        assert!(TransitionTime::remaining(u64::MAX).is_unknown());
    }

    #[test]
    fn hand_computed_onoff() {
        // Generic OnOff Set: on, TID 3, 100 ms transition, no delay.
        let access = AccessMessage::parse(&h("820201030100")).unwrap();
        let m = GenericMessage::from_access(&access).unwrap();
        assert_eq!(
            m,
            GenericMessage::OnOffSet(OnOffSet {
                on: true,
                tid: 3,
                transition: Some(Transition {
                    time: TransitionTime::from_byte(0x01),
                    delay: 0
                }),
            })
        );
        assert_eq!(m.describe(), "OnOff Set on tid 3 transition 100ms");
        assert_eq!(m.to_access().to_vec(), h("820201030100"));
        // Without the optional fields.
        let m = GenericMessage::parse(ONOFF_SET_UNACKNOWLEDGED, &h("0007")).unwrap();
        assert_eq!(m.describe(), "OnOff Set Unacknowledged off tid 7");
        // With a delay of 20 × 5 ms.
        let m = GenericMessage::parse(ONOFF_SET, &h("01034114")).unwrap();
        assert_eq!(m.describe(), "OnOff Set on tid 3 transition 1s delay 100ms");
        // Status in transition: off, target on, 2 s remaining.
        let m = GenericMessage::parse(ONOFF_STATUS, &h("000142")).unwrap();
        assert_eq!(
            m,
            GenericMessage::OnOffStatus {
                present: false,
                target: Some((true, TransitionTime::from_byte(0x42)))
            }
        );
        assert_eq!(m.describe(), "OnOff Status off target on remaining 2s");
    }

    #[test]
    fn hand_computed_level() {
        // Level Set -32768, TID 0x10.
        let m = GenericMessage::parse(LEVEL_SET, &h("008010")).unwrap();
        assert_eq!(
            m,
            GenericMessage::LevelSet(LevelSet {
                level: i16::MIN,
                tid: 0x10,
                transition: None
            })
        );
        // Delta Set -2 (0xFFFFFFFE little-endian), TID 1, 0 transition, delay 1.
        let m = GenericMessage::DeltaSet(DeltaSet {
            delta: -2,
            tid: 1,
            transition: Some(Transition {
                time: TransitionTime::IMMEDIATE,
                delay: 1,
            }),
        });
        assert_eq!(m.emit_params(), h("feffffff010001"));
        assert_eq!(m.describe(), "Delta Set -2 tid 1 transition 0ms delay 5ms");
        // Move Set +256.
        let m = GenericMessage::parse(MOVE_SET_UNACKNOWLEDGED, &h("000105")).unwrap();
        assert_eq!(m.describe(), "Move Set Unacknowledged +256 tid 5");
        // Level Status 0x1234 target 0x7fff remaining 10 × 100 ms.
        let m = GenericMessage::parse(LEVEL_STATUS, &h("3412ff7f0a")).unwrap();
        assert_eq!(m.describe(), "Level Status 4660 target 32767 remaining 1s");
        // Default Transition Time Status 5 s.
        let m = GenericMessage::parse(DEFAULT_TRANSITION_TIME_STATUS, &h("45")).unwrap();
        assert_eq!(m.describe(), "Default Transition Time Status 5s");
    }

    #[test]
    fn prohibited_and_lengths() {
        // OnOff values above 1 are prohibited.
        for (op, p) in [
            (ONOFF_SET, "0203"),
            (ONOFF_SET_UNACKNOWLEDGED, "ff03"),
            (ONOFF_STATUS, "02"),
            (ONOFF_STATUS, "000242"),
        ] {
            assert!(
                matches!(
                    GenericMessage::parse(op, &h(p)),
                    Err(Error::Invalid { field: "OnOff", .. })
                ),
                "{p}"
            );
        }
        // Transition Time without Delay.
        assert_eq!(
            GenericMessage::parse(ONOFF_SET, &h("010301")),
            Err(Error::Truncated { need: 4, got: 3 })
        );
        // Target without Remaining Time.
        assert_eq!(
            GenericMessage::parse(ONOFF_STATUS, &h("0001")),
            Err(Error::Truncated { need: 3, got: 2 })
        );
        assert_eq!(
            GenericMessage::parse(ONOFF_SET, &h("0103010000")),
            Err(Error::TooLong { max: 4, got: 5 })
        );
        // An unknown transition time cannot be set.
        for (op, p) in [
            (ONOFF_SET, "01033f00"),
            (LEVEL_SET, "0000017f00"),
            (DEFAULT_TRANSITION_TIME_SET, "7f"),
            (DEFAULT_TRANSITION_TIME_SET_UNACKNOWLEDGED, "3f"),
        ] {
            assert!(
                matches!(
                    GenericMessage::parse(op, &h(p)),
                    Err(Error::Invalid {
                        field: "Transition Time",
                        ..
                    })
                ),
                "{p}"
            );
        }
        // ... but may be reported.
        assert!(GenericMessage::parse(DEFAULT_TRANSITION_TIME_STATUS, &h("3f")).is_ok());
        assert!(GenericMessage::parse(ONOFF_STATUS, &h("00013f")).is_ok());
        assert_eq!(
            GenericMessage::parse(DELTA_SET, &h("000000")),
            Err(Error::Truncated { need: 4, got: 3 })
        );
    }

    fn arb_transition() -> impl Strategy<Value = Option<Transition>> + Clone {
        proptest::option::of(
            (
                (0u8..=0x3e, 0u8..4).prop_map(|(s, r)| {
                    TransitionTime::new(s, StepResolution::from_bits(r)).unwrap()
                }),
                any::<u8>(),
            )
                .prop_map(|(time, delay)| Transition { time, delay }),
        )
    }

    fn arb_settable_time() -> impl Strategy<Value = TransitionTime> {
        any::<u8>()
            .prop_filter("not unknown", |b| b & 0x3f != 0x3f)
            .prop_map(TransitionTime::from_byte)
    }

    pub(crate) fn arb_generic() -> impl Strategy<Value = GenericMessage> {
        use GenericMessage as M;
        let onoff =
            (any::<bool>(), any::<u8>(), arb_transition()).prop_map(|(on, tid, transition)| {
                OnOffSet {
                    on,
                    tid,
                    transition,
                }
            });
        let level =
            (any::<i16>(), any::<u8>(), arb_transition()).prop_map(|(level, tid, transition)| {
                LevelSet {
                    level,
                    tid,
                    transition,
                }
            });
        let delta =
            (any::<i32>(), any::<u8>(), arb_transition()).prop_map(|(delta, tid, transition)| {
                DeltaSet {
                    delta,
                    tid,
                    transition,
                }
            });
        let mv =
            (any::<i16>(), any::<u8>(), arb_transition()).prop_map(|(delta, tid, transition)| {
                MoveSet {
                    delta,
                    tid,
                    transition,
                }
            });
        prop_oneof![
            Just(M::OnOffGet),
            onoff.clone().prop_map(M::OnOffSet),
            onoff.prop_map(M::OnOffSetUnacknowledged),
            (
                any::<bool>(),
                proptest::option::of((
                    any::<bool>(),
                    any::<u8>().prop_map(TransitionTime::from_byte)
                ))
            )
                .prop_map(|(present, target)| M::OnOffStatus { present, target }),
            Just(M::LevelGet),
            level.clone().prop_map(M::LevelSet),
            level.prop_map(M::LevelSetUnacknowledged),
            delta.clone().prop_map(M::DeltaSet),
            delta.prop_map(M::DeltaSetUnacknowledged),
            mv.clone().prop_map(M::MoveSet),
            mv.prop_map(M::MoveSetUnacknowledged),
            (
                any::<i16>(),
                proptest::option::of((
                    any::<i16>(),
                    any::<u8>().prop_map(TransitionTime::from_byte)
                ))
            )
                .prop_map(|(present, target)| M::LevelStatus { present, target }),
            Just(M::DefaultTransitionTimeGet),
            arb_settable_time().prop_map(|time| M::DefaultTransitionTimeSet { time }),
            arb_settable_time().prop_map(|time| M::DefaultTransitionTimeSetUnacknowledged { time }),
            any::<u8>().prop_map(|b| M::DefaultTransitionTimeStatus {
                time: TransitionTime::from_byte(b)
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(m in arb_generic()) {
            prop_assert_eq!(GenericMessage::parse(m.opcode(), &m.emit_params()), Ok(m.clone()));
            prop_assert_eq!(GenericMessage::from_access(&m.to_access()), Ok(m.clone()));
            prop_assert!(m.opcode().name().unwrap().starts_with("Generic "));
        }

        #[test]
        fn millis_round_trip(ms in 0u32..=62 * 600_000) {
            let t = TransitionTime::from_millis(ms).unwrap();
            let back = t.to_millis().unwrap();
            // Within half a step of the resolution chosen.
            prop_assert!(back.abs_diff(ms) <= t.resolution().millis() / 2, "{} {}", ms, back);
            prop_assert!(!t.is_unknown());
        }
    }
}
