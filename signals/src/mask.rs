//! Blocking a listener's signals in the calling thread while [`listen`](crate::listen)
//! registers them.
//!
//! # Why
//!
//! signal-hook-registry installs its handler for a signal (`sigaction`) *before* it publishes
//! the table entry that lists the signal's actions. A delivery in between finds no entry and
//! falls back to the handler that was there before; for `SIG_DFL` the fallback does nothing.
//! So on the first registration of a signal in the process, a delivery in that window of a few
//! hundred nanoseconds is swallowed: neither the default action nor any action of ours (issue
//! 11: a SIGTERM 2 ms after start that was neither fatal nor counted;
//! `tests/registration_race.rs` reproduces it, about once in a few thousand tries).
//!
//! While a signal is blocked in a thread, the kernel does not deliver it there: a
//! process-directed signal (`kill`) goes to another thread that does not block it, or stays
//! pending until one unblocks it; one directed at this thread stays pending. [`Blocked`] keeps
//! the listener's signals blocked in the calling thread from before the first registration
//! until the listener has claimed them, so a signal sent meanwhile is delivered once the
//! listener is complete, and counted. A process with no other thread that takes the signal
//! (the crate docs ask for `listen` before starting threads) has no window left. Another
//! thread that does not block the signal can still take it inside signal-hook's window: that
//! race is signal-hook-registry's, and the crate docs list it under "Limitations".
//!
//! # Invariants
//!
//! 1. The mask is restored to exactly what it was (a signal the caller had blocked stays
//!    blocked), on every path out of `listen`: [`Blocked`] restores it on drop.
//! 2. Only the calling thread's mask changes: `pthread_sigmask`, never `sigprocmask`.

use std::io;
use std::mem;
use std::ptr;

/// The calling thread's signal mask as it was before [`Blocked::new`]; restored on drop.
pub(crate) struct Blocked {
    old: libc::sigset_t,
}

impl Blocked {
    /// Blocks `signals` in the calling thread until the returned guard is dropped.
    ///
    /// # Errors
    ///
    /// `EINVAL` if a signal number is not valid; nothing is blocked then.
    pub(crate) fn new(signals: &[i32]) -> io::Result<Blocked> {
        block(signals).map(|old| Blocked { old })
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // Invariant 1. A pending signal of the set is delivered here, to the now complete
        // listener. Cannot fail: the set came from the kernel.
        restore(&self.old);
    }
}

/// Blocks `signals` in the calling thread and returns the old mask.
#[allow(unsafe_code)]
fn block(signals: &[i32]) -> io::Result<libc::sigset_t> {
    // SAFETY: `set` and `old` are valid, writable, properly aligned `sigset_t` values on this
    // stack frame that the calls do not retain; all-zero bytes are a valid `sigset_t` (a plain
    // bit set), and `sigemptyset` initializes `set` before it is used. `sigaddset` only reports
    // an invalid signal number (-1, EINVAL), returned before anything changed.
    // `pthread_sigmask` changes only the calling thread's mask (invariant 2) and writes the
    // old one into `old`; it returns an errno value rather than setting `errno`.
    let (result, old) = unsafe {
        let mut set: libc::sigset_t = mem::zeroed();
        let mut old: libc::sigset_t = mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            if libc::sigaddset(&mut set, signal) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        (libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old), old)
    };
    match result {
        0 => Ok(old),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Sets the calling thread's mask back to `old`.
#[allow(unsafe_code)]
fn restore(old: &libc::sigset_t) {
    // SAFETY: `old` is a mask `pthread_sigmask` wrote in `change`, valid for reading; the call
    // does not retain it and passes a null pointer for the old mask, which it then ignores.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, ptr::null_mut());
    }
}
