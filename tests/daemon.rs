//! The demo daemon as a real child process, stopped with real signals.
//!
//! Each test starts `examples/daemon` (built by `cargo test` with the `full` feature), waits for
//! it to print `ready`, sends signals with `kill(2)`, and checks the exit status and the report
//! on its output. Every wait has its own deadline: a hang fails the test, it never hangs CI.
#![cfg(all(unix, feature = "full"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long any single wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The daemon binary, next to this test's own binary: `target/<profile>/examples/daemon`.
fn daemon_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join("daemon")
}

struct Daemon {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Everything read from stdout so far.
    out: Vec<String>,
    addr: String,
}

impl Daemon {
    /// Starts the daemon with `args` and waits for `ready`.
    fn start(args: &[&str]) -> Daemon {
        let mut child = Command::new(daemon_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", daemon_path().display()));
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let mut daemon = Daemon {
            child,
            stdout,
            stderr,
            out: Vec::new(),
            addr: String::new(),
        };
        let listening = daemon.wait_for_line("listening on ");
        daemon.addr = listening.trim_start_matches("listening on ").to_string();
        daemon.wait_for_line("ready");
        daemon
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("kill(2)");
    }

    /// Reads stdout until a line starts with `prefix`.
    fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.out.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line starting with {prefix:?}; stdout so far: {:?}",
                    self.out
                ),
            }
        }
    }

    /// Reads stderr until a line contains `text`.
    fn wait_for_log(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => panic!("no log line containing {text:?}"),
            }
        }
    }

    /// Waits for the exit (killing the child if it overruns) and returns the status and the
    /// whole stdout.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the daemon did not exit within {PATIENCE:?}; stdout: {:?}",
                    self.out
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The pipe closes with the process; collect the rest of stdout.
        while let Ok(line) = self.stdout.recv_timeout(PATIENCE) {
            self.out.push(line);
        }
        (status, self.out.join("\n"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// How long a request is held open after the drain begins.
const HOLD: Duration = Duration::from_millis(300);

/// The duration column of the report's `draining` row.
fn drain_duration(out: &str) -> Duration {
    let row = out
        .lines()
        .find(|line| line.trim_start().starts_with("draining"))
        .expect("draining row");
    let seconds = row
        .split_whitespace()
        .nth(2)
        .and_then(|cell| cell.strip_suffix('s'));
    Duration::from_secs_f64(
        seconds
            .and_then(|s| s.parse().ok())
            .expect("a duration in seconds"),
    )
}

/// The daemon's report says every phase ran and every resource closed.
fn assert_complete_report(out: &str) {
    assert!(out.contains("shutdown completed in"), "{out}");
    for phase in [
        "initiated",
        "stopping new requests",
        "draining",
        "closing resources",
        "flushing buffers",
        "completed",
    ] {
        assert!(out.contains(phase), "phase {phase:?} missing from\n{out}");
    }
    let pool = out.find("connection pool").expect("the pool's line");
    let cache = out.find("cache client").expect("the cache's line");
    assert!(
        pool < cache,
        "the pool (priority 10) closes before the cache (5)\n{out}"
    );
    assert!(out.contains("log file"), "{out}");
}

#[test]
fn idle_sigterm_completes_with_exit_0() {
    let daemon = Daemon::start(&[]);
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("(reason: signal 15)"), "{out}");
    assert_complete_report(&out);
}

#[test]
fn idle_sigint_completes_with_exit_0() {
    let daemon = Daemon::start(&[]);
    daemon.signal(Signal::SIGINT);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("(reason: signal 2)"), "{out}");
    assert_complete_report(&out);
}

#[test]
fn sigterm_right_after_ready_is_not_lost() {
    // `start` returns the moment `ready` is read; the signal follows at once.
    for _ in 0..3 {
        let daemon = Daemon::start(&[]);
        daemon.signal(Signal::SIGTERM);
        let (status, out) = daemon.wait();
        assert_eq!(status.code(), Some(0), "{out}");
    }
}

#[test]
fn a_request_in_flight_is_finished_before_the_exit() {
    let mut daemon = Daemon::start(&["--drain-timeout", "20"]);
    let mut conn = TcpStream::connect(&daemon.addr).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    // Half a request: the daemon has admitted it and holds a guard for it.
    conn.write_all(b"hel").unwrap();
    conn.write_all(b"lo").unwrap();
    // An echo on a second connection proves the first bytes were read before the signal.
    let mut probe = TcpStream::connect(&daemon.addr).unwrap();
    probe.set_read_timeout(Some(PATIENCE)).unwrap();
    probe.write_all(b"probe\n").unwrap();
    let mut reply = [0u8; 6];
    probe.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"probe\n");

    daemon.signal(Signal::SIGTERM);
    daemon.wait_for_log("draining");
    // The drain waits for the request. Hold it a while: had the drain not waited, the daemon
    // would close its resources (at once: its closers have nothing slow to do by default) and
    // exit, and the echo below could not arrive.
    thread::sleep(HOLD);
    conn.write_all(b" world\n").unwrap();
    let mut echoed = String::new();
    BufReader::new(&conn).read_line(&mut echoed).unwrap();
    assert_eq!(echoed, "hello world\n");

    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(0), "{out}");
    // The background workers may or may not still have been counted, so only "0 left" is
    // exact; and the drain lasted at least as long as the request was held after it began.
    assert!(out.contains(" drained, 0 left"), "{out}");
    assert!(drain_duration(&out) >= HOLD, "{out}");
    assert_complete_report(&out);
}

#[test]
fn a_slow_close_times_out_at_the_close_deadline() {
    let daemon = Daemon::start(&["--slow-close", "30", "--close-timeout", "1"]);
    let started = Instant::now();
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(2), "exit code of TimedOut\n{out}");
    assert!(out.contains("shutdown timed out"), "{out}");
    assert!(out.contains("timed out"), "{out}");
    // It did not wait for the 30 s close (a bound, not a timing assertion on the deadline).
    assert!(started.elapsed() < Duration::from_secs(25), "{out}");
}

#[test]
fn a_second_sigterm_forces_the_exit() {
    let mut daemon = Daemon::start(&["--slow-close", "30", "--close-timeout", "25"]);
    daemon.signal(Signal::SIGTERM);
    // The pool's closer is running (a force before it starts skips it instead).
    daemon.wait_for_log("connection pool: closing");
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(3), "exit code of Forced\n{out}");
    assert!(out.contains("shutdown forced"), "{out}");
    assert!(out.contains("forced: triggered again"), "{out}");
    assert!(
        out.contains("cancelled"),
        "the slow close was cancelled\n{out}"
    );
}

#[test]
fn three_sigterms_end_the_process_with_143() {
    // The cache client's closer blocks the runtime's only thread: the second signal forces the
    // shutdown, but nothing can act on it, so only the third ends the process.
    let mut daemon = Daemon::start(&["--stuck-close", "60"]);
    daemon.signal(Signal::SIGTERM);
    // The stuck closer is running: from here on the runtime's only thread is blocked.
    daemon.wait_for_log("cache client: closing");
    daemon.signal(Signal::SIGTERM);
    daemon.wait_for_log("shutdown forced");
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(
        status.signal(),
        Some(15),
        "killed by SIGTERM: 143 as a shell sees it; {status:?}"
    );
    assert_eq!(status.code(), None);
    assert!(
        !out.contains("shutdown "),
        "no report: the process was ended at once\n{out}"
    );
}
