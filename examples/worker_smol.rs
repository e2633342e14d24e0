//! A worker service on smol that winds down by itself after half a second:
//! `cargo run --example worker_smol --features smol`.
//! (worker_tokio.rs and worker_async_std.rs are the same service on the other runtimes.)

use std::io::Write;
use std::time::Duration;

use smol::stream::StreamExt;
use winddown::run_until_shutdown;
use winddown::smol::SmolRuntime;
use winddown::{Config, Plan, Report, Resource, Shutdown, ShutdownExt, TaskSet};

fn main() -> Result<Report, Box<dyn std::error::Error>> {
    let shutdown = Shutdown::new();
    let plan = Plan::new(
        shutdown,
        Config::builder().drain(Duration::from_secs(2)).build()?,
    );
    plan.register(Resource::new("queue", || async { Ok(()) }))?;

    let tasks = TaskSet::new(&plan, SmolRuntime::new());
    tasks.spawn("worker", |ctx| async move {
        let mut tick = smol::Timer::interval(Duration::from_millis(100));
        while ctx.shutdown().until_shutdown(tick.next()).await.is_some() {
            // A log line, best effort: a closed stdout must not panic the service.
            let _ = writeln!(std::io::stdout(), "working");
        }
    })?;

    // The application: it returns after a while, which starts the shutdown.
    let app = async {
        smol::Timer::after(Duration::from_millis(500)).await;
    };
    let report = smol::block_on(run_until_shutdown(&plan, SmolRuntime::new(), app));
    let _ = writeln!(std::io::stdout(), "{report}");
    // Returned, not `process::exit`: the task set and the runtime are dropped on the way out.
    Ok(report)
}
