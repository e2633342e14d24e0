//! Stress test for the registration window (listener invariants 6 and 7): a SIGTERM that
//! arrives while [`listen`](winddown_signals::listen) registers must reach the listener or get
//! the previous behaviour (here the default action: the process dies of SIGTERM). It must never
//! be lost: neither fatal nor counted.
//!
//! The window only exists on the first registration for a signal in a process (later ones find
//! signal-hook's handler in place), so each try is a fresh process: this binary has its own
//! `main` (`harness = false`) that stays single-threaded and `fork`s one child per try. In the
//! child, a second thread sends SIGTERM to the process while the main thread runs `listen`,
//! at a moment that varies from try to try: on odd tries the moment a tight loop sees that
//! SIGTERM has a handler (`listen` is registering), plus 0 to 15 spins; on even tries 0 to 255
//! spins after `listen` was called. The sender blocks SIGTERM itself, so the main thread is the
//! only one that can take it, as in a daemon that calls `listen` before starting threads (the
//! crate docs ask for that). The parent reads each child's fate:
//!
//! - killed by SIGTERM: the default action, before the listener had the signal. Fine.
//! - exit 0: the listener counted the signal and triggered the shutdown. Fine.
//! - exit [`LOST`]: the shutdown was not triggered within [`PATIENCE`] after the signal was
//!   sent: the delivery was lost. The test fails.
//!
//! Bounded: at most [`TRIES`] children, and no new one after [`BUDGET`].
//!
//! With `WINDDOWN_RACE_ANY_THREAD=1`, the sender does not block SIGTERM and raises it on itself,
//! so the handler runs on a thread other than the registering one. That shows
//! signal-hook-registry's own window, which this crate cannot close (see the crate docs,
//! "Limitations"): expect a loss every few thousand tries, and a failure.

#[cfg(unix)]
fn main() {
    race::main();
}

#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
mod race {
    use std::mem;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use signal_hook::consts::signal::SIGTERM;
    use winddown_core::Shutdown;
    use winddown_signals::{Builder, Signal};

    /// How many children at most.
    const TRIES: u32 = 5_000;
    /// No new child after this long (CI machines are slow and shared).
    const BUDGET: Duration = Duration::from_secs(12);
    /// How long a child waits for the trigger after the signal was sent.
    const PATIENCE: Duration = Duration::from_secs(2);
    /// A child's exit code when the signal was lost.
    const LOST: i32 = 42;
    /// A child's exit code when something else went wrong (printed on its stderr).
    const BROKEN: i32 = 43;

    /// When and how a child's sender sends the signal.
    #[derive(Debug, Clone, Copy)]
    struct Send {
        /// Wait until SIGTERM has a handler before the spins.
        after_handler: bool,
        /// How many spins to wait then.
        spins: u32,
        /// Leave SIGTERM unblocked in the sender, and raise it there.
        any_thread: bool,
    }

    pub(super) fn main() {
        let any_thread = std::env::var_os("WINDDOWN_RACE_ANY_THREAD").is_some_and(|v| v == "1");
        let started = Instant::now();
        let (mut killed, mut counted, mut tries) = (0_u32, 0_u32, 0_u32);
        let mut lost = Vec::new();
        while tries < TRIES && started.elapsed() < BUDGET {
            let send = Send {
                after_handler: tries % 2 == 1,
                spins: if tries % 2 == 1 {
                    (tries * 7) % 16
                } else {
                    (tries * 37) % 256
                },
                any_thread,
            };
            match run_child(send) {
                Fate::Killed => killed += 1,
                Fate::Counted => counted += 1,
                Fate::Lost => lost.push(tries),
                Fate::Other(status) => {
                    panic!("try {tries}: child ended with wait status {status:#x}")
                }
            }
            tries += 1;
        }
        println!(
            "registration race{}: {tries} tries in {:.1?}: {killed} killed by the default \
             action, {counted} counted, {} lost",
            if any_thread { " (any thread)" } else { "" },
            started.elapsed(),
            lost.len()
        );
        assert!(
            lost.is_empty(),
            "SIGTERM sent during `listen` was neither fatal nor counted in tries {lost:?}"
        );
        assert!(
            tries >= 100,
            "only {tries} tries in {BUDGET:?}: the test proves nothing"
        );
    }

