//! What the two demo daemons (`daemon.rs` on tokio, `daemon_smol.rs` on smol) share: `main`,
//! the command line, the deadlines, the resources and the log file, the report at the end.
//! Included by both with `#[path]` (and `#[macro_use]`, for `say!` and `tell!`), so that they
//! stay the same daemon on two runtimes; each brings its runtime and its accept loop.

use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs::JobQueue;
use winddown::{Config, Plan, Report, Resource, ResourceKind, Shutdown};

use crate::output;

/// `eprintln!` that never blocks: one line of progress on stderr (see `output`).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line($crate::output::Stream::Err, format_args!($($arg)*))
    };
}

/// `println!` that never blocks: one line on stdout (see `output`).
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::output::line($crate::output::Stream::Out, format_args!($($arg)*))
    };
}

/// What `main` does in both daemons: reads the flags, runs `serve` (the daemon on its runtime,
/// given the signal listener's [`Builder`](winddown::signals::Builder) to listen with first,
/// as a task on that runtime: see [`kept`]) and returns its exit code once the output is
/// written (at most a second: see `output::finish`). Nothing calls `process::exit`: the
/// daemon's destructors run.
pub(crate) fn main(
    name: &str,
    about: &str,
    serve: impl FnOnce(Args, Shutdown, winddown::signals::Builder) -> u8,
) -> ExitCode {
    let code = match parse_args() {
        Ok(Some(args)) => {
            let signals = signals(args.block_hook);
            let code = serve(args, Shutdown::new(), signals);
            output::finish("daemon");
            code
        }
        Ok(None) => {
            tell!("{}", usage(name, about));
            0
        }
        Err(message) => {
            say!("daemon: {message}\n\n{}", usage(name, about));
            64 // EX_USAGE
        }
    };
    // A no-op where it ran above.
    output::finish("daemon");
    ExitCode::from(code)
}

/// SIGTERM and SIGINT: the first triggers, the second forces, the third ends the process.
/// Each is logged as it happens, in order with the stop. `say!` writes its line only if the
/// stream takes it without waiting, else queues it for the output thread (which drops what a
/// full pipe will not take, and counts it), so the hook never blocks and runs inline, on the listener itself: no hand-off to a thread of its own and back
/// on the way to the stop.
fn signals(block_hook: bool) -> winddown::signals::Builder {
    let builder = winddown::signals::Builder::new();
    if !block_hook {
        return builder.on_event_inline(|event| say!("daemon: {event}"));
    }
    // Testing only (`--block-hook`): a hook that never returns, as a hook stuck on a full log
    // pipe would not, on the hook thread that exists for such hooks: the listener triggers and
    // forces without it.
    builder.on_event(|event| {
        say!("daemon: {event}");
        loop {
            std::thread::park();
        }
    })
}

/// The exit code when the signals cannot be listened for, said on stderr.
pub(crate) fn cannot_listen(err: &io::Error) -> u8 {
    say!("daemon: cannot listen for signals: {err}");
    71 // EX_OSERR
}

/// The signal listener task, made to be spawned and never dropped, not even with its runtime:
/// until the process is gone a third signal still ends it at once (143). Dropping it would
/// only give the signals their old behaviour back (a third SIGTERM would kill the process
/// instead of ending it with 143) and wait a moment for its hook, just before the process
/// ends anyway.
pub(crate) fn kept<L: Future<Output = ()> + Unpin + 'static>(listener: L) -> &'static mut L {
    Box::leak(Box::new(listener))
}

/// Runs `app` until the shutdown sequence ends, prints the report (and writes it as JSON to
/// `json`, if given), and returns its exit code.
pub(crate) async fn finish(run: impl Future<Output = Report>, json: Option<&Path>) -> u8 {
    let report = run.await;
    // A closed or full stdout only loses the report: the exit code still says how it went.
    tell!("{report}");
    if let Some(path) = json {
        if let Err(err) = write_json(path, &report) {
            say!(
                "daemon: cannot write the report to {}: {err}",
                path.display()
            );
        }
    }
    // 0 to 3: see `Report::exit_code`.
    report.exit_code()
}

#[cfg(feature = "json")]
fn write_json(path: &Path, report: &Report) -> io::Result<()> {
    crate::report_json::write(path, report)
}

#[cfg(not(feature = "json"))]
fn write_json(_: &Path, _: &Report) -> io::Result<()> {
    Err(io::Error::other("built without the `json` feature"))
}

