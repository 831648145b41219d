//! `weft bench thread` as a process: a short thread-home capture decoded by weft (and by
//! tshark when it is installed), the JSON's fields, and its argument checks.

mod procs;

use procs::run;

#[test]
fn a_short_thread_bench_decodes_every_frame_it_captured() {
    let (code, out, err) = run(&[
        "bench",
        "thread",
        "--seconds",
        "60",
        "--runs",
        "1",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let frames = v["frames"].as_u64().unwrap();
    assert!(frames > 50, "{v}");
    assert_eq!(v["decoded"], frames, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert!(v["mac_decrypted"].as_u64() > Some(0), "{v}");
    assert!(v["mle_messages"].as_u64() > Some(0), "{v}");
    assert!(v["weft_frames_per_s"].as_f64() > Some(0.0), "{v}");
    if std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok()
    {
        // A minute of air is too short to time tshark beyond its start-up: no rate, no
        // ratio, and the reason.
        let t = &v["tshark"];
        assert!(t["total_s_median"].as_f64() > Some(0.0), "{v}");
        if t["frames_per_s"].is_null() {
            assert!(v["ratio_weft_to_tshark"].is_null(), "{v}");
            assert!(
                t["why_no_rate"].as_str().unwrap().contains("--seconds"),
                "{v}"
            );
        } else {
            assert!(v["ratio_weft_to_tshark"].as_f64() > Some(0.0), "{v}");
        }
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let (code, _, err) = run(&["bench", "thread", "--seconds", "5"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--seconds"), "{err}");
    let (code, _, err) = run(&["bench", "thread", "--runs", "0"]);
    assert_eq!(code, 2, "{err}");
}
