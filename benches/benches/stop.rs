//! P6: the demo daemon, idle, from SIGTERM sent until the process has exited, beside a bare
//! tokio daemon.
//!
//! Each run starts a daemon as a child process, reads its stdout until `ready`, lets it sit idle
//! for [`SETTLE`], then sends SIGTERM (`kill(2)`) and waits for the exit (`waitid(2)` with
//! `WNOWAIT`: the time stops when the exit status is there to reap); the child is then reaped
//! and its exit status and output checked. Between `ready` and the exit the bench reads neither
//! pipe ([`Output`]): nothing of the bench wakes up while the time runs. Arms:
//!
//! - the demo daemon (`examples/demo/daemon.rs`, built by `report.sh` with `cargo build
//!   --release -p winddown-demo --all-features --example daemon`) as shipped, the arm the
//!   target is about: on SIGTERM its signal listener's task triggers the shutdown on the
//!   runtime's only thread (once its log hook, on the listener's hook thread, has queued the
//!   signal's line), which runs the whole sequence (stop admissions, drain, close its job
//!   queue, pretend connection pool and cache client in priority order, flush its log file),
//!   prints progress on stderr and the report on stdout, and exits 0. Idle, its closers have
//!   nothing to wait for and return at once;
//! - the same daemon with pretend slow closers (`--slow-close 0.02 --stuck-close 0.005`: the pool
//!   sleeps 20 ms, then the cache client blocks its thread 5 ms), for information: the same
//!   sequence carrying 25 ms of work the flags ask for (recorded as `asked_ms`);
//! - the smol demo daemon (`examples/demo/daemon_smol.rs`), when built;
//! - for information, the demo daemon and the baseline with their exit seen by polling every
//!   [`POLL`] ([`Observe::Poll`]), as a probe from outside that polls sees them: each against the
//!   baseline seen the same way;
//! - the baseline: `bare_daemon` (`benches/bin/bare_daemon.rs`), a tokio daemon that exits on
//!   SIGTERM and does nothing else.
//!
//! [`RUNS`] runs per arm, interleaved (each round runs every arm once, starting at the next arm),
//! after one warm-up run per arm. Per arm: median, min, 10th percentile and max, the ratio of
//! medians and of maxes to the baseline's, and the slow runs (more than [`SLOW`] times the
//! arm's 10th percentile: the slow path the issue saw in signal-mod, which starts a thread at
//! shutdown).
//!
//! Every wait has a deadline ([`PATIENCE`]): a daemon that does not print `ready`, or does not
//! exit, is killed and the measure reported as failed; nothing hangs. If the demo daemon has not
//! been built, the measure is skipped with a message. The demo daemon is found next to this
//! bench's own directory (`<target>/<profile>/examples/daemon`), or at `WINDDOWN_P6_DAEMON`
//! (`WINDDOWN_P6_DAEMON_SMOL` for the smol one).
//!
//! Without `--bench` (as under `cargo test`), each arm runs twice and any failure panics, as a
//! smoke test.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use winddown_benches::{median, percentile, record, timing_requested, Value};

/// Timed runs per arm (`WINDDOWN_P6_RUNS` overrides).
const RUNS: usize = 20;

/// How long a daemon sits idle after `ready` before the signal.
const SETTLE: Duration = Duration::from_millis(50);

/// The longest any single wait (for `ready`, for the exit) may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// How often the informational polled arms look for the exit.
const POLL: Duration = Duration::from_millis(1);

/// A run is slow when it takes more than this many times its arm's 10th percentile.
const SLOW: f64 = 2.0;

/// What the demo daemon prints in its report when the sequence completed.
const REPORT_MARK: &str = "shutdown completed in";

/// One kind of daemon.
struct Arm {
    /// The name in the report.
    name: &'static str,
    /// The tag in the record lines.
    tag: &'static str,
    path: PathBuf,
    args: &'static [&'static str],
    /// Whether a completed report must be on its stdout.
    reports: bool,
    /// How long the work its flags ask for takes at the least (pretend closers that sleep).
    asked: Duration,
    /// How the bench sees its exit.
    observe: Observe,
}

