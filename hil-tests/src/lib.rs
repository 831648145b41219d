//! weft-hil: hardware-in-the-loop scenarios.
//!
//! The scenarios live in `tests/`: the network layer, transport and key management of the node
//! stack (`tests/network.rs`) and provisioning for every OOB method (`tests/provisioning.rs`),
//! each driven on the simulated medium (`weft_radio::sim`) with its airtime, channels, scanning
//! and loss. Rig files that point the same scenarios at emulated controllers and real dongles
//! come with the hardware radios; until then the simulator is the only radio they run on.
