//! `weft hil`: mesh scenarios as data, run on a rig (issue 16): `weft hil list` and
//! `weft hil run SCENARIO... --rig sim|FILE`.
//!
//! One concern per file: `rig.rs` the rig files and the built-in simulated rig, `scenario.rs`
//! and `steps.rs` the scenario files, `mapping.rs` roles onto a rig's radios, `backend.rs` the
//! one interface steps run against, `sim/` that interface on the simulator (Bluetooth Mesh
//! roles on the advertising air, Thread roles on the 802.15.4 air), `live/` on a rig file's
//! radios (a `weft hil role` process per role),
//! `runner.rs` steps and assertions, `report.rs` NDJSON and JUnit, `source.rs` file:line errors.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use crate::error::Failure;
use crate::Exit;

pub mod backend;
pub mod live;
pub mod mapping;
pub mod report;
pub mod rig;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod source;
pub mod steps;
pub mod template;

use rig::Rig;
use runner::{Outcome, Status};
use scenario::HilScenario;

#[derive(Debug, Clone, clap::Args)]
pub struct HilArgs {
    #[command(subcommand)]
    pub cmd: HilCmd,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum HilCmd {
    /// List the scenarios and the radios each needs.
    List {
        /// One JSON object per scenario.
        #[arg(long)]
        json: bool,
        /// Also say whether each scenario fits this rig (`sim` or a rig file).
        #[arg(long, value_name = "sim|FILE")]
        rig: Option<String>,
    },
    /// Run scenarios (all, or those named) on a rig; exit 0 all passed, 1 one failed, 3 the
    /// rig is unavailable.
    Run(RunArgs),
    /// One role of a scenario on a rig's radio (started by `weft hil run`).
    #[command(hide = true)]
    Role(live::agent::RoleArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Scenarios to run (names from `weft hil list`, or files ending in .toml); all if none.
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// `sim` (simulated radios, virtual time) or a rig file (TOML).
    #[arg(long, value_name = "sim|FILE")]
    pub rig: String,
    /// NDJSON: a line per step, a result per scenario, a last summary.
    #[arg(long)]
    pub json: bool,
    /// Also write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write one capture per scenario into this directory (SCENARIO.pcapng); on a rig, every
    /// role's radio is an interface of it, named after the role.
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
    /// Seed of every random choice of the simulator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl HilCmd {
    /// The command's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            HilCmd::List { .. } => "hil list",
            HilCmd::Run(_) => "hil run",
            HilCmd::Role(_) => "hil role",
        }
    }
}

fn load_rig(arg: &str) -> Result<Rig, Failure> {
    if arg == "sim" {
        return Ok(Rig::sim());
    }
    Rig::load(arg.as_ref()).map_err(|e| Failure::new(Exit::Usage, e.to_string()))
}

/// Where a scenario runs on `rig`: each role's radio; or why it is skipped (the rig lacks
/// the radios, or cannot do what the scenario asks of them).
fn fit(sc: &HilScenario, rig: &Rig) -> Result<Vec<usize>, String> {
    let m = mapping::map(sc, rig)?;
    if rig.is_sim() {
        sim::SimBackend::supports(sc)?;
    } else {
        live::supports(sc, rig, &m)?;
    }
    Ok(m)
}

fn needs_json(sc: &HilScenario) -> serde_json::Value {
    let m: serde_json::Map<String, serde_json::Value> = sc
        .needs()
        .into_iter()
        .map(|(k, n)| (k.as_str().to_string(), json!(n)))
        .collect();
    serde_json::Value::Object(m)
}

/// `weft hil`.
pub fn run(a: &HilArgs, out: &mut impl Write) -> Result<Exit, Failure> {
    let io = |e: std::io::Error| {
        Failure::new(Exit::Unavailable, format!("cannot write the report: {e}"))
    };
    match &a.cmd {
        HilCmd::List { json, rig } => {
            let rig = rig.as_deref().map(load_rig).transpose()?;
            for sc in HilScenario::builtin() {
                let fit = rig.as_ref().map(|r| fit(&sc, r).map(|_| ()));
                if *json {
                    let roles: Vec<_> = sc
                        .roles
                        .iter()
                        .map(|r| json!({"name": r.name, "kind": r.kind.as_str(), "radio": r.kind.radio().as_str()}))
                        .collect();
                    let mut line = json!({"name": sc.name, "description": sc.description, "file": sc.file,
                        "radios": needs_json(&sc), "roles": roles, "steps": sc.steps.len()});
                    if let Some(f) = &fit {
                        line["fits"] = json!(f.is_ok());
                        line["reason"] = json!(f.as_ref().err().cloned().unwrap_or_default());
                    }
                    writeln!(out, "{line}").map_err(io)?;
                } else {
                    let needs: Vec<String> = sc
                        .needs()
                        .into_iter()
                        .map(|(k, n)| format!("{n} {}", k.as_str()))
                        .collect();
                    let fit = match &fit {
                        None => String::new(),
                        Some(Ok(())) => "  [fits]".into(),
                        Some(Err(e)) => format!("  [skip: {e}]"),
                    };
                    writeln!(
                        out,
                        "{:<28} {:<10} {}{fit}",
                        sc.name,
                        needs.join(", "),
                        sc.description
                    )
                    .map_err(io)?;
                }
            }
            Ok(Exit::Ok)
        }
        HilCmd::Role(a) => live::agent::run(a),
        HilCmd::Run(r) => match run_scenarios(r, out) {
            // The reader went away (`weft hil run --json | head`): not an error.
            Err(f) if f.1.contains("Broken pipe") => Ok(Exit::Ok),
            r => r,
        },
    }
}

