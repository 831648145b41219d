//! `hci-user:hciN`: the kernel's controller N taken over through an HCI user channel, a Linux
//! Bluetooth socket (`AF_BLUETOOTH`, `SOCK_RAW`, `BTPROTO_HCI`) bound with `HCI_CHANNEL_USER`:
//! the kernel stops driving the controller and hands the socket every packet, one per read,
//! with its H4 packet indicator first (Core v5.4 Vol 4 Part A §2); a write is one packet, the
//! same way. Binding needs CAP_NET_ADMIN and a controller that is down and held by nobody
//! (BlueZ's `bluetoothd` holds every controller it manages).
//!
//! The one place of weft-radio with `unsafe`: the socket calls go through libc. Each block says
//! why it is sound.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `AF_BLUETOOTH` (linux/socket.h).
const AF_BLUETOOTH: libc::c_int = 31;
/// `BTPROTO_HCI` (bluetooth/bluetooth.h).
const BTPROTO_HCI: libc::c_int = 1;
/// `HCI_CHANNEL_USER` (bluetooth/hci.h).
const HCI_CHANNEL_USER: u16 = 1;

/// `struct sockaddr_hci` (bluetooth/hci.h).
#[repr(C)]
struct SockaddrHci {
    hci_family: libc::sa_family_t,
    hci_dev: u16,
    hci_channel: u16,
}

/// An HCI user channel socket, as a byte stream of H4 packets.
#[derive(Debug)]
pub struct UserChannel {
    fd: AsyncFd<OwnedFd>,
}

/// What to do about a capability the process lacks.
fn needs_cap() -> String {
    "binding an HCI user channel needs CAP_NET_ADMIN: run as root, or give weft the capability \
     with `sudo setcap cap_net_admin+ep $(which weft)`"
        .to_string()
}

/// Opens the user channel of controller `index` (`hciN`): one sentence saying why not, and how
/// to fix it, when it cannot be had.
pub fn open(index: u16) -> Result<UserChannel, String> {
    let flags = libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket(2) takes no pointers; a negative result is an error, checked below.
    let raw = unsafe { libc::socket(AF_BLUETOOTH, flags, BTPROTO_HCI) };
    if raw < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT) => format!(
                "this kernel has no Bluetooth sockets (AF_BLUETOOTH): load its Bluetooth support \
                 with `sudo modprobe bluetooth` (a kernel built without it cannot give hci{index}), \
                 or reach the controller another way, for example hci:/dev/ttyACM0 for a serial dongle"
            ),
            Some(libc::EPERM | libc::EACCES) => needs_cap(),
            _ => format!("cannot open a Bluetooth HCI socket for hci{index}: {e}"),
        });
    }
    // SAFETY: `raw` is a descriptor socket(2) just returned, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let addr = SockaddrHci {
        hci_family: AF_BLUETOOTH as libc::sa_family_t,
        hci_dev: index,
        hci_channel: HCI_CHANNEL_USER,
    };
    // SAFETY: `addr` is a live, initialised sockaddr_hci for the duration of the call, and the
    // length passed is its size; `fd` is an open socket.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const SockaddrHci).cast::<libc::sockaddr>(),
            std::mem::size_of::<SockaddrHci>() as libc::socklen_t,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => needs_cap(),
            Some(libc::EBUSY | libc::EALREADY | libc::EADDRINUSE) => format!(
                "hci{index} is up or held by another program: take it from BlueZ first with \
                 `sudo hciconfig hci{index} down` or `bluetoothctl power off`, or stop bluetoothd \
                 (`sudo systemctl stop bluetooth`)"
            ),
            Some(libc::ENODEV) => format!(
                "there is no controller hci{index} (`btmgmt info` or `hciconfig -a` lists them)"
            ),
            _ => format!("cannot bind the HCI user channel of hci{index}: {e}"),
        });
    }
    // SAFETY: the AsyncFd owns `fd` (an open socket) from here on, so the descriptor stays
    // open and the same for the AsyncFd's whole life.
    let fd = unsafe { AsyncFd::register(fd) }
        .map_err(|e| format!("cannot watch the HCI user channel of hci{index}: {e}"))?;
    Ok(UserChannel { fd })
}

impl AsyncRead for UserChannel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let r = guard.try_io(|fd| {
                // SAFETY: `unfilled` is initialised, writable memory of `unfilled.len()`
                // octets that outlives the call; `fd` is an open socket.
                let n = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        unfilled.as_mut_ptr().cast::<libc::c_void>(),
                        unfilled.len(),
                    )
                };
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            });
            match r {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for UserChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.fd.poll_write_ready(cx))?;
            let r = guard.try_io(|fd| {
                // SAFETY: `data` is readable memory of `data.len()` octets that outlives the
                // call; `fd` is an open socket.
                let n = unsafe {
                    libc::write(
                        fd.as_raw_fd(),
                        data.as_ptr().cast::<libc::c_void>(),
                        data.len(),
                    )
                };
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            });
            match r {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's kernel has no AF_BLUETOOTH (or the test runs without CAP_NET_ADMIN, or
    /// hci9999 does not exist): whichever, the error is one sentence saying how to fix it.
    #[tokio::test(flavor = "current_thread")]
    async fn an_unavailable_user_channel_says_why_and_how_to_fix_it() {
        let Err(why) = open(9999) else {
            panic!("hci9999 opened");
        };
        let known = [
            "modprobe bluetooth",
            "setcap cap_net_admin+ep",
            "hciconfig hci9999 down",
            "no controller hci9999",
        ];
        assert!(known.iter().any(|k| why.contains(k)), "{why}");
        assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
    }
}
