//! Child-process tests: the third signal really ends the process, and what a dropped listener
//! leaves behind. Each test re-runs this test binary as a child, selecting [`child`] with
//! `--exact` and a mode in an environment variable; each child is bounded by a hard timeout,
//! so a hang fails the test instead of hanging CI.

#![cfg(unix)]

use std::env;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::SIGWINCH;
use signal_hook::low_level::raise;
use winddown_core::{Phase, Shutdown};
use winddown_signals::{Action, Builder, SIGINT, SIGTERM};

/// Selects the child's mode; unset in the parent, where [`child`] does nothing.
const MODE: &str = "WINDDOWN_SIGNALS_CHILD";
/// How long a parent waits for its child.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child that should have died waits before exiting with [`SURVIVED`].
const GRACE: Duration = Duration::from_secs(10);
/// The child's exit code when the process was not ended.
const SURVIVED: i32 = 99;

/// Runs `mode` in a child process; returns its status and stdout.
fn run_child(mode: &str) -> (ExitStatus, String) {
    let mut child = Command::new(env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("child {mode:?} still running after {TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (status, reader.join().unwrap())
}

/// The status a shell prints for `status` (`$?`).
fn shell_status(status: ExitStatus) -> i32 {
    status
        .code()
        .or(status.signal().map(|signal| 128 + signal))
        .unwrap()
}

/// The child side. Prints one line per listener event on stdout.
#[test]
fn child() {
    let Ok(mode) = env::var(MODE) else {
        return; // The parent's run of this test: nothing to do.
    };
    let shutdown = Shutdown::new();
    let (tx, events) = mpsc::channel();
    // In "gated" mode the hook holds the listener thread on the first event until the test
    // lets it go.
    let (open_gate, gate) = mpsc::channel::<()>();
    let gated = mode == "gated";
    let builder = Builder::new().signal(SIGWINCH).on_event(move |event| {
        println!("event: {event}");
        let _ = tx.send(event.action());
        if gated && event.count() == 1 {
            gate.recv().unwrap();
        }
    });
    // Kept until the process ends, except in "after-drop".
    let listener = builder.listen(&shutdown).unwrap();
    match mode.as_str() {
        // Three SIGTERMs in a row: the listener thread may see all three, or arm the in-handler
        // exit in between; the process ends either way.
        "burst" => {
            for _ in 0..3 {
                raise(SIGTERM).unwrap();
            }
        }
        // The same with SIGINT.
        "burst-int" => {
            for _ in 0..3 {
                raise(SIGINT).unwrap();
            }
        }
        // The second and third SIGTERM arrive while the thread is held in the hook, so nothing
        // is armed: the thread counts them, forces, and ends the process itself.
        "gated" => {
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            raise(SIGTERM).unwrap();
            raise(SIGTERM).unwrap();
            open_gate.send(()).unwrap();
        }
        // SIGWINCH's default action is to ignore it: the exit is `_exit(128 + n)`.
        "burst-winch" => {
            for _ in 0..3 {
                raise(SIGWINCH).unwrap();
            }
        }
        // Two SIGTERMs, handled; the third ends the process inside the signal handler, so
        // `raise` never returns.
        "spaced" => {
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Force);
            assert_eq!(shutdown.phase(), Phase::Forced);
            println!("raising the third");
            raise(SIGTERM).unwrap();
            println!("raise returned");
        }
        // A dropped listener leaves SIGTERM ignored, not fatal.
        "after-drop" => {
            drop(listener);
            raise(SIGTERM).unwrap();
            println!("survived SIGTERM");
            assert!(!shutdown.is_triggered());
            std::process::exit(0);
        }
        other => panic!("unknown mode {other:?}"),
    }
    thread::sleep(GRACE);
    drop(listener);
    std::process::exit(SURVIVED);
}

#[test]
fn three_quick_sigterms_end_the_process_with_143() {
    let (status, out) = run_child("burst");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}\n{out}");
    assert_eq!(shell_status(status), 143);
    assert!(
        out.contains("event: SIGTERM (signal #1): shutdown triggered\n"),
        "{out}"
    );
}

#[test]
fn the_listener_thread_ends_the_process_on_the_third_signal() {
    let (status, out) = run_child("gated");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}\n{out}");
    assert_eq!(shell_status(status), 143);
    // libtest may print `test child ... ` in front of the first line.
    let events: Vec<_> = out
        .lines()
        .filter_map(|line| line.find("event: ").map(|at| &line[at..]))
        .collect();
    assert_eq!(
        events,
        [
            "event: SIGTERM (signal #1): shutdown triggered",
            "event: SIGTERM (signal #2): shutdown forced; another signal ends the process at once",
            "event: SIGTERM (signal #3): ending the process at once (status 143)",
        ],
        "{out}"
    );
}

#[test]
fn three_quick_sigints_end_the_process_with_130() {
    let (status, out) = run_child("burst-int");
    assert_eq!(status.signal(), Some(SIGINT), "{status:?}\n{out}");
    assert_eq!(shell_status(status), 130);
}

#[test]
fn the_third_signal_ends_the_process_inside_the_handler() {
    let (status, out) = run_child("spaced");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}\n{out}");
    assert_eq!(shell_status(status), 143);
    assert!(out.contains("raising the third\n"), "{out}");
    assert!(!out.contains("raise returned"), "{out}");
    // Ended in the handler: the listener thread never saw the third signal.
    assert!(!out.contains("signal #3"), "{out}");
}

#[test]
fn a_signal_that_does_not_terminate_by_default_exits_with_128_plus_n() {
    let (status, out) = run_child("burst-winch");
    assert_eq!(status.code(), Some(128 + SIGWINCH), "{status:?}\n{out}");
}

#[test]
fn a_dropped_listener_leaves_its_signals_ignored() {
    let (status, out) = run_child("after-drop");
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
    assert!(out.contains("survived SIGTERM\n"), "{out}");
}
