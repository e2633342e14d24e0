//! The daemon suite (`tests/daemon_suite`) against the tokio demo daemon, `examples/daemon`:
//! the demo daemon as a real child process, stopped with real signals. `tests/daemon_smol.rs`
//! runs the same scenarios against the smol one.
#![cfg(all(unix, feature = "tokio"))]

/// The example under test, for the suite's `daemon_path`.
const EXAMPLE: &str = "daemon";

mod daemon_suite;
