//! The winddown demo daemon on smol: the same TCP line-echo service as `examples/daemon.rs`
//! (tokio), with the same flags, output, exit codes, escalation and systemd notifications.
//!
//! ```text
//! cargo run --release --example daemon_smol --features smol,signals,systemd -- --help
//! ```
//!
//! Everything runs on the main thread: one `smol::Executor`, driven by `smol::block_on`,
//! runs the service, the workers, the job queue's worker, the signal listener's task and the
//! shutdown sequence. One more thread exists, sleeping until it has work: async-io's reactor
//! thread (started by async-io on first use; it waits on epoll while the main thread is busy).
//! The job queue (`examples/jobs`) is the same runtime-free
//! library the tokio daemon uses.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use jobs::JobQueue;

#[macro_use]
#[path = "shared/daemon_cli.rs"]
mod cli;
use cli::{config, line, parse_args, Args, LogFile};

#[cfg(feature = "serde")]
#[path = "shared/report_json.rs"]
mod report_json;
use smol::future;
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};
use smol::{Executor, Timer};
use winddown::smol::SmolRuntime;
use winddown::{run_until_shutdown, Phase, Plan, Resource, ResourceKind, Shutdown, TaskSet};

/// The first line of `--help`.
const ABOUT: &str =
    "winddown demo daemon on smol: a TCP line-echo server on 127.0.0.1 that shuts down gracefully.";

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            tell!("{}", cli::usage("daemon_smol", ABOUT));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            say!("daemon: {message}\n\n{}", cli::usage("daemon_smol", ABOUT));
            return ExitCode::from(64); // EX_USAGE
        }
    };

    let shutdown = Shutdown::new();
    // Signals first, before async-io starts its thread; each step is logged. The listener is
    // a task on the executor, woken by async-io's reactor: no thread of its own. A third
    // signal ends the process from the signal handler, even with the executor stuck.
    let block_hook = args.block_hook;
    let signals = match winddown::signals::Builder::new()
        .on_event(move |event| {
            say!("daemon: {event}");
            // Testing only (`--block-hook`): the hook never comes back, and with it the
            // executor's only thread.
            if block_hook {
                loop {
                    std::thread::park();
                }
            }
        })
        .listen_async_io(&shutdown)
    {
        Ok(listener) => listener,
        Err(err) => {
            say!("daemon: cannot listen for signals: {err}");
            return ExitCode::from(71); // EX_OSERR
        }
    };

    // One executor, run by the main thread: the service, the workers and the shutdown
    // sequence all run here (tokio's current-thread runtime does the same for the tokio one).
    let executor = Arc::new(Executor::new());
    executor.spawn(signals).detach();
    let code = smol::block_on(executor.run(serve(args, shutdown, executor.clone())));
    // Exit now, as the tokio daemon does: connections the report gave up on may still be in
    // the executor, and so is the listener task (`exit` runs no destructors), so a third
    // signal still ends the process at once until it is gone.
    std::process::exit(code);
}

