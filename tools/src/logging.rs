//! Traces for when hardware misbehaves: every command takes `-v` (info), `-vv` (debug) and
//! `-vvv` (trace), or a `RUST_LOG` filter (`RUST_LOG=weft=debug,weft_radio=trace`), and
//! `--log FILE` to append them to a file instead of standard error. Without any of them only
//! warnings are shown. The inspector, which owns the terminal, writes traces only to `--log`.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// The filter for `-v` given `verbose` times, unless `RUST_LOG` says otherwise.
pub fn filter(verbose: u8, rust_log: Option<&str>) -> Result<EnvFilter, String> {
    if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
        return EnvFilter::try_new(spec)
            .map_err(|e| format!("RUST_LOG='{spec}' is not a trace filter ({e}): write e.g. RUST_LOG=debug or RUST_LOG=weft_radio=trace"));
    }
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    Ok(EnvFilter::new(level))
}

/// Where traces go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard error.
    Stderr,
    /// Nowhere (the terminal belongs to the inspector and no `--log` was given).
    Nowhere,
}

/// Installs the process's trace subscriber. Errors name what is wrong (a bad `RUST_LOG`, a
/// `--log` file that cannot be opened).
pub fn init(verbose: u8, log: Option<&Path>, default_sink: Sink) -> Result<(), String> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(verbose, rust_log.as_deref())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = match (log, default_sink) {
        (Some(path), _) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    format!(
                        "--log {}: cannot open it for writing ({e}): give a file in a directory you can write",
                        path.display()
                    )
                })?;
            builder
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .try_init()
        }
        (None, Sink::Stderr) => builder.with_writer(std::io::stderr).try_init(),
        (None, Sink::Nowhere) => builder.with_writer(std::io::sink).try_init(),
    };
    // A subscriber already installed (a test calling main twice) keeps the first.
    let _ = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_and_rust_log() {
        assert_eq!(filter(0, None).unwrap().to_string(), "warn");
        assert_eq!(filter(2, None).unwrap().to_string(), "debug");
        assert_eq!(filter(9, None).unwrap().to_string(), "trace");
        assert_eq!(
            filter(0, Some("weft_radio=trace")).unwrap().to_string(),
            "weft_radio=trace"
        );
        assert_eq!(filter(1, Some("  ")).unwrap().to_string(), "info");
        let e = filter(0, Some("weft=loud")).unwrap_err();
        assert!(e.contains("RUST_LOG='weft=loud'"), "{e}");
    }
}
