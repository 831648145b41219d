//! The byte streams an HCI controller is reached by, all carrying H4 framing (Core v5.4 Vol 4
//! Part A §2):
//!
//! - `hci:DEVICE[?baud=N&rtscts=0|1]`: a serial port (a UART, or a USB CDC ACM dongle such as
//!   Zephyr's `hci_uart` sample), through tokio-serial built without libudev; 1,000,000 baud and
//!   no hardware flow control unless the URI says otherwise;
//! - `hci-tcp:HOST:PORT`: a TCP socket (an emulated controller such as bumble's, or a
//!   serial-to-TCP bridge);
//! - `hci-unix:PATH`: a Unix stream socket;
//! - `hci-user:hciN`: the kernel's controller N taken over through an HCI user channel
//!   ([`super::user_channel`]).
//!
//! Each error is one sentence that says what failed and how to fix it.

use std::path::Path;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::{RadioError, RadioUri};

/// A byte stream to a controller.
pub trait HciIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> HciIo for T {}

/// A byte stream to a controller, of whatever kind.
pub type HciStream = Box<dyn HciIo>;

/// The serial line speed when the URI gives none: what Zephyr's and Nordic's HCI firmware use.
pub const DEFAULT_BAUD: u32 = 1_000_000;

/// Opens the stream `uri` names (an HCI kind).
pub async fn connect(uri: &RadioUri) -> Result<HciStream, RadioError> {
    match uri {
        RadioUri::Hci {
            device,
            baud,
            rtscts,
        } => serial(
            uri,
            device,
            baud.unwrap_or(DEFAULT_BAUD),
            rtscts.unwrap_or(false),
        ),
        RadioUri::HciTcp { host, port } => {
            let s = TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(|e| {
                    RadioError::Unavailable(format!(
                        "{uri}: cannot reach an HCI controller at {host}:{port}: {e} (is the \
                         controller or its emulator listening there?)"
                    ))
                })?;
            let _ = s.set_nodelay(true);
            Ok(Box::new(s))
        }
        RadioUri::HciUnix { path } => {
            let s = UnixStream::connect(path).await.map_err(|e| {
                RadioError::Unavailable(format!(
                    "{uri}: cannot reach an HCI controller at the socket {}: {e} (is the \
                     controller or its emulator listening there?)",
                    path.display()
                ))
            })?;
            Ok(Box::new(s))
        }
        RadioUri::HciUser { index } => Ok(Box::new(
            super::user_channel::open(*index)
                .map_err(|why| RadioError::Unavailable(format!("{uri}: {why}")))?,
        )),
        other => Err(RadioError::Unsupported(format!(
            "{other} is not an HCI radio"
        ))),
    }
}

fn serial(uri: &RadioUri, device: &Path, baud: u32, rtscts: bool) -> Result<HciStream, RadioError> {
    let port = crate::serial::open(&uri.to_string(), device, baud, rtscts)?;
    Ok(Box::new(port))
}
