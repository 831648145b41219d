//! `weft thread`: weft's own Thread node on a live air or a real radio (issue #15 item 3).
//!
//! `weft thread node --radio R --dataset HEX [--role router|child|sleepy]` runs a
//! [`weft_mesh::thread::stack::Node`] on the radio through the one real-time driver
//! ([`weft_radio::drive_with`]) and listens on a control socket (the user's alone: bound 0600,
//! and a connecting process of another user is refused). `weft thread ping`, `udp send` and
//! `coap get|put|post` connect to that socket, send one request (a JSON line), and print the
//! one answer: they act through the running node, which stays attached between them.
//!
//! | file | what |
//! |---|---|
//! | `node.rs` | the running node: events printed, requests from the control socket served |
//! | `client.rs` | the commands that act through it, and the control protocol |

mod client;
pub(crate) mod node;

use std::net::Ipv6Addr;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use weft_mesh::thread::stack::Credentials;

pub use client::{Reply, Request};

use crate::error::Result;
use crate::Exit;

#[derive(Debug, Clone, Args)]
pub struct ThreadArgs {
    #[command(subcommand)]
    pub cmd: ThreadCmd,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ThreadCmd {
    /// Run weft's Thread node on a radio (`otsim:N`, `spinel:`), serving the other commands.
    Node(Box<NodeArgs>),
    /// Send ICMPv6 echo requests through the running node and print the replies.
    Ping(PingArgs),
    /// UDP through the running node.
    Udp(UdpArgs),
    /// A CoAP request (RFC 7252, port 5683) through the running node.
    Coap(CoapArgs),
}

impl ThreadCmd {
    pub fn name(&self) -> &'static str {
        match self {
            ThreadCmd::Node(_) => "thread node",
            ThreadCmd::Ping(_) => "thread ping",
            ThreadCmd::Udp(_) => "thread udp send",
            ThreadCmd::Coap(_) => "thread coap",
        }
    }
}

/// The role a node takes (Thread 1.3 §4.7, §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A Full Thread Device, router-eligible: it attaches, becomes a router when the
    /// partition needs one, and forms a partition as leader when it finds none.
    Router,
    /// A Minimal End Device with its receiver on: it only ever attaches as a child.
    Child,
    /// A sleepy end device: receiver off, polling its parent.
    Sleepy,
}

/// Where the control socket is: `--control`, else `$XDG_RUNTIME_DIR/weft-thread.sock`, else
/// `/tmp/weft-thread-UID.sock`.
#[derive(Debug, Clone, Args)]
pub struct ControlArg {
    /// The running node's control socket (default: $XDG_RUNTIME_DIR/weft-thread.sock, or
    /// /tmp/weft-thread-UID.sock without XDG_RUNTIME_DIR).
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,
}

