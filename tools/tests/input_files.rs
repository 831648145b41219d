//! Files a user names, as a process sees them: a store, a key file, a CDB, a scenario that is a
//! device, a FIFO, a directory or far too large is refused at once with exit 2, naming the
//! file and what is wrong, and never read; key files others can read are refused as ssh
//! refuses them; temporary files of writers that died are removed by the next write.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// `weft ARGS` with its address space capped at 1 GiB and its time at 20 s: a weft that reads
/// `/dev/zero` whole or blocks on a FIFO fails the test instead of taking the machine.
fn bounded(home: &Path, args: &[&str]) -> Output {
    let weft = assert_cmd::cargo::cargo_bin("weft");
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(weft)
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg"))
        .env_remove("WEFT_PASS")
        .timeout(Duration::from_secs(20));
    c.output().unwrap()
}

fn code_and_stderr(o: &Output) -> (i32, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", p.display());
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A store and its key file made by `weft net create`.
fn create(home: &Path, net: &Path) {
    let o = bounded(home, &["net", "create", "--net", s(net)]);
    assert!(o.status.success(), "{}", code_and_stderr(&o).1);
}

#[test]
fn devices_fifos_and_directories_are_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let good = home.join("good.weft");
    create(home, &good);
    let imported = home.join("imported.weft");
    let fifo = home.join("fifo.toml");
    mkfifo(&fifo);
    let dir = home.join("dir.toml");
    fs::create_dir(&dir).unwrap();
    // A scenario is read from a path ending in .toml: a link to the device has one.
    let zero = home.join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (path, what) in [
        (s(&zero), "a character device"),
        (s(&fifo), "a FIFO"),
        (s(&dir), "a directory"),
    ] {
        let runs: [&[&str]; 5] = [
            &["net", "show", "--net", path],
            &["net", "show", "--net", s(&good), "--key-file", path],
            &["net", "import", "--cdb", path, "--net", s(&imported)],
            &["sim", "run", "--scenario", path],
            // weft node's state is a store too; refused before any radio is tried.
            &[
                "node",
                "--radio",
                "sim:/nonexistent/air.sock",
                "--uuid",
                "00112233445566778899aabbccddeeff",
                "--state",
                path,
            ],
        ];
        for args in runs {
            let t = Instant::now();
            let (c, err) = code_and_stderr(&bounded(home, args));
            assert_eq!(c, 2, "{args:?}: {err}");
            assert!(
                err.contains(path) && err.contains(what) && err.contains("not a regular file"),
                "{args:?}: {err}"
            );
            assert!(t.elapsed() < Duration::from_secs(10), "{args:?}");
            assert!(!imported.exists());
        }
    }
}

#[test]
fn files_larger_than_their_kind_are_refused_before_being_read() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    // Sparse: 200 MB that take no room on disk.
    let big = home.join("big.toml");
    fs::File::create(&big)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    for (args, limit) in [
        (
            vec!["net", "show", "--net", s(&big)],
            "network store can hold (64 MiB)",
        ),
        (
            vec![
                "net",
                "import",
                "--cdb",
                s(&big),
                "--net",
                s(&home.join("i.weft")),
            ],
            "CDB file can hold (64 MiB)",
        ),
        (
            vec!["sim", "run", "--scenario", s(&big)],
            "scenario file can hold (8 MiB)",
        ),
    ] {
        let (c, err) = code_and_stderr(&bounded(home, &args));
        assert_eq!(c, 2, "{args:?}: {err}");
        assert!(
            err.contains("200000000 octets") && err.contains(limit),
            "{args:?}: {err}"
        );
        assert!(err.contains(s(&big)), "{err}");
    }
    // A key file is 64 hex digits: two thousand are not one, however private.
    let net = home.join("k.weft");
    create(home, &net);
    let key = home.join("long.key");
    fs::write(&key, "0".repeat(2000)).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let (c, err) = code_and_stderr(&bounded(
        home,
        &["net", "show", "--net", s(&net), "--key-file", s(&key)],
    ));
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("2000 octets, more than a key file can hold (1024 octets)"),
        "{err}"
    );
}

#[test]
fn creating_a_store_where_a_directory_is_says_so() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("somewhere");
    fs::create_dir(&dir).unwrap();
    let (c, err) = code_and_stderr(&bounded(d.path(), &["net", "create", "--net", s(&dir)]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("is a directory, not a regular file"), "{err}");
    assert!(!err.contains("already exists"), "{err}");
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing written into it"
    );
    assert!(!d.path().join("somewhere.key").exists() && !d.path().join("somewhere.lock").exists());
}

#[test]
fn key_files_other_users_can_read_or_write_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let net = home.join("m.weft");
    create(home, &net);
    let key = home.join("m.weft.key");
    for (mode, how) in [
        (0o644, "readable"),
        (0o640, "readable"),
        (0o604, "readable"),
        (0o620, "writable"),
    ] {
        fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
        let (c, err) = code_and_stderr(&bounded(home, &["net", "show", "--net", s(&net)]));
        assert_eq!(c, 2, "{mode:o}: {err}");
        let want = format!(
            "key file {} is {how} by other users (mode {mode:04o}): run chmod 600 {}",
            s(&key),
            s(&key)
        );
        assert!(err.contains(&want), "{mode:o}: {err}");
    }
    for mode in [0o600, 0o400] {
        fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
        let o = bounded(home, &["net", "show", "--net", s(&net)]);
        assert!(o.status.success(), "{mode:o}: {}", code_and_stderr(&o).1);
    }
}

#[test]
fn temporary_files_of_dead_writers_go_with_the_next_write() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let net = home.join("lab.weft");
    create(home, &net);
    // Writers killed before their rename. No process has an id above 4194304 (Linux's
    // PID_MAX_LIMIT): that writer is dead. This test process is alive: its file stays.
    let dead = home.join(".lab.weft.tmp.4194399.deadbeef");
    let dead_too = home.join(".lab.weft.tmp.4194400.0000ffff");
    let live = home.join(format!(".lab.weft.tmp.{}.0badf00d", std::process::id()));
    // Names that are not a writer's temporary file of this store are never touched.
    let others = [
        home.join(".lab.weft.tmp.4194399.notahexx"),
        home.join(".lab.weft.tmp.4194399"),
        home.join(".other.weft.tmp.4194399.deadbeef"),
        home.join("notes.txt"),
    ];
    for f in [&dead, &dead_too, &live].into_iter().chain(&others) {
        fs::write(f, b"half a store").unwrap();
    }
    let o = bounded(home, &["net", "create", "--force", "--net", s(&net)]);
    assert!(o.status.success(), "{}", code_and_stderr(&o).1);
    assert!(
        !dead.exists() && !dead_too.exists(),
        "dead writers' files stay"
    );
    assert!(live.exists(), "a live writer's file was removed");
    for f in &others {
        assert!(f.exists(), "{} was removed", f.display());
    }
    // The same for the export's file, written the same way.
    let out = home.join("out.json");
    let dead_export = home.join(".out.json.tmp.4194399.deadbeef");
    fs::write(&dead_export, b"{").unwrap();
    let o = bounded(home, &["net", "export", "--cdb", s(&out), "--net", s(&net)]);
    assert!(o.status.success(), "{}", code_and_stderr(&o).1);
    assert!(!dead_export.exists() && out.exists());
}
