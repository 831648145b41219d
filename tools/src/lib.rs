//! The `weft` command's library: argument parsing and the subcommands.
