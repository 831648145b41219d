//! Serial ports for every dongle (`hci:`, `spinel:`, `nrf154:`), through tokio-serial built
//! without libudev, with errors as one sentence that says how to fix them.

use std::io;
use std::path::Path;

use tokio_serial::{SerialPortBuilderExt, SerialStream};

use crate::RadioError;

/// Opens `device` at `baud` bits per second, 8N1, with RTS/CTS flow control when `rtscts`;
/// `uri` starts the error.
pub fn open(uri: &str, device: &Path, baud: u32, rtscts: bool) -> Result<SerialStream, RadioError> {
    let path = device.to_string_lossy();
    let flow = if rtscts {
        tokio_serial::FlowControl::Hardware
    } else {
        tokio_serial::FlowControl::None
    };
    tokio_serial::new(path.as_ref(), baud)
        .flow_control(flow)
        .open_native_async()
        .map_err(|e| {
            let hint = match e.kind {
                _ if e.description.contains("lock") => {
                    " (another program has it open: another weft, a terminal such as minicom, or ModemManager)"
                }
                tokio_serial::ErrorKind::NoDevice
                | tokio_serial::ErrorKind::Io(io::ErrorKind::NotFound) => {
                    " (is the dongle plugged in? `weft radios` lists the dongles attached and their URIs)"
                }
                tokio_serial::ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
                    " (add yourself to the dialout group: `sudo usermod -aG dialout $USER`, then log in again)"
                }
                _ => "",
            };
            RadioError::Unavailable(format!(
                "{uri}: cannot open the serial device {path}: {}{hint}",
                e.description
            ))
        })
}
