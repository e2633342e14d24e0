//! Child-process tests: the third signal really ends the process (with `_exit(128 + n)`, from the
//! signal handler, whatever the listener thread is doing), and a dropped listener gives
//! SIGTERM back what it did before (the default action, ignored, or another handler). Each test
//! re-runs this test binary as a child, selecting [`child`] with `--exact` and a mode in an
//! environment variable; each child is bounded by a hard timeout, so a hang fails the test
//! instead of hanging CI.

#![cfg(unix)]

use std::env;
use std::io::Read;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::signal::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::low_level::raise;
use winddown_core::{Phase, Shutdown};
use winddown_signals::{Action, Builder, Listener, Signal};

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
    run(Command::new(env::current_exe().unwrap()), mode)
}

/// Runs `mode` in a child process that is PID 1 of a new PID namespace, as a service in a
/// container without an init is (`unshare -fp --kill-child`, which exits with the child's
/// status). `Err` with the reason if this machine does not allow it.
fn run_child_as_pid_1(mode: &str) -> Result<(ExitStatus, String), String> {
    let unshare = ["-fp", "--mount-proc", "--kill-child"];
    match Command::new("unshare")
        .args(unshare)
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            return Err(format!(
                "`unshare -fp --mount-proc --kill-child true` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
        Err(err) => return Err(format!("cannot run unshare: {err}")),
    }
    let mut command = Command::new("unshare");
    command.args(unshare).arg(env::current_exe().unwrap());
    Ok(run(command, mode))
}

/// Runs `mode` in `command` (this test binary, maybe behind a wrapper).
fn run(mut command: Command, mode: &str) -> (ExitStatus, String) {
    let mut child = command
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

/// How many times [`foreign_handler`] ran.
static FOREIGN: AtomicUsize = AtomicUsize::new(0);

/// Another library's SIGTERM handler, installed without signal-hook. Async-signal-safe: one
/// atomic increment.
extern "C" fn foreign_handler(_signal: libc::c_int) {
    FOREIGN.fetch_add(1, Ordering::SeqCst);
}

/// Sets SIGTERM's disposition before any listener exists, as a parent process (`SIG_IGN`
/// survives `exec`) or another library would.
fn set_sigterm(handler: libc::sighandler_t) {
    // SAFETY: `handler` is `SIG_IGN` or `foreign_handler`, an `extern "C" fn(c_int)` that only
    // touches an atomic, so it is async-signal-safe. No other code of the child is changing
    // SIGTERM's disposition concurrently: no listener exists yet.
    let old = unsafe { libc::signal(SIGTERM, handler) };
    assert_ne!(old, libc::SIG_ERR, "signal(SIGTERM) failed");
}

/// A listener for SIGTERM and SIGINT that prints one line per event on stdout and
/// sends its action to `tx`. With a `gate`, its hook holds the listener thread on the first
/// event until the test lets it go.
fn listen(shutdown: &Shutdown, tx: Sender<Action>, gate: Option<Receiver<()>>) -> Listener {
    Builder::new()
        .on_event(move |event| {
            println!("event: {event}");
            let _ = tx.send(event.action());
            if let (Some(gate), 1) = (&gate, event.count()) {
                gate.recv().unwrap();
            }
        })
        .listen(shutdown)
        .unwrap()
}

/// A `listen` that fails half-way, after registering SIGUSR1 and before SIGUSR2: with the
/// descriptors limited to five more, the wake socket pair and SIGUSR1's count pair and wake
/// writer take them all, and SIGUSR2's count pair fails (`EMFILE`). Then SIGUSR1 must do what
/// it did before, its default action: not blocked by the listener's mask, not claimed by it.
fn failed_listen() -> ! {
    // The next descriptor, and the five after it, free: the ones the listener would take.
    let next = std::fs::File::open("/dev/null").unwrap().as_raw_fd();
    for fd in next..next + 6 {
        // SAFETY: F_GETFD on any number only reads that descriptor's flags, or fails.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags, -1, "fd {fd} is open");
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the call to write.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0);
    let before = limit.rlim_cur;
    limit.rlim_cur = (next + 5) as libc::rlim_t;
    // SAFETY: `limit` is a valid `rlimit`; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let error = Builder::empty()
        .signal(Signal::Usr1)
        .signal(Signal::Usr2)
        .listen(&Shutdown::new())
        .unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");
    limit.rlim_cur = before;
    // SAFETY: as above; back to the soft limit it was, at most the hard limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    println!("listen failed");
    raise(SIGUSR1).unwrap();
    println!("survived SIGUSR1");
    std::process::exit(SURVIVED);
}

/// The child side. Prints one line per listener event on stdout.
#[test]
fn child() {
    let Ok(mode) = env::var(MODE) else {
        return; // The parent's run of this test: nothing to do.
    };
    if mode == "failed-listen" {
        failed_listen();
    }
    // What SIGTERM did before the listener: the default action, unless the mode says otherwise.
    if mode.ends_with("-ignored") {
        set_sigterm(libc::SIG_IGN);
    } else if mode.ends_with("-handler") {
        set_sigterm(foreign_handler as *const () as libc::sighandler_t);
    }
    let shutdown = Shutdown::new();
    let (tx, events) = mpsc::channel();
    let (open_gate, gate) = mpsc::channel::<()>();
    // Kept until the process ends, except in the modes that drop it.
    let listener = listen(&shutdown, tx.clone(), (mode == "gated").then_some(gate));
    match mode.as_str() {
        // Three SIGTERMs in a row: the handler ends the process on the third, whether the
        // listener thread has seen the first two or not.
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
        // The second and third SIGTERM arrive while the hook is held for good (a hook blocked
        // on a full pipe): the second still forces, and the handler ends the process on the
        // third anyway.
        "gated" => {
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            raise(SIGTERM).unwrap();
            assert_eq!(
                shutdown.blocking().reached(Phase::Forced, None),
                Some(Phase::Forced)
            );
            println!("forced");
            println!("raising the third");
            raise(SIGTERM).unwrap();
            println!("raise returned");
            // Never reached with the exit in the handler; the gate stays shut until then.
            thread::sleep(GRACE);
            open_gate.send(()).unwrap();
        }
        // SIGTERM was ignored before the listener: the exit is `_exit(128 + n)` all the same
        // (raising it again with its old behaviour would do nothing).
        "burst-ignored" => {
            for _ in 0..3 {
                raise(SIGTERM).unwrap();
            }
        }
        // Two SIGTERMs, handled; the third ends the process inside the signal handler, so
        // `raise` never returns.
        "spaced" => {
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Force);
            // The hook saw the force just before it happened.
            assert_eq!(
                shutdown.blocking().reached(Phase::Forced, None),
                Some(Phase::Forced)
            );
            println!("raising the third");
            raise(SIGTERM).unwrap();
            println!("raise returned");
        }
        // SIGTERM had the default action: after the drop it ends the process, killed by it.
        "after-drop" => {
            drop(listener);
            println!("dropped");
            raise(SIGTERM).unwrap();
            println!("survived SIGTERM");
            std::process::exit(SURVIVED);
        }
        // SIGTERM was ignored: the listener takes it over, and after the drop it is ignored
        // again.
        "after-drop-ignored" => {
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            drop(listener);
            raise(SIGTERM).unwrap();
            println!("survived SIGTERM");
            assert_eq!(shutdown.phase(), Phase::Initiated);
            std::process::exit(0);
        }
        // SIGTERM had another library's handler: signal-hook calls it with the listener, and
        // after the drop it is called alone.
        "after-drop-handler" => {
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            assert_eq!(FOREIGN.load(Ordering::SeqCst), 1);
            drop(listener);
            raise(SIGTERM).unwrap();
            assert_eq!(FOREIGN.load(Ordering::SeqCst), 2);
            println!("the foreign handler ran twice");
            assert_eq!(shutdown.phase(), Phase::Initiated);
            std::process::exit(0);
        }
        // Listen and drop over and over: a new listener takes SIGTERM back from the default
        // action, and its drop gives it back.
        "relisten" => {
            drop(listener);
            for _ in 0..100 {
                drop(listen(&Shutdown::new(), tx.clone(), None));
            }
            let again = listen(&shutdown, tx, None);
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            println!("listening again");
            drop(again);
            raise(SIGTERM).unwrap();
            println!("survived SIGTERM");
            std::process::exit(SURVIVED);
        }
        // As PID 1 of a PID namespace: the kernel ignores a signal with the default action
        // (it shields the namespace's init), so that is what SIGTERM does again after the drop.
        "after-drop-pid-1" => {
            assert_eq!(std::process::id(), 1, "not PID 1");
            raise(SIGTERM).unwrap();
            assert_eq!(events.recv().unwrap(), Action::Trigger);
            drop(listener);
            raise(SIGTERM).unwrap();
            println!("survived SIGTERM");
            assert_eq!(shutdown.phase(), Phase::Initiated);
            std::process::exit(0);
        }
        // Two listeners: dropping one leaves SIGTERM with the other; dropping the last one
        // restores the default action.
        "two-listeners" => {
            let (tx2, events2) = mpsc::channel();
            let second = listen(&Shutdown::new(), tx2, None);
            drop(listener);
            raise(SIGTERM).unwrap();
            assert_eq!(events2.recv().unwrap(), Action::Trigger);
            println!("the second listener has it");
            drop(second);
            raise(SIGTERM).unwrap();
            println!("survived SIGTERM");
            std::process::exit(SURVIVED);
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
    // `_exit(143)`, not killed by SIGTERM (that would not work as PID 1).
    assert_eq!(status.code(), Some(143), "{status:?}\n{out}");
    assert_eq!(status.signal(), None);
    // `raise` runs the handler before it returns: the third ends the process before the
    // listener thread need run at all, so its events may or may not be printed.
    assert!(!out.contains("signal #3"), "{out}");
}

#[test]
fn a_blocked_listener_thread_does_not_delay_the_third_signal() {
    let (status, out) = run_child("gated");
    assert_eq!(status.code(), Some(143), "{status:?}\n{out}");
    assert!(out.contains("forced\nraising the third\n"), "{out}");
    assert!(!out.contains("raise returned"), "{out}");
    // libtest may print `test child ... ` in front of the first line.
    let events: Vec<_> = out
        .lines()
        .filter_map(|line| line.find("event: ").map(|at| &line[at..]))
        .collect();
    // The hook thread is still in the first event's hook when the process ends; the second
    // signal forced without it.
    assert_eq!(
        events,
        ["event: SIGTERM (signal #1): shutdown triggered"],
        "{out}"
    );
}

#[test]
fn three_quick_sigints_end_the_process_with_130() {
    let (status, out) = run_child("burst-int");
    assert_eq!(status.code(), Some(130), "{status:?}\n{out}");
    assert_eq!(shell_status(status), 128 + SIGINT);
}

#[test]
fn the_third_signal_ends_the_process_inside_the_handler() {
    let (status, out) = run_child("spaced");
    assert_eq!(status.code(), Some(143), "{status:?}\n{out}");
    assert!(out.contains("raising the third\n"), "{out}");
    assert!(!out.contains("raise returned"), "{out}");
    // Ended in the handler: the listener thread never saw the third signal.
    assert!(!out.contains("signal #3"), "{out}");
}

#[test]
fn a_signal_that_was_ignored_before_exits_with_128_plus_n() {
    let (status, out) = run_child("burst-ignored");
    assert_eq!(status.code(), Some(128 + SIGTERM), "{status:?}\n{out}");
}

#[test]
fn a_failed_listen_leaves_its_signals_as_they_were() {
    let (status, out) = run_child("failed-listen");
    assert!(out.contains("listen failed\n"), "{status:?}\n{out}");
    assert_eq!(status.signal(), Some(SIGUSR1), "{status:?}\n{out}");
}

#[test]
fn a_dropped_listener_restores_the_default_action() {
    let (status, out) = run_child("after-drop");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}\n{out}");
    assert!(out.contains("dropped\n"), "{out}");
    assert!(!out.contains("survived"), "{out}");
}

#[test]
fn a_dropped_listener_leaves_an_ignored_signal_ignored() {
    let (status, out) = run_child("after-drop-ignored");
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
    assert!(out.contains("survived SIGTERM\n"), "{out}");
}

#[test]
fn a_dropped_listener_leaves_another_handler_in_charge() {
    let (status, out) = run_child("after-drop-handler");
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
    assert!(out.contains("the foreign handler ran twice\n"), "{out}");
}

#[test]
fn a_new_listener_takes_the_signal_back_and_gives_it_back() {
    let (status, out) = run_child("relisten");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}\n{out}");
    assert!(out.contains("listening again\n"), "{out}");
    assert!(!out.contains("survived"), "{out}");
}

#[test]
fn the_default_action_returns_with_the_last_listener() {
    let (status, out) = run_child("two-listeners");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}\n{out}");
    assert!(out.contains("the second listener has it\n"), "{out}");
    assert!(!out.contains("survived"), "{out}");
}

#[test]
fn a_dropped_listener_leaves_sigterm_ignored_in_pid_1() {
    let (status, out) = match run_child_as_pid_1("after-drop-pid-1") {
        Ok(result) => result,
        Err(reason) => {
            eprintln!("SKIPPED a_dropped_listener_leaves_sigterm_ignored_in_pid_1: {reason}");
            return;
        }
    };
    assert_eq!(status.code(), Some(0), "{status:?}\n{out}");
    assert!(out.contains("survived SIGTERM\n"), "{out}");
}

#[test]
fn three_sigterms_end_pid_1_with_143() {
    let (status, out) = match run_child_as_pid_1("burst") {
        Ok(result) => result,
        Err(reason) => {
            eprintln!("SKIPPED three_sigterms_end_pid_1_with_143: {reason}");
            return;
        }
    };
    assert_eq!(status.code(), Some(143), "{status:?}\n{out}");
}
