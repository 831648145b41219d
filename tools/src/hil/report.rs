//! What `weft hil run` reports: NDJSON lines (`step`, `result`, and a last `summary`; the
//! schema is `hil-tests/schema/hil-run.schema.json`), a human summary, and JUnit XML for CI.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::runner::{Outcome, Status};

/// The `result` line of a scenario.
pub fn result_line(o: &Outcome) -> Value {
    json!({
        "type": "result",
        "scenario": o.scenario,
        "status": o.status.as_str(),
        "duration_s": round(o.duration_s),
        "reason": o.reason,
        "setup_s": round(o.setup_s),
        "scenario_s": round(o.scenario_s),
    })
}

/// The last line: counts.
pub fn summary_line(outcomes: &[Outcome]) -> Value {
    let (p, f, s) = counts(outcomes);
    json!({"type": "summary", "passed": p, "failed": f, "skipped": s})
}

/// Passed, failed, skipped.
pub fn counts(outcomes: &[Outcome]) -> (usize, usize, usize) {
    let n = |st| outcomes.iter().filter(|o| o.status == st).count();
    (n(Status::Pass), n(Status::Fail), n(Status::Skip))
}

/// One human line per scenario.
pub fn human_line(o: &Outcome) -> String {
    let tag = match o.status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
    };
    let mut s = format!("{tag}  {:<28} {:>7.3} s", o.scenario, o.duration_s);
    if !o.reason.is_empty() {
        let _ = write!(s, "  {}", o.reason);
    }
    s
}

fn round(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

/// JUnit XML (the form Jenkins, GitLab and GitHub's reporters read): one test suite, one test
/// case per scenario, `<failure>` or `<skipped>` with the reason.
pub fn junit(rig: &str, outcomes: &[Outcome]) -> String {
    let (_, f, s) = counts(outcomes);
    let total: f64 = outcomes.iter().map(|o| o.duration_s).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"weft hil\" tests=\"{}\" failures=\"{f}\" skipped=\"{s}\" time=\"{total:.3}\">",
        outcomes.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"weft-hil.{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" skipped=\"{s}\" time=\"{total:.3}\">",
        escape(rig),
        outcomes.len()
    );
    for o in outcomes {
        let _ = write!(
            x,
            "    <testcase classname=\"weft-hil.{}\" name=\"{}\" time=\"{:.3}\"",
            escape(rig),
            escape(&o.scenario),
            o.duration_s
        );
        match o.status {
            Status::Pass => x.push_str("/>\n"),
            Status::Fail => {
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>",
                    escape(&o.reason)
                );
            }
            Status::Skip => {
                let _ = writeln!(
                    x,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(&o.reason)
                );
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// XML attribute text (XML 1.0 §2.4, §3.3.3): markup escaped, control characters XML cannot
/// carry dropped.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\t' => o.push_str("&#9;"),
            c if (c as u32) < 0x20 => {}
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts() {
        let o = |name: &str, status, reason: &str| Outcome {
            scenario: name.into(),
            status,
            duration_s: 0.5,
            setup_s: 0.1,
            scenario_s: 3.0,
            reason: reason.into(),
        };
        let x = junit(
            "sim",
            &[
                o("a", Status::Pass, ""),
                o("b", Status::Fail, "x < \"y\" & z"),
                o("c", Status::Skip, "needs 3"),
            ],
        );
        assert!(
            x.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
            "{x}"
        );
        assert!(
            x.contains("<failure message=\"x &lt; &quot;y&quot; &amp; z\"/>"),
            "{x}"
        );
        assert!(x.contains("<skipped message=\"needs 3\"/>"), "{x}");
    }
}