/// How the bench sees the child's exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Observe {
    /// `waitid(2)` blocks until the exit: the time stops when the kernel reports it. The
    /// measure.
    Wait,
    /// `waitid(2)` with `WNOHANG` every so often, sleeping in between, as a supervisor loop, a
    /// test harness (`try_wait` and a sleep) or a script's `wait(timeout=...)` does. For
    /// information: such a probe reads its own polling period, not the daemon, when the stop
    /// takes less than that period; P6's prose says why this matters.
    Poll(Duration),
}

/// A child's output, read by threads of its own until the pipes close. Nothing waits for them
/// past a deadline: a grandchild holding a pipe open cannot hang the bench.
struct Output {
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// The stdout lines received so far.
    seen: Vec<String>,
    /// The readers' gates: the stdout reader stops after `ready` and the stderr reader before
    /// its first read, until these are dropped (by [`collect`](Self::collect)). What the child
    /// writes while it stops waits in its pipes (64 KiB each; the daemons write a few hundred
    /// bytes), so that no reader of the bench wakes up and competes with it for the CPUs while
    /// the time runs.
    gates: Option<(Sender<()>, Sender<()>)>,
}

impl Output {
    fn read(child: &mut Child) -> Self {
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        let (out_gate, out_wait) = mpsc::channel::<()>();
        let (err_gate, err_wait) = mpsc::channel::<()>();
        let (send_out, stdout) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let ready = line == "ready";
                if send_out.send(line).is_err() {
                    break;
                }
                if ready {
                    // Returns once the gate is dropped.
                    let _ = out_wait.recv();
                }
            }
        });
        let (send_err, stderr) = mpsc::channel();
        thread::spawn(move || {
            let _ = err_wait.recv();
            let mut text = String::new();
            let _ = BufReader::new(err).read_to_string(&mut text);
            let _ = send_err.send(text);
        });
        Self {
            stdout,
            stderr,
            seen: Vec::new(),
            gates: Some((out_gate, err_gate)),
        }
    }

    /// Reads stdout until a line is `ready`; whether one came before the deadline.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    let ready = line == "ready";
                    self.seen.push(line);
                    if ready {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Everything the child wrote, once it has exited (what came before the deadline).
    fn collect(mut self) -> (String, String) {
        // Open the gates: the readers go on to the end of the pipes.
        drop(self.gates.take());
        let deadline = Instant::now() + PATIENCE;
        while let Ok(line) = self
            .stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        let err = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        (self.seen.join("\n"), err)
    }
}

/// Kills and reaps a child that misbehaved, and describes what happened.
fn abandon(mut child: Child, output: Output, what: String) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let (out, err) = output.collect();
    format!("{what}; stdout: {out:?}; stderr: {err:?}")
}

/// One run: start the daemon, wait for `ready`, settle, SIGTERM, wait for the exit. Returns the
/// nanoseconds from the signal to the exit.
fn run_once(arm: &Arm, scratch: &Path) -> Result<f64, String> {
    let mut child = Command::new(&arm.path)
        .args(arm.args)
        // The demo daemon writes its log file to the temporary directory: keep them together.
        .env("TMPDIR", scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", arm.path.display()))?;
    let mut output = Output::read(&mut child);
    let Ok(raw_pid) = i32::try_from(child.id()) else {
        return Err(abandon(child, output, "a pid out of range".into()));
    };
    let pid = Pid::from_raw(raw_pid);

    if !output.wait_ready() {
        let what = format!(
            "{} did not print `ready` (waited up to {PATIENCE:?})",
            arm.name
        );
        return Err(abandon(child, output, what));
    }
    thread::sleep(SETTLE);

    // The watchdog kills the child if it has not exited in time. Only this thread reaps it, and
    // only after the watchdog is joined: the pid it may signal is still this child's.
    let (done, watched) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || match watched.recv_timeout(PATIENCE) {
        Err(RecvTimeoutError::Timeout) => kill(pid, Signal::SIGKILL).is_ok(),
        _ => false,
    });

    let start = Instant::now();
    if let Err(err) = kill(pid, Signal::SIGTERM) {
        drop(done);
        let _ = watchdog.join();
        return Err(abandon(child, output, format!("kill(SIGTERM): {err}")));
    }
    let exited = match arm.observe {
        Observe::Wait => loop {
            match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        },
        Observe::Poll(period) => loop {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
            match waitid(Id::Pid(pid), flags) {
                Err(Errno::EINTR) | Ok(WaitStatus::StillAlive) => thread::sleep(period),
                other => break other,
            }
        },
    };
    let elapsed = start.elapsed();

    let _ = done.send(());
    let killed = watchdog.join().unwrap_or(false);
    if let Err(err) = exited {
        return Err(abandon(child, output, format!("waitid: {err}")));
    }
    let status = child
        .wait()
        .map_err(|err| format!("reaping {}: {err}", arm.name))?;
    let (out, err) = output.collect();
    if killed {
        return Err(format!(
            "{} did not exit within {PATIENCE:?} of SIGTERM: killed; stdout: {out:?}; stderr: {err:?}",
            arm.name
        ));
    }
    if !status.success() {
        return Err(format!(
            "{} exited with {status}; stdout: {out:?}; stderr: {err:?}",
            arm.name
        ));
    }
    if arm.reports && !out.contains(REPORT_MARK) {
        return Err(format!(
            "{} printed no completed report; stdout: {out:?}; stderr: {err:?}",
            arm.name
        ));
    }
    Ok(elapsed.as_nanos() as f64)
}

