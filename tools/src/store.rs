//! The local network store: the whole network state (the CDB and weft's own state: IV index,
//! the local provisioner node with its sequence reservation) encoded with postcard and sealed
//! at rest with AES-256-GCM.
//!
//! The file (`$XDG_DATA_HOME/weft/network.weft` unless `--net PATH` names another):
//!
//! | octets | field |
//! |--------|-------|
//! | 8      | magic `WEFTNET` 0x00 |
//! | 1      | format version (3; versions 1 and 2, without the replay protection list or the IV Update state's start, are read too) |
//! | 1      | key source: 0 key file, 1 passphrase through Argon2id |
//! | 28     | Argon2id only: m_cost (KiB), t_cost, p_cost (u32 LE each), 16-octet salt |
//! | 12     | AES-GCM nonce, random for every write |
//! | n + 16 | ciphertext of the postcard-encoded [`NetState`], and the tag |
//!
//! Everything before the ciphertext is authenticated as associated data. Files are written
//! with mode 0600, atomically (a temporary file in the same directory, fsync, rename, fsync
//! of the directory), so a crash leaves either the old or the new store. A store that cannot
//! be opened (wrong passphrase or key, damage) is reported and never overwritten.
//!
//! With neither `--passphrase-env VAR` nor `--key-file FILE`, the store is sealed with a random
//! key kept in a key file beside it (`<store>.key`, mode 0600), as an ssh key without a
//! passphrase works: unattended scripts and rigs need no secret on the command line.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use weft_mesh::ble::cdb::Cdb;
use weft_mesh::ble::node::Node;
use weft_mesh::ble::node::NodeState;
use weft_mesh::ble::transport::rpl::ReplayProtectionList;

use crate::files::{self, Problem};
use crate::Exit;

mod format;
pub use format::{
    decode, open_sealed, parse_header, seal_with_key, Header, OpenError, Sealing, MAX_HEADER_LEN,
    MAX_KDF,
};

impl NetState {
    /// The local node as it was saved: its state and its replay protection list.
    pub fn local_node<R: rand_core::RngCore>(&self, rng: R) -> Option<Node<R>> {
        let mut node = Node::new(self.local.clone()?, rng);
        if let Some(rpl) = &self.rpl {
            node.restore_rpl(rpl);
        }
        if let Some(since) = self.iv_state_since {
            // A clock set back makes the state younger, never older: the 96 hours of an IV
            // Update are never cut short.
            let age = weft_mesh::Duration::from_secs(unix_now().saturating_sub(since));
            node.restore_iv_state_age(weft_mesh::Instant::ZERO, age);
        }
        Some(node)
    }

    /// Takes the local node's state, replay protection list and IV Update state (with the
    /// host's clock, when it began), to be saved.
    pub fn remember<R: rand_core::RngCore>(&mut self, node: &Node<R>) {
        let st = node.state();
        // The network is where weft's own node is: new devices get this IV index.
        self.iv_index = st.iv_index.0;
        self.iv_update = st.iv_update;
        self.iv_state_since = node
            .iv_state_age()
            .map(|age| unix_now().saturating_sub(age.as_micros() / 1_000_000));
        self.local = Some(st.clone());
        self.rpl = Some(node.rpl().clone());
    }

    /// As [`NetState::remember`] for a process that stops cleanly: the sequence numbers the
    /// node reserved but did not use are given back ([`Node::release_reservation`]), so the
    /// next process goes on from the exact next one; only a crash skips the rest of a block.
    pub fn remember_at_exit<R: rand_core::RngCore>(&mut self, node: &mut Node<R>) {
        node.release_reservation();
        self.remember(node);
    }

    /// The device keys of the nodes of the database that have one, by primary address: what
    /// the local node needs to configure them.
    pub fn dev_keys(&self) -> Vec<(weft_mesh::ble::UnicastAddress, [u8; 16])> {
        self.cdb
            .nodes
            .iter()
            .filter_map(|n| {
                Some((
                    weft_mesh::ble::UnicastAddress::new(n.unicast_address.0)?,
                    n.device_key.as_ref()?.0,
                ))
            })
            .collect()
    }
}

