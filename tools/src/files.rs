//! Reading the files a user names (a network store, a key file, a CDB, a scenario) without
//! trusting them: the file type is checked before the file is opened (a FIFO, a device or a
//! directory is refused, never read: `/dev/zero` would fill the memory, a FIFO would block
//! forever), the file is opened with `O_NONBLOCK` and checked again (it may have been replaced
//! in between), and at most `limit + 1` octets are read, whatever its size claims.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::Exit;

/// A kind of file weft reads: what it is called in messages, how large one can be, and how
/// the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// What the file is, for messages ("network store").
    pub what: &'static str,
    /// The most octets such a file can hold.
    pub limit: u64,
    /// How to name the right file instead ("give --net the path of ...").
    pub fix: &'static str,
}

const MIB: u64 = 1024 * 1024;

/// A sealed network store. A mesh has at most 32,767 unicast addresses, one element each; the
/// CDB JSON of the largest network weft can hold, at about 1 KiB per element with its models,
/// subscriptions and keys, is about 32 MiB, and the rest of the store (the local node, the
/// replay protection list) is small beside it. Twice that leaves room without letting a
/// wrong file (an image, a disk dump) be read whole.
pub const STORE: Kind = Kind {
    what: "network store",
    limit: 64 * MIB,
    fix: "name a weft network store file (--net PATH, or --state PATH for weft node)",
};

/// A key file: 64 hex digits and a newline (65 octets), or 32 raw octets. 1 KiB allows any
/// surrounding white space an editor may leave and is still far from anything else.
pub const KEY_FILE: Kind = Kind {
    what: "key file",
    limit: 1024,
    fix: "give --key-file a file holding one 256-bit key (64 hex digits)",
};

/// A Mesh Configuration Database JSON file: as large as the store's CDB (see [`STORE`]).
pub const CDB: Kind = Kind {
    what: "CDB file",
    limit: 64 * MIB,
    fix: "give --cdb a Mesh Configuration Database JSON file (nRF Mesh, mesh-cfgclient or weft net export)",
};

/// A scenario TOML file. The largest grid is 30,000 nodes; written out one by one at about
/// 200 octets each that is about 6 MiB.
pub const THREAD_STATE: Kind = Kind {
    what: "Thread node state file",
    limit: 64 * 1024,
    fix: "give weft thread node --state a file it wrote (or a path that does not exist yet)",
};

pub const SCENARIO: Kind = Kind {
    what: "scenario file",
    limit: 8 * MIB,
    fix: "give --scenario a built-in name (weft sim list) or a scenario TOML file",
};

/// Why a file could not be read.
#[derive(Debug)]
pub enum Problem {
    /// It does not exist.
    Missing,
    /// It is not a regular file: a directory, a FIFO, a device, a socket.
    NotRegular(&'static str),
    /// It holds more than its kind can.
    TooLarge {
        /// Its size (at least `limit + 1` if it grew while read).
        len: u64,
    },
    /// It was to be text and is not UTF-8.
    NotText,
    /// The system could not read it.
    Io(io::Error),
}

/// A file weft could not read: which, of what kind, and why.
#[derive(Debug)]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// What it was to be.
    pub kind: Kind,
    /// What is wrong.
    pub problem: Problem,
}

impl ReadError {
    /// `path`, of `kind`, holds at least `len` octets, more than its kind can.
    pub fn too_large(path: &Path, kind: Kind, len: u64) -> Self {
        ReadError {
            path: path.to_owned(),
            kind,
            problem: Problem::TooLarge { len },
        }
    }

    /// The exit code: 2 for a file that is missing or not the kind asked for (the user named
    /// the wrong file), 3 when the system cannot read it.
    pub fn exit(&self) -> Exit {
        match self.problem {
            Problem::Io(_) => Exit::Unavailable,
            _ => Exit::Usage,
        }
    }