/// Runs the service until the shutdown sequence ends; returns the exit code.
async fn serve(args: Args, shutdown: Shutdown, executor: Arc<Executor<'static>>) -> i32 {
    let config = match config(&args) {
        Ok(config) => config,
        Err(err) => {
            say!("daemon: {err}");
            return 64;
        }
    };
    let json = args.report_json.clone();
    let plan = Plan::new(shutdown.clone(), config);
    plan.on_phase(|phase, at| {
        // Milliseconds, truncated, as in the report's table.
        let millis = at.as_millis();
        say!(
            "daemon: [{:>3}.{:03}s] {phase}",
            millis / 1000,
            millis % 1000
        );
    });

    let log = match LogFile::create() {
        Ok(log) => log,
        Err(err) => {
            say!("daemon: cannot create the log file: {err}");
            return 73; // EX_CANTCREAT
        }
    };
    let runtime = SmolRuntime::with_executor(executor.clone());
    let jobs = match register_resources(&plan, &args, &log) {
        Ok(jobs) => jobs,
        Err(err) if !shutdown.is_triggered() => {
            say!("daemon: {err}");
            return 70;
        }
        Err(err) => {
            // A signal while starting: registering is refused once the shutdown is triggered.
            // Nothing is served yet; stop cleanly with what is set up.
            say!("daemon: stopped while starting ({err})");
            return finish(&plan, json.as_deref(), runtime, future::pending()).await;
        }
    };
    // The library's worker runs on our executor, spawned plainly (see examples/jobs).
    match jobs.worker() {
        Ok(worker) => executor.spawn(worker).detach(),
        Err(err) => {
            say!("daemon: job queue: {err}");
            return 70;
        }
    }

    let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await {
        Ok(listener) => listener,
        Err(err) => {
            say!("daemon: cannot listen on port {}: {err}", args.port);
            return 69; // EX_UNAVAILABLE
        }
    };
    match listener.local_addr() {
        Ok(addr) => {
            tell!("listening on {addr}");
        }
        Err(err) => {
            say!("daemon: {err}");
            return 71;
        }
    }

    let workers = TaskSet::new(&plan, runtime.clone());
    for name in ["ticker", "janitor"] {
        let log = log.clone();
        let spawned = workers.spawn(name, move |shutdown| async move {
            let mut ticks = 0u64;
            loop {
                let tick = async {
                    Timer::after(Duration::from_secs(1)).await;
                    true
                };
                if !future::or(
                    async {
                        shutdown.triggered().await;
                        false
                    },
                    tick,
                )
                .await
                {
                    break;
                }
                ticks += 1;
                log.line(&format!("{name}: tick {ticks}"));
            }
            log.line(&format!("{name}: stopped after {ticks} ticks"));
        });
        if let Err(err) = spawned {
            say!("daemon: cannot start {name}: {err}");
            return 70;
        }
    }

    say!("daemon: log file {}", log.path.display());
    // Run by systemd as `Type=notify`: the run helper sends READY=1 as it starts serving, and
    // the stop's notifications after it. Said here only so the log shows it.
    if winddown::systemd::Systemd::from_env().is_active() {
        say!("daemon: systemd: notifying the service manager through NOTIFY_SOCKET");
    }
    tell!("ready");
    let app = accept(listener, shutdown.clone(), log, jobs, executor);
    finish(&plan, json.as_deref(), runtime, app).await
}

/// Runs `app` until the shutdown sequence ends, prints the report (and writes it as JSON to
/// `json`, if given), and returns its exit code.
async fn finish(
    plan: &Plan,
    json: Option<&std::path::Path>,
    runtime: SmolRuntime,
    app: impl Future<Output = ()>,
) -> i32 {
    let report = run_until_shutdown(plan, runtime, app).await;
    // One write for the whole table: stdout is line-buffered, and a write per line costs a
    // system call each while the process is on its way out. A closed stdout only loses the
    // report: the exit code still says how the shutdown went.
    let text = line(format_args!("{report}"));
    if let Err(err) = io::stdout().lock().write_all(text.as_bytes()) {
        say!("daemon: cannot print the report: {err}");
    }
    if let Some(path) = json {
        #[cfg(feature = "serde")]
        if let Err(err) = report_json::write(path, &report) {
            say!(
                "daemon: cannot write the report to {}: {err}",
                path.display()
            );
        }
        #[cfg(not(feature = "serde"))]
        say!(
            "daemon: cannot write the report to {}: built without the serde feature",
            path.display()
        );
    }
    report.exit_code()
}

