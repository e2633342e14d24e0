//! Child-process tests of the listener tasks (`listen_async_io` on smol, `listen_tokio` on
//! tokio's current-thread runtime): signals sent from outside with `kill(2)` to a child whose
//! runtime is free, or whose only runtime thread is blocked for good.
//!
//! - the third SIGTERM ends the process with 143 while every runtime thread is blocked (the
//!   listener task can never run again), and the same as PID 1 of a PID namespace;
//! - bursts of 100 SIGTERMs: the process ends with 143 at the latest after the third burst
//!   (each burst delivers at least one signal: the kernel merges a signal only with one still
//!   pending), the task never reports a third signal, and the first two are reported in order.
//!
//! SIGTERM during start-up runs against the demo daemons, which use these tasks
//! (`tests/daemon_suite`, `sigterm_right_after_the_handler_is_installed_is_never_lost`): a
//! daemon registers in `main` before any other thread, which a test harness's child cannot.
//!
//! Each test re-runs this test binary as a child, selecting [`child`] with `--exact` and a mode
//! in an environment variable. Every wait has a deadline: a hang fails the test.

#![cfg(all(target_os = "linux", feature = "async-io", feature = "tokio"))]

use std::env;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use winddown_core::Shutdown;
use winddown_signals::Builder;

/// Selects the child's mode; unset in the parent, where [`child`] does nothing.
const MODE: &str = "WINDDOWN_SIGNALS_TASK_CHILD";
/// How long any wait of the parent may take.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long a blocked child blocks before it gives up with [`SURVIVED`].
const GRACE: Duration = Duration::from_secs(20);
/// How soon after the third signal the child must be gone: the handler ends it at once; the
/// bound only leaves room for a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(1);
/// The child's exit code when it was not ended.
const SURVIVED: i32 = 99;
/// Signals per burst.
const BURST: usize = 100;

// ===== the child =====

/// The child side: `MODE` is `SCENARIO:RUNTIME`.
#[test]
fn child() {
    let Ok(mode) = env::var(MODE) else {
        return; // The parent's run of this test: nothing to do.
    };
    let (scenario, runtime) = mode.split_once(':').expect("SCENARIO:RUNTIME");
    let shutdown = Shutdown::new();
    let builder = Builder::new().on_event(|event| {
        println!("event {} {:?}", event.count(), event.action());
    });
    let main = async {
        println!("ready");
        match scenario {
            // The first signal triggers through the task; then the runtime's only thread is
            // blocked for good, as by a closer that never yields.
            "blocked" => {
                shutdown.triggered().await;
                println!("blocking");
                thread::sleep(GRACE);
            }
            // The runtime stays free.
            "burst" => {
                let _ = tokio_or_smol_timeout(runtime, std::future::pending::<()>()).await;
            }
            other => panic!("unknown scenario {other:?}"),
        }
        std::process::exit(SURVIVED);
    };
    match runtime {
        "smol" => {
            let listener = builder.listen_async_io(&shutdown).unwrap();
            let executor = smol::Executor::new();
            executor.spawn(listener).detach();
            smol::block_on(executor.run(main))
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                tokio::spawn(builder.listen_tokio(&shutdown).unwrap());
                main.await
            })
        }
        other => panic!("unknown runtime {other:?}"),
    }
}

/// `future`, or `()` after [`GRACE`], on the runtime's own timer.
async fn tokio_or_smol_timeout<F: Future>(runtime: &str, future: F) -> Option<F::Output> {
    if runtime == "tokio" {
        tokio::time::timeout(GRACE, future).await.ok()
    } else {
        smol::future::or(async { Some(future.await) }, async {
            smol::Timer::after(GRACE).await;
            None
        })
        .await
    }
}

// ===== the parent =====

const RUNTIMES: [&str; 2] = ["smol", "tokio"];

/// A running child and its stdout lines.
struct Subject {
    child: Child,
    /// Where signals go: the child, or under `unshare` the child's own child.
    pid: i32,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Subject {
    /// Starts this test binary as a child in `mode` (behind `wrapper`, if any).
    fn start(mode: &str, wrapper: Option<&[&str]>) -> Subject {
        let exe = env::current_exe().unwrap();
        let mut command = match wrapper {
            Some([program, args @ ..]) => {
                let mut command = Command::new(program);
                command.args(args).arg(&exe);
                command
            }
            _ => Command::new(&exe),
        };
        let mut child = command
            .args(["child", "--exact", "--nocapture", "--test-threads=1"])
            .env(MODE, mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let pid = child.id() as i32;
        Subject {
            child,
            pid,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stdout until a line ends with `text` (libtest may print in front of the first).
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.ends_with(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no line {text:?}; stdout so far: {:?}", self.seen),
            }
        }
    }

    /// Sends SIGTERM, unless the child is gone already (a burst outlives its target).
    fn sigterm(&self) {
        // SAFETY: `kill` has no memory-safety preconditions. The child is reaped only by
        // `exited_within`, after the signals, so the PID is still its own.
        let sent = unsafe { libc::kill(self.pid, libc::SIGTERM) };
        assert!(
            sent == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH),
            "kill({}, SIGTERM)",
            self.pid
        );
    }

    /// Waits until SIGTERM is no longer pending for the child: a thread of it has taken the
    /// delivery. A signal sent after this is a delivery of its own.
    fn wait_delivered(&self) {
        let bit = 1_u64 << (libc::SIGTERM - 1);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
                return; // gone
            };
            let field = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::trim)
            };
            // An exited child (a zombie until reaped) keeps what was still pending at its exit.
            if field("State:").is_some_and(|state| state.starts_with('Z')) {
                return;
            }
            let pending = field("ShdPnd:")
                .and_then(|mask| u64::from_str_radix(mask, 16).ok())
                .expect("a ShdPnd line in /proc/PID/status");
            if pending & bit == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "SIGTERM still pending");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// The exit status, if the child has exited within `limit`.
    fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Everything the child printed, once it has exited.
    fn output(mut self) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The event lines of `output`: `event N ACTION`, whatever libtest printed in front.
