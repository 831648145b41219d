//! The one path from anything that goes wrong in the `weft` command to its exit code: a
//! [`Failure`] carries the exit code and the one sentence the user reads (what is wrong and
//! how to fix it); every subcommand returns `Result<Exit, Failure>`, and [`crate::main`] prints
//! the sentence once, as `weft COMMAND: ...`, and ends with the code.
//!
//! Exit codes everywhere: 0 ok, 1 the device or protocol said no, 2 usage, 3 radio or
//! infrastructure unavailable, 4 timeout ([`Exit`]).

use std::fmt;
use std::future::Future;

use crate::store::StoreError;
use crate::Exit;

/// Why a command could not do what was asked: the exit code, and the sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub Exit, pub String);

impl Failure {
    /// A failure ending with `exit`, saying `message`.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure(exit, message.into())
    }

    /// The exit code.
    pub fn exit(&self) -> Exit {
        self.0
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Failure {}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure(e.exit(), e.to_string())
    }
}

impl From<crate::files::ReadError> for Failure {
    fn from(e: crate::files::ReadError) -> Self {
        Failure(e.exit(), e.to_string())
    }
}

impl From<weft_radio::RadioError> for Failure {
    fn from(e: weft_radio::RadioError) -> Self {
        Failure(Exit::Unavailable, e.to_string())
    }
}

impl From<weft_radio::hub::HubError> for Failure {
    /// A socket path that holds something else is a usage error; the rest is unavailable.
    fn from(e: weft_radio::hub::HubError) -> Self {
        use weft_radio::hub::HubError;
        match e {
            HubError::Usage(m) => Failure(Exit::Usage, m),
            HubError::Unavailable(m) => Failure(Exit::Unavailable, m),
        }
    }
}

/// A result whose error is a [`Failure`].
pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// `Err(Failure(exit, message))`.
pub fn fail<T>(exit: Exit, message: impl Into<String>) -> Result<T> {
    Err(Failure::new(exit, message))
}

/// Runs `fut` to completion on a current-thread tokio runtime: how every command that talks
/// to a radio runs.
pub fn block_on<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot start the runtime: {e}")))?
        .block_on(fut)
}

/// The end of a command: its exit code, with the failure's sentence printed once on standard
/// error as `weft COMMAND: ...`.
pub fn report(command: &str, result: Result<Exit>) -> Exit {
    match result {
        Ok(exit) => exit,
        Err(Failure(exit, message)) => {
            tracing::debug!(target: "weft", ?exit, "{command} failed");
            eprintln!("weft {command}: {message}");
            exit
        }
    }
}