    enum Fate {
        Killed,
        Counted,
        Lost,
        Other(i32),
    }

    /// Forks one child that runs [`child`], and waits for it.
    fn run_child(send: Send) -> Fate {
        // SAFETY: this process is single-threaded here (`main` of a `harness = false` test
        // that starts no thread and never registers a signal), so the child may do anything
        // the parent could: allocate, start threads, take locks.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = child(send);
            // SAFETY: `_exit` ends the child at once, without running the parent's `atexit`
            // handlers or flushing buffers it inherited.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is a valid, writable `c_int`. Each child waits
        // for its trigger at most `PATIENCE`, so this returns.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid, "waitpid: {}", std::io::Error::last_os_error());
        if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == SIGTERM {
            Fate::Killed
        } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            Fate::Counted
        } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == LOST {
            Fate::Lost
        } else {
            Fate::Other(status)
        }
    }

    /// Whether SIGTERM has a handler now (its disposition is neither default nor ignore).
    fn caught() -> bool {
        // SAFETY: a query-only `sigaction` (null new action) into a zeroed `libc::sigaction`
        // on this stack frame, which the call does not retain; all-zero bytes are a valid value.
        unsafe {
            let mut old: libc::sigaction = mem::zeroed();
            libc::sigaction(SIGTERM, ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && old.sa_sigaction != libc::SIG_IGN
        }
    }

    /// Blocks SIGTERM in the calling thread, for good.
    ///
    /// The sender blocks it, so that the main thread, the one in `listen`, is the only one that
    /// can take the signal: the process is what the crate docs ask for at `listen` ("before
    /// starting threads"), with a sender that stands for another process. (In a process whose
    /// other threads take the signal, signal-hook's own registration window remains; see the
    /// crate docs, "Limitations".)
    fn block_sigterm() {
        // SAFETY: `set` is a valid, writable `sigset_t` on this stack frame, initialized by
        // `sigemptyset` before use; `pthread_sigmask` only changes this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, SIGTERM);
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()),
                0
            );
        }
    }

    /// One try, in a fresh child: returns its exit code.
    fn child(send: Send) -> i32 {
        let go = Arc::new(AtomicBool::new(false));
        let sender = thread::spawn({
            let go = Arc::clone(&go);
            move || {
                if !send.any_thread {
                    block_sigterm();
                }
                // SeqCst: speed does not matter here; this is a start line, not a data handoff.
                while !go.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                // The tight loop: the first moment SIGTERM is caught, `listen` is registering.
                while send.after_handler && !caught() {
                    std::hint::spin_loop();
                }
                for _ in 0..send.spins {
                    std::hint::spin_loop();
                }
                if send.any_thread {
                    // To this thread: its handler runs before `raise` returns.
                    signal_hook::low_level::raise(SIGTERM).expect("raise");
                } else {
                    // Process-directed, as from `kill -TERM`: the kernel gives it to a thread
                    // that does not block it, which is only the main thread.
                    // SAFETY: `kill` on our own PID with a valid signal number has no memory
                    // effects.
                    unsafe { libc::kill(libc::getpid(), SIGTERM) };
                }
            }
        });
        let shutdown = Shutdown::new();
        go.store(true, Ordering::SeqCst);
        let listener = match Builder::empty().signal(Signal::Term).listen(&shutdown) {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("listen: {err}");
                return BROKEN;
            }
        };
        if sender.join().is_err() {
            return BROKEN;
        }
        // The signal has been sent. Unless it was lost, it has ended the process already or
        // triggers the shutdown as soon as the listener thread runs.
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if shutdown.is_triggered() {
                drop(listener);
                return 0;
            }
            thread::sleep(Duration::from_micros(200));
        }
        LOST
    }
}
