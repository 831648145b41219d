//! Traces: `-v`/`-vv`, `RUST_LOG` and `--log FILE` on any command.

mod procs;

use procs::weft;

#[test]
fn verbose_traces_go_to_stderr_or_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net.weft");
    let net = net.to_str().unwrap();
    // Quiet by default.
    let out = weft()
        .args(["net", "create", "--net", net])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("saving"));
    // -vv: debug traces on stderr.
    let out = weft()
        .args(["-vv", "net", "create", "--force", "--net", net])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("saving the network store"), "{err}");
    // --log FILE: the same traces in the file, none on stderr; the flag goes after the
    // subcommand too.
    let log = dir.path().join("weft.log");
    let out = weft()
        .args(["net", "create", "--force", "--net", net, "-vv", "--log"])
        .arg(&log)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("saving"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("saving the network store"), "{text}");
    // RUST_LOG chooses instead of -v; a bad one is a usage error.
    let out = weft()
        .args(["net", "show", "--net", net])
        .env("RUST_LOG", "weft::store=debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = weft()
        .args(["net", "show", "--net", net])
        .env("RUST_LOG", "weft=loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RUST_LOG='weft=loud'"));
}