/// The job queue (the library: it registers its own closer), the pool and the cache client
/// close in priority order; the log file is flushed last.
fn register_resources(
    plan: &Plan,
    args: &Args,
    log: &LogFile,
) -> Result<JobQueue, winddown::RegisterError> {
    let jobs = JobQueue::new(plan, 64)?;
    let slow = args.slow_close;
    plan.register(
        Resource::new("connection pool", move || async move {
            // A real pool would wait for its connections to be returned and close them; an idle
            // one has none out, so it closes without touching a timer.
            if slow.is_zero() {
                say!("daemon: connection pool: closing");
            } else {
                say!("daemon: connection pool: closing, taking {slow:?}");
                Timer::after(slow).await;
            }
            Ok::<(), io::Error>(())
        })
        .priority(10)
        .kind(ResourceKind::Database),
    )?;
    let stuck = args.stuck_close;
    plan.register(
        Resource::new("cache client", move || async move {
            say!("daemon: cache client: closing");
            if !stuck.is_zero() {
                // Blocks the executor's only thread: the sequence cannot even notice a force.
                std::thread::sleep(stuck);
            }
            Ok::<(), io::Error>(())
        })
        .priority(5)
        .kind(ResourceKind::Cache),
    )?;
    let log = log.clone();
    // Flushing an 8 KiB buffer to a local file takes microseconds, so it runs in a task like
    // an async closer. A close that might hang (a network file system, a synchronous client's
    // `close`) belongs in `Resource::blocking`, which runs on a thread of its own so that its
    // deadline still fires; that thread costs a few hundred microseconds of the stop.
    plan.flush(
        Resource::new("log file", move || async move { log.flush() }).kind(ResourceKind::File),
    )?;
    Ok(jobs)
}

/// Accepts connections until admissions close; each request (a line) holds a guard.
async fn accept(
    listener: TcpListener,
    shutdown: Shutdown,
    log: LogFile,
    jobs: JobQueue,
    executor: Arc<Executor<'static>>,
) {
    let mut closed = pin!(shutdown.reached(Phase::StoppingNewRequests));
    loop {
        let stop = async {
            closed.as_mut().await;
            None
        };
        let Some(accepted) = future::or(stop, async { Some(listener.accept().await) }).await else {
            break;
        };
        match accepted {
            Ok((stream, peer)) => {
                let shutdown = shutdown.clone();
                let log = log.clone();
                let jobs = jobs.clone();
                executor
                    .spawn(async move {
                        if let Err(err) = echo(stream, &shutdown, &log, &jobs).await {
                            say!("daemon: connection {peer}: {err}");
                        }
                    })
                    .detach();
            }
            Err(err) => say!("daemon: accept: {err}"),
        }
    }
    // Stop accepting; connections finish their request in flight on their own tasks.
    drop(listener);
    future::pending::<()>().await;
}

/// Echoes lines until the peer leaves or admissions close between requests. A request starts
/// with its first byte: from then on it holds a guard, so the drain waits for its echo.
async fn echo(
    stream: TcpStream,
    shutdown: &Shutdown,
    log: &LogFile,
    jobs: &JobQueue,
) -> io::Result<()> {
    let mut writer = stream.clone();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let closed = async {
            shutdown.reached(Phase::StoppingNewRequests).await;
            None
        };
        let started = future::or(closed, async {
            Some(reader.fill_buf().await.map(|buf| !buf.is_empty()))
        })
        .await;
        match started {
            None => return Ok(()), // idle at the close: hang up
            Some(started) => {
                if !started? {
                    return Ok(()); // the peer left
                }
            }
        }
        let Ok(_request) = shutdown.enter() else {
            writer.write_all(b"ERR shutting down\n").await?;
            return Ok(());
        };
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        writer.write_all(line.as_bytes()).await?;
        log_later(jobs, log, format!("echo {}", line.trim_end()));
    }
}

/// Writes `text` to the log through the job queue, or at once if the queue refuses it (full,
/// or closed: this request was admitted before the close, the job would not be).
fn log_later(jobs: &JobQueue, log: &LogFile, text: String) {
    let job_log = log.clone();
    let job_text = text.clone();
    if jobs.push(async move { job_log.line(&job_text) }).is_err() {
        log.line(&text);
    }
}