fn events(output: &[String]) -> Vec<String> {
    output
        .iter()
        .filter_map(|line| line.find("event ").map(|at| line[at..].to_string()))
        .collect()
}

/// The third SIGTERM, with the runtime's only thread blocked since the first.
fn third_signal_while_blocked(mode: &str, wrapper: Option<&[&str]>, pid_of: fn(&Subject) -> i32) {
    let mut subject = Subject::start(mode, wrapper);
    subject.wait_for("ready");
    subject.pid = pid_of(&subject);
    subject.sigterm();
    // The task triggered the shutdown; from here on the runtime's only thread is blocked.
    subject.wait_for("blocking");
    subject.sigterm();
    subject.wait_delivered();
    subject.sigterm();
    let status = subject
        .exited_within(AT_ONCE)
        .unwrap_or_else(|| panic!("{mode}: still running {AT_ONCE:?} after the third SIGTERM"));
    // `_exit(143)`, not a death by the signal (which would not work as PID 1).
    assert_eq!(status.code(), Some(143), "{mode}: {status:?}");
    // The second was never acted on: the task could not run.
    assert_eq!(events(&subject.output()), ["event 1 Trigger"], "{mode}");
}

#[test]
fn the_third_sigterm_ends_the_process_while_every_runtime_thread_is_blocked() {
    for runtime in RUNTIMES {
        third_signal_while_blocked(&format!("blocked:{runtime}"), None, |subject| subject.pid);
    }
}

/// Whether this machine lets us start a process as PID 1 of a new PID namespace.
fn unshare_works() -> Result<(), String> {
    match Command::new("unshare")
        .args(["-fp", "--mount-proc", "--kill-child", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "`unshare -fp --mount-proc --kill-child true` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(err) => Err(format!("cannot run unshare: {err}")),
    }
}

/// The PID of `subject`'s only child (the process `unshare -f` forked), from `/proc/*/stat`.
fn child_of(subject: &Subject) -> i32 {
    let parent = subject.child.id().to_string();
    let deadline = Instant::now() + PATIENCE;
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `PID (COMM) STATE PPID ...`; COMM may hold spaces and parentheses.
            let Some((pid, rest)) = stat.split_once(' ') else {
                continue;
            };
            let ppid = rest
                .rsplit_once(')')
                .and_then(|(_, fields)| fields.split_whitespace().nth(1));
            if ppid == Some(parent.as_str()) {
                return pid.parse().unwrap();
            }
        }
        assert!(Instant::now() < deadline, "unshare started no child");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_third_sigterm_ends_pid_1_while_every_runtime_thread_is_blocked() {
    if let Err(reason) = unshare_works() {
        eprintln!(
            "SKIPPED the_third_sigterm_ends_pid_1_while_every_runtime_thread_is_blocked: {reason}"
        );
        return;
    }
    let unshare: &[&str] = &["unshare", "-fp", "--mount-proc", "--kill-child"];
    for runtime in RUNTIMES {
        third_signal_while_blocked(&format!("blocked:{runtime}"), Some(unshare), child_of);
    }
}

#[test]
fn bursts_of_100_sigterms_end_the_process_with_143() {
    for runtime in RUNTIMES {
        let mode = format!("burst:{runtime}");
        let mut subject = Subject::start(&mode, None);
        subject.wait_for("ready");
        let mut status = None;
        for burst in 1..=3 {
            for _ in 0..BURST {
                subject.sigterm();
            }
            subject.wait_delivered();
            status = subject.exited_within(if burst == 3 { AT_ONCE } else { Duration::ZERO });
            if status.is_some() {
                break;
            }
        }
        let status = status.unwrap_or_else(|| panic!("{mode}: still running after three bursts"));
        assert_eq!(status.code(), Some(143), "{mode}: {status:?}");
        assert_eq!(status.signal(), None, "{mode}: {status:?}");
        // The task saw at most the first two, in order: the third ended the process inside the
        // handler, before any later delivery could be counted by the task.
        let events = events(&subject.output());
        let expected = ["event 1 Trigger", "event 2 Force"];
        assert!(
            events.len() <= 2 && events[..] == expected[..events.len()],
            "{mode}: {events:?}"
        );
    }
}
