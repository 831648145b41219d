//! weft-hil: hardware-in-the-loop scenarios.
//!
//! The scenarios live in `tests/`: the network layer, transport and key management of the node
//! stack (`tests/network.rs`) and provisioning for every OOB method (`tests/provisioning.rs`),
//! each driven on the simulated medium (`weft_radio::sim`) with its airtime, channels, scanning
//! and loss. Emulated controllers (Bumble, `bumble/controllers.py`) are started by
//! [`bumble::Fixture`] and checked from outside, with hand-built HCI packets, by
//! `tests/bumble.rs`. Scenarios as data (`scenarios/*.toml`, NDJSON schema in `schema/`) are
//! run by `weft hil run --rig sim` (`tools/src/hil/`); rig files that point them at emulated
//! controllers and real dongles are read there, and running on them comes next. Labs of many
//! hosts use labgrid: [`labgrid::Lab`] runs a real coordinator and exporter on localhost for the
//! Python package and pytest example in `labgrid/`.

pub mod bumble;
pub mod labgrid;
pub mod venv;