/// Magic octets at the start of a store file.
pub const MAGIC: [u8; 8] = *b"WEFTNET\0";
/// The store format this weft writes.
pub const FORMAT_VERSION: u8 = 3;
/// The first format: [`NetState`] without `rpl` and `iv_state_since`.
pub(crate) const FORMAT_VERSION_1: u8 = 1;
/// The second format: [`NetState`] without `iv_state_since`.
pub(crate) const FORMAT_VERSION_2: u8 = 2;
/// File name of the default store inside the data directory.
pub const STORE_FILE: &str = "network.weft";

const KDF_KEY_FILE: u8 = 0;
const KDF_ARGON2ID: u8 = 1;
/// Octets of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Octets of the Argon2id salt.
pub const SALT_LEN: usize = 16;

/// The options that choose and unlock the store, shared by every command that uses it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StoreOpts {
    /// The network store file (default: $XDG_DATA_HOME/weft/network.weft).
    #[arg(long, value_name = "PATH", global = true)]
    pub net: Option<PathBuf>,
    /// Seal the store with the passphrase in this environment variable (Argon2id).
    #[arg(long, value_name = "VAR", global = true, conflicts_with = "key_file")]
    pub passphrase_env: Option<String>,
    /// Seal the store with the 256-bit key in this file (64 hex digits; created if missing
    /// when a store is created). Default: a key file beside the store.
    #[arg(long, value_name = "FILE", global = true)]
    pub key_file: Option<PathBuf>,
}

/// The whole state of a network as weft keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetState {
    /// The network database (kept as canonical CDB JSON inside the postcard encoding).
    #[serde(with = "cdb_as_json")]
    pub cdb: Cdb,
    /// The current IV index.
    pub iv_index: u32,
    /// IV Update in progress.
    pub iv_update: bool,
    /// The local provisioner's node: its keys, address and sequence number reservation.
    pub local: Option<NodeState>,
    /// The local node's replay protection list (MshPRT §3.9.8): what it accepted stays
    /// refused as a replay in the next process (format version 2).
    pub rpl: Option<ReplayProtectionList>,
    /// When the local node's current IV Update state began, in seconds since the Unix epoch
    /// by the host's clock (format version 3): the 96 hours an IV Update lasts at least
    /// (MshPRT §3.11.5) are counted across the short processes of `weft send`, not restarted
    /// in each.
    pub iv_state_since: Option<u64>,
}

/// Seconds since the Unix epoch, by the host's clock (0 if the clock is before 1970).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// [`NetState`] as format version 2 wrote it.
#[derive(Deserialize)]
struct NetStateV2 {
    #[serde(with = "cdb_as_json")]
    cdb: Cdb,
    iv_index: u32,
    iv_update: bool,
    local: Option<NodeState>,
    rpl: Option<ReplayProtectionList>,
}

/// [`NetState`] as format version 1 wrote it.
#[derive(Deserialize)]
struct NetStateV1 {
    #[serde(with = "cdb_as_json")]
    cdb: Cdb,
    iv_index: u32,
    iv_update: bool,
    local: Option<NodeState>,
}

mod cdb_as_json {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use weft_mesh::ble::cdb::Cdb;

    pub fn serialize<S: Serializer>(c: &Cdb, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&c.to_json())
    }

    /// Read without [`Cdb::validate`]: the store holds what weft wrote, and a database that
    /// an older weft let become inconsistent must still open, keys and all, so that it can
    /// be shown, exported and mended ([`Store::save`] refuses to write one).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cdb, D::Error> {
        let s = String::deserialize(d)?;
        Cdb::from_json_unchecked(&s).map_err(D::Error::custom)
    }
}

/// Argon2id cost parameters (stored in the file header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        KdfParams {
            m_cost: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// What seals the store.
#[derive(Clone)]
pub enum Secret {
    /// A passphrase, stretched with Argon2id.
    Passphrase(String),
    /// A file holding a 256-bit key.
    KeyFile(PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Passphrase(_) => f.write_str("Passphrase(..)"),
            Secret::KeyFile(p) => f.debug_tuple("KeyFile").field(p).finish(),
        }
    }
}

