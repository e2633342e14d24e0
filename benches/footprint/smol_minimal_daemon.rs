//! The footprint report's split between winddown on smol and the demo: the least a winddown
//! daemon on smol does, and nothing of the demo's service.
//!
//! Like the signal-hook daemon it binds a port on 127.0.0.1, prints `listening on ADDR` and
//! `ready`, and waits for SIGTERM; here through winddown's signal listener (woken by async-io's
//! reactor, polled beside the daemon's work in the one task the main thread runs: no thread
//! or task of its own), on one smol executor run by
//! the main thread, and on SIGTERM it runs a `Plan` with no resources and
//! prints its report's headline (built without winddown's default `report-table` feature, so
//! without the table under it, as the daemon by hand prints no report) before exiting with the
//! report's exit code. Beside the smol demo daemon it
//! shows what the demo's own service (the echo protocol, workers, log file, flags, pretend
//! closers, the job queue) adds; beside the signal-hook daemon, what winddown and smol add.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

use smol::net::TcpListener;
use smol::Executor;
use winddown::smol::SmolRuntime;
use winddown::{run_until_shutdown, Config, Plan, Shutdown};

fn main() -> io::Result<()> {
    let shutdown = Shutdown::new();
    // Registered first, before async-io starts its thread; woken by async-io's reactor: no
    // listener thread.
    let signals = winddown::signals::Builder::new().listen_async_io(&shutdown)?;
    let executor = Arc::new(Executor::new());
    let runtime = SmolRuntime::with_executor(executor.clone());
    let work = async {
        let plan = Plan::new(shutdown.clone(), Config::default());
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "listening on {}", listener.local_addr()?)?;
        writeln!(stdout, "ready")?;
        stdout.flush()?;
        drop(stdout);
        let app = shutdown.reached(winddown::Phase::StoppingNewRequests);
        let report = run_until_shutdown(&plan, runtime, async move {
            app.await;
            drop(listener);
        })
        .await;
        let _ = writeln!(io::stdout(), "{report}");
        Ok::<_, io::Error>(report.exit_code())
    };
    // The listener polled beside the work in the same task (no task of its own to spawn),
    // borrowed, so that it outlives `block_on`: it never ends on its own.
    let mut signals = pin!(signals);
    let listen = async {
        signals.as_mut().await;
        std::future::pending().await
    };
    let code = smol::block_on(executor.run(smol::future::or(work, listen)))?;
    // `exit` runs no destructors: the listener stays registered, and a signal from here on
    // still escalates (a third one ends the process at once).
    std::process::exit(code.into());
}
