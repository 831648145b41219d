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
pub(crate) mod tests;