    /// What is wrong, without the file's name (for messages that name it already).
    pub fn why(&self) -> String {
        match &self.problem {
            Problem::Missing => "no such file".into(),
            Problem::NotRegular(t) => format!("it is {t}, not a regular file: {}", self.kind.fix),
            Problem::TooLarge { len } => format!(
                "it is {len} octets, more than a {} can hold ({}): {}",
                self.kind.what,
                octets(self.kind.limit),
                self.kind.fix
            ),
            Problem::NotText => format!("it is not UTF-8 text: {}", self.kind.fix),
            Problem::Io(e) => e.to_string(),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, path) = (self.kind.what, self.path.display());
        match &self.problem {
            Problem::Missing => write!(f, "{what} {path} does not exist: {}", self.kind.fix),
            Problem::NotRegular(t) => {
                write!(
                    f,
                    "{what} {path} is {t}, not a regular file: {}",
                    self.kind.fix
                )
            }
            Problem::TooLarge { .. } | Problem::NotText => {
                write!(f, "{what} {path}: {}", self.why())
            }
            Problem::Io(e) => write!(f, "cannot read {what} {path}: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

fn octets(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} octets")
    }
}

/// What a file of this type is, in a sentence ("a directory"); `None` for a regular file.
fn not_regular(t: fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// Refuses `path` when it exists and is not a regular file: for a file about to be created or
/// replaced, so a directory or a device named by mistake is reported as what it is.
pub fn refuse_non_regular(path: &Path, kind: Kind) -> Result<(), ReadError> {
    match fs::metadata(path) {
        Ok(m) => match not_regular(m.file_type()) {
            None => Ok(()),
            Some(t) => Err(ReadError {
                path: path.to_owned(),
                kind,
                problem: Problem::NotRegular(t),
            }),
        },
        Err(_) => Ok(()),
    }
}

/// An open regular file of `kind`, at most `kind.limit` octets long by its metadata, and its
/// metadata. Nothing is read yet.
pub fn open(path: &Path, kind: Kind) -> Result<(File, fs::Metadata), ReadError> {
    let err = |problem| ReadError {
        path: path.to_owned(),
        kind,
        problem,
    };
    let io = |e: io::Error| {
        if e.kind() == io::ErrorKind::NotFound {
            err(Problem::Missing)
        } else {
            err(Problem::Io(e))
        }
    };
    // The type first, from the name: a FIFO or a device is never opened.
    let meta = fs::metadata(path).map_err(io)?;
    if let Some(t) = not_regular(meta.file_type()) {
        return Err(err(Problem::NotRegular(t)));
    }
    // Non-blocking, so a FIFO put in its place since never blocks the open; then the type
    // again, of what was opened.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(t) = not_regular(meta.file_type()) {
        return Err(err(Problem::NotRegular(t)));
    }
    if meta.len() > kind.limit {
        return Err(err(Problem::TooLarge { len: meta.len() }));
    }
    Ok((file, meta))
}

/// Reads up to `max` more octets of `file` into `buf`; `Ok(false)` when there were more.
pub fn read_at_most(file: &mut File, buf: &mut Vec<u8>, max: u64) -> io::Result<bool> {
    let before = buf.len() as u64;
    file.take(max.saturating_add(1)).read_to_end(buf)?;
    Ok(buf.len() as u64 - before <= max)
}

/// Reads a whole regular file of `kind` (see the module's description).
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let (mut file, meta) = open(path, kind)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    match read_at_most(&mut file, &mut buf, kind.limit) {
        Ok(true) => Ok(buf),
        Ok(false) => Err(ReadError::too_large(path, kind, buf.len() as u64)),
        Err(e) => Err(ReadError {
            path: path.to_owned(),
            kind,
            problem: Problem::Io(e),
        }),
    }
}

/// Reads a whole regular file of `kind` as UTF-8 text.
pub fn read_to_string(path: &Path, kind: Kind) -> Result<String, ReadError> {
    String::from_utf8(read(path, kind)?).map_err(|_| ReadError {
        path: path.to_owned(),
        kind,
        problem: Problem::NotText,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Kind = Kind {
        what: "test file",
        limit: 8,
        fix: "give a small file",
    };

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"12345678").unwrap();
        assert_eq!(read(&p, TINY).unwrap(), b"12345678");
        fs::write(&p, b"123456789").unwrap();
        let e = read(&p, TINY).unwrap_err();
        assert!(matches!(e.problem, Problem::TooLarge { len: 9 }), "{e}");
        assert_eq!(e.exit(), Exit::Usage);
        assert!(e
            .to_string()
            .contains("more than a test file can hold (8 octets)"));
        let e = read(&d.path().join("none"), TINY).unwrap_err();
        assert!(matches!(e.problem, Problem::Missing), "{e}");
    }

    #[test]
    fn other_file_types_are_refused_unread() {
        let d = tempfile::tempdir().unwrap();
        let e = read(d.path(), TINY).unwrap_err();
        assert!(
            e.to_string().contains("is a directory, not a regular file"),
            "{e}"
        );
        // A device that never ends is refused before a single octet is read.
        let e = read(Path::new("/dev/zero"), TINY).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        assert_eq!(e.exit(), Exit::Usage);
    }

    #[test]
    fn growing_files_are_cut_at_the_limit() {
        // /proc files claim a length of 0 and hold more: read through take(limit + 1).
        let e = read(Path::new("/proc/self/maps"), TINY).unwrap_err();
        assert!(matches!(e.problem, Problem::TooLarge { len: 9 }), "{e}");
    }
}