fn run_scenarios(r: &RunArgs, out: &mut impl Write) -> Result<Exit, Failure> {
    let io = |e: std::io::Error| {
        Failure::new(Exit::Unavailable, format!("cannot write the report: {e}"))
    };
    let rig = load_rig(&r.rig)?;
    let scenarios: Vec<HilScenario> = if r.scenarios.is_empty() {
        HilScenario::builtin()
    } else {
        r.scenarios
            .iter()
            .map(|s| HilScenario::load(s).map_err(|e| Failure::new(Exit::Usage, e.to_string())))
            .collect::<Result<_, _>>()?
    };
    if let Some(dir) = &r.pcap {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!("--pcap {}: cannot create the directory: {e}", dir.display()),
            )
        })?;
    }
    let fits: Vec<Result<Vec<usize>, String>> = scenarios.iter().map(|s| fit(s, &rig)).collect();
    // A rig whose radios cannot be opened is unavailable: nothing runs.
    if !rig.is_sim() {
        let used: std::collections::BTreeSet<usize> =
            fits.iter().flatten().flatten().copied().collect();
        let used: Vec<usize> = used.into_iter().collect();
        live::probe(&rig, &used).map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("rig '{}' ({}): {e}", rig.name, r.rig),
            )
        })?;
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (sc, fit) in scenarios.iter().zip(fits) {
        let outcome = match fit {
            Err(reason) => Outcome {
                scenario: sc.name.clone(),
                status: Status::Skip,
                duration_s: 0.0,
                setup_s: 0.0,
                scenario_s: 0.0,
                reason,
            },
            Ok(m) => {
                let pcap = r
                    .pcap
                    .as_ref()
                    .map(|d| d.join(format!("{}.pcapng", sc.name)));
                let mut write_err = None;
                let json_out = r.json;
                let mut emit = |line| {
                    if json_out && write_err.is_none() {
                        if let Err(e) = writeln!(out, "{line}") {
                            write_err = Some(e);
                        }
                    }
                };
                let o = if rig.is_sim() && sim::SimBackend::is_thread(sc) {
                    runner::run(
                        sc,
                        || sim::thread::ThreadSim::new(sc, r.seed, pcap.as_deref()),
                        &mut emit,
                    )
                } else if rig.is_sim() {
                    runner::run(
                        sc,
                        || sim::SimBackend::new(sc, r.seed, pcap.as_deref()),
                        &mut emit,
                    )
                } else {
                    runner::run(
                        sc,
                        || live::LiveBackend::new(sc, &rig, &m, r.seed, pcap.as_deref()),
                        &mut emit,
                    )
                };
                if let Some(e) = write_err {
                    return Err(io(e));
                }
                o
            }
        };
        if r.json {
            writeln!(out, "{}", report::result_line(&outcome)).map_err(io)?;
        } else {
            writeln!(out, "{}", report::human_line(&outcome)).map_err(io)?;
        }
        outcomes.push(outcome);
    }
    let (p, f, s) = report::counts(&outcomes);
    if r.json {
        writeln!(out, "{}", report::summary_line(&outcomes)).map_err(io)?;
    } else {
        writeln!(out, "{p} passed, {f} failed, {s} skipped").map_err(io)?;
    }
    if let Some(path) = &r.junit {
        std::fs::write(path, report::junit(&rig.name, &outcomes)).map_err(|e| {
            Failure::new(
                Exit::Unavailable,
                format!("--junit {}: cannot write: {e}", path.display()),
            )
        })?;
    }
    Ok(if f > 0 { Exit::Refused } else { Exit::Ok })
}
