//! The footprint report's by-hand arm: the same minimal daemon as
//! `smol_minimal_daemon.rs`, written on smol without winddown.
//!
//! What a smol user writes when they stop a daemon by hand: `async-signal` for SIGTERM and
//! SIGINT (registered before anything else, on async-io's reactor, as smol's own docs show),
//! one `smol::Executor` run by the main thread, a bound port on 127.0.0.1; it prints
//! `listening on ADDR` and `ready` on stdout, and on the first signal drops the listener and
//! returns from `main` (exit 0). No report, no escalation, no deadlines: beside the winddown
//! daemon on smol it shows what winddown itself costs a daemon on smol, with smol's reactor,
//! executor and signal handling counted on both sides.

use std::io::{self, Write};
use std::net::SocketAddr;

use async_signal::{Signal, Signals};
use smol::net::TcpListener;
use smol::stream::StreamExt;
use smol::Executor;

fn main() -> io::Result<()> {
    // Before anything else, so that a SIGTERM from here on is never the default action.
    let mut signals = Signals::new([Signal::Term, Signal::Int])?;
    let executor = Executor::new();
    smol::block_on(executor.run(async {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "listening on {}", listener.local_addr()?)?;
        writeln!(stdout, "ready")?;
        stdout.flush()?;
        drop(stdout);
        // The first delivery ends the wait.
        let _ = signals.next().await;
        drop(listener);
        Ok(())
    }))
}
