//! The winddown demo daemon on smol: the same TCP line-echo service as `daemon.rs`
//! (tokio), with the same flags, output, exit codes, escalation and systemd notifications.
//!
//! ```text
//! cargo run --release -p winddown-demo --example daemon_smol --features smol -- --help
//! ```
//!
//! Everything runs on the main thread: one `smol::Executor`, driven by `smol::block_on`,
//! runs the service, the workers, the job queue's worker, the signal listener's task and the
//! shutdown sequence, and writes what the daemon prints. One more thread exists, sleeping until
//! it has work: async-io's reactor thread (started by async-io on first use; it waits on epoll
//! while the main thread is busy). Two more start only when needed: the output writer
//! (`output`), once a line has to wait for a full pipe (nothing the daemon prints can block
//! it), and the signal hook's thread, for `--block-hook` only (the daemon's own hook runs on the
//! listener's task: it never blocks). The job queue (`examples/jobs`) is the same runtime-free
//! library the tokio daemon uses.

use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::Arc;
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
use smol::future;
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};
use smol::{Executor, Timer};
use winddown::smol::SmolRuntime;
use winddown::{run_until_shutdown, Phase, Shutdown, TaskSet};

/// The first line of `--help`.
const ABOUT: &str =
    "winddown demo daemon on smol: a TCP line-echo server on 127.0.0.1 that shuts down gracefully.";

fn main() -> ExitCode {
    cli::main("daemon_smol", ABOUT, |args, shutdown, signals| {
        // Signals first, before async-io starts its thread. The listener is a task on the
        // executor, woken by async-io's reactor: no thread of its own. A third signal ends the
        // process from the signal handler, even with the executor stuck.
        let signals = match signals.listen_async_io(&shutdown) {
            Ok(listener) => listener,
            Err(err) => return cli::cannot_listen(&err),
        };
        // One executor, run by the main thread: the service, the workers, the signal listener
        // and the shutdown sequence all run here (tokio's current-thread runtime does the same
        // for the tokio one). Dropped on return, with whatever tasks the report gave up on.
        let executor = Arc::new(Executor::new());
        executor.spawn(cli::kept(signals)).detach();
        // The service is a task too: `run` polls the future it is given each time any task
        // wakes, so the accept loop would try `accept` once more for every other wake-up
        // (a signal's, a worker's, the sequence's). Its handle costs nothing to poll.
        let service = executor.spawn(serve(args, shutdown, executor.clone()));
        smol::block_on(executor.run(service))
    })
}

/// The runtime's timer, for the slow pool.
async fn sleep(duration: Duration) {
    Timer::after(duration).await;
}

/// Runs the service until the shutdown sequence ends; returns the exit code.
async fn serve(args: Args, shutdown: Shutdown, executor: Arc<Executor<'static>>) -> u8 {
    let json = args.report_json.clone();
    let Service { plan, log, jobs } = match cli::setup(&args, &shutdown, sleep) {
        Ok(service) => service,
        Err(code) => return code,
    };
    let runtime = SmolRuntime::with_executor(executor.clone());
    let Some(jobs) = jobs else {
        // Nothing is served yet: stop with what is set up.
        return finish(
            run_until_shutdown(&plan, runtime, future::pending::<()>()),
            json.as_deref(),
        )
        .await;
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
        let spawned = workers.spawn(name, move |ctx| async move {
            let mut ticks = 0u64;
            loop {
                let tick = async {
                    Timer::after(Duration::from_secs(1)).await;
                    true
                };
                if !future::or(
                    async {
                        ctx.shutdown().triggered().await;
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

    cli::ready(&log);
    let app = accept(listener, shutdown.clone(), log, jobs, executor);
    finish(run_until_shutdown(&plan, runtime, app), json.as_deref()).await
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