/// The help text, for the daemon named `name`, whose first line is `about`.
pub(crate) fn usage(name: &str, about: &str) -> String {
    format!(
        "\
{about}

USAGE:
    {name} [OPTIONS]

OPTIONS:
    --port PORT            port to listen on (default 0: any free port)
    --slow-close SECS      make the connection pool take SECS to close (default
                           0: it has nothing to wait for and closes at once)
    --stuck-close SECS     make the cache client block its thread for SECS while
                           closing (a closer that ignores cancellation: only a
                           third signal ends the process before it returns;
                           default 0: it closes at once)
    --drain-timeout SECS   how long to wait for requests in flight (default 10)
    --close-timeout SECS   how long each resource may take to close (default 5)
    --report-json PATH     also write the report as JSON to PATH (atomically: a
                           temporary file in the same directory, then a rename;
                           checked at the start; needs the `json` feature)
    --block-hook           testing only: the signal listener's log hook blocks
                           forever on the first signal, as a hook stuck on a full
                           log pipe would; the second signal still forces
    -h, --help             print this help

It prints `listening on ADDR`, then `ready`, on stdout. Send it SIGTERM or press
Ctrl-C to stop it: it stops accepting, lets requests in flight finish, closes the
pool and the cache client (highest priority first), flushes its log file, prints
a report and exits with the report's exit code: 0 completed, 1 failed, 2 timed
out, 3 forced. A second signal forces the exit; a third ends the process at once
(exit status 143 for SIGTERM, 130 for SIGINT). Nothing it prints can hold the
stop: a line for a pipe nobody reads is dropped, and the count of dropped lines
is printed on the other stream at the exit.

Run by systemd as a Type=notify service (NOTIFY_SOCKET set), it also sends
READY=1 once serving, STOPPING=1 at the first signal, STATUS= at each phase,
EXTEND_TIMEOUT_USEC= while a slow stop is within its deadlines (never past the
graceful one), and WATCHDOG=1 when WatchdogSec= is set.

Try: {name} --slow-close 30, then SIGTERM: the pool overruns its close deadline.
Or: {name} --stuck-close 60, then SIGTERM three times."
    )
}

/// The command line.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) port: u16,
    /// Zero unless asked for: an idle pool has nothing to wait for.
    pub(crate) slow_close: Duration,
    /// Zero unless asked for.
    pub(crate) stuck_close: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) close_timeout: Duration,
    /// Testing only: the signal hook blocks forever on the first event.
    pub(crate) block_hook: bool,
    /// Where to write the report as JSON, too (checked writable at the start).
    pub(crate) report_json: Option<std::path::PathBuf>,
}

/// The flags, `Ok(None)` for `--help`, or what is wrong with them.
pub(crate) fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        port: 0,
        slow_close: Duration::ZERO,
        stuck_close: Duration::ZERO,
        drain_timeout: Duration::from_secs(10),
        close_timeout: Duration::from_secs(5),
        block_hook: false,
        report_json: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--block-hook" => {
                args.block_hook = true;
                continue;
            }
            "--port" | "--slow-close" | "--stuck-close" | "--drain-timeout" | "--close-timeout"
            | "--report-json" => {}
            _ => return Err(format!("unknown option {flag:?}")),
        }
        let value = words
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let seconds = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e9)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{flag} takes a number of seconds, not {value:?}"))
        };
        match flag.as_str() {
            "--port" => {
                args.port = value
                    .parse()
                    .map_err(|_| format!("--port takes a port, not {value:?}"))?
            }
            "--slow-close" => args.slow_close = seconds()?,
            "--stuck-close" => args.stuck_close = seconds()?,
            "--drain-timeout" => args.drain_timeout = seconds()?,
            "--close-timeout" => args.close_timeout = seconds()?,
            _ => {
                let path = PathBuf::from(&value);
                check_report_path(&path).map_err(|err| format!("--report-json {value}: {err}"))?;
                args.report_json = Some(path);
            }
        }
    }
    Ok(Some(args))
}

/// Whether the report can be written to `path` at the end: checked at the start, so that a
/// wrong path fails the start, not the stop. It must name a file (not a directory) in a
/// directory where a file can be created.
fn check_report_path(path: &Path) -> Result<(), String> {
    if !cfg!(feature = "json") {
        return Err("this build has no JSON (build it with the `json` feature)".into());
    }
    if path.is_dir() {
        return Err("is a directory".into());
    }
    if path.file_name().is_none() {
        return Err("names no file".into());
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // The very file the report will go through, created and removed again.
    let probe = report_json_temporary(path);
    File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|err| format!("cannot create a file in {}: {err}", dir.display()))
}

/// `DIR/.NAME.PID.tmp` for `DIR/NAME`: where the report's JSON is written before it is renamed
/// over `DIR/NAME` (same directory, so the rename is atomic).
pub(crate) fn report_json_temporary(path: &Path) -> PathBuf {
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(path.file_name().unwrap_or_default());
    temporary.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(temporary)
}