fn status(status: &str, reason: &str) {
    record(&[
        ("measure", Value::Str("p6_status")),
        ("status", Value::Str(status)),
        ("reason", Value::Str(reason)),
    ]);
}

/// The demo daemon: `WINDDOWN_P6_DAEMON`, or `examples/daemon` in this bench's profile
/// directory (`<target>/release` under `cargo bench`).
fn demo_daemon() -> PathBuf {
    example("WINDDOWN_P6_DAEMON", "daemon")
}

/// The smol demo daemon: `WINDDOWN_P6_DAEMON_SMOL`, or `examples/daemon_smol` beside the
/// tokio one.
fn smol_daemon() -> PathBuf {
    example("WINDDOWN_P6_DAEMON_SMOL", "daemon_smol")
}

/// `$variable`, or the example `name` in this bench's profile directory.
fn example(variable: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the bench binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps/<bench>");
    profile_dir.join("examples").join(name)
}

fn main() {
    let timing = timing_requested();
    let daemon = demo_daemon();
    if !daemon.is_file() {
        let reason = format!(
            "the demo daemon is not built at {} (build it with `cargo build --release -p \
             winddown-demo --all-features --example daemon`, as benches/report.sh does)",
            daemon.display()
        );
        eprintln!("stop: P6 skipped: {reason}");
        if timing {
            status("skipped", &reason);
        }
        return;
    }
    let smol = smol_daemon();
    let mut arms = vec![
        Arm {
            name: "winddown demo daemon, as shipped",
            tag: "winddown",
            path: daemon.clone(),
            args: &[],
            reports: true,
            asked: Duration::ZERO,
            observe: Observe::Wait,
        },
        Arm {
            name:
                "winddown demo daemon, pretend slow closers (--slow-close 0.02 --stuck-close 0.005)",
            tag: "winddown-slow",
            path: daemon.clone(),
            args: &["--slow-close", "0.02", "--stuck-close", "0.005"],
            reports: true,
            asked: Duration::from_millis(25),
            observe: Observe::Wait,
        },
    ];
    if smol.is_file() {
        arms.push(Arm {
            name: "winddown smol demo daemon, as shipped",
            tag: "winddown-smol",
            path: smol,
            args: &[],
            reports: true,
            asked: Duration::ZERO,
            observe: Observe::Wait,
        });
    } else {
        eprintln!(
            "stop: the smol demo daemon is not built at {} (build it with `cargo build \
             --release -p winddown-demo --features smol --example daemon_smol`): its arm is left out",
            smol.display()
        );
    }
    let bare_daemon = PathBuf::from(env!("CARGO_BIN_EXE_bare_daemon"));
    // For information: the demo daemon and the baseline seen from outside the way a probe
    // that polls for the exit sees them (see `Observe::Poll`). Each is read against the
    // baseline seen the same way.
    arms.push(Arm {
        name: "winddown demo daemon, as shipped, exit polled every 1 ms",
        tag: "winddown-polled",
        path: daemon,
        args: &[],
        reports: true,
        asked: Duration::ZERO,
        observe: Observe::Poll(POLL),
    });
    arms.push(Arm {
        name: "bare tokio daemon, exit polled every 1 ms",
        tag: "bare-polled",
        path: bare_daemon.clone(),
        args: &[],
        reports: false,
        asked: Duration::ZERO,
        observe: Observe::Poll(POLL),
    });
    // The baseline stays last.
    arms.push(Arm {
        name: "bare tokio daemon",
        tag: "bare",
        path: bare_daemon,
        args: &[],
        reports: false,
        asked: Duration::ZERO,
        observe: Observe::Wait,
    });
    let bare = arms.len() - 1;
    let runs = if timing {
        std::env::var("WINDDOWN_P6_RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .filter(|r| *r > 0)
            .unwrap_or(RUNS)
    } else {
        2
    };

    let scratch = std::env::temp_dir().join(format!("winddown-p6-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch directory for the daemons' log files");
    let started = Instant::now();
    let mut samples: Vec<Vec<f64>> = arms.iter().map(|_| Vec::new()).collect();
    let mut failure = None;
    'rounds: for round in 0..=runs {
        // Round 0 is the warm-up. Each round starts at the next arm.
        for i in (0..arms.len()).map(|i| (i + round) % arms.len()) {
            match run_once(&arms[i], &scratch) {
                Ok(ns) if round > 0 => samples[i].push(ns),
                Ok(_) => {}
                Err(err) => {
                    failure = Some(err);
                    break 'rounds;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);

    if let Some(err) = failure {
        if !timing {
            panic!("P6 failed: {err}");
        }
        eprintln!("stop: P6 failed: {err}");
        status("failed", &err);
        return;
    }
    if !timing {
        eprintln!("stop: smoke pass done (run with `cargo bench` to time)");
        return;
    }

    eprintln!(
        "P6 SIGTERM -> exited, idle, {runs} runs per arm interleaved, in {:.1?}",
        started.elapsed()
    );
    eprintln!(
        "{:<80} {:>10} {:>7} {:>9} {:>9} {:>9} {:>7} {:>6}",
        "arm", "median us", "÷bare", "min us", "p10 us", "max us", "max÷", "slow"
    );
    // Each arm against the baseline seen the same way.
    let polled_bare = arms
        .iter()
        .position(|arm| arm.tag == "bare-polled")
        .unwrap_or(bare);
    for (arm, s) in arms.iter().zip(&samples) {
        let base = match arm.observe {
            Observe::Wait => &samples[bare],
            Observe::Poll(_) => &samples[polled_bare],
        };
        let bare_median = median(base);
        let bare_max = base.iter().copied().fold(f64::NAN, f64::max);
        let med = median(s);
        let min = s.iter().copied().fold(f64::NAN, f64::min);
        let max = s.iter().copied().fold(f64::NAN, f64::max);
        let p10 = percentile(s, 0.1);
        let slow = s.iter().filter(|ns| **ns > SLOW * p10).count();
        eprintln!(
            "{:<80} {:>10.1} {:>7.2} {:>9.1} {:>9.1} {:>9.1} {:>7.2} {:>3}/{:<2}",
            arm.name,
            med / 1e3,
            med / bare_median,
            min / 1e3,
            p10 / 1e3,
            max / 1e3,
            max / bare_max,
            slow,
            s.len()
        );
        record(&[
            ("measure", Value::Str("p6")),
            ("arm", Value::Str(arm.name)),
            ("tag", Value::Str(arm.tag)),
            ("ns", Value::Num(med)),
            ("ns_min", Value::Num(min)),
            ("ns_p10", Value::Num(p10)),
            ("ns_max", Value::Num(max)),
            ("ratio", Value::Num(med / bare_median)),
            ("ratio_max", Value::Num(max / bare_max)),
            ("slow", Value::Num(slow as f64)),
            ("runs", Value::Num(s.len() as f64)),
            ("slow_factor", Value::Num(SLOW)),
            ("settle_ms", Value::Num(SETTLE.as_secs_f64() * 1e3)),
            ("asked_ms", Value::Num(arm.asked.as_secs_f64() * 1e3)),
            (
                "poll_ms",
                Value::Num(match arm.observe {
                    Observe::Wait => 0.0,
                    Observe::Poll(period) => period.as_secs_f64() * 1e3,
                }),
            ),
        ]);
    }
    status("ok", "");
}