impl Secret {
    fn describe(&self) -> &'static str {
        match self {
            Secret::Passphrase(_) => "a passphrase",
            Secret::KeyFile(_) => "a key file",
        }
    }
}

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no store yet.
    #[error("no network store at {0}: create one with `weft net create` or `weft net import --cdb FILE`")]
    Missing(PathBuf),
    /// Creating would replace a store.
    #[error("a network store already exists at {0} (--force replaces it)")]
    Exists(PathBuf),
    /// Authentication failed.
    #[error("cannot open the network store {0}: wrong passphrase or key, or the file is damaged (it was left untouched)")]
    Unlock(PathBuf),
    /// Not a store, or damaged beyond the ciphertext.
    #[error("{path} is not a weft network store or is damaged: {why} (it was left untouched)")]
    Corrupt {
        /// The store.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The state to write breaks a rule of the network database; nothing was written.
    #[error("not saving the network store {0}: the network database would be inconsistent ({1}); the store was left as it was")]
    Inconsistent(PathBuf, String),
    /// Sealed with a passphrase but a key file was given, or the other way round.
    #[error("the network store {path} is sealed with {sealed}, but {given} was given{hint}")]
    WrongSecretKind {
        /// The store.
        path: PathBuf,
        /// How it is sealed.
        sealed: &'static str,
        /// What was given.
        given: &'static str,
        /// What to pass instead.
        hint: &'static str,
    },
    /// `--passphrase-env` names an unset or empty variable.
    #[error("environment variable {0} (named by --passphrase-env) is not set or empty")]
    NoPassphrase(String),
    /// The key file is missing or malformed.
    #[error("key file {path}: {why}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The key file can be read or written by other users.
    #[error("key file {path} is {how} by other users (mode {mode:04o}): run chmod 600 {path}")]
    KeyFileMode {
        /// The key file.
        path: PathBuf,
        /// "readable" or "writable".
        how: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// The store names something that is not a store file (a directory, a FIFO, a device, a
    /// file larger than a store can be).
    #[error(transparent)]
    File(files::ReadError),
    /// Another weft process holds the store (its lock file is locked).
    #[error("the network store {0} is in use by another weft process (an inspector, or a provisioning still running): close it, or act from that inspector")]
    Busy(PathBuf),
    /// No data directory could be found.
    #[error("cannot find a data directory: set XDG_DATA_HOME or HOME, or give --net PATH")]
    NoDataDir,
    /// A file or directory could not be read or written.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// The action.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl StoreError {
    /// The exit code this error ends a command with.
    pub fn exit(&self) -> Exit {
        match self {
            StoreError::Exists(_)
            | StoreError::Unlock(_)
            | StoreError::Corrupt { .. }
            | StoreError::WrongSecretKind { .. }
            | StoreError::Inconsistent(..) => Exit::Refused,
            StoreError::Missing(_)
            | StoreError::NoPassphrase(_)
            | StoreError::KeyFile { .. }
            | StoreError::KeyFileMode { .. }
            | StoreError::NoDataDir => Exit::Usage,
            StoreError::File(e) => e.exit(),
            StoreError::Io { .. } | StoreError::Busy(_) => Exit::Unavailable,
        }
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io { what, path, source }
}

/// The data directory: `$XDG_DATA_HOME` if set to an absolute path, else `$HOME/.local/share`
/// (XDG Base Directory Specification).
pub fn data_home(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    if let Some(x) = xdg_data_home.filter(|x| !x.is_empty()) {
        let p = PathBuf::from(x);
        if p.is_absolute() {
            return Some(p);
        }
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local").join("share"))
}

/// The default store: `<data home>/weft/network.weft`.
pub fn default_store_path() -> Result<PathBuf, StoreError> {
    data_home(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
        .map(|d| d.join("weft").join(STORE_FILE))
        .ok_or(StoreError::NoDataDir)
}

/// The key file used when none is named: `<store>.key` beside the store.
pub fn default_key_file(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push(".key");
    PathBuf::from(s)
}

/// A store file and the secret that seals it.
#[derive(Debug, Clone)]
pub struct Store {
    /// The store file.
    pub path: PathBuf,
    /// What seals it.
    pub secret: Secret,
    /// Argon2id costs for the next write with a passphrase.
    pub kdf: KdfParams,
    /// The key last derived from the passphrase, with its salt and costs: a process that
    /// reads and writes the store many times (an operator session, the live inspector) runs
    /// Argon2id once, not once per write. Each write still has a fresh nonce.
    derived: KeyCache,
}

/// A passphrase-derived key: (passphrase, salt, costs, key).
type Derived = (String, [u8; SALT_LEN], KdfParams, [u8; 32]);

/// The derived key, shared by a store's clones; never printed.
#[derive(Clone, Default)]
struct KeyCache(std::sync::Arc<std::sync::Mutex<Option<Derived>>>);

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

impl KeyCache {
    /// The key for `pass` under `salt` and `params`: the cached one when they match, else
    /// derived (and cached).
    fn key(
        &self,
        pass: &str,
        salt: &[u8; SALT_LEN],
        params: KdfParams,
    ) -> Result<[u8; 32], argon2::Error> {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((x, s, p, k)) = c.as_ref() {
            if x == pass && s == salt && *p == params {
                return Ok(*k);
            }
        }
        let k = derive_key(pass, salt, params)?;
        *c = Some((pass.to_owned(), *salt, params, k));
        Ok(k)
    }

    /// The salt to write for `pass` with `params`: the cached key's, or a fresh random one.
    fn salt_for(&self, pass: &str, params: KdfParams) -> [u8; SALT_LEN] {
        let c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match c.as_ref() {
            Some((x, s, p, _)) if x == pass && *p == params => *s,
            _ => {
                let mut salt = [0u8; SALT_LEN];
                OsRng.fill_bytes(&mut salt);
                salt
            }
        }
    }
}

impl Store {
    /// A store at `path` sealed with `secret`, with the default KDF costs.
    pub fn new(path: PathBuf, secret: Secret) -> Self {
        Store {
            path,
            secret,
            kdf: KdfParams::default(),
            derived: KeyCache::default(),
        }
    }

    /// The store the command-line options name.
    pub fn from_opts(o: &StoreOpts) -> Result<Self, StoreError> {
        let path = match &o.net {
            Some(p) => p.clone(),
            None => default_store_path()?,
        };
        let secret = match (&o.passphrase_env, &o.key_file) {
            (Some(var), _) => match std::env::var(var) {
                Ok(p) if !p.is_empty() => Secret::Passphrase(p),
                _ => return Err(StoreError::NoPassphrase(var.clone())),
            },
            (None, Some(k)) => Secret::KeyFile(k.clone()),
            (None, None) => Secret::KeyFile(default_key_file(&path)),
        };
        Ok(Store::new(path, secret))
    }

    /// Whether the store file exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Takes the store for this process: an exclusive advisory lock on `STORE.lock` beside
    /// it, held until the returned guard drops (or the process ends). Every process that
    /// writes the store (its sequence number reservation above all) holds it, so two never
    /// hand out the same sequence numbers or overwrite each other's database.
    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        // Nothing is created beside a store path that names a directory or a device.
        files::refuse_non_regular(&self.path, files::STORE).map_err(StoreError::File)?;
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            make_dir(d)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("open the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(StoreLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(StoreError::Busy(self.path.clone())),
            Err(fs::TryLockError::Error(e)) => Err(io_err("lock", &path)(e)),
        }
    }

    /// Reads and opens the store. The file is checked before it is read (a regular file, not
    /// larger than a store can be: see [`files::STORE`]), and its header before the rest.
    pub fn load(&self) -> Result<NetState, StoreError> {
        let (mut file, meta) =
            files::open(&self.path, files::STORE).map_err(|e| match e.problem {
                Problem::Missing => StoreError::Missing(self.path.clone()),
                _ => StoreError::File(e),
            })?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        (&mut file)
            .take(MAX_HEADER_LEN as u64)
            .read_to_end(&mut bytes)
            .map_err(io_err("read", &self.path))?;
        let header = parse_header(&bytes).map_err(|e| e.at(&self.path))?;
        let key = match (&header.sealing, &self.secret) {
            (Sealing::KeyFile, Secret::KeyFile(path)) => read_key_file(path)?,
            (Sealing::Passphrase { params, salt }, Secret::Passphrase(pass)) => {
                self.derived.key(pass, salt, *params).map_err(|e| {
                    OpenError::Corrupt(format!("bad key derivation parameters: {e}")).at(&self.path)
                })?
            }
            (sealing, given) => {
                let passphrase = matches!(sealing, Sealing::Passphrase { .. });
                return Err(StoreError::WrongSecretKind {
                    path: self.path.clone(),
                    sealed: sealing.describe(),
                    given: given.describe(),
                    hint: if passphrase {
                        " (pass --passphrase-env VAR)"
                    } else {
                        " (omit --passphrase-env, or pass --key-file FILE)"
                    },
                });
            }
        };
        let room = files::STORE.limit - bytes.len() as u64;
        match files::read_at_most(&mut file, &mut bytes, room) {
            Ok(true) => {}
            Ok(false) => {
                return Err(StoreError::File(files::ReadError::too_large(
                    &self.path,
                    files::STORE,
                    bytes.len() as u64,
                )))
            }
            Err(e) => return Err(io_err("read", &self.path)(e)),
        }
        open_sealed(&bytes, &key).map_err(|e| e.at(&self.path))
    }

    /// Seals and writes `state`, atomically, replacing the store. Creates the key file first
    /// if the store is sealed with a key file that does not exist yet.
    ///
    /// A state whose network database is inconsistent (two nodes on one address, a key
    /// index twice, ...) is refused and the store left as it was: what is written must read
    /// back as it was meant.
    pub fn save(&self, state: &NetState) -> Result<(), StoreError> {
        tracing::debug!(
            target: "weft::store",
            path = %self.path.display(),
            seq_reserved = state.local.as_ref().map(|l| l.seq_reserved),
            iv_index = state.iv_index,
            nodes = state.cdb.nodes.len(),
            "saving the network store"
        );
        state
            .cdb
            .validate()
            .map_err(|e| StoreError::Inconsistent(self.path.clone(), e.to_string()))?;
        let plain = postcard::to_stdvec(state).map_err(|e| StoreError::Io {
            what: "encode",
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        self.seal(FORMAT_VERSION, &plain)
    }

    /// Seals `plain` as format `version` and writes it, atomically.
    fn seal(&self, version: u8, plain: &[u8]) -> Result<(), StoreError> {
        let mut header = Vec::with_capacity(64);
        header.extend_from_slice(&MAGIC);
        header.push(version);
        let key = match &self.secret {
            Secret::KeyFile(path) => {
                header.push(KDF_KEY_FILE);
                match read_key_file(path) {
                    Ok(k) => k,
                    // A new key only for a new store: never reseal a store whose key is lost.
                    Err(StoreError::KeyFile { .. }) if !path.exists() && !self.exists() => {
                        create_key_file(path)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Secret::Passphrase(pass) => {
                header.push(KDF_ARGON2ID);
                let salt = self.derived.salt_for(pass, self.kdf);
                for v in [self.kdf.m_cost, self.kdf.t_cost, self.kdf.p_cost] {
                    header.extend_from_slice(&v.to_le_bytes());
                }
                header.extend_from_slice(&salt);
                self.derived
                    .key(pass, &salt, self.kdf)
                    .map_err(|e| StoreError::Io {
                        what: "derive the key for",
                        path: self.path.clone(),
                        source: io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
                    })?
            }
        };
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        header.extend_from_slice(&nonce);
        let cipher = Aes256Gcm::new_from_slice(&key).expect("32-octet key");
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &header,
                },
            )
            .map_err(|_| StoreError::Io {
                what: "seal",
                path: self.path.clone(),
                source: io::Error::other("AES-GCM encryption failed"),
            })?;
        header.extend_from_slice(&ct);
        write_atomic(&self.path, &header)
    }

    /// Writes a new store. An existing store is replaced only with `force`, and only if it
    /// opens with this store's secret (a store that cannot be opened is never overwritten).
    pub fn create(&self, state: &NetState, force: bool) -> Result<(), StoreError> {
        files::refuse_non_regular(&self.path, files::STORE).map_err(StoreError::File)?;
        if self.exists() {
            if !force {
                return Err(StoreError::Exists(self.path.clone()));
            }
            self.load()?;
        }
        self.save(state)
    }
}

/// The store held by this process (see [`Store::lock`]); released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

fn derive_key(pass: &str, salt: &[u8], p: KdfParams) -> Result<[u8; 32], argon2::Error> {
    let params = argon2::Params::new(p.m_cost, p.t_cost, p.p_cost, Some(32))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    a.hash_password_into(pass.as_bytes(), salt, &mut key)?;
    Ok(key)
}

/// Reads a key file: 64 hex digits (surrounding white space ignored) or 32 raw octets. The
/// file must be a regular file that only its owner can read or write (mode 0600 or 0400, as
/// ssh asks of a private key): it is the network's root secret, and a key others can read is
/// a key to be replaced, not used quietly.
pub fn read_key_file(path: &Path) -> Result<[u8; 32], StoreError> {
    let err = |why: String| StoreError::KeyFile {
        path: path.to_owned(),
        why,
    };
    let (mut file, meta) = files::open(path, files::KEY_FILE).map_err(|e| err(e.why()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(StoreError::KeyFileMode {
            path: path.to_owned(),
            how: if mode & 0o044 != 0 {
                "readable"
            } else {
                "writable"
            },
            mode,
        });
    }
    let mut bytes = Vec::new();
    match files::read_at_most(&mut file, &mut bytes, files::KEY_FILE.limit) {
        Ok(true) => {}
        Ok(false) => {
            let len = bytes.len() as u64;
            return Err(err(
                files::ReadError::too_large(path, files::KEY_FILE, len).why()
            ));
        }
        Err(e) => return Err(err(e.to_string())),
    }
    let mut key = [0u8; 32];
    let text = std::str::from_utf8(&bytes).map(str::trim);
    match text {
        Ok(t) if t.len() == 64 && hex::decode_to_slice(t, &mut key).is_ok() => Ok(key),
        _ if bytes.len() == 32 => {
            key.copy_from_slice(&bytes);
            Ok(key)
        }
        _ => Err(err("not a 256-bit key (64 hexadecimal digits)".into())),
    }
}

/// Creates a key file with a random key, mode 0600; never replaces an existing file.
pub fn create_key_file(path: &Path) -> Result<[u8; 32], StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        make_dir(dir)?;
    }
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("create the key file", path))?;
    f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io_err("write the key file", path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_dir(dir)?;
    }
    Ok(key)
}

fn make_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("create the directory", dir))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync the directory", dir))
}

/// Writes `bytes` to `path` atomically with mode 0600: a temporary file in the same directory
/// (`.NAME.tmp.PID.RANDOM`), fsync, rename over `path`, fsync of the directory. A leftover
/// temporary file from a crash is never read and does not stop the next write, which removes
/// it (see [`remove_dead_temporaries`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    make_dir(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    remove_dead_temporaries(&dir, &name);
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{:08x}",
        std::process::id(),
        OsRng.next_u32()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        // The mode above is filtered by the umask; make sure of 0600.
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err("set the mode of", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("replace", path))?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes the temporary files that writers of `name` left in `dir` when they died before
/// their rename (`.NAME.tmp.PID.RANDOM`), only those whose writer's process is gone: a live
/// writer's temporary file is its write in progress. A process id taken again since by
/// another process only keeps a leftover one more write. Best effort: what cannot be
/// removed stays, and nothing is removed when /proc cannot tell which processes live (not
/// mounted, or another PID namespace's).
pub fn remove_dead_temporaries(dir: &Path, name: &str) {
    let me = std::process::id();
    let proc_is_ours = fs::read_link("/proc/self")
        .is_ok_and(|p| p.as_os_str().to_str() == Some(me.to_string().as_str()));
    if !proc_is_ours {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.tmp.");
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(temporary_pid)
        else {
            continue;
        };
        let alive = pid == me || Path::new("/proc").join(pid.to_string()).exists();
        if !alive && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The writer's process id in the tail `PID.RANDOM` of a temporary file's name (RANDOM is 8
/// hex digits, as [`write_atomic`] names them); `None` for any other name.
fn temporary_pid(tail: &str) -> Option<u32> {
    let (pid, random) = tail.split_once('.')?;
    let digits = |s: &str, hex: bool| {
        !s.is_empty()
            && s.bytes().all(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    if random.len() != 8 || !digits(random, true) || !digits(pid, false) {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_data_home_resolution() {
        let s = |v: &str| Some(OsString::from(v));
        assert_eq!(
            data_home(s("/x/data"), s("/home/u")),
            Some(PathBuf::from("/x/data"))
        );
        // Unset, empty or relative XDG_DATA_HOME falls back to ~/.local/share.
        assert_eq!(
            data_home(None, s("/home/u")),
            Some(PathBuf::from("/home/u/.local/share"))
        );
        assert_eq!(
            data_home(s(""), s("/home/u")),
            Some(PathBuf::from("/home/u/.local/share"))
        );
        assert_eq!(
            data_home(s("rel/dir"), s("/home/u")),
            Some(PathBuf::from("/home/u/.local/share"))
        );
        assert_eq!(data_home(None, None), None);
    }

    #[test]
    fn only_writers_temporary_files_are_recognised() {
        assert_eq!(temporary_pid("4242.deadbeef"), Some(4242));
        for other in [
            "4242",
            "4242.dead",
            "x.deadbeef",
            ".deadbeef",
            "4242.deadbeefs",
            "-1.deadbeef",
        ] {
            assert_eq!(temporary_pid(other), None, "{other}");
        }
    }

    #[test]
    fn key_file_beside_the_store() {
        assert_eq!(
            default_key_file(Path::new("/d/weft/network.weft")),
            PathBuf::from("/d/weft/network.weft.key")
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(StoreError::Exists(PathBuf::new()).exit(), Exit::Refused);
        assert_eq!(StoreError::Unlock(PathBuf::new()).exit(), Exit::Refused);
        assert_eq!(StoreError::Missing(PathBuf::new()).exit(), Exit::Usage);
        assert_eq!(
            StoreError::Io {
                what: "write",
                path: PathBuf::new(),
                source: io::Error::other("x")
            }
            .exit(),
            Exit::Unavailable
        );
        assert_eq!(StoreError::Busy(PathBuf::new()).exit(), Exit::Unavailable);
    }

    #[test]
    fn a_passphrase_is_stretched_once_per_store_not_once_per_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::new(
            dir.path().join("net.weft"),
            Secret::Passphrase("correct horse".into()),
        );
        store.kdf = KdfParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let state = NetState {
            cdb: Cdb::new([1; 16], "n", "2025-01-01T00:00:00Z"),
            iv_index: 3,
            iv_update: false,
            local: None,
            rpl: None,
            iv_state_since: None,
        };
        let salt = |p: &Path| std::fs::read(p).unwrap()[22..22 + SALT_LEN].to_vec();
        store.save(&state).unwrap();
        let first = salt(&store.path);
        store.save(&state).unwrap();
        // Same salt (the cached key), a fresh nonce: the files differ, both open.
        assert_eq!(salt(&store.path), first);
        assert_eq!(store.load().unwrap(), state);
        // Another process (a fresh Store) derives the key again and opens it; a wrong
        // passphrase does not.
        let mut other = Store::new(
            store.path.clone(),
            Secret::Passphrase("correct horse".into()),
        );
        other.kdf = store.kdf;
        assert_eq!(other.load().unwrap(), state);
        let wrong = Store::new(store.path.clone(), Secret::Passphrase("wrong".into()));
        assert!(matches!(wrong.load(), Err(StoreError::Unlock(_))));
        // The cached key is never printed.
        assert!(format!("{store:?}").contains("KeyCache(..)"));
    }

    #[test]
    fn a_version_1_store_still_opens_without_a_replay_list() {
        #[derive(Serialize)]
        struct V1 {
            #[serde(with = "cdb_as_json")]
            cdb: Cdb,
            iv_index: u32,
            iv_update: bool,
            local: Option<NodeState>,
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(
            dir.path().join("net.weft"),
            Secret::KeyFile(dir.path().join("k")),
        );
        let cdb = Cdb::new([1; 16], "old", "2025-01-01T00:00:00Z");
        let v1 = V1 {
            cdb: cdb.clone(),
            iv_index: 7,
            iv_update: false,
            local: None,
        };
        store
            .seal(FORMAT_VERSION_1, &postcard::to_stdvec(&v1).unwrap())
            .unwrap();
        let state = store.load().unwrap();
        assert_eq!((state.iv_index, &state.rpl, &state.cdb), (7, &None, &cdb));
        // Written back as version 2, with a replay protection list.
        let mut state = state;
        let mut rpl = ReplayProtectionList::new(4);
        let src = weft_mesh::ble::UnicastAddress::new(0x0042).unwrap();
        let seq = weft_mesh::ble::address::Seq::new(77).unwrap();
        rpl.accept(src, weft_mesh::ble::IvIndex(7), seq).unwrap();
        state.rpl = Some(rpl.clone());
        store.save(&state).unwrap();
        assert_eq!(store.load().unwrap().rpl, Some(rpl));
        assert_eq!(std::fs::read(&store.path).unwrap()[8], FORMAT_VERSION);
        assert_eq!(store.load().unwrap().iv_index, 7);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever a sealed store holds (a damaged or foreign encoding that still
        /// authenticates), opening it reports it and never panics.
        #[test]
        fn any_sealed_contents_open_or_are_reported(
            version in proptest::prelude::prop_oneof![proptest::prelude::Just(FORMAT_VERSION_1), proptest::prelude::Just(FORMAT_VERSION)],
            plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::new(
                dir.path().join("net.weft"),
                Secret::KeyFile(dir.path().join("k")),
            );
            store.seal(version, &plain).unwrap();
            match store.load() {
                Ok(_) | Err(StoreError::Corrupt { .. }) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        }
    }

    /// Two nodes on one address: the store is never written so (it would not read back as
    /// meant), and a store an older weft wrote so still opens, keys and all.
    #[test]
    fn an_inconsistent_database_is_never_written_but_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(
            dir.path().join("net.weft"),
            Secret::KeyFile(dir.path().join("k")),
        );
        let mut state = NetState {
            cdb: Cdb::new([1; 16], "n", "2025-01-01T00:00:00Z"),
            iv_index: 3,
            iv_update: false,
            local: None,
            rpl: None,
            iv_state_since: None,
        };
        store.save(&state).unwrap();
        let before = std::fs::read(&store.path).unwrap();
        let node = |uuid: u8| {
            let mut n = weft_mesh::ble::cdb::CdbNode::from_node_state(
                &weft_mesh::ble::node::NodeState::new(
                    [uuid; 16],
                    weft_mesh::ble::UnicastAddress::new(0x0002).unwrap(),
                    [3; 16],
                    [4; 16],
                    weft_mesh::ble::IvIndex(3),
                    Vec::new(),
                ),
                None,
            );
            n.net_keys.clear();
            n
        };
        state.cdb.nodes = vec![node(7), node(8)];
        let err = store.save(&state).unwrap_err();
        assert!(matches!(err, StoreError::Inconsistent(..)), "{err}");
        assert!(err.to_string().contains("overlaps"), "{err}");
        assert_eq!(
            std::fs::read(&store.path).unwrap(),
            before,
            "left as it was"
        );
        // As an older weft wrote it: it opens.
        store
            .seal(FORMAT_VERSION, &postcard::to_stdvec(&state).unwrap())
            .unwrap();
        assert_eq!(store.load().unwrap().cdb.nodes.len(), 2);
    }

    #[test]
    fn one_process_part_holds_the_store_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(
            dir.path().join("net.weft"),
            Secret::KeyFile(dir.path().join("k")),
        );
        let held = store.lock().unwrap();
        // A second open file description (as another process would have) is refused.
        assert!(matches!(store.lock(), Err(StoreError::Busy(_))));
        drop(held);
        assert!(store.lock().is_ok());
    }
}
