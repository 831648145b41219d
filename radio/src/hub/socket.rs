//! The hub's socket file: the user's alone, bound in a private directory, made 0600 and only
//! then linked to its path (so no other user can ever connect, whatever the umask, and a path
//! that appeared meanwhile is never replaced); removed when the hub stops, unless something
//! else has taken the path since.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::HubError;

/// Whether a connecting process runs as the hub's user (`owner`): Ok, or the note to log.
pub fn peer_allowed(stream: &UnixStream, owner: u32) -> Result<(), String> {
    match stream.peer_cred() {
        Ok(c) if c.uid() == owner => Ok(()),
        Ok(c) => Err(format!(
            "refused a connection from uid {} (this hub serves uid {owner} only)",
            c.uid()
        )),
        Err(e) => Err(format!(
            "refused a connection whose user cannot be told: {e}"
        )),
    }
}

/// The hub's socket file: removed when dropped, unless something else has taken the path since.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Who owns it: the only user the hub serves.
    pub uid: u32,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// What a file that is not a socket is, for an error message.
fn what_is(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "something else"
    }
}

/// Listens on `socket`. Only a stale socket (one nobody answers on) at the path is replaced;
/// anything else there is an error.
pub async fn listen(socket: &Path) -> Result<(UnixListener, SocketFile), HubError> {
    let path = socket.display();
    // What sockaddr_un holds (108 octets with the terminating NUL): longer, no client could
    // connect.
    let len = socket.as_os_str().len();
    if len > 107 {
        return Err(HubError::Usage(format!(
            "{path} is {len} octets long, and a socket path holds at most 107"
        )));
    }
    match std::fs::symlink_metadata(socket) {
        Ok(m) if m.file_type().is_socket() => match UnixStream::connect(socket).await {
            Ok(_) => {
                return Err(HubError::Unavailable(format!(
                    "another hub is serving {path}"
                )))
            }
            // A socket left by a hub that died: nobody answers on it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(socket).map_err(|e| {
                    HubError::Unavailable(format!("cannot remove the stale socket {path}: {e}"))
                })?;
            }
            Err(e) => {
                return Err(HubError::Unavailable(format!(
                    "cannot tell whether a hub serves {path}: {e}"
                )))
            }
        },
        Ok(m) => {
            return Err(HubError::Usage(format!(
                "{path} is {}, not a socket: give --socket a path that is free or holds a \
                 stale hub socket",
                what_is(&m)
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(HubError::Unavailable(format!("cannot look at {path}: {e}"))),
    }
    // Bind in a private directory beside the path (a hard link needs the same file system),
    // make the socket 0600 there, then link it to the path: nobody else can reach it before its
    // mode is right, whatever the umask, and link (unlike rename) never replaces what another
    // process may have put at the path meanwhile.
    let parent = match socket.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut private = None;
    for n in 0..100 {
        let dir = parent.join(format!(".weft-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                private = Some(dir);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(HubError::Unavailable(format!(
                    "cannot listen on {path}: cannot make a private directory in {}: {e}",
                    parent.display()
                )))
            }
        }
    }
    let Some(private) = private else {
        return Err(HubError::Unavailable(format!(
            "cannot listen on {path}: no free private directory name in {}",
            parent.display()
        )));
    };
    let bound = bind_privately(socket, &private);
    let _ = std::fs::remove_dir(&private);
    bound
}

/// The binding step of [`listen`], in the private directory `private`.
fn bind_privately(socket: &Path, private: &Path) -> Result<(UnixListener, SocketFile), HubError> {
    let cannot = |e: std::io::Error| {
        HubError::Unavailable(format!("cannot listen on {}: {e}", socket.display()))
    };
    // The umask may have taken bits off the directory's mode; chmod is not subject to it.
    std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o700)).map_err(cannot)?;
    let tmp = private.join("s");
    let listener = match UnixListener::bind(&tmp) {
        Ok(l) => l,
        // The private path is a few octets longer than the socket's, and a socket address
        // holds 107: bind through the directory's descriptor instead (Linux's /proc/self/fd).
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            use std::os::fd::AsRawFd;
            let dir = std::fs::File::open(private).map_err(cannot)?;
            let short = PathBuf::from(format!("/proc/self/fd/{}/s", dir.as_raw_fd()));
            UnixListener::bind(&short).map_err(|_| cannot(e))?
        }
        Err(e) => return Err(cannot(e)),
    };
    let linked = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::hard_link(&tmp, socket));
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            HubError::Unavailable(format!(
                "{} appeared while the hub was starting; not replacing it",
                socket.display()
            ))
        } else {
            cannot(e)
        }
    })?;
    let m = std::fs::symlink_metadata(socket).map_err(cannot)?;
    Ok((
        listener,
        SocketFile {
            path: socket.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            uid: m.uid(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn peers_of_another_uid_are_refused() {
        let (a, _b) = UnixStream::pair().unwrap();
        let me = a.peer_cred().unwrap().uid();
        assert_eq!(peer_allowed(&a, me), Ok(()));
        let err = peer_allowed(&a, me.wrapping_add(1)).unwrap_err();
        assert!(err.contains(&format!("uid {me}")), "{err}");
    }
}
