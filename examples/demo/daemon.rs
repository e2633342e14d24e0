//! The winddown demo daemon: a small TCP line-echo service that stops well.
//!
//! ```text
//! cargo run --release -p winddown-demo --example daemon -- --help
//! ```
//!
//! It listens on 127.0.0.1, echoes every line back, runs two background workers, holds a
//! pretend connection pool and cache client (closed in priority order) and a buffered log
//! file (flushed in the flush phase), written through a job queue (`examples/jobs`, the
//! runtime-free library that the smol daemon, `daemon_smol.rs`, uses too). It listens for
//! signals with a task on its runtime (`listen_tokio`), not a thread. On SIGTERM
//! or Ctrl-C it runs the whole shutdown sequence with progress on stderr, prints the report on
//! stdout, and exits with the report's exit code. A second signal forces the exit; a third
//! ends it at once (143 for SIGTERM). Run by systemd as a `Type=notify` service, it tells
//! systemd when it is ready, stopping, in which phase, and that a slow stop is still within its
//! deadlines.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jobs::JobQueue;

#[path = "../shared/output.rs"]
mod output;

#[macro_use]
#[path = "cli.rs"]
mod cli;
use cli::{finish, log_later, Args, LogFile, Service};

#[cfg(feature = "json")]
#[path = "report_json.rs"]
mod report_json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use winddown::run_until_shutdown;
use winddown::tokio::TokioRuntime;
use winddown::{Phase, Shutdown, TaskSet};

/// The first line of `--help`.
const ABOUT: &str =
    "winddown demo daemon: a TCP line-echo server on 127.0.0.1 that shuts down gracefully.";

fn main() -> ExitCode {
    cli::main("daemon", ABOUT, |args, shutdown, signals| {
        // One thread runs everything: the service, the workers, the signal listener and the
        // shutdown sequence. Building a current-thread runtime starts no thread.
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                say!("daemon: cannot start the runtime: {err}");
                return 71; // EX_OSERR
            }
        };
        // Signals first, before anything else starts. The listener is a task on the runtime,
        // woken by its I/O driver: no thread between the signal and the stop. A third signal
        // ends the process from the signal handler, even with the runtime stuck.
        let signals = match runtime.block_on(async { signals.listen_tokio(&shutdown) }) {
            Ok(listener) => listener,
            Err(err) => return cli::cannot_listen(&err),
        };
        drop(runtime.spawn(cli::kept(signals)));
        let code = runtime.block_on(serve(args, shutdown));
        // Connections the report gave up on are dropped with their tasks; nothing here waits
        // for a thread (the daemon starts none), so this returns at once.
        runtime.shutdown_timeout(Duration::from_secs(1));
        code
    })
}

/// Runs the service until the shutdown sequence ends; returns the exit code.
async fn serve(args: Args, shutdown: Shutdown) -> u8 {
    let json = args.report_json.clone();
    let Service { plan, log, jobs } = match cli::setup(&args, &shutdown, tokio::time::sleep) {
        Ok(service) => service,
        Err(code) => return code,
    };
    let Some(jobs) = jobs else {
        // Nothing is served yet: stop with what is set up.
        return finish(
            run_until_shutdown(&plan, TokioRuntime::new(), std::future::pending::<()>()),
            json.as_deref(),
        )
        .await;
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
        let spawned = workers.spawn(name, move |ctx| async move {
            let mut ticks = 0u64;
            loop {
                tokio::select! {
                    () = ctx.shutdown().triggered() => break,
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

    cli::ready(&log);
    let app = accept(listener, shutdown.clone(), log, jobs);
    finish(
        run_until_shutdown(&plan, TokioRuntime::new(), app),
        json.as_deref(),
    )
    .await
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
