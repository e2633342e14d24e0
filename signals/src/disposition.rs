//! What a signal does when no listener has it: the disposition the process had before this crate
//! touched the signal, put back when the last listener of that signal is dropped.
//!
//! signal-hook never uninstalls its handler: once a signal has been registered, the handler stays
//! for the life of the process, and with no actions left it ignores the signal (after calling the
//! handler that was installed before it, if any: signal-hook-registry chains to that one on every
//! delivery). So "restoring" means making signal-hook's handler behave like the old disposition:
//!
//! | found before the first listener        | while no listener has the signal                  |
//! |-----------------------------------------|---------------------------------------------------|
//! | `SIG_DFL`                               | the *restorer* runs the default action            |
//! | `SIG_DFL`, in PID 1                     | nothing: ignored, as the kernel ignores it for an init |
//! | `SIG_IGN`                               | nothing: signal-hook's handler alone ignores it   |
//! | a handler (another's, or signal-hook's) | nothing: signal-hook's handler chains to it       |
//!
//! The restorer is an action that carries out the default action while its flag is on
//! ([`default_action`]): what signal-hook's `flag::register_conditional_default` does, without
//! its table of every signal's name and default action (linked into every program with a
//! listener, it was about 4 KiB of a static binary). Every [`crate::Signal`]'s default action
//! ends the process, the only kind of default action it carries out.
//!
//! # Invariants
//!
//! 1. The table has one entry per signal that a listener ever prepared, for the life of the
//!    process. The disposition is queried once, by the first [`Table::prepare`] for the signal,
//!    before this crate registers anything for it. (A later query would find signal-hook's
//!    handler.)
//! 2. An entry has at most one restorer, registered once, by that first `prepare`: repeated
//!    listen/drop cycles switch its flag, they do not register more actions.
//! 3. The flag is on exactly when no listener holds a claim on the signal (`live == 0`), under
//!    the table's lock. It is registered *on*, so that from the moment signal-hook's handler is
//!    installed, the signal does what it did before.
//! 4. A listener claims its signals *after* registering its own actions, and releases them
//!    *before* unregistering them. So at every instant a delivery reaches a listener, or gets
//!    the old behaviour, or both; it is never silently dropped. Both at once happens only
//!    around `listen` and drop: the restorer (registered before the listener's actions, so it
//!    runs first) ends the process as the default action would, which is what the signal did
//!    before `listen` returned and does again once the drop has begun.
//!
//! The table's lock is never taken inside a signal handler: the handler only loads the flag.

use std::io;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use signal_hook::low_level;

/// The process-wide table (see the module docs).
static TABLE: Mutex<Table> = Mutex::new(Table {
    entries: Vec::new(),
});

/// Locks the process-wide table. Hold it across a whole `listen`: a query and the registrations
/// that follow it must not interleave with another listener's.
pub(crate) fn table() -> MutexGuard<'static, Table> {
    // Nothing panics while the lock is held; if something did, the entries are still valid
    // (each update is a single store or increment).
    TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a signal did before this crate registered anything for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// `SIG_DFL`: the signal's default action.
    Default,
    /// `SIG_IGN`.
    Ignore,
    /// A handler function: another library's, or signal-hook's own.
    Handler,
}

/// One signal's entry.
#[derive(Debug)]
struct Entry {
    signal: i32,
    /// The restorer's flag, if the signal had its default disposition (invariant 2).
    restorer: Option<Arc<AtomicBool>>,
    /// How many listeners hold a claim on the signal (invariant 3).
    live: usize,
}

/// The per-signal entries. Only a handful of signals are ever listened for: a `Vec` will do.
#[derive(Debug)]
pub(crate) struct Table {
    entries: Vec<Entry>,
}

impl Table {
    /// Makes sure `signal` has an entry: on the first call for it, queries its disposition and,
    /// if it is the default, registers the restorer with its flag on (invariants 1 to 3).
    ///
    /// Call it before registering anything else for `signal`.
    ///
    /// # Errors
    ///
    /// The OS error if `signal` is not a valid signal number (`EINVAL`), or signal-hook's if it
    /// cannot register the restorer.
    pub(crate) fn prepare(&mut self, signal: i32) -> io::Result<()> {
        if self.entries.iter().any(|entry| entry.signal == signal) {
            return Ok(());
        }
        let restorer = match query(signal)? {
            // PID 1 (of the system, or of a PID namespace: a container without an init): the
            // kernel ignores a signal whose disposition is the default instead of carrying out
            // the action (only SIGKILL and SIGSTOP from an ancestor namespace, and faults, get
            // through, none of which a listener can have). So the old behaviour is "ignored",
            // with nothing to restore; emulating the action instead would re-raise the signal
            // into that same shield, and signal-hook's `abort()` fallback ends in a crash.
            Disposition::Default if is_pid_1() => None,
            Disposition::Default => {
                let on = Arc::new(AtomicBool::new(true));
                register_restorer(signal, Arc::clone(&on))?;
                Some(on)
            }
            Disposition::Ignore | Disposition::Handler => None,
        };
        self.entries.push(Entry {
            signal,
            restorer,
            live: 0,
        });
        Ok(())
    }

