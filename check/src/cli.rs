//! The command line: options, the run, the output, the exit status.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nix::sys::signal::Signal;

use crate::options::Options;
use crate::report::Scorecard;
use crate::run::{self, Relaunch};
use crate::target::{StartError, Target};
use crate::verdict;

/// Checks a server's graceful stop from outside.
///
/// Starts COMMAND with `{port}` in its arguments replaced by a free port (also given in
/// $PORT), waits until the port answers HTTP (and the ready path 200), runs load and
/// stubborn clients against it (HTTP/1.1 and HTTP/2 load, a slow request, idle, silent and
/// half-sent connections, a slow upload, requests racing the close, SSE, WebSocket, the
/// readiness probe), sends SIGTERM, and scores the stop: every request and connection
/// classified, every check passed, failed or skipped.
///
/// Exit status: 0 every check passed or was skipped, 1 a check failed, 2 the target could
/// not be started or reached (one line on stderr says why).
#[derive(Debug, Parser)]
#[command(
    name = "winddown-check",
    version,
    override_usage = "winddown-check [OPTIONS] -- COMMAND [ARGS]...\n       winddown-check [OPTIONS] --url URL --pid PID",
    after_help = "Example:\n    winddown-check --json stop.json -- ./target/release/examples/axum --port {port} --pre-stop 1"
)]
pub struct Args {
    /// The server to start, then its arguments (`{port}` is replaced by the port).
    #[arg(last = true, value_name = "COMMAND", required_unless_present = "url")]
    pub command: Vec<String>,

    /// Attach to a running server at this URL (`http://127.0.0.1:PORT` or `http://[::1]:PORT`)
    /// instead of starting one; needs --pid.
    #[arg(long, value_name = "URL", requires = "pid", conflicts_with = "command")]
    pub url: Option<String>,

    /// The attached server's process id: it gets the signal.
    #[arg(long, value_name = "PID", requires = "url")]
    pub pid: Option<i32>,

    /// How long the stop may take, from the signal to the exit: seconds, or `kubernetes`
    /// (30, terminationGracePeriodSeconds' default), `systemd` (90, TimeoutStopSec's
    /// default), `docker` (10, `docker stop`'s default). Past it, the target is killed.
    #[arg(long, value_name = "SECS|PRESET", default_value = "30", value_parser = parse_budget)]
    pub budget: Duration,

    /// Also check escalation on two fresh starts: with a request holding the stop, a second
    /// signal must end it within 3 s, and a third within 1 s.
    #[arg(long)]
    pub escalate: bool,

    /// The stop signal.
    #[arg(long, value_name = "NAME", default_value = "TERM", value_parser = parse_signal)]
    pub signal: Signal,

    /// A fast path answering 200: the load, and the warm-up of every connection.
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub load_path: String,

    /// A request that takes a second or more (in flight at the signal); '' for none.
    #[arg(long, value_name = "PATH", default_value = "/slow?ms=1000")]
    pub slow_path: String,

    /// A server-sent events stream; '' for none. A 404 skips its check.
    #[arg(long, value_name = "PATH", default_value = "/sse")]
    pub sse_path: String,

    /// A WebSocket endpoint; '' for none. A 404 skips its check.
    #[arg(long, value_name = "PATH", default_value = "/ws")]
    pub ws_path: String,

    /// The readiness probe; '' for none. A 404 skips its check.
    #[arg(long, value_name = "PATH", default_value = "/readyz")]
    pub ready_path: String,

    /// Where the slow upload POSTs its body.
    #[arg(long, value_name = "PATH", default_value = "/upload")]
    pub upload_path: String,

    /// For --escalate: a request that holds the stop longer than the escalation takes.
    #[arg(long, value_name = "PATH", default_value = "/slow?ms=60000")]
    pub stuck_path: String,

    /// How long the target may take to start answering.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub start_timeout: Duration,

    /// How long after the in-flight work an idle, silent, half-sent or uploading connection,
    /// an SSE stream or a WebSocket may stay open.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_secs)]
    pub slack: Duration,

    /// HTTP/1.1 load connections (1 to 64).
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub connections: u16,

    /// Also write the scorecard as JSON (version 1) to PATH.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Also draw the stop as an SVG timeline to PATH.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,

    /// Copy the target's stdout and stderr to stderr (prefixed `target: `).
    #[arg(long)]
    pub show_output: bool,
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a number of seconds between 0 and 86400"))
}

fn parse_budget(text: &str) -> Result<Duration, String> {
    match text {
        "kubernetes" | "k8s" => Ok(Duration::from_secs(30)),
        "systemd" => Ok(Duration::from_secs(90)),
        "docker" => Ok(Duration::from_secs(10)),
        _ => parse_secs(text).map_err(|err| format!("{err}, nor kubernetes, systemd or docker")),
    }
}

