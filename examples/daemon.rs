//! The winddown demo daemon: a small TCP line-echo service that stops well.
//!
//! ```text
//! cargo run --release --example daemon --features full -- --help
//! ```
//!
//! It listens on 127.0.0.1, echoes every line back, runs two background workers, holds a
//! pretend connection pool and cache client (closed in priority order) and a buffered log
//! file (flushed in the flush phase), written through a job queue (`examples/jobs`, the
//! runtime-free library that the smol daemon, `examples/daemon_smol.rs`, uses too). On SIGTERM
//! or Ctrl-C it runs the whole shutdown sequence with progress on stderr, prints the report on
//! stdout, and exits with the report's exit code. A second signal forces the exit; a third
//! ends it at once (143 for SIGTERM). Run by systemd as a `Type=notify` service, it tells
//! systemd when it is ready, stopping, in which phase, and that a slow stop is still within its
//! deadlines.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jobs::JobQueue;

#[macro_use]
#[path = "shared/daemon_cli.rs"]
mod cli;
use cli::{config, line, parse_args, Args, LogFile};

#[cfg(feature = "serde")]
#[path = "shared/report_json.rs"]
mod report_json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use winddown::tokio::{run_until_shutdown, TokioRuntime};
use winddown::{Phase, Plan, Resource, ResourceKind, Shutdown, TaskSet};

/// The first line of `--help`.
const ABOUT: &str =
    "winddown demo daemon: a TCP line-echo server on 127.0.0.1 that shuts down gracefully.";

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            tell!("{}", cli::usage("daemon", ABOUT));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            say!("daemon: {message}\n\n{}", cli::usage("daemon", ABOUT));
            return ExitCode::from(64); // EX_USAGE
        }
    };

    // One thread runs everything: the service, the workers, the signal listener and the
    // shutdown sequence. Building a current-thread runtime starts no thread.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            say!("daemon: cannot start the runtime: {err}");
            return ExitCode::from(71);
        }
    };
    let shutdown = Shutdown::new();
    // Signals first, before anything else starts; each step is logged. The listener is a task
    // on the runtime, woken by its I/O driver: no thread between the signal and the stop. A
    // third signal ends the process from the signal handler, even with the runtime stuck.
    let block_hook = args.block_hook;
    let entered = runtime.enter();
    let signals = match winddown::signals::Builder::new()
        .on_event(move |event| {
            say!("daemon: {event}");
            if block_hook {
                // Testing only (`--block-hook`): the hook never comes back, and with it the
                // runtime's only thread.
                loop {
                    std::thread::park();
                }
            }
        })
        .listen_tokio(&shutdown)
    {
        Ok(listener) => listener,
        Err(err) => {
            say!("daemon: cannot listen for signals: {err}");
            return ExitCode::from(71); // EX_OSERR
        }
    };
    drop(runtime.spawn(signals));
    drop(entered);
    let code = runtime.block_on(serve(args, shutdown));
    // Exit now: the runtime may still hold connections the report gave up on. `exit` runs no
    // destructors: the listener task stays in the runtime, and until the process is gone a
    // signal still escalates (a third one ends it at once).
    std::process::exit(code);
}

/// Runs the service until the shutdown sequence ends; returns the exit code.
async fn serve(args: Args, shutdown: Shutdown) -> i32 {
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
            return finish(&plan, json.as_deref(), std::future::pending()).await;
        }
    };
    // The library's worker runs on our runtime, spawned plainly (see examples/jobs).
    match jobs.worker() {
        Ok(worker) => drop(tokio::spawn(worker)),
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
        Ok(addr) => tell!("listening on {addr}"),
        Err(err) => {
            say!("daemon: {err}");
            return 71;
        }
    }

    let workers = TaskSet::new(&plan, TokioRuntime::new());
    for name in ["ticker", "janitor"] {
        let log = log.clone();
        let spawned = workers.spawn(name, move |shutdown| async move {
            let mut ticks = 0u64;
            loop {
                tokio::select! {
                    () = shutdown.triggered() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {
                        ticks += 1;
                        log.line(&format!("{name}: tick {ticks}"));
                    }
                }
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
    finish(
        &plan,
        json.as_deref(),
        accept(listener, shutdown.clone(), log, jobs),
    )
    .await
}

/// Runs `app` until the shutdown sequence ends, prints the report (and writes it as JSON to
/// `json`, if given), and returns its exit code.
async fn finish(
    plan: &Plan,
    json: Option<&std::path::Path>,
    app: impl std::future::Future<Output = ()>,
) -> i32 {
    let report = run_until_shutdown(plan, app).await;
    // One write for the whole table: stdout is line-buffered, and a write per line costs a
    // system call each while the process is on its way out. A closed stdout only loses the
    // report: the exit code still says how the shutdown went.
    let text = line(format_args!("{report}"));
    if let Err(err) = io::stdout().lock().write_all(text.as_bytes()) {
        say!("daemon: cannot print the report: {err}");
    }
    if let Some(path) = json {
        if let Err(err) = report_json::write(path, &report) {
            say!(
                "daemon: cannot write the report to {}: {err}",
                path.display()
            );
        }
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
    // 64 slots, allocated up front (32 B each): see `JobQueue::new`.
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
                tokio::time::sleep(slow).await;
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
                // Blocks the runtime's only thread: the sequence cannot even notice a force.
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
async fn accept(listener: TcpListener, shutdown: Shutdown, log: LogFile, jobs: JobQueue) {
    let closed = shutdown.reached(Phase::StoppingNewRequests);
    tokio::pin!(closed);
    loop {
        tokio::select! {
            _ = &mut closed => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let shutdown = shutdown.clone();
                    let log = log.clone();
                    let jobs = jobs.clone();
                    tokio::spawn(async move {
                        if let Err(err) = echo(stream, &shutdown, &log, &jobs).await {
                            say!("daemon: connection {peer}: {err}");
                        }
                    });
                }
                Err(err) => say!("daemon: accept: {err}"),
            },
        }
    }
    // Stop accepting; connections finish their request in flight on their own tasks.
    drop(listener);
    std::future::pending::<()>().await;
}

/// Echoes lines until the peer leaves or admissions close between requests. A request starts
/// with its first byte: from then on it holds a guard, so the drain waits for its echo.
async fn echo(
    stream: TcpStream,
    shutdown: &Shutdown,
    log: &LogFile,
    jobs: &JobQueue,
) -> io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    loop {
        let closed = shutdown.reached(Phase::StoppingNewRequests);
        let started = tokio::select! {
            _ = closed => return Ok(()), // idle at the close: hang up
            buffered = reader.fill_buf() => !buffered?.is_empty(),
        };
        if !started {
            return Ok(()); // the peer left
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