impl ControlArg {
    pub fn path(&self) -> PathBuf {
        if let Some(p) = &self.control {
            return p.clone();
        }
        match crate::radios::runtime_dir() {
            Some(d) => d.join("weft-thread.sock"),
            None => {
                use std::os::unix::fs::MetadataExt;
                // This process's user: the owner of its /proc entry.
                let uid = std::fs::metadata("/proc/self")
                    .map(|m| m.uid())
                    .unwrap_or(0);
                std::env::temp_dir().join(format!("weft-thread-{uid}.sock"))
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// The radio: `otsim:N[?port_offset=P]` (node N of the OpenThread simulation's air),
    /// `spinel:/dev/ttyACM0` (an OpenThread RCP).
    #[arg(long, value_name = "RADIO", value_parser = crate::args::radio)]
    pub radio: String,
    /// The Active Operational Dataset, as OpenThread's `dataset active -x` prints it.
    #[arg(long, value_name = "HEX", value_parser = dataset)]
    pub dataset: Credentials,
    /// The role to take.
    #[arg(long, value_enum, default_value = "router")]
    pub role: RoleArg,
    /// A sleepy node's data poll period, in seconds.
    #[arg(long, default_value_t = 30.0, value_parser = crate::args::seconds)]
    pub poll_period: f64,
    #[command(flatten)]
    pub control: ControlArg,
    /// The UDP port whose datagrams the node prints (`weft thread udp send` to it).
    #[arg(long, value_name = "PORT", default_value_t = 1234)]
    pub udp_port: u16,
    /// The node's state file (extended address, ML-EID, key sequence, frame counters reserved
    /// ahead), written atomically; without it the node starts afresh each time.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Stop after this many seconds (default: run until SIGTERM or SIGINT).
    #[arg(long, value_parser = crate::args::seconds, allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Print one JSON object a line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PingArgs {
    /// The IPv6 address to ping (an RLOC, ML-EID or link-local address of the network).
    pub addr: Ipv6Addr,
    /// Echo requests to send, one a second.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    /// Octets of echo data.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub size: u16,
    /// How long to wait for each reply, in seconds.
    #[arg(long, default_value_t = 5.0, value_parser = crate::args::seconds)]
    pub timeout: f64,
    #[command(flatten)]
    pub control: ControlArg,
    /// JSON: one object a reply (`from`, `rtt_ms`, `hop_limit`, `sequence`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct UdpArgs {
    #[command(subcommand)]
    pub cmd: UdpCmd,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UdpCmd {
    /// Send one UDP datagram.
    Send(UdpSendArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UdpSendArgs {
    pub addr: Ipv6Addr,
    pub port: u16,
    /// The payload, as text (`--hex`: as hex octets).
    pub data: String,
    /// DATA is hex octets.
    #[arg(long)]
    pub hex: bool,
    #[command(flatten)]
    pub control: ControlArg,
    /// JSON: `sent`, `bytes`.
    #[arg(long)]
    pub json: bool,
}

/// A CoAP method this command sends (RFC 7252 §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoapMethod {
    Get,
    Put,
    Post,
}

#[derive(Debug, Clone, Args)]
pub struct CoapArgs {
    pub method: CoapMethod,
    /// `coap://[ADDR]/PATH` (port 5683, the only one served).
    #[arg(value_parser = coap_uri)]
    pub uri: CoapUri,
    /// The payload of a put or post, as text.
    pub payload: Option<String>,
    /// Send it non-confirmable (default: confirmable).
    #[arg(long)]
    pub non: bool,
    /// How long to wait for the response, in seconds.
    #[arg(long, default_value_t = 30.0, value_parser = crate::args::seconds)]
    pub timeout: f64,
    #[command(flatten)]
    pub control: ControlArg,
    /// JSON: `code`, `payload`.
    #[arg(long)]
    pub json: bool,
}

/// A `coap://` URI: the address and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapUri {
    pub addr: Ipv6Addr,
    pub path: String,
}

/// `--dataset`: the hex `dataset active -x` prints, with every field a node needs to attach.
pub fn dataset(s: &str) -> std::result::Result<Credentials, String> {
    Credentials::from_hex(s.trim()).map_err(|e| {
        format!("not an Active Operational Dataset as `dataset active -x` prints it: {e}")
    })
}

/// [`dataset`], kept as the hex (checked) where the arguments must stay small.
pub fn dataset_hex(s: &str) -> std::result::Result<String, String> {
    dataset(s).map(|_| s.trim().to_string())
}

/// `coap://[ADDR][:5683]/PATH` (RFC 7252 §6.1).
pub fn coap_uri(s: &str) -> std::result::Result<CoapUri, String> {
    let bad = || format!("'{s}' is not a CoAP URI: write coap://[fd00::1]/path");
    let rest = s.strip_prefix("coap://").ok_or_else(bad)?;
    let rest = rest.strip_prefix('[').ok_or_else(bad)?;
    let (addr, rest) = rest.split_once(']').ok_or_else(bad)?;
    let addr: Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("'{addr}' is not an IPv6 address"))?;
    let rest = match rest.strip_prefix(':') {
        Some(r) => {
            let (port, path) = r.split_once('/').unwrap_or((r, ""));
            if port != "5683" {
                return Err(format!(
                    "port {port}: only CoAP's port 5683 is served (RFC 7252 §6.1)"
                ));
            }
            path
        }
        None if rest.is_empty() => "",
        None => rest.strip_prefix('/').ok_or_else(bad)?,
    };
    Ok(CoapUri {
        addr,
        path: rest.to_string(),
    })
}

pub fn run(a: &ThreadArgs, out: &mut impl std::io::Write) -> Result<Exit> {
    match &a.cmd {
        ThreadCmd::Node(n) => node::run(n, out),
        ThreadCmd::Ping(p) => client::ping(p, out),
        ThreadCmd::Udp(UdpArgs {
            cmd: UdpCmd::Send(u),
        }) => client::udp_send(u, out),
        ThreadCmd::Coap(c) => client::coap(c, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coap_uris() {
        let u = coap_uri("coap://[fd00::1]/a/b").unwrap();
        assert_eq!(u.addr, "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(u.path, "a/b");
        assert_eq!(coap_uri("coap://[fd00::1]:5683/x").unwrap().path, "x");
        assert_eq!(coap_uri("coap://[fd00::1]").unwrap().path, "");
        assert!(coap_uri("coap://[fd00::1]:80/x")
            .unwrap_err()
            .contains("5683"));
        assert!(coap_uri("http://[fd00::1]/x").is_err());
        assert!(coap_uri("coap://[zz]/x").unwrap_err().contains("IPv6"));
    }

    #[test]
    fn bad_datasets_say_why() {
        assert!(dataset("0e08zz").unwrap_err().contains("dataset active -x"));
        assert!(dataset("").is_err());
    }
}