fn parse_signal(text: &str) -> Result<Signal, String> {
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    match name.as_str() {
        "SIGTERM" => Ok(Signal::SIGTERM),
        "SIGINT" => Ok(Signal::SIGINT),
        "SIGQUIT" => Ok(Signal::SIGQUIT),
        "SIGHUP" => Ok(Signal::SIGHUP),
        "SIGUSR1" => Ok(Signal::SIGUSR1),
        "SIGUSR2" => Ok(Signal::SIGUSR2),
        "SIGWINCH" => Ok(Signal::SIGWINCH),
        _ => Err(format!(
            "{text:?} is not one of TERM, INT, QUIT, HUP, USR1, USR2, WINCH"
        )),
    }
}

fn path(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

impl Args {
    /// The run's settings.
    pub fn options(&self, progress: bool) -> Options {
        Options {
            load_path: self.load_path.clone(),
            slow_path: path(&self.slow_path),
            sse_path: path(&self.sse_path),
            ws_path: path(&self.ws_path),
            ready_path: path(&self.ready_path),
            upload_path: self.upload_path.clone(),
            stuck_path: self.stuck_path.clone(),
            budget: self.budget,
            start_timeout: self.start_timeout,
            slack: self.slack,
            signal: self.signal,
            escalate: self.escalate,
            http1_connections: usize::from(self.connections),
            progress,
            ..Options::default()
        }
    }
}

/// Where `--url` points: a loopback address and port.
fn loopback(url: &str) -> Result<SocketAddr, StartError> {
    let bad = || {
        StartError::Setup(format!(
            "--url {url:?}: give http://127.0.0.1:PORT or http://[::1]:PORT"
        ))
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = authority.parse().map_err(|_| bad())?;
    let is_loopback = match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if !is_loopback {
        return Err(StartError::Setup(format!(
            "--url {url:?}: the checker talks to 127.0.0.1 and ::1 only"
        )));
    }
    Ok(addr)
}

/// The whole program: parse, run, print; the exit status.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            return fail(&StartError::Setup(format!(
                "cannot start the runtime: {err}"
            )))
        }
    };
    match runtime.block_on(check(&args)) {
        Ok(passed) => ExitCode::from(if passed { 0 } else { 1 }),
        Err(err) => fail(&err),
    }
}

fn fail(err: &StartError) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "winddown-check: {err}");
    ExitCode::from(2)
}

async fn check(args: &Args) -> Result<bool, StartError> {
    let opts = args.options(run::stderr_is_terminal());
    let (target, label) = match (&args.url, args.pid) {
        (Some(url), Some(pid)) => (Target::attach(loopback(url)?, pid)?, url.clone()),
        _ => {
            let (command, rest) = args
                .command
                .split_first()
                .ok_or_else(|| StartError::Setup("no COMMAND after --".into()))?;
            let target = Target::launch(command, rest, args.show_output)?;
            let port = target.addr.port().to_string();
            let label = args
                .command
                .iter()
                .map(|arg| arg.replace("{port}", &port))
                .collect::<Vec<_>>()
                .join(" ");
            (target, label)
        }
    };
    let ready = target
        .wait_ready(opts.ready_path.as_deref(), opts.start_timeout)
        .await;
    let has_ready = match ready {
        Ok(has_ready) => has_ready,
        Err(err) => {
            target.kill();
            target.clean_up();
            return Err(err);
        }
    };
    let stop = run::stop(&opts, &target, has_ready).await?;
    let escalation = match (&args.url, opts.escalate) {
        (None, true) => {
            let command = args.command.clone();
            let echo = args.show_output;
            let mut relaunch: Relaunch = Box::new(move || {
                let command = command.clone();
                Box::pin(async move { Target::launch(&command[0], &command[1..], echo) })
            });
            Some(escalation(&opts, &mut relaunch).await)
        }
        _ => None,
    };
    let checks = verdict::judge(&stop, &opts, escalation.as_ref());
    let card = Scorecard::new(label, checks, stop, &opts);
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = std::io::stdout()
        .lock()
        .write_all(card.table(colour).as_bytes());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&card.to_json()).unwrap_or_default();
        write_file(path, &(text + "\n"))?;
    }
    if let Some(path) = &args.svg {
        write_file(path, &crate::svg::render(&card.stop, &opts, &card.target))?;
    }
    Ok(card.passed())
}

/// A fresh start of the target, ready, and its escalation run.
async fn escalation(opts: &Options, relaunch: &mut Relaunch) -> run::Escalation {
    let fresh = async {
        let target = relaunch().await?;
        if let Err(err) = target
            .wait_ready(opts.ready_path.as_deref(), opts.start_timeout)
            .await
        {
            target.kill();
            target.clean_up();
            return Err(err);
        }
        Ok(target)
    };
    match fresh.await {
        Ok(target) => run::escalate(opts, &target).await,
        Err(err) => run::Escalation {
            first_at: std::time::Instant::now(),
            second_at: None,
            third_at: None,
            exit: None,
            killed: false,
            error: Some(format!("the fresh start failed: {err}")),
        },
    }
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), StartError> {
    std::fs::write(path, text)
        .map_err(|err| StartError::Setup(format!("cannot write {}: {err}", path.display())))
}
