//! The sealed network store: round trips, refusals that leave the file untouched, file modes,
//! atomic replacement.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use weft::net::new_network;
use weft::store::{default_key_file, KdfParams, NetState, Secret, Store, StoreError, MAGIC};

/// Cheap Argon2id costs: the tests check the format, not the hardness.
const FAST: KdfParams = KdfParams {
    m_cost: 64,
    t_cost: 1,
    p_cost: 1,
};

fn network(seed: u64) -> NetState {
    new_network(
        "test",
        &mut ChaCha8Rng::seed_from_u64(seed),
        "2024-01-01T00:00:00Z",
    )
}

fn with_passphrase(path: &Path, pass: &str) -> Store {
    let mut s = Store::new(path.to_owned(), Secret::Passphrase(pass.into()));
    s.kdf = FAST;
    s
}

fn with_key_file(path: &Path) -> Store {
    Store::new(path.to_owned(), Secret::KeyFile(default_key_file(path)))
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The bytes and modification time of a file, to show it was not touched.
fn snapshot(p: &Path) -> (Vec<u8>, std::time::SystemTime) {
    (
        fs::read(p).unwrap(),
        fs::metadata(p).unwrap().modified().unwrap(),
    )
}

#[test]
fn round_trip_with_key_file_and_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = network(1);
    state.iv_index = 0x1234_5678;
    state.local.as_mut().unwrap().seq_reserved = 0x00_2000;

    let kf = with_key_file(&dir.path().join("a.weft"));
    kf.create(&state, false).unwrap();
    assert_eq!(kf.load().unwrap(), state);

    let pp = with_passphrase(&dir.path().join("b.weft"), "correct horse");
    pp.create(&state, false).unwrap();
    assert_eq!(pp.load().unwrap(), state);
    // The KDF parameters are in the header, after the magic, version and key source.
    let bytes = fs::read(&pp.path).unwrap();
    assert_eq!(bytes[..8], MAGIC);
    assert_eq!((bytes[8], bytes[9]), (weft::store::FORMAT_VERSION, 1));
    assert_eq!(u32::from_le_bytes(bytes[10..14].try_into().unwrap()), 64);
    // Loading with other (default) costs configured still reads the file's.
    let mut other = pp.clone();
    other.kdf = KdfParams::default();
    assert_eq!(other.load().unwrap(), state);
    // No plaintext key material in the file.
    let key = state.cdb.net_keys[0].key.0;
    assert!(!bytes.windows(16).any(|w| w == key));
}

#[test]
fn every_write_uses_a_fresh_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let s = with_key_file(&dir.path().join("n.weft"));
    let state = network(2);
    s.save(&state).unwrap();
    let a = fs::read(&s.path).unwrap();
    s.save(&state).unwrap();
    let b = fs::read(&s.path).unwrap();
    assert_eq!(a.len(), b.len());
    assert_ne!(a[10..22], b[10..22], "nonce reused");
    assert_ne!(a[22..], b[22..]);
}

#[test]
fn wrong_passphrase_is_refused_and_leaves_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.weft");
    with_passphrase(&path, "right")
        .create(&network(3), false)
        .unwrap();
    let before = snapshot(&path);
    let wrong = with_passphrase(&path, "wrong");
    let e = wrong.load().unwrap_err();
    assert!(matches!(e, StoreError::Unlock(_)), "{e}");
    assert!(e.to_string().contains("wrong passphrase or key"), "{e}");
    // Even --force does not replace a store it cannot open.
    assert!(matches!(
        wrong.create(&network(4), true),
        Err(StoreError::Unlock(_))
    ));
    assert!(matches!(
        wrong.create(&network(4), false),
        Err(StoreError::Exists(_))
    ));
    assert_eq!(snapshot(&path), before);
    // A key file where a passphrase sealed it says so.
    let e = with_key_file(&path).load().unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::WrongSecretKind {
                sealed: "a passphrase",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(snapshot(&path), before);
}

