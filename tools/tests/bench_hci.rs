//! `weft bench hci` on two emulated controllers (`hil-tests/bumble/controllers.py`, through
//! `weft_hil::bumble`), briefly: the device is provisioned and configured, the OnOff round
//! trips are answered, and every figure is there and sane. Skipped, saying so, when the Bumble
//! venv is missing, except under CI=1.

use weft_hil::bumble::Fixture;

mod procs;

use procs::run;

#[test]
fn bench_hci_on_two_emulated_controllers() {
    let Some(ctl) = Fixture::tcp(2).start_or_skip() else {
        return;
    };
    let (a, b) = (ctl.radio_uri(0), ctl.radio_uri(1));
    let (code, out, err) = run(&[
        "bench",
        "hci",
        "--radio",
        &a,
        "--radio",
        &b,
        "--rounds",
        "3",
        "--seconds",
        "0.2",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let p = &v["provision"];
    assert_eq!(p["provisioned"], true, "{v}");
    assert_eq!(p["configured"], true, "{v}");
    let total = p["total_s"].as_f64().unwrap();
    let pb_adv = p["pb_adv_s"].as_f64().unwrap();
    assert!(0.0 < pb_adv && pb_adv < total && total < 60.0, "{p}");
    // weft's own processing is part of the wall time, not more.
    assert!(p["weft_ms"].as_f64().unwrap() < total * 1000.0, "{p}");
    assert!(p["frames_provisioner"].as_u64().unwrap() > 0, "{p}");
    assert!(p["frames_device"].as_u64().unwrap() > 0, "{p}");

    let o = &v["onoff"];
    assert_eq!(o["rounds"], 3, "{o}");
    assert!(o["answered"].as_u64().unwrap() >= 1, "{o}");
    let r = &o["rtt_ms"];
    let (min, med, max) = (
        r["min"].as_f64().unwrap(),
        r["median"].as_f64().unwrap(),
        r["max"].as_f64().unwrap(),
    );
    assert!(
        0.0 < min && min <= med && med <= max && max < 10_000.0,
        "{r}"
    );
    assert!(o["weft_ms_median"].as_f64().unwrap() < med, "{o}");

    let tx = &v["tx"];
    assert!(tx["advertised"].as_u64() >= tx["frames"].as_u64(), "{tx}");
    assert!(tx["per_frame_ms"].as_f64().unwrap() > 0.0, "{tx}");
    assert!(tx["heard"].as_u64().unwrap() > 0, "{tx}");
    assert!(
        v["emulator"]["reports_per_s"].as_f64().unwrap() > 0.0,
        "{v}"
    );

    let i = &v["ingest"];
    assert!(i["unpaced"]["reports_per_s"].as_f64().unwrap() > 0.0, "{i}");
    assert!(
        i["max_without_drops_per_s"].as_f64().unwrap() >= 9000.0,
        "{i}"
    );
}

#[test]
fn bench_hci_wants_two_hci_radios() {
    let (code, _, err) = run(&["bench", "hci", "--radio", "hci-tcp:127.0.0.1:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("two HCI radios"), "{err}");
    let (code, _, err) = run(&[
        "bench",
        "hci",
        "--radio",
        "hci-tcp:127.0.0.1:1",
        "--radio",
        "sim:/tmp/x.sock",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("HCI radios"), "{err}");
    let (code, _, err) = run(&[
        "bench",
        "hci",
        "--radio",
        "hci-tcp:127.0.0.1:1",
        "--radio",
        "hci-tcp:127.0.0.1:1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("twice"), "{err}");
}
