//! The `weft` command's library: argument parsing and the subcommands. The binary is a thin
//! shell around [`main`], so integration tests and benchmarks can call the same code.

pub mod args;
pub mod bench;
pub mod capture;
pub mod decode;
pub mod decode_thread;
pub mod error;
pub mod files;
pub mod hil;
pub mod inspect;
pub mod logging;
pub mod net;
pub mod ops;
pub mod provisioning;
pub mod proxied;
pub mod radios;
pub mod runtime;
pub mod scenario;
pub mod serve;
pub mod sim;
pub mod store;
pub mod thread;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes of every weft command (ARCHITECTURE.md, "Rules of each folder").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok = 0,
    /// 1: the protocol or the device said no (or, for `decode`, an input could not be decoded).
    Refused = 1,
    /// 2: usage error.
    Usage = 2,
    /// 3: a radio or other infrastructure is unavailable.
    Unavailable = 3,
    /// 4: timeout.
    Timeout = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// weft: join, build, watch and test Bluetooth Mesh and Thread networks from a Linux host.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// More traces on standard error: -v info, -vv debug, -vvv trace (RUST_LOG, if set,
    /// chooses instead, e.g. RUST_LOG=weft_radio=trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Append the traces to FILE instead of standard error (the inspector writes them only
    /// there).
    #[arg(long, value_name = "FILE", global = true)]
    pub log: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The terminal network inspector (`weft` alone opens it on the smart-home mesh).
    Inspect(inspect::InspectArgs),
    /// Export the graph of links heard (Graphviz DOT or JSON).
    Topology(inspect::TopologyArgs),
    /// Write everything a radio hears to a pcapng file for Wireshark.
    Capture(capture::CaptureArgs),
    /// List the radios attached (USB serial dongles, Bluetooth adapters, simulated airs) and
    /// the --radio to use for each.
    Radios(radios::RadiosArgs),
    /// Decode Bluetooth Mesh PDUs (network PDUs, beacons or AD structures) given the keys, or
    /// Thread 802.15.4 frames (hex or a capture) given the network key (--thread-key).
    Decode(decode::DecodeArgs),
    /// Simulated networks: run scenarios headless, list them, share one air among processes.
    Sim(sim::SimArgs),
    /// The network: create, show, export and import it (Mesh Configuration Database JSON).
    Net(net::NetArgs),
    /// Run as a mesh device: unprovisioned until a Provisioner adds it, then a node.
    Node(provisioning::NodeArgs),
    /// Provision a device into the network, then configure it.
    Provision(provisioning::ProvisionArgs),
    /// Configure a node with its device key (composition, appkey-add, bind, pub-set, sub-add,
    /// relay, ttl, reset).
    Config(ops::ConfigArgs),
    /// Send a message to a node or group and print its status (onoff, level, sensor).
    Send(ops::SendArgs),
    /// Hardware-in-the-loop scenarios on a rig: `weft hil list`, `weft hil run --rig sim`.
    Hil(hil::HilArgs),
    /// weft's own Thread node on a radio (`thread node`), and ping, UDP and CoAP through it.
    Thread(thread::ThreadArgs),
    /// Benchmarks with figures for the project's goals (`weft bench pdu --json`).
    Bench(bench::BenchArgs),
    /// A control interface for rigs and scripts (NDJSON requests on an owner-only socket or
    /// standard input), and the one owner of the store that its clients share.
    Serve(serve::ServeArgs),
}

/// Runs the command line given to the process.
pub fn main() -> ExitCode {
    use std::io::IsTerminal;
    let cli = Cli::parse();
    // The inspector owns the terminal: its traces go to --log only.
    let tui =
        matches!(cli.command, Some(Command::Inspect(_)) | None) && std::io::stdout().is_terminal();
    let sink = if tui {
        logging::Sink::Nowhere
    } else {
        logging::Sink::Stderr
    };
    if let Err(e) = logging::init(cli.verbose, cli.log.as_deref(), sink) {
        eprintln!("weft: {e}");
        return Exit::Usage.into();
    }
    let out = &mut std::io::stdout().lock();
    let (command, result) = match &cli.command {
        Some(Command::Decode(args)) => ("decode", Ok(decode::run(args, out))),
        Some(Command::Sim(args)) => (args.cmd.name(), sim::run(args, out)),
        Some(Command::Node(args)) => ("node", provisioning::run_node(args, out)),
        Some(Command::Provision(args)) => ("provision", provisioning::run_provision(args, out)),
        Some(Command::Send(args)) => ("send", ops::run_send(args, out)),
        Some(Command::Config(args)) => ("config", ops::run_config(args, out)),
        Some(Command::Thread(args)) => (args.cmd.name(), thread::run(args, out)),
        Some(Command::Bench(args)) => ("bench", bench::run(args, out)),
        Some(Command::Hil(args)) => (args.cmd.name(), hil::run(args, out)),
        Some(Command::Net(args)) => ("net", net::run(args, out)),
        Some(Command::Inspect(args)) => ("inspect", inspect::run(args)),
        Some(Command::Topology(args)) => ("topology", inspect::run_topology(args, out)),
        Some(Command::Capture(args)) => ("capture", capture::run(args, out)),
        Some(Command::Radios(args)) => ("radios", radios::run(args, out)),
        Some(Command::Serve(args)) => ("serve", serve::run(args)),
        None => {
            if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
                ("inspect", inspect::run(&inspect::InspectArgs::default()))
            } else {
                // Not a terminal (a script, CI): the same smart-home mesh, headless, summarised.
                eprintln!("weft: stdout is not a terminal, so instead of the inspector: the built-in smart-home mesh headless (weft sim run).\n");
                let args = sim::SimArgs {
                    cmd: sim::SimCmd::Run(sim::RunArgs::default()),
                };
                ("sim run", sim::run(&args, out))
            }
        }
    };
    error::report(command, result).into()
}
