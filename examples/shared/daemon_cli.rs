//! What the two demo daemons (`daemon.rs` on tokio, `daemon_smol.rs` on smol) share: the
//! command line, the output helpers, the deadlines and the log file. Included by both with
//! `#[path]` (and `#[macro_use]`, for `say!` and `tell!`), so that they stay the same daemon on
//! two runtimes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use winddown::Config;

/// `eprintln!`, without the panic: one line on stderr, best effort (see [`say`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say(format_args!($($arg)*))
    };
}

/// `println!`, without the panic: one line on stdout, best effort (see [`tell`]).
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::cli::tell(format_args!($($arg)*))
    };
}

/// Writes one line to stderr in one `write_all` (`eprintln!` makes a system call for each
/// piece of its format), and ignores errors: a closed or broken log pipe must not take the
/// service down, and `eprintln!` would panic on it.
pub(crate) fn say(args: std::fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_all(line(args).as_bytes());
}

/// Writes one line to stdout in one `write_all`, and ignores errors: `daemon | head -1`
/// closes the pipe after the first line, and `println!` would panic on the next one. Rust
/// ignores SIGPIPE, so such a write fails with EPIPE instead of killing the process.
pub(crate) fn tell(args: std::fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    // stdout is line-buffered: flush, so that the line is out before the next step.
    let _ = stdout
        .write_all(line(args).as_bytes())
        .and_then(|()| stdout.flush());
}

/// The text of `args`, ending with one newline.
pub(crate) fn line(args: std::fmt::Arguments<'_>) -> String {
    let mut line = std::fmt::format(args);
    if !line.ends_with('\n') {
        line.push('\n');
    }
    line
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
                           temporary file in the same directory, then a rename)
    --block-hook           testing only: the signal listener's log hook blocks
                           forever on the first signal, as a hook stuck on a full
                           log pipe would; a third signal still ends the process
    -h, --help             print this help

It prints `listening on ADDR`, then `ready`, on stdout. Send it SIGTERM or press
Ctrl-C to stop it: it stops accepting, lets requests in flight finish, closes the
pool and the cache client (highest priority first), flushes its log file, prints
a report and exits with the report's exit code: 0 completed, 1 failed, 2 timed
out, 3 forced. A second signal forces the exit; a third ends the process at once
(exit status 143 for SIGTERM, 130 for SIGINT).

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
    /// Where to write the report as JSON, too.
    pub(crate) report_json: Option<std::path::PathBuf>,
}

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
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--block-hook" {
            args.block_hook = true;
            continue;
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
            "--report-json" => args.report_json = Some(value.into()),
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    Ok(Some(args))
}

/// Deadlines from the flags; the graceful deadline leaves room for all of them.
pub(crate) fn config(args: &Args) -> Result<Config, winddown::ConfigError> {
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
