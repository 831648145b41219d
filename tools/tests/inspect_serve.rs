//! `weft inspect --serve PATH` beside the operator commands, all through one `weft serve`, in
//! tmux as a user sees it: the inspector shows the air the server hears, decoded with the
//! network it holds; `P` in it provisions the device through the server, and `weft send
//! --serve` switches the new node at the same time (without the server, the inspector would
//! hold the store and the command would wait).

use std::time::Duration;

mod procs;

use procs::tmux::{wait_for, Tmux};
use procs::{hub, onoff_node, run, scratch, serve};

#[test]
fn the_inspector_provisions_while_the_operator_commands_act_through_weft_serve() {
    if Tmux::skipped() {
        return;
    }
    let dir = scratch("inspect", "serve");
    let sock = dir.join("air.sock");
    let radio = format!("sim:{}", sock.display());
    let _hub = hub(&sock);
    let uuid = "0102030405060708090a0b0c0d0e0f10";
    let _node = onoff_node(&radio, uuid, &dir.join("node.weft"));
    let net = dir.join("net.weft");
    let net = net.to_str().unwrap();
    assert_eq!(run(&["net", "create", "--net", net]).0, 0);
    let ctl = dir.join("ctl.sock");
    let _server = serve(&radio, net.as_ref(), &ctl);
    let ctl = ctl.to_str().unwrap();
    let exit_file = dir.join("exit");
    let cmd = format!(
        "'{}' inspect --serve '{ctl}'; echo $? > '{}'",
        env!("CARGO_BIN_EXE_weft"),
        exit_file.display()
    );
    let t = Tmux::start("weft-test-serve", &cmd);
    let mut screen = String::new();
    wait_for(
        "the device's beacon on the screen",
        Duration::from_secs(40),
        || {
            screen = t.capture();
            screen.contains("Unprovisioned Device Beacon")
        },
    );
    assert!(screen.contains("weft serve"), "{screen}");
    // Drawn from the server's node (weft's node, 0001), not as a listener of its own.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("0001 weft serve") && l.contains(" you ")),
        "{screen}"
    );
    assert!(!screen.contains("this listener"), "{screen}");
    // The Unprovisioned tab, P on the device heard: a request to the server.
    t.keys("u");
    t.keys("P");
    wait_for(
        "the server's reply on the status line",
        Duration::from_secs(60),
        || {
            screen = t.capture();
            screen.contains("provisioned 01020304 as 0002, configured")
        },
    );
    assert!(screen.contains("through weft serve"), "{screen}");
    let (code, out, err) = run(&["send", "--serve", ctl, "--dst", "0002", "onoff", "on"]);
    assert_eq!((code, out.trim()), (0, "0002: OnOff Status on"), "{err}");
    // The answer, decoded with the application key the server's network holds.
    wait_for(
        "the light's answer on the screen",
        Duration::from_secs(40),
        || {
            screen = t.capture();
            screen.contains("OnOff Status")
        },
    );
    t.keys("q");
    wait_for("weft to exit", Duration::from_secs(20), || {
        exit_file.exists()
    });
    let code = std::fs::read_to_string(&exit_file).unwrap();
    assert_eq!(code.trim(), "0", "{screen}");
    let _ = std::fs::remove_dir_all(&dir);
}
