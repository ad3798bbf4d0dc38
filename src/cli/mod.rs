//! Command-line front end pieces too long for `main.rs`: each file is one subcommand, turning its
//! arguments into library calls and printing what comes back.

pub mod sweep;