#[test]
fn corrupt_stores_are_refused_and_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.weft");
    let s = with_key_file(&path);
    s.create(&network(5), false).unwrap();
    let good = fs::read(&path).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            {
                let mut b = good.clone();
                let n = b.len();
                b[n - 20] ^= 1;
                b
            },
            "unlock",
        ),
        (
            {
                let mut b = good.clone();
                b[15] ^= 0x80;
                b
            },
            "unlock",
        ), // the nonce is authenticated
        (good[..good.len() - 1].to_vec(), "unlock"),
        (good[..20].to_vec(), "corrupt"),
        (b"{\"meshUUID\": 1}".to_vec(), "corrupt"),
        (
            {
                let mut b = good.clone();
                b[8] = 9;
                b
            },
            "corrupt",
        ),
        (Vec::new(), "corrupt"),
    ];
    for (bytes, want) in cases {
        fs::write(&path, &bytes).unwrap();
        let before = snapshot(&path);
        let e = s.load().unwrap_err();
        match want {
            "unlock" => assert!(matches!(e, StoreError::Unlock(_)), "{e}"),
            _ => assert!(matches!(e, StoreError::Corrupt { .. }), "{e}"),
        }
        assert_eq!(e.exit(), weft::Exit::Refused);
        assert!(s.create(&network(6), true).is_err());
        assert_eq!(snapshot(&path), before);
    }
}

#[test]
fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep").join("er").join("m.weft");
    let s = with_key_file(&path);
    s.create(&network(7), false).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&default_key_file(&path)), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let key = fs::read_to_string(default_key_file(&path)).unwrap();
    assert_eq!(key.trim().len(), 64);
    // Rewriting keeps the mode even if someone loosened it.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    s.save(&network(7)).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_crash_leaves_a_temporary_file_that_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("network.weft");
    let s = with_key_file(&path);
    let state = network(8);
    s.create(&state, false).unwrap();
    // A write that died before its rename: a temporary file beside the store. Its writer's
    // id is above Linux's PID_MAX_LIMIT (4194304), so no process has it.
    let tmp = dir.path().join(".network.weft.tmp.4194399.deadbeef");
    fs::write(&tmp, b"half a store").unwrap();
    // A writer that is alive (another process: a child of this test) keeps its file.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let live = dir
        .path()
        .join(format!(".network.weft.tmp.{}.0badf00d", child.id()));
    fs::write(&live, b"a write in progress").unwrap();
    assert_eq!(s.load().unwrap(), state);
    let mut next = state.clone();
    next.iv_index = 1;
    s.save(&next).unwrap();
    assert_eq!(s.load().unwrap(), next);
    let _ = child.kill();
    let _ = child.wait();
    // The store, its key and the live writer's file are there: the dead writer's file went
    // with the next write, and the write left nothing of its own.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let live_name = live.file_name().unwrap().to_str().unwrap();
    assert_eq!(names, [live_name, "network.weft", "network.weft.key"]);
}

#[test]
fn missing_store_and_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.weft");
    let s = with_key_file(&path);
    assert!(matches!(s.load(), Err(StoreError::Missing(_))));
    s.create(&network(9), false).unwrap();
    fs::remove_file(default_key_file(&path)).unwrap();
    let e = s.load().unwrap_err();
    assert!(matches!(e, StoreError::KeyFile { .. }), "{e}");
    // Saving must not mint a new key over a store sealed with the lost one.
    assert!(s.create(&network(9), true).is_err());
    fs::write(default_key_file(&path), "00".repeat(32)).unwrap();
    // A key file others can read is refused until only its owner can.
    fs::set_permissions(default_key_file(&path), fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(s.load(), Err(StoreError::KeyFileMode { .. })));
    fs::set_permissions(default_key_file(&path), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(s.load(), Err(StoreError::Unlock(_))));
}
