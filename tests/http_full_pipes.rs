//! The HTTP examples (`examples/axum.rs`, `examples/http_smol.rs`) with stdout, then stderr, a
//! full pipe nobody reads, as a stalled log collector leaves them: one SIGTERM still ends each
//! within its graceful deadline, with the report's exit code, and a second one forces the stop
//! (exit 3). Their output cannot hold the stop: lines that cannot be written are dropped and
//! counted (`examples/shared/output.rs`). Before, the first line after the signal blocked the
//! thread that wrote it (the signal listener's, a runtime worker's), and the process ran on.
//!
//! Linux only: the pipes are filled through `/proc/PID/fd`.
#![cfg(all(target_os = "linux", feature = "full"))]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[path = "support/pipes.rs"]
mod pipes;

const EXAMPLES: [&str; 2] = ["axum", "http_smol"];

/// How long any single wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// With `--drain-timeout 1`, the graceful deadline: no pre-stop, 1 s to drain, 10 s to close
/// and flush (see `examples/shared/http_app.rs`).
const GRACEFUL: Duration = Duration::from_secs(11);

/// How soon a second signal must have ended the process.
const FORCED: Duration = Duration::from_secs(5);

/// Which of the example's pipes is left unread and filled.
#[derive(Debug, Clone, Copy)]
enum Full {
    Stdout,
    Stderr,
}

struct Example {
    child: Child,
    stdout: Receiver<String>,
    /// `None` while stderr is the full pipe.
    stderr: Option<Receiver<String>>,
    /// The read ends no longer read, kept open.
    _held: Vec<pipes::Hold>,
}

fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// Reads `lines` until one contains `text`; every line read is added to `seen`.
fn wait_for(lines: &Receiver<String>, text: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + PATIENCE;
    while !seen.iter().any(|line| line.contains(text)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {text:?}; so far: {seen:?}"),
        }
    }
}

impl Example {
    /// Starts example `name` with `args`, waits for `ready`, and fills the pipe `full`.
    fn start(name: &str, args: &[&str], full: Full) -> Example {
        let path = example_path(name);
        let mut child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let example = match full {
            // stdout is read until `ready`, then left to fill.
            Full::Stdout => {
                let (stdout, out_hold) = pipes::lines(out, Some("ready"));
                let (stderr, err_hold) = pipes::lines(err, None);
                Example {
                    child,
                    stdout,
                    stderr: Some(stderr),
                    _held: vec![out_hold, err_hold],
                }
            }
            Full::Stderr => {
                let (stdout, out_hold) = pipes::lines(out, None);
                Example {
                    child,
                    stdout,
                    stderr: None,
                    _held: vec![out_hold, pipes::unread(err)],
                }
            }
        };
        wait_for(&example.stdout, "ready", &mut Vec::new());
        let fd = match full {
            Full::Stdout => 1,
            Full::Stderr => 2,
        };
        pipes::fill(example.child.id(), fd);
        example
    }

    fn sigterm(&self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("kill(2)");
        pipes::wait_delivered(self.child.id(), Signal::SIGTERM as i32, PATIENCE);
    }

    /// The exit code, if the process exits within `limit`.
    fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after the signal"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// All the lines of the pipe still read, to the end.
    fn rest(&self) -> Vec<String> {
        let lines = self.stderr.as_ref().unwrap_or(&self.stdout);
        lines.iter().collect()
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SIGTERM: the stop completes within the graceful deadline, exit 0; the pipe still read
/// says how many lines the full one dropped (the report, or the progress lines).
fn one_sigterm_stops_it(full: Full) {
    for name in EXAMPLES {
        let mut example = Example::start(name, &["--drain-timeout", "1"], full);
        example.sigterm();
        let code = example.exit_within(GRACEFUL);
        let rest = example.rest();
        assert_eq!(code, Some(0), "{name}: {rest:?}");
        let dropped = match full {
            Full::Stdout => "lines to stdout dropped",
            Full::Stderr => "lines to stderr dropped",
        };
        assert!(
            rest.iter().any(|line| line.contains(dropped)),
            "{name}: {rest:?}"
        );
        if let Full::Stderr = full {
            assert!(
                rest.iter().any(|line| line.contains("shutdown completed")),
                "{name}: the report on stdout: {rest:?}"
            );
        }
    }
}

/// A second SIGTERM while the first stop is in its 5 s pre-stop: forced, exit 3, at once.
fn a_second_sigterm_forces_it(full: Full) {
    for name in EXAMPLES {
        let mut example = Example::start(name, &["--pre-stop", "5"], full);
        example.sigterm();
        example.sigterm();
        let code = example.exit_within(FORCED);
        assert_eq!(code, Some(3), "{name}: {:?}", example.rest());
    }
}

#[test]
fn one_sigterm_stops_them_while_stdout_is_a_full_pipe() {
    one_sigterm_stops_it(Full::Stdout);
}

#[test]
fn one_sigterm_stops_them_while_stderr_is_a_full_pipe() {
    one_sigterm_stops_it(Full::Stderr);
}

#[test]
fn a_second_sigterm_forces_them_while_stdout_is_a_full_pipe() {
    a_second_sigterm_forces_it(Full::Stdout);
}

#[test]
fn a_second_sigterm_forces_them_while_stderr_is_a_full_pipe() {
    a_second_sigterm_forces_it(Full::Stderr);
}