    /// Claims `signals` for one listener: their restorers are switched off until the returned
    /// [`Claim`] is released. Call it after registering the listener's actions (invariant 4).
    ///
    /// # Panics
    ///
    /// If a signal was not [`prepare`](Self::prepare)d.
    pub(crate) fn claim(&mut self, signals: &[i32]) -> Claim {
        for &signal in signals {
            let entry = self.entry(signal);
            entry.live += 1;
            if let Some(on) = &entry.restorer {
                on.store(false, Ordering::SeqCst);
            }
        }
        Claim {
            signals: signals.to_vec(),
        }
    }

    fn release(&mut self, signal: i32) {
        let entry = self.entry(signal);
        entry.live -= 1;
        if entry.live == 0 {
            if let Some(on) = &entry.restorer {
                on.store(true, Ordering::SeqCst);
            }
        }
    }

    fn entry(&mut self, signal: i32) -> &mut Entry {
        self.entries
            .iter_mut()
            .find(|entry| entry.signal == signal)
            .expect("claimed a signal that was not prepared")
    }
}

/// A listener's claim on its signals, from [`Table::claim`]. Releasing it (or dropping it)
/// switches the restorers back on for the signals no other listener holds.
#[derive(Debug)]
pub(crate) struct Claim {
    /// Emptied by [`release`](Self::release), so that a release happens once.
    signals: Vec<i32>,
}

impl Claim {
    /// Releases the claim. Call it before unregistering the listener's actions (invariant 4),
    /// and not while holding the table's lock.
    pub(crate) fn release(&mut self) {
        if self.signals.is_empty() {
            return;
        }
        let mut table = table();
        for signal in self.signals.drain(..) {
            table.release(signal);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release();
    }
}

/// Whether this process is PID 1, as seen in its own PID namespace.
fn is_pid_1() -> bool {
    std::process::id() == 1
}

/// Registers the restorer for `signal` (invariant 2): while `on` is set, a delivery carries
/// out the signal's default action ([`default_action`]).
///
/// One of the crate's `unsafe` blocks (see the crate docs, "Unsafe code"): signal-hook's safe
/// `flag::register_conditional_default` does the same through its table of every signal's
/// name and default action, which would be linked into every program with a listener.
#[allow(unsafe_code)]
fn register_restorer(signal: i32, on: Arc<AtomicBool>) -> io::Result<()> {
    let action = move || {
        // SeqCst: as the stores that switch it (invariant 3).
        if on.load(Ordering::SeqCst) {
            default_action(signal);
        }
    };
    // SAFETY: signal-hook requires the action to be async-signal-safe and not to panic. It
    // does one atomic load of an `AtomicBool` (lock-free) and, when set, `default_action`,
    // which makes only calls POSIX lists as async-signal-safe; it allocates nothing, takes no
    // lock, and cannot panic. The captured `Arc` is only read in the handler; signal-hook
    // drops the closure on `unregister` (never called for a restorer: it lives as long as the
    // process).
    unsafe { low_level::register(signal, action) }.map(drop)
}

/// Carries out `signal`'s default action from inside its handler, as signal-hook's
/// `low_level::emulate_default_handler` does for a signal whose default ends the process (every
/// [`crate::Signal`]'s does): the default disposition back, the signal unblocked in this thread
/// (the handler runs with it blocked), and raised again; if the process is still there after
/// that (another thread installed a handler meanwhile), `abort`.
#[allow(unsafe_code)]
fn default_action(signal: i32) -> ! {
    // SAFETY: `sigaction`, `sigemptyset`, `sigaddset`, `pthread_sigmask`, `raise` and `abort`
    // are async-signal-safe (POSIX). The `sigaction` and `sigset_t` are valid, aligned values
    // on this stack frame (all-zero bytes are valid for both, as in `query`), which the calls
    // do not retain.
    unsafe {
        let mut action: libc::sigaction = mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        if libc::sigaction(signal, &action, ptr::null_mut()) == 0 {
            let mut set: libc::sigset_t = mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
            libc::raise(signal);
        }
        libc::abort()
    }
}

/// Queries `signal`'s current disposition, changing nothing.
///
/// One of the crate's `unsafe` blocks (see the crate docs, "Unsafe code"): neither signal-hook nor
/// nix offers a query-only `sigaction`.
#[allow(unsafe_code)]
fn query(signal: i32) -> io::Result<Disposition> {
    // SAFETY: `sigaction` with a null new action only reads the disposition into `old`, a
    // valid, writable, properly aligned `libc::sigaction` on this stack frame that the call
    // does not retain. All-zero bytes are a valid `libc::sigaction` (integers, a signal set,
    // and on some targets an `Option` of a function pointer), as for signal-hook-registry's own
    // query. An invalid `signal` makes the call fail with EINVAL, which is returned, not read.
    let (result, handler) = unsafe {
        let mut old: libc::sigaction = mem::zeroed();
        let result = libc::sigaction(signal, ptr::null(), &mut old);
        (result, old.sa_sigaction)
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(match handler {
        libc::SIG_DFL => Disposition::Default,
        libc::SIG_IGN => Disposition::Ignore,
        _ => Disposition::Handler,
    })
}

#[cfg(test)]
mod tests {
    use signal_hook::consts::signal::SIGUSR2;

    use super::*;

    #[test]
    fn an_invalid_signal_number_is_einval() {
        let error = query(100_000).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_query_changes_nothing() {
        // No test in this binary registers SIGUSR2: it has whatever the harness inherited,
        // `SIG_DFL` or `SIG_IGN`, and a query leaves it so.
        let before = query(SIGUSR2).unwrap();
        assert_ne!(before, Disposition::Handler);
        assert_eq!(query(SIGUSR2).unwrap(), before);
    }
}
