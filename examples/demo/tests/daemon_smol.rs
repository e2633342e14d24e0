//! The daemon suite (`tests/daemon_suite`) against the smol demo daemon,
//! `examples/daemon_smol`: the same scenarios as the tokio daemon's, on the same output.
#![cfg(all(unix, feature = "smol"))]

/// The example under test, for the suite's `daemon_path`.
const EXAMPLE: &str = "daemon_smol";

mod daemon_suite;
