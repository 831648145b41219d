//! Runnable scenarios: `cargo run -p weft-examples --example NAME`.