/// Deadlines from the flags; the graceful deadline leaves room for all of them.
fn config(args: &Args) -> Result<Config, winddown::ConfigError> {
    let graceful = args.drain_timeout + args.close_timeout * 2 + Duration::from_secs(5);
    Config::builder()
        .graceful(graceful)
        .drain(args.drain_timeout)
        .close(args.close_timeout)
        .flush(Duration::from_secs(5).min(graceful))
        .build()
}

/// A buffered log file, flushed by the shutdown's flush phase.
#[derive(Clone)]
pub(crate) struct LogFile {
    pub(crate) path: Arc<PathBuf>,
    writer: Arc<Mutex<BufWriter<File>>>,
}

impl LogFile {
    pub(crate) fn create() -> io::Result<Self> {
        let path = std::env::temp_dir().join(format!("winddown-daemon-{}.log", std::process::id()));
        let file = File::create(&path)?;
        Ok(LogFile {
            path: Arc::new(path),
            writer: Arc::new(Mutex::new(BufWriter::new(file))),
        })
    }

    pub(crate) fn line(&self, text: &str) {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Best effort: a full disk must not take the service down; the flush reports it.
        let _ = writeln!(writer, "{text}");
    }

    pub(crate) fn flush(&self) -> io::Result<()> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .flush()
    }
}

/// What both daemons set up before their runtime's own parts: the plan (its deadlines from the
/// flags, its progress on stderr), the log file, and the resources.
pub(crate) struct Service {
    pub(crate) plan: Plan,
    pub(crate) log: LogFile,
    /// `None` when a signal came while starting: registering was refused, and the daemon stops
    /// cleanly with what is set up.
    pub(crate) jobs: Option<JobQueue>,
}

/// Sets the [`Service`] up; `Err` with the exit code if it cannot be. `sleep` is the runtime's
/// timer.
pub(crate) fn setup<S, F>(args: &Args, shutdown: &Shutdown, sleep: S) -> Result<Service, u8>
where
    S: Fn(Duration) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let config = config(args).map_err(|err| {
        say!("daemon: {err}");
        64 // EX_USAGE
    })?;
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
    let log = LogFile::create().map_err(|err| {
        say!("daemon: cannot create the log file: {err}");
        73 // EX_CANTCREAT
    })?;
    let jobs = match register_resources(&plan, args, &log, sleep) {
        Ok(jobs) => Some(jobs),
        Err(err) if !shutdown.is_triggered() => {
            say!("daemon: {err}");
            return Err(70); // EX_SOFTWARE
        }
        Err(err) => {
            // A signal while starting: registering is refused once the shutdown is triggered.
            say!("daemon: stopped while starting ({err})");
            None
        }
    };
    Ok(Service { plan, log, jobs })
}

/// Says where the log goes and, run by systemd, that it is told; then `ready` on stdout.
pub(crate) fn ready(log: &LogFile) {
    say!("daemon: log file {}", log.path.display());
    // Run by systemd as `Type=notify`: the run helper sends READY=1 as it starts serving, and
    // the stop's notifications after it. Said here only so the log shows it.
    if winddown::systemd::Systemd::from_env().is_active() {
        say!("daemon: systemd: notifying the service manager through NOTIFY_SOCKET");
    }
    tell!("ready");
}

/// The job queue (the library: it registers its own closer), the pool and the cache client
/// close in priority order; the log file is flushed last. `sleep` is the runtime's timer.
fn register_resources<S, F>(
    plan: &Plan,
    args: &Args,
    log: &LogFile,
    sleep: S,
) -> Result<JobQueue, winddown::RegisterError>
where
    S: Fn(Duration) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    // 64 slots, allocated up front (32 B each): see `JobQueue::new`.
    let jobs = JobQueue::new(plan, 64)?;
    let slow = args.slow_close;
    plan.register(
        Resource::new("connection pool", move || {
            // A real pool would wait for its connections to be returned and close them; an idle
            // one has none out, so it closes without touching a timer.
            let wait = (!slow.is_zero()).then(|| sleep(slow));
            async move {
                match wait {
                    None => say!("daemon: connection pool: closing"),
                    Some(wait) => {
                        say!("daemon: connection pool: closing, taking {slow:?}");
                        wait.await;
                    }
                }
                Ok(())
            }
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
            Ok(())
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
        Resource::new("log file", move || async move { Ok(log.flush()?) }).kind(ResourceKind::File),
    )?;
    Ok(jobs)
}

/// Writes `text` to the log through the job queue, or at once if the queue refuses it (full,
/// or closed: this request was admitted before the close, the job would not be).
pub(crate) fn log_later(jobs: &JobQueue, log: &LogFile, text: String) {
    let job_log = log.clone();
    let job_text = text.clone();
    if jobs.push(async move { job_log.line(&job_text) }).is_err() {
        log.line(&text);
    }
}
