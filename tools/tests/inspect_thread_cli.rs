//! `weft inspect`'s Thread options refused before anything starts: exit 2 and one sentence
//! naming what is wrong and how to write it.

mod procs;

use procs::run;

fn refused(args: &[&str], says: &str) {
    let (code, out, err) = run(args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert!(err.contains(says), "{args:?}: {err}");
    // The sentence, and at most clap's pointer to --help.
    let lines = err.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(lines <= 2, "{err}");
}

#[test]
fn bad_thread_options_are_usage_errors() {
    refused(
        &["inspect", "--radio", "otsim:1", "--channel", "27"],
        "'27' is not an IEEE 802.15.4 channel of the 2.4 GHz band: give 11 to 26",
    );
    refused(
        &["inspect", "--radio", "otsim:1", "--pan-id", "ffff"],
        "0xffff is the broadcast PAN ID",
    );
    refused(
        &["inspect", "--radio", "otsim:1", "--pan-id", "12345"],
        "'12345' is not a PAN ID: give 1 to 4 hex digits",
    );
    refused(
        &["inspect", "--radio", "otsim:1", "--thread-key", "0011"],
        "a key is 16 bytes (32 hex digits)",
    );
    refused(
        &[
            "inspect",
            "--radio",
            "otsim:1",
            "--mesh-local-prefix",
            "fdde::zz",
        ],
        "is not an IPv6 prefix",
    );
    refused(
        &[
            "inspect",
            "--thread-key",
            "00112233445566778899aabbccddeeff",
        ],
        "--thread-key applies to a Thread source: add --radio spinel:DEVICE",
    );
    refused(
        &[
            "inspect",
            "--radio",
            "otsim:1",
            "--radio",
            "sim:thread-home",
        ],
        "--radio otsim:1 and --radio sim:thread-home are both Thread sources",
    );
    refused(
        &["inspect", "--radio", "sim:smart-home", "--scenario", "grid"],
        "are both Bluetooth Mesh sources",
    );
    refused(
        &[
            "inspect",
            "--radio",
            "nrf154:/dev/null?channel=11",
            "--channel",
            "20",
        ],
        "listens on channel 11 and --channel says 20: give the channel once",
    );
}
