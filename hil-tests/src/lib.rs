//! weft-hil: scenarios that run unchanged on the simulator, on emulated controllers and on real
//! dongles described in a rig file. The scenarios arrive with the node stack and the simulator;
//! until then this crate only reserves its place in the workspace.
