//! `weft net` as a process: create, show, export, import, the store's location, exit codes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn weft(home: &Path) -> Command {
    let mut c = Command::cargo_bin("weft").unwrap();
    // Never touch the real data directory.
    c.env("HOME", home)
        .env("XDG_DATA_HOME", home.join("xdg"))
        .env_remove("WEFT_PASS");
    c
}

fn fixture(name: &str) -> String {
    format!("{}/tests/data/cdb/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn code(c: &mut Command) -> (i32, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn create_show_and_refuse_to_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("lab.weft");
    let n = net.to_str().unwrap();
    let out = stdout(weft(d.path()).args(["net", "create", "--name", "Lab", "--net", n]));
    assert!(out.contains("created network \"Lab\""), "{out}");
    assert_eq!(
        fs::metadata(&net).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(d.path().join("lab.weft.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let show = stdout(weft(d.path()).args(["net", "show", "--net", n]));
    assert!(
        show.contains("Network     Lab") && show.contains("(this host)"),
        "{show}"
    );
    let json: Value = serde_json::from_str(&stdout(
        weft(d.path()).args(["net", "--net", n, "show", "--json"]),
    ))
    .unwrap();
    assert_eq!(json["meshName"], "Lab");
    assert_eq!(json["ivIndex"], 0);
    assert_eq!(json["netKeys"][0]["index"], 0);
    assert_eq!(json["appKeys"][0]["boundNetKey"], 0);
    assert_eq!(
        json["provisioners"][0]["allocatedUnicastRange"][0]["lowAddress"],
        "0001"
    );

    let before = fs::read(&net).unwrap();
    let (c, err) = code(weft(d.path()).args(["net", "create", "--net", n]));
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(&net).unwrap(), before);
    assert_eq!(
        code(weft(d.path()).args(["net", "create", "--force", "--net", n])).0,
        0
    );
    assert_ne!(fs::read(&net).unwrap(), before);
}

#[test]
fn default_location_follows_xdg() {
    let d = tempfile::tempdir().unwrap();
    stdout(weft(d.path()).args(["net", "create"]));
    assert!(d.path().join("xdg/weft/network.weft").is_file());
    assert!(d.path().join("xdg/weft/network.weft.key").is_file());
    // Without XDG_DATA_HOME: ~/.local/share.
    stdout(
        weft(d.path())
            .env_remove("XDG_DATA_HOME")
            .args(["net", "create"]),
    );
    assert!(d.path().join(".local/share/weft/network.weft").is_file());
    let show = stdout(
        weft(d.path())
            .env_remove("XDG_DATA_HOME")
            .args(["net", "show"]),
    );
    assert!(show.contains(".local/share/weft/network.weft"), "{show}");
}

#[test]
fn passphrase_from_environment() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("p.weft");
    let n = net.to_str().unwrap();
    stdout(weft(d.path()).env("WEFT_PASS", "s3cret").args([
        "net",
        "create",
        "--net",
        n,
        "--passphrase-env",
        "WEFT_PASS",
    ]));
    assert!(!d.path().join("p.weft.key").exists());
    stdout(weft(d.path()).env("WEFT_PASS", "s3cret").args([
        "net",
        "show",
        "--net",
        n,
        "--passphrase-env",
        "WEFT_PASS",
    ]));
    let before = (
        fs::read(&net).unwrap(),
        fs::metadata(&net).unwrap().modified().unwrap(),
    );
    let (c, err) = code(weft(d.path()).env("WEFT_PASS", "guess").args([
        "net",
        "show",
        "--net",
        n,
        "--passphrase-env",
        "WEFT_PASS",
    ]));
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("wrong passphrase or key"), "{err}");
    let (c, _) = code(weft(d.path()).env("WEFT_PASS", "guess").args([
        "net",
        "import",
        "--force",
        "--cdb",
        &fixture("nrf-mesh.json"),
        "--net",
        n,
        "--passphrase-env",
        "WEFT_PASS",
    ]));
    assert_eq!(c, 1);
    assert_eq!(
        (
            fs::read(&net).unwrap(),
            fs::metadata(&net).unwrap().modified().unwrap()
        ),
        before
    );
    let (c, err) =
        code(weft(d.path()).args(["net", "show", "--net", n, "--passphrase-env", "WEFT_PASS"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("WEFT_PASS"), "{err}");
    let (c, err) = code(weft(d.path()).args(["net", "show", "--net", n]));
    assert_eq!(c, 1, "{err}");
    assert!(err.contains("sealed with a passphrase"), "{err}");
}

#[test]
fn import_export_import() {
    for f in [
        "nrf-mesh.json",
        "nrf-mesh-legacy.json",
        "bluez-mesh-cfgclient.json",
    ] {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.weft");
        let b = d.path().join("b.weft");
        let out = stdout(weft(d.path()).args([
            "net",
            "import",
            "--cdb",
            &fixture(f),
            "--net",
            a.to_str().unwrap(),
        ]));
        assert!(out.contains("imported network"), "{out}");
        let exported = d.path().join("export.json");
        stdout(weft(d.path()).args([
            "net",
            "export",
            "--cdb",
            exported.to_str().unwrap(),
            "--net",
            a.to_str().unwrap(),
        ]));
        assert_eq!(
            fs::metadata(&exported).unwrap().permissions().mode() & 0o777,
            0o600
        );
        stdout(weft(d.path()).args([
            "net",
            "import",
            "--cdb",
            exported.to_str().unwrap(),
            "--net",
            b.to_str().unwrap(),
        ]));
        let again = stdout(weft(d.path()).args([
            "net",
            "export",
            "--cdb",
            "-",
            "--net",
            b.to_str().unwrap(),
        ]));
        assert_eq!(again, fs::read_to_string(&exported).unwrap(), "{f}");
        let show_a =
            stdout(weft(d.path()).args(["net", "show", "--json", "--net", a.to_str().unwrap()]));
        let show_b =
            stdout(weft(d.path()).args(["net", "show", "--json", "--net", b.to_str().unwrap()]));
        assert_eq!(show_a, show_b, "{f}");
    }
}

#[test]
fn bad_input_is_a_usage_error_naming_the_field() {
    let d = tempfile::tempdir().unwrap();
    let n = d.path().join("x.weft");
    let n = n.to_str().unwrap();
    let bad = d.path().join("bad.json");
    let text = fs::read_to_string(fixture("nrf-mesh.json"))
        .unwrap()
        .replacen(
            "\"unicastAddress\" : \"0002\"",
            "\"unicastAddress\" : \"9002\"",
            1,
        );
    fs::write(&bad, text).unwrap();
    let (c, err) =
        code(weft(d.path()).args(["net", "import", "--cdb", bad.to_str().unwrap(), "--net", n]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("nodes[1].unicastAddress"), "{err}");
    fs::write(&bad, "{ \"meshUUID\": ").unwrap();
    let (c, err) =
        code(weft(d.path()).args(["net", "import", "--cdb", bad.to_str().unwrap(), "--net", n]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("not valid JSON"), "{err}");
    let (c, err) =
        code(weft(d.path()).args(["net", "import", "--cdb", "/nonexistent/x.json", "--net", n]));
    assert_eq!(c, 2, "{err}");
    assert!(!Path::new(n).exists());
    let (c, err) = code(weft(d.path()).args(["net", "show", "--net", n]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("weft net create"), "{err}");
    assert_eq!(code(weft(d.path()).args(["net", "frobnicate"])).0, 2);
}

#[test]
fn unwritable_places_are_infrastructure_errors() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain-file");
    fs::write(&file, "x").unwrap();
    let under_file = file.join("sub").join("n.weft");
    let (c, err) =
        code(weft(d.path()).args(["net", "create", "--net", under_file.to_str().unwrap()]));
    assert_eq!(c, 3, "{err}");
    let n = d.path().join("ok.weft");
    stdout(weft(d.path()).args(["net", "create", "--net", n.to_str().unwrap()]));
    let (c, err) = code(weft(d.path()).args([
        "net",
        "export",
        "--cdb",
        file.join("out.json").to_str().unwrap(),
        "--net",
        n.to_str().unwrap(),
    ]));
    assert_eq!(c, 3, "{err}");
}
