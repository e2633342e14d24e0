//! A worker service on async-std that winds down by itself after half a second:
//! `cargo run --example worker_async_std --features async-std`.
//! (worker_tokio.rs and worker_smol.rs are the same service on the other runtimes.)
//! async-std is discontinued upstream; smol is its successor.

use std::io::Write;
use std::time::Duration;

use async_std::task;
use winddown::async_std::AsyncStdRuntime;
use winddown::run_until_shutdown;
use winddown::{Config, Plan, Report, Resource, Shutdown, ShutdownExt, TaskSet};

fn main() -> Result<Report, Box<dyn std::error::Error>> {
    let shutdown = Shutdown::new();
    let plan = Plan::new(
        shutdown,
        Config::builder().drain(Duration::from_secs(2)).build()?,
    );
    plan.register(Resource::new("queue", || async { Ok(()) }))?;

    let tasks = TaskSet::new(&plan, AsyncStdRuntime::new());
    tasks.spawn("worker", |ctx| async move {
        while ctx
            .shutdown()
            .until_shutdown(task::sleep(Duration::from_millis(100)))
            .await
            .is_some()
        {
            // A log line, best effort: a closed stdout must not panic the service.
            let _ = writeln!(std::io::stdout(), "working");
        }
    })?;

    // The application: it returns after a while, which starts the shutdown.
    let app = task::sleep(Duration::from_millis(500));
    let report = task::block_on(run_until_shutdown(&plan, AsyncStdRuntime::new(), app));
    let _ = writeln!(std::io::stdout(), "{report}");
    // Returned, not `process::exit`: the task set and the runtime are dropped on the way out.
    Ok(report)
}
