//! A Thread node (Thread 1.3), sans-IO: frames and timers in; frames, events and a persisted
//! state out; time and randomness injected. See ARCHITECTURE.md, "Thread node (`stack/`)".

pub mod state;
#[cfg(test)]
mod tests;

pub use state::{
    CounterKind, Credentials, CredentialsError, FrameCounters, ThreadState, FRAME_COUNTER_BLOCK,
};
