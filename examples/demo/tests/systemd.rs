//! The demo daemon as systemd sees it: a real `NOTIFY_SOCKET`, bound by the test.
//!
//! Each test binds a Unix datagram socket (the service manager's end), starts
//! `examples/daemon` (built by `cargo test` with the `full` feature; a run of
//! `cargo test --test systemd` alone does not rebuild it, so build it first with
//! `cargo build --all-features --example daemon`) with `NOTIFY_SOCKET` naming it (or without the
//! variable), stops it with a real SIGTERM, and checks the datagrams that arrived, in order.
//! Every receive and every wait has its own deadline: a hang fails the test. The start and wait
//! helpers are a small copy of `tests/daemon.rs`'s.
#![cfg(all(unix, feature = "tokio"))]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long any single wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The daemon binary, next to this test's own binary: `target/<profile>/examples/daemon`.
fn daemon_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join("daemon")
}

// The service manager's end, shared with the notifier's unit tests.
#[path = "../../../adapters/src/systemd/tests/manager.rs"]
mod manager;
use manager::Manager;

impl Manager {
    /// Messages until one starts with `prefix` (included).
    fn recv_until(&self, prefix: &str) -> Vec<String> {
        let mut messages = Vec::new();
        loop {
            let message = self.recv();
            let found = message.starts_with(prefix);
            messages.push(message);
            if found {
                return messages;
            }
        }
    }
}

struct Daemon {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Daemon {
    /// Starts the daemon with `args` and the environment `env` (`NOTIFY_SOCKET` and
    /// `WATCHDOG_USEC` are removed unless given), and waits for `ready` on stdout.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(daemon_path());
        command
            .args(args)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", daemon_path().display()));
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let daemon = Daemon {
            child,
            stdout,
            stderr,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match daemon.stdout.recv_timeout(left) {
                Ok(line) if line == "ready" => return daemon,
                Ok(_) => {}
                Err(_) => panic!("the daemon did not print `ready`"),
            }
        }
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("kill(2)");
    }

    /// Waits for the exit (killing the child if it overruns); returns the status and stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the daemon did not exit within {PATIENCE:?}");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let mut err = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(PATIENCE) {
            err.push(line);
        }
        (status, err.join("\n"))
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

/// The lease of an `EXTEND_TIMEOUT_USEC=` line.
fn extension(line: &str) -> Option<Duration> {
    let usec = line.strip_prefix("EXTEND_TIMEOUT_USEC=")?;
    Some(Duration::from_micros(usec.parse().expect("microseconds")))
}

#[test]
fn daemon_tells_systemd_about_a_slow_stop() {
    let manager = Manager::new("slow");
    let socket = manager.path();
    let daemon = Daemon::start(
        &["--slow-close", "3"],
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            // A watchdog ping every 100 ms.
            ("WATCHDOG_USEC", "200000"),
        ],
    );

    // Ready first, then watchdog pings while it runs.
    assert_eq!(manager.recv(), "READY=1");
    assert_eq!(manager.recv(), "WATCHDOG=1");

    daemon.signal(Signal::SIGTERM);
    let messages = manager.recv_until("STATUS=completed");
    let (status, err) = daemon.wait();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(
        err.contains("daemon: systemd: notifying"),
        "the daemon should say it notifies systemd: {err}"
    );

    let lines: Vec<&str> = messages
        .iter()
        .flat_map(|m| m.lines())
        .filter(|line| *line != "WATCHDOG=1")
        .collect();
    let position = |prefix: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {lines:#?}"))
    };
    // STOPPING=1 at the trigger, before any phase; then the phases in order.
    let order: Vec<usize> = [
        "STOPPING=1",
        "STATUS=initiated, ",
        "STATUS=stopping new requests, ",
        "STATUS=draining, ",
        "STATUS=closing resources, ",
        "STATUS=flushing buffers, ",
        "STATUS=completed, ",
    ]
    .iter()
    .map(|prefix| position(prefix))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{lines:#?}");
    assert_eq!(order[0], 0, "STOPPING=1 comes first: {lines:#?}");

    // While the pool takes its 3 s (within its 5 s close deadline), the lease is renewed.
    let renewals = lines[order[4] + 1..order[5]]
        .iter()
        .filter(|line| extension(line).is_some())
        .count();
    assert!(
        renewals >= 2,
        "{renewals} leases during the slow close: {lines:#?}"
    );
    // About one a second, not one per watchdog ping (every 100 ms here).
    assert!(
        renewals <= 6,
        "{renewals} leases during the slow close: {lines:#?}"
    );
    for line in &lines {
        if let Some(lease) = extension(line) {
            // One lease at a time, never more than 3 s (the daemon's graceful deadline is 25 s).
            assert!(
                !lease.is_zero() && lease <= Duration::from_secs(3),
                "{line}"
            );
        }
    }

    // Nothing after the end: no lease, and no more watchdog pings.
    assert_eq!(manager.received(), Vec::<String>::new());
}

#[test]
fn daemon_without_notify_socket_sends_nothing() {
    // A socket the daemon could send to, but the variable is not set.
    let manager = Manager::new("unset");
    let daemon = Daemon::start(&[], &[]);
    daemon.signal(Signal::SIGTERM);
    let (status, err) = daemon.wait();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(
        !err.contains("systemd"),
        "the daemon should not mention systemd: {err}"
    );
    assert_eq!(manager.received(), Vec::<String>::new());
}
